//! `[backup]` in pgkeel.toml → [`BackupSettings`]. Pure.
//!
//! ```toml
//! [backup]
//! enabled = true                  # back up rows before destructive migrations (default true)
//! schema = "pgkeel_backup"        # where backups and their catalog live
//! window = "48h"                  # how long a backup is kept (its expiry)
//! max_backup_bytes = 1073741824   # refuse a migration whose backups would be larger (bytes, or "1GiB", "500MB")
//! ```

use std::time::Duration;

use serde::Deserialize;
use toml::Spanned;

use crate::error::{Error, Result};
use crate::statements::LineIndex;

pub const DEFAULT_SCHEMA: &str = "pgkeel_backup";
pub const DEFAULT_WINDOW: Duration = Duration::from_secs(48 * 3600);
pub const DEFAULT_MAX_BYTES: u64 = 1 << 30;

/// `[backup]`, resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackupSettings {
    pub enabled: bool,
    pub schema: String,
    /// A backup expires this long after it was taken.
    pub window: Duration,
    /// The most a migration's backups may take, estimated before it runs.
    pub max_backup_bytes: u64,
}

impl Default for BackupSettings {
    fn default() -> Self {
        BackupSettings {
            enabled: true,
            schema: DEFAULT_SCHEMA.to_string(),
            window: DEFAULT_WINDOW,
            max_backup_bytes: DEFAULT_MAX_BYTES,
        }
    }
}

