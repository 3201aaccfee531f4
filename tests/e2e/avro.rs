//! Avro topics end to end: `topictable registry` serves confluent-kafka's
//! `SchemaRegistryClient` unchanged, and records serialized by its
//! `AvroSerializer` (two schema versions on one topic) and produced to tansu
//! by its producer become one table. Raw datums (no header) work too.

use std::time::Duration;

use serde_json::{Value, json};
use topictable::ingest::{ConsumedTable, KeyOrValueSpec};
use topictable_e2e::{
    Broker, Registry, json_rows, produce_serialized, read_into_append_table, run_python,
    serialize_with_python, snapshot_with_rows,
};
use topictable_engine::Engine;

/// Reads `topic` from the beginning into an append table, values with `avro` and `config`.
fn table(engine: &Engine, broker: &Broker, topic: &str, config: Value) -> ConsumedTable {
    read_into_append_table(
        engine,
        broker,
        topic,
        topic,
        KeyOrValueSpec::Ignore,
        KeyOrValueSpec::codec("avro", config),
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

/// `records` serialized by confluent-kafka's AvroSerializer through
/// `registry` (registering `schema` under `topic`'s subject), not produced.
fn serialize(
    registry: &Registry,
    topic: &str,
    schema: &Value,
    records: Vec<Value>,
) -> Vec<Vec<u8>> {
    let case = json!([{"topic": topic, "schema": schema, "records": records}]);
    serialize_with_python("produce_avro.py", registry, &case)
}

fn prices(from: usize, n: usize, with_qty: bool) -> Vec<Value> {
    (from..from + n)
        .map(|i| match with_qty {
            true => json!({"symbol": format!("S{i}"), "price": i as f64, "qty": 1}),
            false => json!({"symbol": format!("S{i}"), "price": i as f64}),
        })
        .collect()
}

/// The registry goes away while records of a schema id the table has not
/// seen arrive on partition 0 (records of a known id go on arriving on
/// partition 1). Under every policy, partition 0 is held at the first such
/// record (`Waiting for schema registry`), partition 1 goes on, nothing is
/// counted as a bad record, skipped or dead-lettered; when the registry is
/// back, every record arrives exactly once.
#[test]
fn a_registry_outage_holds_the_partition_and_loses_nothing_under_each_policy() {
    use topictable::ingest::{
        ConsumeSpec, IngestStatus, InitialOffsets, KeyOrValueSpec, OnError, StartAt,
        consume_to_table,
    };
    use topictable_e2e::{TestProducer, plugins, wait_for};

    let dir = tempfile::tempdir().expect("temp dir");
    let mut registry = Registry::start_persistent(&dir.path().join("schemas.json"));
    let broker = Broker::start();
    let producer = TestProducer::new(&broker);
    // 1,000 records produced while the registry is down: 500 of a new
    // schema id on partition 0, 500 of a known one on partition 1.
    let n = 500;
    for policy in ["fail", "skip", "dead-letter"] {
        let topic = format!("outage.{policy}");
        broker.create_topic(&topic, 2);
        let dlq = format!("{topic}.dlq");
        broker.create_topic(&dlq, 1);
        let first = serialize(&registry, &topic, &price_schema(false), prices(0, n, false));
        let more_v1 = serialize(&registry, &topic, &price_schema(false), prices(n, n, false));

        let engine = Engine::new();
        let _cycles = engine.start_with_period(Duration::from_millis(20));
        let mut spec = ConsumeSpec::new(
            &broker.bootstrap(),
            &topic,
            KeyOrValueSpec::Ignore,
            KeyOrValueSpec::codec(
                "avro",
                json!({"schema_registry_url": registry.url(), "schema_subject": format!("{topic}-value")}),
            ),
        );
        spec.table_type = topictable_engine::TableType::Append;
        spec.offsets = InitialOffsets::all(StartAt::Beginning);
        spec.on_error = match policy {
            "fail" => OnError::Fail,
            "skip" => OnError::Skip,
            _ => OnError::dead_letter(dlq.clone()),
        };
        let table = consume_to_table(&engine, &topic, &plugins(), spec).expect("consume");
        producer.send_values(&topic, 0, &first);
        snapshot_with_rows(&table, n);

        // v2, registered now (a new id the table has not seen), serialized
        // while the registry is up and produced while it is down.
        let v2 = serialize(
            &registry,
            &topic,
            &price_schema(true),
            prices(2 * n, n, true),
        );
        assert_ne!(first[0][1..5], v2[0][1..5], "a new schema id for v2");
        registry.stop();
        producer.send_values(&topic, 0, &v2);
        producer.send_values(&topic, 1, &more_v1);
        // Partition 1 (a known schema) goes on; partition 0 is held.
        snapshot_with_rows(&table, 2 * n);
        let waiting = wait_for(
            "the table to wait",
            Duration::from_secs(30),
            || match table.status() {
                IngestStatus::WaitingForRegistry(why) => Some(why),
                IngestStatus::Failed(why) => panic!("{policy}: failed: {why}"),
                _ => None,
            },
        );
        assert!(
            waiting.starts_with("Waiting for schema registry"),
            "{waiting}"
        );
        // The held partition's position is the held record (a restart resumes there).
        let position = table.probe().positions().partitions[&(topic.clone(), 0)].position;
        assert_eq!(position, Some(n as i64), "{policy}");
        std::thread::sleep(Duration::from_secs(2));
        assert_eq!(
            table.table().snapshot().unwrap().num_rows(),
            2 * n,
            "{policy}"
        );
        let counts = table.error_counts();
        let none = (counts.decode_errors, counts.skipped, counts.dead_lettered);
        assert_eq!(
            none,
            (0, 0, 0),
            "{policy}: held records are not bad records"
        );

        registry.restart();
        let rows = json_rows(&snapshot_with_rows(&table, 3 * n));
        wait_for("the table to run again", Duration::from_secs(30), || {
            matches!(table.status(), IngestStatus::Running).then_some(())
        });
        std::thread::sleep(Duration::from_millis(500));
        let rows_now = table.table().snapshot().unwrap().num_rows();
        assert_eq!(rows_now, 3 * n, "{policy}: every record exactly once");
        let mut symbols: Vec<String> = rows
            .iter()
            .map(|r| r["symbol"].as_str().unwrap().to_string())
            .collect();
        symbols.sort();
        symbols.dedup();
        assert_eq!(symbols.len(), 3 * n, "{policy}: no record twice, none lost");
        let counts = table.error_counts();
        let none = (counts.decode_errors, counts.skipped, counts.dead_lettered);
        assert_eq!(none, (0, 0, 0), "{policy}");
    }
}
