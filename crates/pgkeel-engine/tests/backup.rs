//! Automatic backups before destructive migrations, and `backups list|prune`, on a real server.

use pgkeel_engine::config::{Config, Overrides, SystemEnvironment};
use pgkeel_engine::db::backup::{rows_checksum_sql, PruneWhich};
use pgkeel_engine::migrator::{UpOptions, UpReport};
use pgkeel_engine::{Error, Migrator};
use pgkeel_testkit::{Project, TestDb};

fn migrator_with(project: &Project, db: &TestDb, toml: Option<&str>) -> Migrator {
    let flags = Overrides {
        database_url: Some(db.url.clone()),
        log_file: Some("off".into()),
        ..Overrides::default()
    };
    // Lint would refuse DROP TABLE / DROP COLUMN: these tests are about backups.
    let toml = format!(
        "[lint]\nenabled = false\n[validate]\non_up = \"off\"\n{}",
        toml.unwrap_or("")
    );
    let config = Config::resolve(
        project.root().to_path_buf(),
        Some((toml.as_str(), "pgkeel.toml")),
        &SystemEnvironment,
        &flags,
    )
    .expect("config");
    Migrator::new(config)
}

fn migrator(project: &Project, db: &TestDb) -> Migrator {
    migrator_with(project, db, None)
}

async fn up(m: &Migrator) -> UpReport {
    let r = m.up(&UpOptions::default()).await.expect("up");
    assert!(r.failure.is_none(), "{:?}", r.failure);
    r
}

async fn text(db: &TestDb, sql: &str) -> String {
    db.client()
        .await
        .query_one(sql, &[])
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
        .get(0)
}

async fn count(db: &TestDb, sql: &str) -> i64 {
    db.client()
        .await
        .query_one(sql, &[])
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
        .get(0)
}

/// The content checksum of a live table, as the backup computes it over its jsonb rows.
async fn source_checksum(db: &TestDb, table: &str) -> String {
    text(
        db,
        &rows_checksum_sql(&format!("(SELECT to_jsonb(t) FROM {table} t)")),
    )
    .await
}

const SETUP: &str = "
CREATE TABLE dropped (id int PRIMARY KEY, v text);
INSERT INTO dropped SELECT g, 'd' || g FROM generate_series(1, 5) g;
CREATE TABLE users (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, email text, age int,
                    doubled int GENERATED ALWAYS AS (age * 2) STORED);
