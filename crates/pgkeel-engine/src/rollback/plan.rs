//! Rollback planning: which applied migrations a rollback undoes, with what down SQL and which
//! backups, and the plan's canonical digest (what a confirmation token is bound to).
//!
//! Pure: no I/O. The caller reads the files, the history, the backup catalog and the database's
//! identity; [`build`] either returns the plan or refuses with every problem named.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::history::HistoryRow;
use crate::migration::{DownSource, Migration};
use crate::snapshot::{self, inverse::Generated, Snapshot};
use crate::statements;
use crate::version::Version;

/// Which migrations to roll back.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Selector {
    /// Every applied migration after this version (exclusive); the version must be applied.
    To(String),
    /// The last N applied migrations.
    Last(usize),
}

impl std::fmt::Display for Selector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Selector::To(v) => write!(f, "--to {v}"),
            Selector::Last(n) => write!(f, "--last {n}"),
        }
    }
}

/// One column of a source table when its backup was taken (the catalog's `columns`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct BackupColumn {
    pub name: String,
    #[serde(rename = "type", default)]
    pub type_name: String,
    /// Identity kind: "" (none), "a" (always), "d" (by default) — or a bool from older writers.
    #[serde(default)]
    pub identity: serde_json::Value,
    #[serde(default)]
    pub generated: serde_json::Value,
}

impl BackupColumn {
    pub fn is_generated(&self) -> bool {
        truthy(&self.generated)
    }
}

fn truthy(v: &serde_json::Value) -> bool {
    match v {
        serde_json::Value::Bool(b) => *b,
        serde_json::Value::String(s) => !s.is_empty() && s != "false",
        serde_json::Value::Null => false,
        _ => true,
    }
}

/// A backup as recorded in the catalog (`<backup schema>.backups`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Backup {
    pub id: i64,
    pub version: String,
    pub source_schema: String,
    pub source_table: String,
    /// Table name inside the backup schema.
    pub backup_table: String,
    pub reason: String,
    pub row_count: i64,
    pub checksum: String,
    pub bytes: i64,
    pub columns: Vec<BackupColumn>,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub status: String,
}

impl Backup {
    /// A backup of a dropped table: restoring needs down SQL that creates the table again.
    pub fn is_drop_table(&self) -> bool {
        self.reason.to_ascii_uppercase().starts_with("DROP TABLE")
    }

    pub fn source(&self) -> String {
        format!("{}.{}", self.source_schema, self.source_table)
    }
}

/// The down SQL of one target, ready to run in the rollback's transaction.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DownPlan {
    /// Where it comes from: the file's `-- pgkeel:down` section or a sibling file.
    pub path: String,
    pub checksum: String,
    /// The statements, in order (each its exact text).
    pub statements: Vec<String>,
    /// Set when the parser could not split it: it is then sent whole.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parse_warning: Option<String>,
}

/// One migration the rollback undoes.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Target {
    pub version: String,
    pub name: String,
    pub path: String,
    /// The up checksum (file = history).
    pub checksum: String,
    pub applied_at: Option<DateTime<Utc>>,
    pub down: Option<DownPlan>,
    /// Down SQL generated from the migration's snapshot, when it has no written down SQL
    /// (written down SQL always wins).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub generated: Option<GeneratedDown>,
    pub backups: Vec<Backup>,
    /// The catalog definitions recorded before the migration ran: the rollback's verification
    /// compares the touched objects with them. `None` for migrations applied before snapshots.
    #[serde(skip)]
    pub snapshot: Option<Snapshot>,
}

/// Generated down SQL, for review: the statements before and after the backups are restored,
/// and the whole text the confirmation token binds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GeneratedDown {
    pub before_restore: Vec<String>,
    pub after_restore: Vec<String>,
    pub text: String,
}

