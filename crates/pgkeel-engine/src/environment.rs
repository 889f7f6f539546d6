//! What loading the configuration asks of the outside world (variables, folders, files), as a
//! trait, so that resolving a configuration is tested without a process environment; and its
//! real implementation.

use std::path::Path;

/// What the config loader may ask of the outside world.
pub trait Environment {
    fn var(&self, name: &str) -> Option<String>;
    fn is_dir(&self, path: &Path) -> bool;
    /// The text of a file, `None` if it does not exist (or cannot be read).
    fn read_file(&self, _path: &Path) -> Option<String> {
        None
    }
}

/// The real process environment and file system.
pub struct SystemEnvironment;

impl Environment for SystemEnvironment {
    fn var(&self, name: &str) -> Option<String> {
        std::env::var(name).ok().filter(|v| !v.is_empty())
    }
    fn is_dir(&self, path: &Path) -> bool {
        path.is_dir()
    }
    fn read_file(&self, path: &Path) -> Option<String> {
        std::fs::read_to_string(path).ok()
    }
}
