//! The parts of a record that come from its row rather than from the
//! encoders: topic, partition, timestamp and headers.
//!
//! The columns are found once, when the publisher is made, and downcast once
//! per slice; a record borrows its topic and header values from the slice, so
//! building one allocates nothing unless the row has headers.

use arrow_array::cast::AsArray;
use arrow_array::types::{Int32Type, Int64Type, TimestampMillisecondType};
use arrow_array::{
    Array, BinaryArray, Int32Array, Int64Array, PrimitiveArray, RecordBatch, StringArray,
};
use arrow_schema::{DataType, SchemaRef, TimeUnit};
use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::BaseRecord;

use super::batch_produce::BatchPartitions;
use super::publish_spec::{PublishSpec, TopicChoice};

/// Where each record field comes from, checked against the table's schema.
#[derive(Debug, Clone)]
pub(super) struct RecordColumns {
    topic: TopicChoice,
    topic_column: Option<usize>,
    partition: Option<i32>,
    partition_column: Option<usize>,
    timestamp_column: Option<usize>,
    header_columns: Vec<(String, usize)>,
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

impl RecordColumns {
    /// Finds `spec`'s topic, partition, timestamp and header columns in `schema`.
    pub fn new(spec: &PublishSpec, schema: &SchemaRef) -> Result<Self, String> {
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
        Ok(Self {
            topic: spec.topic.clone(),
            topic_column,
            partition: spec.partition,
            partition_column,
            timestamp_column,
            header_columns,
        })
    }

    /// The topic of every record, when records can be queued in batches
    /// ([`super::batch_produce`]): one fixed topic, and no timestamp or
    /// header columns, which the batch call cannot carry.
    pub fn batch_topic(&self) -> Option<&str> {
        match &self.topic {
            TopicChoice::Fixed(t)
                if self.timestamp_column.is_none() && self.header_columns.is_empty() =>
            {
                Some(t)
            }
            _ => None,
        }
    }

