//! Lint judged in context: a finding's level follows from what the statement really does to the
//! table it names, not from the statement's shape alone.
//!
//! Pure: no I/O. Three things decide (see docs/CONFIG.md, `[lint]`):
//! - **the plan**: a table created earlier in the same file or in an earlier migration of the
//!   same run is new; nobody else reads or writes it yet, so locks and rewrites on it are not
//!   hazards (info);
//! - **the live database** ([`LiveFacts`], read by [`super::live`]): whether the table exists and
//!   how many rows it holds. Lock and rewrite rules on a table below `[lint] small_table_rows`
//!   are info; at or above, they keep their level and say the size;
//! - **pgkeel's own safety net**: a data-loss rule on an absent or empty table reports nothing;
//!   where the automatic backup (`[backup]`) copies the table's rows before the migration, it is
//!   a warning that names the backup.
//!
//! Every judged finding carries the `reason` that decided its level. Offline (no database), only
//! the plan applies, and the reason says so.
//!
//! Names follow PostgreSQL's folding. An unqualified name is compared with `public.name` (the
//! usual search_path); the live lookup resolves names through the connection's own search_path.

use std::collections::BTreeMap;

use serde::Serialize;
use squawk_linter::Rule;
use squawk_syntax::ast::{self, AstNode};
use squawk_syntax::{Parse, SourceFile};

use crate::validate::Severity;

/// A relation (table or index) as a statement names it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct RelName {
    pub schema: Option<String>,
    pub name: String,
}

impl RelName {
    pub fn new(schema: Option<&str>, name: &str) -> RelName {
        RelName {
            schema: schema.map(str::to_string),
            name: name.to_string(),
        }
    }

    /// The same relation, taking an unqualified name as `public.name`.
    pub fn same(&self, other: &RelName) -> bool {
        self.name == other.name
            && self.schema.as_deref().unwrap_or("public")
                == other.schema.as_deref().unwrap_or("public")
    }
}

impl std::fmt::Display for RelName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.schema {
            Some(s) => write!(f, "{s}.{}", self.name),
            None => write!(f, "{}", self.name),
        }
    }
}

/// What a finding's statement is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Subject {
    Table(RelName),
    /// An index (DROP INDEX, REINDEX INDEX): judged by the table it is on.
    Index(RelName),
}

/// What one top-level statement creates and acts on, as far as lint's context needs it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StmtFacts {
    /// Byte range of the statement in the file text.
    pub range: std::ops::Range<usize>,
    /// Tables (and materialized views) the statement creates; `true` for IF NOT EXISTS (which
    /// creates nothing when the table is already there).
    pub creates: Vec<(RelName, bool)>,
    /// Indexes the statement creates, with their table.
    pub creates_indexes: Vec<(RelName, RelName)>,
    /// A rename: (old table, new name).
    pub renames: Vec<(RelName, RelName)>,
    /// The relations a finding on this statement concerns.
    pub subjects: Vec<Subject>,
    /// `ALTER TABLE … VALIDATE CONSTRAINT` and nothing else: the safe second half of NOT VALID.
    pub validate_only: bool,
}

impl StmtFacts {
    /// Nothing created, renamed or concerned: judging in context learns nothing from it.
    pub fn is_empty(&self) -> bool {
        self.creates.is_empty()
            && self.creates_indexes.is_empty()
            && self.renames.is_empty()
            && self.subjects.is_empty()
            && !self.validate_only
    }
}

/// The facts of every top-level statement of a parsed part whose text starts at `base` in the file.
pub fn statement_facts(parse: &Parse<SourceFile>, base: usize) -> Vec<StmtFacts> {
    parse
        .tree()
        .stmts()
        .map(|stmt| {
            let r = stmt.syntax().text_range();
            let mut f = StmtFacts {
                range: base + usize::from(r.start())..base + usize::from(r.end()),
                ..StmtFacts::default()
            };
            facts_of(&stmt, &mut f);
            f
        })
        .collect()
}

