//! The baseline of bench/lint.sh: everything `pgkeel lint` does except the rules — read the
//! project's configuration, discover its migrations (read, normalise, checksum, directives) and
//! parse each up part and down SQL with squawk's parser — then print how many statements it
//! parsed. The difference to `pgkeel lint` is the cost of squawk-linter's rules and pgkeel's
//! adapter (positions, severities, ignores).
//!
//!   cargo run --release -p pgkeel-engine --example lint_baseline   (in a project folder)

use pgkeel_engine::{Config, Overrides};
use squawk_syntax::SourceFile;

fn main() -> std::process::ExitCode {
    let run = || -> Result<usize, String> {
        let cwd = std::env::current_dir().map_err(|e| e.to_string())?;
        let config = Config::load(&cwd, None, &Overrides::default()).map_err(|e| e.to_string())?;
        let discovered = pgkeel_engine::source::discover(&config).map_err(|e| e.to_string())?;
        let mut statements = 0;
        for m in &discovered.migrations {
            let mut parts = vec![&m.content[m.up_range.clone()]];
            if let Some(r) = &m.down_range {
                parts.push(&m.content[r.clone()]);
            }
            if let Some(d) = &m.down_file_content {
                parts.push(d);
            }
            for p in parts {
                statements += SourceFile::parse(p).tree().stmts().count();
            }
        }
        Ok(statements)
    };
    match run() {
        Ok(n) => {
            println!("{n}");
            std::process::ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("lint_baseline: {e}");
            std::process::ExitCode::from(1)
        }
    }
}
