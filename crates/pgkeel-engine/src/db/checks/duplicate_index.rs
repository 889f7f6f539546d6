//! `duplicate_index`: two or more valid indexes on one table with identical definitions: same
//! access method, key and INCLUDE columns (`indkey`, `indnkeyatts`), operator classes,
//! collations, sort options, expressions, predicate, uniqueness (and NULLS NOT DISTINCT) and
//! exclusion. Each copy slows every write and takes space; one is enough.
//!
//! Index partitions are judged through their partitioned parent index. The hint keeps indexes
//! that back a constraint (primary key, unique, exclusion) or that a foreign key depends on, and
//! drops the others.

use tokio_postgres::Client;

use super::{finding, not_extension_member, object, qualified, CheckInfo, Scope};
use crate::db::ident;
use crate::error::{Error, Result};
use crate::validate::{Finding, Severity};

pub(super) const INFO: CheckInfo = CheckInfo {
    id: "duplicate_index",
    default_severity: Severity::Warning,
    description: "indexes with identical definitions on the same table",
};

fn sql() -> String {
    format!(
        "
WITH idx AS (
  SELECT n.nspname::text AS schema, t.relname::text AS tbl, t.relkind::text AS relkind,
         ic.relname::text AS name, i.indrelid, ic.relam, i.indkey::text AS indkey,
         i.indclass::text AS indclass, i.indcollation::text AS indcollation,
         i.indoption::text AS indoption, i.indnkeyatts,
         coalesce(pg_get_expr(i.indexprs, i.indrelid), '') AS exprs,
         coalesce(pg_get_expr(i.indpred, i.indrelid), '') AS pred,
         i.indisunique, i.indnullsnotdistinct, i.indisexclusion,
         (SELECT k.conname::text FROM pg_constraint k
          WHERE k.conindid = i.indexrelid AND k.conrelid = i.indrelid
            AND k.contype IN ('p', 'u', 'x')
          ORDER BY k.conname LIMIT 1) AS constraint_name,
         (SELECT k.contype = 'p' FROM pg_constraint k
          WHERE k.conindid = i.indexrelid AND k.conrelid = i.indrelid
            AND k.contype IN ('p', 'u', 'x')
          ORDER BY k.conname LIMIT 1) AS is_pkey,
         EXISTS (SELECT 1 FROM pg_constraint k
                 WHERE k.conindid = i.indexrelid AND k.contype = 'f') AS fk_depends
  FROM pg_index i
  JOIN pg_class ic ON ic.oid = i.indexrelid
  JOIN pg_class t ON t.oid = i.indrelid
  JOIN pg_namespace n ON n.oid = t.relnamespace
  WHERE i.indisvalid
    AND NOT ic.relispartition
    AND n.nspname = ANY ($1::text[])
    AND {}
)
SELECT schema, tbl, relkind,
       array_agg(name ORDER BY name),
       array_agg(coalesce(constraint_name, '') ORDER BY name),
       array_agg(coalesce(is_pkey, false) ORDER BY name),
       array_agg(fk_depends ORDER BY name)
FROM idx
GROUP BY schema, tbl, relkind, indrelid, relam, indkey, indclass, indcollation, indoption,
         indnkeyatts, exprs, pred, indisunique, indnullsnotdistinct, indisexclusion
HAVING count(*) > 1
ORDER BY 1, 2, 4",
        not_extension_member("t", "pg_class")
    )
}

/// One index of a duplicate group.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Copy {
    name: String,
    /// The primary key, unique or exclusion constraint it backs.
    constraint: Option<String>,
    primary_key: bool,
    /// A foreign key (here or in another table) depends on it.
    fk_depends: bool,
}

pub(super) async fn run(client: &Client, scope: &Scope) -> Result<Vec<Finding>> {
    let rows = client
        .query(&sql(), &[&scope.schemas])
        .await
        .map_err(|e| Error::db("checking for duplicate indexes", e))?;
    Ok(rows
        .iter()
        .map(|r| {
            let schema: String = r.get(0);
            let table: String = r.get(1);
            let relkind: String = r.get(2);
            let names: Vec<String> = r.get(3);
            let constraints: Vec<String> = r.get(4);
            let pkeys: Vec<bool> = r.get(5);
            let fks: Vec<bool> = r.get(6);
            let copies: Vec<Copy> = names
                .into_iter()
                .zip(constraints)
                .zip(pkeys.into_iter().zip(fks))
                .map(|((name, constraint), (primary_key, fk_depends))| Copy {
                    name,
                    constraint: (!constraint.is_empty()).then_some(constraint),
                    primary_key,
                    fk_depends,
                })
                .collect();
            let listed = copies
                .iter()
                .map(|c| match &c.constraint {
                    Some(k) => format!("{} (constraint {k})", c.name),
                    None => c.name.clone(),
                })
                .collect::<Vec<_>>()
                .join(", ");
            finding(
                &INFO,
                object(&schema, &table),
                format!(
                    "table {schema}.{table} has {} identical indexes: {listed}",
                    copies.len()
                ),
                hint(&schema, &table, relkind == "p", &copies),
            )
        })
        .collect())
}

/// Keep one copy, preferring the primary key, then a constraint's index, then one a foreign key
/// depends on, then the first by name; drop the rest.
fn hint(schema: &str, table: &str, partitioned: bool, copies: &[Copy]) -> String {
    let rank = |c: &Copy| (!c.primary_key, c.constraint.is_none(), !c.fk_depends);
    let keep = copies
        .iter()
        .enumerate()
        .min_by_key(|(i, c)| (rank(c), *i))
        .map(|(i, _)| i)
        .unwrap_or(0);
    let concurrently = if partitioned { "" } else { "CONCURRENTLY " };
    let mut statements = Vec::new();
    for (i, c) in copies.iter().enumerate() {
        if i == keep {
            continue;
        }
        let mut s = match &c.constraint {
            Some(k) => format!(
                "ALTER TABLE {} DROP CONSTRAINT {};",
                qualified(schema, table),
                ident(k)
            ),
            None => format!("DROP INDEX {concurrently}{};", qualified(schema, &c.name)),
        };
        if c.fk_depends {
            s.push_str(&format!(
                " (a foreign key depends on {}: it may have to be dropped and re-added to use {})",
                c.name, copies[keep].name
            ));
        }
        statements.push(s);
    }
    format!(
        "keep {} and drop the others: {}",
        copies[keep].name,
        statements.join(" ")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn copy(name: &str, constraint: Option<&str>, primary_key: bool) -> Copy {
        Copy {
            name: name.into(),
            constraint: constraint.map(String::from),
            primary_key,
            fk_depends: false,
        }
    }

    #[test]
    fn keeps_the_constraint_index() {
        let h = hint(
            "app",
            "t",
            false,
            &[
                copy("a_idx", None, false),
                copy("t_a_key", Some("t_a_key"), false),
            ],
        );
        assert_eq!(
            h,
            "keep t_a_key and drop the others: DROP INDEX CONCURRENTLY \"app\".\"a_idx\";"
        );
        let h = hint(
            "app",
            "t",
            true,
            &[
                copy("t_a_key", Some("t_a_key"), false),
                copy("t_pkey", Some("t_pkey"), true),
            ],
        );
        assert_eq!(
            h,
            "keep t_pkey and drop the others: ALTER TABLE \"app\".\"t\" DROP CONSTRAINT \"t_a_key\";"
        );
        let h = hint(
            "app",
            "t",
            true,
            &[copy("a1", None, false), copy("a2", None, false)],
        );
        assert_eq!(h, "keep a1 and drop the others: DROP INDEX \"app\".\"a2\";");
    }
}
