//! The `simple` codec called directly (no plugin loading).

use arrow_select::concat::concat_batches;
use proptest::prelude::*;
use serde_json::json;
use topictable_codec_simple::SimpleCodec;
use topictable_sdk::arrow_array::{RecordBatch, cast::AsArray, types::Int64Type};
use topictable_sdk::{Codec, Decoder, MessageBatchBuilder, Side};

fn decoder(config: serde_json::Value, side: Side) -> Box<dyn Decoder> {
    let config = SimpleCodec.description().config.validate(&config).unwrap();
    SimpleCodec.new_decoder(&config, side).unwrap()
}

/// Decodes `values` in chunks of `chunk` messages and concatenates the output.
fn decode_in_chunks(
    config: &serde_json::Value,
    values: &[Option<Vec<u8>>],
    chunk: usize,
) -> (RecordBatch, Vec<usize>) {
    let mut d = decoder(config.clone(), Side::Value);
    let mut batches = Vec::new();
    let mut errors = Vec::new();
    for (n, part) in values.chunks(chunk).enumerate() {
        let mut b = MessageBatchBuilder::default();
        for (i, v) in part.iter().enumerate() {
            b.push(
                "t",
                0,
                (n * chunk + i) as i64,
                None,
                None,
                v.as_deref(),
                &[],
            );
        }
        let out = d.decode(&b.finish().view()).unwrap();
        errors.extend(out.errors.iter().map(|e| n * chunk + e.row));
        batches.push(out.batch);
    }
    (
        concat_batches(&d.output_schema(), &batches).unwrap(),
        errors,
    )
}

#[test]
fn chunk_boundaries_do_not_change_the_output() {
    let values: Vec<Option<Vec<u8>>> = (0..250)
        .map(|i| match i % 7 {
            0 => None,
            3 => Some(b"bad".to_vec()),
            _ => Some(format!("{}", i * 3).into_bytes()),
        })
        .collect();
    let config = json!({"type": "int64", "encoding": "text"});
    let (whole, whole_errors) = decode_in_chunks(&config, &values, values.len());
    for chunk in [1, 3, 100] {
        let (chunked, errors) = decode_in_chunks(&config, &values, chunk);
        assert_eq!(chunked, whole, "chunk size {chunk}");
        assert_eq!(errors, whole_errors, "chunk size {chunk}");
    }
    assert_eq!(
        whole_errors.len(),
        values
            .iter()
            .filter(|v| v.as_deref() == Some(b"bad"))
            .count()
    );
}

#[test]
fn key_side_reads_keys_and_defaults_to_kafka_key() {
    let mut d = decoder(json!({"type": "string"}), Side::Key);
    let mut b = MessageBatchBuilder::default();
    b.push("t", 0, 0, None, Some(b"AAPL"), Some(b"ignored"), &[]);
    let out = d.decode(&b.finish().view()).unwrap();
    assert_eq!(out.batch.schema().field(0).name(), "KafkaKey");
    assert_eq!(out.batch.column(0).as_string::<i32>().value(0), "AAPL");
}

proptest! {
    #[test]
    fn int64_binary_and_text_round_trip(values in proptest::collection::vec(proptest::option::of(any::<i64>()), 0..64)) {
        for encoding in ["binary", "text"] {
            let config = json!({"type": "int64", "encoding": encoding});
            let bytes: Vec<Option<Vec<u8>>> = values.iter().map(|v| v.map(|v| match encoding {
                "binary" => v.to_be_bytes().to_vec(),
                _ => v.to_string().into_bytes(),
            })).collect();
            let (batch, errors) = decode_in_chunks(&config, &bytes, 7);
            prop_assert!(errors.is_empty());
            let decoded: Vec<Option<i64>> = batch.column(0).as_primitive::<Int64Type>().iter().collect();
            prop_assert_eq!(&decoded, &values);
            let validated = SimpleCodec.description().config.validate(&config).unwrap();
            let mut enc = SimpleCodec.new_encoder(&validated, Side::Value, batch.schema()).unwrap();
            let encoded = enc.encode(&batch).unwrap();
            let again: Vec<Option<Vec<u8>>> = encoded.bytes.iter().map(|b| b.map(<[u8]>::to_vec)).collect();
            prop_assert_eq!(again, bytes);
        }
    }

    #[test]
    fn arbitrary_bytes_never_panic(values in proptest::collection::vec(proptest::option::of(proptest::collection::vec(any::<u8>(), 0..12)), 0..32),
                                   kind in proptest::sample::select(vec!["string", "bool", "int8", "int16", "int32", "int64", "float32", "float64", "bytes", "uuid", "timestamp"]),
                                   encoding in proptest::sample::select(vec!["binary", "text"])) {
        let (batch, errors) = decode_in_chunks(&json!({"type": kind, "encoding": encoding}), &values, 5);
        prop_assert_eq!(batch.num_rows(), values.len());
        let nulls = values.iter().filter(|v| v.is_none()).count();
        prop_assert_eq!(batch.column(0).null_count(), nulls + errors.len());
    }
}

/// A timestamp outside the dates chrono can write (the seed's text
/// encoding) is a row error naming the row, and the rows around it are
/// encoded; before, the encoder panicked and the whole batch failed.
#[test]
fn a_timestamp_text_cannot_write_is_a_row_error() {
    use std::sync::Arc;
    use topictable_sdk::arrow_array::TimestampMillisecondArray;
    use topictable_sdk::arrow_schema::{DataType, Field, Schema, TimeUnit};
    let values = TimestampMillisecondArray::from(vec![Some(0), Some(i64::MAX), None, Some(1_000)]);
    let schema = Arc::new(Schema::new(vec![Field::new(
        "KafkaValue",
        DataType::Timestamp(TimeUnit::Millisecond, None),
        true,
    )]));
    let batch = RecordBatch::try_new(schema.clone(), vec![Arc::new(values)]).unwrap();
    let config = json!({"type": "timestamp", "encoding": "text"});
    let validated = SimpleCodec.description().config.validate(&config).unwrap();
    let mut enc = SimpleCodec
        .new_encoder(&validated, Side::Value, schema)
        .unwrap();
    let encoded = enc.encode(&batch).unwrap();
    assert_eq!(encoded.errors.len(), 1, "{:?}", encoded.errors);
    assert_eq!(encoded.errors[0].row, 1);
    assert!(
        encoded.errors[0].message.contains("outside the dates"),
        "{:?}",
        encoded.errors
    );
    let bytes: Vec<Option<&[u8]>> = encoded.bytes.iter().collect();
    assert_eq!(
        bytes,
        [
            Some(&b"1970-01-01T00:00:00.000Z"[..]),
            None,
            None,
            Some(&b"1970-01-01T00:00:01.000Z"[..])
        ]
    );
}
