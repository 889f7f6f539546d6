//! `[lint]` in pgkeel.toml: which squawk rules run, at which severity, and whether error
//! findings block `up`.
//!
//! Pure. The section is re-read from the file's text (kept in `Config::file`) so that every
//! mistake is reported with toml's line and column.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Deserialize;
use toml::Spanned;

use crate::error::{Error, Result};
use crate::statements::LineIndex;
use crate::validate::Severity;
use crate::version::Version;

/// The severity configured for a rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    Off,
    Warning,
    Error,
}

impl Level {
    pub fn severity(self) -> Option<Severity> {
        match self {
            Level::Off => None,
            Level::Warning => Some(Severity::Warning),
            Level::Error => Some(Severity::Error),
        }
    }

    fn parse(s: &str) -> Option<Level> {
        match s {
            "off" => Some(Level::Off),
            "warning" => Some(Level::Warning),
            "error" => Some(Level::Error),
            _ => None,
        }
    }
}

/// Effective lint settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LintSettings {
    /// `[lint] enabled` (default true): false turns lint off everywhere (`pgkeel lint` reports
    /// nothing, `up` has no lint pre-flight).
    pub enabled: bool,
    /// `[lint] block` (default true): error findings stop `up` / `apply_migration` unless
    /// accepted. False: they are printed like warnings.
    pub block: bool,
    /// `[lint] since`: in migrations with an older version (written before lint was adopted),
    /// error findings are reported as warnings, so they never block. `None`: no such cap.
    pub since: Option<Version>,
    /// `[lint] pg_version` (default `"15"`): the PostgreSQL version squawk's rules assume.
    pub pg_version: String,
    /// `[lint.rules]`: canonical rule id → level, overriding pgkeel's defaults.
    pub rules: BTreeMap<String, Level>,
    /// `[lint] include`: squawk's opt-in rules to turn on (canonical ids).
    pub include: Vec<String>,
    /// pgkeel sets `lock_timeout` itself (`[apply] lock_timeout` non-zero): `require-lock-timeout`
    /// is then satisfied and off unless `[lint.rules]` names it.
    pub lock_timeout_set: bool,
    /// Same for `[apply] statement_timeout` and `require-statement-timeout`.
    pub statement_timeout_set: bool,
    /// `[lint] small_table_rows` (default [`DEFAULT_SMALL_TABLE_ROWS`]): on a live table with
    /// fewer rows, lock and rewrite rules are info findings (see [`super::context`]).
    pub small_table_rows: u64,
}

/// Below this many rows an index build, a validating scan or a rewrite takes milliseconds on
/// current hardware (tens of thousands of rows a second even on a slow disk), so the lock it
/// holds is brief: 10,000.
pub const DEFAULT_SMALL_TABLE_ROWS: u64 = 10_000;

impl Default for LintSettings {
    /// The settings of a project without `[lint]` and with the default `[apply]` timeouts
    /// (lock_timeout 5s, no statement_timeout).
    fn default() -> Self {
        LintSettings {
            enabled: true,
            block: true,
            since: None,
            pg_version: "15".into(),
            rules: BTreeMap::new(),
            include: Vec::new(),
            lock_timeout_set: true,
            statement_timeout_set: false,
            small_table_rows: DEFAULT_SMALL_TABLE_ROWS,
        }
    }
}

