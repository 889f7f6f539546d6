//! Guarded ad-hoc SQL (`pgkeel sql`, and the MCP tool `execute_sql`).
//!
//! The guards are PostgreSQL's own, not string checks:
//! - **One statement**: the text is first prepared with the extended protocol, whose Parse step
//!   refuses more than one command (so `select 1; drop table x` never runs).
//! - **Read-only** (the default): it runs inside `BEGIN READ ONLY` with a `statement_timeout`, and
//!   the transaction is always rolled back. PostgreSQL refuses every write, `nextval`, and any
//!   attempt to switch the transaction to read-write once it has started.
//! - **Schema changes** (DDL), transaction control and COPY are refused before anything is sent,
//!   by classifying the statement with the same parser the migrations use: schema changes belong
//!   in migration files and history, and `COPY … TO PROGRAM` would run a shell command even in a
//!   read-only transaction.
//!
//! Values come back as text (what psql shows) via the simple protocol, behind the Parse check
//! above; numbers, booleans and JSON are turned into JSON values by column type. SELECT-like
//! statements are read through a cursor, `max_rows + 1` rows at a time at most, so a huge result
//! never lands in memory.

use std::time::Duration;

use serde::Serialize;
use squawk_syntax::ast::{self, AstNode};
use squawk_syntax::SourceFile;
use tokio_postgres::types::Type;
use tokio_postgres::{Client, SimpleQueryMessage};

use crate::error::{Error, Result};

/// How to run a query.
#[derive(Debug, Clone)]
pub struct QueryOptions {
    /// Run in a READ ONLY transaction that is rolled back (default true).
    pub read_only: bool,
    /// At most this many rows are returned (the rest are counted as truncated).
    pub max_rows: usize,
    pub statement_timeout: Duration,
}

impl Default for QueryOptions {
    fn default() -> Self {
        QueryOptions {
            read_only: true,
            max_rows: 100,
            statement_timeout: Duration::from_secs(30),
        }
    }
}

/// A column of the result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ColumnInfo {
    pub name: String,
    /// The PostgreSQL type name, e.g. `int4`, `text`, `timestamptz`.
    pub r#type: String,
}

/// What a query returned.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct QueryOutput {
    /// The command tag's verb, e.g. `SELECT`, `INSERT`, `EXPLAIN`.
    pub command: String,
    pub columns: Vec<ColumnInfo>,
    /// Each row as an array of JSON values, in column order.
    pub rows: Vec<Vec<serde_json::Value>>,
    /// True when more rows existed than `max_rows`.
    pub truncated: bool,
    /// Rows affected by INSERT/UPDATE/DELETE/MERGE, when the server says.
    pub rows_affected: Option<u64>,
    pub read_only: bool,
}

/// What the parser says about a statement: why it is refused, or whether it can be read through
/// a cursor. One parse per call.
struct Classified {
    refusal: Option<String>,
    cursor: bool,
    /// The parser read it as exactly one statement.
    single: bool,
}

fn classify(sql: &str) -> Classified {
    let parse = SourceFile::parse(sql);
    // If the parser cannot read it, let PostgreSQL judge it: its Parse step still enforces a
    // single statement and the READ ONLY transaction still refuses writes.
    if !parse.errors().is_empty() {
        return Classified {
            refusal: None,
            cursor: false,
            single: false,
        };
    }
    let stmts: Vec<ast::Stmt> = parse.tree().stmts().collect();
    let refusal = refusal_of(&stmts);
    let single = stmts.len() == 1;
    let cursor = refusal.is_none() && single && cursor_friendly(&stmts[0]);
    Classified {
        refusal,
        cursor,
        single,
    }
}

/// Why a statement is refused before it is sent (for tests: classify's refusal).
#[cfg(test)]
fn refusal(sql: &str) -> Option<String> {
    classify(sql).refusal
}

