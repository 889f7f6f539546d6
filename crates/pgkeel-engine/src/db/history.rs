//! The history schema: creation, format upgrades, reads, and the SQL that records progress.
//!
//! The schema is versioned by `history_format`: each release knows a list of upgrade steps and
//! applies the missing ones under the migration lock. A history written by a newer pgkeel is
//! refused rather than misread.
//!
//! Tables, in schema `pgkeel` unless configured otherwise:
//! - `migrations`: one row per migration version (see [`crate::history::HistoryRow`]).
//! - `audit_log`: append-only (a trigger refuses UPDATE, DELETE and TRUNCATE) record of every
//!   apply, failure, repair and baseline, with who did it and from where.
//!
//! Formats: 1 created both tables; 2 added `migrations.lint_accepted` (jsonb, `[{rule, reason,
//! source}]`: the lint findings accepted when the migration was applied, see
//! [`crate::lint::accept`]). The audit row of an apply records the same list. 3 added
//! `snapshots` (one row per version: the catalog definitions of what the migration touches,
//! written in its transaction before its statements; see [`crate::db::snapshot`]).

use tokio_postgres::Client;

use super::{ident, literal};
use crate::error::{Error, Result};
use crate::history::{HistoryRow, Status};

/// The history format this release writes.
pub const FORMAT: i32 = 3;

/// Upgrade steps: `STEPS[n]` takes the history from format `n` to `n + 1`. `{s}` is the quoted
/// schema name.
const STEPS: &[&str] = &[
    r#"
CREATE SCHEMA IF NOT EXISTS {s};
CREATE TABLE {s}.history_format (
    format      integer     NOT NULL,
    upgraded_at timestamptz NOT NULL DEFAULT now(),
    upgraded_by text        NOT NULL DEFAULT current_user
);
CREATE TABLE {s}.migrations (
    version          text        PRIMARY KEY,
    name             text        NOT NULL,
    path             text        NOT NULL,
    checksum         text        NOT NULL,
    status           text        NOT NULL CHECK (status IN ('running','applied','baselined','failed','pending','rolled_back')),
    statements       integer     NOT NULL DEFAULT 0,
    segments_total   integer     NOT NULL DEFAULT 1,
    segments_done    integer     NOT NULL DEFAULT 0,
    started_at       timestamptz,
    finished_at      timestamptz,
    duration_ms      bigint,
    applied_by       text        NOT NULL DEFAULT current_user,
    application_name text        DEFAULT current_setting('application_name'),
    client_addr      text        DEFAULT inet_client_addr()::text,
    backend_pid      integer,
    error            jsonb
);
COMMENT ON TABLE {s}.migrations IS 'pgkeel migration history: one row per migration version';
CREATE TABLE {s}.audit_log (
    id               bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at               timestamptz NOT NULL DEFAULT clock_timestamp(),
    action           text        NOT NULL,
    version          text,
    actor            text        NOT NULL DEFAULT current_user,
    application_name text        DEFAULT current_setting('application_name'),
    client_addr      text        DEFAULT inet_client_addr()::text,
    details          jsonb       NOT NULL DEFAULT '{}'::jsonb
);
COMMENT ON TABLE {s}.audit_log IS 'pgkeel audit log: append-only record of applies, failures, repairs and baselines';
CREATE FUNCTION {s}.audit_log_is_append_only() RETURNS trigger LANGUAGE plpgsql AS $fn$
BEGIN
    RAISE EXCEPTION 'the pgkeel audit log is append-only (% refused)', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END
$fn$;
CREATE TRIGGER audit_log_no_update_delete BEFORE UPDATE OR DELETE ON {s}.audit_log
    FOR EACH ROW EXECUTE FUNCTION {s}.audit_log_is_append_only();
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON {s}.audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION {s}.audit_log_is_append_only();
"#,
    r#"
ALTER TABLE {s}.migrations ADD COLUMN lint_accepted jsonb NOT NULL DEFAULT '[]'::jsonb;
COMMENT ON COLUMN {s}.migrations.lint_accepted IS 'lint findings accepted when it was applied: [{rule, reason, source}]';
"#,
    r#"
CREATE TABLE {s}.snapshots (
    version  text        PRIMARY KEY,
    taken_at timestamptz NOT NULL DEFAULT clock_timestamp(),
    snapshot    jsonb       NOT NULL,
    duration_ms real
);
COMMENT ON COLUMN {s}.snapshots.duration_ms IS 'how long taking the snapshot took, inside the migration''s transaction';
COMMENT ON TABLE {s}.snapshots IS 'pgkeel rollback snapshots: the catalog definitions of what each migration touches, taken in its transaction before its statements';
"#,
];

