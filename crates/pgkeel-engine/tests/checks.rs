//! The health checks on a real server: for each check a fixture that fails it (asserting the
//! exact findings), then the fix, after which the check finds nothing.

use pgkeel_engine::db::checks::{self, Scope, ALL};
use pgkeel_engine::validate::{Finding, Severity};
use pgkeel_engine::Error;
use pgkeel_testkit::TestDb;
use tokio_postgres::Client;

async fn setup(sql: &str) -> (TestDb, Client) {
    let t = TestDb::new().await;
    let c = t.client().await;
    c.batch_execute("CREATE SCHEMA app")
        .await
        .expect("create schema");
    if !sql.is_empty() {
        c.batch_execute(sql).await.expect("fixture");
    }
    (t, c)
}

fn app() -> Scope {
    Scope {
        schemas: vec!["app".into()],
        exposed_schemas: vec![],
    }
}

fn exposed_app() -> Scope {
    Scope {
        schemas: vec!["app".into()],
        exposed_schemas: vec!["app".into()],
    }
}

async fn check(c: &Client, id: &str, scope: &Scope) -> Vec<Finding> {
    checks::run(c, &[id], scope)
        .await
        .unwrap_or_else(|e| panic!("check {id}: {e}"))
}

/// (object, severity) of each finding, in order.
fn summary(findings: &[Finding]) -> Vec<(String, Severity)> {
    findings
        .iter()
        .map(|f| (f.object.clone(), f.severity))
        .collect()
}

fn s(v: &str) -> String {
    v.to_string()
}

#[tokio::test]
async fn missing_primary_key() {
    let (_t, c) = setup(
        "CREATE TABLE app.plain (a int);
         CREATE TABLE app.with_unique (a int NOT NULL, b text);
         CREATE UNIQUE INDEX with_unique_a ON app.with_unique (a);
         CREATE TABLE app.events (id int NOT NULL, at date NOT NULL) PARTITION BY RANGE (at);
         CREATE TABLE app.events_2024 PARTITION OF app.events
             FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');
         CREATE TABLE app.keyed (id int PRIMARY KEY);",
    )
    .await;
    let f = check(&c, "missing_primary_key", &app()).await;
    assert_eq!(
        summary(&f),
        vec![
            (s("app.events"), Severity::Warning),
            (s("app.plain"), Severity::Warning),
            (s("app.with_unique"), Severity::Warning),
        ]
    );
    assert_eq!(f[0].check, "missing_primary_key");
    assert_eq!(
        f[0].message,
        "partitioned table app.events has no primary key"
    );
    assert!(f[0].hint.contains("partition key"), "{}", f[0].hint);
    assert_eq!(f[1].message, "table app.plain has no primary key");
    assert!(f[1]
        .hint
        .contains("ALTER TABLE \"app\".\"plain\" ADD COLUMN id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY;"));
    assert_eq!(
        f[2].hint,
        "promote its unique index with_unique_a: ALTER TABLE \"app\".\"with_unique\" ADD CONSTRAINT \"with_unique_pkey\" PRIMARY KEY USING INDEX \"with_unique_a\";"
    );

    // The hint for app.with_unique runs as given.
    c.batch_execute(f[2].hint.split_once(": ").unwrap().1)
        .await
        .expect("the hint runs");
    c.batch_execute(
        "ALTER TABLE app.plain ADD COLUMN id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY;
         ALTER TABLE app.events ADD PRIMARY KEY (id, at);",
    )
    .await
    .unwrap();
    assert_eq!(check(&c, "missing_primary_key", &app()).await, vec![]);
}

