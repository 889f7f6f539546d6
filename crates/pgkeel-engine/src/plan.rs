//! Planning: migration files against recorded history.
//!
//! Pure: no I/O. Every version that appears in the files or in history gets exactly one
//! [`State`]. `up` refuses to run while any [`Blocker`] remains; each blocker names the file and
//! the command that resolves it.

use serde::Serialize;

use crate::history::{HistoryRow, Status};
use crate::migration::Migration;
use crate::version::Version;

/// Where one migration stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum State {
    /// Applied (or baselined) and the file is unchanged.
    Applied,
    /// Not yet applied.
    Pending,
    /// Not yet applied but older than the newest applied migration.
    OutOfOrder,
    /// Applied, but the file's checksum differs from the recorded one.
    Modified,
    /// Recorded in history, but no file has this version.
    Missing,
    /// The last attempt failed and is unresolved.
    Failed,
    /// An applier started it and died (no applier holds the lock): `up` resumes it.
    Interrupted,
    /// Another applier is running it right now.
    Running,
    /// Rolled back; `up` applies it again.
    RolledBack,
}

impl State {
    pub fn as_str(self) -> &'static str {
        match self {
            State::Applied => "applied",
            State::Pending => "pending",
            State::OutOfOrder => "out_of_order",
            State::Modified => "modified",
            State::Missing => "missing",
            State::Failed => "failed",
            State::Interrupted => "interrupted",
            State::Running => "running",
            State::RolledBack => "rolled_back",
        }
    }

    /// States that `up` would run.
    pub fn is_runnable(self) -> bool {
        matches!(
            self,
            State::Pending | State::OutOfOrder | State::Interrupted | State::RolledBack
        )
    }
}

/// One line of the plan.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PlanEntry {
    pub version: String,
    pub name: String,
    /// The file's path, or the recorded path when the file is missing.
    pub path: String,
    pub state: State,
    pub file_checksum: Option<String>,
    pub history_checksum: Option<String>,
    /// Segments already done (resume point) for interrupted, failed or resolved migrations.
    pub segments_done: Option<i32>,
    pub segments_total: Option<i32>,
    pub has_down: bool,
    /// Checksum of the down SQL (section or sibling file), when there is one.
    pub down_checksum: Option<String>,
    #[serde(skip)]
    pub sort: Option<Version>,
    /// The history row, when there is one.
    pub history: Option<HistoryRow>,
}

/// Something that stops `up`, with the command that resolves it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Blocker {
    pub version: String,
    pub path: String,
    pub state: State,
    pub message: String,
    pub fix: String,
}

/// Files against history, in version order.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Plan {
    pub entries: Vec<PlanEntry>,
    /// Another applier held the lock when the plan was made.
    pub applier_active: bool,
}

/// Counts per state, for summaries.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Counts {
    pub applied: usize,
    pub pending: usize,
    pub out_of_order: usize,
    pub modified: usize,
    pub missing: usize,
    pub failed: usize,
    pub interrupted: usize,
    pub running: usize,
    pub rolled_back: usize,
}

/// Who is alive right now, as far as a `running` history row is concerned.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Liveness {
    /// Another session holds the migration lock (an applier is at work).
    pub applier_active: bool,
    /// Server backends that exist now. A `running` row whose recorded backend is among them is
    /// still executing on the server even if its applier died (a killed client's statement runs
    /// on until the server notices the closed connection).
    pub live_backends: Vec<i32>,
}

