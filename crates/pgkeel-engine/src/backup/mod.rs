//! Automatic backups before destructive migrations, and the `backups list|prune` operations.
//!
//! [`plan`] (pure) finds what a migration must back up; [`crate::db::backup`] holds the catalog
//! and every SQL statement; the executor takes the backups inside the migration's own
//! transaction, so a backup exists iff its (transactional) migration committed.

pub mod plan;
pub mod settings;

use chrono::{DateTime, Utc};
use serde::Serialize;

pub use plan::{BackupTarget, TargetKind};
pub use settings::BackupSettings;

use crate::db::apply::{Executor, Job};
use crate::db::backup::{BackupRow, Catalog, ListFilter, PruneWhich};
use crate::error::{Error, Result};
use crate::migrator::Migrator;
use settings::human_bytes;

/// `backups list`.
#[derive(Debug, Clone, Serialize)]
pub struct BackupsList {
    /// The backup schema.
    pub schema: String,
    /// The database's clock when listed (ages and expiry are relative to it).
    pub now: DateTime<Utc>,
    /// Newest first.
    pub backups: Vec<BackupRow>,
}

/// `backups prune`.
#[derive(Debug, Clone, Serialize)]
pub struct PruneReport {
    pub dry_run: bool,
    /// What was pruned (with `dry_run`: what would be).
    pub pruned: Vec<BackupRow>,
    /// The backup tables' total size.
    pub bytes: i64,
}

impl Migrator {
    fn catalog(&self) -> Catalog {
        Catalog::new(&self.config.backup.schema)
    }

    /// The backups in the catalog: kept ones, or all (`all`: also pruned and restored).
    /// Changes nothing (an absent catalog lists nothing).
    pub async fn backups_list(&self, all: bool) -> Result<BackupsList> {
        let conn = self.read_conn("backups").await?;
        // Bounded like `status`'s reads (see Migrator::within).
        let z = std::time::Duration::ZERO;
        let now: DateTime<Utc> = self
            .within("reading the server clock", z, async {
                conn.query_one("SELECT now()", &[])
                    .await
                    .map_err(|e| Error::db("reading the server clock", e))
            })
            .await?
            .get(0);
        let catalog = self.catalog();
        let filter = ListFilter { all, version: None };
        let backups = self
            .within(
                "reading the backup catalog",
                z,
                catalog.list(&conn, &filter),
            )
            .await?;
        Ok(BackupsList {
            schema: self.config.backup.schema.clone(),
            now,
            backups,
        })
    }

    /// The kept backups of one migration version, oldest first.
    pub async fn backups_for(&self, version: &str) -> Result<Vec<BackupRow>> {
        let conn = self.read_conn("backups").await?;
        let catalog = self.catalog();
        self.within(
            "reading the backup catalog",
            std::time::Duration::ZERO,
            catalog.backups_for(&conn, version),
        )
        .await
    }

    /// Drop backups: the expired ones, all kept ones, or one by id. Under the migration lock,
    /// with an audit row; `dry_run` only reports what would go.
    pub async fn backups_prune(&self, which: &PruneWhich, dry_run: bool) -> Result<PruneReport> {
        let mut conn = self.connect("backups prune").await?;
        let catalog = self.catalog();
        let pruned = if dry_run {
            self.within(
                "reading the backups to prune",
                std::time::Duration::ZERO,
                catalog.select_prune(&conn.client, which),
            )
            .await?
        } else {
            let lock = self.take_lock().await?;
            let result = async {
                if self
                    .within(
                        "looking for the backup catalog",
                        std::time::Duration::ZERO,
                        catalog.exists(&conn.client),
                    )
                    .await?
                {
                    self.ensure_history(&conn.client).await?;
                }
                catalog
                    .prune(&mut conn.client, which, &self.config.history_schema)
                    .await
            }
            .await;
            if let Err(e) = lock.release().await {
                tracing::warn!("{e}");
            }
            result?
        };
        if let PruneWhich::Id(id) = which {
            if pruned.is_empty() {
                return Err(Error::Refused(format!(
                    "no backup with id {id} to prune (it does not exist or was pruned already); `pgkeel backups list --all` shows them"
                )));
            }
        }
        Ok(PruneReport {
            dry_run,
            bytes: pruned.iter().map(|b| b.bytes).sum(),
            pruned,
        })
    }

    /// Refuse, before anything runs, a migration whose backups would be larger than
    /// `[backup] max_backup_bytes` (or `limit_override`). Targets that do not exist yet (created
    /// by an earlier migration of the same run) are not counted.
    pub(crate) async fn check_backup_sizes(
        &self,
        executor: &Executor<'_>,
        jobs: &[Job<'_>],
        limit_override: Option<u64>,
    ) -> Result<()> {
        let limit = limit_override.unwrap_or(self.config.backup.max_backup_bytes);
        for job in jobs {
            let sizes = executor.estimate_backups(job).await?;
            let total: u64 = sizes.iter().map(|s| s.bytes).sum();
            if total > limit {
                let tables = sizes
                    .iter()
                    .map(|s| format!("{} ({})", s.table, human_bytes(s.bytes)))
                    .collect::<Vec<_>>()
                    .join(", ");
                return Err(Error::Refused(format!(
                    "migration {} would back up {} ({tables}), more than the limit of {} ({limit} bytes, {}); nothing was applied. \
                     Allow it for this run with `pgkeel up --max-backup-bytes {total}`, raise [backup] max_backup_bytes, or turn backups off with [backup] enabled = false",
                    job.migration.version,
                    human_bytes(total),
                    human_bytes(limit),
                    if limit_override.is_some() {
                        "--max-backup-bytes"
                    } else {
                        "[backup] max_backup_bytes"
                    },
                )));
            }
        }
        Ok(())
    }
}
