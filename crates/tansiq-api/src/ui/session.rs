//! Sessions of the web interface: a user logs in once with their API
//! token and then holds a random session id in an HttpOnly, SameSite=Strict
//! cookie. The token stays in this process's memory, never in the
//! browser after the login form, and is checked again on every request
//! (`Node::authenticate`), so a revoked or expired token ends its
//! sessions at once. Sessions are kept in memory, keyed by a hash of the
//! id (a memory dump shows no live cookie), with an idle and an absolute
//! lifetime, and each carries its own CSRF token.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::http::HeaderMap;

/// A session unused this long ends.
pub const IDLE: Duration = Duration::from_secs(30 * 60);
/// No session lives longer than this, used or not.
pub const ABSOLUTE: Duration = Duration::from_secs(12 * 3600);
/// Most sessions held at once; the least recently used make room.
pub const MAX_SESSIONS: usize = 10_000;

pub const SESSION_COOKIE: &str = "tq_session";
/// The login form's double-submit token (no session exists yet).
pub const LOGIN_COOKIE: &str = "tq_login";
pub const LANG_COOKIE: &str = "tq_lang";

/// The last screening's results, kept for the CSV download.
#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct ScreenRow {
    pub query_id: String,
    pub query_name: String,
    pub entry_id: String,
    pub score: f64,
    pub matched_name: String,
    pub explanation: String,
}

struct Session {
    token: String,
    csrf: String,
    created: Instant,
    seen: Instant,
    screening: Option<Arc<Vec<ScreenRow>>>,
}

/// What a request learns of its session.
#[derive(Clone)]
pub struct Live {
    /// The key the session is stored under (a hash of the cookie's id).
    pub key: String,
    pub token: String,
    pub csrf: String,
}

#[derive(Default)]
pub struct Sessions {
    map: Mutex<HashMap<String, Session>>,
}

/// 32 random bytes, hex: a session id or a CSRF token.
pub fn random_token() -> String {
    hex(&tansiq_crypto::random_bytes::<32>())
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn key_of(id: &str) -> String {
    hex(&tansiq_crypto::sha256(id.as_bytes()))
}

/// Compares two secrets in time independent of where they differ.
pub fn same_secret(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

impl Sessions {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Session>> {
        self.map.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Opens a session for `token` (already authenticated); returns the
    /// id for the cookie.
    pub fn open(&self, token: String) -> String {
        let id = random_token();
        let now = Instant::now();
        let mut map = self.lock();
        map.retain(|_, s| live(s, now));
        if map.len() >= MAX_SESSIONS {
            if let Some(k) = map
                .iter()
                .min_by_key(|(_, s)| s.seen)
                .map(|(k, _)| k.clone())
            {
                map.remove(&k);
            }
        }
        map.insert(
            key_of(&id),
            Session {
                token,
                csrf: random_token(),
                created: now,
                seen: now,
                screening: None,
            },
        );
        id
    }

    /// The live session a cookie's id names, marked as used now.
    pub fn find(&self, id: &str) -> Option<Live> {
        let key = key_of(id);
        let now = Instant::now();
        let mut map = self.lock();
        let s = map.get_mut(&key)?;
        if !live(s, now) {
            map.remove(&key);
            return None;
        }
        s.seen = now;
        Some(Live {
            key,
            token: s.token.clone(),
            csrf: s.csrf.clone(),
        })
    }

    pub fn close(&self, key: &str) {
        self.lock().remove(key);
    }

    pub fn set_screening(&self, key: &str, rows: Vec<ScreenRow>) {
        if let Some(s) = self.lock().get_mut(key) {
            s.screening = Some(Arc::new(rows));
        }
    }

    pub fn screening(&self, key: &str) -> Option<Arc<Vec<ScreenRow>>> {
        self.lock().get(key).and_then(|s| s.screening.clone())
    }

    #[cfg(test)]
    fn age(&self, key: &str, by: Duration) {
        if let Some(s) = self.lock().get_mut(key) {
            s.seen -= by;
            s.created -= by;
        }
    }
}

fn live(s: &Session, now: Instant) -> bool {
    now.duration_since(s.seen) < IDLE && now.duration_since(s.created) < ABSOLUTE
}

/// The value of cookie `name` in the request's Cookie headers.
pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(axum::http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|c| {
            let (k, v) = c.trim().split_once('=')?;
            (k == name).then_some(v)
        })
}

/// Whether the browser reached us over TLS: the local API itself speaks
/// plain HTTP on loopback, so only a TLS-terminating proxy in front of it
/// (which sets X-Forwarded-Proto) makes the cookies `Secure`.
pub fn over_tls(headers: &HeaderMap) -> bool {
    headers
        .get("x-forwarded-proto")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("https"))
}

/// A Set-Cookie value for the interface's path: HttpOnly, SameSite=Strict,
/// Secure over TLS; `max_age` 0 deletes it.
pub fn set_cookie(name: &str, value: &str, max_age: Duration, tls: bool) -> String {
    format!(
        "{name}={value}; Path=/ui; Max-Age={}; HttpOnly; SameSite=Strict{}",
        max_age.as_secs(),
        if tls { "; Secure" } else { "" }
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_session_is_found_by_its_id_only_and_ends_idle_or_closed() {
        let s = Sessions::default();
        let id = s.open("tqk_secret".into());
        assert_eq!(id.len(), 64);
        let live = s.find(&id).expect("open session");
        assert_eq!(live.token, "tqk_secret");
        assert_ne!(live.key, id, "stored under a hash, not the id");
        assert!(s.find(&live.key).is_none(), "the stored key is no id");
        assert!(s.find("0".repeat(64).as_str()).is_none());
        s.age(&live.key, IDLE + Duration::from_secs(1));
        assert!(s.find(&id).is_none(), "idle too long");
        let id2 = s.open("t".into());
        let k2 = s.find(&id2).unwrap().key;
        s.close(&k2);
        assert!(s.find(&id2).is_none(), "logged out");
    }

    #[test]
    fn each_session_has_its_own_csrf_token() {
        let s = Sessions::default();
        let a = s.find(&s.open("a".into())).unwrap().csrf;
        let b = s.find(&s.open("b".into())).unwrap().csrf;
        assert_ne!(a, b);
        assert!(same_secret(&a, &a.clone()) && !same_secret(&a, &b) && !same_secret(&a, ""));
    }

    #[test]
    fn cookies_are_read_and_set_strictly() {
        let mut h = HeaderMap::new();
        h.insert("cookie", "a=1; tq_session=abc; tq_lang=ar".parse().unwrap());
        assert_eq!(cookie(&h, SESSION_COOKIE), Some("abc"));
        assert_eq!(cookie(&h, "tq_lang"), Some("ar"));
        assert_eq!(cookie(&h, "b"), None);
        let c = set_cookie(SESSION_COOKIE, "abc", IDLE, false);
        assert!(c.contains("HttpOnly") && c.contains("SameSite=Strict") && !c.contains("Secure"));
        assert!(set_cookie(SESSION_COOKIE, "abc", IDLE, true).ends_with("; Secure"));
    }
}
