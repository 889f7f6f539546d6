//! `pgkeel backups list|prune` and the backup lines of `pgkeel up`, end to end on a real server.

mod cli_support;
use cli_support::Ctx;

use pgkeel_testkit::Project;

/// Lint refuses DROP TABLE and friends by default; these tests are about backups.
const BASE_TOML: &str = "[lint]\nenabled = false\n[validate]\non_up = \"off\"\n";

/// A project with `BASE_TOML` + `extra_toml` and one migration (tables `t` and `u`), and a
/// database.
async fn new_ctx(extra_toml: &str) -> Ctx {
    let project = Project::new();
    project.write("pgkeel.toml", format!("{BASE_TOML}{extra_toml}"));
    project.write(
        "migrations/001_t.sql",
        "CREATE TABLE t (id int PRIMARY KEY, v text);\nINSERT INTO t SELECT g, 'v' || g FROM generate_series(1, 3) g;\n\
         CREATE TABLE u (id int);\nINSERT INTO u VALUES (1), (2);",
    );
    Ctx::with_project(project).await
}

impl Ctx {
    async fn execute(&self, sql: &str) {
        self.db
            .client()
            .await
            .batch_execute(sql)
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
    }

    async fn count(&self, sql: &str) -> i64 {
        self.db
            .client()
            .await
            .query_one(sql, &[])
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"))
            .get(0)
    }
}

#[tokio::test]
async fn up_prints_a_line_per_backup_and_list_shows_it_in_text_and_json() {
    let cx = new_ctx("").await;
    cx.run(&["up"]).expect(0);
    cx.project
        .write("migrations/002_wipe.sql", "DELETE FROM t;\nDROP TABLE u;");
    let up = cx.run(&["up"]).expect(0);
    let lines: Vec<&str> = up
        .stdout
        .lines()
        .filter(|l| l.starts_with("backup "))
        .collect();
    assert_eq!(lines.len(), 2, "{}", up.stdout);
    assert!(lines[0].contains("public.t (3 rows") && lines[0].contains("before 002"));
    assert!(lines[1].contains("public.u (2 rows"));

    let list = cx.run(&["backups", "list"]).expect(0);
    let header = list.stdout.lines().next().unwrap_or_default();
    for col in [
        "ID", "VERSION", "TABLE", "ROWS", "SIZE", "AGE", "EXPIRES", "STATUS",
    ] {
        assert!(header.contains(col), "{}", list.stdout);
    }
    assert!(list.stdout.contains("public.t") && list.stdout.contains("in 1d 23h"));
    assert!(list.stdout.contains("DROP TABLE"));

    let doc = cx.run(&["--json", "backups", "list"]).expect(0).json();
    assert_eq!(doc["command"], "backups list");
    assert_eq!(doc["ok"], true);
    let backups = doc["result"]["backups"].as_array().expect("backups");
    assert_eq!(backups.len(), 2);
    let t = backups
        .iter()
        .find(|b| b["source_table"] == "t")
        .expect("t");
    assert_eq!(t["row_count"], 3);
    assert_eq!(t["expired"], false);
    assert_eq!(t["version"], "002");
    assert_eq!(t["status"], "kept");

    // The JSON of `up` carries the backups too.
    cx.project
        .write("migrations/003_more.sql", "UPDATE t SET v = 'x';");
    let up = cx.run(&["up"]).expect(0);
    assert!(up.stdout.contains("public.t (0 rows"), "{}", up.stdout);
    assert!(
        !up.stderr.contains("skipping"),
        "no catalog notices: {}",
        up.stderr
    );
    cx.project
        .write("migrations/004_more.sql", "UPDATE t SET v = 'y';");
    let doc = cx.run(&["--json", "up"]).expect(0).json();
    assert_eq!(doc["applied"][0]["backups"][0]["table"], "public.t");
    assert_eq!(doc["applied"][0]["backups"][0]["rows"], 0);
}

