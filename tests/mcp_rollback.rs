//! The MCP tool `rollback` through rmcp's client: without elicitation it returns the plan and
//! a token and changes nothing, then executes with the token; with an elicitation-capable client
//! the user's answer decides (accept: rolled back, decline: unchanged).

mod mcp_support;
use mcp_support::{call, is_error, structured, text};

use std::process::Stdio;
use std::sync::Arc;

use pgkeel_testkit::{Project, TestDb};
use rmcp::model::{
    ClientCapabilities, ClientConfig, ElicitRequestParams, ElicitResult, ElicitationAction,
    Implementation,
};
use rmcp::service::{RequestContext, RunningService};
use rmcp::transport::{ConfigureCommandExt, TokioChildProcess};
use rmcp::{ClientHandler, ErrorData, RoleClient, ServiceExt};
use serde_json::json;

const BIN: &str = env!("CARGO_BIN_EXE_pgkeel");

/// A client; with `answer` it declares elicitation and answers every request with it.
#[derive(Clone, Default)]
struct Client {
    answer: Option<ElicitationAction>,
    asked: Arc<std::sync::Mutex<Vec<String>>>,
}

impl ClientHandler for Client {
    fn get_info(&self) -> ClientConfig {
        let caps = if self.answer.is_some() {
            ClientCapabilities::builder().enable_elicitation().build()
        } else {
            ClientCapabilities::default()
        };
        ClientConfig::new(caps, Implementation::new("pgkeel-test", "0.1.0"))
    }

    async fn create_elicitation(
        &self,
        request: ElicitRequestParams,
        _ctx: RequestContext<RoleClient>,
    ) -> Result<ElicitResult, ErrorData> {
        if let ElicitRequestParams::FormElicitationParams { message, .. } = &request {
            self.asked.lock().unwrap().push(message.clone());
        }
        Ok(match self.answer.clone() {
            Some(ElicitationAction::Accept) => {
                ElicitResult::new(ElicitationAction::Accept).with_content(json!({"confirm": true}))
            }
            Some(a) => ElicitResult::new(a),
            None => ElicitResult::new(ElicitationAction::Decline),
        })
    }
}

fn project() -> Project {
    let p = Project::new();
    p.write("pgkeel.toml", "[lint]\nenabled = false\n");
    p.write(
        "migrations/001_people.sql",
        "CREATE TABLE people (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, name text NOT NULL, email text);\n\
         INSERT INTO people (name, email) VALUES ('ann', 'a@x'), ('bob', NULL), ('cy', 'c@x');\n",
    );
    p.write(
        "migrations/002_purge.sql",
        "DELETE FROM people WHERE id > 1;\nALTER TABLE people DROP COLUMN email;\n-- pgkeel:down\nALTER TABLE people ADD COLUMN email text;\n",
    );
    p
}

