//! The live half of lint in context: how many rows the tables that findings name hold.
//!
//! One catalog query resolves every name (through the connection's search_path; an index to its
//! table) and reads the planner's estimate (`reltuples`, summed over a partitioned table's
//! leaves) and `pg_total_relation_size`. Then, for each table whose estimate is missing or below
//! [`COUNT_CAP`], a bounded exact count (`SELECT count(*) FROM (SELECT FROM t LIMIT cap)`), so a
//! table filled a moment ago (never analyzed) is judged by its real rows. All of it runs in a
//! READ ONLY transaction with short lock and statement timeouts; a count that cannot get its
//! lock falls back to the estimate, or to "unknown" (which keeps the rule's level).

use std::time::Duration;

use tokio_postgres::Client;

use super::context::{LiveFacts, Lookups, RelName, TableSize};
use crate::db::ident;
use crate::error::{Error, Result};

/// Exact counts stop here; above it the size is "about N rows".
pub const COUNT_CAP: u64 = 1_000_000;
/// The longest a count waits for a table lock (unless `[apply] lock_timeout` is shorter).
const LOCK_TIMEOUT: Duration = Duration::from_millis(500);
const STATEMENT_TIMEOUT: &str = "10s";

fn qualified(r: &RelName) -> String {
    match &r.schema {
        Some(s) => format!("{}.{}", ident(s), ident(&r.name)),
        None => ident(&r.name),
    }
}

/// Read the sizes of `lookups` on `client` (outside any transaction; its own is rolled back).
pub async fn gather(
    client: &Client,
    lookups: &Lookups,
    lock_timeout: Duration,
) -> Result<LiveFacts> {
    let mut facts = LiveFacts::default();
    if lookups.tables.is_empty() && lookups.indexes.is_empty() {
        return Ok(facts);
    }
    crate::db::begin_bounded_read(
        client,
        lock_timeout,
        LOCK_TIMEOUT,
        STATEMENT_TIMEOUT,
        "lint's table-size",
    )
    .await?;
    let read = read_sizes(client, lookups, &mut facts).await;
    let ended = client
        .batch_execute("ROLLBACK")
        .await
        .map_err(|e| Error::db("ending lint's table-size transaction", e));
    read?;
    ended?;
    Ok(facts)
}

async fn read_sizes(client: &Client, lookups: &Lookups, facts: &mut LiveFacts) -> Result<()> {
    let all: Vec<&RelName> = lookups.tables.iter().chain(&lookups.indexes).collect();
    let names: Vec<String> = all.iter().map(|r| qualified(r)).collect();
    // A name that is not a table, partitioned table, materialized view or index counts as absent
    // (a view holds no rows to lock for a scan).
    let rows = client
        .query(
            "WITH n AS (
                 SELECT i, to_regclass(name) AS oid FROM unnest($1::text[]) WITH ORDINALITY AS n(name, i)
             ), t AS (
                 SELECT n.i, CASE WHEN c.relkind IN ('i', 'I') THEN x.indrelid ELSE c.oid END AS oid
                   FROM n
                   LEFT JOIN pg_class c ON c.oid = n.oid AND c.relkind IN ('r', 'p', 'm', 'i', 'I')
                   LEFT JOIN pg_index x ON x.indexrelid = c.oid
             )
             SELECT t.i, t.oid::regclass::text,
                    (SELECT CASE WHEN bool_and(l.reltuples >= 0) THEN sum(l.reltuples)::float8 END
                       FROM pg_class l
                      WHERE l.oid = t.oid AND l.relkind IN ('r', 'm')
                         OR l.oid IN (SELECT p.relid FROM pg_partition_tree(t.oid) p
                                       WHERE p.isleaf AND p.relid <> t.oid)),
                    (SELECT coalesce(sum(pg_total_relation_size(l.oid)), 0)::int8
                       FROM pg_class l
                      WHERE l.oid = t.oid
                         OR l.oid IN (SELECT p.relid FROM pg_partition_tree(t.oid) p
                                       WHERE p.isleaf AND p.relid <> t.oid))
               FROM t ORDER BY t.i",
            &[&names],
        )
        .await
        .map_err(|e| Error::db("reading table sizes for lint", e))?;
    for (k, row) in rows.iter().enumerate() {
        let Some(name) = all.get(k) else { continue };
        let resolved: Option<String> = row.get(1);
        let size = match resolved {
            None => TableSize::Absent,
            Some(resolved) => {
                let estimate: Option<f64> = row.get(2);
                let bytes: i64 = row.get(3);
                let bytes = bytes.max(0) as u64;
                let estimate = estimate.map(|e| e.max(0.0) as u64);
                match estimate {
                    Some(e) if e >= COUNT_CAP => TableSize::Rows {
                        rows: e,
                        exact: false,
                        bytes,
                        resolved,
                    },
                    _ => bounded_count(client, &resolved, estimate, bytes).await?,
                }
            }
        };
        if k < lookups.tables.len() {
            facts.tables.insert((*name).clone(), size);
        } else {
            facts.indexes.insert((*name).clone(), size);
        }
    }
    Ok(())
}

/// Count up to [`COUNT_CAP`] rows of `regclass` under a savepoint; a lock or statement timeout
/// falls back to `estimate`.
async fn bounded_count(
    client: &Client,
    regclass: &str,
    estimate: Option<u64>,
    bytes: u64,
) -> Result<TableSize> {
    client
        .batch_execute("SAVEPOINT pgkeel_lint_count")
        .await
        .map_err(|e| Error::db("counting rows for lint", e))?;
    // `regclass` is the server's own quoted rendering of the relation's name.
    let counted = client
        .query_one(
            &format!("SELECT count(*) FROM (SELECT FROM {regclass} LIMIT {COUNT_CAP}) s"),
            &[],
        )
        .await;
    match counted {
        Ok(row) => {
            let n: i64 = row.get(0);
            let n = n.max(0) as u64;
            client
                .batch_execute("RELEASE SAVEPOINT pgkeel_lint_count")
                .await
                .map_err(|e| Error::db("counting rows for lint", e))?;
            Ok(TableSize::Rows {
                rows: if n >= COUNT_CAP {
                    n.max(estimate.unwrap_or(0))
                } else {
                    n
                },
                exact: n < COUNT_CAP,
                bytes,
                resolved: regclass.to_string(),
            })
        }
        Err(e) => {
            client
                .batch_execute("ROLLBACK TO SAVEPOINT pgkeel_lint_count")
                .await
                .map_err(|e| Error::db("counting rows for lint", e))?;
            let why = crate::db::describe_pg_error(&e);
            Ok(match estimate {
                Some(rows) => TableSize::Rows {
                    rows,
                    exact: false,
                    bytes,
                    resolved: regclass.to_string(),
                },
                None => TableSize::Unknown(format!("could not count its rows: {why}")),
            })
        }
    }
}
