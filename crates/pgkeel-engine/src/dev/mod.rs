//! The dev database: a project-local PostgreSQL cluster under `.pgkeel/dev/`, started from the
//! server binaries installed on the machine, listening on 127.0.0.1 only (trust auth, a Unix
//! socket inside `.pgkeel/dev/run`), with one database `pgkeel`.
//!
//! - [`binaries`]: finding initdb / pg_ctl / postgres and their version (parsing is pure).
//! - [`state`]: paths, the remembered port, postmaster.pid, the config files written (pure).
//! - [`user`]: which OS account runs the server (root hands it to `postgres` or `nobody`).
//! - [`cluster`]: initdb, pg_ctl start / stop, liveness, as processes.
//!
//! [`resolve`] is what every database command calls first: with no database URL configured it
//! points the configuration at the dev database, starting the cluster if needed.

pub mod binaries;
pub mod cluster;
pub mod state;
pub mod user;

use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::Serialize;

use crate::config::{Config, DevSettings};
use crate::error::{DevProblem, Error, Result};
use crate::events::Events;
use crate::migrator::{Migrator, UpOptions, UpReport};

use cluster::{Cluster, StartError};
use state::{Layout, State};

/// The dev database's name.
pub const DATABASE: &str = "pgkeel";
/// The dev cluster's superuser (initdb `--username`).
pub const SUPERUSER: &str = "postgres";

/// The URL of database `db` on a dev cluster at `port`.
pub fn url(port: u16, db: &str) -> String {
    format!("postgres://{SUPERUSER}@127.0.0.1:{port}/{db}")
}

/// `pgkeel dev status`.
#[derive(Debug, Clone, Serialize)]
pub struct DevStatus {
    pub running: bool,
    pub initialized: bool,
    pub pid: Option<u32>,
    pub port: Option<u16>,
    /// The dev database's URL (when a port is known: running, or the last one used).
    pub url: Option<String>,
    pub data_dir: String,
    /// The server binaries' version (e.g. `15.14`), when found.
    pub server_version: Option<String>,
    /// The major version that made the data directory (PG_VERSION).
    pub data_version: Option<String>,
    pub bin_dir: Option<String>,
    /// The OS account the server runs as.
    pub os_user: String,
}

/// `pgkeel dev start` (and what [`resolve`] did).
#[derive(Debug, Clone, Serialize)]
pub struct StartReport {
    pub url: String,
    pub port: u16,
    pub pid: Option<u32>,
    pub data_dir: String,
    pub server_version: String,
    pub bin_dir: String,
    pub os_user: String,
    /// initdb ran now (a fresh cluster).
    pub initialized: bool,
    /// The server was started now (false: it was already running).
    pub started: bool,
    /// A postmaster.pid left by a crashed server was removed.
    pub recovered_stale_pid: bool,
}

/// `pgkeel dev stop`.
#[derive(Debug, Clone, Serialize)]
pub struct StopReport {
    pub was_running: bool,
    pub recovered_stale_pid: bool,
    pub data_dir: String,
}

/// `pgkeel dev reset`.
#[derive(Debug, Clone, Serialize)]
pub struct ResetReport {
    pub url: String,
    pub hard: bool,
    pub start: StartReport,
    pub up: UpReport,
    /// Supabase projects: the `supabase/seed.sql` that ran after the migrations, if any.
    pub seeded: Option<String>,
}

/// One project's dev cluster.
#[derive(Debug, Clone)]
pub struct Dev {
    root: PathBuf,
    layout: Layout,
    settings: DevSettings,
}

impl Dev {
    pub fn new(config: &Config) -> Dev {
        Dev {
            root: config.root.clone(),
            layout: Layout::new(&config.root),
            settings: config.dev.clone(),
        }
    }

    pub fn layout(&self) -> &Layout {
        &self.layout
    }

