//! The encoder against the decoder and against apache-avro: batches go
//! through `AvroEncoder` and come back through `AvroDecoder` unchanged, and
//! bytes written from apache-avro `Value`s are written again identically.

use std::collections::HashMap;
use std::sync::Arc;

use apache_avro::types::Value as Avro;
use serde_json::{Value, json};
use topictable_codec_avro::{AvroCodec, AvroConfig, AvroEncoder};
use topictable_registry_server as server;
use topictable_schema_registry::{ClientConfig, RegistryClient, Schema};
use topictable_sdk::arrow_array::builder::{
    FixedSizeBinaryBuilder, Int64Builder, ListBuilder, MapBuilder, MapFieldNames, StringBuilder,
};
use topictable_sdk::arrow_array::types::*;
use topictable_sdk::arrow_array::{
    Array, ArrayRef, BinaryArray, BooleanArray, Date32Array, Date64Array, Decimal128Array,
    DictionaryArray, Float32Array, Float64Array, Int8Array, Int16Array, Int32Array, Int64Array,
    LargeBinaryArray, LargeStringArray, ListArray, NullArray, PrimitiveArray, RecordBatch,
    StringArray, StringViewArray, StructArray, Time32MillisecondArray, Time32SecondArray,
    Time64MicrosecondArray, TimestampMillisecondArray, TimestampSecondArray, UInt8Array,
    UInt16Array, UInt32Array, UInt64Array, UnionArray,
};
use topictable_sdk::arrow_buffer::{NullBuffer, OffsetBuffer, ScalarBuffer};
use topictable_sdk::arrow_schema::{
    DataType, Field, Fields, Schema as ArrowSchema, SchemaRef, UnionFields, UnionMode,
};
use topictable_sdk::{Codec, Decoded, Decoder, Encoded, Encoder, MessageBatchBuilder, Side};

fn validated(config: Value) -> serde_json::Map<String, Value> {
    AvroCodec.description().config.validate(&config).unwrap()
}

fn encoder(config: Value, schema: SchemaRef) -> AvroEncoder {
    AvroEncoder::new(
        &AvroConfig::from_map(&validated(config)).unwrap(),
        Side::Value,
        schema,
    )
    .unwrap()
}

fn encoder_error(config: Value, schema: SchemaRef) -> String {
    match AvroCodec.new_encoder(&validated(config), Side::Value, schema) {
        Ok(_) => panic!("the encoder was created"),
        Err(e) => e.to_string(),
    }
}

fn decoder(config: Value) -> Box<dyn Decoder> {
    AvroCodec
        .new_decoder(&validated(config), Side::Value)
        .unwrap()
}

fn datums(encoded: &Encoded) -> Vec<Option<Vec<u8>>> {
    (0..encoded.bytes.len())
        .map(|i| {
            encoded
                .bytes
                .is_valid(i)
                .then(|| encoded.bytes.value(i).to_vec())
        })
        .collect()
}

fn decode(d: &mut dyn Decoder, messages: &[Option<Vec<u8>>]) -> Decoded {
    let mut b = MessageBatchBuilder::default();
    for (i, m) in messages.iter().enumerate() {
        b.push("t", 0, i as i64, None, None, m.as_deref(), &[]);
    }
    d.decode(&b.finish().view()).unwrap()
}

fn nullable(name: &str, dt: DataType) -> Field {
    Field::new(name, dt, true)
}

fn batch(columns: Vec<(Field, ArrayRef)>) -> RecordBatch {
    let (fields, arrays): (Vec<Field>, Vec<ArrayRef>) = columns.into_iter().unzip();
    RecordBatch::try_new(Arc::new(ArrowSchema::new(fields)), arrays).unwrap()
}

fn col(name: &str, a: impl Array + 'static) -> (Field, ArrayRef) {
    (nullable(name, a.data_type().clone()), Arc::new(a))
}

fn uuid_field(name: &str) -> Field {
    nullable(name, DataType::FixedSizeBinary(16)).with_metadata(HashMap::from([(
        "ARROW:extension:name".to_string(),
        "arrow.uuid".to_string(),
    )]))
}

