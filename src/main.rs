//! The `pgkeel` command line: parse arguments, call the engine, print the result. No SQL and no
//! migration logic live here (see crates/pgkeel-engine).

mod backups;
mod cli;
mod dev;
mod exit;
mod lint;
mod logging;
mod output;
mod progress;
mod render;
mod rollback;
mod stdout;
mod supabase;
mod types;
mod validate;

use std::process::ExitCode;
use std::sync::Arc;

use clap::Parser;
use pgkeel_engine::db::introspect::SchemaFilter;
use pgkeel_engine::migrator::{NewScheme, RepairAction, UpOptions};
use pgkeel_engine::{Config, Migrator, Overrides};

use cli::{Cli, Command};
use exit::Exit;
use output::Out;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let out = Out::new(cli.global.json, command_name(&cli.command));
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            return out.fail(
                &anyhow::anyhow!("cannot start the async runtime: {e}"),
                Exit::Error,
            )
        }
    };
    runtime.block_on(run(cli, &out))
}

fn command_name(c: &Command) -> &'static str {
    match c {
        Command::Status { .. } => "status",
        Command::Up { dry_run: true, .. } => "up --dry-run",
        Command::Up { .. } => "up",
        Command::Repair { .. } => "repair",
        Command::Baseline { .. } => "baseline",
        Command::New { .. } => "new",
        Command::Audit { .. } => "audit",
        Command::Backups { action } => backups::command_name(action),
        Command::Rollback { .. } => "rollback",
        Command::Lint { .. } => "lint",
        Command::Sql { .. } => "sql",
        Command::Serve { .. } => "serve",
        Command::Describe { .. } => "describe",
        Command::Validate { .. } => "validate",
        Command::Types {
            action: cli::TypesAction::Generate { .. },
        } => "types generate",
        Command::Types {
            action: cli::TypesAction::Verify,
        } => "types verify",
        Command::Dev { action } => dev::command_name(*action),
        Command::Supabase { .. } => "supabase bootstrap",
        Command::Adopt { .. } => "adopt supabase",
    }
}

