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
use topictable::ingest::{
    ConsumeSpec, ConsumedTable, InitialOffsets, StartAt, ValueSpec, consume_to_table,
};
use topictable_e2e::{
    Broker, Registry, json_rows, plugins, produce_serialized, wait_for, workspace_root,
};
use topictable_engine::{Engine, TableType};

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

/// An order using every kind of field (protobuf JSON mapping), and the row
/// topictable must make of it.
fn full_order() -> (Value, Value) {
    (
        json!({"id": "9007199254740993", "customer": "ann",
            "shipTo": {"city": "Oslo", "geo": {"lat": 59.9, "lon": 10.75}},
            "created": "2023-11-14T22:13:20.123456789Z", "ttl": "90.5s",
            "discount": "-5", "note": "fragile",
            "lines": [{"sku": "A-1", "qty": 2, "price": 9.5}, {"sku": "B-2"}],
            "tags": ["x", "y"], "counts": {"a": 1}, "status": "SHIPPED",
            "card": "visa", "blob": "AP8Q", "priority": 0, "nums": [-1, 0, 300],
            "bySku": {"A-1": {"sku": "A-1", "qty": 2}}, "small": 4000000000u32, "ratio": 0.25,
            "rush": true}),
        json!({"id": 9007199254740993i64, "customer": "ann", "ship_to_city": "Oslo",
            "ship_to_geo_lat": 59.9, "ship_to_geo_lon": 10.75,
            "created": "2023-11-14T22:13:20.123456789Z", "ttl": "PT90.5S",
            "discount": -5, "note": "fragile",
            "lines": [{"sku": "A-1", "qty": 2, "price": 9.5}, {"sku": "B-2", "qty": 0, "price": 0.0}],
            "tags": ["x", "y"], "counts": {"a": 1}, "status": "SHIPPED", "card": "visa",
            "blob": "00ff10", "priority": 0, "nums": [-1, 0, 300],
            "by_sku": {"A-1": {"sku": "A-1", "qty": 2, "price": 0.0}},
            "small": 4000000000u32, "ratio": 0.25, "rush": true}),
    )
}

/// An order with most fields absent: proto3 scalars read as zero, absent
/// messages, wrappers, `optional` and oneof members as null.
fn sparse_order() -> (Value, Value) {
    (
        json!({"id": "7", "voucher": "12"}),
        json!({"id": 7, "customer": "", "lines": [], "tags": [], "counts": {},
            "status": "STATUS_UNKNOWN", "voucher": 12, "blob": "", "nums": [], "by_sku": {},
            "small": 0, "ratio": 0.0, "rush": false}),
    )
}

/// Reads `topic` from the beginning into an append table with `value` config.
fn table(engine: &Engine, broker: &Broker, name: &str, topic: &str, value: Value) -> ConsumedTable {
    let mut spec = ConsumeSpec::new(
        &broker.bootstrap(),
        topic,
        ValueSpec::Ignore,
        ValueSpec::codec("protobuf", value),
    );
    spec.table_type = TableType::Append;
    spec.offsets = InitialOffsets::all(StartAt::Beginning);
    consume_to_table(engine, name, &plugins(), spec).expect("consume_to_table")
}

fn rows_when(table: &ConsumedTable, n: usize) -> Vec<Value> {
    let batch = wait_for(&format!("{n} rows"), Duration::from_secs(30), || {
        table.table().snapshot().ok().filter(|b| b.num_rows() >= n)
    });
    json_rows(&batch)
}

#[test]
fn protobuf_records_from_the_confluent_serializer_through_tansu() {
    let registry = Registry::start();
    let broker = Broker::start();
    broker.create_topic("orders.pb", 1);
    broker.create_topic("lines.pb", 1);
    let (full, full_row) = full_order();
    let (sparse, sparse_row) = sparse_order();
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
    let (full, full_row) = full_order();
    let (sparse, sparse_row) = sparse_order();
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
