//! Everything that talks to PostgreSQL. Every SQL statement pgkeel itself sends lives in this
//! module tree: [`history`] (the history schema), [`lock`] (one applier at a time), [`apply`]
//! (running migrations and dry runs), [`query`] (guarded ad-hoc SQL) and [`introspect`] (the
//! live schema as a model: tables, views, types, functions).

pub mod apply;
pub mod backup;
pub mod checks;
pub mod history;
pub mod introspect;
pub mod lock;
pub mod pool;
pub mod query;
pub mod rollback;
pub mod rowcount;
pub mod scratch;
pub mod segment;
pub mod snapshot;
pub mod tls;

use std::future::Future;
use std::pin::Pin;
use std::str::FromStr;
use std::sync::Arc;
use std::task::Poll;
use std::time::Duration;

use futures_util::StreamExt;
use tokio_postgres::error::SqlState;
use tokio_postgres::{AsyncMessage, Client, SimpleQueryMessage};

use crate::error::{Error, Result};
use crate::events::{Event, Events};
use crate::redact::redact_url;

/// The application_name pgkeel sets unless the URL sets one.
pub const APPLICATION_NAME: &str = "pgkeel";

/// An open connection. Dropping it closes the connection.
pub struct Connection {
    pub client: Client,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Connection {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Connect to `url` (TLS as its `sslmode` says; see [`tls`]). Server NOTICEs and WARNINGs are logged and, when `events` is given, passed
/// on as [`Event::ServerNotice`]. The password never appears in an error.
///
/// `deadline` (`[database] connect_timeout`; a `connect_timeout` in the URL wins; zero = none)
/// bounds the whole connect: TCP, TLS and the startup exchange (tokio-postgres's own timeout
/// covers only the TCP connect, so a server that accepts and never answers would hang). It is
/// also sent as the session's `statement_timeout`, the server-side deadline of pgkeel's own
/// catalog queries; migrations, rollbacks and ad-hoc SQL set their own (see [`apply`]).
pub async fn connect(
    url: &str,
    purpose: &str,
    events: Option<Arc<dyn Events>>,
    deadline: Duration,
) -> Result<Connection> {
    let driver = driver_config(url, purpose, deadline)?;
    let (client, mut connection) = driver.connect().await.map_err(|f| f.into_error(&driver))?;
    let task = tokio::spawn(async move {
        let mut messages = futures_util::stream::poll_fn(move |cx| connection.poll_message(cx));
        while let Some(message) = messages.next().await {
            match message {
                Ok(AsyncMessage::Notice(n)) => {
                    tracing::info!(target: "pgkeel::server", "{}: {}", n.severity(), n.message());
                    if let Some(ev) = &events {
                        ev.event(Event::ServerNotice {
                            severity: n.severity().to_string(),
                            message: n.message().to_string(),
                        });
                    }
                }
                Ok(_) => {}
                Err(e) => {
                    tracing::debug!("connection closed: {e}");
                    break;
                }
            }
        }
    });
    Ok(Connection { client, task })
}

/// Everything needed to open connections to one database.
pub(crate) struct Driver {
    pub config: tokio_postgres::Config,
    pub tls: tokio_postgres_rustls::MakeRustlsConnect,
    /// The URL with its password hidden, for messages.
    pub target: String,
    /// The whole connect's deadline (none when zero was configured).
    pub deadline: Option<Duration>,
}

/// The stream type of a pgkeel connection.
pub(crate) type TlsStream =
    <tokio_postgres_rustls::MakeRustlsConnect as tokio_postgres::tls::MakeTlsConnect<
        tokio_postgres::Socket,
    >>::Stream;

/// Why a connection attempt failed.
pub(crate) enum ConnectFail {
    Driver(tokio_postgres::Error),
    /// The deadline passed; the text names the host and the phase.
    TimedOut(String),
}

impl ConnectFail {
    pub(crate) fn into_error(self, driver: &Driver) -> Error {
        let password = driver
            .config
            .get_password()
            .map(|p| String::from_utf8_lossy(p).into_owned());
        Error::Connect {
            target: driver.target.clone(),
            message: match self {
                ConnectFail::Driver(e) => scrub(&describe_pg_error(&e), password.as_deref()),
                ConnectFail::TimedOut(m) => m,
            },
        }
    }
}

impl Driver {
    /// Open a connection within the deadline. A server (or pooler) that refuses the
    /// `options` startup parameter that carries the catalog `statement_timeout` is asked again
    /// without it: the client-side deadline still bounds every wait.
    pub(crate) async fn connect(
        &self,
    ) -> std::result::Result<
        (
            Client,
            tokio_postgres::Connection<tokio_postgres::Socket, TlsStream>,
        ),
        ConnectFail,
    > {
        let started = std::time::Instant::now();
        match self.connect_once(&self.config, started).await {
            Err(ConnectFail::Driver(e))
                if self.config.get_options().is_some()
                    && e.as_db_error()
                        .is_some_and(|d| d.message().contains("unsupported startup parameter")) =>
            {
                tracing::info!("the server refused the `options` startup parameter; connecting without pgkeel's catalog statement_timeout");
                let mut plain = self.config.clone();
                plain.options("");
                self.connect_once(&plain, started).await
            }
            other => other,
        }
    }

    async fn connect_once(
        &self,
        config: &tokio_postgres::Config,
        started: std::time::Instant,
    ) -> std::result::Result<
        (
            Client,
            tokio_postgres::Connection<tokio_postgres::Socket, TlsStream>,
        ),
        ConnectFail,
    > {
        let progress = Arc::new(std::sync::Mutex::new(Progress::default()));
        let tls = PhaseTls {
            inner: self.tls.clone(),
            progress: progress.clone(),
        };
        let Some(deadline) = self.deadline else {
            return config.connect(tls).await.map_err(ConnectFail::Driver);
        };
        let left = deadline.saturating_sub(started.elapsed());
        match tokio::time::timeout(left, config.connect(tls)).await {
            Ok(Ok(c)) => Ok(c),
            // tokio-postgres's own TCP connect timeout (set to the same deadline).
            Ok(Err(e))
                if std::error::Error::source(&e)
                    .and_then(|c| c.downcast_ref::<std::io::Error>())
                    .is_some_and(|io| io.kind() == std::io::ErrorKind::TimedOut) =>
            {
                Err(ConnectFail::TimedOut(timeout_message(
                    config,
                    deadline,
                    &Progress::default(),
                )))
            }
            Ok(Err(e)) => Err(ConnectFail::Driver(e)),
            Err(_) => {
                let p = progress.lock().map(|p| p.clone()).unwrap_or_default();
                Err(ConnectFail::TimedOut(timeout_message(config, deadline, &p)))
            }
        }
    }
}

/// How far a connection attempt got, for the message when its deadline passes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) enum Phase {
    /// Resolving the host name and opening the TCP (or Unix socket) connection.
    #[default]
    Connect,
    /// The TLS handshake (after the server agreed to TLS).
    Tls,
    /// The startup exchange: authentication and the server's parameters.
    Startup,
}

#[derive(Debug, Clone, Default)]
pub(crate) struct Progress {
    phase: Phase,
    /// The host the socket reached (tokio-postgres tries the URL's hosts in turn).
    host: Option<String>,
}

/// The message of a connect deadline: the host(s) and the phase it was in.
pub(crate) fn timeout_message(
    config: &tokio_postgres::Config,
    deadline: Duration,
    p: &Progress,
) -> String {
    let ports = config.get_ports();
    let hosts: Vec<String> = config
        .get_hosts()
        .iter()
        .enumerate()
        .map(|(i, h)| {
            let port = ports.get(i).or(ports.first()).copied().unwrap_or(5432);
            match h {
                tokio_postgres::config::Host::Tcp(h) => format!("{h}:{port}"),
                #[cfg(unix)]
                tokio_postgres::config::Host::Unix(d) => {
                    format!("{}/.s.PGSQL.{port}", d.display())
                }
            }
        })
        .collect();
    let all = if hosts.is_empty() {
        "localhost:5432".to_string()
    } else {
        hosts.join(", ")
    };
    let host = p
        .host
        .as_deref()
        .filter(|h| !h.is_empty())
        .and_then(|h| {
            hosts
                .iter()
                .find(|x| x.starts_with(&format!("{h}:")))
                .cloned()
        })
        .unwrap_or(all);
    let waited = humantime::format_duration(deadline);
    match p.phase {
        Phase::Connect => format!(
            "timed out after {waited} in phase connect: no TCP connection to {host} (host down, wrong port, or a firewall dropping packets); raise connect_timeout in the URL or [database] connect_timeout if the network is slow"
        ),
        Phase::Tls => format!(
            "timed out after {waited} in phase TLS: {host} accepted the connection but did not finish the TLS handshake; check sslmode and that this is a PostgreSQL server"
        ),
        Phase::Startup => format!(
            "timed out after {waited} in phase startup: {host} accepted the connection but never answered the startup (authentication) exchange; is it a PostgreSQL server, and is it overloaded or stopped (SIGSTOP, a full disk)?"
        ),
    }
}

/// The TLS connector with a record of how far the connection got: tokio-postgres calls
/// `make_tls_connect` right after the socket connected, and the connector's `connect` only
/// when the server agreed to TLS. (No crate reports connect phases; this is the only hook.)
#[derive(Clone)]
pub(crate) struct PhaseTls {
    inner: tokio_postgres_rustls::MakeRustlsConnect,
    progress: Arc<std::sync::Mutex<Progress>>,
}

type InnerTls = <tokio_postgres_rustls::MakeRustlsConnect as tokio_postgres::tls::MakeTlsConnect<
    tokio_postgres::Socket,
>>::TlsConnect;

impl PhaseTls {
    fn set(progress: &std::sync::Mutex<Progress>, phase: Phase, host: Option<&str>) {
        if let Ok(mut p) = progress.lock() {
            p.phase = phase;
            if let Some(h) = host {
                p.host = Some(h.to_string());
            }
        }
    }
}

impl tokio_postgres::tls::MakeTlsConnect<tokio_postgres::Socket> for PhaseTls {
    type Stream = TlsStream;
    type TlsConnect = PhaseTlsConnect;
    type Error =
        <tokio_postgres_rustls::MakeRustlsConnect as tokio_postgres::tls::MakeTlsConnect<
            tokio_postgres::Socket,
        >>::Error;

