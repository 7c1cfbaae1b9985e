//! The bad-input corpus of the HTTP surfaces (issue 17 §4): every line of
//! `tests/bad-input/cases` is one request to the local API, TAXII or the
//! web interface of a node with state (a channel with a partner, records
//! of both, a message, a release request, users of every role); every
//! line of `tests/bad-input/peer-cases` one message a partner posts to
//! the partner endpoint over mutual TLS. Each must be answered with its
//! status and a text naming the problem, and change nothing at all: the
//! full-state fingerprint (`tansiq_store::test_support::state`: every
//! table — records, versions, audit log and head, checkpoints, sync
//! tables, alerts, … —, `config.toml`, the node's files) taken just
//! before the case is compared with the one taken just after. The only
//! changes allowed are those a case names: `audited: ACTION` (a refusal
//! the node audits by design: exactly one new audit entry, of that
//! action, with its leaf in the audit tables) and `alarm: KIND` (a
//! refusal that raises a sync alarm by design).
//!
//! Runs on SQLite (the fingerprint reads the file); the CLI corpus
//! (`tansiq-cli/tests/bad_input.rs`) runs on both backends.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde_json::{json, Value};

use common::*;
use tansiq_core::handling::Tlp;
use tansiq_core::record::Kind;
use tansiq_core::user::Role;
use tansiq_node::records::NewRecord;
use tansiq_node::Node;
use tansiq_store::test_support::{state, Fingerprint};

fn corpus_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/bad-input")
}

/// The lines of a case file, split on ` | `.
fn lines(file: &str, min: usize, max: usize) -> Vec<Vec<String>> {
    std::fs::read_to_string(corpus_dir().join(file))
        .unwrap()
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .map(|l| {
            let f: Vec<String> = l.split(" | ").map(|s| s.trim().to_string()).collect();
            assert!(
                (min..=max).contains(&f.len()),
                "{file}: {min} to {max} fields: {l}"
            );
            f
        })
        .collect()
}

/// What a case may change besides nothing.
#[derive(Debug, Default)]
struct Allowed {
    audited: Option<String>,
    alarm: Option<String>,
}

fn allowed(field: Option<&String>) -> Allowed {
    let mut a = Allowed::default();
    for part in field.map(|s| s.split(';')).into_iter().flatten() {
        match part.trim().split_once(": ") {
            Some(("audited", action)) => a.audited = Some(action.to_string()),
            Some(("alarm", kind)) => a.alarm = Some(kind.to_string()),
            _ => panic!("expected `audited: ACTION` or `alarm: KIND`: {part}"),
        }
    }
    a
}

/// The tables an audited refusal writes: its leaf, the log's head and the
/// checkpoint signed over the new head.
const AUDIT_TABLES: &[&str] = &["audit_log", "audit_head", "checkpoints", "meta"];

/// Whether `after` differs from `before` only as `allow` says; an error
/// names what else changed.
fn check_change(before: &Fingerprint, after: &Fingerprint, allow: &Allowed) -> Result<(), String> {
    let mut changed = after.changed(before);
    if let Some(action) = &allow.audited {
        let leaves = after.new_rows(before, "audit_log");
        if leaves.len() != 1 || !leaves[0].contains(&format!("\"{action}\"")) {
            return Err(format!(
                "expected exactly one {action} audit entry, got {leaves:?}"
            ));
        }
        changed.retain(|p| !AUDIT_TABLES.iter().any(|t| *p == format!("table {t}")));
    }
    if let Some(kind) = &allow.alarm {
        let alarms = after.new_rows(before, "sync_alarm");
        if alarms.len() != 1 || !alarms[0].contains(kind.as_str()) {
            return Err(format!("expected exactly one {kind} alarm, got {alarms:?}"));
        }
        changed.retain(|p| p != "table sync_alarm");
    }
    if changed.is_empty() {
        Ok(())
    } else {
        Err(format!("changed {changed:?}"))
    }
}

/// The outcomes of a corpus: every failure (status, text or change),
/// and how many answers of each status.
#[derive(Default)]
struct Tally {
    failures: Vec<String>,
    by_status: BTreeMap<u16, usize>,
}

