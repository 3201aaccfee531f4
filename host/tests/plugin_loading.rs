//! Loads real plugin libraries through the loader: first-party, third-party
//! and broken ones.

use topictable_test_support::plugins;

use std::sync::{Arc, Mutex};

use serde_json::json;
use topictable::{LoadError, PluginRegistry};
use topictable_codec_simple::SimpleCodec;
use topictable_sdk::arrow_array::{
    Array, ArrayRef, BinaryArray, BooleanArray, FixedSizeBinaryArray, Float32Array, Float64Array,
    Int8Array, Int16Array, Int32Array, Int64Array, RecordBatch, StringArray,
    TimestampMillisecondArray,
};
use topictable_sdk::arrow_schema::{DataType, Field, Schema};
use topictable_sdk::{
    Codec, MessageBatchBuilder, OwnedMessageBatch, PluginError, Side, SinkUpdate,
};

fn values(values: &[Option<&[u8]>]) -> OwnedMessageBatch {
    let mut b = MessageBatchBuilder::default();
    for (i, v) in values.iter().enumerate() {
        b.push(
            "t",
            0,
            i as i64,
            Some(1_700_000_000_000),
            Some(b"k"),
            *v,
            &[],
        );
    }
    b.finish()
}

fn first_party() -> (tempfile::TempDir, PluginRegistry) {
    let dir = plugins::plugin_dir_with(&[
        "topictable_plugin_simple",
        "csv_line_codec",
        "topictable_fixture_test_plugin",
    ]);
    let (registry, errors) = PluginRegistry::load_dir(dir.path());
    assert!(errors.is_empty(), "{errors:?}");
    (dir, registry)
}

#[test]
fn loads_first_party_and_third_party_plugins() {
    let (_dir, registry) = first_party();
    let mut names: Vec<_> = registry
        .plugins()
        .iter()
        .map(|p| p.info.name.clone())
        .collect();
    names.sort();
    assert_eq!(names, ["csv-line", "simple", "test-plugin"]);
    for format in ["simple", "csv", "echo"] {
        assert!(registry.codec(format).is_some(), "format {format} missing");
    }
    assert!(registry.sink("collect").is_some());
    let simple = registry.plugin_of_format("simple").unwrap();
    assert_eq!(simple.info.abi_version, topictable_sdk::abi::ABI_VERSION);
    assert!(
        simple
            .path
            .ends_with(plugins::library_file("topictable_plugin_simple"))
    );
}

/// One `simple` case: config type/encoding, message values, expected column.
struct Case {
    kind: &'static str,
    encoding: &'static str,
    input: Vec<Option<Vec<u8>>>,
    expected: ArrayRef,
}

fn b(v: impl AsRef<[u8]>) -> Option<Vec<u8>> {
    Some(v.as_ref().to_vec())
}

