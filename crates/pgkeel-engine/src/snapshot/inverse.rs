//! Generated down SQL: the statements that turn the current state of a migration's objects back
//! into its snapshot. Pure: both states are [`Snapshot`]s (the current one read by the caller).
//!
//! Objects are matched by oid first, so a rename is undone by renaming back, and a column by
//! attnum (a renamed column is renamed back; a dropped one re-added). The SQL comes in two
//! parts: what runs before the backed-up rows are restored (drops, renames, columns re-added,
//! types changed back) and what runs after (NOT NULL, constraints, indexes, triggers, policies,
//! views, privileges, comments), so re-added columns are filled before they are constrained.

use serde::Serialize;

use super::{qualified, Column, Function, Relation, Snapshot, TypeDef};
use crate::db::{ident, literal};

/// The generated down SQL of one migration.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Generated {
    pub before_restore: Vec<String>,
    pub after_restore: Vec<String>,
}

impl Generated {
    pub fn is_empty(&self) -> bool {
        self.before_restore.is_empty() && self.after_restore.is_empty()
    }

    /// Every statement, in the order it runs (the restore goes between the two parts).
    pub fn text(&self) -> String {
        let mut s = String::new();
        for q in &self.before_restore {
            s.push_str(q);
            s.push_str(";\n");
        }
        s.push_str("-- (the automatic backups are restored here)\n");
        for q in &self.after_restore {
            s.push_str(q);
            s.push_str(";\n");
        }
        s
    }
}

#[derive(Default)]
struct Parts {
    types_first: Vec<String>,
    functions_first: Vec<String>,
    renames: Vec<String>,
    drop_views: Vec<String>,
    table_drops_early: Vec<String>,
    columns: Vec<String>,
    drop_tables: Vec<String>,
    create_tables: Vec<String>,
    after: Vec<String>,
    views_after: Vec<String>,
    grants_after: Vec<String>,
    drop_functions: Vec<String>,
    drop_types: Vec<String>,
    problems: Vec<String>,
}

/// The down SQL from `now` back to `before`. `backed_up(schema, table)`: whether the migration
/// took a backup of that table's rows (re-added columns and changed types need one). `Err`
/// names everything that cannot be generated.
pub fn generate(
    before: &Snapshot,
    now: &Snapshot,
    backed_up: &dyn Fn(&str, &str) -> bool,
) -> Result<Generated, Vec<String>> {
    let mut p = Parts::default();
    // Relations.
    let mut matched_now: Vec<i64> = Vec::new();
    for b in &before.relations {
        let n = now.relations.iter().find(|n| n.oid == b.oid).or_else(|| {
            now.relations
                .iter()
                .find(|n| n.schema == b.schema && n.name == b.name)
        });
        match n {
            Some(n) => {
                matched_now.push(n.oid);
                relation(&mut p, b, n, backed_up);
            }
            None => recreate(&mut p, b, &before.relations, backed_up),
        }
    }
    let mut drop_tables = Vec::new();
    let mut drop_seqs = Vec::new();
    for n in now
        .relations
        .iter()
        .filter(|n| !matched_now.contains(&n.oid))
    {
        match n.kind.as_str() {
            "r" | "p" | "f" => drop_tables.push(n.qualified()),
            "v" => p.drop_views.push(format!("DROP VIEW {}", n.qualified())),
            "m" => p
                .drop_views
                .push(format!("DROP MATERIALIZED VIEW {}", n.qualified())),
            "S" => drop_seqs.push(n.qualified()),
            k => p.problems.push(format!(
                "{} (relkind {k}) was created and cannot be dropped by pgkeel",
                n.qualified()
            )),
        }
    }
    if !drop_tables.is_empty() {
        // One statement, so tables that reference each other go together.
        p.drop_tables
            .push(format!("DROP TABLE {}", drop_tables.join(", ")));
    }
    if !drop_seqs.is_empty() {
        p.drop_tables
            .push(format!("DROP SEQUENCE {}", drop_seqs.join(", ")));
    }
    // Functions.
    let mut matched_fns: Vec<i64> = Vec::new();
    for b in &before.functions {
        let n = now.functions.iter().find(|n| n.oid == b.oid).or_else(|| {
            now.functions
                .iter()
                .find(|n| n.signature() == b.signature())
        });
        if let Some(n) = n {
            matched_fns.push(n.oid);
        }
        function(&mut p, b, n);
    }
    for n in now
        .functions
        .iter()
        .filter(|n| !matched_fns.contains(&n.oid))
    {
        p.drop_functions
            .push(format!("DROP {} {}", routine(n), n.signature()));
    }
    // Types.
    let mut matched_types: Vec<i64> = Vec::new();
    for b in &before.types {
        let n = now.types.iter().find(|n| n.oid == b.oid).or_else(|| {
            now.types
                .iter()
                .find(|n| n.schema == b.schema && n.name == b.name)
        });
        if let Some(n) = n {
            matched_types.push(n.oid);
        }
        type_def(&mut p, b, n);
    }
    for n in now.types.iter().filter(|n| !matched_types.contains(&n.oid)) {
        let kw = if n.kind == "d" { "DOMAIN" } else { "TYPE" };
        p.drop_types.push(format!("DROP {kw} {}", n.qualified()));
    }
    if !p.problems.is_empty() {
        return Err(p.problems);
    }
    let mut before_restore = Vec::new();
    before_restore.extend(p.types_first);
    before_restore.extend(p.functions_first);
    before_restore.extend(p.renames);
    before_restore.extend(p.drop_views);
    before_restore.extend(p.table_drops_early);
    before_restore.extend(p.columns);
    before_restore.extend(p.drop_tables);
    before_restore.extend(p.create_tables);
    let mut after_restore = Vec::new();
    after_restore.extend(p.after);
    after_restore.extend(p.views_after);
    after_restore.extend(p.grants_after);
    after_restore.extend(p.drop_functions);
    after_restore.extend(p.drop_types);
    Ok(Generated {
        before_restore,
        after_restore,
    })
}

