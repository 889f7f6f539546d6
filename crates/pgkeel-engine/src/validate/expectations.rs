//! Declared expectations: the objects a schema must (or must not) have, read from `[expect]` in
//! pgkeel.toml or from the file `[validate] expectations` names, and checked against the
//! introspection model ([`SchemaModel`]). Pure: parsing and evaluation do no I/O.
//!
//! ```toml
//! [expect]
//! tables = ["public.customers", "orders"]            # unqualified = public
//! views = ["public.active_customers"]
//! functions = ["public.touch_updated_at", "public.f(integer, text)"]  # any overload, or exact input types
//! forbidden = ["public.customers_compat_view"]       # must not exist: table, view, type, function
//!
//! [expect.enums]
//! "public.status" = ["open", "closed"]               # exact labels in order; [] = exists, any labels
//!
//! [expect.columns."public.customers"]
//! id = "bigint"                                      # type only
//! email = { type = "text", nullable = false }        # type and/or nullability; {} = exists
//! ```
//!
//! Every mistake (unknown key, wrong value type, a name that is not `schema.name`, a type that
//! does not parse) is an error naming the file, line and column, found through toml's spans.
//! Types are compared after normalisation ([`normalize_type`]): `int4` = `integer`,
//! `varchar(255)` = `character varying(255)`, `timestamptz` = `timestamp with time zone`,
//! `text[]`, and enum/domain types as `schema.name` (unqualified = `public`).

use std::collections::BTreeMap;

use serde::Deserialize;
use toml::Spanned;

use crate::db::ident;
use crate::db::introspect::SchemaModel;
use crate::validate::{Finding, Severity};

/// A `schema.name` (unquoted parts folded to lower case, as PostgreSQL does).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct QualifiedName {
    pub schema: String,
    pub name: String,
}

impl std::fmt::Display for QualifiedName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}", self.schema, self.name)
    }
}

impl QualifiedName {
    fn sql(&self) -> String {
        format!("{}.{}", ident(&self.schema), ident(&self.name))
    }
}

/// A function by name (any overload) or with its input argument types (normalised).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FunctionRef {
    pub name: QualifiedName,
    /// `None`: any overload. `Some`: exactly these input types, normalised.
    pub args: Option<Vec<String>>,
    /// As written in the file.
    pub declared: String,
}

impl std::fmt::Display for FunctionRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.args {
            Some(args) => write!(f, "{}({})", self.name, args.join(", ")),
            None => write!(f, "{}", self.name),
        }
    }
}

/// An expected column.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ColumnExpectation {
    pub table: QualifiedName,
    pub column: String,
    /// `(normalised, as written)`.
    pub data_type: Option<(String, String)>,
    pub nullable: Option<bool>,
}

/// Everything declared (`[expect]` and the expectations file together).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Expectations {
    pub tables: Vec<QualifiedName>,
    pub views: Vec<QualifiedName>,
    /// Enum name and the exact labels in order (empty: exists, any labels).
    pub enums: Vec<(QualifiedName, Vec<String>)>,
    pub columns: Vec<ColumnExpectation>,
    pub functions: Vec<FunctionRef>,
    pub forbidden: Vec<FunctionRef>,
}

impl Expectations {
    pub fn is_empty(&self) -> bool {
        self.tables.is_empty()
            && self.views.is_empty()
            && self.enums.is_empty()
            && self.columns.is_empty()
            && self.functions.is_empty()
            && self.forbidden.is_empty()
    }

    /// Add another set (the inline `[expect]` and the expectations file are merged).
    pub fn extend(&mut self, other: Expectations) {
        self.tables.extend(other.tables);
        self.views.extend(other.views);
        self.enums.extend(other.enums);
        self.columns.extend(other.columns);
        self.functions.extend(other.functions);
        self.forbidden.extend(other.forbidden);
    }
}

// ----------------------------------------------------------------------------------------------
// Parsing

/// The keys of `[expect]` (or of an expectations file's top level).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ExpectSection {
    #[serde(default)]
    tables: Vec<Spanned<String>>,
    #[serde(default)]
    views: Vec<Spanned<String>>,
    #[serde(default)]
    functions: Vec<Spanned<String>>,
    #[serde(default)]
    forbidden: Vec<Spanned<String>>,
    #[serde(default)]
    enums: BTreeMap<Spanned<String>, Vec<String>>,
    #[serde(default)]
    columns: BTreeMap<Spanned<String>, BTreeMap<Spanned<String>, Spanned<toml::Value>>>,
}

