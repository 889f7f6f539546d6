//! `pgkeel types` end to end on a real server: generate to stdout and to a file, `up` keeping
//! `[types] out` current (written only when its content changes), `types verify` on a throwaway
//! database (passes on a fresh file, exit 3 with a diff and the fix after a new migration), and
//! the MCP tool `generate_types` through rmcp's client, read-only mode included.

mod cli_support;
mod mcp_support;
use cli_support::{run_db, BIN};
use mcp_support::{call, is_error, structured, text};
use std::process::Stdio;

use pgkeel_testkit::{Project, TestDb};
use rmcp::model::{ClientCapabilities, ClientConfig, Implementation};
use rmcp::service::RunningService;
use rmcp::transport::{ConfigureCommandExt, TokioChildProcess};
use rmcp::{ClientHandler, RoleClient, ServiceExt};
use serde_json::{json, Value};

const TYPES_FILE: &str = "src/database.types.ts";

const CUSTOMERS: &str = "CREATE TYPE tier AS ENUM ('free', 'pro');\n\
     CREATE TABLE customers (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, email text NOT NULL, tier tier NOT NULL DEFAULT 'free', note text);\n";
const ORDERS: &str = "CREATE TABLE orders (id bigint PRIMARY KEY, customer_id bigint NOT NULL REFERENCES customers, total numeric(10,2));\n";

/// A project with one migration and `[types] out` configured.
fn project() -> Project {
    let p = Project::new();
    p.write("pgkeel.toml", format!("[types]\nout = \"{TYPES_FILE}\"\n"));
    p.write("migrations/001_customers.sql", CUSTOMERS);
    p
}

fn modified(p: &Project, rel: &str) -> std::time::SystemTime {
    std::fs::metadata(p.root().join(rel))
        .and_then(|m| m.modified())
        .expect("mtime")
}

#[tokio::test]
async fn generate_to_stdout_and_to_a_file() {
    let db = TestDb::new().await;
    let p = Project::new();
    p.write("migrations/001_customers.sql", CUSTOMERS);
    run_db(p.root(), &db, &["up"]).expect(0);

    // No [types] out: stdout, and nothing written.
    let r = run_db(p.root(), &db, &["types", "generate"]).expect(0);
    assert!(r.stdout.contains("export type Database"), "{r}");
    assert!(
        r.stdout.contains("customers") && r.stdout.contains("tier"),
        "{r}"
    );
    assert!(
        !r.stdout.contains("pgkeel_migrations") && !r.stdout.contains("audit_log"),
        "the history schema stays out:\n{r}"
    );
    let again = run_db(p.root(), &db, &["types", "generate", "--stdout"]).expect(0);
    assert_eq!(r.stdout, again.stdout, "generation is deterministic");

    let j = run_db(p.root(), &db, &["--json", "types", "generate", "--stdout"])
        .expect(0)
        .json();
    assert_eq!(j["command"], "types generate");
    assert_eq!(j["types"].as_str(), Some(r.stdout.as_str()));
    assert_eq!(j["result"]["schemas"], json!(["public"]));
    assert_eq!(j["bytes"].as_u64(), Some(r.stdout.len() as u64));
    let fingerprint = j["result"]["fingerprint"].as_str().unwrap().to_string();
    assert_eq!(fingerprint.len(), 64, "{j}");

    // --out: a file (relative to the current folder), written only when it changes.
    let w = run_db(p.root(), &db, &["types", "generate", "--out", "gen/db.ts"]).expect(0);
    assert!(w.stdout.starts_with("wrote "), "{w}");
    assert_eq!(p.read("gen/db.ts"), r.stdout);
    let before = modified(&p, "gen/db.ts");
    let j = run_db(
        p.root(),
        &db,
        &["--json", "types", "generate", "--out", "gen/db.ts"],
    )
    .expect(0)
    .json();
    assert_eq!(j["result"]["written"], false, "{j}");
    assert_eq!(
        j["result"]["fingerprint"].as_str(),
        Some(fingerprint.as_str())
    );
    assert_eq!(modified(&p, "gen/db.ts"), before);

    // A schema that does not exist, named explicitly, is an error that names it.
    let e = run_db(p.root(), &db, &["types", "generate", "--schema", "nosuch"]).expect(4);
    assert!(e.stderr.contains("nosuch"), "{e}");
    // A schema of its own.
    db.client()
        .await
        .batch_execute("CREATE SCHEMA app; CREATE TABLE app.things (id int PRIMARY KEY)")
        .await
        .unwrap();
    let r = run_db(p.root(), &db, &["types", "generate", "--schema", "app"]).expect(0);
    assert!(
        r.stdout.contains("things") && !r.stdout.contains("customers"),
        "{r}"
    );
}