fn routine(f: &Function) -> &'static str {
    if f.kind == "p" {
        "PROCEDURE"
    } else {
        "FUNCTION"
    }
}

fn column_type(c: &Column) -> String {
    match &c.collation {
        Some(coll) => format!("{} COLLATE {coll}", c.type_name),
        None => c.type_name.clone(),
    }
}

/// The column's definition for ADD COLUMN / CREATE TABLE, without NOT NULL (added after the
/// rows are restored, unless `inline_not_null`).
fn column_def(c: &Column, inline_not_null: bool) -> String {
    let mut s = format!("{} {}", ident(&c.name), column_type(c));
    if c.generated.as_deref() == Some("s") {
        if let Some(e) = &c.default {
            s.push_str(&format!(" GENERATED ALWAYS AS ({e}) STORED"));
        }
    } else if let Some(d) = &c.default {
        s.push_str(&format!(" DEFAULT {d}"));
    }
    match c.identity.as_deref() {
        Some("a") => s.push_str(" GENERATED ALWAYS AS IDENTITY"),
        Some("d") => s.push_str(" GENERATED BY DEFAULT AS IDENTITY"),
        _ => {
            if inline_not_null && c.not_null {
                s.push_str(" NOT NULL");
            }
        }
    }
    s
}

fn comment_sql(what: &str, comment: &Option<String>) -> String {
    format!(
        "COMMENT ON {what} IS {}",
        comment
            .as_deref()
            .map_or_else(|| "NULL".to_string(), literal)
    )
}

/// A role name as an aclitem writes it: bare when it is a plain lower-case identifier.
fn acl_role(name: &str) -> String {
    let plain = name
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_lowercase() || c == '_')
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '$');
    if plain {
        name.to_string()
    } else {
        ident(name)
    }
}

/// An aclitem's (grantee, privileges with `*` for grant option).
fn acl_parts(item: &str) -> Option<(String, String)> {
    let (grantee, rest) = item.split_once('=')?;
    let privs = rest.split('/').next().unwrap_or_default();
    Some((grantee.to_string(), privs.to_string()))
}

fn privilege_name(kind: &str, c: char) -> Option<&'static str> {
    Some(match (kind, c) {
        ("FUNCTION" | "PROCEDURE", 'X') => "EXECUTE",
        ("SEQUENCE", 'U') => "USAGE",
        (_, 'r') => "SELECT",
        (_, 'w') => "UPDATE",
        (_, 'a') => "INSERT",
        (_, 'd') => "DELETE",
        (_, 'D') => "TRUNCATE",
        (_, 'x') => "REFERENCES",
        (_, 't') => "TRIGGER",
        (_, 'm') => "MAINTAIN",
        _ => return None,
    })
}

/// REVOKE/GRANT statements that turn `now` into `before` on `object` (`kind`: TABLE, SEQUENCE,
/// FUNCTION, PROCEDURE).
fn acl_sql(kind: &str, object: &str, before: &[String], now: &[String]) -> Vec<String> {
    acl_statements(kind, &format!("{kind} {object}"), "", before, now)
}

/// [`acl_sql`] for one column's privileges (`attacl`): `REVOKE ALL (col) ON TABLE t FROM …`,
/// `GRANT SELECT (col), UPDATE (col) ON TABLE t TO …`.
fn column_acl_sql(table: &str, column: &str, before: &[String], now: &[String]) -> Vec<String> {
    acl_statements(
        "TABLE",
        &format!("TABLE {table}"),
        &format!(" ({})", ident(column)),
        before,
        now,
    )
}

/// The statements of [`acl_sql`] on `on` (`TABLE "s"."t"`); `cols` follows each privilege
/// (` ("c")` for a column's, empty for the object's).
fn acl_statements(
    kind: &str,
    on: &str,
    cols: &str,
    before: &[String],
    now: &[String],
) -> Vec<String> {
    if before == now {
        return Vec::new();
    }
    let parse =
        |v: &[String]| -> Vec<(String, String)> { v.iter().filter_map(|i| acl_parts(i)).collect() };
    let (b, n) = (parse(before), parse(now));
    let mut grantees: Vec<String> = b.iter().chain(&n).map(|(g, _)| g.clone()).collect();
    grantees.sort();
    grantees.dedup();
    let mut out = Vec::new();
    for g in grantees {
        let privs = |v: &[(String, String)]| -> String {
            let mut p: Vec<String> = v
                .iter()
                .filter(|(x, _)| *x == g)
                .map(|(_, p)| p.clone())
                .collect();
            p.sort();
            p.concat()
        };
        let (bp, np) = (privs(&b), privs(&n));
        if bp == np {
            continue;
        }
        let who = if g.is_empty() {
            "PUBLIC".to_string()
        } else {
            g.clone()
        };
        out.push(format!("REVOKE ALL{cols} ON {on} FROM {who}"));
        let mut plain = Vec::new();
        let mut with_option = Vec::new();
        let chars: Vec<char> = bp.chars().collect();
        for (i, c) in chars.iter().enumerate() {
            if *c == '*' {
                continue;
            }
            let Some(name) = privilege_name(kind, *c) else {
                continue;
            };
            let name = format!("{name}{cols}");
            if chars.get(i + 1) == Some(&'*') {
                with_option.push(name);
            } else {
                plain.push(name);
            }
        }
        if !plain.is_empty() {
            out.push(format!("GRANT {} ON {on} TO {who}", plain.join(", ")));
        }
        if !with_option.is_empty() {
            out.push(format!(
                "GRANT {} ON {on} TO {who} WITH GRANT OPTION",
                with_option.join(", ")
            ));
        }
    }
    out
}

