//! Network faults through the binary: a server that accepts TCP and never answers (a deadline,
//! naming host and phase, exit 1), settings PostgreSQL would refuse (refused at config load),
//! a bad URL (names the bad part), and a connection lost while a migration runs (exit 1, code
//! `connection_lost`, not a migration failure).

mod cli_support;
use cli_support::{run_command, Ctx};

use std::net::TcpListener;
use std::time::{Duration, Instant};

/// A listener on 127.0.0.1 that accepts every connection and never sends a byte (the
/// connections are kept open until the process ends). Returns its port.
fn silent_listener() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = l.local_addr().expect("addr").port();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for s in l.incoming().flatten() {
            held.push(s);
        }
    });
    port
}

/// A proxy to the test server on 127.0.0.1:5432. A connection whose client sends a message
/// containing `freeze_on` goes silent from then on: the query reaches the server, but nothing the
/// server sends back is passed on (the connection stays open), as when a server stops answering
/// mid-session. Other connections keep working. Returns its port.
fn freezing_proxy(freeze_on: &'static [u8]) -> u16 {
    use std::io::{Read, Write};
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;
    let l = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = l.local_addr().expect("addr").port();
    std::thread::spawn(move || {
        for client in l.incoming().flatten() {
            let Ok(server) = std::net::TcpStream::connect("127.0.0.1:5432") else {
                continue;
            };
            let frozen = Arc::new(AtomicBool::new(false));
            let (mut c_in, mut s_out) = (
                client.try_clone().expect("clone"),
                server.try_clone().expect("clone"),
            );
            let (mut s_in, mut c_out) = (server, client);
            let f = frozen.clone();
            std::thread::spawn(move || {
                let mut buf = [0u8; 65536];
                while let Ok(n) = c_in.read(&mut buf) {
                    if n == 0 {
                        break;
                    }
                    if buf[..n].windows(freeze_on.len()).any(|w| w == freeze_on) {
                        f.store(true, Ordering::SeqCst);
                    }
                    if s_out.write_all(&buf[..n]).is_err() {
                        break;
                    }
                }
            });
            std::thread::spawn(move || {
                let mut buf = [0u8; 65536];
                while let Ok(n) = s_in.read(&mut buf) {
                    if n == 0 {
                        break;
                    }
                    if !frozen.load(Ordering::SeqCst) && c_out.write_all(&buf[..n]).is_err() {
                        break;
                    }
                }
            });
        }
    });
    port
}

#[tokio::test]
async fn a_server_that_stops_answering_mid_up_ends_it_within_the_deadline() {
    let ctx = Ctx::new().await;
    ctx.write("migrations/001_a.sql", "create table a(id int);\n");
    // `up`'s read of the server's backends (after the history) gets no answer.
    up_through_a_freeze(
        &ctx,
        b"SELECT pid FROM pg_stat_activity WHERE pid <> pg_backend_pid()",
        "listing server backends",
    );
}

/// `up` through a proxy that goes silent once pgkeel sends `freeze_on`: it ends within the
/// deadline (connect_timeout=2 in the URL, plus a second, plus lock_timeout for `extra`
/// phases) with `connection_lost` naming `phase`, and a later `up` applies what is pending.
fn up_through_a_freeze(ctx: &Ctx, freeze_on: &'static [u8], phase: &str) {
    through_a_freeze(ctx, &["up"], freeze_on, phase, Duration::from_secs(15));
    // Nothing was applied; the next `up` on a working connection applies it.
    ctx.run(&["up"]).expect(0);
}

/// `args` (a command and its flags) through a proxy that goes silent once pgkeel sends
/// `freeze_on`: the command ends after the deadline (connect_timeout=2 in the URL plus a
/// second) and before `limit`, exit 1, `connection_lost` naming `phase`.
fn through_a_freeze(
    ctx: &Ctx,
    args: &[&str],
    freeze_on: &'static [u8],
    phase: &str,
    limit: Duration,
) {
    let port = freezing_proxy(freeze_on);
    let url = format!(
        "postgres://postgres@127.0.0.1:{port}/{}?connect_timeout=2&sslmode=disable",
        ctx.db.name
    );
    let started = Instant::now();
    let mut c = cli_support::pgkeel_command(ctx.root());
    c.args(["--database-url", &url, "--json"]).args(args);
    let r = run_command(c);
    let took = started.elapsed();
    assert!(took < limit, "took {took:?}:\n{r}");
    assert!(took >= Duration::from_millis(2900), "took {took:?}:\n{r}");
    assert_eq!(r.code, 1, "{r}");
    let doc = r.json();
    assert_eq!(doc["error"]["code"], "connection_lost", "{doc}");
    let msg = doc["error"].to_string();
    assert!(msg.contains(phase) && msg.contains("no answer"), "{msg}");
}

