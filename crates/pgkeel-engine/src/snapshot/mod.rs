//! Rollback snapshots: the exact catalog definitions of what a migration touches, recorded inside
//! its transaction before its statements run (see [`crate::db::snapshot`]), and the pure logic
//! over them.
//!
//! - [`objects`]: which objects a migration's statements name (over squawk's syntax tree) and
//!   what no snapshot can undo (DO blocks, function calls, data changed without a backup, …).
//! - [`compare`]: the differences between two snapshots (a rollback's verification).
//! - [`inverse`]: the down SQL that turns the current state back into the snapshot.
//!
//! The model mirrors the JSON the snapshot query builds; every optional field is omitted when
//! empty, so a snapshot stays small.

pub mod compare;
pub mod inverse;
pub mod objects;

use serde::{Deserialize, Serialize};

/// What the snapshot query is asked for: a relation (table, view, materialized view, sequence;
/// an index name stands for its table), the functions of a name, or a type.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Key {
    /// `rel`, `func` or `type`.
    pub kind: String,
    /// `None` (only before resolution): found through `search_path` at snapshot time.
    #[serde(default)]
    pub schema: Option<String>,
    pub name: String,
}

impl Key {
    pub fn new(kind: &str, schema: Option<String>, name: String) -> Key {
        Key {
            kind: kind.into(),
            schema,
            name,
        }
    }
}

/// One migration's snapshot: the keys (schemas resolved) and the objects they found. A key that
/// found nothing records the object's absence.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Snapshot {
    #[serde(default)]
    pub keys: Vec<Key>,
    #[serde(default)]
    pub relations: Vec<Relation>,
    #[serde(default)]
    pub functions: Vec<Function>,
    #[serde(default)]
    pub types: Vec<TypeDef>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Relation {
    pub oid: i64,
    pub schema: String,
    pub name: String,
    /// pg_class.relkind: r, p, v, m, S, f.
    pub kind: String,
    #[serde(default)]
    pub owner: String,
    #[serde(default)]
    pub options: Vec<String>,
    #[serde(default)]
    pub rls: bool,
    #[serde(default)]
    pub force_rls: bool,
    /// aclitems, sorted; the default privileges when the catalog holds NULL.
    #[serde(default)]
    pub acl: Vec<String>,
    #[serde(default)]
    pub comment: Option<String>,
    /// Views and materialized views: `pg_get_viewdef`.
    #[serde(default)]
    pub view: Option<String>,
    #[serde(default)]
    pub columns: Vec<Column>,
    #[serde(default)]
    pub constraints: Vec<Named>,
    #[serde(default)]
    pub indexes: Vec<Named>,
    #[serde(default)]
    pub triggers: Vec<Trigger>,
    #[serde(default)]
    pub policies: Vec<Policy>,
    #[serde(default)]
    pub sequence: Option<SequenceDef>,
    /// A sequence's value when the snapshot was taken: `last_value` as text, `uncalled` before
    /// the first `nextval`, `unreadable` without SELECT or USAGE on it; `None` in snapshots
    /// from before it was recorded. Used to re-create a dropped sequence, never compared
    /// (a rollback puts sequences past the restored keys instead).
    #[serde(default)]
    pub seq_value: Option<String>,
    /// A materialized view that was created or refreshed `WITH NO DATA`.
    #[serde(default)]
    pub unpopulated: bool,
    /// A sequence owned by a table's column (`serial`, `OWNED BY`): dropped with the table, and
    /// owned by it again when a rollback re-creates both.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owned_by: Option<OwnedBy>,
}

/// The column a sequence belongs to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OwnedBy {
    pub schema: String,
    pub table: String,
    pub column: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Column {
    /// attnum: identifies a column across a rename; not compared (a re-added column gets a new one).
    pub num: i32,
    pub name: String,
    #[serde(rename = "type")]
    pub type_name: String,
    #[serde(default)]
    pub not_null: bool,
    /// The default, or the generation expression of a generated column.
    #[serde(default)]
    pub default: Option<String>,
    /// `a` (always) or `d` (by default).
    #[serde(default)]
    pub identity: Option<String>,
    /// `s` (stored).
    #[serde(default)]
    pub generated: Option<String>,
    #[serde(default)]
    pub collation: Option<String>,
    #[serde(default)]
    pub comment: Option<String>,
    #[serde(default)]
    pub acl: Vec<String>,
}

