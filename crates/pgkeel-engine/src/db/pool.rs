//! A connection pool for read operations (status, ad-hoc queries, schema description) in a
//! long-running process such as the MCP server, so a tool call does not pay for a new
//! connection. Writes never use it: the applier's lock and executor get dedicated connections,
//! because a session-level advisory lock or a session setting must not go back into a pool.

use deadpool_postgres::{Manager, ManagerConfig, RecyclingMethod};

use crate::error::{Error, Result};

/// A pool of connections to one database.
#[derive(Clone)]
pub struct Pool {
    inner: deadpool_postgres::Pool,
    target: String,
}

/// A connection borrowed from the pool; it goes back when dropped.
pub type Pooled = deadpool_postgres::Object;

impl Pool {
    /// Build a pool of at most `size` connections (opened lazily).
    pub fn new(url: &str, size: usize) -> Result<Pool> {
        let (config, tls, target) = super::driver_config(url, "mcp")?;
        let manager = Manager::from_config(
            config,
            tls,
            ManagerConfig {
                // A closed connection is replaced; no extra query per borrow (tool calls are
                // latency-sensitive). A connection the server dropped while idle fails its next
                // call with a clear error and is not handed out again.
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let inner = deadpool_postgres::Pool::builder(manager)
            .max_size(size.max(1))
            .build()
            .map_err(|e| Error::Connect {
                target: target.clone(),
                message: e.to_string(),
            })?;
        Ok(Pool { inner, target })
    }

    /// Borrow a connection.
    pub async fn get(&self) -> Result<Pooled> {
        self.inner.get().await.map_err(|e| Error::Connect {
            target: self.target.clone(),
            message: match e {
                deadpool_postgres::PoolError::Backend(e) => super::describe_pg_error(&e),
                other => other.to_string(),
            },
        })
    }
}