#[tokio::test]
async fn a_server_that_stops_answering_while_rows_are_counted_ends_up_before_anything_runs() {
    let ctx = Ctx::new().await;
    ctx.write("migrations/001_a.sql", "create table a(id int);\n");
    ctx.run(&["up"]).expect(0);
    ctx.write("migrations/002_b.sql", "insert into a values (1);\n");
    // The row-count report's table lookup gets no answer: the count's own bound (its 30 s
    // statement timeout) plus the deadline, then `up` stops with nothing applied.
    through_a_freeze(
        &ctx,
        &["up"],
        b"SELECT c.oid::regclass::text",
        "counting rows for the row-count report",
        Duration::from_secs(45),
    );
    let status = ctx.run(&["--json", "status"]).expect(0).json();
    assert_eq!(status["counts"]["pending"], 1, "{status}");
    ctx.run(&["up"]).expect(0);
}

#[tokio::test]
async fn a_server_that_stops_answering_ends_rollback_plan_repair_and_backups_list_within_the_deadline(
) {
    let ctx = Ctx::new().await;
    ctx.write("migrations/001_a.sql", "create table a(id int);\n");
    ctx.run(&["up"]).expect(0);
    let limit = Duration::from_secs(15);
    through_a_freeze(
        &ctx,
        &["rollback", "--plan", "--last", "1"],
        b"snapshot FROM",
        "reading the migrations' snapshots",
        limit,
    );
    // `repair` under the lock: its history read is bounded too, and the lock is released.
    through_a_freeze(
        &ctx,
        &["repair", "--forget", "001"],
        b"segments_done, started_at, finished_at, duration_ms",
        "reading the history",
        limit,
    );
    ctx.run(&["status", "--check"]).expect(0);
    through_a_freeze(
        &ctx,
        &["backups", "list"],
        b"SELECT to_regclass($1) IS NOT NULL",
        "reading the backup catalog",
        limit,
    );
}

#[tokio::test]
async fn a_server_that_stops_answering_while_the_history_is_created_ends_up_within_the_deadline() {
    let ctx = Ctx::new().await;
    ctx.write("migrations/001_a.sql", "create table a(id int);\n");
    up_through_a_freeze(
        &ctx,
        b"CREATE SCHEMA IF NOT EXISTS \"pgkeel\"",
        "creating or upgrading the history schema",
    );
}

#[tokio::test]
async fn a_server_that_stops_answering_while_lint_reads_table_sizes_ends_up_within_the_deadline() {
    let ctx = Ctx::new().await;
    ctx.write("migrations/001_a.sql", "create table a(id int);\n");
    ctx.run(&["up"]).expect(0);
    // Lint judges the index build by the size of `a`: that read gets no answer.
    ctx.write("migrations/002_b.sql", "create index a_id on a (id);\n");
    up_through_a_freeze(
        &ctx,
        b"unnest($1::text[]) WITH ORDINALITY AS n(name, i)",
        "reading the sizes of the tables lint judges",
    );
}

#[tokio::test]
async fn a_silent_server_fails_status_within_the_url_deadline_naming_host_and_phase() {
    let ctx = Ctx::new().await;
    ctx.write("migrations/001_a.sql", "create table a(id int);\n");
    let port = silent_listener();
    let url = format!("postgres://postgres@127.0.0.1:{port}/x?connect_timeout=2");
    let started = Instant::now();
    let mut c = cli_support::pgkeel_command(ctx.root());
    c.args(["--database-url", &url, "--json", "status"]);
    let r = run_command(c);
    let took = started.elapsed();
    assert!(took < Duration::from_secs(6), "took {took:?}:\n{r}");
    assert!(took >= Duration::from_millis(1900), "took {took:?}:\n{r}");
    assert_eq!(r.code, 1, "{r}");
    let doc = r.json();
    assert_eq!(doc["error"]["code"], "connect", "{doc}");
    let msg = doc["error"]["message"].as_str().unwrap_or_default();
    assert!(
        msg.contains(&format!("127.0.0.1:{port}"))
            && msg.contains("phase startup")
            && msg.contains("2s"),
        "{msg}"
    );
}

#[tokio::test]
async fn a_silent_server_fails_status_within_the_configured_deadline() {
    let ctx = Ctx::new().await;
    ctx.write("migrations/001_a.sql", "create table a(id int);\n");
    ctx.write("pgkeel.toml", "[database]\nconnect_timeout = \"1500ms\"\n");
    let port = silent_listener();
    let url = format!("postgres://postgres@127.0.0.1:{port}/x");
    let started = Instant::now();
    let mut c = cli_support::pgkeel_command(ctx.root());
    c.args(["--database-url", &url, "status"]);
    let r = run_command(c);
    let took = started.elapsed();
    assert!(took < Duration::from_secs(5), "took {took:?}:\n{r}");
    assert_eq!(r.code, 1, "{r}");
    assert!(
        r.stderr.contains(&format!("127.0.0.1:{port}"))
            && r.stderr.contains("phase startup")
            && r.stderr.contains("1s 500ms"),
        "{r}"
    );
    // `up` takes the same path (executor, then lock).
    let mut c = cli_support::pgkeel_command(ctx.root());
    c.args(["--database-url", &url, "up"]);
    let started = Instant::now();
    let r = run_command(c);
    assert!(started.elapsed() < Duration::from_secs(5), "{r}");
    assert_eq!(r.code, 1, "{r}");
}

