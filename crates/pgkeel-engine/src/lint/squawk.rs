//! The adapter over squawk-linter: pgkeel's rule set and severities, squawk's settings, and
//! squawk's text ranges turned into file positions.
//!
//! - **Parts.** The up part and the down SQL (a `-- pgkeel:down` section or a sibling
//!   `.down.sql`) are linted separately, as pgkeel runs them separately. Findings in the down
//!   SQL are warnings at most: undoing (dropping what the up part created) is its job, and it
//!   never runs in `up`, so it never blocks `up`. Positions are in the
//!   normalised text (BOM stripped, CRLF → LF); normalising removes no line break and nothing
//!   before a character on its line except a BOM (which editors do not show as a column), so the
//!   lines and columns are the ones an editor shows for the original file.
//! - **Transactions.** `assume_in_transaction` is on (pgkeel wraps each migration in a
//!   transaction) unless the migration is `-- pgkeel:no-transaction`. Two rules are never run:
//!   `ban-concurrent-index-creation-in-transaction` (pgkeel runs every CONCURRENTLY statement
//!   alone, outside the transaction) and `transaction-nesting` (pgkeel drops a file's own
//!   BEGIN/COMMIT wrapper and refuses any other transaction control before running anything) —
//!   with `assume_in_transaction` they would only flag what pgkeel handles correctly.
//! - **Timeouts.** pgkeel sets `lock_timeout` / `statement_timeout` itself from `[apply]`; when
//!   the configured value is non-zero, `require-lock-timeout` is satisfied and off (unless
//!   `[lint.rules]` names it). `require-statement-timeout` is opt-in (`include` or
//!   `[lint.rules]`): lock_timeout is what keeps a migration from blocking others; a statement
//!   timeout is a policy choice, and the rule would warn on every migration.
//! - **Ignores.** squawk's own comments work as squawk documents them: `-- squawk-ignore RULE[,
//!   RULE]` on the line before a statement (or inside it), `-- squawk-ignore-file [RULE, …]`
//!   anywhere; a file-level ignore covers both parts of the file.
//! - **Parse errors** are findings of severity error (rule [`SYNTAX_ERROR`], in both parts), so
//!   `pgkeel lint` never says "0 errors" about a file it could not read; a psql meta-command
//!   (`\i`, `\set`, …, see [`crate::psql`]) is one finding of its own ([`PSQL_META_COMMAND`])
//!   with the SQL alternative, instead of the parse errors it causes on its line. squawk lints
//!   what it could read. Neither blocks an apply (see [`super::accept::blocks`]): a run refuses
//!   meta-commands before lint, and sends SQL squawk cannot read to the server unsplit.

use std::str::FromStr;

use squawk_linter::ignore::{ignore_rule_info, IgnoreKind};
use squawk_linter::{Linter, LinterSettings, Rule};
use squawk_syntax::{Parse, SourceFile, SyntaxKind};

use super::context::{statement_facts, StmtFacts};
use super::settings::{Level, LintSettings};
use super::LintFinding;
use crate::migration::{DownSource, Migration};
use crate::statements::LineIndex;
use crate::validate::Severity;

/// The rule id of a finding for SQL squawk's parser cannot read.
pub const SYNTAX_ERROR: &str = "syntax-error";
/// The rule id of a finding for a psql meta-command.
pub const PSQL_META_COMMAND: &str = "psql-meta-command";

/// Rules pgkeel never runs: see the module documentation.
pub const HANDLED_BY_PGKEEL: &[&str] = &[
    "ban-concurrent-index-creation-in-transaction",
    "transaction-nesting",
];

/// The canonical id of a rule name (aliases such as `prefer-timestamp-tz` resolved).
pub fn canonical(name: &str) -> Option<String> {
    Rule::from_str(name.trim()).ok().map(|r| r.to_string())
}

/// The rule of a (canonical or alias) id.
pub fn rule(name: &str) -> Option<Rule> {
    Rule::from_str(name.trim()).ok()
}

/// True for a squawk rule id.
pub fn is_rule(name: &str) -> bool {
    canonical(name).is_some()
}

