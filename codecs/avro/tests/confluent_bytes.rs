//! Bytes written by confluent-kafka's `AvroSerializer` (the reference
//! producer), through our embedded registry, decoded by our decoder.

use std::path::PathBuf;

use arrow_select::concat::concat_batches;
use serde_json::{Value, json};
use topictable_codec_avro::AvroCodec;
use topictable_registry_server::{self as server, RegistryHandle};
use topictable_sdk::arrow_array::RecordBatch;
use topictable_sdk::arrow_schema::{DataType, TimeUnit};
use topictable_sdk::{Codec, Decoded, Decoder, MessageBatchBuilder, Side};

use topictable_test_support::reference_python;

fn workspace() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Runs `tests/python/<script> REGISTRY_URL IN OUT` with `input` in IN;
/// returns the JSON lines it wrote to OUT.
fn run_script(script: &str, registry: &RegistryHandle, input: &str) -> Vec<Value> {
    let dir = tempfile::tempdir().unwrap();
    let (in_path, out_path) = (dir.path().join("in"), dir.path().join("out.jsonl"));
    std::fs::write(&in_path, input).unwrap();
    reference_python::run_script(
        &workspace(),
        script,
        &[
            std::ffi::OsStr::new(&registry.url()),
            in_path.as_os_str(),
            out_path.as_os_str(),
        ],
    );
    std::fs::read_to_string(&out_path)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// Runs `produce_avro.py` on `cases`; returns `(topic, bytes)` per record.
fn produce(registry: &RegistryHandle, cases: Value) -> Vec<(String, Vec<u8>)> {
    run_script("produce_avro.py", registry, &cases.to_string())
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

fn decoder(config: Value) -> Box<dyn Decoder> {
    let config = AvroCodec.description().config.validate(&config).unwrap();
    AvroCodec.new_decoder(&config, Side::Value).unwrap()
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

/// Every Avro type and logical type (shared with the fuzz targets).
fn all_types_schema() -> Value {
    serde_json::from_str(include_str!("fixtures/all_types.avsc")).expect("the schema is JSON")
}

fn all_types_records() -> Value {
    json!([
        {"b": true, "i": -7, "l": 9007199254740993i64, "f": 1.5, "d": -2.25, "s": "héllo",
         "by": {"$bytes": "00ff10"}, "fx": {"$bytes": "deadbeef"}, "e": "GREEN",
         "ts_ms": 1700000000123i64, "ts_us": 1700000000123456i64, "day": 19000, "t_ms": 3723004,
         "t_us": 3723004005i64, "dec": {"$decimal": "-1234.56"}, "decf": {"$decimal": "123456789.012"},
         "id": "123e4567-e89b-12d3-a456-426614174000", "opt": 42,
         "addr": {"city": "Oslo", "geo": {"lat": 59.9}},
         "maybe_addr": {"city": "Bergen", "geo": {"lat": 60.4}},
         "tags": ["a", "b"], "scores": {"x": 1}, "grid": [[1, null], [], [3]],
         "people": [{"n": "ann", "c": "BLUE"}, {"n": "bob", "c": null}]},
        {"b": false, "i": 2147483647, "l": -1, "f": 0.0, "d": 1e300, "s": "",
         "by": {"$bytes": ""}, "fx": {"$bytes": "00000000"}, "e": "RED",
         "ts_ms": -1, "ts_us": 0, "day": -1, "t_ms": 0, "t_us": 0,
         "dec": {"$decimal": "0.01"}, "decf": {"$decimal": "-0.001"},
         "id": "00000000-0000-0000-0000-000000000001", "opt": null,
         "addr": {"city": "", "geo": {"lat": -0.5}}, "maybe_addr": null,
         "tags": [], "scores": {}, "grid": [], "people": []}
    ])
}

#[test]
fn every_avro_type_from_the_confluent_serializer() {
    let registry = server::spawn("127.0.0.1:0").unwrap();
    let messages = produce(
        &registry,
        json!([{"topic": "all", "schema": all_types_schema(), "records": all_types_records()}]),
    );
    assert_eq!(messages.len(), 2);
    assert_eq!(
        &messages[0].1[..5],
        &[0, 0, 0, 0, 1],
        "framed with schema id 1"
    );
    let mut d = decoder(json!({"schema_registry_url": registry.url(), "topic": "all"}));
    let out = decode(d.as_mut(), &messages);
    assert!(out.errors.is_empty(), "{:?}", out.errors);
    let schema = out.batch.schema();
    let ty = |name: &str| schema.field_with_name(name).unwrap().data_type().clone();
    assert_eq!(
        ty("ts_ms"),
        DataType::Timestamp(TimeUnit::Millisecond, Some("UTC".into()))
    );
    assert_eq!(
        ty("ts_us"),
        DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()))
    );
    assert_eq!(ty("day"), DataType::Date32);
    assert_eq!(ty("t_ms"), DataType::Time32(TimeUnit::Millisecond));
    assert_eq!(ty("t_us"), DataType::Time64(TimeUnit::Microsecond));
    assert_eq!(ty("dec"), DataType::Decimal128(10, 2));
    assert_eq!(ty("decf"), DataType::Decimal128(12, 3));
    assert_eq!(ty("id"), DataType::FixedSizeBinary(16));
    assert_eq!(ty("fx"), DataType::FixedSizeBinary(4));
    assert_eq!(ty("by"), DataType::Binary);
    assert_eq!(
        ty("e"),
        DataType::Dictionary(Box::new(DataType::Int32), Box::new(DataType::Utf8))
    );
    assert!(matches!(ty("scores"), DataType::Map(_, false)));
    assert!(
        matches!(ty("people"), DataType::List(f) if matches!(f.data_type(), DataType::Struct(_)))
    );
    let names: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
    assert!(
        names.contains(&"addr__geo__lat") && names.contains(&"maybe_addr__city"),
        "{names:?}"
    );

    // Decimals exactly (the JSON rendering goes through f64).
    use topictable_sdk::arrow_array::cast::AsArray;
    use topictable_sdk::arrow_array::types::Decimal128Type;
    let dec = out
        .batch
        .column_by_name("dec")
        .unwrap()
        .as_primitive::<Decimal128Type>();
    assert_eq!(dec.values().to_vec(), vec![-123456i128, 1]);
    let decf = out
        .batch
        .column_by_name("decf")
        .unwrap()
        .as_primitive::<Decimal128Type>();
    assert_eq!(decf.values().to_vec(), vec![123456789012i128, -1]);

    let got = rows(&out.batch);
    assert_eq!(
        got[0],
        json!({"b": true, "i": -7, "l": 9007199254740993i64, "f": 1.5, "d": -2.25, "s": "héllo",
            "by": "00ff10", "fx": "deadbeef", "e": "GREEN",
            "ts_ms": "2023-11-14T22:13:20.123Z", "ts_us": "2023-11-14T22:13:20.123456Z",
            "day": "2022-01-08", "t_ms": "01:02:03.004", "t_us": "01:02:03.004005",
            "dec": -1234.56, "decf": 123456789.012,
            "id": "123e4567e89b12d3a456426614174000", "opt": 42,
            "addr__city": "Oslo", "addr__geo__lat": 59.9,
            "maybe_addr__city": "Bergen", "maybe_addr__geo__lat": 60.4,
            "tags": ["a", "b"], "scores": {"x": 1}, "grid": [[1, null], [], [3]],
            "people": [{"n": "ann", "c": "BLUE"}, {"n": "bob"}]})
    );
    assert_eq!(
        got[1],
        json!({"b": false, "i": 2147483647, "l": -1, "f": 0.0, "d": 1e300, "s": "",
            "by": "", "fx": "00000000", "e": "RED",
            "ts_ms": "1969-12-31T23:59:59.999Z", "ts_us": "1970-01-01T00:00:00Z",
            "day": "1969-12-31", "t_ms": "00:00:00", "t_us": "00:00:00",
            "dec": 0.01, "decf": -0.001,
            "id": "00000000000000000000000000000001",
            "addr__city": "", "addr__geo__lat": -0.5,
            "tags": [], "scores": {}, "grid": [], "people": []})
    );

    // The same bytes, nested records kept as structs.
    let mut d = decoder(
        json!({"schema_registry_url": registry.url(), "schema_subject": "all-value", "nested": "struct"}),
    );
    let out = decode(d.as_mut(), &messages);
    assert!(out.errors.is_empty(), "{:?}", out.errors);
    let got = rows(&out.batch);
    assert_eq!(
        got[0]["addr"],
        json!({"city": "Oslo", "geo": {"lat": 59.9}})
    );
    assert_eq!(
        got[0]["maybe_addr"],
        json!({"city": "Bergen", "geo": {"lat": 60.4}})
    );
    assert_eq!(got[1].get("maybe_addr"), None, "a null struct");

    // Chunk boundaries do not change the output.
    let many: Vec<_> = (0..10).flat_map(|_| messages.clone()).collect();
    let whole = decode(
        decoder(json!({"schema_registry_url": registry.url(), "topic": "all"})).as_mut(),
        &many,
    )
    .batch;
    for chunk in [1, 3, 100] {
        let mut d = decoder(json!({"schema_registry_url": registry.url(), "topic": "all"}));
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
fn schema_evolution_v1_then_v2_in_one_decoder() {
    let registry = server::spawn("127.0.0.1:0").unwrap();
    let v1 = json!({"type": "record", "name": "Trade", "fields": [
        {"name": "id", "type": "long"},
        {"name": "qty", "type": "int"},
        {"name": "px", "type": "float"},
        {"name": "side", "type": {"type": "enum", "name": "Side", "symbols": ["BUY", "SELL"]}},
        {"name": "legacy", "type": "string"}
    ]});
    let v2 = json!({"type": "record", "name": "Trade", "fields": [
        {"name": "id", "type": "long"},
        {"name": "venue", "type": "string", "default": "XNAS"},
        {"name": "qty", "type": "long"},
        {"name": "px", "type": "double"},
        {"name": "side", "type": {"type": "enum", "name": "Side", "symbols": ["BUY", "SELL", "SHORT"]}},
        {"name": "note", "type": ["null", "string"], "default": null}
    ]});
    let bad =
        json!({"type": "record", "name": "Trade", "fields": [{"name": "id", "type": "string"}]});
    let messages = produce(
        &registry,
        json!([
            {"topic": "trades", "schema": v1, "records": [
                {"id": 1, "qty": 10, "px": 1.5, "side": "SELL", "legacy": "x"}]},
            {"topic": "trades", "schema": v2, "records": [
                {"id": 2, "venue": "XLON", "qty": 5000000000i64, "px": 0.1, "side": "SHORT", "note": "hi"}]},
            {"topic": "other", "schema": bad, "records": [{"id": "oops"}]}
        ]),
    );
    // v1, v2, v1 again, then a writer schema that cannot be read as v2.
    let batch = vec![
        messages[0].clone(),
        messages[1].clone(),
        messages[0].clone(),
        messages[2].clone(),
    ];
    let mut d = decoder(json!({"schema_registry_url": registry.url(), "topic": "trades"}));
    let out = decode(d.as_mut(), &batch);
    assert_eq!(
        rows(&out.batch),
        vec![
            json!({"id": 1, "venue": "XNAS", "qty": 10, "px": 1.5, "side": "SELL"}),
            json!({"id": 2, "venue": "XLON", "qty": 5000000000i64, "px": 0.1, "side": "SHORT", "note": "hi"}),
            json!({"id": 1, "venue": "XNAS", "qty": 10, "px": 1.5, "side": "SELL"}),
            json!({}),
        ]
    );
    assert_eq!(out.errors.len(), 1);
    assert_eq!(out.errors[0].row, 3);
    assert_eq!(
        out.errors[0].message,
        "schema id 3: writer schema cannot be resolved against the reader schema: field `id`: writer type string cannot be read as reader type long"
    );
    // A reader pinned to v1 reads v1 data, and names the field that keeps v2 data out.
    let mut d1 = decoder(
        json!({"schema_registry_url": registry.url(), "topic": "trades", "schema_version": 1}),
    );
    let out = decode(d1.as_mut(), &batch[..2]);
    assert_eq!(
        rows(&out.batch)[0],
        json!({"id": 1, "qty": 10, "px": 1.5, "side": "SELL", "legacy": "x"})
    );
    assert_eq!(out.errors.len(), 1);
    assert_eq!(
        out.errors[0].message,
        "schema id 2: writer schema cannot be resolved against the reader schema: field `qty`: writer type long cannot be read as reader type int"
    );
}

#[test]
fn references_raw_mode_and_row_errors() {
    let registry = server::spawn("127.0.0.1:0").unwrap();
    let address = json!({"type": "record", "name": "Address", "namespace": "com.acme",
        "fields": [{"name": "city", "type": "string"}]});
    let order = json!({"type": "record", "name": "Order", "namespace": "com.acme", "fields": [
        {"name": "id", "type": "long"}, {"name": "ship_to", "type": "com.acme.Address"}]});
    let raw_schema = json!({"type": "record", "name": "Order", "namespace": "com.acme", "fields": [
        {"name": "id", "type": "long"}, {"name": "ship_to", "type": address}]});
    let messages = produce(
        &registry,
        json!([
            {"topic": "address", "schema": address, "records": [{"city": "Rome"}]},
            {"topic": "orders", "schema": order,
             "references": [{"name": "com.acme.Address", "subject": "address-value", "version": 1}],
             "records": [{"id": 7, "ship_to": {"city": "Oslo"}}]},
            {"topic": "orders", "schema": raw_schema, "raw": true, "records": [{"id": 8, "ship_to": {"city": "Paris"}}]}
        ]),
    );
    let mut d = decoder(json!({"schema_registry_url": registry.url(), "topic": "orders"}));
    let good = messages[1].clone();
    let mut truncated = good.clone();
    truncated.1.truncate(truncated.1.len() - 2);
    let mut bad_magic = good.clone();
    bad_magic.1[0] = 1;
    let mut unknown_id = good.clone();
    unknown_id.1[1..5].copy_from_slice(&99u32.to_be_bytes());
    let mut trailing = good.clone();
    trailing.1.push(0);
    let out = decode(
        d.as_mut(),
        &[
            good.clone(),
            truncated,
            bad_magic,
            unknown_id,
            trailing,
            good,
        ],
    );
    assert_eq!(
        rows(&out.batch),
        vec![
            json!({"id": 7, "ship_to__city": "Oslo"}),
            json!({}),
            json!({}),
            json!({}),
            json!({}),
            json!({"id": 7, "ship_to__city": "Oslo"}),
        ]
    );
    let errors: Vec<(usize, &str)> = out
        .errors
        .iter()
        .map(|e| (e.row, e.message.as_str()))
        .collect();
    assert_eq!(
        errors[0],
        (
            1,
            "schema id 2: field `ship_to.city`: truncated datum: a byte string needs 4 bytes at byte 2, 2 left"
        )
    );
    assert!(
        errors[1].1.starts_with(
            "unknown magic byte 0x01 (expected 0x00, Confluent framing): 01 00 00 00 02"
        ),
        "{}",
        errors[1].1
    );
    assert_eq!(errors[1].0, 2);
    assert_eq!(errors[2].0, 3);
    assert!(
        errors[2].1.starts_with(
            "schema id 99: schema registry GET /schemas/ids/99: HTTP 404, error 40403"
        ),
        "{}",
        errors[2].1
    );
    assert_eq!(
        errors[3],
        (
            4,
            "schema id 2: 1 bytes left after the datum (written with another schema?)"
        )
    );

    // Raw: no header, schema from config (here inline, with the referenced type inlined).
    let mut d = decoder(json!({"protocol": "raw", "schema": raw_schema.to_string(),
        "mapping_only": {"ship_to__city": "City"}}));
    let out = decode(d.as_mut(), &messages[2..3]);
    assert!(out.errors.is_empty(), "{:?}", out.errors);
    assert_eq!(rows(&out.batch), vec![json!({"City": "Paris"})]);
}

/// Runs `decode_avro.py` (confluent-kafka's `AvroDeserializer` against the
/// registry) on framed messages; returns each value as JSON.
fn decode_with_python(registry: &RegistryHandle, messages: &[(String, Vec<u8>)]) -> Vec<Value> {
    let lines: String = messages
        .iter()
        .map(|(topic, bytes)| {
            let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
            format!("{}\n", json!({"topic": topic, "hex": hex}))
        })
        .collect();
    run_script("decode_avro.py", registry, &lines)
}

fn encode(config: Value, batch: &RecordBatch) -> Vec<Vec<u8>> {
    use topictable_sdk::arrow_array::Array;
    let config = AvroCodec.description().config.validate(&config).unwrap();
    let mut e = AvroCodec
        .new_encoder(&config, Side::Value, batch.schema())
        .unwrap();
    let out = e.encode(batch).unwrap();
    assert!(out.errors.is_empty(), "{:?}", out.errors);
    (0..out.bytes.len())
        .map(|i| out.bytes.value(i).to_vec())
        .collect()
}

#[test]
fn our_encoder_read_by_the_confluent_deserializer_given_schema() {
    let registry = server::spawn("127.0.0.1:0").unwrap();
    // Python's serializer writes the records; we decode them into a table...
    let messages = produce(
        &registry,
        json!([{"topic": "all", "schema": all_types_schema(), "records": all_types_records()}]),
    );
    let mut d = decoder(json!({"schema_registry_url": registry.url(), "topic": "all"}));
    let table = decode(d.as_mut(), &messages);
    assert!(table.errors.is_empty(), "{:?}", table.errors);
    // ...we write the table to another topic, registering the same schema
    // under its subject...
    let ours = encode(
        json!({"schema_registry_url": registry.url(), "topic": "again",
            "schema": all_types_schema().to_string(), "auto_register": true}),
        &table.batch,
    );
    assert_eq!(&ours[0][..5], &[0, 0, 0, 0, 1], "the same schema, id 1");
    // ...and Python's deserializer reads what Python's serializer wrote.
    let read = decode_with_python(
        &registry,
        &ours
            .into_iter()
            .map(|b| ("again".to_string(), b))
            .collect::<Vec<_>>(),
    );
    let theirs = decode_with_python(&registry, &messages);
    assert_eq!(read, theirs);
    assert_eq!(
        read[0],
        json!({"b": true, "i": -7, "l": 9007199254740993i64, "f": 1.5, "d": -2.25, "s": "héllo",
            "by": {"$bytes": "00ff10"}, "fx": {"$bytes": "deadbeef"}, "e": "GREEN",
            "ts_ms": "2023-11-14T22:13:20.123000+00:00", "ts_us": "2023-11-14T22:13:20.123456+00:00",
            "day": "2022-01-08", "t_ms": "01:02:03.004000", "t_us": "01:02:03.004005",
            "dec": {"$decimal": "-1234.56"}, "decf": {"$decimal": "123456789.012"},
            "id": "123e4567-e89b-12d3-a456-426614174000", "opt": 42,
            "addr": {"city": "Oslo", "geo": {"lat": 59.9}},
            "maybe_addr": {"city": "Bergen", "geo": {"lat": 60.4}},
            "tags": ["a", "b"], "scores": {"x": 1}, "grid": [[1, null], [], [3]],
            "people": [{"n": "ann", "c": "BLUE"}, {"n": "bob", "c": null}]})
    );
    assert_eq!(read[1]["maybe_addr"], Value::Null);
    assert_eq!(read[1]["dec"], json!({"$decimal": "0.01"}));
    assert_eq!(read[1]["decf"], json!({"$decimal": "-0.001"}));
}

#[test]
fn our_encoder_read_by_the_confluent_deserializer_generated_schema() {
    use std::collections::HashMap;
    use std::sync::Arc;
    use topictable_sdk::arrow_array::builder::{
        Int64Builder, ListBuilder, MapBuilder, StringBuilder,
    };
    use topictable_sdk::arrow_array::{
        ArrayRef, BinaryArray, BooleanArray, Date32Array, Decimal128Array, FixedSizeBinaryArray,
        Float64Array, Int32Array, Int64Array, NullArray, StringArray, StructArray,
        Time32MillisecondArray, Time64MicrosecondArray, TimestampMicrosecondArray,
        TimestampMillisecondArray, UnionArray,
    };
    use topictable_sdk::arrow_buffer::{NullBuffer, ScalarBuffer};
    use topictable_sdk::arrow_schema::{Field, Fields, Schema, UnionFields};

    let registry = server::spawn("127.0.0.1:0").unwrap();
    let mut tags = ListBuilder::new(StringBuilder::new());
    tags.append_value([Some("a"), None]);
    tags.append_null();
    let mut attrs = MapBuilder::new(None, StringBuilder::new(), Int64Builder::new());
    attrs.keys().append_value("k");
    attrs.values().append_value(-3);
    attrs.append(true).unwrap();
    attrs.append(true).unwrap();
    let addr = StructArray::new(
        Fields::from(vec![
            Field::new("city", DataType::Utf8, false),
            Field::new("zip", DataType::Int32, true),
        ]),
        vec![
            Arc::new(StringArray::from(vec!["Oslo", ""])),
            Arc::new(Int32Array::from(vec![Some(150), None])),
        ],
        Some(NullBuffer::from(vec![true, false])),
    );
    let choice = UnionArray::try_new(
        UnionFields::try_new(
            [0, 1, 2],
            [
                Field::new("null", DataType::Null, true),
                Field::new("int", DataType::Int32, true),
                Field::new("string", DataType::Utf8, true),
            ],
        )
        .unwrap(),
        ScalarBuffer::from(vec![2i8, 1]),
        Some(ScalarBuffer::from(vec![0, 0])),
        vec![
            Arc::new(NullArray::new(0)),
            Arc::new(Int32Array::from(vec![9])),
            Arc::new(StringArray::from(vec!["s"])),
        ],
    )
    .unwrap();
    let columns: Vec<(&str, bool, ArrayRef)> = vec![
        ("b", false, Arc::new(BooleanArray::from(vec![true, false]))),
        ("i", true, Arc::new(Int32Array::from(vec![Some(-7), None]))),
        (
            "l",
            false,
            Arc::new(Int64Array::from(vec![i64::MAX, i64::MIN])),
        ),
        ("d", false, Arc::new(Float64Array::from(vec![0.1, -1e300]))),
        (
            "s",
            true,
            Arc::new(StringArray::from(vec![Some("héllo"), None])),
        ),
        (
            "by",
            false,
            Arc::new(BinaryArray::from(vec![&[0u8, 255][..], &[]])),
        ),
        (
            "ts",
            false,
            Arc::new(
                TimestampMillisecondArray::from(vec![1_700_000_000_123, -1]).with_timezone("UTC"),
            ),
        ),
        (
            "ts_us",
            false,
            Arc::new(
                TimestampMicrosecondArray::from(vec![1_700_000_000_123_456, 0])
                    .with_timezone("UTC"),
            ),
        ),
        (
            "local",
            false,
            Arc::new(TimestampMillisecondArray::from(vec![1_700_000_000_123, -1])),
        ),
        (
            "id",
            false,
            Arc::new(
                FixedSizeBinaryArray::try_from_iter([[0x12u8; 16], [0u8; 16]].into_iter()).unwrap(),
            ),
        ),
        (
            "fx",
            false,
            Arc::new(FixedSizeBinaryArray::try_from_iter([[1u8, 2], [3, 4]].into_iter()).unwrap()),
        ),
        (
            "t_us",
            false,
            Arc::new(Time64MicrosecondArray::from(vec![3_723_004_005, 1])),
        ),
        ("day", false, Arc::new(Date32Array::from(vec![19000, -1]))),
        (
            "t",
            false,
            Arc::new(Time32MillisecondArray::from(vec![3_723_004, 0])),
        ),
        (
            "px",
            true,
            Arc::new(
                Decimal128Array::from(vec![Some(-123_456), None])
                    .with_precision_and_scale(10, 2)
                    .unwrap(),
            ),
        ),
        ("tags", true, Arc::new(tags.finish())),
        ("attrs", false, Arc::new(attrs.finish())),
        ("addr", true, Arc::new(addr)),
        ("choice", false, Arc::new(choice)),
    ];
    let fields: Vec<Field> = columns
        .iter()
        .map(|(n, nullable, a)| {
            let f = Field::new(*n, a.data_type().clone(), *nullable);
            if *n == "id" {
                f.with_metadata(HashMap::from([(
                    "ARROW:extension:name".to_string(),
                    "arrow.uuid".to_string(),
                )]))
            } else {
                f
            }
        })
        .collect();
    let batch = RecordBatch::try_new(
        Arc::new(Schema::new(fields)),
        columns.into_iter().map(|(_, _, a)| a).collect(),
    )
    .unwrap();
    let ours = encode(
        json!({"schema_registry_url": registry.url(), "topic": "gen", "auto_register": true,
            "record_name": "com.acme.Generated"}),
        &batch,
    );
    let read = decode_with_python(
        &registry,
        &ours
            .into_iter()
            .map(|b| ("gen".to_string(), b))
            .collect::<Vec<_>>(),
    );
    assert_eq!(
        read,
        vec![
            json!({"b": true, "i": -7, "l": i64::MAX, "d": 0.1, "s": "héllo",
                "by": {"$bytes": "00ff"}, "ts": "2023-11-14T22:13:20.123000+00:00",
                "ts_us": "2023-11-14T22:13:20.123456+00:00", "day": "2022-01-08",
                "local": "2023-11-14T22:13:20.123000", "id": "12121212-1212-1212-1212-121212121212",
                "fx": {"$bytes": "0102"}, "t_us": "01:02:03.004005",
                "t": "01:02:03.004000", "px": {"$decimal": "-1234.56"},
                "tags": ["a", null], "attrs": {"k": -3},
                "addr": {"city": "Oslo", "zip": 150}, "choice": "s"}),
            json!({"b": false, "i": null, "l": i64::MIN, "d": -1e300, "s": null,
                "by": {"$bytes": ""}, "ts": "1969-12-31T23:59:59.999000+00:00",
                "ts_us": "1970-01-01T00:00:00+00:00", "day": "1969-12-31",
                "local": "1969-12-31T23:59:59.999000", "id": "00000000-0000-0000-0000-000000000000",
                "fx": {"$bytes": "0304"}, "t_us": "00:00:00.000001",
                "t": "00:00:00", "px": null, "tags": null, "attrs": {},
                "addr": null, "choice": 9}),
        ]
    );
}
