//! `GET /api/v1/tables`, `GET /api/v1/tables/{name}` and
//! `GET /api/v1/tables/{name}/snapshot?format=json|csv|arrow&limit=N|tail=N`.

use std::sync::Arc;

use arrow_array::RecordBatch;
use arrow_schema::SchemaRef;
use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::header::CONTENT_TYPE;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use topictable_engine::Table;

use super::AppState;
use super::error::ApiError;
use crate::ingest::IngestStatus;
use crate::worker::HostedPipeline;

/// One column of a table's schema.
#[derive(Serialize, utoipa::ToSchema)]
pub(super) struct ColumnInfo {
    name: String,
    /// Arrow's name for the type, e.g. `Int64`, `Timestamp(ms, "UTC")`.
    r#type: String,
    nullable: bool,
}

/// What `GET /api/v1/tables` lists for each table.
#[derive(Serialize, utoipa::ToSchema)]
pub(super) struct TableInfo {
    name: String,
    pipeline: String,
    /// `kafka` for a table read from Kafka, else `derived` (time tables too).
    #[schema(value_type = String, example = "kafka")]
    kind: &'static str,
    /// Whether rows live for one cycle only (Deephaven's blink tables).
    blink: bool,
    /// Rows as of the last completed cycle; absent when the table failed.
    rows: Option<usize>,
    /// The consumer's state for Kafka tables: `running`, `paused`, `failed` or `stopped`.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>, example = "running")]
    state: Option<&'static str>,
    /// Why the table or its consumer stopped, naming topic, partition and offset.
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
    schema: Vec<ColumnInfo>,
}

fn info(pipeline: &HostedPipeline, name: &str, table: &Table) -> TableInfo {
    let probe = pipeline.sources().get(name);
    let (consumer_state, consumer_error) = match probe.map(|p| p.status()) {
        None => (None, None),
        Some(IngestStatus::Running) => (Some("running"), None),
        Some(IngestStatus::Paused) => (Some("paused"), None),
        Some(IngestStatus::Stopped) => (Some("stopped"), None),
        Some(IngestStatus::Failed(e)) => (Some("failed"), Some(e)),
        Some(IngestStatus::WaitingForRegistry(e)) => (Some("waiting"), Some(e)),
    };
    let (rows, table_error) = match table.num_rows() {
        Ok(n) => (Some(n), None),
        Err(e) => (None, Some(e.to_string())),
    };
    TableInfo {
        name: name.to_string(),
        pipeline: pipeline.name().to_string(),
        kind: if probe.is_some() { "kafka" } else { "derived" },
        blink: table.is_blink(),
        rows,
        state: consumer_state,
        error: consumer_error.or(table_error),
        schema: table
            .schema()
            .fields()
            .iter()
            .map(|f| ColumnInfo {
                name: f.name().clone(),
                r#type: f.data_type().to_string(),
                nullable: f.is_nullable(),
            })
            .collect(),
    }
}

/// The table `name` and its pipeline, or a 404 listing the tables there are.
pub(super) fn find(state: &AppState, name: &str) -> Result<(Arc<HostedPipeline>, Table), ApiError> {
    let tables = state.worker.tables();
    if let Some((p, _, t)) = tables.iter().find(|(_, n, _)| n == name) {
        return Ok((p.clone(), t.clone()));
    }
    let names: Vec<&str> = tables.iter().map(|(_, n, _)| n.as_str()).collect();
    Err(ApiError::not_found(format!(
        "no table `{name}` (tables: {})",
        names.join(", ")
    )))
}

/// Every live table with its pipeline, kind, schema and row count.
#[utoipa::path(
    get,
    path = "/api/v1/tables",
    tag = "tables",
    responses(
        (status = 200, description = "Every live table, sources and derived", body = [TableInfo]),
        (status = 401, description = "Missing or wrong token (with --token)", body = super::error::ErrorBody)
    )
)]
pub(super) async fn list(State(state): State<Arc<AppState>>) -> Json<Vec<TableInfo>> {
    let tables = state
        .worker
        .tables()
        .iter()
        .map(|(p, name, t)| info(p, name, t))
        .collect();
    Json(tables)
}

/// One table, as `list` shows it.
#[utoipa::path(
    get,
    path = "/api/v1/tables/{name}",
    tag = "tables",
    params(("name" = String, Path, description = "The table's name")),
    responses(
        (status = 200, description = "The table", body = TableInfo),
        (status = 401, description = "Missing or wrong token (with --token)", body = super::error::ErrorBody),
        (status = 404, description = "No such table", body = super::error::ErrorBody)
    )
)]
pub(super) async fn describe(
    State(state): State<Arc<AppState>>,
    Path(name): Path<String>,
) -> Result<Json<TableInfo>, ApiError> {
    let (pipeline, table) = find(&state, &name)?;
    Ok(Json(info(&pipeline, &name, &table)))
}

