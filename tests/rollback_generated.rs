//! `pgkeel rollback` with down SQL generated from the snapshot: `--plan` prints it in full, the
//! token binds it, `--confirm` runs it; a verification failure exits 6 and changes nothing.

mod cli_support;
use cli_support::Ctx;

use pgkeel_testkit::Project;

async fn new_ctx() -> Ctx {
    let project = Project::new();
    project.write("pgkeel.toml", "[lint]\nenabled = false\n");
    Ctx::with_project(project).await
}

const BASE: &str = "CREATE TABLE people (
    id    bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name  text NOT NULL,
    email text
);
INSERT INTO people (name, email) VALUES ('ann', 'a@x'), ('bob', NULL), ('cy', 'c@x');
";

async fn rows(ctx: &Ctx) -> Vec<String> {
    ctx.client()
        .await
        .query("SELECT to_jsonb(p)::text FROM people p ORDER BY id", &[])
        .await
        .expect("rows")
        .iter()
        .map(|r| r.get(0))
        .collect()
}

#[tokio::test]
async fn the_plan_shows_the_generated_down_and_the_token_runs_exactly_it() {
    let ctx = new_ctx().await;
    ctx.write("migrations/001_people.sql", BASE);
    ctx.write(
        "migrations/002_drop_email.sql",
        "ALTER TABLE people DROP COLUMN email;\n",
    );
    ctx.run(&["up", "--to", "001"]).expect(0);
    let before = rows(&ctx).await;
    ctx.run(&["up"]).expect(0);

    let plan = ctx.run(&["rollback", "--last", "1", "--plan"]).expect(0);
    assert!(
        plan.stdout
            .contains("down (generated from the snapshot taken when it was applied, 1 statement(s); review it):"),
        "{plan}"
    );
    assert!(
        plan.stdout
            .contains("ALTER TABLE \"public\".\"people\" ADD COLUMN \"email\" text;"),
        "{plan}"
    );
    let j = ctx
        .run(&["rollback", "--last", "1", "--plan", "--json"])
        .expect(0)
        .json();
    let g = &j["plan"]["targets"][0]["generated"];
    assert_eq!(
        g["before_restore"][0],
        "ALTER TABLE \"public\".\"people\" ADD COLUMN \"email\" text"
    );
    let token = j["token"].as_str().expect("token").to_string();
    // Something the generated down depends on changes: the plan (and its SQL) is another one.
    ctx.client()
        .await
        .batch_execute("ALTER TABLE people ADD COLUMN later int")
        .await
        .expect("later column");
    let r = ctx
        .run(&["rollback", "--last", "1", "--confirm", &token])
        .expect(4);
    assert!(r.stderr.contains("the plan changed"), "{r}");
    ctx.client()
        .await
        .batch_execute("ALTER TABLE people DROP COLUMN later")
        .await
        .expect("drop it again");
    // The same plan as before: the token applies again.
    let r = ctx.run(&["rollback", "--last", "1", "--confirm", &token]);
    r.expect(0);
    assert_eq!(rows(&ctx).await, before);
    ctx.run(&["up"]).expect(0);
}

#[tokio::test]
async fn a_verification_failure_exits_6_and_changes_nothing() {
    let ctx = new_ctx().await;
    ctx.write("migrations/001_people.sql", BASE);
    ctx.write(
        "migrations/002_not_null.sql",
        "UPDATE people SET email = 'none' WHERE email IS NULL;\nALTER TABLE people ALTER COLUMN email SET DEFAULT 'none';\n-- pgkeel:down\nSELECT 1;\n",
    );
    ctx.run(&["up"]).expect(0);
    let before = rows(&ctx).await;
    let token = {
        let j = ctx
            .run(&["rollback", "--last", "1", "--plan", "--json"])
            .expect(0)
            .json();
        j["token"].as_str().expect("token").to_string()
    };
    let r = ctx
        .run(&["rollback", "--last", "1", "--confirm", &token, "--json"])
        .expect(6);
    let j = r.json();
    assert_eq!(j["error"]["code"], "migration_failed", "{r}");
    let msg = j["error"]["message"].as_str().unwrap_or_default();
    assert!(
        msg.contains(
            "\"public\".\"people\".\"email\" default: before None, after Some(\"'none'::text\")"
        ),
        "{msg}"
    );
    // The restore ran and was undone with the rest: the rows are as the migration left them.
    assert_eq!(rows(&ctx).await, before);
    let status: String = ctx
        .client()
        .await
        .query_one(
            "SELECT status FROM pgkeel.migrations WHERE version = '002'",
            &[],
        )
        .await
        .expect("history")
        .get(0);
    assert_eq!(status, "applied");
}
