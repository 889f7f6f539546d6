//! `pgkeel supabase bootstrap`: make a plain PostgreSQL database accept Supabase migrations.
//!
//! The SQL lives in `sql/*.sql`, applied in the order of [`STEPS`]. Roles are cluster-wide, so
//! they are created first in a transaction of their own (retried: two databases of one server
//! may be bootstrapped at once); everything else runs in one transaction with the row that
//! records the bootstrap version in `pgkeel_supabase.bootstrap`. A database already at
//! [`BOOTSTRAP_VERSION`] is left alone, so the command is idempotent.
//!
//! Extensions: the bootstrap writes Supabase's catalogue ([`super::catalog`]) to
//! `pgkeel_supabase.catalogue`, installs `pgkeel_supabase.create_extension` (real extension when
//! the server has it, stand-in otherwise; sql/create_extension.sql), and creates the extensions
//! every Supabase database has from the start. A migration's `CREATE EXTENSION` of a catalogue
//! extension is sent through that function ([`super::rewrite`]). See docs/ARCHITECTURE.md.

use serde::Serialize;
use tokio_postgres::Client;

use crate::error::{Error, Result};

/// The bootstrap this release installs. Bump it when the SQL changes; a database at an older
/// version gets the (idempotent) SQL again.
pub const BOOTSTRAP_VERSION: i32 = 2;

const ROLES: &str = include_str!("sql/roles.sql");

/// The steps after the roles, in order: (name for messages, SQL).
pub fn steps() -> Vec<(&'static str, String)> {
    vec![
        ("marker.sql", include_str!("sql/marker.sql").to_string()),
        ("schemas.sql", include_str!("sql/schemas.sql").to_string()),
        (
            "create_extension.sql",
            include_str!("sql/create_extension.sql").to_string(),
        ),
        ("the extension catalogue", super::catalog::catalogue_sql()),
        ("the preinstalled extensions", preinstall_sql()),
        (
            "extensions.sql",
            include_str!("sql/extensions.sql").to_string(),
        ),
        ("auth.sql", include_str!("sql/auth.sql").to_string()),
        ("storage.sql", include_str!("sql/storage.sql").to_string()),
        ("realtime.sql", include_str!("sql/realtime.sql").to_string()),
        ("webhooks.sql", include_str!("sql/webhooks.sql").to_string()),
        (
            "privileges.sql",
            include_str!("sql/privileges.sql").to_string(),
        ),
    ]
}

/// The extensions every Supabase database has, where Supabase puts them: contrib ones with a
/// plain `CREATE EXTENSION IF NOT EXISTS`, the others through the catalogue's function.
fn preinstall_sql() -> String {
    let mut sql = String::new();
    for e in super::catalog::CATALOGUE
        .iter()
        .filter(|e| e.preinstalled && e.name != "plpgsql")
    {
        if e.routed() {
            sql.push_str(&format!(
                "SELECT pgkeel_supabase.create_extension({}, {}, NULL, true, true);\n",
                crate::db::literal(e.name),
                crate::db::literal(e.supabase_schema())
            ));
        } else {
            sql.push_str(&format!(
                "CREATE EXTENSION IF NOT EXISTS {} WITH SCHEMA {};\n",
                crate::db::ident(e.name),
                crate::db::ident(e.supabase_schema())
            ));
        }
    }
    sql
}

/// The whole bootstrap as one SQL text to run inside an open transaction (a dry run's, which
/// is rolled back): roles, every step and the version row.
pub fn in_transaction_sql() -> String {
    let mut sql = format!("{ROLES}\n");
    for (_, step) in steps() {
        sql.push_str(&step);
        sql.push('\n');
    }
    sql.push_str(&format!(
        "INSERT INTO pgkeel_supabase.bootstrap (version) VALUES ({BOOTSTRAP_VERSION}) ON CONFLICT DO NOTHING;\n"
    ));
    sql
}

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
        for (name, sql) in steps() {
            client
                .batch_execute(&sql)
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

/// (stand-in extensions, real Supabase extensions) installed here: the catalogue's extensions
/// that are not contrib.
pub(crate) async fn extension_state(client: &Client) -> Result<(Vec<String>, Vec<String>)> {
    let names: Vec<&str> = super::catalog::CATALOGUE
        .iter()
        .filter(|e| e.routed())
        .map(|e| e.name)
        .collect();
    let rows = client
        .query(
            "SELECT extname::text, extversion LIKE '%-pgkeel-standin' FROM pg_extension \
             WHERE extname = ANY ($1) ORDER BY extname",
            &[&names],
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
