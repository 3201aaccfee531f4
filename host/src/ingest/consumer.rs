//! The consume loop: poll a batch, decode key and value through their codec
//! plugins, apply the bad-record policy, push the rows into the table, and
//! (in group mode) commit offsets once the rows are visible.

use std::collections::{BTreeMap, BTreeSet};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use arrow_array::{ArrayRef, BooleanArray, RecordBatch};
use arrow_schema::{Field, Schema, SchemaRef};
use rdkafka::consumer::{BaseConsumer, Consumer, ConsumerContext, Rebalance, RebalanceProtocol};
use rdkafka::message::{Headers, Message};
use rdkafka::types::RDKafkaRespErr;
use rdkafka::{ClientConfig, ClientContext, Offset, TopicPartitionList};
use topictable_engine::{Engine, Table, Writer};
use topictable_sdk::{
    Decoded, Decoder, MessageBatch, MessageBatchBuilder, RowErrorKind, Side, panic_message,
};

use super::commits::{CommitTracker, commit, push_and_track, wait_until_visible};
use super::dead_letter::DeadLetterQueue;
use super::fetch_queue::{FetchQueue, cached_high_watermark};
use super::progress::Progress;
use super::record_error::{
    ErrorCounts, ErrorCountsSnapshot, ErrorReason, RateLimitedLog, RecordError,
};
use super::registry_hold::HeldPartitions;
use super::spec::{
    ConsumeSpec, ConsumerMode, HeaderColumns, OnError, OnRevoke, Partitions, StartAt, ValueSpec,
};
use crate::kafka_fatal::{FatalErrorSlot, fatal_hint, fatal_message};
use crate::plugin_loader::{CreateError, PluginRegistry};

/// Why a table could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    /// The spec is inconsistent.
    #[error("table `{table}`: {message}")]
    Config {
        /// The table.
        table: String,
        /// What is wrong.
        message: String,
    },
    /// A key or value codec could not be created.
    #[error("table `{table}`, {side} spec: {source}")]
    Codec {
        /// The table.
        table: String,
        /// Key or value.
        side: Side,
        /// The loader's error.
        source: CreateError,
    },
    /// The Kafka client failed.
    #[error("table `{table}`: kafka: {source}")]
    Kafka {
        /// The table.
        table: String,
        /// librdkafka's error.
        source: rdkafka::error::KafkaError,
    },
    /// The broker refused the client (its login, its rights): no retry cures it.
    #[error("table `{table}`: {message}")]
    Refused {
        /// The table.
        table: String,
        /// librdkafka's error, with a hint.
        message: String,
    },
    /// The engine refused the table.
    #[error("table `{table}`: {source}")]
    Engine {
        /// The table.
        table: String,
        /// The engine's error.
        source: Box<topictable_engine::EngineError>,
    },
}

/// Where a consumed table is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IngestStatus {
    /// Consuming.
    Running,
    /// Not fetching, on request ([`ConsumedTable::pause`]); the position is kept.
    Paused,
    /// Stopped by a bad record (`on_error = fail`) or a fatal error; rows
    /// already visible stay.
    Failed(String),
    /// Stopped on request.
    Stopped,
    /// Holding one or more partitions at a record whose schema registry
    /// cannot be reached (or answers 5xx), and retrying with backoff; the
    /// other partitions go on. Says which schema and why.
    WaitingForRegistry(String),
}

struct Shared {
    name: String,
    stop: AtomicBool,
    /// Asked to pause; the ingest thread pauses its partitions when it sees it.
    pause: AtomicBool,
    progress: Mutex<Progress>,
    status: Mutex<IngestStatus>,
    counts: ErrorCounts,
    messages: AtomicU64,
    rows: AtomicU64,
    /// Nanoseconds spent in the key and value decoders.
    decode_nanos: AtomicU64,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A live table fed from Kafka, and the handle that controls its consumer.
pub struct ConsumedTable {
    table: Table,
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
}

impl ConsumedTable {
    /// The live table.
    pub fn table(&self) -> &Table {
        &self.table
    }
    /// The consumer's status.
    pub fn status(&self) -> IngestStatus {
        self.probe().status()
    }
    /// Bad-record counts so far.
    pub fn error_counts(&self) -> ErrorCountsSnapshot {
        self.probe().error_counts()
    }
    /// Messages consumed and rows pushed so far.
    pub fn progress(&self) -> (u64, u64) {
        self.probe().progress()
    }
    /// A cloneable, read-only view of the consumer's status and counts, for
    /// observers on other threads (the HTTP server).
    pub fn probe(&self) -> IngestProbe {
        IngestProbe {
            shared: self.shared.clone(),
        }
    }
    /// Stops consuming: waits until pushed rows are visible, commits (group
    /// mode) and leaves the group. Idempotent.
    pub fn stop(&mut self) {
        self.shared.stop.store(true, Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }

    /// Stops fetching (librdkafka pauses the partitions) and keeps the
    /// position; rows already fetched are still handled. The status turns
    /// `Paused` once the ingest thread has done it.
    pub fn pause(&self) {
        self.shared.pause.store(true, Relaxed);
    }

    /// Fetches again from the kept position.
    pub fn resume(&self) {
        self.shared.pause.store(false, Relaxed);
    }

    /// Starts consuming again after the consumer stopped (a bad record under
    /// `on_error = "fail"`, or a fatal error), into the same table, from the
    /// first message it had not handled: the failed record itself. `spec`
    /// is the table's (maybe corrected) definition; its decoders must give
    /// the table's schema. Does nothing to a consumer that is running.
    pub fn restart(
        &mut self,
        plugins: &PluginRegistry,
        spec: ConsumeSpec,
    ) -> Result<(), IngestError> {
        if matches!(self.status(), IngestStatus::Running | IngestStatus::Paused) {
            return Ok(());
        }
        self.stop();
        let name = self.shared.name.clone();
        let plan = plan_source(&name, plugins, &spec)?;
        if plan.schema != self.table.schema() {
            return Err(IngestError::Config {
                table: name,
                message: "the new definition gives the table other columns; replace the pipeline instead of restarting the table".into(),
            });
        }
        // Where each partition goes on: one past the last handled message.
        let resume: BTreeMap<(String, i32), i64> = lock(&self.shared.progress)
            .partitions
            .iter()
            .filter_map(|(tp, p)| Some((tp.clone(), p.position?)))
            .collect();
        self.shared.stop.store(false, Relaxed);
        *lock(&self.shared.status) = IngestStatus::Running;
        self.thread = Some(start_loop(
            self.table.engine(),
            &self.table,
            plan,
            spec,
            self.shared.clone(),
            &resume,
        )?);
        tracing::info!(table = %name, "restarted from the first message it had not handled");
        Ok(())
    }
}

/// Read-only view of a consumer's status and counts ([`ConsumedTable::probe`]).
#[derive(Clone)]
pub struct IngestProbe {
    shared: Arc<Shared>,
}

impl IngestProbe {
    /// The consumer's status.
    pub fn status(&self) -> IngestStatus {
        lock(&self.shared.status).clone()
    }
    /// Bad-record counts so far.
    pub fn error_counts(&self) -> ErrorCountsSnapshot {
        self.shared.counts.snapshot()
    }
    /// Messages consumed and rows pushed so far.
    pub fn progress(&self) -> (u64, u64) {
        (
            self.shared.messages.load(Relaxed),
            self.shared.rows.load(Relaxed),
        )
    }
    /// Time spent in the key and value decoders so far.
    pub fn decode_time(&self) -> Duration {
        Duration::from_nanos(self.shared.decode_nanos.load(Relaxed))
    }
    /// Per-partition positions, watermarks and lag, and rows per second.
    pub fn positions(&self) -> Progress {
        lock(&self.shared.progress).clone()
    }
    /// The table's name.
    pub fn table_name(&self) -> &str {
        &self.shared.name
    }
}

impl Drop for ConsumedTable {
    fn drop(&mut self) {
        self.stop();
    }
}

struct IngestContext {
    tracker: Arc<Mutex<CommitTracker>>,
    engine: Engine,
    table: String,
    /// Group mode with `offsets = { timestamp = … }`: where partitions the
    /// group has no committed offset for start (epoch milliseconds).
    start_time: Option<i64>,
    /// A refused login or the like, reported to the context, not by `poll`.
    fatal: FatalErrorSlot,
    /// Partitions revoked by a rebalance since the poll loop last looked:
    /// messages of theirs it polled before the rebalance must not be pushed.
    revoked: Mutex<BTreeSet<(String, i32)>>,
    /// `on_revoke = "remove"`: whether to track [`Self::lost`] at all.
    remove_lost: bool,
    /// Partitions revoked and not (yet) assigned again: an eager rebalance
    /// revokes every partition, then assigns most of them back.
    revoked_pending: Mutex<BTreeSet<(String, i32)>>,
    /// Partitions a completed rebalance moved to another member, whose rows
    /// the poll loop removes from the table.
    lost: Mutex<BTreeSet<(String, i32)>>,
}

impl ClientContext for IngestContext {
    fn error(&self, error: rdkafka::error::KafkaError, reason: &str) {
        self.fatal.report(&error, reason);
    }
}

impl IngestContext {
    /// At an assignment: the partitions revoked before it and not in it
    /// moved to another member. Their rows are to go, and if one comes back
    /// later it starts at the group's commit, not after rows no longer held.
    fn note_lost(&self, assigned: &TopicPartitionList) {
        if !self.remove_lost {
            return;
        }
        let mut pending = std::mem::take(&mut *lock(&self.revoked_pending));
        for e in assigned.elements() {
            pending.remove(&(e.topic().to_string(), e.partition()));
        }
        if pending.is_empty() {
            return;
        }
        let mut tracker = lock(&self.tracker);
        for (topic, partition) in &pending {
            tracker.forget(topic, *partition);
        }
        lock(&self.lost).extend(pending);
    }

