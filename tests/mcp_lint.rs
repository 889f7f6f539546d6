//! Lint in the MCP tools, through rmcp's client over stdio on a real database: plan_migration
//! shows the findings, apply_migration refuses unaccepted error findings without writing a file
//! or a history row, and applies with `accept_lint`. The risky migration drops a column of a
//! table that holds rows, with backups off, so it is a true hazard in context.

mod mcp_support;
use mcp_support::{call, is_error, structured, text};
use std::process::Stdio;

use pgkeel_testkit::{Project, TestDb};
use rmcp::model::{ClientCapabilities, ClientConfig, Implementation};
use rmcp::service::RunningService;
use rmcp::transport::{ConfigureCommandExt, TokioChildProcess};
use rmcp::{ClientHandler, RoleClient, ServiceExt};
use serde_json::json;

const BIN: &str = env!("CARGO_BIN_EXE_pgkeel");

#[derive(Clone, Default)]
struct Client;

impl ClientHandler for Client {
    fn get_info(&self) -> ClientConfig {
        ClientConfig::new(
            ClientCapabilities::default(),
            Implementation::new("pgkeel-test", "0.1.0"),
        )
    }
}

async fn stdio(p: &Project, db: &TestDb) -> RunningService<RoleClient, Client> {
    let root = p.root().to_path_buf();
    let url = db.url.clone();
    let cmd = tokio::process::Command::new(BIN).configure(move |c| {
        c.current_dir(&root)
            .args(["--database-url", &url, "--log-file", "off", "serve"])
            .env_remove("DATABASE_URL")
            .env_remove("PGKEEL_STATEMENT_TIMEOUT")
            .env_remove("PGKEEL_LOCK_TIMEOUT");
    });
    let (transport, _stderr) = TokioChildProcess::builder(cmd)
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn pgkeel serve");
    Client.serve(transport).await.expect("initialize")
}

async fn history_rows(db: &TestDb) -> i64 {
    db.client()
        .await
        .query_one(
            "SELECT CASE WHEN to_regclass('pgkeel.migrations') IS NULL THEN 0 ELSE (SELECT count(*) FROM pgkeel.migrations WHERE version = '002') END",
            &[],
        )
        .await
        .expect("history")
        .get(0)
}

/// Backups off: dropping a column of a table with rows is then an error in context.
const TOML: &str = "[apply]\nstatement_timeout = \"1min\"\n\n[backup]\nenabled = false\n";

async fn fill_customers(db: &TestDb) {
    db.client()
        .await
        .batch_execute(
            "INSERT INTO customers (legacy) SELECT 'x' || g FROM generate_series(1, 3) g",
        )
        .await
        .expect("rows in customers");
}

const RISKY: &str =
    "ALTER TABLE customers DROP COLUMN legacy;\nALTER TABLE customers ADD COLUMN score int;\n";

