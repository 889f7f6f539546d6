//! The MCP tool `rollback` with down SQL generated from the snapshot: the plan returns the
//! generated SQL in full for review, and its token executes exactly that.

mod mcp_support;
use mcp_support::{call, is_error, structured, text};

use std::process::Stdio;

use pgkeel_testkit::{Project, TestDb};
use rmcp::transport::{ConfigureCommandExt, TokioChildProcess};
use rmcp::ServiceExt;
use serde_json::json;

const BIN: &str = env!("CARGO_BIN_EXE_pgkeel");

fn pgkeel(p: &Project, db: &TestDb, args: &[&str]) {
    let out = std::process::Command::new(BIN)
        .current_dir(p.root())
        .args(["--database-url", &db.url, "--log-file", "off"])
        .args(args)
        .env_remove("DATABASE_URL")
        .stdin(Stdio::null())
        .output()
        .expect("pgkeel");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[tokio::test]
async fn the_plan_carries_the_generated_down_and_the_token_runs_it() {
    let db = TestDb::new().await;
    let p = Project::new();
    p.write("pgkeel.toml", "[lint]\nenabled = false\n");
    p.write(
        "migrations/001_people.sql",
        "CREATE TABLE people (id int PRIMARY KEY, name text NOT NULL);\nINSERT INTO people VALUES (1, 'ann'), (2, 'bob');\n",
    );
    p.write(
        "migrations/002_tags.sql",
        "CREATE TABLE tags (id int PRIMARY KEY);\nALTER TABLE people ENABLE ROW LEVEL SECURITY;\n",
    );
    pgkeel(&p, &db, &["up"]);
    let root = p.root().to_path_buf();
    let url = db.url.clone();
    let cmd = tokio::process::Command::new(BIN).configure(move |c| {
        c.current_dir(&root)
            .args(["--database-url", &url, "--log-file", "off", "serve"])
            .env_remove("DATABASE_URL");
    });
    let (transport, _stderr) = TokioChildProcess::builder(cmd)
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn pgkeel serve");
    let client = ().serve(transport).await.expect("initialize");

    let r = call(&client, "rollback", json!({"last": 1})).await;
    assert!(!is_error(&r), "{}", text(&r));
    let s = structured(&r);
    assert_eq!(s["outcome"], "planned");
    let g = s["targets"][0]["generated_down"]
        .as_str()
        .expect("generated_down");
    assert!(g.contains("DROP TABLE \"public\".\"tags\";"), "{g}");
    assert!(
        g.contains("ALTER TABLE \"public\".\"people\" DISABLE ROW LEVEL SECURITY;"),
        "{g}"
    );
    assert_eq!(s["targets"][0]["down_statements"], 2);
    assert!(text(&r).contains("generated down SQL"), "{}", text(&r));
    let token = s["token"].as_str().expect("token").to_string();

    let r = call(
        &client,
        "rollback",
        json!({"last": 1, "confirm_token": token}),
    )
    .await;
    assert!(!is_error(&r), "{}", text(&r));
    assert_eq!(structured(&r)["outcome"], "rolled_back");
    let c = db.client().await;
    let tags: Option<String> = c
        .query_one("SELECT to_regclass('public.tags')::text", &[])
        .await
        .expect("regclass")
        .get(0);
    assert_eq!(tags, None);
    let rls: bool = c
        .query_one(
            "SELECT relrowsecurity FROM pg_class WHERE oid = 'public.people'::regclass",
            &[],
        )
        .await
        .expect("rls")
        .get(0);
    assert!(!rls);
    client.cancel().await.expect("close");
    // Pending again: `up` applies it cleanly.
    pgkeel(&p, &db, &["up"]);
}