fn options_sql(keyword: &str, q: &str, before: &[String], now: &[String]) -> Vec<String> {
    let key = |o: &String| o.split('=').next().unwrap_or_default().to_string();
    let mut out = Vec::new();
    let reset: Vec<String> = now
        .iter()
        .map(key)
        .filter(|k| !before.iter().any(|b| key(b) == *k))
        .collect();
    if !reset.is_empty() {
        out.push(format!("ALTER {keyword} {q} RESET ({})", reset.join(", ")));
    }
    let set: Vec<String> = before
        .iter()
        .filter(|b| !now.contains(b))
        .map(|b| {
            let (k, v) = b.split_once('=').unwrap_or((b, ""));
            format!("{k} = {}", literal(v).trim_start_matches('E'))
        })
        .collect();
    if !set.is_empty() {
        out.push(format!("ALTER {keyword} {q} SET ({})", set.join(", ")));
    }
    out
}

fn view_sql(b: &Relation, replace: bool) -> String {
    let def = b
        .view
        .as_deref()
        .unwrap_or_default()
        .trim()
        .trim_end_matches(';');
    // Also when replacing: CREATE OR REPLACE VIEW sets the options to those it is given.
    let with = if b.options.is_empty() {
        String::new()
    } else {
        format!(
            " WITH ({})",
            b.options
                .iter()
                .map(|o| {
                    let (k, v) = o.split_once('=').unwrap_or((o, ""));
                    format!("{k} = {}", literal(v).trim_start_matches('E'))
                })
                .collect::<Vec<_>>()
                .join(", ")
        )
    };
    format!(
        "CREATE {}VIEW {}{with} AS {def}",
        if replace { "OR REPLACE " } else { "" },
        b.qualified()
    )
}

/// Things that follow the table's shape: constraints, indexes, triggers, policies, RLS, owner.
fn dependents(p: &mut Parts, b: &Relation, n: Option<&Relation>) {
    let q = b.qualified();
    let empty = Relation {
        oid: 0,
        schema: String::new(),
        name: String::new(),
        kind: b.kind.clone(),
        owner: b.owner.clone(),
        options: Vec::new(),
        rls: false,
        force_rls: false,
        acl: Vec::new(),
        comment: None,
        view: None,
        columns: Vec::new(),
        constraints: Vec::new(),
        indexes: Vec::new(),
        triggers: Vec::new(),
        policies: Vec::new(),
        sequence: None,
        seq_value: None,
        unpopulated: false,
        owned_by: None,
    };
    let n = n.unwrap_or(&empty);
    // Drops (before the restore): what the migration added or changed.
    for c in &n.constraints {
        if !b.constraints.contains(c) && c.kind != "n" {
            p.table_drops_early.push(format!(
                "ALTER TABLE {q} DROP CONSTRAINT {}",
                ident(&c.name)
            ));
        }
    }
    for i in &n.indexes {
        if !b.indexes.contains(i) {
            p.table_drops_early
                .push(format!("DROP INDEX {}", qualified(&b.schema, &i.name)));
        }
    }
    for t in &n.triggers {
        if !b
            .triggers
            .iter()
            .any(|x| x.name == t.name && x.def == t.def)
        {
            p.table_drops_early
                .push(format!("DROP TRIGGER {} ON {q}", ident(&t.name)));
        }
    }
    for pol in &n.policies {
        if !b.policies.contains(pol) {
            p.table_drops_early
                .push(format!("DROP POLICY {} ON {q}", ident(&pol.name)));
        }
    }
    // Creates (after the restore), constraints in an order that lets keys reference each other.
    let mut cons: Vec<&super::Named> = b
        .constraints
        .iter()
        .filter(|c| !n.constraints.contains(c))
        .collect();
    let rank = |k: &str| match k {
        "p" => 0,
        "u" => 1,
        "x" => 2,
        "c" => 3,
        _ => 4,
    };
    cons.sort_by_key(|c| rank(&c.kind));
    for c in cons {
        p.after.push(format!(
            "ALTER TABLE {q} ADD CONSTRAINT {} {}",
            ident(&c.name),
            c.def
        ));
    }
    for i in &b.indexes {
        if !n.indexes.contains(i) {
            p.after.push(i.def.clone());
        }
    }
    for t in &b.triggers {
        let same = n
            .triggers
            .iter()
            .find(|x| x.name == t.name && x.def == t.def);
        if same.is_none() {
            p.after.push(t.def.clone());
        }
        if same.is_none_or(|x| x.enabled != t.enabled) {
            let how = match t.enabled.as_str() {
                "D" => Some("DISABLE"),
                "R" => Some("ENABLE REPLICA"),
                "A" => Some("ENABLE ALWAYS"),
                _ if same.is_some() => Some("ENABLE"),
                _ => None,
            };
            if let Some(how) = how {
                p.after
                    .push(format!("ALTER TABLE {q} {how} TRIGGER {}", ident(&t.name)));
            }
        }
    }
    for pol in &b.policies {
        if n.policies.contains(pol) {
            continue;
        }
        let cmd = match pol.cmd.as_str() {
            "r" => "SELECT",
            "a" => "INSERT",
            "w" => "UPDATE",
            "d" => "DELETE",
            _ => "ALL",
        };
        let mut s = format!(
            "CREATE POLICY {} ON {q} AS {} FOR {cmd} TO {}",
            ident(&pol.name),
            if pol.permissive {
                "PERMISSIVE"
            } else {
                "RESTRICTIVE"
            },
            if pol.roles.is_empty() {
                "public".to_string()
            } else {
                pol.roles.join(", ")
            }
        );
        if let Some(u) = &pol.using_expr {
            s.push_str(&format!(" USING ({u})"));
        }
        if let Some(c) = &pol.check {
            s.push_str(&format!(" WITH CHECK ({c})"));
        }
        p.after.push(s);
    }
    if b.rls != n.rls {
        p.after.push(format!(
            "ALTER TABLE {q} {} ROW LEVEL SECURITY",
            if b.rls { "ENABLE" } else { "DISABLE" }
        ));
    }
    if b.force_rls != n.force_rls {
        p.after.push(format!(
            "ALTER TABLE {q} {}FORCE ROW LEVEL SECURITY",
            if b.force_rls { "" } else { "NO " }
        ));
    }
}