/// Names of the history tables, quoted, for one schema.
#[derive(Debug, Clone)]
pub struct HistoryTables {
    pub schema: String,
    q: String,
    /// Also record applied migrations in `supabase_migrations.schema_migrations` (Supabase mode;
    /// see [`crate::supabase::mirror`]).
    supabase_mirror: bool,
}

impl HistoryTables {
    pub fn new(schema: &str) -> HistoryTables {
        HistoryTables {
            schema: schema.to_string(),
            q: ident(schema),
            supabase_mirror: false,
        }
    }

    /// Mirror applied migrations into the Supabase CLI's history, in the same transaction.
    pub fn with_supabase_mirror(mut self, on: bool) -> HistoryTables {
        self.supabase_mirror = on;
        self
    }

    pub fn supabase_mirror(&self) -> bool {
        self.supabase_mirror
    }

    /// The format of the existing history, or `None` when there is none yet.
    pub async fn format(&self, client: &Client) -> Result<Option<i32>> {
        if !super::table_exists(
            client,
            &self.schema,
            "history_format",
            "reading the history format",
        )
        .await?
        {
            return Ok(None);
        }
        let row = client
            .query_one(
                &format!("SELECT max(format) FROM {}.history_format", self.q),
                &[],
            )
            .await
            .map_err(|e| Error::db("reading the history format", e))?;
        Ok(row.get::<_, Option<i32>>(0))
    }

    /// Create the history or upgrade it to [`FORMAT`]. Call only while holding the lock.
    /// Returns the format it upgraded to, if it changed anything.
    pub async fn ensure(&self, client: &Client) -> Result<Option<i32>> {
        let current = self.format(client).await?.unwrap_or(0);
        if current > FORMAT {
            return Err(Error::HistoryTooNew {
                schema: self.schema.clone(),
                found: current,
                supported: FORMAT,
            });
        }
        if current == FORMAT {
            return Ok(None);
        }
        let mut sql = String::from("BEGIN;\n");
        for step in &STEPS[current as usize..] {
            sql.push_str(&step.replace("{s}", &self.q));
        }
        sql.push_str(&format!(
            "INSERT INTO {q}.history_format (format) VALUES ({FORMAT});\n\
             INSERT INTO {q}.audit_log (action, details) VALUES ('history_upgrade', jsonb_build_object('from', {current}, 'to', {FORMAT}));\n\
             COMMIT;",
            q = self.q
        ));
        if let Err(e) = client.batch_execute(&sql).await {
            let _ = client.batch_execute("ROLLBACK").await;
            return Err(Error::db(
                format!("creating the history schema {}", self.schema),
                e,
            ));
        }
        Ok(Some(FORMAT))
    }

