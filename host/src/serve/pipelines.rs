//! `/api/v1/pipelines`: create, read, replace and delete pipelines, see their
//! status, pause, resume and restart them (Kafka Connect's connector API,
//! for pipeline files).

use std::sync::Arc;

use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::header::CONTENT_TYPE;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};

use super::AppState;
use super::error::ApiError;
use crate::worker::status::{PipelineStatus, State as RunState};
use crate::worker::{HostedPipeline, Worker, WorkerError};

impl From<WorkerError> for ApiError {
    fn from(e: WorkerError) -> Self {
        let status = match &e {
            WorkerError::NotFound { .. } => StatusCode::NOT_FOUND,
            WorkerError::Invalid(_) | WorkerError::BadName(_) => StatusCode::BAD_REQUEST,
            WorkerError::Conflict(_) => StatusCode::CONFLICT,
            WorkerError::State(_) => StatusCode::INTERNAL_SERVER_ERROR,
        };
        ApiError {
            status,
            message: e.to_string(),
        }
    }
}

/// One pipeline in the list.
#[derive(Serialize, utoipa::ToSchema)]
pub(super) struct PipelineSummary {
    name: String,
    state: RunState,
    /// Its tables, sources first.
    tables: Vec<String>,
}

/// A pipeline's definition.
#[derive(Serialize, utoipa::ToSchema)]
pub(super) struct PipelineDefinition {
    name: String,
    /// The pipeline file as given (TOML), with secret values shown as `***`.
    definition: String,
    /// Its tables, sources first.
    tables: Vec<String>,
    /// Its sinks.
    sinks: Vec<String>,
}

fn definition(p: &HostedPipeline) -> PipelineDefinition {
    PipelineDefinition {
        name: p.name().to_string(),
        definition: crate::pipeline::redact_secrets(&p.text()),
        tables: p.pipeline().table_names(),
        sinks: p.pipeline().sinks.iter().map(|s| s.name.clone()).collect(),
    }
}

/// Query of `POST /api/v1/pipelines`.
#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub(super) struct CreateQuery {
    /// The new pipeline's name (letters, digits, `_`, `-`, `.`); a JSON body
    /// may give it as `"name"` instead.
    name: Option<String>,
}

/// The pipeline file from a request body: TOML as is, or the same
/// structure as JSON (`Content-Type: application/json`), whose top-level
/// `"name"` (if any) names the pipeline.
fn body_to_toml(headers: &HeaderMap, body: &str) -> Result<(String, Option<String>), ApiError> {
    let json = headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if !json {
        return Ok((body.to_string(), None));
    }
    let mut value: serde_json::Value = serde_json::from_str(body)
        .map_err(|e| ApiError::bad_request(format!("the body is not JSON: {e}")))?;
    let Some(object) = value.as_object_mut() else {
        return Err(ApiError::bad_request(
            "expected a JSON object with the pipeline file's sections",
        ));
    };
    let name = match object.remove("name") {
        None => None,
        Some(serde_json::Value::String(n)) => Some(n),
        Some(other) => {
            return Err(ApiError::bad_request(format!(
                "`name`: expected a string, found {other}"
            )));
        }
    };
    let text = toml::to_string(&value)
        .map_err(|e| ApiError::bad_request(format!("the JSON cannot be a pipeline file: {e}")))?;
    Ok((text, name))
}

/// Runs `f` on the worker off the reactor (starting and stopping pipelines blocks).
async fn on_worker<R: Send + 'static>(
    state: &AppState,
    f: impl FnOnce(&Worker) -> Result<R, WorkerError> + Send + 'static,
) -> Result<R, ApiError> {
    let worker = state.worker.clone();
    tokio::task::spawn_blocking(move || f(&worker))
        .await
        .map_err(|e| ApiError::internal(format!("the request's task failed: {e}")))?
        .map_err(ApiError::from)
}

/// Every pipeline with its state.
#[utoipa::path(
    get,
    path = "/api/v1/pipelines",
    tag = "pipelines",
    responses(
        (status = 200, description = "The pipelines", body = [PipelineSummary]),
        (status = 401, description = "Missing or wrong token (with --token)", body = super::error::ErrorBody)
    )
)]
pub(super) async fn list(State(state): State<Arc<AppState>>) -> Json<Vec<PipelineSummary>> {
    Json(
        state
            .worker
            .pipelines()
            .values()
            .map(|p| PipelineSummary {
                name: p.name().to_string(),
                state: p.status().state,
                tables: p.table_names().to_vec(),
            })
            .collect(),
    )
}

