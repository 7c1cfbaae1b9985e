//! `tansiq demo`: the source article's scenario, played by six real nodes
//! (separate directories, keys and stores) with the node's real services,
//! the real local HTTP API and the real UN list. Each step checks what must
//! hold and the demo exits non-zero if any step misbehaves.
//!
//! Until federation lands, charters travel between nodes as signed files
//! carried by hand (`channel export`/`import`) and records stay at their
//! originator; the steps that need delivery between nodes say so.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde_json::json;

use tansiq_core::handling::Tlp;
use tansiq_core::record::{Kind, Link, LinkType};
use tansiq_core::user::{Actor, Role};
use tansiq_node::records::NewRecord;
use tansiq_node::watchlist::ImportItem;
use tansiq_node::{InitOptions, Node};
use tansiq_store::RecordFilter;

use crate::cli::{CliError, CliResult};

struct Demo {
    failures: Vec<String>,
    step: usize,
}

impl Demo {
    fn step(&mut self, title: &str) {
        self.step += 1;
        println!("\n[{}] {title}", self.step);
    }
    fn say(&self, what: &str) {
        println!("    {what}");
    }
    fn check(&mut self, ok: bool, what: &str) {
        if ok {
            println!("    ✔ {what}");
        } else {
            println!("    ✘ {what}");
            self.failures.push(format!("step {}: {what}", self.step));
        }
    }
}

const OP: Actor = Actor::Operator;

fn err(e: impl std::fmt::Display) -> CliError {
    CliError::other(format!("demo: {e}"))
}

/// Forms a channel the way nodes without a network link do: the proposer
/// signs, the signed charter is carried to each member, each co-signs, and
/// the signatures are carried back.
fn form_channel(
    d: &mut Demo,
    proposer: &Node,
    others: &[&Node],
    name: &str,
    files: &[&str],
) -> CliResult<String> {
    let members = others.iter().map(|n| n.id().to_string()).collect();
    let files = files.iter().map(|f| f.to_string()).collect();
    let ch = proposer
        .channel_create(&OP, name, members, files, vec![], Some(3650))
        .map_err(err)?;
    let mut charter =
        serde_json::to_vec(&proposer.channel_export(&OP, &ch).map_err(err)?).map_err(err)?;
    for n in others {
        n.channel_import(&OP, &charter).map_err(err)?;
        n.channel_accept(&OP, &ch).map_err(err)?;
        charter = serde_json::to_vec(&n.channel_export(&OP, &ch).map_err(err)?).map_err(err)?;
        proposer.channel_import(&OP, &charter).map_err(err)?;
    }
    // the proposer's complete charter goes back to everyone
    let full = serde_json::to_vec(&proposer.channel_export(&OP, &ch).map_err(err)?).map_err(err)?;
    let mut all_active = true;
    for n in others.iter().copied().chain(std::iter::once(proposer)) {
        let _ = n.channel_import(&OP, &full);
        let st = n
            .channel_list(&OP)
            .map_err(err)?
            .into_iter()
            .find(|c| c.id == ch)
            .map(|c| c.status);
        all_active &= st.as_deref() == Some("active");
    }
    d.check(
        all_active,
        &format!(
            "channel \"{name}\" ({ch}) is active at all {} members",
            others.len() + 1
        ),
    );
    Ok(ch)
}

fn record(
    node: &Node,
    ch: &str,
    file: &str,
    kind: Kind,
    data: serde_json::Value,
    links: Vec<Link>,
    tlp: Option<Tlp>,
) -> CliResult<String> {
    node.record_add(
        &OP,
        NewRecord {
            channel: ch.into(),
            file: file.into(),
            kind,
            data,
            tlp,
            code: None,
            evaluation: Some("B2".parse().map_err(err)?),
            expires: None,
            links,
        },
    )
    .map_err(err)
}

/// One HTTP/1.1 request to the node's local API, as any client would send it.
fn http_get(
    addr: std::net::SocketAddr,
    path: &str,
    token: &str,
) -> CliResult<(u16, serde_json::Value)> {
    let mut s = std::net::TcpStream::connect(addr).map_err(err)?;
    write!(s, "GET {path} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {token}\r\nConnection: close\r\n\r\n").map_err(err)?;
    let mut buf = String::new();
    s.read_to_string(&mut buf).map_err(err)?;
    let status = buf
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let body = buf.split("\r\n\r\n").nth(1).unwrap_or("");
    // chunked bodies: take the JSON between the first '[' or '{' and the last ']' or '}'
    let start = body.find(['[', '{']).unwrap_or(0);
    let end = body.rfind([']', '}']).map_or(body.len(), |e| e + 1);
    Ok((
        status,
        serde_json::from_str(&body[start..end]).unwrap_or(serde_json::Value::Null),
    ))
}

