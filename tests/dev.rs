//! `pgkeel dev …` and the dev database used when no URL is configured: real initdb, pg_ctl and
//! postgres processes from the machine's PostgreSQL binaries, in temporary projects. Every test
//! stops its clusters at the end, also when it fails (see [`Stopper`]).

mod cli_support;

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use cli_support::{bare_command, isolate, run_command, Run, BIN};
use pgkeel_testkit::Project;
use serde_json::Value;

/// Variables of the PostgreSQL server programs the dev database runs, removed for every run on
/// top of [`cli_support::CONFIG_ENV`] (only these tests start clusters).
const SERVER_ENV: &[&str] = &["PGDATA", "PGPORT"];

/// Who runs pgkeel: the test's own user (root here), or `nobody` through setpriv.
#[derive(Clone, Copy, PartialEq, Eq)]
enum As {
    Me,
    Nobody,
}

/// A temporary project with one migration, reachable by the server's OS account.
struct Proj {
    project: Project,
    who: As,
}

impl Proj {
    fn new(who: As) -> Proj {
        let project = Project::new();
        project.write(
            "migrations/001_things.sql",
            "create table things (id int primary key, name text);\n",
        );
        let p = Proj { project, who };
        match who {
            // Root hands the cluster to the `postgres` account, which must be able to enter
            // the project folder (a temp dir is 0700).
            As::Me => chmod(p.root(), 0o755),
            As::Nobody => {
                let status = Command::new("chown")
                    .args(["-R", "nobody:nogroup"])
                    .arg(p.root())
                    .status()
                    .expect("chown");
                assert!(status.success());
            }
        }
        p
    }

    fn root(&self) -> &Path {
        self.project.root()
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut c = match self.who {
            As::Me => bare_command(self.root()),
            As::Nobody => {
                let mut c = Command::new("setpriv");
                c.args([
                    "--reuid=nobody",
                    "--regid=nogroup",
                    "--clear-groups",
                    "--",
                    BIN,
                ]);
                isolate(&mut c, self.root());
                c.env("HOME", self.root()).env("USER", "nobody");
                c
            }
        };
        for v in SERVER_ENV {
            c.env_remove(v);
        }
        c.args(["--log-file", "off"]).args(args);
        c
    }

    fn run(&self, args: &[&str]) -> Run {
        run_command(self.command(args))
    }

    /// Stops this project's cluster when dropped.
    fn stopper(&self) -> Stopper<'_> {
        Stopper(self)
    }

    fn data(&self) -> PathBuf {
        self.root().join(".pgkeel/dev/data")
    }

    fn status(&self) -> Value {
        self.run(&["--json", "dev", "status"]).expect(0).json()["result"].clone()
    }
}

/// `pgkeel dev stop` on drop, so a failing test leaves no server running.
struct Stopper<'a>(&'a Proj);

impl Drop for Stopper<'_> {
    fn drop(&mut self) {
        let r = self.0.run(&["dev", "stop"]);
        if r.code != 0 {
            eprintln!("dev stop after the test failed: {r}");
        }
    }
}

fn chmod(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

async fn connect(url: &str) -> tokio_postgres::Client {
    let (client, conn) = tokio_postgres::connect(url, tokio_postgres::NoTls)
        .await
        .unwrap_or_else(|e| panic!("connect to {url}: {e}"));
    tokio::spawn(async move {
        let _ = conn.await;
    });
    client
}

async fn one(c: &tokio_postgres::Client, sql: &str) -> String {
    let rows = c.simple_query(sql).await.unwrap();
    rows.iter()
        .find_map(|m| match m {
            tokio_postgres::SimpleQueryMessage::Row(r) => r.get(0).map(str::to_string),
            _ => None,
        })
        .unwrap_or_default()
}

/// The uid a process runs as (from /proc).
fn process_uid(pid: u64) -> u32 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))
        .and_then(|l| l.split_whitespace().next())
        .and_then(|u| u.parse().ok())
        .unwrap()
}

