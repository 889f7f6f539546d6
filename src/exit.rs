//! Exit codes (documented in docs/TOOLS.md; scripts rely on them).

use pgkeel_engine::Error;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// 0: success.
    Ok = 0,
    /// 1: a database, connection or file-system error (also a connection lost while a
    /// migration ran: not the SQL's fault).
    Error = 1,
    /// 2: bad usage, configuration or migration files (duplicates, bad names with --strict,
    /// non-UTF-8, unknown directives, unrunnable SQL).
    Usage = 2,
    /// 3: `status --check` found migrations pending or needing a fix; `types verify` found the
    /// committed types out of date.
    Check = 3,
    /// 4: pgkeel refused: `up` is blocked (modified, missing, failed, out of order), or a repair
    /// or baseline does not apply.
    Refused = 4,
    /// 5: timed out waiting for another applier's lock.
    LockTimeout = 5,
    /// 6: a migration failed (or failed in a dry run).
    MigrationFailed = 6,
}

impl Exit {
    pub fn of(e: &Error) -> Exit {
        match e {
            Error::Io { .. }
            | Error::Connect { .. }
            | Error::Db { .. }
            | Error::ConnectionLost { .. }
            | Error::Dev { .. } => Exit::Error,
            Error::NonUtf8 { .. }
            | Error::DuplicateVersion { .. }
            | Error::UnmatchedName { .. }
            | Error::Directive { .. }
            | Error::Unrunnable { .. }
            | Error::MetaCommand { .. }
            | Error::EmptyMigration { .. }
            | Error::DownFile(_)
            | Error::Config(_)
            | Error::UnknownVersion { .. } => Exit::Usage,
            Error::Blocked(_) | Error::Refused(_) | Error::HistoryTooNew { .. } => Exit::Refused,
            Error::LintBlocked { .. } => Exit::Refused,
            Error::LockTimeout { .. } => Exit::LockTimeout,
            Error::MigrationFailed(f) => Exit::of_failure(f),
        }
    }

    /// A failed migration exits 6, unless the connection was lost while it ran (exit 1, code
    /// `connection_lost`, as docs/TOOLS.md says).
    pub fn of_failure(f: &pgkeel_engine::error::MigrationFailure) -> Exit {
        if f.connection_lost {
            Exit::Error
        } else {
            Exit::MigrationFailed
        }
    }
}

impl From<Exit> for std::process::ExitCode {
    fn from(e: Exit) -> Self {
        std::process::ExitCode::from(e as u8)
    }
}
