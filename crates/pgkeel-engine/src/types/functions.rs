//! Functions: `{ Args; Returns }`, overloads as a union.

use std::collections::HashMap;

use crate::db::introspect::{ArgMode, Argument, Function, FunctionKind, SchemaModel, TypeKind};

use super::mapping::{with_dims, PgType, Scope};
use super::rows::row;
use super::ts::{locale_cmp, quoted, Member, Ty};

/// The functions of `schema` a client can call through PostgREST's `rpc`, grouped by name
/// (sorted as Supabase sorts them), overloads in the model's order.
pub(crate) fn functions<'a>(scope: &Scope<'a>, schema: &str) -> Vec<(&'a str, Vec<&'a Function>)> {
    let mut fns: Vec<&Function> = scope
        .model
        .functions
        .iter()
        .filter(|f| f.schema == schema && callable(f))
        .collect();
    fns.sort_by(|a, b| locale_cmp(&a.name, &b.name));
    let mut groups: Vec<(&str, Vec<&Function>)> = Vec::new();
    for f in fns {
        match groups.last_mut() {
            Some((name, v)) if *name == f.name => v.push(f),
            _ => groups.push((&f.name, vec![f])),
        }
    }
    groups
}

/// Plain functions (no procedures, aggregates, window functions, trigger functions), whose
/// input arguments are all named or which take a single unnamed one (PostgREST passes
/// arguments by name; a lone unnamed argument takes the whole request body).
fn callable(f: &Function) -> bool {
    if f.kind != FunctionKind::Function {
        return false;
    }
    if f.return_type.type_kind == TypeKind::Pseudo
        && matches!(
            f.return_type.type_name.as_str(),
            "trigger" | "event_trigger"
        )
    {
        return false;
    }
    let inputs: Vec<&Argument> = inputs(f).collect();
    inputs.len() == 1
        || inputs
            .iter()
            .all(|a| a.name.as_deref().is_some_and(|n| !n.is_empty()))
}

fn inputs(f: &Function) -> impl Iterator<Item = &Argument> {
    f.arguments.iter().filter(|a| a.mode.is_input())
}

fn arg_type(scope: &Scope<'_>, a: &Argument) -> Ty {
    let t = scope.map(PgType {
        schema: &a.type_schema,
        name: &a.type_name,
        kind: a.type_kind,
        domain_base: None,
    });
    with_dims(t, a.is_array, None)
}

/// `{ Args: …; Returns: … }` of one overload (arguments and result columns by name, as Supabase
/// lists them).
fn signature(scope: &Scope<'_>, f: &Function) -> Ty {
    let mut ins: Vec<&Argument> = inputs(f).collect();
    ins.sort_by(|a, b| {
        locale_cmp(
            a.name.as_deref().unwrap_or(""),
            b.name.as_deref().unwrap_or(""),
        )
    });
    let args: Vec<Member> = ins
        .into_iter()
        .map(|a| {
            let name = a.name.clone().unwrap_or_default();
            Member::named(&name, a.has_default, arg_type(scope, a))
        })
        .collect();
    let args = if args.is_empty() {
        Ty::raw("Record<PropertyKey, never>")
    } else {
        Ty::obj(args, false)
    };
    let mut members = vec![
        Member::fixed("Args", args),
        Member::fixed("Returns", returns(scope, f)),
    ];
    if let Some(setof) = setof_options(scope, f) {
        members.push(Member::fixed("SetofOptions", setof));
    }
    Ty::obj(members, false)
}

