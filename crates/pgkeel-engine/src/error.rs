//! The engine's error type. Every variant says what failed and where; the CLI and the MCP server
//! turn these into messages (and exit codes / tool errors) in one place each.

use std::path::PathBuf;
use std::time::Duration;

use serde::Serialize;

use crate::plan::Blocker;

pub type Result<T, E = Error> = std::result::Result<T, E>;

fn empty_message(template: bool, command: &str) -> String {
    if template {
        format!("still the empty template `pgkeel new` wrote, with no SQL statement; write the migration's SQL into it, then run `{command}` again (nothing was applied or recorded)")
    } else {
        format!("has no SQL statement (it is empty, only comments or only `;`); recording it as applied would make SQL written into it later a checksum mismatch. Write its SQL into it, delete it, or record it anyway with `{command} --allow-empty` (MCP apply_migration: `allow_empty: true`); nothing was applied or recorded")
    }
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error("{path}: not valid UTF-8 at byte offset {offset}; save the file as UTF-8")]
    NonUtf8 { path: String, offset: usize },

    #[error("duplicate migration version {version}: {first} and {second}; give one of them another version")]
    DuplicateVersion {
        version: String,
        first: String,
        second: String,
    },

    #[error("{path}: the name matches no migration naming scheme (NNN_name.sql, YYYYMMDDHHMMSS_name.sql, YYYYMMDD_name.sql, YYYYMMDD_HH_name.sql); rename it, or add .skip to ignore it")]
    UnmatchedName { path: String },

    #[error("{path}:{line}:{column}: {message}")]
    Directive {
        path: String,
        line: usize,
        column: usize,
        message: String,
    },

    #[error("{path}:{line}:{column}: statement {statement}: {message}")]
    Unrunnable {
        path: String,
        line: usize,
        column: usize,
        statement: usize,
        message: String,
    },

    /// A psql meta-command (`\i`, `\set`, `\connect`, …): found before anything runs.
    #[error("{path}:{line}:{column}: {message}")]
    MetaCommand {
        path: String,
        line: usize,
        column: usize,
        command: String,
        message: String,
    },

    /// A migration with no statement (empty, only comments, only `;`), refused unless
    /// `--allow-empty` / `allow_empty`. `command`: the command to run again (`pgkeel up`, or
    /// `pgkeel dev reset` when the reset's replay refused it).
    #[error("{path}: {}", empty_message(*template, command))]
    EmptyMigration {
        path: String,
        template: bool,
        command: &'static str,
    },

    #[error("{0}")]
    DownFile(String),

    #[error("configuration: {0}")]
    Config(String),

    #[error("cannot connect to {target}: {message}")]
    Connect { target: String, message: String },

    #[error("{context}: {}", crate::db::describe_pg_error(.source))]
    Db {
        context: String,
        #[source]
        source: tokio_postgres::Error,
    },

    /// The server stopped answering (a catalog query's client-side deadline passed) or the
    /// connection broke outside a migration statement.
    #[error("{context}: {message}")]
    ConnectionLost { context: String, message: String },

    #[error("timed out after {}s waiting for the migration lock{}", .waited.as_secs_f64().round(), .holder.as_ref().map(|h| format!(": held by {h}")).unwrap_or_default())]
    LockTimeout {
        waited: Duration,
        holder: Option<LockHolder>,
    },

    #[error("{}", blocked_message(.0))]
    Blocked(Vec<Blocker>),

    /// Lint found error-severity problems in migrations about to run (see [`crate::lint`]).
    #[error("{}", crate::lint::blocked_message(.findings))]
    LintBlocked {
        findings: Vec<crate::lint::LintFinding>,
    },

    #[error("{0}")]
    MigrationFailed(Box<MigrationFailure>),

    #[error("no migration file has version {version}")]
    UnknownVersion { version: String },

    #[error("{0}")]
    Refused(String),

    #[error("the history in schema {schema} has format {found}, newer than this pgkeel understands ({supported}); upgrade pgkeel")]
    HistoryTooNew {
        schema: String,
        found: i32,
        supported: i32,
    },

    /// The project-local dev cluster (`pgkeel dev …`, or the dev database used when no URL is
    /// configured) could not be found, started, stopped or reset.
    #[error("dev database: {message}")]
    Dev {
        problem: DevProblem,
        message: String,
    },
}

/// What kind of dev-cluster problem an [`Error::Dev`] is (its `code()`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DevProblem {
    /// No PostgreSQL server binaries (initdb, pg_ctl, postgres) were found.
    BinariesNotFound,
    /// The configured `[dev] port` is taken by another program.
    PortInUse,
    /// The data directory was made by another PostgreSQL major version.
    VersionMismatch,
    /// Anything else: initdb or the server failed, permissions, ….
    Failed,
}

fn blocked_message(blockers: &[Blocker]) -> String {
    let mut s = String::from("refusing to apply migrations:");
    for b in blockers {
        s.push_str("\n  - ");
        s.push_str(&b.message);
        s.push_str("\n    fix: ");
        s.push_str(&b.fix);
    }
    s
}

