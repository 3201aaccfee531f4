//! The seed's consume examples in `examples/`, run as written by the
//! `topictable` binary: only the broker address is replaced (`-b`). Each is
//! fed the seed's input by confluent-kafka, and its tables are read back from
//! `--snapshot` files. Every example also validates against the real plugins.

use std::path::PathBuf;
use std::time::Duration;

use serde_json::{Value, json};
use topictable_e2e::{
    Broker, Finished, TopictableProcess, now_millis, plugins, produce_with_python,
    read_arrow_with_pyarrow, read_json_lines, snapshot_arg, workspace_root,
};

/// How long a consumer that starts at the end of a topic (the examples'
/// default, Deephaven's DONT_SEEK) gets to look the end up before the test
/// produces.
const SETTLE: Duration = Duration::from_secs(3);

fn example(name: &str) -> PathBuf {
    workspace_root().join("examples").join(name)
}

fn examples() -> Vec<PathBuf> {
    let mut all: Vec<PathBuf> = std::fs::read_dir(workspace_root().join("examples"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    all.sort();
    all
}

/// The column names and pyarrow types of an Arrow snapshot.
fn columns(arrow: &Value) -> Vec<(String, String)> {
    arrow["columns"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["name"].as_str().unwrap().to_string(),
                c["type"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

/// Checks that every row's `KafkaTimestamp` lies in `[from, to]` (the
/// producer stamps the create time), then removes it so the rest compares exactly.
fn without_timestamps(rows: &[Value], from: i64, to: i64) -> Vec<Value> {
    rows.iter()
        .map(|r| {
            let mut r = r.clone();
            let ts = r
                .as_object_mut()
                .unwrap()
                .remove("KafkaTimestamp")
                .and_then(|t| t.as_i64())
                .unwrap_or_else(|| panic!("no KafkaTimestamp in {r}"));
            assert!(
                (from..=to).contains(&ts),
                "timestamp {ts} outside [{from}, {to}]"
            );
            r
        })
        .collect()
}

fn assert_exit_0(out: &Finished) {
    assert_eq!(out.code, Some(0), "{}", out.stderr);
}

#[test]
fn every_example_validates_against_the_real_plugins() {
    let registry = plugins();
    let all = examples();
    assert!(all.len() >= 5, "one example per seed example");
    for path in all {
        // Its codecs read their schemas from a registry when validated; the
        // compose test in shipped.rs runs it against one.
        if path.ends_with("quotes_orders_avro.toml") {
            continue;
        }
        let p = topictable::pipeline::load(&path).unwrap_or_else(|e| panic!("{e}"));
        topictable::pipeline::validate(&p, &registry).unwrap_or_else(|e| panic!("{e}"));
        let out = TopictableProcess::start(&["validate", path.to_str().unwrap()])
            .finish(Duration::from_secs(30));
        assert_exit_0(&out);
        assert!(out.stdout.contains(": ok ("), "{}", out.stdout);
    }
}

#[test]
fn seed_test_topic_example_fills_append_ring_blink_and_last_blink() {
    let broker = Broker::start();
    broker.create_topic("test.topic", 1);
    let dir = tempfile::tempdir().unwrap();
    let append = dir.path().join("resultAppend.arrow");
    let (ring, blink, last) = (
        dir.path().join("resultRing.jsonl"),
        dir.path().join("resultBlink.jsonl"),
        dir.path().join("lastBlink.jsonl"),
    );
    let run = TopictableProcess::start(&[
        "run",
        example("test_topic.toml").to_str().unwrap(),
        "-b",
        &broker.bootstrap(),
        "--exit-after",
        "15s",
        "--snapshot",
        &snapshot_arg("resultAppend", &append),
        "--snapshot",
        &snapshot_arg("resultRing", &ring),
        "--snapshot",
        &snapshot_arg("resultBlink", &blink),
        "--snapshot",
        &snapshot_arg("lastBlink", &last),
    ]);
    run.wait_until_running(SETTLE);
    // The seed types commands into `rpk topic produce test.topic`: text values, no key.
    let commands = ["ls", "pwd", "whoami", "date", "uptime"];
    let from = now_millis();
    produce_with_python(
        &broker,
        "test.topic",
        &json!(
            commands
                .iter()
                .map(|c| json!({"value": c, "value_type": "string"}))
                .collect::<Vec<_>>()
        ),
    );
    let to = now_millis();
    let out = run.finish(Duration::from_secs(60));
    assert_exit_0(&out);

    let all = read_arrow_with_pyarrow(&append);
    assert_eq!(
        columns(&all),
        [
            ("KafkaPartition", "int32"),
            ("KafkaOffset", "int64"),
            ("KafkaTimestamp", "timestamp[ms, tz=UTC]"),
            ("Command", "string"),
        ]
        .map(|(n, t)| (n.to_string(), t.to_string()))
    );
    let expected: Vec<Value> = commands
        .iter()
        .enumerate()
        .map(|(i, c)| json!({"KafkaPartition": 0, "KafkaOffset": i, "Command": c}))
        .collect();
    assert_eq!(
        without_timestamps(all["rows"].as_array().unwrap(), from, to),
        expected
    );

    // ring(3): the last three commands.
    let mut ring: Vec<(i64, String)> = read_json_lines(&ring)
        .iter()
        .map(|r| {
            (
                r["KafkaOffset"].as_i64().unwrap(),
                r["Command"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    ring.sort();
    assert_eq!(
        ring,
        [(2, "whoami"), (3, "date"), (4, "uptime")].map(|(o, c)| (o, c.to_string()))
    );
    // The blink table holds only the latest cycle's rows, and no cycle added any at the end.
    assert_eq!(read_json_lines(&blink), Vec::<Value>::new());
    // lastBlink = resultBlink.lastBy(): the last command ever seen.
    let last = read_json_lines(&last);
    assert_eq!(last.len(), 1, "{last:?}");
    assert_eq!(last[0]["Command"], "uptime");
    assert_eq!(last[0]["KafkaOffset"], 4);
    assert!(
        out.stderr
            .contains("resultAppend: 5 messages, 5 rows, 0 decode errors"),
        "{}",
        out.stderr
    );
}

/// The seed's share.price input, as `rpk topic produce share.price -f '%k %v\n'`
/// sends it: text keys and values.
fn produce_seed_prices(broker: &Broker) -> (i64, i64) {
    let from = now_millis();
    let records: Vec<Value> = [("AAPL", "135.60"), ("AAPL", "135.99"), ("AAPL", "136.82")]
        .iter()
        .map(|(k, v)| json!({"key": k, "key_type": "string", "value": v, "value_type": "string"}))
        .collect();
    produce_with_python(broker, "share.price", &json!(records));
    (from, now_millis())
}

/// Runs a share.price example until `resultAppend` has 3 rows; returns its
/// Arrow snapshot (read by pyarrow) and the produce time window.
fn run_share_price_example(file: &str) -> (Value, i64, i64) {
    let broker = Broker::start();
    broker.create_topic("share.price", 1);
    let dir = tempfile::tempdir().unwrap();
    let snapshot = dir.path().join("resultAppend.arrow");
    let run = TopictableProcess::start(&[
        "run",
        example(file).to_str().unwrap(),
        "-b",
        &broker.bootstrap(),
        "--exit-when",
        "resultAppend:rows>=3",
        "--exit-after",
        "60s",
        "--snapshot",
        &snapshot_arg("resultAppend", &snapshot),
    ]);
    run.wait_until_running(SETTLE);
    let (from, to) = produce_seed_prices(&broker);
    let out = run.finish(Duration::from_secs(90));
    assert_exit_0(&out);
    (read_arrow_with_pyarrow(&snapshot), from, to)
}

#[test]
fn seed_share_price_example_reads_symbol_and_price() {
    let (table, from, to) = run_share_price_example("share_price.toml");
    assert_eq!(
        columns(&table),
        [
            ("KafkaPartition", "int32"),
            ("KafkaOffset", "int64"),
            ("KafkaTimestamp", "timestamp[ms, tz=UTC]"),
            ("Symbol", "string"),
            ("Price", "double"),
        ]
        .map(|(n, t)| (n.to_string(), t.to_string()))
    );
    assert_eq!(
        without_timestamps(table["rows"].as_array().unwrap(), from, to),
        [
            json!({"KafkaPartition": 0, "KafkaOffset": 0, "Symbol": "AAPL", "Price": 135.60}),
            json!({"KafkaPartition": 0, "KafkaOffset": 1, "Symbol": "AAPL", "Price": 135.99}),
            json!({"KafkaPartition": 0, "KafkaOffset": 2, "Symbol": "AAPL", "Price": 136.82}),
        ]
    );
}

#[test]
fn seed_share_price_no_key_example_reads_only_the_price() {
    let (table, from, to) = run_share_price_example("share_price_no_key.toml");
    assert_eq!(
        columns(&table),
        [
            ("KafkaOffset", "int64"),
            ("KafkaTimestamp", "timestamp[ms, tz=UTC]"),
            ("Price", "double"),
        ]
        .map(|(n, t)| (n.to_string(), t.to_string()))
    );
    assert_eq!(
        without_timestamps(table["rows"].as_array().unwrap(), from, to),
        [
            json!({"KafkaOffset": 0, "Price": 135.60}),
            json!({"KafkaOffset": 1, "Price": 135.99}),
            json!({"KafkaOffset": 2, "Price": 136.82}),
        ]
    );
}
