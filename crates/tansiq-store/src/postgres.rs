//! The PostgreSQL backend: a small pool of synchronous `postgres`
//! connections speaking the same portable SQL as SQLite.
//!
//! - `?` placeholders become `$1, $2, …` ([`rewrite_placeholders`]);
//!   prepared statements are cached per connection.
//! - Write transactions are serialised across every process using the
//!   database: `begin(true)` takes a transaction-scoped advisory lock
//!   (one per schema), so a write transaction sees every earlier commit
//!   and no other writer runs beside it — the semantics of SQLite's
//!   `BEGIN IMMEDIATE`, which the layers above are written for (read,
//!   decide, write; one audit tree). The audit head row is also locked
//!   `FOR UPDATE` by the audit code itself.
//! - Read transactions are `REPEATABLE READ READ ONLY`: one consistent
//!   snapshot, no lock, and a write inside one fails (as on SQLite).
//! - Connection failures are retried when a transaction begins, never in
//!   the middle of one: a transaction that lost its connection fails and
//!   nothing of it is committed (PostgreSQL rolls it back), except when
//!   the connection is lost during COMMIT itself, whose outcome is then
//!   unknown and said so.
//!
//! Plain TCP (or a Unix socket) only: `sslmode=require` is refused with a
//! clear message. Use it on loopback, a Unix socket or a private link.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::path::Path;
use std::str::FromStr;
use std::sync::{Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use bytes::BytesMut;
use postgres::error::SqlState;
use postgres::types::{to_sql_checked, IsNull, ToSql, Type};
use postgres::{NoTls, Statement};

use crate::sql::{Backend, Conn, Dialect, Row, Value};
use crate::StoreError;

/// Advisory lock class (`'tnsw'`) of the write lock; the second key is a
/// hash of the schema name.
const WRITE_LOCK_CLASS: i32 = 0x746e_7377;
/// Advisory lock class (`'tnsc'`) taken while creating a schema.
const SCHEMA_LOCK_CLASS: i32 = 0x746e_7363;
/// Prepared statements kept per connection before the cache is reset
/// (queries with scope filters come in a few dozen shapes).
const STATEMENT_CACHE: usize = 512;

/// Pool and session settings. Each can be given in the URL's query string
/// (`postgres://…/db?pool_size=16&statement_timeout=10s`); the other
/// query parameters are PostgreSQL's own (`sslmode`, `connect_timeout`,
/// `application_name`, `options`, …).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PgOptions {
    /// Most connections this handle keeps open (`pool_size`, default 8).
    /// Each transaction holds one for its whole life.
    pub pool_size: usize,
    /// `statement_timeout` of every session (`statement_timeout`, in
    /// milliseconds or with a unit `ms`, `s`, `min`; default 30 s; 0 turns
    /// it off). Also bounds the wait for the write lock.
    pub statement_timeout: Duration,
    /// How long `begin` waits for a free pooled connection before
    /// answering busy (`acquire_timeout`, default 30 s).
    pub acquire_timeout: Duration,
    /// How many times `begin` retries a connection that failed to open or
    /// was found broken (`connect_retries`, default 5, with backoff from
    /// 100 ms doubling to 2 s: rides out a server restart of a few
    /// seconds).
    pub connect_retries: u32,
    /// The schema holding the store (`schema`, default: the server's
    /// `search_path`, normally `public`). Created with `create`.
    pub schema: Option<String>,
}

impl Default for PgOptions {
    fn default() -> PgOptions {
        PgOptions {
            pool_size: 8,
            statement_timeout: Duration::from_secs(30),
            acquire_timeout: Duration::from_secs(30),
            connect_retries: 5,
            schema: None,
        }
    }
}

/// A parsed store URL.
struct Target {
    config: tokio_postgres::Config,
    listen: postgres::Config,
    options: PgOptions,
    /// The URL without its password, for messages.
    shown: String,
}

fn bad_url(shown: &str, why: impl std::fmt::Display) -> StoreError {
    StoreError::Db(format!(
        "invalid PostgreSQL URL {shown}: {why} (expected postgres://user:password@host:port/database[?sslmode=disable&pool_size=N&statement_timeout=30s&schema=NAME])"
    ))
}

/// The URL with the password replaced by `***`.
pub fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return "(not a URL)".into();
    };
    let (authority_end, _) = rest
        .char_indices()
        .find(|(_, c)| *c == '/' || *c == '?')
        .unwrap_or((rest.len(), ' '));
    let authority = &rest[..authority_end];
    let tail = &rest[authority_end..];
    let authority = match authority.rsplit_once('@') {
        Some((userinfo, host)) => match userinfo.split_once(':') {
            Some((user, _)) => format!("{user}:***@{host}"),
            None => format!("{userinfo}@{host}"),
        },
        None => authority.to_string(),
    };
    // A password can also come as a query parameter.
    let tail = match tail.split_once('?') {
        Some((path, query)) => {
            let q: Vec<String> = query
                .split('&')
                .map(|kv| match kv.split_once('=') {
                    Some(("password", _)) => "password=***".to_string(),
                    _ => kv.to_string(),
                })
                .collect();
            format!("{path}?{}", q.join("&"))
        }
        None => tail.to_string(),
    };
    format!("{scheme}://{authority}{tail}")
}

fn parse_duration(key: &str, v: &str) -> Result<Duration, String> {
    let v = v.trim();
    let split = v.find(|c: char| !c.is_ascii_digit()).unwrap_or(v.len());
    let (num, unit) = v.split_at(split);
    let n: u64 = num
        .parse()
        .map_err(|_| format!("{key}={v:?} is not a duration (e.g. 30s, 500ms)"))?;
    match unit {
        "" | "ms" => Ok(Duration::from_millis(n)),
        "s" => Ok(Duration::from_secs(n)),
        "min" => Ok(Duration::from_secs(n * 60)),
        _ => Err(format!("{key}={v:?}: use ms, s or min")),
    }
}

fn valid_schema_name(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_lowercase() || c == '_')
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        && s.len() <= 63
}