/// The account the server runs as when the tests run pgkeel as themselves: `postgres` as root
/// (these machines), else the tests' own user.
fn server_account() -> String {
    let out = Command::new("id").arg("-un").output().unwrap();
    let me = String::from_utf8_lossy(&out.stdout).trim().to_string();
    if me == "root" {
        "postgres".into()
    } else {
        me
    }
}

fn uid_of(user: &str) -> u32 {
    let out = Command::new("id").args(["-u", user]).output().unwrap();
    String::from_utf8_lossy(&out.stdout).trim().parse().unwrap()
}

fn process_gone(pid: u64) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => true,
        // A zombie (nobody reaped it yet) is gone too.
        Ok(s) => s
            .rsplit_once(')')
            .is_some_and(|(_, rest)| rest.trim_start().starts_with('Z')),
    }
}

#[tokio::test]
async fn start_status_url_reset_stop_as_root() {
    let p = Proj::new(As::Me);
    let _stop = p.stopper();

    let started = p.run(&["--json", "dev", "start"]).expect(0).json();
    let r = &started["result"];
    assert_eq!(started["command"], "dev start");
    assert_eq!(r["initialized"], true);
    assert_eq!(r["started"], true);
    let port = r["port"].as_u64().unwrap();
    let url = format!("postgres://postgres@127.0.0.1:{port}/pgkeel");
    assert_eq!(r["url"], url.as_str());

    // Again: already running, nothing created.
    let again = p.run(&["--json", "dev", "start"]).expect(0).json();
    assert_eq!(again["result"]["started"], false);
    assert_eq!(again["result"]["initialized"], false);

    let s = p.status();
    assert_eq!(s["running"], true);
    assert_eq!(s["port"], port);
    assert_eq!(s["url"], url.as_str());
    assert_eq!(s["os_user"], server_account().as_str());
    assert!(s["server_version"]
        .as_str()
        .unwrap()
        .starts_with(char::is_numeric));
    let pid = s["pid"].as_u64().unwrap();
    // Root handed the server and its data to the postgres account.
    assert_eq!(process_uid(pid), uid_of(&server_account()));
    assert_eq!(
        std::fs::metadata(p.data()).unwrap().uid(),
        uid_of(&server_account())
    );
    let text = p.run(&["dev", "status"]).expect(0);
    assert!(text.stdout.starts_with("dev database running"), "{text}");
    assert!(text.stdout.contains(&url), "{text}");

    // `dev url` prints only the URL.
    assert_eq!(p.run(&["dev", "url"]).expect(0).stdout, format!("{url}\n"));

    // Loopback only, trust, the socket inside .pgkeel/dev.
    let c = connect(&url).await;
    assert_eq!(one(&c, "SHOW listen_addresses").await, "127.0.0.1");
    assert_eq!(
        one(&c, "SHOW unix_socket_directories").await,
        p.root().join(".pgkeel/dev/run").display().to_string()
    );
    let hba = std::fs::read_to_string(p.data().join("pg_hba.conf")).unwrap();
    let rules: Vec<&str> = hba
        .lines()
        .filter(|l| !l.trim_start().starts_with('#') && !l.trim().is_empty())
        .collect();
    assert_eq!(rules.len(), 2, "{hba}");
    assert!(rules
        .iter()
        .all(|l| l.starts_with("local") || l.contains("127.0.0.1/32")));
    drop(c);

    // No URL configured: commands use the dev database and say so in one stderr line.
    let st = p.run(&["status"]).expect(0);
    assert_eq!(
        st.stderr,
        format!(
            "pgkeel: no DATABASE_URL; using the dev database {url} (`pgkeel dev stop` stops it)\n"
        ),
        "{st}"
    );
    assert!(st.stdout.contains("1 pending"), "{st}");
    p.run(&["up"]).expect(0);
    let c = connect(&url).await;
    c.batch_execute("insert into things values (1, 'kept?')")
        .await
        .unwrap();
    drop(c);

    // reset: the database is dropped and recreated, migrations applied again.
    let reset = p.run(&["--json", "dev", "reset"]).expect(0).json();
    assert_eq!(
        reset["result"]["up"]["applied"].as_array().unwrap().len(),
        1
    );
    assert_eq!(reset["result"]["url"], url.as_str());
    let c = connect(&url).await;
    assert_eq!(one(&c, "select count(*) from things").await, "0");
    drop(c);

    // An empty migration stops the reset's replay, naming the reset's own flag.
    p.project
        .write("migrations/002_empty.sql", "-- nothing yet\n");
    let r = p.run(&["dev", "reset"]).expect(2);
    assert!(r.stderr.contains("`pgkeel dev reset --allow-empty`"), "{r}");
    p.run(&["dev", "reset", "--allow-empty"]).expect(0);
    std::fs::remove_file(p.root().join("migrations/002_empty.sql")).unwrap();

    let stopped = p.run(&["dev", "stop"]).expect(0);
    assert_eq!(stopped.stdout, "dev database stopped\n");
    assert_eq!(p.status()["running"], false);
    assert!(process_gone(pid));
    assert_eq!(
        p.run(&["dev", "stop"]).expect(0).stdout,
        "dev database was not running\n"
    );

    // `reset --hard`: a new cluster; the remembered port is reused.
    let hard = p
        .run(&["--json", "dev", "reset", "--hard"])
        .expect(0)
        .json();
    assert_eq!(hard["result"]["start"]["initialized"], true);
    assert_eq!(hard["result"]["start"]["port"], port);
    let c = connect(&url).await;
    assert_eq!(one(&c, "select count(*) from things").await, "0");
}

