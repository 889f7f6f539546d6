//! Which tables (and types, views, schemas) a piece of SQL touches, and how, read from squawk's
//! PostgreSQL syntax tree.
//!
//! Pure: no I/O. Used to plan automatic backups before destructive migrations
//! ([`Touch::is_destructive`]) and to report row counts of touched tables. Names follow
//! PostgreSQL's rules: unquoted identifiers are folded to lower case, quoted ones keep their
//! case. An unqualified name has `schema: None` (it resolves through `search_path` at run time).
//!
//! SQL inside function bodies, `DO` blocks and dynamic SQL is not seen (it is a string, or a body
//! that runs later); a `BEGIN ATOMIC` body is skipped on purpose, since it does not run when the
//! function is created.

use serde::Serialize;
use squawk_syntax::ast::{self, AstNode};
use squawk_syntax::SourceFile;

/// One object a statement touches.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Touch {
    pub schema: Option<String>,
    /// The table's name; for [`Effect::DropType`] the type's, for [`Effect::DropSchema`] the
    /// schema's (with `schema: None`), for views the view's.
    pub name: String,
    pub effect: Effect,
}

/// What a statement does to the object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "kind", content = "detail")]
pub enum Effect {
    /// CREATE TABLE, CREATE TABLE AS, SELECT INTO, CREATE MATERIALIZED VIEW.
    Create,
    Insert,
    /// INSERT … ON CONFLICT DO UPDATE: rewrites existing rows.
    Upsert,
    Update,
    Delete,
    /// MERGE: may update and delete rows.
    Merge,
    Truncate,
    DropTable,
    /// The column's name.
    DropColumn(String),
    /// The column's name.
    AlterColumnType(String),
    /// The new name.
    RenameTable(String),
    RenameColumn {
        from: String,
        to: String,
    },
    /// The name is the type's; the tables whose columns use it are only known in the database.
    DropType,
    DropView,
    DropMaterializedView,
    /// DROP SCHEMA: the name is the schema's; its tables are only known in the database.
    DropSchema,
    /// Any other ALTER TABLE action (add column, constraints, …).
    Alter,
}

impl Effect {
    /// A short label for messages and the backup catalog, e.g. `DROP COLUMN email`.
    pub fn label(&self) -> String {
        match self {
            Effect::Create => "CREATE".into(),
            Effect::Insert => "INSERT".into(),
            Effect::Upsert => "INSERT … ON CONFLICT DO UPDATE".into(),
            Effect::Update => "UPDATE".into(),
            Effect::Delete => "DELETE".into(),
            Effect::Merge => "MERGE".into(),
            Effect::Truncate => "TRUNCATE".into(),
            Effect::DropTable => "DROP TABLE".into(),
            Effect::DropColumn(c) => format!("DROP COLUMN {c}"),
            Effect::AlterColumnType(c) => format!("ALTER COLUMN {c} TYPE"),
            Effect::RenameTable(to) => format!("RENAME TO {to}"),
            Effect::RenameColumn { from, to } => format!("RENAME COLUMN {from} TO {to}"),
            Effect::DropType => "DROP TYPE".into(),
            Effect::DropView => "DROP VIEW".into(),
            Effect::DropMaterializedView => "DROP MATERIALIZED VIEW".into(),
            Effect::DropSchema => "DROP SCHEMA".into(),
            Effect::Alter => "ALTER TABLE".into(),
        }
    }
}

impl Touch {
    /// Whether the statement destroys or rewrites existing data (or renames it away), so that a
    /// backup of the object's rows is needed to undo it. Plain views hold no data: not destructive.
    pub fn is_destructive(&self) -> bool {
        match self.effect {
            Effect::Create | Effect::Insert | Effect::DropView | Effect::Alter => false,
            Effect::Upsert
            | Effect::Update
            | Effect::Delete
            | Effect::Merge
            | Effect::Truncate
            | Effect::DropTable
            | Effect::DropColumn(_)
            | Effect::AlterColumnType(_)
            | Effect::RenameTable(_)
            | Effect::RenameColumn { .. }
            | Effect::DropType
            | Effect::DropMaterializedView
            | Effect::DropSchema => true,
        }
    }

    /// `schema.name` or `name`, as written for messages (not quoted).
    pub fn qualified(&self) -> String {
        match &self.schema {
            Some(s) => format!("{s}.{}", self.name),
            None => self.name.clone(),
        }
    }
}

