//! TypeScript types from the live schema, as operations on [`Migrator`]: generate (in memory),
//! write (the configured file, only when its content changes) and verify (CI: apply every
//! migration to a throwaway database, generate, compare with the committed file; never writes).
//! The rendering itself is pure and lives in [`crate::types`].

use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::db::introspect::SchemaFilter;
use crate::db::scratch::Scratch;
use crate::error::{Error, Result};
use crate::migrator::{Migrator, UpOptions};
use crate::types::{render, RenderOptions};

/// The command that rewrites the committed file.
pub const FIX_COMMAND: &str = "pgkeel types generate";

/// Generated types, in memory.
#[derive(Debug, Clone, Serialize)]
pub struct GeneratedTypes {
    /// The TypeScript source.
    #[serde(skip)]
    pub text: String,
    /// sha256 of the rendered part of the schema model (see [`crate::types::Rendered`]).
    pub fingerprint: String,
    /// The schemas rendered.
    pub schemas: Vec<String>,
    /// The configured file (`[types] out`), relative to the project root.
    pub path: Option<String>,
}

/// What [`Migrator::write_types`] did.
#[derive(Debug, Clone, Serialize)]
pub struct WrittenTypes {
    #[serde(flatten)]
    pub generated: GeneratedTypes,
    /// The file written (or left alone), as given (relative to the project root unless absolute).
    pub file: String,
    pub bytes: usize,
    /// False when the file already had this content.
    pub written: bool,
}

/// What [`Migrator::verify_types`] found.
#[derive(Debug, Clone, Serialize)]
pub struct TypesCheck {
    /// The committed file, relative to the project root.
    pub path: String,
    pub up_to_date: bool,
    /// False when the committed file does not exist.
    pub file_exists: bool,
    /// The fingerprint of the types the migrations produce.
    pub fingerprint: String,
    pub schemas: Vec<String>,
    /// How many migrations were applied to the throwaway database.
    pub migrations_applied: usize,
    /// A unified diff from the committed file to the generated one, when they differ.
    pub diff: Option<String>,
    /// The command that makes the committed file right, when they differ.
    pub fix: Option<String>,
}

impl Migrator {
    /// Render the types of the live schema (`schemas`, else `[types] schemas`). Changes nothing.
    pub async fn generate_types(&self, schemas: Option<Vec<String>>) -> Result<GeneratedTypes> {
        let t = &self.config.types;
        let (wanted, explicit) = match schemas.filter(|s| !s.is_empty()) {
            Some(s) => (s, true),
            None => (t.schemas.clone(), t.schemas_explicit),
        };
        // Asked for by name: each must exist. Defaults (`public`, Supabase's API schemas) that
        // the database does not have are skipped.
        let filter = SchemaFilter {
            schemas: explicit.then(|| wanted.clone()),
            table: None,
            exclude: vec![self.config.history_schema.clone()],
        };
        let model = {
            let conn = self.read_conn("types").await?;
            self.within(
                "reading the schema for types",
                std::time::Duration::ZERO,
                crate::db::introspect::describe_detail(
                    &conn,
                    &filter,
                    crate::db::introspect::Detail::Types,
                ),
            )
            .await?
        };
        let mut rendered_schemas: Vec<String> = Vec::new();
        for s in &wanted {
            if model.schemas.contains(s) && !rendered_schemas.contains(s) {
                rendered_schemas.push(s.clone());
            }
        }
        let opts = RenderOptions {
            schemas: rendered_schemas.clone(),
            generator: format!("pgkeel {}", env!("CARGO_PKG_VERSION")),
        };
        let rendered = if rendered_schemas.is_empty() && !wanted.is_empty() {
            // None of the default schemas exists: render an empty model rather than every schema.
            render(
                &crate::db::introspect::SchemaModel::default(),
                &RenderOptions {
                    schemas: Vec::new(),
                    ..opts
                },
            )
        } else {
            render(&model, &opts)
        };
        Ok(GeneratedTypes {
            text: rendered.text,
            fingerprint: rendered.fingerprint,
            schemas: rendered_schemas,
            path: t.out.clone(),
        })
    }

    /// Generate and write to `out` (else `[types] out`), only when the content changes.
    pub async fn write_types(
        &self,
        schemas: Option<Vec<String>>,
        out: Option<&str>,
    ) -> Result<WrittenTypes> {
        let file =
            match out.or(self.config.types.out.as_deref()) {
                Some(f) => f.to_string(),
                None => return Err(Error::Config(
                    "no types file configured: set [types] out in pgkeel.toml (or pass --out PATH)"
                        .into(),
                )),
            };
        let generated = self.generate_types(schemas).await?;
        let path = self.types_path(&file);
        let written = write_if_changed(&path, &generated.text)?;
        Ok(WrittenTypes {
            bytes: generated.text.len(),
            generated,
            file,
            written,
        })
    }

