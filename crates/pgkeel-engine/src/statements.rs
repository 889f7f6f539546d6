//! Splitting migration SQL into statements and classifying them, with squawk's PostgreSQL parser.
//!
//! Pure: no I/O. A real parser (not a hand-written splitter) keeps dollar quotes, `DO` blocks,
//! `BEGIN ATOMIC` bodies, quoted identifiers and comments intact. Each statement keeps its exact
//! source text and byte offset so that an error from the server can be pointed at a line and
//! column of the file.
//!
//! When squawk reports a syntax error (a real mistake, or syntax it does not know yet), the
//! section is not split: it is kept as one statement and sent to the server as one simple-query
//! string, so PostgreSQL itself splits and judges it. The parse problem is reported as a warning
//! so nothing is hidden, and per-statement positions then come from the server's error position.

use serde::Serialize;
use squawk_syntax::ast::{self, AstNode};
use squawk_syntax::{Parse, SourceFile, SyntaxKind};

use crate::sql_text::SqlText;
use crate::statement_kind::Kind;
use crate::touch::{self, Touch};

/// One top-level SQL statement of a migration.
///
/// Kept small (48 bytes): a 50 MB migration of INSERTs holds 441,000 of them while it runs.
/// What few statements have (a reason to run outside a transaction, transaction control, a
/// rehearsal) and the touches kept from the parse live in one optional box ([`Extra`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Statement {
    /// 0-based position among the migration's statements.
    pub index: u32,
    /// The exact source text, including its terminating semicolon when present (a range of the
    /// file's text, not a copy: see [`SqlText`]).
    pub sql: SqlText,
    /// Byte offset of the statement in the (normalised) file text.
    pub offset: u32,
    /// 1-based line of the statement's first character in the file.
    pub line: u32,
    /// 1-based column (in characters) of the statement's first character.
    pub column: u32,
    /// A short summary of the statement's leading keywords, e.g. `CREATE INDEX CONCURRENTLY`
    /// (interned: 4 bytes, see [`Kind`]).
    pub kind: Kind,
    extra: Option<Box<Extra>>,
}

/// The parts of a [`Statement`] most statements do not have.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Extra {
    non_transactional: Option<&'static str>,
    transaction_control: Option<TxControl>,
    rehearsal: Option<String>,
    /// `None` for a section split in chunks (see [`Statement::touches`]).
    touched: Option<Vec<Touch>>,
}

impl Extra {
    fn is_empty(&self) -> bool {
        *self == Extra::default()
    }
}

impl serde::Serialize for Statement {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let rehearsal = self.rehearsal();
        let mut st = s.serialize_struct("Statement", 8 + usize::from(rehearsal.is_some()))?;
        st.serialize_field("index", &self.index)?;
        st.serialize_field("sql", &self.sql)?;
        st.serialize_field("offset", &self.offset)?;
        st.serialize_field("line", &self.line)?;
        st.serialize_field("column", &self.column)?;
        st.serialize_field("kind", &self.kind)?;
        st.serialize_field("non_transactional", &self.non_transactional())?;
        st.serialize_field("transaction_control", &self.transaction_control())?;
        if let Some(r) = rehearsal {
            st.serialize_field("rehearsal", r)?;
        }
        st.end()
    }
}

