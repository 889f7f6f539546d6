//! Validation: declared expectations and health/integrity checks against the live catalog.
//!
//! The types here are pure and shared: a check or an expectation produces [`Finding`]s with a
//! [`Severity`]; the orchestration (which checks run, severities from `[validate]`, the report)
//! lives beside them. Each health check is one file under [`crate::db::checks`] (a check is a
//! catalog query plus the reading of its rows).

pub mod expectations;
mod run;
pub mod settings;

pub use run::{SeverityCounts, ValidateOptions, ValidateReport};

use serde::Serialize;

/// How much a finding matters. `Error` fails `pgkeel validate` and `up --validate`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Info,
    Warning,
    Error,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Error => "error",
        }
    }

    pub fn parse(s: &str) -> Option<Severity> {
        match s {
            "info" => Some(Severity::Info),
            "warning" | "warn" => Some(Severity::Warning),
            "error" => Some(Severity::Error),
            _ => None,
        }
    }
}

impl std::fmt::Display for Severity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One thing validation found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    /// The check's id (e.g. `fk_without_index`) or `expect.<kind>` for an expectation.
    pub check: String,
    pub severity: Severity,
    /// The object concerned, qualified (`public.orders`, `public.orders.customer_id`,
    /// `public.f(integer)`).
    pub object: String,
    /// What is wrong, in one sentence.
    pub message: String,
    /// How to fix it: a statement or a step.
    pub hint: String,
}
