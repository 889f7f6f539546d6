//! Generated down SQL and the rollback's verification on a real server: each migration below has
//! no down SQL; it is applied on tables with rows, rolled back from its snapshot, and the
//! database must come back with the same schema (`pg_dump --schema-only`, compared as text, so
//! the check does not rely on pgkeel's own snapshot) and the same rows (content hash), after
//! which `up` applies it again. Also: what cannot be undone is refused at plan time naming the
//! statement, and a rollback whose verification finds a difference changes nothing.

use pgkeel_engine::migrator::UpOptions;
use pgkeel_engine::rollback::{RollbackOptions, Selector};
use pgkeel_engine::{Error, Migrator};
use pgkeel_testkit::{Project, TestDb};

mod support;

fn migrator(project: &Project, db: &TestDb) -> Migrator {
    support::migrator_with(project, db, support::without_lint)
}

async fn up(m: &Migrator) {
    let r = m.up(&UpOptions::default()).await.expect("up");
    assert!(r.failure.is_none(), "{:?}", r.failure);
}

async fn up_to(m: &Migrator, v: &str) {
    let r = m
        .up(&UpOptions {
            to: Some(v.into()),
            ..UpOptions::default()
        })
        .await
        .expect("up");
    assert!(r.failure.is_none(), "{:?}", r.failure);
}

