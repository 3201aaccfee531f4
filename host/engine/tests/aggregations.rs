//! Value tests of `agg_by` edge cases: UInt64 columns beyond `i64::MAX`,
//! all-null groups, and floats with nulls, NaN and infinities.

use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::types::{Float64Type, Int64Type, UInt64Type};
use arrow_array::{
    Array, ArrayRef, Float64Array, Int64Array, RecordBatch, StringArray, UInt64Array,
};
use arrow_schema::{DataType, Field, Schema, SchemaRef};
use topictable_engine::{Engine, TableType, avg, count, first, last, max, min, sum, wsum};

fn u64_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("K", DataType::Utf8, false),
        Field::new("U", DataType::UInt64, true),
        Field::new("W", DataType::UInt64, true),
    ]))
}

fn u64_batch(rows: &[(&str, Option<u64>, Option<u64>)]) -> RecordBatch {
    RecordBatch::try_new(
        u64_schema(),
        vec![
            Arc::new(StringArray::from_iter_values(rows.iter().map(|r| r.0))) as ArrayRef,
            Arc::new(UInt64Array::from(
                rows.iter().map(|r| r.1).collect::<Vec<_>>(),
            )),
            Arc::new(UInt64Array::from(
                rows.iter().map(|r| r.2).collect::<Vec<_>>(),
            )),
        ],
    )
    .unwrap()
}

fn col_u64(b: &RecordBatch, name: &str) -> Vec<Option<u64>> {
    let c = b.column_by_name(name).unwrap();
    assert_eq!(c.data_type(), &DataType::UInt64, "{name}");
    let c = c.as_primitive::<UInt64Type>();
    (0..c.len())
        .map(|i| c.is_valid(i).then(|| c.value(i)))
        .collect()
}

fn col_f64(b: &RecordBatch, name: &str) -> Vec<Option<f64>> {
    let c = b.column_by_name(name).unwrap();
    let c = c.as_primitive::<Float64Type>();
    (0..c.len())
        .map(|i| c.is_valid(i).then(|| c.value(i)))
        .collect()
}

fn col_i64(b: &RecordBatch, name: &str) -> Vec<Option<i64>> {
    let c = b.column_by_name(name).unwrap();
    let c = c.as_primitive::<Int64Type>();
    (0..c.len())
        .map(|i| c.is_valid(i).then(|| c.value(i)))
        .collect()
}

fn col_str(b: &RecordBatch, name: &str) -> Vec<Option<String>> {
    let c = b.column_by_name(name).unwrap();
    let c = c.as_string::<i32>();
    (0..c.len())
        .map(|i| c.is_valid(i).then(|| c.value(i).to_string()))
        .collect()
}

const BIG: u64 = (i64::MAX as u64) + 10;

#[test]
fn uint64_values_above_i64_max_are_summed_exactly() {
    // Append input (accumulating) and a ring of 2 (rows removed again).
    for kind in [TableType::Append, TableType::Ring(2)] {
        let engine = Engine::new();
        let t = engine.source_table("u", u64_schema(), kind).unwrap();
        let agg = t
            .agg_by(
                [sum("S = U"), avg("A = U"), wsum("W", "WS = U"), count("C")],
                ["K"],
            )
            .unwrap();
        let w = t.writer().unwrap();
        w.push(u64_batch(&[
            ("a", Some(BIG), Some(1)),
            ("a", Some(5), Some(2)),
        ]))
        .unwrap();
        engine.run_cycle().unwrap();
        let s = agg.snapshot().unwrap();
        assert_eq!(col_u64(&s, "S"), vec![Some(BIG + 5)], "{kind:?}");
        assert_eq!(col_u64(&s, "WS"), vec![Some(BIG + 10)], "{kind:?}");
        assert_eq!(col_f64(&s, "A"), vec![Some((BIG as f64 + 5.0) / 2.0)]);
        // A third row: the ring drops the BIG row, the append table keeps it.
        w.push(u64_batch(&[("a", Some(7), None)])).unwrap();
        engine.run_cycle().unwrap();
        let s = agg.snapshot().unwrap();
        let (sum_now, ws_now) = match kind {
            TableType::Append => (BIG + 12, BIG + 10),
            _ => (12, 10),
        };
        assert_eq!(col_u64(&s, "S"), vec![Some(sum_now)], "{kind:?}");
        assert_eq!(col_u64(&s, "WS"), vec![Some(ws_now)], "{kind:?}");
    }
}

