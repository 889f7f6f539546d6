//! A connection pool for read operations (status, ad-hoc queries, schema description) in a
//! long-running process such as the MCP server, so a tool call does not pay for a new
//! connection. Writes never use it: the applier's lock and executor get dedicated connections,
//! because a session-level advisory lock or a session setting must not go back into a pool.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use deadpool_postgres::{Manager, ManagerConfig, RecyclingMethod};

use crate::error::{Error, Result};

/// A pool of connections to one database.
#[derive(Clone)]
pub struct Pool {
    inner: deadpool_postgres::Pool,
    target: String,
    /// Why the last connection attempt timed out (the driver's own error type cannot carry
    /// the host and phase through deadpool, so the message waits here for [`Pool::get`]).
    timed_out: Arc<Mutex<Option<String>>>,
}

/// A connection borrowed from the pool; it goes back when dropped.
pub type Pooled = deadpool_postgres::Object;

/// Opens the pool's connections through [`super::Driver`], so they get the same deadline,
/// phases and catalog statement_timeout as every other connection.
struct Connect {
    driver: Arc<super::Driver>,
    timed_out: Arc<Mutex<Option<String>>>,
}

impl deadpool_postgres::Connect for Connect {
    fn connect(
        &self,
        _: &tokio_postgres::Config,
    ) -> futures_util::future::BoxFuture<
        '_,
        std::result::Result<
            (tokio_postgres::Client, tokio::task::JoinHandle<()>),
            tokio_postgres::Error,
        >,
    > {
        Box::pin(async move {
            match self.driver.connect().await {
                Ok((client, connection)) => {
                    let task = tokio::spawn(async move {
                        if let Err(e) = connection.await {
                            tracing::debug!("pooled connection closed: {e}");
                        }
                    });
                    Ok((client, task))
                }
                Err(super::ConnectFail::Driver(e)) => Err(e),
                Err(super::ConnectFail::TimedOut(m)) => {
                    if let Ok(mut slot) = self.timed_out.lock() {
                        *slot = Some(m);
                    }
                    Err(tokio_postgres::Error::__private_api_timeout())
                }
            }
        })
    }
}

impl Pool {
    /// Build a pool of at most `size` connections (opened lazily), each opened within
    /// `deadline` (see [`super::connect`]).
    pub fn new(url: &str, size: usize, deadline: Duration) -> Result<Pool> {
        let driver = super::driver_config(url, "mcp", deadline)?;
        let target = driver.target.clone();
        let config = driver.config.clone();
        let timed_out = Arc::new(Mutex::new(None));
        let manager = Manager::from_connect(
            config,
            Connect {
                driver: Arc::new(driver),
                timed_out: timed_out.clone(),
            },
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
        Ok(Pool {
            inner,
            target,
            timed_out,
        })
    }

    /// Borrow a connection.
    pub async fn get(&self) -> Result<Pooled> {
        self.inner.get().await.map_err(|e| Error::Connect {
            target: self.target.clone(),
            message: match e {
                deadpool_postgres::PoolError::Backend(e) => self
                    .timed_out
                    .lock()
                    .ok()
                    .and_then(|mut slot| slot.take())
                    .filter(|_| e.to_string() == "timeout waiting for server")
                    .unwrap_or_else(|| super::describe_pg_error(&e)),
                other => other.to_string(),
            },
        })
    }
}