    /// A partition assigned (again) to a table that already holds rows of it
    /// goes on after the last of them when the group's commit is behind
    /// them: after a broker restart or a lost session the commit may be, and
    /// reading from it would put those rows in the table twice. A commit
    /// ahead of them (another member read on) is kept.
    fn go_on_from_own_rows(&self, consumer: &BaseConsumer<Self>, tpl: &mut TopicPartitionList) {
        let ours: Vec<(String, i32, i64)> = {
            let tracker = lock(&self.tracker);
            tpl.elements()
                .iter()
                .filter_map(|e| {
                    let up_to = tracker.pushed_up_to(e.topic(), e.partition())?;
                    Some((e.topic().to_string(), e.partition(), up_to))
                })
                .collect()
        };
        if ours.is_empty() {
            return;
        }
        let committed = consumer.committed_offsets(tpl.clone(), Duration::from_secs(5));
        for (topic, partition, up_to) in ours {
            let commit = committed
                .as_ref()
                .ok()
                .and_then(|c| c.find_partition(&topic, partition))
                .and_then(|e| match e.offset() {
                    Offset::Offset(o) => Some(o),
                    _ => None,
                });
            if commit.is_none_or(|c| c < up_to) {
                tracing::info!(
                    table = %self.table,
                    "{topic}/{partition} assigned again: going on at offset {up_to}, after the rows the table holds (the group's commit: {commit:?})"
                );
                if let Err(e) = tpl.set_partition_offset(&topic, partition, Offset::Offset(up_to)) {
                    tracing::warn!(table = %self.table, "{topic}/{partition}: {e}");
                }
            }
        }
    }
}

impl ConsumerContext for IngestContext {
    fn rebalance(
        &self,
        consumer: &BaseConsumer<Self>,
        err: RDKafkaRespErr,
        tpl: &mut TopicPartitionList,
    ) {
        let assign = err == RDKafkaRespErr::RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS;
        if assign
            && let Some(ms) = self.start_time
            && let Err(e) = start_uncommitted_at(consumer, tpl, ms)
        {
            tracing::warn!(
                table = %self.table,
                "cannot find the offsets for the start time ({e}); partitions with no committed offset start at the end"
            );
        }
        if assign {
            self.note_lost(tpl);
            self.go_on_from_own_rows(consumer, tpl);
        }
        // The rest is rdkafka's default `rebalance`, which an override cannot call.
        let rebalance = match err {
            RDKafkaRespErr::RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS => Rebalance::Assign(tpl),
            RDKafkaRespErr::RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS => Rebalance::Revoke(tpl),
            e => Rebalance::Error(rdkafka::error::KafkaError::Rebalance(e.into())),
        };
        self.pre_rebalance(consumer, &rebalance);
        let cooperative = matches!(
            consumer.rebalance_protocol(),
            RebalanceProtocol::Cooperative
        );
        let result = match (assign, cooperative) {
            (true, true) => consumer.incremental_assign(tpl),
            (true, false) => consumer.assign(tpl),
            (false, true) => consumer.incremental_unassign(tpl),
            (false, false) => consumer.unassign(),
        };
        if let Err(e) = result {
            tracing::warn!(table = %self.table, "rebalance: {e}");
        }
        self.post_rebalance(consumer, &rebalance);
    }

