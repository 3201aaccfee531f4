//! `update`, `select` and SQL `where`: values, row variables, volatile
//! functions, validation errors, and a property test that the incremental
//! results equal the formulas evaluated from scratch on the input's rows.

mod common;

use arrow_array::cast::AsArray;
use arrow_array::types::{Float64Type, Int32Type, Int64Type};
use arrow_array::{Array, RecordBatch};
use arrow_schema::DataType;
use common::*;
use proptest::prelude::*;
use topictable_engine::{Engine, EngineError, Table, TableType};

type Row = KvfRow;

fn row(k: &str, v: i64, f: f64) -> Row {
    (Some(k.to_string()), Some(v), f)
}

fn i32s(b: &RecordBatch, name: &str) -> Vec<i32> {
    b.column_by_name(name)
        .unwrap()
        .as_primitive::<Int32Type>()
        .values()
        .to_vec()
}

fn push(t: &Table, rows: &[Row]) {
    t.writer().unwrap().push(kvf_batch(rows)).unwrap();
    t.engine().run_cycle().unwrap();
}

#[test]
fn update_adds_and_replaces_columns_and_later_formulas_see_earlier_ones() {
    let engine = Engine::new();
    let src = engine.append_table("src", kvf_schema()).unwrap();
    let t = src
        .update([
            "X = i",
            "Notional = V * F",
            "Side = CASE WHEN V > 0 THEN 'BUY' ELSE 'SELL' END",
            "F = F * 2",
            "Twice = Notional * 2",
        ])
        .unwrap();
    let names: Vec<_> = t
        .schema()
        .fields()
        .iter()
        .map(|f| f.name().clone())
        .collect();
    assert_eq!(names, ["K", "V", "F", "X", "Notional", "Side", "Twice"]);
    assert_eq!(
        t.schema().field_with_name("X").unwrap().data_type(),
        &DataType::Int32
    );
    push(&src, &[row("a", 2, 1.5), row("b", -1, 4.0)]);
    push(&src, &[row("c", 3, 0.5)]);
    let s = t.snapshot().unwrap();
    assert_eq!(i32s(&s, "X"), [0, 1, 2]);
    assert_eq!(f64s(&s, "Notional"), [Some(3.0), Some(-4.0), Some(1.5)]);
    assert_eq!(f64s(&s, "F"), [Some(3.0), Some(8.0), Some(1.0)]);
    assert_eq!(f64s(&s, "Twice"), [Some(6.0), Some(-8.0), Some(3.0)]);
    let side: Vec<_> = strs(&s, "Side").into_iter().flatten().collect();
    assert_eq!(side, ["BUY", "SELL", "BUY"]);
}

#[test]
fn rows_already_in_the_input_are_computed_when_the_table_is_built() {
    let engine = Engine::new();
    let src = engine.append_table("src", kvf_schema()).unwrap();
    push(&src, &[row("a", 1, 1.0), row("b", 2, 2.0)]);
    let t = src.update(["II = ii", "W = V + 10"]).unwrap();
    push(&src, &[row("c", 3, 3.0)]);
    let s = t.snapshot().unwrap();
    assert_eq!(i64s(&s, "II"), [Some(0), Some(1), Some(2)]);
    assert_eq!(i64s(&s, "W"), [Some(11), Some(12), Some(13)]);
}

#[test]
fn select_keeps_only_the_listed_columns_in_their_order() {
    let engine = Engine::new();
    let src = engine.append_table("src", kvf_schema()).unwrap();
    let t = src.select(["W = V * 3", "K", "Key = K"]).unwrap();
    let names: Vec<_> = t
        .schema()
        .fields()
        .iter()
        .map(|f| f.name().clone())
        .collect();
    assert_eq!(names, ["W", "K", "Key"]);
    push(&src, &[row("a", 1, 1.0), row("b", 2, 2.0)]);
    let s = t.snapshot().unwrap();
    assert_eq!(i64s(&s, "W"), [Some(3), Some(6)]);
    assert_eq!(strs(&s, "Key"), strs(&s, "K"));
    // Only bare columns: nothing is computed, rows still line up.
    let only = src.select(["K"]).unwrap();
    push(&src, &[row("c", 3, 3.0)]);
    assert_eq!(only.snapshot().unwrap().num_rows(), 3);
}

