//! pgkeel-engine: everything pgkeel knows about migrations, for the CLI and the MCP server.
//!
//! Pure parts (no I/O, unit-tested): [`version`], [`checksum`], [`statements`], [`migration`],
//! [`discovery`], [`plan`], [`config`], [`history`] (types). Parts that touch the world:
//! [`source`] (reads migration folders), [`db`] (every SQL statement pgkeel sends), and
//! [`migrator`], which ties them together into the operations both faces call.

pub mod authoring;
pub mod backup;
pub mod checksum;
pub mod config;
pub mod db;
pub mod dev;
pub mod discovery;
pub mod duration;
pub mod environment;
pub mod error;
pub mod events;
pub mod history;
pub mod lint;
pub mod migration;
pub mod migrator;
pub mod plan;
pub mod psql;
pub mod redact;
pub mod rollback;
pub mod segment;
pub mod snapshot;
pub mod source;
pub mod sql_text;
pub mod statement_kind;
pub mod statements;
pub mod supabase;
pub mod touch;
pub mod typegen;
pub mod types;
pub mod validate;
pub mod version;

pub use config::{Config, Overrides};
pub use error::{DevProblem, Error, LockHolder, MigrationFailure, Result};
pub use events::{Event, Events, NoEvents};
pub use migrator::Migrator;
