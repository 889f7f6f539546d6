//! The backup catalog and every SQL statement of automatic backups.
//!
//! Schema `pgkeel_backup` (`[backup] schema`) holds the catalog `backups` and one table per
//! backup, `b<id>_<table>`, with one jsonb row per source row (`to_jsonb(t)`): jsonb survives a
//! `DROP TYPE … CASCADE` of an enum the table used, and a restore maps columns by name.
//!
//! Backups are taken by one `DO` block ([`Catalog::take_sql`]) sent first thing after `BEGIN` in
//! the migration's own transaction: it resolves each target at run time (a table created earlier
//! in the same migration does not exist yet and is skipped), copies the rows, and records the
//! catalog row, so the backup commits or rolls back with the migration.

use chrono::{DateTime, Utc};
use serde::Serialize;
use tokio_postgres::{Client, SimpleQueryMessage};

use super::{ident, literal};
use crate::backup::{BackupTarget, TargetKind};
use crate::error::{Error, Result};

/// The content checksum of a set of jsonb rows: `source` is a relation or a parenthesised
/// subquery whose first (only) column holds the rows as jsonb, e.g. `pgkeel_backup.b42_orders`
/// or `(SELECT to_jsonb(t) FROM public.orders t)`. Returns a complete `SELECT` of one text value.
/// Rollback verifies a restore with the same query, so the two always agree.
pub fn rows_checksum_sql(source: &str) -> String {
    format!(
        "SELECT md5(coalesce(string_agg(r.\"row\"::text, E'\\n' ORDER BY r.\"row\"::text COLLATE \"C\"), '')) FROM {source} AS r(\"row\")"
    )
}

/// One catalog row.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BackupRow {
    pub id: i64,
    pub version: String,
    pub migration_checksum: String,
    pub source_schema: String,
    pub source_table: String,
    /// The table inside the backup schema.
    pub backup_table: String,
    pub reason: String,
    pub row_count: i64,
    pub checksum: String,
    pub bytes: i64,
    /// `[{"name", "type", "identity", "generated"}]` of the source at backup time; `identity`
    /// is `"always"`, `"by default"` or null, `generated` is `"stored"` or null.
    pub columns: serde_json::Value,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub restored_at: Option<DateTime<Utc>>,
    /// `kept`, `restored` or `pruned`.
    pub status: String,
}

impl BackupRow {
    pub fn expired(&self, now: DateTime<Utc>) -> bool {
        self.expires_at <= now
    }
}

/// A backup taken by `up`, as reported.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BackupTaken {
    pub id: i64,
    /// `schema.table` of the source.
    pub table: String,
    pub backup_table: String,
    pub reason: String,
    pub rows: i64,
    pub bytes: i64,
    pub expires_at: DateTime<Utc>,
}

/// A target's size before a migration runs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SizeEstimate {
    /// `schema.table`.
    pub table: String,
    /// Why it is backed up, e.g. `DROP COLUMN email, DELETE`.
    pub reason: String,
    pub bytes: u64,
    /// The planner's row estimate (`reltuples`; -1 when never analysed).
    pub rows_estimate: i64,
}

/// Which catalog rows to list.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListFilter {
    /// Also pruned and restored ones (default: status `kept` only).
    pub all: bool,
    pub version: Option<String>,
}

/// Which backups to prune.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PruneWhich {
    /// Kept backups past their expiry.
    Expired,
    /// Every kept backup.
    All,
    /// One backup (kept or restored).
    Id(i64),
}

/// The backup catalog in one schema.
#[derive(Debug, Clone)]
pub struct Catalog {
    pub schema: String,
    q: String,
}

const COLUMNS: &str =
    "id, version, migration_checksum, source_schema, source_table, backup_table, \
     reason, row_count, checksum, bytes, columns, created_at, expires_at, restored_at, status";

impl Catalog {
    pub fn new(schema: &str) -> Catalog {
        Catalog {
            schema: schema.to_string(),
            q: ident(schema),
        }
    }