fn parse_target(url: &str) -> Result<Target, StoreError> {
    let shown = redact_url(url);
    if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
        return Err(bad_url(&shown, "it must start with postgres://"));
    }
    let mut options = PgOptions::default();
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (url, None),
    };
    let mut passed = Vec::new();
    for kv in query
        .into_iter()
        .flat_map(|q| q.split('&'))
        .filter(|s| !s.is_empty())
    {
        let (k, v) = kv
            .split_once('=')
            .ok_or_else(|| bad_url(&shown, format!("parameter {kv:?} has no value")))?;
        match k {
            "pool_size" => {
                options.pool_size = v
                    .parse()
                    .ok()
                    .filter(|n| (1..=1000).contains(n))
                    .ok_or_else(|| bad_url(&shown, "pool_size must be 1 to 1000"))?
            }
            "statement_timeout" => {
                options.statement_timeout =
                    parse_duration(k, v).map_err(|e| bad_url(&shown, e))?
            }
            "acquire_timeout" => {
                options.acquire_timeout = parse_duration(k, v).map_err(|e| bad_url(&shown, e))?
            }
            "connect_retries" => {
                options.connect_retries = v
                    .parse()
                    .ok()
                    .filter(|n| *n <= 100)
                    .ok_or_else(|| bad_url(&shown, "connect_retries must be 0 to 100"))?
            }
            "schema" => {
                if !valid_schema_name(v) {
                    return Err(bad_url(
                        &shown,
                        format!("schema {v:?}: use lower-case letters, digits and _ (at most 63)"),
                    ));
                }
                options.schema = Some(v.to_string())
            }
            "sslmode" if !matches!(v, "disable" | "prefer" | "allow") => {
                return Err(StoreError::Db(format!(
                    "{shown}: sslmode={v} is not available: this build connects to PostgreSQL over plain TCP or a Unix socket only; use sslmode=disable on loopback, a Unix socket or a private link"
                )))
            }
            _ => passed.push(kv),
        }
    }
    let driver_url = if passed.is_empty() {
        base.to_string()
    } else {
        format!("{base}?{}", passed.join("&"))
    };
    let mut config =
        tokio_postgres::Config::from_str(&driver_url).map_err(|e| bad_url(&shown, e))?;
    if config.get_user().is_none() {
        return Err(bad_url(&shown, "it names no user"));
    }
    if config.get_hosts().is_empty() {
        config.host("localhost");
    }
    if config.get_connect_timeout().is_none() {
        config.connect_timeout(Duration::from_secs(10));
    }
    if config.get_application_name().is_none() {
        config.application_name("tansiq");
    }
    // The LISTEN session uses the synchronous driver over the same
    // settings. Notices (VACUUM's, for one) are not errors; the store
    // has no log.
    let mut listen = postgres::Config::from(config.clone());
    listen.notice_callback(|_| {});
    Ok(Target {
        config,
        listen,
        options,
        shown,
    })
}

/// Why a connection could not be used.
struct ConnectError {
    retryable: bool,
    error: StoreError,
}

/// One open session with its prepared statements and the statements
/// queued to be sent with the next round trip.
struct PgClient {
    client: Session,
    statements: HashMap<String, Statement>,
}

/// A tokio-postgres session driven by a runtime of its own (current
/// thread: the connection makes progress while a call blocks on it), so
/// several statements can be sent before the first answer arrives
/// ([`Session::pipeline`]); the synchronous `postgres` crate sends one
/// statement per round trip.
struct Session {
    rt: tokio::runtime::Runtime,
    client: tokio_postgres::Client,
}

impl Session {
    fn connect(config: &tokio_postgres::Config) -> Result<Session, postgres::Error> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a current-thread runtime builds");
        let (client, connection) = rt.block_on(config.connect(NoTls))?;
        rt.spawn(async move {
            // Ends when the session closes; errors reach the caller
            // through the client (a closed session).
            let _ = connection.await;
        });
        Ok(Session { rt, client })
    }

    fn batch_execute(&mut self, sql: &str) -> Result<(), postgres::Error> {
        self.rt.block_on(self.client.batch_execute(sql))
    }

    fn prepare(&mut self, sql: &str) -> Result<Statement, postgres::Error> {
        self.rt.block_on(self.client.prepare(sql))
    }

    fn execute(
        &mut self,
        st: &Statement,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<u64, postgres::Error> {
        self.rt.block_on(self.client.execute(st, params))
    }

    fn query(
        &mut self,
        st: &Statement,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<Vec<postgres::Row>, postgres::Error> {
        self.rt.block_on(self.client.query(st, params))
    }

    fn is_closed(&self) -> bool {
        self.client.is_closed()
    }

    /// Sends every statement of `items` (and then `then`, a simple query
    /// such as `COMMIT`, when given) before reading any answer: one round
    /// trip for all. Returns the first error in order; the server aborts
    /// the transaction at a failed statement, so the later ones fail too
    /// and change nothing.
    fn pipeline(
        &mut self,
        items: &[(Statement, Vec<Value>)],
        then: Option<&str>,
    ) -> Result<(), (usize, postgres::Error)> {
        let bound: Vec<Vec<Param>> = items
            .iter()
            .map(|(_, ps)| ps.iter().map(Param).collect())
            .collect();
        let refs: Vec<Vec<&(dyn ToSql + Sync)>> = bound
            .iter()
            .map(|ps| ps.iter().map(|p| p as &(dyn ToSql + Sync)).collect())
            .collect();
        let client = &self.client;
        let mut futs: Vec<Pending<'_, Result<(), postgres::Error>>> = items
            .iter()
            .zip(&refs)
            .map(|((st, _), ps)| {
                Box::pin(async move { client.execute(st, ps).await.map(|_| ()) }) as Pending<'_, _>
            })
            .collect();
        if let Some(q) = then {
            futs.push(Box::pin(client.batch_execute(q)));
        }
        let results = self.rt.block_on(join_in_order(futs));
        for (i, r) in results.into_iter().enumerate() {
            r.map_err(|e| (i, e))?;
        }
        Ok(())
    }
}

/// A request on its way.
type Pending<'a, T> = std::pin::Pin<Box<dyn std::future::Future<Output = T> + 'a>>;

/// Polls every future until all are ready, each first poll in order (so
/// each request is queued on the connection before any answer is
/// awaited), and returns their outputs in order.
async fn join_in_order<T>(mut futs: Vec<Pending<'_, T>>) -> Vec<T> {
    let mut out: Vec<Option<T>> = futs.iter().map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut pending = false;
        for (f, o) in futs.iter_mut().zip(out.iter_mut()) {
            if o.is_none() {
                match f.as_mut().poll(cx) {
                    std::task::Poll::Ready(v) => *o = Some(v),
                    std::task::Poll::Pending => pending = true,
                }
            }
        }
        if pending {
            std::task::Poll::Pending
        } else {
            std::task::Poll::Ready(())
        }
    })
    .await;
    out.into_iter()
        .map(|o| o.expect("every future is ready"))
        .collect()
}

struct PoolState {
    idle: Vec<PgClient>,
    /// Connections open (idle or lent to a transaction).
    open: usize,
}

pub struct Postgres {
    config: tokio_postgres::Config,
    listen: postgres::Config,
    options: PgOptions,
    shown: String,
    session_setup: String,
    state: Mutex<PoolState>,
    freed: Condvar,
}

fn describe(e: &postgres::Error) -> String {
    if let Some(db) = e.as_db_error() {
        let mut s = db.message().to_string();
        if let Some(d) = db.detail() {
            let _ = write!(s, " ({d})");
        }
        return s;
    }
    let mut s = e.to_string();
    let mut src = std::error::Error::source(e);
    while let Some(c) = src {
        let _ = write!(s, ": {c}");
        src = c.source();
    }
    s
}