/// The application's schema as pg_dump prints it (the history and backup schemas excluded).
fn schema_dump(db: &TestDb) -> String {
    let out = std::process::Command::new("pg_dump")
        .args([
            "--schema-only",
            "--no-publications",
            "--schema=public",
            "--schema=app",
            &db.url,
        ])
        .output()
        .expect("pg_dump runs");
    assert!(
        out.status.success(),
        "pg_dump: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| {
            !l.starts_with("-- Dumped")
                && !l.starts_with("\\restrict")
                && !l.starts_with("\\unrestrict")
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Every table's row count and order-independent content hash, computed by the test itself.
async fn rows(db: &TestDb) -> Vec<(String, i64, String)> {
    let c = db.client().await;
    let tables: Vec<String> = c
        .query(
            "SELECT format('%I.%I', schemaname, tablename) FROM pg_tables WHERE schemaname IN ('public', 'app') ORDER BY 1",
            &[],
        )
        .await
        .expect("tables")
        .iter()
        .map(|r| r.get(0))
        .collect();
    let mut out = Vec::new();
    for t in tables {
        let r = c
            .query_one(
                &format!("SELECT count(*), md5(coalesce(string_agg(to_jsonb(x)::text, '|' ORDER BY to_jsonb(x)::text), '')) FROM {t} x"),
                &[],
            )
            .await
            .expect("rows");
        out.push((t, r.get(0), r.get(1)));
    }
    out
}

/// Plan the rollback of the last migration and run it with the plan's token.
async fn roll_back_last(m: &pgkeel_engine::Migrator) {
    let plan = m.rollback_plan(&Selector::Last(1)).await.expect("plan");
    m.rollback(&RollbackOptions {
        selector: Selector::Last(1),
        confirm_token: plan.token.clone(),
        force_expired: false,
    })
    .await
    .expect("rollback");
}

async fn state(db: &TestDb) -> (String, Vec<(String, i64, String)>) {
    (schema_dump(db), rows(db).await)
}

const BASE: &str = "
CREATE SCHEMA app;
CREATE TABLE app.contacts (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    email      text NOT NULL UNIQUE,
    full_name  text NOT NULL DEFAULT '',
    created_at timestamptz NOT NULL DEFAULT now(),
    score      int CHECK (score >= 0),
    notes      text
);
COMMENT ON TABLE app.contacts IS 'people we talk to';
COMMENT ON COLUMN app.contacts.notes IS 'free text';
CREATE INDEX contacts_created_idx ON app.contacts (created_at);
CREATE TABLE app.deals (
    id         serial PRIMARY KEY,
    contact_id bigint NOT NULL REFERENCES app.contacts (id),
    amount     numeric(12,2) NOT NULL,
    stage      text NOT NULL DEFAULT 'new',
    closed_on  timestamptz
);
CREATE VIEW app.open_deals WITH (security_invoker = true) AS
    SELECT d.id, d.amount, c.email FROM app.deals d JOIN app.contacts c ON c.id = d.contact_id WHERE d.closed_on IS NULL;
COMMENT ON VIEW app.open_deals IS 'deals not closed yet';
GRANT SELECT ON app.open_deals TO PUBLIC;
CREATE TYPE app.stage AS ENUM ('new', 'won', 'lost');
INSERT INTO app.contacts (email, full_name, created_at, score, notes) VALUES
    ('a@x.org', 'Ann', '2024-01-02 10:11:12.345678+00', 5, 'vip'),
    ('b@x.org', 'Bob', '2024-02-03 23:59:59.999+00', 0, NULL),
    ('c@x.org', 'Cy', '2024-03-04 00:00:01+00', NULL, 'x');
INSERT INTO app.deals (contact_id, amount, stage, closed_on) VALUES
    (1, 100.50, 'new', NULL), (2, 7.00, 'won', '2024-05-06 07:08:09.123+00'), (1, 12.34, 'lost', '2024-06-07 01:02:03+00');
";

/// Apply BASE then `sql` (002, no down SQL), roll 002 back from its generated down, check the
/// database is as before 002, then `up` again. Returns the generated down's text.
async fn round_trip(sql: &str) -> String {
    round_trip_on(BASE, sql).await
}

async fn round_trip_on(base: &str, sql: &str) -> String {
    let db = TestDb::new().await;
    let p = Project::new();
    p.write("migrations/001_base.sql", base);
    p.write("migrations/002_change.sql", sql);
    let m = migrator(&p, &db);
    up_to(&m, "001").await;
    let before = state(&db).await;
    up(&m).await;
    assert_ne!(
        state(&db).await,
        before,
        "002 changed nothing: the test proves nothing"
    );
    let plan = m.rollback_plan(&Selector::Last(1)).await.expect("plan");
    let t = &plan.plan.targets[0];
    assert!(t.down.is_none());
    let generated = t.generated.as_ref().expect("a generated down").text.clone();
    m.rollback(&RollbackOptions {
        selector: Selector::Last(1),
        confirm_token: plan.token.clone(),
        force_expired: false,
    })
    .await
    .unwrap_or_else(|e| panic!("rollback of\n{sql}\nwith\n{generated}\nfailed: {e}"));
    let after = state(&db).await;
    assert_eq!(
        after.0, before.0,
        "schema differs after the rollback; down:\n{generated}"
    );
    assert_eq!(
        after.1, before.1,
        "rows differ after the rollback; down:\n{generated}"
    );
    // Pending again, and `up` applies it cleanly.
    up(&m).await;
    let s: String = db
        .client()
        .await
        .query_one(
            "SELECT status FROM pgkeel.migrations WHERE version = '002'",
            &[],
        )
        .await
        .expect("history")
        .get(0);
    assert_eq!(s, "applied");
    generated
}

/// A table `t` in `app`, which the database's search_path (`public, app`) finds when nothing in
/// `public` has the name: a migration's unqualified `CREATE TABLE t` then creates `public.t`.
const SHADOWED: &str = "
CREATE SCHEMA app;
CREATE TABLE app.t (id int PRIMARY KEY, v text);
INSERT INTO app.t VALUES (1, 'kept');
DO $$ BEGIN EXECUTE format('ALTER DATABASE %I SET search_path = public, app', current_database()); END $$;
";

#[tokio::test]
async fn a_created_table_is_the_one_dropped_not_one_further_along_the_search_path() {
    // Every key created by the migration: the snapshot is recorded without a catalog read,
    // with `t` in the schema CREATE put it in.
    let g = round_trip_on(
        SHADOWED,
        "CREATE TABLE t (id int PRIMARY KEY, w text);\nINSERT INTO t VALUES (2, 'new');\n",
    )
    .await;
    assert!(g.contains("DROP TABLE \"public\".\"t\""), "{g}");
    assert!(!g.contains("\"app\".\"t\""), "{g}");
}

#[tokio::test]
async fn a_created_table_beside_a_changed_one_resolves_each_where_it_is() {
    // One key not created here (app.t): the snapshot reads the catalog, and `t` still resolves
    // to where CREATE puts it.
    let g = round_trip_on(
        SHADOWED,
        "CREATE TABLE t (id int PRIMARY KEY);\nINSERT INTO t VALUES (2);\nCOMMENT ON TABLE app.t IS 'touched';\n",
    )
    .await;
    assert!(g.contains("DROP TABLE \"public\".\"t\""), "{g}");
    assert!(g.contains("COMMENT ON TABLE \"app\".\"t\" IS NULL"), "{g}");
}

#[tokio::test]
async fn drop_column_comes_back_with_its_data() {
    let g = round_trip("ALTER TABLE app.contacts DROP COLUMN notes;\n").await;
    assert!(g.contains("ADD COLUMN \"notes\" text"), "{g}");
    assert!(g.contains("COMMENT ON COLUMN"), "{g}");
}

#[tokio::test]
async fn a_column_type_change_to_date_comes_back_with_the_timestamps() {
    let g = round_trip("ALTER TABLE app.contacts ALTER COLUMN created_at TYPE date;\n").await;
    assert!(g.contains("TYPE timestamp with time zone"), "{g}");
}

#[tokio::test]
async fn table_and_column_renames_are_renamed_back() {
    round_trip(
        "ALTER TABLE app.deals RENAME TO opportunities;\nALTER TABLE app.contacts RENAME COLUMN full_name TO display_name;\n",
    )
    .await;
}

#[tokio::test]
async fn dropped_and_created_views_keep_security_invoker() {
    let g = round_trip(
        "DROP VIEW app.open_deals;\n\
         CREATE VIEW app.won WITH (security_invoker = true) AS SELECT id, amount FROM app.deals WHERE stage = 'won';\n",
    )
    .await;
    assert!(g.contains("security_invoker"), "{g}");
    assert!(g.contains("DROP VIEW \"app\".\"won\""), "{g}");
    // A replaced view gets its definition and options back.
    round_trip(
        "CREATE OR REPLACE VIEW app.open_deals AS SELECT d.id, d.amount, c.email FROM app.deals d JOIN app.contacts c ON c.id = d.contact_id;\n\
         ALTER VIEW app.open_deals RESET (security_invoker);\n",
    )
    .await;
}

#[tokio::test]
async fn creates_grants_and_row_level_security_are_undone() {
    let g = round_trip(
        "CREATE TABLE app.tags (id int PRIMARY KEY, label text NOT NULL);\n\
         INSERT INTO app.tags VALUES (1, 'hot');\n\
         CREATE INDEX deals_stage_idx ON app.deals (stage);\n\
         CREATE FUNCTION app.deal_total(c bigint) RETURNS numeric LANGUAGE sql STABLE AS $$ SELECT sum(amount) FROM app.deals WHERE contact_id = c $$;\n\
         ALTER TABLE app.deals ENABLE ROW LEVEL SECURITY;\n\
         CREATE POLICY deals_mine ON app.deals FOR SELECT TO PUBLIC USING (stage <> 'lost');\n\
         GRANT SELECT, INSERT ON app.contacts TO PUBLIC;\n\
         REVOKE SELECT ON app.open_deals FROM PUBLIC;\n\
         ALTER TABLE app.contacts ADD COLUMN phone text DEFAULT '000';\n\
         COMMENT ON TABLE app.contacts IS 'changed';\n",
    )
    .await;
    for want in [
        "DROP TABLE \"app\".\"tags\"",
        "DROP INDEX \"app\".\"deals_stage_idx\"",
        "DROP FUNCTION \"app\".\"deal_total\"(c bigint)",
        "DROP POLICY \"deals_mine\"",
        "DISABLE ROW LEVEL SECURITY",
        "REVOKE ALL ON TABLE \"app\".\"contacts\" FROM PUBLIC",
        "GRANT SELECT ON TABLE \"app\".\"open_deals\" TO PUBLIC",
        "DROP COLUMN \"phone\"",
    ] {
        assert!(g.contains(want), "missing {want:?} in\n{g}");
    }
}

#[tokio::test]
async fn column_privileges_come_back_changed_and_with_a_dropped_column() {
    let base = format!(
        "{BASE}\nGRANT SELECT (email, full_name) ON app.contacts TO PUBLIC;\n\
         GRANT UPDATE (notes) ON app.contacts TO PUBLIC;\n"
    );
    let g = round_trip_on(
        &base,
        "REVOKE SELECT (email) ON app.contacts FROM PUBLIC;\n\
         GRANT INSERT (score) ON app.contacts TO PUBLIC;\n",
    )
    .await;
    for want in [
        "REVOKE ALL (\"email\") ON TABLE \"app\".\"contacts\" FROM PUBLIC",
        "GRANT SELECT (\"email\") ON TABLE \"app\".\"contacts\" TO PUBLIC",
        "REVOKE ALL (\"score\") ON TABLE \"app\".\"contacts\" FROM PUBLIC",
    ] {
        assert!(g.contains(want), "missing {want:?} in\n{g}");
    }
    // The last column dropped, with its privilege: re-added, refilled and granted again.
    let g = round_trip_on(&base, "ALTER TABLE app.contacts DROP COLUMN notes;\n").await;
    assert!(
        g.contains("GRANT UPDATE (\"notes\") ON TABLE \"app\".\"contacts\" TO PUBLIC"),
        "{g}"
    );
}

#[tokio::test]
async fn three_migrations_roll_back_together() {
    let db = TestDb::new().await;
    let p = Project::new();
    p.write("migrations/001_base.sql", BASE);
    p.write(
        "migrations/002_a.sql",
        "ALTER TABLE app.contacts DROP COLUMN notes;\n",
    );
    p.write(
        "migrations/003_b.sql",
        "ALTER TABLE app.contacts ADD COLUMN notes2 text;\nUPDATE app.contacts SET notes2 = 'n' || id;\n",
    );
    p.write(
        "migrations/004_c.sql",
        "ALTER TABLE app.contacts ALTER COLUMN created_at TYPE date;\nDELETE FROM app.deals WHERE stage = 'lost';\n",
    );
    let m = migrator(&p, &db);
    up_to(&m, "001").await;
    let before = state(&db).await;
    up(&m).await;
    let plan = m.rollback_plan(&Selector::Last(3)).await.expect("plan");
    assert!(plan.plan.targets.iter().all(|t| t.generated.is_some()));
    let r = m
        .rollback(&RollbackOptions {
            selector: Selector::Last(3),
            confirm_token: plan.token,
            force_expired: false,
        })
        .await
        .expect("rollback");
    assert_eq!(r.rolled_back, ["004", "003", "002"]);
    assert_eq!(state(&db).await, before);
    up(&m).await;
}

#[tokio::test]
async fn what_cannot_be_undone_is_refused_at_plan_time_by_line() {
    let db = TestDb::new().await;
    let p = Project::new();
    p.write("migrations/001_base.sql", BASE);
    p.write(
        "migrations/002_enum.sql",
        "ALTER TYPE app.stage ADD VALUE 'paused';\n",
    );
    p.write(
        "migrations/003_do.sql",
        "CREATE TABLE app.x (id int);\nDO $$ BEGIN EXECUTE 'CREATE TABLE app.y (id int)'; END $$;\n",
    );
    let m = migrator(&p, &db);
    up_to(&m, "002").await;
    // The value is then used: PostgreSQL cannot drop an enum value.
    db.client()
        .await
        .batch_execute(
            "CREATE TABLE app.uses (s app.stage); INSERT INTO app.uses VALUES ('paused');",
        )
        .await
        .expect("use the value");
    let e = m.rollback_plan(&Selector::Last(1)).await.unwrap_err();
    assert!(matches!(e, Error::Refused(_)), "{e}");
    let text = e.to_string();
    assert!(
        text.contains("002_enum has no down SQL and pgkeel cannot generate it"),
        "{text}"
    );
    assert!(
        text.contains("line 1: ALTER TYPE stage ADD VALUE: PostgreSQL cannot remove a value from an enum — the object existed before the migration"),
        "{text}"
    );
    assert!(
        text.contains("write a `-- pgkeel:down` section (or 002_enum.down.sql)"),
        "{text}"
    );
    up(&m).await;
    let e = m.rollback_plan(&Selector::Last(1)).await.unwrap_err();
    let text = e.to_string();
    assert!(text.contains("line 2: `DO` — a DO block"), "{text}");

    // An enum created by the same migration, with a value added, goes as a whole.
    let db2 = TestDb::new().await;
    let p2 = Project::new();
    p2.write("migrations/001_base.sql", BASE);
    p2.write(
        "migrations/002_enum.sql",
        "CREATE TYPE app.prio AS ENUM ('low');\nALTER TYPE app.prio ADD VALUE 'high';\n",
    );
    let m2 = migrator(&p2, &db2);
    up_to(&m2, "001").await;
    let before = state(&db2).await;
    up(&m2).await;
    let plan = m2.rollback_plan(&Selector::Last(1)).await.expect("plan");
    m2.rollback(&RollbackOptions {
        selector: Selector::Last(1),
        confirm_token: plan.token,
        force_expired: false,
    })
    .await
    .expect("rollback");
    assert_eq!(state(&db2).await, before);
}

#[tokio::test]
async fn a_failed_verification_undoes_the_rollback_and_names_each_difference() {
    let db = TestDb::new().await;
    let p = Project::new();
    p.write("migrations/001_base.sql", BASE);
    // The down SQL forgets to put the default back.
    p.write(
        "migrations/002_default.sql",
        "ALTER TABLE app.deals ALTER COLUMN stage SET DEFAULT 'open';\nUPDATE app.deals SET amount = amount * 2;\n\
         -- pgkeel:down\nALTER TABLE app.deals ALTER COLUMN stage SET DEFAULT 'draft';\n",
    );
    let m = migrator(&p, &db);
    up(&m).await;
    let before = state(&db).await;
    let history_before: Vec<(String, String)> = db
        .client()
        .await
        .query(
            "SELECT version, status FROM pgkeel.migrations ORDER BY 1",
            &[],
        )
        .await
        .expect("history")
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    let plan = m.rollback_plan(&Selector::Last(1)).await.expect("plan");
    let e = m
        .rollback(&RollbackOptions {
            selector: Selector::Last(1),
            confirm_token: plan.token,
            force_expired: false,
        })
        .await
        .unwrap_err();
    let Error::MigrationFailed(f) = &e else {
        panic!("{e}");
    };
    assert!(f.message.contains("verification failed"), "{}", f.message);
    assert!(
        f.message.contains("\"app\".\"deals\".\"stage\" default: before Some(\"'new'::text\"), after Some(\"'draft'::text\")"),
        "{}",
        f.message
    );
    assert!(f.outcome.contains("nothing changed"));
    // Byte for byte as before the rollback: schema, rows (the restore was undone too), history.
    assert_eq!(state(&db).await, before);
    let history_after: Vec<(String, String)> = db
        .client()
        .await
        .query(
            "SELECT version, status FROM pgkeel.migrations ORDER BY 1",
            &[],
        )
        .await
        .expect("history")
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    assert_eq!(history_after, history_before);
}

#[tokio::test]
async fn dropped_and_renamed_indexes_and_functions_come_back() {
    round_trip(
        "CREATE FUNCTION app.score_of(c bigint) RETURNS int LANGUAGE sql STABLE AS $$ SELECT score FROM app.contacts WHERE id = c $$;\n",
    )
    .await;
    let db = TestDb::new().await;
    let p = Project::new();
    p.write(
        "migrations/001_base.sql",
        format!("{BASE}\nCREATE FUNCTION app.f(a int) RETURNS int LANGUAGE sql IMMUTABLE AS 'SELECT a + 1';\nCOMMENT ON FUNCTION app.f(int) IS 'adds one';\nREVOKE EXECUTE ON FUNCTION app.f(int) FROM PUBLIC;\n"),
    );
    p.write(
        "migrations/002_change.sql",
        "ALTER INDEX app.contacts_created_idx RENAME TO contacts_when;\nDROP FUNCTION app.f(int);\n",
    );
    let m = migrator(&p, &db);
    up_to(&m, "001").await;
    let before = state(&db).await;
    up(&m).await;
    let plan = m.rollback_plan(&Selector::Last(1)).await.expect("plan");
    let g = plan.plan.targets[0]
        .generated
        .as_ref()
        .expect("generated")
        .text
        .clone();
    assert!(
        g.contains("CREATE OR REPLACE FUNCTION app.f(a integer)"),
        "{g}"
    );
    m.rollback(&RollbackOptions {
        selector: Selector::Last(1),
        confirm_token: plan.token,
        force_expired: false,
    })
    .await
    .unwrap_or_else(|e| panic!("{e}\n{g}"));
    assert_eq!(state(&db).await, before, "{g}");
    // Moving an object to another schema is refused: the snapshot would lose track of it.
    p.write(
        "migrations/003_move.sql",
        "ALTER TABLE app.deals SET SCHEMA public;\n",
    );
    up(&m).await;
    let e = m.rollback_plan(&Selector::Last(1)).await.unwrap_err();
    assert!(
        e.to_string().contains("line 1: `ALTER TABLE` — SET SCHEMA"),
        "{e}"
    );
}

#[tokio::test]
async fn a_dropped_table_is_created_again_with_its_rows_indexes_grants_and_comments() {
    let base = format!(
        "{BASE}\nCREATE TABLE app.audit (id bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY, what text NOT NULL, at timestamptz DEFAULT now(), CHECK (what <> ''));\n\
         CREATE INDEX audit_at ON app.audit (at);\nCOMMENT ON TABLE app.audit IS 'who did what';\nGRANT SELECT ON app.audit TO PUBLIC;\n\
         ALTER TABLE app.audit ENABLE ROW LEVEL SECURITY;\nCREATE POLICY audit_read ON app.audit FOR SELECT USING (what <> 'secret');\n\
         INSERT INTO app.audit (what, at) VALUES ('login', '2024-01-01 00:00:00+00'), ('logout', NULL);\n"
    );
    let g = round_trip_on(&base, "DROP TABLE app.audit;\n").await;
    assert!(g.contains("CREATE TABLE \"app\".\"audit\""), "{g}");
    // A table whose serial sequence went with it: the sequence comes back first, with its
    // value, and is owned by the column again (the round trip compares both).
    let g = round_trip_on(BASE, "DROP VIEW app.open_deals;\nDROP TABLE app.deals;\n").await;
    assert!(
        g.contains("CREATE SEQUENCE \"app\".\"deals_id_seq\""),
        "{g}"
    );
    assert!(
        g.contains("ALTER SEQUENCE \"app\".\"deals_id_seq\" OWNED BY \"app\".\"deals\".\"id\""),
        "{g}"
    );
}

#[tokio::test]
async fn a_dropped_serial_table_gets_its_sequence_back_where_it_was() {
    let db = TestDb::new().await;
    let p = Project::new();
    p.write("migrations/001_base.sql", BASE);
    p.write(
        "migrations/002_drop.sql",
        "DROP VIEW app.open_deals;\nDROP TABLE app.deals;\n",
    );
    let m = migrator(&p, &db);
    up(&m).await;
    roll_back_last(&m).await;
    let c = db.client().await;
    let last: i64 = c
        .query_one("SELECT last_value FROM app.deals_id_seq", &[])
        .await
        .expect("the sequence is back")
        .get(0);
    assert_eq!(last, 3, "its value as the migration found it");
    let next: i32 = c
        .query_one(
            "INSERT INTO app.deals (contact_id, amount) VALUES (1, 1) RETURNING id",
            &[],
        )
        .await
        .expect("the default works again")
        .get(0);
    assert_eq!(next, 4);
    let owner: String = c
        .query_one(
            "SELECT d.refobjid::regclass::text FROM pg_depend d WHERE d.objid = 'app.deals_id_seq'::regclass AND d.deptype = 'a'",
            &[],
        )
        .await
        .expect("owned")
        .get(0);
    assert_eq!(owner, "app.deals");
}

#[tokio::test]
async fn a_migration_that_deallocates_prepared_statements_does_not_break_the_next_snapshot() {
    let db = TestDb::new().await;
    let p = Project::new();
    p.write("migrations/001_base.sql", BASE);
    p.write("migrations/002_dealloc.sql", "DEALLOCATE ALL;\n");
    p.write("migrations/003_z.sql", "CREATE TABLE app.z (id int);\n");
    let m = migrator(&p, &db);
    up(&m).await;
    let versions: Vec<String> = db
        .client()
        .await
        .query("SELECT version FROM pgkeel.snapshots ORDER BY 1", &[])
        .await
        .expect("snapshots")
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(versions, ["001", "002", "003"]);
    let plan = m.rollback_plan(&Selector::Last(1)).await.expect("plan");
    assert!(plan.plan.targets[0].generated.is_some());
}

const OBJECTS: &str = "
CREATE SCHEMA app;
CREATE TABLE app.contacts (id int PRIMARY KEY, email text NOT NULL, score int NOT NULL DEFAULT 0);
INSERT INTO app.contacts VALUES (1, 'a@x.org', 5), (2, 'b@x.org', 7), (3, 'c@y.org', 1);
CREATE MATERIALIZED VIEW app.scores AS SELECT split_part(email, '@', 2) AS domain, sum(score) AS total FROM app.contacts GROUP BY 1;
CREATE UNIQUE INDEX scores_domain ON app.scores (domain);
COMMENT ON MATERIALIZED VIEW app.scores IS 'score per mail domain';
CREATE MATERIALIZED VIEW app.later AS SELECT id FROM app.contacts WITH NO DATA;
CREATE SEQUENCE app.invoice_no AS integer START 1000 INCREMENT 5 CACHE 1;
SELECT nextval('app.invoice_no'), nextval('app.invoice_no');
CREATE SEQUENCE app.unused;
GRANT USAGE ON SEQUENCE app.invoice_no TO PUBLIC;
CREATE DOMAIN app.email AS text COLLATE \"C\" DEFAULT 'nobody@x.org' NOT NULL CONSTRAINT has_at CHECK (VALUE LIKE '%@%');
COMMENT ON DOMAIN app.email IS 'an address';
CREATE TYPE app.pair AS (a int, b text COLLATE \"C\");
";

#[tokio::test]
async fn dropped_sequences_materialized_views_domains_and_composite_types_come_back() {
    let g = round_trip_on(
        OBJECTS,
        "DROP MATERIALIZED VIEW app.scores;\nDROP MATERIALIZED VIEW app.later;\nDROP SEQUENCE app.invoice_no;\nDROP SEQUENCE app.unused;\nDROP DOMAIN app.email;\nDROP TYPE app.pair;\n",
    )
    .await;
    // The sequence continues where it was (1000, 1005 were taken), not at its start.
    assert!(g.contains("\"app\".\"invoice_no\"', 1005, true)"), "{g}");
    assert!(g.contains("CREATE SEQUENCE \"app\".\"unused\""), "{g}");
    assert!(g.contains("WITH NO DATA"), "{g}");
    assert!(g.contains("CREATE DOMAIN \"app\".\"email\""), "{g}");
    assert!(g.contains("CREATE TYPE \"app\".\"pair\" AS ("), "{g}");
}

#[tokio::test]
async fn a_recreated_materialized_view_has_its_rows_and_a_sequence_its_value() {
    let db = TestDb::new().await;
    let p = Project::new();
    p.write("migrations/001_base.sql", OBJECTS);
    p.write(
        "migrations/002_drop.sql",
        "DROP MATERIALIZED VIEW app.scores;\nDROP SEQUENCE app.invoice_no;\n",
    );
    let m = migrator(&p, &db);
    up(&m).await;
    roll_back_last(&m).await;
    let c = db.client().await;
    let rows: Vec<(String, i64)> = c
        .query("SELECT domain, total FROM app.scores ORDER BY 1", &[])
        .await
        .expect("matview readable")
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    assert_eq!(rows, [("x.org".to_string(), 12), ("y.org".to_string(), 1)]);
    let next: i64 = c
        .query_one("SELECT nextval('app.invoice_no')", &[])
        .await
        .expect("sequence")
        .get(0);
    assert_eq!(next, 1010);
}

#[tokio::test]
async fn domain_changes_and_created_domains_are_undone() {
    round_trip_on(
        OBJECTS,
        "ALTER DOMAIN app.email DROP DEFAULT;\nALTER DOMAIN app.email DROP CONSTRAINT has_at;\nALTER DOMAIN app.email DROP NOT NULL;\nCREATE DOMAIN app.score AS int CHECK (VALUE >= 0);\n",
    )
    .await;
    round_trip_on(
        OBJECTS,
        "ALTER DOMAIN app.email ADD CONSTRAINT has_dot CHECK (VALUE LIKE '%.%');\nALTER DOMAIN app.email SET DEFAULT 'x@y.org';\n",
    )
    .await;
}
