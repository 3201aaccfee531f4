//! `topictable demo`: an embedded Kafka broker (librdkafka's mock cluster), a
//! generated quotes/orders stream like the one in Deephaven's Kafka guide,
//! and that guide's "Perform multiple operations" pipeline with
//! `totalNotional` shown live.

use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use clap::Args;
use rdkafka::ClientConfig;
use rdkafka::mocking::MockCluster;
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
use topictable::PluginRegistry;
use topictable::ingest::{InitialOffsets, StartAt};
use topictable::pipeline;

use super::run::{EXIT_CONFIG, RunArgs, ServeArgs, run_pipeline};

/// The "Perform multiple operations" pipeline of Deephaven's Kafka guide.
const DEMO_PIPELINE: &str = include_str!("../../../examples/quotes_orders.toml");

/// Options of `topictable demo`.
#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Stop after this long (e.g. `20s`); default: run until Ctrl-C.
    #[arg(long = "exit-after", value_name = "DURATION")]
    pub exit_after: Option<String>,
    /// Stop when TABLE has at least N rows (`TABLE:rows>=N`).
    #[arg(long = "exit-when", value_name = "TABLE:rows>=N")]
    pub exit_when: Vec<String>,
    /// Messages per second the generator writes to each topic.
    #[arg(long, default_value_t = 20)]
    pub rate: u32,
    /// On exit, write TABLE's final rows to PATH (.csv, .jsonl or .arrow).
    #[arg(long = "snapshot", value_name = "TABLE=PATH")]
    pub snapshot: Vec<String>,
    /// The web view, REST API and metrics.
    #[command(flatten)]
    pub serve: ServeArgs,
}

const SYMBOLS: [(&str, f64); 4] = [
    ("AAPL", 135.0),
    ("TSLA", 730.0),
    ("MSFT", 410.0),
    ("NVDA", 140.0),
];

/// Writes quotes (key Symbol, value `{"Price": …}`) and orders (JSON) until stopped.
fn generate(producer: BaseProducer, rate: u32, stop: Arc<AtomicBool>) {
    let mut seed: u64 = 0x2545_f491_4f6c_dd1d;
    let mut next = move || {
        // xorshift: deterministic, dependency-free pseudo-randomness.
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let pause = Duration::from_secs_f64(1.0 / f64::from(rate.max(1)));
    // A first quote for every symbol, so orders find a price to join with.
    for (symbol, base) in SYMBOLS {
        let quote = format!("{{\"Price\": {base:.2}}}");
        let _ = producer.send(BaseRecord::to("quotes").key(symbol).payload(&quote));
    }
    let _ = producer.flush(Duration::from_secs(5));
    let mut order = 0u64;
    while !stop.load(Ordering::Relaxed) {
        let (symbol, base) = SYMBOLS[(next() % SYMBOLS.len() as u64) as usize];
        let price = base + (next() % 400) as f64 / 100.0 - 2.0;
        let quote = format!("{{\"Price\": {price:.2}}}");
        let _ = producer.send(BaseRecord::to("quotes").key(symbol).payload(&quote));
        order += 1;
        let id = format!("o{}", order % 40);
        let qty = 1 + next() % 10;
        let limit = price + (next() % 200) as f64 / 100.0 - 1.0;
        let order_json = format!(
            "{{\"Symbol\": \"{symbol}\", \"Id\": \"{id}\", \"LimitPrice\": {limit:.2}, \"Qty\": {qty}}}"
        );
        let _ = producer.send(BaseRecord::<(), _>::to("orders").payload(&order_json));
        producer.poll(Duration::ZERO);
        std::thread::sleep(pause);
    }
    let _ = producer.flush(Duration::from_secs(5));
}

/// Runs the demo.
pub fn demo(args: DemoArgs, plugins: &Arc<PluginRegistry>) -> ExitCode {
    if plugins.codec("json").is_none() || plugins.codec("simple").is_none() {
        eprintln!(
            "error: the demo needs the `simple` and `json` plugins in the plugin directory (scripts/demo.sh puts them there)"
        );
        return ExitCode::from(EXIT_CONFIG);
    }
    let cluster = match MockCluster::new(1) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: cannot start the embedded broker: {e}");
            return ExitCode::FAILURE;
        }
    };
    for topic in ["quotes", "orders"] {
        if let Err(e) = cluster.create_topic(topic, 1, 1) {
            eprintln!("error: cannot create topic {topic}: {e}");
            return ExitCode::FAILURE;
        }
    }
    let bootstrap = cluster.bootstrap_servers();
    println!("embedded Kafka broker (librdkafka mock cluster) at {bootstrap}");
    // Avro/Protobuf producers can register their schemas here while the demo runs.
    let registry = topictable_registry_server::spawn("127.0.0.1:0");
    match &registry {
        Ok(r) => println!(
            "embedded schema registry (Confluent-compatible) at {}",
            r.url()
        ),
        Err(e) => eprintln!("warning: the embedded schema registry did not start: {e}"),
    }
    println!("topics `quotes` and `orders`; produce more with any Kafka client, e.g.");
    println!(
        "  kcat -P -b {bootstrap} -t orders    then  {{\"Symbol\": \"AAPL\", \"Id\": \"o1\", \"LimitPrice\": 136, \"Qty\": 7}}"
    );
    println!();

    let producer: BaseProducer = match ClientConfig::new()
        .set("bootstrap.servers", &bootstrap)
        .create()
    {
        Ok(p) => p,
        Err(e) => {
            eprintln!("error: cannot create the generator's producer: {e}");
            return ExitCode::FAILURE;
        }
    };
    let stop = Arc::new(AtomicBool::new(false));
    let generator = {
        let stop = stop.clone();
        let rate = args.rate;
        std::thread::spawn(move || generate(producer, rate, stop))
    };

    let mut p = match pipeline::parse(Path::new("examples/quotes_orders.toml"), DEMO_PIPELINE) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(EXIT_CONFIG);
        }
    };
    p.set_bootstrap_servers(&bootstrap);
    for (_, spec) in &mut p.sources {
        spec.offsets = InitialOffsets::all(StartAt::Beginning);
    }
    let run_args = RunArgs {
        pipeline: p.file.clone(),
        print: vec!["lastPrice".into(), "totalNotional".into()],
        exit_when: args.exit_when,
        exit_after: args.exit_after,
        snapshot: args.snapshot,
        bootstrap_servers: None,
        serve: args.serve,
    };
    let code = run_pipeline(p, DEMO_PIPELINE.to_string(), plugins, &run_args);
    stop.store(true, Ordering::Relaxed);
    let _ = generator.join();
    drop(registry);
    drop(cluster);
    code
}