/// A constraint (`type`: p, u, f, c, x, t) or an index, with its definition.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Named {
    pub name: String,
    #[serde(default, rename = "type")]
    pub kind: String,
    pub def: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Trigger {
    pub name: String,
    pub def: String,
    /// pg_trigger.tgenabled: O, D, R, A.
    pub enabled: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Policy {
    pub name: String,
    pub permissive: bool,
    /// pg_policy.polcmd: r, a, w, d, *.
    pub cmd: String,
    /// Role names, quoted as identifiers (`public` for PUBLIC), sorted.
    #[serde(default)]
    pub roles: Vec<String>,
    #[serde(default, rename = "using")]
    pub using_expr: Option<String>,
    #[serde(default)]
    pub check: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SequenceDef {
    #[serde(rename = "type")]
    pub type_name: String,
    pub start: String,
    pub increment: String,
    pub min: String,
    pub max: String,
    pub cache: String,
    pub cycle: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Function {
    pub oid: i64,
    pub schema: String,
    pub name: String,
    /// `pg_get_function_identity_arguments`.
    pub args: String,
    /// f (function) or p (procedure).
    pub kind: String,
    #[serde(default)]
    pub owner: String,
    /// `pg_get_functiondef`.
    pub def: String,
    #[serde(default)]
    pub acl: Vec<String>,
    #[serde(default)]
    pub comment: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TypeDef {
    pub oid: i64,
    pub schema: String,
    pub name: String,
    /// pg_type.typtype: e (enum), c, d, r, …
    pub kind: String,
    #[serde(default)]
    pub labels: Vec<String>,
    #[serde(default)]
    pub comment: Option<String>,
    /// A domain's base type (`format_type`), with its collation when not the base type's.
    #[serde(default)]
    pub base: Option<String>,
    #[serde(default)]
    pub not_null: bool,
    #[serde(default)]
    pub default: Option<String>,
    /// A domain's CHECK constraints (`pg_get_constraintdef`), by name.
    #[serde(default)]
    pub checks: Vec<Named>,
    /// A composite type's attributes (standalone composites only: a table's row type is the
    /// table's).
    #[serde(default)]
    pub attributes: Vec<Column>,
}

impl Relation {
    pub fn qualified(&self) -> String {
        qualified(&self.schema, &self.name)
    }

    /// The keyword of ALTER/DROP/COMMENT for this kind.
    pub fn keyword(&self) -> &'static str {
        match self.kind.as_str() {
            "v" => "VIEW",
            "m" => "MATERIALIZED VIEW",
            "S" => "SEQUENCE",
            "f" => "FOREIGN TABLE",
            _ => "TABLE",
        }
    }

    /// Whether the key names this relation (by name, or through one of its indexes).
    fn matches(&self, k: &Key) -> bool {
        k.kind == "rel"
            && k.schema.as_deref() == Some(self.schema.as_str())
            && (k.name == self.name
                || self.indexes.iter().any(|i| i.name == k.name)
                || self
                    .constraints
                    .iter()
                    .any(|c| c.name == k.name && (c.kind == "p" || c.kind == "u" || c.kind == "x")))
    }
}

impl Function {
    pub fn signature(&self) -> String {
        format!("{}({})", qualified(&self.schema, &self.name), self.args)
    }
}

impl TypeDef {
    pub fn qualified(&self) -> String {
        qualified(&self.schema, &self.name)
    }
}

impl Snapshot {
    /// Parse a stored snapshot.
    pub fn from_json(v: &serde_json::Value) -> Result<Snapshot, String> {
        Snapshot::deserialize(v).map_err(|e| format!("the stored snapshot cannot be read ({e})"))
    }

    /// The part of `self` (a state) that `keys` name, or that has the oid of an object of
    /// `by_oid` (a renamed object).
    pub fn scoped(&self, keys: &[Key], by_oid: &Snapshot) -> Snapshot {
        let rel_oids: Vec<i64> = by_oid.relations.iter().map(|r| r.oid).collect();
        let fn_oids: Vec<i64> = by_oid.functions.iter().map(|f| f.oid).collect();
        let ty_oids: Vec<i64> = by_oid.types.iter().map(|t| t.oid).collect();
        Snapshot {
            keys: keys.to_vec(),
            relations: self
                .relations
                .iter()
                .filter(|r| rel_oids.contains(&r.oid) || keys.iter().any(|k| r.matches(k)))
                .cloned()
                .collect(),
            functions: self
                .functions
                .iter()
                .filter(|f| {
                    fn_oids.contains(&f.oid)
                        || keys.iter().any(|k| {
                            k.kind == "func"
                                && k.schema.as_deref() == Some(f.schema.as_str())
                                && k.name == f.name
                        })
                })
                .cloned()
                .collect(),
            types: self
                .types
                .iter()
                .filter(|t| {
                    ty_oids.contains(&t.oid)
                        || keys.iter().any(|k| {
                            k.kind == "type"
                                && k.schema.as_deref() == Some(t.schema.as_str())
                                && k.name == t.name
                        })
                })
                .cloned()
                .collect(),
        }
    }

    /// The state after undoing a migration whose snapshot is `before`: what `before`'s keys
    /// name is replaced by `before`'s objects.
    pub fn undo(&self, before: &Snapshot) -> Snapshot {
        let gone = self.scoped(&before.keys, before);
        let mut out = self.clone();
        out.relations.retain(|r| !gone.relations.contains(r));
        out.functions.retain(|f| !gone.functions.contains(f));
        out.types.retain(|t| !gone.types.contains(t));
        out.relations.extend(before.relations.iter().cloned());
        out.functions.extend(before.functions.iter().cloned());
        out.types.extend(before.types.iter().cloned());
        for k in &before.keys {
            if !out.keys.contains(k) {
                out.keys.push(k.clone());
            }
        }
        out
    }
}

/// `"schema"."name"` quoted as needed.
pub fn qualified(schema: &str, name: &str) -> String {
    format!("{}.{}", crate::db::ident(schema), crate::db::ident(name))
}
