//! End-to-end ingest for every format: N messages per format are produced
//! into a tansu broker (in-memory storage, one topic of P partitions per
//! format), then each topic is drained by
//!
//! - the transport floor: a bare rdkafka `BaseConsumer` with the same
//!   librdkafka settings as topictable (its defaults, `ingest::CONSUMER_DEFAULTS`,
//!   plus `INGEST_BENCH_PROPS`), assigning every partition at the beginning
//!   and counting messages without decoding them;
//! - topictable: `consume_to_table` into an append table with the standard
//!   columns, decoding through the format's plugin, until the table holds N rows.
//!
//! The formats (`INGEST_BENCH_FORMATS`, default all four):
//! - `simple`: an 8-byte big-endian int64 key and a short string value;
//! - `json`: the int64 key and a 5-field JSON value (about 95 bytes);
//! - `avro`: a Confluent-framed Avro value of 5 fields (about 30 bytes), one schema id;
//! - `protobuf`: a Confluent-framed Protobuf value of 5 fields (about 30 bytes), index [0].
//!
//! Each consumer runs in a child process (this binary, re-executed with
//! `INGEST_BENCH_ROLE` set), so its CPU comes from the child's rusage and
//! excludes the broker and the producer. The CPU compared is that of all the
//! child's threads over the ingest window (consumer creation until every
//! message is counted or every row is in the table); the whole child's CPU,
//! with plugin loading and the after-run row check, is shown beside it. Runs
//! alternate floor, topictable, floor, topictable, … per format; the best wall
//! time of each is reported, with the CPU of that run, as a markdown table;
//! the verdict on CPU uses the median of the per-round CPU ratios.
//!
//! Run: `cargo bench -p topictable --bench ingest_throughput`
//!
//! Environment:
//! - `INGEST_BENCH_MESSAGES` (default 5,000,000): messages per format;
//! - `INGEST_BENCH_PARTITIONS` (default 4);
//! - `INGEST_BENCH_ROUNDS` (default 2): floor/topictable pairs per format;
//! - `INGEST_BENCH_FORMATS` (default `simple,json,avro,protobuf`);
//! - `INGEST_BENCH_PROPS` (`k=v,k=v`): librdkafka properties for both
//!   consumers, over topictable's defaults (e.g. `fetch.queue.backoff.ms=1000`
//!   gives librdkafka's own defaults back);
//! - `INGEST_BENCH_WRAP`: a command prefix for each child, such as
//!   `perf record -e cpu-clock -g -o {role}.data --` to profile it (`{role}`
//!   becomes `floor` or `topictable`);
//! - `TANSU`: the broker binary (default `~/.cargo/bin/tansu`).

use topictable_test_support::bench as support;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::atomic::Ordering::Relaxed;
use std::time::{Duration, Instant};

use arrow_array::Array;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
use rdkafka::{Offset, TopicPartitionList};
use serde_json::json;
use support::{
    AVRO, Broker, Deliveries, JSON, PROTOBUF, SIMPLE, cpu_self, env_or, rss_bytes, rusage_secs,
    thread_cpu,
};
use topictable::PluginRegistry;
use topictable::ingest::{
    CONSUMER_DEFAULTS, ConsumeSpec, IngestStatus, InitialOffsets, KeyOrValueSpec, StartAt,
    consume_to_table,
};
use topictable_engine::{Engine, TableType};
use topictable_schema_registry::{
    ClientConfig as RegistryConfig, RegistryClient, Schema, SchemaType,
};

/// Longest any one consumer run may take before the bench gives up.
const RUN_TIMEOUT: Duration = Duration::from_secs(600);

fn env_req(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| panic!("{name} is not set"))
}

// ---------------------------------------------------------------- formats

/// One message format of the bench.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    Simple,
    Json,
    Avro,
    Protobuf,
}

const ALL_FORMATS: [Format; 4] = [Format::Simple, Format::Json, Format::Avro, Format::Protobuf];

const SYMBOLS: [&str; 8] = [
    "AAPL", "MSFT", "GOOGL", "AMZN", "NVDA", "META", "TSLA", "NFLX",
];

