//! Tables and views: `Row`, `Insert`, `Update`, `Relationships`.

use crate::db::introspect::{Column, Identity, Table, View};

use super::functions::computed_fields;
use super::mapping::Scope;
use super::rows::{column_type, null_if, row_with, sorted};
use super::ts::{locale_cmp, quoted, Member, Ty};

fn row_and_computed(
    scope: &Scope<'_>,
    schema: &str,
    name: &str,
    columns: &[Column],
) -> [Member; 2] {
    let computed = computed_fields(scope, schema, name);
    let names = if computed.is_empty() {
        Ty::raw("never")
    } else {
        Ty::Union(computed.iter().map(|(n, _)| Ty::raw(quoted(n))).collect())
    };
    [
        Member::fixed("Row", row_with(scope, columns, computed)),
        Member::fixed("ComputedFields", names),
    ]
}

/// Never written by clients: `GENERATED ALWAYS` identity and generated columns.
fn never_written(c: &Column) -> bool {
    c.identity == Some(Identity::Always) || c.generated.is_some()
}

pub(crate) fn table(scope: &Scope<'_>, t: &Table) -> Ty {
    let cols = sorted(&t.columns);
    let insert = cols
        .iter()
        .map(|c| {
            if never_written(c) {
                return Member::named(&c.name, true, Ty::raw("never"));
            }
            let optional = c.nullable || c.default.is_some() || c.identity.is_some();
            Member::named(
                &c.name,
                optional,
                null_if(column_type(scope, c), c.nullable),
            )
        })
        .collect();
    let update = cols
        .iter()
        .map(|c| {
            if never_written(c) {
                return Member::named(&c.name, true, Ty::raw("never"));
            }
            Member::named(&c.name, true, null_if(column_type(scope, c), c.nullable))
        })
        .collect();
    let [row_member, computed_member] = row_and_computed(scope, &t.schema, &t.name, &t.columns);
    Ty::obj(
        vec![
            row_member,
            computed_member,
            Member::fixed("Insert", Ty::obj(insert, true)),
            Member::fixed("Update", Ty::obj(update, true)),
            Member::fixed("Relationships", relationships(t)),
        ],
        true,
    )
}

/// Foreign keys to tables of the same schema (the ones PostgREST can embed), sorted as Supabase
/// sorts them: by constraint name, then referenced table, then referenced columns.
fn relationships(t: &Table) -> Ty {
    let mut fks: Vec<_> = t
        .foreign_keys
        .iter()
        .filter(|f| f.referenced_schema == t.schema)
        .collect();
    fks.sort_by(|a, b| {
        locale_cmp(&a.name, &b.name)
            .then_with(|| locale_cmp(&a.referenced_table, &b.referenced_table))
            .then_with(|| locale_cmp(&json(&a.referenced_columns), &json(&b.referenced_columns)))
    });
    let list = |cols: &[String]| Ty::Tuple(cols.iter().map(|c| Ty::raw(quoted(c))).collect());
    Ty::Tuple(
        fks.into_iter()
            .map(|f| {
                Ty::obj(
                    vec![
                        Member::fixed("foreignKeyName", Ty::raw(quoted(&f.name))),
                        Member::fixed("columns", list(&f.columns)),
                        Member::fixed("isOneToOne", Ty::raw(f.one_to_one.to_string())),
                        Member::fixed("referencedRelation", Ty::raw(quoted(&f.referenced_table))),
                        Member::fixed("referencedColumns", list(&f.referenced_columns)),
                    ],
                    true,
                )
            })
            .collect(),
    )
}

fn json(v: &[String]) -> String {
    serde_json::to_string(v).unwrap_or_default()
}

/// A view: `Row`, and for views PostgreSQL can write through, `Insert` / `Update` with every
/// column optional and nullable (PostgreSQL does not say which view columns are not null).
pub(crate) fn view(scope: &Scope<'_>, v: &View) -> Ty {
    let cols = sorted(&v.columns);
    let writable = || {
        let members = cols
            .iter()
            .map(|c| Member::named(&c.name, true, column_type(scope, c).nullable()))
            .collect();
        Ty::obj(members, true)
    };
    let mut members = Vec::from(row_and_computed(scope, &v.schema, &v.name, &v.columns));
    if !v.materialized && v.insertable {
        members.push(Member::fixed("Insert", writable()));
    }
    if !v.materialized && v.updatable {
        members.push(Member::fixed("Update", writable()));
    }
    members.push(Member::fixed("Relationships", Ty::Tuple(Vec::new())));
    Ty::obj(members, true)
}
