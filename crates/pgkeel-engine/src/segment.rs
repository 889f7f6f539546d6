//! What a non-transactional segment does, in terms the catalog can confirm: before such a
//! segment runs (first run or re-run after a kill, a cancel or a failure), the executor asks the
//! database whether its effect is already in place (see [`crate::db::segment`]). Pure: this
//! module only reads the statement.
//!
//! A statement outside a transaction can finish on the server after pgkeel lost it (SIGKILL, a
//! dropped connection: the orphaned backend completes `CREATE INDEX CONCURRENTLY`), or stop
//! half-way and leave an INVALID index. Re-running it blindly then fails (42P07) or leaves junk
//! behind; checking its effect makes the next `up` the whole way forward.

use squawk_syntax::ast::{self, AstNode};
use squawk_syntax::{SourceFile, SyntaxKind, SyntaxNode};

use crate::snapshot::objects::{names, object};
use crate::statements::Statement;

/// A schema-qualified or bare name, as PostgreSQL folds it.
pub type Name = (Option<String>, String);

/// How to tell whether a non-transactional statement's effect is in place.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EffectCheck {
    /// `CREATE [UNIQUE] INDEX CONCURRENTLY name ON table …`: an index of that name in the
    /// table's schema, valid and of the same definition, means done.
    CreateIndex {
        index: String,
        table: Name,
        /// The statement with `CONCURRENTLY` dropped, the index renamed to [`PROBE_INDEX`] and
        /// the table replaced by [`PROBE_TABLE`]: run on an empty `LIKE` copy of the table, it
        /// gives the definition the statement builds, in the server's own words.
        probe_sql: String,
    },
    /// `DROP INDEX CONCURRENTLY name`: the index gone means done.
    DropIndex { indexes: Vec<Name> },
    /// `REINDEX INDEX|TABLE CONCURRENTLY target`: an interrupted rebuild leaves INVALID
    /// `…_ccnew`/`…_ccold` indexes, dropped before the rebuild runs again.
    Reindex {
        index: Option<Name>,
        table: Option<Name>,
    },
    /// `ALTER TABLE parent DETACH PARTITION part CONCURRENTLY`: the partition no longer
    /// attached means done; one left "detach pending" by an interrupted run is finished with
    /// `… DETACH PARTITION … FINALIZE`.
    DetachPartition { parent: Name, partition: Name },
}

/// The index name a definition probe creates (in `pg_temp`, rolled back).
pub const PROBE_INDEX: &str = "pgkeel_probe_index";
/// The empty copy of the table a definition probe builds its index on (rolled back).
pub const PROBE_TABLE: &str = "pg_temp.pgkeel_probe_table";

/// The check for `s`, when its effect can be checked. `None` for statements whose re-run is
/// harmless (VACUUM, ALTER SYSTEM, `REINDEX SCHEMA`) or whose effect pgkeel cannot see.
pub fn effect_check(s: &Statement) -> Option<EffectCheck> {
    s.non_transactional()?;
    let parse = SourceFile::parse(&s.sql);
    if !parse.errors().is_empty() {
        return None;
    }
    let stmt = parse.tree().stmts().next()?;
    let first = |n: Option<SyntaxNode>| n.and_then(|n| names(&n).first().and_then(|s| object(s)));
    match &stmt {
        ast::Stmt::CreateIndex(c) => {
            let name_node = c.index()?.syntax().clone();
            let (index_schema, index) = first(Some(name_node.clone()))?;
            if index_schema.is_some() {
                // PostgreSQL refuses a qualified index name in CREATE INDEX.
                return None;
            }
            let table_node = c.table_relation_name()?.syntax().clone();
            let table = first(Some(table_node.clone()))?;
            let table_path = table_node
                .descendants()
                .find(|n| ast::Path::can_cast(n.kind()) || ast::PathRef::can_cast(n.kind()))?;
            let concurrently = stmt
                .syntax()
                .descendants_with_tokens()
                .filter_map(|e| e.into_token())
                .find(|t| t.kind() == SyntaxKind::CONCURRENTLY_KW)?;
            // The keyword and the white space after it.
            let drop = concurrently
                .next_token()
                .filter(|t| t.kind() == SyntaxKind::WHITESPACE)
                .map_or(concurrently.text_range(), |t| {
                    concurrently.text_range().cover(t.text_range())
                });
            let mut edits = [
                (drop, ""),
                (name_node.text_range(), PROBE_INDEX),
                (table_path.text_range(), PROBE_TABLE),
            ];
            edits.sort_by_key(|(r, _)| std::cmp::Reverse(r.start()));
            let mut probe_sql = stmt.syntax().to_string();
            let base = usize::from(stmt.syntax().text_range().start());
            for (range, with) in edits {
                let (from, to) = (
                    usize::from(range.start()) - base,
                    usize::from(range.end()) - base,
                );
                probe_sql.replace_range(from..to, with);
            }
            Some(EffectCheck::CreateIndex {
                index,
                table,
                probe_sql,
            })
        }
        ast::Stmt::DropIndex(d) => {
            let indexes: Vec<Name> = d
                .index_refs()
                .filter_map(|r| first(Some(r.syntax().clone())))
                .collect();
            (!indexes.is_empty()).then_some(EffectCheck::DropIndex { indexes })
        }
        ast::Stmt::Reindex(r) => {
            let target = r.reindex_target()?;
            let node = target.syntax().clone();
            let name = first(Some(node.clone()));
            let has = |k: SyntaxKind| node.children_with_tokens().any(|e| e.kind() == k);
            if has(SyntaxKind::INDEX_KW) {
                Some(EffectCheck::Reindex {
                    index: Some(name?),
                    table: None,
                })
            } else if has(SyntaxKind::TABLE_KW) {
                Some(EffectCheck::Reindex {
                    index: None,
                    table: Some(name?),
                })
            } else {
                None
            }
        }
        ast::Stmt::AlterTable(a) => {
            let all = names(a.syntax());
            let detach = a
                .syntax()
                .descendants()
                .find_map(ast::DetachPartition::cast)?;
            let partition = first(detach.table_name_ref().map(|t| t.syntax().clone()))?;
            let parent = all.first().and_then(|s| object(s))?;
            (parent != partition).then_some(EffectCheck::DetachPartition { parent, partition })
        }
        _ => None,
    }
}

