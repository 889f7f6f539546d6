//! `rollback`: undo applied migrations (down SQL + automatic backups, one transaction). Without
//! a token it confirms with the user through elicitation when the client supports it, and
//! otherwise returns the plan and a confirmation token and changes nothing. With the token it
//! executes the plan the token was issued for.

use pgkeel_engine::rollback::{PlanReport, RollbackOptions, RollbackReport, Selector};
use rmcp::handler::server::tool::schema_for_output;
use rmcp::handler::server::wrapper::Parameters;
use rmcp::model::CallToolResult;
use rmcp::service::{ElicitationError, RequestContext};
use rmcp::{elicit_safe, tool, tool_router, ErrorData, RoleServer};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::{progress, render, PgkeelServer};

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RollbackParams {
    /// Roll back every applied migration after this version (it stays applied). Give this or
    /// `last`, not both.
    pub to_version: Option<String>,
    /// Roll back the last N applied migrations.
    pub last: Option<u64>,
    /// The token a previous call returned for this exact plan: executes it.
    pub confirm_token: Option<String>,
    /// Restore backups whose window has ended anyway (still needs the token or the user's
    /// confirmation).
    #[serde(default)]
    pub force_expired: bool,
}

/// What the user is asked to confirm.
#[derive(Debug, Deserialize, JsonSchema)]
pub struct Confirmation {
    /// Roll back as planned (the database changes; nothing happens otherwise).
    pub confirm: bool,
}
elicit_safe!(Confirmation);

