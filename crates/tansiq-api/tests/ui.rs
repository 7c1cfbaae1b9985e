//! The web interface over real HTTP (issue 14 §4): login with a token
//! opens a session cookie (HttpOnly, SameSite=Strict); every answer
//! carries the security headers; a POST without the session's CSRF token
//! changes nothing; pages act as the logged-in user, so a record outside
//! their files is 404 as in the API; Arabic pages are right-to-left; the
//! inbox acknowledges, the releases page grants, screening explains.

mod common;

use std::collections::BTreeMap;
use std::sync::Arc;

use serde_json::json;

use common::*;
use tansiq_core::handling::Tlp;
use tansiq_core::record::Kind;
use tansiq_core::user::Role;
use tansiq_node::records::NewRecord;
use tansiq_node::watchlist::ImportItem;

/// A browser without JavaScript: keeps cookies, follows no redirect.
struct Browser {
    base: String,
    client: reqwest::blocking::Client,
    cookies: BTreeMap<String, String>,
    lang: Option<&'static str>,
}

struct Page {
    status: u16,
    headers: reqwest::header::HeaderMap,
    body: String,
}

impl Page {
    fn location(&self) -> &str {
        self.headers
            .get("location")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }
    /// The value of the first `name="csrf"` field.
    fn csrf(&self) -> String {
        let i = self
            .body
            .find("name=\"csrf\" value=\"")
            .expect("a csrf field")
            + 19;
        self.body[i..i + 64].to_string()
    }
}

impl Browser {
    fn new(base: &str) -> Browser {
        Browser {
            base: base.into(),
            client: reqwest::blocking::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
            cookies: BTreeMap::new(),
            lang: None,
        }
    }
    fn send(&mut self, req: reqwest::blocking::RequestBuilder) -> Page {
        let cookie = self
            .cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ");
        let mut req = req.header("cookie", cookie);
        if let Some(l) = self.lang {
            req = req.header("accept-language", l);
        }
        let r = req.send().unwrap();
        for c in r.headers().get_all("set-cookie") {
            let c = c.to_str().unwrap();
            let (kv, _) = c.split_once(';').unwrap_or((c, ""));
            let (k, v) = kv.split_once('=').unwrap();
            if c.contains("Max-Age=0") {
                self.cookies.remove(k);
            } else {
                self.cookies.insert(k.into(), v.into());
            }
        }
        Page {
            status: r.status().as_u16(),
            headers: r.headers().clone(),
            body: r.text().unwrap(),
        }
    }
    fn get(&mut self, path: &str) -> Page {
        let req = self.client.get(format!("{}{path}", self.base));
        self.send(req)
    }
    fn post(&mut self, path: &str, form: &[(&str, &str)]) -> Page {
        let req = self.client.post(format!("{}{path}", self.base)).form(form);
        self.send(req)
    }
    fn login(&mut self, token: &str) -> Page {
        let form = self.get("/ui/login");
        self.post("/ui/login", &[("token", token), ("csrf", &form.csrf())])
    }
}

struct World {
    _tmp: tempfile::TempDir,
    base: String,
    _stop: tokio::sync::oneshot::Sender<()>,
    dz: Arc<tansiq_node::Node>,
    ma: tansiq_node::Node,
    ch: String,
    red: String,
    officer: String,
    analyst: String,
}

/// DZ (served) and MA share a channel (terrorism, recruitment); DZ holds
/// a TLP:RED recruitment record; MA lists an Arabic-script name; the
/// analyst holds terrorism only.
impl World {
    /// How the interface names Morocco's node.
    fn ma_label(&self) -> String {
        format!("{} ({})", self.ma.config.name, self.ma.config.country)
    }
}

