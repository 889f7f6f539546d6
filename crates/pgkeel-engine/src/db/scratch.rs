//! Throwaway databases on the configured server (`pgkeel types verify` applies every migration
//! to one): created with a random `pgkeel_verify_…` name, dropped `WITH (FORCE)` afterwards.

use crate::db::{connect, ident};
use crate::error::{Error, Result};

/// A database created for one operation. Call [`Scratch::drop_database`] when done; a crash
/// leaves it behind under its recognisable name.
pub struct Scratch {
    /// The URL the database was created through (its server, another database).
    admin_url: String,
    pub name: String,
    /// `admin_url` pointed at the new database.
    pub url: String,
    /// The connect deadline (`[database] connect_timeout`).
    deadline: std::time::Duration,
}

impl Scratch {
    /// Create `pgkeel_verify_<random>` on the server of `url` (needs CREATEDB).
    pub async fn create(url: &str, prefix: &str, deadline: std::time::Duration) -> Result<Scratch> {
        let name = format!("{prefix}_{}", random_suffix());
        let conn = connect(url, "scratch database", None, deadline).await?;
        conn.client
            .batch_execute(&format!("CREATE DATABASE {}", ident(&name)))
            .await
            .map_err(|e| Error::db(format!("creating the throwaway database {name}"), e))?;
        Ok(Scratch {
            admin_url: url.to_string(),
            url: with_database(url, &name),
            name,
            deadline,
        })
    }

    /// Drop the database (closing any session still in it).
    pub async fn drop_database(self) -> Result<()> {
        let conn = connect(&self.admin_url, "scratch database", None, self.deadline).await?;
        conn.client
            .batch_execute(&format!(
                "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                ident(&self.name)
            ))
            .await
            .map_err(|e| Error::db(format!("dropping the throwaway database {}", self.name), e))
    }
}

fn random_suffix() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    let seed = format!("{nanos}:{}:{:p}", std::process::id(), &nanos);
    crate::checksum::sha256_hex(seed.as_bytes())[..12].to_string()
}

/// `url` with its database replaced by `db`: the path of a `postgres://` URL, or a `dbname=`
/// appended to a key=value string (the last one wins).
pub fn with_database(url: &str, db: &str) -> String {
    if let Some(scheme_end) = url.find("://").map(|i| i + 3) {
        let (base, query) = match url.split_once('?') {
            Some((b, q)) => (b, format!("?{q}")),
            None => (url, String::new()),
        };
        return match base[scheme_end..].find('/') {
            Some(slash) => format!("{}/{db}{query}", &base[..scheme_end + slash]),
            None => format!("{base}/{db}{query}"),
        };
    }
    format!("{url} dbname={db}")
}

#[cfg(test)]
mod tests {
    use super::with_database;

    #[test]
    fn points_a_url_at_another_database() {
        assert_eq!(
            with_database("postgres://u:p@h:5432/app?sslmode=require", "x"),
            "postgres://u:p@h:5432/x?sslmode=require"
        );
        assert_eq!(with_database("postgresql://h", "x"), "postgresql://h/x");
        assert_eq!(
            with_database("host=h dbname=app user=u", "x"),
            "host=h dbname=app user=u dbname=x"
        );
        assert_ne!(super::random_suffix(), "");
    }
}