INSERT INTO users (email, age) SELECT 'u' || g || '@x', g FROM generate_series(1, 7) g;
CREATE TABLE retyped (id int, amount int);
INSERT INTO retyped SELECT g, g * 10 FROM generate_series(1, 4) g;
CREATE TABLE truncated (id int);
INSERT INTO truncated SELECT generate_series(1, 3);
CREATE TABLE deleted (id int);
INSERT INTO deleted SELECT generate_series(1, 6);
CREATE TABLE updated (id int, price int);
INSERT INTO updated SELECT g, g FROM generate_series(1, 8) g;
CREATE TABLE prices (id int, price int);
INSERT INTO prices SELECT g, g * 100 FROM generate_series(1, 8) g;
CREATE TABLE renamed (id int);
INSERT INTO renamed SELECT generate_series(1, 2);
CREATE TABLE colrenamed (\"Old\" int);
INSERT INTO colrenamed VALUES (1), (2), (3);
CREATE SCHEMA app;
CREATE TABLE app.\"Mixed\" (id int);
INSERT INTO app.\"Mixed\" VALUES (42);
CREATE MATERIALIZED VIEW mv AS SELECT g AS n FROM generate_series(1, 9) g;
CREATE VIEW plain AS SELECT 1 AS one;
";

#[tokio::test]
async fn dropping_views_and_materialized_views_takes_no_backup() {
    // A materialized view's rows are derived from its tables (a rollback re-creates it from
    // them), and one never populated cannot even be read: neither is copied.
    let db = TestDb::new().await;
    let p = Project::new();
    p.write(
        "migrations/001_setup.sql",
        format!("{SETUP}\nCREATE MATERIALIZED VIEW empty_mv AS SELECT 1 AS one WITH NO DATA;\n"),
    );
    p.write(
        "migrations/002_drop.sql",
        "DROP MATERIALIZED VIEW mv; DROP MATERIALIZED VIEW empty_mv; DROP VIEW plain;",
    );
    let m = migrator(&p, &db);
    let r = up(&m).await;
    assert_eq!(r.applied.len(), 2);
    assert!(
        r.applied[1].backups.is_empty(),
        "{:?}",
        r.applied[1].backups
    );
}

#[tokio::test]
async fn every_destructive_kind_is_backed_up_with_its_rows_and_checksum() {
    let db = TestDb::new().await;
    let p = Project::new();
    p.write("migrations/001_setup.sql", SETUP);
    let m = migrator(&p, &db);
    let first = up(&m).await;
    assert!(
        first.applied[0].backups.is_empty(),
        "setup backs up nothing"
    );

    let cases: &[(&str, &str, &str, &str)] = &[
        ("002", "DROP TABLE dropped;", "public.dropped", "DROP TABLE"),
        ("003", "ALTER TABLE users DROP COLUMN email;", "public.users", "DROP COLUMN email"),
        ("004", "ALTER TABLE retyped ALTER COLUMN amount TYPE text USING amount::text || ' EUR';", "public.retyped", "ALTER COLUMN amount TYPE"),
        ("005", "TRUNCATE truncated;", "public.truncated", "TRUNCATE"),
        ("006", "WITH gone AS (DELETE FROM deleted WHERE id > 2 RETURNING id) SELECT count(*) FROM gone;", "public.deleted", "DELETE"),
        ("007", "UPDATE updated u SET price = p.price FROM prices p WHERE p.id = u.id;", "public.updated", "UPDATE"),
        ("008", "ALTER TABLE renamed RENAME TO renamed_now;", "public.renamed", "RENAME TO renamed_now"),
        ("009", "ALTER TABLE colrenamed RENAME COLUMN \"Old\" TO new;", "public.colrenamed", "RENAME COLUMN Old TO new"),
        ("010", "DELETE FROM app.\"Mixed\";", "app.\"Mixed\"", "DELETE"),
    ];
    let mut before = Vec::new();
    for (_, _, table, _) in cases {
        let rows = count(&db, &format!("SELECT count(*) FROM {table}")).await;
        before.push((rows, source_checksum(&db, table).await));
    }
    for (v, sql, ..) in cases {
        p.write(&format!("migrations/{v}_change.sql"), sql);
    }
    let report = up(&m).await;
    assert_eq!(report.applied.len(), cases.len());
    for ((applied, (v, _, table, reason)), (rows, checksum)) in
        report.applied.iter().zip(cases).zip(&before)
    {
        assert_eq!(&applied.version, v);
        assert_eq!(applied.backups.len(), 1, "{v}: {:?}", applied.backups);
        let taken = &applied.backups[0];
        assert_eq!(taken.table, table.replace('"', ""), "{v}");
        assert_eq!(taken.rows, *rows, "{v}");
        assert!(taken.bytes > 0, "{v}");
        let catalog = m.backups_for(v).await.expect("backups_for");
        assert_eq!(catalog.len(), 1, "{v}");
        let b = &catalog[0];
        assert_eq!(b.id, taken.id);
        assert_eq!(&b.reason, reason, "{v}");
        assert_eq!(
            &b.checksum, checksum,
            "{v}: catalog checksum = source before"
        );
        assert_eq!(b.row_count, *rows);
        assert_eq!(b.status, "kept");
        assert!(b.backup_table.starts_with(&format!("b{}_", b.id)));
        let stored = text(
            &db,
            &rows_checksum_sql(&format!("pgkeel_backup.\"{}\"", b.backup_table)),
        )
        .await;
        assert_eq!(
            &stored, checksum,
            "{v}: the backup table's rows = source before"
        );
        let hours = (b.expires_at - b.created_at).num_hours();
        assert_eq!(hours, 48, "default window");
    }
    // Column metadata: identity and generated columns are described.
    let users = &m.backups_for("003").await.unwrap()[0];
    let cols = users.columns.as_array().expect("columns array");
    let names: Vec<&str> = cols.iter().filter_map(|c| c["name"].as_str()).collect();
    assert_eq!(names, ["id", "email", "age", "doubled"]);
    assert_eq!(cols[0]["identity"], "always");
    assert_eq!(cols[3]["generated"], "stored");
    assert_eq!(cols[1]["type"], "text");
    // A mixed-case name keeps its case in the catalog.
    let mixed = &m.backups_for("010").await.unwrap()[0];
    assert_eq!(
        (mixed.source_schema.as_str(), mixed.source_table.as_str()),
        ("app", "Mixed")
    );
}

#[tokio::test]
async fn a_failing_migration_leaves_no_backup_and_no_backup_table() {
    let db = TestDb::new().await;
    let p = Project::new();
    p.write(
        "migrations/001_t.sql",
        "CREATE TABLE t (id int); INSERT INTO t VALUES (1), (2);",
    );
    let m = migrator(&p, &db);
    up(&m).await;
    p.write("migrations/002_bad.sql", "DELETE FROM t;\nSELECT 1/0;");
    let r = m.up(&UpOptions::default()).await.expect("up runs");
    let f = r.failure.expect("the migration fails");
    assert_eq!(f.statement, Some(2));
    assert_eq!(count(&db, "SELECT count(*) FROM t").await, 2);
    // The catalog was created in the failed transaction too: nothing of it is left.
    assert_eq!(
        count(
            &db,
            "SELECT count(*) FROM pg_namespace WHERE nspname = 'pgkeel_backup'"
        )
        .await,
        0
    );
    // With a catalog already there (from an earlier backup), still no row and no table.
    p.write("migrations/002_bad.sql", "DELETE FROM t WHERE id = 1;");
    m.repair(&pgkeel_engine::migrator::RepairAction::ResolveFailed(
        "002".into(),
    ))
    .await
    .expect("resolve");
    up(&m).await;
    p.write(
        "migrations/003_bad.sql",
        "UPDATE t SET id = id + 1;\nSELECT 1/0;",
    );
    let r = m.up(&UpOptions::default()).await.expect("up runs");
    assert!(r.failure.is_some());
    assert!(m.backups_for("003").await.unwrap().is_empty());
    assert_eq!(
        count(
            &db,
            "SELECT count(*) FROM pg_class WHERE relnamespace = 'pgkeel_backup'::regnamespace AND relname LIKE 'b%\\_t'"
        )
        .await,
        1,
        "only 002's backup table"
    );
}

#[tokio::test]
async fn drop_type_cascade_backs_up_every_table_using_the_enum_with_its_labels() {
    let db = TestDb::new().await;
    let p = Project::new();
    p.write(
        "migrations/001_t.sql",
        "CREATE TYPE mood AS ENUM ('happy', 'sad');
         CREATE DOMAIN moods AS mood[];
         CREATE TABLE people (id int, m mood);
         INSERT INTO people VALUES (1, 'happy'), (2, 'sad');
         CREATE TABLE history (id int, ms mood[]);
         INSERT INTO history VALUES (1, '{happy,sad}');
         CREATE TABLE diary (id int, d moods);
         INSERT INTO diary VALUES (1, '{sad}');
         CREATE TABLE unrelated (id int);
         INSERT INTO unrelated VALUES (1);",
    );
    let m = migrator(&p, &db);
    up(&m).await;
    p.write("migrations/002_drop.sql", "DROP TYPE mood CASCADE;");
    let r = up(&m).await;
    let mut tables: Vec<&str> = r.applied[0]
        .backups
        .iter()
        .map(|b| b.table.as_str())
        .collect();
    tables.sort();
    assert_eq!(tables, ["public.diary", "public.history", "public.people"]);
    // The columns are gone, the labels are in the backup.
    assert_eq!(
        count(
            &db,
            "SELECT count(*) FROM information_schema.columns WHERE table_name = 'people' AND column_name = 'm'"
        )
        .await,
        0
    );
    let people = m
        .backups_for("002")
        .await
        .unwrap()
        .into_iter()
        .find(|b| b.source_table == "people")
        .unwrap();
    assert_eq!(people.reason, "DROP TYPE mood");
    let labels = text(
        &db,
        &format!(
            "SELECT string_agg(\"row\"->>'m', ',' ORDER BY (\"row\"->>'id')::int) FROM pgkeel_backup.{}",
            people.backup_table
        ),
    )
    .await;
    assert_eq!(labels, "happy,sad");
    assert_eq!(people.columns[1]["type"], "mood");
}

#[tokio::test]
async fn a_table_created_in_the_same_migration_is_not_backed_up() {
    let db = TestDb::new().await;
    let p = Project::new();
    p.write(
        "migrations/001_t.sql",
        "CREATE TABLE fresh (id int); INSERT INTO fresh VALUES (1), (2); DELETE FROM fresh WHERE id = 1;\n\
         CREATE TABLE other (id int); UPDATE other SET id = 2;",
    );
    let m = migrator(&p, &db);
    let r = up(&m).await;
    assert!(
        r.applied[0].backups.is_empty(),
        "{:?}",
        r.applied[0].backups
    );
    assert!(m.backups_list(true).await.unwrap().backups.is_empty());
    // A table created by an earlier migration of the same run exists by then: it is backed up.
    p.write(
        "migrations/002_more.sql",
        "CREATE TABLE later (id int); INSERT INTO later VALUES (7);",
    );
    p.write("migrations/003_del.sql", "DELETE FROM later;");
    let r = up(&m).await;
    assert!(r.applied[0].backups.is_empty());
    assert_eq!(r.applied[1].backups.len(), 1);
    assert_eq!(r.applied[1].backups[0].rows, 1);
}

#[tokio::test]
async fn backups_larger_than_the_limit_are_refused_before_anything_runs_unless_overridden() {
    let db = TestDb::new().await;
    let p = Project::new();
    p.write(
        "migrations/001_t.sql",
        "CREATE TABLE big (id int, pad text); INSERT INTO big SELECT g, repeat('x', 200) FROM generate_series(1, 2000) g;",
    );
    let toml = "[backup]\nmax_backup_bytes = \"100KB\"\n";
    let m = migrator_with(&p, &db, Some(toml));
    up(&m).await;
    p.write("migrations/002_ok.sql", "CREATE TABLE unrelated (id int);");
    p.write("migrations/003_wipe.sql", "DELETE FROM big;");
    let err = m.up(&UpOptions::default()).await.expect_err("refused");
    let msg = err.to_string();
    assert!(matches!(err, Error::Refused(_)), "{err:?}");
    for needle in [
        "003",
        "public.big",
        "KiB",
        "100000 bytes",
        "--max-backup-bytes",
        "nothing was applied",
    ] {
        assert!(msg.contains(needle), "{needle:?} missing from: {msg}");
    }
    // Nothing ran, not even the harmless 002 before it.
    assert_eq!(count(&db, "SELECT count(*) FROM big").await, 2000);
    assert!(m
        .status()
        .await
        .unwrap()
        .plan
        .entries
        .iter()
        .filter(|e| e.version == "002" || e.version == "003")
        .all(|e| e.history.is_none()));
    // The dry run reports the size and refuses the same way.
    let err = m
        .up(&UpOptions {
            dry_run: true,
            ..UpOptions::default()
        })
        .await
        .expect_err("dry run refused too");
    assert!(err.to_string().contains("--max-backup-bytes"));
    // The override lets it through.
    let r = m
        .up(&UpOptions {
            max_backup_bytes: Some(100 << 20),
            ..UpOptions::default()
        })
        .await
        .expect("up with override");
    assert!(r.failure.is_none());
    assert_eq!(r.applied[1].backups[0].rows, 2000);
    assert_eq!(count(&db, "SELECT count(*) FROM big").await, 0);
}

#[tokio::test]
async fn dry_runs_report_what_would_be_backed_up_and_keep_nothing() {
    let db = TestDb::new().await;
    let p = Project::new();
    p.write(
        "migrations/001_t.sql",
        "CREATE TABLE t (id int); INSERT INTO t VALUES (1);",
    );
    let m = migrator(&p, &db);
    up(&m).await;
    p.write(
        "migrations/002_new.sql",
        "CREATE TABLE n (id int); INSERT INTO n VALUES (1);",
    );
    p.write("migrations/003_del.sql", "DELETE FROM t; DELETE FROM n;");
    let r = m
        .up(&UpOptions {
            dry_run: true,
            ..UpOptions::default()
        })
        .await
        .expect("dry run");
    let dry = r.dry_run_result.expect("dry run result");
    assert!(dry.items[0].backups.is_empty());
    let tables: Vec<&str> = dry.items[1]
        .backups
        .iter()
        .map(|b| b.table.as_str())
        .collect();
    assert_eq!(
        tables,
        ["public.n", "public.t"],
        "002's table exists inside the dry run"
    );
    assert!(dry.items[1]
        .backups
        .iter()
        .all(|b| b.bytes > 0 && b.reason == "DELETE"));
    assert_eq!(
        count(
            &db,
            "SELECT count(*) FROM pg_namespace WHERE nspname = 'pgkeel_backup'"
        )
        .await,
        0
    );
}

#[tokio::test]
async fn no_transaction_migrations_take_their_backup_in_a_transaction_of_its_own() {
    let db = TestDb::new().await;
    let p = Project::new();
    p.write(
        "migrations/001_t.sql",
        "CREATE TABLE t (id int); INSERT INTO t VALUES (1), (2);",
    );
    let m = migrator(&p, &db);
    up(&m).await;
    p.write(
        "migrations/002_nt.sql",
        "-- pgkeel:no-transaction\nDELETE FROM t WHERE id = 1;\nSELECT 1/0;",
    );
    let r = m.up(&UpOptions::default()).await.expect("up runs");
    assert!(r.failure.is_some());
    // Documented: the backup was committed before the migration ran, so it outlives the failure.
    let b = m.backups_for("002").await.unwrap();
    assert_eq!(b.len(), 1);
    assert_eq!(b[0].row_count, 2);
}

#[tokio::test]
async fn list_and_prune_expired_all_and_by_id_with_window_and_audit() {
    let db = TestDb::new().await;
    let p = Project::new();
    p.write(
        "migrations/001_t.sql",
        "CREATE TABLE a (id int); CREATE TABLE b (id int); CREATE TABLE c (id int); INSERT INTO a VALUES (1); INSERT INTO b VALUES (1); INSERT INTO c VALUES (1);",
    );
    p.write("migrations/002_a.sql", "DELETE FROM a;");
    p.write("migrations/003_b.sql", "DELETE FROM b;");
    p.write("migrations/004_c.sql", "DELETE FROM c;");
    let m = migrator_with(&p, &db, Some("[backup]\nwindow = \"2h\"\n"));
    up(&m).await;
    let list = m.backups_list(false).await.unwrap();
    assert_eq!(list.backups.len(), 3);
    assert!(list
        .backups
        .iter()
        .all(|b| (b.expires_at - b.created_at).num_seconds() == 7200));
    let ids: Vec<i64> = list.backups.iter().map(|b| b.id).collect(); // newest first
    let (c_id, b_id, a_id) = (ids[0], ids[1], ids[2]);
    let client = db.client().await;
    client
        .execute(
            "UPDATE pgkeel_backup.backups SET expires_at = now() - interval '1 minute' WHERE id = $1",
            &[&a_id],
        )
        .await
        .unwrap();

    // Dry run: reports, changes nothing.
    let dry = m.backups_prune(&PruneWhich::Expired, true).await.unwrap();
    assert_eq!(dry.pruned.iter().map(|b| b.id).collect::<Vec<_>>(), [a_id]);
    assert_eq!(m.backups_list(false).await.unwrap().backups.len(), 3);

    // Default: only the expired one.
    let pruned = m.backups_prune(&PruneWhich::Expired, false).await.unwrap();
    assert_eq!(pruned.pruned.len(), 1);
    let a_table = pruned.pruned[0].backup_table.clone();
    assert_eq!(
        count(
            &db,
            &format!("SELECT count(*) FROM pg_class WHERE relname = '{a_table}'")
        )
        .await,
        0,
        "the backup table is dropped"
    );
    let kept: Vec<i64> = m
        .backups_list(false)
        .await
        .unwrap()
        .backups
        .iter()
        .map(|b| b.id)
        .collect();
    assert_eq!(kept, [c_id, b_id]);
    let all = m.backups_list(true).await.unwrap().backups;
    assert_eq!(all.len(), 3);
    assert_eq!(all.iter().find(|b| b.id == a_id).unwrap().status, "pruned");
    // Nothing else is expired now.
    assert!(m
        .backups_prune(&PruneWhich::Expired, false)
        .await
        .unwrap()
        .pruned
        .is_empty());

    // By id.
    let one = m.backups_prune(&PruneWhich::Id(b_id), false).await.unwrap();
    assert_eq!(one.pruned[0].id, b_id);
    let err = m
        .backups_prune(&PruneWhich::Id(b_id), false)
        .await
        .expect_err("already pruned");
    assert!(
        err.to_string()
            .contains(&format!("no backup with id {b_id}")),
        "{err}"
    );
    assert!(m.backups_prune(&PruneWhich::Id(9999), true).await.is_err());

    // All kept ones.
    let rest = m.backups_prune(&PruneWhich::All, false).await.unwrap();
    assert_eq!(rest.pruned.iter().map(|b| b.id).collect::<Vec<_>>(), [c_id]);
    assert!(m.backups_list(false).await.unwrap().backups.is_empty());
    assert_eq!(
        count(&db, "SELECT count(*) FROM pg_class WHERE relnamespace = 'pgkeel_backup'::regnamespace AND relkind = 'r' AND relname <> 'backups'").await,
        0
    );
    // Every prune left an audit row.
    assert_eq!(
        count(
            &db,
            "SELECT count(*) FROM pgkeel.audit_log WHERE action = 'backup_prune'"
        )
        .await,
        3
    );
}

#[tokio::test]
async fn backups_off_takes_none_and_listing_without_a_catalog_is_empty() {
    let db = TestDb::new().await;
    let p = Project::new();
    p.write(
        "migrations/001_t.sql",
        "CREATE TABLE t (id int); INSERT INTO t VALUES (1); ",
    );
    p.write("migrations/002_d.sql", "DROP TABLE t;");
    let m = migrator_with(&p, &db, Some("[backup]\nenabled = false\n"));
    assert!(m.backups_list(true).await.unwrap().backups.is_empty());
    let r = up(&m).await;
    assert!(r.applied.iter().all(|a| a.backups.is_empty()));
    assert_eq!(
        count(
            &db,
            "SELECT count(*) FROM pg_namespace WHERE nspname = 'pgkeel_backup'"
        )
        .await,
        0
    );
    assert!(m
        .backups_prune(&PruneWhich::All, false)
        .await
        .unwrap()
        .pruned
        .is_empty());
}

#[tokio::test]
async fn a_mixed_migration_takes_its_backup_once_in_the_first_segment() {
    let db = TestDb::new().await;
    let p = Project::new();
    p.write(
        "migrations/001_t.sql",
        "CREATE TABLE t (id int, v int); INSERT INTO t SELECT g, g FROM generate_series(1, 4) g;",
    );
    let m = migrator(&p, &db);
    up(&m).await;
    let before = source_checksum(&db, "public.t").await;
    p.write(
        "migrations/002_mixed.sql",
        "DELETE FROM t WHERE id = 1;\nCREATE INDEX CONCURRENTLY t_v ON t (v);\nUPDATE t SET v = 0;\nSELECT 1/0;",
    );
    let r = m.up(&UpOptions::default()).await.expect("up runs");
    let f = r.failure.expect("the last segment fails");
    assert_eq!(f.statement, Some(4));
    // Segment 1 (with the backup) committed and stays, the failed segment 3 took none.
    let b = m.backups_for("002").await.unwrap();
    assert_eq!(b.len(), 1);
    assert_eq!(b[0].row_count, 4);
    assert_eq!(b[0].checksum, before);
    // Resuming after the fix takes no second backup.
    p.write(
        "migrations/002_mixed.sql",
        "DELETE FROM t WHERE id = 1;\nCREATE INDEX CONCURRENTLY t_v ON t (v);\nUPDATE t SET v = 0;\nSELECT 1;",
    );
    m.repair(&pgkeel_engine::migrator::RepairAction::AcceptChecksum(
        "002".into(),
    ))
    .await
    .expect("accept");
    m.repair(&pgkeel_engine::migrator::RepairAction::ResolveFailed(
        "002".into(),
    ))
    .await
    .expect("resolve");
    let r = up(&m).await;
    assert_eq!(r.applied[0].resumed_from, 2);
    assert!(r.applied[0].backups.is_empty());
    assert_eq!(m.backups_for("002").await.unwrap().len(), 1);
}

#[tokio::test]
async fn truncate_cascade_backs_up_the_referencing_tables_too() {
    let db = TestDb::new().await;
    let p = Project::new();
    p.write(
        "migrations/001_t.sql",
        "CREATE TABLE customers (id int PRIMARY KEY);
         CREATE TABLE orders (id int PRIMARY KEY, customer int REFERENCES customers);
         CREATE TABLE lines (id int, o int REFERENCES orders);
         CREATE TABLE other (id int);
         INSERT INTO customers VALUES (1), (2);
         INSERT INTO orders VALUES (10, 1), (11, 2), (12, 2);
         INSERT INTO lines VALUES (100, 10);
         INSERT INTO other VALUES (1);",
    );
    let m = migrator(&p, &db);
    up(&m).await;
    let sums = [
        source_checksum(&db, "public.customers").await,
        source_checksum(&db, "public.orders").await,
        source_checksum(&db, "public.lines").await,
    ];
    p.write(
        "migrations/002_wipe.sql",
        "TRUNCATE customers CASCADE; DELETE FROM other;",
    );
    let r = up(&m).await;
    let got: Vec<(String, i64)> = r.applied[0]
        .backups
        .iter()
        .map(|b| (b.table.clone(), b.rows))
        .collect();
    assert_eq!(
        got,
        [
            ("public.customers".to_string(), 2),
            ("public.lines".to_string(), 1),
            ("public.orders".to_string(), 3),
            ("public.other".to_string(), 1),
        ]
    );
    let catalog = m.backups_for("002").await.unwrap();
    for (table, sum) in ["customers", "orders", "lines"].iter().zip(&sums) {
        let b = catalog.iter().find(|b| &b.source_table == table).unwrap();
        assert_eq!(&b.checksum, sum, "{table}");
        assert_eq!(b.reason, "TRUNCATE customers CASCADE");
    }
}

#[tokio::test]
async fn a_partitioned_table_is_backed_up_whole_and_sized_with_its_partitions() {
    let db = TestDb::new().await;
    let p = Project::new();
    p.write(
        "migrations/001_t.sql",
        "CREATE TABLE events (id int, at date) PARTITION BY RANGE (at);
         CREATE TABLE events_2024 PARTITION OF events FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');
         CREATE TABLE events_2025 PARTITION OF events FOR VALUES FROM ('2025-01-01') TO ('2026-01-01');
         INSERT INTO events SELECT g, date '2024-06-01' + g * 2 FROM generate_series(1, 200) g;",
    );
    let m = migrator(&p, &db);
    up(&m).await;
    let before = source_checksum(&db, "public.events").await;
    p.write("migrations/002_wipe.sql", "DELETE FROM events;");
    let dry = m
        .up(&UpOptions {
            dry_run: true,
            ..UpOptions::default()
        })
        .await
        .expect("dry run")
        .dry_run_result
        .expect("result");
    assert_eq!(dry.items[0].backups.len(), 1);
    assert!(
        dry.items[0].backups[0].bytes >= 2 * 8192,
        "{:?}",
        dry.items[0].backups
    );
    let r = up(&m).await;
    assert_eq!(r.applied[0].backups.len(), 1);
    assert_eq!(r.applied[0].backups[0].rows, 200);
    assert_eq!(m.backups_for("002").await.unwrap()[0].checksum, before);
}
