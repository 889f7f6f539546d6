//! Statements as the Supabase CLI records them in `supabase_migrations.schema_migrations`.
//!
//! The CLI does not parse SQL: it cuts the file at each `;` outside quotes, comments and dollar
//! quotes, keeps everything between two cuts (leading comments included), then trims trailing
//! semicolons and white space and drops empty pieces. pgkeel's own statement splitter (squawk)
//! drops comments between statements and understands more syntax, so the mirror uses this
//! splitter instead: rows pgkeel writes look like rows the CLI writes. Pure.

/// Split `sql` the way the Supabase CLI does before recording a migration.
pub fn cli_statements(sql: &str) -> Vec<String> {
    let bytes = sql.as_bytes();
    let mut out = Vec::new();
    let mut start = 0;
    let mut i = 0;
    let push = |out: &mut Vec<String>, piece: &str| {
        let t = piece.trim_end_matches(';').trim();
        if !t.is_empty() {
            out.push(t.to_string());
        }
    };
    while i < bytes.len() {
        match bytes[i] {
            b';' => {
                push(&mut out, &sql[start..=i]);
                start = i + 1;
                i += 1;
            }
            b'-' if bytes.get(i + 1) == Some(&b'-') => {
                i = sql[i..].find('\n').map_or(bytes.len(), |n| i + n + 1);
            }
            b'/' if bytes.get(i + 1) == Some(&b'*') => {
                let mut depth = 0usize;
                while i < bytes.len() {
                    if bytes[i] == b'/' && bytes.get(i + 1) == Some(&b'*') {
                        depth += 1;
                        i += 2;
                    } else if bytes[i] == b'*' && bytes.get(i + 1) == Some(&b'/') {
                        depth -= 1;
                        i += 2;
                        if depth == 0 {
                            break;
                        }
                    } else {
                        i += 1;
                    }
                }
            }
            b'\'' => {
                i += 1;
                while i < bytes.len() && bytes[i] != b'\'' {
                    i += 1;
                }
                i += 1;
            }
            b'\\' => i += 2,
            b'$' => match dollar_tag(&sql[i..]) {
                Some(tag) => {
                    let body = i + tag.len();
                    i = sql[body..]
                        .find(tag)
                        .map_or(bytes.len(), |n| body + n + tag.len());
                }
                None => i += 1,
            },
            _ => i += 1,
        }
    }
    if start < bytes.len() {
        push(&mut out, &sql[start..]);
    }
    out
}

/// `$tag$` or `$$` at the start of `s`.
fn dollar_tag(s: &str) -> Option<&str> {
    let rest = &s[1..];
    let end = rest.find('$')?;
    let tag = &rest[..end];
    let ok = tag
        .bytes()
        .next()
        .is_none_or(|b| b.is_ascii_alphabetic() || b == b'_')
        && tag.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
    ok.then(|| &s[..end + 2])
}

/// A form of a migration's text that ignores white space, for comparing a file with the
/// statements recorded for it (however they were split).
pub fn canonical(statements: &[String]) -> String {
    statements
        .join(";")
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect::<String>()
        .trim_end_matches(';')
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_like_the_cli() {
        let sql = "-- profiles\ncreate table p (id int);\n\ncreate function f() returns text language sql as $fn$ select 'a;b' $fn$;\n/* a; /* nested; */ b */ select 1;\ninsert into t values ('it''s; fine');\n-- trailing comment\n";
        let s = cli_statements(sql);
        assert_eq!(
            s,
            [
                "-- profiles\ncreate table p (id int)",
                "create function f() returns text language sql as $fn$ select 'a;b' $fn$",
                "/* a; /* nested; */ b */ select 1",
                "insert into t values ('it''s; fine')",
                "-- trailing comment",
            ]
        );
        assert_eq!(
            cli_statements("select $1::int; select 2"),
            ["select $1::int", "select 2"]
        );
        assert!(cli_statements("  \n;;\n").is_empty());
    }

    #[test]
    fn canonical_ignores_whitespace_and_split_points() {
        let a = canonical(&cli_statements(
            "create table a (x int);\n\ncreate table b (y int);\n",
        ));
        let b = canonical(&[
            "create table a(x int)".to_string(),
            "create table b (y int)".into(),
        ]);
        assert_eq!(a, b);
        assert_ne!(a, canonical(&["create table a(x bigint)".to_string()]));
    }
}
