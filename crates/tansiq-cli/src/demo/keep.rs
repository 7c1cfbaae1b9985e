//! `tansiq demo --keep`: after the scenario, the nodes stay up with their
//! local API and web interface served, users of every role, and work
//! waiting in the interface — a FLASH from Morocco to acknowledge at
//! Algeria, Morocco's request for the release of an Algerian record to
//! decide, a TLP:RED record outside the analyst's files. The URLs and one
//! token per role are printed and written to `ui.json` in the demo
//! directory (scripts/ui-browser reads it), until SIGINT or SIGTERM.

use std::sync::Arc;

use serde_json::{json, Value};

use tansiq_core::handling::Tlp;
use tansiq_core::record::Kind;
use tansiq_core::user::Role;
use tansiq_node::Node;

use super::scene::{Report, Scene};
use super::support::{err, holds, record, wait_until};
use crate::ctx::OP;
use crate::error::CliResult;

/// Serves `node`'s local API (and so `/ui/`) on a free loopback port;
/// returns its base URL.
fn serve_ui(w: &Scene, node: &Arc<Node>) -> CliResult<String> {
    let listener =
        w.rt.block_on(tansiq_api::local::bind("127.0.0.1:0".parse().map_err(err)?))
            .map_err(err)?;
    let addr = listener.local_addr().map_err(err)?;
    w.rt.spawn(tansiq_api::local::serve(
        node.clone(),
        listener,
        std::future::pending::<()>(),
    ));
    Ok(format!("http://{addr}"))
}

/// Users of each role on `node`, with their tokens.
fn users(node: &Node, cc: &str, files: &[&str]) -> CliResult<Value> {
    let files: Vec<String> = files.iter().map(|f| f.to_string()).collect();
    let mut out = serde_json::Map::new();
    for (role, name, fs) in [
        (Role::Officer, format!("{cc}-officer"), files.clone()),
        (
            Role::Analyst,
            format!("{cc}-analyst"),
            vec!["terrorism".to_string()],
        ),
        (Role::Admin, format!("{cc}-admin"), vec![]),
        (Role::Auditor, format!("{cc}-auditor"), vec![]),
    ] {
        let token = node.user_add(&OP, &name, role, &fs).map_err(err)?;
        out.insert(
            role.as_str().to_string(),
            json!({"name": name, "token": token, "files": fs}),
        );
    }
    Ok(Value::Object(out))
}

/// Leaves work for the interface; returns the ids the browser test uses.
fn pending_work(d: &mut Report, w: &Scene) -> CliResult<Value> {
    let n = w.nodes();
    let (dz, ma) = (&n.dz, &n.ma);
    let flash = ma
        .send_message(
            &OP,
            &w.ids.dzma,
            Some("terrorism"),
            "flash",
            "Suspect vehicle crossed at Zouj Bghal tonight; confirm receipt and screen the passengers.",
            true,
        )
        .map_err(err)?;
    let financier = record(
        dz,
        &w.ids.dzma,
        "terrorism",
        Kind::Person,
        json!({"names": ["Mokhtar Ould Saleh", "مختار ولد صالح"], "weak_names": ["Abou Saleh"], "birth_date": "1971", "nationality": ["DZ", "MR"]}),
        vec![],
        Some(Tlp::Amber),
    )?;
    let red = record(
        dz,
        &w.ids.dzma,
        "arms-smuggling",
        Kind::Person,
        json!({"names": ["Informant HALFA-7"]}),
        vec![],
        Some(Tlp::Red),
    )?;
    let arrived = wait_until(30, || {
        holds(ma, &financier) && dz.inbox(&OP).is_ok_and(|m| m.iter().any(|m| m.id == flash))
    });
    let request = ma
        .release_request(
            &OP,
            &financier,
            &w.ids.tri,
            Some("The US asks for it to trace the financing"),
        )
        .map_err(err)?;
    let asked = wait_until(30, || {
        dz.releases(&OP)
            .is_ok_and(|r| r.iter().any(|r| r.id == request))
    });
    d.check(
        arrived && asked,
        "left for the interface: a FLASH to acknowledge at Algeria, a release to decide there",
    );
    Ok(json!({
        "flash": flash, "release_record": financier, "release": request,
        "red_record": red, "trilateral": w.ids.tri, "dzma": w.ids.dzma, "aqim": w.ids.aqim,
    }))
}

/// Serves the interface of Algeria, Morocco and the US until a signal.
pub fn keep(d: &mut Report, w: &mut Scene) -> CliResult {
    let n = w.nodes();
    let work = pending_work(d, w)?;
    let mut nodes = serde_json::Map::new();
    for (cc, node, files) in [
        (
            "dz",
            &n.dz,
            &["terrorism", "recruitment", "arms-smuggling"][..],
        ),
        ("ma", &n.ma, &["terrorism", "recruitment"][..]),
        ("us", &n.us, &["terrorism"][..]),
    ] {
        let url = serve_ui(w, node)?;
        let users = users(node, cc, files)?;
        outln!(
            "\n{} ({}) — web interface: {url}/ui/",
            node.config.name,
            node.id()
        );
        for (role, u) in users.as_object().into_iter().flatten() {
            outln!(
                "    {role:<8} {:<12} token {}",
                u["name"].as_str().unwrap_or(""),
                u["token"].as_str().unwrap_or("")
            );
        }
        nodes.insert(
            cc.into(),
            json!({"id": node.id(), "url": url, "users": users}),
        );
    }
    let file = w.root.join("ui.json");
    let doc = json!({"nodes": nodes, "work": work});
    std::fs::write(&file, serde_json::to_vec_pretty(&doc).map_err(err)?).map_err(err)?;
    outln!(
        "\nThe nodes keep running (details in {}); Ctrl-C stops them.",
        file.display()
    );
    w.rt.block_on(crate::serve::shutdown_signal());
    Ok(())
}
