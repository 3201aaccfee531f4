//! Avro topics end to end: `topictable registry` serves confluent-kafka's
//! `SchemaRegistryClient` unchanged, and records serialized by its
//! `AvroSerializer` (two schema versions on one topic) become one table.

use std::net::TcpListener;
use std::process::{Command, Stdio};
use std::time::Duration;

use arrow_array::cast::AsArray;
use arrow_array::types::{Float64Type, Int32Type};
use serde_json::json;
use topictable::ingest::{ConsumeSpec, InitialOffsets, StartAt, ValueSpec, consume_to_table};
use topictable_e2e::{
    Broker, TestProducer, plugin_dir, plugins, python, run_python, topictable_bin, wait_for,
    workspace_root,
};
use topictable_engine::{Engine, TableType};

struct Registry(std::process::Child, String);

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start_registry() -> Registry {
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = Command::new(topictable_bin())
        .arg("--plugin-dir")
        .arg(plugin_dir())
        .args(["registry", "--listen", &format!("127.0.0.1:{port}")])
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    wait_for("the registry to listen", Duration::from_secs(20), || {
        std::net::TcpStream::connect(("127.0.0.1", port))
            .ok()
            .map(|_| ())
    });
    Registry(child, format!("http://127.0.0.1:{port}"))
}

#[test]
fn confluent_schema_registry_client_works_against_topictable_registry() {
    let registry = start_registry();
    let out = run_python("registry_check.py", &[&registry.1]);
    assert!(out.contains('{'), "{out}");
}

#[test]
fn avro_records_from_the_confluent_serializer_with_schema_evolution() {
    let registry = start_registry();
    let broker = Broker::start();
    broker.create_topic("prices.avro", 1);
    let v1 = json!({"type": "record", "name": "Price", "namespace": "demo",
        "fields": [{"name": "symbol", "type": "string"}, {"name": "price", "type": "double"}]});
    let v2 = json!({"type": "record", "name": "Price", "namespace": "demo",
        "fields": [{"name": "symbol", "type": "string"}, {"name": "price", "type": "double"},
                   {"name": "qty", "type": "int", "default": 0}]});
    let cases = json!([
        {"topic": "prices.avro", "schema": v1, "records": [{"symbol": "AAPL", "price": 135.6}]},
        {"topic": "prices.avro", "schema": v2, "records": [{"symbol": "TSLA", "price": 730.0, "qty": 3}]},
    ]);
    let dir = tempfile::tempdir().unwrap();
    let cases_file = dir.path().join("cases.json");
    let out_file = dir.path().join("out.jsonl");
    std::fs::write(&cases_file, cases.to_string()).unwrap();
    let status = Command::new(python())
        .arg(workspace_root().join("tests/python/produce_avro.py"))
        .args([
            registry.1.as_str(),
            cases_file.to_str().unwrap(),
            out_file.to_str().unwrap(),
        ])
        .status()
        .unwrap();
    assert!(status.success());
    let producer = TestProducer::new(&broker);
    for line in std::fs::read_to_string(&out_file).unwrap().lines() {
        let record: serde_json::Value = serde_json::from_str(line).unwrap();
        let hex = record["hex"].as_str().unwrap();
        let bytes: Vec<u8> = (0..hex.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
            .collect();
        assert_eq!(bytes[0], 0, "Confluent framing");
        producer.send("prices.avro", 0, None, Some(&bytes), &[]);
    }

    let engine = Engine::new();
    let _cycles = engine.start_with_period(Duration::from_millis(20));
    let value = ValueSpec::codec(
        "avro",
        json!({"schema_registry_url": registry.1, "schema_subject": "prices.avro-value"}),
    );
    let mut spec = ConsumeSpec::new(&broker.bootstrap(), "prices.avro", ValueSpec::Ignore, value);
    spec.table_type = TableType::Append;
    spec.offsets = InitialOffsets::all(StartAt::Beginning);
    let t = consume_to_table(&engine, "prices", &plugins(), spec).unwrap();
    let batch = wait_for("both records", Duration::from_secs(30), || {
        t.table().snapshot().ok().filter(|b| b.num_rows() == 2)
    });
    let symbols: Vec<&str> = batch
        .column_by_name("symbol")
        .unwrap()
        .as_string::<i32>()
        .iter()
        .map(Option::unwrap)
        .collect();
    assert_eq!(symbols, ["AAPL", "TSLA"]);
    assert_eq!(
        batch
            .column_by_name("price")
            .unwrap()
            .as_primitive::<Float64Type>()
            .values()
            .to_vec(),
        [135.6, 730.0]
    );
    // v1's record read with v2 as the reader schema: qty takes its default.
    assert_eq!(
        batch
            .column_by_name("qty")
            .unwrap()
            .as_primitive::<Int32Type>()
            .values()
            .to_vec(),
        [0, 3]
    );
    assert_eq!(t.error_counts().decode_errors, 0);
}
