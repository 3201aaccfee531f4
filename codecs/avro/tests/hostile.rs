//! Hostile datums: a few bytes that claim 2^62 items of a type that takes
//! no bytes (`null`, empty records) are a row error, found at once, in
//! decoded and in skipped fields alike; the rows around them decode.

use std::sync::mpsc;
use std::time::Duration;

use serde_json::{Value, json};
use topictable_codec_avro::AvroCodec;
use topictable_sdk::{Codec, Decoded, Decoder, MessageBatchBuilder, Side};

fn raw(schema: Value, extra: Value) -> Box<dyn Decoder> {
    let mut config = json!({"protocol": "raw", "schema": schema.to_string()});
    for (k, v) in extra.as_object().unwrap() {
        config[k] = v.clone();
    }
    let config = AvroCodec.description().config.validate(&config).unwrap();
    AvroCodec.new_decoder(&config, Side::Value).unwrap()
}

/// Zigzag varint of `v`.
fn long(v: i64) -> Vec<u8> {
    let mut n = ((v << 1) ^ (v >> 63)) as u64;
    let mut out = Vec::new();
    loop {
        if n < 0x80 {
            out.push(n as u8);
            return out;
        }
        out.push((n as u8 & 0x7f) | 0x80);
        n >>= 7;
    }
}

/// Decodes `messages` on another thread; fails the test if that takes
/// more than 20 s (without the item limit these loop for 2^62 items).
fn decode_in_time(mut d: Box<dyn Decoder>, messages: Vec<Vec<u8>>) -> Decoded {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut b = MessageBatchBuilder::default();
        for (i, m) in messages.iter().enumerate() {
            b.push("t", 0, i as i64, None, None, Some(m), &[]);
        }
        let _ = tx.send(d.decode(&b.finish().view()).unwrap());
    });
    rx.recv_timeout(Duration::from_secs(20))
        .expect("decoding a hostile datum must end at once")
}

/// A good row, the hostile one, a good row: one row error, for row 1,
/// naming the item limit.
fn check(schema: Value, extra: Value, good: Vec<u8>, hostile: Vec<u8>) {
    let out = decode_in_time(raw(schema, extra), vec![good.clone(), hostile, good]);
    assert_eq!(out.batch.num_rows(), 3);
    assert_eq!(out.errors.len(), 1, "{:?}", out.errors);
    assert_eq!(out.errors[0].row, 1);
    assert!(
        out.errors[0].message.contains("limit of"),
        "{}",
        out.errors[0].message
    );
}

fn record(fields: Value) -> Value {
    json!({"type": "record", "name": "T", "fields": fields})
}

#[test]
fn an_array_of_nulls_claiming_2_pow_62_items() {
    let schema = record(json!([{"name": "a", "type": {"type": "array", "items": "null"}}]));
    let good = [long(3), long(0)].concat();
    let hostile = [long(1 << 62), long(0)].concat();
    check(schema, json!({}), good, hostile);
}

#[test]
fn nested_arrays_of_empty_records() {
    let empty = json!({"type": "record", "name": "E", "fields": []});
    let schema = record(json!([{"name": "a", "type": {"type": "array",
        "items": {"type": "array", "items": empty}}}]));
    let good = [long(1), long(2), long(0), long(0)].concat();
    // Three inner arrays of 2^40 empty records each.
    let inner = [long(1 << 40), long(0)].concat();
    let hostile = [long(3), inner.clone(), inner.clone(), inner, long(0)].concat();
    check(schema, json!({}), good, hostile);
}

#[test]
fn a_map_of_nulls_and_negative_block_counts() {
    let schema = record(json!([{"name": "m", "type": {"type": "map", "values": "null"}}]));
    let good = [long(1), long(1), b"k".to_vec(), long(0)].concat();
    // A negative count comes with a byte size: -(2^62) entries "in" 1 byte.
    let hostile = [long(-(1 << 62)), long(1), b"k".to_vec(), long(0)].concat();
    check(schema, json!({}), good, hostile);
}