fn refusal_of(stmts: &[ast::Stmt]) -> Option<String> {
    if stmts.len() > 1 {
        return Some(format!(
            "{} statements given; execute_sql runs exactly one statement per call",
            stmts.len()
        ));
    }
    let stmt = stmts.first()?;
    use ast::Stmt as S;
    // The AST has one variant per CREATE/ALTER/DROP form (over a hundred); their names say what
    // they are, so the variant name is read rather than listing them all.
    let name = format!("{stmt:?}");
    let variant = name.split('(').next().unwrap_or("");
    let ddl = variant.starts_with("Create")
        || variant.starts_with("Alter")
        || variant.starts_with("Drop")
        || matches!(
            stmt,
            S::CommentOn(_)
                | S::Grant(_)
                | S::Revoke(_)
                | S::SecurityLabel(_)
                | S::SelectInto(_)
                | S::ImportForeignSchema(_)
                | S::Reassign(_)
                | S::DropOwned(_)
        );
    if ddl {
        return Some(
            "schema changes (DDL) are not run here: write them as a migration (MCP: plan_migration, then apply_migration; CLI: pgkeel new, then pgkeel up) so they land in a file and in history".into(),
        );
    }
    if matches!(
        stmt,
        S::Begin(_)
            | S::Commit(_)
            | S::Rollback(_)
            | S::SavepointCreate(_)
            | S::ReleaseSavepoint(_)
            | S::PrepareTransaction(_)
            | S::SetTransaction(_)
            | S::SetSessionAuth(_)
            | S::SetRole(_)
            | S::ResetRole(_)
            | S::ResetSessionAuth(_)
            | S::Discard(_)
    ) {
        return Some(
            "transaction control and role/session switches are refused: each call runs in a transaction of its own".into(),
        );
    }
    if matches!(stmt, S::Copy(_)) {
        return Some("COPY is refused (COPY … TO PROGRAM runs shell commands); use SELECT".into());
    }
    if matches!(
        stmt,
        S::Vacuum(_)
            | S::Reindex(_)
            | S::Cluster(_)
            | S::Checkpoint(_)
            | S::Load(_)
            | S::Listen(_)
            | S::Notify(_)
    ) {
        return Some(
            "maintenance and session statements are refused here; run them from a migration or psql".into(),
        );
    }
    None
}

/// True for statements that can be read through a cursor.
fn cursor_friendly(stmt: &ast::Stmt) -> bool {
    use ast::Stmt as S;
    use squawk_syntax::SyntaxKind as K;
    // A data-modifying WITH (`WITH d AS (DELETE …) SELECT …`) parses as a SELECT, but a cursor
    // cannot hold it.
    let modifies = stmt.syntax().descendants_with_tokens().any(|t| {
        matches!(
            t.kind(),
            K::INSERT_KW | K::UPDATE_KW | K::DELETE_KW | K::MERGE_KW
        )
    });
    !modifies
        && matches!(
            stmt,
            S::Select(_) | S::CompoundSelect(_) | S::Values(_) | S::Table(_) | S::ParenSelect(_)
        )
}

/// Run one statement under the guards above: one round trip for a read-only statement the
/// parser could read, two otherwise (see the comments inside).
pub async fn run(client: &Client, sql: &str, opts: &QueryOptions) -> Result<QueryOutput> {
    let sql = sql.trim();
    if sql.is_empty() {
        return Err(Error::Refused("empty SQL".into()));
    }
    let classified = classify(sql);
    if let Some(why) = classified.refusal {
        return Err(Error::Refused(why));
    }
    let begin = format!(
        "{}; SET LOCAL statement_timeout = {}",
        if opts.read_only {
            "BEGIN READ ONLY"
        } else {
            "BEGIN"
        },
        opts.statement_timeout.as_millis().max(1)
    );
    let limit = opts.max_rows;
    let end = if opts.read_only { "ROLLBACK" } else { "COMMIT" };
    // One simple-query string per round trip: the server then answers it with a single flush.
    // The statement is followed by a newline so a trailing `--` comment cannot swallow what
    // comes after it.
    let (batch, result_index) = if classified.cursor {
        (
            format!(
                "DECLARE pgkeel_query NO SCROLL CURSOR FOR {sql}\n; FETCH FORWARD {} FROM pgkeel_query; CLOSE pgkeel_query; {end}",
                limit + 1
            ),
            1,
        )
    } else {
        (format!("{sql}\n; {end}"), 0)
    };

    // PostgreSQL's Parse step (extended protocol) refuses more than one command. In write mode
    // it gates the statement: nothing runs until it passed. In read-only mode, when the parser
    // has already read exactly one statement, the statement is pipelined right behind it (one
    // round trip): the READ ONLY transaction refuses any write, and the Parse of the same text
    // fails exactly when the statement would.
    let (started, prepared, ran) = if opts.read_only && classified.single {
        let (a, b, c) = futures_util::future::join3(
            client.batch_execute(&begin),
            client.prepare(sql),
            client.simple_query(&batch),
        )
        .await;
        (a, b, Some(c))
    } else {
        let (a, b) =
            futures_util::future::join(client.batch_execute(&begin), client.prepare(sql)).await;
        (a, b, None)
    };
    let prepared = match (started, prepared) {
        (Ok(()), Ok(p)) => p,
        (Err(e), _) | (Ok(()), Err(e)) => {
            let _ = client.batch_execute("ROLLBACK").await;
            return Err(Error::db("the statement was refused", e));
        }
    };
    let columns: Vec<ColumnInfo> = prepared
        .columns()
        .iter()
        .map(|c| ColumnInfo {
            name: c.name().to_string(),
            r#type: c.type_().name().to_string(),
        })
        .collect();
    let types: Vec<Type> = prepared
        .columns()
        .iter()
        .map(|c| c.type_().clone())
        .collect();
    let ran = match ran {
        Some(r) => r,
        None => client.simple_query(&batch).await,
    };
    let messages = match ran {
        Ok(m) => m,
        Err(e) => {
            // The statements after the failing one were skipped, the transaction stays open.
            let _ = client.batch_execute("ROLLBACK").await;
            return Err(Error::db("the query failed", e));
        }
    };
    // Keep only the messages of the statement whose rows we want.
    let mut index = 0;
    let messages: Vec<SimpleQueryMessage> = messages
        .into_iter()
        .filter(|m| {
            let keep = index == result_index;
            if matches!(m, SimpleQueryMessage::CommandComplete(_)) {
                index += 1;
            }
            keep
        })
        .collect();

    let mut rows = Vec::new();
    let mut total = 0usize;
    let mut tag_rows = None;
    for m in messages {
        match m {
            SimpleQueryMessage::Row(r) => {
                total += 1;
                if rows.len() < limit {
                    rows.push(
                        (0..r.len())
                            .map(|i| to_json(r.get(i), types.get(i)))
                            .collect(),
                    );
                }
            }
            SimpleQueryMessage::CommandComplete(n) => tag_rows = Some(n),
            _ => {}
        }
    }
    let command = sql
        .split_whitespace()
        .next()
        .map(|w| w.trim_start_matches('(').to_ascii_uppercase())
        .unwrap_or_default();
    let writes = matches!(
        command.as_str(),
        "INSERT" | "UPDATE" | "DELETE" | "MERGE" | "WITH"
    );
    Ok(QueryOutput {
        command,
        columns,
        rows,
        truncated: total > limit,
        rows_affected: tag_rows.filter(|_| writes),
        read_only: opts.read_only,
    })
}

