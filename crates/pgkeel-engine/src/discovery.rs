//! Discovery: from the files found in the migration folders to an ordered list of migrations.
//!
//! Pure: the caller (see [`crate::source`]) reads the folders; this module decides what each file
//! is. Rules:
//! - `*.sql` files whose names match a scheme (see [`crate::version`]) are migrations;
//!   `NAME.down.sql` is the down migration of `NAME.sql`.
//! - `*.sql.skip` and non-`.sql` files are ignored. Only the lower-case `.sql` extension is read
//!   (as the Supabase CLI, sqlx, Flyway and golang-migrate do); a name ending in another case of
//!   it (`.SQL`, `.Sql`) is a warning naming the rename, never a silent skip (see
//!   [`extension_case_warning`]). Reading it would make the same file a migration on a
//!   case-insensitive file system and for pgkeel, but not for the other tools of a project.
//! - A `.sql` file matching no scheme is reported: a warning, or an error in strict mode. It is
//!   never silently skipped.
//! - Two files with the same version (compared as numbers, across all folders) are an error that
//!   names both.
//! - Content must be UTF-8; otherwise the error names the file and the byte offset.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::error::{Error, Result};
use crate::migration::Migration;
use crate::version::{parse_file_name, Version};

/// A file found in a migration folder.
#[derive(Debug, Clone)]
pub struct RawFile {
    /// Path relative to the project root, `/`-separated.
    pub path: String,
    pub file_name: String,
    pub bytes: Vec<u8>,
}

/// Something worth telling the user that does not stop discovery.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Warning {
    pub path: String,
    pub message: String,
}

/// The migrations of a project, in version order.
#[derive(Debug, Clone, Default)]
pub struct Discovered {
    pub migrations: Vec<Migration>,
    pub warnings: Vec<Warning>,
}

impl Discovered {
    pub fn find(&self, version: &Version) -> Option<&Migration> {
        self.migrations
            .binary_search_by(|m| m.version.cmp(version))
            .ok()
            .map(|i| &self.migrations[i])
    }

    /// The newest migration, by version.
    pub fn last(&self) -> Option<&Migration> {
        self.migrations.last()
    }
}

/// The warning for a file whose extension is `.sql` in another case (`X.SQL`, `X.Sql`,
/// `X.down.SQL`): it is not read, and the warning names the rename that makes it a migration.
pub fn extension_case_warning(file_name: &str, path: &str) -> Option<Warning> {
    let stem_len = file_name.len().checked_sub(4)?;
    let ext = file_name.get(stem_len..)?;
    if ext == ".sql" || !ext.eq_ignore_ascii_case(".sql") {
        return None;
    }
    let renamed = format!("{}.sql", &file_name[..stem_len]);
    Some(Warning {
        path: path.to_string(),
        message: format!(
            "extension `{ext}` is not lower-case `.sql`, so this file is not read as a migration; rename it to {renamed} (or add .skip to ignore it)"
        ),
    })
}

/// Decide what each file is. `strict` turns unmatched `.sql` names into errors.
pub fn discover(files: Vec<RawFile>, strict: bool) -> Result<Discovered> {
    let mut ups: BTreeMap<Version, Migration> = BTreeMap::new();
    let mut downs: Vec<(Version, String, String, String)> = Vec::new();
    let mut warnings = Vec::new();

    for file in files {
        if !file.file_name.ends_with(".sql") {
            continue; // .sql.skip, README.md, seed data…: not migrations, by design.
        }
        let Some(parsed) = parse_file_name(&file.file_name) else {
            if strict {
                return Err(Error::UnmatchedName { path: file.path });
            }
            warnings.push(Warning {
                message: "name matches no migration naming scheme; not applied (rename it, or add .skip to ignore it)".into(),
                path: file.path,
            });
            continue;
        };
        // Moved, not copied: the file's bytes become the migration's content.
        let text = String::from_utf8(file.bytes).map_err(|e| Error::NonUtf8 {
            path: file.path.clone(),
            offset: e.utf8_error().valid_up_to(),
        })?;
        if parsed.is_down {
            downs.push((parsed.version, parsed.name, file.path, text));
            continue;
        }
        let migration =
            Migration::from_owned(parsed.version.clone(), parsed.name, file.path.clone(), text)
                .map_err(|e| Error::Directive {
                    path: file.path.clone(),
                    line: e.line,
                    column: e.column,
                    message: e.message,
                })?;
        if let Some(existing) = ups.get(&parsed.version) {
            let (first, second) = ordered(&existing.path, &file.path);
            return Err(Error::DuplicateVersion {
                version: parsed.version.to_string(),
                first,
                second,
            });
        }
        ups.insert(parsed.version, migration);
    }

    for (version, name, path, text) in downs {
        match ups.get_mut(&version) {
            Some(up) if up.name == name => {
                if up.down_file_content.is_some() {
                    return Err(Error::DownFile(format!(
                        "two down files for migration {version}: {path} and {}",
                        down_path(&up.down)
                    )));
                }
                up.attach_down_file(path, &text).map_err(Error::DownFile)?;
            }
            Some(up) => {
                return Err(Error::DownFile(format!(
                    "{path} has version {version} but its name differs from {}; a down file is named after its migration ({}.down.sql)",
                    up.path,
                    up.path.trim_end_matches(".sql")
                )))
            }
            None => {
                if strict {
                    return Err(Error::DownFile(format!(
                        "{path} is a down migration with no matching up migration"
                    )));
                }
                warnings.push(Warning {
                    path,
                    message: "down migration with no matching up migration; ignored".into(),
                });
            }
        }
    }

    Ok(Discovered {
        migrations: ups.into_values().collect(),
        warnings,
    })
}

