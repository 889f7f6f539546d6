//! Writing a new migration from SQL (the MCP tools `plan_migration` and `apply_migration`).
//!
//! `plan_new` changes nothing: it picks the version and path the migration would get, splits
//! and checks it, and dry-runs it after the pending migrations in a transaction that is rolled
//! back. `apply_new` does the same checks, then — under the migration lock — writes the file and
//! applies everything up to it. It is all or nothing for the new migration: when its dry run
//! fails nothing is written, and when it fails for real before any of its segments completed,
//! its file and history row are withdrawn again (the audit log keeps the failure). The version in
//! the file name and in history are the same by construction: both come from one [`Version`].
//!
//! Lint acceptances (`accept_lint`) that cover findings in the new migration are written into
//! its file as `-- pgkeel:accept RULE reason` lines (after any leading directives), so every
//! later replay (`dev reset`, `types verify`, another database) honours them without flags; the
//! plan's checksum is the checksum of that content. Acceptances that only cover findings of
//! pending migrations before it count for this call only.
//!
//! `down` becomes the file's `-- pgkeel:down` section (part of the checksum), checked as a
//! rollback would check it: it must parse and run in a transaction. After a real apply, the
//! result says what a rollback of the new migration would do ([`RollbackOutlook`], from the
//! rollback planning itself).
//!
//! Without a version, the one `plan_new` picks is remembered for the same request (name, SQL,
//! down, acceptances) in [`PlannedVersions`], shared by the Migrator's scoped copies, and
//! `apply_new` uses it while it is still the next free version: a timestamp version planned at
//! one second is the version written at the next.

use std::sync::{Arc, Mutex};

use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::db::apply::DryRun;
use crate::discovery::{Discovered, Warning};
use crate::error::{Error, MigrationFailure, Result};
use crate::lint::accept::Acceptance;
use crate::migration::Migration;
use crate::migrator::{
    folder_for, next_version, parse_version, slugify, Migrator, NewScheme, UpReport,
};
use crate::version::Version;

/// The largest SQL accepted for one new migration.
pub const MAX_SQL_BYTES: usize = 1024 * 1024;
/// The longest name (after slugifying) accepted.
pub const MAX_NAME_CHARS: usize = 100;

/// A migration to write: what it does, its SQL, optionally the version to give it and its down
/// SQL (written as the file's `-- pgkeel:down` section).
#[derive(Debug, Clone, Default)]
pub struct NewMigration {
    pub name: String,
    pub sql: String,
    pub version: Option<String>,
    pub down: Option<String>,
}

/// How many planned versions are remembered (the oldest is forgotten first).
const PLANNED_MAX: usize = 64;

/// The versions `plan_new` chose for requests that gave none, by request (see the module docs).
#[derive(Debug, Clone, Default)]
pub struct PlannedVersions(Arc<Mutex<Vec<(String, Version)>>>);

impl PlannedVersions {
    fn get(&self, key: &str) -> Option<Version> {
        let list = self.0.lock().unwrap_or_else(|p| p.into_inner());
        list.iter().find(|(k, _)| k == key).map(|(_, v)| v.clone())
    }

    fn put(&self, key: String, v: Version) {
        let mut list = self.0.lock().unwrap_or_else(|p| p.into_inner());
        list.retain(|(k, _)| *k != key);
        if list.len() >= PLANNED_MAX {
            list.remove(0);
        }
        list.push((key, v));
    }

    fn forget(&self, key: &str) {
        let mut list = self.0.lock().unwrap_or_else(|p| p.into_inner());
        list.retain(|(k, _)| k != key);
    }
}

/// What the request is, independent of the clock: the key of [`PlannedVersions`].
fn request_key(slug: &str, req: &NewMigration, accept: &[Acceptance]) -> String {
    let mut h = Sha256::new();
    for part in [
        slug,
        req.sql.as_str(),
        req.down.as_deref().unwrap_or("\u{1}"),
    ] {
        h.update(part.as_bytes());
        h.update([0]);
    }
    for a in accept {
        h.update(a.line().as_bytes());
        h.update([0]);
    }
    hex::encode(h.finalize())
}

