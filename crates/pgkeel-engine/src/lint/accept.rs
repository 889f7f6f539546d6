//! Lint acceptances: a `-- pgkeel:accept RULE reason…` line in a migration file, or a rule
//! accepted for one run (`up --accept-lint RULE`, MCP `accept_lint`).
//!
//! Pure. A file's acceptance lines are part of its checksummed content, so every path that
//! applies the file (`up`, `dev reset`, `types verify`, `apply_migration`) honours them without
//! flags. An acceptance accepts the findings of its rule in its own file (the up part and a
//! `-- pgkeel:down` section; a sibling `.down.sql` is another file). An accepted finding keeps
//! its severity but never blocks, and says where its acceptance came from. A file acceptance
//! that matches no finding is reported as an `unused-accept` warning at its line, like squawk's
//! `unused-ignore`: an acceptance is never kept silently.

use serde::{Serialize, Serializer};

use super::squawk;
use super::LintFinding;
use crate::migration::DirectiveError;
use crate::validate::Severity;

/// The directive's name: `-- pgkeel:accept RULE reason…`.
pub const DIRECTIVE: &str = "accept";

/// The rule id of the warning for a file acceptance that matches no finding.
pub const UNUSED: &str = "unused-accept";

/// The longest reason accepted (in characters).
pub const MAX_REASON_CHARS: usize = 500;

/// The reason recorded for `--accept-lint RULE`, which takes none.
pub const FLAG_REASON: &str = "accepted for one run with --accept-lint";

/// The reason recorded for an MCP `accept_lint` rule given without one.
pub const MCP_REASON: &str = "accepted through MCP apply_migration";

/// Where an acceptance came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// A `-- pgkeel:accept` line: its file, line, and the columns of the rule id on it.
    File {
        path: String,
        line: usize,
        column: usize,
        end_column: usize,
    },
    /// `pgkeel up --accept-lint RULE` (this run only).
    Flag,
    /// MCP `apply_migration`'s `accept_lint` (this call only, unless written into the file).
    Mcp,
}

impl std::fmt::Display for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Source::File { path, line, .. } => write!(f, "{path}:{line}"),
            Source::Flag => f.write_str("--accept-lint"),
            Source::Mcp => f.write_str("mcp accept_lint"),
        }
    }
}

impl Serialize for Source {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// Why a finding is accepted, and where that was said (`LintFinding::accepted`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Accepted {
    pub reason: String,
    /// `path:line` of the file's `-- pgkeel:accept` line, `--accept-lint` or `mcp accept_lint`.
    pub source: Source,
}

/// One acceptance: the rule it accepts (a squawk rule id, alias or group, as written), why, and
/// where it came from. Serialized as recorded in history: `{rule, reason, source}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Acceptance {
    pub rule: String,
    pub reason: String,
    pub source: Source,
}

impl Acceptance {
    /// A rule accepted for one run, with `reason` (cleaned, see [`clean_reason`]) or the
    /// source's default reason. The rule id is checked by [`check_run`].
    pub fn run(rule: &str, reason: Option<&str>, source: Source) -> Result<Acceptance, String> {
        let reason = match reason {
            Some(r) => clean_reason(r)?,
            None => match source {
                Source::Mcp => MCP_REASON.to_string(),
                _ => FLAG_REASON.to_string(),
            },
        };
        Ok(Acceptance {
            rule: rule.trim().to_string(),
            reason,
            source,
        })
    }

    /// `--accept-lint RULE`: accepted for one run, with [`FLAG_REASON`].
    pub fn flag(rule: &str) -> Acceptance {
        Acceptance {
            rule: rule.trim().to_string(),
            reason: FLAG_REASON.to_string(),
            source: Source::Flag,
        }
    }

    /// The line that makes this acceptance part of a migration file.
    pub fn line(&self) -> String {
        directive_line(&self.rule, &self.reason)
    }

    fn accepted(&self) -> Accepted {
        Accepted {
            reason: self.reason.clone(),
            source: self.source.clone(),
        }
    }
}

/// `-- pgkeel:accept RULE reason`.
pub fn directive_line(rule: &str, reason: &str) -> String {
    format!("-- pgkeel:{DIRECTIVE} {rule} {reason}")
}