    fn make_tls_connect(
        &mut self,
        domain: &str,
    ) -> std::result::Result<PhaseTlsConnect, Self::Error> {
        PhaseTls::set(&self.progress, Phase::Startup, Some(domain));
        Ok(PhaseTlsConnect {
            inner:
                <tokio_postgres_rustls::MakeRustlsConnect as tokio_postgres::tls::MakeTlsConnect<
                    tokio_postgres::Socket,
                >>::make_tls_connect(&mut self.inner, domain)?,
            progress: self.progress.clone(),
        })
    }
}

pub(crate) struct PhaseTlsConnect {
    inner: InnerTls,
    progress: Arc<std::sync::Mutex<Progress>>,
}

impl tokio_postgres::tls::TlsConnect<tokio_postgres::Socket> for PhaseTlsConnect {
    type Stream = TlsStream;
    type Error = <InnerTls as tokio_postgres::tls::TlsConnect<tokio_postgres::Socket>>::Error;
    type Future = Pin<Box<dyn Future<Output = std::result::Result<TlsStream, Self::Error>> + Send>>;

    fn connect(self, stream: tokio_postgres::Socket) -> Self::Future {
        PhaseTls::set(&self.progress, Phase::Tls, None);
        let progress = self.progress;
        let handshake = self.inner.connect(stream);
        Box::pin(async move {
            let r = handshake.await;
            PhaseTls::set(&progress, Phase::Startup, None);
            r
        })
    }
}

/// The deadline a connection to `url` gets: the URL's `connect_timeout`, else `configured`
/// (`[database] connect_timeout`); zero = none. A URL that does not parse gets `configured`
/// (connecting to it then fails with its own message).
pub(crate) fn effective_deadline(url: &str, configured: Duration) -> Duration {
    let (url, _) = tls::split_settings(url);
    tokio_postgres::Config::from_str(&url)
        .ok()
        .and_then(|c| c.get_connect_timeout().copied())
        .unwrap_or(configured)
}

/// The driver configuration for `url`: TLS as its `sslmode` says (see [`tls`]), pgkeel's
/// application name unless the URL sets one, the deadline (the URL's `connect_timeout`, else
/// `deadline`), and that deadline as the session's `statement_timeout` unless the URL's
/// `options` set one.
pub(crate) fn driver_config(url: &str, purpose: &str, deadline: Duration) -> Result<Driver> {
    let target = redact_url(url);
    let (url, verify) = tls::split_settings(url);
    let tls = tls::connector(&verify).map_err(|message| Error::Connect {
        target: target.clone(),
        message,
    })?;
    let mut config = tokio_postgres::Config::from_str(&url)
        .map_err(|e| Error::Config(bad_url_message(&target, &url, &e)))?;
    tls::plain_on_loopback(&mut config, &url);
    if config.get_application_name().is_none() {
        config.application_name(format!("{APPLICATION_NAME} {purpose}"));
    }
    let deadline = match config.get_connect_timeout() {
        Some(d) => Some(*d),
        None => (!deadline.is_zero()).then_some(deadline),
    };
    if let Some(d) = deadline {
        config.connect_timeout(d);
        let options = config.get_options().unwrap_or("").to_string();
        if !options.contains("statement_timeout") {
            let ms = d.as_millis().clamp(1, i32::MAX as u128);
            config.options(format!("{options} -c statement_timeout={ms}").trim());
        }
    }
    Ok(Driver {
        config,
        tls,
        target,
        deadline,
    })
}

/// What is wrong with a connection string, naming the part (tokio-postgres's own message is
/// only "invalid connection string"; its cause names the option).
fn bad_url_message(target: &str, url: &str, e: &tokio_postgres::Error) -> String {
    let cause = std::error::Error::source(e)
        .map(|c| c.to_string())
        .unwrap_or_else(|| e.to_string());
    let hint = if url.contains("://") {
        if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
            " (a URL must start with postgres:// or postgresql://)"
        } else if cause.contains("`host`") {
            " (the host part, between @ and the next / or ?, must be host[:port][,host[:port]…]; an IPv6 address goes in [ ]; an @, / or : in the password must be percent-encoded)"
        } else if cause.contains("`port`") {
            " (the port must be a number; an @, / or : in the password must be percent-encoded)"
        } else if cause.contains("unknown option") {
            " (query parameters are libpq's connection keywords, e.g. sslmode, connect_timeout, application_name)"
        } else {
            ""
        }
    } else if cause.contains("expected `=`") || cause.contains("unexpected EOF") {
        " (a key=value string looks like `host=h port=5432 dbname=d user=u`; a URL starts with postgres://)"
    } else {
        ""
    };
    format!("invalid database URL {target}: {cause}{hint}")
}

