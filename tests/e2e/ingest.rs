//! Kafka → live tables against a real broker (tansu), with records produced
//! by rdkafka and by confluent-kafka for Python.

use std::collections::BTreeSet;
use std::time::Duration;

use arrow_array::cast::AsArray;
use arrow_array::types::{Float64Type, Int32Type, Int64Type};
use arrow_array::{Array, RecordBatch};
use serde_json::json;
use topictable::ingest::{
    ConsumeSpec, ConsumedTable, ConsumerMode, DeadLetterRetry, IngestStatus, InitialOffsets,
    KeyOrValueSpec, OnError, OnRevoke, Partitions, StartAt, consume_to_table,
};
use topictable_e2e::{Broker, TestProducer, plugins, run_python, wait_for};
use topictable_engine::{Engine, TableType};

const WAIT: Duration = Duration::from_secs(30);

fn engine() -> (Engine, topictable_engine::CycleThread) {
    let engine = Engine::new();
    let cycles = engine.start_with_period(Duration::from_millis(20));
    (engine, cycles)
}

fn strings(batch: &RecordBatch, column: &str) -> Vec<String> {
    let c = batch
        .column_by_name(column)
        .unwrap_or_else(|| panic!("no column {column} in {:?}", batch.schema()));
    c.as_string::<i32>()
        .iter()
        .map(|s| s.unwrap_or("<null>").to_string())
        .collect()
}

fn int64s(batch: &RecordBatch, column: &str) -> Vec<i64> {
    batch
        .column_by_name(column)
        .unwrap()
        .as_primitive::<Int64Type>()
        .values()
        .to_vec()
}

fn int32s(batch: &RecordBatch, column: &str) -> Vec<i32> {
    batch
        .column_by_name(column)
        .unwrap()
        .as_primitive::<Int32Type>()
        .values()
        .to_vec()
}

fn rows(t: &ConsumedTable) -> RecordBatch {
    t.table().snapshot().expect("snapshot")
}

fn wait_rows(t: &ConsumedTable, n: usize) -> RecordBatch {
    wait_for(&format!("{n} rows in {}", t.table().name()), WAIT, || {
        let batch = rows(t);
        (batch.num_rows() >= n).then_some(batch)
    })
}

fn spec(
    broker: &Broker,
    topic: &str,
    key: KeyOrValueSpec,
    value: KeyOrValueSpec,
    table_type: TableType,
) -> ConsumeSpec {
    let mut s = ConsumeSpec::new(&broker.bootstrap(), topic, key, value);
    s.table_type = table_type;
    s.offsets = InitialOffsets::all(StartAt::Beginning);
    s
}

fn command_spec() -> KeyOrValueSpec {
    KeyOrValueSpec::codec("simple", json!({"type": "string", "column": "Command"}))
}

#[test]
fn seed_test_topic_as_append_ring_and_blink_with_last_by() {
    let broker = Broker::start();
    broker.create_topic("test.topic", 1);
    let registry = plugins();
    let (engine, _cycles) = engine();
    let append = consume_to_table(
        &engine,
        "resultAppend",
        &registry,
        spec(
            &broker,
            "test.topic",
            KeyOrValueSpec::Ignore,
            command_spec(),
            TableType::Append,
        ),
    )
    .unwrap();
    let ring = consume_to_table(
        &engine,
        "resultRing",
        &registry,
        spec(
            &broker,
            "test.topic",
            KeyOrValueSpec::Ignore,
            command_spec(),
            TableType::Ring(3),
        ),
    )
    .unwrap();
    let blink = consume_to_table(
        &engine,
        "resultBlink",
        &registry,
        spec(
            &broker,
            "test.topic",
            KeyOrValueSpec::Ignore,
            command_spec(),
            TableType::Blink,
        ),
    )
    .unwrap();
    let last_blink = blink.table().last_by(Vec::<String>::new()).unwrap();

    let commands = ["ls", "pwd", "whoami", "date", "uptime"];
    let records: Vec<_> = commands
        .iter()
        .map(|c| json!({"value": c, "value_type": "string"}))
        .collect();
    topictable_e2e::produce_with_python(&broker, "test.topic", &json!(records));

    let all = wait_rows(&append, 5);
    assert_eq!(strings(&all, "Command"), commands);
    assert_eq!(int64s(&all, "KafkaOffset"), [0, 1, 2, 3, 4]);
    assert!(int32s(&all, "KafkaPartition").iter().all(|&p| p == 0));
    assert_eq!(
        all.column_by_name("KafkaTimestamp").unwrap().null_count(),
        0
    );
    // The ring keeps the last 3 rows, oldest first.
    wait_for("ring to hold the last 3", WAIT, || {
        (strings(&rows(&ring), "Command") == ["whoami", "date", "uptime"]).then_some(())
    });
    assert_eq!(int64s(&rows(&ring), "KafkaOffset"), [2, 3, 4]);
    wait_for("lastBy over the blink table", WAIT, || {
        let b = last_blink.snapshot().unwrap();
        (b.num_rows() == 1 && strings(&b, "Command") == ["uptime"]).then_some(())
    });
    // The blink table itself only ever holds one cycle's rows.
    wait_for("blink table to empty", WAIT, || {
        (rows(&blink).num_rows() == 0).then_some(())
    });
}

#[test]
fn seed_share_price_simple_key_and_value_from_java_serializers() {
    let broker = Broker::start();
    broker.create_topic("share.price", 1);
    let registry = plugins();
    let (engine, _cycles) = engine();
    let key = KeyOrValueSpec::codec("simple", json!({"type": "string", "column": "Symbol"}));
    let value = KeyOrValueSpec::codec("simple", json!({"type": "float64", "column": "Price"}));
    let table = consume_to_table(
        &engine,
        "prices",
        &registry,
        spec(&broker, "share.price", key, value, TableType::Append),
    )
    .unwrap();
    let records: Vec<_> = [("AAPL", 135.60), ("AAPL", 135.99), ("AAPL", 136.82)]
        .iter()
        .map(|(k, v)| json!({"key": k, "key_type": "string", "value": v, "value_type": "double"}))
        .collect();
    topictable_e2e::produce_with_python(&broker, "share.price", &json!(records));
    let got = wait_rows(&table, 3);
    let names: Vec<String> = got
        .schema()
        .fields()
        .iter()
        .map(|f| f.name().clone())
        .collect();
    assert_eq!(
        names,
        [
            "KafkaPartition",
            "KafkaOffset",
            "KafkaTimestamp",
            "Symbol",
            "Price"
        ]
    );
    assert_eq!(strings(&got, "Symbol"), ["AAPL", "AAPL", "AAPL"]);
    assert_eq!(
        got.column_by_name("Price")
            .unwrap()
            .as_primitive::<Float64Type>()
            .values()
            .to_vec(),
        [135.60, 135.99, 136.82]
    );
}

