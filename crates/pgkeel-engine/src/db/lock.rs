//! One applier at a time: a session-level advisory lock, polled with `pg_try_advisory_lock` on a
//! dedicated connection.
//!
//! Why polling rather than a blocking `pg_advisory_lock`: a second applier blocked inside
//! `pg_advisory_lock` sits in an open transaction, and `CREATE INDEX CONCURRENTLY` run by the
//! first applier waits for every open transaction to finish — the two wait on each other forever.
//! A poll is a short transaction that ends at once, so CONCURRENTLY can proceed.

use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};

use tokio_postgres::Client;

use super::Connection;
use crate::error::{Error, LockHolder, Result};
use crate::events::{Event, Events};

/// The advisory lock key for a history schema: the first 8 bytes of SHA-256 of
/// `pgkeel:<schema>`, with the sign bit cleared (so it maps cleanly onto pg_locks' two oids).
pub fn lock_key(schema: &str) -> i64 {
    let digest = Sha256::digest(format!("pgkeel:{schema}").as_bytes());
    let mut bytes = [0u8; 8];
    bytes.copy_from_slice(&digest[..8]);
    i64::from_be_bytes(bytes) & i64::MAX
}

/// The held migration lock. Released by [`MigrationLock::release`], or by the server when the
/// connection closes (also when the process dies).
pub struct MigrationLock {
    conn: Connection,
    key: i64,
}

impl MigrationLock {
    /// Wait up to `timeout` for the lock, polling with a growing interval (50 ms to 1 s).
    pub async fn acquire(
        conn: Connection,
        schema: &str,
        timeout: Duration,
        events: &dyn Events,
    ) -> Result<MigrationLock> {
        let key = lock_key(schema);
        let start = Instant::now();
        let mut interval = Duration::from_millis(50);
        let mut told = false;
        loop {
            let got: bool = conn
                .client
                .query_one("SELECT pg_try_advisory_lock($1)", &[&key])
                .await
                .map_err(|e| Error::db("taking the migration lock", e))?
                .get(0);
            if got {
                if told {
                    events.event(Event::LockAcquired);
                }
                return Ok(MigrationLock { conn, key });
            }
            let waited = start.elapsed();
            if waited >= timeout {
                let holder = holder(&conn.client, key).await.ok().flatten();
                return Err(Error::LockTimeout { waited, holder });
            }
            if !told {
                let holder = holder(&conn.client, key).await.ok().flatten();
                tracing::info!(
                    "waiting for the migration lock{}",
                    holder
                        .as_ref()
                        .map(|h| format!(" held by {h}"))
                        .unwrap_or_default()
                );
                events.event(Event::LockWaiting { holder });
                told = true;
            }
            tokio::time::sleep(interval.min(timeout.saturating_sub(waited))).await;
            interval = (interval * 2).min(Duration::from_secs(1));
        }
    }

    /// Release the lock and close its connection.
    /// Bounded (5 s): after a lost connection the server may not answer, and the lock is a
    /// session lock, which the server drops anyway when this connection closes.
    pub async fn release(self) -> Result<()> {
        let params: [&(dyn tokio_postgres::types::ToSql + Sync); 1] = [&self.key];
        let unlock = self
            .conn
            .client
            .query_one("SELECT pg_advisory_unlock($1)", &params);
        match tokio::time::timeout(std::time::Duration::from_secs(5), unlock).await {
            Ok(r) => {
                r.map_err(|e| Error::db("releasing the migration lock", e))?;
                Ok(())
            }
            Err(_) => Err(Error::Refused(
                "releasing the migration lock: no answer within 5 s; the server drops the lock when this connection closes".into(),
            )),
        }
    }
}

/// The server backends that exist now (other than this session): a `running` history row whose
/// backend is among them is still executing.
pub async fn live_backends(client: &Client) -> Result<Vec<i32>> {
    let rows = client
        .query(
            "SELECT pid FROM pg_stat_activity WHERE pid <> pg_backend_pid()",
            &[],
        )
        .await
        .map_err(|e| Error::db("listing server backends", e))?;
    Ok(rows.iter().map(|r| r.get(0)).collect())
}

/// Who holds the migration lock for `schema` right now, if anyone (other than this session).
pub async fn current_holder(client: &Client, schema: &str) -> Result<Option<LockHolder>> {
    holder(client, lock_key(schema)).await
}

async fn holder(client: &Client, key: i64) -> Result<Option<LockHolder>> {
    let row = client
        .query_opt(
            "SELECT a.pid, coalesce(a.application_name, ''), a.client_addr::text, a.usename::text, \
                    to_char(a.backend_start AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"') \
             FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid \
             WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1 \
               AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database()) \
               AND ((l.classid::bigint << 32) | l.objid::bigint) = $1 \
               AND l.pid <> pg_backend_pid() \
             LIMIT 1",
            &[&key],
        )
        .await
        .map_err(|e| Error::db("looking up the lock holder", e))?;
    Ok(row.map(|r| LockHolder {
        pid: r.get(0),
        application_name: r.get(1),
        client_addr: r.get(2),
        user: r.get(3),
        since: r.get(4),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_stable_positive_and_per_schema() {
        assert_eq!(lock_key("pgkeel"), lock_key("pgkeel"));
        assert_ne!(lock_key("pgkeel"), lock_key("other"));
        assert!(lock_key("pgkeel") >= 0);
    }
}