fn is_connection_error(e: &postgres::Error) -> bool {
    if e.is_closed() {
        return true;
    }
    if let Some(code) = e.code() {
        return code.code().starts_with("08")
            || [
                SqlState::ADMIN_SHUTDOWN,
                SqlState::CRASH_SHUTDOWN,
                SqlState::CANNOT_CONNECT_NOW,
                SqlState::TOO_MANY_CONNECTIONS,
            ]
            .contains(code);
    }
    let mut src = std::error::Error::source(e);
    while let Some(c) = src {
        if c.is::<std::io::Error>() {
            return true;
        }
        src = c.source();
    }
    e.to_string().starts_with("timeout")
}

/// Maps an error of a statement inside a transaction.
fn stmt_err(e: postgres::Error) -> StoreError {
    if let Some(code) = e.code() {
        if code.code().starts_with("23") {
            return StoreError::Conflict(describe(&e));
        }
        if [
            SqlState::T_R_SERIALIZATION_FAILURE,
            SqlState::T_R_DEADLOCK_DETECTED,
            SqlState::LOCK_NOT_AVAILABLE,
        ]
        .contains(code)
        {
            return StoreError::Busy;
        }
        if *code == SqlState::QUERY_CANCELED {
            return StoreError::Db(format!(
                "PostgreSQL cancelled a statement (statement_timeout): {}",
                describe(&e)
            ));
        }
    }
    if is_connection_error(&e) {
        return StoreError::Db(format!(
            "lost the connection to PostgreSQL during a transaction; nothing of it was committed: {}",
            describe(&e)
        ));
    }
    StoreError::Db(format!("PostgreSQL: {}", describe(&e)))
}

impl Postgres {
    /// Parses `url`, opens one connection to check that the server is
    /// there and accepts the login, and (with `create`) creates the
    /// schema named in the URL if it is missing. Does not migrate: see
    /// [`crate::Store::open_postgres`].
    pub fn connect(url: &str, create: bool) -> Result<Postgres, StoreError> {
        let t = parse_target(url)?;
        let mut session_setup = String::new();
        let ms = t.options.statement_timeout.as_millis();
        let _ = write!(session_setup, "SET statement_timeout = {ms}; ");
        if let Some(s) = &t.options.schema {
            // Validated: lower-case letters, digits and _ only.
            let _ = write!(session_setup, "SET search_path TO \"{s}\"; ");
        }
        let pg = Postgres {
            config: t.config,
            listen: t.listen,
            options: t.options,
            shown: t.shown,
            session_setup,
            state: Mutex::new(PoolState {
                idle: Vec::new(),
                open: 0,
            }),
            freed: Condvar::new(),
        };
        let mut c = pg.acquire_retrying()?;
        if create {
            if let Some(s) = pg.options.schema.clone() {
                let sql = format!(
                    "BEGIN; SELECT pg_advisory_xact_lock({SCHEMA_LOCK_CLASS}, hashtext('{s}')); \
                     CREATE SCHEMA IF NOT EXISTS \"{s}\"; COMMIT"
                );
                if let Err(e) = c.client.batch_execute(&sql) {
                    pg.discard();
                    return Err(StoreError::Db(format!(
                        "cannot create schema {s} at {}: {}",
                        pg.shown,
                        describe(&e)
                    )));
                }
            }
        }
        pg.release(c);
        Ok(pg)
    }

    pub fn options(&self) -> &PgOptions {
        &self.options
    }

    fn lock(&self) -> MutexGuard<'_, PoolState> {
        // The pool's state is a list and a count, consistent at every
        // unlock: a panic elsewhere leaves it usable.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn open_one(&self) -> Result<PgClient, ConnectError> {
        let mut client = Session::connect(&self.config).map_err(|e| {
            let retryable = is_connection_error(&e);
            let why = match e.code() {
                Some(c)
                    if *c == SqlState::INVALID_PASSWORD
                        || *c == SqlState::INVALID_AUTHORIZATION_SPECIFICATION =>
                {
                    format!("PostgreSQL refused the login: {}", describe(&e))
                }
                Some(c) if *c == SqlState::INVALID_CATALOG_NAME => {
                    format!("no such database: {}", describe(&e))
                }
                _ if retryable => format!("cannot reach PostgreSQL: {}", describe(&e)),
                _ => format!("cannot connect to PostgreSQL: {}", describe(&e)),
            };
            ConnectError {
                retryable,
                error: StoreError::Db(format!("{} ({})", why, self.shown)),
            }
        })?;
        client
            .batch_execute(&self.session_setup)
            .map_err(|e| ConnectError {
                retryable: is_connection_error(&e),
                error: StoreError::Db(format!(
                    "setting up a PostgreSQL session at {}: {}",
                    self.shown,
                    describe(&e)
                )),
            })?;
        Ok(PgClient {
            client,
            statements: HashMap::new(),
        })
    }

    /// A pooled connection, or a new one while fewer than `pool_size` are
    /// open; waits up to `acquire_timeout` for one to be freed.
    fn acquire(&self) -> Result<PgClient, ConnectError> {
        let deadline = Instant::now() + self.options.acquire_timeout;
        let mut st = self.lock();
        loop {
            while let Some(c) = st.idle.pop() {
                if !c.client.is_closed() {
                    return Ok(c);
                }
                st.open -= 1;
            }
            if st.open < self.options.pool_size {
                st.open += 1;
                drop(st);
                return self.open_one().inspect_err(|_| self.discard());
            }
            let now = Instant::now();
            if now >= deadline {
                return Err(ConnectError {
                    retryable: false,
                    error: StoreError::Busy,
                });
            }
            st = self
                .freed
                .wait_timeout(st, deadline - now)
                .unwrap_or_else(|p| p.into_inner())
                .0;
        }
    }

    /// `acquire`, retrying connections that fail to open.
    fn acquire_retrying(&self) -> Result<PgClient, StoreError> {
        let mut attempt = 0;
        loop {
            match self.acquire() {
                Ok(c) => return Ok(c),
                Err(e) if e.retryable && attempt < self.options.connect_retries => {
                    self.backoff(attempt);
                    attempt += 1;
                }
                Err(e) => return Err(e.error),
            }
        }
    }

    fn backoff(&self, attempt: u32) {
        let ms = 100u64.saturating_mul(1 << attempt.min(5)).min(2000);
        std::thread::sleep(Duration::from_millis(ms));
    }

    /// Gives a healthy connection back to the pool.
    fn release(&self, c: PgClient) {
        let mut st = self.lock();
        if c.client.is_closed() {
            st.open -= 1;
        } else {
            st.idle.push(c);
        }
        drop(st);
        self.freed.notify_one();
    }

    /// Forgets a connection that was dropped (broken or unusable).
    fn discard(&self) {
        let mut st = self.lock();
        st.open -= 1;
        drop(st);
        self.freed.notify_one();
    }

    /// After a connection error every idle connection is suspect (the
    /// server probably restarted): close them all.
    fn drop_idle(&self) {
        let mut st = self.lock();
        let n = st.idle.len();
        st.idle.clear();
        st.open -= n;
        drop(st);
        self.freed.notify_all();
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        self.lock().idle.clear();
    }
}

