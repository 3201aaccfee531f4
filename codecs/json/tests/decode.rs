//! The `json` decoder called directly (no plugin loading): types, nulls,
//! mapping and pointers, exact error messages, chunk boundaries, no panics.

mod common;

use common::{cells, decode_all, decode_values, decoder, decoder_error};
use proptest::prelude::*;
use serde_json::json;
use topictable_sdk::MessageBatchBuilder;
use topictable_sdk::arrow_schema::{DataType, TimeUnit};

fn row(cells: &[&str]) -> Vec<String> {
    cells.iter().map(|s| s.to_string()).collect()
}

fn orders_config() -> serde_json::Value {
    json!({
        "columns": [
            {"name": "Symbol", "type": "string"},
            {"name": "Price", "type": "float64"},
            {"name": "Qty", "type": "int32"},
        ],
        "mapping": {"symbol": "Symbol", "price": "Price", "qty": "Qty"},
    })
}

#[test]
fn seed_orders_example() {
    let (batch, errors) = decode_all(
        &orders_config(),
        &[
            r#"{"symbol": "AAPL", "price": 135, "qty": 5}"#,
            r#"{"symbol": "MSFT", "price": 301.25, "qty": 10}"#,
        ],
    );
    assert!(errors.is_empty(), "{errors:?}");
    let schema = batch.schema();
    assert_eq!(schema.field(0).name(), "Symbol");
    assert_eq!(schema.field(1).data_type(), &DataType::Float64);
    assert_eq!(schema.field(2).data_type(), &DataType::Int32);
    assert_eq!(
        cells(&batch),
        vec![row(&["AAPL", "135.0", "5"]), row(&["MSFT", "301.25", "10"])]
    );
}

fn all_types_config() -> serde_json::Value {
    json!({"columns": [
        {"name": "s", "type": "string"},
        {"name": "b", "type": "bool"},
        {"name": "i", "type": "int32"},
        {"name": "l", "type": "int64"},
        {"name": "f", "type": "float32"},
        {"name": "d", "type": "float64"},
        {"name": "t", "type": "timestamp"},
        {"name": "j", "type": "json"},
    ]})
}

#[test]
fn every_type_with_values_nulls_and_missing_fields() {
    let (batch, errors) = decode_all(
        &all_types_config(),
        &[
            r#"{"s":"x\"y\u00e9","b":true,"i":-2147483648,"l":9007199254740993,"f":1.5,"d":-0.1,"t":"2025-11-23T10:00:00Z","j":{"a": [1, 2]}}"#,
            r#"{"s":null,"b":null,"i":null,"l":null,"f":null,"d":null,"t":null,"j":null}"#,
            r#"{}"#,
            r#"{"b":false,"i":2147483647,"l":-9223372036854775808,"f":3,"d":1e300,"t":1763892000000,"j":"text"}"#,
            r#"{"t":"2025-11-23T11:00:00.250+01:00","j":[true, null],"l":9223372036854775807}"#,
        ],
    );
    assert!(errors.is_empty(), "{errors:?}");
    assert_eq!(
        batch.schema().field(6).data_type(),
        &DataType::Timestamp(TimeUnit::Millisecond, Some("UTC".into()))
    );
    assert_eq!(
        batch
            .schema()
            .field(7)
            .metadata()
            .get("ARROW:extension:name"),
        Some(&"arrow.json".to_string())
    );
    let n = "null";
    assert_eq!(
        cells(&batch),
        vec![
            row(&[
                "x\"yé",
                "true",
                "-2147483648",
                "9007199254740993",
                "1.5",
                "-0.1",
                "ts:1763892000000",
                r#"{"a": [1, 2]}"#
            ]),
            row(&[n, n, n, n, n, n, n, n]),
            row(&[n, n, n, n, n, n, n, n]),
            row(&[
                n,
                "false",
                "2147483647",
                "-9223372036854775808",
                "3.0",
                "1e300",
                "ts:1763892000000",
                r#""text""#
            ]),
            row(&[
                n,
                n,
                n,
                "9223372036854775807",
                n,
                n,
                "ts:1763892000250",
                "[true, null]"
            ]),
        ]
    );
}