/// Whether two `pg_get_indexdef` texts define the same index apart from its name and table:
/// both UNIQUE or not, and the same text from ` USING ` on (method, keys, INCLUDE, WITH, WHERE).
pub fn same_index_definition(a: &str, b: &str) -> bool {
    index_shape(a) == index_shape(b)
}

fn index_shape(def: &str) -> (bool, Option<&str>) {
    (
        def.starts_with("CREATE UNIQUE INDEX"),
        def.find(" USING ").map(|i| &def[i..]),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(sql: &str) -> Option<EffectCheck> {
        let split = crate::statements::split(sql, 0..sql.len());
        effect_check(&split.statements[0])
    }

    fn n(schema: Option<&str>, name: &str) -> Name {
        (schema.map(str::to_string), name.to_string())
    }

    #[test]
    fn create_index_concurrently_names_index_table_and_probe() {
        let c = check(
            "CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS \"Orders_Email\" ON ONLY app.orders USING btree (lower(email)) WHERE deleted_at IS NULL;",
        );
        assert_eq!(
            c,
            Some(EffectCheck::CreateIndex {
                index: "Orders_Email".into(),
                table: n(Some("app"), "orders"),
                probe_sql: "CREATE UNIQUE INDEX IF NOT EXISTS pgkeel_probe_index ON ONLY pg_temp.pgkeel_probe_table USING btree (lower(email)) WHERE deleted_at IS NULL;".into(),
            })
        );
        let c = check("create index concurrently orders_total on orders (total);");
        assert_eq!(
            c,
            Some(EffectCheck::CreateIndex {
                index: "orders_total".into(),
                table: n(None, "orders"),
                probe_sql: "create index pgkeel_probe_index on pg_temp.pgkeel_probe_table (total);"
                    .into(),
            })
        );
    }

    #[test]
    fn unnamed_and_transactional_statements_have_no_check() {
        assert_eq!(check("CREATE INDEX CONCURRENTLY ON orders (total);"), None);
        assert_eq!(check("CREATE INDEX orders_total ON orders (total);"), None);
        assert_eq!(check("VACUUM orders;"), None);
        assert_eq!(check("REINDEX SCHEMA CONCURRENTLY public;"), None);
    }

    #[test]
    fn drop_reindex_and_detach() {
        assert_eq!(
            check("DROP INDEX CONCURRENTLY IF EXISTS app.orders_total;"),
            Some(EffectCheck::DropIndex {
                indexes: vec![n(Some("app"), "orders_total")]
            })
        );
        assert_eq!(
            check("REINDEX INDEX CONCURRENTLY orders_total;"),
            Some(EffectCheck::Reindex {
                index: Some(n(None, "orders_total")),
                table: None
            })
        );
        assert_eq!(
            check("REINDEX (VERBOSE) TABLE CONCURRENTLY app.orders;"),
            Some(EffectCheck::Reindex {
                index: None,
                table: Some(n(Some("app"), "orders"))
            })
        );
        assert_eq!(
            check("ALTER TABLE events DETACH PARTITION events_2024 CONCURRENTLY;"),
            Some(EffectCheck::DetachPartition {
                parent: n(None, "events"),
                partition: n(None, "events_2024")
            })
        );
    }

    #[test]
    fn index_definitions_compare_without_name_and_table() {
        let a = "CREATE INDEX orders_total ON public.orders USING btree (total)";
        let b =
            "CREATE INDEX pgkeel_probe_index ON pg_temp_3.pgkeel_probe_table USING btree (total)";
        assert!(same_index_definition(a, b));
        assert!(!same_index_definition(
            a,
            "CREATE UNIQUE INDEX x ON pg_temp_3.t USING btree (total)"
        ));
        assert!(!same_index_definition(
            a,
            "CREATE INDEX x ON pg_temp_3.t USING btree (total) WHERE (total > 0)"
        ));
    }
}
