//! `tansiq demo`: the source article's scenario, played by six real nodes
//! (separate directories, keys and stores) with the node's real services,
//! the real local HTTP API and the real UN list. Each step checks what must
//! hold and the demo exits non-zero if any step misbehaves.

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

use crate::error::{CliError, CliResult};

struct Demo {
    failures: Vec<String>,
    step: usize,
}

impl Demo {
    fn step(&mut self, title: &str) {
        self.step += 1;
        outln!("\n[{}] {title}", self.step);
    }
    fn say(&self, what: &str) {
        outln!("    {what}");
    }
    fn check(&mut self, ok: bool, what: &str) {
        if ok {
            outln!("    ✔ {what}");
        } else {
            outln!("    ✘ {what}");
            self.failures.push(format!("step {}: {what}", self.step));
        }
    }
}

const OP: Actor = Actor::Operator;

fn err(e: impl std::fmt::Display) -> CliError {
    CliError::other(format!("demo: {e}"))
}

/// Polls `f` every 100 ms for up to `secs` seconds.
fn wait_until(secs: u64, mut f: impl FnMut() -> bool) -> bool {
    let t = std::time::Instant::now();
    while t.elapsed() < std::time::Duration::from_secs(secs) {
        if f() {
            return true;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    false
}

fn status(n: &Node, ch: &str) -> String {
    n.channel_list(&OP)
        .ok()
        .and_then(|l| l.into_iter().find(|c| c.id == ch))
        .map(|c| c.status)
        .unwrap_or_default()
}

/// Forms a channel over the network: the proposer signs and sends the
/// charter, each member sees it pending and co-signs, and the channel turns
/// active everywhere once every signature has travelled.
fn form_channel(
    d: &mut Demo,
    proposer: &Node,
    others: &[&Node],
    name: &str,
    files: &[&str],
    relays: &[&Node],
) -> CliResult<String> {
    let members = others.iter().map(|n| n.id().to_string()).collect();
    let files = files.iter().map(|f| f.to_string()).collect();
    let relays = relays.iter().map(|n| n.id().to_string()).collect();
    let ch = proposer
        .channel_create(&OP, name, members, files, relays, Some(3650))
        .map_err(err)?;
    let arrived = wait_until(20, || others.iter().all(|n| status(n, &ch) == "pending"));
    d.check(
        arrived,
        &format!(
            "the charter of \"{name}\" reached its {} other member(s), pending there",
            others.len()
        ),
    );
    for n in others {
        n.channel_accept(&OP, &ch).map_err(err)?;
    }
    let active = wait_until(30, || {
        std::iter::once(proposer)
            .chain(others.iter().copied())
            .all(|n| status(n, &ch) == "active")
    });
    d.check(
        active,
        &format!(
            "every member signed; \"{name}\" ({ch}) is active at all {} members",
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

/// The sample watchlists shipped in the repository's `data/` (from the
/// project root, the README's command, or from the binary's crate).
fn shared_data() -> PathBuf {
    for base in [
        PathBuf::from("data"),
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../data"),
    ] {
        if base.join("watchlists").exists() {
            return base;
        }
    }
    PathBuf::from("data")
}

/// One node of the demo: its services, its partner endpoint and sender.
fn start_node(root: &Path, dirname: &str, name: &str, cc: &str) -> CliResult<Arc<Node>> {
    // A port the OS calls free, and not one handed to an earlier node (a
    // released port can come back at once).
    static TAKEN: std::sync::Mutex<Vec<u16>> = std::sync::Mutex::new(Vec::new());
    let port = loop {
        let p = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map_err(err)?
            .port();
        let mut taken = TAKEN.lock().unwrap_or_else(|e| e.into_inner());
        if !taken.contains(&p) {
            taken.push(p);
            break p;
        }
    };
    let node = Node::init(
        &root.join(dirname),
        &InitOptions {
            name,
            country: cc,
            listen: &format!("127.0.0.1:{port}"),
            endpoint: None,
            api_listen: Some("127.0.0.1:0"),
            store: None,
        },
    )
    .map_err(err)?;
    Ok(Arc::new(node))
}

fn start_network(rt: &tokio::runtime::Runtime, node: &Arc<Node>) -> CliResult<()> {
    let peers = tansiq_node::transport::PeerSet::new();
    tansiq_node::peering::refresh_peers(node, &peers).map_err(err)?;
    let addr = tansiq_node::config::parse_listen(&node.config.listen).map_err(err)?;
    let listener = rt
        .block_on(tokio::net::TcpListener::bind(addr))
        .map_err(err)?;
    rt.spawn(tansiq_node::peering::serve_peers(
        node.clone(),
        listener,
        peers.clone(),
        std::future::pending::<()>(),
    ));
    rt.spawn(tansiq_node::peering::sender(node.clone(), peers));
    Ok(())
}

fn import_items(entries: Vec<tansiq_lists::ImportedEntry>) -> Vec<ImportItem> {
    entries
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
        .collect()
}

fn all_bytes(dir: &Path) -> Vec<u8> {
    let mut all = Vec::new();
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = e.path();
        if p.is_dir() {
            all.extend(all_bytes(&p));
        } else {
            all.extend(std::fs::read(&p).unwrap_or_default());
        }
    }
    all
}

fn holds(n: &Node, id: &str) -> bool {
    n.record_get(&OP, id).is_ok_and(|r| r.status == "active")
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
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(err)?;
    let mut d = Demo {
        failures: vec![],
        step: 0,
    };
    outln!("Tansiq demo — \"coordination with Morocco continues despite the crises\"");
    outln!("Six real nodes (separate keys and stores) talk mutual TLS on loopback; nodes live under {}", root.display());

    d.step("Six agencies each install a node: Algeria, Morocco, Tunisia, France, Spain, the United States");
    let specs = [
        ("dz", "Algeria security service", "DZ"),
        ("ma", "Morocco security service", "MA"),
        ("tn", "Tunisia security service", "TN"),
        ("fr", "France security service", "FR"),
        ("es", "Spain security service", "ES"),
        ("us", "United States liaison", "US"),
    ];
    let mut nodes = Vec::new();
    for (dirname, name, cc) in specs {
        let n = start_node(&root, dirname, name, cc)?;
        d.say(&format!(
            "{cc}  {}  {name}  partners at {}",
            n.id(),
            n.config.listen
        ));
        nodes.push(n);
    }
    let [dz, ma, tn, fr, es, us] =
        <[Arc<Node>; 6]>::try_from(nodes).map_err(|_| err("six nodes"))?;
    let all: [&Node; 6] = [&dz, &ma, &tn, &fr, &es, &us];

    d.step("They exchange signed node cards; a forged card is refused");
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
    for n in [&dz, &ma, &tn, &fr, &es, &us] {
        start_network(&rt, n)?;
    }

    d.step(
        "2002: a secret DZ–MA agreement — a bilateral channel, Tunisia named as a permitted relay",
    );
    let dzma = form_channel(
        &mut d,
        &dz,
        &[&ma],
        "DZ-MA security information exchange",
        &["terrorism", "recruitment", "arms-smuggling"],
        &[&tn],
    )?;

    d.step("Maghreb services coordinate with European states hosting Maghrebi communities");
    let maghreb_eu = form_channel(
        &mut d,
        &dz,
        &[&ma, &tn, &fr, &es],
        "Maghreb + Europe: recruitment networks",
        &["recruitment"],
        &[],
    )?;

    d.step("The trilateral DZ–MA–US framework");
    let tri = form_channel(
        &mut d,
        &dz,
        &[&ma, &us],
        "DZ-MA-US trilateral",
        &["terrorism"],
        &[],
    )?;

    d.step("Exchanging lists of suspects: Algeria shares the UN consolidated list with Morocco");
    let un = shared_data().join("watchlists/un/consolidated-2018-10-29.xml");
    match tansiq_lists::import(tansiq_lists::Format::UnXml, &un) {
        Ok(entries) => {
            let s = dz
                .watchlist_import(
                    &OP,
                    &dzma,
                    "terrorism",
                    "UN",
                    import_items(entries),
                    &|_| {},
                )
                .map_err(err)?;
            d.check(
                s.created == 1093,
                &format!(
                    "{} UN entries imported at Algeria as signed records",
                    s.created
                ),
            );
            let t = std::time::Instant::now();
            let count = |n: &Node| {
                n.record_list(
                    &OP,
                    &RecordFilter {
                        channel: Some(dzma.clone()),
                        ..Default::default()
                    },
                )
                .map(|v| v.len())
                .unwrap_or(0)
            };
            let ok = wait_until(120, || count(&ma) >= 1093);
            d.check(
                ok,
                &format!(
                    "all 1093 arrived at Morocco, sealed and signed, in {:.1} s",
                    t.elapsed().as_secs_f64()
                ),
            );
            d.check(
                count(&us) == 0 && count(&tn) == 0,
                "no other node holds them (the US and Tunisia are not members)",
            );
        }
        Err(e) => d.check(
            false,
            &format!("UN list at {} could not be read: {e}", un.display()),
        ),
    }

    d.step("A cross-script hit: Morocco's own dossier names \"Abdallah Belkeziz\"; Algeria lists عبد الله بلقزاز");
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
    dz.watchlist_import(&OP, &dzma, "terrorism", "DZ-suspects", entry, &|_| {})
        .map_err(err)?;
    let alerted = wait_until(30, || {
        ma.alerts(&OP)
            .is_ok_and(|a| a.iter().any(|a| a.record_id == own))
    });
    d.check(
        alerted,
        "the entry reached Morocco and continuous screening raised an alert there",
    );
    if let Some(a) = ma
        .alerts(&OP)
        .map_err(err)?
        .into_iter()
        .find(|a| a.record_id == own)
    {
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
        "screening \"BELKEZIZ, Abdallah\" at Morocco finds the Arabic-script entry",
    );

    d.step("Hit/no-hit: Spain asks Algeria whether it holds a person, without sending the name");
    let dzes = form_channel(&mut d, &dz, &[&es], "DZ-ES bilateral", &["terrorism"], &[])?;
    let national = dz
        .channel_create(
            &OP,
            "DZ national watchlist",
            vec![],
            vec!["terrorism".into()],
            vec![],
            None,
        )
        .map_err(err)?;
    let secret = vec![ImportItem {
        source_ref: "DZ-N-0042".into(),
        kind: Kind::Person,
        data: json!({"names": ["رشيد بن عيسى"], "birth_date": "1979-03-14", "nationality": ["DZ"], "listing": {"list": "DZ-national", "reference": "DZ-N-0042", "reason": "arms smuggling across the Sahel"}}),
    }];
    dz.watchlist_import(&OP, &national, "terrorism", "DZ-national", secret, &|_| {})
        .map_err(err)?;
    dz.query_allow(&OP, es.id(), &national, "terrorism", Some(10_000))
        .map_err(err)?;
    d.say("Algeria exposes its national watchlist file to Spain's hit/no-hit queries — never shared with Spain");
    let ask = |name: &str, birth: Option<&str>| {
        let q = tansiq_node::hits::HitQuery {
            id: "Q".into(),
            subject: tansiq_match::hitkeys::HitSubject {
                names: vec![name.into()],
                birth_date: birth.map(str::to_string),
                nationality: Some("DZ".into()),
                documents: vec![],
            },
        };
        rt.block_on(tansiq_node::hits::hit_query(es.clone(), &OP, dz.id(), &[q]))
            .map_err(err)
            .map(|mut a| a.pop())
    };
    let hit = ask("Rachid Benaissa", Some("1979"))?;
    let reference = hit.as_ref().and_then(|a| a.reference.clone());
    d.check(
        reference.is_some(),
        &format!(
            "Spain's \"Rachid Benaissa\" (Latin) hits Algeria's رشيد بن عيسى: {} shared keys ({})",
            hit.as_ref().map_or(0, |a| a.shared),
            hit.as_ref().map(|a| a.kinds.join(", ")).unwrap_or_default()
        ),
    );
    let miss = ask("Jean-Baptiste Lemoine", None)?;
    d.check(
        miss.is_some_and(|a| !a.hit),
        "\"Jean-Baptiste Lemoine\": no hit",
    );
    let dz_files = all_bytes(&root.join("dz"));
    d.check(
        !dz_files.windows(8).any(|w| w == b"Benaissa")
            && !dz_files.windows(7).any(|w| w == b"Lemoine"),
        "Algeria's store and keys hold neither name Spain asked about",
    );
    if let Some(reference) = reference {
        let req = es.hit_request(&OP, &reference).map_err(err)?;
        let arrived = wait_until(20, || {
            dz.hit_requests(&OP)
                .is_ok_and(|r| r.iter().any(|r| r.id == req && r.record.is_some()))
        });
        d.check(
            arrived,
            "Spain's request for the record reached Algeria, which resolved the reference",
        );
        let record = dz
            .hit_requests(&OP)
            .map_err(err)?
            .into_iter()
            .find(|r| r.id == req)
            .and_then(|r| r.record);
        dz.hit_grant(&OP, &req).map_err(err)?;
        let got = wait_until(20, || {
            record.as_deref().is_some_and(|r| holds(&es, r))
                && es
                    .hit_requests(&OP)
                    .is_ok_and(|r| r.iter().any(|r| r.id == req && r.status == "granted"))
        });
        d.check(
            got,
            &format!("Algeria's officer granted it: the record reached Spain through {dzes}"),
        );
        d.check(
            record
                .as_deref()
                .is_some_and(|r| !holds(&ma, r) && !holds(&fr, r)),
            "nobody else received it",
        );
    }

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
    let linked = wait_until(30, || {
        holds(&ma, &gspc)
            && ma.record_links(&OP, &aqim).is_ok_and(|l| {
                l.iter()
                    .any(|l| l["rel"] == "successor_of" && l["dst"] == gspc.as_str())
            })
    });
    d.check(
        linked,
        "at Morocco, AQIM is linked to GSPC as its successor since 2007-01-24",
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

    d.step("May 2003: the Casablanca bombings — Morocco records the incident and sends a FLASH");
    let inc = record(
        &ma,
        &dzma,
        "terrorism",
        Kind::Incident,
        json!({"title": "Casablanca bombings", "occurred_at": "2003-05-16", "place": "Casablanca", "country": ["MA"]}),
        vec![],
        Some(Tlp::Amber),
    )?;
    let t = std::time::Instant::now();
    let flash = ma
        .send_message(
            &OP,
            &dzma,
            Some("terrorism"),
            "flash",
            "Attacks in Casablanca tonight. Screen the attached names against your lists now.",
            true,
        )
        .map_err(err)?;
    let flash2 = ma
        .send_message(
            &OP,
            &maghreb_eu,
            Some("recruitment"),
            "flash",
            "Casablanca attacks: check travellers linked to Iraq recruitment networks.",
            true,
        )
        .map_err(err)?;
    let got = wait_until(20, || {
        dz.inbox(&OP).is_ok_and(|m| m.iter().any(|m| m.id == flash))
    });
    d.check(
        got,
        &format!(
            "the FLASH reached Algeria in {:.0} ms",
            t.elapsed().as_secs_f64() * 1000.0
        ),
    );
    let got2 = wait_until(20, || {
        [&fr, &es, &tn, &dz]
            .iter()
            .all(|n| n.inbox(&OP).is_ok_and(|m| m.iter().any(|m| m.id == flash2)))
    });
    d.check(
        got2,
        "the second FLASH reached every member of the Maghreb + Europe channel",
    );
    let _ = inc;
    dz.ack_message(&OP, &flash).map_err(err)?;
    let acked = wait_until(20, || {
        ma.unacked_messages()
            .is_ok_and(|u| !u.iter().any(|u| u.id == flash))
    });
    d.check(
        acked,
        "Algeria acknowledged it; Morocco no longer lists it as unacknowledged",
    );

    d.step("The DZ–MA link is cut; traffic goes through the Tunisian relay, which cannot read it");
    dz.federation.set_link_cut(ma.id(), true);
    ma.federation.set_link_cut(dz.id(), true);
    let during = record(
        &dz,
        &dzma,
        "arms-smuggling",
        Kind::Note,
        json!({"text": "Convoy crossing near Oujda on Thursday night (sent during the cut)"}),
        vec![],
        None,
    )?;
    let relayed = wait_until(90, || holds(&ma, &during));
    d.check(
        relayed,
        "a record sent during the cut reached Morocco through Tunisia",
    );
    let tn_db = std::fs::read(root.join("tn/node.db")).unwrap_or_default();
    let tn_wal = std::fs::read(root.join("tn/node.db-wal")).unwrap_or_default();
    let leak = |hay: &[u8]| hay.windows(6).any(|w| w == b"Convoy");
    d.check(
        !leak(&tn_db) && !leak(&tn_wal) && tn.record_get(&OP, &during).is_err(),
        "Tunisia's store holds no plaintext of it",
    );
    dz.federation.set_link_cut(ma.id(), false);
    ma.federation.set_link_cut(dz.id(), false);
    let after = record(
        &dz,
        &dzma,
        "arms-smuggling",
        Kind::Note,
        json!({"text": "Link healed"}),
        vec![],
        None,
    )?;
    d.check(
        wait_until(60, || holds(&ma, &after)),
        "the link healed and direct delivery resumed",
    );

    d.step("The third-party rule: Morocco may not pass Algeria's AQIM dossier to the US without consent");
    let refused = ma.record_share(&OP, &aqim, &tri);
    d.check(matches!(refused, Err(ref e) if e.exit_code() == 3 && e.to_string().contains("third-party rule")), "Morocco's share into the trilateral channel is refused (exit 3, third-party rule)");
    let req = ma
        .release_request(
            &OP,
            &aqim,
            &tri,
            Some("US needs it for a terrorism designation"),
        )
        .map_err(err)?;
    d.check(
        wait_until(20, || {
            dz.releases(&OP)
                .is_ok_and(|r| r.iter().any(|r| r.id == req))
        }),
        "Algeria received the request and sees the trilateral channel's members",
    );
    dz.release_grant(
        &OP,
        Some(&req),
        None,
        None,
        Some("not for use in court without consent"),
    )
    .map_err(err)?;
    d.check(
        wait_until(20, || {
            ma.releases(&OP)
                .is_ok_and(|r| r.iter().any(|r| r.id == req && r.status == "granted"))
        }),
        "Algeria's signed release reached Morocco",
    );
    ma.record_share(&OP, &aqim, &tri).map_err(err)?;
    d.check(
        wait_until(20, || holds(&us, &aqim)),
        "with the release, Morocco's share reaches the US node",
    );

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
    let listener = rt
        .block_on(tansiq_node::api::bind("127.0.0.1:0".parse().map_err(err)?))
        .map_err(err)?;
    let addr = listener.local_addr().map_err(err)?;
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let server = rt.spawn(tansiq_node::api::serve(dz.clone(), listener, async {
        let _ = stop_rx.await;
    }));
    let (status_code, list) = http_get(addr, "/api/v1/records?limit=5000", &token)?;
    let files: Vec<String> = list
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|r| r["file"].as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    d.check(
        status_code == 200 && !files.is_empty() && files.iter().all(|f| f == "recruitment"),
        &format!(
            "analyst amina (file: recruitment) sees {} record(s), none outside her file",
            files.len()
        ),
    );
    let (code, _) = http_get(addr, &format!("/api/v1/records/{gspc}"), &token)?;
    d.check(
        code == 404,
        "a terrorism-file record is \"not found\" for her, exactly as if it did not exist",
    );
    let (code, _) = http_get(addr, "/api/v1/records", "tqk_wrong")?;
    d.check(code == 401, "a request without a valid token is refused");
    let _ = stop_tx.send(());
    let _ = rt.block_on(server);

    d.step("A retraction is purged everywhere");
    let wrong = record(
        &dz,
        &dzma,
        "recruitment",
        Kind::Person,
        json!({"names": ["Mistaken Identity Case 17"]}),
        vec![],
        None,
    )?;
    d.check(
        wait_until(20, || holds(&ma, &wrong)),
        "a mistaken record reached Morocco",
    );
    dz.record_retract(&OP, &wrong).map_err(err)?;
    let purged = wait_until(20, || {
        ma.record_get(&OP, &wrong)
            .is_ok_and(|r| r.status == "retracted")
    });
    let needle = b"Mistaken Identity Case 17";
    let on_disk = |n: &str| {
        let db = std::fs::read(root.join(n).join("node.db")).unwrap_or_default();
        let wal = std::fs::read(root.join(n).join("node.db-wal")).unwrap_or_default();
        db.windows(needle.len()).any(|w| w == needle)
            || wal.windows(needle.len()).any(|w| w == needle)
    };
    // Each store scrubs its own files after the purge (no call from here).
    let gone = wait_until(10, || !on_disk("dz") && !on_disk("ma"));
    d.check(
        purged && gone,
        "the retraction reached Morocco and the content is gone from both stores' bytes",
    );

    d.step("Partners witness each other's audit logs: checkpoints co-signed across the federation");
    // Distinct partners that have co-signed one of this node's checkpoints.
    let cosigned_by = |n: &Node| -> Vec<String> {
        let mut w: Vec<String> = n
            .store
            .read(|tx| {
                let mut out = Vec::new();
                for c in tx.checkpoints()? {
                    out.extend(tx.cosignatures(c.size)?.into_iter().map(|(w, _)| w));
                }
                Ok::<_, tansiq_store::StoreError>(out)
            })
            .unwrap_or_default();
        w.sort();
        w.dedup();
        w
    };
    let witnessed = wait_until(30, || {
        for n in all {
            let _ = n.witness_round();
        }
        std::thread::sleep(std::time::Duration::from_millis(300));
        all.iter().all(|n| cosigned_by(n).len() >= 5)
    });
    d.check(
        witnessed,
        &format!(
            "every node's log was co-signed by all five partners (Algeria: {})",
            cosigned_by(&dz).len()
        ),
    );
    d.check(
        all.iter()
            .all(|n| n.sync_status(&OP).is_ok_and(|s| s.alarms.is_empty())),
        "no node raised an inconsistency alarm",
    );

    d.step("Every node verifies its Merkle audit log");
    for n in all {
        let rep = n.audit_verify(&OP).map_err(err)?;
        d.check(
            rep.ok,
            &format!(
                "{} ({}): {} entries, {} checkpoints — verified",
                n.config.name, n.config.country, rep.entries, rep.checkpoints
            ),
        );
    }
    rt.shutdown_timeout(std::time::Duration::from_secs(2));

    outln!("");
    if d.failures.is_empty() {
        outln!("Demo complete: every step behaved as it must.");
        Ok(())
    } else {
        for f in &d.failures {
            outln!("FAILED {f}");
        }
        Err(CliError::other(format!(
            "{} demo step(s) failed",
            d.failures.len()
        )))
    }
}
