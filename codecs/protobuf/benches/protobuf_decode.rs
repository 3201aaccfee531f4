//! Protobuf decode throughput: 1M Confluent-framed messages (10 fields, one
//! nested message) into Arrow, ours (prost-reflect descriptors, a plan per
//! message type, wire bytes straight into Arrow buffers) against
//! prost-generated structs copied into Arrow builders by hand, best of
//! alternating rounds on the same bytes.
//!
//! Run: `cargo bench -p topictable-codec-protobuf --bench protobuf_decode`
//! (`PROTOBUF_BENCH_MESSAGES` and `PROTOBUF_BENCH_ROUNDS` override the defaults).

use std::sync::Arc;
use std::time::{Duration, Instant};

use prost::Message;
use serde_json::json;
use topictable_codec_protobuf::{ProtobufCodec, ProtobufConfig, ProtobufDecoder};
use topictable_registry_server as server;
use topictable_schema_registry::{ClientConfig, RegistryClient, Schema, SchemaType};
use topictable_sdk::arrow_array::builder::{
    BooleanBuilder, Float32Builder, Float64Builder, Int32Builder, Int64Builder, StringBuilder,
};
use topictable_sdk::arrow_array::{ArrayRef, RecordBatch};
use topictable_sdk::{Codec, Decoder, MessageBatchBuilder, OwnedMessageBatch, Side};

#[allow(clippy::all, missing_docs)]
mod generated {
    include!("generated/bench.rs");
}
use generated::{Party, Side as TradeSide, Trade};

const PROTO: &str = include_str!("generated/bench.proto");
const BATCH: usize = 10_000;