fn cases() -> Vec<Case> {
    let uuid = "6f1c3a9e-58b2-4c1e-9d2a-2f7c1b0e5a44";
    let uuid_bytes: [u8; 16] = [
        0x6f, 0x1c, 0x3a, 0x9e, 0x58, 0xb2, 0x4c, 0x1e, 0x9d, 0x2a, 0x2f, 0x7c, 0x1b, 0x0e, 0x5a,
        0x44,
    ];
    let ts = 1_763_892_000_000_i64; // 2025-11-23T10:00:00Z
    vec![
        Case {
            kind: "string",
            encoding: "binary",
            input: vec![b("AAPL"), None, b("")],
            expected: Arc::new(StringArray::from(vec![Some("AAPL"), None, Some("")])),
        },
        Case {
            kind: "string",
            encoding: "text",
            input: vec![b("héllo")],
            expected: Arc::new(StringArray::from(vec!["héllo"])),
        },
        Case {
            kind: "bool",
            encoding: "binary",
            input: vec![b([1]), b([0]), None],
            expected: Arc::new(BooleanArray::from(vec![Some(true), Some(false), None])),
        },
        Case {
            kind: "bool",
            encoding: "text",
            input: vec![b("true"), b("FALSE")],
            expected: Arc::new(BooleanArray::from(vec![true, false])),
        },
        Case {
            kind: "int8",
            encoding: "binary",
            input: vec![b([0xff]), b([7])],
            expected: Arc::new(Int8Array::from(vec![-1, 7])),
        },
        Case {
            kind: "int8",
            encoding: "text",
            input: vec![b("-8")],
            expected: Arc::new(Int8Array::from(vec![-8])),
        },
        Case {
            kind: "int16",
            encoding: "binary",
            input: vec![b((-300i16).to_be_bytes())],
            expected: Arc::new(Int16Array::from(vec![-300])),
        },
        Case {
            kind: "int16",
            encoding: "text",
            input: vec![b("300")],
            expected: Arc::new(Int16Array::from(vec![300])),
        },
        Case {
            kind: "int32",
            encoding: "binary",
            input: vec![b(123_456i32.to_be_bytes()), None],
            expected: Arc::new(Int32Array::from(vec![Some(123_456), None])),
        },
        Case {
            kind: "int32",
            encoding: "text",
            input: vec![b(" 42\n")],
            expected: Arc::new(Int32Array::from(vec![42])),
        },
        Case {
            kind: "int64",
            encoding: "binary",
            input: vec![b(i64::MIN.to_be_bytes()), b(5i64.to_be_bytes())],
            expected: Arc::new(Int64Array::from(vec![i64::MIN, 5])),
        },
        Case {
            kind: "int64",
            encoding: "text",
            input: vec![b("9007199254740993")],
            expected: Arc::new(Int64Array::from(vec![9_007_199_254_740_993])),
        },
        Case {
            kind: "float32",
            encoding: "binary",
            input: vec![b(1.5f32.to_be_bytes())],
            expected: Arc::new(Float32Array::from(vec![1.5])),
        },
        Case {
            kind: "float32",
            encoding: "text",
            input: vec![b("2.25")],
            expected: Arc::new(Float32Array::from(vec![2.25])),
        },
        Case {
            kind: "float64",
            encoding: "binary",
            input: vec![b(135.6f64.to_be_bytes())],
            expected: Arc::new(Float64Array::from(vec![135.6])),
        },
        Case {
            kind: "float64",
            encoding: "text",
            input: vec![b("135.60"), b("136.82")],
            expected: Arc::new(Float64Array::from(vec![135.6, 136.82])),
        },
        Case {
            kind: "bytes",
            encoding: "binary",
            input: vec![b([0, 159, 146]), None],
            expected: Arc::new(BinaryArray::from(vec![Some(&[0u8, 159, 146][..]), None])),
        },
        Case {
            kind: "bytes",
            encoding: "text",
            input: vec![b("raw")],
            expected: Arc::new(BinaryArray::from(vec![&b"raw"[..]])),
        },
        Case {
            kind: "uuid",
            encoding: "binary",
            input: vec![b(uuid), b(uuid_bytes)],
            expected: Arc::new(
                FixedSizeBinaryArray::try_from_iter([uuid_bytes, uuid_bytes].into_iter()).unwrap(),
            ),
        },
        Case {
            kind: "uuid",
            encoding: "text",
            input: vec![b(uuid)],
            expected: Arc::new(
                FixedSizeBinaryArray::try_from_iter([uuid_bytes].into_iter()).unwrap(),
            ),
        },
        Case {
            kind: "timestamp",
            encoding: "binary",
            input: vec![b(ts.to_be_bytes())],
            expected: Arc::new(TimestampMillisecondArray::from(vec![ts]).with_timezone("UTC")),
        },
        Case {
            kind: "timestamp",
            encoding: "text",
            input: vec![
                b("2025-11-23T10:00:00Z"),
                b(ts.to_string()),
                b("2025-11-23T11:00:00.5+01:00"),
            ],
            expected: Arc::new(
                TimestampMillisecondArray::from(vec![ts, ts, ts + 500]).with_timezone("UTC"),
            ),
        },
    ]
}

