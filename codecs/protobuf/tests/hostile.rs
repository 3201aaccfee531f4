//! Hostile schemas: a message set that doubles at every level (60 messages,
//! each with two fields of the next: 2^60 flattened fields) is refused at
//! once with a clear error, not expanded.

use std::sync::mpsc;
use std::time::Duration;

use arrow_array::cast::AsArray;
use arrow_array::types::Int64Type;
use serde_json::json;
use topictable_codec_protobuf::ProtobufCodec;
use topictable_sdk::{Codec, Side};

/// Builds a decoder for the doubling message set (M0 also holds `int64 id =
/// 3`) with `extra` config, and decodes `messages` with it, on another
/// thread: the decoder's refusal, or the decoded rows' ids; a failed test
/// after 20 s.
fn doubling_message(extra: serde_json::Value, messages: Vec<Vec<u8>>) -> Result<Vec<i64>, String> {
    static RUNS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let run = RUNS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!("tt-hostile-proto-{}-{run}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut proto = String::from("syntax = \"proto3\";\npackage hostile;\n");
    proto.push_str("message M0 { M1 a = 1; M1 b = 2; int64 id = 3; }\n");
    for i in 1..60 {
        proto.push_str(&format!(
            "message M{i} {{ M{n} a = 1; M{n} b = 2; }}\n",
            n = i + 1
        ));
    }
    proto.push_str("message M60 { int64 v = 1; }\n");
    std::fs::write(dir.join("hostile.proto"), proto).unwrap();
    let mut config = json!({"protocol": "raw", "message": "hostile.M0",
        "proto_files": dir.join("hostile.proto").to_str().unwrap(),
        "proto_include": dir.to_str().unwrap()});
    for (k, v) in extra.as_object().unwrap() {
        config[k] = v.clone();
    }
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let config = ProtobufCodec
            .description()
            .config
            .validate(&config)
            .unwrap();
        let result = ProtobufCodec
            .new_decoder(&config, Side::Value)
            .map_err(|e| e.to_string())
            .map(|mut d| {
                let refs: Vec<&[u8]> = messages.iter().map(Vec::as_slice).collect();
                let out = decode(d.as_mut(), &refs);
                assert!(out.errors.is_empty(), "{:?}", out.errors);
                out.batch
                    .column_by_name("id")
                    .expect("an id column")
                    .as_primitive::<Int64Type>()
                    .values()
                    .to_vec()
            });
        let _ = tx.send(result);
    });
    let result = rx
        .recv_timeout(Duration::from_secs(20))
        .expect("the message must be planned or refused at once, not expanded");
    let _ = std::fs::remove_dir_all(&dir);
    result
}

#[test]
fn a_message_that_doubles_at_every_level_is_refused_at_once() {
    let err =
        doubling_message(json!({}), Vec::new()).expect_err("a 2^60-field message must be refused");
    assert!(err.contains("expands to more than"), "{err}");
}

/// A message field that `include` or `exclude` leaves out is skipped
/// without planning what it holds: the same message set is taken at once,
/// and its rows decode (the left-out fields skipped on the wire).
#[test]
fn a_doubling_message_left_out_by_include_or_exclude_is_not_planned() {
    // id = 7, then a = {} (empty M1), then id = 9 (the last one wins).
    let message = vec![0x18, 7, 0x0a, 0, 0x18, 9];
    for extra in [
        json!({"include": "/id"}),
        json!({"exclude": ["/a", "/b"]}),
        json!({"include": ["/id", "/a/b/a/x"]}),
    ] {
        let ids = doubling_message(extra.clone(), vec![message.clone()])
            .unwrap_or_else(|e| panic!("{extra}: {e}"));
        assert_eq!(ids, [9], "{extra}");
    }
}

fn inline_decoder(schema: &str, message: &str) -> Box<dyn topictable_sdk::Decoder> {
    let config = json!({"protocol": "raw", "message": message, "schema": schema});
    let config = ProtobufCodec
        .description()
        .config
        .validate(&config)
        .unwrap();
    ProtobufCodec.new_decoder(&config, Side::Value).unwrap()
}