impl Statement {
    /// Why this statement cannot run inside a transaction block, when it cannot.
    pub fn non_transactional(&self) -> Option<&'static str> {
        self.extra.as_ref().and_then(|e| e.non_transactional)
    }

    /// Set for BEGIN/START TRANSACTION, COMMIT/END, ROLLBACK (not to a savepoint), PREPARE
    /// TRANSACTION: statements that would break the transaction pgkeel wraps a migration in.
    pub fn transaction_control(&self) -> Option<TxControl> {
        self.extra.as_ref().and_then(|e| e.transaction_control)
    }

    /// For a `… CONCURRENTLY` statement: the same statement without `CONCURRENTLY`, which can
    /// run inside a transaction. Dry runs rehearse it this way so later statements that depend
    /// on the index still run.
    pub fn rehearsal(&self) -> Option<&str> {
        self.extra.as_ref().and_then(|e| e.rehearsal.as_deref())
    }

    /// What the statement touches ([`crate::touch`]), found from the same parse that split it,
    /// so the analyses over it (backups, row counts, snapshots) do not parse the SQL again. A
    /// section split in chunks (a large file: kept per statement, the touches would cost more
    /// memory than the file) kept none: the statement is parsed again here.
    pub fn touches(&self) -> std::borrow::Cow<'_, [Touch]> {
        match self.extra.as_ref().and_then(|e| e.touched.as_ref()) {
            Some(t) => std::borrow::Cow::Borrowed(t),
            None => std::borrow::Cow::Owned(touch::touched(&self.sql)),
        }
    }

    /// Replace the statement's text (a rewrite of pgkeel's own, e.g. a routed extension); its
    /// touches are found again from the new text.
    pub fn rewrite(&mut self, sql: String) {
        self.sql = sql.into();
        let touched = touch::touched(&self.sql);
        self.extra.get_or_insert_with(Box::default).touched = Some(touched);
    }

    /// Nothing but `;` (and white space or comments): squawk reads `;;` as two empty
    /// statements. They stay in the list (so statement numbers and resume points do not move),
    /// but a migration of only these has nothing to run.
    pub fn is_empty(&self) -> bool {
        squawk_lexer::tokenize(&self.sql).all(|t| {
            matches!(
                t.kind,
                squawk_lexer::TokenKind::Semi
                    | squawk_lexer::TokenKind::Whitespace
                    | squawk_lexer::TokenKind::LineComment
                    | squawk_lexer::TokenKind::BlockComment { .. }
                    | squawk_lexer::TokenKind::Eof
            )
        })
    }
}

/// A transaction-control statement found inside a migration.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TxControl {
    Begin,
    Commit,
    Rollback,
    PrepareTransaction,
}

/// A problem the parser found, with its position in the file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ParseIssue {
    pub message: String,
    pub line: usize,
    pub column: usize,
}

/// The result of splitting one section (the up part or the down part) of a migration.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Split {
    pub statements: Vec<Statement>,
    /// Non-empty when the parser could not read the section; `statements` then holds the whole
    /// section as a single statement for the server to split.
    pub parse_issues: Vec<ParseIssue>,
    /// The parse the statements came from (`None` when the section is kept unsplit).
    #[serde(skip)]
    pub tree: Option<Tree>,
}

/// The one parse of a section, kept so that the analyses walking its statements' syntax
/// ([`crate::snapshot::objects`]) reuse it: parsing is most of what pgkeel's CPU does per
/// migration, and every analysis parsing again made it several times that.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tree {
    parse: Parse<SourceFile>,
    /// Byte offset of the section in the file (statement offsets are file offsets).
    base: usize,
}

impl Tree {
    /// The syntax of each statement, in order: from this parse when the statement is still the
    /// text it was split from, else (a statement rewritten since, or no tree) from a parse of
    /// its own text, made when the iterator reaches it (so a large file's statements are not
    /// all held parsed at once). `None` for a statement whose own text does not parse.
    pub fn nodes<'s>(
        tree: Option<&Tree>,
        statements: &'s [Statement],
    ) -> impl Iterator<Item = Option<Vec<ast::Stmt>>> + 's {
        let mut own: Vec<(usize, ast::Stmt)> = tree
            .map(|t| {
                t.parse
                    .tree()
                    .stmts()
                    .map(|n| (t.base + usize::from(n.syntax().text_range().start()), n))
                    .collect()
            })
            .unwrap_or_default();
        own.sort_by_key(|(o, _)| *o);
        statements.iter().map(move |s| {
            let found = own
                .binary_search_by_key(&(s.offset as usize), |(o, _)| *o)
                .ok()
                .map(|i| own[i].1.clone())
                .filter(|n| n.syntax().text() == s.sql.as_str());
            match found {
                Some(n) => Some(vec![n]),
                None => {
                    let parse = SourceFile::parse(&s.sql);
                    parse
                        .errors()
                        .is_empty()
                        .then(|| parse.tree().stmts().collect())
                }
            }
        })
    }
}