impl From<Generated> for GeneratedDown {
    fn from(g: Generated) -> GeneratedDown {
        GeneratedDown {
            text: g.text(),
            before_restore: g.before_restore,
            after_restore: g.after_restore,
        }
    }
}

/// What the plan knows of snapshots: each target's stored snapshot (by version) and the
/// current state of every key they name (read in the same transaction as the plan).
#[derive(Debug, Clone, Default)]
pub struct Snapshots {
    pub stored: Vec<(String, Snapshot)>,
    pub current: Snapshot,
}

/// The database a plan is for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DatabaseIdentity {
    /// `pg_control_system().system_identifier`, or "" when the role may not read it.
    pub system_identifier: String,
    pub database: String,
}

/// A rollback plan: targets newest first.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RollbackPlan {
    pub selector: Selector,
    pub targets: Vec<Target>,
    /// Hex SHA-256 of the canonical serialisation (see [`digest`]).
    pub digest: String,
    /// Backups whose window has ended (`expires_at` before the plan was made), by id.
    pub expired_backups: Vec<i64>,
}

impl RollbackPlan {
    /// The oldest target's version: what a user types at the confirmation prompt.
    pub fn oldest_version(&self) -> Option<&str> {
        self.targets.last().map(|t| t.version.as_str())
    }

    pub fn backups(&self) -> impl Iterator<Item = &Backup> {
        self.targets.iter().flat_map(|t| t.backups.iter())
    }
}

/// Why a rollback cannot be planned: every problem found, each naming its migration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal(pub Vec<String>);

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.0.len() == 1 {
            return write!(f, "refusing to roll back: {}", self.0[0]);
        }
        write!(f, "refusing to roll back:")?;
        for p in &self.0 {
            write!(f, "\n  - {p}")?;
        }
        Ok(())
    }
}

/// The down SQL of `m`, split; `Err` names a statement that cannot run in the rollback's single
/// transaction. `Ok(None)` when there is no down part or it holds no statement.
pub fn down_plan(m: &Migration) -> Result<Option<DownPlan>, String> {
    let Some(down) = &m.down else {
        return Ok(None);
    };
    let (split, path) = match (&down.source, &m.down_range, &m.down_file_content) {
        (DownSource::Section, Some(range), _) => {
            (statements::split(&m.content, range.clone()), m.path.clone())
        }
        (DownSource::File { path }, _, Some(text)) => {
            (statements::split(text, 0..text.len()), path.clone())
        }
        _ => return Ok(None),
    };
    if split.statements.is_empty() {
        return Ok(None);
    }
    for s in &split.statements {
        if let Some(why) = s.non_transactional() {
            return Err(format!(
                "{path}:{}:{}: the down SQL has `{}`, which cannot run inside a transaction ({why}); a rollback runs in one transaction, so write the down SQL without it",
                s.line, s.column, s.kind
            ));
        }
        if s.transaction_control().is_some() {
            return Err(format!(
                "{path}:{}:{}: the down SQL has transaction control ({}); remove it: the rollback runs every down in one transaction",
                s.line, s.column, s.kind
            ));
        }
    }
    Ok(Some(DownPlan {
        path,
        checksum: down.checksum.clone(),
        statements: split
            .statements
            .into_iter()
            .map(|s| s.sql.to_string())
            .collect(),
        parse_warning: split.parse_issues.first().map(|i| {
            format!(
                "the SQL parser could not read the down SQL (line {}: {}); it is sent unsplit",
                i.line, i.message
            )
        }),
    }))
}