    /// Every history row; empty when there is no history yet.
    pub async fn load(&self, client: &Client) -> Result<Vec<HistoryRow>> {
        // A history not upgraded yet (read by `status`, which never writes) has no column for
        // accepted lint findings.
        let lint_accepted = match self.format(client).await? {
            None => return Ok(Vec::new()),
            Some(f) if f > FORMAT => {
                return Err(Error::HistoryTooNew {
                    schema: self.schema.clone(),
                    found: f,
                    supported: FORMAT,
                })
            }
            Some(f) if f < 2 => "'[]'::jsonb",
            Some(_) => "lint_accepted",
        };
        let rows = client
            .query(
                &format!(
                    "SELECT version, name, path, checksum, status, statements, segments_total, \
                     segments_done, started_at, finished_at, duration_ms, applied_by, \
                     application_name, client_addr, backend_pid, error, {lint_accepted} \
                     FROM {}.migrations",
                    self.q
                ),
                &[],
            )
            .await
            .map_err(|e| Error::db("reading migration history", e))?;
        rows.iter()
            .map(|r| {
                let status: String = r.get(4);
                Ok(HistoryRow {
                    version: r.get(0),
                    name: r.get(1),
                    path: r.get(2),
                    checksum: r.get(3),
                    status: Status::parse(&status).ok_or_else(|| {
                        Error::Refused(format!("history has an unknown status {status:?}"))
                    })?,
                    statements: r.get(5),
                    segments_total: r.get(6),
                    segments_done: r.get(7),
                    started_at: r.get(8),
                    finished_at: r.get(9),
                    duration_ms: r.get(10),
                    applied_by: r.get(11),
                    application_name: r.get(12),
                    client_addr: r.get(13),
                    backend_pid: r.get(14),
                    error: r.get(15),
                    lint_accepted: r.get(16),
                })
            })
            .collect()
    }

    /// The statements [`Self::marker_queries`] and [`Self::finish_sql`] execute when `prepared`,
    /// prepared once per session (see `Executor::ensure_prepared`): parsing and planning these
    /// upserts each time cost more than running them (server log: about 0.3 ms a migration).
    /// Their parameters are the row's version, name, path, checksum, statement and segment counts,
    /// then (for the applied row and its audit row) the accepted lint findings.
    pub fn prepare_sql(&self) -> String {
        let row = RowExprs {
            version: "$1",
            name: "$2",
            path: "$3",
            checksum: "$4",
            statements: "$5",
            segments: "$6",
        };
        format!(
            "PREPARE pgkeel_mark(text, text, text, text, integer, integer) AS {};\n\
             PREPARE pgkeel_applied(text, text, text, text, integer, integer, jsonb) AS {};\n\
             PREPARE pgkeel_audit_apply(text, text, text, text, integer, integer, jsonb) AS {}",
            self.mark_running_with(&row),
            self.applied_with(&row, "$7"),
            self.audit_apply_with(&row, "$7"),
        )
    }

    /// Mark a migration as running (insert or update its row), keeping the resume point of an
    /// earlier partial run. A single autocommit statement (see [`Self::marker_queries`]): if it
    /// fails it leaves no transaction open behind it.
    fn mark_running_with(&self, r: &RowExprs<'_>) -> String {
        format!(
            "INSERT INTO {q}.migrations AS m (version, name, path, checksum, status, statements, segments_total, segments_done, started_at, finished_at, duration_ms, backend_pid, error) \
             VALUES ({v}, {n}, {p}, {c}, 'running', {st}, {sg}, 0, clock_timestamp(), NULL, NULL, pg_backend_pid(), NULL) \
             ON CONFLICT (version) DO UPDATE SET name = excluded.name, path = excluded.path, checksum = excluded.checksum, \
             status = 'running', statements = excluded.statements, segments_total = excluded.segments_total, \
             segments_done = CASE WHEN m.status = 'rolled_back' THEN 0 ELSE m.segments_done END, \
             started_at = excluded.started_at, finished_at = NULL, duration_ms = NULL, backend_pid = excluded.backend_pid, \
             applied_by = current_user, application_name = current_setting('application_name'), client_addr = inet_client_addr()::text, error = NULL",
            q = self.q,
            v = r.version,
            n = r.name,
            p = r.path,
            c = r.checksum,
            st = r.statements,
            sg = r.segments,
        )
    }

    /// The query that writes the `running` marker: one message (pipelined ahead of the
    /// migration), its own implicit transaction, committed asynchronously — the marker only
    /// explains an interrupted run to `status`, so it is worth no fsync. `SET LOCAL` ends with
    /// that transaction whether or not the insert succeeds (one message, not a SET, the insert
    /// and a RESET: each message is a server round of its own). It executes
    /// [`Self::prepare_sql`]'s `pgkeel_mark`, so the session must have it (it runs before the
    /// migration's statements, so a migration that deallocates cannot take it away first).
    pub fn marker_queries(&self, r: &RunningRow<'_>) -> [String; 1] {
        [format!(
            "SET LOCAL synchronous_commit = off; EXECUTE pgkeel_mark({})",
            Literals::of(r).args()
        )]
    }

