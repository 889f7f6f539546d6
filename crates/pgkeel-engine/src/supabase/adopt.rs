//! `pgkeel adopt supabase`: import a migration history the Supabase CLI wrote
//! (`supabase_migrations.schema_migrations`) into pgkeel's, under the migration lock.
//!
//! A recorded version is imported (status `applied`, the file's checksum) only when its file
//! exists and the file's statements are the recorded ones (compared ignoring white space). A
//! version with no file, or a file whose statements differ, is reported and not imported, so
//! `pgkeel status` keeps showing it: nothing is hidden. The import and its findings are
//! audit-logged.

use serde::Serialize;

use super::mirror;
use super::split::{canonical, cli_statements};
use crate::error::{Error, Result};
use crate::events::Event;
use crate::version::Version;
use crate::Migrator;

#[derive(Debug, Clone, Serialize)]
pub struct AdoptReport {
    /// Versions imported into pgkeel's history.
    pub imported: Vec<String>,
    /// Versions pgkeel's history already had.
    pub already_recorded: Vec<String>,
    /// Recorded without statements (an old CLI): imported on the file's word, unverified.
    pub unverified: Vec<String>,
    /// Findings that need a person: not imported.
    pub mismatches: Vec<Mismatch>,
    /// Migration files the Supabase history does not have (pending for `pgkeel up`).
    pub not_in_supabase_history: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Mismatch {
    pub version: String,
    /// `no_file` or `statements_differ`.
    pub kind: &'static str,
    pub message: String,
}

impl Migrator {
    /// Import the Supabase CLI's migration history (see the module docs).
    pub async fn adopt_supabase(&self) -> Result<AdoptReport> {
        let discovered = self.discover()?;
        let mut conn = self.connect("adopt supabase").await?;
        let lock = self.take_lock().await?;
        let history = self.history();
        let result = async {
            let Some(recorded) = mirror::load(&conn.client).await? else {
                return Err(Error::Refused(format!(
                    "no {} table in this database: there is no Supabase history to adopt",
                    mirror::TABLE
                )));
            };
            if let Some(format) = history.ensure(&conn.client).await? {
                self.events.event(Event::HistoryUpgraded { format });
            }
            let ours = history.load(&conn.client).await?;
            let mut report = AdoptReport {
                imported: Vec::new(),
                already_recorded: Vec::new(),
                unverified: Vec::new(),
                mismatches: Vec::new(),
                not_in_supabase_history: Vec::new(),
            };
            let mut rows = Vec::new();
            for r in &recorded {
                let Some(v) = Version::parse(&r.version) else {
                    report.mismatches.push(Mismatch {
                        version: r.version.clone(),
                        kind: "no_file",
                        message: format!("{:?} is not a migration version; no file can match it", r.version),
                    });
                    continue;
                };
                if ours.iter().any(|h| Version::parse(&h.version).as_ref() == Some(&v)) {
                    report.already_recorded.push(r.version.clone());
                    continue;
                }
                let Some(file) = discovered.find(&v) else {
                    report.mismatches.push(Mismatch {
                        version: r.version.clone(),
                        kind: "no_file",
                        message: format!(
                            "version {} ({}) is in the Supabase history but no migration file has it; restore the file, or leave it out of pgkeel's history",
                            r.version,
                            r.name.as_deref().unwrap_or("no name")
                        ),
                    });
                    continue;
                };
                match &r.statements {
                    Some(stmts) if !stmts.is_empty() => {
                        let file_stmts = cli_statements(&file.content[file.up_range.clone()]);
                        if canonical(stmts) != canonical(&file_stmts) {
                            report.mismatches.push(Mismatch {
                                version: r.version.clone(),
                                kind: "statements_differ",
                                message: format!(
                                    "{} differs from the statements the Supabase CLI recorded for {} ({} recorded, {} in the file); the database may not match the file. Check, then `pgkeel baseline` or `pgkeel up` as appropriate",
                                    file.path, r.version, stmts.len(), file_stmts.len()
                                ),
                            });
                            continue;
                        }
                    }
                    _ => report.unverified.push(r.version.clone()),
                }
                rows.push((
                    r.version.clone(),
                    file.name.clone(),
                    file.path.clone(),
                    file.checksum.clone(),
                ));
            }
            for m in &discovered.migrations {
                if !recorded
                    .iter()
                    .any(|r| Version::parse(&r.version).as_ref() == Some(&m.version))
                {
                    report.not_in_supabase_history.push(m.version.to_string());
                }
            }
            let tx = conn
                .client
                .transaction()
                .await
                .map_err(|e| Error::db("starting the import", e))?;
            let q = crate::db::ident(&history.schema);
            let insert = format!(
                "INSERT INTO {q}.migrations (version, name, path, checksum, status, segments_total, segments_done, started_at, finished_at, duration_ms, application_name) \
                 VALUES ($1, $2, $3, $4, 'applied', 1, 1, now(), now(), 0, 'pgkeel adopt supabase')"
            );
            for (v, n, p, c) in &rows {
                tx.execute(&insert, &[v, n, p, c])
                    .await
                    .map_err(|e| Error::db(format!("importing {v}"), e))?;
                report.imported.push(v.clone());
            }
            let details = serde_json::json!({
                "imported": report.imported,
                "unverified": report.unverified,
                "mismatches": report.mismatches,
                "already_recorded": report.already_recorded.len(),
            });
            tx.execute(
                &format!("INSERT INTO {q}.audit_log (action, details) VALUES ('adopt_supabase', $1)"),
                &[&details],
            )
            .await
            .map_err(|e| Error::db("writing the audit log", e))?;
            tx.commit()
                .await
                .map_err(|e| Error::db("committing the import", e))?;
            Ok(report)
        }
        .await;
        if let Err(e) = lock.release().await {
            tracing::warn!("{e}");
        }
        result
    }

    /// `pgkeel supabase bootstrap`, under the migration lock.
    pub async fn supabase_bootstrap(&self, force: bool) -> Result<super::BootstrapReport> {
        let conn = self.connect("supabase bootstrap").await?;
        let lock = self.take_lock().await?;
        let result = super::bootstrap::bootstrap(&conn.client, force).await;
        if let Err(e) = lock.release().await {
            tracing::warn!("{e}");
        }
        result
    }
}
