//! The pgkeel MCP server: the migration workflow as tools, for AI coding assistants and scripted
//! MCP clients, over stdio (what Claude Desktop launches) and streamable HTTP.
//!
//! Every tool is a thin call into `pgkeel-engine`; this crate holds no migration logic. One file
//! per tool under [`tools`]; [`server`] holds the shared state, the tool list (minus the writing
//! tools in read-only mode), resources and instructions; [`http`] the HTTP transport with its
//! guards (bearer token, Host and Origin checks, body limit); [`render`] turns engine errors into
//! tool errors that say what failed, where, and what to call next.

pub mod boundary;
pub mod http;
pub mod progress;
pub mod render;
pub mod server;
pub mod tools;

pub use server::{PgkeelServer, ServerOptions, Shared};

/// Serve MCP over stdin/stdout until the client disconnects. Nothing else may write to stdout.
pub async fn serve_stdio(shared: std::sync::Arc<Shared>) -> Result<(), String> {
    use rmcp::ServiceExt;
    // stdio_pipes(): when the client launched us with pipes (as MCP clients do), reads and
    // writes run on the IO reactor rather than a blocking thread each (measured: ~55 µs less
    // per call); anything else falls back to plain blocking stdio.
    let service = PgkeelServer::new(shared)
        .serve(rmcp::transport::stdio_pipes())
        .await
        .map_err(|e| format!("MCP initialization failed: {e}"))?;
    service
        .waiting()
        .await
        .map_err(|e| format!("MCP server stopped: {e}"))?;
    Ok(())
}
