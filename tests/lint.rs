//! `pgkeel lint` and the lint pre-flight of `pgkeel up`, end to end on the built binary (the
//! pre-flight on a real PostgreSQL server).

mod cli_support;
use cli_support::{run, run_db};

use pgkeel_testkit::{Project, TestDb};
use serde_json::Value;

const CLEAN: &str =
    "create table users (id bigint generated always as identity primary key, email text, legacy text);\n";
/// Line 2: an error (ban-drop-column at 2:22 on `accounts`, a table the run does not create and,
/// with backups off, nothing backs up); line 3: a warning (prefer-bigint-over-int).
const RISKY: &str = "-- drop what is no longer read\nalter table accounts drop column legacy;\nalter table accounts add column score int;\n";

/// A statement_timeout keeps the require-statement-timeout warning out of these tests; with
/// backups off, dropping a column of a table with rows stays an error in context.
const TOML: &str = "[apply]\nstatement_timeout = \"1min\"\n\n[backup]\nenabled = false\n";

fn project() -> Project {
    let p = Project::new();
    p.write("pgkeel.toml", TOML);
    p.write("migrations/001_users.sql", CLEAN);
    p.write("migrations/002_risky.sql", RISKY);
    p
}

#[test]
fn lint_prints_findings_with_positions_and_help_and_exits_3_on_errors() {
    let p = project();
    // No database anywhere: lint reads files only.
    let r = run(p.root(), &["lint"]).expect(3);
    let want_error = "migrations/002_risky.sql:2:22: error ban-drop-column: Dropping a column may break existing clients.";
    assert!(r.stdout.contains(want_error), "{r}");
    assert!(
        r.stdout
            .contains("migrations/002_risky.sql:3:39: warning prefer-bigint-over-int:"),
        "{r}"
    );
    let lines: Vec<&str> = r.stdout.lines().collect();
    let at = lines
        .iter()
        .position(|l| l.contains("warning prefer-bigint-over-int"))
        .unwrap();
    assert_eq!(
        lines[at + 1],
        "  help: Use 64-bit integer values instead to prevent hitting this limit.",
        "{r}"
    );
    assert!(
        r.stdout
            .contains("2 file(s) linted: 1 error(s), 1 warning(s)"),
        "{r}"
    );
    assert!(r.stdout.contains("--accept-lint"), "{r}");

    // Only a clean file: exit 0.
    let r = run(p.root(), &["lint", "migrations/001_users.sql"]).expect(0);
    assert!(
        r.stdout
            .contains("1 file(s) linted: 0 error(s), 0 warning(s)"),
        "{r}"
    );
}

#[test]
fn lint_json_lists_every_finding() {
    let p = project();
    let r = run(p.root(), &["--json", "lint"]).expect(3);
    let doc = r.json();
    assert_eq!(doc["command"], "lint");
    assert_eq!(doc["ok"], false);
    assert_eq!(doc["errors"], 1);
    assert_eq!(doc["warnings"], 1);
    assert_eq!(
        doc["files"],
        serde_json::json!(["migrations/001_users.sql", "migrations/002_risky.sql"])
    );
    let f = &doc["findings"][0];
    assert_eq!(f["rule"], "ban-drop-column");
    assert_eq!(f["severity"], "error");
    assert_eq!(f["path"], "migrations/002_risky.sql");
    assert_eq!(
        (&f["line"], &f["column"], &f["end_line"], &f["end_column"]),
        (
            &Value::from(2),
            &Value::from(22),
            &Value::from(2),
            &Value::from(40)
        )
    );
    assert_eq!(f["part"], "up");
    assert!(f.get("help").is_none(), "{f}");
    assert!(
        f["reason"]
            .as_str()
            .unwrap_or_default()
            .starts_with("offline"),
        "{f}"
    );
    let w = &doc["findings"][1];
    assert_eq!(w["rule"], "prefer-bigint-over-int");
    assert_eq!(w["severity"], "warning");
    assert_eq!(
        w["help"],
        "Use 64-bit integer values instead to prevent hitting this limit."
    );
}