/// A reason as it can stand on one comment line: white space (line breaks included) collapsed
/// to single spaces. Empty, or longer than [`MAX_REASON_CHARS`], is an error.
pub fn clean_reason(reason: &str) -> Result<String, String> {
    let cleaned = reason.split_whitespace().collect::<Vec<_>>().join(" ");
    if cleaned.is_empty() {
        return Err(
            "the reason is empty; an acceptance must say why the risk is acceptable".into(),
        );
    }
    if cleaned.chars().count() > MAX_REASON_CHARS {
        return Err(format!(
            "the reason is longer than {MAX_REASON_CHARS} characters"
        ));
    }
    Ok(cleaned)
}

/// Check run acceptances: an unknown rule id is an error (a typo would otherwise silently accept
/// nothing).
pub fn check_run(accepted: &[Acceptance]) -> Result<(), String> {
    for a in accepted {
        if !squawk::is_rule(&a.rule) {
            return Err(format!(
                "--accept-lint / accept_lint {:?}: not a squawk rule id{} (`pgkeel lint` shows the ids it finds)",
                a.rule,
                nearest_hint(&a.rule)
            ));
        }
    }
    Ok(())
}

fn nearest_hint(name: &str) -> String {
    super::explain::nearest(name)
        .map(|n| format!("; did you mean {n}?"))
        .unwrap_or_default()
}

/// Parse the text after `-- pgkeel:accept` on line `lineno` of `path`. `line` is the whole
/// line (without its line break) and `rest_at` the byte offset in it where the text after
/// `accept` starts. Columns are 1-based, in characters.
pub fn parse_directive(
    path: &str,
    lineno: usize,
    line: &str,
    rest_at: usize,
) -> Result<Acceptance, DirectiveError> {
    let col = |byte: usize| line[..byte].chars().count() + 1;
    let rest = &line[rest_at..];
    let rule_at = rest_at + (rest.len() - rest.trim_start().len());
    let after_rule = line[rule_at..]
        .find(char::is_whitespace)
        .map_or(line.len(), |n| rule_at + n);
    let rule = &line[rule_at..after_rule];
    let usage = "write `-- pgkeel:accept RULE reason…`, e.g. `-- pgkeel:accept ban-drop-column the column has not been read since v2.3`";
    if rule.is_empty() {
        return Err(DirectiveError {
            line: lineno,
            column: col(rule_at),
            message: format!("`-- pgkeel:accept` needs a rule id and a reason: {usage}"),
        });
    }
    if !squawk::is_rule(rule) {
        return Err(DirectiveError {
            line: lineno,
            column: col(rule_at),
            message: format!(
                "`-- pgkeel:accept {rule}`: not a squawk rule id{} (`pgkeel lint` shows the ids it finds)",
                nearest_hint(rule)
            ),
        });
    }
    let reason = line[after_rule..].trim();
    let reason = clean_reason(reason).map_err(|_| DirectiveError {
        line: lineno,
        // Where the reason belongs: after the space that follows the rule id.
        column: col(after_rule) + 1,
        message: format!(
            "`-- pgkeel:accept {rule}` has no reason{}; an acceptance must say why the risk is acceptable: {usage}",
            if reason.is_empty() { "" } else { " (or one that is too long)" }
        ),
    })?;
    Ok(Acceptance {
        rule: rule.to_string(),
        reason,
        source: Source::File {
            path: path.to_string(),
            line: lineno,
            column: col(rule_at),
            end_column: col(after_rule),
        },
    })
}

/// Mark the findings of `path` that the file's own `accepts` accept (the first matching line
/// wins), and return an `unused-accept` warning for each line that accepted nothing.
pub fn apply_file(
    accepts: &[Acceptance],
    path: &str,
    findings: &mut [LintFinding],
) -> Vec<LintFinding> {
    let mut used = vec![false; accepts.len()];
    for f in findings
        .iter_mut()
        .filter(|f| f.path == path && f.accepted.is_none())
    {
        if let Some(i) = accepts
            .iter()
            .position(|a| squawk::same_rule(&a.rule, &f.rule))
        {
            used[i] = true;
            f.accepted = Some(accepts[i].accepted());
        }
    }
    accepts
        .iter()
        .zip(used)
        .filter(|(_, used)| !used)
        .filter_map(|(a, _)| match &a.source {
            Source::File {
                path,
                line,
                column,
                end_column,
            } => Some(LintFinding {
                rule: UNUSED.to_string(),
                severity: Severity::Warning,
                path: path.clone(),
                line: *line,
                column: *column,
                end_line: *line,
                end_column: *end_column,
                message: format!(
                    "`-- pgkeel:accept {}` matches no finding in this file.",
                    a.rule
                ),
                help: Some(
                    "remove the line (the SQL no longer needs it), or correct the rule id"
                        .to_string(),
                ),
                part: "up",
                reason: None,
                // Not tied to a statement: judged as it is (see RunLint::judge).
                offset: 0,
                accepted: None,
            }),
            _ => None,
        })
        .collect()
}