/// Remove a password from a message, in case a driver echoed it.
fn scrub(message: &str, password: Option<&str>) -> String {
    match password {
        Some(p) if p.len() >= 3 => message.replace(p, "***"),
        _ => message.to_string(),
    }
}

/// A one-line description of a driver error: SQLSTATE, message, detail and hint for server
/// errors; the error and its causes otherwise.
/// Whether `schema.table` exists (pgkeel's own catalog tables: the history format, snapshots,
/// backups), so readers of a database pgkeel never wrote to answer "nothing" instead of failing.
/// `ctx` names the reader in errors.
pub async fn table_exists(
    c: &impl tokio_postgres::GenericClient,
    schema: &str,
    table: &str,
    ctx: &str,
) -> crate::error::Result<bool> {
    Ok(c.query_one(
        "SELECT to_regclass(format('%I.%I', $1::text, $2::text)) IS NOT NULL",
        &[&schema, &table],
    )
    .await
    .map_err(|e| crate::error::Error::db(ctx, e))?
    .get(0))
}

/// Start a READ ONLY transaction that waits at most `lock_timeout` (the migrations' own, zero =
/// none) capped at `cap` for a lock, and runs at most `statement_timeout` (a PostgreSQL duration
/// text) per statement: for reads that must never hold up a run behind another session's lock.
/// `what` names the reader in errors. The caller ends it (ROLLBACK).
pub async fn begin_bounded_read(
    client: &tokio_postgres::Client,
    lock_timeout: std::time::Duration,
    cap: std::time::Duration,
    statement_timeout: &str,
    what: &str,
) -> crate::error::Result<()> {
    let lock_ms = if lock_timeout.is_zero() {
        cap
    } else {
        lock_timeout.min(cap)
    }
    .as_millis()
    .max(1);
    client
        .batch_execute(&format!(
            "BEGIN READ ONLY; SET LOCAL lock_timeout = '{lock_ms}ms'; \
             SET LOCAL statement_timeout = '{statement_timeout}'"
        ))
        .await
        .map_err(|e| crate::error::Error::db(format!("starting the {what} transaction"), e))
}