#[derive(Debug, Serialize, JsonSchema)]
pub struct TargetSummary {
    pub version: String,
    pub name: String,
    /// Statements of its down SQL (0: the backups alone restore it).
    pub down_statements: usize,
    /// When the migration has no down SQL: the down SQL pgkeel generated from the snapshot
    /// taken when it was applied, in full (the token binds this exact text).
    pub generated_down: Option<String>,
    /// `schema.table (N rows, backup ID, expires AT)` per backup restored.
    pub restores: Vec<String>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct RestoredSummary {
    pub table: String,
    pub rows: i64,
    /// Row count and checksum compared equal to the backup's.
    pub verified: bool,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct RollbackOutput {
    /// `planned` (nothing changed; a token was returned), `rolled_back`, `declined` or
    /// `cancelled` (the user said no: nothing changed).
    pub outcome: String,
    /// The plan, newest first.
    pub targets: Vec<TargetSummary>,
    /// With `planned`: pass it back as `confirm_token` to execute this exact plan.
    pub token: Option<String>,
    pub token_expires_at: Option<String>,
    /// When a backup's window has ended: how to restore by hand (the rollback itself needs
    /// `force_expired`).
    pub manual_procedure: Option<String>,
    /// With `rolled_back`: the versions, newest first.
    pub rolled_back: Vec<String>,
    pub restored: Vec<RestoredSummary>,
    /// With `rolled_back`: the `[types] out` file, when it was regenerated (its content changed).
    pub types_written: Option<String>,
    /// With `rolled_back`: what did not stop it (e.g. types not regenerated, and why).
    pub warnings: Vec<String>,
}

fn summary(p: &PlanReport) -> (String, Vec<TargetSummary>) {
    let mut text = format!(
        "Roll back {} migration(s) on {}, newest first (one transaction):",
        p.plan.targets.len(),
        p.database
    );
    let mut targets = Vec::new();
    for t in &p.plan.targets {
        let restores: Vec<String> = t
            .backups
            .iter()
            .map(|b| {
                format!(
                    "{} ({} rows, backup {}, {}, expires {})",
                    b.source(),
                    b.row_count,
                    b.id,
                    b.reason,
                    b.expires_at.format("%Y-%m-%d %H:%M UTC")
                )
            })
            .collect();
        let generated = t.generated.as_ref().map(|g| g.text.clone());
        let n = t.down.as_ref().map_or_else(
            || {
                t.generated
                    .as_ref()
                    .map_or(0, |g| g.before_restore.len() + g.after_restore.len())
            },
            |d| d.statements.len(),
        );
        text.push_str(&format!(
            "\n- {} {}: {}{}",
            t.version,
            t.name,
            match (&generated, n) {
                (Some(g), _) => format!(
                    "generated down SQL (from the snapshot taken when it was applied), {n} statement(s):\n{g}"
                ),
                (None, 0) => "no down SQL".to_string(),
                (None, _) => format!("down SQL, {n} statement(s)"),
            },
            if restores.is_empty() {
                String::new()
            } else {
                format!("; restore {}", restores.join("; "))
            }
        ));
        targets.push(TargetSummary {
            version: t.version.clone(),
            name: t.name.clone(),
            down_statements: n,
            generated_down: generated,
            restores,
        });
    }
    if !p.plan.expired_backups.is_empty() {
        text.push_str("\nSome backups are past their window: force_expired is needed.");
    }
    (text, targets)
}

fn done(r: &RollbackReport) -> CallToolResult {
    let out = RollbackOutput {
        outcome: "rolled_back".into(),
        targets: Vec::new(),
        token: None,
        token_expires_at: None,
        manual_procedure: None,
        rolled_back: r.rolled_back.clone(),
        restored: r
            .restored
            .iter()
            .map(|t| RestoredSummary {
                table: t.table.clone(),
                rows: t.rows,
                verified: t.verified,
            })
            .collect(),
        types_written: r.types_written.clone(),
        warnings: r.warnings.clone(),
    };
    let mut text = format!(
        "Rolled back {} in {} ms; {} table(s) restored. The migrations are pending again.",
        r.rolled_back.join(", "),
        r.duration_ms,
        r.restored.len()
    );
    if let Some(t) = &r.types_written {
        text.push_str(&format!("\nTypes written to {t}."));
    }
    for w in &r.warnings {
        text.push_str(&format!("\nWarning: {w}."));
    }
    render::ok(text, &out)
}

#[tool_router(router = rollback_router, vis = "pub(crate)")]
impl PgkeelServer {
    /// Roll back applied migrations: their down SQL and the automatic backups' rows, in one
    /// transaction, history set to rolled_back. Give exactly one of to_version (keep it, undo
    /// what came after) or last (N newest). Without confirm_token: if the client supports
    /// elicitation the user is asked to confirm the plan (declined: nothing happens); otherwise
    /// the plan and a short-lived token come back and nothing changes. Show the plan to the
    /// user, and only with their agreement call again with confirm_token.
    #[tool(
        name = "rollback",
        output_schema = schema_for_output::<RollbackOutput>(),
        annotations(read_only_hint = false, destructive_hint = true, idempotent_hint = false, open_world_hint = false)
    )]
    pub(crate) async fn rollback(
        &self,
        Parameters(p): Parameters<RollbackParams>,
        ctx: RequestContext<RoleServer>,
    ) -> Result<CallToolResult, ErrorData> {
        let selector = match (p.to_version, p.last) {
            (Some(v), None) => Selector::To(v),
            (None, Some(n)) => Selector::Last(usize::try_from(n).unwrap_or(usize::MAX)),
            _ => {
                return Ok(render::refused(
                    "bad_arguments",
                    "give exactly one of to_version or last",
                    "call migration_status to see the applied versions, then rollback {to_version} or {last}",
                ))
            }
        };
        let migrator = self.migrator().scoped(progress::for_call(&ctx));
        let execute = |token: String| {
            let opts = RollbackOptions {
                selector: selector.clone(),
                confirm_token: token,
                force_expired: p.force_expired,
            };
            let migrator = &migrator;
            async move { migrator.rollback(&opts).await }
        };
        if let Some(token) = p.confirm_token {
            return Ok(match execute(token).await {
                Ok(r) => done(&r),
                Err(e) => render::error(&e),
            });
        }
        let plan = match migrator.rollback_plan(&selector).await {
            Ok(plan) => plan,
            Err(e) => return Ok(render::error(&e)),
        };
        let text = summary(&plan).0;
        let output = |outcome: &str, token: bool| RollbackOutput {
            outcome: outcome.into(),
            targets: summary(&plan).1,
            token: token.then(|| plan.token.clone()),
            token_expires_at: token.then(|| plan.token_expires_at.to_rfc3339()),
            manual_procedure: plan.manual_procedure.clone(),
            rolled_back: Vec::new(),
            restored: Vec::new(),
            types_written: None,
            warnings: Vec::new(),
        };
        match ctx
            .peer
            .elicit::<Confirmation>(format!("{text}\nConfirm the rollback?"))
            .await
        {
            Ok(Some(Confirmation { confirm: true })) => Ok(match execute(plan.token.clone()).await {
                Ok(r) => done(&r),
                Err(e) => render::error(&e),
            }),
            Ok(_) | Err(ElicitationError::UserDeclined) | Err(ElicitationError::NoContent) => {
                Ok(render::ok(
                    "The user declined the rollback: nothing happened.",
                    &output("declined", false),
                ))
            }
            Err(ElicitationError::UserCancelled) => Ok(render::ok(
                "The user cancelled the rollback: nothing happened.",
                &output("cancelled", false),
            )),
            Err(ElicitationError::CapabilityNotSupported) => Ok(render::ok(
                format!(
                    "{text}\nNothing has changed. Show this plan to the user; only if they agree, call rollback again with the same target and confirm_token: {} (valid until {}).{}",
                    plan.token,
                    plan.token_expires_at.format("%Y-%m-%d %H:%M:%S UTC"),
                    plan.manual_procedure.as_ref().map(|m| format!("\n{m}")).unwrap_or_default()
                ),
                &output("planned", true),
            )),
            Err(e) => Ok(render::refused(
                "confirmation_failed",
                format!("asking the user to confirm failed ({e}): nothing happened"),
                "call rollback again; or show the plan to the user and use confirm_token",
            )),
        }
    }
}