/// True when `accepted` names `rule` (directly, through an alias, or as the
/// `require-timeout-settings` group).
pub fn same_rule(accepted: &str, rule: &str) -> bool {
    let Ok(a) = Rule::from_str(accepted.trim()) else {
        return false;
    };
    a.to_string() == rule || a.expands_to().iter().any(|r| r.to_string() == rule)
}

/// pgkeel's default level for a rule (docs/CONFIG.md has the table). Data loss and statements
/// that block reads or writes for the length of a table scan or rewrite are errors; style,
/// compatibility and naming rules are warnings.
pub fn default_level(rule: Rule) -> Level {
    use Rule as R;
    match rule {
        // Data loss.
        R::BanDropDatabase
        | R::BanDropTable
        | R::BanDropColumn
        | R::BanDropSchema
        | R::BanTruncateCascade
        | R::ChangingColumnType
        // Locks held for a scan or a rewrite of the whole table.
        | R::RequireConcurrentIndexCreation
        | R::RequireConcurrentIndexDeletion
        | R::RequireConcurrentReindex
        | R::RequireConcurrentPartitionDetach
        | R::ConstraintMissingNotValid
        | R::AddingForeignKeyConstraint
        | R::AddingRequiredField
        | R::AddingNotNullableField
        | R::AddingFieldWithDefault
        | R::AddingSerialPrimaryKeyField
        | R::DisallowedUniqueConstraint
        | R::BanAlterDomainWithAddConstraint
        // Statements that fail or leave a transaction open.
        | R::BanDuplicateColumnAssignments
        | R::BanUncommittedTransaction => Level::Error,
        R::BanConcurrentIndexCreationInTransaction | R::TransactionNesting => Level::Off,
        _ => Level::Warning,
    }
}

/// The effective level of a rule under `s`.
fn level(s: &LintSettings, rule: Rule) -> Level {
    let id = rule.to_string();
    if let Some(l) = s.rules.get(&id) {
        return *l;
    }
    if matches!(
        rule,
        Rule::RequireLockTimeout | Rule::RequireStatementTimeout
    ) {
        if let Some(l) = s.rules.get("require-timeout-settings") {
            return *l;
        }
    }
    default_level(rule)
}

fn named(s: &LintSettings, id: &str) -> bool {
    s.rules.contains_key(id)
        || (matches!(id, "require-lock-timeout" | "require-statement-timeout")
            && s.rules.contains_key("require-timeout-settings"))
}

/// A squawk linter with pgkeel's rule set for `s`.
fn linter(s: &LintSettings, assume_in_transaction: bool) -> Linter {
    let parse = |ids: &mut dyn Iterator<Item = &String>| -> Vec<Rule> {
        ids.filter_map(|i| Rule::from_str(i).ok()).collect()
    };
    let mut include = parse(&mut s.include.iter());
    include.extend(parse(
        &mut s
            .rules
            .iter()
            .filter(|(_, l)| **l != Level::Off)
            .map(|(i, _)| i),
    ));
    let mut linter = Linter::with_rules(&include, &[]);
    linter.rules.retain(|r| {
        let id = r.to_string();
        if level(s, *r) == Level::Off || HANDLED_BY_PGKEEL.contains(&id.as_str()) {
            return false;
        }
        match r {
            Rule::RequireLockTimeout => !s.lock_timeout_set || named(s, &id),
            // Opt-in: pgkeel's lock_timeout (on by default) already keeps a migration from
            // queueing behind, and blocking everyone behind, a long transaction; a statement
            // timeout is a policy choice (backfills legitimately run long), and the rule would
            // otherwise warn on every migration that takes a lock.
            Rule::RequireStatementTimeout => {
                named(s, &id) || (s.include.contains(&id) && !s.statement_timeout_set)
            }
            _ => true,
        }
    });
    linter.settings = LinterSettings {
        // Checked when the settings were read; a hand-built value falls back to squawk's default.
        pg_version: s.pg_version.parse().unwrap_or_default(),
        assume_in_transaction,
    };
    linter
}