fn world() -> World {
    let tmp = tempfile::tempdir().unwrap();
    let dz = node(tmp.path(), "dz", "DZ");
    let ma = node(tmp.path(), "ma", "MA");
    trust(&[&dz, &ma]);
    let files = vec!["terrorism".to_string(), "recruitment".to_string()];
    let ch = dz
        .channel_create(&OP, "DZ-MA", vec![ma.id().into()], files, vec![], None)
        .unwrap();
    pump(&[&dz, &ma]);
    ma.channel_accept(&OP, &ch).unwrap();
    pump(&[&dz, &ma]);
    let red = dz
        .record_add(
            &OP,
            NewRecord {
                channel: ch.clone(),
                file: "recruitment".into(),
                kind: Kind::Person,
                data: json!({"names": ["Recruiter Z"]}),
                tlp: Some(Tlp::Red),
                code: None,
                evaluation: None,
                expires: None,
                links: vec![],
            },
        )
        .unwrap();
    let entry = ImportItem {
        source_ref: "DZ-0001".into(),
        kind: Kind::Person,
        data: json!({"names": ["عبد الله بلقزاز"], "birth_date": "1962-02-01"}),
    };
    dz.watchlist_import(&OP, &ch, "terrorism", "DZ-suspects", vec![entry], &|_| {})
        .unwrap();
    let officer = dz
        .user_add(
            &OP,
            "omar",
            Role::Officer,
            &["terrorism".into(), "recruitment".into()],
        )
        .unwrap();
    let analyst = dz
        .user_add(&OP, "amina", Role::Analyst, &["terrorism".into()])
        .unwrap();
    let dz = Arc::new(dz);
    let (base, stop) = serve_api(dz.clone());
    World {
        _tmp: tmp,
        base,
        _stop: stop,
        dz,
        ma,
        ch,
        red,
        officer,
        analyst,
    }
}

#[test]
fn login_opens_a_strict_session_and_every_answer_carries_the_security_headers() {
    let w = world();
    let mut b = Browser::new(&w.base);
    let first = b.get("/ui/inbox");
    assert_eq!(first.status, 303, "no session: to the login form");
    assert_eq!(first.location(), "/ui/login");
    let form = b.get("/ui/login");
    assert_eq!(form.status, 200);
    let h = &form.headers;
    let csp = h["content-security-policy"].to_str().unwrap();
    assert!(
        csp.starts_with("default-src 'self'") && csp.contains("frame-ancestors 'none'"),
        "{csp}"
    );
    assert_eq!(h["x-content-type-options"], "nosniff");
    assert_eq!(h["referrer-policy"], "no-referrer");
    assert!(
        !form.body.contains("<script>") && !form.body.contains("style="),
        "no inline script or style"
    );

    let bad = b.post(
        "/ui/login",
        &[("token", "tqk_wrong"), ("csrf", &form.csrf())],
    );
    assert_eq!(bad.status, 401);
    assert!(!b.cookies.contains_key("tq_session"));

    let form = b.get("/ui/login");
    let ok = b.post(
        "/ui/login",
        &[("token", &w.officer), ("csrf", &form.csrf())],
    );
    assert_eq!(ok.status, 303, "{}", ok.body);
    let set = ok
        .headers
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_string())
        .find(|c| c.starts_with("tq_session="))
        .expect("a session cookie");
    assert!(
        set.contains("HttpOnly") && set.contains("SameSite=Strict") && set.contains("Path=/ui"),
        "{set}"
    );
    assert!(
        !set.contains(&w.officer),
        "the token never rides in the cookie"
    );
    let inbox = b.get("/ui/inbox");
    assert_eq!(inbox.status, 200);
    assert!(inbox.body.contains("omar"));

    // Logged out, the old cookie opens nothing.
    let old = b.cookies["tq_session"].clone();
    let csrf = inbox.csrf();
    assert_eq!(b.post("/ui/logout", &[("csrf", &csrf)]).status, 303);
    b.cookies.insert("tq_session".into(), old);
    assert_eq!(b.get("/ui/inbox").status, 303);
}

