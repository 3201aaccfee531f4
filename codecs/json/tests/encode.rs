//! The `json` encoder called directly: shapes of the output, config errors,
//! and round trips through the decoder.

mod common;

use std::sync::Arc;

use proptest::prelude::*;
use serde_json::{Value, json};
use topictable_codec_json::{JsonCodec, JsonType};
use topictable_sdk::arrow_array::builder::{
    BooleanBuilder, Float32Builder, Float64Builder, Int32Builder, Int64Builder, StringBuilder,
    TimestampMillisecondBuilder,
};
use topictable_sdk::arrow_array::{Array, ArrayRef, BinaryArray, RecordBatch, cast::AsArray};
use topictable_sdk::arrow_schema::{DataType, Field, Schema, SchemaRef};
use topictable_sdk::{Codec, Encoded, Encoder, MessageBatchBuilder, Side};

fn encoder(config: Value, schema: SchemaRef) -> Box<dyn Encoder> {
    let config = JsonCodec.description().config.validate(&config).unwrap();
    JsonCodec.new_encoder(&config, Side::Value, schema).unwrap()
}

fn encoder_error(config: Value, schema: SchemaRef) -> String {
    let config = JsonCodec.description().config.validate(&config).unwrap();
    match JsonCodec.new_encoder(&config, Side::Value, schema) {
        Ok(_) => panic!("config was accepted"),
        Err(e) => e.to_string(),
    }
}

fn texts(bytes: &BinaryArray) -> Vec<Option<String>> {
    bytes
        .iter()
        .map(|b| b.map(|b| String::from_utf8(b.to_vec()).unwrap()))
        .collect()
}