fn up(p: &Project, db: &TestDb) {
    let out = std::process::Command::new(BIN)
        .current_dir(p.root())
        .args(["--database-url", &db.url, "--log-file", "off", "up"])
        .env_remove("DATABASE_URL")
        .stdin(Stdio::null())
        .output()
        .expect("pgkeel up");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

async fn serve(
    p: &Project,
    db: &TestDb,
    handler: Client,
    extra: &[&str],
) -> RunningService<RoleClient, Client> {
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
    handler.serve(transport).await.expect("initialize")
}

async fn rows(db: &TestDb) -> i64 {
    db.client()
        .await
        .query_one("SELECT count(*) FROM people", &[])
        .await
        .unwrap()
        .get(0)
}

async fn status(db: &TestDb) -> String {
    db.client()
        .await
        .query_one(
            "SELECT status FROM pgkeel.migrations WHERE version = '002'",
            &[],
        )
        .await
        .unwrap()
        .get(0)
}

#[tokio::test]
async fn without_elicitation_the_plan_and_token_come_back_then_the_token_executes() {
    let db = TestDb::new().await;
    let p = project();
    up(&p, &db);
    let client = serve(&p, &db, Client::default(), &[]).await;

    let tools = client.list_all_tools().await.expect("tools");
    let tool = tools
        .iter()
        .find(|t| t.name == "rollback")
        .expect("rollback tool");
    assert_eq!(
        tool.annotations.as_ref().and_then(|a| a.destructive_hint),
        Some(true)
    );
    assert!(tool.output_schema.is_some());

    // Bad arguments.
    let r = call(&client, "rollback", json!({"to_version": "001", "last": 1})).await;
    assert!(is_error(&r), "{}", text(&r));
    assert_eq!(structured(&r)["error"]["code"], "bad_arguments");
    let r = call(&client, "rollback", json!({})).await;
    assert!(is_error(&r));

    let r = call(&client, "rollback", json!({"last": 1})).await;
    assert!(!is_error(&r), "{}", text(&r));
    let s = structured(&r);
    assert_eq!(s["outcome"], "planned");
    assert_eq!(s["targets"][0]["version"], "002");
    assert!(s["targets"][0]["restores"][0]
        .as_str()
        .unwrap()
        .contains("public.people (3 rows"));
    let token = s["token"].as_str().unwrap().to_string();
    assert!(text(&r).contains("Nothing has changed") && text(&r).contains(&token));
    assert_eq!(rows(&db).await, 1);
    assert_eq!(status(&db).await, "applied");

    // A wrong token is refused with the reason.
    let r = call(
        &client,
        "rollback",
        json!({"last": 1, "confirm_token": "rb1.1.00"}),
    )
    .await;
    assert!(is_error(&r));
    assert_eq!(structured(&r)["error"]["code"], "refused");

    let r = call(
        &client,
        "rollback",
        json!({"last": 1, "confirm_token": token}),
    )
    .await;
    assert!(!is_error(&r), "{}", text(&r));
    let s = structured(&r);
    assert_eq!(s["outcome"], "rolled_back");
    assert_eq!(s["rolled_back"][0], "002");
    assert_eq!(s["restored"][0]["verified"], true);
    assert_eq!(rows(&db).await, 3);
    assert_eq!(status(&db).await, "rolled_back");
    client.cancel().await.ok();
}

#[tokio::test]
async fn with_elicitation_the_users_answer_decides() {
    let db = TestDb::new().await;
    let p = project();
    up(&p, &db);

    let decline = Client {
        answer: Some(ElicitationAction::Decline),
        ..Client::default()
    };
    let asked = decline.asked.clone();
    let client = serve(&p, &db, decline, &[]).await;
    let r = call(&client, "rollback", json!({"to_version": "001"})).await;
    assert!(!is_error(&r), "{}", text(&r));
    assert_eq!(structured(&r)["outcome"], "declined");
    assert!(structured(&r)["token"].is_null());
    assert!(text(&r).contains("nothing happened"));
    let question = asked.lock().unwrap().clone();
    assert_eq!(question.len(), 1);
    assert!(
        question[0].contains("002 purge") && question[0].contains("public.people"),
        "{question:?}"
    );
    assert_eq!(rows(&db).await, 1);
    assert_eq!(status(&db).await, "applied");
    client.cancel().await.ok();

    let cancel = Client {
        answer: Some(ElicitationAction::Cancel),
        ..Client::default()
    };
    let client = serve(&p, &db, cancel, &[]).await;
    let r = call(&client, "rollback", json!({"last": 1})).await;
    assert_eq!(structured(&r)["outcome"], "cancelled");
    assert_eq!(rows(&db).await, 1);
    client.cancel().await.ok();

    let accept = Client {
        answer: Some(ElicitationAction::Accept),
        ..Client::default()
    };
    let client = serve(&p, &db, accept, &[]).await;
    let r = call(&client, "rollback", json!({"to_version": "001"})).await;
    assert!(!is_error(&r), "{}", text(&r));
    assert_eq!(structured(&r)["outcome"], "rolled_back");
    assert_eq!(rows(&db).await, 3);
    assert_eq!(status(&db).await, "rolled_back");
    client.cancel().await.ok();
}

#[tokio::test]
async fn read_only_mode_has_no_rollback() {
    let db = TestDb::new().await;
    let p = project();
    up(&p, &db);
    let client = serve(&p, &db, Client::default(), &["--read-only"]).await;
    let tools = client.list_all_tools().await.expect("tools");
    assert!(!tools.iter().any(|t| t.name == "rollback"));
    let r = client
        .call_tool(
            rmcp::model::CallToolRequestParams::new("rollback")
                .with_arguments(json!({"last": 1}).as_object().cloned().unwrap()),
        )
        .await;
    if let Ok(r) = r {
        assert!(is_error(&r));
    }
    assert_eq!(rows(&db).await, 1);
    client.cancel().await.ok();
}

async fn people_contents(db: &TestDb) -> (i64, String) {
    let row = db
        .client()
        .await
        .query_one(
            "SELECT count(*), md5(coalesce(string_agg(to_jsonb(t)::text, '|' ORDER BY to_jsonb(t)::text), '')) FROM people t",
            &[],
        )
        .await
        .unwrap();
    (row.get(0), row.get(1))
}

#[tokio::test]
async fn an_agents_migration_is_applied_with_its_down_then_rolled_back_with_the_token() {
    let db = TestDb::new().await;
    let p = Project::new();
    p.write(
        "pgkeel.toml",
        "[lint]\nenabled = false\n[types]\nout = \"src/db.ts\"\n",
    );
    // Timestamped: the version of a new migration comes from the clock.
    p.write(
        "migrations/20200101000000_people.sql",
        "CREATE TABLE people (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, name text NOT NULL, email text);\n\
         INSERT INTO people (name, email) VALUES ('ann', 'a@x'), ('bob', NULL), ('cy', 'c@x');\n",
    );
    up(&p, &db);
    let before = people_contents(&db).await;
    let client = serve(&p, &db, Client::default(), &[]).await;
    let args = json!({
        "name": "pets_instead_of_email",
        "sql": "ALTER TABLE people DROP COLUMN email;\nCREATE TABLE pets (id int PRIMARY KEY, owner bigint REFERENCES people (id));\nINSERT INTO pets VALUES (1, 1);",
        "down": "DROP TABLE pets;\nALTER TABLE people ADD COLUMN email text;",
    });
    let plan = call(&client, "plan_migration", args.clone()).await;
    assert!(!is_error(&plan), "{}", text(&plan));
    let summary = text(&plan);
    let plan = structured(&plan);
    assert_eq!(plan["has_down"], true);
    let version = plan["version"].as_str().unwrap();
    assert!(
        summary.starts_with(&format!(
            "{} as version {version}: 3 statement(s) in 1 segment(s);",
            plan["path"].as_str().unwrap()
        )) && summary.contains(&format!(
            "Next: apply_migration with the same name, sql and down (it writes version {version} again"
        )),
        "{summary}"
    );
    // A clock tick between plan and apply: the announced version is still the one written.
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let r = call(&client, "apply_migration", args).await;
    assert!(!is_error(&r), "{}", text(&r));
    let s = structured(&r);
    assert_eq!(s["version"], plan["version"], "{s}");
    assert_eq!(s["path"], plan["path"]);
    assert_eq!(s["checksum"], plan["checksum"]);
    let path = s["path"].as_str().unwrap().to_string();
    assert!(
        p.read(&path).ends_with(
            "-- pgkeel:down\nDROP TABLE pets;\nALTER TABLE people ADD COLUMN email text;\n"
        ),
        "{}",
        p.read(&path)
    );
    assert_eq!(s["rollback"]["possible"], true, "{s}");
    assert_eq!(s["rollback"]["down_sql"][0], "DROP TABLE pets;");
    assert!(
        s["rollback"]["restores"][0]
            .as_str()
            .unwrap()
            .starts_with("public.people (3 rows"),
        "{s}"
    );
    assert!(
        text(&r).contains("Rollback: the rollback tool"),
        "{}",
        text(&r)
    );
    assert!(p.read("src/db.ts").contains("pets"));

    // plan, then the token.
    let r = call(&client, "rollback", json!({"last": 1})).await;
    assert!(!is_error(&r), "{}", text(&r));
    let s = structured(&r);
    assert_eq!(s["outcome"], "planned");
    assert_eq!(s["targets"][0]["version"], plan["version"]);
    assert_eq!(s["targets"][0]["down_statements"], 2);
    let token = s["token"].as_str().unwrap().to_string();
    let r = call(
        &client,
        "rollback",
        json!({"last": 1, "confirm_token": token}),
    )
    .await;
    assert!(!is_error(&r), "{}", text(&r));
    let s = structured(&r);
    assert_eq!(s["outcome"], "rolled_back");
    assert_eq!(s["restored"][0]["verified"], true);
    assert_eq!(s["types_written"], "src/db.ts", "{s}");
    assert!(text(&r).contains("Types written to src/db.ts"));
    let types = p.read("src/db.ts");
    assert!(
        !types.contains("pets") && types.contains("email"),
        "{types}"
    );
    assert_eq!(people_contents(&db).await, before);

    // Without down: the result says what a rollback would (not) do.
    let r = call(
        &client,
        "apply_migration",
        json!({"name": "toys", "sql": "CREATE TABLE toys (id int);"}),
    )
    .await;
    assert!(!is_error(&r), "{}", text(&r));
    let s = structured(&r);
    assert_eq!(s["rollback"]["possible"], true, "{s}");
    assert!(
        s["rollback"]["down_sql"].to_string().contains("DROP TABLE"),
        "{s}"
    );
    assert!(
        s["rollback"]["how"]
            .as_str()
            .unwrap()
            .contains("generated from the snapshot"),
        "{s}"
    );
    // `down` without a new migration, and down SQL that a rollback cannot run, are refused.
    let r = call(
        &client,
        "apply_migration",
        json!({"version": "20200101000000", "down": "SELECT 1;"}),
    )
    .await;
    assert_eq!(structured(&r)["error"]["code"], "bad_arguments");
    let r = call(
        &client,
        "apply_migration",
        json!({"name": "idx", "sql": "CREATE INDEX people_name ON people (name);", "down": "DROP INDEX CONCURRENTLY people_name;"}),
    )
    .await;
    assert!(is_error(&r));
    assert_eq!(structured(&r)["error"]["code"], "refused", "{}", text(&r));
    client.cancel().await.ok();
}
