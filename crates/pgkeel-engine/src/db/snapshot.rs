//! The SQL of rollback snapshots: the catalog query that records a migration's objects, how it is
//! written inside the migration's transaction (history format 3, `<history>.snapshots`), and
//! how a rollback reads the stored snapshots and the current state.
//!
//! Definitions are printed with `search_path = pg_catalog`, so every name in them is
//! schema-qualified and the text is the same whoever reads it. The keys (the names a
//! migration's statements use) are resolved first, with the session's own `search_path`, to the
//! schema they mean.

use tokio_postgres::{GenericClient, SimpleQueryMessage, Transaction};

use super::{ident, literal};
use crate::error::{Error, MigrationFailure, Result};
use crate::rollback::plan::Target;
use crate::snapshot::{Key, Snapshot};

/// The keys as a jsonb literal; those in `created` carry `"created": true` (see
/// [`crate::snapshot::objects::Analysis::created`]).
fn keys_literal(keys: &[Key], created: &[Key]) -> String {
    #[derive(serde::Serialize)]
    struct Row<'a> {
        #[serde(flatten)]
        key: &'a Key,
        #[serde(skip_serializing_if = "std::ops::Not::not")]
        created: bool,
    }
    let rows: Vec<Row<'_>> = keys
        .iter()
        .map(|key| Row {
            key,
            created: created.contains(key),
        })
        .collect();
    // Plain strings and booleans; serialising them cannot fail.
    format!(
        "{}::jsonb",
        literal(&serde_json::to_string(&rows).unwrap_or_else(|_| "[]".into()))
    )
}

/// An expression giving the resolved keys (jsonb) of the keys in the jsonb expression `keys`,
/// under the session's search_path. A key created by the migration is not looked up: an
/// unqualified one is where `CREATE` puts it, the current schema.
fn resolve_sql_of(keys: &str) -> String {
    format!(
        "SELECT coalesce(jsonb_agg(DISTINCT jsonb_build_object('kind', k.kind, 'schema', k.schema, 'name', k.name)), '[]'::jsonb) FROM (\
         SELECT r.kind, r.name, coalesce(r.schema, CASE WHEN r.created IS NOT TRUE THEN CASE r.kind \
           WHEN 'rel' THEN (SELECT n.nspname FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = pg_catalog.to_regclass(pg_catalog.quote_ident(r.name))) \
           WHEN 'type' THEN (SELECT n.nspname FROM pg_catalog.pg_type t JOIN pg_catalog.pg_namespace n ON n.oid = t.typnamespace WHERE t.oid = pg_catalog.to_regtype(pg_catalog.quote_ident(r.name))) \
           WHEN 'func' THEN (SELECT s.nspname FROM unnest(pg_catalog.current_schemas(false)) WITH ORDINALITY AS s(nspname, ord) \
             WHERE EXISTS (SELECT 1 FROM pg_catalog.pg_proc p JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = s.nspname AND p.proname = r.name) ORDER BY s.ord LIMIT 1) \
           END END, pg_catalog.current_schema()) AS schema \
         FROM jsonb_to_recordset({keys}) AS r(kind text, schema text, name text, created boolean)) k WHERE k.schema IS NOT NULL"
    )
}

