//! Printing: compact text for people, a stable JSON document (`--json`) for scripts. Every JSON
//! document has `"pgkeel": 1` (the document format), `"command"` and `"ok"`; failures add
//! `"error": {"code", "message", …}`. Errors in text mode go to stderr.

use std::process::ExitCode;

use comfy_table::{presets, ContentArrangement, Table};
use pgkeel_engine::db::history::AuditEntry;
use pgkeel_engine::db::query::QueryOutput;
use pgkeel_engine::migrator::{StatusReport, UpReport};
use pgkeel_engine::plan::State;
use pgkeel_engine::Error;
use serde::Serialize;
use serde_json::{json, Value};

use crate::exit::Exit;

/// `println!` that does not panic when stdout is a closed pipe (`pgkeel status | head -2`).
macro_rules! outln {
    ($($t:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout().lock(), $($t)*);
    }};
}

/// How many applied migrations `status` lists without `--all`.
const RECENT_APPLIED: usize = 3;

pub struct Out {
    json: bool,
    command: &'static str,
}

impl Out {
    pub fn new(json: bool, command: &'static str) -> Out {
        Out { json, command }
    }

    pub fn command(&self) -> &'static str {
        self.command
    }

    fn document(&self, ok: bool, body: Value) -> Value {
        let mut doc = json!({"pgkeel": 1, "command": self.command, "ok": ok});
        if let (Some(d), Value::Object(b)) = (doc.as_object_mut(), body) {
            d.extend(b);
        }
        doc
    }

    fn print_json(&self, doc: &Value) {
        match serde_json::to_string_pretty(doc) {
            Ok(s) => outln!("{s}"),
            Err(e) => eprintln!("error: cannot render JSON: {e}"),
        }
    }

    /// An error that is not the engine's.
    pub fn fail(&self, e: &anyhow::Error, code: Exit) -> ExitCode {
        if self.json {
            self.print_json(&self.document(
                false,
                json!({"error": {"code": "internal", "message": format!("{e:#}")}}),
            ));
        } else {
            eprintln!("error: {e:#}");
        }
        code.into()
    }

    pub fn engine_error(&self, e: &Error) -> ExitCode {
        let code = Exit::of(e);
        tracing::error!(target: "pgkeel_report", code = e.code(), "{e}");
        if self.json {
            let mut error = json!({"code": e.code(), "message": e.to_string()});
            match e {
                Error::Blocked(b) => error["blockers"] = json!(b),
                Error::MigrationFailed(f) => error["failure"] = json!(f),
                Error::LockTimeout { holder, .. } => error["holder"] = json!(holder),
                _ => {}
            }
            self.print_json(&self.document(false, json!({"error": error})));
        } else {
            eprintln!("error: {e}");
        }
        code.into()
    }

    pub fn message<T: Serialize>(&self, value: &T, text: &str) -> ExitCode {
        if self.json {
            self.print_json(&self.document(true, json!({"result": value})));
        } else {
            outln!("{text}");
        }
        Exit::Ok.into()
    }

    pub fn status(&self, r: &StatusReport, check: bool, all: bool) -> ExitCode {
        let needs_attention = !r.plan.is_clean();
        let code = if check && needs_attention {
            Exit::Check
        } else {
            Exit::Ok
        };
        let blockers = &r.blockers;
        if self.json {
            self.print_json(&self.document(
                true,
                json!({
                    "database": r.database,
                    "history_schema": r.history_schema,
                    "history_exists": r.history_exists,
                    "counts": r.counts,
                    "migrations": r.plan.entries.iter().map(|e| json!({
                        "version": e.version,
                        "name": e.name,
                        "path": e.path,
                        "state": e.state,
                        "checksum": e.file_checksum,
                        "recorded_checksum": e.history_checksum,
                        "segments_done": e.segments_done,
                        "segments_total": e.segments_total,
                        "has_down": e.has_down,
                        "applied_at": e.history.as_ref().filter(|h| h.status.is_applied()).and_then(|h| h.finished_at),
                        "last_attempt_at": e.history.as_ref().filter(|h| !h.status.is_applied()).and_then(|h| h.started_at),
                        "duration_ms": e.history.as_ref().and_then(|h| h.duration_ms),
                        "applied_by": e.history.as_ref().map(|h| &h.applied_by),
                        "error": e.history.as_ref().and_then(|h| h.error.as_ref()),
                    })).collect::<Vec<_>>(),
                    "blockers": blockers,
                    "applier": r.applier,
                    "warnings": r.warnings,
                }),
            ));
            return code.into();
        }

        outln!(
            "database {}  (history schema {})",
            r.database,
            r.history_schema
        );
        let c = &r.counts;
        let mut parts = vec![format!("{} applied", c.applied)];
        for (n, label) in [
            (c.pending, "pending"),
            (c.out_of_order, "out of order"),
            (c.modified, "modified"),
            (c.missing, "missing"),
            (c.failed, "failed"),
            (c.interrupted, "interrupted"),
            (c.running, "running"),
            (c.rolled_back, "rolled back"),
        ] {
            if n > 0 {
                parts.push(format!("{n} {label}"));
            }
        }
        outln!(
            "{} migration(s): {}",
            r.plan.entries.len(),
            parts.join(", ")
        );
        if let Some(h) = &r.applier {
            outln!("an applier is running now: {h}");
        }

        let applied_total = r
            .plan
            .entries
            .iter()
            .filter(|e| e.state == State::Applied)
            .count();
        let mut applied_seen = 0;
        let mut table = Table::new();
        table
            .load_style(presets::NOTHING)
            .set_content_arrangement(ContentArrangement::Disabled)
            .set_header(["VERSION", "NAME", "STATE", "APPLIED AT", "MS", "FILE"]);
        let mut hidden = 0;
        for e in &r.plan.entries {
            if e.state == State::Applied {
                applied_seen += 1;
                if !all && applied_seen + RECENT_APPLIED <= applied_total {
                    hidden += 1;
                    continue;
                }
            }
            let h = e.history.as_ref();
            let mut state = e.state.as_str().to_string();
            if let (Some(d), Some(t)) = (e.segments_done, e.segments_total) {
                if matches!(e.state, State::Interrupted | State::Failed | State::Running) && t > 1 {
                    state = format!("{state} ({d}/{t} segments)");
                }
            }
            table.add_row([
                e.version.clone(),
                e.name.clone(),
                state,
                h.and_then(|h| h.finished_at.or(h.started_at))
                    .map(|t| t.format("%Y-%m-%d %H:%M:%S").to_string())
                    .unwrap_or_default(),
                h.and_then(|h| h.duration_ms)
                    .map(|d| d.to_string())
                    .unwrap_or_default(),
                e.path.clone(),
            ]);
        }
        if !r.plan.entries.is_empty() {
            if hidden > 0 {
                outln!("({hidden} older applied migration(s) not shown; --all lists them)");
            }
            outln!("{}", table.trim_fmt());
        }
        for e in &r.plan.entries {
            if e.state == State::Interrupted {
                outln!(
                    "! {} was interrupted (its applier is gone) after {} of {} segment(s); `pgkeel up` resumes it",
                    e.version,
                    e.segments_done.unwrap_or(0),
                    e.segments_total.unwrap_or(0)
                );
            }
        }
        for b in blockers {
            outln!("! {}\n  fix: {}", b.message, b.fix);
        }
        for w in &r.warnings {
            outln!("warning: {}: {}", w.path, w.message);
        }
        if !r.history_exists {
            outln!(
                "(no history yet: the first `pgkeel up` creates schema {})",
                r.history_schema
            );
        }
        code.into()
    }

    pub fn up(&self, r: &UpReport) -> ExitCode {
        let code = if r.failure.is_some() {
            Exit::MigrationFailed
        } else {
            Exit::Ok
        };
        if self.json {
            let mut body = json!({
                "dry_run": r.dry_run,
                "planned": r.planned,
                "applied": r.applied,
                "warnings": r.warnings,
                "parse_warnings": r.parse_warnings,
                "history_created": r.history_created,
            });
            if let Some(d) = &r.dry_run_result {
                body["dry_run_result"] = json!(d);
            }
            if let Some(f) = &r.failure {
                body["error"] =
                    json!({"code": "migration_failed", "message": f.to_string(), "failure": f});
            }
            self.print_json(&self.document(r.failure.is_none(), body));
            return code.into();
        }
        for w in r.warnings.iter().chain(&r.parse_warnings) {
            eprintln!("warning: {}: {}", w.path, w.message);
        }
        if let Some(d) = &r.dry_run_result {
            for item in &d.items {
                outln!(
                    "dry run {}: {} statement(s) ran{}",
                    item.path,
                    item.statements_run,
                    if item.skipped.is_empty() {
                        String::new()
                    } else {
                        format!(
                            ", {} not run (cannot run in a transaction)",
                            item.skipped.len()
                        )
                    }
                );
                for s in &item.skipped {
                    outln!(
                        "    not run: statement {} at line {}: {} ({})",
                        s.statement,
                        s.line,
                        s.kind,
                        s.reason
                    );
                }
            }
            match &r.failure {
                Some(f) => eprintln!("error: {f}"),
                None if d.items.is_empty() => outln!("dry run: nothing pending"),
                None => outln!(
                    "dry run: all {} migration(s) ran and were rolled back; nothing changed",
                    d.items.len()
                ),
            }
            return code.into();
        }
        for a in &r.applied {
            for n in &a.notes {
                eprintln!("note: {}: {n}", a.path);
            }
        }
        match &r.failure {
            Some(f) => {
                if !r.applied.is_empty() {
                    outln!(
                        "applied {} migration(s) before the failure",
                        r.applied.len()
                    );
                }
                eprintln!("error: {f}");
            }
            None if r.planned.is_empty() => {
                outln!("nothing to apply: the database is up to date")
            }
            None => {
                let ms: u64 = r.applied.iter().map(|a| a.duration_ms).sum();
                outln!(
                    "applied {} migration(s) in {ms} ms (newest {})",
                    r.applied.len(),
                    r.applied.last().map(|a| a.version.as_str()).unwrap_or("-")
                );
            }
        }
        code.into()
    }

    pub fn query(&self, q: &QueryOutput) -> ExitCode {
        if self.json {
            self.print_json(&self.document(true, json!({"result": q})));
            return Exit::Ok.into();
        }
        if !q.columns.is_empty() {
            let mut table = Table::new();
            table
                .load_style(presets::NOTHING)
                .set_header(q.columns.iter().map(|c| c.name.clone()));
            for row in &q.rows {
                table.add_row(row.iter().map(|v| match v {
                    Value::String(s) => s.clone(),
                    Value::Null => "NULL".to_string(),
                    other => other.to_string(),
                }));
            }
            outln!("{}", table.trim_fmt());
        }
        let mut summary = format!("{} row(s)", q.rows.len());
        if q.truncated {
            summary.push_str(" (more rows not shown; raise --max-rows)");
        }
        if let Some(n) = q.rows_affected {
            summary = format!("{n} row(s) affected");
        }
        if q.read_only {
            summary.push_str(", read-only");
        }
        outln!("{summary}");
        Exit::Ok.into()
    }

    pub fn audit(&self, entries: &[AuditEntry]) -> ExitCode {
        if self.json {
            self.print_json(&self.document(true, json!({"entries": entries})));
            return Exit::Ok.into();
        }
        let mut table = Table::new();
        table
            .load_style(presets::NOTHING)
            .set_header(["ID", "AT", "ACTION", "VERSION", "BY", "DETAILS"]);
        for e in entries {
            table.add_row([
                e.id.to_string(),
                e.at.format("%Y-%m-%d %H:%M:%S").to_string(),
                e.action.clone(),
                e.version.clone().unwrap_or_default(),
                format!(
                    "{}{}",
                    e.actor,
                    e.application_name
                        .as_deref()
                        .map(|a| format!(" ({a})"))
                        .unwrap_or_default()
                ),
                e.details.to_string(),
            ]);
        }
        outln!("{}", table.trim_fmt());
        Exit::Ok.into()
    }
}