    /// Idempotent DDL of the schema and the catalog (safe inside a transaction). A `DO` block
    /// that only runs the DDL when the catalog is missing: no "already exists" notices on every
    /// migration, and no CREATE privilege needed once it exists.
    pub fn ensure_sql(&self) -> String {
        let s = &self.q;
        format!(
            "DO $pgkeel_catalog$
BEGIN
IF to_regclass({catalog}) IS NULL THEN
CREATE SCHEMA IF NOT EXISTS {s};
CREATE TABLE {s}.backups (
    id                 bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    version            text        NOT NULL,
    migration_checksum text        NOT NULL,
    source_schema      text        NOT NULL,
    source_table       text        NOT NULL,
    backup_table       text        NOT NULL,
    reason             text        NOT NULL,
    row_count          bigint      NOT NULL,
    checksum           text        NOT NULL,
    bytes              bigint      NOT NULL,
    columns            jsonb       NOT NULL,
    created_at         timestamptz NOT NULL DEFAULT now(),
    expires_at         timestamptz NOT NULL,
    restored_at        timestamptz,
    status             text        NOT NULL DEFAULT 'kept' CHECK (status IN ('kept', 'restored', 'pruned'))
);
CREATE INDEX backups_version ON {s}.backups (version);
COMMENT ON TABLE {s}.backups IS 'pgkeel automatic backups taken before destructive migrations';
END IF;
END
$pgkeel_catalog$",
            catalog = literal(&format!("{s}.backups"))
        )
    }

    /// Create the schema and catalog if missing.
    pub async fn ensure(&self, client: &Client) -> Result<()> {
        client
            .batch_execute(&self.ensure_sql())
            .await
            .map_err(|e| Error::db(format!("creating the backup catalog {}", self.schema), e))
    }

    /// Whether the catalog exists (reads never create it).
    pub async fn exists(&self, client: &Client) -> Result<bool> {
        let row = client
            .query_one(
                "SELECT to_regclass($1) IS NOT NULL",
                &[&format!("{}.backups", self.q)],
            )
            .await
            .map_err(|e| Error::db("looking for the backup catalog", e))?;
        Ok(row.get(0))
    }

    /// The `SELECT` of `(rel regclass, reason text)` rows a target resolves to in the database
    /// now: tables only (views and foreign tables hold no rows of ours; a materialized view's
    /// rows are derived, cannot be inserted back, and cannot be read before it is populated),
    /// never partitions of a resolved parent twice.
    fn resolve_sql(target: &BackupTarget) -> String {
        let qualified = match &target.schema {
            Some(s) => format!("{}.{}", ident(s), ident(&target.name)),
            None => ident(&target.name),
        };
        let reason = literal(&target.reason());
        match target.kind {
            TargetKind::Table => format!(
                "SELECT c.oid::regclass, {reason} FROM pg_class c \
                 WHERE c.oid = to_regclass({q}) AND c.relkind IN ('r', 'p')",
                q = literal(&qualified)
            ),
            TargetKind::TypeUsers => format!(
                "SELECT DISTINCT c.oid::regclass, {reason} FROM pg_attribute a \
                 JOIN pg_class c ON c.oid = a.attrelid \
                 JOIN (SELECT t.oid AS ty, t.typarray AS arr FROM pg_type t WHERE t.oid = to_regtype({q})) x \
                   ON a.atttypid IN (x.ty, x.arr) \
                   OR a.atttypid IN (SELECT d.oid FROM pg_type d WHERE d.typtype = 'd' AND d.typbasetype IN (x.ty, x.arr)) \
                 WHERE a.attnum > 0 AND NOT a.attisdropped AND c.relkind IN ('r', 'p') AND NOT c.relispartition",
                q = literal(&qualified)
            ),
            TargetKind::Referencing => format!(
                "WITH RECURSIVE refs(oid) AS ( \
                   SELECT to_regclass({q})::oid \
                   UNION SELECT k.conrelid FROM pg_constraint k JOIN refs ON k.confrelid = refs.oid WHERE k.contype = 'f') \
                 SELECT c.oid::regclass, {reason} FROM refs JOIN pg_class c ON c.oid = refs.oid \
                 WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition",
                q = literal(&qualified)
            ),
            TargetKind::SchemaTables => format!(
                "SELECT c.oid::regclass, {reason} FROM pg_class c \
                 WHERE c.relnamespace = to_regnamespace({q}) AND c.relkind IN ('r', 'p') AND NOT c.relispartition",
                q = literal(&ident(&target.name))
            ),
        }
    }

