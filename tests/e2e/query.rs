//! SQL over live tables on the shipped binary (`run --http` against tansu):
//! `POST /api/v1/query` and `topictable query`, checked against pyarrow
//! computing the same join and aggregation, and a consistent cycle across
//! tables while confluent-kafka produces.

use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use topictable_e2e::{Broker, TopictableProcess, python, shipped_bin, wait_for};

fn pipeline(bootstrap: &str) -> String {
    format!(
        r#"[kafka]
"bootstrap.servers" = "{bootstrap}"

[[table]]
name = "orders"
topic = "q.orders"
type = "append"
offsets = "beginning"
value = {{ format = "json", columns = [{{ name = "Id", type = "int64" }}, {{ name = "Symbol", type = "string" }}, {{ name = "Qty", type = "int64" }}] }}

[[table]]
name = "quotes"
topic = "q.quotes"
type = "append"
offsets = "beginning"
value = {{ format = "json", columns = [{{ name = "Symbol", type = "string" }}, {{ name = "Price", type = "float64" }}] }}

[[derived]]
name = "lastQuotes"
from = "quotes"
last_by = ["Symbol"]

[[derived]]
name = "ordersX"
from = "orders"
update = ["Twice = Qty * 2"]
"#
    )
}

const SYMBOLS: [&str; 4] = ["AAPL", "TSLA", "MSFT", "GOOG"];

fn orders(from: i64, to: i64) -> Value {
    Value::Array(
        (from..to)
            .map(|i| {
                json!({
                    "value": {"Id": i, "Symbol": SYMBOLS[(i % 4) as usize], "Qty": i % 13},
                    "value_type": "json",
                    "partition": i % 2,
                })
            })
            .collect(),
    )
}

fn quotes() -> Value {
    Value::Array(
        (0..12)
            .map(|i| {
                json!({
                    "value": {"Symbol": SYMBOLS[i % 3], "Price": 100.0 + i as f64},
                    "value_type": "json",
                    "partition": 0,
                })
            })
            .collect(),
    )
}

/// POSTs `sql`: (status, cycles header, body).
fn post_query(base: &str, format: &str, sql: &str) -> (u16, String, Vec<u8>) {
    let reply = topictable_e2e::http_send(
        topictable_e2e::http_client()
            .post(format!("{base}/api/v1/query?format={format}"))
            .header("Content-Type", "text/plain")
            .body(sql.to_string()),
    );
    let cycles = reply.header("topictable-cycles").to_string();
    (reply.status, cycles, reply.body)
}

fn query_json(base: &str, sql: &str) -> Vec<Value> {
    let (status, _, body) = post_query(base, "json", sql);
    let text = String::from_utf8_lossy(&body);
    assert_eq!(status, 200, "{sql}: {text}");
    serde_json::from_str::<Value>(&text)
        .unwrap_or_else(|e| panic!("{e}: {text}"))
        .as_array()
        .expect("an array of rows")
        .clone()
}

/// `topictable query --http ADDR ARGS...` on the shipped binary.
fn cli(base: &str, args: &[&str]) -> std::process::Output {
    Command::new(shipped_bin())
        .arg("query")
        .arg("--http")
        .arg(base.trim_start_matches("http://"))
        .args(args)
        .output()
        .expect("run topictable query")
}

/// pyarrow's join of orders with the last quote per symbol, summed per
/// symbol, from the two tables' Arrow snapshots: rows as JSON.
const PYARROW_JOIN: &str = r#"
import json, sys
import pyarrow as pa, pyarrow.compute as pc, pyarrow.ipc as ipc
orders = ipc.open_stream(open(sys.argv[1], "rb")).read_all()
last = ipc.open_stream(open(sys.argv[2], "rb")).read_all().select(["Symbol", "Price"])
j = orders.join(last, "Symbol", join_type="inner")
j = j.append_column("N", pc.multiply(pc.cast(j["Qty"], pa.float64()), j["Price"]))
g = j.group_by("Symbol").aggregate([("N", "sum"), ("Id", "count")]).sort_by("Symbol")
print(json.dumps([{"Symbol": s, "Notional": n, "Orders": c}
                  for s, n, c in zip(g["Symbol"].to_pylist(), g["N_sum"].to_pylist(), g["Id_count"].to_pylist())]))
