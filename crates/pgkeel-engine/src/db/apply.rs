//! Running migrations: segments, pipelining, history updates, failures and dry runs.
//!
//! A transactional segment is sent as one pipeline of simple queries — `BEGIN`, each statement,
//! the history update, `COMMIT` — written to the socket at once and read back in order. That is
//! one network round trip per segment however many statements it has, yet each statement still
//! gets its own result, so a failure is pinned to its statement (every later query in the
//! pipeline then fails with SQLSTATE 25P02 and the final `COMMIT` turns into a rollback, so
//! nothing of the segment survives). A non-transactional statement is sent alone and awaited,
//! then its progress is recorded: a rerun resumes after the last completed segment.

use std::time::{Duration, Instant};

use serde::Serialize;
use tokio_postgres::error::{ErrorPosition, SqlState};
use tokio_postgres::Client;

use super::backup::{BackupTaken, Catalog, SizeEstimate};
use super::history::{HistoryTables, RunningRow};
use super::segment::Before;
use crate::backup::{BackupSettings, BackupTarget};
use crate::error::{Error, MigrationFailure, Result};
use crate::events::{Event, Events};
use crate::migration::{Migration, Prepared};
use crate::statements::LineIndex;

/// What one applied migration took.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Applied {
    pub version: String,
    pub name: String,
    pub path: String,
    pub checksum: String,
    pub duration_ms: u64,
    pub statements: usize,
    pub segments: usize,
    /// Segments skipped because an earlier run completed them.
    pub resumed_from: usize,
    pub notes: Vec<String>,
    /// Backups taken before the migration's statements (see [`crate::db::backup`]).
    pub backups: Vec<BackupTaken>,
}

/// A migration to run, with where to start.
pub struct Job<'a> {
    pub migration: &'a Migration,
    pub prepared: &'a Prepared,
    /// The version text as recorded in history (normally the file's).
    pub history_version: &'a str,
    /// Segments already completed by an earlier run.
    pub resume_from: usize,
    /// What to back up before the migration runs (planned by [`crate::backup::plan`]; empty
    /// when resuming or when backups are off).
    pub backup_targets: Vec<BackupTarget>,
    /// The lint findings accepted for it, as history records them (`[{rule, reason, source}]`).
    pub lint_accepted: serde_json::Value,
}

/// Runs migrations on one connection.
pub struct Executor<'a> {
    client: &'a Client,
    history: &'a HistoryTables,
    session_setup: String,
    /// `[apply]`'s timeouts as configured, for the message when PostgreSQL refuses them.
    timeouts: (Duration, Duration),
    /// Whether this session already took `session_setup` once (see [`Executor::check_settings`]).
    settings_checked: std::sync::atomic::AtomicBool,
    /// The backup catalog and window, when backups are on.
    backup: Option<(Catalog, Duration)>,
    /// SQL a dry run runs first inside its transaction (see [`Executor::with_dry_run_prelude`]).
    dry_run_prelude: Option<String>,
    /// Whether this session has pgkeel's prepared statements (the history's and the
    /// snapshot's, see [`Executor::ensure_prepared`]).
    prepared: std::sync::atomic::AtomicBool,
    /// The history version whose `running` marker the previous migration's last transaction
    /// already committed (see [`Executor::apply`]).
    premarked: std::sync::Mutex<Option<String>>,
    /// What to do after a lock timeout (`[apply] lock_retries`).
    retry: LockRetry,
    /// Where a second connection samples who blocks a waiting statement (none: not sampled).
    observer_url: Option<String>,
    lock_timeout: Duration,
}

use super::{Queries, QueryResult};