/// Every object `sql` touches, in statement order. SQL the parser cannot read yields what it
/// could read (squawk recovers from errors); callers that need certainty check for parse errors.
pub fn touched(sql: &str) -> Vec<Touch> {
    let parse = SourceFile::parse(sql);
    let mut out = Vec::new();
    for stmt in parse.tree().stmts() {
        push_touches(&stmt, &mut out);
    }
    out
}

/// What one parsed statement touches.
pub fn stmt_touches(stmt: &ast::Stmt) -> Vec<Touch> {
    let mut out = Vec::new();
    push_touches(stmt, &mut out);
    // Kept per statement: no spare capacity.
    out.shrink_to_fit();
    out
}

fn push_touches(stmt: &ast::Stmt, out: &mut Vec<Touch>) {
    use ast::Stmt as S;
    match stmt {
        // Bodies of routines and rules do not run now.
        S::CreateFunction(_) | S::CreateProcedure(_) | S::CreateRule(_) => {}
        S::DropTable(d) => {
            for t in d.table_name_refs() {
                push_ref(out, t.path_ref(), Effect::DropTable);
            }
        }
        S::Truncate(t) => {
            for r in t.table_list().iter().flat_map(|l| l.table_relation_names()) {
                push_ref(
                    out,
                    r.table_name_ref().and_then(|n| n.path_ref()),
                    Effect::Truncate,
                );
            }
        }
        S::DropType(d) => {
            for t in d.type_name_refs() {
                push_ref(out, t.path_ref(), Effect::DropType);
            }
        }
        S::DropView(d) => {
            for v in d.view_refs() {
                push_ref(out, v.path_ref(), Effect::DropView);
            }
        }
        S::DropMaterializedView(d) => {
            for v in d.view_refs() {
                push_ref(out, v.path_ref(), Effect::DropMaterializedView);
            }
        }
        S::DropSchema(d) => {
            for s in d.schema_refs() {
                out.push(Touch {
                    schema: None,
                    name: ast::normalize_name_node(s.syntax()),
                    effect: Effect::DropSchema,
                });
            }
        }
        S::CreateTable(c) => {
            push_path(out, c.table_name().and_then(|n| n.path()), Effect::Create);
        }
        S::CreateTableAs(c) => {
            push_path(out, c.table_name().and_then(|n| n.path()), Effect::Create);
            dml_touches(stmt.syntax(), out);
        }
        S::SelectInto(s) => {
            dml_touches(stmt.syntax(), out);
            push_path(
                out,
                s.into_clause()
                    .and_then(|i| i.table_name())
                    .and_then(|n| n.path()),
                Effect::Create,
            );
        }
        S::CreateMaterializedView(c) => {
            push_path(out, c.view().and_then(|v| v.path()), Effect::Create);
        }
        S::AlterTable(a) => alter_table(a, out),
        _ => dml_touches(stmt.syntax(), out),
    }
}

fn alter_table(a: &ast::AlterTable, out: &mut Vec<Touch>) {
    let Some(path) = a
        .table_relation_name()
        .and_then(|r| r.table_name_ref())
        .and_then(|n| n.path_ref())
    else {
        return;
    };
    let Some((schema, name)) = path_ref_names(&path) else {
        return;
    };
    let mut push = |effect| {
        out.push(Touch {
            schema: schema.clone(),
            name: name.clone(),
            effect,
        })
    };
    for action in a.actions() {
        use ast::AlterTableAction as A;
        match action {
            A::DropColumn(d) => {
                if let Some(c) = d.column_name_ref() {
                    push(Effect::DropColumn(ast::normalize_name_node(c.syntax())));
                }
            }
            A::AlterColumn(c) => {
                let column = c
                    .column_name_ref()
                    .map(|c| ast::normalize_name_node(c.syntax()))
                    .unwrap_or_default();
                match c.option() {
                    Some(ast::AlterColumnOption::SetType(_)) => {
                        push(Effect::AlterColumnType(column))
                    }
                    _ => push(Effect::Alter),
                }
            }
            A::TableRenameTo(r) => {
                let to = r
                    .table_name()
                    .and_then(|n| n.path())
                    .and_then(|p| p.segment())
                    .map(|s| ast::normalize_name_node(s.syntax()))
                    .unwrap_or_default();
                push(Effect::RenameTable(to));
            }
            A::RenameColumn(r) => {
                let from = r
                    .column_name_ref()
                    .map(|c| ast::normalize_name_node(c.syntax()))
                    .unwrap_or_default();
                let to = r
                    .column_name()
                    .map(|c| ast::normalize_name_node(c.syntax()))
                    .unwrap_or_default();
                push(Effect::RenameColumn { from, to });
            }
            _ => push(Effect::Alter),
        }
    }
}