#[tokio::test]
async fn fk_without_index() {
    let (_t, c) = setup(
        "CREATE TABLE app.parent (id int PRIMARY KEY, k int NOT NULL, UNIQUE (id, k));
         CREATE TABLE app.child (
             id int PRIMARY KEY,
             pid int CONSTRAINT child_pid_fk REFERENCES app.parent,
             p2 int, k int, note text,
             CONSTRAINT child_pair_fk FOREIGN KEY (p2, k) REFERENCES app.parent (id, k));
         -- any order within the leading columns covers the pair
         CREATE INDEX child_k_p2 ON app.child (k, p2, note);
         -- a partial index does not cover pid; nor does one where pid is not leading
         CREATE INDEX child_pid_partial ON app.child (pid) WHERE pid > 0;
         CREATE INDEX child_note_pid ON app.child (note, pid);",
    )
    .await;
    let f = check(&c, "fk_without_index", &app()).await;
    assert_eq!(
        summary(&f),
        vec![(s("app.child.child_pid_fk"), Severity::Warning)]
    );
    assert_eq!(
        f[0].message,
        "foreign key child_pid_fk on app.child (pid) → app.parent has no index whose leading columns are (pid): deleting or updating keys in app.parent scans app.child"
    );
    assert_eq!(
        f[0].hint,
        "CREATE INDEX CONCURRENTLY ON \"app\".\"child\" (\"pid\");"
    );
    c.batch_execute(&f[0].hint).await.expect("the hint runs");
    assert_eq!(check(&c, "fk_without_index", &app()).await, vec![]);
}

#[tokio::test]
async fn invalid_index() {
    let (_t, c) = setup("CREATE TABLE app.t (a int); INSERT INTO app.t VALUES (1), (1);").await;
    let failed = c
        .batch_execute("CREATE UNIQUE INDEX CONCURRENTLY t_a_key ON app.t (a)")
        .await;
    assert!(failed.is_err(), "the concurrent build fails on duplicates");
    let f = check(&c, "invalid_index", &app()).await;
    assert_eq!(summary(&f), vec![(s("app.t_a_key"), Severity::Error)]);
    assert!(f[0]
        .message
        .starts_with("index app.t_a_key on app.t is invalid"));
    assert_eq!(
        f[0].hint,
        "REINDEX INDEX CONCURRENTLY \"app\".\"t_a_key\"; or DROP INDEX CONCURRENTLY \"app\".\"t_a_key\"; then CREATE UNIQUE INDEX CONCURRENTLY t_a_key ON app.t USING btree (a);"
    );
    c.batch_execute("DELETE FROM app.t WHERE ctid <> (SELECT min(ctid) FROM app.t)")
        .await
        .unwrap();
    c.batch_execute("REINDEX INDEX CONCURRENTLY app.t_a_key")
        .await
        .unwrap();
    assert_eq!(check(&c, "invalid_index", &app()).await, vec![]);
}