    fn pre_rebalance(&self, consumer: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        if let Rebalance::Revoke(tpl) = rebalance {
            let revoked: Vec<(String, i32)> = tpl
                .elements()
                .iter()
                .map(|e| (e.topic().to_string(), e.partition()))
                .collect();
            lock(&self.revoked).extend(revoked.iter().cloned());
            if self.remove_lost {
                lock(&self.revoked_pending).extend(revoked);
            }
            // Hand over cleanly: what we made visible is committed before
            // another member takes the partitions.
            let offsets = wait_until_visible(
                &mut lock(&self.tracker),
                &self.engine,
                Duration::from_secs(10),
            );
            if let Err(e) = commit(consumer, &offsets) {
                tracing::warn!(table = %self.table, "commit before rebalance failed: {e}");
            }
        }
    }
}

/// Consumes `spec.topics` into a new live table `name` of `engine` (the
/// library form of Deephaven's `consumeToTable`). Returns once the consumer is
/// assigned or subscribed; rows arrive with the following update cycles.
pub fn consume_to_table(
    engine: &Engine,
    name: &str,
    plugins: &PluginRegistry,
    spec: ConsumeSpec,
) -> Result<ConsumedTable, IngestError> {
    let plan = plan_source(name, plugins, &spec)?;
    consume_planned(engine, name, plan, spec)
}

/// [`consume_to_table`] with the decoders and schema already made.
fn consume_planned(
    engine: &Engine,
    name: &str,
    plan: SourcePlan,
    spec: ConsumeSpec,
) -> Result<ConsumedTable, IngestError> {
    let table = if removes_lost_partitions(&spec) {
        engine.removable_source_table(name, plan.schema.clone(), spec.table_type)
    } else {
        engine.source_table(name, plan.schema.clone(), spec.table_type)
    };
    let table = table.map_err(|source| IngestError::Engine {
        table: name.to_string(),
        source: Box::new(source),
    })?;
    let shared = Arc::new(Shared {
        name: name.to_string(),
        stop: AtomicBool::new(false),
        pause: AtomicBool::new(false),
        progress: Mutex::new(Progress::default()),
        status: Mutex::new(IngestStatus::Running),
        counts: ErrorCounts::default(),
        messages: AtomicU64::new(0),
        rows: AtomicU64::new(0),
        decode_nanos: AtomicU64::new(0),
    });
    let thread = start_loop(engine, &table, plan, spec, shared.clone(), &BTreeMap::new())?;
    Ok(ConsumedTable {
        table,
        shared,
        thread: Some(thread),
    })
}

/// Removes from `builder` the messages of `revoked` partitions: polled
/// before a rebalance took the partitions away, they are another member's
/// now, which reads them from the committed offset. Pushing them here too
/// would put them in two members' tables.
fn drop_revoked(builder: &mut MessageBatchBuilder, revoked: &BTreeSet<(String, i32)>) {
    retain_messages(builder, |_, topic, partition| {
        !revoked.contains(&(topic.to_string(), partition))
    });
}

/// Keeps in `builder` the messages for which `keep(index, topic, partition)`
/// says so, in order.
fn retain_messages(builder: &mut MessageBatchBuilder, keep: impl Fn(usize, &str, i32) -> bool) {
    let batch = builder.finish();
    let view = batch.view();
    for i in 0..view.len() {
        let (topic, partition) = (view.topic(i), view.partitions[i]);
        if !keep(i, topic, partition) {
            continue;
        }
        let headers: Vec<(&str, Option<&[u8]>)> = view
            .headers(i)
            .map(|(k, v)| (std::str::from_utf8(k).unwrap_or_default(), v))
            .collect();
        builder.push(
            topic,
            partition,
            view.offsets[i],
            Some(view.timestamps[i]),
            view.keys.get(i),
            view.values.get(i),
            &headers,
        );
    }
}

/// Why the broker refused `consumer`, if it did. A call that failed on a
/// refused login says only "transport failure"; librdkafka queues the reason
/// as an event a moment later, which `poll` hands to the context. Waits up
/// to a second for it (this runs only when a call already failed).
fn refusal(consumer: &BaseConsumer<IngestContext>) -> Option<String> {
    let deadline = Instant::now() + Duration::from_secs(1);
    while Instant::now() < deadline {
        if let Some(message) = consumer.context().fatal.get() {
            return Some(message);
        }
        let _ = consumer.poll(Duration::from_millis(50));
    }
    consumer.context().fatal.get()
}

/// Creates the consumer of `table`, assigns or subscribes it, and starts
/// its ingest thread. Assigned partitions in `resume` start at that offset.
fn start_loop(
    engine: &Engine,
    table: &Table,
    plan: SourcePlan,
    spec: ConsumeSpec,
    shared: Arc<Shared>,
    resume: &BTreeMap<(String, i32), i64>,
) -> Result<JoinHandle<()>, IngestError> {
    let name = table.name();
    let SourcePlan {
        key_decoder,
        value_decoder,
        schema,
    } = plan;
    let writer = table.writer().map_err(|source| IngestError::Engine {
        table: name.to_string(),
        source: Box::new(source),
    })?;
    let kafka = |source| IngestError::Kafka {
        table: name.to_string(),
        source,
    };
    let tracker = Arc::new(Mutex::new(CommitTracker::default()));
    let consumer = create_consumer(&spec, name, engine, tracker.clone()).map_err(kafka)?;
    let has_group = spec.properties.contains_key("group.id");
    // Assigned partitions send their messages to a queue of their own, read a
    // batch at a time (see `fetch_queue`). Group mode keeps rdkafka's poll,
    // which serves the rebalances that change the partitions.
    let fetch = match spec.mode {
        ConsumerMode::Assign => FetchQueue::new(&consumer),
        ConsumerMode::Group => None,
    };
    // A metadata request that fails because the broker refused the login
    // says only "transport failure"; the context knows why.
    let refused_or = |source| match refusal(&consumer) {
        Some(message) => IngestError::Refused {
            table: name.to_string(),
            message,
        },
        None => kafka(source),
    };
    let assigned = match spec.mode {
        ConsumerMode::Group => {
            let topics: Vec<&str> = spec.topics.iter().map(String::as_str).collect();
            consumer.subscribe(&topics).map_err(refused_or)?;
            BTreeSet::new()
        }
        ConsumerMode::Assign => assign_initial(&consumer, &spec, has_group, fetch.as_ref(), resume)
            .map_err(refused_or)?,
    };
    let dead_letter = match &spec.on_error {
        OnError::DeadLetter { topic, retry } => {
            Some(DeadLetterQueue::new(&spec.properties, topic, *retry).map_err(kafka)?)
        }
        _ => None,
    };
    let wants_headers = spec.columns.headers != HeaderColumns::None || dead_letter.is_some();
    let mut ingest = IngestLoop {
        fetch,
        wants_headers,
        shared,
        consumer,
        spec,
        schema,
        key_decoder,
        value_decoder,
        writer,
        engine: engine.clone(),
        tracker,
        dead_letter,
        assigned,
        skip_log: RateLimitedLog::new(Duration::from_secs(1)),
        last_partition_check: Instant::now(),
        last_progress_check: Instant::now() - PROGRESS_EVERY,
        paused: false,
        held: HeldPartitions::default(),
    };
    std::thread::Builder::new()
        .name(format!("ingest-{name}"))
        .spawn(move || {
            // A panic (a bug, here or in an in-process decoder) must not leave
            // the table looking alive: it fails the table, naming the panic.
            // Rows already pushed stay; nothing past them was committed.
            let shared = ingest.shared.clone();
            if let Err(payload) = catch_unwind(AssertUnwindSafe(|| ingest.run())) {
                let message = format!(
                    "the ingest thread panicked: {}",
                    panic_message(payload.as_ref())
                );
                tracing::error!(table = %shared.name, "{message}");
                *lock(&shared.status) = IngestStatus::Failed(message);
            }
        })
        .map_err(|e| IngestError::Config {
            table: name.to_string(),
            message: format!("cannot start the ingest thread: {e}"),
        })
}

/// A source table's decoders and schema, made before anything connects.
pub struct SourcePlan {
    /// The key's decoder, unless the key is ignored.
    pub key_decoder: Option<Box<dyn Decoder>>,
    /// The value's decoder, unless the value is ignored.
    pub value_decoder: Option<Box<dyn Decoder>>,
    /// The table's schema: standard columns, then key columns, then value columns.
    pub schema: SchemaRef,
}

/// Creates the decoders of `spec` and the table's schema, checking the spec
/// (both sides ignored, no topic, duplicate column names) without connecting.
pub fn plan_source(
    name: &str,
    plugins: &PluginRegistry,
    spec: &ConsumeSpec,
) -> Result<SourcePlan, IngestError> {
    let config_error = |message: String| IngestError::Config {
        table: name.to_string(),
        message,
    };
    if spec.key == ValueSpec::Ignore && spec.value == ValueSpec::Ignore {
        return Err(config_error(
            "the key and the value are both ignored; read at least one".into(),
        ));
    }
    if spec.topics.is_empty() {
        return Err(config_error("no topic given".into()));
    }
    check_start(spec).map_err(|e| config_error(e.message))?;
    // A table reading one topic tells the codec which (for registry subjects).
    let codec_config = |format: &str, config: &serde_json::Value| match spec.topics.as_slice() {
        [topic] => plugins.with_topic_default(format, config, topic),
        _ => config.clone(),
    };
    let decoder = |side: Side, vs: &ValueSpec| -> Result<Option<Box<dyn Decoder>>, IngestError> {
        match vs {
            ValueSpec::Ignore => Ok(None),
            ValueSpec::Codec { format, config } => plugins
                .new_decoder(format, &codec_config(format, config), side)
                .map(Some)
                .map_err(|source| IngestError::Codec {
                    table: name.to_string(),
                    side,
                    source,
                }),
        }
    };
    let key_decoder = decoder(Side::Key, &spec.key)?;
    let value_decoder = decoder(Side::Value, &spec.value)?;
    SourcePlan::new(name, spec, key_decoder, value_decoder)
}

impl SourcePlan {
    /// The table's schema from the standard columns of `spec` and the
    /// decoders' columns; refuses a column name given twice.
    fn new(
        name: &str,
        spec: &ConsumeSpec,
        key_decoder: Option<Box<dyn Decoder>>,
        value_decoder: Option<Box<dyn Decoder>>,
    ) -> Result<Self, IngestError> {
        let mut fields: Vec<Field> = spec.columns.fields();
        for d in [&key_decoder, &value_decoder].into_iter().flatten() {
            fields.extend(
                d.output_schema()
                    .fields()
                    .iter()
                    .map(|f| f.as_ref().clone()),
            );
        }
        let mut seen = BTreeSet::new();
        for f in &fields {
            if !seen.insert(f.name().clone()) {
                return Err(IngestError::Config {
                    table: name.to_string(),
                    message: format!(
                        "column `{}` appears twice (rename a standard column or a codec column)",
                        f.name()
                    ),
                });
            }
        }
        let schema: SchemaRef = Arc::new(Schema::new(fields));
        Ok(SourcePlan {
            key_decoder,
            value_decoder,
            schema,
        })
    }
}

/// Mode, partitions and initial offsets that do not fit together: the
/// pipeline-file key at fault (`mode`, `partitions`, `offsets` or
/// `properties`) and what was expected there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StartMismatch {
    /// The key of a `[[table]]` entry the mistake is in.
    pub key: &'static str,
    /// What was expected, and what was found.
    pub message: String,
}

impl std::fmt::Display for StartMismatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

/// Checks that the mode, partitions and initial offsets fit together. The
/// library (`consume_to_table`) and pipeline files (`validate`) share it.
pub fn check_start(spec: &ConsumeSpec) -> Result<(), StartMismatch> {
    let mismatch = |key, message: String| Err(StartMismatch { key, message });
    let has_group = spec.properties.contains_key("group.id");
    match spec.mode {
        ConsumerMode::Group => {
            if !has_group {
                return mismatch(
                    "mode",
                    "mode = \"group\" needs a `group.id`: set it in the broker properties \
                     ([kafka], or this table's `properties`)"
                        .into(),
                );
            }
            if spec.partitions != Partitions::All {
                return mismatch(
                    "partitions",
                    "in group mode the group assigns the partitions: expected no `partitions` \
                     (or \"all\"), found a list; use mode = \"assign\" to read chosen partitions"
                        .into(),
                );
            }
            if spec.on_revoke == OnRevoke::Remove {
                let keep = "or set on_revoke = \"keep\" to keep the rows of partitions the group \
                            moves to another member";
                if spec.columns.partition.is_none() {
                    return mismatch(
                        "on_revoke",
                        format!(
                            "in group mode a member removes the rows of a partition the group \
                             moves away, found by the partition column: keep that column ({keep})"
                        ),
                    );
                }
                if spec.topics.len() > 1 && spec.columns.topic.is_none() {
                    return mismatch(
                        "on_revoke",
                        format!(
                            "in group mode a member removes the rows of a partition the group \
                             moves away, and with several topics it needs the topic column to \
                             find them: add `columns = {{ topic = true }}` ({keep})"
                        ),
                    );
                }
            }
            let expected = "in group mode each partition starts at the group's committed offset: \
                 expected \"committed\", \"beginning\", \"end\" or { timestamp = … } (where a \
                 partition with no committed offset starts)";
            if !spec.offsets.per_partition.is_empty() {
                return mismatch("offsets", format!("{expected}, found a per-partition map"));
            }
            if let StartAt::Offset(o) = spec.offsets.default {
                return mismatch(
                    "offsets",
                    format!(
                        "{expected}, found `offsets = {o}`, which would start every partition at \
                         the same offset"
                    ),
                );
            }
        }
        ConsumerMode::Assign => {
            let reset = spec.properties.get("auto.offset.reset");
            let committed = std::iter::once(&spec.offsets.default)
                .chain(spec.offsets.per_partition.values())
                .any(|s| *s == StartAt::Committed);
            if committed
                && !has_group
                && let Some(reset) = reset
                && reset_offset(reset).is_none()
            {
                return mismatch(
                    "properties",
                    format!(
                        "`auto.offset.reset = \"{reset}\"` with `offsets = \"committed\"` and no \
                         `group.id`: nothing is committed, so give \"earliest\" or \"latest\" (or a \
                         `group.id`)"
                    ),
                );
            }
        }
    }
    Ok(())
}

/// Where librdkafka's `auto.offset.reset` (any of its spellings) starts a
/// partition; `None` for `error` or an unknown value.
fn reset_offset(value: &str) -> Option<Offset> {
    match value {
        "smallest" | "earliest" | "beginning" => Some(Offset::Beginning),
        "largest" | "latest" | "end" => Some(Offset::End),
        _ => None,
    }
}

/// Message data (keys, values, headers) one ingest batch holds at most.
const MAX_BATCH_BYTES: usize = 256 << 20;

/// Whether `builder` is a full batch: `max_batch` messages, or
/// [`MAX_BATCH_BYTES`] of message data (a batch's columns must stay far below
/// Arrow's 2 GiB offset limit whatever the message sizes).
fn batch_full(builder: &MessageBatchBuilder, max_batch: usize) -> bool {
    builder.len() >= max_batch || builder.data_bytes() >= MAX_BATCH_BYTES
}

/// Messages taken from librdkafka per call; with librdkafka's own limit on a
/// message (`receive.message.max.bytes`, 100 MB by default) far below
/// 2 GiB over [`MAX_BATCH_BYTES`] in any sane configuration.
const FILL_MESSAGES: usize = 1024;

/// librdkafka consumer properties topictable sets before the table's own,
/// which override them. Each is here because a measured run justified it
/// (BENCHMARKS.md, "Ingest for every format"):
///
/// - `fetch.queue.backoff.ms = 10` (librdkafka: 1000): once the queue of
///   prefetched messages passes `queued.min.messages`, librdkafka stops
///   fetching for this long. The queue count is over all of a consumer's
///   partitions, so with small records a single fetch round passes the
///   threshold and every partition then idles a full second: rows arrived
///   in bursts with nothing in between.
///
/// `queued.min.messages` stays at librdkafka's 100,000: raising it to
/// 1,000,000 changed no measured wall time once the backoff was short, and
/// it would let a consumer that falls behind hold ten times as many
/// prefetched messages (each about 250 bytes of librdkafka bookkeeping on
/// top of its payload).
pub const CONSUMER_DEFAULTS: [(&str, &str); 1] = [("fetch.queue.backoff.ms", "10")];

fn create_consumer(
    spec: &ConsumeSpec,
    name: &str,
    engine: &Engine,
    tracker: Arc<Mutex<CommitTracker>>,
) -> Result<BaseConsumer<IngestContext>, rdkafka::error::KafkaError> {
    let mut config = ClientConfig::new();
    let reset = match spec.offsets.default {
        StartAt::Beginning => "earliest",
        _ => "latest",
    };
    config
        .set("enable.auto.commit", "false")
        .set("enable.auto.offset.store", "false")
        .set("auto.offset.reset", reset)
        .set("topic.metadata.refresh.interval.ms", "5000")
        .set("client.id", format!("topictable-{name}"));
    for (k, v) in CONSUMER_DEFAULTS {
        config.set(k, v);
    }
    for (k, v) in &spec.properties {
        config.set(k, v);
    }
    if !spec.properties.contains_key("group.id") {
        // librdkafka's assign() needs a consumer group even when nothing is
        // committed; a private one means "no committed offsets".
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        config.set(
            "group.id",
            format!("topictable-{name}-{}-{nanos}", std::process::id()),
        );
    }
    let start_time = match (spec.mode, &spec.offsets.default) {
        (ConsumerMode::Group, StartAt::Timestamp(ms)) => Some(*ms),
        _ => None,
    };
    config.create_with_context(IngestContext {
        tracker,
        engine: engine.clone(),
        table: name.to_string(),
        start_time,
        fatal: FatalErrorSlot::default(),
        revoked: Mutex::default(),
        remove_lost: removes_lost_partitions(spec),
        revoked_pending: Mutex::default(),
        lost: Mutex::default(),
    })
}

/// Whether the table removes the rows of partitions the group moves away.
fn removes_lost_partitions(spec: &ConsumeSpec) -> bool {
    spec.mode == ConsumerMode::Group && spec.on_revoke == OnRevoke::Remove
}

/// Picks the rows of `lost` partitions by the table's partition column (and
/// topic column, if it has one).
fn rows_of_partitions(
    lost: BTreeSet<(String, i32)>,
    partition_column: String,
    topic_column: Option<String>,
) -> topictable_engine::RowFilter {
    Arc::new(move |batch: &RecordBatch| {
        use arrow_array::cast::AsArray;
        let missing = |c: &str| arrow_schema::ArrowError::SchemaError(format!("no column `{c}`"));
        let partitions = batch
            .column_by_name(&partition_column)
            .ok_or_else(|| missing(&partition_column))?
            .as_primitive_opt::<arrow_array::types::Int32Type>()
            .ok_or_else(|| missing(&partition_column))?;
        let topics = match &topic_column {
            Some(c) => Some(
                batch
                    .column_by_name(c)
                    .ok_or_else(|| missing(c))?
                    .as_string_opt::<i32>()
                    .ok_or_else(|| missing(c))?,
            ),
            None => None,
        };
        Ok((0..batch.num_rows())
            .map(|i| {
                let p = partitions.value(i);
                Some(match topics {
                    Some(t) => lost.contains(&(t.value(i).to_string(), p)),
                    None => lost.iter().any(|(_, lp)| *lp == p),
                })
            })
            .collect())
    })
}

fn partitions_of<C: ConsumerContext>(
    consumer: &BaseConsumer<C>,
    topic: &str,
) -> Result<Vec<i32>, rdkafka::error::KafkaError> {
    let metadata = consumer.fetch_metadata(Some(topic), Duration::from_secs(10))?;
    let t = metadata.topics().iter().find(|t| t.name() == topic);
    match t.map(|t| (t, t.error())) {
        Some((t, None)) => Ok(t.partitions().iter().map(|p| p.id()).collect()),
        // Not created yet: no partitions for now; they are picked up when it appears.
        Some((
            _,
            Some(rdkafka::types::RDKafkaRespErr::RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART),
        )) => Ok(Vec::new()),
        Some((_, Some(e))) => Err(rdkafka::error::KafkaError::MetadataFetch(e.into())),
        None => Ok(Vec::new()),
    }
}

/// Assigns the chosen partitions at their initial offsets.
fn assign_initial<C: ConsumerContext>(
    consumer: &BaseConsumer<C>,
    spec: &ConsumeSpec,
    has_group: bool,
    fetch: Option<&FetchQueue>,
    resume: &BTreeMap<(String, i32), i64>,
) -> Result<BTreeSet<(String, i32)>, rdkafka::error::KafkaError> {
    let mut tpl = TopicPartitionList::new();
    let mut by_time = TopicPartitionList::new();
    let mut assigned = BTreeSet::new();
    for topic in &spec.topics {
        let partitions = match &spec.partitions {
            Partitions::All => partitions_of(consumer, topic)?,
            Partitions::List(list) => list.clone(),
        };
        if partitions.is_empty() {
            tracing::warn!(
                "topic {topic} has no partitions yet (does it exist?); they are read from the beginning when they appear"
            );
        }
        for p in partitions {
            assigned.insert((topic.clone(), p));
            if let Some(&next) = resume.get(&(topic.clone(), p)) {
                tpl.add_partition_offset(topic, p, Offset::Offset(next))?;
                continue;
            }
            let offset = match spec.offsets.for_partition(p) {
                StartAt::Committed if has_group => Offset::Stored,
                // Nothing is committed in the private group: the reset decides.
                StartAt::Committed => spec
                    .properties
                    .get("auto.offset.reset")
                    .and_then(|r| reset_offset(r))
                    .unwrap_or(Offset::End),
                StartAt::Beginning => Offset::Beginning,
                StartAt::End => Offset::End,
                StartAt::Offset(o) => Offset::Offset(*o),
                StartAt::Timestamp(ms) => {
                    by_time.add_partition_offset(topic, p, Offset::Offset(*ms))?;
                    continue;
                }
            };
            tpl.add_partition_offset(topic, p, offset)?;
        }
    }
    if by_time.count() > 0 {
        for (topic, partition, offset) in offsets_at_times(consumer, by_time)? {
            tpl.add_partition_offset(&topic, partition, offset)?;
        }
    }
    route_all(consumer, fetch, &tpl);
    consumer.assign(&tpl)?;
    Ok(assigned)
}

/// Routes the partitions of `tpl` to `fetch` (before they are assigned). A
/// partition that cannot be routed still arrives through the consumer's poll.
fn route_all<C: ConsumerContext>(
    consumer: &BaseConsumer<C>,
    fetch: Option<&FetchQueue>,
    tpl: &TopicPartitionList,
) {
    let Some(fetch) = fetch else { return };
    for e in tpl.elements() {
        if !fetch.route(consumer, e.topic(), e.partition()) {
            tracing::debug!(
                "{}/{} is read through the consumer's poll",
                e.topic(),
                e.partition()
            );
        }
    }
}

/// The first offset at or after each partition's time (the offset field of
/// `by_time`, epoch milliseconds); the end when no message is that late.
fn offsets_at_times<C: ConsumerContext>(
    consumer: &BaseConsumer<C>,
    by_time: TopicPartitionList,
) -> Result<Vec<(String, i32, Offset)>, rdkafka::error::KafkaError> {
    let found = consumer.offsets_for_times(by_time, Duration::from_secs(10))?;
    Ok(found
        .elements()
        .iter()
        .map(|e| {
            let offset = match e.offset() {
                Offset::Offset(o) if o >= 0 => Offset::Offset(o),
                _ => Offset::End,
            };
            (e.topic().to_string(), e.partition(), offset)
        })
        .collect())
}

/// Group mode with a start time: in a new assignment, partitions the group
/// has no committed offset for start at the first message at or after `ms`.
fn start_uncommitted_at<C: ConsumerContext>(
    consumer: &BaseConsumer<C>,
    tpl: &mut TopicPartitionList,
    ms: i64,
) -> Result<(), rdkafka::error::KafkaError> {
    let committed = consumer.committed_offsets(tpl.clone(), Duration::from_secs(10))?;
    let mut by_time = TopicPartitionList::new();
    for e in committed.elements() {
        if !matches!(e.offset(), Offset::Offset(o) if o >= 0) {
            by_time.add_partition_offset(e.topic(), e.partition(), Offset::Offset(ms))?;
        }
    }
    if by_time.count() == 0 {
        return Ok(());
    }
    for (topic, partition, offset) in offsets_at_times(consumer, by_time)? {
        tpl.set_partition_offset(&topic, partition, offset)?;
    }
    Ok(())
}

struct IngestLoop {
    /// Declared before `consumer`, so it is dropped first.
    fetch: Option<FetchQueue>,
    shared: Arc<Shared>,
    consumer: BaseConsumer<IngestContext>,
    spec: ConsumeSpec,
    schema: SchemaRef,
    key_decoder: Option<Box<dyn Decoder>>,
    value_decoder: Option<Box<dyn Decoder>>,
    writer: Writer,
    engine: Engine,
    tracker: Arc<Mutex<CommitTracker>>,
    dead_letter: Option<DeadLetterQueue>,
    assigned: BTreeSet<(String, i32)>,
    /// Whether message headers are read at all: only the header columns and
    /// the dead-letter queue use them, and librdkafka parses (and allocates
    /// for) a message's header block on every `headers()` call, even an empty one.
    wants_headers: bool,
    skip_log: RateLimitedLog,
    last_partition_check: Instant,
    last_progress_check: Instant,
    /// Whether the partitions are paused now.
    paused: bool,
    /// Partitions held at a record whose schema registry cannot be reached.
    held: HeldPartitions,
}

/// How often the watermarks and rows per second are refreshed.
const PROGRESS_EVERY: Duration = Duration::from_secs(1);

/// What decoding one batch came to.
struct BatchOutcome {
    /// The rows to push (all columns), already filtered.
    rows: Option<RecordBatch>,
    /// Per topic/partition, the offset after the last handled message.
    next_offsets: super::commits::NextOffsets,
    /// Set when the table must stop.
    failure: Option<String>,
    /// Partitions to hold, at the offset of their first record whose
    /// schema registry could not be reached, with the reason.
    holds: Vec<(String, i32, i64, String)>,
    /// Partitions read past without a hold (their holds, if any, are over).
    read: Vec<(String, i32)>,
    /// The first row that did not fit in the batch's columns: it and the
    /// rows after it are to be decoded again as a batch of their own.
    split_from: Option<usize>,
}

impl IngestLoop {
    fn run(&mut self) {
        let mut builder = MessageBatchBuilder::with_capacity(self.spec.max_batch.min(65_536), 64);
        while !self.shared.stop.load(Relaxed) {
            self.apply_pause();
            if !self.paused {
                self.held.resume_due(&self.consumer);
            }
            builder.clear();
            if let Err(message) = self.poll_batch(&mut builder) {
                // What this poll took is neither pushed nor counted handled,
                // so a restart reads it again.
                self.fail(message);
                break;
            }
            if !self.ingest(&mut builder) {
                break;
            }
            self.maintain();
        }
        self.shutdown();
    }

