//! Helpers shared by the test files that run the built `pgkeel` binary end to end: the outcome of
//! a run ([`Run`]), a command with a clean configuration environment ([`pgkeel_command`]), and one
//! test's world of a project folder and a database of its own ([`Ctx`]).
#![allow(dead_code)] // each test file uses the helpers it needs

use std::path::Path;
use std::process::{Child, Command, Output, Stdio};

use pgkeel_testkit::{Project, TestDb};
use serde_json::Value;
use tokio_postgres::Client;

pub const BIN: &str = env!("CARGO_BIN_EXE_pgkeel");

/// Environment variables that would change how pgkeel is configured; removed for every run so
/// the tests do not depend on the caller's environment.
pub const CONFIG_ENV: &[&str] = &[
    "DATABASE_URL",
    "PGKEEL_DATABASE_URL",
    "PGKEEL_CONFIG",
    "PGKEEL_MIGRATIONS",
    "PGKEEL_HISTORY_SCHEMA",
    "PGKEEL_LOG_FILE",
    "PGKEEL_LOG",
    "PGKEEL_STRICT",
    "PGKEEL_ALLOW_OUT_OF_ORDER",
    "PGKEEL_LOCK_WAIT_TIMEOUT",
    "PGKEEL_LOCK_TIMEOUT",
    "PGKEEL_STATEMENT_TIMEOUT",
    "PGKEEL_CONNECT_TIMEOUT",
    "PGKEEL_LOCK_RETRIES",
    "PGKEEL_LOCK_RETRY_BACKOFF",
    "PGKEEL_ROLLBACK_KEY",
    // Without a URL pgkeel falls back to the dev database, which these configure.
    "PGKEEL_DEV_AUTO",
    "PGKEEL_DEV_BIN_DIR",
    "PGKEEL_DEV_PORT",
];

/// The outcome of one run of the binary.
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    pub fn from_output(o: Output) -> Run {
        Run {
            code: o.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
        }
    }

    /// Stdout and stderr together.
    pub fn all(&self) -> String {
        format!("{}\n{}", self.stdout, self.stderr)
    }

    /// Stdout parsed as the one JSON document `--json` prints.
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("stdout is not one JSON document ({e}):\n{self}"))
    }

    #[track_caller]
    pub fn expect(self, code: i32) -> Run {
        assert_eq!(self.code, code, "unexpected exit code:\n{self}");
        self
    }
}

impl std::fmt::Display for Run {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "exit code {}\n--- stdout ---\n{}\n--- stderr ---\n{}",
            self.code, self.stdout, self.stderr
        )
    }
}

/// Run `c` in `root` with a clean configuration environment, no colour and no stdin. `c` is the
/// binary itself or a launcher that runs it (such as `setpriv … -- BIN`).
pub fn isolate(c: &mut Command, root: &Path) {
    c.current_dir(root);
    for v in CONFIG_ENV {
        c.env_remove(v);
    }
    c.env("NO_COLOR", "1");
    c.stdin(Stdio::null());
}

/// The binary in `root` ([`isolate`]d), and no `--log-file` yet: for the tests that choose their
/// own log file.
pub fn bare_command(root: &Path) -> Command {
    let mut c = Command::new(BIN);
    isolate(&mut c, root);
    c
}

/// `pgkeel --log-file off` in `root` ([`bare_command`]), not yet run.
pub fn pgkeel_command(root: &Path) -> Command {
    let mut c = bare_command(root);
    c.args(["--log-file", "off"]);
    c
}

/// Run `c` to the end and collect its outcome.
pub fn run_command(mut c: Command) -> Run {
    Run::from_output(c.output().expect("run pgkeel"))
}

/// `pgkeel --log-file off ARGS…` in `root`, with no database configured.
pub fn run(root: &Path, args: &[&str]) -> Run {
    let mut c = pgkeel_command(root);
    c.args(args);
    run_command(c)
}

/// [`run`] with `--database-url` of `db`.
pub fn run_db(root: &Path, db: &TestDb, args: &[&str]) -> Run {
    let mut c = pgkeel_command(root);
    c.args(["--database-url", &db.url]);
    c.args(args);
    run_command(c)
}

/// One test's world: a project folder and a database of its own.
pub struct Ctx {
    pub project: Project,
    pub db: TestDb,
}

impl Ctx {
    /// An empty project folder and a fresh database.
    pub async fn new() -> Ctx {
        Ctx::with_project(Project::new()).await
    }

    /// `project` (already written to) and a fresh database.
    pub async fn with_project(project: Project) -> Ctx {
        Ctx {
            project,
            db: TestDb::new().await,
        }
    }

    pub fn root(&self) -> &Path {
        self.project.root()
    }

    pub fn write(&self, rel: &str, content: impl AsRef<[u8]>) {
        self.project.write(rel, content);
    }

    /// `pgkeel --log-file off --database-url <db> ARGS…`, not yet run.
    pub fn command(&self, args: &[&str]) -> Command {
        let mut c = pgkeel_command(self.root());
        c.args(["--database-url", &self.db.url]);
        c.args(args);
        c
    }

    pub fn run(&self, args: &[&str]) -> Run {
        run_command(self.command(args))
    }

    /// Start pgkeel in the background (stdout and stderr captured).
    pub fn spawn(&self, args: &[&str]) -> Child {
        let mut c = self.command(args);
        c.stdout(Stdio::piped()).stderr(Stdio::piped());
        c.spawn().expect("spawn pgkeel")
    }

    pub async fn client(&self) -> Client {
        self.db.client().await
    }
}
