//! MCP latency benchmark: prints figures, does not pass or fail on them (see bench/README.md).
//!
//! ```sh
//! cargo run --release -p pgkeel-mcp --example mcp_latency -- postgres://postgres@127.0.0.1:5432/DB
//! ```
//! Usually run through `bash bench/mcp.sh`, which builds the release binary and makes a throwaway
//! database. Against a release build of `pgkeel` (`PGKEEL_BIN`, default `target/release/pgkeel`):
//!
//! 1. `execute_sql {"sql": "select 1"}` over stdio from an rmcp client (`pgkeel serve
//!    --database-url URL`, spawned through `TokioChildProcess`), N calls after a warm-up;
//! 2. the same query through tokio-postgres directly (`client.query("select 1", &[])`, no TLS),
//!    and the MCP/direct ratios of the medians and p95s;
//! 3. cold start: spawn -> `initialize` result (the rmcp client's `serve()` returns), median of
//!    20 fresh processes;
//! 4. idle RSS (VmRSS) of a fresh server after `initialize` and a few calls.
//!
//! Breakdown paths, warmed up and timed in the same run, interleaved with 1 and 2 in blocks so
//! that drifts in the machine's load hit every path alike; each also gets the CPU time per call
//! of this process and of the server process (/proc/PID/task/*/schedstat):
//! - `replica`: the statements `query::run` sends (BEGIN READ ONLY + SET LOCAL pipelined with a
//!   Parse, then DECLARE/FETCH/CLOSE/ROLLBACK pipelined), as plain tokio-postgres calls;
//! - `pgkeel_engine::db::query::run` on one connection, with `sslmode=disable` and with the URL
//!   as given (pgkeel's default `prefer` means TLS when the server offers it), and
//!   `Migrator::query` through the read pool (what the tool calls);
//! - `pgkeel serve` with `sslmode=disable`;
//! - this example started as a child MCP server (`--child MODE URL`): `pgkeel-stdio` is the
//!   `PgkeelServer` that `pgkeel serve` runs, on `rmcp::transport::stdio()` (a check that the
//!   child is faithful to the binary); `pgkeel-pipes` the same on
//!   `rmcp::transport::stdio_pipes()`; `echo-stdio` / `echo-pipes` a server whose `call_tool`
//!   returns a copy of pgkeel's first `select 1` result without touching the database (the
//!   floor of rmcp + JSON + pipes + process switches for the same bytes); `query-stdio` the echo
//!   server running `Migrator::query` first (the engine inside an MCP server, without the tool's
//!   parameter handling and rendering).
//!
//! Environment: `PGKEEL_BIN`, `MCP_BENCH_CALLS` (2000), `MCP_BENCH_WARMUP` (200),
//! `MCP_BENCH_BLOCK` (100 calls per interleaved block), `MCP_BENCH_COLD_RUNS` (20).

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use pgkeel_engine::db::query::QueryOptions;
use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CallToolResult, ServerCapabilities, ServerConfig,
};
use rmcp::service::{RequestContext, RunningService};
use rmcp::transport::{ConfigureCommandExt, TokioChildProcess};
use rmcp::{ErrorData, RoleClient, RoleServer, ServerHandler, ServiceExt};

const TARGET_MEDIAN_MS: f64 = 0.35;
const TARGET_RATIO: f64 = 2.5;
const TARGET_COLD_MS: f64 = 20.0;
const TARGET_RSS_MB: f64 = 15.0;
const SQL: &str = "select 1";

type Client = RunningService<RoleClient, ()>;
type BoxError = Box<dyn std::error::Error + Send + Sync>;

fn env_count(name: &str, default: usize) -> usize {
    match std::env::var(name) {
        Ok(v) => match v.trim().parse::<usize>() {
            Ok(n) if n > 0 => n,
            _ => {
                eprintln!("mcp_latency: {name} must be a positive integer (got {v:?})");
                std::process::exit(2);
            }
        },
        Err(_) => default,
    }
}