    /// The binaries (matching the data directory's major version when it has one) and account.
    fn cluster(&self) -> Result<Cluster> {
        let mut bins = binaries::find(self.settings.bin_dir.as_deref())?;
        let data_major = cluster::data_major(&self.layout);
        if let Some(major) = &data_major {
            if *major != bins.major && self.settings.bin_dir.is_none() {
                // Prefer the installed binaries of the cluster's own version, when present.
                let dir = Path::new(binaries::DEBIAN_ROOT).join(major).join("bin");
                if let Ok(b) = binaries::find(Some(&dir)) {
                    bins = b;
                }
            }
            if *major != bins.major {
                return Err(Error::dev(
                    DevProblem::VersionMismatch,
                    format!(
                        "{} was created by PostgreSQL {major}, but the server binaries found are \
                         PostgreSQL {} ({}); run `pgkeel dev reset --hard` (or remove {}) to \
                         recreate it with PostgreSQL {}, or set [dev] bin_dir to PostgreSQL \
                         {major}'s binaries",
                        self.layout.data.display(),
                        bins.major,
                        bins.dir.display(),
                        self.layout.dir.display(),
                        bins.major
                    ),
                ));
            }
        }
        Ok(Cluster {
            layout: self.layout.clone(),
            bins,
            run_as: user::server_user()?,
        })
    }

    /// Start the cluster if it is not running (initdb first on a fresh project). Idempotent.
    pub async fn start(&self) -> Result<StartReport> {
        if let Some(report) = self.already_running() {
            return Ok(report);
        }
        let cluster = self.cluster()?;
        cluster.prepare_dirs()?;
        let _guard = DirLock::acquire(&self.layout.dir)?;
        let (running, recovered_stale_pid) = if cluster.initialized() {
            cluster.running()?
        } else {
            (None, false)
        };
        let os_user = os_user(&cluster);
        if let Some(pid) = running {
            let port = pid
                .port
                .or(State::load(&self.layout.state).port)
                .ok_or_else(|| {
                    Error::dev(
                        DevProblem::Failed,
                        "the dev server is running but its postmaster.pid has no port yet; retry",
                    )
                })?;
            return Ok(self.report(&cluster, port, Some(pid.pid), os_user, false, false, false));
        }
        if self.settings.port.is_some() {
            // A configured port that is taken is an error: say so before a long initdb.
            self.choose_port(None, &[])?;
        }
        let initialized = !cluster.initialized();
        if initialized {
            cluster.init()?;
        }
        let mut state = State::load(&self.layout.state);
        let mut tried = Vec::new();
        let port = loop {
            let port = self.choose_port(state.port, &tried)?;
            match cluster.start(port) {
                Ok(()) => break port,
                Err(StartError::PortTaken(msg)) => {
                    if self.settings.port.is_some() || tried.len() >= 5 {
                        return Err(Error::dev(
                            DevProblem::PortInUse,
                            format!("port {port} on 127.0.0.1 is in use: {msg}"),
                        ));
                    }
                    tried.push(port);
                }
                Err(StartError::Other(e)) => return Err(e),
            }
        };
        state.port = Some(port);
        state.server_version = Some(cluster.bins.version.clone());
        state.bin_dir = Some(cluster.bins.dir.display().to_string());
        state.os_user = Some(os_user.clone());
        state.save(&self.layout.state)?;
        ensure_database(port, DATABASE).await?;
        let pid = cluster.pid_file()?.map(|p| p.pid);
        Ok(self.report(
            &cluster,
            port,
            pid,
            os_user,
            initialized,
            true,
            recovered_stale_pid,
        ))
    }

    /// The fast path of every command using the dev database: the server is up (its pid file
    /// says `ready`, its process is PostgreSQL) and the last start's details are remembered.
    fn already_running(&self) -> Option<StartReport> {
        let text = std::fs::read_to_string(self.layout.data.join("postmaster.pid")).ok()?;
        let pid = state::parse_pid_file(&text)?;
        if pid.status.as_deref() != Some("ready") || !user::is_postgres_process(pid.pid) {
            return None;
        }
        let state = State::load(&self.layout.state);
        let port = pid.port?;
        if self.settings.port.is_some_and(|p| p != port) {
            return None;
        }
        Some(StartReport {
            url: url(port, DATABASE),
            port,
            pid: Some(pid.pid),
            data_dir: self.layout.data.display().to_string(),
            server_version: state.server_version?,
            bin_dir: state.bin_dir?,
            os_user: state.os_user?,
            initialized: false,
            started: false,
            recovered_stale_pid: false,
        })
    }

    #[allow(clippy::too_many_arguments)]
    fn report(
        &self,
        cluster: &Cluster,
        port: u16,
        pid: Option<u32>,
        os_user: String,
        initialized: bool,
        started: bool,
        recovered_stale_pid: bool,
    ) -> StartReport {
        StartReport {
            url: url(port, DATABASE),
            port,
            pid,
            data_dir: self.layout.data.display().to_string(),
            server_version: cluster.bins.version.clone(),
            bin_dir: cluster.bins.dir.display().to_string(),
            os_user,
            initialized,
            started,
            recovered_stale_pid,
        }
    }

