//! Rollback: undo applied migrations with their down SQL and restore the rows their automatic
//! backups kept, in one transaction, after a confirmation bound to the exact plan.
//!
//! [`plan`] decides what a rollback does (pure), [`token`] binds a confirmation to that plan,
//! and the SQL lives in [`crate::db::rollback`]. `rollback_plan` changes nothing; `rollback`
//! takes the migration lock, recomputes the plan inside its transaction, checks the token, runs
//! every down and restore, records history, backups and an audit row, and commits once.

pub mod plan;
pub mod token;

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::db::rollback as sql;
use crate::error::{Error, Result};
use crate::migrator::Migrator;
pub use plan::{Backup, RollbackPlan, Selector, Target};
pub use sql::Restored;

/// A plan and the token that confirms it.
#[derive(Debug, Clone, Serialize)]
pub struct PlanReport {
    pub database: String,
    pub backup_schema: String,
    pub plan: RollbackPlan,
    /// `rb1.<expiry>.<hmac>`: pass it to `--confirm` (or `confirm_token`).
    pub token: String,
    pub token_expires_at: DateTime<Utc>,
    /// When some backups' window has ended: how to restore them by hand (the rollback itself
    /// then needs `force_expired`).
    pub manual_procedure: Option<String>,
}

/// What to execute.
#[derive(Debug, Clone)]
pub struct RollbackOptions {
    pub selector: Selector,
    pub confirm_token: String,
    /// Restore backups whose window has ended anyway.
    pub force_expired: bool,
}

/// What a rollback did.
#[derive(Debug, Clone, Serialize)]
pub struct RollbackReport {
    pub database: String,
    /// Rolled back, newest first.
    pub rolled_back: Vec<String>,
    pub restored: Vec<Restored>,
    pub forced_expired: bool,
    pub duration_ms: u64,
    /// The `[types] out` file, when the rollback changed its content (regenerated as after
    /// `up`, with `[types] on_up`).
    pub types_written: Option<String>,
    /// Things to know that did not stop the rollback (e.g. types not regenerated, and why).
    pub warnings: Vec<String>,
}

impl Migrator {
    fn backup_schema(&self) -> String {
        self.config.backup.schema.clone()
    }

    fn rollback_key(&self) -> Result<Vec<u8>> {
        token::load_key(&self.config.root, std::env::var(token::KEY_ENV).ok())
    }

    /// The rollback plan for `selector` and its confirmation token. Changes nothing in the
    /// database (it may create the key file).
    pub async fn rollback_plan(&self, selector: &Selector) -> Result<PlanReport> {
        let discovered = self.discover()?;
        let key = self.rollback_key()?;
        let ttl = self.config.rollback_token_ttl;
        let conn = self.read_conn("rollback plan").await?;
        let history = self.history();
        // Each read is bounded like `status`'s (see Migrator::within): a server that stops
        // answering ends the plan with `connection_lost` instead of a hang.
        let z = std::time::Duration::ZERO;
        if self
            .within("reading the history format", z, history.format(&conn))
            .await?
            .is_none()
        {
            return Err(Error::Refused(format!(
                "no migration history in schema {}: nothing has been applied, nothing to roll back",
                self.config.history_schema
            )));
        }
        let rows = self.read_history(&conn).await?;
        let versions: Vec<String> = rows.iter().map(|r| r.version.clone()).collect();
        let schema = self.backup_schema();
        let backups = self
            .within(
                "reading the backup catalog",
                z,
                sql::backups_for(&*conn, &schema, &versions, false),
            )
            .await?;
        let identity = self
            .within("reading the server's identity", z, sql::identity(&*conn))
            .await?;
        let snapshots = self
            .within(
                "reading the migrations' snapshots",
                z,
                crate::db::snapshot::for_plan(
                    &conn,
                    &self.config.history_schema,
                    &plan::selected_versions(&rows, selector),
                    false,
                ),
            )
            .await?;
        let now = Utc::now();
        let plan = plan::build_with(
            selector,
            &discovered.migrations,
            &rows,
            &backups,
            &identity,
            now,
            &snapshots,
        )
        .map_err(|r| Error::Refused(r.to_string()))?;
        let expiry = now.timestamp() + ttl.as_secs().max(1) as i64;
        let digest = hex::decode(&plan.digest).unwrap_or_default();
        let token = token::issue(&key, &digest, expiry);
        let manual_procedure =
            (!plan.expired_backups.is_empty()).then(|| manual_procedure(&plan, &schema));
        Ok(PlanReport {
            database: self.config.database_display(),
            backup_schema: schema,
            token,
            token_expires_at: DateTime::from_timestamp(expiry, 0).unwrap_or(now),
            manual_procedure,
            plan,
        })
    }

    /// Execute a confirmed rollback (see the module docs). On any failure the transaction is
    /// rolled back and nothing changed.
    pub async fn rollback(&self, opts: &RollbackOptions) -> Result<RollbackReport> {
        let started = std::time::Instant::now();
        let discovered = self.discover()?;
        let key = self.rollback_key()?;
        let mut conn = self.connect("rollback").await?;
        let lock = self.take_lock().await?;
        let result = self
            .rollback_locked(&mut conn.client, &discovered, &key, opts)
            .await;
        if let Err(e) = lock.release().await {
            tracing::warn!("{e}");
        }
        let (rolled_back, restored) = result?;
        let duration_ms = started.elapsed().as_millis() as u64;
        // `[types] out` follows the schema back, as it follows `up`. The rollback has committed,
        // so a failure here is a warning.
        let mut warnings = Vec::new();
        let types_written = match self.types_after_up().await {
            Ok(written) => written,
            Err(e) => {
                warnings.push(format!("types not regenerated: {e}"));
                None
            }
        };
        Ok(RollbackReport {
            database: self.config.database_display(),
            rolled_back,
            restored,
            forced_expired: opts.force_expired,
            duration_ms,
            types_written,
            warnings,
        })
    }

