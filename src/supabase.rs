//! Printing for `pgkeel supabase bootstrap` and `pgkeel adopt supabase` (the work is the
//! engine's: pgkeel_engine::supabase).

use std::process::ExitCode;

use pgkeel_engine::Migrator;

use crate::exit::Exit;
use crate::output::Out;

pub async fn bootstrap(migrator: &Migrator, force: bool, out: &Out) -> ExitCode {
    match migrator.supabase_bootstrap(force).await {
        Ok(r) => {
            let mut text = if r.changed {
                format!(
                    "supabase bootstrap {} applied{}",
                    r.version,
                    r.previous
                        .map(|p| format!(" (was {p})"))
                        .unwrap_or_default()
                )
            } else {
                format!(
                    "supabase bootstrap {} already applied; nothing changed",
                    r.version
                )
            };
            if !r.standins.is_empty() {
                text.push_str(&format!(
                    "\nstand-in extensions (no side effects): {}",
                    r.standins.join(", ")
                ));
            }
            if !r.real_extensions.is_empty() {
                text.push_str(&format!(
                    "\nreal extensions left alone: {}",
                    r.real_extensions.join(", ")
                ));
            }
            if r.forced {
                text.push_str(&format!(
                    "\nforced despite: {}",
                    r.supabase_signs.join("; ")
                ));
            }
            out.message(&r, &text)
        }
        Err(e) => out.engine_error(&e),
    }
}

pub async fn adopt(migrator: &Migrator, out: &Out) -> ExitCode {
    match migrator.adopt_supabase().await {
        Ok(r) => {
            let mut text = format!(
                "imported {} migration(s) from supabase_migrations.schema_migrations ({} already recorded)",
                r.imported.len(),
                r.already_recorded.len()
            );
            if !r.unverified.is_empty() {
                text.push_str(&format!(
                    "\nimported without statements to compare (old Supabase CLI): {}",
                    r.unverified.join(", ")
                ));
            }
            for m in &r.mismatches {
                text.push_str(&format!("\nnot imported: {}", m.message));
            }
            if !r.not_in_supabase_history.is_empty() {
                text.push_str(&format!(
                    "\nfiles not in the Supabase history (pending): {}",
                    r.not_in_supabase_history.join(", ")
                ));
            }
            let code = out.message(&r, &text);
            if r.mismatches.is_empty() {
                code
            } else {
                Exit::Check.into()
            }
        }
        Err(e) => out.engine_error(&e),
    }
}
