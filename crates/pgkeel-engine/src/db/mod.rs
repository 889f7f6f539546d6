//! Everything that talks to PostgreSQL. Every SQL statement pgkeel itself sends lives in this
//! module tree: [`history`] (the history schema), [`lock`] (one applier at a time), [`apply`]
//! (running migrations and dry runs) and [`query`] (guarded ad-hoc SQL).

pub mod apply;
pub mod history;
pub mod lock;
pub mod query;
pub mod tls;

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use tokio_postgres::{AsyncMessage, Client};

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
    let password = config
        .get_password()
        .map(|p| String::from_utf8_lossy(p).into_owned());
    if config.get_application_name().is_none() {
        config.application_name(format!("{APPLICATION_NAME} {purpose}"));
    }
    if config.get_connect_timeout().is_none() {
        config.connect_timeout(Duration::from_secs(10));
    }
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

/// Remove a password from a message, in case a driver echoed it.
fn scrub(message: &str, password: Option<&str>) -> String {
    match password {
        Some(p) if p.len() >= 3 => message.replace(p, "***"),
        _ => message.to_string(),
    }
}

/// A one-line description of a driver error: SQLSTATE, message, detail and hint for server
/// errors; the error and its causes otherwise.
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