/// Every Arrow type the decoder produces, with nulls, nested, as it would
/// decode it (nullable top-level and struct fields).
fn every_type_batch() -> RecordBatch {
    let mut fx = FixedSizeBinaryBuilder::new(4);
    fx.append_value([0xde, 0xad, 0xbe, 0xef]).unwrap();
    fx.append_value([0, 0, 0, 0]).unwrap();
    fx.append_null();
    let mut id = FixedSizeBinaryBuilder::new(16);
    id.append_value(
        uuid::Uuid::parse_str("123e4567-e89b-12d3-a456-426614174000")
            .unwrap()
            .as_bytes(),
    )
    .unwrap();
    id.append_value([0u8; 16]).unwrap();
    id.append_null();
    let mut tags = ListBuilder::new(StringBuilder::new());
    tags.append_value([Some("a"), None]);
    tags.append_value(Vec::<Option<&str>>::new());
    tags.append_null();
    let mut scores = MapBuilder::new(
        Some(MapFieldNames {
            entry: "entries".into(),
            key: "key".into(),
            value: "value".into(),
        }),
        StringBuilder::new(),
        Int64Builder::new(),
    );
    scores.keys().append_value("x");
    scores.values().append_value(1);
    scores.keys().append_value("y");
    scores.values().append_null();
    scores.append(true).unwrap();
    scores.append(true).unwrap();
    scores.append(false).unwrap();
    let geo_fields = Fields::from(vec![nullable("lat", DataType::Float64)]);
    let geo = StructArray::new(
        geo_fields.clone(),
        vec![Arc::new(Float64Array::from(vec![Some(59.9), None, None]))],
        Some(NullBuffer::from(vec![true, false, false])),
    );
    let addr_fields = Fields::from(vec![
        nullable("city", DataType::Utf8),
        nullable("geo", DataType::Struct(geo_fields)),
    ]);
    let addr = StructArray::new(
        addr_fields,
        vec![
            Arc::new(StringArray::from(vec![Some("Oslo"), Some(""), None])),
            Arc::new(geo),
        ],
        Some(NullBuffer::from(vec![true, true, false])),
    );
    let person_fields = Fields::from(vec![
        nullable("n", DataType::Utf8),
        nullable("c", DataType::Int32),
    ]);
    let people_items = StructArray::new(
        person_fields.clone(),
        vec![
            Arc::new(StringArray::from(vec![Some("ann"), Some("bob"), None])),
            Arc::new(Int32Array::from(vec![Some(3), None, None])),
        ],
        Some(NullBuffer::from(vec![true, true, false])),
    );
    let people = ListArray::new(
        Arc::new(nullable("item", DataType::Struct(person_fields))),
        OffsetBuffer::new(ScalarBuffer::from(vec![0, 3, 3, 3])),
        Arc::new(people_items),
        Some(NullBuffer::from(vec![true, true, false])),
    );
    let union_fields = UnionFields::try_new(
        [0, 1, 2],
        [
            nullable("null", DataType::Null),
            nullable("int", DataType::Int32),
            nullable("string", DataType::Utf8),
        ],
    )
    .unwrap();
    let u = UnionArray::try_new(
        union_fields,
        ScalarBuffer::from(vec![1i8, 2, 0]),
        Some(ScalarBuffer::from(vec![0, 0, 0])),
        vec![
            Arc::new(NullArray::new(1)),
            Arc::new(Int32Array::from(vec![5])),
            Arc::new(StringArray::from(vec!["x"])),
        ],
    )
    .unwrap();
    batch(vec![
        col("b", BooleanArray::from(vec![Some(true), Some(false), None])),
        col("i", Int32Array::from(vec![Some(-7), Some(i32::MAX), None])),
        col(
            "l",
            Int64Array::from(vec![Some(i64::MIN), Some(9_007_199_254_740_993), None]),
        ),
        col(
            "f",
            Float32Array::from(vec![Some(1.5), Some(f32::MAX), None]),
        ),
        col(
            "d",
            Float64Array::from(vec![Some(-2.25), Some(1e300), None]),
        ),
        col("s", StringArray::from(vec![Some("héllo"), Some(""), None])),
        col(
            "by",
            BinaryArray::from(vec![Some(&[0u8, 255, 16][..]), Some(&[][..]), None]),
        ),
        col("fx", fx.finish()),
        (uuid_field("id"), Arc::new(id.finish())),
        col(
            "ts_ms",
            TimestampMillisecondArray::from(vec![Some(1_700_000_000_123), Some(-1), None])
                .with_timezone("UTC"),
        ),
        col(
            "ts_us",
            PrimitiveArray::<TimestampMicrosecondType>::from(vec![
                Some(1_700_000_000_123_456),
                Some(0),
                None,
            ])
            .with_timezone("UTC"),
        ),
        col(
            "ts_ns",
            PrimitiveArray::<TimestampNanosecondType>::from(vec![
                Some(1_700_000_000_123_456_789),
                Some(-5),
                None,
            ])
            .with_timezone("UTC"),
        ),
        col(
            "lts_ms",
            TimestampMillisecondArray::from(vec![Some(1_700_000_000_123), Some(-1), None]),
        ),
        col(
            "lts_us",
            PrimitiveArray::<TimestampMicrosecondType>::from(vec![Some(7), Some(-7), None]),
        ),
        col("day", Date32Array::from(vec![Some(19000), Some(-1), None])),
        col(
            "t_ms",
            Time32MillisecondArray::from(vec![Some(3_723_004), Some(0), None]),
        ),
        col(
            "t_us",
            Time64MicrosecondArray::from(vec![Some(3_723_004_005), Some(0), None]),
        ),
        col(
            "dec",
            Decimal128Array::from(vec![Some(-123_456), Some(9_999_999_999), None])
                .with_precision_and_scale(10, 2)
                .unwrap(),
        ),
        col("tags", tags.finish()),
        col("scores", scores.finish()),
        col("addr", addr),
        col("people", people),
        col("u", u),
    ])
}

/// Checks each datum is valid for apache-avro and reads to its end.
fn assert_apache_avro_reads(schema_text: &str, datums: &[Option<Vec<u8>>]) {
    let schema = apache_avro::Schema::parse_str(schema_text).unwrap();
    for (row, d) in datums.iter().enumerate() {
        let Some(d) = d else { continue };
        let mut rest = &d[..];
        apache_avro::from_avro_datum(&schema, &mut rest, None)
            .unwrap_or_else(|e| panic!("row {row}: apache-avro cannot read our datum: {e}"));
        assert!(rest.is_empty(), "row {row}: {} bytes left", rest.len());
    }
}

