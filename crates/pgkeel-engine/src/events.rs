//! Progress events. Long operations report through an [`Events`] sink: the CLI draws them as a
//! progress bar or plain lines, the MCP server sends them as progress notifications.

use crate::error::LockHolder;

#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// Another applier holds the migration lock; waiting for it.
    LockWaiting {
        holder: Option<LockHolder>,
    },
    LockAcquired,
    /// The history schema was created or upgraded to `format`.
    HistoryUpgraded {
        format: i32,
    },
    /// `up` is about to run `total` migrations.
    Planned {
        total: usize,
    },
    /// Migration `index` (0-based) of `total` starts; `resume_from` > 0 when resuming.
    MigrationStarted {
        index: usize,
        total: usize,
        version: String,
        name: String,
        resume_from: usize,
        segments: usize,
    },
    /// A segment of the current migration completed.
    SegmentDone {
        version: String,
        segment: usize,
        segments: usize,
    },
    MigrationApplied {
        index: usize,
        total: usize,
        version: String,
        duration_ms: u64,
    },
    MigrationFailed {
        version: String,
    },
    /// A statement of `version` met a lock timeout; `up` tries again after `wait_ms`
    /// (attempt `attempt` of `retries` retries, `[apply] lock_retries`).
    LockRetry {
        version: String,
        /// 1-based statement number, when known.
        statement: Option<usize>,
        attempt: u32,
        retries: u32,
        wait_ms: u64,
        /// Who held the lock, sampled while the statement waited.
        blocked_by: Vec<String>,
    },
    /// A NOTICE or WARNING the server sent while running migration SQL.
    ServerNotice {
        severity: String,
        message: String,
    },
}

/// The line both faces print for [`Event::LockRetry`] (`None` for any other event), e.g.
/// `lock timeout at statement 2 of 20240401 (blocked by pid 4242 (psql, …): LOCK TABLE t); retry
/// 1 of 3 in 1000 ms`.
pub fn lock_retry_line(event: &Event) -> Option<String> {
    let Event::LockRetry {
        version,
        statement,
        attempt,
        retries,
        wait_ms,
        blocked_by,
    } = event
    else {
        return None;
    };
    Some(format!(
        "lock timeout {}of {version}{}; retry {attempt} of {retries} in {wait_ms} ms",
        statement.map_or(String::new(), |n| format!("at statement {n} ")),
        if blocked_by.is_empty() {
            String::new()
        } else {
            format!(" (blocked by {})", blocked_by.join("; "))
        }
    ))
}

/// Receives events. Implementations must be cheap: events arrive on the hot path.
pub trait Events: Send + Sync {
    fn event(&self, event: Event);
}

/// Drops every event.
pub struct NoEvents;

impl Events for NoEvents {
    fn event(&self, _: Event) {}
}
