//! Supabase mode in the engine: on the project's dev database, `up` bootstraps first (and the
//! history mirror is written in the migration's transaction); elsewhere it does not.

use std::path::Path;

use pgkeel_engine::config::{Config, Overrides};
use pgkeel_engine::migrator::UpOptions;
use pgkeel_engine::Migrator;
use pgkeel_testkit::{Project, TestDb};

fn project() -> Project {
    let p = Project::new();
    p.write(
        "supabase/config.toml",
        "[db]\nmajor_version = 15\n[api]\nschemas = [\"public\", \"graphql_public\"]\n",
    );
    p.write(
        "supabase/migrations/20240101000000_net.sql",
        "create extension if not exists pg_net with schema extensions;\n\
         create table public.notes (id uuid primary key default extensions.uuid_generate_v4(), owner uuid default auth.uid());\n",
    );
    p
}

fn config(root: &Path, url: &str, dev_database: bool) -> Config {
    let mut c = Config::load(
        root,
        None,
        &Overrides {
            database_url: Some(url.to_string()),
            log_file: Some("off".into()),
            ..Overrides::default()
        },
    )
    .expect("config");
    c.dev_database = dev_database;
    c
}

#[tokio::test]
async fn up_on_the_dev_database_bootstraps_first_and_mirrors_history() {
    let p = project();
    let db = TestDb::new().await;
    let c = config(p.root(), &db.url, true);
    let s = c
        .supabase
        .clone()
        .expect("supabase mode from supabase/config.toml");
    assert_eq!(s.major_version, Some(15));
    let report = Migrator::new(c)
        .up(&UpOptions::default())
        .await
        .expect("up");
    assert_eq!(report.applied.len(), 1);
    let client = db.client().await;
    let row = client
        .query_one(
            "SELECT (SELECT max(version) FROM pgkeel_supabase.bootstrap), \
                    (SELECT statements FROM supabase_migrations.schema_migrations WHERE version = '20240101000000')",
            &[],
        )
        .await
        .expect("bootstrap + mirror");
    assert_eq!(
        row.get::<_, Option<i32>>(0),
        Some(pgkeel_engine::supabase::BOOTSTRAP_VERSION)
    );
    assert_eq!(row.get::<_, Vec<String>>(1).len(), 2);
}

#[tokio::test]
async fn up_elsewhere_does_not_bootstrap() {
    let p = project();
    let db = TestDb::new().await;
    let err = Migrator::new(config(p.root(), &db.url, false))
        .up(&UpOptions::default())
        .await
        .expect("up runs")
        .failure
        .expect("the migration fails without the bootstrap");
    assert!(err.to_string().contains("pg_net"), "{err}");
}

#[tokio::test]
async fn apply_migration_in_supabase_mode_creates_the_mirror_and_records_it() {
    let p = Project::new();
    p.write("supabase/config.toml", "[db]\nmajor_version = 15\n");
    p.write("supabase/migrations/.keep", "");
    let db = TestDb::new().await;
    let m = Migrator::new(config(p.root(), &db.url, false));
    let applied = m
        .apply_new(&pgkeel_engine::authoring::NewMigration {
            name: "add notes".into(),
            sql: "-- notes\ncreate table notes (id int);\ncomment on table notes is 'a; b';\n"
                .into(),
            version: None,
        })
        .await
        .expect("apply_migration");
    let client = db.client().await;
    let rows = client
        .query(
            "SELECT version, name, statements FROM supabase_migrations.schema_migrations",
            &[],
        )
        .await
        .expect("mirror");
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].get::<_, String>(1), "add_notes");
    assert_eq!(
        rows[0].get::<_, Vec<String>>(2),
        [
            "-- notes\ncreate table notes (id int)",
            "comment on table notes is 'a; b'"
        ]
    );
    let _ = applied;
}
