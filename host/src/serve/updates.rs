//! `GET /api/v1/tables/{name}/updates`: a table's changes, one message per
//! cycle, as Server-Sent Events of JSON (the default) or as one Arrow IPC
//! stream (`?format=arrow`).
//!
//! A follower first gets the table's rows with their row keys (`snapshot`),
//! then every later cycle's `update` naming rows by those keys. Updates
//! reach it through a bounded queue that the cycle thread only ever
//! `try_send`s to: a follower that falls behind loses its queued updates
//! and gets a fresh `snapshot` instead, so it never holds back the engine.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use arrow_array::{ArrayRef, RecordBatch, StringArray, UInt64Array};
use arrow_schema::{DataType, Field, Schema, SchemaRef};
use axum::body::{Body, Bytes};
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE};
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use tokio::sync::mpsc;
use topictable_engine::{KeyedSnapshot, RowKey, Subscription, Table, Update};

use super::AppState;
use super::error::ApiError;
use super::tables::{find, json_rows};

/// Cycles' updates a follower may have waiting before it is skipped ahead.
const QUEUE_CYCLES: usize = 64;

/// Encoded updates kept for other followers of the same table.
const ENCODED_KEPT: usize = 32;

/// The JSON of recent updates, shared by all followers: each cycle's
/// update of a table is encoded once, however many clients follow it.
#[derive(Default)]
pub(super) struct EncodedUpdates {
    recent: std::sync::Mutex<std::collections::VecDeque<(Arc<Update>, Arc<str>)>>,
}

impl EncodedUpdates {
    /// The JSON of `update`, encoded now or by an earlier follower.
    fn get_or_encode(&self, update: &Arc<Update>) -> Result<Arc<str>, arrow_schema::ArrowError> {
        let lock = || {
            self.recent
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
        };
        // Holding the Arc keeps the pointer from being reused by another update.
        if let Some((_, json)) = lock().iter().find(|(u, _)| Arc::ptr_eq(u, update)) {
            return Ok(json.clone());
        }
        let json: Arc<str> = update_json(update)?.into();
        let mut recent = lock();
        if recent.len() == ENCODED_KEPT {
            recent.pop_front();
        }
        recent.push_back((update.clone(), json.clone()));
        Ok(json)
    }
}

/// Query of the updates endpoint.
#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub(super) struct UpdatesQuery {
    /// `json` (the default: Server-Sent Events) or `arrow` (an Arrow IPC stream).
    format: Option<UpdatesFormat>,
    /// Only the last this many rows in each snapshot (the newest of an append table).
    #[param(value_type = Option<u64>, minimum = 0, maximum = 4294967295_u64)]
    tail: Option<u32>,
}

/// How updates are sent.
#[derive(Clone, Copy, Default, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub(super) enum UpdatesFormat {
    /// Server-Sent Events: `snapshot` and `update` events with JSON data.
    #[default]
    Json,
    /// An Arrow IPC stream: the table's columns after `__cycle`, `__op` and `__key`.
    Arrow,
}

/// One Server-Sent Event as the OpenAPI document describes it.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)] // Only its schema is used.
pub(super) struct UpdateEvent {
    /// `snapshot` or `update`.
    event: String,
    /// The event's JSON: `{cycle, total_rows, keys, rows}` for a snapshot
    /// (`total_rows`: the rows the table holds, of which `tail` may send fewer);
    /// `{cycle, added, modified, removed}`, each `{keys, rows}`, for an update.
    data: String,
}

/// What a follower receives next.
enum Event {
    /// Every row (or the last `tail`) with its key, and how many rows the
    /// table holds: start, or start over.
    Snapshot(KeyedSnapshot, usize),
    /// One cycle's changes.
    Update(Arc<Update>),
}

/// A table's update stream for one client.
struct Follower {
    table: Table,
    /// Unsubscribes when the client goes away and this is dropped.
    _subscription: Subscription,
    updates: mpsc::Receiver<Arc<Update>>,
    /// Set by the cycle thread when an update did not fit in the queue.
    lagged: Arc<AtomicBool>,
    /// The last cycle sent.
    after: Option<u64>,
    tail: Option<usize>,
}

