//! The Kafka publisher: a table's updates as Kafka records (the seed's
//! `produceFromTable`).
//!
//! From a blink table only added rows are published. From any other table,
//! added and modified rows are published as records and removed rows as
//! tombstones (the key with a null value). A modify that changes the key is
//! an error, not a silent re-key. Every cycle ends with a flush; a failed
//! delivery fails the cycle, and the sink's `on_failure` decides what next.
//!
//! Large updates go out in slices whose keys and values are encoded on a
//! helper thread ahead of the producer ([`super::slice_encoding`]). Records to
//! one fixed topic without timestamps or headers are queued a partition of a
//! slice at a time ([`super::batch_produce`]); any other record borrows its key and payload
//! from the encoded slice and its topic and headers from the row
//! ([`super::record_fields`]). librdkafka copies them in both cases.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use arrow_array::{Array, RecordBatch};
use arrow_schema::SchemaRef;
use rdkafka::error::KafkaError;
use rdkafka::producer::{BaseProducer, DeliveryResult, Producer, ProducerContext};
use rdkafka::types::RDKafkaErrorCode;
use rdkafka::{ClientConfig, ClientContext};
use topictable_engine::Update;
use topictable_sdk::{Encoder, Side};

use super::batch_produce::{BatchProducer, QUEUE_FULL_WAIT};
use super::publish_error::{PublishError, RefusedRecord};
use super::publish_spec::{PublishSpec, TopicChoice};
use super::record_fields::RecordColumns;
use super::sink_runner::{SinkError, TableSink};
use super::slice_encoding::{EncodedSlice, RowEncoders};
use crate::ingest::KeyOrValueSpec;
use crate::kafka_fatal::FatalErrorSlot;
use crate::plugin_loader::PluginRegistry;

/// The producer properties the publisher sets before the spec's own, which
/// override them: a short linger so librdkafka fills batches while the
/// publisher is still queueing the cycle's records. (Delivery reports for
/// failures only, `delivery.report.only.error`, would seem cheaper, but made
/// both the publisher and a bare producer slower in the publish benchmark.)
pub const DEFAULT_PRODUCER_PROPERTIES: &[(&str, &str)] = &[("linger.ms", "5")];

/// How long a cycle's flush waits for its records' delivery.
const FLUSH_TIMEOUT: Duration = Duration::from_secs(30);

#[derive(Default)]
struct DeliveryErrors(Mutex<Vec<String>>);

struct PublisherContext(Arc<DeliveryErrors>, Arc<FatalErrorSlot>);

impl ClientContext for PublisherContext {
    fn error(&self, error: KafkaError, reason: &str) {
        self.1.report(&error, reason);
    }
}

impl ProducerContext for PublisherContext {
    type DeliveryOpaque = ();
    fn delivery(&self, result: &DeliveryResult<'_>, _: Self::DeliveryOpaque) {
        if let Err((e, m)) = result {
            use rdkafka::Message;
            let mut errors = self.0.0.lock().unwrap_or_else(PoisonError::into_inner);
            if errors.len() < 10 {
                errors.push(format!(
                    "delivery to topic {} partition {} failed: {e}",
                    m.topic(),
                    m.partition()
                ));
            }
        }
    }
}

/// Publishes a table's updates to Kafka.
pub struct KafkaPublisher {
    /// Queues records in batches when they allow it; declared before
    /// `producer` so that it is dropped first, as librdkafka requires.
    batch: Option<BatchProducer>,
    producer: BaseProducer<PublisherContext>,
    errors: Arc<DeliveryErrors>,
    /// A refused login or the like, which no delivery report would tell.
    fatal: Arc<FatalErrorSlot>,
    columns: RecordColumns,
    encoders: RowEncoders,
    blink: bool,
}

/// `config` for an encoder publishing to `topic`: a fixed topic fills in the
/// codec's `topic` key when unset (see [`PluginRegistry::with_topic_default`]).
pub fn encoder_config(
    plugins: &PluginRegistry,
    format: &str,
    config: &serde_json::Value,
    topic: &TopicChoice,
) -> serde_json::Value {
    match topic {
        TopicChoice::Fixed(topic) => plugins.with_topic_default(format, config, topic),
        TopicChoice::Column(_) => config.clone(),
    }
}

/// The encoder of one side; a fixed topic fills in the codec's `topic` key
/// (for registry subjects), as for a table reading one topic.
fn encoder(
    plugins: &PluginRegistry,
    side: Side,
    spec: &KeyOrValueSpec,
    schema: &SchemaRef,
    topic: &TopicChoice,
) -> Result<Option<Box<dyn Encoder>>, String> {
    match spec {
        KeyOrValueSpec::Ignore => Ok(None),
        KeyOrValueSpec::Codec { format, config } => plugins
            .new_encoder(
                format,
                &encoder_config(plugins, format, config, topic),
                side,
                schema.clone(),
            )
            .map(Some)
            .map_err(|e| format!("{side} spec: {e}")),
    }
}

