//! Publish throughput (issue 6): N rows (int64 key, JSON value of 5 fields)
//! from an append table to tansu through the Kafka publisher, against a bare
//! rdkafka producer sending the same payloads, pre-encoded, in the same run.
//!
//! Each side runs in a child process (this binary re-executed with
//! `PUBLISH_BENCH_ROLE`), so its CPU seconds come from its own rusage and
//! exclude the broker. Runs alternate; the best of each is reported, and the
//! median of the rounds' ratios, since a shared machine makes single runs noisy.
//!
//! Run: `cargo bench -p topictable --bench publish_throughput`
//! (env `PUBLISH_BENCH_ROWS`, default 2,000,000; `PUBLISH_BENCH_ROUNDS`, default 2;
//! `PUBLISH_BENCH_PROPERTIES`, extra producer properties `key=value,…` for both sides).

use topictable_test_support::bench as support;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use arrow_array::{Array, ArrayRef, Float64Array, Int64Array, RecordBatch, StringArray};
use arrow_schema::{DataType, Field, Schema, SchemaRef};
use rdkafka::ClientConfig;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
use serde_json::json;
use support::{Broker, JSON, SIMPLE, cpu_self, env_or};
use topictable::PluginRegistry;
use topictable::ingest::KeyOrValueSpec;
use topictable::publish::{
    DEFAULT_PRODUCER_PROPERTIES, KafkaPublisher, PublishSpec, QUEUE_FULL_WAIT, SinkOptions,
    TopicChoice, start_sink,
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

fn specs() -> (KeyOrValueSpec, KeyOrValueSpec) {
    (
        KeyOrValueSpec::codec("simple", json!({"type": "int64", "column": "id"})),
        KeyOrValueSpec::codec(
            "json",
            json!({"include": ["symbol", "order", "price", "qty", "ts"]}),
        ),
    )
}

/// The producer properties of both sides: the publisher's defaults, the
/// broker, and any `key=value,…` from `PUBLISH_BENCH_PROPERTIES`, so the
/// baseline gets exactly the configuration the publisher runs.
fn producer_properties(bootstrap: &str) -> BTreeMap<String, String> {
    let extra = std::env::var("PUBLISH_BENCH_PROPERTIES").unwrap_or_default();
    DEFAULT_PRODUCER_PROPERTIES
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .chain([("bootstrap.servers".to_string(), bootstrap.to_string())])
        .chain(extra.split(',').filter_map(|kv| {
            let (k, v) = kv.split_once('=')?;
            Some((k.trim().to_string(), v.trim().to_string()))
        }))
        .collect()
}

fn codec_of(v: &KeyOrValueSpec) -> (&str, &serde_json::Value) {
    match v {
        KeyOrValueSpec::Codec { format, config } => (format, config),
        KeyOrValueSpec::Ignore => unreachable!(),
    }
}

/// What one child measured.
struct Run {
    /// Seconds from the first row to the last delivery.
    wall: f64,
    /// The child's CPU seconds over the same span, every thread.
    cpu: f64,
    /// topictable only: seconds until the engine's first cycle handed the
    /// table's first update to its listeners (the publisher among them).
    first_update: f64,
}

/// The baseline: payloads encoded beforehand (untimed), then a bare producer.
fn floor_child(bootstrap: &str, topic: &str, n: usize, plugins: &PluginRegistry) -> Run {
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
                        producer.poll(QUEUE_FULL_WAIT);
                        record = Some(r);
                    }
                    Err((e, _)) => panic!("produce: {e}"),
                }
            }
        }
    }
    producer.flush(Duration::from_secs(600)).unwrap();
    Run {
        wall: start.elapsed().as_secs_f64(),
        cpu: cpu_self() - cpu0,
        first_update: 0.0,
    }
}

/// topictable: rows pushed into an append table, published by the Kafka publisher.
fn topictable_child(bootstrap: &str, topic: &str, n: usize, plugins: &PluginRegistry) -> Run {
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
    let first_update = Arc::new(OnceLock::new());
    let first_update_seen = first_update.clone();
    let _watch = table.subscribe(move |u| {
        if !u.is_empty() {
            first_update_seen.get_or_init(Instant::now);
        }
    });
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
    Run {
        wall: start.elapsed().as_secs_f64(),
        cpu: cpu_self() - cpu0,
        first_update: first_update
            .get()
            .map_or(0.0, |t| t.duration_since(start).as_secs_f64()),
    }
}