/// What rolling back a just-applied migration would do, from the rollback planning
/// ([`Migrator::rollback_plan`] for `last: 1`); the `rollback` tool confirms and executes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RollbackOutlook {
    /// The rollback planning accepts it (with down SQL, backups, or both).
    pub possible: bool,
    /// How it would be undone, or why it cannot be.
    pub how: String,
    /// The down SQL statements a rollback runs (absent: none).
    pub down_sql: Option<Vec<String>>,
    /// Tables a rollback restores from the automatic backups: `schema.table (N rows, backup ID)`.
    pub restores: Vec<String>,
}

/// One statement of a planned migration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StatementSummary {
    /// 1-based.
    pub number: usize,
    pub line: usize,
    pub kind: String,
    /// Why it runs on its own, outside a transaction.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub non_transactional: Option<&'static str>,
}

/// What `plan_new` found. Nothing was written or changed.
#[derive(Debug, Clone, Serialize)]
pub struct AuthoringPlan {
    pub version: String,
    pub path: String,
    pub checksum: String,
    /// A file with this version and the same content exists already.
    pub already_exists: bool,
    pub statements: Vec<StatementSummary>,
    pub segments: usize,
    pub notes: Vec<String>,
    pub parse_warnings: Vec<Warning>,
    /// Pending migrations that run before this one.
    pub pending_before: Vec<String>,
    /// The dry run of the pending migrations and this one.
    pub dry_run: Option<DryRun>,
    /// The dry run's failure, if any (also inside `dry_run`).
    pub failure: Option<MigrationFailure>,
    /// Lint findings of the pending migrations and this one (see [`crate::lint`]).
    pub lint: Vec<crate::lint::LintFinding>,
    /// Rule ids of the error findings that block `apply_new` unless accepted.
    pub blocked_by_lint: Vec<String>,
    /// The `-- pgkeel:accept` lines added to the new file (from `accept_lint`; part of
    /// `checksum`).
    pub accept_lines: Vec<String>,
    /// The file has down SQL (from `down`, or a `-- pgkeel:down` section in the SQL).
    pub has_down: bool,
    /// The findings behind `blocked_by_lint`.
    #[serde(skip)]
    pub lint_blocking: Vec<crate::lint::LintFinding>,
}

/// What `apply_new` did.
#[derive(Debug, Clone, Serialize)]
pub struct AuthoringApplied {
    pub version: String,
    pub path: String,
    pub checksum: String,
    /// False when a file with this version and content already existed.
    pub file_written: bool,
    /// Milliseconds the new migration took (absent when it had been applied already).
    pub duration_ms: Option<u64>,
    pub statements: usize,
    /// Pending migrations applied before it, in order.
    pub applied_before: Vec<String>,
    pub notes: Vec<String>,
    /// Backups taken before the applied migrations' statements (see [`crate::db::backup`]).
    pub backups: Vec<crate::db::backup::BackupTaken>,
    /// Rows of the tables the applied migrations touched, before and after.
    pub row_counts: Vec<crate::db::rowcount::RowCount>,
    /// Expectations and health checks after the run (as after `up`; `None` when
    /// `[validate] on_up = "off"` or nothing was applied).
    pub validation: Option<crate::validate::ValidateReport>,
    /// The lint findings of the migrations that ran (accepted ones marked).
    pub lint: Vec<crate::lint::LintFinding>,
    /// The `-- pgkeel:accept` lines written into the new file.
    pub accept_lines: Vec<String>,
    /// What a rollback of the new migration would do (absent when it was not applied now).
    pub rollback: Option<RollbackOutlook>,
}

struct Checked {
    discovered: Discovered,
    migration: Migration,
    already_exists: bool,
    accept_lines: Vec<String>,
    /// The [`PlannedVersions`] key when the request gave no version.
    planned_key: Option<String>,
}

impl Migrator {
    /// Version, path, statements and a dry run for a new migration. Changes nothing.
    pub async fn plan_new(&self, req: &NewMigration) -> Result<AuthoringPlan> {
        self.plan_new_accepting(req, &[]).await
    }

