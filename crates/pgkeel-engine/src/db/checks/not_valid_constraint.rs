//! `not_valid_constraint`: CHECK and FOREIGN KEY constraints added `NOT VALID` and never
//! validated. New rows are checked, existing rows are not, so the table may hold rows the
//! constraint forbids. For each one, the rows it would reject are counted (one count query per
//! constraint, run concurrently; there are few):
//! - CHECK: rows where `NOT (expr)` (a NULL result passes, as in PostgreSQL), over the table and
//!   its inheritance children / partitions (`VALIDATE CONSTRAINT` recurses the same way).
//!   Copies inherited by children (`NOT conislocal`) are judged with their parent's.
//! - FOREIGN KEY: rows whose key columns are all non-null and match no referenced row (with
//!   MATCH FULL, also rows with some but not all key columns null).
//!
//! Severity: **error** when rows would be rejected (the data already breaks the rule and
//! `VALIDATE CONSTRAINT` would fail), **warning** when none would (it can be validated now).

use tokio_postgres::Client;

use super::{
    counts, finding, not_extension_member, qualified, rows, CheckInfo, ForeignKey, Scope,
    FK_COLUMNS,
};
use crate::db::ident;
use crate::error::{Error, Result};
use crate::validate::{Finding, Severity};

pub(super) const INFO: CheckInfo = CheckInfo {
    id: "not_valid_constraint",
    default_severity: Severity::Warning,
    description: "NOT VALID check and foreign key constraints, with the rows they would reject (error when there are any)",
};

fn sql() -> String {
    format!(
        "
SELECT n.nspname::text, c.relname::text, k.conname::text, k.contype::text, c.relkind::text,
       CASE WHEN k.contype = 'c' THEN pg_get_expr(k.conbin, k.conrelid) END,
       {FK_COLUMNS}
FROM pg_constraint k
JOIN pg_class c ON c.oid = k.conrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE k.contype IN ('c', 'f')
  AND NOT k.convalidated
  AND k.conislocal
  AND k.conparentid = 0
  AND n.nspname = ANY ($1::text[])
  AND {}
ORDER BY 1, 2, 3",
        not_extension_member("c", "pg_class")
    )
}

enum Kind {
    Check { expr: String },
    ForeignKey(Box<ForeignKey>),
}

struct NotValid {
    schema: String,
    table: String,
    name: String,
    kind: Kind,
}

impl NotValid {
    fn count_sql(&self) -> String {
        match &self.kind {
            Kind::Check { expr } => format!(
                "SELECT count(*) FROM {} WHERE NOT ({})",
                qualified(&self.schema, &self.table),
                unwrap_parens(expr)
            ),
            Kind::ForeignKey(fk) => fk.count_sql(),
        }
    }
}

pub(super) async fn run(client: &Client, scope: &Scope) -> Result<Vec<Finding>> {
    let found = client
        .query(&sql(), &[&scope.schemas])
        .await
        .map_err(|e| Error::db("checking for NOT VALID constraints", e))?;
    let constraints: Vec<NotValid> = found
        .iter()
        .map(|r| {
            let schema: String = r.get(0);
            let table: String = r.get(1);
            let contype: String = r.get(3);
            let relkind: String = r.get(4);
            let kind = if contype == "c" {
                Kind::Check {
                    expr: r.get::<_, Option<String>>(5).unwrap_or_default(),
                }
            } else {
                Kind::ForeignKey(Box::new(ForeignKey::from_row(
                    r,
                    6,
                    schema.clone(),
                    table.clone(),
                    relkind,
                )))
            };
            NotValid {
                schema,
                table,
                name: r.get(2),
                kind,
            }
        })
        .collect();
    let queries: Vec<String> = constraints.iter().map(NotValid::count_sql).collect();
    let counted = counts(
        client,
        &queries,
        "counting the rows a NOT VALID constraint would reject",
    )
    .await?;
    Ok(constraints
        .iter()
        .zip(counted)
        .map(|(c, n)| report(c, n))
        .collect())
}

fn report(c: &NotValid, n: i64) -> Finding {
    let table = qualified(&c.schema, &c.table);
    let validate = format!(
        "ALTER TABLE {table} VALIDATE CONSTRAINT {};",
        ident(&c.name)
    );
    let (what, select) = match &c.kind {
        Kind::Check { expr } => (
            format!("CHECK constraint {} ({})", c.name, unwrap_parens(expr)),
            format!("SELECT * FROM {table} WHERE NOT ({});", unwrap_parens(expr)),
        ),
        Kind::ForeignKey(fk) => (
            format!(
                "foreign key {} ({}) → {}.{} ({})",
                c.name,
                fk.columns.join(", "),
                fk.parent_schema,
                fk.parent,
                fk.parent_columns.join(", ")
            ),
            fk.select_sql(),
        ),
    };
    let object = format!("{}.{}.{}", c.schema, c.table, c.name);
    let mut f = if n > 0 {
        finding(
            &INFO,
            object,
            format!(
                "{what} on {}.{} is NOT VALID and {} would violate it",
                c.schema,
                c.table,
                rows(n)
            ),
            format!(
                "fix the {} (find them with: {select}), then {validate}",
                rows(n)
            ),
        )
    } else {
        finding(
            &INFO,
            object,
            format!(
                "{what} on {}.{} is NOT VALID; no existing row violates it",
                c.schema, c.table
            ),
            format!("{validate} (it takes only a SHARE UPDATE EXCLUSIVE lock)"),
        )
    };
    f.severity = if n > 0 {
        Severity::Error
    } else {
        Severity::Warning
    };
    f
}

/// `expr` without one pair of parentheses around all of it (`pg_get_expr` prints a CHECK
/// expression as `(price > 0)`), so a message can wrap it in its own.
fn unwrap_parens(expr: &str) -> &str {
    let Some(inner) = expr.strip_prefix('(').and_then(|e| e.strip_suffix(')')) else {
        return expr;
    };
    // The opening parenthesis must close at the very end: depth never drops below zero inside.
    let mut depth = 0i32;
    let mut quoted = false;
    for c in inner.chars() {
        match c {
            '\'' => quoted = !quoted,
            '(' if !quoted => depth += 1,
            ')' if !quoted => {
                depth -= 1;
                if depth < 0 {
                    return expr;
                }
            }
            _ => {}
        }
    }
    if depth == 0 && !quoted {
        inner
    } else {
        expr
    }
}

#[cfg(test)]
mod tests {
    use super::unwrap_parens;

    #[test]
    fn unwraps_one_outer_pair() {
        assert_eq!(unwrap_parens("(price > 0)"), "price > 0");
        assert_eq!(unwrap_parens("(a > 0) AND (b > 0)"), "(a > 0) AND (b > 0)");
        assert_eq!(
            unwrap_parens("((a > 0) AND (b > 0))"),
            "(a > 0) AND (b > 0)"
        );
        assert_eq!(unwrap_parens("(note <> ')')"), "note <> ')'");
        assert_eq!(unwrap_parens("qty > 0"), "qty > 0");
    }
}