/// The snapshot (jsonb) of resolved keys given by the jsonb expression `keys`. Run with
/// `search_path = pg_catalog`.
fn snapshot_sql(keys: &str) -> String {
    let acl = |col: &str, kind: &str, owner: &str| {
        format!("(SELECT coalesce(jsonb_agg(a::text ORDER BY a::text), '[]'::jsonb) FROM unnest(coalesce({col}, acldefault({kind}, {owner}))) a)")
    };
    format!(
        r#"WITH k AS (SELECT * FROM jsonb_to_recordset({keys}) AS k(kind text, schema text, name text)),
named AS (
  SELECT DISTINCT coalesce(i.indrelid, c.oid) AS oid
  FROM k JOIN pg_namespace n ON n.nspname = k.schema JOIN pg_class c ON c.relnamespace = n.oid AND c.relname = k.name
  LEFT JOIN pg_index i ON i.indexrelid = c.oid
  WHERE k.kind = 'rel' AND c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f', 'i', 'I')
),
-- The named relations and the views and materialized views that depend on them (one level).
rel AS (
  SELECT oid FROM named
  UNION
  SELECT w.ev_class FROM named JOIN pg_depend d ON d.refclassid = 'pg_class'::regclass AND d.refobjid = named.oid
  JOIN pg_rewrite w ON d.classid = 'pg_rewrite'::regclass AND w.oid = d.objid
  WHERE w.ev_class <> named.oid
  UNION
  -- The sequences a named table's serial columns own (deptype 'a'; an identity's is internal):
  -- a DROP TABLE drops them with it, and a rollback re-creates them with their value.
  SELECT d.objid FROM named JOIN pg_depend d ON d.classid = 'pg_class'::regclass
    AND d.refclassid = 'pg_class'::regclass AND d.refobjid = named.oid AND d.deptype = 'a'
  JOIN pg_class sq ON sq.oid = d.objid AND sq.relkind = 'S'
),
rels AS (
  SELECT jsonb_strip_nulls(jsonb_build_object(
    'oid', c.oid::bigint, 'schema', n.nspname, 'name', c.relname, 'kind', c.relkind,
    'owner', pg_get_userbyid(c.relowner),
    'options', CASE WHEN c.reloptions IS NOT NULL THEN to_jsonb(c.reloptions) END,
    'rls', c.relrowsecurity, 'force_rls', c.relforcerowsecurity,
    'acl', {relacl},
    'comment', obj_description(c.oid, 'pg_class'),
    'view', CASE WHEN c.relkind IN ('v', 'm') THEN pg_get_viewdef(c.oid) END,
    'columns', (SELECT jsonb_agg(jsonb_strip_nulls(jsonb_build_object(
        'num', a.attnum, 'name', a.attname, 'type', format_type(a.atttypid, a.atttypmod),
        'not_null', a.attnotnull, 'default', pg_get_expr(d.adbin, d.adrelid),
        'identity', nullif(a.attidentity, ''), 'generated', nullif(a.attgenerated, ''),
        'collation', CASE WHEN a.attcollation <> t.typcollation THEN a.attcollation::regcollation::text END,
        'comment', col_description(c.oid, a.attnum),
        'acl', CASE WHEN a.attacl IS NOT NULL THEN (SELECT jsonb_agg(x::text ORDER BY x::text) FROM unnest(a.attacl) x) END
      )) ORDER BY a.attnum)
      FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid
      LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
      WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped AND c.relkind <> 'S'),
    'constraints', (SELECT jsonb_agg(jsonb_build_object('name', x.conname, 'type', x.contype, 'def', pg_get_constraintdef(x.oid)) ORDER BY x.conname)
      FROM pg_constraint x WHERE x.conrelid = c.oid),
    'indexes', (SELECT jsonb_agg(jsonb_build_object('name', ic.relname, 'def', pg_get_indexdef(i.indexrelid)) ORDER BY ic.relname)
      FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid
      WHERE i.indrelid = c.oid AND NOT EXISTS (SELECT 1 FROM pg_constraint x WHERE x.conindid = i.indexrelid AND x.conrelid = c.oid)),
    'triggers', (SELECT jsonb_agg(jsonb_build_object('name', g.tgname, 'def', pg_get_triggerdef(g.oid), 'enabled', g.tgenabled::text) ORDER BY g.tgname)
      FROM pg_trigger g WHERE g.tgrelid = c.oid AND NOT g.tgisinternal),
    'policies', (SELECT jsonb_agg(jsonb_strip_nulls(jsonb_build_object('name', p.polname, 'permissive', p.polpermissive, 'cmd', p.polcmd::text,
        'roles', (SELECT jsonb_agg(CASE WHEN r = 0 THEN 'public' ELSE quote_ident(pg_get_userbyid(r)) END ORDER BY 1) FROM unnest(p.polroles) r),
        'using', pg_get_expr(p.polqual, p.polrelid), 'check', pg_get_expr(p.polwithcheck, p.polrelid))) ORDER BY p.polname)
      FROM pg_policy p WHERE p.polrelid = c.oid),
    'sequence', (SELECT jsonb_build_object('type', format_type(s.seqtypid, NULL), 'start', s.seqstart::text, 'increment', s.seqincrement::text,
        'min', s.seqmin::text, 'max', s.seqmax::text, 'cache', s.seqcache::text, 'cycle', s.seqcycle) FROM pg_sequence s WHERE s.seqrelid = c.oid),
    'seq_value', CASE WHEN c.relkind = 'S' THEN CASE WHEN has_sequence_privilege(c.oid, 'SELECT, USAGE')
        THEN coalesce(pg_sequence_last_value(c.oid)::text, 'uncalled') ELSE 'unreadable' END END,
    'unpopulated', CASE WHEN c.relkind = 'm' AND NOT c.relispopulated THEN true END,
    'owned_by', CASE WHEN c.relkind = 'S' THEN (SELECT jsonb_build_object('schema', tn.nspname, 'table', tc.relname, 'column', ta.attname)
        FROM pg_depend od JOIN pg_class tc ON tc.oid = od.refobjid JOIN pg_namespace tn ON tn.oid = tc.relnamespace
        JOIN pg_attribute ta ON ta.attrelid = od.refobjid AND ta.attnum = od.refobjsubid
        WHERE od.classid = 'pg_class'::regclass AND od.objid = c.oid AND od.refclassid = 'pg_class'::regclass
          AND od.deptype = 'a' LIMIT 1) END
  )) AS j
  FROM rel JOIN pg_class c ON c.oid = rel.oid JOIN pg_namespace n ON n.oid = c.relnamespace
),
fns AS (
  SELECT jsonb_strip_nulls(jsonb_build_object(
    'oid', p.oid::bigint, 'schema', n.nspname, 'name', p.proname, 'args', pg_get_function_identity_arguments(p.oid),
    'kind', p.prokind, 'owner', pg_get_userbyid(p.proowner), 'def', pg_get_functiondef(p.oid),
    'acl', {proacl}, 'comment', obj_description(p.oid, 'pg_proc'))) AS j
  FROM k JOIN pg_namespace n ON n.nspname = k.schema JOIN pg_proc p ON p.pronamespace = n.oid AND p.proname = k.name
  WHERE k.kind = 'func' AND p.prokind IN ('f', 'p')
),
tys AS (
  SELECT jsonb_strip_nulls(jsonb_build_object(
    'oid', t.oid::bigint, 'schema', n.nspname, 'name', t.typname, 'kind', t.typtype,
    'labels', (SELECT jsonb_agg(e.enumlabel ORDER BY e.enumsortorder) FROM pg_enum e WHERE e.enumtypid = t.oid),
    'comment', obj_description(t.oid, 'pg_type'),
    'base', CASE WHEN t.typtype = 'd' THEN format_type(t.typbasetype, t.typtypmod)
        || CASE WHEN t.typcollation <> bt.typcollation THEN ' COLLATE ' || t.typcollation::regcollation::text ELSE '' END END,
    'not_null', CASE WHEN t.typnotnull THEN true END,
    'default', t.typdefault,
    'checks', (SELECT jsonb_agg(jsonb_build_object('name', x.conname, 'type', x.contype, 'def', pg_get_constraintdef(x.oid)) ORDER BY x.conname)
      FROM pg_constraint x WHERE x.contypid = t.oid AND t.typtype = 'd'),
    'attributes', (SELECT jsonb_agg(jsonb_strip_nulls(jsonb_build_object(
        'num', a.attnum, 'name', a.attname, 'type', format_type(a.atttypid, a.atttypmod),
        'collation', CASE WHEN a.attcollation <> at.typcollation THEN a.attcollation::regcollation::text END)) ORDER BY a.attnum)
      FROM pg_class tc JOIN pg_attribute a ON a.attrelid = tc.oid JOIN pg_type at ON at.oid = a.atttypid
      WHERE t.typtype = 'c' AND tc.oid = t.typrelid AND tc.relkind = 'c' AND a.attnum > 0 AND NOT a.attisdropped))) AS j
  FROM k JOIN pg_namespace n ON n.nspname = k.schema JOIN pg_type t ON t.typnamespace = n.oid AND t.typname = k.name
  LEFT JOIN pg_type bt ON bt.oid = t.typbasetype
  WHERE k.kind = 'type'
)
SELECT jsonb_build_object(
  -- The keys, plus the table of every index named (so a later read finds the table by name).
  'keys', (SELECT coalesce(jsonb_agg(DISTINCT x), '[]'::jsonb) FROM (
      SELECT jsonb_build_object('kind', k.kind, 'schema', k.schema, 'name', k.name) AS x FROM k
      UNION SELECT jsonb_build_object('kind', 'rel', 'schema', n.nspname, 'name', c.relname)
      FROM rel JOIN pg_class c ON c.oid = rel.oid JOIN pg_namespace n ON n.oid = c.relnamespace) y),
  'relations', (SELECT coalesce(jsonb_agg(j ORDER BY j->>'schema', j->>'name'), '[]'::jsonb) FROM rels),
  'functions', (SELECT coalesce(jsonb_agg(j ORDER BY j->>'schema', j->>'name', j->>'args'), '[]'::jsonb) FROM fns),
  'types', (SELECT coalesce(jsonb_agg(j ORDER BY j->>'schema', j->>'name'), '[]'::jsonb) FROM tys))"#,
        relacl = acl(
            "c.relacl",
            "CASE WHEN c.relkind = 'S' THEN 's'::\"char\" ELSE 'r'::\"char\" END",
            "c.relowner"
        ),
        proacl = acl("p.proacl", "'f'::\"char\"", "p.proowner"),
    )
}