/// Reads `topic`'s 4 partitions from the beginning and counts the records
/// (up to `n`, or until nothing has come for 10 s).
fn count_records(bootstrap: &str, topic: &str, n: usize) -> usize {
    use rdkafka::consumer::{BaseConsumer, Consumer};
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("group.id", format!("publish-bench-count-{topic}"))
        .set("enable.auto.commit", "false")
        .create()
        .unwrap();
    let mut partitions = rdkafka::TopicPartitionList::new();
    for p in 0..4 {
        partitions
            .add_partition_offset(topic, p, rdkafka::Offset::Beginning)
            .unwrap();
    }
    consumer.assign(&partitions).unwrap();
    let (mut count, mut last) = (0, Instant::now());
    while count < n && last.elapsed() < Duration::from_secs(10) {
        if let Some(Ok(_)) = consumer.poll(Duration::from_millis(100)) {
            count += 1;
            last = Instant::now();
        }
    }
    count
}

fn main() {
    if let Ok(role) = std::env::var("PUBLISH_BENCH_ROLE") {
        let bootstrap = std::env::var("PUBLISH_BENCH_BOOTSTRAP").unwrap();
        let topic = std::env::var("PUBLISH_BENCH_TOPIC").unwrap();
        let n: usize = env_or("PUBLISH_BENCH_ROWS", 2_000_000);
        let (plugins, errors) =
            PluginRegistry::load_dir(Path::new(&std::env::var("PUBLISH_BENCH_PLUGINS").unwrap()));
        assert!(errors.is_empty(), "{errors:?}");
        let run = if role == "floor" {
            floor_child(&bootstrap, &topic, n, &plugins)
        } else {
            topictable_child(&bootstrap, &topic, n, &plugins)
        };
        println!("RESULT {} {} {}", run.wall, run.cpu, run.first_update);
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
    let mut best: BTreeMap<&str, Run> = BTreeMap::new();
    let mut ratios = Vec::new();
    for round in 0..rounds {
        let mut floor_wall = 0.0;
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
            let run = Run {
                wall: parts.next().unwrap(),
                cpu: parts.next().unwrap(),
                first_update: parts.next().unwrap(),
            };
            if role == "floor" {
                eprintln!(
                    "round {round} {role}: {:.2} s wall, {:.2} s CPU",
                    run.wall, run.cpu
                );
                floor_wall = run.wall;
            } else {
                eprintln!(
                    "round {round} {role}: {:.2} s wall ({:.2} s until the first cycle's update), {:.2} s CPU",
                    run.wall, run.first_update, run.cpu
                );
                ratios.push(floor_wall / run.wall);
            }
            if best.get(role).is_none_or(|b| run.wall < b.wall) {
                best.insert(role, run);
            }
        }
    }
    // Both sides delivered every record (read back from the last round's topics).
    for role in ["floor", "topictable"] {
        let topic = format!("publish-bench-{}-{role}", rounds - 1);
        let got = count_records(&broker.bootstrap(), &topic, n);
        assert_eq!(got, n, "{role} delivered {got} of {n} records to {topic}");
    }
    ratios.sort_by(f64::total_cmp);
    let median = (ratios[(ratios.len() - 1) / 2] + ratios[ratios.len() / 2]) / 2.0;
    let (floor, tt) = (&best["floor"], &best["topictable"]);
    println!(
        "| publisher ({n} rows, int64 key + 5-field JSON value) | wall s | msgs/s | CPU s | CPU µs/msg | msgs/s vs floor |"
    );
    println!("|---|---:|---:|---:|---:|---:|");
    println!(
        "| bare rdkafka producer, payloads pre-encoded (floor) | {:.2} | {:.0} | {:.2} | {:.2} | 1.00× |",
        floor.wall,
        n as f64 / floor.wall,
        floor.cpu,
        floor.cpu * 1e6 / n as f64
    );
    println!(
        "| topictable: append table → Kafka publisher (encodes simple + json) | {:.2} | {:.0} | {:.2} | {:.2} | {:.2}× |",
        tt.wall,
        n as f64 / tt.wall,
        tt.cpu,
        tt.cpu * 1e6 / n as f64,
        floor.wall / tt.wall
    );
    println!(
        "\nmsgs/s vs floor per round (floor wall / topictable wall of the same round): median {median:.2}×, range {:.2}×–{:.2}×",
        ratios[0],
        ratios[ratios.len() - 1]
    );
    println!(
        "topictable's best run waited {:.2} s for the engine's first cycle; from that update on it took {:.2} s ({:.2}× the floor's wall time)",
        tt.first_update,
        tt.wall - tt.first_update,
        floor.wall / (tt.wall - tt.first_update)
    );
}