#[test]
fn seed_share_price_ignoring_the_key_with_typed_text() {
    let broker = Broker::start();
    broker.create_topic("share.price", 1);
    let registry = plugins();
    let (engine, _cycles) = engine();
    let value = KeyOrValueSpec::codec(
        "simple",
        json!({"type": "float64", "column": "Price", "encoding": "text"}),
    );
    let mut s = spec(
        &broker,
        "share.price",
        KeyOrValueSpec::Ignore,
        value,
        TableType::Append,
    );
    s.columns.partition = None;
    s.columns.offset = None;
    s.columns.timestamp = None;
    let table = consume_to_table(&engine, "prices", &registry, s).unwrap();
    // What an rpk/kcat user types: `AAPL 135.60` with `-f '%k %v\n'`.
    TestProducer::new(&broker).send_text(
        "share.price",
        0,
        &[
            (Some("AAPL"), "135.60"),
            (Some("AAPL"), "135.99"),
            (Some("AAPL"), "136.82"),
        ],
    );
    let got = wait_rows(&table, 3);
    assert_eq!(
        got.num_columns(),
        1,
        "the key and the standard columns are not included"
    );
    assert_eq!(
        got.column(0)
            .as_primitive::<Float64Type>()
            .values()
            .to_vec(),
        [135.60, 135.99, 136.82]
    );
}

fn value_strings(
    broker: &Broker,
    topic: &str,
    offsets: InitialOffsets,
    engine: &Engine,
    name: &str,
) -> ConsumedTable {
    let mut s = spec(
        broker,
        topic,
        KeyOrValueSpec::Ignore,
        command_spec(),
        TableType::Append,
    );
    s.offsets = offsets;
    consume_to_table(engine, name, &plugins(), s).unwrap()
}

#[test]
fn every_initial_offset_option_lands_where_it_should() {
    let broker = Broker::start();
    broker.create_topic("offsets", 2);
    let p = TestProducer::new(&broker);
    for part in 0..2 {
        for i in 0..5 {
            p.send(
                "offsets",
                part,
                None,
                Some(format!("p{part}-{i}").as_bytes()),
                &[],
            );
        }
    }
    let (engine, _cycles) = engine();

    let beginning = value_strings(
        &broker,
        "offsets",
        InitialOffsets::all(StartAt::Beginning),
        &engine,
        "beginning",
    );
    let got = wait_rows(&beginning, 10);
    assert_eq!(got.num_rows(), 10);

    let mut map = InitialOffsets::all(StartAt::End);
    map.per_partition.insert(0, StartAt::Offset(3));
    let per_partition = value_strings(&broker, "offsets", map, &engine, "per_partition");
    let got = wait_rows(&per_partition, 2);
    let mut values = strings(&got, "Command");
    values.sort();
    assert_eq!(values, ["p0-3", "p0-4"]);

    let end = value_strings(
        &broker,
        "offsets",
        InitialOffsets::all(StartAt::End),
        &engine,
        "end",
    );
    // Let the end offsets resolve before producing.
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(rows(&end).num_rows(), 0);
    p.send("offsets", 1, None, Some(b"after-start"), &[]);
    let got = wait_rows(&end, 1);
    assert_eq!(strings(&got, "Command"), ["after-start"]);
    let got = wait_rows(&per_partition, 3);
    assert!(
        strings(&got, "Command").contains(&"after-start".to_string()),
        "partition 1 started at its end"
    );

    // By time: everything produced after `cut`.
    let cut = wait_for("a timestamp boundary", WAIT, || {
        let b = rows(&beginning);
        (b.num_rows() == 11).then(|| {
            let ts = b
                .column_by_name("KafkaTimestamp")
                .unwrap()
                .as_primitive::<arrow_array::types::TimestampMillisecondType>();
            ts.values().iter().copied().max().unwrap() + 1
        })
    });
    std::thread::sleep(Duration::from_millis(20));
    p.send("offsets", 0, None, Some(b"late-0"), &[]);
    p.send("offsets", 1, None, Some(b"late-1"), &[]);
    let mut by_time = InitialOffsets::all(StartAt::Timestamp(cut));
    by_time.per_partition.clear();
    let timed = value_strings(&broker, "offsets", by_time, &engine, "by_time");
    let got = wait_rows(&timed, 2);
    let mut values = strings(&got, "Command");
    values.sort();
    assert_eq!(values, ["late-0", "late-1"]);
}

fn group_member(broker: &Broker, engine: &Engine, name: &str, group: &str) -> ConsumedTable {
    let mut s = spec(
        broker,
        "orders4",
        KeyOrValueSpec::Ignore,
        command_spec(),
        TableType::Append,
    );
    s.mode = ConsumerMode::Group;
    // The test counts every record once across the members' tables.
    s.on_revoke = OnRevoke::Keep;
    s.properties.insert("group.id".into(), group.into());
    s.properties
        .insert("session.timeout.ms".into(), "6000".into());
    s.properties
        .insert("heartbeat.interval.ms".into(), "500".into());
    consume_to_table(engine, name, &plugins(), s).unwrap()
}

fn values_of(t: &ConsumedTable) -> BTreeSet<String> {
    strings(&rows(t), "Command").into_iter().collect()
}

#[test]
fn group_members_split_partitions_take_over_and_resume_from_commits() {
    let broker = Broker::start();
    broker.create_topic("orders4", 4);
    let p = TestProducer::new(&broker);
    let send = |from: usize, to: usize| {
        for i in from..to {
            p.send(
                "orders4",
                (i % 4) as i32,
                None,
                Some(format!("m{i}").as_bytes()),
                &[],
            );
        }
    };
    let expect = |to: usize| (0..to).map(|i| format!("m{i}")).collect::<BTreeSet<_>>();
    send(0, 40);
    let (engine_a, _ca) = engine();
    let (engine_b, _cb) = engine();
    let mut a = group_member(&broker, &engine_a, "a", "g1");
    let mut b = group_member(&broker, &engine_b, "b", "g1");
    wait_for(
        "both members to read everything between them",
        Duration::from_secs(60),
        || {
            let union: BTreeSet<String> = values_of(&a).union(&values_of(&b)).cloned().collect();
            (union == expect(40)).then_some(())
        },
    );
    send(40, 60);
    wait_for(
        "new messages split between members",
        Duration::from_secs(60),
        || {
            let union: BTreeSet<String> = values_of(&a).union(&values_of(&b)).cloned().collect();
            (union == expect(60)).then_some(())
        },
    );
    assert!(
        !values_of(&a).is_empty() && !values_of(&b).is_empty(),
        "both members got partitions"
    );

    // Stop one member: the other takes over its partitions, nothing missing.
    a.stop();
    send(60, 80);
    wait_for("b to take over", Duration::from_secs(60), || {
        let union: BTreeSet<String> = values_of(&a).union(&values_of(&b)).cloned().collect();
        (union == expect(80)).then_some(())
    });
    let a_before = values_of(&a);

    // Restart: a new member of the group resumes from committed offsets.
    b.stop();
    let b_values = values_of(&b);
    send(80, 100);
    let (engine_c, _cc) = engine();
    let c = group_member(&broker, &engine_c, "c", "g1");
    wait_for(
        "c to resume from the commits",
        Duration::from_secs(60),
        || {
            let union: BTreeSet<String> = a_before
                .union(&b_values)
                .chain(values_of(&c).iter())
                .cloned()
                .collect();
            (union == expect(100)).then_some(())
        },
    );
    let c_values = values_of(&c);
    let new: BTreeSet<String> = (80..100).map(|i| format!("m{i}")).collect();
    assert!(c_values.is_superset(&new));
    assert!(
        c_values.len() < 100,
        "c started from the committed offsets, not from the beginning ({} rows)",
        c_values.len()
    );
}

fn bad_int_records(p: &TestProducer, topic: &str) {
    p.send(topic, 0, None, Some(&7i64.to_be_bytes()), &[]);
    p.send(topic, 0, None, Some(b"12345"), &[("trace", b"t-1")]);
    p.send(topic, 0, None, Some(&9i64.to_be_bytes()), &[]);
}