/// Which history rows the selector picks, newest first. Only applied (or baselined) rows count.
fn select<'a>(
    history: &'a [HistoryRow],
    selector: &Selector,
) -> Result<Vec<&'a HistoryRow>, Refusal> {
    let mut applied: Vec<(Version, &HistoryRow)> = history
        .iter()
        .filter(|r| r.status.is_applied())
        .filter_map(|r| Version::parse(&r.version).map(|v| (v, r)))
        .collect();
    applied.sort_by(|a, b| a.0.cmp(&b.0));
    let picked: Vec<&HistoryRow> = match selector {
        Selector::Last(0) => {
            return Err(Refusal(vec!["--last must be at least 1".into()]));
        }
        Selector::Last(n) => {
            if *n > applied.len() {
                return Err(Refusal(vec![format!(
                    "--last {n} asks for more migrations than are applied ({})",
                    applied.len()
                )]));
            }
            applied[applied.len() - n..]
                .iter()
                .map(|(_, r)| *r)
                .collect()
        }
        Selector::To(text) => {
            let v = Version::parse(text)
                .ok_or_else(|| Refusal(vec![format!("{text:?} is not a migration version")]))?;
            if !applied.iter().any(|(av, _)| *av == v) {
                return Err(Refusal(vec![format!(
                    "--to {text}: that migration is not applied (the rollback keeps VERSION and undoes what came after it)"
                )]));
            }
            applied
                .iter()
                .filter(|(av, _)| *av > v)
                .map(|(_, r)| *r)
                .collect()
        }
    };
    if picked.is_empty() {
        return Err(Refusal(vec![format!(
            "{selector}: no applied migration comes after it; nothing to roll back"
        )]));
    }
    Ok(picked.into_iter().rev().collect())
}

/// Build the plan. `files` are the discovered migrations, `backups` the catalog rows of kept
/// backups (any version; those of the targets are picked).
pub fn build(
    selector: &Selector,
    files: &[Migration],
    history: &[HistoryRow],
    backups: &[Backup],
    identity: &DatabaseIdentity,
    now: DateTime<Utc>,
) -> Result<RollbackPlan, Refusal> {
    build_with(
        selector,
        files,
        history,
        backups,
        identity,
        now,
        &Snapshots::default(),
    )
}

/// The versions a selector picks, newest first (to read their snapshots before planning).
pub fn selected_versions(history: &[HistoryRow], selector: &Selector) -> Vec<String> {
    select(history, selector)
        .map(|rows| rows.iter().map(|r| r.version.clone()).collect())
        .unwrap_or_default()
}

