//! A migration as read from disk, and the execution plan of its statements (segments).
//!
//! Pure: no I/O. Directives live in comments at the top of a file:
//! - `-- pgkeel:no-transaction`: run every statement on its own, outside a transaction.
//! - `-- pgkeel:down` (on a line of its own, anywhere): what follows is the down migration.
//! - `-- pgkeel:accept RULE reason…` (on a line of its own, anywhere in the up part): lint
//!   findings of RULE in this file are accepted (see [`crate::lint::accept`]). The rule id must be
//!   squawk's and the reason must be there.
//!
//! An unknown `-- pgkeel:` directive is an error, never ignored: a misspelt `no-transaction`
//! would otherwise silently change how a migration runs.

use serde::Serialize;

use crate::checksum;
use crate::statements::{self, ParseIssue, Statement, TxControl};
use crate::version::Version;

/// Where a migration's down SQL comes from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "source", rename_all = "snake_case")]
pub enum DownSource {
    /// A `-- pgkeel:down` section in the migration file itself.
    Section,
    /// A sibling `NAME.down.sql` file.
    File { path: String },
}

/// The down migration attached to a migration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Down {
    #[serde(flatten)]
    pub source: DownSource,
    /// Checksum of the down SQL (for a section: of the section's text).
    pub checksum: String,
}

/// A migration file: version, name, content and checksum.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Migration {
    pub version: Version,
    pub name: String,
    /// Path relative to the project root, with `/` separators.
    pub path: String,
    /// SHA-256 of the normalised content (see [`checksum`]).
    pub checksum: String,
    /// Shared with the statements split from it (see [`crate::sql_text::SqlText`]).
    #[serde(skip)]
    pub content: std::sync::Arc<String>,
    /// Byte range of the up part within `content`.
    #[serde(skip)]
    pub up_range: std::ops::Range<usize>,
    /// The down part, when the file has a `-- pgkeel:down` section (byte range in `content`).
    #[serde(skip)]
    pub down_range: Option<std::ops::Range<usize>>,
    pub no_transaction: bool,
    pub down: Option<Down>,
    /// Text of a sibling `.down.sql` file, if any.
    #[serde(skip)]
    pub down_file_content: Option<String>,
    /// The file's `-- pgkeel:accept` lines, in order.
    #[serde(skip)]
    pub accepts: Vec<crate::lint::accept::Acceptance>,
}

/// A problem with a migration's directives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirectiveError {
    pub line: usize,
    /// 1-based, in characters: where on the line the problem is.
    pub column: usize,
    pub message: String,
}

const DIRECTIVE_PREFIX: &str = "-- pgkeel:";

impl Migration {
    /// Build a migration from a file's (already UTF-8) text.
    pub fn from_text(
        version: Version,
        name: String,
        path: String,
        raw: &str,
    ) -> Result<Migration, DirectiveError> {
        Migration::from_owned(version, name, path, raw.to_string())
    }

