//! Reading the migration folders from disk (the I/O half of discovery; see [`crate::discovery`]).

use std::path::Path;

use crate::config::Config;
use crate::discovery::{self, Discovered, RawFile, Warning};
use crate::error::{Error, Result};

/// Read every configured folder and discover the project's migrations.
pub fn discover(config: &Config) -> Result<Discovered> {
    let (files, mut warnings) = read_folders(&config.root, &config.folders)?;
    let mut d = discovery::discover(files, config.strict)?;
    warnings.append(&mut d.warnings);
    d.warnings = warnings;
    Ok(d)
}

/// The files directly inside each folder (not recursive: a subfolder is a separate folder and
/// must be configured). Warns about missing folders and about subfolders holding `.sql` files
/// that no configuration names, so that nothing is skipped silently.
pub fn read_folders(root: &Path, folders: &[String]) -> Result<(Vec<RawFile>, Vec<Warning>)> {
    let mut files = Vec::new();
    let mut warnings = Vec::new();
    for folder in folders {
        let dir = root.join(folder);
        let entries = match std::fs::read_dir(&dir) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                warnings.push(Warning {
                    path: folder.clone(),
                    message: "migration folder does not exist".into(),
                });
                continue;
            }
            Err(e) => return Err(Error::io(&dir, e)),
        };
        let mut names = Vec::new();
        for entry in entries {
            let entry = entry.map_err(|e| Error::io(&dir, e))?;
            let file_name = entry.file_name().to_string_lossy().into_owned();
            let path = entry.path();
            let rel = format!("{}/{}", folder.trim_end_matches('/'), file_name);
            if path.is_dir() {
                let configured = folders.iter().any(|f| f.trim_end_matches('/') == rel);
                if !configured && has_sql_files(&path) {
                    warnings.push(Warning {
                        path: rel,
                        message: "subfolder holds .sql files but is not a configured migration folder; add it to [migrations] folders in pgkeel.toml to apply them".into(),
                    });
                }
                continue;
            }
            names.push((file_name, rel, path));
        }
        names.sort();
        for (file_name, rel, path) in names {
            if !file_name.ends_with(".sql") {
                warnings.extend(discovery::extension_case_warning(&file_name, &rel));
                continue;
            }
            let bytes = std::fs::read(&path).map_err(|e| Error::io(&path, e))?;
            files.push(RawFile {
                path: rel,
                file_name,
                bytes,
            });
        }
    }
    Ok((files, warnings))
}

fn has_sql_files(dir: &Path) -> bool {
    std::fs::read_dir(dir).is_ok_and(|entries| {
        entries
            .flatten()
            .any(|e| e.file_name().to_string_lossy().ends_with(".sql"))
    })
}