fn int_table(broker: &Broker, engine: &Engine, topic: &str, on_error: OnError) -> ConsumedTable {
    let mut s = spec(
        broker,
        topic,
        KeyOrValueSpec::Ignore,
        KeyOrValueSpec::codec("simple", json!({"type": "int64", "column": "Qty"})),
        TableType::Append,
    );
    s.on_error = on_error;
    consume_to_table(engine, topic, &plugins(), s).unwrap()
}

#[test]
fn on_error_fail_stops_the_table_naming_topic_partition_and_offset() {
    let broker = Broker::start();
    broker.create_topic("bad.fail", 1);
    broker.create_topic("good", 1);
    let p = TestProducer::new(&broker);
    bad_int_records(&p, "bad.fail");
    let (engine, _cycles) = engine();
    let failing = int_table(&broker, &engine, "bad.fail", OnError::Fail);
    let other = value_strings(
        &broker,
        "good",
        InitialOffsets::all(StartAt::Beginning),
        &engine,
        "good",
    );
    let status = wait_for("the table to fail", WAIT, || match failing.status() {
        IngestStatus::Failed(m) => Some(m),
        _ => None,
    });
    assert!(
        status.contains("topic bad.fail partition 0 offset 1"),
        "{status}"
    );
    assert!(status.contains("cannot decode the value"), "{status}");
    assert!(
        status.contains("expected 8 bytes (LongSerializer) for int64, got 5 bytes"),
        "{status}"
    );
    assert!(status.contains("31 32 33 34 35 \"12345\""), "{status}");
    let kept = wait_rows(&failing, 1);
    assert_eq!(
        kept.column_by_name("Qty")
            .unwrap()
            .as_primitive::<Int64Type>()
            .values()
            .to_vec(),
        [7],
        "rows before the bad one stay"
    );
    assert_eq!(failing.error_counts().decode_errors, 1);
    // Other tables keep running.
    p.send("good", 0, None, Some(b"still here"), &[]);
    wait_rows(&other, 1);
    assert_eq!(other.status(), IngestStatus::Running);
}

#[test]
fn on_error_skip_counts_and_goes_on() {
    let broker = Broker::start();
    broker.create_topic("bad.skip", 1);
    bad_int_records(&TestProducer::new(&broker), "bad.skip");
    let (engine, _cycles) = engine();
    let t = int_table(&broker, &engine, "bad.skip", OnError::Skip);
    let got = wait_rows(&t, 2);
    assert_eq!(
        got.column_by_name("Qty")
            .unwrap()
            .as_primitive::<Int64Type>()
            .values()
            .to_vec(),
        [7, 9]
    );
    assert_eq!(int64s(&got, "KafkaOffset"), [0, 2]);
    let counts = t.error_counts();
    assert_eq!(
        (counts.decode_errors, counts.skipped, counts.dead_lettered),
        (1, 1, 0)
    );
    assert_eq!(t.status(), IngestStatus::Running);
}

/// A dead-letter record the broker does not take (here: its topic does not
/// exist, so delivery times out) is not a dead-lettered record: the table
/// fails naming the dead-letter topic, counts nothing as dead-lettered, and
/// takes nothing of the batch (so nothing past the bad record is committed).
/// Before, the queued record counted as delivered and was lost.
#[test]
fn a_dead_letter_record_the_broker_refuses_fails_the_table() {
    let broker = Broker::start();
    broker.create_topic("bad.nodlq", 1);
    bad_int_records(&TestProducer::new(&broker), "bad.nodlq");
    let (engine, _cycles) = engine();
    let mut s = spec(
        &broker,
        "bad.nodlq",
        KeyOrValueSpec::Ignore,
        KeyOrValueSpec::codec("simple", json!({"type": "int64", "column": "Qty"})),
        TableType::Append,
    );
    s.on_error = OnError::dead_letter("no.such.dlq");
    // The dead-letter producer takes the table's properties: give up soon.
    s.properties
        .insert("message.timeout.ms".into(), "3000".into());
    let t = consume_to_table(&engine, "bad.nodlq", &plugins(), s).unwrap();
    let why = wait_for("the table to fail", Duration::from_secs(60), || {
        match t.status() {
            IngestStatus::Failed(why) => Some(why),
            _ => None,
        }
    });
    assert!(why.contains("no.such.dlq"), "{why}");
    assert_eq!(t.error_counts().dead_lettered, 0);
    assert_eq!(rows(&t).num_rows(), 0, "nothing of the batch is taken");
}

/// With `dead_letter_retries`, a dead-letter record the broker refuses is
/// sent again with backoff while the table waits: here the dead-letter topic
/// is created only after the first refusals, and then the bad record lands
/// there, the good rows arrive, and the table never fails. Before, the first
/// refusal failed the table.
#[test]
fn a_refused_dead_letter_record_is_retried_with_backoff_when_asked() {
    let broker = Broker::start();
    broker.create_topic("bad.late", 1);
    bad_int_records(&TestProducer::new(&broker), "bad.late");
    let (engine, _cycles) = engine();
    let mut s = spec(
        &broker,
        "bad.late",
        KeyOrValueSpec::Ignore,
        KeyOrValueSpec::codec("simple", json!({"type": "int64", "column": "Qty"})),
        TableType::Append,
    );
    s.on_error = OnError::DeadLetter {
        topic: "late.dlq".into(),
        retry: DeadLetterRetry {
            max_retries: 100,
            backoff: Duration::from_millis(200),
        },
    };
    s.properties
        .insert("message.timeout.ms".into(), "1000".into());
    let t = consume_to_table(&engine, "bad.late", &plugins(), s).unwrap();
    // Long enough for the first sends to be refused and retried.
    std::thread::sleep(Duration::from_secs(4));
    assert_eq!(t.status(), IngestStatus::Running);
    assert_eq!(
        rows(&t).num_rows(),
        0,
        "the batch waits for its dead letter"
    );
    assert_eq!(t.error_counts().dead_lettered, 0);
    broker.create_topic("late.dlq", 1);
    let got = wait_rows(&t, 2);
    assert_eq!(int64s(&got, "Qty"), [7, 9]);
    assert_eq!(t.error_counts().dead_lettered, 1);
    assert_eq!(t.status(), IngestStatus::Running);
    let out = run_python("consume.py", &[&broker.bootstrap(), "late.dlq", "1"]);
    let record: serde_json::Value = serde_json::from_str(out.lines().next().unwrap()).unwrap();
    assert_eq!(record["value"], json!("3132333435"), "{out}");
    assert_eq!(record["headers"]["topictable.errors.offset"], json!("1"));
}