/// Whether `e` means the connection is gone or the server is going away (closed, an I/O error,
/// a shutdown or crash of the server, a backend terminated), rather than a fault of the SQL.
pub fn is_connection_error(e: &tokio_postgres::Error) -> bool {
    if e.is_closed() {
        return true;
    }
    if let Some(db) = e.as_db_error() {
        let code = db.code().code();
        // 57P01 admin_shutdown, 57P02 crash_shutdown, 57P03 cannot_connect_now, 08xxx
        // connection exceptions.
        return matches!(code, "57P01" | "57P02" | "57P03") || code.starts_with("08");
    }
    std::error::Error::source(e).is_some_and(|c| c.downcast_ref::<std::io::Error>().is_some())
}

pub fn describe_pg_error(e: &tokio_postgres::Error) -> String {
    if let Some(db) = e.as_db_error() {
        let mut s = format!("{} {}: {}", db.severity(), db.code().code(), db.message());
        if let Some(d) = db.detail() {
            s.push_str(&format!(" (detail: {d})"));
        }
        if let Some(h) = db.hint() {
            s.push_str(&format!(" (hint: {h})"));
        }
        return s;
    }
    let mut s = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(cause) = source {
        let c = cause.to_string();
        if !s.contains(&c) {
            s.push_str(": ");
            s.push_str(&c);
        }
        source = cause.source();
    }
    s
}