    /// [`Migrator::plan_new`] with lint rules accepted for the call (`accept`, see the module
    /// documentation): the plan shows the file as `apply_new_accepting` would write it.
    pub async fn plan_new_accepting(
        &self,
        req: &NewMigration,
        accept: &[Acceptance],
    ) -> Result<AuthoringPlan> {
        crate::lint::check_accepted(accept)?;
        let checked = self.check_new(req, accept)?;
        if let Some(key) = &checked.planned_key {
            self.planned
                .put(key.clone(), checked.migration.version.clone());
        }
        let conn = self.connect("plan").await?;
        let history = self.history();
        let mut report = UpReport {
            dry_run: true,
            ..UpReport::default()
        };
        let v = checked.migration.version.clone();
        self.run_up(
            &checked.discovered,
            &conn,
            &history,
            Some(&v),
            None,
            false,
            false,
            &mut report,
        )
        .await?;
        // The same pre-flight `apply_new` runs (in `run_up`), with this call's acceptances.
        let mut lint = std::mem::take(&mut report.lint);
        crate::lint::accept::apply_run(accept, &mut lint);
        let lint_blocking: Vec<_> = lint
            .iter()
            .filter(|f| self.config.lint.block && crate::lint::accept::blocks(f))
            .cloned()
            .collect();
        let prepared = checked
            .migration
            .prepare()
            .map_err(|e| unrunnable(&checked.migration, e))?;
        let statements = prepared
            .statements
            .iter()
            .map(|s| StatementSummary {
                number: s.index as usize + 1,
                line: s.line as usize,
                kind: s.kind.to_string(),
                non_transactional: s.non_transactional(),
            })
            .collect();
        let pending_before = report
            .planned
            .iter()
            .filter(|p| *p != v.as_str())
            .cloned()
            .collect();
        Ok(AuthoringPlan {
            version: v.to_string(),
            path: checked.migration.path.clone(),
            checksum: checked.migration.checksum.clone(),
            already_exists: checked.already_exists,
            statements,
            segments: prepared.segments.len(),
            notes: prepared.notes,
            parse_warnings: report.parse_warnings,
            pending_before,
            failure: report.failure.clone(),
            dry_run: report.dry_run_result,
            blocked_by_lint: crate::lint::blocking_rules(&lint_blocking),
            lint,
            lint_blocking,
            has_down: checked.migration.down.is_some(),
            accept_lines: checked.accept_lines,
        })
    }

    /// Check, write and apply a new migration (and the pending ones before it), under the lock.
    pub async fn apply_new(&self, req: &NewMigration) -> Result<AuthoringApplied> {
        self.apply_new_accepting(req, &[]).await
    }

