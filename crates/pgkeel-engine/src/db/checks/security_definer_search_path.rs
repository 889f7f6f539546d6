//! `security_definer_search_path`: code that runs with its owner's rights but resolves names
//! through a search path the caller can influence.
//!
//! - **SECURITY DEFINER functions and procedures** (in the checked schemas) whose `proconfig`
//!   does not fix a safe `search_path`: an **error** when it is missing, contains `"$user"` or
//!   `public` (schemas other roles may be able to create objects in), or lists `pg_temp` anywhere
//!   but last. A caller could otherwise plant a table, function or operator that the definer's
//!   code picks up with the owner's privileges. (`pg_temp` left out entirely is accepted:
//!   PostgreSQL never looks up functions or operators there unless it is named.)
//! - **Views in the exposed schemas without `security_invoker = true`** (PostgreSQL 15+): a
//!   **warning**. Such a view runs with its owner's rights, so it bypasses the row level security
//!   of the tables it reads for everyone who can select from it. Skipped when no schema is
//!   exposed.

use tokio_postgres::Client;

use super::{finding, not_extension_member, object, qualified, CheckInfo, Scope};
use crate::error::{Error, Result};
use crate::validate::{Finding, Severity};

pub(super) const INFO: CheckInfo = CheckInfo {
    id: "security_definer_search_path",
    default_severity: Severity::Error,
    description: "SECURITY DEFINER functions without a safe fixed search_path (error), and views in exposed schemas without security_invoker (warning)",
};

fn functions_sql() -> String {
    format!(
        "
SELECT n.nspname::text, p.proname::text, pg_get_function_identity_arguments(p.oid),
       p.prokind::text,
       (SELECT substr(cfg, length('search_path=') + 1)
        FROM unnest(p.proconfig) AS cfg WHERE cfg LIKE 'search_path=%' LIMIT 1)
FROM pg_proc p
JOIN pg_namespace n ON n.oid = p.pronamespace
WHERE p.prosecdef
  AND n.nspname = ANY ($1::text[])
  AND {}
ORDER BY 1, 2, 3",
        not_extension_member("p", "pg_proc")
    )
}

fn views_sql() -> String {
    format!(
        "
SELECT n.nspname::text, c.relname::text, coalesce(c.reloptions, '{{}}')
FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind = 'v'
  AND n.nspname = ANY ($1::text[])
  AND {}
ORDER BY 1, 2",
        not_extension_member("c", "pg_class")
    )
}

pub(super) async fn run(client: &Client, scope: &Scope) -> Result<Vec<Finding>> {
    let functions_sql = functions_sql();
    let views_sql = views_sql();
    let functions = async {
        client
            .query(&functions_sql, &[&scope.schemas])
            .await
            .map_err(|e| Error::db("checking SECURITY DEFINER functions", e))
    };
    let views = async {
        if scope.exposed_schemas.is_empty() {
            return Ok(Vec::new());
        }
        client
            .query(&views_sql, &[&scope.exposed_schemas])
            .await
            .map_err(|e| Error::db("checking views for security_invoker", e))
    };
    let (functions, views) = futures_util::future::try_join(functions, views).await?;

    let mut findings = Vec::new();
    for r in &functions {
        let schema: String = r.get(0);
        let name: String = r.get(1);
        let args: String = r.get(2);
        let prokind: String = r.get(3);
        let search_path: Option<String> = r.get(4);
        let Some(problem) = judge(search_path.as_deref()) else {
            continue;
        };
        let what = if prokind == "p" {
            "PROCEDURE"
        } else {
            "FUNCTION"
        };
        findings.push(finding(
            &INFO,
            format!("{schema}.{name}({args})"),
            format!(
                "SECURITY DEFINER {} {schema}.{name}({args}) {problem}: callers can make it run objects of their choosing with its owner's rights",
                what.to_lowercase()
            ),
            format!(
                "ALTER {what} {}({args}) SET search_path = ''; (then schema-qualify every name in its body, or use SET search_path = pg_catalog, pg_temp)",
                qualified(&schema, &name)
            ),
        ));
    }
    for r in &views {
        let schema: String = r.get(0);
        let name: String = r.get(1);
        let options: Vec<String> = r.get(2);
        if security_invoker(&options) {
            continue;
        }
        let mut f = finding(
            &INFO,
            object(&schema, &name),
            format!(
                "view {schema}.{name} in exposed schema {schema} runs with its owner's rights (no security_invoker = true): it bypasses the row level security of the tables it reads"
            ),
            format!(
                "ALTER VIEW {} SET (security_invoker = true);",
                qualified(&schema, &name)
            ),
        );
        f.severity = Severity::Warning;
        findings.push(f);
    }
    Ok(findings)
}