    /// [`Migration::from_text`] taking the text by value: it is kept as the content without a
    /// copy when it needs no normalising.
    pub fn from_owned(
        version: Version,
        name: String,
        path: String,
        raw: String,
    ) -> Result<Migration, DirectiveError> {
        let content = checksum::normalize_owned(raw);
        if content.len() > crate::sql_text::MAX_TEXT {
            return Err(DirectiveError {
                line: 1,
                column: 1,
                message: format!(
                    "the file is {} bytes; pgkeel reads migrations of at most 4 GiB (split it into several migrations)",
                    content.len()
                ),
            });
        }
        let checksum = checksum::sha256_hex(content.as_bytes());
        let mut no_transaction = false;
        let mut down_at: Option<usize> = None;
        let mut in_header = true;
        let mut offset = 0;
        let mut accepts = Vec::new();
        for (i, line) in content.split_inclusive('\n').enumerate() {
            let trimmed = line.trim();
            let lineno = i + 1;
            // Where the directive starts on the line (after leading white space).
            let column = line[..line.len() - line.trim_start().len()].chars().count() + 1;
            if let Some(directive) = trimmed.strip_prefix(DIRECTIVE_PREFIX) {
                let name = directive.split_whitespace().next().unwrap_or("");
                if name == crate::lint::accept::DIRECTIVE {
                    if down_at.is_some() {
                        return Err(DirectiveError {
                            line: lineno,
                            column,
                            message: "`-- pgkeel:accept` belongs in the up part, above `-- pgkeel:down` (findings in down SQL never block)".into(),
                        });
                    }
                    let text = line.trim_end_matches(['\n', '\r']);
                    let rest_at = text.find(DIRECTIVE_PREFIX).unwrap_or(0)
                        + DIRECTIVE_PREFIX.len()
                        + (directive.len() - directive.trim_start().len())
                        + name.len();
                    accepts.push(crate::lint::accept::parse_directive(
                        &path, lineno, text, rest_at,
                    )?);
                    offset += line.len();
                    continue;
                }
                match directive.trim() {
                    "no-transaction" if in_header && down_at.is_none() => no_transaction = true,
                    "no-transaction" => {
                        return Err(DirectiveError {
                            line: lineno,
                            column,
                            message: "`-- pgkeel:no-transaction` must be in the comments at the top of the file, before any SQL".into(),
                        })
                    }
                    "down" if down_at.is_none() => down_at = Some(offset),
                    "down" => {
                        return Err(DirectiveError {
                            line: lineno,
                            column,
                            message: "a second `-- pgkeel:down` line; a migration has one down section".into(),
                        })
                    }
                    other => {
                        return Err(DirectiveError {
                            line: lineno,
                            column,
                            message: format!(
                                "unknown directive `-- pgkeel:{other}` (known: no-transaction, down, accept)"
                            ),
                        })
                    }
                }
            } else if !(trimmed.is_empty() || trimmed.starts_with("--")) {
                in_header = false;
            }
            offset += line.len();
        }
        let (up_range, down_range) = match down_at {
            Some(at) => {
                // The down section starts after the directive line.
                let after = content[at..]
                    .find('\n')
                    .map_or(content.len(), |n| at + n + 1);
                (0..at, Some(after..content.len()))
            }
            None => (0..content.len(), None),
        };
        let down = down_range.as_ref().map(|r| Down {
            source: DownSource::Section,
            checksum: checksum::sha256_hex(content[r.clone()].as_bytes()),
        });
        Ok(Migration {
            version,
            name,
            path,
            checksum,
            content: std::sync::Arc::new(content),
            up_range,
            down_range,
            no_transaction,
            down,
            down_file_content: None,
            accepts,
        })
    }

    /// The SQL of the up part.
    pub fn up_sql(&self) -> &str {
        &self.content[self.up_range.clone()]
    }

    /// Attach a sibling `.down.sql` file. A file with both a section and a sibling is ambiguous.
    pub fn attach_down_file(&mut self, path: String, raw: &str) -> Result<(), String> {
        if self.down.is_some() {
            return Err(format!(
                "{} has a `-- pgkeel:down` section and a sibling {path}; keep one",
                self.path
            ));
        }
        let text = checksum::normalize(raw);
        self.down = Some(Down {
            source: DownSource::File { path },
            checksum: checksum::sha256_hex(text.as_bytes()),
        });
        self.down_file_content = Some(text);
        Ok(())
    }

    /// True when the file still holds the comment header `pgkeel new` wrote (see
    /// [`TEMPLATE_MARKER`]); with no statement it is the untouched template.
    pub fn is_template(&self) -> bool {
        self.up_sql().contains(TEMPLATE_MARKER)
    }

