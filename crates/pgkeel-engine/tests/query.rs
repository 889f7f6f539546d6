//! Guarded ad-hoc SQL on a real server: PostgreSQL itself enforces read-only and one statement.

use pgkeel_engine::db::{self, query};
use pgkeel_engine::Error;
use pgkeel_testkit::TestDb;

async fn setup() -> (TestDb, db::Connection) {
    let t = TestDb::new().await;
    t.client()
        .await
        .batch_execute(
            "CREATE TABLE items (id int PRIMARY KEY, name text, price numeric(10,2), tags jsonb, ok bool);\n\
             INSERT INTO items SELECT g, 'item ' || g, g * 1.5, jsonb_build_object('g', g), g % 2 = 0 FROM generate_series(1, 500) g;\n\
             CREATE SEQUENCE s;\n\
             CREATE FUNCTION sneaky() RETURNS int LANGUAGE sql VOLATILE AS $$ INSERT INTO items (id) VALUES (9999) RETURNING id $$;",
        )
        .await
        .unwrap();
    let conn = db::connect(
        &t.url,
        "test",
        None,
        pgkeel_engine::config::DEFAULT_CONNECT_TIMEOUT,
    )
    .await
    .unwrap();
    (t, conn)
}

fn ro() -> query::QueryOptions {
    query::QueryOptions::default()
}

async fn refused(conn: &db::Connection, sql: &str) -> String {
    match query::run(&conn.client, sql, &ro()).await {
        Err(e @ (Error::Refused(_) | Error::Db { .. })) => format!("{e}"),
        other => panic!("{sql}: expected a refusal, got {other:?}"),
    }
}

#[tokio::test]
async fn reads_rows_as_typed_json_and_truncates() {
    let (t, conn) = setup().await;
    let out = query::run(
        &conn.client,
        "SELECT id, name, price, tags, ok FROM items ORDER BY id",
        &query::QueryOptions {
            max_rows: 3,
            ..ro()
        },
    )
    .await
    .unwrap();
    assert_eq!(out.command, "SELECT");
    assert_eq!(out.columns[2].r#type, "numeric");
    assert_eq!(out.rows.len(), 3);
    assert!(out.truncated);
    assert_eq!(
        out.rows[1],
        vec![
            serde_json::json!(2),
            serde_json::json!("item 2"),
            serde_json::json!("3.00"),
            serde_json::json!({"g": 2}),
            serde_json::json!(true)
        ]
    );
    let out = query::run(&conn.client, "EXPLAIN SELECT * FROM items", &ro())
        .await
        .unwrap();
    assert!(!out.rows.is_empty());
    drop(t);
}

#[tokio::test]
async fn read_only_escapes_are_refused_by_postgres_or_before_sending() {
    let (t, conn) = setup().await;
    for sql in [
        "COMMIT; DELETE FROM items",
        "BEGIN; DELETE FROM items",
        "SET TRANSACTION READ WRITE",
        "select 1; delete from items",
        "COPY items TO PROGRAM 'touch /tmp/pwned'",
        "DROP TABLE items",
        "CREATE TABLE x (id int)",
    ] {
        let msg = refused(&conn, sql).await;
        assert!(!msg.is_empty(), "{sql}");
    }
    // Writes that only the server can see through: a volatile function, nextval, a CTE.
    for sql in [
        "SELECT sneaky()",
        "SELECT nextval('s')",
        "WITH d AS (DELETE FROM items RETURNING id) SELECT count(*) FROM d",
        "DELETE FROM items",
        "SELECT set_config('transaction_read_only', 'off', false)",
    ] {
        let msg = refused(&conn, sql).await;
        assert!(
            msg.contains("25006") || msg.contains("25001"),
            "{sql}: {msg}"
        );
    }
    // Two statements the parser cannot read still stop at PostgreSQL's Parse step.
    let msg = refused(&conn, "select 1; selec 2").await;
    assert!(msg.contains("42601"), "{msg}");
    let count: i64 = t
        .client()
        .await
        .query_one("SELECT count(*) FROM items", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(count, 500, "nothing changed");
    // The connection is usable afterwards (every transaction was closed).
    assert!(query::run(&conn.client, "SELECT 1", &ro()).await.is_ok());
}

#[tokio::test]
async fn statement_timeout_and_write_mode() {
    let (t, conn) = setup().await;
    let opts = query::QueryOptions {
        statement_timeout: std::time::Duration::from_millis(100),
        ..ro()
    };
    let msg = match query::run(&conn.client, "SELECT pg_sleep(2)", &opts).await {
        Err(e) => e.to_string(),
        Ok(o) => panic!("expected a timeout, got {o:?}"),
    };
    assert!(msg.contains("57014"), "{msg}");
    let write = query::QueryOptions {
        read_only: false,
        ..ro()
    };
    let out = query::run(
        &conn.client,
        "UPDATE items SET name = 'x' WHERE id <= 10",
        &write,
    )
    .await
    .unwrap();
    assert_eq!(out.rows_affected, Some(10));
    let n: i64 = t
        .client()
        .await
        .query_one("SELECT count(*) FROM items WHERE name = 'x'", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(n, 10, "write mode commits");
    let msg = match query::run(&conn.client, "ALTER TABLE items ADD COLUMN z int", &write).await {
        Err(e) => e.to_string(),
        Ok(o) => panic!("DDL must be refused in write mode too, got {o:?}"),
    };
    assert!(msg.contains("migration"), "{msg}");
}

#[tokio::test]
async fn a_trailing_comment_cannot_swallow_the_end_of_the_transaction() {
    let (t, conn) = setup().await;
    let out = query::run(
        &conn.client,
        "SELECT count(*) FROM items -- how many?",
        &ro(),
    )
    .await
    .unwrap();
    assert_eq!(out.rows[0][0], serde_json::json!(500));
    let write = query::QueryOptions {
        read_only: false,
        ..ro()
    };
    let out = query::run(
        &conn.client,
        "DELETE FROM items WHERE id = 1 -- just one",
        &write,
    )
    .await
    .unwrap();
    assert_eq!(out.rows_affected, Some(1));
    // Committed, and no transaction left open on the connection.
    let n: i64 = t
        .client()
        .await
        .query_one("SELECT count(*) FROM items", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(n, 499);
    let status = conn
        .client
        .query_one("SELECT count(*) FROM pg_stat_activity WHERE pid = pg_backend_pid() AND xact_start IS NOT NULL AND state = 'idle in transaction'", &[])
        .await
        .unwrap()
        .get::<_, i64>(0);
    assert_eq!(status, 0);
}
