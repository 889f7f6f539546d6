//! The dev cluster as processes: initdb, pg_ctl start / stop, and reading its pid file. Every
//! program runs as [`RunAs`] when pgkeel is root (see [`super::user`]).

use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use super::binaries::Binaries;
use super::state::{self, Layout, PidFile};
use super::user::{self, RunAs};
use crate::error::{DevProblem, Error, Result};

/// How long `pg_ctl` waits for the server to start or stop.
const PG_CTL_WAIT_SECS: &str = "60";

/// One project's cluster, with the binaries and the account that run it.
#[derive(Debug, Clone)]
pub struct Cluster {
    pub layout: Layout,
    pub bins: Binaries,
    pub run_as: Option<RunAs>,
}

/// Why a start failed, when pgkeel can do something about it.
#[derive(Debug)]
pub enum StartError {
    /// Another program took the port (between the check and the bind).
    PortTaken(String),
    Other(Error),
}

impl From<Error> for StartError {
    fn from(e: Error) -> StartError {
        StartError::Other(e)
    }
}

impl Cluster {
    fn command(&self, program: &str) -> Command {
        let mut c = Command::new(self.bins.program(program));
        c.current_dir(&self.layout.dir)
            .stdin(Stdio::null())
            .env("LC_ALL", "C")
            .env_remove("PGDATA")
            .env_remove("PGPORT")
            .env_remove("PGHOST");
        if let Some(u) = &self.run_as {
            // std drops supplementary groups (setgroups) before setuid when running as root.
            c.uid(u.uid)
                .gid(u.gid)
                .env("HOME", &self.layout.dir)
                .env("USER", &u.name);
        }
        c
    }

    fn run(&self, mut c: Command, what: &str) -> Result<Output> {
        let out = c.output().map_err(|e| {
            Error::dev(
                DevProblem::Failed,
                format!("cannot run {what}: {e}{}", self.as_user()),
            )
        })?;
        Ok(out)
    }

    fn as_user(&self) -> String {
        self.run_as
            .as_ref()
            .map(|u| format!(" (as OS user {})", u.name))
            .unwrap_or_default()
    }

    /// Create `.pgkeel/dev` and the socket folder, owned by the server's account.
    pub fn prepare_dirs(&self) -> Result<()> {
        use std::os::unix::fs::PermissionsExt;
        for dir in [&self.layout.dir, &self.layout.run] {
            std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
            std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
                .map_err(|e| Error::io(dir, e))?;
            if let Some(u) = &self.run_as {
                user::chown(dir, u, false)?;
            }
        }
        if let Some(u) = &self.run_as {
            if let Some((blocked, mode)) = user::blocked_ancestor(&self.layout.dir, u) {
                return Err(Error::dev(
                    DevProblem::Failed,
                    format!(
                        "pgkeel runs as root, so PostgreSQL runs as the OS user {name}, which \
                         cannot enter {dir} (mode {mode:o}); give it search permission \
                         (chmod o+x {dir}), or run pgkeel as an ordinary user",
                        name = u.name,
                        dir = blocked.display()
                    ),
                ));
            }
            // A cluster made by another account (e.g. before, without root) changes hands.
            if self.layout.data.exists() {
                use std::os::unix::fs::MetadataExt;
                let owner = std::fs::metadata(&self.layout.data)
                    .map_err(|e| Error::io(&self.layout.data, e))?
                    .uid();
                if owner != u.uid {
                    user::chown(&self.layout.data, u, true)?;
                }
            }
            if self.layout.log.exists() {
                user::chown(&self.layout.log, u, false)?;
            }
        }
        Ok(())
    }

    /// True once initdb has completed.
    pub fn initialized(&self) -> bool {
        self.layout.data.join("PG_VERSION").is_file()
    }

    /// The major version that made the data directory.
    pub fn data_major(&self) -> Option<String> {
        data_major(&self.layout)
    }