impl Tally {
    /// One case: `want` and `fragment` expected, `got` and `text` seen,
    /// the state before and after.
    #[allow(clippy::too_many_arguments)]
    fn case(
        &mut self,
        what: &str,
        want: &str,
        fragment: &str,
        got: u16,
        text: &str,
        before: &Fingerprint,
        after: &Fingerprint,
        allow: &Allowed,
    ) {
        *self.by_status.entry(got).or_default() += 1;
        let want: u16 = want.parse().unwrap();
        if got != want || !text.contains(fragment) {
            self.failures.push(format!(
                "{what}: expected {want} with {fragment:?}, got {got}: {}",
                text.chars().take(400).collect::<String>()
            ));
        }
        if let Err(e) = check_change(before, after, allow) {
            self.failures.push(format!("{what}: {e}"));
        }
    }

    /// Fails naming every failed case; else prints the figures.
    fn finish(self, what: &str, n: usize) {
        assert!(
            self.failures.is_empty(),
            "{} of {n} {what} failed:\n{}",
            self.failures.len(),
            self.failures.join("\n")
        );
        eprintln!(
            "{n} {what}, answered {:?}, none changed anything it should not",
            self.by_status
        );
    }
}

/// DZ, served over HTTP, with state: channel `ch` with MA (terrorism,
/// recruitment) and its own `own`; DZ's records in both files, MA's
/// record received; a FLASH from MA; MA's release request for DZ's
/// record; users of every role, an expired and a revoked token.
struct World {
    _tmp: tempfile::TempDir,
    dz: Arc<Node>,
    _ma: Arc<Node>,
    base: String,
    _stop: tokio::sync::oneshot::Sender<()>,
    vars: BTreeMap<&'static str, String>,
    tokens: BTreeMap<&'static str, String>,
}

fn person(ch: &str, file: &str, name: &str) -> NewRecord {
    NewRecord {
        channel: ch.into(),
        file: file.into(),
        kind: Kind::Person,
        data: json!({"names": [name], "birth_date": "1980-01-02"}),
        tlp: Some(Tlp::Amber),
        code: None,
        evaluation: None,
        expires: None,
        links: vec![],
    }
}

/// DZ, MA and US in `root`, each trusting the others.
fn three(root: &Path) -> [Node; 3] {
    let nodes = [
        node(root, "dz", "DZ"),
        node(root, "ma", "MA"),
        node(root, "us", "US"),
    ];
    trust(&nodes.iter().collect::<Vec<_>>());
    nodes
}

fn world() -> World {
    let tmp = tempfile::tempdir().unwrap();
    let [dz, ma, us] = three(tmp.path());
    let all = [&dz, &ma, &us];
    let files = ["terrorism", "recruitment"];
    let ch = form_channel(&dz, "DZ-MA", &[&ma], &files, &all);
    let us_ch = form_channel(&dz, "DZ-US", &[&us], &files, &all);
    let own = form_channel(&dz, "DZ national", &[], &files, &all);
    let rec = dz
        .record_add(&OP, person(&ch, "terrorism", "Ali Good"))
        .unwrap();
    let rec2 = dz
        .record_add(&OP, person(&ch, "recruitment", "Karim Hidden"))
        .unwrap();
    let ma_rec = ma
        .record_add(&OP, person(&ch, "terrorism", "Youssef Partner"))
        .unwrap();
    let msg = ma
        .send_message(&OP, &ch, Some("terrorism"), "flash", "meet at noon", true)
        .unwrap();
    pump(&all);
    let rel = ma.release_request(&OP, &rec, &ch, Some("needed")).unwrap();
    pump(&all);
    let user = |name: &str, role: Role, files: &[&str]| user(&dz, name, role, files);
    let mut tokens = BTreeMap::new();
    tokens.insert("admin", user("adel", Role::Admin, &[]));
    tokens.insert("omar", user("omar", Role::Officer, &["terrorism"]));
    tokens.insert("rachid", user("rachid", Role::Officer, &["recruitment"]));
    tokens.insert("amina", user("amina", Role::Analyst, &["terrorism"]));
    tokens.insert("aicha", user("aicha", Role::Auditor, &[]));
    let expired = user("brief", Role::Officer, &["terrorism"]);
    dz.store
        .write(|tx| {
            tx.set_user_token(
                "brief",
                &tansiq_crypto::token::hash(&expired),
                "2020-01-01T00:00:00Z",
            )
        })
        .unwrap();
    tokens.insert("expired", expired);
    let revoked = user("gone", Role::Officer, &["terrorism"]);
    dz.user_token_revoke(&OP, "gone").unwrap();
    tokens.insert("revoked", revoked);
    // well-formed, never issued
    tokens.insert("unknown", tansiq_crypto::token::generate());
    tokens.insert("garbage", "not-a-token".into());
    let dz = Arc::new(dz);
    let (base, stop) = serve_api(dz.clone());
    let mut vars = BTreeMap::new();
    let coll = {
        let (s, v) = call(
            &base,
            "GET",
            "/taxii2/api/collections/",
            Some(&tokens["omar"]),
            None,
        );
        assert_eq!(s, 200, "{v}");
        v["collections"][0]["id"].as_str().unwrap().to_string()
    };
    vars.insert("{ch}", ch);
    vars.insert("{own}", own);
    vars.insert("{us_ch}", us_ch);
    vars.insert("{rec}", rec);
    vars.insert("{rec2}", rec2);
    vars.insert("{ma_rec}", ma_rec);
    vars.insert("{msg}", msg);
    vars.insert("{rel}", rel);
    vars.insert("{ma}", ma.id().to_string());
    vars.insert("{dz}", dz.id().to_string());
    vars.insert("{us}", us.id().to_string());
    vars.insert("{coll}", coll);
    World {
        _tmp: tmp,
        dz,
        _ma: Arc::new(ma),
        base,
        _stop: stop,
        vars,
        tokens,
    }
}

