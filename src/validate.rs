//! `pgkeel validate` (the work is the engine's: pgkeel_engine::validate; the text is
//! crate::render::validate's).

use std::process::ExitCode;

use pgkeel_engine::validate::ValidateOptions;
use pgkeel_engine::Migrator;
use serde_json::json;

use crate::exit::Exit;
use crate::output::Out;
use crate::render::validate::{print_findings, summary};
use crate::stdout::outln;

pub async fn run(migrator: &Migrator, checks: Vec<String>, out: &Out, json: bool) -> ExitCode {
    let opts = ValidateOptions {
        checks: (!checks.is_empty()).then_some(checks),
    };
    let report = match migrator.validate(&opts).await {
        Ok(r) => r,
        Err(e) => return out.engine_error(&e),
    };
    let code = if report.fails { Exit::Check } else { Exit::Ok };
    if json {
        out.print_json(&out.document(true, json!({ "result": report })));
        return code.into();
    }
    print_findings(&report);
    outln!("{}", summary(&report));
    code.into()
}
