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
use topictable::ingest::{ConsumedTable, ValueSpec};
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
        ValueSpec::Ignore,
        ValueSpec::codec("protobuf", config),
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