/// A text value as JSON, by column type.
fn to_json(text: Option<&str>, ty: Option<&Type>) -> serde_json::Value {
    use serde_json::Value;
    let Some(text) = text else {
        return Value::Null;
    };
    match ty {
        Some(t) if *t == Type::BOOL => Value::Bool(text == "t"),
        Some(t) if [Type::INT2, Type::INT4, Type::INT8, Type::OID].contains(t) => text
            .parse::<i64>()
            .map(Value::from)
            .unwrap_or_else(|_| Value::String(text.to_string())),
        Some(t) if [Type::FLOAT4, Type::FLOAT8].contains(t) => text
            .parse::<f64>()
            .ok()
            .and_then(serde_json::Number::from_f64)
            .map(Value::Number)
            .unwrap_or_else(|| Value::String(text.to_string())),
        Some(t) if [Type::JSON, Type::JSONB].contains(t) => {
            serde_json::from_str(text).unwrap_or_else(|_| Value::String(text.to_string()))
        }
        // numeric stays a string: JSON numbers would lose its precision.
        _ => Value::String(text.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_ddl_transaction_control_and_copy() {
        for sql in [
            "create table x (id int)",
            "alter table x add column y int",
            "drop table x",
            "comment on table x is 'y'",
            "grant select on x to public",
            "select * into newtable from x",
        ] {
            assert!(refusal(sql).unwrap().contains("migration"), "{sql}");
        }
        for sql in [
            "commit",
            "begin",
            "set transaction read write",
            "set role postgres",
        ] {
            assert!(refusal(sql).unwrap().contains("transaction"), "{sql}");
        }
        assert!(refusal("copy x to program 'id'").unwrap().contains("COPY"));
        assert!(refusal("select 1; select 2")
            .unwrap()
            .contains("exactly one"));
        assert!(refusal("select * from x where y = 1").is_none());
        assert!(refusal("insert into x values (1) returning *").is_none());
        assert!(refusal("explain select 1").is_none());
    }

    #[test]
    fn values_become_json_by_type() {
        assert_eq!(
            to_json(Some("t"), Some(&Type::BOOL)),
            serde_json::json!(true)
        );
        assert_eq!(
            to_json(Some("42"), Some(&Type::INT8)),
            serde_json::json!(42)
        );
        assert_eq!(
            to_json(Some("1.5"), Some(&Type::FLOAT8)),
            serde_json::json!(1.5)
        );
        assert_eq!(
            to_json(Some("NaN"), Some(&Type::FLOAT8)),
            serde_json::json!("NaN")
        );
        assert_eq!(
            to_json(Some("{\"a\":1}"), Some(&Type::JSONB)),
            serde_json::json!({"a": 1})
        );
        assert_eq!(
            to_json(Some("1.10"), Some(&Type::NUMERIC)),
            serde_json::json!("1.10")
        );
        assert_eq!(to_json(None, Some(&Type::TEXT)), serde_json::Value::Null);
    }
}
