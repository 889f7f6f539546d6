//! `pgkeel supabase bootstrap`: make a plain PostgreSQL database accept Supabase migrations.
//!
//! The SQL lives in `sql/*.sql`, applied in the order of [`STEPS`]. Roles are cluster-wide, so
//! they are created first in a transaction of their own (retried: two databases of one server
//! may be bootstrapped at once); everything else runs in one transaction with the row that
//! records the bootstrap version in `pgkeel_supabase.bootstrap`. A database already at
//! [`BOOTSTRAP_VERSION`] is left alone, so the command is idempotent.
//!
//! Extensions plain PostgreSQL lacks (pg_net, pg_cron, http, pgjwt, supabase_vault, pgsodium,
//! pg_graphql) get stand-ins: their schemas, tables and functions, with no effect outside the
//! database, registered in `pg_extension` (version suffixed `-pgkeel-standin`) so a migration's
//! `CREATE EXTENSION IF NOT EXISTS` is a no-op, as on Supabase. See docs/ARCHITECTURE.md for why.

use serde::Serialize;
use tokio_postgres::Client;

use crate::error::{Error, Result};

/// The bootstrap this release installs. Bump it when the SQL changes; a database at an older
/// version gets the (idempotent) SQL again.
pub const BOOTSTRAP_VERSION: i32 = 1;

const ROLES: &str = include_str!("sql/roles.sql");

/// The steps after the roles, in order: (name for messages, SQL).
const STEPS: &[(&str, &str)] = &[
    ("marker.sql", include_str!("sql/marker.sql")),
    ("schemas.sql", include_str!("sql/schemas.sql")),
    ("extensions.sql", include_str!("sql/extensions.sql")),
    ("auth.sql", include_str!("sql/auth.sql")),
    ("storage.sql", include_str!("sql/storage.sql")),
    ("realtime.sql", include_str!("sql/realtime.sql")),
    ("standins.sql", include_str!("sql/standins.sql")),
    ("privileges.sql", include_str!("sql/privileges.sql")),
];

/// Extensions with a stand-in (see sql/standins.sql).
pub const STANDINS: &[&str] = &[
    "pg_net",
    "pg_cron",
    "http",
    "pgjwt",
    "pgsodium",
    "supabase_vault",
    "pg_graphql",
];

/// What the bootstrap did.
#[derive(Debug, Clone, Serialize)]
pub struct BootstrapReport {
    pub version: i32,
    /// The version found before (None: never bootstrapped).
    pub previous: Option<i32>,
    /// False when the database was already at this version.
    pub changed: bool,
    /// Ran despite signs of a real Supabase database.
    pub forced: bool,
    /// Extensions now provided by stand-ins.
    pub standins: Vec<String>,
    /// Supabase extensions that are real here (left alone).
    pub real_extensions: Vec<String>,
    /// Signs of a real Supabase database that were overridden with --force.
    pub supabase_signs: Vec<String>,
}

/// What the database looks like before a bootstrap.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Detection {
    /// The pgkeel bootstrap version recorded here, if any.
    pub bootstrapped: Option<i32>,
    /// Why this database looks like a real Supabase one (empty: it does not).
    pub supabase_signs: Vec<String>,
    pub is_superuser: bool,
}

/// Look for pgkeel's marker and for signs of a real Supabase database: GoTrue's or Storage's
/// own migration tables, Supabase-only extensions that are real (not our stand-ins), or a
/// `supabase_admin` role that can log in (ours cannot).
pub async fn detect(client: &Client) -> Result<Detection> {
    let err = |e| Error::db("inspecting the database before the Supabase bootstrap", e);
    let row = client
        .query_one(
            "SELECT (SELECT rolsuper FROM pg_roles WHERE rolname = current_user), \
                    to_regclass('pgkeel_supabase.bootstrap') IS NOT NULL",
            &[],
        )
        .await
        .map_err(err)?;
    let is_superuser: bool = row.get::<_, Option<bool>>(0).unwrap_or(false);
    let marked: bool = row.get(1);
    let bootstrapped = if marked {
        client
            .query_one("SELECT max(version) FROM pgkeel_supabase.bootstrap", &[])
            .await
            .map_err(err)?
            .get::<_, Option<i32>>(0)
    } else {
        None
    };
    let signs = client
        .query(
            "SELECT 'auth.schema_migrations has ' || n || ' GoTrue migration row(s)' FROM \
                 (SELECT (xpath('/row/n/text()', query_to_xml('SELECT count(*) AS n FROM auth.schema_migrations', false, true, '')))[1]::text AS n \
                  WHERE to_regclass('auth.schema_migrations') IS NOT NULL) g WHERE n <> '0' \
             UNION ALL \
             SELECT 'storage.migrations exists (Supabase Storage''s own migrations)' WHERE to_regclass('storage.migrations') IS NOT NULL \
             UNION ALL \
             SELECT format('extension %s %s is installed for real', extname, extversion) FROM pg_extension \
              WHERE extname IN ('pgsodium', 'supabase_vault', 'pg_graphql', 'pg_net') AND extversion NOT LIKE '%-pgkeel-standin' \
             UNION ALL \
             SELECT 'role supabase_admin can log in (pgkeel''s stand-in role cannot)' FROM pg_roles WHERE rolname = 'supabase_admin' AND rolcanlogin",
            &[],
        )
        .await
        .map_err(err)?;
    Ok(Detection {
        bootstrapped,
        supabase_signs: signs.iter().map(|r| r.get(0)).collect(),
        is_superuser,
    })
}

