//! Server time per page of the web interface (issue 14 §4: under 100 ms
//! at the 95th percentile with 100,000 records): a node holding RECORDS
//! person records, its local API and `/ui/` served on loopback as
//! `tansiq serve` serves them, and a signed-in officer fetching each page
//! REQUESTS times in turn. The time is the full HTTP round trip over
//! loopback (an upper bound on the server's time), reading the whole
//! page.
//!
//! ```sh
//! cargo bench -p tansiq-api --bench ui -- [RECORDS] [REQUESTS]
//! ```
//!
//! Defaults: 100,000 records, 100 requests per page. Prints p50, p95 and
//! max per page, then one screening (a typed name against every record,
//! the matcher's index built per request) and one full audit
//! verification, which are actions, not page views.

mod common;
use common::*;

use std::sync::Arc;
use std::time::Instant;

use tansiq_core::user::{Actor, Role};
use tansiq_node::{InitOptions, Node};

const OP: Actor = Actor::Operator;

struct Client {
    base: String,
    http: reqwest::blocking::Client,
    cookies: String,
}

impl Client {
    fn get(&self, path: &str) -> (u16, String) {
        let r = self
            .http
            .get(format!("{}{path}", self.base))
            .header("cookie", &self.cookies)
            .send()
            .unwrap();
        (r.status().as_u16(), r.text().unwrap())
    }
    fn post(&self, path: &str, form: &[(&str, &str)]) -> (u16, String) {
        let r = self
            .http
            .post(format!("{}{path}", self.base))
            .header("cookie", &self.cookies)
            .form(form)
            .send()
            .unwrap();
        (r.status().as_u16(), r.text().unwrap())
    }
}

fn csrf(page: &str) -> String {
    let i = page.find("name=\"csrf\" value=\"").expect("csrf field") + 19;
    page[i..i + 64].to_string()
}

/// Signs in with `token`; the client then carries the session cookie.
fn login(base: &str, token: &str) -> Client {
    let http = reqwest::blocking::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let r = http.get(format!("{base}/ui/login")).send().unwrap();
    let cookie = |r: &reqwest::blocking::Response, name: &str| {
        r.headers()
            .get_all("set-cookie")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .find(|c| c.starts_with(name))
            .and_then(|c| c.split(';').next())
            .unwrap()
            .to_string()
    };
    let login_cookie = cookie(&r, "tq_login=");
    let form = r.text().unwrap();
    let r = http
        .post(format!("{base}/ui/login"))
        .header("cookie", &login_cookie)
        .form(&[("token", token), ("csrf", &csrf(&form))])
        .send()
        .unwrap();
    assert_eq!(r.status().as_u16(), 303, "login");
    Client {
        base: base.into(),
        http,
        cookies: cookie(&r, "tq_session="),
    }
}

