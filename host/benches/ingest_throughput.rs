//! End-to-end ingest (issue 4, first benchmark): N messages of about 100
//! bytes (an int64 key, 8 bytes big-endian, and a 5-field JSON value) are
//! produced into a tansu broker (in-memory storage), then drained by
//!
//! - the transport floor: a bare rdkafka `BaseConsumer` that assigns every
//!   partition at the beginning and counts messages without decoding them;
//! - topictable: `consume_to_table` into an append table (key `simple` int64,
//!   value `json` with 5 typed columns), until `table.num_rows()` reaches N
//!   (the engine's cycle thread runs at its default 100 ms period).
//!
//! Each consumer runs in a child process (this binary, re-executed with
//! `INGEST_BENCH_ROLE` set), so its CPU time is read from the child's rusage
//! and excludes the broker and the producer. Runs alternate (floor, topictable,
//! floor, topictable, …) and the best of each is reported, as a markdown table.
//!
//! Run: `cargo bench -p topictable --bench ingest_throughput`
//!
//! Environment:
//! - `INGEST_BENCH_MESSAGES` (default 5,000,000): messages produced and drained;
//! - `INGEST_BENCH_PARTITIONS` (default 4): partitions of the topic;
//! - `INGEST_BENCH_ROUNDS` (default 2): floor/topictable pairs;
//! - `TANSU`: the broker binary (default `~/.cargo/bin/tansu`).

#[path = "support/mod.rs"]
mod support;

use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::{Duration, Instant};

use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::DeliveryResult;
use rdkafka::producer::{BaseProducer, BaseRecord, Producer, ProducerContext};
use rdkafka::{ClientContext, Offset, TopicPartitionList};
use serde_json::{Value, json};
use support::{Broker, JSON, SIMPLE, cpu_self, env_or, rusage_secs};
use topictable::PluginRegistry;
use topictable::ingest::{
    ConsumeSpec, IngestStatus, InitialOffsets, StartAt, ValueSpec, consume_to_table,
};
use topictable_engine::{Engine, TableType};
use topictable_sdk::Side;

const TOPIC: &str = "ingest-bench";
/// Longest any one consumer run may take before the bench gives up.
const RUN_TIMEOUT: Duration = Duration::from_secs(600);

fn env_req(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| panic!("{name} is not set"))
}

// ---------------------------------------------------------------- messages

const SYMBOLS: [&str; 8] = [
    "AAPL", "MSFT", "GOOGL", "AMZN", "NVDA", "META", "TSLA", "NFLX",
];

fn key(i: u64) -> [u8; 8] {
    (i as i64).to_be_bytes()
}

fn value(i: u64, out: &mut String) {
    use std::fmt::Write;
    out.clear();
    let price = 100.0 + (i % 10_000) as f64 / 100.0;
    write!(
        out,
        r#"{{"symbol":"{}","id":"order-{:010}","price":{price},"qty":{},"ts":{}}}"#,
        SYMBOLS[(i % 8) as usize],
        i,
        i % 1000 + 1,
        1_763_892_000_000u64 + i
    )
    .expect("write to a String");
}

fn value_spec_json() -> Value {
    json!({"columns": [
        {"name": "symbol", "type": "string"},
        {"name": "id", "type": "string"},
        {"name": "price", "type": "float64"},
        {"name": "qty", "type": "int64"},
        {"name": "ts", "type": "int64"},
    ]})
}

// ---------------------------------------------------------------- broker and plugins

// ---------------------------------------------------------------- producing

struct Deliveries {
    ok: AtomicU64,
    failed: AtomicU64,
}

impl ClientContext for Deliveries {}

impl ProducerContext for Deliveries {
    type DeliveryOpaque = ();
    fn delivery(&self, result: &DeliveryResult<'_>, _: ()) {
        match result {
            Ok(_) => self.ok.fetch_add(1, Relaxed),
            Err(_) => self.failed.fetch_add(1, Relaxed),
        };
    }
}