/// [`build`] with the snapshots: a target without down SQL gets generated down SQL from its
/// snapshot, or is refused naming each statement that cannot be undone.
pub fn build_with(
    selector: &Selector,
    files: &[Migration],
    history: &[HistoryRow],
    backups: &[Backup],
    identity: &DatabaseIdentity,
    now: DateTime<Utc>,
    snapshots: &Snapshots,
) -> Result<RollbackPlan, Refusal> {
    let rows = select(history, selector)?;
    let mut problems = Vec::new();
    let mut targets = Vec::new();
    // The state of the snapshotted objects as the rollback goes, newest target first; `None`
    // once a newer target has no snapshot (what its down leaves is then unknown).
    let mut state = Some(snapshots.current.clone());
    let mut unknown_after: Option<String> = None;
    for row in rows {
        let v = Version::parse(&row.version);
        let Some(m) = files.iter().find(|m| Some(&m.version) == v.as_ref()) else {
            problems.push(format!(
                "{} ({}): the migration file is missing, so its down SQL cannot be read; restore the file first",
                row.version, row.path
            ));
            continue;
        };
        if m.checksum != row.checksum {
            problems.push(format!(
                "{}: modified since it was applied (checksum {}… recorded, {}… on disk); restore the file as applied, or accept the edit with `pgkeel repair --accept-checksum {}`",
                m.path,
                &row.checksum[..12.min(row.checksum.len())],
                &m.checksum[..12.min(m.checksum.len())],
                row.version
            ));
            continue;
        }
        let down = match down_plan(m) {
            Ok(d) => d,
            Err(e) => {
                problems.push(e);
                continue;
            }
        };
        let mut mine: Vec<Backup> = backups
            .iter()
            .filter(|b| b.version == row.version && b.status == "kept")
            .cloned()
            .collect();
        mine.sort_by_key(|b| b.id);
        let label = format!("{}_{}", m.version, m.name);
        let before = snapshots
            .stored
            .iter()
            .find(|(v, _)| *v == row.version)
            .map(|(_, s)| s.clone());
        let mut generated = None;
        if down.is_none() {
            if let Some(before) = &before {
                match generate(
                    m,
                    &label,
                    before,
                    state.as_ref(),
                    unknown_after.as_deref(),
                    &mine,
                ) {
                    Ok(g) => generated = Some(GeneratedDown::from(g)),
                    Err(e) => {
                        problems.push(e);
                        continue;
                    }
                }
            }
        }
        match (&before, state.take()) {
            (Some(b), Some(st)) => state = Some(st.undo(b)),
            _ => {
                unknown_after.get_or_insert_with(|| row.version.clone());
            }
        }
        if down.is_none() && generated.is_none() && mine.is_empty() {
            problems.push(format!(
                "{label} has no down SQL (add a `-- pgkeel:down` section or {label}.down.sql) and no backup; it was applied before pgkeel recorded rollback snapshots, so no down SQL can be generated"
            ));
            continue;
        }
        if down.is_none() && generated.is_none() {
            if let Some(b) = mine.iter().find(|b| b.is_drop_table()) {
                problems.push(format!(
                    "{label} dropped table {} and has no down SQL to create it again, so its backup (pgkeel_backup id {}) has no table to restore into; add a `-- pgkeel:down` section or {label}.down.sql that recreates it",
                    b.source(),
                    b.id
                ));
                continue;
            }
        }
        targets.push(Target {
            version: row.version.clone(),
            name: m.name.clone(),
            path: m.path.clone(),
            checksum: m.checksum.clone(),
            applied_at: row.finished_at,
            down,
            generated,
            backups: mine,
            snapshot: before,
        });
    }
    if !problems.is_empty() {
        return Err(Refusal(problems));
    }
    let expired_backups = targets
        .iter()
        .flat_map(|t| t.backups.iter())
        .filter(|b| b.expires_at < now)
        .map(|b| b.id)
        .collect();
    let digest = hex::encode(digest(identity, &targets));
    Ok(RollbackPlan {
        selector: selector.clone(),
        targets,
        digest,
        expired_backups,
    })
}

/// The generated down SQL of `m` from its snapshot `before` and the state the rollback has
/// reached (`state`), or why there can be none.
fn generate(
    m: &Migration,
    label: &str,
    before: &Snapshot,
    state: Option<&Snapshot>,
    unknown_after: Option<&str>,
    backups: &[Backup],
) -> Result<Generated, String> {
    let write = format!("write a `-- pgkeel:down` section (or {label}.down.sql)");
    let split = statements::split(&m.content, m.up_range.clone());
    let mut why: Vec<String> = Vec::new();
    if let Some(i) = split.parse_issues.first() {
        why.push(format!(
            "line {}: the SQL parser cannot read it ({}), so what it changes is unknown",
            i.line, i.message
        ));
    }
    let analysis = snapshot::objects::analyse(&split.statements, split.tree.as_ref());
    why.extend(analysis.refusals.iter().cloned());
    let backed_up = |schema: Option<&str>, name: &str| {
        backups
            .iter()
            .any(|b| b.source_table == name && schema.is_none_or(|s| s == b.source_schema))
    };
    let named = |k: &snapshot::Key| {
        let ok = |s: &str| k.schema.as_deref().is_none_or(|x| x == s);
        match k.kind.as_str() {
            "type" => before
                .types
                .iter()
                .any(|t| t.name == k.name && ok(&t.schema)),
            _ => before
                .relations
                .iter()
                .any(|r| r.name == k.name && ok(&r.schema)),
        }
    };
    for c in &analysis.conditions {
        match c.needs {
            // Rows inserted into a table that the same migration backed up (it also updated
            // or deleted there) are undone by the restore, which brings the table back to the
            // backup's rows.
            // A key first named by its plain CREATE was absent (the CREATE succeeded), whatever
            // an unqualified name matches elsewhere on the search_path.
            snapshot::objects::Needs::CreatedHere
                if named(&c.key)
                    && !analysis.is_created(&c.key)
                    && !(c.key.kind != "type"
                        && backed_up(c.key.schema.as_deref(), &c.key.name)) =>
            {
                why.push(format!(
                "line {}: {} — the object existed before the migration, so this cannot be undone from the snapshot",
                c.line, c.what
            ))
            }
            snapshot::objects::Needs::Backup if !backed_up(c.key.schema.as_deref(), &c.key.name) => {
                why.push(format!(
                    "line {}: {} — data changed without a backup (automatic backups were off or did not cover it)",
                    c.line, c.what
                ))
            }
            _ => {}
        }
    }
    let state = match (state, unknown_after) {
        (Some(s), None) => s,
        (_, v) => {
            why.push(format!(
                "migration {} in the same rollback was applied before pgkeel recorded snapshots, so the state its down SQL leaves cannot be known; roll it back on its own first",
                v.unwrap_or("?")
            ));
            return Err(refusal(&m.path, label, &why, &write));
        }
    };
    if !why.is_empty() {
        return Err(refusal(&m.path, label, &why, &write));
    }
    let now = state.scoped(&before.keys, before);
    snapshot::inverse::generate(before, &now, &|s, n| backed_up(Some(s), n))
        .map_err(|e| refusal(&m.path, label, &e, &write))
}

