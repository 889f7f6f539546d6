//! Whether a non-transactional segment's effect is already in place, read from the catalog right
//! before the segment runs (see [`crate::segment`] for what each statement's check is), and who
//! blocks a migration statement that waits for a lock.

use tokio_postgres::Client;

use super::{ident, literal};
use crate::segment::{same_index_definition, EffectCheck, Name, PROBE_INDEX, PROBE_TABLE};

/// What to do with a non-transactional segment, decided before it runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Before {
    /// Nothing of its effect is there: run the statement.
    Run,
    /// Run `cleanup` (each statement alone), then the statement; `note` says why.
    CleanThenRun { cleanup: Vec<String>, note: String },
    /// Run `sql` instead of the statement (it finishes what an earlier run started).
    Instead { sql: String, note: String },
    /// The effect is in place: record the segment as done without running it.
    Done { note: String },
    /// The statement cannot run as it stands. `retryable`: a later `up` may run it without
    /// anyone changing anything (another session is still building the index).
    Conflict { message: String, retryable: bool },
}

fn qualified((schema, name): &Name) -> String {
    match schema {
        Some(s) => format!("{}.{}", ident(s), ident(name)),
        None => ident(name),
    }
}

/// Decide what to do before running `statement` (its text, for messages) whose effect `check`
/// describes. A check that cannot be read becomes [`Before::Run`] with a warning in the log:
/// the statement then fails or succeeds on its own, as it would have without the check.
pub async fn before(client: &Client, check: &EffectCheck, statement: &str) -> Before {
    match inspect(client, check, statement).await {
        Ok(b) => b,
        Err(e) => {
            let _ = client.batch_execute("ROLLBACK").await;
            tracing::warn!(
                "could not check whether `{}` already took effect: {}",
                statement.trim(),
                super::describe_pg_error(&e)
            );
            Before::Run
        }
    }
}

async fn inspect(
    client: &Client,
    check: &EffectCheck,
    statement: &str,
) -> Result<Before, tokio_postgres::Error> {
    let statement = statement.trim().trim_end_matches(';').trim_end();
    match check {
        EffectCheck::CreateIndex {
            index,
            table,
            probe_sql,
        } => {
            let row = client
                .query_opt(
                    "SELECT c.oid::regclass::text, i.indisvalid, pg_get_indexdef(c.oid), \
                            i.indrelid = t.oid, \
                            (SELECT p.pid FROM pg_stat_progress_create_index p \
                              WHERE p.index_relid = c.oid LIMIT 1) \
                       FROM pg_class t \
                       JOIN pg_class c ON c.relnamespace = t.relnamespace AND c.relname = $2 \
                            AND c.relkind IN ('i', 'I') \
                       JOIN pg_index i ON i.indexrelid = c.oid \
                      WHERE t.oid = to_regclass($1)",
                    &[&qualified(table), index],
                )
                .await?;
            let Some(row) = row else {
                return Ok(Before::Run);
            };
            let (name, valid, existing, same_table, building): (
                String,
                bool,
                String,
                bool,
                Option<i32>,
            ) = (row.get(0), row.get(1), row.get(2), row.get(3), row.get(4));
            if let Some(pid) = building {
                return Ok(Before::Conflict {
                    message: format!(
                        "index {name} is being built right now by server process {pid} (an earlier run whose client went away, or another session); wait for it to finish, then run `pgkeel up` again: a valid index is then recorded as done"
                    ),
                    retryable: true,
                });
            }
            if !same_table {
                return Ok(Before::Conflict {
                    message: format!(
                        "index {name} already exists on another table: it is `{existing}`; the migration builds `{statement}`. Rename one of them"
                    ),
                    retryable: false,
                });
            }
            if !valid {
                return Ok(Before::CleanThenRun {
                    cleanup: vec![format!("DROP INDEX CONCURRENTLY IF EXISTS {name}")],
                    note: format!(
                        "index {name} was left INVALID by an interrupted or failed build: dropped it and built it again"
                    ),
                });
            }
            match probe_index_definition(client, table, probe_sql).await {
                Ok(wanted) if same_index_definition(&existing, &wanted) => Ok(Before::Done {
                    note: format!(
                        "index {name} already exists, valid and with the definition this statement builds (an earlier run built it): recorded as done without building it again"
                    ),
                }),
                Ok(_) => Ok(Before::Conflict {
                    message: format!(
                        "index {name} already exists, valid, with another definition: it is `{existing}`; the migration builds `{statement}`. Drop or rename the existing index (then `pgkeel repair --resolve-failed` and `pgkeel up` build it), or, if the existing one is what the migration should have built, record the segment as done with `pgkeel repair --segment-done`"
                    ),
                    retryable: false,
                }),
                Err(e) => Ok(Before::Conflict {
                    message: format!(
                        "index {name} already exists and is valid, but its definition could not be compared with the statement's ({}): it is `{existing}`; the migration builds `{statement}`. If they are the same, record the segment as done with `pgkeel repair --segment-done`; otherwise drop or rename the existing index",
                        super::describe_pg_error(&e)
                    ),
                    retryable: false,
                }),
            }
        }
        EffectCheck::DropIndex { indexes } => {
            let names: Vec<String> = indexes.iter().map(qualified).collect();
            let shown: Vec<String> = indexes
                .iter()
                .map(|(s, n)| s.as_ref().map_or_else(|| n.clone(), |s| format!("{s}.{n}")))
                .collect();
            let all_gone: bool = client
                .query_one(
                    "SELECT bool_and(to_regclass(n) IS NULL) FROM unnest($1::text[]) AS n",
                    &[&names],
                )
                .await?
                .get::<_, Option<bool>>(0)
                .unwrap_or(false);
            Ok(if all_gone {
                Before::Done {
                    note: format!(
                        "index {} is already gone: recorded as done without running the DROP",
                        shown.join(", ")
                    ),
                }
            } else {
                Before::Run
            })
        }
        EffectCheck::Reindex { index, table } => {
            // What an interrupted REINDEX CONCURRENTLY leaves: INVALID indexes named after the
            // original with `_ccnew`/`_ccold` (and a number) appended, on the same table.
            let rows = client
                .query(
                    "WITH target AS ( \
                        SELECT coalesce(to_regclass($2), \
                                        (SELECT indrelid FROM pg_index WHERE indexrelid = to_regclass($1))) AS rel, \
                               (SELECT relname FROM pg_class WHERE oid = to_regclass($1)) AS base) \
                     SELECT c.oid::regclass::text \
                       FROM target, pg_index i JOIN pg_class c ON c.oid = i.indexrelid \
                      WHERE i.indrelid = target.rel AND NOT i.indisvalid \
                        AND CASE WHEN target.base IS NULL THEN c.relname ~ '_cc(new|old)[0-9]*$' \
                                 ELSE left(c.relname, length(target.base)) = target.base \
                                      AND substr(c.relname, length(target.base) + 1) ~ '^_cc(new|old)[0-9]*$' END \
                      ORDER BY 1",
                    &[&index.as_ref().map(qualified), &table.as_ref().map(qualified)],
                )
                .await?;
            let leftovers: Vec<String> = rows.iter().map(|r| r.get(0)).collect();
            Ok(if leftovers.is_empty() {
                Before::Run
            } else {
                Before::CleanThenRun {
                    cleanup: leftovers
                        .iter()
                        .map(|n| format!("DROP INDEX CONCURRENTLY IF EXISTS {n}"))
                        .collect(),
                    note: format!(
                        "an interrupted REINDEX CONCURRENTLY left INVALID {}: dropped before rebuilding",
                        leftovers.join(", ")
                    ),
                }
            })
        }
        EffectCheck::DetachPartition { parent, partition } => {
            let row = client
                .query_one(
                    "SELECT to_regclass($1)::text, to_regclass($2)::text, \
                            (SELECT i.inhdetachpending FROM pg_inherits i \
                              WHERE i.inhrelid = to_regclass($2) AND i.inhparent = to_regclass($1))",
                    &[&qualified(parent), &qualified(partition)],
                )
                .await?;
            let (parent, partition, pending): (Option<String>, Option<String>, Option<bool>) =
                (row.get(0), row.get(1), row.get(2));
            let (Some(parent), Some(partition)) = (parent, partition) else {
                return Ok(Before::Run);
            };
            Ok(match pending {
                None => Before::Done {
                    note: format!("{partition} is no longer a partition of {parent}: recorded as done"),
                },
                Some(true) => Before::Instead {
                    sql: format!("ALTER TABLE {parent} DETACH PARTITION {partition} FINALIZE"),
                    note: format!(
                        "an interrupted DETACH PARTITION … CONCURRENTLY left {partition} pending detach: finished it with FINALIZE"
                    ),
                },
                Some(false) => Before::Run,
            })
        }
    }
}

