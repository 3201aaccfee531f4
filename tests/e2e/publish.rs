//! Tables → Kafka against a real broker: what topictable publishes is read
//! back by confluent-kafka for Python with its own deserializers, and by
//! topictable itself.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use arrow_array::{Float64Array, Int64Array, RecordBatch, StringArray};
use arrow_schema::{DataType, Field, Schema, SchemaRef};
use serde_json::{Value, json};
use topictable::ingest::{ConsumedTable, KeyOrValueSpec};
use topictable::pipeline;
use topictable::publish::{
    KafkaPublisher, OnFailure, PublishSpec, SinkOptions, SinkStatus, TopicChoice, start_sink,
};
use topictable_e2e::{
    Broker, Registry, plugins, read_into_append_table, run_python, snapshot_with_rows, wait_for,
    workspace_root,
};
use topictable_engine::{Engine, Table};

const WAIT: Duration = Duration::from_secs(30);

fn schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("Symbol", DataType::Utf8, false),
        Field::new("Price", DataType::Float64, false),
        Field::new("Qty", DataType::Int64, false),
    ]))
}

fn rows(symbols: &[&str], prices: &[f64], qty: &[i64]) -> RecordBatch {
    RecordBatch::try_new(
        schema(),
        vec![
            Arc::new(StringArray::from(symbols.to_vec())),
            Arc::new(Float64Array::from(prices.to_vec())),
            Arc::new(Int64Array::from(qty.to_vec())),
        ],
    )
    .unwrap()
}

fn publish_spec(
    broker: &Broker,
    topic: &str,
    key: KeyOrValueSpec,
    value: KeyOrValueSpec,
) -> PublishSpec {
    PublishSpec {
        properties: BTreeMap::from([("bootstrap.servers".to_string(), broker.bootstrap())]),
        topic: TopicChoice::Fixed(topic.into()),
        partition: None,
        partition_column: None,
        timestamp_column: None,
        header_columns: Vec::new(),
        key,
        value,
    }
}

fn read_back(broker: &Broker, topic: &str, n: usize, key: &str, value: &str) -> Vec<Value> {
    read_with(&[&broker.bootstrap(), topic, &n.to_string(), key, value])
}

/// [`read_back`] for `avro` key or value types, which need the registry.
fn read_back_with_registry(
    broker: &Broker,
    topic: &str,
    n: usize,
    key: &str,
    value: &str,
    registry: &str,
) -> Vec<Value> {
    read_with(&[
        &broker.bootstrap(),
        topic,
        &n.to_string(),
        key,
        value,
        registry,
    ])
}

