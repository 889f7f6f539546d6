//! psql meta-commands (`\i`, `\set`, `\connect`, `\gexec`, …) in migration files.
//!
//! Pure: no I/O. psql runs these itself and never sends them to the server; pgkeel sends a
//! migration's SQL to the server, which would answer with a bare syntax error at the backslash.
//! They are found before anything runs and reported with their line and the SQL alternative.
//!
//! Found with squawk's lexer, not by looking at lines: a backslash inside a string literal
//! (`E'a\nb'`, `'C:\dir'`), a quoted identifier, a dollar-quoted body or a comment is part of
//! that token, and only a backslash the lexer returns as a token of its own is psql's. PostgreSQL
//! itself has no operator or syntax with a bare backslash, so such a token is always a
//! meta-command (also in the middle of a line: `select … \gexec`).

use squawk_lexer::TokenKind;

use crate::statements::LineIndex;

/// A psql meta-command found in a migration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetaCommand {
    /// The command as written, with its backslash: `\i`, `\set`, `\connect`.
    pub command: String,
    /// Byte offset of the backslash in the file text.
    pub offset: usize,
    pub line: usize,
    pub column: usize,
}

impl MetaCommand {
    /// What to write instead, as SQL pgkeel can run.
    pub fn alternative(&self) -> &'static str {
        alternative(&self.command)
    }

    /// The whole explanation: what it is and what to do instead.
    pub fn message(&self) -> String {
        format!(
            "`{}` on line {} is a psql meta-command: psql runs it itself, but pgkeel sends the file's SQL to the server, which does not know it; {}",
            self.command,
            self.line,
            self.alternative()
        )
    }
}

/// The meta-commands in `text[range]` (a section of the normalised file `text`), in order.
pub fn meta_commands(text: &str, range: std::ops::Range<usize>) -> Vec<MetaCommand> {
    let section = &text[range.clone()];
    let mut found = Vec::new();
    let mut at = 0usize;
    // A meta-command takes the rest of its line (its arguments): skip to the line's end.
    let mut skip_until = 0usize;
    for token in squawk_lexer::tokenize(section) {
        let start = at;
        at += token.len as usize;
        if start < skip_until || token.kind != TokenKind::Unknown {
            continue;
        }
        let rest = &section[start..];
        if !rest.starts_with('\\') {
            continue;
        }
        let name_len = rest[1..]
            .find(|c: char| c.is_whitespace() || c == ';' || c == '\\')
            .unwrap_or(rest.len() - 1);
        let command = format!("\\{}", &rest[1..1 + name_len]);
        skip_until = rest.find('\n').map_or(section.len(), |n| start + n);
        found.push((command, start));
    }
    if found.is_empty() {
        return Vec::new();
    }
    let index = LineIndex::new(text);
    found
        .into_iter()
        .map(|(command, start)| {
            let offset = range.start + start;
            let (line, column) = index.position(offset);
            MetaCommand {
                command,
                offset,
                line,
                column,
            }
        })
        .collect()
}

/// The SQL way to do what a meta-command does in psql.
pub fn alternative(command: &str) -> &'static str {
    match command.trim_start_matches('\\') {
        "i" | "ir" | "include" | "include_relative" => {
            "split the included file into migrations of its own (pgkeel runs them in version order), or paste its SQL in place of this line"
        }
        "set" | "unset" => {
            "write the value into the SQL as a literal, or use `SET name = value` / `SELECT set_config('name', 'value', true)` for a setting the statements read with current_setting()"
        }
        "c" | "connect" => {
            "a migration runs on the one database pgkeel is pointed at: keep one migration folder per database, each with its own pgkeel.toml (or --database-url)"
        }
        "gexec" => {
            "run the generated statements from a DO block: `DO $$ DECLARE s text; BEGIN FOR s IN SELECT … LOOP EXECUTE s; END LOOP; END $$`"
        }
        "g" | "gset" | "gx" | "gdesc" => {
            "end the statement with `;` (pgkeel runs each statement); to reuse a result, compute it inside the statement or in a DO block"
        }
        "if" | "elif" | "else" | "endif" => {
            "put the condition in a DO block: `DO $$ BEGIN IF … THEN … END IF; END $$`"
        }
        "echo" | "qecho" | "warn" => {
            "raise a notice instead: `DO $$ BEGIN RAISE NOTICE '…'; END $$` (pgkeel prints server notices)"
        }
        "copy" => {
            "load the rows with INSERT statements (or `COPY … FROM 'file'` for a file on the database server)"
        }
        "timing" | "pset" | "x" | "a" | "t" | "o" | "encoding" | "q" => {
            "remove it: it only changes how psql prints results, and pgkeel prints none"
        }
        _ => "rewrite it as SQL, or remove it: the server runs SQL only",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn commands(sql: &str) -> Vec<(String, usize, usize)> {
        meta_commands(sql, 0..sql.len())
            .into_iter()
            .map(|m| (m.command, m.line, m.column))
            .collect()
    }

    #[test]
    fn finds_meta_commands_with_their_lines() {
        let sql = "\\set x 1\ncreate table t (id int);\n  \\i other.sql\n\\connect db\nselect 1 \\gexec\n\\c other\n\\ir rel.sql\n";
        assert_eq!(
            commands(sql),
            [
                ("\\set".to_string(), 1, 1),
                ("\\i".to_string(), 3, 3),
                ("\\connect".to_string(), 4, 1),
                ("\\gexec".to_string(), 5, 10),
                ("\\c".to_string(), 6, 1),
                ("\\ir".to_string(), 7, 1),
            ]
        );
    }

    #[test]
    fn backslashes_in_literals_bodies_identifiers_and_comments_are_sql() {
        let sql = "select E'a\\nb', 'C:\\dir\\i', $$ \\set x $$, $f$\n\\i x\n$f$;\n\
            -- \\set in a comment\n/* \\connect db\n\\i x */\nselect \"we\\ird\";\n\
            do $$ begin raise notice '\\gexec'; end $$;\n";
        assert_eq!(commands(sql), []);
    }

    #[test]
    fn each_command_has_an_alternative() {
        let text = "\\i a.sql\n\\set v 1\n\\connect db\n\\gexec\n\\foo\n";
        let found = meta_commands(text, 0..text.len());
        let msgs: Vec<String> = found.iter().map(MetaCommand::message).collect();
        assert!(msgs[0].contains("split the included file"), "{}", msgs[0]);
        assert!(msgs[1].contains("set_config"), "{}", msgs[1]);
        assert!(msgs[2].contains("one migration folder per database"));
        assert!(msgs[3].contains("DO block"));
        assert!(msgs[4].contains("rewrite it as SQL"));
        assert!(msgs[1].starts_with("`\\set` on line 2 is a psql meta-command"));
    }

    #[test]
    fn offsets_follow_the_section() {
        let text = "select 1;\n-- pgkeel:down\n\\set x 1\n";
        let down = text.find("-- pgkeel:down").unwrap() + 15;
        let found = meta_commands(text, down..text.len());
        assert_eq!(
            (found[0].line, found[0].column, found[0].offset),
            (3, 1, 25)
        );
        assert!(meta_commands(text, 0..down).is_empty());
    }
}