    /// [`Migrator::apply_new`] with lint rules accepted for the call (`accept`): those covering
    /// findings of the new migration are written into its file. Error findings accepted neither
    /// there nor by a `-- pgkeel:accept` line in the SQL stop it before the file is written.
    pub async fn apply_new_accepting(
        &self,
        req: &NewMigration,
        accept: &[Acceptance],
    ) -> Result<AuthoringApplied> {
        // The dry run first: a migration that cannot work is never written.
        let plan = self.plan_new_accepting(req, accept).await?;
        if !plan.lint_blocking.is_empty() {
            return Err(Error::LintBlocked {
                findings: plan.lint_blocking,
            });
        }
        if let Some(mut f) = plan.failure {
            f.outcome = "the dry run failed, so nothing was written and nothing changed".into();
            return Err(Error::MigrationFailed(Box::new(f)));
        }

        let mut conn = self.connect("apply").await?;
        let lock = self.take_lock().await?;
        let history = self.history();
        // Supabase mode first: a refusal there leaves the database as it was.
        let before = match self.supabase_before_up(&conn.client).await {
            Ok(b) => b,
            Err(e) => {
                if let Err(e) = lock.release().await {
                    tracing::warn!("{e}");
                }
                return Err(e);
            }
        };
        if before.reconnect {
            conn = self.connect("apply").await?;
        }
        // The file this call wrote and its version, for the answer after a lost connection.
        let mut written_file: Option<(std::path::PathBuf, String)> = None;
        let result = async {
            self.ensure_history(&conn.client).await?;
            // Files may have changed while we waited for the lock: check again.
            let checked = self.check_new(req, accept)?;
            let m = &checked.migration;
            let full_path = self.config.root.join(&m.path);
            let written = if checked.already_exists {
                false
            } else {
                write_new_file(&full_path, &m.content)?;
                written_file = Some((full_path.clone(), m.version.to_string()));
                true
            };
            let discovered = match self.discover() {
                Ok(d) => d,
                Err(e) => {
                    if written {
                        let _ = std::fs::remove_file(&full_path);
                    }
                    return Err(e);
                }
            };
            let mut report = UpReport::default();
            let run = self
                .run_up(
                    &discovered,
                    &conn,
                    &history,
                    Some(&m.version),
                    Some(accept),
                    true,
                    false,
                    &mut report,
                )
                .await;
            if let Err(e) = run {
                if written {
                    let _ = std::fs::remove_file(&full_path);
                }
                return Err(e);
            }
            if let Some(mut failure) = report.failure.take() {
                if failure.connection_lost {
                    // The connection is gone: what happened is found out on a new one, after
                    // the lock (see after_lost_connection).
                    return Err(Error::MigrationFailed(Box::new(failure)));
                }
                let ours = failure.version == m.version.as_str();
                let rows = self.read_history(&conn.client).await?;
                let partial = rows
                    .iter()
                    .find(|r| Version::parse(&r.version).as_ref() == Some(&m.version))
                    .is_some_and(|r| r.segments_done > 0);
                if written && !partial {
                    if ours {
                        history
                            .withdraw(&conn.client, m.version.as_str(), "apply_migration failed before any of its segments completed")
                            .await?;
                    }
                    let _ = std::fs::remove_file(&full_path);
                    failure.outcome = if ours {
                        let next = match failure.sqlstate.as_deref() {
                            Some("55P03") => "another session holds a lock it needs (see blocked_by): call apply_migration again once it is free, as it is",
                            Some("57014") => "it ran into [apply] statement_timeout: call apply_migration again when it can finish in time, or split the work",
                            _ => "fix the SQL and call apply_migration again",
                        };
                        format!(
                            "nothing of this migration was applied and its file was not kept{}; {next}",
                            if report.applied.is_empty() {
                                String::new()
                            } else {
                                format!(" (pending migrations applied before it: {})", report.applied.iter().map(|a| a.version.as_str()).collect::<Vec<_>>().join(", "))
                            }
                        )
                    } else {
                        format!(
                            "pending migration {} failed before this one ran, so its file was not kept: {}",
                            failure.version, failure.outcome
                        )
                    };
                }
                return Err(Error::MigrationFailed(Box::new(failure)));
            }
            let ours = report
                .applied
                .iter()
                .find(|a| a.version == m.version.as_str());
            Ok(AuthoringApplied {
                version: m.version.to_string(),
                path: m.path.clone(),
                checksum: m.checksum.clone(),
                file_written: written,
                duration_ms: ours.map(|a| a.duration_ms),
                statements: ours.map_or(0, |a| a.statements),
                applied_before: report
                    .applied
                    .iter()
                    .filter(|a| a.version != m.version.as_str())
                    .map(|a| a.version.clone())
                    .collect(),
                notes: ours
                    .map(|a| a.notes.clone())
                    .unwrap_or_default()
                    .into_iter()
                    .chain(before.notes.iter().cloned())
                    .chain(std::mem::take(&mut report.supabase_notes))
                    .collect(),
                backups: report
                    .applied
                    .iter()
                    .flat_map(|a| a.backups.iter().cloned())
                    .collect(),
                row_counts: std::mem::take(&mut report.row_counts),
                validation: None,
                lint: std::mem::take(&mut report.lint),
                accept_lines: checked.accept_lines.clone(),
                rollback: None,
            })
        }
        .await;
        if let Err(e) = lock.release().await {
            tracing::warn!("{e}");
        }
        let mut result = match result {
            Err(Error::MigrationFailed(f)) if f.connection_lost => {
                Err(self.after_lost_connection(*f, written_file.as_ref()).await)
            }
            r => r,
        };
        // `[types] out` follows the schema, as after `up` (a failure here is only a note).
        if let Ok(applied) = &mut result {
            // Written: the next request without a version gets the next one again.
            self.planned
                .forget(&request_key(&slugify(&req.name), req, accept));
            if applied.duration_ms.is_some() {
                applied.rollback = Some(self.rollback_outlook(&applied.version).await);
            }
            match self.types_after_up().await {
                Ok(Some(path)) => applied.notes.push(format!("types written to {path}")),
                Ok(None) => {}
                Err(e) => applied.notes.push(format!("types not regenerated: {e}")),
            }
            // The post-flight of every apply: expectations and health checks, reported (the
            // migration stays applied; `[validate] on_up` decides whether it runs).
            if applied.duration_ms.is_some() || !applied.applied_before.is_empty() {
                let mut warnings = Vec::new();
                applied.validation = self.validate_after_up(false, &mut warnings).await;
                applied
                    .notes
                    .extend(warnings.into_iter().map(|w| w.message));
            }
        }
        result
    }