#[tokio::test]
async fn not_valid_constraint() {
    let (_t, c) = setup(
        "CREATE TABLE app.items (qty int, price int);
         INSERT INTO app.items VALUES (-1, 1), (0, 1), (5, 1), (NULL, 1);
         ALTER TABLE app.items ADD CONSTRAINT qty_positive CHECK (qty > 0) NOT VALID;
         ALTER TABLE app.items ADD CONSTRAINT price_positive CHECK (price > 0) NOT VALID;
         CREATE TABLE app.parent (id int PRIMARY KEY, k int, UNIQUE (id, k));
         INSERT INTO app.parent VALUES (1, 1);
         CREATE TABLE app.child (pid int, k int);
         INSERT INTO app.child VALUES (1, 1), (2, 1), (NULL, 5), (1, NULL);
         ALTER TABLE app.child ADD CONSTRAINT child_pid_fk FOREIGN KEY (pid)
             REFERENCES app.parent NOT VALID;
         ALTER TABLE app.child ADD CONSTRAINT child_full_fk FOREIGN KEY (pid, k)
             REFERENCES app.parent (id, k) MATCH FULL NOT VALID;",
    )
    .await;
    let f = check(&c, "not_valid_constraint", &app()).await;
    assert_eq!(
        summary(&f),
        vec![
            (s("app.child.child_full_fk"), Severity::Error),
            (s("app.child.child_pid_fk"), Severity::Error),
            (s("app.items.price_positive"), Severity::Warning),
            (s("app.items.qty_positive"), Severity::Error),
        ]
    );
    // MATCH FULL: (2, 1) has no parent, (NULL, 5) and (1, NULL) are half null.
    assert_eq!(
        f[0].message,
        "foreign key child_full_fk (pid, k) → app.parent (id, k) on app.child is NOT VALID and 3 rows would violate it"
    );
    assert_eq!(
        f[1].message,
        "foreign key child_pid_fk (pid) → app.parent (id) on app.child is NOT VALID and 1 row would violate it"
    );
    assert!(f[1].hint.starts_with(
        "fix the 1 row (find them with: SELECT * FROM ONLY \"app\".\"child\" pgkeel_fk WHERE"
    ));
    assert!(f[1]
        .hint
        .ends_with("then ALTER TABLE \"app\".\"child\" VALIDATE CONSTRAINT \"child_pid_fk\";"));
    assert_eq!(
        f[2].message,
        "CHECK constraint price_positive (price > 0) on app.items is NOT VALID; no existing row violates it"
    );
    assert!(f[2]
        .hint
        .starts_with("ALTER TABLE \"app\".\"items\" VALIDATE CONSTRAINT \"price_positive\";"));
    assert_eq!(
        f[3].message,
        "CHECK constraint qty_positive (qty > 0) on app.items is NOT VALID and 2 rows would violate it"
    );
    assert!(f[3]
        .hint
        .contains("SELECT * FROM \"app\".\"items\" WHERE NOT (qty > 0);"));

    // The "find them" query of the hint returns exactly the counted rows.
    let select = f[1]
        .hint
        .split_once("find them with: ")
        .unwrap()
        .1
        .split_once(';')
        .unwrap()
        .0;
    assert_eq!(c.query(select, &[]).await.unwrap().len(), 1);

    c.batch_execute(
        "DELETE FROM app.items WHERE qty <= 0;
         DELETE FROM app.child WHERE pid = 2 OR (pid IS NULL) <> (k IS NULL);
         ALTER TABLE app.items VALIDATE CONSTRAINT qty_positive;
         ALTER TABLE app.items VALIDATE CONSTRAINT price_positive;
         ALTER TABLE app.child VALIDATE CONSTRAINT child_pid_fk;
         ALTER TABLE app.child VALIDATE CONSTRAINT child_full_fk;",
    )
    .await
    .unwrap();
    assert_eq!(check(&c, "not_valid_constraint", &app()).await, vec![]);
}

#[tokio::test]
async fn orphan_rows() {
    let (_t, c) = setup(
        "CREATE TABLE app.parent (id int PRIMARY KEY);
         INSERT INTO app.parent VALUES (1);
         CREATE TABLE app.child (pid int CONSTRAINT child_pid_fk REFERENCES app.parent, other int);
         INSERT INTO app.child VALUES (1, NULL);
         ALTER TABLE app.child DISABLE TRIGGER ALL;
         INSERT INTO app.child VALUES (2, NULL), (3, NULL), (NULL, NULL);",
    )
    .await;
    let f = check(&c, "orphan_rows", &app()).await;
    assert_eq!(
        summary(&f),
        vec![
            (s("app.child.child_pid_fk"), Severity::Error),
            (s("app.child.child_pid_fk"), Severity::Warning),
        ]
    );
    assert_eq!(
        f[0].message,
        "2 rows in app.child reference missing rows of app.parent under foreign key child_pid_fk on app.child (pid) → app.parent (id)"
    );
    assert!(f[0]
        .hint
        .ends_with("and ALTER TABLE \"app\".\"child\" ENABLE TRIGGER ALL;"));
    assert_eq!(
        f[1].message,
        "foreign key child_pid_fk on app.child (pid) → app.parent (id) is not enforced: its triggers on app.child are disabled"
    );

    // A NOT VALID key with disabled triggers is not_valid_constraint's business.
    c.batch_execute(
        "ALTER TABLE app.child ENABLE TRIGGER ALL;
         ALTER TABLE app.child ADD CONSTRAINT child_other_fk FOREIGN KEY (other)
             REFERENCES app.parent NOT VALID;
         DELETE FROM app.child WHERE pid > 1;
         ALTER TABLE app.child DISABLE TRIGGER ALL;
         INSERT INTO app.child VALUES (NULL, 7);",
    )
    .await
    .unwrap();
    let f = check(&c, "orphan_rows", &app()).await;
    assert_eq!(
        summary(&f),
        vec![(s("app.child.child_pid_fk"), Severity::Warning)]
    );

    c.batch_execute("ALTER TABLE app.child ENABLE TRIGGER ALL")
        .await
        .unwrap();
    assert_eq!(check(&c, "orphan_rows", &app()).await, vec![]);
}

