//! Command-line arguments (clap). Parsing only: no migration logic here.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// PostgreSQL schema migrations with checksummed history, one applier at a time, and resumable
/// non-transactional statements.
#[derive(Debug, Parser)]
#[command(name = "pgkeel", version, about, max_term_width = 100)]
pub struct Cli {
    #[command(flatten)]
    pub global: Global,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Args)]
pub struct Global {
    /// Database URL (default: $PGKEEL_DATABASE_URL, then $DATABASE_URL or the variable named in
    /// pgkeel.toml, else the project's dev database: see `pgkeel dev`)
    #[arg(long, global = true, value_name = "URL")]
    pub database_url: Option<String>,
    /// Path to pgkeel.toml (default: the nearest one at or above the current folder)
    #[arg(long, global = true, value_name = "PATH")]
    pub config: Option<PathBuf>,
    /// A migration folder, relative to the project root (repeat for several)
    #[arg(long = "migrations", global = true, value_name = "DIR")]
    pub migrations: Vec<String>,
    /// Treat .sql files matching no naming scheme as errors
    #[arg(long, global = true)]
    pub strict: bool,
    /// Schema holding pgkeel's history tables (default: pgkeel)
    #[arg(long, global = true, value_name = "SCHEMA")]
    pub history_schema: Option<String>,
    /// How long to wait for another applier's lock, e.g. 60s, 2m
    #[arg(long, global = true, value_name = "DURATION", value_parser = parse_duration)]
    pub lock_wait_timeout: Option<std::time::Duration>,
    /// Log file (default: logs/migration.log under the project root; "off" disables)
    #[arg(long, global = true, value_name = "PATH")]
    pub log_file: Option<String>,
    /// Print a stable JSON document on stdout instead of text
    #[arg(long, global = true)]
    pub json: bool,
    /// More log output on stderr (-v info, -vv debug)
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
}

fn parse_duration(s: &str) -> Result<std::time::Duration, String> {
    pgkeel_engine::config::parse_duration(s)
}

