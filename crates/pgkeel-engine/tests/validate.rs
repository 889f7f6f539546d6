//! `validate`: declared expectations and check severities on a real server, and validation and
//! row counts in `up` (see pgkeel-testkit for the throwaway databases).

use pgkeel_engine::config::{Config, Overrides, SystemEnvironment};
use pgkeel_engine::lint::accept::{Acceptance, Source};
use pgkeel_engine::migrator::UpOptions;
use pgkeel_engine::validate::{Finding, Severity, ValidateOptions};
use pgkeel_engine::{Error, Migrator};
use pgkeel_testkit::{Project, TestDb};

fn config(project: &Project, db: &TestDb, toml: &str) -> pgkeel_engine::Result<Config> {
    let flags = Overrides {
        database_url: Some(db.url.clone()),
        log_file: Some("off".into()),
        ..Overrides::default()
    };
    Config::resolve(
        project.root().to_path_buf(),
        Some((toml, "pgkeel.toml")),
        &SystemEnvironment,
        &flags,
    )
}

fn migrator(project: &Project, db: &TestDb, toml: &str) -> Migrator {
    Migrator::new(config(project, db, toml).expect("config"))
}

fn only(ids: &[&str]) -> ValidateOptions {
    ValidateOptions {
        checks: Some(ids.iter().map(|s| s.to_string()).collect()),
    }
}

async fn expectation_findings(p: &Project, db: &TestDb, toml: &str) -> Vec<Finding> {
    let m = migrator(p, db, toml);
    let r = m
        .validate(&only(&["expectations"]))
        .await
        .expect("validate");
    assert_eq!(r.checks_run, ["expectations"]);
    r.findings
}

const SCHEMA: &str = "
CREATE SCHEMA app;
CREATE TYPE public.status AS ENUM ('open', 'closed');
CREATE TYPE app.tier AS ENUM ('free', 'paid');
CREATE TABLE public.customers (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    email text NOT NULL,
    name varchar(255),
    seen_at timestamptz,
    tags text[],
    status status NOT NULL DEFAULT 'open',
    tier app.tier,
    amount numeric(10,2)
);
CREATE VIEW public.active_customers AS SELECT id, email FROM customers WHERE status = 'open';
CREATE VIEW public.customers_compat_view AS SELECT * FROM customers;
CREATE FUNCTION public.touch_updated_at() RETURNS trigger LANGUAGE plpgsql AS 'BEGIN RETURN NEW; END';
CREATE FUNCTION public.f(a integer, b text) RETURNS integer LANGUAGE sql AS 'SELECT 1';
";

#[tokio::test]
async fn each_expectation_kind_passes_and_fails_on_a_real_schema() {
    let db = TestDb::new().await;
    db.client().await.batch_execute(SCHEMA).await.unwrap();
    let p = Project::new();

    // (kind, passing [expect], failing [expect], the failing message)
    let cases = [
        (
            "expect.table",
            "tables = [\"customers\", \"public.customers\"]",
            "tables = [\"public.orders\"]",
            "table public.orders does not exist",
        ),
        (
            "expect.view",
            "views = [\"public.active_customers\"]",
            "views = [\"public.customers\"]",
            "view public.customers does not exist; a table of that name exists",
        ),
        (
            "expect.enum",
            "[expect.enums]\n\"public.status\" = [\"open\", \"closed\"]\n\"app.tier\" = []",
            "[expect.enums]\nstatus = [\"open\", \"closed\", \"archived\"]",
            "enum public.status has values [open, closed]; expected [open, closed, archived]",
        ),
        (
            "expect.column",
            "[expect.columns.customers]\nid = { type = \"int8\", nullable = false }\nemail = { type = \"text\", nullable = false }\nname = \"varchar(255)\"\nseen_at = \"timestamptz\"\ntags = \"text[]\"\nstatus = \"public.status\"\ntier = \"app.tier\"\namount = \"decimal(10, 2)\"\n[expect.columns.active_customers]\nemail = \"text\"",
            "[expect.columns.customers]\nname = { type = \"text\" }",
            "column public.customers.name is character varying(255); expected text",
        ),
        (
            "expect.column",
            "[expect.columns.customers]\nname = { nullable = true }",
            "[expect.columns.customers]\nname = { nullable = false }",
            "column public.customers.name is nullable; expected NOT NULL",
        ),
        (
            "expect.function",
            "functions = [\"public.touch_updated_at\", \"public.f(int4, text)\", \"public.touch_updated_at()\"]",
            "functions = [\"public.f(text)\"]",
            "function public.f(text) does not exist; found public.f(a integer, b text)",
        ),
        (
            "expect.forbidden",
            "forbidden = [\"public.old_view\", \"public.f(text)\"]",
            "forbidden = [\"public.customers_compat_view\"]",
            "view public.customers_compat_view exists; [expect] forbidden says it must not",
        ),
    ];
    for (kind, pass, fail, message) in cases {
        let found = expectation_findings(&p, &db, &format!("[expect]\n{pass}\n")).await;
        assert_eq!(found, vec![], "{kind} should pass: {pass}");
        let found = expectation_findings(&p, &db, &format!("[expect]\n{fail}\n")).await;
        assert_eq!(found.len(), 1, "{kind}: {found:?}");
        assert_eq!(found[0].check, kind);
        assert_eq!(found[0].message, message);
        assert_eq!(found[0].severity, Severity::Error);
        assert!(!found[0].hint.is_empty());
    }
}