    /// After a successful `up`: regenerate the configured file when `[types] on_up` is on.
    /// Returns the path when the file was written.
    pub(crate) async fn types_after_up(&self) -> Result<Option<String>> {
        if !self.config.types.on_up || self.config.types.out.is_none() {
            return Ok(None);
        }
        let w = self.write_types(None, None).await?;
        Ok(w.written.then_some(w.file))
    }

    /// For CI: apply every migration to a throwaway database on the configured server, generate
    /// the types there and compare them with the committed `[types] out` file. Never writes a
    /// file and never touches the configured database.
    pub async fn verify_types(&self) -> Result<TypesCheck> {
        let file = self.config.types.out.clone().ok_or_else(|| {
            Error::Config(
                "no types file configured: set [types] out in pgkeel.toml to the committed file"
                    .into(),
            )
        })?;
        let path = self.types_path(&file);
        let committed = match std::fs::read_to_string(&path) {
            Ok(t) => Some(t),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => return Err(Error::io(&path, e)),
        };
        // Read the files first: a broken migration folder is reported before a database exists.
        self.discover()?;
        let scratch =
            Scratch::create(self.url()?, "pgkeel_verify", self.config.connect_timeout).await?;
        let result = async {
            let mut config = self.config.clone();
            config.database_url = Some(scratch.url.clone());
            config.database_url_source = Some("throwaway database".into());
            config.types.on_up = false;
            // A Supabase project's migrations need the bootstrap, as on the dev database.
            config.dev_database = config.supabase.is_some();
            let m = Migrator::new(config);
            // An empty migration adds nothing to the schema: the replay records it (as `up
            // --allow-empty` did on the real database) rather than refusing to verify. The
            // untouched `pgkeel new` template is still refused: it is a migration not written
            // yet, so the types cannot be judged.
            let up = m
                .up(&UpOptions {
                    allow_empty: true,
                    ..UpOptions::default()
                })
                .await
                .map_err(|e| e.for_command("pgkeel types verify"))?;
            if let Some(f) = up.failure {
                return Err(Error::MigrationFailed(Box::new(f)));
            }
            let generated = m.generate_types(None).await?;
            Ok((up.applied.len(), generated))
        }
        .await;
        let dropped = scratch.drop_database().await;
        let (applied, generated) = result?;
        if let Err(e) = dropped {
            tracing::warn!("{e}");
        }
        let up_to_date = committed.as_deref() == Some(generated.text.as_str());
        let diff = (!up_to_date).then(|| {
            unified_diff(
                committed.as_deref().unwrap_or(""),
                &generated.text,
                &format!("{file} (committed)"),
                &format!("{file} (from migrations)"),
            )
        });
        Ok(TypesCheck {
            path: file,
            up_to_date,
            file_exists: committed.is_some(),
            fingerprint: generated.fingerprint,
            schemas: generated.schemas,
            migrations_applied: applied,
            diff,
            fix: (!up_to_date).then(|| FIX_COMMAND.to_string()),
        })
    }

    fn types_path(&self, file: &str) -> PathBuf {
        let p = Path::new(file);
        if p.is_absolute() {
            p.to_path_buf()
        } else {
            self.config.root.join(p)
        }
    }
}

/// Write `text` to `path` unless it already holds exactly that (then the file, its mtime and
/// any watcher are left alone). Writes a temporary file beside it and renames it over, so a
/// reader never sees half a file. Returns whether it wrote.
pub fn write_if_changed(path: &Path, text: &str) -> Result<bool> {
    if std::fs::read(path).ok().as_deref() == Some(text.as_bytes()) {
        return Ok(false);
    }
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    }
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = path.with_file_name(format!(".{name}.pgkeel-{}.tmp", std::process::id()));
    std::fs::write(&tmp, text).map_err(|e| Error::io(&tmp, e))?;
    std::fs::rename(&tmp, path).map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        Error::io(path, e)
    })?;
    Ok(true)
}

/// A unified diff (3 lines of context) from `old` to `new`.
pub fn unified_diff(old: &str, new: &str, old_name: &str, new_name: &str) -> String {
    similar::TextDiff::from_lines(old, new)
        .unified_diff()
        .context_radius(3)
        .header(old_name, new_name)
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn diff_names_both_sides_and_the_change() {
        let d = unified_diff("a\nb\nc\n", "a\nB\nc\n", "x (committed)", "x (new)");
        assert!(d.starts_with("--- x (committed)\n+++ x (new)\n"), "{d}");
        assert!(d.contains("-b\n+B\n"), "{d}");
        assert_eq!(unified_diff("same\n", "same\n", "a", "b"), "");
    }

    #[test]
    fn writes_only_on_change() {
        let dir = std::env::temp_dir().join(format!("pgkeel-typegen-{}", std::process::id()));
        let path = dir.join("sub/db.ts");
        assert!(write_if_changed(&path, "one\n").unwrap());
        assert!(!write_if_changed(&path, "one\n").unwrap());
        assert!(write_if_changed(&path, "two\n").unwrap());
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "two\n");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