impl Follower {
    fn new(table: Table, tail: Option<usize>) -> Follower {
        let (tx, updates) = mpsc::channel(QUEUE_CYCLES);
        let lagged = Arc::new(AtomicBool::new(false));
        let flag = lagged.clone();
        let subscription = table.subscribe(move |u: &Arc<Update>| {
            if tx.try_send(u.clone()).is_err() {
                flag.store(true, Ordering::Relaxed);
            }
        });
        Follower {
            table,
            _subscription: subscription,
            updates,
            lagged,
            after: None,
            tail,
        }
    }

    /// The next event: a snapshot first and after falling behind, else the
    /// next cycle's update. `None` when the table has failed.
    async fn next(&mut self) -> Option<Event> {
        if self.after.is_none() || self.lagged.swap(false, Ordering::Relaxed) {
            while self.updates.try_recv().is_ok() {}
            let table = self.table.clone();
            let snapshot =
                tokio::task::spawn_blocking(move || table.engine().keyed_snapshot(&table))
                    .await
                    .ok()?
                    .ok()?;
            self.after = Some(snapshot.cycle);
            let total_rows = snapshot.batch.num_rows();
            return Some(Event::Snapshot(tail(snapshot, self.tail), total_rows));
        }
        loop {
            let update = self.updates.recv().await?;
            if Some(update.cycle) > self.after {
                self.after = Some(update.cycle);
                return Some(Event::Update(update));
            }
        }
    }
}

fn tail(mut s: KeyedSnapshot, tail: Option<usize>) -> KeyedSnapshot {
    let rows = s.batch.num_rows();
    if let Some(n) = tail.filter(|&n| n < rows) {
        s.batch = s.batch.slice(rows - n, n);
        s.keys.drain(..rows - n);
    }
    s
}

/// A live stream of the table's changes, one message per cycle.
#[utoipa::path(
    get,
    path = "/api/v1/tables/{name}/updates",
    tag = "tables",
    params(("name" = String, Path, description = "The table's name"), UpdatesQuery),
    responses(
        (status = 200, description = "Server-Sent Events: first `snapshot` ({cycle, total_rows, keys, rows}), then one `update` per cycle ({cycle, added: {keys, rows}, modified: {keys, rows}, removed: {keys, rows}}); a client that falls behind gets a new `snapshot`. With format=arrow, an Arrow IPC stream whose batches carry `__cycle`, `__op` (snapshot, added, modified, removed) and `__key` before the table's columns; a batch with no rows is the snapshot of an empty table.", content(
            (UpdateEvent = "text/event-stream"),
            (Vec<u8> = "application/vnd.apache.arrow.stream")
        )),
        (status = 400, description = "A wrong format or number", body = super::error::ErrorBody),
        (status = 401, description = "Missing or wrong token (with --token)", body = super::error::ErrorBody),
        (status = 404, description = "No such table", body = super::error::ErrorBody)
    )
)]
pub(super) async fn follow(
    State(state): State<Arc<AppState>>,
    Path(name): Path<String>,
    query: Result<Query<UpdatesQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    let Query(query) = query.map_err(|e| ApiError::bad_request(e.body_text()))?;
    let (_, table) = find(&state, &name)?;
    let follower = Follower::new(table, query.tail.map(|n| n as usize));
    Ok(match query.format.unwrap_or_default() {
        UpdatesFormat::Json => sse(follower, state.clone()).into_response(),
        UpdatesFormat::Arrow => arrow_stream(follower),
    })
}

fn sse(
    follower: Follower,
    state: Arc<AppState>,
) -> Sse<impl futures_util::Stream<Item = Result<SseEvent, std::convert::Infallible>>> {
    let events = futures_util::stream::unfold((follower, state), |(mut f, state)| async move {
        let event = f.next().await?;
        let encoded = match &event {
            Event::Snapshot(s, total_rows) => {
                snapshot_json(s, *total_rows).map(|json| ("snapshot", json))
            }
            Event::Update(u) => state
                .encoded_updates
                .get_or_encode(u)
                .map(|json| ("update", json.to_string())),
        };
        let message = match encoded {
            Ok((kind, data)) => SseEvent::default().event(kind).data(data),
            Err(e) => SseEvent::default().event("error").data(format!(
                "{{\"message\":{}}}",
                serde_json::json!(e.to_string())
            )),
        };
        Some((Ok(message), (f, state)))
    });
    Sse::new(events).keep_alive(KeepAlive::default())
}