#[derive(Deserialize, Default)]
struct Sections {
    backup: Option<Section>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct Section {
    enabled: Option<bool>,
    schema: Option<Spanned<String>>,
    window: Option<Spanned<String>>,
    max_backup_bytes: Option<Spanned<Size>>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum Size {
    Bytes(i64),
    Text(String),
}

/// Read `[backup]` from pgkeel.toml (`file` = `(text, display name)`); mistakes are
/// [`Error::Config`] with the file, line and column.
pub fn resolve(file: Option<(&str, &str)>) -> Result<BackupSettings> {
    let mut s = BackupSettings::default();
    let Some((text, name)) = file else {
        return Ok(s);
    };
    let sections: Sections = toml::from_str(text).map_err(|e| {
        Error::Config(format!(
            "{name}: {}",
            e.to_string().lines().collect::<Vec<_>>().join(" ")
        ))
    })?;
    let Some(b) = sections.backup else {
        return Ok(s);
    };
    let at = |offset: usize, msg: String| {
        let (line, column) = LineIndex::new(text).position(offset);
        Error::Config(format!("{name}:{line}:{column}: {msg}"))
    };
    if let Some(e) = b.enabled {
        s.enabled = e;
    }
    if let Some(schema) = b.schema {
        let v = schema.get_ref();
        if !valid_identifier(v) {
            return Err(at(
                schema.span().start,
                format!("[backup] schema {v:?}: expected a plain identifier (letters, digits, _; at most 63 bytes)"),
            ));
        }
        s.schema = v.clone();
    }
    if let Some(w) = b.window {
        let d = crate::duration::parse_duration(w.get_ref())
            .ok()
            .filter(|d| !d.is_zero())
            .ok_or_else(|| {
                at(
                    w.span().start,
                    format!(
                        "[backup] window = {:?}: expected a duration such as \"48h\" or \"7days\"",
                        w.get_ref()
                    ),
                )
            })?;
        s.window = d;
    }
    if let Some(m) = b.max_backup_bytes {
        let start = m.span().start;
        s.max_backup_bytes = match m.into_inner() {
            Size::Bytes(n) if n >= 0 => n as u64,
            Size::Bytes(n) => {
                return Err(at(
                    start,
                    format!("[backup] max_backup_bytes = {n}: must not be negative"),
                ))
            }
            Size::Text(t) => {
                parse_size(&t).map_err(|e| at(start, format!("[backup] max_backup_bytes: {e}")))?
            }
        };
    }
    Ok(s)
}

fn valid_identifier(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 63
        && s.chars()
            .next()
            .is_some_and(|c| c.is_ascii_lowercase() || c == '_')
        && s.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

/// `1073741824`, `"500MB"`, `"1 GiB"`, `"2g"`. Hand-written: no crate in the tree parses sizes,
/// and this is six suffixes.
pub fn parse_size(text: &str) -> std::result::Result<u64, String> {
    let t = text.trim();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let n: f64 = num.parse().map_err(|_| {
        format!("{text:?}: expected a size such as 1073741824, \"500MB\" or \"1GiB\"")
    })?;
    let factor: u64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kb" => 1_000,
        "kib" => 1 << 10,
        "m" | "mb" => 1_000_000,
        "mib" => 1 << 20,
        "g" | "gb" => 1_000_000_000,
        "gib" => 1 << 30,
        "t" | "tb" => 1_000_000_000_000,
        "tib" => 1 << 40,
        other => {
            return Err(format!(
                "{text:?}: unknown unit {other:?} (use B, KB, MB, GB, TB or KiB, MiB, GiB, TiB)"
            ))
        }
    };
    Ok((n * factor as f64).round() as u64)
}

/// A byte count for people: `512 B`, `1.5 MiB`.
pub fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = n as f64;
    let mut u = 0;
    while v >= 1024.0 && u + 1 < UNITS.len() {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 {
        format!("{n} B")
    } else {
        format!("{v:.1} {}", UNITS[u])
    }
}

/// `48h`, `7d`, `90m`, `30s`: the largest unit that divides the duration exactly.
pub fn human_duration(d: Duration) -> String {
    let s = d.as_secs();
    match s {
        0 => "0s".into(),
        s if s.is_multiple_of(86_400) && s >= 7 * 86_400 => format!("{}d", s / 86_400),
        s if s.is_multiple_of(3600) => format!("{}h", s / 3600),
        s if s.is_multiple_of(60) => format!("{}m", s / 60),
        s => format!("{s}s"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_without_a_file_or_section() {
        assert_eq!(resolve(None).unwrap(), BackupSettings::default());
        assert_eq!(
            resolve(Some(("[history]\nschema = \"x\"\n", "pgkeel.toml"))).unwrap(),
            BackupSettings::default()
        );
    }

    #[test]
    fn reads_every_setting() {
        let s = resolve(Some((
            "[backup]\nenabled = false\nschema = \"keep\"\nwindow = \"7days\"\nmax_backup_bytes = \"500MB\"\n",
            "pgkeel.toml",
        )))
        .unwrap();
        assert_eq!(
            s,
            BackupSettings {
                enabled: false,
                schema: "keep".into(),
                window: Duration::from_secs(7 * 86400),
                max_backup_bytes: 500_000_000,
            }
        );
        let s = resolve(Some(("[backup]\nmax_backup_bytes = 1024\n", "f"))).unwrap();
        assert_eq!(s.max_backup_bytes, 1024);
    }

    #[test]
    fn bad_values_name_the_place() {
        let e = resolve(Some(("[backup]\nwindow = \"soon\"\n", "pgkeel.toml")))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("pgkeel.toml:2:10") && e.contains("window"),
            "{e}"
        );
        let e = resolve(Some(("[backup]\nschema = \"Bad-Name\"\n", "pgkeel.toml")))
            .unwrap_err()
            .to_string();
        assert!(e.contains("schema") && e.contains(":2:"), "{e}");
        let e = resolve(Some(("[backup]\nmax_backup_bytes = \"12 parsecs\"\n", "f")))
            .unwrap_err()
            .to_string();
        assert!(e.contains("unknown unit"), "{e}");
        let e = resolve(Some(("[backup]\nmax_backup_bytes = -1\n", "f")))
            .unwrap_err()
            .to_string();
        assert!(e.contains("negative"), "{e}");
        let e = resolve(Some(("[backup]\nwindwo = \"1h\"\n", "f")))
            .unwrap_err()
            .to_string();
        assert!(e.contains("windwo"), "{e}");
    }

    #[test]
    fn sizes() {
        assert_eq!(parse_size("1GiB").unwrap(), 1 << 30);
        assert_eq!(parse_size("1.5 kib").unwrap(), 1536);
        assert_eq!(parse_size("42").unwrap(), 42);
        assert!(parse_size("GiB").is_err());
        assert_eq!(human_bytes(512), "512 B");
        assert_eq!(human_bytes(1536), "1.5 KiB");
    }
}
