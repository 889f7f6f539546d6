//! `plan_migration`: the version and path a new migration would get, its statements, and a dry
//! run in a rolled-back transaction. Changes nothing.

use pgkeel_engine::authoring::{AuthoringPlan, NewMigration, StatementSummary};
use pgkeel_engine::lint::accept::{Acceptance, Source};
use pgkeel_engine::lint::explain;
use pgkeel_engine::validate::Severity;
use pgkeel_engine::MigrationFailure;
use rmcp::handler::server::tool::schema_for_output;
use rmcp::handler::server::wrapper::Parameters;
use rmcp::model::CallToolResult;
use rmcp::{tool, tool_router, ErrorData};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::{render, PgkeelServer};

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PlanParams {
    /// What the migration does, e.g. "add_orders" (becomes part of the file name).
    pub name: String,
    /// The migration's SQL: one or more statements.
    pub sql: String,
    /// The version to give it, written as in file names (e.g. 20240101120000). Default: the next
    /// one in the project's naming scheme.
    pub version: Option<String>,
    /// The SQL that undoes it, as apply_migration takes it: written as the file's
    /// `-- pgkeel:down` section (part of the checksum); what the `rollback` tool runs.
    pub down: Option<String>,
    /// Lint rules to accept, as apply_migration would (the plan then shows the file with its
    /// `-- pgkeel:accept` lines, and the checksum of that content).
    #[serde(default)]
    pub accept_lint: Vec<AcceptLint>,
}

/// A lint rule to accept: its id (`"ban-drop-column"`, with the reason "accepted through MCP
/// apply_migration"), or `{"rule": ..., "reason": ...}` saying why the risk is acceptable.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum AcceptLint {
    Rule(String),
    WithReason(AcceptWithReason),
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AcceptWithReason {
    /// A squawk rule id, e.g. ban-drop-column.
    pub rule: String,
    /// Why the risk is acceptable (one line in the migration file).
    pub reason: String,
}

