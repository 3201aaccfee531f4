//! What users get: the binary and plugins built by `scripts/build.sh` (as
//! `scripts/demo.sh` and the Dockerfile build them: release, `-p` only, so
//! no feature comes from another workspace crate), run with their default
//! plugin directory. Also the deployment: the Dockerfiles lint clean, and
//! the compose file's topictable command works on the host against tansu.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use serde_json::{Value, json};
use topictable_e2e::{
    Broker, Registry, TopictableProcess, produce_with_python, python, read_arrow_with_pyarrow,
    read_json_lines, run_python, shipped_bin, snapshot_arg, workspace_root,
};

/// Every `--print` view that failed to format its rows.
fn unshown_views(stdout: &str) -> Vec<&str> {
    stdout
        .lines()
        .filter(|l| l.contains("cannot show rows"))
        .collect()
}

#[test]
fn the_demo_shows_rows_of_every_table_it_prints() {
    let out = Command::new(shipped_bin())
        .args(["demo", "--exit-after", "6s", "--rate", "50"])
        .output()
        .expect("run topictable demo");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    assert!(
        unshown_views(&stdout).is_empty(),
        "the demo could not show rows:\n{stdout}"
    );
    assert!(!stderr.contains("warning:"), "{stderr}");
    // Both tables it shows, with rows: lastPrice has a KafkaTimestamp column
    // (a zone-named timestamp), totalNotional the aggregated columns.
    for (table, column) in [
        ("lastPrice", "KafkaTimestamp"),
        ("totalNotional", "Notional"),
    ] {
        let view = stdout
            .rsplit_once(&format!("── {table}:"))
            .map(|(_, v)| v.split("\n── ").next().unwrap_or(v))
            .unwrap_or_else(|| panic!("no view of {table}:\n{stdout}"));
        assert!(view.contains(column), "{table} shows no {column}:\n{view}");
        assert!(
            view.contains("AAPL") || view.contains("TSLA"),
            "{table} shows no rows:\n{view}"
        );
    }
}

/// The snapshot's timestamp cell as epoch milliseconds: RFC 3339 text (CSV,
/// JSON Lines) or an integer (pyarrow's reading of the Arrow file).
fn millis(cell: &Value) -> i64 {
    match cell {
        Value::Number(n) => n.as_i64().expect("integer"),
        Value::String(s) => chrono::DateTime::parse_from_rfc3339(s)
            .unwrap_or_else(|e| panic!("{s}: {e}"))
            .timestamp_millis(),
        other => panic!("not a timestamp: {other}"),
    }
}

fn read_csv(path: &Path) -> Vec<BTreeMap<String, String>> {
    let text = std::fs::read_to_string(path).expect("read csv");
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().expect("a header").split(',').collect();
    lines
        .map(|l| {
            header
                .iter()
                .zip(l.split(','))
                .map(|(h, v)| (h.to_string(), v.to_string()))
                .collect()
        })
        .collect()
}

