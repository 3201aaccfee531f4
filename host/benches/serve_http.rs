//! The HTTP server under load, each against a baseline measured in the same run.
//!
//! 1. **Arrow snapshot**: `GET /api/v1/tables/T/snapshot?format=arrow` of a
//!    table of N rows, against writing the same `RecordBatch` with
//!    arrow-ipc's `StreamWriter` into memory. Goal: at most 1.2× its time.
//!    Measured twice: read whole by an HTTP client (reqwest) over loopback,
//!    and with the server's router called in-process (no socket), which is
//!    the server's own cost; a plain socket carrying the same bytes is shown
//!    for context.
//! 2. **Ingest with followers**: a pipeline created over the worker reads N
//!    JSON messages from tansu into an append table, once with no HTTP
//!    clients and once with 5 clients following `/updates` (Server-Sent
//!    Events, read to the end) and `/metrics` scraped every second. Goal:
//!    at least 0.95× the rows/s without them.
//!
//! Rounds alternate baseline and measured run; the verdict uses the median
//! of the per-round ratios.
//!
//! Run: `cargo bench -p topictable --bench serve_http`
//!
//! Environment: `SERVE_BENCH_ROWS` (default 1,000,000), `SERVE_BENCH_ROUNDS`
//! (default 5 for the snapshot, 3 for ingest), `SERVE_BENCH_PARTITIONS`
//! (default 4), `TANSU` (the broker binary), `SERVE_BENCH_RAW` (also time a
//! plain TCP read of the snapshot, to tell the client's share from the server's).

use topictable_test_support::bench as support;

use std::io::{BufRead, Read};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::time::{Duration, Instant};

use rdkafka::config::ClientConfig;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
use support::{Broker, Deliveries, JSON, env_or};
use topictable::PluginRegistry;
use topictable::serve::{self, ServeMetrics};
use topictable::worker::Worker;
use tower::ServiceExt;

/// Produces `n` JSON orders (about 80 bytes each) round-robin over the partitions.
fn produce(bootstrap: &str, topic: &str, n: u64, partitions: u32) {
    let producer: BaseProducer<Deliveries> = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("linger.ms", "20")
        .set("batch.num.messages", "10000")
        .set("batch.size", "1000000")
        .set("queue.buffering.max.messages", "1000000")
        .create_with_context(Deliveries::default())
        .expect("producer");
    const SYMBOLS: [&str; 4] = ["AAPL", "TSLA", "MSFT", "NVDA"];
    for i in 0..n {
        let value = format!(
            r#"{{"Symbol":"{}","Id":{i},"Price":{}.25,"Qty":{}}}"#,
            SYMBOLS[(i % 4) as usize],
            100 + i % 50,
            1 + i % 9
        );
        let partition = (i % u64::from(partitions)) as i32;
        loop {
            let record = BaseRecord::<[u8], [u8]>::to(topic)
                .partition(partition)
                .payload(value.as_bytes());
            match producer.send(record) {
                Ok(()) => break,
                Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), _)) => {
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
    assert_eq!(
        producer.context().ok.load(Relaxed),
        n,
        "every message acknowledged"
    );
}

fn pipeline(bootstrap: &str, table: &str, topic: &str) -> String {
    format!(
        r#"[kafka]
"bootstrap.servers" = "{bootstrap}"

[[table]]
name = "{table}"
topic = "{topic}"
type = "append"
offsets = "beginning"
value = {{ format = "json", columns = [{{ name = "Symbol", type = "string" }}, {{ name = "Id", type = "int64" }}, {{ name = "Price", type = "float64" }}, {{ name = "Qty", type = "int64" }}] }}
"#
    )
}

fn client() -> reqwest::blocking::Client {
    reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(600))
        .build()
        .expect("an HTTP client")
}