/// Maps byte offsets of a text to 1-based line and column numbers.
#[derive(Debug, Clone)]
pub struct LineIndex<'a> {
    text: &'a str,
    /// u32: a migration is at most [`crate::sql_text::MAX_TEXT`] bytes (4 bytes a line, not 8:
    /// 1.7 MB less for a 441,000-line file).
    line_starts: Vec<u32>,
}

impl<'a> LineIndex<'a> {
    pub fn new(text: &'a str) -> Self {
        let mut line_starts = vec![0];
        line_starts.extend(
            text.bytes()
                .enumerate()
                .filter(|(_, b)| *b == b'\n')
                .map_while(|(i, _)| u32::try_from(i + 1).ok()),
        );
        LineIndex { text, line_starts }
    }

    /// 1-based (line, column) of a byte offset; the column counts characters.
    pub fn position(&self, offset: usize) -> (usize, usize) {
        let offset = offset.min(self.text.len());
        let line = self.line_starts.partition_point(|s| *s as usize <= offset);
        let start = self.line_starts[line - 1] as usize;
        let column = self
            .text
            .get(start..offset)
            .map_or(offset - start, |s| s.chars().count());
        (line, column + 1)
    }
}

/// Sections larger than this are parsed in chunks (see [`chunks`]), and linted in chunks of
/// about this size.
pub const CHUNK_BYTES: usize = 256 * 1024;

/// The size of the chunks a large section is split in: the parse of one chunk (about 24 bytes
/// per byte of SQL) is what splitting holds besides the statements, so smaller chunks keep the
/// peak of a 50 MB file lower; the statements are the same whatever the size.
const SPLIT_CHUNK_BYTES: usize = 64 * 1024;

/// Cut `section` into consecutive ranges of about `target` bytes, each ending right after a
/// top-level `;` (outside parentheses, literals, quoted identifiers and comments, as squawk's
/// lexer reads them), so that each holds whole statements.
///
/// squawk's parser needs about 12 bytes of events per byte of SQL, and its tree about as much
/// again, so parsing a 50 MB file at once costs more than half a gigabyte; chunk by chunk, the
/// peak is that of one chunk. A `;` inside a `BEGIN ATOMIC` body is also top-level for the
/// lexer: a cut there leaves a chunk that does not parse, and [`split`] then parses the whole
/// section at once, so the result never depends on where the cuts fell.
pub fn chunks(section: &str, target: usize) -> Vec<std::ops::Range<usize>> {
    let mut out = Vec::new();
    let (mut start, mut at, mut depth) = (0usize, 0usize, 0i64);
    for token in squawk_lexer::tokenize(section) {
        at += token.len as usize;
        match token.kind {
            squawk_lexer::TokenKind::OpenParen => depth += 1,
            squawk_lexer::TokenKind::CloseParen => depth -= 1,
            squawk_lexer::TokenKind::Semi if depth <= 0 && at - start >= target => {
                out.push(start..at);
                start = at;
            }
            _ => {}
        }
    }
    if start < section.len() || out.is_empty() {
        out.push(start..section.len());
    }
    out
}

/// Split `text[range]` (a section of the normalised file `text`) into statements. A large
/// section is parsed chunk by chunk (see [`chunks`]); the statements are the same.
pub fn split(text: &str, range: std::ops::Range<usize>) -> Split {
    split_shared(&std::sync::Arc::new(text.to_string()), range)
}

/// [`split`], with the statements' texts shared with `src` (a migration's file text) instead
/// of copied (see [`SqlText`]).
pub fn split_shared(src: &std::sync::Arc<String>, range: std::ops::Range<usize>) -> Split {
    let text = src.as_str();
    let index = LineIndex::new(text);
    if range.len() > CHUNK_BYTES {
        if let Some(statements) = split_in_chunks(src, range.clone(), &index) {
            // No tree is kept for a large section (it would hold the whole file's syntax): the
            // analyses parse statement by statement instead.
            return Split {
                statements,
                parse_issues: Vec::new(),
                tree: None,
            };
        }
    }
    let section = &text[range.clone()];
    let base = range.start;
    let parse = SourceFile::parse(section);
    let errors = parse.errors();
    if !errors.is_empty() {
        let parse_issues = errors
            .iter()
            .map(|e| {
                let (line, column) = index.position(base + usize::from(e.range().start()));
                ParseIssue {
                    message: e.message().to_string(),
                    line,
                    column,
                }
            })
            .collect();
        let statements = whole_section(src, range.clone(), &index);
        return Split {
            statements,
            parse_issues,
            tree: None,
        };
    }
    let mut statements = Vec::new();
    push_statements(&parse, src, base, &index, &mut statements, true);
    Split {
        statements,
        parse_issues: Vec::new(),
        tree: Some(Tree { parse, base }),
    }
}

