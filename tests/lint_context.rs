//! Lint judged in context, end to end on the built binary and a real PostgreSQL server: a
//! `pg_dump --schema-only` style file goes through on the first run, true hazards on a table
//! with rows still block with the figure that decided, small tables and backed-up data loss do
//! not block, and the demo project applies on a fresh database with no `[lint] since`.

mod cli_support;
use cli_support::{run, Ctx};

use serde_json::Value;

const DUMP: &str = include_str!("fixtures/pgdump/migrations/20240101000000_remote_schema.sql");
const LATER: &str = include_str!("fixtures/pgdump/migrations/20240102000000_contact_phone.sql");

/// A statement_timeout keeps the opt-in timeout rule quiet; nothing else is configured.
const TOML: &str = "[apply]\nstatement_timeout = \"1min\"\n";

fn errors(doc: &Value) -> Vec<String> {
    doc["lint"]
        .as_array()
        .into_iter()
        .flatten()
        .chain(doc["error"]["lint"].as_array().into_iter().flatten())
        .filter(|f| f["severity"] == "error")
        .map(|f| format!("{} {}", f["rule"], f["reason"]))
        .collect()
}

async fn applied(ctx: &Ctx) -> Vec<String> {
    ctx.client()
        .await
        .query(
            "SELECT version FROM pgkeel.migrations WHERE status = 'applied' ORDER BY version",
            &[],
        )
        .await
        .map(|rows| rows.iter().map(|r| r.get(0)).collect())
        .unwrap_or_default()
}

#[tokio::test]
async fn a_pg_dump_schema_and_later_changes_to_its_tables_apply_in_one_first_run() {
    let ctx = Ctx::new().await;
    ctx.write("pgkeel.toml", TOML);
    ctx.write("migrations/20240101000000_remote_schema.sql", DUMP);
    ctx.write("migrations/20240102000000_contact_phone.sql", LATER);

    // The plan (a dry run) already judges against the database: nothing blocks.
    let r = ctx.run(&["--json", "up", "--dry-run"]).expect(0);
    assert!(errors(&r.json()).is_empty(), "{r}");

    let r = ctx.run(&["--json", "up"]).expect(0);
    let doc = r.json();
    assert!(errors(&doc).is_empty(), "{r}");
    assert_eq!(
        applied(&ctx).await,
        ["20240101000000", "20240102000000"],
        "{r}"
    );
    // Each lock rule on a table the run created is info, and says why.
    let lint = doc["lint"].as_array().expect("lint findings");
    let pk: Vec<&Value> = lint
        .iter()
        .filter(|f| f["rule"] == "adding-serial-primary-key-field")
        .collect();
    assert_eq!(pk.len(), 3, "{r}");
    for f in pk {
        assert_eq!(f["severity"], "info", "{f}");
        let why = f["reason"].as_str().unwrap_or_default();
        assert!(
            why.contains("is created earlier in this run (migration 20240101000000)"),
            "{why}"
        );
    }
    // VALIDATE CONSTRAINT is the safe pattern: never flagged as missing NOT VALID.
    assert!(
        !lint
            .iter()
            .any(|f| f["rule"] == "constraint-missing-not-valid" && f["line"] == 249),
        "{r}"
    );
    // The later migration's drop column and type change on tables of this run: not blocking.
    for rule in [
        "ban-drop-column",
        "changing-column-type",
        "require-concurrent-index-creation",
    ] {
        let f = lint
            .iter()
            .find(|f| f["rule"] == rule)
            .unwrap_or_else(|| panic!("no {rule} finding: {r}"));
        assert_eq!(f["severity"], "info", "{f}");
    }
    // The schema is really there: RLS, the policy, the trigger, the validated foreign key.
    let c = ctx.client().await;
    let row = c
        .query_one(
            "SELECT (SELECT relrowsecurity FROM pg_class WHERE oid = 'crm.contacts'::regclass),
                    (SELECT count(*) FROM pg_policy WHERE polrelid = 'crm.contacts'::regclass),
                    (SELECT count(*) FROM pg_trigger WHERE tgname = 'contacts_touch'),
                    (SELECT convalidated FROM pg_constraint WHERE conname = 'deals_company_id_fkey')",
            &[],
        )
        .await
        .expect("catalog");
    assert!(row.get::<_, bool>(0));
    assert_eq!(row.get::<_, i64>(1), 1);
    assert_eq!(row.get::<_, i64>(2), 1);
    assert!(row.get::<_, bool>(3));

    // Offline, `pgkeel lint` judges the same files as one run and says so.
    let r = run(ctx.root(), &["--json", "lint"]).expect(0);
    let doc = r.json();
    assert_eq!(doc["errors"], 0, "{r}");
    assert!(
        doc["context"]
            .as_str()
            .unwrap_or_default()
            .starts_with("judged offline"),
        "{r}"
    );
}

