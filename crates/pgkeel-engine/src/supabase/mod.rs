//! Supabase projects on plain PostgreSQL.
//!
//! - [`project`]: the `[supabase]` settings and what pgkeel reads from `supabase/config.toml`
//!   (pure).
//! - [`split`]: statements split the way the Supabase CLI splits them, for the history mirror
//!   (pure).
//! - [`bootstrap`]: `pgkeel supabase bootstrap` — roles, schemas, `auth`, `storage`, Realtime's
//!   publication, default privileges, the database search_path, Supabase's preinstalled
//!   extensions, from the SQL files in `sql/`; refuses a database that looks like a real
//!   Supabase one.
//! - [`catalog`]: every extension Supabase offers, and what pgkeel does without it (pure).
//! - [`rewrite`]: a migration's `CREATE EXTENSION` of one of them, sent through the bootstrap's
//!   `pgkeel_supabase.create_extension` (real when installed, stand-in otherwise) (pure).
//! - [`mirror`]: `supabase_migrations.schema_migrations`, written in the same transaction as
//!   pgkeel's history row so `supabase migration list` agrees with `pgkeel status`.
//! - [`adopt`]: `pgkeel adopt supabase` — import a history the Supabase CLI wrote.
//! - [`seed`]: `supabase/seed.sql` after a dev reset.

pub mod adopt;
pub mod bootstrap;
pub mod catalog;
pub mod mirror;
pub mod project;
pub mod rewrite;
pub mod seed;
pub mod split;

pub use bootstrap::{BootstrapReport, BOOTSTRAP_VERSION};
pub use project::SupabaseSettings;
pub use seed::run_seed;

use crate::error::{Error, Result};

/// What Supabase mode did before `up` ran anything.
#[derive(Debug, Default)]
pub(crate) struct BeforeUp {
    /// Lines for the user (the bootstrap that ran first, an outdated bootstrap).
    pub notes: Vec<String>,
    /// The bootstrap changed database-level settings (search_path), which a session only takes
    /// at connect time: the caller opens a new connection for the migrations.
    pub reconnect: bool,
}

/// How Supabase mode shapes one run of migrations.
#[derive(Debug, Default)]
pub(crate) struct RunShape {
    /// Send `CREATE EXTENSION` of catalogue extensions through `pgkeel_supabase.create_extension`.
    pub rewrite: bool,
    /// For a dry run on a pgkeel-created database not bootstrapped yet: the bootstrap, run inside
    /// the dry run's transaction (rolled back with it).
    pub dry_run_prelude: Option<String>,
}

/// What a database has of the bootstrap.
struct Found {
    auth: bool,
    bootstrap: Option<i32>,
    create_extension: bool,
}

async fn found(client: &tokio_postgres::Client) -> Result<Found> {
    let row = client
        .query_one(
            "SELECT to_regnamespace('auth') IS NOT NULL, \
                    to_regclass('pgkeel_supabase.bootstrap') IS NOT NULL, \
                    to_regprocedure('pgkeel_supabase.create_extension(text, text, text, boolean, boolean)') IS NOT NULL",
            &[],
        )
        .await
        .map_err(|e| Error::db("inspecting the database for Supabase mode", e))?;
    let bootstrap = if row.get::<_, bool>(1) {
        client
            .query_one("SELECT max(version) FROM pgkeel_supabase.bootstrap", &[])
            .await
            .map_err(|e| Error::db("reading the Supabase bootstrap version", e))?
            .get::<_, Option<i32>>(0)
    } else {
        None
    };
    Ok(Found {
        auth: row.get(0),
        bootstrap,
        create_extension: row.get(2),
    })
}

fn no_auth_refusal(what: &str) -> Error {
    Error::Refused(format!(
        "this database has no `auth` schema, which Supabase migrations expect; run `pgkeel supabase bootstrap` on it first (for local and CI databases: it adds the roles, schemas, extensions and defaults a Supabase database has), then {what} again. Nothing was changed"
    ))
}

