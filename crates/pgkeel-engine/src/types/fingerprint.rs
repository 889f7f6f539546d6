//! The fingerprint: sha256 of a canonical JSON (keys sorted, no spaces) of exactly what the
//! rendering reads from the model, for the rendered schemas. Comments, indexes, policies,
//! checks and the like do not change it; any change to a rendered type does.

use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use crate::db::introspect::{Argument, Column, SchemaModel};

pub(crate) fn fingerprint(model: &SchemaModel, schemas: &[String]) -> String {
    let canonical = canonical(&projection(model, schemas));
    hex::encode(Sha256::digest(canonical.as_bytes()))
}

fn v<T: serde::Serialize>(x: &T) -> Value {
    serde_json::to_value(x).unwrap_or(Value::Null)
}

fn column(c: &Column) -> Value {
    json!({
        "name": c.name,
        "type": [c.type_schema, c.type_name, v(&c.type_kind)],
        "array": [c.is_array, c.array_dims],
        "nullable": c.nullable,
        "default": c.default.is_some(),
        "identity": v(&c.identity),
        "generated": c.generated.is_some(),
        "domain_base": v(&c.domain_base),
    })
}

fn argument(a: &Argument) -> Value {
    json!({
        "name": a.name,
        "mode": v(&a.mode),
        "type": [a.type_schema, a.type_name, v(&a.type_kind), a.is_array],
        "has_default": a.has_default,
    })
}

fn projection(m: &SchemaModel, schemas: &[String]) -> Value {
    let inside = |s: &str| schemas.iter().any(|x| x == s);
    json!({
        "schemas": schemas,
        "tables": m.tables.iter().filter(|t| inside(&t.schema)).map(|t| json!({
            "schema": t.schema,
            "name": t.name,
            "columns": t.columns.iter().map(column).collect::<Vec<_>>(),
            "foreign_keys": t.foreign_keys.iter().map(|f| json!({
                "name": f.name,
                "columns": f.columns,
                "referenced": [f.referenced_schema, f.referenced_table],
                "referenced_columns": f.referenced_columns,
                "one_to_one": f.one_to_one,
            })).collect::<Vec<_>>(),
        })).collect::<Vec<_>>(),
        "views": m.views.iter().filter(|x| inside(&x.schema)).map(|x| json!({
            "schema": x.schema,
            "name": x.name,
            "materialized": x.materialized,
            "updatable": x.updatable,
            "insertable": x.insertable,
            "columns": x.columns.iter().map(column).collect::<Vec<_>>(),
        })).collect::<Vec<_>>(),
        // Enums and composites outside the rendered schemas can be inlined into them.
        "enums": m.enums.iter().map(|e| json!([e.schema, e.name, e.labels])).collect::<Vec<_>>(),
        "composite_types": m.composite_types.iter().map(|c| json!({
            "schema": c.schema,
            "name": c.name,
            "attributes": c.attributes.iter().map(column).collect::<Vec<_>>(),
        })).collect::<Vec<_>>(),
        "domains": m.domains.iter().map(|d| json!([d.schema, d.name, v(&d.base)])).collect::<Vec<_>>(),
        "functions": m.functions.iter().filter(|f| inside(&f.schema)).map(|f| json!({
            "schema": f.schema,
            "name": f.name,
            "kind": v(&f.kind),
            "arguments": f.arguments.iter().map(argument).collect::<Vec<_>>(),
            "returns_set": f.returns_set,
            "return_type": v(&f.return_type),
            "returns_table": f.returns_table.iter().map(argument).collect::<Vec<_>>(),
        })).collect::<Vec<_>>(),
    })
}

/// JSON with object keys sorted, whatever map type serde_json was built with.
fn canonical(value: &Value) -> String {
    match value {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            let body: Vec<String> = keys
                .into_iter()
                .map(|k| format!("{}:{}", Value::String(k.clone()), canonical(&map[k])))
                .collect();
            format!("{{{}}}", body.join(","))
        }
        Value::Array(items) => {
            format!(
                "[{}]",
                items.iter().map(canonical).collect::<Vec<_>>().join(",")
            )
        }
        other => other.to_string(),
    }
}