    /// `[dev] port` if free (else an error naming it), else the remembered port, else the
    /// project's preferred port or the next free one.
    fn choose_port(&self, remembered: Option<u16>, tried: &[u16]) -> Result<u16> {
        if let Some(port) = self.settings.port {
            if !cluster::port_is_free(port) {
                return Err(Error::dev(
                    DevProblem::PortInUse,
                    format!(
                        "port {port} ([dev] port) on 127.0.0.1 is in use by another program; \
                         stop it, choose another [dev] port, or remove the setting to pick a \
                         free port automatically"
                    ),
                ));
            }
            return Ok(port);
        }
        state::port_candidates(remembered, state::preferred_port(&self.root))
            .into_iter()
            .find(|p| !tried.contains(p) && cluster::port_is_free(*p))
            .ok_or_else(|| {
                Error::dev(
                    DevProblem::PortInUse,
                    format!(
                        "no free port on 127.0.0.1 in {}..{}; set [dev] port",
                        state::PORT_RANGE.start,
                        state::PORT_RANGE.end
                    ),
                )
            })
    }

    /// Stop the cluster (`pg_ctl stop -m fast`). Not running is not an error.
    pub fn stop(&self) -> Result<StopReport> {
        let data_dir = self.layout.data.display().to_string();
        if !self.layout.data.join("PG_VERSION").is_file() {
            return Ok(StopReport {
                was_running: false,
                recovered_stale_pid: false,
                data_dir,
            });
        }
        let cluster = self.cluster()?;
        let _guard = DirLock::acquire(&self.layout.dir)?;
        let (running, recovered_stale_pid) = cluster.running()?;
        if running.is_some() {
            cluster.stop()?;
        }
        Ok(StopReport {
            was_running: running.is_some(),
            recovered_stale_pid,
            data_dir,
        })
    }

    /// Running or not, where, and which version. Needs no binaries (reports what it can).
    pub fn status(&self) -> Result<DevStatus> {
        let found = self.cluster();
        let initialized = self.layout.data.join("PG_VERSION").is_file();
        let pid_file = if initialized {
            let path = self.layout.data.join("postmaster.pid");
            match std::fs::read_to_string(&path) {
                Ok(t) => state::parse_pid_file(&t),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
                Err(e) => return Err(Error::io(path, e)),
            }
        } else {
            None
        };
        let running = pid_file.filter(|p| user::is_postgres_process(p.pid));
        let port = running
            .as_ref()
            .and_then(|p| p.port)
            .or_else(|| State::load(&self.layout.state).port);
        let (server_version, bin_dir, os_user) = match &found {
            Ok(c) => (
                Some(c.bins.version.clone()),
                Some(c.bins.dir.display().to_string()),
                os_user(c),
            ),
            Err(_) => (None, None, user::current_user_name()),
        };
        Ok(DevStatus {
            running: running.is_some(),
            initialized,
            pid: running.as_ref().map(|p| p.pid),
            port,
            url: port.map(|p| url(p, DATABASE)),
            data_dir: self.layout.data.display().to_string(),
            server_version,
            data_version: cluster::data_major(&self.layout),
            bin_dir,
            os_user,
        })
    }