    /// The `running` marker of the *next* migration, sent inside the transaction that finishes
    /// the current one (see [`crate::db::apply::Executor::apply`]): the same `pgkeel_mark`,
    /// committed with that transaction instead of by a commit of its own.
    pub fn marker_in_tx(&self, r: &RunningRow<'_>) -> String {
        format!("EXECUTE pgkeel_mark({})", Literals::of(r).args())
    }

    /// Record that `done` segments are complete. An upsert, so the row is right even if the
    /// `running` marker was never written: it commits with the segment it describes.
    pub fn segment_done_sql(&self, r: &RunningRow<'_>, done: usize) -> String {
        let l = Literals::of(r);
        self.upsert_sql(
            &l.exprs(),
            "running",
            &done.to_string(),
            "NULL",
            "NULL",
            None,
        )
    }

    /// Mark a migration applied (with the lint findings accepted for it) and append the audit
    /// row. Runs inside the migration's last transaction, so the history row and the schema
    /// change commit together. `prepared`: as for [`Self::marker_queries`].
    pub fn finish_sql(&self, r: &RunningRow<'_>, prepared: bool) -> String {
        let mirror = if self.supabase_mirror {
            format!(
                "; {}",
                crate::supabase::mirror::upsert_sql(r.version, r.name, r.up_sql)
            )
        } else {
            String::new()
        };
        let accepted = format!("{}::jsonb", literal(&r.lint_accepted.to_string()));
        let l = Literals::of(r);
        if prepared {
            let args = format!("{}, {accepted}", l.args());
            return format!(
                "EXECUTE pgkeel_applied({args}); EXECUTE pgkeel_audit_apply({args}){mirror}"
            );
        }
        let row = l.exprs();
        format!(
            "{}; {}{mirror}",
            self.applied_with(&row, &accepted),
            self.audit_apply_with(&row, &accepted),
        )
    }

    fn applied_with(&self, r: &RowExprs<'_>, accepted: &str) -> String {
        self.upsert_sql(
            r,
            "applied",
            r.segments,
            "clock_timestamp()",
            "(extract(epoch FROM clock_timestamp() - coalesce(m.started_at, clock_timestamp())) * 1000)::bigint",
            Some(accepted),
        )
    }

    fn audit_apply_with(&self, r: &RowExprs<'_>, accepted: &str) -> String {
        format!(
            "INSERT INTO {q}.audit_log (action, version, details) VALUES ('apply', {v}, jsonb_build_object('checksum', {c}, 'path', {p}, 'lint_accepted', {accepted}))",
            q = self.q,
            v = r.version,
            c = r.checksum,
            p = r.path,
        )
    }

    /// `done`: an expression of the segments done.
    fn upsert_sql(
        &self,
        r: &RowExprs<'_>,
        status: &str,
        done: &str,
        finished_at: &str,
        duration: &str,
        lint_accepted: Option<&str>,
    ) -> String {
        let (col, val, set) = match lint_accepted {
            Some(a) => (
                ", lint_accepted",
                format!(", {a}"),
                ", lint_accepted = excluded.lint_accepted",
            ),
            None => ("", String::new(), ""),
        };
        format!(
            "INSERT INTO {q}.migrations AS m (version, name, path, checksum, status, statements, segments_total, segments_done, started_at, finished_at, duration_ms, backend_pid{col}) \
             VALUES ({v}, {n}, {p}, {c}, '{status}', {st}, {sg}, {done}, clock_timestamp(), {finished_at}, 0, pg_backend_pid(){val}) \
             ON CONFLICT (version) DO UPDATE SET name = excluded.name, path = excluded.path, checksum = excluded.checksum, \
             status = excluded.status, statements = excluded.statements, segments_total = excluded.segments_total, \
             segments_done = excluded.segments_done, finished_at = {finished_at}, duration_ms = {duration}, error = NULL{set}",
            q = self.q,
            v = r.version,
            n = r.name,
            p = r.path,
            c = r.checksum,
            st = r.statements,
            sg = r.segments,
        )
    }