#[test]
fn uint64_min_max_and_signed_weights() {
    let engine = Engine::new();
    let schema = Arc::new(Schema::new(vec![
        Field::new("U", DataType::UInt64, false),
        Field::new("I", DataType::Int64, false),
    ]));
    let t = engine.append_table("u", schema.clone()).unwrap();
    let agg = t
        .agg_by(
            [max("Mx = U"), min("Mn = U"), wsum("I", "WS = U")],
            Vec::<String>::new(),
        )
        .unwrap();
    t.writer()
        .unwrap()
        .push(
            RecordBatch::try_new(
                schema,
                vec![
                    Arc::new(UInt64Array::from(vec![BIG, 3])) as ArrayRef,
                    Arc::new(Int64Array::from(vec![0, -2])),
                ],
            )
            .unwrap(),
        )
        .unwrap();
    engine.run_cycle().unwrap();
    let s = agg.snapshot().unwrap();
    assert_eq!(col_u64(&s, "Mx"), vec![Some(BIG)]);
    assert_eq!(col_u64(&s, "Mn"), vec![Some(3)]);
    // Mixed signedness: Int64 output; BIG × 0 contributes nothing (not null).
    assert_eq!(col_i64(&s, "WS"), vec![Some(-6)]);
}

fn mixed_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("K", DataType::Utf8, false),
        Field::new("V", DataType::Int64, true),
        Field::new("F", DataType::Float64, true),
        Field::new("S", DataType::Utf8, true),
    ]))
}

type MRow<'a> = (&'a str, Option<i64>, Option<f64>, Option<&'a str>);

fn mixed(rows: &[MRow]) -> RecordBatch {
    RecordBatch::try_new(
        mixed_schema(),
        vec![
            Arc::new(StringArray::from_iter_values(rows.iter().map(|r| r.0))) as ArrayRef,
            Arc::new(Int64Array::from(
                rows.iter().map(|r| r.1).collect::<Vec<_>>(),
            )),
            Arc::new(Float64Array::from(
                rows.iter().map(|r| r.2).collect::<Vec<_>>(),
            )),
            Arc::new(StringArray::from(
                rows.iter().map(|r| r.3).collect::<Vec<_>>(),
            )),
        ],
    )
    .unwrap()
}

/// Every documented all-null result, for accumulating and removing inputs.
#[test]
fn all_null_groups() {
    for kind in [TableType::Append, TableType::Blink, TableType::Ring(10)] {
        let engine = Engine::new();
        let t = engine.source_table("m", mixed_schema(), kind).unwrap();
        let agg = t
            .agg_by(
                [
                    sum("SV = V"),
                    sum("SF = F"),
                    min("Mn = F"),
                    max("Mx = S"),
                    avg("A = V"),
                    wsum("V", "W = F"),
                    count("C"),
                    first("Fi = S"),
                    last("La = V"),
                ],
                ["K"],
            )
            .unwrap();
        t.writer()
            .unwrap()
            .push(mixed(&[("n", None, None, None), ("n", None, None, None)]))
            .unwrap();
        engine.run_cycle().unwrap();
        let s = agg.snapshot().unwrap();
        let ctx = format!("{kind:?}");
        assert_eq!(col_i64(&s, "SV"), vec![None], "{ctx}");
        assert_eq!(col_f64(&s, "SF"), vec![None], "{ctx}");
        assert_eq!(col_f64(&s, "Mn"), vec![None], "{ctx}");
        assert_eq!(col_str(&s, "Mx"), vec![None], "{ctx}");
        assert_eq!(col_f64(&s, "A"), vec![None], "{ctx}");
        assert_eq!(col_f64(&s, "W"), vec![None], "{ctx}");
        assert_eq!(col_i64(&s, "C"), vec![Some(2)], "{ctx}");
        assert_eq!(col_str(&s, "Fi"), vec![None], "{ctx}");
        assert_eq!(col_i64(&s, "La"), vec![None], "{ctx}");
    }
}

