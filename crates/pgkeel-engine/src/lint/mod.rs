//! Migration lint: squawk-linter's rules over migration files, before anything runs.
//!
//! Pure: no I/O (reading the files `pgkeel lint FILES` names is in [`files`]). The adapter over
//! squawk-linter is [`squawk`]; the `[lint]` settings are [`settings`]. A finding carries the
//! rule id, a severity from `[lint.rules]` (or pgkeel's default for the rule), its position in
//! the file as an editor shows it, squawk's message and help, and which part of the migration it
//! is in (`up`, or `down` for a `-- pgkeel:down` section or a sibling `.down.sql`).
//!
//! Syntax errors are not lint findings: the statement splitter already reports them (as parse
//! warnings of `up`), so the adapter skips squawk's parse errors and lints what it could read.
//!
//! Error findings block `up` and `apply_migration` unless accepted (see [`preflight`]): by a
//! `-- pgkeel:accept RULE reason` line in the file, or for one run (see [`accept`]). Why each
//! rule exists and its safe form: [`explain`].

pub mod accept;
pub mod explain;
pub mod files;
pub mod settings;
pub mod squawk;

use serde::Serialize;

use crate::error::{Error, Result};
use crate::migration::Migration;
use crate::validate::Severity;

pub use settings::{Level, LintSettings};

/// One lint finding, positioned in its file (1-based lines, columns in characters).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LintFinding {
    /// squawk's rule id, e.g. `require-concurrent-index-creation`.
    pub rule: String,
    pub severity: Severity,
    /// Path of the file (relative to the project root for discovered migrations).
    pub path: String,
    pub line: usize,
    pub column: usize,
    pub end_line: usize,
    pub end_column: usize,
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub help: Option<String>,
    /// `up`, or `down` for the migration's down SQL.
    pub part: &'static str,
    /// Set when an acceptance covers the finding: it keeps its severity, but never blocks and
    /// is shown as accepted (see [`accept`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub accepted: Option<accept::Accepted>,
}

impl LintFinding {
    /// `path:line:col`.
    pub fn location(&self) -> String {
        format!("{}:{}:{}", self.path, self.line, self.column)
    }
}

impl std::fmt::Display for LintFinding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}: {} {}: {}",
            self.location(),
            match self.accepted {
                Some(_) => "accepted",
                None => self.severity.as_str(),
            },
            self.rule,
            self.message
        )
    }
}

/// Lint one migration (its up part and its down SQL). Empty when `[lint] enabled = false`.
/// In a migration older than `[lint] since`, error findings are reported as warnings. The
/// file's `-- pgkeel:accept` lines mark their findings accepted (and an unused one is a
/// warning).
pub fn lint_migration(m: &Migration, s: &LintSettings) -> Vec<LintFinding> {
    let older = s.since.as_ref().is_some_and(|since| m.version < *since);
    lint_with(m, s, older)
}

/// [`lint_migration`] with the `since` decision made by the caller (`older`: cap at warning).
pub(crate) fn lint_with(m: &Migration, s: &LintSettings, older: bool) -> Vec<LintFinding> {
    if !s.enabled {
        return Vec::new();
    }
    let mut found = squawk::lint(m, s);
    let unused = accept::apply_file(&m.accepts, &m.path, &mut found);
    found.extend(unused);
    if older {
        for f in &mut found {
            f.severity = f.severity.min(Severity::Warning);
        }
    }
    found
}

/// Lint several migrations, in order.
pub fn lint_all<'a>(
    migrations: impl IntoIterator<Item = &'a Migration>,
    s: &LintSettings,
) -> Vec<LintFinding> {
    migrations
        .into_iter()
        .flat_map(|m| lint_migration(m, s))
        .collect()
}

/// The distinct rule ids of the findings that block (errors nobody accepted), in first-seen
/// order.
pub fn blocking_rules(findings: &[LintFinding]) -> Vec<String> {
    let mut rules: Vec<String> = Vec::new();
    for f in findings {
        if accept::blocks(f) && !rules.contains(&f.rule) {
            rules.push(f.rule.clone());
        }
    }
    rules
}

/// Check `--accept-lint` / `accept_lint` rule ids: an unknown id is an error (a typo would
/// otherwise silently accept nothing).
pub fn check_accepted(accepted: &[accept::Acceptance]) -> Result<()> {
    accept::check_run(accepted).map_err(Error::Config)
}