/// A transaction on a lent connection.
struct PgTx<'a> {
    pool: &'a Postgres,
    /// `None` once the connection was found broken and dropped.
    conn: Option<PgClient>,
    done: bool,
    failed: bool,
    /// Statements queued by `execute_later`, sent in one round trip
    /// before the next statement that needs an answer, or with COMMIT.
    later: Vec<(String, Vec<Value>)>,
}

/// A parameter bound to whatever type PostgreSQL inferred for it.
#[derive(Debug)]
struct Param<'a>(&'a Value);

impl ToSql for Param<'_> {
    fn to_sql(
        &self,
        ty: &Type,
        out: &mut BytesMut,
    ) -> Result<IsNull, Box<dyn std::error::Error + Sync + Send>> {
        match self.0 {
            Value::Null => Ok(IsNull::Yes),
            Value::Int(i) => match *ty {
                Type::INT8 => i.to_sql(ty, out),
                Type::INT4 => i32::try_from(*i)?.to_sql(ty, out),
                Type::INT2 => i16::try_from(*i)?.to_sql(ty, out),
                Type::BOOL => (*i != 0).to_sql(ty, out),
                Type::TEXT | Type::VARCHAR | Type::BPCHAR | Type::NAME | Type::UNKNOWN => {
                    i.to_string().as_str().to_sql(ty, out)
                }
                _ => Err(format!("an integer cannot be bound to a {ty} parameter").into()),
            },
            Value::Text(s) => match *ty {
                Type::TEXT | Type::VARCHAR | Type::BPCHAR | Type::NAME | Type::UNKNOWN => {
                    s.as_str().to_sql(ty, out)
                }
                _ => Err(format!("text cannot be bound to a {ty} parameter").into()),
            },
            Value::Blob(b) => match *ty {
                Type::BYTEA => b.as_slice().to_sql(ty, out),
                _ => Err(format!("bytes cannot be bound to a {ty} parameter").into()),
            },
        }
    }

    fn accepts(_: &Type) -> bool {
        true
    }

    to_sql_checked!();
}

fn column(row: &postgres::Row, i: usize) -> Result<Value, postgres::Error> {
    let ty = row.columns()[i].type_();
    Ok(match *ty {
        // `SELECT pg_advisory_xact_lock(…)` and the like.
        Type::VOID => None,
        Type::INT8 => row.try_get::<_, Option<i64>>(i)?.map(Value::Int),
        Type::INT4 => row
            .try_get::<_, Option<i32>>(i)?
            .map(|v| Value::Int(v.into())),
        Type::INT2 => row
            .try_get::<_, Option<i16>>(i)?
            .map(|v| Value::Int(v.into())),
        Type::OID => row
            .try_get::<_, Option<u32>>(i)?
            .map(|v| Value::Int(v.into())),
        Type::BOOL => row
            .try_get::<_, Option<bool>>(i)?
            .map(|v| Value::Int(v.into())),
        Type::BYTEA => row.try_get::<_, Option<Vec<u8>>>(i)?.map(Value::Blob),
        Type::FLOAT8 => row
            .try_get::<_, Option<f64>>(i)?
            .map(|v| Value::Text(v.to_string())),
        Type::FLOAT4 => row
            .try_get::<_, Option<f32>>(i)?
            .map(|v| Value::Text(v.to_string())),
        _ => row.try_get::<_, Option<String>>(i)?.map(Value::Text),
    }
    .unwrap_or(Value::Null))
}

impl PgTx<'_> {
    fn client(&mut self) -> Result<&mut PgClient, StoreError> {
        if self.failed {
            return Err(StoreError::Db(
                "an earlier statement of this transaction failed; it can only be rolled back"
                    .into(),
            ));
        }
        self.conn.as_mut().ok_or_else(|| {
            StoreError::Db("the connection to PostgreSQL was lost; nothing was committed".into())
        })
    }

    fn statement(&mut self, sql: &str) -> Result<Statement, postgres::Error> {
        // `client()` was checked by the caller.
        let c = self.conn.as_mut().expect("checked by the caller");
        if let Some(s) = c.statements.get(sql) {
            return Ok(s.clone());
        }
        let st = c.client.prepare(&rewrite_placeholders(sql))?;
        if c.statements.len() >= STATEMENT_CACHE {
            c.statements.clear();
        }
        c.statements.insert(sql.to_string(), st.clone());
        Ok(st)
    }

    /// The queued statements, runs of one insert merged into multi-row
    /// inserts ([`coalesce`]), each prepared (from the cache).
    fn prepare_queued(&mut self) -> Result<Vec<(Statement, Vec<Value>)>, postgres::Error> {
        let queued = coalesce(std::mem::take(&mut self.later));
        let mut out = Vec::with_capacity(queued.len());
        for (sql, params) in queued {
            out.push((self.statement(&sql)?, params));
        }
        Ok(out)
    }

    fn fail(&mut self, e: postgres::Error) -> StoreError {
        self.failed = true;
        // A cached statement can go stale when another process changed
        // the schema ("cached plan must not change result type"):
        // prepare afresh in the next transaction.
        if let Some(c) = self.conn.as_mut() {
            c.statements.clear();
        }
        if self
            .conn
            .as_ref()
            .is_some_and(|c| c.client.is_closed() || is_connection_error(&e))
        {
            self.conn = None;
            self.pool.discard();
            self.pool.drop_idle();
        }
        stmt_err(e)
    }

    /// Sends the queued statements (one round trip) and reports the
    /// first one that failed.
    fn flush(&mut self) -> Result<(), StoreError> {
        if self.later.is_empty() {
            return Ok(());
        }
        self.client()?;
        let items = match self.prepare_queued() {
            Ok(items) => items,
            Err(e) => return Err(self.fail(e)),
        };
        let c = self.conn.as_mut().expect("checked above");
        match c.client.pipeline(&items, None) {
            Ok(()) => Ok(()),
            Err((_, e)) => Err(self.fail(e)),
        }
    }

    fn run<T>(
        &mut self,
        sql: &str,
        params: &[Value],
        f: impl FnOnce(&mut Session, &Statement, &[&(dyn ToSql + Sync)]) -> Result<T, postgres::Error>,
    ) -> Result<T, StoreError> {
        self.flush()?;
        self.client()?;
        let st = match self.statement(sql) {
            Ok(st) => st,
            Err(e) => return Err(self.fail(e)),
        };
        let bound: Vec<Param> = params.iter().map(Param).collect();
        let refs: Vec<&(dyn ToSql + Sync)> =
            bound.iter().map(|p| p as &(dyn ToSql + Sync)).collect();
        let c = self.conn.as_mut().expect("checked above");
        match f(&mut c.client, &st, &refs) {
            Ok(v) => Ok(v),
            Err(e) => Err(self.fail(e)),
        }
    }
}

