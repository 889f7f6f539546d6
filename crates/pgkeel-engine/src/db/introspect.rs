//! Introspection: the live schema as one [`SchemaModel`], the model the whole engine shares
//! (`pgkeel describe`, the MCP tool `describe_schema`, TypeScript type rendering, schema
//! validation).
//!
//! How it reads the catalogs:
//! - **A handful of queries, never one per object.** One query per object kind (schemas, types,
//!   relations, columns, constraints, indexes, policies, enums, domains, functions), each
//!   returning every row for the selected schemas (`nspname = ANY($1)`, a `text[]`). After the
//!   schema list, the queries are sent together (pipelined on the one connection).
//! - **One snapshot.** [`describe`] runs them in one `REPEATABLE READ READ ONLY` transaction,
//!   so a migration committing meanwhile cannot leave a column without its table.
//!   [`describe_in_transaction`] runs them in the caller's transaction instead (e.g. to describe
//!   what a dry run created before it is rolled back).
//! - **Types are resolved in Rust.** One query reads every `pg_type` row (a few hundred to a few
//!   thousand); the other queries return type OIDs, and `Types` turns them into
//!   schema/name/kind, the element type of arrays and the base type of domains (through domain
//!   chains).
//! - **Extensions stay out.** Schemas, relations, types and functions that belong to an
//!   extension (`pg_depend.deptype = 'e'`) are left out everywhere, so `CREATE EXTENSION citext`
//!   adds nothing to the model.
//! - **Deterministic order**: schema, then name (then ordinal for columns, identity arguments for
//!   overloaded functions). Names sort bytewise (the `name` type's C collation).
//!
//! Expressions come back as PostgreSQL prints them: defaults, generation expressions and policy
//! expressions as `information_schema` / `pg_policies` show them (`pg_get_expr`), check
//! constraints and index predicates in the pretty form `psql \d` shows.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};
use tokio_postgres::{Client, Row};

use crate::error::{Error, Result};

/// What to describe.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SchemaFilter {
    /// Only these schemas (they must exist; `exclude` does not apply to them). `None`: every
    /// schema except PostgreSQL's own (`pg_catalog`, `information_schema`, `pg_toast`, temporary
    /// schemas), schemas created by extensions, and `exclude`.
    pub schemas: Option<Vec<String>>,
    /// Only this table or view: `name` (searched in the selected schemas) or `schema.name` (in
    /// that schema, whatever the other settings say). Parts may be double-quoted.
    pub table: Option<String>,
    /// Schemas left out of the default selection, e.g. the history schema.
    pub exclude: Vec<String>,
}

/// The live schema.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SchemaModel {
    /// The schemas that were read, sorted.
    pub schemas: Vec<String>,
    pub tables: Vec<Table>,
    pub views: Vec<View>,
    pub enums: Vec<Enum>,
    pub composite_types: Vec<CompositeType>,
    pub domains: Vec<Domain>,
    pub functions: Vec<Function>,
}

impl SchemaModel {
    /// The table `schema.name`, if the model has it.
    pub fn table(&self, schema: &str, name: &str) -> Option<&Table> {
        self.tables
            .iter()
            .find(|t| t.schema == schema && t.name == name)
    }

    /// The view (plain or materialized) `schema.name`, if the model has it.
    pub fn view(&self, schema: &str, name: &str) -> Option<&View> {
        self.views
            .iter()
            .find(|v| v.schema == schema && v.name == name)
    }

    /// True when the model holds no object at all.
    pub fn is_empty(&self) -> bool {
        self.tables.is_empty()
            && self.views.is_empty()
            && self.enums.is_empty()
            && self.composite_types.is_empty()
            && self.domains.is_empty()
            && self.functions.is_empty()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TableKind {
    /// `relkind = 'r'` (partitions too: see [`Table::partition_of`]).
    Table,
    /// `relkind = 'p'`: holds no rows itself.
    PartitionedTable,
    /// `relkind = 'f'`.
    ForeignTable,
}

impl TableKind {
    pub fn as_str(self) -> &'static str {
        match self {
            TableKind::Table => "table",
            TableKind::PartitionedTable => "partitioned_table",
            TableKind::ForeignTable => "foreign_table",
        }
    }
}

/// A table: ordinary, partitioned or foreign.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Table {
    pub schema: String,
    pub name: String,
    pub kind: TableKind,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    /// In `attnum` order.
    pub columns: Vec<Column>,
    /// Column names of the primary key, in key order; empty when there is none.
    pub primary_key: Vec<String>,
    pub foreign_keys: Vec<ForeignKey>,
    pub unique_constraints: Vec<UniqueConstraint>,
    pub check_constraints: Vec<CheckConstraint>,
    /// Every index, including those behind the primary key and unique constraints.
    pub indexes: Vec<Index>,
    pub rls_enabled: bool,
    /// RLS applies to the table owner too (`FORCE ROW LEVEL SECURITY`).
    pub rls_forced: bool,
    pub policies: Vec<Policy>,
    /// The planner's estimate (`pg_class.reltuples`); absent when the table was never analyzed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub estimated_rows: Option<i64>,
    /// For a partitioned table: the partition key, e.g. `RANGE (created_at)`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub partition_key: Option<String>,
    /// For a partition: its parent and bound.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub partition_of: Option<PartitionOf>,
}