impl<'a> Executor<'a> {
    pub fn new(
        client: &'a Client,
        history: &'a HistoryTables,
        lock_timeout: Duration,
        statement_timeout: Duration,
    ) -> Executor<'a> {
        // RESET ALL first: a SET in one migration must not leak into the next.
        let session_setup = format!(
            "RESET ALL; SET lock_timeout = {}; SET statement_timeout = {};",
            lock_timeout.as_millis(),
            statement_timeout.as_millis()
        );
        Executor {
            client,
            history,
            session_setup,
            timeouts: (lock_timeout, statement_timeout),
            settings_checked: std::sync::atomic::AtomicBool::new(false),
            backup: None,
            dry_run_prelude: None,
            prepared: std::sync::atomic::AtomicBool::new(false),
            premarked: std::sync::Mutex::new(None),
            retry: LockRetry::default(),
            observer_url: None,
            lock_timeout,
        }
    }

    /// Retry a segment that met a lock timeout (see [`LockRetry`]).
    pub fn with_lock_retry(mut self, retry: LockRetry) -> Executor<'a> {
        self.retry = retry;
        self
    }

    /// Sample who blocks a statement that waits for a lock, from a second connection to `url`
    /// (see [`Executor::watched`]); the samples go into the failure's `blocked_by`.
    pub fn with_observer(mut self, url: Option<String>) -> Executor<'a> {
        self.observer_url = url;
        self
    }

    /// SQL a dry run runs right after its `BEGIN`, rolled back with it (Supabase mode: the
    /// bootstrap of a pgkeel-created database that `up` would bootstrap first).
    pub fn with_dry_run_prelude(mut self, sql: Option<String>) -> Executor<'a> {
        self.dry_run_prelude = sql;
        self
    }

    /// Take automatic backups before destructive migrations (when `settings.enabled`).
    pub fn with_backups(mut self, settings: &BackupSettings) -> Executor<'a> {
        self.backup = settings
            .enabled
            .then(|| (Catalog::new(&settings.schema), settings.window));
        self
    }

    /// The backup query of a job (catalog DDL, the `DO` block, the list of what it took), one
    /// simple-query string to send inside the migration's transaction; `None` when there is
    /// nothing to back up.
    fn backup_sql(&self, job: &Job<'_>) -> Option<String> {
        let (catalog, window) = self.backup.as_ref()?;
        if job.backup_targets.is_empty() || job.resume_from > 0 {
            return None;
        }
        Some(format!(
            "{};\n{};\n{}",
            catalog.ensure_sql(),
            catalog.take_sql(
                job.history_version,
                &job.migration.checksum,
                &job.backup_targets,
                *window
            ),
            catalog.taken_sql(job.history_version)
        ))
    }

    /// The estimated size of a job's backups now (empty when backups are off).
    pub async fn estimate_backups(&self, job: &Job<'_>) -> Result<Vec<SizeEstimate>> {
        match &self.backup {
            Some((catalog, _)) if !job.backup_targets.is_empty() => {
                catalog.estimate(self.client, &job.backup_targets).await
            }
            _ => Ok(Vec::new()),
        }
    }

    /// Send the session settings alone once per session, before the first migration: in the
    /// pipeline a refused `SET` would not stop the statements after it, and the migration would
    /// run without its timeouts. (Config already refuses values out of PostgreSQL's range; this
    /// catches whatever else a server refuses.)
    async fn check_settings(&self) -> Result<()> {
        use std::sync::atomic::Ordering;
        if self.settings_checked.load(Ordering::Relaxed) {
            return Ok(());
        }
        self.client
            .batch_execute(&self.session_setup)
            .await
            .map_err(|e| {
                if super::is_connection_error(&e) {
                    return Error::db("setting the session's timeouts", e);
                }
                Error::Config(format!(
                    "PostgreSQL refused [apply] lock_timeout = {:?} / statement_timeout = {:?} (sent as {}): {}; nothing ran",
                    humantime::format_duration(self.timeouts.0).to_string(),
                    humantime::format_duration(self.timeouts.1).to_string(),
                    self.session_setup.trim_start_matches("RESET ALL; ").trim_end_matches(';'),
                    super::describe_pg_error(&e)
                ))
            })?;
        self.settings_checked.store(true, Ordering::Relaxed);
        Ok(())
    }

    /// Prepare the history's and the snapshot's statements ([`HistoryTables::prepare_sql`],
    /// [`super::snapshot::prepare_sql`]) once per session, in a round of their own before the
    /// first migration (and again after a migration that ran `DEALLOCATE` or `DISCARD`).
    async fn ensure_prepared(&self) -> Result<()> {
        use std::sync::atomic::Ordering;
        if self.prepared.load(Ordering::Relaxed) {
            return Ok(());
        }
        let sql = format!(
            "{};\n{}",
            super::snapshot::prepare_sql(&self.history.schema),
            self.history.prepare_sql()
        );
        self.client.batch_execute(&sql).await.map_err(|e| {
            Error::db(
                "preparing pgkeel's statements for the history and the rollback snapshots",
                e,
            )
        })?;
        self.prepared.store(true, Ordering::Relaxed);
        Ok(())
    }

    async fn pipeline<Q: AsRef<str>>(&self, queries: &[Q]) -> Vec<QueryResult> {
        super::pipeline(self.client, queries).await
    }

    /// Apply one migration (from its resume point). On failure the failure is recorded in
    /// history and returned as [`Error::MigrationFailed`].
    ///
    /// `next`: the migration the run applies after this one. Its `running` marker goes into
    /// this migration's last transaction, so that it commits with it: a marker committed on
    /// its own cost a second commit (and WAL flush) per migration, the one part of pgkeel's
    /// apply overhead that grows with the disk's flush time (measured against the psql floor:
    /// about 15 % on a slow disk, up to 2x on a fast one). The marker still says `running`
    /// before any of the next migration's statements reach the server, as it must for a killed
    /// applier's orphaned backend to be recognised; killed between the two, the next
    /// migration is `interrupted` after 0 segments, which `up` resumes from the start like a
    /// pending one. Not when this migration's last segment runs outside a transaction or the
    /// migration drops prepared statements: the next one then marks itself.
    pub async fn apply(
        &self,
        job: &Job<'_>,
        next: Option<&Job<'_>>,
        events: &dyn Events,
    ) -> Result<Applied> {
        self.check_settings().await?;
        self.ensure_prepared().await?;
        let m = job.migration;
        let p = job.prepared;
        let total = p.segments.len();
        let started = Instant::now();
        let row = running_row(job);
        let next_row = next.map(running_row);
        // Sent ahead of the first segment: session settings, then the `running` marker (unless
        // the previous migration committed it already).
        let premarked = self
            .premarked
            .lock()
            .map(|mut p| p.take())
            .unwrap_or_default()
            .is_some_and(|v| v == job.history_version);
        let mut prefix: Option<Vec<String>> = Some(
            std::iter::once(self.session_setup.clone())
                .chain(
                    (!premarked)
                        .then(|| self.history.marker_queries(&row))
                        .into_iter()
                        .flatten(),
                )
                .collect(),
        );

        // Backups go right after BEGIN in the first segment's transaction, so they commit or roll
        // back with it. A first segment that cannot run in a transaction gets its backups in a
        // transaction of their own just before it (they then outlive a failed migration).
        let mut backup = self.backup_sql(job);
        let mut backups = Vec::new();
        // The rollback snapshot goes right after the backups, in the first segment's
        // transaction (a migration starting with a non-transactional statement gets none: a
        // generated down refuses it anyway).
        let mut snapshot = (job.resume_from == 0
            && p.segments.first().is_some_and(|s| s.transactional))
        .then(|| {
            let analysis = crate::snapshot::objects::analyse(&p.statements, p.tree.as_ref());
            super::snapshot::take_sql(
                &self.history.schema,
                job.history_version,
                &analysis.keys,
                &analysis.created,
            )
        });
        // A statement that drops prepared statements makes the next migration prepare again.
        let deallocates = p.statements.iter().any(|s| {
            let k = s.kind.to_ascii_uppercase();
            k.starts_with("DEALLOCATE") || k.starts_with("DISCARD")
        });

        // The migration's notes, and what the checks before non-transactional segments found.
        let mut notes = p.notes.clone();
        for seg_no in job.resume_from..total {
            let seg = &p.segments[seg_no];
            let last = seg_no + 1 == total;
            // A migration that drops prepared statements records its end without them.
            let progress = if last {
                self.history.finish_sql(&row, !deallocates)
            } else {
                self.history.segment_done_sql(&row, seg_no + 1)
            };
            if seg.transactional {
                // Retried as a whole after a lock timeout, while `[apply] lock_retries` allow:
                // a rolled-back segment changed nothing.
                let mut attempt = 0;
                loop {
                    // The statements are read where they are, not copied or listed: a 50 MB
                    // migration stays one copy.
                    let mut head: Vec<std::borrow::Cow<'_, str>> = prefix
                        .take()
                        .unwrap_or_default()
                        .into_iter()
                        .map(std::borrow::Cow::Owned)
                        .collect();
                    let marker_len = head.len();
                    head.push("BEGIN".into());
                    let backup_at = backup.clone().map(|sql| {
                        head.push(sql.into());
                        head.len() - 1
                    });
                    let snapshot_at = snapshot.clone().map(|take| {
                        head.push(take.sql.into());
                        head.len() - 1
                    });
                    // The next migration's marker, in the last transaction (see above).
                    let mark_next = next_row
                        .as_ref()
                        .filter(|_| last && !deallocates)
                        .map(|r| self.history.marker_in_tx(r));
                    let queries = Framed {
                        head,
                        body: &p.statements[seg.statements.clone()],
                        tail: std::iter::once(progress.clone())
                            .chain(mark_next.clone())
                            .chain(std::iter::once("COMMIT".to_string()))
                            .map(std::borrow::Cow::Owned)
                            .collect(),
                    };
                    let mark_next_at = mark_next
                        .as_ref()
                        .map(|_| queries.head.len() + queries.body.len() + 1);
                    // Statement k of the segment is at `offset + k + 1` (after BEGIN).
                    let offset = queries.head.len() - 1;
                    let statements = offset + 1..offset + 1 + queries.body.len();
                    // The statements' own results are not needed (errors are always kept).
                    let (results, blocked_by) = self
                        .watched(
                            Applier::Recorded(job.history_version),
                            super::pipeline_with(self.client, &queries, marker_len, |i| {
                                !statements.contains(&i)
                            }),
                        )
                        .await;
                    // The `running` marker is advisory (the history row is upserted inside the
                    // segment's own transaction), so its failure does not fail the migration (nor
                    // is a marker that fails for a statement the migration deallocated).
                    // The session settings in front of it were taken once by check_settings.
                    for e in results.errors_in(0..marker_len) {
                        warn_prefix(&m.version.to_string(), e);
                    }
                    if let Some((i, e)) = results.first_error_from(marker_len) {
                        let stmt = (i > offset && i <= offset + seg.statements.len())
                            .then(|| seg.statements.start + i - offset - 1);
                        if self
                            .retry_after_lock_timeout(
                                job,
                                stmt,
                                e,
                                &blocked_by,
                                &mut attempt,
                                events,
                            )
                            .await
                        {
                            continue;
                        }
                        let where_ = if stmt.is_some() {
                            ""
                        } else if Some(i) == backup_at {
                            "while taking the automatic backups; set [backup] enabled = false to skip them"
                        } else if Some(i) == snapshot_at {
                            "while recording the rollback snapshot (the catalog definitions of what the migration touches)"
                        } else if Some(i) == mark_next_at {
                            "while marking the next migration as running (in this migration's last transaction)"
                        } else {
                            "while committing"
                        };
                        return Err(self
                            .fail(
                                job,
                                seg_no,
                                stmt,
                                Cause::Pg(e),
                                where_,
                                blocked_by,
                                &notes,
                                events,
                            )
                            .await);
                    }
                    if let Some(Ok(msgs)) = backup_at.and_then(|b| results.get(b)) {
                        backups = Catalog::parse_taken(msgs);
                    }
                    if let (Some(_), Some(n)) = (&mark_next, next) {
                        if let Ok(mut p) = self.premarked.lock() {
                            *p = Some(n.history_version.to_string());
                        }
                    }
                    backup = None;
                    snapshot = None;
                    break;
                }
            } else {
                for r in self.pipeline(&prefix.take().unwrap_or_default()).await {
                    if let Err(e) = r {
                        warn_prefix(&m.version.to_string(), &e);
                    }
                }
                if let Some(sql) = backup.take() {
                    let sql = format!("BEGIN;\n{sql};\nCOMMIT;");
                    match self.client.simple_query(&sql).await {
                        Ok(msgs) => backups = Catalog::parse_taken(&msgs),
                        Err(e) => {
                            let _ = self.client.batch_execute("ROLLBACK").await;
                            let where_ = "while taking the automatic backups, before the migration's first statement; set [backup] enabled = false to skip them";
                            return Err(self
                                .fail(
                                    job,
                                    seg_no,
                                    None,
                                    Cause::Pg(&e),
                                    where_,
                                    Vec::new(),
                                    &notes,
                                    events,
                                )
                                .await);
                        }
                    }
                }
                let idx = seg.statements.start;
                let statement = &p.statements[idx];
                // Is its effect in place already (an earlier run that pgkeel lost finished it, or
                // stopped half-way)? Asked again before each retry.
                let check = crate::segment::effect_check(statement);
                let mut attempt = 0;
                loop {
                    let before = match &check {
                        Some(c) => super::segment::before(self.client, c, &statement.sql).await,
                        None => Before::Run,
                    };
                    let sql = match before {
                        Before::Run => statement.sql.to_string(),
                        Before::Done { note } => {
                            tracing::info!("{}: {note}", m.version);
                            notes.push(format!("statement {}: {note}", idx + 1));
                            break;
                        }
                        Before::Instead { sql, note } => {
                            tracing::info!("{}: {note}", m.version);
                            notes.push(format!("statement {}: {note}", idx + 1));
                            sql
                        }
                        Before::CleanThenRun { cleanup, note } => {
                            for q in &cleanup {
                                if let Err(e) = self.client.simple_query(q).await {
                                    let where_ = format!("while running `{q}` to remove what an earlier run left behind");
                                    return Err(self
                                        .fail(
                                            job,
                                            seg_no,
                                            Some(idx),
                                            Cause::Pg(&e),
                                            &where_,
                                            Vec::new(),
                                            &notes,
                                            events,
                                        )
                                        .await);
                                }
                            }
                            tracing::info!("{}: {note}", m.version);
                            notes.push(format!("statement {}: {note}", idx + 1));
                            statement.sql.to_string()
                        }
                        Before::Conflict { message, retryable } => {
                            return Err(self
                                .fail(
                                    job,
                                    seg_no,
                                    Some(idx),
                                    Cause::Conflict { message, retryable },
                                    "",
                                    Vec::new(),
                                    &notes,
                                    events,
                                )
                                .await);
                        }
                    };
                    let (ran, blocked_by) = self
                        .watched(
                            Applier::Recorded(job.history_version),
                            self.client.simple_query(&sql),
                        )
                        .await;
                    match ran {
                        Ok(_) => break,
                        Err(e) => {
                            if self
                                .retry_after_lock_timeout(
                                    job,
                                    Some(idx),
                                    &e,
                                    &blocked_by,
                                    &mut attempt,
                                    events,
                                )
                                .await
                            {
                                continue;
                            }
                            return Err(self
                                .fail(
                                    job,
                                    seg_no,
                                    Some(idx),
                                    Cause::Pg(&e),
                                    "",
                                    blocked_by,
                                    &notes,
                                    events,
                                )
                                .await);
                        }
                    }
                }
                let record = if last {
                    format!("BEGIN; {progress}; COMMIT;")
                } else {
                    progress
                };
                if let Err(e) = self.client.batch_execute(&record).await {
                    let _ = self.client.batch_execute("ROLLBACK").await;
                    return Err(Error::db(
                        format!(
                            "migration {} ran statement {} but recording its progress failed; `pgkeel status` shows where it stands",
                            m.version,
                            idx + 1
                        ),
                        e,
                    ));
                }
            }
            if deallocates {
                self.prepared
                    .store(false, std::sync::atomic::Ordering::Relaxed);
            }
            events.event(Event::SegmentDone {
                version: m.version.to_string(),
                segment: seg_no + 1,
                segments: total,
            });
        }
        if total == 0 || job.resume_from >= total {
            // Nothing to run (comment-only file, or every segment was already done): still
            // record it as applied.
            let sql = format!(
                "{} BEGIN; {}; COMMIT;",
                self.session_setup,
                self.history.finish_sql(&row, true)
            );
            self.client
                .batch_execute(&sql)
                .await
                .map_err(|e| Error::db(format!("recording migration {}", m.version), e))?;
        }
        Ok(Applied {
            version: m.version.to_string(),
            name: m.name.clone(),
            path: m.path.clone(),
            checksum: m.checksum.clone(),
            duration_ms: started.elapsed().as_millis() as u64,
            statements: p.statements.len(),
            segments: total,
            resumed_from: job.resume_from,
            notes,
            backups,
        })
    }

    /// After a lock timeout (55P03) that rolled back everything the statement did: wait and
    /// return true while `[apply] lock_retries` allow another attempt (each one reported).
    async fn retry_after_lock_timeout(
        &self,
        job: &Job<'_>,
        statement: Option<usize>,
        e: &tokio_postgres::Error,
        blocked_by: &[String],
        attempt: &mut u32,
        events: &dyn Events,
    ) -> bool {
        if e.code() != Some(&SqlState::LOCK_NOT_AVAILABLE)
            || *attempt >= self.retry.retries
            || self.client.is_closed()
        {
            return false;
        }
        *attempt += 1;
        let wait = self.retry.wait(*attempt);
        events.event(Event::LockRetry {
            version: job.migration.version.to_string(),
            statement: statement.map(|i| i + 1),
            attempt: *attempt,
            retries: self.retry.retries,
            wait_ms: wait.as_millis() as u64,
            blocked_by: blocked_by.to_vec(),
        });
        tokio::time::sleep(wait).await;
        true
    }

    /// Run `fut` (a migration statement or segment on this executor's connection); when it
    /// waits longer than half the lock timeout (at most 1 s), sample from a second connection
    /// who blocks it, and again every second while it waits. Returns the latest non-empty
    /// sample: once the statement has failed, nobody blocks it any more, so the blockers can
    /// only be read while the wait is going on.
    async fn watched<T>(
        &self,
        applier: Applier<'_>,
        fut: impl std::future::Future<Output = T>,
    ) -> (T, Vec<String>) {
        let Some(url) = &self.observer_url else {
            return (fut.await, Vec::new());
        };
        let first = if self.lock_timeout.is_zero() {
            Duration::from_secs(1)
        } else {
            (self.lock_timeout / 2).clamp(Duration::from_millis(20), Duration::from_secs(1))
        };
        tokio::pin!(fut);
        let sleep = tokio::time::sleep(first);
        tokio::pin!(sleep);
        let mut observer: Option<super::Connection> = None;
        let mut seen = Vec::new();
        loop {
            tokio::select! {
                out = &mut fut => return (out, seen),
                () = &mut sleep => {
                    let sample = tokio::time::timeout(
                        Duration::from_secs(2),
                        self.sample_blockers(url, &applier, &mut observer),
                    )
                    .await;
                    if let Ok(Some(now)) = sample {
                        if !now.is_empty() {
                            seen = now;
                        }
                    }
                    sleep.as_mut().reset(tokio::time::Instant::now() + Duration::from_secs(1));
                }
            }
        }
    }

    async fn sample_blockers(
        &self,
        url: &str,
        applier: &Applier<'_>,
        observer: &mut Option<super::Connection>,
    ) -> Option<Vec<String>> {
        if observer.is_none() {
            // A short deadline: an observer that cannot connect quickly samples nothing.
            *observer = super::connect(url, "observer", None, Duration::from_secs(2))
                .await
                .ok();
        }
        let client = &observer.as_ref()?.client;
        let pid: i32 = match applier {
            Applier::Pid(pid) => *pid,
            Applier::Recorded(version) => client
                .query_opt(&self.history.backend_pid_sql(version), &[])
                .await
                .ok()??
                .get::<_, Option<i32>>(0)?,
        };
        super::segment::blockers(client, pid).await.ok()
    }

    /// Build the failure, record it in history, and return it as an error. A failure that
    /// changed nothing (see [`retryable`]) leaves the migration runnable instead of `failed`.
    #[allow(clippy::too_many_arguments)]
    async fn fail(
        &self,
        job: &Job<'_>,
        segment: usize,
        statement: Option<usize>,
        cause: Cause<'_>,
        where_: &str,
        blocked_by: Vec<String>,
        notes: &[String],
        events: &dyn Events,
    ) -> Error {
        let m = job.migration;
        let p = job.prepared;
        let seg = &p.segments[segment];
        let total = p.segments.len();
        let stmt = statement.map(|i| &p.statements[i]);
        let retryable = !self.client.is_closed()
            && match &cause {
                Cause::Pg(e) => retryable(e, seg.transactional, stmt),
                Cause::Conflict { retryable, .. } => *retryable,
            };
        let mut outcome = if retryable {
            let when = match &cause {
                Cause::Pg(e) if e.code() == Some(&SqlState::LOCK_NOT_AVAILABLE) => {
                    if self.retry.retries == 0 {
                        " once the lock is free (`[apply] lock_retries` makes `up` wait and retry by itself)"
                    } else {
                        " once the lock is free"
                    }
                }
                Cause::Pg(_) => " (a statement timeout: `[apply] statement_timeout` sets it)",
                Cause::Conflict { .. } => "",
            };
            // What the failed segment left: nothing (rolled back, or never started), or what the
            // next run's check before the statement finds and handles.
            let left = if seg.transactional || matches!(cause, Cause::Conflict { .. }) {
                "changed nothing"
            } else {
                "did not complete (the next `pgkeel up` checks what it left before running it again)"
            };
            if segment == 0 {
                format!("nothing of this migration was applied (its first segment {left}), and it stays pending (not failed, no repair needed): run `pgkeel up` again{when}")
            } else {
                format!(
                    "segments 1–{segment} of {total} completed and stay applied; segment {} {left}. The migration stays pending (no repair needed): `pgkeel up` resumes it at segment {}{when}",
                    segment + 1,
                    segment + 1
                )
            }
        } else if matches!(cause, Cause::Conflict { .. }) {
            if segment == 0 {
                "nothing of this migration was applied: its first statement did not run".to_string()
            } else {
                format!(
                    "segments 1–{segment} of {total} completed and stay applied; segment {} did not run",
                    segment + 1
                )
            }
        } else if segment == 0 {
            if seg.transactional {
                "nothing of this migration was applied: its transaction was rolled back".to_string()
            } else {
                "the statement ran outside a transaction; nothing after it ran".to_string()
            }
        } else {
            format!(
                "segments 1–{segment} of {total} completed and stay applied; segment {} {}",
                segment + 1,
                if seg.transactional {
                    "was rolled back"
                } else {
                    "did not complete"
                }
            )
        };
        let concurrent_index = stmt
            .and_then(|s| s.non_transactional())
            .is_some_and(|r| r.starts_with("CREATE INDEX") || r.starts_with("REINDEX"));
        if !retryable {
            if concurrent_index && matches!(cause, Cause::Pg(_)) {
                outcome.push_str(
                    "; if the build left an INVALID index behind, the next `pgkeel up` drops and rebuilds it (and records a valid one of the same definition as done)",
                );
            }
            outcome.push_str(&format!(
                ". Fix the cause, run `pgkeel repair --resolve-failed {}`, then `pgkeel up`{}",
                m.version,
                if segment > 0 {
                    format!(" (it resumes at segment {})", segment + 1)
                } else {
                    String::new()
                }
            ));
        }
        let lost = self.client.is_closed()
            || matches!(&cause, Cause::Pg(e) if super::is_connection_error(e));
        if lost {
            outcome = format!(
                "the connection to the server was lost while segment {} of {total} ran, so the failure could not be recorded: {}; `pgkeel status` shows the migration as interrupted, and `pgkeel up` resumes it{}{}",
                segment + 1,
                if segment > 0 {
                    format!("segments 1–{segment} completed and stay applied")
                } else if seg.transactional && statement.is_some() {
                    format!(
                        "statement {} was running, so its transaction was rolled back",
                        statement.map_or(0, |i| i + 1)
                    )
                } else if seg.transactional {
                    "its transaction was rolled back by the server unless the COMMIT reached it first".to_string()
                } else {
                    "the statement ran outside a transaction and may or may not have completed".to_string()
                },
                if segment > 0 { format!(" at segment {}", segment + 1) } else { String::new() },
                if concurrent_index {
                    " (it first checks whether the index was built: a valid one is recorded as done, an INVALID one rebuilt)"
                } else {
                    ""
                }
            );
        }
        let mut failure = match &cause {
            Cause::Pg(e) => failure_from(m, p, statement, e, outcome),
            Cause::Conflict { message, .. } => {
                let mut f = failure_at(m, p, statement, None, outcome);
                f.message = message.clone();
                f
            }
        };
        failure.segment = Some(segment + 1);
        failure.segments = Some(total);
        failure.connection_lost = lost;
        if !where_.is_empty() {
            failure.message = format!("{} ({where_})", failure.message);
        }
        failure.blocked_by = blocked_by;
        for n in notes.iter().skip(p.notes.len()) {
            failure
                .outcome
                .push_str(&format!(" (before the failure: {n})"));
        }
        events.event(Event::MigrationFailed {
            version: m.version.to_string(),
        });
        let json = serde_json::to_string(&failure).unwrap_or_else(|_| "{}".into());
        let record = if retryable {
            self.history.retryable_fail_sql(job.history_version, &json)
        } else {
            self.history.fail_sql(job.history_version, &json)
        };
        if lost {
            // Nothing to record on a dead connection; the outcome says what to do.
        } else if let Err(rec) = self.client.batch_execute(&record).await {
            let _ = self.client.batch_execute("ROLLBACK").await;
            tracing::warn!(
                "could not record the failure of {}: {}",
                m.version,
                super::describe_pg_error(&rec)
            );
        }
        Error::MigrationFailed(Box::new(failure))
    }

    /// Run `jobs`' transactional statements in one transaction that is rolled back. Statements
    /// that cannot run in a transaction are listed, not run. Stops at the first failure.
    pub async fn dry_run(&self, jobs: &[Job<'_>]) -> Result<DryRun> {
        let mut report = DryRun::default();
        self.check_settings().await?;
        // A dry run writes no history row to find its server process by: ask once.
        let pid: Option<i32> = match self.observer_url {
            Some(_) => self
                .client
                .query_one("SELECT pg_backend_pid()", &[])
                .await
                .ok()
                .map(|r| r.get(0)),
            None => None,
        };
        self.client
            .batch_execute(&format!("{} BEGIN;", self.session_setup))
            .await
            .map_err(|e| Error::db("starting the dry run", e))?;
        if let Some(sql) = &self.dry_run_prelude {
            if let Err(e) = self.client.batch_execute(sql).await {
                let _ = self.client.batch_execute("ROLLBACK").await;
                return Err(Error::db(
                    "dry run: the Supabase bootstrap `up` would run first",
                    e,
                ));
            }
        }
        for job in jobs {
            let p = job.prepared;
            let mut run = Vec::new();
            let mut queries: Vec<&str> = Vec::new();
            let mut rehearsed = Vec::new();
            let mut skipped = Vec::new();
            for seg in &p.segments[job.resume_from.min(p.segments.len())..] {
                for i in seg.statements.clone() {
                    let s = &p.statements[i];
                    if seg.transactional || s.non_transactional().is_none() {
                        // Ordinary statements (also those of a `no-transaction` file) run as is.
                        run.push(i);
                        queries.push(&s.sql);
                    } else if let Some(r) = s.rehearsal() {
                        run.push(i);
                        queries.push(r);
                        rehearsed.push(i + 1);
                    } else {
                        skipped.push(SkippedStatement {
                            statement: i + 1,
                            line: s.line as usize,
                            kind: s.kind.to_string(),
                            reason: s.non_transactional().unwrap_or("-- pgkeel:no-transaction"),
                        });
                    }
                }
            }
            // Sized inside the dry run's transaction: tables made by earlier migrations count.
            let backups = self.estimate_backups(job).await?;
            // Only errors matter here: the statements' results are dropped as they arrive.
            let run_all = super::pipeline_with(self.client, &queries, 0, |_| false);
            let (results, blocked_by) = match pid {
                Some(pid) => self.watched(Applier::Pid(pid), run_all).await,
                None => (run_all.await, Vec::new()),
            };
            let mut item = DryRunItem {
                version: job.migration.version.to_string(),
                path: job.migration.path.clone(),
                statements_run: run.len(),
                rehearsed_without_concurrently: rehearsed,
                skipped,
                notes: p.notes.clone(),
                backups,
            };
            if let Some((i, e)) = results.first_error() {
                item.statements_run = i;
                let mut failure = failure_from(
                    job.migration,
                    p,
                    Some(run[i]),
                    e,
                    "dry run: everything was rolled back, nothing changed".to_string(),
                );
                failure.blocked_by = blocked_by;
                report.items.push(item);
                report.failure = Some(failure);
                break;
            }
            report.items.push(item);
        }
        self.client
            .batch_execute("ROLLBACK")
            .await
            .map_err(|e| Error::db("rolling back the dry run", e))?;
        Ok(report)
    }
}