#[tokio::test]
async fn an_ordinary_user_runs_the_cluster_as_itself() {
    if server_account() != "postgres" {
        eprintln!(
            "skipped: running as nobody needs root (the other tests run as an ordinary user)"
        );
        return;
    }
    let p = Proj::new(As::Nobody);
    let _stop = p.stopper();
    let url = p.run(&["dev", "url"]).expect(0);
    let url = url.stdout.trim().to_string();
    assert!(url.starts_with("postgres://postgres@127.0.0.1:"), "{url}");
    let s = p.status();
    assert_eq!(s["running"], true);
    assert_eq!(s["os_user"], "nobody");
    assert_eq!(process_uid(s["pid"].as_u64().unwrap()), uid_of("nobody"));
    assert_eq!(std::fs::metadata(p.data()).unwrap().uid(), uid_of("nobody"));
    let up = p.run(&["up"]).expect(0);
    assert!(up.stderr.contains("using the dev database"), "{up}");
    let c = connect(&url).await;
    assert_eq!(one(&c, "select count(*) from things").await, "0");
    drop(c);
    p.run(&["dev", "stop"]).expect(0);
    assert_eq!(p.status()["running"], false);
}

#[tokio::test]
async fn a_killed_server_leaves_a_stale_pid_file_that_start_recovers() {
    let p = Proj::new(As::Me);
    let _stop = p.stopper();
    p.run(&["dev", "start"]).expect(0);
    let pid = p.status()["pid"].as_u64().unwrap();
    let kill = Command::new("kill")
        .args(["-KILL", &pid.to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    let deadline = Instant::now() + Duration::from_secs(10);
    while !process_gone(pid) {
        assert!(Instant::now() < deadline, "postmaster {pid} did not die");
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(p.data().join("postmaster.pid").exists(), "a stale pid file");
    assert_eq!(p.status()["running"], false);

    // Any command recovers: here `status` with no URL.
    let st = p.run(&["status"]).expect(0);
    assert!(st.stderr.contains("started it"), "{st}");
    let s = p.status();
    assert_eq!(s["running"], true);
    assert_ne!(s["pid"].as_u64().unwrap(), pid);

    // And `dev start` says it recovered when it finds the stale file itself.
    let pid = s["pid"].as_u64().unwrap();
    Command::new("kill")
        .args(["-KILL", &pid.to_string()])
        .status()
        .unwrap();
    while !process_gone(pid) {
        std::thread::sleep(Duration::from_millis(20));
    }
    let r = p.run(&["--json", "dev", "start"]).expect(0).json();
    assert_eq!(r["result"]["recovered_stale_pid"], true);
    assert_eq!(r["result"]["started"], true);
}

#[tokio::test]
async fn two_projects_get_their_own_clusters_and_ports() {
    let a = Proj::new(As::Me);
    let b = Proj::new(As::Me);
    let _sa = a.stopper();
    let _sb = b.stopper();
    let ra = a.run(&["--json", "dev", "start"]).expect(0).json();
    let rb = b.run(&["--json", "dev", "start"]).expect(0).json();
    assert_ne!(ra["result"]["port"], rb["result"]["port"]);
    assert_ne!(ra["result"]["data_dir"], rb["result"]["data_dir"]);
    a.run(&["dev", "stop"]).expect(0);
    assert_eq!(a.status()["running"], false);
    assert_eq!(b.status()["running"], true);
}

#[test]
fn missing_binaries_are_a_clear_error() {
    let p = Proj::new(As::Me);
    std::fs::create_dir_all(p.root().join("empty-bin")).unwrap();
    p.project
        .write("pgkeel.toml", "[dev]\nbin_dir = \"empty-bin\"\n");
    for args in [&["dev", "start"][..], &["status"][..]] {
        let r = p.run(args);
        assert_eq!(r.code, 1, "{r}");
        assert!(r.stderr.contains("no PostgreSQL server binaries"), "{r}");
        assert!(r.stderr.contains("empty-bin"), "{r}");
    }
    let r = p.run(&["--json", "status"]);
    assert_eq!(r.json()["error"]["code"], "dev_binaries_not_found");
    assert!(!p.data().exists());
    // status still answers, saying what it could not find.
    let s = p.status();
    assert_eq!(s["running"], false);
    assert_eq!(s["server_version"], Value::Null);
}

#[test]
fn a_configured_port_in_use_is_named() {
    let p = Proj::new(As::Me);
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    p.project
        .write("pgkeel.toml", format!("[dev]\nport = {port}\n"));
    let r = p.run(&["--json", "dev", "start"]);
    assert_eq!(r.code, 1, "{r}");
    let e = &r.json()["error"];
    assert_eq!(e["code"], "dev_port_in_use");
    assert!(
        e["message"].as_str().unwrap().contains(&port.to_string()),
        "{r}"
    );
}

#[tokio::test]
async fn a_cluster_of_another_major_version_needs_a_hard_reset() {
    let p = Proj::new(As::Me);
    let _stop = p.stopper();
    p.project.write(".pgkeel/dev/data/PG_VERSION", "9.6\n");
    let r = p.run(&["dev", "start"]);
    assert_eq!(r.code, 1, "{r}");
    assert!(r.stderr.contains("PostgreSQL 9.6"), "{r}");
    assert!(r.stderr.contains("pgkeel dev reset --hard"), "{r}");
    assert_eq!(
        p.run(&["--json", "dev", "start"]).json()["error"]["code"],
        "dev_version_mismatch"
    );
    let hard = p
        .run(&["--json", "dev", "reset", "--hard"])
        .expect(0)
        .json();
    assert_eq!(hard["result"]["up"]["applied"].as_array().unwrap().len(), 1);
    assert_eq!(p.status()["running"], true);
}

#[test]
fn serve_uses_the_dev_database_and_says_so_on_stderr_only() {
    let p = Proj::new(As::Me);
    let _stop = p.stopper();
    // stdin at EOF: the MCP server starts, finds no client and exits.
    let r = p.run(&["serve"]);
    assert_eq!(r.stdout, "", "stdout is the protocol's: {r}");
    let first = r.stderr.lines().next().unwrap_or_default();
    assert!(
        first.starts_with(
            "pgkeel: no DATABASE_URL; using the dev database postgres://postgres@127.0.0.1:"
        ),
        "{r}"
    );
    assert_eq!(p.status()["running"], true);
}

#[test]
fn a_taken_port_is_replaced_by_a_free_one() {
    let p = Proj::new(As::Me);
    let _stop = p.stopper();
    let first = p.run(&["--json", "dev", "start"]).expect(0).json()["result"]["port"]
        .as_u64()
        .unwrap();
    p.run(&["dev", "stop"]).expect(0);
    // Another program takes the port the cluster used last time.
    let _taken = std::net::TcpListener::bind(("127.0.0.1", first as u16)).unwrap();
    let again = p.run(&["--json", "dev", "start"]).expect(0).json();
    let second = again["result"]["port"].as_u64().unwrap();
    assert_ne!(first, second);
    assert_eq!(
        p.run(&["dev", "url"]).expect(0).stdout.trim(),
        format!("postgres://postgres@127.0.0.1:{second}/pgkeel")
    );
}

#[test]
fn as_root_a_project_the_server_account_cannot_enter_is_named() {
    if server_account() != "postgres" {
        return; // only root hands the cluster to another account
    }
    let p = Proj::new(As::Me);
    chmod(p.root(), 0o700);
    let r = p.run(&["--json", "dev", "start"]);
    assert_eq!(r.code, 1, "{r}");
    let message = r.json()["error"]["message"].as_str().unwrap().to_string();
    assert!(
        message.contains(&p.root().display().to_string()),
        "{message}"
    );
    assert!(message.contains("chmod o+x"), "{message}");
}

#[tokio::test]
async fn reset_replays_the_lint_acceptances_in_the_files_without_flags() {
    let p = Proj::new(As::Me);
    let _stop = p.stopper();
    p.project.write(
        "migrations/002_fill.sql",
        "insert into things select g, 'n' || g from generate_series(1, 200000) g;\n",
    );
    p.project.write(
        "migrations/003_drop.sql",
        "alter table things drop column name;\n",
    );
    // A reset replays every migration from an empty database: `things` is created earlier in
    // the same run, so lint in context does not block, and says why.
    let reset = p.run(&["--json", "dev", "reset"]).expect(0).json();
    let drop = reset["result"]["up"]["lint"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["rule"] == "ban-drop-column")
        .cloned()
        .expect("the drop-column finding");
    assert_eq!(drop["severity"], "info", "{drop}");
    assert!(
        drop["reason"]
            .as_str()
            .unwrap_or_default()
            .contains("created earlier in this run"),
        "{drop}"
    );

    p.project.write(
        "migrations/003_drop.sql",
        "-- pgkeel:accept ban-drop-column the names live in the archive now\nalter table things drop column name;\n",
    );
    let reset = p.run(&["--json", "dev", "reset"]).expect(0).json();
    let up = &reset["result"]["up"];
    assert_eq!(up["applied"].as_array().unwrap().len(), 3, "{reset}");
    let accepted = up["lint"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["rule"] == "ban-drop-column")
        .cloned()
        .expect("the accepted finding");
    assert_eq!(accepted["accepted"]["source"], "migrations/003_drop.sql:1");
    let url = reset["result"]["url"].as_str().unwrap().to_string();
    let c = connect(&url).await;
    assert_eq!(one(&c, "select count(*) from things").await, "200000");
    assert_eq!(
        one(
            &c,
            "select lint_accepted->0->>'reason' from pgkeel.migrations where version = '003'"
        )
        .await,
        "the names live in the archive now"
    );
}