    /// `apply_new` lost its connection while a migration ran (a server restart, a network cut):
    /// look at the history again on a new connection (retried for `[database] connect_timeout`)
    /// and say which migration and segment were in flight, what history says now, what became
    /// of the file this call wrote, and what to call next. The file is withdrawn when nothing
    /// of its migration committed; it stays when a segment committed, or when history cannot be
    /// read (the migration may have committed).
    async fn after_lost_connection(
        &self,
        mut f: MigrationFailure,
        written: Option<&(std::path::PathBuf, String)>,
    ) -> Error {
        let in_flight = format!(
            "the connection to the database was lost while migration {} ran{}{}",
            f.version,
            match (f.segment, f.segments) {
                (Some(s), Some(n)) => format!(", segment {s} of {n}"),
                _ => String::new(),
            },
            f.statement
                .map(|s| format!(" (statement {s})"))
                .unwrap_or_default()
        );
        let ours = written.filter(|(_, v)| *v == f.version);
        let theirs = written.filter(|(_, v)| *v != f.version);
        let mut parts = vec![in_flight];
        let row = self.reread_history(&f.version).await;
        match &row {
            Ok(Some(r)) if r.status == crate::history::Status::Applied => {
                parts.push("history, re-read on a new connection, shows it applied: its COMMIT reached the server before the connection broke".into());
                if let Some((p, _)) = ours {
                    parts.push(format!("its file {} stays", self.rel(p)));
                }
                parts.push(
                    "next: call migration_status to confirm; nothing needs to run again".into(),
                );
            }
            Ok(Some(r)) if r.segments_done > 0 => {
                parts.push(format!(
                    "history, re-read on a new connection, shows segments 1–{} of {} committed (status {}, shown as interrupted)",
                    r.segments_done,
                    r.segments_total,
                    r.status.as_str()
                ));
                if let Some((p, _)) = ours {
                    parts.push(format!(
                        "its file {} stays: the committed segments need it",
                        self.rel(p)
                    ));
                }
                parts.push(format!(
                    "next: call migration_status, then apply_migration with {{\"version\": \"{}\"}} to resume at segment {}, or rollback if it should not stay",
                    f.version,
                    r.segments_done + 1
                ));
            }
            Ok(r) => {
                parts.push(format!(
                    "history, re-read on a new connection, shows nothing of it committed ({})",
                    r.as_ref().map_or_else(
                        || "no history row".to_string(),
                        |r| format!("status {}, no segment done", r.status.as_str())
                    )
                ));
                if let Some((p, v)) = ours {
                    match self.withdraw_after_loss(v).await {
                        Ok(()) => {
                            let _ = std::fs::remove_file(p);
                            parts.push(format!(
                                "its file {} was withdrawn and its history row removed",
                                self.rel(p)
                            ));
                            parts.push("next: call migration_status to confirm the database answers, then apply_migration again with the same arguments".into());
                        }
                        Err(e) => {
                            parts.push(format!(
                                "its file {} stays because its history row could not be withdrawn ({e})",
                                self.rel(p)
                            ));
                            parts.push(format!("next: call migration_status: {} shows as interrupted or pending, and apply_migration with {{\"version\": \"{}\"}} runs it", f.version, f.version));
                        }
                    }
                } else {
                    parts.push(format!("next: call migration_status, then apply_migration with {{\"version\": \"{}\"}} to run it again", f.version));
                }
            }
            Err(e) => {
                parts.push(format!(
                    "history could not be re-read on a new connection: {e}"
                ));
                if let Some((p, _)) = ours {
                    parts.push(format!(
                        "its file {} stays, because the migration may have committed before the connection broke",
                        self.rel(p)
                    ));
                }
                parts.push(format!(
                    "next: call migration_status once the database answers: if {v} is applied, nothing needs to run; if it is interrupted or pending, apply_migration with {{\"version\": \"{v}\"}} runs it (or remove the file if it should not)",
                    v = f.version
                ));
            }
        }
        if let Some((p, v)) = theirs {
            // This call's own migration never started: a pending one before it was running.
            let _ = std::fs::remove_file(p);
            parts.push(format!(
                "this call's migration {v} never started, so its file {} was not kept",
                self.rel(p)
            ));
        }
        f.outcome = parts.join("; ");
        Error::MigrationFailed(Box::new(f))
    }