/// INSERT / UPDATE / DELETE / MERGE anywhere in the statement (top level or in a CTE), in source
/// order. Only the target relation counts: tables read in FROM / USING are not touched.
fn dml_touches(node: &squawk_syntax::SyntaxNode, out: &mut Vec<Touch>) {
    for n in node.descendants() {
        if let Some(d) = ast::Delete::cast(n.clone()) {
            push_relation(out, d.relation_name(), Effect::Delete);
        } else if let Some(u) = ast::Update::cast(n.clone()) {
            push_relation(out, u.relation_name(), Effect::Update);
        } else if let Some(i) = ast::Insert::cast(n.clone()) {
            let upsert = matches!(
                i.on_conflict_clause().and_then(|c| c.conflict_action()),
                Some(ast::ConflictAction::ConflictDoUpdateSet(_))
            );
            let effect = if upsert {
                Effect::Upsert
            } else {
                Effect::Insert
            };
            push_ref(
                out,
                i.relation_name_ref().and_then(|r| r.path_ref()),
                effect,
            );
        } else if let Some(m) = ast::Merge::cast(n) {
            push_ref(
                out,
                m.table_relation_name()
                    .and_then(|r| r.table_name_ref())
                    .and_then(|r| r.path_ref()),
                Effect::Merge,
            );
        }
    }
}

fn push_relation(out: &mut Vec<Touch>, rel: Option<ast::RelationName>, effect: Effect) {
    push_ref(
        out,
        rel.and_then(|r| r.relation_name_ref())
            .and_then(|r| r.path_ref()),
        effect,
    );
}

fn push_ref(out: &mut Vec<Touch>, path: Option<ast::PathRef>, effect: Effect) {
    if let Some((schema, name)) = path.as_ref().and_then(path_ref_names) {
        out.push(Touch {
            schema,
            name,
            effect,
        });
    }
}

fn push_path(out: &mut Vec<Touch>, path: Option<ast::Path>, effect: Effect) {
    let Some(path) = path else { return };
    let Some(segment) = path.segment() else {
        return;
    };
    out.push(Touch {
        schema: path
            .qualifier()
            .and_then(|q| q.segment())
            .map(|s| ast::normalize_name_node(s.syntax())),
        name: ast::normalize_name_node(segment.syntax()),
        effect,
    });
}

/// (schema, name) of a defining `name` or `schema.name` (CREATE TABLE, CREATE INDEX …); `None`
/// when it has no name.
pub(crate) fn path_names(path: &ast::Path) -> Option<(Option<String>, String)> {
    let name = ast::normalize_name_node(path.segment()?.syntax());
    if name.is_empty() {
        return None;
    }
    let schema = path
        .qualifier()
        .and_then(|q| q.segment())
        .map(|s| ast::normalize_name_node(s.syntax()));
    Some((schema, name))
}