#[test]
fn i_counts_per_cycle_in_a_blink_table_and_k_is_the_row_key() {
    let engine = Engine::new();
    let src = engine.blink_table("src", kvf_schema()).unwrap();
    let t = src.update(["X = i", "Key = k"]).unwrap();
    push(&src, &[row("a", 1, 1.0), row("b", 2, 2.0)]);
    assert_eq!(i32s(&t.snapshot().unwrap(), "X"), [0, 1]);
    push(&src, &[row("c", 3, 3.0)]);
    let s = t.snapshot().unwrap();
    assert_eq!(i32s(&s, "X"), [0]);
    assert_eq!(i64s(&s, "Key"), [Some(2)]);
}

#[test]
fn volatile_values_are_drawn_once_and_kept_when_the_row_changes() {
    let engine = Engine::new();
    let src = engine.append_table("src", kvf_schema()).unwrap();
    let last = src.last_by(["K"]).unwrap();
    let t = last
        .update([
            "R = randomInt(0, 1000000000)",
            "D = randomDouble(1, 2)",
            "W = V * 2",
            "RW = R + W",
        ])
        .unwrap();
    push(&src, &[row("a", 1, 1.0), row("b", 2, 2.0)]);
    let before = t.snapshot().unwrap();
    assert!(
        f64s(&before, "D")
            .iter()
            .flatten()
            .all(|d| (1.0..2.0).contains(d))
    );
    push(&src, &[row("a", 5, 1.0)]);
    let after = t.snapshot().unwrap();
    assert_eq!(
        i32s(&after, "R"),
        i32s(&before, "R"),
        "random values were re-drawn"
    );
    assert_eq!(f64s(&after, "D"), f64s(&before, "D"));
    assert_eq!(i64s(&after, "W"), [Some(10), Some(4)]);
    let r = i32s(&after, "R");
    assert_eq!(
        i64s(&after, "RW"),
        [Some(r[0] as i64 + 10), Some(r[1] as i64 + 4)]
    );
}

#[test]
fn now_is_the_time_the_row_was_added() {
    let engine = Engine::new();
    let src = engine.append_table("src", kvf_schema()).unwrap();
    let t = src.update(["Added = now()"]).unwrap();
    push(&src, &[row("a", 1, 1.0)]);
    std::thread::sleep(std::time::Duration::from_millis(20));
    push(&src, &[row("b", 1, 1.0)]);
    let s = t.snapshot().unwrap();
    let added = s.column_by_name("Added").unwrap();
    let ts = added.as_primitive::<arrow_array::types::TimestampNanosecondType>();
    assert!(ts.value(1) - ts.value(0) >= 20_000_000, "{ts:?}");
}

fn reason(e: EngineError) -> String {
    e.to_string()
}

#[test]
fn an_unknown_column_or_type_error_fails_when_the_table_is_built() {
    let engine = Engine::new();
    let src = engine.append_table("src", kvf_schema()).unwrap();
    let e = reason(src.update(["N = V * Prise"]).unwrap_err());
    assert!(e.contains("Prise") && e.contains("at column 9"), "{e}");
    assert!(e.contains("N = V * Prise"), "{e}");
    let e = reason(src.update(["N = K * 2"]).unwrap_err());
    assert!(e.contains("Utf8"), "{e}");
    let e = reason(src.update(["N = sum(V)"]).unwrap_err());
    assert!(e.contains("aggregate"), "{e}");
    let e = reason(src.where_(["V + 1"]).unwrap_err());
    assert!(e.contains("true or false"), "{e}");
    let e = reason(src.where_(["randomDouble(0, 1) < 0.5"]).unwrap_err());
    assert!(e.contains("volatile"), "{e}");
    // Text compared with an unquoted word: the hint, not SQL's unknown column.
    let e = reason(src.where_(["K == AAPL"]).unwrap_err());
    assert!(e.contains("quote the literal"), "{e}");
    let keyed = src.last_by(["K"]).unwrap();
    let e = reason(keyed.update(["X = i"]).unwrap_err());
    assert!(e.contains("position") && e.contains("`k`"), "{e}");
}

