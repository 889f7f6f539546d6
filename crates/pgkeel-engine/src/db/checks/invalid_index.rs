//! `invalid_index`: indexes with `pg_index.indisvalid = false`. The planner never uses them, yet
//! every write still maintains them (when `indisready`); the usual cause is a `CREATE INDEX
//! CONCURRENTLY` (or `REINDEX CONCURRENTLY`) that failed or was cancelled. An index on a
//! partitioned table is invalid until every partition has its index attached.
//!
//! An index whose concurrent build is running right now is also invalid; it is reported as a
//! warning naming the building backend, since it will become valid by itself.

use tokio_postgres::Client;

use super::{finding, object, qualified, CheckInfo, Scope};
use crate::error::{Error, Result};
use crate::validate::{Finding, Severity};

pub(super) const INFO: CheckInfo = CheckInfo {
    id: "invalid_index",
    default_severity: Severity::Error,
    description:
        "invalid indexes (a failed CREATE INDEX CONCURRENTLY): never used, still maintained",
};

const SQL: &str = "
SELECT n.nspname::text, ic.relname::text, t.relname::text, ic.relkind::text,
       pg_get_indexdef(i.indexrelid),
       (SELECT min(p.pid) FROM pg_stat_progress_create_index p WHERE p.index_relid = i.indexrelid)
FROM pg_index i
JOIN pg_class ic ON ic.oid = i.indexrelid
JOIN pg_class t ON t.oid = i.indrelid
JOIN pg_namespace n ON n.oid = ic.relnamespace
WHERE NOT i.indisvalid
  AND n.nspname = ANY ($1::text[])
ORDER BY 1, 2";

pub(super) async fn run(client: &Client, scope: &Scope) -> Result<Vec<Finding>> {
    let rows = client
        .query(SQL, &[&scope.schemas])
        .await
        .map_err(|e| Error::db("checking for invalid indexes", e))?;
    Ok(rows
        .iter()
        .map(|r| {
            let schema: String = r.get(0);
            let index: String = r.get(1);
            let table: String = r.get(2);
            let relkind: String = r.get(3);
            let definition: String = r.get(4);
            let building: Option<i32> = r.get(5);
            let name = qualified(&schema, &index);
            let obj = object(&schema, &index);
            if let Some(pid) = building {
                let mut f = finding(
                    &INFO,
                    obj,
                    format!(
                        "index {schema}.{index} on {schema}.{table} is not valid yet: backend {pid} is building it right now"
                    ),
                    format!(
                        "wait for the build to finish and validate again; if it is stuck: SELECT pg_cancel_backend({pid}); then DROP INDEX CONCURRENTLY {name};"
                    ),
                );
                f.severity = Severity::Warning;
                return f;
            }
            if relkind == "I" {
                return finding(
                    &INFO,
                    obj,
                    format!(
                        "index {schema}.{index} on partitioned table {schema}.{table} is invalid: some partition has no index attached to it"
                    ),
                    format!(
                        "create the index on each partition that lacks one (CREATE INDEX CONCURRENTLY … ON <partition> …), then ALTER INDEX {name} ATTACH PARTITION <partition index>; for each"
                    ),
                );
            }
            finding(
                &INFO,
                obj,
                format!(
                    "index {schema}.{index} on {schema}.{table} is invalid (a failed or cancelled CREATE INDEX CONCURRENTLY): queries never use it but every write still maintains it"
                ),
                format!(
                    "REINDEX INDEX CONCURRENTLY {name}; or DROP INDEX CONCURRENTLY {name}; then {}",
                    concurrently(&definition)
                ),
            )
        })
        .collect())
}

/// `CREATE [UNIQUE] INDEX …` as `pg_get_indexdef` prints it, with `CONCURRENTLY` added.
fn concurrently(definition: &str) -> String {
    for prefix in ["CREATE UNIQUE INDEX ", "CREATE INDEX "] {
        if let Some(rest) = definition.strip_prefix(prefix) {
            return format!("{prefix}CONCURRENTLY {rest};");
        }
    }
    format!("{definition};")
}

#[cfg(test)]
mod tests {
    use super::concurrently;

    #[test]
    fn adds_concurrently() {
        assert_eq!(
            concurrently("CREATE INDEX i ON public.t USING btree (a)"),
            "CREATE INDEX CONCURRENTLY i ON public.t USING btree (a);"
        );
        assert_eq!(
            concurrently("CREATE UNIQUE INDEX i ON public.t USING btree (a)"),
            "CREATE UNIQUE INDEX CONCURRENTLY i ON public.t USING btree (a);"
        );
    }
}