    /// Decodes and pushes the messages of `builder`; a batch whose columns
    /// filled up is pushed up to that point, and the rest decoded again as
    /// a batch of its own. False when the table must stop.
    fn ingest(&mut self, builder: &mut MessageBatchBuilder) -> bool {
        while !builder.is_empty() {
            let outcome = self.process(&builder.batch().view());
            let handled = outcome.next_offsets.clone();
            let pushed = push_and_track(
                &self.writer,
                &self.engine,
                &self.tracker,
                outcome.rows,
                outcome.next_offsets,
            );
            if pushed.is_ok() {
                lock(&self.shared.progress).handled(&handled);
                if !self.apply_holds(&outcome.holds, &outcome.read) {
                    return false;
                }
            }
            match pushed {
                Ok(n) => self.shared.rows.fetch_add(n as u64, Relaxed),
                Err(e) => {
                    self.fail(format!("cannot push rows into the table: {e}"));
                    return false;
                }
            };
            if let Some(message) = outcome.failure {
                self.fail(message);
                return false;
            }
            let Some(first) = outcome.split_from else {
                break;
            };
            tracing::debug!(
                table = %self.shared.name,
                "a batch's columns filled up at message {first} of {}: the rest is decoded as a batch of its own",
                builder.len()
            );
            retain_messages(builder, |i, _, _| i >= first);
        }
        true
    }

