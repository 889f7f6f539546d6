//! No silent no-ops, end to end on the built binary and a real PostgreSQL server: migrations
//! without a statement are refused (and recorded only with `--allow-empty`), the `pgkeel new`
//! template is refused until it holds SQL, psql meta-commands are refused before anything runs,
//! `.SQL` names are warned about, and lint reports SQL it cannot parse as errors.

mod cli_support;
use cli_support::{run, Ctx};

use pgkeel_testkit::TestDb;

/// Versions recorded in history (none before the history schema exists).
async fn recorded(db: &TestDb) -> Vec<String> {
    db.client()
        .await
        .query(
            "SELECT version FROM pgkeel.migrations WHERE to_regclass('pgkeel.migrations') IS NOT NULL ORDER BY version",
            &[],
        )
        .await
        .map(|rows| rows.iter().map(|r| r.get(0)).collect())
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migrations_without_statements_are_refused_unless_allowed() {
    for (name, content) in [
        ("empty", ""),
        ("comments", "-- nothing yet\n/* still nothing */\n\n"),
        ("semicolons", ";;\n ; \n"),
    ] {
        let ctx = Ctx::new().await;
        ctx.write("migrations/001_first.sql", "create table a (id bigint);\n");
        let path = format!("migrations/002_{name}.sql");
        ctx.write(&path, content);
        for args in [&["up"][..], &["up", "--dry-run"]] {
            let r = ctx.run(args).expect(2);
            assert!(
                r.stderr
                    .contains(&format!("error: {path}: has no SQL statement")),
                "{name}: {r}"
            );
            assert!(r.stderr.contains("--allow-empty"), "{r}");
        }
        let j = ctx.run(&["--json", "up"]).expect(2).json();
        assert_eq!(j["error"]["code"], "empty_migration", "{j}");
        assert!(
            recorded(&ctx.db).await.is_empty(),
            "{name}: nothing recorded"
        );
        // Nothing of the run was applied either: the first migration is refused with it.
        let t: Option<String> = ctx
            .client()
            .await
            .query_one("SELECT to_regclass('a')::text", &[])
            .await
            .unwrap()
            .get(0);
        assert_eq!(t, None, "{name}");

        let r = ctx.run(&["up", "--allow-empty"]).expect(0);
        assert!(
            r.stderr.contains(&format!(
                "{path}: has no SQL statement; recorded as applied because of --allow-empty"
            )),
            "{name}: {r}"
        );
        assert_eq!(recorded(&ctx.db).await, ["001", "002"], "{name}");
        // Recorded once, it stays applied: a later `up` does not refuse it.
        ctx.run(&["up"]).expect(0);
        ctx.run(&["status", "--check"]).expect(0);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_new_template_is_refused_until_it_holds_sql() {
    let ctx = Ctx::new().await;
    let created = ctx.run(&["--json", "new", "add orders"]).expect(0).json();
    let path = created["result"]["path"].as_str().unwrap().to_string();
    let r = ctx.run(&["up"]).expect(2);
    assert!(
        r.stderr.contains(&format!(
            "error: {path}: still the empty template `pgkeel new` wrote"
        )) && r.stderr.contains("write the migration's SQL into it"),
        "{r}"
    );
    // --allow-empty does not record the template: that is the mistake it would hide.
    ctx.run(&["up", "--allow-empty"]).expect(2);
    assert!(recorded(&ctx.db).await.is_empty());

    let mut text = ctx.project.read(&path);
    text.push_str("create table orders (id bigint generated always as identity primary key);\n");
    ctx.write(&path, text);
    ctx.run(&["up"]).expect(0);
    let s = ctx.run(&["--json", "status", "--check"]).expect(0).json();
    assert_eq!(s["migrations"][0]["state"], "applied", "{s}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn psql_meta_commands_are_refused_with_their_line_and_alternative() {
    let cases = [
        (
            "\\i other.sql",
            "\\i",
            "split the included file into migrations",
        ),
        (
            "\\ir ./other.sql",
            "\\ir",
            "split the included file into migrations",
        ),
        ("\\set owner app", "\\set", "set_config"),
        (
            "\\connect other",
            "\\connect",
            "one migration folder per database",
        ),
        ("\\c other", "\\c", "one migration folder per database"),
        ("select 'create table x ()' \\gexec", "\\gexec", "DO block"),
    ];
    let ctx = Ctx::new().await;
    for (line, command, alternative) in cases {
        ctx.write(
            "migrations/001_meta.sql",
            format!("create table a (id bigint);\n{line}\nselect 1;\n"),
        );
        for args in [&["up"][..], &["up", "--dry-run"]] {
            let r = ctx.run(args).expect(2);
            assert!(
                r.stderr.contains("migrations/001_meta.sql:2:"),
                "{line}: {r}"
            );
            assert!(
                r.stderr
                    .contains(&format!("`{command}` on line 2 is a psql meta-command")),
                "{line}: {r}"
            );
            assert!(r.stderr.contains(alternative), "{line}: {r}");
        }
        let j = ctx.run(&["--json", "up"]).expect(2).json();
        assert_eq!(j["error"]["code"], "psql_meta_command", "{j}");
        let lint = ctx.run(&["--json", "lint"]).expect(3).json();
        let f = &lint["findings"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["rule"] == "psql-meta-command")
            .unwrap_or_else(|| panic!("{line}: {lint}"))
            .clone();
        assert_eq!(f["line"], 2, "{f}");
        assert!(f["message"].as_str().unwrap().contains(alternative), "{f}");
    }
    assert!(recorded(&ctx.db).await.is_empty());

    // A backslash inside a string, an escape string, a dollar-quoted body or a comment is SQL.
    ctx.write(
        "migrations/001_meta.sql",
        "create table paths (p text);\n\
         insert into paths values ('C:\\dir\\i'), (E'a\\\\nb');\n\
         -- \\set is only mentioned here\n\
         /* \\i neither\n\\connect here */\n\
         do $$ begin raise notice '\\gexec %', 1; end $$;\n\
         select $body$\n\\i inside a dollar-quoted string\n$body$;\n",
    );
    ctx.run(&["up"]).expect(0);
    assert_eq!(recorded(&ctx.db).await, ["001"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upper_case_sql_names_are_warned_about_in_status_up_and_lint() {
    let ctx = Ctx::new().await;
    ctx.write("migrations/001_a.sql", "create table a (id bigint);\n");
    ctx.write("migrations/002_b.SQL", "create table b (id bigint);\n");
    ctx.write("migrations/003_c.Sql", "create table c (id bigint);\n");
    let warning = |file: &str, renamed: &str| {
        format!("{file}: extension `{}` is not lower-case `.sql`, so this file is not read as a migration; rename it to {renamed}", &file[file.len() - 4..])
    };
    let want = [
        warning("migrations/002_b.SQL", "002_b.sql"),
        warning("migrations/003_c.Sql", "003_c.sql"),
    ];
    let status = ctx.run(&["status"]).expect(0);
    let up = ctx.run(&["up"]).expect(0);
    let lint = ctx.run(&["lint"]).expect(0);
    for (what, r) in [("status", &status), ("up", &up), ("lint", &lint)] {
        for w in &want {
            assert!(r.all().contains(w), "{what}: {r}");
        }
    }
    let j = ctx.run(&["--json", "lint"]).expect(0).json();
    assert_eq!(
        j["discovery_warnings"][0]["path"], "migrations/002_b.SQL",
        "{j}"
    );
    assert_eq!(
        recorded(&ctx.db).await,
        ["001"],
        "only the .sql file is read"
    );
}

#[test]
fn lint_reports_sql_that_does_not_parse_as_errors() {
    let p = pgkeel_testkit::Project::new();
    p.write("migrations/001_ok.sql", "create table t (id bigint);\n");
    p.write(
        "migrations/002_typo.sql",
        "-- a typo\ninsert into t valuez (1);\n",
    );
    p.write("migrations/003_meta.sql", "select 1;\n\\set x 1\n");
    let r = run(p.root(), &["lint"]).expect(3);
    assert!(
        r.stdout.contains(
            "migrations/002_typo.sql:2:14: error syntax-error: the SQL does not parse here"
        ),
        "{r}"
    );
    assert!(
        r.stdout
            .contains("migrations/003_meta.sql:2:1: error psql-meta-command: `\\set` on line 2"),
        "{r}"
    );
    assert!(r.stdout.contains("2 error(s)"), "{r}");
    assert!(!r.stdout.contains("0 error(s)"), "{r}");
    // Named files too, and JSON.
    let j = run(p.root(), &["--json", "lint", "migrations/002_typo.sql"])
        .expect(3)
        .json();
    assert_eq!(j["errors"], 1, "{j}");
    assert_eq!(j["findings"][0]["rule"], "syntax-error", "{j}");
    assert_eq!(j["findings"][0]["line"], 2, "{j}");
}