#[test]
fn a_skipped_array_of_nulls() {
    // `a` is not mapped, so it is skipped, not decoded: the same limit holds.
    let schema = record(json!([
        {"name": "a", "type": {"type": "array", "items": "null"}},
        {"name": "b", "type": "long"}
    ]));
    let extra = json!({"mapping_only": {"b": "B"}});
    let good = [long(2), long(0), long(7)].concat();
    let hostile = [long(1 << 62), long(0), long(7)].concat();
    check(schema, extra, good, hostile);
}

#[test]
fn arrays_of_nulls_within_the_limit_still_decode() {
    let schema = record(json!([{"name": "a", "type": {"type": "array", "items": "null"}}]));
    // 60,000 nulls in four bytes: under the 65,536 items any datum may hold.
    let datum = [long(60_000), long(0)].concat();
    let out = decode_in_time(raw(schema, json!({})), vec![datum]);
    assert!(out.errors.is_empty(), "{:?}", out.errors);
    assert_eq!(out.batch.num_rows(), 1);
}

/// 60 records, each with two fields of the next: 2^60 paths from 60
/// types, the last holding one `leaf`. Each type is defined in a field of
/// its own (names let the definitions stay shallow), the deepest first.
fn doubling_schema_of(leaf: &str) -> Value {
    let mut fields = vec![
        json!({"name": "r60", "type": {"type": "record", "name": "R60",
        "fields": [{"name": "v", "type": leaf}]}}),
    ];
    for i in (0..60).rev() {
        let next = format!("R{}", i + 1);
        fields.push(json!({"name": format!("r{i}"), "type": {"type": "record",
        "name": format!("R{i}"), "fields": [
            {"name": "a", "type": next.clone()},
            {"name": "b", "type": next},
        ]}}));
    }
    fields.push(json!({"name": "id", "type": "long"}));
    record(json!(fields))
}

fn doubling_schema() -> Value {
    doubling_schema_of("long")
}

/// The decoder for `schema`, or the error it was refused with.
fn try_raw(schema: &Value, extra: Value) -> Result<Box<dyn Decoder>, String> {
    let mut config = json!({"protocol": "raw", "schema": schema.to_string()});
    for (k, v) in extra.as_object().unwrap() {
        config[k] = v.clone();
    }
    let config = AvroCodec.description().config.validate(&config).unwrap();
    AvroCodec
        .new_decoder(&config, Side::Value)
        .map_err(|e| e.to_string())
}

/// Builds the decoder for `schema` and decodes `datum` with it, on another
/// thread; the decoder's refusal or the row's error (empty when the row
/// decoded), or a failed test after 20 s.
fn plan_and_decode_in_time(schema: Value, extra: Value, datum: Vec<u8>) -> String {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let err = match try_raw(&schema, extra) {
            Err(e) => e,
            Ok(mut d) => {
                let mut b = MessageBatchBuilder::default();
                b.push("t", 0, 0, None, None, Some(&datum), &[]);
                let out = d.decode(&b.finish().view()).unwrap();
                out.errors
                    .first()
                    .map(|e| e.message.clone())
                    .unwrap_or_default()
            }
        };
        let _ = tx.send(err);
    });
    rx.recv_timeout(Duration::from_secs(20))
        .expect("the schema must be planned or refused at once, not expanded")
}

/// Read into columns, each of the 2^60 paths would be columns of its own:
/// the schema is refused at once with a clear error.
#[test]
fn a_schema_that_doubles_at_every_level_is_refused_at_once_when_read() {
    let err = plan_and_decode_in_time(doubling_schema(), json!({}), long(1));
    assert!(err.contains("expands to more than"), "{err}");
}

/// Skipped (not mapped), each named record is planned once and shared by
/// every field of its type, so the same schema is taken at once. A datum
/// would need 2^60 longs; the one given ends early, which is a row error
/// found at once (the datum's bytes bound the steps of a skip).
#[test]
fn a_skipped_schema_that_doubles_at_every_level_plans_each_record_once() {
    let err = plan_and_decode_in_time(
        doubling_schema(),
        json!({"mapping_only": {"id": "Id"}}),
        [long(1), long(2), long(3)].concat(),
    );
    assert!(err.contains("truncated datum"), "{err}");
}