#[test]
fn simple_decodes_every_type_and_encoding_cell_by_cell_and_round_trips() {
    let (_dir, registry) = first_party();
    let cases = cases();
    let kinds: std::collections::BTreeSet<_> = cases.iter().map(|c| c.kind).collect();
    assert_eq!(kinds.len(), 11, "every simple type is covered");
    for case in cases {
        let what = format!("{} / {}", case.kind, case.encoding);
        let config = json!({"type": case.kind, "encoding": case.encoding, "column": "Price"});
        let input: Vec<Option<&[u8]>> = case.input.iter().map(|v| v.as_deref()).collect();
        let messages = values(&input);
        let mut decoder = registry
            .new_decoder("simple", &config, Side::Value)
            .unwrap();
        let decoded = decoder.decode(&messages.view()).unwrap();
        assert!(decoded.errors.is_empty(), "{what}: {:?}", decoded.errors);
        assert_eq!(decoded.batch.schema().field(0).name(), "Price");
        let column = decoded.batch.column(0);
        assert_eq!(column.data_type(), case.expected.data_type(), "{what}");
        for row in 0..case.expected.len() {
            assert_eq!(
                column.is_null(row),
                case.expected.is_null(row),
                "{what} row {row} null-ness"
            );
        }
        assert_eq!(column.to_data(), case.expected.to_data(), "{what}");

        // The same through the library directly.
        let validated = SimpleCodec.description().config.validate(&config).unwrap();
        let direct = SimpleCodec
            .new_decoder(&validated, Side::Value)
            .unwrap()
            .decode(&messages.view())
            .unwrap();
        assert_eq!(
            direct.batch, decoded.batch,
            "{what}: plugin and library differ"
        );

        // Encode the decoded rows through the plugin and decode them again.
        let mut encoder = registry
            .new_encoder("simple", &config, Side::Value, decoded.batch.schema())
            .unwrap();
        let encoded = encoder.encode(&decoded.batch).unwrap();
        assert!(encoded.errors.is_empty());
        let again: Vec<Option<&[u8]>> = encoded.bytes.iter().collect();
        let redecoded = decoder.decode(&values(&again).view()).unwrap();
        assert!(
            redecoded.errors.is_empty(),
            "{what}: {:?}",
            redecoded.errors
        );
        assert_eq!(redecoded.batch, decoded.batch, "{what}: round trip");
    }
}

#[test]
fn binary_encoding_writes_kafka_serializer_bytes() {
    let (_dir, registry) = first_party();
    let schema = Arc::new(Schema::new(vec![
        Field::new("q", DataType::Int32, true),
        Field::new("p", DataType::Float64, true),
    ]));
    let batch = RecordBatch::try_new(
        schema.clone(),
        vec![
            Arc::new(Int32Array::from(vec![Some(1), None])),
            Arc::new(Float64Array::from(vec![Some(135.6), Some(-0.5)])),
        ],
    )
    .unwrap();
    let mut enc = registry
        .new_encoder(
            "simple",
            &json!({"type": "int32", "column": "q"}),
            Side::Key,
            schema.clone(),
        )
        .unwrap();
    let out = enc.encode(&batch).unwrap().bytes;
    assert_eq!(out.value(0), &[0, 0, 0, 1]);
    assert!(out.is_null(1), "a null cell is a null key");
    let mut enc = registry
        .new_encoder(
            "simple",
            &json!({"type": "float64", "column": "p", "encoding": "text"}),
            Side::Value,
            schema.clone(),
        )
        .unwrap();
    let out = enc.encode(&batch).unwrap().bytes;
    assert_eq!(out.value(0), b"135.6");
    let err = registry
        .new_encoder(
            "simple",
            &json!({"type": "int64", "column": "q"}),
            Side::Key,
            schema.clone(),
        )
        .err()
        .unwrap();
    assert!(
        err.to_string()
            .contains("column `q` is Int32, but the simple type `int64` needs Int64"),
        "{err}"
    );
    let err = registry
        .new_encoder(
            "simple",
            &json!({"type": "int32", "column": "nope"}),
            Side::Key,
            schema,
        )
        .err()
        .unwrap();
    assert!(
        err.to_string()
            .contains("column `nope` not found; the table has q, p"),
        "{err}"
    );
}

