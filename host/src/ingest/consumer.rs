//! A Kafka source table: its set-up from a spec and its plugins, the handle
//! that reports its status, progress and error counts, and the thread that
//! runs its poll loop (`ingest_loop.rs`).

use std::collections::{BTreeMap, BTreeSet};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use arrow_schema::{Field, Schema, SchemaRef};
use rdkafka::consumer::Consumer;
use topictable_engine::{Engine, Table};
use topictable_sdk::{Decoder, Side, panic_message};

use super::client::{create_consumer, refusal};
use super::commits::CommitTracker;
use super::dead_letter::DeadLetterQueue;
use super::fetch_queue::FetchQueue;
use super::ingest_loop::{IngestLoop, PROGRESS_EVERY};
use super::progress::Progress;
use super::rebalance::removes_lost_partitions;
use super::record_error::{ErrorCounts, ErrorCountsSnapshot, RateLimitedLog};
use super::registry_hold::HeldPartitions;
use super::spec::{ConsumeSpec, ConsumerMode, HeaderColumns, KeyOrValueSpec, OnError};
use super::start::{assign_initial, check_start};
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

pub(super) struct Shared {
    pub(super) name: String,
    pub(super) stop: AtomicBool,
    /// Asked to pause; the ingest thread pauses its partitions when it sees it.
    pub(super) pause: AtomicBool,
    pub(super) progress: Mutex<Progress>,
    pub(super) status: Mutex<IngestStatus>,
    pub(super) counts: ErrorCounts,
    pub(super) messages: AtomicU64,
    pub(super) rows: AtomicU64,
    /// Nanoseconds spent in the key and value decoders.
    pub(super) decode_nanos: AtomicU64,
}

pub(super) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
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
    if spec.key == KeyOrValueSpec::Ignore && spec.value == KeyOrValueSpec::Ignore {
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
    let decoder =
        |side: Side, vs: &KeyOrValueSpec| -> Result<Option<Box<dyn Decoder>>, IngestError> {
            match vs {
                KeyOrValueSpec::Ignore => Ok(None),
                KeyOrValueSpec::Codec { format, config } => plugins
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

#[cfg(test)]
mod tests {
    use arrow_array::{ArrayRef, RecordBatch};
    use rdkafka::types::RDKafkaRespErr;
    use rdkafka::{ClientConfig, Offset};
    use topictable_sdk::{Decoded, MessageBatch, MessageBatchBuilder};

    use super::super::rebalance::drop_revoked;
    use super::super::spec::{InitialOffsets, StartAt};
    use super::super::start::reset_offset;
    use super::*;

    fn spec(mode: ConsumerMode, offsets: InitialOffsets, props: &[(&str, &str)]) -> ConsumeSpec {
        let mut s = ConsumeSpec::new(
            "b:9092",
            "t",
            KeyOrValueSpec::Ignore,
            KeyOrValueSpec::Ignore,
        );
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
