//! One file per MCP tool. Each is a `#[tool_router]` impl block on [`crate::PgkeelServer`] with
//! its own router function, combined in [`crate::server`]; each tool is a thin call into the
//! engine plus rendering.

pub mod apply_migration;
pub mod describe_schema;
pub mod execute_sql;
pub mod generate_types;
pub mod migration_status;
pub mod plan_migration;
pub mod rollback;
pub mod validate_schema;
