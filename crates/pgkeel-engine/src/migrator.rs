//! The operations the CLI and the MCP server call: status, up (and dry runs), repair, baseline,
//! new. Each ties discovery, planning, the lock, history and the executor together; neither face
//! holds migration logic of its own.

use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;

use serde::Serialize;

use crate::config::Config;
use crate::db::apply::{Applied, DryRun, Executor, Job};
use crate::db::history::{AuditEntry, HistoryTables};
use crate::db::lock::{self, MigrationLock};
use crate::db::{self, Connection};
use crate::discovery::{Discovered, Warning};
use crate::error::{Error, LockHolder, MigrationFailure, Result};
use crate::events::{Event, Events, NoEvents};
use crate::history::Status;
use crate::migration::Prepared;
use crate::plan::{self, Counts, Plan, State};
use crate::version::{self, Version};

/// The engine's entry point.
pub struct Migrator {
    pub(crate) config: Config,
    pub(crate) events: Arc<dyn Events>,
    /// Connections for read operations in a long-running process (see [`db::pool`]).
    pub(crate) pool: Option<db::pool::Pool>,
    /// The versions `plan_new` gave new migrations planned without one, shared by every scoped
    /// copy, so `apply_new` writes the version the plan announced (see [`crate::authoring`]).
    pub(crate) planned: crate::authoring::PlannedVersions,
}

/// A connection for a read operation: from the pool when there is one.
pub(crate) enum ReadConn {
    Owned(Connection),
    Pooled(db::pool::Pooled),
}

impl std::ops::Deref for ReadConn {
    type Target = tokio_postgres::Client;
    fn deref(&self) -> &tokio_postgres::Client {
        match self {
            ReadConn::Owned(c) => &c.client,
            ReadConn::Pooled(p) => p,
        }
    }
}

/// `status`: files against history.
#[derive(Debug, Clone, Serialize)]
pub struct StatusReport {
    pub database: String,
    pub history_schema: String,
    /// False until the first `up` creates the history.
    pub history_exists: bool,
    pub plan: Plan,
    pub counts: Counts,
    /// What would stop `up` now (with the configured out-of-order setting).
    pub blockers: Vec<plan::Blocker>,
    pub warnings: Vec<Warning>,
    /// Another applier holding the lock right now.
    pub applier: Option<LockHolder>,
}

/// Options for `up`.
#[derive(Debug, Clone, Default)]
pub struct UpOptions {
    /// Apply up to and including this version.
    pub to: Option<String>,
    /// Run in a transaction that is rolled back; change nothing.
    pub dry_run: bool,
    /// Lint rules whose findings are accepted for this run (`--accept-lint`, MCP `accept_lint`);
    /// the files' own `-- pgkeel:accept` lines always count.
    pub accept_lint: Vec<crate::lint::accept::Acceptance>,
    /// Fail (exit 3) when validation after the run finds an error (`up --validate`).
    pub validate: bool,
    /// Overrides `[backup] max_backup_bytes` for this run (`--max-backup-bytes`).
    pub max_backup_bytes: Option<u64>,
    /// Record migrations that have no statement (with a warning) instead of refusing them
    /// (`--allow-empty`, MCP `allow_empty`). The untouched `pgkeel new` template is refused
    /// even so.
    pub allow_empty: bool,
}

/// What `up` did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct UpReport {
    pub dry_run: bool,
    /// Migrations that were to run.
    pub planned: Vec<String>,
    pub applied: Vec<Applied>,
    /// The migration that failed, when one did (applied ones before it stay applied).
    pub failure: Option<MigrationFailure>,
    /// The dry run's outcome, with `dry_run`.
    pub dry_run_result: Option<DryRun>,
    /// SQL the parser could not split (sent to the server unsplit), per version.
    pub parse_warnings: Vec<Warning>,
    pub warnings: Vec<Warning>,
    pub history_created: bool,
    /// The `[types] out` file, when `up` regenerated it and its content changed.
    pub types_written: Option<String>,
    /// Lint findings of the migrations that were to run (accepted errors and warnings).
    pub lint: Vec<crate::lint::LintFinding>,
    /// Expectations and checks after a run that applied migrations (see [`crate::validate`]).
    pub validation: Option<crate::validate::ValidateReport>,
    /// Rows in the tables the run touched, before and after.
    pub row_counts: Vec<crate::db::rowcount::RowCount>,
    /// Supabase mode: the bootstrap that ran first, the extensions that got stand-ins.
    pub supabase_notes: Vec<String>,
    /// The `--max-backup-bytes` override in force (an input of the run, shown with the report).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_backup_bytes: Option<u64>,
}

/// A repair of history.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RepairAction {
    /// Re-bless an intentionally edited file: record its current checksum.
    AcceptChecksum(String),
    /// Drop the history row of a migration whose file was deleted.
    Forget(String),
    /// Mark a failed (or interrupted) migration as fixed so `up` runs it again.
    ResolveFailed(String),
    /// `VERSION:N`: record non-transactional segment N (1-based) of a failed or interrupted
    /// migration as done without running it, because its effect is in place.
    SegmentDone(String),
}