/// A duration sent to PostgreSQL as a timeout setting: refused here when PostgreSQL would
/// refuse it (the range is in the message).
fn parse_pg_duration(s: &str) -> Result<std::time::Duration, String> {
    let d = parse_duration(s)?;
    pgkeel_engine::config::check_pg_timeout(d)?;
    Ok(d)
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Show migrations against history: applied, pending, modified, missing, out of order, failed
    Status {
        /// Exit with code 3 when anything is pending or needs fixing
        #[arg(long)]
        check: bool,
        /// List every migration, not only those needing attention and the latest applied
        #[arg(long)]
        all: bool,
    },
    /// Apply pending migrations, one applier at a time
    Up {
        /// Apply up to and including this version
        #[arg(long, value_name = "VERSION")]
        to: Option<String>,
        /// Run pending migrations in a transaction that is rolled back; change nothing
        #[arg(long)]
        dry_run: bool,
        /// Apply pending migrations older than the newest applied one
        #[arg(long)]
        allow_out_of_order: bool,
        /// Run even though lint reports this error-severity rule, for this run only (repeat for
        /// several), e.g. --accept-lint ban-drop-column; the output names the
        /// `-- pgkeel:accept RULE reason` line that makes it part of the file
        #[arg(long = "accept-lint", value_name = "RULE")]
        accept_lint: Vec<String>,
        /// After applying, fail (exit 3) when validation finds an error (expectations, checks);
        /// the migrations stay applied
        #[arg(long)]
        validate: bool,
        /// Allow automatic backups up to this size for this run (bytes, or e.g. 5GiB), instead
        /// of [backup] max_backup_bytes
        #[arg(long, value_name = "BYTES", value_parser = parse_size)]
        max_backup_bytes: Option<u64>,
        /// Record migrations that have no SQL statement (empty, only comments, only `;`) as
        /// applied, with a warning, instead of refusing them; the untouched `pgkeel new`
        /// template is refused even so
        #[arg(long)]
        allow_empty: bool,
    },
    /// Fix history after an intentional edit, a deleted file or a failed migration
    #[command(group(clap::ArgGroup::new("action").required(true).args(["accept_checksum", "forget", "resolve_failed", "segment_done"])))]
    Repair {
        /// Record the current checksum of an intentionally edited migration
        #[arg(long, value_name = "VERSION")]
        accept_checksum: Option<String>,
        /// Drop the history row of a migration whose file was deleted on purpose
        #[arg(long, value_name = "VERSION")]
        forget: Option<String>,
        /// Mark a failed migration as fixed: the next `up` runs it again from its resume point
        #[arg(long, value_name = "VERSION")]
        resolve_failed: Option<String>,
        /// Record segment N of a failed or interrupted migration as done without running it
        /// (its effect is in place, e.g. an index a lost run built): the next `up` resumes after it
        #[arg(long, value_name = "VERSION:N")]
        segment_done: Option<String>,
    },
    /// Mark every migration up to VERSION as applied without running it (adopt a database)
    Baseline {
        /// The newest version already present in the database
        version: String,
    },
    /// Create the next migration file in the project's naming scheme
    New {
        /// What the migration does, e.g. add_orders
        name: String,
        /// Use the sequential scheme (NNN_name.sql)
        #[arg(long, conflicts_with = "timestamp")]
        sequential: bool,
        /// Use the timestamp scheme (YYYYMMDDHHMMSS_name.sql)
        #[arg(long)]
        timestamp: bool,
    },
    /// Run one SQL statement: read-only by default (a READ ONLY transaction, rolled back); schema
    /// changes are refused (write a migration instead)
    Sql {
        /// The statement
        sql: String,
        /// Allow writes (INSERT/UPDATE/DELETE) and commit them
        #[arg(long)]
        write: bool,
        /// Return at most this many rows
        #[arg(long, default_value_t = 100)]
        max_rows: usize,
        /// Cancel the statement after this long, e.g. 30s
        #[arg(long, default_value = "30s", value_parser = parse_pg_duration)]
        timeout: std::time::Duration,
    },
    /// Check the live schema: declared expectations ([expect]) and health checks; exit 3 when
    /// a finding has severity error
    Validate {
        /// Only this check (repeat for several): a check id, or `expectations`
        #[arg(long = "check", value_name = "ID")]
        checks: Vec<String>,
    },
    /// Describe the live schema: tables (columns, keys), views, enums, types, functions
    Describe {
        /// Only this schema (repeat for several; default: every schema except PostgreSQL's own,
        /// extensions' and the history schema)
        #[arg(long = "schema", value_name = "SCHEMA")]
        schemas: Vec<String>,
        /// Only this table or view, with its constraints, indexes and policies: name or
        /// schema.name
        table: Option<String>,
    },
    /// TypeScript types from the live schema (the shape `supabase gen types typescript` writes)
    Types {
        #[command(subcommand)]
        action: TypesAction,
    },
    /// Serve the migration workflow as MCP tools: over stdio (what Claude Desktop launches), or
    /// streamable HTTP at http://ADDR/mcp with --http
    Serve {
        /// Serve streamable HTTP on this address instead of stdio, e.g. 127.0.0.1:8808
        #[arg(long, value_name = "ADDR")]
        http: Option<std::net::SocketAddr>,
        /// No writing tools; execute_sql only in READ ONLY transactions
        #[arg(long)]
        read_only: bool,
        /// Bearer token HTTP clients must send (required when binding other than loopback)
        #[arg(
            long,
            env = "PGKEEL_AUTH_TOKEN",
            hide_env_values = true,
            value_name = "TOKEN"
        )]
        auth_token: Option<String>,
        /// Another Host header value to accept over HTTP (repeatable)
        #[arg(long = "allowed-host", value_name = "HOST")]
        allowed_hosts: Vec<String>,
        /// Another Origin to accept over HTTP (repeatable; loopback origins are always accepted)
        #[arg(long = "allowed-origin", value_name = "ORIGIN")]
        allowed_origins: Vec<String>,
        /// Largest HTTP request body accepted, in bytes
        #[arg(long, default_value_t = 4 * 1024 * 1024, value_name = "BYTES")]
        max_body_bytes: usize,
        /// Database connections kept for read tools
        #[arg(long, default_value_t = 8, value_name = "N")]
        pool_size: usize,
    },
    /// Lint migrations with squawk's rules (no database needed): every discovered migration, or
    /// the given .sql files. Exit 3 when an error-severity finding remains (not accepted)
    Lint {
        /// .sql files to lint (default: every migration of the project)
        files: Vec<String>,
        /// Say why RULE exists and how to write the safe form, instead of linting
        #[arg(long, value_name = "RULE", conflicts_with = "files")]
        explain: Option<String>,
    },
    /// Undo applied migrations (down SQL + automatic backups, in one transaction): --plan shows
    /// the plan and a confirmation token, --confirm TOKEN executes it
    #[command(group(clap::ArgGroup::new("target").required(true).args(["to", "last"])))]
    Rollback {
        /// Roll back every applied migration after VERSION (VERSION stays applied)
        #[arg(long, value_name = "VERSION")]
        to: Option<String>,
        /// Roll back the last N applied migrations
        #[arg(long, value_name = "N")]
        last: Option<usize>,
        /// Show the plan and a confirmation token; change nothing
        #[arg(long, conflicts_with = "confirm")]
        plan: bool,
        /// Execute the plan this token (from --plan) confirms
        #[arg(long, value_name = "TOKEN")]
        confirm: Option<String>,
        /// Restore backups whose window has ended (still needs the token)
        #[arg(long)]
        force_expired: bool,
    },
    /// The automatic backups taken before destructive migrations: list them, prune them
    Backups {
        #[command(subcommand)]
        action: BackupsAction,
    },
    /// Show the audit log of applies, failures, repairs and baselines (newest first)
    Audit {
        /// How many entries
        #[arg(long, default_value_t = 50)]
        limit: u32,
    },
    /// Supabase projects on plain PostgreSQL: bootstrap roles, schemas and extension stand-ins
    Supabase {
        #[command(subcommand)]
        action: SupabaseAction,
    },
    /// Import another tool's migration history into pgkeel's (under the lock, audit-logged)
    Adopt {
        #[command(subcommand)]
        from: AdoptFrom,
    },
    /// A project-local PostgreSQL cluster under .pgkeel/dev (127.0.0.1 only), used whenever no
    /// database URL is configured
    Dev {
        #[command(subcommand)]
        action: DevAction,
    },
}