#[test]
fn run_prints_and_snapshots_tables_with_kafka_timestamps() {
    let broker = Broker::start();
    broker.create_topic("share.price", 1);
    let t0 = 1_764_979_200_000_i64; // 2025-12-06T00:00:00Z
    let records: Vec<(&str, &str, i64)> = vec![
        ("AAPL", "135.60", t0),
        ("AAPL", "135.99", t0 + 1_500),
        ("TSLA", "730.25", t0 + 86_400_123),
    ];
    produce_with_python(
        &broker,
        "share.price",
        &Value::Array(
            records
                .iter()
                .map(|(k, v, ts)| {
                    json!({"key": k, "key_type": "string", "value": v, "value_type": "string", "timestamp": ts})
                })
                .collect(),
        ),
    );
    let dir = tempfile::tempdir().expect("temp dir");
    let pipeline = dir.path().join("prices.toml");
    std::fs::write(
        &pipeline,
        r#"
[[table]]
name = "prices"
topic = "share.price"
type = "append"
offsets = "beginning"
key = { format = "simple", type = "string", column = "Symbol" }
value = { format = "simple", type = "float64", column = "Price", encoding = "text" }
"#,
    )
    .expect("write pipeline");
    let (csv, jsonl, arrow) = (
        dir.path().join("prices.csv"),
        dir.path().join("prices.jsonl"),
        dir.path().join("prices.arrow"),
    );
    let out = Command::new(shipped_bin())
        .arg("run")
        .arg(&pipeline)
        .args(["-b", &broker.bootstrap(), "--print", "prices"])
        .args(["--exit-when", "prices:rows>=3", "--exit-after", "60s"])
        .args(["--snapshot", &snapshot_arg("prices", &csv)])
        .args(["--snapshot", &snapshot_arg("prices", &jsonl)])
        .args(["--snapshot", &snapshot_arg("prices", &arrow)])
        .output()
        .expect("run topictable");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    assert!(unshown_views(&stdout).is_empty(), "{stdout}");
    // The live view shows the zone-named timestamps.
    assert!(
        stdout.contains("2025-12-06T00:00:01.500") && stdout.contains("2025-12-07T00:00:00.123"),
        "{stdout}"
    );

    let from_arrow = read_arrow_with_pyarrow(&arrow);
    let arrow_rows = from_arrow["rows"].as_array().expect("rows").clone();
    let timestamp_type = from_arrow["columns"]
        .as_array()
        .expect("columns")
        .iter()
        .find(|c| c["name"] == "KafkaTimestamp")
        .map(|c| c["type"].as_str().unwrap_or_default().to_string());
    assert_eq!(timestamp_type.as_deref(), Some("timestamp[ms, tz=UTC]"));
    let json_rows = read_json_lines(&jsonl);
    let csv_rows = read_csv(&csv);
    assert_eq!(arrow_rows.len(), 3);
    assert_eq!(json_rows.len(), 3);
    assert_eq!(csv_rows.len(), 3);
    for (i, (symbol, price, ts)) in records.iter().enumerate() {
        let price: f64 = price.parse().expect("price");
        for (format, row) in [("arrow", &arrow_rows[i]), ("jsonl", &json_rows[i])] {
            assert_eq!(row["Symbol"], *symbol, "{format} row {i}");
            assert_eq!(row["Price"].as_f64(), Some(price), "{format} row {i}");
            assert_eq!(
                row["KafkaOffset"].as_i64(),
                Some(i as i64),
                "{format} row {i}"
            );
            assert_eq!(millis(&row["KafkaTimestamp"]), *ts, "{format} row {i}");
        }
        let row = &csv_rows[i];
        assert_eq!(row["Symbol"], *symbol, "csv row {i}");
        assert_eq!(row["Price"].parse::<f64>().ok(), Some(price), "csv row {i}");
        assert_eq!(row["KafkaOffset"], i.to_string(), "csv row {i}");
        assert_eq!(
            millis(&Value::String(row["KafkaTimestamp"].clone())),
            *ts,
            "csv row {i}"
        );
    }
}

#[test]
fn one_failed_snapshot_does_not_stop_the_others_and_exits_1() {
    let broker = Broker::start();
    broker.create_topic("t", 1);
    let dir = tempfile::tempdir().expect("temp dir");
    let pipeline = dir.path().join("t.toml");
    std::fs::write(
        &pipeline,
        r#"
[[table]]
name = "t"
topic = "t"
type = "append"
value = { format = "simple", type = "string" }
"#,
    )
    .expect("write pipeline");
    let unwritable = dir.path().join("no-such-dir/t.csv");
    let written = dir.path().join("t.jsonl");
    let out = Command::new(shipped_bin())
        .arg("run")
        .arg(&pipeline)
        .args(["-b", &broker.bootstrap(), "--exit-after", "1s"])
        .args(["--snapshot", &snapshot_arg("t", &unwritable)])
        .args(["--snapshot", &snapshot_arg("t", &written)])
        .output()
        .expect("run topictable");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("error: snapshot of t to ") && stderr.contains("no-such-dir"),
        "{stderr}"
    );
    assert!(
        written.exists(),
        "the snapshot after the failed one was not written"
    );
}

/// The compose file's `topictable` service: its command and environment.
fn compose_service(name: &str) -> Value {
    let compose = workspace_root().join("docker-compose.yml");
    let out = run_python(
        "compose_service.py",
        &[compose.to_str().expect("utf-8 path"), name],
    );
    serde_json::from_str(&out).expect("compose_service.py prints JSON")
}

