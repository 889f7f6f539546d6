//! Validation findings as text (`pgkeel validate`), and the row counts and validation `up`
//! prints after a run.

use pgkeel_engine::migrator::UpReport;
use pgkeel_engine::validate::{Severity, ValidateReport};

use crate::stdout::outln;

/// Findings grouped by severity (most severe first): object, message, hint.
pub fn print_findings(r: &ValidateReport) {
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

pub fn summary(r: &ValidateReport) -> String {
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