impl KafkaPublisher {
    /// A publisher for rows of `schema` (`blink`: only added rows are published).
    pub fn new(
        spec: &PublishSpec,
        plugins: &PluginRegistry,
        schema: &SchemaRef,
        blink: bool,
    ) -> Result<Self, String> {
        if spec.key == KeyOrValueSpec::Ignore && spec.value == KeyOrValueSpec::Ignore {
            return Err("the key and the value are both ignored; publish at least one".into());
        }
        let key = encoder(plugins, Side::Key, &spec.key, schema, &spec.topic)?;
        let value = encoder(plugins, Side::Value, &spec.value, schema, &spec.topic)?;
        let columns = RecordColumns::new(spec, schema)?;
        let errors = Arc::new(DeliveryErrors::default());
        let mut properties: BTreeMap<String, String> = DEFAULT_PRODUCER_PROPERTIES
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        properties.extend(spec.properties.clone());
        let mut config = ClientConfig::new();
        for (k, v) in &properties {
            config.set(k, v);
        }
        let fatal = Arc::new(FatalErrorSlot::default());
        let producer = config
            .create_with_context(PublisherContext(errors.clone(), fatal.clone()))
            .map_err(|e| format!("kafka: {e}"))?;
        let batch = columns
            .batch_topic()
            .map(|topic| BatchProducer::new(&producer, topic, &properties))
            .transpose()
            .map_err(|e| e.to_string())?;
        Ok(Self {
            batch,
            producer,
            errors,
            fatal,
            columns,
            encoders: RowEncoders::new(key, value),
            blink,
        })
    }

    /// Queues one record per row; `tombstones` sends null values.
    fn send(&mut self, rows: &RecordBatch, tombstones: bool) -> Result<(), PublishError> {
        let Self {
            batch,
            producer,
            columns,
            encoders,
            ..
        } = self;
        encoders.for_each_encoded_slice(rows, tombstones, |slice| match batch {
            Some(batch) => batch.produce(
                producer,
                slice.rows.num_rows(),
                slice.first_row,
                slice.keys.as_ref(),
                slice.values.as_ref(),
                columns.of(&slice.rows).batch_partitions(),
            ),
            None => produce_slice(producer, columns, slice),
        })
    }

    /// Fails when a modified row's key differs from its previous key.
    fn check_keys_unchanged(&mut self, u: &Update) -> Result<(), PublishError> {
        if u.modified.num_rows() == 0 || !self.encoders.has_key() {
            return Ok(());
        }
        let new = self.encoders.encode_side(Side::Key, &u.modified, 0)?;
        let old = self.encoders.encode_side(Side::Key, &u.modified_prev, 0)?;
        let (Some(new), Some(old)) = (new, old) else {
            unreachable!("a key encoder gives keys")
        };
        match (0..new.len()).find(|&r| {
            new.is_valid(r) != old.is_valid(r) || (new.is_valid(r) && new.value(r) != old.value(r))
        }) {
            Some(row) => Err(PublishError::KeyChanged {
                row,
                cycle: u.cycle,
            }),
            None => Ok(()),
        }
    }

    fn write_update(&mut self, u: &Update) -> Result<(), PublishError> {
        self.send(&u.added, false)?;
        if self.blink {
            return Ok(());
        }
        self.check_keys_unchanged(u)?;
        self.send(&u.modified, false)?;
        if self.encoders.has_key() {
            self.send(&u.removed, true)?;
        }
        Ok(())
    }

    /// Waits (up to 30 s) until every queued record is delivered, and fails
    /// at once when librdkafka reports an error no retry cures (a refused
    /// login) rather than after the whole wait.
    fn flush_all(&mut self) -> Result<(), PublishError> {
        let deadline = std::time::Instant::now() + FLUSH_TIMEOUT;
        let flushed = loop {
            let flushed = self.producer.flush(Duration::from_millis(250));
            if let Some(message) = self.fatal.take() {
                return Err(PublishError::Refused(message));
            }
            if flushed.is_ok() || std::time::Instant::now() >= deadline {
                break flushed.map_err(PublishError::Flush);
            }
        };
        let errors =
            std::mem::take(&mut *self.errors.0.lock().unwrap_or_else(PoisonError::into_inner));
        if let Some(first) = errors.first() {
            return Err(PublishError::Delivery {
                first: first.clone(),
                count: errors.len(),
            });
        }
        flushed
    }
}

/// Queues one record per row of `slice`, one call each (for records with a
/// topic column, timestamps or headers). While librdkafka's local queue is
/// full, serves delivery reports until there is room.
fn produce_slice(
    producer: &BaseProducer<PublisherContext>,
    columns: &RecordColumns,
    slice: &EncodedSlice,
) -> Result<(), PublishError> {
    let fields = columns.of(&slice.rows);
    let keys = slice.keys.as_ref();
    let values = slice.values.as_ref();
    for row in 0..slice.rows.num_rows() {
        let mut record = fields.record(row);
        if let Some(k) = keys.filter(|k| k.is_valid(row)) {
            record = record.key(k.value(row));
        }
        if let Some(v) = values.filter(|v| v.is_valid(row)) {
            record = record.payload(v.value(row));
        }
        let mut record = Some(record);
        while let Some(r) = record.take() {
            match producer.send(r) {
                Ok(()) => {}
                Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), r)) => {
                    producer.poll(QUEUE_FULL_WAIT);
                    record = Some(r);
                }
                Err((error, r)) => {
                    return Err(PublishError::Produce(Box::new(RefusedRecord {
                        topic: r.topic.to_string(),
                        partition: r.partition,
                        row: Some(slice.first_row + row),
                        error,
                    })));
                }
            }
        }
    }
    Ok(())
}

impl TableSink for KafkaPublisher {
    fn write(&mut self, u: &Update) -> Result<(), SinkError> {
        self.write_update(u).map_err(SinkError::from)
    }

    fn flush(&mut self) -> Result<(), SinkError> {
        self.flush_all().map_err(SinkError::from)
    }

    fn close(&mut self) -> Result<(), SinkError> {
        self.flush()
    }
}
