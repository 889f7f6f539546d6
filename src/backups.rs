//! `pgkeel backups list|prune` and the backup lines of `up` (the work is the engine's:
//! pgkeel_engine::backup).

use std::process::ExitCode;

use chrono::{DateTime, Utc};
use comfy_table::{presets, ContentArrangement, Table};
use pgkeel_engine::backup::settings::human_bytes;
use pgkeel_engine::backup::{BackupsList, PruneReport};
use pgkeel_engine::db::backup::{BackupRow, PruneWhich};
use pgkeel_engine::Migrator;
use serde_json::json;

use crate::cli::BackupsAction;
use crate::output::Out;

pub fn command_name(action: &BackupsAction) -> &'static str {
    match action {
        BackupsAction::List { .. } => "backups list",
        BackupsAction::Prune { dry_run: true, .. } => "backups prune --dry-run",
        BackupsAction::Prune { .. } => "backups prune",
    }
}

pub async fn run(migrator: &Migrator, action: BackupsAction, out: &Out) -> ExitCode {
    match action {
        BackupsAction::List { all } => match migrator.backups_list(all).await {
            Ok(list) => out.message(&list_json(&list), &list_text(&list, all)),
            Err(e) => out.engine_error(&e),
        },
        BackupsAction::Prune { all, id, dry_run } => {
            let which = match (all, id) {
                (_, Some(id)) => PruneWhich::Id(id),
                (true, None) => PruneWhich::All,
                (false, None) => PruneWhich::Expired,
            };
            match migrator.backups_prune(&which, dry_run).await {
                Ok(r) => out.message(&r, &prune_text(&r, &which)),
                Err(e) => out.engine_error(&e),
            }
        }
    }
}

/// `3h 05m`, `2d 4h`, `45s`.
fn span(seconds: i64) -> String {
    let s = seconds.max(0);
    match s {
        s if s < 60 => format!("{s}s"),
        s if s < 3600 => format!("{}m", s / 60),
        s if s < 86_400 => format!("{}h {:02}m", s / 3600, s % 3600 / 60),
        s => format!("{}d {}h", s / 86_400, s % 86_400 / 3600),
    }
}

fn expiry(b: &BackupRow, now: DateTime<Utc>) -> String {
    let left = (b.expires_at - now).num_seconds();
    if b.status != "kept" {
        "-".to_string()
    } else if left > 0 {
        format!("in {}", span(left))
    } else {
        format!("expired {} ago", span(-left))
    }
}

fn list_json(list: &BackupsList) -> serde_json::Value {
    let backups: Vec<_> = list
        .backups
        .iter()
        .map(|b| {
            let mut v = json!(b);
            v["expired"] = json!(b.expired(list.now));
            v["age_seconds"] = json!((list.now - b.created_at).num_seconds());
            v
        })
        .collect();
    json!({"schema": list.schema, "now": list.now, "backups": backups})
}

fn list_text(list: &BackupsList, all: bool) -> String {
    if list.backups.is_empty() {
        return if all {
            "no backups".to_string()
        } else {
            "no kept backups (--all also lists pruned and restored ones)".to_string()
        };
    }
    let mut table = Table::new();
    table
        .load_style(presets::NOTHING)
        .set_content_arrangement(ContentArrangement::Disabled)
        .set_header([
            "ID", "VERSION", "TABLE", "ROWS", "SIZE", "AGE", "EXPIRES", "STATUS", "REASON",
        ]);
    for b in &list.backups {
        table.add_row([
            b.id.to_string(),
            b.version.clone(),
            format!("{}.{}", b.source_schema, b.source_table),
            b.row_count.to_string(),
            human_bytes(b.bytes.max(0) as u64),
            span((list.now - b.created_at).num_seconds()),
            expiry(b, list.now),
            b.status.clone(),
            b.reason.clone(),
        ]);
    }
    let mut text = table.trim_fmt();
    let expired = list
        .backups
        .iter()
        .filter(|b| b.status == "kept" && b.expired(list.now))
        .count();
    if expired > 0 {
        text.push_str(&format!(
            "\n{expired} expired: `pgkeel backups prune` drops them"
        ));
    }
    text
}

fn prune_text(r: &PruneReport, which: &PruneWhich) -> String {
    if r.pruned.is_empty() {
        return match which {
            PruneWhich::Expired => {
                "nothing to prune: no kept backup has expired (`pgkeel backups list` shows them)"
                    .to_string()
            }
            _ => "nothing to prune: no kept backups".to_string(),
        };
    }
    let mut text = format!(
        "{} {} backup(s), {}:",
        if r.dry_run { "would prune" } else { "pruned" },
        r.pruned.len(),
        human_bytes(r.bytes.max(0) as u64)
    );
    for b in &r.pruned {
        text.push_str(&format!(
            "\n  {} {}.{} ({} rows, migration {}, {})",
            b.id, b.source_schema, b.source_table, b.row_count, b.version, b.reason
        ));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spans() {
        assert_eq!(span(5), "5s");
        assert_eq!(span(125), "2m");
        assert_eq!(span(3 * 3600 + 5 * 60), "3h 05m");
        assert_eq!(span(2 * 86_400 + 4 * 3600), "2d 4h");
        assert_eq!(span(-3), "0s");
    }
}