"#;

/// pyarrow's sum of `Twice` and count per symbol of the ordersX snapshot.
const PYARROW_GROUP_BY: &str = r#"
import json, sys
import pyarrow.ipc as ipc
t = ipc.open_stream(open(sys.argv[1], "rb")).read_all()
g = t.group_by("Symbol").aggregate([("Twice", "sum"), ("Id", "count")]).sort_by("Symbol")
print(json.dumps([{"Symbol": s, "D": d, "N": n}
                  for s, d, n in zip(g["Symbol"].to_pylist(), g["Twice_sum"].to_pylist(), g["Id_count"].to_pylist())]))
"#;

/// The SQL result, read with pyarrow from the CLI's Arrow output, as JSON rows.
const PYARROW_READ: &str = r#"
import json, sys
import pyarrow.ipc as ipc
t = ipc.open_stream(open(sys.argv[1], "rb")).read_all()
print(json.dumps(t.to_pylist()))
"#;

fn run_python_code(code: &str, args: &[&std::path::Path]) -> Value {
    let out = Command::new(python())
        .arg("-c")
        .arg(code)
        .args(args)
        .output()
        .expect("python");
    assert!(out.status.success(), "{out:?}");
    serde_json::from_slice(&out.stdout).expect("python prints JSON")
}

