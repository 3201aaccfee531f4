//! The Kafka publisher: a table's updates as Kafka records (the seed's
//! `produceFromTable`).
//!
//! From a blink table only added rows are published. From any other table,
//! added and modified rows are published as records and removed rows as
//! tombstones (the key with a null value). A modify that changes the key is
//! an error, not a silent re-key. Every cycle ends with a flush; a failed
//! delivery fails the cycle, and the sink's `on_failure` decides what next.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use arrow_array::cast::AsArray;
use arrow_array::types::{Int32Type, Int64Type, TimestampMillisecondType};
use arrow_array::{Array, BinaryArray, RecordBatch};
use arrow_schema::{DataType, SchemaRef, TimeUnit};
use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::{BaseProducer, BaseRecord, DeliveryResult, Producer, ProducerContext};
use rdkafka::{ClientConfig, ClientContext};
use topictable_engine::Update;
use topictable_sdk::{Encoder, Side};

use super::sink_runner::TableSink;
use crate::ingest::ValueSpec;
use crate::plugin_loader::PluginRegistry;

/// Where records go: one topic, or a column naming the topic per row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TopicChoice {
    /// Every record to this topic.
    Fixed(String),
    /// The topic named in this (string) column.
    Column(String),
}

/// Everything the publisher needs.
#[derive(Debug, Clone, PartialEq)]
pub struct PublishSpec {
    /// librdkafka producer properties (`bootstrap.servers`, …).
    pub properties: BTreeMap<String, String>,
    /// The topic.
    pub topic: TopicChoice,
    /// A fixed partition, if any.
    pub partition: Option<i32>,
    /// A column (int32) choosing the partition per row, if any.
    pub partition_column: Option<String>,
    /// A column (timestamp or int64 epoch ms) giving the record timestamp, if any.
    pub timestamp_column: Option<String>,
    /// Columns sent as headers: header name → column.
    pub header_columns: Vec<(String, String)>,
    /// The key's encoder spec.
    pub key: ValueSpec,
    /// The value's encoder spec.
    pub value: ValueSpec,
}

#[derive(Default)]
struct DeliveryErrors(Mutex<Vec<String>>);

struct PublisherContext(Arc<DeliveryErrors>);

impl ClientContext for PublisherContext {}

impl ProducerContext for PublisherContext {
    type DeliveryOpaque = ();
    fn delivery(&self, result: &DeliveryResult<'_>, _: Self::DeliveryOpaque) {
        if let Err((e, m)) = result {
            use rdkafka::Message;
            let mut errors = self.0.0.lock().unwrap_or_else(PoisonError::into_inner);
            if errors.len() < 10 {
                errors.push(format!(
                    "delivery to {}/{} failed: {e}",
                    m.topic(),
                    m.partition()
                ));
            }
        }
    }
}

/// Publishes a table's updates to Kafka.
pub struct KafkaPublisher {
    producer: BaseProducer<PublisherContext>,
    errors: Arc<DeliveryErrors>,
    topic: TopicChoice,
    topic_column: Option<usize>,
    partition: Option<i32>,
    partition_column: Option<usize>,
    timestamp_column: Option<usize>,
    header_columns: Vec<(String, usize)>,
    key: Option<Box<dyn Encoder>>,
    value: Option<Box<dyn Encoder>>,
    blink: bool,
}

fn column(
    schema: &SchemaRef,
    name: &str,
    what: &str,
    ok: impl Fn(&DataType) -> bool,
) -> Result<usize, String> {
    let (i, f) = schema.column_with_name(name).ok_or_else(|| {
        format!(
            "{what} column `{name}` not found; the table has {}",
            names(schema)
        )
    })?;
    if ok(f.data_type()) {
        Ok(i)
    } else {
        Err(format!("{what} column `{name}` has type {}", f.data_type()))
    }
}