/// What is wrong with a SECURITY DEFINER function's `search_path` setting (`None`: not set),
/// or `None` when it is safe.
fn judge(search_path: Option<&str>) -> Option<String> {
    let Some(value) = search_path else {
        return Some("has no fixed search_path".to_string());
    };
    let schemas = split_path(value);
    if schemas.iter().any(|s| s == "$user") {
        return Some(format!(
            "has search_path {value} which includes \"$user\" (a schema named after the caller)"
        ));
    }
    if schemas.iter().any(|s| s == "public") {
        return Some(format!("has search_path {value} which includes public"));
    }
    if let Some(i) = schemas.iter().position(|s| s == "pg_temp") {
        if i + 1 != schemas.len() {
            return Some(format!(
                "has search_path {value} with pg_temp before other schemas (it must come last)"
            ));
        }
    }
    None
}

/// The schemas of a `search_path` value as `proconfig` stores it: comma-separated, each either
/// a bare name or a double-quoted one (with `""` for a quote); an empty quoted name means
/// nothing. Hand-written: a dozen lines, and no crate parses GUC lists.
fn split_path(value: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut current = String::new();
    let mut quoted = false;
    let mut chars = value.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' if quoted && chars.peek() == Some(&'"') => {
                current.push('"');
                chars.next();
            }
            '"' => quoted = !quoted,
            ',' if !quoted => out.push(std::mem::take(&mut current)),
            c if c.is_whitespace() && !quoted => {}
            c => current.push(c),
        }
    }
    out.push(current);
    out.retain(|s| !s.is_empty());
    out
}

/// True when `reloptions` set `security_invoker` to a true value (PostgreSQL's boolean
/// spellings, as stored: what the user typed).
fn security_invoker(options: &[String]) -> bool {
    options.iter().any(|o| {
        o.split_once('=').is_some_and(|(k, v)| {
            k == "security_invoker"
                && matches!(
                    v.to_ascii_lowercase().as_str(),
                    "true" | "t" | "tr" | "tru" | "on" | "yes" | "y" | "ye" | "1"
                )
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn search_paths() {
        assert_eq!(split_path("\"\""), Vec::<String>::new());
        assert_eq!(split_path("\"$user\", public"), vec!["$user", "public"]);
        assert_eq!(
            split_path("pg_catalog, \"we,\"\"ird\""),
            vec!["pg_catalog", "we,\"ird"]
        );
        assert!(judge(None).unwrap().contains("no fixed search_path"));
        assert!(judge(Some("\"\"")).is_none());
        assert!(judge(Some("pg_catalog, pg_temp")).is_none());
        assert!(judge(Some("app")).is_none());
        assert!(judge(Some("\"$user\", public")).unwrap().contains("$user"));
        assert!(judge(Some("app, public")).unwrap().contains("public"));
        assert!(judge(Some("pg_temp, app")).unwrap().contains("pg_temp"));
    }

    #[test]
    fn security_invoker_spellings() {
        assert!(security_invoker(&["security_invoker=true".into()]));
        assert!(security_invoker(&[
            "check_option=local".into(),
            "security_invoker=on".into()
        ]));
        assert!(!security_invoker(&["security_invoker=false".into()]));
        assert!(!security_invoker(&[]));
    }
}
