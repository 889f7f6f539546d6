//! `pgkeel validate` and the validation part of `up`'s output (the work is the engine's:
//! pgkeel_engine::validate).

use std::process::ExitCode;

use pgkeel_engine::migrator::UpReport;
use pgkeel_engine::validate::{Severity, ValidateOptions, ValidateReport};
use pgkeel_engine::Migrator;
use serde_json::json;

use crate::exit::Exit;
use crate::output::{outln, Out};

pub async fn run(migrator: &Migrator, checks: Vec<String>, out: &Out, json: bool) -> ExitCode {
    let opts = ValidateOptions {
        checks: (!checks.is_empty()).then_some(checks),
    };
    let report = match migrator.validate(&opts).await {
        Ok(r) => r,
        Err(e) => return out.engine_error(&e),
    };
    let code = if report.fails { Exit::Check } else { Exit::Ok };
    if json {
        out.print_json(&out.document(true, json!({ "result": report })));
        return code.into();
    }
    print_findings(&report);
    outln!("{}", summary(&report));
    code.into()
}

/// Findings grouped by severity (most severe first): object, message, hint.
fn print_findings(r: &ValidateReport) {
    for severity in [Severity::Error, Severity::Warning, Severity::Info] {
        let group: Vec<_> = r
            .findings
            .iter()
            .filter(|f| f.severity == severity)
            .collect();
        if group.is_empty() {
            continue;
        }
        outln!("{} ({}):", severity, group.len());
        for f in group {
            outln!("  {} [{}]: {}", f.object, f.check, f.message);
            outln!("      fix: {}", f.hint);
        }
    }
}

fn summary(r: &ValidateReport) -> String {
    format!(
        "validate: {} error(s), {} warning(s), {} info from {} check(s) in {} ms",
        r.counts.error,
        r.counts.warning,
        r.counts.info,
        r.checks_run.len(),
        r.duration_ms
    )
}

/// `up` in text mode: the row counts of the tables the migrations touched, and the validation
/// after the run (failing the run with `--validate` / `on_up = "fail"`).
pub fn print_up(r: &UpReport) {
    if !r.row_counts.is_empty() {
        outln!("rows in the tables the migrations touched (before → after):");
        for c in &r.row_counts {
            outln!("  {}", c.line());
        }
    }
    let Some(v) = &r.validation else {
        return;
    };
    print_findings(v);
    outln!(
        "{}",
        summary(v).replacen("validate:", "validation after up:", 1)
    );
    if v.fails {
        eprintln!(
            "error: validation found {} error(s) after up; the migrations stay applied: fix the schema with a new migration (or the expectations), then run pgkeel validate",
            v.counts.error
        );
    }
}
