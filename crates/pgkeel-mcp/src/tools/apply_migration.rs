//! `apply_migration`: check, write and apply a new migration — or, with only a version, apply
//! the pending files up to it — under the engine's lock.

use pgkeel_engine::authoring::NewMigration;
use pgkeel_engine::db::backup::BackupTaken;
use pgkeel_engine::db::rowcount::RowCount;
use pgkeel_engine::migrator::UpOptions;
use pgkeel_engine::Error;
use rmcp::handler::server::tool::schema_for_output;
use rmcp::handler::server::wrapper::Parameters;
use rmcp::model::CallToolResult;
use rmcp::service::RequestContext;
use rmcp::{tool, tool_router, ErrorData, RoleServer};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::tools::plan_migration::{acceptances, failure_line, AcceptLint};
use crate::tools::validate_schema::{compact, ValidateOutput};
use crate::{progress, render, PgkeelServer};

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ApplyParams {
    /// What the migration does, e.g. "add_orders". With `sql`: write and apply a new migration.
    pub name: Option<String>,
    /// The new migration's SQL.
    pub sql: Option<String>,
    /// With name and sql: the version to give the new file (default: the next one). Alone: apply
    /// the pending migration files up to and including this version.
    pub version: Option<String>,
    /// With name and sql: the SQL that undoes the migration, written as the file's
    /// `-- pgkeel:down` section (part of its checksum) and run by the `rollback` tool. It must
    /// parse and run in a transaction (no CONCURRENTLY, VACUUM or transaction control).
    pub down: Option<String>,
    /// Lint rules (from plan_migration's `blocked_by_lint`) to accept, each a rule id or
    /// {rule, reason}; any other error finding makes the call refuse before anything is written.
    /// With {name, sql}, a rule that covers a finding of the new migration is written into its
    /// file as `-- pgkeel:accept RULE reason`, so later replays need no flags.
    #[serde(default)]
    pub accept_lint: Vec<AcceptLint>,
    /// With {version} alone: record pending files that have no SQL statement (empty, only
    /// comments or `;`) as applied instead of refusing them (`empty_migration`). The untouched
    /// `pgkeel new` template is refused even so.
    #[serde(default)]
    pub allow_empty: bool,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct ApplyOutput {
    /// The version applied (the new migration's, or the `version` asked for).
    pub version: String,
    /// The new migration's file, when one was written or already existed.
    pub path: Option<String>,
    pub checksum: Option<String>,
    pub file_written: bool,
    pub duration_ms: Option<u64>,
    pub statements: usize,
    /// Every migration applied by this call, in order.
    pub applied: Vec<String>,
    pub notes: Vec<String>,
    /// Rows copied into the backup schema before destructive statements (what `rollback`
    /// restores): `schema.table: N rows (backup ID, kept until TIME)`.
    pub backups: Vec<String>,
    /// Rows of the tables the migrations touched: `table: before → after` (`-`: absent).
    pub row_counts: Vec<String>,
    /// Expectations and health checks after the run (absent when nothing was applied or
    /// `[validate] on_up = "off"`). Findings do not undo the migration.
    pub validation: Option<ValidateOutput>,
    /// The `-- pgkeel:accept RULE reason` lines written into the new file.
    pub accept_lines: Vec<String>,
    /// Lint findings accepted in this call: `path:line:col rule (reason; from source)`.
    pub lint_accepted: Vec<String>,
    /// Acceptances that counted for this call only (findings of files that already existed):
    /// `path: -- pgkeel:accept RULE reason`, the line to add to that file.
    pub accept_lines_to_add: Vec<String>,
    /// With {name, sql}, when the new migration was applied now: what the `rollback` tool
    /// (`{"last": 1}`) would do, from the rollback planning.
    pub rollback: Option<RollbackOutlookOutput>,
}

/// What rolling back the new migration would do.
#[derive(Debug, Serialize, JsonSchema)]
pub struct RollbackOutlookOutput {
    /// The rollback planning accepts it (down SQL, automatic backups, or both).
    pub possible: bool,
    /// How it would be undone, or why it cannot be.
    pub how: String,
    /// The down SQL statements a rollback runs (absent: none).
    pub down_sql: Option<Vec<String>>,
    /// Tables it restores from the automatic backups: `schema.table (N rows, backup ID)`.
    pub restores: Vec<String>,
}

fn accepted_lines(lint: &[pgkeel_engine::lint::LintFinding]) -> Vec<String> {
    lint.iter()
        .filter_map(|f| {
            f.accepted.as_ref().map(|a| {
                format!(
                    "{} {} ({}; from {})",
                    f.location(),
                    f.rule,
                    a.reason,
                    a.source
                )
            })
        })
        .collect()
}

fn lines_to_add(lint: &[pgkeel_engine::lint::LintFinding]) -> Vec<String> {
    pgkeel_engine::lint::accept::lines_to_add(lint)
        .into_iter()
        .map(|l| format!("{}: {}", l.path, l.line))
        .collect()
}

fn backup_lines(backups: &[BackupTaken]) -> Vec<String> {
    backups
        .iter()
        .map(|b| {
            format!(
                "{}: {} rows (backup {}, kept until {})",
                b.table,
                b.rows,
                b.id,
                b.expires_at.format("%Y-%m-%d %H:%M UTC")
            )
        })
        .collect()
}

fn row_count_lines(counts: &[RowCount]) -> Vec<String> {
    counts.iter().map(RowCount::line).collect()
}

/// The summary's tail: backups taken and the validation verdict.
fn after_lines(out: &ApplyOutput) -> String {
    let mut s = String::new();
    if !out.backups.is_empty() {
        s.push_str(&format!(
            "\nBacked up before destructive statements: {}.",
            out.backups.join("; ")
        ));
    }
    if let Some(v) = &out.validation {
        s.push_str(&format!(
            "\nValidation after apply: {} error(s), {} warning(s) (validate_schema lists them).",
            v.errors, v.warnings
        ));
    }
    if !out.lint_accepted.is_empty() {
        s.push_str(&format!(
            "\nLint accepted: {}.",
            out.lint_accepted.join("; ")
        ));
    }
    if !out.accept_lines.is_empty() {
        s.push_str(&format!(
            "\nWritten into the file: {}.",
            out.accept_lines.join("; ")
        ));
    }
    if let Some(r) = &out.rollback {
        s.push_str(&format!(
            "\nRollback: {}.",
            if r.possible {
                r.how.clone()
            } else {
                format!("not possible as it stands ({})", r.how)
            }
        ));
    }
    if !out.accept_lines_to_add.is_empty() {
        s.push_str(&format!(
            "\nAccepted for this call only; to make it part of the file (a person edits it, then `pgkeel repair --accept-checksum VERSION` if it is applied): {}.",
            out.accept_lines_to_add.join("; ")
        ));
    }
    s
}

#[tool_router(router = apply_migration_router, vis = "pub(crate)")]
impl PgkeelServer {
    /// Apply a new migration: {name, sql} checks it as plan_migration does, writes it into the
    /// project's migration folder with its version, and applies it (after any pending ones) in
    /// one transaction with its history row. If it fails, nothing is kept. {version} alone
    /// applies the pending migration files up to that version. Lint error findings (see
    /// plan_migration) refuse the call unless their rule ids are in `accept_lint`. Sends
    /// progress notifications.
    #[tool(
        name = "apply_migration",
        output_schema = schema_for_output::<ApplyOutput>(),
        annotations(read_only_hint = false, destructive_hint = true, idempotent_hint = false, open_world_hint = false)
    )]
    pub(crate) async fn apply_migration(
        &self,
        Parameters(p): Parameters<ApplyParams>,
        ctx: RequestContext<RoleServer>,
    ) -> Result<CallToolResult, ErrorData> {
        let migrator = self.migrator().scoped(progress::for_call(&ctx));
        let accept = match acceptances(&p.accept_lint) {
            Ok(a) => a,
            Err(refusal) => return Ok(refusal),
        };
        if p.down.is_some() && (p.name.is_none() || p.sql.is_none()) {
            return Ok(render::refused(
                "bad_arguments",
                "`down` belongs to a new migration: give it with {name, sql}",
                "call apply_migration {name, sql, down}",
            ));
        }
        match (p.name, p.sql, p.version) {
            (Some(name), Some(sql), version) => {
                let req = NewMigration {
                    name,
                    sql,
                    version,
                    down: p.down,
                };
                match migrator.apply_new_accepting(&req, &accept).await {
                    Ok(a) => {
                        let mut applied = a.applied_before.clone();
                        if a.duration_ms.is_some() {
                            applied.push(a.version.clone());
                        }
                        let mut summary = match a.duration_ms {
                            Some(ms) => format!(
                                "Applied {} ({}) in {ms} ms: {} statement(s){}.",
                                a.version,
                                a.path,
                                a.statements,
                                if a.applied_before.is_empty() {
                                    String::new()
                                } else {
                                    format!(", after pending {}", a.applied_before.join(", "))
                                }
                            ),
                            None => format!(
                                "{} ({}) exists with the same content and was already applied; nothing to do.",
                                a.version, a.path
                            ),
                        };
                        let out = ApplyOutput {
                            version: a.version.clone(),
                            path: Some(a.path),
                            checksum: Some(a.checksum),
                            file_written: a.file_written,
                            duration_ms: a.duration_ms,
                            statements: a.statements,
                            applied,
                            notes: a.notes,
                            backups: backup_lines(&a.backups),
                            row_counts: row_count_lines(&a.row_counts),
                            validation: a.validation.as_ref().map(compact),
                            accept_lines: a.accept_lines.clone(),
                            lint_accepted: accepted_lines(&a.lint),
                            accept_lines_to_add: lines_to_add(&a.lint),
                            rollback: a.rollback.map(|r| RollbackOutlookOutput {
                                possible: r.possible,
                                how: r.how,
                                down_sql: r.down_sql,
                                restores: r.restores,
                            }),
                        };
                        summary.push_str(&after_lines(&out));
                        Ok(render::ok(summary, &out))
                    }
                    Err(Error::MigrationFailed(f)) if f.connection_lost => {
                        // Not the SQL's fault: the outcome says what was in flight, what
                        // history says now, what became of the file, and the next call.
                        let text = format!("Connection lost (not a fault of the SQL): {}.", f.outcome);
                        let mut r = render::error(&Error::MigrationFailed(f));
                        r.content = vec![rmcp::model::ContentBlock::text(text)];
                        Ok(r)
                    }
                    Err(Error::MigrationFailed(f)) => {
                        let text = format!(
                            "Migration failed: {} {}\nNext: fix the SQL and call plan_migration again.",
                            failure_line(&f),
                            f.outcome
                        );
                        let mut r = render::error(&Error::MigrationFailed(f));
                        r.content = vec![rmcp::model::ContentBlock::text(text)];
                        Ok(r)
                    }
                    Err(e) => Ok(render::error(&e)),
                }
            }
            (None, None, Some(version)) => {
                let opts = UpOptions {
                    to: Some(version.clone()),
                    dry_run: false,
                    accept_lint: accept,
                    allow_empty: p.allow_empty,
                    ..UpOptions::default()
                };
                match migrator.up(&opts).await {
                    Ok(report) => {
                        let applied: Vec<String> =
                            report.applied.iter().map(|a| a.version.clone()).collect();
                        let out = ApplyOutput {
                            version: version.clone(),
                            path: None,
                            checksum: None,
                            file_written: false,
                            duration_ms: Some(report.applied.iter().map(|a| a.duration_ms).sum()),
                            statements: report.applied.iter().map(|a| a.statements).sum(),
                            applied: applied.clone(),
                            notes: report
                                .applied
                                .iter()
                                .flat_map(|a| a.notes.clone())
                                .chain(report.types_written.iter().map(|t| format!("types written to {t}")))
                                .collect(),
                            backups: backup_lines(
                                &report
                                    .applied
                                    .iter()
                                    .flat_map(|a| a.backups.iter().cloned())
                                    .collect::<Vec<_>>(),
                            ),
                            row_counts: row_count_lines(&report.row_counts),
                            validation: report.validation.as_ref().map(compact),
                            accept_lines: Vec::new(),
                            lint_accepted: accepted_lines(&report.lint),
                            accept_lines_to_add: lines_to_add(&report.lint),
                            rollback: None,
                        };
                        let after = after_lines(&out);
                        match report.failure {
                            Some(f) => Ok(render::failed(
                                format!(
                                    "Applied {} migration(s), then {} failed: {} {}{after}{}",
                                    applied.len(),
                                    f.version,
                                    failure_line(&f),
                                    f.outcome,
                                    if f.connection_lost {
                                        format!("\nNext: the connection was lost (not a fault of the SQL); call migration_status once the database answers, then apply_migration with {{\"version\": \"{version}\"}} again to resume.")
                                    } else {
                                        String::new()
                                    }
                                ),
                                &out,
                            )),
                            None if applied.is_empty() => Ok(render::ok(
                                format!("Nothing to apply up to {version}: already up to date."),
                                &out,
                            )),
                            None => Ok(render::ok(
                                format!("Applied {} migration(s) up to {version}: {}.{after}", applied.len(), applied.join(", ")),
                                &out,
                            )),
                        }
                    }
                    Err(e) => Ok(render::error(&e)),
                }
            }
            _ => Ok(render::refused(
                "bad_arguments",
                "give {name, sql} to write and apply a new migration, or {version} alone to apply pending files up to it",
                "call plan_migration {name, sql} first, then apply_migration with the same arguments",
            )),
        }
    }
}
