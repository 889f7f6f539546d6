//! Supabase mode in the engine: on the project's dev database, `up` bootstraps first (and the
//! history mirror is written in the migration's transaction); elsewhere it refuses a database
//! without `auth` before changing anything. Every extension of Supabase's list can be created,
//! dropped with CASCADE and created again (real when the server has it, a stand-in otherwise),
//! and the callable stand-ins do what they document.

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
    // It says so, and names the stand-in the migration's CREATE EXTENSION got.
    assert!(
        report
            .supabase_notes
            .iter()
            .any(|n| n.contains("bootstrapped this pgkeel-created database first")),
        "{:?}",
        report.supabase_notes
    );
    assert!(
        report
            .supabase_notes
            .iter()
            .any(|n| n.contains("pg_net (a callable subset)")),
        "{:?}",
        report.supabase_notes
    );
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
async fn up_elsewhere_refuses_a_database_without_auth_before_changing_anything() {
    let p = project();
    let db = TestDb::new().await;
    let m = Migrator::new(config(p.root(), &db.url, false));
    let err = m
        .up(&UpOptions::default())
        .await
        .expect_err("refused without the bootstrap");
    assert!(
        matches!(err, pgkeel_engine::Error::Refused(_))
            && err.to_string().contains("`pgkeel supabase bootstrap`")
            && err.to_string().contains("no `auth` schema"),
        "{err}"
    );
    // The dry run refuses the same way.
    let dry = m
        .up(&UpOptions {
            dry_run: true,
            ..UpOptions::default()
        })
        .await
        .expect_err("dry run refused too");
    assert!(
        dry.to_string().contains("`pgkeel supabase bootstrap`"),
        "{dry}"
    );
    // Nothing changed: no history schema (so no `failed` row), no bootstrap, no mirror.
    let client = db.client().await;
    let left: i64 = client
        .query_one(
            "SELECT count(*) FROM pg_namespace WHERE nspname IN ('pgkeel', 'pgkeel_supabase', 'supabase_migrations', 'auth')",
            &[],
        )
        .await
        .expect("schemas")
        .get(0);
    assert_eq!(left, 0);

    // After `pgkeel supabase bootstrap`, the same `up` applies.
    pgkeel_engine::supabase::bootstrap::bootstrap(&client, false)
        .await
        .expect("bootstrap");
    let report = m.up(&UpOptions::default()).await.expect("up");
    assert!(report.failure.is_none(), "{:?}", report.failure);
    assert_eq!(report.applied.len(), 1);
}