    /// The columns of `rows` (a batch of the checked schema), downcast.
    pub fn of<'a>(&'a self, rows: &'a RecordBatch) -> RowFields<'a> {
        let topic = match (&self.topic, self.topic_column) {
            (_, Some(c)) => TopicSource::Column(rows.column(c).as_string()),
            (TopicChoice::Fixed(t), None) => TopicSource::Fixed(t),
            (TopicChoice::Column(_), None) => unreachable!("a column choice has an index"),
        };
        let partition = match (self.partition_column, self.partition) {
            (Some(c), _) => PartitionSource::Column(rows.column(c).as_primitive::<Int32Type>()),
            (None, Some(p)) => PartitionSource::Fixed(p),
            (None, None) => PartitionSource::Partitioner,
        };
        let timestamp = self.timestamp_column.map(|c| {
            let array = rows.column(c);
            match array.data_type() {
                DataType::Int64 => TimestampSource::EpochMillis(array.as_primitive::<Int64Type>()),
                _ => TimestampSource::Timestamp(array.as_primitive::<TimestampMillisecondType>()),
            }
        });
        let headers = self
            .header_columns
            .iter()
            .map(|(name, c)| {
                let array = rows.column(*c);
                let values = match array.data_type() {
                    DataType::Utf8 => HeaderSource::Utf8(array.as_string()),
                    _ => HeaderSource::Binary(array.as_binary()),
                };
                (name.as_str(), values)
            })
            .collect();
        RowFields {
            topic,
            partition,
            timestamp,
            headers,
        }
    }
}

enum TopicSource<'a> {
    Fixed(&'a str),
    Column(&'a StringArray),
}

enum PartitionSource<'a> {
    /// librdkafka's partitioner chooses (by key hash).
    Partitioner,
    Fixed(i32),
    Column(&'a Int32Array),
}

enum TimestampSource<'a> {
    EpochMillis(&'a Int64Array),
    Timestamp(&'a PrimitiveArray<TimestampMillisecondType>),
}

enum HeaderSource<'a> {
    Utf8(&'a StringArray),
    Binary(&'a BinaryArray),
}

/// One slice's topic, partition, timestamp and header columns, downcast.
pub(super) struct RowFields<'a> {
    topic: TopicSource<'a>,
    partition: PartitionSource<'a>,
    timestamp: Option<TimestampSource<'a>>,
    headers: Vec<(&'a str, HeaderSource<'a>)>,
}

impl<'a> RowFields<'a> {
    /// The record for `row` without key and payload: its topic, partition,
    /// timestamp (when the column is not null) and headers (those not null;
    /// none at all when every one is null).
    pub fn record(&self, row: usize) -> BaseRecord<'a, [u8], [u8]> {
        let topic = match self.topic {
            TopicSource::Fixed(t) => t,
            TopicSource::Column(a) => a.value(row),
        };
        let mut record = BaseRecord::to(topic);
        match self.partition {
            PartitionSource::Partitioner => {}
            PartitionSource::Fixed(p) => record = record.partition(p),
            PartitionSource::Column(a) => record = record.partition(a.value(row)),
        }
        match self.timestamp {
            Some(TimestampSource::EpochMillis(a)) if a.is_valid(row) => {
                record = record.timestamp(a.value(row));
            }
            Some(TimestampSource::Timestamp(a)) if a.is_valid(row) => {
                record = record.timestamp(a.value(row));
            }
            _ => {}
        }
        if let Some(headers) = self.headers(row) {
            record = record.headers(headers);
        }
        record
    }

    /// Where the records go within the topic, for the batch call.
    pub fn batch_partitions(&self) -> BatchPartitions<'a> {
        match self.partition {
            PartitionSource::Partitioner => BatchPartitions::Partitioner,
            PartitionSource::Fixed(p) => BatchPartitions::Fixed(p),
            PartitionSource::Column(a) => BatchPartitions::Column(a),
        }
    }

    /// The row's non-null header values, or `None` when it has none.
    fn headers(&self, row: usize) -> Option<OwnedHeaders> {
        let mut headers: Option<OwnedHeaders> = None;
        for (name, values) in &self.headers {
            let value: &[u8] = match values {
                HeaderSource::Utf8(a) if a.is_valid(row) => a.value(row).as_bytes(),
                HeaderSource::Binary(a) if a.is_valid(row) => a.value(row),
                _ => continue,
            };
            headers = Some(
                headers
                    .unwrap_or_else(|| OwnedHeaders::new_with_capacity(self.headers.len()))
                    .insert(Header {
                        key: name,
                        value: Some(value),
                    }),
            );
        }
        headers
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::sync::Arc;

    use arrow_array::TimestampMillisecondArray;
    use arrow_schema::{Field, Schema};
    use rdkafka::message::Headers;

    use super::*;
    use crate::ingest::KeyOrValueSpec;

    fn schema() -> SchemaRef {
        Arc::new(Schema::new(vec![
            Field::new("topic", DataType::Utf8, false),
            Field::new("part", DataType::Int32, false),
            Field::new("ms", DataType::Int64, true),
            Field::new(
                "ts",
                DataType::Timestamp(TimeUnit::Millisecond, Some("UTC".into())),
                true,
            ),
            Field::new("trace", DataType::Utf8, true),
            Field::new("raw", DataType::Binary, true),
            Field::new("price", DataType::Float64, false),
        ]))
    }

    fn batch() -> RecordBatch {
        RecordBatch::try_new(
            schema(),
            vec![
                Arc::new(StringArray::from(vec!["a", "b"])),
                Arc::new(Int32Array::from(vec![3, 1])),
                Arc::new(Int64Array::from(vec![Some(1_000), None])),
                Arc::new(
                    TimestampMillisecondArray::from(vec![Some(2_000), None]).with_timezone("UTC"),
                ),
                Arc::new(StringArray::from(vec![Some("t-1"), None])),
                Arc::new(BinaryArray::from(vec![Some(&b"\x00\x01"[..]), None])),
                Arc::new(arrow_array::Float64Array::from(vec![1.0, 2.0])),
            ],
        )
        .unwrap()
    }

    fn spec() -> PublishSpec {
        PublishSpec {
            properties: BTreeMap::new(),
            topic: TopicChoice::Fixed("orders".into()),
            partition: None,
            partition_column: None,
            timestamp_column: None,
            header_columns: Vec::new(),
            key: KeyOrValueSpec::Ignore,
            value: KeyOrValueSpec::Ignore,
        }
    }

    fn header_pairs(record: &BaseRecord<'_, [u8], [u8]>) -> Vec<(String, Vec<u8>)> {
        record
            .headers
            .as_ref()
            .map(|h| {
                h.iter()
                    .map(|h| (h.key.to_string(), h.value.unwrap().to_vec()))
                    .collect()
            })
            .unwrap_or_default()
    }

    #[test]
    fn a_fixed_topic_with_no_columns_gives_bare_records() {
        let columns = RecordColumns::new(&spec(), &schema()).unwrap();
        let rows = batch();
        let fields = columns.of(&rows);
        for row in 0..2 {
            let record = fields.record(row);
            assert_eq!(record.topic, "orders");
            assert_eq!(record.partition, None);
            assert_eq!(record.timestamp, None);
            assert!(record.headers.is_none());
        }
    }

    #[test]
    fn columns_give_topic_partition_timestamp_and_headers_per_row() {
        let spec = PublishSpec {
            topic: TopicChoice::Column("topic".into()),
            partition_column: Some("part".into()),
            timestamp_column: Some("ms".into()),
            header_columns: vec![
                ("trace-id".into(), "trace".into()),
                ("raw".into(), "raw".into()),
            ],
            ..spec()
        };
        let columns = RecordColumns::new(&spec, &schema()).unwrap();
        let rows = batch();
        let fields = columns.of(&rows);
        let first = fields.record(0);
        assert_eq!(
            (first.topic, first.partition, first.timestamp),
            ("a", Some(3), Some(1_000))
        );
        assert_eq!(
            header_pairs(&first),
            vec![
                ("trace-id".to_string(), b"t-1".to_vec()),
                ("raw".to_string(), vec![0, 1]),
            ]
        );
        // Null timestamp: none; every header null: no headers at all.
        let second = fields.record(1);
        assert_eq!(
            (second.topic, second.partition, second.timestamp),
            ("b", Some(1), None)
        );
        assert!(second.headers.is_none());
    }

    #[test]
    fn a_fixed_partition_and_a_timestamp_column() {
        let spec = PublishSpec {
            partition: Some(2),
            timestamp_column: Some("ts".into()),
            ..spec()
        };
        let columns = RecordColumns::new(&spec, &schema()).unwrap();
        let rows = batch();
        let record = columns.of(&rows).record(0);
        assert_eq!((record.partition, record.timestamp), (Some(2), Some(2_000)));
    }

    #[test]
    fn wrong_or_missing_columns_are_refused() {
        let bad = |spec: PublishSpec| RecordColumns::new(&spec, &schema()).unwrap_err();
        assert!(
            bad(PublishSpec {
                partition_column: Some("ms".into()),
                ..spec()
            })
            .contains("partition column `ms` has type Int64")
        );
        assert!(
            bad(PublishSpec {
                topic: TopicChoice::Column("nope".into()),
                ..spec()
            })
            .contains("topic column `nope` not found")
        );
        assert!(
            bad(PublishSpec {
                header_columns: vec![("h".into(), "price".into())],
                ..spec()
            })
            .contains("header column `price` has type Float64")
        );
    }
}