#[tokio::test]
async fn orphan_rows_under_partitioned_tables_are_reported_once() {
    // A key to a partitioned table has a clone per partition; a key on a partitioned table has
    // one per partition of its own. Each is judged as the one key the user wrote.
    let (_t, c) = setup(
        "CREATE TABLE app.parent (id int PRIMARY KEY) PARTITION BY RANGE (id);
         CREATE TABLE app.parent_1 PARTITION OF app.parent FOR VALUES FROM (0) TO (10);
         CREATE TABLE app.parent_2 PARTITION OF app.parent FOR VALUES FROM (10) TO (20);
         INSERT INTO app.parent VALUES (1), (11);
         CREATE TABLE app.child (id int, pid int CONSTRAINT child_pid_fk REFERENCES app.parent)
             PARTITION BY RANGE (id);
         CREATE TABLE app.child_1 PARTITION OF app.child FOR VALUES FROM (0) TO (100);
         INSERT INTO app.child VALUES (1, 1), (2, 11);
         ALTER TABLE app.child_1 DISABLE TRIGGER ALL;
         ALTER TABLE app.parent_2 DISABLE TRIGGER ALL;
         INSERT INTO app.child VALUES (3, 5), (4, 15);
         DELETE FROM app.parent WHERE id = 11;",
    )
    .await;
    let f = check(&c, "orphan_rows", &app()).await;
    assert_eq!(
        summary(&f),
        vec![
            (s("app.child.child_pid_fk"), Severity::Error),
            (s("app.child.child_pid_fk"), Severity::Warning),
        ],
        "{f:#?}"
    );
    // (3, 5), (4, 15) skipped the check on insert; (2, 11) lost its parent on delete.
    assert!(f[0]
        .message
        .starts_with("3 rows in app.child reference missing rows of app.parent"));
    assert!(f[1]
        .message
        .ends_with("is not enforced: its triggers on app.child_1, app.parent_2 are disabled"));
    assert!(f[0].hint.ends_with(
        "ALTER TABLE \"app\".\"child_1\" ENABLE TRIGGER ALL; ALTER TABLE \"app\".\"parent_2\" ENABLE TRIGGER ALL;"
    ));
    c.batch_execute(
        "ALTER TABLE app.child_1 ENABLE TRIGGER ALL;
         ALTER TABLE app.parent_2 ENABLE TRIGGER ALL;
         DELETE FROM app.child WHERE id > 1;",
    )
    .await
    .unwrap();
    assert_eq!(check(&c, "orphan_rows", &app()).await, vec![]);
}

#[tokio::test]
async fn rls_disabled() {
    let (_t, c) = setup(
        "CREATE TABLE app.open (id int PRIMARY KEY);
         CREATE TABLE app.closed (id int PRIMARY KEY);
         ALTER TABLE app.closed ENABLE ROW LEVEL SECURITY;
         CREATE POLICY read ON app.closed FOR SELECT USING (true);
         CREATE SCHEMA private;
         CREATE TABLE private.secret (id int);",
    )
    .await;
    // Nothing is exposed: nothing to report.
    assert_eq!(check(&c, "rls_disabled", &app()).await, vec![]);
    let f = check(&c, "rls_disabled", &exposed_app()).await;
    assert_eq!(summary(&f), vec![(s("app.open"), Severity::Error)]);
    assert_eq!(
        f[0].message,
        "table app.open is in exposed schema app but row level security is disabled: clients with table privileges read and write every row"
    );
    assert!(f[0]
        .hint
        .starts_with("ALTER TABLE \"app\".\"open\" ENABLE ROW LEVEL SECURITY; then add a policy"));
    c.batch_execute("ALTER TABLE app.open ENABLE ROW LEVEL SECURITY")
        .await
        .unwrap();
    assert_eq!(check(&c, "rls_disabled", &exposed_app()).await, vec![]);
}

