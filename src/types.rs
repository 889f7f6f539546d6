//! `pgkeel types generate|verify` (the work is the engine's: pgkeel_engine::typegen).

use std::process::ExitCode;

use pgkeel_engine::Migrator;

use crate::cli::TypesAction;
use crate::output::Out;

pub async fn run(migrator: &Migrator, action: TypesAction, out: &Out) -> ExitCode {
    match action {
        TypesAction::Generate {
            schemas,
            out: file,
            stdout,
        } => {
            let schemas = (!schemas.is_empty()).then_some(schemas);
            // --out is relative to the current folder; [types] out to the project root.
            let file = file.map(|f| match std::env::current_dir() {
                Ok(cwd) if f.is_relative() => cwd.join(f),
                _ => f,
            });
            if stdout || (file.is_none() && migrator.config().types.out.is_none()) {
                return match migrator.generate_types(schemas).await {
                    Ok(g) => out.types_printed(&g),
                    Err(e) => out.engine_error(&e),
                };
            }
            let file = file.map(|f| f.to_string_lossy().into_owned());
            match migrator.write_types(schemas, file.as_deref()).await {
                Ok(w) => {
                    let text = format!(
                        "{} {} ({} bytes, schemas {}, fingerprint {})",
                        if w.written { "wrote" } else { "unchanged:" },
                        w.file,
                        w.bytes,
                        w.generated.schemas.join(", "),
                        &w.generated.fingerprint[..w.generated.fingerprint.len().min(12)]
                    );
                    out.message(&w, &text)
                }
                Err(e) => out.engine_error(&e),
            }
        }
        TypesAction::Verify => match migrator.verify_types().await {
            Ok(check) => out.types_verify(&check),
            Err(e) => out.engine_error(&e),
        },
    }
}