/// The history row a job's markers and progress write.
fn running_row<'j>(job: &'j Job<'_>) -> RunningRow<'j> {
    let m = job.migration;
    RunningRow {
        version: job.history_version,
        name: &m.name,
        path: &m.path,
        checksum: &m.checksum,
        statements: job.prepared.statements.len(),
        segments: job.prepared.segments.len(),
        up_sql: &m.content[m.up_range.clone()],
        lint_accepted: &job.lint_accepted,
    }
}

/// A segment's pipeline: pgkeel's queries around the migration's statements, which are read
/// from the migration's text where they are (a list of references to them cost 24 bytes a
/// statement: 10 MB for a 441,000-statement file).
struct Framed<'a> {
    head: Vec<std::borrow::Cow<'a, str>>,
    body: &'a [crate::statements::Statement],
    tail: Vec<std::borrow::Cow<'a, str>>,
}

impl Queries for Framed<'_> {
    fn count(&self) -> usize {
        self.head.len() + self.body.len() + self.tail.len()
    }
    fn query(&self, i: usize) -> &str {
        let (h, b) = (self.head.len(), self.body.len());
        if i < h {
            &self.head[i]
        } else if i < h + b {
            &self.body[i - h].sql
        } else {
            self.tail
                .get(i - h - b)
                .map_or("", std::borrow::Cow::as_ref)
        }
    }
}