/// Lint `migrations` and pick out the findings that block a run: error findings accepted
/// neither by their file nor by `run` (the acceptances of this run), when `[lint] block` is on.
/// Returns (all findings, blocking findings); the findings `run` accepts are marked.
pub fn lint_blocking<'a>(
    migrations: impl IntoIterator<Item = &'a Migration>,
    s: &LintSettings,
    run: &[accept::Acceptance],
) -> (Vec<LintFinding>, Vec<LintFinding>) {
    let mut findings = Vec::new();
    let mut blocking = Vec::new();
    for m in migrations {
        let mut found = lint_migration(m, s);
        accept::apply_run(run, &mut found);
        if s.block {
            blocking.extend(found.iter().filter(|f| accept::blocks(f)).cloned());
        }
        findings.extend(found);
    }
    (findings, blocking)
}

/// The lint pre-flight of every apply (`up`, `dev reset`, `types verify`, `apply_migration`):
/// lint `migrations` (those about to run). The files' own `-- pgkeel:accept` lines always
/// count. With `accept = None` (a plan) every finding is returned. With `Some(run)` (this run's
/// acceptances, possibly none), blocking findings (see [`lint_blocking`]) fail with
/// [`Error::LintBlocked`]; otherwise every finding is returned for the caller to print, the
/// accepted ones marked. Only the up parts' findings are returned: the down SQL does not run
/// here.
pub fn preflight<'a>(
    migrations: impl IntoIterator<Item = &'a Migration>,
    s: &LintSettings,
    accept: Option<&[accept::Acceptance]>,
) -> Result<Vec<LintFinding>> {
    if let Some(accepted) = accept {
        check_accepted(accepted)?;
    }
    let (findings, blocking) = lint_blocking(migrations, s, accept.unwrap_or(&[]));
    if accept.is_some() && !blocking.is_empty() {
        return Err(Error::LintBlocked { findings: blocking });
    }
    // Down SQL does not run here (and never blocks): its findings belong to `pgkeel lint` and to
    // the rollback, not to every `up`.
    Ok(findings.into_iter().filter(|f| f.part == "up").collect())
}

