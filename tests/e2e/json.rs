//! JSON topics end to end: the seed's orders and "multiple operations"
//! examples with records from confluent-kafka for Python, JSON bad records,
//! and `topictable demo`.

use std::process::Command;
use std::time::Duration;

use arrow_array::cast::AsArray;
use arrow_array::types::{Float64Type, Int32Type, Int64Type};
use arrow_array::{Array, RecordBatch};
use serde_json::json;
use topictable::ingest::{
    ConsumeSpec, IngestStatus, InitialOffsets, KeyOrValueSpec, OnError, StartAt, consume_to_table,
};
use topictable::pipeline;
use topictable_e2e::{
    Broker, TestProducer, plugin_dir, plugins, run_python, topictable_bin, wait_for, workspace_root,
};
use topictable_engine::{Engine, TableType};

const WAIT: Duration = Duration::from_secs(30);

fn load_example(name: &str, broker: &Broker) -> pipeline::Pipeline {
    let mut p = pipeline::load(&workspace_root().join("examples").join(name)).unwrap();
    for (_, spec) in &mut p.sources {
        spec.properties
            .insert("bootstrap.servers".into(), broker.bootstrap());
        spec.offsets = InitialOffsets::all(StartAt::Beginning);
    }
    p
}

fn sorted_by_first_column(batch: &RecordBatch) -> Vec<String> {
    let mut rows: Vec<String> = (0..batch.num_rows())
        .map(|r| {
            (0..batch.num_columns())
                .map(|c| arrow_cast_value(batch.column(c).as_ref(), r))
                .collect::<Vec<_>>()
                .join(",")
        })
        .collect();
    rows.sort();
    rows
}

fn arrow_cast_value(array: &dyn Array, row: usize) -> String {
    if array.is_null(row) {
        return "null".into();
    }
    match array.data_type() {
        arrow_schema::DataType::Utf8 => array.as_string::<i32>().value(row).to_string(),
        arrow_schema::DataType::Int32 => array.as_primitive::<Int32Type>().value(row).to_string(),
        arrow_schema::DataType::Int64 => array.as_primitive::<Int64Type>().value(row).to_string(),
        arrow_schema::DataType::Float64 => {
            array.as_primitive::<Float64Type>().value(row).to_string()
        }
        other => format!("<{other}>"),
    }
}

#[test]
fn seed_orders_json_example() {
    let broker = Broker::start();
    broker.create_topic("orders", 1);
    let p = load_example("orders_json.toml", &broker);
    let engine = Engine::new();
    let _cycles = engine.start_with_period(Duration::from_millis(20));
    let mut running = pipeline::start(&p, &plugins(), &engine).unwrap();
    topictable_e2e::produce_with_python(
        &broker,
        "orders",
        &json!([
            {"value": {"symbol": "AAPL", "price": 135, "qty": 5}, "value_type": "json"},
            {"value": {"symbol": "TSLA", "price": 730, "qty": 3}, "value_type": "json"},
        ]),
    );
    let table = running.tables["result"].clone();
    let batch = wait_for("2 orders", WAIT, || {
        table.snapshot().ok().filter(|b| b.num_rows() == 2)
    });
    let view = batch.project(&[3, 4, 5]).unwrap();
    assert_eq!(
        view.schema().field(1).data_type(),
        &arrow_schema::DataType::Float64
    );
    assert_eq!(
        view.schema().field(2).data_type(),
        &arrow_schema::DataType::Int32
    );
    assert_eq!(sorted_by_first_column(&view), ["AAPL,135,5", "TSLA,730,3"]);
    running.stop();
}