impl Conn for PgTx<'_> {
    fn execute(&mut self, sql: &str, params: &[Value]) -> Result<u64, StoreError> {
        self.run(sql, params, |c, st, p| c.execute(st, p))
    }

    fn query(&mut self, sql: &str, params: &[Value]) -> Result<Vec<Row>, StoreError> {
        let rows = self.run(sql, params, |c, st, p| c.query(st, p))?;
        let mut out = Vec::with_capacity(rows.len());
        for r in &rows {
            let mut row = Vec::with_capacity(r.len());
            for i in 0..r.len() {
                row.push(column(r, i).map_err(|e| {
                    StoreError::Corrupt(format!("reading column {i}: {}", describe(&e)))
                })?);
            }
            out.push(Row(row));
        }
        Ok(out)
    }

    fn execute_later(&mut self, sql: &str, params: Vec<Value>) -> Result<(), StoreError> {
        self.client()?;
        self.later.push((sql.to_string(), params));
        Ok(())
    }

    fn commit(mut self: Box<Self>) -> Result<(), StoreError> {
        self.client()?;
        let items = match self.prepare_queued() {
            Ok(items) => items,
            Err(e) => return Err(self.fail(e)),
        };
        let c = self.conn.as_mut().expect("checked above");
        // The queued statements and COMMIT in one round trip. When one of
        // them failed, the server turned the COMMIT into a rollback.
        match c.client.pipeline(&items, Some("COMMIT")) {
            Ok(()) => {
                self.done = true;
                Ok(())
            }
            Err((i, e)) if i < items.len() && !is_connection_error(&e) => {
                self.done = true;
                Err(self.fail(e))
            }
            Err((_, e)) if is_connection_error(&e) => {
                self.done = true;
                self.conn = None;
                self.pool.discard();
                self.pool.drop_idle();
                Err(StoreError::Db(format!(
                    "lost the connection to PostgreSQL while committing: the transaction may or may not have been committed: {}",
                    describe(&e)
                )))
            }
            Err((_, e)) => Err(self.fail(e)),
        }
    }
}

impl Drop for PgTx<'_> {
    fn drop(&mut self) {
        let Some(mut c) = self.conn.take() else {
            return;
        };
        if !self.done && c.client.batch_execute("ROLLBACK").is_err() {
            // Nothing to report to (the caller is already returning an
            // error); a connection that cannot roll back is not reused.
            self.pool.discard();
            return;
        }
        self.pool.release(c);
    }
}

fn write_start(relaxed: bool) -> String {
    format!(
        "BEGIN ISOLATION LEVEL READ COMMITTED; {}\
         SELECT pg_advisory_xact_lock({WRITE_LOCK_CLASS}, hashtext(coalesce(current_schema(), '')))",
        if relaxed {
            "SET LOCAL synchronous_commit = off; "
        } else {
            ""
        }
    )
}

impl Backend for Postgres {
    fn begin(&self, write: bool) -> Result<Box<dyn Conn + '_>, StoreError> {
        if write {
            self.begin_with(&write_start(false))
        } else {
            self.begin_with("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
        }
    }

    /// A write transaction with `synchronous_commit = off`: the commit
    /// returns before its WAL reaches the disk. A server crash may lose
    /// the last such transactions (whole, never half); a client crash
    /// loses nothing that was committed.
    fn begin_relaxed(&self) -> Result<Box<dyn Conn + '_>, StoreError> {
        self.begin_with(&write_start(true))
    }

    /// `READ COMMITTED` without the write lock: row locks only.
    fn begin_unlocked(&self) -> Result<Box<dyn Conn + '_>, StoreError> {
        self.begin_with("BEGIN ISOLATION LEVEL READ COMMITTED")
    }

    /// No write lock, one snapshot for every read (as a read
    /// transaction), and a commit that does not wait for the disk: an
    /// audited read queueing its audit entry (a new row under a random
    /// key: it conflicts with no other transaction).
    fn begin_unlocked_relaxed(&self) -> Result<Box<dyn Conn + '_>, StoreError> {
        self.begin_with("BEGIN ISOLATION LEVEL REPEATABLE READ; SET LOCAL synchronous_commit = off")
    }

    /// `LISTEN` on a connection of its own (outside the pool), on a
    /// thread that reconnects with backoff when the connection is lost
    /// and then wakes the caller once (it may have missed a
    /// notification meanwhile).
    fn watch_work(&self, wake: Box<dyn Fn(bool) -> bool + Send>) -> Result<bool, StoreError> {
        let config = self.listen.clone();
        let setup = self.session_setup.clone();
        let shown = self.shown.clone();
        std::thread::Builder::new()
            .name("tansiq-listen".into())
            .spawn(move || listen_loop(&config, &setup, &shown, wake.as_ref()))
            .map_err(|e| StoreError::Db(format!("starting the LISTEN thread: {e}")))?;
        Ok(true)
    }

    fn dialect(&self) -> Dialect {
        Dialect::Postgres
    }

    /// VACUUM of the record tables, so the space of purged rows is
    /// reclaimed. PostgreSQL gives weaker guarantees than SQLite's
    /// `secure_delete` here (see docs/STORE.md): dead tuples are pruned,
    /// not zeroed, and WAL segments keep old contents until recycled.
    fn scrub(&self) -> Result<(), StoreError> {
        self.scrub_tables()
    }

    fn backup_to(&self, _dest: &Path, _progress: &dyn Fn(u64, u64)) -> Result<(), StoreError> {
        Err(StoreError::Db(format!(
            "a PostgreSQL store is backed up with the server's own tools: pg_dump --format=custom --file=FILE '{}' (restore with pg_restore); see docs/STORE.md",
            self.shown
        )))
    }
}

impl Postgres {
    /// Starts a transaction with `start`, retrying connection failures
    /// (nothing has been written yet).
    fn begin_with(&self, start: &str) -> Result<Box<dyn Conn + '_>, StoreError> {
        let mut attempt = 0;
        loop {
            let mut c = self.acquire_retrying()?;
            match c.client.batch_execute(start) {
                Ok(()) => {
                    return Ok(Box::new(PgTx {
                        pool: self,
                        conn: Some(c),
                        done: false,
                        failed: false,
                        later: Vec::new(),
                    }))
                }
                Err(e) if is_connection_error(&e) || c.client.is_closed() => {
                    // Nothing was written: safe to try again on a new
                    // connection.
                    drop(c);
                    self.discard();
                    self.drop_idle();
                    if attempt >= self.options.connect_retries {
                        return Err(StoreError::Db(format!(
                            "cannot reach PostgreSQL ({}): {}",
                            self.shown,
                            describe(&e)
                        )));
                    }
                    self.backoff(attempt);
                    attempt += 1;
                }
                Err(e) => {
                    let busy = e.code().is_some_and(|c| {
                        *c == SqlState::QUERY_CANCELED || *c == SqlState::LOCK_NOT_AVAILABLE
                    });
                    match c.client.batch_execute("ROLLBACK") {
                        Ok(()) => self.release(c),
                        Err(_) => {
                            drop(c);
                            self.discard();
                        }
                    }
                    return Err(if busy { StoreError::Busy } else { stmt_err(e) });
                }
            }
        }
    }

    fn scrub_tables(&self) -> Result<(), StoreError> {
        let mut c = self.acquire_retrying()?;
        let r = c
            .client
            .batch_execute("SET statement_timeout = 0")
            .and_then(|()| {
                c.client.batch_execute(
                    "VACUUM records, record_versions, record_names, name_tokens, record_name_tokens, record_links, sync_envelope, alerts",
                )
            })
            .and_then(|()| c.client.batch_execute(&self.session_setup));
        match r {
            Ok(()) => {
                self.release(c);
                Ok(())
            }
            Err(e) => {
                drop(c);
                self.discard();
                Err(StoreError::Db(format!(
                    "VACUUM of the record tables failed: {}",
                    describe(&e)
                )))
            }
        }
    }
}

