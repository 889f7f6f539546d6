//! `extension_in_public`: extensions installed in schema `public` (whatever the checked
//! schemas are). Their functions, types and operators then mix with the application's objects,
//! sit on every role's search path, and in exposed schemas can be called by clients. `plpgsql`
//! lives in `pg_catalog` and is never reported.

use tokio_postgres::Client;

use super::{finding, CheckInfo, Scope};
use crate::db::ident;
use crate::error::{Error, Result};
use crate::validate::{Finding, Severity};

pub(super) const INFO: CheckInfo = CheckInfo {
    id: "extension_in_public",
    default_severity: Severity::Warning,
    description: "extensions installed in schema public",
};

const SQL: &str = "
SELECT e.extname::text, e.extrelocatable
FROM pg_extension e
JOIN pg_namespace n ON n.oid = e.extnamespace
WHERE n.nspname = 'public' AND e.extname <> 'plpgsql'
ORDER BY 1";

pub(super) async fn run(client: &Client, _scope: &Scope) -> Result<Vec<Finding>> {
    let rows = client
        .query(SQL, &[])
        .await
        .map_err(|e| Error::db("checking extensions", e))?;
    Ok(rows
        .iter()
        .map(|r| {
            let name: String = r.get(0);
            let relocatable: bool = r.get(1);
            let ext = ident(&name);
            let hint = if relocatable {
                format!(
                    "CREATE SCHEMA IF NOT EXISTS extensions; ALTER EXTENSION {ext} SET SCHEMA extensions; (qualify or add extensions to the search_path where its objects are used)"
                )
            } else {
                format!(
                    "it cannot be moved: DROP EXTENSION {ext}; CREATE SCHEMA IF NOT EXISTS extensions; CREATE EXTENSION {ext} SCHEMA extensions; (dropping it drops the objects that depend on it: recreate them)"
                )
            };
            finding(
                &INFO,
                name.clone(),
                format!(
                    "extension {name} is installed in schema public{}",
                    if relocatable { "" } else { " and is not relocatable" }
                ),
                hint,
            )
        })
        .collect())
}