#[test]
fn bad_values_are_row_errors_that_say_what_was_expected() {
    let (_dir, registry) = first_party();
    let check =
        |config: serde_json::Value, input: &[Option<&[u8]>], bad_row: usize, needle: &str| {
            let mut d = registry
                .new_decoder("simple", &config, Side::Value)
                .unwrap();
            let out = d.decode(&values(input).view()).unwrap();
            assert_eq!(
                out.batch.num_rows(),
                input.len(),
                "one row per message, errors included"
            );
            assert_eq!(out.errors.len(), 1, "{config}: {:?}", out.errors);
            assert_eq!(out.errors[0].row, bad_row);
            assert!(
                out.errors[0].message.contains(needle),
                "{config}: `{}` lacks `{needle}`",
                out.errors[0].message
            );
            assert!(out.batch.column(0).is_null(bad_row));
            assert_eq!(out.batch.column(0).null_count(), 1);
        };
    let eight = 7i64.to_be_bytes();
    check(
        json!({"type": "int64"}),
        &[Some(&eight), Some(b"12345")],
        1,
        "expected 8 bytes (LongSerializer) for int64, got 5 bytes: 31 32 33 34 35 \"12345\"",
    );
    check(
        json!({"type": "int32"}),
        &[Some(&eight)],
        0,
        "expected 4 bytes (IntegerSerializer) for int32, got 8 bytes",
    );
    check(
        json!({"type": "float64", "encoding": "text"}),
        &[Some(b"1.5"), Some(b"abc")],
        1,
        "expected float64 as text, got 61 62 63 \"abc\"",
    );
    check(
        json!({"type": "string"}),
        &[Some(b"ok"), Some(&[0xff, 0xfe])],
        1,
        "expected UTF-8 text for string, got ff fe",
    );
    check(
        json!({"type": "bool"}),
        &[Some(&[2])],
        0,
        "expected byte 0 or 1 (BooleanSerializer) for bool, got 2",
    );
    check(
        json!({"type": "uuid"}),
        &[Some(b"not-a-uuid")],
        0,
        "expected a UUID as 36-character text (UUIDSerializer) or 16 bytes, got 10 bytes",
    );
    check(
        json!({"type": "timestamp", "encoding": "text"}),
        &[Some(b"yesterday")],
        0,
        "neither RFC 3339 nor epoch milliseconds",
    );
}

#[test]
fn invalid_config_is_reported_by_key_before_the_plugin_is_called() {
    let (_dir, registry) = first_party();
    let err = registry
        .new_decoder("simple", &json!({"typ": "int64"}), Side::Value)
        .err()
        .unwrap()
        .to_string();
    assert!(
        err.contains("unknown key `typ` (did you mean `type`?)"),
        "{err}"
    );
    assert!(err.contains("missing required key `type`"), "{err}");
    let err = registry
        .new_decoder(
            "simple",
            &json!({"type": "int64", "encoding": 3}),
            Side::Value,
        )
        .err()
        .unwrap()
        .to_string();
    assert!(
        err.contains("key `encoding`: expected one of binary|text, found 3"),
        "{err}"
    );
    let err = registry
        .new_decoder("simpel", &json!({}), Side::Value)
        .err()
        .unwrap()
        .to_string();
    assert!(
        err.contains("no plugin offers `simpel` (did you mean `simple`?)"),
        "{err}"
    );
}

#[test]
fn third_party_csv_plugin_decodes() {
    let (_dir, registry) = first_party();
    let config = json!({"columns": [{"name": "Symbol", "type": "string"}, {"name": "Price", "type": "float64"}, {"name": "Qty", "type": "int64"}]});
    let mut d = registry.new_decoder("csv", &config, Side::Value).unwrap();
    let out = d
        .decode(&values(&[Some(b"AAPL,135.6,5"), Some(b"TSLA,x,3"), Some(b"bad")]).view())
        .unwrap();
    let prices = out
        .batch
        .column_by_name("Price")
        .unwrap()
        .as_any()
        .downcast_ref::<Float64Array>()
        .unwrap()
        .clone();
    assert_eq!(prices, Float64Array::from(vec![Some(135.6), None, None]));
    let rows: Vec<usize> = out.errors.iter().map(|e| e.row).collect();
    assert_eq!(rows, [1, 2]);
}

