//! The SQL of a rollback: reading the backup catalog and the database's identity, running down
//! SQL, restoring backed-up rows, and recording the result. Orchestration (plan, token, order)
//! lives in [`crate::rollback`]; everything here runs inside the rollback's one transaction.

use std::collections::BTreeSet;

use tokio_postgres::{GenericClient, Transaction};

use super::ident;
use crate::error::{Error, MigrationFailure, Result};
use crate::rollback::plan::{Backup, BackupColumn, DatabaseIdentity, Target};

/// The database's identity for the plan digest. `system_identifier` is "" when the role may not
/// call `pg_control_system()` (the database name still binds the plan).
pub async fn identity(c: &impl GenericClient) -> Result<DatabaseIdentity> {
    let ctx = "reading the database identity";
    let row = c
        .query_one(
            "SELECT current_database()::text, has_function_privilege('pg_control_system()', 'EXECUTE')",
            &[],
        )
        .await
        .map_err(|e| Error::db(ctx, e))?;
    let database: String = row.get(0);
    let system_identifier = if row.get::<_, bool>(1) {
        c.query_one(
            "SELECT system_identifier::text FROM pg_control_system()",
            &[],
        )
        .await
        .map_err(|e| Error::db(ctx, e))?
        .get(0)
    } else {
        String::new()
    };
    Ok(DatabaseIdentity {
        system_identifier,
        database,
    })
}

/// The catalog rows of the backups taken by `versions` (any status); empty when there is no
/// catalog yet. `lock` takes row locks, so a concurrent prune waits for the rollback.
pub async fn backups_for(
    c: &impl GenericClient,
    schema: &str,
    versions: &[String],
    lock: bool,
) -> Result<Vec<Backup>> {
    let ctx = "reading the backup catalog";
    if !super::table_exists(c, schema, "backups", ctx).await? {
        return Ok(Vec::new());
    }
    let rows = c
        .query(
            &format!(
                "SELECT id, version, source_schema, source_table, backup_table, reason, row_count, checksum, \
                 bytes, columns, created_at, expires_at, status FROM {}.backups \
                 WHERE version = ANY($1) ORDER BY id{}",
                ident(schema),
                if lock { " FOR UPDATE" } else { "" }
            ),
            &[&versions],
        )
        .await
        .map_err(|e| Error::db(ctx, e))?;
    rows.iter()
        .map(|r| {
            let id: i64 = r.get(0);
            let columns: serde_json::Value = r.get(9);
            let columns: Vec<BackupColumn> = serde_json::from_value(columns).map_err(|e| {
                Error::Refused(format!(
                    "{schema}.backups id {id}: the `columns` entry is not a list of columns ({e})"
                ))
            })?;
            Ok(Backup {
                id,
                version: r.get(1),
                source_schema: r.get(2),
                source_table: r.get(3),
                backup_table: r.get(4),
                reason: r.get(5),
                row_count: r.get(6),
                checksum: r.get(7),
                bytes: r.get(8),
                columns,
                created_at: r.get(10),
                expires_at: r.get(11),
                status: r.get(12),
            })
        })
        .collect()
}

/// `SET LOCAL` the configured timeouts (as migrations get them) for the rollback's transaction.
pub async fn set_timeouts(
    tx: &Transaction<'_>,
    lock_timeout: std::time::Duration,
    statement_timeout: std::time::Duration,
) -> Result<()> {
    tx.batch_execute(&format!(
        "SET LOCAL lock_timeout = {}; SET LOCAL statement_timeout = {};",
        lock_timeout.as_millis(),
        statement_timeout.as_millis()
    ))
    .await
    .map_err(|e| Error::db("setting the rollback's timeouts", e))
}