#[test]
fn sql_over_live_tables_matches_pyarrow_and_reads_one_cycle_while_producing() {
    let broker = Broker::start();
    broker.create_topic("q.orders", 2);
    broker.create_topic("q.quotes", 1);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("trading.toml");
    std::fs::write(&file, pipeline(&broker.bootstrap())).unwrap();
    let p = TopictableProcess::spawn(Command::new(shipped_bin()).arg("run").arg(&file).args([
        "--http",
        "127.0.0.1:0",
        "--exit-after",
        "300s",
    ]));
    let base = p.http_base_url();

    topictable_e2e::produce_with_python(&broker, "q.quotes", &quotes());
    topictable_e2e::produce_with_python(&broker, "q.orders", &orders(0, 400));
    let counts = "SELECT (SELECT count(*) FROM orders) AS A, (SELECT count(*) FROM ordersX) AS B, \
                  (SELECT sum(Qty) FROM orders) AS S, (SELECT sum(Twice) FROM ordersX) AS D, \
                  (SELECT count(*) FROM lastQuotes) AS Q";
    wait_for("all rows", Duration::from_secs(60), || {
        let row = query_json(&base, counts).remove(0);
        (row["A"] == 400 && row["Q"] == 3).then_some(())
    });

    // The join and aggregation in SQL, through the CLI as Arrow, against
    // pyarrow computing the same from the tables' snapshots.
    let sql = "SELECT o.Symbol, sum(o.Qty * q.Price) AS Notional, count(*) AS Orders \
               FROM orders o JOIN lastQuotes q ON o.Symbol = q.Symbol \
               GROUP BY o.Symbol ORDER BY o.Symbol";
    let out = cli(&base, &["--format", "arrow", sql]);
    assert!(out.status.success(), "{out:?}");
    let result_path = dir.path().join("result.arrows");
    std::fs::write(&result_path, &out.stdout).unwrap();
    let ours = run_python_code(PYARROW_READ, &[&result_path]);
    let snapshot = |table: &str| {
        let reply = topictable_e2e::http_get(
            &format!("{base}/api/v1/tables/{table}/snapshot?format=arrow"),
            None,
        );
        assert_eq!(reply.status, 200);
        let path = dir.path().join(format!("{table}.arrows"));
        std::fs::write(&path, reply.body).unwrap();
        path
    };
    let (orders_path, last_path) = (snapshot("orders"), snapshot("lastQuotes"));
    let theirs = run_python_code(PYARROW_JOIN, &[&orders_path, &last_path]);
    assert_eq!(ours.as_array().unwrap().len(), 3, "{ours}");
    for (a, b) in ours
        .as_array()
        .unwrap()
        .iter()
        .zip(theirs.as_array().unwrap())
    {
        assert_eq!(a["Symbol"], b["Symbol"], "{ours} vs {theirs}");
        assert_eq!(a["Orders"], b["Orders"], "{ours} vs {theirs}");
        let (x, y) = (
            a["Notional"].as_f64().unwrap(),
            b["Notional"].as_f64().unwrap(),
        );
        assert!((x - y).abs() <= 1e-9 * y.abs(), "{ours} vs {theirs}");
    }

    // A GROUP BY over the third table, the formula table, against pyarrow.
    let rows = query_json(
        &base,
        "SELECT Symbol, sum(Twice) AS D, count(*) AS N FROM ordersX GROUP BY Symbol ORDER BY Symbol",
    );
    let x_path = snapshot("ordersX");
    let theirs = run_python_code(PYARROW_GROUP_BY, &[&x_path]);
    assert_eq!(Value::Array(rows), theirs);

    // The CLI's table for people, with the row count and the cycle.
    let out = cli(&base, &[sql]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{out:?}");
    assert!(text.contains("| Symbol") && text.contains("AAPL"), "{text}");
    assert!(text.contains("3 rows (cycle: trading="), "{text}");

    // Errors: 400 naming the position; the CLI prints it and exits 1.
    let (status, _, body) = post_query(&base, "json", "SELECT Symbol FROM ordrs");
    let err: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(status, 400, "{err}");
    let message = err["message"].as_str().unwrap();
    assert!(
        message.contains("ordrs") && message.contains("line 1, column 20"),
        "{message}"
    );
    assert!(
        message.contains("orders"),
        "names the tables there are: {message}"
    );
    let (status, _, body) = post_query(&base, "json", "SELECT Symbol,, Qty FROM orders");
    assert_eq!(status, 400);
    assert!(
        String::from_utf8_lossy(&body).contains("Column: 15"),
        "{body:?}"
    );
    let out = cli(&base, &["SELECT Prise FROM quotes"]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("Prise"),
        "{out:?}"
    );

    // While confluent-kafka produces, every query sees the tables at one
    // cycle: an append table and its formula table agree in every answer.
    let records = orders(400, 3_400);
    let produce = {
        let broker = &broker;
        let records = &records;
        std::thread::scope(|s| {
            let handle =
                s.spawn(move || topictable_e2e::produce_with_python(broker, "q.orders", records));
            let deadline = Instant::now() + Duration::from_secs(120);
            let (mut seen, mut last_a) = (Vec::new(), 0);
            loop {
                let (status, cycles, body) = post_query(&base, "json", counts);
                assert_eq!(status, 200);
                assert!(cycles.starts_with("trading="), "{cycles}");
                let row = &serde_json::from_slice::<Value>(&body).unwrap()[0];
                let (a, b) = (row["A"].as_i64().unwrap(), row["B"].as_i64().unwrap());
                assert_eq!(a, b, "orders vs ordersX in one answer: {row}");
                assert_eq!(
                    row["D"].as_i64(),
                    row["S"].as_i64().map(|s| s * 2),
                    "sum(Twice) vs 2 * sum(Qty): {row}"
                );
                assert!(a >= last_a, "rows went backwards: {a} < {last_a}");
                if a != last_a {
                    seen.push(a);
                }
                last_a = a;
                if a == 3_400 && handle.is_finished() {
                    break;
                }
                assert!(Instant::now() < deadline, "stuck at {a} rows");
            }
            handle.join().unwrap();
            seen
        })
    };
    assert!(
        produce.len() >= 3,
        "the queries saw only {produce:?} while producing"
    );
}