/// A dead-letter record too large to send fails the table (naming the
/// dead-letter topic), and in group mode nothing from the bad record on is
/// committed. tansu does not enforce a topic's `max.message.bytes`, so the
/// limit here is librdkafka's `message.max.bytes`, which the dead-letter
/// producer takes from the table's properties.
#[test]
fn a_dead_letter_record_too_large_to_send_fails_the_table_and_commits_nothing_past_it() {
    let broker = Broker::start();
    broker.create_topic("bad.big", 1);
    broker.create_topic("big.dlq", 1);
    let p = TestProducer::new(&broker);
    p.send("bad.big", 0, None, Some(&7i64.to_be_bytes()), &[]);
    p.send("bad.big", 0, None, Some(&[b'x'; 4000]), &[]);
    p.send("bad.big", 0, None, Some(&9i64.to_be_bytes()), &[]);
    let (engine, _cycles) = engine();
    let mut s = spec(
        &broker,
        "bad.big",
        KeyOrValueSpec::Ignore,
        KeyOrValueSpec::codec("simple", json!({"type": "int64", "column": "Qty"})),
        TableType::Append,
    );
    s.mode = ConsumerMode::Group;
    s.on_error = OnError::dead_letter("big.dlq");
    for (k, v) in [("group.id", "big-group"), ("message.max.bytes", "2000")] {
        s.properties.insert(k.into(), v.into());
    }
    let mut t = consume_to_table(&engine, "bad.big", &plugins(), s).unwrap();
    let why = wait_for("the table to fail", Duration::from_secs(60), || {
        match t.status() {
            IngestStatus::Failed(why) => Some(why),
            _ => None,
        }
    });
    assert!(
        why.contains("big.dlq") && why.to_lowercase().contains("too large"),
        "{why}"
    );
    assert_eq!(t.error_counts().dead_lettered, 0);
    t.stop();
    use rdkafka::consumer::{BaseConsumer, Consumer};
    let client: BaseConsumer = rdkafka::ClientConfig::new()
        .set("bootstrap.servers", broker.bootstrap())
        .set("group.id", "big-group")
        .create()
        .unwrap();
    let mut tpl = rdkafka::TopicPartitionList::new();
    tpl.add_partition("bad.big", 0);
    let committed = client
        .committed_offsets(tpl, Duration::from_secs(10))
        .unwrap();
    let offset = committed.elements()[0].offset();
    assert!(
        matches!(
            offset,
            rdkafka::Offset::Invalid | rdkafka::Offset::Offset(0 | 1)
        ),
        "committed {offset:?}: past the record that was not dead-lettered"
    );
}

#[test]
fn on_error_dead_letter_writes_the_original_with_context_headers() {
    let broker = Broker::start();
    broker.create_topic("bad.dlq", 1);
    broker.create_topic("bad.dlq.errors", 1);
    bad_int_records(&TestProducer::new(&broker), "bad.dlq");
    let (engine, _cycles) = engine();
    let t = int_table(
        &broker,
        &engine,
        "bad.dlq",
        OnError::dead_letter("bad.dlq.errors"),
    );
    let got = wait_rows(&t, 2);
    assert_eq!(
        got.column_by_name("Qty")
            .unwrap()
            .as_primitive::<Int64Type>()
            .values()
            .to_vec(),
        [7, 9]
    );
    assert_eq!(t.error_counts().dead_lettered, 1);
    // Read back by an independent client.
    let out = run_python("consume.py", &[&broker.bootstrap(), "bad.dlq.errors", "1"]);
    let records: Vec<serde_json::Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(records.len(), 1, "{out}");
    let r = &records[0];
    assert_eq!(r["value"], json!("3132333435"));
    assert_eq!(r["key"], json!(null));
    let h = &r["headers"];
    assert_eq!(h["trace"], json!("t-1"), "original headers are kept");
    assert_eq!(h["topictable.errors.topic"], json!("bad.dlq"));
    assert_eq!(h["topictable.errors.partition"], json!("0"));
    assert_eq!(h["topictable.errors.offset"], json!("1"));
    assert_eq!(h["topictable.errors.stage"], json!("value_decode"));
    assert_eq!(h["topictable.errors.exception.class"], json!("RowError"));
    assert!(
        h["topictable.errors.exception.message"]
            .as_str()
            .unwrap()
            .contains("expected 8 bytes (LongSerializer) for int64"),
        "{h}"
    );
}

#[test]
fn one_table_reads_several_topics() {
    let broker = Broker::start();
    broker.create_topic("east", 1);
    broker.create_topic("west", 2);
    let p = TestProducer::new(&broker);
    p.send("east", 0, None, Some(b"e0"), &[]);
    p.send("west", 1, None, Some(b"w1"), &[]);
    let (engine, _cycles) = engine();
    let mut s = spec(
        &broker,
        "east",
        KeyOrValueSpec::Ignore,
        command_spec(),
        TableType::Append,
    );
    s.topics.push("west".into());
    s.columns.topic = Some("KafkaTopic".into());
    let t = consume_to_table(&engine, "both", &plugins(), s).unwrap();
    let got = wait_rows(&t, 2);
    let mut pairs: Vec<(String, String)> = strings(&got, "KafkaTopic")
        .into_iter()
        .zip(strings(&got, "Command"))
        .collect();
    pairs.sort();
    assert_eq!(
        pairs,
        [("east".into(), "e0".into()), ("west".into(), "w1".into())]
    );
}

#[test]
fn both_sides_ignored_is_a_config_error() {
    let broker = Broker::start();
    let (engine, _cycles) = engine();
    let err = consume_to_table(
        &engine,
        "nothing",
        &plugins(),
        spec(
            &broker,
            "x",
            KeyOrValueSpec::Ignore,
            KeyOrValueSpec::Ignore,
            TableType::Append,
        ),
    )
    .err()
    .unwrap();
    assert!(
        err.to_string()
            .contains("table `nothing`: the key and the value are both ignored"),
        "{err}"
    );
}

#[test]
fn partitions_added_later_are_picked_up() {
    let broker = Broker::start();
    broker.create_topic("grow.other", 1);
    let (engine, _cycles) = engine();
    // The table starts while its topic has no partitions at all. tansu has
    // no CreatePartitions (KIP-195), and recreating a topic under a running
    // consumer crashes librdkafka 2.12 (topic-id metadata cache,
    // confluentinc/librdkafka#4964), so the partitions appear by the topic
    // being created after the table started.
    let t = value_strings(
        &broker,
        "grow",
        InitialOffsets::all(StartAt::Beginning),
        &engine,
        "grow",
    );
    std::thread::sleep(Duration::from_secs(1));
    broker.create_topic("grow", 2);
    let p = TestProducer::new(&broker);
    p.send("grow", 0, None, Some(b"in partition 0"), &[]);
    p.send("grow", 1, None, Some(b"in partition 1"), &[]);
    wait_for("rows from the new partitions", WAIT, || {
        let v = values_of(&t);
        (v.contains("in partition 0") && v.contains("in partition 1")).then_some(())
    });
}