/// Produces `n` messages round-robin over `partitions`; returns (seconds, bytes of key+value).
fn produce(bootstrap: &str, n: u64, partitions: u32) -> (f64, u64) {
    let producer: BaseProducer<Deliveries> = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("linger.ms", "20")
        .set("batch.num.messages", "10000")
        .set("batch.size", "1000000")
        .set("queue.buffering.max.messages", "1000000")
        .set("queue.buffering.max.kbytes", "1048576")
        .create_with_context(Deliveries {
            ok: AtomicU64::new(0),
            failed: AtomicU64::new(0),
        })
        .expect("producer");
    let start = Instant::now();
    let deadline = start + RUN_TIMEOUT;
    let mut text = String::new();
    let mut bytes = 0u64;
    for i in 0..n {
        value(i, &mut text);
        let k = key(i);
        bytes += (k.len() + text.len()) as u64;
        let partition = (i % u64::from(partitions)) as i32;
        loop {
            let record = BaseRecord::to(TOPIC)
                .partition(partition)
                .key(&k[..])
                .payload(text.as_bytes());
            match producer.send(record) {
                Ok(()) => break,
                Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), _)) => {
                    assert!(Instant::now() < deadline, "producing timed out");
                    producer.poll(Duration::from_millis(10));
                }
                Err((e, _)) => panic!("produce: {e}"),
            }
        }
        if i % 1000 == 0 {
            producer.poll(Duration::ZERO);
        }
    }
    producer.flush(Duration::from_secs(300)).expect("flush");
    let ctx = producer.context();
    assert_eq!(ctx.failed.load(Relaxed), 0, "some deliveries failed");
    assert_eq!(
        ctx.ok.load(Relaxed),
        n,
        "not every message was acknowledged"
    );
    (start.elapsed().as_secs_f64(), bytes)
}

// ---------------------------------------------------------------- the two consumers (child side)

/// The transport floor: counts messages until `n`, decoding nothing.
fn floor_child(bootstrap: &str, n: u64) -> (f64, f64) {
    let cpu0 = cpu_self();
    let start = Instant::now();
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("group.id", format!("floor-{}-{nanos}", std::process::id()))
        .set("enable.auto.commit", "false")
        .set("enable.auto.offset.store", "false")
        .set("auto.offset.reset", "earliest")
        .create()
        .expect("consumer");
    let metadata = consumer
        .fetch_metadata(Some(TOPIC), Duration::from_secs(10))
        .expect("metadata");
    let mut tpl = TopicPartitionList::new();
    for p in metadata.topics()[0].partitions() {
        tpl.add_partition_offset(TOPIC, p.id(), Offset::Beginning)
            .expect("tpl");
    }
    consumer.assign(&tpl).expect("assign");
    let deadline = start + RUN_TIMEOUT;
    let (mut seen, mut bytes) = (0u64, 0usize);
    while seen < n {
        assert!(
            Instant::now() < deadline,
            "floor: only {seen} of {n} messages"
        );
        match consumer.poll(Duration::from_millis(100)) {
            Some(Ok(m)) => {
                seen += 1;
                bytes += m.key_len() + m.payload_len();
            }
            Some(Err(e)) => eprintln!("floor: kafka: {e}"),
            None => {}
        }
    }
    std::hint::black_box(bytes);
    (start.elapsed().as_secs_f64(), cpu_self() - cpu0)
}