#[test]
fn a_plugin_built_against_another_abi_is_refused_without_running_its_init() {
    let dir =
        plugins::plugin_dir_with(&["topictable_fixture_foreign_abi", "topictable_plugin_simple"]);
    let marker = dir.path().join("init-ran");
    // SAFETY: (test only) no other thread of this test binary reads this variable.
    unsafe { std::env::set_var("TOPICTABLE_FIXTURE_INIT_MARKER", &marker) };
    let (registry, errors) = PluginRegistry::load_dir(dir.path());
    assert_eq!(errors.len(), 1, "{errors:?}");
    match &errors[0] {
        LoadError::IncompatibleAbi {
            plugin_abi,
            host_abi,
            ..
        } => {
            assert_eq!(plugin_abi, "3.0.0");
            assert_eq!(*host_abi, topictable_sdk::abi::ABI_VERSION);
        }
        other => panic!("expected IncompatibleAbi, got {other}"),
    }
    let message = errors[0].to_string();
    assert!(
        message.contains("ABI 3.0.0")
            && message.contains(&format!("ABI {}", topictable_sdk::abi::ABI_VERSION))
            && message.contains("rebuild the plugin against topictable-sdk"),
        "{message}"
    );
    assert!(!marker.exists(), "the refused plugin's init ran");
    assert!(
        registry.codec("simple").is_some(),
        "the good plugin still loads"
    );
}

#[test]
fn non_plugins_garbage_truncated_and_mismatched_files_are_refused_each_with_its_own_message() {
    let dir = plugins::plugin_dir_with(&[
        "topictable_fixture_not_a_plugin",
        "topictable_fixture_layout_mismatch",
        "topictable_plugin_simple",
    ]);
    std::fs::write(
        dir.path().join("garbage.so"),
        b"this is not an ELF file at all",
    )
    .unwrap();
    let simple = std::fs::read(plugins::library_path("topictable_plugin_simple")).unwrap();
    std::fs::write(dir.path().join("truncated.so"), &simple[..4096]).unwrap();
    std::fs::write(
        dir.path().join("README.txt"),
        b"not a library, not even looked at",
    )
    .unwrap();
    let (registry, errors) = PluginRegistry::load_dir(dir.path());
    let name = |e: &LoadError| match e {
        LoadError::NotLoadable { path, .. }
        | LoadError::NotAPlugin { path, .. }
        | LoadError::LayoutMismatch { path, .. }
        | LoadError::IncompatibleAbi { path, .. }
        | LoadError::InitFailed { path, .. } => {
            path.file_name().unwrap().to_string_lossy().into_owned()
        }
        other => panic!("unexpected {other}"),
    };
    let mut seen: Vec<(String, String)> = errors.iter().map(|e| (name(e), e.to_string())).collect();
    seen.sort();
    assert_eq!(seen.len(), 4, "{seen:#?}");
    assert_eq!(seen[0].0, "garbage.so");
    assert!(matches!(
        errors.iter().find(|e| name(e) == "garbage.so"),
        Some(LoadError::NotLoadable { .. })
    ));
    assert!(
        seen[0].1.contains("not a loadable shared library"),
        "{}",
        seen[0].1
    );
    assert!(matches!(
        errors.iter().find(|e| name(e).contains("layout_mismatch")),
        Some(LoadError::LayoutMismatch { .. })
    ));
    assert!(matches!(
        errors.iter().find(|e| name(e).contains("not_a_plugin")),
        Some(LoadError::NotAPlugin { .. })
    ));
    assert!(
        errors
            .iter()
            .any(|e| e.to_string().contains("not a topictable plugin"))
    );
    assert!(matches!(
        errors.iter().find(|e| name(e) == "truncated.so"),
        Some(LoadError::NotLoadable { .. })
    ));
    assert_eq!(registry.plugins().len(), 1, "the good plugin still loads");
    assert!(registry.codec("simple").is_some());
}

#[test]
fn a_duplicate_format_names_both_files() {
    let dir = plugins::plugin_dir_with(&["topictable_plugin_simple"]);
    let original = plugins::library_path("topictable_plugin_simple");
    std::fs::copy(&original, dir.path().join("zz_second_simple.so")).unwrap();
    let (registry, errors) = PluginRegistry::load_dir(dir.path());
    assert_eq!(errors.len(), 1, "{errors:?}");
    let message = errors[0].to_string();
    assert!(message.contains("duplicate format `simple`"), "{message}");
    assert!(
        message.contains("topictable_plugin_simple") && message.contains("zz_second_simple.so"),
        "{message}"
    );
    assert_eq!(registry.plugins().len(), 2);
}

