//! `rls_disabled`: tables in the exposed schemas (those clients reach directly, e.g. `public`
//! through PostgREST on Supabase) with row level security off: every role with table privileges
//! reads and writes every row. Partitions count too (they can be queried directly). Nothing is
//! reported when no schema is exposed.

use tokio_postgres::Client;

use super::{finding, not_extension_member, object, qualified, CheckInfo, Scope};
use crate::error::{Error, Result};
use crate::validate::{Finding, Severity};

pub(super) const INFO: CheckInfo = CheckInfo {
    id: "rls_disabled",
    default_severity: Severity::Error,
    description: "tables in exposed schemas with row level security disabled",
};

fn sql() -> String {
    format!(
        "
SELECT n.nspname::text, c.relname::text
FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r', 'p')
  AND NOT c.relrowsecurity
  AND n.nspname = ANY ($1::text[])
  AND {}
ORDER BY 1, 2",
        not_extension_member("c", "pg_class")
    )
}

pub(super) async fn run(client: &Client, scope: &Scope) -> Result<Vec<Finding>> {
    if scope.exposed_schemas.is_empty() {
        return Ok(Vec::new());
    }
    let rows = client
        .query(&sql(), &[&scope.exposed_schemas])
        .await
        .map_err(|e| Error::db("checking row level security", e))?;
    Ok(rows
        .iter()
        .map(|r| {
            let schema: String = r.get(0);
            let name: String = r.get(1);
            let table = qualified(&schema, &name);
            finding(
                &INFO,
                object(&schema, &name),
                format!(
                    "table {schema}.{name} is in exposed schema {schema} but row level security is disabled: clients with table privileges read and write every row"
                ),
                format!(
                    "ALTER TABLE {table} ENABLE ROW LEVEL SECURITY; then add a policy, e.g. CREATE POLICY <name> ON {table} FOR SELECT TO authenticated USING (<condition>);"
                ),
            )
        })
        .collect())
}