#[tokio::test]
async fn rls_without_policy() {
    let (_t, c) = setup(
        "CREATE TABLE app.locked (id int PRIMARY KEY);
         ALTER TABLE app.locked ENABLE ROW LEVEL SECURITY;
         CREATE TABLE app.plain (id int PRIMARY KEY);",
    )
    .await;
    let f = check(&c, "rls_without_policy", &app()).await;
    assert_eq!(summary(&f), vec![(s("app.locked"), Severity::Warning)]);
    assert!(f[0].message.contains("no policy"));
    assert!(f[0]
        .hint
        .starts_with("CREATE POLICY <name> ON \"app\".\"locked\" FOR SELECT"));
    c.batch_execute("CREATE POLICY owner_rows ON app.locked USING (true)")
        .await
        .unwrap();
    assert_eq!(check(&c, "rls_without_policy", &app()).await, vec![]);
}

#[tokio::test]
async fn security_definer_search_path() {
    let (_t, c) = setup(
        "CREATE TABLE app.t (id int);
         CREATE FUNCTION app.no_path() RETURNS int LANGUAGE sql SECURITY DEFINER AS 'SELECT 1';
         CREATE FUNCTION app.with_public(x integer) RETURNS int LANGUAGE sql SECURITY DEFINER
             SET search_path = public, pg_catalog AS 'SELECT x';
         CREATE FUNCTION app.temp_first() RETURNS int LANGUAGE sql SECURITY DEFINER
             SET search_path = pg_temp, app AS 'SELECT 1';
         CREATE FUNCTION app.safe() RETURNS int LANGUAGE sql SECURITY DEFINER
             SET search_path = '' AS 'SELECT 1';
         CREATE FUNCTION app.safe_temp_last() RETURNS int LANGUAGE sql SECURITY DEFINER
             SET search_path = pg_catalog, pg_temp AS 'SELECT 1';
         CREATE FUNCTION app.invoker() RETURNS int LANGUAGE sql AS 'SELECT 1';
         CREATE PROCEDURE app.proc(a text) LANGUAGE sql SECURITY DEFINER AS 'SELECT 1';
         CREATE VIEW app.owner_view AS SELECT * FROM app.t;
         CREATE VIEW app.invoker_view WITH (security_invoker = true) AS SELECT * FROM app.t;",
    )
    .await;
    let f = check(&c, "security_definer_search_path", &exposed_app()).await;
    assert_eq!(
        summary(&f),
        vec![
            (s("app.no_path()"), Severity::Error),
            (s("app.owner_view"), Severity::Warning),
            (s("app.proc(IN a text)"), Severity::Error),
            (s("app.temp_first()"), Severity::Error),
            (s("app.with_public(x integer)"), Severity::Error),
        ],
        "{f:#?}"
    );
    assert_eq!(
        f[0].message,
        "SECURITY DEFINER function app.no_path() has no fixed search_path: callers can make it run objects of their choosing with its owner's rights"
    );
    assert!(f[0]
        .hint
        .starts_with("ALTER FUNCTION \"app\".\"no_path\"() SET search_path = '';"));
    assert!(f[1].message.contains("bypasses the row level security"));
    assert_eq!(
        f[1].hint,
        "ALTER VIEW \"app\".\"owner_view\" SET (security_invoker = true);"
    );
    assert!(f[2]
        .hint
        .starts_with("ALTER PROCEDURE \"app\".\"proc\"(IN a text) SET search_path = '';"));
    assert!(f[3].message.contains("pg_temp before other schemas"));
    assert!(f[4].message.contains("includes public"));

    // Without exposed schemas, views are not judged.
    let f = check(&c, "security_definer_search_path", &app()).await;
    assert_eq!(f.len(), 4);

    // Every hint runs as given.
    for finding in check(&c, "security_definer_search_path", &exposed_app()).await {
        let statement = finding.hint.split_once(';').unwrap().0;
        c.batch_execute(statement).await.expect("the hint runs");
    }
    assert_eq!(
        check(&c, "security_definer_search_path", &exposed_app()).await,
        vec![]
    );
}

