//! Avro decode throughput: 1M Confluent-framed datums (10 fields, mixed types)
//! into Arrow, ours against arrow-avro's `reader::Decoder` on the same bytes,
//! best of alternating rounds; then 1M messages over 3 schema ids, counting
//! the registry client's HTTP calls.
//!
//! Run: `cargo bench -p topictable-codec-avro --bench avro_decode`
//! (`AVRO_BENCH_MESSAGES` and `AVRO_BENCH_ROUNDS` override the defaults).

use std::time::{Duration, Instant};

use arrow_avro::reader::ReaderBuilder;
use arrow_avro::schema::{AvroSchema, Fingerprint, FingerprintAlgorithm, SchemaStore};
use serde_json::json;
use topictable_codec_avro::AvroCodec;
use topictable_registry_server as server;
use topictable_schema_registry::{ClientConfig, RegistryClient, Schema};
use topictable_sdk::{Codec, Decoder, MessageBatchBuilder, OwnedMessageBatch, Side};

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

fn zigzag(v: i64, out: &mut Vec<u8>) {
    let mut z = ((v << 1) ^ (v >> 63)) as u64;
    while z >= 0x80 {
        out.push((z as u8) | 0x80);
        z >>= 7;
    }
    out.push(z as u8);
}

fn string(s: &str, out: &mut Vec<u8>) {
    zigzag(s.len() as i64, out);
    out.extend_from_slice(s.as_bytes());
}

/// One framed datum of `SCHEMA` (plus `extra` trailing fields for later versions).
fn datum(i: i64, id: u32, extra: usize) -> Vec<u8> {
    let mut out = vec![0];
    out.extend_from_slice(&id.to_be_bytes());
    zigzag(i, &mut out);
    string(["AAPL", "MSFT", "GOOG", "AMZN"][i as usize % 4], &mut out);
    out.extend_from_slice(&(100.0 + (i % 1000) as f64 / 7.0).to_le_bytes());
    zigzag(i % 500, &mut out);
    zigzag(i % 2, &mut out);
    zigzag(1_700_000_000_000 + i, &mut out);
    string(if i % 3 == 0 { "XNAS" } else { "XNYS" }, &mut out);
    out.push((i % 5 == 0) as u8);
    if i % 4 == 0 {
        zigzag(1, &mut out);
        string("late fill", &mut out);
    } else {
        zigzag(0, &mut out);
    }
    out.extend_from_slice(&((i % 100) as f32 / 3.0).to_le_bytes());
    for e in 0..extra {
        zigzag(e as i64, &mut out);
    }
    out
}

fn batches(messages: &[Vec<u8>]) -> Vec<OwnedMessageBatch> {
    messages
        .chunks(BATCH)
        .map(|chunk| {
            let mut b = MessageBatchBuilder::with_capacity(chunk.len(), 80);
            for (i, m) in chunk.iter().enumerate() {
                b.push("trades", 0, i as i64, None, None, Some(m), &[]);
            }
            b.finish()
        })
        .collect()
}

fn ours(registry_url: &str, batches: &[OwnedMessageBatch]) -> (Duration, usize) {
    let config = json!({"schema_registry_url": registry_url, "topic": "trades"});
    let config = AvroCodec.description().config.validate(&config).unwrap();
    let mut d = AvroCodec.new_decoder(&config, Side::Value).unwrap();
    let start = Instant::now();
    let mut rows = 0;
    for b in batches {
        let out = d.decode(&b.view()).unwrap();
        assert!(out.errors.is_empty(), "{:?}", &out.errors[..1]);
        rows += out.batch.num_rows();
    }
    (start.elapsed(), rows)
}

