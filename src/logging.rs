//! Logs: tracing to stderr (warnings by default, more with -v) and, when configured, to a log
//! file (info and above, appended). Stdout is reserved for command output.

use std::fs::OpenOptions;
use std::path::Path;
use std::sync::Mutex;

use tracing_subscriber::filter::LevelFilter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{fmt, EnvFilter, Layer};

/// Set up logging. A log file that cannot be opened is reported on stderr and skipped.
pub fn init(verbose: u8, log_file: Option<&Path>) {
    let stderr_level = match verbose {
        0 => LevelFilter::WARN,
        1 => LevelFilter::INFO,
        _ => LevelFilter::DEBUG,
    };
    // Events with target `pgkeel_report` repeat what the command prints itself: file only.
    let stderr_filter = EnvFilter::builder()
        .with_default_directive(stderr_level.into())
        .with_env_var("PGKEEL_LOG")
        .from_env_lossy()
        .add_directive("pgkeel_report=off".parse().expect("static directive"));
    let stderr_layer = fmt::layer()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_target(false)
        .without_time()
        .with_filter(stderr_filter);

    let file_layer = log_file.and_then(|path| {
        if let Some(dir) = path.parent() {
            if let Err(e) = std::fs::create_dir_all(dir) {
                eprintln!("warning: cannot create log folder {}: {e}", dir.display());
                return None;
            }
        }
        match OpenOptions::new().create(true).append(true).open(path) {
            Ok(file) => Some(
                fmt::layer()
                    .with_writer(Mutex::new(file))
                    .with_ansi(false)
                    .with_filter(LevelFilter::INFO),
            ),
            Err(e) => {
                eprintln!("warning: cannot open log file {}: {e}", path.display());
                None
            }
        }
    });
    let _ = tracing_subscriber::registry()
        .with(stderr_layer)
        .with(file_layer)
        .try_init();
}