fn facts_of(stmt: &ast::Stmt, f: &mut StmtFacts) {
    use ast::Stmt as S;
    match stmt {
        S::CreateTable(c) => {
            if let Some(t) = path_name(c.table_name().and_then(|n| n.path())) {
                f.creates.push((t, c.if_not_exists().is_some()));
            }
        }
        S::CreateTableAs(c) => {
            if let Some(t) = path_name(c.table_name().and_then(|n| n.path())) {
                f.creates.push((t, c.if_not_exists().is_some()));
            }
        }
        S::CreateMaterializedView(c) => {
            if let Some(t) = path_name(c.view().and_then(|v| v.path())) {
                f.creates.push((t, false));
            }
        }
        S::CreateIndex(c) => {
            let table = c
                .table_relation_name()
                .and_then(|r| r.table_name_ref())
                .and_then(|n| n.path_ref())
                .and_then(|p| ref_name(&p));
            if let Some(table) = table {
                if let Some(index) = path_name(c.index().and_then(|i| i.path())) {
                    let index = RelName {
                        schema: index.schema.or_else(|| table.schema.clone()),
                        name: index.name,
                    };
                    f.creates_indexes.push((index, table.clone()));
                }
                f.subjects.push(Subject::Table(table));
            }
        }
        S::DropIndex(d) => {
            for i in d.index_refs() {
                if let Some(n) = i.path_ref().and_then(|p| ref_name(&p)) {
                    f.subjects.push(Subject::Index(n));
                }
            }
        }
        S::Reindex(r) => match r.reindex_target() {
            Some(ast::ReindexTarget::ReindexTargetTable(t)) => {
                if let Some(n) = t
                    .table_name_ref()
                    .and_then(|n| n.path_ref())
                    .and_then(|p| ref_name(&p))
                {
                    f.subjects.push(Subject::Table(n));
                }
            }
            Some(ast::ReindexTarget::ReindexTargetIndex(t)) => {
                if let Some(n) = t
                    .index_ref()
                    .and_then(|i| i.path_ref())
                    .and_then(|p| ref_name(&p))
                {
                    f.subjects.push(Subject::Index(n));
                }
            }
            _ => {}
        },
        S::DropTable(d) => {
            for t in d.table_name_refs() {
                if let Some(n) = t.path_ref().and_then(|p| ref_name(&p)) {
                    f.subjects.push(Subject::Table(n));
                }
            }
        }
        S::Truncate(t) => {
            for r in t.table_list().iter().flat_map(|l| l.table_relation_names()) {
                if let Some(n) = r
                    .table_name_ref()
                    .and_then(|n| n.path_ref())
                    .and_then(|p| ref_name(&p))
                {
                    f.subjects.push(Subject::Table(n));
                }
            }
        }
        S::AlterTable(a) => {
            let Some(table) = a
                .table_relation_name()
                .and_then(|r| r.table_name_ref())
                .and_then(|n| n.path_ref())
                .and_then(|p| ref_name(&p))
            else {
                return;
            };
            let mut only_validate = true;
            let mut any = false;
            for action in a.actions() {
                any = true;
                match action {
                    ast::AlterTableAction::ValidateConstraint(_) => {}
                    ast::AlterTableAction::TableRenameTo(r) => {
                        only_validate = false;
                        if let Some(to) = r
                            .table_name()
                            .and_then(|n| n.path())
                            .and_then(|p| p.segment())
                            .map(|s| ast::normalize_name_node(s.syntax()))
                        {
                            f.renames.push((
                                table.clone(),
                                RelName {
                                    schema: table.schema.clone(),
                                    name: to,
                                },
                            ));
                        }
                    }
                    _ => only_validate = false,
                }
            }
            f.validate_only = any && only_validate;
            f.subjects.push(Subject::Table(table));
        }
        _ => {}
    }
}

