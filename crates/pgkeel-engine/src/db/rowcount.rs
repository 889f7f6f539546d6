//! Exact row counts of the tables a run of `up` touches, before and after (the row-count
//! report). Two queries per count: which of the names exist (`to_regclass`), then one
//! `SELECT (SELECT count(*) FROM a), (SELECT count(*) FROM b), …` for those that do.
//!
//! The report never waits on a table lock: a count that cannot get its lock within
//! [`COUNT_LOCK_TIMEOUT`] (another session holds the table, often the very lock a migration just
//! timed out on) falls back to the planner's estimate (`pg_class.reltuples`, read without
//! locking the table), marked `estimated`; after a migration lost a lock wait, the report goes
//! straight to the estimates.

use serde::Serialize;
use tokio_postgres::Client;

use crate::db::ident;
use crate::error::{Error, Result};
use crate::statements::Statement;
use crate::touch::{Effect, Touch};

/// One table's rows before and after `up`; `None`: the table did not exist then.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RowCount {
    /// As the migration names it: `schema.name`, or `name` (found through `search_path`).
    pub table: String,
    pub before: Option<i64>,
    pub after: Option<i64>,
    /// A side is the planner's estimate, not an exact count (the table was locked).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub estimated: bool,
}

impl RowCount {
    /// `table: before → after` (`-` = did not exist, `?` = no estimate), with `(estimated)`
    /// when one side is.
    pub fn line(&self) -> String {
        let n = |c: Option<i64>| match c {
            None => "-".to_string(),
            Some(c) if c < 0 => "?".to_string(),
            Some(c) => c.to_string(),
        };
        format!(
            "{}: {} → {}{}",
            self.table,
            n(self.before),
            n(self.after),
            if self.estimated {
                " (estimated: the table was locked)"
            } else {
                ""
            }
        )
    }
}

/// A table the statements touch: `(label, schema, name)`.
type Target = (String, Option<String>, String);

/// The tables `sql` (the statements of the migrations to run) creates, fills, changes or drops,
/// in the order first named; renamed tables under both names. Types, views and schemas are
/// left out.
pub fn targets<'a>(statements: impl IntoIterator<Item = &'a Statement>) -> Vec<Target> {
    let mut out: Vec<Target> = Vec::new();
    let mut add = |schema: &Option<String>, name: &str| {
        let label = match schema {
            Some(s) => format!("{s}.{name}"),
            None => name.to_string(),
        };
        if !out.iter().any(|(l, ..)| *l == label) {
            out.push((label, schema.clone(), name.to_string()));
        }
    };
    for s in statements {
        for Touch {
            schema,
            name,
            effect,
        } in s.touches().iter()
        {
            match effect {
                Effect::DropType
                | Effect::DropView
                | Effect::DropMaterializedView
                | Effect::DropSchema => {}
                Effect::RenameTable(new) => {
                    add(schema, name);
                    add(schema, new);
                }
                _ => add(schema, name),
            }
        }
    }
    out
}

/// How long the report may wait for a table lock (unless `[apply] lock_timeout` is shorter)
/// before it reads estimates instead: the report must never hold up `up` behind another
/// session's lock (nor run longer than the statement timeout on a huge table).
const COUNT_LOCK_TIMEOUT: std::time::Duration = std::time::Duration::from_millis(200);
const COUNT_STATEMENT_TIMEOUT: &str = "30s";

/// Counts for `targets` (`None` where the table does not exist now), and whether they are
/// estimates: exact in a READ ONLY transaction with short lock and statement timeouts that is
/// always rolled back; estimated when a table lock is not free within the lock timeout, or
/// right away with `wait = false`. `lock_timeout`: the migrations' own (`[apply]
/// lock_timeout`; zero = none), capped at [`COUNT_LOCK_TIMEOUT`].
pub async fn count(
    client: &Client,
    targets: &[Target],
    lock_timeout: std::time::Duration,
    wait: bool,
) -> Result<(Vec<Option<i64>>, bool)> {
    if targets.is_empty() {
        return Ok((Vec::new(), false));
    }
    if !wait {
        return Ok((estimate(client, targets).await?, true));
    }
    match exact(client, targets, lock_timeout).await {
        Err(Error::Db { source, .. })
            if source.code() == Some(&tokio_postgres::error::SqlState::LOCK_NOT_AVAILABLE) =>
        {
            Ok((estimate(client, targets).await?, true))
        }
        other => other.map(|c| (c, false)),
    }
}

/// The planner's row estimates (`reltuples`; -1 for a table never vacuumed or analysed, which
/// has none), read without locking the tables.
async fn estimate(client: &Client, targets: &[Target]) -> Result<Vec<Option<i64>>> {
    let rows = client
        .query(
            "SELECT CASE WHEN c.oid IS NULL THEN NULL WHEN c.reltuples < 0 THEN -1 ELSE c.reltuples::bigint END
               FROM unnest($1::text[]) WITH ORDINALITY AS n(name, i)
               LEFT JOIN pg_class c ON c.oid = to_regclass(n.name)
                 AND c.relkind IN ('r', 'p', 'f', 'm')
              ORDER BY n.i",
            &[&names(targets)],
        )
        .await
        .map_err(|e| Error::db("estimating rows for the row-count report", e))?;
    Ok(rows.iter().map(|r| r.get(0)).collect())
}

fn names(targets: &[Target]) -> Vec<String> {
    targets
        .iter()
        .map(|(_, schema, name)| match schema {
            Some(s) => format!("{}.{}", ident(s), ident(name)),
            None => ident(name),
        })
        .collect()
}

