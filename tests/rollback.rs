//! `pgkeel rollback` end to end: plan and token, confirmation, refusals and exit codes, and a
//! rollback killed half-way (the database stays exactly as it was before it).

mod cli_support;
use cli_support::{Ctx, Run, BIN};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use pgkeel_testkit::Project;
use tokio_postgres::Client;

/// A project whose lint is off (these migrations are destructive on purpose) and a database.
async fn new_ctx() -> Ctx {
    let project = Project::new();
    project.write("pgkeel.toml", "[lint]\nenabled = false\n");
    Ctx::with_project(project).await
}

impl Ctx {
    /// The token `rollback ARGS --plan --json` prints.
    fn token(&self, args: &[&str]) -> String {
        let mut a = vec!["rollback"];
        a.extend_from_slice(args);
        a.extend(["--plan", "--json"]);
        let r = self.run(&a).expect(0);
        r.json()["token"].as_str().expect("token").to_string()
    }
}

/// Row count and checksum of every row of `table`, computed by the test.
async fn contents(c: &Client, table: &str) -> (i64, String) {
    let row = c
        .query_one(
            &format!(
                "SELECT count(*), md5(coalesce(string_agg(to_jsonb(t)::text, '|' ORDER BY to_jsonb(t)::text), '')) FROM {table} t"
            ),
            &[],
        )
        .await
        .expect(table);
    (row.get(0), row.get(1))
}

async fn status_of(c: &Client, version: &str) -> String {
    c.query_one(
        "SELECT status FROM pgkeel.migrations WHERE version = $1",
        &[&version],
    )
    .await
    .expect("history row")
    .get(0)
}

const BASE: &str = "CREATE TABLE people (
    id    bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name  text NOT NULL,
    shout text GENERATED ALWAYS AS (upper(name)) STORED,
    email text
);
INSERT INTO people (name, email) VALUES ('ann', 'a@x'), ('bob', NULL), ('cy', 'c@x');
";

const PURGE: &str = "DELETE FROM people WHERE id > 1;
ALTER TABLE people DROP COLUMN email;
-- pgkeel:down
ALTER TABLE people ADD COLUMN email text;
";

#[tokio::test]
async fn plan_then_confirm_restores_the_rows_and_status_shows_down_sql() {
    let ctx = new_ctx().await;
    ctx.write("migrations/001_people.sql", BASE);
    ctx.write("migrations/002_purge.sql", PURGE);
    ctx.run(&["up", "--to", "001"]).expect(0);
    let c = ctx.client().await;
    let before = contents(&c, "people").await;
    ctx.run(&["up"]).expect(0);
    assert_eq!(contents(&c, "people").await.0, 1);

    // status: the down marker in the table, the down checksum in JSON.
    let s = ctx.run(&["status", "--all"]).expect(0);
    assert!(s.stdout.contains("DOWN"), "{s}");
    let j = ctx.run(&["status", "--json"]).expect(0).json();
    let m = &j["migrations"][1];
    assert_eq!(m["has_down"], true);
    assert_eq!(m["down_checksum"].as_str().map(str::len), Some(64));
    assert!(j["migrations"][0]["down_checksum"].is_null());

    let plan = ctx.run(&["rollback", "--last", "1", "--plan"]).expect(0);
    assert!(plan.stdout.contains("002 purge"), "{plan}");
    assert!(
        plan.stdout
            .contains("ALTER TABLE people ADD COLUMN email text;"),
        "{plan}"
    );
    assert!(
        plan.stdout.contains("restore public.people: 3 row(s)"),
        "{plan}"
    );
    assert!(
        plan.stdout
            .contains("pgkeel rollback --last 1 --confirm rb1."),
        "{plan}"
    );
    let doc = ctx
        .run(&["rollback", "--last", "1", "--plan", "--json"])
        .expect(0)
        .json();
    assert_eq!(doc["ok"], true);
    assert_eq!(doc["plan"]["targets"][0]["version"], "002");
    let token = doc["token"].as_str().unwrap().to_string();
    // The plan changed nothing.
    assert_eq!(status_of(&c, "002").await, "applied");

    let r = ctx
        .run(&["rollback", "--last", "1", "--confirm", &token, "--json"])
        .expect(0);
    let j = r.json();
    assert_eq!(j["result"]["rolled_back"][0], "002");
    assert_eq!(j["result"]["restored"][0]["verified"], true);
    assert_eq!(contents(&c, "people").await, before);
    assert_eq!(status_of(&c, "002").await, "rolled_back");
    c.batch_execute("INSERT INTO people (name) VALUES ('dee')")
        .await
        .expect("insert after rollback");
    // The key file is private and out of git.
    assert!(ctx.root().join(".pgkeel/rollback.key").is_file());
    assert!(ctx.root().join(".pgkeel/.gitignore").is_file());
    // Used once: the same token is now for another plan.
    let again = ctx
        .run(&["rollback", "--last", "1", "--confirm", &token])
        .expect(4);
    assert!(
        again.stderr.contains("plan changed") || again.stderr.contains("refusing"),
        "{again}"
    );
}