/// A SQL string literal that means the same whatever `standard_conforming_strings` is.
///
/// Used only for values pgkeel itself writes into history inside a pipelined simple-query batch
/// (the simple protocol has no parameters); NUL bytes, which PostgreSQL text cannot hold, are
/// dropped.
pub fn literal(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 3);
    out.push_str("E'");
    for c in value.chars() {
        match c {
            '\'' => out.push_str("''"),
            '\\' => out.push_str("\\\\"),
            '\0' => {}
            c => out.push(c),
        }
    }
    out.push('\'');
    out
}

/// A double-quoted identifier (the history schema name is validated, but quote it anyway).
pub fn ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// The result of one simple query in a pipeline.
pub(crate) type QueryResult = std::result::Result<Vec<SimpleQueryMessage>, tokio_postgres::Error>;

/// A list of queries for [`pipeline_with`], read by index, so that a migration's statements
/// are sent from where they are (its file's text) without a vector of references to them.
pub(crate) trait Queries {
    fn count(&self) -> usize;
    fn query(&self, i: usize) -> &str;
}

impl<Q: AsRef<str>> Queries for [Q] {
    fn count(&self) -> usize {
        self.len()
    }
    fn query(&self, i: usize) -> &str {
        self[i].as_ref()
    }
}

impl<Q: AsRef<str>> Queries for Vec<Q> {
    fn count(&self) -> usize {
        self.len()
    }
    fn query(&self, i: usize) -> &str {
        self[i].as_ref()
    }
}

/// Send `queries` as simple queries in one pipeline (written to the socket in order, answered
/// in order) and collect every result.
pub(crate) async fn pipeline<Q: AsRef<str>>(client: &Client, queries: &[Q]) -> Vec<QueryResult> {
    let mut kept = pipeline_with(client, queries, usize::MAX, |_| true).await;
    (0..queries.len())
        .map(|i| kept.take(i).unwrap_or_else(|| Ok(Vec::new())))
        .collect()
}

/// How many queries of a pipeline are in flight at once: enough to keep the connection busy
/// (each is a few hundred bytes on the wire), few enough that a migration of 441,000 INSERTs
/// does not hold 441,000 request futures and buffers at once.
const PIPELINE_WINDOW: usize = 512;

