//! Supabase projects on plain PostgreSQL, end to end: `pgkeel supabase bootstrap`, `up` of a
//! realistic Supabase migration set (tests/fixtures/supabase), row level security as Supabase
//! applies it, the history mirror, the refusal on a real Supabase database, `pgkeel adopt
//! supabase`, and the seed; the project's pgTAP tests run with `pg_prove`; `up` on a database
//! without the bootstrap. Each test has a database of its own ([`TestDb`]).

mod cli_support;

use std::path::Path;

use cli_support::Ctx;
use pgkeel_testkit::Project;
use tokio_postgres::Client;

const FIXTURE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/supabase");

/// A project holding a copy of the fixture, and a database of its own.
async fn fixture_ctx() -> Ctx {
    let project = Project::new();
    copy_dir(Path::new(FIXTURE), project.root());
    Ctx::with_project(project).await
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for entry in std::fs::read_dir(from).expect("read fixture") {
        let entry = entry.expect("entry");
        let target = to.join(entry.file_name());
        if entry.path().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).expect("copy");
        }
    }
}

fn fixture_versions() -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(Path::new(FIXTURE).join("supabase/migrations"))
        .expect("fixture migrations")
        .filter_map(|e| {
            let name = e.ok()?.file_name().to_string_lossy().into_owned();
            name.ends_with(".sql")
                .then(|| name.split('_').next().unwrap_or_default().to_string())
        })
        .collect();
    v.sort();
    v
}

async fn count(c: &Client, sql: &str) -> i64 {
    c.query_one(sql, &[])
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
        .get(0)
}

/// Run `sql` as PostgREST would for a request: in a transaction, as `role`, with these JWT
/// claims; rolled back afterwards.
async fn as_user(c: &Client, role: &str, claims: Option<&str>, sql: &str) -> Result<i64, String> {
    c.batch_execute(&format!("BEGIN; SET LOCAL ROLE {role}"))
        .await
        .expect("begin");
    if let Some(claims) = claims {
        c.query(
            "SELECT set_config('request.jwt.claims', $1, true)",
            &[&claims],
        )
        .await
        .expect("claims");
    }
    let r = c
        .query_one(sql, &[])
        .await
        .map(|r| r.get::<_, i64>(0))
        .map_err(|e| {
            e.as_db_error()
                .map_or(e.to_string(), |d| d.message().to_string())
        });
    c.batch_execute("ROLLBACK").await.expect("rollback");
    r
}

const ALICE: &str = "11111111-1111-1111-1111-111111111111";
const BOB: &str = "22222222-2222-2222-2222-222222222222";

