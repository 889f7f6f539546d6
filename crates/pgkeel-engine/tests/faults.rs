//! Faults on a real server: a `SET` PostgreSQL refuses is an error before anything runs (never
//! a warning and a run without timeouts), the catalog deadline is the session's
//! statement_timeout but never cuts a migration, and a lost connection is `connection_lost`.

use std::time::Duration;

use pgkeel_engine::migrator::UpOptions;
use pgkeel_engine::{db, Error};
use pgkeel_testkit::{Project, TestDb};

mod support;
use support::migrator_with;

async fn exists(db: &TestDb, sql: &str) -> bool {
    db.client()
        .await
        .query_one(sql, &[])
        .await
        .expect(sql)
        .get(0)
}

#[tokio::test]
async fn a_set_postgresql_refuses_is_an_error_and_nothing_runs() {
    let db = TestDb::new().await;
    let p = Project::new();
    p.write("migrations/001_a.sql", "create table a(id bigint);\n");
    // Past config's own check (a server could refuse what config allows): 30 days.
    let m = migrator_with(&p, &db, |c| {
        c.lock_timeout = Duration::from_secs(30 * 86400)
    });
    for dry_run in [true, false] {
        let e = m
            .up(&UpOptions {
                dry_run,
                ..UpOptions::default()
            })
            .await
            .expect_err("a refused SET fails the run");
        let msg = e.to_string();
        assert!(matches!(e, Error::Config(_)), "{e:?}");
        assert!(
            msg.contains("PostgreSQL refused [apply] lock_timeout")
                && msg.contains("22023")
                && msg.contains("nothing ran"),
            "{msg}"
        );
        assert!(!msg.contains("could not mark"), "{msg}");
    }
    assert!(!exists(&db, "SELECT to_regclass('public.a') IS NOT NULL").await);
    assert!(
        !exists(
            &db,
            "SELECT to_regclass('pgkeel.migrations') IS NOT NULL \
             AND EXISTS (SELECT FROM pgkeel.migrations)"
        )
        .await
    );
}

#[tokio::test]
async fn the_catalog_deadline_is_the_sessions_statement_timeout_but_never_cuts_a_migration() {
    let db = TestDb::new().await;
    let conn = db::connect(&db.url, "test", None, Duration::from_millis(1500))
        .await
        .expect("connect");
    let row = conn
        .client
        .query_one("SHOW statement_timeout", &[])
        .await
        .unwrap();
    assert_eq!(row.get::<_, String>(0), "1500ms");
    let e = conn
        .client
        .batch_execute("SELECT pg_sleep(3)")
        .await
        .expect_err("a catalog-length deadline");
    assert_eq!(e.code().map(|c| c.code()), Some("57014"));
    // A statement_timeout in the URL's options wins.
    let url = format!(
        "{}{}options=-c%20statement_timeout%3D4321",
        db.url,
        if db.url.contains('?') { "&" } else { "?" }
    );
    let conn = db::connect(&url, "test", None, Duration::from_secs(2))
        .await
        .expect("connect");
    let row = conn
        .client
        .query_one("SHOW statement_timeout", &[])
        .await
        .unwrap();
    assert_eq!(row.get::<_, String>(0), "4321ms");

    // A migration longer than the deadline runs to the end ([apply] statement_timeout = 0).
    let p = Project::new();
    p.write(
        "migrations/001_slow.sql",
        "create table slow(id bigint);\nselect pg_sleep(2);\n",
    );
    let m = migrator_with(&p, &db, |c| c.connect_timeout = Duration::from_secs(1));
    let report = m.up(&UpOptions::default()).await.expect("up");
    assert!(report.failure.is_none(), "{:?}", report.failure);
    assert_eq!(report.applied.len(), 1);
    assert!(m.status().await.expect("status").plan.is_clean());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_terminated_backend_is_connection_lost_not_a_migration_failure() {
    let db = TestDb::new().await;
    let p = Project::new();
    p.write(
        "migrations/001_slow.sql",
        "create table slow(id bigint);\nselect pg_sleep(30);\n",
    );
    let m = migrator_with(&p, &db, |_| {});
    let killer = {
        let client = db.client().await;
        tokio::spawn(async move {
            for _ in 0..200 {
                let n: i64 = client
                    .query_one(
                        "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity \
                         WHERE datname = current_database() AND application_name = 'pgkeel up' \
                         AND query LIKE '%pg_sleep(30)%'",
                        &[],
                    )
                    .await
                    .unwrap()
                    .get(0);
                if n > 0 {
                    return true;
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            false
        })
    };
    let report = m.up(&UpOptions::default()).await.expect("up reports");
    assert!(killer.await.unwrap(), "the backend was never terminated");
    let f = report.failure.expect("a failure");
    assert!(f.connection_lost, "{f:?}");
    assert_eq!(
        (f.segment, f.segments, f.statement),
        (Some(1), Some(1), Some(2))
    );
    assert_eq!(
        Error::MigrationFailed(Box::new(f.clone())).code(),
        "connection_lost"
    );
    assert!(f.outcome.contains("interrupted"), "{}", f.outcome);
    // A new connection sees it interrupted, resumable.
    let st = m.status().await.expect("status");
    assert_eq!(st.plan.entries[0].state.as_str(), "interrupted");
}
