//! The checks before a non-transactional segment (crate::segment, db::segment) on a real server:
//! each statement kind in each state its effect can be in, including the leftovers of really
//! interrupted REINDEX CONCURRENTLY and DETACH PARTITION CONCURRENTLY.

use std::time::{Duration, Instant};

use pgkeel_engine::db::segment::{before, Before};
use pgkeel_engine::segment::effect_check;
use pgkeel_engine::statements;
use pgkeel_testkit::TestDb;
use tokio_postgres::Client;

async fn decide(c: &Client, sql: &str) -> Before {
    let split = statements::split(sql, 0..sql.len());
    let s = &split.statements[0];
    let check = effect_check(s).unwrap_or_else(|| panic!("{sql}: no check"));
    before(c, &check, &s.sql).await
}

fn note(b: &Before) -> &str {
    match b {
        Before::Done { note }
        | Before::Instead { note, .. }
        | Before::CleanThenRun { note, .. } => note,
        Before::Conflict { message, .. } => message,
        Before::Run => "",
    }
}

#[tokio::test]
async fn create_index_compares_definitions_in_the_servers_words() {
    let t = TestDb::new().await;
    let c = t.client().await;
    c.batch_execute(
        "CREATE SCHEMA app; CREATE TABLE app.users (id int, email text, deleted_at timestamptz);",
    )
    .await
    .unwrap();
    let sql = "CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS users_email ON app.users USING btree (lower(email)) WHERE deleted_at IS NULL;";
    assert_eq!(decide(&c, sql).await, Before::Run, "no index yet");

    // The same definition written differently (no USING, other spacing and case): done.
    c.batch_execute(
        "create unique index users_email on app.users ((lower(email))) where (deleted_at is null)",
    )
    .await
    .unwrap();
    let b = decide(&c, sql).await;
    assert!(matches!(b, Before::Done { .. }), "{b:?}");
    assert!(
        note(&b).contains("app.users_email already exists, valid"),
        "{b:?}"
    );

    // Another definition (not unique): an error naming both.
    c.batch_execute("DROP INDEX app.users_email; CREATE INDEX users_email ON app.users (lower(email)) WHERE deleted_at IS NULL")
        .await
        .unwrap();
    let b = decide(&c, sql).await;
    assert!(
        matches!(b, Before::Conflict { retryable: false, .. })
            && note(&b).contains("CREATE INDEX users_email ON app.users USING btree (lower(email)) WHERE (deleted_at IS NULL)")
            && note(&b).contains(sql.trim_end_matches(';')),
        "{b:?}"
    );

    // An index of that name on another table of the schema.
    c.batch_execute("DROP INDEX app.users_email; CREATE TABLE app.other (email text); CREATE UNIQUE INDEX users_email ON app.other (lower(email))")
        .await
        .unwrap();
    let b = decide(&c, sql).await;
    assert!(
        note(&b).contains("already exists on another table"),
        "{b:?}"
    );

    // INVALID (marked so, as a failed build leaves it): drop and rebuild.
    c.batch_execute("DROP INDEX app.users_email; CREATE UNIQUE INDEX users_email ON app.users (lower(email)) WHERE deleted_at IS NULL; \
                     UPDATE pg_index SET indisvalid = false WHERE indexrelid = 'app.users_email'::regclass")
        .await
        .unwrap();
    assert_eq!(
        decide(&c, sql).await,
        Before::CleanThenRun {
            cleanup: vec!["DROP INDEX CONCURRENTLY IF EXISTS app.users_email".into()],
            note: "index app.users_email was left INVALID by an interrupted or failed build: dropped it and built it again".into(),
        }
    );
}

#[tokio::test]
async fn drop_index_gone_is_done() {
    let t = TestDb::new().await;
    let c = t.client().await;
    c.batch_execute("CREATE TABLE t (x int); CREATE INDEX t_x ON t (x)")
        .await
        .unwrap();
    let sql = "DROP INDEX CONCURRENTLY t_x;";
    assert_eq!(decide(&c, sql).await, Before::Run);
    c.batch_execute("DROP INDEX t_x").await.unwrap();
    assert!(matches!(decide(&c, sql).await, Before::Done { .. }));
}

