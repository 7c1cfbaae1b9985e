//! Writes the seed corpora `fuzz/corpus/<target>/seed-*` from the real
//! encoders, with the fixed keys of `tansiq_fuzz` (so sealed and signed
//! seeds open and verify in the targets), plus small excerpts of the real
//! watchlists in `../shared/data/watchlists`.
//!
//!   CARGO_TARGET_DIR=/work/target-fuzz cargo run --release \
//!     --manifest-path fuzz/Cargo.toml -p tansiq-fuzz-seedgen
//!
//! Re-running rewrites the same files (sealing draws fresh randomness, so
//! sealed seeds change bytes but not meaning).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::{json, Value};

use tansiq_core::charter::{Charter, SignedCharter};
use tansiq_core::record::{RecordBody, SignedRecord};
use tansiq_core::release::{Release, SignedRelease};
use tansiq_crypto::checkpoint::{self, Checkpoint};
use tansiq_crypto::merkle;
use tansiq_fuzz::{identity, node_id, sealed_open_header, CHANNEL};
use tansiq_node::card::NodeCard;
use tansiq_node::federation::{payload, Payload};
use tansiq_sync::{
    encode_bundle_items, Body, ChannelId, Envelope, EnvelopeId, Head, Item, ItemResult, Kind,
    Message, NodeId, Precedence, Receipt, Status, ENVELOPE_SIG_CONTEXT,
};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn seed(target: &str, name: &str, bytes: impl AsRef<[u8]>) {
    let dir = root().join("corpus").join(target);
    std::fs::create_dir_all(&dir).expect("corpus dir");
    std::fs::write(dir.join(format!("seed-{name}")), bytes).expect("write seed");
}

fn with_mode(mode: u8, body: impl AsRef<[u8]>) -> Vec<u8> {
    let mut v = vec![mode];
    v.extend_from_slice(body.as_ref());
    v
}

fn nid(n: u8) -> NodeId {
    NodeId::new(node_id(n)).expect("node id")
}

const CREATED: &str = "2026-01-02T03:04:05Z";

fn record_body(kind: &str, data: Value) -> RecordBody {
    let mut members = vec![node_id(1), node_id(2)];
    members.sort();
    serde_json::from_value(json!({
        "id": format!("rec_{kind}1"),
        "version": 1,
        "kind": kind,
        "originator": node_id(2),
        "channel": CHANNEL,
        "members": members,
        "file": "terrorism",
        "handling": {"tlp": "amber", "code": "H2"},
        "created": CREATED,
        "data": data,
    }))
    .expect("record body")
}

fn records() -> Vec<(&'static str, SignedRecord)> {
    let id = identity(2);
    let mut out = vec![];
    for (name, kind, data) in [
        (
            "person",
            "person",
            json!({"names": ["عبد الله بلقزاز", "Abdallah Belkeziz"], "birth_date": "1962-02-01",
                   "nationality": ["DZ"], "gender": "male",
                   "documents": [{"type": "passport", "number": "X1", "country": "DZ"}],
                   "listing": {"list": "UN", "reference": "QDi.1", "listed_on": "2001-01-25"}}),
        ),
        (
            "organization",
            "organization",
            json!({"names": ["Al-Mourabitoun"], "country": ["ML", "DZ"], "founded": "2013"}),
        ),
        (
            "network",
            "network",
            json!({"names": ["Sahel route"], "activity": "arms smuggling", "routes": ["Tamanrasset → Gao"]}),
        ),
        (
            "location",
            "location",
            json!({"names": ["In Amenas"], "coordinates": [27.88, 9.54]}),
        ),
        (
            "incident",
            "incident",
            json!({"title": "Attack", "text": "…", "occurred_at": "2013-01-16", "place": "In Amenas", "country": ["DZ"]}),
        ),
        (
            "document",
            "document",
            json!({"title": "Report", "reference": "R-1", "language": "fr"}),
        ),
        ("note", "note", json!({"text": "a note"})),
    ] {
        let mut body = record_body(kind, data);
        if name == "person" {
            body.links = serde_json::from_value(json!([
                {"rel": "member_of", "target": "rec_organization1", "from": "2010", "note": "n"}
            ]))
            .expect("links");
            body.expires = Some("2030-01-01T00:00:00Z".into());
        }
        out.push((name, SignedRecord::sign(body, &id)));
    }
    let mut retracted = record_body("person", json!({}));
    retracted.version = 2;
    retracted.retracted = true;
    out.push(("retracted", SignedRecord::sign(retracted, &id)));
    out
}