#[tokio::test]
async fn expectations_file_is_merged_and_its_mistakes_have_a_line() {
    let db = TestDb::new().await;
    db.client().await.batch_execute(SCHEMA).await.unwrap();
    let p = Project::new();
    p.write(
        "expect/schema.toml",
        "tables = [\"public.customers\", \"public.invoices\"]\n",
    );
    let toml =
        "[validate]\nexpectations = \"expect/schema.toml\"\n\n[expect]\nviews = [\"nope\"]\n";
    let found = expectation_findings(&p, &db, toml).await;
    let messages: Vec<&str> = found.iter().map(|f| f.message.as_str()).collect();
    assert_eq!(
        messages,
        [
            "table public.invoices does not exist",
            "view public.nope does not exist"
        ]
    );

    p.write(
        "expect/schema.toml",
        "tables = [\"public.customers\"]\n\n[columns.customers]\nemail = { type = \"text\", nullabel = true }\n",
    );
    let e = config(&p, &db, toml).unwrap_err();
    assert!(matches!(e, Error::Config(_)));
    let e = e.to_string();
    assert!(
        e.contains("expect/schema.toml:4:9") && e.contains("nullabel"),
        "{e}"
    );

    let e = config(
        &p,
        &db,
        "[log]\nfile = \"off\"\n\n[expect]\ntables = [\"a.b.c\"]\n",
    )
    .unwrap_err()
    .to_string();
    assert!(
        e.contains("pgkeel.toml:5:11") && e.contains("schema.name"),
        "{e}"
    );
    let e = config(&p, &db, "[validate]\nexpectations = \"missing.toml\"\n")
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("pgkeel.toml:2:16") && e.contains("cannot read"),
        "{e}"
    );
}

#[tokio::test]
async fn severities_are_configurable_and_off_skips_a_check() {
    let db = TestDb::new().await;
    db.client()
        .await
        .batch_execute("CREATE TABLE public.log_lines (line text);")
        .await
        .unwrap();
    let p = Project::new();
    let no_pk = |r: &pgkeel_engine::validate::ValidateReport| {
        r.findings
            .iter()
            .filter(|f| f.check == "missing_primary_key" && f.object == "public.log_lines")
            .map(|f| f.severity)
            .collect::<Vec<_>>()
    };

    let m = migrator(&p, &db, "");
    let r = m.validate(&ValidateOptions::default()).await.unwrap();
    let default = pgkeel_engine::db::checks::info("missing_primary_key")
        .unwrap()
        .default_severity;
    assert_eq!(no_pk(&r), [default]);
    assert!(r.checks_run.iter().any(|c| c == "missing_primary_key"));
    assert!(!r.checks_run.iter().any(|c| c == "expectations"));

    let m = migrator(
        &p,
        &db,
        "[validate.checks]\nmissing_primary_key = \"error\"\n",
    );
    let r = m.validate(&ValidateOptions::default()).await.unwrap();
    assert_eq!(no_pk(&r), [Severity::Error]);
    assert!(r.fails && r.counts.error >= 1);
    assert_eq!(r.findings[0].severity, Severity::Error, "most severe first");

    let m = migrator(
        &p,
        &db,
        "[validate.checks]\nmissing_primary_key = \"off\"\n",
    );
    let r = m.validate(&ValidateOptions::default()).await.unwrap();
    assert_eq!(no_pk(&r), []);
    assert!(!r.checks_run.iter().any(|c| c == "missing_primary_key"));
    // Named explicitly, an "off" check runs (at its default severity).
    let r = m.validate(&only(&["missing_primary_key"])).await.unwrap();
    assert_eq!(r.checks_run, ["missing_primary_key"]);
    assert_eq!(no_pk(&r), [default]);

    let e = m.validate(&only(&["no_such_check"])).await.unwrap_err();
    assert!(
        matches!(&e, Error::Config(m) if m.contains("no_such_check") && m.contains("fk_without_index")),
        "{e}"
    );
    for (bad, at) in [
        (
            "[validate.checks]\nmissing_pk = \"off\"\n",
            "pgkeel.toml:2:1",
        ),
        (
            "[validate.checks]\nmissing_primary_key = \"loud\"\n",
            "pgkeel.toml:2:23",
        ),
        ("[validate]\non_up = \"sometimes\"\n", "pgkeel.toml:2:9"),
        ("[validate]\nschema = [\"public\"]\n", "pgkeel.toml:2:1"),
        ("[validate]\nschemas = []\n", "pgkeel.toml:2:11"),
    ] {
        let e = config(&p, &db, bad).unwrap_err().to_string();
        assert!(e.contains(at), "{bad:?}: {e}");
    }
}

