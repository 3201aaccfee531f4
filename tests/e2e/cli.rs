//! The `topictable` binary against a real broker: `run` with --exit-when,
//! --exit-after and --snapshot, a pipeline with `file` sinks, and `validate`.

use std::process::Command;

use topictable_e2e::{
    Broker, TestProducer, plugin_dir, run_python, topictable_bin, workspace_root,
};

fn pipeline_file(dir: &std::path::Path, broker: &Broker) -> std::path::PathBuf {
    let text = format!(
        r#"
[kafka]
"bootstrap.servers" = "{}"

[[table]]
name = "prices"
topic = "share.price"
type = "append"
offsets = "beginning"
key = {{ format = "simple", type = "string", column = "Symbol" }}
value = {{ format = "simple", type = "float64", column = "Price", encoding = "text" }}
columns = {{ timestamp = false }}

[[derived]]
name = "last"
from = "prices"
last_by = ["Symbol"]
"#,
        broker.bootstrap()
    );
    let path = dir.join("prices.toml");
    std::fs::write(&path, text).unwrap();
    path
}

/// A broker whose topic `share.price` holds three prices (AAPL twice).
fn broker_with_three_prices() -> Broker {
    let broker = Broker::start();
    broker.create_topic("share.price", 1);
    TestProducer::new(&broker).send_text(
        "share.price",
        0,
        &[
            (Some("AAPL"), "135.60"),
            (Some("TSLA"), "730"),
            (Some("AAPL"), "136.82"),
        ],
    );
    broker
}

fn topictable(args: &[&str]) -> std::process::Output {
    Command::new(topictable_bin())
        .arg("--plugin-dir")
        .arg(plugin_dir())
        .args(args)
        .output()
        .expect("run topictable")
}