/// The same with records that take no bytes (their leaf is `null`): the
/// skip of 2^60 nulls is nothing, and the row decodes.
#[test]
fn a_skipped_doubling_schema_of_nulls_decodes_its_rows() {
    let err = plan_and_decode_in_time(
        doubling_schema_of("null"),
        json!({"mapping_only": {"id": "Id"}}),
        long(42),
    );
    assert_eq!(err, "", "the row decodes");
}

/// Found by the `avro_raw` fuzz target: a row that fails inside a map or
/// list entry (the key or item written, the rest missing) left the entry
/// in the child columns, because the map's own row was not written yet
/// and the rollback stopped there: the next batch's map came out with keys
/// and values of different lengths. Now the rollback cuts the children
/// too, and the rows around the failed one decode.
#[test]
fn a_row_failing_inside_a_map_or_list_entry_leaves_no_half_entry() {
    let schema = record(json!([
        {"name": "m", "type": {"type": "map", "values": ["null", "boolean", "bytes"]}},
        {"name": "l", "type": {"type": "array", "items": {"type": "record", "name": "I",
            "fields": [{"name": "x", "type": "long"}, {"name": "y", "type": ["null", "long"]}]}}}
    ]));
    // m = {"a": true}, l = [{x: 5, y: 6}]
    let good = [
        long(1),
        long(1),
        b"a".to_vec(),
        long(1),
        vec![1],
        long(0),
        long(1),
        long(5),
        long(1),
        long(6),
        long(0),
    ]
    .concat();
    // The map's key, then the end of the datum (no union branch).
    let in_map = [long(1), long(1), b"a".to_vec()].concat();
    // A whole map, then a list item with `x` and no `y`.
    let in_list = [long(0), long(1), long(5)].concat();
    for (what, hostile) in [("map", in_map), ("list", in_list)] {
        let mut d = raw(schema.clone(), json!({"unions": "union"}));
        for _ in 0..2 {
            let mut b = MessageBatchBuilder::default();
            for (i, m) in [&good, &hostile, &good].into_iter().enumerate() {
                b.push("t", 0, i as i64, None, None, Some(m), &[]);
            }
            let out = d.decode(&b.finish().view()).expect("the batch decodes");
            assert_eq!(out.batch.num_rows(), 3, "{what}");
            assert_eq!(out.errors.len(), 1, "{what}: {:?}", out.errors);
            assert_eq!(out.errors[0].row, 1, "{what}");
            for column in out.batch.columns() {
                column.to_data().validate_full().expect("valid Arrow");
                assert!(column.is_null(1), "{what}: the failed row is null");
                assert!(column.is_valid(2), "{what}: the row after it decodes");
            }
        }
    }
}

/// Found by the `avro_schema` fuzz target: a `fixed` of size 0 (legal
/// Avro) came out as an Arrow column of length 0 whatever the row count,
/// so a map of them failed the whole batch.
#[test]
fn fixed_of_size_zero_has_one_value_per_row() {
    let zero = json!({"type": "fixed", "name": "Z", "size": 0});
    let schema = record(json!([
        {"name": "f", "type": zero},
        {"name": "m", "type": {"type": "map", "values": "Z"}}
    ]));
    // f (no bytes), m = {"a": z, "b": z}
    let datum = [
        long(2),
        long(1),
        b"a".to_vec(),
        long(1),
        b"b".to_vec(),
        long(0),
    ]
    .concat();
    let out = decode_in_time(raw(schema, json!({})), vec![datum.clone(), datum]);
    assert!(out.errors.is_empty(), "{:?}", out.errors);
    assert_eq!(out.batch.num_rows(), 2);
    for column in out.batch.columns() {
        assert_eq!(column.len(), 2);
        column.to_data().validate_full().expect("valid Arrow");
    }
}