    async fn rollback_locked(
        &self,
        client: &mut tokio_postgres::Client,
        discovered: &crate::discovery::Discovered,
        key: &[u8],
        opts: &RollbackOptions,
    ) -> Result<(Vec<String>, Vec<Restored>)> {
        let history = self.history();
        if history.format(client).await?.is_none() {
            return Err(Error::Refused(format!(
                "no migration history in schema {}: nothing to roll back",
                self.config.history_schema
            )));
        }
        let schema = self.backup_schema();
        let tx = client
            .transaction()
            .await
            .map_err(|e| Error::db("starting the rollback transaction", e))?;
        sql::set_timeouts(&tx, self.config.lock_timeout, self.config.statement_timeout).await?;
        // The plan is recomputed inside the transaction, under the lock, with the backup rows
        // locked: what executes is exactly what the token confirms.
        let rows = history.load(tx.client()).await?;
        let versions: Vec<String> = rows.iter().map(|r| r.version.clone()).collect();
        let backups = sql::backups_for(&tx, &schema, &versions, true).await?;
        let identity = sql::identity(&tx).await?;
        let snapshots = crate::db::snapshot::for_plan(
            tx.client(),
            &self.config.history_schema,
            &plan::selected_versions(&rows, &opts.selector),
            true,
        )
        .await?;
        let now = Utc::now();
        let plan = plan::build_with(
            &opts.selector,
            &discovered.migrations,
            &rows,
            &backups,
            &identity,
            now,
            &snapshots,
        )
        .map_err(|r| Error::Refused(r.to_string()))?;
        let digest = hex::decode(&plan.digest).unwrap_or_default();
        token::verify(key, &digest, &opts.confirm_token, now.timestamp())?;
        if !plan.expired_backups.is_empty() && !opts.force_expired {
            return Err(Error::Refused(format!(
                "refusing to roll back: the backup window has ended for {}. Restoring data that old may overwrite newer changes; to do it anyway, run the same command with --force-expired (the token still applies).\n{}",
                plan.expired_backups
                    .iter()
                    .map(|id| format!("backup {id}"))
                    .collect::<Vec<_>>()
                    .join(", "),
                manual_procedure(&plan, &schema)
            )));
        }
        let mut restored = Vec::new();
        for target in &plan.targets {
            // Written down SQL, or the generated down's first part; then the restore; then the
            // generated down's second part; then the verification against the snapshot.
            sql::run_down(&tx, target).await?;
            if let Some(g) = &target.generated {
                crate::db::snapshot::run_generated(&tx, target, &g.before_restore, 0).await?;
            }
            let mine = sql::restore(&tx, &schema, target).await?;
            if let Some(g) = &target.generated {
                crate::db::snapshot::run_generated(
                    &tx,
                    target,
                    &g.after_restore,
                    g.before_restore.len(),
                )
                .await?;
            }
            crate::db::snapshot::verify(&tx, target, &mine).await?;
            restored.extend(mine);
        }
        let rolled_back: Vec<String> = plan.targets.iter().map(|t| t.version.clone()).collect();
        let ids: Vec<i64> = plan.backups().map(|b| b.id).collect();
        let details = serde_json::json!({
            "selector": opts.selector.to_string(),
            "versions": rolled_back,
            "digest": plan.digest,
            "backups": ids,
            "force_expired": opts.force_expired,
            "restored": restored.iter().map(|r| serde_json::json!({"table": r.table, "rows": r.rows, "verified": r.verified})).collect::<Vec<_>>(),
        });
        sql::record(
            &tx,
            &self.config.history_schema,
            &schema,
            &rolled_back,
            &ids,
            plan.oldest_version().unwrap_or_default(),
            details,
        )
        .await?;
        tx.commit()
            .await
            .map_err(|e| Error::db("committing the rollback", e))?;
        Ok((rolled_back, restored))
    }
}

/// How to restore expired backups by hand: which backup tables hold the rows and the SQL that
/// puts them back.
pub fn manual_procedure(plan: &RollbackPlan, backup_schema: &str) -> String {
    let mut s = String::from(
        "Manual procedure: each backup table has one column `row` (jsonb, the source row as it was). Read it, and restore what you need inside a transaction:",
    );
    for b in plan
        .backups()
        .filter(|b| plan.expired_backups.contains(&b.id))
    {
        let src = format!(
            "{}.{}",
            crate::db::ident(&b.source_schema),
            crate::db::ident(&b.source_table)
        );
        let bt = format!(
            "{}.{}",
            crate::db::ident(backup_schema),
            crate::db::ident(&b.backup_table)
        );
        s.push_str(&format!(
            "\n  - backup {} of {} ({}, {} rows, migration {}, expired {}):\n      SELECT row FROM {bt};\n      INSERT INTO {src} SELECT (jsonb_populate_record(NULL::{src}, row)).* FROM {bt} ON CONFLICT DO NOTHING;",
            b.id,
            b.source(),
            b.reason,
            b.row_count,
            b.version,
            b.expires_at.format("%Y-%m-%d %H:%M UTC"),
        ));
    }
    s.push_str("\n  (run the migration's down SQL first when the table or columns no longer exist; add OVERRIDING SYSTEM VALUE for identity columns)");
    s
}
