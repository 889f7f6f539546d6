//! The lines `up` prints for its automatic backups: taken, and (dry run) planned.

use pgkeel_engine::backup::settings::human_bytes;
use pgkeel_engine::db::backup::{BackupTaken, SizeEstimate};

/// The line `up` prints for a backup it took.
pub fn taken_line(version: &str, b: &BackupTaken) -> String {
    format!(
        "backup {}: {} ({} rows, {}) before {version}, kept until {} (pgkeel backups list)",
        b.id,
        b.table,
        b.rows,
        human_bytes(b.bytes.max(0) as u64),
        b.expires_at.format("%Y-%m-%d %H:%M UTC")
    )
}

/// The line a dry run prints for a backup `up` would take.
pub fn planned_line(b: &SizeEstimate) -> String {
    format!(
        "    would back up {} (about {} rows, {}) for {}",
        b.table,
        b.rows_estimate,
        human_bytes(b.bytes),
        b.reason
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn taken_and_planned_lines_name_the_table_size_and_expiry() {
        let taken = BackupTaken {
            id: 7,
            table: "public.contacts".into(),
            backup_table: "pgkeel_backup.b7".into(),
            reason: "DROP COLUMN email".into(),
            rows: 1200,
            bytes: 3 * 1024 * 1024,
            expires_at: chrono::DateTime::from_timestamp(1_767_225_600, 0).unwrap(),
        };
        assert_eq!(
            taken_line("0042", &taken),
            "backup 7: public.contacts (1200 rows, 3.0 MiB) before 0042, kept until 2026-01-01 00:00 UTC (pgkeel backups list)"
        );
        let planned = SizeEstimate {
            table: "public.contacts".into(),
            reason: "DELETE".into(),
            bytes: 2048,
            rows_estimate: 40,
        };
        assert_eq!(
            planned_line(&planned),
            "    would back up public.contacts (about 40 rows, 2.0 KiB) for DELETE"
        );
    }
}