#[tokio::test]
async fn up_keeps_the_configured_file_current() {
    let db = TestDb::new().await;
    let p = project();

    let r = run_db(p.root(), &db, &["up"]).expect(0);
    assert!(
        r.stdout.contains(&format!("types written to {TYPES_FILE}")),
        "{r}"
    );
    let first = p.read(TYPES_FILE);
    assert!(first.contains("customers"), "{first}");
    let before = modified(&p, TYPES_FILE);

    // Nothing changed: not written again.
    let j = run_db(p.root(), &db, &["--json", "up"]).expect(0).json();
    assert_eq!(j["types_written"], Value::Null, "{j}");
    assert_eq!(modified(&p, TYPES_FILE), before);
    assert_eq!(p.read(TYPES_FILE), first);

    // A new migration: written again, with the new table.
    p.write("migrations/002_orders.sql", ORDERS);
    let j = run_db(p.root(), &db, &["--json", "up"]).expect(0).json();
    assert_eq!(j["types_written"], TYPES_FILE, "{j}");
    assert!(p.read(TYPES_FILE).contains("orders"));

    // A dry run writes nothing; `on_up = false` turns it off.
    p.write(
        "migrations/003_more.sql",
        "ALTER TABLE orders ADD COLUMN shipped boolean;\n",
    );
    let j = run_db(p.root(), &db, &["--json", "up", "--dry-run"])
        .expect(0)
        .json();
    assert_eq!(j["types_written"], Value::Null, "{j}");
    assert!(!p.read(TYPES_FILE).contains("shipped"));
    p.write(
        "pgkeel.toml",
        format!("[types]\nout = \"{TYPES_FILE}\"\non_up = false\n"),
    );
    let j = run_db(p.root(), &db, &["--json", "up"]).expect(0).json();
    assert_eq!(j["types_written"], Value::Null, "{j}");
    assert!(!p.read(TYPES_FILE).contains("shipped"));
}

