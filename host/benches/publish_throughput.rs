//! Publish throughput (issue 6): N rows (int64 key, JSON value of 5 fields)
//! from an append table to tansu through the Kafka publisher, against a bare
//! rdkafka producer sending the same payloads, pre-encoded, in the same run.
//!
//! Each side runs in a child process (this binary re-executed with
//! `PUBLISH_BENCH_ROLE`), so its CPU seconds come from its own rusage and
//! exclude the broker. Runs alternate; the best of each is reported.
//!
//! Run: `cargo bench -p topictable --bench publish_throughput`
//! (env `PUBLISH_BENCH_ROWS`, default 2,000,000; `PUBLISH_BENCH_ROUNDS`, default 2).

#[path = "support/mod.rs"]
mod support;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use arrow_array::{Array, ArrayRef, Float64Array, Int64Array, RecordBatch, StringArray};
use arrow_schema::{DataType, Field, Schema, SchemaRef};
use rdkafka::ClientConfig;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
use serde_json::json;
use support::{Broker, JSON, SIMPLE, cpu_self, env_or};
use topictable::PluginRegistry;
use topictable::ingest::ValueSpec;
use topictable::publish::{
    DEFAULT_PRODUCER_PROPERTIES, KafkaPublisher, PublishSpec, SinkOptions, TopicChoice, start_sink,
};
use topictable_engine::Engine;
use topictable_sdk::Side;

const BATCH: usize = 65_536;

fn schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("id", DataType::Int64, false),
        Field::new("symbol", DataType::Utf8, false),
        Field::new("order", DataType::Utf8, false),
        Field::new("price", DataType::Float64, false),
        Field::new("qty", DataType::Int64, false),
        Field::new("ts", DataType::Int64, false),
    ]))
}

/// The rows, in batches; the same in both children.
fn rows(n: usize) -> Vec<RecordBatch> {
    let symbols = [
        "AAPL", "TSLA", "MSFT", "NVDA", "AMZN", "GOOG", "META", "NFLX",
    ];
    (0..n)
        .step_by(BATCH)
        .map(|start| {
            let ids: Vec<i64> = (start..(start + BATCH).min(n)).map(|i| i as i64).collect();
            let columns: Vec<ArrayRef> = vec![
                Arc::new(Int64Array::from(ids.clone())),
                Arc::new(StringArray::from_iter_values(
                    ids.iter().map(|i| symbols[*i as usize % 8]),
                )),
                Arc::new(StringArray::from_iter_values(
                    ids.iter().map(|i| format!("order-{i:010}")),
                )),
                Arc::new(Float64Array::from_iter_values(
                    ids.iter().map(|i| 100.0 + (*i % 10_000) as f64 / 100.0),
                )),
                Arc::new(Int64Array::from_iter_values(
                    ids.iter().map(|i| 1 + i % 100),
                )),
                Arc::new(Int64Array::from_iter_values(
                    ids.iter().map(|i| 1_763_892_000_000 + i),
                )),
            ];
            RecordBatch::try_new(schema(), columns).unwrap()
        })
        .collect()
}

fn specs() -> (ValueSpec, ValueSpec) {
    (
        ValueSpec::codec("simple", json!({"type": "int64", "column": "id"})),
        ValueSpec::codec(
            "json",
            json!({"include": ["symbol", "order", "price", "qty", "ts"]}),
        ),
    )
}

/// The producer properties of both sides: the publisher's defaults and the
/// broker, so the baseline gets exactly the configuration the publisher runs.
fn producer_properties(bootstrap: &str) -> BTreeMap<String, String> {
    DEFAULT_PRODUCER_PROPERTIES
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .chain([("bootstrap.servers".to_string(), bootstrap.to_string())])
        .collect()
}

fn codec_of(v: &ValueSpec) -> (&str, &serde_json::Value) {
    match v {
        ValueSpec::Codec { format, config } => (format, config),
        ValueSpec::Ignore => unreachable!(),
    }
}

/// The baseline: payloads encoded beforehand (untimed), then a bare producer.
fn floor_child(bootstrap: &str, topic: &str, n: usize, plugins: &PluginRegistry) -> (f64, f64) {
    let (key, value) = specs();
    let (kf, kc) = codec_of(&key);
    let (vf, vc) = codec_of(&value);
    let mut key_enc = plugins.new_encoder(kf, kc, Side::Key, schema()).unwrap();
    let mut value_enc = plugins.new_encoder(vf, vc, Side::Value, schema()).unwrap();
    let encoded: Vec<_> = rows(n)
        .iter()
        .map(|b| {
            (
                key_enc.encode(b).unwrap().bytes,
                value_enc.encode(b).unwrap().bytes,
            )
        })
        .collect();
    let mut config = ClientConfig::new();
    for (k, v) in producer_properties(bootstrap) {
        config.set(k, v);
    }
    let producer: BaseProducer = config.create().unwrap();
    let (cpu0, start) = (cpu_self(), Instant::now());
    for (keys, values) in &encoded {
        for i in 0..keys.len() {
            let mut record = Some(
                BaseRecord::to(topic)
                    .key(keys.value(i))
                    .payload(values.value(i)),
            );
            while let Some(r) = record.take() {
                match producer.send(r) {
                    Ok(()) => {}
                    Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), r)) => {
                        producer.poll(Duration::from_millis(10));
                        record = Some(r);
                    }
                    Err((e, _)) => panic!("produce: {e}"),
                }
            }
        }
    }
    producer.flush(Duration::from_secs(600)).unwrap();
    (start.elapsed().as_secs_f64(), cpu_self() - cpu0)
}