    /// Split the up part and arrange its statements into segments. A psql meta-command
    /// (`\i`, `\set`, …; see [`crate::psql`]) makes the migration unrunnable, named with its line.
    pub fn prepare(&self) -> Result<Prepared, PrepareError> {
        if let Some(meta) = crate::psql::meta_commands(&self.content, self.up_range.clone())
            .into_iter()
            .next()
        {
            return Err(PrepareError {
                line: meta.line,
                column: meta.column,
                statement: 0,
                message: meta.message(),
                meta_command: Some(meta.command),
            });
        }
        let split = statements::split_shared(&self.content, self.up_range.clone());
        let mut statements = split.statements;
        let mut notes = Vec::new();

        // A file wrapped in BEGIN; … COMMIT; (common in hand-written Supabase migrations): pgkeel
        // already runs the migration in one transaction, so the wrapper is dropped.
        let wrapped = statements.len() >= 2
            && statements.first().and_then(|s| s.transaction_control()) == Some(TxControl::Begin)
            && statements.last().and_then(|s| s.transaction_control()) == Some(TxControl::Commit);
        if wrapped && !self.no_transaction {
            statements.pop();
            statements.remove(0);
            for (i, s) in statements.iter_mut().enumerate() {
                s.index = i as u32;
            }
            notes.push(
                "the file's own BEGIN/COMMIT wrapper is skipped: pgkeel runs the migration in one transaction with its history row".to_string(),
            );
        }
        if let Some(s) = statements
            .iter()
            .find(|s| s.transaction_control().is_some())
        {
            return Err(PrepareError {
                line: s.line as usize,
                column: s.column as usize,
                statement: s.index as usize + 1,
                message: format!(
                    "transaction control ({}) inside a migration would break the transaction pgkeel runs it in; remove it (pgkeel commits each migration with its history row), or split the migration",
                    s.kind
                ),
                meta_command: None,
            });
        }

        let mut segments: Vec<Segment> = Vec::new();
        for (i, s) in statements.iter().enumerate() {
            let alone = self.no_transaction || s.non_transactional().is_some();
            match segments.last_mut() {
                Some(seg) if !alone && seg.transactional => seg.statements.end = i + 1,
                _ => segments.push(Segment {
                    transactional: !alone,
                    statements: i..i + 1,
                }),
            }
        }
        Ok(Prepared {
            statements,
            segments,
            parse_issues: split.parse_issues,
            tree: split.tree,
            notes,
        })
    }
}

/// A migration that cannot be run as written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrepareError {
    pub line: usize,
    pub column: usize,
    /// 1-based statement number (0 for a psql meta-command, which is no statement).
    pub statement: usize,
    pub message: String,
    /// The psql meta-command (`\set`, …) that makes the file unrunnable, when that is the cause.
    pub meta_command: Option<String>,
}

impl PrepareError {
    /// The engine error for the migration at `path`.
    pub fn into_error(self, path: &str) -> crate::error::Error {
        match self.meta_command {
            Some(command) => crate::error::Error::MetaCommand {
                path: path.to_string(),
                line: self.line,
                column: self.column,
                command,
                message: self.message,
            },
            None => crate::error::Error::Unrunnable {
                path: path.to_string(),
                line: self.line,
                column: self.column,
                statement: self.statement,
                message: self.message,
            },
        }
    }
}

/// A line of the header `pgkeel new` writes: a file that has it and no statement is the
/// untouched template, and `up` says so (instead of recording an empty migration as applied,
/// which would make the SQL written into it later a checksum mismatch).
pub const TEMPLATE_MARKER: &str = "Created by `pgkeel new`";

/// A run of statements executed as one unit: either one transaction (with the history update
/// inside it), or a single statement that cannot run in a transaction.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Segment {
    pub transactional: bool,
    /// Indexes into [`Prepared::statements`].
    pub statements: std::ops::Range<usize>,
}

/// A migration's statements and segments, ready to run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Prepared {
    pub statements: Vec<Statement>,
    pub segments: Vec<Segment>,
    /// Syntax problems squawk found; the migration is then sent unsplit (see [`statements`]).
    pub parse_issues: Vec<ParseIssue>,
    /// The parse the statements were split from (see [`statements::Tree`]).
    #[serde(skip)]
    pub tree: Option<statements::Tree>,
    /// Things worth telling the user about how the migration will run.
    pub notes: Vec<String>,
}

