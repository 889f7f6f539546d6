//! The `validate` operation: declared expectations and health checks over one read connection,
//! with the severities (and "off") of `[validate.checks]`.

use std::time::Instant;

use serde::Serialize;

use crate::db::checks::{self, Scope};
use crate::db::introspect::{self, Detail, SchemaFilter, SchemaModel};
use crate::error::{Error, Result};
use crate::migrator::Migrator;
use crate::validate::expectations;
use crate::validate::settings::{self, Level, EXPECTATIONS};
use crate::validate::{Finding, Severity};

/// What to validate.
#[derive(Debug, Clone, Default)]
pub struct ValidateOptions {
    /// Only these check ids (and/or `expectations`), even ones configured "off". `None`: every
    /// check not configured "off", and the expectations when any are declared.
    pub checks: Option<Vec<String>>,
}

/// Findings per severity.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct SeverityCounts {
    pub error: usize,
    pub warning: usize,
    pub info: usize,
}

/// What `validate` found.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ValidateReport {
    /// Most severe first, then in check order, then by object.
    pub findings: Vec<Finding>,
    pub counts: SeverityCounts,
    /// The ids that ran (checks, and `expectations` when declared expectations were checked).
    pub checks_run: Vec<String>,
    pub duration_ms: u64,
    /// True when this report fails the operation it belongs to: `validate` with an error
    /// finding; `up` with an error finding and `--validate` or `[validate] on_up = "fail"`.
    pub fails: bool,
}

impl ValidateReport {
    /// True when a finding has severity error.
    pub fn has_errors(&self) -> bool {
        self.counts.error > 0
    }
}

/// The checks to run, each with the severity `[validate.checks]` gives its findings (`None`:
/// keep the severity the check gives each finding — several grade their findings, e.g.
/// sequence_exhaustion warns at 75 % and errs at 90 %).
type Selected = Vec<(&'static str, Option<Severity>)>;

/// Which ids run and at which severity: `(checks, Some(severity) for expectations)`.
fn select(
    s: &settings::ValidateSettings,
    opts: &ValidateOptions,
) -> Result<(Selected, Option<Severity>)> {
    let explicit = opts.checks.as_ref();
    if let Some(ids) = explicit {
        let known = settings::known_ids();
        for id in ids {
            if !known.contains(&id.as_str()) {
                return Err(Error::Config(format!(
                    "unknown check {id:?}; the checks are: {}",
                    known.join(", ")
                )));
            }
        }
    }
    let wanted = |id: &str| explicit.is_none_or(|ids| ids.iter().any(|i| i == id));
    // A check named explicitly runs even when configured off (at its default severity then).
    // Some(None): runs, findings keep the check's own severities; None: does not run.
    let severity = |id: &str| match s.checks.get(id) {
        Some(Level::Severity(sev)) => Some(Some(*sev)),
        Some(Level::Off) if explicit.is_some() => Some(None),
        Some(Level::Off) => None,
        None => Some(None),
    };
    let mut selected = Vec::new();
    for c in checks::ALL {
        if wanted(c.id) {
            if let Some(sev) = severity(c.id) {
                selected.push((c.id, sev));
            }
        }
    }
    let expect = if wanted(EXPECTATIONS) && (!s.expect.is_empty() || explicit.is_some()) {
        severity(EXPECTATIONS).map(|sev| sev.unwrap_or(Severity::Error))
    } else {
        None
    };
    Ok((selected, expect))
}

impl Migrator {
    /// Check the live schema: declared expectations (against the introspection model) and the
    /// health checks of [`crate::db::checks`], concurrently on one read connection. Changes
    /// nothing.
    pub async fn validate(&self, opts: &ValidateOptions) -> Result<ValidateReport> {
        let started = Instant::now();
        let s = &self.config.validate;
        let (selected, expect_severity) = select(s, opts)?;
        let conn = self.read_conn("validate").await?;
        let client: &tokio_postgres::Client = &conn;

        let ids: Vec<&str> = selected.iter().map(|(id, _)| *id).collect();
        let run_checks = async {
            if ids.is_empty() {
                return Ok(Vec::new());
            }
            let schemas = match &s.schemas {
                Some(schemas) => schemas.clone(),
                None => {
                    Scope::default_schemas(
                        client,
                        &[&self.config.history_schema, &self.config.backup.schema],
                    )
                    .await?
                }
            };
            let scope = Scope {
                schemas,
                exposed_schemas: s.exposed_schemas.clone(),
            };
            checks::run(client, &ids, &scope).await
        };
        let describe = async {
            if expect_severity.is_none() || s.expect.is_empty() {
                return Ok(SchemaModel::default());
            }
            // Every schema but PostgreSQL's own and the history: an expectation may name any.
            let filter = SchemaFilter {
                schemas: None,
                table: None,
                exclude: vec![self.config.history_schema.clone()],
            };
            introspect::describe_detail(client, &filter, Detail::Types).await
        };
        // Both run to completion (no early return on the first error): the describe
        // transaction must end with its ROLLBACK before the connection goes back to a pool.
        // Several pipelined queries: the client-side deadline gets twice the connect deadline
        // (each query is also bounded by the session's statement_timeout on the server).
        let (mut findings, model) = self
            .within(
                "running the health checks and reading the schema",
                self.config.connect_timeout,
                async {
                    let (findings, model) = futures_util::join!(run_checks, describe);
                    Ok((findings?, model?))
                },
            )
            .await?;

        for f in &mut findings {
            if let Some((_, Some(sev))) = selected.iter().find(|(id, _)| *id == f.check) {
                f.severity = *sev;
            }
        }
        if let Some(sev) = expect_severity {
            findings.extend(
                expectations::evaluate(&s.expect, &model)
                    .into_iter()
                    .map(|f| Finding { severity: sev, ..f }),
            );
        }
        // Most severe first; the order within a severity stays (check order, then object).
        findings.sort_by_key(|f| std::cmp::Reverse(f.severity));

        let mut counts = SeverityCounts::default();
        for f in &findings {
            match f.severity {
                Severity::Error => counts.error += 1,
                Severity::Warning => counts.warning += 1,
                Severity::Info => counts.info += 1,
            }
        }
        let mut checks_run: Vec<String> = ids.iter().map(|id| id.to_string()).collect();
        if expect_severity.is_some() {
            checks_run.push(EXPECTATIONS.to_string());
        }
        Ok(ValidateReport {
            findings,
            counts,
            checks_run,
            duration_ms: started.elapsed().as_millis() as u64,
            fails: counts.error > 0,
        })
    }
}

impl Migrator {
    /// The post-flight of `up`: validation unless `[validate] on_up = "off"` (and not
    /// `--validate`). A failure to validate is a warning: the migrations are applied.
    pub(crate) async fn validate_after_up(
        &self,
        fail_on_error: bool,
        warnings: &mut Vec<crate::discovery::Warning>,
    ) -> Option<ValidateReport> {
        let on_up = self.config.validate.on_up;
        if on_up == settings::OnUp::Off && !fail_on_error {
            return None;
        }
        match self.validate(&ValidateOptions::default()).await {
            Ok(mut r) => {
                r.fails = r.has_errors() && (fail_on_error || on_up == settings::OnUp::Fail);
                Some(r)
            }
            Err(e) => {
                warnings.push(crate::discovery::Warning {
                    path: String::new(),
                    message: format!("validation after up not run: {e}"),
                });
                None
            }
        }
    }
}
