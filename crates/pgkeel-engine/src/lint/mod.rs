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
//! Error findings block `up` and `apply_migration` unless accepted (see [`preflight`]).

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
            self.severity,
            self.rule,
            self.message
        )
    }
}

/// Lint one migration (its up part and its down SQL). Empty when `[lint] enabled = false`.
/// In a migration older than `[lint] since`, error findings are reported as warnings.
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

/// True when `accepted` names the finding's rule.
pub fn is_accepted(f: &LintFinding, accepted: &[String]) -> bool {
    accepted.iter().any(|a| squawk::same_rule(a, &f.rule))
}

/// The distinct rule ids of the error findings not in `accepted`, in first-seen order.
pub fn blocking_rules(findings: &[LintFinding], accepted: &[String]) -> Vec<String> {
    let mut rules: Vec<String> = Vec::new();
    for f in findings {
        if f.severity == Severity::Error && !is_accepted(f, accepted) && !rules.contains(&f.rule) {
            rules.push(f.rule.clone());
        }
    }
    rules
}

/// Check `--accept-lint` / `accept_lint` rule ids: an unknown id is an error (a typo would
/// otherwise silently accept nothing).
pub fn check_accepted(accepted: &[String]) -> Result<()> {
    for a in accepted {
        if !squawk::is_rule(a) {
            return Err(Error::Config(format!(
                "--accept-lint / accept_lint {a:?}: not a squawk rule id (e.g. ban-drop-table, require-concurrent-index-creation; `pgkeel lint` shows the ids it finds)"
            )));
        }
    }
    Ok(())
}

/// Lint `migrations` and pick out the findings that block a run: error findings whose rule is
/// not in `accepted`, when `[lint] block` is on. Returns (all findings, blocking findings).
pub fn lint_blocking<'a>(
    migrations: impl IntoIterator<Item = &'a Migration>,
    s: &LintSettings,
    accepted: &[String],
) -> (Vec<LintFinding>, Vec<LintFinding>) {
    let mut findings = Vec::new();
    let mut blocking = Vec::new();
    for m in migrations {
        let found = lint_migration(m, s);
        if s.block {
            blocking.extend(
                found
                    .iter()
                    .filter(|f| f.severity == Severity::Error && !is_accepted(f, accepted))
                    .cloned(),
            );
        }
        findings.extend(found);
    }
    (findings, blocking)
}

/// The lint pre-flight of `up` and `apply_migration`: lint `migrations` (those about to run).
/// With `accept = None` (a plan) every finding is returned. With `Some(accepted)`, blocking
/// findings (see [`lint_blocking`]) fail with [`Error::LintBlocked`]; otherwise every finding is
/// returned for the caller to print. Only the up parts' findings are returned: the down SQL
/// does not run here.
pub fn preflight<'a>(
    migrations: impl IntoIterator<Item = &'a Migration>,
    s: &LintSettings,
    accept: Option<&[String]>,
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
    s.push_str(&format!(
        "\n  next: fix the SQL; or accept it for this run with `pgkeel up {}` (MCP: accept_lint: {:?}); or add `-- squawk-ignore {}` on the line before the statement",
        flags.join(" "),
        rules,
        rules.join(",")
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
        assert!(msg.contains("-- squawk-ignore ban-drop-column"), "{msg}");

        // Accepted: the run goes on with every finding reported (the error and the warning).
        let all = preflight(&ms, &s, Some(&["ban-drop-column".to_string()])).unwrap();
        assert_eq!(all.len(), 2);
        assert_eq!(all[1].rule, "prefer-bigint-over-int");
        // A plan never blocks.
        assert_eq!(preflight(&ms, &s, None).unwrap(), all);
        // An unknown rule id is a usage error, not a silent no-op.
        let e = preflight(&ms, &s, Some(&["ban-drop-colum".to_string()])).unwrap_err();
        assert!(matches!(e, Error::Config(_)), "{e}");
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
            blocking_rules(&blocking, &[]),
            ["ban-drop-column", "ban-drop-table"]
        );
        assert_eq!(
            blocking_rules(&blocking, &["ban-drop-table".into()]),
            ["ban-drop-column"]
        );
    }
}