    /// Record a failure (its own transaction, after the failed one ended).
    pub fn fail_sql(&self, version: &str, error_json: &str) -> String {
        format!(
            "BEGIN; UPDATE {q}.migrations SET status = 'failed', finished_at = clock_timestamp(), \
             duration_ms = (extract(epoch FROM clock_timestamp() - started_at) * 1000)::bigint, error = {e}::jsonb \
             WHERE version = {v}; \
             INSERT INTO {q}.audit_log (action, version, details) VALUES ('fail', {v}, {e}::jsonb); COMMIT;",
            q = self.q,
            v = literal(version),
            e = literal(error_json),
        )
    }

    /// Record a failure that changed nothing (a lock or statement timeout in a segment that was
    /// rolled back): the migration stays runnable without a repair. Its row goes when no segment
    /// of it is done (the next `up` runs it from the start, as if this run had not tried), or
    /// becomes `pending` with its resume point; the audit log keeps the failure
    /// (`fail`, with `"retryable": true`).
    pub fn retryable_fail_sql(&self, version: &str, error_json: &str) -> String {
        format!(
            "BEGIN; DELETE FROM {q}.migrations WHERE version = {v} AND segments_done = 0; \
             UPDATE {q}.migrations SET status = 'pending', finished_at = NULL, duration_ms = NULL, error = NULL \
             WHERE version = {v}; \
             INSERT INTO {q}.audit_log (action, version, details) VALUES ('fail', {v}, {e}::jsonb || '{{\"retryable\": true}}'::jsonb); COMMIT;",
            q = self.q,
            v = literal(version),
            e = literal(error_json),
        )
    }

    /// The server process applying `version` (its history row's `backend_pid`), read by a second
    /// connection to find who blocks it.
    pub fn backend_pid_sql(&self, version: &str) -> String {
        format!(
            "SELECT backend_pid FROM {}.migrations WHERE version = {}",
            self.q,
            literal(version)
        )
    }

    /// Record segment `segment` (1-based) of a migration as done without running it
    /// (`repair --segment-done`): the row becomes `pending` with the next segment as its resume
    /// point. After its last segment, the next `up` only records it applied (with the audit
    /// `apply` row and the Supabase mirror, as any apply writes them).
    pub async fn segment_done(
        &self,
        client: &mut Client,
        row: &HistoryRow,
        segment: i32,
        checksum: &str,
    ) -> Result<()> {
        let tx = client
            .transaction()
            .await
            .map_err(|e| Error::db("starting repair", e))?;
        tx.execute(
            &format!(
                "UPDATE {}.migrations SET segments_done = $2, checksum = $3, error = NULL, \
                 status = 'pending' WHERE version = $1",
                self.q
            ),
            &[&row.version, &segment, &checksum],
        )
        .await
        .map_err(|e| Error::db("recording the segment as done", e))?;
        self.audit(
            &tx,
            "repair_segment_done",
            Some(&row.version),
            serde_json::json!({"segment": segment, "segments_total": row.segments_total, "previous_status": row.status, "error": row.error, "checksum": checksum}),
        )
        .await?;
        tx.commit()
            .await
            .map_err(|e| Error::db("committing repair", e))
    }

    /// Accept the file's checksum for a recorded migration (`repair --accept-checksum`).
    pub async fn accept_checksum(
        &self,
        client: &mut Client,
        version: &str,
        checksum: &str,
        path: &str,
    ) -> Result<String> {
        let tx = client
            .transaction()
            .await
            .map_err(|e| Error::db("starting repair", e))?;
        let old = tx
            .query_one(
                &format!(
                    "SELECT checksum FROM {}.migrations WHERE version = $1 FOR UPDATE",
                    self.q
                ),
                &[&version],
            )
            .await
            .map_err(|e| Error::db("reading the recorded checksum", e))?;
        let old: String = old.get(0);
        tx.execute(
            &format!(
                "UPDATE {}.migrations SET checksum = $2, path = $3 WHERE version = $1",
                self.q
            ),
            &[&version, &checksum, &path],
        )
        .await
        .map_err(|e| Error::db("updating the checksum", e))?;
        self.audit(
            &tx,
            "repair_accept_checksum",
            Some(version),
            serde_json::json!({"old_checksum": old, "new_checksum": checksum, "path": path}),
        )
        .await?;
        tx.commit()
            .await
            .map_err(|e| Error::db("committing repair", e))?;
        Ok(old)
    }