#[tokio::test]
async fn timeouts_postgres_would_refuse_are_refused_when_pgkeel_toml_is_read() {
    let ctx = Ctx::new().await;
    ctx.write("migrations/001_a.sql", "create table a(id int);\n");
    for (toml, key) in [
        (
            "[apply]\nlock_timeout = \"30days\"\n",
            "[apply] lock_timeout",
        ),
        (
            "[apply]\nstatement_timeout = \"100000h\"\n",
            "[apply] statement_timeout",
        ),
        (
            "[database]\nconnect_timeout = \"30days\"\n",
            "[database] connect_timeout",
        ),
    ] {
        ctx.write("pgkeel.toml", toml);
        let r = ctx.run(&["up"]);
        assert_eq!(r.code, 2, "{toml}: {r}");
        assert!(
            r.stderr.contains(key)
                && r.stderr.contains("out of range")
                && r.stderr.contains("2147483647ms"),
            "{toml}: {r}"
        );
        assert!(!r.stderr.contains("could not mark"), "{r}");
    }
    // The same range for `sql --timeout` (sent as statement_timeout).
    let r = ctx.run(&["sql", "--timeout", "30days", "select 1"]);
    assert_eq!(r.code, 2, "{r}");
    assert!(
        r.stderr.contains("out of range") && r.stderr.contains("2147483647ms"),
        "{r}"
    );
    // Nothing ran: no history schema.
    let c = ctx.client().await;
    let n: i64 = c
        .query_one(
            "SELECT count(*) FROM pg_namespace WHERE nspname = 'pgkeel'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(n, 0);
}

#[tokio::test]
async fn a_bad_url_names_the_bad_part() {
    let ctx = Ctx::new().await;
    for (url, part) in [
        ("postgres://postgres@127.0.0.1:54x2/db", "`port`"),
        (
            "postgres://postgres@127.0.0.1/db?sslmod=require",
            "unknown option `sslmod`",
        ),
        (
            "postgres://postgres@127.0.0.1/db?sslmode=sometimes",
            "`sslmode`",
        ),
        (
            "postgres://postgres@127.0.0.1/db?connect_timeout=soon",
            "`connect_timeout`",
        ),
        ("localhost:5432/db", "key=value"),
    ] {
        let mut c = cli_support::pgkeel_command(ctx.root());
        c.args(["--database-url", url, "status"]);
        let r = run_command(c);
        assert_eq!(r.code, 2, "{url}: {r}");
        assert!(r.stderr.contains(part), "{url}: {r}");
        assert!(
            !r.stderr
                .contains("invalid connection string: invalid connection string"),
            "{r}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_lost_during_up_exits_1_with_code_connection_lost() {
    let ctx = Ctx::new().await;
    ctx.write(
        "migrations/001_slow.sql",
        "create table slow(id int);\nselect pg_sleep(30);\n",
    );
    let child = ctx
        .command(&["--json", "up"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn");
    let c = ctx.client().await;
    // Wait for the migration's pg_sleep, then end its backend (as a server restart does).
    let started = Instant::now();
    loop {
        let n: i64 = c
            .query_one(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity \
                 WHERE datname = current_database() AND query LIKE 'select pg_sleep(30)%'",
                &[],
            )
            .await
            .unwrap()
            .get(0);
        if n > 0 {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "pg_sleep never started"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let r = cli_support::Run::from_output(child.wait_with_output().expect("wait"));
    assert_eq!(
        r.code, 1,
        "a lost connection is exit 1 (docs/TOOLS.md):\n{r}"
    );
    let doc = r.json();
    assert_eq!(doc["error"]["code"], "connection_lost", "{doc}");
    let failure = &doc["error"]["failure"];
    assert_eq!(failure["connection_lost"], true, "{doc}");
    assert_eq!(failure["segment"], 1, "{doc}");
    let outcome = failure["outcome"].as_str().unwrap_or_default();
    assert!(
        outcome.contains("connection to the server was lost") && outcome.contains("interrupted"),
        "{outcome}"
    );
    // Nothing of the migration committed.
    let n: i64 = c
        .query_one("SELECT count(*) FROM pg_class WHERE relname = 'slow'", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(n, 0);
}
