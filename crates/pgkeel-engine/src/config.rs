//! Configuration: `pgkeel.toml`, overridden by environment variables, overridden by flags.
//!
//! Pure: the caller hands in the file's text, an environment lookup and an "does this folder
//! exist" check, so every rule here is unit-tested without touching the machine. Unknown keys are
//! errors (with the line), never ignored.

pub use crate::duration::parse_duration;
pub use crate::environment::{Environment, SystemEnvironment};
pub use crate::redact::redact_url;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use crate::error::{Error, Result};

pub const CONFIG_FILE: &str = "pgkeel.toml";
pub const DEFAULT_HISTORY_SCHEMA: &str = "pgkeel";
pub const DEFAULT_LOG_FILE: &str = "logs/migration.log";
/// `[database] connect_timeout` by default: long enough for a TLS handshake across the world
/// and a cold server's authentication, short enough that a dead network or a silent server
/// fails a command (or an MCP tool call) before a person or an agent gives up on it.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// The largest value PostgreSQL accepts for its millisecond timeouts (`lock_timeout`,
/// `statement_timeout`, `idle_in_transaction_session_timeout`, …): INT_MAX milliseconds,
/// about 24.8 days. A larger value makes the `SET` fail.
pub const PG_MAX_TIMEOUT: Duration = Duration::from_millis(i32::MAX as u64);

/// Whether PostgreSQL takes `d` as a millisecond timeout setting as meant: zero (no limit) or
/// 1ms to [`PG_MAX_TIMEOUT`]. Below 1ms PostgreSQL would round it to 0, turning the limit off.
pub fn check_pg_timeout(d: Duration) -> std::result::Result<(), String> {
    let range = format!(
        "PostgreSQL accepts \"0\" (no limit) or 1ms to {} ({}ms)",
        humantime::format_duration(PG_MAX_TIMEOUT),
        PG_MAX_TIMEOUT.as_millis()
    );
    if d > PG_MAX_TIMEOUT {
        Err(format!(
            "{} is out of range: {range}",
            humantime::format_duration(d)
        ))
    } else if !d.is_zero() && d < Duration::from_millis(1) {
        Err(format!(
            "{} is below 1ms, which PostgreSQL would round to 0 (no limit): {range}",
            humantime::format_duration(d)
        ))
    } else {
        Ok(())
    }
}

/// Effective configuration after file, environment and flags.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// The project root: folders, paths in history and the log file are relative to it.
    pub root: PathBuf,
    /// The database URL, if one was configured. Never print it: see [`redact_url`].
    pub database_url: Option<String>,
    /// Where the URL came from (for messages): e.g. `env DATABASE_URL`.
    pub database_url_source: Option<String>,
    /// The environment variable the URL is read from (`[database] url_env`, default DATABASE_URL).
    pub database_url_env: String,
    /// Migration folders, relative to `root`, in the order given.
    pub folders: Vec<String>,
    pub strict: bool,
    pub allow_out_of_order: bool,
    pub history_schema: String,
    /// How long `up` waits for another applier to release the migration lock.
    pub lock_wait_timeout: Duration,
    /// PostgreSQL `lock_timeout` for migration statements (zero = none).
    pub lock_timeout: Duration,
    /// PostgreSQL `statement_timeout` for migration statements (zero = none).
    pub statement_timeout: Duration,
    /// How long pgkeel waits for the server (`[database] connect_timeout`, default 10s, zero =
    /// no deadline): to connect (TCP, TLS, startup), and for each of its own catalog queries.
    /// A `connect_timeout` in the URL wins (see [`crate::db::connect`]).
    pub connect_timeout: Duration,
    /// Attempts after a lock timeout (`[apply] lock_retries`, default 0) and the first wait
    /// between them (`lock_retry_backoff`, default 1s; doubled each time, at most 30 s).
    pub lock_retries: u32,
    pub lock_retry_backoff: Duration,
    /// Log file, relative to `root` unless absolute; `None` disables it.
    pub log_file: Option<PathBuf>,
    /// The project-local dev cluster (`[dev]`; see [`crate::dev`]).
    pub dev: DevSettings,
    /// True when `database_url` points at the dev database because none was configured
    /// (set by [`crate::dev::resolve`]).
    pub dev_database: bool,
    /// Supabase mode (`[supabase]`, or `supabase/config.toml` in the root); see
    /// [`crate::supabase::project`]. `None` when off.
    pub supabase: Option<crate::supabase::SupabaseSettings>,
    /// TypeScript types from the live schema (`[types]`; see [`crate::typegen`]).
    pub types: TypesSettings,
    /// `[validate]` and `[expect]` (see [`crate::validate::settings`]).
    pub validate: crate::validate::settings::ValidateSettings,
    /// `[lint]`: migration lint (see [`crate::lint::settings`]).
    pub lint: crate::lint::LintSettings,
    /// pgkeel.toml as read: `(text, display name)`. Feature modules parse their own sections
    /// (`[lint]`, `[validate]`, `[expect]`, `[backup]`, `[rollback]`) from it so their errors
    /// carry toml's line and column.
    pub file: Option<(String, String)>,
    /// How long a rollback confirmation token stays valid (`[rollback] token_ttl`, default 15m).
    pub rollback_token_ttl: Duration,
    /// `[backup]`: automatic backups before destructive migrations (see [`crate::backup`]).
    pub backup: crate::backup::BackupSettings,
}