#[test]
fn generated_schema_round_trips_every_arrow_type() {
    let input = every_type_batch();
    let mut enc = encoder(json!({"protocol": "raw"}), input.schema());
    let out = enc.encode(&input).unwrap();
    assert!(out.errors.is_empty(), "{:?}", out.errors);
    let messages = datums(&out);
    assert!(messages.iter().all(Option::is_some));
    assert_apache_avro_reads(enc.schema_text(), &messages);
    let generated: Value = serde_json::from_str(enc.schema_text()).unwrap();
    assert_eq!(generated["name"], "topictable.Row");
    assert_eq!(
        generated["fields"][0],
        json!({"name": "b", "type": ["null", "boolean"], "default": null})
    );

    let mut d = decoder(json!({"protocol": "raw", "schema": enc.schema_text(),
        "nested": "struct", "unions": "union"}));
    let back = decode(d.as_mut(), &messages);
    assert!(back.errors.is_empty(), "{:?}", back.errors);
    assert_eq!(back.batch.schema(), input.schema());
    for (i, f) in input.schema().fields().iter().enumerate() {
        assert_eq!(
            back.batch.column(i).as_ref(),
            input.column(i).as_ref(),
            "column {}",
            f.name()
        );
    }
    assert_eq!(back.batch, input);

    // Slices of a batch (offsets not at zero) encode the same rows.
    let sliced = enc.encode(&input.slice(1, 2)).unwrap();
    assert_eq!(datums(&sliced), messages[1..].to_vec());
}

fn order_schema() -> Value {
    json!({"type": "record", "name": "Order", "namespace": "com.acme", "fields": [
        {"name": "id", "type": "long"},
        {"name": "side", "type": {"type": "enum", "name": "Side", "symbols": ["BUY", "SELL"]}},
        {"name": "px", "type": {"type": "bytes", "logicalType": "decimal", "precision": 9, "scale": 4}},
        {"name": "pxf", "type": {"type": "fixed", "name": "D8", "size": 8, "logicalType": "decimal", "precision": 12, "scale": 3}},
        {"name": "ref", "type": {"type": "string", "logicalType": "uuid"}},
        {"name": "ship", "type": {"type": "record", "name": "Addr", "fields": [
            {"name": "city", "type": "string"},
            {"name": "geo", "type": {"type": "record", "name": "Geo", "fields": [{"name": "lat", "type": "double"}]}}
        ]}},
        {"name": "bill", "type": ["null", "Addr"], "default": null},
        {"name": "legs", "type": {"type": "array", "items": {"type": "record", "name": "Leg", "fields": [
            {"name": "qty", "type": "int"},
            {"name": "venue", "type": ["null", "string"], "default": null}
        ]}}},
        {"name": "attrs", "type": {"type": "map", "values": ["null", "long"]}},
        {"name": "tag", "type": ["null", "string"], "default": null},
        {"name": "choice", "type": ["int", "string", "Side"]},
        {"name": "at", "type": {"type": "long", "logicalType": "timestamp-micros"}},
        {"name": "note", "type": "string", "default": "none"}
    ]})
}

fn rec(fields: Vec<(&str, Avro)>) -> Avro {
    Avro::Record(
        fields
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect(),
    )
}

fn addr(city: &str, lat: f64) -> Avro {
    rec(vec![
        ("city", Avro::String(city.into())),
        ("geo", rec(vec![("lat", Avro::Double(lat))])),
    ])
}

fn dec(bytes: &[u8]) -> Avro {
    Avro::Decimal(apache_avro::Decimal::from(bytes))
}

/// Orders written by apache-avro (an independent writer).
fn apache_avro_orders() -> Vec<Option<Vec<u8>>> {
    let schema = apache_avro::Schema::parse_str(&order_schema().to_string()).unwrap();
    let leg = |qty: i32, venue: Option<&str>| {
        rec(vec![
            ("qty", Avro::Int(qty)),
            (
                "venue",
                match venue {
                    Some(v) => Avro::Union(1, Box::new(Avro::String(v.into()))),
                    None => Avro::Union(0, Box::new(Avro::Null)),
                },
            ),
        ])
    };
    let rows = vec![
        rec(vec![
            ("id", Avro::Long(1)),
            ("side", Avro::Enum(1, "SELL".into())),
            // 12.3456 and 123456789.012, minimal two's complement.
            ("px", dec(&[0x01, 0xe2, 0x40])),
            ("pxf", dec(&[0, 0, 0, 0x1c, 0xbe, 0x99, 0x1a, 0x14])),
            (
                "ref",
                Avro::String("123e4567-e89b-12d3-a456-426614174000".into()),
            ),
            ("ship", addr("Oslo", 59.9)),
            ("bill", Avro::Union(1, Box::new(addr("Bergen", 60.4)))),
            (
                "legs",
                Avro::Array(vec![leg(5, Some("XOSL")), leg(-1, None)]),
            ),
            (
                "attrs",
                Avro::Map(HashMap::from([(
                    "k".to_string(),
                    Avro::Union(1, Box::new(Avro::Long(-3))),
                )])),
            ),
            ("tag", Avro::Union(1, Box::new(Avro::String("vip".into())))),
            ("choice", Avro::Union(0, Box::new(Avro::Int(42)))),
            ("at", Avro::TimestampMicros(1_700_000_000_123_456)),
            ("note", Avro::String("fast".into())),
        ]),
        rec(vec![
            ("id", Avro::Long(-2)),
            ("side", Avro::Enum(0, "BUY".into())),
            ("px", dec(&[0xff])),
            ("pxf", dec(&[0xff; 8])),
            (
                "ref",
                Avro::String("00000000-0000-0000-0000-000000000001".into()),
            ),
            ("ship", addr("", -0.5)),
            ("bill", Avro::Union(0, Box::new(Avro::Null))),
            ("legs", Avro::Array(vec![])),
            ("attrs", Avro::Map(HashMap::new())),
            ("tag", Avro::Union(0, Box::new(Avro::Null))),
            (
                "choice",
                Avro::Union(1, Box::new(Avro::String("two".into()))),
            ),
            ("at", Avro::TimestampMicros(-1)),
            ("note", Avro::String("".into())),
        ]),
        rec(vec![
            ("id", Avro::Long(i64::MAX)),
            ("side", Avro::Enum(1, "SELL".into())),
            ("px", dec(&[0x00])),
            ("pxf", dec(&[0, 0, 0, 0, 0, 0, 0, 0])),
            (
                "ref",
                Avro::String("ffffffff-ffff-ffff-ffff-ffffffffffff".into()),
            ),
            ("ship", addr("Rome", 41.9)),
            ("bill", Avro::Union(1, Box::new(addr("Paris", 48.8)))),
            ("legs", Avro::Array(vec![leg(7, None)])),
            (
                "attrs",
                Avro::Map(HashMap::from([(
                    "n".to_string(),
                    Avro::Union(0, Box::new(Avro::Null)),
                )])),
            ),
            ("tag", Avro::Union(1, Box::new(Avro::String("".into())))),
            (
                "choice",
                Avro::Union(2, Box::new(Avro::Enum(0, "BUY".into()))),
            ),
            ("at", Avro::TimestampMicros(0)),
            ("note", Avro::String("x".into())),
        ]),
    ];
    rows.into_iter()
        .map(|r| Some(apache_avro::to_avro_datum(&schema, r).unwrap()))
        .collect()
}