#[test]
fn the_compose_topictable_command_runs_on_the_host_against_tansu() {
    let service = compose_service("topictable");
    assert_eq!(
        compose_service("producer")["services"],
        json!(["producer", "redpanda", "topictable"])
    );
    let broker = Broker::start();
    broker.create_topic("quotes", 1);
    broker.create_topic("orders", 1);
    let registry = Registry::start();
    // The compose file's producer, writing the guide's quotes and orders.
    let producer = workspace_root().join("deploy/produce_quotes_orders.py");
    let status = Command::new(python())
        .arg(&producer)
        .args(["--bootstrap", &broker.bootstrap()])
        .args(["--registry", registry.url(), "--guide"])
        .status()
        .expect("run the producer");
    assert!(status.success(), "{} failed", producer.display());

    // The same command and environment, with the container's paths mapped
    // to the repository and the broker and registry addresses overridden.
    let mut args: Vec<String> = service["command"]
        .as_array()
        .expect("a command list")
        .iter()
        .map(|a| a.as_str().expect("string argument").to_string())
        .collect();
    let root = workspace_root();
    for a in &mut args {
        if let Some(rest) = a.strip_prefix("/etc/topictable/") {
            *a = root.join(rest).display().to_string();
        }
    }
    let b = args
        .iter()
        .position(|a| a == "-b")
        .expect("the command names the broker with -b");
    args[b + 1] = broker.bootstrap();
    let mut command = Command::new(shipped_bin());
    command.args(&args);
    for (k, v) in service["environment"].as_object().expect("environment") {
        let v = if k == "SCHEMA_REGISTRY_URL" {
            registry.url().to_string()
        } else {
            v.as_str().expect("string").to_string()
        };
        command.env(k, v);
    }
    let dir = tempfile::tempdir().expect("temp dir");
    let snapshot = dir.path().join("totals.jsonl");
    command
        .args(["--exit-after", "8s"])
        .args(["--snapshot", &snapshot_arg("totalNotional", &snapshot)]);
    let run = TopictableProcess::spawn(&mut command);
    let finished = run.finish(Duration::from_secs(60));
    assert_eq!(finished.code, Some(0), "{}", finished.stderr);
    assert!(
        unshown_views(&finished.stdout).is_empty(),
        "{}",
        finished.stdout
    );
    assert!(
        finished.stdout.contains("totalNotional"),
        "{}",
        finished.stdout
    );
    let mut totals: Vec<(String, i64, f64)> = read_json_lines(&snapshot)
        .iter()
        .map(|r| {
            (
                r["Symbol"].as_str().expect("Symbol").to_string(),
                r["Shares"].as_i64().expect("Shares"),
                r["Notional"].as_f64().expect("Notional"),
            )
        })
        .collect();
    totals.sort_by(|a, b| a.0.cmp(&b.0));
    // The guide's figures: AAPL's last quote is 133 (7 + 2 shares), TSLA's 735 (1 + 9).
    assert_eq!(
        totals,
        vec![
            ("AAPL".to_string(), 9, 9.0 * 133.0),
            ("TSLA".to_string(), 10, 10.0 * 735.0),
        ]
    );
}

#[test]
fn the_dockerfiles_lint_clean() {
    let hadolint = python().with_file_name("hadolint");
    for file in ["Dockerfile", "deploy/producer.Dockerfile"] {
        let out = Command::new(&hadolint)
            .arg(workspace_root().join(file))
            .output()
            .unwrap_or_else(|e| panic!("run {}: {e}", hadolint.display()));
        assert!(
            out.status.success(),
            "hadolint {file}:\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

#[test]
fn the_readme_gives_the_guides_produce_commands() {
    let readme = std::fs::read_to_string(workspace_root().join("README.md")).expect("README");
    for command in [
        "docker compose exec redpanda rpk topic produce test.topic",
        "docker compose exec redpanda rpk topic produce share.price -f '%k %v\\n'",
        "docker compose exec redpanda rpk topic produce quotes -f '%k %v\\n'",
        "docker compose exec redpanda rpk topic produce orders -f \"%v\\n\"",
    ] {
        assert!(readme.contains(command), "README lacks `{command}`");
    }
}

#[test]
fn run_b_points_sinks_at_the_broker_too() {
    // examples/time_topic.toml publishes to localhost:9092 as written; with
    // -b, its sink must publish to tansu instead.
    let broker = Broker::start();
    broker.create_topic("time-topic", 1);
    let out = Command::new(shipped_bin())
        .arg("run")
        .arg(workspace_root().join("examples/time_topic.toml"))
        .args(["-b", &broker.bootstrap(), "--exit-after", "2s"])
        .output()
        .expect("run topictable");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    let read = run_python(
        "consume.py",
        &[&broker.bootstrap(), "time-topic", "5", "int", "raw"],
    );
    let keys: Vec<i64> = read
        .lines()
        .map(|l| {
            serde_json::from_str::<Value>(l).expect("a JSON line")["key"]
                .as_i64()
                .expect("an int key")
        })
        .collect();
    assert_eq!(keys, [0, 1, 2, 3, 4], "X = i, published through -b");
}