#[test]
fn a_panicking_decoder_returns_an_error_and_the_host_goes_on() {
    let (_dir, registry) = first_party();
    let mut d = registry
        .new_decoder("echo", &json!({}), Side::Value)
        .unwrap();
    let err = d
        .decode(&values(&[Some(b"fine"), Some(b"PANIC")]).view())
        .err()
        .unwrap();
    assert_eq!(
        err,
        PluginError::Panicked("echo was told to panic at row 1".into())
    );
    let next = d.decode(&values(&[Some(b"after")]).view()).unwrap();
    assert_eq!(
        next.batch
            .column(0)
            .as_any()
            .downcast_ref::<StringArray>()
            .unwrap()
            .value(0),
        "after"
    );
}

#[test]
fn the_sink_slot_carries_updates_and_errors() {
    let (_dir, registry) = first_party();
    let schema = Arc::new(Schema::new(vec![Field::new("x", DataType::Int64, true)]));
    let rows =
        RecordBatch::try_new(schema.clone(), vec![Arc::new(Int64Array::from(vec![1, 2]))]).unwrap();
    let empty = RecordBatch::new_empty(schema.clone());
    let mut sink = registry.new_sink("collect", &json!({}), schema).unwrap();
    let update = |cycle| SinkUpdate {
        cycle,
        added: rows.clone(),
        removed: empty.clone(),
        modified: empty.clone(),
    };
    sink.write(&update(1)).unwrap();
    sink.flush().unwrap();
    assert_eq!(
        sink.write(&update(13)).unwrap_err(),
        PluginError::Failed("collect fails on cycle 13".into())
    );
    sink.close().unwrap();
}

/// Collects every event's fields as text.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<String>>>);

impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for Captured {
    fn on_event(&self, event: &tracing::Event<'_>, _: tracing_subscriber::layer::Context<'_, S>) {
        struct V(String);
        impl tracing::field::Visit for V {
            fn record_debug(&mut self, f: &tracing::field::Field, v: &dyn std::fmt::Debug) {
                self.0.push_str(&format!("{}={v:?} ", f.name()));
            }
        }
        let mut v = V(format!(
            "[{} {}] ",
            event.metadata().level(),
            event.metadata().target()
        ));
        event.record(&mut v);
        self.0.lock().unwrap().push(v.0);
    }
}

#[test]
fn plugin_log_records_reach_the_host_subscriber() {
    use tracing_subscriber::layer::SubscriberExt;
    let captured = Captured::default();
    let subscriber = tracing_subscriber::registry().with(captured.clone());
    tracing::subscriber::with_default(subscriber, || {
        let dir = plugins::plugin_dir_with(&["topictable_fixture_test_plugin"]);
        let (registry, errors) = PluginRegistry::load_dir(dir.path());
        assert!(errors.is_empty(), "{errors:?}");
        let mut d = registry
            .new_decoder("echo", &json!({}), Side::Value)
            .unwrap();
        d.decode(&values(&[Some(b"a"), Some(b"b")]).view()).unwrap();
    });
    let lines = captured.0.lock().unwrap().clone();
    let tracing_line = lines
        .iter()
        .find(|l| l.contains("echo decoding via tracing"))
        .unwrap_or_else(|| panic!("{lines:#?}"));
    assert!(
        tracing_line.starts_with("[INFO topictable::plugin]"),
        "{tracing_line}"
    );
    assert!(
        tracing_line.contains("plugin=\"test-plugin\""),
        "{tracing_line}"
    );
    assert!(tracing_line.contains("messages=2"), "{tracing_line}");
    let log_line = lines
        .iter()
        .find(|l| l.contains("echo decoding 2 messages via log"))
        .unwrap_or_else(|| panic!("{lines:#?}"));
    assert!(
        log_line.starts_with("[WARN topictable::plugin]"),
        "{log_line}"
    );
}