/// Creates and starts a pipeline from a pipeline file (TOML, or the same as JSON).
#[utoipa::path(
    post,
    path = "/api/v1/pipelines",
    tag = "pipelines",
    params(CreateQuery),
    request_body(content = String, description = "The pipeline file: TOML (text/plain or application/toml), or the same structure as JSON (application/json)", content_type = "text/plain"),
    responses(
        (status = 201, description = "Created and started", body = PipelineDefinition),
        (status = 400, description = "The definition is wrong (the message names table and key), or no name was given", body = super::error::ErrorBody),
        (status = 401, description = "Missing or wrong token (with --token)", body = super::error::ErrorBody),
        (status = 409, description = "A pipeline by that name exists, a table name is taken, or this host runs one fixed pipeline", body = super::error::ErrorBody)
    )
)]
pub(super) async fn create(
    State(state): State<Arc<AppState>>,
    query: Result<Query<CreateQuery>, QueryRejection>,
    headers: HeaderMap,
    body: String,
) -> Result<Response, ApiError> {
    let Query(query) = query.map_err(|e| ApiError::bad_request(e.body_text()))?;
    let (text, body_name) = body_to_toml(&headers, &body)?;
    let Some(name) = query.name.or(body_name) else {
        return Err(ApiError::bad_request(
            "name the pipeline: POST /api/v1/pipelines?name=NAME (or \"name\" in a JSON body)",
        ));
    };
    let created = on_worker(&state, move |w| w.create(&name, &text)).await?;
    Ok((StatusCode::CREATED, Json(definition(&created))).into_response())
}

/// A pipeline's definition.
#[utoipa::path(
    get,
    path = "/api/v1/pipelines/{name}",
    tag = "pipelines",
    params(("name" = String, Path, description = "The pipeline's name")),
    responses(
        (status = 200, description = "Its definition", body = PipelineDefinition),
        (status = 401, description = "Missing or wrong token (with --token)", body = super::error::ErrorBody),
        (status = 404, description = "No such pipeline", body = super::error::ErrorBody)
    )
)]
pub(super) async fn definition_of(
    State(state): State<Arc<AppState>>,
    Path(name): Path<String>,
) -> Result<Json<PipelineDefinition>, ApiError> {
    let p = state.worker.get(&name)?;
    Ok(Json(definition(&p)))
}

/// Replaces a pipeline (or creates it): the new definition is checked, then
/// the old one stopped and the new one started.
#[utoipa::path(
    put,
    path = "/api/v1/pipelines/{name}",
    tag = "pipelines",
    params(("name" = String, Path, description = "The pipeline's name")),
    request_body(content = String, description = "The pipeline file: TOML, or the same as JSON (application/json)", content_type = "text/plain"),
    responses(
        (status = 200, description = "Replaced and started", body = PipelineDefinition),
        (status = 400, description = "The definition is wrong; the running pipeline is left as it was", body = super::error::ErrorBody),
        (status = 401, description = "Missing or wrong token (with --token)", body = super::error::ErrorBody),
        (status = 409, description = "A table name is taken, or this host runs one fixed pipeline", body = super::error::ErrorBody)
    )
)]
pub(super) async fn replace(
    State(state): State<Arc<AppState>>,
    Path(name): Path<String>,
    headers: HeaderMap,
    body: String,
) -> Result<Json<PipelineDefinition>, ApiError> {
    let (text, _) = body_to_toml(&headers, &body)?;
    let replaced = on_worker(&state, move |w| w.replace(&name, &text)).await?;
    Ok(Json(definition(&replaced)))
}