/// A batch of the decoder's column types with a null in every column of row 1.
fn sample() -> RecordBatch {
    let defs = [
        ("Symbol", JsonType::String),
        ("Live", JsonType::Bool),
        ("Qty", JsonType::Int32),
        ("Id", JsonType::Int64),
        ("Ratio", JsonType::Float32),
        ("Price", JsonType::Float64),
        ("Time", JsonType::Timestamp),
        ("Extra", JsonType::Json),
    ];
    let schema = Arc::new(Schema::new(
        defs.iter().map(|(n, t)| t.field(n)).collect::<Vec<_>>(),
    ));
    let columns: Vec<ArrayRef> = vec![
        Arc::new(StringBuilder::new().tap(|b| {
            b.append_value("A\"B\n");
            b.append_null();
        })),
        Arc::new(BooleanBuilder::new().tap(|b| {
            b.append_value(true);
            b.append_null();
        })),
        Arc::new(Int32Builder::new().tap(|b| {
            b.append_value(-5);
            b.append_null();
        })),
        Arc::new(Int64Builder::new().tap(|b| {
            b.append_value(9_007_199_254_740_993);
            b.append_null();
        })),
        Arc::new(Float32Builder::new().tap(|b| {
            b.append_value(0.1);
            b.append_null();
        })),
        Arc::new(Float64Builder::new().tap(|b| {
            b.append_value(135.25);
            b.append_null();
        })),
        Arc::new(
            TimestampMillisecondBuilder::new()
                .tap(|b| {
                    b.append_value(1_763_892_000_123);
                    b.append_null();
                })
                .with_timezone("UTC"),
        ),
        Arc::new(StringBuilder::new().tap(|b| {
            b.append_value(r#"{"a": [1, 2]}"#);
            b.append_null();
        })),
    ];
    RecordBatch::try_new(schema, columns).unwrap()
}

/// Builds with `f` and finishes; keeps the sample batch readable.
trait Tap: Sized {
    type Out;
    fn tap(self, f: impl FnOnce(&mut Self)) -> Self::Out;
}
macro_rules! tap {
    ($($b:ty => $a:ty),*) => {$(
        impl Tap for $b {
            type Out = $a;
            fn tap(mut self, f: impl FnOnce(&mut Self)) -> $a {
                f(&mut self);
                self.finish()
            }
        }
    )*};
}
tap!(
    StringBuilder => topictable_sdk::arrow_array::StringArray,
    BooleanBuilder => topictable_sdk::arrow_array::BooleanArray,
    Int32Builder => topictable_sdk::arrow_array::Int32Array,
    Int64Builder => topictable_sdk::arrow_array::Int64Array,
    Float32Builder => topictable_sdk::arrow_array::Float32Array,
    Float64Builder => topictable_sdk::arrow_array::Float64Array,
    TimestampMillisecondBuilder => topictable_sdk::arrow_array::TimestampMillisecondArray
);

fn encode(config: Value, batch: &RecordBatch) -> Encoded {
    encoder(config, batch.schema()).encode(batch).unwrap()
}

#[test]
fn writes_every_type_and_omits_nulls_by_default() {
    let out = encode(json!({}), &sample());
    assert!(out.errors.is_empty());
    assert_eq!(
        texts(&out.bytes),
        vec![
            Some(
                r#"{"Symbol":"A\"B\n","Live":true,"Qty":-5,"Id":9007199254740993,"Ratio":0.1,"Price":135.25,"Time":"2025-11-23T10:00:00.123Z","Extra":{"a": [1, 2]}}"#
                    .to_string()
            ),
            Some("{}".to_string()),
        ]
    );
}

#[test]
fn output_nulls_include_exclude_and_mapping() {
    let out = encode(
        json!({"output_nulls": true, "include": ["Symbol", "Qty", "Price"], "exclude": ["Price"], "mapping": {"Symbol": "sym"}}),
        &sample(),
    );
    assert_eq!(
        texts(&out.bytes),
        vec![
            Some(r#"{"sym":"A\"B\n","Qty":-5}"#.to_string()),
            Some(r#"{"sym":null,"Qty":null}"#.to_string()),
        ]
    );
}

#[test]
fn nested_delimiter_and_pointer_mapping_make_objects() {
    let schema = Arc::new(Schema::new(vec![
        Field::new("order.price", DataType::Float64, true),
        Field::new("order.qty", DataType::Int64, true),
        Field::new("sym", DataType::Utf8, true),
        Field::new("Side", DataType::Utf8, true),
    ]));
    let batch = RecordBatch::try_new(
        schema,
        vec![
            Arc::new(topictable_sdk::arrow_array::Float64Array::from(vec![
                Some(1.5),
                None,
            ])),
            Arc::new(topictable_sdk::arrow_array::Int64Array::from(vec![
                Some(3),
                None,
            ])),
            Arc::new(topictable_sdk::arrow_array::StringArray::from(vec![
                Some("X"),
                Some("Y"),
            ])),
            Arc::new(topictable_sdk::arrow_array::StringArray::from(vec![
                Some("buy"),
                None,
            ])),
        ],
    )
    .unwrap();
    let config = json!({"nested_delimiter": ".", "mapping": {"Side": "/meta/side"}});
    assert_eq!(
        texts(&encode(config.clone(), &batch).bytes),
        vec![
            Some(r#"{"order":{"price":1.5,"qty":3},"sym":"X","meta":{"side":"buy"}}"#.to_string()),
            Some(r#"{"sym":"Y"}"#.to_string()),
        ]
    );
    let mut with_nulls = config;
    with_nulls["output_nulls"] = json!(true);
    assert_eq!(
        texts(&encode(with_nulls, &batch).bytes)[1],
        Some(r#"{"order":{"price":null,"qty":null},"sym":"Y","meta":{"side":null}}"#.to_string())
    );
}

#[test]
fn timestamp_field_is_the_publish_time_in_millis() {
    let before = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    let out = encode(
        json!({"include": ["Qty"], "timestamp_field": "published"}),
        &sample(),
    );
    let after = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    for text in texts(&out.bytes) {
        let v: Value = serde_json::from_str(&text.unwrap()).unwrap();
        let t = v["published"].as_i64().unwrap();
        assert!(
            (before..=after).contains(&t),
            "{t} not in {before}..={after}"
        );
    }
}

#[test]
fn unwritable_values_are_row_errors() {
    let schema = Arc::new(Schema::new(vec![
        Field::new("x", DataType::Float64, true),
        JsonType::Json.field("j"),
    ]));
    let batch = RecordBatch::try_new(
        schema,
        vec![
            Arc::new(topictable_sdk::arrow_array::Float64Array::from(vec![
                f64::NAN,
                1.0,
                2.0,
            ])),
            Arc::new(topictable_sdk::arrow_array::StringArray::from(vec![
                "1", "{bad", "[]",
            ])),
        ],
    )
    .unwrap();
    let out = encode(json!({}), &batch);
    assert_eq!(
        texts(&out.bytes),
        vec![None, None, Some(r#"{"x":2.0,"j":[]}"#.to_string())]
    );
    let messages: Vec<(usize, String)> =
        out.errors.into_iter().map(|e| (e.row, e.message)).collect();
    assert_eq!(
        messages,
        vec![
            (0, r#"column "x" (float64): NaN cannot be written as JSON"#.to_string()),
            (
                1,
                r#"column "j" (json): not valid JSON (key must be a string at line 1 column 2): 7b 62 61 64 "{bad""#
                    .to_string()
            ),
        ]
    );
}

#[test]
fn bad_encoder_configs_are_refused() {
    let s = sample().schema();
    let e = encoder_error(json!({"include": ["Symbl"]}), s.clone());
    assert!(
        e.contains(
            "`include` names column `Symbl`, which the table does not have (did you mean `Symbol`?)"
        ),
        "{e}"
    );
    let e = encoder_error(json!({"mapping": {"Qty": "Symbol"}}), s.clone());
    assert_eq!(
        e,
        "invalid config: json: column `Symbol` and column `Qty` both write field \"Symbol\""
    );
    let e = encoder_error(json!({"timestamp_field": "Qty"}), s.clone());
    assert!(
        e.contains("column `Qty` and `timestamp_field` both write field \"Qty\""),
        "{e}"
    );
    let e = encoder_error(json!({"mapping": {"Qty": "/Symbol/q"}}), s.clone());
    assert!(
        e.contains(
            "column `Symbol` writes field \"Symbol\", which column `Qty` needs as an object"
        ),
        "{e}"
    );
    let e = encoder_error(json!({"nested_delimiter": ""}), s);
    assert!(e.contains("must not be empty"), "{e}");
    let binary = Arc::new(Schema::new(vec![Field::new("b", DataType::Binary, true)]));
    let e = encoder_error(json!({}), binary);
    assert!(
        e.contains("column `b` has type Binary, which the json encoder cannot write"),
        "{e}"
    );
}

/// Encodes `batch`, decodes the bytes with `decode_config`, returns the batch.
fn round_trip(batch: &RecordBatch, encode_config: Value, decode_config: Value) -> RecordBatch {
    let out = encode(encode_config, batch);
    assert!(out.errors.is_empty(), "{:?}", out.errors);
    let mut messages = MessageBatchBuilder::default();
    for b in out.bytes.iter() {
        messages.push("t", 0, 0, None, None, b, &[]);
    }
    let mut d = common::decoder(decode_config);
    let decoded = d.decode(&messages.finish().view()).unwrap();
    assert!(decoded.errors.is_empty(), "{:?}", decoded.errors);
    decoded.batch
}

fn sample_decode_config() -> Value {
    json!({"columns": [
        {"name": "Symbol", "type": "string"},
        {"name": "Live", "type": "bool"},
        {"name": "Qty", "type": "int32"},
        {"name": "Id", "type": "int64"},
        {"name": "Ratio", "type": "float32"},
        {"name": "Price", "type": "float64"},
        {"name": "Time", "type": "timestamp"},
        {"name": "Extra", "type": "json"},
    ]})
}

#[test]
fn encode_then_decode_gives_the_same_batch() {
    let batch = sample();
    for output_nulls in [false, true] {
        let back = round_trip(
            &batch,
            json!({"output_nulls": output_nulls}),
            sample_decode_config(),
        );
        assert_eq!(back, batch, "output_nulls {output_nulls}");
    }
    // Renamed and nested on the way out, mapped back on the way in.
    let mut config = sample_decode_config();
    config["mapping"] = json!({"/deal/px": "Price", "sym": "Symbol"});
    let back = round_trip(
        &batch,
        json!({"mapping": {"Price": "/deal/px", "Symbol": "sym"}}),
        config,
    );
    assert_eq!(back, batch);
}

proptest! {
    #[test]
    fn random_rows_round_trip(
        rows in prop::collection::vec(
            (
                proptest::option::of(any::<String>()),
                proptest::option::of(any::<i64>()),
                proptest::option::of(any::<i32>()),
                proptest::option::of(any::<f64>().prop_filter("finite", |f| f.is_finite())),
                proptest::option::of(any::<f32>().prop_filter("finite", |f| f.is_finite())),
                proptest::option::of(-8_000_000_000_000i64..250_000_000_000_000),
                proptest::option::of(any::<bool>()),
            ),
            0..30,
        ),
        output_nulls in any::<bool>(),
    ) {
        let schema = Arc::new(Schema::new(vec![
            JsonType::String.field("s"),
            JsonType::Int64.field("l"),
            JsonType::Int32.field("i"),
            JsonType::Float64.field("d"),
            JsonType::Float32.field("f"),
            JsonType::Timestamp.field("t"),
            JsonType::Bool.field("b"),
        ]));
        let columns: Vec<ArrayRef> = vec![
            Arc::new(rows.iter().map(|r| r.0.clone()).collect::<topictable_sdk::arrow_array::StringArray>()),
            Arc::new(rows.iter().map(|r| r.1).collect::<topictable_sdk::arrow_array::Int64Array>()),
            Arc::new(rows.iter().map(|r| r.2).collect::<topictable_sdk::arrow_array::Int32Array>()),
            Arc::new(rows.iter().map(|r| r.3).collect::<topictable_sdk::arrow_array::Float64Array>()),
            Arc::new(rows.iter().map(|r| r.4).collect::<topictable_sdk::arrow_array::Float32Array>()),
            Arc::new(rows.iter().map(|r| r.5).collect::<topictable_sdk::arrow_array::TimestampMillisecondArray>().with_timezone("UTC")),
            Arc::new(rows.iter().map(|r| r.6).collect::<topictable_sdk::arrow_array::BooleanArray>()),
        ];
        let batch = RecordBatch::try_new(schema, columns).unwrap();
        let decode_config = json!({"columns": [
            {"name": "s", "type": "string"}, {"name": "l", "type": "int64"},
            {"name": "i", "type": "int32"}, {"name": "d", "type": "float64"},
            {"name": "f", "type": "float32"}, {"name": "t", "type": "timestamp"},
            {"name": "b", "type": "bool"},
        ]});
        let back = round_trip(&batch, json!({"output_nulls": output_nulls}), decode_config);
        prop_assert_eq!(back.num_rows(), batch.num_rows());
        for c in 0..batch.num_columns() {
            // Compare as arrays; -0.0 and 0.0 stay distinct through ryu.
            prop_assert_eq!(back.column(c).to_data(), batch.column(c).to_data(), "column {}", c);
        }
        let _ = back.column(0).as_string::<i32>();
    }
}