/// Mark the up-part findings not accepted yet that a run acceptance accepts.
pub fn apply_run(run: &[Acceptance], findings: &mut [LintFinding]) {
    for f in findings
        .iter_mut()
        .filter(|f| f.accepted.is_none() && f.part == "up" && f.rule != UNUSED)
    {
        if let Some(a) = run.iter().find(|a| squawk::same_rule(&a.rule, &f.rule)) {
            f.accepted = Some(a.accepted());
        }
    }
}

/// True when the finding blocks a run: an error nobody accepted. Parse findings never do
/// (`pgkeel lint` still counts them as errors): a run refuses psql meta-commands before lint,
/// and sends SQL squawk cannot read to the server unsplit, which judges it (its dry run first).
pub fn blocks(f: &LintFinding) -> bool {
    f.severity == Severity::Error
        && f.accepted.is_none()
        && f.rule != super::squawk::SYNTAX_ERROR
        && f.rule != super::squawk::PSQL_META_COMMAND
}

/// A line to add to a file so that a run acceptance replays without flags.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LineToAdd {
    pub path: String,
    pub rule: String,
    /// `-- pgkeel:accept RULE <reason>` (the run's reason, when it had one of its own).
    pub line: String,
    /// Where in the file: a line of its own in the up part; this is the first finding's line.
    pub before_line: usize,
}

/// For each (file, rule) accepted by a run acceptance, the line that would make it part of the
/// file, in first-seen order.
pub fn lines_to_add(findings: &[LintFinding]) -> Vec<LineToAdd> {
    let mut out: Vec<LineToAdd> = Vec::new();
    for f in findings {
        let Some(a) = &f.accepted else { continue };
        if matches!(a.source, Source::File { .. }) {
            continue;
        }
        if out.iter().any(|l| l.path == f.path && l.rule == f.rule) {
            continue;
        }
        let reason = if a.reason == FLAG_REASON || a.reason == MCP_REASON {
            "<reason>"
        } else {
            a.reason.as_str()
        };
        out.push(LineToAdd {
            path: f.path.clone(),
            rule: f.rule.clone(),
            line: directive_line(&f.rule, reason),
            before_line: f.line,
        });
    }
    out
}

/// What history records for one migration: each accepted rule of the up-part findings of
/// `path`, once per (rule, source), in first-seen order.
pub fn recorded(findings: &[LintFinding], path: &str) -> Vec<Acceptance> {
    let mut out: Vec<Acceptance> = Vec::new();
    for f in findings.iter().filter(|f| f.path == path && f.part == "up") {
        let Some(a) = &f.accepted else { continue };
        if out.iter().any(|r| r.rule == f.rule && r.source == a.source) {
            continue;
        }
        out.push(Acceptance {
            rule: f.rule.clone(),
            reason: a.reason.clone(),
            source: a.source.clone(),
        });
    }
    out
}

