//! `[validate]` (and `[expect]`) in pgkeel.toml → [`ValidateSettings`]. Pure apart from the
//! expectations file, which is read through the config loader's [`Environment`].
//!
//! ```toml
//! [validate]
//! expectations = "expectations.toml"   # more expectations, keys of [expect] at top level
//! schemas = ["public", "app"]          # checked schemas (default: all but system/Supabase/pgkeel)
//! exposed_schemas = ["public"]         # reached by clients (default: Supabase API schemas, else none)
//! on_up = "warn"                       # after `up`: "warn" (default) | "fail" | "off"
//!
//! [validate.checks]
//! duplicate_index = "off"              # "off" | "info" | "warning" | "error"
//! expectations = "warning"             # the severity of expectation findings (default error)
//! ```

use std::collections::BTreeMap;
use std::path::Path;

use serde::Deserialize;
use toml::Spanned;

use crate::environment::Environment;
use crate::error::{Error, Result};
use crate::supabase::SupabaseSettings;
use crate::validate::expectations::{self, ExpectSection, Expectations, Source};
use crate::validate::Severity;

/// The id `[validate.checks]` and `--check` use for the declared expectations.
pub const EXPECTATIONS: &str = "expectations";

/// What `up` does with validation after it applied migrations.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OnUp {
    /// Run it and print the findings; `up` succeeds (unless `--validate`).
    #[default]
    Warn,
    /// Run it; any error finding makes `up` fail (exit 3), as `up --validate` does.
    Fail,
    /// Do not run it (`up --validate` still does).
    Off,
}

/// A configured level for one check: off, or a severity for its findings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    Off,
    Severity(Severity),
}

/// `[validate]` and `[expect]`, resolved.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ValidateSettings {
    /// `[expect]` and the expectations file, merged.
    pub expect: Expectations,
    /// `[validate] expectations`: the file's path relative to the project root.
    pub expectations_file: Option<String>,
    /// Schemas to check; `None`: every schema except PostgreSQL's, extensions', Supabase's and
    /// pgkeel's own (see [`crate::db::checks::Scope::default_schemas`]).
    pub schemas: Option<Vec<String>>,
    /// Schemas clients reach directly (RLS and SECURITY DEFINER view checks).
    pub exposed_schemas: Vec<String>,
    pub on_up: OnUp,
    /// Per check id (or [`EXPECTATIONS`]): off or a severity.
    pub checks: BTreeMap<String, Level>,
}

impl ValidateSettings {
    /// The level of `id`: configured, else its default severity (`None` for an unknown id).
    pub fn level(&self, id: &str) -> Option<Level> {
        if let Some(l) = self.checks.get(id) {
            return Some(*l);
        }
        if id == EXPECTATIONS {
            return Some(Level::Severity(Severity::Error));
        }
        crate::db::checks::info(id).map(|c| Level::Severity(c.default_severity))
    }
}

/// Every id `[validate.checks]` and `--check` accept.
pub fn known_ids() -> Vec<&'static str> {
    let mut ids: Vec<&'static str> = crate::db::checks::ALL.iter().map(|c| c.id).collect();
    ids.push(EXPECTATIONS);
    ids
}

