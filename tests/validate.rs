//! `pgkeel validate` and `up --validate` end to end on a real server: exit codes (0 / 3 / 2),
//! the text and `--json` shapes, `--check` filters, a mistake in the expectations with its line,
//! and `up` failing after applying when validation finds an error (the migration stays applied).

mod cli_support;
use cli_support::run_db;

use pgkeel_testkit::{Project, TestDb};
use serde_json::Value;

const CUSTOMERS: &str = "CREATE TABLE customers (id bigint PRIMARY KEY, email text NOT NULL);\n\
     INSERT INTO customers VALUES (1, 'a@example.com'), (2, 'b@example.com');\n";

/// A project whose expectations hold after 001 (and fail without `orders`, with `[expect]`
/// naming it).
fn project(expect: &str) -> Project {
    let p = Project::new();
    p.write("pgkeel.toml", format!("[expect]\n{expect}\n"));
    p.write("migrations/001_customers.sql", CUSTOMERS);
    p
}

#[tokio::test]
async fn validate_exit_codes_json_and_check_filter() {
    let db = TestDb::new().await;
    let p = project(
        "tables = [\"public.customers\"]\n[expect.columns.customers]\nemail = { type = \"text\", nullable = false }",
    );
    run_db(p.root(), &db, &["up"]).expect(0);

    let r = run_db(p.root(), &db, &["validate"]).expect(0);
    assert!(r.stdout.contains("validate: 0 error(s)"), "{r}");

    let j = run_db(p.root(), &db, &["--json", "validate"])
        .expect(0)
        .json();
    assert_eq!(j["command"], "validate");
    assert_eq!(j["ok"], true);
    let result = &j["result"];
    assert_eq!(result["counts"]["error"], 0, "{j}");
    assert_eq!(result["fails"], false);
    assert!(result["duration_ms"].is_u64());
    let run_ids: Vec<&str> = result["checks_run"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert!(
        run_ids.contains(&"expectations") && run_ids.contains(&"missing_primary_key"),
        "{j}"
    );

    // A failing expectation: exit 3, grouped text with the hint.
    p.write(
        "pgkeel.toml",
        "[expect]\ntables = [\"public.customers\", \"public.orders\"]\n",
    );
    let r = run_db(p.root(), &db, &["validate"]).expect(3);
    assert!(r.stdout.contains("error (1):"), "{r}");
    assert!(
        r.stdout
            .contains("public.orders [expect.table]: table public.orders does not exist"),
        "{r}"
    );
    assert!(r.stdout.contains("fix: create it in a migration"), "{r}");
    let j = run_db(p.root(), &db, &["--json", "validate"])
        .expect(3)
        .json();
    let f = &j["result"]["findings"][0];
    assert_eq!(f["check"], "expect.table");
    assert_eq!(f["severity"], "error");
    assert_eq!(f["object"], "public.orders");
    assert!(f["hint"].as_str().is_some_and(|h| !h.is_empty()));
    assert_eq!(j["result"]["fails"], true);

    // --check: only the named checks run (the expectation is not among them).
    let j = run_db(
        p.root(),
        &db,
        &["--json", "validate", "--check", "missing_primary_key"],
    )
    .expect(0)
    .json();
    assert_eq!(
        j["result"]["checks_run"],
        serde_json::json!(["missing_primary_key"])
    );
    let r = run_db(p.root(), &db, &["validate", "--check", "nope"]).expect(2);
    assert!(
        r.stderr.contains("unknown check \"nope\"") && r.stderr.contains("expectations"),
        "{r}"
    );

    // A severity override makes a warning-level check fail the run.
    db.client()
        .await
        .batch_execute("CREATE TABLE public.no_key (v text)")
        .await
        .unwrap();
    p.write(
        "pgkeel.toml",
        "[validate.checks]\nmissing_primary_key = \"error\"\n",
    );
    let r = run_db(p.root(), &db, &["validate"]).expect(3);
    assert!(
        r.stdout.contains("public.no_key [missing_primary_key]"),
        "{r}"
    );
    p.write(
        "pgkeel.toml",
        "[validate.checks]\nmissing_primary_key = \"off\"\n",
    );
    let r = run_db(p.root(), &db, &["validate"]).expect(0);
    assert!(!r.stdout.contains("missing_primary_key"), "{r}");
}

#[tokio::test]
async fn a_mistake_in_the_expectations_is_reported_with_its_line() {
    let db = TestDb::new().await;
    let p = Project::new();
    p.write(
        "pgkeel.toml",
        "[validate]\nexpectations = \"schema.toml\"\n",
    );
    p.write(
        "schema.toml",
        "tables = [\"customers\"]\n\n[enums]\n\"public.status\" = \"open\"\n",
    );
    let r = run_db(p.root(), &db, &["validate"]).expect(2);
    assert!(r.stderr.contains("schema.toml:4:19"), "{r}");
    let j = run_db(p.root(), &db, &["--json", "validate"])
        .expect(2)
        .json();
    assert_eq!(j["ok"], false);
    assert_eq!(j["error"]["code"], "config");
    assert!(
        j["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("schema.toml:4:19")),
        "{j}"
    );
}

#[tokio::test]
async fn up_validate_fails_after_applying_and_reports_row_counts() {
    let db = TestDb::new().await;
    let p = project("tables = [\"public.customers\", \"public.orders\"]");

    // Default on_up = "warn": the findings print, `up` succeeds.
    let r = run_db(p.root(), &db, &["up"]).expect(0);
    assert!(
        r.stdout.contains("table public.orders does not exist"),
        "{r}"
    );
    assert!(r.stdout.contains("customers: - → 2"), "{r}");

    p.write(
        "migrations/002_more.sql",
        "INSERT INTO customers VALUES (3, 'c@example.com');\n",
    );
    let r = run_db(p.root(), &db, &["up", "--validate"]).expect(3);
    assert!(r.stderr.contains("the migrations stay applied"), "{r}");
    assert!(r.stdout.contains("customers: 2 → 3"), "{r}");
    let j = run_db(p.root(), &db, &["--json", "status"])
        .expect(0)
        .json();
    assert_eq!(j["counts"]["pending"], 0, "002 stays applied: {j}");

    p.write(
        "migrations/003_orders.sql",
        "CREATE TABLE orders (id bigint PRIMARY KEY);\n",
    );
    let j = run_db(p.root(), &db, &["--json", "up", "--validate"])
        .expect(0)
        .json();
    assert_eq!(j["validation"]["counts"]["error"], 0, "{j}");
    assert_eq!(
        j["row_counts"],
        serde_json::json!([{"table": "orders", "before": null, "after": 0}])
    );

    p.write("migrations/004_x.sql", "INSERT INTO orders VALUES (1);\n");
    p.write(
        "pgkeel.toml",
        "[validate]\non_up = \"fail\"\n[expect]\ntables = [\"public.invoices\"]\n",
    );
    let j = run_db(p.root(), &db, &["--json", "up"]).expect(3).json();
    assert_eq!(j["ok"], false);
    assert_eq!(j["error"]["code"], "validation_failed");
    assert_eq!(j["validation"]["fails"], true);
    assert_eq!(j["applied"].as_array().map(Vec::len), Some(1));
}