#[tokio::test]
async fn without_a_terminal_the_token_is_required_and_nothing_changes() {
    let ctx = new_ctx().await;
    ctx.write("migrations/001_people.sql", BASE);
    ctx.write("migrations/002_purge.sql", PURGE);
    ctx.run(&["up"]).expect(0);
    let r = ctx.run(&["rollback", "--to", "001"]).expect(4);
    assert!(r.stdout.contains("rollback plan for"), "{r}");
    assert!(r.stderr.contains("a confirmation token is required"), "{r}");
    let j = ctx
        .run(&["rollback", "--to", "001", "--json"])
        .expect(4)
        .json();
    assert_eq!(j["ok"], false);
    assert_eq!(j["error"]["code"], "confirmation_required");
    assert!(j["token"].as_str().unwrap().starts_with("rb1."));
    let c = ctx.client().await;
    assert_eq!(status_of(&c, "002").await, "applied");
    assert_eq!(contents(&c, "people").await.0, 1);
}

#[tokio::test]
async fn refusals_name_the_problem_and_exit_4() {
    let ctx = new_ctx().await;
    ctx.write("migrations/001_people.sql", BASE);
    ctx.write(
        "migrations/002_more.sql",
        "CREATE TABLE more (id int);\nDO $$ BEGIN PERFORM 1; END $$;\n",
    );
    ctx.run(&["up"]).expect(0);
    let r = ctx.run(&["rollback", "--last", "1", "--plan"]).expect(4);
    assert!(
        r.stderr.contains(
            "002_more has no down SQL and pgkeel cannot generate it (migrations/002_more.sql):"
        ) && r
            .stderr
            .contains("line 2: `DO` — a DO block: pgkeel cannot see what it changes")
            && r.stderr
                .contains("write a `-- pgkeel:down` section (or 002_more.down.sql)"),
        "{r}"
    );
    let j = ctx
        .run(&["rollback", "--last", "1", "--plan", "--json"])
        .expect(4)
        .json();
    assert_eq!(j["error"]["code"], "refused");
    // With a sibling down file it can be planned; a malformed token is still refused.
    ctx.write("migrations/002_more.down.sql", "DROP TABLE more;\n");
    let plan = ctx.run(&["rollback", "--last", "1", "--plan"]).expect(0);
    assert!(plan.stdout.contains("002_more.down.sql"), "{plan}");
    let r = ctx
        .run(&["rollback", "--last", "1", "--confirm", "rb1.123.zz"])
        .expect(4);
    assert!(r.stderr.contains("malformed"), "{r}");
    // Usage: neither --to nor --last.
    ctx.run(&["rollback", "--plan"]).expect(2);
}

#[tokio::test]
async fn an_expired_backup_window_needs_force_expired() {
    let ctx = new_ctx().await;
    ctx.write("migrations/001_people.sql", BASE);
    ctx.write("migrations/002_purge.sql", PURGE);
    ctx.run(&["up"]).expect(0);
    let c = ctx.client().await;
    c.batch_execute("UPDATE pgkeel_backup.backups SET expires_at = now() - interval '2 days'")
        .await
        .unwrap();
    let plan = ctx.run(&["rollback", "--last", "1", "--plan"]).expect(0);
    assert!(
        plan.stdout.contains("EXPIRED") && plan.stdout.contains("--force-expired"),
        "{plan}"
    );
    let token = ctx.token(&["--last", "1"]);
    let r = ctx
        .run(&["rollback", "--last", "1", "--confirm", &token])
        .expect(4);
    assert!(
        r.stderr.contains("backup window has ended") && r.stderr.contains("SELECT row FROM"),
        "{r}"
    );
    assert_eq!(status_of(&c, "002").await, "applied");
    ctx.run(&[
        "rollback",
        "--last",
        "1",
        "--confirm",
        &token,
        "--force-expired",
    ])
    .expect(0);
    assert_eq!(contents(&c, "people").await.0, 3);
}