/// Start `sql` on its own connection, wait until it has run `after`, cancel it, and wait for
/// the cancel to land.
async fn cancel_after(t: &TestDb, c: &Client, sql: &str, after: Duration) {
    let worker = t.client().await;
    let pid: i32 = worker
        .query_one("SELECT pg_backend_pid()", &[])
        .await
        .unwrap()
        .get(0);
    let sql = sql.to_string();
    let task = tokio::spawn(async move { worker.batch_execute(&sql).await });
    tokio::time::sleep(after).await;
    c.execute("SELECT pg_cancel_backend($1)", &[&pid])
        .await
        .unwrap();
    let r = task.await.unwrap();
    assert!(r.is_err(), "the statement was to be cancelled");
}

#[tokio::test]
async fn interrupted_reindex_concurrently_leftovers_are_dropped() {
    let t = TestDb::new().await;
    let c = t.client().await;
    c.batch_execute(
        "CREATE FUNCTION slow(x int) RETURNS int LANGUAGE plpgsql IMMUTABLE AS $$ BEGIN PERFORM pg_sleep(0.1); RETURN x; END $$;\n\
         CREATE TABLE t (x int); INSERT INTO t SELECT generate_series(1, 10);\n\
         CREATE INDEX t_slow ON t (slow(x)); CREATE INDEX t_plain ON t (x);",
    )
    .await
    .unwrap();
    let sql = "REINDEX INDEX CONCURRENTLY t_slow;";
    assert_eq!(decide(&c, sql).await, Before::Run, "nothing left over yet");
    cancel_after(&t, &c, sql, Duration::from_millis(400)).await;
    let left: Vec<String> = c
        .query("SELECT c.relname::text FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid WHERE NOT i.indisvalid", &[])
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(
        left,
        ["t_slow_ccnew"],
        "premise: the cancelled rebuild left its copy"
    );
    let b = decide(&c, sql).await;
    assert_eq!(
        b,
        Before::CleanThenRun {
            cleanup: vec!["DROP INDEX CONCURRENTLY IF EXISTS t_slow_ccnew".into()],
            note: "an interrupted REINDEX CONCURRENTLY left INVALID t_slow_ccnew: dropped before rebuilding".into(),
        }
    );
    // The table form finds it too; another index's name does not match.
    assert!(matches!(
        decide(&c, "REINDEX TABLE CONCURRENTLY t;").await,
        Before::CleanThenRun { .. }
    ));
    assert_eq!(
        decide(&c, "REINDEX INDEX CONCURRENTLY t_plain;").await,
        Before::Run
    );
}

#[tokio::test]
async fn interrupted_detach_concurrently_is_finalized_and_a_detached_one_is_done() {
    let t = TestDb::new().await;
    let c = t.client().await;
    c.batch_execute(
        "CREATE TABLE ev (at date, v int) PARTITION BY RANGE (at);\n\
         CREATE TABLE ev_2024 PARTITION OF ev FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');",
    )
    .await
    .unwrap();
    let sql = "ALTER TABLE ev DETACH PARTITION ev_2024 CONCURRENTLY;";
    assert_eq!(decide(&c, sql).await, Before::Run, "still attached");
    // A reader of the partitioned table holds the detach in its second phase; cancel it there.
    let reader = t.client().await;
    reader
        .batch_execute("BEGIN ISOLATION LEVEL REPEATABLE READ; SELECT count(*) FROM ev")
        .await
        .unwrap();
    cancel_after(&t, &c, sql, Duration::from_millis(500)).await;
    reader.batch_execute("COMMIT").await.unwrap();
    let pending: bool = c
        .query_one(
            "SELECT inhdetachpending FROM pg_inherits WHERE inhrelid = 'ev_2024'::regclass",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert!(pending, "premise: the cancelled detach is pending");
    let b = decide(&c, sql).await;
    assert_eq!(
        b,
        Before::Instead {
            sql: "ALTER TABLE ev DETACH PARTITION ev_2024 FINALIZE".into(),
            note: "an interrupted DETACH PARTITION … CONCURRENTLY left ev_2024 pending detach: finished it with FINALIZE".into(),
        }
    );
    let start = Instant::now();
    c.batch_execute("ALTER TABLE ev DETACH PARTITION ev_2024 FINALIZE")
        .await
        .unwrap();
    assert!(start.elapsed() < Duration::from_secs(10));
    assert!(matches!(decide(&c, sql).await, Before::Done { .. }));
}