/// `[types]`: the generated TypeScript file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TypesSettings {
    /// The generated file, relative to the project root; `None`: no committed file (`up` does
    /// not write one, `types verify` has nothing to compare).
    pub out: Option<String>,
    /// Schemas to render: `[types] schemas`, else the Supabase API schemas, else `public`.
    pub schemas: Vec<String>,
    /// True when `schemas` was given in pgkeel.toml (then every one must exist); defaults that
    /// do not exist in the database are skipped.
    pub schemas_explicit: bool,
    /// Regenerate after every successful `up` (default true when `out` is set).
    pub on_up: bool,
}

/// `[dev]`: the project-local PostgreSQL cluster under `.pgkeel/dev/`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DevSettings {
    /// Folder with initdb, pg_ctl and postgres; `None` = search (pg_config, PATH, /usr/lib/postgresql).
    pub bin_dir: Option<PathBuf>,
    /// A fixed port; `None` = pick a free one.
    pub port: Option<u16>,
    /// Use the dev database when no URL is configured (default true).
    pub auto: bool,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    #[serde(default)]
    database: DatabaseSection,
    #[serde(default)]
    migrations: MigrationsSection,
    #[serde(default)]
    history: HistorySection,
    #[serde(default)]
    apply: ApplySection,
    #[serde(default)]
    log: LogSection,
    #[serde(default)]
    dev: DevSection,
    supabase: Option<crate::supabase::project::SupabaseSection>,
    #[serde(default)]
    types: TypesSection,
    // Sections whose settings belong to one feature module each: the module re-reads its
    // section from `Config::file` (keeping toml's line numbers in its errors) and checks it.
    #[serde(rename = "lint")]
    _lint: Option<toml::Value>,
    #[serde(rename = "validate")]
    _validate: Option<toml::Value>,
    #[serde(rename = "expect")]
    _expect: Option<toml::Value>,
    #[serde(rename = "backup")]
    _backup: Option<toml::Value>,
    #[serde(rename = "rollback")]
    _rollback: Option<toml::Value>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct TypesSection {
    out: Option<String>,
    schemas: Option<Vec<String>>,
    on_up: Option<bool>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct DevSection {
    bin_dir: Option<String>,
    port: Option<u16>,
    auto: Option<bool>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct DatabaseSection {
    url: Option<String>,
    url_env: Option<String>,
    connect_timeout: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct MigrationsSection {
    folders: Option<Vec<String>>,
    strict: Option<bool>,
    allow_out_of_order: Option<bool>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct HistorySection {
    schema: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ApplySection {
    lock_wait_timeout: Option<String>,
    lock_timeout: Option<String>,
    statement_timeout: Option<String>,
    lock_retries: Option<u32>,
    lock_retry_backoff: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct LogSection {
    file: Option<String>,
}

/// Values given on the command line (or by the MCP server's own flags); they win over all else.
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    pub database_url: Option<String>,
    pub folders: Vec<String>,
    pub strict: Option<bool>,
    pub allow_out_of_order: Option<bool>,
    pub history_schema: Option<String>,
    pub lock_wait_timeout: Option<Duration>,
    pub log_file: Option<String>,
}

impl Config {
    /// Build the configuration. `file` is `(text, display name)` of pgkeel.toml when one exists.
    pub fn resolve(
        root: PathBuf,
        file: Option<(&str, &str)>,
        env: &dyn Environment,
        flags: &Overrides,
    ) -> Result<Config> {
        let fc: FileConfig = match file {
            Some((text, name)) => toml::from_str(text)
                .map_err(|e| Error::Config(format!("{name}: {}", one_line(&e.to_string()))))?,
            None => FileConfig::default(),
        };

        // Database URL: flag > PGKEEL_DATABASE_URL > the env var named in the file (default
        // DATABASE_URL) > a literal url in the file.
        let url_env = fc
            .database
            .url_env
            .clone()
            .unwrap_or_else(|| "DATABASE_URL".to_string());
        let (database_url, database_url_source) = if let Some(u) = &flags.database_url {
            (Some(u.clone()), Some("--database-url".to_string()))
        } else if let Some(u) = env.var("PGKEEL_DATABASE_URL") {
            (Some(u), Some("env PGKEEL_DATABASE_URL".to_string()))
        } else if let Some(u) = env.var(&url_env) {
            (Some(u), Some(format!("env {url_env}")))
        } else if let Some(u) = fc.database.url.clone() {
            (Some(u), Some(format!("{CONFIG_FILE} [database] url")))
        } else {
            (None, None)
        };

        let folders = if !flags.folders.is_empty() {
            flags.folders.clone()
        } else if let Some(v) = env.var("PGKEEL_MIGRATIONS") {
            v.split(',')
                .map(|s| s.trim().to_string())
                .filter(|s| !s.is_empty())
                .collect()
        } else if let Some(f) = fc.migrations.folders.clone() {
            f
        } else if env.is_dir(&root.join("supabase/migrations")) {
            vec!["supabase/migrations".to_string()]
        } else {
            vec!["migrations".to_string()]
        };
        if folders.is_empty() {
            return Err(Error::Config("no migration folder configured".into()));
        }
        for f in &folders {
            if Path::new(f).is_absolute() || f.split('/').any(|p| p == "..") {
                return Err(Error::Config(format!(
                    "migration folder {f:?} must be a path inside the project (relative, without ..)"
                )));
            }
        }

        let history_schema = flags
            .history_schema
            .clone()
            .or_else(|| env.var("PGKEEL_HISTORY_SCHEMA"))
            .or(fc.history.schema.clone())
            .unwrap_or_else(|| DEFAULT_HISTORY_SCHEMA.to_string());
        validate_identifier(&history_schema)?;

        // A duration: flag > env > file > default, with where it came from (for messages).
        let duration = |flag: Option<Duration>,
                        env_name: &str,
                        file: &Option<String>,
                        key: &str,
                        default: Duration|
         -> Result<(Duration, String)> {
            if let Some(d) = flag {
                return Ok((d, format!("{key} (from the command line)")));
            }
            if let Some(v) = env.var(env_name) {
                let d =
                    parse_duration(&v).map_err(|e| Error::Config(format!("{env_name}: {e}")))?;
                return Ok((d, format!("{env_name}={v:?}")));
            }
            if let Some(v) = file {
                let d = parse_duration(v)
                    .map_err(|e| Error::Config(format!("{CONFIG_FILE} {key}: {e}")))?;
                return Ok((d, format!("{CONFIG_FILE} {key} = {v:?}")));
            }
            Ok((default, format!("{key} (default)")))
        };
        // A duration pgkeel sends to PostgreSQL as a setting: refused here when PostgreSQL
        // would refuse it (or silently turn it off), naming the setting and the range.
        let pg_duration = |env_name: &str,
                           file: &Option<String>,
                           key: &str,
                           default: Duration|
         -> Result<Duration> {
            let (d, source) = duration(None, env_name, file, key, default)?;
            check_pg_timeout(d).map_err(|why| Error::Config(format!("{source}: {why}")))?;
            Ok(d)
        };
        let (lock_wait_timeout, _) = duration(
            flags.lock_wait_timeout,
            "PGKEEL_LOCK_WAIT_TIMEOUT",
            &fc.apply.lock_wait_timeout,
            "[apply] lock_wait_timeout",
            Duration::from_secs(60),
        )?;
        let lock_timeout = pg_duration(
            "PGKEEL_LOCK_TIMEOUT",
            &fc.apply.lock_timeout,
            "[apply] lock_timeout",
            Duration::from_secs(5),
        )?;
        let statement_timeout = pg_duration(
            "PGKEEL_STATEMENT_TIMEOUT",
            &fc.apply.statement_timeout,
            "[apply] statement_timeout",
            Duration::ZERO,
        )?;
        // Also sent as the catalog queries' statement_timeout (see crate::db::connect).
        let connect_timeout = pg_duration(
            "PGKEEL_CONNECT_TIMEOUT",
            &fc.database.connect_timeout,
            "[database] connect_timeout",
            DEFAULT_CONNECT_TIMEOUT,
        )?;
        let lock_retries = match env.var("PGKEEL_LOCK_RETRIES") {
            Some(v) => v.trim().parse::<u32>().map_err(|_| {
                Error::Config(format!(
                    "PGKEEL_LOCK_RETRIES: {v:?} is not a count (expected e.g. 3)"
                ))
            })?,
            None => fc.apply.lock_retries.unwrap_or(0),
        };
        let (lock_retry_backoff, _) = duration(
            None,
            "PGKEEL_LOCK_RETRY_BACKOFF",
            &fc.apply.lock_retry_backoff,
            "[apply] lock_retry_backoff",
            Duration::from_secs(1),
        )?;

        let log_file = flags
            .log_file
            .clone()
            .or_else(|| env.var("PGKEEL_LOG_FILE"))
            .or(fc.log.file.clone())
            .unwrap_or_else(|| DEFAULT_LOG_FILE.to_string());
        let log_file = (!log_file.is_empty() && log_file != "off").then(|| PathBuf::from(log_file));

        let bool_env = |name: &str| -> Result<Option<bool>> {
            env.var(name)
                .map(|v| match v.to_ascii_lowercase().as_str() {
                    "1" | "true" | "yes" | "on" => Ok(true),
                    "0" | "false" | "no" | "off" => Ok(false),
                    other => Err(Error::Config(format!(
                        "{name}={other:?}: expected true or false"
                    ))),
                })
                .transpose()
        };
        let strict = match flags.strict {
            Some(s) => s,
            None => bool_env("PGKEEL_STRICT")?
                .or(fc.migrations.strict)
                .unwrap_or(false),
        };
        let allow_out_of_order = match flags.allow_out_of_order {
            Some(s) => s,
            None => bool_env("PGKEEL_ALLOW_OUT_OF_ORDER")?
                .or(fc.migrations.allow_out_of_order)
                .unwrap_or(false),
        };

        let dev = DevSettings {
            bin_dir: env
                .var("PGKEEL_DEV_BIN_DIR")
                .or(fc.dev.bin_dir.clone())
                .map(|d| root.join(d)),
            port: match env.var("PGKEEL_DEV_PORT") {
                Some(p) => Some(p.parse::<u16>().ok().filter(|p| *p > 0).ok_or_else(|| {
                    Error::Config(format!("PGKEEL_DEV_PORT={p:?}: expected a port number"))
                })?),
                None => fc.dev.port.filter(|p| *p > 0),
            },
            auto: bool_env("PGKEEL_DEV_AUTO")?.or(fc.dev.auto).unwrap_or(true),
        };

        let supabase = crate::supabase::project::resolve(
            fc.supabase.as_ref(),
            env.read_file(&root.join(crate::supabase::project::SUPABASE_CONFIG))
                .as_deref(),
        )
        .map_err(Error::Config)?;

        let types = resolve_types(&fc.types, supabase.as_ref())?;
        let validate = crate::validate::settings::resolve(file, &root, env, supabase.as_ref())?;

        Ok(Config {
            root,
            database_url,
            database_url_source,
            database_url_env: url_env,
            folders,
            strict,
            allow_out_of_order,
            history_schema,
            lock_wait_timeout,
            lock_timeout,
            statement_timeout,
            connect_timeout,
            lock_retries,
            lock_retry_backoff,
            log_file,
            dev,
            dev_database: false,
            supabase,
            types,
            validate,
            lint: crate::lint::LintSettings::resolve(file, lock_timeout, statement_timeout)?,
            rollback_token_ttl: crate::rollback::token::ttl_from_file(file)?,
            backup: crate::backup::settings::resolve(file)?,
            file: file.map(|(t, n)| (t.to_string(), n.to_string())),
        })
    }

    /// Find the project root (the nearest folder at or above `start` holding pgkeel.toml, else
    /// `start`), read pgkeel.toml if present, and resolve. `explicit` is a `--config` path.
    pub fn load(start: &Path, explicit: Option<&Path>, flags: &Overrides) -> Result<Config> {
        let env = SystemEnvironment;
        let explicit = explicit
            .map(Path::to_path_buf)
            .or_else(|| env.var("PGKEEL_CONFIG").map(PathBuf::from));
        let (root, file) = match explicit {
            Some(path) => {
                let text = std::fs::read_to_string(&path)
                    .map_err(|e| Error::Config(format!("cannot read {}: {e}", path.display())))?;
                let root = path
                    .parent()
                    .filter(|p| !p.as_os_str().is_empty())
                    .map_or_else(|| start.to_path_buf(), Path::to_path_buf);
                (root, Some((text, path.display().to_string())))
            }
            None => match start.ancestors().find(|d| d.join(CONFIG_FILE).is_file()) {
                Some(dir) => {
                    let path = dir.join(CONFIG_FILE);
                    let text = std::fs::read_to_string(&path).map_err(|e| Error::io(&path, e))?;
                    (dir.to_path_buf(), Some((text, path.display().to_string())))
                }
                None => (start.to_path_buf(), None),
            },
        };
        let file_ref = file.as_ref().map(|(t, n)| (t.as_str(), n.as_str()));
        Config::resolve(root, file_ref, &env, flags)
    }

    /// The log file's absolute path, if logging to a file is on.
    pub fn log_path(&self) -> Option<PathBuf> {
        self.log_file.as_ref().map(|p| self.root.join(p))
    }

    /// The database URL with any password hidden, for messages.
    pub fn database_display(&self) -> String {
        self.database_url
            .as_deref()
            .map(redact_url)
            .unwrap_or_else(|| "(no database configured)".into())
    }
}

/// `[types]` with its defaults (see [`TypesSettings`]).
fn resolve_types(
    t: &TypesSection,
    supabase: Option<&crate::supabase::SupabaseSettings>,
) -> Result<TypesSettings> {
    let out = t.out.clone().filter(|o| !o.trim().is_empty());
    if let Some(o) = &out {
        if Path::new(o).is_absolute() || o.split('/').any(|p| p == "..") {
            return Err(Error::Config(format!(
                "{CONFIG_FILE} [types] out {o:?} must be a path inside the project (relative, without ..)"
            )));
        }
    }
    let (schemas, schemas_explicit) = match &t.schemas {
        Some(s) if s.is_empty() => {
            return Err(Error::Config(format!(
                "{CONFIG_FILE} [types] schemas is empty: name at least one schema"
            )))
        }
        Some(s) => (s.clone(), true),
        None => match supabase {
            Some(sb) if !sb.api_schemas.is_empty() => (sb.api_schemas.clone(), false),
            _ => (vec!["public".to_string()], false),
        },
    };
    Ok(TypesSettings {
        on_up: out.is_some() && t.on_up.unwrap_or(true),
        out,
        schemas,
        schemas_explicit,
    })
}

fn one_line(s: &str) -> String {
    s.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

/// Schema names are interpolated as quoted identifiers; keep them to plain lower-case names so
/// they need no escaping and mean the same thing quoted or not.
pub fn validate_identifier(name: &str) -> Result<()> {
    let ok = !name.is_empty()
        && name.len() <= 63
        && name
            .bytes()
            .next()
            .is_some_and(|b| b.is_ascii_lowercase() || b == b'_')
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
    if ok {
        Ok(())
    } else {
        Err(Error::Config(format!(
            "history schema {name:?} must be a lower-case identifier (a-z, 0-9, _; at most 63 bytes)"
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    struct FakeEnv {
        vars: HashMap<&'static str, &'static str>,
        dirs: Vec<&'static str>,
    }
    impl Environment for FakeEnv {
        fn var(&self, name: &str) -> Option<String> {
            self.vars.get(name).map(|s| s.to_string())
        }
        fn is_dir(&self, path: &Path) -> bool {
            self.dirs.iter().any(|d| Path::new("/p").join(d) == path)
        }
    }
    fn env(vars: &[(&'static str, &'static str)], dirs: &[&'static str]) -> FakeEnv {
        FakeEnv {
            vars: vars.iter().copied().collect(),
            dirs: dirs.to_vec(),
        }
    }
    fn resolve(file: Option<&str>, e: &FakeEnv, flags: &Overrides) -> Result<Config> {
        Config::resolve(
            PathBuf::from("/p"),
            file.map(|t| (t, "pgkeel.toml")),
            e,
            flags,
        )
    }

    #[test]
    fn defaults() {
        let c = resolve(None, &env(&[], &[]), &Overrides::default()).unwrap();
        assert_eq!(c.folders, ["migrations"]);
        assert_eq!(c.history_schema, "pgkeel");
        assert_eq!(c.lock_wait_timeout, Duration::from_secs(60));
        assert_eq!(c.lock_timeout, Duration::from_secs(5));
        assert_eq!(c.statement_timeout, Duration::ZERO);
        assert_eq!(c.lock_retries, 0);
        assert_eq!(c.lock_retry_backoff, Duration::from_secs(1));
        assert_eq!(c.log_path(), Some(PathBuf::from("/p/logs/migration.log")));
        assert!(c.database_url.is_none());
        let c = resolve(
            None,
            &env(&[], &["supabase/migrations"]),
            &Overrides::default(),
        )
        .unwrap();
        assert_eq!(c.folders, ["supabase/migrations"]);
    }

    #[test]
    fn file_then_env_then_flags() {
        let file = r#"
            [database]
            url_env = "CRM_DB"
            [migrations]
            folders = ["supabase/migrations", "supabase/migrations/fixed"]
            [history]
            schema = "keel"
            [apply]
            lock_wait_timeout = "2m"
            lock_timeout = "750ms"
            statement_timeout = "30s"
            lock_retries = 3
            lock_retry_backoff = "250ms"
            [log]
            file = "off"
        "#;
        let e = env(
            &[
                ("CRM_DB", "postgres://u:secret@h/db"),
                ("PGKEEL_LOCK_TIMEOUT", "1s"),
            ],
            &[],
        );
        let c = resolve(Some(file), &e, &Overrides::default()).unwrap();
        assert_eq!(c.folders.len(), 2);
        assert_eq!(c.history_schema, "keel");
        assert_eq!(c.lock_wait_timeout, Duration::from_secs(120));
        assert_eq!(c.lock_timeout, Duration::from_secs(1));
        assert_eq!(c.statement_timeout, Duration::from_secs(30));
        assert_eq!(c.lock_retries, 3);
        assert_eq!(c.lock_retry_backoff, Duration::from_millis(250));
        assert_eq!(c.log_file, None);
        assert_eq!(c.database_url_source.as_deref(), Some("env CRM_DB"));
        assert_eq!(c.database_display(), "postgres://u:***@h/db");
        let flags = Overrides {
            database_url: Some("postgres://x@y/z".into()),
            folders: vec!["db".into()],
            history_schema: Some("other".into()),
            ..Overrides::default()
        };
        let c = resolve(Some(file), &e, &flags).unwrap();
        assert_eq!(c.folders, ["db"]);
        assert_eq!(c.history_schema, "other");
        assert_eq!(c.database_url.as_deref(), Some("postgres://x@y/z"));
    }

    #[test]
    fn mistakes_are_errors_with_a_location() {
        let e = resolve(
            Some("[migrations]\nfolderz = [\"x\"]\n"),
            &env(&[], &[]),
            &Overrides::default(),
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("folderz") && e.contains("line 2"), "{e}");
        let e = resolve(
            Some("[apply]\nlock_timeout = \"5 parsecs\"\n"),
            &env(&[], &[]),
            &Overrides::default(),
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("invalid duration"), "{e}");
        let e = resolve(
            Some("[history]\nschema = \"Bad-Name\"\n"),
            &env(&[], &[]),
            &Overrides::default(),
        )
        .unwrap_err();
        assert!(e.to_string().contains("lower-case identifier"));
        let e = resolve(
            None,
            &env(&[("PGKEEL_STRICT", "maybe")], &[]),
            &Overrides::default(),
        )
        .unwrap_err();
        assert!(e.to_string().contains("PGKEEL_STRICT"));
        let flags = Overrides {
            folders: vec!["../elsewhere".into()],
            ..Overrides::default()
        };
        assert!(resolve(None, &env(&[], &[]), &flags).is_err());
    }

    #[test]
    fn timeouts_postgres_would_refuse_are_refused_naming_key_and_range() {
        let file = |t: &str| resolve(Some(t), &env(&[], &[]), &Overrides::default());
        let e = file("[apply]\nlock_timeout = \"30days\"\n")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("[apply] lock_timeout = \"30days\"")
                && e.contains("out of range")
                && e.contains("2147483647ms")
                && e.contains("24days 20h 31m 23s 647ms"),
            "{e}"
        );
        let e = file("[apply]\nstatement_timeout = \"9999999h\"\n")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("[apply] statement_timeout") && e.contains("out of range"),
            "{e}"
        );
        let e = file("[apply]\nlock_timeout = \"500us\"\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("below 1ms") && e.contains("round to 0"), "{e}");
        let e = file("[database]\nconnect_timeout = \"25days\"\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("[database] connect_timeout"), "{e}");
        let e = resolve(
            None,
            &env(&[("PGKEEL_STATEMENT_TIMEOUT", "10000h")], &[]),
            &Overrides::default(),
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("PGKEEL_STATEMENT_TIMEOUT=\"10000h\""), "{e}");
        // The edges PostgreSQL accepts.
        let c = file(
            "[apply]\nlock_timeout = \"0\"\nstatement_timeout = \"2147483647ms\"\n\
             [database]\nconnect_timeout = \"1ms\"\n",
        )
        .unwrap();
        assert_eq!(c.lock_timeout, Duration::ZERO);
        assert_eq!(c.statement_timeout, PG_MAX_TIMEOUT);
        assert_eq!(c.connect_timeout, Duration::from_millis(1));
        let c = resolve(None, &env(&[], &[]), &Overrides::default()).unwrap();
        assert_eq!(c.connect_timeout, DEFAULT_CONNECT_TIMEOUT);
        // The lock wait is pgkeel's own (never sent to PostgreSQL): no such limit.
        let c = file("[apply]\nlock_wait_timeout = \"30days\"\n").unwrap();
        assert_eq!(c.lock_wait_timeout, Duration::from_secs(30 * 86400));
    }

    #[test]
    fn dev_settings() {
        let c = resolve(None, &env(&[], &[]), &Overrides::default()).unwrap();
        assert_eq!(
            c.dev,
            DevSettings {
                bin_dir: None,
                port: None,
                auto: true
            }
        );
        assert!(!c.dev_database);
        let file = "[dev]\nbin_dir = \"pg/bin\"\nport = 54400\nauto = false\n";
        let c = resolve(Some(file), &env(&[], &[]), &Overrides::default()).unwrap();
        assert_eq!(c.dev.bin_dir, Some(PathBuf::from("/p/pg/bin")));
        assert_eq!((c.dev.port, c.dev.auto), (Some(54400), false));
        let e = env(
            &[("PGKEEL_DEV_PORT", "54500"), ("PGKEEL_DEV_AUTO", "yes")],
            &[],
        );
        let c = resolve(Some(file), &e, &Overrides::default()).unwrap();
        assert_eq!((c.dev.port, c.dev.auto), (Some(54500), true));
        let e = env(&[("PGKEEL_DEV_PORT", "high")], &[]);
        assert!(resolve(None, &e, &Overrides::default()).is_err());
        assert!(resolve(
            Some("[dev]\nports = 1\n"),
            &env(&[], &[]),
            &Overrides::default()
        )
        .is_err());
    }

    #[test]
    fn types_section() {
        let c = resolve(None, &env(&[], &[]), &Overrides::default()).unwrap();
        assert_eq!(c.types.out, None);
        assert_eq!(c.types.schemas, ["public"]);
        assert!(!c.types.on_up && !c.types.schemas_explicit);
        let c = resolve(
            Some("[types]\nout = \"src/db.ts\"\n"),
            &env(&[], &[]),
            &Overrides::default(),
        )
        .unwrap();
        assert_eq!(c.types.out.as_deref(), Some("src/db.ts"));
        assert!(c.types.on_up);
        let c = resolve(
            Some("[types]\nout = \"db.ts\"\nschemas = [\"app\", \"public\"]\non_up = false\n"),
            &env(&[], &[]),
            &Overrides::default(),
        )
        .unwrap();
        assert_eq!(c.types.schemas, ["app", "public"]);
        assert!(c.types.schemas_explicit && !c.types.on_up);
        let c = resolve(Some("[supabase]\n"), &env(&[], &[]), &Overrides::default()).unwrap();
        assert_eq!(c.types.schemas, ["public", "graphql_public"]);
        for bad in [
            "[types]\nout = \"../x.ts\"\n",
            "[types]\nschemas = []\n",
            "[types]\noutput = \"x.ts\"\n",
        ] {
            assert!(
                resolve(Some(bad), &env(&[], &[]), &Overrides::default()).is_err(),
                "{bad}"
            );
        }
    }
}