    /// The history row of `version`, read on a new connection; connecting is retried for the
    /// connect deadline, since a restarting server refuses connections for a moment.
    async fn reread_history(&self, version: &str) -> Result<Option<crate::history::HistoryRow>> {
        let budget = self
            .config
            .connect_timeout
            .max(std::time::Duration::from_secs(1));
        let started = std::time::Instant::now();
        let conn = loop {
            match self.connect("status").await {
                Ok(c) => break c,
                Err(e) if started.elapsed() >= budget => return Err(e),
                Err(_) => tokio::time::sleep(std::time::Duration::from_millis(250)).await,
            }
        };
        let rows = self.read_history(&conn.client).await?;
        Ok(rows
            .into_iter()
            .find(|r| Version::parse(&r.version) == Version::parse(version)))
    }

    /// Remove the history row of a migration of which nothing committed, under the lock.
    async fn withdraw_after_loss(&self, version: &str) -> Result<()> {
        let lock = self.take_lock().await?;
        let conn = self.connect("apply").await;
        let r = match conn {
            Ok(conn) => {
                self.history()
                    .withdraw(
                        &conn.client,
                        version,
                        "apply_migration lost its connection before any of its segments completed",
                    )
                    .await
            }
            Err(e) => Err(e),
        };
        if let Err(e) = lock.release().await {
            tracing::warn!("{e}");
        }
        r
    }

    /// `path` relative to the project root, for messages.
    fn rel(&self, path: &std::path::Path) -> String {
        path.strip_prefix(&self.config.root)
            .unwrap_or(path)
            .display()
            .to_string()
    }

