//! Protobuf topics end to end: records serialized by confluent-kafka's
//! `ProtobufSerializer` through `topictable registry` and produced to tansu
//! by confluent-kafka's producer become tables holding exactly their values.
//! The fixtures (`codecs/protobuf/tests/protos`) have nested messages, the
//! well-known types, a user import (registered as a reference), and messages
//! that are not the first in their file (message indexes `[1]` and `[1, 0]`).

use std::path::PathBuf;
use std::time::Duration;

use base64::Engine as _;
use prost::Message;
use serde_json::{Value, json};
use topictable::ingest::{ConsumedTable, KeyOrValueSpec};
use topictable_e2e::{
    Broker, Registry, json_rows, produce_serialized, read_into_append_table, snapshot_with_rows,
    workspace_root,
};
use topictable_engine::Engine;

fn protos() -> PathBuf {
    workspace_root().join("codecs/protobuf/tests/protos")
}

/// The user's `.proto` files compiled with protox (dependencies first), as
/// base64 `FileDescriptorProto`s for `produce_protobuf.py`.
fn user_files() -> Vec<String> {
    protox::compile(["acme/order.proto"], [protos()])
        .expect("compile the fixtures")
        .file
        .iter()
        .filter(|f| !f.name().starts_with("google/"))
        .map(|f| base64::engine::general_purpose::STANDARD.encode(f.encode_to_vec()))
        .collect()
}

/// An order of the fixtures' `orders.json` (`"full"`: every kind of field;
/// `"sparse"`: most fields absent), and the row topictable must make of it.
fn order(which: &str) -> (Value, Value) {
    let text = std::fs::read_to_string(protos().join("orders.json")).expect("orders.json");
    let order = &serde_json::from_str::<Value>(&text).expect("orders.json is JSON")[which];
    (order["record"].clone(), order["row"].clone())
}

/// Reads `topic` from the beginning into an append table, values with `protobuf` and `config`.
fn table(
    engine: &Engine,
    broker: &Broker,
    name: &str,
    topic: &str,
    config: Value,
) -> ConsumedTable {
    read_into_append_table(
        engine,
        broker,
        name,
        topic,
        KeyOrValueSpec::Ignore,
        KeyOrValueSpec::codec("protobuf", config),
    )
}

fn rows_when(table: &ConsumedTable, n: usize) -> Vec<Value> {
    json_rows(&snapshot_with_rows(table, n))
}

#[test]
fn protobuf_records_from_the_confluent_serializer_through_tansu() {
    let registry = Registry::start();
    let broker = Broker::start();
    broker.create_topic("orders.pb", 1);
    broker.create_topic("lines.pb", 1);
    let (full, full_row) = order("full");
    let (sparse, sparse_row) = order("sparse");
    let bytes = produce_serialized(
        "produce_protobuf.py",
        &registry,
        &broker,
        &json!({"files": user_files(), "cases": [
            {"topic": "orders.pb", "message": "acme.Order", "records": [full, sparse]},
            {"topic": "lines.pb", "message": "acme.Order.Line",
             "records": [{"sku": "L-1", "qty": 3, "price": 1.5}, {"sku": "L-2"}]},
        ]}),
    );
    // The Confluent header: schema id, then the message indexes `[1]` and `[1, 0]`.
    assert_eq!(bytes.len(), 4);
    assert_eq!((bytes[0][0], bytes[0][5], bytes[0][6]), (0, 0x02, 0x02));
    assert_eq!(&bytes[2][5..8], &[0x04, 0x02, 0x00]);

    let engine = Engine::new();
    let _cycles = engine.start_with_period(Duration::from_millis(20));
    let orders = table(
        &engine,
        &broker,
        "orders",
        "orders.pb",
        json!({"schema_registry_url": registry.url(), "message": "acme.Order"}),
    );
    let lines = table(
        &engine,
        &broker,
        "lines",
        "lines.pb",
        json!({"schema_registry_url": registry.url(), "message": "acme.Order.Line"}),
    );
    assert_eq!(rows_when(&orders, 2), vec![full_row, sparse_row]);
    assert_eq!(
        rows_when(&lines, 2),
        vec![
            json!({"sku": "L-1", "qty": 3, "price": 1.5}),
            json!({"sku": "L-2", "qty": 0, "price": 0.0})
        ]
    );
    assert_eq!(orders.error_counts().decode_errors, 0);
    assert_eq!(lines.error_counts().decode_errors, 0);
}

#[test]
fn raw_protobuf_records_through_tansu_with_local_proto_files() {
    let registry = Registry::start();
    let broker = Broker::start();
    broker.create_topic("orders.raw", 1);
    let (full, full_row) = order("full");
    let (sparse, sparse_row) = order("sparse");
    produce_serialized(
        "produce_protobuf.py",
        &registry,
        &broker,
        &json!({"files": user_files(), "cases": [
            {"topic": "orders.raw", "message": "acme.Order", "raw": true, "records": [full, sparse]},
        ]}),
    );
    let engine = Engine::new();
    let _cycles = engine.start_with_period(Duration::from_millis(20));
    let orders = table(
        &engine,
        &broker,
        "orders",
        "orders.raw",
        json!({"protocol": "raw", "message": "acme.Order",
            "proto_files": protos().join("acme/order.proto").to_str().unwrap(),
            "proto_include": protos().to_str().unwrap()}),
    );
    assert_eq!(rows_when(&orders, 2), vec![full_row, sparse_row]);
    assert_eq!(orders.error_counts().decode_errors, 0);
}

