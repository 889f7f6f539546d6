//! `CREATE EXTENSION` of a Supabase extension, sent through the bootstrap's
//! `pgkeel_supabase.create_extension` (pure).
//!
//! PostgreSQL finds extensions only through control files in its own share directory, which
//! pgkeel cannot write on a remote server; so in Supabase mode, when a migration is prepared,
//! each top-level `CREATE EXTENSION` naming a routed extension of the [`super::catalog`] is
//! replaced by a call with the same meaning. The function decides on the server: the real
//! extension when it is available, the stand-in otherwise. Only the SQL sent changes: the file,
//! its checksum and the Supabase history mirror keep the original text. A statement the parser
//! reads differently from what is expected here is left alone.

use squawk_syntax::ast::{self, AstNode};
use squawk_syntax::{SourceFile, SyntaxKind};

use crate::db::literal;
use crate::migration::Prepared;

/// A `CREATE EXTENSION` statement's parts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreateExtension {
    pub name: String,
    pub schema: Option<String>,
    pub version: Option<String>,
    pub cascade: bool,
    pub if_not_exists: bool,
}

impl CreateExtension {
    /// The call that replaces the statement.
    pub fn call_sql(&self) -> String {
        let opt = |v: &Option<String>| v.as_deref().map_or("NULL".to_string(), literal);
        format!(
            "SELECT pgkeel_supabase.create_extension({}, {}, {}, {}, {})",
            literal(&self.name),
            opt(&self.schema),
            opt(&self.version),
            self.cascade,
            self.if_not_exists
        )
    }
}

/// Parse one statement's text as `CREATE EXTENSION`; `None` for anything else (or for a form
/// this does not know, which is then sent as written).
pub fn parse(sql: &str) -> Option<CreateExtension> {
    let parse = SourceFile::parse(sql);
    if !parse.errors().is_empty() {
        return None;
    }
    let tree = parse.tree();
    let mut stmts = tree.stmts();
    let stmt = stmts.next()?;
    if stmts.next().is_some() {
        return None;
    }
    let ast::Stmt::CreateExtension(node) = stmt else {
        return None;
    };
    let tokens: Vec<(SyntaxKind, String)> = node
        .syntax()
        .descendants_with_tokens()
        .filter_map(|e| e.into_token())
        .filter(|t| !t.kind().is_trivia() && t.kind() != SyntaxKind::SEMICOLON)
        .map(|t| (t.kind(), t.text().to_string()))
        .collect();
    let mut it = tokens.into_iter().peekable();
    let word = |t: &(SyntaxKind, String)| t.1.to_ascii_lowercase();
    if it.next().map(|t| word(&t)).as_deref() != Some("create")
        || it.next().map(|t| word(&t)).as_deref() != Some("extension")
    {
        return None;
    }
    let mut if_not_exists = false;
    if it.peek().map(word).as_deref() == Some("if") {
        it.next();
        if it.next().map(|t| word(&t)).as_deref() != Some("not")
            || it.next().map(|t| word(&t)).as_deref() != Some("exists")
        {
            return None;
        }
        if_not_exists = true;
    }
    let name = identifier(&it.next()?.1)?;
    let mut out = CreateExtension {
        name,
        schema: None,
        version: None,
        cascade: false,
        if_not_exists,
    };
    if it.peek().map(word).as_deref() == Some("with") {
        it.next();
    }
    while let Some(t) = it.next() {
        match word(&t).as_str() {
            "schema" => out.schema = Some(identifier(&it.next()?.1)?),
            "version" => {
                let v = it.next()?.1;
                out.version = Some(if v.starts_with('\'') {
                    string_literal(&v)?
                } else {
                    identifier(&v)?
                });
            }
            "cascade" => out.cascade = true,
            _ => return None,
        }
    }
    Some(out)
}