#[test]
fn run_exits_when_the_condition_holds_and_writes_snapshots() {
    let broker = broker_with_three_prices();
    let dir = tempfile::tempdir().unwrap();
    let file = pipeline_file(dir.path(), &broker);
    let csv = dir.path().join("prices.csv");
    let jsonl = dir.path().join("last.jsonl");
    let arrow = dir.path().join("last.arrow");
    let out = topictable(&[
        "run",
        file.to_str().unwrap(),
        "--exit-when",
        "prices:rows>=3",
        "--exit-after",
        "60s",
        "--snapshot",
        &format!("prices={}", csv.display()),
        "--snapshot",
        &format!("last={}", jsonl.display()),
        "--snapshot",
        &format!("last={}", arrow.display()),
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert_eq!(
        std::fs::read_to_string(&csv).unwrap(),
        "KafkaPartition,KafkaOffset,Symbol,Price\n0,0,AAPL,135.6\n0,1,TSLA,730.0\n0,2,AAPL,136.82\n"
    );
    let lines: Vec<serde_json::Value> = std::fs::read_to_string(&jsonl)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let mut last: Vec<(String, f64)> = lines
        .iter()
        .map(|l| {
            (
                l["Symbol"].as_str().unwrap().to_string(),
                l["Price"].as_f64().unwrap(),
            )
        })
        .collect();
    last.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(
        last,
        [("AAPL".to_string(), 136.82), ("TSLA".to_string(), 730.0)]
    );
    assert!(std::fs::metadata(&arrow).unwrap().len() > 0);
    assert!(
        stderr.contains("prices: 3 messages, 3 rows, 0 decode errors"),
        "{stderr}"
    );
}

/// Reads a `file` sink's output directory with pyarrow (`read_files.py`).
fn read_with_pyarrow(dir: &std::path::Path, format: &str) -> serde_json::Value {
    let script = workspace_root().join("plugins/file-sink/tests/read_files.py");
    let out = run_python(script.to_str().unwrap(), &[dir.to_str().unwrap(), format]);
    serde_json::from_str(&out).unwrap()
}

#[test]
fn run_with_file_sinks_writes_what_pyarrow_reads_back() {
    let broker = broker_with_three_prices();
    let dir = tempfile::tempdir().unwrap();
    let file = pipeline_file(dir.path(), &broker);
    let (parquet_dir, jsonl_dir) = (dir.path().join("prices"), dir.path().join("last"));
    let mut text = std::fs::read_to_string(&file).unwrap();
    text.push_str(&format!(
        r#"
[[sink]]
name = "archive"
from = "prices"
type = "file"
config = {{ path = "{}", format = "parquet" }}

[[sink]]
name = "latest"
from = "last"
type = "file"
config = {{ path = "{}", format = "jsonl" }}
"#,
        parquet_dir.display(),
        jsonl_dir.display()
    ));
    std::fs::write(&file, text).unwrap();
    let out = topictable(&[
        "run",
        file.to_str().unwrap(),
        "--exit-when",
        "prices:rows>=3",
        "--exit-after",
        "60s",
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");

    // The append table: every row once, as an add, in offset order.
    let parquet = read_with_pyarrow(&parquet_dir, "parquet");
    let rows: Vec<&serde_json::Value> = parquet["files"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|f| f["rows"].as_array().unwrap())
        .collect();
    let rows: Vec<(String, String, f64, i64)> = rows
        .iter()
        .map(|r| {
            (
                r["_change"].as_str().unwrap().to_string(),
                r["Symbol"].as_str().unwrap().to_string(),
                r["Price"].as_f64().unwrap(),
                r["KafkaOffset"].as_i64().unwrap(),
            )
        })
        .collect();
    let expected = [("AAPL", 135.6, 0), ("TSLA", 730.0, 1), ("AAPL", 136.82, 2)]
        .map(|(s, p, o)| ("add".to_string(), s.to_string(), p, o));
    assert_eq!(rows, expected);
    assert_eq!(
        parquet["others"],
        serde_json::json!([]),
        "no temporary files left"
    );

    // The last_by table: replaying its changes gives the latest price per symbol.
    let jsonl = read_with_pyarrow(&jsonl_dir, "jsonl");
    let mut latest = std::collections::BTreeMap::new();
    for r in jsonl["files"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|f| f["rows"].as_array().unwrap())
    {
        let symbol = r["Symbol"].as_str().unwrap().to_string();
        match r["_change"].as_str().unwrap() {
            "add" | "modify" => latest.insert(symbol, r["Price"].as_f64().unwrap()),
            "remove" => latest.remove(&symbol),
            other => panic!("unknown change {other}"),
        };
    }
    assert_eq!(
        latest.into_iter().collect::<Vec<_>>(),
        [("AAPL".to_string(), 136.82), ("TSLA".to_string(), 730.0)]
    );
}

#[test]
fn run_says_when_time_ran_out_before_the_condition() {
    let broker = Broker::start();
    broker.create_topic("share.price", 1);
    let dir = tempfile::tempdir().unwrap();
    let file = pipeline_file(dir.path(), &broker);
    let out = topictable(&[
        "run",
        file.to_str().unwrap(),
        "--exit-when",
        "prices:rows>=1",
        "--exit-after",
        "2s",
    ]);
    assert_eq!(
        out.status.code(),
        Some(3),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn validate_reports_mistakes_without_connecting() {
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("good.toml");
    std::fs::write(&good, "[[table]]\nname = \"t\"\ntopic = \"x\"\nvalue = { format = \"simple\", type = \"int64\" }\n").unwrap();
    let out = topictable(&["validate", good.to_str().unwrap()]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let bad = dir.path().join("bad.toml");
    std::fs::write(&bad, "[[table]]\nname = \"t\"\ntopic = \"x\"\nvalue = { format = \"simple\", typ = \"int64\" }\n").unwrap();
    let out = topictable(&["validate", bad.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("bad.toml: table `t`, key `value`: invalid config for format `simple`: unknown key `typ` (did you mean `type`?)"), "{stderr}");
    let out = topictable(&["run", good.to_str().unwrap(), "--print", "nope"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no table `nope`"));
}

#[test]
fn ctrl_c_shuts_down_gracefully_and_still_writes_snapshots() {
    let broker = Broker::start();
    broker.create_topic("share.price", 1);
    TestProducer::new(&broker).send_text("share.price", 0, &[(Some("AAPL"), "135.60")]);
    let dir = tempfile::tempdir().unwrap();
    let file = pipeline_file(dir.path(), &broker);
    let csv = dir.path().join("prices.csv");
    let child = Command::new(topictable_bin())
        .arg("--plugin-dir")
        .arg(plugin_dir())
        .args(["run", file.to_str().unwrap(), "--snapshot"])
        .arg(format!("prices={}", csv.display()))
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_secs(4));
    let status = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert_eq!(
        std::fs::read_to_string(&csv).unwrap(),
        "KafkaPartition,KafkaOffset,Symbol,Price\n0,0,AAPL,135.6\n"
    );
    assert!(stderr.contains("prices: 1 messages, 1 rows"), "{stderr}");
}