fn arrow_avro(messages: &[Vec<u8>]) -> (Duration, usize) {
    let mut store = SchemaStore::new_with_type(FingerprintAlgorithm::Id);
    store
        .set(Fingerprint::Id(1), AvroSchema::new(SCHEMA.to_string()))
        .unwrap();
    let mut d = ReaderBuilder::new()
        .with_writer_schema_store(store)
        .with_batch_size(BATCH)
        .build_decoder()
        .unwrap();
    let start = Instant::now();
    let mut rows = 0;
    for chunk in messages.chunks(BATCH) {
        for m in chunk {
            let used = d.decode(m).unwrap();
            debug_assert_eq!(used, m.len());
        }
        rows += d.flush().unwrap().map_or(0, |b| b.num_rows());
    }
    (start.elapsed(), rows)
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
    let registry = server::spawn("127.0.0.1:0").unwrap();
    let client = RegistryClient::new(ClientConfig::new(&registry.url())).unwrap();
    let id = client
        .register("trades-value", &Schema::avro(SCHEMA))
        .unwrap();
    assert_eq!(id, 1);

    let messages: Vec<Vec<u8>> = (0..n as i64).map(|i| datum(i, 1, 0)).collect();
    let bytes: usize = messages.iter().map(Vec::len).sum();
    let owned = batches(&messages);

    let (mut best_ours, mut best_theirs) = (Duration::MAX, Duration::MAX);
    for _ in 0..rounds {
        let (t, rows) = ours(&registry.url(), &owned);
        assert_eq!(rows, n);
        best_ours = best_ours.min(t);
        let (t, rows) = arrow_avro(&messages);
        assert_eq!(rows, n);
        best_theirs = best_theirs.min(t);
    }
    let rate = |d: Duration| n as f64 / d.as_secs_f64();
    println!(
        "## Avro decode: {n} Confluent-framed datums, 10 fields, {} bytes avg, batches of {BATCH}, best of {rounds}\n",
        bytes / n
    );
    println!("| decoder | best time | rows/s | vs arrow-avro |");
    println!("|---|---|---|---|");
    println!(
        "| topictable-codec-avro | {:.1} ms | {:.2} M | {:.2}x |",
        best_ours.as_secs_f64() * 1e3,
        rate(best_ours) / 1e6,
        rate(best_ours) / rate(best_theirs)
    );
    println!(
        "| arrow-avro 60 reader::Decoder | {:.1} ms | {:.2} M | 1.00x |",
        best_theirs.as_secs_f64() * 1e3,
        rate(best_theirs) / 1e6
    );

    // 1M messages over 3 schema ids (v1, and v2/v3 adding defaulted fields).
    let mut ids = vec![id];
    for extra in 1..=2 {
        let mut v: serde_json::Value = serde_json::from_str(SCHEMA).unwrap();
        for e in 0..extra {
            v["fields"]
                .as_array_mut()
                .unwrap()
                .push(json!({"name": format!("extra{e}"), "type": "long", "default": 0}));
        }
        ids.push(
            client
                .register("trades-value", &Schema::avro(v.to_string()))
                .unwrap(),
        );
    }
    let mixed: Vec<Vec<u8>> = (0..n as i64)
        .map(|i| datum(i, ids[i as usize % 3], i as usize % 3))
        .collect();
    let config = json!({"schema_registry_url": registry.url(), "topic": "trades"});
    let config = AvroCodec.description().config.validate(&config).unwrap();
    let mut d = topictable_codec_avro::AvroDecoder::new(
        &topictable_codec_avro::AvroConfig::from_map(&config).unwrap(),
        Side::Value,
    )
    .unwrap();
    let start = Instant::now();
    for b in batches(&mixed) {
        let out = d.decode(&b.view()).unwrap();
        assert!(out.errors.is_empty(), "{:?}", &out.errors[..1]);
    }
    let elapsed = start.elapsed();
    let calls = d.registry().unwrap().http_calls();
    println!("\n## Registry lookups: {n} messages over 3 schema ids (ids {ids:?})\n");
    println!("| HTTP calls (reader schema + writer schemas) | decode time | rows/s |");
    println!("|---|---|---|");
    println!(
        "| {calls} | {:.1} ms | {:.2} M |",
        elapsed.as_secs_f64() * 1e3,
        rate(elapsed) / 1e6
    );
}
