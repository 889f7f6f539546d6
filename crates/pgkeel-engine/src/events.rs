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
    /// A NOTICE or WARNING the server sent while running migration SQL.
    ServerNotice {
        severity: String,
        message: String,
    },
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