    /// Drop and recreate the dev database (with `hard`: remove the whole cluster and init a new
    /// one), then apply every migration. Points `config` at the dev database.
    pub async fn reset(
        &self,
        config: &mut Config,
        hard: bool,
        allow_empty: bool,
        events: Arc<dyn Events>,
    ) -> Result<ResetReport> {
        if hard {
            if self.layout.data.join("PG_VERSION").is_file() {
                // A cluster of another major version cannot be stopped by these binaries; its
                // server is not running in that case (it could not have started).
                match self.stop() {
                    Ok(_) => {}
                    Err(Error::Dev {
                        problem: DevProblem::VersionMismatch,
                        ..
                    }) => {}
                    Err(e) => return Err(e),
                }
            }
            if self.layout.data.exists() {
                std::fs::remove_dir_all(&self.layout.data)
                    .map_err(|e| Error::io(&self.layout.data, e))?;
            }
        }
        let start = self.start().await?;
        if !start.initialized {
            // DROP DATABASE … WITH (FORCE) closes other sessions; PostgreSQL 13+.
            let force = binaries::major_of(&start.server_version)
                .parse::<u32>()
                .is_ok_and(|m| m >= 13);
            recreate_database(start.port, DATABASE, force).await?;
        }
        config.database_url = Some(start.url.clone());
        config.database_url_source = Some("the dev database (.pgkeel/dev)".into());
        config.dev_database = true;
        let migrator = Migrator::new(config.clone()).with_events(events);
        let up = migrator
            .up(&UpOptions {
                allow_empty,
                ..UpOptions::default()
            })
            .await
            .map_err(|e| e.for_command("pgkeel dev reset"))?;
        // Supabase projects: supabase/seed.sql after the migrations, as `supabase db reset`.
        let seeded = if up.failure.is_none() {
            migrator.supabase_seed().await?.map(|s| s.path)
        } else {
            None
        };
        Ok(ResetReport {
            url: start.url.clone(),
            hard,
            start,
            up,
            seeded,
        })
    }
}

fn os_user(cluster: &Cluster) -> String {
    cluster
        .run_as
        .as_ref()
        .map(|u| u.name.clone())
        .unwrap_or_else(user::current_user_name)
}

/// With no database URL configured (and `[dev] auto` not off), point `config` at the dev
/// database, starting the cluster if needed, and say so once through `announce`. Returns
/// whether it did.
pub async fn resolve(config: &mut Config, announce: &mut dyn FnMut(&str)) -> Result<bool> {
    if config.database_url.is_some() || !config.dev.auto {
        return Ok(false);
    }
    let report = Dev::new(config).start().await?;
    config.database_url = Some(report.url.clone());
    config.database_url_source = Some("the dev database (.pgkeel/dev)".into());
    config.dev_database = true;
    let how = if report.initialized {
        "created and started it; "
    } else if report.started {
        "started it; "
    } else {
        ""
    };
    announce(&format!(
        "pgkeel: no {}; using the dev database {} ({how}`pgkeel dev stop` stops it)",
        config.database_url_env, report.url
    ));
    Ok(true)
}

/// The deadline of the dev cluster's own admin connections (a cluster on this machine that
/// pgkeel just started; the project's `[database] connect_timeout` applies once the dev
/// database is the configured one).
const ADMIN_DEADLINE: std::time::Duration = crate::config::DEFAULT_CONNECT_TIMEOUT;

/// Create database `db` on the dev cluster unless it exists.
async fn ensure_database(port: u16, db: &str) -> Result<()> {
    let admin = crate::db::connect(&url(port, "postgres"), "dev", None, ADMIN_DEADLINE).await?;
    let exists = admin
        .client
        .query_opt("SELECT 1 FROM pg_database WHERE datname = $1", &[&db])
        .await
        .map_err(|e| Error::db("checking for the dev database", e))?
        .is_some();
    if !exists {
        admin
            .client
            .batch_execute(&format!("CREATE DATABASE {db}"))
            .await
            .map_err(|e| Error::db("creating the dev database", e))?;
    }
    Ok(())
}

/// Drop database `db` (closing its sessions) and create it empty.
async fn recreate_database(port: u16, db: &str, force: bool) -> Result<()> {
    let admin = crate::db::connect(&url(port, "postgres"), "dev", None, ADMIN_DEADLINE).await?;
    let force = if force { " WITH (FORCE)" } else { "" };
    admin
        .client
        .batch_execute(&format!("DROP DATABASE IF EXISTS {db}{force}"))
        .await
        .map_err(|e| Error::db("dropping the dev database", e))?;
    admin
        .client
        .batch_execute(&format!("CREATE DATABASE {db}"))
        .await
        .map_err(|e| Error::db("creating the dev database", e))?;
    Ok(())
}

/// An exclusive lock on `.pgkeel/dev/.lock` while starting or stopping, so two pgkeel processes
/// do not race to init or start the same cluster.
struct DirLock {
    _file: std::fs::File,
}

impl DirLock {
    fn acquire(dir: &Path) -> Result<DirLock> {
        let path = dir.join(".lock");
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(|e| Error::io(&path, e))?;
        // SAFETY: flock on a file descriptor we own; released when the file closes.
        let rc = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX) };
        if rc != 0 {
            return Err(Error::io(path, std::io::Error::last_os_error()));
        }
        Ok(DirLock { _file: file })
    }
}