/// The statements of `text[range]`, parsing one chunk at a time; `None` when a chunk does not
/// parse (the caller then parses the whole section, for the same result as always).
fn split_in_chunks(
    src: &std::sync::Arc<String>,
    range: std::ops::Range<usize>,
    index: &LineIndex<'_>,
) -> Option<Vec<Statement>> {
    let section = &src[range.clone()];
    let mut statements = Vec::new();
    for chunk in chunks(section, SPLIT_CHUNK_BYTES) {
        let part = &section[chunk.clone()];
        let parse = SourceFile::parse(part);
        if !parse.errors().is_empty() {
            return None;
        }
        push_statements(
            &parse,
            src,
            range.start + chunk.start,
            index,
            &mut statements,
            false,
        );
    }
    Some(statements)
}

/// Append the statements of `parse` (of the text of `src` that starts at byte `base`).
fn push_statements(
    parse: &squawk_syntax::Parse<SourceFile>,
    src: &std::sync::Arc<String>,
    base: usize,
    index: &LineIndex<'_>,
    out: &mut Vec<Statement>,
    keep_touches: bool,
) {
    for stmt in parse.tree().stmts() {
        let r = stmt.syntax().text_range();
        let start = usize::from(r.start());
        let end = usize::from(r.end());
        let (line, column) = index.position(base + start);
        let non_transactional = non_transactional_reason(&stmt);
        let extra = Extra {
            rehearsal: non_transactional.and_then(|_| without_concurrently(&stmt, start)),
            non_transactional,
            transaction_control: transaction_control(&stmt),
            touched: keep_touches.then(|| touch::stmt_touches(&stmt)),
        };
        out.push(Statement {
            index: narrow(out.len()),
            sql: SqlText::shared(src, base + start..base + end),
            offset: narrow(base + start),
            line: narrow(line),
            column: narrow(column),
            kind: kind_summary(&stmt).into(),
            extra: (!extra.is_empty()).then(|| Box::new(extra)),
        });
    }
}

