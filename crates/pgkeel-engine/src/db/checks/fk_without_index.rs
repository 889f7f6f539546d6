//! `fk_without_index`: foreign keys whose referencing columns are not the leading columns of a
//! valid, non-partial index (in any order within the leading set). Without one, every DELETE or
//! key UPDATE on the referenced table scans the referencing table, and joins on the key are slow.
//!
//! Foreign keys cloned onto partitions from a partitioned table's key (`conparentid <> 0`) are
//! judged once, on the partitioned table.

use tokio_postgres::Client;

use super::{finding, ident_list, not_extension_member, qualified, CheckInfo, Scope};
use crate::error::{Error, Result};
use crate::validate::{Finding, Severity};

pub(super) const INFO: CheckInfo = CheckInfo {
    id: "fk_without_index",
    default_severity: Severity::Warning,
    description: "foreign keys whose columns are not the leading columns of a valid index",
};

fn sql() -> String {
    format!(
        "
SELECT n.nspname::text, c.relname::text, k.conname::text, c.relkind::text,
       ARRAY(SELECT a.attname::text
             FROM unnest(k.conkey) WITH ORDINALITY AS u(attnum, ord)
             JOIN pg_attribute a ON a.attrelid = k.conrelid AND a.attnum = u.attnum
             ORDER BY u.ord),
       pn.nspname::text, pc.relname::text
FROM pg_constraint k
JOIN pg_class c ON c.oid = k.conrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
JOIN pg_class pc ON pc.oid = k.confrelid
JOIN pg_namespace pn ON pn.oid = pc.relnamespace
WHERE k.contype = 'f'
  AND k.conparentid = 0
  AND n.nspname = ANY ($1::text[])
  AND {}
  AND NOT EXISTS (
      SELECT 1 FROM pg_index i
      WHERE i.indrelid = k.conrelid AND i.indisvalid AND i.indpred IS NULL
        AND (string_to_array(i.indkey::text, ' ')::int2[])[1:cardinality(k.conkey)] @> k.conkey)
ORDER BY 1, 2, 3",
        not_extension_member("c", "pg_class")
    )
}

pub(super) async fn run(client: &Client, scope: &Scope) -> Result<Vec<Finding>> {
    let rows = client
        .query(&sql(), &[&scope.schemas])
        .await
        .map_err(|e| Error::db("checking for foreign keys without an index", e))?;
    Ok(rows
        .iter()
        .map(|r| {
            let schema: String = r.get(0);
            let table: String = r.get(1);
            let constraint: String = r.get(2);
            let relkind: String = r.get(3);
            let columns: Vec<String> = r.get(4);
            let parent_schema: String = r.get(5);
            let parent: String = r.get(6);
            let cols = columns.join(", ");
            let target = qualified(&schema, &table);
            let hint = if relkind == "p" {
                // CONCURRENTLY is not possible on a partitioned table.
                format!(
                    "CREATE INDEX ON {target} ({}); (on a partitioned table it cannot be CONCURRENTLY: create it ON ONLY the parent, then CONCURRENTLY on each partition and ATTACH them, to avoid long locks)",
                    ident_list(&columns)
                )
            } else {
                format!(
                    "CREATE INDEX CONCURRENTLY ON {target} ({});",
                    ident_list(&columns)
                )
            };
            finding(
                &INFO,
                format!("{schema}.{table}.{constraint}"),
                format!(
                    "foreign key {constraint} on {schema}.{table} ({cols}) → {parent_schema}.{parent} has no index whose leading columns are ({cols}): deleting or updating keys in {parent_schema}.{parent} scans {schema}.{table}"
                ),
                hint,
            )
        })
        .collect())
}
