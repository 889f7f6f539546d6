//! Which tables a migration must back up before it runs. Pure: reads the prepared statements
//! through [`crate::touch`]; what the names resolve to (and whether they exist yet) is decided in
//! the database when the backup is taken (see [`crate::db::backup`]).

use serde::Serialize;

use crate::statements::Statement;
use crate::touch::Effect;

/// What a target names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TargetKind {
    /// A table, by name.
    Table,
    /// The tables with a column of this type (or an array of it, or a domain over either):
    /// `DROP TYPE … CASCADE` drops those columns.
    TypeUsers,
    /// Every table of this schema (`DROP SCHEMA … CASCADE`).
    SchemaTables,
    /// The table and every table referencing it by foreign key, recursively (`TRUNCATE …
    /// CASCADE` empties them all).
    Referencing,
}

/// One thing to back up, with why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BackupTarget {
    pub kind: TargetKind,
    /// `None`: resolved through `search_path` (always `None` for [`TargetKind::SchemaTables`]).
    pub schema: Option<String>,
    pub name: String,
    /// Why, e.g. `DROP COLUMN email`, in statement order, without repeats.
    pub reasons: Vec<String>,
}

impl BackupTarget {
    /// The reasons joined for the catalog's `reason` column.
    pub fn reason(&self) -> String {
        self.reasons.join(", ")
    }
}

/// The backup targets of a migration's statements, in the order first touched.
pub fn targets(statements: &[Statement]) -> Vec<BackupTarget> {
    let mut out: Vec<BackupTarget> = Vec::new();
    for s in statements {
        // Parsing again only for a TRUNCATE (the touches do not say CASCADE).
        let touches = s.touches();
        let cascade = touches.iter().any(|t| matches!(t.effect, Effect::Truncate))
            && is_truncate_cascade(&s.sql);
        for t in touches.iter() {
            // A materialized view's rows are derived: a rollback re-creates it from the
            // restored tables, and rows cannot be inserted into one (nor read from one that
            // was never populated), so there is nothing to back up.
            if !t.is_destructive() || matches!(t.effect, Effect::DropMaterializedView) {
                continue;
            }
            let kind = match t.effect {
                Effect::DropType => TargetKind::TypeUsers,
                Effect::DropSchema => TargetKind::SchemaTables,
                Effect::Truncate if cascade => TargetKind::Referencing,
                _ => TargetKind::Table,
            };
            let reason = match &t.effect {
                Effect::DropType => format!("DROP TYPE {}", t.qualified()),
                Effect::DropSchema => format!("DROP SCHEMA {}", t.name),
                Effect::Truncate if cascade => format!("TRUNCATE {} CASCADE", t.qualified()),
                e => e.label(),
            };
            match out
                .iter_mut()
                .find(|o| o.kind == kind && o.schema == t.schema && o.name == t.name)
            {
                Some(o) => {
                    if !o.reasons.contains(&reason) {
                        o.reasons.push(reason);
                    }
                }
                None => out.push(BackupTarget {
                    kind,
                    schema: t.schema.clone(),
                    name: t.name.clone(),
                    reasons: vec![reason],
                }),
            }
        }
    }
    out
}

/// Whether `sql` is a `TRUNCATE … CASCADE`.
fn is_truncate_cascade(sql: &str) -> bool {
    use squawk_syntax::ast::{self, AstNode};
    squawk_syntax::SourceFile::parse(sql)
        .tree()
        .stmts()
        .any(|stmt| match stmt {
            ast::Stmt::Truncate(t) => t.drop_behavior().is_some_and(|d| {
                d.syntax()
                    .descendants_with_tokens()
                    .any(|e| e.kind() == squawk_syntax::SyntaxKind::CASCADE_KW)
            }),
            _ => false,
        })
}

/// A job's targets: none when backups are off or the migration resumes (its first segments,
/// and so its backups, were committed by an earlier run).
pub fn job_targets(
    settings: &crate::backup::BackupSettings,
    prepared: &crate::migration::Prepared,
    resume_from: usize,
) -> Vec<BackupTarget> {
    if !settings.enabled || resume_from > 0 {
        return Vec::new();
    }
    targets(&prepared.statements)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stmts(sql: &str) -> Vec<Statement> {
        crate::statements::split(sql, 0..sql.len()).statements
    }

    #[test]
    fn destructive_statements_become_targets_merged_per_table() {
        let t = targets(&stmts(
            "create table fresh (id int); insert into fresh values (1);\n\
             alter table users drop column email, add column x int;\n\
             delete from users where id = 1;\n\
             drop view v; drop materialized view mv;\n\
             drop type mood cascade; drop schema old cascade;\n\
             update app.orders set total = 0;",
        ));
        let summary: Vec<(TargetKind, Option<&str>, &str, String)> = t
            .iter()
            .map(|t| (t.kind, t.schema.as_deref(), t.name.as_str(), t.reason()))
            .collect();
        assert_eq!(
            summary,
            [
                (
                    TargetKind::Table,
                    None,
                    "users",
                    "DROP COLUMN email, DELETE".to_string()
                ),
                (
                    TargetKind::TypeUsers,
                    None,
                    "mood",
                    "DROP TYPE mood".to_string()
                ),
                (
                    TargetKind::SchemaTables,
                    None,
                    "old",
                    "DROP SCHEMA old".to_string()
                ),
                (
                    TargetKind::Table,
                    Some("app"),
                    "orders",
                    "UPDATE".to_string()
                ),
            ]
        );
    }

    #[test]
    fn truncate_cascade_reaches_referencing_tables() {
        let t = targets(&stmts("truncate a, s.b cascade; truncate c;"));
        let kinds: Vec<(TargetKind, String)> = t.iter().map(|t| (t.kind, t.reason())).collect();
        assert_eq!(
            kinds,
            [
                (TargetKind::Referencing, "TRUNCATE a CASCADE".to_string()),
                (TargetKind::Referencing, "TRUNCATE s.b CASCADE".to_string()),
                (TargetKind::Table, "TRUNCATE".to_string()),
            ]
        );
    }

    #[test]
    fn additive_migrations_have_no_targets() {
        assert!(targets(&stmts(
            "create table a (id int); alter table a add column b int; insert into a values (1); drop view v;"
        ))
        .is_empty());
    }
}