/// A failure inside the rollback: the transaction is rolled back, nothing changed.
fn failure(
    target: &Target,
    statement: Option<usize>,
    message: String,
    e: Option<&tokio_postgres::Error>,
) -> Error {
    let db = e.and_then(|e| e.as_db_error());
    let message = match (e, db) {
        (Some(e), None) => format!("{message}: {}", super::describe_pg_error(e)),
        (Some(_), Some(d)) if !message.contains(d.message()) => {
            format!("{message}: {}", d.message())
        }
        _ => message,
    };
    Error::MigrationFailed(Box::new(MigrationFailure {
        version: target.version.clone(),
        path: target
            .down
            .as_ref()
            .map_or_else(|| target.path.clone(), |d| d.path.clone()),
        statement,
        line: None,
        column: None,
        sqlstate: db.map(|d| d.code().code().to_string()),
        message,
        detail: db.and_then(|d| d.detail().map(str::to_string)),
        hint: db.and_then(|d| d.hint().map(str::to_string)),
        context: db.and_then(|d| d.where_().map(str::to_string)),
        outcome: "the rollback ran in one transaction and was undone: nothing changed".into(),
        segment: None,
        segments: None,
        connection_lost: e.is_some_and(super::is_connection_error),
        blocked_by: Vec::new(),
    }))
}

/// Run a target's down SQL, statement by statement (so a failure names its statement).
pub async fn run_down(tx: &Transaction<'_>, target: &Target) -> Result<()> {
    let Some(down) = &target.down else {
        return Ok(());
    };
    for (i, sql) in down.statements.iter().enumerate() {
        if let Err(e) = tx.batch_execute(sql).await {
            let message = match e.as_db_error() {
                Some(d) => d.message().to_string(),
                None => super::describe_pg_error(&e),
            };
            return Err(failure(
                target,
                Some(i + 1),
                format!("down SQL of {}: {message}", target.version),
                Some(&e),
            ));
        }
    }
    Ok(())
}

/// A live table's column.
#[derive(Debug, Clone)]
struct LiveColumn {
    name: String,
    type_name: String,
    /// pg_attribute.attidentity: "" | "a" | "d".
    identity: String,
    /// pg_attribute.attgenerated: "" | "s".
    generated: String,
}

struct LiveTable {
    oid: i64,
    qualified: String,
    columns: Vec<LiveColumn>,
    pk: Vec<String>,
}

/// What restoring one backup did.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Restored {
    pub backup_id: i64,
    pub table: String,
    pub rows: i64,
    /// Columns copied from the backup.
    pub columns: Vec<String>,
    /// Backed-up columns the table no longer has (their values stay in the backup table).
    pub columns_not_restored: Vec<String>,
    /// Row count and checksum compared with the backup (the column sets were identical).
    pub verified: bool,
    /// Sequences moved forward past the restored values.
    pub sequences: Vec<String>,
}

async fn live_table(
    tx: &Transaction<'_>,
    target: &Target,
    b: &Backup,
    backup_schema: &str,
) -> Result<LiveTable> {
    let rows = tx
        .query(
            "SELECT c.oid::bigint, a.attname::text, format_type(a.atttypid, a.atttypmod), \
             a.attidentity::text, a.attgenerated::text \
             FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
             JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped \
             WHERE n.nspname = $1 AND c.relname = $2 AND c.relkind IN ('r', 'p') ORDER BY a.attnum",
            &[&b.source_schema, &b.source_table],
        )
        .await
        .map_err(|e| {
            failure(
                target,
                None,
                format!("reading table {}", b.source()),
                Some(&e),
            )
        })?;
    let Some(first) = rows.first() else {
        return Err(failure(
            target,
            None,
            format!(
                "table {} does not exist after the down SQL, so backup {} ({}.{}) cannot be restored; make the down SQL create it",
                b.source(),
                b.id,
                backup_schema,
                b.backup_table
            ),
            None,
        ));
    };
    let oid: i64 = first.get(0);
    let columns = rows
        .iter()
        .map(|r| LiveColumn {
            name: r.get(1),
            type_name: r.get(2),
            identity: r.get(3),
            generated: r.get(4),
        })
        .collect();
    let pk = tx
        .query(
            "SELECT a.attname::text FROM pg_index i \
             JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey) \
             WHERE i.indrelid = $1::bigint::oid AND i.indisprimary \
             ORDER BY array_position(i.indkey::int2[], a.attnum)",
            &[&oid],
        )
        .await
        .map_err(|e| {
            failure(
                target,
                None,
                format!("reading the primary key of {}", b.source()),
                Some(&e),
            )
        })?
        .iter()
        .map(|r| r.get(0))
        .collect();
    Ok(LiveTable {
        oid,
        qualified: format!("{}.{}", ident(&b.source_schema), ident(&b.source_table)),
        columns,
        pk,
    })
}