fn listen_loop(config: &postgres::Config, setup: &str, shown: &str, wake: &dyn Fn(bool) -> bool) {
    use postgres::fallible_iterator::FallibleIterator;
    let mut failures = 0u32;
    loop {
        let session = config.connect(NoTls).and_then(|mut c| {
            c.batch_execute(setup)?;
            c.batch_execute(&format!("LISTEN {}", crate::sync::WORK_CHANNEL))?;
            let me: String = c
                .query_one("SELECT coalesce(current_schema(), '')", &[])?
                .get(0);
            Ok((c, me))
        });
        match session {
            Ok((mut c, me)) => {
                // After a lost session a notification may have been missed.
                if failures > 0 && !wake(true) {
                    return;
                }
                loop {
                    // Wait at most a second, so a watcher no longer wanted
                    // ends soon (`wake(false)` answers whether it is).
                    let mut heard = false;
                    let lost = {
                        let mut n = c.notifications();
                        let mut it = n.timeout_iter(Duration::from_secs(1));
                        loop {
                            match it.next() {
                                Ok(Some(note)) => heard |= note.payload() == me,
                                Ok(None) => break false,
                                Err(_) => break true,
                            }
                            if heard {
                                break false;
                            }
                        }
                    };
                    if !wake(heard) {
                        return;
                    }
                    if lost || c.is_closed() {
                        break;
                    }
                }
                failures = 1;
            }
            Err(e) => {
                failures = failures.saturating_add(1);
                if failures == 2 {
                    // The store crate does not log; a lost LISTEN session
                    // only delays wake-ups to the workers' polling.
                    eprintln!(
                        "tansiq: cannot LISTEN at {shown} ({}); workers poll until it is back",
                        describe(&e)
                    );
                }
                if !wake(false) {
                    return;
                }
            }
        }
        std::thread::sleep(Duration::from_millis(
            (100u64 << failures.min(5)).min(2_000),
        ));
    }
}

/// Merges each run of the same single-row `INSERT … VALUES (?, …)` (with
/// no `ON CONFLICT` or `ON CONFLICT … DO NOTHING`, no `RETURNING`) into
/// multi-row inserts of 100, 10 or 1 rows (a few shapes, so they stay in
/// the statement cache): one statement for the server to run instead of
/// one per row, with the same effect — the rows go in in order, and a
/// row that breaks a constraint fails the statement (and so the
/// transaction) as it would have failed its own. Other statements pass as
/// they are, in order.
fn coalesce(items: Vec<(String, Vec<Value>)>) -> Vec<(String, Vec<Value>)> {
    let mut out = Vec::with_capacity(items.len());
    let mut it = items.into_iter().peekable();
    while let Some((sql, params)) = it.next() {
        if let Some((table, cols)) = keyed_delete(&sql) {
            // A run of one `DELETE … WHERE a = ? AND b = ?` (acknowledged
            // outbox rows): one `DELETE … WHERE (a, b) IN (…)` per 100
            // keys; deletes by key commute, so the effect is the same.
            let mut run = vec![params];
            while let Some((next, _)) = it.peek() {
                if *next != sql {
                    break;
                }
                run.push(it.next().expect("peeked").1);
            }
            let mut rest = &run[..];
            while !rest.is_empty() {
                let n = [100, 10, 1]
                    .into_iter()
                    .find(|n| *n <= rest.len())
                    .expect("1 fits");
                let (now, later) = rest.split_at(n);
                if n == 1 {
                    out.push((sql.clone(), now[0].clone()));
                } else {
                    let tuple = format!("({})", vec!["?"; cols.len()].join(", "));
                    out.push((
                        format!(
                            "DELETE FROM {table} WHERE ({}) IN ({})",
                            cols.join(", "),
                            vec![tuple; n].join(", ")
                        ),
                        now.iter().flatten().cloned().collect(),
                    ));
                }
                rest = later;
            }
            continue;
        }
        let Some((head, tuple, tail, key)) = single_row_insert(&sql) else {
            out.push((sql, params));
            continue;
        };
        let mut run = vec![params];
        while let Some((next, _)) = it.peek() {
            if *next != sql {
                break;
            }
            run.push(it.next().expect("peeked").1);
        }
        let mut rest = &run[..];
        while !rest.is_empty() {
            let n = [100, 10, 1]
                .into_iter()
                .find(|n| *n <= rest.len())
                .expect("1 fits");
            let (now, later) = rest.split_at(n);
            // An upsert (`DO UPDATE`) may not touch one row twice in a
            // statement: rows with a repeated key go one by one.
            let repeated = key.as_ref().is_some_and(|k| {
                let keys: std::collections::HashSet<String> = now
                    .iter()
                    .map(|p| format!("{:?}", k.iter().map(|i| p.get(*i)).collect::<Vec<_>>()))
                    .collect();
                keys.len() < now.len()
            });
            if repeated {
                out.extend(now.iter().map(|p| (sql.clone(), p.clone())));
            } else if n == 1 {
                out.push((sql.clone(), now[0].clone()));
            } else {
                let rows = vec![tuple; n].join(", ");
                out.push((
                    format!("{head}{rows}{tail}"),
                    now.iter().flatten().cloned().collect(),
                ));
            }
            rest = later;
        }
    }
    out
}

/// `DELETE FROM t WHERE a = ? AND b = ?` (only `column = ?` terms joined
/// by `AND`, at least two) as (t, [a, b]); otherwise None.
fn keyed_delete(sql: &str) -> Option<(&str, Vec<&str>)> {
    let rest = sql.trim().strip_prefix("DELETE FROM ")?;
    let (table, cond) = rest.split_once(" WHERE ")?;
    let plain =
        |w: &str| !w.is_empty() && w.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
    if !plain(table) {
        return None;
    }
    let cols = cond
        .split(" AND ")
        .map(|t| t.trim().strip_suffix(" = ?").filter(|c| plain(c)))
        .collect::<Option<Vec<&str>>>()?;
    (cols.len() >= 2).then_some((table, cols))
}