#[test]
fn lint_files_takes_any_sql_file_and_reports_bad_paths_and_settings() {
    let p = project();
    // Named by no scheme, CRLF line endings, a down section: positions as an editor shows them.
    p.write(
        "scratch/cleanup.sql",
        "\u{feff}select 1;\r\n-- pgkeel:down\r\n\r\ndrop table users;\r\n",
    );
    // Down SQL exists to undo: its findings are warnings at most (exit 0).
    let r = run(p.root(), &["--json", "lint", "scratch/cleanup.sql"]).expect(0);
    let f = &r.json()["findings"][0];
    assert_eq!(f["rule"], "ban-drop-table", "{r}");
    assert_eq!(f["severity"], "warning", "{r}");
    assert_eq!(
        (&f["line"], &f["column"]),
        (&Value::from(4), &Value::from(1))
    );
    assert_eq!(f["part"], "down");
    // The same statement in an up part is an error.
    p.write("scratch/drop.sql", "\r\n\r\ndrop table users;\r\n");
    let r = run(p.root(), &["--json", "lint", "scratch/drop.sql"]).expect(3);
    let f = &r.json()["findings"][0];
    assert_eq!(
        (&f["severity"], &f["line"], &f["column"]),
        (&Value::from("error"), &Value::from(3), &Value::from(1))
    );

    let r = run(p.root(), &["lint", "scratch/missing.sql"]).expect(1);
    assert!(r.stderr.contains("missing.sql"), "{r}");

    // A squawk-ignore comment silences the finding.
    p.write(
        "scratch/ignored.sql",
        "-- squawk-ignore ban-drop-column\nalter table users drop column legacy;\n",
    );
    run(p.root(), &["lint", "scratch/ignored.sql"]).expect(0);

    // Settings: a mistake is reported with its line; severities and `enabled` apply.
    p.write(
        "pgkeel.toml",
        "[lint]\n\n[lint.rules]\nban-drop-colum = \"off\"\n",
    );
    let r = run(p.root(), &["lint"]).expect(2);
    assert!(r.stderr.contains("pgkeel.toml:4:1"), "{r}");
    p.write(
        "pgkeel.toml",
        "[apply]\nstatement_timeout = \"1min\"\n\n[lint.rules]\nban-drop-column = \"warning\"\n",
    );
    let r = run(p.root(), &["lint"]).expect(0);
    assert!(r.stdout.contains("0 error(s), 2 warning(s)"), "{r}");
    p.write("pgkeel.toml", "[lint]\nenabled = false\n");
    let r = run(p.root(), &["lint"]).expect(0);
    assert!(r.stdout.contains("lint is off"), "{r}");
}

async fn applied(db: &TestDb) -> Vec<String> {
    let c = db.client().await;
    let exists: bool = c
        .query_one("SELECT to_regclass('pgkeel.migrations') IS NOT NULL", &[])
        .await
        .unwrap()
        .get(0);
    if !exists {
        return Vec::new();
    }
    c.query(
        "SELECT version FROM pgkeel.migrations WHERE status = 'applied' ORDER BY version",
        &[],
    )
    .await
    .unwrap()
    .iter()
    .map(|r| r.get(0))
    .collect()
}

/// `accounts` with rows, made outside the migrations (as in a database that predates them).
async fn accounts(db: &TestDb) {
    db.client()
        .await
        .batch_execute(
            "CREATE TABLE accounts (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, legacy text);
             INSERT INTO accounts (legacy) VALUES ('a'), ('b'), ('c');",
        )
        .await
        .expect("accounts");
}