/// A project whose first migration fills `big` with 200,000 rows (applied), and `small` with 50.
async fn with_tables() -> Ctx {
    let ctx = Ctx::new().await;
    ctx.write("pgkeel.toml", TOML);
    ctx.write(
        "migrations/001_tables.sql",
        "create table big (id bigint generated always as identity primary key, x int, y bigint);\n\
         insert into big (x, y) select g, g from generate_series(1, 200000) g;\n\
         create table small (id bigint generated always as identity primary key, x int, note text);\n\
         insert into small (x) select g from generate_series(1, 50) g;\n",
    );
    ctx.run(&["up"]).expect(0);
    ctx
}

#[tokio::test]
async fn true_hazards_on_a_table_with_rows_still_block_with_the_figure() {
    let ctx = with_tables().await;
    let cases = [
        (
            "002_index.sql",
            "create index on big (x);\n",
            "require-concurrent-index-creation",
            "the build holds a SHARE lock",
        ),
        (
            "002_fk.sql",
            "alter table big add constraint big_y_fkey foreign key (y) references big (id);\n",
            "adding-foreign-key-constraint",
            "for the whole scan",
        ),
        (
            "002_type.sql",
            "alter table big alter column x type bigint;\n",
            "changing-column-type",
            "rewritten under an ACCESS EXCLUSIVE lock",
        ),
    ];
    for (file, sql, rule, effect) in cases {
        let path = format!("migrations/{file}");
        ctx.write(&path, sql);
        let r = ctx.run(&["up"]).expect(4);
        assert!(r.stderr.contains(rule), "{file}: {r}");
        assert!(
            r.stderr.contains("why: big has 200,000 rows"),
            "{file}: the row count decides: {r}"
        );
        assert!(r.stderr.contains(effect), "{file}: {r}");
        assert!(r.stderr.contains("nothing was changed"), "{r}");
        assert_eq!(applied(&ctx).await, ["001"], "{file} must not apply");
        ctx.project.remove(&path);
    }
    // The safe forms pass: CONCURRENTLY, and NOT VALID then VALIDATE in a migration of its own.
    ctx.write(
        "migrations/002_safe.sql",
        "create index concurrently if not exists big_x on big (x);\n",
    );
    ctx.write(
        "migrations/003_fk.sql",
        "alter table big add constraint big_y_fkey foreign key (y) references big (id) not valid;\n",
    );
    ctx.write(
        "migrations/004_validate.sql",
        "alter table big validate constraint big_y_fkey;\n",
    );
    let r = ctx.run(&["--json", "up"]).expect(0);
    assert!(errors(&r.json()).is_empty(), "{r}");
    assert_eq!(applied(&ctx).await, ["001", "002", "003", "004"]);
}

#[tokio::test]
async fn small_tables_and_backed_up_data_loss_do_not_block_and_say_why() {
    let ctx = with_tables().await;
    ctx.write("migrations/002_index.sql", "create index on small (x);\n");
    ctx.write(
        "migrations/003_drop.sql",
        "alter table small drop column note;\n",
    );
    let r = ctx.run(&["--json", "up"]).expect(0);
    let doc = r.json();
    let lint = doc["lint"].as_array().expect("lint");
    let index = lint
        .iter()
        .find(|f| f["rule"] == "require-concurrent-index-creation")
        .expect("index finding");
    assert_eq!(index["severity"], "info", "{r}");
    assert!(
        index["reason"]
            .as_str()
            .unwrap_or_default()
            .contains("small has 50 rows"),
        "{r}"
    );
    let drop = lint
        .iter()
        .find(|f| f["rule"] == "ban-drop-column")
        .expect("drop finding");
    assert_eq!(drop["severity"], "warning", "{r}");
    let why = drop["reason"].as_str().unwrap_or_default();
    assert!(why.contains("small has 50 rows"), "{why}");
    assert!(why.contains("pgkeel_backup"), "{why}");
    assert_eq!(applied(&ctx).await, ["001", "002", "003"]);
}