/// (schema, name) of `name` or `schema.name`; a three-part `db.schema.name` keeps the last two.
pub(crate) fn path_ref_names(path: &ast::PathRef) -> Option<(Option<String>, String)> {
    let name = ast::normalize_name_node(path.segment()?.syntax());
    if name.is_empty() {
        return None;
    }
    let schema = path
        .qualifier()
        .and_then(|q| q.segment())
        .map(|s| ast::normalize_name_node(s.syntax()));
    Some((schema, name))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(schema: Option<&str>, name: &str, effect: Effect) -> Touch {
        Touch {
            schema: schema.map(str::to_string),
            name: name.to_string(),
            effect,
        }
    }

    #[test]
    fn quoted_identifiers_keep_their_case_and_unquoted_fold() {
        assert_eq!(
            touched(
                r#"DELETE FROM "Orders"; delete from Orders; update "My Schema"."T" set a = 1;"#
            ),
            [
                t(None, "Orders", Effect::Delete),
                t(None, "orders", Effect::Delete),
                t(Some("My Schema"), "T", Effect::Update),
            ]
        );
    }

    #[test]
    fn schema_qualified_names() {
        assert_eq!(
            touched(
                "drop table app.orders; truncate table only app.items; insert into s.t values (1);"
            ),
            [
                t(Some("app"), "orders", Effect::DropTable),
                t(Some("app"), "items", Effect::Truncate),
                t(Some("s"), "t", Effect::Insert),
            ]
        );
    }

    #[test]
    fn lists_in_drop_table_and_truncate() {
        assert_eq!(
            touched("drop table if exists a, b cascade; truncate a, s.b restart identity;"),
            [
                t(None, "a", Effect::DropTable),
                t(None, "b", Effect::DropTable),
                t(None, "a", Effect::Truncate),
                t(Some("s"), "b", Effect::Truncate),
            ]
        );
    }

    #[test]
    fn dml_inside_a_cte_counts_and_read_tables_do_not() {
        let got = touched(
            "with gone as (delete from old_orders where id < 10 returning *) \
             insert into archive select * from gone;",
        );
        assert_eq!(
            got,
            [
                t(None, "archive", Effect::Insert),
                t(None, "old_orders", Effect::Delete),
            ]
        );
        assert_eq!(
            touched("with x as (select 1) select * from x join orders using (id);"),
            []
        );
    }

    #[test]
    fn update_from_touches_only_the_target() {
        assert_eq!(
            touched("update orders o set total = p.total from prices p, public.extra e where o.id = p.id;"),
            [t(None, "orders", Effect::Update)]
        );
        assert_eq!(
            touched("delete from orders using customers c where c.id = orders.customer_id;"),
            [t(None, "orders", Effect::Delete)]
        );
    }

    #[test]
    fn alter_table_with_several_actions() {
        let got = touched(
            "alter table app.users drop column email, alter column age type bigint, \
             add column x int, rename column \"Name\" to full_name;",
        );
        assert_eq!(
            got,
            [
                t(Some("app"), "users", Effect::DropColumn("email".into())),
                t(Some("app"), "users", Effect::AlterColumnType("age".into())),
                t(Some("app"), "users", Effect::Alter),
                t(
                    Some("app"),
                    "users",
                    Effect::RenameColumn {
                        from: "Name".into(),
                        to: "full_name".into()
                    }
                ),
            ]
        );
        assert_eq!(
            touched("alter table users rename to people; alter table t alter column c set data type text using c::text;"),
            [
                t(None, "users", Effect::RenameTable("people".into())),
                t(None, "t", Effect::AlterColumnType("c".into())),
            ]
        );
        let destructive: Vec<bool> = got.iter().map(Touch::is_destructive).collect();
        assert_eq!(destructive, [true, true, false, true]);
    }

    #[test]
    fn drop_type_cascade_names_the_type() {
        let got = touched("drop type if exists app.mood, status cascade;");
        assert_eq!(
            got,
            [
                t(Some("app"), "mood", Effect::DropType),
                t(None, "status", Effect::DropType),
            ]
        );
        assert!(got.iter().all(Touch::is_destructive));
    }

    #[test]
    fn views_schemas_creates_and_routine_bodies() {
        let got = touched(
            "drop view v; drop materialized view app.mv; drop schema old cascade;\n\
             create table new_t (id int); create table s.copy as select * from src;\n\
             create materialized view m as select 1;\n\
             create function f() returns void language sql begin atomic delete from never; end;\n\
             merge into stock s using incoming i on s.id = i.id when matched then delete;\n\
             insert into t values (1) on conflict (id) do update set v = excluded.v;",
        );
        assert_eq!(
            got,
            [
                t(None, "v", Effect::DropView),
                t(Some("app"), "mv", Effect::DropMaterializedView),
                t(None, "old", Effect::DropSchema),
                t(None, "new_t", Effect::Create),
                t(Some("s"), "copy", Effect::Create),
                t(None, "m", Effect::Create),
                t(None, "stock", Effect::Merge),
                t(None, "t", Effect::Upsert),
            ]
        );
        let destructive: Vec<bool> = got.iter().map(Touch::is_destructive).collect();
        assert_eq!(
            destructive,
            [false, true, true, false, false, false, true, true]
        );
    }

    #[test]
    fn nothing_for_reads_and_garbage() {
        assert!(touched("select * from orders; explain select 1;").is_empty());
        assert!(touched("").is_empty());
        assert!(touched("this is not sql").is_empty());
    }
}
