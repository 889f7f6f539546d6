//! `migration_status`: the plan — applied, pending, modified, missing, out of order, failed —
//! compact and paginated.

use pgkeel_engine::plan::State;
use rmcp::handler::server::tool::schema_for_output;
use rmcp::handler::server::wrapper::Parameters;
use rmcp::model::CallToolResult;
use rmcp::{tool, tool_router, ErrorData};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::{render, PgkeelServer};

#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct StatusParams {
    /// List applied migrations too (default: only those needing attention; counts cover all).
    #[serde(default)]
    pub include_applied: bool,
    /// Page size (default 50, at most 500).
    pub limit: Option<usize>,
    /// Skip this many listed migrations (from `next_offset` of the previous page).
    #[serde(default)]
    pub offset: usize,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct StatusEntry {
    pub version: String,
    pub name: String,
    /// applied | pending | out_of_order | modified | missing | failed | interrupted | running | rolled_back
    pub state: String,
    pub path: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub applied_at: Option<String>,
    /// The recorded failure, for failed migrations.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<serde_json::Value>,
    /// Lint findings accepted when it was applied: [{rule, reason, source}] (absent when none).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lint_accepted: Option<serde_json::Value>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct StatusBlocker {
    pub version: String,
    pub state: String,
    pub message: String,
    /// The command that resolves it.
    pub fix: String,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct StatusOutput {
    pub database: String,
    pub history_schema: String,
    pub total: usize,
    /// Migrations per state.
    pub counts: serde_json::Value,
    /// The newest applied version.
    pub latest_applied: Option<String>,
    pub migrations: Vec<StatusEntry>,
    /// Offset of the next page, when there is one.
    pub next_offset: Option<usize>,
    /// What stops apply_migration right now.
    pub blockers: Vec<StatusBlocker>,
    pub warnings: Vec<String>,
    /// Another applier holding the lock right now.
    pub applier: Option<String>,
}

#[tool_router(router = migration_status_router, vis = "pub(crate)")]
impl PgkeelServer {
    /// What is applied, pending or needs a fix: files in the project's migration folders against
    /// the history in the database. Changes nothing.
    #[tool(
        name = "migration_status",
        output_schema = schema_for_output::<StatusOutput>(),
        annotations(read_only_hint = true, destructive_hint = false, idempotent_hint = true, open_world_hint = false)
    )]
    pub(crate) async fn migration_status(
        &self,
        Parameters(p): Parameters<StatusParams>,
    ) -> Result<CallToolResult, ErrorData> {
        let report = match self.migrator().status().await {
            Ok(r) => r,
            Err(e) => return Ok(render::error(&e)),
        };
        let limit = p.limit.unwrap_or(50).clamp(1, 500);
        let listed: Vec<_> = report
            .plan
            .entries
            .iter()
            .filter(|e| p.include_applied || e.state != State::Applied)
            .collect();
        let page: Vec<StatusEntry> = listed
            .iter()
            .skip(p.offset)
            .take(limit)
            .map(|e| StatusEntry {
                version: e.version.clone(),
                name: e.name.clone(),
                state: e.state.as_str().to_string(),
                path: e.path.clone(),
                applied_at: e
                    .history
                    .as_ref()
                    .filter(|h| h.status.is_applied())
                    .and_then(|h| h.finished_at)
                    .map(|t| t.to_rfc3339()),
                error: e
                    .history
                    .as_ref()
                    .filter(|_| e.state == State::Failed)
                    .and_then(|h| h.error.clone()),
                lint_accepted: e
                    .history
                    .as_ref()
                    .map(|h| h.lint_accepted.clone())
                    .filter(|a| a.as_array().is_some_and(|a| !a.is_empty())),
            })
            .collect();
        let next_offset = (p.offset + page.len() < listed.len()).then_some(p.offset + page.len());
        let latest_applied = report
            .plan
            .entries
            .iter()
            .rev()
            .find(|e| e.state == State::Applied)
            .map(|e| e.version.clone());
        let c = &report.counts;
        let mut summary = format!("{} migrations: {}.", report.plan.entries.len(), c.summary());
        if !report.blockers.is_empty() {
            summary.push_str(&format!(
                " {} blocker(s) stop apply_migration; see blockers[].fix.",
                report.blockers.len()
            ));
        } else if c.pending + c.interrupted + c.out_of_order > 0 {
            summary.push_str(
                " Next: apply_migration {version} applies pending files up to a version.",
            );
        }
        let out = StatusOutput {
            database: report.database.clone(),
            history_schema: report.history_schema.clone(),
            total: report.plan.entries.len(),
            counts: serde_json::to_value(&report.counts).unwrap_or_default(),
            latest_applied,
            migrations: page,
            next_offset,
            blockers: report
                .blockers
                .iter()
                .map(|b| StatusBlocker {
                    version: b.version.clone(),
                    state: b.state.as_str().to_string(),
                    message: b.message.clone(),
                    fix: b.fix.clone(),
                })
                .collect(),
            warnings: report
                .warnings
                .iter()
                .map(|w| format!("{}: {}", w.path, w.message))
                .collect(),
            applier: report.applier.as_ref().map(|h| h.to_string()),
        };
        Ok(render::ok(summary, &out))
    }
}
