//! What a migration's statements name, for its snapshot, and what a generated down cannot undo.
//! Pure, over squawk's syntax tree (names folded as PostgreSQL folds them).

use squawk_syntax::ast::{self, AstNode};
use squawk_syntax::SyntaxNode;

use super::Key;
use crate::statements::{Statement, Tree};
use crate::touch::{self, Effect};

/// What a statement needs for its effect to be undone from the snapshot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Needs {
    /// The object did not exist before the migration (it created it): e.g. rows inserted into a
    /// table, or a value added to an enum, are then gone with it.
    CreatedHere,
    /// A backup of the table's rows (UPDATE, DELETE, … restore from it).
    Backup,
}

/// A condition on the snapshot or the backups, checked at plan time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Condition {
    pub line: usize,
    /// e.g. `INSERT into orders`.
    pub what: String,
    pub key: Key,
    pub needs: Needs,
}

/// The analysis of a migration's up statements.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Analysis {
    /// What to snapshot, in first-named order, without repeats.
    pub keys: Vec<Key>,
    /// The keys (a subset of `keys`) whose first mention is a plain `CREATE` (no `IF NOT EXISTS`,
    /// no `OR REPLACE`) of a relation or type. The statement fails if the object exists, so when
    /// the migration commits it was absent before: the snapshot needs no catalog lookup for it,
    /// and an unqualified name means the schema `CREATE` puts it in (`current_schema()`), not an
    /// object of that name further along the search_path.
    pub created: Vec<Key>,
    pub conditions: Vec<Condition>,
    /// Statements no snapshot can undo: `line N: … — why`.
    pub refusals: Vec<String>,
}

impl Analysis {
    fn key(&mut self, kind: &str, name: Option<(Option<String>, String)>) {
        if let Some((schema, name)) = name {
            let k = Key::new(kind, schema, name);
            if !self.keys.contains(&k) {
                self.keys.push(k);
            }
        }
    }

    /// A key named by a `CREATE`: recorded as created here when `plain` (see
    /// [`Analysis::created`]) and nothing earlier in the migration named it.
    fn created_key(&mut self, kind: &str, name: Option<(Option<String>, String)>, plain: bool) {
        if let Some((schema, name)) = name {
            let k = Key::new(kind, schema, name);
            if !self.keys.contains(&k) {
                if plain {
                    self.created.push(k.clone());
                }
                self.keys.push(k);
            }
        }
    }

    /// Whether `key` is created by the migration (see [`Analysis::created`]).
    pub fn is_created(&self, key: &Key) -> bool {
        self.created.contains(key)
    }
}

/// A `CREATE` statement without `IF NOT EXISTS` or `OR REPLACE`: it fails if its object exists.
fn plain_create(node: &SyntaxNode) -> bool {
    !node
        .children()
        .any(|c| ast::IfNotExists::can_cast(c.kind()) || ast::OrReplace::can_cast(c.kind()))
}

/// The segments of every name in `node` that is not part of a longer name (`a.b` → `[a, b]`).
pub(crate) fn names(node: &SyntaxNode) -> Vec<Vec<String>> {
    let is_path =
        |n: &SyntaxNode| ast::Path::can_cast(n.kind()) || ast::PathRef::can_cast(n.kind());
    node.descendants()
        .filter(|n| is_path(n) && !n.parent().is_some_and(|p| is_path(&p)))
        .map(|n| {
            let mut segs = Vec::new();
            let mut cur = Some(n);
            while let Some(c) = cur {
                let (seg, q) = if let Some(p) = ast::Path::cast(c.clone()) {
                    (
                        p.segment().map(|s| ast::normalize_name_node(s.syntax())),
                        p.qualifier().map(|q| q.syntax().clone()),
                    )
                } else if let Some(p) = ast::PathRef::cast(c.clone()) {
                    (
                        p.segment().map(|s| ast::normalize_name_node(s.syntax())),
                        p.qualifier().map(|q| q.syntax().clone()),
                    )
                } else {
                    (None, None)
                };
                if let Some(s) = seg {
                    segs.push(s);
                }
                cur = q;
            }
            segs.reverse();
            segs
        })
        .filter(|s| !s.is_empty() && s.iter().all(|x| !x.is_empty()))
        .collect()
}