/// `INSERT INTO t (…) VALUES (?, …, ?)[ ON CONFLICT … DO NOTHING]` split
/// as (text up to VALUES, the tuple, the rest, None), or with `ON
/// CONFLICT (k, …) DO UPDATE …` and only placeholders in the tuple, with
/// the positions of the key's parameters; otherwise None.
fn single_row_insert(sql: &str) -> Option<(&str, &str, &str, Option<Vec<usize>>)> {
    let body = sql.trim_start().strip_prefix("INSERT INTO ")?;
    let v = sql.find("VALUES (")? + "VALUES ".len();
    let close = v + sql[v..].find(')')?;
    let tuple = &sql[v..=close];
    let tail = &sql[close + 1..];
    // Placeholders, and plain string literals (no `?` or quote inside).
    let mut quoted = false;
    let mut plain = true;
    let mut literals = false;
    for b in tuple[1..tuple.len() - 1].bytes() {
        match (quoted, b) {
            (_, b'\'') => {
                quoted = !quoted;
                literals = true;
            }
            (true, b'?') => plain = false,
            (true, _) => {}
            (false, b'?' | b',' | b' ') => {}
            (false, _) => plain = false,
        }
    }
    if !plain || quoted || tail.contains("RETURNING") {
        return None;
    }
    let t = tail.trim();
    if t.is_empty() || (t.starts_with("ON CONFLICT") && t.ends_with("DO NOTHING")) {
        return Some((&sql[..v], tuple, tail, None));
    }
    // An upsert: the key's columns, found among the inserted ones.
    if literals || !t.starts_with("ON CONFLICT (") || !t.contains(") DO UPDATE SET ") {
        return None;
    }
    let cols_start = body.find('(')? + 1;
    let cols: Vec<&str> = body[cols_start..cols_start + body[cols_start..].find(')')?]
        .split(',')
        .map(str::trim)
        .collect();
    let k = &t["ON CONFLICT (".len()..];
    let key = k[..k.find(')')?]
        .split(',')
        .map(|c| cols.iter().position(|x| *x == c.trim()))
        .collect::<Option<Vec<usize>>>()?;
    let n = tuple.matches('?').count();
    (n == cols.len()).then_some((&sql[..v], tuple, tail, Some(key)))
}