#[test]
fn optional_columns_headers_sizes_and_renamed_standard_columns() {
    use topictable::ingest::{HeaderColumns, HeaderType};
    let broker = Broker::start();
    broker.create_topic("with.headers", 1);
    let p = TestProducer::new(&broker);
    p.send(
        "with.headers",
        0,
        Some(b"k1"),
        Some(b"first"),
        &[("trace", b"t-1"), ("retries", b"3")],
    );
    p.send("with.headers", 0, None, Some(b"second!"), &[]);
    let (engine, _cycles) = engine();
    let mut s = spec(
        &broker,
        "with.headers",
        KeyOrValueSpec::Ignore,
        command_spec(),
        TableType::Append,
    );
    s.columns.partition = Some("P".into());
    s.columns.offset = Some("O".into());
    s.columns.timestamp = None;
    s.columns.receive_time = Some("Received".into());
    s.columns.key_bytes = Some("KeyBytes".into());
    s.columns.value_bytes = Some("ValueBytes".into());
    s.columns.headers = HeaderColumns::Chosen(vec![
        ("trace".into(), "Trace".into(), HeaderType::String),
        ("retries".into(), "Retries".into(), HeaderType::Int64),
    ]);
    let typed = consume_to_table(&engine, "typed", &plugins(), s.clone()).unwrap();
    s.columns.headers = HeaderColumns::All("Headers".into());
    let all = consume_to_table(&engine, "all", &plugins(), s).unwrap();

    let got = wait_rows(&typed, 2);
    let names: Vec<String> = got
        .schema()
        .fields()
        .iter()
        .map(|f| f.name().clone())
        .collect();
    assert_eq!(
        names,
        [
            "P",
            "O",
            "Received",
            "KeyBytes",
            "ValueBytes",
            "Trace",
            "Retries",
            "Command"
        ]
    );
    assert_eq!(
        got.column_by_name("KeyBytes")
            .unwrap()
            .as_primitive::<Int32Type>()
            .iter()
            .collect::<Vec<_>>(),
        [Some(2), None]
    );
    assert_eq!(int32s(&got, "ValueBytes"), [5, 7]);
    assert_eq!(strings(&got, "Trace"), ["t-1", "<null>"]);
    assert_eq!(
        got.column_by_name("Retries")
            .unwrap()
            .as_primitive::<Int64Type>()
            .iter()
            .collect::<Vec<_>>(),
        [Some(3), None]
    );
    assert_eq!(got.column_by_name("Received").unwrap().null_count(), 0);

    let got = wait_rows(&all, 2);
    let map = got.column_by_name("Headers").unwrap().as_map();
    let first = map.value(0);
    let keys: Vec<&str> = first
        .column(0)
        .as_string::<i32>()
        .iter()
        .map(|k| k.unwrap())
        .collect();
    assert_eq!(keys, ["trace", "retries"]);
    assert_eq!(first.column(1).as_binary::<i32>().value(1), b"3");
    assert_eq!(
        map.value(1).len(),
        0,
        "a record without headers has an empty map"
    );
}

/// Commits `offsets` (partition, next offset) for `group` on `topic`, as a
/// consumer outside any running member would, and checks the broker kept them.
fn commit_for_group(broker: &Broker, group: &str, topic: &str, offsets: &[(i32, i64)]) {
    use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer};
    use rdkafka::{ClientConfig, Offset, TopicPartitionList};
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", broker.bootstrap())
        .set("group.id", group)
        .set("enable.auto.commit", "false")
        .create()
        .unwrap();
    let mut tpl = TopicPartitionList::new();
    for (p, o) in offsets {
        tpl.add_partition_offset(topic, *p, Offset::Offset(*o))
            .unwrap();
    }
    consumer.commit(&tpl, CommitMode::Sync).unwrap();
    let got = consumer
        .committed_offsets(tpl.clone(), Duration::from_secs(10))
        .unwrap();
    let got: Vec<(i32, Offset)> = got
        .elements()
        .iter()
        .map(|e| (e.partition(), e.offset()))
        .collect();
    let want: Vec<(i32, Offset)> = offsets
        .iter()
        .map(|(p, o)| (*p, Offset::Offset(*o)))
        .collect();
    assert_eq!(got, want, "the broker kept the commits");
}

fn set(values: &[&str]) -> BTreeSet<String> {
    values.iter().map(|v| v.to_string()).collect()
}

/// Waits until `t` holds exactly `want` (no more, no duplicates).
fn wait_exactly(t: &ConsumedTable, want: &BTreeSet<String>) {
    let what = format!("{} to hold exactly {want:?}", t.table().name());
    wait_for(&what, WAIT, || (values_of(t) == *want).then_some(()));
    assert_eq!(rows(t).num_rows(), want.len(), "{what}: no duplicates");
}

