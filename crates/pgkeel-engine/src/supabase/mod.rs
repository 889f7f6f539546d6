//! Supabase projects on plain PostgreSQL.
//!
//! - [`project`]: the `[supabase]` settings and what pgkeel reads from `supabase/config.toml`
//!   (pure).
//! - [`split`]: statements split the way the Supabase CLI splits them, for the history mirror
//!   (pure).
//! - [`bootstrap`]: `pgkeel supabase bootstrap` — roles, schemas, `auth`, `storage`, Realtime's
//!   publication, default privileges and stand-ins for the extensions plain PostgreSQL lacks,
//!   from the SQL files in `sql/`; refuses a database that looks like a real Supabase one.
//! - [`mirror`]: `supabase_migrations.schema_migrations`, written in the same transaction as
//!   pgkeel's history row so `supabase migration list` agrees with `pgkeel status`.
//! - [`adopt`]: `pgkeel adopt supabase` — import a history the Supabase CLI wrote.
//! - [`seed`]: `supabase/seed.sql` after a dev reset.

pub mod adopt;
pub mod bootstrap;
pub mod mirror;
pub mod project;
pub mod seed;
pub mod split;

pub use bootstrap::{BootstrapReport, BOOTSTRAP_VERSION};
pub use project::SupabaseSettings;
pub use seed::run_seed;

impl crate::Migrator {
    /// Supabase mode's part of `up`, under the lock: on the project's dev database, bootstrap it
    /// (a no-op once done); with the history mirror on, create the Supabase CLI's history table.
    pub(crate) async fn supabase_before_up(
        &self,
        client: &tokio_postgres::Client,
    ) -> crate::Result<()> {
        let Some(settings) = &self.config.supabase else {
            return Ok(());
        };
        if self.config.dev_database {
            let r = bootstrap::bootstrap(client, false).await?;
            if r.changed {
                tracing::info!(
                    target: "pgkeel_report",
                    version = r.version,
                    "bootstrapped the dev database for Supabase migrations"
                );
            }
        }
        if settings.mirror_history {
            mirror::ensure(client).await?;
        }
        Ok(())
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
        run_seed(&conn.client, &self.config.root).await
    }
}