/// The pgkeel binary: `PGKEEL_BIN`, else `target/release/pgkeel` (from the current folder, or
/// from the workspace this example belongs to).
fn pgkeel_bin() -> PathBuf {
    if let Some(p) = std::env::var_os("PGKEEL_BIN").filter(|p| !p.is_empty()) {
        return PathBuf::from(p);
    }
    let local = PathBuf::from("target/release/pgkeel");
    if local.is_file() {
        return local;
    }
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/release/pgkeel")
}

/// Everything a server needs: the binary, the database, and a project folder with an empty
/// migrations folder (the child runs there, so no pgkeel.toml above the caller is picked up).
struct Setup {
    bin: PathBuf,
    url: String,
    project: PathBuf,
}

impl Setup {
    /// `program` with the caller's PGKEEL_* settings removed (like bench/run.sh: they must not
    /// change what is measured), running in the project folder.
    fn base(&self, program: &Path) -> tokio::process::Command {
        tokio::process::Command::new(program).configure(|c| {
            for (k, _) in std::env::vars_os() {
                if k.to_string_lossy().starts_with("PGKEEL_") {
                    c.env_remove(k);
                }
            }
            c.current_dir(&self.project);
        })
    }

    /// `pgkeel serve` as an MCP client launches it.
    fn command(&self, url: &str) -> tokio::process::Command {
        self.base(&self.bin).configure(|c| {
            c.arg("serve")
                .arg("--database-url")
                .arg(url)
                .arg("--log-file")
                .arg("off")
                .arg("--migrations")
                .arg("migrations");
        })
    }

    /// Spawn `pgkeel serve` and initialize an rmcp client against it; also returns its pid.
    async fn start(&self, stderr: Stdio) -> Result<(Client, u32), BoxError> {
        self.start_command(self.command(&self.url), stderr).await
    }

    /// The same with another database URL.
    async fn start_url(&self, url: &str) -> Result<(Client, u32), BoxError> {
        self.start_command(self.command(url), Stdio::inherit())
            .await
    }

    /// This example as a child server (see `child`), `echo` = the result echo servers return.
    async fn start_child(&self, mode: &str, echo: &str) -> Result<(Client, u32), BoxError> {
        let cmd = self.base(&std::env::current_exe()?).configure(|c| {
            c.arg("--child")
                .arg(mode)
                .arg(&self.url)
                .env("MCP_BENCH_ECHO_RESULT", echo);
        });
        self.start_command(cmd, Stdio::inherit()).await
    }

    async fn start_command(
        &self,
        cmd: tokio::process::Command,
        stderr: Stdio,
    ) -> Result<(Client, u32), BoxError> {
        let (transport, _) = TokioChildProcess::builder(cmd)
            .stderr(stderr)
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", self.bin.display()))?;
        let pid = transport.id().ok_or("the server has no pid")?;
        let client = ().serve(transport).await?;
        Ok((client, pid))
    }
}

/// `url` with `sslmode=disable` (pgkeel's default, `prefer`, uses TLS when the server offers it;
/// the tokio-postgres baseline connects without TLS).
fn without_tls(url: &str) -> String {
    if !url.contains("://") {
        return format!("{url} sslmode=disable");
    }
    let (base, query) = url.split_once('?').unwrap_or((url, ""));
    let mut kept: Vec<&str> = query
        .split('&')
        .filter(|kv| {
            !kv.is_empty() && !kv.starts_with("sslmode=") && !kv.starts_with("sslrootcert=")
        })
        .collect();
    kept.push("sslmode=disable");
    format!("{base}?{}", kept.join("&"))
}

fn call_params() -> CallToolRequestParams {
    let args = serde_json::json!({ "sql": SQL });
    CallToolRequestParams::new("execute_sql").with_arguments(args.as_object().cloned().unwrap())
}

async fn mcp_call(client: &Client) -> Result<CallToolResult, BoxError> {
    let r: CallToolResult = client.call_tool(call_params()).await?;
    if r.is_error == Some(true) {
        return Err(format!("execute_sql returned an error: {:?}", r.content).into());
    }
    Ok(r)
}