/// topictable: `consume_to_table` into an append table until it holds `n` rows.
fn topictable_child(bootstrap: &str, n: u64, plugin_dir: &Path, json_values: bool) -> (f64, f64) {
    let (registry, errors) = PluginRegistry::load_dir(plugin_dir);
    assert!(errors.is_empty(), "{errors:?}");
    let engine = Engine::new();
    let cycles = engine.start();
    let cpu0 = cpu_self();
    let start = Instant::now();
    let value = if json_values {
        ValueSpec::codec("json", value_spec_json())
    } else {
        ValueSpec::codec("simple", json!({"type": "bytes", "column": "Value"}))
    };
    let mut spec = ConsumeSpec::new(
        bootstrap,
        TOPIC,
        ValueSpec::codec("simple", json!({"type": "int64", "column": "Key"})),
        value,
    );
    spec.table_type = TableType::Append;
    spec.offsets = InitialOffsets::all(StartAt::Beginning);
    let mut consumed = consume_to_table(&engine, "orders", &registry, spec).expect("consume");
    let deadline = start + RUN_TIMEOUT;
    loop {
        let rows = consumed.table().num_rows().expect("num_rows") as u64;
        if rows >= n {
            break;
        }
        if let IngestStatus::Failed(e) = consumed.status() {
            panic!("topictable: the table failed: {e}");
        }
        assert!(
            Instant::now() < deadline,
            "topictable: only {rows} of {n} rows"
        );
        std::thread::sleep(Duration::from_millis(2));
    }
    let wall = start.elapsed().as_secs_f64();
    let cpu = cpu_self() - cpu0;
    let errors = consumed.error_counts();
    consumed.stop();
    cycles.stop();
    let rows = consumed.table().num_rows().expect("num_rows");
    assert_eq!(rows as u64, n, "more rows than messages: {rows}");
    eprintln!("topictable: record errors {errors:?}");
    (wall, cpu)
}

fn child_main(role: &str) {
    let bootstrap = env_req("INGEST_BENCH_BOOTSTRAP");
    let n: u64 = env_req("INGEST_BENCH_MESSAGES").parse().expect("count");
    let (wall, cpu) = match role {
        "floor" => floor_child(&bootstrap, n),
        "topictable" => topictable_child(
            &bootstrap,
            n,
            Path::new(&env_req("INGEST_BENCH_PLUGIN_DIR")),
            env_req("INGEST_BENCH_JSON") == "1",
        ),
        other => panic!("unknown role {other}"),
    };
    println!("RESULT {wall} {cpu}");
}

// ---------------------------------------------------------------- parent

struct Run {
    wall: f64,
    /// CPU of the whole child process (user + system), from its rusage.
    cpu: f64,
    /// CPU of the child during the timed part only.
    cpu_timed: f64,
}

fn run_child(role: &str, env: &[(&str, String)]) -> Run {
    let before = rusage_secs(libc::RUSAGE_CHILDREN);
    let exe = std::env::current_exe().expect("current exe");
    let mut cmd = Command::new(exe);
    cmd.env("INGEST_BENCH_ROLE", role).stderr(Stdio::inherit());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("run child");
    let after = rusage_secs(libc::RUSAGE_CHILDREN);
    assert!(out.status.success(), "{role} child failed");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let line = stdout
        .lines()
        .find_map(|l| l.strip_prefix("RESULT "))
        .expect("child printed no RESULT");
    let mut parts = line
        .split_whitespace()
        .map(|p| p.parse::<f64>().expect("number"));
    let wall = parts.next().expect("wall");
    let cpu_timed = parts.next().expect("cpu");
    Run {
        wall,
        cpu: after - before,
        cpu_timed,
    }
}

