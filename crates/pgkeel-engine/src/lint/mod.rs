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
pub mod context;
pub mod explain;
pub mod files;
pub mod live;
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
    /// What decided the severity in context (see [`context`]): "created earlier in this run",
    /// "0 rows", "about 2.3M rows, 1.1 GiB: …", "offline: …". `None`: squawk's own judgement.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Byte offset of the finding in the file's normalised text.
    #[serde(skip)]
    pub offset: usize,
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

/// Lint one migration (its up part and its down SQL) on its own, offline. Empty when
/// `[lint] enabled = false`. In a migration older than `[lint] since`, error findings are
/// reported as warnings. The file's `-- pgkeel:accept` lines mark their findings accepted (and
/// an unused one is a warning).
pub fn lint_migration(m: &Migration, s: &LintSettings) -> Vec<LintFinding> {
    lint_all([m], s)
}

/// Lint several migrations, in order, as one run judged offline (see [`RunLint`]).
pub fn lint_all<'a>(
    migrations: impl IntoIterator<Item = &'a Migration>,
    s: &LintSettings,
) -> Vec<LintFinding> {
    RunLint::new(migrations.into_iter().map(|m| RunItem::offline(m, s)), s).judge(None, s)
}

/// One migration of a run, for lint in context.
#[derive(Debug, Clone)]
pub struct RunItem<'a> {
    pub migration: &'a Migration,
    /// The tables the automatic backup copies before this migration runs.
    pub backed_up: Vec<context::RelName>,
    /// Older than `[lint] since`: error findings become warnings.
    pub older: bool,
}

impl<'a> RunItem<'a> {
    /// The item of `m` with no backup known and the `since` cap of `s`.
    pub fn offline(m: &'a Migration, s: &LintSettings) -> RunItem<'a> {
        RunItem {
            migration: m,
            backed_up: Vec::new(),
            older: s.since.as_ref().is_some_and(|since| m.version < *since),
        }
    }

    /// The tables of `targets` (backup::plan) as lint names them.
    pub fn with_backups(mut self, targets: &[crate::backup::BackupTarget]) -> RunItem<'a> {
        use crate::backup::TargetKind;
        self.backed_up = targets
            .iter()
            .filter(|t| matches!(t.kind, TargetKind::Table | TargetKind::Referencing))
            .map(|t| context::RelName::new(t.schema.as_deref(), &t.name))
            .collect();
        self
    }
}

/// A run's migrations linted by squawk, waiting to be judged in context: first
/// [`RunLint::lookups`] (what to ask the live database), then [`RunLint::judge`].
#[derive(Debug)]
pub struct RunLint<'a> {
    items: Vec<(RunItem<'a>, Vec<LintFinding>, Vec<context::StmtFacts>)>,
    /// `[backup] window`, for the reason of a finding the backup covers.
    window: std::time::Duration,
}

impl<'a> RunLint<'a> {
    pub fn new(items: impl IntoIterator<Item = RunItem<'a>>, s: &LintSettings) -> RunLint<'a> {
        let items = items
            .into_iter()
            .map(|item| {
                if s.enabled {
                    let (mut found, facts) = squawk::lint_with_facts(item.migration, s);
                    // The file's acceptances match squawk's findings before context judges
                    // them: an acceptance of a finding that context then lowers or drops (an
                    // empty table on a fresh database) is used, not "unused".
                    let m = item.migration;
                    let unused = accept::apply_file(&m.accepts, &m.path, &mut found);
                    found.extend(unused);
                    (item, found, facts)
                } else {
                    (item, Vec::new(), Vec::new())
                }
            })
            .collect();
        RunLint {
            items,
            window: crate::backup::settings::DEFAULT_WINDOW,
        }
    }

    /// Give the items whose findings the automatic backup can lower (data loss, type changes)
    /// their backup targets from `targets`: only those, since planning backups parses every
    /// statement again.
    pub fn with_backups_where_needed(
        mut self,
        targets: impl Fn(&RunItem<'a>) -> Vec<crate::backup::BackupTarget>,
    ) -> RunLint<'a> {
        for (item, found, _) in &mut self.items {
            let needed = found.iter().any(|f| {
                f.part == "up" && squawk::rule(&f.rule).is_some_and(context::depends_on_backup)
            });
            if needed {
                let t = targets(item);
                *item = item.clone().with_backups(&t);
            }
        }
        self
    }

    /// The `[backup] window` the findings name (default 48h).
    pub fn with_backup_window(mut self, window: std::time::Duration) -> RunLint<'a> {
        self.window = window;
        self
    }

