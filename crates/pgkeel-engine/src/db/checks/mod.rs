//! Health and integrity checks: one file per check, each a catalog query (plus, for the two
//! checks that count rows, one count query per affected constraint) and the reading of its rows
//! into [`Finding`]s with a fix hint.
//!
//! - **One catalog query per check**, never one per table: every check reads all the objects of
//!   the checked schemas (`nspname = ANY($1)`) at once, so a schema of 1,000 tables is checked in
//!   a few catalog queries.
//! - **Concurrent on one connection**: [`run`] starts the selected checks together; tokio-postgres
//!   pipelines their queries on the one client.
//! - **Deterministic order**: findings come in [`ALL`]'s order, then by object, then by message.
//! - **Objects are named unquoted** (`public.orders`, `public.orders.orders_customer_fk` for a
//!   constraint, `public.f(integer)` for a function); the SQL in hints quotes every identifier.
//! - Objects that belong to an extension (`pg_depend.deptype = 'e'`) are left out: their owner
//!   is the extension, not the project.

mod duplicate_index;
mod extension_in_public;
mod fk_without_index;
mod invalid_index;
mod missing_primary_key;
mod not_valid_constraint;
mod orphan_rows;
mod rls_disabled;
mod rls_without_policy;
mod security_definer_search_path;
mod sequence_exhaustion;

use futures_util::future::{try_join_all, BoxFuture, FutureExt};
use tokio_postgres::Client;

use crate::db::ident;
use crate::error::{Error, Result};
use crate::validate::{Finding, Severity};

/// What a check is: its id (used in `[validate]` settings, `validate_schema {checks}` and every
/// [`Finding::check`]), the severity its findings get unless configured otherwise, and one line
/// about what it finds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CheckInfo {
    pub id: &'static str,
    pub default_severity: Severity,
    pub description: &'static str,
}

/// Every check, in the order findings are reported.
pub const ALL: &[CheckInfo] = &[
    missing_primary_key::INFO,
    fk_without_index::INFO,
    invalid_index::INFO,
    not_valid_constraint::INFO,
    orphan_rows::INFO,
    rls_disabled::INFO,
    rls_without_policy::INFO,
    security_definer_search_path::INFO,
    duplicate_index::INFO,
    sequence_exhaustion::INFO,
    extension_in_public::INFO,
];

/// The check with this id.
pub fn info(id: &str) -> Option<&'static CheckInfo> {
    ALL.iter().find(|c| c.id == id)
}

/// Schemas that Supabase (or pgkeel's Supabase bootstrap) creates and manages: left out of
/// [`Scope::default_schemas`] when they exist.
pub const SUPABASE_INTERNAL_SCHEMAS: &[&str] = &[
    "_analytics",
    "_realtime",
    "auth",
    "cron",
    "extensions",
    "graphql",
    "graphql_public",
    "net",
    "pgbouncer",
    "pgkeel_supabase",
    "pgsodium",
    "pgsodium_masks",
    "pgtle",
    "realtime",
    "storage",
    "supabase_functions",
    "supabase_migrations",
    "vault",
];

/// Schemas pgkeel itself owns (besides the history schema, which the caller names).
pub const PGKEEL_SCHEMAS: &[&str] = &["pgkeel_backup"];

/// What the checks look at.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Scope {
    /// The schemas to check (tables, indexes, constraints, functions, sequences). See
    /// [`Scope::default_schemas`] for the usual choice.
    pub schemas: Vec<String>,
    /// The schemas clients reach directly (e.g. through PostgREST: `public` on Supabase). Used by
    /// `rls_disabled` (tables without RLS) and `security_definer_search_path` (views without
    /// `security_invoker`); those findings are skipped when this is empty.
    pub exposed_schemas: Vec<String>,
}

/// The default schema selection: `$1` (a `text[]`) is the list of schemas to leave out.
const DEFAULT_SCHEMAS: &str = "
SELECT n.nspname::text
FROM pg_namespace n
WHERE n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast')
  AND n.nspname !~ '^pg_(toast_)?temp_'
  AND n.nspname <> ALL ($1::text[])
  AND NOT EXISTS (SELECT 1 FROM pg_depend d
      WHERE d.classid = 'pg_namespace'::regclass AND d.objid = n.oid AND d.deptype = 'e')
ORDER BY n.nspname";