/// A position or count within a migration's text as a [`Statement`] keeps it. Every one fits:
/// a migration is at most [`crate::sql_text::MAX_TEXT`] bytes (`u32::MAX`), so no statement
/// number, line, column or offset is larger.
fn narrow(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

/// The fallback for SQL the parser could not read: the section minus surrounding white space, as
/// one statement. An empty or comment-only section yields no statement.
fn whole_section(
    src: &std::sync::Arc<String>,
    range: std::ops::Range<usize>,
    index: &LineIndex<'_>,
) -> Vec<Statement> {
    let section = &src[range.clone()];
    let base = range.start;
    let trimmed_start = section.len() - section.trim_start().len();
    let body = section.trim();
    if body.is_empty() || is_only_comments(body) {
        return Vec::new();
    }
    let (line, column) = index.position(base + trimmed_start);
    vec![Statement {
        index: 0,
        sql: SqlText::shared(src, base + trimmed_start..base + trimmed_start + body.len()),
        offset: narrow(base + trimmed_start),
        line: narrow(line),
        column: narrow(column),
        kind: "SQL (unsplit)".into(),
        extra: Some(Box::new(Extra {
            touched: Some(touch::touched(body)),
            ..Extra::default()
        })),
    }]
}

fn is_only_comments(body: &str) -> bool {
    body.lines()
        .map(str::trim)
        .all(|l| l.is_empty() || l.starts_with("--"))
}

fn leading_keywords(stmt: &ast::Stmt, max: usize) -> Vec<squawk_syntax::SyntaxToken> {
    stmt.syntax()
        .descendants_with_tokens()
        .filter_map(|e| e.into_token())
        .filter(|t| !t.kind().is_trivia())
        .take(max)
        .take_while(|t| is_keyword(t.kind()))
        .collect()
}

fn is_keyword(kind: SyntaxKind) -> bool {
    format!("{kind:?}").ends_with("_KW")
}

fn kind_summary(stmt: &ast::Stmt) -> String {
    let words: Vec<String> = leading_keywords(stmt, 3)
        .iter()
        .map(|t| t.text().to_uppercase())
        .collect();
    if words.is_empty() {
        "SQL".to_string()
    } else {
        words.join(" ")
    }
}

fn has_token(stmt: &ast::Stmt, kind: SyntaxKind) -> bool {
    stmt.syntax()
        .descendants_with_tokens()
        .filter_map(|e| e.into_token())
        .any(|t| t.kind() == kind)
}

/// Statements PostgreSQL refuses to run inside a transaction block.
fn non_transactional_reason(stmt: &ast::Stmt) -> Option<&'static str> {
    use ast::Stmt as S;
    let concurrently = || has_token(stmt, SyntaxKind::CONCURRENTLY_KW);
    match stmt {
        S::CreateIndex(_) if concurrently() => Some("CREATE INDEX CONCURRENTLY"),
        S::DropIndex(_) if concurrently() => Some("DROP INDEX CONCURRENTLY"),
        S::Reindex(_) if concurrently() => Some("REINDEX CONCURRENTLY"),
        S::AlterTable(_) if concurrently() && has_token(stmt, SyntaxKind::DETACH_KW) => {
            Some("ALTER TABLE … DETACH PARTITION … CONCURRENTLY")
        }
        S::Vacuum(_) => Some("VACUUM"),
        S::AlterSystem(_) => Some("ALTER SYSTEM"),
        S::CreateDatabase(_) => Some("CREATE DATABASE"),
        S::DropDatabase(_) => Some("DROP DATABASE"),
        S::CreateTablespace(_) => Some("CREATE TABLESPACE"),
        S::DropTablespace(_) => Some("DROP TABLESPACE"),
        S::CreateSubscription(_) => Some("CREATE SUBSCRIPTION"),
        S::DropSubscription(_) => Some("DROP SUBSCRIPTION"),
        _ => None,
    }
}

/// The statement's text with its CONCURRENTLY keyword removed (`start` is the statement's offset
/// in the section, so token ranges can be made relative to it).
fn without_concurrently(stmt: &ast::Stmt, start: usize) -> Option<String> {
    let token = stmt
        .syntax()
        .descendants_with_tokens()
        .filter_map(|e| e.into_token())
        .find(|t| t.kind() == SyntaxKind::CONCURRENTLY_KW)?;
    let r = token.text_range();
    let (from, to) = (usize::from(r.start()) - start, usize::from(r.end()) - start);
    let text = stmt.syntax().to_string();
    Some(format!("{}{}", &text[..from], text[to..].trim_start()))
}

