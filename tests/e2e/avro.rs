//! Avro topics end to end: `topictable registry` serves confluent-kafka's
//! `SchemaRegistryClient` unchanged, and records serialized by its
//! `AvroSerializer` (two schema versions on one topic) and produced to tansu
//! by its producer become one table. Raw datums (no header) work too.

use std::time::Duration;

use serde_json::{Value, json};
use topictable::ingest::{ConsumedTable, ValueSpec};
use topictable_e2e::{
    Broker, Registry, json_rows, produce_serialized, read_into_append_table, run_python,
    snapshot_with_rows,
};
use topictable_engine::Engine;

/// Reads `topic` from the beginning into an append table, values with `avro` and `config`.
fn table(engine: &Engine, broker: &Broker, topic: &str, config: Value) -> ConsumedTable {
    read_into_append_table(
        engine,
        broker,
        topic,
        topic,
        ValueSpec::Ignore,
        ValueSpec::codec("avro", config),
    )
}

fn rows_when(table: &ConsumedTable, n: usize) -> Vec<Value> {
    json_rows(&snapshot_with_rows(table, n))
}

fn price_schema(with_qty: bool) -> Value {
    let mut fields = vec![
        json!({"name": "symbol", "type": "string"}),
        json!({"name": "price", "type": "double"}),
    ];
    if with_qty {
        fields.push(json!({"name": "qty", "type": "int", "default": 0}));
    }
    json!({"type": "record", "name": "Price", "namespace": "demo", "fields": fields})
}

#[test]
fn confluent_schema_registry_client_works_against_topictable_registry() {
    let registry = Registry::start();
    let out = run_python("registry_check.py", &[registry.url()]);
    assert!(out.contains('{'), "{out}");
}

#[test]
fn avro_records_from_the_confluent_serializer_with_schema_evolution() {
    let registry = Registry::start();
    let broker = Broker::start();
    broker.create_topic("prices.avro", 1);
    let bytes = produce_serialized(
        "produce_avro.py",
        &registry,
        &broker,
        &json!([
            {"topic": "prices.avro", "schema": price_schema(false),
             "records": [{"symbol": "AAPL", "price": 135.6}]},
            {"topic": "prices.avro", "schema": price_schema(true),
             "records": [{"symbol": "TSLA", "price": 730.0, "qty": 3}]},
        ]),
    );
    // Two schema versions, so two ids in the Confluent headers.
    assert_eq!(bytes.len(), 2);
    assert!(bytes.iter().all(|b| b[0] == 0), "Confluent framing");
    assert_ne!(bytes[0][1..5], bytes[1][1..5], "one schema id per version");

    let engine = Engine::new();
    let _cycles = engine.start_with_period(Duration::from_millis(20));
    let prices = table(
        &engine,
        &broker,
        "prices.avro",
        json!({"schema_registry_url": registry.url(), "schema_subject": "prices.avro-value"}),
    );
    // The reader schema is the latest (v2): v1's record gets qty's default.
    assert_eq!(
        rows_when(&prices, 2),
        vec![
            json!({"symbol": "AAPL", "price": 135.6, "qty": 0}),
            json!({"symbol": "TSLA", "price": 730.0, "qty": 3}),
        ]
    );
    assert_eq!(prices.error_counts().decode_errors, 0);
}

#[test]
fn raw_avro_datums_through_tansu() {
    let registry = Registry::start();
    let broker = Broker::start();
    broker.create_topic("prices.raw", 1);
    let schema = price_schema(true);
    produce_serialized(
        "produce_avro.py",
        &registry,
        &broker,
        &json!([{"topic": "prices.raw", "schema": schema, "raw": true,
            "records": [{"symbol": "MSFT", "price": 310.25, "qty": 7}]}]),
    );
    let engine = Engine::new();
    let _cycles = engine.start_with_period(Duration::from_millis(20));
    let prices = table(
        &engine,
        &broker,
        "prices.raw",
        json!({"protocol": "raw", "schema": schema.to_string()}),
    );
    assert_eq!(
        rows_when(&prices, 1),
        vec![json!({"symbol": "MSFT", "price": 310.25, "qty": 7})]
    );
    assert_eq!(prices.error_counts().decode_errors, 0);
}