/// The engine's acceptances for `accept_lint`, or a refusal for an empty or overlong reason.
pub(crate) fn acceptances(list: &[AcceptLint]) -> Result<Vec<Acceptance>, CallToolResult> {
    list.iter()
        .map(|a| {
            let (rule, reason) = match a {
                AcceptLint::Rule(r) => (r.as_str(), None),
                AcceptLint::WithReason(w) => (w.rule.as_str(), Some(w.reason.as_str())),
            };
            Acceptance::run(rule, reason, Source::Mcp).map_err(|e| {
                render::refused(
                    "bad_arguments",
                    format!("accept_lint {rule:?}: {e}"),
                    "give accept_lint entries as {\"rule\": RULE, \"reason\": why the risk is acceptable}",
                )
            })
        })
        .collect()
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct PlanOutput {
    pub version: String,
    pub path: String,
    pub checksum: String,
    /// A file with this version and the same content exists already.
    pub already_exists: bool,
    pub statements: Vec<PlanStatement>,
    /// Units it runs in: one transaction, plus one per statement that cannot run in one.
    pub segments: usize,
    pub notes: Vec<String>,
    /// Pending migrations that run before it.
    pub pending_before: Vec<String>,
    /// True when the dry run succeeded.
    pub dry_run_ok: bool,
    /// The dry run's failure: file, line, column, statement, SQLSTATE, message, hint.
    pub failure: Option<serde_json::Value>,
    /// Lint findings (squawk) of the pending migrations and this one: rule, severity, path,
    /// line, column, end_line, end_column, message, help, part (up/down).
    pub lint: Vec<serde_json::Value>,
    /// Rule ids of error findings that make apply_migration refuse unless passed in its
    /// `accept_lint`.
    pub blocked_by_lint: Vec<String>,
    /// The `-- pgkeel:accept RULE reason` lines the new file gets from `accept_lint` (included
    /// in `checksum`).
    pub accept_lines: Vec<String>,
    /// Tables apply_migration would copy into the backup schema before destructive statements
    /// (what `rollback` restores): `schema.table (reason): ~N rows, B bytes` (estimates now).
    pub backups: Vec<String>,
    /// True when the file has down SQL (from `down` or a `-- pgkeel:down` section in `sql`).
    pub has_down: bool,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct PlanStatement {
    pub number: usize,
    pub line: usize,
    pub kind: String,
    /// Why it runs on its own, outside a transaction.
    pub non_transactional: Option<String>,
}

impl From<&StatementSummary> for PlanStatement {
    fn from(s: &StatementSummary) -> Self {
        PlanStatement {
            number: s.number,
            line: s.line,
            kind: s.kind.clone(),
            non_transactional: s.non_transactional.map(str::to_string),
        }
    }
}

pub(crate) fn failure_line(f: &MigrationFailure) -> String {
    let at = match (f.line, f.column) {
        (Some(l), Some(c)) => format!(" at line {l}, column {c}"),
        _ => String::new(),
    };
    let stmt = f
        .statement
        .map(|n| format!(" (statement {n})"))
        .unwrap_or_default();
    let code = f
        .sqlstate
        .as_deref()
        .map(|c| format!(" [{c}]"))
        .unwrap_or_default();
    let hint = f
        .hint
        .as_deref()
        .map(|h| format!(" Hint: {h}."))
        .unwrap_or_default();
    format!("{}{at}{stmt}{code}: {}.{hint}", f.path, f.message)
}

impl PlanOutput {
    fn from_plan(p: &AuthoringPlan) -> PlanOutput {
        PlanOutput {
            version: p.version.clone(),
            path: p.path.clone(),
            checksum: p.checksum.clone(),
            already_exists: p.already_exists,
            statements: p.statements.iter().map(PlanStatement::from).collect(),
            segments: p.segments,
            notes: p
                .notes
                .iter()
                .cloned()
                .chain(
                    p.parse_warnings
                        .iter()
                        .map(|w| format!("{}: {}", w.path, w.message)),
                )
                .collect(),
            pending_before: p.pending_before.clone(),
            dry_run_ok: p.failure.is_none(),
            failure: p
                .failure
                .as_ref()
                .and_then(|f| serde_json::to_value(f).ok()),
            lint: p
                .lint
                .iter()
                .filter_map(|f| serde_json::to_value(f).ok())
                .collect(),
            blocked_by_lint: p.blocked_by_lint.clone(),
            accept_lines: p.accept_lines.clone(),
            backups: p
                .dry_run
                .iter()
                .flat_map(|d| d.items.iter())
                .flat_map(|i| i.backups.iter())
                .map(|b| {
                    let rows = if b.rows_estimate < 0 {
                        "rows not yet estimated".to_string()
                    } else {
                        format!("~{} rows", b.rows_estimate)
                    };
                    format!("{} ({}): {rows}, {} bytes", b.table, b.reason, b.bytes)
                })
                .collect(),
            has_down: p.has_down,
        }
    }
}

/// The lint findings in one line each, for the summary text.
fn lint_summary(p: &AuthoringPlan) -> String {
    let mut s = String::new();
    // Info findings (not hazards in context) stay in structuredContent only: agents pay per token.
    let info = p
        .lint
        .iter()
        .filter(|f| f.severity == Severity::Info && f.accepted.is_none())
        .count();
    for f in p
        .lint
        .iter()
        .filter(|f| f.severity != Severity::Info || f.accepted.is_some())
    {
        s.push_str(&format!("\nLint {f}"));
        if let Some(r) = &f.reason {
            s.push_str(&format!(" Why: {r}."));
        }
        match (&f.accepted, &f.help) {
            (Some(a), _) => s.push_str(&format!(" (accepted: {}; from {})", a.reason, a.source)),
            (None, Some(h)) => s.push_str(&format!(" Help: {h}")),
            (None, None) => {}
        }
    }
    if info > 0 {
        s.push_str(&format!(
            "\n{info} info lint finding(s): not hazards here (tables created earlier in this run, absent or small); see `lint`."
        ));
    }
    for l in &p.accept_lines {
        s.push_str(&format!("\nThe file gets the line: {l}"));
    }
    if !p.blocked_by_lint.is_empty() {
        s.push_str(&format!(
            "\napply_migration will refuse because of: {}.",
            p.blocked_by_lint.join(", ")
        ));
        for rule in &p.blocked_by_lint {
            if let Ok(e) = explain::explain(rule) {
                s.push_str(&format!(
                    "\nWhy {rule} matters: {}\nSafe form:\n{}",
                    e.why, e.safe
                ));
            }
        }
    }
    if !s.is_empty() {
        s.push('\n');
    }
    s
}

#[tool_router(router = plan_migration_router, vis = "pub(crate)")]
impl PgkeelServer {
    /// Check a new migration without changing anything: the version and file path it would get,
    /// its statements (and which run outside a transaction), and a dry run of the pending
    /// migrations plus this one in a transaction that is rolled back; lint findings (squawk),
    /// with `blocked_by_lint` naming the error rules apply_migration refuses unless accepted.
    #[tool(
        name = "plan_migration",
        output_schema = schema_for_output::<PlanOutput>(),
        annotations(read_only_hint = true, destructive_hint = false, idempotent_hint = true, open_world_hint = false)
    )]
    pub(crate) async fn plan_migration(
        &self,
        Parameters(p): Parameters<PlanParams>,
    ) -> Result<CallToolResult, ErrorData> {
        let accept = match acceptances(&p.accept_lint) {
            Ok(a) => a,
            Err(refusal) => return Ok(refusal),
        };
        let req = NewMigration {
            name: p.name,
            sql: p.sql,
            version: p.version,
            down: p.down,
        };
        let plan = match self.migrator().plan_new_accepting(&req, &accept).await {
            Ok(plan) => plan,
            Err(e) => return Ok(render::error(&e)),
        };
        let out = PlanOutput::from_plan(&plan);
        let before = if plan.pending_before.is_empty() {
            String::new()
        } else {
            format!(" after {} pending migration(s)", plan.pending_before.len())
        };
        let mut lint = lint_summary(&plan);
        if !out.backups.is_empty() {
            lint.push_str(&format!(
                "\nBefore its destructive statements, apply_migration backs up: {}.\n",
                out.backups.join("; ")
            ));
        }
        Ok(match &plan.failure {
            None => render::ok(
                format!(
                    "{} as version {}: {} statement(s) in {} segment(s); dry run{before} succeeded and was rolled back.{lint} Next: apply_migration with the same {} (it writes version {} again; passing version {} makes that explicit){}.",
                    plan.path,
                    plan.version,
                    plan.statements.len(),
                    plan.segments,
                    if out.has_down { "name, sql and down" } else { "name and sql (add down, the SQL that undoes it, so the rollback tool can undo it)" },
                    plan.version,
                    plan.version,
                    if plan.blocked_by_lint.is_empty() {
                        String::new()
                    } else {
                        format!(
                            " (fix the SQL, or, if the user agreed to the risk, pass accept_lint: [{{\"rule\": RULE, \"reason\": why}}] for {:?}: apply_migration writes a `-- pgkeel:accept` line into the file)",
                            plan.blocked_by_lint
                        )
                    }
                ),
                &out,
            ),
            Some(f) => render::failed(
                format!(
                    "Dry run failed (nothing changed): {} Next: fix the SQL and call plan_migration again.",
                    failure_line(f)
                ),
                &out,
            ),
        })
    }
}