fn ref_name(path: &ast::PathRef) -> Option<RelName> {
    crate::touch::path_ref_names(path).map(|(schema, name)| RelName { schema, name })
}

fn path_name(path: Option<ast::Path>) -> Option<RelName> {
    crate::touch::path_names(&path?).map(|(schema, name)| RelName { schema, name })
}

/// A table's size in the live database.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum TableSize {
    /// No such table (or index) in the database.
    Absent,
    Rows {
        /// Exact below the count limit, else the planner's estimate.
        rows: u64,
        exact: bool,
        /// Table, indexes and TOAST (`pg_total_relation_size`).
        bytes: u64,
        /// The table's qualified name as the database resolved it.
        resolved: String,
    },
    /// The size could not be read (the reason).
    Unknown(String),
}

/// What the live database says about the relations findings name ([`super::live::gather`]).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct LiveFacts {
    pub tables: BTreeMap<RelName, TableSize>,
    /// Index name → its table's size.
    pub indexes: BTreeMap<RelName, TableSize>,
}

/// The relations whose live size lint needs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Lookups {
    pub tables: Vec<RelName>,
    pub indexes: Vec<RelName>,
}

/// How a rule's risk depends on the table it names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Class {
    /// A lock held for a scan, an index build or a rewrite: a hazard only on a table with rows.
    Lock,
    /// Data loss: none on an absent or empty table; the automatic backup keeps the rows.
    DataLoss,
    /// A rewrite that also converts every value (changing-column-type).
    Rewrite,
    /// Fails on a table that has rows (adding-required-field).
    FailsOnRows,
    /// Not about the table's contents: judged as squawk states it.
    Other,
}

fn class(rule: Rule) -> Class {
    use Rule as R;
    match rule {
        R::RequireConcurrentIndexCreation
        | R::RequireConcurrentIndexDeletion
        | R::RequireConcurrentReindex
        | R::RequireConcurrentPartitionDetach
        | R::ConstraintMissingNotValid
        | R::AddingForeignKeyConstraint
        | R::AddingNotNullableField
        | R::AddingFieldWithDefault
        | R::AddingSerialPrimaryKeyField
        | R::DisallowedUniqueConstraint
        | R::PreferRepack => Class::Lock,
        R::BanDropColumn | R::BanDropTable | R::BanTruncateCascade => Class::DataLoss,
        R::ChangingColumnType => Class::Rewrite,
        R::AddingRequiredField => Class::FailsOnRows,
        _ => Class::Other,
    }
}

/// True when a rule's level depends on the table it names (so lint looks the table up).
pub fn depends_on_table(rule: Rule) -> bool {
    class(rule) != Class::Other
}

/// True when the automatic backup can lower a rule's level (so lint needs the backup plan).
pub fn depends_on_backup(rule: Rule) -> bool {
    matches!(class(rule), Class::DataLoss | Class::Rewrite)
}

/// What the lock of a rule's statement does, for the reason of a finding that stays a hazard.
fn lock_effect(rule: Rule) -> &'static str {
    use Rule as R;
    match rule {
        R::RequireConcurrentIndexCreation => {
            "the build holds a SHARE lock (no writes) for the whole build"
        }
        R::RequireConcurrentIndexDeletion => {
            "DROP INDEX waits for and then holds an ACCESS EXCLUSIVE lock on the table"
        }
        R::RequireConcurrentReindex => "REINDEX blocks writes for the whole rebuild",
        R::RequireConcurrentPartitionDetach => {
            "DETACH PARTITION holds an ACCESS EXCLUSIVE lock on the parent"
        }
        R::ConstraintMissingNotValid | R::AddingForeignKeyConstraint => {
            "validating every row holds the lock (writes blocked) for the whole scan"
        }
        R::AddingNotNullableField => "SET NOT NULL scans every row under an ACCESS EXCLUSIVE lock",
        R::AddingFieldWithDefault => {
            "a volatile default rewrites every row under an ACCESS EXCLUSIVE lock"
        }
        R::AddingSerialPrimaryKeyField | R::DisallowedUniqueConstraint => {
            "the index is built under an ACCESS EXCLUSIVE lock (no reads or writes)"
        }
        R::ChangingColumnType => "the table is rewritten under an ACCESS EXCLUSIVE lock",
        _ => "the statement locks the table while it runs",
    }
}

