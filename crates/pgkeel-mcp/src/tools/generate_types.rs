//! `generate_types`: TypeScript types of the live schema (the shape `supabase gen types
//! typescript` writes). Returns them by default; `write: true` writes the project's `[types] out`
//! file instead (only when its content changes), which read-only mode refuses.

use rmcp::handler::server::tool::schema_for_output;
use rmcp::handler::server::wrapper::Parameters;
use rmcp::model::CallToolResult;
use rmcp::{tool, tool_router, ErrorData};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::{render, PgkeelServer};

#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GenerateTypesParams {
    /// Schemas to render (default: the project's `[types] schemas`, else the Supabase API
    /// schemas, else public).
    pub schemas: Option<Vec<String>>,
    /// Write the project's configured types file (`[types] out`) instead of returning the text
    /// (default false). The file is rewritten only when its content changes.
    #[serde(default)]
    pub write: bool,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct GenerateTypesOutput {
    pub schemas: Vec<String>,
    /// sha256 of the rendered part of the schema: equal fingerprints, equal types.
    pub fingerprint: String,
    /// Size of the TypeScript text.
    pub bytes: usize,
    /// True when the file was written (write: true and its content changed).
    pub written: bool,
    /// The configured types file, relative to the project root.
    pub path: Option<String>,
    /// The TypeScript source (only when write is false).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub types: Option<String>,
}

#[tool_router(router = generate_types_router, vis = "pub(crate)")]
impl PgkeelServer {
    /// TypeScript types of the live schema (Database type with Tables/Views/Functions/Enums per
    /// schema, as supabase gen types writes). Returns the text; write: true writes the project's
    /// configured types file instead (only when it changes; refused on a read-only server).
    #[tool(
        name = "generate_types",
        output_schema = schema_for_output::<GenerateTypesOutput>(),
        annotations(read_only_hint = false, destructive_hint = false, idempotent_hint = true, open_world_hint = false)
    )]
    pub(crate) async fn generate_types(
        &self,
        Parameters(p): Parameters<GenerateTypesParams>,
    ) -> Result<CallToolResult, ErrorData> {
        let migrator = self.migrator();
        if p.write && self.read_only() {
            return Ok(render::refused(
                "read_only",
                "write: true is not available: this pgkeel server runs in read-only mode",
                "call generate_types without write to get the types as text",
            ));
        }
        if p.write && migrator.config().types.out.is_none() {
            return Ok(render::refused(
                "no_types_file",
                "write: true needs a types file: the project's pgkeel.toml has no [types] out",
                "call generate_types without write to get the types as text, or ask a person to set [types] out",
            ));
        }
        let out = if p.write {
            match migrator.write_types(p.schemas, None).await {
                Ok(w) => GenerateTypesOutput {
                    schemas: w.generated.schemas,
                    fingerprint: w.generated.fingerprint,
                    bytes: w.bytes,
                    written: w.written,
                    path: Some(w.file),
                    types: None,
                },
                Err(e) => return Ok(render::error(&e)),
            }
        } else {
            match migrator.generate_types(p.schemas).await {
                Ok(g) => GenerateTypesOutput {
                    schemas: g.schemas,
                    fingerprint: g.fingerprint,
                    bytes: g.text.len(),
                    written: false,
                    path: g.path,
                    types: Some(g.text),
                },
                Err(e) => return Ok(render::error(&e)),
            }
        };
        let schemas = if out.schemas.is_empty() {
            "no schema".to_string()
        } else {
            out.schemas.join(", ")
        };
        let fp = &out.fingerprint[..out.fingerprint.len().min(12)];
        let summary = match (&out.path, p.write) {
            (Some(path), true) if out.written => {
                format!("Wrote {path}: {} bytes for {schemas} (fingerprint {fp}).", out.bytes)
            }
            (Some(path), true) => {
                format!("{path} already up to date: {} bytes for {schemas} (fingerprint {fp}); nothing written.", out.bytes)
            }
            _ => format!(
                "TypeScript types for {schemas}: {} bytes (fingerprint {fp}) in structuredContent.types.",
                out.bytes
            ),
        };
        Ok(render::ok(summary, &out))
    }
}