/// Bootstrap the database `client` is connected to. The caller holds the migration lock.
pub async fn bootstrap(client: &Client, force: bool) -> Result<BootstrapReport> {
    let d = detect(client).await?;
    // Once pgkeel has bootstrapped a database (with --force if it had to), the signs it was
    // forced past do not stop later runs.
    if !d.supabase_signs.is_empty() && !force && d.bootstrapped.is_none() {
        return Err(Error::Refused(format!(
            "this looks like a real Supabase database, which needs no bootstrap: {}. If it is not, run `pgkeel supabase bootstrap --force`",
            d.supabase_signs.join("; ")
        )));
    }
    if d.bootstrapped.is_some_and(|v| v > BOOTSTRAP_VERSION) {
        return Err(Error::Refused(format!(
            "this database was bootstrapped by a newer pgkeel (bootstrap version {}; this release knows {BOOTSTRAP_VERSION}); upgrade pgkeel",
            d.bootstrapped.unwrap_or_default()
        )));
    }
    if d.bootstrapped == Some(BOOTSTRAP_VERSION) && !force {
        let (standins, real) = extension_state(client).await?;
        return Ok(BootstrapReport {
            version: BOOTSTRAP_VERSION,
            previous: d.bootstrapped,
            changed: false,
            forced: false,
            standins,
            real_extensions: real,
            supabase_signs: Vec::new(),
        });
    }
    if !d.is_superuser {
        return Err(Error::Refused(
            "the Supabase bootstrap needs a superuser: it creates roles and registers stand-in extensions in pg_extension. Connect as a superuser (it is meant for local and CI databases)".into(),
        ));
    }

    // Roles: cluster-wide, so a concurrent bootstrap of another database can collide; retry.
    let mut attempt = 0;
    loop {
        attempt += 1;
        match client
            .batch_execute(&format!("BEGIN;\n{ROLES}\nCOMMIT;"))
            .await
        {
            Ok(()) => break,
            Err(e) => {
                let _ = client.batch_execute("ROLLBACK").await;
                if attempt >= 5 {
                    return Err(Error::db("supabase bootstrap (roles.sql)", e));
                }
                tokio::time::sleep(std::time::Duration::from_millis(50 * attempt)).await;
            }
        }
    }

    client
        .batch_execute("BEGIN")
        .await
        .map_err(|e| Error::db("supabase bootstrap", e))?;
    let result = async {
        for (name, sql) in STEPS {
            client
                .batch_execute(sql)
                .await
                .map_err(|e| Error::db(format!("supabase bootstrap ({name})"), e))?;
        }
        let (standins, real) = extension_state(client).await?;
        client
            .execute(
                "INSERT INTO pgkeel_supabase.bootstrap (version, forced, standins) VALUES ($1, $2, $3) \
                 ON CONFLICT (version) DO UPDATE SET applied_at = now(), applied_by = current_user, forced = excluded.forced, standins = excluded.standins",
                &[&BOOTSTRAP_VERSION, &(force && !d.supabase_signs.is_empty()), &standins],
            )
            .await
            .map_err(|e| Error::db("recording the supabase bootstrap", e))?;
        client
            .batch_execute("COMMIT")
            .await
            .map_err(|e| Error::db("committing the supabase bootstrap", e))?;
        Ok((standins, real))
    }
    .await;
    match result {
        Ok((standins, real)) => Ok(BootstrapReport {
            version: BOOTSTRAP_VERSION,
            previous: d.bootstrapped,
            changed: true,
            forced: force && !d.supabase_signs.is_empty(),
            standins,
            real_extensions: real,
            supabase_signs: d.supabase_signs,
        }),
        Err(e) => {
            let _ = client.batch_execute("ROLLBACK").await;
            Err(e)
        }
    }
}

/// (stand-in extensions, real Supabase extensions) installed here.
async fn extension_state(client: &Client) -> Result<(Vec<String>, Vec<String>)> {
    let rows = client
        .query(
            "SELECT extname::text, extversion LIKE '%-pgkeel-standin' FROM pg_extension \
             WHERE extname = ANY ($1) ORDER BY extname",
            &[&STANDINS],
        )
        .await
        .map_err(|e| Error::db("reading installed extensions", e))?;
    let mut standins = Vec::new();
    let mut real = Vec::new();
    for r in rows {
        let name: String = r.get(0);
        if r.get::<_, bool>(1) {
            standins.push(name);
        } else {
            real.push(name);
        }
    }
    Ok((standins, real))
}