/// The prepared statements [`take_sql`] executes, prepared once per session before the first
/// migration's `BEGIN`: the catalog query is large, and planning it each time cost more than
/// running it (measured: 2.8 ms planning against 0.6 ms execution). They run with
/// `plan_cache_mode = force_generic_plan` (put back afterwards), so they are planned once. Both always run under the same search_path (the
/// session's for the keys, pg_catalog for the definitions), so the cached plans stay valid.
pub fn prepare_sql(history_schema: &str) -> String {
    format!(
        "DEALLOCATE ALL;\n\
         PREPARE pgkeel_snapshot_keys(jsonb) AS SELECT set_config('pgkeel.snapshot_keys', ({resolve})::text, true);\n\
         PREPARE pgkeel_snapshot_take(text) AS INSERT INTO {h}.snapshots AS s (version, snapshot, duration_ms) \
         SELECT $1, x.j, extract(epoch FROM clock_timestamp() - current_setting('pgkeel.snapshot_started')::timestamptz) * 1000 \
         FROM (SELECT ({snap}) AS j OFFSET 0) x \
         ON CONFLICT (version) DO UPDATE SET snapshot = excluded.snapshot, taken_at = excluded.taken_at, duration_ms = excluded.duration_ms",
        resolve = resolve_sql_of("$1"),
        h = ident(history_schema),
        snap = snapshot_sql("pg_catalog.current_setting('pgkeel.snapshot_keys')::jsonb"),
    )
}

