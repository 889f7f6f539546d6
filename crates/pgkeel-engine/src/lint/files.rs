//! The I/O half of lint: the migrations `pgkeel lint` looks at.

use std::path::Path;

use super::{LintFinding, LintSettings, RunItem, RunLint};
use crate::config::Config;
use crate::error::{Error, Result};
use crate::migration::Migration;
use crate::version::Version;

/// What `pgkeel lint` looked at and found.
#[derive(Debug, Clone, serde::Serialize)]
pub struct LintReport {
    /// Paths of the files linted, in order.
    pub files: Vec<String>,
    pub findings: Vec<LintFinding>,
    /// Discovery's warnings (files not read as migrations, and why), when the migration
    /// folders were read.
    pub warnings: Vec<crate::discovery::Warning>,
}

/// Lint every discovered migration (files and history order; no database).
pub fn lint_discovered(config: &Config, s: &LintSettings) -> Result<LintReport> {
    let discovered = crate::source::discover(config)?;
    Ok(LintReport {
        files: discovered
            .migrations
            .iter()
            .map(|m| m.path.clone())
            .collect(),
        findings: judge_offline(discovered.migrations.iter().map(|m| (m, true)), config, s),
        warnings: discovered.warnings,
    })
}

/// Lint `migrations` as one run, offline: what the run creates counts (see
/// [`super::context`]), table sizes are unknown, and the automatic backups `[backup]` would take
/// are known from the SQL. `(migration, named)`: an unnamed file has no version for `since`.
fn judge_offline<'a>(
    migrations: impl IntoIterator<Item = (&'a Migration, bool)>,
    config: &Config,
    s: &LintSettings,
) -> Vec<LintFinding> {
    let items = migrations.into_iter().map(|(m, named)| {
        let mut item = RunItem::offline(m, s);
        item.older &= named;
        item
    });
    RunLint::new(items, s)
        .with_backups_where_needed(|item| match item.migration.prepare() {
            Ok(p) => crate::backup::plan::job_targets(&config.backup, &p, 0),
            Err(_) => Vec::new(),
        })
        .with_backup_window(config.backup.window)
        .judge(None, s)
}

/// Lint the named files: any `.sql` file, whether or not its name follows a naming scheme.
/// Relative paths are resolved against `cwd` and shown as given.
pub fn lint_files(
    cwd: &Path,
    paths: &[String],
    config: &Config,
    s: &LintSettings,
) -> Result<LintReport> {
    let mut report = LintReport {
        files: Vec::new(),
        findings: Vec::new(),
        warnings: Vec::new(),
    };
    let mut read: Vec<(Migration, bool)> = Vec::new();
    for p in paths {
        let full = cwd.join(p);
        let bytes = std::fs::read(&full).map_err(|e| Error::io(&full, e))?;
        let text = String::from_utf8(bytes).map_err(|e| Error::NonUtf8 {
            path: p.clone(),
            offset: e.utf8_error().valid_up_to(),
        })?;
        read.push(standalone(p, &text)?);
        report.files.push(p.clone());
    }
    // The named files are one run, in the order given.
    report.findings = judge_offline(read.iter().map(|(m, named)| (m, *named)), config, s);
    Ok(report)
}

/// A file read as a migration for linting only: its directives (`no-transaction`, `down`)
/// matter; its version only for `[lint] since` (true when the name has one: a file named by no
/// scheme still gets linted).
fn standalone(path: &str, text: &str) -> Result<(Migration, bool)> {
    let named = Path::new(path)
        .file_name()
        .and_then(|n| n.to_str())
        .and_then(crate::version::parse_file_name)
        .map(|p| p.version);
    let version = match named.clone() {
        Some(v) => v,
        // Lint never looks at the version otherwise; "0" only fills the field.
        None => Version::parse("0")
            .ok_or_else(|| Error::Config("internal: no placeholder version".into()))?,
    };
    let m = Migration::from_text(version, String::new(), path.to_string(), text).map_err(|e| {
        Error::Directive {
            path: path.to_string(),
            line: e.line,
            column: e.column,
            message: e.message,
        }
    })?;
    Ok((m, named.is_some()))
}
