//! End-to-end tests of the `pgkeel` binary on a real PostgreSQL server.
//!
//! Every test gets a throwaway database ([`TestDb`]) and a temporary project folder ([`Project`]),
//! runs the built binary with `std::process::Command` (cwd = the project root), and checks exit
//! codes, output (text and `--json`) and the state of the database.

mod cli_support;
use cli_support::{bare_command, pgkeel_command, run_command, Ctx, Run};
use std::path::Path;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use pgkeel_testkit::Project;
use serde_json::Value;
use tokio_postgres::Client;

// ---------------------------------------------------------------------------------------------
// Helpers (the shared ones are in tests/cli_support/mod.rs)
// ---------------------------------------------------------------------------------------------

/// Wait for a child without blocking the runtime; kill it and fail the test after `deadline`.
async fn wait_child(mut child: Child, deadline: Duration, what: &str) -> Run {
    let start = Instant::now();
    loop {
        match child.try_wait().expect("try_wait") {
            Some(_) => return Run::from_output(child.wait_with_output().expect("collect output")),
            None if start.elapsed() > deadline => {
                let _ = child.kill();
                let out = Run::from_output(child.wait_with_output().expect("collect output"));
                panic!("{what} did not finish within {deadline:?} (killed):\n{out}");
            }
            None => tokio::time::sleep(Duration::from_millis(50)).await,
        }
    }
}

