//! Streamable HTTP at `/mcp`, with the guards a server that can change a database needs:
//! - binds 127.0.0.1 unless told otherwise, and refuses to bind anywhere else without a bearer
//!   token;
//! - `Authorization: Bearer <token>` compared in constant time; 401 with `WWW-Authenticate`;
//! - Host header allow-list (DNS rebinding; done by rmcp, 403) and Origin allow-list (403): a
//!   browser page on another site cannot drive the server;
//! - request bodies limited (413 with a clear message);
//! - graceful shutdown on SIGINT/SIGTERM: open requests finish, new ones are refused.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
use rmcp::transport::{StreamableHttpServerConfig, StreamableHttpService};
use subtle::ConstantTimeEq;
use tokio_util::sync::CancellationToken;

use crate::{PgkeelServer, Shared};

/// The default request body limit.
pub const DEFAULT_MAX_BODY_BYTES: usize = 4 * 1024 * 1024;

/// How to serve HTTP.
#[derive(Debug, Clone)]
pub struct HttpOptions {
    pub addr: SocketAddr,
    /// Required when `addr` is not a loopback address.
    pub auth_token: Option<String>,
    /// Extra Host header values to accept (loopback names are always accepted on loopback).
    pub allowed_hosts: Vec<String>,
    /// Extra Origin values to accept (loopback origins are always accepted).
    pub allowed_origins: Vec<String>,
    pub max_body_bytes: usize,
}

impl HttpOptions {
    /// Refuse unsafe combinations before binding anything.
    pub fn check(&self) -> Result<(), String> {
        if !self.addr.ip().is_loopback() && self.auth_token.as_deref().is_none_or(str::is_empty) {
            return Err(format!(
                "refusing to serve on {} without a bearer token: anyone who can reach it could change the database. Pass --auth-token or set PGKEEL_AUTH_TOKEN, or bind 127.0.0.1",
                self.addr
            ));
        }
        if let Some(t) = &self.auth_token {
            if t.len() < 16 {
                return Err("the auth token must be at least 16 characters".into());
            }
        }
        Ok(())
    }
}

struct Guard {
    token: Option<String>,
    origins: Vec<String>,
}

/// Serve until `shutdown` is cancelled (or SIGINT/SIGTERM). `on_bound` receives the bound address
/// (useful with port 0).
pub async fn serve(
    shared: Arc<Shared>,
    opts: HttpOptions,
    shutdown: CancellationToken,
    on_bound: impl FnOnce(SocketAddr),
) -> Result<(), String> {
    opts.check()?;
    let mut config = StreamableHttpServerConfig::default()
        .with_cancellation_token(shutdown.child_token())
        .with_max_request_body_bytes(opts.max_body_bytes);
    if opts.addr.ip().is_loopback() {
        if !opts.allowed_hosts.is_empty() {
            let hosts: Vec<String> = ["localhost", "127.0.0.1", "::1"]
                .into_iter()
                .map(str::to_string)
                .chain(opts.allowed_hosts.iter().cloned())
                .collect();
            config = config.with_allowed_hosts(hosts);
        }
    } else if opts.allowed_hosts.is_empty() {
        // Reachable under any name; the bearer token (required here) protects it.
        config = config.disable_allowed_hosts();
    } else {
        config = config.with_allowed_hosts(opts.allowed_hosts.clone());
    }
    let service = StreamableHttpService::new(
        {
            let shared = shared.clone();
            move || Ok(PgkeelServer::new(shared.clone()))
        },
        LocalSessionManager::default().into(),
        config,
    );
    let guard = Arc::new(Guard {
        token: opts.auth_token.clone().filter(|t| !t.is_empty()),
        origins: opts.allowed_origins.clone(),
    });
    let app = axum::Router::new()
        .nest_service("/mcp", service)
        .layer(axum::middleware::from_fn_with_state(guard, check_request));
    let listener = tokio::net::TcpListener::bind(opts.addr)
        .await
        .map_err(|e| format!("cannot listen on {}: {e}", opts.addr))?;
    let bound = listener
        .local_addr()
        .map_err(|e| format!("cannot read the bound address: {e}"))?;
    on_bound(bound);
    let stop = shutdown.clone();
    tokio::spawn(async move {
        wait_for_signal().await;
        stop.cancel();
    });
    axum::serve(listener, app)
        .with_graceful_shutdown(async move { shutdown.cancelled_owned().await })
        .await
        .map_err(|e| format!("HTTP server failed: {e}"))
}

async fn wait_for_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(t) => t,
                Err(_) => {
                    let _ = ctrl_c.await;
                    return;
                }
            };
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
    }
}

fn reject(status: StatusCode, message: String) -> Response {
    let body = serde_json::json!({"error": message}).to_string();
    let mut r = (status, body).into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    r
}

async fn check_request(State(guard): State<Arc<Guard>>, request: Request, next: Next) -> Response {
    if let Some(origin) = request.headers().get(header::ORIGIN) {
        let origin = origin.to_str().unwrap_or("");
        if !origin_allowed(origin, &guard.origins) {
            tracing::warn!("refused a request with Origin {origin:?}");
            return reject(
                StatusCode::FORBIDDEN,
                format!("Origin {origin:?} is not allowed; start pgkeel with --allowed-origin {origin} to allow it"),
            );
        }
    }
    if let Some(expected) = &guard.token {
        let given = request
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .unwrap_or("");
        // Constant time: the comparison does not stop at the first differing byte.
        let ok = given.len() == expected.len()
            && bool::from(given.as_bytes().ct_eq(expected.as_bytes()));
        if !ok {
            let mut r = reject(
                StatusCode::UNAUTHORIZED,
                "missing or wrong bearer token (Authorization: Bearer <token>)".into(),
            );
            r.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"pgkeel\", error=\"invalid_token\""),
            );
            return r;
        }
    }
    next.run(request).await
}

/// Loopback origins (any port) and the configured ones.
fn origin_allowed(origin: &str, allowed: &[String]) -> bool {
    if allowed.iter().any(|a| a == origin) {
        return true;
    }
    let Some(rest) = origin
        .strip_prefix("http://")
        .or_else(|| origin.strip_prefix("https://"))
    else {
        return false;
    };
    let host = if let Some(v6) = rest.strip_prefix('[') {
        v6.split(']').next().map(|h| format!("[{h}]"))
    } else {
        rest.split(':').next().map(str::to_string)
    };
    matches!(host.as_deref(), Some("localhost" | "127.0.0.1" | "[::1]"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins() {
        assert!(origin_allowed("http://localhost:6274", &[]));
        assert!(origin_allowed("http://127.0.0.1", &[]));
        assert!(origin_allowed("https://[::1]:8443", &[]));
        assert!(!origin_allowed("http://evil.example", &[]));
        assert!(!origin_allowed("http://localhost.evil.example", &[]));
        assert!(!origin_allowed("null", &[]));
        assert!(origin_allowed(
            "https://app.example",
            &["https://app.example".into()]
        ));
    }

    #[test]
    fn non_loopback_needs_a_token() {
        let mut o = HttpOptions {
            addr: "0.0.0.0:8080".parse().unwrap(),
            auth_token: None,
            allowed_hosts: vec![],
            allowed_origins: vec![],
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
        };
        assert!(o.check().unwrap_err().contains("--auth-token"));
        o.auth_token = Some("short".into());
        assert!(o.check().is_err());
        o.auth_token = Some("a-long-enough-secret-token".into());
        assert!(o.check().is_ok());
        o.addr = "127.0.0.1:0".parse().unwrap();
        o.auth_token = None;
        assert!(o.check().is_ok());
    }
}