/// Grants, comments, owner and options of a relation that exists in both states (`n` is the
/// current one, or `None` when it was just re-created and has the defaults).
fn relation_meta(p: &mut Parts, b: &Relation, n: Option<&Relation>) {
    let q = b.qualified();
    let kw = b.keyword();
    let acl_kind = if b.kind == "S" { "SEQUENCE" } else { "TABLE" };
    if let Some(n) = n {
        if b.owner != n.owner && !b.owner.is_empty() {
            p.grants_after
                .push(format!("ALTER {kw} {q} OWNER TO {}", ident(&b.owner)));
        }
        p.grants_after.extend(acl_sql(acl_kind, &q, &b.acl, &n.acl));
        if b.comment != n.comment {
            p.grants_after
                .push(comment_sql(&format!("{kw} {q}"), &b.comment));
        }
        if b.options != n.options && b.kind != "S" {
            p.grants_after
                .extend(options_sql(kw, &q, &b.options, &n.options));
        }
    }
}

fn relation(p: &mut Parts, b: &Relation, n: &Relation, backed_up: &dyn Fn(&str, &str) -> bool) {
    let q = b.qualified();
    let kw = b.keyword();
    if b.kind != n.kind {
        p.problems.push(format!(
            "{q} was a {} and is now a {}; write down SQL that re-creates it",
            kw.to_ascii_lowercase(),
            n.keyword().to_ascii_lowercase()
        ));
        return;
    }
    if b.schema != n.schema {
        p.problems.push(format!(
            "{q} moved to schema {}; write down SQL that moves it back",
            n.schema
        ));
        return;
    }
    if b.name != n.name {
        p.renames.push(format!(
            "ALTER {kw} {} RENAME TO {}",
            n.qualified(),
            ident(&b.name)
        ));
    }
    match b.kind.as_str() {
        "v" => {
            if b.view != n.view {
                p.views_after.push(view_sql(b, true));
            }
        }
        "m" => {
            if b.view != n.view {
                p.problems.push(format!(
                    "materialized view {q} changed definition; its rows cannot be rebuilt as they were: write down SQL"
                ));
            }
        }
        "S" => {
            if let (Some(bs), Some(ns)) = (&b.sequence, &n.sequence) {
                if bs != ns {
                    p.grants_after.push(format!(
                        "ALTER SEQUENCE {q} AS {} INCREMENT BY {} MINVALUE {} MAXVALUE {} START WITH {} CACHE {} {}CYCLE",
                        bs.type_name, bs.increment, bs.min, bs.max, bs.start, bs.cache,
                        if bs.cycle { "" } else { "NO " }
                    ));
                }
            }
        }
        _ => columns(p, b, n, backed_up),
    }
    if b.kind != "S" && b.kind != "v" && b.kind != "m" {
        dependents(p, b, Some(n));
    } else if b.kind != "S" {
        // Views: triggers (INSTEAD OF), policies do not apply; only metadata.
    }
    relation_meta(p, b, Some(n));
    for bc in &b.columns {
        if let Some(nc) = n.columns.iter().find(|c| c.num == bc.num) {
            if bc.comment != nc.comment {
                p.grants_after.push(comment_sql(
                    &format!("COLUMN {q}.{}", ident(&bc.name)),
                    &bc.comment,
                ));
            }
            p.grants_after
                .extend(column_acl_sql(&q, &bc.name, &bc.acl, &nc.acl));
        } else {
            column_meta_new(p, &q, bc);
        }
    }
}

/// A re-added or re-created column's comment and privileges (it has none of its own yet).
fn column_meta_new(p: &mut Parts, q: &str, c: &super::Column) {
    if c.comment.is_some() {
        p.grants_after.push(comment_sql(
            &format!("COLUMN {q}.{}", ident(&c.name)),
            &c.comment,
        ));
    }
    p.grants_after
        .extend(column_acl_sql(q, &c.name, &c.acl, &[]));
}

