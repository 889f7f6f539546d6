//! `rls_without_policy`: tables with row level security enabled but no policy. Non-owners (and
//! the owner too, with `FORCE ROW LEVEL SECURITY`) then see no rows and can write none, which is
//! rarely meant; when it is, an explicit `USING (false)` policy says so.

use tokio_postgres::Client;

use super::{finding, not_extension_member, object, qualified, CheckInfo, Scope};
use crate::error::{Error, Result};
use crate::validate::{Finding, Severity};

pub(super) const INFO: CheckInfo = CheckInfo {
    id: "rls_without_policy",
    default_severity: Severity::Warning,
    description: "tables with row level security enabled but no policy (non-owners see no rows)",
};

fn sql() -> String {
    format!(
        "
SELECT n.nspname::text, c.relname::text
FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r', 'p')
  AND c.relrowsecurity
  AND NOT EXISTS (SELECT 1 FROM pg_policy p WHERE p.polrelid = c.oid)
  AND n.nspname = ANY ($1::text[])
  AND {}
ORDER BY 1, 2",
        not_extension_member("c", "pg_class")
    )
}

pub(super) async fn run(client: &Client, scope: &Scope) -> Result<Vec<Finding>> {
    let rows = client
        .query(&sql(), &[&scope.schemas])
        .await
        .map_err(|e| Error::db("checking for tables with RLS but no policy", e))?;
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
                    "table {schema}.{name} has row level security enabled but no policy: roles other than its owner see no rows and can write none"
                ),
                format!(
                    "CREATE POLICY <name> ON {table} FOR SELECT TO <role> USING (<condition>); (or, if no access is intended, say so: CREATE POLICY deny_all ON {table} USING (false);)"
                ),
            )
        })
        .collect())
}
