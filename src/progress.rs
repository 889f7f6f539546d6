//! Draws engine events: a progress bar on a terminal, plain lines on stderr otherwise.

use std::io::IsTerminal;
use std::sync::Mutex;

use indicatif::{ProgressBar, ProgressStyle};
use pgkeel_engine::{Event, Events};

pub struct Reporter {
    enabled: bool,
    terminal: bool,
    bar: Mutex<Option<ProgressBar>>,
}

impl Reporter {
    pub fn new(enabled: bool) -> Reporter {
        Reporter {
            enabled,
            terminal: std::io::stderr().is_terminal(),
            bar: Mutex::new(None),
        }
    }

    fn line(&self, text: &str) {
        if let Ok(guard) = self.bar.lock() {
            if let Some(bar) = guard.as_ref() {
                bar.println(text);
                return;
            }
        }
        eline(text);
    }

    pub fn finish(&self) {
        if let Ok(mut guard) = self.bar.lock() {
            if let Some(bar) = guard.take() {
                bar.finish_and_clear();
            }
        }
    }
}

/// One line on stderr in one write (`eprintln!` writes each formatted piece on its own: a dozen
/// system calls a migration, between one migration's result and the next one's start). A
/// failed write is ignored, as `eprintln!` would panic on it instead.
fn eline(text: &str) {
    use std::io::Write;
    let _ = std::io::stderr().write_all(format!("{text}\n").as_bytes());
}

impl Events for Reporter {
    fn event(&self, event: Event) {
        if !self.enabled {
            return;
        }
        match event {
            Event::LockWaiting { holder } => self.line(&format!(
                "waiting for the migration lock{}",
                holder
                    .map(|h| format!(" (held by {h})"))
                    .unwrap_or_default()
            )),
            Event::LockAcquired => self.line("migration lock acquired"),
            Event::HistoryUpgraded { format } => {
                self.line(&format!("history schema ready (format {format})"))
            }
            Event::Planned { total } if self.terminal && total > 0 => {
                let bar = ProgressBar::new(total as u64);
                bar.set_style(
                    ProgressStyle::with_template("{bar:30} {pos}/{len} {wide_msg}")
                        .unwrap_or_else(|_| ProgressStyle::default_bar()),
                );
                if let Ok(mut guard) = self.bar.lock() {
                    *guard = Some(bar);
                }
            }
            Event::Planned { .. } => {}
            Event::MigrationStarted {
                index,
                total,
                version,
                name,
                resume_from,
                segments,
            } => {
                let resume = if resume_from > 0 {
                    format!(" (resuming at segment {} of {segments})", resume_from + 1)
                } else {
                    String::new()
                };
                let bar = self.bar.lock().ok().and_then(|g| g.clone());
                match bar {
                    Some(bar) => bar.set_message(format!("{version} {name}{resume}")),
                    None => eline(&format!(
                        "[{}/{total}] applying {version} {name}{resume}",
                        index + 1
                    )),
                }
            }
            Event::SegmentDone { .. } => {}
            Event::MigrationApplied {
                version,
                duration_ms,
                ..
            } => {
                let bar = self.bar.lock().ok().and_then(|g| g.clone());
                match bar {
                    Some(bar) => bar.inc(1),
                    None => eline(&format!("      applied {version} in {duration_ms} ms")),
                }
            }
            Event::MigrationFailed { version } => self.line(&format!("      FAILED {version}")),
            Event::ServerNotice { severity, message } => {
                self.line(&format!("      server {severity}: {message}"))
            }
            Event::LockRetry { .. } => {
                if let Some(text) = pgkeel_engine::events::lock_retry_line(&event) {
                    self.line(&format!("      {text}"));
                }
            }
        }
    }
}
