//! TypeScript types for a database, in the shape `supabase gen types typescript` writes, so that
//! `createClient<Database>()` of supabase-js types `select`, `insert`, `update` and `rpc`.
//!
//! [`render`] is pure: the caller introspects ([`crate::db::introspect::describe`]) and writes
//! the file. The output is deterministic (names sorted as Supabase sorts them), laid out as
//! prettier lays out Supabase's output, and starts with a header naming the generator and a
//! fingerprint of the part of the model it was rendered from.
//!
//! - [`ts`]: the TypeScript type tree and its printer.
//! - [`mapping`]: PostgreSQL types → TypeScript types.
//! - [`relations`]: tables and views. [`functions`]: functions.
//! - [`helpers`]: header, `Json`, `Tables<>` & co.
//! - [`fingerprint`]: the sha256 of the rendered part of the model.
//!
//! Where the output differs from `supabase gen types`, and why: `docs/TYPES.md`.

mod fingerprint;
mod functions;
mod helpers;
mod mapping;
mod relations;
mod rows;
mod ts;

use crate::db::introspect::SchemaModel;

use mapping::Scope;
use ts::{locale_cmp, quoted, Member, Ty};

/// What to render.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RenderOptions {
    /// Schemas to render, in this order; empty = every schema in the model (sorted). A schema
    /// the model does not hold renders with empty sections.
    pub schemas: Vec<String>,
    /// Names the generator in the header, e.g. "pgkeel 0.1.0".
    pub generator: String,
}

/// A rendered `database.types.ts`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    /// The TypeScript source.
    pub text: String,
    /// sha256 (hex) of a canonical JSON of the rendered part of the model.
    pub fingerprint: String,
}

/// Renders the TypeScript types of `model`.
pub fn render(model: &SchemaModel, opts: &RenderOptions) -> Rendered {
    let schemas: Vec<String> = if opts.schemas.is_empty() {
        let mut s = model.schemas.clone();
        s.sort_by(|a, b| locale_cmp(a, b));
        s
    } else {
        let mut s: Vec<String> = Vec::new();
        for name in &opts.schemas {
            if !s.contains(name) {
                s.push(name.clone());
            }
        }
        s
    };
    let fingerprint = fingerprint::fingerprint(model, &schemas);
    let scope = Scope {
        model,
        schemas: &schemas,
        computed: functions::computed_index(model, &schemas),
    };

    let database = Ty::obj(
        schemas
            .iter()
            .map(|s| Member::named(s, false, schema(&scope, s)))
            .collect(),
        true,
    );
    let mut text = helpers::header(&opts.generator, &fingerprint);
    text.push('\n');
    text.push_str(helpers::JSON);
    text.push('\n');
    text.push_str("export type Database = ");
    text.push_str(&database.print(0, "export type Database = ".len()));
    text.push_str("\n\n");
    text.push_str(helpers::HELPERS);
    text.push('\n');
    text.push_str(&constants(model, &schemas));
    Rendered { text, fingerprint }
}

/// `Never` for an empty section, as Supabase writes it.
fn section(members: Vec<Member>) -> Ty {
    if members.is_empty() {
        Ty::Never
    } else {
        Ty::obj(members, true)
    }
}

fn by_name<'a, T>(items: impl Iterator<Item = &'a T>, name: impl Fn(&T) -> &str) -> Vec<&'a T>
where
    T: 'a,
{
    let mut v: Vec<&T> = items.collect();
    v.sort_by(|a, b| locale_cmp(name(a), name(b)));
    v
}