impl crate::Migrator {
    /// Supabase mode's part of `up` (and apply_migration), under the lock and before anything
    /// else writes: on a database pgkeel created (the dev database, a scratch database of
    /// `types verify`), bootstrap it (a no-op once done); elsewhere refuse a database without
    /// `auth`, naming `pgkeel supabase bootstrap`. With the history mirror on, create the
    /// Supabase CLI's history table.
    pub(crate) async fn supabase_before_up(
        &self,
        client: &tokio_postgres::Client,
    ) -> Result<BeforeUp> {
        let Some(settings) = &self.config.supabase else {
            return Ok(BeforeUp::default());
        };
        let mut out = BeforeUp::default();
        if self.config.dev_database {
            let r = bootstrap::bootstrap(client, false).await?;
            if r.changed {
                tracing::info!(
                    target: "pgkeel_report",
                    version = r.version,
                    "bootstrapped the dev database for Supabase migrations"
                );
                out.notes.push(format!(
                    "Supabase mode: bootstrapped this pgkeel-created database first (bootstrap {}{}): roles, auth, storage, extensions and Supabase's defaults",
                    r.version,
                    r.previous.map(|p| format!(", was {p}")).unwrap_or_default()
                ));
                out.reconnect = true;
            }
        } else {
            let f = found(client).await?;
            if !f.auth {
                return Err(no_auth_refusal("`pgkeel up`"));
            }
            if let Some(v) = f.bootstrap.filter(|v| *v < BOOTSTRAP_VERSION) {
                out.notes.push(format!(
                    "Supabase mode: this database has pgkeel's bootstrap {v}, this release installs {BOOTSTRAP_VERSION}; run `pgkeel supabase bootstrap` to update it{}",
                    if f.create_extension { "" } else { " (until then CREATE EXTENSION of Supabase's extensions is sent as written)" }
                ));
            }
        }
        if settings.mirror_history {
            mirror::ensure(client).await?;
        }
        Ok(out)
    }

    /// How Supabase mode shapes a run: whether `CREATE EXTENSION` goes through the catalogue
    /// (the bootstrap's function is there), and for a dry run on a pgkeel-created database
    /// that is not bootstrapped yet, the bootstrap to run inside the rolled-back transaction.
    /// A dry run elsewhere on a database without `auth` is refused as `up` is.
    pub(crate) async fn supabase_run_shape(
        &self,
        client: &tokio_postgres::Client,
        locked: bool,
    ) -> Result<RunShape> {
        if self.config.supabase.is_none() {
            return Ok(RunShape::default());
        }
        let f = found(client).await?;
        if f.create_extension {
            return Ok(RunShape {
                rewrite: true,
                dry_run_prelude: None,
            });
        }
        if locked || f.auth {
            return Ok(RunShape::default());
        }
        if self.config.dev_database {
            return Ok(RunShape {
                rewrite: true,
                dry_run_prelude: Some(bootstrap::in_transaction_sql()),
            });
        }
        Err(no_auth_refusal("the dry run"))
    }

    /// After a run: the extensions its `CREATE EXTENSION` statements (and their CASCADE
    /// requirements) got as stand-ins, said once.
    pub(crate) async fn supabase_standin_note(
        &self,
        client: &tokio_postgres::Client,
        names: &[String],
    ) -> Option<String> {
        if names.is_empty() {
            return None;
        }
        let mut all: Vec<String> = names.to_vec();
        let mut i = 0;
        while i < all.len() {
            if let Some(e) = catalog::find(&all[i]) {
                for r in e.requires {
                    if !all.iter().any(|a| a == r) {
                        all.push(r.to_string());
                    }
                }
            }
            i += 1;
        }
        let rows = client
            .query(
                "SELECT e.extname::text, c.kind FROM pg_extension e JOIN pgkeel_supabase.catalogue c ON c.name = e.extname \
                 WHERE e.extname = ANY ($1) AND e.extversion LIKE '%-pgkeel-standin' ORDER BY 1",
                &[&all],
            )
            .await
            .map_err(|e| tracing::warn!("reading stand-in extensions: {e}"))
            .ok()?;
        if rows.is_empty() {
            return None;
        }
        let list: Vec<String> = rows
            .iter()
            .map(|r| {
                let kind: String = r.get(1);
                let what = if kind == "functions" {
                    "a callable subset"
                } else {
                    "name only: its types and functions do not exist"
                };
                format!("{} ({what})", r.get::<_, String>(0))
            })
            .collect();
        Some(format!(
            "Supabase mode: this server does not have {}, so pgkeel's stand-ins were created: {} (see docs/TOOLS.md, \"Supabase extensions\")",
            if list.len() == 1 { "this extension" } else { "these extensions" },
            list.join(", ")
        ))
    }
}

impl crate::Migrator {
    /// Run `supabase/seed.sql` on the configured database when Supabase mode is on and the file
    /// exists (what `pgkeel dev reset` does after the migrations). `Ok(None)`: nothing to run.
    pub async fn supabase_seed(&self) -> crate::Result<Option<seed::SeedReport>> {
        if self.config.supabase.is_none() {
            return Ok(None);
        }
        let conn = self.connect("seed").await?;
        run_seed(
            &conn.client,
            &self.config.root,
            self.config.statement_timeout,
        )
        .await
    }
}