fn names(schema: &SchemaRef) -> String {
    schema
        .fields()
        .iter()
        .map(|f| f.name().as_str())
        .collect::<Vec<_>>()
        .join(", ")
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
    spec: &ValueSpec,
    schema: &SchemaRef,
    topic: &TopicChoice,
) -> Result<Option<Box<dyn Encoder>>, String> {
    match spec {
        ValueSpec::Ignore => Ok(None),
        ValueSpec::Codec { format, config } => plugins
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
        if spec.key == ValueSpec::Ignore && spec.value == ValueSpec::Ignore {
            return Err("the key and the value are both ignored; publish at least one".into());
        }
        let key = encoder(plugins, Side::Key, &spec.key, schema, &spec.topic)?;
        let value = encoder(plugins, Side::Value, &spec.value, schema, &spec.topic)?;
        let topic_column = match &spec.topic {
            TopicChoice::Column(c) => Some(column(schema, c, "topic", |t| t == &DataType::Utf8)?),
            TopicChoice::Fixed(_) => None,
        };
        let partition_column = spec
            .partition_column
            .as_deref()
            .map(|c| column(schema, c, "partition", |t| t == &DataType::Int32))
            .transpose()?;
        let timestamp_column = spec
            .timestamp_column
            .as_deref()
            .map(|c| {
                column(schema, c, "timestamp", |t| {
                    matches!(
                        t,
                        DataType::Int64 | DataType::Timestamp(TimeUnit::Millisecond, _)
                    )
                })
            })
            .transpose()?;
        let header_columns = spec
            .header_columns
            .iter()
            .map(|(h, c)| {
                Ok((
                    h.clone(),
                    column(schema, c, "header", |t| {
                        matches!(t, DataType::Utf8 | DataType::Binary)
                    })?,
                ))
            })
            .collect::<Result<_, String>>()?;
        let errors = Arc::new(DeliveryErrors::default());
        let mut config = ClientConfig::new();
        config.set("linger.ms", "5");
        for (k, v) in &spec.properties {
            config.set(k, v);
        }
        let producer = config
            .create_with_context(PublisherContext(errors.clone()))
            .map_err(|e| format!("kafka: {e}"))?;
        Ok(Self {
            producer,
            errors,
            topic: spec.topic.clone(),
            topic_column,
            partition: spec.partition,
            partition_column,
            timestamp_column,
            header_columns,
            key,
            value,
            blink,
        })
    }

    fn encode(
        encoder: &mut Option<Box<dyn Encoder>>,
        rows: &RecordBatch,
        side: Side,
    ) -> Result<Option<BinaryArray>, String> {
        let Some(e) = encoder else { return Ok(None) };
        let out = e.encode(rows).map_err(|e| format!("{side} encoder: {e}"))?;
        if let Some(first) = out.errors.first() {
            return Err(format!(
                "{side} encoder, row {}: {} ({} rows failed)",
                first.row,
                first.message,
                out.errors.len()
            ));
        }
        Ok(Some(out.bytes))
    }

    /// Queues one record per row; `tombstones` sends null values. Large
    /// updates go in slices, so librdkafka delivers one slice while the next
    /// is being encoded.
    fn send(&mut self, rows: &RecordBatch, tombstones: bool) -> Result<(), String> {
        const SLICE: usize = 16_384;
        let mut start = 0;
        while start < rows.num_rows() {
            let len = SLICE.min(rows.num_rows() - start);
            self.send_slice(&rows.slice(start, len), tombstones)?;
            start += len;
        }
        Ok(())
    }

    fn send_slice(&mut self, rows: &RecordBatch, tombstones: bool) -> Result<(), String> {
        let keys = Self::encode(&mut self.key, rows, Side::Key)?;
        let values = if tombstones {
            None
        } else {
            Self::encode(&mut self.value, rows, Side::Value)?
        };
        for row in 0..rows.num_rows() {
            let topic = match (&self.topic, self.topic_column) {
                (_, Some(c)) => rows.column(c).as_string::<i32>().value(row).to_string(),
                (TopicChoice::Fixed(t), None) => t.clone(),
                (TopicChoice::Column(_), None) => unreachable!("a column choice has an index"),
            };
            let mut headers = OwnedHeaders::new();
            for (name, c) in &self.header_columns {
                let array = rows.column(*c);
                if array.is_null(row) {
                    continue;
                }
                let bytes: &[u8] = match array.data_type() {
                    DataType::Utf8 => array.as_string::<i32>().value(row).as_bytes(),
                    _ => array.as_binary::<i32>().value(row),
                };
                headers = headers.insert(Header {
                    key: name,
                    value: Some(bytes),
                });
            }
            let mut record: BaseRecord<'_, [u8], [u8]> = BaseRecord::to(&topic).headers(headers);
            if let Some(k) = keys.as_ref().filter(|k| k.is_valid(row)) {
                record = record.key(k.value(row));
            }
            if let Some(v) = values.as_ref().filter(|v| v.is_valid(row)) {
                record = record.payload(v.value(row));
            }
            if let Some(c) = self.partition_column {
                record = record.partition(rows.column(c).as_primitive::<Int32Type>().value(row));
            } else if let Some(p) = self.partition {
                record = record.partition(p);
            }
            if let Some(c) = self.timestamp_column {
                let array = rows.column(c);
                if array.is_valid(row) {
                    let ms = match array.data_type() {
                        DataType::Int64 => array.as_primitive::<Int64Type>().value(row),
                        _ => array.as_primitive::<TimestampMillisecondType>().value(row),
                    };
                    record = record.timestamp(ms);
                }
            }
            let mut record = Some(record);
            // A full local queue: serve delivery reports until there is room.
            while let Some(r) = record.take() {
                match self.producer.send(r) {
                    Ok(()) => {}
                    Err((e, r))
                        if e.rdkafka_error_code()
                            == Some(rdkafka::types::RDKafkaErrorCode::QueueFull) =>
                    {
                        self.producer.poll(Duration::from_millis(10));
                        record = Some(r);
                    }
                    Err((e, _)) => return Err(format!("kafka: {e}")),
                }
            }
        }
        Ok(())
    }
}

impl TableSink for KafkaPublisher {
    fn write(&mut self, u: &Update) -> Result<(), String> {
        self.send(&u.added, false)?;
        if self.blink {
            return Ok(());
        }
        if u.modified.num_rows() > 0 && self.key.is_some() {
            let new = Self::encode(&mut self.key, &u.modified, Side::Key)?.expect("a key encoder");
            let old =
                Self::encode(&mut self.key, &u.modified_prev, Side::Key)?.expect("a key encoder");
            if let Some(row) = (0..new.len()).find(|&r| {
                new.is_valid(r) != old.is_valid(r)
                    || (new.is_valid(r) && new.value(r) != old.value(r))
            }) {
                return Err(format!(
                    "a modified row (row {row} of cycle {}) changed its key columns; publish a last_by table keyed on them, or a blink table",
                    u.cycle
                ));
            }
        }
        self.send(&u.modified, false)?;
        if self.key.is_some() {
            self.send(&u.removed, true)?;
        }
        Ok(())
    }

    fn flush(&mut self) -> Result<(), String> {
        let flushed = self
            .producer
            .flush(Duration::from_secs(30))
            .map_err(|e| format!("kafka flush: {e}"));
        let errors =
            std::mem::take(&mut *self.errors.0.lock().unwrap_or_else(PoisonError::into_inner));
        if let Some(first) = errors.first() {
            return Err(format!("{first} ({} delivery errors)", errors.len()));
        }
        flushed
    }

    fn close(&mut self) -> Result<(), String> {
        self.flush()
    }
}