impl World {
    fn fill(&self, s: &str) -> String {
        self.vars
            .iter()
            .fold(s.to_string(), |s, (k, v)| s.replace(k, v))
    }

    fn fingerprint(&self) -> Fingerprint {
        state(&self.dz.dir, None)
    }
}

/// A logged-in session of the web interface: its cookie and CSRF token.
struct Session {
    cookie: String,
    csrf: String,
}

fn csrf_of(html: &str) -> String {
    let i = html.find("name=\"csrf\" value=\"").expect("a csrf field") + 19;
    html[i..i + 64].to_string()
}

fn cookies_of(r: &reqwest::blocking::Response) -> Vec<String> {
    r.headers()
        .get_all("set-cookie")
        .iter()
        .map(|c| {
            let c = c.to_str().unwrap();
            c.split(';').next().unwrap().to_string()
        })
        .collect()
}

fn login(base: &str, token: &str) -> Session {
    let client = reqwest::blocking::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let form = client.get(format!("{base}/ui/login")).send().unwrap();
    let pre = cookies_of(&form).join("; ");
    let csrf = csrf_of(&form.text().unwrap());
    let r = client
        .post(format!("{base}/ui/login"))
        .header("cookie", pre)
        .form(&[("token", token), ("csrf", &csrf)])
        .send()
        .unwrap();
    assert_eq!(r.status().as_u16(), 303, "login");
    let cookie = cookies_of(&r).join("; ");
    let page = client
        .get(format!("{base}/ui/inbox"))
        .header("cookie", &cookie)
        .send()
        .unwrap();
    Session {
        cookie,
        csrf: csrf_of(&page.text().unwrap()),
    }
}

const BOUNDARY: &str = "tansiq-bad-input-boundary";

/// `k=v&k=v` as a multipart/form-data body (the web interface's forms
/// that take an upload).
fn multipart(fields: &str) -> Vec<u8> {
    let mut b = String::new();
    for kv in fields.split('&').filter(|kv| !kv.is_empty()) {
        let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
        b.push_str(&format!(
            "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"{k}\"\r\n\r\n{v}\r\n"
        ));
    }
    b.push_str(&format!("--{BOUNDARY}--\r\n"));
    b.into_bytes()
}

/// A body of `n` bytes of JSON: one long string.
fn oversize(n: usize) -> Vec<u8> {
    let mut b = b"{\"x\": \"".to_vec();
    b.resize(n - 2, b'a');
    b.extend_from_slice(b"\"}");
    b
}