/// The outcome of a dry run.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct DryRun {
    pub items: Vec<DryRunItem>,
    pub failure: Option<MigrationFailure>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DryRunItem {
    pub version: String,
    pub path: String,
    /// Statements that ran successfully (on a failure: those before the failing one).
    pub statements_run: usize,
    /// Statements (1-based) that ran without CONCURRENTLY, which has the same effect inside the
    /// rolled-back transaction.
    pub rehearsed_without_concurrently: Vec<usize>,
    /// Non-transactional statements that have no in-transaction form, listed rather than run.
    pub skipped: Vec<SkippedStatement>,
    pub notes: Vec<String>,
    /// What `up` would back up first (sizes estimated now; a dry run keeps no backup).
    pub backups: Vec<SizeEstimate>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SkippedStatement {
    pub statement: usize,
    pub line: usize,
    pub kind: String,
    pub reason: &'static str,
}

/// How the observer finds the server process a watched statement runs in.
enum Applier<'v> {
    /// The `backend_pid` of this version's history row (written by the `running` marker).
    Recorded(&'v str),
    Pid(i32),
}

/// Why a segment failed: the server's error, or what the check before a non-transactional
/// segment found (see [`super::segment::Before::Conflict`]).
enum Cause<'e> {
    Pg(&'e tokio_postgres::Error),
    Conflict { message: String, retryable: bool },
}

/// Whether a failure changed nothing, so the migration stays runnable without a repair: a lock
/// timeout (55P03) or statement timeout (57014) in a segment that was rolled back, or in a
/// non-transactional statement whose effect the next run checks before running it again (see
/// [`crate::segment`]).
fn retryable(
    e: &tokio_postgres::Error,
    transactional: bool,
    statement: Option<&crate::statements::Statement>,
) -> bool {
    let timeout = e.code() == Some(&SqlState::LOCK_NOT_AVAILABLE)
        || e.code() == Some(&SqlState::QUERY_CANCELED);
    timeout && (transactional || statement.and_then(crate::segment::effect_check).is_some())
}

/// How `up` meets a lock timeout: `retries` more attempts (`[apply] lock_retries`), waiting
/// `backoff` before the first, doubling each time up to [`LockRetry::MAX_WAIT`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct LockRetry {
    pub retries: u32,
    pub backoff: Duration,
}