fn serve(node: Arc<Node>) -> String {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let l = tansiq_api::local::bind("127.0.0.1:0".parse().unwrap())
                .await
                .unwrap();
            tx.send(l.local_addr().unwrap()).unwrap();
            tansiq_api::local::serve(node, l, std::future::pending::<()>())
                .await
                .unwrap();
        });
    });
    format!("http://{}", rx.recv().unwrap())
}

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let records: usize = args.first().and_then(|a| a.parse().ok()).unwrap_or(100_000);
    let requests: usize = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(100);
    let tmp = tempfile::tempdir().unwrap();
    let port = free_port();
    let node = Node::init(
        &tmp.path().join("dz"),
        &InitOptions {
            name: "DZ",
            country: "DZ",
            listen: &format!("127.0.0.1:{port}"),
            endpoint: None,
            api_listen: None,
            store: None,
        },
    )
    .unwrap();
    let ch = node
        .channel_create(
            &OP,
            "DZ national",
            vec![],
            vec!["terrorism".into()],
            vec![],
            None,
        )
        .unwrap();
    let t = Instant::now();
    let mut ids = Vec::with_capacity(records);
    for start in (0..records).step_by(10_000) {
        let batch = (start..(start + 10_000).min(records))
            .map(|i| person(i, &ch))
            .collect();
        ids.extend(node.records_add(&OP, batch, |_| {}).unwrap());
    }
    eprintln!(
        "{records} records created in {:.1} s",
        t.elapsed().as_secs_f64()
    );
    let officer = node
        .user_add(&OP, "omar", Role::Officer, &["terrorism".into()])
        .unwrap();
    let auditor = node.user_add(&OP, "aicha", Role::Auditor, &[]).unwrap();
    let base = serve(Arc::new(node));
    let c = login(&base, &officer);
    let a = login(&base, &auditor);
    let dossier = format!("/ui/records/{}", ids[records / 2]);
    let pages: Vec<(&str, &Client, String)> = vec![
        ("inbox", &c, "/ui/inbox".into()),
        ("records (first 50)", &c, "/ui/records".into()),
        (
            "records (page 1,000)",
            &c,
            format!("/ui/records?offset={}", (records / 100).min(50_000)),
        ),
        (
            "records (name search, 12,500 hits)",
            &c,
            "/ui/records?name=Haddad".into(),
        ),
        (
            "records (name search, a few hits)",
            &c,
            "/ui/records?name=Samir%20Haddad%2027".into(),
        ),
        ("record dossier", &c, dossier),
        ("screening form", &c, "/ui/screen".into()),
        ("alerts", &c, "/ui/alerts".into()),
        ("releases", &c, "/ui/releases".into()),
        ("channels", &c, "/ui/channels".into()),
        ("sync status", &c, "/ui/sync".into()),
        ("audit (checkpoints)", &a, "/ui/audit".into()),
    ];
    println!(
        "UI pages, {records} records, {requests} requests each (load {})",
        load()
    );
    println!("| page | p50 ms | p95 ms | max ms | bytes |");
    println!("|---|---|---|---|---|");
    let mut worst: f64 = 0.0;
    for (name, client, path) in &pages {
        let (status, body) = client.get(path);
        assert_eq!(status, 200, "{path}: {body}");
        let mut times = Vec::with_capacity(requests);
        for _ in 0..requests {
            let t = Instant::now();
            let (status, _) = client.get(path);
            times.push(t.elapsed().as_secs_f64() * 1000.0);
            assert_eq!(status, 200);
        }
        let p95 = pct(&times, 0.95);
        worst = worst.max(p95);
        println!(
            "| {name} | {:.1} | {p95:.1} | {:.1} | {} |",
            pct(&times, 0.5),
            pct(&times, 1.0),
            body.len()
        );
    }
    println!("worst p95: {worst:.1} ms (target < 100 ms)");
    let form = c.get("/ui/screen").1;
    let t = Instant::now();
    let (status, _) = c
        .http
        .post(format!("{base}/ui/screen"))
        .header("cookie", &c.cookies)
        .multipart_form(&csrf(&form))
        .send()
        .map(|r| (r.status().as_u16(), ()))
        .unwrap();
    assert_eq!(status, 200);
    println!(
        "screening one typed name against {records} records: {:.0} ms",
        t.elapsed().as_secs_f64() * 1000.0
    );
    let page = a.get("/ui/audit").1;
    let t = Instant::now();
    let (status, body) = a.post("/ui/audit/verify", &[("csrf", &csrf(&page))]);
    assert_eq!(status, 200);
    assert!(body.contains("class=\"ok\""), "the log verifies");
    println!(
        "full audit verification: {:.1} s",
        t.elapsed().as_secs_f64()
    );
}

/// A multipart body with the CSRF token and one typed name.
trait Multipart {
    fn multipart_form(self, csrf: &str) -> Self;
}

impl Multipart for reqwest::blocking::RequestBuilder {
    fn multipart_form(self, csrf: &str) -> Self {
        let b = "XBOUNDARYX";
        let body = format!(
            "--{b}\r\nContent-Disposition: form-data; name=\"csrf\"\r\n\r\n{csrf}\r\n--{b}\r\nContent-Disposition: form-data; name=\"names\"\r\n\r\nAbdallah Belkeziz\r\n--{b}--\r\n"
        );
        self.header("content-type", format!("multipart/form-data; boundary={b}"))
            .body(body)
    }
}
