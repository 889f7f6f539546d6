//! MCP faults through rmcp's client: `migration_status` against a server that never answers
//! ends with a tool error within the deadline, and a PostgreSQL restart while
//! `apply_migration` runs its SQL is answered with the migration and segment in flight, what
//! history says now (re-read on a new connection), the file withdrawn, and the next call.

mod cli_support;
mod mcp_support;

use std::net::TcpListener;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use cli_support::{isolate, run_command, Run, BIN};
use mcp_support::{call, is_error, structured, text};
use pgkeel_testkit::Project;
use rmcp::model::{ClientCapabilities, ClientConfig, Implementation};
use rmcp::service::RunningService;
use rmcp::transport::{ConfigureCommandExt, TokioChildProcess};
use rmcp::{ClientHandler, RoleClient, ServiceExt};
use serde_json::json;

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

async fn serve(root: &std::path::Path, url: &str) -> RunningService<RoleClient, Client> {
    let root = root.to_path_buf();
    let url = url.to_string();
    let cmd = tokio::process::Command::new(BIN).configure(move |c| {
        c.current_dir(&root)
            .args(["--database-url", &url, "--log-file", "off", "serve"])
            .env_remove("DATABASE_URL")
            .env_remove("PGKEEL_DATABASE_URL");
    });
    let (transport, _stderr) = TokioChildProcess::builder(cmd)
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn pgkeel serve");
    Client.serve(transport).await.expect("initialize")
}

#[tokio::test]
async fn migration_status_against_a_silent_server_answers_with_an_error_within_the_deadline() {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = l.local_addr().unwrap().port();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for s in l.incoming().flatten() {
            held.push(s);
        }
    });
    let p = Project::new();
    p.write("migrations/001_a.sql", "create table a(id bigint);\n");
    let client = serve(
        p.root(),
        &format!("postgres://postgres@127.0.0.1:{port}/x?connect_timeout=2"),
    )
    .await;
    let started = Instant::now();
    let r = tokio::time::timeout(
        Duration::from_secs(8),
        call(&client, "migration_status", json!({})),
    )
    .await
    .expect("migration_status hung past the deadline");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    assert!(is_error(&r), "{}", text(&r));
    let t = text(&r);
    assert!(
        t.contains(&format!("127.0.0.1:{port}")) && t.contains("phase startup"),
        "{t}"
    );
    assert_eq!(structured(&r)["error"]["code"], "connect");
    client.cancel().await.ok();
}

/// A project whose dev cluster (real initdb/pg_ctl, run by the `postgres` account) the test
/// restarts; stopped when dropped.
struct Cluster {
    project: Project,
}

impl Cluster {
    fn run(&self, args: &[&str]) -> Run {
        let mut c = Command::new(BIN);
        isolate(&mut c, self.project.root());
        c.env_remove("PGDATA").env_remove("PGPORT");
        c.args(["--log-file", "off"]).args(args);
        run_command(c)
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let _ = self.run(&["dev", "stop"]);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_during_apply_migration_says_what_was_in_flight_and_withdraws_the_file() {
    let project = Project::new();
    project.write("migrations/001_base.sql", "create table base(id bigint);\n");
    // The postgres account runs the cluster and must enter the project folder.
    std::fs::set_permissions(
        project.root(),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .expect("chmod");
    let cluster = Cluster { project };
    let started = cluster.run(&["--json", "dev", "start"]).expect(0).json();
    let url = started["result"]["url"].as_str().expect("url").to_string();

    let client = serve(cluster.project.root(), &url).await;
    let r = call(&client, "apply_migration", json!({"version": "001"})).await;
    assert!(!is_error(&r), "{}", text(&r));

    // Sleeps only in the real run (the dry run before it has application_name `pgkeel plan`).
    let sql = "create table slow(id bigint);\n\
               select pg_sleep(case when current_setting('application_name') = 'pgkeel apply' then 30 else 0 end);\n";
    let apply = {
        let peer = client.peer().clone();
        tokio::spawn(async move {
            let args = json!({"name": "slow", "sql": sql});
            peer.call_tool(
                rmcp::model::CallToolRequestParams::new("apply_migration")
                    .with_arguments(args.as_object().cloned().unwrap_or_default()),
            )
            .await
        })
    };
    // Wait for the real run's pg_sleep, then restart the server under it.
    let watcher = pgkeel_testkit::connect(&url).await;
    let t0 = Instant::now();
    loop {
        let n: i64 = watcher
            .query_one(
                "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'pgkeel apply' \
                 AND state = 'active' AND query LIKE '%pg_sleep%'",
                &[],
            )
            .await
            .expect("watch")
            .get(0);
        if n > 0 {
            break;
        }
        assert!(
            t0.elapsed() < Duration::from_secs(30),
            "the apply never reached pg_sleep"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    drop(watcher);
    cluster.run(&["dev", "stop"]).expect(0);
    cluster.run(&["dev", "start"]).expect(0);

    let r = tokio::time::timeout(Duration::from_secs(60), apply)
        .await
        .expect("apply_migration answered")
        .expect("task")
        .expect("protocol");
    let t = text(&r);
    assert!(is_error(&r), "{t}");
    let s = structured(&r);
    assert_eq!(s["error"]["code"], "connection_lost", "{s}");
    let failure = &s["error"]["failure"];
    assert_eq!(failure["connection_lost"], true, "{s}");
    assert_eq!(failure["segment"], 1, "{s}");
    assert_eq!(failure["statement"], 2, "{s}");
    let version = failure["version"].as_str().expect("version").to_string();
    for part in [
        format!("migration {version} ran, segment 1 of 1 (statement 2)"),
        "history, re-read on a new connection, shows nothing of it committed".to_string(),
        "was withdrawn".to_string(),
        "next: call migration_status".to_string(),
    ] {
        assert!(t.contains(&part), "missing {part:?} in:\n{t}");
    }
    // The file is gone, history has no row for it, and the table was never created.
    let files: Vec<String> = std::fs::read_dir(cluster.project.root().join("migrations"))
        .expect("migrations")
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(files, ["001_base.sql"], "{files:?}");
    let c = pgkeel_testkit::connect(&url).await;
    let rows: i64 = c
        .query_one(
            "SELECT count(*) FROM pgkeel.migrations WHERE version = $1",
            &[&version],
        )
        .await
        .expect("history")
        .get(0);
    assert_eq!(rows, 0);
    let slow: bool = c
        .query_one("SELECT to_regclass('public.slow') IS NOT NULL", &[])
        .await
        .expect("regclass")
        .get(0);
    assert!(!slow);
    // And the server answers the next call as before.
    let st = call(&client, "migration_status", json!({})).await;
    assert!(!is_error(&st), "{}", text(&st));
    client.cancel().await.ok();
}