#[test]
fn seed_multiple_operations_example_gives_the_seed_totals() {
    let broker = Broker::start();
    broker.create_topic("quotes", 1);
    broker.create_topic("orders", 1);
    let p = load_example("quotes_orders.toml", &broker);
    let engine = Engine::new();
    let _cycles = engine.start_with_period(Duration::from_millis(20));
    let mut running = pipeline::start(&p, &plugins(), &engine).unwrap();
    // The seed's exact rows, as `rpk topic produce quotes -f '%k %v\n'` would send them.
    let quotes: Vec<_> = [("AAPL", 135), ("AAPL", 133), ("TSLA", 730), ("TSLA", 735)]
        .iter()
        .map(|(k, p)| json!({"key": k, "key_type": "string", "value": {"Price": p}, "value_type": "json"}))
        .collect();
    topictable_e2e::produce_with_python(&broker, "quotes", &json!(quotes));
    let orders = json!([
        {"value": {"Symbol": "AAPL", "Id": "o1", "LimitPrice": 136, "Qty": 7}, "value_type": "json"},
        {"value": {"Symbol": "AAPL", "Id": "o2", "LimitPrice": 132, "Qty": 2}, "value_type": "json"},
        {"value": {"Symbol": "TSLA", "Id": "o3", "LimitPrice": 725, "Qty": 1}, "value_type": "json"},
        {"value": {"Symbol": "TSLA", "Id": "o4", "LimitPrice": 730, "Qty": 9}, "value_type": "json"},
    ]);
    topictable_e2e::produce_with_python(&broker, "orders", &orders);
    let total = running.tables["totalNotional"].clone();
    let expected = ["AAPL,9,1197", "TSLA,10,7350"];
    let got = wait_for("the seed's totals", WAIT, || {
        let b = total.snapshot().ok()?;
        let rows = sorted_by_first_column(&b);
        (rows == expected).then_some(rows)
    });
    assert_eq!(got, expected);
    running.stop();
}

#[test]
fn json_bad_records_name_the_field_and_follow_the_policy() {
    let broker = Broker::start();
    broker.create_topic("orders.bad", 1);
    let p = TestProducer::new(&broker);
    for value in [
        r#"{"Symbol": "AAPL", "Qty": 5}"#,
        r#"{"Symbol": "AAPL", "Qty": "abc"}"#,
        r#"{"Symbol": "AAPL", "Qty": 1.5}"#,
        r#"{"Symbol": "AAPL", "Qty": "#,
        r#"["not", "an", "object"]"#,
        r#"{"Symbol": "TSLA", "Qty": 3}"#,
    ] {
        p.send("orders.bad", 0, None, Some(value.as_bytes()), &[]);
    }
    let engine = Engine::new();
    let _cycles = engine.start_with_period(Duration::from_millis(20));
    let value = KeyOrValueSpec::codec(
        "json",
        json!({"columns": [{"name": "Symbol", "type": "string"}, {"name": "Qty", "type": "int64"}]}),
    );
    let spec = |on_error: OnError| {
        let mut s = ConsumeSpec::new(
            &broker.bootstrap(),
            "orders.bad",
            KeyOrValueSpec::Ignore,
            value.clone(),
        );
        s.table_type = TableType::Append;
        s.offsets = InitialOffsets::all(StartAt::Beginning);
        s.on_error = on_error;
        s
    };
    let skip = consume_to_table(&engine, "skip", &plugins(), spec(OnError::Skip)).unwrap();
    let fail = consume_to_table(&engine, "fail", &plugins(), spec(OnError::Fail)).unwrap();
    let kept = wait_for("the good rows", WAIT, || {
        skip.table().snapshot().ok().filter(|b| b.num_rows() == 2)
    });
    assert_eq!(
        kept.column_by_name("Qty")
            .unwrap()
            .as_primitive::<Int64Type>()
            .values()
            .to_vec(),
        [5, 3]
    );
    wait_for("4 skipped", WAIT, || {
        (skip.error_counts().skipped == 4).then_some(())
    });
    let message = wait_for("the table to fail", WAIT, || match fail.status() {
        IngestStatus::Failed(m) => Some(m),
        _ => None,
    });
    assert!(
        message.contains("topic orders.bad partition 0 offset 1: cannot decode the value"),
        "{message}"
    );
    assert!(
        message.contains("field \"Qty\" (column Qty, int64): expected an integer, found \"abc\""),
        "{message}"
    );
    // The JSON codec's reason has no bytes here: the preview is the host's,
    // cut after 24 of the record's 32 bytes.
    assert!(
        message.contains(
            "found \"abc\"; bytes: 7b 22 53 79 6d 62 6f 6c 22 3a 20 22 41 41 50 4c 22 2c 20 22 51 74 79 22 \
             \"{\\\"Symbol\\\": \\\"AAPL\\\", \\\"Qty\\\"\" … (32 bytes) (on_error = fail;"
        ),
        "{message}"
    );
}

