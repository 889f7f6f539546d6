//! The differences between two snapshots over the same keys: what a rollback's verification
//! reports when the database did not come back as it was. Pure.

use serde::Serialize;

use super::{Column, Relation, Snapshot};

/// One difference: the object, the aspect, and both values as text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Difference {
    pub object: String,
    pub aspect: String,
    pub before: String,
    pub after: String,
}

impl std::fmt::Display for Difference {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} {}: before {}, after {}",
            self.object, self.aspect, self.before, self.after
        )
    }
}

const ABSENT: &str = "(absent)";

fn show<T: std::fmt::Debug>(v: &T) -> String {
    format!("{v:?}")
}

struct Out(Vec<Difference>);

impl Out {
    fn push(&mut self, object: &str, aspect: &str, before: String, after: String) {
        self.0.push(Difference {
            object: object.into(),
            aspect: aspect.into(),
            before,
            after,
        });
    }

    fn eq<T: PartialEq + std::fmt::Debug>(&mut self, object: &str, aspect: &str, b: &T, a: &T) {
        if b != a {
            self.push(object, aspect, show(b), show(a));
        }
    }
}

/// Every difference between `before` and `after`, in a stable order (objects by name).
pub fn compare(before: &Snapshot, after: &Snapshot) -> Vec<Difference> {
    let mut out = Out(Vec::new());
    let mut rels: Vec<(String, String)> = before
        .relations
        .iter()
        .chain(&after.relations)
        .map(|r| (r.schema.clone(), r.name.clone()))
        .collect();
    rels.sort();
    rels.dedup();
    for (s, n) in rels {
        let find = |snap: &Snapshot| {
            snap.relations
                .iter()
                .find(|r| r.schema == s && r.name == n)
                .cloned()
        };
        let object = super::qualified(&s, &n);
        match (find(before), find(after)) {
            (Some(b), Some(a)) => relation(&mut out, &object, &b, &a),
            (Some(b), None) => out.push(&object, "existence", kind_name(&b), ABSENT.into()),
            (None, Some(a)) => out.push(&object, "existence", ABSENT.into(), kind_name(&a)),
            (None, None) => {}
        }
    }
    let mut fns: Vec<String> = before
        .functions
        .iter()
        .chain(&after.functions)
        .map(|f| f.signature())
        .collect();
    fns.sort();
    fns.dedup();
    for sig in fns {
        let find = |snap: &Snapshot| {
            snap.functions
                .iter()
                .find(|f| f.signature() == sig)
                .cloned()
        };
        match (find(before), find(after)) {
            (Some(b), Some(a)) => {
                out.eq(&sig, "kind", &b.kind, &a.kind);
                out.eq(&sig, "definition", &b.def, &a.def);
                out.eq(&sig, "privileges", &b.acl, &a.acl);
                out.eq(&sig, "comment", &b.comment, &a.comment);
                out.eq(&sig, "owner", &b.owner, &a.owner);
            }
            (Some(_), None) => out.push(&sig, "existence", "function".into(), ABSENT.into()),
            (None, Some(_)) => out.push(&sig, "existence", ABSENT.into(), "function".into()),
            (None, None) => {}
        }
    }
    let mut tys: Vec<String> = before
        .types
        .iter()
        .chain(&after.types)
        .map(|t| t.qualified())
        .collect();
    tys.sort();
    tys.dedup();
    for q in tys {
        let find = |snap: &Snapshot| snap.types.iter().find(|t| t.qualified() == q).cloned();
        match (find(before), find(after)) {
            (Some(b), Some(a)) => {
                out.eq(&q, "type kind", &b.kind, &a.kind);
                out.eq(&q, "enum labels", &b.labels, &a.labels);
                out.eq(&q, "comment", &b.comment, &a.comment);
                out.eq(&q, "domain base type", &b.base, &a.base);
                out.eq(&q, "domain not null", &b.not_null, &a.not_null);
                out.eq(&q, "domain default", &b.default, &a.default);
                out.eq(&q, "domain constraints", &b.checks, &a.checks);
                let attrs = |t: &super::TypeDef| {
                    t.attributes
                        .iter()
                        .map(|c| (c.name.clone(), c.type_name.clone(), c.collation.clone()))
                        .collect::<Vec<_>>()
                };
                out.eq(&q, "attributes", &attrs(&b), &attrs(&a));
            }
            (Some(_), None) => out.push(&q, "existence", "type".into(), ABSENT.into()),
            (None, Some(_)) => out.push(&q, "existence", ABSENT.into(), "type".into()),
            (None, None) => {}
        }
    }
    out.0
}