#[test]
fn a_login_form_without_its_own_token_and_a_post_without_the_sessions_csrf_are_refused() {
    let w = world();
    let mut b = Browser::new(&w.base);
    // A cross-site login attempt has no login cookie to match.
    let r = b.post(
        "/ui/login",
        &[("token", &w.officer), ("csrf", &"0".repeat(64))],
    );
    assert_eq!(r.status, 403);
    assert!(!b.cookies.contains_key("tq_session"));

    let flash =
        w.ma.send_message(&OP, &w.ch, Some("terrorism"), "flash", "convoy left", true)
            .unwrap();
    pump(&[&w.dz, &w.ma]);
    b.login(&w.officer);
    let path = format!("/ui/messages/{flash}/ack");
    assert_eq!(b.post(&path, &[]).status, 403, "no CSRF token");
    assert_eq!(
        b.post(&path, &[("csrf", &"a".repeat(64))]).status,
        403,
        "wrong token"
    );
    let inbox = b.get("/ui/inbox");
    assert!(inbox.body.contains("convoy left"));
    // The sender is named as the agency, its key id in the title.
    let label = format!(
        "<bdi class=\"node\" title=\"{}\">{}</bdi>",
        w.ma.id(),
        w.ma_label()
    );
    assert!(inbox.body.contains(&label), "{}", inbox.body);
    assert!(inbox.body.contains("one awaits your acknowledgement"));
    // An analyst cannot acknowledge: the page says who must.
    let mut analyst = Browser::new(&w.base);
    analyst.login(&w.analyst);
    let theirs = analyst.get("/ui/inbox");
    assert!(theirs.body.contains("convoy left"));
    assert!(
        theirs
            .body
            .contains("one awaits an officer&#x27;s acknowledgement"),
        "{}",
        theirs.body
    );
    assert!(!theirs.body.contains("your acknowledgement"));
    assert!(
        w.dz.inbox(&OP).unwrap().iter().all(|m| !m.acked),
        "nothing was acknowledged"
    );
    let done = b.post(&path, &[("csrf", &inbox.csrf())]);
    assert_eq!(done.status, 303);
    assert_eq!(done.location(), "/ui/inbox?done=acked");
    assert!(w
        .dz
        .inbox(&OP)
        .unwrap()
        .iter()
        .any(|m| m.id == flash && m.acked));
}

#[test]
fn pages_act_as_the_user_a_hidden_record_is_404_as_in_the_api() {
    let w = world();
    let mut b = Browser::new(&w.base);
    b.login(&w.analyst);
    let page = b.get(&format!("/ui/records/{}", w.red));
    let unknown = b.get("/ui/records/tqr_unknown");
    assert_eq!(page.status, 404);
    assert_eq!(unknown.status, 404);
    assert!(!page.body.contains("Recruiter Z"));
    let (api, _) = call(
        &w.base,
        "GET",
        &format!("/api/v1/records/{}", w.red),
        Some(&w.analyst),
        None,
    );
    assert_eq!(api, 404, "the API says the same");
    let list = b.get("/ui/records");
    assert!(!list.body.contains("Recruiter Z") && !list.body.contains(&w.red));

    let mut o = Browser::new(&w.base);
    o.login(&w.officer);
    let dossier = o.get(&format!("/ui/records/{}", w.red));
    assert_eq!(dossier.status, 200);
    assert!(dossier.body.contains("Recruiter Z"));
    assert!(
        dossier.body.contains("tlp-banner tlp-red"),
        "the TLP:RED banner"
    );
}

#[test]
fn arabic_pages_are_right_to_left_and_screening_explains_the_cross_script_hit() {
    let w = world();
    let mut b = Browser::new(&w.base);
    b.lang = Some("ar");
    b.login(&w.analyst);
    let page = b.get("/ui/screen");
    assert!(
        page.body.contains("<html lang=\"ar\" dir=\"rtl\">"),
        "{}",
        &page.body[..200]
    );
    assert!(page.body.contains("الفحص"));
    // The language menu's cookie wins over Accept-Language.
    let r = b.get("/ui/lang?to=fr&back=/ui/screen");
    assert_eq!((r.status, r.location()), (303, "/ui/screen"));
    assert!(b
        .get("/ui/screen")
        .body
        .contains("<html lang=\"fr\" dir=\"ltr\">"));
    assert_eq!(
        b.get("/ui/lang?to=ar&back=//evil.example").location(),
        "/ui/inbox"
    );

    let csrf = page.csrf();
    let boundary = "XBOUNDARYX";
    let body = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"csrf\"\r\n\r\n{csrf}\r\n--{boundary}\r\nContent-Disposition: form-data; name=\"list\"; filename=\"names.csv\"\r\nContent-Type: text/csv\r\n\r\nid,name\r\nQ1,Abdallah Belkeziz\r\nQ2,<script>x</script>\r\n--{boundary}--\r\n"
    );
    let req = b
        .client
        .post(format!("{}/ui/screen", w.base))
        .header(
            "content-type",
            format!("multipart/form-data; boundary={boundary}"),
        )
        .body(body);
    let res = b.send(req);
    assert_eq!(res.status, 200, "{}", res.body);
    assert!(
        res.body.contains("عبد الله بلقزاز"),
        "the Arabic-script entry"
    );
    assert!(res.body.contains("class=\"explanation\""));
    assert!(!res.body.contains("<script>x"), "user text is escaped");
    assert!(res.body.contains("&lt;script&gt;x"));
    let csv = b.get("/ui/screen.csv");
    assert_eq!(csv.status, 200);
    assert!(csv
        .body
        .starts_with("query_id,query_name,entry_id,score,matched_name,explanation"));
    assert!(csv.body.contains("Q1,Abdallah Belkeziz,"));
}

