//! Finding the PostgreSQL server binaries installed on the machine (initdb, pg_ctl, postgres).
//!
//! Search order: `[dev] bin_dir` (only there when set), `pg_config --bindir`, each `PATH` entry,
//! then `/usr/lib/postgresql/<major>/bin` (Debian/Ubuntu), newest major first. The parsing
//! parts (`postgres --version`, major versions, folder names) are pure and unit-tested.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::error::{DevProblem, Error, Result};

/// The programs a dev cluster needs.
pub const PROGRAMS: [&str; 3] = ["initdb", "pg_ctl", "postgres"];

/// Where Debian and Ubuntu install each major version's server binaries.
pub const DEBIAN_ROOT: &str = "/usr/lib/postgresql";

/// A folder holding initdb, pg_ctl and postgres, and the version they are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Binaries {
    pub dir: PathBuf,
    /// Full version, e.g. `15.14`.
    pub version: String,
    /// Major version as PG_VERSION writes it: `15`, or `9.6` before 10.
    pub major: String,
    /// How the folder was found, for messages: `[dev] bin_dir`, `pg_config`, `PATH`, ….
    pub found_by: String,
}

impl Binaries {
    pub fn program(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }
}

/// Find the server binaries. `configured` is `[dev] bin_dir` (absolute).
pub fn find(configured: Option<&Path>) -> Result<Binaries> {
    if let Some(dir) = configured {
        if !has_programs(dir) {
            return Err(Error::dev(
                DevProblem::BinariesNotFound,
                format!(
                    "no PostgreSQL server binaries ({}) in {} ([dev] bin_dir); point it at a folder \
                     that has them, e.g. /usr/lib/postgresql/15/bin, or remove the setting to search \
                     the machine",
                    PROGRAMS.join(", "),
                    dir.display()
                ),
            ));
        }
        return identify(dir, "[dev] bin_dir");
    }
    let mut candidates: Vec<(PathBuf, &str)> = Vec::new();
    if let Ok(out) = Command::new("pg_config").arg("--bindir").output() {
        if out.status.success() {
            let dir = String::from_utf8_lossy(&out.stdout).trim().to_string();
            if !dir.is_empty() {
                candidates.push((PathBuf::from(dir), "pg_config --bindir"));
            }
        }
    }
    if let Some(path) = std::env::var_os("PATH") {
        for dir in std::env::split_paths(&path) {
            candidates.push((dir, "PATH"));
        }
    }
    if let Ok(entries) = std::fs::read_dir(DEBIAN_ROOT) {
        let names: Vec<String> = entries
            .filter_map(|e| e.ok())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        for name in majors_newest_first(&names) {
            candidates.push((
                Path::new(DEBIAN_ROOT).join(name).join("bin"),
                "/usr/lib/postgresql",
            ));
        }
    }
    for (dir, found_by) in candidates {
        if has_programs(&dir) {
            return identify(&dir, found_by);
        }
    }
    Err(Error::dev(
        DevProblem::BinariesNotFound,
        format!(
            "no PostgreSQL server binaries ({}) found (looked at pg_config --bindir, PATH and \
             {DEBIAN_ROOT}/*/bin); install the PostgreSQL server (Debian/Ubuntu: apt-get install \
             postgresql; macOS: brew install postgresql), set [dev] bin_dir in pgkeel.toml, or set \
             DATABASE_URL to use a server you already have",
            PROGRAMS.join(", ")
        ),
    ))
}