/// The SQL that records a migration's snapshot, sent right after its `BEGIN` (one simple-query
/// string).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Take {
    pub sql: String,
    /// Whether `sql` executes the statements of [`prepare_sql`] (they must exist).
    pub prepared: bool,
}

/// The snapshot of `version` whose statements name `keys`, `created` of them created by it.
///
/// When every key is created by the migration, nothing needs reading from the catalog: each
/// object is absent before (its plain `CREATE` fails otherwise, and then the migration does not
/// commit), so the row is one insert of the resolved keys, with no definitions. Otherwise: resolve
/// the keys with the session's search_path, switch it to pg_catalog, store the snapshot, and put
/// the search_path back as it was. Also with no keys: the row then says the migration was
/// applied with snapshots (so a rollback refuses what it cannot undo for that reason, not for a
/// missing snapshot).
pub fn take_sql(history_schema: &str, version: &str, keys: &[Key], created: &[Key]) -> Take {
    if keys.iter().all(|k| created.contains(k)) {
        // Built here rather than by the resolving query, whose planning alone costs about a
        // millisecond (measured in the server log): a created key needs only its schema, and the
        // time recorded runs from when this message began (`statement_timestamp()`).
        let keys: Vec<String> = keys
            .iter()
            .map(|k| {
                format!(
                    "jsonb_build_object('kind', {}, 'schema', {}, 'name', {})",
                    literal(&k.kind),
                    k.schema
                        .as_deref()
                        .map_or_else(|| "pg_catalog.current_schema()".to_string(), literal),
                    literal(&k.name)
                )
            })
            .collect();
        return Take {
            sql: format!(
                "INSERT INTO {h}.snapshots AS s (version, snapshot, duration_ms) \
                 VALUES ({v}, jsonb_build_object('keys', jsonb_build_array({keys}), 'relations', '[]'::jsonb, 'functions', '[]'::jsonb, 'types', '[]'::jsonb), \
                 extract(epoch FROM clock_timestamp() - statement_timestamp()) * 1000) \
                 ON CONFLICT (version) DO UPDATE SET snapshot = excluded.snapshot, taken_at = excluded.taken_at, duration_ms = excluded.duration_ms",
                h = ident(history_schema),
                v = literal(version),
                keys = keys.join(", "),
            ),
            prepared: false,
        };
    }
    Take {
        sql: format!(
            "SELECT set_config('pgkeel.snapshot_started', clock_timestamp()::text, true), set_config('pgkeel.search_path', current_setting('search_path'), true), \
             set_config('pgkeel.plan_cache_mode', current_setting('plan_cache_mode'), true), set_config('plan_cache_mode', 'force_generic_plan', true);\n\
             EXECUTE pgkeel_snapshot_keys({keys});\n\
             SELECT set_config('search_path', 'pg_catalog', true);\n\
             EXECUTE pgkeel_snapshot_take({v});\n\
             SELECT pg_catalog.set_config('search_path', pg_catalog.current_setting('pgkeel.search_path'), true), \
             pg_catalog.set_config('plan_cache_mode', pg_catalog.current_setting('pgkeel.plan_cache_mode'), true)",
            keys = keys_literal(keys, created),
            v = literal(version),
        ),
        prepared: true,
    }
}

