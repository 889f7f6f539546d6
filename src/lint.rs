//! `pgkeel lint [FILES]`: squawk's rules over migration files, no database needed (the work is
//! the engine's: pgkeel_engine::lint).

use std::process::ExitCode;

use pgkeel_engine::lint::files::{self, LintReport};
use pgkeel_engine::lint::LintFinding;
use pgkeel_engine::validate::Severity;
use pgkeel_engine::Config;
use serde_json::json;

use crate::exit::Exit;
use crate::output::{outln, Out};

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

fn render(r: &LintReport, enabled: bool, out: &Out, json: bool) -> ExitCode {
    let errors = count(&r.findings, Severity::Error);
    let warnings = count(&r.findings, Severity::Warning);
    let infos = count(&r.findings, Severity::Info);
    let code = if errors > 0 { Exit::Check } else { Exit::Ok };
    if json {
        out.print_json(&out.document(
            errors == 0,
            json!({
                "enabled": enabled,
                "files": r.files,
                "findings": r.findings,
                "errors": errors,
                "warnings": warnings,
                "infos": infos,
                "context": OFFLINE,
            }),
        ));
        return code.into();
    }
    let mut text = String::new();
    for f in &r.findings {
        text.push_str(&finding_lines(f));
    }
    let summary = if !enabled {
        "lint is off ([lint] enabled = false in pgkeel.toml)".to_string()
    } else {
        format!(
            "{} file(s) linted: {errors} error(s), {warnings} warning(s), {infos} info\n{OFFLINE}",
            r.files.len()
        )
    };
    text.push_str(&summary);
    if errors > 0 {
        text.push_str("\nerrors block `pgkeel up` until the SQL is fixed, the rule is accepted for a run (`pgkeel up --accept-lint RULE`), or a `-- squawk-ignore RULE` comment precedes the statement");
    }
    outln!("{text}");
    code.into()
}

/// What `pgkeel lint` judges by (see pgkeel_engine::lint::context).
const OFFLINE: &str = "judged offline, as one run of these files in order: what the run creates counts, table sizes are not known (`pgkeel up --dry-run` and `plan_migration` judge the pending migrations against the database)";

fn count(findings: &[LintFinding], s: Severity) -> usize {
    findings.iter().filter(|f| f.severity == s).count()
}

/// `path:line:col: severity rule: message` and an indented `help:` line.
pub fn finding_lines(f: &LintFinding) -> String {
    let mut s = format!("{f}");
    if f.part == "down" {
        s.push_str(" (down)");
    }
    s.push('\n');
    if let Some(r) = &f.reason {
        s.push_str(&format!("  why: {r}\n"));
    }
    if f.severity == Severity::Info {
        return s;
    }
    if let Some(h) = &f.help {
        s.push_str(&format!("  help: {h}\n"));
    }
    s
}