fn down_path(down: &Option<crate::migration::Down>) -> String {
    match down.as_ref().map(|d| &d.source) {
        Some(crate::migration::DownSource::File { path }) => path.clone(),
        _ => "its down section".into(),
    }
}

fn ordered(a: &str, b: &str) -> (String, String) {
    if a <= b {
        (a.to_string(), b.to_string())
    } else {
        (b.to_string(), a.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f(path: &str, text: &str) -> RawFile {
        RawFile {
            path: path.to_string(),
            file_name: path.rsplit('/').next().unwrap().to_string(),
            bytes: text.as_bytes().to_vec(),
        }
    }

    #[test]
    fn orders_both_schemes_across_folders() {
        let d = discover(
            vec![
                f("m/20240101120000_ts.sql", "select 1;"),
                f("m/fixed/100_c.sql", "select 1;"),
                f("m/fixed/99_b.sql", "select 1;"),
                f("m/000_a.sql", "select 1;"),
                f("m/README.md", "docs"),
                f("m/050_old.sql.skip", "select 1;"),
            ],
            true,
        )
        .unwrap();
        let v: Vec<_> = d.migrations.iter().map(|m| m.version.as_str()).collect();
        assert_eq!(v, ["000", "99", "100", "20240101120000"]);
        assert!(d.warnings.is_empty());
        assert_eq!(d.find(&Version::parse("099").unwrap()).unwrap().name, "b");
    }

    #[test]
    fn duplicate_versions_name_both_files() {
        let e = discover(
            vec![f("a/007_x.sql", "select 1;"), f("b/7_y.sql", "select 2;")],
            false,
        )
        .unwrap_err();
        let msg = e.to_string();
        assert!(
            msg.contains("a/007_x.sql") && msg.contains("b/7_y.sql"),
            "{msg}"
        );
    }

    #[test]
    fn unmatched_names_warn_or_fail_in_strict_mode() {
        let files = vec![f("m/init.sql", "select 1;"), f("m/001_a.sql", "select 1;")];
        let d = discover(files.clone(), false).unwrap();
        assert_eq!(d.migrations.len(), 1);
        assert_eq!(d.warnings[0].path, "m/init.sql");
        let e = discover(files, true).unwrap_err();
        assert!(matches!(e, Error::UnmatchedName { .. }));
    }

    #[test]
    fn non_utf8_names_the_byte_offset() {
        let mut file = f("m/001_a.sql", "select 'ok';");
        file.bytes.extend_from_slice(&[b'\n', 0xff, 0xfe]);
        let e = discover(vec![file], false).unwrap_err();
        assert_eq!(
            e.to_string(),
            "m/001_a.sql: not valid UTF-8 at byte offset 13; save the file as UTF-8"
        );
    }

    #[test]
    fn down_files_attach_to_their_migration() {
        let d = discover(
            vec![
                f("m/001_a.sql", "create table a(id int);"),
                f("m/001_a.down.sql", "drop table a;"),
                f("m/002_b.down.sql", "drop table b;"),
            ],
            false,
        )
        .unwrap();
        assert_eq!(d.migrations.len(), 1);
        assert!(d.migrations[0].down.is_some());
        assert_eq!(d.warnings.len(), 1);
        let e = discover(
            vec![
                f("m/001_a.sql", "select 1;"),
                f("m/001_other.down.sql", "select 1;"),
            ],
            false,
        )
        .unwrap_err();
        assert!(e.to_string().contains("name differs"));
    }

    #[test]
    fn bad_directives_fail_discovery_with_file_and_line() {
        let e = discover(vec![f("m/001_a.sql", "-- pgkeel:nope\nselect 1;")], false).unwrap_err();
        assert!(e
            .to_string()
            .starts_with("m/001_a.sql:1:1: unknown directive"));
    }

    #[test]
    fn other_cases_of_the_sql_extension_are_warned_about_with_the_rename() {
        let w = extension_case_warning("001_init.SQL", "m/001_init.SQL").unwrap();
        assert_eq!(w.path, "m/001_init.SQL");
        assert!(
            w.message.contains("rename it to 001_init.sql"),
            "{}",
            w.message
        );
        assert!(extension_case_warning("002_x.down.Sql", "m/002_x.down.Sql")
            .unwrap()
            .message
            .contains("rename it to 002_x.down.sql"));
        for quiet in [
            "001_a.sql",
            "README.md",
            "001_a.sql.skip",
            "sql",
            "x.SQL.skip",
            "é.md",
        ] {
            assert_eq!(extension_case_warning(quiet, quiet), None, "{quiet}");
        }
    }
}