async fn exact(
    client: &Client,
    targets: &[Target],
    lock_timeout: std::time::Duration,
) -> Result<Vec<Option<i64>>> {
    crate::db::begin_bounded_read(
        client,
        lock_timeout,
        COUNT_LOCK_TIMEOUT,
        COUNT_STATEMENT_TIMEOUT,
        "row-count",
    )
    .await?;
    let counted = count_in_transaction(client, targets).await;
    let ended = client
        .batch_execute("ROLLBACK")
        .await
        .map_err(|e| Error::db("ending the row-count transaction", e));
    let counted = counted?;
    ended?;
    Ok(counted)
}

async fn count_in_transaction(client: &Client, targets: &[Target]) -> Result<Vec<Option<i64>>> {
    let names = names(targets);
    // Only tables (and partitioned, foreign tables, materialized views): a name that is a view
    // or a sequence now is left out.
    let rows = client
        .query(
            "SELECT c.oid::regclass::text
               FROM unnest($1::text[]) WITH ORDINALITY AS n(name, i)
               LEFT JOIN pg_class c ON c.oid = to_regclass(n.name)
                 AND c.relkind IN ('r', 'p', 'f', 'm')
              ORDER BY n.i",
            &[&names],
        )
        .await
        .map_err(|e| Error::db("looking up the tables for the row-count report", e))?;
    let existing: Vec<Option<String>> = rows.iter().map(|r| r.get(0)).collect();
    let selects: Vec<String> = existing
        .iter()
        .flatten()
        .map(|regclass| format!("(SELECT count(*) FROM {regclass})"))
        .collect();
    if selects.is_empty() {
        return Ok(vec![None; targets.len()]);
    }
    let row = client
        .query_one(&format!("SELECT {}", selects.join(", ")), &[])
        .await
        .map_err(|e| Error::db("counting rows for the row-count report", e))?;
    let mut counts = (0..row.len()).map(|i| row.get::<_, i64>(i));
    Ok(existing
        .iter()
        .map(|e| e.as_ref().and_then(|_| counts.next()))
        .collect())
}

/// The pre-flight half of the row-count report, kept until the post-flight.
pub(crate) struct RowCounter {
    targets: Vec<Target>,
    lock_timeout: std::time::Duration,
    before: std::result::Result<(Vec<Option<i64>>, bool), String>,
}

/// The longest a count may take on a live server: its lock wait ([`COUNT_LOCK_TIMEOUT`]) and
/// its statement timeout ([`COUNT_STATEMENT_TIMEOUT`]). The caller bounds each count by the
/// connect deadline plus this, so a server that stops answering cannot hold `up` there.
pub(crate) const COUNT_BOUND: std::time::Duration = std::time::Duration::from_millis(30_200);

type Counted = Result<(Vec<Option<i64>>, bool)>;

impl RowCounter {
    /// The tables the prepared migrations touch, not counted yet.
    pub(crate) fn new<'a>(
        prepared: impl Iterator<Item = &'a crate::migration::Prepared>,
        lock_timeout: std::time::Duration,
    ) -> RowCounter {
        RowCounter {
            targets: targets(prepared.flat_map(|p| p.statements.iter())),
            lock_timeout,
            before: Err("not counted".into()),
        }
    }

    /// Count the targets now (`wait = false`: estimates only, nothing waits). The caller
    /// bounds the wait (see [`COUNT_BOUND`]).
    pub(crate) async fn count(&self, client: &Client, wait: bool) -> Counted {
        count(client, &self.targets, self.lock_timeout, wait).await
    }

    /// Keep the pre-flight count. A failed count only skips the report, except a lost
    /// connection: the run would wait on the same silent server, so that error is returned.
    pub(crate) fn before(&mut self, counted: Counted) -> Result<()> {
        self.before = match counted {
            Ok(c) => Ok(c),
            Err(e @ Error::ConnectionLost { .. }) => return Err(e),
            Err(e) => Err(e.to_string()),
        };
        Ok(())
    }

    /// Pair the post-flight count with the pre-flight one; a failed count becomes a warning
    /// (the run's outcome stands).
    pub(crate) fn after(
        self,
        counted: Counted,
        warnings: &mut Vec<crate::discovery::Warning>,
    ) -> Vec<RowCount> {
        if self.targets.is_empty() {
            return Vec::new();
        }
        let after = counted.map_err(|e| e.to_string());
        match (self.before, after) {
            (Ok((before, est_before)), Ok((after, est_after))) => self
                .targets
                .into_iter()
                .zip(before.into_iter().zip(after))
                .map(|((table, ..), (before, after))| RowCount {
                    table,
                    before,
                    after,
                    estimated: est_before || est_after,
                })
                .collect(),
            (Err(e), _) | (_, Err(e)) => {
                let tables: Vec<&str> = self.targets.iter().map(|(l, ..)| l.as_str()).collect();
                warnings.push(crate::discovery::Warning {
                    path: tables.join(", "),
                    message: format!("row-count report skipped: {e}"),
                });
                Vec::new()
            }
        }
    }
}

#[cfg(test)]
mod line_tests {
    use super::RowCount;

    #[test]
    fn lines_show_missing_unknown_and_estimated() {
        let c = |before, after, estimated| RowCount {
            table: "items".into(),
            before,
            after,
            estimated,
        };
        assert_eq!(c(None, Some(4), false).line(), "items: - → 4");
        assert_eq!(
            c(Some(-1), Some(1200), true).line(),
            "items: ? → 1200 (estimated: the table was locked)"
        );
    }
}