/// The result: the columns of `RETURNS TABLE` / OUT arguments, a table's or view's row (inline,
/// as Supabase writes it), or the mapped return type; `[]` for set-returning functions.
fn returns(scope: &Scope<'_>, f: &Function) -> Ty {
    let rt = &f.return_type;
    let mut outs: Vec<&Argument> = f
        .returns_table
        .iter()
        .filter(|a| a.mode.is_output())
        .collect();
    outs.sort_by(|a, b| {
        locale_cmp(
            a.name.as_deref().unwrap_or(""),
            b.name.as_deref().unwrap_or(""),
        )
    });
    let one = if !outs.is_empty() && rt.type_kind == TypeKind::Pseudo {
        let members = outs
            .iter()
            .map(|a| Member::named(a.name.as_deref().unwrap_or(""), false, arg_type(scope, a)))
            .collect();
        Ty::obj(members, true)
    } else if rt.type_kind == TypeKind::Composite && !rt.is_array {
        let m = scope.model;
        if let Some(t) = m.table(&rt.type_schema, &rt.type_name) {
            row(scope, &t.columns)
        } else if let Some(v) = m.view(&rt.type_schema, &rt.type_name) {
            row(scope, &v.columns)
        } else {
            scope_map(scope, f)
        }
    } else {
        scope_map(scope, f)
    };
    if f.returns_set {
        one.array()
    } else {
        one
    }
}

fn scope_map(scope: &Scope<'_>, f: &Function) -> Ty {
    let rt = &f.return_type;
    let t = scope.map(PgType {
        schema: &rt.type_schema,
        name: &rt.type_name,
        kind: rt.type_kind,
        domain_base: None,
    });
    with_dims(t, rt.is_array, None)
}

/// For functions returning rows of a table, view or composite type: what PostgREST may embed
/// from the result (`SetofOptions`, as recent Supabase output has it).
fn setof_options(scope: &Scope<'_>, f: &Function) -> Option<Ty> {
    let rt = &f.return_type;
    if rt.type_kind != TypeKind::Composite || rt.is_array {
        return None;
    }
    if !scope.schemas.contains(&rt.type_schema) {
        return None;
    }
    // A single argument of a row type makes it a computed relationship of that relation.
    let ins: Vec<&Argument> = inputs(f).collect();
    let from = match ins.as_slice() {
        [a] if a.type_kind == TypeKind::Composite && !a.is_array && a.mode == ArgMode::In => {
            a.type_name.as_str()
        }
        _ => "*",
    };
    Some(Ty::obj(
        vec![
            Member::fixed("from", Ty::raw(quoted(from))),
            Member::fixed("to", Ty::raw(quoted(&rt.type_name))),
            Member::fixed("isOneToOne", Ty::raw((!f.returns_set).to_string())),
            Member::fixed("isSetofReturn", Ty::raw(f.returns_set.to_string())),
        ],
        true,
    ))
}

/// One function name: its signature, or the union of its overloads' signatures.
pub(crate) fn function(scope: &Scope<'_>, overloads: &[&Function]) -> Ty {
    let mut sigs: Vec<Ty> = overloads.iter().map(|f| signature(scope, f)).collect();
    if sigs.len() == 1 {
        sigs.remove(0)
    } else {
        Ty::Union(sigs)
    }
}

/// Computed fields of a table or view: functions of the same schema taking one row of it
/// (PostgREST exposes them as virtual columns), as `(name, type)`; Supabase adds them to `Row`
/// (nullable) and names them in `ComputedFields`.
pub(crate) fn computed_fields(
    scope: &Scope<'_>,
    schema: &str,
    relation: &str,
) -> Vec<(String, Ty)> {
    scope
        .computed
        .get(&(schema, relation))
        .into_iter()
        .flatten()
        .map(|f| (f.name.clone(), returns(scope, f)))
        .collect()
}

/// The computed fields of every relation of the rendered schemas, by (schema, relation), each
/// list sorted as the functions are: computed once per rendering.
pub(crate) fn computed_index<'a>(
    model: &'a SchemaModel,
    schemas: &[String],
) -> HashMap<(&'a str, &'a str), Vec<&'a Function>> {
    let mut index: HashMap<(&str, &str), Vec<&Function>> = HashMap::new();
    for f in &model.functions {
        if !schemas.contains(&f.schema) || !callable(f) {
            continue;
        }
        let ins: Vec<&Argument> = inputs(f).collect();
        if let [a] = ins.as_slice() {
            if a.type_kind == TypeKind::Composite && !a.is_array && a.type_schema == f.schema {
                index.entry((&f.schema, &a.type_name)).or_default().push(f);
            }
        }
    }
    for v in index.values_mut() {
        v.sort_by(|a, b| locale_cmp(&a.name, &b.name));
    }
    index
}