impl LockRetry {
    /// The longest wait between two attempts.
    pub const MAX_WAIT: Duration = Duration::from_secs(30);

    /// The wait before attempt `attempt` + 1 (`attempt` counts from 1).
    pub fn wait(&self, attempt: u32) -> Duration {
        let factor = 2u32.saturating_pow(attempt.saturating_sub(1));
        self.backoff.saturating_mul(factor).min(Self::MAX_WAIT)
    }
}

/// Turn a driver error into a [`MigrationFailure`] with the file position of the statement, or
/// of the exact character the server pointed at.
/// A failure ahead of a migration's first segment (the session settings, the `running`
/// marker): never fatal by itself, so say what failed without guessing which of them it was.
fn warn_prefix(version: &str, e: &tokio_postgres::Error) {
    tracing::warn!(
        "before migration {version}: the session settings or the `running` marker failed: {}",
        super::describe_pg_error(e)
    );
}

pub(crate) fn failure_from(
    m: &Migration,
    p: &Prepared,
    statement: Option<usize>,
    e: &tokio_postgres::Error,
    outcome: String,
) -> MigrationFailure {
    failure_at(m, p, statement, Some(e), outcome)
}

/// [`failure_from`] for an optional error (without one, the message is the caller's to set).
fn failure_at(
    m: &Migration,
    p: &Prepared,
    statement: Option<usize>,
    e: Option<&tokio_postgres::Error>,
    outcome: String,
) -> MigrationFailure {
    let db = e.and_then(|e| e.as_db_error());
    let (line, column) = match statement.map(|i| &p.statements[i]) {
        Some(s) => {
            let mut offset = s.offset as usize;
            if let Some(ErrorPosition::Original(pos)) = db.and_then(|d| d.position()) {
                let chars = (*pos as usize).saturating_sub(1);
                offset += s
                    .sql
                    .char_indices()
                    .nth(chars)
                    .map_or(s.sql.len(), |(b, _)| b);
            }
            let (l, c) = LineIndex::new(&m.content).position(offset);
            (Some(l), Some(c))
        }
        None => (None, None),
    };
    // An unsplit migration (the parser could not read it) has no statement numbers.
    let statement = statement
        .filter(|_| p.parse_issues.is_empty())
        .map(|i| i + 1);
    MigrationFailure {
        version: m.version.to_string(),
        path: m.path.clone(),
        statement,
        line,
        column,
        sqlstate: db.map(|d| d.code().code().to_string()),
        message: match (e, db) {
            (_, Some(d)) => d.message().to_string(),
            (Some(e), None) => super::describe_pg_error(e),
            (None, None) => String::new(),
        },
        detail: db.and_then(|d| d.detail().map(str::to_string)),
        hint: db.and_then(|d| d.hint().map(str::to_string)),
        context: db.and_then(|d| d.where_().map(str::to_string)),
        outcome,
        segment: None,
        segments: None,
        connection_lost: e.is_some_and(super::is_connection_error),
        blocked_by: Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::LockRetry;
    use std::time::Duration;

    #[test]
    fn lock_retry_waits_double_up_to_the_cap() {
        let r = LockRetry {
            retries: 8,
            backoff: Duration::from_millis(500),
        };
        let waits: Vec<u128> = (1..=8).map(|a| r.wait(a).as_millis()).collect();
        assert_eq!(
            waits,
            [500, 1000, 2000, 4000, 8000, 16000, 30000, 30000],
            "doubling, capped at {:?}",
            LockRetry::MAX_WAIT
        );
        assert_eq!(r.wait(u32::MAX), LockRetry::MAX_WAIT, "no overflow");
    }
}