/// The `-- squawk-ignore-file` comments of a part: (ignore everything, rules ignored).
fn file_ignores(parse: &Parse<SourceFile>) -> (bool, Vec<Rule>) {
    let mut all = false;
    let mut rules = Vec::new();
    for el in parse.syntax_node().descendants_with_tokens() {
        let Some(tok) = el.into_token() else { continue };
        if tok.kind() != SyntaxKind::COMMENT {
            continue;
        }
        if let Some((names, _, IgnoreKind::File)) = ignore_rule_info(&tok) {
            if names.trim().is_empty() {
                all = true;
            }
            for n in names.split(',') {
                if let Ok(r) = Rule::from_str(n.trim()) {
                    rules.push(r);
                    rules.extend(r.expands_to());
                }
            }
        }
    }
    (all, rules)
}

/// One part of a file to lint: `text[range]`, positions reported through `index`.
struct Part<'a> {
    path: &'a str,
    text: &'a str,
    range: std::ops::Range<usize>,
    name: &'static str,
}

/// Lint a migration's up part and down SQL with `s` (which is assumed enabled).
pub fn lint(m: &Migration, s: &LintSettings) -> Vec<LintFinding> {
    lint_with_facts(m, s).0
}

/// [`lint`], with the facts of the up part's statements (for judging in context, see
/// [`super::context`]) from the same parse.
pub fn lint_with_facts(m: &Migration, s: &LintSettings) -> (Vec<LintFinding>, Vec<StmtFacts>) {
    let mut parts = vec![Part {
        path: &m.path,
        text: &m.content,
        range: m.up_range.clone(),
        name: "up",
    }];
    if let Some(r) = &m.down_range {
        parts.push(Part {
            path: &m.path,
            text: &m.content,
            range: r.clone(),
            name: "down",
        });
    }
    if let (
        Some(text),
        Some(crate::migration::Down {
            source: DownSource::File { path },
            ..
        }),
    ) = (&m.down_file_content, &m.down)
    {
        parts.push(Part {
            path,
            text,
            range: 0..text.len(),
            name: "down",
        });
    }
    let assume_in_transaction = !m.no_transaction;
    let linted: Vec<PartLint> = parts
        .iter()
        .map(|p| lint_part(p, s, assume_in_transaction))
        .collect();
    let mut out = Vec::new();
    for (part, l) in parts.iter().zip(&linted) {
        out.extend(syntax_findings(part, &l.parse_errors));
    }
    // A file-level ignore in one part of a file covers the other part of the same file too.
    let ignores: Vec<(bool, Vec<Rule>)> = linted.iter().map(|l| l.ignores.clone()).collect();
    let mut facts = Vec::new();
    for (i, (part, l)) in parts.iter().zip(linted).enumerate() {
        if i == 0 {
            facts = l.facts;
        }
        push_violations(&mut out, s, &parts, &ignores, i, part, l.violations);
    }
    (out, facts)
}

/// A squawk violation with its range as byte offsets of the file text.
struct Found {
    code: Rule,
    message: String,
    help: Option<String>,
    start: usize,
    end: usize,
}

/// What linting one part gave: squawk's violations, its `squawk-ignore-file` comments, the
/// facts of its statements, and the parser's errors (offsets of the file text).
struct PartLint {
    violations: Vec<Found>,
    ignores: (bool, Vec<Rule>),
    facts: Vec<StmtFacts>,
    parse_errors: Vec<(usize, usize, String)>,
}

/// Lint one part: a large part chunk by chunk (see [`lint_in_chunks`]), otherwise at once.
fn lint_part(part: &Part<'_>, s: &LintSettings, assume_in_transaction: bool) -> PartLint {
    let section = &part.text[part.range.clone()];
    if section.len() > crate::statements::CHUNK_BYTES {
        if let Some(l) = lint_in_chunks(part, s, assume_in_transaction) {
            return l;
        }
    }
    let parse = SourceFile::parse(section);
    let base = part.range.start;
    let violations = linter(s, assume_in_transaction)
        .lint(&parse, section)
        .into_iter()
        .map(|v| Found {
            start: base + usize::from(v.text_range.start()),
            end: base + usize::from(v.text_range.end()),
            code: v.code,
            message: v.message,
            help: v.help,
        })
        .collect();
    PartLint {
        violations,
        ignores: file_ignores(&parse),
        facts: statement_facts(&parse, base),
        parse_errors: parse
            .errors()
            .iter()
            .map(|e| {
                (
                    base + usize::from(e.range().start()),
                    base + usize::from(e.range().end()),
                    e.message().to_string(),
                )
            })
            .collect(),
    }
}

