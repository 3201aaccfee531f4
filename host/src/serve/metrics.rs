//! `GET /metrics`: Prometheus metrics, encoded by `prometheus-client`.

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::http::header::CONTENT_TYPE;
use axum::response::{IntoResponse, Response};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

use super::AppState;
use crate::ingest::IngestStatus;

/// The labels of every table metric.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct TableLabels {
    pipeline: String,
    table: String,
}

/// The metrics as of now, read from the engine's last cycle and the consumers' counters.
fn gather(state: &AppState) -> Registry {
    let mut registry = Registry::with_prefix("topictable");
    let rows = Family::<TableLabels, Gauge>::default();
    let failed = Family::<TableLabels, Gauge>::default();
    let messages = Family::<TableLabels, Counter>::default();
    let ingested = Family::<TableLabels, Counter>::default();
    let decode_errors = Family::<TableLabels, Counter>::default();
    let skipped = Family::<TableLabels, Counter>::default();
    let dead_lettered = Family::<TableLabels, Counter>::default();
    let live = &state.live;
    let labels = |table: &str| TableLabels {
        pipeline: live.pipeline.clone(),
        table: table.to_string(),
    };
    for (name, table) in &live.tables {
        let l = labels(name);
        let n = table.num_rows();
        rows.get_or_create(&l)
            .set(n.as_ref().map_or(0, |n| *n as i64));
        let consumer_failed = live
            .sources
            .get(name)
            .is_some_and(|p| matches!(p.status(), IngestStatus::Failed(_)));
        failed
            .get_or_create(&l)
            .set(i64::from(n.is_err() || consumer_failed));
    }
    for (name, probe) in &live.sources {
        let l = labels(name);
        let (m, r) = probe.progress();
        let counts = probe.error_counts();
        messages.get_or_create(&l).inc_by(m);
        ingested.get_or_create(&l).inc_by(r);
        decode_errors.get_or_create(&l).inc_by(counts.decode_errors);
        skipped.get_or_create(&l).inc_by(counts.skipped);
        dead_lettered.get_or_create(&l).inc_by(counts.dead_lettered);
    }
    registry.register(
        "table_rows",
        "Rows of the table as of the last completed cycle",
        rows,
    );
    registry.register(
        "table_failed",
        "1 when the table or its consumer stopped on an error",
        failed,
    );
    registry.register("ingest_messages", "Kafka messages consumed", messages);
    registry.register("ingest_rows", "Rows pushed into the table", ingested);
    registry.register(
        "ingest_decode_errors",
        "Records that could not be decoded, whatever the policy did with them",
        decode_errors,
    );
    registry.register(
        "ingest_skipped",
        "Records skipped by on_error = skip",
        skipped,
    );
    registry.register(
        "ingest_dead_lettered",
        "Records written to the dead-letter topic",
        dead_lettered,
    );
    registry
}

/// The OpenMetrics text of [`gather`].
#[utoipa::path(
    get,
    path = "/metrics",
    tag = "metrics",
    security(()),
    responses((status = 200, description = "Prometheus metrics (OpenMetrics text)", body = String, content_type = "application/openmetrics-text"))
)]
pub(super) async fn scrape(axum::extract::State(state): State<Arc<AppState>>) -> Response {
    let registry = gather(&state);
    let mut body = String::new();
    match encode(&mut body, &registry) {
        Ok(()) => (
            [(
                CONTENT_TYPE,
                "application/openmetrics-text; version=1.0.0; charset=utf-8",
            )],
            body,
        )
            .into_response(),
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
    }
}