    /// `(rel, reason)` of all targets, one row per relation with the reasons merged.
    fn resolved_sql(&self, targets: &[BackupTarget]) -> String {
        let union = targets
            .iter()
            .map(|t| format!("({})", Self::resolve_sql(t)))
            .collect::<Vec<_>>()
            .join(" UNION ALL ");
        format!(
            "SELECT x.rel, string_agg(DISTINCT x.reason, ', ') AS reason FROM ({union}) AS x(rel, reason) \
             WHERE x.rel::oid NOT IN (SELECT oid FROM pg_class WHERE relnamespace = to_regnamespace({s})) \
             GROUP BY x.rel ORDER BY x.rel::text",
            s = literal(&self.q)
        )
    }

    /// The size of every target that exists now, for the `max_backup_bytes` check and dry runs.
    /// A partitioned table counts its partitions.
    pub async fn estimate(
        &self,
        client: &Client,
        targets: &[BackupTarget],
    ) -> Result<Vec<SizeEstimate>> {
        if targets.is_empty() {
            return Ok(Vec::new());
        }
        let sql = format!(
            "SELECT (SELECT n.nspname || '.' || c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = r.rel), r.reason, \
                    coalesce((SELECT sum(pg_total_relation_size(p.relid)) FROM pg_partition_tree(r.rel) p), pg_total_relation_size(r.rel))::bigint, \
                    coalesce((SELECT sum(greatest(c.reltuples, 0)) FROM pg_partition_tree(r.rel) p JOIN pg_class c ON c.oid = p.relid), (SELECT greatest(reltuples, 0) FROM pg_class WHERE oid = r.rel))::bigint \
             FROM ({}) r",
            self.resolved_sql(targets)
        );
        let rows = client
            .query(&sql, &[])
            .await
            .map_err(|e| Error::db("estimating the size of the backups", e))?;
        Ok(rows
            .iter()
            .map(|r| SizeEstimate {
                table: r.get(0),
                reason: r.get(1),
                bytes: r.get::<_, i64>(2).max(0) as u64,
                rows_estimate: r.get(3),
            })
            .collect())
    }

    /// The `DO` block that backs up `targets` and records them; sent inside the migration's
    /// transaction, right after `BEGIN`. Follow it with [`Catalog::taken_sql`].
    pub fn take_sql(
        &self,
        version: &str,
        migration_checksum: &str,
        targets: &[BackupTarget],
        window: std::time::Duration,
    ) -> String {
        let s = &self.q;
        let schema_lit = literal(&self.schema);
        let checksum = rows_checksum_sql("%I.%I");
        format!(
            "DO $pgkeel_backup$
DECLARE
    pgkeel_t record;
    pgkeel_id bigint;
    pgkeel_table text;
    pgkeel_rows bigint;
    pgkeel_sum text;
BEGIN
    FOR pgkeel_t IN {resolved} LOOP
        INSERT INTO {s}.backups (version, migration_checksum, source_schema, source_table, backup_table,
                                 reason, row_count, checksum, bytes, columns, expires_at)
        SELECT {v}, {mc}, n.nspname, c.relname, '', pgkeel_t.reason, 0, '', 0,
               coalesce((SELECT jsonb_agg(jsonb_build_object(
                            'name', a.attname,
                            'type', format_type(a.atttypid, a.atttypmod),
                            'identity', CASE a.attidentity WHEN 'a' THEN 'always' WHEN 'd' THEN 'by default' END,
                            'generated', CASE a.attgenerated WHEN 's' THEN 'stored' END) ORDER BY a.attnum)
                         FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped), '[]'::jsonb),
               now() + make_interval(secs => {secs})
        FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = pgkeel_t.rel
        RETURNING id, 'b' || id || '_' || source_table INTO pgkeel_id, pgkeel_table;
        WHILE octet_length(pgkeel_table) > 63 LOOP
            pgkeel_table := left(pgkeel_table, -1);
        END LOOP;
        EXECUTE format('CREATE TABLE %I.%I AS SELECT to_jsonb(s) AS \"row\" FROM %s s', {schema_lit}, pgkeel_table, pgkeel_t.rel);
        EXECUTE format('SELECT count(*) FROM %I.%I', {schema_lit}, pgkeel_table) INTO pgkeel_rows;
        EXECUTE format({checksum_lit}, {schema_lit}, pgkeel_table) INTO pgkeel_sum;
        UPDATE {s}.backups
           SET backup_table = pgkeel_table, row_count = pgkeel_rows, checksum = pgkeel_sum,
               bytes = pg_total_relation_size(format('%I.%I', {schema_lit}, pgkeel_table)::regclass)
         WHERE id = pgkeel_id;
    END LOOP;
END
$pgkeel_backup$",
            resolved = self.resolved_sql(targets),
            v = literal(version),
            mc = literal(migration_checksum),
            secs = window.as_secs(),
            checksum_lit = literal(&checksum),
        )
    }