#[tokio::test]
async fn graded_checks_keep_their_own_severities_unless_configured() {
    // sequence_exhaustion grades its findings: warning from 75 % used, error from 90 %.
    let db = TestDb::new().await;
    db.client()
        .await
        .batch_execute(
            "CREATE SEQUENCE public.most AS smallint; SELECT setval('public.most', 26000);
             CREATE SEQUENCE public.nearly AS smallint; SELECT setval('public.nearly', 31000);",
        )
        .await
        .unwrap();
    let p = Project::new();
    let graded = |r: &pgkeel_engine::validate::ValidateReport| {
        let mut v: Vec<(String, Severity)> = r
            .findings
            .iter()
            .filter(|f| f.check == "sequence_exhaustion")
            .map(|f| (f.object.clone(), f.severity))
            .collect();
        v.sort();
        v
    };
    let r = migrator(&p, &db, "")
        .validate(&ValidateOptions::default())
        .await
        .unwrap();
    assert_eq!(
        graded(&r),
        [
            ("public.most".to_string(), Severity::Warning),
            ("public.nearly".to_string(), Severity::Error)
        ]
    );
    let r = migrator(
        &p,
        &db,
        "[validate.checks]\nsequence_exhaustion = \"info\"\n",
    )
    .validate(&ValidateOptions::default())
    .await
    .unwrap();
    assert!(
        graded(&r).iter().all(|(_, s)| *s == Severity::Info),
        "{r:?}"
    );
}

#[tokio::test]
async fn up_validates_after_applying_and_reports_row_counts() {
    let db = TestDb::new().await;
    let p = Project::new();
    p.write(
        "migrations/001_items.sql",
        "CREATE TABLE items (id int PRIMARY KEY);\nINSERT INTO items SELECT generate_series(1, 2);\n",
    );
    let toml = "[expect]\ntables = [\"public.items\", \"public.orders\"]\n";
    let m = migrator(&p, &db, toml);
    let r = m.up(&UpOptions::default()).await.unwrap();
    assert_eq!(r.applied.len(), 1);
    let v = r.validation.as_ref().expect("validation after up");
    assert!(v.has_errors() && !v.fails, "on_up = warn does not fail");
    assert!(v
        .findings
        .iter()
        .any(|f| f.message == "table public.orders does not exist"));
    assert_eq!(r.row_counts.len(), 1);
    assert_eq!(
        (
            r.row_counts[0].table.as_str(),
            r.row_counts[0].before,
            r.row_counts[0].after
        ),
        ("items", None, Some(2))
    );

    p.write(
        "migrations/002_orders.sql",
        "CREATE TABLE public.orders (id int PRIMARY KEY, item int REFERENCES items);\nINSERT INTO items VALUES (3), (4), (5);\nDELETE FROM items WHERE id = 1;\nCREATE VIEW v AS SELECT 1;\n",
    );
    let r = m
        .up(&UpOptions {
            validate: true,
            ..UpOptions::default()
        })
        .await
        .unwrap();
    let counts: Vec<(&str, Option<i64>, Option<i64>)> = r
        .row_counts
        .iter()
        .map(|c| (c.table.as_str(), c.before, c.after))
        .collect();
    assert_eq!(
        counts,
        [
            ("public.orders", None, Some(0)),
            ("items", Some(2), Some(4))
        ]
    );
    let v = r.validation.as_ref().unwrap();
    assert!(
        !v.findings.iter().any(|f| f.check.starts_with("expect.")),
        "{:?}",
        v.findings
    );

    // A failing expectation with --validate: the run fails, the migration stays applied.
    p.write("migrations/003_drop.sql", "DROP TABLE orders;\n");
    let r = m
        .up(&UpOptions {
            validate: true,
            accept_lint: vec![Acceptance::run("ban-drop-table", None, Source::Flag).unwrap()],
            ..UpOptions::default()
        })
        .await
        .unwrap();
    assert_eq!(r.applied.len(), 1);
    assert!(r.validation.as_ref().unwrap().fails);
    assert_eq!(
        (r.row_counts[0].before, r.row_counts[0].after),
        (Some(0), None)
    );

    // on_up = "fail" fails without the flag; "off" does not validate.
    p.write("migrations/004_noop.sql", "SELECT 1;\n");
    let m = migrator(&p, &db, &format!("[validate]\non_up = \"fail\"\n{toml}"));
    let r = m.up(&UpOptions::default()).await.unwrap();
    assert!(r.validation.as_ref().unwrap().fails);
    assert!(r.row_counts.is_empty());
    p.write("migrations/005_noop.sql", "SELECT 1;\n");
    let m = migrator(&p, &db, &format!("[validate]\non_up = \"off\"\n{toml}"));
    let r = m.up(&UpOptions::default()).await.unwrap();
    assert!(r.validation.is_none());
    // Nothing applied: no validation either.
    let m = migrator(&p, &db, toml);
    let r = m.up(&UpOptions::default()).await.unwrap();
    assert!(r.applied.is_empty() && r.validation.is_none());
}