#[tokio::test]
async fn plan_shows_lint_and_apply_is_blocked_until_accepted() {
    let db = TestDb::new().await;
    let p = Project::new();
    p.write("pgkeel.toml", TOML);
    p.write(
        "migrations/001_customers.sql",
        "CREATE TABLE customers (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, legacy text);\n",
    );
    let client = stdio(&p, &db).await;
    let r = call(&client, "apply_migration", json!({"version": "001"})).await;
    assert!(!is_error(&r), "{}", text(&r));
    fill_customers(&db).await;

    // plan_migration: the findings with exact positions, and what would block.
    let plan = call(
        &client,
        "plan_migration",
        json!({"name": "risky", "sql": RISKY}),
    )
    .await;
    assert!(!is_error(&plan), "{}", text(&plan));
    let s = structured(&plan);
    assert_eq!(s["blocked_by_lint"], json!(["ban-drop-column"]));
    let lint = s["lint"].as_array().expect("lint array");
    assert_eq!(lint.len(), 2, "{s}");
    assert_eq!(lint[0]["rule"], "ban-drop-column");
    assert_eq!(lint[0]["severity"], "error");
    assert_eq!(lint[0]["path"], "migrations/002_risky.sql");
    assert_eq!(
        (&lint[0]["line"], &lint[0]["column"]),
        (&json!(1), &json!(23))
    );
    assert_eq!(lint[1]["rule"], "prefer-bigint-over-int");
    assert_eq!(
        (&lint[1]["line"], &lint[1]["column"]),
        (&json!(2), &json!(40))
    );
    assert!(text(&plan).contains("accept_lint"), "{}", text(&plan));

    // apply_migration without accepting: a tool error, no file, no history row.
    let r = call(
        &client,
        "apply_migration",
        json!({"name": "risky", "sql": RISKY}),
    )
    .await;
    assert!(is_error(&r), "{}", text(&r));
    let e = &structured(&r)["error"];
    assert_eq!(e["code"], "lint_blocked");
    assert_eq!(e["lint"][0]["rule"], "ban-drop-column");
    assert!(
        text(&r).contains("migrations/002_risky.sql:1:23 ban-drop-column"),
        "{}",
        text(&r)
    );
    assert!(e["next"].as_str().unwrap().contains("accept_lint"), "{e}");
    assert!(!p.root().join("migrations/002_risky.sql").exists());
    assert_eq!(history_rows(&db).await, 0);

    // Accepting another rule (or an unknown one) does not help.
    let r = call(
        &client,
        "apply_migration",
        json!({"name": "risky", "sql": RISKY, "accept_lint": ["ban-drop-table"]}),
    )
    .await;
    assert_eq!(structured(&r)["error"]["code"], "lint_blocked");
    let r = call(
        &client,
        "apply_migration",
        json!({"name": "risky", "sql": RISKY, "accept_lint": ["ban-drop-colum"]}),
    )
    .await;
    assert_eq!(structured(&r)["error"]["code"], "config", "{}", text(&r));
    assert!(!p.root().join("migrations/002_risky.sql").exists());
    assert_eq!(history_rows(&db).await, 0);

    // Accepted: written and applied.
    let r = call(
        &client,
        "apply_migration",
        json!({"name": "risky", "sql": RISKY, "accept_lint": ["ban-drop-column"]}),
    )
    .await;
    assert!(!is_error(&r), "{}", text(&r));
    assert_eq!(structured(&r)["file_written"], true);
    // The acceptance is written into the file, so later replays need no flags.
    assert_eq!(
        p.read("migrations/002_risky.sql"),
        format!("-- pgkeel:accept ban-drop-column accepted through MCP apply_migration\n{RISKY}")
    );
    assert_eq!(history_rows(&db).await, 1);
    assert_eq!(
        recorded(&db, "002").await,
        json!([{"rule": "ban-drop-column", "reason": "accepted through MCP apply_migration", "source": "migrations/002_risky.sql:1"}])
    );
    client.cancel().await.ok();
}

#[tokio::test]
async fn apply_by_version_is_blocked_until_accepted() {
    let db = TestDb::new().await;
    let p = Project::new();
    p.write("pgkeel.toml", TOML);
    p.write(
        "migrations/001_customers.sql",
        "CREATE TABLE customers (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, legacy text);\n",
    );
    let client = stdio(&p, &db).await;
    let r = call(&client, "apply_migration", json!({"version": "001"})).await;
    assert!(!is_error(&r), "{}", text(&r));
    fill_customers(&db).await;
    p.write("migrations/002_risky.sql", RISKY);
    let r = call(&client, "apply_migration", json!({"version": "002"})).await;
    assert!(is_error(&r), "{}", text(&r));
    assert_eq!(structured(&r)["error"]["code"], "lint_blocked");
    assert_eq!(history_rows(&db).await, 0);
    let r = call(
        &client,
        "apply_migration",
        json!({"version": "002", "accept_lint": ["ban-drop-column"]}),
    )
    .await;
    assert!(!is_error(&r), "{}", text(&r));
    assert_eq!(structured(&r)["applied"], json!(["002"]));
    client.cancel().await.ok();
}

async fn recorded(db: &TestDb, version: &str) -> serde_json::Value {
    db.client()
        .await
        .query_one(
            "SELECT lint_accepted FROM pgkeel.migrations WHERE version = $1",
            &[&version],
        )
        .await
        .expect("history row")
        .get(0)
}