#[test]
fn every_main_page_renders_in_every_language() {
    let w = world();
    for lang in ["ar", "fr", "en"] {
        let mut b = Browser::new(&w.base);
        b.lang = Some(lang);
        b.login(&w.officer);
        for p in [
            "/ui/inbox",
            "/ui/records",
            "/ui/screen",
            "/ui/alerts",
            "/ui/releases",
            "/ui/channels",
            "/ui/sync",
        ] {
            let page = b.get(p);
            assert_eq!(page.status, 200, "{lang} {p}: {}", page.body);
            assert!(page.body.contains(&format!("lang=\"{lang}\"")));
        }
        // An officer may not read the audit log: the node's refusal.
        assert_eq!(b.get("/ui/audit").status, 403);
        assert_eq!(b.get("/ui/nowhere").status, 404);
    }
}

#[test]
fn an_auditor_verifies_the_log_and_an_officer_grants_a_release_from_the_pages() {
    let w = world();
    let auditor = w.dz.user_add(&OP, "aicha", Role::Auditor, &[]).unwrap();
    let mut a = Browser::new(&w.base);
    a.login(&auditor);
    let page = a.get("/ui/audit");
    assert_eq!(page.status, 200);
    assert!(page.body.contains("action=\"/ui/audit/verify\""));
    let verified = a.post("/ui/audit/verify", &[("csrf", &page.csrf())]);
    assert_eq!(verified.status, 200);
    assert!(verified.body.contains("class=\"ok\""), "the log verifies");

    // MA asks DZ (the originator) to release DZ's record into MA's own
    // channel; DZ's officer grants it on the releases page.
    let rec =
        w.dz.record_add(
            &OP,
            NewRecord {
                channel: w.ch.clone(),
                file: "terrorism".into(),
                kind: Kind::Person,
                data: json!({"names": ["Financier Y"]}),
                tlp: Some(Tlp::Amber),
                code: None,
                evaluation: None,
                expires: None,
                links: vec![],
            },
        )
        .unwrap();
    pump(&[&w.dz, &w.ma]);
    let own =
        w.ma.channel_create(
            &OP,
            "MA national",
            vec![],
            vec!["terrorism".into()],
            vec![],
            None,
        )
        .unwrap();
    let req =
        w.ma.release_request(&OP, &rec, &own, Some("needed"))
            .unwrap();
    pump(&[&w.dz, &w.ma]);
    let mut o = Browser::new(&w.base);
    o.login(&w.officer);
    let page = o.get("/ui/releases");
    assert!(
        page.body.contains(&format!("/ui/releases/{req}/grant")),
        "to decide"
    );
    let done = o.post(
        &format!("/ui/releases/{req}/grant"),
        &[("csrf", &page.csrf()), ("text", "")],
    );
    assert_eq!(
        (done.status, done.location()),
        (303, "/ui/releases?done=granted")
    );
    pump(&[&w.dz, &w.ma]);
    assert!(w
        .ma
        .releases(&OP)
        .unwrap()
        .iter()
        .any(|r| r.id == req && r.status == "granted"));
}