impl Scope {
    /// The query behind [`Scope::default_schemas`]; `$1` is a `text[]` of schemas to leave out.
    pub fn default_schemas_sql() -> &'static str {
        DEFAULT_SCHEMAS
    }

    /// The schemas to check by default: every schema except PostgreSQL's own (`pg_catalog`,
    /// `information_schema`, `pg_toast`, temporary schemas), schemas created by an extension,
    /// pgkeel's own schemas (`own`: the history schema and the backup schema as configured),
    /// [`PGKEEL_SCHEMAS`] and [`SUPABASE_INTERNAL_SCHEMAS`]. Sorted.
    pub async fn default_schemas(client: &Client, own: &[&str]) -> Result<Vec<String>> {
        let mut exclude: Vec<String> = own.iter().map(|s| s.to_string()).collect();
        exclude.extend(PGKEEL_SCHEMAS.iter().map(|s| s.to_string()));
        exclude.extend(SUPABASE_INTERNAL_SCHEMAS.iter().map(|s| s.to_string()));
        let rows = client
            .query(DEFAULT_SCHEMAS, &[&exclude])
            .await
            .map_err(|e| Error::db("reading the schemas to check", e))?;
        Ok(rows.iter().map(|r| r.get(0)).collect())
    }
}

/// Run the checks named by `ids` (each at most once, whatever the order or repetition) on
/// `client`, concurrently. An unknown id is an [`Error::Config`] naming the known ones; it is
/// reported before any query is sent.
pub async fn run(client: &Client, ids: &[&str], scope: &Scope) -> Result<Vec<Finding>> {
    for id in ids {
        if info(id).is_none() {
            return Err(Error::Config(format!(
                "unknown check {id:?}; the checks are: {}",
                ALL.iter().map(|c| c.id).collect::<Vec<_>>().join(", ")
            )));
        }
    }
    let selected: Vec<&CheckInfo> = ALL.iter().filter(|c| ids.contains(&c.id)).collect();
    let futures = selected.iter().map(|c| start(c.id, client, scope));
    let results = try_join_all(futures).await?;
    let mut findings = Vec::new();
    for mut found in results {
        found.sort_by(|a, b| (&a.object, &a.message).cmp(&(&b.object, &b.message)));
        findings.extend(found);
    }
    Ok(findings)
}

fn start<'a>(
    id: &str,
    client: &'a Client,
    scope: &'a Scope,
) -> BoxFuture<'a, Result<Vec<Finding>>> {
    match id {
        "missing_primary_key" => missing_primary_key::run(client, scope).boxed(),
        "fk_without_index" => fk_without_index::run(client, scope).boxed(),
        "invalid_index" => invalid_index::run(client, scope).boxed(),
        "not_valid_constraint" => not_valid_constraint::run(client, scope).boxed(),
        "orphan_rows" => orphan_rows::run(client, scope).boxed(),
        "rls_disabled" => rls_disabled::run(client, scope).boxed(),
        "rls_without_policy" => rls_without_policy::run(client, scope).boxed(),
        "security_definer_search_path" => security_definer_search_path::run(client, scope).boxed(),
        "duplicate_index" => duplicate_index::run(client, scope).boxed(),
        "sequence_exhaustion" => sequence_exhaustion::run(client, scope).boxed(),
        "extension_in_public" => extension_in_public::run(client, scope).boxed(),
        // `run` checked every id against ALL, and every id in ALL has an arm above.
        other => {
            let other = other.to_string();
            async move { Err(Error::Config(format!("unknown check {other:?}"))) }.boxed()
        }
    }
}

/// `schema.name` as the object of a finding (unquoted, for people).
pub(crate) fn object(schema: &str, name: &str) -> String {
    format!("{schema}.{name}")
}

/// `"schema"."name"` for SQL.
pub(crate) fn qualified(schema: &str, name: &str) -> String {
    format!("{}.{}", ident(schema), ident(name))
}

/// `"a", "b"` for SQL.
pub(crate) fn ident_list(names: &[String]) -> String {
    names
        .iter()
        .map(|n| ident(n))
        .collect::<Vec<_>>()
        .join(", ")
}

/// `WHERE` fragment: the relation `alias` does not belong to an extension.
pub(crate) fn not_extension_member(alias: &str, catalog: &str) -> String {
    format!(
        "NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = '{catalog}'::regclass \
         AND d.objid = {alias}.oid AND d.deptype = 'e')"
    )
}