/// Build the plan: a `running` row is `running` while its applier or its server backend is
/// alive, `interrupted` otherwise.
pub fn build(files: &[Migration], history: &[HistoryRow], live: &Liveness) -> Plan {
    let applier_active = live.applier_active;
    let backend_alive = |r: &HistoryRow| {
        r.backend_pid
            .is_some_and(|pid| live.live_backends.contains(&pid))
    };
    let mut rows: Vec<(Option<Version>, &HistoryRow)> = history
        .iter()
        .map(|r| (Version::parse(&r.version), r))
        .collect();
    rows.sort_by(|a, b| a.0.cmp(&b.0).then_with(|| a.1.version.cmp(&b.1.version)));

    let newest_applied = rows
        .iter()
        .filter(|(_, r)| r.status.is_applied())
        .filter_map(|(v, _)| v.clone())
        .max();

    let mut entries = Vec::with_capacity(files.len().max(rows.len()));
    let mut used = vec![false; rows.len()];
    for m in files {
        let found = rows
            .binary_search_by(|(v, _)| match v {
                Some(v) => v.cmp(&m.version),
                None => std::cmp::Ordering::Less,
            })
            .ok();
        let row = found.map(|i| {
            used[i] = true;
            rows[i].1
        });
        let state = match row {
            None => pending_state(&m.version, newest_applied.as_ref()),
            Some(r) => {
                let same = r.checksum == m.checksum;
                match r.status {
                    Status::Applied | Status::Baselined if same => State::Applied,
                    Status::Applied | Status::Baselined => State::Modified,
                    Status::Failed => State::Failed,
                    // A partial run only resumes on the same file; otherwise the resume point
                    // means nothing.
                    Status::Running | Status::Pending if r.segments_done > 0 && !same => {
                        State::Modified
                    }
                    Status::Running if applier_active || backend_alive(r) => State::Running,
                    Status::Running => State::Interrupted,
                    Status::Pending => pending_state(&m.version, newest_applied.as_ref()),
                    Status::RolledBack => State::RolledBack,
                }
            }
        };
        entries.push(PlanEntry {
            version: m.version.to_string(),
            name: m.name.clone(),
            path: m.path.clone(),
            state,
            file_checksum: Some(m.checksum.clone()),
            history_checksum: row.map(|r| r.checksum.clone()),
            segments_done: row.map(|r| r.segments_done),
            segments_total: row.map(|r| r.segments_total),
            has_down: m.down.is_some(),
            down_checksum: m.down.as_ref().map(|d| d.checksum.clone()),
            sort: Some(m.version.clone()),
            history: row.cloned(),
        });
    }
    for (i, (v, r)) in rows.iter().enumerate() {
        if used[i] || r.status == Status::RolledBack {
            continue;
        }
        entries.push(PlanEntry {
            version: r.version.clone(),
            name: r.name.clone(),
            path: r.path.clone(),
            state: State::Missing,
            file_checksum: None,
            history_checksum: Some(r.checksum.clone()),
            segments_done: Some(r.segments_done),
            segments_total: Some(r.segments_total),
            has_down: false,
            down_checksum: None,
            sort: v.clone(),
            history: Some((*r).clone()),
        });
    }
    entries.sort_by(|a, b| a.sort.cmp(&b.sort).then_with(|| a.version.cmp(&b.version)));
    Plan {
        entries,
        applier_active,
    }
}

fn pending_state(v: &Version, newest_applied: Option<&Version>) -> State {
    match newest_applied {
        Some(n) if v < n => State::OutOfOrder,
        _ => State::Pending,
    }
}

impl Counts {
    /// `7 applied, 1 pending, 1 modified`: the applied count, then every other non-zero state.
    pub fn summary(&self) -> String {
        let mut parts = vec![format!("{} applied", self.applied)];
        for (n, label) in [
            (self.pending, "pending"),
            (self.out_of_order, "out of order"),
            (self.modified, "modified"),
            (self.missing, "missing"),
            (self.failed, "failed"),
            (self.interrupted, "interrupted"),
            (self.running, "running"),
            (self.rolled_back, "rolled back"),
        ] {
            if n > 0 {
                parts.push(format!("{n} {label}"));
            }
        }
        parts.join(", ")
    }
}

impl Plan {
    pub fn counts(&self) -> Counts {
        let mut c = Counts::default();
        for e in &self.entries {
            *match e.state {
                State::Applied => &mut c.applied,
                State::Pending => &mut c.pending,
                State::OutOfOrder => &mut c.out_of_order,
                State::Modified => &mut c.modified,
                State::Missing => &mut c.missing,
                State::Failed => &mut c.failed,
                State::Interrupted => &mut c.interrupted,
                State::Running => &mut c.running,
                State::RolledBack => &mut c.rolled_back,
            } += 1;
        }
        c
    }