#[test]
fn every_bad_api_request_is_refused_clearly_and_changes_nothing() {
    let w = world();
    let cases = lines("cases", 5, 6);
    assert!(cases.len() >= 120, "the API corpus shrank: {}", cases.len());
    let client = reqwest::blocking::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    // Sessions opened before the first case: a login is itself audited.
    let sessions: BTreeMap<String, Session> = cases
        .iter()
        .filter_map(|c| c[0].split("; ").next().unwrap().strip_prefix("ui:"))
        .map(|u| (u.to_string(), login(&w.base, &w.tokens[u])))
        .collect();
    let mut tally = Tally::default();
    for c in &cases {
        let (who, route, status, body) = (&c[0], &c[1], &c[2], &c[4]);
        let fragment = &w.fill(&c[3]);
        let allow = allowed(c.get(5));
        let (method, path) = route.split_once(' ').expect("METHOD PATH");
        let path = w.fill(path);
        let mut parts = who.split("; ").map(str::trim);
        let user = parts.next().unwrap();
        let mut req = match method {
            "GET" => client.get(format!("{}{path}", w.base)),
            "POST" => client.post(format!("{}{path}", w.base)),
            "PUT" => client.put(format!("{}{path}", w.base)),
            "DELETE" => client.delete(format!("{}{path}", w.base)),
            "PATCH" => client.patch(format!("{}{path}", w.base)),
            m => panic!("method {m}"),
        };
        let mut csrf = String::new();
        if let Some(name) = user.strip_prefix("ui:") {
            let s = &sessions[name];
            req = req.header("cookie", &s.cookie);
            csrf = s.csrf.clone();
        } else if let Some(rest) = user.strip_prefix("basic:") {
            // basic:NAME:TOKEN-OF
            let (name, of) = rest.split_once(':').unwrap_or((rest, rest));
            req = req.basic_auth(name, Some(&w.tokens[of]));
        } else if user != "none" {
            req = req.bearer_auth(&w.tokens[user]);
        }
        let mut typed = false;
        for h in parts {
            let (k, v) = h.split_once(": ").expect("Header: value");
            typed |= k.eq_ignore_ascii_case("content-type");
            req = req.header(k, v);
        }
        let bytes: Option<Vec<u8>> = match body.as_str() {
            "-" => None,
            b if b.starts_with("@oversize") => Some(oversize(b[9..].parse().unwrap())),
            b if b.starts_with('@') => {
                let text = std::fs::read(corpus_dir().join(&b[1..])).unwrap();
                Some(match String::from_utf8(text) {
                    Ok(t) => w.fill(&t).replace("{csrf}", &csrf).into_bytes(),
                    Err(e) => e.into_bytes(),
                })
            }
            b => Some(w.fill(b).replace("{csrf}", &csrf).into_bytes()),
        };
        let bytes = match bytes {
            Some(b) if b.starts_with(b"multipart:") => {
                typed = true;
                req = req.header(
                    "content-type",
                    format!("multipart/form-data; boundary={BOUNDARY}"),
                );
                Some(multipart(std::str::from_utf8(&b[10..]).unwrap()))
            }
            b => b,
        };
        if let Some(b) = bytes {
            if !typed {
                let ct = if user.starts_with("ui:") {
                    "application/x-www-form-urlencoded"
                } else {
                    "application/json"
                };
                req = req.header("content-type", ct);
            }
            req = req.body(b);
        }
        let before = w.fingerprint();
        let (got, text) = match req.send() {
            Ok(r) => (r.status().as_u16(), r.text().unwrap_or_default()),
            Err(e) => (0, format!("no answer: {e}")),
        };
        let after = w.fingerprint();
        let what = format!("{who} {method} {path}");
        tally.case(&what, status, fragment, got, &text, &before, &after, &allow);
    }
    tally.finish("bad requests", cases.len());
    assert!(w.dz.audit_verify(&OP).unwrap().ok);
}

/// What the node logs while the peer corpus runs (the refusals of the
/// partner path are written to the log, not answered in detail).
#[derive(Clone, Default)]
struct LogBuf(Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for LogBuf {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl LogBuf {
    fn len(&self) -> usize {
        self.0.lock().unwrap().len()
    }
    fn since(&self, at: usize) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()[at..]).into_owned()
    }
}

/// The envelope at `items[i]` of a batch (JSON) signed anew by `who`
/// after its header was edited: its id recomputed from the header and
/// body, so only what the edit made wrong is left to refuse.
fn resign(msg: &mut Value, i: usize, who: &tansiq_crypto::Identity) {
    let env = &mut msg["items"][i]["envelope"];
    let header = tansiq_crypto::canonical_json(&env["header"]).unwrap();
    let body = tansiq_crypto::b64_decode(env["body"].as_str().unwrap()).unwrap();
    let id = tansiq_sync::envelope_id(&header, &tansiq_crypto::sha256(&body));
    let sig = who.sign(tansiq_sync::ENVELOPE_SIG_CONTEXT, &id.0);
    env["sig"] = json!(tansiq_crypto::b64(sig));
}