/// `files` (the fixtures, with `Line` given `extra` fields) compiled with
/// protox, as [`user_files`] gives them.
fn user_files_with_line_fields(extra: &str) -> Vec<String> {
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::create_dir_all(dir.path().join("acme")).unwrap();
    for file in ["acme/order.proto", "acme/common.proto"] {
        let mut text = std::fs::read_to_string(protos().join(file)).unwrap();
        if file == "acme/order.proto" {
            text = text.replacen(
                "    double price = 3;\n",
                &format!("    double price = 3;\n{extra}"),
                1,
            );
        }
        std::fs::write(dir.path().join(file), text).unwrap();
    }
    protox::compile(["acme/order.proto"], [dir.path()])
        .expect("compile the changed fixtures")
        .file
        .iter()
        .filter(|f| !f.name().starts_with("google/"))
        .map(|f| base64::engine::general_purpose::STANDARD.encode(f.encode_to_vec()))
        .collect()
}

fn lines(from: usize, n: usize, note: bool) -> Vec<Value> {
    (from..from + n)
        .map(|i| match note {
            true => json!({"sku": format!("L-{i}"), "qty": i, "note": "v2"}),
            false => json!({"sku": format!("L-{i}"), "qty": i}),
        })
        .collect()
}

/// A Protobuf table under `topictable run --http`: records of a schema id
/// not seen yet arrive while the registry is down. The table holds the
/// partition, and the REST status (`WaitingForRegistry`) and the metrics
/// (`topictable_table_waiting_for_registry` 1) say so; nothing is a bad
/// record. When the registry is back, every record arrives once and the
/// state is `Running` again.
#[test]
fn a_registry_outage_holds_a_protobuf_table_and_the_api_and_metrics_say_so() {
    use topictable_e2e::{TestProducer, TopictableProcess, serialize_with_python, wait_for};
    let dir = tempfile::tempdir().expect("temp dir");
    let mut registry = Registry::start_persistent(&dir.path().join("schemas.json"));
    let broker = Broker::start();
    broker.create_topic("outage.pb", 1);
    let producer = TestProducer::new(&broker);
    let case = |files: Vec<String>, records: Vec<Value>| {
        json!({"files": files, "cases": [
            {"topic": "outage.pb", "message": "acme.Order.Line", "records": records}]})
    };
    let n = 50;
    let v1 = serialize_with_python(
        "produce_protobuf.py",
        &registry,
        &case(user_files(), lines(0, n, false)),
    );
    producer.send_values("outage.pb", 0, &v1);
    let pipeline = dir.path().join("lines.toml");
    std::fs::write(
        &pipeline,
        format!(
            r#"[kafka]
"bootstrap.servers" = "{}"

[[table]]
name = "lines"
topic = "outage.pb"
type = "append"
offsets = "beginning"
value = {{ format = "protobuf", schema_registry_url = "{}", message = "acme.Order.Line" }}
"#,
            broker.bootstrap(),
            registry.url()
        ),
    )
    .unwrap();
    let run = TopictableProcess::start(&[
        "run".as_ref(),
        pipeline.as_os_str(),
        "--http".as_ref(),
        "127.0.0.1:0".as_ref(),
    ]);
    let base = run.http_base_url();
    let get =
        |path: &str| -> String { topictable_e2e::http_get(&format!("{base}{path}"), None).text() };
    let table = || -> Value {
        let status: Value = serde_json::from_str(&get("/api/v1/pipelines/lines/status")).unwrap();
        status["tables"]
            .as_array()
            .and_then(|t| t.iter().find(|t| t["name"] == "lines"))
            .cloned()
            .unwrap_or_else(|| panic!("no table `lines` in {status}"))
    };
    let waiting_metric = || -> Option<f64> {
        get("/metrics")
            .lines()
            .find(|l| {
                l.starts_with("topictable_table_waiting_for_registry{")
                    && l.contains("table=\"lines\"")
            })
            .and_then(|l| l.rsplit(' ').next()?.parse().ok())
    };
    wait_for("the first records", Duration::from_secs(60), || {
        (table()["rows"] == n).then_some(())
    });
    assert_eq!(waiting_metric(), Some(0.0));

    // v2 (a `note` field more) is registered now, a new id the table has
    // not seen, and produced while the registry is down.
    let v2 = serialize_with_python(
        "produce_protobuf.py",
        &registry,
        &case(
            user_files_with_line_fields("    string note = 4;\n"),
            lines(n, n, true),
        ),
    );
    assert_ne!(v1[0][1..5], v2[0][1..5], "a new schema id for v2");
    registry.stop();
    producer.send_values("outage.pb", 0, &v2);
    let held = wait_for("the table to wait", Duration::from_secs(60), || {
        let t = table();
        (t["state"] == "WaitingForRegistry").then_some(t)
    });
    assert!(
        held.to_string().contains("Waiting for schema registry"),
        "{held}"
    );
    assert_eq!(held["rows"], n, "nothing of v2 yet");
    assert_eq!(waiting_metric(), Some(1.0));

    registry.restart();
    let back = wait_for("the table to run again", Duration::from_secs(60), || {
        let t = table();
        (t["state"] == "Running" && t["rows"] == 2 * n).then_some(t)
    });
    assert_eq!(back["errors"]["decode_errors"], 0, "{back}");
    assert_eq!(waiting_metric(), Some(0.0));
    std::thread::sleep(Duration::from_secs(1));
    assert_eq!(table()["rows"], 2 * n, "every record once");
    drop(run);
}