fn trade(i: i64) -> Trade {
    Trade {
        id: i,
        symbol: ["AAPL", "MSFT", "GOOG", "AMZN"][i as usize % 4].into(),
        price: 100.0 + (i % 1000) as f64 / 7.0,
        qty: (i % 500) as i32,
        side: (i % 2) as i32,
        ts: 1_700_000_000_000 + i,
        venue: if i % 3 == 0 { "XNAS" } else { "XNYS" }.into(),
        active: i % 5 == 0,
        score: (i % 100) as f32 / 3.0,
        party: (i % 10 != 0).then(|| Party {
            name: format!("desk-{}", i % 7),
            account: 10_000 + i % 97,
        }),
    }
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

/// The baseline: prost-generated decode, then a hand copy into Arrow builders.
fn baseline(batch: &OwnedMessageBatch) -> RecordBatch {
    let view = batch.view();
    let n = view.len();
    let mut id = Int64Builder::with_capacity(n);
    let mut symbol = StringBuilder::with_capacity(n, n * 4);
    let mut price = Float64Builder::with_capacity(n);
    let mut qty = Int32Builder::with_capacity(n);
    let mut side = StringBuilder::with_capacity(n, n * 4);
    let mut ts = Int64Builder::with_capacity(n);
    let mut venue = StringBuilder::with_capacity(n, n * 4);
    let mut active = BooleanBuilder::with_capacity(n);
    let mut score = Float32Builder::with_capacity(n);
    let mut party_name = StringBuilder::with_capacity(n, n * 6);
    let mut party_account = Int64Builder::with_capacity(n);
    for row in 0..n {
        let bytes = view.values.get(row).expect("no tombstones here");
        // Magic byte, schema id, and the message index [1] (2 bytes).
        let t = Trade::decode(&bytes[7..]).expect("valid");
        id.append_value(t.id);
        symbol.append_value(&t.symbol);
        price.append_value(t.price);
        qty.append_value(t.qty);
        side.append_value(
            TradeSide::try_from(t.side)
                .map(|s| s.as_str_name())
                .unwrap_or("?"),
        );
        ts.append_value(t.ts);
        venue.append_value(&t.venue);
        active.append_value(t.active);
        score.append_value(t.score);
        match &t.party {
            Some(p) => {
                party_name.append_value(&p.name);
                party_account.append_value(p.account);
            }
            None => {
                party_name.append_null();
                party_account.append_null();
            }
        }
    }
    let columns: Vec<(&str, ArrayRef)> = vec![
        ("id", Arc::new(id.finish())),
        ("symbol", Arc::new(symbol.finish())),
        ("price", Arc::new(price.finish())),
        ("qty", Arc::new(qty.finish())),
        ("side", Arc::new(side.finish())),
        ("ts", Arc::new(ts.finish())),
        ("venue", Arc::new(venue.finish())),
        ("active", Arc::new(active.finish())),
        ("score", Arc::new(score.finish())),
        ("party_name", Arc::new(party_name.finish())),
        ("party_account", Arc::new(party_account.finish())),
    ];
    RecordBatch::try_from_iter(columns).expect("same lengths")
}

fn time(f: &mut dyn FnMut() -> usize) -> (Duration, usize) {
    let start = Instant::now();
    let rows = f();
    (start.elapsed(), rows)
}

fn main() {
    let n: usize = std::env::var("PROTOBUF_BENCH_MESSAGES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1_000_000);
    let rounds: usize = std::env::var("PROTOBUF_BENCH_ROUNDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(5);

    let registry = server::spawn("127.0.0.1:0").expect("registry");
    let client = RegistryClient::new(ClientConfig::new(&registry.url())).expect("client");
    let id = client
        .register(
            "trades-value",
            &Schema {
                schema: PROTO.into(),
                schema_type: SchemaType::Protobuf,
                references: Vec::new(),
            },
        )
        .expect("register");

    let messages: Vec<Vec<u8>> = (0..n as i64)
        .map(|i| {
            let mut out = vec![0];
            out.extend_from_slice(&id.to_be_bytes());
            // Message index [1]: Trade is the file's second message.
            out.extend_from_slice(&[0x02, 0x02]);
            trade(i).encode(&mut out).expect("encode");
            out
        })
        .collect();
    let avg = messages.iter().map(Vec::len).sum::<usize>() as f64 / n as f64;
    let input = batches(&messages);

    let config = ProtobufCodec
        .description()
        .config
        .validate(
            &json!({"schema_registry_url": registry.url(), "topic": "trades",
            "message": "bench.Trade"}),
        )
        .expect("config");
    let mut ours = ProtobufDecoder::new(
        &ProtobufConfig::from_map(&config).expect("config"),
        Side::Value,
    )
    .expect("decoder");

    // Same output, checked once.
    let a = ours.decode(&input[0].view()).expect("decode");
    assert!(a.errors.is_empty(), "{:?}", a.errors.first());
    let b = baseline(&input[0]);
    assert_eq!(
        a.batch.columns(),
        b.columns(),
        "ours and the baseline disagree"
    );

    let mut best_ours = Duration::MAX;
    let mut best_base = Duration::MAX;
    for _ in 0..rounds {
        let (t, rows) = time(&mut || {
            input
                .iter()
                .map(|b| ours.decode(&b.view()).expect("decode").batch.num_rows())
                .sum()
        });
        assert_eq!(rows, n);
        best_ours = best_ours.min(t);
        let (t, rows) = time(&mut || input.iter().map(|b| baseline(b).num_rows()).sum());
        assert_eq!(rows, n);
        best_base = best_base.min(t);
    }
    let rate = |d: Duration| n as f64 / d.as_secs_f64() / 1e6;
    println!(
        "Protobuf decode: {n} Confluent-framed messages, {avg:.1} bytes each on average, batches of {BATCH}, best of {rounds} alternating rounds\n"
    );
    println!("| decoder | best time | rows/s | vs prost-generated |");
    println!("|---|---|---|---|");
    println!(
        "| topictable-codec-protobuf | {:.1} ms | {:.2} M | {:.2}x |",
        best_ours.as_secs_f64() * 1e3,
        rate(best_ours),
        best_base.as_secs_f64() / best_ours.as_secs_f64()
    );
    println!(
        "| prost-generated struct + Arrow builders | {:.1} ms | {:.2} M | 1.00x |",
        best_base.as_secs_f64() * 1e3,
        rate(best_base)
    );
    println!(
        "\nRegistry HTTP calls made by the decoder: {} (reader schema by subject; its id is then cached)",
        ours.registry().map_or(0, |r| r.http_calls())
    );
}