/// A position in a TOML text, for messages: `name:line:column`.
pub(crate) struct Source<'a> {
    pub text: &'a str,
    pub name: &'a str,
}

impl Source<'_> {
    /// `name:line:column: message` for a byte offset in the text (1-based line and column).
    pub(crate) fn error_at(&self, offset: usize, message: &str) -> String {
        let offset = offset.min(self.text.len());
        let before = self.text.get(..offset).unwrap_or(self.text);
        let line = before.matches('\n').count() + 1;
        let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
        format!("{}:{line}:{column}: {message}", self.name)
    }

    /// A toml error (syntax, unknown key, wrong type) with its line and column.
    pub(crate) fn toml_error(&self, e: &toml::de::Error) -> String {
        let message = e.message().trim().replace('\n', " ");
        match e.span() {
            Some(span) => self.error_at(span.start, &message),
            None => format!("{}: {message}", self.name),
        }
    }
}

/// Parse an expectations file: the keys of `[expect]` at its top level.
pub fn parse_file(text: &str, name: &str) -> Result<Expectations, String> {
    let src = Source { text, name };
    let section: ExpectSection = toml::from_str(text).map_err(|e| src.toml_error(&e))?;
    section.check(&src)
}

impl ExpectSection {
    /// Check every name and type, giving the expectations or the first mistake with its line.
    pub(crate) fn check(self, src: &Source<'_>) -> Result<Expectations, String> {
        let name_at = |s: &Spanned<String>, what: &str| {
            parse_name(s.get_ref()).map_err(|m| {
                src.error_at(s.span().start, &format!("{what} {:?}: {m}", s.get_ref()))
            })
        };
        let function_at = |s: &Spanned<String>, what: &str| {
            parse_function(s.get_ref()).map_err(|m| {
                src.error_at(s.span().start, &format!("{what} {:?}: {m}", s.get_ref()))
            })
        };
        let mut out = Expectations::default();
        for t in &self.tables {
            out.tables.push(name_at(t, "table")?);
        }
        for v in &self.views {
            out.views.push(name_at(v, "view")?);
        }
        for f in &self.functions {
            out.functions.push(function_at(f, "function")?);
        }
        for f in &self.forbidden {
            out.forbidden.push(function_at(f, "forbidden object")?);
        }
        for (name, labels) in self.enums {
            out.enums.push((name_at(&name, "enum")?, labels));
        }
        for (table, columns) in &self.columns {
            let table_name = name_at(table, "table")?;
            for (column, spec) in columns {
                let column_name = parse_ident(column.get_ref()).map_err(|m| {
                    src.error_at(
                        column.span().start,
                        &format!("column {:?}: {m}", column.get_ref()),
                    )
                })?;
                let at = |m: String| {
                    src.error_at(
                        spec.span().start,
                        &format!("column {table_name}.{column_name}: {m}"),
                    )
                };
                let (ty, nullable) =
                    match spec.get_ref() {
                        toml::Value::String(t) => (Some(t.clone()), None),
                        toml::Value::Table(t) => {
                            let mut ty = None;
                            let mut nullable = None;
                            for (k, v) in t {
                                match (k.as_str(), v) {
                                    ("type", toml::Value::String(s)) => ty = Some(s.clone()),
                                    ("nullable", toml::Value::Boolean(b)) => nullable = Some(*b),
                                    ("type", _) => return Err(at("type must be a string".into())),
                                    ("nullable", _) => {
                                        return Err(at("nullable must be true or false".into()))
                                    }
                                    (other, _) => {
                                        return Err(at(format!(
                                            "unknown key {other:?}; expected type and/or nullable"
                                        )))
                                    }
                                }
                            }
                            (ty, nullable)
                        }
                        _ => return Err(at(
                            "expected a type (\"text\") or { type = \"text\", nullable = false }"
                                .into(),
                        )),
                    };
                let data_type = match ty {
                    Some(t) => Some((normalize_type(&t).map_err(at)?, t)),
                    None => None,
                };
                out.columns.push(ColumnExpectation {
                    table: table_name.clone(),
                    column: column_name,
                    data_type,
                    nullable,
                });
            }
        }
        Ok(out)
    }
}