/// CPU time of every thread of a process so far, in ns (/proc/PID/task/*/schedstat).
fn cpu_ns(pid: u32) -> u64 {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return 0;
    };
    tasks
        .filter_map(|t| std::fs::read_to_string(t.ok()?.path().join("schedstat")).ok())
        .filter_map(|s| s.split_whitespace().next()?.parse::<u64>().ok())
        .sum()
}

/// VmRSS of a process, in kB.
fn rss_kb(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

fn mb(kb: u64) -> f64 {
    kb as f64 / 1024.0
}

/// Timings of one path, in microseconds (f64 for sub-microsecond resolution).
#[derive(Default)]
struct Samples(Vec<f64>);

impl Samples {
    fn push(&mut self, d: Duration) {
        self.0.push(d.as_secs_f64() * 1e6);
    }
    fn sorted(&self) -> Vec<f64> {
        let mut v = self.0.clone();
        v.sort_by(f64::total_cmp);
        v
    }
    /// Nearest-rank percentile, in milliseconds.
    fn pct_ms(&self, p: f64) -> f64 {
        let v = self.sorted();
        if v.is_empty() {
            return f64::NAN;
        }
        let rank = ((p / 100.0) * v.len() as f64).ceil() as usize;
        v[rank.clamp(1, v.len()) - 1] / 1000.0
    }
    fn median_ms(&self) -> f64 {
        self.pct_ms(50.0)
    }
    fn p95_ms(&self) -> f64 {
        self.pct_ms(95.0)
    }
    fn mean_ms(&self) -> f64 {
        self.0.iter().sum::<f64>() / self.0.len().max(1) as f64 / 1000.0
    }
    fn line(&self) -> String {
        format!(
            "median {:.3} ms, p95 {:.3} ms, mean {:.3} ms, min {:.3} ms, p99 {:.3} ms",
            self.median_ms(),
            self.p95_ms(),
            self.mean_ms(),
            self.pct_ms(0.0),
            self.pct_ms(99.0)
        )
    }
}

fn mark(ok: bool) -> &'static str {
    if ok {
        "ok"
    } else {
        "MISSED"
    }
}

/// A server whose only tool returns a fixed result: rmcp + JSON + pipes, no database; with
/// `migrator`, it first runs the query through it (the engine part of execute_sql, without the
/// tool's parameter handling and rendering).
#[derive(Clone)]
struct Echo {
    result: CallToolResult,
    migrator: Option<std::sync::Arc<pgkeel_engine::Migrator>>,
}

impl ServerHandler for Echo {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
    }

    async fn call_tool(
        &self,
        _request: CallToolRequestParams,
        _ctx: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        if let Some(m) = &self.migrator {
            m.query(SQL, &QueryOptions::default())
                .await
                .map_err(|e| ErrorData::internal_error(e.to_string(), None))?;
        }
        Ok(self.result.clone().into())
    }
}

/// `mcp_latency --child MODE URL`: serve MCP on stdin/stdout in one of the breakdown variants,
/// on a current-thread runtime like `pgkeel serve`.
async fn child(mode: &str, url: &str) -> Result<(), BoxError> {
    let pipes = mode.ends_with("-pipes");
    // What src/main.rs does for `pgkeel serve` (default pool size 8, not read-only).
    let cwd = std::env::current_dir()?;
    let config = pgkeel_engine::Config::load(
        &cwd,
        None,
        &pgkeel_engine::Overrides {
            database_url: Some(url.to_string()),
            folders: vec!["migrations".into()],
            log_file: Some("off".into()),
            ..Default::default()
        },
    )?;
    let migrator = pgkeel_engine::Migrator::new(config).with_pool(8)?;
    if mode.starts_with("echo-") || mode.starts_with("query-") {
        let text = std::env::var("MCP_BENCH_ECHO_RESULT")?;
        let echo = Echo {
            result: serde_json::from_str(&text)?,
            migrator: mode
                .starts_with("query-")
                .then(|| std::sync::Arc::new(migrator)),
        };
        let service = if pipes {
            echo.serve(rmcp::transport::stdio_pipes()).await?
        } else {
            echo.serve(rmcp::transport::stdio()).await?
        };
        service.waiting().await?;
        return Ok(());
    }
    let shared = pgkeel_mcp::Shared::new(migrator, pgkeel_mcp::ServerOptions::default());
    let server = pgkeel_mcp::PgkeelServer::new(shared);
    let service = match mode {
        "pgkeel-stdio" => server.serve(rmcp::transport::stdio()).await?,
        "pgkeel-pipes" => server.serve(rmcp::transport::stdio_pipes()).await?,
        other => return Err(format!("unknown child mode {other}").into()),
    };
    service.waiting().await?;
    Ok(())
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() == 4 && args[1] == "--child" {
        let code = match child(&args[2], &args[3]).await {
            Ok(()) => 0,
            Err(e) => {
                eprintln!("mcp_latency --child {}: error: {e}", args[2]);
                1
            }
        };
        // Do not wait for tokio's blocking stdin reader at runtime shutdown.
        std::process::exit(code);
    }
    if let Err(e) = run().await {
        eprintln!("mcp_latency: error: {e}");
        std::process::exit(1);
    }
}