fn keys_json(keys: &[RowKey]) -> String {
    serde_json::to_string(keys).unwrap_or_else(|_| "[]".into())
}

fn rows_json(batch: &RecordBatch) -> Result<String, arrow_schema::ArrowError> {
    Ok(String::from_utf8_lossy(&json_rows(std::slice::from_ref(batch))?).into_owned())
}

/// A snapshot event's JSON: `{cycle, total_rows, keys, rows}`.
fn snapshot_json(s: &KeyedSnapshot, total_rows: usize) -> Result<String, arrow_schema::ArrowError> {
    Ok(format!(
        "{{\"cycle\":{},\"total_rows\":{total_rows},\"keys\":{},\"rows\":{}}}",
        s.cycle,
        keys_json(&s.keys),
        rows_json(&s.batch)?
    ))
}

/// An update event's JSON: `{cycle, added, modified, removed}`, each `{keys, rows}`.
fn update_json(u: &Update) -> Result<String, arrow_schema::ArrowError> {
    let part = |keys: &[RowKey], rows: &RecordBatch| -> Result<String, arrow_schema::ArrowError> {
        Ok(format!(
            "{{\"keys\":{},\"rows\":{}}}",
            keys_json(keys),
            rows_json(rows)?
        ))
    };
    Ok(format!(
        "{{\"cycle\":{},\"added\":{},\"modified\":{},\"removed\":{}}}",
        u.cycle,
        part(&u.added_keys, &u.added)?,
        part(&u.modified_keys, &u.modified)?,
        part(&u.removed_keys, &u.removed)?
    ))
}

/// The schema of the Arrow updates stream: `__cycle`, `__op`, `__key`, then the table's columns.
fn arrow_schema(table: &SchemaRef) -> SchemaRef {
    let mut fields = vec![
        Arc::new(Field::new("__cycle", DataType::UInt64, false)),
        Arc::new(Field::new("__op", DataType::Utf8, false)),
        Arc::new(Field::new("__key", DataType::UInt64, false)),
    ];
    fields.extend(table.fields().iter().cloned());
    Arc::new(Schema::new(fields))
}

/// `rows` with the three leading columns.
fn tagged(
    schema: &SchemaRef,
    cycle: u64,
    op: &str,
    keys: &[RowKey],
    rows: &RecordBatch,
) -> Result<RecordBatch, arrow_schema::ArrowError> {
    let n = rows.num_rows();
    let mut columns: Vec<ArrayRef> = vec![
        Arc::new(UInt64Array::from(vec![cycle; n])),
        Arc::new(StringArray::from(vec![op; n])),
        Arc::new(UInt64Array::from(keys.to_vec())),
    ];
    columns.extend(rows.columns().iter().cloned());
    RecordBatch::try_new(schema.clone(), columns)
}

/// The IPC messages (batches) of one event.
fn arrow_event(
    writer: &mut arrow_ipc::writer::StreamWriter<Vec<u8>>,
    schema: &SchemaRef,
    event: &Event,
) -> Result<(), arrow_schema::ArrowError> {
    match event {
        Event::Snapshot(s, _) => {
            writer.write(&tagged(schema, s.cycle, "snapshot", &s.keys, &s.batch)?)
        }
        Event::Update(u) => {
            for (op, keys, rows) in [
                ("added", &u.added_keys, &u.added),
                ("modified", &u.modified_keys, &u.modified),
                ("removed", &u.removed_keys, &u.removed),
            ] {
                if !keys.is_empty() {
                    writer.write(&tagged(schema, u.cycle, op, keys, rows)?)?;
                }
            }
            Ok(())
        }
    }
}

