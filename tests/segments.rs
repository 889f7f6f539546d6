//! Faults with a way forward, end to end on a real server: a `CREATE INDEX CONCURRENTLY` whose
//! pgkeel was SIGKILLed (the orphaned build finished, or was cancelled and left an INVALID
//! index), an index of the same name with another definition, `repair --segment-done`, and a
//! table lock held by another session (fail fast naming the blocker, stay pending, retry).

mod cli_support;
use cli_support::Ctx;
use std::time::{Duration, Instant};

use tokio_postgres::Client;

async fn one<T: for<'a> tokio_postgres::types::FromSql<'a>>(c: &Client, sql: &str) -> T {
    c.query_one(sql, &[])
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
        .get(0)
}

/// Poll `sql` (one boolean) every 50 ms until true, or fail after `deadline`.
async fn wait_for(c: &Client, sql: &str, deadline: Duration) {
    let start = Instant::now();
    while !one::<bool>(c, sql).await {
        assert!(start.elapsed() < deadline, "timed out waiting for: {sql}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

const INDEXED: &str = "create index concurrently t_x on t (x);\n\
                       create table after_index(id int);\n";

/// Apply a table `t`, then run [`INDEXED`] while `holder`'s open write transaction on `t` holds
/// the index build (CREATE INDEX CONCURRENTLY waits for it), SIGKILL pgkeel during the wait, and
/// return the orphaned backend's pid, still waiting; the holder's transaction stays open.
async fn kill_during_the_build(ctx: &Ctx, holder: &Client) -> i32 {
    // No lock_timeout: the build must outwait the holder.
    ctx.write("pgkeel.toml", "[apply]\nlock_timeout = \"0\"\n");
    ctx.write("migrations/000_t.sql", "create table t(x int, y int);\n");
    ctx.run(&["up"]).expect(0);
    holder
        .batch_execute("BEGIN; INSERT INTO t VALUES (1, 1)")
        .await
        .unwrap();
    ctx.write("migrations/001_indexed.sql", INDEXED);
    let mut child = ctx.spawn(&["up"]);
    let c = ctx.client().await;
    let waiting = "FROM pg_stat_activity WHERE datname = current_database() AND state = 'active' \
                   AND query ILIKE 'create index concurrently%' AND wait_event_type = 'Lock'";
    wait_for(
        &c,
        &format!("SELECT EXISTS (SELECT 1 {waiting})"),
        Duration::from_secs(20),
    )
    .await;
    let backend: i32 = one(&c, &format!("SELECT pid {waiting}")).await;
    child.kill().expect("SIGKILL pgkeel");
    let _ = child.wait();
    backend
}

/// Wait until server process `pid` has ended.
async fn wait_gone(c: &Client, pid: i32) {
    wait_for(
        c,
        &format!("SELECT NOT EXISTS (SELECT 1 FROM pg_stat_activity WHERE pid = {pid})"),
        Duration::from_secs(20),
    )
    .await;
}

async fn index_state(c: &Client) -> (bool, String) {
    let r = c
        .query_one(
            "SELECT indisvalid, pg_get_indexdef(indexrelid) FROM pg_index WHERE indexrelid = 't_x'::regclass",
            &[],
        )
        .await
        .unwrap();
    (r.get(0), r.get(1))
}

/// The orphaned build finished (the index is valid): the next `up` records the segment done
/// without building it again, says so, and runs the rest.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_concurrent_index_build_that_finished_is_recorded_done() {
    let ctx = Ctx::new().await;
    let holder = ctx.client().await;
    let backend = kill_during_the_build(&ctx, &holder).await;
    holder.batch_execute("COMMIT").await.unwrap();
    let c = ctx.client().await;
    // The build completes, then its backend finds its client gone and exits.
    wait_gone(&c, backend).await;
    assert!(
        index_state(&c).await.0,
        "premise: the orphaned build made a valid index"
    );
    let done: i32 = one(
        &c,
        "SELECT segments_done FROM pgkeel.migrations WHERE version = '001'",
    )
    .await;
    assert_eq!(
        done, 0,
        "premise: history still stops before the index segment"
    );

    let up = ctx.run(&["up"]).expect(0);
    assert!(
        up.stderr.contains(
            "index t_x already exists, valid and with the definition this statement builds"
        ) && up.stderr.contains("recorded as done"),
        "{up}"
    );
    assert!(
        !up.all().contains("INVALID"),
        "a valid index is not called INVALID:\n{up}"
    );
    let status: String = one(
        &c,
        "SELECT status FROM pgkeel.migrations WHERE version = '001'",
    )
    .await;
    assert_eq!(status, "applied");
    assert!(one::<bool>(&c, "SELECT to_regclass('after_index') IS NOT NULL").await);
    assert_eq!(
        one::<i64>(&c, "SELECT count(*) FROM pg_indexes WHERE tablename = 't'").await,
        1
    );
}

/// The orphaned build was cancelled (the index is left INVALID): the next `up` drops it and
/// builds it again, and says so.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_concurrent_index_build_that_was_cancelled_is_rebuilt() {
    let ctx = Ctx::new().await;
    let holder = ctx.client().await;
    let backend = kill_during_the_build(&ctx, &holder).await;
    let c = ctx.client().await;
    c.execute("SELECT pg_cancel_backend($1)", &[&backend])
        .await
        .unwrap();
    wait_for(
        &c,
        &format!(
            "SELECT NOT EXISTS (SELECT 1 FROM pg_stat_activity WHERE pid = {backend} AND state = 'active')"
        ),
        Duration::from_secs(20),
    )
    .await;
    holder.batch_execute("COMMIT").await.unwrap();
    // The orphaned backend's session ends once it notices its client is gone; terminate it so
    // the test does not wait for that.
    c.execute("SELECT pg_terminate_backend($1)", &[&backend])
        .await
        .unwrap();
    wait_gone(&c, backend).await;
    assert!(
        !index_state(&c).await.0,
        "premise: the cancelled build left an INVALID index"
    );

    let up = ctx.run(&["up"]).expect(0);
    assert!(
        up.stderr.contains("index t_x was left INVALID by an interrupted or failed build: dropped it and built it again"),
        "{up}"
    );
    assert!(index_state(&c).await.0, "rebuilt valid");
    let status: String = one(
        &c,
        "SELECT status FROM pgkeel.migrations WHERE version = '001'",
    )
    .await;
    assert_eq!(status, "applied");
}

/// An index of that name with another definition is an error naming both; it is not dropped.
/// `repair --segment-done` refuses what it must not record, then records the segment, and `up`
/// runs the rest.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn index_of_another_definition_is_an_error_and_repair_marks_the_segment_done() {
    let ctx = Ctx::new().await;
    ctx.write(
        "migrations/001_t.sql",
        "create table t(x int, y int);\ncreate index t_x on t (x, y);\n",
    );
    ctx.run(&["up"]).expect(0);
    ctx.write(
        "migrations/002_index.sql",
        "create table before_index(id int);\n\
         create index concurrently t_x on t (x);\n\
         create table after_index(id int);\n",
    );
    let up = ctx.run(&["up", "--json"]).expect(6);
    let f = &up.json()["error"]["failure"];
    let message = f["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("already exists, valid, with another definition")
            && message.contains("CREATE INDEX t_x ON public.t USING btree (x, y)")
            && message.contains("create index concurrently t_x on t (x)"),
        "both definitions named: {f}"
    );
    assert!(
        f["outcome"]
            .as_str()
            .unwrap_or_default()
            .contains("--resolve-failed"),
        "{f}"
    );
    let c = ctx.client().await;
    assert!(index_state(&c).await.0, "the existing index is kept");

    // Only the segment the migration stops at, and never a transactional one.
    let r = ctx.run(&["repair", "--segment-done", "002:3"]).expect(4);
    assert!(r.stderr.contains("stops at segment 2 of 3"), "{r}");
    let r = ctx.run(&["repair", "--segment-done", "001:1"]).expect(4);
    assert!(
        r.stderr.contains("is applied, not failed or interrupted"),
        "{r}"
    );
    ctx.run(&["repair", "--segment-done", "002"]).expect(2);

    let r = ctx.run(&["repair", "--segment-done", "002:2"]).expect(0);
    assert!(
        r.stdout.contains("segment 2 of 3 of migration 002 (`CREATE INDEX CONCURRENTLY`, line 2) recorded as done; `pgkeel up` resumes it at segment 3"),
        "{r}"
    );
    let audit: i64 = one(
        &c,
        "SELECT count(*) FROM pgkeel.audit_log WHERE action = 'repair_segment_done'",
    )
    .await;
    assert_eq!(audit, 1);
    let up = ctx.run(&["up", "--json"]).expect(0).json();
    assert_eq!(up["applied"][0]["resumed_from"], 2, "{up}");
    assert!(one::<bool>(&c, "SELECT to_regclass('after_index') IS NOT NULL").await);
    assert_eq!(
        index_state(&c).await.1,
        "CREATE INDEX t_x ON public.t USING btree (x, y)",
        "the hand-made index stays"
    );
}

