//! `describe_schema`: a compact catalogue of the live schema (tables with columns, types,
//! nullability, defaults and keys; views; enums with their values; function signatures), or full
//! detail for one table or view. Built on the engine's schema model.

use pgkeel_engine::db::introspect::{SchemaFilter, SchemaModel, Table};
use rmcp::handler::server::tool::schema_for_output;
use rmcp::handler::server::wrapper::Parameters;
use rmcp::model::{CallToolResult, ContentBlock};
use rmcp::{tool, tool_router, ErrorData};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::{boundary, render, PgkeelServer};

#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DescribeParams {
    /// Schemas to describe (default: every user schema except pgkeel's history schema and
    /// schemas that belong to extensions).
    pub schemas: Option<Vec<String>>,
    /// One table or view, `name` or `schema.name`: full detail (constraints, indexes, RLS
    /// policies, comments, view definition).
    pub table: Option<String>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct DescribeOutput {
    pub schemas: Vec<String>,
    pub tables: Vec<CompactRelation>,
    pub views: Vec<CompactRelation>,
    /// `schema.name: label, label, …`
    pub enums: Vec<String>,
    /// `schema.name(args) → result`
    pub functions: Vec<String>,
    /// With `table`: the full model of that table or view.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<serde_json::Value>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct CompactRelation {
    /// `schema.name`
    pub name: String,
    /// One line per column: `name type [not null] [default …] [pk] [→ schema.table(col)]`.
    pub columns: Vec<String>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub rls_enabled: bool,
}

fn compact_table(t: &Table) -> CompactRelation {
    let columns = t
        .columns
        .iter()
        .map(|c| {
            let mut line = format!("{} {}", c.name, c.data_type);
            if !c.nullable {
                line.push_str(" not null");
            }
            if let Some(d) = &c.default {
                line.push_str(&format!(" default {d}"));
            }
            if c.identity.is_some() {
                line.push_str(" identity");
            }
            if c.generated.is_some() {
                line.push_str(" generated");
            }
            if t.primary_key.contains(&c.name) {
                line.push_str(" pk");
            }
            for fk in t
                .foreign_keys
                .iter()
                .filter(|fk| fk.columns == [c.name.clone()])
            {
                line.push_str(&format!(
                    " → {}.{}({})",
                    fk.referenced_schema,
                    fk.referenced_table,
                    fk.referenced_columns.join(", ")
                ));
            }
            line
        })
        .collect();
    CompactRelation {
        name: format!("{}.{}", t.schema, t.name),
        columns,
        rls_enabled: t.rls_enabled,
    }
}

fn compact(model: &SchemaModel) -> DescribeOutput {
    DescribeOutput {
        schemas: model.schemas.clone(),
        tables: model.tables.iter().map(compact_table).collect(),
        views: model
            .views
            .iter()
            .map(|v| CompactRelation {
                name: format!("{}.{}", v.schema, v.name),
                columns: v
                    .columns
                    .iter()
                    .map(|c| format!("{} {}", c.name, c.data_type))
                    .collect(),
                rls_enabled: false,
            })
            .collect(),
        enums: model
            .enums
            .iter()
            .map(|e| format!("{}.{}: {}", e.schema, e.name, e.labels.join(", ")))
            .collect(),
        functions: model.functions.iter().map(|f| f.signature()).collect(),
        detail: None,
    }
}

#[tool_router(router = describe_schema_router, vis = "pub(crate)")]
impl PgkeelServer {
    /// The live schema, compact: tables with columns (type, nullability, default, primary and
    /// foreign keys), views, enums with their values, function signatures. With `table`, full
    /// detail for that table or view. Read-only.
    #[tool(
        name = "describe_schema",
        output_schema = schema_for_output::<DescribeOutput>(),
        annotations(read_only_hint = true, destructive_hint = false, idempotent_hint = true, open_world_hint = false)
    )]
    pub(crate) async fn describe_schema(
        &self,
        Parameters(p): Parameters<DescribeParams>,
    ) -> Result<CallToolResult, ErrorData> {
        let filter = SchemaFilter {
            schemas: p.schemas,
            table: p.table.clone(),
            exclude: vec![self.migrator().config().history_schema.clone()],
        };
        let model = match self.migrator().describe(&filter).await {
            Ok(m) => m,
            Err(e) => return Ok(render::error(&e)),
        };
        let mut out = compact(&model);
        if p.table.is_some() {
            out.detail = model
                .tables
                .first()
                .map(serde_json::to_value)
                .or_else(|| model.views.first().map(serde_json::to_value))
                .and_then(Result::ok);
        }
        let summary = format!(
            "{} table(s), {} view(s), {} enum(s), {} function(s) in {}.",
            out.tables.len(),
            out.views.len(),
            out.enums.len(),
            out.functions.len(),
            if out.schemas.is_empty() {
                "no schema".to_string()
            } else {
                out.schemas.join(", ")
            }
        );
        // Names, defaults and comments come from the database: wrap them like query results.
        let listing = serde_json::to_string(&out).unwrap_or_default();
        let mut result = render::ok(summary.clone(), &out);
        result.content = vec![ContentBlock::text(format!(
            "{summary}\n{}",
            boundary::wrap(&listing)
        ))];
        Ok(result)
    }
}
