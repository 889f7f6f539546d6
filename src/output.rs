//! Printing: compact text for people, a stable JSON document (`--json`) for scripts. Every JSON
//! document has `"pgkeel": 1` (the document format), `"command"` and `"ok"`; failures add
//! `"error": {"code", "message", …}`. Errors in text mode go to stderr.

use std::process::ExitCode;

use comfy_table::{presets, ContentArrangement, Table};
use pgkeel_engine::db::history::AuditEntry;
use pgkeel_engine::db::introspect::{
    Column, FkAction, SchemaModel, Table as SchemaTable, TableKind, View, Volatility,
};
use pgkeel_engine::db::query::QueryOutput;
use pgkeel_engine::migrator::{StatusReport, UpReport};
use pgkeel_engine::plan::State;
use pgkeel_engine::typegen::{GeneratedTypes, TypesCheck};
use pgkeel_engine::validate::Severity;
use pgkeel_engine::Error;
use serde::Serialize;
use serde_json::{json, Value};

use crate::exit::Exit;
use crate::stdout::outln;

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

    pub(crate) fn document(&self, ok: bool, body: Value) -> Value {
        let mut doc = json!({"pgkeel": 1, "command": self.command, "ok": ok});
        if let (Some(d), Value::Object(b)) = (doc.as_object_mut(), body) {
            d.extend(b);
        }
        doc
    }

    pub(crate) fn print_json(&self, doc: &Value) {
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
                Error::LintBlocked { findings } => error["lint"] = json!(findings),
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
                        "down_checksum": e.down_checksum,
                        "applied_at": e.history.as_ref().filter(|h| h.status.is_applied()).and_then(|h| h.finished_at),
                        "last_attempt_at": e.history.as_ref().filter(|h| !h.status.is_applied()).and_then(|h| h.started_at),
                        "duration_ms": e.history.as_ref().and_then(|h| h.duration_ms),
                        "applied_by": e.history.as_ref().map(|h| &h.applied_by),
                        "error": e.history.as_ref().and_then(|h| h.error.as_ref()),
                        "lint_accepted": e.history.as_ref().map(|h| &h.lint_accepted),
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
        outln!("{} migration(s): {}", r.plan.entries.len(), c.summary());
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
            .set_header([
                "VERSION",
                "NAME",
                "STATE",
                "APPLIED AT",
                "MS",
                "DOWN",
                "FILE",
            ]);
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
                if e.has_down { "yes" } else { "-" }.to_string(),
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
        let code = if let Some(f) = &r.failure {
            Exit::of_failure(f)
        } else if r.validation.as_ref().is_some_and(|v| v.fails) {
            Exit::Check
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
                "types_written": r.types_written,
                "lint": r.lint,
                "accept_lines_to_add": pgkeel_engine::lint::accept::lines_to_add(&r.lint),
                "supabase_notes": r.supabase_notes,
            });
            body["validation"] = json!(r.validation);
            body["row_counts"] = json!(r.row_counts);
            if code == Exit::Check {
                body["error"] = json!({"code": "validation_failed", "message": "validation found errors after up; the migrations stay applied"});
            }
            if let Some(d) = &r.dry_run_result {
                body["dry_run_result"] = json!(d);
            }
            if let Some(f) = &r.failure {
                body["error"] = json!({"code": if f.connection_lost { "connection_lost" } else { "migration_failed" }, "message": f.to_string(), "failure": f});
            }
            self.print_json(&self.document(code == Exit::Ok, body));
            return code.into();
        }
        for w in r.warnings.iter().chain(&r.parse_warnings) {
            eprintln!("warning: {}: {}", w.path, w.message);
        }
        for n in &r.supabase_notes {
            eprintln!("note: {n}");
        }
        for f in r.lint.iter().filter(|f| f.severity != Severity::Info) {
            eprint!("{}", crate::render::lint::finding_lines(f));
        }
        let info = r
            .lint
            .iter()
            .filter(|f| f.severity == Severity::Info)
            .count();
        if info > 0 {
            eprintln!("lint: {info} info finding(s) not hazards here (created earlier in this run, absent, or small tables); `pgkeel lint` lists them");
        }
        crate::render::lint::print_lines_to_add(r);
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
                for b in &item.backups {
                    outln!("{}", crate::render::backups::planned_line(b));
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
            for b in &a.backups {
                outln!("{}", crate::render::backups::taken_line(&a.version, b));
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
        if let Some(t) = &r.types_written {
            outln!("types written to {t}");
        }
        crate::render::validate::print_up(r);
        code.into()
    }

    /// `types generate --stdout`: the TypeScript itself (or, with --json, it as a field).
    pub fn types_printed(&self, g: &GeneratedTypes) -> ExitCode {
        if self.json {
            self.print_json(&self.document(
                true,
                json!({"result": g, "bytes": g.text.len(), "types": g.text}),
            ));
        } else {
            use std::io::Write as _;
            let _ = std::io::stdout().lock().write_all(g.text.as_bytes());
        }
        Exit::Ok.into()
    }

    /// `types verify`: exit 3 with the diff and the fix when the committed file differs.
    pub fn types_verify(&self, c: &TypesCheck) -> ExitCode {
        let code = if c.up_to_date { Exit::Ok } else { Exit::Check };
        if self.json {
            self.print_json(&self.document(true, json!({"result": c})));
            return code.into();
        }
        if c.up_to_date {
            outln!(
                "types up to date: {} matches the {} migration(s) (fingerprint {})",
                c.path,
                c.migrations_applied,
                &c.fingerprint[..c.fingerprint.len().min(12)]
            );
            return code.into();
        }
        if let Some(d) = &c.diff {
            use std::io::Write as _;
            let _ = std::io::stdout().lock().write_all(d.as_bytes());
        }
        if c.file_exists {
            outln!(
                "types out of date: {} differs from what the {} migration(s) produce",
                c.path,
                c.migrations_applied
            );
        } else {
            outln!("types out of date: {} is missing", c.path);
        }
        if let Some(fix) = &c.fix {
            outln!(
                "fix: run `{fix}` (on a database with every migration applied: `pgkeel up` first) and commit {}",
                c.path
            );
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

    /// `describe`: a compact catalogue; `detailed` (one table asked for) adds its constraints,
    /// indexes, row-level security and comment, or a view's query.
    pub fn describe(&self, m: &SchemaModel, detailed: bool) -> ExitCode {
        if self.json {
            self.print_json(&self.document(true, json!({"result": m})));
            return Exit::Ok.into();
        }
        if m.is_empty() {
            outln!(
                "no tables, views, types or functions in schema(s) {}",
                if m.schemas.is_empty() {
                    "(none)".to_string()
                } else {
                    m.schemas.join(", ")
                }
            );
            return Exit::Ok.into();
        }
        let mut lines: Vec<String> = Vec::new();
        for t in &m.tables {
            describe_table(&mut lines, t, detailed);
        }
        for v in &m.views {
            describe_view(&mut lines, v, detailed);
        }
        for e in &m.enums {
            lines.push(format!(
                "enum {}.{}: {}",
                e.schema,
                e.name,
                e.labels.join(", ")
            ));
        }
        for c in &m.composite_types {
            let attrs: Vec<String> = c
                .attributes
                .iter()
                .map(|a| format!("{} {}", a.name, a.data_type))
                .collect();
            lines.push(format!(
                "type {}.{} ({})",
                c.schema,
                c.name,
                attrs.join(", ")
            ));
        }
        for d in &m.domains {
            let mut line = format!("domain {}.{} {}", d.schema, d.name, d.data_type);
            if d.not_null {
                line.push_str(" not null");
            }
            if let Some(def) = &d.default {
                line.push_str(&format!(" default {def}"));
            }
            for c in &d.checks {
                line.push_str(&format!(" check ({})", c.expression));
            }
            lines.push(line);
        }
        for f in &m.functions {
            let mut line = format!(
                "{} {}.{}({})",
                f.kind.as_str(),
                f.schema,
                f.name,
                f.signature()
            );
            if let Some(r) = &f.result {
                line.push_str(&format!(" → {r}"));
            }
            let mut flags = vec![f.language.clone()];
            match f.volatility {
                Volatility::Immutable => flags.push("immutable".into()),
                Volatility::Stable => flags.push("stable".into()),
                Volatility::Volatile => {}
            }
            if f.security_definer {
                flags.push("security definer".into());
            }
            flags.extend(f.config.iter().cloned());
            line.push_str(&format!("  [{}]", flags.join(", ")));
            lines.push(line);
        }
        for l in lines {
            outln!("{}", l.trim_end());
        }
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

/// `describe`: one table's header and column lines (and with `detailed`, the rest).
fn describe_table(lines: &mut Vec<String>, t: &SchemaTable, detailed: bool) {
    let mut notes = Vec::new();
    match t.kind {
        TableKind::Table => {}
        TableKind::PartitionedTable => notes.push(format!(
            "partitioned table{}",
            t.partition_key
                .as_deref()
                .map(|k| format!(" by {k}"))
                .unwrap_or_default()
        )),
        TableKind::ForeignTable => notes.push("foreign table".into()),
    }
    if let Some(p) = &t.partition_of {
        notes.push(format!("partition of {}.{}", p.schema, p.name));
    }
    notes.push(match t.estimated_rows {
        Some(n) => format!("{n} rows est."),
        None => "no row estimate".into(),
    });
    if t.rls_enabled && !detailed {
        notes.push("RLS".into());
    }
    lines.push(format!("{}.{} ({})", t.schema, t.name, notes.join(", ")));

    let rows: Vec<[String; 5]> = t
        .columns
        .iter()
        .map(|c| {
            let mut marks = Vec::new();
            if t.primary_key.contains(&c.name) {
                marks.push("[pk]".to_string());
            }
            for fk in &t.foreign_keys {
                if let Some(i) = fk.columns.iter().position(|n| n == &c.name) {
                    marks.push(format!(
                        "[fk → {}.{}({})]",
                        fk.referenced_schema,
                        fk.referenced_table,
                        fk.referenced_columns
                            .get(i)
                            .map(String::as_str)
                            .unwrap_or("?")
                    ));
                }
            }
            [
                c.name.clone(),
                c.data_type.clone(),
                if c.nullable { "null" } else { "not null" }.to_string(),
                column_default(c),
                marks.join(" "),
            ]
        })
        .collect();
    push_aligned(lines, &rows);

    if !detailed {
        return;
    }
    if !t.primary_key.is_empty() {
        lines.push(format!("  primary key ({})", t.primary_key.join(", ")));
    }
    for fk in &t.foreign_keys {
        let mut line = format!(
            "  foreign key {} ({}) → {}.{}({})",
            fk.name,
            fk.columns.join(", "),
            fk.referenced_schema,
            fk.referenced_table,
            fk.referenced_columns.join(", ")
        );
        if fk.on_update != FkAction::NoAction {
            line.push_str(&format!(" on update {}", fk.on_update.sql().to_lowercase()));
        }
        if fk.on_delete != FkAction::NoAction {
            line.push_str(&format!(" on delete {}", fk.on_delete.sql().to_lowercase()));
        }
        if fk.one_to_one {
            line.push_str(" (one-to-one)");
        }
        lines.push(line);
    }
    for u in &t.unique_constraints {
        lines.push(format!("  unique {} ({})", u.name, u.columns.join(", ")));
    }
    for c in &t.check_constraints {
        lines.push(format!("  check {}: {}", c.name, c.expression));
    }
    for i in &t.indexes {
        lines.push(format!(
            "  index {}{}: {}",
            i.name,
            if i.valid { "" } else { " (INVALID)" },
            i.definition
        ));
    }
    if t.rls_enabled || t.rls_forced || !t.policies.is_empty() {
        lines.push(format!(
            "  row level security: {}{}",
            if t.rls_enabled { "enabled" } else { "disabled" },
            if t.rls_forced { ", forced" } else { "" }
        ));
    }
    for p in &t.policies {
        let mut line = format!(
            "  policy {}: {} for {} to {}",
            p.name,
            if p.permissive {
                "permissive"
            } else {
                "restrictive"
            },
            p.command.sql().to_lowercase(),
            p.roles.join(", ")
        );
        if let Some(u) = &p.using {
            line.push_str(&format!(" using {u}"));
        }
        if let Some(w) = &p.with_check {
            line.push_str(&format!(" with check {w}"));
        }
        lines.push(line);
    }
    if let Some(c) = &t.comment {
        lines.push(format!("  comment: {c}"));
    }
}

/// `describe`: one view's header and column lines (and with `detailed`, its query).
fn describe_view(lines: &mut Vec<String>, v: &View, detailed: bool) {
    let mut notes = vec![if v.materialized {
        "materialized view"
    } else {
        "view"
    }];
    if v.updatable {
        notes.push("updatable");
    } else if v.insertable {
        notes.push("insertable");
    }
    if v.security_invoker {
        notes.push("security invoker");
    }
    lines.push(format!("{}.{} ({})", v.schema, v.name, notes.join(", ")));
    let rows: Vec<[String; 5]> = v
        .columns
        .iter()
        .map(|c| {
            [
                c.name.clone(),
                c.data_type.clone(),
                String::new(),
                column_default(c),
                String::new(),
            ]
        })
        .collect();
    push_aligned(lines, &rows);
    if detailed {
        for i in &v.indexes {
            lines.push(format!("  index {}: {}", i.name, i.definition));
        }
        if let Some(c) = &v.comment {
            lines.push(format!("  comment: {c}"));
        }
        lines.push("  as:".into());
        for l in v.definition.lines() {
            lines.push(format!("  {l}"));
        }
    }
}

/// What fills a column's value when none is given.
fn column_default(c: &Column) -> String {
    use pgkeel_engine::db::introspect::Identity;
    match (&c.identity, &c.generated, &c.default) {
        (Some(Identity::Always), _, _) => "identity always".into(),
        (Some(Identity::ByDefault), _, _) => "identity by default".into(),
        (_, Some(g), _) => format!("generated {g}"),
        (_, _, Some(d)) => format!("default {d}"),
        _ => String::new(),
    }
}

/// Indented rows with columns padded to a common width (empty columns take no space).
fn push_aligned(lines: &mut Vec<String>, rows: &[[String; 5]]) {
    let mut widths = [0usize; 5];
    for r in rows {
        for (w, cell) in widths.iter_mut().zip(r) {
            *w = (*w).max(cell.chars().count());
        }
    }
    for r in rows {
        let mut line = String::from(" ");
        for (cell, w) in r.iter().zip(widths) {
            if w == 0 {
                continue;
            }
            line.push(' ');
            line.push_str(cell);
            line.push_str(&" ".repeat(w - cell.chars().count() + 1));
        }
        lines.push(line.trim_end().to_string());
    }
}