fn columns(p: &mut Parts, b: &Relation, n: &Relation, backed_up: &dyn Fn(&str, &str) -> bool) {
    let q = b.qualified();
    let has_backup = backed_up(&b.schema, &b.name);
    // Renamed columns first, then added columns dropped, then dropped ones re-added.
    for bc in &b.columns {
        if let Some(nc) = n.columns.iter().find(|c| c.num == bc.num) {
            if nc.name != bc.name {
                p.renames.push(format!(
                    "ALTER TABLE {} RENAME COLUMN {} TO {}",
                    if b.name != n.name {
                        n.qualified()
                    } else {
                        q.clone()
                    },
                    ident(&nc.name),
                    ident(&bc.name)
                ));
            }
        }
    }
    for nc in &n.columns {
        if !b.columns.iter().any(|c| c.num == nc.num) {
            p.columns
                .push(format!("ALTER TABLE {q} DROP COLUMN {}", ident(&nc.name)));
        }
    }
    let kept: Vec<&Column> = b
        .columns
        .iter()
        .filter(|bc| n.columns.iter().any(|c| c.num == bc.num))
        .collect();
    let readded: Vec<&Column> = b
        .columns
        .iter()
        .filter(|bc| !n.columns.iter().any(|c| c.num == bc.num))
        .collect();
    // PostgreSQL adds a column last: the order only comes back when every re-added column
    // was after every kept one.
    let order: Vec<&str> = kept
        .iter()
        .chain(&readded)
        .map(|c| c.name.as_str())
        .collect();
    let wanted: Vec<&str> = b.columns.iter().map(|c| c.name.as_str()).collect();
    if order != wanted {
        p.problems.push(format!(
            "re-adding column {} of {q} would put it last (PostgreSQL cannot add a column in the middle, and the order was {}); write down SQL that re-creates the table in its old shape",
            readded.iter().map(|c| ident(&c.name)).collect::<Vec<_>>().join(", "),
            wanted.join(", ")
        ));
        return;
    }
    for bc in &readded {
        if !has_backup {
            p.problems.push(format!(
                "column {q}.{} was dropped and there is no backup of its values (automatic backups were off?); write down SQL",
                ident(&bc.name)
            ));
            continue;
        }
        p.columns.push(format!(
            "ALTER TABLE {q} ADD COLUMN {}",
            column_def(bc, false)
        ));
        if bc.not_null && bc.identity.is_none() {
            p.after.insert(
                0,
                format!(
                    "ALTER TABLE {q} ALTER COLUMN {} SET NOT NULL",
                    ident(&bc.name)
                ),
            );
        }
    }
    for bc in &kept {
        let Some(nc) = n.columns.iter().find(|c| c.num == bc.num) else {
            continue;
        };
        let col = ident(&bc.name);
        if bc.identity != nc.identity || bc.generated != nc.generated {
            p.problems.push(format!(
                "column {q}.{col} changed identity or generation; write down SQL"
            ));
            continue;
        }
        let type_changed = bc.type_name != nc.type_name || bc.collation != nc.collation;
        if type_changed {
            if !has_backup {
                p.problems.push(format!(
                    "column {q}.{col} changed type ({} → {}) and there is no backup of its values; write down SQL",
                    bc.type_name, nc.type_name
                ));
                continue;
            }
            if nc.default.is_some() {
                p.columns
                    .push(format!("ALTER TABLE {q} ALTER COLUMN {col} DROP DEFAULT"));
            }
            p.columns.push(format!(
                "ALTER TABLE {q} ALTER COLUMN {col} TYPE {} USING {col}::{}",
                column_type(bc),
                bc.type_name
            ));
        }
        if bc.generated.is_none() && (type_changed || bc.default != nc.default) {
            match &bc.default {
                Some(d) => p.columns.push(format!(
                    "ALTER TABLE {q} ALTER COLUMN {col} SET DEFAULT {d}"
                )),
                None if !type_changed => p
                    .columns
                    .push(format!("ALTER TABLE {q} ALTER COLUMN {col} DROP DEFAULT")),
                None => {}
            }
        }
        if bc.not_null != nc.not_null && bc.identity.is_none() {
            if bc.not_null {
                p.after.insert(
                    0,
                    format!("ALTER TABLE {q} ALTER COLUMN {col} SET NOT NULL"),
                );
            } else {
                p.columns
                    .push(format!("ALTER TABLE {q} ALTER COLUMN {col} DROP NOT NULL"));
            }
        }
    }
}

/// A relation the migration dropped: created again from the snapshot.
fn recreate(
    p: &mut Parts,
    b: &Relation,
    before: &[Relation],
    backed_up: &dyn Fn(&str, &str) -> bool,
) {
    let q = b.qualified();
    match b.kind.as_str() {
        "r" => {
            if !backed_up(&b.schema, &b.name) {
                p.problems.push(format!(
                    "table {q} was dropped and there is no backup of its rows; write down SQL"
                ));
                return;
            }
            // A serial column's sequence is owned by it, so it went with the table: the
            // snapshot holds it (definition and value) and it is re-created first, then owned
            // by the column again. A sequence the snapshot does not hold cannot be.
            let owned = |c: &super::Column| {
                before.iter().find(|s| {
                    s.kind == "S"
                        && s.owned_by.as_ref().is_some_and(|o| {
                            o.schema == b.schema && o.table == b.name && o.column == c.name
                        })
                })
            };
            if let Some(c) = b.columns.iter().find(|c| {
                c.default.as_deref().is_some_and(|d| d.contains("nextval(")) && owned(c).is_none()
            }) {
                p.problems.push(format!(
                    "table {q} was dropped with the sequence behind {}.{} ({}), whose value the snapshot does not hold; write down SQL",
                    q,
                    ident(&c.name),
                    c.default.as_deref().unwrap_or_default()
                ));
                return;
            }
            let cols: Vec<String> = b.columns.iter().map(|c| column_def(c, true)).collect();
            p.create_tables
                .push(format!("CREATE TABLE {q} ({})", cols.join(", ")));
            for c in &b.columns {
                if let Some(seq) = owned(c) {
                    p.after.push(format!(
                        "ALTER SEQUENCE {} OWNED BY {q}.{}",
                        seq.qualified(),
                        ident(&c.name)
                    ));
                }
            }
            dependents(p, b, None);
            relation_meta_new(p, b);
        }
        "v" => {
            p.views_after.push(view_sql(b, false));
            relation_meta_new(p, b);
        }
        // Its rows are computed again from the restored tables (they are derived data), after
        // the views it may read; its indexes follow it.
        "m" => {
            let view = view_sql(b, false).replacen("CREATE VIEW", "CREATE MATERIALIZED VIEW", 1);
            p.views_after.push(format!(
                "{view} WITH {}DATA",
                if b.unpopulated { "NO " } else { "" }
            ));
            p.views_after.extend(b.indexes.iter().map(|i| i.def.clone()));
            relation_meta_new(p, b);
        }
        "S" => match (&b.sequence, b.seq_value.as_deref()) {
            (Some(d), Some(v)) if v != "unreadable" => {
                p.types_first.push(format!(
                    "CREATE SEQUENCE {q} AS {} INCREMENT BY {} MINVALUE {} MAXVALUE {} START WITH {} CACHE {}{}",
                    d.type_name,
                    d.increment,
                    d.min,
                    d.max,
                    d.start,
                    d.cache,
                    if d.cycle { " CYCLE" } else { " NO CYCLE" }
                ));
                if v != "uncalled" {
                    p.types_first.push(format!(
                        "SELECT pg_catalog.setval({}, {v}, true)",
                        literal(&q)
                    ));
                }
                relation_meta_new(p, b);
            }
            (_, Some("unreadable")) => p.problems.push(format!(
                "sequence {q} was dropped and its value could not be read when the migration ran (no SELECT or USAGE on it); write down SQL"
            )),
            _ => p.problems.push(format!(
                "sequence {q} was dropped and the snapshot (taken by an older pgkeel) does not hold its value; write down SQL"
            )),
        },
        k => p.problems.push(format!(
            "{q} ({}) was dropped; pgkeel re-creates tables, views, materialized views and sequences: write down SQL",
            match k {
                "p" => "a partitioned table",
                "f" => "a foreign table",
                _ => "another kind of relation",
            }
        )),
    }
}