    /// The tables and indexes whose size decides a finding's level.
    pub fn lookups(&self) -> context::Lookups {
        let mut l = context::Lookups::default();
        for (_, found, facts) in &self.items {
            for f in found.iter().filter(|f| f.part == "up") {
                let Some(rule) = squawk::rule(&f.rule) else {
                    continue;
                };
                if !context::depends_on_table(rule) {
                    continue;
                }
                let Some(st) = facts.iter().find(|st| st.range.contains(&f.offset)) else {
                    continue;
                };
                for subject in &st.subjects {
                    let (list, name) = match subject {
                        context::Subject::Table(t) => (&mut l.tables, t),
                        context::Subject::Index(i) => (&mut l.indexes, i),
                    };
                    if !list.contains(name) {
                        list.push(name.clone());
                    }
                }
            }
        }
        l
    }

    /// Judge every finding in run order (see [`context`]); `live`: `None` offline.
    pub fn judge(self, live: Option<&context::LiveFacts>, s: &LintSettings) -> Vec<LintFinding> {
        let mut judge = context::Judge::new(live, s.small_table_rows);
        let window = crate::backup::settings::human_duration(self.window);
        let mut out = Vec::new();
        for (item, found, facts) in self.items {
            let origin = format!("migration {}", item.migration.version);
            let mut found = found.into_iter().peekable();
            let mut judged: Vec<LintFinding> = Vec::new();
            // Findings come in statement order within a part (squawk lints statement by
            // statement); each statement's findings are judged before what it creates counts.
            let mut up: Vec<LintFinding> = Vec::new();
            let mut rest: Vec<LintFinding> = Vec::new();
            for f in found.by_ref() {
                // pgkeel's own findings (unused-accept) are about a line, not a statement.
                if f.part == "up" && squawk::rule(&f.rule).is_some() {
                    up.push(f);
                } else {
                    rest.push(f);
                }
            }
            up.sort_by_key(|f| f.offset);
            let mut up = up.into_iter().peekable();
            for st in &facts {
                while let Some(f) = up.next_if(|f| f.offset < st.range.end) {
                    judged.extend(judge_one(&judge, f, Some(st), &item, &window));
                }
                judge.record(st, &origin);
            }
            for f in up {
                judged.extend(judge_one(&judge, f, None, &item, &window));
            }
            judged.extend(rest);
            if item.older {
                for f in &mut judged {
                    if f.severity == Severity::Error {
                        f.severity = Severity::Warning;
                        f.reason = Some(match f.reason.take() {
                            Some(r) => format!("{r}; older than [lint] since, so never blocking"),
                            None => "older than [lint] since, so never blocking".into(),
                        });
                    }
                }
            }
            out.extend(judged);
        }
        out
    }
}

