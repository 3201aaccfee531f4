//! What `GET /api/v1/pipelines/{name}/status` reports: per table and per
//! sink its state, rows, rate, error counts and, for Kafka tables, each
//! partition's position, high watermark and lag.

use serde::Serialize;

/// The state of a table or a sink.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub enum State {
    /// Consuming (or computing, for a derived table) and keeping up.
    Running,
    /// Paused on request; the position is kept.
    Paused,
    /// Running, but behind the broker for a while (a Kafka table), or its
    /// queue is full (a sink).
    Lagging,
    /// A write failed and is being retried (a sink).
    Retrying,
    /// Holding partitions at a record whose schema registry cannot be
    /// reached, retrying with backoff (a Kafka table): see `error`.
    WaitingForRegistry,
    /// Stopped by an error: see `error`.
    Failed,
    /// Stopped on request.
    Stopped,
}

/// One partition of a Kafka table.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct PartitionStatus {
    /// The topic.
    pub topic: String,
    /// The partition.
    pub partition: i32,
    /// The next offset the table takes (one past the last message handled).
    pub position: Option<i64>,
    /// The offset after the partition's last message, as of the last fetch.
    pub high_watermark: Option<i64>,
    /// Messages not taken yet.
    pub lag: Option<i64>,
}

/// Bad records so far, by what the `on_error` policy did with them.
#[derive(Debug, Clone, Default, Serialize, utoipa::ToSchema)]
pub struct ErrorCounts {
    /// Records that failed to decode.
    pub decode_errors: u64,
    /// Of those, skipped (`on_error = "skip"`).
    pub skipped: u64,
    /// Of those, sent to the dead-letter topic.
    pub dead_lettered: u64,
    /// `decode_errors` by reason: `key`, `value`, or `batch` (the codec
    /// failed the whole batch the record was in).
    pub by_reason: std::collections::BTreeMap<String, u64>,
}

/// One table of a pipeline.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct TableStatus {
    /// The table.
    pub name: String,
    /// `kafka`, `time` or `derived`.
    pub kind: String,
    /// Its state.
    pub state: State,
    /// Why it stopped (for a Kafka table: the record, with topic, partition,
    /// offset and a preview of its bytes).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Rows as of the last completed cycle; absent when the table failed.
    pub rows: Option<usize>,
    /// Rows added per second over the last second (Kafka tables).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rows_per_sec: Option<f64>,
    /// Messages taken from Kafka so far.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub messages: Option<u64>,
    /// Bad records by policy (Kafka tables).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub errors: Option<ErrorCounts>,
    /// Per partition (Kafka tables).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub partitions: Vec<PartitionStatus>,
}

/// One sink of a pipeline.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct SinkStatusReport {
    /// The sink.
    pub name: String,
    /// Its state.
    pub state: State,
    /// Why it stopped or retries.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Rows (added, modified, removed) delivered.
    pub rows_delivered: u64,
    /// Failed writes or flushes (each retry counts).
    pub failures: u64,
    /// Cycles' updates waiting for it.
    pub queue_depth: usize,
}

/// A pipeline's status.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct PipelineStatus {
    /// The pipeline.
    pub name: String,
    /// `Failed` when any table or sink failed, `Paused` when paused, else `Running`.
    pub state: State,
    /// The last completed update cycle.
    pub cycle: u64,
    /// Its tables, sources first.
    pub tables: Vec<TableStatus>,
    /// Its sinks.
    pub sinks: Vec<SinkStatusReport>,
}