#[tokio::test]
async fn data_loss_without_a_backup_blocks_and_on_an_empty_table_reports_nothing() {
    let ctx = with_tables().await;
    ctx.write(
        "pgkeel.toml",
        format!("{TOML}\n[backup]\nenabled = false\n"),
    );
    ctx.write(
        "migrations/002_drop.sql",
        "alter table small drop column note;\n",
    );
    let r = ctx.run(&["up"]).expect(4);
    assert!(r.stderr.contains("ban-drop-column"), "{r}");
    assert!(
        r.stderr
            .contains("small has 50 rows and no automatic backup is taken"),
        "{r}"
    );
    // On an empty table the same statement reports nothing.
    ctx.client()
        .await
        .batch_execute("DELETE FROM small")
        .await
        .expect("empty small");
    let r = ctx.run(&["--json", "up"]).expect(0);
    let doc = r.json();
    assert!(
        !doc["lint"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|f| f["rule"] == "ban-drop-column"),
        "{r}"
    );
}

#[tokio::test]
async fn the_demo_project_applies_on_a_fresh_database_without_lint_since() {
    let ctx = Ctx::new().await;
    let repo = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let toml = std::fs::read_to_string(repo.join("pgkeel.toml")).expect("demo pgkeel.toml");
    assert!(
        !toml.contains("since"),
        "the demo must not need [lint] since"
    );
    ctx.write("pgkeel.toml", &toml);
    for dir in ["migrations", "migrations/legacy"] {
        for entry in std::fs::read_dir(repo.join(dir)).expect("demo migrations") {
            let path = entry.expect("entry").path();
            if path.extension().is_some_and(|e| e == "sql") {
                let name = path
                    .file_name()
                    .and_then(|n| n.to_str())
                    .unwrap_or_default();
                ctx.write(
                    &format!("{dir}/{name}"),
                    std::fs::read(&path).expect("read demo migration"),
                );
            }
        }
    }
    let r = ctx.run(&["--json", "up"]).expect(0);
    assert!(errors(&r.json()).is_empty(), "{r}");
    assert_eq!(applied(&ctx).await.len(), 8, "{r}");
}

#[tokio::test]
async fn a_supabase_project_pulled_with_db_pull_applies_on_the_first_run_then_guards_its_data() {
    let ctx = Ctx::new().await;
    let fixture = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/supabase-crm/supabase");
    ctx.write(
        "supabase/config.toml",
        std::fs::read(fixture.join("config.toml")).expect("config.toml"),
    );
    for entry in std::fs::read_dir(fixture.join("migrations")).expect("migrations") {
        let path = entry.expect("entry").path();
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default();
        ctx.write(
            &format!("supabase/migrations/{name}"),
            std::fs::read(&path).expect("read migration"),
        );
    }
    ctx.run(&["supabase", "bootstrap"]).expect(0);
    let r = ctx.run(&["--json", "up"]).expect(0);
    assert!(errors(&r.json()).is_empty(), "{r}");
    assert_eq!(applied(&ctx).await.len(), 5, "{r}");
    let c = ctx.client().await;
    let policies: i64 = c
        .query_one(
            "SELECT count(*) FROM pg_policies WHERE schemaname = 'public'",
            &[],
        )
        .await
        .expect("policies")
        .get(0);
    assert_eq!(policies, 5);

    // Once the CRM holds data, a blocking index build on it is refused, with the figure.
    c.batch_execute(
        "INSERT INTO public.contacts (email, first_name, owner_id)
         SELECT 'user' || g || '@example.com', 'n', gen_random_uuid() FROM generate_series(1, 20000) g",
    )
    .await
    .expect("contacts");
    ctx.write(
        "supabase/migrations/20240310090000_contacts_by_name.sql",
        "create index contacts_last_name_idx on public.contacts (last_name);\n",
    );
    let r = ctx.run(&["up"]).expect(4);
    assert!(
        r.stderr.contains("why: public.contacts has 20,000 rows"),
        "{r}"
    );
    // A NOT NULL column without a default fails on existing rows, whatever their number.
    ctx.write(
        "supabase/migrations/20240310090000_contacts_by_name.sql",
        "create index concurrently if not exists contacts_last_name_idx on public.contacts (last_name);\n",
    );
    ctx.write(
        "supabase/migrations/20240311090000_contacts_phone.sql",
        "alter table public.contacts add column phone text not null;\n",
    );
    let r = ctx.run(&["up"]).expect(4);
    assert!(r.stderr.contains("adding-required-field"), "{r}");
    assert!(
        r.stderr
            .contains("the statement fails, existing rows have no value"),
        "{r}"
    );
    assert_eq!(applied(&ctx).await.len(), 5);
}