#[derive(Deserialize)]
struct Doc {
    lint: Option<Section>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Section {
    enabled: Option<bool>,
    block: Option<bool>,
    since: Option<Spanned<String>>,
    pg_version: Option<Spanned<toml::Value>>,
    rules: Option<BTreeMap<Spanned<String>, Spanned<String>>>,
    include: Option<Vec<Spanned<String>>>,
    small_table_rows: Option<Spanned<i64>>,
}

impl LintSettings {
    /// Read `[lint]` from pgkeel.toml's `(text, display name)`; `lock_timeout` and
    /// `statement_timeout` are the effective `[apply]` timeouts.
    pub fn resolve(
        file: Option<(&str, &str)>,
        lock_timeout: Duration,
        statement_timeout: Duration,
    ) -> Result<LintSettings> {
        let mut s = LintSettings {
            lock_timeout_set: !lock_timeout.is_zero(),
            statement_timeout_set: !statement_timeout.is_zero(),
            ..LintSettings::default()
        };
        let Some((text, name)) = file else {
            return Ok(s);
        };
        let index = LineIndex::new(text);
        let err = |span: Option<std::ops::Range<usize>>, msg: String| {
            let at = span.map_or(String::new(), |r| {
                let (l, c) = index.position(r.start);
                format!(":{l}:{c}")
            });
            Error::Config(format!("{name}{at}: [lint] {msg}"))
        };
        let doc: Doc = toml::from_str(text).map_err(|e| {
            err(
                e.span(),
                e.message().lines().next().unwrap_or_default().to_string(),
            )
        })?;
        let Some(sec) = doc.lint else {
            return Ok(s);
        };
        s.enabled = sec.enabled.unwrap_or(true);
        s.block = sec.block.unwrap_or(true);
        if let Some(v) = sec.since {
            s.since = Some(Version::parse(v.get_ref()).ok_or_else(|| {
                err(
                    Some(v.span()),
                    format!("since = {:?} is not a migration version (e.g. \"003\" or \"20240101120000\")", v.get_ref()),
                )
            })?);
        }
        if let Some(v) = sec.pg_version {
            let text = match v.get_ref() {
                toml::Value::String(t) => t.clone(),
                toml::Value::Integer(i) => i.to_string(),
                toml::Value::Float(f) => f.to_string(),
                other => {
                    return Err(err(
                        Some(v.span()),
                        format!(
                            "pg_version must be a version like \"15\" or \"16.2\", not {other}"
                        ),
                    ))
                }
            };
            if text.parse::<squawk_linter::Version>().is_err() {
                return Err(err(
                    Some(v.span()),
                    format!(
                        "pg_version {text:?} is not a PostgreSQL version like \"15\" or \"16.2\""
                    ),
                ));
            }
            s.pg_version = text;
        }
        if let Some(v) = sec.small_table_rows {
            s.small_table_rows = u64::try_from(*v.get_ref()).map_err(|_| {
                err(
                    Some(v.span()),
                    format!("small_table_rows = {}: expected a number of rows, 0 or more (0: every table with rows keeps the rule's level)", v.get_ref()),
                )
            })?;
        }
        for (rule, level) in sec.rules.unwrap_or_default() {
            let id = super::squawk::canonical(rule.get_ref()).ok_or_else(|| {
                err(
                    Some(rule.span()),
                    format!("[lint.rules] {:?} is not a squawk rule id (see https://squawkhq.com/docs/rules)", rule.get_ref()),
                )
            })?;
            let lvl = Level::parse(level.get_ref()).ok_or_else(|| {
                err(
                    Some(level.span()),
                    format!(
                        "[lint.rules] {} = {:?}: expected \"off\", \"warning\" or \"error\"",
                        rule.get_ref(),
                        level.get_ref()
                    ),
                )
            })?;
            if super::squawk::HANDLED_BY_PGKEEL.contains(&id.as_str()) && lvl != Level::Off {
                return Err(err(
                    Some(level.span()),
                    format!("[lint.rules] {id} cannot be turned on: pgkeel runs CONCURRENTLY statements outside a transaction and handles BEGIN/COMMIT in migrations itself, so this rule would only report what pgkeel does right"),
                ));
            }
            s.rules.insert(id, lvl);
        }
        for r in sec.include.unwrap_or_default() {
            let id = super::squawk::canonical(r.get_ref()).ok_or_else(|| {
                err(
                    Some(r.span()),
                    format!("include: {:?} is not a squawk rule id (see https://squawkhq.com/docs/rules)", r.get_ref()),
                )
            })?;
            if super::squawk::HANDLED_BY_PGKEEL.contains(&id.as_str()) {
                return Err(err(
                    Some(r.span()),
                    format!("include: {id} cannot be turned on: pgkeel handles what it checks"),
                ));
            }
            if !s.include.contains(&id) {
                s.include.push(id);
            }
        }
        Ok(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resolve(text: &str) -> Result<LintSettings> {
        LintSettings::resolve(
            Some((text, "pgkeel.toml")),
            Duration::from_secs(5),
            Duration::ZERO,
        )
    }

    #[test]
    fn defaults_without_a_section() {
        let s = resolve("[apply]\nlock_timeout = \"5s\"\n").unwrap();
        assert_eq!(s, LintSettings::default());
        let s = LintSettings::resolve(None, Duration::ZERO, Duration::from_secs(9)).unwrap();
        assert!(!s.lock_timeout_set && s.statement_timeout_set && s.enabled && s.block);
    }

    #[test]
    fn a_full_section_is_read() {
        let s = resolve(
            "[lint]\nenabled = true\nblock = false\nsince = \"003\"\npg_version = 16\ninclude = [\"ban-drop-trigger\"]\n\n[lint.rules]\nprefer-timestamp-tz = \"off\"\nban-drop-column = \"warning\"\nprefer-text-field = \"error\"\n",
        )
        .unwrap();
        assert!(!s.block);
        assert_eq!(s.since, Version::parse("003"));
        assert_eq!(s.pg_version, "16");
        assert_eq!(s.include, ["ban-drop-trigger"]);
        assert_eq!(s.rules.get("prefer-timestamp-tz"), Some(&Level::Off));
        assert_eq!(s.rules.get("ban-drop-column"), Some(&Level::Warning));
        assert_eq!(s.rules.get("prefer-text-field"), Some(&Level::Error));
    }

    #[test]
    fn mistakes_are_reported_with_their_line_and_column() {
        let e =
            resolve("[apply]\nlock_timeout = \"5s\"\n\n[lint.rules]\nban-drop-tabel = \"error\"\n")
                .unwrap_err()
                .to_string();
        assert!(e.contains("pgkeel.toml:5:1:"), "{e}");
        assert!(
            e.contains("\"ban-drop-tabel\" is not a squawk rule id"),
            "{e}"
        );

        let e = resolve("[lint.rules]\nban-drop-table = \"fatal\"\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("pgkeel.toml:2:18:"), "{e}");
        assert!(
            e.contains("expected \"off\", \"warning\" or \"error\""),
            "{e}"
        );

        let e = resolve("[lint]\nenabled = true\nblok = false\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("pgkeel.toml:3:1:"), "{e}");
        assert!(e.contains("unknown field `blok`"), "{e}");

        let e = resolve("[lint]\npg_version = \"fifteen\"\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("pgkeel.toml:2:14:"), "{e}");

        let e = resolve("[lint]\ninclude = [\"ban-drop-table\", \"nope\"]\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("pgkeel.toml:2:30:"), "{e}");

        let e = resolve("[lint]\nsince = \"yesterday\"\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("pgkeel.toml:2:9:"), "{e}");

        let e = resolve("[lint.rules]\ntransaction-nesting = \"error\"\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("cannot be turned on"), "{e}");
        assert!(resolve("[lint.rules]\ntransaction-nesting = \"off\"\n").is_ok());
    }
}