/// `[schema, name]` or `[name]` (a longer name keeps its last two parts).
pub(crate) fn object(segs: &[String]) -> Option<(Option<String>, String)> {
    let name = segs.last()?.clone();
    let schema = (segs.len() >= 2).then(|| segs[segs.len() - 2].clone());
    Some((schema, name))
}

fn first(node: Option<&SyntaxNode>) -> Option<(Option<String>, String)> {
    names(node?).first().and_then(|s| object(s))
}

fn has_keyword(node: &SyntaxNode, kw: squawk_syntax::SyntaxKind) -> bool {
    node.descendants_with_tokens().any(|e| e.kind() == kw)
}

fn has_call(node: &SyntaxNode) -> bool {
    node.descendants()
        .any(|n| ast::CallExpr::can_cast(n.kind()))
}

/// Analyse `statements` (the up part of one migration). `label` names it in refusals.
/// `tree`: the parse the statements were split from, reused (see [`Tree`]).
pub fn analyse(statements: &[Statement], tree: Option<&Tree>) -> Analysis {
    let mut a = Analysis::default();
    let nodes = Tree::nodes(tree, statements);
    for (s, stmts) in statements.iter().zip(nodes) {
        let refuse = |a: &mut Analysis, why: &str| {
            a.refusals
                .push(format!("line {}: `{}` — {why}", s.line, s.kind))
        };
        if let Some(why) = s.non_transactional() {
            refuse(
                &mut a,
                &format!("cannot run in a transaction ({why}), so no snapshot covers it (a non-transactional segment)"),
            );
            continue;
        }
        let Some(stmts) = stmts else {
            refuse(
                &mut a,
                "the SQL parser cannot read it, so what it changes is unknown",
            );
            continue;
        };
        for stmt in &stmts {
            statement(&mut a, s, stmt);
        }
    }
    a
}

