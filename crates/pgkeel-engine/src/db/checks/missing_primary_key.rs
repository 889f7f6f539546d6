//! `missing_primary_key`: ordinary and partitioned tables without a primary key. Partitions are
//! judged by their parent (a partitioned table's primary key covers every partition), so they
//! are skipped. Logical replication, most ORMs and row-level tooling need a key to name a row.

use tokio_postgres::Client;

use super::{finding, not_extension_member, object, qualified, CheckInfo, Scope};
use crate::error::{Error, Result};
use crate::validate::{Finding, Severity};

pub(super) const INFO: CheckInfo = CheckInfo {
    id: "missing_primary_key",
    default_severity: Severity::Warning,
    description: "tables (ordinary or partitioned; partitions are judged by their parent) without a primary key",
};

/// Tables without a primary key, and for ordinary tables the first unique, valid, non-partial
/// index on NOT NULL plain columns (it can become the primary key as it is).
fn sql() -> String {
    format!(
        "
SELECT n.nspname::text, c.relname::text, c.relkind::text,
       (SELECT ic.relname::text
        FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid
        WHERE i.indrelid = c.oid AND i.indisunique AND i.indisvalid AND i.indpred IS NULL
          AND i.indexprs IS NULL AND i.indnkeyatts = i.indnatts AND c.relkind = 'r'
          AND NOT EXISTS (SELECT 1 FROM pg_attribute a
                          WHERE a.attrelid = c.oid AND a.attnum = ANY (i.indkey::int2[])
                            AND NOT a.attnotnull)
        ORDER BY ic.relname LIMIT 1)
FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r', 'p')
  AND NOT c.relispartition
  AND n.nspname = ANY ($1::text[])
  AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conrelid = c.oid AND k.contype = 'p')
  AND {}
ORDER BY 1, 2",
        not_extension_member("c", "pg_class")
    )
}

pub(super) async fn run(client: &Client, scope: &Scope) -> Result<Vec<Finding>> {
    let rows = client
        .query(&sql(), &[&scope.schemas])
        .await
        .map_err(|e| Error::db("checking for tables without a primary key", e))?;
    Ok(rows
        .iter()
        .map(|r| {
            let schema: String = r.get(0);
            let name: String = r.get(1);
            let relkind: String = r.get(2);
            let candidate: Option<String> = r.get(3);
            let table = qualified(&schema, &name);
            let (what, hint) = match (relkind.as_str(), candidate) {
                ("p", _) => (
                    "partitioned table",
                    format!(
                        "add one; it must include the partition key columns: ALTER TABLE {table} ADD PRIMARY KEY (<partition key columns>, …);"
                    ),
                ),
                (_, Some(index)) => (
                    "table",
                    format!(
                        "promote its unique index {index}: ALTER TABLE {table} ADD CONSTRAINT {} PRIMARY KEY USING INDEX {};",
                        crate::db::ident(&format!("{name}_pkey")),
                        crate::db::ident(&index)
                    ),
                ),
                _ => (
                    "table",
                    format!(
                        "ALTER TABLE {table} ADD PRIMARY KEY (<unique, not null columns>); or add a key column: ALTER TABLE {table} ADD COLUMN id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY;"
                    ),
                ),
            };
            finding(
                &INFO,
                object(&schema, &name),
                format!("{what} {schema}.{name} has no primary key"),
                hint,
            )
        })
        .collect())
}