async fn run(cli: Cli, out: &Out) -> ExitCode {
    let g = &cli.global;
    let mut overrides = Overrides {
        database_url: g.database_url.clone(),
        folders: g.migrations.clone(),
        strict: g.strict.then_some(true),
        history_schema: g.history_schema.clone(),
        lock_wait_timeout: g.lock_wait_timeout,
        log_file: g.log_file.clone(),
        ..Overrides::default()
    };
    if let Command::Up {
        allow_out_of_order: true,
        ..
    } = cli.command
    {
        overrides.allow_out_of_order = Some(true);
    }
    let cwd = match std::env::current_dir() {
        Ok(d) => d,
        Err(e) => {
            return out.fail(
                &anyhow::anyhow!("cannot read the current folder: {e}"),
                Exit::Error,
            )
        }
    };
    let mut config = match Config::load(&cwd, g.config.as_deref(), &overrides) {
        Ok(c) => c,
        Err(e) => return out.engine_error(&e),
    };
    logging::init(g.verbose, config.log_path().as_deref());
    tracing::info!(command = out.command(), database = %config.database_display(), "start");

    if let Command::Dev { action } = cli.command {
        return dev::run(action, config, out, g.json).await;
    }
    // No database: lint reads files only, so it runs before the dev database is resolved.
    if let Command::Lint { files, explain } = &cli.command {
        if let Some(rule) = explain {
            return lint::explain(rule, out, g.json);
        }
        return lint::run(&config, &cwd, files, out, g.json);
    }
    // No database URL: use the project's dev database (started if needed), said on stderr.
    // `serve` keeps running without one, so its tools can report the problem.
    if !matches!(cli.command, Command::New { .. }) {
        let mut announce = |line: &str| eprintln!("{line}");
        if let Err(e) = pgkeel_engine::dev::resolve(&mut config, &mut announce).await {
            if !matches!(cli.command, Command::Serve { .. }) {
                return out.engine_error(&e);
            }
            eprintln!("pgkeel serve: no database URL, and the dev database did not start: {e}");
        }
    }

    if let Command::Serve {
        http,
        read_only,
        auth_token,
        allowed_hosts,
        allowed_origins,
        max_body_bytes,
        pool_size,
    } = cli.command
    {
        // Without a database URL the server still starts, so the client can show the tools'
        // error ("no database URL: set …") instead of a closed connection.
        let migrator = if config.database_url.is_some() {
            match Migrator::new(config).with_pool(pool_size) {
                Ok(m) => m,
                Err(e) => return out.engine_error(&e),
            }
        } else {
            eprintln!("pgkeel serve: no database URL configured; database tools will report it");
            Migrator::new(config)
        };
        let shared = pgkeel_mcp::Shared::new(migrator, pgkeel_mcp::ServerOptions { read_only });
        let result = match http {
            None => pgkeel_mcp::serve_stdio(shared).await,
            Some(addr) => {
                let opts = pgkeel_mcp::http::HttpOptions {
                    addr,
                    auth_token,
                    allowed_hosts,
                    allowed_origins,
                    max_body_bytes,
                };
                pgkeel_mcp::http::serve(
                    shared,
                    opts,
                    tokio_util::sync::CancellationToken::new(),
                    |bound| {
                        eprintln!(
                            "pgkeel MCP server listening on http://{bound}/mcp{}",
                            if read_only { " (read-only)" } else { "" }
                        );
                    },
                )
                .await
            }
        };
        return match result {
            Ok(()) => Exit::Ok.into(),
            Err(e) => out.fail(&anyhow::anyhow!(e), Exit::Error),
        };
    }

    let show_progress = !g.json;
    let reporter = Arc::new(progress::Reporter::new(show_progress));
    let migrator = Migrator::new(config).with_events(reporter.clone());

    match cli.command {
        Command::Status { check, all } => match migrator.status().await {
            Ok(report) => out.status(&report, check, all),
            Err(e) => out.engine_error(&e),
        },
        Command::Up {
            to,
            dry_run,
            accept_lint,
            validate,
            max_backup_bytes,
            allow_empty,
            ..
        } => {
            let result = migrator
                .up(&UpOptions {
                    to,
                    dry_run,
                    accept_lint: accept_lint
                        .iter()
                        .map(|r| pgkeel_engine::lint::accept::Acceptance::flag(r))
                        .collect(),
                    validate,
                    max_backup_bytes,
                    allow_empty,
                })
                .await;
            reporter.finish();
            match result {
                Ok(report) => out.up(&report),
                Err(e) => out.engine_error(&e),
            }
        }
        Command::Repair {
            accept_checksum,
            forget,
            resolve_failed,
            segment_done,
        } => {
            let action = match (accept_checksum, forget, resolve_failed, segment_done) {
                (Some(v), ..) => RepairAction::AcceptChecksum(v),
                (_, Some(v), ..) => RepairAction::Forget(v),
                (_, _, Some(v), _) => RepairAction::ResolveFailed(v),
                (.., Some(v)) => RepairAction::SegmentDone(v),
                // clap's required ArgGroup guarantees one of the four.
                _ => {
                    return out.fail(
                        &anyhow::anyhow!(
                            "repair needs --accept-checksum, --forget, --resolve-failed or --segment-done"
                        ),
                        Exit::Usage,
                    )
                }
            };
            match migrator.repair(&action).await {
                Ok(r) => out.message(&r, &r.message),
                Err(e) => out.engine_error(&e),
            }
        }
        Command::Baseline { version } => match migrator.baseline(&version).await {
            Ok(r) => {
                let text = format!(
                    "baselined {} migration(s) up to {} ({} already recorded)",
                    r.baselined.len(),
                    r.version,
                    r.already_recorded
                );
                out.message(&r, &text)
            }
            Err(e) => out.engine_error(&e),
        },
        Command::New {
            name,
            sequential,
            timestamp,
        } => {
            let scheme = match (sequential, timestamp) {
                (true, _) => NewScheme::Sequential,
                (_, true) => NewScheme::Timestamp,
                _ => NewScheme::Auto,
            };
            match migrator.new_migration(&name, scheme) {
                Ok(r) => out.message(&r, &format!("created {}", r.path)),
                Err(e) => out.engine_error(&e),
            }
        }
        Command::Sql {
            sql,
            write,
            max_rows,
            timeout,
        } => {
            let opts = pgkeel_engine::db::query::QueryOptions {
                read_only: !write,
                max_rows,
                statement_timeout: timeout,
            };
            match migrator.query(&sql, &opts).await {
                Ok(result) => out.query(&result),
                Err(e) => out.engine_error(&e),
            }
        }
        Command::Validate { checks } => validate::run(&migrator, checks, out, g.json).await,
        Command::Describe { schemas, table } => {
            let filter = SchemaFilter {
                schemas: (!schemas.is_empty()).then_some(schemas),
                exclude: vec![migrator.config().history_schema.clone()],
                table,
            };
            match migrator.describe(&filter).await {
                Ok(model) => out.describe(&model, filter.table.is_some()),
                Err(e) => out.engine_error(&e),
            }
        }
        Command::Types { action } => types::run(&migrator, action, out).await,
        Command::Supabase {
            action: cli::SupabaseAction::Bootstrap { force },
        } => supabase::bootstrap(&migrator, force, out).await,
        Command::Adopt {
            from: cli::AdoptFrom::Supabase,
        } => supabase::adopt(&migrator, out).await,
        Command::Serve { .. } | Command::Dev { .. } | Command::Lint { .. } => Exit::Ok.into(), // handled above
        Command::Rollback {
            to,
            last,
            plan,
            confirm,
            force_expired,
        } => {
            let args = rollback::Args {
                to,
                last,
                plan,
                confirm,
                force_expired,
            };
            rollback::run(&migrator, args, out, g.json).await
        }
        Command::Backups { action } => backups::run(&migrator, action, out).await,
        Command::Audit { limit } => match migrator.audit_log(i64::from(limit)).await {
            Ok(entries) => out.audit(&entries),
            Err(e) => out.engine_error(&e),
        },
    }
}