/// Lint a large part one chunk at a time (chunks of whole statements, see
/// [`crate::statements::chunks`]), so the parser's memory is that of one chunk, not of a 50 MB
/// file. squawk's rules that look across statements (a table created earlier in the file, a
/// `SET` before, a `BEGIN` and its `COMMIT` later) read only statements other than DML: each
/// chunk is linted between the text of every non-DML statement before it and after it (the
/// context, usually small), and findings in the context are dropped (they are reported with
/// their own chunk), so the findings are those of linting the whole part. Each chunk is parsed
/// twice: once to collect the context, once to lint. `None` (lint it at once) when a chunk
/// does not parse, the context outgrows a chunk (a file of mostly DDL), or the part has
/// comments that act on the whole file (`squawk-ignore-file`, assume-in-transaction), which a
/// chunk would not see.
fn lint_in_chunks(
    part: &Part<'_>,
    s: &LintSettings,
    assume_in_transaction: bool,
) -> Option<PartLint> {
    use squawk_syntax::ast::{self, AstNode};
    let section = &part.text[part.range.clone()];
    if section.contains("squawk-ignore-file") || section.contains("assume-in-transaction") {
        return None;
    }
    let chunks = crate::statements::chunks(section, crate::statements::CHUNK_BYTES);
    // The non-DML statements of each chunk, each followed by a line break.
    let mut contexts: Vec<String> = Vec::with_capacity(chunks.len());
    let mut total = 0;
    for chunk in &chunks {
        let text = &section[chunk.clone()];
        let parse = SourceFile::parse(text);
        if !parse.errors().is_empty() {
            return None;
        }
        let mut ctx = String::new();
        for stmt in parse.tree().stmts() {
            let dml = matches!(
                stmt,
                ast::Stmt::Insert(_)
                    | ast::Stmt::Update(_)
                    | ast::Stmt::Delete(_)
                    | ast::Stmt::Select(_)
                    | ast::Stmt::Values(_)
                    | ast::Stmt::Copy(_)
            );
            if !dml {
                let r = stmt.syntax().text_range();
                ctx.push_str(&text[usize::from(r.start())..usize::from(r.end())]);
                ctx.push('\n');
            }
        }
        total += ctx.len();
        if total > crate::statements::CHUNK_BYTES {
            return None;
        }
        contexts.push(ctx);
    }
    let mut l = PartLint {
        violations: Vec::new(),
        ignores: (false, Vec::new()),
        facts: Vec::new(),
        parse_errors: Vec::new(),
    };
    for (k, chunk) in chunks.iter().enumerate() {
        let before: String = contexts[..k].concat();
        let text = format!(
            "{before}{}\n{}",
            &section[chunk.clone()],
            contexts[k + 1..].concat()
        );
        let own = before.len()..before.len() + chunk.len();
        let parse = SourceFile::parse(&text);
        // Offsets inside this chunk's own text → offsets in the file.
        let at = |r: std::ops::Range<usize>| {
            (own.contains(&r.start) && r.end <= own.end).then(|| {
                let base = part.range.start + chunk.start - own.start;
                base + r.start..base + r.end
            })
        };
        let first_violation = l.violations.len();
        for v in linter(s, assume_in_transaction).lint(&parse, &text) {
            let r = usize::from(v.text_range.start())..usize::from(v.text_range.end());
            if let Some(r) = at(r) {
                l.violations.push(Found {
                    code: v.code,
                    message: v.message,
                    help: v.help,
                    start: r.start,
                    end: r.end,
                });
            }
        }
        // Facts matter for what a statement creates or renames, and for the findings on it: the
        // facts of the other statements (a 50 MB file of INSERTs: all of them) are dropped chunk
        // by chunk, so they never pile up (69 MB for that file when dropped at the end).
        let mut starts: Vec<usize> = l.violations[first_violation..]
            .iter()
            .map(|v| v.start)
            .collect();
        starts.sort_unstable();
        for mut f in statement_facts(&parse, 0) {
            if let Some(r) = at(f.range.clone()) {
                f.range = r;
                let i = starts.partition_point(|&start| start < f.range.start);
                let has_finding = starts.get(i).is_some_and(|start| f.range.contains(start));
                if has_finding || !f.is_empty() {
                    l.facts.push(f);
                }
            }
        }
    }
    Some(l)
}