    /// Entries `up` would run, up to and including `to`.
    pub fn runnable<'a>(
        &'a self,
        to: Option<&'a Version>,
    ) -> impl Iterator<Item = &'a PlanEntry> + 'a {
        self.entries.iter().filter(move |e| {
            e.state.is_runnable()
                && match (to, &e.sort) {
                    (Some(to), Some(v)) => v <= to,
                    _ => true,
                }
        })
    }

    /// True when nothing needs doing or fixing.
    pub fn is_clean(&self) -> bool {
        self.entries.iter().all(|e| e.state == State::Applied)
    }

    /// Everything that stops `up` (with `--to`, out-of-order files beyond it do not count).
    pub fn blockers(&self, allow_out_of_order: bool, to: Option<&Version>) -> Vec<Blocker> {
        let mut out = Vec::new();
        for e in &self.entries {
            let short = |c: &Option<String>| {
                c.as_deref()
                    .map(|c| c.chars().take(12).collect::<String>())
                    .unwrap_or_default()
            };
            let (message, fix) = match e.state {
                State::Modified => {
                    let partial = e
                        .history
                        .as_ref()
                        .is_some_and(|h| !h.status.is_applied());
                    if partial {
                        (
                            format!(
                                "migration {} ({}) changed after {} of its {} segments ran (recorded checksum {}…, file {}…)",
                                e.version, e.path, e.segments_done.unwrap_or(0), e.segments_total.unwrap_or(0),
                                short(&e.history_checksum), short(&e.file_checksum)
                            ),
                            format!(
                                "restore the file as it was (git checkout -- {}), or if the edit only touches segments that have not run, run `pgkeel repair --accept-checksum {}`",
                                e.path, e.version
                            ),
                        )
                    } else {
                        (
                            format!(
                                "migration {} ({}) was edited after it was applied (recorded checksum {}…, file {}…)",
                                e.version, e.path, short(&e.history_checksum), short(&e.file_checksum)
                            ),
                            format!(
                                "restore the file (git checkout -- {}) and put further changes in a new migration (`pgkeel new NAME`); if the edit is intentional and already reflected in the database, run `pgkeel repair --accept-checksum {}`",
                                e.path, e.version
                            ),
                        )
                    }
                }
                State::Missing => (
                    format!(
                        "migration {} is recorded in history (as {}) but no file has that version",
                        e.version, e.path
                    ),
                    format!(
                        "restore {} (e.g. from git), or if it was deleted on purpose run `pgkeel repair --forget {}`",
                        e.path, e.version
                    ),
                ),
                State::Failed => {
                    let err = e
                        .history
                        .as_ref()
                        .and_then(|h| h.error.as_ref())
                        .and_then(|v| v.get("message"))
                        .and_then(|m| m.as_str())
                        .unwrap_or("unknown error");
                    let resume = match (e.segments_done, e.segments_total) {
                        (Some(d), Some(t)) if d > 0 => {
                            format!(" from segment {} of {t} (the first {d} completed)", d + 1)
                        }
                        _ => String::new(),
                    };
                    (
                        format!("migration {} ({}) failed: {err}", e.version, e.path),
                        format!(
                            "fix the cause (edit the file if its SQL is wrong), then run `pgkeel repair --resolve-failed {}`; the next `pgkeel up` runs it again{resume}",
                            e.version
                        ),
                    )
                }
                // Running without a live applier: the applier died but the server still executes
                // its statement. Running it again now would collide with it.
                State::Running if !self.applier_active => {
                    let pid = e
                        .history
                        .as_ref()
                        .and_then(|h| h.backend_pid)
                        .map_or_else(|| "?".to_string(), |p| p.to_string());
                    (
                        format!(
                            "migration {} ({}) is still executing on server backend pid {pid}, although the pgkeel process that started it is gone",
                            e.version, e.path
                        ),
                        format!(
                            "wait for it to finish (`pgkeel status` shows it as interrupted then), or stop it with SELECT pg_cancel_backend({pid}); then run `pgkeel up`"
                        ),
                    )
                }
                State::OutOfOrder if !allow_out_of_order => {
                    if matches!((to, &e.sort), (Some(t), Some(v)) if v > t) {
                        continue;
                    }
                    (
                        format!(
                            "migration {} ({}) is pending but older than the newest applied migration",
                            e.version, e.path
                        ),
                        "give it a version newer than the newest applied one (`pgkeel new NAME` makes one), or run `pgkeel up --allow-out-of-order` if the order does not matter".to_string(),
                    )
                }
                _ => continue,
            };
            out.push(Blocker {
                version: e.version.clone(),
                path: e.path.clone(),
                state: e.state,
                message,
                fix,
            });
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(file: &str, sql: &str) -> Migration {
        let p = crate::version::parse_file_name(file).unwrap();
        Migration::from_text(p.version, p.name, format!("migrations/{file}"), sql).unwrap()
    }

    fn row(mig: &Migration, status: Status) -> HistoryRow {
        HistoryRow {
            version: mig.version.to_string(),
            name: mig.name.clone(),
            path: mig.path.clone(),
            checksum: mig.checksum.clone(),
            status,
            statements: 1,
            segments_total: 1,
            segments_done: if status.is_applied() { 1 } else { 0 },
            started_at: None,
            finished_at: None,
            duration_ms: None,
            applied_by: "u".into(),
            application_name: None,
            client_addr: None,
            backend_pid: None,
            error: None,
            lint_accepted: serde_json::json!([]),
        }
    }

    fn states(p: &Plan) -> Vec<(String, State)> {
        p.entries
            .iter()
            .map(|e| (e.version.clone(), e.state))
            .collect()
    }

    #[test]
    fn classifies_every_state() {
        let a = m("001_a.sql", "select 1;");
        let b = m("002_b.sql", "select 2;");
        let c = m("003_c.sql", "select 3;");
        let d = m("004_d.sql", "select 4;");
        let e = m("005_e.sql", "select 5;");
        let f = m("006_f.sql", "select 6;");
        let gone = m("000_gone.sql", "select 0;");
        let mut edited = row(&b, Status::Applied);
        edited.checksum = "0".repeat(64);
        let history = vec![
            row(&gone, Status::Applied),
            row(&a, Status::Applied),
            edited,
            row(&d, Status::Failed),
            row(&e, Status::Running),
            row(&f, Status::Applied),
        ];
        let files = vec![a, b, c, d.clone(), e, f];
        let p = build(&files, &history, &Liveness::default());
        let s = |v: &str| (v.to_string(), State::Applied);
        assert_eq!(
            states(&p),
            vec![
                ("000".into(), State::Missing),
                s("001"),
                ("002".into(), State::Modified),
                ("003".into(), State::OutOfOrder),
                ("004".into(), State::Failed),
                ("005".into(), State::Interrupted),
                s("006"),
            ]
        );
        let blockers = p.blockers(false, None);
        let kinds: Vec<_> = blockers.iter().map(|b| b.state).collect();
        assert_eq!(
            kinds,
            [
                State::Missing,
                State::Modified,
                State::OutOfOrder,
                State::Failed
            ]
        );
        assert!(blockers[0].fix.contains("pgkeel repair --forget 000"));
        assert!(blockers[1].fix.contains("--accept-checksum 002"));
        assert!(blockers[3].fix.contains("--resolve-failed 004"));
        assert_eq!(p.blockers(true, None).len(), 3);
        let runnable: Vec<_> = p.runnable(None).map(|e| e.version.as_str()).collect();
        assert_eq!(runnable, ["003", "005"]);
        // With another applier holding the lock, a running row is in progress, not interrupted.
        let live = Liveness {
            applier_active: true,
            live_backends: vec![],
        };
        let p = build(&files, &history, &live);
        assert_eq!(p.entries[5].state, State::Running);
        assert!(
            !p.blockers(true, None)
                .iter()
                .any(|b| b.state == State::Running),
            "up waits for the lock instead"
        );
        // The applier died but its backend still runs the statement: running, and a blocker.
        let mut rows = history.clone();
        rows[4].backend_pid = Some(4242);
        let live = Liveness {
            applier_active: false,
            live_backends: vec![4242],
        };
        let p = build(&files, &rows, &live);
        assert_eq!(p.entries[5].state, State::Running);
        let b = p.blockers(true, None);
        assert!(b
            .iter()
            .any(|b| b.state == State::Running && b.fix.contains("pg_cancel_backend(4242)")));
        let _ = d;
    }

    #[test]
    fn pending_in_order_and_to_limit() {
        let a = m("001_a.sql", "select 1;");
        let b = m("20240101_b.sql", "select 2;");
        let c = m("20240102_c.sql", "select 3;");
        let p = build(
            &[a.clone(), b, c],
            &[row(&a, Status::Applied)],
            &Liveness::default(),
        );
        assert_eq!(p.counts().pending, 2);
        let to = Version::parse("20240101").unwrap();
        let r: Vec<_> = p.runnable(Some(&to)).map(|e| e.version.as_str()).collect();
        assert_eq!(r, ["20240101"]);
        assert!(p.blockers(false, None).is_empty());
        assert!(!p.is_clean());
    }

    #[test]
    fn partial_run_of_an_edited_file_is_modified() {
        let a = m("001_a.sql", "select 1;");
        let mut r = row(&a, Status::Running);
        r.segments_done = 1;
        r.segments_total = 3;
        r.checksum = "f".repeat(64);
        let p = build(std::slice::from_ref(&a), &[r.clone()], &Liveness::default());
        assert_eq!(p.entries[0].state, State::Modified);
        assert!(p.blockers(false, None)[0]
            .message
            .contains("after 1 of its 3 segments"));
        // Not started yet: the new content simply runs.
        r.segments_done = 0;
        let p = build(&[a], &[r], &Liveness::default());
        assert_eq!(p.entries[0].state, State::Interrupted);
    }
}