    /// The backups the `DO` block of this transaction recorded for `version` (created_at is the
    /// transaction's start time).
    pub fn taken_sql(&self, version: &str) -> String {
        format!(
            "SELECT id::text, source_schema || '.' || source_table, backup_table, reason, row_count::text, bytes::text, \
                    to_char(expires_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"') \
             FROM {}.backups WHERE version = {} AND created_at = now() ORDER BY id",
            self.q,
            literal(version)
        )
    }

    /// Read the result of [`Catalog::taken_sql`].
    pub fn parse_taken(messages: &[SimpleQueryMessage]) -> Vec<BackupTaken> {
        messages
            .iter()
            .filter_map(|m| match m {
                SimpleQueryMessage::Row(r) => Some(r),
                _ => None,
            })
            .filter_map(|r| {
                let get = |i: usize| r.get(i).unwrap_or_default();
                Some(BackupTaken {
                    id: get(0).parse().ok()?,
                    table: get(1).to_string(),
                    backup_table: get(2).to_string(),
                    reason: get(3).to_string(),
                    rows: get(4).parse().ok()?,
                    bytes: get(5).parse().ok()?,
                    expires_at: DateTime::parse_from_rfc3339(get(6))
                        .ok()?
                        .with_timezone(&Utc),
                })
            })
            .collect()
    }

    /// Catalog rows, newest first. An absent catalog lists nothing.
    pub async fn list(&self, client: &Client, filter: &ListFilter) -> Result<Vec<BackupRow>> {
        if !self.exists(client).await? {
            return Ok(Vec::new());
        }
        let rows = client
            .query(
                &format!(
                    "SELECT {COLUMNS} FROM {}.backups \
                     WHERE ($1 OR status = 'kept') AND ($2::text IS NULL OR version = $2) \
                     ORDER BY id DESC",
                    self.q
                ),
                &[&filter.all, &filter.version],
            )
            .await
            .map_err(|e| Error::db("reading the backup catalog", e))?;
        Ok(rows.iter().map(row_from).collect())
    }

    /// The kept backups of one migration version, oldest first (what a rollback restores).
    pub async fn backups_for(&self, client: &Client, version: &str) -> Result<Vec<BackupRow>> {
        if !self.exists(client).await? {
            return Ok(Vec::new());
        }
        let rows = client
            .query(
                &format!(
                    "SELECT {COLUMNS} FROM {}.backups WHERE version = $1 AND status = 'kept' ORDER BY id",
                    self.q
                ),
                &[&version],
            )
            .await
            .map_err(|e| Error::db(format!("reading the backups of {version}"), e))?;
        Ok(rows.iter().map(row_from).collect())
    }

    /// The backups `which` selects (what `prune` would drop).
    pub async fn select_prune(
        &self,
        client: &Client,
        which: &PruneWhich,
    ) -> Result<Vec<BackupRow>> {
        if !self.exists(client).await? {
            return Ok(Vec::new());
        }
        let (cond, id) = prune_condition(which);
        let rows = client
            .query(
                &format!(
                    "SELECT {COLUMNS} FROM {}.backups WHERE {cond} ORDER BY id",
                    self.q
                ),
                &[&id],
            )
            .await
            .map_err(|e| Error::db("reading the backup catalog", e))?;
        Ok(rows.iter().map(row_from).collect())
    }