#[tokio::test]
async fn a_rollback_killed_half_way_leaves_the_database_as_it_was() {
    let ctx = new_ctx().await;
    ctx.write("migrations/001_people.sql", BASE);
    ctx.write(
        "migrations/002_purge.sql",
        "DELETE FROM people WHERE id > 1;\nALTER TABLE people DROP COLUMN email;\n-- pgkeel:down\nALTER TABLE people ADD COLUMN email text;\nSELECT pg_sleep(60);\n",
    );
    ctx.run(&["up"]).expect(0);
    let c = ctx.client().await;
    // Let the server notice a vanished client while pg_sleep runs.
    let db: String = c
        .query_one("SELECT current_database()", &[])
        .await
        .unwrap()
        .get(0);
    c.batch_execute(&format!(
        "ALTER DATABASE \"{db}\" SET client_connection_check_interval = '100ms'"
    ))
    .await
    .unwrap();
    let before = contents(&c, "people").await;
    let token = ctx.token(&["--last", "1"]);
    let mut child = ctx.spawn(&["rollback", "--last", "1", "--confirm", &token]);
    let start = Instant::now();
    let pid = loop {
        let row = c
            .query_opt(
                "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND query = 'SELECT pg_sleep(60);'",
                &[],
            )
            .await
            .unwrap();
        if let Some(r) = row {
            break r.get::<_, i32>(0);
        }
        if let Some(status) = child.try_wait().unwrap() {
            panic!("the rollback ended early: {status}");
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "the down never started"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    // Half-way: the column is back inside the open transaction.
    child.kill().expect("SIGKILL the rollback");
    let _ = child.wait();
    let start = Instant::now();
    loop {
        let gone: bool = c
            .query_one(
                "SELECT NOT EXISTS (SELECT 1 FROM pg_stat_activity WHERE pid = $1)",
                &[&pid],
            )
            .await
            .unwrap()
            .get(0);
        if gone {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "the backend outlived its client"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(contents(&c, "people").await, before);
    assert_eq!(status_of(&c, "002").await, "applied");
    let kept: i64 = c
        .query_one(
            "SELECT count(*) FROM pgkeel_backup.backups WHERE status = 'kept' AND restored_at IS NULL",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert!(kept >= 1);
    let audits: i64 = c
        .query_one(
            "SELECT count(*) FROM pgkeel.audit_log WHERE action = 'rollback'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(audits, 0);
    // The lock went with the process: status and a fresh plan work.
    let r = ctx
        .run(&["rollback", "--last", "1", "--plan", "--json"])
        .expect(0);
    assert_eq!(r.json()["plan"]["targets"][0]["version"], "002");
}

/// Run `pgkeel ARGS` on a pseudo-terminal (util-linux `script`), typing `input`.
fn on_terminal(ctx: &Ctx, args: &str, input: &str) -> Run {
    use std::io::Write as _;
    let cmd = format!(
        "{BIN} --database-url '{}' --log-file off {args}",
        ctx.db.url
    );
    let mut child = Command::new("script")
        .args(["-qec", &cmd, "/dev/null"])
        .current_dir(ctx.root())
        .env("NO_COLOR", "1")
        .env_remove("DATABASE_URL")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("util-linux `script` runs the command on a pseudo-terminal");
    // Typed input waits in the terminal until pgkeel reads it; stdin stays open until pgkeel
    // ends, so `script` never hangs up on it early.
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(input.as_bytes()).unwrap();
    stdin.flush().unwrap();
    let run = Run::from_output(child.wait_with_output().unwrap());
    drop(stdin);
    run
}

#[tokio::test]
async fn on_a_terminal_typing_the_oldest_version_confirms() {
    let ctx = new_ctx().await;
    ctx.write("migrations/001_people.sql", BASE);
    ctx.write("migrations/002_purge.sql", PURGE);
    ctx.run(&["up"]).expect(0);
    let c = ctx.client().await;
    let wrong = on_terminal(&ctx, "rollback --last 1", "001\n");
    assert!(wrong.stdout.contains("Type the oldest version"), "{wrong}");
    assert!(wrong.stdout.contains("nothing was rolled back"), "{wrong}");
    assert_eq!(wrong.code, 4, "{wrong}");
    assert_eq!(status_of(&c, "002").await, "applied");
    let right = on_terminal(&ctx, "rollback --last 1", "002\n");
    assert_eq!(right.code, 0, "{right}");
    assert!(
        right.stdout.contains("rolled back 1 migration(s)"),
        "{right}"
    );
    assert_eq!(status_of(&c, "002").await, "rolled_back");
    assert_eq!(contents(&c, "people").await.0, 3);
}

#[tokio::test]
async fn a_rollback_regenerates_the_types_file_like_up() {
    let project = Project::new();
    project.write(
        "pgkeel.toml",
        "[lint]\nenabled = false\n[types]\nout = \"src/db.ts\"\n",
    );
    let ctx = Ctx::with_project(project).await;
    ctx.write("migrations/001_people.sql", BASE);
    ctx.write(
        "migrations/002_pets.sql",
        "CREATE TABLE pets (id int PRIMARY KEY, name text);\n-- pgkeel:down\nDROP TABLE pets;\n",
    );
    ctx.run(&["up"]).expect(0);
    assert!(ctx.project.read("src/db.ts").contains("pets"));
    let token = ctx.token(&["--last", "1"]);
    let r = ctx
        .run(&["rollback", "--last", "1", "--confirm", &token])
        .expect(0);
    assert!(r.stdout.contains("types written to src/db.ts"), "{r}");
    let types = ctx.project.read("src/db.ts");
    assert!(!types.contains("pets"), "{types}");
    assert!(types.contains("people"), "{types}");
    // JSON says it too; `up` brings the table back into the file.
    ctx.run(&["up"]).expect(0);
    assert!(ctx.project.read("src/db.ts").contains("pets"));
    let token = ctx.token(&["--last", "1"]);
    let r = ctx
        .run(&["rollback", "--last", "1", "--confirm", &token, "--json"])
        .expect(0);
    assert_eq!(r.json()["result"]["types_written"], "src/db.ts", "{r}");
}