fn json_orders_spec(broker: &Broker, topic: &str, on_error: OnError) -> ConsumeSpec {
    let value = KeyOrValueSpec::codec(
        "json",
        json!({"columns": [{"name": "Symbol", "type": "string"}, {"name": "Qty", "type": "int64"}]}),
    );
    let mut s = ConsumeSpec::new(&broker.bootstrap(), topic, KeyOrValueSpec::Ignore, value);
    s.table_type = TableType::Append;
    s.offsets = InitialOffsets::all(StartAt::Beginning);
    s.on_error = on_error;
    s
}

fn qty(batch: &RecordBatch) -> Vec<i64> {
    batch
        .column_by_name("Qty")
        .unwrap()
        .as_primitive::<Int64Type>()
        .values()
        .to_vec()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

const MALFORMED: &str = r#"{"Symbol": "AAPL", "Qty": "#;

#[test]
fn json_dead_letter_keeps_malformed_and_mistyped_records_with_context_headers() {
    let broker = Broker::start();
    broker.create_topic("orders.dlq", 1);
    broker.create_topic("orders.dlq.errors", 1);
    let p = TestProducer::new(&broker);
    let mistyped = r#"{"Symbol": "AAPL", "Qty": "abc"}"#;
    p.send(
        "orders.dlq",
        0,
        None,
        Some(br#"{"Symbol": "AAPL", "Qty": 5}"#),
        &[],
    );
    p.send(
        "orders.dlq",
        0,
        None,
        Some(mistyped.as_bytes()),
        &[("trace", b"t-1")],
    );
    p.send(
        "orders.dlq",
        0,
        Some(b"k-2"),
        Some(MALFORMED.as_bytes()),
        &[],
    );
    p.send(
        "orders.dlq",
        0,
        None,
        Some(br#"{"Symbol": "TSLA", "Qty": 3}"#),
        &[],
    );
    let engine = Engine::new();
    let _cycles = engine.start_with_period(Duration::from_millis(20));
    let spec = json_orders_spec(
        &broker,
        "orders.dlq",
        OnError::dead_letter("orders.dlq.errors"),
    );
    let t = consume_to_table(&engine, "orders", &plugins(), spec).unwrap();
    let kept = wait_for("the good rows", WAIT, || {
        t.table().snapshot().ok().filter(|b| b.num_rows() == 2)
    });
    assert_eq!(qty(&kept), [5, 3]);
    let counts = t.error_counts();
    assert_eq!((counts.decode_errors, counts.dead_lettered), (2, 2));
    assert_eq!(t.status(), IngestStatus::Running);

    // Read back by an independent client (raw bytes, shown as hex).
    let out = run_python(
        "consume.py",
        &[&broker.bootstrap(), "orders.dlq.errors", "2"],
    );
    let records: Vec<serde_json::Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(records.len(), 2, "{out}");
    let (wrong_type, malformed) = (&records[0], &records[1]);

    assert_eq!(wrong_type["value"], json!(hex(mistyped.as_bytes())));
    assert_eq!(wrong_type["key"], json!(null));
    let h = &wrong_type["headers"];
    assert_eq!(h["trace"], json!("t-1"), "original headers are kept");
    assert_eq!(h["topictable.errors.topic"], json!("orders.dlq"));
    assert_eq!(h["topictable.errors.partition"], json!("0"));
    assert_eq!(h["topictable.errors.offset"], json!("1"));
    assert_eq!(h["topictable.errors.stage"], json!("value_decode"));
    assert_eq!(h["topictable.errors.exception.class"], json!("RowError"));
    assert_eq!(
        h["topictable.errors.exception.message"],
        json!("field \"Qty\" (column Qty, int64): expected an integer, found \"abc\"")
    );

    assert_eq!(malformed["value"], json!(hex(MALFORMED.as_bytes())));
    assert_eq!(malformed["key"], json!(hex(b"k-2")), "the key is kept");
    let h = &malformed["headers"];
    assert_eq!(h["topictable.errors.offset"], json!("2"));
    assert_eq!(h["topictable.errors.stage"], json!("value_decode"));
    assert_eq!(h["topictable.errors.exception.class"], json!("RowError"));
    let reason = h["topictable.errors.exception.message"].as_str().unwrap();
    assert!(
        reason.starts_with("malformed JSON (EOF while parsing"),
        "{reason}"
    );
}

#[test]
fn json_fail_on_a_malformed_record_names_where_and_why() {
    let broker = Broker::start();
    broker.create_topic("orders.malformed", 1);
    let p = TestProducer::new(&broker);
    p.send(
        "orders.malformed",
        0,
        None,
        Some(br#"{"Symbol": "AAPL", "Qty": 5}"#),
        &[],
    );
    p.send("orders.malformed", 0, None, Some(MALFORMED.as_bytes()), &[]);
    p.send(
        "orders.malformed",
        0,
        None,
        Some(br#"{"Symbol": "TSLA", "Qty": 3}"#),
        &[],
    );
    let engine = Engine::new();
    let _cycles = engine.start_with_period(Duration::from_millis(20));
    let spec = json_orders_spec(&broker, "orders.malformed", OnError::Fail);
    let t = consume_to_table(&engine, "orders", &plugins(), spec).unwrap();
    let message = wait_for("the table to fail", WAIT, || match t.status() {
        IngestStatus::Failed(m) => Some(m),
        _ => None,
    });
    assert!(
        message.starts_with(
            "topic orders.malformed partition 0 offset 1: cannot decode the value: \
             malformed JSON (EOF while parsing"
        ),
        "{message}"
    );
    // The codec's reason shows the bytes already; they are not repeated.
    let preview = "7b 22 53 79 6d 62 6f 6c 22 3a 20 22 41 41 50 4c 22 2c 20 22 51 74 79 22";
    assert_eq!(message.matches(preview).count(), 1, "{message}");
    assert!(!message.contains("; bytes:"), "{message}");
    let kept = wait_for("the row before the bad one", WAIT, || {
        t.table().snapshot().ok().filter(|b| b.num_rows() == 1)
    });
    assert_eq!(qty(&kept), [5], "rows before the bad one stay");
    assert_eq!(t.error_counts().decode_errors, 1);
}

#[test]
fn the_demo_runs_with_no_other_process_and_shows_totals() {
    let dir = tempfile::tempdir().unwrap();
    let snapshot = dir.path().join("totals.csv");
    let out = Command::new(topictable_bin())
        .arg("--plugin-dir")
        .arg(plugin_dir())
        .args([
            "demo",
            "--exit-when",
            "totalNotional:rows>=2",
            "--exit-after",
            "60s",
            "--rate",
            "50",
            "--snapshot",
        ])
        .arg(format!("totalNotional={}", snapshot.display()))
        .output()
        .expect("run demo");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("embedded Kafka broker (librdkafka mock cluster) at"),
        "{stdout}"
    );
    assert!(stdout.contains("── totalNotional:"), "{stdout}");
    let csv = std::fs::read_to_string(&snapshot).unwrap();
    let mut lines = csv.lines();
    assert_eq!(lines.next(), Some("Symbol,Shares,Notional"));
    // A symbol whose first quote is still in flight has no notional yet (null).
    let totals: Vec<Option<f64>> = lines
        .map(|l| l.rsplit(',').next().unwrap().parse().ok())
        .collect();
    assert!(totals.len() >= 2, "{csv}");
    assert!(totals.iter().flatten().any(|n| *n > 0.0), "{csv}");
    assert!(totals.iter().flatten().all(|n| *n > 0.0), "{csv}");
}