/// What [`pipeline_with`] kept of its queries' results, by query index: the successful
/// results asked for, every error of the queries before `tx_from`, and from there the errors up
/// to the first real one (the queries of a failed transaction only echo it with 25P02,
/// in_failed_sql_transaction: the first echo is kept, the rest dropped). So a pipeline of
/// 441,000 statements keeps a handful of results, not one per statement.
#[derive(Debug, Default)]
pub(crate) struct Pipelined {
    kept: Vec<(usize, QueryResult)>,
    tx_from: usize,
    echo_kept: bool,
    real_kept: bool,
}

impl Pipelined {
    fn keep(&mut self, index: usize, r: QueryResult, keep_ok: bool) {
        let wanted = match &r {
            Ok(_) => keep_ok,
            Err(_) if index < self.tx_from => true,
            Err(e) if is_echo(e) => !self.real_kept && !self.echo_kept,
            Err(_) => !self.real_kept,
        };
        if let (Err(e), true) = (&r, index >= self.tx_from) {
            if is_echo(e) {
                self.echo_kept = true;
            } else {
                self.real_kept = true;
            }
        }
        if wanted {
            self.kept.push((index, r));
        }
    }

    /// The result of query `i` when it was kept (`None`: a success not asked for, or an echo
    /// of an earlier error).
    pub(crate) fn get(&self, i: usize) -> Option<&QueryResult> {
        self.kept.iter().find(|(k, _)| *k == i).map(|(_, r)| r)
    }

    /// [`Pipelined::get`], moving the result out.
    pub(crate) fn take(&mut self, i: usize) -> Option<QueryResult> {
        let at = self.kept.iter().position(|(k, _)| *k == i)?;
        Some(self.kept.remove(at).1)
    }

    /// The kept errors of queries `range`, in order.
    pub(crate) fn errors_in(
        &self,
        range: std::ops::Range<usize>,
    ) -> impl Iterator<Item = &tokio_postgres::Error> {
        self.kept
            .iter()
            .filter(move |(i, _)| range.contains(i))
            .filter_map(|(_, r)| r.as_ref().err())
    }

    /// The first real error at or after query `from`: later queries only echo it with 25P02
    /// (in_failed_sql_transaction), which is returned only when there is nothing else.
    pub(crate) fn first_error_from(&self, from: usize) -> Option<(usize, &tokio_postgres::Error)> {
        let mut fallback = None;
        for (i, r) in self.kept.iter().filter(|(i, _)| *i >= from) {
            if let Err(e) = r {
                if !is_echo(e) {
                    return Some((*i, e));
                }
                fallback.get_or_insert((*i, e));
            }
        }
        fallback
    }

    /// [`Pipelined::first_error_from`] the first query.
    pub(crate) fn first_error(&self) -> Option<(usize, &tokio_postgres::Error)> {
        self.first_error_from(0)
    }
}

fn is_echo(e: &tokio_postgres::Error) -> bool {
    e.code() == Some(&SqlState::IN_FAILED_SQL_TRANSACTION)
}