#[test]
fn tombstones_are_rows_of_nulls_not_errors() {
    let (batch, errors) = decode_values(
        &orders_config(),
        &[None, Some(br#"{"symbol":"A","qty":1}"#.to_vec()), None],
    );
    assert!(errors.is_empty());
    assert_eq!(
        cells(&batch),
        vec![
            row(&["null"; 3]),
            row(&["A", "null", "1"]),
            row(&["null"; 3])
        ]
    );
}

#[test]
fn mapping_pointers_and_unmapped_columns() {
    let config = json!({
        "columns": [
            {"name": "Symbol", "type": "string"},
            {"name": "Price", "type": "float64"},
            {"name": "Side", "type": "string"},
            {"name": "Order", "type": "json"},
            {"name": "First", "type": "int64"},
            {"name": "Odd", "type": "string"},
        ],
        "mapping": {
            "sym": "Symbol",
            "/order/price": "Price",
            "order": "Order",
            "/fills/0/qty": "First",
            "/a~1b/c~0d": "Odd",
        },
    });
    let (batch, errors) = decode_all(
        &config,
        &[
            r#"{"sym":"AAPL","order":{"price":135.25,"id":7},"Side":"buy","fills":[{"qty":3},{"qty":4}],"a/b":{"c~d":"odd"}}"#,
            r#"{"Symbol":"ignored: mapped columns read only their field","order":{"id":8}}"#,
            r#"{"order":5,"fills":"no","a/b":[1]}"#,
            r#"{"zzz":{"deep":[1,{"x":2}]},"sym":"LAST","sym":"WINS"}"#,
        ],
    );
    assert!(errors.is_empty(), "{errors:?}");
    let n = "null";
    assert_eq!(
        cells(&batch),
        vec![
            row(&[
                "AAPL",
                "135.25",
                "buy",
                r#"{"price":135.25,"id":7}"#,
                "3",
                "odd"
            ]),
            row(&[n, n, n, r#"{"id":8}"#, n, n]),
            row(&[n, n, n, "5", n, n]),
            row(&["WINS", n, n, n, n, n]),
        ]
    );
}

fn one_error(config: &serde_json::Value, doc: &[u8]) -> String {
    let (batch, errors) = decode_values(
        config,
        &[Some(br#"{"qty":1}"#.to_vec()), Some(doc.to_vec())],
    );
    assert_eq!(batch.num_rows(), 2);
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert_eq!(errors[0].0, 1);
    let rest = cells(&batch);
    assert!(
        rest[1].iter().all(|c| c == "null"),
        "an error row holds nulls: {rest:?}"
    );
    errors[0].1.clone()
}

#[test]
fn type_mismatches_name_the_field_and_what_was_found() {
    let c = orders_config();
    let cases: &[(&str, &str)] = &[
        (
            r#"{"qty": "abc"}"#,
            r#"field "qty" (column Qty, int32): expected an integer, found "abc""#,
        ),
        (
            r#"{"qty": 1.5}"#,
            r#"field "qty" (column Qty, int32): expected an integer, found 1.5"#,
        ),
        (
            r#"{"qty": 1.0}"#,
            r#"field "qty" (column Qty, int32): expected an integer, found 1.0"#,
        ),
        (
            r#"{"qty": 3000000000}"#,
            r#"field "qty" (column Qty, int32): expected an integer in int32 range, found 3000000000"#,
        ),
        (
            r#"{"qty": true}"#,
            r#"field "qty" (column Qty, int32): expected an integer, found true"#,
        ),
        (
            r#"{"qty": "12"}"#,
            r#"field "qty" (column Qty, int32): expected an integer, found "12" (a number in a string; `lenient: true` accepts it)"#,
        ),
        (
            r#"{"price": "135"}"#,
            r#"field "price" (column Price, float64): expected a number, found "135" (a number in a string; `lenient: true` accepts it)"#,
        ),
        (
            r#"{"price": {"v": 1}}"#,
            r#"field "price" (column Price, float64): expected a number, found {"v": 1}"#,
        ),
        (
            r#"{"price": 1e999}"#,
            r#"field "price" (column Price, float64): expected a number in float64 range, found 1e999"#,
        ),
        (
            r#"{"symbol": 42}"#,
            r#"field "symbol" (column Symbol, string): expected a string, found 42"#,
        ),
        (
            r#"{"symbol": ["AAPL"]}"#,
            r#"field "symbol" (column Symbol, string): expected a string, found ["AAPL"]"#,
        ),
    ];
    for (doc, expected) in cases {
        assert_eq!(one_error(&c, doc.as_bytes()), *expected, "for {doc}");
    }
}

#[test]
fn mismatches_in_other_types() {
    let c = all_types_config();
    let cases: &[(&str, &str)] = &[
        (
            r#"{"b": 1}"#,
            r#"field "b" (column b, bool): expected true or false, found 1"#,
        ),
        (
            r#"{"b": "true"}"#,
            r#"field "b" (column b, bool): expected true or false, found "true""#,
        ),
        (
            r#"{"l": 9223372036854775808}"#,
            r#"field "l" (column l, int64): expected an integer in int64 range, found 9223372036854775808"#,
        ),
        (
            r#"{"l": 1e3}"#,
            r#"field "l" (column l, int64): expected an integer, found 1e3"#,
        ),
        (
            r#"{"f": 1e39}"#,
            r#"field "f" (column f, float32): expected a number in float32 range, found 1e39"#,
        ),
        (
            r#"{"t": 1.5}"#,
            r#"field "t" (column t, timestamp): expected an RFC 3339 string or epoch milliseconds, found 1.5"#,
        ),
        (
            r#"{"t": "yesterday"}"#,
            r#"field "t" (column t, timestamp): expected an RFC 3339 string or epoch milliseconds, found "yesterday" (premature end of input)"#,
        ),
        (
            r#"{"t": "1763892000000"}"#,
            r#"field "t" (column t, timestamp): expected an RFC 3339 string or epoch milliseconds, found "1763892000000" (a number in a string; `lenient: true` accepts it)"#,
        ),
    ];
    for (doc, expected) in cases {
        assert_eq!(one_error(&c, doc.as_bytes()), *expected, "for {doc}");
    }
}

#[test]
fn long_values_are_cut_in_messages() {
    let doc = format!(r#"{{"qty": "{}"}}"#, "x".repeat(200));
    assert_eq!(
        one_error(&orders_config(), doc.as_bytes()),
        format!(
            r#"field "qty" (column Qty, int32): expected an integer, found "{}… (202 bytes)"#,
            "x".repeat(39)
        )
    );
}

#[test]
fn pointer_fields_are_named_as_configured() {
    let c = json!({
        "columns": [{"name": "Price", "type": "float64"}],
        "mapping": {"/order/price": "Price"},
    });
    assert_eq!(
        one_error(&c, br#"{"order": {"price": "high"}}"#),
        r#"field "/order/price" (column Price, float64): expected a number, found "high""#
    );
}

#[test]
fn documents_that_are_not_objects_or_not_json() {
    let c = orders_config();
    let cases: &[(&[u8], &str)] = &[
        (
            b"[1,2]",
            r#"expected a JSON object, found an array: 5b 31 2c 32 5d "[1,2]""#,
        ),
        (
            b"\"AAPL\"",
            r#"expected a JSON object, found a string: 22 41 41 50 4c 22 "\"AAPL\"""#,
        ),
        (
            b"42",
            r#"expected a JSON object, found a number: 34 32 "42""#,
        ),
        (
            b"null",
            r#"expected a JSON object, found null: 6e 75 6c 6c "null""#,
        ),
        (
            b"{\"symbol\": \"A\xffB\"}",
            r#"invalid UTF-8 at byte 13: 7b 22 73 79 6d 62 6f 6c 22 3a 20 22 41 ff 42 22 7d "{\"symbol\": \"A�B\"}""#,
        ),
        (
            br#"{"symbol": "A", "qty": }"#,
            r#"malformed JSON (expected value at line 1 column 24): 7b 22 73 79 6d 62 6f 6c 22 3a 20 22 41 22 2c 20 22 71 74 79 22 3a 20 7d "{\"symbol\": \"A\", \"qty\": }""#,
        ),
        (
            br#"{"qty": 1} x"#,
            r#"malformed JSON (trailing characters at line 1 column 12): 7b 22 71 74 79 22 3a 20 31 7d 20 78 "{\"qty\": 1} x""#,
        ),
        (
            b"",
            r#"malformed JSON (EOF while parsing a value at line 1 column 0):  """#,
        ),
        (
            br#"{"other": [1, tru]}"#,
            r#"malformed JSON (expected ident at line 1 column 18): 7b 22 6f 74 68 65 72 22 3a 20 5b 31 2c 20 74 72 75 5d 7d "{\"other\": [1, tru]}""#,
        ),
    ];
    for (doc, expected) in cases {
        assert_eq!(
            one_error(&c, doc),
            *expected,
            "for {:?}",
            String::from_utf8_lossy(doc)
        );
    }
}

#[test]
fn lenient_coerces_strings_and_says_so_when_it_cannot() {
    let mut c = all_types_config();
    c["lenient"] = json!(true);
    let (batch, errors) = decode_all(
        &c,
        &[
            r#"{"s": 12.5, "b": "false", "i": " 12 ", "l": "-7", "f": "2.5", "d": "1e2", "t": "1763892000000"}"#,
            r#"{"s": true, "i": "abc"}"#,
            r#"{"d": "NaN"}"#,
            r#"{"i": "1.5"}"#,
        ],
    );
    let n = "null";
    assert_eq!(
        cells(&batch)[0],
        row(&[
            "12.5",
            "false",
            "12",
            "-7",
            "2.5",
            "100.0",
            "ts:1763892000000",
            n
        ])
    );
    assert_eq!(
        errors,
        vec![
            (
                1,
                r#"field "i" (column i, int32): expected an integer, found "abc""#.to_string()
            ),
            (
                2,
                r#"field "d" (column d, float64): expected a number, found "NaN""#.to_string()
            ),
            (
                3,
                r#"field "i" (column i, int32): expected an integer, found "1.5""#.to_string()
            ),
        ]
    );
}

#[test]
fn chunk_boundaries_do_not_change_the_output() {
    let docs: Vec<String> = (0..250)
        .map(|i| match i % 7 {
            0 => "null".to_string(),
            3 => format!(r#"{{"symbol":"S{i}","qty":"bad"}}"#),
            5 => "{not json".to_string(),
            _ => format!(r#"{{"symbol":"S{i}","price":{i}.5,"qty":{i},"extra":[{{"x":1}}]}}"#),
        })
        .collect();
    let refs: Vec<&str> = docs.iter().map(String::as_str).collect();
    let (batch, errors) = decode_all(&orders_config(), &refs);
    assert_eq!(batch.num_rows(), 250);
    let bad = (0..250).filter(|i| [0, 3, 5].contains(&(i % 7))).count();
    assert_eq!(errors.len(), bad);
    assert!(
        errors[0]
            .1
            .starts_with("expected a JSON object, found null")
    );
    assert_eq!(cells(&batch)[1], row(&["S1", "1.5", "1"]));
}

#[test]
fn key_side_reads_keys() {
    use topictable_codec_json::JsonCodec;
    use topictable_sdk::{Codec, Side};
    let config = JsonCodec
        .description()
        .config
        .validate(&json!({"columns": [{"name": "id", "type": "int64"}]}))
        .unwrap();
    let mut d = JsonCodec.new_decoder(&config, Side::Key).unwrap();
    let mut b = MessageBatchBuilder::default();
    b.push(
        "t",
        0,
        0,
        None,
        Some(br#"{"id": 7}"#),
        Some(b"not json"),
        &[],
    );
    let out = d.decode(&b.finish().view()).unwrap();
    assert!(out.errors.is_empty());
    assert_eq!(cells(&out.batch), vec![row(&["7"])]);
}

#[test]
fn bad_configs_are_refused_with_a_reason() {
    assert_eq!(
        decoder_error(json!({})),
        "invalid config: json: the decoder needs `columns`, a list of {name, type}"
    );
    let e = decoder_error(
        json!({"columns": [{"name": "Price", "type": "float64"}], "mapping": {"p": "Prise"}}),
    );
    assert!(e.contains("no such column (did you mean `Price`?)"), "{e}");
    let e = decoder_error(json!({"columns": [{"name": "A", "type": "int8"}]}));
    assert!(e.contains("unknown variant `int8`"), "{e}");
    let e = decoder_error(
        json!({"columns": [{"name": "A", "type": "int64"}, {"name": "A", "type": "string"}]}),
    );
    assert_eq!(e, "invalid config: json: column `A` is defined twice");
    let e = decoder_error(
        json!({"columns": [{"name": "A", "type": "int64"}, {"name": "B", "type": "int64"}], "mapping": {"A": "B"}}),
    );
    assert!(
        e.contains("field \"A\" would feed both column `A` and column `B`"),
        "{e}"
    );
    let e = decoder_error(
        json!({"columns": [{"name": "A", "type": "int64"}], "mapping": {"/x~2": "A"}}),
    );
    assert!(e.contains("`~` must be followed by 0 or 1"), "{e}");
    let e = decoder_error(
        json!({"columns": [{"name": "A", "type": "int64"}], "mapping": {"a": "A", "b": "A"}}),
    );
    assert!(
        e.contains("column `A` is mapped from both \"a\" and \"b\""),
        "{e}"
    );
}

#[test]
fn unknown_config_keys_are_refused_by_the_spec() {
    use topictable_codec_json::JsonCodec;
    use topictable_sdk::Codec;
    let errs = JsonCodec
        .description()
        .config
        .validate(&json!({"colums": []}))
        .unwrap_err();
    assert_eq!(
        errs[0].to_string(),
        "unknown key `colums` (did you mean `columns`?)"
    );
}

fn arb_json() -> impl Strategy<Value = serde_json::Value> {
    let leaf = prop_oneof![
        Just(serde_json::Value::Null),
        any::<bool>().prop_map(serde_json::Value::from),
        any::<i64>().prop_map(serde_json::Value::from),
        any::<u64>().prop_map(serde_json::Value::from),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(serde_json::Value::from),
        "[a-z0-9\"\\\\ é]{0,8}".prop_map(serde_json::Value::from),
    ];
    leaf.prop_recursive(4, 32, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(serde_json::Value::from),
            prop::collection::btree_map(
                prop_oneof![
                    Just("s".to_string()),
                    Just("i".to_string()),
                    Just("l".to_string()),
                    Just("d".to_string()),
                    Just("t".to_string()),
                    Just("j".to_string()),
                    Just("b".to_string()),
                    Just("order".to_string()),
                    "[a-z]{1,3}"
                ],
                inner,
                0..6
            )
            .prop_map(|m| serde_json::Value::Object(m.into_iter().collect())),
        ]
    })
}

proptest! {
    #[test]
    fn random_documents_never_panic_and_give_one_row_each(
        docs in prop::collection::vec(
            prop_oneof![
                arb_json().prop_map(|v| Some(v.to_string().into_bytes())),
                prop::collection::vec(any::<u8>(), 0..40).prop_map(Some),
                arb_json().prop_map(|v| {
                    let mut s = v.to_string().into_bytes();
                    s.truncate(s.len() / 2);
                    Some(s)
                }),
                Just(None),
            ],
            0..20,
        ),
        lenient in any::<bool>(),
    ) {
        let mut config = all_types_config();
        config["lenient"] = json!(lenient);
        config["mapping"] = json!({"/order/0/x": "j", "/order/p": "d"});
        let mut d = decoder(config);
        let mut b = MessageBatchBuilder::default();
        for v in &docs {
            b.push("t", 0, 0, None, None, v.as_deref(), &[]);
        }
        let out = d.decode(&b.finish().view()).unwrap();
        prop_assert_eq!(out.batch.num_rows(), docs.len());
        prop_assert!(out.errors.windows(2).all(|w| w[0].row < w[1].row));
        for e in &out.errors {
            prop_assert!(docs[e.row].is_some(), "a tombstone is never an error");
        }
    }
}

/// Documents that stress the fast path's scanner: escapes, odd numbers,
/// whitespace, duplicates, nesting and damage.
fn tricky_doc() -> impl Strategy<Value = Vec<u8>> {
    let value = prop_oneof![
        Just("1".to_string()),
        Just("-0".to_string()),
        Just("01".to_string()),
        Just("1.".to_string()),
        Just("1e5".to_string()),
        Just("-1.5E-3".to_string()),
        Just("9223372036854775808".to_string()),
        Just("\"a\\u00e9\\n\"".to_string()),
        Just("\"\\ud83d\\ude00\"".to_string()),
        Just("\"\\ud800\"".to_string()),
        Just("\"\\x\"".to_string()),
        Just("\"tab\there\"".to_string()),
        Just("\"2025-11-23T10:00:00Z\"".to_string()),
        Just("\"12\"".to_string()),
        Just("true".to_string()),
        Just("tru".to_string()),
        Just("null".to_string()),
        Just("[1, {\"a\": [\"x\"]}]".to_string()),
        Just("{\"s\": 1}".to_string()),
        Just("\"é☃\"".to_string()),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(|f| f.to_string()),
        any::<i64>().prop_map(|i| i.to_string()),
    ];
    let key = prop_oneof![
        Just("s"),
        Just("b"),
        Just("i"),
        Just("l"),
        Just("f"),
        Just("d"),
        Just("t"),
        Just("j"),
        Just("x"),
        Just("s\\u0073"),
        Just("é")
    ];
    let ws = prop_oneof![Just(""), Just(" "), Just("\n\t ")];
    prop::collection::vec((key, value, ws.clone()), 0..8)
        .prop_flat_map(move |fields| (Just(fields), ws.clone(), any::<u8>(), any::<usize>()))
        .prop_map(|(fields, w, damage, at)| {
            let body: Vec<String> = fields
                .iter()
                .map(|(k, v, w)| format!("{w}\"{k}\"{w}:{w}{v}{w}"))
                .collect();
            let mut doc = format!("{w}{{{}}}{w}", body.join(",")).into_bytes();
            // One document in four gets one byte changed.
            if damage % 4 == 0 && !doc.is_empty() {
                let at = at % doc.len();
                doc[at] = damage;
            }
            doc
        })
}

proptest! {
    #[test]
    fn fast_and_slow_paths_agree(docs in prop::collection::vec(tricky_doc(), 1..12), lenient in any::<bool>()) {
        use topictable_codec_json::JsonConfig;
        use topictable_sdk::{Decoder, Side};
        let mut config = all_types_config();
        config["lenient"] = json!(lenient);
        let config = JsonConfig::from_map(config.as_object().unwrap()).unwrap();
        let mut fast = config.decoder(Side::Value).unwrap();
        let mut slow = config.decoder(Side::Value).unwrap().without_fast_path();
        let mut b = MessageBatchBuilder::default();
        for d in &docs {
            b.push("t", 0, 0, None, None, Some(d), &[]);
        }
        let messages = b.finish();
        let a = fast.decode(&messages.view()).unwrap();
        let z = slow.decode(&messages.view()).unwrap();
        prop_assert_eq!(&a.batch, &z.batch);
        prop_assert_eq!(&a.errors, &z.errors);
    }
}