/// `sql` with one `-- pgkeel:accept` line per acceptance that the text does not already have,
/// inserted at the top, after any leading `-- pgkeel:` directive lines (so `no-transaction`
/// stays in the header). Line endings follow the text's first line break.
pub fn with_lines(sql: &str, accepts: &[Acceptance]) -> String {
    let has = |rule: &str| {
        sql.lines().any(|l| {
            l.trim()
                .strip_prefix("-- pgkeel:")
                .and_then(|d| d.trim().strip_prefix(DIRECTIVE))
                .and_then(|rest| rest.split_whitespace().next())
                .is_some_and(|r| {
                    let r = squawk::canonical(r);
                    r.is_some() && r == squawk::canonical(rule)
                })
        })
    };
    let eol = if sql.contains("\r\n") { "\r\n" } else { "\n" };
    let mut lines = String::new();
    let mut added: Vec<Option<String>> = Vec::new();
    for a in accepts {
        let rule = squawk::canonical(&a.rule);
        if !has(&a.rule) && !added.contains(&rule) {
            lines.push_str(&a.line());
            lines.push_str(eol);
            added.push(rule);
        }
    }
    if lines.is_empty() {
        return sql.to_string();
    }
    // After the leading directive lines (a BOM stays first).
    let body = sql.strip_prefix('\u{feff}').unwrap_or(sql);
    let bom = &sql[..sql.len() - body.len()];
    let mut at = 0;
    for l in body.split_inclusive('\n') {
        if l.trim().starts_with("-- pgkeel:") && l.ends_with('\n') {
            at += l.len();
        } else {
            break;
        }
    }
    format!("{bom}{}{lines}{}", &body[..at], &body[at..])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn finding(rule: &str, severity: Severity, path: &str, line: usize) -> LintFinding {
        LintFinding {
            rule: rule.into(),
            severity,
            path: path.into(),
            line,
            column: 1,
            end_line: line,
            end_column: 10,
            message: "m".into(),
            help: None,
            part: "up",
            reason: None,
            offset: 0,
            accepted: None,
        }
    }

    fn parse(line: &str) -> Result<Acceptance, DirectiveError> {
        let at = line.find("accept").unwrap() + DIRECTIVE.len();
        parse_directive("m/001_x.sql", 3, line, at)
    }

    #[test]
    fn directive_lines_parse_with_positions_and_clear_errors() {
        let a = parse("-- pgkeel:accept ban-drop-column  nobody reads it since v2 ").unwrap();
        assert_eq!(a.rule, "ban-drop-column");
        assert_eq!(a.reason, "nobody reads it since v2");
        assert_eq!(
            a.source,
            Source::File {
                path: "m/001_x.sql".into(),
                line: 3,
                column: 18,
                end_column: 33
            }
        );
        assert_eq!(a.source.to_string(), "m/001_x.sql:3");
        // An alias and the timeout group are rule ids too.
        assert!(parse("-- pgkeel:accept prefer-timestamptz legacy").is_ok());
        assert!(parse("  -- pgkeel:accept require-timeout-settings set by the job").is_ok());

        let e = parse("-- pgkeel:accept ban-drop-colum why").unwrap_err();
        assert_eq!((e.line, e.column), (3, 18));
        assert!(e.message.contains("not a squawk rule id"), "{}", e.message);
        assert!(
            e.message.contains("did you mean ban-drop-column"),
            "{}",
            e.message
        );
        let e = parse("-- pgkeel:accept ban-drop-column").unwrap_err();
        assert_eq!(e.column, 34);
        assert!(e.message.contains("has no reason"), "{}", e.message);
        let e = parse("-- pgkeel:accept ban-drop-column   ").unwrap_err();
        assert!(e.message.contains("has no reason"), "{}", e.message);
        let e = parse("-- pgkeel:accept").unwrap_err();
        assert!(e.message.contains("needs a rule id"), "{}", e.message);
        let long = format!("-- pgkeel:accept ban-drop-table {}", "x".repeat(501));
        assert!(parse(&long).is_err());
        // Columns count characters, not bytes.
        let e = parse("-- pgkeel:accept ban-dröp why").unwrap_err();
        assert_eq!(e.column, 18);
    }

    #[test]
    fn file_acceptances_mark_their_findings_and_report_unused_lines() {
        let accepts = vec![
            parse("-- pgkeel:accept ban-drop-column gone since v2").unwrap(),
            parse("-- pgkeel:accept require-timeout-settings the job sets them").unwrap(),
            parse("-- pgkeel:accept ban-drop-table stale").unwrap(),
        ];
        let mut f = vec![
            finding("ban-drop-column", Severity::Error, "m/001_x.sql", 5),
            finding("ban-drop-column", Severity::Error, "m/002_y.sql", 5),
            finding("require-lock-timeout", Severity::Warning, "m/001_x.sql", 6),
            finding(
                "prefer-bigint-over-int",
                Severity::Warning,
                "m/001_x.sql",
                7,
            ),
        ];
        let unused = apply_file(&accepts, "m/001_x.sql", &mut f);
        assert_eq!(
            f[0].accepted,
            Some(Accepted {
                reason: "gone since v2".into(),
                source: accepts[0].source.clone()
            })
        );
        assert!(!blocks(&f[0]));
        // Another file's finding is not accepted by this file's line.
        assert!(f[1].accepted.is_none() && blocks(&f[1]));
        assert_eq!(
            f[2].accepted.as_ref().map(|a| a.reason.as_str()),
            Some("the job sets them")
        );
        assert!(f[3].accepted.is_none() && !blocks(&f[3]));
        assert_eq!(unused.len(), 1);
        assert_eq!(unused[0].rule, UNUSED);
        assert_eq!(unused[0].severity, Severity::Warning);
        assert_eq!((unused[0].line, unused[0].column), (3, 18));
        assert!(unused[0].message.contains("ban-drop-table"));
    }

    #[test]
    fn run_acceptances_mark_what_is_left_and_name_the_line_to_add() {
        let mut f = vec![
            finding("ban-drop-column", Severity::Error, "m/001_x.sql", 5),
            finding("ban-drop-column", Severity::Error, "m/001_x.sql", 9),
            finding("ban-drop-table", Severity::Error, "m/002_y.sql", 2),
        ];
        f[1].accepted = Some(Accepted {
            reason: "in the file".into(),
            source: Source::File {
                path: "m/001_x.sql".into(),
                line: 1,
                column: 18,
                end_column: 33,
            },
        });
        let run = vec![
            Acceptance::run("ban-drop-column", None, Source::Flag).unwrap(),
            Acceptance::run("ban-drop-table", Some(" empty\n table "), Source::Mcp).unwrap(),
        ];
        check_run(&run).unwrap();
        apply_run(&run, &mut f);
        assert_eq!(f[0].accepted.as_ref().unwrap().source, Source::Flag);
        assert_eq!(f[1].accepted.as_ref().unwrap().reason, "in the file");
        assert_eq!(f[2].accepted.as_ref().unwrap().reason, "empty table");
        assert!(f.iter().all(|f| !blocks(f)));
        let lines = lines_to_add(&f);
        assert_eq!(
            lines,
            [
                LineToAdd {
                    path: "m/001_x.sql".into(),
                    rule: "ban-drop-column".into(),
                    line: "-- pgkeel:accept ban-drop-column <reason>".into(),
                    before_line: 5
                },
                LineToAdd {
                    path: "m/002_y.sql".into(),
                    rule: "ban-drop-table".into(),
                    line: "-- pgkeel:accept ban-drop-table empty table".into(),
                    before_line: 2
                }
            ]
        );
        let rec = recorded(&f, "m/001_x.sql");
        assert_eq!(rec.len(), 2);
        assert_eq!(
            serde_json::to_value(&rec[0]).unwrap(),
            serde_json::json!({"rule": "ban-drop-column", "reason": FLAG_REASON, "source": "--accept-lint"})
        );
        assert_eq!(rec[1].source.to_string(), "m/001_x.sql:1");

        let bad = [Acceptance::run("ban-drop-colum", None, Source::Flag).unwrap()];
        let e = check_run(&bad).unwrap_err();
        assert!(e.contains("did you mean ban-drop-column"), "{e}");
        assert!(Acceptance::run("ban-drop-table", Some(" \n "), Source::Mcp).is_err());
    }

    #[test]
    fn lines_are_written_after_leading_directives_once() {
        let a =
            |rule: &str, reason: &str| Acceptance::run(rule, Some(reason), Source::Mcp).unwrap();
        let accepts = [a("ban-drop-column", "gone"), a("ban-drop-table", "empty")];
        assert_eq!(
            with_lines("alter table t drop column c;\n", &accepts[..1]),
            "-- pgkeel:accept ban-drop-column gone\nalter table t drop column c;\n"
        );
        assert_eq!(
            with_lines("-- pgkeel:no-transaction\n-- why\nselect 1;\n", &accepts),
            "-- pgkeel:no-transaction\n-- pgkeel:accept ban-drop-column gone\n-- pgkeel:accept ban-drop-table empty\n-- why\nselect 1;\n"
        );
        // Already in the text (through an alias too): not added again.
        let sql = "-- pgkeel:accept ban-drop-column mine\ndrop table t;\n";
        assert_eq!(
            with_lines(sql, &accepts),
            "-- pgkeel:accept ban-drop-column mine\n-- pgkeel:accept ban-drop-table empty\ndrop table t;\n"
        );
        assert_eq!(with_lines(sql, &accepts[..1]), sql);
        // CRLF text gets CRLF lines; a BOM stays first.
        assert_eq!(
            with_lines("\u{feff}drop table t;\r\n", &accepts[1..]),
            "\u{feff}-- pgkeel:accept ban-drop-table empty\r\ndrop table t;\r\n"
        );
    }
}
