//! `GET /metrics`: Prometheus metrics, encoded by `prometheus-client`.
//!
//! Tables, consumers, sinks and plugins are read at each scrape from what
//! they already count; cycle durations are observed as cycles run (the
//! engines call [`ServeMetrics::cycle_hook`]), since a scrape cannot see
//! the cycles between two scrapes.

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
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

use super::AppState;
use crate::ingest::{ErrorReason, IngestStatus};
use crate::publish::SinkStatus;
use crate::worker::CycleHook;

/// The labels of every table metric.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct TableLabels {
    pipeline: String,
    table: String,
}

/// A Kafka table's partition.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct PartitionLabels {
    pipeline: String,
    table: String,
    topic: String,
    partition: String,
}

/// A table's record errors for one reason.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ReasonLabels {
    pipeline: String,
    table: String,
    reason: String,
}

/// A pipeline.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct PipelineLabels {
    pipeline: String,
}

/// A sink.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct SinkLabels {
    pipeline: String,
    sink: String,
}

/// A sink in one state.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct SinkStateLabels {
    pipeline: String,
    sink: String,
    state: String,
}

/// A loaded plugin.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct PluginLabels {
    plugin: String,
    version: String,
    abi_version: String,
}

/// Cycle durations, in seconds: 1 ms to 10 s.
const CYCLE_BUCKETS: [f64; 14] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];

/// The metrics observed as they happen (per cycle), shared by the server and
/// the engines of the pipelines it serves.
#[derive(Clone)]
pub struct ServeMetrics {
    cycle_seconds: Family<PipelineLabels, Histogram>,
    rows_changed: Family<PipelineLabels, Counter>,
}

impl Default for ServeMetrics {
    fn default() -> Self {
        ServeMetrics {
            cycle_seconds: Family::new_with_constructor(|| {
                Histogram::new(CYCLE_BUCKETS.iter().copied())
            }),
            rows_changed: Family::default(),
        }
    }
}

impl ServeMetrics {
    /// New, empty metrics.
    pub fn new() -> Arc<ServeMetrics> {
        Arc::new(ServeMetrics::default())
    }

    /// What each pipeline's engine calls after every cycle.
    pub fn cycle_hook(self: &Arc<Self>) -> CycleHook {
        let metrics = self.clone();
        Arc::new(move |pipeline, report| {
            let l = PipelineLabels {
                pipeline: pipeline.to_string(),
            };
            metrics
                .cycle_seconds
                .get_or_create(&l)
                .observe(report.duration.as_secs_f64());
            metrics
                .rows_changed
                .get_or_create(&l)
                .inc_by(report.rows_changed);
        })
    }
}

/// Families registered in one scrape's registry.
#[derive(Default)]
struct Scrape {
    rows: Family<TableLabels, Gauge>,
    failed: Family<TableLabels, Gauge>,
    paused: Family<TableLabels, Gauge>,
    waiting: Family<TableLabels, Gauge>,
    memory: Family<TableLabels, Gauge>,
    messages: Family<TableLabels, Counter>,
    ingested: Family<TableLabels, Counter>,
    decode_errors: Family<TableLabels, Counter>,
    record_errors: Family<ReasonLabels, Counter>,
    skipped: Family<TableLabels, Counter>,
    dead_lettered: Family<TableLabels, Counter>,
    decode_seconds: Family<TableLabels, Counter<f64>>,
    rows_per_sec: Family<TableLabels, Gauge<f64, std::sync::atomic::AtomicU64>>,
    position: Family<PartitionLabels, Gauge>,
    high_watermark: Family<PartitionLabels, Gauge>,
    lag: Family<PartitionLabels, Gauge>,
    sink_rows: Family<SinkLabels, Counter>,
    sink_failures: Family<SinkLabels, Counter>,
    sink_queue: Family<SinkLabels, Gauge>,
    sink_state: Family<SinkStateLabels, Gauge>,
    plugins: Family<PluginLabels, Gauge>,
}

