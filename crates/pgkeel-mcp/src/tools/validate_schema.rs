//! `validate_schema`: the declared expectations (`[expect]`) and the health checks (tables
//! without a primary key, foreign keys without an index, RLS, …) against the live schema, as
//! compact findings. Built on the engine's `validate` operation; read-only.

use pgkeel_engine::validate::{ValidateOptions, ValidateReport};
use rmcp::handler::server::tool::schema_for_output;
use rmcp::handler::server::wrapper::Parameters;
use rmcp::model::{CallToolResult, ContentBlock};
use rmcp::{tool, tool_router, ErrorData};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::{boundary, render, PgkeelServer};

#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ValidateParams {
    /// Only these checks: ids such as `missing_primary_key`, `fk_without_index`,
    /// `rls_disabled`, or `expectations` for the declared expectations. Default: every check
    /// not configured "off" in `[validate.checks]`, and the expectations.
    pub checks: Option<Vec<String>>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct ValidateOutput {
    /// True when no finding has severity error.
    pub passed: bool,
    pub errors: usize,
    pub warnings: usize,
    pub infos: usize,
    /// The checks that ran.
    pub checks_run: Vec<String>,
    /// Most severe first.
    pub findings: Vec<CompactFinding>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct CompactFinding {
    /// Check id, or `expect.table|view|enum|column|function|forbidden`.
    pub check: String,
    /// `error`, `warning` or `info`.
    pub severity: String,
    /// The object concerned, e.g. `public.orders`.
    pub object: String,
    pub message: String,
    /// How to fix it.
    pub hint: String,
}

pub(crate) fn compact(r: &ValidateReport) -> ValidateOutput {
    ValidateOutput {
        passed: r.counts.error == 0,
        errors: r.counts.error,
        warnings: r.counts.warning,
        infos: r.counts.info,
        checks_run: r.checks_run.clone(),
        findings: r
            .findings
            .iter()
            .map(|f| CompactFinding {
                check: f.check.clone(),
                severity: f.severity.as_str().to_string(),
                object: f.object.clone(),
                message: f.message.clone(),
                hint: f.hint.clone(),
            })
            .collect(),
    }
}

#[tool_router(router = validate_schema_router, vis = "pub(crate)")]
impl PgkeelServer {
    /// Validate the live schema: declared expectations (required tables, views, enums, columns,
    /// functions; forbidden objects) and health checks (missing primary keys, unindexed foreign
    /// keys, invalid indexes, NOT VALID constraints, orphan rows, RLS, SECURITY DEFINER
    /// search_path, duplicate indexes, sequences near exhaustion, extensions in public). Returns
    /// findings with a severity and a fix hint. Read-only.
    #[tool(
        name = "validate_schema",
        output_schema = schema_for_output::<ValidateOutput>(),
        annotations(read_only_hint = true, destructive_hint = false, idempotent_hint = true, open_world_hint = false)
    )]
    pub(crate) async fn validate_schema(
        &self,
        Parameters(p): Parameters<ValidateParams>,
    ) -> Result<CallToolResult, ErrorData> {
        let opts = ValidateOptions { checks: p.checks };
        let report = match self.migrator().validate(&opts).await {
            Ok(r) => r,
            Err(e) => return Ok(render::error(&e)),
        };
        let out = compact(&report);
        let summary = format!(
            "{}: {} error(s), {} warning(s), {} info from {} check(s).",
            if out.passed { "passed" } else { "failed" },
            out.errors,
            out.warnings,
            out.infos,
            out.checks_run.len()
        );
        let mut result = render::ok(summary.clone(), &out);
        if !out.findings.is_empty() {
            // Object names come from the database: wrap the findings like query results.
            let listing = out
                .findings
                .iter()
                .map(|f| {
                    format!(
                        "{} {} [{}]: {} (fix: {})",
                        f.severity, f.object, f.check, f.message, f.hint
                    )
                })
                .collect::<Vec<_>>()
                .join("\n");
            result.content = vec![ContentBlock::text(format!(
                "{summary}\n{}",
                boundary::wrap(&listing)
            ))];
        }
        Ok(result)
    }
}
