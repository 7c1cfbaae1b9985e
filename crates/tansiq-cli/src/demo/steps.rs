//! The scenario's steps, in the order the demo plays them (the list is
//! `STEPS` in `demo/mod.rs`). Each prints its checks to the report; an
//! error ends the demo.

use std::sync::Arc;

use serde_json::json;

use tansiq_core::handling::Tlp;
use tansiq_core::record::{Kind, Link, LinkType};
use tansiq_core::user::Role;
use tansiq_node::watchlist::ImportItem;
use tansiq_node::Node;
use tansiq_store::RecordFilter;

use super::scene::{Nodes, Report, Scene};
use super::support::{
    all_bytes, cut_link, err, form_channel, holds, http_get, import_items, record, shared_data,
    start_network, start_node, wait_until,
};
use crate::ctx::OP;
use crate::error::CliResult;

/// Six nodes, each in its own directory with its own keys and store.
pub fn install(d: &mut Report, w: &mut Scene) -> CliResult {
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
        let n = start_node(&w.root, dirname, name, cc)?;
        d.say(&format!(
            "{cc}  {}  {name}  partners at {}",
            n.id(),
            n.config.listen
        ));
        nodes.push(n);
    }
    let [dz, ma, tn, fr, es, us] =
        <[Arc<Node>; 6]>::try_from(nodes).map_err(|_| err("six nodes"))?;
    w.nodes = Some(Nodes {
        dz,
        ma,
        tn,
        fr,
        es,
        us,
    });
    Ok(())
}

/// Every node trusts the five others from their signed cards; a card
/// with an altered endpoint is refused. The nodes then start serving.
pub fn cards(d: &mut Report, w: &mut Scene) -> CliResult {
    let n = w.nodes();
    for a in n.all() {
        for b in n.all() {
            if a.id() != b.id() {
                a.peer_add(&OP, &serde_json::to_vec(&b.card()).map_err(err)?)
                    .map_err(err)?;
            }
        }
    }
    d.check(
        n.dz.peer_list(&OP).map_err(err)?.len() == 5,
        "every node trusts the five others",
    );
    let mut forged = serde_json::to_value(n.ma.card()).map_err(err)?;
    forged["endpoint"] = json!("127.0.0.1:6666");
    let refused = n.tn.peer_add(&OP, forged.to_string().as_bytes());
    d.check(
        matches!(refused, Err(ref e) if e.exit_code() == 2),
        "a card with an altered endpoint is refused (exit 2)",
    );
    for node in [&n.dz, &n.ma, &n.tn, &n.fr, &n.es, &n.us] {
        start_network(&w.rt, node)?;
    }
    Ok(())
}

/// The DZ–MA channel, formed over the network, Tunisia its relay.
pub fn bilateral(d: &mut Report, w: &mut Scene) -> CliResult {
    let n = w.nodes();
    w.ids.dzma = form_channel(
        d,
        &n.dz,
        &[&n.ma],
        "DZ-MA security information exchange",
        &["terrorism", "recruitment", "arms-smuggling"],
        &[&n.tn],
    )?;
    Ok(())
}

/// A five-member channel for recruitment networks.
pub fn maghreb_europe(d: &mut Report, w: &mut Scene) -> CliResult {
    let n = w.nodes();
    w.ids.maghreb_eu = form_channel(
        d,
        &n.dz,
        &[&n.ma, &n.tn, &n.fr, &n.es],
        "Maghreb + Europe: recruitment networks",
        &["recruitment"],
        &[],
    )?;
    Ok(())
}

/// The DZ–MA–US channel (used by the third-party rule later).
pub fn trilateral(d: &mut Report, w: &mut Scene) -> CliResult {
    let n = w.nodes();
    w.ids.tri = form_channel(
        d,
        &n.dz,
        &[&n.ma, &n.us],
        "DZ-MA-US trilateral",
        &["terrorism"],
        &[],
    )?;
    Ok(())
}

