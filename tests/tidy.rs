//! Tidy rules over the source tree, checked like any test: every source file opens with a `//!`
//! line saying what it is, and the modules docs/ARCHITECTURE.md calls pure import no I/O (no
//! tokio or tokio-postgres, no file system, network or processes), so they stay unit-testable
//! in milliseconds.

use std::path::{Path, PathBuf};

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

/// The engine's pure modules (docs/ARCHITECTURE.md marks them `[pure]`), relative to
/// `crates/pgkeel-engine/src`; a folder stands for every file in it.
const PURE: &[&str] = &[
    "version.rs",
    "checksum.rs",
    "duration.rs",
    "redact.rs",
    "statements.rs",
    "sql_text.rs",
    "statement_kind.rs",
    "psql.rs",
    "migration.rs",
    "discovery.rs",
    "plan.rs",
    "history.rs",
    "events.rs",
    "segment.rs",
    "touch.rs",
    "backup/plan.rs",
    "backup/settings.rs",
    "validate/mod.rs",
    "validate/expectations.rs",
    "validate/settings.rs",
    "types",
    "rollback/plan.rs",
    "snapshot",
    "lint/mod.rs",
    "lint/squawk.rs",
    "lint/context.rs",
    "lint/accept.rs",
    "lint/explain.rs",
    "lint/settings.rs",
    "supabase/project.rs",
    "supabase/split.rs",
    "supabase/catalog.rs",
    "supabase/rewrite.rs",
];

/// What a pure module must not name: I/O crates and std's I/O modules.
const IO: &[&str] = &[
    "tokio",
    "std::fs",
    "std::net",
    "std::process",
    "std::io::stdin",
    "std::io::stdout",
];

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut entries: Vec<_> = entries.flatten().map(|e| e.path()).collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|e| e == "rs") {
            out.push(p);
        }
    }
}

/// The source folders of the workspace: the CLI's and each crate's.
fn sources() -> Vec<PathBuf> {
    let root = Path::new(ROOT);
    let mut dirs = vec![root.join("src")];
    let mut crates: Vec<_> = std::fs::read_dir(root.join("crates"))
        .expect("crates/")
        .flatten()
        .map(|e| e.path().join("src"))
        .filter(|p| p.is_dir())
        .collect();
    crates.sort();
    dirs.extend(crates);
    let mut files = Vec::new();
    for d in dirs {
        rust_files(&d, &mut files);
    }
    files
}

#[test]
fn every_source_file_opens_with_a_line_saying_what_it_is() {
    let files = sources();
    assert!(files.len() > 50, "found only {} files", files.len());
    let missing: Vec<String> = files
        .iter()
        .filter(|f| {
            !std::fs::read_to_string(f)
                .unwrap_or_default()
                .starts_with("//!")
        })
        .map(|f| f.display().to_string())
        .collect();
    assert!(
        missing.is_empty(),
        "these files do not start with a `//!` line: {missing:#?}"
    );
}

#[test]
fn pure_modules_import_no_io() {
    let src = Path::new(ROOT).join("crates/pgkeel-engine/src");
    let mut checked = 0;
    let mut found = Vec::new();
    for entry in PURE {
        let path = src.join(entry);
        let mut files = Vec::new();
        if path.is_dir() {
            rust_files(&path, &mut files);
        } else {
            assert!(
                path.is_file(),
                "{entry} is listed as pure but does not exist"
            );
            files.push(path);
        }
        for f in files {
            checked += 1;
            let text = std::fs::read_to_string(&f).expect("read");
            for (n, line) in text.lines().enumerate() {
                let code = line.split("//").next().unwrap_or_default();
                for io in IO {
                    let at = code.find(io);
                    // A whole name: `tokio` but not `tokio_like` inside another word.
                    let whole = at.is_some_and(|i| {
                        !code[..i].ends_with(|c: char| c.is_alphanumeric() || c == '_')
                    });
                    if whole {
                        found.push(format!("{}:{}: {}", f.display(), n + 1, line.trim()));
                    }
                }
            }
        }
    }
    assert!(checked > 40, "checked only {checked} files");
    assert!(
        found.is_empty(),
        "pure modules that name an I/O crate or module: {found:#?}"
    );
}
