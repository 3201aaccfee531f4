//! Bytes written by confluent-kafka's `ProtobufSerializer` (the reference
//! producer), through our embedded registry, decoded by our decoder.

use std::path::PathBuf;

use arrow_select::concat::concat_batches;
use base64::Engine;
use prost::Message;
use serde_json::{Value, json};
use topictable_codec_protobuf::ProtobufCodec;
use topictable_registry_server::{self as server, RegistryHandle};
use topictable_schema_registry::{
    ClientConfig, RegistryClient, Schema, SchemaReference, SchemaType,
};
use topictable_sdk::arrow_array::{Array, RecordBatch};
use topictable_sdk::arrow_schema::{DataType, TimeUnit};
use topictable_sdk::{Codec, Decoded, Decoder, MessageBatchBuilder, Side};

use topictable_test_support::reference_python;

fn protos() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/protos")
}

/// The fixtures compiled with protox, imports included (well-known types too).
fn descriptor_set() -> prost_types::FileDescriptorSet {
    protox::compile(["acme/order.proto"], [protos()]).unwrap()
}

/// Runs `produce_protobuf.py` on `cases`; returns `(topic, bytes)` per record.
fn produce(registry: &RegistryHandle, cases: Value) -> Vec<(String, Vec<u8>)> {
    run_python(registry, cases)
        .into_iter()
        .map(|v| {
            let hex = v["hex"].as_str().unwrap();
            let bytes = (0..hex.len())
                .step_by(2)
                .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
                .collect();
            (v["topic"].as_str().unwrap().to_string(), bytes)
        })
        .collect()
}