#[test]
fn given_schema_writes_what_apache_avro_writes_flattened_or_as_structs() {
    let reference = apache_avro_orders();
    for nested in ["flatten", "struct"] {
        // Flattened fields are mapped by their flattened names.
        let mapping = match nested {
            "flatten" => json!({"ship__city": "ShipCity", "id": "OrderId"}),
            _ => json!({"id": "OrderId"}),
        };
        let config = json!({"protocol": "raw", "schema": order_schema().to_string(),
            "nested": nested, "unions": "union", "mapping": mapping});
        let decoded = decode(decoder(config.clone()).as_mut(), &reference);
        assert!(decoded.errors.is_empty(), "{:?}", decoded.errors);
        let names: Vec<String> = decoded
            .batch
            .schema()
            .fields()
            .iter()
            .map(|f| f.name().clone())
            .collect();
        if nested == "flatten" {
            assert!(
                names.contains(&"ShipCity".to_string())
                    && names.contains(&"ship__geo__lat".to_string())
                    && names.contains(&"bill__city".to_string())
                    && names.contains(&"OrderId".to_string()),
                "{names:?}"
            );
        }
        let mut enc = encoder(config.clone(), decoded.batch.schema());
        let out = enc.encode(&decoded.batch).unwrap();
        assert!(out.errors.is_empty(), "{nested}: {:?}", out.errors);
        assert_eq!(
            datums(&out),
            reference,
            "{nested}: same bytes as apache-avro"
        );
        let again = decode(decoder(config).as_mut(), &datums(&out));
        assert_eq!(again.batch, decoded.batch, "{nested}");

        // Columns may come in any order, and extra columns are not written.
        let schema = decoded.batch.schema();
        let mut order: Vec<usize> = (0..schema.fields().len()).rev().collect();
        let mut columns: Vec<(Field, ArrayRef)> = order
            .iter()
            .map(|&i| (schema.field(i).clone(), decoded.batch.column(i).clone()))
            .collect();
        columns.push(col("unrelated", Int32Array::from(vec![1, 2, 3])));
        let shuffled = batch(columns);
        let mut enc = encoder(
            json!({"protocol": "raw", "schema": order_schema().to_string(), "mapping": mapping}),
            shuffled.schema(),
        );
        let out = enc.encode(&shuffled).unwrap();
        assert_eq!(datums(&out), reference, "{nested}: shuffled columns");

        // Without `note` and `tag` columns, their defaults are written.
        order.retain(|&i| !["note", "tag"].contains(&schema.field(i).name().as_str()));
        let projected = decoded.batch.project(&order).unwrap();
        let mut enc = encoder(
            json!({"protocol": "raw", "schema": order_schema().to_string(), "mapping": mapping}),
            projected.schema(),
        );
        let out = enc.encode(&projected).unwrap();
        let back = decode(
            decoder(
                json!({"protocol": "raw", "schema": order_schema().to_string(), "unions": "union"}),
            )
            .as_mut(),
            &datums(&out),
        );
        assert!(back.errors.is_empty(), "{:?}", back.errors);
        let note = back.batch.column_by_name("note").unwrap();
        let note = note.as_any().downcast_ref::<StringArray>().unwrap();
        assert_eq!(note.iter().collect::<Vec<_>>(), vec![Some("none"); 3]);
        assert_eq!(back.batch.column_by_name("tag").unwrap().null_count(), 3);
    }
}

