//! The standard columns (`KafkaPartition`, `KafkaOffset`, `KafkaTimestamp`, …)
//! built from a message batch.

use std::sync::Arc;

use arrow_array::builder::{BinaryBuilder, Int64Builder, MapBuilder, StringBuilder};
use arrow_array::{ArrayRef, Int32Array, Int64Array, StringArray, TimestampMillisecondArray};
use arrow_schema::{DataType, Field, TimeUnit};
use topictable_sdk::MessageBatch;

use super::spec::{HeaderColumns, HeaderType, StandardColumns};

fn timestamp_type() -> DataType {
    DataType::Timestamp(TimeUnit::Millisecond, Some("UTC".into()))
}

fn header_map_type() -> DataType {
    let entries = Field::new(
        "entries",
        DataType::Struct(
            vec![
                Field::new("key", DataType::Utf8, false),
                Field::new("value", DataType::Binary, true),
            ]
            .into(),
        ),
        false,
    );
    DataType::Map(Arc::new(entries), false)
}

impl StandardColumns {
    /// The fields these columns add, in table order (before key and value columns).
    pub fn fields(&self) -> Vec<Field> {
        let mut fields = Vec::new();
        let mut add = |name: &Option<String>, t: DataType, nullable: bool| {
            if let Some(name) = name {
                fields.push(Field::new(name, t, nullable));
            }
        };
        add(&self.topic, DataType::Utf8, false);
        add(&self.partition, DataType::Int32, false);
        add(&self.offset, DataType::Int64, false);
        add(&self.timestamp, timestamp_type(), true);
        add(&self.receive_time, timestamp_type(), false);
        add(&self.key_bytes, DataType::Int32, true);
        add(&self.value_bytes, DataType::Int32, true);
        match &self.headers {
            HeaderColumns::None => {}
            HeaderColumns::All(name) => fields.push(Field::new(name, header_map_type(), false)),
            HeaderColumns::Chosen(chosen) => {
                for (_, column, kind) in chosen {
                    let t = match kind {
                        HeaderType::String => DataType::Utf8,
                        HeaderType::Bytes => DataType::Binary,
                        HeaderType::Int64 => DataType::Int64,
                    };
                    fields.push(Field::new(column, t, true));
                }
            }
        }
        fields
    }

    /// The columns for `batch`, matching [`StandardColumns::fields`].
    pub fn build(&self, batch: &MessageBatch<'_>, received_ms: i64) -> Vec<ArrayRef> {
        let n = batch.len();
        let mut out: Vec<ArrayRef> = Vec::new();
        if self.topic.is_some() {
            out.push(Arc::new(StringArray::from_iter_values(
                (0..n).map(|i| batch.topic(i)),
            )));
        }
        if self.partition.is_some() {
            out.push(Arc::new(Int32Array::from(batch.partitions.to_vec())));
        }
        if self.offset.is_some() {
            out.push(Arc::new(Int64Array::from(batch.offsets.to_vec())));
        }
        if self.timestamp.is_some() {
            let ts = batch.timestamps.iter().map(|&t| (t >= 0).then_some(t));
            out.push(Arc::new(
                TimestampMillisecondArray::from_iter(ts).with_timezone("UTC"),
            ));
        }
        if self.receive_time.is_some() {
            out.push(Arc::new(
                TimestampMillisecondArray::from(vec![received_ms; n]).with_timezone("UTC"),
            ));
        }
        if self.key_bytes.is_some() {
            out.push(Arc::new(Int32Array::from_iter(
                (0..n).map(|i| batch.keys.get(i).map(|k| k.len() as i32)),
            )));
        }
        if self.value_bytes.is_some() {
            out.push(Arc::new(Int32Array::from_iter(
                (0..n).map(|i| batch.values.get(i).map(|v| v.len() as i32)),
            )));
        }
        match &self.headers {
            HeaderColumns::None => {}
            HeaderColumns::All(_) => {
                // Arrow's canonical entry names (arrow 59's builder default is keys/values).
                let names = arrow_array::builder::MapFieldNames {
                    entry: "entries".into(),
                    key: "key".into(),
                    value: "value".into(),
                };
                let mut map =
                    MapBuilder::new(Some(names), StringBuilder::new(), BinaryBuilder::new());
                for i in 0..n {
                    for (name, value) in batch.headers(i) {
                        map.keys().append_value(String::from_utf8_lossy(name));
                        map.values().append_option(value);
                    }
                    map.append(true).expect("keys and values stay in step");
                }
                out.push(Arc::new(map.finish()));
            }
            HeaderColumns::Chosen(chosen) => {
                for (header, _, kind) in chosen {
                    let value = |i: usize| {
                        batch
                            .headers(i)
                            .filter(|(name, _)| *name == header.as_bytes())
                            .last()
                            .and_then(|(_, v)| v)
                    };
                    let column: ArrayRef = match kind {
                        HeaderType::String => {
                            Arc::new(StringArray::from_iter((0..n).map(|i| {
                                value(i).map(|v| String::from_utf8_lossy(v).into_owned())
                            })))
                        }
                        HeaderType::Bytes => {
                            let mut b = BinaryBuilder::new();
                            (0..n).for_each(|i| b.append_option(value(i)));
                            Arc::new(b.finish())
                        }
                        HeaderType::Int64 => {
                            let mut b = Int64Builder::with_capacity(n);
                            for i in 0..n {
                                let parsed = value(i)
                                    .and_then(|v| std::str::from_utf8(v).ok())
                                    .and_then(|s| s.trim().parse().ok());
                                b.append_option(parsed);
                            }
                            Arc::new(b.finish())
                        }
                    };
                    out.push(column);
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use topictable_sdk::MessageBatchBuilder;

    #[test]
    fn built_columns_match_the_declared_fields() {
        let mut b = MessageBatchBuilder::default();
        b.push(
            "t",
            0,
            5,
            Some(10),
            Some(b"k"),
            Some(b"v"),
            &[("h", Some(b"x")), ("n", Some(b"7"))],
        );
        b.push("t", 1, 6, None, None, None, &[]);
        let batch = b.finish();
        for headers in [
            HeaderColumns::None,
            HeaderColumns::All("H".into()),
            HeaderColumns::Chosen(vec![
                ("h".into(), "H".into(), HeaderType::String),
                ("n".into(), "N".into(), HeaderType::Int64),
            ]),
        ] {
            let spec = StandardColumns {
                topic: Some("T".into()),
                receive_time: Some("R".into()),
                key_bytes: Some("K".into()),
                value_bytes: Some("V".into()),
                headers,
                ..StandardColumns::default()
            };
            let fields = spec.fields();
            let columns = spec.build(&batch.view(), 1);
            assert_eq!(fields.len(), columns.len());
            for (f, c) in fields.iter().zip(&columns) {
                assert_eq!(f.data_type(), c.data_type(), "column {}", f.name());
                assert!(
                    f.is_nullable() || c.null_count() == 0,
                    "column {}",
                    f.name()
                );
            }
            let schema = std::sync::Arc::new(arrow_schema::Schema::new(fields));
            arrow_array::RecordBatch::try_new(schema, columns).expect("a valid batch");
        }
    }
}