async fn run() -> Result<(), BoxError> {
    let url = match std::env::args().nth(1) {
        Some(u) if !u.starts_with('-') => u,
        _ => {
            eprintln!("usage: mcp_latency <database-url>   (see bench/README.md)");
            std::process::exit(2);
        }
    };
    let calls = env_count("MCP_BENCH_CALLS", 2000);
    let warmup = env_count("MCP_BENCH_WARMUP", 200);
    let block = env_count("MCP_BENCH_BLOCK", 100);
    let cold_runs = env_count("MCP_BENCH_COLD_RUNS", 20);

    let bin = pgkeel_bin();
    if !bin.is_file() {
        return Err(format!(
            "pgkeel binary not found: {} (build it with `cargo build --release -p pgkeel`, or set PGKEEL_BIN)",
            bin.display()
        )
        .into());
    }
    let bin = bin.canonicalize()?;
    let project = pgkeel_testkit::Project::new();
    std::fs::create_dir_all(project.root().join("migrations"))?;
    let setup = Setup {
        bin,
        url: url.clone(),
        project: project.root().to_path_buf(),
    };
    let version = std::process::Command::new(&setup.bin)
        .arg("--version")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default();
    println!("pgkeel:  {} ({version})", setup.bin.display());
    println!(
        "calls:   {calls} per path after {warmup} warm-up calls, interleaved in blocks of {block}; cold starts: {cold_runs}"
    );

    // ---------------------------------------------------------------------------------------
    // 1 + 2. latency: MCP over stdio against tokio-postgres direct, plus the breakdown paths.

    let (client, server_pid) = setup.start(Stdio::inherit()).await?;
    let first = mcp_call(&client).await?;
    let rows = first
        .structured_content
        .as_ref()
        .and_then(|v| v.get("untrusted_rows"))
        .cloned();
    if rows != Some(serde_json::json!([[1]])) {
        return Err(format!(
            "execute_sql select 1 did not return [[1]]: {:?}",
            first.structured_content
        )
        .into());
    }
    let echo = serde_json::to_string(&first)?;

    let direct = pgkeel_testkit::connect(&url).await;
    let one: i32 = direct.query_one(SQL, &[]).await?.get(0);
    assert_eq!(one, 1);
    let replica_conn = pgkeel_testkit::connect(&url).await;

    let plain_url = without_tls(&url);
    let engine_plain = pgkeel_engine::db::connect(
        &plain_url,
        "bench",
        None,
        pgkeel_engine::config::DEFAULT_CONNECT_TIMEOUT,
    )
    .await?;
    let engine_conn = pgkeel_engine::db::connect(
        &url,
        "bench",
        None,
        pgkeel_engine::config::DEFAULT_CONNECT_TIMEOUT,
    )
    .await?;
    let opts = QueryOptions::default();
    for c in [&engine_plain, &engine_conn] {
        let out = pgkeel_engine::db::query::run(&c.client, SQL, &opts).await?;
        assert_eq!(out.rows, vec![vec![serde_json::json!(1)]]);
    }

    let config = pgkeel_engine::Config::load(
        &setup.project,
        None,
        &pgkeel_engine::Overrides {
            database_url: Some(url.clone()),
            folders: vec!["migrations".into()],
            ..Default::default()
        },
    )?;
    let migrator = pgkeel_engine::Migrator::new(config).with_pool(8)?;
    migrator.query(SQL, &opts).await?;

    // Servers for the breakdown: pgkeel serve without TLS, and this example as a child server.
    let (plain_client, plain_pid) = setup.start_url(&plain_url).await?;
    mcp_call(&plain_client).await?;
    let mut children = Vec::new();
    let mut child_pids = Vec::new();
    for mode in [
        "pgkeel-stdio",
        "pgkeel-pipes",
        "echo-stdio",
        "echo-pipes",
        "query-stdio",
    ] {
        let (c, pid) = setup.start_child(mode, &echo).await?;
        mcp_call(&c).await?;
        children.push(c);
        child_pids.push(pid);
    }

    // What query::run sends for `select 1` (read-only, 30 s timeout, max_rows 100), as plain
    // tokio-postgres calls: two round trips.
    let begin = format!(
        "BEGIN READ ONLY; SET LOCAL statement_timeout = {}",
        opts.statement_timeout.as_millis()
    );
    let declare = format!("DECLARE pgkeel_query NO SCROLL CURSOR FOR {SQL}");
    let fetch = format!("FETCH FORWARD {} FROM pgkeel_query", opts.max_rows + 1);
    let replica = || async {
        let (b, p) = tokio::join!(
            replica_conn.batch_execute(&begin),
            replica_conn.prepare(SQL)
        );
        b?;
        p?;
        let (d, f, c, r) = tokio::join!(
            replica_conn.simple_query(&declare),
            replica_conn.simple_query(&fetch),
            replica_conn.simple_query("CLOSE pgkeel_query"),
            replica_conn.simple_query("ROLLBACK")
        );
        d?;
        f?;
        c?;
        r?;
        Ok::<(), BoxError>(())
    };
    replica().await?;

    const MCP: usize = 0;
    const DIRECT: usize = 1;
    const REPLICA: usize = 2;
    const ENGINE_PLAIN: usize = 3;
    const ENGINE: usize = 4;
    const POOL: usize = 5;
    const MCP_PLAIN: usize = 6;
    const CHILD_STDIO: usize = 7;
    const CHILD_PIPES: usize = 8;
    const ECHO_STDIO: usize = 9;
    const ECHO_PIPES: usize = 10;
    const QUERY_STDIO: usize = 11;
    let labels = [
        "MCP over stdio (pgkeel serve)",
        "tokio-postgres direct (query, no TLS)",
        "replica of query::run's statements",
        "engine query::run, sslmode=disable",
        "engine query::run, the URL's sslmode",
        "engine Migrator::query, read pool",
        "MCP over stdio, sslmode=disable",
        "child: PgkeelServer on stdio()",
        "child: PgkeelServer on stdio_pipes()",
        "child: echo server on stdio()",
        "child: echo server on stdio_pipes()",
        "child: echo server + Migrator::query",
    ];
    let once = |i: usize| {
        let (direct, replica, migrator, opts) = (&direct, &replica, &migrator, &opts);
        let (engine_plain, engine_conn) = (&engine_plain, &engine_conn);
        let (client, plain_client, children) = (&client, &plain_client, &children[..]);
        async move {
            match i {
                MCP => drop(mcp_call(client).await?),
                DIRECT => drop(direct.query(SQL, &[]).await?),
                REPLICA => replica().await?,
                ENGINE_PLAIN => {
                    drop(pgkeel_engine::db::query::run(&engine_plain.client, SQL, opts).await?)
                }
                ENGINE => {
                    drop(pgkeel_engine::db::query::run(&engine_conn.client, SQL, opts).await?)
                }
                POOL => drop(migrator.query(SQL, opts).await?),
                MCP_PLAIN => drop(mcp_call(plain_client).await?),
                n => drop(mcp_call(&children[n - CHILD_STDIO]).await?),
            }
            Ok::<(), BoxError>(())
        }
    };
    for i in 0..labels.len() {
        for _ in 0..warmup {
            once(i).await?;
        }
    }
    let mut samples: Vec<Samples> = labels.iter().map(|_| Samples::default()).collect();
    // CPU time per path: of this process (client side, and the whole engine path for the
    // in-process ones) and of the MCP server process.
    let me = std::process::id();
    let server_of = |i: usize| match i {
        MCP => Some(server_pid),
        MCP_PLAIN => Some(plain_pid),
        n if n >= CHILD_STDIO => Some(child_pids[n - CHILD_STDIO]),
        _ => None,
    };
    let mut cpu_client = vec![0u64; labels.len()];
    let mut cpu_server = vec![0u64; labels.len()];
    let mut done = 0;
    while done < calls {
        let n = block.min(calls - done);
        for (i, s) in samples.iter_mut().enumerate() {
            let (c0, s0) = (cpu_ns(me), server_of(i).map_or(0, cpu_ns));
            for _ in 0..n {
                let t = Instant::now();
                once(i).await?;
                s.push(t.elapsed());
            }
            cpu_client[i] += cpu_ns(me) - c0;
            cpu_server[i] += server_of(i).map_or(0, cpu_ns).saturating_sub(s0);
        }
        done += n;
    }
    let busy_rss = rss_kb(server_pid);
    let t = Instant::now();
    client.cancel().await?;
    let shutdown = t.elapsed();
    plain_client.cancel().await?;
    for c in children {
        c.cancel().await?;
    }
    drop(migrator);
    drop(engine_conn);
    drop(engine_plain);

    println!();
    println!("execute_sql select 1, {calls} calls each:");
    for (i, (label, s)) in labels.iter().zip(&samples).enumerate() {
        let per_call = |ns: u64| ns as f64 / calls as f64 / 1000.0;
        let server = match server_of(i) {
            Some(_) => format!(", server {:.0} us", per_call(cpu_server[i])),
            None => String::new(),
        };
        println!(
            "  {label:<38} {} | CPU/call: this process {:.0} us{server}",
            s.line(),
            per_call(cpu_client[i])
        );
    }
    let med = |i: usize| samples[i].median_ms();
    let parts = [
        (
            "tokio-postgres query (2 round trips, no TLS)",
            med(DIRECT),
            "direct",
        ),
        (
            "+ query::run's extra statements",
            med(REPLICA) - med(DIRECT),
            "replica - direct",
        ),
        (
            "+ query::run's own CPU (parse checks, values)",
            med(ENGINE_PLAIN) - med(REPLICA),
            "engine without TLS - replica",
        ),
        (
            "+ TLS to the database (the URL's sslmode)",
            med(ENGINE) - med(ENGINE_PLAIN),
            "engine - engine without TLS",
        ),
        ("+ read pool", med(POOL) - med(ENGINE), "pool - engine"),
        (
            "+ MCP: rmcp, JSON, pipes, wake-ups, the tool",
            med(MCP) - med(POOL),
            "MCP - pool",
        ),
        (
            "  of which the rmcp + stdio() floor",
            med(ECHO_STDIO),
            "echo server on stdio()",
        ),
        (
            "  (the same floor on stdio_pipes())",
            med(ECHO_PIPES),
            "echo server on stdio_pipes()",
        ),
        (
            "  of which stdio() over stdio_pipes()",
            med(CHILD_STDIO) - med(CHILD_PIPES),
            "PgkeelServer child stdio() - stdio_pipes()",
        ),
        (
            "  rest: the tool's work, wake-ups per round trip",
            med(CHILD_STDIO) - med(ECHO_STDIO) - med(POOL),
            "PgkeelServer child - echo - pool",
        ),
        (
            "    of which the query inside an MCP server",
            med(QUERY_STDIO) - med(ECHO_STDIO) - med(POOL),
            "echo + Migrator::query child - echo - pool",
        ),
        (
            "    of which the tool's parameters and rendering",
            med(CHILD_STDIO) - med(QUERY_STDIO),
            "PgkeelServer child - echo + Migrator::query child",
        ),
    ];
    println!("breakdown of the MCP median ({:.3} ms):", med(MCP));
    for (what, ms, how) in parts {
        println!("  {what:<48} {ms:>7.3} ms  ({how})");
    }
    println!(
        "  (response {} bytes of JSON; the binary's server shut down {:.1} ms after stdin closed; \
         the PgkeelServer child on stdio() measures {:.3} ms against the binary's {:.3} ms)",
        echo.len(),
        shutdown.as_secs_f64() * 1e3,
        med(CHILD_STDIO),
        med(MCP)
    );
    let (mcp_plain, pg) = (&samples[MCP_PLAIN], &samples[DIRECT]);
    let mcp_plain_summary = format!(
        "same with sslmode=disable (no TLS, like the direct client): median {:.2} ms, p95 {:.2} ms, ratio {:.1}x median, {:.1}x p95 (not a target)",
        mcp_plain.median_ms(),
        mcp_plain.p95_ms(),
        mcp_plain.median_ms() / pg.median_ms(),
        mcp_plain.p95_ms() / pg.p95_ms()
    );

    // ---------------------------------------------------------------------------------------
    // 3. cold start

    let mut cold = Samples::default();
    for _ in 0..cold_runs {
        let t = Instant::now();
        let (client, _) = setup.start(Stdio::null()).await?;
        cold.push(t.elapsed());
        client.cancel().await?;
    }
    println!();
    println!(
        "cold start (spawn -> initialize), {cold_runs} runs: {}",
        cold.line()
    );

    // ---------------------------------------------------------------------------------------
    // 4. idle RSS

    let (client, pid) = setup.start(Stdio::inherit()).await?;
    let init_rss = rss_kb(pid);
    for _ in 0..5 {
        mcp_call(&client).await?;
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    let idle_rss = rss_kb(pid).ok_or("cannot read VmRSS from /proc")?;
    client.cancel().await?;
    println!();
    println!(
        "RSS of the server: {:.1} MB after initialize, {:.1} MB idle after 5 calls, {} after the {} latency calls",
        init_rss.map_or(f64::NAN, mb),
        mb(idle_rss),
        busy_rss.map_or("?".to_string(), |k| format!("{:.1} MB", mb(k))),
        calls + warmup + 1
    );

    // ---------------------------------------------------------------------------------------
    // summary

    let mcp = &samples[0];
    let ratio_med = mcp.median_ms() / pg.median_ms();
    let ratio_p95 = mcp.p95_ms() / pg.p95_ms();
    let cold_ok = cold.median_ms() <= TARGET_COLD_MS;
    let rss_ok = mb(idle_rss) <= TARGET_RSS_MB;
    println!();
    println!("== pgkeel MCP benchmark summary ==");
    println!(
        "execute_sql select 1 over stdio: median {:.2} ms, p95 {:.2} ms | tokio-postgres direct: median {:.2} ms, p95 {:.2} ms | ratio {:.1}x median, {:.1}x p95 (targets: <= {TARGET_MEDIAN_MS} ms {}, <= {TARGET_RATIO}x {})",
        mcp.median_ms(),
        mcp.p95_ms(),
        pg.median_ms(),
        pg.p95_ms(),
        ratio_med,
        ratio_p95,
        mark(mcp.median_ms() <= TARGET_MEDIAN_MS),
        mark(ratio_med <= TARGET_RATIO)
    );
    println!("  {mcp_plain_summary}");
    println!(
        "cold start (spawn -> initialize): median {:.1} ms of {cold_runs} (target <= {TARGET_COLD_MS} ms) {}",
        cold.median_ms(),
        mark(cold_ok)
    );
    println!(
        "idle RSS: {:.1} MB (target <= {TARGET_RSS_MB} MB) {}",
        mb(idle_rss),
        mark(rss_ok)
    );
    Ok(())
}