/// An identifier token's value: unquoted ones fold to lower case, quoted ones keep their text.
fn identifier(text: &str) -> Option<String> {
    if let Some(inner) = text.strip_prefix('"').and_then(|t| t.strip_suffix('"')) {
        return (!inner.is_empty()).then(|| inner.replace("\"\"", "\""));
    }
    let ok = !text.is_empty()
        && text
            .chars()
            .all(|c| c.is_alphanumeric() || c == '_' || c == '$');
    ok.then(|| text.to_lowercase())
}

/// A plain `'…'` literal's value (no `E''`, no dollar quotes: those are left alone).
fn string_literal(text: &str) -> Option<String> {
    let inner = text.strip_prefix('\'')?.strip_suffix('\'')?;
    Some(inner.replace("''", "'"))
}

/// Replace, in `p`, every `CREATE EXTENSION` of a routed catalogue extension by its call.
/// Returns the names, in order.
pub fn rewrite(p: &mut Prepared) -> Vec<String> {
    let mut names = Vec::new();
    for s in &mut p.statements {
        if !s.kind.starts_with("CREATE EXTENSION") {
            continue;
        }
        let Some(c) = parse(&s.sql) else { continue };
        if !super::catalog::find(&c.name).is_some_and(|e| e.routed()) {
            continue;
        }
        s.rewrite(c.call_sql());
        names.push(c.name);
    }
    names
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ce(name: &str) -> CreateExtension {
        CreateExtension {
            name: name.into(),
            schema: None,
            version: None,
            cascade: false,
            if_not_exists: false,
        }
    }

    #[test]
    fn reads_every_form() {
        assert_eq!(parse("create extension pg_net;"), Some(ce("pg_net")));
        assert_eq!(
            parse("CREATE EXTENSION IF NOT EXISTS \"uuid-ossp\" WITH SCHEMA extensions;"),
            Some(CreateExtension {
                schema: Some("extensions".into()),
                if_not_exists: true,
                ..ce("uuid-ossp")
            })
        );
        assert_eq!(
            parse("create extension if not exists vector schema \"My Schema\" version '0.8.0' cascade"),
            Some(CreateExtension {
                schema: Some("My Schema".into()),
                version: Some("0.8.0".into()),
                cascade: true,
                if_not_exists: true,
                ..ce("vector")
            })
        );
        assert_eq!(
            parse("create extension PG_CRON with schema pg_catalog cascade;"),
            Some(CreateExtension {
                schema: Some("pg_catalog".into()),
                cascade: true,
                ..ce("pg_cron")
            })
        );
        assert_eq!(
            parse("create extension http version v1_6;").and_then(|c| c.version),
            Some("v1_6".into())
        );
        assert_eq!(parse("create table t (id int);"), None);
        assert_eq!(
            parse("create extension pg_net; create extension http;"),
            None
        );
    }

    #[test]
    fn the_call_quotes_everything() {
        let c = CreateExtension {
            schema: Some("we'ird".into()),
            cascade: true,
            ..ce("pg_net")
        };
        assert_eq!(
            c.call_sql(),
            "SELECT pgkeel_supabase.create_extension(E'pg_net', E'we''ird', NULL, true, false)"
        );
    }

    #[test]
    fn rewrites_routed_extensions_only() {
        let m = crate::migration::Migration::from_text(
            crate::version::Version::parse("1").expect("version"),
            "x".into(),
            "x.sql".into(),
            "create extension if not exists pgcrypto with schema extensions;\n\
             create extension pg_net with schema extensions;\n\
             create table t (id int);\n\
             create extension if not exists postgis;\n",
        )
        .expect("migration");
        let mut p = m.prepare().expect("prepare");
        let names = rewrite(&mut p);
        assert_eq!(names, ["pg_net", "postgis"]);
        assert!(p.statements[0]
            .sql
            .starts_with("create extension if not exists pgcrypto"));
        assert_eq!(
            p.statements[1].sql,
            "SELECT pgkeel_supabase.create_extension(E'pg_net', E'extensions', NULL, false, false)"
        );
        assert!(p.statements[2].sql.starts_with("create table"));
        assert!(p.statements[3]
            .sql
            .ends_with("(E'postgis', NULL, NULL, false, true)"));
    }
}