    /// Pauses or resumes the partitions when asked. While paused, the pause
    /// is applied again each round, so partitions a rebalance hands over are
    /// paused too.
    fn apply_pause(&mut self) {
        let want = self.shared.pause.load(Relaxed);
        if want == self.paused && !want {
            return;
        }
        let assignment = match self.consumer.assignment() {
            Ok(tpl) => tpl,
            Err(e) => return tracing::warn!(table = %self.shared.name, "pause: {e}"),
        };
        let done = match want {
            true => self.consumer.pause(&assignment),
            false => self.consumer.resume(&assignment),
        };
        if let Err(e) = done {
            return tracing::warn!(table = %self.shared.name, "pause/resume: {e}");
        }
        if want != self.paused {
            // Resuming resumes every partition, held ones too: they are read
            // again from where they were held (and held again if need be).
            self.held.clear();
            tracing::info!(table = %self.shared.name, "{}", if want { "paused" } else { "resumed" });
            self.paused = want;
            let mut status = lock(&self.shared.status);
            // Resuming also ends a wait for the registry (the holds were
            // cleared); a partition still waiting is held again at once.
            if matches!(
                *status,
                IngestStatus::Running | IngestStatus::Paused | IngestStatus::WaitingForRegistry(_)
            ) {
                *status = if want {
                    IngestStatus::Paused
                } else {
                    IngestStatus::Running
                };
            }
        }
        if want {
            // Nothing to fetch: wait here rather than spin.
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Holds the partitions a batch could not decode for want of the
    /// schema registry, releases those it read past, and says so in the
    /// status (`registry_hold.rs`).
    /// A partition no longer assigned (a rebalance took it) is not held: its
    /// new owner reads it from the committed offset, which is not past the
    /// record. Fails the table (and returns false) when a hold cannot be
    /// made, since the records from the held one on would be skipped.
    fn apply_holds(
        &mut self,
        holds: &[(String, i32, i64, String)],
        read: &[(String, i32)],
    ) -> bool {
        for (topic, partition) in read {
            self.held.release(topic, *partition);
        }
        let mut assigned = None;
        if !holds.is_empty() || !self.held.is_empty() {
            match self.consumer.assignment() {
                Ok(tpl) => {
                    let now: BTreeSet<(String, i32)> = tpl
                        .elements()
                        .iter()
                        .map(|e| (e.topic().to_string(), e.partition()))
                        .collect();
                    self.held.retain_assigned(&now);
                    assigned = Some(now);
                }
                Err(e) => tracing::warn!(table = %self.shared.name, "assignment: {e}"),
            }
        }
        for (topic, partition, offset, reason) in holds {
            if assigned
                .as_ref()
                .is_some_and(|a| !a.contains(&(topic.clone(), *partition)))
            {
                continue;
            }
            if let Err(e) = self
                .held
                .hold(&self.consumer, topic, *partition, *offset, reason)
            {
                self.fail(format!(
                    "cannot hold {topic}/{partition} at offset {offset} while the schema registry is unavailable: {e}"
                ));
                return false;
            }
            // Where the partition goes on from (a restart resumes here).
            let position = BTreeMap::from([((topic.clone(), *partition), *offset)]);
            lock(&self.shared.progress).handled(&position);
            tracing::warn!(
                table = %self.shared.name,
                "waiting for the schema registry: {topic}/{partition} is held at offset {offset}: {reason}"
            );
        }
        let mut status = lock(&self.shared.status);
        match (&*status, self.held.is_empty()) {
            (IngestStatus::Running | IngestStatus::WaitingForRegistry(_), false) => {
                *status = IngestStatus::WaitingForRegistry(format!(
                    "Waiting for schema registry: {}",
                    self.held.reason()
                ));
            }
            (IngestStatus::WaitingForRegistry(_), true) => {
                tracing::info!(table = %self.shared.name, "the schema registry answers again");
                *status = IngestStatus::Running;
            }
            _ => {}
        }
        true
    }

    fn fail(&self, message: String) {
        tracing::error!(table = %self.shared.name, "{message}");
        *lock(&self.shared.status) = IngestStatus::Failed(message);
    }

    /// Takes the next batch of messages: up to `max_batch`, waiting up to
    /// 100 ms for the first one. An error no retry cures (see
    /// `fatal_error`) is returned as the table's failure message.
    fn poll_batch(&mut self, builder: &mut MessageBatchBuilder) -> Result<(), String> {
        if let Some(message) = self.consumer.context().fatal.get() {
            return Err(message);
        }
        let polled = if self.fetch.is_some() {
            // Events, and the messages of any partition that was not routed.
            self.poll_consumer(builder, Duration::ZERO)
                .and_then(|()| self.take_fetched(builder))
        } else {
            self.poll_consumer(builder, Duration::from_millis(100))
        };
        self.shared
            .messages
            .fetch_add(builder.len() as u64, Relaxed);
        polled
    }

    /// Messages (and events) through rdkafka's `poll`, until the consumer's
    /// queue is empty or the batch is full.
    fn poll_consumer(
        &mut self,
        builder: &mut MessageBatchBuilder,
        first_wait: Duration,
    ) -> Result<(), String> {
        let mut timeout = first_wait;
        while !batch_full(builder, self.spec.max_batch) {
            match self.consumer.poll(timeout) {
                None => {
                    // A rebalance ends `poll` with nothing: every message
                    // taken so far came before it.
                    let revoked = std::mem::take(&mut *lock(&self.consumer.context().revoked));
                    if !revoked.is_empty() {
                        drop_revoked(builder, &revoked);
                    }
                    self.remove_lost_rows()?;
                    break;
                }
                Some(Err(e)) => {
                    if let Some(hint) = e.rdkafka_error_code().and_then(fatal_hint) {
                        return Err(fatal_message(&e, hint));
                    }
                    tracing::warn!(table = %self.shared.name, "kafka: {e}");
                    break;
                }
                Some(Ok(m)) => {
                    let headers: Vec<(&str, Option<&[u8]>)> = match self.wants_headers {
                        true => m
                            .headers()
                            .map(|h| h.iter().map(|h| (h.key, h.value)).collect())
                            .unwrap_or_default(),
                        false => Vec::new(),
                    };
                    builder.push(
                        m.topic(),
                        m.partition(),
                        m.offset(),
                        m.timestamp().to_millis(),
                        m.key(),
                        m.payload(),
                        &headers,
                    );
                }
            }
            timeout = Duration::ZERO;
        }
        Ok(())
    }

    /// Messages of the routed partitions, a librdkafka batch at a time.
    fn take_fetched(&mut self, builder: &mut MessageBatchBuilder) -> Result<(), String> {
        let Some(fetch) = self.fetch.as_mut() else {
            return Ok(());
        };
        let mut fatal = None;
        let (name, wants_headers) = (&self.shared.name, self.wants_headers);
        let max_batch = self.spec.max_batch;
        // Wait (for one message) only when there is nothing to hand on yet.
        let mut wait = builder.is_empty();
        while !batch_full(builder, max_batch) {
            let room = max_batch - builder.len();
            // At most FILL_MESSAGES at a time, so the byte bound is checked often.
            let n = match wait {
                true => fetch.fill(100, 1),
                false => fetch.fill(0, room.min(FILL_MESSAGES)),
            };
            fetch.for_each(|m| {
                if let Some(code) = m.error {
                    if let Some(hint) = fatal_hint(code) {
                        let at = format!("{}/{}@{}: {code}", m.topic, m.partition, m.offset);
                        fatal.get_or_insert_with(|| fatal_message(&at, hint));
                        return;
                    }
                    tracing::warn!(
                        table = %name,
                        "kafka: {}/{}@{}: {code}",
                        m.topic,
                        m.partition,
                        m.offset
                    );
                    return;
                }
                let headers = if wants_headers {
                    m.headers()
                } else {
                    Vec::new()
                };
                builder.push(
                    m.topic,
                    m.partition,
                    m.offset,
                    m.timestamp,
                    m.key,
                    m.value,
                    &headers,
                );
            });
            fetch.release();
            if let Some(message) = fatal {
                return Err(message);
            }
            if n == 0 {
                break;
            }
            wait = false;
        }
        Ok(())
    }

    /// Removes the rows of the partitions a rebalance moved to another
    /// member (`on_revoke = "remove"`), at the next cycle.
    fn remove_lost_rows(&mut self) -> Result<(), String> {
        let lost = std::mem::take(&mut *lock(&self.consumer.context().lost));
        if lost.is_empty() {
            return Ok(());
        }
        let Some(partition) = self.spec.columns.partition.clone() else {
            return Ok(());
        };
        tracing::info!(
            table = %self.shared.name,
            "partitions moved to another member; removing their rows: {lost:?}"
        );
        let filter = rows_of_partitions(lost, partition, self.spec.columns.topic.clone());
        self.writer
            .remove_where(filter)
            .map_err(|e| format!("removing the rows of partitions moved away: {e}"))
    }

    fn decode(
        decoder: &mut Option<Box<dyn Decoder>>,
        batch: &MessageBatch<'_>,
    ) -> Option<Result<Decoded, String>> {
        decoder
            .as_mut()
            .map(|d| d.decode(batch).map_err(|e| e.to_string()))
    }

    /// Decodes one batch and applies the bad-record policy.
    fn process(&mut self, batch: &MessageBatch<'_>) -> BatchOutcome {
        let n = batch.len();
        let received = chrono::Utc::now().timestamp_millis();
        let started = Instant::now();
        let key = Self::decode(&mut self.key_decoder, batch);
        let value = Self::decode(&mut self.value_decoder, batch);
        self.shared
            .decode_nanos
            .fetch_add(started.elapsed().as_nanos() as u64, Relaxed);

        // Per partition, the first row the decoders could not decode for want
        // of the schema registry: from it on, the partition is held, not judged.
        let id = |i: usize| (batch.topic_ids[i], batch.partitions[i]);
        let mut held_from: BTreeMap<(u32, i32), (usize, &str)> = BTreeMap::new();
        for decoded in [&key, &value].into_iter().flatten().flatten() {
            for e in decoded
                .errors
                .iter()
                .filter(|e| e.kind == RowErrorKind::RetryLater)
            {
                let first = held_from.entry(id(e.row)).or_insert((e.row, &e.message));
                if e.row < first.0 {
                    *first = (e.row, &e.message);
                }
            }
        }
        let held = |i: usize| held_from.get(&id(i)).is_some_and(|&(first, _)| i >= first);

        // The first row that did not fit in the batch's columns: it and the
        // rows after it are decoded again as a batch of their own. As the
        // first row of a batch, it does not fit at all: then it is bad.
        let split_from = [&key, &value]
            .into_iter()
            .flatten()
            .flatten()
            .flat_map(|d| d.errors.iter())
            .filter(|e| e.kind == RowErrorKind::BatchFull && e.row > 0)
            .map(|e| e.row)
            .min();
        let later = |i: usize| split_from.is_some_and(|r| i >= r);

        // Every bad row, first reason wins (key before value).
        let mut bad: BTreeMap<usize, RecordError> = BTreeMap::new();
        for (side, out) in [(Side::Key, &key), (Side::Value, &value)] {
            match out {
                Some(Ok(decoded)) => {
                    for e in decoded
                        .errors
                        .iter()
                        .filter(|e| !held(e.row) && !later(e.row))
                    {
                        bad.entry(e.row).or_insert_with(|| {
                            RecordError::new(batch, e.row, side, e.message.clone(), false)
                        });
                    }
                }
                Some(Err(message)) => {
                    for row in (0..n).filter(|&row| !held(row) && !later(row)) {
                        bad.entry(row).or_insert_with(|| {
                            RecordError::new(batch, row, side, message.clone(), true)
                        });
                    }
                }
                None => {}
            }
        }
        for error in bad.values() {
            self.shared.counts.add_decode_error(ErrorReason::of(error));
        }

        // How many rows (in order) this batch handles, and whether to stop.
        let mut handled = split_from.unwrap_or(n);
        let mut failure = None;
        match &self.spec.on_error {
            OnError::Fail => {
                if let Some((&row, error)) = bad.iter().next() {
                    handled = row;
                    failure = Some(format!(
                        "{error} (on_error = fail; set on_error = \"skip\" or \"dead-letter\" to go on)"
                    ));
                }
            }
            OnError::Skip => {
                for error in bad.values() {
                    self.skip_log.warn(&self.shared.name, error);
                }
                self.shared.counts.add_skipped(bad.len() as u64);
            }
            OnError::DeadLetter { .. } => {
                let dlq = self.dead_letter.as_ref().expect("created with the policy");
                let sent = bad
                    .iter()
                    .try_for_each(|(&row, error)| dlq.send(batch, row, error))
                    .and_then(|()| dlq.flush(&|| self.shared.stop.load(Relaxed)));
                match sent {
                    Ok(()) => self.shared.counts.add_dead_lettered(bad.len() as u64),
                    Err(e) => {
                        // Nothing of this batch is counted as handled: it is re-read after a restart.
                        handled = 0;
                        failure = Some(e);
                    }
                }
            }
        }

        // Per (topic id, partition) first, so topic names are copied once per
        // partition rather than once per message.
        // Messages come in runs of one partition, so the map is touched only
        // at the last message of each run.
        let mut by_id: BTreeMap<(u32, i32), i64> = BTreeMap::new();
        if held_from.is_empty() {
            for i in 0..handled {
                if i + 1 == handled || id(i + 1) != id(i) {
                    by_id.insert(id(i), batch.offsets[i] + 1);
                }
            }
        } else {
            for i in (0..handled).filter(|&i| !held(i)) {
                by_id.insert(id(i), batch.offsets[i] + 1);
            }
        }
        let topic = |topic_id: u32| {
            let name = batch.topic_names.get(topic_id as usize).unwrap_or_default();
            String::from_utf8_lossy(name).into_owned()
        };
        // A partition is held only if the batch got as far as the record.
        let holds: Vec<(String, i32, i64, String)> = held_from
            .iter()
            .filter(|&(_, &(first, _))| first < handled)
            .map(|(&(t, p), &(first, why))| (topic(t), p, batch.offsets[first], why.to_string()))
            .collect();
        let read: Vec<(String, i32)> = by_id
            .keys()
            .filter(|k| !held_from.contains_key(k))
            .map(|&(t, p)| (topic(t), p))
            .collect();
        let next_offsets = by_id
            .into_iter()
            .map(|((topic_id, partition), next)| ((topic(topic_id), partition), next))
            .collect();
        // The per-message path looks at holds only when there are any.
        let any_held = !held_from.is_empty();
        let keep = (0..n).map(|i| i < handled && !bad.contains_key(&i) && !(any_held && held(i)));
        let keep = BooleanArray::from_iter(keep.map(Some));
        let rows = if keep.true_count() == 0 {
            None
        } else {
            match self.assemble(batch, received, key, value, &keep) {
                Ok(rows) => Some(rows),
                Err(e) => {
                    return BatchOutcome {
                        rows: None,
                        next_offsets: BTreeMap::new(),
                        failure: Some(e),
                        holds: Vec::new(),
                        read: Vec::new(),
                        split_from: None,
                    };
                }
            }
        };
        BatchOutcome {
            split_from: split_from.filter(|_| failure.is_none()),
            rows,
            next_offsets,
            failure,
            holds,
            read,
        }
    }

    /// Puts the standard, key and value columns side by side and keeps the good rows.
    fn assemble(
        &self,
        batch: &MessageBatch<'_>,
        received: i64,
        key: Option<Result<Decoded, String>>,
        value: Option<Result<Decoded, String>>,
        keep: &BooleanArray,
    ) -> Result<RecordBatch, String> {
        let mut columns: Vec<ArrayRef> = self.spec.columns.build(batch, received);
        for decoded in [key, value].into_iter().flatten() {
            let decoded = decoded?;
            columns.extend(decoded.batch.columns().iter().cloned());
        }
        let all = RecordBatch::try_new(self.schema.clone(), columns)
            .map_err(|e| format!("assembling rows: {e}"))?;
        if keep.true_count() == keep.len() {
            Ok(all)
        } else {
            arrow_select::filter::filter_record_batch(&all, keep)
                .map_err(|e| format!("filtering rows: {e}"))
        }
    }

    /// Refreshes the watermarks (librdkafka's cached ones: no broker round
    /// trip), the positions of partitions not read from yet, and the rate.
    fn refresh_progress(&mut self) {
        let now = Instant::now();
        if now.duration_since(self.last_progress_check) < PROGRESS_EVERY {
            return;
        }
        self.last_progress_check = now;
        let positions = self.consumer.position().ok();
        let mut progress = lock(&self.shared.progress);
        for e in positions.iter().flat_map(|tpl| tpl.elements()) {
            if let Some(high) = cached_high_watermark(&self.consumer, e.topic(), e.partition()) {
                progress.high_watermark(e.topic(), e.partition(), high);
            }
            if let Offset::Offset(o) = e.offset() {
                progress.position_if_unknown(e.topic(), e.partition(), o);
            }
        }
        progress.sample(self.shared.rows.load(Relaxed), now);
    }

    /// Periodic work between batches: commits, progress, and new partitions.
    fn maintain(&mut self) {
        self.skip_log.flush(&self.shared.name, false);
        self.refresh_progress();
        if !self.held.is_empty() {
            // Drops holds a rebalance made moot, and says so in the status.
            self.apply_holds(&[], &[]);
        }
        if self.spec.mode == ConsumerMode::Group {
            let offsets = lock(&self.tracker).take_visible(self.engine.cycle());
            if let Err(e) = commit(&self.consumer, &offsets) {
                tracing::warn!(table = %self.shared.name, "commit failed: {e}");
            }
        }
        if self.spec.mode == ConsumerMode::Assign
            && self.spec.partitions == Partitions::All
            && self.last_partition_check.elapsed() >= Duration::from_secs(5)
        {
            self.last_partition_check = Instant::now();
            self.pick_up_new_partitions();
        }
    }

    /// Partitions added to a topic after start are read from their beginning.
    fn pick_up_new_partitions(&mut self) {
        let mut tpl = TopicPartitionList::new();
        for topic in &self.spec.topics {
            let Ok(partitions) = partitions_of(&self.consumer, topic) else {
                continue;
            };
            for p in partitions {
                if self.assigned.insert((topic.clone(), p)) {
                    tracing::info!(table = %self.shared.name, "new partition {topic}/{p}: reading it from the beginning");
                    let _ = tpl.add_partition_offset(topic, p, Offset::Beginning);
                }
            }
        }
        route_all(&self.consumer, self.fetch.as_ref(), &tpl);
        if tpl.count() > 0
            && let Err(e) = self.consumer.incremental_assign(&tpl)
        {
            tracing::warn!(table = %self.shared.name, "assigning new partitions failed: {e}");
        }
    }

    fn shutdown(&mut self) {
        self.skip_log.flush(&self.shared.name, true);
        if self.spec.mode == ConsumerMode::Group {
            let offsets = wait_until_visible(
                &mut lock(&self.tracker),
                &self.engine,
                Duration::from_secs(10),
            );
            if let Err(e) = commit(&self.consumer, &offsets) {
                tracing::warn!(table = %self.shared.name, "final commit failed: {e}");
            }
            self.consumer.unsubscribe();
        }
        let mut status = lock(&self.shared.status);
        if matches!(
            *status,
            IngestStatus::Running | IngestStatus::WaitingForRegistry(_)
        ) {
            *status = IngestStatus::Stopped;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::spec::InitialOffsets;
    use super::*;

    fn spec(mode: ConsumerMode, offsets: InitialOffsets, props: &[(&str, &str)]) -> ConsumeSpec {
        let mut s = ConsumeSpec::new("b:9092", "t", ValueSpec::Ignore, ValueSpec::Ignore);
        s.mode = mode;
        s.offsets = offsets;
        s.properties
            .extend(props.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        s
    }

    #[test]
    fn auto_offset_reset_takes_every_librdkafka_spelling() {
        for v in ["smallest", "earliest", "beginning"] {
            assert_eq!(reset_offset(v), Some(Offset::Beginning), "{v}");
        }
        for v in ["largest", "latest", "end"] {
            assert_eq!(reset_offset(v), Some(Offset::End), "{v}");
        }
        assert_eq!(reset_offset("error"), None);
    }

    #[test]
    fn group_mode_takes_a_start_time_but_not_one_offset_for_all_partitions() {
        let group = [("group.id", "g")];
        for start in [
            StartAt::Committed,
            StartAt::Beginning,
            StartAt::End,
            StartAt::Timestamp(1),
        ] {
            let s = spec(
                ConsumerMode::Group,
                InitialOffsets::all(start.clone()),
                &group,
            );
            assert_eq!(check_start(&s), Ok(()), "{start:?}");
        }
        let s = spec(
            ConsumerMode::Group,
            InitialOffsets::all(StartAt::Offset(5)),
            &group,
        );
        let e = check_start(&s).unwrap_err();
        assert_eq!(e.key, "offsets");
        assert!(e.message.contains("found `offsets = 5`"), "{e}");
        let s = spec(
            ConsumerMode::Group,
            InitialOffsets::all(StartAt::Committed),
            &[],
        );
        let e = check_start(&s).unwrap_err();
        assert_eq!(e.key, "mode");
        assert!(e.message.contains("needs a `group.id`"), "{e}");
    }

    #[test]
    fn committed_with_no_group_and_reset_error_is_refused() {
        let s = spec(
            ConsumerMode::Assign,
            InitialOffsets::default(),
            &[("auto.offset.reset", "error")],
        );
        let e = check_start(&s).unwrap_err();
        assert_eq!(e.key, "properties");
        assert!(e.message.contains("nothing is committed"), "{e}");
        let s = spec(
            ConsumerMode::Assign,
            InitialOffsets::default(),
            &[("auto.offset.reset", "error"), ("group.id", "g")],
        );
        assert_eq!(
            check_start(&s),
            Ok(()),
            "librdkafka handles it with a group"
        );
    }

    /// Decodes each value as UTF-8 text into `V`; panics on a value `"boom"`.
    /// A batch holds at most `fits` bytes of text: the rows past that are
    /// `BatchFull`, as a codec's past 2 GiB of column are.
    struct TextDecoder {
        fits: usize,
    }

    impl Decoder for TextDecoder {
        fn output_schema(&self) -> SchemaRef {
            Arc::new(Schema::new(vec![Field::new(
                "V",
                arrow_schema::DataType::Utf8,
                true,
            )]))
        }
        fn decode(
            &mut self,
            messages: &MessageBatch<'_>,
        ) -> Result<Decoded, topictable_sdk::PluginError> {
            let (mut bytes, mut errors) = (0, Vec::new());
            let values: Vec<Option<String>> = (0..messages.len())
                .map(|i| {
                    let v = messages
                        .values
                        .get(i)
                        .map(|b| String::from_utf8_lossy(b).to_string());
                    if v.as_deref() == Some("boom") {
                        panic!("a decoder bug met {v:?}");
                    }
                    bytes += v.as_ref().map_or(0, String::len);
                    if bytes > self.fits || !errors.is_empty() {
                        errors.push(topictable_sdk::RowError::batch_full(
                            i,
                            "the column is full",
                        ));
                        return None;
                    }
                    v
                })
                .collect();
            let column: ArrayRef = Arc::new(arrow_array::StringArray::from(values));
            Ok(Decoded {
                batch: RecordBatch::try_new(self.output_schema(), vec![column])?,
                errors,
            })
        }
    }

    /// Produces `values` to partition 0 of topic `t`.
    fn produce(bootstrap: &str, values: &[&str]) {
        use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
        let producer: BaseProducer = ClientConfig::new()
            .set("bootstrap.servers", bootstrap)
            .create()
            .unwrap();
        for v in values {
            producer
                .send(BaseRecord::<(), str>::to("t").partition(0).payload(*v))
                .unwrap();
        }
        producer.flush(Duration::from_secs(10)).unwrap();
    }

    /// A mock cluster holding `values` in partition 0 of topic `t`.
    fn cluster_with(
        values: &[&str],
    ) -> rdkafka::mocking::MockCluster<'static, rdkafka::producer::DefaultProducerContext> {
        let cluster = rdkafka::mocking::MockCluster::new(1).unwrap();
        cluster.create_topic("t", 1, 1).unwrap();
        produce(&cluster.bootstrap_servers(), values);
        cluster
    }

    fn consume_text(engine: &Engine, bootstrap: &str, mode: ConsumerMode) -> ConsumedTable {
        consume_text_fitting(engine, bootstrap, mode, usize::MAX)
    }

    fn consume_text_fitting(
        engine: &Engine,
        bootstrap: &str,
        mode: ConsumerMode,
        fits: usize,
    ) -> ConsumedTable {
        let mut spec = spec(mode, InitialOffsets::all(StartAt::Beginning), &[]);
        spec.properties
            .insert("bootstrap.servers".into(), bootstrap.into());
        spec.table_type = topictable_engine::TableType::Append;
        if mode == ConsumerMode::Group {
            spec.properties.insert("group.id".into(), "g".into());
        }
        let plan = SourcePlan::new("t", &spec, None, Some(Box::new(TextDecoder { fits }))).unwrap();
        consume_planned(engine, "t", plan, spec).unwrap()
    }

    fn wait_for_failure(table: &ConsumedTable) -> String {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            match table.status() {
                IngestStatus::Failed(m) => return m,
                s if Instant::now() > deadline => panic!("still {s:?}"),
                _ => std::thread::sleep(Duration::from_millis(20)),
            }
        }
    }

    #[test]
    fn a_panic_in_the_ingest_thread_fails_the_table_and_keeps_its_rows() {
        let cluster = cluster_with(&["a", "b"]);
        let engine = Engine::new();
        let _cycles = engine.start_with_period(Duration::from_millis(10));
        let mut table = consume_text(&engine, &cluster.bootstrap_servers(), ConsumerMode::Assign);
        let deadline = Instant::now() + Duration::from_secs(30);
        while table.table().num_rows().unwrap() < 2 {
            assert!(Instant::now() < deadline, "the first rows never arrived");
            std::thread::sleep(Duration::from_millis(20));
        }
        // The next record trips a bug: the table says so instead of looking alive.
        produce(&cluster.bootstrap_servers(), &["boom"]);
        let message = wait_for_failure(&table);
        assert!(
            message.starts_with("the ingest thread panicked: a decoder bug met"),
            "{message}"
        );
        assert_eq!(table.table().num_rows().unwrap(), 2, "rows already in stay");
        table.stop();
    }

    /// A batch whose columns fill up (a codec's 2 GiB) is pushed up to that
    /// row, and the rest is decoded again as batches of their own: every row
    /// arrives, in order, with no error. A row too big even as the first of
    /// a batch is bad. Before, the rows past the point were row errors.
    #[test]
    fn a_batch_whose_columns_fill_up_is_split() {
        use arrow_array::cast::AsArray;
        let values: Vec<String> = (0..10).map(|i| format!("v{i:02}")).collect();
        let refs: Vec<&str> = values.iter().map(String::as_str).collect();
        let cluster = cluster_with(&refs);
        let engine = Engine::new();
        let _cycles = engine.start_with_period(Duration::from_millis(10));
        // Three 3-byte values fit in a batch.
        let mut table = consume_text_fitting(
            &engine,
            &cluster.bootstrap_servers(),
            ConsumerMode::Assign,
            10,
        );
        let deadline = Instant::now() + Duration::from_secs(30);
        while table.table().num_rows().unwrap() < 10 {
            assert!(
                Instant::now() < deadline,
                "{:?}: {} rows",
                table.status(),
                table.table().num_rows().unwrap()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        let rows = table.table().snapshot().unwrap();
        let got: Vec<&str> = rows
            .column_by_name("V")
            .unwrap()
            .as_string::<i32>()
            .iter()
            .flatten()
            .collect();
        assert_eq!(got, refs);
        assert_eq!(table.error_counts().decode_errors, 0);
        assert_eq!(table.status(), IngestStatus::Running);
        // Too big for any batch: a bad record, here under on_error = fail.
        produce(&cluster.bootstrap_servers(), &["far-too-long"]);
        let message = wait_for_failure(&table);
        assert!(
            message.contains("offset 10") && message.contains("the column is full"),
            "{message}"
        );
        assert_eq!(table.table().num_rows().unwrap(), 10);
        table.stop();
    }

    #[test]
    fn authorization_errors_fail_the_table_in_both_modes() {
        use rdkafka::types::RDKafkaApiKey;
        // Assign mode: the fetch is refused.
        let cluster = cluster_with(&["a"]);
        cluster.request_errors(
            RDKafkaApiKey::Fetch,
            &[RDKafkaRespErr::RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED; 50],
        );
        let engine = Engine::new();
        let _cycles = engine.start_with_period(Duration::from_millis(10));
        let table = consume_text(&engine, &cluster.bootstrap_servers(), ConsumerMode::Assign);
        let message = wait_for_failure(&table);
        assert!(
            message.starts_with("kafka: t/0@") && message.contains("not authorized"),
            "{message}"
        );
        // Group mode: the subscribed topic's metadata says so.
        let cluster = cluster_with(&["a"]);
        cluster
            .topic_error(
                "t",
                RDKafkaRespErr::RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED,
            )
            .unwrap();
        let table = consume_text(&engine, &cluster.bootstrap_servers(), ConsumerMode::Group);
        let message = wait_for_failure(&table);
        assert!(
            message.starts_with("kafka: ") && message.contains("not authorized"),
            "{message}"
        );
    }

    #[test]
    fn messages_of_revoked_partitions_are_dropped_and_the_rest_kept_whole() {
        let mut b = MessageBatchBuilder::default();
        b.push(
            "t",
            0,
            10,
            Some(5),
            Some(b"k0"),
            Some(b"v0"),
            &[("h", Some(b"x"))],
        );
        b.push("t", 1, 20, None, None, Some(b"v1"), &[]);
        b.push(
            "u",
            1,
            30,
            Some(7),
            Some(b"k2"),
            None,
            &[("a", None), ("b", Some(b"y"))],
        );
        b.push("t", 1, 21, Some(8), None, Some(b"v3"), &[]);
        drop_revoked(&mut b, &BTreeSet::from([("t".to_string(), 1)]));
        let batch = b.finish();
        let v = batch.view();
        assert_eq!(v.len(), 2);
        assert_eq!(
            (v.topic(0), v.partitions[0], v.offsets[0], v.timestamps[0]),
            ("t", 0, 10, 5)
        );
        assert_eq!(
            (v.keys.get(0), v.values.get(0)),
            (Some(&b"k0"[..]), Some(&b"v0"[..]))
        );
        assert_eq!(
            v.headers(0).collect::<Vec<_>>(),
            vec![(&b"h"[..], Some(&b"x"[..]))]
        );
        assert_eq!(
            (v.topic(1), v.partitions[1], v.offsets[1], v.timestamps[1]),
            ("u", 1, 30, 7)
        );
        assert_eq!(v.values.get(1), None);
        assert_eq!(
            v.headers(1).collect::<Vec<_>>(),
            vec![(&b"a"[..], None), (&b"b"[..], Some(&b"y"[..]))]
        );
    }
}