fn judge_one(
    judge: &context::Judge<'_>,
    mut f: LintFinding,
    st: Option<&context::StmtFacts>,
    item: &RunItem<'_>,
    window: &str,
) -> Option<LintFinding> {
    let Some(rule) = squawk::rule(&f.rule) else {
        return Some(f);
    };
    let v = match st {
        Some(st)
            if st.validate_only && rule == ::squawk_linter::Rule::ConstraintMissingNotValid =>
        {
            let v = judge.validate_verdict(st);
            if v.severity.is_some() {
                f.message = "VALIDATE CONSTRAINT in the same transaction as the ADD … NOT VALID it validates".into();
                f.help = Some("move VALIDATE CONSTRAINT to a migration of its own, so the ADD's lock is released before the scan".into());
            }
            v
        }
        _ => judge.verdict(rule, f.severity, st, &item.backed_up, window),
    };
    f.severity = v.severity?;
    f.reason = v.reason;
    Some(f)
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

/// The findings (judged, acceptances marked) that block a run: error findings nobody accepted,
/// when `[lint] block` is on.
pub fn lint_blocking(findings: &[LintFinding], s: &LintSettings) -> Vec<LintFinding> {
    if !s.block {
        return Vec::new();
    }
    findings
        .iter()
        .filter(|f| accept::blocks(f))
        .cloned()
        .collect()
}

/// The lint pre-flight of every apply (`up`, `dev reset`, `types verify`, `apply_migration`)
/// over the judged findings of the migrations about to run (their files' own
/// `-- pgkeel:accept` lines already applied). With `accept = None` (a plan) every finding is
/// returned. With `Some(run)` (this run's acceptances, possibly none), `run` marks what it
/// accepts, and blocking findings (see [`lint_blocking`]) fail with [`Error::LintBlocked`];
/// otherwise every finding is returned for the caller to print. Only the up parts' findings are
/// returned: the down SQL does not run here.
pub fn preflight(
    mut findings: Vec<LintFinding>,
    s: &LintSettings,
    accept: Option<&[accept::Acceptance]>,
) -> Result<Vec<LintFinding>> {
    if let Some(run) = accept {
        check_accepted(run)?;
        accept::apply_run(run, &mut findings);
        let blocking = lint_blocking(&findings, s);
        if !blocking.is_empty() {
            return Err(Error::LintBlocked { findings: blocking });
        }
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
        if let Some(r) = &f.reason {
            s.push_str(&format!("\n    why: {r}"));
        }
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
        let Err(Error::LintBlocked { findings }) = preflight(lint_all(&ms, &s), &s, Some(&[]))
        else {
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
        let all = preflight(lint_all(&ms, &s), &s, Some(&run)).unwrap();
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
        let plan = preflight(lint_all(&ms, &s), &s, None).unwrap();
        assert_eq!(plan.len(), 2);
        assert!(plan[0].accepted.is_none());
        // An unknown rule id is a usage error, not a silent no-op.
        let e =
            preflight(lint_all(&ms, &s), &s, Some(&[run_accept("ban-drop-colum")])).unwrap_err();
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
        let found = preflight(lint_all(&ms, &s), &s, Some(&[])).unwrap();
        assert_eq!(found.len(), 2, "{found:?}");
        let a = found[0].accepted.as_ref().unwrap();
        assert_eq!(a.reason, "nobody reads legacy since v2");
        assert_eq!(a.source.to_string(), "migrations/001_x.sql:1");
        assert_eq!(found[1].rule, accept::UNUSED);
        assert_eq!(found[1].location(), "migrations/001_x.sql:2:18");
        assert_eq!(found[1].severity, Severity::Warning);
        // In another file the same statement still blocks.
        let other = [mig("002", "alter table users drop column legacy;\n")];
        assert!(preflight(lint_all(&other, &s), &s, Some(&[])).is_err());
    }

    #[test]
    fn block_false_since_and_enabled_false_relax_the_preflight() {
        let ms = [mig("001", "alter table users drop column legacy;\n")];
        let s = LintSettings {
            block: false,
            ..settings()
        };
        assert_eq!(
            preflight(lint_all(&ms, &s), &s, Some(&[])).unwrap().len(),
            1
        );
        let s = LintSettings {
            since: Version::parse("002"),
            ..settings()
        };
        let found = preflight(lint_all(&ms, &s), &s, Some(&[])).unwrap();
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].severity, Severity::Warning);
        let s = LintSettings {
            since: Version::parse("001"),
            ..settings()
        };
        assert!(preflight(lint_all(&ms, &s), &s, Some(&[])).is_err());
        let s = LintSettings {
            enabled: false,
            ..settings()
        };
        assert!(preflight(lint_all(&ms, &s), &s, Some(&[]))
            .unwrap()
            .is_empty());
    }

    #[test]
    fn blocking_rules_are_distinct_and_in_order() {
        let ms = [mig(
            "001",
            "alter table a drop column x;\ndrop table b;\nalter table c drop column y;\n",
        )];
        let mut all = lint_all(&ms, &settings());
        let blocking = lint_blocking(&all, &settings());
        assert_eq!(
            blocking_rules(&blocking),
            ["ban-drop-column", "ban-drop-table"]
        );
        accept::apply_run(&[run_accept("ban-drop-table")], &mut all);
        let blocking = lint_blocking(&all, &settings());
        assert_eq!(blocking_rules(&blocking), ["ban-drop-column"]);
        assert_eq!(blocking_rules(&all), ["ban-drop-column"]);
    }
}