/// `a.b.0.c` in `v`, created as needed.
fn at<'a>(v: &'a mut Value, path: &str) -> &'a mut Value {
    path.split('.').fold(v, |v, k| match k.parse::<usize>() {
        Ok(i) => &mut v[i],
        Err(_) => &mut v[k],
    })
}

/// The bytes of a peer case: `@FILE` (placeholders filled), or `batch`
/// (MA's genuine next batch to DZ) with `;`-separated edits: `PATH=JSON`,
/// `PATH-` (remove), `resign` / `resign:us` (sign envelope 0 again with
/// MA's or US's key), `items*N` (the item N times), `truncate:N` (the
/// last N bytes cut), `pad:N` (N spaces of padding).
fn peer_bytes(
    spec: &str,
    genuine: &Value,
    fill: &dyn Fn(&str) -> String,
    keys: &BTreeMap<&str, &tansiq_crypto::Identity>,
) -> Vec<u8> {
    if let Some(file) = spec.strip_prefix('@') {
        let raw = std::fs::read(corpus_dir().join(file)).unwrap();
        return match String::from_utf8(raw) {
            Ok(t) => fill(&t).into_bytes(),
            Err(e) => e.into_bytes(),
        };
    }
    let (base, edits) = spec.split_once(" with ").unwrap_or((spec, ""));
    assert_eq!(base, "batch", "a peer input is @FILE or batch: {spec}");
    let mut msg = genuine.clone();
    let mut tail: Vec<(&str, usize)> = Vec::new();
    for e in edits.split(';').map(str::trim).filter(|e| !e.is_empty()) {
        if let Some(who) = e.strip_prefix("resign") {
            let who = who.strip_prefix(':').unwrap_or("ma");
            resign(&mut msg, 0, keys[who]);
        } else if let Some(n) = e.strip_prefix("items*") {
            let item = msg["items"][0].clone();
            msg["items"] = Value::Array(vec![item; n.parse().unwrap()]);
        } else if let Some(n) = e.strip_prefix("truncate:") {
            tail.push(("truncate", n.parse().unwrap()));
        } else if let Some(n) = e.strip_prefix("pad:") {
            tail.push(("pad", n.parse().unwrap()));
        } else if let Some((path, v)) = e.split_once('=') {
            *at(&mut msg, path) =
                serde_json::from_str(&fill(v)).unwrap_or_else(|err| panic!("{v}: {err}"));
        } else if let Some(path) = e.strip_suffix('-') {
            let (parent, key) = path.rsplit_once('.').unwrap_or(("", path));
            let p = if parent.is_empty() {
                &mut msg
            } else {
                at(&mut msg, parent)
            };
            p.as_object_mut().unwrap().remove(key);
        } else {
            panic!("unknown edit {e:?} in {spec}");
        }
    }
    let mut bytes = serde_json::to_vec(&msg).unwrap();
    for (op, n) in tail {
        match op {
            "truncate" => bytes.truncate(bytes.len() - n),
            _ => bytes.extend(std::iter::repeat_n(b' ', n)),
        }
    }
    bytes
}

