//! docs/reference.toml (every pgkeel.toml setting with its default) against docs/CONFIG.md: the
//! same sections and keys on both sides, and the file loads (pgkeel refuses unknown keys, so
//! every setting it spells is one pgkeel reads).

mod cli_support;

use std::collections::BTreeSet;

use pgkeel_testkit::Project;

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

/// `(section, key)` of every row of the key table under each `### [section]` heading of
/// docs/CONFIG.md; a row naming a sub-table (`[lint.rules]`) is `(lint.rules, "")`.
fn documented() -> BTreeSet<(String, String)> {
    let text = std::fs::read_to_string(format!("{ROOT}/docs/CONFIG.md")).expect("CONFIG.md");
    let mut out = BTreeSet::new();
    let (mut section, mut in_table) = (None::<String>, false);
    for line in text.lines() {
        if let Some(s) = line.strip_prefix("### [").and_then(|r| r.strip_suffix(']')) {
            section = Some(s.to_string());
            in_table = false;
            continue;
        }
        let Some(s) = &section else { continue };
        if line.starts_with("| Key |") {
            in_table = true;
            continue;
        }
        if !in_table {
            continue;
        }
        if !line.starts_with('|') {
            section = None;
            in_table = false;
            continue;
        }
        let cell = line
            .trim_start_matches("| ")
            .split(" |")
            .next()
            .unwrap_or("");
        let Some(key) = cell.strip_prefix('`').and_then(|c| c.strip_suffix('`')) else {
            continue;
        };
        match key.strip_prefix('[').and_then(|k| k.strip_suffix(']')) {
            Some(table) => out.insert((sub_table(table), String::new())),
            None => out.insert((s.clone(), key.to_string())),
        };
    }
    out
}

/// `expect.columns."schema.table"` (any table name) as one sub-table.
fn sub_table(name: &str) -> String {
    match name.strip_prefix("expect.columns.") {
        Some(_) => "expect.columns.*".to_string(),
        None => name.to_string(),
    }
}

/// The same pairs from docs/reference.toml, commented-out settings (`# key = …`) and headers
/// included. Keys inside sub-tables are examples (rule ids, check ids, names), not settings.
fn referenced() -> BTreeSet<(String, String)> {
    let text =
        std::fs::read_to_string(format!("{ROOT}/docs/reference.toml")).expect("reference.toml");
    let mut out = BTreeSet::new();
    let mut section = String::new();
    for line in text.lines() {
        let l = line.trim_start_matches("# ").trim();
        if let Some(h) = l.strip_prefix('[') {
            let name = h.split(']').next().unwrap_or("");
            section = sub_table(name);
            if section.contains('.') {
                out.insert((section.clone(), String::new()));
            }
            continue;
        }
        if section.is_empty() || section.contains('.') {
            continue;
        }
        let Some((key, _)) = l.split_once(" = ") else {
            continue;
        };
        if key.chars().all(|c| c.is_ascii_lowercase() || c == '_') {
            out.insert((section.clone(), key.to_string()));
        }
    }
    out
}

#[test]
fn reference_toml_and_config_md_name_the_same_settings() {
    let (docs, reference) = (documented(), referenced());
    assert!(
        docs.len() > 40,
        "read only {} settings from CONFIG.md",
        docs.len()
    );
    let only_docs: Vec<_> = docs.difference(&reference).collect();
    let only_reference: Vec<_> = reference.difference(&docs).collect();
    assert!(
        only_docs.is_empty() && only_reference.is_empty(),
        "in docs/CONFIG.md only: {only_docs:?}\nin docs/reference.toml only: {only_reference:?}"
    );
}

#[test]
fn reference_toml_loads_as_a_projects_pgkeel_toml() {
    let p = Project::new();
    p.write(
        "pgkeel.toml",
        std::fs::read_to_string(format!("{ROOT}/docs/reference.toml")).expect("reference.toml"),
    );
    p.write(
        "migrations/001_a.sql",
        "create table a (id bigint primary key);\n",
    );
    let r = cli_support::run(p.root(), &["lint"]).expect(0);
    assert!(r.stdout.contains("1 file(s) linted: 0 error(s)"), "{r}");
}