#[derive(Debug, Clone, Serialize)]
pub struct RepairReport {
    pub action: &'static str,
    pub version: String,
    pub message: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct BaselineReport {
    pub version: String,
    pub baselined: Vec<String>,
    pub already_recorded: usize,
}

/// Which scheme `new` uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum NewScheme {
    /// The scheme of the project's newest migration (timestamps for an empty project).
    #[default]
    Auto,
    Sequential,
    Timestamp,
}

#[derive(Debug, Clone, Serialize)]
pub struct NewReport {
    pub version: String,
    pub path: String,
}

impl Migrator {
    pub fn new(config: Config) -> Migrator {
        Migrator {
            config,
            events: Arc::new(NoEvents),
            pool: None,
            planned: Default::default(),
        }
    }

    /// Serve read operations (status, queries, schema description) from a pool of up to `size`
    /// connections. Applying, repairs and dry runs still use dedicated connections.
    pub fn with_pool(mut self, size: usize) -> Result<Migrator> {
        self.pool = Some(db::pool::Pool::new(
            self.url()?,
            size,
            self.config.connect_timeout,
        )?);
        Ok(self)
    }

    pub(crate) async fn read_conn(&self, purpose: &str) -> Result<ReadConn> {
        match &self.pool {
            Some(pool) => Ok(ReadConn::Pooled(pool.get().await?)),
            None => Ok(ReadConn::Owned(self.connect(purpose).await?)),
        }
    }

    /// Send progress events to `events`.
    pub fn with_events(mut self, events: Arc<dyn Events>) -> Migrator {
        self.events = events;
        self
    }

