//! Where the dev cluster lives under the project, what pgkeel remembers about it, and the files
//! it writes or reads in the data directory. Pure apart from [`State::load`] / [`State::save`].

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::error::{Error, Result};

/// The dev cluster's folder, relative to the project root (git-ignored through `.pgkeel/`).
pub const DEV_DIR: &str = ".pgkeel/dev";

/// The settings file pgkeel rewrites before each start, included from postgresql.conf.
pub const SETTINGS_FILE: &str = "pgkeel-dev.conf";

/// Ports pgkeel picks from when `[dev] port` is not set: near 5432, clear of the usual
/// ephemeral range.
pub const PORT_RANGE: std::ops::Range<u16> = 54320..54920;

/// A Unix socket path (`<dir>/.s.PGSQL.<port>`) must fit in sockaddr_un.sun_path (107 bytes
/// and a NUL on Linux).
const MAX_SOCKET_PATH: usize = 107;

/// The paths of one project's dev cluster.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layout {
    /// `.pgkeel/dev`
    pub dir: PathBuf,
    /// `.pgkeel/dev/data`: PGDATA.
    pub data: PathBuf,
    /// `.pgkeel/dev/run`: the Unix socket directory.
    pub run: PathBuf,
    /// `.pgkeel/dev/postgres.log`: the server log.
    pub log: PathBuf,
    /// `.pgkeel/dev/state.json`
    pub state: PathBuf,
}

impl Layout {
    pub fn new(root: &Path) -> Layout {
        let dir = root.join(DEV_DIR);
        Layout {
            data: dir.join("data"),
            run: dir.join("run"),
            log: dir.join("postgres.log"),
            state: dir.join("state.json"),
            dir,
        }
    }

    /// The socket directory, or `None` when its path is too long for a Unix socket (then the
    /// server listens on TCP 127.0.0.1 only).
    pub fn socket_dir(&self) -> Option<&Path> {
        let len = self.run.as_os_str().len() + "/.s.PGSQL.65535.lock".len();
        (len <= MAX_SOCKET_PATH).then_some(self.run.as_path())
    }
}

/// What pgkeel remembers between runs (`state.json`): the last port, so the URL stays the same,
/// and what the last start used, so a command finding the server running needs no binaries.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct State {
    pub port: Option<u16>,
    #[serde(default)]
    pub server_version: Option<String>,
    #[serde(default)]
    pub bin_dir: Option<String>,
    #[serde(default)]
    pub os_user: Option<String>,
}

impl State {
    /// The saved state; a missing or unreadable file is an empty state (it is only a hint).
    pub fn load(path: &Path) -> State {
        std::fs::read_to_string(path)
            .ok()
            .and_then(|t| serde_json::from_str(&t).ok())
            .unwrap_or_default()
    }

    pub fn save(&self, path: &Path) -> Result<()> {
        let text = serde_json::to_string_pretty(self).unwrap_or_else(|_| "{}".into());
        std::fs::write(path, text + "\n").map_err(|e| Error::io(path, e))
    }
}

/// The first lines of `postmaster.pid` (see PostgreSQL's pidfile.h).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PidFile {
    pub pid: u32,
    pub data_dir: String,
    pub port: Option<u16>,
    pub socket_dir: Option<String>,
    pub listen: Option<String>,
    /// `starting`, `ready`, `stopping` (PostgreSQL 10+), when written yet.
    pub status: Option<String>,
}

/// Parse `postmaster.pid`: pid, data dir, start time, port, socket dir, listen address, shared
/// memory key, status. `None` when the first line is not a pid (a torn or foreign file).
pub fn parse_pid_file(text: &str) -> Option<PidFile> {
    let lines: Vec<&str> = text.lines().map(str::trim).collect();
    let pid = lines.first()?.parse::<i64>().ok()?;
    let pid = u32::try_from(pid.unsigned_abs()).ok().filter(|p| *p > 0)?;
    let field = |i: usize| {
        lines
            .get(i)
            .map(|s| s.to_string())
            .filter(|s| !s.is_empty())
    };
    Some(PidFile {
        pid,
        data_dir: field(1).unwrap_or_default(),
        port: field(3).and_then(|p| p.parse().ok()),
        socket_dir: field(4),
        listen: field(5),
        status: field(7),
    })
}

/// This project's first-choice port: stable for a given project folder, so two projects on one
/// machine usually get different ports and a restart keeps the same URL.
pub fn preferred_port(root: &Path) -> u16 {
    let digest = Sha256::digest(root.as_os_str().as_encoded_bytes());
    let n = u16::from_be_bytes([digest[0], digest[1]]);
    PORT_RANGE.start + n % (PORT_RANGE.end - PORT_RANGE.start)
}