/// [`pipeline`] with at most [`PIPELINE_WINDOW`] queries in flight. A successful result is
/// kept only when `keep_ok(index)`, and errors as [`Pipelined`] says (`tx_from`: the index of
/// the first query of the transaction whose echoes are dropped; `usize::MAX` keeps every
/// error), so the results of a long run of statements cost no memory; neither do the queries,
/// read by index from `queries`.
///
/// Hand-written because the order of first polls is what puts the requests on the socket in
/// order: `futures::stream::Buffered` does not promise that order. A future is first polled
/// only after every earlier one still in flight was polled.
pub(crate) async fn pipeline_with<Q: Queries + ?Sized>(
    client: &Client,
    queries: &Q,
    tx_from: usize,
    keep_ok: impl Fn(usize) -> bool,
) -> Pipelined {
    let mut out = Pipelined {
        tx_from,
        ..Pipelined::default()
    };
    let total = queries.count();
    let mut next = 0;
    let mut inflight = std::collections::VecDeque::new();
    std::future::poll_fn(|cx| loop {
        while inflight.len() < PIPELINE_WINDOW && next < total {
            inflight.push_back((next, Box::pin(client.simple_query(queries.query(next)))));
            next += 1;
        }
        let mut done_any = false;
        let mut i = 0;
        while i < inflight.len() {
            let (index, f) = &mut inflight[i];
            match f.as_mut().poll(cx) {
                Poll::Ready(v) => {
                    let index = *index;
                    out.keep(index, v, keep_ok(index));
                    inflight.remove(i);
                    done_any = true;
                }
                Poll::Pending => i += 1,
            }
        }
        if inflight.is_empty() && next >= total {
            return Poll::Ready(());
        }
        if !done_any {
            return Poll::Pending;
        }
    })
    .await;
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literals_escape_quotes_and_backslashes() {
        assert_eq!(literal("it's"), "E'it''s'");
        assert_eq!(literal("a\\b"), "E'a\\\\b'");
        assert_eq!(literal("x\0y"), "E'xy'");
        assert_eq!(ident("we\"ird"), "\"we\"\"ird\"");
    }

    #[test]
    fn deadline_messages_name_the_host_and_the_phase() {
        let config = tokio_postgres::Config::from_str("postgres://u@db.example:6543/x").unwrap();
        let d = Duration::from_secs(2);
        let at = |phase| Progress {
            phase,
            host: Some("db.example".into()),
        };
        let m = timeout_message(&config, d, &Progress::default());
        assert!(
            m.contains("2s in phase connect") && m.contains("db.example:6543"),
            "{m}"
        );
        let m = timeout_message(&config, d, &at(Phase::Tls));
        assert!(
            m.contains("phase TLS") && m.contains("db.example:6543"),
            "{m}"
        );
        let m = timeout_message(&config, d, &at(Phase::Startup));
        assert!(
            m.contains("phase startup") && m.contains("authentication"),
            "{m}"
        );
    }

    #[test]
    fn the_deadline_comes_from_the_url_else_the_setting_and_bounds_catalog_queries() {
        let d = driver_config(
            "postgres://u@h/x?connect_timeout=3",
            "t",
            Duration::from_secs(10),
        )
        .unwrap();
        assert_eq!(d.deadline, Some(Duration::from_secs(3)));
        assert_eq!(d.config.get_options(), Some("-c statement_timeout=3000"));
        let d = driver_config("postgres://u@h/x", "t", Duration::from_millis(1500)).unwrap();
        assert_eq!(d.deadline, Some(Duration::from_millis(1500)));
        // The client-side wait of catalog reads (Migrator::within) takes the same deadline.
        let ten = Duration::from_secs(10);
        assert_eq!(
            effective_deadline("postgres://u@h/x?connect_timeout=3", ten),
            Duration::from_secs(3)
        );
        assert_eq!(effective_deadline("postgres://u@h/x", ten), ten);
        assert_eq!(effective_deadline("postgres://u@h:notaport/x", ten), ten);
        let d = driver_config(
            "host=h options='-c statement_timeout=9s'",
            "t",
            Duration::from_secs(1),
        )
        .unwrap();
        assert_eq!(d.config.get_options(), Some("-c statement_timeout=9s"));
        let d = driver_config("postgres://u@h/x", "t", Duration::ZERO).unwrap();
        assert_eq!((d.deadline, d.config.get_options()), (None, None));
    }

    #[test]
    fn a_bad_url_names_the_bad_part_and_never_the_password() {
        let msg = |u: &str| match driver_config(u, "t", Duration::from_secs(1)) {
            Err(Error::Config(m)) => m,
            Err(e) => panic!("{u}: {e:?}"),
            Ok(_) => panic!("{u} parsed"),
        };
        let m = msg("postgres://u:s3cret@h:12x/db");
        assert!(
            m.contains("`port`") && !m.contains("s3cret") && m.contains("u:***@"),
            "{m}"
        );
        assert!(
            !m.contains("invalid connection string: invalid connection string"),
            "{m}"
        );
        assert!(msg("postgres://u@h/db?sslmod=require").contains("unknown option `sslmod`"));
        assert!(msg("mysql://u@h/db").contains("must start with postgres://"));
        assert!(msg("just-a-host:5432").contains("key=value"));
    }

    #[test]
    fn scrub_hides_passwords() {
        assert_eq!(
            scrub("auth failed for s3cret", Some("s3cret")),
            "auth failed for ***"
        );
    }
}