/// Creates pipeline `name` with table `table` and waits until it holds `n`
/// rows; returns the seconds from the request to the last row.
fn ingest(worker: &Worker, name: &str, table: &str, text: &str, n: usize) -> f64 {
    let start = Instant::now();
    let hosted = worker.create(name, text).expect("create the pipeline");
    let t = hosted.tables()[table].clone();
    while t.num_rows().unwrap_or(0) < n {
        assert!(
            start.elapsed() < Duration::from_secs(600),
            "ingest timed out"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    start.elapsed().as_secs_f64()
}

/// Follows `table`'s updates until `stop`; returns the bytes read.
fn follow(base: &str, table: &str, stop: Arc<AtomicBool>) -> u64 {
    let response = loop {
        match client()
            .get(format!("{base}/api/v1/tables/{table}/updates?tail=500"))
            .send()
            .and_then(|r| r.error_for_status())
        {
            Ok(r) => break r,
            // The table may not exist yet.
            Err(_) if !stop.load(Relaxed) => std::thread::sleep(Duration::from_millis(5)),
            Err(_) => return 0,
        }
    };
    let mut reader = std::io::BufReader::new(response);
    let mut bytes = 0u64;
    let mut line = Vec::new();
    while !stop.load(Relaxed) {
        line.clear();
        match reader.read_until(b'\n', &mut line) {
            Ok(0) | Err(_) => break,
            Ok(n) => bytes += n as u64,
        }
    }
    bytes
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    let n: usize = env_or("SERVE_BENCH_ROWS", 1_000_000);
    let partitions: u32 = env_or("SERVE_BENCH_PARTITIONS", 4);
    let dir = tempfile::tempdir().expect("temp dir");
    let plugin_dir = dir.path().join("plugins");
    std::fs::create_dir_all(&plugin_dir).expect("plugin dir");
    assert!(
        support::build_plugins(&plugin_dir, &[JSON]),
        "building the plugins failed"
    );
    let (plugins, errors) = PluginRegistry::load_dir(&plugin_dir);
    assert!(errors.is_empty(), "{errors:?}");
    let broker = Broker::start(dir.path());
    let bootstrap = broker.bootstrap();
    broker.create_topic("serve.bench", partitions);
    eprintln!("producing {n} JSON messages into {partitions} partitions…");
    produce(&bootstrap, "serve.bench", n as u64, partitions);

    let metrics = ServeMetrics::new();
    let worker = Arc::new(Worker::new(
        Arc::new(plugins),
        None,
        None,
        Some(metrics.cycle_hook()),
    ));
    let server =
        serve::spawn("127.0.0.1:0", worker.clone(), metrics.clone(), None).expect("server");
    let app = serve::app(worker.clone(), metrics, None);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a runtime");
    let base = format!("http://{}", server.addr());

    // 1. The Arrow snapshot against StreamWriter into memory.
    let first = ingest(
        &worker,
        "snapshot",
        "orders",
        &pipeline(&bootstrap, "orders", "serve.bench"),
        n,
    );
    eprintln!("{n} rows in {first:.2} s");
    let table = worker.get("snapshot").unwrap().tables()["orders"].clone();
    let rounds: usize = env_or("SERVE_BENCH_ROUNDS", 5);
    let (mut writer_s, mut http_s, mut ratios) = (Vec::new(), Vec::new(), Vec::new());
    let (mut floor_s, mut floor_ratios) = (Vec::new(), Vec::new());
    let (mut routed_s, mut routed_ratios) = (Vec::new(), Vec::new());
    let mut size = 0;
    for _ in 0..rounds {
        let batch = table.snapshot().expect("snapshot");
        let start = Instant::now();
        let mut out = Vec::new();
        let mut w = arrow_ipc::writer::StreamWriter::try_new(&mut out, &batch.schema()).unwrap();
        w.write(&batch).unwrap();
        w.finish().unwrap();
        let written = start.elapsed().as_secs_f64();
        size = out.len();
        // The socket floor: the same bytes written whole to a plain loopback
        // TCP connection and read to the end, no HTTP and no encoding.
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let at = listener.local_addr().unwrap();
        let sender = std::thread::spawn(move || {
            use std::io::Write;
            let (mut socket, _) = listener.accept().unwrap();
            socket.write_all(&out).unwrap();
        });
        let start = Instant::now();
        let mut received = Vec::with_capacity(size);
        std::net::TcpStream::connect(at)
            .unwrap()
            .read_to_end(&mut received)
            .unwrap();
        let floor = start.elapsed().as_secs_f64();
        sender.join().unwrap();
        assert_eq!(received.len(), size);
        drop(received);
        let start = Instant::now();
        let mut body = Vec::with_capacity(size);
        client()
            .get(format!("{base}/api/v1/tables/orders/snapshot?format=arrow"))
            .send()
            .and_then(|r| r.error_for_status())
            .expect("GET snapshot")
            .read_to_end(&mut body)
            .expect("read the body");
        let served = start.elapsed().as_secs_f64();
        // The same request to the server's router in-process: everything the
        // server does (routing, snapshot, encoding, the streamed body) with
        // no socket and no client, the body gathered into memory as the
        // baseline's is.
        let start = Instant::now();
        let in_process = runtime.block_on(async {
            let request = axum::http::Request::get("/api/v1/tables/orders/snapshot?format=arrow")
                .body(axum::body::Body::empty())
                .unwrap();
            let response = app.clone().oneshot(request).await.unwrap();
            assert!(response.status().is_success());
            axum::body::to_bytes(response.into_body(), usize::MAX)
                .await
                .expect("the body")
        });
        let routed = start.elapsed().as_secs_f64();
        assert_eq!(in_process.len(), body.len());
        drop(in_process);
        if std::env::var_os("SERVE_BENCH_RAW").is_some() {
            use std::io::Write;
            let start = Instant::now();
            let mut tcp = std::net::TcpStream::connect(server.addr()).unwrap();
            write!(tcp, "GET /api/v1/tables/orders/snapshot?format=arrow HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").unwrap();
            let mut raw = Vec::with_capacity(size * 2);
            tcp.read_to_end(&mut raw).unwrap();
            eprintln!(
                "raw TCP read of {} bytes: {:.1} ms; reqwest {:.1} ms",
                raw.len(),
                start.elapsed().as_secs_f64() * 1e3,
                served * 1e3
            );
        }
        let read: usize = arrow_ipc::reader::StreamReader::try_new(&body[..], None)
            .expect("an Arrow stream")
            .map(|b| b.expect("a batch").num_rows())
            .sum();
        assert_eq!(read, n, "every row");
        writer_s.push(written);
        http_s.push(served);
        ratios.push(served / written);
        floor_s.push(floor);
        floor_ratios.push(served / floor);
        routed_s.push(routed);
        routed_ratios.push(routed / written);
    }
    worker.delete("snapshot").unwrap();
    let snapshot_ratio = median(ratios.clone());
    let floor_ratio = median(floor_ratios.clone());
    let routed_ratio = median(routed_ratios.clone());

    // 2. Ingest with and without 5 followers and a scraper.
    let rounds: usize = env_or("SERVE_BENCH_ROUNDS", 3);
    let (mut alone_s, mut followed_s, mut ingest_ratios) = (Vec::new(), Vec::new(), Vec::new());
    let mut followed_bytes = 0u64;
    for round in 0..rounds {
        let table = format!("alone{round}");
        let alone = ingest(
            &worker,
            &table,
            &table,
            &pipeline(&bootstrap, &table, "serve.bench"),
            n,
        );
        worker.delete(&table).unwrap();

        let table = format!("followed{round}");
        let stop = Arc::new(AtomicBool::new(false));
        let mut clients: Vec<std::thread::JoinHandle<u64>> = (0..5)
            .map(|_| {
                let (base, table, stop) = (base.clone(), table.clone(), stop.clone());
                std::thread::spawn(move || follow(&base, &table, stop))
            })
            .collect();
        {
            let (base, stop) = (base.clone(), stop.clone());
            clients.push(std::thread::spawn(move || {
                let mut bytes = 0;
                while !stop.load(Relaxed) {
                    if let Ok(r) = client().get(format!("{base}/metrics")).send() {
                        bytes += r.bytes().map_or(0, |b| b.len() as u64);
                    }
                    std::thread::sleep(Duration::from_secs(1));
                }
                bytes
            }));
        }
        let followed = ingest(
            &worker,
            &table,
            &table,
            &pipeline(&bootstrap, &table, "serve.bench"),
            n,
        );
        // The followers read what is left of the stream, then stop.
        std::thread::sleep(Duration::from_millis(300));
        stop.store(true, Relaxed);
        worker.delete(&table).unwrap();
        followed_bytes = clients.into_iter().map(|c| c.join().unwrap_or(0)).sum();
        eprintln!(
            "round {round}: alone {alone:.2} s, followed {followed:.2} s ({followed_bytes} bytes read by the clients)"
        );
        alone_s.push(alone);
        followed_s.push(followed);
        ingest_ratios.push(alone / followed);
    }
    let ingest_ratio = median(ingest_ratios.clone());

    let ms = |v: &[f64]| {
        v.iter()
            .map(|s| format!("{:.1}", s * 1e3))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let secs = |v: &[f64]| {
        v.iter()
            .map(|s| format!("{s:.2}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    println!(
        "\n{n} rows (4 JSON columns plus the 3 standard ones), {partitions} partitions, tansu {}",
        support::storage_engine()
    );
    println!("\n| measure | baseline | measured | median ratio | goal | verdict |");
    println!("|---|---|---|---|---|---|");
    println!(
        "| Arrow snapshot over HTTP ({:.1} MB) vs StreamWriter into memory, ms | {} | {} | {snapshot_ratio:.2}× | ≤ 1.20× | {} |",
        size as f64 / 1e6,
        ms(&writer_s),
        ms(&http_s),
        if snapshot_ratio <= 1.2 {
            "met"
        } else {
            "NOT met"
        }
    );
    println!(
        "| the same snapshot served in-process (the router called with no socket, body gathered into memory) vs StreamWriter into memory, ms | {} | {} | {routed_ratio:.2}× | ≤ 1.20× | {} |",
        ms(&writer_s),
        ms(&routed_s),
        if routed_ratio <= 1.2 {
            "met"
        } else {
            "NOT met"
        }
    );
    println!(
        "| the same snapshot over HTTP vs its bytes over a plain loopback socket (no HTTP, no encoding), ms | {} | {} | {floor_ratio:.2}× | (context) | |",
        ms(&floor_s),
        ms(&http_s),
    );
    println!(
        "| ingest of {n} rows, s: no clients vs 5 `/updates` followers + `/metrics` each second (rows/s ratio) | {} | {} | {ingest_ratio:.2}× | ≥ 0.95× | {} |",
        secs(&alone_s),
        secs(&followed_s),
        if ingest_ratio >= 0.95 {
            "met"
        } else {
            "NOT met"
        }
    );
    println!(
        "\nper-round ratios: snapshot {ratios:.2?}; in-process {routed_ratios:.2?}; vs the socket {floor_ratios:.2?}; ingest {ingest_ratios:.2?}; the followers read {followed_bytes} bytes in the last round"
    );
    drop(server);
    worker.stop_all();
}