fn claims(sub: &str, email: &str) -> String {
    format!(
        r#"{{"sub":"{sub}","role":"authenticated","email":"{email}","app_metadata":{{"provider":"email"}}}}"#
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bootstrap_then_up_applies_supabase_migrations_and_rls_behaves_as_on_supabase() {
    let ctx = fixture_ctx().await;
    let r = ctx.run(&["supabase", "bootstrap"]).expect(0);
    assert!(r.stdout.contains("bootstrap 2 applied"), "{}", r.stdout);
    // Idempotent: the second run changes nothing.
    let again = ctx
        .run(&["--json", "supabase", "bootstrap"])
        .expect(0)
        .json();
    assert_eq!(again["result"]["changed"], false, "{again}");
    assert!(again["result"]["standins"]
        .as_array()
        .is_some_and(|a| a.iter().any(|s| s == "pgjwt")));

    let up = ctx.run(&["--json", "up"]).expect(0).json();
    let versions = fixture_versions();
    assert!(versions.len() >= 12);
    assert_eq!(
        up["applied"].as_array().map(Vec::len),
        Some(versions.len()),
        "{up}"
    );
    ctx.run(&["status", "--check"]).expect(0);

    let c = ctx.client().await;
    // The mirror: one row per migration, with the statements, as the Supabase CLI writes them.
    let rows = c
        .query(
            "SELECT version, name, statements FROM supabase_migrations.schema_migrations ORDER BY version",
            &[],
        )
        .await
        .expect("mirror");
    let mirrored: Vec<String> = rows.iter().map(|r| r.get(0)).collect();
    assert_eq!(mirrored, versions);
    for r in &rows {
        let statements: Vec<String> = r.get(2);
        assert!(!statements.is_empty());
        assert!(statements
            .iter()
            .all(|s| !s.ends_with(';') && s.trim() == s));
    }
    let profiles_row = rows
        .iter()
        .find(|r| r.get::<_, String>(0) == "20240101000100")
        .expect("profiles migration");
    assert_eq!(profiles_row.get::<_, String>(1), "profiles");
    assert_eq!(profiles_row.get::<_, Vec<String>>(2).len(), 4);

    // Stand-ins did their quiet jobs: the cron job is recorded, pg_net queues and never sends.
    assert_eq!(
        count(
            &c,
            "SELECT count(*) FROM cron.job WHERE jobname = 'purge-completed-todos'"
        )
        .await,
        1
    );
    assert_eq!(
        count(&c, "SELECT count(*) FROM pg_extension WHERE extname IN ('pg_net','pg_cron','pgjwt','supabase_vault','http') AND extversion LIKE '%-pgkeel-standin'").await,
        5
    );

    // New auth users get profiles from the security definer trigger.
    for (id, email) in [(ALICE, "alice@example.com"), (BOB, "bob@example.com")] {
        c.execute(
            "INSERT INTO auth.users (instance_id, id, aud, role, email, raw_user_meta_data, created_at, updated_at) \
             VALUES ('00000000-0000-0000-0000-000000000000', $1::text::uuid, 'authenticated', 'authenticated', $2::text, \
                     jsonb_build_object('full_name', $2::text), now(), now())",
            &[&id, &email],
        )
        .await
        .expect("insert auth user");
    }
    assert_eq!(count(&c, "SELECT count(*) FROM public.profiles").await, 2);
    c.batch_execute(&format!(
        "INSERT INTO public.todos (user_id, task) VALUES ('{ALICE}', 'alice 1'), ('{ALICE}', 'alice 2'), ('{BOB}', 'bob 1')"
    ))
    .await
    .expect("todos");
    assert_eq!(
        count(
            &c,
            "SELECT count(*) FROM net.http_request_queue WHERE url LIKE '%new-todo'"
        )
        .await,
        3
    );

    let alice = claims(ALICE, "alice@example.com");
    // auth.uid(), auth.email(), auth.role() and auth.jwt() read the request's claims.
    assert_eq!(
        as_user(&c, "authenticated", Some(&alice),
            &format!("SELECT count(*) FROM (SELECT 1 WHERE auth.uid() = '{ALICE}' AND auth.email() = 'alice@example.com' AND auth.role() = 'authenticated' AND auth.jwt() -> 'app_metadata' ->> 'provider' = 'email') x")).await,
        Ok(1)
    );
    // The older per-claim setting works too.
    c.batch_execute(&format!(
        "BEGIN; SET LOCAL ROLE authenticated; SET LOCAL request.jwt.claim.sub = '{BOB}'"
    ))
    .await
    .expect("claim.sub");
    let bob_profiles: i64 = c
        .query_one("SELECT count(*) FROM public.profiles", &[])
        .await
        .expect("bob sees")
        .get(0);
    c.batch_execute("ROLLBACK").await.expect("rollback");
    assert_eq!(bob_profiles, 1);

    // Alice sees only her own rows, through tables and the security_invoker view.
    assert_eq!(
        as_user(
            &c,
            "authenticated",
            Some(&alice),
            "SELECT count(*) FROM public.profiles"
        )
        .await,
        Ok(1)
    );
    assert_eq!(
        as_user(
            &c,
            "authenticated",
            Some(&alice),
            "SELECT count(*) FROM public.todos"
        )
        .await,
        Ok(2)
    );
    assert_eq!(
        as_user(
            &c,
            "authenticated",
            Some(&alice),
            "SELECT sum(total)::bigint FROM public.my_todo_stats"
        )
        .await,
        Ok(2)
    );
    // She cannot update Bob's profile (no row is visible to the update) but can update hers.
    assert_eq!(
        as_user(&c, "authenticated", Some(&alice),
            &format!("WITH u AS (UPDATE public.profiles SET full_name = 'x' WHERE id = '{BOB}' RETURNING 1) SELECT count(*) FROM u")).await,
        Ok(0)
    );
    assert_eq!(
        as_user(&c, "authenticated", Some(&alice),
            &format!("WITH u AS (UPDATE public.profiles SET full_name = 'Alice A.' WHERE id = '{ALICE}' RETURNING 1) SELECT count(*) FROM u")).await,
        Ok(1)
    );
    // Inserting a todo for someone else violates the policy.
    let e = as_user(&c, "authenticated", Some(&alice),
        &format!("WITH i AS (INSERT INTO public.todos (user_id, task) VALUES ('{BOB}', 'sneaky') RETURNING 1) SELECT count(*) FROM i")).await
        .unwrap_err();
    assert!(e.contains("row-level security"), "{e}");
    // Storage: uploads only into her own folder, with an allowed extension.
    assert_eq!(
        as_user(&c, "authenticated", Some(&alice),
            &format!("WITH i AS (INSERT INTO storage.objects (bucket_id, name, owner) VALUES ('avatars', '{ALICE}/me.png', '{ALICE}') RETURNING 1) SELECT count(*) FROM i")).await,
        Ok(1)
    );
    let e = as_user(&c, "authenticated", Some(&alice),
        &format!("WITH i AS (INSERT INTO storage.objects (bucket_id, name) VALUES ('avatars', '{BOB}/me.png') RETURNING 1) SELECT count(*) FROM i")).await
        .unwrap_err();
    assert!(e.contains("row-level security"), "{e}");
    // Tags: admins only (a claim in app_metadata, read through auth.jwt()).
    let admin =
        format!(r#"{{"sub":"{ALICE}","role":"authenticated","app_metadata":{{"role":"admin"}}}}"#);
    assert_eq!(
        as_user(&c, "authenticated", Some(&admin),
            "WITH i AS (INSERT INTO public.tags (name) VALUES ('admin-made') RETURNING 1) SELECT count(*) FROM i").await,
        Ok(1)
    );
    assert!(as_user(&c, "authenticated", Some(&alice),
        "WITH i AS (INSERT INTO public.tags (name) VALUES ('user-made') RETURNING 1) SELECT count(*) FROM i").await
        .is_err());
    // anon sees nothing (no policy grants it anything), though it has table privileges.
    assert_eq!(
        as_user(&c, "anon", None, "SELECT count(*) FROM public.profiles").await,
        Ok(0)
    );
    assert_eq!(
        as_user(&c, "anon", None, "SELECT count(*) FROM public.todos").await,
        Ok(0)
    );
    // service_role bypasses RLS.
    assert_eq!(
        as_user(
            &c,
            "service_role",
            None,
            "SELECT count(*) FROM public.todos"
        )
        .await,
        Ok(3)
    );
    // Security definer function callable by authenticated users; the vault secret is readable
    // by the definer only.
    assert_eq!(
        as_user(
            &c,
            "authenticated",
            Some(&alice),
            "SELECT public.profile_count()"
        )
        .await,
        Ok(2)
    );
    assert!(as_user(
        &c,
        "authenticated",
        Some(&alice),
        "SELECT count(*) FROM vault.decrypted_secrets"
    )
    .await
    .is_err());
    let token: String = c
        .query_one(&format!("SELECT public.api_token_for('{ALICE}')"), &[])
        .await
        .expect("token")
        .get(0);
    let valid: bool = c
        .query_one(
            "SELECT valid FROM extensions.verify($1, 'dev-secret-value')",
            &[&token],
        )
        .await
        .expect("verify")
        .get(0);
    assert!(valid);

    // The seed runs after the migrations (what `pgkeel dev reset` calls).
    let seeded =
        pgkeel_engine::supabase::run_seed(&c, ctx.project.root(), std::time::Duration::ZERO)
            .await
            .expect("seed");
    assert!(seeded.is_some());
    assert_eq!(
        count(
            &c,
            "SELECT count(*) FROM public.tags WHERE name IN ('welcome', 'news')"
        )
        .await,
        2
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bootstrap_refuses_a_real_supabase_database_unless_forced() {
    let ctx = fixture_ctx().await;
    let c = ctx.client().await;
    // GoTrue's own migration table with rows, as on a Supabase database.
    c.batch_execute(
        "CREATE SCHEMA auth; CREATE TABLE auth.schema_migrations (version varchar(255) PRIMARY KEY); \
         INSERT INTO auth.schema_migrations VALUES ('20171026211738'), ('20171026211808');",
    )
    .await
    .expect("simulate GoTrue");
    let r = ctx.run(&["supabase", "bootstrap"]).expect(4);
    assert!(
        r.stderr.contains("real Supabase")
            && r.stderr.contains("auth.schema_migrations")
            && r.stderr.contains("--force"),
        "{}",
        r.stderr
    );
    assert_eq!(
        count(
            &c,
            "SELECT count(*) FROM pg_namespace WHERE nspname = 'pgkeel_supabase'"
        )
        .await,
        0,
        "a refused bootstrap changes nothing"
    );
    let forced = ctx
        .run(&["--json", "supabase", "bootstrap", "--force"])
        .expect(0)
        .json();
    assert_eq!(forced["result"]["forced"], true, "{forced}");
    assert_eq!(
        count(
            &c,
            "SELECT count(*) FROM pgkeel_supabase.bootstrap WHERE forced"
        )
        .await,
        1
    );

    // A real (non stand-in) Supabase extension is another sign.
    let ctx2 = fixture_ctx().await;
    let c2 = ctx2.client().await;
    c2.batch_execute(
        "INSERT INTO pg_extension (oid, extname, extowner, extnamespace, extrelocatable, extversion) \
         VALUES (pg_nextoid('pg_catalog.pg_extension', 'oid', 'pg_catalog.pg_extension_oid_index'), 'pgsodium', 10, 'public'::regnamespace, false, '3.1.8')",
    )
    .await
    .expect("simulate pgsodium");
    let r = ctx2.run(&["supabase", "bootstrap"]).expect(4);
    assert!(r.stderr.contains("pgsodium"), "{}", r.stderr);
    // Once bootstrapped (forced), later runs need no --force.
    ctx.run(&["supabase", "bootstrap"]).expect(0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn adopt_supabase_imports_the_cli_history_and_reports_mismatches() {
    let ctx = fixture_ctx().await;
    ctx.run(&["supabase", "bootstrap"]).expect(0);
    let c = ctx.client().await;
    // A history written by the Supabase CLI only: the first three migrations ran, recorded with
    // the CLI's statements; the third file was edited afterwards; one version has no file.
    c.batch_execute(
        "CREATE SCHEMA IF NOT EXISTS supabase_migrations; \
         CREATE TABLE supabase_migrations.schema_migrations (version text NOT NULL PRIMARY KEY, statements text[], name text);",
    )
    .await
    .expect("cli table");
    let dir = ctx.project.root().join("supabase/migrations");
    let files = [
        "20240101000000_extensions.sql",
        "20240101000100_profiles.sql",
        "20240101000200_handle_new_user.sql",
    ];
    for f in files {
        let sql = std::fs::read_to_string(dir.join(f)).expect("read");
        let statements = pgkeel_engine::supabase::split::cli_statements(&sql);
        // As the CLI would, statement by statement; on plain PostgreSQL a CREATE EXTENSION of a
        // Supabase extension goes through the bootstrap's function (what pgkeel sends).
        for st in &statements {
            let sent = pgkeel_engine::supabase::rewrite::parse(st)
                .filter(|c| {
                    pgkeel_engine::supabase::catalog::find(&c.name).is_some_and(|e| e.routed())
                })
                .map_or_else(|| st.clone(), |c| c.call_sql());
            c.batch_execute(&sent)
                .await
                .expect("apply as the CLI would");
        }
        let (version, name) = f.trim_end_matches(".sql").split_once('_').expect("name");
        c.execute(
            "INSERT INTO supabase_migrations.schema_migrations (version, name, statements) VALUES ($1, $2, $3)",
            &[&version, &name, &statements],
        )
        .await
        .expect("record");
    }
    c.batch_execute(
        "INSERT INTO supabase_migrations.schema_migrations (version, name, statements) \
         VALUES ('20231201000000', 'lost', ARRAY['create table lost (id int)'])",
    )
    .await
    .expect("orphan");
    let edited = dir.join(files[2]);
    let text = std::fs::read_to_string(&edited).expect("read");
    std::fs::write(&edited, text.replace("new.email", "lower(new.email)")).expect("edit");

    let r = ctx.run(&["--json", "adopt", "supabase"]).expect(3);
    let j = r.json();
    let res = &j["result"];
    assert_eq!(
        res["imported"],
        serde_json::json!(["20240101000000", "20240101000100"]),
        "{j}"
    );
    let kinds: Vec<(&str, &str)> = res["mismatches"]
        .as_array()
        .expect("mismatches")
        .iter()
        .map(|m| {
            (
                m["version"].as_str().unwrap_or(""),
                m["kind"].as_str().unwrap_or(""),
            )
        })
        .collect();
    assert!(kinds.contains(&("20231201000000", "no_file")), "{kinds:?}");
    assert!(
        kinds.contains(&("20240101000200", "statements_differ")),
        "{kinds:?}"
    );
    let text = ctx.run(&["adopt", "supabase"]).expect(3);
    assert!(
        text.stdout.contains("not imported") && text.stdout.contains("20231201000000"),
        "{}",
        text.stdout
    );

    // pgkeel's history now agrees for the imported versions; the mismatched one stays visible.
    let status = ctx.run(&["--json", "status", "--all"]).json();
    let state = |v: &str| {
        status["migrations"]
            .as_array()
            .and_then(|a| a.iter().find(|m| m["version"] == v))
            .map(|m| m["state"].as_str().unwrap_or("").to_string())
    };
    assert_eq!(state("20240101000100").as_deref(), Some("applied"));
    assert_eq!(state("20240101000200").as_deref(), Some("pending"));
    assert_eq!(
        count(
            &c,
            "SELECT count(*) FROM pgkeel.audit_log WHERE action = 'adopt_supabase'"
        )
        .await,
        2
    );
}

/// `pg_prove` on the project's pgTAP tests against the test database: (passed, output).
fn pg_prove(ctx: &Ctx) -> Option<(bool, String)> {
    let tests = ctx.project.root().join("supabase/tests/rls.test.sql");
    let out = match std::process::Command::new("pg_prove")
        .arg("--dbname")
        .arg(&ctx.db.url)
        .arg("--verbose")
        .arg(&tests)
        .output()
    {
        Ok(out) => out,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let msg = "pg_prove is not installed: install postgresql-15-pgtap and libtap-parser-sourcehandler-pgtap-perl (.ci/run does)";
            if std::env::var("CI").is_ok_and(|v| v == "true") {
                panic!("{msg}");
            }
            eprintln!("SKIPPED the pgTAP run: {msg}");
            return None;
        }
        Err(e) => panic!("running pg_prove: {e}"),
    };
    Some((
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    ))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_projects_pgtap_tests_pass_as_authenticated_and_fail_when_rls_is_broken() {
    let ctx = fixture_ctx().await;
    ctx.run(&["supabase", "bootstrap"]).expect(0);
    ctx.run(&["up"]).expect(0);
    let Some((passed, out)) = pg_prove(&ctx) else {
        return;
    };
    assert!(passed, "{out}");
    assert!(
        out.contains("ok 3 - a user sees only their own todos")
            && out.contains("All tests successful"),
        "{out}"
    );

    // The same tests must fail when row level security or auth.uid() is broken.
    let c = ctx.client().await;
    c.batch_execute("ALTER TABLE public.todos DISABLE ROW LEVEL SECURITY")
        .await
        .expect("break RLS");
    let (passed, out) = pg_prove(&ctx).expect("pg_prove ran before");
    assert!(
        !passed && out.contains("not ok 3 - a user sees only their own todos"),
        "{out}"
    );
    c.batch_execute(
        "ALTER TABLE public.todos ENABLE ROW LEVEL SECURITY; \
         CREATE OR REPLACE FUNCTION auth.uid() RETURNS uuid LANGUAGE sql STABLE AS $$ SELECT NULL::uuid $$",
    )
    .await
    .expect("break auth.uid()");
    let (passed, out) = pg_prove(&ctx).expect("pg_prove ran before");
    assert!(
        !passed && out.contains("not ok 2 - auth.uid() reads the claims"),
        "{out}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn up_on_a_database_without_auth_refuses_naming_the_bootstrap() {
    let ctx = fixture_ctx().await;
    let r = ctx.run(&["up"]).expect(4);
    assert!(
        r.stderr.contains("no `auth` schema") && r.stderr.contains("`pgkeel supabase bootstrap`"),
        "{}",
        r.stderr
    );
    let c = ctx.client().await;
    assert_eq!(
        count(
            &c,
            "SELECT count(*) FROM pg_namespace WHERE nspname IN ('pgkeel', 'pgkeel_supabase', 'supabase_migrations')"
        )
        .await,
        0,
        "nothing changed: no history schema, no failed row"
    );
    ctx.run(&["supabase", "bootstrap"]).expect(0);
    let up = ctx.run(&["up"]).expect(0);
    assert!(up.stderr.contains("pgkeel's stand-ins were created: http (a callable subset), pg_cron (a callable subset), pg_net (a callable subset)"), "{}", up.stderr);
}
