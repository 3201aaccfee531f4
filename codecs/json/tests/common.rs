//! Helpers shared by the json codec's tests.
#![allow(dead_code)]

use arrow_select::concat::concat_batches;
use serde_json::Value;
use topictable_codec_json::JsonCodec;
use topictable_sdk::arrow_array::RecordBatch;
use topictable_sdk::{Codec, Decoder, MessageBatchBuilder, Side};

/// A decoder from a config as a user would write it.
pub fn decoder(config: Value) -> Box<dyn Decoder> {
    let config = JsonCodec.description().config.validate(&config).unwrap();
    JsonCodec.new_decoder(&config, Side::Value).unwrap()
}

/// The error a config gives when creating a decoder.
pub fn decoder_error(config: Value) -> String {
    let config = JsonCodec.description().config.validate(&config).unwrap();
    match JsonCodec.new_decoder(&config, Side::Value) {
        Ok(_) => panic!("config was accepted"),
        Err(e) => e.to_string(),
    }
}

/// Decodes `values` in chunks of `chunk` messages; returns the concatenated
/// batch and every error as (row in the whole input, message).
pub fn decode_in_chunks(
    config: &Value,
    values: &[Option<Vec<u8>>],
    chunk: usize,
) -> (RecordBatch, Vec<(usize, String)>) {
    let mut d = decoder(config.clone());
    let mut batches = Vec::new();
    let mut errors = Vec::new();
    for (n, part) in values.chunks(chunk.max(1)).enumerate() {
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
        assert_eq!(out.batch.num_rows(), part.len(), "one row per message");
        errors.extend(
            out.errors
                .into_iter()
                .map(|e| (n * chunk + e.row, e.message)),
        );
        batches.push(out.batch);
    }
    (
        concat_batches(&d.output_schema(), &batches).unwrap(),
        errors,
    )
}

/// Decodes `docs` (one message each) at batch sizes 1, 3, 100 and all at
/// once, checks that every run gives the same output, and returns it.
pub fn decode_all(config: &Value, docs: &[&str]) -> (RecordBatch, Vec<(usize, String)>) {
    let values: Vec<Option<Vec<u8>>> = docs.iter().map(|d| Some(d.as_bytes().to_vec())).collect();
    decode_values(config, &values)
}

/// [`decode_all`] for raw (possibly null or non-UTF-8) messages.
pub fn decode_values(
    config: &Value,
    values: &[Option<Vec<u8>>],
) -> (RecordBatch, Vec<(usize, String)>) {
    let whole = decode_in_chunks(config, values, values.len().max(1));
    for chunk in [1, 3, 100] {
        let chunked = decode_in_chunks(config, values, chunk);
        assert_eq!(chunked.0, whole.0, "batch at chunk size {chunk}");
        assert_eq!(chunked.1, whole.1, "errors at chunk size {chunk}");
    }
    whole
}

/// The batch as JSON rows (via arrow's own JSON writer is not available, so
/// per-cell debug strings), for compact assertions.
pub fn cells(batch: &RecordBatch) -> Vec<Vec<String>> {
    use topictable_sdk::arrow_array::Array;
    (0..batch.num_rows())
        .map(|r| {
            batch
                .columns()
                .iter()
                .map(|c| {
                    if c.is_null(r) {
                        "null".to_string()
                    } else {
                        let s = c.slice(r, 1);
                        cell(s.as_ref())
                    }
                })
                .collect()
        })
        .collect()
}

fn cell(a: &dyn topictable_sdk::arrow_array::Array) -> String {
    use topictable_sdk::arrow_array::cast::AsArray;
    use topictable_sdk::arrow_array::types::*;
    use topictable_sdk::arrow_schema::DataType;
    match a.data_type() {
        DataType::Utf8 => a.as_string::<i32>().value(0).to_string(),
        DataType::Boolean => a.as_boolean().value(0).to_string(),
        DataType::Int32 => a.as_primitive::<Int32Type>().value(0).to_string(),
        DataType::Int64 => a.as_primitive::<Int64Type>().value(0).to_string(),
        DataType::Float32 => format!("{:?}", a.as_primitive::<Float32Type>().value(0)),
        DataType::Float64 => format!("{:?}", a.as_primitive::<Float64Type>().value(0)),
        DataType::Timestamp(_, _) => {
            format!(
                "ts:{}",
                a.as_primitive::<TimestampMillisecondType>().value(0)
            )
        }
        other => panic!("unexpected type {other}"),
    }
}