/// A finding of `info`'s check with its default severity.
pub(crate) fn finding(info: &CheckInfo, object: String, message: String, hint: String) -> Finding {
    Finding {
        check: info.id.to_string(),
        severity: info.default_severity,
        object,
        message,
        hint,
    }
}

/// Columns (from index 0) describing a foreign key `k`, for [`ForeignKey::from_row`]: its
/// referencing and referenced columns in key order, the schemas of its PK = FK operators, the
/// match type, and the referenced table with its schema and relkind. Needs `k` (pg_constraint).
pub(crate) const FK_COLUMNS: &str = "
       ARRAY(SELECT a.attname::text
             FROM unnest(k.conkey) WITH ORDINALITY AS u(attnum, ord)
             JOIN pg_attribute a ON a.attrelid = k.conrelid AND a.attnum = u.attnum
             ORDER BY u.ord),
       ARRAY(SELECT a.attname::text
             FROM unnest(k.confkey) WITH ORDINALITY AS u(attnum, ord)
             JOIN pg_attribute a ON a.attrelid = k.confrelid AND a.attnum = u.attnum
             ORDER BY u.ord),
       ARRAY(SELECT ns.nspname::text
             FROM unnest(k.conpfeqop) WITH ORDINALITY AS u(opr, ord)
             JOIN pg_operator o ON o.oid = u.opr
             JOIN pg_namespace ns ON ns.oid = o.oprnamespace
             ORDER BY u.ord),
       k.confmatchtype::text,
       (SELECT pn.nspname::text FROM pg_class pc JOIN pg_namespace pn ON pn.oid = pc.relnamespace
        WHERE pc.oid = k.confrelid),
       (SELECT pc.relname::text FROM pg_class pc WHERE pc.oid = k.confrelid),
       (SELECT pc.relkind::text FROM pg_class pc WHERE pc.oid = k.confrelid)";

/// A foreign key, as needed to count the rows that violate it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ForeignKey {
    pub schema: String,
    pub table: String,
    /// `relkind` of the referencing table.
    pub relkind: String,
    pub columns: Vec<String>,
    pub parent_schema: String,
    pub parent: String,
    pub parent_relkind: String,
    pub parent_columns: Vec<String>,
    /// Schema of each PK = FK equality operator (`pg_catalog` for built-in types).
    pub operator_schemas: Vec<String>,
    /// `f` (MATCH FULL), `s` (MATCH SIMPLE, the default) or `p`.
    pub match_type: String,
}

impl ForeignKey {
    /// Reads [`FK_COLUMNS`] starting at column `at`; `schema`, `table` and `relkind` describe
    /// the referencing table.
    pub fn from_row(
        row: &tokio_postgres::Row,
        at: usize,
        schema: String,
        table: String,
        relkind: String,
    ) -> ForeignKey {
        ForeignKey {
            schema,
            table,
            relkind,
            columns: row.get(at),
            parent_columns: row.get(at + 1),
            operator_schemas: row.get(at + 2),
            match_type: row.get(at + 3),
            parent_schema: row.get(at + 4),
            parent: row.get(at + 5),
            parent_relkind: row.get(at + 6),
        }
    }

    /// `FROM` target with `ONLY` where PostgreSQL's own RI queries use it: a foreign key on an
    /// ordinary table covers that table only (not inheritance children), and so does its
    /// referenced side.
    fn from(schema: &str, name: &str, relkind: &str) -> String {
        if relkind == "p" {
            qualified(schema, name)
        } else {
            format!("ONLY {}", qualified(schema, name))
        }
    }

