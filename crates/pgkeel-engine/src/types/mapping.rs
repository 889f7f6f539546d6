//! PostgreSQL types → TypeScript types.

use std::collections::HashMap;

use crate::db::introspect::{Function, SchemaModel, TypeKind, TypeRef};

use super::ts::{quoted, Ty};

/// A PostgreSQL type as the mapping needs it: the underlying (element) type, and how it is used.
#[derive(Debug, Clone, Copy)]
pub(crate) struct PgType<'a> {
    pub schema: &'a str,
    pub name: &'a str,
    pub kind: TypeKind,
    /// For domains: the type beneath, when known (else looked up in the model).
    pub domain_base: Option<&'a TypeRef>,
}

/// What the mapping looks things up in.
pub(crate) struct Scope<'a> {
    pub model: &'a SchemaModel,
    /// The rendered schemas: references into other schemas cannot name `Database[…]`.
    pub schemas: &'a [String],
    /// Computed fields by (schema, relation): see [`super::functions::computed_index`].
    pub computed: HashMap<(&'a str, &'a str), Vec<&'a Function>>,
}

impl Scope<'_> {
    fn rendered(&self, schema: &str) -> bool {
        self.schemas.iter().any(|s| s == schema)
    }

    /// The TypeScript type of a value of `t` (an element type; the caller adds `[]` and `| null`).
    pub fn map(&self, t: PgType<'_>) -> Ty {
        match t.kind {
            TypeKind::Domain => {
                let base = t.domain_base.or_else(|| {
                    self.model
                        .domains
                        .iter()
                        .find(|d| d.schema == t.schema && d.name == t.name)
                        .map(|d| &d.base)
                });
                match base {
                    Some(b) if b.type_kind != TypeKind::Domain => {
                        let inner = self.map(PgType {
                            schema: &b.type_schema,
                            name: &b.type_name,
                            kind: b.type_kind,
                            domain_base: None,
                        });
                        with_dims(inner, b.is_array, None)
                    }
                    _ => Ty::raw("unknown"),
                }
            }
            TypeKind::Enum => self.enum_type(t.schema, t.name),
            TypeKind::Composite => self.composite(t.schema, t.name),
            TypeKind::Range | TypeKind::Multirange => Ty::raw("string"),
            TypeKind::Pseudo => Ty::raw(match t.name {
                "void" => "undefined",
                "record" => "Record<string, unknown>",
                _ => "unknown",
            }),
            TypeKind::Base => Ty::raw(base(t.name)),
        }
    }

    fn enum_type(&self, schema: &str, name: &str) -> Ty {
        if self.rendered(schema) {
            return Ty::raw(format!(
                "Database[{}][\"Enums\"][{}]",
                quoted(schema),
                quoted(name)
            ));
        }
        match self
            .model
            .enums
            .iter()
            .find(|e| e.schema == schema && e.name == name)
        {
            Some(e) if !e.labels.is_empty() => {
                Ty::Union(e.labels.iter().map(|l| Ty::raw(quoted(l))).collect())
            }
            _ => Ty::raw("string"),
        }
    }

    fn composite(&self, schema: &str, name: &str) -> Ty {
        if !self.rendered(schema) {
            return Ty::raw("unknown");
        }
        let m = self.model;
        let section = if m
            .composite_types
            .iter()
            .any(|c| c.schema == schema && c.name == name)
        {
            "CompositeTypes"
        } else if m.table(schema, name).is_some() {
            "Tables"
        } else if m.view(schema, name).is_some() {
            "Views"
        } else {
            return Ty::raw("unknown");
        };
        let relation = format!(
            "Database[{}][\"{section}\"][{}]",
            quoted(schema),
            quoted(name)
        );
        if section == "CompositeTypes" {
            Ty::raw(relation)
        } else if !self.computed.contains_key(&(schema, name)) {
            Ty::raw(format!("{relation}[\"Row\"]"))
        } else {
            // A row passed in: without the computed fields, which are not columns.
            Ty::raw(format!(
                "Omit<{relation}[\"Row\"], {relation}[\"ComputedFields\"]>"
            ))
        }
    }
}

/// Base types by `pg_type.typname`.
fn base(name: &str) -> &'static str {
    match name {
        "bool" => "boolean",
        "int2" | "int4" | "int8" | "float4" | "float8" | "numeric" | "oid" => "number",
        "json" | "jsonb" => "Json",
        "text" | "varchar" | "bpchar" | "char" | "name" | "citext" | "uuid" | "date" | "time"
        | "timetz" | "timestamp" | "timestamptz" | "interval" | "inet" | "cidr" | "macaddr"
        | "macaddr8" | "bytea" | "money" | "tsvector" | "tsquery" | "xml" | "bit" | "varbit"
        | "point" | "line" | "lseg" | "box" | "path" | "polygon" | "circle" | "vector"
        | "halfvec" | "sparsevec" | "ltree" | "lquery" | "regclass" | "regproc" | "regtype"
        | "pg_lsn" | "txid_snapshot" | "pg_snapshot" => "string",
        _ => "unknown",
    }
}

/// `T[]` once per array dimension.
pub(crate) fn with_dims(t: Ty, is_array: bool, dims: Option<i32>) -> Ty {
    if !is_array {
        return t;
    }
    let n = dims.unwrap_or(1).max(1);
    (0..n).fold(t, |t, _| t.array())
}