    /// Validate the request and build the migration it describes (pure apart from reading the
    /// migration folders). Returns the project's migrations with the new one in place.
    fn check_new(&self, req: &NewMigration, accept: &[Acceptance]) -> Result<Checked> {
        if req.sql.trim().is_empty() {
            return Err(Error::Refused("the migration's SQL is empty".into()));
        }
        let size = req.sql.len() + req.down.as_ref().map_or(0, String::len);
        if size > MAX_SQL_BYTES {
            return Err(Error::Refused(format!(
                "the migration's SQL is {size} bytes; the limit is {MAX_SQL_BYTES} (split it into several migrations)"
            )));
        }
        if req.sql.contains('\0') {
            return Err(Error::Refused(
                "the migration's SQL contains a NUL byte".into(),
            ));
        }
        if let Some(down) = &req.down {
            if down.trim().is_empty() {
                return Err(Error::Refused(
                    "`down` is empty: give the SQL that undoes the migration, or leave `down` out"
                        .into(),
                ));
            }
            if down.contains('\0') {
                return Err(Error::Refused("`down` contains a NUL byte".into()));
            }
        }
        let slug = slugify(&req.name);
        if slug.is_empty() {
            return Err(Error::Refused(format!(
                "migration name {:?} has no letters or digits; describe what it does, e.g. add_orders",
                req.name
            )));
        }
        if slug.chars().count() > MAX_NAME_CHARS {
            return Err(Error::Refused(format!(
                "migration name is longer than {MAX_NAME_CHARS} characters"
            )));
        }
        let mut discovered = self.discover()?;
        let planned_key = req
            .version
            .is_none()
            .then(|| request_key(&slug, req, accept));
        let v = match (&req.version, &planned_key) {
            (Some(text), _) => parse_version(text)?,
            (None, Some(key)) => self
                .planned
                .get(key)
                .filter(|v| still_next(&discovered, v))
                .unwrap_or_else(|| next_version(&discovered, NewScheme::Auto)),
            (None, None) => next_version(&discovered, NewScheme::Auto),
        };
        let first = self
            .config
            .folders
            .first()
            .ok_or_else(|| Error::Config("no migration folder configured".into()))?;
        let folder = folder_for(&discovered, &v, &self.config.folders, first);
        let path = format!("{}/{v}_{slug}.sql", folder.trim_end_matches('/'));
        let build = |text: &str| {
            Migration::from_text(v.clone(), slug.clone(), path.clone(), text).map_err(|e| {
                Error::Directive {
                    path: path.clone(),
                    line: e.line,
                    column: e.column,
                    message: e.message,
                }
            })
        };
        // The acceptances that cover findings of this migration become lines of its file.
        let mut migration = build(&req.sql)?;
        if req.down.is_some() && migration.down.is_some() {
            return Err(Error::Refused(
                "the SQL already has a `-- pgkeel:down` section and `down` is given too; pass the down SQL in one of them".into(),
            ));
        }
        let mut found = crate::lint::lint_migration(&migration, &self.config.lint);
        crate::lint::accept::apply_run(accept, &mut found);
        let covering: Vec<_> = accept
            .iter()
            .filter(|a| {
                found.iter().any(|f| {
                    f.accepted
                        .as_ref()
                        .is_some_and(|x| x.source == a.source && x.reason == a.reason)
                        && crate::lint::squawk::same_rule(&a.rule, &f.rule)
                })
            })
            .cloned()
            .collect();
        let mut text = crate::lint::accept::with_lines(&req.sql, &covering);
        let accept_lines: Vec<String> = covering
            .iter()
            .map(|a| a.line())
            .filter(|l| text.lines().any(|t| t == l))
            .collect();
        if let Some(down) = &req.down {
            if !text.ends_with('\n') {
                text.push('\n');
            }
            text.push_str("-- pgkeel:down\n");
            text.push_str(down);
            if !down.ends_with('\n') {
                text.push('\n');
            }
        }
        if text != req.sql {
            migration = build(&text)?;
        }
        if req.down.is_some() {
            // Checked as the rollback will read it: it must parse and run in one transaction.
            match crate::rollback::plan::down_plan(&migration) {
                Err(e) => {
                    return Err(Error::Refused(format!(
                        "`down` cannot be rolled back with: {e}"
                    )))
                }
                Ok(None) => {
                    return Err(Error::Refused(
                        "`down` holds no SQL statement (only comments or white space)".into(),
                    ))
                }
                Ok(Some(d)) => {
                    if let Some(w) = d.parse_warning {
                        return Err(Error::Refused(format!(
                            "`down` does not parse: {w}; fix its SQL"
                        )));
                    }
                }
            }
        }
        if let Some(existing) = discovered.find(&v) {
            if existing.checksum == migration.checksum {
                let migration = existing.clone();
                return Ok(Checked {
                    discovered,
                    migration,
                    already_exists: true,
                    accept_lines,
                    planned_key,
                });
            }
            return Err(Error::Refused(format!(
                "version {v} already exists as {} with other content; leave the version out to get the next one, or pick a free one",
                existing.path
            )));
        }
        let prepared = migration.prepare().map_err(|e| unrunnable(&migration, e))?;
        if prepared.is_empty() {
            // Comments or `;` only: a migration that does nothing would be recorded as applied.
            return Err(Error::Refused(
                "the migration's SQL has no statement (only comments or `;`); give the SQL it should run".into(),
            ));
        }
        let at = discovered
            .migrations
            .partition_point(|m| m.version < migration.version);
        discovered.migrations.insert(at, migration.clone());
        Ok(Checked {
            discovered,
            migration,
            already_exists: false,
            accept_lines,
            planned_key,
        })
    }

