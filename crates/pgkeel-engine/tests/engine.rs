//! Engine tests on a real PostgreSQL server, a database of their own each (see pgkeel-testkit).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use pgkeel_engine::config::{Config, Overrides, SystemEnvironment};
use pgkeel_engine::migrator::{RepairAction, UpOptions};
use pgkeel_engine::plan::State;
use pgkeel_engine::{Error, Event, Events, Migrator};
use pgkeel_testkit::{Project, TestDb};

mod support;
use support::{migrator, migrator_with};

async fn up(m: &Migrator) -> pgkeel_engine::migrator::UpReport {
    m.up(&UpOptions::default()).await.expect("up")
}

async fn scalar_i64(db: &TestDb, sql: &str) -> i64 {
    db.client()
        .await
        .query_one(sql, &[])
        .await
        .expect(sql)
        .get(0)
}

async fn exists(db: &TestDb, relation: &str) -> bool {
    db.client()
        .await
        .query_one("SELECT to_regclass($1) IS NOT NULL", &[&relation])
        .await
        .expect("to_regclass")
        .get(0)
}

#[tokio::test]
async fn applies_in_version_order_and_records_history_and_audit() {
    let db = TestDb::new().await;
    let p = Project::new();
    p.write("migrations/100_c.sql", "INSERT INTO seen VALUES ('100');");
    p.write("migrations/99_b.sql", "INSERT INTO seen VALUES ('99');");
    p.write(
        "migrations/000_a.sql",
        "CREATE TABLE seen (v text, at timestamptz DEFAULT clock_timestamp());",
    );
    p.write(
        "migrations/20240101_d.sql",
        "INSERT INTO seen VALUES ('20240101');",
    );
    let m = migrator(&p, &db);
    let report = up(&m).await;
    assert!(report.failure.is_none());
    assert!(report.history_created);
    assert_eq!(report.planned, ["000", "99", "100", "20240101"]);
    let c = db.client().await;
    let order: Vec<String> = c
        .query("SELECT v FROM seen ORDER BY at", &[])
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(order, ["99", "100", "20240101"]);
    let row = c
        .query_one(
            "SELECT status, applied_by, application_name, segments_done, segments_total, duration_ms IS NOT NULL \
             FROM pgkeel.migrations WHERE version = '99'",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(row.get::<_, String>(0), "applied");
    assert_eq!(row.get::<_, String>(1), "postgres");
    assert_eq!(
        row.get::<_, Option<String>>(2).as_deref(),
        Some("pgkeel up")
    );
    assert_eq!((row.get::<_, i32>(3), row.get::<_, i32>(4)), (1, 1));
    assert!(row.get::<_, bool>(5));
    assert_eq!(
        scalar_i64(
            &db,
            "SELECT count(*) FROM pgkeel.audit_log WHERE action = 'apply'"
        )
        .await,
        4
    );
    // The audit log is append-only.
    for sql in [
        "DELETE FROM pgkeel.audit_log",
        "UPDATE pgkeel.audit_log SET action = 'x'",
        "TRUNCATE pgkeel.audit_log",
    ] {
        let err = c.execute(sql, &[]).await.unwrap_err();
        let msg = err
            .as_db_error()
            .map(|d| d.message().to_string())
            .unwrap_or_default();
        assert!(msg.contains("append-only"), "{sql}: {err:?}");
    }

    let status = m.status().await.unwrap();
    assert!(status.plan.is_clean());
    assert_eq!(up(&m).await.planned.len(), 0);
}

#[tokio::test]
async fn failure_points_at_file_line_and_column_and_leaves_no_trace() {
    let db = TestDb::new().await;
    let p = Project::new();
    p.write(
        "migrations/001_broken.sql",
        "-- comment line\nCREATE TABLE a (id int);\nINSERT INTO a VALUES (1);\n  SELECT id FROM a WHERE nope = 1;\nCREATE TABLE b (id int);\n",
    );
    let m = migrator(&p, &db);
    let report = up(&m).await;
    let f = report.failure.expect("failure");
    assert_eq!(f.statement, Some(3));
    assert_eq!(f.sqlstate.as_deref(), Some("42703"));
    // The server points at `nope`: line 4, column 26 of the file.
    assert_eq!((f.line, f.column), (Some(4), Some(26)));
    assert!(f.outcome.contains("nothing of this migration was applied"));
    assert!(
        !exists(&db, "a").await,
        "statement 1 must have been rolled back"
    );
    let status = m.status().await.unwrap();
    assert_eq!(status.plan.entries[0].state, State::Failed);
    let recorded = status.plan.entries[0]
        .history
        .as_ref()
        .unwrap()
        .error
        .clone()
        .unwrap();
    assert_eq!(recorded["sqlstate"], "42703");
    // up refuses until resolved.
    match m.up(&UpOptions::default()).await {
        Err(Error::Blocked(b)) => assert!(b[0].fix.contains("--resolve-failed 001")),
        other => panic!("expected Blocked, got {other:?}"),
    }
    p.write(
        "migrations/001_broken.sql",
        "CREATE TABLE a (id int);\nINSERT INTO a VALUES (1);\nCREATE TABLE b (id int);\n",
    );
    m.repair(&RepairAction::ResolveFailed("001".into()))
        .await
        .unwrap();
    let report = up(&m).await;
    assert!(report.failure.is_none(), "{:?}", report.failure);
    assert_eq!(scalar_i64(&db, "SELECT count(*) FROM a").await, 1);
}

#[tokio::test]
async fn a_commit_time_failure_rolls_the_migration_back() {
    let db = TestDb::new().await;
    let p = Project::new();
    p.write(
        "migrations/001_deferred.sql",
        "CREATE TABLE parent (id int PRIMARY KEY);\n\
         CREATE TABLE child (pid int REFERENCES parent DEFERRABLE INITIALLY DEFERRED);\n\
         INSERT INTO child VALUES (42);\n",
    );
    let m = migrator(&p, &db);
    let f = up(&m).await.failure.expect("deferred FK fails at commit");
    assert_eq!(f.sqlstate.as_deref(), Some("23503"));
    assert_eq!(f.statement, None);
    assert!(f.message.contains("while committing"), "{}", f.message);
    assert!(!exists(&db, "parent").await);
}

#[tokio::test]
async fn mixed_segments_resume_after_the_last_completed_one() {
    let db = TestDb::new().await;
    let p = Project::new();
    let body = |last: &str| {
        format!(
            "CREATE TABLE a (id int);\nINSERT INTO a VALUES (1);\n\
             CREATE INDEX CONCURRENTLY a_id_idx ON a (id);\n\
             CREATE TABLE b (id int);\n{last}\n"
        )
    };
    p.write("migrations/001_mixed.sql", body("SELECT 1/0;"));
    let m = migrator(&p, &db);
    let f = up(&m).await.failure.expect("division by zero");
    assert_eq!(f.statement, Some(5));
    assert!(
        f.outcome.contains("segments 1–2 of 3 completed"),
        "{}",
        f.outcome
    );
    assert!(exists(&db, "a_id_idx").await);
    assert!(
        !exists(&db, "b").await,
        "the failed transactional segment is rolled back"
    );
    let status = m.status().await.unwrap();
    let e = &status.plan.entries[0];
    assert_eq!(
        (e.state, e.segments_done, e.segments_total),
        (State::Failed, Some(2), Some(3))
    );

    // Fix the last statement: the file changed after a partial run, so it is `modified` until
    // the edit is accepted; then resolving resumes at segment 3 only.
    p.write("migrations/001_mixed.sql", body("SELECT 1;"));
    let status = m.status().await.unwrap();
    assert_eq!(status.plan.entries[0].state, State::Failed);
    m.repair(&RepairAction::ResolveFailed("001".into()))
        .await
        .unwrap();
    let report = up(&m).await;
    assert!(report.failure.is_none(), "{:?}", report.failure);
    assert_eq!(report.applied[0].resumed_from, 2);
    // Segment 1 did not run again (one row, not two) and the index was not rebuilt.
    assert_eq!(scalar_i64(&db, "SELECT count(*) FROM a").await, 1);
    assert!(exists(&db, "b").await);
    let valid: bool = db
        .client()
        .await
        .query_one(
            "SELECT indisvalid FROM pg_index WHERE indexrelid = 'a_id_idx'::regclass",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert!(valid);
}

#[tokio::test]
async fn interrupted_runs_are_explained_and_resumed() {
    let db = TestDb::new().await;
    let p = Project::new();
    p.write("migrations/001_a.sql", "CREATE TABLE a (id int);\n");
    let m = migrator(&p, &db);
    up(&m).await;
    p.write(
        "migrations/002_b.sql",
        "CREATE TABLE b (id int);\nCREATE INDEX CONCURRENTLY b_idx ON b (id);\nCREATE TABLE c (id int);\n",
    );
    // What a killed applier leaves behind after its first segment committed.
    let checksum = m.discover().unwrap().migrations[1].checksum.clone();
    let c = db.client().await;
    c.batch_execute("CREATE TABLE b (id int)").await.unwrap();
    c.execute(
        "INSERT INTO pgkeel.migrations (version, name, path, checksum, status, statements, segments_total, segments_done, started_at) \
         VALUES ('002', 'b', 'migrations/002_b.sql', $1, 'running', 3, 3, 1, now())",
        &[&checksum],
    )
    .await
    .unwrap();
    let status = m.status().await.unwrap();
    assert_eq!(status.plan.entries[1].state, State::Interrupted);
    let report = up(&m).await;
    assert!(report.failure.is_none(), "{:?}", report.failure);
    assert_eq!(report.applied[0].resumed_from, 1);
    assert!(exists(&db, "b_idx").await && exists(&db, "c").await);
}

#[tokio::test]
async fn dry_run_changes_nothing_and_rehearses_concurrently() {
    let db = TestDb::new().await;
    let p = Project::new();
    p.write("migrations/001_a.sql", "CREATE TABLE a (id int);\n");
    p.write(
        "migrations/002_idx.sql",
        "CREATE INDEX CONCURRENTLY a_idx ON a (id);\nCOMMENT ON INDEX a_idx IS 'needs the index';\nVACUUM a;\n",
    );
    let m = migrator(&p, &db);
    let report = m
        .up(&UpOptions {
            dry_run: true,
            ..UpOptions::default()
        })
        .await
        .unwrap();
    assert!(report.failure.is_none(), "{:?}", report.failure);
    let dry = report.dry_run_result.unwrap();
    assert_eq!(dry.items[1].rehearsed_without_concurrently, [1]);
    assert_eq!(dry.items[1].skipped[0].kind, "VACUUM");
    assert!(!exists(&db, "a").await);
    assert!(
        !exists(&db, "pgkeel.migrations").await,
        "a dry run creates no history"
    );

    // With history present, a failing dry run still changes nothing.
    up(&m).await;
    p.write(
        "migrations/003_bad.sql",
        "CREATE TABLE z (id int);\nSELECT 1/0;\n",
    );
    let before = scalar_i64(&db, "SELECT count(*) FROM pgkeel.migrations").await;
    let report = m
        .up(&UpOptions {
            dry_run: true,
            ..UpOptions::default()
        })
        .await
        .unwrap();
    assert_eq!(report.failure.unwrap().statement, Some(2));
    assert_eq!(
        scalar_i64(&db, "SELECT count(*) FROM pgkeel.migrations").await,
        before
    );
    assert!(!exists(&db, "z").await);
}

#[tokio::test]
async fn settings_do_not_leak_from_one_migration_into_the_next() {
    let db = TestDb::new().await;
    let p = Project::new();
    p.write(
        "migrations/001_a.sql",
        "CREATE SCHEMA other;\nSET search_path = other;\nSET statement_timeout = 1;\n",
    );
    p.write(
        "migrations/002_b.sql",
        "CREATE TABLE lands_in_public (id int);\nSELECT pg_sleep(0.05);\n",
    );
    let m = migrator(&p, &db);
    let report = up(&m).await;
    assert!(report.failure.is_none(), "{:?}", report.failure);
    assert!(exists(&db, "public.lands_in_public").await);
}

#[tokio::test]
async fn lock_and_statement_timeouts_apply_to_migrations() {
    let db = TestDb::new().await;
    let p = Project::new();
    p.write("migrations/001_a.sql", "CREATE TABLE a (id int);\n");
    let m = migrator(&p, &db);
    up(&m).await;
    p.write("migrations/002_b.sql", "ALTER TABLE a ADD COLUMN x int;\n");
    // Another session holds a lock on `a`: with lock_timeout 200ms the ALTER gives up quickly.
    let blocker = db.client().await;
    blocker
        .batch_execute("BEGIN; LOCK TABLE a IN ACCESS SHARE MODE;")
        .await
        .unwrap();
    let m = migrator_with(&p, &db, |c| c.lock_timeout = Duration::from_millis(200));
    let f = up(&m).await.failure.expect("lock timeout");
    assert_eq!(f.sqlstate.as_deref(), Some("55P03"));
    blocker.batch_execute("ROLLBACK").await.unwrap();

    p.write("migrations/003_slow.sql", "SELECT pg_sleep(2);\n");
    let m = migrator_with(&p, &db, |c| {
        c.statement_timeout = Duration::from_millis(100)
    });
    // The lock timeout changed nothing: 002 stays pending and needs no repair.
    let report = up(&m).await;
    assert_eq!(report.applied.len(), 1);
    assert_eq!(report.failure.unwrap().sqlstate.as_deref(), Some("57014"));
}

#[derive(Default)]
struct Recorder(Mutex<Vec<Event>>);
impl Events for Recorder {
    fn event(&self, e: Event) {
        self.0.lock().unwrap().push(e);
    }
}

#[tokio::test]
async fn concurrent_appliers_apply_each_migration_once() {
    let db = TestDb::new().await;
    let p = Project::new();
    p.write(
        "migrations/001_a.sql",
        "CREATE TABLE a (id int);\nINSERT INTO a VALUES (1);\n",
    );
    p.write(
        "migrations/002_idx.sql",
        "CREATE INDEX CONCURRENTLY a_idx ON a (id);\nSELECT pg_sleep(0.3);\n",
    );
    p.write("migrations/003_b.sql", "INSERT INTO a VALUES (2);\n");
    let rec1 = Arc::new(Recorder::default());
    let rec2 = Arc::new(Recorder::default());
    let m1 = migrator(&p, &db).with_events(rec1.clone());
    let m2 = migrator(&p, &db).with_events(rec2.clone());
    let opts = UpOptions::default();
    let (r1, r2) = tokio::time::timeout(Duration::from_secs(60), async {
        tokio::join!(m1.up(&opts), m2.up(&opts))
    })
    .await
    .expect("no deadlock");
    let (r1, r2) = (r1.unwrap(), r2.unwrap());
    assert!(r1.failure.is_none() && r2.failure.is_none());
    assert_eq!(
        r1.applied.len() + r2.applied.len(),
        3,
        "each migration exactly once"
    );
    assert_eq!(scalar_i64(&db, "SELECT count(*) FROM a").await, 2);
    assert_eq!(
        scalar_i64(
            &db,
            "SELECT count(*) FROM pgkeel.audit_log WHERE action = 'apply'"
        )
        .await,
        3
    );
    let waited = rec1
        .0
        .lock()
        .unwrap()
        .iter()
        .chain(rec2.0.lock().unwrap().iter())
        .any(|e| matches!(e, Event::LockWaiting { .. }));
    assert!(waited, "one applier waited for the other");
}

#[tokio::test]
async fn lock_timeout_names_the_holder() {
    let db = TestDb::new().await;
    let p = Project::new();
    p.write("migrations/001_a.sql", "SELECT 1;\n");
    let holder = db.client().await;
    let key = pgkeel_engine::db::lock::lock_key("pgkeel");
    holder
        .batch_execute("SET application_name = 'other applier'")
        .await
        .unwrap();
    holder
        .query_one("SELECT pg_advisory_lock($1)", &[&key])
        .await
        .unwrap();
    let m = migrator_with(&p, &db, |c| {
        c.lock_wait_timeout = Duration::from_millis(300)
    });
    match m.up(&UpOptions::default()).await {
        Err(Error::LockTimeout {
            holder: Some(h), ..
        }) => {
            assert_eq!(h.application_name, "other applier");
            assert!(h.since.is_some());
        }
        other => panic!("expected a lock timeout naming the holder, got {other:?}"),
    }
}

#[tokio::test]
async fn modified_missing_and_out_of_order_block_until_repaired() {
    let db = TestDb::new().await;
    let p = Project::new();
    p.write("migrations/001_a.sql", "CREATE TABLE a (id int);\n");
    p.write("migrations/003_c.sql", "CREATE TABLE c (id int);\n");
    p.write("migrations/004_d.sql", "CREATE TABLE d (id int);\n");
    let m = migrator(&p, &db);
    up(&m).await;
    p.write(
        "migrations/001_a.sql",
        "CREATE TABLE a (id int, note text);\n",
    );
    p.write("migrations/002_b.sql", "CREATE TABLE b (id int);\n");
    p.remove("migrations/004_d.sql");
    let states: Vec<State> = m
        .status()
        .await
        .unwrap()
        .plan
        .entries
        .iter()
        .map(|e| e.state)
        .collect();
    assert_eq!(
        states,
        [
            State::Modified,
            State::OutOfOrder,
            State::Applied,
            State::Missing
        ]
    );
    let Err(Error::Blocked(b)) = m.up(&UpOptions::default()).await else {
        panic!("expected blocked");
    };
    assert_eq!(b.len(), 3);

    m.repair(&RepairAction::AcceptChecksum("001".into()))
        .await
        .unwrap();
    m.repair(&RepairAction::Forget("004".into())).await.unwrap();
    let Err(Error::Blocked(b)) = m.up(&UpOptions::default()).await else {
        panic!("out of order still blocks");
    };
    assert_eq!(b[0].state, State::OutOfOrder);
    let m = migrator_with(&p, &db, |c| c.allow_out_of_order = true);
    assert_eq!(up(&m).await.applied.len(), 1);
    let audit = m.audit_log(10).await.unwrap();
    let actions: Vec<&str> = audit.iter().map(|a| a.action.as_str()).collect();
    assert!(actions.contains(&"repair_accept_checksum") && actions.contains(&"repair_forget"));
    let accept = audit
        .iter()
        .find(|a| a.action == "repair_accept_checksum")
        .unwrap();
    assert!(
        accept.details["old_checksum"].is_string() && accept.details["new_checksum"].is_string()
    );
}

#[tokio::test]
async fn baseline_adopts_an_existing_database() {
    let db = TestDb::new().await;
    db.client()
        .await
        .batch_execute("CREATE TABLE legacy (id int)")
        .await
        .unwrap();
    let p = Project::new();
    p.write(
        "migrations/001_legacy.sql",
        "CREATE TABLE legacy (id int);\n",
    );
    p.write("migrations/002_new.sql", "CREATE TABLE fresh (id int);\n");
    let m = migrator(&p, &db);
    let b = m.baseline("001").await.unwrap();
    assert_eq!(b.baselined, ["001"]);
    let report = up(&m).await;
    assert_eq!(report.planned, ["002"]);
    assert!(exists(&db, "fresh").await);
    assert_eq!(
        scalar_i64(
            &db,
            "SELECT count(*) FROM pgkeel.audit_log WHERE action = 'baseline'"
        )
        .await,
        1
    );
}

#[tokio::test]
async fn history_schema_is_configurable_and_a_newer_format_is_refused() {
    let db = TestDb::new().await;
    let p = Project::new();
    p.write("migrations/001_a.sql", "SELECT 1;\n");
    let m = migrator_with(&p, &db, |c| c.history_schema = "keel_history".into());
    up(&m).await;
    assert!(exists(&db, "keel_history.migrations").await);
    db.client()
        .await
        .batch_execute("INSERT INTO keel_history.history_format (format) VALUES (99)")
        .await
        .unwrap();
    match m.status().await {
        Err(Error::HistoryTooNew { found: 99, .. }) => {}
        other => panic!("expected HistoryTooNew, got {:?}", other.map(|_| ())),
    }
}

#[tokio::test]
async fn unparsable_sql_is_sent_whole_and_still_located() {
    let db = TestDb::new().await;
    let p = Project::new();
    p.write(
        "migrations/001_bad.sql",
        "CREATE TABLE a (id int);\nCREATE TABLE b (id int;\n",
    );
    let m = migrator(&p, &db);
    let report = up(&m).await;
    assert_eq!(report.parse_warnings.len(), 1);
    let f = report.failure.expect("syntax error");
    assert_eq!(f.sqlstate.as_deref(), Some("42601"));
    assert_eq!(f.statement, None);
    assert_eq!(f.line, Some(2));
    assert!(!exists(&db, "a").await);
}

#[tokio::test]
async fn wrong_credentials_and_unreachable_servers_fail_clearly_without_passwords() {
    let p = Project::new();
    p.write("migrations/001_a.sql", "SELECT 1;\n");
    let flags = Overrides {
        database_url: Some("postgres://nobody:hunter22secret@127.0.0.1:1/none".into()),
        log_file: Some("off".into()),
        ..Overrides::default()
    };
    let config = Config::resolve(p.root().to_path_buf(), None, &SystemEnvironment, &flags).unwrap();
    let err = Migrator::new(config).status().await.unwrap_err();
    let text = err.to_string();
    assert!(matches!(err, Error::Connect { .. }), "{text}");
    assert!(
        text.contains("postgres://nobody:***@127.0.0.1:1/none"),
        "{text}"
    );
    assert!(!text.contains("hunter22secret"), "{text}");
}

#[tokio::test]
async fn history_row_commits_with_the_migration_even_if_the_running_marker_fails() {
    let db = TestDb::new().await;
    let p = Project::new();
    p.write("migrations/001_a.sql", "CREATE TABLE a (id int);\n");
    let m = migrator(&p, &db);
    up(&m).await;
    // Make every `running` marker insert fail.
    db.client()
        .await
        .batch_execute(
            "CREATE FUNCTION pgkeel.no_running() RETURNS trigger LANGUAGE plpgsql AS \
             $$ BEGIN RAISE EXCEPTION 'marker refused'; END $$; \
             CREATE TRIGGER no_running BEFORE INSERT ON pgkeel.migrations FOR EACH ROW \
             WHEN (NEW.status = 'running') EXECUTE FUNCTION pgkeel.no_running();",
        )
        .await
        .unwrap();
    p.write("migrations/002_b.sql", "CREATE TABLE b (id int);\n");
    let report = up(&m).await;
    assert!(report.failure.is_none(), "{:?}", report.failure);
    assert!(exists(&db, "b").await);
    let status = m.status().await.unwrap();
    assert!(status.plan.is_clean(), "{:?}", status.plan);
}

#[tokio::test]
async fn baseline_needs_the_exact_version_of_a_file() {
    let db = TestDb::new().await;
    let p = Project::new();
    p.write("migrations/001_a.sql", "CREATE TABLE a (id int);\n");
    p.write("migrations/20240101_b.sql", "CREATE TABLE b (id int);\n");
    let m = migrator(&p, &db);
    // A typo of a timestamp would otherwise baseline every sequential file before it.
    assert!(matches!(
        m.baseline("1999").await,
        Err(Error::UnknownVersion { .. })
    ));
    assert!(matches!(m.baseline("abc").await, Err(Error::Config(_))));
    assert!(!exists(&db, "pgkeel.migrations").await, "nothing recorded");
}

#[tokio::test]
async fn new_files_go_beside_their_scheme_and_get_distinct_versions() {
    let db = TestDb::new().await;
    let p = Project::new();
    p.write("migrations/20240101120000_ts.sql", "SELECT 1;\n");
    p.write("migrations/legacy/041_seq.sql", "SELECT 1;\n");
    let m = migrator_with(&p, &db, |c| {
        c.folders = vec!["migrations".into(), "migrations/legacy".into()]
    });
    let seq = m
        .new_migration("backfill", pgkeel_engine::migrator::NewScheme::Sequential)
        .unwrap();
    assert_eq!(seq.path, "migrations/legacy/042_backfill.sql");
    let a = m
        .new_migration("one", pgkeel_engine::migrator::NewScheme::Auto)
        .unwrap();
    let b = m
        .new_migration("two", pgkeel_engine::migrator::NewScheme::Auto)
        .unwrap();
    assert!(a.path.starts_with("migrations/2") && b.path.starts_with("migrations/2"));
    assert!(b.version > a.version, "{} then {}", a.version, b.version);
    assert_eq!(m.discover().unwrap().migrations.len(), 5);
}

#[tokio::test]
async fn status_blockers_follow_the_out_of_order_setting() {
    let db = TestDb::new().await;
    let p = Project::new();
    p.write("migrations/002_b.sql", "SELECT 1;\n");
    up(&migrator(&p, &db)).await;
    p.write("migrations/001_a.sql", "SELECT 1;\n");
    assert_eq!(migrator(&p, &db).status().await.unwrap().blockers.len(), 1);
    let m = migrator_with(&p, &db, |c| c.allow_out_of_order = true);
    assert!(m.status().await.unwrap().blockers.is_empty());
}
