//! Rollback confirmation tokens: `rb1.<expiry unix seconds>.<hex HMAC-SHA256(key, digest ‖ expiry)>`.
//!
//! A token confirms one exact rollback plan (its digest, see [`super::plan`]) for a short time.
//! It is not authentication: anyone who can read the key can mint one. The key is 32 random bytes
//! in `.pgkeel/rollback.key` under the project root (created on first use, mode 0600), or the
//! bytes of `PGKEEL_ROLLBACK_KEY` when that is set.
//!
//! The HMAC comes from `ring` (already in the build through rustls), and verification uses
//! `ring::hmac::verify`, which compares in constant time.

use std::path::{Path, PathBuf};
use std::time::Duration;

use ring::hmac;
use ring::rand::{SecureRandom, SystemRandom};

use crate::error::{Error, Result};

/// The token format's prefix.
pub const PREFIX: &str = "rb1";
/// Where the key lives, relative to the project root.
pub const KEY_FILE: &str = ".pgkeel/rollback.key";
/// The environment variable whose bytes replace the key file.
pub const KEY_ENV: &str = "PGKEEL_ROLLBACK_KEY";
/// The default token lifetime (`[rollback] token_ttl`).
pub const DEFAULT_TTL: Duration = Duration::from_secs(15 * 60);

/// Why a token was not accepted. Each says what to do next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenError {
    Malformed(String),
    Expired { at: i64 },
    OtherPlan,
}

impl std::fmt::Display for TokenError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TokenError::Malformed(why) => write!(
                f,
                "the confirmation token is malformed ({why}); copy it exactly as `pgkeel rollback … --plan` printed it"
            ),
            TokenError::Expired { at } => {
                let when = chrono::DateTime::from_timestamp(*at, 0)
                    .map_or_else(|| at.to_string(), |t| t.format("%Y-%m-%d %H:%M:%S UTC").to_string());
                write!(
                    f,
                    "the confirmation token expired at {when}: run --plan again for a new token"
                )
            }
            TokenError::OtherPlan => write!(
                f,
                "the plan changed since this token was issued: run --plan again and review the new plan"
            ),
        }
    }
}

impl From<TokenError> for Error {
    fn from(e: TokenError) -> Error {
        Error::Refused(e.to_string())
    }
}

fn message(digest: &[u8], expiry: i64) -> Vec<u8> {
    let mut m = Vec::with_capacity(digest.len() + 8);
    m.extend_from_slice(digest);
    m.extend_from_slice(&expiry.to_be_bytes());
    m
}

/// A token for `digest` (the plan's SHA-256), valid until `expiry` (unix seconds).
pub fn issue(key: &[u8], digest: &[u8], expiry: i64) -> String {
    let k = hmac::Key::new(hmac::HMAC_SHA256, key);
    let tag = hmac::sign(&k, &message(digest, expiry));
    format!("{PREFIX}.{expiry}.{}", hex::encode(tag.as_ref()))
}

/// Check `token` against the current plan's `digest` at time `now` (unix seconds). The HMAC is
/// checked before the expiry, so an edited expiry reads as "another plan", never as valid.
pub fn verify(key: &[u8], digest: &[u8], token: &str, now: i64) -> Result<(), TokenError> {
    let token = token.trim();
    let mut parts = token.split('.');
    let (Some(prefix), Some(expiry), Some(tag), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(TokenError::Malformed(format!(
            "expected {PREFIX}.<expiry>.<signature>"
        )));
    };
    if prefix != PREFIX {
        return Err(TokenError::Malformed(format!(
            "it starts with {prefix:?}, not {PREFIX:?}"
        )));
    }
    let expiry: i64 = expiry
        .parse()
        .map_err(|_| TokenError::Malformed("the expiry is not a number".into()))?;
    let tag = hex::decode(tag)
        .ok()
        .filter(|t| t.len() == 32)
        .ok_or_else(|| TokenError::Malformed("the signature is not 64 hex digits".into()))?;
    let k = hmac::Key::new(hmac::HMAC_SHA256, key);
    hmac::verify(&k, &message(digest, expiry), &tag).map_err(|_| TokenError::OtherPlan)?;
    if expiry < now {
        return Err(TokenError::Expired { at: expiry });
    }
    Ok(())
}

/// The token lifetime from `[rollback] token_ttl` in pgkeel.toml (`file` is `(text, name)`).
pub fn ttl_from_file(file: Option<(&str, &str)>) -> Result<Duration> {
    let Some((text, name)) = file else {
        return Ok(DEFAULT_TTL);
    };
    #[derive(serde::Deserialize)]
    struct File {
        rollback: Option<Section>,
    }
    #[derive(serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Section {
        token_ttl: Option<String>,
    }
    let parsed: File = toml::from_str(text)
        .map_err(|e| Error::Config(format!("{name}: [rollback]: {}", e.message())))?;
    match parsed.rollback.and_then(|s| s.token_ttl) {
        None => Ok(DEFAULT_TTL),
        Some(t) => {
            let d = crate::duration::parse_duration(&t)
                .map_err(|e| Error::Config(format!("{name}: [rollback] token_ttl: {e}")))?;
            if d.is_zero() {
                return Err(Error::Config(format!(
                    "{name}: [rollback] token_ttl must be longer than 0 (e.g. \"15m\")"
                )));
            }
            Ok(d)
        }
    }
}

/// The HMAC key: `PGKEEL_ROLLBACK_KEY` when set (at least 16 bytes), else the key file under
/// `root`, created with 32 random bytes (mode 0600) on first use.
pub fn load_key(root: &Path, env: Option<String>) -> Result<Vec<u8>> {
    if let Some(v) = env {
        if v.len() < 16 {
            return Err(Error::Config(format!(
                "{KEY_ENV} is set but shorter than 16 bytes; use a long random value (or unset it to use {KEY_FILE})"
            )));
        }
        return Ok(v.into_bytes());
    }
    let path = root.join(KEY_FILE);
    match std::fs::read_to_string(&path) {
        Ok(text) => parse_key_file(&path, &text),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => create_key(&path),
        Err(e) => Err(Error::io(&path, e)),
    }
}