#[derive(Debug, Clone, Copy, Subcommand)]
pub enum BackupsAction {
    /// Kept backups (newest first): id, version, table, rows, size, age, expiry
    List {
        /// Also pruned and restored backups
        #[arg(long)]
        all: bool,
    },
    /// Drop backup tables: the expired ones (default), every kept one (--all) or one (--id);
    /// under the migration lock, audit-logged
    Prune {
        /// Every kept backup, expired or not
        #[arg(long, conflicts_with = "id")]
        all: bool,
        /// Only this backup
        #[arg(long, value_name = "N")]
        id: Option<i64>,
        /// Show what would be pruned; change nothing
        #[arg(long)]
        dry_run: bool,
    },
}

fn parse_size(s: &str) -> Result<u64, String> {
    pgkeel_engine::backup::settings::parse_size(s)
}

#[derive(Debug, Clone, Subcommand)]
pub enum TypesAction {
    /// Generate the types of the live schema and write them to [types] out (only when the content
    /// changes), to --out, or to stdout
    Generate {
        /// Only this schema (repeat for several; default: [types] schemas, else the Supabase API
        /// schemas, else public)
        #[arg(long = "schema", value_name = "SCHEMA")]
        schemas: Vec<String>,
        /// Write to this file instead of [types] out (relative to the current folder)
        #[arg(long, value_name = "PATH", conflicts_with = "stdout")]
        out: Option<std::path::PathBuf>,
        /// Print the types instead of writing a file (the default when no file is configured)
        #[arg(long)]
        stdout: bool,
    },
    /// For CI: apply every migration to a throwaway database on the configured server and check
    /// that [types] out matches what they produce (exit 3 with a diff when not; never writes)
    Verify,
}

#[derive(Debug, Clone, Copy, Subcommand)]
pub enum DevAction {
    /// Start the dev cluster (initdb first in a fresh project); prints its URL
    Start,
    /// Stop the dev cluster (pg_ctl stop -m fast)
    Stop,
    /// Running or stopped, pid, port, URL, data folder, server version
    Status,
    /// Print only the dev database's URL, starting the cluster if needed:
    /// export DATABASE_URL=$(pgkeel dev url)
    Url,
    /// Drop and recreate the dev database, then apply every migration
    Reset {
        /// Remove the whole cluster and initdb a new one first
        #[arg(long)]
        hard: bool,
        /// Record migrations that have no SQL statement (with a warning) instead of refusing
        /// them, as `up --allow-empty`
        #[arg(long)]
        allow_empty: bool,
    },
}

#[derive(Debug, Clone, Copy, Subcommand)]
pub enum SupabaseAction {
    /// Make this plain PostgreSQL database accept Supabase migrations: roles, auth/storage
    /// schemas, auth.uid() and friends, the supabase_realtime publication, default privileges
    /// and stand-ins for pg_net, pg_cron, http, pgjwt, vault, pgsodium and pg_graphql
    /// (idempotent; needs a superuser)
    Bootstrap {
        /// Run even though the database looks like a real Supabase database
        #[arg(long)]
        force: bool,
    },
}

#[derive(Debug, Clone, Copy, Subcommand)]
pub enum AdoptFrom {
    /// Import supabase_migrations.schema_migrations (written by the Supabase CLI): versions
    /// whose file matches the recorded statements become applied; mismatches are reported
    /// (exit code 3) and left out
    Supabase,
}