/// The message of [`Error::LintBlocked`]: each finding, then how to go on.
pub fn blocked_message(findings: &[LintFinding]) -> String {
    let mut s = String::from("lint found problems that block this run; nothing was changed:");
    for f in findings {
        s.push_str(&format!(
            "\n  {} {} ({} part): {}",
            f.location(),
            f.rule,
            f.part,
            f.message
        ));
        if let Some(h) = &f.help {
            s.push_str(&format!("\n    help: {h}"));
        }
    }
    let mut rules: Vec<&str> = Vec::new();
    for f in findings {
        if !rules.contains(&f.rule.as_str()) {
            rules.push(&f.rule);
        }
    }
    let flags: Vec<String> = rules.iter().map(|r| format!("--accept-lint {r}")).collect();
    let lines: Vec<String> = rules
        .iter()
        .map(|r| format!("`{}`", accept::directive_line(r, "<reason>")))
        .collect();
    s.push_str(&format!(
        "\n  next: fix the SQL (`pgkeel lint --explain {}` shows the safe form); or, if the risk is acceptable, add {} on a line of its own in the migration file (every later run, `dev reset` and `types verify` honour it); or accept it for this run only with `pgkeel up {}` (MCP: accept_lint: {:?})",
        rules.first().copied().unwrap_or("RULE"),
        lines.join(" and "),
        flags.join(" "),
        rules,
    ));
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::version::Version;

    fn mig(version: &str, text: &str) -> Migration {
        Migration::from_text(
            Version::parse(version).unwrap(),
            "x".into(),
            format!("migrations/{version}_x.sql"),
            text,
        )
        .unwrap()
    }

    fn settings() -> LintSettings {
        LintSettings {
            statement_timeout_set: true,
            ..LintSettings::default()
        }
    }

    #[test]
    fn preflight_blocks_unaccepted_errors_and_reports_the_rest() {
        let ms = [
            mig("001", "alter table users drop column legacy;\n"),
            mig("002", "create table t (id int primary key);\n"),
        ];
        let s = settings();
        let Err(Error::LintBlocked { findings }) = preflight(&ms, &s, Some(&[])) else {
            panic!("expected a lint block");
        };
        assert_eq!(findings.len(), 1);
        assert_eq!(findings[0].location(), "migrations/001_x.sql:1:19");
        let msg = Error::LintBlocked {
            findings: findings.clone(),
        }
        .to_string();
        assert!(
            msg.contains("migrations/001_x.sql:1:19 ban-drop-column"),
            "{msg}"
        );
        assert!(
            msg.contains("pgkeel up --accept-lint ban-drop-column"),
            "{msg}"
        );
        assert!(
            msg.contains("add `-- pgkeel:accept ban-drop-column <reason>` on a line of its own"),
            "{msg}"
        );
        assert!(
            msg.contains("pgkeel lint --explain ban-drop-column"),
            "{msg}"
        );

        // Accepted for the run: it goes on with every finding reported (the error, marked
        // accepted, and the warning).
        let run = [run_accept("ban-drop-column")];
        let all = preflight(&ms, &s, Some(&run)).unwrap();
        assert_eq!(all.len(), 2);
        assert_eq!(
            all[0].accepted.as_ref().map(|a| a.source.to_string()),
            Some("--accept-lint".to_string())
        );
        assert_eq!(all[0].severity, Severity::Error);
        assert!(all[0].to_string().contains(": accepted ban-drop-column:"));
        assert_eq!(all[1].rule, "prefer-bigint-over-int");
        assert!(all[1].accepted.is_none());
        // A plan never blocks (and marks nothing accepted by a run).
        let plan = preflight(&ms, &s, None).unwrap();
        assert_eq!(plan.len(), 2);
        assert!(plan[0].accepted.is_none());
        // An unknown rule id is a usage error, not a silent no-op.
        let e = preflight(&ms, &s, Some(&[run_accept("ban-drop-colum")])).unwrap_err();
        assert!(matches!(e, Error::Config(_)), "{e}");
    }

    fn run_accept(rule: &str) -> accept::Acceptance {
        accept::Acceptance::run(rule, None, accept::Source::Flag).unwrap()
    }

    #[test]
    fn a_file_acceptance_replays_without_flags_and_an_unused_one_warns() {
        let ms = [mig(
            "001",
            "-- pgkeel:accept ban-drop-column nobody reads legacy since v2\n-- pgkeel:accept ban-drop-table kept for later\nalter table users drop column legacy;\n",
        )];
        let s = settings();
        let found = preflight(&ms, &s, Some(&[])).unwrap();
        assert_eq!(found.len(), 2, "{found:?}");
        let a = found[0].accepted.as_ref().unwrap();
        assert_eq!(a.reason, "nobody reads legacy since v2");
        assert_eq!(a.source.to_string(), "migrations/001_x.sql:1");
        assert_eq!(found[1].rule, accept::UNUSED);
        assert_eq!(found[1].location(), "migrations/001_x.sql:2:18");
        assert_eq!(found[1].severity, Severity::Warning);
        // In another file the same statement still blocks.
        let other = [mig("002", "alter table users drop column legacy;\n")];
        assert!(preflight(&other, &s, Some(&[])).is_err());
    }

    #[test]
    fn block_false_since_and_enabled_false_relax_the_preflight() {
        let ms = [mig("001", "alter table users drop column legacy;\n")];
        let s = LintSettings {
            block: false,
            ..settings()
        };
        assert_eq!(preflight(&ms, &s, Some(&[])).unwrap().len(), 1);
        let s = LintSettings {
            since: Version::parse("002"),
            ..settings()
        };
        let found = preflight(&ms, &s, Some(&[])).unwrap();
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].severity, Severity::Warning);
        let s = LintSettings {
            since: Version::parse("001"),
            ..settings()
        };
        assert!(preflight(&ms, &s, Some(&[])).is_err());
        let s = LintSettings {
            enabled: false,
            ..settings()
        };
        assert!(preflight(&ms, &s, Some(&[])).unwrap().is_empty());
    }

    #[test]
    fn blocking_rules_are_distinct_and_in_order() {
        let ms = [mig(
            "001",
            "alter table a drop column x;\ndrop table b;\nalter table c drop column y;\n",
        )];
        let (_, blocking) = lint_blocking(&ms, &settings(), &[]);
        assert_eq!(
            blocking_rules(&blocking),
            ["ban-drop-column", "ban-drop-table"]
        );
        let (all, blocking) = lint_blocking(&ms, &settings(), &[run_accept("ban-drop-table")]);
        assert_eq!(blocking_rules(&blocking), ["ban-drop-column"]);
        assert_eq!(blocking_rules(&all), ["ban-drop-column"]);
    }
}
