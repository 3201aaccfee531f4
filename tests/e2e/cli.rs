//! The `topictable` binary against a real broker: `run` with --exit-when,
//! --exit-after and --snapshot (read back, Arrow IPC by pyarrow), `--print`,
//! error counts and exit codes, Ctrl-C and two processes in one consumer
//! group, a pipeline with `file` sinks, and `validate`.

use std::process::Command;

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use serde_json::json;
use topictable_e2e::{
    Broker, TestProducer, TopictableProcess, plugin_dir, produce_with_python,
    read_arrow_with_pyarrow, read_json_lines, run_python, shipped_bin, snapshot_arg,
    topictable_bin, wait_for, workspace_root,
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
        &snapshot_arg("prices", &csv),
        "--snapshot",
        &snapshot_arg("last", &jsonl),
        "--snapshot",
        &snapshot_arg("last", &arrow),
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
    // The Arrow IPC snapshot, read back by pyarrow, holds the same rows and types.
    let table = read_arrow_with_pyarrow(&arrow);
    assert_eq!(
        table["columns"],
        serde_json::json!([
            {"name": "Symbol", "type": "string"},
            {"name": "KafkaPartition", "type": "int32"},
            {"name": "KafkaOffset", "type": "int64"},
            {"name": "Price", "type": "double"},
        ])
    );
    let mut from_arrow = table["rows"].as_array().unwrap().clone();
    let mut from_jsonl = lines.clone();
    let by_symbol = |a: &serde_json::Value, b: &serde_json::Value| {
        a["Symbol"].as_str().cmp(&b["Symbol"].as_str())
    };
    from_arrow.sort_by(by_symbol);
    from_jsonl.sort_by(by_symbol);
    assert_eq!(from_arrow, from_jsonl);
    assert_eq!(from_arrow.len(), 2);
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

    // Exit code 1: the run itself went fine, but a snapshot cannot be written.
    let unwritable = dir.path().join("no-such-dir/prices.csv");
    let out = topictable(&[
        "run",
        file.to_str().unwrap(),
        "--exit-after",
        "1s",
        "--snapshot",
        &snapshot_arg("prices", &unwritable),
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("error: snapshot of prices to ") && stderr.contains("no-such-dir"),
        "{stderr}"
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
    // Group-mode mistakes are found without connecting, naming the key.
    let group = dir.path().join("group.toml");
    std::fs::write(
        &group,
        "[kafka]\n\"group.id\" = \"g\"\n[[table]]\nname = \"t\"\ntopic = \"x\"\nmode = \"group\"\npartitions = [0]\nvalue = { format = \"simple\", type = \"int64\" }\n",
    )
    .unwrap();
    let out = topictable(&["validate", group.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("group.toml: table `t`, key `partitions`: in group mode the group assigns the partitions"),
        "{stderr}"
    );
    // Formulas are type-checked against the input schema: an unknown
    // column is named with the table, the formula and its position.
    let formula = dir.path().join("formula.toml");
    std::fs::write(
        &formula,
        "[[table]]\nname = \"t\"\ntopic = \"x\"\nvalue = { format = \"simple\", type = \"int64\" }\n\
         [[derived]]\nname = \"d\"\nfrom = \"t\"\nupdate = [\"X = i\", \"N = KafkaValue * Prise\"]\n",
    )
    .unwrap();
    let out = topictable(&["validate", formula.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("formula.toml: table `d`")
            && stderr.contains("N = KafkaValue * Prise")
            && stderr.contains("Prise")
            && stderr.contains("at column 18"),
        "{stderr}"
    );
    std::fs::write(
        &formula,
        "[[table]]\nname = \"t\"\ntopic = \"x\"\nvalue = { format = \"simple\", type = \"int64\" }\n\
         [[derived]]\nname = \"d\"\nfrom = \"t\"\nupdate = [\"X = i\", \"N = KafkaValue * 2.5\"]\n",
    )
    .unwrap();
    let out = topictable(&["validate", formula.to_str().unwrap()]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
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
        .arg(snapshot_arg("prices", &csv))
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

/// A broker whose topic `ints` holds 7, a 5-byte value that is no int64, and 9.
fn broker_with_a_bad_int() -> Broker {
    let broker = Broker::start();
    broker.create_topic("ints", 1);
    broker.create_topic("ints.dlq", 1);
    let p = TestProducer::new(&broker);
    p.send("ints", 0, None, Some(&7i64.to_be_bytes()), &[]);
    p.send("ints", 0, None, Some(b"12345"), &[]);
    p.send("ints", 0, None, Some(&9i64.to_be_bytes()), &[]);
    broker
}

/// A source table over `ints` with `on_error` as given (plus `extra` keys).
fn int_table(name: &str, on_error: &str, extra: &str) -> String {
    format!(
        r#"
[[table]]
name = "{name}"
topic = "ints"
type = "append"
offsets = "beginning"
value = {{ format = "simple", type = "int64", column = "N" }}
columns = {{ timestamp = false }}
on_error = "{on_error}"
{extra}
"#
    )
}

#[test]
fn run_prints_rows_rate_and_error_counts() {
    let broker = broker_with_a_bad_int();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("ints.toml");
    std::fs::write(
        &file,
        format!(
            "[kafka]\n\"bootstrap.servers\" = \"{}\"\n{}{}",
            broker.bootstrap(),
            int_table("skipping", "skip", ""),
            int_table(
                "lettering",
                "dead-letter",
                "dead_letter_topic = \"ints.dlq\""
            ),
        ),
    )
    .unwrap();
    let out = TopictableProcess::start(&[
        "run",
        file.to_str().unwrap(),
        "--print",
        "skipping",
        "--print",
        "lettering",
        "--exit-when",
        "skipping:rows>=2",
        "--exit-when",
        "lettering:rows>=2",
        "--exit-after",
        "60s",
    ])
    .finish(Duration::from_secs(90));
    assert_eq!(out.code, Some(0), "{}", out.stderr);

    // The summary on exit.
    assert!(
        out.stderr
            .contains("skipping: 3 messages, 2 rows, 1 decode errors (1 skipped, 0 dead-lettered)"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains(
            "lettering: 3 messages, 2 rows, 1 decode errors (0 skipped, 1 dead-lettered)"
        ),
        "{}",
        out.stderr
    );
    // The skipped record's error names topic, partition and offset.
    assert!(
        out.stderr.contains("topic ints partition 0 offset 1"),
        "{}",
        out.stderr
    );

    // The live view (not a terminal here, so no screen clearing): the last
    // frame shows each table's rows, rate, status and error counts.
    assert!(!out.stdout.contains('\x1b'), "{}", out.stdout);
    let last_frame = &out.stdout[out.stdout.rfind("── skipping:").expect("a frame")..];
    let header = |table: &str| {
        last_frame
            .lines()
            .find(|l| l.starts_with(&format!("── {table}: ")))
            .unwrap_or_else(|| panic!("no line for {table} in\n{last_frame}"))
            .to_string()
    };
    let skipping = header("skipping");
    assert!(
        skipping.starts_with("── skipping: 2 rows (") && skipping.contains(" rows/s) ["),
        "{skipping}"
    );
    assert!(
        skipping.ends_with("; errors: 1 decode, 1 skipped, 0 dead-lettered]"),
        "{skipping}"
    );
    let lettering = header("lettering");
    assert!(
        lettering.ends_with("; errors: 1 decode, 0 skipped, 1 dead-lettered]"),
        "{lettering}"
    );
    // …and the rows themselves, as a grid.
    let grid: Vec<Vec<String>> = last_frame
        .lines()
        .take_while(|l| !l.starts_with("── lettering"))
        .filter(|l| l.starts_with('|'))
        .map(|l| {
            l.trim_matches('|')
                .split('|')
                .map(|c| c.trim().to_string())
                .collect()
        })
        .collect();
    assert_eq!(
        grid,
        [
            ["KafkaPartition", "KafkaOffset", "N"],
            ["0", "0", "7"],
            ["0", "2", "9"]
        ]
        .map(|r| r.map(String::from).to_vec())
    );
}

#[test]
fn an_exit_condition_on_a_stopped_table_ends_the_run_at_once() {
    let broker = broker_with_a_bad_int();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("ints.toml");
    std::fs::write(
        &file,
        format!(
            "[kafka]\n\"bootstrap.servers\" = \"{}\"\n{}",
            broker.bootstrap(),
            int_table("failing", "fail", ""),
        ),
    )
    .unwrap();
    let csv = dir.path().join("failing.csv");
    let started = std::time::Instant::now();
    let out = TopictableProcess::start(&[
        "run",
        file.to_str().unwrap(),
        "--exit-when",
        "failing:rows>=3",
        "--exit-after",
        "120s",
        "--snapshot",
        &snapshot_arg("failing", &csv),
    ])
    .finish(Duration::from_secs(150));
    assert_eq!(out.code, Some(4), "{}", out.stderr);
    assert!(
        started.elapsed() < Duration::from_secs(60),
        "the run waited for --exit-after: {:?}",
        started.elapsed()
    );
    assert!(
        out.stderr
            .contains("error: --exit-when failing:rows>=3 can no longer hold: the table stopped"),
        "{}",
        out.stderr
    );
    // The rows visible before the failure are in the snapshot.
    assert_eq!(
        std::fs::read_to_string(&csv).unwrap(),
        "KafkaPartition,KafkaOffset,N\n0,0,7\n"
    );
}

#[test]
fn a_failed_table_gives_exit_code_4_and_the_others_keep_running() {
    let broker = broker_with_a_bad_int();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("ints.toml");
    std::fs::write(
        &file,
        format!(
            "[kafka]\n\"bootstrap.servers\" = \"{}\"\n{}{}",
            broker.bootstrap(),
            int_table("failing", "fail", ""),
            int_table("skipping", "skip", ""),
        ),
    )
    .unwrap();
    let csv = dir.path().join("skipping.csv");
    let failed_csv = dir.path().join("failing.csv");
    let out = TopictableProcess::start(&[
        "run",
        file.to_str().unwrap(),
        "--exit-after",
        "6s",
        "--snapshot",
        &snapshot_arg("skipping", &csv),
        "--snapshot",
        &snapshot_arg("failing", &failed_csv),
    ])
    .finish(Duration::from_secs(60));
    assert_eq!(out.code, Some(4), "{}", out.stderr);
    assert!(
        out.stderr.contains("error: table `failing` stopped: ")
            && out.stderr.contains("topic ints partition 0 offset 1"),
        "{}",
        out.stderr
    );
    // (The message count depends on how many records the failing poll held.)
    assert!(
        out.stderr.lines().any(|l| l.starts_with("failing: ")
            && l.contains(" messages, 1 rows, 1 decode errors (0 skipped, 0 dead-lettered); FAILED: topic ints partition 0 offset 1")),
        "{}",
        out.stderr
    );
    // Rows visible before the failure stay; the other table read everything.
    assert_eq!(
        std::fs::read_to_string(&failed_csv).unwrap(),
        "KafkaPartition,KafkaOffset,N\n0,0,7\n"
    );
    assert_eq!(
        std::fs::read_to_string(&csv).unwrap(),
        "KafkaPartition,KafkaOffset,N\n0,0,7\n0,2,9\n"
    );
}

#[test]
fn first_by_where_and_typed_header_columns_from_a_pipeline_file() {
    let broker = Broker::start();
    broker.create_topic("share.price", 1);
    let p = TestProducer::new(&broker);
    // Header `trace` is binary (not UTF-8); `venue` is text.
    p.send(
        "share.price",
        0,
        Some(b"AAPL"),
        Some(b"135.60"),
        &[("trace", &[0x00, 0xff, 0x10]), ("venue", b"XNAS")],
    );
    p.send("share.price", 0, Some(b"TSLA"), Some(b"730"), &[]);
    p.send(
        "share.price",
        0,
        Some(b"AAPL"),
        Some(b"136.82"),
        &[("trace", b"ok")],
    );
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("derived.toml");
    std::fs::write(
        &file,
        format!(
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
columns = {{ partition = false, timestamp = false, headers = {{ trace = "bytes", venue = {{ column = "Venue", type = "string" }} }} }}

[[derived]]
name = "first"
from = "prices"
first_by = ["Symbol"]

[[derived]]
name = "cheap"
from = "prices"
where = ["Price < 500", "Symbol == 'AAPL'"]
"#,
            broker.bootstrap()
        ),
    )
    .unwrap();
    let (prices, first, cheap) = (
        dir.path().join("prices.arrow"),
        dir.path().join("first.jsonl"),
        dir.path().join("cheap.jsonl"),
    );
    let out = TopictableProcess::start(&[
        "run",
        file.to_str().unwrap(),
        "--exit-when",
        "prices:rows>=3",
        "--exit-after",
        "60s",
        "--snapshot",
        &snapshot_arg("prices", &prices),
        "--snapshot",
        &snapshot_arg("first", &first),
        "--snapshot",
        &snapshot_arg("cheap", &cheap),
    ])
    .finish(Duration::from_secs(90));
    assert_eq!(out.code, Some(0), "{}", out.stderr);

    let table = read_arrow_with_pyarrow(&prices);
    assert_eq!(
        table["columns"],
        json!([
            {"name": "KafkaOffset", "type": "int64"},
            {"name": "trace", "type": "binary"},
            {"name": "Venue", "type": "string"},
            {"name": "Symbol", "type": "string"},
            {"name": "Price", "type": "double"},
        ])
    );
    assert_eq!(
        table["rows"],
        json!([
            {"KafkaOffset": 0, "trace": "00ff10", "Venue": "XNAS", "Symbol": "AAPL", "Price": 135.6},
            {"KafkaOffset": 1, "trace": null, "Venue": null, "Symbol": "TSLA", "Price": 730.0},
            {"KafkaOffset": 2, "trace": "6f6b", "Venue": null, "Symbol": "AAPL", "Price": 136.82},
        ])
    );
    let pick = |rows: Vec<serde_json::Value>| -> BTreeSet<(String, i64)> {
        rows.iter()
            .map(|r| {
                (
                    r["Symbol"].as_str().unwrap().to_string(),
                    r["KafkaOffset"].as_i64().unwrap(),
                )
            })
            .collect()
    };
    // first_by: each symbol's first row.
    assert_eq!(
        pick(read_json_lines(&first)),
        BTreeSet::from([("AAPL".to_string(), 0), ("TSLA".to_string(), 1)])
    );
    // where: AAPL rows under 500.
    assert_eq!(
        pick(read_json_lines(&cheap)),
        BTreeSet::from([("AAPL".to_string(), 0), ("AAPL".to_string(), 2)])
    );
}

/// A pipeline with one group-mode table `t` over `topic` in `group`, new
/// groups starting at the beginning.
fn group_pipeline(dir: &std::path::Path, broker: &Broker, topic: &str, group: &str) -> String {
    let text = format!(
        r#"
[kafka]
"bootstrap.servers" = "{}"
"group.id" = "{group}"
"session.timeout.ms" = 6000
"heartbeat.interval.ms" = 500

[[table]]
name = "t"
topic = "{topic}"
mode = "group"
offsets = "beginning"
type = "append"
value = {{ format = "simple", type = "string", column = "Command" }}
columns = {{ timestamp = false }}
# The tests count every record once across the members' tables.
on_revoke = "keep"
"#,
        broker.bootstrap()
    );
    let path = dir.join(format!("{group}.toml"));
    std::fs::write(&path, text).unwrap();
    path.to_str().unwrap().to_string()
}

/// Produces `m{from}`…`m{to - 1}` with confluent-kafka, message i to
/// partition i % `partitions`.
fn produce_messages(broker: &Broker, topic: &str, partitions: usize, from: usize, to: usize) {
    let records: Vec<serde_json::Value> = (from..to)
        .map(|i| json!({"value": format!("m{i}"), "value_type": "string", "partition": i % partitions}))
        .collect();
    produce_with_python(broker, topic, &json!(records));
}

/// The row count the last frame of `--print t` shows.
fn printed_rows(stdout: &str) -> Option<usize> {
    let line = stdout.lines().rev().find(|l| l.starts_with("── t: "))?;
    line["── t: ".len()..].split(' ').next()?.parse().ok()
}

/// `(KafkaPartition, KafkaOffset) → Command` of a JSON Lines snapshot, and
/// its row count.
fn keyed_rows(path: &std::path::Path) -> (BTreeMap<(i64, i64), String>, usize) {
    let rows = read_json_lines(path);
    let keyed = rows
        .iter()
        .map(|r| {
            (
                (
                    r["KafkaPartition"].as_i64().unwrap(),
                    r["KafkaOffset"].as_i64().unwrap(),
                ),
                r["Command"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    (keyed, rows.len())
}

fn commands(from: usize, to: usize) -> BTreeSet<String> {
    (from..to).map(|i| format!("m{i}")).collect()
}

#[test]
fn ctrl_c_in_group_mode_commits_so_the_next_run_resumes() {
    let broker = Broker::start();
    broker.create_topic("cmds", 2);
    produce_messages(&broker, "cmds", 2, 0, 10);
    let dir = tempfile::tempdir().unwrap();
    let file = group_pipeline(dir.path(), &broker, "cmds", "resumers");
    let (first, second) = (
        dir.path().join("first.jsonl"),
        dir.path().join("second.jsonl"),
    );

    let run = TopictableProcess::start(&[
        "run",
        &file,
        "--print",
        "t",
        "--snapshot",
        &snapshot_arg("t", &first),
    ]);
    wait_for(
        "the first run to read 10 rows",
        Duration::from_secs(60),
        || (printed_rows(&run.stdout()) == Some(10)).then_some(()),
    );
    run.interrupt();
    let out = run.finish(Duration::from_secs(60));
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    let (got, n) = keyed_rows(&first);
    assert_eq!(n, 10);
    assert_eq!(
        got.values().cloned().collect::<BTreeSet<_>>(),
        commands(0, 10)
    );

    // The second run of the same group starts where the first committed:
    // nothing missing, nothing read twice.
    produce_messages(&broker, "cmds", 2, 10, 20);
    let out = TopictableProcess::start(&[
        "run",
        &file,
        "--exit-when",
        "t:rows>=10",
        "--exit-after",
        "60s",
        "--snapshot",
        &snapshot_arg("t", &second),
    ])
    .finish(Duration::from_secs(90));
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    let (got, n) = keyed_rows(&second);
    assert_eq!(
        got.values().cloned().collect::<BTreeSet<_>>(),
        commands(10, 20),
        "{}",
        out.stderr
    );
    assert_eq!(n, 10);
}

#[test]
fn two_processes_in_one_group_split_the_partitions() {
    let broker = Broker::start();
    broker.create_topic("cmds4", 4);
    produce_messages(&broker, "cmds4", 4, 0, 40);
    let dir = tempfile::tempdir().unwrap();
    let file = group_pipeline(dir.path(), &broker, "cmds4", "splitters");
    let snapshots = [dir.path().join("a.jsonl"), dir.path().join("b.jsonl")];
    let runs: Vec<TopictableProcess> = snapshots
        .iter()
        .map(|s| {
            TopictableProcess::start(&[
                "run",
                &file,
                "--print",
                "t",
                "--snapshot",
                &snapshot_arg("t", s),
            ])
        })
        .collect();
    let total = |runs: &[TopictableProcess]| -> usize {
        runs.iter()
            .map(|r| printed_rows(&r.stdout()).unwrap_or(0))
            .sum()
    };
    wait_for(
        "the group to read the first 40",
        Duration::from_secs(60),
        || (total(&runs) >= 40).then_some(()),
    );
    // Both have joined by now (their session timeout is 6 s); more messages
    // go to whichever member holds each partition.
    std::thread::sleep(Duration::from_secs(3));
    produce_messages(&broker, "cmds4", 4, 40, 80);
    wait_for("the group to read all 80", Duration::from_secs(60), || {
        (total(&runs) >= 80).then_some(())
    });
    for r in &runs {
        r.interrupt();
    }
    let mut union: BTreeMap<(i64, i64), String> = BTreeMap::new();
    let mut sizes = Vec::new();
    for (run, snapshot) in runs.into_iter().zip(&snapshots) {
        let out = run.finish(Duration::from_secs(60));
        assert_eq!(out.code, Some(0), "{}", out.stderr);
        let (rows, _) = keyed_rows(snapshot);
        sizes.push(rows.len());
        for (at, command) in rows {
            // At-least-once: a record read by both (around a rebalance) is the same record.
            if let Some(seen) = union.insert(at, command.clone()) {
                assert_eq!(seen, command, "{at:?}");
            }
        }
    }
    // Every message exactly once, by (partition, offset).
    let expected: BTreeMap<(i64, i64), String> = (0..80)
        .map(|i| (((i % 4) as i64, (i / 4) as i64), format!("m{i}")))
        .collect();
    assert_eq!(union, expected);
    assert!(
        sizes.iter().all(|&n| n > 0),
        "both processes got partitions: {sizes:?}"
    );
}

#[test]
fn a_failed_sink_gives_exit_code_4() {
    let broker = Broker::start();
    broker.create_topic("share.price", 1);
    let dir = tempfile::tempdir().unwrap();
    let file = pipeline_file(dir.path(), &broker);
    let out_dir = dir.path().join("archive");
    let mut text = std::fs::read_to_string(&file).unwrap();
    text.push_str(&format!(
        "\n[[sink]]\nname = \"archive\"\nfrom = \"prices\"\ntype = \"file\"\nconfig = {{ path = \"{}\", format = \"jsonl\" }}\n",
        out_dir.display()
    ));
    std::fs::write(&file, text).unwrap();
    let run = TopictableProcess::start(&["run", file.to_str().unwrap(), "--exit-after", "8s"]);
    run.wait_until_running(Duration::from_millis(500));
    // The sink made its directory at start; a file in its place makes its first write fail.
    std::fs::remove_dir_all(&out_dir).unwrap();
    std::fs::write(&out_dir, "not a directory").unwrap();
    TestProducer::new(&broker).send_text("share.price", 0, &[(Some("AAPL"), "135.60")]);
    let out = run.finish(Duration::from_secs(60));
    assert_eq!(out.code, Some(4), "{}", out.stderr);
    assert!(
        out.stderr.contains("error: sink `archive` stopped: ")
            && out.stderr.contains("sink archive: FAILED: "),
        "{}",
        out.stderr
    );
    // The table itself was fine.
    assert!(
        out.stderr
            .contains("prices: 1 messages, 1 rows, 0 decode errors (0 skipped, 0 dead-lettered)\n"),
        "{}",
        out.stderr
    );
}

/// Secrets never show: a run whose registry URL carries `user:pass@`, whose
/// registry password comes from the environment (`${env:…}`), and whose
/// Kafka properties hold `sasl.password` and `ssl.key.password`, while
/// its registry is down (so the decoder's errors and the hold's logs are
/// written), prints none of them: not in `run --print`'s output or logs,
/// not from `validate`, not in `--help` (with `TOPICTABLE_TOKEN` set).
#[test]
fn secrets_never_show_in_output_logs_or_help() {
    let broker = Broker::start();
    broker.create_topic("quotes", 1);
    // One Confluent-framed long under schema id 1: the registry is asked.
    TestProducer::new(&broker).send("quotes", 0, None, Some(&[0, 0, 0, 0, 1, 14]), &[]);
    let dead = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = dead.local_addr().unwrap().port();
    drop(dead);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("secret.toml");
    std::fs::write(
        &file,
        format!(
            r#"[kafka]
"bootstrap.servers" = "{bootstrap}"
"sasl.password" = "MARKER-SASL"
"ssl.key.password" = "MARKER-SSL-KEY"

[[table]]
name = "quotes"
topic = "quotes"
type = "append"
offsets = "beginning"
on_error = "skip"
value = {{ format = "avro", schema = '"long"', column = "v", registry_retries = 0, schema_registry_url = "http://tt-user:MARKER-URL@127.0.0.1:{port}", registry_user = "tt", registry_password = "${{env:TT_TEST_REGISTRY_PASSWORD}}" }}
"#,
            bootstrap = broker.bootstrap()
        ),
    )
    .unwrap();
    // The binary and plugins as users get them (scripts/build.sh).
    let with_env = |args: &[&str]| {
        let mut command = Command::new(shipped_bin());
        command
            .env("TT_TEST_REGISTRY_PASSWORD", "MARKER-ENV")
            .env("TOPICTABLE_TOKEN", "MARKER-TOKEN")
            .env("RUST_LOG", "debug")
            .args(args);
        command
    };
    let run = TopictableProcess::spawn(&mut with_env(&[
        "run",
        file.to_str().unwrap(),
        "--print",
        "quotes",
        "--exit-after",
        "6s",
    ]))
    .finish(Duration::from_secs(60));
    let validate = with_env(&["validate", file.to_str().unwrap()])
        .output()
        .unwrap();
    let help: String = ["run", "serve", "query", "registry"]
        .iter()
        .map(|command| {
            let out = with_env(&[command, "--help"]).output().unwrap();
            String::from_utf8_lossy(&out.stdout).into_owned()
        })
        .collect();
    let outputs = [
        ("run stdout", run.stdout.clone()),
        ("run stderr", run.stderr.clone()),
        (
            "validate",
            String::from_utf8_lossy(&validate.stdout).into_owned(),
        ),
        (
            "validate stderr",
            String::from_utf8_lossy(&validate.stderr).into_owned(),
        ),
        ("help", help),
    ];
    // The registry path really ran: the table waited for it.
    assert!(
        run.stdout.contains("Waiting for schema registry")
            || run.stderr.contains("waiting for the schema registry"),
        "{}\n{}",
        run.stdout,
        run.stderr
    );
    for (what, text) in outputs {
        assert!(!text.contains("MARKER"), "{what} shows a secret:\n{text}");
    }
}

/// A consumer error no retry can cure is not a warning in a log: a group-mode
/// table subscribed to a topic that does not exist (and that the broker does
/// not create) fails with librdkafka's error and a hint, and `run` exits 4
/// at once instead of waiting for `--exit-after`.
#[test]
fn a_topic_that_does_not_exist_fails_the_table_and_the_run() {
    let broker = Broker::start();
    let dir = tempfile::tempdir().unwrap();
    let file = group_pipeline(dir.path(), &broker, "no.such.topic", "missing");
    let started = std::time::Instant::now();
    let out = TopictableProcess::start(&[
        "run",
        &file,
        "--exit-when",
        "t:rows>=1",
        "--exit-after",
        "120s",
    ])
    .finish(Duration::from_secs(180));
    assert_eq!(out.code, Some(4), "{}", out.stderr);
    assert!(
        out.stderr.contains("error: table `t` stopped: kafka: ")
            && out.stderr.contains("no.such.topic")
            && out.stderr.contains("does not exist"),
        "{}",
        out.stderr
    );
    assert!(
        started.elapsed() < Duration::from_secs(100),
        "the run should end when the table fails, not when --exit-after runs out"
    );
}

/// confluent-kafka's `SchemaRegistryClient` against `url` with bearer
/// `token` (none when empty) runs `action`: `register N` registers N new
/// Avro schemas and prints their ids; `read ID…` prints each id's schema.
fn python_registry(url: &str, token: &str, action: &[&str]) -> String {
    let script = r#"
import sys
from confluent_kafka.schema_registry import SchemaRegistryClient, Schema
url, token, action, args = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:]
conf = {"url": url}
if token:
    conf.update({"bearer.auth.credentials.source": "STATIC_TOKEN",
                 "bearer.auth.token": token, "bearer.auth.logical.cluster": "lsrc-1"})
client = SchemaRegistryClient(conf)
try:
    if action == "register":
        first, n = int(args[0]), int(args[1])
        for i in range(first, first + n):
            enum = '{"type":"enum","name":"E%d","symbols":["A"]}' % i
            print(client.register_schema("s%d" % i, Schema(enum, "AVRO")))
    else:
        for id in args:
            print(client.get_schema(int(id)).schema_str)
except Exception as e:
    print("refused", getattr(e, "http_status_code", e))
"#;
    let out = Command::new(topictable_e2e::python())
        .args(["-c", script, url, token])
        .args(action)
        .output()
        .expect("run python");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// `topictable registry --token --persist`: confluent-kafka needs the token
/// (401 without), and a SIGKILL right after the answers loses no id: the
/// restarted registry gives every answered id its schema, and the next
/// schema a new id.
#[test]
fn the_registry_command_takes_a_token_and_keeps_answered_ids_across_a_kill() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("registry.json");
    let start = || {
        let process = TopictableProcess::start(&[
            "registry",
            "--listen",
            "127.0.0.1:0",
            "--persist",
            file.to_str().unwrap(),
            "--token",
            "reg-token",
        ]);
        let url = wait_for("the registry to listen", Duration::from_secs(60), || {
            let out = process.stdout();
            let rest = &out[out.find(" at http")? + 4..];
            Some(rest[..rest.find('\n')?].to_string())
        });
        (process, url)
    };
    let (registry, url) = start();
    assert_eq!(
        python_registry(&url, "", &["register", "0", "1"]),
        "refused 401\n"
    );
    let ids = python_registry(&url, "reg-token", &["register", "0", "20"]);
    let ids: Vec<&str> = ids.lines().collect();
    assert_eq!(ids.len(), 20, "{ids:?}");
    drop(registry); // SIGKILL, no shutdown

    let (_registry, url) = start();
    let mut read = vec!["read"];
    read.extend(&ids);
    let schemas = python_registry(&url, "reg-token", &read);
    for (i, schema) in schemas.lines().enumerate() {
        assert!(
            schema.contains(&format!("\"E{i}\"")),
            "id {}: {schema}",
            ids[i]
        );
    }
    let next = python_registry(&url, "reg-token", &["register", "20", "1"]);
    assert_eq!(next.trim(), "21", "a fresh id, not one already answered");
}

/// A pipeline file reading `in` and publishing to `out` with the given
/// `[kafka]` properties (on top of `bootstrap.servers`).
fn pipeline_with_kafka_properties(dir: &std::path::Path, broker: &Broker, props: &str) -> String {
    let text = format!(
        r#"
[kafka]
"bootstrap.servers" = "{}"
{props}

[[table]]
name = "t"
topic = "in"
offsets = "beginning"
type = "append"
value = {{ format = "simple", type = "string", column = "Command" }}
columns = {{ timestamp = false }}

[[sink]]
name = "out"
from = "t"
topic = "out"
value = {{ format = "simple", type = "string", column = "Command" }}
"#,
        broker.bootstrap()
    );
    let path = dir.join("sasl.toml");
    std::fs::write(&path, text).unwrap();
    path.to_str().unwrap().to_string()
}

const SCRAM_PROPERTIES: &str = r#""security.protocol" = "SASL_PLAINTEXT"
"sasl.mechanism" = "SCRAM-SHA-512"
"sasl.username" = "alice"
"sasl.password" = "${env:KAFKA_PASSWORD}""#;

/// SASL passes through to librdkafka, for the tables and the sinks, and a
/// login the broker refuses fails the run at once, naming it.
///
/// tansu offers SASL/SCRAM-SHA-512 (users in its storage), so SCRAM is tested
/// end to end against it; it offers no PLAIN, and tansu 0.6 does not serve
/// TLS (its acceptor is built but unused), nor does librdkafka's mock
/// cluster serve SASL or TLS. For PLAIN and TLS the test shows that the
/// settings reach librdkafka: it tries exactly that mechanism or protocol.
#[test]
fn sasl_scram_logs_in_for_tables_and_sinks_and_a_refused_login_fails_the_run() {
    let mut broker = Broker::start();
    broker.create_topic("in", 1);
    broker.create_topic("out", 1);
    broker.require_scram_login("alice", "MARKER-KAFKA-PASS");
    let scram = json!({"security.protocol": "SASL_PLAINTEXT", "sasl.mechanism": "SCRAM-SHA-512",
        "sasl.username": "alice", "sasl.password": "MARKER-KAFKA-PASS"});
    let records: Vec<serde_json::Value> = (0..5)
        .map(|i| json!({"value": format!("m{i}"), "value_type": "string", "partition": 0}))
        .collect();
    topictable_e2e::produce_with_python_config(&broker, "in", &json!(records), &scram);
    let dir = tempfile::tempdir().unwrap();
    let run = |props: &str, password: &str| {
        let file = pipeline_with_kafka_properties(dir.path(), &broker, props);
        let mut command = Command::new(topictable_bin());
        command
            .arg("--plugin-dir")
            .arg(plugin_dir())
            .args([
                "run",
                &file,
                "--exit-when",
                "t:rows>=5",
                "--exit-after",
                "60s",
            ])
            .env("KAFKA_PASSWORD", password);
        TopictableProcess::spawn(&mut command).finish(Duration::from_secs(120))
    };

    let ok = run(SCRAM_PROPERTIES, "MARKER-KAFKA-PASS");
    assert_eq!(ok.code, Some(0), "{}", ok.stderr);
    let out = Command::new(topictable_e2e::python())
        .arg(workspace_root().join("tests/python/consume.py"))
        .args([&broker.bootstrap(), "out", "5", "raw", "string"])
        .env("CLIENT_CONFIG", scram.to_string())
        .output()
        .unwrap();
    let published: BTreeSet<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["value"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    assert_eq!(
        published,
        (0..5).map(|i| format!("m{i}")).collect(),
        "the sink logged in too"
    );

    let started = std::time::Instant::now();
    let refused = run(SCRAM_PROPERTIES, "MARKER-WRONG-PASS");
    assert_ne!(refused.code, Some(0), "{}", refused.stderr);
    assert!(
        refused.stderr.contains("SASL SCRAM authentication failed")
            && refused
                .stderr
                .contains("authentication failed; check the sasl.* and ssl.* properties"),
        "{}",
        refused.stderr
    );
    assert!(
        started.elapsed() < Duration::from_secs(45),
        "failed at once, not at --exit-after"
    );

    // PLAIN reaches librdkafka, which asks the broker for it (tansu refuses).
    let plain = SCRAM_PROPERTIES.replace("SCRAM-SHA-512", "PLAIN");
    let refused = run(&plain, "MARKER-KAFKA-PASS");
    assert_ne!(refused.code, Some(0), "{}", refused.stderr);
    assert!(
        refused
            .stderr
            .contains("SASL PLAIN mechanism handshake failed"),
        "{}",
        refused.stderr
    );
    // A sink (fed by a time table) fails at once on a refused login too,
    // instead of when the cycle's flush gives up after 30 s.
    let file = dir.path().join("sink-only.toml");
    std::fs::write(
        &file,
        format!(
            "[kafka]\n\"bootstrap.servers\" = \"{}\"\n{SCRAM_PROPERTIES}\n\n[[time_table]]\nname = \"ticks\"\nperiod = \"PT00:00:00.1\"\n\n[[sink]]\nname = \"out\"\nfrom = \"ticks\"\ntopic = \"out\"\nvalue = {{ format = \"json\" }}\n",
            broker.bootstrap()
        ),
    )
    .unwrap();
    // (A run goes on after a sink fails while it has tables; the first
    // cycle's write failing within the 10 s run shows it failed at once.)
    let sink_refused = TopictableProcess::spawn(
        Command::new(topictable_bin())
            .arg("--plugin-dir")
            .arg(plugin_dir())
            .args(["run", file.to_str().unwrap(), "--exit-after", "10s"])
            .env("KAFKA_PASSWORD", "MARKER-WRONG-PASS"),
    )
    .finish(Duration::from_secs(120));
    assert_eq!(sink_refused.code, Some(4), "{}", sink_refused.stderr);
    assert!(
        sink_refused
            .stderr
            .contains("error: sink `out` stopped: sink `out`, cycle 1: kafka: ")
            && sink_refused
                .stderr
                .contains("SASL SCRAM authentication failed"),
        "{}",
        sink_refused.stderr
    );
    for out in [&ok, &refused, &sink_refused] {
        assert!(
            !out.stdout.contains("MARKER") && !out.stderr.contains("MARKER"),
            "{}",
            out.stderr
        );
    }
}