fn schema(scope: &Scope<'_>, s: &str) -> Ty {
    let m = scope.model;
    let tables = by_name(m.tables.iter().filter(|t| t.schema == s), |t| &t.name)
        .into_iter()
        .map(|t| Member::named(&t.name, false, relations::table(scope, t)))
        .collect();
    let views = by_name(m.views.iter().filter(|v| v.schema == s), |v| &v.name)
        .into_iter()
        .map(|v| Member::named(&v.name, false, relations::view(scope, v)))
        .collect();
    let functions = functions::functions(scope, s)
        .into_iter()
        .map(|(name, overloads)| Member::named(name, false, functions::function(scope, &overloads)))
        .collect();
    let enums = by_name(m.enums.iter().filter(|e| e.schema == s), |e| &e.name)
        .into_iter()
        .map(|e| {
            let ty = if e.labels.is_empty() {
                Ty::raw("never")
            } else {
                Ty::Union(e.labels.iter().map(|l| Ty::raw(quoted(l))).collect())
            };
            Member::named(&e.name, false, ty)
        })
        .collect();
    let composites = by_name(m.composite_types.iter().filter(|c| c.schema == s), |c| {
        &c.name
    })
    .into_iter()
    .map(|c| {
        let attrs = c
            .attributes
            .iter()
            .map(|a| Member::named(&a.name, false, rows::column_type(scope, a).nullable()))
            .collect();
        Member::named(&c.name, false, Ty::obj(attrs, true))
    })
    .collect();
    Ty::obj(
        vec![
            Member::fixed("Tables", section(tables)),
            Member::fixed("Views", section(views)),
            Member::fixed("Functions", section(functions)),
            Member::fixed("Enums", section(enums)),
            Member::fixed("CompositeTypes", section(composites)),
        ],
        true,
    )
}

/// Keys of one object literal: unquoted unless one of them needs quotes.
fn keys<'a>(names: impl Iterator<Item = &'a str> + Clone) -> impl Fn(&str) -> String {
    let quote = names.clone().any(|n| !ts::is_identifier(n));
    move |n: &str| if quote { quoted(n) } else { n.to_string() }
}

/// `export const Constants = { schema: { Enums: { name: ["a", "b"] } } } as const`.
fn constants(model: &SchemaModel, schemas: &[String]) -> String {
    let mut out = String::from("export const Constants = {\n");
    let schema_key = keys(schemas.iter().map(String::as_str));
    for s in schemas {
        out.push_str(&format!("  {}: {{\n", schema_key(s)));
        let enums = by_name(model.enums.iter().filter(|e| e.schema == *s), |e| &e.name);
        if enums.is_empty() {
            out.push_str("    Enums: {},\n");
        } else {
            out.push_str("    Enums: {\n");
            let enum_key = keys(enums.iter().map(|e| e.name.as_str()));
            for e in &enums {
                let key = enum_key(&e.name);
                let labels: Vec<String> = e.labels.iter().map(|l| quoted(l)).collect();
                let flat = format!("[{}]", labels.join(", "));
                if 6 + key.len() + 2 + flat.len() < 80 {
                    out.push_str(&format!("      {key}: {flat},\n"));
                } else {
                    out.push_str(&format!("      {key}: [\n"));
                    for l in &labels {
                        out.push_str(&format!("        {l},\n"));
                    }
                    out.push_str("      ],\n");
                }
            }
            out.push_str("    },\n");
        }
        out.push_str("  },\n");
    }
    out.push_str("} as const\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_model_renders_a_valid_file() {
        let r = render(&SchemaModel::default(), &RenderOptions::default());
        assert!(r.text.contains("export type Database = {}\n"), "{}", r.text);
        assert!(r.text.contains("export const Constants = {\n} as const\n"));
        assert!(r
            .text
            .contains(&format!("// fingerprint: sha256:{}", r.fingerprint)));
        assert!(r.text.starts_with("// Generated by pgkeel "));
    }

    #[test]
    fn schemas_in_the_order_given_without_duplicates() {
        let opts = RenderOptions {
            schemas: vec!["b".into(), "a".into(), "b".into()],
            generator: "pgkeel 0.1.0".into(),
        };
        let r = render(&SchemaModel::default(), &opts);
        let b = r.text.find("  b: {").expect("b");
        let a = r.text.find("  a: {").expect("a");
        assert!(b < a);
        assert_eq!(
            r.text.matches("  b: {").count(),
            2,
            "once in Database, once in Constants"
        );
        assert!(r
            .text
            .contains("    Tables: {\n      [_ in never]: never\n    }"));
        assert!(r.text.starts_with("// Generated by pgkeel 0.1.0 "));
    }
}