/// The snapshot in the `nth` row (0-based) of a simple query's results.
fn parse_row(msgs: &[SimpleQueryMessage], nth: usize, what: &str) -> Result<Snapshot> {
    let text = msgs
        .iter()
        .filter_map(|m| match m {
            SimpleQueryMessage::Row(r) => Some(r.get(0).map(str::to_string)),
            _ => None,
        })
        .nth(nth)
        .flatten()
        .ok_or_else(|| Error::Refused(format!("{what}: the snapshot query returned no row")))?;
    let v: serde_json::Value = serde_json::from_str(&text)
        .map_err(|e| Error::Refused(format!("{what}: the snapshot is not JSON ({e})")))?;
    Snapshot::from_json(&v).map_err(|e| Error::Refused(format!("{what}: {e}")))
}

/// The current state of resolved `keys`, inside the caller's transaction (the search_path is
/// switched to pg_catalog for the query and put back).
pub async fn current_in_tx(c: &impl GenericClient, keys: &[Key]) -> Result<Snapshot> {
    let ctx = "reading the current catalog definitions";
    let sql = format!(
        "SELECT set_config('pgkeel.search_path', current_setting('search_path'), true), set_config('search_path', 'pg_catalog', true);\n\
         SELECT ({})::text;\n\
         SELECT pg_catalog.set_config('search_path', pg_catalog.current_setting('pgkeel.search_path'), true)",
        snapshot_sql(&keys_literal(keys, &[]))
    );
    let msgs = c.simple_query(&sql).await.map_err(|e| Error::db(ctx, e))?;
    // The first statement's row comes first: the snapshot is the second.
    parse_row(&msgs, 1, ctx)
}