#[tokio::test]
async fn duplicate_index() {
    let (_t, c) = setup(
        "CREATE TABLE app.t (a int, b int CONSTRAINT t_b_key UNIQUE, c int);
         CREATE INDEX t_a_1 ON app.t (a);
         CREATE INDEX t_a_2 ON app.t (a);
         CREATE INDEX t_a_desc ON app.t (a DESC);
         CREATE INDEX t_a_partial ON app.t (a) WHERE c > 0;
         CREATE INDEX t_a_hash ON app.t USING hash (a);
         CREATE UNIQUE INDEX t_b_again ON app.t (b);
         CREATE INDEX t_b_plain ON app.t (b);",
    )
    .await;
    let f = check(&c, "duplicate_index", &app()).await;
    assert_eq!(
        summary(&f),
        vec![
            (s("app.t"), Severity::Warning),
            (s("app.t"), Severity::Warning)
        ]
    );
    assert_eq!(
        f[0].message,
        "table app.t has 2 identical indexes: t_a_1, t_a_2"
    );
    assert_eq!(
        f[0].hint,
        "keep t_a_1 and drop the others: DROP INDEX CONCURRENTLY \"app\".\"t_a_2\";"
    );
    assert_eq!(
        f[1].message,
        "table app.t has 2 identical indexes: t_b_again, t_b_key (constraint t_b_key)"
    );
    assert_eq!(
        f[1].hint,
        "keep t_b_key and drop the others: DROP INDEX CONCURRENTLY \"app\".\"t_b_again\";"
    );
    for finding in &f {
        c.batch_execute(finding.hint.split_once(": ").unwrap().1)
            .await
            .expect("the hint runs");
    }
    assert_eq!(check(&c, "duplicate_index", &app()).await, vec![]);
}

#[tokio::test]
async fn sequence_exhaustion() {
    let (_t, c) = setup(
        "CREATE TABLE app.t (id serial PRIMARY KEY);
         SELECT setval('app.t_id_seq', 2000000000);
         CREATE SEQUENCE app.small AS smallint;
         SELECT setval('app.small', 25000);
         CREATE TABLE app.ident (id int GENERATED ALWAYS AS IDENTITY);
         SELECT setval(pg_get_serial_sequence('app.ident', 'id'), 1000);
         CREATE SEQUENCE app.down INCREMENT BY -1 MINVALUE -100 MAXVALUE -1 START -1;
         SELECT setval('app.down', -80);
         CREATE SEQUENCE app.cycling AS smallint CYCLE;
         SELECT setval('app.cycling', 32000);
         CREATE SEQUENCE app.unused AS smallint;",
    )
    .await;
    let f = check(&c, "sequence_exhaustion", &app()).await;
    assert_eq!(
        summary(&f),
        vec![
            (s("app.down"), Severity::Warning),
            (s("app.small"), Severity::Warning),
            (s("app.t_id_seq"), Severity::Error),
        ]
    );
    assert_eq!(
        f[2].message,
        "sequence app.t_id_seq (feeds app.t.id, integer) has used 93.1% of its range: last value 2000000000 of limit 2147483647, 147483647 values left"
    );
    assert_eq!(
        f[2].hint,
        "ALTER TABLE \"app\".\"t\" ALTER COLUMN \"id\" TYPE bigint; (rewrites the table under an ACCESS EXCLUSIVE lock) ALTER SEQUENCE \"app\".\"t_id_seq\" AS bigint;"
    );
    assert!(
        f[1].message.contains("has used 76.3% of its range"),
        "{}",
        f[1].message
    );
    assert_eq!(f[1].hint, "ALTER SEQUENCE \"app\".\"small\" AS bigint;");
    assert!(
        f[0].message.contains("has used 79.8% of its range"),
        "{}",
        f[0].message
    );

    c.batch_execute(
        "ALTER TABLE app.t ALTER COLUMN id TYPE bigint;
         ALTER SEQUENCE app.t_id_seq AS bigint;
         ALTER SEQUENCE app.small AS bigint;
         ALTER SEQUENCE app.down NO MINVALUE;",
    )
    .await
    .unwrap();
    assert_eq!(check(&c, "sequence_exhaustion", &app()).await, vec![]);
}