/// Owner, grants, comments of a re-created relation (it starts with the defaults).
fn relation_meta_new(p: &mut Parts, b: &Relation) {
    let q = b.qualified();
    let kw = b.keyword();
    if !b.owner.is_empty() {
        p.grants_after
            .push(format!("ALTER {kw} {q} OWNER TO {}", ident(&b.owner)));
    }
    // A new relation has its owner's default privileges: revoke and grant what differs (a
    // wrong guess of the default only costs a REVOKE ALL and the GRANTs that follow).
    let owner = acl_role(&b.owner);
    let (object, all) = if b.kind == "S" {
        ("SEQUENCE", "rwU")
    } else {
        ("TABLE", "arwdDxt")
    };
    let owner_default = vec![format!("{owner}={all}/{owner}")];
    p.grants_after
        .extend(acl_sql(object, &q, &b.acl, &owner_default));
    if b.comment.is_some() {
        p.grants_after
            .push(comment_sql(&format!("{kw} {q}"), &b.comment));
    }
    if b.kind == "r" && !b.options.is_empty() {
        p.grants_after.extend(options_sql(kw, &q, &b.options, &[]));
    }
    for c in &b.columns {
        column_meta_new(p, &q, c);
    }
}

fn function(p: &mut Parts, b: &Function, n: Option<&Function>) {
    let sig = b.signature();
    let kw = routine(b);
    match n {
        Some(n) if n.signature() != b.signature() => {
            p.problems.push(format!(
                "{kw} {sig} was renamed or changed arguments (now {}); write down SQL",
                n.signature()
            ));
        }
        Some(n) => {
            if n.def != b.def {
                p.functions_first.push(b.def.trim_end().to_string());
            }
            if n.owner != b.owner && !b.owner.is_empty() {
                p.grants_after
                    .push(format!("ALTER {kw} {sig} OWNER TO {}", ident(&b.owner)));
            }
            p.grants_after.extend(acl_sql(kw, &sig, &b.acl, &n.acl));
            if n.comment != b.comment {
                p.grants_after
                    .push(comment_sql(&format!("{kw} {sig}"), &b.comment));
            }
        }
        None => {
            p.functions_first.push(b.def.trim_end().to_string());
            if !b.owner.is_empty() {
                p.grants_after
                    .push(format!("ALTER {kw} {sig} OWNER TO {}", ident(&b.owner)));
            }
            // A new routine grants EXECUTE to PUBLIC and its owner.
            let owner = acl_role(&b.owner);
            let default = vec![format!("=X/{owner}"), format!("{owner}=X/{owner}")];
            p.grants_after.extend(acl_sql(kw, &sig, &b.acl, &default));
            if b.comment.is_some() {
                p.grants_after
                    .push(comment_sql(&format!("{kw} {sig}"), &b.comment));
            }
        }
    }
}

