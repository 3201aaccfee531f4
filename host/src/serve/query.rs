//! `POST /api/v1/query?format=json|csv|arrow`: SQL over every live table.
//!
//! Each table is a DataFusion table under its own name. The tables of one
//! pipeline are read at one completed cycle (a consistent snapshot across
//! them); pipelines run their own cycles, and the `Topictable-Cycles` header
//! says which cycle each pipeline's tables were read at.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::HeaderValue;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use topictable_engine::sql::{self, QueryError};

use super::AppState;
use super::error::ApiError;
use super::tables::Format;

/// The header naming the cycle each pipeline's tables were read at:
/// `pipeline=cycle`, comma separated.
pub const CYCLES_HEADER: &str = "topictable-cycles";

/// Query of the SQL endpoint.
#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub(super) struct QueryParams {
    /// `json` (the default: an array of row objects), `csv` or `arrow` (an Arrow IPC stream).
    format: Option<Format>,
}

/// The SQL of a request body: the text itself, or `{"sql": "..."}`.
fn sql_of(body: &str) -> Result<String, ApiError> {
    let trimmed = body.trim();
    if trimmed.starts_with('{') {
        #[derive(Deserialize)]
        struct Body {
            sql: String,
        }
        let parsed: Body = serde_json::from_str(trimmed).map_err(|e| {
            ApiError::bad_request(format!(
                "the body is neither SQL nor {{\"sql\": \"...\"}}: {e}"
            ))
        })?;
        return Ok(parsed.sql);
    }
    if trimmed.is_empty() {
        return Err(ApiError::bad_request(
            "the body is empty; send a SQL query, e.g. SELECT * FROM my_table LIMIT 10",
        ));
    }
    Ok(body.to_string())
}

/// Runs one SQL query over the live tables.
#[utoipa::path(
    post,
    path = "/api/v1/query",
    tag = "tables",
    params(QueryParams),
    request_body(content = String, content_type = "text/plain", description = "The SQL query (or JSON {\"sql\": \"...\"})"),
    responses(
        (status = 200, description = "The result: a JSON array of objects, CSV with a header line, or an Arrow IPC stream", content(
            (Vec<serde_json::Value> = "application/json"),
            (String = "text/csv"),
            (Vec<u8> = "application/vnd.apache.arrow.stream")
        )),
        (status = 400, description = "Not valid SQL, an unknown table or column, a type error (naming the line and column), or a failure while running", body = super::error::ErrorBody),
        (status = 401, description = "Missing or wrong token (with --token)", body = super::error::ErrorBody),
        (status = 409, description = "A table the query reads has failed", body = super::error::ErrorBody)
    )
)]
pub(super) async fn run(
    State(state): State<Arc<AppState>>,
    params: Result<Query<QueryParams>, QueryRejection>,
    body: String,
) -> Result<Response, ApiError> {
    let Query(params) = params.map_err(|e| ApiError::bad_request(e.body_text()))?;
    let format = params.format.unwrap_or_default();
    let sql_text = sql_of(&body)?;
    let tables = state.worker.tables();
    // Planning and running a query is CPU work: it runs on the engine's
    // SQL runtime, off the server's reactor.
    let (output, cycles) = tokio::task::spawn_blocking(move || {
        let named: Vec<(&str, &topictable_engine::Table)> =
            tables.iter().map(|(_, n, t)| (n.as_str(), t)).collect();
        let output = sql::query_blocking(&named, &sql_text)?;
        let mut cycles = BTreeMap::new();
        for ((pipeline, _, _), cycle) in tables.iter().zip(&output.cycles) {
            cycles.insert(pipeline.name().to_string(), *cycle);
        }
        Ok::<_, QueryError>((output, cycles))
    })
    .await
    .map_err(|e| ApiError::internal(format!("the query task failed: {e}")))?
    .map_err(query_error)?;
    let cycles_header = cycles
        .iter()
        .map(|(p, c)| format!("{p}={c}"))
        .collect::<Vec<_>>()
        .join(",");
    let mut response = if let Format::Arrow = format {
        super::tables::arrow_stream("query".into(), output.schema, output.batches)
    } else {
        let body = tokio::task::spawn_blocking(move || {
            format
                .write(&output.schema, &output.batches)
                .map_err(|e| ApiError::internal(format!("writing the result: {e}")))
        })
        .await
        .map_err(|e| ApiError::internal(format!("the query task failed: {e}")))??;
        (
            [(axum::http::header::CONTENT_TYPE, format.content_type())],
            body,
        )
            .into_response()
    };
    if let Ok(value) = HeaderValue::from_str(&cycles_header) {
        response.headers_mut().insert(CYCLES_HEADER, value);
    }
    Ok(response)
}

/// A query error as the API answers it.
fn query_error(e: QueryError) -> ApiError {
    match e {
        QueryError::Invalid { .. } | QueryError::Execution(_) => {
            ApiError::bad_request(e.to_string())
        }
        QueryError::TableFailed { .. } => ApiError {
            status: axum::http::StatusCode::CONFLICT,
            message: e.to_string(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::sql_of;

    #[test]
    fn the_body_is_sql_or_json_with_sql() {
        assert_eq!(sql_of("SELECT 1").unwrap(), "SELECT 1");
        assert_eq!(sql_of(r#"{"sql": "SELECT 2"}"#).unwrap(), "SELECT 2");
        assert!(sql_of("  ").is_err());
        assert!(sql_of("{not json").is_err());
    }
}