fn statement(a: &mut Analysis, s: &Statement, stmt: &ast::Stmt) {
    use ast::Stmt as S;
    use squawk_syntax::SyntaxKind as K;
    let unseen = "pgkeel cannot see what it changes";
    let mut refuse = |a: &mut Analysis, why: &str| {
        a.refusals
            .push(format!("line {}: `{}` — {why}", s.line, s.kind))
    };
    let node = stmt.syntax();
    let cascade = |n: &SyntaxNode| has_keyword(n, K::CASCADE_KW);
    let words = node.text().to_string().to_ascii_lowercase();
    let words: Vec<&str> = words.split_whitespace().collect();
    if words.first() == Some(&"alter") && words.windows(2).any(|w| w == ["set", "schema"]) {
        refuse(
            a,
            "SET SCHEMA moves the object out of what the snapshot names",
        );
        return;
    }
    match stmt {
        S::CreateTable(_) | S::CreateTableAs(_) | S::SelectInto(_) => {
            // SELECT INTO has no IF NOT EXISTS: it is always plain.
            let plain = plain_create(node);
            for t in s.touches().iter().cloned() {
                match t.effect {
                    Effect::Create => a.created_key("rel", Some((t.schema, t.name)), plain),
                    _ => dml(a, s, t),
                }
            }
            if let S::CreateTable(c) = stmt {
                a.created_key(
                    "rel",
                    c.table_name()
                        .and_then(|n| n.path())
                        .and_then(|p| touch::path_names(&p)),
                    plain,
                );
            }
        }
        S::CreateMaterializedView(c) => a.created_key(
            "rel",
            c.view()
                .and_then(|v| v.path())
                .and_then(|p| touch::path_names(&p)),
            plain_create(node),
        ),
        S::CreateView(c) => a.created_key(
            "rel",
            first(c.view().map(|v| v.syntax().clone()).as_ref()),
            plain_create(node),
        ),
        S::CreateSequence(c) => a.created_key(
            "rel",
            first(c.sequence().map(|v| v.syntax().clone()).as_ref()),
            plain_create(node),
        ),
        S::CreateIndex(c) => {
            if c.concurrently_token().is_some() {
                refuse(a, "CONCURRENTLY cannot run in a transaction");
                return;
            }
            let table = first(c.table_relation_name().map(|v| v.syntax().clone()).as_ref());
            // An index lives in its table's schema: an unqualified one is where CREATE puts it
            // only if its table is (a table created here, or a qualified one).
            let table_placed = table.as_ref().is_some_and(|(schema, name)| {
                schema.is_some() || a.is_created(&Key::new("rel", None, name.clone()))
            });
            let index = first(c.index().map(|v| v.syntax().clone()).as_ref())
                .map(|(_, n)| (table.as_ref().and_then(|t| t.0.clone()), n));
            a.key("rel", table);
            a.created_key("rel", index, table_placed && plain_create(node));
        }
        S::CreateFunction(c) => a.key("func", first(c.name().map(|v| v.syntax().clone()).as_ref())),
        S::CreateProcedure(_) | S::AlterFunction(_) | S::AlterProcedure(_) | S::AlterRoutine(_) => {
            // The routine's name is the first name in the statement.
            a.key("func", names(node).first().and_then(|s| object(s)));
        }
        S::CreatePolicy(c) => a.key(
            "rel",
            first(c.on_table().map(|v| v.syntax().clone()).as_ref()),
        ),
        S::AlterPolicy(c) => a.key(
            "rel",
            first(c.on_table().map(|v| v.syntax().clone()).as_ref()),
        ),
        S::DropPolicy(c) => a.key(
            "rel",
            first(c.on_table().map(|v| v.syntax().clone()).as_ref()),
        ),
        S::CreateTrigger(c) => a.key(
            "rel",
            first(c.on_relation().map(|v| v.syntax().clone()).as_ref()),
        ),
        S::DropTrigger(c) => {
            if cascade(node) {
                refuse(
                    a,
                    "CASCADE drops objects pgkeel does not see; drop them by name",
                );
                return;
            }
            a.key(
                "rel",
                first(c.on_relation().map(|v| v.syntax().clone()).as_ref()),
            )
        }
        S::CreateType(c) => a.created_key(
            "type",
            first(c.type_name().map(|v| v.syntax().clone()).as_ref()),
            true,
        ),
        S::CreateDomain(_) => {
            a.created_key("type", names(node).first().and_then(|s| object(s)), true)
        }
        S::AlterDomain(_) => {
            // The snapshot records a domain's default, NOT NULL and constraints, not its name's
            // history or its owner.
            if words.contains(&"rename") || words.windows(2).any(|w| w == ["owner", "to"]) {
                refuse(
                    a,
                    "a rename (of the domain or a constraint) or a new owner is not undone by pgkeel; write down SQL",
                );
                return;
            }
            a.key("type", names(node).first().and_then(|s| object(s)))
        }
        S::AlterType(t) => {
            let key = first(t.type_name_ref().map(|v| v.syntax().clone()).as_ref());
            if let (Some(ast::AlterTypeAction::AddValue(_)), Some((schema, name))) =
                (t.action(), key.clone())
            {
                a.conditions.push(Condition {
                    line: s.line as usize,
                    what: format!("ALTER TYPE {name} ADD VALUE: PostgreSQL cannot remove a value from an enum"),
                    key: Key::new("type", schema, name),
                    needs: Needs::CreatedHere,
                });
            }
            a.key("type", key);
        }
        S::AlterTable(_) => {
            for t in s.touches().iter().cloned() {
                let renamed = match &t.effect {
                    Effect::RenameTable(to) => Some(to.clone()),
                    _ => None,
                };
                a.key("rel", Some((t.schema.clone(), t.name.clone())));
                if let Some(to) = renamed {
                    a.key("rel", Some((t.schema.clone(), to)));
                }
            }
            if cascade(node) {
                refuse(
                    a,
                    "CASCADE drops objects pgkeel does not see; drop them by name",
                );
            }
        }
        S::AlterView(_) | S::AlterIndex(_) | S::AlterSequence(_) | S::AlterMaterializedView(_) => {
            let key = names(node).first().and_then(|s| object(s));
            if let Some((schema, _)) = &key {
                // RENAME TO: the new name, in the same schema.
                for segs in names(node).iter().skip(1) {
                    if let Some((_, to)) = object(segs) {
                        a.key("rel", Some((schema.clone(), to)));
                    }
                }
            }
            a.key("rel", key);
        }
        S::DropTable(_)
        | S::DropView(_)
        | S::DropMaterializedView(_)
        | S::DropIndex(_)
        | S::DropSequence(_) => {
            if cascade(node) {
                refuse(
                    a,
                    "CASCADE drops objects pgkeel does not see; drop them by name",
                );
                return;
            }
            for segs in names(node) {
                a.key("rel", object(&segs));
            }
        }
        S::DropFunction(_) | S::DropProcedure(_) | S::DropRoutine(_) => {
            if cascade(node) {
                refuse(
                    a,
                    "CASCADE drops objects pgkeel does not see; drop them by name",
                );
                return;
            }
            for sig in node.descendants().filter_map(ast::FunctionSig::cast) {
                a.key(
                    "func",
                    first(sig.function_name_ref().map(|v| v.syntax().clone()).as_ref()),
                );
            }
        }
        S::DropType(_) | S::DropDomain(_) => {
            if cascade(node) {
                refuse(
                    a,
                    "CASCADE drops the columns that use it; drop them by name first",
                );
                return;
            }
            for segs in names(node) {
                a.key("type", object(&segs));
            }
        }
        S::Grant(_) | S::Revoke(_) => privileges(a, s, node, &mut refuse),
        S::CommentOn(c) => {
            let Some(obj) = c.comment_object() else {
                refuse(a, unseen);
                return;
            };
            let text = obj.syntax().text().to_string().to_ascii_lowercase();
            let word = text
                .split_whitespace()
                .next()
                .unwrap_or_default()
                .to_string();
            let all = names(obj.syntax());
            match word.as_str() {
                "table" | "view" | "materialized" | "index" | "sequence" => {
                    a.key("rel", all.first().and_then(|s| object(s)))
                }
                "column" => a.key(
                    "rel",
                    all.first()
                        .and_then(|s| object(&s[..s.len().saturating_sub(1)])),
                ),
                "function" | "procedure" | "routine" => {
                    a.key("func", all.first().and_then(|s| object(s)))
                }
                "type" | "domain" => a.key("type", all.first().and_then(|s| object(s))),
                "policy" | "trigger" | "constraint" => {
                    a.key("rel", all.last().and_then(|s| object(s)))
                }
                _ => refuse(a, "a comment on an object the snapshot does not record"),
            }
        }
        S::Insert(_) | S::Update(_) | S::Delete(_) | S::Merge(_) | S::Truncate(_) => {
            for t in s.touches().iter().cloned() {
                dml(a, s, t);
            }
            // Functions called inside DML compute the rows it writes (which the backup or the
            // table's creation covers); a function that changes other objects as a side effect
            // is not seen (see docs/ARCHITECTURE.md).
        }
        S::Select(_) | S::CompoundSelect(_) | S::ParenSelect(_) | S::Values(_) | S::Table(_) => {
            if has_call(node) {
                refuse(a, "it calls a function, whose effects pgkeel cannot see");
            }
            for t in s.touches().iter().cloned() {
                dml(a, s, t);
            }
        }
        S::Set(_) | S::Reset(_) => {
            if node
                .text()
                .to_string()
                .to_ascii_lowercase()
                .contains("search_path")
            {
                refuse(
                    a,
                    "it changes how later names resolve, so the snapshot may name other objects",
                );
            }
        }
        S::Lock(_)
        | S::Analyze(_)
        | S::EmptyStmt(_)
        | S::Explain(_)
        | S::Show(_)
        | S::SetConstraints(_) => {}
        S::Do(_) => refuse(a, &format!("a DO block: {unseen}")),
        S::Call(_) => refuse(a, &format!("a procedure call: {unseen}")),
        S::Execute(_) | S::Prepare(_) => refuse(a, &format!("dynamic SQL: {unseen}")),
        S::Notify(_) | S::Listen(_) | S::Copy(_) => refuse(
            a,
            "a side effect outside the catalog that no snapshot can undo",
        ),
        _ => refuse(a, &format!("{unseen} or how to undo it")),
    }
}