fn release() -> SignedRelease {
    let mut target_members = vec![node_id(1), node_id(3)];
    target_members.sort();
    SignedRelease::sign(
        Release {
            record: "rec_person1".into(),
            originator: node_id(2),
            target_channel: "ch_other".into(),
            target_members,
            conditions: Some("H3: no further sharing".into()),
            granted: CREATED.into(),
        },
        &identity(2),
    )
}

fn charter() -> SignedCharter {
    let c = Charter::new(
        CHANNEL.into(),
        1,
        "DZ-MA",
        &node_id(2),
        vec![node_id(1)],
        vec!["terrorism".into(), "smuggling".into()],
        vec![node_id(3)],
        Some(365),
        CREATED.into(),
    )
    .expect("charter");
    let mut sc = SignedCharter {
        charter: c,
        signatures: BTreeMap::new(),
    };
    sc.sign_by(&identity(2));
    sc
}

fn checkpoint_note() -> (String, String, Vec<String>) {
    let leaves: Vec<[u8; 32]> = (0..7u8).map(|i| merkle::leaf_hash(&[i])).collect();
    let cp = Checkpoint {
        origin: "fuzz".into(),
        size: 7,
        root: merkle::root(&leaves),
    };
    let note = checkpoint::sign(&identity(2), "fuzz", &cp).expect("sign checkpoint");
    let line = checkpoint::cosign(&identity(3), "witness", &cp, 1_700_000_000).expect("cosign");
    let proof = merkle::consistency_proof(&leaves, 3)
        .expect("proof")
        .iter()
        .map(tansiq_crypto::b64)
        .collect();
    (note, line, proof)
}

