//! Avro encode throughput: 1M table rows (the 10 mixed fields of the decode
//! bench) into raw datums, best of alternating rounds, against two baselines
//! in the same run, checking that all three write the same bytes:
//! - arrow-avro's row `Encoder` (Arrow batches in, one datum per row out:
//!   what a Kafka producer needs), the Arrow-native baseline;
//! - apache-avro's `to_avro_datum` from ready-made `Value`s (their conversion
//!   from Arrow is not timed).
//!
//! Run: `cargo bench -p topictable-codec-avro --bench avro_encode`
//! (`AVRO_BENCH_MESSAGES` and `AVRO_BENCH_ROUNDS` override the defaults).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use apache_avro::types::Value;
use serde_json::json;
use topictable_codec_avro::AvroCodec;
use topictable_sdk::arrow_array::types::Int32Type;
use topictable_sdk::arrow_array::{
    ArrayRef, BooleanArray, DictionaryArray, Float32Array, Float64Array, Int32Array, Int64Array,
    RecordBatch, StringArray, TimestampMillisecondArray,
};
use topictable_sdk::arrow_schema::{DataType, Field, Schema, TimeUnit};
use topictable_sdk::{Codec, Side};

const SCHEMA: &str = r#"{"type":"record","name":"Trade","namespace":"bench","fields":[
  {"name":"id","type":"long"},
  {"name":"symbol","type":"string"},
  {"name":"price","type":"double"},
  {"name":"qty","type":"int"},
  {"name":"side","type":{"type":"enum","name":"Side","symbols":["BUY","SELL"]}},
  {"name":"ts","type":{"type":"long","logicalType":"timestamp-millis"}},
  {"name":"venue","type":"string"},
  {"name":"active","type":"boolean"},
  {"name":"note","type":["null","string"],"default":null},
  {"name":"score","type":"float"}]}"#;

const BATCH: usize = 10_000;
const SYMBOLS: [&str; 4] = ["AAPL", "MSFT", "GOOG", "AMZN"];

fn venue(i: i64) -> &'static str {
    if i % 3 == 0 { "XNAS" } else { "XNYS" }
}

/// Rows `start..start + len` as an Arrow batch.
fn batch(start: i64, len: usize) -> RecordBatch {
    let rows = start..start + len as i64;
    let side: DictionaryArray<Int32Type> = rows
        .clone()
        .map(|i| if i % 2 == 0 { "BUY" } else { "SELL" })
        .collect();
    let columns: Vec<ArrayRef> = vec![
        Arc::new(Int64Array::from_iter_values(rows.clone())),
        Arc::new(StringArray::from_iter_values(
            rows.clone().map(|i| SYMBOLS[i as usize % 4]),
        )),
        Arc::new(Float64Array::from_iter_values(
            rows.clone().map(|i| 100.0 + (i % 1000) as f64 / 7.0),
        )),
        Arc::new(Int32Array::from_iter_values(
            rows.clone().map(|i| (i % 500) as i32),
        )),
        Arc::new(side),
        Arc::new(
            TimestampMillisecondArray::from_iter_values(
                rows.clone().map(|i| 1_700_000_000_000 + i),
            )
            .with_timezone("UTC"),
        ),
        Arc::new(StringArray::from_iter_values(rows.clone().map(venue))),
        Arc::new(BooleanArray::from_iter(
            rows.clone().map(|i| Some(i % 5 == 0)),
        )),
        Arc::new(StringArray::from_iter(
            rows.clone().map(|i| (i % 4 == 0).then_some("late fill")),
        )),
        Arc::new(Float32Array::from_iter_values(
            rows.map(|i| (i % 100) as f32 / 3.0),
        )),
    ];
    let dict = DataType::Dictionary(Box::new(DataType::Int32), Box::new(DataType::Utf8));
    let fields: Vec<Field> = [
        ("id", DataType::Int64),
        ("symbol", DataType::Utf8),
        ("price", DataType::Float64),
        ("qty", DataType::Int32),
        ("side", dict),
        (
            "ts",
            DataType::Timestamp(TimeUnit::Millisecond, Some("UTC".into())),
        ),
        ("venue", DataType::Utf8),
        ("active", DataType::Boolean),
        ("note", DataType::Utf8),
        ("score", DataType::Float32),
    ]
    .into_iter()
    .map(|(n, t)| Field::new(n, t, true))
    .collect();
    RecordBatch::try_new(Arc::new(Schema::new(fields)), columns).unwrap()
}

/// Row `i` as an apache-avro value.
fn value(i: i64) -> Value {
    Value::Record(vec![
        ("id".into(), Value::Long(i)),
        (
            "symbol".into(),
            Value::String(SYMBOLS[i as usize % 4].into()),
        ),
        (
            "price".into(),
            Value::Double(100.0 + (i % 1000) as f64 / 7.0),
        ),
        ("qty".into(), Value::Int((i % 500) as i32)),
        (
            "side".into(),
            Value::Enum((i % 2) as u32, ["BUY", "SELL"][i as usize % 2].into()),
        ),
        ("ts".into(), Value::TimestampMillis(1_700_000_000_000 + i)),
        ("venue".into(), Value::String(venue(i).into())),
        ("active".into(), Value::Boolean(i % 5 == 0)),
        (
            "note".into(),
            if i % 4 == 0 {
                Value::Union(1, Box::new(Value::String("late fill".into())))
            } else {
                Value::Union(0, Box::new(Value::Null))
            },
        ),
        ("score".into(), Value::Float((i % 100) as f32 / 3.0)),
    ])
}

