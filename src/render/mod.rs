//! Text renderers shared by a command and `up`'s report (`output`): they print through
//! [`crate::stdout`] and depend on no command file, so `output` and the commands both use them
//! without importing each other.

pub mod backups;
pub mod lint;
pub mod validate;