#[test]
fn committed_starts_at_the_group_offset_else_at_auto_offset_reset() {
    let broker = Broker::start();
    broker.create_topic("resume", 2);
    let p = TestProducer::new(&broker);
    for i in 0..5 {
        p.send("resume", 0, None, Some(format!("a{i}").as_bytes()), &[]);
        p.send("resume", 1, None, Some(format!("b{i}").as_bytes()), &[]);
    }
    commit_for_group(&broker, "g-committed", "resume", &[(0, 3), (1, 1)]);
    let (engine, _cycles) = engine();
    let table = |name: &str, props: &[(&str, &str)], offsets: InitialOffsets| {
        let mut s = spec(
            &broker,
            "resume",
            KeyOrValueSpec::Ignore,
            command_spec(),
            TableType::Append,
        );
        s.offsets = offsets;
        s.properties
            .extend(props.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        consume_to_table(&engine, name, &plugins(), s).unwrap()
    };
    let committed = InitialOffsets::all(StartAt::Committed);
    // Assign mode with a group: the group's offsets win over the reset.
    let from_commits = table(
        "from_commits",
        &[
            ("group.id", "g-committed"),
            ("auto.offset.reset", "earliest"),
        ],
        committed.clone(),
    );
    // A group with no commits: librdkafka applies auto.offset.reset.
    let fresh_earliest = table(
        "fresh_earliest",
        &[("group.id", "g-fresh-1"), ("auto.offset.reset", "earliest")],
        committed.clone(),
    );
    let fresh_latest = table(
        "fresh_latest",
        &[("group.id", "g-fresh-2"), ("auto.offset.reset", "latest")],
        committed.clone(),
    );
    // No group at all: topictable applies the reset, in any of its spellings.
    let smallest = table(
        "smallest",
        &[("auto.offset.reset", "smallest")],
        committed.clone(),
    );
    let largest = table(
        "largest",
        &[("auto.offset.reset", "largest")],
        committed.clone(),
    );
    let no_reset = table("no_reset", &[], committed.clone());
    // A per-partition "beginning"; partition 1 takes the default, the end.
    let mut map = InitialOffsets::all(StartAt::End);
    map.per_partition.insert(0, StartAt::Beginning);
    let p0_beginning = table("p0_beginning", &[], map);

    let all = set(&["a0", "a1", "a2", "a3", "a4", "b0", "b1", "b2", "b3", "b4"]);
    wait_exactly(&from_commits, &set(&["a3", "a4", "b1", "b2", "b3", "b4"]));
    wait_exactly(&fresh_earliest, &all);
    wait_exactly(&smallest, &all);
    wait_exactly(&p0_beginning, &set(&["a0", "a1", "a2", "a3", "a4"]));
    // Let the end offsets resolve before producing.
    std::thread::sleep(Duration::from_secs(2));
    for t in [&fresh_latest, &largest, &no_reset] {
        assert_eq!(
            rows(t).num_rows(),
            0,
            "{} starts at the end",
            t.table().name()
        );
    }
    p.send("resume", 0, None, Some(b"late-a"), &[]);
    p.send("resume", 1, None, Some(b"late-b"), &[]);
    let late = set(&["late-a", "late-b"]);
    for t in [&fresh_latest, &largest, &no_reset] {
        wait_exactly(t, &late);
    }
    wait_exactly(
        &p0_beginning,
        &set(&["a0", "a1", "a2", "a3", "a4", "late-a", "late-b"]),
    );
    wait_exactly(
        &from_commits,
        &set(&["a3", "a4", "b1", "b2", "b3", "b4", "late-a", "late-b"]),
    );
}

#[test]
fn a_partition_list_reads_exactly_those_partitions() {
    let broker = Broker::start();
    broker.create_topic("parts", 3);
    let p = TestProducer::new(&broker);
    let send = |i: usize| {
        for part in 0..3 {
            p.send(
                "parts",
                part,
                None,
                Some(format!("p{part}-{i}").as_bytes()),
                &[],
            );
        }
    };
    send(0);
    send(1);
    let (engine, _cycles) = engine();
    let mut s = spec(
        &broker,
        "parts",
        KeyOrValueSpec::Ignore,
        command_spec(),
        TableType::Append,
    );
    s.partitions = Partitions::List(vec![0, 2]);
    let t = consume_to_table(&engine, "parts", &plugins(), s).unwrap();
    wait_exactly(&t, &set(&["p0-0", "p0-1", "p2-0", "p2-1"]));
    send(2);
    wait_exactly(&t, &set(&["p0-0", "p0-1", "p0-2", "p2-0", "p2-1", "p2-2"]));
    let partitions: BTreeSet<i32> = int32s(&rows(&t), "KafkaPartition").into_iter().collect();
    assert_eq!(partitions, BTreeSet::from([0, 2]));
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

#[test]
fn group_mode_starts_new_partitions_at_a_timestamp_and_resumes_from_commits() {
    let broker = Broker::start();
    broker.create_topic("timed", 2);
    let p = TestProducer::new(&broker);
    p.send("timed", 0, None, Some(b"early-0"), &[]);
    p.send("timed", 1, None, Some(b"early-1"), &[]);
    std::thread::sleep(Duration::from_millis(50));
    let cut = now_ms();
    std::thread::sleep(Duration::from_millis(50));
    p.send("timed", 0, None, Some(b"late-0"), &[]);
    p.send("timed", 1, None, Some(b"late-1"), &[]);
    let member = |engine: &Engine, name: &str| {
        let mut s = spec(
            &broker,
            "timed",
            KeyOrValueSpec::Ignore,
            command_spec(),
            TableType::Append,
        );
        s.mode = ConsumerMode::Group;
        s.offsets = InitialOffsets::all(StartAt::Timestamp(cut));
        for (k, v) in [
            ("group.id", "g-timed"),
            ("session.timeout.ms", "6000"),
            ("heartbeat.interval.ms", "500"),
        ] {
            s.properties.insert(k.into(), v.into());
        }
        consume_to_table(engine, name, &plugins(), s).unwrap()
    };
    let (engine, _cycles) = engine();
    let mut first = member(&engine, "first");
    // The group has no commits: every partition starts at the time.
    let what = "the first member to read what came after the time";
    wait_for(what, Duration::from_secs(60), || {
        (values_of(&first) == set(&["late-0", "late-1"])).then_some(())
    });
    first.stop();
    p.send("timed", 0, None, Some(b"after-0"), &[]);
    p.send("timed", 1, None, Some(b"after-1"), &[]);
    // Now the group has commits, and they win over the time.
    let second = member(&engine, "second");
    wait_for(
        "the second member to resume from the commits",
        Duration::from_secs(60),
        || (values_of(&second) == set(&["after-0", "after-1"])).then_some(()),
    );
    assert_eq!(rows(&second).num_rows(), 2);
}

#[test]
fn group_mode_refuses_one_offset_for_every_partition() {
    let (engine, _cycles) = engine();
    let mut s = ConsumeSpec::new("127.0.0.1:1", "t", KeyOrValueSpec::Ignore, command_spec());
    s.mode = ConsumerMode::Group;
    s.properties.insert("group.id".into(), "g".into());
    s.offsets = InitialOffsets::all(StartAt::Offset(5));
    let err = consume_to_table(&engine, "fixed", &plugins(), s)
        .err()
        .unwrap();
    assert!(
        err.to_string().starts_with(
            "table `fixed`: in group mode each partition starts at the group's committed offset"
        ),
        "{err}"
    );
    assert!(err.to_string().contains("found `offsets = 5`"), "{err}");
}

#[test]
fn blink_is_the_default_table_type_of_the_library_and_the_pipeline_file() {
    let broker = Broker::start();
    broker.create_topic("blinking", 1);
    let (engine, _cycles) = engine();
    let mut s = ConsumeSpec::new(
        &broker.bootstrap(),
        "blinking",
        KeyOrValueSpec::Ignore,
        command_spec(),
    );
    s.offsets = InitialOffsets::all(StartAt::Beginning);
    let t = consume_to_table(&engine, "library", &plugins(), s).unwrap();
    assert!(t.table().is_blink());
    // A blink table shows a row for one cycle, then drops it.
    let (_subscription, updates) = t.table().subscribe_channel();
    TestProducer::new(&broker).send("blinking", 0, None, Some(b"once"), &[]);
    let update = updates.recv_timeout(WAIT).expect("the row arrives");
    assert_eq!(update.added.num_rows(), 1);
    wait_for("the row to blink out", WAIT, || {
        (rows(&t).num_rows() == 0).then_some(())
    });

    let text = format!(
        r#"
        [kafka]
        "bootstrap.servers" = "{}"

        [[table]]
        name = "from_file"
        topic = "blinking"
        offsets = "beginning"
        value = {{ format = "simple", type = "string", column = "Command" }}
        "#,
        broker.bootstrap()
    );
    let p = topictable::pipeline::parse(std::path::Path::new("blink.toml"), &text).unwrap();
    assert_eq!(p.sources[0].1.table_type, TableType::Blink);
    let mut running = topictable::pipeline::start(&p, &plugins(), &engine).unwrap();
    assert!(running.tables["from_file"].is_blink());
    running.stop();
}

#[test]
fn every_partition_arrives_whole_and_in_offset_order_in_small_batches() {
    use rdkafka::ClientConfig;
    use rdkafka::producer::{BaseRecord, Producer, ThreadedProducer};

    const PER_PARTITION: i64 = 4000;
    let broker = Broker::start();
    broker.create_topic("ordered", 3);
    let producer: ThreadedProducer<rdkafka::producer::DefaultProducerContext> = ClientConfig::new()
        .set("bootstrap.servers", broker.bootstrap())
        .set("linger.ms", "5")
        .create()
        .expect("producer");
    for i in 0..PER_PARTITION {
        for p in 0..3 {
            let value = format!("p{p}-{i}");
            producer
                .send(
                    BaseRecord::<[u8], [u8]>::to("ordered")
                        .partition(p)
                        .payload(value.as_bytes()),
                )
                .map_err(|(e, _)| e)
                .expect("queue record");
        }
    }
    producer.flush(Duration::from_secs(60)).expect("flush");

    let (engine, _cycles) = engine();
    let mut s = spec(
        &broker,
        "ordered",
        KeyOrValueSpec::Ignore,
        command_spec(),
        TableType::Append,
    );
    // Many small batches, so rows of one partition span many librdkafka calls.
    s.max_batch = 97;
    let t = consume_to_table(&engine, "ordered", &plugins(), s).unwrap();
    let got = wait_rows(&t, 3 * PER_PARTITION as usize);
    assert_eq!(got.num_rows(), 3 * PER_PARTITION as usize, "no duplicates");
    let partitions = int32s(&got, "KafkaPartition");
    let offsets = int64s(&got, "KafkaOffset");
    let commands = strings(&got, "Command");
    let mut next = [0i64; 3];
    for ((p, o), c) in partitions.iter().zip(&offsets).zip(&commands) {
        let p = *p as usize;
        assert_eq!(*o, next[p], "partition {p}: offsets in order, none missing");
        assert_eq!(c, &format!("p{p}-{o}"), "row matches its offset");
        next[p] += 1;
    }
    assert_eq!(next, [PER_PARTITION; 3]);
}

/// Runs `tests/python/produce_stream.py` on another thread: `count` records
/// to `partitions` partitions of `topic`, `rate` a second (or at once).
fn produce_in_background(
    broker: &Broker,
    topic: &str,
    count: usize,
    partitions: i32,
    rate: Option<u32>,
) -> std::thread::JoinHandle<std::process::Output> {
    let mut args = vec![
        broker.bootstrap(),
        topic.to_string(),
        count.to_string(),
        partitions.to_string(),
    ];
    args.extend(rate.map(|r| r.to_string()));
    std::thread::spawn(move || {
        std::process::Command::new(topictable_e2e::python())
            .arg(topictable_e2e::workspace_root().join("tests/python/produce_stream.py"))
            .args(&args)
            .output()
            .expect("run produce_stream.py")
    })
}

/// Per partition, the `(offset, value)` rows of `t` in table order.
fn rows_by_partition(t: &ConsumedTable) -> std::collections::BTreeMap<i32, Vec<(i64, String)>> {
    let batch = rows(t);
    let partitions = int32s(&batch, "KafkaPartition");
    let offsets = int64s(&batch, "KafkaOffset");
    let values = strings(&batch, "V");
    let mut by_partition = std::collections::BTreeMap::<i32, Vec<(i64, String)>>::new();
    for ((p, o), v) in partitions.into_iter().zip(offsets).zip(values) {
        by_partition.entry(p).or_default().push((o, v));
    }
    by_partition
}

/// The broker is killed (SIGKILL; tansu's sqlite storage is durable) while
/// 200,000 records are being produced to 4 partitions, and restarted on the
/// same port. An append table in assign mode and one in group mode each end
/// with every record the topic holds exactly once, in offset order per
/// partition; and every produced value is among them. (The producer may
/// have written a record twice around the kill; the topic is the truth.)
#[test]
fn a_broker_killed_mid_stream_loses_and_duplicates_nothing() {
    const COUNT: usize = 200_000;
    const PARTITIONS: i32 = 4;
    let mut broker = Broker::start();
    broker.create_topic("crash", PARTITIONS as u32);
    let (engine, _cycles) = engine();
    let value = || KeyOrValueSpec::codec("simple", json!({"type": "string", "column": "V"}));
    let assign = consume_to_table(
        &engine,
        "assign",
        &plugins(),
        spec(
            &broker,
            "crash",
            KeyOrValueSpec::Ignore,
            value(),
            TableType::Append,
        ),
    )
    .unwrap();
    let group = group_member_of(
        &broker,
        &engine,
        "group",
        "crash",
        "crash-group",
        OnRevoke::Remove,
    );

    let producer = produce_in_background(&broker, "crash", COUNT, PARTITIONS, None);
    wait_for(
        "a quarter of the records in",
        Duration::from_secs(300),
        || (rows(&assign).num_rows() >= COUNT / 4).then_some(()),
    );
    assert!(!producer.is_finished(), "the kill must land mid-stream");
    broker.stop(); // SIGKILL
    std::thread::sleep(Duration::from_secs(1));
    broker.restart();
    let produced = producer.join().unwrap();
    assert!(
        produced.status.success(),
        "{}",
        String::from_utf8_lossy(&produced.stderr)
    );

    // The topic's contents: offsets 0..high watermark in each partition.
    use rdkafka::consumer::{BaseConsumer, Consumer};
    let client: BaseConsumer = rdkafka::ClientConfig::new()
        .set("bootstrap.servers", broker.bootstrap())
        .create()
        .unwrap();
    let high: Vec<i64> = (0..PARTITIONS)
        .map(|p| {
            client
                .fetch_watermarks("crash", p, Duration::from_secs(10))
                .unwrap()
                .1
        })
        .collect();
    let total: i64 = high.iter().sum();
    assert!(total >= COUNT as i64, "the topic holds {total}");
    eprintln!(
        "the topic holds {total} records for {COUNT} produced (the producer wrote {} twice)",
        total - COUNT as i64
    );
    for table in [&assign, &group] {
        let name = table.table().name().to_string();
        wait_for(
            &format!("{name} to hold the whole topic"),
            Duration::from_secs(300),
            || (rows(table).num_rows() as i64 >= total).then_some(()),
        );
        // Give late duplicates, if any, a moment to show.
        std::thread::sleep(Duration::from_secs(2));
        assert_eq!(table.status(), IngestStatus::Running, "{name}");
        let by_partition = rows_by_partition(table);
        let mut values = BTreeSet::new();
        for p in 0..PARTITIONS {
            let got = &by_partition[&p];
            let offsets: Vec<i64> = got.iter().map(|(o, _)| *o).collect();
            let expected: Vec<i64> = (0..high[p as usize]).collect();
            if offsets != expected {
                let distinct: BTreeSet<i64> = offsets.iter().copied().collect();
                let first_wrong = offsets.iter().zip(&expected).position(|(a, b)| a != b);
                panic!(
                    "{name}, partition {p}: {} rows, {} distinct offsets, {} expected; first out of place at row {first_wrong:?}",
                    offsets.len(),
                    distinct.len(),
                    expected.len()
                );
            }
            values.extend(got.iter().map(|(_, v)| v.parse::<usize>().unwrap()));
        }
        assert_eq!(values.len(), COUNT, "{name}: every produced value");
    }
}

/// A member of `group` reading `topic` into an append table with column `V`.
fn group_member_of(
    broker: &Broker,
    engine: &Engine,
    name: &str,
    topic: &str,
    group: &str,
    on_revoke: OnRevoke,
) -> ConsumedTable {
    let value = KeyOrValueSpec::codec("simple", json!({"type": "string", "column": "V"}));
    let mut s = spec(
        broker,
        topic,
        KeyOrValueSpec::Ignore,
        value,
        TableType::Append,
    );
    s.mode = ConsumerMode::Group;
    s.on_revoke = on_revoke;
    for (k, v) in [
        ("group.id", group),
        ("session.timeout.ms", "6000"),
        ("heartbeat.interval.ms", "500"),
    ] {
        s.properties.insert(k.into(), v.into());
    }
    consume_to_table(engine, name, &plugins(), s).unwrap()
}

/// Three members join and leave a group while records are produced: a
/// message polled for a partition the member has since lost is not pushed,
/// and what a member made visible is committed before it hands a partition
/// over, so every record of the topic is in exactly one member's table.
/// (With `on_revoke = "keep"`, rows a member read stay in its table when the
/// partition moves on.)
#[test]
fn members_joining_and_leaving_while_producing_read_every_record_once_between_them() {
    const COUNT: usize = 20_000;
    const PARTITIONS: i32 = 6;
    let broker = Broker::start();
    broker.create_topic("churn", PARTITIONS as u32);
    plugins(); // built and loaded before the clock starts
    let producer = produce_in_background(&broker, "churn", COUNT, PARTITIONS, Some(500));
    let engines: Vec<_> = (0..3).map(|_| engine()).collect();
    let has_rows = |t: &ConsumedTable| {
        wait_for(
            &format!("{} to get partitions", t.table().name()),
            Duration::from_secs(60),
            || (rows(t).num_rows() > 0).then_some(()),
        )
    };
    let t0 = std::time::Instant::now();
    let mut a = group_member_of(
        &broker,
        &engines[0].0,
        "a",
        "churn",
        "churn",
        OnRevoke::Keep,
    );
    has_rows(&a);
    let mut b = group_member_of(
        &broker,
        &engines[1].0,
        "b",
        "churn",
        "churn",
        OnRevoke::Keep,
    );
    has_rows(&b);
    let c = group_member_of(
        &broker,
        &engines[2].0,
        "c",
        "churn",
        "churn",
        OnRevoke::Keep,
    );
    has_rows(&c);
    a.stop();
    std::thread::sleep(Duration::from_secs(1));
    b.stop();
    let still_producing = !producer.is_finished();
    let elapsed = t0.elapsed();
    let produced = producer.join().unwrap();
    assert!(
        still_producing,
        "members must leave while records are produced ({elapsed:?}): {}",
        String::from_utf8_lossy(&produced.stderr)
    );
    assert!(
        produced.status.success(),
        "{}",
        String::from_utf8_lossy(&produced.stderr)
    );
    let read = |t: &ConsumedTable| rows(t).num_rows();
    wait_for(
        "every record read between them",
        Duration::from_secs(120),
        || (read(&a) + read(&b) + read(&c) >= COUNT).then_some(()),
    );
    std::thread::sleep(Duration::from_secs(3));
    let mut seen = std::collections::BTreeMap::<(i32, i64), &str>::new();
    for (name, t) in [("a", &a), ("b", &b), ("c", &c)] {
        assert!(read(t) > 0, "{name} read something");
        for (p, got) in rows_by_partition(t) {
            for (offset, _) in got {
                if let Some(other) = seen.insert((p, offset), name) {
                    panic!("partition {p} offset {offset} read by {other} and by {name}");
                }
            }
        }
    }
    assert_eq!(seen.len(), COUNT, "every record once");
}

/// With `on_revoke = "remove"` (the default), the rows of partitions a
/// rebalance moves to another member leave the old member's table, and a
/// `last_by` on it holds only the partitions it still owns: no stale keys.
/// Partitions it keeps (an eager rebalance revokes them all, then assigns
/// them back) keep their rows. Before, the old member kept every row.
#[test]
fn a_partition_moved_to_another_member_leaves_the_old_members_table() {
    const PARTITIONS: i32 = 4;
    let broker = Broker::start();
    broker.create_topic("moved", PARTITIONS as u32);
    plugins();
    let produced = produce_in_background(&broker, "moved", 400, PARTITIONS, None)
        .join()
        .unwrap();
    assert!(produced.status.success());
    let (engine_a, _cycles_a) = engine();
    let (engine_b, _cycles_b) = engine();
    let a = group_member_of(&broker, &engine_a, "a", "moved", "movers", OnRevoke::Remove);
    let latest_a = a.table().last_by(["KafkaPartition"]).unwrap();
    wait_for("a to read the topic", Duration::from_secs(60), || {
        (rows(&a).num_rows() == 400).then_some(())
    });
    wait_for("a's last_by", Duration::from_secs(10), || {
        (latest_a.snapshot().unwrap().num_rows() == 4).then_some(())
    });

    let b = group_member_of(&broker, &engine_b, "b", "moved", "movers", OnRevoke::Remove);
    wait_for(
        "the group to split the partitions",
        Duration::from_secs(60),
        || (latest_a.snapshot().unwrap().num_rows() == 2).then_some(()),
    );
    let produced = produce_in_background(&broker, "moved", 400, PARTITIONS, None)
        .join()
        .unwrap();
    assert!(produced.status.success());
    // a: its two partitions, all 200 records each; b: the other two, from
    // the commit a made when it handed them over (after their first 100).
    wait_for("both to read the rest", Duration::from_secs(60), || {
        (rows(&a).num_rows() == 400 && rows(&b).num_rows() == 200).then_some(())
    });
    std::thread::sleep(Duration::from_secs(2));
    let (of_a, of_b) = (rows_by_partition(&a), rows_by_partition(&b));
    assert_eq!(
        (of_a.len(), of_b.len()),
        (2, 2),
        "a: {:?}, b: {:?}",
        of_a.keys(),
        of_b.keys()
    );
    for (p, got) in &of_a {
        assert!(!of_b.contains_key(p), "partition {p} in both tables");
        let offsets: Vec<i64> = got.iter().map(|(o, _)| *o).collect();
        assert_eq!(offsets, (0..200).collect::<Vec<_>>(), "a, partition {p}");
    }
    for (p, got) in &of_b {
        let offsets: Vec<i64> = got.iter().map(|(o, _)| *o).collect();
        assert_eq!(offsets, (100..200).collect::<Vec<_>>(), "b, partition {p}");
    }
    let mut latest: Vec<i32> = int32s(&latest_a.snapshot().unwrap(), "KafkaPartition");
    latest.sort();
    assert_eq!(latest, of_a.keys().copied().collect::<Vec<_>>());
    assert_eq!(a.status(), IngestStatus::Running);
}

/// `security.protocol = "SSL"` and the `ssl.*` properties pass through to
/// librdkafka: a table reads a broker reachable only over mutual TLS (tansu
/// behind a TLS front that asks for a client certificate). Without the
/// client certificate, the handshake is refused and the table fails naming
/// the TLS handshake instead of "broker transport failure".
#[test]
fn a_table_reads_a_broker_over_mutual_tls_and_fails_without_a_client_certificate() {
    use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
    let tls = topictable_e2e::tls::TlsBroker::start();
    tls.broker.create_topic("secure", 1);
    let mut config = rdkafka::ClientConfig::new();
    for (k, v) in tls.client_properties() {
        config.set(k, v);
    }
    let producer: BaseProducer = config.create().unwrap();
    for i in 0..3i64 {
        producer
            .send(BaseRecord::<(), [u8]>::to("secure").payload(&i.to_be_bytes()[..]))
            .unwrap();
    }
    producer.flush(Duration::from_secs(30)).unwrap();

    let (engine, _cycles) = engine();
    let table = |name: &str, properties: Vec<(String, String)>| {
        let mut s = spec(
            &tls.broker,
            "secure",
            KeyOrValueSpec::Ignore,
            KeyOrValueSpec::codec("simple", json!({"type": "int64", "column": "Qty"})),
            TableType::Append,
        );
        s.properties = properties.into_iter().collect();
        consume_to_table(&engine, name, &plugins(), s).unwrap()
    };
    let secure = table("secure", tls.client_properties());
    assert_eq!(int64s(&wait_rows(&secure, 3), "Qty"), [0, 1, 2]);

    let without_certificate: Vec<(String, String)> = tls
        .client_properties()
        .into_iter()
        .filter(|(k, _)| k != "ssl.certificate.location" && k != "ssl.key.location")
        .collect();
    let mut s = spec(
        &tls.broker,
        "secure",
        KeyOrValueSpec::Ignore,
        KeyOrValueSpec::codec("simple", json!({"type": "int64", "column": "Qty"})),
        TableType::Append,
    );
    s.properties = without_certificate.into_iter().collect();
    let why = match consume_to_table(&engine, "refused", &plugins(), s) {
        Err(e) => e.to_string(),
        Ok(t) => wait_for("the table to fail", Duration::from_secs(60), || {
            match t.status() {
                IngestStatus::Failed(why) => Some(why),
                _ => None,
            }
        }),
    };
    assert!(why.contains("TLS handshake failed"), "{why}");
}