/// 1,093 UN entries imported at Algeria arrive at Morocco, and only there.
pub fn un_list(d: &mut Report, w: &mut Scene) -> CliResult {
    let (n, dzma) = (w.nodes(), &w.ids.dzma);
    let un = shared_data().join("watchlists/un/consolidated-2018-10-29.xml");
    let entries = match tansiq_lists::import(tansiq_lists::Format::UnXml, &un) {
        Ok(entries) => entries,
        Err(e) => {
            d.check(
                false,
                &format!("UN list at {} could not be read: {e}", un.display()),
            );
            return Ok(());
        }
    };
    let s =
        n.dz.watchlist_import(&OP, dzma, "terrorism", "UN", import_items(entries), &|_| {})
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
    let ok = wait_until(120, || count(&n.ma) >= 1093);
    d.check(
        ok,
        &format!(
            "all 1093 arrived at Morocco, sealed and signed, in {:.1} s",
            t.elapsed().as_secs_f64()
        ),
    );
    d.check(
        count(&n.us) == 0 && count(&n.tn) == 0,
        "no other node holds them (the US and Tunisia are not members)",
    );
    Ok(())
}

/// An Arabic-script list entry raises an alert against a Latin-script
/// dossier on arrival, and screening finds it.
pub fn cross_script(d: &mut Report, w: &mut Scene) -> CliResult {
    let (n, dzma) = (w.nodes(), &w.ids.dzma);
    let own = record(
        &n.ma,
        dzma,
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
    n.dz.watchlist_import(&OP, dzma, "terrorism", "DZ-suspects", entry, &|_| {})
        .map_err(err)?;
    let alerted = wait_until(30, || {
        n.ma.alerts(&OP)
            .is_ok_and(|a| a.iter().any(|a| a.record_id == own))
    });
    d.check(
        alerted,
        "the entry reached Morocco and continuous screening raised an alert there",
    );
    if let Some(a) =
        n.ma.alerts(&OP)
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
    let hits =
        n.ma.screen(&OP, &[q], tansiq_match::DEFAULT_THRESHOLD, 3)
            .map_err(err)?;
    d.check(
        hits[0].iter().any(|h| h.matched_name == "عبد الله بلقزاز"),
        "screening \"BELKEZIZ, Abdallah\" at Morocco finds the Arabic-script entry",
    );
    Ok(())
}

/// A blind query hits (or misses) without Algeria learning the names;
/// the record behind the hit is then requested and granted.
pub fn hit_no_hit(d: &mut Report, w: &mut Scene) -> CliResult {
    let n = w.nodes();
    let dzes = form_channel(d, &n.dz, &[&n.es], "DZ-ES bilateral", &["terrorism"], &[])?;
    expose_national_list(&n)?;
    d.say("Algeria exposes its national watchlist file to Spain's hit/no-hit queries — never shared with Spain");
    let hit = ask_algeria(w, &n, "Rachid Benaissa", Some("1979"))?;
    let reference = hit.as_ref().and_then(|a| a.reference.clone());
    d.check(
        reference.is_some(),
        &format!(
            "Spain's \"Rachid Benaissa\" (Latin) hits Algeria's رشيد بن عيسى: {} shared keys ({})",
            hit.as_ref().map_or(0, |a| a.shared),
            hit.as_ref().map(|a| a.kinds.join(", ")).unwrap_or_default()
        ),
    );
    let miss = ask_algeria(w, &n, "Jean-Baptiste Lemoine", None)?;
    d.check(
        miss.is_some_and(|a| !a.hit),
        "\"Jean-Baptiste Lemoine\": no hit",
    );
    let dz_files = all_bytes(&w.root.join("dz"));
    d.check(
        !dz_files.windows(8).any(|w| w == b"Benaissa")
            && !dz_files.windows(7).any(|w| w == b"Lemoine"),
        "Algeria's store and keys hold neither name Spain asked about",
    );
    if let Some(reference) = reference {
        request_the_record(d, &n, &reference, &dzes)?;
    }
    Ok(())
}

/// Algeria's national watchlist: a channel of its own, one secret entry,
/// exposed to Spain's hit/no-hit queries.
fn expose_national_list(n: &Nodes) -> CliResult {
    let national =
        n.dz.channel_create(
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
    n.dz.watchlist_import(&OP, &national, "terrorism", "DZ-national", secret, &|_| {})
        .map_err(err)?;
    n.dz.query_allow(&OP, n.es.id(), &national, "terrorism", Some(10_000))
        .map_err(err)?;
    Ok(())
}

/// Spain's blind hit/no-hit query to Algeria for one person.
fn ask_algeria(
    w: &Scene,
    n: &Nodes,
    name: &str,
    birth: Option<&str>,
) -> CliResult<Option<tansiq_node::hits::HitAnswer>> {
    let q = tansiq_node::hits::HitQuery {
        id: "Q".into(),
        subject: tansiq_match::hitkeys::HitSubject {
            names: vec![name.into()],
            birth_date: birth.map(str::to_string),
            nationality: Some("DZ".into()),
            documents: vec![],
        },
    };
    w.rt.block_on(tansiq_node::hits::hit_query(
        n.es.clone(),
        &OP,
        n.dz.id(),
        &[q],
    ))
    .map_err(err)
    .map(|mut a| a.pop())
}

/// Spain asks for the record behind its hit; Algeria's officer grants
/// it, and it reaches Spain alone through their bilateral channel.
fn request_the_record(d: &mut Report, n: &Nodes, reference: &str, dzes: &str) -> CliResult {
    let (dz, es) = (&n.dz, &n.es);
    let req = es.hit_request(&OP, reference).map_err(err)?;
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
        record.as_deref().is_some_and(|r| holds(es, r))
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
            .is_some_and(|r| !holds(&n.ma, r) && !holds(&n.fr, r)),
        "nobody else received it",
    );
    Ok(())
}

/// Linked organization and network records arrive with their links.
pub fn dossiers(d: &mut Report, w: &mut Scene) -> CliResult {
    let (n, dzma) = (w.nodes(), w.ids.dzma.clone());
    let gspc = record(
        &n.dz,
        &dzma,
        "terrorism",
        Kind::Organization,
        json!({"names": ["GSPC", "Groupe salafiste pour la prédication et le combat", "الجماعة السلفية للدعوة والقتال"], "country": ["DZ"], "founded": "1998"}),
        vec![],
        None,
    )?;
    let aqim = record(
        &n.dz,
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
        holds(&n.ma, &gspc)
            && n.ma.record_links(&OP, &aqim).is_ok_and(|l| {
                l.iter()
                    .any(|l| l["rel"] == "successor_of" && l["dst"] == gspc.as_str())
            })
    });
    d.check(
        linked,
        "at Morocco, AQIM is linked to GSPC as its successor since 2007-01-24",
    );
    let net = record(
        &n.dz,
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
    w.ids.gspc = gspc;
    w.ids.aqim = aqim;
    Ok(())
}

/// FLASH messages reach every member within milliseconds and are
/// acknowledged.
pub fn flash(d: &mut Report, w: &mut Scene) -> CliResult {
    let (n, ids) = (w.nodes(), &w.ids);
    record(
        &n.ma,
        &ids.dzma,
        "terrorism",
        Kind::Incident,
        json!({"title": "Casablanca bombings", "occurred_at": "2003-05-16", "place": "Casablanca", "country": ["MA"]}),
        vec![],
        Some(Tlp::Amber),
    )?;
    let t = std::time::Instant::now();
    let flash =
        n.ma.send_message(
            &OP,
            &ids.dzma,
            Some("terrorism"),
            "flash",
            "Attacks in Casablanca tonight. Screen the attached names against your lists now.",
            true,
        )
        .map_err(err)?;
    let flash2 =
        n.ma.send_message(
            &OP,
            &ids.maghreb_eu,
            Some("recruitment"),
            "flash",
            "Casablanca attacks: check travellers linked to Iraq recruitment networks.",
            true,
        )
        .map_err(err)?;
    let got = wait_until(20, || {
        n.dz.inbox(&OP)
            .is_ok_and(|m| m.iter().any(|m| m.id == flash))
    });
    d.check(
        got,
        &format!(
            "the FLASH reached Algeria in {:.0} ms",
            t.elapsed().as_secs_f64() * 1000.0
        ),
    );
    let got2 = wait_until(20, || {
        [&n.fr, &n.es, &n.tn, &n.dz]
            .iter()
            .all(|n| n.inbox(&OP).is_ok_and(|m| m.iter().any(|m| m.id == flash2)))
    });
    d.check(
        got2,
        "the second FLASH reached every member of the Maghreb + Europe channel",
    );
    n.dz.ack_message(&OP, &flash).map_err(err)?;
    let acked = wait_until(20, || {
        n.ma.unacked_messages()
            .is_ok_and(|u| !u.iter().any(|u| u.id == flash))
    });
    d.check(
        acked,
        "Algeria acknowledged it; Morocco no longer lists it as unacknowledged",
    );
    Ok(())
}

/// With the direct link cut, a record goes through the relay, which
/// stores no plaintext; the healed link carries traffic again.
pub fn link_cut(d: &mut Report, w: &mut Scene) -> CliResult {
    let (n, dzma) = (w.nodes(), &w.ids.dzma);
    cut_link(&n.dz, &n.ma, true);
    let during = record(
        &n.dz,
        dzma,
        "arms-smuggling",
        Kind::Note,
        json!({"text": "Convoy crossing near Oujda on Thursday night (sent during the cut)"}),
        vec![],
        None,
    )?;
    let relayed = wait_until(90, || holds(&n.ma, &during));
    d.check(
        relayed,
        "a record sent during the cut reached Morocco through Tunisia",
    );
    let tn_db = std::fs::read(w.root.join("tn/node.db")).unwrap_or_default();
    let tn_wal = std::fs::read(w.root.join("tn/node.db-wal")).unwrap_or_default();
    let leak = |hay: &[u8]| hay.windows(6).any(|w| w == b"Convoy");
    d.check(
        !leak(&tn_db) && !leak(&tn_wal) && n.tn.record_get(&OP, &during).is_err(),
        "Tunisia's store holds no plaintext of it",
    );
    cut_link(&n.dz, &n.ma, false);
    let after = record(
        &n.dz,
        dzma,
        "arms-smuggling",
        Kind::Note,
        json!({"text": "Link healed"}),
        vec![],
        None,
    )?;
    d.check(
        wait_until(60, || holds(&n.ma, &after)),
        "the link healed and direct delivery resumed",
    );
    Ok(())
}

/// A share without the originator's consent is refused (exit 3); with
/// its signed release the share reaches the US.
pub fn third_party(d: &mut Report, w: &mut Scene) -> CliResult {
    let (n, aqim, tri) = (w.nodes(), &w.ids.aqim, &w.ids.tri);
    let (dz, ma) = (&n.dz, &n.ma);
    let refused = ma.record_share(&OP, aqim, tri);
    d.check(matches!(refused, Err(ref e) if e.exit_code() == 3 && e.to_string().contains("third-party rule")), "Morocco's share into the trilateral channel is refused (exit 3, third-party rule)");
    let req = ma
        .release_request(
            &OP,
            aqim,
            tri,
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
    ma.record_share(&OP, aqim, tri).map_err(err)?;
    d.check(
        wait_until(20, || holds(&n.us, aqim)),
        "with the release, Morocco's share reaches the US node",
    );
    Ok(())
}

/// Through the real local HTTP API, an analyst sees only her file, and
/// "not found" hides the rest.
pub fn need_to_know(d: &mut Report, w: &mut Scene) -> CliResult {
    let (n, rt) = (w.nodes(), &w.rt);
    let token =
        n.dz.user_add(&OP, "amina", Role::Analyst, &["recruitment".into()])
            .map_err(err)?;
    record(
        &n.dz,
        &w.ids.maghreb_eu,
        "recruitment",
        Kind::Person,
        json!({"names": ["Recruiter for Iraq networks"], "nationality": ["DZ"]}),
        vec![],
        None,
    )?;
    let listener = rt
        .block_on(tansiq_api::local::bind("127.0.0.1:0".parse().map_err(err)?))
        .map_err(err)?;
    let addr = listener.local_addr().map_err(err)?;
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let server = rt.spawn(tansiq_api::local::serve(n.dz.clone(), listener, async {
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
    let gspc = &w.ids.gspc;
    let (code, _) = http_get(addr, &format!("/api/v1/records/{gspc}"), &token)?;
    d.check(
        code == 404,
        "a terrorism-file record is \"not found\" for her, exactly as if it did not exist",
    );
    let (code, _) = http_get(addr, "/api/v1/records", "tqk_wrong")?;
    d.check(code == 401, "a request without a valid token is refused");
    let _ = stop_tx.send(());
    let _ = rt.block_on(server);
    Ok(())
}

/// A retraction reaches the holder and both stores' bytes lose the content.
pub fn retraction(d: &mut Report, w: &mut Scene) -> CliResult {
    let n = w.nodes();
    let wrong = record(
        &n.dz,
        &w.ids.dzma,
        "recruitment",
        Kind::Person,
        json!({"names": ["Mistaken Identity Case 17"]}),
        vec![],
        None,
    )?;
    d.check(
        wait_until(20, || holds(&n.ma, &wrong)),
        "a mistaken record reached Morocco",
    );
    n.dz.record_retract(&OP, &wrong).map_err(err)?;
    let purged = wait_until(20, || {
        n.ma.record_get(&OP, &wrong)
            .is_ok_and(|r| r.status == "retracted")
    });
    let needle = b"Mistaken Identity Case 17";
    let on_disk = |n: &str| {
        let db = std::fs::read(w.root.join(n).join("node.db")).unwrap_or_default();
        let wal = std::fs::read(w.root.join(n).join("node.db-wal")).unwrap_or_default();
        db.windows(needle.len()).any(|w| w == needle)
            || wal.windows(needle.len()).any(|w| w == needle)
    };
    // Each store scrubs its own files after the purge (no call from here).
    let gone = wait_until(10, || !on_disk("dz") && !on_disk("ma"));
    d.check(
        purged && gone,
        "the retraction reached Morocco and the content is gone from both stores' bytes",
    );
    Ok(())
}

/// Every node's log is co-signed by its five partners; no alarm.
pub fn witnesses(d: &mut Report, w: &mut Scene) -> CliResult {
    let n = w.nodes();
    let all = n.all();
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
            cosigned_by(&n.dz).len()
        ),
    );
    d.check(
        all.iter()
            .all(|n| n.sync_status(&OP).is_ok_and(|s| s.alarms.is_empty())),
        "no node raised an inconsistency alarm",
    );
    Ok(())
}

/// Distinct partners that have co-signed one of this node's checkpoints.
fn cosigned_by(n: &Node) -> Vec<String> {
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
}

/// Every node verifies its Merkle audit log.
pub fn audit(d: &mut Report, w: &mut Scene) -> CliResult {
    for n in w.nodes().all() {
        let rep = n.audit_verify(&OP).map_err(err)?;
        d.check(
            rep.ok,
            &format!(
                "{} ({}): {} entries, {} checkpoints — verified",
                n.config.name, n.config.country, rep.entries, rep.checkpoints
            ),
        );
    }
    Ok(())
}