impl Table {
    pub fn column(&self, name: &str) -> Option<&Column> {
        self.columns.iter().find(|c| c.name == name)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartitionOf {
    pub schema: String,
    pub name: String,
    /// e.g. `FOR VALUES FROM ('2024-01-01') TO ('2025-01-01')`, `DEFAULT`.
    pub bound: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TypeKind {
    /// `typtype = 'b'`: integer, text, uuid, jsonb, …
    Base,
    Composite,
    Domain,
    Enum,
    /// `record`, `void`, `trigger`, `anyelement`, …
    Pseudo,
    Range,
    Multirange,
}

impl TypeKind {
    fn from_typtype(t: &str) -> TypeKind {
        match t {
            "c" => TypeKind::Composite,
            "d" => TypeKind::Domain,
            "e" => TypeKind::Enum,
            "p" => TypeKind::Pseudo,
            "r" => TypeKind::Range,
            "m" => TypeKind::Multirange,
            _ => TypeKind::Base,
        }
    }
}

/// A column of a table or view, or an attribute of a composite type.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Column {
    pub name: String,
    /// `attnum`: 1-based, with gaps where columns were dropped.
    pub ordinal: i32,
    /// As `format_type` prints it: `character varying(20)`, `timestamp with time zone`,
    /// `integer[]`, `numeric(10,2)`, a domain's or enum's name (schema-qualified when it is not
    /// on the search path).
    pub data_type: String,
    /// Schema of the underlying type (the element type, for arrays).
    pub type_schema: String,
    /// `pg_type.typname` of the underlying type (the element type, for arrays): `int4`,
    /// `varchar`, `timestamptz`, `mood`.
    pub type_name: String,
    /// Kind of the underlying type (the element type, for arrays).
    pub type_kind: TypeKind,
    #[serde(default, skip_serializing_if = "is_false")]
    pub is_array: bool,
    /// Declared array dimensions (`int[][]` → 2); absent where PostgreSQL does not record them
    /// (view columns, composite attributes) — treat as 1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub array_dims: Option<i32>,
    /// `NOT attnotnull`. View columns always report true (PostgreSQL does not track it).
    pub nullable: bool,
    /// The default expression (`pg_get_expr`), e.g. `now()`, `'draft'::text`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identity: Option<Identity>,
    /// The expression of a `GENERATED ALWAYS AS (…) STORED` column.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub generated: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    /// When the type (element type, for arrays) is a domain: the type beneath it, followed through
    /// domains over domains.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub domain_base: Option<TypeRef>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Identity {
    /// `GENERATED ALWAYS AS IDENTITY`
    Always,
    /// `GENERATED BY DEFAULT AS IDENTITY`
    ByDefault,
}

/// A type, resolved: arrays to their element type.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TypeRef {
    /// As `format_type` prints it.
    pub data_type: String,
    pub type_schema: String,
    pub type_name: String,
    pub type_kind: TypeKind,
    #[serde(default, skip_serializing_if = "is_false")]
    pub is_array: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FkAction {
    NoAction,
    Restrict,
    Cascade,
    SetNull,
    SetDefault,
}

impl FkAction {
    fn from_code(c: &str) -> FkAction {
        match c {
            "r" => FkAction::Restrict,
            "c" => FkAction::Cascade,
            "n" => FkAction::SetNull,
            "d" => FkAction::SetDefault,
            _ => FkAction::NoAction,
        }
    }

    /// As SQL writes it: `NO ACTION`, `CASCADE`, …
    pub fn sql(self) -> &'static str {
        match self {
            FkAction::NoAction => "NO ACTION",
            FkAction::Restrict => "RESTRICT",
            FkAction::Cascade => "CASCADE",
            FkAction::SetNull => "SET NULL",
            FkAction::SetDefault => "SET DEFAULT",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ForeignKey {
    pub name: String,
    /// Columns of this table, in key order.
    pub columns: Vec<String>,
    pub referenced_schema: String,
    pub referenced_table: String,
    /// Referenced columns, matching `columns` position by position.
    pub referenced_columns: Vec<String>,
    pub on_update: FkAction,
    pub on_delete: FkAction,
    /// The FK columns are exactly the columns of a primary key or a unique index (valid, not
    /// partial, no expressions) of this table: at most one row references each target row.
    pub one_to_one: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UniqueConstraint {
    pub name: String,
    pub columns: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckConstraint {
    pub name: String,
    /// The condition, as `psql \d` prints it: `price > 0::numeric` (domains: `VALUE > 0`).
    pub expression: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Index {
    pub name: String,
    /// Key columns: column names, or the expression for expression keys.
    pub columns: Vec<String>,
    /// `INCLUDE` columns.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub include: Vec<String>,
    /// `pg_get_indexdef`: the full `CREATE INDEX` statement.
    pub definition: String,
    pub unique: bool,
    pub primary: bool,
    /// False for an index a failed `CREATE INDEX CONCURRENTLY` left behind.
    pub valid: bool,
    /// The `WHERE` of a partial index.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub predicate: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PolicyCommand {
    All,
    Select,
    Insert,
    Update,
    Delete,
}

impl PolicyCommand {
    pub fn sql(self) -> &'static str {
        match self {
            PolicyCommand::All => "ALL",
            PolicyCommand::Select => "SELECT",
            PolicyCommand::Insert => "INSERT",
            PolicyCommand::Update => "UPDATE",
            PolicyCommand::Delete => "DELETE",
        }
    }
}

/// A row-level security policy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Policy {
    pub name: String,
    pub command: PolicyCommand,
    /// Role names, sorted; `public` for all roles.
    pub roles: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub using: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub with_check: Option<String>,
    /// False for `AS RESTRICTIVE`.
    pub permissive: bool,
}

/// A view or materialized view.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct View {
    pub schema: String,
    pub name: String,
    pub materialized: bool,
    pub columns: Vec<Column>,
    /// UPDATE and DELETE work through it (automatically updatable, or INSTEAD OF triggers or
    /// rules): `pg_relation_is_updatable`. Always false for materialized views.
    pub updatable: bool,
    /// INSERT works through it.
    pub insertable: bool,
    /// `WITH (security_invoker = on)`: the caller's privileges and RLS apply, not the owner's.
    pub security_invoker: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    /// The query (`pg_get_viewdef`, pretty).
    pub definition: String,
    /// Indexes of a materialized view.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub indexes: Vec<Index>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Enum {
    pub schema: String,
    pub name: String,
    /// In `enumsortorder` order.
    pub labels: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
}

/// A type made by `CREATE TYPE … AS (…)` (not the row types of tables and views).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CompositeType {
    pub schema: String,
    pub name: String,
    /// Attributes are always nullable: PostgreSQL has no NOT NULL on them.
    pub attributes: Vec<Column>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Domain {
    pub schema: String,
    pub name: String,
    /// The declared base type (`format_type`), e.g. `numeric(10,2)`, or another domain.
    pub data_type: String,
    /// The type beneath, followed through domains over domains.
    pub base: TypeRef,
    pub not_null: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default: Option<String>,
    /// This domain's own checks (those of a parent domain are on the parent).
    pub checks: Vec<CheckConstraint>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FunctionKind {
    Function,
    Procedure,
    Aggregate,
    Window,
}

impl FunctionKind {
    pub fn as_str(self) -> &'static str {
        match self {
            FunctionKind::Function => "function",
            FunctionKind::Procedure => "procedure",
            FunctionKind::Aggregate => "aggregate",
            FunctionKind::Window => "window",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ArgMode {
    In,
    Out,
    Inout,
    Variadic,
    /// A column of `RETURNS TABLE (…)`.
    Table,
}

impl ArgMode {
    fn from_code(c: &str) -> ArgMode {
        match c {
            "o" => ArgMode::Out,
            "b" => ArgMode::Inout,
            "v" => ArgMode::Variadic,
            "t" => ArgMode::Table,
            _ => ArgMode::In,
        }
    }

    /// True for arguments a caller passes.
    pub fn is_input(self) -> bool {
        matches!(self, ArgMode::In | ArgMode::Inout | ArgMode::Variadic)
    }

    /// True for arguments that are part of the result.
    pub fn is_output(self) -> bool {
        matches!(self, ArgMode::Out | ArgMode::Inout | ArgMode::Table)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Argument {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    pub mode: ArgMode,
    pub data_type: String,
    pub type_schema: String,
    pub type_name: String,
    pub type_kind: TypeKind,
    #[serde(default, skip_serializing_if = "is_false")]
    pub is_array: bool,
    pub has_default: bool,
    /// The default expression (`pg_get_function_arg_default`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Volatility {
    Immutable,
    Stable,
    Volatile,
}

/// A function, procedure, aggregate or window function (overloads are separate entries).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Function {
    pub schema: String,
    pub name: String,
    pub kind: FunctionKind,
    /// Every argument in declaration order, OUT and TABLE columns included.
    pub arguments: Vec<Argument>,
    /// `pg_get_function_identity_arguments`: what tells overloads apart, e.g. `a integer, b text`.
    pub identity_arguments: String,
    /// `pg_get_function_result`: `integer`, `SETOF orders`, `TABLE(id integer, name text)`;
    /// absent for procedures.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result: Option<String>,
    pub returns_set: bool,
    /// `prorettype`, resolved (`record` for RETURNS TABLE and several OUT arguments, `void`…).
    pub return_type: TypeRef,
    /// The result columns of `RETURNS TABLE (…)` or OUT/INOUT arguments.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub returns_table: Vec<Argument>,
    pub language: String,
    pub volatility: Volatility,
    pub security_definer: bool,
    /// `proconfig`: settings applied during the call, e.g. `search_path=public`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub config: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
}

impl Function {
    /// The input arguments as a signature reads: `a integer, b text DEFAULT 'x'::text`.
    pub fn signature(&self) -> String {
        self.arguments
            .iter()
            .filter(|a| a.mode.is_input() || a.mode == ArgMode::Out)
            .map(|a| {
                let mut s = match a.mode {
                    ArgMode::Out => "OUT ".to_string(),
                    ArgMode::Inout => "INOUT ".to_string(),
                    ArgMode::Variadic => "VARIADIC ".to_string(),
                    _ => String::new(),
                };
                if let Some(n) = &a.name {
                    s.push_str(n);
                    s.push(' ');
                }
                s.push_str(&a.data_type);
                if let Some(d) = &a.default {
                    s.push_str(" DEFAULT ");
                    s.push_str(d);
                }
                s
            })
            .collect::<Vec<_>>()
            .join(", ")
    }
}

fn is_false(b: &bool) -> bool {
    !*b
}

// ---------------------------------------------------------------------------------------------
// Queries. `$1` is always the schema list (`text[]`); `$2`, where present, one relation's OID
// (NULL = every relation).

/// Schemas that belong to an extension.
const EXT_SCHEMA: &str = "EXISTS (SELECT 1 FROM pg_depend d
    WHERE d.classid = 'pg_namespace'::regclass AND d.objid = n.oid AND d.deptype = 'e')";

const DEFAULT_SCHEMAS: &str = "
SELECT n.nspname::text
FROM pg_namespace n
WHERE n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast')
  AND n.nspname !~ '^pg_(toast_)?temp_'
  AND n.nspname <> ALL ($1::text[])
  AND NOT {EXT_SCHEMA}
ORDER BY n.nspname";

const ALL_SCHEMAS: &str = "
SELECT n.nspname::text
FROM pg_namespace n
WHERE n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast')
  AND n.nspname !~ '^pg_(toast_)?temp_'
ORDER BY n.nspname";

const TYPES: &str = "
SELECT t.oid, n.nspname::text, t.typname::text, t.typtype::text, t.typelem, t.typlen::int4,
       t.typbasetype,
       CASE WHEN t.typtype = 'd' THEN format_type(t.typbasetype, t.typtypmod) END
FROM pg_type t
JOIN pg_namespace n ON n.oid = t.typnamespace";

const RELATIONS: &str = "
SELECT c.oid, n.nspname::text, c.relname::text, c.relkind::text,
       CASE WHEN c.relkind = 'c' THEN obj_description(c.reltype, 'pg_type')
            ELSE obj_description(c.oid, 'pg_class') END,
       c.relrowsecurity, c.relforcerowsecurity,
       CASE WHEN c.reltuples < 0 THEN NULL ELSE c.reltuples::int8 END,
       coalesce(c.reloptions, '{}')::text[],
       CASE WHEN c.relkind = 'v' THEN pg_relation_is_updatable(c.oid, true) ELSE 0 END,
       CASE WHEN c.relkind IN ('v', 'm') THEN pg_get_viewdef(c.oid, true) END,
       CASE WHEN c.relkind = 'p' THEN pg_get_partkeydef(c.oid) END,
       pn.nspname::text, pc.relname::text,
       CASE WHEN c.relispartition THEN pg_get_expr(c.relpartbound, c.oid) END,
       pg_table_is_visible(c.oid)
FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace
LEFT JOIN pg_inherits i ON c.relispartition AND i.inhrelid = c.oid
LEFT JOIN pg_class pc ON pc.oid = i.inhparent
LEFT JOIN pg_namespace pn ON pn.oid = pc.relnamespace
WHERE n.nspname = ANY ($1::text[])
  AND c.relkind IN ('r', 'p', 'f', 'v', 'm', 'c')
  AND NOT EXISTS (
      SELECT 1 FROM pg_depend d
      WHERE d.deptype = 'e'
        AND ((d.classid = 'pg_class'::regclass AND d.objid = c.oid)
          OR (d.classid = 'pg_type'::regclass AND d.objid = c.reltype)))
ORDER BY n.nspname, c.relname";

/// Columns of every relation in the schemas (those of extension relations are dropped in Rust,
/// where they match no relation).
const COLUMNS: &str = "
SELECT a.attrelid, a.attnum::int4, a.attname::text, format_type(a.atttypid, a.atttypmod),
       a.atttypid, a.attndims::int4, a.attnotnull,
       CASE WHEN a.attgenerated = '' THEN pg_get_expr(ad.adbin, ad.adrelid) END,
       a.attidentity::text,
       CASE WHEN a.attgenerated <> '' THEN pg_get_expr(ad.adbin, ad.adrelid) END,
       col_description(a.attrelid, a.attnum)
FROM pg_attribute a
JOIN pg_class c ON c.oid = a.attrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
LEFT JOIN pg_attrdef ad ON ad.adrelid = a.attrelid AND ad.adnum = a.attnum
WHERE n.nspname = ANY ($1::text[])
  AND c.relkind IN ('r', 'p', 'f', 'v', 'm', 'c')
  AND a.attnum > 0 AND NOT a.attisdropped
  AND ($2::oid IS NULL OR a.attrelid = $2::oid)
ORDER BY a.attrelid, a.attnum";

/// Primary keys, unique, foreign key and check constraints. The FKs PostgreSQL adds for each
/// partition of a referenced partitioned table (children of an FK on the same table) are left
/// out: they are one FK.
const CONSTRAINTS: &str = "
SELECT co.conrelid, co.conname::text, co.contype::text,
       ARRAY(SELECT a.attname::text
             FROM unnest(co.conkey) WITH ORDINALITY k(attnum, ord)
             JOIN pg_attribute a ON a.attrelid = co.conrelid AND a.attnum = k.attnum
             ORDER BY k.ord),
       fn.nspname::text, fc.relname::text,
       ARRAY(SELECT a.attname::text
             FROM unnest(co.confkey) WITH ORDINALITY k(attnum, ord)
             JOIN pg_attribute a ON a.attrelid = co.confrelid AND a.attnum = k.attnum
             ORDER BY k.ord),
       co.confupdtype::text, co.confdeltype::text,
       CASE WHEN co.contype = 'c' THEN pg_get_expr(co.conbin, co.conrelid, true) END,
       co.contype = 'f' AND EXISTS (
           SELECT 1 FROM pg_index ui
           WHERE ui.indrelid = co.conrelid AND ui.indisunique AND ui.indisvalid
             AND ui.indpred IS NULL AND ui.indnkeyatts = cardinality(co.conkey)
             AND ARRAY(SELECT ui.indkey[k] FROM generate_series(0, ui.indnkeyatts - 1) k)
                 @> co.conkey
             AND ARRAY(SELECT ui.indkey[k] FROM generate_series(0, ui.indnkeyatts - 1) k)
                 <@ co.conkey)
FROM pg_constraint co
JOIN pg_class c ON c.oid = co.conrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
LEFT JOIN pg_class fc ON fc.oid = co.confrelid
LEFT JOIN pg_namespace fn ON fn.oid = fc.relnamespace
WHERE n.nspname = ANY ($1::text[])
  AND co.contype IN ('p', 'u', 'f', 'c')
  AND ($2::oid IS NULL OR co.conrelid = $2::oid)
  AND NOT (co.contype = 'f' AND EXISTS (
      SELECT 1 FROM pg_constraint pc WHERE pc.oid = co.conparentid AND pc.conrelid = co.conrelid))
ORDER BY co.conrelid, co.conname";

const INDEXES: &str = "
SELECT i.indrelid, ic.relname::text, i.indisunique, i.indisprimary, i.indisvalid,
       ARRAY(SELECT CASE WHEN i.indkey[k - 1] <> 0
                         THEN (SELECT a.attname::text FROM pg_attribute a
                               WHERE a.attrelid = i.indrelid AND a.attnum = i.indkey[k - 1])
                         ELSE pg_get_indexdef(i.indexrelid, k, true) END
             FROM generate_series(1, i.indnkeyatts) k ORDER BY k),
       ARRAY(SELECT pg_get_indexdef(i.indexrelid, k, true)
             FROM generate_series(i.indnkeyatts + 1, i.indnatts) k ORDER BY k),
       pg_get_indexdef(i.indexrelid),
       pg_get_expr(i.indpred, i.indrelid, true)
FROM pg_index i
JOIN pg_class ic ON ic.oid = i.indexrelid
JOIN pg_class c ON c.oid = i.indrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = ANY ($1::text[])
  AND ($2::oid IS NULL OR i.indrelid = $2::oid)
ORDER BY i.indrelid, ic.relname";

const POLICIES: &str = "
SELECT p.polrelid, p.polname::text, p.polcmd::text, p.polpermissive,
       ARRAY(SELECT CASE WHEN r.oid = 0 THEN 'public'
                         ELSE coalesce((SELECT ro.rolname::text FROM pg_roles ro WHERE ro.oid = r.oid),
                                       r.oid::text) END AS role
             FROM unnest(p.polroles) r(oid) ORDER BY 1),
       pg_get_expr(p.polqual, p.polrelid),
       pg_get_expr(p.polwithcheck, p.polrelid)
FROM pg_policy p
JOIN pg_class c ON c.oid = p.polrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = ANY ($1::text[])
  AND ($2::oid IS NULL OR p.polrelid = $2::oid)
ORDER BY p.polrelid, p.polname";

/// Types that belong to an extension.
const EXT_TYPE: &str = "EXISTS (SELECT 1 FROM pg_depend d
    WHERE d.classid = 'pg_type'::regclass AND d.objid = t.oid AND d.deptype = 'e')";

const ENUMS: &str = "
SELECT n.nspname::text, t.typname::text,
       ARRAY(SELECT e.enumlabel::text FROM pg_enum e WHERE e.enumtypid = t.oid ORDER BY e.enumsortorder),
       obj_description(t.oid, 'pg_type')
FROM pg_type t
JOIN pg_namespace n ON n.oid = t.typnamespace
WHERE t.typtype = 'e' AND n.nspname = ANY ($1::text[]) AND NOT {EXT_TYPE}
ORDER BY n.nspname, t.typname";

const DOMAINS: &str = "
SELECT n.nspname::text, t.typname::text, t.oid, format_type(t.typbasetype, t.typtypmod),
       t.typnotnull, t.typdefault,
       ARRAY(SELECT co.conname::text FROM pg_constraint co
             WHERE co.contypid = t.oid AND co.contype = 'c' ORDER BY co.conname),
       ARRAY(SELECT pg_get_expr(co.conbin, 0, true) FROM pg_constraint co
             WHERE co.contypid = t.oid AND co.contype = 'c' ORDER BY co.conname),
       obj_description(t.oid, 'pg_type')
FROM pg_type t
JOIN pg_namespace n ON n.oid = t.typnamespace
WHERE t.typtype = 'd' AND n.nspname = ANY ($1::text[]) AND NOT {EXT_TYPE}
ORDER BY n.nspname, t.typname";

const FUNCTIONS: &str = "
SELECT n.nspname::text, p.proname::text, p.prokind::text,
       coalesce(p.proallargtypes, p.proargtypes::oid[]),
       coalesce(p.proargmodes::text[], '{}'),
       coalesce(p.proargnames, '{}'),
       ARRAY(SELECT pg_get_function_arg_default(p.oid, g)
             FROM generate_series(1, coalesce(cardinality(p.proallargtypes), p.pronargs)) g
             ORDER BY g),
       pg_get_function_identity_arguments(p.oid),
       pg_get_function_result(p.oid),
       p.proretset, p.prorettype, format_type(p.prorettype, NULL),
       l.lanname::text, p.provolatile::text, p.prosecdef,
       coalesce(p.proconfig, '{}'),
       obj_description(p.oid, 'pg_proc'),
       ARRAY(SELECT format_type(u.t, NULL)
             FROM unnest(coalesce(p.proallargtypes, p.proargtypes::oid[])) WITH ORDINALITY u(t, ord)
             ORDER BY u.ord)
FROM pg_proc p
JOIN pg_namespace n ON n.oid = p.pronamespace
JOIN pg_language l ON l.oid = p.prolang
WHERE n.nspname = ANY ($1::text[])
  AND NOT EXISTS (SELECT 1 FROM pg_depend d
                  WHERE d.classid = 'pg_proc'::regclass AND d.objid = p.oid AND d.deptype = 'e')
ORDER BY n.nspname, p.proname, pg_get_function_identity_arguments(p.oid)";

// ---------------------------------------------------------------------------------------------

/// Describe the schema in a transaction of its own (`REPEATABLE READ READ ONLY`, rolled back):
/// every query sees the same snapshot. `client` must not be inside a transaction; use
/// [`describe_in_transaction`] there.
pub async fn describe(client: &Client, filter: &SchemaFilter) -> Result<SchemaModel> {
    client
        .batch_execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
        .await
        .map_err(|e| Error::db("starting the describe transaction", e))?;
    let result = describe_in_transaction(client, filter).await;
    let ended = client.batch_execute("ROLLBACK").await;
    let model = result?;
    ended.map_err(|e| Error::db("ending the describe transaction", e))?;
    Ok(model)
}

/// How much of each table to read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Detail {
    /// Everything.
    #[default]
    Full,
    /// What TypeScript rendering reads: no indexes and no RLS policies (`indexes` and
    /// `policies` stay empty). `pg_get_indexdef` per index is the slowest part of a full read.
    Types,
}

/// [`describe`] reading only `detail` (see [`Detail`]).
pub async fn describe_detail(
    client: &Client,
    filter: &SchemaFilter,
    detail: Detail,
) -> Result<SchemaModel> {
    client
        .batch_execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
        .await
        .map_err(|e| Error::db("starting the describe transaction", e))?;
    let result = describe_in_transaction_detail(client, filter, detail).await;
    let ended = client.batch_execute("ROLLBACK").await;
    let model = result?;
    ended.map_err(|e| Error::db("ending the describe transaction", e))?;
    Ok(model)
}

/// Describe the schema with whatever transaction `client` is in (none: each query sees its own
/// snapshot). Sends no transaction control.
pub async fn describe_in_transaction(
    client: &Client,
    filter: &SchemaFilter,
) -> Result<SchemaModel> {
    describe_in_transaction_detail(client, filter, Detail::Full).await
}

async fn describe_in_transaction_detail(
    client: &Client,
    filter: &SchemaFilter,
    detail: Detail,
) -> Result<SchemaModel> {
    let full = detail == Detail::Full;
    let wanted = filter.table.as_deref().map(TableName::parse).transpose()?;
    let schemas = select_schemas(client, filter, wanted.as_ref()).await?;

    let (types, relations) =
        futures_util::try_join!(load_types(client), load_relations(client, &schemas))?;

    // With a table filter, find it first: the per-relation queries then read only it.
    let only = match &wanted {
        Some(w) => Some(find_relation(&relations, w, &schemas)?.oid),
        None => None,
    };
    let whole = only.is_none();

    let (columns, constraints, indexes, policies, enums, domains, functions) = futures_util::try_join!(
        load_columns(client, &schemas, only, &types),
        load_constraints(client, &schemas, only),
        async {
            if full {
                load_indexes(client, &schemas, only).await
            } else {
                Ok(Vec::new())
            }
        },
        async {
            if full {
                load_policies(client, &schemas, only).await
            } else {
                Ok(Vec::new())
            }
        },
        async {
            if whole {
                load_enums(client, &schemas).await
            } else {
                Ok(Vec::new())
            }
        },
        async {
            if whole {
                load_domains(client, &schemas, &types).await
            } else {
                Ok(Vec::new())
            }
        },
        async {
            if whole {
                load_functions(client, &schemas, &types).await
            } else {
                Ok(Vec::new())
            }
        },
    )?;

    let mut model = SchemaModel {
        schemas,
        enums,
        domains,
        functions,
        ..SchemaModel::default()
    };
    assemble(
        &mut model,
        relations,
        only,
        Parts {
            columns,
            constraints,
            indexes,
            policies,
        },
    );
    Ok(model)
}

/// A `TABLE` argument: `name` or `schema.name`, parts optionally double-quoted.
#[derive(Debug, Clone, PartialEq, Eq)]
struct TableName {
    schema: Option<String>,
    name: String,
}

impl TableName {
    fn parse(s: &str) -> Result<TableName> {
        let s = s.trim();
        let mut parts = Vec::new();
        let mut current = String::new();
        let mut chars = s.chars().peekable();
        let mut quoted = false;
        while let Some(c) = chars.next() {
            match c {
                '"' if quoted && chars.peek() == Some(&'"') => {
                    chars.next();
                    current.push('"');
                }
                '"' => quoted = !quoted,
                '.' if !quoted => parts.push(std::mem::take(&mut current)),
                c => current.push(c),
            }
        }
        parts.push(current);
        let bad = || {
            Error::Refused(format!(
                "{s:?} is not a table name: write name or schema.name"
            ))
        };
        if quoted || parts.iter().any(|p| p.is_empty()) {
            return Err(bad());
        }
        match parts.as_slice() {
            [name] => Ok(TableName {
                schema: None,
                name: name.clone(),
            }),
            [schema, name] => Ok(TableName {
                schema: Some(schema.clone()),
                name: name.clone(),
            }),
            _ => Err(bad()),
        }
    }
}

async fn select_schemas(
    client: &Client,
    filter: &SchemaFilter,
    wanted: Option<&TableName>,
) -> Result<Vec<String>> {
    let explicit: Option<Vec<String>> = match wanted.and_then(|w| w.schema.clone()) {
        Some(s) => Some(vec![s]),
        None => filter.schemas.clone(),
    };
    match explicit {
        None => {
            let rows = client
                .query(
                    &DEFAULT_SCHEMAS.replace("{EXT_SCHEMA}", EXT_SCHEMA),
                    &[&filter.exclude],
                )
                .await
                .map_err(|e| Error::db("reading the schemas", e))?;
            Ok(rows.iter().map(|r| r.get(0)).collect())
        }
        Some(mut asked) => {
            let rows = client
                .query(ALL_SCHEMAS, &[])
                .await
                .map_err(|e| Error::db("reading the schemas", e))?;
            let existing: Vec<String> = rows.iter().map(|r| r.get(0)).collect();
            asked.sort();
            asked.dedup();
            for s in &asked {
                if !existing.contains(s) {
                    return Err(Error::Refused(format!(
                        "no schema {s:?}{}",
                        closest_hint(s, existing.iter().map(String::as_str))
                    )));
                }
            }
            Ok(asked)
        }
    }
}

/// One `pg_type` row.
#[derive(Debug, Clone)]
struct PgType {
    schema: String,
    name: String,
    typtype: String,
    elem: u32,
    len: i32,
    base: u32,
    /// For a domain: `format_type(typbasetype, typtypmod)`.
    base_formatted: Option<String>,
}

/// Every type in the database, by OID.
struct Types(HashMap<u32, PgType>);

impl Types {
    /// The element type of a true array (`typelem <> 0 AND typlen = -1`), else the type itself.
    fn element(&self, oid: u32) -> (u32, bool) {
        match self.0.get(&oid) {
            Some(t) if t.elem != 0 && t.len == -1 => (t.elem, true),
            _ => (oid, false),
        }
    }

    fn resolve(&self, oid: u32, data_type: String) -> TypeRef {
        let (elem, is_array) = self.element(oid);
        match self.0.get(&elem) {
            Some(t) => TypeRef {
                data_type,
                type_schema: t.schema.clone(),
                type_name: t.name.clone(),
                type_kind: TypeKind::from_typtype(&t.typtype),
                is_array,
            },
            None => TypeRef {
                type_schema: String::new(),
                type_name: data_type.clone(),
                data_type,
                type_kind: TypeKind::Base,
                is_array,
            },
        }
    }

    /// When `oid` (or its element type) is a domain: the type beneath, through domain chains.
    fn domain_base(&self, oid: u32) -> Option<TypeRef> {
        let (mut current, _) = self.element(oid);
        let mut found = None;
        // Domain chains are short; the bound only guards against a corrupt catalog.
        for _ in 0..64 {
            let t = self.0.get(&current)?;
            if t.typtype != "d" {
                break;
            }
            found = Some(self.resolve(t.base, t.base_formatted.clone().unwrap_or_default()));
            current = t.base;
        }
        found
    }
}

async fn load_types(client: &Client) -> Result<Types> {
    let rows = client
        .query(TYPES, &[])
        .await
        .map_err(|e| Error::db("reading the types", e))?;
    Ok(Types(
        rows.iter()
            .map(|r| {
                (
                    r.get::<_, u32>(0),
                    PgType {
                        schema: r.get(1),
                        name: r.get(2),
                        typtype: r.get(3),
                        elem: r.get(4),
                        len: r.get(5),
                        base: r.get(6),
                        base_formatted: r.get(7),
                    },
                )
            })
            .collect(),
    ))
}

/// One `pg_class` row of a table, view or composite type.
#[derive(Debug, Clone)]
struct Relation {
    oid: u32,
    schema: String,
    name: String,
    relkind: String,
    comment: Option<String>,
    rls_enabled: bool,
    rls_forced: bool,
    estimated_rows: Option<i64>,
    options: Vec<String>,
    updatable_mask: i32,
    definition: Option<String>,
    partition_key: Option<String>,
    parent: Option<(String, String)>,
    bound: Option<String>,
    visible: bool,
}

async fn load_relations(client: &Client, schemas: &[String]) -> Result<Vec<Relation>> {
    let rows = client
        .query(RELATIONS, &[&schemas])
        .await
        .map_err(|e| Error::db("reading tables and views", e))?;
    Ok(rows
        .iter()
        .map(|r| {
            let parent_schema: Option<String> = r.get(12);
            let parent_name: Option<String> = r.get(13);
            Relation {
                oid: r.get(0),
                schema: r.get(1),
                name: r.get(2),
                relkind: r.get(3),
                comment: r.get(4),
                rls_enabled: r.get(5),
                rls_forced: r.get(6),
                estimated_rows: r.get(7),
                options: r.get(8),
                updatable_mask: r.get(9),
                definition: r.get(10),
                partition_key: r.get(11),
                parent: parent_schema.zip(parent_name),
                bound: r.get(14),
                visible: r.get(15),
            }
        })
        .collect())
}

/// The relation a `TABLE` argument names (tables and views, not composite types).
fn find_relation<'a>(
    relations: &'a [Relation],
    wanted: &TableName,
    schemas: &[String],
) -> Result<&'a Relation> {
    let candidates: Vec<&Relation> = relations.iter().filter(|r| r.relkind != "c").collect();
    let matches: Vec<&Relation> = candidates
        .iter()
        .copied()
        .filter(|r| r.name == wanted.name)
        .collect();
    match matches.as_slice() {
        [one] => return Ok(one),
        [] => {}
        several => {
            let visible: Vec<&Relation> = several.iter().copied().filter(|r| r.visible).collect();
            if let [one] = visible.as_slice() {
                return Ok(one);
            }
            return Err(Error::Refused(format!(
                "table name {:?} is ambiguous: {}; write schema.name",
                wanted.name,
                several
                    .iter()
                    .map(|r| format!("{}.{}", r.schema, r.name))
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
        }
    }
    let names: Vec<String> = candidates
        .iter()
        .map(|r| format!("{}.{}", r.schema, r.name))
        .collect();
    let target = match &wanted.schema {
        Some(s) => format!("{s}.{}", wanted.name),
        None => wanted.name.clone(),
    };
    Err(Error::Refused(format!(
        "no table or view {target:?} in schema{} {}{}",
        if schemas.len() == 1 { "" } else { "s" },
        if schemas.is_empty() {
            "(none selected)".to_string()
        } else {
            schemas.join(", ")
        },
        if names.is_empty() {
            "; there are no tables or views there".to_string()
        } else {
            closest_hint(&wanted.name, names.iter().map(String::as_str))
        }
    )))
}

/// `; closest: a, b, c` — the three candidates nearest to `wanted` (containment first, then edit
/// distance on the unqualified, lower-cased name).
fn closest_hint<'a>(wanted: &str, candidates: impl Iterator<Item = &'a str>) -> String {
    let w = wanted.to_lowercase();
    let mut scored: Vec<(bool, usize, &str)> = candidates
        .map(|c| {
            let short = c.rsplit('.').next().unwrap_or(c).to_lowercase();
            let contains = short.contains(&w) || w.contains(&short);
            (!contains, edit_distance(&w, &short), c)
        })
        .collect();
    scored.sort();
    let best: Vec<&str> = scored.iter().take(3).map(|(_, _, c)| *c).collect();
    if best.is_empty() {
        String::new()
    } else {
        format!("; closest: {}", best.join(", "))
    }
}

/// Levenshtein distance over characters.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != *cb);
            cur[j + 1] = (prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

async fn load_columns(
    client: &Client,
    schemas: &[String],
    only: Option<u32>,
    types: &Types,
) -> Result<Vec<(u32, Column)>> {
    let rows = client
        .query(COLUMNS, &[&schemas, &only])
        .await
        .map_err(|e| Error::db("reading columns", e))?;
    Ok(rows.iter().map(|r| (r.get(0), column(r, types))).collect())
}

fn column(r: &Row, types: &Types) -> Column {
    let type_oid: u32 = r.get(4);
    let ty = types.resolve(type_oid, r.get(3));
    let dims: i32 = r.get(5);
    let identity: String = r.get(8);
    Column {
        name: r.get(2),
        ordinal: r.get(1),
        data_type: ty.data_type,
        type_schema: ty.type_schema,
        type_name: ty.type_name,
        type_kind: ty.type_kind,
        is_array: ty.is_array,
        array_dims: (ty.is_array && dims > 0).then_some(dims),
        nullable: !r.get::<_, bool>(6),
        default: r.get(7),
        identity: match identity.as_str() {
            "a" => Some(Identity::Always),
            "d" => Some(Identity::ByDefault),
            _ => None,
        },
        generated: r.get(9),
        comment: r.get(10),
        domain_base: types.domain_base(type_oid),
    }
}

/// One `pg_constraint` row of a table.
struct ConstraintRow {
    relid: u32,
    name: String,
    contype: String,
    columns: Vec<String>,
    ref_schema: Option<String>,
    ref_table: Option<String>,
    ref_columns: Vec<String>,
    on_update: String,
    on_delete: String,
    check: Option<String>,
    one_to_one: bool,
}

async fn load_constraints(
    client: &Client,
    schemas: &[String],
    only: Option<u32>,
) -> Result<Vec<ConstraintRow>> {
    let rows = client
        .query(CONSTRAINTS, &[&schemas, &only])
        .await
        .map_err(|e| Error::db("reading constraints", e))?;
    Ok(rows
        .iter()
        .map(|r| ConstraintRow {
            relid: r.get(0),
            name: r.get(1),
            contype: r.get(2),
            columns: r.get(3),
            ref_schema: r.get(4),
            ref_table: r.get(5),
            ref_columns: r.get(6),
            on_update: r.get(7),
            on_delete: r.get(8),
            check: r.get(9),
            one_to_one: r.get(10),
        })
        .collect())
}

async fn load_indexes(
    client: &Client,
    schemas: &[String],
    only: Option<u32>,
) -> Result<Vec<(u32, Index)>> {
    let rows = client
        .query(INDEXES, &[&schemas, &only])
        .await
        .map_err(|e| Error::db("reading indexes", e))?;
    Ok(rows
        .iter()
        .map(|r| {
            (
                r.get(0),
                Index {
                    name: r.get(1),
                    unique: r.get(2),
                    primary: r.get(3),
                    valid: r.get(4),
                    columns: r.get(5),
                    include: r.get(6),
                    definition: r.get(7),
                    predicate: r.get(8),
                },
            )
        })
        .collect())
}

async fn load_policies(
    client: &Client,
    schemas: &[String],
    only: Option<u32>,
) -> Result<Vec<(u32, Policy)>> {
    let rows = client
        .query(POLICIES, &[&schemas, &only])
        .await
        .map_err(|e| Error::db("reading row-level security policies", e))?;
    Ok(rows
        .iter()
        .map(|r| {
            let cmd: String = r.get(2);
            (
                r.get(0),
                Policy {
                    name: r.get(1),
                    command: match cmd.as_str() {
                        "r" => PolicyCommand::Select,
                        "a" => PolicyCommand::Insert,
                        "w" => PolicyCommand::Update,
                        "d" => PolicyCommand::Delete,
                        _ => PolicyCommand::All,
                    },
                    permissive: r.get(3),
                    roles: r.get(4),
                    using: r.get(5),
                    with_check: r.get(6),
                },
            )
        })
        .collect())
}

async fn load_enums(client: &Client, schemas: &[String]) -> Result<Vec<Enum>> {
    let rows = client
        .query(&ENUMS.replace("{EXT_TYPE}", EXT_TYPE), &[&schemas])
        .await
        .map_err(|e| Error::db("reading enums", e))?;
    Ok(rows
        .iter()
        .map(|r| Enum {
            schema: r.get(0),
            name: r.get(1),
            labels: r.get(2),
            comment: r.get(3),
        })
        .collect())
}

async fn load_domains(client: &Client, schemas: &[String], types: &Types) -> Result<Vec<Domain>> {
    let rows = client
        .query(&DOMAINS.replace("{EXT_TYPE}", EXT_TYPE), &[&schemas])
        .await
        .map_err(|e| Error::db("reading domains", e))?;
    Ok(rows
        .iter()
        .map(|r| {
            let oid: u32 = r.get(2);
            let data_type: String = r.get(3);
            let names: Vec<String> = r.get(6);
            let exprs: Vec<Option<String>> = r.get(7);
            Domain {
                schema: r.get(0),
                name: r.get(1),
                base: types
                    .domain_base(oid)
                    .unwrap_or_else(|| types.resolve(0, data_type.clone())),
                data_type,
                not_null: r.get(4),
                default: r.get(5),
                checks: names
                    .into_iter()
                    .zip(exprs)
                    .map(|(name, e)| CheckConstraint {
                        name,
                        expression: e.unwrap_or_default(),
                    })
                    .collect(),
                comment: r.get(8),
            }
        })
        .collect())
}

async fn load_functions(
    client: &Client,
    schemas: &[String],
    types: &Types,
) -> Result<Vec<Function>> {
    let rows = client
        .query(FUNCTIONS, &[&schemas])
        .await
        .map_err(|e| Error::db("reading functions", e))?;
    Ok(rows.iter().map(|r| function(r, types)).collect())
}

fn function(r: &Row, types: &Types) -> Function {
    let arg_types: Vec<u32> = r.get(3);
    let modes: Vec<String> = r.get(4);
    let names: Vec<String> = r.get(5);
    let defaults: Vec<Option<String>> = r.get(6);
    let formatted: Vec<String> = r.get(17);
    let arguments: Vec<Argument> = arg_types
        .iter()
        .enumerate()
        .map(|(i, oid)| {
            let mode = modes
                .get(i)
                .map(|m| ArgMode::from_code(m))
                .unwrap_or(ArgMode::In);
            let data_type = formatted.get(i).cloned().unwrap_or_default();
            let ty = types.resolve(*oid, data_type);
            let default = defaults.get(i).cloned().flatten();
            Argument {
                name: names.get(i).filter(|n| !n.is_empty()).cloned(),
                mode,
                data_type: ty.data_type,
                type_schema: ty.type_schema,
                type_name: ty.type_name,
                type_kind: ty.type_kind,
                is_array: ty.is_array,
                has_default: default.is_some(),
                default,
            }
        })
        .collect();
    let returns_table = arguments
        .iter()
        .filter(|a| a.mode.is_output())
        .cloned()
        .collect();
    let kind: String = r.get(2);
    let volatility: String = r.get(13);
    Function {
        schema: r.get(0),
        name: r.get(1),
        kind: match kind.as_str() {
            "p" => FunctionKind::Procedure,
            "a" => FunctionKind::Aggregate,
            "w" => FunctionKind::Window,
            _ => FunctionKind::Function,
        },
        arguments,
        identity_arguments: r.get(7),
        result: r.get(8),
        returns_set: r.get(9),
        return_type: types.resolve(r.get(10), r.get(11)),
        returns_table,
        language: r.get(12),
        volatility: match volatility.as_str() {
            "i" => Volatility::Immutable,
            "s" => Volatility::Stable,
            _ => Volatility::Volatile,
        },
        security_definer: r.get(14),
        config: r.get(15),
        comment: r.get(16),
    }
}

/// The per-relation rows, grouped onto their relations.
struct Parts {
    columns: Vec<(u32, Column)>,
    constraints: Vec<ConstraintRow>,
    indexes: Vec<(u32, Index)>,
    policies: Vec<(u32, Policy)>,
}

fn assemble(model: &mut SchemaModel, relations: Vec<Relation>, only: Option<u32>, parts: Parts) {
    let mut columns: HashMap<u32, Vec<Column>> = HashMap::new();
    for (relid, c) in parts.columns {
        columns.entry(relid).or_default().push(c);
    }
    let mut constraints: HashMap<u32, Vec<ConstraintRow>> = HashMap::new();
    for c in parts.constraints {
        constraints.entry(c.relid).or_default().push(c);
    }
    let mut indexes: HashMap<u32, Vec<Index>> = HashMap::new();
    for (relid, i) in parts.indexes {
        indexes.entry(relid).or_default().push(i);
    }
    let mut policies: HashMap<u32, Vec<Policy>> = HashMap::new();
    for (relid, p) in parts.policies {
        policies.entry(relid).or_default().push(p);
    }

    for rel in relations {
        if only.is_some_and(|o| o != rel.oid) {
            continue;
        }
        let cols = columns.remove(&rel.oid).unwrap_or_default();
        match rel.relkind.as_str() {
            "r" | "p" | "f" => {
                let mut table = Table {
                    kind: match rel.relkind.as_str() {
                        "p" => TableKind::PartitionedTable,
                        "f" => TableKind::ForeignTable,
                        _ => TableKind::Table,
                    },
                    schema: rel.schema,
                    name: rel.name,
                    comment: rel.comment,
                    columns: cols,
                    primary_key: Vec::new(),
                    foreign_keys: Vec::new(),
                    unique_constraints: Vec::new(),
                    check_constraints: Vec::new(),
                    indexes: indexes.remove(&rel.oid).unwrap_or_default(),
                    rls_enabled: rel.rls_enabled,
                    rls_forced: rel.rls_forced,
                    policies: policies.remove(&rel.oid).unwrap_or_default(),
                    estimated_rows: rel.estimated_rows,
                    partition_key: rel.partition_key,
                    partition_of: rel.parent.map(|(schema, name)| PartitionOf {
                        schema,
                        name,
                        bound: rel.bound.unwrap_or_default(),
                    }),
                };
                for c in constraints.remove(&rel.oid).unwrap_or_default() {
                    match c.contype.as_str() {
                        "p" => table.primary_key = c.columns,
                        "u" => table.unique_constraints.push(UniqueConstraint {
                            name: c.name,
                            columns: c.columns,
                        }),
                        "c" => table.check_constraints.push(CheckConstraint {
                            name: c.name,
                            expression: c.check.unwrap_or_default(),
                        }),
                        "f" => table.foreign_keys.push(ForeignKey {
                            name: c.name,
                            columns: c.columns,
                            referenced_schema: c.ref_schema.unwrap_or_default(),
                            referenced_table: c.ref_table.unwrap_or_default(),
                            referenced_columns: c.ref_columns,
                            on_update: FkAction::from_code(&c.on_update),
                            on_delete: FkAction::from_code(&c.on_delete),
                            one_to_one: c.one_to_one,
                        }),
                        _ => {}
                    }
                }
                model.tables.push(table);
            }
            "v" | "m" => {
                let materialized = rel.relkind == "m";
                // pg_relation_is_updatable: bit 2 = UPDATE, 3 = INSERT, 4 = DELETE.
                let mask = rel.updatable_mask;
                model.views.push(View {
                    schema: rel.schema,
                    name: rel.name,
                    materialized,
                    columns: cols,
                    updatable: !materialized && mask & 20 == 20,
                    insertable: !materialized && mask & 8 == 8,
                    security_invoker: option_is_on(&rel.options, "security_invoker"),
                    comment: rel.comment,
                    definition: rel.definition.unwrap_or_default(),
                    indexes: indexes.remove(&rel.oid).unwrap_or_default(),
                });
            }
            "c" => model.composite_types.push(CompositeType {
                schema: rel.schema,
                name: rel.name,
                attributes: cols,
                comment: rel.comment,
            }),
            _ => {}
        }
    }
}

/// A boolean reloption (`security_invoker=on`, `=true`, `=1`, `=yes`).
fn option_is_on(options: &[String], key: &str) -> bool {
    options.iter().any(|o| {
        o.split_once('=').is_some_and(|(k, v)| {
            k == key && matches!(v.to_ascii_lowercase().as_str(), "on" | "true" | "1" | "yes")
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_names_parse_with_quotes_and_schemas() {
        assert_eq!(
            TableName::parse("orders").unwrap(),
            TableName {
                schema: None,
                name: "orders".into()
            }
        );
        assert_eq!(
            TableName::parse("app.orders").unwrap(),
            TableName {
                schema: Some("app".into()),
                name: "orders".into()
            }
        );
        assert_eq!(
            TableName::parse("\"My Schema\".\"we.ird\"\"x\"").unwrap(),
            TableName {
                schema: Some("My Schema".into()),
                name: "we.ird\"x".into()
            }
        );
        for bad in ["a.b.c", "", "a.", "\"open"] {
            assert!(TableName::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn closest_names_come_first() {
        assert_eq!(edit_distance("ordrs", "orders"), 1);
        assert_eq!(edit_distance("", "abc"), 3);
        // Names containing the word first, then by edit distance.
        let hint = closest_hint(
            "order",
            [
                "public.users",
                "app.order_items",
                "public.x",
                "public.orders",
            ]
            .into_iter(),
        );
        assert_eq!(
            hint,
            "; closest: public.orders, app.order_items, public.users"
        );
        assert_eq!(closest_hint("x", std::iter::empty()), "");
    }

    #[test]
    fn reloptions_read_as_booleans() {
        let opts = vec!["security_invoker=on".to_string(), "fillfactor=70".into()];
        assert!(option_is_on(&opts, "security_invoker"));
        assert!(!option_is_on(&opts, "security_barrier"));
        assert!(option_is_on(
            &["security_invoker=true".into()],
            "security_invoker"
        ));
        assert!(!option_is_on(
            &["security_invoker=off".into()],
            "security_invoker"
        ));
    }
}