#[tokio::test]
async fn up_is_blocked_by_lint_errors_until_accepted() {
    let p = project();
    let db = TestDb::new().await;
    accounts(&db).await;

    let r = run_db(p.root(), &db, &["up"]).expect(4);
    assert!(
        r.stderr
            .contains("migrations/002_risky.sql:2:22 ban-drop-column"),
        "{r}"
    );
    assert!(
        r.stderr
            .contains("why: accounts has 3 rows and no automatic backup is taken"),
        "{r}"
    );
    assert!(
        r.stderr.contains("pgkeel up --accept-lint ban-drop-column"),
        "{r}"
    );
    assert!(
        r.stderr
            .contains("`-- pgkeel:accept ban-drop-column <reason>`"),
        "{r}"
    );
    // Nothing ran: not even the clean migration before it.
    assert!(applied(&db).await.is_empty());

    let r = run_db(p.root(), &db, &["--json", "up", "--dry-run"]).expect(4);
    let doc = r.json();
    assert_eq!(doc["error"]["code"], "lint_blocked");
    assert_eq!(doc["error"]["lint"][0]["rule"], "ban-drop-column");

    // An unknown rule id is a usage error.
    let r = run_db(p.root(), &db, &["up", "--accept-lint", "ban-drop-colum"]).expect(2);
    assert!(r.stderr.contains("not a squawk rule id"), "{r}");
    assert!(applied(&db).await.is_empty());

    // Accepted: it runs, and the warning (and the accepted error) are printed.
    let r = run_db(p.root(), &db, &["up", "--accept-lint", "ban-drop-column"]).expect(0);
    assert!(
        r.stderr
            .contains("migrations/002_risky.sql:3:39: warning prefer-bigint-over-int:"),
        "{r}"
    );
    assert_eq!(applied(&db).await, ["001", "002"]);
    let c = db.client().await;
    let legacy: i64 = c
        .query_one(
            "SELECT count(*) FROM information_schema.columns WHERE table_name = 'accounts' AND column_name = 'legacy'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(legacy, 0);
}

#[tokio::test]
async fn lint_since_and_block_false_let_older_migrations_run() {
    let p = project();
    let db = TestDb::new().await;
    accounts(&db).await;
    p.write("pgkeel.toml", format!("{TOML}\n[lint]\nsince = \"003\"\n"));
    let r = run_db(p.root(), &db, &["--json", "up"]).expect(0);
    let doc = r.json();
    assert_eq!(doc["lint"][0]["rule"], "ban-drop-column", "{r}");
    assert_eq!(applied(&db).await, ["001", "002"]);

    // A new migration at or after `since` is held to the rules.
    p.write("migrations/003_more.sql", "drop table accounts;\n");
    run_db(p.root(), &db, &["up"]).expect(4);
    p.write("pgkeel.toml", format!("{TOML}\n[lint]\nblock = false\n"));
    run_db(p.root(), &db, &["up"]).expect(0);
    assert_eq!(applied(&db).await, ["001", "002", "003"]);
}

/// Line 1 of each file accepts its finding; 001 fills `big` with 200,000 rows first.
const BIG: &str = "create table big (id bigint generated always as identity primary key, x bigint not null, legacy text);\ninsert into big (x, legacy) select g, 'old' from generate_series(1, 200000) g;\n";
const INDEX: &str = "create index big_x on big (x);\n";
const INDEX_ACCEPTED: &str = "-- pgkeel:accept require-concurrent-index-creation big is written only by the nightly load; a SHARE lock while it builds is fine\ncreate index big_x on big (x);\n";
const DROP_ACCEPTED: &str = "-- pgkeel:accept ban-drop-column legacy has not been read since v2\nalter table big drop column legacy;\n";

async fn lint_accepted(db: &TestDb, version: &str) -> Value {
    db.client()
        .await
        .query_one(
            "SELECT lint_accepted FROM pgkeel.migrations WHERE version = $1",
            &[&version],
        )
        .await
        .unwrap()
        .get(0)
}

#[tokio::test]
async fn an_accept_line_in_the_file_applies_and_replays_in_types_verify_without_flags() {
    let p = Project::new();
    let db = TestDb::new().await;
    p.write(
        "pgkeel.toml",
        "[apply]\nstatement_timeout = \"1min\"\n\n[types]\nout = \"types/db.ts\"\n",
    );
    p.write("migrations/001_big.sql", BIG);
    run_db(p.root(), &db, &["up"]).expect(0);

    // On a table with 200,000 rows, a plain CREATE INDEX blocks.
    p.write("migrations/002_index.sql", INDEX);
    let r = run_db(p.root(), &db, &["up"]).expect(4);
    assert!(
        r.stderr
            .contains("migrations/002_index.sql:1:1 require-concurrent-index-creation"),
        "{r}"
    );
    assert!(
        r.stderr
            .contains("`-- pgkeel:accept require-concurrent-index-creation <reason>`"),
        "{r}"
    );

    // Accepted in the files: `up` runs with no flag; the findings print as accepted.
    p.write("migrations/002_index.sql", INDEX_ACCEPTED);
    p.write("migrations/003_drop.sql", DROP_ACCEPTED);
    let lint = run(p.root(), &["lint"]).expect(0);
    assert!(
        lint.stdout
            .contains("migrations/002_index.sql:2:1: accepted require-concurrent-index-creation:"),
        "{lint}"
    );
    assert!(
        // Offline, `big` is created earlier in the same run (001): info, and accepted.
        lint.stdout.contains("  accepted (info, from migrations/002_index.sql:1): big is written only by the nightly load; a SHARE lock while it builds is fine"),
        "{lint}"
    );
    assert!(
        lint.stdout
            .contains("3 file(s) linted: 0 error(s), 0 warning(s), 0 info, 2 accepted"),
        "{lint}"
    );
    let doc = run(p.root(), &["--json", "lint"]).expect(0).json();
    assert_eq!(
        (&doc["errors"], &doc["accepted"]),
        (&Value::from(0), &Value::from(2))
    );
    assert_eq!(doc["findings"][0]["severity"], "info", "{doc}");
    assert_eq!(
        doc["findings"][0]["accepted"],
        serde_json::json!({"reason": "big is written only by the nightly load; a SHARE lock while it builds is fine", "source": "migrations/002_index.sql:1"})
    );

    let r = run_db(p.root(), &db, &["--json", "up"]).expect(0);
    let doc = r.json();
    assert_eq!(doc["applied"].as_array().unwrap().len(), 2, "{r}");
    assert_eq!(doc["lint"][0]["rule"], "require-concurrent-index-creation");
    assert_eq!(
        doc["lint"][0]["accepted"]["source"],
        "migrations/002_index.sql:1"
    );
    assert_eq!(doc["accept_lines_to_add"], serde_json::json!([]));
    assert_eq!(applied(&db).await, ["001", "002", "003"]);

    // History and the audit log record each accepted rule, its reason and where it came from.
    assert_eq!(
        lint_accepted(&db, "003").await,
        serde_json::json!([{"rule": "ban-drop-column", "reason": "legacy has not been read since v2", "source": "migrations/003_drop.sql:1"}])
    );
    assert_eq!(lint_accepted(&db, "001").await, serde_json::json!([]));
    let audit = run_db(p.root(), &db, &["--json", "audit"]).expect(0).json();
    let entry = audit["entries"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["action"] == "apply" && e["version"] == "002")
        .cloned()
        .expect("the apply of 002 in the audit log");
    assert_eq!(
        entry["details"]["lint_accepted"][0]["rule"],
        "require-concurrent-index-creation"
    );
    assert_eq!(
        entry["details"]["lint_accepted"][0]["source"],
        "migrations/002_index.sql:1"
    );
    let text = run_db(p.root(), &db, &["audit"]).expect(0);
    assert!(
        text.stdout.contains("legacy has not been read since v2"),
        "{text}"
    );
    let status = run_db(p.root(), &db, &["--json", "status", "--all"])
        .expect(0)
        .json();
    assert_eq!(
        status["migrations"][2]["lint_accepted"][0]["rule"], "ban-drop-column",
        "{status}"
    );

    // `types verify` replays every migration on a throwaway database: the file's acceptances
    // count there too, without flags.
    let r = run_db(p.root(), &db, &["types", "verify"]).expect(0);
    assert!(r.stdout.contains("types up to date"), "{r}");
    // Without the line the replay passes too: on the throwaway database `big` is created
    // earlier in the same run, so lint in context does not block it.
    p.write(
        "migrations/003_drop.sql",
        "alter table big drop column legacy;\n",
    );
    let r = run_db(p.root(), &db, &["types", "verify"]);
    assert!(!r.stderr.contains("lint found problems"), "{r}");
}

#[tokio::test]
async fn accept_lint_for_one_run_names_the_line_to_add_and_is_recorded() {
    let p = project();
    let db = TestDb::new().await;
    accounts(&db).await;
    let r = run_db(p.root(), &db, &["up", "--accept-lint", "ban-drop-column"]).expect(0);
    assert!(
        r.stderr.contains(
            "migrations/002_risky.sql:2:22: accepted ban-drop-column: Dropping a column may break existing clients."
        ),
        "{r}"
    );
    assert!(
        r.stderr.contains(
            "  accepted (error, from --accept-lint): accepted for one run with --accept-lint"
        ),
        "{r}"
    );
    assert!(
        r.stderr.contains("note: ban-drop-column was accepted for this run only; to accept it in every run, add this line to migrations/002_risky.sql (a line of its own in the up part, e.g. above line 2):\n  -- pgkeel:accept ban-drop-column <reason>\n  (the file is applied, so its checksum changes: then run `pgkeel repair --accept-checksum 002`)"),
        "{r}"
    );
    assert_eq!(
        lint_accepted(&db, "002").await,
        serde_json::json!([{"rule": "ban-drop-column", "reason": "accepted for one run with --accept-lint", "source": "--accept-lint"}])
    );

    // A dry run names the line too (nothing is applied, so no repair), in JSON as well.
    p.write(
        "migrations/003_drop.sql",
        "alter table accounts drop column score;\n",
    );
    let doc = run_db(
        p.root(),
        &db,
        &[
            "--json",
            "up",
            "--dry-run",
            "--accept-lint",
            "ban-drop-column",
        ],
    )
    .expect(0)
    .json();
    assert_eq!(
        doc["accept_lines_to_add"],
        serde_json::json!([{"path": "migrations/003_drop.sql", "rule": "ban-drop-column", "line": "-- pgkeel:accept ban-drop-column <reason>", "before_line": 1}])
    );
}

#[test]
fn accept_lines_are_checked_and_an_unused_one_is_a_warning() {
    let p = project();
    p.write(
        "migrations/002_risky.sql",
        format!("-- pgkeel:accept ban-drop-column nobody reads legacy\n-- pgkeel:accept ban-drop-table nothing is dropped here\n{RISKY}"),
    );
    let r = run(p.root(), &["lint"]).expect(0);
    assert!(
        r.stdout.contains("migrations/002_risky.sql:2:18: warning unused-accept: `-- pgkeel:accept ban-drop-table` matches no finding in this file."),
        "{r}"
    );
    assert!(
        r.stdout
            .contains("0 error(s), 2 warning(s), 0 info, 1 accepted"),
        "{r}"
    );

    // An unknown rule id and a missing reason are directive errors with line and column.
    p.write(
        "migrations/002_risky.sql",
        format!("-- pgkeel:accept ban-drop-colum why\n{RISKY}"),
    );
    let r = run(p.root(), &["lint"]).expect(2);
    assert!(
        r.stderr.contains("migrations/002_risky.sql:1:18: `-- pgkeel:accept ban-drop-colum`: not a squawk rule id; did you mean ban-drop-column?"),
        "{r}"
    );
    p.write(
        "migrations/002_risky.sql",
        format!("-- pgkeel:accept ban-drop-column\n{RISKY}"),
    );
    let r = run(p.root(), &["--json", "lint"]).expect(2);
    let e = &r.json()["error"];
    assert_eq!(e["code"], "bad_directive");
    assert!(
        e["message"].as_str().unwrap().starts_with(
            "migrations/002_risky.sql:1:34: `-- pgkeel:accept ban-drop-column` has no reason"
        ),
        "{r}"
    );
}

#[test]
fn lint_explain_says_why_and_the_safe_form() {
    let p = project();
    let r = run(
        p.root(),
        &["lint", "--explain", "require-concurrent-index-creation"],
    )
    .expect(0);
    assert!(
        r.stdout.starts_with(
            "require-concurrent-index-creation\n\nwhy: CREATE INDEX holds a SHARE lock"
        ),
        "{r}"
    );
    assert!(
        r.stdout.contains("\n  create index concurrently if not exists orders_customer_id_idx on orders (customer_id);"),
        "{r}"
    );
    assert!(
        r.stdout
            .contains("-- pgkeel:accept require-concurrent-index-creation <reason>"),
        "{r}"
    );
    // Aliases resolve; JSON has the fields.
    let doc = run(
        p.root(),
        &["--json", "lint", "--explain", "prefer-timestamptz"],
    )
    .expect(0)
    .json();
    assert_eq!(doc["explanation"]["rule"], "prefer-timestamp-tz");
    assert!(doc["explanation"]["safe"]
        .as_str()
        .unwrap()
        .contains("timestamptz"));
    // An unknown rule: exit 2 with the nearest id.
    let r = run(p.root(), &["lint", "--explain", "ban-drop-colum"]).expect(2);
    assert!(
        r.stderr
            .contains("\"ban-drop-colum\" is not a squawk rule id; did you mean ban-drop-column?"),
        "{r}"
    );
    let doc = run(p.root(), &["--json", "lint", "--explain", "nope"])
        .expect(2)
        .json();
    assert_eq!(doc["error"]["code"], "unknown_rule");
}

#[tokio::test]
async fn a_format_1_history_upgrades_in_place() {
    let p = project();
    let db = TestDb::new().await;
    accounts(&db).await;
    run_db(p.root(), &db, &["up", "--accept-lint", "ban-drop-column"]).expect(0);
    // Back to what an older release wrote: no lint_accepted column, format 1.
    let c = db.client().await;
    c.batch_execute(
        "ALTER TABLE pgkeel.migrations DROP COLUMN lint_accepted; DROP TABLE pgkeel.snapshots; UPDATE pgkeel.history_format SET format = 1;",
    )
    .await
    .unwrap();
    // status reads it without writing.
    let s = run_db(p.root(), &db, &["--json", "status", "--all"])
        .expect(0)
        .json();
    assert_eq!(
        s["migrations"][1]["lint_accepted"],
        serde_json::json!([]),
        "{s}"
    );
    // The next `up` upgrades it (audit-logged), keeping every row.
    p.write(
        "migrations/003_drop.sql",
        "-- pgkeel:accept ban-drop-table accounts moved to the billing service\ndrop table accounts;\n",
    );
    run_db(p.root(), &db, &["up"]).expect(0);
    let format: i32 = c
        .query_one("SELECT max(format) FROM pgkeel.history_format", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(format, 3);
    assert_eq!(applied(&db).await, ["001", "002", "003"]);
    assert_eq!(lint_accepted(&db, "002").await, serde_json::json!([]));
    assert_eq!(
        lint_accepted(&db, "003").await[0]["source"],
        "migrations/003_drop.sql:1"
    );
    let upgrades: i64 = c
        .query_one(
            "SELECT count(*) FROM pgkeel.audit_log WHERE action = 'history_upgrade' AND details->>'to' = '3'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(upgrades, 2);
}