const AVRO_SCHEMA: &str = r#"{"type": "record", "name": "Order", "namespace": "bench",
  "fields": [{"name": "symbol", "type": "string"}, {"name": "id", "type": "long"},
             {"name": "price", "type": "double"}, {"name": "qty", "type": "int"},
             {"name": "ts", "type": "long"}]}"#;

const PROTO_SCHEMA: &str = r#"syntax = "proto3";
package bench;
message Order {
  string symbol = 1;
  int64 id = 2;
  double price = 3;
  int32 qty = 4;
  int64 ts = 5;
}
"#;

fn zigzag(out: &mut Vec<u8>, v: i64) {
    varint(out, ((v << 1) ^ (v >> 63)) as u64);
}

fn varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

impl Format {
    fn name(self) -> &'static str {
        match self {
            Format::Simple => "simple",
            Format::Json => "json",
            Format::Avro => "avro",
            Format::Protobuf => "protobuf",
        }
    }

    fn parse(s: &str) -> Self {
        ALL_FORMATS
            .into_iter()
            .find(|f| f.name() == s.trim())
            .unwrap_or_else(|| panic!("unknown format {s}"))
    }

    fn topic(self) -> String {
        format!("ingest-{}", self.name())
    }

    fn plugin(self) -> (&'static str, &'static str) {
        match self {
            Format::Simple => SIMPLE,
            Format::Json => JSON,
            Format::Avro => AVRO,
            Format::Protobuf => PROTOBUF,
        }
    }

    fn describe(self) -> &'static str {
        match self {
            Format::Simple => "key simple int64, value simple string",
            Format::Json => {
                "key simple int64, value json (symbol, id: string; price: float64; qty, ts: int64)"
            }
            Format::Avro => {
                "value avro, Confluent-framed (symbol: string, id: long, price: double, qty: int, ts: long)"
            }
            Format::Protobuf => {
                "value protobuf, Confluent-framed, index [0] (symbol: string, id: int64, price: double, qty: int32, ts: int64)"
            }
        }
    }

    /// Message `i`'s key, if any, and value (`schema_id` for the framed formats).
    fn message(self, i: u64, schema_id: u32, key: &mut Vec<u8>, value: &mut Vec<u8>) {
        key.clear();
        value.clear();
        let symbol = SYMBOLS[(i % 8) as usize];
        let price = 100.0 + (i % 10_000) as f64 / 100.0;
        let qty = (i % 1000 + 1) as i64;
        let ts = 1_763_892_000_000i64 + i as i64;
        let confluent = |value: &mut Vec<u8>| {
            value.push(0);
            value.extend_from_slice(&schema_id.to_be_bytes());
        };
        match self {
            Format::Simple => {
                key.extend_from_slice(&(i as i64).to_be_bytes());
                value.extend_from_slice(symbol.as_bytes());
            }
            Format::Json => {
                use std::io::Write;
                key.extend_from_slice(&(i as i64).to_be_bytes());
                write!(
                    value,
                    r#"{{"symbol":"{symbol}","id":"order-{i:010}","price":{price},"qty":{qty},"ts":{ts}}}"#,
                )
                .expect("write to a Vec");
            }
            Format::Avro => {
                confluent(value);
                zigzag(value, symbol.len() as i64);
                value.extend_from_slice(symbol.as_bytes());
                zigzag(value, i as i64);
                value.extend_from_slice(&price.to_le_bytes());
                zigzag(value, qty);
                zigzag(value, ts);
            }
            Format::Protobuf => {
                confluent(value);
                value.push(0); // message indexes [0]
                value.push(1 << 3 | 2);
                varint(value, symbol.len() as u64);
                value.extend_from_slice(symbol.as_bytes());
                value.push(2 << 3);
                varint(value, i);
                value.push(3 << 3 | 1);
                value.extend_from_slice(&price.to_le_bytes());
                value.push(4 << 3);
                varint(value, qty as u64);
                value.push(5 << 3);
                varint(value, ts as u64);
            }
        }
    }

    /// The table's key and value specs.
    fn specs(self, registry: &str) -> (KeyOrValueSpec, KeyOrValueSpec) {
        let int64_key =
            || KeyOrValueSpec::codec("simple", json!({"type": "int64", "column": "Key"}));
        match self {
            Format::Simple => (
                int64_key(),
                KeyOrValueSpec::codec("simple", json!({"type": "string", "column": "Symbol"})),
            ),
            Format::Json => (
                int64_key(),
                KeyOrValueSpec::codec(
                    "json",
                    json!({"columns": [
                        {"name": "symbol", "type": "string"},
                        {"name": "id", "type": "string"},
                        {"name": "price", "type": "float64"},
                        {"name": "qty", "type": "int64"},
                        {"name": "ts", "type": "int64"},
                    ]}),
                ),
            ),
            Format::Avro => (
                KeyOrValueSpec::Ignore,
                KeyOrValueSpec::codec("avro", json!({"schema_registry_url": registry})),
            ),
            Format::Protobuf => (
                KeyOrValueSpec::Ignore,
                KeyOrValueSpec::codec("protobuf", json!({"schema_registry_url": registry})),
            ),
        }
    }
}

