//! The engine tests' shared set-up: a `Migrator` for a test project on a test database, with
//! the project's own config (flags give the database URL and turn the log file off). Each test
//! file takes what it uses (`mod support;`), so not every function is used by every file.
#![allow(dead_code)]

use pgkeel_engine::config::{Config, Overrides, SystemEnvironment};
use pgkeel_engine::Migrator;
use pgkeel_testkit::{Project, TestDb};

/// A migrator for `project` on the database at `url`, its config changed by `tweak` first.
pub fn migrator_at(project: &Project, url: &str, tweak: impl FnOnce(&mut Config)) -> Migrator {
    let flags = Overrides {
        database_url: Some(url.to_string()),
        log_file: Some("off".into()),
        ..Overrides::default()
    };
    let mut config = Config::resolve(
        project.root().to_path_buf(),
        None,
        &SystemEnvironment,
        &flags,
    )
    .expect("config");
    tweak(&mut config);
    Migrator::new(config)
}

/// [`migrator_at`] the test database.
pub fn migrator_with(project: &Project, db: &TestDb, tweak: impl FnOnce(&mut Config)) -> Migrator {
    migrator_at(project, &db.url, tweak)
}

/// [`migrator_with`] the config as resolved.
pub fn migrator(project: &Project, db: &TestDb) -> Migrator {
    migrator_with(project, db, |_| {})
}

/// A tweak for tests whose migrations are destructive on purpose: lint would (rightly) stop
/// them, and they are about something else.
pub fn without_lint(config: &mut Config) {
    config.lint.enabled = false;
}