/// The current state of resolved `keys` outside a transaction (a plan): one READ ONLY
/// transaction, so no setting outlives it.
pub async fn current(c: &tokio_postgres::Client, keys: &[Key]) -> Result<Snapshot> {
    let ctx = "reading the current catalog definitions";
    let sql = format!(
        "BEGIN READ ONLY; SET LOCAL search_path = pg_catalog; SELECT ({})::text; COMMIT",
        snapshot_sql(&keys_literal(keys, &[]))
    );
    let msgs = c.simple_query(&sql).await.map_err(|e| Error::db(ctx, e))?;
    parse_row(&msgs, 0, ctx)
}

/// The stored snapshots of `versions` (empty before history format 3).
pub async fn stored(
    c: &impl GenericClient,
    history_schema: &str,
    versions: &[String],
) -> Result<Vec<(String, Snapshot)>> {
    let ctx = "reading the rollback snapshots";
    if !super::table_exists(c, history_schema, "snapshots", ctx).await? {
        return Ok(Vec::new());
    }
    let rows = c
        .query(
            &format!(
                "SELECT version, snapshot FROM {}.snapshots WHERE version = ANY($1)",
                ident(history_schema)
            ),
            &[&versions],
        )
        .await
        .map_err(|e| Error::db(ctx, e))?;
    rows.iter()
        .map(|r| {
            let v: String = r.get(0);
            let j: serde_json::Value = r.get(1);
            let s = Snapshot::from_json(&j)
                .map_err(|e| Error::Refused(format!("migration {v}: {e}")))?;
            Ok((v, s))
        })
        .collect()
}

/// The stored snapshots of the versions `selector` picks and the current state of every key
/// they name: what [`crate::rollback::plan::build_with`] needs. Inside a transaction when
/// `in_tx` (the rollback's own), else in a READ ONLY one.
pub async fn for_plan(
    c: &tokio_postgres::Client,
    history_schema: &str,
    versions: &[String],
    in_tx: bool,
) -> Result<crate::rollback::plan::Snapshots> {
    let stored = stored(c, history_schema, versions).await?;
    let mut keys: Vec<Key> = stored.iter().flat_map(|(_, s)| s.keys.clone()).collect();
    keys.sort();
    keys.dedup();
    let current = if keys.is_empty() {
        Snapshot::default()
    } else if in_tx {
        current_in_tx(c, &keys).await?
    } else {
        current(c, &keys).await?
    };
    Ok(crate::rollback::plan::Snapshots { stored, current })
}