#[test]
fn where_takes_any_boolean_expression() {
    let engine = Engine::new();
    let src = engine.append_table("src", kvf_schema()).unwrap();
    let t = src
        .where_(["V > 1 AND K IN ('a', 'c')", "F * 2 < 100"])
        .unwrap();
    let dh = src.where_(["K == `b` OR K = 'c'"]).unwrap();
    push(
        &src,
        &[
            row("a", 2, 1.0),
            row("a", 1, 1.0),
            row("b", 5, 1.0),
            row("c", 9, 60.0),
            row("c", 9, 1.0),
        ],
    );
    assert_eq!(i64s(&t.snapshot().unwrap(), "V"), [Some(2), Some(9)]);
    assert_eq!(dh.snapshot().unwrap().num_rows(), 3);
}

#[test]
fn the_function_families_in_the_docs_work() {
    let engine = Engine::new();
    let src = engine.append_table("src", kvf_schema()).unwrap();
    let t = src
        .select([
            "Abs = abs(V)",
            "Rounded = round(F * 10) / 10",
            "Upper = upper(K)",
            "Len = length(K)",
            "Sub = substr(K, 1, 2)",
            "Matches = regexp_like(K, '^a')",
            "Replaced = regexp_replace(K, 'b+', 'B')",
            "Year = date_part('year', to_timestamp_seconds(V))",
            "Half = CAST(V AS DOUBLE) / 2",
            "Filled = coalesce(V, -1)",
            "Kind = CASE WHEN V IS NULL THEN 'none' WHEN V % 2 = 0 THEN 'even' ELSE 'odd' END",
            "Joined = concat(K, '-', CAST(V AS VARCHAR))",
            "Starts = starts_with(K, 'ab')",
            "Like = K LIKE 'a%'",
            "Missing = V IS NULL",
            "Div = V / 2",
        ])
        .unwrap();
    push(
        &src,
        &[
            row("abbb", -3, 1.26),
            (Some("bb".to_string()), None, 2.0),
            row("ab", 1_704_067_200, 0.0),
        ],
    );
    let s = t.snapshot().unwrap();
    assert_eq!(i64s(&s, "Abs")[0], Some(3));
    assert_eq!(f64s(&s, "Rounded")[0], Some(1.3));
    assert_eq!(strs(&s, "Upper")[0].as_deref(), Some("ABBB"));
    assert_eq!(
        s.column_by_name("Len")
            .unwrap()
            .as_primitive::<Int32Type>()
            .value(0),
        4
    );
    assert_eq!(strs(&s, "Sub")[0].as_deref(), Some("ab"));
    assert!(s.column_by_name("Matches").unwrap().as_boolean().value(0));
    assert!(!s.column_by_name("Matches").unwrap().as_boolean().value(1));
    assert_eq!(strs(&s, "Replaced")[0].as_deref(), Some("aB"));
    let year = s.column_by_name("Year").unwrap();
    let year = arrow_cast::cast(year, &DataType::Int64).unwrap();
    assert_eq!(year.as_primitive::<Int64Type>().value(2), 2024);
    assert_eq!(f64s(&s, "Half")[0], Some(-1.5));
    assert_eq!(i64s(&s, "Filled")[1], Some(-1));
    let kinds: Vec<_> = strs(&s, "Kind").into_iter().flatten().collect();
    assert_eq!(kinds, ["odd", "none", "even"]);
    assert_eq!(strs(&s, "Joined")[0].as_deref(), Some("abbb--3"));
    let flag = |name: &str, i: usize| s.column_by_name(name).unwrap().as_boolean().value(i);
    assert!(flag("Starts", 0) && !flag("Starts", 1));
    assert!(flag("Like", 2) && !flag("Like", 1));
    assert!(flag("Missing", 1) && !flag("Missing", 0));
    assert_eq!(i64s(&s, "Div")[0], Some(-1), "integer division truncates");
}