fn shared_data() -> PathBuf {
    // From the project root (the README's command) or from the binary's crate.
    for base in [
        PathBuf::from("../shared/data"),
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data"),
    ] {
        if base.join("watchlists").exists() {
            return base;
        }
    }
    PathBuf::from("../shared/data")
}

pub fn run(dir: Option<&Path>) -> CliResult {
    let tmp;
    let root = match dir {
        Some(d) => {
            if d.exists()
                && std::fs::read_dir(d)
                    .map(|mut r| r.next().is_some())
                    .unwrap_or(false)
            {
                return Err(CliError::bad(format!(
                    "{} is not empty; the demo needs a fresh directory",
                    d.display()
                )));
            }
            d.to_path_buf()
        }
        None => {
            tmp = tempfile::tempdir().map_err(err)?;
            tmp.path().to_path_buf()
        }
    };
    let mut d = Demo {
        failures: vec![],
        step: 0,
    };
    println!("Tansiq demo — \"coordination with Morocco continues despite the crises\"");
    println!("Nodes live under {}", root.display());

    d.step("Six agencies each install a node: Algeria, Morocco, Tunisia, France, Spain, the United States");
    let specs = [
        ("dz", "Algeria security service", "DZ", 7401),
        ("ma", "Morocco security service", "MA", 7411),
        ("tn", "Tunisia security service", "TN", 7421),
        ("fr", "France security service", "FR", 7431),
        ("es", "Spain security service", "ES", 7441),
        ("us", "United States liaison", "US", 7451),
    ];
    let mut nodes = Vec::new();
    for (dirname, name, cc, port) in specs {
        let n = Node::init(
            &root.join(dirname),
            &InitOptions {
                name,
                country: cc,
                listen: &format!("127.0.0.1:{port}"),
                api_listen: None,
                store: None,
            },
        )
        .map_err(err)?;
        d.say(&format!("{cc}  {}  {name}", n.id()));
        nodes.push(n);
    }
    let [dz, ma, tn, fr, es, us] = <[Node; 6]>::try_from(nodes).map_err(|_| err("six nodes"))?;

    d.step("They exchange signed node cards; a forged card is refused");
    let all = [&dz, &ma, &tn, &fr, &es, &us];
    for a in all {
        for b in all {
            if a.id() != b.id() {
                a.peer_add(&OP, &serde_json::to_vec(&b.card()).map_err(err)?)
                    .map_err(err)?;
            }
        }
    }
    d.check(
        dz.peer_list(&OP).map_err(err)?.len() == 5,
        "every node trusts the five others",
    );
    let mut forged = serde_json::to_value(ma.card()).map_err(err)?;
    forged["endpoint"] = json!("127.0.0.1:6666");
    let refused = tn.peer_add(&OP, forged.to_string().as_bytes());
    d.check(
        matches!(refused, Err(ref e) if e.exit_code() == 2),
        "a card with an altered endpoint is refused (exit 2)",
    );

    d.step("2002: a secret DZ–MA agreement — a bilateral channel, its charter signed by both");
    let dzma = form_channel(
        &mut d,
        &dz,
        &[&ma],
        "DZ-MA security information exchange",
        &["terrorism", "recruitment", "arms-smuggling"],
    )?;

    d.step("Maghreb services coordinate with European states hosting Maghrebi communities");
    let maghreb_eu = form_channel(
        &mut d,
        &dz,
        &[&ma, &tn, &fr, &es],
        "Maghreb + Europe: recruitment networks",
        &["recruitment"],
    )?;

    d.step("The trilateral DZ–MA–US framework");
    let tri = form_channel(
        &mut d,
        &dz,
        &[&ma, &us],
        "DZ-MA-US trilateral",
        &["terrorism"],
    )?;

    d.step("Exchanging lists of suspects: Algeria loads the UN consolidated list into the DZ–MA channel");
    let un = shared_data().join("watchlists/un/consolidated-2018-10-29.xml");
    match tansiq_lists::import(tansiq_lists::Format::UnXml, &un) {
        Ok(entries) => {
            let items = entries
                .into_iter()
                .map(|e| ImportItem {
                    source_ref: e.source_ref,
                    kind: if e.kind == tansiq_lists::EntryKind::Person {
                        Kind::Person
                    } else {
                        Kind::Organization
                    },
                    data: e.data,
                })
                .collect();
            let s = dz
                .watchlist_import(&OP, &dzma, "terrorism", "UN", items, &|_| {})
                .map_err(err)?;
            d.check(
                s.created == 1093,
                &format!("{} UN entries imported as signed records", s.created),
            );
            let again = tansiq_lists::import(tansiq_lists::Format::UnXml, &un).map_err(err)?;
            let items = again
                .into_iter()
                .map(|e| ImportItem {
                    source_ref: e.source_ref,
                    kind: if e.kind == tansiq_lists::EntryKind::Person {
                        Kind::Person
                    } else {
                        Kind::Organization
                    },
                    data: e.data,
                })
                .collect();
            let s2 = dz
                .watchlist_import(&OP, &dzma, "terrorism", "UN", items, &|_| {})
                .map_err(err)?;
            d.check(
                s2.created == 0 && s2.unchanged == 1093,
                "re-importing the same list changes nothing",
            );
        }
        Err(e) => d.check(
            false,
            &format!("UN list at {} could not be read: {e}", un.display()),
        ),
    }

    d.step("A cross-script hit: Morocco's dossier names \"Abdallah Belkeziz\"; Algeria's list names عبد الله بلقزاز");
    let own = record(
        &ma,
        &dzma,
        "recruitment",
        Kind::Person,
        json!({"names": ["Abdallah Belkeziz"], "birth_date": "1962-02-01", "nationality": ["DZ"]}),
        vec![],
        None,
    )?;
    let entry = vec![ImportItem {
        source_ref: "DZ-0001".into(),
        kind: Kind::Person,
        data: json!({"names": ["عبد الله بلقزاز"], "birth_date": "1962-02-01", "nationality": ["DZ"], "listing": {"list": "DZ-suspects", "reference": "DZ-0001", "reason": "Salafi-jihadist recruitment"}}),
    }];
    // Delivery between nodes arrives with federation; the entry is loaded at Morocco's node here.
    let s = ma
        .watchlist_import(&OP, &dzma, "terrorism", "DZ-suspects", entry, &|_| {})
        .map_err(err)?;
    let alerts = ma.alerts(&OP).map_err(err)?;
    let hit = alerts.iter().find(|a| a.record_id == own);
    d.check(
        s.alerts == 1 && hit.is_some(),
        "continuous screening raised an alert at Morocco's node",
    );
    if let Some(a) = hit {
        d.say(&format!(
            "alert {}: score {:.2} — {}",
            a.id, a.score, a.explanation
        ));
    }
    let q = tansiq_match::Query {
        id: "Q1".into(),
        name: "BELKEZIZ, Abdallah".into(),
        ..Default::default()
    };
    let hits = ma
        .screen(&OP, &[q], tansiq_match::DEFAULT_THRESHOLD, 3)
        .map_err(err)?;
    d.check(
        hits[0].iter().any(|h| h.matched_name == "عبد الله بلقزاز"),
        "screening \"BELKEZIZ, Abdallah\" finds the Arabic-script entry",
    );

    d.step("Dossiers: the GSPC renames itself al-Qaeda in the Islamic Maghreb (AQIM)");
    let gspc = record(
        &dz,
        &dzma,
        "terrorism",
        Kind::Organization,
        json!({"names": ["GSPC", "Groupe salafiste pour la prédication et le combat", "الجماعة السلفية للدعوة والقتال"], "country": ["DZ"], "founded": "1998"}),
        vec![],
        None,
    )?;
    let aqim = record(
        &dz,
        &dzma,
        "terrorism",
        Kind::Organization,
        json!({"names": ["AQIM", "al-Qaeda in the Islamic Maghreb", "تنظيم القاعدة في بلاد المغرب الإسلامي"], "country": ["DZ", "ML"]}),
        vec![Link {
            rel: LinkType::SuccessorOf,
            target: gspc.clone(),
            from: Some("2007-01-24".into()),
            until: None,
            note: None,
        }],
        None,
    )?;
    let links = dz.record_links(&OP, &aqim).map_err(err)?;
    d.check(
        links
            .iter()
            .any(|l| l["rel"] == "successor_of" && l["dst"] == gspc.as_str()),
        "AQIM is linked to GSPC as its successor since 2007-01-24",
    );
    let net = record(
        &dz,
        &dzma,
        "arms-smuggling",
        Kind::Network,
        json!({"names": ["Sahel arms route"], "activity": "arms and explosives smuggling", "routes": ["Tamanrasset - Gao", "Oujda - Maghnia"]}),
        vec![Link {
            rel: LinkType::OperatesIn,
            target: aqim.clone(),
            from: None,
            until: None,
            note: None,
        }],
        None,
    )?;
    d.say(&format!(
        "network {net} records the cross-border smuggling route"
    ));

    d.step("May 2003: the Casablanca bombings — Morocco records the incident");
    let inc = record(
        &ma,
        &dzma,
        "terrorism",
        Kind::Incident,
        json!({"title": "Casablanca bombings", "occurred_at": "2003-05-16", "place": "Casablanca", "country": ["MA"]}),
        vec![],
        Some(Tlp::Amber),
    )?;
    d.check(
        ma.record_get(&OP, &inc).is_ok(),
        "incident recorded and signed by Morocco's node",
    );
    d.say("(the FLASH alert to every relevant channel arrives with federation)");

    d.step("Need-to-know inside Algeria's node, through its real local HTTP API");
    let token = dz
        .user_add(&OP, "amina", Role::Analyst, &["recruitment".into()])
        .map_err(err)?;
    record(
        &dz,
        &maghreb_eu,
        "recruitment",
        Kind::Person,
        json!({"names": ["Recruiter for Iraq networks"], "nationality": ["DZ"]}),
        vec![],
        None,
    )?;
    let dz = Arc::new(dz);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(err)?;
    let listener = rt
        .block_on(tansiq_node::api::bind("127.0.0.1:0".parse().map_err(err)?))
        .map_err(err)?;
    let addr = listener.local_addr().map_err(err)?;
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let server = rt.spawn(tansiq_node::api::serve(dz.clone(), listener, async {
        let _ = stop_rx.await;
    }));
    let (status, list) = http_get(addr, "/api/v1/records", &token)?;
    let files: Vec<String> = list
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|r| r["file"].as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    d.check(
        status == 200 && !files.is_empty() && files.iter().all(|f| f == "recruitment"),
        &format!(
            "analyst amina (file: recruitment) sees {} record(s), none outside her file",
            files.len()
        ),
    );
    let (status, _) = http_get(addr, &format!("/api/v1/records/{gspc}"), &token)?;
    d.check(
        status == 404,
        "a terrorism-file record is \"not found\" for her, exactly as if it did not exist",
    );
    let (status, _) = http_get(addr, "/api/v1/records", "tqk_wrong")?;
    d.check(status == 401, "a request without a valid token is refused");
    let _ = stop_tx.send(());
    let _ = rt.block_on(server);

    d.step("The third-party rule");
    dz.record_share(&OP, &aqim, &tri).map_err(err)?;
    d.check(
        dz.record_list(
            &OP,
            &RecordFilter {
                channel: Some(tri.clone()),
                ..Default::default()
            },
        )
        .map_err(err)?
        .iter()
        .any(|r| r.id == aqim),
        "Algeria, the originator, may place its AQIM dossier in the trilateral channel",
    );
    d.say("(a holder's refused share, the release request and the granted share need delivery between nodes: federation)");

    d.step("A retraction is purged");
    let wrong = record(
        &dz,
        &dzma,
        "recruitment",
        Kind::Person,
        json!({"names": ["Mistaken Identity Case 17"]}),
        vec![],
        None,
    )?;
    dz.record_retract(&OP, &wrong).map_err(err)?;
    let r = dz.record_get(&OP, &wrong).map_err(err)?;
    let db = std::fs::read(root.join("dz/node.db")).unwrap_or_default();
    let wal = std::fs::read(root.join("dz/node.db-wal")).unwrap_or_default();
    let needle = b"Mistaken Identity Case 17";
    let on_disk = db.windows(needle.len()).any(|w| w == needle)
        || wal.windows(needle.len()).any(|w| w == needle);
    d.check(
        r.status == "retracted" && !on_disk,
        "the record is a signed tombstone and its content is gone from the store's bytes",
    );

    d.step("Every node verifies its Merkle audit log");
    for n in [&*dz, &ma, &tn, &fr, &es, &us] {
        let rep = n.audit_verify(&OP).map_err(err)?;
        d.check(
            rep.ok,
            &format!(
                "{} ({}): {} entries, {} checkpoints — verified",
                n.config.name, n.config.country, rep.entries, rep.checkpoints
            ),
        );
    }

    println!();
    if d.failures.is_empty() {
        println!("Demo complete: every step behaved as it must.");
        Ok(())
    } else {
        for f in &d.failures {
            println!("FAILED {f}");
        }
        Err(CliError::other(format!(
            "{} demo step(s) failed",
            d.failures.len()
        )))
    }
}
