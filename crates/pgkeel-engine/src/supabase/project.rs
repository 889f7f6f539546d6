//! What pgkeel knows about a Supabase project: the `[supabase]` section of pgkeel.toml and the
//! parts of `supabase/config.toml` it uses. Pure: the caller hands in the texts.
//!
//! Supabase mode is on when pgkeel.toml has a `[supabase]` section (unless `enabled = false`),
//! or when `supabase/config.toml` exists in the project root (unless pgkeel.toml says
//! `[supabase] enabled = false`).

use serde::Deserialize;

/// Where Supabase's own configuration lives, relative to the project root.
pub const SUPABASE_CONFIG: &str = "supabase/config.toml";
/// The seed file `pgkeel dev reset` runs after the migrations.
pub const SEED_FILE: &str = "supabase/seed.sql";

/// Effective Supabase settings of a project.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct SupabaseSettings {
    /// Why Supabase mode is on: `pgkeel.toml [supabase]` or `supabase/config.toml`.
    pub source: String,
    /// Mirror every applied migration into `supabase_migrations.schema_migrations`.
    pub mirror_history: bool,
    /// `[db] major_version` of supabase/config.toml (the PostgreSQL major the project targets).
    pub major_version: Option<u32>,
    /// `[api] schemas`: the schemas PostgREST exposes.
    pub api_schemas: Vec<String>,
    /// `[api] extra_search_path`.
    pub extra_search_path: Vec<String>,
}

/// The `[supabase]` section of pgkeel.toml.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SupabaseSection {
    pub enabled: Option<bool>,
    pub mirror_history: Option<bool>,
}

/// The parts of supabase/config.toml pgkeel reads; everything else in it is Supabase's.
#[derive(Debug, Default, Deserialize)]
struct SupabaseConfigFile {
    #[serde(default)]
    db: DbSection,
    #[serde(default)]
    api: ApiSection,
}

#[derive(Debug, Default, Deserialize)]
struct DbSection {
    major_version: Option<u32>,
}

#[derive(Debug, Default, Deserialize)]
struct ApiSection {
    schemas: Option<Vec<String>>,
    extra_search_path: Option<Vec<String>>,
}

/// Supabase's defaults when config.toml leaves them out.
fn default_api_schemas() -> Vec<String> {
    vec!["public".into(), "graphql_public".into()]
}
fn default_extra_search_path() -> Vec<String> {
    vec!["public".into(), "extensions".into()]
}

/// The effective settings from the `[supabase]` section (if any) and the text of
/// supabase/config.toml (if it exists). `None` when Supabase mode is off.
pub fn resolve(
    section: Option<&SupabaseSection>,
    config_toml: Option<&str>,
) -> Result<Option<SupabaseSettings>, String> {
    if section.and_then(|s| s.enabled) == Some(false) {
        return Ok(None);
    }
    let source = match (section, config_toml) {
        (Some(_), _) => "pgkeel.toml [supabase]",
        (None, Some(_)) => SUPABASE_CONFIG,
        (None, None) => return Ok(None),
    };
    let file: SupabaseConfigFile = match config_toml {
        Some(text) => toml::from_str(text).map_err(|e| {
            format!(
                "{SUPABASE_CONFIG}: {}",
                e.to_string().lines().next().unwrap_or_default()
            )
        })?,
        None => SupabaseConfigFile::default(),
    };
    Ok(Some(SupabaseSettings {
        source: source.to_string(),
        mirror_history: section.and_then(|s| s.mirror_history).unwrap_or(true),
        major_version: file.db.major_version,
        api_schemas: file.api.schemas.unwrap_or_else(default_api_schemas),
        extra_search_path: file
            .api
            .extra_search_path
            .unwrap_or_else(default_extra_search_path),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn off_unless_asked_or_detected() {
        assert_eq!(resolve(None, None).unwrap(), None);
        let off = SupabaseSection {
            enabled: Some(false),
            ..Default::default()
        };
        assert_eq!(
            resolve(Some(&off), Some("[db]\nmajor_version = 15\n")).unwrap(),
            None
        );
        let on = resolve(Some(&SupabaseSection::default()), None)
            .unwrap()
            .unwrap();
        assert_eq!(on.source, "pgkeel.toml [supabase]");
        assert!(on.mirror_history);
        assert_eq!(on.api_schemas, ["public", "graphql_public"]);
        assert_eq!(on.major_version, None);
    }

    #[test]
    fn reads_supabase_config_toml() {
        let text = r#"
project_id = "crm"
[api]
enabled = true
port = 54321
schemas = ["public", "graphql_public", "crm"]
extra_search_path = ["public", "extensions", "crm"]
max_rows = 1000
[db]
port = 54322
major_version = 15
[db.seed]
enabled = true
[auth]
site_url = "http://127.0.0.1:3000"
"#;
        let s = resolve(None, Some(text)).unwrap().unwrap();
        assert_eq!(s.source, SUPABASE_CONFIG);
        assert_eq!(s.major_version, Some(15));
        assert_eq!(s.api_schemas, ["public", "graphql_public", "crm"]);
        assert_eq!(s.extra_search_path, ["public", "extensions", "crm"]);
        let no_mirror = SupabaseSection {
            mirror_history: Some(false),
            ..Default::default()
        };
        assert!(
            !resolve(Some(&no_mirror), Some(text))
                .unwrap()
                .unwrap()
                .mirror_history
        );
        let e = resolve(None, Some("[db]\nmajor_version = \"fifteen\"\n")).unwrap_err();
        assert!(e.contains("supabase/config.toml"), "{e}");
    }
}