#[tokio::test]
async fn extension_in_public() {
    let (_t, c) = setup("CREATE EXTENSION pg_trgm SCHEMA public;").await;
    let f = check(&c, "extension_in_public", &app()).await;
    assert_eq!(summary(&f), vec![(s("pg_trgm"), Severity::Warning)]);
    assert_eq!(
        f[0].message,
        "extension pg_trgm is installed in schema public"
    );
    assert!(f[0]
        .hint
        .starts_with("CREATE SCHEMA IF NOT EXISTS extensions; ALTER EXTENSION \"pg_trgm\" SET SCHEMA extensions;"));
    let statements: Vec<&str> = f[0].hint.split(';').take(2).collect();
    c.batch_execute(&statements.join(";"))
        .await
        .expect("the hint runs");
    assert_eq!(check(&c, "extension_in_public", &app()).await, vec![]);
}

#[tokio::test]
async fn all_checks_on_an_empty_database_find_nothing() {
    let t = TestDb::new().await;
    let c = t.client().await;
    let schemas = Scope::default_schemas(&c, &["pgkeel"]).await.unwrap();
    assert_eq!(schemas, vec![s("public")]);
    let scope = Scope {
        schemas,
        exposed_schemas: vec![s("public")],
    };
    let ids: Vec<&str> = ALL.iter().map(|c| c.id).collect();
    assert_eq!(checks::run(&c, &ids, &scope).await.unwrap(), vec![]);
}

#[tokio::test]
async fn default_schemas_leave_out_pgkeel_and_supabase_internals() {
    let (_t, c) = setup(
        "CREATE SCHEMA pgkeel; CREATE SCHEMA keel_history; CREATE SCHEMA pgkeel_backup;
         CREATE SCHEMA auth; CREATE SCHEMA storage; CREATE SCHEMA supabase_migrations;
         CREATE SCHEMA keel_backup; CREATE SCHEMA \"Mixed Case\";",
    )
    .await;
    // A configured backup schema is left out like the history schema.
    let schemas = Scope::default_schemas(&c, &["keel_history", "keel_backup"])
        .await
        .unwrap();
    assert_eq!(
        schemas,
        vec![s("Mixed Case"), s("app"), s("pgkeel"), s("public")]
    );
}

#[tokio::test]
async fn findings_come_in_check_order_and_ids_are_checked() {
    let (_t, c) = setup(
        "CREATE TABLE app.b (id int);
         CREATE TABLE app.a (id int);
         CREATE EXTENSION pg_trgm SCHEMA public;
         ALTER TABLE app.b ENABLE ROW LEVEL SECURITY;",
    )
    .await;
    // The order of the ids asked for does not matter, nor do repeats.
    let f = checks::run(
        &c,
        &[
            "extension_in_public",
            "rls_without_policy",
            "missing_primary_key",
            "missing_primary_key",
        ],
        &app(),
    )
    .await
    .unwrap();
    let got: Vec<(&str, &str)> = f
        .iter()
        .map(|f| (f.check.as_str(), f.object.as_str()))
        .collect();
    assert_eq!(
        got,
        vec![
            ("missing_primary_key", "app.a"),
            ("missing_primary_key", "app.b"),
            ("rls_without_policy", "app.b"),
            ("extension_in_public", "pg_trgm"),
        ]
    );

    let err = checks::run(&c, &["missing_primary_key", "no_such_check"], &app())
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Config(_)), "{err:?}");
    let text = err.to_string();
    assert!(text.contains("\"no_such_check\""), "{text}");
    assert!(
        text.contains("missing_primary_key, fk_without_index"),
        "{text}"
    );
    assert!(text.contains("extension_in_public"), "{text}");
}
