//! Lint findings as text (`pgkeel lint`, and `up` on stderr), and the `-- pgkeel:accept`
//! lines `up --accept-lint` suggests.

use pgkeel_engine::lint::{accept, LintFinding};
use pgkeel_engine::migrator::UpReport;
use pgkeel_engine::validate::Severity;

/// `path:line:col: severity rule: message` (`accepted` instead of the severity when an
/// acceptance covers it, with an indented `accepted:` line saying why and where), and an
/// indented `help:` line.
pub fn finding_lines(f: &LintFinding) -> String {
    let mut s = format!("{f}");
    if f.part == "down" {
        s.push_str(" (down)");
    }
    s.push('\n');
    if let Some(r) = &f.reason {
        s.push_str(&format!("  why: {r}\n"));
    }
    if let Some(a) = &f.accepted {
        s.push_str(&format!(
            "  accepted ({}, from {}): {}\n",
            f.severity, a.source, a.reason
        ));
    } else if f.severity == Severity::Info {
        return s;
    } else if let Some(h) = &f.help {
        s.push_str(&format!("  help: {h}\n"));
    }
    s
}

/// After `up`: for each rule accepted by `--accept-lint`, the line that makes the acceptance
/// part of its file (so `dev reset`, `types verify` and other databases replay it), on stderr.
pub fn print_lines_to_add(r: &UpReport) {
    for l in accept::lines_to_add(&r.lint) {
        let applied = r.applied.iter().find(|a| a.path == l.path);
        eprintln!(
            "note: {} was accepted for this run only; to accept it in every run, add this line to {} (a line of its own in the up part, e.g. above line {}):\n  {}{}",
            l.rule,
            l.path,
            l.before_line,
            l.line,
            match applied {
                Some(a) => format!(
                    "\n  (the file is applied, so its checksum changes: then run `pgkeel repair --accept-checksum {}`)",
                    a.version
                ),
                None => String::new(),
            }
        );
    }
}
