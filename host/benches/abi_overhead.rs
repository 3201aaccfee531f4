//! What the plugin ABI costs: `simple` decode of 1M int64 and 1M short-string
//! messages through the loaded plugin vs calling the codec library directly,
//! in one run, at several batch sizes. Prints a markdown table.
//!
//! Run: `cargo bench -p topictable --bench abi_overhead` (env `ABI_BENCH_MESSAGES`
//! and `ABI_BENCH_ROUNDS` shrink it). `scripts/bench-abi-instructions.sh`
//! runs one path at a time under callgrind (`ABI_BENCH_ONLY=direct|plugin`,
//! `ABI_BENCH_CASE=int64|string`, `ABI_BENCH_BATCH=N`) and compares the
//! instructions spent in `run`: a figure the machine's noise cannot move.

use topictable_test_support::plugins;

use std::time::{Duration, Instant};

use serde_json::json;
use topictable::PluginRegistry;
use topictable_codec_simple::SimpleCodec;
use topictable_sdk::{Codec, Decoder, MessageBatchBuilder, OwnedMessageBatch, Side};

fn batches(
    messages: usize,
    batch: usize,
    value: impl Fn(usize) -> Vec<u8>,
) -> Vec<OwnedMessageBatch> {
    let mut out = Vec::new();
    let mut b = MessageBatchBuilder::with_capacity(batch, 16);
    for i in 0..messages {
        b.push("bench", 0, i as i64, Some(0), None, Some(&value(i)), &[]);
        if b.len() == batch {
            out.push(b.finish());
            b = MessageBatchBuilder::with_capacity(batch, 16);
        }
    }
    if !b.is_empty() {
        out.push(b.finish());
    }
    out
}

#[inline(never)]
fn run(decoder: &mut dyn Decoder, input: &[OwnedMessageBatch]) -> Duration {
    let start = Instant::now();
    let mut rows = 0;
    for b in input {
        let out = decoder.decode(&b.view()).expect("decode");
        rows += out.batch.num_rows();
        std::hint::black_box(&out);
    }
    assert_eq!(
        rows,
        input.iter().map(OwnedMessageBatch::len).sum::<usize>()
    );
    start.elapsed()
}

/// A payload: its label, its `simple` type, and how to make message `i`.
type Case = (&'static str, &'static str, fn(usize) -> Vec<u8>);

fn env<T: std::str::FromStr>(name: &str) -> Option<T> {
    std::env::var(name).ok().and_then(|v| v.parse().ok())
}

fn main() {
    let messages: usize = env("ABI_BENCH_MESSAGES").unwrap_or(1_000_000);
    let rounds: usize = env("ABI_BENCH_ROUNDS").unwrap_or(15);
    let only: Option<String> = env("ABI_BENCH_ONLY");
    let only_case: Option<String> = env("ABI_BENCH_CASE");
    let only_batch: Option<usize> = env("ABI_BENCH_BATCH");
    let dir = plugins::plugin_dir_with(&["topictable_plugin_simple"]);
    let (registry, errors) = PluginRegistry::load_dir(dir.path());
    assert!(errors.is_empty(), "{errors:?}");

    println!(
        "| payload | batch | direct msgs/s | plugin msgs/s | direct ns/msg | plugin ns/msg | ABI overhead |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|");
    let cases: [Case; 2] = [
        ("int64 (8 B, LongSerializer)", "int64", |i| {
            (i as i64).to_be_bytes().to_vec()
        }),
        ("short string (~8 B)", "string", |i| {
            format!("SYM{:05}", i % 100_000).into_bytes()
        }),
    ];
    for (label, kind, value) in cases {
        if only_case.as_deref().is_some_and(|c| c != kind) {
            continue;
        }
        let config = json!({"type": kind});
        let validated = SimpleCodec.description().config.validate(&config).unwrap();
        for batch in [1024, 4096, 16384, 65536] {
            if only_batch.is_some_and(|b| b != batch) {
                continue;
            }
            let input = batches(messages, batch, value);
            let mut direct = SimpleCodec.new_decoder(&validated, Side::Value).unwrap();
            let mut plugin = registry
                .new_decoder("simple", &config, Side::Value)
                .unwrap();
            if let Some(path) = only.as_deref() {
                // One path only, for instruction counting under callgrind.
                let decoder = if path == "plugin" {
                    plugin.as_mut()
                } else {
                    direct.as_mut()
                };
                for _ in 0..rounds {
                    run(decoder, &input);
                }
                continue;
            }
            // Warm up both, then alternate rounds so drift hits both alike; keep the best round of each.
            run(direct.as_mut(), &input);
            run(plugin.as_mut(), &input);
            let (mut best_direct, mut best_plugin) = (Duration::MAX, Duration::MAX);
            for _ in 0..rounds {
                best_direct = best_direct.min(run(direct.as_mut(), &input));
                best_plugin = best_plugin.min(run(plugin.as_mut(), &input));
            }
            let rate = |d: Duration| messages as f64 / d.as_secs_f64();
            let ns = |d: Duration| d.as_nanos() as f64 / messages as f64;
            let overhead = (best_plugin.as_secs_f64() / best_direct.as_secs_f64() - 1.0) * 100.0;
            println!(
                "| {label} | {batch} | {:.1}M | {:.1}M | {:.2} | {:.2} | {overhead:+.1}% |",
                rate(best_direct) / 1e6,
                rate(best_plugin) / 1e6,
                ns(best_direct),
                ns(best_plugin)
            );
        }
    }
}