/// Poll `check` every 100 ms until it returns true, or fail after `deadline`.
async fn wait_until<F, Fut>(deadline: Duration, what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let start = Instant::now();
    while !check().await {
        assert!(start.elapsed() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn table_exists(c: &Client, name: &str) -> bool {
    c.query_one("SELECT to_regclass($1::text) IS NOT NULL", &[&name])
        .await
        .expect("to_regclass")
        .get(0)
}

async fn schema_exists(c: &Client, name: &str) -> bool {
    c.query_one("SELECT to_regnamespace($1::text) IS NOT NULL", &[&name])
        .await
        .expect("to_regnamespace")
        .get(0)
}

async fn count(c: &Client, sql: &str) -> i64 {
    c.query_one(sql, &[])
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
        .get(0)
}

/// `(version, status)` of every history row, in version-text order.
async fn history(c: &Client) -> Vec<(String, String)> {
    c.query(
        "SELECT version, status FROM pgkeel.migrations ORDER BY version",
        &[],
    )
    .await
    .expect("read history")
    .iter()
    .map(|r| (r.get(0), r.get(1)))
    .collect()
}

/// The audit actions recorded for `version`, oldest first.
async fn audit_actions(c: &Client, version: &str) -> Vec<String> {
    c.query(
        "SELECT action FROM pgkeel.audit_log WHERE version = $1 ORDER BY id",
        &[&version],
    )
    .await
    .expect("read audit log")
    .iter()
    .map(|r| r.get(0))
    .collect()
}

/// State of each migration in a `status --json` document, as `(version, state)`.
fn states(doc: &Value) -> Vec<(String, String)> {
    doc["migrations"]
        .as_array()
        .unwrap_or_else(|| panic!("no migrations array: {doc}"))
        .iter()
        .map(|m| {
            (
                m["version"].as_str().unwrap_or_default().to_string(),
                m["state"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect()
}

fn pairs(items: &[(&str, &str)]) -> Vec<(String, String)> {
    items
        .iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect()
}

/// The entry for `version` in a `status --json` document.
fn entry<'a>(doc: &'a Value, version: &str) -> &'a Value {
    doc["migrations"]
        .as_array()
        .and_then(|a| a.iter().find(|m| m["version"] == version))
        .unwrap_or_else(|| panic!("no migration {version} in {doc}"))
}

/// Terminate this database's backends whose application_name starts with "pgkeel".
async fn terminate_pgkeel_backends(c: &Client) {
    c.execute(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
         WHERE datname = current_database() AND application_name LIKE 'pgkeel%' \
           AND pid <> pg_backend_pid()",
        &[],
    )
    .await
    .expect("terminate pgkeel backends");
}

// ---------------------------------------------------------------------------------------------
// 1. Happy path: both naming schemes, two folders, numeric order
// ---------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn happy_path_orders_both_schemes_across_folders() {
    let ctx = Ctx::new().await;
    let ins = |v: &str| format!("insert into applied_order(v) values ('{v}');\n");
    ctx.write(
        "migrations/legacy/000_a.sql",
        format!(
            "create table applied_order(id serial primary key, v text not null);\n{}",
            ins("000")
        ),
    );
    ctx.write("migrations/legacy/99_b.sql", ins("99"));
    ctx.write("migrations/legacy/100_c.sql", ins("100"));
    ctx.write("migrations/20240101120000_d.sql", ins("20240101120000"));
    ctx.write("migrations/20240102_e.sql", ins("20240102"));
    ctx.write("migrations/20240102_07_f.sql", ins("20240102_07"));
    let folders = [
        "--migrations",
        "migrations",
        "--migrations",
        "migrations/legacy",
    ];
    let with = |args: &[&str]| {
        let mut v = folders.to_vec();
        v.extend_from_slice(args);
        ctx.run(&v)
    };
    let expected = [
        "000",
        "99",
        "100",
        "20240101120000",
        "20240102",
        "20240102_07",
    ];

    let st = with(&["status", "--check"]).expect(3);
    assert!(st.stdout.contains("6 pending"), "{st}");

    let up = with(&["up"]).expect(0);
    assert!(
        up.stdout.contains("applied 6 migration(s)") && up.stdout.contains("newest 20240102_07"),
        "{up}"
    );

    let c = ctx.client().await;
    let order: Vec<String> = c
        .query("SELECT v FROM applied_order ORDER BY id", &[])
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(order, expected, "order in which the migrations ran");
    let by_finish: Vec<String> = c
        .query(
            "SELECT version FROM pgkeel.migrations WHERE status = 'applied' ORDER BY finished_at, version",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(by_finish, expected, "history rows by finished_at");
    let path: String = c
        .query_one(
            "SELECT path FROM pgkeel.migrations WHERE version = '99'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(path, "migrations/legacy/99_b.sql");

    with(&["status", "--check"]).expect(0);
    let again = with(&["up"]).expect(0);
    assert!(again.stdout.contains("nothing to apply"), "{again}");
    assert_eq!(count(&c, "SELECT count(*) FROM applied_order").await, 6);
}

// ---------------------------------------------------------------------------------------------
// 2. --json documents
// ---------------------------------------------------------------------------------------------

fn assert_envelope(doc: &Value, command: &str, ok: bool) {
    assert_eq!(doc["pgkeel"], 1, "{doc}");
    assert_eq!(doc["command"], command, "{doc}");
    assert_eq!(doc["ok"], ok, "{doc}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_documents_are_stable_and_parseable() {
    let ctx = Ctx::new().await;
    ctx.write(
        "migrations/001_users.sql",
        "create table users(id int primary key);\n",
    );
    ctx.write(
        "migrations/002_posts.sql",
        "create table posts(id int primary key, user_id int references users);\n-- pgkeel:down\ndrop table posts;\n",
    );

    let st = ctx.run(&["status", "--json"]).expect(0).json();
    assert_envelope(&st, "status", true);
    assert_eq!(st["history_schema"], "pgkeel");
    assert_eq!(st["history_exists"], false);
    assert_eq!(st["counts"]["pending"], 2);
    assert_eq!(st["counts"]["applied"], 0);
    assert!(
        st["database"]
            .as_str()
            .is_some_and(|d| d.contains(&ctx.db.name)),
        "{st}"
    );
    assert!(
        st["blockers"].as_array().is_some_and(|b| b.is_empty()),
        "{st}"
    );
    assert!(st["warnings"].is_array(), "{st}");
    assert!(st["applier"].is_null(), "{st}");
    let m = st["migrations"].as_array().expect("migrations");
    assert_eq!(m.len(), 2);
    for key in [
        "version",
        "name",
        "path",
        "state",
        "checksum",
        "recorded_checksum",
        "segments_done",
        "segments_total",
        "has_down",
        "applied_at",
        "duration_ms",
        "applied_by",
        "error",
    ] {
        assert!(
            m[0].get(key).is_some(),
            "status entry lacks {key}: {}",
            m[0]
        );
    }
    assert_eq!(m[0]["version"], "001");
    assert_eq!(m[0]["name"], "users");
    assert_eq!(m[0]["path"], "migrations/001_users.sql");
    assert_eq!(m[0]["state"], "pending");
    assert_eq!(m[0]["has_down"], false);
    assert_eq!(m[1]["has_down"], true);
    let checksum = m[0]["checksum"].as_str().expect("checksum");
    assert!(
        checksum.len() == 64 && checksum.bytes().all(|b| b.is_ascii_hexdigit()),
        "{checksum}"
    );
    assert!(m[0]["recorded_checksum"].is_null());

    // `status --check --json` still prints the document, with exit code 3.
    let check = ctx.run(&["status", "--check", "--json"]).expect(3).json();
    assert_envelope(&check, "status", true);

    let up = ctx.run(&["up", "--json"]).expect(0).json();
    assert_envelope(&up, "up", true);
    assert_eq!(up["dry_run"], false);
    assert_eq!(up["history_created"], true);
    assert_eq!(up["planned"], serde_json::json!(["001", "002"]));
    assert!(
        up["warnings"].is_array() && up["parse_warnings"].is_array(),
        "{up}"
    );
    let applied = up["applied"].as_array().expect("applied");
    assert_eq!(applied.len(), 2);
    for key in [
        "version",
        "name",
        "path",
        "checksum",
        "duration_ms",
        "statements",
        "segments",
        "resumed_from",
        "notes",
    ] {
        assert!(
            applied[0].get(key).is_some(),
            "applied entry lacks {key}: {up}"
        );
    }
    assert_eq!(applied[0]["version"], "001");
    assert_eq!(applied[0]["checksum"], checksum);
    assert!(up.get("error").is_none(), "{up}");

    let again = ctx.run(&["up", "--json"]).expect(0).json();
    assert_envelope(&again, "up", true);
    assert_eq!(again["planned"], serde_json::json!([]));
    assert_eq!(again["history_created"], false);

    let st = ctx.run(&["status", "--json"]).expect(0).json();
    assert_eq!(st["history_exists"], true);
    assert_eq!(st["counts"]["applied"], 2);
    assert_eq!(
        states(&st),
        pairs(&[("001", "applied"), ("002", "applied")])
    );
    let e = entry(&st, "001");
    assert_eq!(e["recorded_checksum"], e["checksum"]);
    assert!(e["applied_at"].is_string(), "{e}");
    assert_eq!(e["applied_by"], "postgres");

    let audit = ctx.run(&["audit", "--json"]).expect(0).json();
    assert_envelope(&audit, "audit", true);
    let entries = audit["entries"].as_array().expect("entries");
    let actions: Vec<&str> = entries
        .iter()
        .filter_map(|e| e["action"].as_str())
        .collect();
    // Newest first.
    assert_eq!(actions, ["apply", "apply", "history_upgrade"], "{audit}");
    assert_eq!(entries[0]["version"], "002");
    for key in ["id", "at", "action", "version", "actor", "details"] {
        assert!(entries[0].get(key).is_some(), "audit entry lacks {key}");
    }

    // Failures are documents too, with an error code.
    let err = ctx.run(&["up", "--to", "999", "--json"]).expect(2).json();
    assert_envelope(&err, "up", false);
    assert_eq!(err["error"]["code"], "unknown_version");
    assert!(
        err["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("999")),
        "{err}"
    );
    let err = ctx
        .run(&["repair", "--resolve-failed", "001", "--json"])
        .expect(4)
        .json();
    assert_envelope(&err, "repair", false);
    assert_eq!(err["error"]["code"], "refused");
}

// ---------------------------------------------------------------------------------------------
// 3. A failure in the middle of a migration leaves no trace
// ---------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failure_mid_migration_leaves_no_trace_and_is_repaired() {
    let ctx = Ctx::new().await;
    ctx.write("migrations/001_ok.sql", "create table base(id int);\n");
    let bad = "-- three statements; the second one fails\n\
               create table t1(id int);\n\
               select * from missing_table;\n\
               create table t3(id int);\n";
    ctx.write("migrations/002_bad.sql", bad);

    let up = ctx.run(&["up"]).expect(6);
    assert!(
        up.stdout
            .contains("applied 1 migration(s) before the failure"),
        "{up}"
    );
    assert!(
        up.stderr.contains("migrations/002_bad.sql:3:15"),
        "file:line:column\n{up}"
    );
    assert!(up.stderr.contains("statement 2"), "{up}");
    assert!(up.stderr.contains("42P01"), "SQLSTATE\n{up}");
    assert!(up.stderr.contains("missing_table"), "{up}");

    let c = ctx.client().await;
    assert!(table_exists(&c, "base").await, "001 stays applied");
    assert!(
        !table_exists(&c, "t1").await,
        "statement 1 of 002 was rolled back"
    );
    assert!(!table_exists(&c, "t3").await);

    let st = ctx.run(&["status", "--json"]).expect(0).json();
    assert_eq!(states(&st), pairs(&[("001", "applied"), ("002", "failed")]));
    let err = &entry(&st, "002")["error"];
    assert_eq!(err["sqlstate"], "42P01", "{st}");
    assert_eq!(err["statement"], 2);
    assert_eq!(err["line"], 3);
    assert_eq!(err["column"], 15);
    ctx.run(&["status", "--check"]).expect(3);

    // The same failure as a JSON document.
    let blocked = ctx.run(&["up"]).expect(4);
    assert!(
        blocked.stderr.contains("repair --resolve-failed 002"),
        "{blocked}"
    );
    let blocked = ctx.run(&["up", "--json"]).expect(4).json();
    assert_eq!(blocked["error"]["code"], "blocked");
    assert_eq!(blocked["error"]["blockers"][0]["state"], "failed");
    assert_eq!(
        blocked["error"]["blockers"][0]["path"],
        "migrations/002_bad.sql"
    );

    // Fix the file, resolve, apply.
    ctx.write(
        "migrations/002_bad.sql",
        bad.replace("select * from missing_table;", "create table t2(id int);"),
    );
    let r = ctx.run(&["repair", "--resolve-failed", "002"]).expect(0);
    assert!(r.stdout.contains("002"), "{r}");
    ctx.run(&["up"]).expect(0);
    for t in ["t1", "t2", "t3"] {
        assert!(table_exists(&c, t).await, "{t}");
    }
    ctx.run(&["status", "--check"]).expect(0);
    assert_eq!(
        audit_actions(&c, "002").await,
        ["fail", "repair_resolve_failed", "apply"]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failure_json_document_has_position_and_sqlstate() {
    let ctx = Ctx::new().await;
    ctx.write(
        "migrations/001_bad.sql",
        "create table t1(id int);\ninsert into t1 values ('x');\ncreate table t3(id int);\n",
    );
    let doc = ctx.run(&["up", "--json"]).expect(6).json();
    assert_envelope(&doc, "up", false);
    assert_eq!(doc["error"]["code"], "migration_failed");
    let f = &doc["error"]["failure"];
    assert_eq!(f["version"], "001");
    assert_eq!(f["path"], "migrations/001_bad.sql");
    assert_eq!(f["statement"], 2);
    assert_eq!(f["sqlstate"], "22P02");
    assert_eq!(f["line"], 2);
    // The server points at the literal 'x' (column 24 of line 2).
    assert_eq!(f["column"], 24, "{doc}");
    assert!(
        f["outcome"]
            .as_str()
            .is_some_and(|o| o.contains("rolled back")),
        "{doc}"
    );
    let c = ctx.client().await;
    assert!(!table_exists(&c, "t1").await);
}

// ---------------------------------------------------------------------------------------------
// 4. Modified files
// ---------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn modified_file_blocks_until_checksum_is_accepted() {
    let ctx = Ctx::new().await;
    ctx.write("migrations/001_a.sql", "create table m1(id int);\n");
    ctx.write("migrations/002_b.sql", "create table m2(id int);\n");
    ctx.run(&["up"]).expect(0);

    ctx.write(
        "migrations/001_a.sql",
        "create table m1(id int); -- edited\n",
    );
    ctx.write("migrations/003_c.sql", "create table m3(id int);\n");
    let st = ctx.run(&["status", "--json"]).expect(0).json();
    assert_eq!(
        states(&st),
        pairs(&[("001", "modified"), ("002", "applied"), ("003", "pending")])
    );
    let old = entry(&st, "001")["recorded_checksum"]
        .as_str()
        .unwrap()
        .to_string();
    let new = entry(&st, "001")["checksum"].as_str().unwrap().to_string();
    assert_ne!(old, new);
    ctx.run(&["status", "--check"]).expect(3);
    let text = ctx.run(&["status"]).expect(0);
    assert!(text.stdout.contains("modified"), "{text}");

    let up = ctx.run(&["up"]).expect(4);
    assert!(up.stderr.contains("migrations/001_a.sql"), "{up}");
    assert!(up.stderr.contains("--accept-checksum 001"), "{up}");
    let c = ctx.client().await;
    assert!(
        !table_exists(&c, "m3").await,
        "a blocked up applies nothing"
    );

    ctx.run(&["repair", "--accept-checksum", "001"]).expect(0);
    ctx.run(&["up"]).expect(0);
    assert!(table_exists(&c, "m3").await);
    ctx.run(&["status", "--check"]).expect(0);

    let audit = ctx.run(&["audit", "--json"]).expect(0).json();
    let repair = audit["entries"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["action"] == "repair_accept_checksum")
        .unwrap_or_else(|| panic!("no repair_accept_checksum entry: {audit}"));
    assert_eq!(repair["version"], "001");
    assert_eq!(repair["details"]["old_checksum"], old.as_str());
    assert_eq!(repair["details"]["new_checksum"], new.as_str());

    // Accepting again changes nothing.
    let again = ctx.run(&["repair", "--accept-checksum", "001"]).expect(0);
    assert!(again.stdout.contains("already matches"), "{again}");
}

// ---------------------------------------------------------------------------------------------
// 5. Missing files
// ---------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_file_blocks_until_forgotten() {
    let ctx = Ctx::new().await;
    ctx.write("migrations/001_a.sql", "create table f1(id int);\n");
    ctx.write("migrations/002_b.sql", "create table f2(id int);\n");
    ctx.run(&["up"]).expect(0);
    ctx.project.remove("migrations/002_b.sql");

    let st = ctx.run(&["status", "--json"]).expect(0).json();
    assert_eq!(
        states(&st),
        pairs(&[("001", "applied"), ("002", "missing")])
    );
    assert_eq!(entry(&st, "002")["path"], "migrations/002_b.sql");
    let up = ctx.run(&["up"]).expect(4);
    assert!(up.stderr.contains("repair --forget 002"), "{up}");

    // A file that still exists cannot be forgotten.
    let refused = ctx.run(&["repair", "--forget", "001"]).expect(4);
    assert!(refused.stderr.contains("migrations/001_a.sql"), "{refused}");
    let c = ctx.client().await;
    assert_eq!(
        history(&c).await,
        pairs(&[("001", "applied"), ("002", "applied")])
    );

    ctx.run(&["repair", "--forget", "002"]).expect(0);
    assert_eq!(history(&c).await, pairs(&[("001", "applied")]));
    assert_eq!(audit_actions(&c, "002").await, ["apply", "repair_forget"]);
    ctx.run(&["status", "--check"]).expect(0);
    let up = ctx.run(&["up"]).expect(0);
    assert!(up.stdout.contains("nothing to apply"), "{up}");
    assert!(
        table_exists(&c, "f2").await,
        "forgetting does not undo the schema"
    );
}

// ---------------------------------------------------------------------------------------------
// 6. Out of order
// ---------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn out_of_order_needs_allow_out_of_order() {
    let ctx = Ctx::new().await;
    ctx.write("migrations/002_b.sql", "create table o2(id int);\n");
    ctx.run(&["up"]).expect(0);
    ctx.write("migrations/001_a.sql", "create table o1(id int);\n");

    let st = ctx.run(&["status", "--json"]).expect(0).json();
    assert_eq!(
        states(&st),
        pairs(&[("001", "out_of_order"), ("002", "applied")])
    );
    ctx.run(&["status", "--check"]).expect(3);
    let up = ctx.run(&["up"]).expect(4);
    assert!(up.stderr.contains("--allow-out-of-order"), "{up}");
    assert!(up.stderr.contains("migrations/001_a.sql"), "{up}");
    let c = ctx.client().await;
    assert!(!table_exists(&c, "o1").await);

    ctx.run(&["up", "--allow-out-of-order"]).expect(0);
    assert!(table_exists(&c, "o1").await);
    ctx.run(&["status", "--check"]).expect(0);
}

// ---------------------------------------------------------------------------------------------
// 7. Discovery: duplicates, unmatched names, .skip, non-UTF-8
// ---------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn duplicate_versions_across_folders_name_both_files() {
    let ctx = Ctx::new().await;
    ctx.write("a/007_x.sql", "create table x(id int);\n");
    ctx.write("b/7_y.sql", "create table y(id int);\n");
    let dirs = ["--migrations", "a", "--migrations", "b"];
    for cmd in ["status", "up"] {
        let mut args = dirs.to_vec();
        args.push(cmd);
        let r = ctx.run(&args).expect(2);
        assert!(
            r.stderr.contains("a/007_x.sql") && r.stderr.contains("b/7_y.sql"),
            "{cmd}: {r}"
        );
    }
    let mut args = dirs.to_vec();
    args.extend(["status", "--json"]);
    let doc = ctx.run(&args).expect(2).json();
    assert_eq!(doc["error"]["code"], "duplicate_version");
    let c = ctx.client().await;
    assert!(!schema_exists(&c, "pgkeel").await, "nothing ran");
    assert!(!table_exists(&c, "x").await && !table_exists(&c, "y").await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unmatched_names_warn_or_fail_with_strict_and_skip_files_are_ignored() {
    let ctx = Ctx::new().await;
    ctx.write("migrations/001_a.sql", "create table u1(id int);\n");
    ctx.write("migrations/init.sql", "create table never(id int);\n");
    ctx.write("migrations/050_old.sql.skip", "select 1/0;\n");
    ctx.write("migrations/README.md", "not a migration\n");

    let st = ctx.run(&["status"]).expect(0);
    assert!(st.all().contains("migrations/init.sql"), "{st}");
    assert!(st.all().contains("warning"), "{st}");
    assert!(
        !st.all().contains("050_old"),
        ".sql.skip is ignored silently\n{st}"
    );
    assert!(!st.all().contains("README"), "{st}");
    let doc = ctx.run(&["status", "--json"]).expect(0).json();
    let warnings = doc["warnings"].as_array().unwrap();
    assert_eq!(warnings.len(), 1, "{doc}");
    assert_eq!(warnings[0]["path"], "migrations/init.sql");
    assert_eq!(states(&doc), pairs(&[("001", "pending")]));

    let strict = ctx.run(&["--strict", "status"]).expect(2);
    assert!(strict.stderr.contains("migrations/init.sql"), "{strict}");
    ctx.run(&["--strict", "up"]).expect(2);
    let c = ctx.client().await;
    assert!(!schema_exists(&c, "pgkeel").await);

    // Without --strict the matching migration applies, the others do not.
    ctx.run(&["up"]).expect(0);
    assert!(table_exists(&c, "u1").await);
    assert!(!table_exists(&c, "never").await);
    assert_eq!(history(&c).await, pairs(&[("001", "applied")]));

    // A subfolder holding .sql files that is not configured is reported, not silently skipped.
    ctx.write("migrations/fixed/002_f.sql", "create table u2(id int);\n");
    let st = ctx.run(&["status"]).expect(0);
    assert!(st.all().contains("migrations/fixed"), "{st}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn non_utf8_file_is_an_error_with_the_byte_offset() {
    let ctx = Ctx::new().await;
    let mut bytes = b"select 'ok';\n".to_vec();
    bytes.extend_from_slice(&[0xff, 0xfe]);
    ctx.write("migrations/001_a.sql", bytes);
    let r = ctx.run(&["status"]).expect(2);
    assert!(
        r.stderr.contains("migrations/001_a.sql") && r.stderr.contains("byte offset 13"),
        "{r}"
    );
    let doc = ctx.run(&["up", "--json"]).expect(2).json();
    assert_eq!(doc["error"]["code"], "non_utf8");
}

// ---------------------------------------------------------------------------------------------
// 8. CREATE INDEX CONCURRENTLY and resuming a partial run
// ---------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_index_concurrently_between_ordinary_statements() {
    let ctx = Ctx::new().await;
    ctx.write(
        "migrations/001_ci.sql",
        "create table ci(id int, v text);\n\
         insert into ci values (1, 'a'), (2, 'b');\n\
         create index concurrently ci_v on ci(v);\n\
         create table ci2(id int);\n\
         comment on index ci_v is 'made concurrently';\n",
    );
    let up = ctx.run(&["up", "--json"]).expect(0).json();
    assert_eq!(up["applied"][0]["segments"], 3, "{up}");
    let c = ctx.client().await;
    let valid: bool = c
        .query_one(
            "SELECT indisvalid AND indisready FROM pg_index WHERE indexrelid = 'ci_v'::regclass",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert!(valid, "index built concurrently is valid");
    assert!(table_exists(&c, "ci2").await);
    let st = ctx.run(&["status", "--json"]).expect(0).json();
    let e = entry(&st, "001");
    assert_eq!(e["state"], "applied");
    assert_eq!(
        (e["segments_done"].clone(), e["segments_total"].clone()),
        (3.into(), 3.into())
    );
}

const PARTIAL: &str = "create table a(id int);\n\
                       insert into a values (1);\n\
                       create index concurrently a_id on a(id);\n\
                       create table b(id int);\n\
                       select 1/0;\n";

/// Apply [`PARTIAL`]: segments 1 (table a + insert) and 2 (the index) complete, segment 3 fails.
async fn partial_failure(ctx: &Ctx, c: &Client) {
    ctx.write("migrations/001_partial.sql", PARTIAL);
    let up = ctx.run(&["up"]).expect(6);
    assert!(up.stderr.contains("22012"), "division by zero\n{up}");
    assert!(up.stderr.contains("migrations/001_partial.sql:5:"), "{up}");
    assert!(up.stderr.contains("statement 5"), "{up}");
    assert!(up.stderr.contains("segments 1–2 of 3"), "{up}");
    assert!(table_exists(c, "a").await, "segment 1 stays");
    assert!(table_exists(c, "a_id").await, "segment 2 stays");
    assert!(!table_exists(c, "b").await, "segment 3 was rolled back");
    let st = ctx.run(&["status", "--json"]).expect(0).json();
    let e = entry(&st, "001");
    assert_eq!(e["state"], "failed");
    assert_eq!(e["segments_done"], 2);
    assert_eq!(e["segments_total"], 3);
}

/// After the resumed run: nothing of segments 1 and 2 ran again.
async fn assert_resumed(ctx: &Ctx, c: &Client, up: &Value) {
    assert_eq!(up["applied"][0]["resumed_from"], 2, "{up}");
    assert!(table_exists(c, "b").await);
    assert_eq!(
        count(c, "SELECT count(*) FROM a").await,
        1,
        "the insert ran once"
    );
    assert_eq!(
        count(
            c,
            "SELECT count(*) FROM pg_indexes WHERE indexname = 'a_id'"
        )
        .await,
        1
    );
    ctx.run(&["status", "--check"]).expect(0);
    let st = ctx.run(&["status", "--json"]).expect(0).json();
    let e = entry(&st, "001");
    assert_eq!(e["recorded_checksum"], e["checksum"]);
    assert_eq!(e["segments_done"], 3);
}

/// The documented sequence: fix the file, `repair --resolve-failed`, `up` resumes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_segment_is_fixed_resolved_and_resumed() {
    let ctx = Ctx::new().await;
    let c = ctx.client().await;
    partial_failure(&ctx, &c).await;

    ctx.write(
        "migrations/001_partial.sql",
        PARTIAL.replace("select 1/0;", "select 1;"),
    );
    // Still failed (not modified): the failure needs resolving first.
    let blocked = ctx.run(&["up"]).expect(4);
    assert!(
        blocked.stderr.contains("repair --resolve-failed 001"),
        "{blocked}"
    );
    assert!(blocked.stderr.contains("from segment 3 of 3"), "{blocked}");

    let r = ctx.run(&["repair", "--resolve-failed", "001"]).expect(0);
    assert!(r.stdout.contains("segment 3 of 3"), "{r}");
    let st = ctx.run(&["status", "--json"]).expect(0).json();
    assert_eq!(entry(&st, "001")["state"], "pending");

    let up = ctx.run(&["up", "--json"]).expect(0).json();
    assert_resumed(&ctx, &c, &up).await;
    assert_eq!(
        audit_actions(&c, "001").await,
        ["fail", "repair_resolve_failed", "apply"]
    );
}

/// Resolved first, edited afterwards: the partial run's file changed, so it is `modified` until
/// `repair --accept-checksum`; then `up` resumes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn partial_run_edited_after_resolve_needs_accept_checksum() {
    let ctx = Ctx::new().await;
    let c = ctx.client().await;
    partial_failure(&ctx, &c).await;

    ctx.run(&["repair", "--resolve-failed", "001"]).expect(0);
    ctx.write(
        "migrations/001_partial.sql",
        PARTIAL.replace("select 1/0;", "select 1;"),
    );
    let st = ctx.run(&["status", "--json"]).expect(0).json();
    assert_eq!(entry(&st, "001")["state"], "modified");
    let blocked = ctx.run(&["up"]).expect(4);
    assert!(
        blocked.stderr.contains("--accept-checksum 001"),
        "{blocked}"
    );
    assert!(
        blocked.stderr.contains("after 2 of its 3 segments"),
        "{blocked}"
    );

    ctx.run(&["repair", "--accept-checksum", "001"]).expect(0);
    let up = ctx.run(&["up", "--json"]).expect(0).json();
    assert_resumed(&ctx, &c, &up).await;
}

/// Edited, then the checksum accepted on the failed row, then resolved: `up` resumes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn partial_run_accept_checksum_then_resolve_resumes() {
    let ctx = Ctx::new().await;
    let c = ctx.client().await;
    partial_failure(&ctx, &c).await;

    ctx.write(
        "migrations/001_partial.sql",
        PARTIAL.replace("select 1/0;", "select 1;"),
    );
    ctx.run(&["repair", "--accept-checksum", "001"]).expect(0);
    ctx.run(&["repair", "--resolve-failed", "001"]).expect(0);
    let up = ctx.run(&["up", "--json"]).expect(0).json();
    assert_resumed(&ctx, &c, &up).await;
}

// ---------------------------------------------------------------------------------------------
// 9. Two appliers at once
// ---------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_concurrent_ups_apply_each_migration_once() {
    let ctx = Ctx::new().await;
    ctx.write("migrations/001_a.sql", "create table c1(id int);\n");
    ctx.write(
        "migrations/002_b.sql",
        "create table c2(id int);\ninsert into c2 values (1);\ncreate index concurrently c2_id on c2(id);\n",
    );
    ctx.write(
        "migrations/003_slow.sql",
        "select pg_sleep(1);\ncreate table c3(id int);\n",
    );
    ctx.write(
        "migrations/004_d.sql",
        "create index concurrently c1_id on c1(id);\ncreate table c4(id int);\n",
    );

    let one = ctx.spawn(&["up"]);
    let two = ctx.spawn(&["up"]);
    let (one, two) = tokio::join!(
        wait_child(one, Duration::from_secs(60), "first up"),
        wait_child(two, Duration::from_secs(60), "second up")
    );
    assert_eq!(one.code, 0, "first up:\n{one}");
    assert_eq!(two.code, 0, "second up:\n{two}");
    let outputs = format!("{}{}", one.stdout, two.stdout);
    assert!(outputs.contains("applied 4 migration(s)"), "{one}\n{two}");
    assert!(outputs.contains("nothing to apply"), "{one}\n{two}");
    let errs = format!("{}{}", one.stderr, two.stderr);
    assert!(
        errs.contains("waiting for the migration lock"),
        "the two runs overlapped\n{one}\n{two}"
    );

    let c = ctx.client().await;
    assert_eq!(
        history(&c).await,
        pairs(&[
            ("001", "applied"),
            ("002", "applied"),
            ("003", "applied"),
            ("004", "applied")
        ])
    );
    assert_eq!(
        count(
            &c,
            "SELECT count(*) FROM pgkeel.audit_log WHERE action = 'apply'"
        )
        .await,
        4
    );
    assert_eq!(
        count(&c, "SELECT count(*) FROM pgkeel.audit_log WHERE action <> 'apply' AND action <> 'history_upgrade'").await,
        0
    );
    assert_eq!(count(&c, "SELECT count(*) FROM c2").await, 1);
    for t in ["c1", "c2", "c3", "c4", "c1_id", "c2_id"] {
        assert!(table_exists(&c, t).await, "{t}");
    }
}

// ---------------------------------------------------------------------------------------------
// 10. Lock wait timeout
// ---------------------------------------------------------------------------------------------

async fn migration_running(c: &Client) -> bool {
    c.query_one(
        "SELECT count(*) FROM pgkeel.migrations WHERE status = 'running'",
        &[],
    )
    .await
    .is_ok_and(|r| r.get::<_, i64>(0) > 0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lock_wait_timeout_names_the_holder() {
    let ctx = Ctx::new().await;
    ctx.write("migrations/001_slow.sql", "select pg_sleep(6);\n");
    let c = ctx.client().await;
    let first = ctx.spawn(&["up"]);
    wait_until(
        Duration::from_secs(20),
        "the first up to start its migration",
        || migration_running(&c),
    )
    .await;
    let holder_pid: i32 = c
        .query_one(
            "SELECT l.pid FROM pg_locks l JOIN pg_database d ON d.oid = l.database \
             WHERE l.locktype = 'advisory' AND l.granted AND d.datname = current_database()",
            &[],
        )
        .await
        .expect("the first up holds an advisory lock")
        .get(0);

    let second = ctx.run(&["--lock-wait-timeout", "1s", "up"]).expect(5);
    assert!(second.stderr.contains("timed out"), "{second}");
    assert!(
        second.stderr.contains(&format!("pid {holder_pid}")),
        "{second}"
    );
    assert!(second.stderr.contains("pgkeel lock"), "{second}");

    let doc = ctx
        .run(&["--lock-wait-timeout", "500ms", "up", "--json"])
        .expect(5)
        .json();
    assert_envelope(&doc, "up", false);
    assert_eq!(doc["error"]["code"], "lock_timeout");
    assert_eq!(doc["error"]["holder"]["pid"], holder_pid);
    assert_eq!(doc["error"]["holder"]["application_name"], "pgkeel lock");

    // `status` meanwhile shows the running migration and its applier.
    let st = ctx.run(&["status", "--json"]).expect(0).json();
    assert_eq!(entry(&st, "001")["state"], "running");
    assert_eq!(st["applier"]["pid"], holder_pid);

    let first = wait_child(first, Duration::from_secs(30), "first up").await;
    assert_eq!(first.code, 0, "{first}");
    assert_eq!(history(&c).await, pairs(&[("001", "applied")]));
}

// ---------------------------------------------------------------------------------------------
// 11. SIGKILL during a long migration
// ---------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_during_migration_leaves_it_interrupted_and_up_completes_it() {
    let ctx = Ctx::new().await;
    // The long migration is the second of the run: its `running` marker is committed by the
    // first one's last transaction, before any of its statements reach the server.
    ctx.write("migrations/001_first.sql", "create table j(x int);\n");
    ctx.write(
        "migrations/002_long.sql",
        "create table k(x int);\nselect pg_sleep(30);\n",
    );
    let c = ctx.client().await;
    let mut child = ctx.spawn(&["up"]);
    // Killed while the server runs the long statement (the `running` marker commits before the
    // statement reaches the server, so the marker alone is too early a sign).
    wait_until(
        Duration::from_secs(20),
        "the long statement to be running",
        || async {
            migration_running(&c).await
                && c.query_one(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND query LIKE 'select pg_sleep(30)%'",
                    &[],
                )
                .await
                .is_ok_and(|r| r.get::<_, i64>(0) > 0)
        },
    )
    .await;
    // The kill must land during the long statement (earlier, e.g. while the snapshot query
    // sends its rows, the backend notices the dead client and ends: an ordinary interruption).
    wait_until(
        Duration::from_secs(20),
        "the long statement to run",
        || async {
            count(
                &c,
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() \
                 AND state = 'active' AND query LIKE 'select pg_sleep(30)%'",
            )
            .await
                > 0
        },
    )
    .await;
    child.kill().expect("SIGKILL pgkeel");
    let _ = child.wait();

    // The lock's session ends with the process, but the server still runs the dead applier's
    // statement: status says so (naming the backend), and `up` refuses rather than collide.
    let st = ctx.run(&["status", "--json"]).expect(0).json();
    assert_eq!(entry(&st, "001")["state"], "applied", "{st}");
    assert_eq!(entry(&st, "002")["state"], "running", "{st}");
    assert!(st["applier"].is_null(), "{st}");
    let fix = st["blockers"][0]["fix"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(fix.contains("pg_cancel_backend("), "{st}");
    let refused = ctx.run(&["up"]).expect(4);
    assert!(
        refused.stderr.contains("still executing on server backend"),
        "{refused}"
    );

    // The dead applier's backend may still be sleeping inside its transaction: end it.
    terminate_pgkeel_backends(&c).await;
    wait_until(
        Duration::from_secs(10),
        "the old backends to go",
        || async {
            count(
                &c,
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() \
             AND application_name LIKE 'pgkeel%'",
            )
            .await
                == 0
        },
    )
    .await;

    // With the backend gone the migration is interrupted, and `up` completes it.
    let mut last = Value::Null;
    let start = Instant::now();
    loop {
        let st = ctx.run(&["status", "--json"]).expect(0).json();
        if entry(&st, "002")["state"] == "interrupted" {
            last = st;
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "status never showed interrupted: {st} (previous {last})"
        );
        last = st;
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(last["applier"].is_null(), "{last}");
    let text = ctx.run(&["status"]).expect(0);
    assert!(text.stdout.contains("interrupted"), "{text}");
    assert!(
        !table_exists(&c, "k").await,
        "the interrupted transaction left nothing"
    );

    // Nothing of it completed, so the edited file simply runs from the start.
    ctx.write(
        "migrations/002_long.sql",
        "create table k(x int);\nselect 1;\n",
    );
    let st = ctx.run(&["status", "--json"]).expect(0).json();
    assert_eq!(entry(&st, "002")["state"], "interrupted");
    ctx.run(&["up"]).expect(0);
    assert!(table_exists(&c, "k").await);
    ctx.run(&["status", "--check"]).expect(0);
    assert_eq!(
        history(&c).await,
        pairs(&[("001", "applied"), ("002", "applied")])
    );
}

/// A `no-transaction` migration killed after its first segment: the resume point survives, the
/// edited file is `modified` until accepted, then `up` resumes without re-running segment 1.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_after_completed_segments_resumes_at_the_recorded_point() {
    let ctx = Ctx::new().await;
    let sql = "-- pgkeel:no-transaction\n\
               create table k1(x int);\n\
               select pg_sleep(30);\n\
               create table k3(x int);\n";
    ctx.write("migrations/001_nt.sql", sql);
    let c = ctx.client().await;
    let mut child = ctx.spawn(&["up"]);
    wait_until(
        Duration::from_secs(20),
        "segment 2 to be running",
        || async {
            c.query_one(
            "SELECT count(*) FROM pgkeel.migrations WHERE status = 'running' AND segments_done = 1",
            &[],
        )
        .await
        .is_ok_and(|r| r.get::<_, i64>(0) == 1)
        },
    )
    .await;
    child.kill().expect("SIGKILL pgkeel");
    let _ = child.wait();
    terminate_pgkeel_backends(&c).await;
    wait_until(
        Duration::from_secs(10),
        "the old backends to go",
        || async {
            count(
                &c,
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() \
             AND application_name LIKE 'pgkeel%'",
            )
            .await
                == 0
        },
    )
    .await;

    let st = ctx.run(&["status", "--json"]).expect(0).json();
    let e = entry(&st, "001");
    assert_eq!(e["state"], "interrupted", "{st}");
    assert_eq!(
        (e["segments_done"].clone(), e["segments_total"].clone()),
        (1.into(), 3.into())
    );
    let text = ctx.run(&["status"]).expect(0);
    assert!(text.stdout.contains("interrupted (1/3 segments)"), "{text}");
    assert!(
        table_exists(&c, "k1").await,
        "segment 1 completed before the kill"
    );

    // Edit the statement that never completed: a partial run of a changed file is `modified`.
    ctx.write(
        "migrations/001_nt.sql",
        sql.replace("pg_sleep(30)", "pg_sleep(0)"),
    );
    let st = ctx.run(&["status", "--json"]).expect(0).json();
    assert_eq!(entry(&st, "001")["state"], "modified");
    let blocked = ctx.run(&["up"]).expect(4);
    assert!(
        blocked.stderr.contains("--accept-checksum 001"),
        "{blocked}"
    );
    ctx.run(&["repair", "--accept-checksum", "001"]).expect(0);
    let st = ctx.run(&["status", "--json"]).expect(0).json();
    assert_eq!(entry(&st, "001")["state"], "interrupted");

    // Re-running `create table k1` would fail: the resume skips it.
    let up = ctx.run(&["up", "--json"]).expect(0).json();
    assert_eq!(up["applied"][0]["resumed_from"], 1, "{up}");
    assert!(table_exists(&c, "k3").await);
    ctx.run(&["status", "--check"]).expect(0);
}

/// SIGKILL while the server is still executing a non-transactional statement of the migration
/// (a long CREATE INDEX CONCURRENTLY): the applier process is gone and its lock released, but its
/// backend — recorded as `backend_pid` in the history row — still runs the statement. pgkeel must
/// not call that "interrupted; `pgkeel up` resumes it", and `up` must not start the statement a
/// second time next to the one still running.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_while_the_server_still_runs_the_statement_is_not_resumed_twice() {
    let ctx = Ctx::new().await;
    ctx.write(
        "migrations/001_slow_index.sql",
        "create function slow(x int) returns int language plpgsql immutable as \
         $$ begin perform pg_sleep(0.4); return x; end $$;\n\
         create table t(x int);\n\
         insert into t select generate_series(1, 8);\n\
         create index concurrently t_slow on t (slow(x));\n\
         create table after_index(id int);\n",
    );
    let c = ctx.client().await;
    let mut child = ctx.spawn(&["up"]);
    let start = Instant::now();
    let backend: i32 = loop {
        let row = c
            .query_opt(
                "SELECT pid FROM pg_stat_activity WHERE datname = current_database() \
                 AND state = 'active' AND query ILIKE 'create index concurrently%'",
                &[],
            )
            .await
            .unwrap();
        if let Some(r) = row {
            break r.get(0);
        }
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "the index build never started"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let recorded: Option<i32> = c
        .query_one(
            "SELECT backend_pid FROM pgkeel.migrations WHERE version = '001'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(
        recorded,
        Some(backend),
        "history records the migration's backend"
    );
    child.kill().expect("SIGKILL pgkeel");
    let _ = child.wait();
    // The lock's session ends with the process.
    wait_until(
        Duration::from_secs(10),
        "the migration lock to be released",
        || async {
            count(
                &c,
                "SELECT count(*) FROM pg_locks l JOIN pg_database d ON d.oid = l.database \
             WHERE l.locktype = 'advisory' AND d.datname = current_database()",
            )
            .await
                == 0
        },
    )
    .await;
    let still_running = count(
        &c,
        &format!(
            "SELECT count(*) FROM pg_stat_activity WHERE pid = {backend} AND state = 'active'"
        ),
    )
    .await;
    assert_eq!(
        still_running, 1,
        "premise: the index build still runs on the server"
    );

    let st = ctx.run(&["status", "--json"]).expect(0).json();
    let state = entry(&st, "001")["state"].clone();
    let up = ctx.run(&["--lock-wait-timeout", "1s", "up"]);
    let failures = count(
        &c,
        "SELECT count(*) FROM pgkeel.audit_log WHERE action = 'fail'",
    )
    .await;
    terminate_pgkeel_backends(&c).await;
    assert_ne!(
        state, "interrupted",
        "backend {backend} still runs the migration's CREATE INDEX CONCURRENTLY, yet status says it \
         was interrupted and that `pgkeel up` resumes it:\n{st}\nthe `up` that followed:\n{up}"
    );
    assert!(
        up.code != 0 && up.code != 6 && failures == 0,
        "`up` ran the index build a second time next to the one still running:\n{up}"
    );
}

// ---------------------------------------------------------------------------------------------
// 12. Dry runs change nothing
// ---------------------------------------------------------------------------------------------

/// Everything a dry run could touch: relations and indexes outside the system schemas, schemas,
/// and pgkeel's history when it exists.
async fn snapshot(c: &Client) -> String {
    let rels: Option<String> = c
        .query_one(
            "SELECT string_agg(table_schema || '.' || table_name, ',' ORDER BY 1) \
             FROM information_schema.tables WHERE table_schema NOT IN ('pg_catalog', 'information_schema')",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    let idx: Option<String> = c
        .query_one(
            "SELECT string_agg(schemaname || '.' || indexname, ',' ORDER BY 1) FROM pg_indexes \
             WHERE schemaname NOT IN ('pg_catalog', 'information_schema')",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    let schemas: Option<String> = c
        .query_one(
            "SELECT string_agg(nspname, ',' ORDER BY 1) FROM pg_namespace \
             WHERE nspname NOT LIKE 'pg_%' AND nspname <> 'information_schema'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    let mut s = format!("tables={rels:?} indexes={idx:?} schemas={schemas:?}");
    if schema_exists(c, "pgkeel").await {
        let h: Option<String> = c
            .query_one(
                "SELECT string_agg(version || ':' || status || ':' || segments_done, ',' ORDER BY version) FROM pgkeel.migrations",
                &[],
            )
            .await
            .unwrap()
            .get(0);
        let audit = count(c, "SELECT count(*) FROM pgkeel.audit_log").await;
        s.push_str(&format!(" history={h:?} audit={audit}"));
    }
    s
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dry_run_changes_nothing() {
    let ctx = Ctx::new().await;
    ctx.write(
        "migrations/001_a.sql",
        "create table d1(id int, v text);\ninsert into d1 values (1, 'a');\n",
    );
    ctx.write(
        "migrations/002_b.sql",
        "create index concurrently d1_v on d1(v);\ncomment on index d1_v is 'used by the next statement';\nalter index d1_v rename to d1_v_idx;\n",
    );
    ctx.write(
        "migrations/003_c.sql",
        "create schema app;\ncreate view app.d1_view as select * from d1;\n",
    );
    let c = ctx.client().await;
    let before = snapshot(&c).await;

    let dry = ctx.run(&["up", "--dry-run"]).expect(0);
    assert!(dry.stdout.contains("nothing changed"), "{dry}");
    assert_eq!(snapshot(&c).await, before);
    assert!(
        !schema_exists(&c, "pgkeel").await,
        "a dry run creates no history"
    );

    let doc = ctx.run(&["up", "--dry-run", "--json"]).expect(0).json();
    assert_envelope(&doc, "up --dry-run", true);
    assert_eq!(doc["dry_run"], true);
    let items = doc["dry_run_result"]["items"].as_array().expect("items");
    assert_eq!(items.len(), 3, "{doc}");
    assert_eq!(
        items[1]["rehearsed_without_concurrently"],
        serde_json::json!([1])
    );
    assert_eq!(items[1]["statements_run"], 3);
    assert_eq!(snapshot(&c).await, before);
    assert!(!schema_exists(&c, "pgkeel").await);

    // A failing dry run: exit 6, still nothing changed.
    ctx.write(
        "migrations/004_bad.sql",
        "create table d4(id int);\nselect 1/0;\n",
    );
    let bad = ctx.run(&["up", "--dry-run"]).expect(6);
    assert!(
        bad.stderr.contains("22012") && bad.stderr.contains("migrations/004_bad.sql"),
        "{bad}"
    );
    let doc = ctx.run(&["up", "--dry-run", "--json"]).expect(6).json();
    assert_envelope(&doc, "up --dry-run", false);
    assert_eq!(doc["error"]["failure"]["statement"], 2);
    assert_eq!(snapshot(&c).await, before);
    assert!(!schema_exists(&c, "pgkeel").await);

    // With history present: apply 001 for real, then dry-run the rest (failing) again.
    ctx.run(&["up", "--to", "001"]).expect(0);
    let before = snapshot(&c).await;
    ctx.run(&["up", "--dry-run"]).expect(6);
    assert_eq!(
        snapshot(&c).await,
        before,
        "a failed dry run records no failure"
    );
    ctx.project.remove("migrations/004_bad.sql");
    ctx.run(&["up", "--dry-run"]).expect(0);
    assert_eq!(snapshot(&c).await, before);

    // And the real thing applies what the dry run rehearsed.
    ctx.run(&["up"]).expect(0);
    assert!(table_exists(&c, "d1_v_idx").await);
    assert!(table_exists(&c, "app.d1_view").await);
}

// ---------------------------------------------------------------------------------------------
// 13. new
// ---------------------------------------------------------------------------------------------

/// `pgkeel --json new ARGS…` in `root` (no database needed); fails the test after 20 s.
async fn new_migration(root: &Path, args: &[&str]) -> (String, String) {
    let mut c = pgkeel_command(root);
    c.args(["--json", "new"]);
    c.args(args);
    c.stdout(Stdio::piped()).stderr(Stdio::piped());
    let child = c.spawn().expect("spawn pgkeel new");
    let what = format!("pgkeel new {args:?}");
    let doc = wait_child(child, Duration::from_secs(20), &what)
        .await
        .expect(0)
        .json();
    assert_envelope(&doc, "new", true);
    (
        doc["result"]["version"].as_str().unwrap().to_string(),
        doc["result"]["path"].as_str().unwrap().to_string(),
    )
}

fn sql_files(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .map(|rd| {
            rd.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn new_creates_distinct_increasing_versions_inside_the_folder() {
    // Twice in a row (normally within one second) in an empty project: timestamps.
    let p = Project::new();
    let (v1, p1) = new_migration(p.root(), &["add orders"]).await;
    let (v2, p2) = new_migration(p.root(), &["add orders"]).await;
    assert_eq!(v1.len(), 14, "{v1}");
    assert!(
        v2.parse::<u64>().unwrap() > v1.parse::<u64>().unwrap(),
        "{v1} {v2}"
    );
    assert_eq!(p1, format!("migrations/{v1}_add_orders.sql"));
    assert_eq!(p2, format!("migrations/{v2}_add_orders.sql"));
    assert!(p.root().join(&p1).is_file() && p.root().join(&p2).is_file());

    // Sequential after 007_x.sql.
    let p = Project::new();
    p.write("migrations/007_x.sql", "select 1;\n");
    let (v, path) = new_migration(p.root(), &["--sequential", "next thing"]).await;
    assert_eq!(v, "008");
    assert_eq!(path, "migrations/008_next_thing.sql");
    // Auto follows the newest file's scheme.
    let (v, _) = new_migration(p.root(), &["another"]).await;
    assert_eq!(v, "009");

    // A name that looks like a path stays a name inside the folder.
    let p = Project::new();
    let (v, path) = new_migration(p.root(), &["../../etc/x"]).await;
    assert_eq!(path, format!("migrations/{v}_etc_x.sql"));
    assert_eq!(
        sql_files(&p.root().join("migrations")),
        [format!("{v}_etc_x.sql")]
    );
    let outside: Vec<_> = std::fs::read_dir(p.root())
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(outside, ["migrations"], "nothing else in the project");
    assert!(!p.root().join("../etc/x").exists() && !p.root().join("../../etc/x").exists());

    // The file it creates is a pending migration that `up` refuses until it holds SQL (the
    // template is never recorded as applied; tests/noops.rs has the whole story).
    let ctx = Ctx::new().await;
    let (v, path) = new_migration(ctx.root(), &["first"]).await;
    let st = ctx.run(&["status", "--json"]).expect(0).json();
    assert_eq!(states(&st), pairs(&[(v.as_str(), "pending")]));
    let r = ctx.run(&["up"]).expect(2);
    assert!(r.stderr.contains("still the empty template"), "{r}");
    let mut text = ctx.project.read(&path);
    text.push_str("select 1;\n");
    ctx.write(&path, text);
    ctx.run(&["up"]).expect(0);
}

/// The newest timestamp is in the future (a clock that was wrong, a typo in a hand-made name):
/// `new` must step past it at once, not count up one second at a time from now.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn new_after_a_future_timestamp_steps_past_it_promptly() {
    let p = Project::new();
    p.write("migrations/20991231235958_future.sql", "select 1;\n");
    let (a, _) = new_migration(p.root(), &["a"]).await;
    let (b, _) = new_migration(p.root(), &["b"]).await;
    assert_eq!(
        (a.as_str(), b.as_str()),
        ("20991231235959", "21000101000000")
    );
}

/// Several `new` at the same moment (e.g. parallel tool calls, or a script): each must get a file
/// with a version of its own. `new` claims to handle this ("another `new` may have taken the same
/// version under another name at the same moment: then step back and take the next free one").
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_new_calls_all_succeed_with_distinct_versions() {
    for round in 0..6 {
        let p = Project::new();
        std::fs::create_dir_all(p.root().join("migrations")).unwrap();
        let children: Vec<Child> = (0..10)
            .map(|i| {
                let mut c = pgkeel_command(p.root());
                let scheme = if round % 2 == 0 {
                    "--timestamp"
                } else {
                    "--sequential"
                };
                c.args(["--json", "new", scheme, &format!("m{i}")]);
                c.stdout(Stdio::piped()).stderr(Stdio::piped());
                c.spawn().expect("spawn pgkeel new")
            })
            .collect();
        let mut versions = Vec::new();
        for (i, child) in children.into_iter().enumerate() {
            let r = wait_child(child, Duration::from_secs(30), "pgkeel new").await;
            assert_eq!(r.code, 0, "round {round}: new m{i} failed:\n{r}");
            versions.push(r.json()["result"]["version"].as_str().unwrap().to_string());
        }
        let files = sql_files(&p.root().join("migrations"));
        assert_eq!(files.len(), 10, "round {round}: {files:?}");
        versions.sort();
        versions.dedup();
        assert_eq!(versions.len(), 10, "round {round}: {versions:?}");
    }
}

// ---------------------------------------------------------------------------------------------
// 14. baseline
// ---------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn baseline_marks_old_migrations_without_running_them() {
    let ctx = Ctx::new().await;
    ctx.write("migrations/001_a.sql", "create table b1(id int);\n");
    ctx.write("migrations/002_b.sql", "create table b2(id int);\n");
    ctx.write("migrations/003_c.sql", "create table b3(id int);\n");

    // The URL from the environment this time.
    let baseline = |args: &[&str]| {
        let mut cmd = pgkeel_command(ctx.root());
        cmd.env("DATABASE_URL", &ctx.db.url);
        cmd.args(args);
        run_command(cmd)
    };
    let r = baseline(&["baseline", "002"]).expect(0);
    assert!(
        r.stdout.contains("baselined 2 migration(s) up to 002"),
        "{r}"
    );

    let c = ctx.client().await;
    assert!(!table_exists(&c, "b1").await && !table_exists(&c, "b2").await);
    assert_eq!(
        history(&c).await,
        pairs(&[("001", "baselined"), ("002", "baselined")])
    );
    let st = ctx.run(&["status", "--json"]).expect(0).json();
    assert_eq!(
        states(&st),
        pairs(&[("001", "applied"), ("002", "applied"), ("003", "pending")])
    );

    let again = baseline(&["baseline", "002"]).expect(0);
    assert!(again.stdout.contains("2 already recorded"), "{again}");

    let up = ctx.run(&["up", "--json"]).expect(0).json();
    assert_eq!(up["planned"], serde_json::json!(["003"]));
    assert!(table_exists(&c, "b3").await);
    assert!(!table_exists(&c, "b1").await && !table_exists(&c, "b2").await);
    ctx.run(&["status", "--check"]).expect(0);
    let entries = ctx.run(&["audit", "--json"]).expect(0).json();
    let b = entries["entries"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["action"] == "baseline")
        .expect("baseline audit entry")
        .clone();
    assert_eq!(b["details"]["versions"], serde_json::json!(["001", "002"]));

    // No migration file at or before the version: refused, nothing recorded.
    let p = Ctx::new().await;
    p.write("migrations/005_x.sql", "select 1;\n");
    let r = p.run(&["baseline", "004"]);
    assert!(matches!(r.code, 2 | 4), "{r}");
    let pc = p.client().await;
    if schema_exists(&pc, "pgkeel").await {
        assert!(history(&pc).await.is_empty());
    }
}

// ---------------------------------------------------------------------------------------------
// 15. Passwords never appear
// ---------------------------------------------------------------------------------------------

const SECRET: &str = "s3cretpw";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn passwords_never_appear_in_output_or_logs() {
    let ctx = Ctx::new().await;
    ctx.write("migrations/001_a.sql", "create table pw(id int);\n");
    let log = ctx.root().join("logs/x.log");
    let log_arg = log.to_str().unwrap().to_string();

    let bad_urls = [
        format!("postgres://postgres:{SECRET}@127.0.0.1:1/nope"),
        format!("postgresql://postgres@127.0.0.1:1/nope?password={SECRET}"),
        format!("host=127.0.0.1 port=1 user=postgres password={SECRET} dbname=nope"),
        format!("postgres://postgres:{SECRET}@127.0.0.1:notaport/nope"),
    ];
    for url in &bad_urls {
        for json in [false, true] {
            let mut cmd = bare_command(ctx.root());
            cmd.args([
                "--database-url",
                url,
                "--log-file",
                &log_arg,
                "-vv",
                "status",
            ]);
            if json {
                cmd.arg("--json");
            }
            let r = run_command(cmd);
            assert_ne!(r.code, 0, "{url}: {r}");
            assert!(
                !r.all().contains(SECRET),
                "{url} (json {json}) leaks the password:\n{r}"
            );
            if json {
                let doc = r.json();
                assert_eq!(doc["ok"], false);
                // A port that is not a number is a mistake in the URL (configuration).
                let expected = if url.contains("notaport") {
                    "config"
                } else {
                    "connect"
                };
                assert_eq!(doc["error"]["code"], expected, "{doc}");
            }
        }
        // The same URL from the environment.
        let mut cmd = bare_command(ctx.root());
        cmd.env("DATABASE_URL", url)
            .args(["--log-file", &log_arg, "up"]);
        let r = run_command(cmd);
        assert!(
            !r.all().contains(SECRET),
            "{url} leaks via DATABASE_URL:\n{r}"
        );
    }
    let r = {
        let mut cmd = pgkeel_command(ctx.root());
        cmd.args(["--database-url", &bad_urls[0], "status"]);
        run_command(cmd)
    };
    assert_eq!(r.code, 1, "connection refused is exit 1:\n{r}");
    assert!(r.stderr.contains("postgres:***@127.0.0.1:1"), "{r}");

    // A URL with a password that works (trust auth ignores it).
    let url = ctx
        .db
        .url
        .replacen("://postgres@", &format!("://postgres:{SECRET}@"), 1);
    assert!(
        url.contains(SECRET),
        "unexpected test database URL {}",
        ctx.db.url
    );
    for args in [
        vec!["-vv", "up"],
        vec!["status", "--json"],
        vec!["-v", "status"],
        vec!["audit", "--json"],
    ] {
        let mut cmd = bare_command(ctx.root());
        cmd.args(["--database-url", &url, "--log-file", &log_arg]);
        cmd.args(&args);
        let r = run_command(cmd).expect(0);
        assert!(
            !r.all().contains(SECRET),
            "{args:?} leaks the password:\n{r}"
        );
    }
    let c = ctx.client().await;
    assert!(table_exists(&c, "pw").await);
    let text = std::fs::read_to_string(&log).expect("log file written");
    assert!(!text.is_empty());
    assert!(
        text.contains("postgres:***@"),
        "the log names the database, redacted:\n{text}"
    );
    assert!(
        !text.contains(SECRET),
        "the log leaks the password:\n{text}"
    );
    // Nor does the history (application_name, applied_by…) hold it.
    let leaked = count(
        &c,
        &format!(
            "SELECT count(*) FROM pgkeel.audit_log WHERE details::text LIKE '%{SECRET}%' \
             OR coalesce(application_name, '') LIKE '%{SECRET}%'"
        ),
    )
    .await;
    assert_eq!(leaked, 0);
}

// ---------------------------------------------------------------------------------------------
// 16. Configuration mistakes
// ---------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn config_unknown_key_is_an_error_with_its_line() {
    let ctx = Ctx::new().await;
    ctx.write("migrations/001_a.sql", "create table cfg(id int);\n");
    ctx.write(
        "pgkeel.toml",
        "# pgkeel configuration\n[migrations]\nfolders = [\"migrations\"]\nfolderz = [\"x\"]\n",
    );
    for cmd in ["status", "up"] {
        let r = ctx.run(&[cmd]).expect(2);
        assert!(r.stderr.contains("folderz"), "{r}");
        assert!(r.stderr.contains("line 4"), "{r}");
    }
    let doc = ctx.run(&["status", "--json"]).expect(2).json();
    assert_eq!(doc["error"]["code"], "config");
    let c = ctx.client().await;
    assert!(!schema_exists(&c, "pgkeel").await);

    // An unknown section, found from a subfolder (the config is looked up upwards).
    ctx.write(
        "pgkeel.toml",
        "[database]\nurl_env = \"X\"\n\n[aply]\nlock_timeout = \"1s\"\n",
    );
    std::fs::create_dir_all(ctx.root().join("sub")).unwrap();
    let mut cmd = ctx.command(&["status"]);
    cmd.current_dir(ctx.root().join("sub"));
    let r = run_command(cmd).expect(2);
    assert!(
        r.stderr.contains("aply") && r.stderr.contains("line 4"),
        "{r}"
    );

    // A bad value.
    ctx.write("pgkeel.toml", "[apply]\nlock_timeout = \"5 parsecs\"\n");
    let r = ctx.run(&["status"]).expect(2);
    assert!(r.stderr.contains("5 parsecs"), "{r}");

    // A folder outside the project.
    ctx.project.remove("pgkeel.toml");
    let r = ctx
        .run(&["--migrations", "../elsewhere", "status"])
        .expect(2);
    assert!(r.stderr.contains("../elsewhere"), "{r}");

    // Fixed: it works.
    ctx.write("pgkeel.toml", "[migrations]\nfolders = [\"migrations\"]\n");
    ctx.run(&["up"]).expect(0);
    assert!(table_exists(&c, "cfg").await);
}

/// `[apply] lock_timeout` from pgkeel.toml bounds how long a migration statement waits for a
/// table lock: the migration fails fast with SQLSTATE 55P03 instead of queueing behind (and
/// blocking everyone else behind) a long transaction.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lock_timeout_from_config_fails_a_blocked_statement_fast() {
    let ctx = Ctx::new().await;
    ctx.write("pgkeel.toml", "[apply]\nlock_timeout = \"300ms\"\n");
    ctx.write("migrations/001_a.sql", "create table lt(id int);\n");
    ctx.run(&["up"]).expect(0);

    let mut holder = ctx.client().await;
    let tx = holder.transaction().await.unwrap();
    tx.batch_execute("LOCK TABLE lt IN ACCESS EXCLUSIVE MODE")
        .await
        .unwrap();
    ctx.write("migrations/002_b.sql", "alter table lt add column y int;\n");
    let start = Instant::now();
    let up = ctx.run(&["up", "--json"]).expect(6);
    assert!(
        start.elapsed() < Duration::from_secs(4),
        "waited {:?}",
        start.elapsed()
    );
    assert_eq!(up.json()["error"]["failure"]["sqlstate"], "55P03", "{up}");
    tx.rollback().await.unwrap();

    // Nothing was applied, so the migration stays pending: `up` runs it without a repair.
    ctx.run(&["up"]).expect(0);
    let c = ctx.client().await;
    assert_eq!(
        count(&c, "SELECT count(*) FROM information_schema.columns WHERE table_name = 'lt' AND column_name = 'y'").await,
        1
    );
}

// ---------------------------------------------------------------------------------------------
// 17. BEGIN/COMMIT wrapper, and transaction control in the middle
// ---------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn begin_commit_wrapper_is_skipped_but_inner_commit_is_refused() {
    let ctx = Ctx::new().await;
    ctx.write(
        "migrations/001_wrapped.sql",
        "BEGIN;\n\
         create table w(id int);\n\
         do $$ begin insert into w values (1); end $$;\n\
         COMMIT;\n",
    );
    ctx.write(
        "migrations/002_mid.sql",
        "create table m1(id int);\nCOMMIT;\ncreate table m2(id int);\n",
    );
    let c = ctx.client().await;

    let r = ctx.run(&["up"]).expect(2);
    assert!(r.stderr.contains("migrations/002_mid.sql:2:1"), "{r}");
    assert!(r.stderr.contains("statement 2"), "{r}");
    assert!(!table_exists(&c, "w").await, "nothing ran: 001 neither");
    assert!(!table_exists(&c, "m1").await);
    if schema_exists(&c, "pgkeel").await {
        assert_eq!(count(&c, "SELECT count(*) FROM pgkeel.migrations").await, 0);
    }
    let doc = ctx.run(&["up", "--json"]).expect(2).json();
    assert_eq!(doc["error"]["code"], "unrunnable_migration");
    // A dry run refuses it the same way.
    ctx.run(&["up", "--dry-run"]).expect(2);

    ctx.project.remove("migrations/002_mid.sql");
    let r = ctx.run(&["up"]).expect(0);
    assert!(r.stderr.contains("wrapper is skipped"), "{r}");
    assert!(table_exists(&c, "w").await);
    assert_eq!(count(&c, "SELECT count(*) FROM w").await, 1);
    assert_eq!(history(&c).await, pairs(&[("001", "applied")]));
}