#[tokio::test]
async fn prune_drops_only_expired_backups_by_default_then_by_id_and_all() {
    let cx = new_ctx("[backup]\nwindow = \"1h\"\n").await;
    cx.project
        .write("migrations/002_wipe.sql", "DELETE FROM t;\nDELETE FROM u;");
    cx.run(&["up"]).expect(0);
    let doc = cx.run(&["--json", "backups", "list"]).expect(0).json();
    let ids: Vec<i64> = doc["result"]["backups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["id"].as_i64().unwrap())
        .collect();
    assert_eq!(ids.len(), 2);
    let list = cx.run(&["backups", "list"]).expect(0);
    assert!(
        list.stdout.contains("in 59m") || list.stdout.contains("in 1h"),
        "{}",
        list.stdout
    );

    let nothing = cx.run(&["backups", "prune"]).expect(0);
    assert!(
        nothing.stdout.contains("nothing to prune"),
        "{}",
        nothing.stdout
    );

    cx.execute(&format!(
        "UPDATE pgkeel_backup.backups SET expires_at = now() - interval '2 hours' WHERE id = {}",
        ids[1]
    ))
    .await;
    let list = cx.run(&["backups", "list"]).expect(0);
    assert!(list.stdout.contains("expired 2h"), "{}", list.stdout);
    assert!(list.stdout.contains("1 expired"), "{}", list.stdout);

    let dry = cx
        .run(&["--json", "backups", "prune", "--dry-run"])
        .expect(0)
        .json();
    assert_eq!(dry["command"], "backups prune --dry-run");
    assert_eq!(dry["result"]["pruned"][0]["id"], ids[1]);
    assert_eq!(
        cx.count("SELECT count(*) FROM pgkeel_backup.backups WHERE status = 'kept'")
            .await,
        2
    );

    let pruned = cx.run(&["backups", "prune"]).expect(0);
    assert!(
        pruned.stdout.starts_with("pruned 1 backup(s)"),
        "{}",
        pruned.stdout
    );
    assert_eq!(
        cx.count("SELECT count(*) FROM pgkeel_backup.backups WHERE status = 'kept'")
            .await,
        1
    );
    let all = cx.run(&["backups", "list", "--all"]).expect(0);
    assert!(all.stdout.contains("pruned"), "{}", all.stdout);

    // By id; an unknown or already pruned id is refused (exit 4).
    let again = cx
        .run(&["backups", "prune", "--id", &ids[1].to_string()])
        .expect(4);
    assert!(
        again
            .stderr
            .contains(&format!("no backup with id {}", ids[1])),
        "{}",
        again.stderr
    );
    cx.run(&["backups", "prune", "--id", &ids[0].to_string()])
        .expect(0);
    assert_eq!(
        cx.count("SELECT count(*) FROM pgkeel_backup.backups WHERE status = 'kept'")
            .await,
        0
    );
    let empty = cx.run(&["backups", "prune", "--all"]).expect(0);
    assert!(empty.stdout.contains("nothing to prune"));
    assert_eq!(
        cx.count("SELECT count(*) FROM pgkeel.audit_log WHERE action = 'backup_prune'")
            .await,
        2
    );
}

#[tokio::test]
async fn up_refuses_backups_over_the_limit_and_the_flag_overrides_it() {
    let cx = new_ctx("[backup]\nmax_backup_bytes = 1\n").await;
    cx.run(&["up"]).expect(0);
    cx.project.write("migrations/002_wipe.sql", "TRUNCATE t;");
    let refused = cx.run(&["up"]).expect(4);
    for needle in [
        "public.t",
        "--max-backup-bytes",
        "1 B",
        "nothing was applied",
    ] {
        assert!(
            refused.stderr.contains(needle),
            "{needle}: {}",
            refused.stderr
        );
    }
    assert_eq!(cx.count("SELECT count(*) FROM t").await, 3);
    let doc = cx.run(&["--json", "up"]).expect(4).json();
    assert_eq!(doc["error"]["code"], "refused");

    let dry = cx
        .run(&["up", "--dry-run", "--max-backup-bytes", "1GiB"])
        .expect(0);
    assert!(
        dry.stdout.contains("would back up public.t") && dry.stdout.contains("TRUNCATE"),
        "{}",
        dry.stdout
    );
    assert_eq!(cx.count("SELECT count(*) FROM t").await, 3);

    cx.run(&["up", "--max-backup-bytes", "1GiB"]).expect(0);
    assert_eq!(cx.count("SELECT count(*) FROM t").await, 0);
    assert_eq!(
        cx.count("SELECT row_count FROM pgkeel_backup.backups")
            .await,
        3
    );
}

#[tokio::test]
async fn bad_usage_exits_2() {
    let cx = new_ctx("").await;
    cx.run(&["backups", "prune", "--all", "--id", "3"])
        .expect(2);
    cx.run(&["up", "--max-backup-bytes", "lots"]).expect(2);
    cx.run(&["backups"]).expect(2);
    // A bad [backup] setting is a configuration error naming the place.
    cx.project.write(
        "pgkeel.toml",
        format!("{BASE_TOML}[backup]\nwindow = \"soon\"\n"),
    );
    let bad = cx.run(&["backups", "list"]).expect(2);
    assert!(
        bad.stderr.contains("pgkeel.toml:") && bad.stderr.contains("window"),
        "{}",
        bad.stderr
    );
    // Listing without any backup taken yet: empty, and creates nothing.
    cx.project.write("pgkeel.toml", BASE_TOML);
    let empty = cx.run(&["backups", "list"]).expect(0);
    assert!(empty.stdout.contains("no kept backups"), "{}", empty.stdout);
    assert_eq!(
        cx.count("SELECT count(*) FROM pg_namespace WHERE nspname = 'pgkeel_backup'")
            .await,
        0
    );
}
