//! `GET /api/v1/plugins`, `GET /api/v1/plugins/{format}` and
//! `PUT /api/v1/plugins/{format}/config/validate`: what `topictable plugins
//! list` and `plugins describe` show, and a codec config checked against
//! the codec's own description.

use std::sync::Arc;

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use serde::Serialize;

use super::AppState;
use super::error::ApiError;
use crate::plugin_loader::LoadedPlugin;

/// One loaded plugin.
#[derive(Serialize, utoipa::ToSchema)]
pub(super) struct PluginInfo {
    name: String,
    version: String,
    /// The plugin ABI version it was built against.
    abi_version: String,
    /// The file it was loaded from.
    file: String,
    /// The formats (codecs) it offers.
    formats: Vec<String>,
    /// The sinks it offers.
    sinks: Vec<String>,
}

/// A format or sink with its config keys.
#[derive(Serialize, utoipa::ToSchema)]
pub(super) struct ComponentInfo {
    /// The format's or sink's name.
    name: String,
    /// `codec` or `sink`.
    kind: String,
    /// The plugin that offers it.
    plugin: String,
    plugin_version: String,
    /// One line on what it is.
    doc: String,
    /// Whether it can encode (codecs; sinks never do).
    can_encode: bool,
    /// Its config keys: name, type, default, whether required, doc.
    #[schema(value_type = Object)]
    config: serde_json::Value,
}

/// The answer of a config check.
#[derive(Serialize, utoipa::ToSchema)]
pub(super) struct ValidationResult {
    /// The format checked.
    name: String,
    /// How many problems were found.
    error_count: usize,
    /// Each problem, naming the key.
    errors: Vec<String>,
    /// The config with defaults filled in, when it is valid.
    #[schema(value_type = Option<Object>)]
    config: Option<serde_json::Value>,
}

fn plugin_info(p: &LoadedPlugin) -> PluginInfo {
    PluginInfo {
        name: p.info.name.clone(),
        version: p.info.version.clone(),
        abi_version: p.info.abi_version.clone(),
        file: p.path.display().to_string(),
        formats: p
            .codecs
            .iter()
            .map(|c| c.description.format.clone())
            .collect(),
        sinks: p.sinks.iter().map(|s| s.description.name.clone()).collect(),
    }
}

/// Every loaded plugin, as `topictable plugins list` shows them.
#[utoipa::path(
    get,
    path = "/api/v1/plugins",
    tag = "plugins",
    responses(
        (status = 200, description = "The plugins", body = [PluginInfo]),
        (status = 401, description = "Missing or wrong token (with --token)", body = super::error::ErrorBody)
    )
)]
pub(super) async fn list(State(state): State<Arc<AppState>>) -> Json<Vec<PluginInfo>> {
    Json(
        state
            .worker
            .plugins()
            .plugins()
            .iter()
            .map(plugin_info)
            .collect(),
    )
}

/// Every format and sink under `name`.
fn components(state: &AppState, name: &str) -> Result<Vec<ComponentInfo>, ApiError> {
    let plugins = state.worker.plugins();
    let mut out = Vec::new();
    for p in plugins.plugins() {
        let whole = p.info.name == name;
        for c in p
            .codecs
            .iter()
            .filter(|c| whole || c.description.format == name)
        {
            out.push(ComponentInfo {
                name: c.description.format.clone(),
                kind: "codec".into(),
                plugin: p.info.name.clone(),
                plugin_version: p.info.version.clone(),
                doc: c.description.doc.clone(),
                can_encode: c.description.can_encode,
                config: serde_json::to_value(&c.description.config).unwrap_or_default(),
            });
        }
        for s in p
            .sinks
            .iter()
            .filter(|s| whole || s.description.name == name)
        {
            out.push(ComponentInfo {
                name: s.description.name.clone(),
                kind: "sink".into(),
                plugin: p.info.name.clone(),
                plugin_version: p.info.version.clone(),
                doc: s.description.doc.clone(),
                can_encode: false,
                config: serde_json::to_value(&s.description.config).unwrap_or_default(),
            });
        }
    }
    if out.is_empty() {
        let known: Vec<String> = plugins
            .plugins()
            .iter()
            .flat_map(|p| {
                p.codecs
                    .iter()
                    .map(|c| c.description.format.clone())
                    .chain(p.sinks.iter().map(|s| s.description.name.clone()))
            })
            .collect();
        return Err(ApiError::not_found(format!(
            "no plugin, format or sink named `{name}` (known: {})",
            known.join(", ")
        )));
    }
    Ok(out)
}

/// A plugin's, format's or sink's config keys, as `plugins describe` shows them.
#[utoipa::path(
    get,
    path = "/api/v1/plugins/{format}",
    tag = "plugins",
    params(("format" = String, Path, description = "A format (e.g. `json`), a sink or a plugin name")),
    responses(
        (status = 200, description = "Each format and sink under that name", body = [ComponentInfo]),
        (status = 401, description = "Missing or wrong token (with --token)", body = super::error::ErrorBody),
        (status = 404, description = "No such plugin, format or sink", body = super::error::ErrorBody)
    )
)]
pub(super) async fn describe(
    State(state): State<Arc<AppState>>,
    Path(format): Path<String>,
) -> Result<Json<Vec<ComponentInfo>>, ApiError> {
    Ok(Json(components(&state, &format)?))
}

/// Checks a codec or sink config (a JSON object of its keys) against its
/// description: unknown keys, wrong types, missing required keys.
#[utoipa::path(
    put,
    path = "/api/v1/plugins/{format}/config/validate",
    tag = "plugins",
    params(("format" = String, Path, description = "A format (e.g. `json`) or a sink name")),
    request_body(content = Object, description = "The config, e.g. {\"type\": \"int64\"}", content_type = "application/json"),
    responses(
        (status = 200, description = "The check's result; `error_count` 0 means valid", body = ValidationResult),
        (status = 400, description = "The body is not JSON", body = super::error::ErrorBody),
        (status = 401, description = "Missing or wrong token (with --token)", body = super::error::ErrorBody),
        (status = 404, description = "No such format or sink", body = super::error::ErrorBody)
    )
)]
pub(super) async fn validate(
    State(state): State<Arc<AppState>>,
    Path(format): Path<String>,
    body: Result<Json<serde_json::Value>, JsonRejection>,
) -> Result<Json<ValidationResult>, ApiError> {
    let Json(config) = body.map_err(|e| ApiError::bad_request(e.body_text()))?;
    if !config.is_object() {
        return Err(ApiError::bad_request(format!(
            "expected a JSON object of config keys, found {config}"
        )));
    }
    let plugins = state.worker.plugins();
    let spec = match (plugins.codec(&format), plugins.sink(&format)) {
        (Some(c), _) => &c.description.config,
        (None, Some(s)) => &s.description.config,
        (None, None) => {
            components(&state, &format)?;
            return Err(ApiError::not_found(format!(
                "`{format}` is a plugin; validate one of its formats or sinks"
            )));
        }
    };
    Ok(Json(match spec.validate(&config) {
        Ok(filled) => ValidationResult {
            name: format,
            error_count: 0,
            errors: Vec::new(),
            config: Some(serde_json::Value::Object(filled)),
        },
        Err(errors) => ValidationResult {
            name: format,
            error_count: errors.len(),
            errors: errors.iter().map(ToString::to_string).collect(),
            config: None,
        },
    }))
}