/// The session holding the migration lock, as reported on a lock timeout.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LockHolder {
    pub pid: i32,
    pub application_name: String,
    pub client_addr: Option<String>,
    pub user: Option<String>,
    /// When the holding session connected (pgkeel takes the lock right after connecting).
    pub since: Option<String>,
}

impl std::fmt::Display for LockHolder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "pid {}", self.pid)?;
        if !self.application_name.is_empty() {
            write!(f, " ({})", self.application_name)?;
        }
        if let Some(u) = &self.user {
            write!(f, " user {u}")?;
        }
        if let Some(a) = &self.client_addr {
            write!(f, " from {a}")?;
        }
        if let Some(s) = &self.since {
            write!(f, " since {s}")?;
        }
        Ok(())
    }
}

/// Everything known about a failed migration statement.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MigrationFailure {
    pub version: String,
    pub path: String,
    /// 1-based statement number within the migration (None when the server did not say).
    pub statement: Option<usize>,
    pub line: Option<usize>,
    pub column: Option<usize>,
    pub sqlstate: Option<String>,
    pub message: String,
    pub detail: Option<String>,
    pub hint: Option<String>,
    /// The server's context line (e.g. which PL/pgSQL line raised).
    pub context: Option<String>,
    /// What state the database was left in, and what to run next.
    pub outcome: String,
    /// The segment in flight (1-based) and how many the migration has, when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub segment: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub segments: Option<usize>,
    /// The connection to the server was lost (or the server shut down) while it ran: not a
    /// fault of the SQL. Its error code is `connection_lost` (exit 1), not `migration_failed`.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub connection_lost: bool,
    /// The sessions that held the lock the statement waited for, sampled while it waited
    /// (`pid N (application, user, state since …): query`), for a lock or statement timeout.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub blocked_by: Vec<String>,
}

impl std::fmt::Display for MigrationFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "migration {} failed", self.version)?;
        write!(f, "\n  at {}", self.path)?;
        if let (Some(l), Some(c)) = (self.line, self.column) {
            write!(f, ":{l}:{c}")?;
        }
        if let Some(n) = self.statement {
            write!(f, " (statement {n})")?;
        }
        match &self.sqlstate {
            Some(code) => write!(f, "\n  error {code}: {}", self.message)?,
            None => write!(f, "\n  error: {}", self.message)?,
        }
        if let Some(d) = &self.detail {
            write!(f, "\n  detail: {d}")?;
        }
        if let Some(h) = &self.hint {
            write!(f, "\n  hint: {h}")?;
        }
        if let Some(c) = &self.context {
            write!(f, "\n  context: {c}")?;
        }
        for b in &self.blocked_by {
            write!(f, "\n  blocked by {b}")?;
        }
        write!(f, "\n  {}", self.outcome)
    }
}

impl Error {
    /// An [`Error::EmptyMigration`] refused by `command`'s own replay (`pgkeel dev reset`,
    /// `pgkeel types verify`), so that its message names that command's flag; other errors
    /// as they are.
    pub fn for_command(self, command: &'static str) -> Error {
        match self {
            Error::EmptyMigration { path, template, .. } => Error::EmptyMigration {
                path,
                template,
                command,
            },
            e => e,
        }
    }

    pub(crate) fn db(context: impl Into<String>, source: tokio_postgres::Error) -> Error {
        Error::Db {
            context: context.into(),
            source,
        }
    }

    pub(crate) fn dev(problem: DevProblem, message: impl Into<String>) -> Error {
        Error::Dev {
            problem,
            message: message.into(),
        }
    }

    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Error {
        Error::Io {
            path: path.into(),
            source,
        }
    }

    /// A short, stable name for the kind of error (used in JSON output and MCP tool errors).
    pub fn code(&self) -> &'static str {
        match self {
            Error::Io { .. } => "io",
            Error::NonUtf8 { .. } => "non_utf8",
            Error::DuplicateVersion { .. } => "duplicate_version",
            Error::UnmatchedName { .. } => "unmatched_name",
            Error::Directive { .. } => "bad_directive",
            Error::Unrunnable { .. } => "unrunnable_migration",
            Error::MetaCommand { .. } => "psql_meta_command",
            Error::EmptyMigration { .. } => "empty_migration",
            Error::DownFile(_) => "bad_down_file",
            Error::Config(_) => "config",
            Error::Connect { .. } => "connect",
            Error::Db { source, .. } if crate::db::is_connection_error(source) => "connection_lost",
            Error::Db { .. } => "database",
            Error::ConnectionLost { .. } => "connection_lost",
            Error::LockTimeout { .. } => "lock_timeout",
            Error::Blocked(_) => "blocked",
            Error::LintBlocked { .. } => "lint_blocked",
            Error::MigrationFailed(f) if f.connection_lost => "connection_lost",
            Error::MigrationFailed(_) => "migration_failed",
            Error::UnknownVersion { .. } => "unknown_version",
            Error::Refused(_) => "refused",
            Error::HistoryTooNew { .. } => "history_too_new",
            Error::Dev { problem, .. } => match problem {
                DevProblem::BinariesNotFound => "dev_binaries_not_found",
                DevProblem::PortInUse => "dev_port_in_use",
                DevProblem::VersionMismatch => "dev_version_mismatch",
                DevProblem::Failed => "dev",
            },
        }
    }
}