fn parse_key_file(path: &Path, text: &str) -> Result<Vec<u8>> {
    hex::decode(text.trim())
        .ok()
        .filter(|k| k.len() >= 16)
        .ok_or_else(|| {
            Error::Config(format!(
                "{}: not a pgkeel rollback key (expected 64 hex digits); delete it and a new key is made on the next --plan",
                path.display()
            ))
        })
}

fn create_key(path: &Path) -> Result<Vec<u8>> {
    use std::io::Write;
    let dir: PathBuf = path.parent().map(Path::to_path_buf).unwrap_or_default();
    std::fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
    // Keep the key (and anything else under .pgkeel/) out of version control.
    let ignore = dir.join(".gitignore");
    if !ignore.exists() {
        std::fs::write(&ignore, "*\n").map_err(|e| Error::io(&ignore, e))?;
    }
    let mut key = [0u8; 32];
    SystemRandom::new().fill(&mut key).map_err(|_| {
        Error::Refused(
            "the system random number generator failed; cannot make a rollback key".into(),
        )
    })?;
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    match opts.open(path) {
        Ok(mut f) => {
            f.write_all(format!("{}\n", hex::encode(key)).as_bytes())
                .map_err(|e| Error::io(path, e))?;
            Ok(key.to_vec())
        }
        // Another pgkeel made it at the same moment: use theirs.
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
            parse_key_file(path, &text)
        }
        Err(e) => Err(Error::io(path, e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &[u8] = b"0123456789abcdef0123456789abcdef";
    const DIGEST: [u8; 32] = [7u8; 32];

    #[test]
    fn a_token_verifies_for_its_plan_until_it_expires() {
        let t = issue(KEY, &DIGEST, 1_000);
        assert!(t.starts_with("rb1.1000."));
        assert_eq!(verify(KEY, &DIGEST, &t, 999), Ok(()));
        assert_eq!(verify(KEY, &DIGEST, &format!(" {t}\n"), 1_000), Ok(()));
        assert_eq!(
            verify(KEY, &DIGEST, &t, 1_001),
            Err(TokenError::Expired { at: 1_000 })
        );
        let msg = TokenError::Expired { at: 1_000 }.to_string();
        assert!(
            msg.contains("1970-01-01 00:16:40 UTC") && msg.contains("--plan"),
            "{msg}"
        );
    }

    #[test]
    fn another_plan_another_key_or_an_edited_expiry_is_refused() {
        let t = issue(KEY, &DIGEST, 1_000);
        assert_eq!(verify(KEY, &[8u8; 32], &t, 0), Err(TokenError::OtherPlan));
        assert_eq!(
            verify(b"another key, just as long as that", &DIGEST, &t, 0),
            Err(TokenError::OtherPlan)
        );
        let edited = t.replacen("rb1.1000.", "rb1.9000.", 1);
        assert_eq!(verify(KEY, &DIGEST, &edited, 0), Err(TokenError::OtherPlan));
        assert!(TokenError::OtherPlan.to_string().contains("plan changed"));
    }

    #[test]
    fn malformed_tokens_are_named_as_such() {
        for bad in [
            "",
            "rb1",
            "rb1.10",
            "rb2.10.00",
            "rb1.x.00",
            "rb1.10.zz",
            "rb1.10.abcd",
            "rb1.10.aa.bb",
        ] {
            assert!(
                matches!(verify(KEY, &DIGEST, bad, 0), Err(TokenError::Malformed(_))),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn ttl_comes_from_the_rollback_section() {
        assert_eq!(ttl_from_file(None).unwrap(), DEFAULT_TTL);
        assert_eq!(
            ttl_from_file(Some(("[rollback]\ntoken_ttl = \"2m\"\n", "pgkeel.toml"))).unwrap(),
            Duration::from_secs(120)
        );
        assert_eq!(
            ttl_from_file(Some(("[apply]\nlock_timeout = \"5s\"\n", "pgkeel.toml"))).unwrap(),
            DEFAULT_TTL
        );
        let e = ttl_from_file(Some(("[rollback]\ntoken_ttl = \"soon\"\n", "pgkeel.toml")))
            .unwrap_err()
            .to_string();
        assert!(e.contains("token_ttl"), "{e}");
        let e = ttl_from_file(Some(("[rollback]\ntoken_tll = \"1m\"\n", "pgkeel.toml")))
            .unwrap_err()
            .to_string();
        assert!(e.contains("token_tll"), "{e}");
        assert!(ttl_from_file(Some(("[rollback]\ntoken_ttl = \"0\"\n", "p"))).is_err());
    }

    #[test]
    fn the_key_file_is_made_once_private_and_reused() {
        let dir = std::env::temp_dir().join(format!("pgkeel-key-test-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let a = load_key(&dir, None).unwrap();
        assert_eq!(a.len(), 32);
        let b = load_key(&dir, None).unwrap();
        assert_eq!(a, b);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.join(KEY_FILE))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        assert!(dir.join(".pgkeel/.gitignore").is_file());
        assert_eq!(
            load_key(&dir, Some("an override key of some length".into())).unwrap(),
            b"an override key of some length".to_vec()
        );
        assert!(load_key(&dir, Some("short".into())).is_err());
        std::fs::write(dir.join(KEY_FILE), "not hex").unwrap();
        assert!(load_key(&dir, None)
            .unwrap_err()
            .to_string()
            .contains("delete it"));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