#[tokio::test]
async fn apply_migration_in_supabase_mode_creates_the_mirror_and_records_it() {
    let p = Project::new();
    p.write("supabase/config.toml", "[db]\nmajor_version = 15\n");
    p.write("supabase/migrations/.keep", "");
    let db = TestDb::new().await;
    pgkeel_engine::supabase::bootstrap::bootstrap(&db.client().await, false)
        .await
        .expect("bootstrap");
    let m = Migrator::new(config(p.root(), &db.url, false));
    let applied = m
        .apply_new(&pgkeel_engine::authoring::NewMigration {
            name: "add notes".into(),
            sql: "-- notes\ncreate table notes (id int);\ncomment on table notes is 'a; b';\n"
                .into(),
            version: None,
            down: None,
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

/// A Supabase-mode project on the dev database (so `up` bootstraps) with these migrations.
fn project_with(migrations: &[(&str, String)]) -> Project {
    let p = Project::new();
    p.write("supabase/config.toml", "[db]\nmajor_version = 15\n");
    p.write("supabase/migrations/.keep", "");
    for (name, sql) in migrations {
        p.write(&format!("supabase/migrations/{name}"), sql);
    }
    p
}

async fn up_ok(p: &Project, db: &TestDb) -> pgkeel_engine::migrator::UpReport {
    let report = Migrator::new(config(p.root(), &db.url, true))
        .up(&UpOptions::default())
        .await
        .expect("up");
    if let Some(f) = &report.failure {
        panic!("migration failed: {f}");
    }
    report
}

async fn extension_version(c: &tokio_postgres::Client, name: &str) -> Option<String> {
    c.query_opt(
        "SELECT extversion FROM pg_extension WHERE extname = $1",
        &[&name],
    )
    .await
    .expect("pg_extension")
    .map(|r| r.get(0))
}

/// `WITH SCHEMA extensions` unless the extension's schema is fixed.
fn with_schema(e: &pgkeel_engine::supabase::catalog::Extension) -> &'static str {
    if e.fixed_schema.is_some() {
        ""
    } else {
        " with schema extensions"
    }
}

/// PostgreSQL's contrib extensions are real here; pgTAP is real when Debian's
/// postgresql-15-pgtap is installed (CI installs it).
async fn pgtap_available(c: &tokio_postgres::Client) -> bool {
    let there = c
        .query_opt(
            "SELECT 1 FROM pg_available_extensions WHERE name = 'pgtap'",
            &[],
        )
        .await
        .expect("pg_available_extensions")
        .is_some();
    if !there && std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("pgTAP is not installed on this server: CI must install postgresql-15-pgtap (see .ci/run)");
    }
    there
}

#[tokio::test]
async fn every_supabase_extension_can_be_created_dropped_with_cascade_and_created_again() {
    use pgkeel_engine::supabase::catalog::{Kind, CATALOGUE};
    let mut cycle = String::new();
    let mut again = String::new();
    for e in CATALOGUE.iter().filter(|e| e.name != "plpgsql") {
        let (n, ws) = (e.name, with_schema(e));
        // As real migrations do: create (maybe already there), drop with everything on it,
        // create again, and check it is there.
        cycle.push_str(&format!(
            "create extension if not exists \"{n}\"{ws} cascade;\n\
             drop extension \"{n}\" cascade;\n\
             create extension \"{n}\"{ws} cascade;\n\
             do $$ begin if not exists (select from pg_extension where extname = '{n}') then raise exception 'extension {n} is missing'; end if; end $$;\n"
        ));
        again.push_str(&format!(
            "create extension if not exists \"{n}\"{ws} cascade;\n"
        ));
    }
    let p = project_with(&[
        ("20240101000000_cycle.sql", cycle),
        ("20240101000100_all.sql", again),
    ]);
    let db = TestDb::new().await;
    let report = up_ok(&p, &db).await;
    assert_eq!(report.applied.len(), 2);
    let c = db.client().await;
    let pgtap_real = pgtap_available(&c).await;
    for e in CATALOGUE {
        let v = extension_version(&c, e.name)
            .await
            .unwrap_or_else(|| panic!("{} is not installed", e.name));
        let standin = v.ends_with("-pgkeel-standin");
        let expect_standin = match e.kind {
            Kind::Contrib => false,
            _ if e.name == "pgtap" => !pgtap_real,
            _ => true,
        };
        assert_eq!(standin, expect_standin, "{} {v}", e.name);
    }
    let note = report.supabase_notes.join("\n");
    assert!(
        note.contains("vector (name only: its types and functions do not exist)"),
        "{note}"
    );
    assert!(note.contains("pg_hashids (a callable subset)"), "{note}");

    // DROP EXTENSION of a stand-in removes its members, and (with CASCADE) what depends on them;
    // without CASCADE it refuses, as for a real extension.
    c.batch_execute("CREATE VIEW public.jobs AS SELECT jobid FROM cron.job")
        .await
        .expect("a view on a stand-in's table");
    let e = c
        .batch_execute("DROP EXTENSION pg_cron")
        .await
        .expect_err("dependents");
    assert!(
        e.as_db_error()
            .is_some_and(|d| d.message().contains("depend")),
        "{e:?}"
    );
    let e = c
        .batch_execute("DROP SCHEMA cron CASCADE")
        .await
        .expect_err("member schema");
    assert!(
        e.as_db_error()
            .is_some_and(|d| d.message().contains("extension pg_cron requires it")),
        "{e:?}"
    );
    c.batch_execute("DROP EXTENSION pg_cron CASCADE; DROP EXTENSION pg_net CASCADE; DROP EXTENSION pgjwt CASCADE")
        .await
        .expect("drop cascade");
    let gone: bool = c
        .query_one(
            "SELECT to_regclass('public.jobs') IS NULL AND to_regclass('cron.job') IS NULL AND to_regnamespace('cron') IS NULL \
                AND to_regclass('net.http_request_queue') IS NULL AND to_regnamespace('net') IS NULL \
                AND to_regprocedure('extensions.sign(json, text, text)') IS NULL \
                AND NOT EXISTS (SELECT FROM pg_depend d WHERE d.refclassid = 'pg_extension'::regclass AND d.refobjid NOT IN (SELECT oid FROM pg_extension))",
            &[],
        )
        .await
        .expect("members")
        .get(0);
    assert!(gone, "DROP EXTENSION … CASCADE left members behind");
}

/// Apply one more migration that must fail; return its failure and forget it again.
async fn fails(
    m: &Migrator,
    p: &Project,
    sql: &str,
    name: &str,
) -> pgkeel_engine::MigrationFailure {
    p.write(&format!("supabase/migrations/{name}"), sql);
    let f = m
        .up(&UpOptions::default())
        .await
        .expect("up runs")
        .failure
        .unwrap_or_else(|| panic!("{sql} must fail"));
    p.remove(&format!("supabase/migrations/{name}"));
    m.repair(&pgkeel_engine::migrator::RepairAction::Forget(
        name.split('_').next().unwrap_or_default().to_string(),
    ))
    .await
    .expect("forget the failed row");
    f
}

#[tokio::test]
async fn create_extension_keeps_postgresql_semantics() {
    let db = TestDb::new().await;
    let p = project_with(&[(
        "20240101000000_net.sql",
        "create extension pg_net with schema extensions;\n".into(),
    )]);
    up_ok(&p, &db).await;
    let m = Migrator::new(config(p.root(), &db.url, true));
    // Already there: an error without IF NOT EXISTS (42710), as on PostgreSQL and Supabase.
    let f = fails(
        &m,
        &p,
        "create extension pg_net;\n",
        "20240102000000_again.sql",
    )
    .await;
    assert_eq!(f.sqlstate.as_deref(), Some("42710"), "{f}");
    assert_eq!((f.line, f.statement), (Some(1), Some(1)), "{f}");
    let f = fails(
        &m,
        &p,
        "create extension vector with schema nowhere;\n",
        "20240102000001_schema.sql",
    )
    .await;
    assert_eq!(f.sqlstate.as_deref(), Some("3F000"), "{f}");
    let f = fails(
        &m,
        &p,
        "create extension pg_cron with schema extensions;\n",
        "20240102000002_fixed.sql",
    )
    .await;
    assert!(
        f.message
            .contains("must be installed in schema \"pg_catalog\""),
        "{f}"
    );
    let f = fails(
        &m,
        &p,
        "create extension index_advisor;\n",
        "20240102000003_requires.sql",
    )
    .await;
    assert!(
        f.message
            .contains("required extension \"hypopg\" is not installed"),
        "{f}"
    );
    assert!(
        f.hint.as_deref().is_some_and(|h| h.contains("CASCADE")),
        "{f}"
    );

    // Without WITH SCHEMA a relocatable one goes to the first schema of the search_path; a
    // stand-in's objects go where WITH SCHEMA says, and nothing else is created.
    p.write(
        "supabase/migrations/20240103000000_more.sql",
        "create schema app;\ncreate extension pg_hashids;\ncreate extension pg_jsonschema with schema app;\n\
         create extension if not exists pgmq;\ncreate extension index_advisor with schema extensions cascade;\n",
    );
    up_ok(&p, &db).await;
    let c = db.client().await;
    let placed: Vec<String> = c
        .query(
            "SELECT e.extname || '@' || n.nspname FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace \
             WHERE extname IN ('pg_hashids', 'pg_jsonschema', 'pgmq', 'index_advisor', 'hypopg') ORDER BY 1",
            &[],
        )
        .await
        .expect("placement")
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(
        placed,
        [
            "hypopg@extensions",
            "index_advisor@extensions",
            "pg_hashids@public",
            "pg_jsonschema@app",
            "pgmq@pgmq"
        ]
    );
    let row = c
        .query_one(
            "SELECT to_regprocedure('public.id_encode(bigint)') IS NOT NULL, \
                    to_regprocedure('app.jsonb_matches_schema(json, jsonb)') IS NOT NULL, \
                    to_regprocedure('extensions.jsonb_matches_schema(json, jsonb)') IS NULL",
            &[],
        )
        .await
        .expect("members placed");
    assert!(row.get::<_, bool>(0) && row.get::<_, bool>(1) && row.get::<_, bool>(2));
}

#[tokio::test]
async fn callable_stand_ins_do_what_they_document() {
    let db = TestDb::new().await;
    let p = project_with(&[(
        "20240101000000_ext.sql",
        "create extension pg_hashids with schema extensions;\n\
         create extension pg_jsonschema with schema extensions;\n\
         create extension pgmq;\n\
         create extension pg_cron;\n\
         create extension pg_net with schema extensions;\n\
         create extension http with schema extensions;\n\
         create extension hypopg with schema extensions;\n\
         create extension index_advisor with schema extensions;\n\
         create table public.docs (id bigint primary key, body jsonb not null\n\
             check (jsonb_matches_schema('{\"type\": \"object\", \"required\": [\"title\"], \"properties\": {\"title\": {\"type\": \"string\", \"minLength\": 1}, \"tags\": {\"type\": \"array\", \"items\": {\"type\": \"string\"}}}}', body)));\n"
            .into(),
    )]);
    up_ok(&p, &db).await;
    let c = db.client().await;
    let one = |sql: &'static str| {
        let c = &c;
        async move {
            c.query_one(sql, &[])
                .await
                .unwrap_or_else(|e| panic!("{sql}: {e:?}"))
        }
    };
    // Hashids: the reference outputs of the Hashids algorithm, and round trips.
    let r = one(
        "SELECT id_encode(ARRAY[1, 2, 3]::bigint[]), id_encode(12345, 'this is my salt'), id_encode(1, 'this is my salt', 8), \
                id_decode(id_encode(ARRAY[7, 0, 123456789]::bigint[], 'pepper', 10), 'pepper', 10), \
                id_decode_once(id_encode(42, 's'), 's'), id_decode('not-a-hashid!')",
    )
    .await;
    assert_eq!(r.get::<_, String>(0), "o2fXhV");
    assert_eq!(r.get::<_, String>(1), "NkK9");
    assert_eq!(r.get::<_, String>(2), "gB0NV05e");
    assert_eq!(r.get::<_, Vec<i64>>(3), [7, 0, 123456789]);
    assert_eq!(r.get::<_, i64>(4), 42);
    assert!(r.get::<_, Vec<i64>>(5).is_empty());
    // JSON Schema: the check constraint validates; an unimplemented keyword raises.
    c.batch_execute("INSERT INTO public.docs VALUES (1, '{\"title\": \"a\", \"tags\": [\"x\"]}')")
        .await
        .expect("valid document");
    for bad in [
        "{\"tags\": []}",
        "{\"title\": \"\"}",
        "{\"title\": \"a\", \"tags\": [1]}",
        "[]",
    ] {
        let e = c
            .execute(
                "INSERT INTO public.docs VALUES (2, $1::text::jsonb)",
                &[&bad],
            )
            .await
            .expect_err(bad);
        assert!(
            e.as_db_error().is_some_and(|d| d.code().code() == "23514"),
            "{bad}: {e:?}"
        );
    }
    let e = c
        .query_one(
            "SELECT json_matches_schema('{\"format\": \"email\"}', '\"x\"')",
            &[],
        )
        .await
        .expect_err("unsupported keyword");
    assert!(
        e.as_db_error()
            .is_some_and(|d| d.code().code() == "0A000" && d.message().contains("\"format\"")),
        "{e:?}"
    );
    let r = one(
        "SELECT jsonschema_is_valid('{\"type\": \"object\", \"properties\": {\"a\": {\"enum\": [1, 2]}}}'), \
                jsonschema_validation_errors('{\"anyOf\": [{\"type\": \"string\"}, {\"type\": \"integer\"}]}', '1.5')",
    )
    .await;
    assert!(r.get::<_, bool>(0));
    assert_eq!(r.get::<_, Vec<String>>(1), [": matches none of anyOf"]);
    // pgmq: a real queue.
    let r = one(
        "WITH q AS (SELECT pgmq.create('jobs')), s AS (SELECT pgmq.send('jobs', '{\"n\": 1}') FROM q) \
         SELECT count(*) FROM s",
    )
    .await;
    assert_eq!(r.get::<_, i64>(0), 1);
    let r = one("SELECT msg_id, read_ct, message::text FROM pgmq.read('jobs', 30, 5)").await;
    assert_eq!((r.get::<_, i64>(0), r.get::<_, i32>(1)), (1, 1));
    assert_eq!(
        one("SELECT count(*) FROM pgmq.read('jobs', 30, 5)")
            .await
            .get::<_, i64>(0),
        0,
        "invisible while read"
    );
    assert!(one("SELECT pgmq.archive('jobs', 1)")
        .await
        .get::<_, bool>(0));
    assert_eq!(
        one("SELECT count(*) FROM pgmq.a_jobs")
            .await
            .get::<_, i64>(0),
        1
    );
    // pg_cron records, pg_net queues, http answers 503, index_advisor says it has no advice.
    let r = one(
        "SELECT cron.schedule('nightly', '0 3 * * *', 'select 1'), net.http_post('https://example.invalid', '{}'::jsonb), \
                (http_get('https://example.invalid')).status, (SELECT errors[1] FROM index_advisor('select 1'))",
    )
    .await;
    assert_eq!(r.get::<_, i64>(0), 1);
    assert_eq!(r.get::<_, i64>(1), 1);
    assert_eq!(r.get::<_, i32>(2), 503);
    assert!(r.get::<_, String>(3).contains("no advice"));
}