/// The peer corpus: DZ serves its partner endpoint over mutual TLS; MA,
/// a member of their channel, posts each case as itself (its pinned TLS
/// key names it); US is a known peer outside the channel, whose key signs
/// some forgeries.
#[test]
fn every_bad_peer_message_is_refused_and_changes_nothing() {
    use tansiq_net::transport::{PeerClient, PeerSet, TlsIdentity};
    let log = LogBuf::default();
    let sink = log.clone();
    tracing::subscriber::set_global_default(
        tracing_subscriber::fmt()
            .with_writer(move || sink.clone())
            .with_max_level(tracing::Level::INFO)
            .with_ansi(false)
            .finish(),
    )
    .unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let [dz, ma, us] = three(tmp.path());
    let all = [&dz, &ma, &us];
    let ch = form_channel(&dz, "DZ-MA", &[&ma], &["terrorism"], &all);
    let other = form_channel(&us, "US only", &[], &["terrorism"], &all);
    dz.record_add(&OP, person(&ch, "terrorism", "Ali Good"))
        .unwrap();
    ma.record_add(&OP, person(&ch, "terrorism", "Youssef Partner"))
        .unwrap();
    pump(&all);
    // MA's next record, held back: the genuine batch every `batch` case
    // edits (never delivered itself).
    ma.record_add(&OP, person(&ch, "terrorism", "Held Back"))
        .unwrap();
    let genuine = ma
        .federation
        .take_outgoing()
        .into_iter()
        .find_map(|t| match t.message {
            m @ tansiq_sync::Message::Batch { .. } if t.to.as_str() == dz.id() => Some(m),
            _ => None,
        })
        .expect("MA's batch to DZ");
    let genuine: Value = serde_json::from_slice(&genuine.encode()).unwrap();
    let mut vars: BTreeMap<&str, String> = BTreeMap::new();
    vars.insert("{ch}", ch.clone());
    vars.insert("{other}", other);
    vars.insert("{dz}", dz.id().to_string());
    vars.insert("{ma}", ma.id().to_string());
    vars.insert("{us}", us.id().to_string());
    vars.insert("{ma_card}", serde_json::to_string(&ma.card()).unwrap());
    vars.insert("{us_card}", serde_json::to_string(&us.card()).unwrap());
    vars.insert(
        "{seq}",
        genuine["items"][0]["envelope"]["header"]["seq"].to_string(),
    );
    // A valid group element (a public key is one): an evaluation request
    // well formed in every way.
    let element = tansiq_crypto::oprf::OprfKey::derive(&[7; 32], b"bad-input")
        .unwrap()
        .public_key();
    vars.insert("{element}", tansiq_crypto::b64(element));
    let fill = |s: &str| vars.iter().fold(s.to_string(), |s, (k, v)| s.replace(k, v));
    let mut keys: BTreeMap<&str, &tansiq_crypto::Identity> = BTreeMap::new();
    keys.insert("ma", &ma.identity);
    keys.insert("us", &us.identity);

    let dz = Arc::new(dz);
    let _stop = serve_partner(dz.clone());
    let endpoint = dz.config.listen.clone();
    let dz_key = dz.identity.signing_public();
    let ma_peers = PeerSet::new();
    tansiq_node::peering::refresh_peers(&ma, &ma_peers).unwrap();
    let me = TlsIdentity::from_identity_as(&ma.identity, ma.id()).unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let client = rt.block_on(async { PeerClient::new(&me, Arc::new(ma_peers)).unwrap() });

    let cases = lines("peer-cases", 4, 5);
    assert!(cases.len() >= 40, "the peer corpus shrank: {}", cases.len());
    let mut tally = Tally::default();
    for c in &cases {
        let (route, input, status) = (&c[0], &c[1], &c[2]);
        let fragment = &fill(&c[3]);
        let allow = allowed(c.get(4));
        let path = match route.as_str() {
            "sync" => format!(
                "{}?{}",
                tansiq_node::peering::SYNC_PATH,
                tansiq_node::peering::REPLY_QUERY
            ),
            "card" => tansiq_node::peering::CARD_PATH.to_string(),
            "card-fetch" => tansiq_node::peering::CARD_FETCH_PATH.to_string(),
            "hit-list" => tansiq_node::hits::HIT_LIST_PATH.to_string(),
            "hit-evaluate" => tansiq_node::hits::HIT_EVALUATE_PATH.to_string(),
            r => panic!("route {r}"),
        };
        let body = peer_bytes(input, &genuine, &fill, &keys);
        let before = state(&dz.dir, None);
        let mark = log.len();
        let answer =
            rt.block_on(client.post_with_type(&endpoint, &dz_key, &path, "application/json", body));
        let after = state(&dz.dir, None);
        let (got, text) = match answer {
            Ok((s, b)) => (s, String::from_utf8_lossy(&b).into_owned()),
            Err(e) => (0, format!("no answer: {e}")),
        };
        let seen = format!("{text}\n{}", log.since(mark));
        let what = format!("{route} {input}");
        tally.case(&what, status, fragment, got, &seen, &before, &after, &allow);
    }
    tally.finish("bad peer messages", cases.len());
    assert!(dz.audit_verify(&OP).unwrap().ok);
}