/// The definition `probe_sql` builds, in `pg_get_indexdef`'s words: the statement run on an
/// empty copy of the table (`LIKE`, in `pg_temp`), in a transaction that is rolled back, with a
/// short lock timeout (the copy reads the table's definition under ACCESS SHARE).
async fn probe_index_definition(
    client: &Client,
    table: &Name,
    probe_sql: &str,
) -> Result<String, tokio_postgres::Error> {
    let built = client
        .batch_execute(&format!(
            "BEGIN; SET LOCAL lock_timeout = '2s'; \
             CREATE TEMP TABLE {} (LIKE {}) ON COMMIT DROP; {probe_sql};",
            PROBE_TABLE.trim_start_matches("pg_temp."),
            qualified(table)
        ))
        .await;
    if let Err(e) = built {
        let _ = client.batch_execute("ROLLBACK").await;
        return Err(e);
    }
    let def = client
        .query_one(
            &format!(
                "SELECT pg_get_indexdef({}::regclass)",
                literal(&format!("pg_temp.{PROBE_INDEX}"))
            ),
            &[],
        )
        .await;
    let ended = client.batch_execute("ROLLBACK").await;
    let def = def?.get(0);
    ended?;
    Ok(def)
}

/// Who blocks `pid` right now (the sessions `pg_blocking_pids` names), one line each:
/// `pid 4242 (psql, user app, idle in transaction since 2026-…): LOCK TABLE orders`.
pub async fn blockers(observer: &Client, pid: i32) -> Result<Vec<String>, tokio_postgres::Error> {
    let rows = observer
        .query(
            "SELECT a.pid, coalesce(nullif(a.application_name, ''), '-'), coalesce(a.usename::text, '-'), \
                    coalesce(a.state, '-'), to_char(a.xact_start AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), \
                    left(regexp_replace(coalesce(a.query, ''), '\\s+', ' ', 'g'), 200) \
               FROM pg_stat_activity a WHERE a.pid = ANY (pg_blocking_pids($1)) ORDER BY a.pid",
            &[&pid],
        )
        .await?;
    Ok(rows
        .iter()
        .map(|r| {
            let since: Option<String> = r.get(4);
            format!(
                "pid {} ({}, user {}, {}{}): {}",
                r.get::<_, i32>(0),
                r.get::<_, String>(1),
                r.get::<_, String>(2),
                r.get::<_, String>(3),
                since.map_or(String::new(), |s| format!(" since {s}")),
                r.get::<_, String>(5)
            )
        })
        .collect())
}
