//! The Supabase CLI's migration history, `supabase_migrations.schema_migrations`, kept in step
//! with pgkeel's.
//!
//! The table is created the way the CLI creates it (`version text` primary key, then `statements
//! text[]` and `name text` added if missing), so either tool may create it first. pgkeel writes
//! its row from [`crate::db::history::HistoryTables::finish_sql`], inside the transaction that
//! applies the migration and writes pgkeel's own history row: the two histories cannot disagree
//! about an applied migration.

use tokio_postgres::Client;

use super::split::cli_statements;
use crate::db::literal;
use crate::error::{Error, Result};

pub const SCHEMA: &str = "supabase_migrations";
pub const TABLE: &str = "supabase_migrations.schema_migrations";

const DDL: &str = "CREATE SCHEMA IF NOT EXISTS supabase_migrations;\n\
CREATE TABLE IF NOT EXISTS supabase_migrations.schema_migrations (version text NOT NULL PRIMARY KEY);\n\
ALTER TABLE supabase_migrations.schema_migrations ADD COLUMN IF NOT EXISTS statements text[];\n\
ALTER TABLE supabase_migrations.schema_migrations ADD COLUMN IF NOT EXISTS name text;";

/// Create the mirror table if it is missing (call under the migration lock).
pub async fn ensure(client: &Client) -> Result<()> {
    let exists: bool = client
        .query_one(
            "SELECT to_regclass('supabase_migrations.schema_migrations') IS NOT NULL \
             AND EXISTS (SELECT FROM pg_attribute WHERE attrelid = to_regclass('supabase_migrations.schema_migrations') AND attname = 'name' AND NOT attisdropped) \
             AND EXISTS (SELECT FROM pg_attribute WHERE attrelid = to_regclass('supabase_migrations.schema_migrations') AND attname = 'statements' AND NOT attisdropped)",
            &[],
        )
        .await
        .map_err(|e| Error::db("looking for supabase_migrations.schema_migrations", e))?
        .get(0);
    if exists {
        return Ok(());
    }
    client
        .batch_execute(DDL)
        .await
        .map_err(|e| Error::db("creating supabase_migrations.schema_migrations", e))
}

/// The upsert recording one applied migration, as the CLI would record it: the version, the
/// name part of the file name, and the file's statements split as the CLI splits them.
pub fn upsert_sql(version: &str, name: &str, up_sql: &str) -> String {
    let statements = cli_statements(up_sql);
    let array = if statements.is_empty() {
        "'{}'::text[]".to_string()
    } else {
        format!(
            "ARRAY[{}]::text[]",
            statements
                .iter()
                .map(|s| literal(s))
                .collect::<Vec<_>>()
                .join(", ")
        )
    };
    format!(
        "INSERT INTO {TABLE} (version, name, statements) VALUES ({v}, {n}, {array}) \
         ON CONFLICT (version) DO UPDATE SET name = excluded.name, statements = excluded.statements",
        v = literal(version),
        n = literal(name),
    )
}

/// One row of the CLI's history.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct MirrorRow {
    pub version: String,
    pub name: Option<String>,
    pub statements: Option<Vec<String>>,
}

/// The CLI's history, or `None` when the table does not exist.
pub async fn load(client: &Client) -> Result<Option<Vec<MirrorRow>>> {
    let exists: bool = client
        .query_one(
            "SELECT to_regclass('supabase_migrations.schema_migrations') IS NOT NULL",
            &[],
        )
        .await
        .map_err(|e| Error::db("looking for supabase_migrations.schema_migrations", e))?
        .get(0);
    if !exists {
        return Ok(None);
    }
    // Older CLI versions created the table without `name` (and `statements`): read what exists.
    let rows = client
        .query(
            "SELECT to_jsonb(m) FROM supabase_migrations.schema_migrations m ORDER BY version",
            &[],
        )
        .await
        .map_err(|e| Error::db("reading supabase_migrations.schema_migrations", e))?;
    Ok(Some(
        rows.iter()
            .map(|r| {
                let v: serde_json::Value = r.get(0);
                MirrorRow {
                    version: v["version"].as_str().unwrap_or_default().to_string(),
                    name: v["name"].as_str().map(str::to_string),
                    statements: v["statements"].as_array().map(|a| {
                        a.iter()
                            .map(|s| s.as_str().unwrap_or_default().to_string())
                            .collect()
                    }),
                }
            })
            .collect(),
    ))
}