    /// The `WHERE` condition (on alias `pgkeel_fk`) that selects the rows violating this key:
    /// every key column non-null and no matching referenced row; with MATCH FULL, also rows with
    /// some but not all key columns null.
    pub fn violation(&self) -> String {
        let not_null = self
            .columns
            .iter()
            .map(|c| format!("pgkeel_fk.{} IS NOT NULL", ident(c)))
            .collect::<Vec<_>>()
            .join(" AND ");
        let matches = self
            .columns
            .iter()
            .zip(&self.parent_columns)
            .zip(&self.operator_schemas)
            .map(|((c, p), op)| {
                format!(
                    "pgkeel_pk.{} OPERATOR({}.=) pgkeel_fk.{}",
                    ident(p),
                    ident(op),
                    ident(c)
                )
            })
            .collect::<Vec<_>>()
            .join(" AND ");
        let missing = format!(
            "{not_null} AND NOT EXISTS (SELECT 1 FROM {} pgkeel_pk WHERE {matches})",
            Self::from(&self.parent_schema, &self.parent, &self.parent_relkind)
        );
        if self.match_type == "f" && self.columns.len() > 1 {
            let cols = self
                .columns
                .iter()
                .map(|c| format!("pgkeel_fk.{}", ident(c)))
                .collect::<Vec<_>>()
                .join(", ");
            format!(
                "({missing}) OR num_nulls({cols}) NOT IN (0, {})",
                self.columns.len()
            )
        } else {
            missing
        }
    }

    /// `SELECT count(*) …` of the rows violating this key.
    pub fn count_sql(&self) -> String {
        format!(
            "SELECT count(*) FROM {} pgkeel_fk WHERE {}",
            Self::from(&self.schema, &self.table, &self.relkind),
            self.violation()
        )
    }

    /// `SELECT * …` of the rows violating this key (for hints).
    pub fn select_sql(&self) -> String {
        format!(
            "SELECT * FROM {} pgkeel_fk WHERE {};",
            Self::from(&self.schema, &self.table, &self.relkind),
            self.violation()
        )
    }
}

/// Run `SELECT count(*)` queries concurrently on `client`.
pub(crate) async fn counts(client: &Client, queries: &[String], what: &str) -> Result<Vec<i64>> {
    try_join_all(queries.iter().map(|q| async move {
        let row = client
            .query_one(q.as_str(), &[])
            .await
            .map_err(|e| Error::db(format!("{what} ({q})"), e))?;
        Ok::<i64, Error>(row.get(0))
    }))
    .await
}

/// "1 row" / "3 rows".
pub(crate) fn rows(n: i64) -> String {
    if n == 1 {
        "1 row".to_string()
    } else {
        format!("{n} rows")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_check_has_a_unique_id_and_a_description() {
        let mut ids: Vec<&str> = ALL.iter().map(|c| c.id).collect();
        assert_eq!(ids.len(), 11);
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), 11);
        assert!(ALL.iter().all(|c| !c.description.is_empty()));
        assert_eq!(ALL[0].id, "missing_primary_key");
        assert_eq!(ALL[10].id, "extension_in_public");
    }

    fn fk(match_type: &str, columns: &[&str]) -> ForeignKey {
        ForeignKey {
            schema: "app".into(),
            table: "Orders".into(),
            relkind: "r".into(),
            columns: columns.iter().map(|c| c.to_string()).collect(),
            parent_schema: "app".into(),
            parent: "customers".into(),
            parent_relkind: "p".into(),
            parent_columns: columns.iter().map(|c| format!("p_{c}")).collect(),
            operator_schemas: columns.iter().map(|_| "pg_catalog".to_string()).collect(),
            match_type: match_type.into(),
        }
    }

    #[test]
    fn foreign_key_violation_queries() {
        assert_eq!(
            fk("s", &["a"]).count_sql(),
            "SELECT count(*) FROM ONLY \"app\".\"Orders\" pgkeel_fk WHERE pgkeel_fk.\"a\" IS NOT NULL \
             AND NOT EXISTS (SELECT 1 FROM \"app\".\"customers\" pgkeel_pk \
             WHERE pgkeel_pk.\"p_a\" OPERATOR(\"pg_catalog\".=) pgkeel_fk.\"a\")"
        );
        let full = fk("f", &["a", "b"]).violation();
        assert!(full.ends_with(") OR num_nulls(pgkeel_fk.\"a\", pgkeel_fk.\"b\") NOT IN (0, 2)"));
        assert!(!fk("s", &["a", "b"]).violation().contains("num_nulls"));
    }

    #[test]
    fn quoting() {
        assert_eq!(qualified("public", "we\"ird"), "\"public\".\"we\"\"ird\"");
        assert_eq!(ident_list(&["a".into(), "B c".into()]), "\"a\", \"B c\"");
        assert_eq!(rows(1), "1 row");
        assert_eq!(rows(0), "0 rows");
    }
}
