//! `pgkeel lint [FILES]`: squawk's rules over migration files, no database needed (the work is
//! the engine's: pgkeel_engine::lint). `pgkeel lint --explain RULE`: why a rule exists and its
//! safe form (pgkeel_engine::lint::explain).

use std::process::ExitCode;

use pgkeel_engine::lint::files::{self, LintReport};
use pgkeel_engine::lint::{accept, explain as explanations, LintFinding};
use pgkeel_engine::validate::Severity;
use pgkeel_engine::Config;
use serde_json::json;

use crate::exit::Exit;
use crate::output::Out;
use crate::render::lint::finding_lines;
use crate::stdout::outln;

/// Lint `paths` (relative to `cwd`), or every discovered migration when there are none.
pub fn run(
    config: &Config,
    cwd: &std::path::Path,
    paths: &[String],
    out: &Out,
    json: bool,
) -> ExitCode {
    let result = if paths.is_empty() {
        files::lint_discovered(config, &config.lint)
    } else {
        files::lint_files(cwd, paths, config, &config.lint)
    };
    match result {
        Ok(report) => render(&report, config.lint.enabled, out, json),
        Err(e) => out.engine_error(&e),
    }
}

/// `pgkeel lint --explain RULE`: exit 0, or 2 for an unknown rule (naming the nearest id).
pub fn explain(rule: &str, out: &Out, json: bool) -> ExitCode {
    match explanations::explain(rule) {
        Ok(e) => {
            if json {
                out.print_json(&out.document(true, json!({"explanation": e})));
            } else {
                outln!("{}", explanations::render(e).trim_end());
            }
            Exit::Ok.into()
        }
        Err(message) => {
            if json {
                out.print_json(&out.document(
                    false,
                    json!({"error": {"code": "unknown_rule", "message": message}}),
                ));
            } else {
                eprintln!("error: {message}");
            }
            Exit::Usage.into()
        }
    }
}

fn render(r: &LintReport, enabled: bool, out: &Out, json: bool) -> ExitCode {
    let errors = count(&r.findings, Severity::Error);
    let warnings = count(&r.findings, Severity::Warning);
    let infos = count(&r.findings, Severity::Info);
    let accepted = r.findings.iter().filter(|f| f.accepted.is_some()).count();
    let code = if errors > 0 { Exit::Check } else { Exit::Ok };
    if json {
        out.print_json(&out.document(
            errors == 0,
            json!({
                "enabled": enabled,
                "files": r.files,
                "findings": r.findings,
                "discovery_warnings": r.warnings,
                "errors": errors,
                "warnings": warnings,
                "infos": infos,
                "context": OFFLINE,
                "accepted": accepted,
            }),
        ));
        return code.into();
    }
    let mut text = String::new();
    for f in &r.findings {
        text.push_str(&finding_lines(f));
    }
    for w in &r.warnings {
        text.push_str(&format!("warning: {}: {}\n", w.path, w.message));
    }
    let summary = if !enabled {
        "lint is off ([lint] enabled = false in pgkeel.toml)".to_string()
    } else {
        format!(
            "{} file(s) linted: {errors} error(s), {warnings} warning(s), {infos} info{}\n{OFFLINE}",
            r.files.len(),
            if accepted > 0 {
                format!(", {accepted} accepted")
            } else {
                String::new()
            }
        )
    };
    text.push_str(&summary);
    let parse_errors = r
        .findings
        .iter()
        .filter(|f| f.severity == Severity::Error && f.accepted.is_none() && !accept::blocks(f))
        .count();
    if parse_errors > 0 {
        text.push_str("\nSQL that does not parse: `pgkeel up` refuses psql meta-commands before running anything, and sends SQL the parser cannot read to the server unsplit (which refuses it unless it is valid PostgreSQL the parser does not know yet); fix the SQL at the positions shown");
    }
    if errors > parse_errors {
        text.push_str("\nerrors block `pgkeel up` until the SQL is fixed (`pgkeel lint --explain RULE` shows the safe form), or the file accepts the rule with a `-- pgkeel:accept RULE reason` line, or it is accepted for one run (`pgkeel up --accept-lint RULE`)");
    }
    outln!("{text}");
    code.into()
}

/// What `pgkeel lint` judges by (see pgkeel_engine::lint::context).
const OFFLINE: &str = "judged offline, as one run of these files in order: what the run creates counts, table sizes are not known (`pgkeel up --dry-run` and `plan_migration` judge the pending migrations against the database)";

/// Findings of severity `s` that no acceptance covers.
fn count(findings: &[LintFinding], s: Severity) -> usize {
    findings
        .iter()
        .filter(|f| f.severity == s && f.accepted.is_none())
        .count()
}