fn ours(batches: &[RecordBatch]) -> (Duration, usize) {
    let config = json!({"protocol": "raw", "schema": SCHEMA});
    let config = AvroCodec.description().config.validate(&config).unwrap();
    let mut e = AvroCodec
        .new_encoder(&config, Side::Value, batches[0].schema())
        .unwrap();
    let start = Instant::now();
    let mut bytes = 0;
    for b in batches {
        let out = e.encode(b).unwrap();
        assert!(out.errors.is_empty(), "{:?}", &out.errors[..1]);
        bytes += out.bytes.values().len();
    }
    (start.elapsed(), bytes)
}

/// arrow-avro's row encoder, told the same Avro schema through the Arrow
/// schema's `avro.schema` metadata.
fn arrow_avro_encoder(batch_schema: &Schema) -> arrow_avro::writer::Encoder {
    let schema = batch_schema.clone().with_metadata(HashMap::from([(
        arrow_avro::schema::SCHEMA_METADATA_KEY.to_string(),
        SCHEMA.to_string(),
    )]));
    arrow_avro::writer::WriterBuilder::new(schema)
        .build_encoder::<arrow_avro::writer::format::AvroBinaryFormat>()
        .unwrap()
}

fn arrow_avro(batches: &[RecordBatch]) -> (Duration, usize) {
    let mut e = arrow_avro_encoder(&batches[0].schema());
    let start = Instant::now();
    let mut bytes = 0;
    for b in batches {
        e.encode(b).unwrap();
        bytes += e.flush().bytes().len();
    }
    (start.elapsed(), bytes)
}

fn apache_avro(schema: &apache_avro::Schema, values: Vec<Vec<Value>>) -> (Duration, usize) {
    let start = Instant::now();
    let mut bytes = 0;
    for chunk in values {
        let mut out = Vec::with_capacity(chunk.len() * 48);
        for v in chunk {
            out.extend(apache_avro::to_avro_datum(schema, v).unwrap());
        }
        bytes += out.len();
    }
    (start.elapsed(), bytes)
}

fn env(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn main() {
    let n = env("AVRO_BENCH_MESSAGES", 1_000_000);
    let rounds = env("AVRO_BENCH_ROUNDS", 5);
    let schema = apache_avro::Schema::parse_str(SCHEMA).unwrap();
    let batches: Vec<RecordBatch> = (0..n)
        .step_by(BATCH)
        .map(|s| batch(s as i64, BATCH.min(n - s)))
        .collect();

    // Both write the same bytes.
    let config = json!({"protocol": "raw", "schema": SCHEMA});
    let config = AvroCodec.description().config.validate(&config).unwrap();
    let mut e = AvroCodec
        .new_encoder(&config, Side::Value, batches[0].schema())
        .unwrap();
    let check = e.encode(&batches[0].slice(0, 100)).unwrap();
    let mut arrow_avro_check = arrow_avro_encoder(&batches[0].schema());
    arrow_avro_check.encode(&batches[0].slice(0, 100)).unwrap();
    let arrow_avro_rows = arrow_avro_check.flush();
    assert_eq!(arrow_avro_rows.len(), 100);
    for i in 0..100 {
        assert_eq!(
            check.bytes.value(i),
            apache_avro::to_avro_datum(&schema, value(i as i64)).unwrap(),
            "row {i}"
        );
        assert_eq!(
            check.bytes.value(i),
            &arrow_avro_rows.row(i).unwrap()[..],
            "arrow-avro row {i}"
        );
    }

    let (mut best_ours, mut best_theirs) = (Duration::MAX, Duration::MAX);
    let mut best_arrow_avro = Duration::MAX;
    let mut sizes = (0, 0);
    for _ in 0..rounds {
        let (t, bytes) = ours(&batches);
        best_ours = best_ours.min(t);
        sizes.0 = bytes;
        let (t, bytes) = arrow_avro(&batches);
        best_arrow_avro = best_arrow_avro.min(t);
        assert_eq!(bytes, sizes.0, "arrow-avro wrote the same bytes in total");
        let values: Vec<Vec<Value>> = (0..n)
            .step_by(BATCH)
            .map(|s| (s..(s + BATCH).min(n)).map(|i| value(i as i64)).collect())
            .collect();
        let (t, bytes) = apache_avro(&schema, values);
        best_theirs = best_theirs.min(t);
        sizes.1 = bytes;
    }
    assert_eq!(sizes.0, sizes.1, "the same bytes in total");
    let rate = |d: Duration| n as f64 / d.as_secs_f64();
    println!(
        "## Avro encode: {n} rows, 10 fields, {} bytes avg, batches of {BATCH}, best of {rounds}\n",
        sizes.0 / n.max(1)
    );
    println!("| encoder | best time | rows/s | vs arrow-avro | vs apache-avro |");
    println!("|---|---|---|---|---|");
    for (name, best) in [
        ("topictable-codec-avro (from Arrow)", best_ours),
        ("arrow-avro 60 row Encoder (from Arrow)", best_arrow_avro),
        ("apache-avro 0.21 to_avro_datum (from Values)", best_theirs),
    ] {
        println!(
            "| {name} | {:.1} ms | {:.2} M | {:.2}x | {:.2}x |",
            best.as_secs_f64() * 1e3,
            rate(best) / 1e6,
            rate(best) / rate(best_arrow_avro),
            rate(best) / rate(best_theirs)
        );
    }
}