    /// initdb: trust auth, superuser `postgres`, UTF-8, then loopback-only pg_hba.conf and the
    /// include of pgkeel's settings file.
    pub fn init(&self) -> Result<()> {
        let data = &self.layout.data;
        if data.exists() {
            // A previous initdb did not finish (no PG_VERSION): start over.
            std::fs::remove_dir_all(data).map_err(|e| Error::io(data, e))?;
        }
        let mut c = self.command("initdb");
        c.arg("-D").arg(data).args([
            "--username=postgres",
            "--auth=trust",
            "--encoding=UTF8",
            "--locale=C",
            "--no-sync",
        ]);
        let out = self.run(c, "initdb")?;
        if !out.status.success() {
            return Err(Error::dev(
                DevProblem::Failed,
                format!(
                    "initdb failed{}: {}",
                    self.as_user(),
                    tail(&String::from_utf8_lossy(&out.stderr), 8)
                ),
            ));
        }
        let hba = data.join("pg_hba.conf");
        std::fs::write(&hba, state::HBA_CONF).map_err(|e| Error::io(&hba, e))?;
        let conf = data.join("postgresql.conf");
        let mut text = std::fs::read_to_string(&conf).map_err(|e| Error::io(&conf, e))?;
        text.push_str(&state::include_line());
        std::fs::write(&conf, text).map_err(|e| Error::io(&conf, e))?;
        Ok(())
    }