#[tokio::test]
async fn accept_lint_with_a_reason_is_written_into_the_file_plan_and_apply_agree() {
    let db = TestDb::new().await;
    let p = Project::new();
    p.write("pgkeel.toml", "[apply]\nstatement_timeout = \"1min\"\n");
    p.write(
        "migrations/001_customers.sql",
        "CREATE TABLE customers (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, legacy text);\nINSERT INTO customers (legacy) SELECT 'x' FROM generate_series(1, 1000);\n",
    );
    let client = stdio(&p, &db).await;
    let accept = json!([{"rule": "ban-drop-column", "reason": "legacy is unused since\nv3"}]);
    let sql = "-- pgkeel:no-transaction\nALTER TABLE customers DROP COLUMN legacy;\n";

    let plan = call(
        &client,
        "plan_migration",
        json!({"name": "drop_legacy", "sql": sql, "accept_lint": accept}),
    )
    .await;
    assert!(!is_error(&plan), "{}", text(&plan));
    let s = structured(&plan);
    assert_eq!(s["blocked_by_lint"], json!([]), "{s}");
    assert_eq!(
        s["accept_lines"],
        json!(["-- pgkeel:accept ban-drop-column legacy is unused since v3"])
    );
    assert_eq!(
        s["lint"][0]["accepted"]["source"],
        "migrations/002_drop_legacy.sql:2"
    );
    assert!(
        text(&plan).contains("The file gets the line: -- pgkeel:accept ban-drop-column"),
        "{}",
        text(&plan)
    );

    let r = call(
        &client,
        "apply_migration",
        json!({"name": "drop_legacy", "sql": sql, "accept_lint": accept}),
    )
    .await;
    assert!(!is_error(&r), "{}", text(&r));
    let a = structured(&r);
    // The line goes after the leading directive; plan and apply name the same content.
    let written = p.read("migrations/002_drop_legacy.sql");
    assert_eq!(
        written,
        "-- pgkeel:no-transaction\n-- pgkeel:accept ban-drop-column legacy is unused since v3\nALTER TABLE customers DROP COLUMN legacy;\n"
    );
    assert_eq!(a["checksum"], s["checksum"]);
    assert_eq!(a["accept_lines"], s["accept_lines"]);
    assert_eq!(
        a["lint_accepted"],
        json!(["migrations/002_drop_legacy.sql:3:23 ban-drop-column (legacy is unused since v3; from migrations/002_drop_legacy.sql:2)"])
    );
    assert_eq!(
        recorded(&db, "002").await,
        json!([{"rule": "ban-drop-column", "reason": "legacy is unused since v3", "source": "migrations/002_drop_legacy.sql:2"}])
    );
    // migration_status shows it.
    let st = call(
        &client,
        "migration_status",
        json!({"include_applied": true}),
    )
    .await;
    assert_eq!(
        structured(&st)["migrations"][1]["lint_accepted"][0]["rule"],
        "ban-drop-column"
    );
    // The same call again: the file exists with this content, nothing to do.
    let again = call(
        &client,
        "apply_migration",
        json!({"name": "drop_legacy", "sql": sql, "version": "002", "accept_lint": accept}),
    )
    .await;
    assert!(!is_error(&again), "{}", text(&again));
    assert_eq!(structured(&again)["file_written"], false);

    // An empty reason is refused before anything happens.
    let r = call(
        &client,
        "apply_migration",
        json!({"name": "more", "sql": "DROP TABLE customers;\n", "accept_lint": [{"rule": "ban-drop-table", "reason": " "}]}),
    )
    .await;
    assert!(is_error(&r), "{}", text(&r));
    assert_eq!(structured(&r)["error"]["code"], "bad_arguments");
    assert!(!p.root().join("migrations/003_more.sql").exists());
    client.cancel().await.ok();
}

#[tokio::test]
async fn accept_lint_by_version_counts_for_the_call_and_names_the_line_to_add() {
    let db = TestDb::new().await;
    let p = Project::new();
    p.write("pgkeel.toml", "[apply]\nstatement_timeout = \"1min\"\n");
    p.write(
        "migrations/001_customers.sql",
        "CREATE TABLE customers (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, legacy text);\n",
    );
    p.write("migrations/002_risky.sql", RISKY);
    let client = stdio(&p, &db).await;
    let r = call(
        &client,
        "apply_migration",
        json!({"version": "002", "accept_lint": [{"rule": "ban-drop-column", "reason": "the user agreed"}]}),
    )
    .await;
    assert!(!is_error(&r), "{}", text(&r));
    let s = structured(&r);
    assert_eq!(
        s["accept_lines_to_add"],
        json!(["migrations/002_risky.sql: -- pgkeel:accept ban-drop-column the user agreed"])
    );
    assert!(
        text(&r).contains("Accepted for this call only"),
        "{}",
        text(&r)
    );
    assert_eq!(
        recorded(&db, "002").await,
        json!([{"rule": "ban-drop-column", "reason": "the user agreed", "source": "mcp accept_lint"}])
    );
    // The existing file is not changed.
    assert_eq!(p.read("migrations/002_risky.sql"), RISKY);
    client.cancel().await.ok();
}

