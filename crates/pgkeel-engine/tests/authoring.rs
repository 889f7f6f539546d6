//! Writing new migrations from SQL (what the MCP tools plan_migration / apply_migration call).

use pgkeel_engine::authoring::NewMigration;
use pgkeel_engine::Error;
use pgkeel_testkit::{Project, TestDb};

mod support;
use support::migrator;

fn req(name: &str, sql: &str) -> NewMigration {
    NewMigration {
        name: name.into(),
        sql: sql.into(),
        version: None,
        down: None,
    }
}

fn sql_files(p: &Project) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(p.root().join("migrations"))
        .map(|d| {
            d.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

async fn exists(db: &TestDb, rel: &str) -> bool {
    db.client()
        .await
        .query_one("SELECT to_regclass($1) IS NOT NULL", &[&rel])
        .await
        .unwrap()
        .get(0)
}

#[tokio::test]
async fn plan_changes_nothing_and_apply_writes_and_applies() {
    let db = TestDb::new().await;
    let p = Project::new();
    p.write(
        "migrations/001_base.sql",
        "CREATE TABLE base (id int PRIMARY KEY);\n",
    );
    let m = migrator(&p, &db);
    let plan = m
        .plan_new(&req("Add orders", "CREATE TABLE orders (id int REFERENCES base);\nCREATE INDEX CONCURRENTLY orders_id ON orders (id);\n"))
        .await
        .unwrap();
    assert_eq!(plan.version, "002");
    assert_eq!(plan.path, "migrations/002_add_orders.sql");
    assert_eq!(plan.pending_before, ["001"]);
    assert_eq!(plan.statements.len(), 2);
    assert_eq!(
        plan.statements[1].non_transactional,
        Some("CREATE INDEX CONCURRENTLY")
    );
    assert!(plan.failure.is_none(), "{:?}", plan.failure);
    assert_eq!(sql_files(&p), ["001_base.sql"], "plan writes no file");
    assert!(!exists(&db, "base").await && !exists(&db, "pgkeel.migrations").await);

    let applied = m
        .apply_new(&req("Add orders", "CREATE TABLE orders (id int REFERENCES base);\nCREATE INDEX CONCURRENTLY orders_id ON orders (id);\n"))
        .await
        .unwrap();
    assert_eq!(applied.version, "002");
    assert_eq!(applied.applied_before, ["001"]);
    assert!(applied.file_written);
    assert_eq!(sql_files(&p), ["001_base.sql", "002_add_orders.sql"]);
    let row = db
        .client()
        .await
        .query_one(
            "SELECT version, path, checksum FROM pgkeel.migrations WHERE version = '002'",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(row.get::<_, String>(1), "migrations/002_add_orders.sql");
    assert_eq!(row.get::<_, String>(2), applied.checksum);
    assert!(exists(&db, "orders_id").await);
    assert!(m.status().await.unwrap().plan.is_clean());

    // The same call again is idempotent; other content under that version is refused.
    let mut again = req("Add orders", "CREATE TABLE orders (id int REFERENCES base);\nCREATE INDEX CONCURRENTLY orders_id ON orders (id);\n");
    again.version = Some("002".into());
    let same = m.apply_new(&again).await.unwrap();
    assert!(!same.file_written && same.duration_ms.is_none());
    again.sql = "SELECT 1;".into();
    assert!(
        matches!(m.apply_new(&again).await, Err(Error::Refused(msg)) if msg.contains("already exists"))
    );
}

#[tokio::test]
async fn a_failing_migration_is_never_kept() {
    let db = TestDb::new().await;
    let p = Project::new();
    let m = migrator(&p, &db);
    // Fails in the dry run: nothing written.
    let err = m
        .apply_new(&req(
            "bad",
            "CREATE TABLE t (id int);\nSELECT * FROM nope;\n",
        ))
        .await
        .unwrap_err();
    let Error::MigrationFailed(f) = err else {
        panic!("expected a failure")
    };
    assert_eq!(
        (f.statement, f.line, f.sqlstate.as_deref()),
        (Some(2), Some(2), Some("42P01"))
    );
    assert!(f.outcome.contains("nothing was written"), "{}", f.outcome);
    assert!(sql_files(&p).is_empty());

    // Passes the dry run but fails for real (a unique violation against a concurrent insert is
    // hard to stage; a deferred constraint fails only at COMMIT, which a dry run never reaches).
    let sql = "CREATE TABLE parent (id int PRIMARY KEY);\n\
               CREATE TABLE child (pid int REFERENCES parent DEFERRABLE INITIALLY DEFERRED);\n\
               INSERT INTO child VALUES (1);\n";
    let err = m.apply_new(&req("deferred", sql)).await.unwrap_err();
    let Error::MigrationFailed(f) = err else {
        panic!("expected a failure")
    };
    assert!(f.outcome.contains("file was not kept"), "{}", f.outcome);
    assert!(sql_files(&p).is_empty(), "{:?}", sql_files(&p));
    assert!(!exists(&db, "parent").await);
    let status = m.status().await.unwrap();
    assert!(
        status.plan.entries.is_empty(),
        "no history row is left: {:?}",
        status.plan.entries
    );
    let withdrawn: i64 = db
        .client()
        .await
        .query_one(
            "SELECT count(*) FROM pgkeel.audit_log WHERE action IN ('fail', 'withdraw')",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(
        withdrawn, 2,
        "the audit log keeps the failure and the withdrawal"
    );
}

#[tokio::test]
async fn bad_requests_are_refused_with_reasons() {
    let db = TestDb::new().await;
    let p = Project::new();
    p.write("migrations/20240101120000_a.sql", "SELECT 1;\n");
    let m = migrator(&p, &db);
    for (name, sql, version, expect) in [
        ("x", "   ", None, "empty"),
        ("../../", "SELECT 1;", None, "no letters"),
        ("x", "SELECT 1;", Some("12ab"), "not a migration version"),
        (
            "x",
            "-- pgkeel:no-transction\nSELECT 1;",
            None,
            "unknown directive",
        ),
        (
            "x",
            "SELECT 1;\nCOMMIT;\nSELECT 2;",
            None,
            "transaction control",
        ),
    ] {
        let r = NewMigration {
            name: name.into(),
            sql: sql.into(),
            version: version.map(str::to_string),
            down: None,
        };
        let e = m.plan_new(&r).await.unwrap_err().to_string();
        assert!(e.contains(expect), "{name:?}/{sql:?}: {e}");
    }
    let huge = NewMigration {
        name: "big".into(),
        sql: "x".repeat(2 * 1024 * 1024),
        version: None,
        down: None,
    };
    assert!(m
        .plan_new(&huge)
        .await
        .unwrap_err()
        .to_string()
        .contains("limit"));
    // A name with path separators stays a file name inside the migrations folder.
    let plan = m
        .plan_new(&req("../../etc/passwd", "SELECT 1;"))
        .await
        .unwrap();
    assert!(
        plan.path.starts_with("migrations/2") && plan.path.ends_with("_etc_passwd.sql"),
        "{}",
        plan.path
    );
    assert!(sql_files(&p).len() == 1);
}

#[tokio::test]
async fn down_becomes_the_files_down_section_and_the_rollback_runs_it() {
    let db = TestDb::new().await;
    let p = Project::new();
    p.write(
        "migrations/001_base.sql",
        "CREATE TABLE base (id int PRIMARY KEY);\nINSERT INTO base VALUES (1), (2);\n",
    );
    let m = migrator(&p, &db);
    let mut r = req(
        "add pets",
        "CREATE TABLE pets (id int PRIMARY KEY, name text);",
    );
    r.down = Some("DROP TABLE pets;".into());
    let plan = m.plan_new(&r).await.unwrap();
    let applied = m.apply_new(&r).await.unwrap();
    assert_eq!(
        (applied.version.as_str(), applied.checksum.as_str()),
        ("002", plan.checksum.as_str())
    );
    let file = p.read("migrations/002_add_pets.sql");
    assert_eq!(
        file,
        "CREATE TABLE pets (id int PRIMARY KEY, name text);\n-- pgkeel:down\nDROP TABLE pets;\n"
    );
    let outlook = applied.rollback.expect("rollback outlook");
    assert!(outlook.possible, "{outlook:?}");
    assert_eq!(outlook.down_sql, Some(vec!["DROP TABLE pets;".to_string()]));
    assert!(
        outlook
            .how
            .contains("1 statement(s) from migrations/002_add_pets.sql"),
        "{}",
        outlook.how
    );

    let sel = pgkeel_engine::rollback::Selector::Last(1);
    let rb = m.rollback_plan(&sel).await.unwrap();
    assert_eq!(
        rb.plan.targets[0].down.as_ref().map(|d| d.statements.len()),
        Some(1)
    );
    m.rollback(&pgkeel_engine::rollback::RollbackOptions {
        selector: sel,
        confirm_token: rb.token,
        force_expired: false,
    })
    .await
    .unwrap();
    assert!(!exists(&db, "pets").await && exists(&db, "base").await);
}

#[tokio::test]
async fn without_down_the_result_says_what_a_rollback_would_do() {
    let db = TestDb::new().await;
    let p = Project::new();
    p.write(
        "migrations/001_base.sql",
        "CREATE TABLE base (id int PRIMARY KEY);\nINSERT INTO base VALUES (1), (2);\n",
    );
    let m = migrator(&p, &db);
    // A CREATE TABLE without down SQL is undone by the down SQL generated from the snapshot.
    let a = m
        .apply_new(&req("add pets", "CREATE TABLE pets (id int);"))
        .await
        .unwrap();
    let o = a.rollback.expect("outlook");
    assert!(o.possible, "{o:?}");
    let down = o.down_sql.clone().unwrap_or_default().join("\n");
    assert!(down.contains("DROP TABLE"), "{o:?}");
    assert!(o.how.contains("generated from the snapshot"), "{}", o.how);
    // A DELETE is undone by its automatic backup alone.
    let a = m
        .apply_new(&req("purge", "DELETE FROM base WHERE id = 2;"))
        .await
        .unwrap();
    let o = a.rollback.expect("outlook");
    assert!(o.possible && o.down_sql.is_none(), "{o:?}");
    assert_eq!(o.restores.len(), 1, "{o:?}");
    assert!(
        o.restores[0].starts_with("public.base (2 rows, backup "),
        "{o:?}"
    );
    assert!(o.how.contains("no down SQL to run"), "{}", o.how);
}

#[tokio::test]
async fn bad_down_sql_is_refused_and_nothing_is_written() {
    let db = TestDb::new().await;
    let p = Project::new();
    p.write("migrations/001_base.sql", "CREATE TABLE base (id int);\n");
    let m = migrator(&p, &db);
    for (sql, down, expect) in [
        ("CREATE TABLE a (id int);", "  \n", "`down` is empty"),
        (
            "CREATE TABLE a (id int);",
            "-- only a comment\n",
            "holds no SQL statement",
        ),
        (
            "CREATE INDEX base_id ON base (id);",
            "DROP INDEX CONCURRENTLY base_id;",
            "cannot run inside a transaction",
        ),
        (
            "CREATE TABLE a (id int);",
            "BEGIN; DROP TABLE a; COMMIT;",
            "transaction control",
        ),
        (
            "CREATE TABLE a (id int);",
            "DROP TABLE (a;",
            "does not parse",
        ),
        (
            "CREATE TABLE a (id int);\n-- pgkeel:down\nDROP TABLE a;\n",
            "DROP TABLE a;",
            "already has a `-- pgkeel:down` section",
        ),
    ] {
        let mut r = req("a", sql);
        r.down = Some(down.into());
        let plan = m.plan_new(&r).await.unwrap_err().to_string();
        assert!(plan.contains(expect), "{down:?}: {plan}");
        let apply = m.apply_new(&r).await.unwrap_err().to_string();
        assert!(apply.contains(expect), "{down:?}: {apply}");
    }
    assert_eq!(sql_files(&p), ["001_base.sql"]);
}

#[tokio::test]
async fn the_version_a_plan_announces_is_the_version_apply_writes_across_a_clock_tick() {
    let db = TestDb::new().await;
    let p = Project::new();
    // A timestamped project: new versions come from the clock.
    p.write(
        "migrations/20200101000000_base.sql",
        "CREATE TABLE base (id int);\n",
    );
    let m = migrator(&p, &db);
    let r = req("add pets", "CREATE TABLE pets (id int);");
    let plan = m.plan_new(&r).await.unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    // The clock has moved: a plan made now (by a process that did not plan before) differs.
    let fresh = migrator(&p, &db).plan_new(&r).await.unwrap();
    assert_ne!(fresh.version, plan.version);
    // Planning again and applying keep the announced version; other SQL gets its own.
    assert_eq!(m.plan_new(&r).await.unwrap().version, plan.version);
    let other = m
        .plan_new(&req("add pets", "CREATE TABLE pets2 (id int);"))
        .await
        .unwrap();
    assert_ne!(other.version, plan.version);
    let applied = m.apply_new(&r).await.unwrap();
    assert_eq!(applied.version, plan.version);
    assert_eq!(applied.path, plan.path);
    assert_eq!(applied.checksum, plan.checksum);
    assert_eq!(
        sql_files(&p),
        [
            "20200101000000_base.sql".to_string(),
            format!("{}_add_pets.sql", plan.version)
        ]
    );
    // Once written, the same request again is a new migration with a new version.
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let next = m.plan_new(&r).await.unwrap();
    assert!(
        next.version > plan.version,
        "{} vs {}",
        next.version,
        plan.version
    );
}