/// `consume.py` with `args`: one JSON object per record read.
fn read_with(args: &[&str]) -> Vec<Value> {
    run_python("consume.py", args)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn engine() -> (Engine, topictable_engine::CycleThread) {
    let engine = Engine::new();
    let cycles = engine.start_with_period(Duration::from_millis(20));
    (engine, cycles)
}

fn start(
    engine: &Engine,
    table: &Table,
    spec: &PublishSpec,
    options: SinkOptions,
) -> topictable::publish::RunningSink {
    let publisher =
        KafkaPublisher::new(spec, &plugins(), &table.schema(), table.is_blink()).unwrap();
    start_sink("publisher", engine, table, Box::new(publisher), options).unwrap()
}

#[test]
fn simple_and_json_round_trip_through_kafka_and_two_readers() {
    let broker = Broker::start();
    broker.create_topic("trades", 1);
    let (engine, _cycles) = engine();
    let table = engine.append_table("trades", schema()).unwrap();
    let key = KeyOrValueSpec::codec("simple", json!({"type": "string", "column": "Symbol"}));
    let value = KeyOrValueSpec::codec("json", json!({"include": ["Price", "Qty"]}));
    let _sink = start(
        &engine,
        &table,
        &publish_spec(&broker, "trades", key.clone(), value),
        SinkOptions::default(),
    );
    table
        .writer()
        .unwrap()
        .push(rows(&["AAPL", "TSLA"], &[135.6, 730.0], &[7, 3]))
        .unwrap();
    table
        .writer()
        .unwrap()
        .push(rows(&["AAPL"], &[136.82], &[2]))
        .unwrap();

    // confluent-kafka with its own deserializers.
    let got = read_back(&broker, "trades", 3, "string", "json");
    let simplified: Vec<(String, f64, i64)> = got
        .iter()
        .map(|r| {
            (
                r["key"].as_str().unwrap().into(),
                r["value"]["Price"].as_f64().unwrap(),
                r["value"]["Qty"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        simplified,
        [
            ("AAPL".into(), 135.6, 7),
            ("TSLA".into(), 730.0, 3),
            ("AAPL".into(), 136.82, 2)
        ]
    );

    // topictable reads back the same rows.
    let back = read_into_append_table(
        &engine,
        &broker,
        "back",
        "trades",
        key,
        KeyOrValueSpec::codec(
            "json",
            json!({"columns": [{"name": "Price", "type": "float64"}, {"name": "Qty", "type": "int64"}]}),
        ),
    );
    assert_same_rows(&engine, &table, &back);
}

/// `back` (the standard columns, then Symbol, Price and Qty) holds `table`'s rows.
fn assert_same_rows(engine: &Engine, table: &Table, back: &ConsumedTable) {
    let expected = engine.snapshot(&[table]).unwrap().batches.remove(0);
    let batch = snapshot_with_rows(back, expected.num_rows());
    let back_rows = batch.project(&[3, 4, 5]).unwrap();
    assert_eq!(back_rows.columns(), expected.columns());
    assert_eq!(back.error_counts().decode_errors, 0);
}

#[test]
fn avro_round_trip_through_kafka_the_registry_and_two_readers() {
    let registry = Registry::start();
    let broker = Broker::start();
    broker.create_topic("trades.avro", 1);
    let (engine, _cycles) = engine();
    let table = engine.append_table("trades", schema()).unwrap();
    let key = KeyOrValueSpec::codec("simple", json!({"type": "string", "column": "Symbol"}));
    // No schema given: one is generated from the table and registered under
    // `trades.avro-value` (the topic is filled in from the publisher's).
    let value = KeyOrValueSpec::codec(
        "avro",
        json!({"schema_registry_url": registry.url(), "auto_register": true}),
    );
    let _sink = start(
        &engine,
        &table,
        &publish_spec(&broker, "trades.avro", key.clone(), value),
        SinkOptions::default(),
    );
    table
        .writer()
        .unwrap()
        .push(rows(
            &["AAPL", "TSLA", "AAPL"],
            &[135.6, 730.0, 136.82],
            &[7, 3, 2],
        ))
        .unwrap();

    // confluent-kafka's AvroDeserializer, with the schema from our registry.
    let got = read_back_with_registry(&broker, "trades.avro", 3, "string", "avro", registry.url());
    let values: Vec<(&str, &Value)> = got
        .iter()
        .map(|r| (r["key"].as_str().unwrap(), &r["value"]))
        .collect();
    assert_eq!(
        values,
        [
            ("AAPL", &json!({"Symbol": "AAPL", "Price": 135.6, "Qty": 7})),
            ("TSLA", &json!({"Symbol": "TSLA", "Price": 730.0, "Qty": 3})),
            (
                "AAPL",
                &json!({"Symbol": "AAPL", "Price": 136.82, "Qty": 2})
            ),
        ]
    );

    // topictable reads the same rows back, with the registered schema as its reader schema.
    let back = read_into_append_table(
        &engine,
        &broker,
        "back",
        "trades.avro",
        KeyOrValueSpec::Ignore,
        KeyOrValueSpec::codec("avro", json!({"schema_registry_url": registry.url()})),
    );
    assert_same_rows(&engine, &table, &back);
}

#[test]
fn simple_binary_values_are_what_kafka_deserializers_expect() {
    let broker = Broker::start();
    broker.create_topic("binary", 1);
    let (engine, _cycles) = engine();
    let table = engine.append_table("binary", schema()).unwrap();
    let key = KeyOrValueSpec::codec("simple", json!({"type": "int64", "column": "Qty"}));
    let value = KeyOrValueSpec::codec("simple", json!({"type": "float64", "column": "Price"}));
    let _sink = start(
        &engine,
        &table,
        &publish_spec(&broker, "binary", key, value),
        SinkOptions::default(),
    );
    table
        .writer()
        .unwrap()
        .push(rows(&["A", "B"], &[1.5, -2.25], &[42, -7]))
        .unwrap();
    let got = read_back(&broker, "binary", 2, "long", "double");
    let pairs: Vec<(i64, f64)> = got
        .iter()
        .map(|r| (r["key"].as_i64().unwrap(), r["value"].as_f64().unwrap()))
        .collect();
    assert_eq!(pairs, [(42, 1.5), (-7, -2.25)]);
}

/// Rows `0..n` of (Id, Part = Id % 3, Symbol = one of five, null every 7th,
/// IdText = Id as text).
fn routed_rows(n: i64) -> RecordBatch {
    let schema = Arc::new(Schema::new(vec![
        Field::new("Id", DataType::Int64, false),
        Field::new("Part", DataType::Int32, false),
        Field::new("Symbol", DataType::Utf8, true),
        Field::new("IdText", DataType::Utf8, false),
    ]));
    let symbols = ["AAPL", "TSLA", "MSFT", "NVDA", "AMZN"];
    RecordBatch::try_new(
        schema,
        vec![
            Arc::new(Int64Array::from_iter_values(0..n)),
            Arc::new(arrow_array::Int32Array::from_iter_values(
                (0..n).map(|i| (i % 3) as i32),
            )),
            Arc::new(StringArray::from_iter(
                (0..n).map(|i| (i % 7 != 0).then(|| symbols[(i % 5) as usize])),
            )),
            Arc::new(StringArray::from_iter_values((0..n).map(|i| i.to_string()))),
        ],
    )
    .unwrap()
}

#[test]
fn records_go_to_a_fixed_partition_a_partition_column_or_by_key_in_table_order() {
    // 40,000 rows span several of the publisher's slices, and a local queue of
    // 1,000 messages makes librdkafka refuse records mid-slice, which the
    // publisher must resume from without reordering or losing any.
    const N: i64 = 40_000;
    let broker = Broker::start();
    let (engine, _cycles) = engine();
    let batch = routed_rows(N);
    let table = engine.append_table("routed", batch.schema()).unwrap();
    let key = KeyOrValueSpec::codec("simple", json!({"type": "string", "column": "Symbol"}));
    // A key on every row: the publisher partitions them itself.
    let id_key = KeyOrValueSpec::codec("simple", json!({"type": "string", "column": "IdText"}));
    let value = KeyOrValueSpec::codec("simple", json!({"type": "int64", "column": "Id"}));
    let mut sinks = Vec::new();
    for (topic, partition, column, key) in [
        ("routed-fixed", Some(2), None, &key),
        ("routed-column", None, Some("Part"), &key),
        ("routed-key", None, None, &key),
        ("routed-every-key", None, None, &id_key),
    ] {
        broker.create_topic(topic, 3);
        let mut spec = publish_spec(&broker, topic, key.clone(), value.clone());
        spec.partition = partition;
        spec.partition_column = column.map(String::from);
        spec.properties
            .insert("queue.buffering.max.messages".into(), "1000".into());
        sinks.push(start(&engine, &table, &spec, SinkOptions::default()));
    }
    table.writer().unwrap().push(batch).unwrap();

    let read = |topic: &str| {
        let got = read_back(&broker, topic, N as usize, "string", "long");
        assert_eq!(got.len(), N as usize, "{topic}: every record arrives");
        got.iter()
            .map(|r| {
                (
                    r["partition"].as_i64().unwrap(),
                    r["offset"].as_i64().unwrap(),
                    r["key"].as_str().map(String::from),
                    r["value"].as_i64().unwrap(),
                )
            })
            .collect::<Vec<_>>()
    };
    let in_table_order = |topic: &str, records: &[(i64, i64, Option<String>, i64)]| {
        let mut ids: Vec<i64> = records.iter().map(|r| r.3).collect();
        ids.sort_unstable();
        assert_eq!(ids, (0..N).collect::<Vec<_>>(), "{topic}: each row once");
        for p in 0..3 {
            let mut in_partition: Vec<(i64, i64)> = records
                .iter()
                .filter(|r| r.0 == p)
                .map(|r| (r.1, r.3))
                .collect();
            in_partition.sort_unstable();
            assert!(
                in_partition.windows(2).all(|w| w[0].1 < w[1].1),
                "{topic}: partition {p} holds its rows in table order"
            );
        }
    };

    let fixed = read("routed-fixed");
    in_table_order("routed-fixed", &fixed);
    assert!(fixed.iter().all(|r| r.0 == 2), "a fixed partition");
    let symbol = |id: i64| {
        (id % 7 != 0).then(|| ["AAPL", "TSLA", "MSFT", "NVDA", "AMZN"][(id % 5) as usize])
    };
    assert!(
        fixed.iter().all(|r| r.2.as_deref() == symbol(r.3)),
        "keys (and null keys) as in the table"
    );

    let by_column = read("routed-column");
    in_table_order("routed-column", &by_column);
    assert!(
        by_column.iter().all(|r| r.0 == r.3 % 3),
        "each record in its row's Part"
    );

    let every_key = read("routed-every-key");
    in_table_order("routed-every-key", &every_key);
    assert!(
        every_key
            .iter()
            .all(|r| r.2.as_deref() == Some(r.3.to_string().as_str())),
        "each row's own key"
    );
    assert_eq!(
        every_key
            .iter()
            .map(|r| r.0)
            .collect::<std::collections::BTreeSet<_>>()
            .len(),
        3,
        "the keys spread over every partition"
    );

    let by_key = read("routed-key");
    in_table_order("routed-key", &by_key);
    let mut partition_of: BTreeMap<String, i64> = BTreeMap::new();
    for (partition, _, key, _) in &by_key {
        if let Some(key) = key {
            let first = *partition_of.entry(key.clone()).or_insert(*partition);
            assert_eq!(first, *partition, "key {key} always lands in one partition");
        }
    }
    assert!(
        partition_of
            .values()
            .collect::<std::collections::BTreeSet<_>>()
            .len()
            > 1,
        "librdkafka's partitioner spreads the keys: {partition_of:?}"
    );
    for sink in &sinks {
        assert_eq!(sink.status(), SinkStatus::Running);
    }
}

/// Which partition each key landed in, read back with confluent-kafka.
fn partition_of_each_key(broker: &Broker, topic: &str, n: usize) -> BTreeMap<String, i64> {
    read_back(broker, topic, n, "string", "long")
        .iter()
        .map(|r| {
            (
                r["key"].as_str().unwrap().to_string(),
                r["partition"].as_i64().unwrap(),
            )
        })
        .collect()
}

#[test]
fn keys_land_in_the_partitions_confluent_kafka_would_choose() {
    // topictable partitions keyed records itself (to hand librdkafka one
    // batch per partition), with librdkafka's configured partitioner. The
    // reference is confluent-kafka producing the same keys with the same
    // `partitioner` setting.
    const N: i64 = 300;
    let broker = Broker::start();
    let (engine, _cycles) = engine();
    let schema = Arc::new(Schema::new(vec![
        Field::new("K", DataType::Utf8, false),
        Field::new("V", DataType::Int64, false),
    ]));
    let table = engine.append_table("keyed", schema.clone()).unwrap();
    let keys: Vec<String> = (0..N).map(|i| format!("key-{i}")).collect();
    let records: Vec<Value> = keys
        .iter()
        .enumerate()
        .map(|(i, k)| json!({"key": k, "key_type": "string", "value": i, "value_type": "long"}))
        .collect();
    let mut sinks = Vec::new();
    let mut by_partitioner = Vec::new();
    for partitioner in [None, Some("murmur2_random"), Some("fnv1a")] {
        let name = partitioner.unwrap_or("default").replace('_', "-");
        let (ours, theirs) = (format!("ours-{name}"), format!("theirs-{name}"));
        broker.create_topic(&ours, 7);
        broker.create_topic(&theirs, 7);
        let mut spec = publish_spec(
            &broker,
            &ours,
            KeyOrValueSpec::codec("simple", json!({"type": "string", "column": "K"})),
            KeyOrValueSpec::codec("simple", json!({"type": "int64", "column": "V"})),
        );
        let config = match partitioner {
            Some(p) => {
                spec.properties.insert("partitioner".into(), p.into());
                json!({ "partitioner": p })
            }
            None => json!({}),
        };
        sinks.push(start(&engine, &table, &spec, SinkOptions::default()));
        topictable_e2e::produce_with_python_config(&broker, &theirs, &json!(records), &config);
        by_partitioner.push((name, ours, theirs));
    }
    table
        .writer()
        .unwrap()
        .push(
            RecordBatch::try_new(
                schema,
                vec![
                    Arc::new(StringArray::from(keys.clone())),
                    Arc::new(Int64Array::from_iter_values(0..N)),
                ],
            )
            .unwrap(),
        )
        .unwrap();
    let mut maps = Vec::new();
    for (name, ours, theirs) in &by_partitioner {
        let ours = partition_of_each_key(&broker, ours, N as usize);
        let theirs = partition_of_each_key(&broker, theirs, N as usize);
        assert_eq!(ours.len(), N as usize, "{name}: every key");
        assert_eq!(ours, theirs, "{name}: the same partition for every key");
        maps.push(ours);
    }
    assert!(
        maps[0] != maps[1] && maps[1] != maps[2],
        "the partitioners differ, so the setting was honoured"
    );
    for sink in &sinks {
        assert_eq!(sink.status(), SinkStatus::Running);
    }
}

#[test]
fn last_by_publishes_the_latest_per_key_and_removed_rows_become_tombstones() {
    let broker = Broker::start();
    broker.create_topic("latest", 1);
    let (engine, _cycles) = engine();
    // A ring of 2 evicts its oldest row: a removal, so a tombstone.
    let ring = engine.ring_table("ring", schema(), 2).unwrap();
    let latest = ring.last_by(["Symbol"]).unwrap();
    let key = KeyOrValueSpec::codec("simple", json!({"type": "string", "column": "Symbol"}));
    let value = KeyOrValueSpec::codec("json", json!({"include": ["Price"]}));
    let _sink = start(
        &engine,
        &latest,
        &publish_spec(&broker, "latest", key, value),
        SinkOptions::default(),
    );
    let w = ring.writer().unwrap();
    w.push(rows(&["AAPL"], &[1.0], &[1])).unwrap();
    engine.run_cycle().unwrap();
    w.push(rows(&["AAPL"], &[2.0], &[1])).unwrap();
    engine.run_cycle().unwrap();
    w.push(rows(&["TSLA"], &[3.0], &[1])).unwrap();
    engine.run_cycle().unwrap();
    w.push(rows(&["MSFT"], &[4.0], &[1])).unwrap();
    engine.run_cycle().unwrap();
    // AAPL: added (1.0), modified (2.0), then evicted from the ring → tombstone.
    let got = read_back(&broker, "latest", 5, "string", "json");
    let events: Vec<(String, Option<f64>)> = got
        .iter()
        .map(|r| {
            (
                r["key"].as_str().unwrap().to_string(),
                r["value"].get("Price").and_then(Value::as_f64),
            )
        })
        .collect();
    assert_eq!(
        events,
        [
            ("AAPL".to_string(), Some(1.0)),
            ("AAPL".to_string(), Some(2.0)),
            ("TSLA".to_string(), Some(3.0)),
            ("MSFT".to_string(), Some(4.0)),
            ("AAPL".to_string(), None),
        ],
        "{got:#?}"
    );
    assert!(got[4]["value"].is_null(), "a tombstone's value() is None");
}

#[test]
fn a_record_kafka_refuses_names_its_topic_and_partition_in_the_sink_status() {
    let broker = Broker::start();
    broker.create_topic("one-partition", 1);
    let (engine, _cycles) = engine();
    let table = engine.append_table("t", schema()).unwrap();
    let mut spec = publish_spec(
        &broker,
        "one-partition",
        KeyOrValueSpec::codec("simple", json!({"type": "string", "column": "Symbol"})),
        KeyOrValueSpec::codec("json", json!({})),
    );
    spec.partition = Some(5);
    let sink = start(&engine, &table, &spec, SinkOptions::default());
    // Sent again after each failure would fail again: the sink stops (on_failure = stop).
    for _ in 0..3 {
        table
            .writer()
            .unwrap()
            .push(rows(&["AAPL"], &[1.0], &[1]))
            .unwrap();
    }
    let status = wait_for("the sink to fail", WAIT, || match sink.status() {
        SinkStatus::Failed(m) => Some(m),
        _ => None,
    });
    // librdkafka refuses it at once once it knows the topic's partitions, or
    // fails its delivery before; either way the error says where it went.
    assert!(
        status.contains("topic one-partition partition 5"),
        "{status}"
    );
    assert!(
        status.to_lowercase().contains("unknown partition"),
        "{status}"
    );
}

/// A row the sink can never send is not retried without end, even under
/// `on_failure = retry` with no limit: the sink fails, naming the row.
#[test]
fn a_modify_that_changes_the_key_is_an_error_in_the_sink_status() {
    let broker = Broker::start();
    broker.create_topic("rekey", 1);
    let (engine, _cycles) = engine();
    let orders = engine.append_table("orders", schema()).unwrap();
    // Latest row per Qty (standing in for an order id), published keyed by Symbol.
    let latest = orders.last_by(["Qty"]).unwrap();
    let key = KeyOrValueSpec::codec("simple", json!({"type": "string", "column": "Symbol"}));
    let sink = start(
        &engine,
        &latest,
        &publish_spec(&broker, "rekey", key, KeyOrValueSpec::Ignore),
        SinkOptions {
            on_failure: OnFailure::Retry {
                max_retries: 0,
                initial_backoff: Duration::from_millis(10),
                max_backoff: Duration::from_millis(100),
            },
            ..SinkOptions::default()
        },
    );
    orders
        .writer()
        .unwrap()
        .push(rows(&["AAPL"], &[1.0], &[1]))
        .unwrap();
    engine.run_cycle().unwrap();
    orders
        .writer()
        .unwrap()
        .push(rows(&["TSLA"], &[1.0], &[1]))
        .unwrap();
    let status = wait_for("the sink to fail", WAIT, || match sink.status() {
        SinkStatus::Failed(m) => Some(m),
        _ => None,
    });
    assert!(
        status.contains("(row 0 of cycle") && status.contains("changed its key columns"),
        "{status}"
    );
    assert!(status.contains("retrying cannot help"), "{status}");
    assert_eq!(sink.counts().failures, 1, "not retried");
}

#[test]
fn seed_write_examples_run_from_examples() {
    let broker = Broker::start();
    broker.create_topic("time-topic", 1);
    broker.create_topic("time-topic_group", 1);
    for (file, topic, key_type, value_type) in [
        ("time_topic.toml", "time-topic", "int", "raw"),
        ("time_topic_group.toml", "time-topic_group", "json", "json"),
    ] {
        let mut p = pipeline::load(&workspace_root().join("examples").join(file)).unwrap();
        for sink in &mut p.sinks {
            if let pipeline::SinkTarget::Kafka(spec) = &mut sink.target {
                spec.properties
                    .insert("bootstrap.servers".into(), broker.bootstrap());
            }
        }
        let engine = Engine::new();
        let cycles = engine.start_with_period(Duration::from_millis(50));
        let mut running = pipeline::start(&p, &plugins(), &engine).unwrap();
        std::thread::sleep(Duration::from_millis(1500));
        running.stop_sinks();
        cycles.stop();
        let got = read_back(&broker, topic, 5, key_type, value_type);
        assert_eq!(got.len(), 5, "{file}: {got:?}");
        if key_type == "int" {
            // `X = i`: the row number, as a 4-byte int key.
            let keys: Vec<i64> = got.iter().map(|r| r["key"].as_i64().unwrap()).collect();
            assert_eq!(keys, [0, 1, 2, 3, 4], "{file}: X = i");
            assert!(
                got.iter().all(|r| r["value"].is_null()),
                "{file}: the value is ignored"
            );
        } else {
            // `X = randomInt(1, 5)`, `Y = i`, last_by X: every X in 1..=4, and
            // each record's Y is a row number newer than any earlier record's
            // of the same X.
            let mut last_y: std::collections::BTreeMap<i64, i64> = Default::default();
            for r in &got {
                assert_eq!(r["key"]["X"], r["value"]["X"], "{file}: {r}");
                let x = r["value"]["X"].as_i64().unwrap();
                let y = r["value"]["Y"].as_i64().unwrap();
                assert!((1..5).contains(&x), "{file}: randomInt(1, 5) gave {x}");
                if let Some(prev) = last_y.insert(x, y) {
                    assert!(y > prev, "{file}: {r} after Y = {prev}");
                }
            }
        }
    }
}

fn publish_until(
    broker: &mut Broker,
    topic: &str,
    on_failure: OnFailure,
) -> (SinkStatus, Vec<Value>) {
    let (engine, _cycles) = engine();
    let table = engine.append_table("t", schema()).unwrap();
    let key = KeyOrValueSpec::codec("simple", json!({"type": "int64", "column": "Qty"}));
    let mut spec = publish_spec(
        broker,
        topic,
        key,
        KeyOrValueSpec::codec("json", json!({"include": ["Symbol"]})),
    );
    spec.properties
        .insert("message.timeout.ms".into(), "3000".into());
    let options = SinkOptions {
        on_failure,
        ..SinkOptions::default()
    };
    let sink = start(&engine, &table, &spec, options);
    let w = table.writer().unwrap();
    w.push(rows(&["a"], &[0.0], &[1])).unwrap();
    wait_for("the first row delivered", WAIT, || {
        (read_back(broker, topic, 1, "long", "json").len() == 1).then_some(())
    });
    broker.stop();
    w.push(rows(&["b"], &[0.0], &[2])).unwrap();
    let status = wait_for("the sink to notice", WAIT, || match sink.status() {
        s @ (SinkStatus::Failed(_) | SinkStatus::Retrying { .. }) => Some(s),
        _ => None,
    });
    broker.restart();
    w.push(rows(&["c"], &[0.0], &[3])).unwrap();
    let got = if matches!(status, SinkStatus::Retrying { .. }) {
        wait_for("the sink to recover", Duration::from_secs(60), || {
            (sink.status() == SinkStatus::Running).then_some(())
        });
        read_back(broker, topic, 3, "long", "json")
    } else {
        std::thread::sleep(Duration::from_secs(2));
        read_back(broker, topic, 1, "long", "json")
    };
    (status, got)
}

#[test]
fn a_failed_sink_shows_it_and_retry_resumes_without_losing_rows() {
    let mut broker = Broker::start();
    broker.create_topic("stopping", 1);
    broker.create_topic("retrying", 1);
    let (status, got) = publish_until(&mut broker, "stopping", OnFailure::Stop);
    match status {
        SinkStatus::Failed(m) => assert!(m.contains("sink `publisher`, cycle"), "{m}"),
        other => panic!("expected Failed, got {other:?}"),
    }
    assert_eq!(got.len(), 1);

    let retry = OnFailure::Retry {
        max_retries: 0,
        initial_backoff: Duration::from_millis(200),
        max_backoff: Duration::from_secs(2),
    };
    let (status, got) = publish_until(&mut broker, "retrying", retry);
    assert!(matches!(status, SinkStatus::Retrying { .. }), "{status:?}");
    let keys: std::collections::BTreeSet<i64> =
        got.iter().map(|r| r["key"].as_i64().unwrap()).collect();
    assert_eq!(keys, [1, 2, 3].into(), "no row lost: {got:?}");
}

/// The broker is killed (SIGKILL) while 200,000 rows are being published,
/// and restarted on the same port. With `on_failure = retry`, every row is
/// read back by confluent-kafka, and the duplicates (an update retried after
/// part of it was delivered) are counted and bounded by the largest update
/// the sink was given: one in-flight cycle.
#[test]
fn a_broker_killed_mid_publish_loses_nothing_and_repeats_at_most_one_cycle() {
    const COUNT: i64 = 200_000;
    let mut broker = Broker::start();
    broker.create_topic("published", 1);
    let (engine, _cycles) = engine();
    let table = engine.append_table("t", schema()).unwrap();
    let largest_update = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let _watch = {
        let largest = largest_update.clone();
        table.subscribe(move |u: &Arc<topictable_engine::Update>| {
            largest.fetch_max(u.added.num_rows(), std::sync::atomic::Ordering::SeqCst);
        })
    };
    let spec = publish_spec(
        &broker,
        "published",
        KeyOrValueSpec::Ignore,
        KeyOrValueSpec::codec("simple", json!({"type": "int64", "column": "Qty"})),
    );
    let retry = OnFailure::Retry {
        max_retries: 0,
        initial_backoff: Duration::from_millis(200),
        max_backoff: Duration::from_secs(2),
    };
    let options = SinkOptions {
        on_failure: retry,
        ..SinkOptions::default()
    };
    let sink = start(&engine, &table, &spec, options);
    let writer = table.writer().unwrap();
    let pusher = std::thread::spawn(move || {
        for chunk in (0..COUNT).collect::<Vec<_>>().chunks(1_000) {
            let n = chunk.len();
            writer
                .push(rows(&vec!["S"; n], &vec![0.0; n], chunk))
                .unwrap();
            std::thread::sleep(Duration::from_millis(5));
        }
    });
    wait_for(
        "a quarter of the rows delivered",
        Duration::from_secs(300),
        || (sink.counts().rows_delivered >= COUNT as u64 / 4).then_some(()),
    );
    assert!(
        sink.counts().rows_delivered < COUNT as u64,
        "the kill must land mid-stream"
    );
    broker.stop(); // SIGKILL
    std::thread::sleep(Duration::from_secs(1));
    broker.restart();
    pusher.join().unwrap();
    wait_for("every row delivered", Duration::from_secs(300), || {
        (sink.counts().rows_delivered >= COUNT as u64).then_some(())
    });
    assert_eq!(sink.status(), SinkStatus::Running);

    use rdkafka::consumer::{BaseConsumer, Consumer};
    let client: BaseConsumer = rdkafka::ClientConfig::new()
        .set("bootstrap.servers", broker.bootstrap())
        .create()
        .unwrap();
    let (_, high) = client
        .fetch_watermarks("published", 0, Duration::from_secs(10))
        .unwrap();
    let back = read_back(&broker, "published", high as usize, "raw", "long");
    assert_eq!(back.len() as i64, high, "read the whole topic back");
    let distinct: std::collections::BTreeSet<i64> =
        back.iter().map(|r| r["value"].as_i64().unwrap()).collect();
    assert_eq!(distinct.len() as i64, COUNT, "every row published");
    let duplicates = high - COUNT;
    let bound = largest_update.load(std::sync::atomic::Ordering::SeqCst) as i64;
    eprintln!("{duplicates} duplicates; the largest update had {bound} rows");
    assert!(
        duplicates <= bound,
        "{duplicates} duplicates, more than one cycle's {bound} rows"
    );
}
