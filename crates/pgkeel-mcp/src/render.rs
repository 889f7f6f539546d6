//! Tool results: a short text summary plus structured content, and engine errors as tool errors
//! (`isError: true`) that say what failed, where, the SQLSTATE and hint, and what to call next.

use pgkeel_engine::Error;
use rmcp::model::{CallToolResult, ContentBlock};
use serde::Serialize;
use serde_json::{json, Value};

/// A successful result: `summary` as the text the model reads, `value` as structured content.
pub fn ok<T: Serialize>(summary: impl Into<String>, value: &T) -> CallToolResult {
    let mut r = CallToolResult::structured(serde_json::to_value(value).unwrap_or(Value::Null));
    r.content = vec![ContentBlock::text(summary.into())];
    r
}

/// A result that carries a failure the model must notice (e.g. a failed dry run).
pub fn failed<T: Serialize>(summary: impl Into<String>, value: &T) -> CallToolResult {
    let mut r =
        CallToolResult::structured_error(serde_json::to_value(value).unwrap_or(Value::Null));
    r.content = vec![ContentBlock::text(summary.into())];
    r
}

/// A tool error from a plain message (bad arguments, refused in read-only mode, …).
pub fn refused(code: &str, message: impl Into<String>, next: &str) -> CallToolResult {
    let message = message.into();
    let mut r = CallToolResult::structured_error(json!({
        "error": {"code": code, "message": message, "next": next}
    }));
    r.content = vec![ContentBlock::text(format!("{message}\nNext: {next}"))];
    r
}

/// An engine error as a tool error.
pub fn error(e: &Error) -> CallToolResult {
    let next = next_step(e);
    let mut detail = json!({"code": e.code(), "message": e.to_string(), "next": next});
    match e {
        Error::Blocked(b) => detail["blockers"] = json!(b),
        Error::LintBlocked { findings } => detail["lint"] = json!(findings),
        Error::MigrationFailed(f) => detail["failure"] = json!(f),
        Error::LockTimeout { holder, .. } => detail["holder"] = json!(holder),
        _ => {}
    }
    let mut r = CallToolResult::structured_error(json!({ "error": detail }));
    r.content = vec![ContentBlock::text(format!("{e}\nNext: {next}"))];
    r
}

fn next_step(e: &Error) -> &'static str {
    match e {
        Error::Blocked(_) => "call migration_status to see each blocker and its fix; repairs (pgkeel repair …) are run by a person with the pgkeel CLI",
        Error::MigrationFailed(f) if f.connection_lost => "the database connection was lost (not a fault of the SQL): call migration_status once the database answers again; it shows the migration as interrupted or pending, then call apply_migration again (it resumes after the completed segments)",
        Error::MigrationFailed(_) => "fix the SQL at the reported line, then call plan_migration again before apply_migration",
        Error::LintBlocked { .. } => "fix the SQL (plan_migration shows the findings and the safe form), or, if the user agreed to the risk, call apply_migration again with accept_lint: [{\"rule\": RULE, \"reason\": why it is safe}] (written into the file as a `-- pgkeel:accept RULE reason` line, so later replays need no flags)",
        Error::LockTimeout { .. } => "another applier is running migrations; call migration_status, then retry",
        Error::Connect { .. } => "the server cannot reach the database; check the database URL pgkeel was started with",
        Error::Refused(_) => "follow the message; call migration_status or describe_schema to check the current state",
        Error::Unrunnable { .. } | Error::Directive { .. } => "fix the SQL or directive at the reported line and call plan_migration again",
        Error::MetaCommand { .. } => "rewrite the psql meta-command as SQL (the message says how) and call plan_migration again",
        Error::EmptyMigration { .. } => "write the migration's SQL into the file (or pass sql to apply_migration); to record an empty migration on purpose, call apply_migration with {version, allow_empty: true}",
        Error::Config(_) | Error::UnknownVersion { .. } => "check the arguments (versions are written as in file names, e.g. 20240101120000) and call migration_status to list them",
        Error::DuplicateVersion { .. } | Error::NonUtf8 { .. } | Error::UnmatchedName { .. } | Error::DownFile(_) => {
            "a migration file in the project needs fixing by a person (see the message)"
        }
        Error::ConnectionLost { .. } => "the database stopped answering or the connection broke: call migration_status again in a moment; if it keeps failing, a person needs to check the database server",
        Error::Db { source, .. } if pgkeel_engine::db::is_connection_error(source) => "the database connection broke: call the tool again in a moment (a new connection is opened); if it keeps failing, a person needs to check the database server",
        Error::Db { .. } => "read the SQLSTATE and hint in the message; for a query, correct it and call execute_sql again",
        Error::Io { .. } | Error::HistoryTooNew { .. } | Error::Dev { .. } => "a person needs to look at the server's environment (see the message)",
    }
}