#[derive(Debug, Default, Deserialize)]
struct Sections {
    // Other sections belong to other modules; Config::resolve checks those.
    validate: Option<ValidateSection>,
    expect: Option<ExpectSection>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ValidateSection {
    expectations: Option<Spanned<String>>,
    schemas: Option<Spanned<Vec<String>>>,
    exposed_schemas: Option<Vec<String>>,
    on_up: Option<Spanned<String>>,
    #[serde(default)]
    checks: BTreeMap<Spanned<String>, Spanned<String>>,
}

/// Read `[validate]` and `[expect]` from pgkeel.toml (`file` = `(text, display name)`), and
/// the expectations file it names (relative to `root`, read through `env`). Mistakes are
/// [`Error::Config`] with file, line and column.
pub fn resolve(
    file: Option<(&str, &str)>,
    root: &Path,
    env: &dyn Environment,
    supabase: Option<&SupabaseSettings>,
) -> Result<ValidateSettings> {
    let default_exposed = || match supabase {
        Some(sb) => {
            let mut s = vec!["public".to_string()];
            for a in &sb.api_schemas {
                if !s.contains(a) {
                    s.push(a.clone());
                }
            }
            s
        }
        None => Vec::new(),
    };
    let Some((text, name)) = file else {
        return Ok(ValidateSettings {
            exposed_schemas: default_exposed(),
            ..ValidateSettings::default()
        });
    };
    let src = Source { text, name };
    let sections: Sections = toml::from_str(text).map_err(|e| Error::Config(src.toml_error(&e)))?;
    let v = sections.validate.unwrap_or_default();
    let mut expect = match sections.expect {
        Some(e) => e.check(&src).map_err(Error::Config)?,
        None => Expectations::default(),
    };

    let expectations_file = match &v.expectations {
        Some(p) => {
            let path = p.get_ref().trim();
            if path.is_empty()
                || Path::new(path).is_absolute()
                || path.split('/').any(|c| c == "..")
            {
                return Err(Error::Config(src.error_at(
                    p.span().start,
                    &format!(
                        "[validate] expectations {path:?} must be a file inside the project (relative, without ..)"
                    ),
                )));
            }
            let full = root.join(path);
            let content = env.read_file(&full).ok_or_else(|| {
                Error::Config(src.error_at(
                    p.span().start,
                    &format!(
                        "[validate] expectations: cannot read {}; create it or fix the path",
                        full.display()
                    ),
                ))
            })?;
            expect.extend(expectations::parse_file(&content, path).map_err(Error::Config)?);
            Some(path.to_string())
        }
        None => None,
    };

    let schemas = match v.schemas {
        Some(s) if s.get_ref().is_empty() => {
            return Err(Error::Config(src.error_at(
                s.span().start,
                "[validate] schemas is empty: name at least one schema, or leave it out for the default",
            )))
        }
        Some(s) => Some(s.into_inner()),
        None => None,
    };

    let on_up = match &v.on_up {
        None => OnUp::Warn,
        Some(s) => match s.get_ref().as_str() {
            "warn" | "warning" => OnUp::Warn,
            "fail" | "error" => OnUp::Fail,
            "off" => OnUp::Off,
            other => {
                return Err(Error::Config(src.error_at(
                    s.span().start,
                    &format!(
                        "[validate] on_up = {other:?}: expected \"warn\", \"fail\" or \"off\""
                    ),
                )))
            }
        },
    };

    let known = known_ids();
    let mut checks = BTreeMap::new();
    for (id, level) in &v.checks {
        if !known.contains(&id.get_ref().as_str()) {
            return Err(Error::Config(src.error_at(
                id.span().start,
                &format!(
                    "[validate.checks] unknown check {:?}; the checks are: {}",
                    id.get_ref(),
                    known.join(", ")
                ),
            )));
        }
        let l = match level.get_ref().as_str() {
            "off" => Level::Off,
            s => Level::Severity(Severity::parse(s).ok_or_else(|| {
                Error::Config(src.error_at(
                    level.span().start,
                    &format!(
                        "[validate.checks] {} = {s:?}: expected \"off\", \"info\", \"warning\" or \"error\"",
                        id.get_ref()
                    ),
                ))
            })?),
        };
        checks.insert(id.get_ref().clone(), l);
    }

    Ok(ValidateSettings {
        expect,
        expectations_file,
        schemas,
        exposed_schemas: v.exposed_schemas.unwrap_or_else(default_exposed),
        on_up,
        checks,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::environment::SystemEnvironment;

    fn parse(text: &str, supabase: bool) -> Result<ValidateSettings> {
        let sb = crate::supabase::project::resolve(None, supabase.then_some(""))
            .ok()
            .flatten();
        resolve(
            Some((text, "pgkeel.toml")),
            Path::new("/nonexistent"),
            &SystemEnvironment,
            sb.as_ref(),
        )
    }

    #[test]
    fn defaults_and_supabase_exposed_schemas() {
        let s = parse("", false).unwrap();
        assert_eq!(s.on_up, OnUp::Warn);
        assert!(s.exposed_schemas.is_empty() && s.schemas.is_none() && s.expect.is_empty());
        assert_eq!(
            s.level(EXPECTATIONS),
            Some(Level::Severity(Severity::Error))
        );
        assert_eq!(s.level("no_such_check"), None);
        let s = parse("", true).unwrap();
        assert_eq!(s.exposed_schemas, ["public", "graphql_public"]);
        let s = parse("[validate]\nexposed_schemas = []\n", true).unwrap();
        assert!(s.exposed_schemas.is_empty());
    }

    #[test]
    fn settings_and_mistakes() {
        let s = parse(
            "[validate]\non_up = \"fail\"\nschemas = [\"app\"]\n[validate.checks]\nduplicate_index = \"off\"\nexpectations = \"warning\"\n",
            false,
        )
        .unwrap();
        assert_eq!(s.on_up, OnUp::Fail);
        assert_eq!(s.schemas.as_deref(), Some(&["app".to_string()][..]));
        assert_eq!(s.level("duplicate_index"), Some(Level::Off));
        assert_eq!(
            s.level(EXPECTATIONS),
            Some(Level::Severity(Severity::Warning))
        );
        for (bad, at) in [
            ("[validate]\non_up = \"never\"\n", "pgkeel.toml:2:9"),
            (
                "[validate]\nexpectations = \"../x.toml\"\n",
                "pgkeel.toml:2:16",
            ),
            (
                "[validate]\nexpectations = \"x.toml\"\n",
                "pgkeel.toml:2:16",
            ),
            ("[validate.checks]\n\nnope = \"off\"\n", "pgkeel.toml:3:1"),
            ("[validate]\non_up = 1\n", "pgkeel.toml:2:9"),
            ("[expect]\ntables = [\"a.b.c\"]\n", "pgkeel.toml:2:11"),
        ] {
            let e = parse(bad, false).unwrap_err().to_string();
            assert!(e.contains(at), "{bad:?}: {e}");
        }
    }
}
