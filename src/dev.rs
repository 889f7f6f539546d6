//! `pgkeel dev …`: the project-local dev cluster (crates/pgkeel-engine/src/dev). Printing only.

use std::process::ExitCode;
use std::sync::Arc;

use pgkeel_engine::dev::Dev;
use pgkeel_engine::Config;

use crate::cli::DevAction;
use crate::output::Out;
use crate::progress;

pub fn command_name(action: DevAction) -> &'static str {
    match action {
        DevAction::Start => "dev start",
        DevAction::Stop => "dev stop",
        DevAction::Status => "dev status",
        DevAction::Url => "dev url",
        DevAction::Reset { hard: true, .. } => "dev reset --hard",
        DevAction::Reset { hard: false, .. } => "dev reset",
    }
}

pub async fn run(action: DevAction, mut config: Config, out: &Out, json: bool) -> ExitCode {
    let dev = Dev::new(&config);
    match action {
        DevAction::Start => match dev.start().await {
            Ok(r) => {
                let what = match (r.initialized, r.started) {
                    (true, _) => "created and started",
                    (false, true) => "started",
                    (false, false) => "already running",
                };
                let recovered = if r.recovered_stale_pid {
                    " (removed the postmaster.pid of a server that had crashed)"
                } else {
                    ""
                };
                let text = format!(
                    "dev database {what}{recovered}: {}\n  PostgreSQL {} on 127.0.0.1:{}, data {}",
                    r.url, r.server_version, r.port, r.data_dir
                );
                out.message(&r, &text)
            }
            Err(e) => out.engine_error(&e),
        },
        DevAction::Stop => match dev.stop() {
            Ok(r) => {
                let text = if r.was_running {
                    "dev database stopped"
                } else if r.recovered_stale_pid {
                    "dev database was not running (removed the postmaster.pid of a server that had crashed)"
                } else {
                    "dev database was not running"
                };
                out.message(&r, text)
            }
            Err(e) => out.engine_error(&e),
        },
        DevAction::Status => match dev.status() {
            Ok(s) => {
                let dash = || "-".to_string();
                let state = match (s.running, s.initialized) {
                    (true, _) => "running",
                    (false, true) => "stopped",
                    (false, false) => "not created (pgkeel dev start creates it)",
                };
                let text = format!(
                    "dev database {state}\n  pid      {}\n  port     {}\n  url      {}\n  data     {}\n  version  {}\n  user     {}",
                    s.pid.map(|p| p.to_string()).unwrap_or_else(dash),
                    s.port.map(|p| p.to_string()).unwrap_or_else(dash),
                    s.url.clone().unwrap_or_else(dash),
                    s.data_dir,
                    match (&s.server_version, &s.bin_dir) {
                        (Some(v), Some(d)) => format!("PostgreSQL {v} ({d})"),
                        _ => "server binaries not found".to_string(),
                    },
                    s.os_user
                );
                out.message(&s, &text)
            }
            Err(e) => out.engine_error(&e),
        },
        DevAction::Url => match dev.start().await {
            Ok(r) => out.message(&serde_json::json!({ "url": r.url }), &r.url),
            Err(e) => out.engine_error(&e),
        },
        DevAction::Reset { hard, allow_empty } => {
            let reporter = Arc::new(progress::Reporter::new(!json));
            let result = dev
                .reset(&mut config, hard, allow_empty, reporter.clone())
                .await;
            reporter.finish();
            if let Ok(Some(seed)) = result.as_ref().map(|r| r.seeded.as_ref()) {
                eprintln!("seeded from {seed}");
            }
            match result {
                Ok(r) if json && r.up.failure.is_none() => out.message(&r, ""),
                Ok(r) => {
                    eprintln!(
                        "dev database {}: {}",
                        if hard {
                            "recreated (new cluster)"
                        } else {
                            "recreated"
                        },
                        r.url
                    );
                    out.up(&r.up)
                }
                Err(e) => out.engine_error(&e),
            }
        }
    }
}