#[test]
fn without_a_session_a_post_is_sent_to_the_login_before_its_body_is_read() {
    let w = world();
    let b = Browser::new(&w.base);
    let big = vec![b'a'; 2 * 1024 * 1024];
    let r = b
        .client
        .post(format!("{}/ui/screen", w.base))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(big)
        .send();
    // The gate answers from the head and closes: a client still writing
    // its body may see the close instead of the answer.
    if let Ok(r) = r {
        assert_eq!(r.status().as_u16(), 303, "not 413: the body was never read");
        assert_eq!(r.headers()["location"], "/ui/login");
        assert!(r.headers().contains_key("content-security-policy"));
    }
}

#[test]
fn the_network_view_draws_only_what_the_user_may_see() {
    let w = world();
    // A terrorism-file person linked to the TLP:RED recruitment record.
    let linked =
        w.dz.record_add(
            &OP,
            NewRecord {
                channel: w.ch.clone(),
                file: "terrorism".into(),
                kind: Kind::Person,
                data: json!({"names": ["Courier X"]}),
                tlp: Some(Tlp::Amber),
                code: None,
                evaluation: None,
                expires: None,
                links: vec![tansiq_core::record::Link {
                    rel: "related_to".parse().unwrap(),
                    target: w.red.clone(),
                    from: Some("2003-01-01".into()),
                    until: None,
                    note: None,
                }],
            },
        )
        .unwrap();
    let path = format!("/ui/records/{linked}/network?hops=2");
    let mut o = Browser::new(&w.base);
    o.login(&w.officer);
    let page = o.get(&path);
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(
        page.body.contains("<svg") && page.body.contains("Courier X"),
        "{}",
        page.body
    );
    assert!(
        page.body.contains("Recruiter Z"),
        "the officer sees both ends"
    );
    let mut a = Browser::new(&w.base);
    a.login(&w.analyst);
    let page = a.get(&path);
    assert_eq!(page.status, 200);
    assert!(page.body.contains("Courier X"));
    assert!(
        !page.body.contains("Recruiter Z") && !page.body.contains(&w.red),
        "no hidden node or link"
    );
    assert_eq!(a.get(&format!("/ui/records/{}/network", w.red)).status, 404);
    assert_eq!(a.get(&format!("{path}0")).status, 400, "hops out of range");
}

#[test]
fn an_officer_declares_an_incident_whose_names_are_screened() {
    let w = world();
    let mut b = Browser::new(&w.base);
    b.login(&w.officer);
    let form = b.get("/ui/incident");
    assert_eq!(form.status, 200, "{}", form.body);
    let csrf = form.csrf();
    let bd = "XBOUNDARYX";
    let field = |k: &str, v: &str| {
        format!("--{bd}\r\nContent-Disposition: form-data; name=\"{k}\"\r\n\r\n{v}\r\n")
    };
    let body = [
        field("csrf", &csrf),
        field("title", "Casablanca bombings"),
        field("place", "Casablanca"),
        field("channel", &w.ch),
        field("file", "terrorism"),
        field("names", "Abdallah Belkeziz\nJean Dupont"),
        format!("--{bd}--\r\n"),
    ]
    .concat();
    let req = b
        .client
        .post(format!("{}/ui/incident", w.base))
        .header(
            "content-type",
            format!("multipart/form-data; boundary={bd}"),
        )
        .body(body);
    let res = b.send(req);
    assert_eq!(res.status, 200, "{}", res.body);
    assert!(res.body.contains("Incident declared"), "{}", res.body);
    assert!(
        res.body.contains("عبد الله بلقزاز"),
        "the hit on the Arabic-script entry"
    );
    pump(&[&w.dz, &w.ma]);
    assert!(
        w.ma.inbox(&OP)
            .unwrap()
            .iter()
            .any(|m| m.precedence == "flash"),
        "the FLASH reached the partner"
    );
    // An analyst is not offered the page, and the node refuses it.
    let mut a = Browser::new(&w.base);
    a.login(&w.analyst);
    assert!(!a.get("/ui/inbox").body.contains("/ui/incident"));
}