    /// The pid file, when there is one.
    pub fn pid_file(&self) -> Result<Option<PidFile>> {
        let path = self.layout.data.join("postmaster.pid");
        match std::fs::read_to_string(&path) {
            Ok(text) => Ok(state::parse_pid_file(&text)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(Error::io(path, e)),
        }
    }

    /// The running server's pid file, or `None` when it is not running. A pid file whose
    /// process is gone (a crash, a killed postmaster) is removed, and `true` says so.
    pub fn running(&self) -> Result<(Option<PidFile>, bool)> {
        let path = self.layout.data.join("postmaster.pid");
        match self.pid_file()? {
            Some(p) if user::is_postgres_process(p.pid) => Ok((Some(p), false)),
            Some(_) => {
                std::fs::remove_file(&path).map_err(|e| Error::io(&path, e))?;
                Ok((None, true))
            }
            // An unreadable (torn) pid file: leave it to the server to judge.
            None => Ok((None, false)),
        }
    }

    /// Write the settings and `pg_ctl start -w`. Retries briefly while the processes of a
    /// killed server are still exiting.
    pub fn start(&self, port: u16) -> std::result::Result<(), StartError> {
        let settings = self.layout.data.join(state::SETTINGS_FILE);
        std::fs::write(
            &settings,
            state::settings_conf(port, self.layout.socket_dir()),
        )
        .map_err(|e| Error::io(&settings, e))?;
        if let Some(u) = &self.run_as {
            user::chown(&settings, u, false)?;
        }
        let mut attempt = 0;
        loop {
            attempt += 1;
            let log_len = std::fs::metadata(&self.layout.log)
                .map(|m| m.len())
                .unwrap_or(0);
            // pg_ctl only launches the server (-W); pgkeel waits for it itself, polling the pid
            // file every few milliseconds (pg_ctl -w polls every 100 ms).
            let mut c = self.command("pg_ctl");
            c.args(["start", "-W", "-s", "-D"])
                .arg(&self.layout.data)
                .arg("-l")
                .arg(&self.layout.log);
            let out = self.run(c, "pg_ctl start")?;
            let launched = out.status.success() && self.wait_ready(log_len)?;
            if launched {
                return Ok(());
            }
            let log = read_from(&self.layout.log, log_len);
            let said = format!(
                "{}\n{}",
                String::from_utf8_lossy(&out.stderr).trim(),
                log.trim()
            );
            if said.contains("could not bind") || said.contains("Address already in use") {
                return Err(StartError::PortTaken(tail(&said, 6)));
            }
            let transient = said.contains("is still in use") || said.contains("already exists");
            if transient && attempt < 10 {
                std::thread::sleep(Duration::from_millis(300));
                let _ = self.running();
                continue;
            }
            return Err(StartError::Other(Error::dev(
                DevProblem::Failed,
                format!(
                    "the server did not start{}; see {}: {}",
                    self.as_user(),
                    self.layout.log.display(),
                    tail(&said, 8)
                ),
            )));
        }
    }

    /// Wait until the server's pid file says `ready` (true), or the server has given up: its
    /// process is gone, or its log since `log_len` has a FATAL or PANIC and no pid file (false).
    fn wait_ready(&self, log_len: u64) -> Result<bool> {
        let secs: u64 = PG_CTL_WAIT_SECS.parse().unwrap_or(60);
        let started = Instant::now();
        let deadline = started + Duration::from_secs(secs);
        loop {
            std::thread::sleep(Duration::from_millis(4));
            match self.pid_file()? {
                Some(p) if !user::is_postgres_process(p.pid) => {
                    // Gone, or exiting (a zombie) before removing its pid file.
                    let _ = self.running();
                    return Ok(false);
                }
                Some(p) if p.status.as_deref() == Some("ready") => return Ok(true),
                Some(_) => {}
                None => {
                    let log = read_from(&self.layout.log, log_len);
                    // The server writes its pid file first thing: none after a while means it
                    // never ran (e.g. pg_ctl's shell could not open the log).
                    if log.contains("FATAL")
                        || log.contains("PANIC")
                        || Instant::now() > started + Duration::from_secs(10)
                    {
                        return Ok(false);
                    }
                }
            }
            if Instant::now() > deadline {
                return Err(Error::dev(
                    DevProblem::Failed,
                    format!(
                        "the server did not become ready within {secs} s; see {}",
                        self.layout.log.display()
                    ),
                ));
            }
        }
    }

    /// `pg_ctl stop -m fast`, then wait until the server is gone.
    pub fn stop(&self) -> Result<()> {
        let pid_before = self.pid_file()?.map(|p| p.pid);
        let mut c = self.command("pg_ctl");
        // -W: pgkeel waits itself, polling more often than pg_ctl's 100 ms.
        c.args(["stop", "-W", "-s", "-m", "fast", "-D"])
            .arg(&self.layout.data);
        let out = self.run(c, "pg_ctl stop")?;
        if !out.status.success() {
            return Err(Error::dev(
                DevProblem::Failed,
                format!(
                    "pg_ctl stop failed{}: {}",
                    self.as_user(),
                    tail(&String::from_utf8_lossy(&out.stderr), 6)
                ),
            ));
        }
        let secs: u64 = PG_CTL_WAIT_SECS.parse().unwrap_or(60);
        let deadline = Instant::now() + Duration::from_secs(secs);
        // The pid file goes a moment before the process (and its listening socket): wait for
        // the process, so an immediate restart finds the port free.
        let Some(pid) = pid_before else {
            return Ok(());
        };
        while user::is_postgres_process(pid) {
            if Instant::now() > deadline {
                return Err(Error::dev(
                    DevProblem::Failed,
                    format!("the server (pid {pid}) did not stop within {secs} s"),
                ));
            }
            std::thread::sleep(Duration::from_millis(4));
        }
        Ok(())
    }
}

/// The major version in `data/PG_VERSION`.
pub fn data_major(layout: &Layout) -> Option<String> {
    std::fs::read_to_string(layout.data.join("PG_VERSION"))
        .ok()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
}

/// Is `port` free on 127.0.0.1?
pub fn port_is_free(port: u16) -> bool {
    std::net::TcpListener::bind(("127.0.0.1", port)).is_ok()
}

/// The last `n` non-empty lines of `text`, joined with ` | `.
fn tail(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    lines[lines.len().saturating_sub(n)..].join(" | ")
}

/// What a file gained after `offset` (the server log since this start).
fn read_from(path: &Path, offset: u64) -> String {
    let bytes = std::fs::read(path).unwrap_or_default();
    let start = usize::try_from(offset).unwrap_or(0).min(bytes.len());
    String::from_utf8_lossy(&bytes[start..]).into_owned()
}

#[cfg(test)]
mod tests {
    #[test]
    fn tail_keeps_the_last_lines() {
        assert_eq!(super::tail("a\n\nb\nc\n", 2), "b | c");
        assert_eq!(super::tail("", 3), "");
    }
}