#[test]
fn floats_with_nulls_nan_and_infinities() {
    for kind in [TableType::Append, TableType::Ring(10)] {
        let engine = Engine::new();
        let t = engine.source_table("m", mixed_schema(), kind).unwrap();
        let agg = t
            .agg_by(
                [
                    sum("S = F"),
                    avg("A = F"),
                    wsum("V", "W = F"),
                    min("Mn = F"),
                    max("Mx = F"),
                    min("SMn = S"),
                    max("SMx = S"),
                ],
                ["K"],
            )
            .unwrap();
        let w = t.writer().unwrap();
        w.push(mixed(&[
            // Nulls are skipped; a null weight skips the row in WSum only.
            ("a", Some(2), Some(1.5), Some("pear")),
            ("a", None, Some(2.5), None),
            ("a", Some(3), None, Some("apple")),
            // Infinities and NaN.
            ("i", Some(1), Some(f64::INFINITY), Some("b")),
            ("i", Some(1), Some(1.0), Some("a")),
            ("x", Some(1), Some(f64::INFINITY), None),
            ("x", Some(1), Some(f64::NEG_INFINITY), None),
            ("n", Some(1), Some(f64::NAN), None),
            ("n", Some(1), Some(5.0), None),
        ]))
        .unwrap();
        engine.run_cycle().unwrap();
        let s = agg.snapshot().unwrap();
        let keys = col_str(&s, "K");
        let at = |k: &str| keys.iter().position(|x| x.as_deref() == Some(k)).unwrap();
        let f = |name: &str, k: &str| col_f64(&s, name)[at(k)];
        let st = |name: &str, k: &str| col_str(&s, name)[at(k)].clone();
        let ctx = format!("{kind:?}");
        assert_eq!(f("S", "a"), Some(4.0), "{ctx}");
        assert_eq!(f("A", "a"), Some(2.0), "{ctx}");
        assert_eq!(f("W", "a"), Some(3.0), "{ctx}");
        assert_eq!((f("Mn", "a"), f("Mx", "a")), (Some(1.5), Some(2.5)));
        assert_eq!(st("SMn", "a").as_deref(), Some("apple"));
        assert_eq!(st("SMx", "a").as_deref(), Some("pear"));
        assert_eq!(f("S", "i"), Some(f64::INFINITY), "{ctx}");
        assert_eq!(f("A", "i"), Some(f64::INFINITY), "{ctx}");
        assert_eq!(
            (f("Mn", "i"), f("Mx", "i")),
            (Some(1.0), Some(f64::INFINITY))
        );
        assert!(f("S", "x").unwrap().is_nan(), "+inf + -inf is NaN, {ctx}");
        assert_eq!(f("Mn", "x"), Some(f64::NEG_INFINITY));
        assert!(f("S", "n").unwrap().is_nan(), "{ctx}");
        assert!(f("A", "n").unwrap().is_nan(), "{ctx}");
        // NaN sorts above every number, so it is the Max and never the Min.
        assert!(f("Mx", "n").unwrap().is_nan(), "{ctx}");
        assert_eq!(f("Mn", "n"), Some(5.0), "{ctx}");

        if kind == TableType::Ring(10) {
            // Push enough rows to evict the NaN and infinities: sums recover
            // exactly instead of staying NaN.
            let rows: Vec<MRow> = (0..10).map(|_| ("n", Some(1), Some(1.0), None)).collect();
            w.push(mixed(&rows)).unwrap();
            engine.run_cycle().unwrap();
            let s = agg.snapshot().unwrap();
            assert_eq!(col_str(&s, "K"), vec![Some("n".to_string())]);
            assert_eq!(col_f64(&s, "S"), vec![Some(10.0)]);
            assert_eq!(col_f64(&s, "Mx"), vec![Some(1.0)]);
        }
    }
}
