//! `supabase/seed.sql`: the data a Supabase project loads after its migrations on a fresh local
//! database (`supabase db reset` does the same). `pgkeel dev reset` calls [`run_seed`].

use std::path::Path;

use serde::Serialize;
use tokio_postgres::Client;

use super::project::SEED_FILE;
use crate::error::{Error, Result};

#[derive(Debug, Clone, Serialize)]
pub struct SeedReport {
    /// The seed file, relative to the project root.
    pub path: String,
    pub bytes: usize,
}

/// Run `<root>/supabase/seed.sql` in one transaction, if the file exists (`Ok(None)` if not).
/// A failure rolls the whole seed back and names the file. Data like a migration's, so it runs
/// under `[apply] statement_timeout` (`statement_timeout`; zero = none), not under the
/// connection's catalog deadline.
pub async fn run_seed(
    client: &Client,
    root: &Path,
    statement_timeout: std::time::Duration,
) -> Result<Option<SeedReport>> {
    let path = root.join(SEED_FILE);
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(Error::io(&path, e)),
    };
    let text = crate::checksum::normalize(&text);
    if let Err(e) = client
        .batch_execute(&format!(
            "BEGIN;\nSET LOCAL statement_timeout = {};\n{text}\n;COMMIT;",
            statement_timeout.as_millis()
        ))
        .await
    {
        let _ = client.batch_execute("ROLLBACK").await;
        return Err(Error::db(format!("running {SEED_FILE}"), e));
    }
    Ok(Some(SeedReport {
        path: SEED_FILE.to_string(),
        bytes: text.len(),
    }))
}
