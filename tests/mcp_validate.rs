//! The MCP tool `validate_schema` through rmcp's client over stdio: listed as read-only with an
//! output schema, compact findings in structuredContent, the `checks` filter, an unknown check
//! as a tool error, and the tool still there in read-only mode.

mod mcp_support;
use mcp_support::{call, is_error, structured, text};
use std::process::{Command, Stdio};

use pgkeel_testkit::{Project, TestDb};
use rmcp::model::{ClientCapabilities, ClientConfig, Implementation};
use rmcp::service::RunningService;
use rmcp::transport::{ConfigureCommandExt, TokioChildProcess};
use rmcp::{ClientHandler, RoleClient, ServiceExt};
use serde_json::json;

const BIN: &str = env!("CARGO_BIN_EXE_pgkeel");

#[derive(Clone)]
struct Client;

impl ClientHandler for Client {
    fn get_info(&self) -> ClientConfig {
        ClientConfig::new(
            ClientCapabilities::default(),
            Implementation::new("pgkeel-test", "0.1.0"),
        )
    }
}

async fn stdio(p: &Project, db: &TestDb, extra: &[&str]) -> RunningService<RoleClient, Client> {
    let root = p.root().to_path_buf();
    let url = db.url.clone();
    let extra: Vec<String> = extra.iter().map(|s| s.to_string()).collect();
    let cmd = tokio::process::Command::new(BIN).configure(move |c| {
        c.current_dir(&root)
            .args(["--database-url", &url, "--log-file", "off", "serve"])
            .args(&extra)
            .env_remove("DATABASE_URL")
            .env_remove("PGKEEL_DATABASE_URL")
            .env_remove("PGKEEL_CONFIG");
    });
    let (transport, _stderr) = TokioChildProcess::builder(cmd)
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn pgkeel serve");
    Client.serve(transport).await.expect("initialize")
}

fn up(p: &Project, db: &TestDb) {
    let o = Command::new(BIN)
        .current_dir(p.root())
        .args(["--database-url", &db.url, "--log-file", "off", "up"])
        .env_remove("DATABASE_URL")
        .env_remove("PGKEEL_DATABASE_URL")
        .env_remove("PGKEEL_CONFIG")
        .stdin(Stdio::null())
        .output()
        .expect("run pgkeel up");
    assert!(
        o.status.success(),
        "up failed: {}",
        String::from_utf8_lossy(&o.stderr)
    );
}

#[tokio::test]
async fn mcp_validate_schema() {
    let db = TestDb::new().await;
    let p = Project::new();
    p.write(
        "pgkeel.toml",
        "[validate]\non_up = \"off\"\n[expect]\ntables = [\"public.customers\", \"public.orders\"]\n",
    );
    p.write(
        "migrations/001_customers.sql",
        "CREATE TABLE customers (id bigint PRIMARY KEY, email text);\nCREATE TABLE log_lines (line text);\n",
    );
    up(&p, &db);

    let client = stdio(&p, &db, &[]).await;
    let tools = client.list_all_tools().await.unwrap();
    let tool = tools
        .iter()
        .find(|t| t.name == "validate_schema")
        .expect("validate_schema is listed");
    let ann = tool.annotations.as_ref().expect("annotations");
    assert_eq!(ann.read_only_hint, Some(true));
    assert_eq!(ann.destructive_hint, Some(false));
    assert!(tool.output_schema.is_some());

    let r = call(&client, "validate_schema", json!({})).await;
    assert!(!is_error(&r), "{}", text(&r));
    let s = structured(&r);
    assert_eq!(s["passed"], false, "{s}");
    assert!(s["errors"].as_u64() >= Some(1));
    let findings = s["findings"].as_array().unwrap();
    let orders = findings
        .iter()
        .find(|f| f["object"] == "public.orders")
        .expect("the missing table is a finding");
    assert_eq!(
        orders,
        &json!({
            "check": "expect.table",
            "severity": "error",
            "object": "public.orders",
            "message": "table public.orders does not exist",
            "hint": orders["hint"].clone(),
        })
    );
    assert!(findings
        .iter()
        .any(|f| f["check"] == "missing_primary_key" && f["object"] == "public.log_lines"));
    let t = text(&r);
    assert!(t.starts_with("failed: "), "{t}");
    assert!(t.contains("public.orders"), "{t}");

    // Only the named checks.
    let r = call(
        &client,
        "validate_schema",
        json!({"checks": ["missing_primary_key"]}),
    )
    .await;
    let s = structured(&r);
    assert_eq!(s["checks_run"], json!(["missing_primary_key"]));
    assert_eq!(s["passed"], true, "{s}");
    assert!(s["findings"]
        .as_array()
        .unwrap()
        .iter()
        .all(|f| f["check"] == "missing_primary_key"));

    // An unknown check: a tool error naming the known ones.
    let r = call(&client, "validate_schema", json!({"checks": ["nope"]})).await;
    assert!(is_error(&r));
    assert!(
        text(&r).contains("unknown check") && text(&r).contains("fk_without_index"),
        "{}",
        text(&r)
    );
    client.cancel().await.ok();

    // Read-only mode keeps it (it changes nothing).
    let client = stdio(&p, &db, &["--read-only"]).await;
    let r = call(
        &client,
        "validate_schema",
        json!({"checks": ["expectations"]}),
    )
    .await;
    assert!(!is_error(&r), "{}", text(&r));
    assert_eq!(structured(&r)["errors"], 1);
    client.cancel().await.ok();
}