/// Stops a pipeline and forgets it; committed offsets stay in Kafka.
#[utoipa::path(
    delete,
    path = "/api/v1/pipelines/{name}",
    tag = "pipelines",
    params(("name" = String, Path, description = "The pipeline's name")),
    responses(
        (status = 204, description = "Stopped and deleted"),
        (status = 401, description = "Missing or wrong token (with --token)", body = super::error::ErrorBody),
        (status = 404, description = "No such pipeline", body = super::error::ErrorBody),
        (status = 409, description = "This host runs one fixed pipeline", body = super::error::ErrorBody)
    )
)]
pub(super) async fn delete(
    State(state): State<Arc<AppState>>,
    Path(name): Path<String>,
) -> Result<StatusCode, ApiError> {
    on_worker(&state, move |w| w.delete(&name)).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Per table and per sink: state, rows, rows/s, errors by policy, and per
/// partition the position, high watermark and lag.
#[utoipa::path(
    get,
    path = "/api/v1/pipelines/{name}/status",
    tag = "pipelines",
    params(("name" = String, Path, description = "The pipeline's name")),
    responses(
        (status = 200, description = "Its status", body = PipelineStatus),
        (status = 401, description = "Missing or wrong token (with --token)", body = super::error::ErrorBody),
        (status = 404, description = "No such pipeline", body = super::error::ErrorBody)
    )
)]
pub(super) async fn status(
    State(state): State<Arc<AppState>>,
    Path(name): Path<String>,
) -> Result<Json<PipelineStatus>, ApiError> {
    Ok(Json(state.worker.get(&name)?.status()))
}

/// Stops fetching from Kafka in every table of the pipeline; positions are kept.
#[utoipa::path(
    put,
    path = "/api/v1/pipelines/{name}/pause",
    tag = "pipelines",
    params(("name" = String, Path, description = "The pipeline's name")),
    responses(
        (status = 202, description = "Pausing; the status shows Paused once each consumer has paused", body = PipelineStatus),
        (status = 401, description = "Missing or wrong token (with --token)", body = super::error::ErrorBody),
        (status = 404, description = "No such pipeline", body = super::error::ErrorBody)
    )
)]
pub(super) async fn pause(
    State(state): State<Arc<AppState>>,
    Path(name): Path<String>,
) -> Result<Response, ApiError> {
    let p = state.worker.get(&name)?;
    p.pause();
    Ok((StatusCode::ACCEPTED, Json(p.status())).into_response())
}

/// Fetches again from where each table paused.
#[utoipa::path(
    put,
    path = "/api/v1/pipelines/{name}/resume",
    tag = "pipelines",
    params(("name" = String, Path, description = "The pipeline's name")),
    responses(
        (status = 202, description = "Resuming", body = PipelineStatus),
        (status = 401, description = "Missing or wrong token (with --token)", body = super::error::ErrorBody),
        (status = 404, description = "No such pipeline", body = super::error::ErrorBody)
    )
)]
pub(super) async fn resume(
    State(state): State<Arc<AppState>>,
    Path(name): Path<String>,
) -> Result<Response, ApiError> {
    let p = state.worker.get(&name)?;
    p.resume();
    Ok((StatusCode::ACCEPTED, Json(p.status())).into_response())
}

/// What a restart did.
#[derive(Serialize, utoipa::ToSchema)]
pub(super) struct Restarted {
    /// The tables started again from the record each had failed on.
    restarted: Vec<String>,
}

/// Starts each failed Kafka table again from the record it failed on, into
/// the same table: rows already there stay, nothing is skipped. A body (the
/// pipeline file, corrected) restarts them with their definitions from it,
/// e.g. with `on_error = "skip"`; it may change only the failed tables, and
/// not their columns.
#[utoipa::path(
    post,
    path = "/api/v1/pipelines/{name}/restart",
    tag = "pipelines",
    params(("name" = String, Path, description = "The pipeline's name")),
    request_body(content = Option<String>, description = "Optional: the corrected pipeline file (TOML, or JSON with application/json)", content_type = "text/plain"),
    responses(
        (status = 200, description = "The tables restarted (none when nothing had failed)", body = Restarted),
        (status = 400, description = "A table could not start again; the message says why", body = super::error::ErrorBody),
        (status = 401, description = "Missing or wrong token (with --token)", body = super::error::ErrorBody),
        (status = 404, description = "No such pipeline", body = super::error::ErrorBody)
    )
)]
pub(super) async fn restart(
    State(state): State<Arc<AppState>>,
    Path(name): Path<String>,
    headers: HeaderMap,
    body: String,
) -> Result<Json<Restarted>, ApiError> {
    let corrected = match body.trim().is_empty() {
        true => None,
        false => Some(body_to_toml(&headers, &body)?.0),
    };
    let restarted = on_worker(&state, move |w| w.restart(&name, corrected.as_deref())).await?;
    Ok(Json(Restarted { restarted }))
}