fn decode(d: &mut dyn topictable_sdk::Decoder, messages: &[&[u8]]) -> topictable_sdk::Decoded {
    let mut b = topictable_sdk::MessageBatchBuilder::default();
    for (i, m) in messages.iter().enumerate() {
        b.push("t", 0, i as i64, None, None, Some(m), &[]);
    }
    let out = d.decode(&b.finish().view()).expect("the batch decodes");
    for column in out.batch.columns() {
        column.to_data().validate_full().expect("valid Arrow");
    }
    out
}

/// Found by the `protobuf_schema` fuzz target: a message type without
/// fields, read as a struct column (here, a map's values), panicked in Arrow (a struct without
/// children cannot tell its length) and failed the whole batch.
#[test]
fn a_message_without_fields_is_a_struct_column() {
    let mut d = inline_decoder(
        "syntax = \"proto3\"; package e; message Empty {} message M { Empty e = 1; int64 v = 2; map<string, Empty> es = 3; }",
        "e.M",
    );
    // e present, v = 5, es = {"k": {}}; then an empty message; then e alone.
    let out = decode(
        d.as_mut(),
        &[
            &[
                0x0a, 0x00, 0x10, 0x05, 0x1a, 0x05, 0x0a, 0x01, b'k', 0x12, 0x00,
            ],
            &[],
            &[0x0a, 0x00],
        ],
    );
    assert!(out.errors.is_empty(), "{:?}", out.errors);
    assert_eq!(out.batch.num_rows(), 3);
}

/// A row that fails inside a repeated message (an item's field cut off)
/// leaves nothing of that item in the child columns: the rows around it
/// decode, in this batch and the next.
#[test]
fn a_row_failing_inside_a_repeated_message_leaves_no_half_item() {
    let mut d = inline_decoder(
        "syntax = \"proto3\"; package r; message Item { int64 x = 1; string s = 2; } \
         message M { repeated Item items = 1; int64 v = 2; }",
        "r.M",
    );
    // items = [{x: 1, s: "ab"}], v = 3
    let good: &[u8] = &[0x0a, 0x06, 0x08, 0x01, 0x12, 0x02, b'a', b'b', 0x10, 0x03];
    // An item whose string claims 5 bytes and has 2.
    let bad: &[u8] = &[0x0a, 0x06, 0x08, 0x01, 0x12, 0x05, b'a', b'b'];
    for _ in 0..2 {
        let out = decode(d.as_mut(), &[good, bad, good]);
        assert_eq!(out.errors.len(), 1, "{:?}", out.errors);
        assert_eq!(out.errors[0].row, 1);
        assert_eq!(out.batch.num_rows(), 3);
    }
}

/// Schema ids and message indexes come from the messages: random ones must
/// not grow the decoder's writer cache without bound; and without a
/// registry (the id unused) one index path is planned once, whatever the ids.
#[test]
fn random_ids_and_indexes_keep_the_writer_cache_bounded() {
    use topictable_codec_protobuf::{ProtobufConfig, ProtobufDecoder};
    use topictable_schema_registry::MAX_CACHED_SCHEMAS;
    use topictable_sdk::Decoder;
    let config = json!({"protocol": "confluent", "message": "c.M",
        "schema": "syntax = \"proto3\"; package c; message M { int64 v = 1; }"});
    let config = ProtobufCodec
        .description()
        .config
        .validate(&config)
        .unwrap();
    let mut d =
        ProtobufDecoder::new(&ProtobufConfig::from_map(&config).unwrap(), Side::Value).unwrap();
    let mut id = 7u32;
    let mut batch = |d: &mut ProtobufDecoder, index: &dyn Fn(i64) -> Vec<u8>| {
        let mut b = topictable_sdk::MessageBatchBuilder::default();
        for i in 0..1000 {
            id = id.wrapping_mul(2_654_435_761).wrapping_add(1);
            let mut m = vec![0];
            m.extend_from_slice(&id.to_be_bytes());
            m.extend(index(i));
            m.extend([0x08, 0x05]);
            b.push("t", 0, i, None, None, Some(&m), &[]);
        }
        d.decode(&b.finish().view()).unwrap()
    };
    // Index [0] (the single byte 0) under 1,000 random ids: one writer.
    let out = batch(&mut d, &|_| vec![0]);
    assert!(out.errors.is_empty(), "{:?}", &out.errors[..1]);
    assert_eq!(d.cached_writers(), 1);
    // Paths [0, i] (none exists): a writer each, up to the bound.
    for round in 0..3 {
        let out = batch(&mut d, &|i| {
            let n = (round * 1000 + i) as u64;
            let mut path = vec![4]; // two indexes, zigzag
            path.push(0);
            let mut z = n << 1;
            while z >= 0x80 {
                path.push((z as u8 & 0x7f) | 0x80);
                z >>= 7;
            }
            path.push(z as u8);
            path
        });
        assert_eq!(out.errors.len(), 1000);
        assert!(d.cached_writers() <= MAX_CACHED_SCHEMAS);
    }
    assert_eq!(d.cached_writers(), MAX_CACHED_SCHEMAS);
}