fn has_programs(dir: &Path) -> bool {
    PROGRAMS.iter().all(|p| is_executable(&dir.join(p)))
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// Ask `postgres --version` what the folder holds (works as root: the check for root comes later).
fn identify(dir: &Path, found_by: &str) -> Result<Binaries> {
    let postgres = dir.join("postgres");
    let out = Command::new(&postgres)
        .arg("--version")
        .output()
        .map_err(|e| {
            Error::dev(
                DevProblem::BinariesNotFound,
                format!("cannot run {} --version: {e}", postgres.display()),
            )
        })?;
    let text = String::from_utf8_lossy(&out.stdout);
    let version = parse_version(&text).ok_or_else(|| {
        Error::dev(
            DevProblem::BinariesNotFound,
            format!(
                "{} --version printed {:?}, not a PostgreSQL version",
                postgres.display(),
                text.trim()
            ),
        )
    })?;
    Ok(Binaries {
        dir: dir.to_path_buf(),
        major: major_of(&version),
        version,
        found_by: found_by.to_string(),
    })
}

/// `postgres (PostgreSQL) 15.14 (Debian 15.14-0+deb12u1)` → `15.14`; `… 17beta1` → `17beta1`.
pub fn parse_version(output: &str) -> Option<String> {
    let line = output.lines().next()?;
    let rest = line.split_once("(PostgreSQL)")?.1.trim_start();
    let version: String = rest.chars().take_while(|c| !c.is_whitespace()).collect();
    version
        .chars()
        .next()
        .filter(char::is_ascii_digit)
        .map(|_| version)
}

/// The major version as PG_VERSION writes it: `15.14` → `15`, `17beta1` → `17`, `9.6.24` → `9.6`.
pub fn major_of(version: &str) -> String {
    let digits = |s: &str| -> String { s.chars().take_while(char::is_ascii_digit).collect() };
    let first = digits(version);
    match first.parse::<u32>() {
        Ok(n) if n < 10 => {
            let second = version
                .get(first.len() + 1..)
                .map(digits)
                .unwrap_or_default();
            if second.is_empty() {
                first
            } else {
                format!("{first}.{second}")
            }
        }
        _ => first,
    }
}

/// Folder names under /usr/lib/postgresql that are versions, newest first (compared as numbers).
pub fn majors_newest_first(names: &[String]) -> Vec<String> {
    let key = |n: &str| -> Option<Vec<u32>> {
        n.split('.')
            .map(|p| p.parse::<u32>().ok())
            .collect::<Option<Vec<u32>>>()
    };
    let mut majors: Vec<(Vec<u32>, String)> = names
        .iter()
        .filter_map(|n| key(n).map(|k| (k, n.clone())))
        .collect();
    majors.sort();
    majors.reverse();
    majors.into_iter().map(|(_, n)| n).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_from_postgres_version_output() {
        assert_eq!(
            parse_version("postgres (PostgreSQL) 15.14 (Debian 15.14-0+deb12u1)\n").as_deref(),
            Some("15.14")
        );
        assert_eq!(
            parse_version("postgres (PostgreSQL) 17beta1").as_deref(),
            Some("17beta1")
        );
        assert_eq!(
            parse_version("postgres (PostgreSQL) 9.6.24\n").as_deref(),
            Some("9.6.24")
        );
        assert_eq!(parse_version("bash: postgres: not found"), None);
        assert_eq!(parse_version(""), None);
    }

    #[test]
    fn major_versions_as_pg_version_writes_them() {
        assert_eq!(major_of("15.14"), "15");
        assert_eq!(major_of("17beta1"), "17");
        assert_eq!(major_of("10.23"), "10");
        assert_eq!(major_of("9.6.24"), "9.6");
        assert_eq!(major_of("9.6"), "9.6");
    }

    #[test]
    fn newest_major_first_compared_as_numbers() {
        let names: Vec<String> = ["9.6", "15", "10", "17", "notes", "16"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        assert_eq!(majors_newest_first(&names), ["17", "16", "15", "10", "9.6"]);
        assert!(majors_newest_first(&[]).is_empty());
    }

    #[test]
    fn an_empty_configured_folder_is_a_clear_error() {
        let dir = std::env::temp_dir().join(format!("pgkeel-empty-bin-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let e = find(Some(&dir)).unwrap_err();
        assert_eq!(e.code(), "dev_binaries_not_found");
        assert!(e.to_string().contains("[dev] bin_dir"), "{e}");
        let _ = std::fs::remove_dir(&dir);
    }
}