/// A transactional segment cannot be recorded as done.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn segment_done_refuses_a_transactional_segment() {
    let ctx = Ctx::new().await;
    ctx.write(
        "migrations/001_bad.sql",
        "create table a(id int);\nselect 1/0;\n",
    );
    ctx.run(&["up"]).expect(6);
    let r = ctx.run(&["repair", "--segment-done", "001:1"]).expect(4);
    assert!(r.stderr.contains("runs in a transaction"), "{r}");
}

/// Hold `ACCESS EXCLUSIVE` on `lt` in `holder`'s open transaction, tagged `application_name`
/// `blocker-test`; returns the holder's pid.
/// (pg_stat_activity shows a session's last query: the LOCK is sent last.)
async fn hold_lock(holder: &Client) -> i32 {
    holder
        .batch_execute("SET application_name = 'blocker-test'")
        .await
        .unwrap();
    let pid = one(holder, "SELECT pg_backend_pid()").await;
    holder
        .batch_execute("BEGIN; LOCK TABLE lt IN ACCESS EXCLUSIVE MODE")
        .await
        .unwrap();
    pid
}

/// A held table lock: `up` fails within the lock timeout (the row counts do not wait on the same
/// lock), names the blocker's pid and query, records no failure, and the next `up` applies the
/// migration without a repair once the lock is gone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn held_table_lock_fails_fast_names_the_blocker_and_stays_pending() {
    let ctx = Ctx::new().await;
    ctx.write("pgkeel.toml", "[apply]\nlock_timeout = \"1s\"\n");
    ctx.write("migrations/001_a.sql", "create table lt(id int);\n");
    ctx.run(&["up"]).expect(0);
    let holder = ctx.client().await;
    let pid = hold_lock(&holder).await;
    ctx.write(
        "migrations/002_b.sql",
        "insert into lt values (1);\nalter table lt add column y int;\n",
    );
    let start = Instant::now();
    let up = ctx.run(&["up", "--json"]).expect(6);
    let took = start.elapsed();
    assert!(took < Duration::from_millis(2500), "took {took:?}:\n{up}");
    let doc = up.json();
    let f = &doc["error"]["failure"];
    assert_eq!(f["sqlstate"], "55P03", "{f}");
    let blocked_by = f["blocked_by"].to_string();
    assert!(
        blocked_by.contains(&format!("pid {pid} (blocker-test"))
            && blocked_by.contains("LOCK TABLE lt"),
        "the blocker's pid and query: {f}"
    );
    assert!(
        f["outcome"]
            .as_str()
            .unwrap_or_default()
            .contains("stays pending"),
        "{f}"
    );
    let text = ctx.run(&["status", "--json"]).expect(0).json();
    let e = text["migrations"]
        .as_array()
        .and_then(|a| a.iter().find(|m| m["version"] == "002"))
        .cloned()
        .unwrap_or_default();
    assert_eq!(e["state"], "pending", "{text}");
    let c = ctx.client().await;
    let retryable: i64 = one(
        &c,
        "SELECT count(*) FROM pgkeel.audit_log WHERE action = 'fail' AND version = '002' AND details->>'retryable' = 'true'",
    )
    .await;
    assert_eq!(retryable, 1, "the audit log keeps the failure");
    // The row-count warning names the tables it is about (never an empty path).
    for w in doc["warnings"].as_array().into_iter().flatten() {
        assert_ne!(w["path"], "", "{w}");
    }

    // A dry run (what plan_migration and apply_migration run first) names the blocker too.
    let dry = ctx.run(&["up", "--dry-run", "--json"]).expect(6).json();
    let f = &dry["error"]["failure"];
    assert!(
        f["blocked_by"]
            .to_string()
            .contains(&format!("pid {pid} (blocker-test")),
        "{dry}"
    );

    holder.batch_execute("ROLLBACK").await.unwrap();
    let up = ctx.run(&["up"]).expect(0);
    assert!(up.stderr.contains("applied 002"), "{up}");
    assert_eq!(one::<i64>(&c, "SELECT count(*) FROM lt").await, 1);
}