    /// A migrator sharing this one's configuration and pool but reporting to `events` (one per
    /// MCP tool call, so each call's progress goes to its own client request).
    pub fn scoped(&self, events: Arc<dyn Events>) -> Migrator {
        Migrator {
            config: self.config.clone(),
            events,
            pool: self.pool.clone(),
            planned: self.planned.clone(),
        }
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    pub(crate) fn history(&self) -> HistoryTables {
        HistoryTables::new(&self.config.history_schema).with_supabase_mirror(
            self.config
                .supabase
                .as_ref()
                .is_some_and(|s| s.mirror_history),
        )
    }

    pub(crate) fn url(&self) -> Result<&str> {
        self.config.database_url.as_deref().ok_or_else(|| {
            Error::Config(format!(
                "no database URL: set {} (or PGKEEL_DATABASE_URL), or pass --database-url",
                self.config.database_url_env
            ))
        })
    }

    pub(crate) async fn connect(&self, purpose: &str) -> Result<Connection> {
        db::connect(
            self.url()?,
            purpose,
            Some(self.events.clone()),
            self.config.connect_timeout,
        )
        .await
    }

    /// Wait for one of pgkeel's own catalog reads (`what` names it) at most the connect
    /// deadline plus a second: on a live server the session's `statement_timeout` (the same
    /// deadline, see [`db::connect`]) fires first with the server's own message; this catches a
    /// server that stopped answering at all. `extra` is added for reads that set a longer
    /// statement_timeout of their own (`execute_sql`).
    pub(crate) async fn within<T>(
        &self,
        what: &str,
        extra: std::time::Duration,
        read: impl std::future::Future<Output = Result<T>>,
    ) -> Result<T> {
        // The same deadline as the connect's: the URL's connect_timeout wins.
        let deadline = self.url().map_or(self.config.connect_timeout, |u| {
            crate::db::effective_deadline(u, self.config.connect_timeout)
        });
        if deadline.is_zero() {
            return read.await;
        }
        let limit = deadline + extra + std::time::Duration::from_secs(1);
        match tokio::time::timeout(limit, read).await {
            Ok(r) => r,
            Err(_) => Err(Error::ConnectionLost {
                context: format!("{what} on {}", self.config.database_display()),
                message: format!(
                    "the server sent no answer for {} (the connect deadline {} plus a second: the URL's connect_timeout, else [database] connect_timeout); it may be stopped, overloaded or cut off from this machine",
                    humantime::format_duration(limit),
                    humantime::format_duration(deadline)
                ),
            }),
        }
    }

    /// The history's rows, bounded like every catalog read (see [`Migrator::within`]).
    pub(crate) async fn read_history(
        &self,
        client: &tokio_postgres::Client,
    ) -> Result<Vec<crate::history::HistoryRow>> {
        self.within(
            "reading the history",
            std::time::Duration::ZERO,
            self.history().load(client),
        )
        .await
    }

    /// Create or upgrade the history schema (under the lock), bounded like the reads (its DDL
    /// waits for locks at most `lock_timeout` more), and say so when it did: the format it
    /// upgraded to, or `None` when it was current.
    pub(crate) async fn ensure_history(
        &self,
        client: &tokio_postgres::Client,
    ) -> Result<Option<i32>> {
        let ensured = self
            .within(
                "creating or upgrading the history schema",
                self.config.lock_timeout,
                self.history().ensure(client),
            )
            .await?;
        if let Some(format) = ensured {
            self.events.event(Event::HistoryUpgraded { format });
        }
        Ok(ensured)
    }

    /// Read the migration folders.
    pub fn discover(&self) -> Result<Discovered> {
        crate::source::discover(&self.config)
    }

    /// Files against history. Changes nothing (creates no history).
    pub async fn status(&self) -> Result<StatusReport> {
        let discovered = self.discover()?;
        let conn = self.read_conn("status").await?;
        let history = self.history();
        let z = std::time::Duration::ZERO;
        let history_exists = self
            .within("reading the history format", z, history.format(&conn))
            .await?
            .is_some();
        let rows = self.read_history(&conn).await?;
        let applier = self
            .within(
                "looking up the migration lock's holder",
                z,
                lock::current_holder(&conn, &self.config.history_schema),
            )
            .await?;
        let live = plan::Liveness {
            applier_active: applier.is_some(),
            live_backends: self
                .within(
                    "listing the server's sessions",
                    z,
                    lock::live_backends(&conn),
                )
                .await?,
        };
        let plan = plan::build(&discovered.migrations, &rows, &live);
        Ok(StatusReport {
            database: self.config.database_display(),
            history_schema: self.config.history_schema.clone(),
            history_exists,
            counts: plan.counts(),
            blockers: plan.blockers(self.config.allow_out_of_order, None),
            plan,
            warnings: discovered.warnings,
            applier,
        })
    }

    /// Lint the migrations about to run as one run, judged against the live database (see
    /// crate::lint::context). When the sizes cannot be read, the findings are judged as offline
    /// (their levels kept) and a note says why.
    pub(crate) async fn lint_in_context(
        &self,
        client: &tokio_postgres::Client,
        prepared: &[(&crate::migration::Migration, Prepared, String, usize)],
    ) -> Result<Vec<crate::lint::LintFinding>> {
        let s = &self.config.lint;
        let run = crate::lint::RunLint::new(
            prepared
                .iter()
                .map(|(m, ..)| crate::lint::RunItem::offline(m, s)),
            s,
        )
        .with_backups_where_needed(|item| {
            prepared
                .iter()
                .find(|(m, ..)| std::ptr::eq(*m, item.migration))
                .map(|(_, p, _, resume)| {
                    crate::backup::plan::job_targets(&self.config.backup, p, *resume)
                })
                .unwrap_or_default()
        })
        .with_backup_window(self.config.backup.window);
        let lookups = run.lookups();
        // Bounded like up's catalog reads: a server gone silent ends the run here rather than
        // leaving lint waiting (the counts wait for locks at most lock_timeout more).
        let gathered = self
            .within(
                "reading the sizes of the tables lint judges",
                self.config.lock_timeout,
                crate::lint::live::gather(client, &lookups, self.config.lock_timeout),
            )
            .await;
        match gathered {
            Ok(live) => Ok(run.judge(Some(&live), s)),
            // The migrations would wait on the same silent connection: stop before them.
            Err(e @ Error::ConnectionLost { .. }) => Err(e),
            Err(e) => {
                tracing::warn!("lint could not read table sizes, so it judges offline: {e}");
                Ok(run.judge(None, s))
            }
        }
    }

    pub(crate) async fn take_lock(&self) -> Result<MigrationLock> {
        let conn = self.connect("lock").await?;
        MigrationLock::acquire(
            conn,
            &self.config.history_schema,
            self.config.lock_wait_timeout,
            self.events.as_ref(),
        )
        .await
    }

    /// Apply pending migrations (or dry-run them).
    pub async fn up(&self, opts: &UpOptions) -> Result<UpReport> {
        crate::lint::check_accepted(&opts.accept_lint)?;
        let discovered = self.discover()?;
        let to = match &opts.to {
            Some(t) => {
                let v = Version::parse(t)
                    .ok_or_else(|| Error::UnknownVersion { version: t.clone() })?;
                if discovered.find(&v).is_none() {
                    return Err(Error::UnknownVersion { version: t.clone() });
                }
                Some(v)
            }
            None => None,
        };
        let mut conn = self
            .connect(if opts.dry_run { "dry-run" } else { "up" })
            .await?;
        let history = self.history();
        let mut report = UpReport {
            dry_run: opts.dry_run,
            warnings: discovered.warnings.clone(),
            max_backup_bytes: opts.max_backup_bytes,
            ..UpReport::default()
        };

        let lock = if opts.dry_run {
            None
        } else {
            let lock = self.take_lock().await?;
            // What fails here releases the lock itself rather than leaving it to the closing
            // connection (a proxy that stops passing traffic on may keep that one open).
            let prepared = async {
                // Supabase mode first: a refusal there leaves the database as it was.
                let before = self.supabase_before_up(&conn.client).await?;
                if before.reconnect {
                    conn = self.connect("up").await?;
                }
                report.supabase_notes = before.notes;
                report.history_created = self.ensure_history(&conn.client).await?.is_some();
                Ok::<(), Error>(())
            }
            .await;
            if let Err(e) = prepared {
                if let Err(r) = lock.release().await {
                    tracing::warn!("{r}");
                }
                return Err(e);
            }
            Some(lock)
        };
        let result = self
            .run_up(
                &discovered,
                &conn,
                &history,
                to.as_ref(),
                Some(&opts.accept_lint),
                lock.is_some(),
                opts.allow_empty,
                &mut report,
            )
            .await;
        if let Some(lock) = lock {
            if let Err(e) = lock.release().await {
                tracing::warn!("{e}");
            }
        }
        result?;
        // `[types] out` follows the schema. The migrations are applied either way, so a
        // failure here is a warning, not an error of `up`.
        if !opts.dry_run && report.failure.is_none() {
            match self.types_after_up().await {
                Ok(written) => report.types_written = written,
                Err(e) => report.warnings.push(Warning {
                    path: self.config.types.out.clone().unwrap_or_default(),
                    message: format!("types not regenerated: {e}"),
                }),
            }
        }
        if !opts.dry_run && report.failure.is_none() && !report.applied.is_empty() {
            report.validation = self
                .validate_after_up(opts.validate, &mut report.warnings)
                .await;
        }
        Ok(report)
    }

    // `accept_lint`: `None` for a plan (lint reports only), `Some` for a run (see crate::lint).
    #[allow(clippy::too_many_arguments)]
    pub(crate) async fn run_up(
        &self,
        discovered: &Discovered,
        conn: &Connection,
        history: &HistoryTables,
        to: Option<&Version>,
        accept_lint: Option<&[crate::lint::accept::Acceptance]>,
        locked: bool,
        allow_empty: bool,
        report: &mut UpReport,
    ) -> Result<()> {
        // Catalog reads: bounded like status's, so a server that goes silent after the
        // connect does not hang `up` (the migrations themselves have their own timeouts).
        let z = std::time::Duration::ZERO;
        let rows = self.read_history(&conn.client).await?;
        let applier_active = !locked
            && self
                .within(
                    "looking for another applier",
                    z,
                    lock::current_holder(&conn.client, &self.config.history_schema),
                )
                .await?
                .is_some();
        let live = plan::Liveness {
            applier_active,
            live_backends: self
                .within(
                    "listing server backends",
                    z,
                    lock::live_backends(&conn.client),
                )
                .await?,
        };
        let plan = plan::build(&discovered.migrations, &rows, &live);
        for e in plan.entries.iter().filter(|e| e.state == State::Running) {
            report.warnings.push(Warning {
                path: e.path.clone(),
                message: format!(
                    "migration {} is being applied by another applier right now; not included",
                    e.version
                ),
            });
        }
        let blockers = plan.blockers(self.config.allow_out_of_order, to);
        if !blockers.is_empty() {
            return Err(Error::Blocked(blockers));
        }

        let supabase = self.supabase_run_shape(&conn.client, locked).await?;
        let mut routed_extensions = Vec::new();
        // Prepare everything before running anything: a migration that cannot run is reported
        // before the first one changes the database.
        let mut prepared: Vec<(&crate::migration::Migration, Prepared, String, usize)> = Vec::new();
        for entry in plan.runnable(to) {
            let Some(m) = entry.sort.as_ref().and_then(|v| discovered.find(v)) else {
                continue;
            };
            let mut p = m.prepare().map_err(|e| e.into_error(&m.path))?;
            if p.is_empty() {
                let template = m.is_template();
                if !allow_empty || template {
                    return Err(Error::EmptyMigration {
                        path: m.path.clone(),
                        template,
                        command: "pgkeel up",
                    });
                }
                report.warnings.push(Warning {
                    path: m.path.clone(),
                    message: "has no SQL statement; recorded as applied because of --allow-empty (SQL written into it later makes it `modified`)".into(),
                });
            }
            if supabase.rewrite {
                routed_extensions.extend(crate::supabase::rewrite::rewrite(&mut p));
            }
            if !p.parse_issues.is_empty() {
                let i = &p.parse_issues[0];
                report.parse_warnings.push(Warning {
                    path: format!("{}:{}:{}", m.path, i.line, i.column),
                    message: format!(
                        "the SQL parser could not read this migration ({}); it is sent to the server unsplit, without per-statement progress",
                        i.message
                    ),
                });
            }
            let resume = match (entry.state, &entry.history) {
                (State::Interrupted | State::Pending | State::OutOfOrder, Some(h))
                    if h.status != Status::RolledBack =>
                {
                    (h.segments_done.max(0) as usize).min(p.segments.len())
                }
                _ => 0,
            };
            let history_version = entry
                .history
                .as_ref()
                .map_or_else(|| m.version.to_string(), |h| h.version.clone());
            prepared.push((m, p, history_version, resume));
        }
        // Lint pre-flight: unaccepted error findings stop the run here, before anything runs
        // (`accept_lint: None`, for a plan, only reports).
        report.lint = crate::lint::preflight(
            self.lint_in_context(&conn.client, &prepared).await?,
            &self.config.lint,
            accept_lint,
        )?;
        if accept_lint.is_some() {
            // A run reports what squawk could not read as `parse_warnings` (above); a plan
            // (`plan_migration`) keeps the syntax findings in its lint.
            report
                .lint
                .retain(|f| f.rule != crate::lint::squawk::SYNTAX_ERROR);
        }
        report.planned = prepared
            .iter()
            .map(|(m, ..)| m.version.to_string())
            .collect();
        let jobs: Vec<Job<'_>> = prepared
            .iter()
            .map(|(m, p, hv, resume)| Job {
                migration: m,
                prepared: p,
                history_version: hv,
                resume_from: *resume,
                backup_targets: crate::backup::plan::job_targets(&self.config.backup, p, *resume),
                lint_accepted: serde_json::to_value(crate::lint::accept::recorded(
                    &report.lint,
                    &m.path,
                ))
                .unwrap_or_else(|_| serde_json::Value::Array(Vec::new())),
            })
            .collect();

        let executor = Executor::new(
            &conn.client,
            history,
            self.config.lock_timeout,
            self.config.statement_timeout,
        )
        .with_backups(&self.config.backup)
        .with_dry_run_prelude(supabase.dry_run_prelude)
        .with_lock_retry(crate::db::apply::LockRetry {
            retries: self.config.lock_retries,
            backoff: self.config.lock_retry_backoff,
        })
        .with_observer(self.url().ok().map(str::to_string));
        self.check_backup_sizes(&executor, &jobs, report.max_backup_bytes)
            .await?;
        if !locked {
            let dry = executor.dry_run(&jobs).await?;
            report.failure = dry.failure.clone();
            report.dry_run_result = Some(dry);
            return Ok(());
        }
        let mut row_counter = db::rowcount::RowCounter::new(
            prepared.iter().map(|(_, p, ..)| p),
            self.config.lock_timeout,
        );
        let counted = self
            .within(
                "counting rows for the row-count report",
                db::rowcount::COUNT_BOUND,
                row_counter.count(&conn.client, true),
            )
            .await;
        row_counter.before(counted)?;
        self.events.event(Event::Planned { total: jobs.len() });
        for (index, job) in jobs.iter().enumerate() {
            self.events.event(Event::MigrationStarted {
                index,
                total: jobs.len(),
                version: job.migration.version.to_string(),
                name: job.migration.name.clone(),
                resume_from: job.resume_from,
                segments: job.prepared.segments.len(),
            });
            match executor
                .apply(job, jobs.get(index + 1), self.events.as_ref())
                .await
            {
                Ok(applied) => {
                    tracing::info!(
                        target: "pgkeel_report",
                        version = %applied.version,
                        path = %applied.path,
                        duration_ms = applied.duration_ms,
                        "applied"
                    );
                    self.events.event(Event::MigrationApplied {
                        index,
                        total: jobs.len(),
                        version: applied.version.clone(),
                        duration_ms: applied.duration_ms,
                    });
                    report.applied.push(applied);
                }
                Err(Error::MigrationFailed(f)) => {
                    tracing::error!(target: "pgkeel_report", "{f}");
                    report.failure = Some(*f);
                    break;
                }
                Err(e) => return Err(e),
            }
        }
        // After a lock timeout the blocker probably still holds the table: estimates only.
        let lost_lock = report
            .failure
            .as_ref()
            .is_some_and(|f| matches!(f.sqlstate.as_deref(), Some("55P03")));
        let counted = self
            .within(
                "counting rows for the row-count report",
                db::rowcount::COUNT_BOUND,
                row_counter.count(&conn.client, !lost_lock),
            )
            .await;
        report.row_counts = row_counter.after(counted, &mut report.warnings);
        report.supabase_notes.extend(
            self.supabase_standin_note(&conn.client, &routed_extensions)
                .await,
        );
        Ok(())
    }

    /// Repair history (under the lock, with an audit row).
    pub async fn repair(&self, action: &RepairAction) -> Result<RepairReport> {
        let discovered = self.discover()?;
        let mut conn = self.connect("repair").await?;
        let lock = self.take_lock().await?;
        let history = self.history();
        let z = std::time::Duration::ZERO;
        let result = async {
            if self
                .within("reading the history format", z, history.format(&conn.client))
                .await?
                .is_none()
            {
                return Err(Error::Refused(format!(
                    "no migration history in schema {} yet: nothing to repair",
                    self.config.history_schema
                )));
            }
            let rows = self.read_history(&conn.client).await?;
            let (text, name) = match action {
                RepairAction::AcceptChecksum(v) => (v, "accept_checksum"),
                RepairAction::Forget(v) => (v, "forget"),
                RepairAction::ResolveFailed(v) => (v, "resolve_failed"),
                RepairAction::SegmentDone(v) => (v, "segment_done"),
            };
            let (text, segment) = match action {
                RepairAction::SegmentDone(_) => {
                    let (v, n) = parse_segment_arg(text)?;
                    (v, Some(n))
                }
                _ => (text.as_str(), None),
            };
            let version = parse_version(text)?;
            let row = rows
                .iter()
                .find(|r| Version::parse(&r.version).as_ref() == Some(&version))
                .ok_or_else(|| {
                    Error::Refused(format!("migration {text} has no history row; nothing to repair"))
                })?;
            let file = discovered.find(&version);
            let message = match action {
                RepairAction::AcceptChecksum(_) => {
                    let file = file.ok_or_else(|| {
                        Error::Refused(format!(
                            "no file has version {text}, so there is no checksum to accept; to drop the row of a deleted file use `pgkeel repair --forget {text}`"
                        ))
                    })?;
                    if file.checksum == row.checksum {
                        format!("{}: recorded checksum already matches the file; nothing changed", file.path)
                    } else {
                        let old = history
                            .accept_checksum(&mut conn.client, &row.version, &file.checksum, &file.path)
                            .await?;
                        format!(
                            "{}: recorded checksum {}… replaced by {}… (audit logged)",
                            file.path,
                            &old[..12.min(old.len())],
                            &file.checksum[..12]
                        )
                    }
                }
                RepairAction::Forget(_) => {
                    if let Some(f) = file {
                        return Err(Error::Refused(format!(
                            "{} still has version {text}; forgetting its row would make `pgkeel up` run it again. Delete or rename the file first",
                            f.path
                        )));
                    }
                    history.forget(&mut conn.client, row).await?;
                    format!("history row of {text} ({}) removed (audit logged)", row.path)
                }
                RepairAction::ResolveFailed(_) => {
                    if !matches!(row.status, Status::Failed | Status::Running) {
                        return Err(Error::Refused(format!(
                            "migration {text} is {}, not failed; nothing to resolve",
                            row.status.as_str()
                        )));
                    }
                    let checksum = file.map_or(row.checksum.as_str(), |f| f.checksum.as_str());
                    history.resolve_failed(&mut conn.client, row, checksum).await?;
                    if row.segments_done > 0 {
                        format!(
                            "migration {text} marked resolved; `pgkeel up` resumes it at segment {} of {} (audit logged)",
                            row.segments_done + 1,
                            row.segments_total
                        )
                    } else {
                        format!("migration {text} marked resolved; `pgkeel up` runs it again from the start (audit logged)")
                    }
                }
                RepairAction::SegmentDone(_) => {
                    let n = segment.unwrap_or_default();
                    let file = file.ok_or_else(|| {
                        Error::Refused(format!(
                            "no file has version {text}, so its segments are unknown; restore the file first"
                        ))
                    })?;
                    self.segment_done(&mut conn.client, &history, row, file, n).await?
                }
            };
            Ok(RepairReport {
                action: name,
                version: row.version.clone(),
                message,
            })
        }
        .await;
        if let Err(e) = lock.release().await {
            tracing::warn!("{e}");
        }
        result
    }

    /// `repair --segment-done VERSION:N`: refuses unless N is the segment the migration stops
    /// at (the one after its resume point), runs outside a transaction (a transactional segment
    /// either committed with its history row or did nothing), and the file is the one that ran.
    async fn segment_done(
        &self,
        client: &mut tokio_postgres::Client,
        history: &HistoryTables,
        row: &crate::history::HistoryRow,
        file: &crate::migration::Migration,
        n: i32,
    ) -> Result<String> {
        let v = &row.version;
        if !matches!(
            row.status,
            Status::Failed | Status::Running | Status::Pending
        ) {
            return Err(Error::Refused(format!(
                "migration {v} is {}, not failed or interrupted; it has no segment to record",
                row.status.as_str()
            )));
        }
        if let Some(pid) = row.backend_pid.filter(|_| row.status == Status::Running) {
            if lock::live_backends(client).await?.contains(&pid) {
                return Err(Error::Refused(format!(
                    "migration {v} is still running in server process {pid} (a run whose client went away; its statement continues on the server); wait until it ends (`pgkeel status`), then check again"
                )));
            }
        }
        if file.checksum != row.checksum {
            return Err(Error::Refused(format!(
                "{} changed since migration {v} ran, so its segments may differ from the recorded ones; restore the file (or `pgkeel repair --accept-checksum {v}` when only later segments changed) first",
                file.path
            )));
        }
        let prepared = file.prepare().map_err(|e| Error::Unrunnable {
            path: file.path.clone(),
            line: e.line,
            column: e.column,
            statement: e.statement,
            message: e.message,
        })?;
        let total = prepared.segments.len() as i32;
        let next = row.segments_done + 1;
        if n != next {
            return Err(Error::Refused(format!(
                "migration {v} stops at segment {next} of {total} ({} segment(s) done); only that segment can be recorded as done",
                row.segments_done
            )));
        }
        let seg = prepared.segments.get((n - 1) as usize).ok_or_else(|| {
            Error::Refused(format!("migration {v} has {total} segment(s), not {n}"))
        })?;
        if seg.transactional {
            return Err(Error::Refused(format!(
                "segment {n} of migration {v} runs in a transaction: it either committed together with its history row or changed nothing, so there is nothing to record; fix the cause and run `pgkeel repair --resolve-failed {v}`, then `pgkeel up`"
            )));
        }
        history.segment_done(client, row, n, &file.checksum).await?;
        let statement = &prepared.statements[seg.statements.start];
        Ok(if n == total {
            format!(
                "segment {n} of {total} of migration {v} (`{}`, line {}) recorded as done; `pgkeel up` records the migration applied (audit logged)",
                statement.kind, statement.line
            )
        } else {
            format!(
                "segment {n} of {total} of migration {v} (`{}`, line {}) recorded as done; `pgkeel up` resumes it at segment {} (audit logged)",
                statement.kind,
                statement.line,
                n + 1
            )
        })
    }

    /// Mark every migration up to `version` as applied without running it (adopting a database
    /// whose schema already has them).
    pub async fn baseline(&self, version: &str) -> Result<BaselineReport> {
        let discovered = self.discover()?;
        let v = parse_version(version)?;
        if discovered.find(&v).is_none() {
            return Err(Error::UnknownVersion {
                version: version.to_string(),
            });
        }
        let candidates: Vec<_> = discovered
            .migrations
            .iter()
            .filter(|m| m.version <= v)
            .collect();
        if candidates.is_empty() {
            return Err(Error::Refused(format!(
                "no migration file has a version at or before {version}; nothing to baseline"
            )));
        }
        let mut conn = self.connect("baseline").await?;
        let lock = self.take_lock().await?;
        let history = self.history();
        let result = async {
            self.ensure_history(&conn.client).await?;
            let rows = self.read_history(&conn.client).await?;
            let mut insert = Vec::new();
            let mut already = 0;
            for m in candidates {
                match rows.iter().find(|r| Version::parse(&r.version).as_ref() == Some(&m.version)) {
                    Some(r) if r.status.is_applied() => already += 1,
                    Some(r) => {
                        return Err(Error::Refused(format!(
                            "migration {} is recorded as {}; resolve it (`pgkeel status` explains) before baselining",
                            m.version,
                            r.status.as_str()
                        )))
                    }
                    None => insert.push((
                        m.version.to_string(),
                        m.name.clone(),
                        m.path.clone(),
                        m.checksum.clone(),
                    )),
                }
            }
            if !insert.is_empty() {
                history.baseline(&mut conn.client, version, &insert).await?;
            }
            Ok(BaselineReport {
                version: version.to_string(),
                baselined: insert.into_iter().map(|r| r.0).collect(),
                already_recorded: already,
            })
        }
        .await;
        if let Err(e) = lock.release().await {
            tracing::warn!("{e}");
        }
        result
    }

    /// Run one ad-hoc statement under the guards of [`crate::db::query`].
    pub async fn query(
        &self,
        sql: &str,
        opts: &crate::db::query::QueryOptions,
    ) -> Result<crate::db::query::QueryOutput> {
        let conn = self.read_conn("sql").await?;
        self.within(
            "running the statement",
            opts.statement_timeout,
            crate::db::query::run(&conn, sql, opts),
        )
        .await
    }

    /// The live schema as one model (tables, views, enums, composite types, domains, functions),
    /// read in one snapshot; see [`crate::db::introspect`].
    pub async fn describe(
        &self,
        filter: &crate::db::introspect::SchemaFilter,
    ) -> Result<crate::db::introspect::SchemaModel> {
        let conn = self.read_conn("describe").await?;
        self.within(
            "reading the schema",
            std::time::Duration::ZERO,
            crate::db::introspect::describe(&conn, filter),
        )
        .await
    }

    /// The audit log, newest first.
    pub async fn audit_log(&self, limit: i64) -> Result<Vec<AuditEntry>> {
        let conn = self.read_conn("audit").await?;
        self.within(
            "reading the audit log",
            std::time::Duration::ZERO,
            self.history().audit_log(&conn, limit),
        )
        .await
    }

    /// Create the next migration file in the first configured folder. The file is created with
    /// `create_new`, and versions already on disk are skipped, so two calls in the same second
    /// get two distinct files.
    pub fn new_migration(&self, name: &str, scheme: NewScheme) -> Result<NewReport> {
        let slug = slugify(name);
        if slug.is_empty() {
            return Err(Error::Refused(format!(
                "migration name {name:?} has no letters or digits"
            )));
        }
        let first_folder = self
            .config
            .folders
            .first()
            .ok_or_else(|| Error::Config("no migration folder configured".into()))?
            .clone();
        // Concurrent `new` calls in one project take turns (a lock file in the temp folder, named
        // after the project), so each sees the files the others wrote and picks the next version.
        let _turn = NewLock::acquire(&self.config.root)?;
        for _attempt in 0..100 {
            let discovered = self.discover()?;
            let v = next_version(&discovered, scheme);
            let folder = folder_for(&discovered, &v, &self.config.folders, &first_folder);
            let dir = self.config.root.join(&folder);
            std::fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
            let file_name = format!("{v}_{slug}.sql");
            let path: PathBuf = dir.join(&file_name);
            // The "Created by `pgkeel new`" line is migration::TEMPLATE_MARKER.
            let header = format!(
                "-- {slug}\n-- Created by `pgkeel new` on {}. pgkeel runs this file in one transaction together with\n-- its history row; statements that cannot run in a transaction (CREATE INDEX CONCURRENTLY, …)\n-- run on their own automatically. Write the SQL below: `pgkeel up` refuses this file while it\n-- holds no statement.\n\n",
                chrono::Utc::now().format("%Y-%m-%d %H:%M:%S UTC")
            );
            match std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&path)
            {
                Ok(mut f) => {
                    f.write_all(header.as_bytes())
                        .map_err(|e| Error::io(&path, e))?;
                    drop(f);
                    // Another `new` may have taken the same version under another name at the
                    // same moment: then step back and take the next free one.
                    if let Err(Error::DuplicateVersion { first, second, .. }) = self.discover() {
                        let ours = format!("{}/{file_name}", folder.trim_end_matches('/'));
                        if first == ours || second == ours {
                            let _ = std::fs::remove_file(&path);
                            continue;
                        }
                    }
                    return Ok(NewReport {
                        version: v.to_string(),
                        path: format!("{}/{file_name}", folder.trim_end_matches('/')),
                    });
                }
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
                Err(e) => return Err(Error::io(&path, e)),
            }
        }
        Err(Error::Refused(
            "could not find a free version for the new migration after 100 attempts".into(),
        ))
    }
}