    /// What a rollback of `version`, just applied, would do (see [`RollbackOutlook`]).
    async fn rollback_outlook(&self, version: &str) -> RollbackOutlook {
        let selector = crate::rollback::Selector::Last(1);
        let plan = match self.rollback_plan(&selector).await {
            Ok(p) => p.plan,
            Err(e) => {
                return RollbackOutlook {
                    possible: false,
                    how: format!("a rollback would be refused: {e}"),
                    down_sql: None,
                    restores: Vec::new(),
                }
            }
        };
        let Some(t) = plan.targets.first().filter(|t| t.version == version) else {
            return RollbackOutlook {
                possible: false,
                how: format!(
                    "{version} is not the newest applied migration: a rollback to before it also undoes the ones after it; plan it with the rollback tool"
                ),
                down_sql: None,
                restores: Vec::new(),
            };
        };
        let restores: Vec<String> = t
            .backups
            .iter()
            .map(|b| format!("{} ({} rows, backup {})", b.source(), b.row_count, b.id))
            .collect();
        let generated: Option<Vec<String>> = t
            .generated
            .as_ref()
            .map(|g| {
                g.before_restore
                    .iter()
                    .chain(&g.after_restore)
                    .cloned()
                    .collect::<Vec<String>>()
            })
            .filter(|g| !g.is_empty());
        let mut how = match (&t.down, &generated) {
            (Some(d), _) => format!(
                "the rollback tool ({{\"last\": 1}}) runs its down SQL ({} statement(s) from {})",
                d.statements.len(),
                d.path
            ),
            (None, Some(g)) => format!(
                "the rollback tool ({{\"last\": 1}}) runs the down SQL pgkeel generated from the snapshot taken at apply time ({} statement(s), shown in down_sql; the rollback plan shows it again for review)",
                g.len()
            ),
            (None, None) => "the rollback tool ({\"last\": 1}) has no down SQL to run (its schema changes stay; pass `down` to undo them)".into(),
        };
        if !restores.is_empty() {
            how.push_str(&format!(
                "{} the rows of the automatic backups: {}",
                if t.down.is_some() {
                    " and restores"
                } else {
                    "; it restores"
                },
                restores.join(", ")
            ));
        }
        RollbackOutlook {
            possible: true,
            how,
            down_sql: t.down.as_ref().map(|d| d.statements.clone()).or(generated),
            restores,
        }
    }
}

/// A remembered version is used while it is still free and after every migration on disk (what
/// the next version would have been when it was planned).
fn still_next(discovered: &Discovered, v: &Version) -> bool {
    discovered.find(v).is_none() && discovered.last().is_none_or(|m| m.version < *v)
}

fn unrunnable(m: &Migration, e: crate::migration::PrepareError) -> Error {
    e.into_error(&m.path)
}

fn write_new_file(path: &std::path::Path, content: &str) -> Result<()> {
    use std::io::Write;
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    }
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
        .map_err(|e| Error::io(path, e))?;
    f.write_all(content.as_bytes())
        .map_err(|e| Error::io(path, e))?;
    f.sync_all().map_err(|e| Error::io(path, e))
}