#[test]
fn narrower_and_other_arrow_types_are_converted() {
    let dict: DictionaryArray<Int8Type> = vec!["b", "a", "b"].into_iter().collect();
    let input = batch(vec![
        col("i8", Int8Array::from(vec![-128, 127, 0])),
        col("i16", Int16Array::from(vec![-300, 300, 0])),
        col("u8", UInt8Array::from(vec![255, 0, 1])),
        col("u16", UInt16Array::from(vec![65535, 0, 1])),
        col("u32", UInt32Array::from(vec![u32::MAX, 0, 1])),
        col("u64", UInt64Array::from(vec![5, 0, i64::MAX as u64])),
        col("ls", LargeStringArray::from(vec!["x", "", "yy"])),
        col(
            "sv",
            StringViewArray::from(vec!["a long string over twelve bytes", "", "s"]),
        ),
        col("dict", dict),
        col("lb", LargeBinaryArray::from(vec![&[1u8][..], &[], &[2, 3]])),
        col("d64", Date64Array::from(vec![3 * 86_400_000 + 5, -1, 0])),
        col("t_s", Time32SecondArray::from(vec![3723, 0, 86399])),
        col(
            "ts_s",
            TimestampSecondArray::from(vec![1_700_000_000, -1, 0]).with_timezone("+02:00"),
        ),
    ]);
    let mut enc = encoder(json!({"protocol": "raw"}), input.schema());
    let out = enc.encode(&input).unwrap();
    assert!(out.errors.is_empty(), "{:?}", out.errors);
    let back = decode(
        decoder(json!({"protocol": "raw", "schema": enc.schema_text()})).as_mut(),
        &datums(&out),
    );
    assert!(back.errors.is_empty(), "{:?}", back.errors);
    let expected = batch(vec![
        col("i8", Int32Array::from(vec![-128, 127, 0])),
        col("i16", Int32Array::from(vec![-300, 300, 0])),
        col("u8", Int32Array::from(vec![255, 0, 1])),
        col("u16", Int32Array::from(vec![65535, 0, 1])),
        col("u32", Int64Array::from(vec![u32::MAX as i64, 0, 1])),
        col("u64", Int64Array::from(vec![5, 0, i64::MAX])),
        col("ls", StringArray::from(vec!["x", "", "yy"])),
        col(
            "sv",
            StringArray::from(vec!["a long string over twelve bytes", "", "s"]),
        ),
        col("dict", StringArray::from(vec!["b", "a", "b"])),
        col("lb", BinaryArray::from(vec![&[1u8][..], &[], &[2, 3]])),
        // Days, rounded down.
        col("d64", Date32Array::from(vec![3, -1, 0])),
        col(
            "t_s",
            Time32MillisecondArray::from(vec![3_723_000, 0, 86_399_000]),
        ),
        col(
            "ts_s",
            TimestampMillisecondArray::from(vec![1_700_000_000_000, -1000, 0]).with_timezone("UTC"),
        ),
    ]);
    assert_eq!(back.batch, expected);
}

/// A schema whose every field can fail.
fn strict_schema() -> Value {
    json!({"type": "record", "name": "Strict", "fields": [
        {"name": "qty", "type": "long"},
        {"name": "small", "type": "int"},
        {"name": "side", "type": {"type": "enum", "name": "Side", "symbols": ["BUY", "SELL"]}},
        {"name": "px", "type": {"type": "bytes", "logicalType": "decimal", "precision": 4, "scale": 2}},
        {"name": "ship", "type": {"type": "record", "name": "Addr", "fields": [{"name": "city", "type": "string"}]}},
        {"name": "tags", "type": {"type": "array", "items": "string"}},
        {"name": "ref", "type": {"type": "string", "logicalType": "uuid"}},
        {"name": "at", "type": {"type": "long", "logicalType": "timestamp-millis"}}
    ]})
}