/// topictable: rows pushed into an append table, published by the Kafka publisher.
fn topictable_child(
    bootstrap: &str,
    topic: &str,
    n: usize,
    plugins: &PluginRegistry,
) -> (f64, f64) {
    let (key, value) = specs();
    let batches = rows(n);
    let engine = Engine::new();
    let table = engine.append_table("orders", schema()).unwrap();
    let spec = PublishSpec {
        properties: producer_properties(bootstrap),
        topic: TopicChoice::Fixed(topic.into()),
        partition: None,
        partition_column: None,
        timestamp_column: None,
        header_columns: Vec::new(),
        key,
        value,
    };
    let publisher = KafkaPublisher::new(&spec, plugins, &table.schema(), false).unwrap();
    let options = SinkOptions {
        publish_initial: false,
        ..SinkOptions::default()
    };
    let mut sink = start_sink("bench", &engine, &table, Box::new(publisher), options).unwrap();
    let cycles = engine.start();
    let writer = table.writer().unwrap();
    let (cpu0, start) = (cpu_self(), Instant::now());
    for b in batches {
        writer.push(b).unwrap();
    }
    // Every row visible, then the sink drains its queue and flushes.
    let deadline = Instant::now() + Duration::from_secs(600);
    while table.num_rows().unwrap() < n {
        assert!(Instant::now() < deadline, "rows never became visible");
        std::thread::sleep(Duration::from_millis(5));
    }
    std::thread::sleep(engine.config().period * 2);
    cycles.stop();
    sink.stop();
    (start.elapsed().as_secs_f64(), cpu_self() - cpu0)
}

fn main() {
    if let Ok(role) = std::env::var("PUBLISH_BENCH_ROLE") {
        let bootstrap = std::env::var("PUBLISH_BENCH_BOOTSTRAP").unwrap();
        let topic = std::env::var("PUBLISH_BENCH_TOPIC").unwrap();
        let n: usize = env_or("PUBLISH_BENCH_ROWS", 2_000_000);
        let (plugins, errors) =
            PluginRegistry::load_dir(Path::new(&std::env::var("PUBLISH_BENCH_PLUGINS").unwrap()));
        assert!(errors.is_empty(), "{errors:?}");
        let (wall, cpu) = if role == "floor" {
            floor_child(&bootstrap, &topic, n, &plugins)
        } else {
            topictable_child(&bootstrap, &topic, n, &plugins)
        };
        println!("RESULT {wall} {cpu}");
        return;
    }
    let n: usize = env_or("PUBLISH_BENCH_ROWS", 2_000_000);
    let rounds: usize = env_or("PUBLISH_BENCH_ROUNDS", 2);
    let dir = tempfile::tempdir().unwrap();
    assert!(
        support::build_plugins(dir.path(), &[SIMPLE, JSON]),
        "building the plugins failed"
    );
    let broker = Broker::start(dir.path());
    let exe = std::env::current_exe().unwrap();
    let mut best: BTreeMap<&str, (f64, f64)> = BTreeMap::new();
    for round in 0..rounds {
        for role in ["floor", "topictable"] {
            let topic = format!("publish-bench-{round}-{role}");
            broker.create_topic(&topic, 4);
            let out = Command::new(&exe)
                .env("PUBLISH_BENCH_ROLE", role)
                .env("PUBLISH_BENCH_BOOTSTRAP", broker.bootstrap())
                .env("PUBLISH_BENCH_TOPIC", &topic)
                .env("PUBLISH_BENCH_PLUGINS", dir.path())
                .env("PUBLISH_BENCH_ROWS", n.to_string())
                .output()
                .unwrap();
            let stdout = String::from_utf8_lossy(&out.stdout);
            let line = stdout
                .lines()
                .find(|l| l.starts_with("RESULT "))
                .unwrap_or_else(|| {
                    panic!(
                        "{role} failed: {stdout}\n{}",
                        String::from_utf8_lossy(&out.stderr)
                    )
                });
            let mut parts = line
                .split_whitespace()
                .skip(1)
                .map(|x| x.parse::<f64>().unwrap());
            let (wall, cpu) = (parts.next().unwrap(), parts.next().unwrap());
            eprintln!("round {round} {role}: {wall:.2} s wall, {cpu:.2} s CPU");
            let entry = best.entry(role).or_insert((f64::MAX, 0.0));
            if wall < entry.0 {
                *entry = (wall, cpu);
            }
        }
    }
    let (fw, fc) = best["floor"];
    let (tw, tc) = best["topictable"];
    println!(
        "| publisher ({n} rows, int64 key + 5-field JSON value) | wall s | msgs/s | CPU s | CPU µs/msg | msgs/s vs floor |"
    );
    println!("|---|---:|---:|---:|---:|---:|");
    println!(
        "| bare rdkafka producer, payloads pre-encoded (floor) | {fw:.2} | {:.0} | {fc:.2} | {:.2} | 1.00× |",
        n as f64 / fw,
        fc * 1e6 / n as f64
    );
    println!(
        "| topictable: append table → Kafka publisher (encodes simple + json) | {tw:.2} | {:.0} | {tc:.2} | {:.2} | {:.2}× |",
        n as f64 / tw,
        tc * 1e6 / n as f64,
        fw / tw
    );
}