/// Order `tables` (by oid) so that a table comes after the tables it references (parents first).
async fn parents_first(tx: &Transaction<'_>, target: &Target, oids: &[i64]) -> Result<Vec<usize>> {
    let edges = tx
        .query(
            "SELECT conrelid::bigint, confrelid::bigint FROM pg_constraint \
             WHERE contype = 'f' AND conrelid::bigint = ANY($1) AND confrelid::bigint = ANY($1) AND conrelid <> confrelid",
            &[&oids],
        )
        .await
        .map_err(|e| failure(target, None, "reading foreign keys".into(), Some(&e)))?
        .iter()
        .map(|r| (r.get::<_, i64>(0), r.get::<_, i64>(1)))
        .collect::<Vec<_>>();
    // Kahn's algorithm over a handful of tables; a cycle keeps the remaining tables in catalog
    // order (their foreign keys then need to be deferrable, or the restore fails and is undone).
    let mut order = Vec::new();
    let mut placed = vec![false; oids.len()];
    while order.len() < oids.len() {
        let next = (0..oids.len()).find(|&i| {
            !placed[i]
                && !edges.iter().any(|(child, parent)| {
                    *child == oids[i]
                        && oids
                            .iter()
                            .position(|o| o == parent)
                            .is_some_and(|p| !placed[p])
                })
        });
        let i = next.unwrap_or_else(|| (0..oids.len()).find(|&i| !placed[i]).unwrap_or(0));
        placed[i] = true;
        order.push(i);
    }
    Ok(order)
}

/// A foreign key from a table outside the restore, with a referential action, into a restored
/// table (oid `referenced`).
struct OutsideAction {
    table: String,
    constraint: String,
    referenced: i64,
    /// e.g. `ON DELETE CASCADE`.
    actions: String,
}

async fn outside_actions(
    tx: &Transaction<'_>,
    target: &Target,
    oids: &[i64],
) -> Result<Vec<OutsideAction>> {
    let rows = tx
        .query(
            "SELECT format('%I.%I', n.nspname, c.relname), con.conname::text, con.confrelid::bigint, \
             concat_ws(', ', \
               CASE con.confdeltype WHEN 'c' THEN 'ON DELETE CASCADE' WHEN 'n' THEN 'ON DELETE SET NULL' WHEN 'd' THEN 'ON DELETE SET DEFAULT' END, \
               CASE con.confupdtype WHEN 'c' THEN 'ON UPDATE CASCADE' WHEN 'n' THEN 'ON UPDATE SET NULL' WHEN 'd' THEN 'ON UPDATE SET DEFAULT' END) \
             FROM pg_constraint con JOIN pg_class c ON c.oid = con.conrelid \
             JOIN pg_namespace n ON n.oid = c.relnamespace \
             WHERE con.contype = 'f' AND con.confrelid::bigint = ANY($1) AND NOT (con.conrelid::bigint = ANY($1)) \
               AND (con.confdeltype IN ('c', 'n', 'd') OR con.confupdtype IN ('c', 'n', 'd')) \
             ORDER BY 1, 2",
            &[&oids],
        )
        .await
        .map_err(|e| {
            failure(
                target,
                None,
                "reading foreign keys into the restored tables".into(),
                Some(&e),
            )
        })?;
    Ok(rows
        .iter()
        .map(|r| OutsideAction {
            table: r.get(0),
            constraint: r.get(1),
            referenced: r.get(2),
            actions: r.get(3),
        })
        .collect())
}

