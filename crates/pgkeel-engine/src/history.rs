//! The history model: what pgkeel records per migration. Pure types; the SQL that reads and writes
//! them lives in [`crate::db::history`].

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// The recorded state of one migration.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// An applier started it and has not finished. When no applier holds the lock, the applier
    /// died: the migration is interrupted and `up` resumes it.
    Running,
    Applied,
    /// Marked applied by `pgkeel baseline` without running it.
    Baselined,
    /// The last attempt failed; `up` refuses until `repair --resolve-failed`.
    Failed,
    /// A failed migration whose cause was fixed (`repair --resolve-failed`); `up` runs it again
    /// from its resume point.
    Pending,
    /// Undone by a rollback (a later release).
    RolledBack,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Running => "running",
            Status::Applied => "applied",
            Status::Baselined => "baselined",
            Status::Failed => "failed",
            Status::Pending => "pending",
            Status::RolledBack => "rolled_back",
        }
    }

    pub fn parse(s: &str) -> Option<Status> {
        Some(match s {
            "running" => Status::Running,
            "applied" => Status::Applied,
            "baselined" => Status::Baselined,
            "failed" => Status::Failed,
            "pending" => Status::Pending,
            "rolled_back" => Status::RolledBack,
            _ => return None,
        })
    }

    /// Applied or baselined: the schema has this migration.
    pub fn is_applied(self) -> bool {
        matches!(self, Status::Applied | Status::Baselined)
    }
}

/// One row of the history table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HistoryRow {
    pub version: String,
    pub name: String,
    pub path: String,
    pub checksum: String,
    pub status: Status,
    pub statements: i32,
    pub segments_total: i32,
    /// How many segments completed: the resume point of an interrupted or failed migration.
    pub segments_done: i32,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
    pub duration_ms: Option<i64>,
    pub applied_by: String,
    pub application_name: Option<String>,
    pub client_addr: Option<String>,
    pub backend_pid: Option<i32>,
    /// The failure, as recorded (see [`crate::error::MigrationFailure`]).
    pub error: Option<serde_json::Value>,
    /// The lint findings accepted when it was applied: `[{rule, reason, source}]` (empty before
    /// history format 2).
    #[serde(default)]
    pub lint_accepted: serde_json::Value,
}