    /// Remove the row of a migration whose file was deleted (`repair --forget`).
    pub async fn forget(&self, client: &mut Client, row: &HistoryRow) -> Result<()> {
        let tx = client
            .transaction()
            .await
            .map_err(|e| Error::db("starting repair", e))?;
        tx.execute(
            &format!("DELETE FROM {}.migrations WHERE version = $1", self.q),
            &[&row.version],
        )
        .await
        .map_err(|e| Error::db("deleting the history row", e))?;
        self.audit(
            &tx,
            "repair_forget",
            Some(&row.version),
            serde_json::to_value(row).unwrap_or_default(),
        )
        .await?;
        tx.commit()
            .await
            .map_err(|e| Error::db("committing repair", e))
    }

    /// Resolve a failed (or interrupted) migration: with no completed segment its row goes (the
    /// next `up` runs it from the start); otherwise it becomes `pending` with its resume point.
    pub async fn resolve_failed(
        &self,
        client: &mut Client,
        row: &HistoryRow,
        checksum: &str,
    ) -> Result<()> {
        let tx = client
            .transaction()
            .await
            .map_err(|e| Error::db("starting repair", e))?;
        if row.segments_done == 0 {
            tx.execute(
                &format!("DELETE FROM {}.migrations WHERE version = $1", self.q),
                &[&row.version],
            )
            .await
        } else {
            tx.execute(
                &format!(
                    "UPDATE {}.migrations SET status = 'pending', checksum = $2 WHERE version = $1",
                    self.q
                ),
                &[&row.version, &checksum],
            )
            .await
        }
        .map_err(|e| Error::db("resolving the failed migration", e))?;
        self.audit(
            &tx,
            "repair_resolve_failed",
            Some(&row.version),
            serde_json::json!({"previous_status": row.status, "error": row.error, "segments_done": row.segments_done, "checksum": checksum}),
        )
        .await?;
        tx.commit()
            .await
            .map_err(|e| Error::db("committing repair", e))
    }

    /// Remove the row of a new migration whose first apply failed before anything of it was
    /// kept (its file is removed too, by the caller). The audit log keeps the failure.
    pub async fn withdraw(&self, client: &Client, version: &str, reason: &str) -> Result<()> {
        client
            .execute(
                &format!(
                    "WITH gone AS (DELETE FROM {q}.migrations WHERE version = $1 AND segments_done = 0 RETURNING version) \
                     INSERT INTO {q}.audit_log (action, version, details) \
                     SELECT 'withdraw', version, jsonb_build_object('reason', $2::text) FROM gone",
                    q = self.q
                ),
                &[&version, &reason],
            )
            .await
            .map_err(|e| Error::db("withdrawing the failed migration", e))?;
        Ok(())
    }

    /// Record migrations as baselined (applied without running them).
    pub async fn baseline(
        &self,
        client: &mut Client,
        up_to: &str,
        rows: &[(String, String, String, String)],
    ) -> Result<()> {
        let tx = client
            .transaction()
            .await
            .map_err(|e| Error::db("starting baseline", e))?;
        let insert = format!(
            "INSERT INTO {}.migrations (version, name, path, checksum, status, segments_total, segments_done, started_at, finished_at, duration_ms) \
             VALUES ($1, $2, $3, $4, 'baselined', 0, 0, now(), now(), 0)",
            self.q
        );
        let stmt = tx
            .prepare(&insert)
            .await
            .map_err(|e| Error::db("preparing baseline", e))?;
        for (v, n, p, c) in rows {
            tx.execute(&stmt, &[v, n, p, c])
                .await
                .map_err(|e| Error::db(format!("baselining {v}"), e))?;
        }
        let versions: Vec<&str> = rows.iter().map(|r| r.0.as_str()).collect();
        self.audit(
            &tx,
            "baseline",
            Some(up_to),
            serde_json::json!({"versions": versions}),
        )
        .await?;
        tx.commit()
            .await
            .map_err(|e| Error::db("committing baseline", e))
    }