/// Runs `produce_protobuf.py` on `cases`; returns its output lines.
fn run_python(registry: &RegistryHandle, cases: Value) -> Vec<Value> {
    let files: Vec<String> = descriptor_set()
        .file
        .iter()
        .filter(|f| !f.name().starts_with("google/"))
        .map(|f| base64::engine::general_purpose::STANDARD.encode(f.encode_to_vec()))
        .collect();
    let dir = std::env::temp_dir().join(format!(
        "tt-proto-{}-{}",
        std::process::id(),
        registry.addr().port()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let (cases_path, out_path) = (dir.join("cases.json"), dir.join("out.jsonl"));
    std::fs::write(
        &cases_path,
        json!({"files": files, "cases": cases}).to_string(),
    )
    .unwrap();
    reference_python::run_script(
        &PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../.."),
        "produce_protobuf.py",
        &[
            std::ffi::OsStr::new(&registry.url()),
            cases_path.as_os_str(),
            out_path.as_os_str(),
        ],
    );
    let text = std::fs::read_to_string(&out_path).unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    text.lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn decoder(config: Value) -> Box<dyn Decoder> {
    let config = ProtobufCodec
        .description()
        .config
        .validate(&config)
        .unwrap();
    ProtobufCodec.new_decoder(&config, Side::Value).unwrap()
}

fn decode(d: &mut dyn Decoder, messages: &[(String, Vec<u8>)]) -> Decoded {
    let mut b = MessageBatchBuilder::default();
    for (i, (topic, bytes)) in messages.iter().enumerate() {
        b.push(topic, 0, i as i64, None, None, Some(bytes), &[]);
    }
    d.decode(&b.finish().view()).unwrap()
}

/// The batch as JSON rows (arrow-json's rendering), for exact comparisons.
fn rows(batch: &RecordBatch) -> Vec<Value> {
    let mut w = arrow_json::ArrayWriter::new(Vec::new());
    w.write(batch).unwrap();
    w.finish().unwrap();
    let bytes = w.into_inner();
    if bytes.is_empty() {
        return Vec::new();
    }
    serde_json::from_slice(&bytes).unwrap()
}

fn errors(d: &Decoded) -> Vec<(usize, String)> {
    d.errors
        .iter()
        .map(|e| (e.row, e.message.clone()))
        .collect()
}

/// One order of `protos/orders.json`: `"full"` or `"sparse"`.
fn order(which: &str) -> Value {
    let text = std::fs::read_to_string(protos().join("orders.json")).unwrap();
    serde_json::from_str::<Value>(&text).unwrap()[which].clone()
}

/// An order using every kind of field, as protobuf JSON.
fn full_order() -> Value {
    order("full")["record"].clone()
}

/// An order with most fields absent.
fn empty_order() -> Value {
    order("sparse")["record"].clone()
}

/// The rows topictable makes of [`full_order`] and [`empty_order`].
fn order_rows() -> (Value, Value) {
    (order("full")["row"].clone(), order("sparse")["row"].clone())
}

#[test]
fn orders_from_the_confluent_serializer_with_message_indexes() {
    let registry = server::spawn("127.0.0.1:0").unwrap();
    let messages = produce(
        &registry,
        json!([
            {"topic": "orders", "message": "acme.Order", "records": [full_order(), empty_order()]},
            {"topic": "orders", "message": "acme.Order.Line", "records": [{"sku": "L", "qty": 3}]},
            {"topic": "orders", "message": "acme.Heartbeat", "records": [{"seq": 5}]}
        ]),
    );
    assert_eq!(messages.len(), 4);
    // One subject, one schema id; the message indexes tell the types apart.
    assert_eq!(&messages[0].1[..7], &[0, 0, 0, 0, 2, 0x02, 0x02], "[1]");
    assert_eq!(
        &messages[2].1[..8],
        &[0, 0, 0, 0, 2, 0x04, 0x02, 0x00],
        "[1, 0]"
    );
    assert_eq!(&messages[3].1[..6], &[0, 0, 0, 0, 2, 0x00], "[0]");

    // What confluent-kafka registered: a base64 FileDescriptorProto, the
    // user import as a reference, the well-known types skipped.
    let client = RegistryClient::new(ClientConfig::new(&registry.url())).unwrap();
    let schema = client.schema_by_id(2).unwrap();
    assert_eq!(schema.schema.schema_type, SchemaType::Protobuf);
    assert!(
        !schema.schema.schema.contains("message"),
        "base64, not .proto text"
    );
    let refs: Vec<&str> = schema
        .references
        .iter()
        .map(|r| r.reference.name.as_str())
        .collect();
    assert_eq!(refs, ["acme/common.proto"]);

    let mut d = decoder(
        json!({"schema_registry_url": registry.url(), "topic": "orders",
        "message": "acme.Order"}),
    );
    let out = decode(d.as_mut(), &messages);
    let s = out.batch.schema();
    let ty = |name: &str| s.field_with_name(name).unwrap().data_type().clone();
    assert_eq!(
        ty("created"),
        DataType::Timestamp(TimeUnit::Nanosecond, Some("UTC".into()))
    );
    assert_eq!(ty("ttl"), DataType::Duration(TimeUnit::Nanosecond));
    assert_eq!(ty("discount"), DataType::Int64);
    assert_eq!(ty("blob"), DataType::Binary);
    assert_eq!(ty("small"), DataType::UInt32);
    assert!(matches!(ty("counts"), DataType::Map(_, false)));
    assert!(
        matches!(ty("lines"), DataType::List(f) if matches!(f.data_type(), DataType::Struct(_)))
    );
    let names: Vec<&str> = s.fields().iter().map(|f| f.name().as_str()).collect();
    assert_eq!(
        names,
        [
            "id",
            "customer",
            "ship_to_city",
            "ship_to_geo_lat",
            "ship_to_geo_lon",
            "created",
            "ttl",
            "discount",
            "note",
            "lines",
            "tags",
            "counts",
            "status",
            "card",
            "voucher",
            "blob",
            "priority",
            "nums",
            "by_sku",
            "small",
            "ratio",
            "rush"
        ]
    );
    let (full, empty) = order_rows();
    let got = rows(&out.batch);
    assert_eq!(got[0], full);
    assert_eq!(got[1], empty);
    assert_eq!(got[2], json!({}));
    assert_eq!(got[3], json!({}));
    assert_eq!(
        errors(&out),
        vec![
            (2, "schema id 2, message index [1, 0] (acme.Order.Line): this table reads `acme.Order`, not `acme.Order.Line` (set `message` to read that type)".to_string()),
            (3, "schema id 2, message index [0] (acme.Heartbeat): this table reads `acme.Order`, not `acme.Heartbeat` (set `message` to read that type)".to_string()),
        ]
    );

    // The nested message ([1, 0]) and, by default, the file's first message ([0]).
    let mut lines = decoder(json!({"schema_registry_url": registry.url(),
        "schema_subject": "orders-value", "message": "acme.Order.Line"}));
    let out = decode(lines.as_mut(), &messages[2..3]);
    assert!(out.errors.is_empty(), "{:?}", out.errors);
    assert_eq!(
        rows(&out.batch),
        vec![json!({"sku": "L", "qty": 3, "price": 0.0})]
    );
    let mut beats = decoder(json!({"schema_registry_url": registry.url(), "topic": "orders"}));
    let out = decode(beats.as_mut(), &messages[3..4]);
    assert!(out.errors.is_empty(), "{:?}", out.errors);
    assert_eq!(rows(&out.batch), vec![json!({"seq": 5})]);

    // Options: enums as numbers, ms timestamps, include/exclude globs, another separator.
    let mut d = decoder(
        json!({"schema_registry_url": registry.url(), "topic": "orders",
        "message": "acme.Order", "enums": "int", "time_unit": "ms", "separator": "__",
        "include": ["/id", "/ship_to/**", "/created", "/ttl", "/status"], "exclude": "/ship_to/geo/lon"}),
    );
    let out = decode(d.as_mut(), &messages[..2]);
    assert!(out.errors.is_empty(), "{:?}", out.errors);
    assert_eq!(
        out.batch
            .schema()
            .field_with_name("created")
            .unwrap()
            .data_type(),
        &DataType::Timestamp(TimeUnit::Millisecond, Some("UTC".into()))
    );
    assert_eq!(
        rows(&out.batch),
        vec![
            json!({"id": 9007199254740993i64, "ship_to__city": "Oslo", "ship_to__geo__lat": 59.9,
                "created": "2023-11-14T22:13:20.123Z", "ttl": "PT90.5S", "status": 2}),
            json!({"id": 7, "status": 0}),
        ]
    );

    // Chunk boundaries do not change the output.
    let many: Vec<_> = (0..10).flat_map(|_| messages[..2].to_vec()).collect();
    let config =
        json!({"schema_registry_url": registry.url(), "topic": "orders", "message": "acme.Order"});
    let whole = decode(decoder(config.clone()).as_mut(), &many).batch;
    for chunk in [1, 3, 100] {
        let mut d = decoder(config.clone());
        let parts: Vec<RecordBatch> = many
            .chunks(chunk)
            .map(|c| decode(d.as_mut(), c).batch)
            .collect();
        assert_eq!(
            concat_batches(&whole.schema(), &parts).unwrap(),
            whole,
            "chunk {chunk}"
        );
    }
}

#[test]
fn row_errors_name_what_and_where() {
    let registry = server::spawn("127.0.0.1:0").unwrap();
    let messages = produce(
        &registry,
        json!([{"topic": "orders", "message": "acme.Order", "records": [full_order()]}]),
    );
    let good = messages[0].clone();
    let with = |f: &dyn Fn(&mut Vec<u8>)| {
        let mut m = good.clone();
        f(&mut m.1);
        m
    };
    let bad_magic = with(&|b| b[0] = 1);
    let unknown_id = with(&|b| b[1..5].copy_from_slice(&99u32.to_be_bytes()));
    // The last fields are ratio (fixed32, field 19) and rush (3 bytes): cut into ratio.
    let truncated = with(&|b| b.truncate(b.len() - 4));
    // Index [5]: the file has two top-level messages.
    let no_such_index = with(&|b| b.splice(5..7, [0x02, 0x0a]).for_each(drop));
    let no_such_nested = with(&|b| b.splice(5..7, [0x04, 0x02, 0x10]).for_each(drop));
    let index_overflow = with(&|b| {
        b.splice(5..7, [0x02, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01])
            .for_each(drop)
    });
    // Field 1 (id, varint) with an 11-byte varint.
    let payload_overflow = with(&|b| {
        b.truncate(7);
        b.extend_from_slice(&[
            0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01,
        ]);
    });
    // Field 2 (customer, a string) sent as a varint.
    let wrong_wire = with(&|b| {
        b.truncate(7);
        b.extend_from_slice(&[0x10, 0x01]);
    });
    let garbage = with(&|b| {
        b.truncate(7);
        b.extend_from_slice(b"\xff\xff\xff\xff\x0f");
    });
    let bad_utf8 = with(&|b| {
        b.truncate(7);
        b.extend_from_slice(&[0x1a, 0x03, 0x0a, 0x01, 0xff]);
    });
    let mut d = decoder(
        json!({"schema_registry_url": registry.url(), "topic": "orders",
        "message": "acme.Order"}),
    );
    let mut b = MessageBatchBuilder::default();
    let batch = [
        Some(&good),
        Some(&bad_magic),
        Some(&unknown_id),
        Some(&truncated),
        Some(&no_such_index),
        Some(&no_such_nested),
        Some(&index_overflow),
        Some(&payload_overflow),
        Some(&wrong_wire),
        Some(&garbage),
        Some(&bad_utf8),
        None,
        Some(&good),
    ];
    for (i, m) in batch.iter().enumerate() {
        b.push("orders", 0, i as i64, None, None, m.map(|m| &m.1[..]), &[]);
    }
    let out = d.decode(&b.finish().view()).unwrap();
    let got = rows(&out.batch);
    let (full, _) = order_rows();
    assert_eq!(got[0], full);
    assert_eq!(got[12], full);
    for r in &got[1..12] {
        assert_eq!(r, &json!({}));
    }
    let errs = errors(&out);
    let rows_in_error: Vec<usize> = errs.iter().map(|(r, _)| *r).collect();
    assert_eq!(rows_in_error, (1..12).collect::<Vec<_>>());
    let msg = |row: usize| errs.iter().find(|(r, _)| *r == row).unwrap().1.clone();
    let starts = |row: usize, prefix: &str| {
        let m = msg(row);
        assert!(m.starts_with(prefix), "row {row}: {m}");
    };
    let label = "schema id 2, message index [1] (acme.Order): ";
    starts(
        1,
        "unknown magic byte 0x01 (expected 0x00, Confluent framing): 01 00 00 00 02",
    );
    starts(
        2,
        "schema id 99: schema registry GET /schemas/ids/99: HTTP 404, error 40403",
    );
    starts(
        3,
        &format!("{label}field /ratio: truncated message: a 4-byte value at byte"),
    );
    assert_eq!(
        msg(4),
        "schema id 2: message index [5] does not exist: file `acme/order.proto` has 2 top-level message(s)"
    );
    assert_eq!(
        msg(5),
        "schema id 2: message index [1, 8] does not exist: `acme.Order` has 3 nested message(s)"
    );
    starts(
        6,
        "schema id 2: varint overflow in the message-index array at byte 1",
    );
    assert_eq!(
        msg(7),
        format!("{label}field /id: varint overflow at byte 1 (more than 64 bits)")
    );
    assert_eq!(
        msg(8),
        format!(
            "{label}field /customer: wire type 0 (varint) where the schema says 2 (length-delimited): written with another schema?"
        )
    );
    starts(9, label);
    assert_eq!(
        msg(10),
        format!(
            "{label}field /ship_to/city: string is not valid UTF-8: invalid utf-8 sequence of 1 bytes from index 0"
        )
    );
    assert_eq!(
        msg(11),
        "tombstone (null value): there is no Protobuf message to decode"
    );
}

#[test]
fn raw_messages_from_local_descriptors() {
    let registry = server::spawn("127.0.0.1:0").unwrap();
    let messages = produce(
        &registry,
        json!([{"topic": "orders", "message": "acme.Order", "raw": true,
                "records": [full_order(), empty_order()]}]),
    );
    let (full, empty) = order_rows();
    let order = protos().join("acme/order.proto");
    // .proto files compiled in-process.
    let mut d = decoder(json!({"protocol": "raw", "message": "acme.Order",
        "proto_files": order.to_str().unwrap(), "proto_include": protos().to_str().unwrap()}));
    let out = decode(d.as_mut(), &messages);
    assert!(out.errors.is_empty(), "{:?}", out.errors);
    assert_eq!(rows(&out.batch), vec![full.clone(), empty.clone()]);

    // A FileDescriptorSet file.
    let set = std::env::temp_dir().join(format!("tt-proto-set-{}.pb", std::process::id()));
    std::fs::write(&set, descriptor_set().encode_to_vec()).unwrap();
    let mut d = decoder(json!({"protocol": "raw", "message": "acme.Order",
        "descriptor_set": set.to_str().unwrap()}));
    let out = decode(d.as_mut(), &messages);
    let _ = std::fs::remove_file(&set);
    assert!(out.errors.is_empty(), "{:?}", out.errors);
    assert_eq!(rows(&out.batch), vec![full, empty]);

    // Raw bytes are not framed: a framed decoder refuses them, and names why.
    let mut d = decoder(
        json!({"schema_registry_url": registry.url(), "schema_subject": "x",
        "message": "acme.Order", "proto_files": order.to_str().unwrap(),
        "proto_include": protos().to_str().unwrap()}),
    );
    let out = decode(d.as_mut(), &messages[..1]);
    assert!(
        out.errors[0].message.starts_with("unknown magic byte 0x08"),
        "{}",
        out.errors[0].message
    );
}

#[test]
fn proto_text_in_the_registry_with_references() {
    let registry = server::spawn("127.0.0.1:0").unwrap();
    let client = RegistryClient::new(ClientConfig::new(&registry.url())).unwrap();
    let text = |f: &str| std::fs::read_to_string(protos().join(f)).unwrap();
    let proto = |schema: String, references| Schema {
        schema,
        schema_type: SchemaType::Protobuf,
        references,
    };
    client
        .register(
            "acme/common.proto",
            &proto(text("acme/common.proto"), vec![]),
        )
        .unwrap();
    let id = client
        .register(
            "orders-value",
            &proto(
                text("acme/order.proto"),
                vec![SchemaReference {
                    name: "acme/common.proto".into(),
                    subject: "acme/common.proto".into(),
                    version: 1,
                }],
            ),
        )
        .unwrap();
    // The same payload confluent-kafka writes, framed by hand for the text schema.
    let raw = produce(
        &registry,
        json!([{"topic": "orders", "message": "acme.Order", "raw": true, "records": [full_order()]}]),
    );
    let mut framed = vec![0];
    framed.extend_from_slice(&id.to_be_bytes());
    framed.extend_from_slice(&[0x02, 0x02]);
    framed.extend_from_slice(&raw[0].1);
    let mut d = decoder(
        json!({"schema_registry_url": registry.url(), "topic": "orders",
        "message": "acme.Order"}),
    );
    let out = decode(d.as_mut(), &[("orders".into(), framed)]);
    assert!(out.errors.is_empty(), "{:?}", out.errors);
    assert_eq!(rows(&out.batch), vec![order_rows().0]);
}

#[test]
fn encoder_round_trips_with_framing_and_message_indexes() {
    let registry = server::spawn("127.0.0.1:0").unwrap();
    let messages = produce(
        &registry,
        json!([{"topic": "orders", "message": "acme.Order", "records": [full_order(), empty_order()]}]),
    );
    let config =
        json!({"schema_registry_url": registry.url(), "topic": "orders", "message": "acme.Order"});
    let decoded = decode(decoder(config.clone()).as_mut(), &messages).batch;

    let valid = ProtobufCodec
        .description()
        .config
        .validate(&config)
        .unwrap();
    let mut encoder = ProtobufCodec
        .new_encoder(&valid, Side::Value, decoded.schema())
        .unwrap();
    let encoded = encoder.encode(&decoded).unwrap();
    assert!(encoded.errors.is_empty(), "{:?}", encoded.errors);
    let ours: Vec<(String, Vec<u8>)> = (0..encoded.bytes.len())
        .map(|i| ("orders".to_string(), encoded.bytes.value(i).to_vec()))
        .collect();
    // The registered schema's id, and the message index [1] of acme.Order.
    assert_eq!(&ours[0].1[..7], &[0, 0, 0, 0, 2, 0x02, 0x02]);
    let again = decode(decoder(config).as_mut(), &ours);
    assert!(again.errors.is_empty(), "{:?}", again.errors);
    assert_eq!(again.batch, decoded);

    // confluent-kafka's ProtobufDeserializer reads our bytes back to the same messages.
    let hexed: Vec<String> = ours
        .iter()
        .map(|(_, b)| b.iter().map(|x| format!("{x:02x}")).collect())
        .collect();
    let read = run_python(
        &registry,
        json!([{"topic": "orders", "message": "acme.Order", "deserialize": hexed}]),
    );
    assert_eq!(
        read[0]["json"],
        json!({"id": "9007199254740993", "customer": "ann",
            "ship_to": {"city": "Oslo", "geo": {"lat": 59.9, "lon": 10.75}},
            "created": "2023-11-14T22:13:20.123456789Z", "ttl": "90.500s",
            "discount": "-5", "note": "fragile",
            "lines": [{"sku": "A-1", "qty": 2, "price": 9.5}, {"sku": "B-2"}],
            "tags": ["x", "y"], "counts": {"a": 1}, "status": "SHIPPED",
            "card": "visa", "blob": "AP8Q", "priority": 0, "nums": ["-1", "0", "300"],
            "by_sku": {"A-1": {"sku": "A-1", "qty": 2}}, "small": 4000000000u32, "ratio": 0.25,
            "rush": true})
    );
    assert_eq!(read[1]["json"], json!({"id": "7", "voucher": "12"}));

    // Raw, from .proto files, with auto-registration off: no header at all.
    let order = protos().join("acme/order.proto");
    let raw_config = json!({"protocol": "raw", "message": "acme.Order",
        "proto_files": order.to_str().unwrap(), "proto_include": protos().to_str().unwrap()});
    let valid = ProtobufCodec
        .description()
        .config
        .validate(&raw_config)
        .unwrap();
    let mut raw = ProtobufCodec
        .new_encoder(&valid, Side::Value, decoded.schema())
        .unwrap();
    let bytes = raw.encode(&decoded).unwrap().bytes;
    let raw_rows: Vec<(String, Vec<u8>)> = (0..bytes.len())
        .map(|i| ("orders".to_string(), bytes.value(i).to_vec()))
        .collect();
    let back = decode(decoder(raw_config.clone()).as_mut(), &raw_rows);
    assert!(back.errors.is_empty(), "{:?}", back.errors);
    assert_eq!(back.batch, decoded);

    // Auto-registration of a local schema (imports as references) on a new subject.
    let auto = json!({"schema_registry_url": registry.url(), "topic": "orders2", "message": "acme.Order.Line",
        "auto_register": true, "proto_files": order.to_str().unwrap(), "proto_include": protos().to_str().unwrap()});
    let lines = decode(
        decoder(json!({"schema_registry_url": registry.url(), "topic": "orders", "message": "acme.Order.Line"})).as_mut(),
        &[],
    );
    let valid = ProtobufCodec.description().config.validate(&auto).unwrap();
    let mut enc = ProtobufCodec
        .new_encoder(&valid, Side::Value, lines.batch.schema())
        .unwrap();
    let line = RecordBatch::try_new(
        lines.batch.schema(),
        vec![
            std::sync::Arc::new(topictable_sdk::arrow_array::StringArray::from(vec!["Z"])),
            std::sync::Arc::new(topictable_sdk::arrow_array::Int32Array::from(vec![4])),
            std::sync::Arc::new(topictable_sdk::arrow_array::Float64Array::from(vec![1.25])),
        ],
    )
    .unwrap();
    let bytes = enc.encode(&line).unwrap().bytes.value(0).to_vec();
    assert_eq!(&bytes[5..8], &[0x04, 0x02, 0x00], "message index [1, 0]");
    let client = RegistryClient::new(ClientConfig::new(&registry.url())).unwrap();
    let id = u32::from_be_bytes(bytes[1..5].try_into().unwrap());
    assert_eq!(
        client.schema_by_id(id).unwrap().references[0]
            .reference
            .name,
        "acme/common.proto"
    );
    let mut d = decoder(
        json!({"schema_registry_url": registry.url(), "topic": "orders2", "message": "acme.Order.Line"}),
    );
    let out = decode(d.as_mut(), &[("orders2".into(), bytes)]);
    assert!(out.errors.is_empty(), "{:?}", out.errors);
    assert_eq!(
        rows(&out.batch),
        vec![json!({"sku": "Z", "qty": 4, "price": 1.25})]
    );

    // A column that matches no field is refused when the encoder is made.
    let bad = std::sync::Arc::new(topictable_sdk::arrow_schema::Schema::new(vec![
        topictable_sdk::arrow_schema::Field::new("nope", DataType::Int64, true),
    ]));
    let valid = ProtobufCodec
        .description()
        .config
        .validate(&raw_config)
        .unwrap();
    let Err(err) = ProtobufCodec.new_encoder(&valid, Side::Value, bad) else {
        panic!("an encoder for a column that matches no field")
    };
    let err = err.to_string();
    assert!(
        err.contains("column `nope` matches no field of `acme.Order`"),
        "{err}"
    );
}