/// squawk's violations of part `i` as findings (pgkeel's levels, help and positions).
fn push_violations(
    out: &mut Vec<LintFinding>,
    s: &LintSettings,
    parts: &[Part<'_>],
    ignores: &[(bool, Vec<Rule>)],
    i: usize,
    part: &Part<'_>,
    violations: Vec<Found>,
) {
    if violations.is_empty() {
        return;
    }
    {
        let index = LineIndex::new(part.text);
        for v in violations {
            let ignored_elsewhere = parts.iter().enumerate().any(|(j, other)| {
                j != i
                    && other.path == part.path
                    && (ignores[j].0 || ignores[j].1.contains(&v.code))
            });
            if ignored_elsewhere {
                continue;
            }
            let Some(mut severity) = level(s, v.code).severity().or(match v.code {
                // squawk reports unknown names in ignore comments itself, outside the rule set.
                Rule::UnusedIgnore => Some(Severity::Warning),
                _ => None,
            }) else {
                continue;
            };
            // A down migration exists to undo the up part: dropping what it created is its job,
            // and it does not run in `up`. Its findings are shown, at most as warnings, and
            // never block `up`.
            if part.name == "down" {
                severity = severity.min(Severity::Warning);
            }
            let help = match v.code {
                // squawk's help says to add a SET to the file; with pgkeel the setting belongs
                // in pgkeel.toml, which pgkeel applies to every migration.
                Rule::RequireLockTimeout => Some("set `[apply] lock_timeout` in pgkeel.toml (pgkeel sets it before every migration; the default is 5s)".to_string()),
                Rule::RequireStatementTimeout => Some("set `[apply] statement_timeout` in pgkeel.toml (pgkeel sets it before every migration), or turn this rule off in [lint.rules]".to_string()),
                _ => v.help,
            };
            let (start, end) = (v.start, v.end);
            let (line, column) = index.position(start);
            let (end_line, end_column) = index.position(end);
            out.push(LintFinding {
                rule: v.code.to_string(),
                severity,
                path: part.path.to_string(),
                line,
                column,
                end_line,
                end_column,
                message: v.message,
                help,
                part: part.name,
                reason: None,
                offset: start,
                accepted: None,
            });
        }
    }
}

/// The parse errors of a part as findings: one per psql meta-command (its line's parse errors
/// are its consequence), then squawk's errors on the other lines.
fn syntax_findings(part: &Part<'_>, errors: &[(usize, usize, String)]) -> Vec<LintFinding> {
    if errors.is_empty() {
        return Vec::new();
    }
    let index = LineIndex::new(part.text);
    let finding = |rule: &str, start: usize, end: usize, message: String, help: &str| {
        let (line, column) = index.position(start);
        let (end_line, end_column) = index.position(end);
        LintFinding {
            rule: rule.to_string(),
            severity: Severity::Error,
            path: part.path.to_string(),
            line,
            column,
            end_line,
            end_column,
            message,
            help: Some(help.to_string()),
            part: part.name,
            reason: None,
            offset: start,
            accepted: None,
        }
    };
    let metas = crate::psql::meta_commands(part.text, part.range.clone());
    let mut out: Vec<LintFinding> = metas
        .iter()
        .map(|m| {
            finding(
                PSQL_META_COMMAND,
                m.offset,
                m.offset + m.command.len(),
                m.message(),
                "pgkeel runs SQL only: psql's backslash commands are refused before anything runs",
            )
        })
        .collect();
    // One finding per line: the parser's recovery reports each following token again.
    let mut lines_done: Vec<usize> = out.iter().map(|f| f.line).collect();
    for (start, end, message) in errors {
        let (start, end) = (*start, *end);
        let f = finding(
            SYNTAX_ERROR,
            start,
            end.max(start),
            format!("the SQL does not parse here: {message}"),
            "fix the SQL at this position; if it is valid PostgreSQL that squawk's parser does not know yet, `pgkeel up` sends the file to the server unsplit and the server judges it (its dry run shows the verdict first)",
        );
        if !lines_done.contains(&f.line) {
            lines_done.push(f.line);
            out.push(f);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::version::Version;

    fn mig(text: &str) -> Migration {
        Migration::from_text(
            Version::parse("001").unwrap(),
            "x".into(),
            "migrations/001_x.sql".into(),
            text,
        )
        .unwrap()
    }

    fn brief(findings: &[LintFinding]) -> Vec<String> {
        findings
            .iter()
            .map(|f| {
                format!(
                    "{}:{}-{}:{} {} {} {}",
                    f.line, f.column, f.end_line, f.end_column, f.severity, f.rule, f.part
                )
            })
            .collect()
    }

    /// Default settings with a statement_timeout configured (so the timeout rules stay quiet).
    fn quiet() -> LintSettings {
        LintSettings {
            statement_timeout_set: true,
            ..LintSettings::default()
        }
    }

    const FILE: &str = "-- header\ncreate index users_email on users (email);\nalter table users drop column legacy;\n-- pgkeel:down\ndrop index users_email;\n";

    #[test]
    fn findings_have_exact_positions_in_up_and_down_parts() {
        let f = lint(&mig(FILE), &quiet());
        assert_eq!(
            brief(&f),
            [
                "2:1-2:43 error require-concurrent-index-creation up",
                "3:19-3:37 error ban-drop-column up",
                "5:1-5:24 warning require-concurrent-index-deletion down",
            ]
        );
        assert_eq!(f[0].path, "migrations/001_x.sql");
        assert_eq!(
            f[0].help.as_deref(),
            Some("Use `concurrently` to avoid blocking writes.")
        );
        assert!(f[1]
            .message
            .contains("Dropping a column may break existing clients"));
    }

    #[test]
    fn crlf_and_bom_files_have_the_positions_an_editor_shows() {
        let crlf = format!("\u{feff}{}", FILE.replace('\n', "\r\n"));
        assert_eq!(lint(&mig(&crlf), &quiet()), lint(&mig(FILE), &quiet()));
        // A non-ASCII character before a finding counts as one column.
        let f = lint(
            &mig("select 'é'; alter table users drop column legacy;\n"),
            &quiet(),
        );
        assert_eq!(brief(&f), ["1:31-1:49 error ban-drop-column up"]);
    }

    #[test]
    fn squawk_ignore_comments_work_per_statement_and_per_file() {
        let text = "-- squawk-ignore ban-drop-column\nalter table users drop column legacy;\nalter table users drop column other;\n";
        assert_eq!(
            brief(&lint(&mig(text), &quiet())),
            ["3:19-3:36 error ban-drop-column up"]
        );
        // A file-level ignore in the up part covers the down part too.
        let text = "-- squawk-ignore-file require-concurrent-index-creation, require-concurrent-index-deletion\ncreate index i on t (x);\n-- pgkeel:down\ndrop index i;\n";
        assert!(lint(&mig(text), &quiet()).is_empty());
        let text = "-- squawk-ignore-file\nalter table users drop column legacy;\n";
        assert!(lint(&mig(text), &quiet()).is_empty());
        // A misspelt rule name in an ignore comment is reported, not silently ignored.
        let text = "-- squawk-ignore ban-drop-colum\nalter table users drop column legacy;\n";
        assert_eq!(
            brief(&lint(&mig(text), &quiet())),
            [
                "1:18-1:32 warning unused-ignore up",
                "2:19-2:37 error ban-drop-column up"
            ]
        );
    }

    #[test]
    fn what_pgkeel_handles_is_not_flagged() {
        // CONCURRENTLY runs outside the transaction; a BEGIN/COMMIT wrapper is dropped.
        let text = "BEGIN;\ncreate table t (id bigint generated always as identity primary key);\nCOMMIT;\ncreate index concurrently if not exists i on users (email);\n";
        assert!(
            lint(&mig(text), &quiet()).is_empty(),
            "{:?}",
            brief(&lint(&mig(text), &quiet()))
        );
        let text = "-- pgkeel:no-transaction\ncreate index concurrently if not exists i on users (email);\n";
        assert!(lint(&mig(text), &quiet()).is_empty());
        // Outside a transaction, a statement that fails half-way is run again: squawk asks for
        // IF NOT EXISTS (a warning).
        let text = "-- pgkeel:no-transaction\ncreate index concurrently i on users (email);\n";
        assert_eq!(
            brief(&lint(&mig(text), &quiet())),
            ["2:1-2:46 warning prefer-robust-stmts up"]
        );
        // A table created in the same migration (the same transaction) can be indexed directly.
        let text = "create table t (id bigint generated always as identity primary key, x text);\ncreate index i on t (x);\n";
        assert!(lint(&mig(text), &quiet()).is_empty());
    }

    #[test]
    fn timeout_rules_follow_the_apply_timeouts() {
        let text = "alter table users add column c text;\n";
        // The defaults (lock_timeout 5s, no statement_timeout): nothing; the statement-timeout
        // rule is opt-in.
        assert!(lint(&mig(text), &LintSettings::default()).is_empty());
        assert!(lint(&mig(text), &quiet()).is_empty());
        let none = LintSettings {
            lock_timeout_set: false,
            ..LintSettings::default()
        };
        let rules: Vec<String> = lint(&mig(text), &none)
            .into_iter()
            .map(|f| f.rule)
            .collect();
        assert_eq!(rules, ["require-lock-timeout"]);
        let opted_in = LintSettings {
            lock_timeout_set: false,
            include: vec!["require-statement-timeout".into()],
            ..LintSettings::default()
        };
        let rules: Vec<String> = lint(&mig(text), &opted_in)
            .into_iter()
            .map(|f| f.rule)
            .collect();
        assert_eq!(rules, ["require-lock-timeout", "require-statement-timeout"]);
        // Named in [lint.rules], a timeout rule runs even though pgkeel sets the timeout.
        let mut named = quiet();
        named
            .rules
            .insert("require-timeout-settings".into(), Level::Error);
        let f = lint(&mig(text), &named);
        assert_eq!(f.len(), 2);
        assert!(f.iter().all(|f| f.severity == Severity::Error));
    }

    #[test]
    fn severities_can_be_changed_and_opt_in_rules_included() {
        let text = "alter table users drop column legacy;\ndrop trigger tr on users;\ncreate table t (id int primary key, at timestamp);\n";
        let defaults = brief(&lint(&mig(text), &quiet()));
        assert_eq!(
            defaults,
            [
                "1:19-1:37 error ban-drop-column up",
                "3:20-3:23 warning prefer-bigint-over-int up",
                "3:40-3:49 warning prefer-timestamp-tz up",
            ]
        );
        let mut s = quiet();
        s.rules.insert("ban-drop-column".into(), Level::Warning);
        s.rules.insert("prefer-timestamp-tz".into(), Level::Off);
        s.include.push("ban-drop-trigger".into());
        assert_eq!(
            brief(&lint(&mig(text), &s)),
            [
                "1:19-1:37 warning ban-drop-column up",
                "2:1-2:26 warning ban-drop-trigger up",
                "3:20-3:23 warning prefer-bigint-over-int up",
            ]
        );
    }

    #[test]
    fn parse_errors_are_error_findings_with_their_position() {
        let f = lint(
            &mig("create table t (id bigint);\ninsert into t valuez (1);\n"),
            &quiet(),
        );
        assert_eq!(brief(&f), ["2:14-2:14 error syntax-error up"], "{f:#?}");
        assert_eq!(f[0].path, "migrations/001_x.sql");
        assert!(f[0].message.contains("does not parse"), "{}", f[0].message);
        let f = lint(&mig("\\set x 1\nselect 1;\n"), &quiet());
        assert_eq!(brief(&f), ["1:1-1:5 error psql-meta-command up"]);
        assert!(f[0].message.contains("set_config"), "{}", f[0].message);
        // A backslash in a literal is SQL: no finding.
        assert!(lint(&mig("select E'a\\nb', '\\set';\n"), &quiet()).is_empty());
    }

    #[test]
    fn a_down_file_is_linted_under_its_own_path() {
        let mut m = mig("create table t (id bigint generated always as identity primary key);\n");
        m.attach_down_file("migrations/001_x.down.sql".into(), "\ndrop table t;\n")
            .unwrap();
        let f = lint(&m, &quiet());
        assert_eq!(brief(&f), ["2:1-2:14 warning ban-drop-table down"]);
        assert_eq!(f[0].path, "migrations/001_x.down.sql");
    }

    #[test]
    fn rule_names_and_default_levels() {
        assert_eq!(
            canonical("prefer-timestamptz").as_deref(),
            Some("prefer-timestamp-tz")
        );
        assert!(is_rule("ban-drop-table") && !is_rule("ban-drop-tabel"));
        assert!(same_rule(
            "require-timeout-settings",
            "require-lock-timeout"
        ));
        assert!(!same_rule("ban-drop-table", "ban-drop-column"));
        assert_eq!(default_level(Rule::BanDropTable), Level::Error);
        assert_eq!(default_level(Rule::PreferTextField), Level::Warning);
        assert_eq!(default_level(Rule::TransactionNesting), Level::Off);
    }

    #[test]
    fn a_large_file_linted_in_chunks_gives_the_findings_of_linting_it_whole() {
        let mut sql = String::from(
            "create table t (id bigint primary key, n int);\nbegin;\ncreate table c (id bigint);\n",
        );
        for i in 0..9_000 {
            sql.push_str(&format!(
                "insert into t values ({i}, {i}); -- squawk-ignore ban-drop-table\n"
            ));
            if i % 3_000 == 2_999 {
                // Cross-statement rules, after a chunk boundary: tables created at the top.
                sql.push_str("create index on t (n);\ncreate index on other (n);\n");
                sql.push_str("alter table c add column x int;\nalter table other add column x int not null;\n");
                sql.push_str(
                    "-- squawk-ignore ban-drop-column\nalter table other drop column y;\n",
                );
            }
        }
        sql.push_str("commit;\n");
        assert!(sql.len() > 2 * crate::statements::CHUNK_BYTES);
        let chunked = lint_with_facts(&mig(&sql), &quiet());
        // The marker comment makes the part lint at once; squawk itself ignores it.
        let whole = lint_with_facts(&mig(&format!("{sql}-- assume-in-transaction\n")), &quiet());
        assert!(!chunked.0.is_empty());
        assert_eq!(brief(&chunked.0), brief(&whole.0));
        assert_eq!(
            chunked
                .0
                .iter()
                .map(|f| (&f.message, f.offset))
                .collect::<Vec<_>>(),
            whole
                .0
                .iter()
                .map(|f| (&f.message, f.offset))
                .collect::<Vec<_>>()
        );
        // The chunked facts are the whole parse's, minus those of statements that create,
        // rename or concern nothing and have no finding.
        let kept: Vec<_> = whole
            .1
            .iter()
            .filter(|f| !f.is_empty() || chunked.0.iter().any(|x| f.range.contains(&x.offset)))
            .map(|f| f.range.clone())
            .collect();
        assert_eq!(
            chunked
                .1
                .iter()
                .map(|f| f.range.clone())
                .collect::<Vec<_>>(),
            kept
        );
        assert!(kept.len() < 100, "the INSERTs' facts are gone");
    }
}