/// The metrics as of now, read from the engines' last cycles and the
/// consumers' and sinks' counters.
fn gather(state: &AppState) -> Registry {
    let s = Scrape::default();
    for (pipeline, name, table) in state.worker.tables() {
        let l = TableLabels {
            pipeline: pipeline.name().to_string(),
            table: name.clone(),
        };
        let n = table.num_rows();
        s.rows
            .get_or_create(&l)
            .set(n.as_ref().map_or(0, |n| *n as i64));
        if let Ok(Some(bytes)) = table.memory_bytes() {
            s.memory.get_or_create(&l).set(bytes as i64);
        }
        let probe = pipeline.sources().get(&name);
        let status = probe.map(|p| p.status());
        let consumer_failed = matches!(status, Some(IngestStatus::Failed(_)));
        s.failed
            .get_or_create(&l)
            .set(i64::from(n.is_err() || consumer_failed));
        let Some(probe) = probe else { continue };
        s.paused
            .get_or_create(&l)
            .set(i64::from(status == Some(IngestStatus::Paused)));
        s.waiting.get_or_create(&l).set(i64::from(matches!(
            status,
            Some(IngestStatus::WaitingForRegistry(_))
        )));
        let (m, r) = probe.progress();
        let counts = probe.error_counts();
        s.messages.get_or_create(&l).inc_by(m);
        s.ingested.get_or_create(&l).inc_by(r);
        s.decode_errors
            .get_or_create(&l)
            .inc_by(counts.decode_errors);
        for (reason, n) in ErrorReason::ALL.iter().zip(counts.by_reason) {
            s.record_errors
                .get_or_create(&ReasonLabels {
                    pipeline: l.pipeline.clone(),
                    table: name.clone(),
                    reason: reason.as_str().to_string(),
                })
                .inc_by(n);
        }
        s.skipped.get_or_create(&l).inc_by(counts.skipped);
        s.dead_lettered
            .get_or_create(&l)
            .inc_by(counts.dead_lettered);
        s.decode_seconds
            .get_or_create(&l)
            .inc_by(probe.decode_time().as_secs_f64());
        let progress = probe.positions();
        s.rows_per_sec.get_or_create(&l).set(progress.rows_per_sec);
        for ((topic, partition), p) in &progress.partitions {
            let pl = PartitionLabels {
                pipeline: l.pipeline.clone(),
                table: name.clone(),
                topic: topic.clone(),
                partition: partition.to_string(),
            };
            if let Some(v) = p.position {
                s.position.get_or_create(&pl).set(v);
            }
            if let Some(v) = p.high_watermark {
                s.high_watermark.get_or_create(&pl).set(v);
            }
            if let Some(v) = p.lag() {
                s.lag.get_or_create(&pl).set(v);
            }
        }
    }
    for pipeline in state.worker.pipelines().into_values() {
        pipeline.with_running(|running| {
            for sink in &running.sinks {
                let l = SinkLabels {
                    pipeline: pipeline.name().to_string(),
                    sink: sink.name().to_string(),
                };
                let c = sink.counts();
                s.sink_rows.get_or_create(&l).inc_by(c.rows_delivered);
                s.sink_failures.get_or_create(&l).inc_by(c.failures);
                s.sink_queue.get_or_create(&l).set(c.queue_depth as i64);
                let current = match sink.status() {
                    SinkStatus::Running => "running",
                    SinkStatus::Lagging => "lagging",
                    SinkStatus::Retrying { .. } => "retrying",
                    SinkStatus::Failed(_) => "failed",
                    SinkStatus::Stopped => "stopped",
                };
                for st in ["running", "lagging", "retrying", "failed", "stopped"] {
                    s.sink_state
                        .get_or_create(&SinkStateLabels {
                            pipeline: l.pipeline.clone(),
                            sink: l.sink.clone(),
                            state: st.to_string(),
                        })
                        .set(i64::from(st == current));
                }
            }
        });
    }
    for p in state.worker.plugins().plugins() {
        s.plugins
            .get_or_create(&PluginLabels {
                plugin: p.info.name.clone(),
                version: p.info.version.clone(),
                abi_version: p.info.abi_version.clone(),
            })
            .set(1);
    }
    register(s, &state.metrics)
}

fn register(s: Scrape, observed: &ServeMetrics) -> Registry {
    let mut r = Registry::with_prefix("topictable");
    r.register(
        "table_rows",
        "Rows of the table as of the last completed cycle",
        s.rows,
    );
    r.register(
        "table_failed",
        "1 when the table or its consumer stopped on an error",
        s.failed,
    );
    r.register(
        "table_paused",
        "1 when the Kafka table's consumer is paused",
        s.paused,
    );
    r.register(
        "table_waiting_for_registry",
        "1 while the Kafka table holds a partition because its schema registry cannot be reached",
        s.waiting,
    );
    r.register(
        "table_memory_bytes",
        "Bytes of memory a source table's rows hold (Arrow buffer capacities)",
        s.memory,
    );
    r.register("ingest_messages", "Kafka messages consumed", s.messages);
    r.register("ingest_rows", "Rows pushed into the table", s.ingested);
    r.register(
        "ingest_decode_errors",
        "Records that could not be decoded, whatever the policy did with them",
        s.decode_errors,
    );
    r.register(
        "ingest_record_errors",
        "Records that could not be decoded, by reason: key, value, or batch (the codec failed the whole batch)",
        s.record_errors,
    );
    r.register(
        "ingest_skipped",
        "Records skipped by on_error = skip",
        s.skipped,
    );
    r.register(
        "ingest_dead_lettered",
        "Records written to the dead-letter topic",
        s.dead_lettered,
    );
    r.register(
        "ingest_decode_seconds",
        "Time spent in the key and value decoders",
        s.decode_seconds,
    );
    r.register(
        "ingest_rows_per_second",
        "Rows pushed per second over the last second",
        s.rows_per_sec,
    );
    r.register(
        "consumer_position",
        "The next offset the table takes in the partition",
        s.position,
    );
    r.register(
        "consumer_high_watermark",
        "The partition's high watermark as of the consumer's last fetch",
        s.high_watermark,
    );
    r.register(
        "consumer_lag",
        "Messages in the partition the table has not taken yet",
        s.lag,
    );
    r.register(
        "cycle_duration_seconds",
        "How long each update cycle took",
        observed.cycle_seconds.clone(),
    );
    r.register(
        "cycle_rows_changed",
        "Rows added, modified or removed by update cycles, over every table",
        observed.rows_changed.clone(),
    );
    r.register(
        "sink_rows_delivered",
        "Rows (added, modified, removed) the sink wrote and flushed",
        s.sink_rows,
    );
    r.register(
        "sink_failures",
        "Failed writes or flushes of the sink (each retry counts)",
        s.sink_failures,
    );
    r.register(
        "sink_queue_depth",
        "Cycles' updates waiting for the sink",
        s.sink_queue,
    );
    r.register("sink_state", "1 for the sink's current state", s.sink_state);
    r.register("plugin_info", "1 for each loaded plugin", s.plugins);
    r
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
