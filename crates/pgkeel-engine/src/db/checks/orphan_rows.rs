//! `orphan_rows`: validated foreign keys whose referential-integrity triggers are disabled
//! (`pg_trigger.tgenabled = 'D'` on one of the key's internal `RI_ConstraintTrigger`s, e.g.
//! after `ALTER TABLE … DISABLE TRIGGER ALL`). While they are disabled PostgreSQL no longer
//! enforces the key, so rows can reference parents that do not exist although the constraint
//! says it is valid.
//!
//! Each such key gets a **warning** that its triggers are disabled, and, when rows reference
//! missing parents, an **error** with their number (one count query per key, run concurrently).
//! NOT VALID keys are left to `not_valid_constraint`, which counts their violations already.
//! A key on or to a partitioned table is reported once, with every table (partitions included)
//! where its triggers are disabled. Triggers set to fire only in replica mode (`'R'`) do not
//! count as disabled, and writes made with `session_replication_role = replica` leave no trace
//! in the catalog: neither is detected.

use tokio_postgres::Client;

use super::{
    counts, finding, not_extension_member, qualified, rows, CheckInfo, ForeignKey, Scope,
    FK_COLUMNS,
};
use crate::error::{Error, Result};
use crate::validate::{Finding, Severity};

pub(super) const INFO: CheckInfo = CheckInfo {
    id: "orphan_rows",
    default_severity: Severity::Error,
    description:
        "rows referencing missing parents under validated foreign keys whose triggers are disabled",
};

/// One row per (foreign key, table holding one of its disabled triggers). Disabled triggers are
/// found first (usually none), then each is traced up `conparentid` to the key the user created:
/// a key on or to a partitioned table has clones per partition, whose triggers are its own.
fn sql() -> String {
    format!(
        "
WITH RECURSIVE up AS (
    SELECT t.tgconstraint AS con, t.tgrelid
    FROM pg_trigger t
    WHERE t.tgenabled = 'D' AND t.tgisinternal AND t.tgconstraint <> 0
  UNION
    SELECT p.conparentid, up.tgrelid
    FROM up JOIN pg_constraint p ON p.oid = up.con
    WHERE p.conparentid <> 0
)
SELECT n.nspname::text, c.relname::text, k.conname::text, c.relkind::text,
       tn.nspname::text, tc.relname::text,
       {FK_COLUMNS}
FROM (SELECT DISTINCT con, tgrelid FROM up) d
JOIN pg_constraint k ON k.oid = d.con
JOIN pg_class c ON c.oid = k.conrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
JOIN pg_class tc ON tc.oid = d.tgrelid
JOIN pg_namespace tn ON tn.oid = tc.relnamespace
WHERE k.contype = 'f'
  AND k.conparentid = 0
  AND k.convalidated
  AND n.nspname = ANY ($1::text[])
  AND {}
ORDER BY 1, 2, 3, 5, 6",
        not_extension_member("c", "pg_class")
    )
}

struct Disabled {
    name: String,
    /// (schema, table) holding disabled triggers of this key, sorted.
    tables: Vec<(String, String)>,
    fk: ForeignKey,
}

pub(super) async fn run(client: &Client, scope: &Scope) -> Result<Vec<Finding>> {
    let found = client
        .query(&sql(), &[&scope.schemas])
        .await
        .map_err(|e| Error::db("checking for foreign keys with disabled triggers", e))?;
    // Rows come sorted by key, then table: group them per key.
    let mut keys: Vec<Disabled> = Vec::new();
    for r in &found {
        let fk = ForeignKey::from_row(r, 6, r.get(0), r.get(1), r.get(3));
        let name: String = r.get(2);
        let table: (String, String) = (r.get(4), r.get(5));
        match keys.last_mut() {
            Some(k) if k.name == name && k.fk.schema == fk.schema && k.fk.table == fk.table => {
                k.tables.push(table)
            }
            _ => keys.push(Disabled {
                name,
                tables: vec![table],
                fk,
            }),
        }
    }
    let queries: Vec<String> = keys.iter().map(|k| k.fk.count_sql()).collect();
    let counted = counts(client, &queries, "counting orphan rows").await?;
    let mut findings = Vec::new();
    for (key, n) in keys.iter().zip(counted) {
        let fk = &key.fk;
        let object = format!("{}.{}.{}", fk.schema, fk.table, key.name);
        let description = format!(
            "foreign key {} on {}.{} ({}) → {}.{} ({})",
            key.name,
            fk.schema,
            fk.table,
            fk.columns.join(", "),
            fk.parent_schema,
            fk.parent,
            fk.parent_columns.join(", ")
        );
        let tables: Vec<String> = key.tables.iter().map(|(s, t)| format!("{s}.{t}")).collect();
        let enable = key
            .tables
            .iter()
            .map(|(s, t)| format!("ALTER TABLE {} ENABLE TRIGGER ALL;", qualified(s, t)))
            .collect::<Vec<_>>()
            .join(" ");
        let mut warning = finding(
            &INFO,
            object.clone(),
            format!(
                "{description} is not enforced: its triggers on {} are disabled",
                tables.join(", ")
            ),
            format!("{enable} (enabling system triggers needs a superuser)"),
        );
        warning.severity = Severity::Warning;
        findings.push(warning);
        if n > 0 {
            findings.push(finding(
                &INFO,
                object,
                format!(
                    "{} in {}.{} {} missing rows of {}.{} under {description}",
                    rows(n),
                    fk.schema,
                    fk.table,
                    if n == 1 { "references" } else { "reference" },
                    fk.parent_schema,
                    fk.parent
                ),
                format!(
                    "find them with: {} then fix or delete them, and {enable}",
                    fk.select_sql()
                ),
            ));
        }
    }
    Ok(findings)
}