fn arrow_stream(follower: Follower) -> Response {
    let schema = arrow_schema(&follower.table.schema());
    let writer = match arrow_ipc::writer::StreamWriter::try_new(Vec::new(), &schema) {
        Ok(w) => w,
        Err(e) => return ApiError::internal(format!("arrow stream: {e}")).into_response(),
    };
    // The schema message goes out at once, then each event's batches.
    let chunks = futures_util::stream::unfold(
        (follower, writer, schema, true),
        |(mut f, mut writer, schema, first)| async move {
            if !first {
                let event = f.next().await?;
                if let Err(e) = arrow_event(&mut writer, &schema, &event) {
                    tracing::warn!("arrow updates stream: {e}");
                    return None;
                }
            }
            let bytes = Bytes::from(std::mem::take(writer.get_mut()));
            Some((Ok::<_, std::io::Error>(bytes), (f, writer, schema, false)))
        },
    );
    (
        [
            (CONTENT_TYPE, "application/vnd.apache.arrow.stream"),
            (CACHE_CONTROL, "no-cache"),
        ],
        Body::from_stream(chunks),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_array::Int64Array;
    use topictable_engine::Engine;

    fn rows(values: &[i64]) -> RecordBatch {
        let schema = Arc::new(Schema::new(vec![Field::new("X", DataType::Int64, false)]));
        RecordBatch::try_new(schema, vec![Arc::new(Int64Array::from(values.to_vec()))]).unwrap()
    }

    #[test]
    fn each_update_is_encoded_once_for_every_follower() {
        let engine = Engine::new();
        let table = engine.append_table("t", rows(&[]).schema()).unwrap();
        let (_sub, updates) = table.subscribe_channel();
        table.writer().unwrap().push(rows(&[7])).unwrap();
        engine.run_cycle().unwrap();
        let update = updates.recv().unwrap();
        let cache = EncodedUpdates::default();
        let a = cache.get_or_encode(&update).unwrap();
        let b = cache.get_or_encode(&update).unwrap();
        assert!(
            Arc::ptr_eq(&a, &b),
            "the second follower reuses the first one's JSON"
        );
        assert_eq!(
            &*a,
            r#"{"cycle":1,"added":{"keys":[0],"rows":[{"X":7}]},"modified":{"keys":[],"rows":[]},"removed":{"keys":[],"rows":[]}}"#
        );
    }

    #[tokio::test]
    async fn a_follower_gets_a_snapshot_then_each_cycle_in_order() {
        let engine = Engine::new();
        let table = engine.append_table("t", rows(&[]).schema()).unwrap();
        let writer = table.writer().unwrap();
        writer.push(rows(&[1, 2])).unwrap();
        engine.run_cycle().unwrap();
        let mut follower = Follower::new(table.clone(), Some(1));
        writer.push(rows(&[3])).unwrap();
        engine.run_cycle().unwrap();
        let Some(Event::Snapshot(s, total_rows)) = follower.next().await else {
            panic!("a snapshot first")
        };
        // The snapshot may already hold cycle 2; then its update is not sent again.
        assert_eq!(s.batch.num_rows(), 1, "tail = 1");
        assert_eq!(
            total_rows,
            if s.cycle == 2 { 3 } else { 2 },
            "rows in the table"
        );
        assert_eq!(s.keys.len(), 1);
        writer.push(rows(&[4])).unwrap();
        engine.run_cycle().unwrap();
        let mut seen = Vec::new();
        while seen.last() != Some(&3) {
            let Some(Event::Update(u)) = follower.next().await else {
                panic!("updates after the snapshot")
            };
            assert!(u.cycle > s.cycle);
            seen.push(u.cycle);
        }
        assert!(seen.windows(2).all(|w| w[0] < w[1]), "{seen:?}");
    }

    #[tokio::test]
    async fn a_follower_that_falls_behind_is_skipped_ahead_to_a_fresh_snapshot() {
        let engine = Engine::new();
        let table = engine.append_table("t", rows(&[]).schema()).unwrap();
        let writer = table.writer().unwrap();
        let mut follower = Follower::new(table.clone(), None);
        let Some(Event::Snapshot(..)) = follower.next().await else {
            panic!("a snapshot first")
        };
        // More cycles than the queue holds, none read: the engine never waits.
        let cycles = QUEUE_CYCLES as i64 * 2;
        for i in 0..cycles {
            writer.push(rows(&[i])).unwrap();
            engine.run_cycle().unwrap();
        }
        let Some(Event::Snapshot(s, _)) = follower.next().await else {
            panic!("a fresh snapshot after falling behind")
        };
        assert_eq!(s.batch.num_rows(), cycles as usize, "every row, at once");
        assert_eq!(s.cycle, engine.cycle());
        writer.push(rows(&[-1])).unwrap();
        engine.run_cycle().unwrap();
        let Some(Event::Update(u)) = follower.next().await else {
            panic!("then updates again")
        };
        assert_eq!(u.cycle, s.cycle + 1);
    }
}