#[tokio::test]
async fn verify_compares_the_committed_file_with_the_migrations() {
    let db = TestDb::new().await;
    let p = project();
    run_db(p.root(), &db, &["up"]).expect(0);
    assert!(p.read(TYPES_FILE).contains("customers"));

    // Fresh file: passes.
    let r = run_db(p.root(), &db, &["types", "verify"]).expect(0);
    assert!(r.stdout.contains("types up to date"), "{r}");

    // A new migration the file does not know: exit 3, the diff, the fix; nothing written and
    // nothing applied to the configured database.
    p.write("migrations/002_orders.sql", ORDERS);
    let committed = p.read(TYPES_FILE);
    let r = run_db(p.root(), &db, &["types", "verify"]).expect(3);
    assert!(
        r.stdout.contains(&format!("--- {TYPES_FILE} (committed)")),
        "{r}"
    );
    assert!(
        r.stdout
            .lines()
            .any(|l| l.starts_with('+') && l.contains("orders")),
        "{r}"
    );
    assert!(r.stdout.contains("pgkeel types generate"), "{r}");
    assert_eq!(p.read(TYPES_FILE), committed, "verify never writes");
    let c = db.client().await;
    let orders: bool = c
        .query_one("SELECT to_regclass('public.orders') IS NOT NULL", &[])
        .await
        .unwrap()
        .get(0);
    assert!(!orders, "verify applied nothing to the configured database");
    let left: i64 = c
        .query_one(
            "SELECT count(*) FROM pg_database WHERE datname LIKE 'pgkeel\\_verify\\_%'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(left, 0, "the throwaway database is dropped");

    let j = run_db(p.root(), &db, &["--json", "types", "verify"])
        .expect(3)
        .json();
    assert_eq!(j["result"]["up_to_date"], false, "{j}");
    assert_eq!(j["result"]["fix"], "pgkeel types generate");
    assert_eq!(j["result"]["migrations_applied"], 2);
    assert!(j["result"]["diff"].as_str().unwrap().contains("orders"));

    // The fix fixes it (once the database has the migration).
    p.write(
        "pgkeel.toml",
        format!("[types]\nout = \"{TYPES_FILE}\"\non_up = false\n"),
    );
    run_db(p.root(), &db, &["up"]).expect(0);
    assert_eq!(p.read(TYPES_FILE), committed);
    run_db(p.root(), &db, &["types", "generate"]).expect(0);
    run_db(p.root(), &db, &["types", "verify"]).expect(0);

    // A missing file is out of date too; without [types] out there is nothing to verify.
    p.remove(TYPES_FILE);
    let r = run_db(p.root(), &db, &["types", "verify"]).expect(3);
    assert!(r.stdout.contains("missing"), "{r}");
    p.write("pgkeel.toml", "");
    let r = run_db(p.root(), &db, &["types", "verify"]).expect(2);
    assert!(r.stderr.contains("[types] out"), "{r}");

    verify_replays_a_migration_recorded_empty_with_allow_empty().await;
}

// ---------------------------------------------------------------------------------------------
// MCP (the client harness of tests/mcp.rs, trimmed)
// ---------------------------------------------------------------------------------------------

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

async fn stdio(p: &Project, db: &TestDb, extra: &[&str]) -> RunningService<RoleClient, Client> {
    let root = p.root().to_path_buf();
    let url = db.url.clone();
    let extra: Vec<String> = extra.iter().map(|s| s.to_string()).collect();
    let cmd = tokio::process::Command::new(BIN).configure(move |c| {
        c.current_dir(&root)
            .args(["--database-url", &url, "--log-file", "off", "serve"])
            .args(&extra)
            .env_remove("DATABASE_URL");
    });
    let (transport, _stderr) = TokioChildProcess::builder(cmd)
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn pgkeel serve");
    Client.serve(transport).await.expect("initialize")
}

#[tokio::test]
async fn mcp_generate_types() {
    let db = TestDb::new().await;
    let p = project();
    p.write(
        "pgkeel.toml",
        format!("[types]\nout = \"{TYPES_FILE}\"\non_up = false\n"),
    );
    run_db(p.root(), &db, &["up"]).expect(0);
    assert!(!p.root().join(TYPES_FILE).exists());

    let client = stdio(&p, &db, &[]).await;
    let tools = client.list_all_tools().await.unwrap();
    let tool = tools
        .iter()
        .find(|t| t.name == "generate_types")
        .expect("generate_types listed");
    assert!(tool.output_schema.is_some());
    let a = tool.annotations.as_ref().expect("annotations");
    assert_eq!(
        (
            a.read_only_hint,
            a.destructive_hint,
            a.idempotent_hint,
            a.open_world_hint
        ),
        (Some(false), Some(false), Some(true), Some(false))
    );

    // Default: the text, nothing written.
    let r = call(&client, "generate_types", json!({})).await;
    assert!(!is_error(&r), "{}", text(&r));
    let s = structured(&r);
    let types = s["types"].as_str().expect("types text");
    assert!(types.contains("customers"), "{types}");
    assert_eq!(s["written"], false);
    assert_eq!(s["schemas"], json!(["public"]));
    assert_eq!(s["path"], TYPES_FILE);
    assert_eq!(s["bytes"].as_u64(), Some(types.len() as u64));
    assert!(
        text(&r).len() < 200 && !text(&r).contains("export type"),
        "short summary: {}",
        text(&r)
    );
    assert!(!p.root().join(TYPES_FILE).exists());

    // write: true writes the configured file, once.
    let r = call(&client, "generate_types", json!({"write": true})).await;
    assert!(!is_error(&r), "{}", text(&r));
    let s = structured(&r);
    assert_eq!(
        (s["written"].as_bool(), s.get("types")),
        (Some(true), None),
        "{s}"
    );
    assert_eq!(p.read(TYPES_FILE), types);
    let r = call(&client, "generate_types", json!({"write": true})).await;
    assert_eq!(structured(&r)["written"], false, "{}", text(&r));

    // Bad input: a tool error naming the schema.
    let r = call(&client, "generate_types", json!({"schemas": ["nosuch"]})).await;
    assert!(is_error(&r) && text(&r).contains("nosuch"), "{}", text(&r));
    client.cancel().await.ok();

    // Read-only: generation stays, writing is refused and nothing changes.
    p.remove(TYPES_FILE);
    let client = stdio(&p, &db, &["--read-only"]).await;
    let tools = client.list_all_tools().await.unwrap();
    let tool = tools
        .iter()
        .find(|t| t.name == "generate_types")
        .expect("still listed");
    assert_eq!(
        tool.annotations.as_ref().unwrap().read_only_hint,
        Some(true)
    );
    let r = call(&client, "generate_types", json!({"write": true})).await;
    assert!(
        is_error(&r) && text(&r).contains("read-only"),
        "{}",
        text(&r)
    );
    assert!(!p.root().join(TYPES_FILE).exists());
    let r = call(&client, "generate_types", json!({})).await;
    assert!(!is_error(&r), "{}", text(&r));
    assert!(structured(&r)["types"]
        .as_str()
        .unwrap()
        .contains("customers"));
    client.cancel().await.ok();

    // Without [types] out, write: true says what is missing.
    p.write("pgkeel.toml", "");
    let client = stdio(&p, &db, &[]).await;
    let r = call(&client, "generate_types", json!({"write": true})).await;
    assert!(
        is_error(&r) && text(&r).contains("[types] out"),
        "{}",
        text(&r)
    );
    client.cancel().await.ok();

    // apply_migration keeps [types] out current, like `up`.
    p.write("pgkeel.toml", format!("[types]\nout = \"{TYPES_FILE}\"\n"));
    let client = stdio(&p, &db, &[]).await;
    let r = call(
        &client,
        "apply_migration",
        json!({"name": "orders", "sql": ORDERS}),
    )
    .await;
    assert!(!is_error(&r), "{}", text(&r));
    assert!(
        structured(&r)["notes"]
            .to_string()
            .contains(&format!("types written to {TYPES_FILE}")),
        "{}",
        structured(&r)
    );
    assert!(p.read(TYPES_FILE).contains("orders"));
    client.cancel().await.ok();
}

/// Run by `verify_compares_the_committed_file_with_the_migrations` after its own checks: that
/// test counts the server's throwaway databases, so no other verify may run beside it.
async fn verify_replays_a_migration_recorded_empty_with_allow_empty() {
    let db = TestDb::new().await;
    let p = project();
    p.write("migrations/002_placeholder.sql", "-- kept for numbering\n");
    // The real database records it only on purpose…
    run_db(p.root(), &db, &["up"]).expect(2);
    run_db(p.root(), &db, &["up", "--allow-empty"]).expect(0);
    // …and the replay does the same instead of refusing to verify (the empty file adds
    // nothing to the types).
    let r = run_db(p.root(), &db, &["types", "verify"]).expect(0);
    assert!(r.stdout.contains("types up to date"), "{r}");
    // The untouched `pgkeel new` template is still refused, naming the command to run again.
    let created = run_db(p.root(), &db, &["--json", "new", "later"])
        .expect(0)
        .json();
    let path = created["result"]["path"].as_str().unwrap().to_string();
    let r = run_db(p.root(), &db, &["types", "verify"]).expect(2);
    assert!(
        r.stderr
            .contains(&format!("{path}: still the empty template"))
            && r.stderr.contains("`pgkeel types verify` again"),
        "{r}"
    );
}