/// Rewrites `?` placeholders to PostgreSQL's `$1, $2, …`, leaving alone
/// any `?` inside string literals (`'…'`, `E'…'`), quoted identifiers,
/// dollar-quoted strings and comments.
pub fn rewrite_placeholders(sql: &str) -> String {
    let b = sql.as_bytes();
    let mut out = String::with_capacity(sql.len() + 16);
    let mut n = 0;
    let mut i = 0;
    let mut copied = 0;
    let is_ident = |c: u8| c.is_ascii_alphanumeric() || c == b'_';
    while i < b.len() {
        match b[i] {
            b'?' => {
                out.push_str(&sql[copied..i]);
                n += 1;
                let _ = write!(out, "${n}");
                i += 1;
                copied = i;
            }
            b'\'' => {
                // E'…' strings take backslash escapes.
                let escapes = i > 0
                    && (b[i - 1] == b'E' || b[i - 1] == b'e')
                    && (i < 2 || !is_ident(b[i - 2]));
                i += 1;
                while i < b.len() {
                    if escapes && b[i] == b'\\' {
                        i += 2;
                        continue;
                    }
                    if b[i] == b'\'' {
                        if b.get(i + 1) == Some(&b'\'') {
                            i += 2;
                            continue;
                        }
                        break;
                    }
                    i += 1;
                }
                i += 1;
            }
            b'"' => {
                i += 1;
                while i < b.len() && b[i] != b'"' {
                    i += 1;
                }
                i += 1;
            }
            b'-' if b.get(i + 1) == Some(&b'-') => {
                while i < b.len() && b[i] != b'\n' {
                    i += 1;
                }
            }
            b'/' if b.get(i + 1) == Some(&b'*') => {
                i += 2;
                while i < b.len() && !(b[i] == b'*' && b.get(i + 1) == Some(&b'/')) {
                    i += 1;
                }
                i += 2;
            }
            b'$' if i == 0 || !is_ident(b[i - 1]) => {
                // $tag$ … $tag$ (a tag of letters, digits, _; or empty).
                let tag_end = b[i + 1..]
                    .iter()
                    .position(|c| !is_ident(*c))
                    .map(|p| i + 1 + p);
                match tag_end {
                    Some(e)
                        if b[e] == b'$' && !b[i + 1..e].first().is_some_and(u8::is_ascii_digit) =>
                    {
                        let tag = &sql[i..=e];
                        match sql[e + 1..].find(tag) {
                            Some(p) => i = e + 1 + p + tag.len(),
                            None => i = b.len(),
                        }
                    }
                    _ => i += 1,
                }
            }
            _ => i += 1,
        }
    }
    out.push_str(&sql[copied.min(sql.len())..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runs_of_one_insert_are_merged() {
        let ins = "INSERT INTO t (a, b) VALUES (?, ?)";
        let nothing = "INSERT INTO p (a) VALUES (?) ON CONFLICT (a) DO NOTHING";
        let upsert =
            "INSERT INTO u (a, b) VALUES (?, ?) ON CONFLICT (a) DO UPDATE SET b = excluded.b";
        let row = |sql: &str, i: i64| (sql.to_string(), vec![Value::Int(i), Value::Int(-i)]);
        let mut items: Vec<_> = (0..123).map(|i| row(ins, i)).collect();
        items.push(("UPDATE t SET a = ?".to_string(), vec![Value::Int(7)]));
        items.extend((0..3).map(|i| (nothing.to_string(), vec![Value::Int(i)])));
        // Two upserts of one key: one by one.
        items.extend((0..2).map(|i| (upsert.to_string(), vec![Value::Int(5), Value::Int(i)])));
        items.push(row(ins, 1000));
        let out = coalesce(items);
        let shapes: Vec<(usize, usize)> = out
            .iter()
            .map(|(sql, p)| (sql.matches("(?").count(), p.len()))
            .collect();
        // 123 = 100 + 2×10 + 3×1; the update alone; 3 DO NOTHING rows
        // (1×1 each: under 10); two upserts as they are; the last insert.
        assert_eq!(
            shapes,
            vec![
                (100, 200),
                (10, 20),
                (10, 20),
                (1, 2),
                (1, 2),
                (1, 2),
                (0, 1),
                (1, 1),
                (1, 1),
                (1, 1),
                (1, 2),
                (1, 2),
                (1, 2)
            ]
        );
        // Upserts of distinct keys are merged too.
        let distinct = coalesce(
            (0..10)
                .map(|i| (upsert.to_string(), vec![Value::Int(i), Value::Int(i)]))
                .collect(),
        );
        assert_eq!(distinct.len(), 1);
        assert!(distinct[0].0.contains("(?, ?), (?, ?)"));
        assert!(distinct[0].0.ends_with("DO UPDATE SET b = excluded.b"));
        let key = single_row_insert(
            "INSERT INTO s (x, y, z) VALUES (?, ?, ?) ON CONFLICT (z, x) DO UPDATE SET y = excluded.y",
        )
        .and_then(|r| r.3);
        assert_eq!(key, Some(vec![2, 0]));
        assert!(single_row_insert(
            "INSERT INTO s (x, y) VALUES (?, 'k') ON CONFLICT (x) DO UPDATE SET y = excluded.y"
        )
        .is_none());
        assert!(out[0]
            .0
            .starts_with("INSERT INTO t (a, b) VALUES (?, ?), (?, ?)"));
        // Rows keep their order and their values.
        let firsts: Vec<i64> = out[0]
            .1
            .iter()
            .step_by(2)
            .map(|v| match v {
                Value::Int(i) => *i,
                _ => unreachable!(),
            })
            .collect();
        assert_eq!(firsts, (0..100).collect::<Vec<_>>());
        assert_eq!(out[3].1, vec![Value::Int(120), Value::Int(-120)]);
        assert_eq!(out[12].1, vec![Value::Int(1000), Value::Int(-1000)]);
        assert!(single_row_insert("INSERT INTO t (a) VALUES (?) RETURNING a").is_none());
        assert!(single_row_insert("INSERT INTO t (a) VALUES ('x?')").is_none());
        assert!(single_row_insert("INSERT INTO t (a) VALUES (? + 1)").is_none());
        assert!(single_row_insert(
            "INSERT INTO p (a, b) VALUES (?, 'origin') ON CONFLICT (a) DO NOTHING"
        )
        .is_some());
        assert!(single_row_insert("INSERT INTO t (a) SELECT ?").is_none());
    }

    #[test]
    fn runs_of_one_keyed_delete_are_merged() {
        let del = "DELETE FROM sync_outbox WHERE to_node = ? AND id = ?";
        let row = |i: i64| (del.to_string(), vec![Value::Int(i), Value::Int(-i)]);
        let mut items: Vec<_> = (0..111).map(row).collect();
        items.push(("DELETE FROM t WHERE a = ?".to_string(), vec![Value::Int(1)]));
        items.push(row(500));
        let out = coalesce(items);
        let shapes: Vec<(usize, usize)> = out
            .iter()
            .map(|(sql, p)| (sql.matches('?').count(), p.len()))
            .collect();
        assert_eq!(shapes, vec![(200, 200), (20, 20), (2, 2), (1, 1), (2, 2)]);
        assert!(out[0]
            .0
            .starts_with("DELETE FROM sync_outbox WHERE (to_node, id) IN ((?, ?), (?, ?)"));
        assert_eq!(
            out[0].1[..4],
            [Value::Int(0), Value::Int(0), Value::Int(1), Value::Int(-1)]
        );
        assert_eq!(out[2].0, del);
        assert_eq!(out[4].1, vec![Value::Int(500), Value::Int(-500)]);
        assert!(keyed_delete("DELETE FROM t WHERE a = ? AND b > ?").is_none());
        assert!(keyed_delete("DELETE FROM t WHERE a = ? OR b = ?").is_none());
        assert!(keyed_delete("DELETE FROM t WHERE a = ?").is_none());
        assert!(keyed_delete("DELETE FROM t WHERE a = ? AND b = 'x'").is_none());
    }

    #[test]
    fn placeholders_table() {
        for (sql, want) in [
            ("SELECT ?", "SELECT $1"),
            ("a = ? AND b IN (?, ?)", "a = $1 AND b IN ($2, $3)"),
            ("x LIKE ? ESCAPE '!'", "x LIKE $1 ESCAPE '!'"),
            ("'?' = ?", "'?' = $1"),
            ("'it''s ?' || ?", "'it''s ?' || $1"),
            (r"E'\'?' || ?", r"E'\'?' || $1"),
            (r"'\' || ?", r"'\' || $1"),
            ("\"we?ird\" = ?", "\"we?ird\" = $1"),
            ("-- what?\n?", "-- what?\n$1"),
            ("/* ? */ ?", "/* ? */ $1"),
            ("$$ ? $$ || ?", "$$ ? $$ || $1"),
            ("$q$ ? $q$ || ?", "$q$ ? $q$ || $1"),
            ("$1 ?", "$1 $1"),
            ("'unterminated ?", "'unterminated ?"),
            ("", ""),
        ] {
            assert_eq!(rewrite_placeholders(sql), want, "{sql}");
        }
    }

    #[test]
    fn urls_are_redacted() {
        for (url, want) in [
            (
                "postgres://tansiq:s3cret@db:5432/tansiq?sslmode=disable",
                "postgres://tansiq:***@db:5432/tansiq?sslmode=disable",
            ),
            ("postgres://tansiq@db/x", "postgres://tansiq@db/x"),
            (
                "postgresql://u@h/d?password=pw&x=1",
                "postgresql://u@h/d?password=***&x=1",
            ),
            ("postgres://u:p:q@h", "postgres://u:***@h"),
            ("nonsense", "(not a URL)"),
        ] {
            assert_eq!(redact_url(url), want);
        }
    }

    #[test]
    fn url_parameters() {
        let t = parse_target(
            "postgres://u:pw@127.0.0.1:5499/db?sslmode=disable&pool_size=3&statement_timeout=2s&schema=t_1&connect_retries=0",
        )
        .unwrap();
        assert_eq!(t.options.pool_size, 3);
        assert_eq!(t.options.statement_timeout, Duration::from_secs(2));
        assert_eq!(t.options.schema.as_deref(), Some("t_1"));
        assert_eq!(t.options.connect_retries, 0);
        assert_eq!(t.config.get_dbname(), Some("db"));
        assert_eq!(t.config.get_ports(), &[5499]);
        assert!(!t.shown.contains("pw"));

        for (url, needle) in [
            ("mysql://u@h/d", "must start with postgres://"),
            ("postgres://u@h/d?pool_size=0", "pool_size"),
            (
                "postgres://u@h/d?statement_timeout=soon",
                "statement_timeout",
            ),
            ("postgres://u@h/d?schema=Bad-Name", "schema"),
            ("postgres://u@h/d?sslmode=require", "plain TCP"),
            ("postgres://u@h/d?sslmode=verify-full", "plain TCP"),
            ("postgres://u@h:notaport/d", "invalid PostgreSQL URL"),
            ("postgres://u:secret@h/d?bogus=1", "invalid PostgreSQL URL"),
        ] {
            let Err(e) = parse_target(url) else {
                panic!("{url} was accepted")
            };
            let e = e.to_string();
            assert!(e.contains(needle), "{url}: {e}");
            assert!(!e.contains("secret"), "{url}: password in {e}");
        }
    }
}