/// Query of the snapshot endpoint.
#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub(super) struct SnapshotQuery {
    /// `json` (the default: an array of row objects), `csv` or `arrow` (an Arrow IPC stream).
    format: Option<Format>,
    /// At most this many rows, from the first.
    #[param(value_type = Option<u64>, minimum = 0, maximum = 4294967295_u64)]
    limit: Option<u32>,
    /// Only the last this many rows (the newest of an append table); applied before `limit`.
    #[param(value_type = Option<u64>, minimum = 0, maximum = 4294967295_u64)]
    tail: Option<u32>,
}

/// How a snapshot is written.
#[derive(Clone, Copy, Default, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub(super) enum Format {
    /// A JSON array of row objects.
    #[default]
    Json,
    /// CSV with a header line.
    Csv,
    /// An Arrow IPC stream.
    Arrow,
}

impl Format {
    pub(super) fn content_type(self) -> &'static str {
        match self {
            Format::Json => "application/json",
            Format::Csv => "text/csv; charset=utf-8",
            Format::Arrow => "application/vnd.apache.arrow.stream",
        }
    }

    /// `batches` (of `schema`) in this format: a JSON array of row objects,
    /// CSV with a header line, or an Arrow IPC stream.
    pub(super) fn write(
        self,
        schema: &SchemaRef,
        batches: &[RecordBatch],
    ) -> Result<Vec<u8>, arrow_schema::ArrowError> {
        let mut out = Vec::new();
        match self {
            Format::Json => out = json_rows(batches)?,
            Format::Csv => {
                let mut w = arrow_csv::Writer::new(&mut out);
                if batches.is_empty() {
                    // The header line, also for no rows.
                    w.write(&RecordBatch::new_empty(schema.clone()))?;
                }
                for batch in batches {
                    w.write(batch)?;
                }
            }
            Format::Arrow => {
                let mut w = arrow_ipc::writer::StreamWriter::try_new(&mut out, schema)?;
                for batch in batches {
                    w.write(batch)?;
                }
                w.finish()?;
            }
        }
        Ok(out)
    }
}

/// `batches` as one JSON array of row objects (`[]` when empty).
pub(super) fn json_rows(batches: &[RecordBatch]) -> Result<Vec<u8>, arrow_schema::ArrowError> {
    let mut out = Vec::new();
    let mut w = arrow_json::ArrayWriter::new(&mut out);
    for batch in batches {
        w.write(batch)?;
    }
    w.finish()?;
    if out.is_empty() {
        out.extend_from_slice(b"[]");
    }
    Ok(out)
}

/// The table's rows at the last completed cycle, at most `limit` of them.
#[utoipa::path(
    get,
    path = "/api/v1/tables/{name}/snapshot",
    tag = "tables",
    params(("name" = String, Path, description = "The table's name"), SnapshotQuery),
    responses(
        (status = 200, description = "The rows: a JSON array of objects, CSV with a header line, or an Arrow IPC stream", content(
            (Vec<serde_json::Value> = "application/json"),
            (String = "text/csv"),
            (Vec<u8> = "application/vnd.apache.arrow.stream")
        )),
        (status = 400, description = "A wrong format or number", body = super::error::ErrorBody),
        (status = 401, description = "Missing or wrong token (with --token)", body = super::error::ErrorBody),
        (status = 404, description = "No such table", body = super::error::ErrorBody)
    )
)]
pub(super) async fn snapshot(
    State(state): State<Arc<AppState>>,
    Path(name): Path<String>,
    query: Result<Query<SnapshotQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    // A query that does not parse is a 400 in the API's own error shape.
    let Query(query) = query.map_err(|e| ApiError::bad_request(e.body_text()))?;
    let format = query.format.unwrap_or_default();
    let (_, table) = find(&state, &name)?;
    let (limit, tail) = (
        query.limit.map(|n| n as usize),
        query.tail.map(|n| n as usize),
    );
    // Taking and writing a snapshot is CPU work: keep it off the server's reactor.
    let snapshot_name = name.clone();
    let batch = tokio::task::spawn_blocking(move || {
        let batch = table
            .snapshot()
            .map_err(|e| ApiError::internal(format!("table `{snapshot_name}`: {e}")))?;
        // `tail` first, then `limit`: with both, the first `limit` of the last `tail`.
        let rows = batch.num_rows();
        let batch = match tail {
            Some(n) if n < rows => batch.slice(rows - n, n),
            _ => batch,
        };
        Ok::<_, ApiError>(match limit {
            Some(n) if n < batch.num_rows() => batch.slice(0, n),
            _ => batch,
        })
    })
    .await
    .map_err(|e| ApiError::internal(format!("the snapshot task failed: {e}")))??;
    if let Format::Arrow = format {
        return Ok(arrow_stream(name, batch.schema(), vec![batch]));
    }
    let body = tokio::task::spawn_blocking(move || {
        format
            .write(&batch.schema(), &[batch])
            .map_err(|e| ApiError::internal(format!("table `{name}`: writing the rows: {e}")))
    })
    .await
    .map_err(|e| ApiError::internal(format!("the snapshot task failed: {e}")))??;
    Ok(([(CONTENT_TYPE, format.content_type())], body).into_response())
}