// ---- property test: incremental == from scratch ----

/// The formulas' values for one input row, computed here in Rust.
fn expected(r: &Row) -> (Option<i64>, String, f64, Option<bool>) {
    let w = r.1.map(|v| v * 2 + 1);
    let side = match r.1 {
        Some(v) if v > 0 => "pos",
        _ => "neg",
    };
    let kept = match (&r.0, r.1) {
        (Some(k), Some(v)) => Some(v > 1 && (k == "a" || k == "b")),
        _ => None,
    };
    (w, side.to_string(), r.2 * 2.0, kept)
}

fn rows_of(b: &RecordBatch) -> Vec<Row> {
    let k = b.column_by_name("K").unwrap().as_string::<i32>();
    let v = b.column_by_name("V").unwrap().as_primitive::<Int64Type>();
    let f = b.column_by_name("F").unwrap().as_primitive::<Float64Type>();
    (0..b.num_rows())
        .map(|i| {
            (
                k.is_valid(i).then(|| k.value(i).to_string()),
                v.is_valid(i).then(|| v.value(i)),
                f.value(i),
            )
        })
        .collect()
}

fn check(input: &RecordBatch, updated: &RecordBatch, selected: &RecordBatch, kept: &RecordBatch) {
    let rows = rows_of(input);
    assert_eq!(updated.num_rows(), rows.len());
    assert_eq!(selected.num_rows(), rows.len());
    let w = i64s(updated, "W");
    let side = strs(updated, "Side");
    let f = f64s(updated, "F");
    let z = f64s(selected, "Z");
    for (i, r) in rows.iter().enumerate() {
        let (ew, eside, ef, _) = expected(r);
        assert_eq!(w[i], ew, "W of row {i} {r:?}");
        assert_eq!(side[i].as_deref(), Some(eside.as_str()));
        assert_eq!(f[i], Some(ef));
        assert_eq!(z[i], Some(r.1.unwrap_or(0) as f64 + r.2));
    }
    assert_eq!(strs(selected, "K"), strs(input, "K"));
    let want: Vec<Row> = rows
        .iter()
        .filter(|r| expected(r).3 == Some(true))
        .cloned()
        .collect();
    assert_eq!(rows_of(kept), want);
}

fn row_strategy() -> impl Strategy<Value = Row> {
    (
        prop_oneof![1 => Just(None), 4 => (0..4usize).prop_map(|i| Some(["a", "b", "c", "d"][i].to_string()))],
        prop_oneof![1 => Just(None), 4 => (-3i64..5).prop_map(Some)],
        (-4i32..4).prop_map(|f| f as f64 / 2.0),
    )
}

fn kind_strategy() -> impl Strategy<Value = TableType> {
    prop_oneof![
        Just(TableType::Append),
        Just(TableType::Blink),
        (1usize..6).prop_map(TableType::Ring),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn incremental_formulas_equal_formulas_from_scratch(
        kind in kind_strategy(),
        keyed in any::<bool>(),
        cycles in prop::collection::vec(prop::collection::vec(row_strategy(), 0..6), 1..8),
    ) {
        let engine = Engine::new();
        let src = engine.source_table("src", kvf_schema(), kind).unwrap();
        let input = if keyed { src.last_by(["K"]).unwrap() } else { src.clone() };
        let updated = input
            .update(["W = V * 2 + 1", "Side = CASE WHEN V > 0 THEN 'pos' ELSE 'neg' END", "F = F * 2"])
            .unwrap();
        let selected = input.select(["K", "Z = coalesce(V, 0) + F"]).unwrap();
        let kept = input.where_(["V > 1 AND K IN ('a', 'b')"]).unwrap();
        for rows in &cycles {
            src.writer().unwrap().push(kvf_batch(rows)).unwrap();
            engine.run_cycle().unwrap();
            let snap = engine.snapshot(&[&input, &updated, &selected, &kept]).unwrap();
            let [i, u, s, k] = &snap.batches[..] else { unreachable!() };
            check(i, u, s, k);
        }
    }
}