fn refusal(path: &str, label: &str, why: &[String], write: &str) -> String {
    let mut s = format!("{label} has no down SQL and pgkeel cannot generate it ({path}):");
    for w in why {
        s.push_str(&format!("\n      {w}"));
    }
    s.push_str(&format!("\n      {write}"));
    s
}

/// SHA-256 over the canonical serialisation of the plan: compact JSON with a fixed field order
/// (struct order; no maps) of the database identity, each target's version, up checksum, down
/// checksum and applied_at (RFC 3339, microseconds), and each backup's id, checksum and row count.
pub fn digest(identity: &DatabaseIdentity, targets: &[Target]) -> [u8; 32] {
    #[derive(Serialize)]
    struct Canon<'a> {
        format: u32,
        system_identifier: &'a str,
        database: &'a str,
        targets: Vec<CanonTarget<'a>>,
        backups: Vec<CanonBackup<'a>>,
    }
    #[derive(Serialize)]
    struct CanonTarget<'a> {
        version: &'a str,
        checksum: &'a str,
        down_checksum: Option<&'a str>,
        applied_at: Option<String>,
        /// The generated down SQL, word for word (absent for written down SQL).
        #[serde(skip_serializing_if = "Option::is_none")]
        generated_down: Option<&'a str>,
    }
    #[derive(Serialize)]
    struct CanonBackup<'a> {
        id: i64,
        checksum: &'a str,
        row_count: i64,
    }
    let canon = Canon {
        format: 1,
        system_identifier: &identity.system_identifier,
        database: &identity.database,
        targets: targets
            .iter()
            .map(|t| CanonTarget {
                version: &t.version,
                checksum: &t.checksum,
                down_checksum: t.down.as_ref().map(|d| d.checksum.as_str()),
                applied_at: t
                    .applied_at
                    .map(|a| a.to_rfc3339_opts(chrono::SecondsFormat::Micros, true)),
                generated_down: t.generated.as_ref().map(|g| g.text.as_str()),
            })
            .collect(),
        backups: targets
            .iter()
            .flat_map(|t| t.backups.iter())
            .map(|b| CanonBackup {
                id: b.id,
                checksum: &b.checksum,
                row_count: b.row_count,
            })
            .collect(),
    };
    // Serialising plain structs of strings and numbers cannot fail.
    let bytes = serde_json::to_vec(&canon).unwrap_or_default();
    Sha256::digest(&bytes).into()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::Status;

    fn mig(version: &str, name: &str, text: &str) -> Migration {
        Migration::from_text(
            Version::parse(version).unwrap(),
            name.into(),
            format!("migrations/{version}_{name}.sql"),
            text,
        )
        .unwrap()
    }

    fn row(m: &Migration, status: Status) -> HistoryRow {
        HistoryRow {
            version: m.version.to_string(),
            name: m.name.clone(),
            path: m.path.clone(),
            checksum: m.checksum.clone(),
            status,
            statements: 1,
            segments_total: 1,
            segments_done: 1,
            started_at: None,
            finished_at: DateTime::from_timestamp(1_700_000_000, 0),
            duration_ms: Some(1),
            applied_by: "me".into(),
            application_name: None,
            client_addr: None,
            backend_pid: None,
            error: None,
            lint_accepted: serde_json::json!([]),
        }
    }

    fn backup(id: i64, version: &str, reason: &str, expires: i64) -> Backup {
        Backup {
            id,
            version: version.into(),
            source_schema: "public".into(),
            source_table: "orders".into(),
            backup_table: format!("b{id}_orders"),
            reason: reason.into(),
            row_count: 3,
            checksum: "abc".into(),
            bytes: 100,
            columns: vec![],
            created_at: DateTime::from_timestamp(0, 0).unwrap(),
            expires_at: DateTime::from_timestamp(expires, 0).unwrap(),
            status: "kept".into(),
        }
    }

    fn ident() -> DatabaseIdentity {
        DatabaseIdentity {
            system_identifier: "7".into(),
            database: "db".into(),
        }
    }

    fn now() -> DateTime<Utc> {
        DateTime::from_timestamp(1_000, 0).unwrap()
    }

    fn files() -> Vec<Migration> {
        vec![
            mig(
                "001",
                "a",
                "create table a(id int);\n-- pgkeel:down\ndrop table a;\n",
            ),
            mig(
                "002",
                "b",
                "create table b(id int);\n-- pgkeel:down\ndrop table b;\n",
            ),
            mig("003", "c", "delete from a;\n"),
        ]
    }

    #[test]
    fn targets_are_newest_first_and_selected_by_to_or_last() {
        let f = files();
        let h: Vec<_> = f.iter().map(|m| row(m, Status::Applied)).collect();
        let b = [backup(1, "003", "DELETE", 2_000)];
        let p = build(&Selector::To("001".into()), &f, &h, &b, &ident(), now()).unwrap();
        let vs: Vec<_> = p.targets.iter().map(|t| t.version.as_str()).collect();
        assert_eq!(vs, ["003", "002"]);
        assert_eq!(p.oldest_version(), Some("002"));
        assert_eq!(p.targets[0].backups.len(), 1);
        assert!(p.expired_backups.is_empty());
        let p2 = build(&Selector::Last(2), &f, &h, &b, &ident(), now()).unwrap();
        assert_eq!(p.digest, p2.digest);
        assert_eq!(
            p2.targets[1].down.as_ref().unwrap().statements,
            ["drop table b;"]
        );
        assert!(build(&Selector::Last(4), &f, &h, &b, &ident(), now()).is_err());
        assert!(build(&Selector::Last(0), &f, &h, &b, &ident(), now()).is_err());
        let e = build(&Selector::To("003".into()), &f, &h, &b, &ident(), now()).unwrap_err();
        assert!(e.to_string().contains("nothing to roll back"), "{e}");
        // --to a version that is not applied.
        let e = build(
            &Selector::To("003".into()),
            &f,
            &h[..2],
            &b,
            &ident(),
            now(),
        )
        .unwrap_err();
        assert!(e.to_string().contains("not applied"), "{e}");
    }

    #[test]
    fn a_target_with_neither_down_nor_backup_is_refused_by_name() {
        let f = files();
        let h: Vec<_> = f.iter().map(|m| row(m, Status::Applied)).collect();
        let e = build(&Selector::Last(1), &f, &h, &[], &ident(), now()).unwrap_err();
        assert_eq!(
            e.to_string(),
            "refusing to roll back: 003_c has no down SQL (add a `-- pgkeel:down` section or 003_c.down.sql) and no backup; it was applied before pgkeel recorded rollback snapshots, so no down SQL can be generated"
        );
        // A restored (used) backup does not count.
        let mut used = backup(1, "003", "DELETE", 2_000);
        used.status = "restored".into();
        assert!(build(&Selector::Last(1), &f, &h, &[used], &ident(), now()).is_err());
    }

    #[test]
    fn drop_table_backups_need_down_sql_and_non_transactional_downs_are_refused() {
        let f = files();
        let h: Vec<_> = f.iter().map(|m| row(m, Status::Applied)).collect();
        let e = build(
            &Selector::Last(1),
            &f,
            &h,
            &[backup(4, "003", "DROP TABLE", 2_000)],
            &ident(),
            now(),
        )
        .unwrap_err();
        assert!(e.to_string().contains("no table to restore into"), "{e}");
        let f2 = vec![mig(
            "001",
            "idx",
            "create index i on a(id);\n-- pgkeel:down\ndrop index concurrently i;\n",
        )];
        let h2 = vec![row(&f2[0], Status::Applied)];
        let e = build(&Selector::Last(1), &f2, &h2, &[], &ident(), now()).unwrap_err();
        assert!(
            e.to_string().contains("cannot run inside a transaction"),
            "{e}"
        );
    }

    #[test]
    fn missing_and_modified_files_are_refused_by_name() {
        let f = files();
        let mut h: Vec<_> = f.iter().map(|m| row(m, Status::Applied)).collect();
        h[2].checksum = "0".repeat(64);
        let e = build(&Selector::Last(1), &f, &h, &[], &ident(), now()).unwrap_err();
        assert!(
            e.to_string().contains("migrations/003_c.sql: modified"),
            "{e}"
        );
        let e = build(&Selector::Last(1), &f[..2], &h, &[], &ident(), now()).unwrap_err();
        assert!(
            e.to_string()
                .contains("003 (migrations/003_c.sql): the migration file is missing"),
            "{e}"
        );
    }

    #[test]
    fn the_digest_changes_with_the_database_the_targets_and_the_backups() {
        let f = files();
        let h: Vec<_> = f.iter().map(|m| row(m, Status::Applied)).collect();
        let b = [backup(1, "003", "DELETE", 500)];
        let base = build(&Selector::Last(1), &f, &h, &b, &ident(), now()).unwrap();
        assert_eq!(base.expired_backups, [1]);
        let other_db = DatabaseIdentity {
            system_identifier: "7".into(),
            database: "other".into(),
        };
        let d = |p: RollbackPlan| p.digest;
        assert_ne!(
            base.digest,
            d(build(&Selector::Last(1), &f, &h, &b, &other_db, now()).unwrap())
        );
        assert_ne!(
            base.digest,
            d(build(&Selector::Last(2), &f, &h, &b, &ident(), now()).unwrap())
        );
        let mut b2 = b.clone();
        b2[0].row_count = 4;
        assert_ne!(
            base.digest,
            d(build(&Selector::Last(1), &f, &h, &b2, &ident(), now()).unwrap())
        );
        let mut h2 = h.clone();
        h2[2].finished_at = DateTime::from_timestamp(1_700_000_001, 0);
        assert_ne!(
            base.digest,
            d(build(&Selector::Last(1), &f, &h2, &b, &ident(), now()).unwrap())
        );
        // Deterministic.
        assert_eq!(
            base.digest,
            d(build(&Selector::Last(1), &f, &h, &b, &ident(), now()).unwrap())
        );
    }
}