fn type_def(p: &mut Parts, b: &TypeDef, n: Option<&TypeDef>) {
    let q = b.qualified();
    match n {
        Some(n) => {
            if n.name != b.name {
                p.types_first.push(format!(
                    "ALTER TYPE {} RENAME TO {}",
                    n.qualified(),
                    ident(&b.name)
                ));
            }
            if n.labels != b.labels {
                let added: Vec<&String> =
                    n.labels.iter().filter(|l| !b.labels.contains(l)).collect();
                p.problems.push(if added.is_empty() {
                    format!("the labels of enum {q} changed; write down SQL")
                } else {
                    format!(
                        "enum {q} gained {} and PostgreSQL cannot remove a value from an enum; write down SQL that re-creates the type (and the columns using it)",
                        added.iter().map(|l| literal(l)).collect::<Vec<_>>().join(", ")
                    )
                });
            }
            if n.comment != b.comment {
                p.grants_after
                    .push(comment_sql(&format!("TYPE {q}"), &b.comment));
            }
            if n.base != b.base || n.attributes != b.attributes {
                p.problems.push(format!(
                    "the {} of type {q} changed; write down SQL",
                    if b.kind == "d" { "base type" } else { "attributes" }
                ));
            }
            if b.kind == "d" {
                domain_changes(p, &q, b, n);
            }
        }
        None if b.kind == "e" => {
            p.types_first.push(format!(
                "CREATE TYPE {q} AS ENUM ({})",
                b.labels
                    .iter()
                    .map(|l| literal(l))
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
            if b.comment.is_some() {
                p.grants_after
                    .push(comment_sql(&format!("TYPE {q}"), &b.comment));
            }
        }
        None if b.kind == "d" && b.base.is_some() => {
            let mut sql = format!(
                "CREATE DOMAIN {q} AS {}",
                b.base.as_deref().unwrap_or_default()
            );
            if let Some(d) = &b.default {
                sql.push_str(&format!(" DEFAULT {d}"));
            }
            if b.not_null {
                sql.push_str(" NOT NULL");
            }
            for c in &b.checks {
                sql.push_str(&format!(" CONSTRAINT {} {}", ident(&c.name), c.def));
            }
            p.types_first.push(sql);
            if b.comment.is_some() {
                p.grants_after
                    .push(comment_sql(&format!("DOMAIN {q}"), &b.comment));
            }
        }
        None if b.kind == "c" && !b.attributes.is_empty() => {
            let attrs: Vec<String> = b
                .attributes
                .iter()
                .map(|a| format!("{} {}", ident(&a.name), column_type(a)))
                .collect();
            p.types_first
                .push(format!("CREATE TYPE {q} AS ({})", attrs.join(", ")));
            if b.comment.is_some() {
                p.grants_after
                    .push(comment_sql(&format!("TYPE {q}"), &b.comment));
            }
        }
        None => p.problems.push(format!(
            "type {q} was dropped; pgkeel re-creates enums, domains and composite types{}: write down SQL",
            if b.kind == "d" || b.kind == "c" {
                " recorded by this version of pgkeel (this snapshot is older)"
            } else {
                ""
            }
        )),
    }
}

/// ALTER DOMAIN back to the snapshot's default, NOT NULL and constraints (dropped ones added
/// again after the restore, once the values they check are back).
fn domain_changes(p: &mut Parts, q: &str, b: &TypeDef, n: &TypeDef) {
    if n.default != b.default {
        p.types_first.push(match &b.default {
            Some(d) => format!("ALTER DOMAIN {q} SET DEFAULT {d}"),
            None => format!("ALTER DOMAIN {q} DROP DEFAULT"),
        });
    }
    for c in n.checks.iter().filter(|c| !b.checks.contains(c)) {
        p.types_first.push(format!(
            "ALTER DOMAIN {q} DROP CONSTRAINT {}",
            ident(&c.name)
        ));
    }
    if n.not_null && !b.not_null {
        p.types_first
            .push(format!("ALTER DOMAIN {q} DROP NOT NULL"));
    }
    for c in b.checks.iter().filter(|c| !n.checks.contains(c)) {
        p.after.push(format!(
            "ALTER DOMAIN {q} ADD CONSTRAINT {} {}",
            ident(&c.name),
            c.def
        ));
    }
    if b.not_null && !n.not_null {
        p.after.push(format!("ALTER DOMAIN {q} SET NOT NULL"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::snapshot::{compare::compare, Key, Named, Policy};

    fn col(num: i32, name: &str, ty: &str) -> Column {
        Column {
            num,
            name: name.into(),
            type_name: ty.into(),
            not_null: false,
            default: None,
            identity: None,
            generated: None,
            collation: None,
            comment: None,
            acl: vec![],
        }
    }

    fn table(oid: i64, name: &str, columns: Vec<Column>) -> Relation {
        Relation {
            oid,
            schema: "app".into(),
            name: name.into(),
            kind: "r".into(),
            owner: "me".into(),
            options: vec![],
            rls: false,
            force_rls: false,
            acl: vec!["me=arwdDxt/me".into()],
            comment: None,
            view: None,
            columns,
            constraints: vec![],
            indexes: vec![],
            triggers: vec![],
            policies: vec![],
            sequence: None,
            seq_value: None,
            unpopulated: false,
            owned_by: None,
        }
    }

    fn snap(relations: Vec<Relation>) -> Snapshot {
        Snapshot {
            keys: vec![Key::new("rel", Some("app".into()), "t".into())],
            relations,
            functions: vec![],
            types: vec![],
        }
    }

    fn yes(_: &str, _: &str) -> bool {
        true
    }

    fn no(_: &str, _: &str) -> bool {
        false
    }

    #[test]
    fn a_dropped_last_column_is_re_added_and_constrained_after_the_restore() {
        let mut email = col(3, "email", "text");
        email.not_null = true;
        email.default = Some("''::text".into());
        let mut b = table(
            1,
            "t",
            vec![col(1, "id", "integer"), col(2, "name", "text"), email],
        );
        b.indexes.push(Named {
            name: "t_email".into(),
            kind: String::new(),
            def: "CREATE INDEX t_email ON app.t USING btree (email)".into(),
        });
        let n = table(
            1,
            "t",
            vec![col(1, "id", "integer"), col(2, "name", "text")],
        );
        let g = generate(&snap(vec![b.clone()]), &snap(vec![n.clone()]), &yes).unwrap();
        assert_eq!(
            g.before_restore,
            ["ALTER TABLE \"app\".\"t\" ADD COLUMN \"email\" text DEFAULT ''::text"]
        );
        assert_eq!(
            g.after_restore,
            [
                "ALTER TABLE \"app\".\"t\" ALTER COLUMN \"email\" SET NOT NULL",
                "CREATE INDEX t_email ON app.t USING btree (email)"
            ]
        );
        // Without a backup the values are gone: refused.
        let e = generate(&snap(vec![b]), &snap(vec![n]), &no).unwrap_err();
        assert!(e[0].contains("no backup of its values"), "{e:?}");
    }

    #[test]
    fn a_column_dropped_from_the_middle_is_refused_because_the_order_cannot_come_back() {
        let b = table(
            1,
            "t",
            vec![
                col(1, "id", "integer"),
                col(2, "x", "text"),
                col(3, "y", "text"),
            ],
        );
        let n = table(1, "t", vec![col(1, "id", "integer"), col(3, "y", "text")]);
        let e = generate(&snap(vec![b]), &snap(vec![n]), &yes).unwrap_err();
        assert!(e[0].contains("would put it last"), "{e:?}");
    }

    #[test]
    fn renames_types_defaults_and_creations_are_inverted() {
        let mut at = col(2, "at", "timestamp with time zone");
        at.default = Some("now()".into());
        let b = table(7, "t", vec![col(1, "id", "integer"), at]);
        let mut n = table(
            7,
            "renamed",
            vec![col(1, "ident", "integer"), col(2, "at", "date")],
        );
        n.rls = true;
        n.policies.push(Policy {
            name: "p".into(),
            permissive: true,
            cmd: "r".into(),
            roles: vec!["public".into()],
            using_expr: Some("true".into()),
            check: None,
        });
        n.acl.push("=r/me".into());
        let created = table(8, "new_one", vec![col(1, "id", "integer")]);
        let g = generate(
            &snap(vec![b.clone()]),
            &snap(vec![n.clone(), created]),
            &yes,
        )
        .unwrap();
        assert_eq!(
            g.before_restore,
            [
                "ALTER TABLE \"app\".\"renamed\" RENAME TO \"t\"",
                "ALTER TABLE \"app\".\"renamed\" RENAME COLUMN \"ident\" TO \"id\"",
                "DROP POLICY \"p\" ON \"app\".\"t\"",
                "ALTER TABLE \"app\".\"t\" ALTER COLUMN \"at\" TYPE timestamp with time zone USING \"at\"::timestamp with time zone",
                "ALTER TABLE \"app\".\"t\" ALTER COLUMN \"at\" SET DEFAULT now()",
                "DROP TABLE \"app\".\"new_one\"",
            ]
        );
        assert_eq!(
            g.after_restore,
            [
                "ALTER TABLE \"app\".\"t\" DISABLE ROW LEVEL SECURITY",
                "REVOKE ALL ON TABLE \"app\".\"t\" FROM PUBLIC",
            ]
        );
        // Both states compared: every difference named, none once equal.
        let d = compare(&snap(vec![b.clone()]), &snap(vec![n]));
        let aspects: Vec<&str> = d.iter().map(|d| d.aspect.as_str()).collect();
        assert_eq!(aspects, ["existence", "existence"], "{d:?}");
        assert!(compare(&snap(vec![b.clone()]), &snap(vec![b])).is_empty());
    }

    #[test]
    fn views_come_back_with_their_options_and_grants() {
        let mut v = table(3, "v", vec![col(1, "id", "integer")]);
        v.kind = "v".into();
        v.view = Some(" SELECT 1 AS id;".into());
        v.options = vec!["security_invoker=true".into()];
        v.acl = vec!["=r/me".into(), "me=arwdDxt/me".into()];
        let g = generate(&snap(vec![v.clone()]), &snap(vec![]), &no).unwrap();
        assert_eq!(
            g.after_restore,
            [
                "CREATE VIEW \"app\".\"v\" WITH (security_invoker = 'true') AS SELECT 1 AS id",
                "ALTER VIEW \"app\".\"v\" OWNER TO \"me\"",
                "REVOKE ALL ON TABLE \"app\".\"v\" FROM PUBLIC",
                "GRANT SELECT ON TABLE \"app\".\"v\" TO PUBLIC",
            ]
        );
        // The option reset by the migration is set again.
        let mut n = v.clone();
        n.options.clear();
        let g = generate(&snap(vec![v.clone()]), &snap(vec![n.clone()]), &no).unwrap();
        assert_eq!(
            g.after_restore,
            ["ALTER VIEW \"app\".\"v\" SET (security_invoker = 'true')"]
        );
        // A replaced definition keeps the options (CREATE OR REPLACE VIEW would reset them).
        let mut changed = v.clone();
        changed.view = Some(" SELECT 2 AS id;".into());
        let g = generate(&snap(vec![v.clone()]), &snap(vec![changed]), &no).unwrap();
        assert_eq!(
            g.after_restore,
            ["CREATE OR REPLACE VIEW \"app\".\"v\" WITH (security_invoker = 'true') AS SELECT 1 AS id"]
        );
        let d = compare(&snap(vec![v]), &snap(vec![n]));
        assert_eq!(d[0].aspect, "options");
        assert_eq!(d[0].before, "[\"security_invoker=true\"]");
    }

    #[test]
    fn enum_values_added_to_an_existing_enum_are_refused() {
        let t = |labels: &[&str]| TypeDef {
            oid: 5,
            schema: "app".into(),
            name: "mood".into(),
            kind: "e".into(),
            labels: labels.iter().map(|l| l.to_string()).collect(),
            comment: None,
            base: None,
            not_null: false,
            default: None,
            checks: vec![],
            attributes: vec![],
        };
        let mut b = snap(vec![]);
        b.types.push(t(&["a"]));
        let mut n = snap(vec![]);
        n.types.push(t(&["a", "b"]));
        let e = generate(&b, &n, &yes).unwrap_err();
        assert!(e[0].contains("cannot remove a value from an enum"), "{e:?}");
        // Created by the migration: dropped whole.
        let g = generate(&snap(vec![]), &n, &yes).unwrap();
        assert_eq!(g.after_restore, ["DROP TYPE \"app\".\"mood\""]);
    }
}
