//! Durations as pgkeel.toml and the environment write them (`5s`, `500ms`, `2m`, a bare number
//! of seconds), shared by every section that has one. Pure.

use std::time::Duration;

/// Parse `5s`, `500ms`, `2m`, `1h`, or a bare number of seconds. `0` means "none".
pub fn parse_duration(s: &str) -> std::result::Result<Duration, String> {
    let s = s.trim();
    if let Ok(secs) = s.parse::<u64>() {
        return Ok(Duration::from_secs(secs));
    }
    humantime::parse_duration(s)
        .map_err(|e| format!("invalid duration {s:?} ({e}); use e.g. 5s, 500ms, 2m"))
}
