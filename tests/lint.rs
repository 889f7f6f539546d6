//! `pgkeel lint` and the lint pre-flight of `pgkeel up`, end to end on the built binary (the
//! pre-flight on a real PostgreSQL server).

mod cli_support;
use cli_support::{run, run_db};

use pgkeel_testkit::{Project, TestDb};
use serde_json::Value;

const CLEAN: &str =
    "create table users (id bigint generated always as identity primary key, email text, legacy text);\n";
/// Line 2: an error (ban-drop-column at 2:19); line 3: a warning (prefer-bigint-over-int).
const RISKY: &str = "-- drop what is no longer read\nalter table users drop column legacy;\nalter table users add column score int;\n";

fn project() -> Project {
    let p = Project::new();
    // A statement_timeout keeps the require-statement-timeout warning out of these tests.
    p.write("pgkeel.toml", "[apply]\nstatement_timeout = \"1min\"\n");
    p.write("migrations/001_users.sql", CLEAN);
    p.write("migrations/002_risky.sql", RISKY);
    p
}

#[test]
fn lint_prints_findings_with_positions_and_help_and_exits_3_on_errors() {
    let p = project();
    // No database anywhere: lint reads files only.
    let r = run(p.root(), &["lint"]).expect(3);
    let want_error = "migrations/002_risky.sql:2:19: error ban-drop-column: Dropping a column may break existing clients.";
    assert!(r.stdout.contains(want_error), "{r}");
    assert!(
        r.stdout
            .contains("migrations/002_risky.sql:3:36: warning prefer-bigint-over-int:"),
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
            &Value::from(19),
            &Value::from(2),
            &Value::from(37)
        )
    );
    assert_eq!(f["part"], "up");
    assert!(f.get("help").is_none(), "{f}");
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

#[tokio::test]
async fn up_is_blocked_by_lint_errors_until_accepted() {
    let p = project();
    let db = TestDb::new().await;

    let r = run_db(p.root(), &db, &["up"]).expect(4);
    assert!(
        r.stderr
            .contains("migrations/002_risky.sql:2:19 ban-drop-column"),
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
            .contains("migrations/002_risky.sql:3:36: warning prefer-bigint-over-int:"),
        "{r}"
    );
    assert_eq!(applied(&db).await, ["001", "002"]);
    let c = db.client().await;
    let legacy: i64 = c
        .query_one(
            "SELECT count(*) FROM information_schema.columns WHERE table_name = 'users' AND column_name = 'legacy'",
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
    p.write(
        "pgkeel.toml",
        "[apply]\nstatement_timeout = \"1min\"\n\n[lint]\nsince = \"003\"\n",
    );
    let r = run_db(p.root(), &db, &["--json", "up"]).expect(0);
    let doc = r.json();
    assert_eq!(doc["lint"][0]["rule"], "ban-drop-column", "{r}");
    assert_eq!(applied(&db).await, ["001", "002"]);

    // A new migration at or after `since` is held to the rules.
    p.write("migrations/003_more.sql", "drop table users;\n");
    run_db(p.root(), &db, &["up"]).expect(4);
    p.write(
        "pgkeel.toml",
        "[apply]\nstatement_timeout = \"1min\"\n\n[lint]\nblock = false\n",
    );
    run_db(p.root(), &db, &["up"]).expect(0);
    assert_eq!(applied(&db).await, ["001", "002", "003"]);
}