fn list(cols: &[&str], prefix: &str) -> String {
    cols.iter()
        .map(|c| format!("{prefix}{}", ident(c)))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The SQL that reads a backup's rows as records of the live table.
fn source_rows(backup_schema: &str, b: &Backup, qualified: &str) -> String {
    format!(
        "{}.{} AS pgkeel_b, LATERAL jsonb_populate_record(NULL::{qualified}, pgkeel_b.row) AS pgkeel_r",
        ident(backup_schema),
        ident(&b.backup_table)
    )
}

/// Row count and content checksum of a live table, computed with the backup's own query
/// ([`super::backup::rows_checksum_sql`]) over its rows as jsonb, so the two always agree.
pub async fn table_checksum(
    c: &impl GenericClient,
    qualified: &str,
) -> std::result::Result<(i64, String), tokio_postgres::Error> {
    let rows = format!("(SELECT to_jsonb(pgkeel_t) FROM {qualified} AS pgkeel_t)");
    let row = c
        .query_one(
            &format!(
                "SELECT (SELECT count(*)::bigint FROM {qualified}), ({})",
                super::backup::rows_checksum_sql(&rows)
            ),
            &[],
        )
        .await?;
    Ok((row.get(0), row.get(1)))
}

/// A user trigger (not internal: foreign keys' triggers are never touched) on a restored table
/// or one of its partitions, with its mode before the restore.
struct UserTrigger {
    table: String,
    name: String,
    /// pg_trigger.tgenabled: 'O' (origin), 'A' (always), 'R' (replica), 'D' (disabled).
    enabled: String,
}

/// Disable the enabled user triggers of the restored tables, in the rollback's transaction: a
/// restore puts back the rows as they were, and a BEFORE trigger that rewrites rows (or an AFTER
/// trigger that writes elsewhere) would make them something else. Foreign-key enforcement stays
/// on (its triggers are internal), unlike `session_replication_role = replica`, which would also
/// need a superuser. Partitions count (rows are routed into them). Needs the tables' owner;
/// [`enable_triggers`] puts each back as it was. Returns every user trigger of those tables,
/// partitioned parents first, disabled ones included: enabling a parent's trigger recurses into
/// its partitions, so a partition's own mode is set again after it.
async fn disable_triggers(
    tx: &Transaction<'_>,
    target: &Target,
    oids: &[i64],
) -> Result<Vec<UserTrigger>> {
    let rows = tx
        .query(
            "SELECT format('%I.%I', n.nspname, c.relname), t.tgname::text, t.tgenabled::text \
             FROM (SELECT relid, min(level) AS level FROM ( \
                     SELECT o.oid::oid AS relid, 0 AS level FROM unnest($1::bigint[]) AS o(oid) \
                     UNION ALL SELECT p.relid, p.level FROM unnest($1::bigint[]) AS o(oid), \
                       pg_partition_tree(o.oid::oid::regclass) AS p) AS tree GROUP BY relid) AS r \
             JOIN pg_trigger t ON t.tgrelid = r.relid JOIN pg_class c ON c.oid = t.tgrelid \
             JOIN pg_namespace n ON n.oid = c.relnamespace \
             WHERE NOT t.tgisinternal \
             ORDER BY r.level, 1, 2",
            &[&oids],
        )
        .await
        .map_err(|e| {
            failure(
                target,
                None,
                "reading the triggers of the restored tables".into(),
                Some(&e),
            )
        })?;
    let triggers: Vec<UserTrigger> = rows
        .iter()
        .map(|r| UserTrigger {
            table: r.get(0),
            name: r.get(1),
            enabled: r.get(2),
        })
        .collect();
    for t in triggers.iter().filter(|t| t.enabled != "D") {
        let sql = format!("ALTER TABLE {} DISABLE TRIGGER {}", t.table, ident(&t.name));
        if let Err(e) = tx.batch_execute(&sql).await {
            let not_owner = e.as_db_error().is_some_and(|d| {
                d.code() == &tokio_postgres::error::SqlState::INSUFFICIENT_PRIVILEGE
            });
            let message = if not_owner {
                format!(
                    "the restore of {} must keep its trigger {} from rewriting the restored rows, and disabling it (for the rollback's transaction only) needs the table's owner; run the rollback as the owner of {} (or a member of its owning role)",
                    t.table, t.name, t.table
                )
            } else {
                format!(
                    "disabling trigger {} on {} for the restore",
                    t.name, t.table
                )
            };
            return Err(failure(target, None, message, Some(&e)));
        }
    }
    Ok(triggers)
}

/// Put every trigger [`disable_triggers`] found back in its former mode, in its order.
async fn enable_triggers(
    tx: &Transaction<'_>,
    target: &Target,
    triggers: &[UserTrigger],
) -> Result<()> {
    for t in triggers {
        let mode = match t.enabled.as_str() {
            "A" => "ENABLE ALWAYS",
            "R" => "ENABLE REPLICA",
            "D" => "DISABLE",
            _ => "ENABLE",
        };
        let sql = format!("ALTER TABLE {} {mode} TRIGGER {}", t.table, ident(&t.name));
        tx.batch_execute(&sql).await.map_err(|e| {
            failure(
                target,
                None,
                format!(
                    "enabling trigger {} on {} again after the restore",
                    t.name, t.table
                ),
                Some(&e),
            )
        })?;
    }
    Ok(())
}

/// Restore the backups of one target into their (now existing) tables: user triggers off,
/// deletes children first, inserts parents first, sequences past the restored values, verify
/// what can be verified, triggers on again (all in the rollback's transaction).
pub async fn restore(
    tx: &Transaction<'_>,
    backup_schema: &str,
    target: &Target,
) -> Result<Vec<Restored>> {
    if target.backups.is_empty() {
        return Ok(Vec::new());
    }
    let mut tables = Vec::new();
    for b in &target.backups {
        tables.push(live_table(tx, target, b, backup_schema).await?);
    }
    let oids: Vec<i64> = tables.iter().map(|t| t.oid).collect();
    let triggers = disable_triggers(tx, target, &oids).await?;
    // On an error the transaction is rolled back, triggers included.
    let restored = restore_rows(tx, backup_schema, target, &tables, &oids).await?;
    enable_triggers(tx, target, &triggers).await?;
    Ok(restored)
}

async fn restore_rows(
    tx: &Transaction<'_>,
    backup_schema: &str,
    target: &Target,
    tables: &[LiveTable],
    oids: &[i64],
) -> Result<Vec<Restored>> {
    let order = parents_first(tx, target, oids).await?;

    struct Step {
        insert_cols: Vec<String>,
        update_cols: Vec<String>,
        keyed: bool,
        identity: bool,
        not_restored: Vec<String>,
    }
    let steps: Vec<Step> = target
        .backups
        .iter()
        .zip(tables)
        .map(|(b, t)| {
            let backed: BTreeSet<&str> = b
                .columns
                .iter()
                .filter(|c| !c.is_generated())
                .map(|c| c.name.as_str())
                .collect();
            let insert: Vec<&LiveColumn> = t
                .columns
                .iter()
                .filter(|c| c.generated.is_empty() && backed.contains(c.name.as_str()))
                .collect();
            let insert_names: BTreeSet<&str> = insert.iter().map(|c| c.name.as_str()).collect();
            let keyed = !t.pk.is_empty() && t.pk.iter().all(|k| insert_names.contains(k.as_str()));
            Step {
                insert_cols: insert.iter().map(|c| c.name.clone()).collect(),
                update_cols: insert
                    .iter()
                    .filter(|c| !t.pk.contains(&c.name) && c.identity != "a")
                    .map(|c| c.name.clone())
                    .collect(),
                keyed,
                identity: insert.iter().any(|c| !c.identity.is_empty()),
                not_restored: b
                    .columns
                    .iter()
                    .filter(|c| !c.is_generated() && !t.columns.iter().any(|l| l.name == c.name))
                    .map(|c| c.name.clone())
                    .collect(),
            }
        })
        .collect();

    // Tables outside this restore whose foreign key into a restored table has an action
    // (CASCADE, SET NULL, SET DEFAULT): the deletes and upserts below would silently change
    // their rows, which a rollback must never do. Their contents are checksummed before and
    // compared after; any change fails the rollback (it is undone). A plain NO ACTION /
    // RESTRICT key fails the offending statement by itself.
    let mut watched = Vec::new();
    for w in outside_actions(tx, target, oids).await? {
        let before = table_checksum(tx, &w.table).await.map_err(|e| {
            failure(
                target,
                None,
                format!("reading {} before the restore", w.table),
                Some(&e),
            )
        })?;
        watched.push((w, before));
    }
    // Deletes, children first: rows the backup does not have (keyed), or every row (no key).
    for &i in order.iter().rev() {
        let (b, t, s) = (&target.backups[i], &tables[i], &steps[i]);
        let sql = if s.keyed {
            let pk: Vec<&str> = t.pk.iter().map(String::as_str).collect();
            format!(
                "DELETE FROM {q} AS pgkeel_t WHERE ({}) NOT IN (SELECT {} FROM {})",
                list(&pk, "pgkeel_t."),
                list(&pk, "pgkeel_r."),
                source_rows(backup_schema, b, &t.qualified),
                q = t.qualified
            )
        } else {
            format!("DELETE FROM {}", t.qualified)
        };
        tx.execute(&sql, &[]).await.map_err(|e| {
            failure(
                target,
                None,
                format!(
                    "restoring {} from backup {}: removing rows the backup does not have",
                    b.source(),
                    b.id
                ),
                Some(&e),
            )
        })?;
    }
    // Inserts, parents first.
    let mut out = Vec::new();
    for &i in &order {
        let (b, t, s) = (&target.backups[i], &tables[i], &steps[i]);
        let cols: Vec<&str> = s.insert_cols.iter().map(String::as_str).collect();
        let rows = if cols.is_empty() {
            0
        } else {
            let conflict = if s.keyed {
                let pk: Vec<&str> = t.pk.iter().map(String::as_str).collect();
                if s.update_cols.is_empty() {
                    format!(" ON CONFLICT ({}) DO NOTHING", list(&pk, ""))
                } else {
                    format!(
                        " ON CONFLICT ({}) DO UPDATE SET {}",
                        list(&pk, ""),
                        s.update_cols
                            .iter()
                            .map(|c| format!("{0} = excluded.{0}", ident(c)))
                            .collect::<Vec<_>>()
                            .join(", ")
                    )
                }
            } else {
                String::new()
            };
            let sql = format!(
                "INSERT INTO {} ({}){} SELECT {} FROM {}{conflict}",
                t.qualified,
                list(&cols, ""),
                if s.identity {
                    " OVERRIDING SYSTEM VALUE"
                } else {
                    ""
                },
                list(&cols, "pgkeel_r."),
                source_rows(backup_schema, b, &t.qualified),
            );
            tx.execute(&sql, &[]).await.map_err(|e| {
                failure(
                    target,
                    None,
                    format!(
                        "restoring {} from backup {}: inserting the backed-up rows",
                        b.source(),
                        b.id
                    ),
                    Some(&e),
                )
            })? as i64
        };
        out.push((i, rows));
    }
    for (w, before) in &watched {
        let after = table_checksum(tx, &w.table).await.map_err(|e| {
            failure(
                target,
                None,
                format!("reading {} after the restore", w.table),
                Some(&e),
            )
        })?;
        if after != *before {
            // The query only returns keys into `oids`, so the position exists.
            let b = &target.backups[oids.iter().position(|o| *o == w.referenced).unwrap_or(0)];
            return Err(failure(
                target,
                None,
                format!(
                    "restoring {src} from backup {} would change {t}, a table outside the rollback, through its foreign key {} ({}): rows the restore removes from or rewrites in {src} are referenced there. Remove or re-point those rows of {t} first, then plan again",
                    b.id,
                    w.constraint,
                    w.actions,
                    src = b.source(),
                    t = w.table,
                ),
                None,
            ));
        }
    }
    // Sequences owned by restored columns (identity or serial): at least the column's maximum.
    let mut restored = Vec::new();
    for (i, rows) in out {
        let (b, t, s) = (&target.backups[i], &tables[i], &steps[i]);
        let mut sequences = Vec::new();
        for col in &s.insert_cols {
            let seq: Option<String> = tx
                .query_one(
                    "SELECT pg_get_serial_sequence($1, $2)",
                    &[&t.qualified, col],
                )
                .await
                .map_err(|e| {
                    failure(
                        target,
                        None,
                        format!("finding the sequence of {}.{col}", b.source()),
                        Some(&e),
                    )
                })?
                .get(0);
            let Some(seq) = seq else { continue };
            tx.execute(
                &format!(
                    "SELECT setval($1::text::regclass, pgkeel_m) FROM (SELECT max({})::bigint AS pgkeel_m FROM {}) AS pgkeel_x \
                     WHERE pgkeel_m IS NOT NULL AND pgkeel_m > coalesce(pg_sequence_last_value($1::text::regclass), pgkeel_m - 1)",
                    ident(col),
                    t.qualified
                ),
                &[&seq],
            )
            .await
            .map_err(|e| failure(target, None, format!("moving sequence {seq} past the restored values of {}.{col}", b.source()), Some(&e)))?;
            sequences.push(seq);
        }
        // Verify when the table has exactly the backed-up columns (names and types).
        let backed: BTreeSet<(&str, &str)> = b
            .columns
            .iter()
            .map(|c| (c.name.as_str(), c.type_name.as_str()))
            .collect();
        let live: BTreeSet<(&str, &str)> = t
            .columns
            .iter()
            .map(|c| {
                (
                    c.name.as_str(),
                    if b.columns.iter().all(|c| c.type_name.is_empty()) {
                        ""
                    } else {
                        c.type_name.as_str()
                    },
                )
            })
            .collect();
        let verified = !b.columns.is_empty() && backed == live;
        if verified {
            let (count, sum) = table_checksum(tx, &t.qualified).await.map_err(|e| {
                failure(target, None, format!("verifying {}", b.source()), Some(&e))
            })?;
            if count != b.row_count || sum != b.checksum {
                return Err(failure(
                    target,
                    None,
                    format!(
                        "restoring {} from backup {} did not reproduce the backup: the table has {count} rows with checksum {sum}, the backup {} rows with checksum {}",
                        b.source(),
                        b.id,
                        b.row_count,
                        b.checksum
                    ),
                    None,
                ));
            }
        }
        restored.push(Restored {
            backup_id: b.id,
            table: b.source(),
            rows,
            columns: s.insert_cols.clone(),
            columns_not_restored: s.not_restored.clone(),
            verified,
            sequences,
        });
    }
    Ok(restored)
}

/// Record the rollback: history rows to `rolled_back`, backups to `restored`, one audit row.
pub async fn record(
    tx: &Transaction<'_>,
    history_schema: &str,
    backup_schema: &str,
    versions: &[String],
    backup_ids: &[i64],
    oldest: &str,
    details: serde_json::Value,
) -> Result<()> {
    let h = ident(history_schema);
    tx.execute(
        &format!(
            "UPDATE {h}.migrations SET status = 'rolled_back', segments_done = 0, finished_at = clock_timestamp(), \
             backend_pid = pg_backend_pid(), error = NULL WHERE version = ANY($1)"
        ),
        &[&versions],
    )
    .await
    .map_err(|e| Error::db("marking the migrations rolled back", e))?;
    if !backup_ids.is_empty() {
        tx.execute(
            &format!(
                "UPDATE {}.backups SET restored_at = now(), status = 'restored' WHERE id = ANY($1)",
                ident(backup_schema)
            ),
            &[&backup_ids],
        )
        .await
        .map_err(|e| Error::db("marking the backups restored", e))?;
    }
    tx.execute(
        &format!(
            "INSERT INTO {h}.audit_log (action, version, details) VALUES ('rollback', $1, $2)"
        ),
        &[&oldest, &details],
    )
    .await
    .map_err(|e| Error::db("writing the audit log", e))?;
    Ok(())
}