#[tokio::test]
async fn plan_judges_lint_against_the_database_and_keeps_info_out_of_the_text() {
    let db = TestDb::new().await;
    let p = Project::new();
    p.write("pgkeel.toml", TOML);
    p.write(
        "migrations/001_customers.sql",
        "CREATE TABLE customers (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, legacy text);\n",
    );
    let client = stdio(&p, &db).await;
    let r = call(&client, "apply_migration", json!({"version": "001"})).await;
    assert!(!is_error(&r), "{}", text(&r));
    fill_customers(&db).await;
    let plan = call(
        &client,
        "plan_migration",
        json!({"name": "idx", "sql": "CREATE INDEX customers_legacy ON customers (legacy);\n"}),
    )
    .await;
    assert!(!is_error(&plan), "{}", text(&plan));
    let s = structured(&plan);
    assert_eq!(s["blocked_by_lint"], json!([]), "{s}");
    let f = &s["lint"][0];
    assert_eq!(f["rule"], "require-concurrent-index-creation", "{s}");
    assert_eq!(f["severity"], "info", "{s}");
    assert!(
        f["reason"]
            .as_str()
            .unwrap_or_default()
            .contains("customers has 3 rows"),
        "{s}"
    );
    let t = text(&plan);
    assert!(!t.contains("Lint "), "{t}");
    assert!(t.contains("1 info lint finding(s)"), "{t}");
    client.cancel().await.ok();
}

#[tokio::test]
async fn no_silent_no_ops_in_the_mcp_tools() {
    let db = TestDb::new().await;
    let p = Project::new();
    p.write("pgkeel.toml", TOML);
    p.write(
        "migrations/001_t.sql",
        "CREATE TABLE t (id bigint PRIMARY KEY);\n",
    );
    let client = stdio(&p, &db).await;

    // plan_migration lints SQL it cannot parse as an error, with its position.
    let plan = call(
        &client,
        "plan_migration",
        json!({"name": "typo", "sql": "-- typo\nINSERT INTO t VALUEZ (1);\n"}),
    )
    .await;
    let s = structured(&plan);
    let lint = s["lint"].as_array().unwrap_or_else(|| panic!("{s}"));
    let syntax = lint
        .iter()
        .find(|f| f["rule"] == "syntax-error")
        .unwrap_or_else(|| panic!("{s}"));
    assert_eq!(
        (&syntax["severity"], &syntax["line"], &syntax["path"]),
        (
            &json!("error"),
            &json!(2),
            &json!("migrations/002_typo.sql")
        ),
        "{s}"
    );

    // A psql meta-command: refused with its line and the alternative, nothing written.
    for tool in ["plan_migration", "apply_migration"] {
        let r = call(
            &client,
            tool,
            json!({"name": "meta", "sql": "\\set owner app\nSELECT 1;\n"}),
        )
        .await;
        assert!(is_error(&r), "{tool}: {}", text(&r));
        assert_eq!(structured(&r)["error"]["code"], "psql_meta_command");
        assert!(text(&r).contains("`\\set` on line 1"), "{}", text(&r));
        assert!(text(&r).contains("set_config"), "{}", text(&r));
    }
    // SQL of comments and `;` only: refused.
    let r = call(
        &client,
        "apply_migration",
        json!({"name": "nothing", "sql": "-- later\n;\n"}),
    )
    .await;
    assert!(is_error(&r), "{}", text(&r));
    assert!(text(&r).contains("has no statement"), "{}", text(&r));
    assert!(std::fs::read_dir(p.root().join("migrations"))
        .unwrap()
        .all(|e| e.unwrap().file_name() == "001_t.sql"));

    // An empty file on disk, applied by version: refused, then recorded with allow_empty.
    p.write("migrations/002_empty.sql", "-- nothing\n");
    let r = call(&client, "apply_migration", json!({"version": "002"})).await;
    assert!(is_error(&r), "{}", text(&r));
    assert_eq!(structured(&r)["error"]["code"], "empty_migration");
    assert!(text(&r).contains("allow_empty"), "{}", text(&r));
    let r = call(
        &client,
        "apply_migration",
        json!({"version": "002", "allow_empty": true}),
    )
    .await;
    assert!(!is_error(&r), "{}", text(&r));
    assert_eq!(history_rows(&db).await, 1);
    client.cancel().await.ok();
}