/// A registry that cannot be reached is not a bad record: the row comes
/// back marked `retry`; an id the registry does not know (404) stays a
/// record error.
#[test]
fn an_unreachable_registry_marks_rows_for_retry_and_a_404_does_not() {
    let dead = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let dead_url = format!("http://{}", dead.local_addr().unwrap());
    drop(dead);
    let live = topictable_registry_server::spawn("127.0.0.1:0").unwrap();
    for (url, retry) in [(dead_url, true), (live.url(), false)] {
        let config = json!({"schema_registry_url": url, "message": "c.M",
            "schema": "syntax = \"proto3\"; package c; message M { int64 v = 1; }"});
        let config = ProtobufCodec
            .description()
            .config
            .validate(&config)
            .unwrap();
        let mut d = ProtobufCodec.new_decoder(&config, Side::Value).unwrap();
        let framed: &[u8] = &[0, 0, 0, 0, 42, 0, 0x08, 0x05];
        let out = decode(d.as_mut(), &[framed, framed]);
        assert_eq!(out.errors.len(), 2, "{url}");
        assert!(
            out.errors
                .iter()
                .all(|e| (e.kind == topictable_sdk::RowErrorKind::RetryLater) == retry),
            "{url}: {:?}",
            out.errors
        );
    }
}

/// Two bytes of input can be a long enum value name in the output: a batch
/// whose names pass 2 GiB, past Arrow's 32-bit offsets, fails only the rows
/// past that point, each marked `BatchFull` (the host decodes them again
/// in a batch of their own); the rows before decode.
#[test]
fn rows_that_would_take_a_column_past_2_gib_go_to_a_batch_of_their_own() {
    const NAME: usize = 100_000;
    let long_name = format!("V{}", "X".repeat(NAME - 1));
    let schema = format!(
        "syntax = \"proto3\"; package big; enum E {{ ZERO = 0; {long_name} = 1; }} message M {{ E e = 1; }}"
    );
    let mut d = inline_decoder(&schema, "big.M");
    let message: &[u8] = &[0x08, 0x01]; // e = 1
    let fit = i32::MAX as usize / NAME; // rows whose names fit
    let messages = vec![message; fit + 3];
    let out = decode(d.as_mut(), &messages);
    let rows: Vec<usize> = out.errors.iter().map(|e| e.row).collect();
    assert_eq!(rows, vec![fit, fit + 1, fit + 2]);
    assert!(
        out.errors[0].message.contains("past 2 GiB"),
        "{}",
        out.errors[0].message
    );
    assert!(
        out.errors
            .iter()
            .all(|e| e.kind == topictable_sdk::RowErrorKind::BatchFull),
        "the host decodes them again in a batch of their own"
    );
    let names = out
        .batch
        .column(0)
        .as_any()
        .downcast_ref::<arrow_array::StringArray>()
        .unwrap();
    assert_eq!(names.value(fit - 1), long_name);
    use arrow_array::Array;
    assert!(names.is_null(fit) && names.is_null(fit + 2));
}