/// One identifier: unquoted (folded to lower case; letters, digits, `_`, `$`) or double-quoted.
fn parse_ident(s: &str) -> Result<String, String> {
    let s = s.trim();
    if let Some(inner) = s.strip_prefix('"').and_then(|r| r.strip_suffix('"')) {
        if inner.is_empty() || inner.replace("\"\"", "").contains('"') {
            return Err("not a valid quoted identifier".into());
        }
        return Ok(inner.replace("\"\"", "\""));
    }
    let ok = s
        .chars()
        .next()
        .is_some_and(|c| c.is_alphabetic() || c == '_')
        && s.chars()
            .all(|c| c.is_alphanumeric() || c == '_' || c == '$');
    if ok {
        Ok(s.to_lowercase())
    } else {
        Err("expected an identifier (letters, digits, _), or a double-quoted one".into())
    }
}

/// Split at dots outside double quotes.
fn split_dots(s: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let mut quoted = false;
    let mut start = 0;
    for (i, c) in s.char_indices() {
        match c {
            '"' => quoted = !quoted,
            '.' if !quoted => {
                parts.push(&s[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&s[start..]);
    parts
}

/// `name` (in `public`) or `schema.name`.
pub fn parse_name(s: &str) -> Result<QualifiedName, String> {
    let parts = split_dots(s.trim());
    match parts.as_slice() {
        [name] => Ok(QualifiedName {
            schema: "public".into(),
            name: parse_ident(name)?,
        }),
        [schema, name] => Ok(QualifiedName {
            schema: parse_ident(schema)?,
            name: parse_ident(name)?,
        }),
        _ => Err("expected name or schema.name".into()),
    }
}

/// `schema.name` or `schema.name(type, type)`.
fn parse_function(s: &str) -> Result<FunctionRef, String> {
    let s = s.trim();
    let (name, args) = match s.find('(') {
        Some(open) => {
            let inner = s[open + 1..]
                .strip_suffix(')')
                .ok_or("the argument list must end with )")?;
            let args = split_top_level(inner)
                .into_iter()
                .filter(|a| !a.trim().is_empty() || !inner.trim().is_empty())
                .map(normalize_type)
                .collect::<Result<Vec<_>, _>>()?;
            (&s[..open], Some(args))
        }
        None => (s, None),
    };
    Ok(FunctionRef {
        name: parse_name(name)?,
        args,
        declared: s.to_string(),
    })
}

/// Split at commas outside parentheses (`numeric(10,2), text`).
fn split_top_level(s: &str) -> Vec<&str> {
    if s.trim().is_empty() {
        return Vec::new();
    }
    let mut parts = Vec::new();
    let mut depth = 0i32;
    let mut start = 0;
    for (i, c) in s.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            ',' if depth == 0 => {
                parts.push(&s[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&s[start..]);
    parts
}

/// The spelling `format_type` uses for a built-in type name (and its aliases).
fn canonical_base(base: &str) -> &str {
    match base {
        "int" | "int4" | "integer" | "serial" | "serial4" => "integer",
        "int2" | "smallint" | "smallserial" | "serial2" => "smallint",
        "int8" | "bigint" | "bigserial" | "serial8" => "bigint",
        "float4" | "real" => "real",
        "float8" | "float" | "double precision" => "double precision",
        "bool" | "boolean" => "boolean",
        "varchar" | "character varying" | "char varying" => "character varying",
        "char" | "character" | "bpchar" => "character",
        "decimal" | "numeric" => "numeric",
        "timestamptz" | "timestamp with time zone" => "timestamp with time zone",
        "timestamp" | "timestamp without time zone" => "timestamp without time zone",
        "timetz" | "time with time zone" => "time with time zone",
        "time" | "time without time zone" => "time without time zone",
        "varbit" | "bit varying" => "bit varying",
        other => other,
    }
}

/// A type name in one canonical spelling, so that aliases compare equal: lower case (outside
/// double quotes, which are removed), single spaces, `pg_catalog.` dropped, aliases resolved
/// (`int4` → `integer`, `varchar(255)` → `character varying(255)`, `timestamptz(3)` →
/// `timestamp(3) with time zone`), modifiers without spaces (`numeric(10,2)`), array
/// dimensions as `[]` each (`int[3]`, `integer array` → `integer[]`).
pub fn normalize_type(s: &str) -> Result<String, String> {
    // Lower case outside quotes; quotes removed.
    let mut t = String::new();
    let mut quoted = false;
    for c in s.trim().chars() {
        match c {
            '"' => quoted = !quoted,
            c if quoted => t.push(c),
            c => t.extend(c.to_lowercase()),
        }
    }
    if quoted {
        return Err(format!("type {s:?}: unbalanced double quote"));
    }
    let mut dims = 0;
    loop {
        let trimmed = t.trim_end();
        if let Some(rest) = trimmed.strip_suffix(']') {
            let open = rest
                .rfind('[')
                .ok_or_else(|| format!("type {s:?}: unbalanced ]"))?;
            if !rest[open + 1..].trim().chars().all(|c| c.is_ascii_digit()) {
                return Err(format!("type {s:?}: array bounds must be numbers"));
            }
            t = rest[..open].to_string();
            dims += 1;
        } else if let Some(rest) = trimmed.strip_suffix(" array") {
            t = rest.to_string();
            dims += 1;
        } else {
            break;
        }
    }
    let (base, modifier) = match t.find('(') {
        Some(open) => {
            let close = t[open..]
                .find(')')
                .map(|c| open + c)
                .ok_or_else(|| format!("type {s:?}: unbalanced ("))?;
            let modifier: String = t[open + 1..close]
                .chars()
                .filter(|c| !c.is_whitespace())
                .collect();
            if modifier.is_empty()
                || !modifier
                    .chars()
                    .all(|c| c.is_ascii_digit() || c == ',' || c == '-')
            {
                return Err(format!(
                    "type {s:?}: a type modifier is a number or numbers, e.g. numeric(10,2)"
                ));
            }
            (
                format!("{} {}", &t[..open], &t[close + 1..]),
                Some(modifier),
            )
        }
        None => (t.clone(), None),
    };
    let base = base.split_whitespace().collect::<Vec<_>>().join(" ");
    let base = base
        .strip_prefix("pg_catalog.")
        .unwrap_or(&base)
        .to_string();
    if base.is_empty()
        || base.contains(['(', ')', '[', ']', ';', ','])
        || !base
            .chars()
            .all(|c| c.is_alphanumeric() || matches!(c, '_' | '$' | ' ' | '.'))
    {
        return Err(format!("type {s:?} is not a type name"));
    }
    let base = canonical_base(&base).to_string();
    let mut out = match (&modifier, base.split_once(" with")) {
        (Some(m), Some((head, tail))) if head == "timestamp" || head == "time" => {
            format!("{head}({m}) with{tail}")
        }
        (Some(m), _) => format!("{base}({m})"),
        (None, _) => base,
    };
    for _ in 0..dims {
        out.push_str("[]");
    }
    Ok(out)
}

/// How a type found in the catalog compares: the normalised `format_type` text for built-in
/// types, `schema.name[]…` for enums, domains and other types outside `pg_catalog`.
fn found_type(data_type: &str, type_schema: &str, type_name: &str) -> Vec<String> {
    let dims = data_type.trim_end().matches("[]").count();
    let suffix = "[]".repeat(dims);
    if type_schema == "pg_catalog" {
        return vec![normalize_type(data_type).unwrap_or_else(|_| data_type.to_string())];
    }
    let mut accepted = vec![format!("{type_schema}.{type_name}{suffix}")];
    if type_schema == "public" {
        accepted.push(format!("{type_name}{suffix}"));
    }
    accepted
}

// ----------------------------------------------------------------------------------------------
// Evaluation

fn finding(check: &str, object: String, message: String, hint: String) -> Finding {
    Finding {
        check: check.to_string(),
        severity: Severity::Error,
        object,
        message,
        hint,
    }
}

/// What kind of object `schema.name` is in the model, if any (the first match).
fn kind_of(model: &SchemaModel, n: &QualifiedName) -> Option<&'static str> {
    if model.table(&n.schema, &n.name).is_some() {
        return Some("table");
    }
    if let Some(v) = model.view(&n.schema, &n.name) {
        return Some(if v.materialized {
            "materialized view"
        } else {
            "view"
        });
    }
    let is = |s: &str, name: &str| s == n.schema && name == n.name;
    if model.enums.iter().any(|e| is(&e.schema, &e.name)) {
        return Some("enum");
    }
    if model.composite_types.iter().any(|c| is(&c.schema, &c.name)) {
        return Some("composite type");
    }
    if model.domains.iter().any(|d| is(&d.schema, &d.name)) {
        return Some("domain");
    }
    if model.functions.iter().any(|f| is(&f.schema, &f.name)) {
        return Some("function");
    }
    None
}

fn exists_as(found: Option<&str>) -> String {
    match found {
        Some(k) => format!("; a {k} of that name exists"),
        None => String::new(),
    }
}

/// The input argument types of each overload of `name`, normalised.
fn overloads(model: &SchemaModel, name: &QualifiedName) -> Vec<(Vec<Vec<String>>, String)> {
    model
        .functions
        .iter()
        .filter(|f| f.schema == name.schema && f.name == name.name)
        .map(|f| {
            let args = f
                .arguments
                .iter()
                .filter(|a| a.mode.is_input())
                .map(|a| found_type(&a.data_type, &a.type_schema, &a.type_name))
                .collect();
            (args, format!("{name}({})", f.identity_arguments))
        })
        .collect()
}

fn args_match(found: &[Vec<String>], expected: &[String]) -> bool {
    found.len() == expected.len()
        && found
            .iter()
            .zip(expected)
            .all(|(accepted, e)| accepted.contains(e))
}

/// Check the expectations against the model: one finding (severity error) per unmet
/// expectation, in the order declared (tables, views, enums, columns, functions, forbidden).
pub fn evaluate(exp: &Expectations, model: &SchemaModel) -> Vec<Finding> {
    let mut out = Vec::new();
    for t in &exp.tables {
        if model.table(&t.schema, &t.name).is_none() {
            out.push(finding(
                "expect.table",
                t.to_string(),
                format!(
                    "table {t} does not exist{}",
                    exists_as(kind_of(model, t))
                ),
                format!("create it in a migration (CREATE TABLE {} …), or remove it from [expect] tables", t.sql()),
            ));
        }
    }
    for v in &exp.views {
        if model.view(&v.schema, &v.name).is_none() {
            out.push(finding(
                "expect.view",
                v.to_string(),
                format!("view {v} does not exist{}", exists_as(kind_of(model, v))),
                format!(
                    "create it in a migration (CREATE VIEW {} AS …), or remove it from [expect] views",
                    v.sql()
                ),
            ));
        }
    }
    for (e, labels) in &exp.enums {
        match model
            .enums
            .iter()
            .find(|x| x.schema == e.schema && x.name == e.name)
        {
            None => out.push(finding(
                "expect.enum",
                e.to_string(),
                format!("enum {e} does not exist{}", exists_as(kind_of(model, e))),
                format!(
                    "create it in a migration (CREATE TYPE {} AS ENUM (…)), or remove it from [expect.enums]",
                    e.sql()
                ),
            )),
            Some(found) if !labels.is_empty() && &found.labels != labels => {
                let missing: Vec<&String> =
                    labels.iter().filter(|l| !found.labels.contains(l)).collect();
                let hint = match missing.first() {
                    Some(l) => format!(
                        "ALTER TYPE {} ADD VALUE '{}' in a migration, or update [expect.enums]",
                        e.sql(),
                        l.replace('\'', "''")
                    ),
                    None => "the labels differ in order or extra labels exist; update [expect.enums] or the type".to_string(),
                };
                out.push(finding(
                    "expect.enum",
                    e.to_string(),
                    format!(
                        "enum {e} has values [{}]; expected [{}]",
                        found.labels.join(", "),
                        labels.join(", ")
                    ),
                    hint,
                ));
            }
            Some(_) => {}
        }
    }
    let mut missing_tables: Vec<&QualifiedName> = Vec::new();
    for c in &exp.columns {
        let object = format!("{}.{}", c.table, c.column);
        let (columns, is_view) = match model.table(&c.table.schema, &c.table.name) {
            Some(t) => (&t.columns, false),
            None => match model.view(&c.table.schema, &c.table.name) {
                Some(v) => (&v.columns, true),
                None => {
                    if !missing_tables.contains(&&c.table) {
                        missing_tables.push(&c.table);
                        out.push(finding(
                            "expect.column",
                            c.table.to_string(),
                            format!(
                                "table {} does not exist, so its expected columns are missing",
                                c.table
                            ),
                            "create the table in a migration, or fix the name in [expect.columns]"
                                .into(),
                        ));
                    }
                    continue;
                }
            },
        };
        let Some(col) = columns.iter().find(|x| x.name == c.column) else {
            out.push(finding(
                "expect.column",
                object.clone(),
                format!("column {object} does not exist"),
                format!(
                    "add it in a migration (ALTER TABLE {} ADD COLUMN {} {}), or remove it from [expect.columns]",
                    c.table.sql(),
                    ident(&c.column),
                    c.data_type.as_ref().map_or("…", |(_, d)| d.as_str())
                ),
            ));
            continue;
        };
        if let Some((norm, declared)) = &c.data_type {
            let accepted = found_type(&col.data_type, &col.type_schema, &col.type_name);
            if !accepted.contains(norm) {
                out.push(finding(
                    "expect.column",
                    object.clone(),
                    format!("column {object} is {}; expected {declared}", col.data_type),
                    format!(
                        "change it in a migration (ALTER TABLE {} ALTER COLUMN {} TYPE {declared}), or update [expect.columns]",
                        c.table.sql(),
                        ident(&c.column)
                    ),
                ));
            }
        }
        if let Some(nullable) = c.nullable {
            // PostgreSQL does not track nullability for view columns.
            if !is_view && col.nullable != nullable {
                let (is, expected, fix) = if nullable {
                    ("NOT NULL", "nullable", "DROP NOT NULL")
                } else {
                    ("nullable", "NOT NULL", "SET NOT NULL")
                };
                out.push(finding(
                    "expect.column",
                    object.clone(),
                    format!("column {object} is {is}; expected {expected}"),
                    format!(
                        "ALTER TABLE {} ALTER COLUMN {} {fix} in a migration, or update [expect.columns]",
                        c.table.sql(),
                        ident(&c.column)
                    ),
                ));
            }
        }
    }
    for f in &exp.functions {
        let found = overloads(model, &f.name);
        let ok = match &f.args {
            None => !found.is_empty(),
            Some(args) => found.iter().any(|(a, _)| args_match(a, args)),
        };
        if !ok {
            let message = if found.is_empty() {
                format!(
                    "function {f} does not exist{}",
                    exists_as(kind_of(model, &f.name))
                )
            } else {
                format!(
                    "function {f} does not exist; found {}",
                    found
                        .iter()
                        .map(|(_, s)| s.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            };
            out.push(finding(
                "expect.function",
                f.to_string(),
                message,
                "create it in a migration (CREATE FUNCTION …), or fix [expect] functions".into(),
            ));
        }
    }
    for f in &exp.forbidden {
        let n = &f.name;
        let drop = match &f.args {
            Some(args) => {
                let matching: Vec<String> = overloads(model, n)
                    .into_iter()
                    .filter(|(a, _)| args_match(a, args))
                    .map(|(_, s)| s)
                    .collect();
                matching.first().map(|s| {
                    (
                        format!("function {s}"),
                        format!("DROP FUNCTION {}({})", n.sql(), args.join(", ")),
                    )
                })
            }
            None => kind_of(model, n).map(|kind| {
                let stmt = match kind {
                    "table" => "DROP TABLE",
                    "view" => "DROP VIEW",
                    "materialized view" => "DROP MATERIALIZED VIEW",
                    "domain" => "DROP DOMAIN",
                    "function" => "DROP FUNCTION",
                    _ => "DROP TYPE",
                };
                (format!("{kind} {n}"), format!("{stmt} {}", n.sql()))
            }),
        };
        if let Some((what, stmt)) = drop {
            out.push(finding(
                "expect.forbidden",
                f.to_string(),
                format!("{what} exists; [expect] forbidden says it must not"),
                format!("{stmt} in a migration, or remove it from [expect] forbidden"),
            ));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::introspect::{Column, Enum, Table, TableKind, TypeKind, View};

    fn parse(text: &str) -> Result<Expectations, String> {
        parse_file(text, "expect.toml")
    }

    fn col(name: &str, data_type: &str, schema: &str, typname: &str, nullable: bool) -> Column {
        Column {
            name: name.into(),
            ordinal: 1,
            data_type: data_type.into(),
            type_schema: schema.into(),
            type_name: typname.into(),
            type_kind: if schema == "pg_catalog" {
                TypeKind::Base
            } else {
                TypeKind::Enum
            },
            is_array: data_type.ends_with("[]"),
            array_dims: None,
            nullable,
            default: None,
            identity: None,
            generated: None,
            comment: None,
            domain_base: None,
        }
    }

    fn model() -> SchemaModel {
        let customers = Table {
            schema: "public".into(),
            name: "customers".into(),
            kind: TableKind::Table,
            comment: None,
            columns: vec![
                col("id", "bigint", "pg_catalog", "int8", false),
                col("email", "text", "pg_catalog", "text", true),
                col(
                    "name",
                    "character varying(255)",
                    "pg_catalog",
                    "varchar",
                    false,
                ),
                col(
                    "seen_at",
                    "timestamp with time zone",
                    "pg_catalog",
                    "timestamptz",
                    true,
                ),
                col("tags", "text[]", "pg_catalog", "text", true),
                col("status", "status", "public", "status", false),
                col("tier", "app.tier", "app", "tier", false),
            ],
            primary_key: vec!["id".into()],
            foreign_keys: vec![],
            unique_constraints: vec![],
            check_constraints: vec![],
            indexes: vec![],
            rls_enabled: false,
            rls_forced: false,
            policies: vec![],
            estimated_rows: None,
            partition_key: None,
            partition_of: None,
        };
        let view = View {
            schema: "public".into(),
            name: "compat".into(),
            materialized: false,
            columns: vec![col("id", "bigint", "pg_catalog", "int8", true)],
            updatable: false,
            insertable: false,
            security_invoker: false,
            comment: None,
            definition: "SELECT 1".into(),
            indexes: vec![],
        };
        SchemaModel {
            schemas: vec!["app".into(), "public".into()],
            tables: vec![customers],
            views: vec![view],
            enums: vec![Enum {
                schema: "public".into(),
                name: "status".into(),
                labels: vec!["open".into(), "closed".into()],
                comment: None,
            }],
            ..SchemaModel::default()
        }
    }

    #[test]
    fn types_normalise() {
        for (a, b) in [
            ("int4", "integer"),
            ("INT", "integer"),
            ("int8", "bigint"),
            ("serial", "integer"),
            ("varchar(255)", "character varying(255)"),
            ("character  varying ( 255 )", "character varying(255)"),
            ("timestamptz", "timestamp with time zone"),
            ("timestamptz(3)", "timestamp(3) with time zone"),
            ("timestamp(3) with time zone", "timestamp(3) with time zone"),
            ("bool", "boolean"),
            ("text[]", "text[]"),
            ("int[3][]", "integer[][]"),
            ("integer array", "integer[]"),
            ("numeric(10, 2)", "numeric(10,2)"),
            ("pg_catalog.float8", "double precision"),
            ("public.status", "public.status"),
            ("\"My Type\"", "My Type"),
        ] {
            assert_eq!(normalize_type(a).unwrap(), b, "{a}");
        }
        for bad in ["", "text;drop", "numeric(10", "int]", "numeric(x)", "a,b"] {
            assert!(normalize_type(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn parses_every_kind() {
        let e = parse(
            r#"
tables = ["public.customers", "Orders", "\"Mixed Case\""]
views = ["app.v"]
functions = ["public.touch", "f(integer, numeric(10,2))", "g()"]
forbidden = ["public.compat"]
[enums]
"public.status" = ["open", "closed"]
[columns."public.customers"]
id = "int8"
email = { type = "text", nullable = false }
name = {}
"#,
        )
        .unwrap();
        assert_eq!(e.tables[1].to_string(), "public.orders");
        assert_eq!(e.tables[2].name, "Mixed Case");
        assert_eq!(e.views[0].to_string(), "app.v");
        assert_eq!(e.functions[0].args, None);
        assert_eq!(
            e.functions[1].args.as_deref(),
            Some(&["integer".to_string(), "numeric(10,2)".to_string()][..])
        );
        assert_eq!(e.functions[2].args.as_deref(), Some(&[][..]));
        assert_eq!(e.enums[0].1, ["open", "closed"]);
        let email = e.columns.iter().find(|c| c.column == "email").unwrap();
        assert_eq!(email.nullable, Some(false));
        assert_eq!(email.data_type.as_ref().unwrap().0, "text");
        let id = e.columns.iter().find(|c| c.column == "id").unwrap();
        assert_eq!(id.data_type.as_ref().unwrap().0, "bigint");
        let name = e.columns.iter().find(|c| c.column == "name").unwrap();
        assert_eq!((&name.data_type, name.nullable), (&None, None));
    }

    #[test]
    fn mistakes_have_a_line_and_column() {
        let cases = [
            (
                "tables = [\"a\"]\ntabels = [\"b\"]\n",
                "expect.toml:2:1",
                "tabels",
            ),
            (
                "tables = [\"a\",\n  \"a.b.c\"]\n",
                "expect.toml:2:3",
                "schema.name",
            ),
            ("views = \"v\"\n", "expect.toml:1:9", "sequence"),
            (
                "[columns.t]\nid = { type = \"int\", null = true }\n",
                "expect.toml:2:6",
                "unknown key \"null\"",
            ),
            (
                "[columns.t]\n\nid = 5\n",
                "expect.toml:3:6",
                "expected a type",
            ),
            (
                "[columns.t]\nid = \"numeric(ten)\"\n",
                "expect.toml:2:6",
                "type modifier",
            ),
            ("[enums]\n\"a b\" = []\n", "expect.toml:2:1", "identifier"),
            (
                "functions = [\"f(int\"]\n",
                "expect.toml:1:14",
                "end with )",
            ),
            ("tables = [\n", "expect.toml:", "expected"),
        ];
        for (text, at, what) in cases {
            let e = parse(text).unwrap_err();
            assert!(e.starts_with(at) && e.contains(what), "{text:?}: {e}");
        }
    }

    #[test]
    fn passing_expectations_find_nothing() {
        let e = parse(
            r#"
tables = ["customers"]
views = ["public.compat"]
[enums]
status = ["open", "closed"]
"public.status" = []
[columns.customers]
id = { type = "int8", nullable = false }
email = { type = "text", nullable = true }
name = "varchar(255)"
seen_at = "timestamptz"
tags = "text[]"
status = "status"
tier = "app.tier"
"#,
        )
        .unwrap();
        assert_eq!(evaluate(&e, &model()), vec![]);
    }

    #[test]
    fn failing_expectations_say_expected_and_found() {
        let e = parse(
            r#"
tables = ["orders", "compat"]
views = ["customers"]
forbidden = ["public.compat", "public.gone"]
functions = ["public.touch"]
[enums]
status = ["open", "closed", "archived"]
mood = []
[columns.customers]
email = { nullable = false }
id = "integer"
missing = "text"
tier = "public.tier"
[columns.nowhere]
a = "text"
b = "text"
"#,
        )
        .unwrap();
        let found = evaluate(&e, &model());
        let msgs: Vec<(&str, &str)> = found
            .iter()
            .map(|f| (f.check.as_str(), f.message.as_str()))
            .collect();
        assert_eq!(
            msgs,
            [
                ("expect.table", "table public.orders does not exist"),
                (
                    "expect.table",
                    "table public.compat does not exist; a view of that name exists"
                ),
                (
                    "expect.view",
                    "view public.customers does not exist; a table of that name exists"
                ),
                ("expect.enum", "enum public.mood does not exist"),
                (
                    "expect.enum",
                    "enum public.status has values [open, closed]; expected [open, closed, archived]"
                ),
                (
                    "expect.column",
                    "column public.customers.email is nullable; expected NOT NULL"
                ),
                (
                    "expect.column",
                    "column public.customers.id is bigint; expected integer"
                ),
                (
                    "expect.column",
                    "column public.customers.missing does not exist"
                ),
                (
                    "expect.column",
                    "column public.customers.tier is app.tier; expected public.tier"
                ),
                (
                    "expect.column",
                    "table public.nowhere does not exist, so its expected columns are missing"
                ),
                ("expect.function", "function public.touch does not exist"),
                (
                    "expect.forbidden",
                    "view public.compat exists; [expect] forbidden says it must not"
                ),
            ]
        );
        assert!(found.iter().all(|f| f.severity == Severity::Error));
        let forbidden = found.last().unwrap();
        assert_eq!(
            forbidden.hint,
            "DROP VIEW \"public\".\"compat\" in a migration, or remove it from [expect] forbidden"
        );
        assert!(
            found[4].hint.contains("ADD VALUE 'archived'"),
            "{}",
            found[4].hint
        );
    }
}