#[test]
fn rows_that_cannot_be_written_are_row_errors_naming_the_field() {
    let mut tags = ListBuilder::new(StringBuilder::new());
    for row in 0..7 {
        if row == 6 {
            tags.append_value([Some("ok"), None]);
        } else {
            tags.append_value([Some("t")]);
        }
    }
    let ok_ref = "123e4567-e89b-12d3-a456-426614174000";
    let input = batch(vec![
        col(
            "qty",
            Int64Array::from(vec![
                Some(1),
                None,
                Some(3),
                Some(4),
                Some(5),
                Some(6),
                Some(7),
            ]),
        ),
        col("small", Int64Array::from(vec![1, 2, 3, 4, 5, 1 << 40, 7])),
        col(
            "side",
            StringArray::from(vec!["BUY", "SELL", "HOLD", "BUY", "BUY", "BUY", "BUY"]),
        ),
        col(
            "px",
            Decimal128Array::from(vec![1234, 1, 1, 12345, 1, 1, 1])
                .with_precision_and_scale(10, 2)
                .unwrap(),
        ),
        col(
            "ship__city",
            StringArray::from(vec![
                Some("Oslo"),
                Some("a"),
                Some("a"),
                Some("a"),
                None,
                Some("a"),
                Some("a"),
            ]),
        ),
        col("tags", tags.finish()),
        col(
            "ref",
            StringArray::from(vec![ok_ref, ok_ref, ok_ref, ok_ref, ok_ref, ok_ref, "nope"]),
        ),
        // Nanoseconds into timestamp-millis: rounded down, -1 ns is -1 ms.
        col(
            "at",
            PrimitiveArray::<TimestampNanosecondType>::from(vec![-1, 0, 0, 0, 0, 0, 0])
                .with_timezone("UTC"),
        ),
    ]);
    let mut enc = encoder(
        json!({"protocol": "raw", "schema": strict_schema().to_string()}),
        input.schema(),
    );
    let out = enc.encode(&input).unwrap();
    let errors: Vec<(usize, &str)> = out
        .errors
        .iter()
        .map(|e| (e.row, e.message.as_str()))
        .collect();
    assert_eq!(
        errors,
        vec![
            (1, "field `qty`: null, but its type long is not nullable"),
            (2, "field `side`: `HOLD` is not a symbol of enum Side"),
            (3, "field `px`: 123.45 does not fit decimal(4, 2)"),
            (
                4,
                "field `ship.city`: null, but its type string is not nullable"
            ),
            (5, "field `small`: 1099511627776 does not fit Avro int"),
            (
                6,
                "field `tags[]`: null, but its type string is not nullable"
            ),
        ],
    );
    // Failed rows have no bytes; the others are whole datums.
    let messages = datums(&out);
    assert_eq!(
        messages.iter().map(Option::is_some).collect::<Vec<_>>(),
        vec![true, false, false, false, false, false, false]
    );
    let back = decode(
        decoder(json!({"protocol": "raw", "schema": strict_schema().to_string()})).as_mut(),
        &messages[..1],
    );
    assert!(back.errors.is_empty(), "{:?}", back.errors);
    let at = back.batch.column_by_name("at").unwrap();
    assert_eq!(
        at.as_any()
            .downcast_ref::<TimestampMillisecondArray>()
            .unwrap()
            .value(0),
        -1
    );

    // Row 6 again with a valid list: the UUID text is checked.
    let fixed = input.slice(6, 1);
    let mut tags = ListBuilder::new(StringBuilder::new());
    tags.append_value([Some("ok")]);
    let mut columns: Vec<ArrayRef> = fixed.columns().to_vec();
    columns[5] = Arc::new(tags.finish());
    let fixed = RecordBatch::try_new(fixed.schema(), columns).unwrap();
    let out = enc.encode(&fixed).unwrap();
    assert_eq!(out.errors[0].message, "field `ref`: `nope` is not a UUID");

    // What can never work is a config error when the encoder is created.
    let schema = input.schema();
    let e = encoder_error(
        json!({"protocol": "raw", "schema": r#"{"type":"record","name":"R","fields":[{"name":"qty","type":"boolean"}]}"#}),
        schema.clone(),
    );
    assert_eq!(
        e,
        "invalid config: schema: field `qty`: a Int64 column cannot be written as Avro boolean"
    );
    let e = encoder_error(
        json!({"protocol": "raw", "schema": r#"{"type":"record","name":"R","fields":[{"name":"missing","type":"long"}]}"#}),
        schema.clone(),
    );
    assert!(
        e.starts_with("invalid config: schema: field `missing` (long) has no column `missing` and no default, and is not nullable (columns: qty, small,"),
        "{e}"
    );
    let e = encoder_error(
        json!({"protocol": "raw", "schema": strict_schema().to_string(), "mapping": {"nope": "qty"}}),
        schema,
    );
    assert!(
        e.contains("mapping names field `nope`, which the schema does not have"),
        "{e}"
    );
}

#[test]
fn a_bare_value_and_null_cells_without_bytes() {
    let input = batch(vec![
        col("sym", StringArray::from(vec![Some("AAPL"), None])),
        col("px", Float64Array::from(vec![1.0, 2.0])),
    ]);
    // A generated bare schema from a nullable column is ["null", "string"].
    let mut enc = encoder(json!({"protocol": "raw", "column": "sym"}), input.schema());
    assert_eq!(enc.schema_text(), r#"["null","string"]"#);
    let out = enc.encode(&input).unwrap();
    assert_eq!(
        datums(&out),
        vec![Some(vec![2, 8, b'A', b'A', b'P', b'L']), Some(vec![0])]
    );
    // A given non-nullable type: the null cell has no bytes (a null key, a tombstone).
    let mut enc = encoder(
        json!({"protocol": "raw", "schema": "\"string\"", "column": "sym"}),
        input.schema(),
    );
    let out = enc.encode(&input).unwrap();
    assert!(out.errors.is_empty());
    assert_eq!(
        datums(&out),
        vec![Some(vec![8, b'A', b'A', b'P', b'L']), None]
    );
    let back = decode(
        decoder(json!({"protocol": "raw", "schema": "\"string\"", "column": "sym"})).as_mut(),
        &datums(&out),
    );
    assert_eq!(back.batch, input.project(&[0]).unwrap());
    let e = encoder_error(
        json!({"protocol": "raw", "schema": "\"string\""}),
        input.schema(),
    );
    assert!(
        e.contains(
            "it is written from column `KafkaValue` (set `column`), which the table does not have"
        ),
        "{e}"
    );
}

fn client(url: &str) -> RegistryClient {
    RegistryClient::new(ClientConfig::new(url)).unwrap()
}

#[test]
fn confluent_framing_with_auto_register_lookup_and_registry_schemas() {
    let registry = server::spawn("127.0.0.1:0").unwrap();
    let url = registry.url();
    let input = every_type_batch();
    // Auto-registered generated schema under TopicNameStrategy.
    let mut enc = encoder(
        json!({"schema_registry_url": url, "topic": "orders", "auto_register": true}),
        input.schema(),
    );
    let id = enc.schema_id().unwrap();
    let (sv, _) = client(&url)
        .subject_version("orders-value", topictable_schema_registry::Version::Latest)
        .unwrap();
    assert_eq!(sv.id, id);
    assert_eq!(
        serde_json::from_str::<Value>(&sv.schema).unwrap(),
        serde_json::from_str::<Value>(enc.schema_text()).unwrap()
    );
    let out = enc.encode(&input).unwrap();
    let messages = datums(&out);
    for m in &messages {
        let m = m.as_ref().unwrap();
        assert_eq!(m[0], 0, "magic byte");
        assert_eq!(u32::from_be_bytes([m[1], m[2], m[3], m[4]]), id);
    }
    let back = decode(
        decoder(json!({"schema_registry_url": url, "topic": "orders", "nested": "struct", "unions": "union"}))
            .as_mut(),
        &messages,
    );
    assert!(back.errors.is_empty(), "{:?}", back.errors);
    assert_eq!(back.batch, input);

    // Registering again gives the same id; the registered schema is found
    // without auto_register, given or from the registry.
    let again = encoder(
        json!({"schema_registry_url": url, "topic": "orders", "auto_register": true}),
        input.schema(),
    );
    assert_eq!(again.schema_id(), Some(id));
    let given = encoder(
        json!({"schema_registry_url": url, "topic": "orders", "schema": enc.schema_text()}),
        input.schema(),
    );
    assert_eq!(given.schema_id(), Some(id));
    let mut from_registry = encoder(
        json!({"schema_registry_url": url, "schema_subject": "orders-value"}),
        input.schema(),
    );
    assert_eq!(from_registry.schema_id(), Some(id));
    assert_eq!(datums(&from_registry.encode(&input).unwrap()), messages);

    // Not registered, and auto_register off: clear config errors.
    let e = encoder_error(
        json!({"schema_registry_url": url, "topic": "unknown"}),
        input.schema(),
    );
    assert!(
        e.starts_with(
            "invalid config: no schema given, and none found under subject unknown-value version latest: schema registry GET /subjects/unknown-value/versions/latest: HTTP 404, error 40401"
        ) && e.ends_with(
            "; give `schema`, or set `auto_register = true` to register one generated from the table"
        ),
        "{e}"
    );
    let other = enc.schema_text().replace("topictable.Row", "other.Row");
    let e = encoder_error(
        json!({"schema_registry_url": url, "topic": "orders", "schema": other}),
        input.schema(),
    );
    assert!(
        e.contains("the schema is not registered under subject orders-value")
            && e.contains("register it, or set `auto_register = true`"),
        "{e}"
    );
    let e = encoder_error(
        json!({"schema_registry_url": url, "auto_register": true}),
        input.schema(),
    );
    assert!(e.contains("give `schema_subject`, or `topic`"), "{e}");

    // RecordNameStrategy: the subject is the record's full name.
    let keyed = batch(vec![col("id", Int64Array::from(vec![1]))]);
    let enc = AvroEncoder::new(
        &AvroConfig::from_map(&validated(json!({"schema_registry_url": url,
            "subject_strategy": "record_name", "record_name": "com.acme.OrderKey",
            "auto_register": true})))
        .unwrap(),
        Side::Key,
        keyed.schema(),
    )
    .unwrap();
    let (sv, _) = client(&url)
        .subject_version(
            "com.acme.OrderKey",
            topictable_schema_registry::Version::Latest,
        )
        .unwrap();
    assert_eq!(Some(sv.id), enc.schema_id());
}

fn framed(id: u32, datum: Vec<u8>) -> Option<Vec<u8>> {
    let mut out = vec![0];
    out.extend_from_slice(&id.to_be_bytes());
    out.extend(datum);
    Some(out)
}

#[test]
fn unions_resolve_across_writer_and_reader_schemas() {
    let registry = server::spawn("127.0.0.1:0").unwrap();
    let url = registry.url();
    let c = client(&url);
    let record =
        |ty: Value| json!({"type": "record", "name": "R", "fields": [{"name": "v", "type": ty}]});
    let reader = record(json!(["null", "long", "string"]));
    let writers = [
        reader.clone(),
        record(json!("int")),
        record(json!(["string", "int"])),
        record(json!("boolean")),
    ];
    let ids: Vec<u32> = writers
        .iter()
        .enumerate()
        .map(|(i, w)| {
            c.register(&format!("w{i}"), &Schema::avro(w.to_string()))
                .unwrap()
        })
        .collect();
    let datum = |w: usize, v: Avro| {
        let schema = apache_avro::Schema::parse_str(&writers[w].to_string()).unwrap();
        framed(
            ids[w],
            apache_avro::to_avro_datum(&schema, rec(vec![("v", v)])).unwrap(),
        )
    };
    let messages = vec![
        datum(0, Avro::Union(0, Box::new(Avro::Null))),
        datum(0, Avro::Union(1, Box::new(Avro::Long(5)))),
        datum(0, Avro::Union(2, Box::new(Avro::String("x".into())))),
        datum(1, Avro::Int(7)),
        datum(2, Avro::Union(0, Box::new(Avro::String("y".into())))),
        datum(2, Avro::Union(1, Box::new(Avro::Int(8)))),
        datum(3, Avro::Boolean(true)),
    ];
    let mut d = decoder(
        json!({"schema_registry_url": url, "schema": reader.to_string(), "unions": "union"}),
    );
    let out = decode(d.as_mut(), &messages);
    assert_eq!(out.errors.len(), 1);
    assert_eq!(out.errors[0].row, 6);
    assert_eq!(
        out.errors[0].message,
        format!(
            "schema id {}: writer schema cannot be resolved against the reader schema: field `v`: writer type boolean cannot be read as reader type [null, long, string]",
            ids[3]
        )
    );
    let fields = UnionFields::try_new(
        [0, 1, 2],
        [
            nullable("null", DataType::Null),
            nullable("long", DataType::Int64),
            nullable("string", DataType::Utf8),
        ],
    )
    .unwrap();
    // The failed row is a null (in the null branch).
    let expected = UnionArray::try_new(
        fields.clone(),
        ScalarBuffer::from(vec![0i8, 1, 2, 1, 2, 1, 0]),
        Some(ScalarBuffer::from(vec![0, 0, 0, 1, 1, 2, 1])),
        vec![
            Arc::new(NullArray::new(2)),
            Arc::new(Int64Array::from(vec![5, 7, 8])),
            Arc::new(StringArray::from(vec!["x", "y"])),
        ],
    )
    .unwrap();
    assert_eq!(
        out.batch.schema().field(0),
        &nullable("v", DataType::Union(fields, UnionMode::Dense))
    );
    assert_eq!(out.batch.column(0).to_data(), expected.to_data());

    // The union column encodes back to the reader schema, nulls included.
    let ok = out.batch.slice(0, 6);
    let mut enc = encoder(
        json!({"protocol": "raw", "schema": reader.to_string()}),
        ok.schema(),
    );
    let bytes = enc.encode(&ok).unwrap();
    assert!(bytes.errors.is_empty(), "{:?}", bytes.errors);
    let back = decode(
        decoder(json!({"protocol": "raw", "schema": reader.to_string(), "unions": "union"}))
            .as_mut(),
        &datums(&bytes),
    );
    assert_eq!(back.batch, ok);

    // Without `unions = "union"`, such a union is a config error naming the field.
    let e = match AvroCodec.new_decoder(
        &validated(json!({"protocol": "raw", "schema": reader.to_string()})),
        Side::Value,
    ) {
        Err(e) => e.to_string(),
        Ok(_) => panic!("decoder created"),
    };
    assert_eq!(
        e,
        "invalid config: reader schema: field `v`: union [null, long, string] is not supported: only [\"null\", T] unions become columns unless `unions = \"union\"` (an Arrow dense union column)"
    );
}

#[test]
fn union_values_from_plain_columns_pick_their_branch() {
    // An Int32 column into ["null", "long", "int"] picks "int" (its own type), a
    // string column into the same union fails when the encoder is created.
    let schema = json!({"type": "record", "name": "R", "fields": [
        {"name": "n", "type": ["null", "long", "int"]},
        {"name": "s", "type": ["int", "string"]}
    ]});
    let input = batch(vec![
        col("n", Int32Array::from(vec![Some(3), None])),
        col("s", StringArray::from(vec!["a", "b"])),
    ]);
    let mut enc = encoder(
        json!({"protocol": "raw", "schema": schema.to_string()}),
        input.schema(),
    );
    let out = enc.encode(&input).unwrap();
    // Branch 2 (int) 3, branch 1 (string) "a"; then null, "b".
    assert_eq!(
        datums(&out),
        vec![Some(vec![4, 6, 2, 2, b'a']), Some(vec![0, 2, 2, b'b'])]
    );
    let bad = batch(vec![
        col("n", StringArray::from(vec!["x"])),
        col("s", StringArray::from(vec!["a"])),
    ]);
    let e = encoder_error(
        json!({"protocol": "raw", "schema": schema.to_string()}),
        bad.schema(),
    );
    assert!(
        e.contains("field `n`: a Utf8 column fits no branch of union [null, long, int]"),
        "{e}"
    );
}

#[test]
fn dictionary_columns_into_enums_and_strings() {
    let schema = json!({"type": "record", "name": "R", "fields": [
        {"name": "side", "type": {"type": "enum", "name": "Side", "symbols": ["BUY", "SELL"]}},
        {"name": "venue", "type": "string"}
    ]});
    let side: DictionaryArray<Int32Type> = vec![Some("SELL"), Some("BUY"), Some("SHORT")]
        .into_iter()
        .collect();
    let venue: DictionaryArray<UInt16Type> = vec!["XNAS", "XNAS", "XLON"].into_iter().collect();
    let input = batch(vec![col("side", side), col("venue", venue)]);
    let mut enc = encoder(
        json!({"protocol": "raw", "schema": schema.to_string()}),
        input.schema(),
    );
    let out = enc.encode(&input).unwrap();
    assert_eq!(out.errors.len(), 1);
    assert_eq!(
        (out.errors[0].row, out.errors[0].message.as_str()),
        (2, "field `side`: `SHORT` is not a symbol of enum Side")
    );
    let back = decode(
        decoder(json!({"protocol": "raw", "schema": schema.to_string()})).as_mut(),
        &datums(&out)[..2],
    );
    let side = back.batch.column(0);
    let side = side
        .as_any()
        .downcast_ref::<DictionaryArray<Int32Type>>()
        .unwrap();
    let side: Vec<&str> = side
        .downcast_dict::<StringArray>()
        .unwrap()
        .into_iter()
        .map(|s| s.unwrap())
        .collect();
    assert_eq!(side, vec!["SELL", "BUY"]);
}
