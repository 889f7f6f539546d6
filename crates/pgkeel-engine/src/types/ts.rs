//! A small TypeScript type syntax tree and a printer that lays it out the way prettier
//! (print width 80, no semicolons, trailing commas) lays out `supabase gen types` output:
//! an object stays on one line when it fits and was not declared multi-line, unions that do not
//! fit go one member a line, keys are unquoted unless some key of the same object needs quotes.

use std::cmp::Ordering;

const WIDTH: usize = 80;

/// A TypeScript type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Ty {
    /// Printed as is (`string`, `Json`, `Database["public"]["Enums"]["mood"]`, `"ok"`).
    Raw(String),
    /// `{ a: T; b?: U }`. `expand`: always one member a line (prettier keeps an object broken when
    /// its source has a newline after `{`, which is how Supabase writes rows and sections).
    Obj {
        members: Vec<Member>,
        expand: bool,
    },
    /// `{ [_ in never]: never }`, always broken.
    Never,
    Union(Vec<Ty>),
    Array(Box<Ty>),
    /// `[A, B]`; broken one element a line (with a trailing comma) as soon as an element breaks.
    Tuple(Vec<Ty>),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Member {
    pub key: String,
    /// `key` is an identifier the template writes unquoted (`Row`, `Args`, …).
    pub bare: bool,
    pub optional: bool,
    pub ty: Ty,
}

impl Member {
    /// A member named after a database object (quoted unless prettier would drop the quotes).
    pub fn named(key: &str, optional: bool, ty: Ty) -> Member {
        Member {
            key: key.to_string(),
            bare: false,
            optional,
            ty,
        }
    }

    /// A member of the fixed shape (`Row`, `Insert`, `Args`, …).
    pub fn fixed(key: &str, ty: Ty) -> Member {
        Member {
            key: key.to_string(),
            bare: true,
            optional: false,
            ty,
        }
    }
}

impl Ty {
    pub fn raw(s: impl Into<String>) -> Ty {
        Ty::Raw(s.into())
    }

    pub fn obj(members: Vec<Member>, expand: bool) -> Ty {
        Ty::Obj { members, expand }
    }

    /// `T | null`.
    pub fn nullable(self) -> Ty {
        match self {
            Ty::Union(mut v) => {
                v.push(Ty::raw("null"));
                Ty::Union(v)
            }
            t => Ty::Union(vec![t, Ty::raw("null")]),
        }
    }

    pub fn array(self) -> Ty {
        Ty::Array(Box::new(self))
    }

    fn must_break(&self) -> bool {
        match self {
            Ty::Raw(_) => false,
            Ty::Never => true,
            Ty::Obj { members, expand } => {
                (*expand && !members.is_empty()) || members.iter().any(|m| m.ty.must_break())
            }
            Ty::Union(v) | Ty::Tuple(v) => v.iter().any(Ty::must_break),
            Ty::Array(t) => t.must_break(),
        }
    }

    /// One-line form.
    fn flat(&self) -> String {
        match self {
            Ty::Raw(s) => s.clone(),
            Ty::Never => "{ [_ in never]: never }".to_string(),
            Ty::Obj { members, .. } => {
                if members.is_empty() {
                    return "{}".to_string();
                }
                let quote = needs_quotes(members);
                let body: Vec<String> = members
                    .iter()
                    .map(|m| format!("{}: {}", key(m, quote), m.ty.flat()))
                    .collect();
                format!("{{ {} }}", body.join("; "))
            }
            Ty::Union(v) => v.iter().map(Ty::flat).collect::<Vec<_>>().join(" | "),
            Ty::Array(t) => format!("{}[]", element(t, t.flat())),
            Ty::Tuple(v) => format!(
                "[{}]",
                v.iter().map(Ty::flat).collect::<Vec<_>>().join(", ")
            ),
        }
    }