/// `1234567` → `about 1.2M rows`; exact counts are printed in full (`200,000 rows`).
fn rows_text(rows: u64, exact: bool) -> String {
    if exact {
        return format!("{} row{}", grouped(rows), if rows == 1 { "" } else { "s" });
    }
    let r = rows as f64;
    if r >= 1e9 {
        format!("about {:.1}G rows", r / 1e9)
    } else if r >= 1e6 {
        format!("about {:.1}M rows", r / 1e6)
    } else if r >= 1e4 {
        format!("about {:.0}k rows", r / 1e3)
    } else {
        format!("about {rows} rows")
    }
}

/// `200000` → `200,000`.
fn grouped(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Where a table named by a finding stands.
#[derive(Debug, Clone, PartialEq)]
enum Where {
    /// Created earlier in this run: the migration that created it (or "this file").
    Created(String),
    Size(TableSize),
    /// No database to ask.
    Offline,
}

/// The decision on one finding: the new severity (`None`: not reported) and why.
#[derive(Debug, Clone, PartialEq)]
pub struct Verdict {
    pub severity: Option<Severity>,
    pub reason: Option<String>,
}

/// Judges findings statement by statement, in run order, remembering what the run created.
#[derive(Debug)]
pub struct Judge<'a> {
    live: Option<&'a LiveFacts>,
    small_table_rows: u64,
    /// Tables created so far in this run, with where.
    created: Vec<(RelName, String)>,
    /// Indexes created so far in this run → their table.
    created_indexes: Vec<(RelName, RelName)>,
}