    async fn audit(
        &self,
        tx: &tokio_postgres::Transaction<'_>,
        action: &str,
        version: Option<&str>,
        details: serde_json::Value,
    ) -> Result<()> {
        tx.execute(
            &format!(
                "INSERT INTO {}.audit_log (action, version, details) VALUES ($1, $2, $3)",
                self.q
            ),
            &[&action, &version, &details],
        )
        .await
        .map_err(|e| Error::db("writing the audit log", e))?;
        Ok(())
    }

    /// The audit log, newest first (for `pgkeel history --audit` and tests).
    pub async fn audit_log(&self, client: &Client, limit: i64) -> Result<Vec<AuditEntry>> {
        if self.format(client).await?.is_none() {
            return Ok(Vec::new());
        }
        let rows = client
            .query(
                &format!(
                    "SELECT id, at, action, version, actor, application_name, client_addr, details \
                     FROM {}.audit_log ORDER BY id DESC LIMIT $1",
                    self.q
                ),
                &[&limit],
            )
            .await
            .map_err(|e| Error::db("reading the audit log", e))?;
        Ok(rows
            .iter()
            .map(|r| AuditEntry {
                id: r.get(0),
                at: r.get(1),
                action: r.get(2),
                version: r.get(3),
                actor: r.get(4),
                application_name: r.get(5),
                client_addr: r.get(6),
                details: r.get(7),
            })
            .collect())
    }
}

/// A history row's values as SQL expressions: literals, or a prepared statement's parameters.
struct RowExprs<'a> {
    version: &'a str,
    name: &'a str,
    path: &'a str,
    checksum: &'a str,
    statements: &'a str,
    segments: &'a str,
}

/// A [`RunningRow`]'s values as SQL literals.
struct Literals {
    version: String,
    name: String,
    path: String,
    checksum: String,
    statements: String,
    segments: String,
}

impl Literals {
    fn of(r: &RunningRow<'_>) -> Literals {
        Literals {
            version: literal(r.version),
            name: literal(r.name),
            path: literal(r.path),
            checksum: literal(r.checksum),
            statements: r.statements.to_string(),
            segments: r.segments.to_string(),
        }
    }

    fn exprs(&self) -> RowExprs<'_> {
        RowExprs {
            version: &self.version,
            name: &self.name,
            path: &self.path,
            checksum: &self.checksum,
            statements: &self.statements,
            segments: &self.segments,
        }
    }

    /// The arguments of [`HistoryTables::prepare_sql`]'s statements, in order.
    fn args(&self) -> String {
        format!(
            "{}, {}, {}, {}, {}, {}",
            self.version, self.name, self.path, self.checksum, self.statements, self.segments
        )
    }
}

/// What [`HistoryTables::marker_queries`] and [`HistoryTables::finish_sql`] record.
pub struct RunningRow<'a> {
    pub version: &'a str,
    pub name: &'a str,
    pub path: &'a str,
    pub checksum: &'a str,
    pub statements: usize,
    pub segments: usize,
    /// The up part of the migration's text (for the Supabase history mirror).
    pub up_sql: &'a str,
    /// The lint findings accepted for it, `[{rule, reason, source}]` (see
    /// [`crate::lint::accept::recorded`]).
    pub lint_accepted: &'a serde_json::Value,
}

/// One audit log entry.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct AuditEntry {
    pub id: i64,
    pub at: chrono::DateTime<chrono::Utc>,
    pub action: String,
    pub version: Option<String>,
    pub actor: String,
    pub application_name: Option<String>,
    pub client_addr: Option<String>,
    pub details: serde_json::Value,
}