    /// Prints the type starting at column `col`, on lines indented by `indent`.
    pub fn print(&self, indent: usize, col: usize) -> String {
        if !self.must_break() {
            let flat = self.flat();
            if col + flat.len() <= WIDTH {
                return flat;
            }
        }
        let pad = " ".repeat(indent);
        match self {
            Ty::Raw(s) => s.clone(),
            Ty::Never => format!("{{\n{pad}  [_ in never]: never\n{pad}}}"),
            Ty::Obj { members, .. } => {
                if members.is_empty() {
                    return "{}".to_string();
                }
                let quote = needs_quotes(members);
                let mut out = String::from("{\n");
                for m in members {
                    out.push_str(&property(&key(m, quote), &m.ty, indent + 2));
                    out.push('\n');
                }
                out.push_str(&pad);
                out.push('}');
                out
            }
            Ty::Union(v) => {
                // In property position: a new line, one `| member` a line.
                let mut out = String::new();
                for t in v {
                    out.push('\n');
                    out.push_str(&pad);
                    out.push_str("  | ");
                    out.push_str(&t.print(indent + 4, indent + 4));
                }
                out
            }
            Ty::Array(t) => {
                let inner = t.print(indent, col);
                format!("{}[]", element(t, inner))
            }
            Ty::Tuple(v) => {
                let mut out = String::from("[\n");
                for t in v {
                    out.push_str(&pad);
                    out.push_str("  ");
                    out.push_str(&t.print(indent + 2, indent + 2));
                    out.push_str(",\n");
                }
                out.push_str(&pad);
                out.push(']');
                out
            }
        }
    }
}

/// `key: type` on a line indented by `indent` (a union that breaks starts on the next line).
pub(crate) fn property(key: &str, ty: &Ty, indent: usize) -> String {
    let pad = " ".repeat(indent);
    let col = indent + key.len() + 2;
    let printed = ty.print(indent, col);
    if printed.starts_with('\n') {
        format!("{pad}{key}:{printed}")
    } else {
        format!("{pad}{key}: {printed}")
    }
}

fn element(t: &Ty, printed: String) -> String {
    match t {
        Ty::Union(v) if v.len() > 1 => format!("({printed})"),
        _ => printed,
    }
}

fn key(m: &Member, quote: bool) -> String {
    let k = if m.bare || !quote {
        m.key.clone()
    } else {
        quoted(&m.key)
    };
    if m.optional {
        format!("{k}?")
    } else {
        k
    }
}

/// Prettier's `quoteProps: "as-needed"`: the quotes of an object's keys are dropped only when
/// every quoted key of that object can lose them.
fn needs_quotes(members: &[Member]) -> bool {
    members.iter().any(|m| !m.bare && !is_identifier(&m.key))
}

/// An ES5 identifier name (reserved words included: they are valid property names).
pub(crate) fn is_identifier(s: &str) -> bool {
    let mut chars = s.chars();
    match chars.next() {
        Some(c) if c == '_' || c == '$' || c.is_alphabetic() => {}
        _ => return false,
    }
    chars.all(|c| c == '_' || c == '$' || c.is_alphanumeric())
}

/// A JSON string literal (what `JSON.stringify` writes for a string).
pub(crate) fn quoted(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_else(|_| format!("\"{s}\""))
}

/// The order of JavaScript's `a.localeCompare(b)` (ICU root collation), which Supabase sorts
/// names with, closely enough for identifiers: punctuation before digits before letters,
/// letters compared without case first (lower case first on a tie), then code points.
pub(crate) fn locale_cmp(a: &str, b: &str) -> Ordering {
    fn primary(c: char) -> (u8, u32) {
        if c.is_ascii_digit() {
            (1, c as u32)
        } else if c.is_alphabetic() {
            (2, c.to_lowercase().next().unwrap_or(c) as u32)
        } else {
            (0, c as u32)
        }
    }
    let pa = a.chars().map(primary);
    let pb = b.chars().map(primary);
    pa.cmp(pb)
        .then_with(|| {
            // Lower case sorts before upper case.
            let ta = a.chars().map(|c| c.is_uppercase());
            let tb = b.chars().map(|c| c.is_uppercase());
            ta.cmp(tb)
        })
        .then_with(|| a.cmp(b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flat_when_it_fits() {
        let t = Ty::obj(
            vec![
                Member::fixed(
                    "Args",
                    Ty::obj(vec![Member::named("a", true, Ty::raw("number"))], false),
                ),
                Member::fixed("Returns", Ty::raw("string")),
            ],
            false,
        );
        assert_eq!(t.print(6, 9), "{ Args: { a?: number }; Returns: string }");
    }

    #[test]
    fn keys_quoted_only_when_one_needs_it() {
        let t = Ty::obj(
            vec![
                Member::named("a b", false, Ty::raw("x")),
                Member::named("c", false, Ty::raw("y")),
            ],
            false,
        );
        assert_eq!(t.flat(), r#"{ "a b": x; "c": y }"#);
    }

    #[test]
    fn locale_order() {
        let mut v = vec!["b", "A", "a_b", "ab", "a1", "B"];
        v.sort_by(|a, b| locale_cmp(a, b));
        assert_eq!(v, ["A", "a_b", "a1", "ab", "b", "B"]);
    }
}