impl<'a> Judge<'a> {
    /// `live`: `None` offline.
    pub fn new(live: Option<&'a LiveFacts>, small_table_rows: u64) -> Judge<'a> {
        Judge {
            live,
            small_table_rows,
            created: Vec::new(),
            created_indexes: Vec::new(),
        }
    }

    /// Record what a statement creates (call after judging its findings).
    pub fn record(&mut self, facts: &StmtFacts, origin: &str) {
        for (t, if_not_exists) in &facts.creates {
            // CREATE TABLE IF NOT EXISTS on a table the database has creates nothing.
            let exists =
                *if_not_exists && matches!(self.live_table(t), Some(TableSize::Rows { .. }));
            if !exists {
                self.created.push((t.clone(), origin.to_string()));
            }
        }
        for (i, t) in &facts.creates_indexes {
            self.created_indexes.push((i.clone(), t.clone()));
        }
        for (from, to) in &facts.renames {
            if let Some(o) = self.created_in_run(from) {
                self.created.push((to.clone(), o));
            }
        }
    }

    fn created_in_run(&self, t: &RelName) -> Option<String> {
        self.created
            .iter()
            .rev()
            .find(|(c, _)| c.same(t))
            .map(|(_, o)| o.clone())
    }

    fn live_table(&self, t: &RelName) -> Option<&TableSize> {
        self.live?.tables.get(t)
    }

    fn place(&self, s: &Subject) -> Where {
        let (table, size) = match s {
            Subject::Table(t) => (Some(t.clone()), self.live_table(t).cloned()),
            Subject::Index(i) => {
                let table = self
                    .created_indexes
                    .iter()
                    .rev()
                    .find(|(c, _)| c.same(i))
                    .map(|(_, t)| t.clone());
                let size = match &table {
                    Some(t) => self.live_table(t).cloned(),
                    None => self.live.and_then(|l| l.indexes.get(i).cloned()),
                };
                (table, size)
            }
        };
        if let Some(o) = table.as_ref().and_then(|t| self.created_in_run(t)) {
            return Where::Created(o);
        }
        match (self.live, size) {
            (None, _) => Where::Offline,
            (Some(_), Some(size)) => Where::Size(size),
            (Some(_), None) => Where::Size(TableSize::Unknown("not looked up".into())),
        }
    }

    /// Decide one finding of `rule` at `severity` on the statement `facts`. `backed_up`: the
    /// tables the automatic backup copies before this migration.
    pub fn verdict(
        &self,
        rule: Rule,
        severity: Severity,
        facts: Option<&StmtFacts>,
        backed_up: &[RelName],
        backup_window: &str,
    ) -> Verdict {
        let keep = |reason: Option<String>| Verdict {
            severity: Some(severity),
            reason,
        };
        let lower = |to: Severity, reason: String| Verdict {
            severity: Some(severity.min(to)),
            reason: Some(reason),
        };
        let silent = |reason: String| Verdict {
            severity: None,
            reason: Some(reason),
        };
        let class = class(rule);
        let Some(facts) = facts.filter(|f| !f.subjects.is_empty()) else {
            return keep(if class == Class::Other {
                None
            } else {
                Some("the table could not be determined from the statement".into())
            });
        };
        if class == Class::Other {
            return keep(None);
        }
        // The worst verdict over the statement's tables (DROP TABLE a, b; …).
        let mut worst: Option<Verdict> = None;
        for s in &facts.subjects {
            let table_name = match s {
                Subject::Table(t) => t.to_string(),
                Subject::Index(i) => format!("the table of index {i}"),
            };
            let backed = match s {
                Subject::Table(t) => backed_up.iter().any(|b| b.same(t)),
                Subject::Index(_) => false,
            };
            let backup_note = format!(
                "the automatic backup copies {table_name}'s rows to pgkeel_backup before this migration (kept {backup_window}; `pgkeel rollback` restores them)"
            );
            let place = self.place(s);
            let v = match (class, &place) {
                (_, Where::Created(origin)) => {
                    lower(Severity::Info, format!("{table_name} is created earlier in this run ({origin}): nobody else uses it yet"))
                }
                (Class::DataLoss | Class::Rewrite, Where::Size(TableSize::Absent)) => {
                    silent(format!("{table_name} does not exist in the database"))
                }
                (_, Where::Size(TableSize::Absent)) => lower(
                    Severity::Info,
                    format!("{table_name} does not exist in the database yet"),
                ),
                (
                    Class::DataLoss | Class::Rewrite,
                    Where::Size(TableSize::Rows {
                        rows: 0,
                        exact: true,
                        ..
                    }),
                ) => silent(format!("{table_name} is empty")),
                (Class::FailsOnRows, Where::Size(TableSize::Rows { rows: 0, exact: true, .. })) => {
                    lower(Severity::Info, format!("{table_name} is empty"))
                }
                (Class::FailsOnRows, Where::Size(TableSize::Rows { rows, exact, .. })) => keep(Some(format!(
                    "{table_name} has {}: the statement fails, existing rows have no value for the column",
                    rows_text(*rows, *exact)
                ))),
                (Class::Lock, Where::Size(TableSize::Rows { rows, exact, bytes, .. }))
                | (Class::Rewrite, Where::Size(TableSize::Rows { rows, exact, bytes, .. })) => {
                    let size = format!("{}, {}", rows_text(*rows, *exact), crate::backup::settings::human_bytes(*bytes));
                    if *rows < self.small_table_rows {
                        let small = format!(
                            "{table_name} has {size} (below [lint] small_table_rows = {}): the lock is brief",
                            self.small_table_rows
                        );
                        if class == Class::Rewrite {
                            lower(Severity::Warning, if backed { format!("{small}; {backup_note}") } else { format!("{small}; the old values are converted and not backed up") })
                        } else {
                            lower(Severity::Info, small)
                        }
                    } else {
                        keep(Some(format!("{table_name} has {size}: {}", lock_effect(rule))))
                    }
                }
                (Class::DataLoss, Where::Size(TableSize::Rows { rows, exact, .. })) => {
                    if backed {
                        lower(Severity::Warning, format!("{table_name} has {}; {backup_note}", rows_text(*rows, *exact)))
                    } else {
                        keep(Some(format!("{table_name} has {} and no automatic backup is taken ([backup] is off for it)", rows_text(*rows, *exact))))
                    }
                }
                (Class::DataLoss, Where::Size(TableSize::Unknown(_)) | Where::Offline) => {
                    let why = match &place {
                        Where::Size(TableSize::Unknown(why)) => {
                            format!("the table's size is not known ({why})")
                        }
                        _ => "offline: the table's contents are not known".to_string(),
                    };
                    if backed {
                        lower(Severity::Warning, format!("{why}; {backup_note}"))
                    } else {
                        keep(Some(format!("{why}; no automatic backup is taken")))
                    }
                }
                (_, Where::Offline) => keep(Some(
                    "offline: the table's size is not known (with a database, lint judges it by its rows)".into(),
                )),
                (_, Where::Size(TableSize::Unknown(why))) => {
                    keep(Some(format!("{table_name}'s size is not known ({why})")))
                }
                (Class::Other, _) => keep(None),
            };
            worst = Some(match worst {
                None => v,
                Some(w) => {
                    if rank(&v) > rank(&w) {
                        v
                    } else {
                        w
                    }
                }
            });
        }
        worst.unwrap_or_else(|| keep(None))
    }

    /// `ALTER TABLE … VALIDATE CONSTRAINT` flagged by constraint-missing-not-valid: it *is* the
    /// safe pattern. On a large table squawk's point stands in another form (in the same
    /// transaction as the ADD … NOT VALID, the ADD's lock is held during the scan): a warning
    /// that says so; otherwise nothing.
    pub fn validate_verdict(&self, facts: &StmtFacts) -> Verdict {
        let mut v = Verdict {
            severity: None,
            reason: Some("VALIDATE CONSTRAINT is the safe second half of NOT VALID".into()),
        };
        for s in &facts.subjects {
            if let Where::Size(TableSize::Rows { rows, exact, .. }) = self.place(s) {
                if rows >= self.small_table_rows {
                    v = Verdict {
                        severity: Some(Severity::Warning),
                        reason: Some(format!(
                            "{} has {}: validating in the same transaction as ADD … NOT VALID keeps that statement's lock for the whole scan; move VALIDATE CONSTRAINT to a migration of its own",
                            match s { Subject::Table(t) => t.to_string(), Subject::Index(i) => i.to_string() },
                            rows_text(rows, exact)
                        )),
                    };
                }
            }
        }
        v
    }
}

fn rank(v: &Verdict) -> u8 {
    match v.severity {
        None => 0,
        Some(Severity::Info) => 1,
        Some(Severity::Warning) => 2,
        Some(Severity::Error) => 3,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts(sql: &str) -> Vec<StmtFacts> {
        statement_facts(&SourceFile::parse(sql), 0)
    }

    fn t(s: Option<&str>, n: &str) -> RelName {
        RelName::new(s, n)
    }

    fn rows(n: u64) -> TableSize {
        TableSize::Rows {
            rows: n,
            exact: n < 10_000,
            bytes: n * 100,
            resolved: "public.x".into(),
        }
    }

    #[test]
    fn statements_name_what_they_create_and_touch() {
        let f = facts(
            "create table crm.a (id int);\n\
             create table if not exists b (id int);\n\
             create index i on only crm.a (id);\n\
             drop index concurrently crm.i;\n\
             alter table only crm.a add constraint a_pkey primary key (id);\n\
             alter table a validate constraint c;\n\
             alter table a rename to z;\n\
             reindex table a;\n\
             drop table a, \"B\";\n",
        );
        assert_eq!(f[0].creates, [(t(Some("crm"), "a"), false)]);
        assert_eq!(f[1].creates, [(t(None, "b"), true)]);
        assert_eq!(
            f[2].creates_indexes,
            [(t(Some("crm"), "i"), t(Some("crm"), "a"))]
        );
        assert_eq!(f[2].subjects, [Subject::Table(t(Some("crm"), "a"))]);
        assert_eq!(f[3].subjects, [Subject::Index(t(Some("crm"), "i"))]);
        assert_eq!(f[4].subjects, [Subject::Table(t(Some("crm"), "a"))]);
        assert!(!f[4].validate_only && f[5].validate_only);
        assert_eq!(f[6].renames, [(t(None, "a"), t(None, "z"))]);
        assert_eq!(f[7].subjects, [Subject::Table(t(None, "a"))]);
        assert_eq!(
            f[8].subjects,
            [Subject::Table(t(None, "a")), Subject::Table(t(None, "B"))]
        );
        assert_eq!(
            &"create table crm.a (id int);\n"[f[0].range.clone()],
            "create table crm.a (id int);"
        );
    }

    #[test]
    fn created_in_this_run_is_not_a_hazard() {
        let f = facts("create table a (id int);\nalter table public.a add primary key (id);\n");
        let mut j = Judge::new(None, 10_000);
        j.record(&f[0], "migration 001");
        let v = j.verdict(
            Rule::AddingSerialPrimaryKeyField,
            Severity::Error,
            Some(&f[1]),
            &[],
            "48h",
        );
        assert_eq!(v.severity, Some(Severity::Info));
        assert!(v
            .reason
            .unwrap()
            .contains("created earlier in this run (migration 001)"));
        // Offline, a table the run did not create keeps its level, and says why.
        let g = facts("create index i on other (x);\n");
        let v = j.verdict(
            Rule::RequireConcurrentIndexCreation,
            Severity::Error,
            Some(&g[0]),
            &[],
            "48h",
        );
        assert_eq!(v.severity, Some(Severity::Error));
        assert!(v.reason.unwrap().starts_with("offline"));
        // An index created in the run is judged by its table.
        let h = facts("create index i on a (id);\ndrop index i;\n");
        j.record(&h[0], "migration 002");
        let v = j.verdict(
            Rule::RequireConcurrentIndexDeletion,
            Severity::Error,
            Some(&h[1]),
            &[],
            "48h",
        );
        assert_eq!(v.severity, Some(Severity::Info));
    }

    #[test]
    fn live_sizes_decide_lock_rules() {
        let mut live = LiveFacts::default();
        live.tables.insert(t(None, "big"), rows(2_300_000));
        live.tables.insert(t(None, "small"), rows(40));
        live.tables.insert(t(None, "gone"), TableSize::Absent);
        let j = Judge::new(Some(&live), 10_000);
        let f = facts(
            "create index on big (x);\ncreate index on small (x);\ncreate index on gone (x);\n",
        );
        let v = j.verdict(
            Rule::RequireConcurrentIndexCreation,
            Severity::Error,
            Some(&f[0]),
            &[],
            "48h",
        );
        assert_eq!(v.severity, Some(Severity::Error));
        assert_eq!(
            v.reason.as_deref(),
            Some("big has about 2.3M rows, 219.3 MiB: the build holds a SHARE lock (no writes) for the whole build")
        );
        let v = j.verdict(
            Rule::RequireConcurrentIndexCreation,
            Severity::Error,
            Some(&f[1]),
            &[],
            "48h",
        );
        assert_eq!(v.severity, Some(Severity::Info));
        assert!(v.reason.unwrap().contains("40 rows"));
        let v = j.verdict(
            Rule::RequireConcurrentIndexCreation,
            Severity::Error,
            Some(&f[2]),
            &[],
            "48h",
        );
        assert_eq!(v.severity, Some(Severity::Info));
        // A rule configured as a warning is never raised.
        let v = j.verdict(
            Rule::RequireConcurrentIndexCreation,
            Severity::Warning,
            Some(&f[0]),
            &[],
            "48h",
        );
        assert_eq!(v.severity, Some(Severity::Warning));
    }

    #[test]
    fn data_loss_follows_rows_and_backups() {
        let mut live = LiveFacts::default();
        live.tables.insert(t(None, "full"), rows(5));
        live.tables.insert(t(None, "empty"), rows(0));
        live.tables.insert(t(None, "big"), rows(500_000));
        live.tables.insert(t(None, "nothere"), TableSize::Absent);
        let j = Judge::new(Some(&live), 10_000);
        let f = facts("alter table full drop column x;\nalter table empty drop column x;\nalter table big alter column x type bigint;\nalter table full alter column x type bigint;\ndrop table nothere;\n");
        let v = j.verdict(
            Rule::BanDropColumn,
            Severity::Error,
            Some(&f[0]),
            &[],
            "48h",
        );
        assert_eq!(v.severity, Some(Severity::Error));
        assert!(v.reason.unwrap().contains("no automatic backup"));
        let v = j.verdict(
            Rule::BanDropColumn,
            Severity::Error,
            Some(&f[0]),
            &[t(Some("public"), "full")],
            "48h",
        );
        assert_eq!(v.severity, Some(Severity::Warning));
        assert!(v.reason.unwrap().contains("pgkeel_backup"));
        let v = j.verdict(
            Rule::BanDropColumn,
            Severity::Error,
            Some(&f[1]),
            &[],
            "48h",
        );
        assert_eq!(v.severity, None);
        // A type change on a big table rewrites it: an error even with a backup.
        let v = j.verdict(
            Rule::ChangingColumnType,
            Severity::Error,
            Some(&f[2]),
            &[t(None, "big")],
            "48h",
        );
        assert_eq!(v.severity, Some(Severity::Error));
        let v = j.verdict(
            Rule::ChangingColumnType,
            Severity::Error,
            Some(&f[3]),
            &[t(None, "full")],
            "48h",
        );
        assert_eq!(v.severity, Some(Severity::Warning));
        let v = j.verdict(Rule::BanDropTable, Severity::Error, Some(&f[4]), &[], "48h");
        assert_eq!(v.severity, None);
        // adding-required-field fails on any row.
        let g = facts("alter table full add column y int not null;\nalter table empty add column y int not null;\n");
        let v = j.verdict(
            Rule::AddingRequiredField,
            Severity::Error,
            Some(&g[0]),
            &[],
            "48h",
        );
        assert_eq!(v.severity, Some(Severity::Error));
        let v = j.verdict(
            Rule::AddingRequiredField,
            Severity::Error,
            Some(&g[1]),
            &[],
            "48h",
        );
        assert_eq!(v.severity, Some(Severity::Info));
    }

    #[test]
    fn validate_constraint_is_never_missing_not_valid() {
        let f = facts("alter table t validate constraint c;\n");
        let j = Judge::new(None, 10_000);
        assert_eq!(j.validate_verdict(&f[0]).severity, None);
        let mut live = LiveFacts::default();
        live.tables.insert(t(None, "t"), rows(1_000_000));
        let j = Judge::new(Some(&live), 10_000);
        let v = j.validate_verdict(&f[0]);
        assert_eq!(v.severity, Some(Severity::Warning));
        assert!(v.reason.unwrap().contains("migration of its own"));
    }

    #[test]
    fn if_not_exists_on_a_live_table_creates_nothing() {
        let mut live = LiveFacts::default();
        live.tables.insert(t(None, "a"), rows(50_000));
        let mut j = Judge::new(Some(&live), 10_000);
        let f = facts("create table if not exists a (id int);\ncreate index on a (id);\n");
        j.record(&f[0], "this file");
        let v = j.verdict(
            Rule::RequireConcurrentIndexCreation,
            Severity::Error,
            Some(&f[1]),
            &[],
            "48h",
        );
        assert_eq!(v.severity, Some(Severity::Error));
    }
}