/// Ports to try, in order: the remembered one, then the range starting at the preferred port.
pub fn port_candidates(remembered: Option<u16>, preferred: u16) -> Vec<u16> {
    let span = PORT_RANGE.end - PORT_RANGE.start;
    let start = preferred.clamp(PORT_RANGE.start, PORT_RANGE.end - 1) - PORT_RANGE.start;
    let mut ports: Vec<u16> = remembered.into_iter().collect();
    ports.extend((0..span).map(|i| PORT_RANGE.start + (start + i) % span));
    ports.dedup();
    ports
}

/// A postgresql.conf string literal.
pub fn conf_quote(value: &str) -> String {
    format!("'{}'", value.replace('\\', "\\\\").replace('\'', "''"))
}

/// The settings pgkeel writes before each start: loopback only, the project's socket
/// directory, and durability traded for speed (a throwaway development database).
pub fn settings_conf(port: u16, socket_dir: Option<&Path>) -> String {
    let sockets = socket_dir
        .map(|d| conf_quote(&d.to_string_lossy()))
        .unwrap_or_else(|| "''".into());
    format!(
        "# Written by pgkeel before each `pgkeel dev start`; edits are overwritten.\n\
         listen_addresses = '127.0.0.1'\n\
         port = {port}\n\
         unix_socket_directories = {sockets}\n\
         fsync = off\n\
         synchronous_commit = off\n\
         full_page_writes = off\n\
         max_connections = 50\n\
         shared_buffers = 32MB\n"
    )
}

/// pg_hba.conf of a dev cluster: trust, but only over the Unix socket and from 127.0.0.1.
pub const HBA_CONF: &str = "# pgkeel dev cluster: loopback only, no passwords.\n\
                            # TYPE  DATABASE  USER  ADDRESS       METHOD\n\
                            local   all       all                 trust\n\
                            host    all       all   127.0.0.1/32  trust\n";

/// The line appended to postgresql.conf at init so it reads [`SETTINGS_FILE`].
pub fn include_line() -> String {
    format!("\ninclude_if_exists = {}\n", conf_quote(SETTINGS_FILE))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pid_file_fields() {
        let text = "4242\n/p/.pgkeel/dev/data\n1732400000\n54321\n/p/.pgkeel/dev/run\n127.0.0.1\n  1234567     98304\nready   \n";
        let p = parse_pid_file(text).unwrap();
        assert_eq!(p.pid, 4242);
        assert_eq!(p.data_dir, "/p/.pgkeel/dev/data");
        assert_eq!(p.port, Some(54321));
        assert_eq!(p.socket_dir.as_deref(), Some("/p/.pgkeel/dev/run"));
        assert_eq!(p.listen.as_deref(), Some("127.0.0.1"));
        assert_eq!(p.status.as_deref(), Some("ready"));
        // Written at start-up before the port line: only the pid is known.
        let p = parse_pid_file("77\n/d\n").unwrap();
        assert_eq!((p.pid, p.port, p.status), (77, None, None));
        assert_eq!(parse_pid_file(""), None);
        assert_eq!(parse_pid_file("garbage\n"), None);
        assert_eq!(parse_pid_file("0\n"), None);
    }

    #[test]
    fn ports_are_stable_per_project_and_stay_in_range() {
        let a = preferred_port(Path::new("/home/a/project"));
        assert_eq!(a, preferred_port(Path::new("/home/a/project")));
        assert!(PORT_RANGE.contains(&a));
        let c = port_candidates(Some(5555), a);
        assert_eq!(c[0], 5555);
        assert_eq!(c[1], a);
        assert_eq!(c.len(), 1 + PORT_RANGE.len());
        let last = port_candidates(None, PORT_RANGE.end - 1);
        assert_eq!(&last[..2], &[PORT_RANGE.end - 1, PORT_RANGE.start]);
    }

    #[test]
    fn settings_quote_paths_and_stay_on_loopback() {
        assert_eq!(conf_quote("/it's/here"), "'/it''s/here'");
        let s = settings_conf(54400, Some(Path::new("/p/.pgkeel/dev/run")));
        assert!(s.contains("listen_addresses = '127.0.0.1'"));
        assert!(s.contains("port = 54400"));
        assert!(s.contains("unix_socket_directories = '/p/.pgkeel/dev/run'"));
        assert!(settings_conf(1, None).contains("unix_socket_directories = ''"));
        assert!(!HBA_CONF.contains("0.0.0.0") && !HBA_CONF.contains("::"));
    }

    #[test]
    fn long_project_paths_fall_back_to_tcp_only() {
        assert!(Layout::new(Path::new("/p")).socket_dir().is_some());
        let deep = format!("/{}", "d".repeat(120));
        assert!(Layout::new(Path::new(&deep)).socket_dir().is_none());
    }
}