fn transaction_control(stmt: &ast::Stmt) -> Option<TxControl> {
    use ast::Stmt as S;
    match stmt {
        S::Begin(_) => Some(TxControl::Begin),
        S::Commit(_) if !has_token(stmt, SyntaxKind::PREPARED_KW) => Some(TxControl::Commit),
        S::Rollback(_)
            if !has_token(stmt, SyntaxKind::TO_KW) && !has_token(stmt, SyntaxKind::PREPARED_KW) =>
        {
            Some(TxControl::Rollback)
        }
        S::PrepareTransaction(_) => Some(TxControl::PrepareTransaction),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split_all(sql: &str) -> Split {
        split(sql, 0..sql.len())
    }

    #[test]
    fn the_split_parse_is_reused_and_a_rewritten_statement_is_parsed_anew() {
        let text = "-- head\ncreate table a (id int);\nalter table a rename to b;\ndrop table c;\n";
        let mut sp = split(text, 8..text.len());
        for st in &sp.statements {
            assert_eq!(*st.touches(), touch::touched(&st.sql), "{}", st.sql);
        }
        let nodes: Vec<_> = Tree::nodes(sp.tree.as_ref(), &sp.statements).collect();
        let texts: Vec<String> = nodes
            .iter()
            .map(|n| n.as_ref().unwrap()[0].syntax().text().to_string())
            .collect();
        assert_eq!(
            texts,
            [
                "create table a (id int);",
                "alter table a rename to b;",
                "drop table c;"
            ]
        );
        // A statement changed after the split (as the Supabase rewrite does) is not matched
        // to the old node at its offset.
        sp.statements[2].sql = "select 1;".into();
        let nodes: Vec<_> = Tree::nodes(sp.tree.as_ref(), &sp.statements).collect();
        assert_eq!(
            nodes[2].as_ref().unwrap()[0].syntax().text().to_string(),
            "select 1;"
        );
        sp.statements[2].sql = "select from where;".into();
        assert!(Tree::nodes(sp.tree.as_ref(), &sp.statements)
            .nth(2)
            .unwrap()
            .is_none());
        // No tree (an unsplit section): every statement is parsed on its own.
        let nodes: Vec<_> = Tree::nodes(None, &sp.statements[..2]).collect();
        assert!(nodes
            .iter()
            .all(|n| n.as_ref().is_some_and(|v| v.len() == 1)));
    }

    #[test]
    fn keeps_dollar_quotes_do_blocks_and_atomic_bodies_whole() {
        let sql = "-- header; with a semicolon\n\
            create table a (id int); /* c; */\n\
            DO $$ BEGIN RAISE NOTICE 'x;y'; END $$;\n\
            create function f() returns int language sql begin atomic select 1; select 2; end;\n\
            select $tag$ ; $tag$;\n\
            select 'it''s; fine' as \"semi;colon\"";
        let s = split_all(sql);
        assert!(s.parse_issues.is_empty(), "{:?}", s.parse_issues);
        let texts: Vec<_> = s.statements.iter().map(|s| s.sql.as_str()).collect();
        assert_eq!(
            texts,
            [
                "create table a (id int);",
                "DO $$ BEGIN RAISE NOTICE 'x;y'; END $$;",
                "create function f() returns int language sql begin atomic select 1; select 2; end;",
                "select $tag$ ; $tag$;",
                "select 'it''s; fine' as \"semi;colon\"",
            ]
        );
        assert_eq!((s.statements[0].line, s.statements[0].column), (2, 1));
        assert_eq!(s.statements[2].kind, "CREATE FUNCTION");
        assert_eq!(s.statements[4].line, 6);
    }

    #[test]
    fn detects_statements_that_cannot_run_in_a_transaction() {
        let sql = "create index concurrently i on a(id);\n\
            create index j on a(id);\n\
            drop index concurrently if exists i;\n\
            reindex index concurrently j;\n\
            vacuum a;\n\
            alter system set work_mem = '1MB';\n\
            create database d;\n\
            alter table p detach partition c concurrently;\n\
            refresh materialized view concurrently mv;\n\
            create table \"concurrently\" (x int);";
        let s = split_all(sql);
        let flags: Vec<bool> = s
            .statements
            .iter()
            .map(|s| s.non_transactional().is_some())
            .collect();
        assert_eq!(
            flags,
            [true, false, true, true, true, true, true, true, false, false]
        );
        assert_eq!(s.statements[0].kind, "CREATE INDEX CONCURRENTLY");
        assert_eq!(
            s.statements[0].rehearsal(),
            Some("create index i on a(id);")
        );
        assert_eq!(s.statements[2].rehearsal(), Some("drop index if exists i;"));
        assert_eq!(s.statements[4].rehearsal(), None, "VACUUM has no rehearsal");
    }

    #[test]
    fn detects_transaction_control() {
        let s = split_all("begin; start transaction; savepoint a; rollback to savepoint a; release a; commit; end; rollback;");
        let tc: Vec<_> = s
            .statements
            .iter()
            .map(|s| s.transaction_control())
            .collect();
        assert_eq!(
            tc,
            [
                Some(TxControl::Begin),
                Some(TxControl::Begin),
                None,
                None,
                None,
                Some(TxControl::Commit),
                Some(TxControl::Commit),
                Some(TxControl::Rollback),
            ]
        );
    }

    #[test]
    fn unparsable_sql_becomes_one_statement_with_issues() {
        let sql = "\n\ncreate table a (id int;\nselect 1;\n";
        let s = split_all(sql);
        assert_eq!(s.statements.len(), 1);
        assert_eq!(s.statements[0].line, 3);
        assert_eq!(s.statements[0].sql, "create table a (id int;\nselect 1;");
        assert_eq!(s.parse_issues[0].line, 3);
    }

    #[test]
    fn positions_count_characters_and_respect_the_section_offset() {
        let text = "-- é\nselect 1; select 2;\n-- pgkeel:down\n  drop table x;";
        let down_start = text.find("-- pgkeel:down").unwrap();
        let s = split(text, down_start..text.len());
        assert_eq!(s.statements.len(), 1);
        assert_eq!((s.statements[0].line, s.statements[0].column), (4, 3));
        let up = split(text, 0..down_start);
        assert_eq!((up.statements[1].line, up.statements[1].column), (2, 11));
        let idx = LineIndex::new(text);
        assert_eq!(idx.position(5), (1, 5)); // "-- é" is 4 characters, 5 bytes
    }

    #[test]
    fn empty_and_comment_only_sections_have_no_statements() {
        assert!(split_all("").statements.is_empty());
        assert!(split_all("-- nothing here\n\n").statements.is_empty());
    }

    #[test]
    fn chunks_end_at_top_level_semicolons() {
        let sql = "select 1; select ';' ; select (1;2); -- ;\nselect 3;";
        let c = chunks(sql, 1);
        let parts: Vec<&str> = c.iter().map(|r| &sql[r.clone()]).collect();
        assert_eq!(
            parts,
            [
                "select 1;",
                " select ';' ;",
                " select (1;2);",
                " -- ;\nselect 3;"
            ]
        );
        assert_eq!(chunks("", 10), [std::ops::Range { start: 0, end: 0 }]);
        assert_eq!(
            chunks("select 1", 1),
            [std::ops::Range { start: 0, end: 8 }]
        );
    }

    #[test]
    fn a_large_section_splits_in_chunks_as_it_does_whole() {
        let mut sql = String::from("-- big\ncreate table t (id bigint, s text);\n");
        for i in 0..12_000 {
            sql.push_str(&format!(
                "insert into t values ({i}, 'a;b $$ {i}'); -- c;\n"
            ));
        }
        sql.push_str(
            "create function f() returns int language sql begin atomic select 1; select 2; end;\n",
        );
        sql.push_str("do $$ begin raise notice ';'; end $$;\n");
        assert!(sql.len() > CHUNK_BYTES * 2);
        let src = std::sync::Arc::new(sql.clone());
        let whole = {
            let parse = SourceFile::parse(&sql);
            let index = LineIndex::new(&sql);
            let mut v = Vec::new();
            // Chunked splits keep no touches (see `Statement::touches`); the rest is equal.
            push_statements(&parse, &src, 0, &index, &mut v, false);
            v
        };
        let chunked = split_in_chunks(&src, 0..sql.len(), &LineIndex::new(&sql));
        let s = split_all(&sql);
        assert_eq!(s.statements, whole);
        assert_eq!(s.statements.len(), 12_003);
        assert_eq!(
            chunked.as_ref(),
            Some(&whole),
            "no cut falls inside the atomic body here"
        );
        // A cut inside a BEGIN ATOMIC body leaves a chunk that does not parse: whole again.
        let atomic =
            "create function f() returns int language sql begin atomic select 1; select 2; end;";
        let cut = chunks(atomic, 1);
        assert!(cut.len() > 1);
        assert!(!SourceFile::parse(&atomic[cut[0].clone()])
            .errors()
            .is_empty());
        // With a section offset (a down part), positions still count from the file's start.
        let text = format!("select 0;\n-- pgkeel:down\n{sql}");
        let start = text.find("-- big").unwrap();
        let down = split(&text, start..text.len());
        assert_eq!(down.statements[0].line, 4);
        assert_eq!(down.statements[0].offset as usize, start + 7);
    }
}

#[cfg(test)]
mod size_tests {
    /// A 50 MB migration holds 441,000 statements while it runs (bench/memory.sh): at 152
    /// bytes each they were 67 MB, more than the file.
    #[test]
    fn a_statement_stays_within_its_memory_budget() {
        assert!(
            std::mem::size_of::<super::Statement>() <= 48,
            "{} bytes",
            std::mem::size_of::<super::Statement>()
        );
    }
}
