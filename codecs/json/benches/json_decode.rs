//! Decodes 1M JSON rows of about 100 bytes (5 fields) into Arrow columns with
//! our decoder and with arrow-json's `ReaderBuilder` decoder, in alternating
//! rounds of the same run, and prints the best rows/s of each as a markdown table.
//!
//! `cargo bench -p topictable-codec-json --bench json_decode`
//! (`JSON_BENCH_ROWS` and `JSON_BENCH_ROUNDS` override the defaults.)

use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

use arrow_json::ReaderBuilder;
use serde_json::json;
use topictable_codec_json::JsonCodec;
use topictable_sdk::arrow_schema::{DataType, Field, Schema, TimeUnit};
use topictable_sdk::{Codec, MessageBatchBuilder, OwnedMessageBatch, Side};

const BATCH: usize = 8192;

fn env_or(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn rows(n: usize) -> Vec<String> {
    const SYMBOLS: [&str; 8] = [
        "AAPL", "MSFT", "GOOG", "AMZN", "NVDA", "META", "TSLA", "NFLX",
    ];
    (0..n)
        .map(|i| {
            format!(
                r#"{{"symbol":"{}","id":"order-2025-11-23-{:010}","price":{}.{:02},"qty":{},"ts":{}}}"#,
                SYMBOLS[i % SYMBOLS.len()],
                i,
                100 + (i * 7919) % 900,
                (i * 31) % 100,
                1 + (i * 13) % 500,
                1_763_892_000_000i64 + i as i64,
            )
        })
        .collect()
}

fn best(samples: &[Duration]) -> Duration {
    samples.iter().copied().min().unwrap_or_default()
}

fn main() {
    let n = env_or("JSON_BENCH_ROWS", 1_000_000);
    let rounds = env_or("JSON_BENCH_ROUNDS", 7);
    let docs = rows(n);
    let avg_len = docs.iter().map(String::len).sum::<usize>() as f64 / n as f64;

    // Inputs are prepared outside the timed regions: message batches for us,
    // newline-joined chunks of the same rows for arrow-json.
    let batches: Vec<OwnedMessageBatch> = docs
        .chunks(BATCH)
        .map(|chunk| {
            let mut b = MessageBatchBuilder::with_capacity(chunk.len(), 112);
            for (i, d) in chunk.iter().enumerate() {
                b.push("orders", 0, i as i64, None, None, Some(d.as_bytes()), &[]);
            }
            b.finish()
        })
        .collect();
    let lines: Vec<Vec<u8>> = docs
        .chunks(BATCH)
        .map(|chunk| (chunk.join("\n") + "\n").into_bytes())
        .collect();

    let config = json!({
        "columns": [
            {"name": "symbol", "type": "string"},
            {"name": "id", "type": "string"},
            {"name": "price", "type": "float64"},
            {"name": "qty", "type": "int64"},
            {"name": "ts", "type": "timestamp"},
        ],
    });
    let config = JsonCodec.description().config.validate(&config).unwrap();
    let mut ours = JsonCodec.new_decoder(&config, Side::Value).unwrap();
    let schema = Arc::new(Schema::new(vec![
        Field::new("symbol", DataType::Utf8, true),
        Field::new("id", DataType::Utf8, true),
        Field::new("price", DataType::Float64, true),
        Field::new("qty", DataType::Int64, true),
        Field::new(
            "ts",
            // arrow-json without chrono-tz only knows offsets; same instant as our "UTC".
            DataType::Timestamp(TimeUnit::Millisecond, Some("+00:00".into())),
            true,
        ),
    ]));

    let mut ours_times = Vec::new();
    let mut arrow_times = Vec::new();
    let (mut ours_rows, mut arrow_rows) = (0, 0);
    for _ in 0..rounds {
        let start = Instant::now();
        ours_rows = 0;
        for b in &batches {
            let out = ours.decode(&b.view()).unwrap();
            assert!(out.errors.is_empty());
            ours_rows += black_box(out.batch).num_rows();
        }
        ours_times.push(start.elapsed());

        let start = Instant::now();
        arrow_rows = 0;
        let mut decoder = ReaderBuilder::new(schema.clone())
            .with_batch_size(BATCH)
            .build_decoder()
            .unwrap();
        for chunk in &lines {
            let mut rest = &chunk[..];
            while !rest.is_empty() {
                let used = decoder.decode(rest).unwrap();
                rest = &rest[used..];
                if let Some(batch) = decoder.flush().unwrap() {
                    arrow_rows += black_box(batch).num_rows();
                }
            }
        }
        if let Some(batch) = decoder.flush().unwrap() {
            arrow_rows += batch.num_rows();
        }
        arrow_times.push(start.elapsed());
    }
    assert_eq!(ours_rows, n);
    assert_eq!(arrow_rows, n);

    let rate = |d: Duration| n as f64 / d.as_secs_f64();
    let (ours_best, arrow_best) = (best(&ours_times), best(&arrow_times));
    println!(
        "\nJSON decode: {n} rows of {avg_len:.0} bytes avg, 5 fields, batches of {BATCH}, best of {rounds} alternating rounds\n"
    );
    println!("| decoder | best time | rows/s | MB/s |");
    println!("|---|---:|---:|---:|");
    for (name, d) in [
        ("topictable json (JsonDecoder)", ours_best),
        ("arrow-json ReaderBuilder::build_decoder", arrow_best),
    ] {
        println!(
            "| {name} | {:.1} ms | {:.2} M | {:.0} |",
            d.as_secs_f64() * 1e3,
            rate(d) / 1e6,
            rate(d) * avg_len / 1e6
        );
    }
    println!(
        "\nratio (ours / arrow-json, rows/s): **{:.2}×** (goal ≥ 1.5×)",
        rate(ours_best) / rate(arrow_best)
    );
}