/// Schema ids come from the messages: a stream of random ids (unknown to
/// the registry) must not grow the decoder's per-id cache without bound.
#[test]
fn random_schema_ids_keep_the_program_cache_bounded() {
    use topictable_codec_avro::{AvroConfig, AvroDecoder};
    use topictable_schema_registry::MAX_CACHED_SCHEMAS;
    let registry = topictable_registry_server::spawn("127.0.0.1:0").unwrap();
    let config = json!({"schema_registry_url": registry.url(), "schema": "\"long\"",
        "column": "v"});
    let config = AvroCodec.description().config.validate(&config).unwrap();
    let mut d = AvroDecoder::new(&AvroConfig::from_map(&config).unwrap(), Side::Value).unwrap();
    let mut id = 7u32;
    for _ in 0..5 {
        let mut b = MessageBatchBuilder::default();
        for i in 0..1000 {
            id = id.wrapping_mul(2_654_435_761).wrapping_add(1);
            let mut m = vec![0];
            m.extend_from_slice(&id.to_be_bytes());
            m.extend(long(i));
            b.push("t", 0, i, None, None, Some(&m), &[]);
        }
        let out = d.decode(&b.finish().view()).unwrap();
        // The registry knows none of them: every row names its id.
        assert_eq!(out.errors.len(), 1000);
        assert!(
            out.errors[0].message.contains("404"),
            "{}",
            out.errors[0].message
        );
        assert!(d.cached_writer_schemas() <= MAX_CACHED_SCHEMAS);
    }
    assert_eq!(d.cached_writer_schemas(), MAX_CACHED_SCHEMAS);
}

/// A registry that cannot be reached is not a bad record: the row comes
/// back marked `retry` (the host holds the partition and decodes it again).
/// An id the registry does not know (404) stays a record error.
#[test]
fn an_unreachable_registry_marks_rows_for_retry_and_a_404_does_not() {
    let dead = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let dead_url = format!("http://{}", dead.local_addr().unwrap());
    drop(dead);
    let live = topictable_registry_server::spawn("127.0.0.1:0").unwrap();
    for (url, retry) in [(dead_url, true), (live.url(), false)] {
        let config = json!({"schema_registry_url": url, "schema": "\"long\"", "column": "v"});
        let config = AvroCodec.description().config.validate(&config).unwrap();
        let mut d = AvroCodec.new_decoder(&config, Side::Value).unwrap();
        let framed = [vec![0, 0, 0, 0, 42], long(7)].concat();
        let mut b = MessageBatchBuilder::default();
        b.push("t", 0, 0, None, None, Some(&framed), &[]);
        b.push("t", 0, 1, None, None, Some(&framed), &[]);
        let out = d.decode(&b.finish().view()).unwrap();
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

/// A reader field the writer lacks takes its default, so a 6-byte message
/// can be a long string in the output: a batch whose strings pass 2 GiB,
/// past Arrow's 32-bit offsets, marks the rows past that point `BatchFull`
/// (the host decodes them again in a batch of their own); the rows before
/// decode.
#[test]
fn rows_that_would_take_a_column_past_2_gib_go_to_a_batch_of_their_own() {
    use topictable_registry_server as server;
    use topictable_schema_registry::{ClientConfig, RegistryClient, Schema};
    const DEFAULT: usize = 100_000;
    let registry = server::spawn("127.0.0.1:0").unwrap();
    let client = RegistryClient::new(ClientConfig::new(&registry.url())).unwrap();
    let writer = json!({"type": "record", "name": "R", "fields": [{"name": "a", "type": "int"}]});
    let default = "x".repeat(DEFAULT);
    let reader = json!({"type": "record", "name": "R", "fields": [
        {"name": "a", "type": "int"},
        {"name": "s", "type": "string", "default": default}]});
    let writer_id = client
        .register("w", &Schema::avro(writer.to_string()))
        .unwrap();
    client
        .register("t-value", &Schema::avro(reader.to_string()))
        .unwrap();
    let mut message = vec![0u8];
    message.extend(writer_id.to_be_bytes());
    message.extend(long(7));
    let config = json!({"schema_registry_url": registry.url(), "topic": "t"});
    let config = AvroCodec.description().config.validate(&config).unwrap();
    let d = AvroCodec.new_decoder(&config, Side::Value).unwrap();
    let fit = i32::MAX as usize / DEFAULT; // rows whose defaults fit
    let out = decode_in_time(d, vec![message; fit + 3]);
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
    use arrow_array::Array;
    let s = out.batch.column_by_name("s").unwrap();
    let s = s
        .as_any()
        .downcast_ref::<arrow_array::StringArray>()
        .unwrap();
    assert_eq!(s.value(fit - 1).len(), DEFAULT);
    assert!(s.is_null(fit) && s.is_null(fit + 2));
}