#[tokio::test]
async fn both_paths_real_and_forced_stand_in_are_taken() {
    let db = TestDb::new().await;
    let c = db.client().await;
    let real = pgtap_available(&c).await;
    let p = project_with(&[(
        "20240101000000_pgtap.sql",
        "create extension pgtap with schema extensions;\n".into(),
    )]);
    up_ok(&p, &db).await;
    let v = extension_version(&c, "pgtap").await.expect("pgtap");
    assert_eq!(v.ends_with("-pgkeel-standin"), !real, "{v}");

    // pgkeel.force_standins makes the stand-in win over an installed extension (tests).
    let db2 = TestDb::new().await;
    let c2 = db2.client().await;
    c2.batch_execute(&format!(
        "ALTER DATABASE \"{}\" SET pgkeel.force_standins = 'pgtap, pg_net'",
        db2.name
    ))
    .await
    .expect("force");
    up_ok(&p, &db2).await;
    let v = extension_version(&c2, "pgtap").await.expect("pgtap");
    assert_eq!(v, "1.2.0-pgkeel-standin");
}

#[tokio::test]
async fn supabase_defaults_come_with_the_bootstrap() {
    let db = TestDb::new().await;
    let p = project_with(&[(
        "20240101000000_keys.sql",
        "create table public.api_keys (\n\
             id uuid primary key default uuid_generate_v4(),\n\
             secret bytea not null default gen_random_bytes(16),\n\
             owner uuid default auth.uid()\n\
         );\n\
         select gen_random_bytes(16), uuid_generate_v4();\n"
            .into(),
    )]);
    // A dry run on the fresh dev database bootstraps inside its rolled-back transaction only.
    let dry = Migrator::new(config(p.root(), &db.url, true))
        .up(&UpOptions {
            dry_run: true,
            ..UpOptions::default()
        })
        .await
        .expect("dry run");
    assert!(dry.failure.is_none(), "{:?}", dry.failure);
    let c = db.client().await;
    let untouched: bool = c
        .query_one(
            "SELECT to_regnamespace('auth') IS NULL AND to_regnamespace('pgkeel_supabase') IS NULL",
            &[],
        )
        .await
        .expect("untouched")
        .get(0);
    assert!(untouched, "a dry run changes nothing");

    up_ok(&p, &db).await;
    let c = db.client().await;
    let rows = c
        .query(
            "SELECT extname::text, n.nspname::text FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace \
             WHERE extname IN ('pgcrypto', 'uuid-ossp', 'pg_stat_statements', 'pgjwt', 'pg_graphql', 'supabase_vault', 'pgsodium') ORDER BY 1",
            &[],
        )
        .await
        .expect("preinstalled");
    let got: Vec<(String, String)> = rows.iter().map(|r| (r.get(0), r.get(1))).collect();
    let want: Vec<(String, String)> = [
        ("pg_graphql", "graphql"),
        ("pg_stat_statements", "extensions"),
        ("pgcrypto", "extensions"),
        ("pgjwt", "extensions"),
        ("pgsodium", "pgsodium"),
        ("supabase_vault", "vault"),
        ("uuid-ossp", "extensions"),
    ]
    .iter()
    .map(|(a, b)| (a.to_string(), b.to_string()))
    .collect();
    assert_eq!(got, want);
    // The database's search_path, and Supabase's grants on new tables in public.
    let r = c
        .query_one(
            "SELECT current_setting('search_path'), \
                    has_table_privilege('anon', 'public.api_keys', 'SELECT'), \
                    has_table_privilege('authenticated', 'public.api_keys', 'INSERT,UPDATE,DELETE'), \
                    has_table_privilege('service_role', 'public.api_keys', 'SELECT'), \
                    length(gen_random_bytes(16))",
            &[],
        )
        .await
        .expect("defaults");
    assert_eq!(r.get::<_, String>(0), "\"$user\", public, extensions");
    assert!(r.get::<_, bool>(1) && r.get::<_, bool>(2) && r.get::<_, bool>(3));
    assert_eq!(r.get::<_, i32>(4), 16);
}