impl Prepared {
    /// No statement to run: the file is empty, only comments, only `;`, or only a
    /// `BEGIN; COMMIT;` wrapper.
    pub fn is_empty(&self) -> bool {
        self.statements.iter().all(Statement::is_empty)
    }

    pub fn non_transactional(&self) -> impl Iterator<Item = &Statement> {
        self.statements
            .iter()
            .filter(|s| s.non_transactional().is_some())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mig(text: &str) -> Migration {
        Migration::from_text(
            Version::parse("001").unwrap(),
            "x".into(),
            "migrations/001_x.sql".into(),
            text,
        )
        .unwrap()
    }

    #[test]
    fn mixed_migration_runs_as_segments() {
        let m = mig("create table a(id int);\ninsert into a values (1);\ncreate index concurrently ai on a(id);\ncreate table b(id int);\n");
        let p = m.prepare().unwrap();
        assert_eq!(p.statements.len(), 4);
        let segs: Vec<_> = p
            .segments
            .iter()
            .map(|s| (s.transactional, s.statements.clone()))
            .collect();
        assert_eq!(segs, [(true, 0..2), (false, 2..3), (true, 3..4)]);
    }

    #[test]
    fn no_transaction_directive_runs_each_statement_alone() {
        let m = mig("-- a comment\n-- pgkeel:no-transaction\n\ncreate table a(id int);\ncreate table b(id int);\n");
        assert!(m.no_transaction);
        let p = m.prepare().unwrap();
        assert_eq!(p.segments.len(), 2);
        assert!(p.segments.iter().all(|s| !s.transactional));
    }

    #[test]
    fn directive_errors_are_reported_with_their_line() {
        let e = Migration::from_text(
            Version::parse("1").unwrap(),
            "x".into(),
            "p".into(),
            "-- pgkeel:no-transction\nselect 1;",
        )
        .unwrap_err();
        assert_eq!(e.line, 1);
        assert!(e.message.contains("unknown directive"));
        let e = Migration::from_text(
            Version::parse("1").unwrap(),
            "x".into(),
            "p".into(),
            "select 1;\n-- pgkeel:no-transaction\n",
        )
        .unwrap_err();
        assert_eq!(e.line, 2);
    }

    #[test]
    fn accept_directives_are_collected_and_checked() {
        let m = mig("-- pgkeel:no-transaction\n-- pgkeel:accept ban-drop-column gone since v2\nalter table t drop column c;\n  -- pgkeel:accept  ban-drop-table  empty \n");
        assert!(m.no_transaction);
        let got: Vec<_> = m
            .accepts
            .iter()
            .map(|a| (a.rule.as_str(), a.reason.as_str(), a.source.to_string()))
            .collect();
        assert_eq!(
            got,
            [
                (
                    "ban-drop-column",
                    "gone since v2",
                    "migrations/001_x.sql:2".to_string()
                ),
                (
                    "ban-drop-table",
                    "empty",
                    "migrations/001_x.sql:4".to_string()
                ),
            ]
        );
        let err = |text: &str| {
            Migration::from_text(Version::parse("1").unwrap(), "x".into(), "p".into(), text)
                .unwrap_err()
        };
        let e = err("select 1;\n  -- pgkeel:accept ban-drop-colum why\n");
        assert_eq!((e.line, e.column), (2, 20));
        assert!(e.message.contains("not a squawk rule id"), "{}", e.message);
        let e = err("-- pgkeel:accept ban-drop-column\nselect 1;\n");
        assert_eq!(e.line, 1);
        assert!(e.message.contains("has no reason"), "{}", e.message);
        let e = err("select 1;\n-- pgkeel:down\n-- pgkeel:accept ban-drop-table undo\n");
        assert_eq!((e.line, e.column), (3, 1));
        assert!(
            e.message.contains("belongs in the up part"),
            "{}",
            e.message
        );
        // A directive that only starts like `accept` is unknown, with its column.
        let e = err("  -- pgkeel:acceptx ban-drop-table why\n");
        assert_eq!((e.line, e.column), (1, 3));
        assert!(e.message.contains("unknown directive"), "{}", e.message);
    }

    #[test]
    fn down_section_is_split_off_and_checksummed() {
        let m = mig("create table a(id int);\n-- pgkeel:down\ndrop table a;\n");
        assert_eq!(m.up_sql(), "create table a(id int);\n");
        assert_eq!(m.down.as_ref().unwrap().source, DownSource::Section);
        let p = m.prepare().unwrap();
        assert_eq!(p.statements.len(), 1);
        let mut m2 = mig("create table a(id int);\n-- pgkeel:down\ndrop table a;\n");
        assert!(m2
            .attach_down_file("x.down.sql".into(), "drop table a;")
            .is_err());
    }

    #[test]
    fn begin_commit_wrapper_is_dropped_but_inner_control_is_refused() {
        let p = mig("BEGIN;\ncreate table a(id int);\nCOMMIT;\n")
            .prepare()
            .unwrap();
        assert_eq!(p.statements.len(), 1);
        assert_eq!(p.statements[0].index, 0);
        assert_eq!(p.notes.len(), 1);
        let e = mig("create table a(id int);\ncommit;\ncreate table b(id int);\n")
            .prepare()
            .unwrap_err();
        assert_eq!((e.line, e.statement), (2, 2));
    }

    #[test]
    fn crlf_and_bom_files_prepare_like_lf_files() {
        let a = mig("create table a(id int);\nselect 1;\n");
        let b = mig("\u{feff}create table a(id int);\r\nselect 1;\r\n");
        assert_eq!(a.checksum, b.checksum);
        assert_eq!(a.prepare().unwrap(), b.prepare().unwrap());
    }

    #[test]
    fn empty_comment_only_and_semicolon_only_files_have_no_statement() {
        for text in [
            "",
            "\n\n",
            "-- only a comment\n/* and a block */\n",
            ";;",
            " ; ;\n;\n",
            "-- x\n;\n",
            "BEGIN;\nCOMMIT;\n",
        ] {
            let p = mig(text).prepare().unwrap();
            assert!(p.is_empty(), "{text:?}: {:?}", p.statements);
        }
        assert!(!mig("select 1;").prepare().unwrap().is_empty());
        assert!(!mig("-- x\nselect 1").prepare().unwrap().is_empty());
    }

    #[test]
    fn the_new_template_is_recognised() {
        let m = mig(
            "-- add_x\n-- Created by `pgkeel new` on 2026-12-03 08:00:00 UTC. pgkeel runs …\n\n",
        );
        assert!(m.is_template());
        assert!(m.prepare().unwrap().is_empty());
        assert!(!mig("-- add_x\n").is_template());
    }

    #[test]
    fn psql_meta_commands_are_refused_with_their_line_and_alternative() {
        let e = mig("create table a (id int);\n\\set owner app\nselect 1;\n")
            .prepare()
            .unwrap_err();
        assert_eq!((e.line, e.column), (2, 1));
        assert_eq!(e.meta_command.as_deref(), Some("\\set"));
        assert!(e.message.contains("set_config"), "{}", e.message);
        match e.into_error("migrations/001_x.sql") {
            crate::error::Error::MetaCommand { path, line, .. } => {
                assert_eq!((path.as_str(), line), ("migrations/001_x.sql", 2))
            }
            other => panic!("{other:?}"),
        }
        // In literals, bodies and comments a backslash is SQL.
        let p = mig("select E'a\\nb';\n-- \\i x.sql\ndo $$ begin raise notice '\\set'; end $$;\n")
            .prepare()
            .unwrap();
        assert_eq!(p.statements.len(), 2);
        // The down part is not run by `up`; rollback checks it on its own.
        assert!(mig("select 1;\n-- pgkeel:down\n\\i undo.sql\n")
            .prepare()
            .is_ok());
    }
}