/// With `lock_retries = 3`, a lock released during the retries: `up` prints each retry and
/// succeeds.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lock_retries_outwait_a_lock_released_during_the_retries() {
    let ctx = Ctx::new().await;
    ctx.write(
        "pgkeel.toml",
        "[apply]\nlock_timeout = \"300ms\"\nlock_retries = 3\nlock_retry_backoff = \"300ms\"\n",
    );
    ctx.write("migrations/001_a.sql", "create table lt(id int);\n");
    ctx.run(&["up"]).expect(0);
    let holder = ctx.client().await;
    let pid = hold_lock(&holder).await;
    ctx.write("migrations/002_b.sql", "alter table lt add column y int;\n");
    let child = ctx.spawn(&["up"]);
    // First attempt 300 ms, wait 300 ms, second 300 ms, wait 600 ms …: released during them.
    tokio::time::sleep(Duration::from_millis(900)).await;
    holder.batch_execute("ROLLBACK").await.unwrap();
    let out = cli_support::Run::from_output(child.wait_with_output().expect("up ends"));
    assert_eq!(out.code, 0, "{out}");
    assert!(
        out.stderr.contains("lock timeout at statement 1 of 002")
            && out.stderr.contains("retry 1 of 3 in 300 ms")
            && out.stderr.contains(&format!("pid {pid} (blocker-test")),
        "each retry printed, with the blocker:\n{out}"
    );
    let c = ctx.client().await;
    assert_eq!(
        one::<i64>(&c, "SELECT count(*) FROM information_schema.columns WHERE table_name = 'lt' AND column_name = 'y'").await,
        1
    );
}

/// A statement timeout (57014) in a rolled-back segment changes nothing either: the migration
/// stays pending, and runs once the timeout allows it, without a repair.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn statement_timeout_leaves_the_migration_pending() {
    let ctx = Ctx::new().await;
    ctx.write("pgkeel.toml", "[apply]\nstatement_timeout = \"100ms\"\n");
    ctx.write(
        "migrations/001_slow.sql",
        "create table s(id int);\nselect pg_sleep(0.5);\n",
    );
    let up = ctx.run(&["up"]).expect(6);
    assert!(
        up.stderr.contains("error 57014")
            && up.stderr.contains("stays pending")
            && up.stderr.contains("[apply] statement_timeout"),
        "{up}"
    );
    assert!(!up.stderr.contains("--resolve-failed"), "{up}");
    let st = ctx.run(&["status", "--json"]).expect(0).json();
    assert_eq!(st["migrations"][0]["state"], "pending", "{st}");
    ctx.write("pgkeel.toml", "[apply]\nstatement_timeout = \"5s\"\n");
    ctx.run(&["up"]).expect(0);
    let c = ctx.client().await;
    assert!(one::<bool>(&c, "SELECT to_regclass('s') IS NOT NULL").await);
}