/// A failure of generated down SQL or of the verification: the rollback is undone.
fn failed(
    target: &Target,
    statement: Option<usize>,
    message: String,
    e: Option<&tokio_postgres::Error>,
) -> Error {
    let db = e.and_then(|e| e.as_db_error());
    Error::MigrationFailed(Box::new(MigrationFailure {
        version: target.version.clone(),
        path: target.path.clone(),
        statement,
        line: None,
        column: None,
        sqlstate: db.map(|d| d.code().code().to_string()),
        message: match (e, db) {
            (Some(_), Some(d)) => format!("{message}: {}", d.message()),
            (Some(e), None) => format!("{message}: {}", super::describe_pg_error(e)),
            _ => message,
        },
        detail: db.and_then(|d| d.detail().map(str::to_string)),
        hint: db.and_then(|d| d.hint().map(str::to_string)),
        context: db.and_then(|d| d.where_().map(str::to_string)),
        outcome: "the rollback ran in one transaction and was undone: nothing changed".into(),
        segment: None,
        segments: None,
        connection_lost: e.is_some_and(super::is_connection_error),
        blocked_by: Vec::new(),
    }))
}

/// Run one part of a target's generated down SQL, with `search_path = pg_catalog` (the
/// definitions are schema-qualified for it) and function bodies not checked (as pg_dump
/// restores them); both settings are put back afterwards.
pub async fn run_generated(
    tx: &Transaction<'_>,
    target: &Target,
    statements: &[String],
    offset: usize,
) -> Result<()> {
    if statements.is_empty() {
        return Ok(());
    }
    tx.batch_execute(
        "SELECT set_config('pgkeel.search_path', current_setting('search_path'), true), \
         set_config('pgkeel.check_function_bodies', current_setting('check_function_bodies'), true), \
         set_config('search_path', 'pg_catalog', true), set_config('check_function_bodies', 'off', true)",
    )
    .await
    .map_err(|e| failed(target, None, "preparing the generated down SQL".into(), Some(&e)))?;
    for (i, sql) in statements.iter().enumerate() {
        if let Err(e) = tx.batch_execute(sql).await {
            return Err(failed(
                target,
                Some(offset + i + 1),
                format!(
                    "generated down SQL of {} (statement {}: {sql})",
                    target.version,
                    offset + i + 1
                ),
                Some(&e),
            ));
        }
    }
    tx.batch_execute(
        "SELECT pg_catalog.set_config('search_path', pg_catalog.current_setting('pgkeel.search_path'), true), \
         pg_catalog.set_config('check_function_bodies', pg_catalog.current_setting('pgkeel.check_function_bodies'), true)",
    )
    .await
    .map_err(|e| failed(target, None, "after the generated down SQL".into(), Some(&e)))
}

/// Verify a rolled-back target before the rollback commits: the catalog definitions of what it
/// touched must equal its snapshot, and every backup it restored must have come back with the
/// backup's row count and checksum. Any difference fails the rollback (it is undone), listing
/// each one.
pub async fn verify(
    tx: &Transaction<'_>,
    target: &Target,
    restored: &[crate::db::rollback::Restored],
) -> Result<()> {
    let Some(before) = &target.snapshot else {
        return Ok(());
    };
    let after = current_in_tx(tx, &before.keys).await?;
    let differences = crate::snapshot::compare::compare(before, &after);
    let mut lines: Vec<String> = differences.iter().map(|d| d.to_string()).collect();
    if differences.iter().any(|d| d.aspect == "column order") {
        lines.push(
            "(PostgreSQL adds a column last: down SQL that re-adds a dropped column other than the last one must re-create the table to get the old column order back)".into(),
        );
    }
    for r in restored {
        if !r.verified {
            lines.push(format!(
                "{}: the rows restored from backup {} could not be compared with the backup (the table's columns differ from the backed-up ones{})",
                r.table,
                r.backup_id,
                if r.columns_not_restored.is_empty() {
                    String::new()
                } else {
                    format!("; not restored: {}", r.columns_not_restored.join(", "))
                }
            ));
        }
    }
    if lines.is_empty() {
        return Ok(());
    }
    Err(failed(
        target,
        None,
        format!(
            "verification failed: after its down SQL and restore, migration {} does not leave the database as it was before it ran ({} difference(s)):\n  - {}",
            target.version,
            lines.len(),
            lines.join("\n  - ")
        ),
        None,
    ))
}
