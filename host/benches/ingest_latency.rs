//! Produce-to-visible latency (issue 4, third benchmark): a producer thread
//! sends a steady stream (default 50k msgs/s for 20 s) into a tansu broker
//! (in-memory storage), each value being the send time in epoch microseconds
//! (8 bytes big-endian, `simple` int64). topictable consumes the topic into a
//! blink table with the engine's default 100 ms cycle; a table subscription
//! computes, for every added row, (time the update is delivered) − (send time).
//!
//! In the same run and process, a bare rdkafka `BaseConsumer` reads the same
//! topic and records (time the message is polled) − (send time): the
//! transport's share of the latency. topictable's `KafkaReceiveTime` column
//! (when its consumer received the batch, ms) splits topictable's own latency
//! into "until received" and "received until visible".
//!
//! Run: `cargo bench -p topictable --bench ingest_latency`
//!
//! Environment:
//! - `INGEST_LATENCY_RATE` (default 50000) messages per second;
//! - `INGEST_LATENCY_SECS` (default 20) seconds of producing;
//! - `INGEST_LATENCY_WARMUP_SECS` (default 2) first seconds left out of the figures;
//! - `INGEST_LATENCY_PARTITIONS` (default 4);
//! - `INGEST_LATENCY_LINGER_MS` (default 1): the producer's `linger.ms`;
//! - `INGEST_LATENCY_CONSUMER_PROPS` (e.g. `fetch.wait.max.ms=10,fetch.min.bytes=1`):
//!   librdkafka properties set on both consumers;
//! - `INGEST_LATENCY_BROKER` (default `tansu`): `mock` uses librdkafka's
//!   embedded mock cluster instead, to compare with a broker that answers a
//!   fetch as soon as data is there; `external` uses a running broker at
//!   `INGEST_LATENCY_BOOTSTRAP` (host:port), where the topic `latency-bench`
//!   must already exist with `INGEST_LATENCY_PARTITIONS` partitions;
//! - `TANSU`: the broker binary (default `~/.cargo/bin/tansu`);
//! - `TANSU_STORAGE`: its `--storage-engine` (default `memory://tansu/`).

use topictable_test_support::bench as support;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use arrow_array::Array;
use arrow_array::cast::AsArray;
use arrow_array::types::{Int64Type, TimestampMillisecondType};
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::Message;
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
use rdkafka::{Offset, TopicPartitionList};
use serde_json::json;
use support::{Broker, SIMPLE, env_or};
use topictable::PluginRegistry;
use topictable::ingest::{ConsumeSpec, InitialOffsets, KeyOrValueSpec, StartAt, consume_to_table};
use topictable_engine::{Engine, TableType};

const TOPIC: &str = "latency-bench";

fn now_micros() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_micros() as i64)
}

fn consumer_props() -> Vec<(String, String)> {
    std::env::var("INGEST_LATENCY_CONSUMER_PROPS")
        .unwrap_or_default()
        .split(',')
        .filter(|kv| !kv.trim().is_empty())
        .map(|kv| {
            let (k, v) = kv.split_once('=').expect("key=value");
            (k.trim().to_string(), v.trim().to_string())
        })
        .collect()
}

/// Percentiles of a sample, in milliseconds.
struct Stats {
    n: usize,
    p50: f64,
    p90: f64,
    p99: f64,
    p999: f64,
    max: f64,
}

fn stats(mut micros: Vec<i64>) -> Stats {
    assert!(!micros.is_empty(), "no samples");
    micros.sort_unstable();
    let at = |q: f64| {
        let i = ((micros.len() as f64 * q).ceil() as usize).clamp(1, micros.len()) - 1;
        micros[i] as f64 / 1000.0
    };
    Stats {
        n: micros.len(),
        p50: at(0.50),
        p90: at(0.90),
        p99: at(0.99),
        p999: at(0.999),
        max: *micros.last().expect("non-empty") as f64 / 1000.0,
    }
}

/// What the topictable subscription collects.
#[derive(Default)]
struct Collected {
    /// delivered − sent, µs, per row sent after the warm-up.
    total: Vec<i64>,
    /// received (ms) − sent (ms), per row sent after the warm-up.
    until_received: Vec<i64>,
    /// delivered − received, µs, per row sent after the warm-up.
    received_to_visible: Vec<i64>,
    /// Times between consecutive updates, µs.
    periods: Vec<i64>,
    last_update: Option<i64>,
    rows: u64,
}