/// librdkafka properties of `INGEST_BENCH_PROPS` (`k=v,k=v`).
fn extra_props() -> Vec<(String, String)> {
    std::env::var("INGEST_BENCH_PROPS")
        .unwrap_or_default()
        .split(',')
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect()
}

// ---------------------------------------------------------------- producing

/// Produces `n` messages of `format` round-robin over `partitions`; returns
/// (seconds, bytes of key + value).
fn produce(bootstrap: &str, format: Format, schema_id: u32, n: u64, partitions: u32) -> (f64, u64) {
    let producer: BaseProducer<Deliveries> = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("linger.ms", "20")
        .set("batch.num.messages", "10000")
        .set("batch.size", "1000000")
        .set("queue.buffering.max.messages", "1000000")
        .set("queue.buffering.max.kbytes", "1048576")
        .create_with_context(Deliveries::default())
        .expect("producer");
    let topic = format.topic();
    let start = Instant::now();
    let deadline = start + RUN_TIMEOUT;
    let (mut key, mut value) = (Vec::new(), Vec::new());
    let mut bytes = 0u64;
    for i in 0..n {
        format.message(i, schema_id, &mut key, &mut value);
        bytes += (key.len() + value.len()) as u64;
        let partition = (i % u64::from(partitions)) as i32;
        loop {
            let mut record = BaseRecord::<[u8], [u8]>::to(&topic)
                .partition(partition)
                .payload(&value[..]);
            if !key.is_empty() {
                record = record.key(&key[..]);
            }
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

/// Where topictable's memory goes once the table holds every row (bytes).
#[derive(Debug, Clone, Copy, Default)]
struct Memory {
    /// The rows' raw Arrow bytes (value and offset buffers, lengths only).
    raw: u64,
    /// What the table's Arrow chunks hold (buffer capacities).
    table: u64,
    /// Growth of the process's RSS since just before the consumer started,
    /// with the consumer still running.
    rss_open: u64,
    /// The same once the consumer is closed (librdkafka's queues and fetch
    /// buffers freed) and the cycle thread stopped.
    rss_closed: u64,
    /// The same after `malloc_trim(0)`: the freed memory glibc kept is
    /// returned to the system.
    rss_trimmed: u64,
}

/// CPU seconds by thread name (see `support::thread_cpu`).
type ThreadCpu = BTreeMap<String, f64>;

/// CPU each thread used between two `thread_cpu` readings.
fn thread_delta(before: &ThreadCpu, after: ThreadCpu) -> ThreadCpu {
    after
        .into_iter()
        .map(|(name, secs)| {
            let d = secs - before.get(&name).copied().unwrap_or(0.0);
            (name, d)
        })
        .filter(|(_, d)| *d > 0.0)
        .collect()
}

/// What a child reports.
struct ChildResult {
    wall: f64,
    cpu: f64,
    /// CPU by thread over the timed window.
    threads: ThreadCpu,
    /// topictable only.
    memory: Memory,
}

/// The transport floor: counts messages until `n`, decoding nothing.
fn floor_child(bootstrap: &str, topic: &str, n: u64) -> ChildResult {
    let threads0 = thread_cpu();
    let cpu0 = cpu_self();
    let start = Instant::now();
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let mut config = ClientConfig::new();
    config
        .set("bootstrap.servers", bootstrap)
        .set("group.id", format!("floor-{}-{nanos}", std::process::id()))
        .set("enable.auto.commit", "false")
        .set("enable.auto.offset.store", "false")
        .set("auto.offset.reset", "earliest");
    for (k, v) in CONSUMER_DEFAULTS {
        config.set(k, v);
    }
    for (k, v) in extra_props() {
        config.set(k, v);
    }
    let consumer: BaseConsumer = config.create().expect("consumer");
    let metadata = consumer
        .fetch_metadata(Some(topic), Duration::from_secs(10))
        .expect("metadata");
    let mut tpl = TopicPartitionList::new();
    for p in metadata.topics()[0].partitions() {
        tpl.add_partition_offset(topic, p.id(), Offset::Beginning)
            .expect("tpl");
    }
    consumer.assign(&tpl).expect("assign");
    let deadline = start + RUN_TIMEOUT;
    let (mut seen, mut bytes) = (0u64, 0usize);
    let mut polls = 0u32;
    while seen < n {
        // The clock is read every 4096 polls, so the floor does no work per
        // message beyond librdkafka's.
        polls = polls.wrapping_add(1);
        if polls.is_multiple_of(4096) {
            assert!(
                Instant::now() < deadline,
                "floor: only {seen} of {n} messages"
            );
        }
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
    ChildResult {
        wall: start.elapsed().as_secs_f64(),
        cpu: cpu_self() - cpu0,
        threads: thread_delta(&threads0, thread_cpu()),
        memory: Memory::default(),
    }
}

/// topictable: `consume_to_table` into an append table until it holds `n` rows.
fn topictable_child(
    bootstrap: &str,
    format: Format,
    n: u64,
    plugin_dir: &Path,
    registry_url: &str,
) -> ChildResult {
    let (registry, errors) = PluginRegistry::load_dir(plugin_dir);
    assert!(errors.is_empty(), "{errors:?}");
    let engine = Engine::new();
    let cycles = engine.start();
    let rss0 = rss_bytes();
    let threads0 = thread_cpu();
    let cpu0 = cpu_self();
    let start = Instant::now();
    let (key, value) = format.specs(registry_url);
    let mut spec = ConsumeSpec::new(bootstrap, &format.topic(), key, value);
    spec.table_type = TableType::Append;
    spec.offsets = InitialOffsets::all(StartAt::Beginning);
    spec.properties.extend(extra_props());
    let mut consumed = consume_to_table(&engine, "t", &registry, spec).expect("consume");
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
        // Checked every 5 ms: often enough for the wall time, rarely enough
        // that the check costs nothing next to the ingest.
        std::thread::sleep(Duration::from_millis(5));
    }
    let wall = start.elapsed().as_secs_f64();
    let cpu = cpu_self() - cpu0;
    let threads = thread_delta(&threads0, thread_cpu());
    let rss_open = rss_bytes().saturating_sub(rss0);
    let table = consumed
        .table()
        .memory_bytes()
        .expect("memory")
        .expect("an append table keeps Arrow chunks") as u64;
    let errors = consumed.error_counts();
    consumed.stop();
    cycles.stop();
    let rss_closed = rss_bytes().saturating_sub(rss0);
    // SAFETY: malloc_trim only returns free heap memory to the system.
    unsafe { libc::malloc_trim(0) };
    let rss_trimmed = rss_bytes().saturating_sub(rss0);
    let snapshot = consumed.table().snapshot().expect("snapshot");
    assert_eq!(snapshot.num_rows() as u64, n, "more rows than messages");
    assert_eq!(errors.decode_errors, 0, "record errors: {errors:?}");
    let raw = snapshot
        .columns()
        .iter()
        .map(|c| c.to_data().get_slice_memory_size().expect("memory size") as u64)
        .sum();
    ChildResult {
        wall,
        cpu,
        threads,
        memory: Memory {
            raw,
            table,
            rss_open,
            rss_closed,
            rss_trimmed,
        },
    }
}

fn child_main(role: &str) {
    let bootstrap = env_req("INGEST_BENCH_BOOTSTRAP");
    let n: u64 = env_req("INGEST_BENCH_MESSAGES").parse().expect("count");
    let format = Format::parse(&env_req("INGEST_BENCH_FORMAT"));
    let r = match role {
        "floor" => floor_child(&bootstrap, &format.topic(), n),
        "topictable" => topictable_child(
            &bootstrap,
            format,
            n,
            Path::new(&env_req("INGEST_BENCH_PLUGIN_DIR")),
            &env_req("INGEST_BENCH_REGISTRY"),
        ),
        other => panic!("unknown role {other}"),
    };
    let m = r.memory;
    let threads: Vec<String> = r
        .threads
        .iter()
        .map(|(name, secs)| format!("{}={secs}", name.replace(' ', "_")))
        .collect();
    println!("THREADS {}", threads.join(" "));
    println!(
        "RESULT {} {} {} {} {} {} {}",
        r.wall, r.cpu, m.raw, m.table, m.rss_open, m.rss_closed, m.rss_trimmed
    );
}

// ---------------------------------------------------------------- parent

#[derive(Debug, Clone)]
struct Run {
    wall: f64,
    /// CPU of the whole child process (user + system), from its rusage:
    /// start-up (plugin loading) and the after-run checks included.
    cpu: f64,
    /// CPU of all the child's threads from just before the consumer is
    /// created until the last message is counted (floor) or the table
    /// holds every row (topictable): what the table compares.
    cpu_timed: f64,
    memory: Memory,
    /// CPU by thread over the timed window.
    threads: ThreadCpu,
}

fn run_child(role: &str, env: &[(&str, String)]) -> Run {
    let before = rusage_secs(libc::RUSAGE_CHILDREN);
    let exe = std::env::current_exe().expect("current exe");
    // INGEST_BENCH_WRAP (e.g. `perf record -e cpu-clock -g -o {role}.data --`)
    // runs each child under a profiler.
    let wrap = std::env::var("INGEST_BENCH_WRAP").unwrap_or_default();
    let wrap = wrap.replace("{role}", role);
    let mut words = wrap.split_whitespace();
    let mut cmd = match words.next() {
        Some(program) => {
            let mut cmd = Command::new(program);
            cmd.args(words).arg(exe);
            cmd
        }
        _ => Command::new(exe),
    };
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
    let parts: Vec<f64> = line
        .split_whitespace()
        .map(|p| p.parse::<f64>().expect("number"))
        .collect();
    let threads = stdout
        .lines()
        .find_map(|l| l.strip_prefix("THREADS "))
        .unwrap_or_default()
        .split_whitespace()
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| (k.to_string(), v.parse::<f64>().expect("seconds")))
        .collect();
    Run {
        wall: parts[0],
        cpu: after - before,
        cpu_timed: parts[1],
        threads,
        memory: Memory {
            raw: parts[2] as u64,
            table: parts[3] as u64,
            rss_open: parts[4] as u64,
            rss_closed: parts[5] as u64,
            rss_trimmed: parts[6] as u64,
        },
    }
}

/// The median of topictable's CPU over the floor's, round by round (each
/// round runs the two back to back, so slow drifts of the machine cancel).
fn median_cpu_ratio(floor: &[Run], tt: &[Run]) -> f64 {
    let mut ratios: Vec<f64> = floor
        .iter()
        .zip(tt)
        .map(|(f, t)| t.cpu_timed / f.cpu_timed)
        .collect();
    ratios.sort_by(f64::total_cmp);
    let mid = ratios.len() / 2;
    if ratios.len() % 2 == 1 {
        ratios[mid]
    } else {
        (ratios[mid - 1] + ratios[mid]) / 2.0
    }
}

fn best(runs: &[Run]) -> Run {
    runs.iter()
        .min_by(|a, b| a.wall.total_cmp(&b.wall))
        .expect("at least one round")
        .clone()
}

fn main() {
    if let Ok(role) = std::env::var("INGEST_BENCH_ROLE") {
        child_main(&role);
        return;
    }
    let n: u64 = env_or("INGEST_BENCH_MESSAGES", 5_000_000);
    let partitions: u32 = env_or("INGEST_BENCH_PARTITIONS", 4);
    let rounds: usize = env_or("INGEST_BENCH_ROUNDS", 2);
    let formats: Vec<Format> = std::env::var("INGEST_BENCH_FORMATS")
        .map(|s| s.split(',').map(Format::parse).collect())
        .unwrap_or_else(|_| ALL_FORMATS.to_vec());

    let dir = tempfile::tempdir().expect("temp dir");
    let plugin_dir = dir.path().join("plugins");
    std::fs::create_dir_all(&plugin_dir).expect("plugin dir");
    let mut plugins = vec![SIMPLE];
    plugins.extend(formats.iter().map(|f| f.plugin()).filter(|p| *p != SIMPLE));
    assert!(
        support::build_plugins(&plugin_dir, &plugins),
        "building the plugins failed"
    );

    let registry = topictable_registry_server::spawn("127.0.0.1:0").expect("registry");
    let registry_url = registry.url();
    let client = RegistryClient::new(RegistryConfig::new(&registry_url)).expect("registry client");
    let broker = Broker::start(dir.path());
    let bootstrap = broker.bootstrap();
    let mut avg_bytes = BTreeMap::new();
    for &format in &formats {
        let schema = match format {
            Format::Avro => Some(Schema::avro(AVRO_SCHEMA)),
            Format::Protobuf => Some(Schema {
                schema: PROTO_SCHEMA.into(),
                schema_type: SchemaType::Protobuf,
                references: Vec::new(),
            }),
            _ => None,
        };
        let schema_id = schema.map_or(0, |s| {
            client
                .register(&format!("{}-value", format.topic()), &s)
                .expect("register the schema")
        });
        broker.create_topic(&format.topic(), partitions);
        eprintln!(
            "producing {n} {} messages into {partitions} partitions…",
            format.name()
        );
        let (secs, bytes) = produce(&bootstrap, format, schema_id, n, partitions);
        let avg = bytes as f64 / n as f64;
        eprintln!(
            "produced in {secs:.1} s ({:.0} msgs/s), {avg:.1} bytes/message (key + value)",
            n as f64 / secs
        );
        avg_bytes.insert(format.name(), avg);
    }

    let mut results: Vec<(Format, Run, Run)> = Vec::new();
    let mut medians: BTreeMap<&str, f64> = BTreeMap::new();
    for &format in &formats {
        let env = [
            ("INGEST_BENCH_BOOTSTRAP", bootstrap.clone()),
            ("INGEST_BENCH_MESSAGES", n.to_string()),
            ("INGEST_BENCH_FORMAT", format.name().to_string()),
            (
                "INGEST_BENCH_PLUGIN_DIR",
                plugin_dir.to_string_lossy().into_owned(),
            ),
            ("INGEST_BENCH_REGISTRY", registry_url.clone()),
        ];
        let (mut floor, mut tt) = (Vec::new(), Vec::new());
        for round in 1..=rounds {
            for (role, runs) in [("floor", &mut floor), ("topictable", &mut tt)] {
                let r = run_child(role, &env);
                eprintln!(
                    "{} round {round} {role}: {:.2} s wall, {:.2} s CPU ({:.2} s timed)",
                    format.name(),
                    r.wall,
                    r.cpu,
                    r.cpu_timed
                );
                runs.push(r);
            }
        }
        results.push((format, best(&floor), best(&tt)));
        medians.insert(format.name(), median_cpu_ratio(&floor, &tt));
        eprintln!(
            "{} all runs (wall s / process CPU s): floor {}; topictable {}",
            format.name(),
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
    }

    let props = extra_props();
    println!();
    println!(
        "{n} messages per format, {partitions} partitions, tansu {}; best of {rounds} alternating runs each; \
         librdkafka settings: topictable's defaults {CONSUMER_DEFAULTS:?}{}",
        support::storage_engine(),
        if props.is_empty() {
            String::new()
        } else {
            format!(" with {props:?}")
        }
    );
    println!(
        "topictable: append table with KafkaPartition, KafkaOffset, KafkaTimestamp; 100 ms cycle"
    );
    println!();
    println!(
        "| format | bytes/msg | consumer | wall s | msgs/s | CPU s | CPU µs/msg | wall vs floor | CPU vs floor | whole child CPU s | table bytes/row (raw Arrow) | RSS growth/row |"
    );
    println!("|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    for (format, f, t) in &results {
        for (label, r) in [("floor", f), ("topictable", t)] {
            let (bytes_row, rss_row) = if label == "topictable" {
                (
                    format!("{:.1}", r.memory.raw as f64 / n as f64),
                    format!("{:.1}", r.memory.rss_open as f64 / n as f64),
                )
            } else {
                (String::new(), String::new())
            };
            println!(
                "| {} | {:.1} | {label} | {:.2} | {:.0} | {:.2} | {:.3} | {:.2}× | {:.2}× | {:.2} | {bytes_row} | {rss_row} |",
                format.name(),
                avg_bytes[format.name()],
                r.wall,
                n as f64 / r.wall,
                r.cpu_timed,
                r.cpu_timed * 1e6 / n as f64,
                r.wall / f.wall,
                r.cpu_timed / f.cpu_timed,
                r.cpu,
            );
        }
    }
    println!();
    println!(
        "CPU µs/msg by thread, same runs (`ingest-…`: poll, decode, assemble; `update-cycle`: the engine; \
         `librdkafka`: fetch and parse; the floor's poll loop is its main thread):"
    );
    println!();
    println!("| format | consumer | main | ingest | update-cycle | librdkafka | other |");
    println!("|---|---|---:|---:|---:|---:|---:|");
    for (format, f, t) in &results {
        for (label, r) in [("floor", f), ("topictable", t)] {
            let us = |secs: f64| format!("{:.3}", secs * 1e6 / n as f64);
            let (mut main, mut ingest, mut cycle, mut kafka, mut other) = (0.0, 0.0, 0.0, 0.0, 0.0);
            for (name, secs) in &r.threads {
                match name.as_str() {
                    "librdkafka" => kafka += secs,
                    "update-cycle" => cycle += secs,
                    n if n.starts_with("ingest-") && n != "ingest_throughp" => ingest += secs,
                    "ingest_throughp" => main += secs,
                    _ => other += secs,
                }
            }
            println!(
                "| {} | {label} | {} | {} | {} | {} | {} |",
                format.name(),
                us(main),
                us(ingest),
                us(cycle),
                us(kafka),
                us(other)
            );
        }
    }
    println!();
    println!("topictable's memory once the table holds every row, bytes per row:");
    println!();
    println!(
        "| format | raw Arrow | table's Arrow chunks | RSS growth, consumer open | consumer closed | after malloc_trim |"
    );
    println!("|---|---:|---:|---:|---:|---:|");
    for (format, _, t) in &results {
        let per_row = |b: u64| b as f64 / n as f64;
        let m = t.memory;
        println!(
            "| {} | {:.1} | {:.1} | {:.1} | {:.1} | {:.1} |",
            format.name(),
            per_row(m.raw),
            per_row(m.table),
            per_row(m.rss_open),
            per_row(m.rss_closed),
            per_row(m.rss_trimmed),
        );
    }
    println!();
    for (format, f, t) in &results {
        // Wall from the best runs; CPU as the median of the per-round ratios.
        let (w, c) = (t.wall / f.wall, medians[format.name()]);
        println!(
            "{}: wall {w:.2}× (goal ≤ 1.1: {}), CPU {c:.2}× (median of {rounds} rounds; goal ≤ 1.5: {}); {}",
            format.name(),
            if w <= 1.1 { "met" } else { "MISSED" },
            if c <= 1.5 { "met" } else { "MISSED" },
            format.describe()
        );
    }
    drop(broker);
    drop(registry);
}