/// A lock file that serializes `pgkeel new` within a project; removed on drop. It lives in the
/// temp folder (nothing is left in the project), named after the project's canonical path. A
/// lock older than 10 s is taken to be left behind by a crashed process and replaced.
struct NewLock(PathBuf);

impl NewLock {
    fn acquire(root: &std::path::Path) -> Result<NewLock> {
        let canonical = root.canonicalize().unwrap_or_else(|_| root.to_path_buf());
        let key = crate::checksum::sha256_hex(canonical.to_string_lossy().as_bytes());
        let path = std::env::temp_dir().join(format!("pgkeel-new-{}.lock", &key[..16]));
        let start = std::time::Instant::now();
        loop {
            match std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&path)
            {
                Ok(_) => return Ok(NewLock(path)),
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                    let stale = std::fs::metadata(&path)
                        .and_then(|m| m.modified())
                        .ok()
                        .and_then(|t| t.elapsed().ok())
                        .is_some_and(|age| age > std::time::Duration::from_secs(10));
                    if stale {
                        let _ = std::fs::remove_file(&path);
                        continue;
                    }
                    if start.elapsed() > std::time::Duration::from_secs(30) {
                        return Err(Error::Refused(format!(
                            "another `pgkeel new` has held {} for 30 s; remove it if no other pgkeel runs",
                            path.display()
                        )));
                    }
                    std::thread::sleep(std::time::Duration::from_millis(5));
                }
                Err(e) => return Err(Error::io(&path, e)),
            }
        }
    }
}