fn main() {
    let rate: u64 = env_or("INGEST_LATENCY_RATE", 50_000);
    let secs: f64 = env_or("INGEST_LATENCY_SECS", 20.0);
    let warmup: f64 = env_or("INGEST_LATENCY_WARMUP_SECS", 2.0);
    let partitions: u32 = env_or("INGEST_LATENCY_PARTITIONS", 4);
    let linger: u32 = env_or("INGEST_LATENCY_LINGER_MS", 1);
    let props = consumer_props();

    let dir = tempfile::tempdir().expect("temp dir");
    let plugin_dir = dir.path().join("plugins");
    std::fs::create_dir_all(&plugin_dir).expect("plugin dir");
    assert!(
        support::build_plugins(&plugin_dir, &[SIMPLE]),
        "building the simple plugin failed"
    );
    let (registry, errors) = PluginRegistry::load_dir(&plugin_dir);
    assert!(errors.is_empty(), "{errors:?}");

    let broker_kind = std::env::var("INGEST_LATENCY_BROKER").unwrap_or_else(|_| "tansu".into());
    let (broker, mock, bootstrap) = if broker_kind == "external" {
        // A broker started by the user (e.g. docker-compose.yml's Kafka), with
        // the topic created beforehand.
        let bootstrap =
            std::env::var("INGEST_LATENCY_BOOTSTRAP").expect("INGEST_LATENCY_BOOTSTRAP=host:port");
        (None, None, bootstrap)
    } else if broker_kind == "mock" {
        let mock = rdkafka::mocking::MockCluster::new(1).expect("mock cluster");
        mock.create_topic(TOPIC, partitions as i32, 1)
            .expect("mock topic");
        let bootstrap = mock.bootstrap_servers();
        (None, Some(mock), bootstrap)
    } else {
        let broker = Broker::start(dir.path());
        broker.create_topic(TOPIC, partitions);
        let bootstrap = broker.bootstrap();
        (Some(broker), None, bootstrap)
    };

    // topictable: blink table, default (100 ms) cycle.
    let engine = Engine::new();
    let cycle_period = engine.config().period;
    let cycles = engine.start();
    let mut spec = ConsumeSpec::new(
        &bootstrap,
        TOPIC,
        KeyOrValueSpec::Ignore,
        KeyOrValueSpec::codec("simple", json!({"type": "int64", "column": "SentMicros"})),
    );
    spec.table_type = TableType::Blink;
    spec.offsets = InitialOffsets::all(StartAt::Beginning);
    spec.columns.receive_time = Some("KafkaReceiveTime".into());
    for (k, v) in &props {
        spec.properties.insert(k.clone(), v.clone());
    }
    let mut consumed = consume_to_table(&engine, "latency", &registry, spec).expect("consume");
    // Samples count for messages sent after this time (set when producing starts).
    let measure_from = Arc::new(AtomicU64::new(u64::MAX));
    let collected = Arc::new(Mutex::new(Collected::default()));
    let subscription = {
        let collected = collected.clone();
        let measure_from = measure_from.clone();
        consumed.table().subscribe(move |update| {
            let now = now_micros();
            let from = measure_from.load(Relaxed) as i64;
            let sent = update
                .added
                .column_by_name("SentMicros")
                .expect("SentMicros")
                .as_primitive::<Int64Type>();
            let received = update
                .added
                .column_by_name("KafkaReceiveTime")
                .expect("KafkaReceiveTime")
                .as_primitive::<TimestampMillisecondType>();
            let mut c = collected.lock().expect("lock");
            if let Some(last) = c.last_update {
                c.periods.push(now - last);
            }
            c.last_update = Some(now);
            c.rows += sent.len() as u64;
            for i in 0..sent.len() {
                let s = sent.value(i);
                if s < from {
                    continue;
                }
                c.total.push(now - s);
                if received.is_valid(i) {
                    let r = received.value(i);
                    c.until_received.push(r * 1000 - s);
                    c.received_to_visible.push(now - r * 1000);
                }
            }
        })
    };

    // The transport floor: a bare consumer, same topic, same process.
    let stop = Arc::new(AtomicBool::new(false));
    let floor = {
        let bootstrap = bootstrap.clone();
        let stop = stop.clone();
        let measure_from = measure_from.clone();
        let props = props.clone();
        std::thread::spawn(move || {
            let mut config = ClientConfig::new();
            config
                .set("bootstrap.servers", &bootstrap)
                .set("group.id", format!("latency-floor-{}", std::process::id()))
                .set("enable.auto.commit", "false")
                .set("auto.offset.reset", "earliest");
            for (k, v) in &props {
                config.set(k, v);
            }
            let consumer: BaseConsumer = config.create().expect("consumer");
            let mut tpl = TopicPartitionList::new();
            for p in 0..partitions as i32 {
                tpl.add_partition_offset(TOPIC, p, Offset::Beginning)
                    .expect("tpl");
            }
            consumer.assign(&tpl).expect("assign");
            let mut samples = Vec::new();
            let mut seen = 0u64;
            while !stop.load(Relaxed) {
                if let Some(Ok(m)) = consumer.poll(Duration::from_millis(100)) {
                    let now = now_micros();
                    seen += 1;
                    if let Some(p) = m.payload().and_then(|p| <[u8; 8]>::try_from(p).ok()) {
                        let s = i64::from_be_bytes(p);
                        if s >= measure_from.load(Relaxed) as i64 {
                            samples.push(now - s);
                        }
                    }
                }
            }
            (samples, seen)
        })
    };
    // Let both consumers connect before producing.
    std::thread::sleep(Duration::from_secs(2));

    // The producer: a steady `rate`, paced in 1 ms steps.
    let producer: BaseProducer = ClientConfig::new()
        .set("bootstrap.servers", &bootstrap)
        .set("linger.ms", linger.to_string())
        .set("queue.buffering.max.messages", "1000000")
        .create()
        .expect("producer");
    let start = Instant::now();
    measure_from.store((now_micros() + (warmup * 1e6) as i64) as u64, Relaxed);
    let end = start + Duration::from_secs_f64(secs);
    let mut sent = 0u64;
    let mut queue_full = 0u64;
    while Instant::now() < end {
        let due = (start.elapsed().as_secs_f64() * rate as f64) as u64;
        while sent < due {
            let v = now_micros().to_be_bytes();
            let record: BaseRecord<'_, [u8], [u8]> = BaseRecord::to(TOPIC)
                .partition((sent % u64::from(partitions)) as i32)
                .payload(&v[..]);
            match producer.send(record) {
                Ok(()) => sent += 1,
                Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), _)) => {
                    queue_full += 1;
                    break;
                }
                Err((e, _)) => panic!("produce: {e}"),
            }
        }
        producer.poll(Duration::ZERO);
        std::thread::sleep(Duration::from_micros(500));
    }
    let produce_secs = start.elapsed().as_secs_f64();
    producer.flush(Duration::from_secs(30)).expect("flush");

    // Wait (bounded) until topictable has every row.
    let deadline = Instant::now() + Duration::from_secs(30);
    while collected.lock().expect("lock").rows < sent && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_millis(300));
    stop.store(true, Relaxed);
    let (floor_samples, floor_seen) = floor.join().expect("floor thread");
    drop(subscription);
    let errors = consumed.error_counts();
    consumed.stop();
    cycles.stop();
    drop(producer);
    drop(broker);
    drop(mock);

    let c = std::mem::take(&mut *collected.lock().expect("lock"));
    println!();
    println!(
        "{sent} messages at {rate} msgs/s target ({:.0} achieved) for {produce_secs:.1} s, {partitions} partitions, broker {}, producer linger.ms={linger}; first {warmup} s left out",
        sent as f64 / produce_secs,
        if broker_kind == "mock" {
            "librdkafka mock cluster".to_string()
        } else if broker_kind == "external" {
            format!("external at {bootstrap}")
        } else {
            format!("tansu {}", support::storage_engine())
        }
    );
    println!(
        "topictable: blink table, value simple int64, cycle {} ms; rows seen {} of {sent}; floor saw {floor_seen}; record errors {errors:?}; producer queue-full events {queue_full}",
        cycle_period.as_millis(),
        c.rows
    );
    if !props.is_empty() {
        println!("consumer properties: {props:?}");
    }
    println!();
    println!("| latency (ms) | samples | p50 | p90 | p99 | p99.9 | max |");
    println!("|---|---:|---:|---:|---:|---:|---:|");
    let period = stats(c.periods.clone());
    let tt = stats(c.total);
    for (label, s) in [
        ("topictable: produce → visible (update delivered)", &tt),
        (
            "… of which produce → received by topictable (ms clock)",
            &stats(c.until_received),
        ),
        (
            "… of which received → visible",
            &stats(c.received_to_visible),
        ),
        (
            "floor: produce → polled by a bare rdkafka consumer",
            &stats(floor_samples),
        ),
        (
            "time between non-empty updates (cycle period 100 ms; empty cycles deliver none)",
            &period,
        ),
    ] {
        println!(
            "| {label} | {} | {:.1} | {:.1} | {:.1} | {:.1} | {:.1} |",
            s.n, s.p50, s.p90, s.p99, s.p999, s.max
        );
    }
    println!();
    let goal = cycle_period.as_secs_f64() * 1000.0 + 5.0;
    println!(
        "goal: p99 ≤ cycle + 5 ms = {goal:.0} ms: p99 {:.1} ms → {}",
        tt.p99,
        if tt.p99 <= goal { "MET" } else { "MISSED" }
    );
}
