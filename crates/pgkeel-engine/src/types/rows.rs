//! Row shapes: a column's TypeScript type and a relation's `{ column: T | null; … }` row, used
//! by tables and views (`relations`) and by functions that return rows (`functions`). Pure.

use crate::db::introspect::Column;

use super::mapping::{with_dims, PgType, Scope};
use super::ts::{locale_cmp, Member, Ty};

/// Columns as Supabase lists them: by name.
pub(crate) fn sorted(columns: &[Column]) -> Vec<&Column> {
    let mut v: Vec<&Column> = columns.iter().collect();
    v.sort_by(|a, b| locale_cmp(&a.name, &b.name));
    v
}

/// The type of a column's value, without `| null`.
pub(crate) fn column_type(scope: &Scope<'_>, c: &Column) -> Ty {
    let t = scope.map(PgType {
        schema: &c.type_schema,
        name: &c.type_name,
        kind: c.type_kind,
        domain_base: c.domain_base.as_ref(),
    });
    with_dims(t, c.is_array, c.array_dims)
}

pub(crate) fn null_if(t: Ty, nullable: bool) -> Ty {
    if nullable {
        t.nullable()
    } else {
        t
    }
}

/// `{ column: T | null; … }`, columns by name: a table's or view's row.
pub(crate) fn row(scope: &Scope<'_>, columns: &[Column]) -> Ty {
    row_with(scope, columns, Vec::new())
}

/// The row, then its computed fields (nullable); and `ComputedFields`: their names, or `never`.
pub(crate) fn row_with(scope: &Scope<'_>, columns: &[Column], computed: Vec<(String, Ty)>) -> Ty {
    let mut members: Vec<Member> = sorted(columns)
        .into_iter()
        .map(|c| Member::named(&c.name, false, null_if(column_type(scope, c), c.nullable)))
        .collect();
    members.extend(
        computed
            .into_iter()
            .map(|(name, t)| Member::named(&name, false, t.nullable())),
    );
    Ty::obj(members, true)
}