/// An Arrow buffer handed to `Bytes` without a copy (arrow 59's `Buffer`
/// derefs to bytes but does not implement `AsRef<[u8]>`).
struct OwnedBuffer(arrow_buffer::Buffer);

impl AsRef<[u8]> for OwnedBuffer {
    fn as_ref(&self) -> &[u8] {
        self.0.as_slice()
    }
}

/// Rows per IPC message of an Arrow snapshot: small enough that encoding
/// the next message overlaps sending the last, large enough that the
/// per-message overhead does not show.
const ARROW_CHUNK_ROWS: usize = 65_536;

/// `batches` as an Arrow IPC stream, sent while it is encoded. arrow-ipc's
/// `StreamEncoder` gives each message as buffers that share the table's own
/// Arrow buffers (only headers, string offsets of a slice and unaligned
/// validity bits are new), and each goes into the response as `Bytes` that
/// own them: the rows are never copied before the socket. A blocking task
/// encodes one message of [`ARROW_CHUNK_ROWS`] rows at a time into a small
/// queue that the body drains; a client that goes away stops it.
pub(super) fn arrow_stream(name: String, schema: SchemaRef, batches: Vec<RecordBatch>) -> Response {
    type Chunk = Result<axum::body::Bytes, std::io::Error>;
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Chunk>(256);
    tokio::task::spawn_blocking(move || {
        let send = |buffers: Vec<arrow_buffer::Buffer>| {
            buffers.into_iter().all(|b| {
                tx.blocking_send(Ok(axum::body::Bytes::from_owner(OwnedBuffer(b))))
                    .is_ok()
            })
        };
        let encoded = (|| -> Result<(), arrow_schema::ArrowError> {
            let mut encoder = arrow_ipc::writer::StreamEncoder::try_new(&schema)?;
            for batch in &batches {
                let rows = batch.num_rows();
                let mut at = 0;
                while at < rows {
                    let n = ARROW_CHUNK_ROWS.min(rows - at);
                    if !send(encoder.encode(&batch.slice(at, n))?) {
                        return Ok(());
                    }
                    at += n;
                }
            }
            send(encoder.finish()?);
            Ok(())
        })();
        if let Err(e) = encoded {
            tracing::warn!(table = %name, "writing an Arrow snapshot: {e}");
            let _ = tx.blocking_send(Err(std::io::Error::other(e.to_string())));
        }
    });
    let chunks = futures_util::stream::poll_fn(move |cx| rx.poll_recv(cx));
    (
        [(CONTENT_TYPE, Format::Arrow.content_type())],
        axum::body::Body::from_stream(chunks),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow_array::{Int64Array, RecordBatch, StringArray};

    use super::{ARROW_CHUNK_ROWS, arrow_stream};

    #[tokio::test]
    async fn an_arrow_snapshot_streamed_in_messages_reads_back_whole() {
        let n = ARROW_CHUNK_ROWS * 2 + 123;
        let ids = Int64Array::from_iter((0..n as i64).map(|i| (i % 5 != 0).then_some(i)));
        let names =
            StringArray::from_iter((0..n).map(|i| (i % 7 != 0).then(|| format!("row-{i}"))));
        let batch = RecordBatch::try_from_iter([
            ("Id", Arc::new(ids) as _),
            ("Name", Arc::new(names) as _),
        ])
        .unwrap();
        // A slice, as `tail` makes: unaligned validity bits and string offsets not from 0.
        for batch in [batch.clone(), batch.slice(3, n - 10), batch.slice(0, 0)] {
            let response = arrow_stream("t".into(), batch.schema(), vec![batch.clone()]);
            let body = axum::body::to_bytes(response.into_body(), usize::MAX)
                .await
                .unwrap();
            let reader = arrow_ipc::reader::StreamReader::try_new(&body[..], None).unwrap();
            let batches: Vec<RecordBatch> = reader.map(Result::unwrap).collect();
            assert_eq!(batches.len(), batch.num_rows().div_ceil(ARROW_CHUNK_ROWS));
            let read = arrow_select::concat::concat_batches(&batch.schema(), &batches).unwrap();
            assert_eq!(read, batch);
        }
    }
}
