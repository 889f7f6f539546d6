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
use std::task::{Context, Poll};
use std::time::Duration;

use futures_util::StreamExt;
use tokio_postgres::error::SqlState;
use tokio_postgres::{AsyncMessage, Client, SimpleQueryMessage};

use crate::config::redact_url;
use crate::error::{Error, Result};
use crate::events::{Event, Events};

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
pub async fn connect(
    url: &str,
    purpose: &str,
    events: Option<Arc<dyn Events>>,
) -> Result<Connection> {
    let (config, tls, target) = driver_config(url, purpose)?;
    let password = config
        .get_password()
        .map(|p| String::from_utf8_lossy(p).into_owned());
    let (client, mut connection) = config.connect(tls).await.map_err(|e| Error::Connect {
        target: target.clone(),
        message: scrub(&describe_pg_error(&e), password.as_deref()),
    })?;
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

/// The driver configuration for `url`: TLS as its `sslmode` says (see [`tls`]), pgkeel's
/// application name and a 10 s connect timeout unless the URL sets them. Also returns the URL
/// with its password hidden, for messages.
pub(crate) fn driver_config(
    url: &str,
    purpose: &str,
) -> Result<(
    tokio_postgres::Config,
    tokio_postgres_rustls::MakeRustlsConnect,
    String,
)> {
    let target = redact_url(url);
    let (url, verify) = tls::split_settings(url);
    let tls = tls::connector(&verify).map_err(|message| Error::Connect {
        target: target.clone(),
        message,
    })?;
    let mut config = tokio_postgres::Config::from_str(&url).map_err(|e| Error::Connect {
        target: target.clone(),
        message: scrub(&format!("invalid connection string: {e}"), None),
    })?;
    tls::plain_on_loopback(&mut config, &url);
    if config.get_application_name().is_none() {
        config.application_name(format!("{APPLICATION_NAME} {purpose}"));
    }
    if config.get_connect_timeout().is_none() {
        config.connect_timeout(Duration::from_secs(10));
    }
    Ok((config, tls, target))
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

/// Send `queries` as simple queries in one pipeline (written to the socket at once, answered in
/// order) and collect every result.
pub(crate) async fn pipeline(client: &Client, queries: &[String]) -> Vec<QueryResult> {
    let futures: Vec<_> = queries
        .iter()
        .map(|q| Box::pin(client.simple_query(q)))
        .collect();
    OrderedJoin::new(futures).await
}

/// The first real error of a pipeline: later queries only echo it with 25P02
/// (in_failed_sql_transaction).
pub(crate) fn first_error(results: &[QueryResult]) -> Option<(usize, &tokio_postgres::Error)> {
    let mut fallback = None;
    for (i, r) in results.iter().enumerate() {
        if let Err(e) = r {
            if e.code() != Some(&SqlState::IN_FAILED_SQL_TRANSACTION) {
                return Some((i, e));
            }
            fallback.get_or_insert((i, e));
        }
    }
    fallback
}

/// Polls futures strictly in index order, so the requests they send on first poll reach the
/// server in that order (the pipeline depends on it), and collects every output.
struct OrderedJoin<F: Future> {
    futures: Vec<Option<Pin<Box<F>>>>,
    outputs: Vec<Option<F::Output>>,
}

impl<F: Future> OrderedJoin<F> {
    fn new(futures: Vec<Pin<Box<F>>>) -> Self {
        let n = futures.len();
        OrderedJoin {
            futures: futures.into_iter().map(Some).collect(),
            outputs: (0..n).map(|_| None).collect(),
        }
    }
}

impl<F: Future> Unpin for OrderedJoin<F> {}

impl<F: Future> Future for OrderedJoin<F> {
    type Output = Vec<F::Output>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = &mut *self;
        let mut pending = false;
        for (slot, out) in this.futures.iter_mut().zip(this.outputs.iter_mut()) {
            if let Some(f) = slot {
                match f.as_mut().poll(cx) {
                    Poll::Ready(v) => {
                        *out = Some(v);
                        *slot = None;
                    }
                    Poll::Pending => pending = true,
                }
            }
        }
        if pending {
            Poll::Pending
        } else {
            Poll::Ready(this.outputs.iter_mut().filter_map(Option::take).collect())
        }
    }
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
    fn scrub_hides_passwords() {
        assert_eq!(
            scrub("auth failed for s3cret", Some("s3cret")),
            "auth failed for ***"
        );
    }
}
