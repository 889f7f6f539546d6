//! A minimal Rust MCP client for pgkeel, written with rmcp's client: it starts `pgkeel serve`
//! as a child process over stdio, lists the tools, calls `migration_status` and prints its text
//! summary and counts.
//!
//! ```sh
//! cargo build                                   # builds target/debug/pgkeel
//! export DATABASE_URL=postgres://postgres@127.0.0.1:5432/pgkeel_demo
//! cargo run --example rust_client -- --config pgkeel.toml
//! ```
//!
//! The binary is `$PGKEEL_BIN`, or `target/debug/pgkeel` (relative to the current folder).
//! Arguments are passed to `pgkeel serve` (e.g. `--config`, `--migrations`, `--read-only`); the
//! child inherits this process's environment, including `DATABASE_URL`. Exit status 1 when the
//! server cannot start or `migration_status` returns an error.

use std::process::ExitCode;

use rmcp::model::CallToolRequestParams;
use rmcp::transport::{ConfigureCommandExt, TokioChildProcess};
use rmcp::ServiceExt;

#[tokio::main]
async fn main() -> ExitCode {
    match run().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("rust_client: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run() -> Result<(), Box<dyn std::error::Error>> {
    let bin = std::env::var("PGKEEL_BIN").unwrap_or_else(|_| "target/debug/pgkeel".to_string());
    let serve_args: Vec<String> = std::env::args().skip(1).collect();
    let command = tokio::process::Command::new(&bin).configure(|c| {
        c.arg("serve").args(&serve_args);
    });
    let transport =
        TokioChildProcess::new(command).map_err(|e| format!("cannot start {bin}: {e}"))?;

    // `()` is a client handler with no capabilities: enough for calling tools.
    let client = ().serve(transport).await?;
    if let Some(info) = client.peer_info() {
        let name = info
            .server_info
            .as_ref()
            .map(|s| format!("{} {}", s.name, s.version))
            .unwrap_or_else(|| "unknown server".into());
        println!("server: {name}, protocol {}", info.protocol_version);
    }

    let tools = client.list_all_tools().await?;
    let names: Vec<&str> = tools.iter().map(|t| t.name.as_ref()).collect();
    println!("tools: {}", names.join(", "));

    let args = serde_json::json!({ "include_applied": false });
    let result = client
        .call_tool(
            CallToolRequestParams::new("migration_status")
                .with_arguments(args.as_object().cloned().unwrap_or_default()),
        )
        .await?;
    let summary: Vec<&str> = result
        .content
        .iter()
        .filter_map(|c| c.as_text().map(|t| t.text.as_str()))
        .collect();
    println!("migration_status: {}", summary.join(" "));
    if let Some(counts) = result
        .structured_content
        .as_ref()
        .and_then(|v| v.get("counts"))
    {
        println!("counts: {counts}");
    }
    let failed = result.is_error.unwrap_or(false);

    client.cancel().await?;
    if failed {
        return Err("migration_status returned an error".into());
    }
    Ok(())
}