impl Drop for NewLock {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// The next version in `scheme` (see [`NewScheme`]).
pub(crate) fn next_version(discovered: &Discovered, scheme: NewScheme) -> Version {
    let use_sequential = match scheme {
        NewScheme::Sequential => true,
        NewScheme::Timestamp => false,
        NewScheme::Auto => discovered
            .last()
            .is_some_and(|m| !m.version.scheme().is_timestamped()),
    };
    if use_sequential {
        let seq: Vec<_> = discovered
            .migrations
            .iter()
            .filter(|m| !m.version.scheme().is_timestamped())
            .collect();
        let width = seq
            .iter()
            .map(|m| m.version.as_str().len())
            .max()
            .unwrap_or(3);
        version::next_sequential(seq.last().map(|m| &m.version), width)
    } else {
        let last_ts = discovered
            .migrations
            .iter()
            .rev()
            .find(|m| m.version.scheme().is_timestamped())
            .map(|m| &m.version);
        version::next_timestamp(chrono::Utc::now().naive_utc(), last_ts)
    }
}

/// The folder for a new file of version `v`: beside the newest migration of the same scheme (a
/// project may keep its sequential files in one folder and its timestamped ones in another),
/// else `fallback`.
pub(crate) fn folder_for(
    discovered: &Discovered,
    v: &Version,
    folders: &[String],
    fallback: &str,
) -> String {
    discovered
        .migrations
        .iter()
        .rev()
        .find(|m| m.version.scheme().is_timestamped() == v.scheme().is_timestamped())
        .and_then(|m| m.path.rsplit_once('/').map(|(dir, _)| dir.to_string()))
        .filter(|dir| folders.iter().any(|f| f.trim_end_matches('/') == dir))
        .unwrap_or_else(|| fallback.to_string())
}

/// `VERSION:N` of `repair --segment-done` (N 1-based).
pub(crate) fn parse_segment_arg(text: &str) -> Result<(&str, i32)> {
    text.rsplit_once(':')
        .and_then(|(v, n)| Some((v, n.trim().parse::<i32>().ok().filter(|n| *n >= 1)?)))
        .ok_or_else(|| {
            Error::Config(format!(
                "{text:?} is not VERSION:N (a migration version and a segment number from 1, e.g. 20240401000000:2)"
            ))
        })
}

pub(crate) fn parse_version(text: &str) -> Result<Version> {
    Version::parse(text).ok_or_else(|| {
        Error::Config(format!(
            "{text:?} is not a migration version (expected the version part of a file name, e.g. 007, 20240101120000, 20240101 or 20240101_07)"
        ))
    })
}

/// Lower-case ASCII letters, digits and single underscores.
pub(crate) fn slugify(name: &str) -> String {
    let mut out = String::new();
    for c in name.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.ends_with('_') && !out.is_empty() {
            out.push('_');
        }
    }
    out.trim_end_matches('_').to_string()
}

#[cfg(test)]
mod tests {
    #[test]
    fn slugify_names() {
        assert_eq!(super::slugify("Add Orders Table!"), "add_orders_table");
        assert_eq!(super::slugify("  --  "), "");
        assert_eq!(super::slugify("../../etc/passwd"), "etc_passwd");
    }
}