fn main() {
    if let Ok(role) = std::env::var("INGEST_BENCH_ROLE") {
        child_main(&role);
        return;
    }
    let n: u64 = env_or("INGEST_BENCH_MESSAGES", 5_000_000);
    let partitions: u32 = env_or("INGEST_BENCH_PARTITIONS", 4);
    let rounds: usize = env_or("INGEST_BENCH_ROUNDS", 2);

    let dir = tempfile::tempdir().expect("temp dir");
    let plugin_dir = dir.path().join("plugins");
    std::fs::create_dir_all(&plugin_dir).expect("plugin dir");
    let mut json_values = support::build_plugins(&plugin_dir, &[SIMPLE, JSON]) || {
        eprintln!("building the json plugin failed; falling back to `simple` bytes values");
        assert!(
            support::build_plugins(&plugin_dir, &[SIMPLE]),
            "building the simple plugin failed"
        );
        false
    };
    if json_values {
        let (registry, errors) = PluginRegistry::load_dir(&plugin_dir);
        if let Err(e) = registry.new_decoder("json", &value_spec_json(), Side::Value) {
            eprintln!(
                "the json plugin does not take the bench's spec ({e}; load errors {errors:?}); falling back to `simple` bytes values"
            );
            json_values = false;
        }
    }

    let broker = Broker::start(dir.path());
    broker.create_topic(TOPIC, partitions);
    let bootstrap = broker.bootstrap();
    eprintln!("producing {n} messages into {partitions} partitions…");
    let (produce_secs, bytes) = produce(&bootstrap, n, partitions);
    eprintln!(
        "produced in {produce_secs:.1} s ({:.0} msgs/s), {:.1} bytes/message (key + value)",
        n as f64 / produce_secs,
        bytes as f64 / n as f64
    );

    let env = [
        ("INGEST_BENCH_BOOTSTRAP", bootstrap.clone()),
        ("INGEST_BENCH_MESSAGES", n.to_string()),
        (
            "INGEST_BENCH_PLUGIN_DIR",
            plugin_dir.to_string_lossy().into_owned(),
        ),
        (
            "INGEST_BENCH_JSON",
            if json_values { "1" } else { "0" }.into(),
        ),
    ];
    let mut floor: Vec<Run> = Vec::new();
    let mut tt: Vec<Run> = Vec::new();
    for round in 1..=rounds {
        for (role, runs) in [("floor", &mut floor), ("topictable", &mut tt)] {
            let r = run_child(role, &env);
            eprintln!(
                "round {round} {role}: {:.2} s wall, {:.2} s CPU ({:.2} s timed)",
                r.wall, r.cpu, r.cpu_timed
            );
            runs.push(r);
        }
    }
    let best = |runs: &[Run]| {
        runs.iter()
            .min_by(|a, b| a.wall.total_cmp(&b.wall))
            .map(|r| (r.wall, r.cpu, r.cpu_timed))
            .expect("at least one round")
    };
    let (fw, fc, fct) = best(&floor);
    let (tw, tc, tct) = best(&tt);
    let value_desc = if json_values {
        "json (symbol, id: string; price: float64; qty, ts: int64)"
    } else {
        "simple bytes (the json plugin was NOT available: values are not decoded)"
    };
    println!();
    println!(
        "{n} messages, {:.0} bytes/message on average (8-byte int64 key + JSON value), {partitions} partitions, tansu {}; best of {rounds} alternating runs each",
        bytes as f64 / n as f64,
        support::storage_engine()
    );
    println!("topictable: append table, key simple int64, value {value_desc}, 100 ms cycle");
    println!();
    println!(
        "| consumer | wall s | msgs/s | CPU s (process) | CPU s (timed part) | CPU µs/msg | wall vs floor |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|");
    for (label, w, c, ct) in [
        ("rdkafka BaseConsumer, no decode (floor)", fw, fc, fct),
        ("topictable consume_to_table → append", tw, tc, tct),
    ] {
        println!(
            "| {label} | {w:.2} | {:.0} | {c:.2} | {ct:.2} | {:.2} | {:.2}× |",
            n as f64 / w,
            c * 1e6 / n as f64,
            w / fw
        );
    }
    println!();
    let ratio = tw / fw;
    println!(
        "goal: topictable wall ≤ 1.25× floor: {ratio:.2}× → {}",
        if ratio <= 1.25 { "MET" } else { "MISSED" }
    );
    println!(
        "all runs (wall s / process CPU s): floor {}; topictable {}",
        floor
            .iter()
            .map(|r| format!("{:.2}/{:.2}", r.wall, r.cpu))
            .collect::<Vec<_>>()
            .join(", "),
        tt.iter()
            .map(|r| format!("{:.2}/{:.2}", r.wall, r.cpu))
            .collect::<Vec<_>>()
            .join(", ")
    );
    drop(broker);
}