fn payloads() -> Vec<(&'static str, Payload)> {
    let recs = records();
    let (note, line, proof) = checkpoint_note();
    let mut out: Vec<(&'static str, Payload)> = vec![];
    for (name, r) in &recs {
        out.push((
            name,
            Payload::Record {
                record: r.clone(),
                release: None,
            },
        ));
    }
    out.push((
        "record-released",
        Payload::Record {
            record: recs[0].1.clone(),
            release: Some(release()),
        },
    ));
    out.push(("charter", Payload::Charter { charter: charter() }));
    out.push((
        "message",
        Payload::Message {
            id: "msg_1".into(),
            channel: CHANNEL.into(),
            file: Some("terrorism".into()),
            precedence: "flash".into(),
            text: "Convoy crossing tonight\nسلام".into(),
            sent_at: CREATED.into(),
            ack_required: true,
        },
    ));
    out.push((
        "ack",
        Payload::Ack {
            message: "msg_1".into(),
            at: CREATED.into(),
        },
    ));
    out.push((
        "release-request",
        Payload::ReleaseRequest {
            id: "req_1".into(),
            record: "rec_person1".into(),
            target_channel: "ch_other".into(),
            target_members: vec![node_id(1), node_id(3)],
            reason: Some("joint operation".into()),
        },
    ));
    out.push((
        "release-grant",
        Payload::ReleaseDecision {
            request: Some("req_1".into()),
            release: Some(release()),
            refusal: None,
        },
    ));
    out.push((
        "release-refusal",
        Payload::ReleaseDecision {
            request: Some("req_1".into()),
            release: None,
            refusal: Some("not now".into()),
        },
    ));
    out.push((
        "checkpoint",
        Payload::Checkpoint {
            note,
            old_size: 3,
            proof,
        },
    ));
    out.push(("cosignature", Payload::Cosignature { size: 7, line }));
    out
}

fn keys() -> BTreeMap<String, [u8; 32]> {
    (1..=3u8)
        .map(|n| (node_id(n), identity(n).encryption_public()))
        .collect()
}

fn envelope(seq: u64, prev: EnvelopeId, precedence: Precedence, p: &Payload) -> Envelope {
    let mut h = sealed_open_header();
    h.seq = seq;
    h.prev = prev;
    h.precedence = precedence;
    h.kind = Kind::new(p.kind()).expect("kind");
    if seq > 1 {
        h.relays = vec![nid(3)];
    }
    let body = payload::seal(p, &h, &keys(), &payload::EpochKeys::default()).expect("seal");
    let id = identity(2);
    Envelope::new(h, Body::Sealed(body), |eid| {
        id.sign(ENVELOPE_SIG_CONTEXT, &eid.0)
    })
    .expect("envelope")
}

fn sync_seeds() -> Vec<Envelope> {
    let ps = payloads();
    let e1 = envelope(1, EnvelopeId::ZERO, Precedence::Routine, &ps[0].1);
    let e2 = envelope(2, e1.id(), Precedence::Flash, &ps[9].1);
    let e3 = envelope(3, e2.id(), Precedence::Immediate, &ps[10].1);
    seed("envelope_decode", "sealed", e1.encode());
    seed("envelope_decode", "relayed-flash", e2.encode());
    seed("envelope_decode", "stub", e3.to_stub().encode());
    let items = vec![
        Item {
            to: nid(1),
            envelope: e1.clone(),
        },
        Item {
            to: nid(1),
            envelope: e2.clone(),
        },
        Item {
            to: nid(1),
            envelope: e3.to_stub(),
        },
    ];
    seed("bundle_items", "three", encode_bundle_items(&items));
    seed("bundle_items", "empty", b"[]");
    let ch = ChannelId::new(CHANNEL).expect("channel");
    let msgs = [
        (
            "batch",
            Message::Batch {
                batch: 7,
                items: items.clone(),
            },
        ),
        (
            "batch-ack",
            Message::BatchAck {
                batch: 7,
                results: vec![
                    ItemResult {
                        id: e1.id(),
                        to: nid(1),
                        status: Status::Stored,
                        reason: None,
                    },
                    ItemResult {
                        id: e2.id(),
                        to: nid(3),
                        status: Status::Refused,
                        reason: Some("bad_signature".into()),
                    },
                ],
            },
        ),
        (
            "receipt",
            Message::Receipt {
                receipts: vec![Receipt {
                    id: e2.id(),
                    to: nid(1),
                }],
            },
        ),
        (
            "summary",
            Message::Summary {
                heads: vec![Head {
                    channel: ch.clone(),
                    originator: nid(2),
                    seq: 3,
                }],
                reply: true,
            },
        ),
        (
            "fetch",
            Message::Fetch {
                channel: ch.clone(),
                originator: nid(2),
                from_seq: 2,
                limit: 100,
            },
        ),
        (
            "fetch-reply",
            Message::FetchReply {
                channel: ch,
                originator: nid(2),
                envelopes: vec![e2.clone(), e3.to_stub()],
                more: false,
            },
        ),
    ];
    for (name, m) in &msgs {
        seed("message_decode", name, m.encode());
    }
    vec![e1, e2, e3]
}

fn payload_seeds() {
    let h = sealed_open_header();
    for (name, p) in payloads() {
        let bytes = serde_json::to_vec(&p).expect("payload");
        seed("payload_parse", name, &bytes);
        if matches!(
            name,
            "person" | "charter" | "message" | "checkpoint" | "record-released" | "retracted"
        ) {
            // Both body forms: under an epoch key, and one-shot.
            seed(
                "sealed_open",
                name,
                payload::seal(&p, &h, &keys(), &payload::EpochKeys::default()).expect("seal"),
            );
            seed(
                "sealed_open",
                &format!("{name}-one-shot"),
                payload::seal_one_shot(&p, &h, &keys()).expect("seal"),
            );
        }
        match p {
            Payload::Record { record, .. } => {
                seed(
                    "record_validate",
                    name,
                    serde_json::to_vec(&record).expect("record"),
                );
                if name == "person" {
                    seed(
                        "record_validate",
                        "body-only",
                        serde_json::to_vec(&record.body).expect("body"),
                    );
                }
            }
            Payload::Charter { charter } => {
                seed(
                    "charter_verify",
                    "proposed",
                    serde_json::to_vec(&charter).expect("charter"),
                );
                let mut full = charter.clone();
                full.sign_by(&identity(1));
                seed(
                    "charter_verify",
                    "signed-by-all",
                    serde_json::to_vec(&full).expect("charter"),
                );
            }
            _ => {}
        }
    }
    seed(
        "record_validate",
        "release",
        serde_json::to_vec(&release()).expect("release"),
    );
    // A sealed body for others only (2 and 3, not 1).
    let p = Payload::Ack {
        message: "msg_1".into(),
        at: CREATED.into(),
    };
    let mut hh = h.clone();
    hh.recipients = vec![nid(2), nid(3)];
    hh.recipients.sort();
    seed(
        "sealed_open",
        "not-for-me",
        payload::seal(&p, &hh, &keys(), &payload::EpochKeys::default()).expect("seal"),
    );
}

fn card_seeds() {
    let c = NodeCard::issue(&identity(1), "Alger", "DZ", "dz.example:7400", CREATED);
    seed(
        "node_card",
        "dz",
        serde_json::to_vec_pretty(&c).expect("card"),
    );
    let c = NodeCard::issue(&identity(2), "الرباط", "MA", "[::1]:7400", CREATED);
    seed("node_card", "ma", serde_json::to_vec(&c).expect("card"));
}

fn checkpoint_seeds() {
    let (note, line, proof) = checkpoint_note();
    seed("checkpoint_note", "note", &note);
    seed(
        "checkpoint_note",
        "note-and-cosig",
        format!("{note}\0{line}"),
    );
    let both = checkpoint::add_signature_line(&note, &line).expect("add line");
    seed("checkpoint_note", "cosigned", &both);
    seed(
        "checkpoint_note",
        "body-only",
        "fuzz\n7\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n",
    );
    // merkle_proofs: old 3, new 7, roots, then the proof.
    let leaves: Vec<[u8; 32]> = (0..7u8).map(|i| merkle::leaf_hash(&[i])).collect();
    let mut b = vec![];
    b.extend_from_slice(&3u64.to_be_bytes());
    b.extend_from_slice(&7u64.to_be_bytes());
    b.extend_from_slice(&merkle::root(&leaves[..3]));
    b.extend_from_slice(&merkle::root(&leaves));
    for h in &proof {
        b.extend_from_slice(&tansiq_crypto::b64_decode_array::<32>(h).expect("hash"));
    }
    seed("merkle_proofs", "consistency-3-7", &b);
    seed(
        "merkle_proofs",
        "frontier",
        merkle::Frontier::from_leaves(&leaves).to_bytes(),
    );
}

fn jcs_seeds() {
    for (name, s) in [
        (
            "numbers",
            r#"[0,-0,1e21,1e-7,0.1,123456789012345678,9007199254740991,-9007199254740991,1.5e300,5e-324,333333333.3333333,1E+2]"#,
        ),
        (
            "strings",
            r#"{"\u00e9":"\ud83d\ude00","a\nb":"\u0000\u001f\"\\/","":"","€":"عربي"}"#,
        ),
        (
            "nested",
            r#"{"b":[{"a":{"c":[null,true,false,[]]}}],"a":{}}"#,
        ),
        (
            "order",
            r#"{"\ue000":1,"\ud800\udc00":2,"z":3,"A":4,"aa":5,"a":6}"#,
        ),
    ] {
        seed("jcs_roundtrip", name, s);
    }
}

fn data() -> PathBuf {
    root().join("../../shared/data/watchlists")
}

fn list_seeds() {
    // UN XML: the first two individuals and the first entity.
    let xml = std::fs::read_to_string(data().join("un/consolidated-2018-10-29.xml"))
        .expect("UN list (../shared/data)");
    let head_end = xml.find("<INDIVIDUALS>").expect("INDIVIDUALS") + "<INDIVIDUALS>".len();
    let mut s = xml[..head_end].to_string();
    let mut rest = &xml[head_end..];
    for _ in 0..2 {
        let e = rest.find("</INDIVIDUAL>").expect("INDIVIDUAL") + "</INDIVIDUAL>".len();
        s.push_str(&rest[..e]);
        rest = &rest[e..];
    }
    s.push_str("</INDIVIDUALS><ENTITIES>");
    let ent = xml.find("<ENTITY>").expect("ENTITY");
    let ent_end = xml.find("</ENTITY>").expect("ENTITY") + "</ENTITY>".len();
    s.push_str(&xml[ent..ent_end]);
    s.push_str("</ENTITIES></CONSOLIDATED_LIST>\n");
    seed("list_import", "un-xml", with_mode(0, &s));
    seed("list_import", "un-xml-lenient", with_mode(0x80, &s));

    // OFAC: a few entries, individuals among them, and their aliases and
    // addresses.
    let sdn = std::fs::read(data().join("ofac/sdn.csv")).expect("sdn.csv");
    let sdn = String::from_utf8_lossy(&sdn);
    let mut picked: Vec<&str> = sdn.lines().take(2).collect();
    picked.extend(
        sdn.lines()
            .filter(|l| l.contains("individual") && l.contains("DOB"))
            .take(3),
    );
    let nums: Vec<String> = picked
        .iter()
        .map(|l| l.split(',').next().unwrap_or("").to_string())
        .collect();
    let related = |file: &str| -> String {
        let t = std::fs::read(data().join("ofac").join(file)).expect("ofac file");
        String::from_utf8_lossy(&t)
            .lines()
            .filter(|l| nums.iter().any(|n| l.split(',').next() == Some(n.as_str())))
            .map(|l| format!("{l}\n"))
            .collect()
    };
    let mut ofac = picked.iter().map(|l| format!("{l}\n")).collect::<String>();
    ofac.push('\0');
    ofac.push_str(&related("alt.csv"));
    ofac.push('\0');
    ofac.push_str(&related("add.csv"));
    seed("list_import", "ofac", with_mode(1, &ofac));
    seed("list_import", "ofac-lenient", with_mode(0x81, &ofac));

    let jsonl = concat!(
        r#"{"id": "E1", "names": ["عبد الله بلقزاز", "Abdellah Belkaziz"], "birth_date": "1962-02-01", "nationality": ["DZ"], "gender": "male", "documents": [{"type": "passport", "number": "A1", "country": "DZ"}]}"#,
        "\n\n",
        r#"{"id": 2, "kind": "organization", "names": "Al-Mourabitoun", "country": "Mali;Algérie", "listing": {"list": "UN", "reference": "QDe.141", "status": "active"}}"#,
        "\n",
        r#"{"id": "E3", "name": "Mokhtar", "names": ["Belmokhtar"], "birth_dates": ["1972", "1972-06-01"], "nationality": "DZ;MA", "notes": "x"}"#,
        "\n"
    );
    seed("list_import", "jsonl", with_mode(2, jsonl));
    seed("list_import", "jsonl-lenient", with_mode(0x82, jsonl));
    seed("list_import", "read-list", with_mode(5, jsonl));
    let csv = "id,kind,name,names,birth_date,nationality,gender,document_type,document_number,document_country,country,list,reference,status,notes\n\
               E1,person,Abdallah Belkeziz,\"عبد الله بلقزاز;Belkaziz, A.\",1962-02-01,DZ,m,passport,A1,DZ,,UN,QDi.1,active,\"multi\nline\"\n\
               E2,organization,,Al-Mourabitoun,,,,,,,ML;DZ,,,,\n";
    seed("list_import", "csv", with_mode(3, csv));
    seed("list_import", "csv-lenient", with_mode(0x83, csv));
    seed("list_import", "tsv", with_mode(4, csv.replace(',', "\t")));
    let q = "query_id,full_name,dob,citizenship,sex,seat\nQ1,Abdallah Belkeziz,1962,DZ;MA,male,12A\nQ2,مختار بلمختار,,,,\n";
    seed("list_import", "queries-csv", with_mode(7, q));
    seed(
        "list_import",
        "queries-jsonl",
        with_mode(
            6,
            "{\"id\": \"Q1\", \"name\": \"Abdallah Belkeziz\", \"birth_date\": \"1962\", \"nationality\": [\"DZ\"]}\n",
        ),
    );
}

/// Seeds of the node targets: templates with `@A@`, `@B@`, `@CH@` and
/// `@CTL@` for the live ids (see `NodePair::substitute`). Lists that must
/// be sorted come in both orders: one of them is right.
fn node_seeds() {
    let sorted_variants = [r#"["@A@","@B@"]"#, r#"["@B@","@A@"]"#];
    for (i, recips) in sorted_variants.iter().enumerate() {
        let header = format!(
            r#"{{"v":1,"channel":"@CH@","originator":"@B@","seq":SEQ,"prev":"PREV","precedence":"flash","kind":"record","created_ms":1700000000000,"recipients":{recips},"relays":[]}}"#
        );
        let zero = tansiq_crypto::b64([0u8; 32]);
        let one = tansiq_crypto::b64([1u8; 32]);
        let sig = tansiq_crypto::b64([0u8; 64]);
        let env = |seq: u64, prev: &str| {
            format!(
                r#"{{"header":{},"body":"e30","sig":"{sig}"}}"#,
                header
                    .replace("SEQ", &seq.to_string())
                    .replace("PREV", prev)
            )
        };
        let batch = format!(
            r#"{{"type":"batch","batch":1,"items":[{{"to":"@A@","envelope":{}}},{{"to":"@A@","envelope":{}}}]}}"#,
            env(1, &zero),
            env(5, &one)
        );
        seed("node_receive", &format!("batch-{i}"), with_mode(0, &batch));
        seed(
            "node_receive",
            &format!("batch-resigned-{i}"),
            with_mode(1, &batch),
        );
        let reply = format!(
            r#"{{"type":"fetch_reply","channel":"@CH@","originator":"@B@","envelopes":[{}],"more":true}}"#,
            env(2, &one)
        );
        seed(
            "node_receive",
            &format!("fetch-reply-{i}"),
            with_mode(1, &reply),
        );
        let items = format!(r#"[{{"to":"@A@","envelope":{}}}]"#, env(9, &one));
        seed("bundle_import", &format!("items-{i}"), with_mode(1, &items));
        // Payloads for node_deliver.
        let mut body = record_body("person", json!({"names": ["Abdelmalek Droukdel"], "nationality": ["DZ"], "listing": {"list": "UN"}}))
            .to_value();
        body["originator"] = json!("@B@");
        body["channel"] = json!("@CH@");
        body["members"] = serde_json::from_str(recips).expect("list");
        body["id"] = json!(format!("rec_fuzz{i}"));
        let rec = json!({"type": "record", "record": {"body": body.clone(), "sig": sig}});
        seed(
            "node_deliver",
            &format!("record-{i}"),
            with_mode(0, rec.to_string()),
        );
        let mut other = body.clone();
        other["originator"] = json!("@A@");
        let shared = json!({"type": "record", "record": {"body": other, "sig": sig},
            "release": {"release": {"record": format!("rec_fuzz{i}"), "originator": "@B@", "target_channel": "@CH@",
                "target_members": serde_json::from_str::<Value>(recips).expect("list"), "granted": CREATED}, "sig": sig}});
        seed(
            "node_deliver",
            &format!("record-shared-{i}"),
            with_mode(0, shared.to_string()),
        );
        let charter = json!({"type": "charter", "charter": {"charter": {
            "id": format!("ch_new{i}"), "version": 1, "name": "New", "members": serde_json::from_str::<Value>(recips).expect("list"),
            "files": ["terrorism"], "default_tlp": "amber", "proposer": "@B@", "created": CREATED}, "signatures": {}}});
        seed(
            "node_deliver",
            &format!("charter-{i}"),
            with_mode(4, charter.to_string()),
        );
    }
    let msg = json!({"type": "message", "id": "msg_fuzz", "channel": "@CH@", "precedence": "flash",
        "text": "hello", "sent_at": CREATED, "ack_required": true});
    seed("node_deliver", "message", with_mode(0, msg.to_string()));
    seed(
        "node_deliver",
        "ack",
        with_mode(
            4,
            json!({"type": "ack", "message": "msg_fuzz", "at": CREATED}).to_string(),
        ),
    );
    seed(
        "node_deliver",
        "release-request",
        with_mode(
            0,
            json!({"type": "release_request", "id": "req_fuzz",
        "record": "rec_fuzz0", "target_channel": "ch_x", "target_members": ["@A@", "@B@"]})
            .to_string(),
        ),
    );
    seed(
        "node_deliver",
        "refusal",
        with_mode(
            4,
            json!({"type": "release_decision", "request": "req_fuzz", "refusal": "no"}).to_string(),
        ),
    );
    seed(
        "node_deliver",
        "cosignature",
        with_mode(
            4,
            json!({"type": "cosignature", "size": 1, "line": "\u{2014} x AAAAAAAA\n"}).to_string(),
        ),
    );
    let (note, _, proof) = checkpoint_note();
    seed(
        "node_deliver",
        "checkpoint",
        with_mode(
            4,
            json!({"type": "checkpoint", "note": note, "old_size": 3, "proof": proof}).to_string(),
        ),
    );
    // B's own log checkpoint (the harness signs the body with B's key).
    let root = [7u8; 32];
    let body = format!("tansiq/@B@\n7\n{}\n", base64_std(&root));
    seed("node_deliver", "checkpoint-b", with_mode(4, json!({"type": "checkpoint", "note": format!("{body}\n\u{2014} x AAAAAAAA\n"), "old_size": 0, "proof": []}).to_string()));
    let summary = r#"{"type":"summary","heads":[{"channel":"@CH@","originator":"@A@","seq":1},{"channel":"@CTL@","originator":"@B@","seq":9}],"reply":true}"#;
    seed("node_receive", "summary", with_mode(0, summary));
    let fetch = r#"{"type":"fetch","channel":"@CH@","originator":"@A@","from_seq":1,"limit":10}"#;
    seed("node_receive", "fetch", with_mode(0, fetch));
    let ack = r#"{"type":"batch_ack","batch":1,"results":[{"id":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA","to":"@B@","status":"stored"}]}"#;
    seed("node_receive", "batch-ack", with_mode(0, ack));
    let bundle = r#"{"head":{"v":1,"from":"@B@","to":"@A@","created":"2026-01-01T00:00:00Z","count":0,"sealed_sha256":"00"},"sealed":{"wrapped":[],"nonce":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA","ciphertext":""},"sig":"AA"}"#;
    seed("bundle_import", "file", with_mode(0, bundle));
    seed("bundle_import", "empty-items", with_mode(1, "[]"));
}

/// Standard base64 with padding (checkpoint roots).
fn base64_std(b: &[u8]) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut s = String::new();
    for c in b.chunks(3) {
        let n = (u32::from(c[0]) << 16)
            | (u32::from(*c.get(1).unwrap_or(&0)) << 8)
            | u32::from(*c.get(2).unwrap_or(&0));
        for i in 0..4 {
            if i <= c.len() {
                s.push(A[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                s.push('=');
            }
        }
    }
    s
}

fn main() {
    let _ = sync_seeds();
    payload_seeds();
    card_seeds();
    checkpoint_seeds();
    jcs_seeds();
    list_seeds();
    node_seeds();
    println!("seeds written under {}", root().join("corpus").display());
}