/// A condition per table and need, at its first statement: the same condition again says nothing
/// new (the plan names the first line), and one per statement cost a condition for each of the
/// 441,000 INSERTs of a 50 MB migration (about 60 MB while it was applied).
fn dml(a: &mut Analysis, s: &Statement, t: touch::Touch) {
    let needs = match t.effect {
        Effect::Insert => Needs::CreatedHere,
        Effect::Create => {
            a.key("rel", Some((t.schema, t.name)));
            return;
        }
        _ => Needs::Backup,
    };
    let key = Key::new("rel", t.schema.clone(), t.name.clone());
    if a.conditions
        .iter()
        .any(|c| c.key == key && c.needs == needs)
    {
        return;
    }
    let what = format!("{} {}", t.effect.label(), t.qualified());
    a.key("rel", Some((key.schema.clone(), key.name.clone())));
    a.conditions.push(Condition {
        line: s.line as usize,
        what,
        key,
        needs,
    });
}

fn privileges(
    a: &mut Analysis,
    _s: &Statement,
    node: &SyntaxNode,
    refuse: &mut dyn FnMut(&mut Analysis, &str),
) {
    let Some(clause) = node
        .descendants()
        .find(|n| ast::OnPrivilegeObjectsClause::can_cast(n.kind()))
    else {
        refuse(a, "role membership is outside what a snapshot records");
        return;
    };
    let text = clause.text().to_string().to_ascii_lowercase();
    let words: Vec<&str> = text.split_whitespace().collect();
    let kind = match words.get(1).copied().unwrap_or_default() {
        "all" => {
            refuse(a, "ALL … IN SCHEMA names objects pgkeel does not see");
            return;
        }
        "function" | "procedure" | "routine" => "func",
        "sequence" | "table" => "rel",
        w if w.starts_with("schema")
            || w.starts_with("database")
            || w.starts_with("type")
            || w.starts_with("domain")
            || w.starts_with("language")
            || w.starts_with("large")
            || w.starts_with("foreign")
            || w.starts_with("tablespace") =>
        {
            refuse(a, "privileges on an object the snapshot does not record");
            return;
        }
        _ => "rel",
    };
    if kind == "func" {
        for sig in clause.descendants().filter_map(ast::FunctionSig::cast) {
            a.key(
                "func",
                first(sig.function_name_ref().map(|v| v.syntax().clone()).as_ref()),
            );
        }
    } else {
        for segs in names(&clause) {
            a.key("rel", object(&segs));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(sql: &str) -> Analysis {
        {
            let split = crate::statements::split(sql, 0..sql.len());
            analyse(&split.statements, split.tree.as_ref())
        }
    }

    fn keys(a: &Analysis) -> Vec<String> {
        a.keys
            .iter()
            .map(|k| match &k.schema {
                Some(s) => format!("{}:{s}.{}", k.kind, k.name),
                None => format!("{}:{}", k.kind, k.name),
            })
            .collect()
    }

    fn created(a: &Analysis) -> Vec<String> {
        a.created
            .iter()
            .map(|k| {
                format!(
                    "{}:{}{}",
                    k.kind,
                    k.schema
                        .as_deref()
                        .map_or(String::new(), |s| format!("{s}.")),
                    k.name
                )
            })
            .collect()
    }

    #[test]
    fn keys_first_named_by_a_plain_create_are_created_here() {
        let a = run("create table t (id int);\n\
             create index t_idx on t (id);\n\
             create table if not exists u (id int);\n\
             create or replace view v as select 1;\n\
             create view w as select 1;\n\
             create sequence s;\n\
             create type mood as enum ('a');\n\
             create index x_idx on existing (id);\n\
             create index y_idx on app.existing (id);\n\
             create function f() returns int language sql as 'select 1';\n\
             insert into t values (1);\n");
        assert_eq!(
            created(&a),
            [
                "rel:t",
                "rel:t_idx",
                "rel:w",
                "rel:s",
                "type:mood",
                "rel:app.y_idx"
            ]
        );
        // Named before its CREATE: it may have existed (dropped first), so it is looked up.
        let a = run("drop table t;\ncreate table t (id int);\n");
        assert_eq!(created(&a), Vec::<String>::new());
        let a = run("alter table old rename to t;\ncreate table u (id int);\n");
        assert_eq!(created(&a), ["rel:u"]);
    }

    #[test]
    fn a_condition_is_kept_once_per_table_and_need_at_its_first_line() {
        let a = run("insert into t values (1);\ninsert into t values (2);\nupdate t set x = 1;\ndelete from t;\n");
        let c: Vec<(usize, &str, &Needs)> = a
            .conditions
            .iter()
            .map(|c| (c.line, c.what.as_str(), &c.needs))
            .collect();
        assert_eq!(
            c,
            [
                (1, "INSERT t", &Needs::CreatedHere),
                (3, "UPDATE t", &Needs::Backup)
            ]
        );
    }

    #[test]
    fn creates_drops_and_alters_name_their_objects() {
        let a = run("create table app.t (id int primary key);\n\
             create index t_idx on app.t (id);\n\
             create view v with (security_invoker = true) as select 1;\n\
             create function f(a int) returns int language sql as 'select a';\n\
             create policy p on app.t using (true);\n\
             create trigger trg before insert on app.t for each row execute function f();\n\
             create type mood as enum ('a');\n\
             create sequence s;\n\
             grant select on app.t, v to public;\n\
             grant execute on function f(int) to public;\n\
             alter table app.t enable row level security;\n\
             alter table old rename to new;\n\
             comment on column app.t.id is 'x';\n\
             drop view w; drop index i2; drop function g(int);\n");
        assert_eq!(a.refusals, Vec::<String>::new());
        assert_eq!(
            keys(&a),
            [
                "rel:app.t",
                "rel:app.t_idx",
                "rel:v",
                "func:f",
                "type:mood",
                "rel:s",
                "rel:old",
                "rel:new",
                "rel:w",
                "rel:i2",
                "func:g"
            ]
        );
    }

    #[test]
    fn what_a_snapshot_cannot_undo_is_refused_by_line() {
        let a = run(
            "do $$ begin perform 1; end $$;\nselect pg_notify('x', 'y');\ncall p();\n\
             drop table t cascade;\ncreate index concurrently i on t (a);\ncreate extension citext;\n",
        );
        assert_eq!(a.refusals.len(), 6, "{:#?}", a.refusals);
        assert!(
            a.refusals[0].starts_with("line 1: `DO` — a DO block"),
            "{:?}",
            a.refusals
        );
        assert!(a.refusals[1].starts_with("line 2: "), "{:?}", a.refusals);
        assert!(a.refusals[3].contains("CASCADE"), "{:?}", a.refusals);
    }

    #[test]
    fn inserts_enum_values_and_data_changes_are_conditions() {
        let a =
            run("alter type mood add value 'b';\ninsert into t values (1);\nupdate u set a = 1;\n");
        assert!(a.refusals.is_empty(), "{:?}", a.refusals);
        let needs: Vec<(usize, Needs, String)> = a
            .conditions
            .iter()
            .map(|c| (c.line, c.needs.clone(), c.key.name.clone()))
            .collect();
        assert_eq!(
            needs,
            [
                (1, Needs::CreatedHere, "mood".into()),
                (2, Needs::CreatedHere, "t".into()),
                (3, Needs::Backup, "u".into()),
            ]
        );
    }
}