/// apply_migration reports what every apply does after the SQL: the backups taken before
/// destructive statements, the row counts before and after, and the post-flight validation —
/// for both the {name, sql} and the {version} forms.
#[tokio::test]
async fn mcp_apply_migration_reports_backups_row_counts_and_validation() {
    let db = TestDb::new().await;
    let p = Project::new();
    p.write(
        "pgkeel.toml",
        "[expect]\ntables = [\"public.customers\", \"public.invoices\"]\n",
    );
    p.write(
        "migrations/001_customers.sql",
        "CREATE TABLE customers (id bigint PRIMARY KEY, email text);\n\
         INSERT INTO customers VALUES (1, 'a@x'), (2, 'b@x'), (3, 'c@x');\n",
    );
    let client = stdio(&p, &db, &[]).await;

    // {version}: the pending file; no backup (nothing destroyed), a failing expectation.
    let r = call(&client, "apply_migration", json!({"version": "001"})).await;
    assert!(!is_error(&r), "{}", text(&r));
    let s = structured(&r);
    assert_eq!(s["backups"], json!([]), "{s}");
    assert_eq!(s["row_counts"], json!(["customers: - → 3"]), "{s}");
    assert_eq!(s["validation"]["passed"], false, "{s}");
    assert!(s["validation"]["findings"]
        .as_array()
        .unwrap()
        .iter()
        .any(|f| f["object"] == "public.invoices" && f["check"] == "expect.table"));
    assert!(
        text(&r).contains("Validation after apply: 1 error(s)"),
        "{}",
        text(&r)
    );

    // plan_migration says what apply_migration would back up (estimates; nothing kept).
    let r = call(
        &client,
        "plan_migration",
        json!({
            "name": "drop_test_customers",
            "sql": "CREATE TABLE invoices (id bigint PRIMARY KEY);\nDELETE FROM customers WHERE id > 1;\n"
        }),
    )
    .await;
    assert!(!is_error(&r), "{}", text(&r));
    let planned = structured(&r)["backups"].clone();
    assert_eq!(planned.as_array().map(Vec::len), Some(1), "{planned}");
    assert!(
        planned[0]
            .as_str()
            .unwrap()
            .starts_with("public.customers (DELETE): "),
        "{planned}"
    );
    assert!(
        text(&r).contains("apply_migration backs up: public.customers"),
        "{}",
        text(&r)
    );

    // {name, sql}: a DELETE is backed up first; the expectation is met now.
    let r = call(
        &client,
        "apply_migration",
        json!({
            "name": "drop_test_customers",
            "sql": "CREATE TABLE invoices (id bigint PRIMARY KEY);\nDELETE FROM customers WHERE id > 1;\n"
        }),
    )
    .await;
    assert!(!is_error(&r), "{}", text(&r));
    let s = structured(&r);
    let backups = s["backups"].as_array().unwrap();
    assert_eq!(backups.len(), 1, "{s}");
    assert!(
        backups[0]
            .as_str()
            .unwrap()
            .starts_with("public.customers: 3 rows (backup "),
        "{s}"
    );
    assert!(s["row_counts"]
        .as_array()
        .unwrap()
        .contains(&json!("customers: 3 → 1")));
    assert_eq!(s["validation"]["errors"], 0, "{s}");
    assert!(
        text(&r).contains("Backed up before destructive statements: public.customers: 3 rows"),
        "{}",
        text(&r)
    );
    client.cancel().await.unwrap();
}