    /// Drop the backup tables `which` selects and mark them `pruned`, with an audit row in
    /// `history_schema`, in one transaction. The caller holds the migration lock.
    pub async fn prune(
        &self,
        client: &mut Client,
        which: &PruneWhich,
        history_schema: &str,
    ) -> Result<Vec<BackupRow>> {
        if !self.exists(client).await? {
            return Ok(Vec::new());
        }
        let tx = client
            .transaction()
            .await
            .map_err(|e| Error::db("starting the prune", e))?;
        let (cond, id) = prune_condition(which);
        let rows = tx
            .query(
                &format!(
                    "SELECT {COLUMNS} FROM {}.backups WHERE {cond} ORDER BY id FOR UPDATE",
                    self.q
                ),
                &[&id],
            )
            .await
            .map_err(|e| Error::db("reading the backup catalog", e))?;
        let pruned: Vec<BackupRow> = rows.iter().map(row_from).collect();
        if pruned.is_empty() {
            return Ok(pruned);
        }
        let mut sql = String::new();
        for b in &pruned {
            sql.push_str(&format!(
                "DROP TABLE IF EXISTS {}.{};\n",
                self.q,
                ident(&b.backup_table)
            ));
        }
        tx.batch_execute(&sql)
            .await
            .map_err(|e| Error::db("dropping backup tables", e))?;
        let ids: Vec<i64> = pruned.iter().map(|b| b.id).collect();
        tx.execute(
            &format!(
                "UPDATE {}.backups SET status = 'pruned' WHERE id = ANY($1)",
                self.q
            ),
            &[&ids],
        )
        .await
        .map_err(|e| Error::db("marking backups pruned", e))?;
        let details = serde_json::json!({
            "ids": ids,
            "tables": pruned.iter().map(|b| format!("{}.{}", b.source_schema, b.source_table)).collect::<Vec<_>>(),
            "which": match which {
                PruneWhich::Expired => "expired".to_string(),
                PruneWhich::All => "all".to_string(),
                PruneWhich::Id(i) => format!("id {i}"),
            },
        });
        tx.execute(
            &format!(
                "INSERT INTO {}.audit_log (action, details) VALUES ('backup_prune', $1)",
                ident(history_schema)
            ),
            &[&details],
        )
        .await
        .map_err(|e| Error::db("writing the audit log", e))?;
        tx.commit()
            .await
            .map_err(|e| Error::db("committing the prune", e))?;
        Ok(pruned)
    }
}

fn prune_condition(which: &PruneWhich) -> (&'static str, Option<i64>) {
    match which {
        PruneWhich::Expired => (
            "status = 'kept' AND expires_at <= now() AND $1::bigint IS NULL",
            None,
        ),
        PruneWhich::All => ("status = 'kept' AND $1::bigint IS NULL", None),
        PruneWhich::Id(id) => ("status <> 'pruned' AND id = $1", Some(*id)),
    }
}

fn row_from(r: &tokio_postgres::Row) -> BackupRow {
    BackupRow {
        id: r.get(0),
        version: r.get(1),
        migration_checksum: r.get(2),
        source_schema: r.get(3),
        source_table: r.get(4),
        backup_table: r.get(5),
        reason: r.get(6),
        row_count: r.get(7),
        checksum: r.get(8),
        bytes: r.get(9),
        columns: r.get(10),
        created_at: r.get(11),
        expires_at: r.get(12),
        restored_at: r.get(13),
        status: r.get(14),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checksum_sql_wraps_the_source() {
        let s = rows_checksum_sql("x.b1_t");
        assert!(s.starts_with("SELECT md5(coalesce(string_agg("), "{s}");
        assert!(s.ends_with("FROM x.b1_t AS r(\"row\")"), "{s}");
    }

    #[test]
    fn take_sql_quotes_names_and_values() {
        let c = Catalog::new("pgkeel_backup");
        let t = BackupTarget {
            kind: TargetKind::Table,
            schema: Some("we\"ird".into()),
            name: "it's".into(),
            reasons: vec!["DELETE".into()],
        };
        let sql = c.take_sql("1'2", "abc", &[t], std::time::Duration::from_secs(3600));
        assert!(
            sql.contains(r#"to_regclass(E'"we""ird"."it''s"')"#),
            "{sql}"
        );
        assert!(sql.contains("E'1''2'"), "{sql}");
        assert!(sql.contains("make_interval(secs => 3600)"), "{sql}");
    }
}