fn kind_name(r: &Relation) -> String {
    r.keyword().to_ascii_lowercase()
}

fn relation(out: &mut Out, object: &str, b: &Relation, a: &Relation) {
    out.eq(object, "kind", &kind_name(b), &kind_name(a));
    out.eq(object, "owner", &b.owner, &a.owner);
    out.eq(object, "options", &b.options, &a.options);
    out.eq(object, "row level security", &b.rls, &a.rls);
    out.eq(
        object,
        "forced row level security",
        &b.force_rls,
        &a.force_rls,
    );
    out.eq(object, "privileges", &b.acl, &a.acl);
    out.eq(object, "comment", &b.comment, &a.comment);
    out.eq(object, "view definition", &b.view, &a.view);
    out.eq(object, "sequence", &b.sequence, &a.sequence);
    out.eq(object, "unpopulated", &b.unpopulated, &a.unpopulated);
    out.eq(object, "owned_by", &b.owned_by, &a.owned_by);
    let names = |cols: &[Column]| cols.iter().map(|c| c.name.clone()).collect::<Vec<_>>();
    let (bn, an) = (names(&b.columns), names(&a.columns));
    if bn != an {
        let (mut bs, mut as_) = (bn.clone(), an.clone());
        bs.sort();
        as_.sort();
        let aspect = if bs == as_ { "column order" } else { "columns" };
        out.push(object, aspect, bn.join(", "), an.join(", "));
    }
    for bc in &b.columns {
        let Some(ac) = a.columns.iter().find(|c| c.name == bc.name) else {
            continue;
        };
        let o = format!("{object}.{}", crate::db::ident(&bc.name));
        out.eq(&o, "type", &bc.type_name, &ac.type_name);
        out.eq(&o, "not null", &bc.not_null, &ac.not_null);
        out.eq(&o, "default", &bc.default, &ac.default);
        out.eq(&o, "identity", &bc.identity, &ac.identity);
        out.eq(&o, "generated", &bc.generated, &ac.generated);
        out.eq(&o, "collation", &bc.collation, &ac.collation);
        out.eq(&o, "comment", &bc.comment, &ac.comment);
        out.eq(&o, "privileges", &bc.acl, &ac.acl);
    }
    named(out, object, "constraint", &b.constraints, &a.constraints);
    named(out, object, "index", &b.indexes, &a.indexes);
    let trig = |v: &[super::Trigger]| {
        v.iter()
            .map(|t| super::Named {
                name: t.name.clone(),
                kind: t.enabled.clone(),
                def: t.def.clone(),
            })
            .collect::<Vec<_>>()
    };
    named(
        out,
        object,
        "trigger",
        &trig(&b.triggers),
        &trig(&a.triggers),
    );
    let mut pols: Vec<&str> = b
        .policies
        .iter()
        .chain(&a.policies)
        .map(|p| p.name.as_str())
        .collect();
    pols.sort();
    pols.dedup();
    for p in pols {
        let aspect = format!("policy {}", crate::db::ident(p));
        let bp = b.policies.iter().find(|x| x.name == p);
        let ap = a.policies.iter().find(|x| x.name == p);
        match (bp, ap) {
            (Some(x), Some(y)) => out.eq(object, &aspect, x, y),
            (Some(x), None) => out.push(object, &aspect, show(x), ABSENT.into()),
            (None, Some(y)) => out.push(object, &aspect, ABSENT.into(), show(y)),
            (None, None) => {}
        }
    }
}

fn named(out: &mut Out, object: &str, what: &str, b: &[super::Named], a: &[super::Named]) {
    let mut names: Vec<&str> = b.iter().chain(a).map(|n| n.name.as_str()).collect();
    names.sort();
    names.dedup();
    for n in names {
        let aspect = format!("{what} {}", crate::db::ident(n));
        let show = |x: &super::Named| {
            if x.kind.is_empty() || what != "trigger" {
                x.def.clone()
            } else {
                format!("{} (enabled {})", x.def, x.kind)
            }
        };
        match (
            b.iter().find(|x| x.name == n),
            a.iter().find(|x| x.name == n),
        ) {
            (Some(x), Some(y)) if x != y => out.push(object, &aspect, show(x), show(y)),
            (Some(x), None) => out.push(object, &aspect, show(x), ABSENT.into()),
            (None, Some(y)) => out.push(object, &aspect, ABSENT.into(), show(y)),
            _ => {}
        }
    }
}
