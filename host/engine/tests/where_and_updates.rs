//! `where_` value tests, the default cycle period, and the update records
//! derived tables emit, checked against their snapshots.

mod common;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use arrow_array::{ArrayRef, Int64Array, RecordBatch, StringArray, TimestampNanosecondArray};
use arrow_cast::display::array_value_to_string;
use arrow_schema::{DataType, Field, Schema, SchemaRef, TimeUnit};
use common::*;
use topictable_engine::{Engine, EngineConfig, Table, Update, count, sum};

#[test]
fn default_period_is_100_ms() {
    assert_eq!(EngineConfig::default().period, Duration::from_millis(100));
    assert_eq!(Engine::new().config().period, Duration::from_millis(100));
}

fn schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("K", DataType::Utf8, true),
        Field::new("V", DataType::Int64, true),
        Field::new("T", DataType::Timestamp(TimeUnit::Nanosecond, None), true),
    ]))
}

/// Rows (key, value, seconds since the epoch).
fn batch(rows: &[(&str, Option<i64>, i64)]) -> RecordBatch {
    RecordBatch::try_new(
        schema(),
        vec![
            Arc::new(StringArray::from_iter_values(rows.iter().map(|r| r.0))) as ArrayRef,
            Arc::new(Int64Array::from(
                rows.iter().map(|r| r.1).collect::<Vec<_>>(),
            )),
            Arc::new(TimestampNanosecondArray::from(
                rows.iter().map(|r| r.2 * 1_000_000_000).collect::<Vec<_>>(),
            )),
        ],
    )
    .unwrap()
}

fn keys_of(t: &Table) -> Vec<String> {
    strs(&t.snapshot().unwrap(), "K")
        .into_iter()
        .map(|k| k.unwrap_or_default())
        .collect()
}

#[test]
fn where_operators_literals_and_conjunctions() {
    let engine = Engine::new();
    let src = engine.append_table("src", schema()).unwrap();
    // 2024-01-01T00:00:00Z is 1_704_067_200 s.
    let day = 1_704_067_200;
    src.writer()
        .unwrap()
        .push(batch(&[
            ("a", Some(1), day - 1),
            ("b", Some(5), day),
            ("c", Some(9), day + 1),
            ("it's", None, day + 2),
        ]))
        .unwrap();
    let cases: Vec<(Vec<&str>, Vec<&str>)> = vec![
        (vec!["V == 5"], vec!["b"]),
        (vec!["V != 5"], vec!["a", "c"]),
        (vec!["V < 5"], vec!["a"]),
        (vec!["V <= 5"], vec!["a", "b"]),
        (vec!["V >= 5"], vec!["b", "c"]),
        (vec!["V > 5"], vec!["c"]),
        (vec!["K == `b`"], vec!["b"]),
        (vec!["K == 'c'"], vec!["c"]),
        (vec!["K != \"a\""], vec!["b", "c", "it's"]),
        (vec!["K == \"it's\""], vec!["it's"]),
        (vec!["K >= `b`"], vec!["b", "c", "it's"]),
        (vec!["T >= '2024-01-01T00:00:00'"], vec!["b", "c", "it's"]),
        (vec!["T < `2024-01-01T00:00:01`"], vec!["a", "b"]),
        (vec!["V > 1", "V < 9"], vec!["b"]),
        (
            vec!["V >= 1", "K != `a`", "T <= '2024-01-01T00:00:01'"],
            vec!["b", "c"],
        ),
    ];
    let tables: Vec<Table> = cases
        .iter()
        .map(|(f, _)| src.where_(f.iter().copied()).unwrap())
        .collect();
    engine.run_cycle().unwrap();
    for ((filters, want), t) in cases.iter().zip(&tables) {
        assert_eq!(keys_of(t), *want, "{filters:?}");
    }
}

/// Applies each update to a model of the table (keyed by row key), checking
/// that removed and previous values are the ones it held, and compares the
/// model with the snapshot after every cycle.
struct UpdateChecker {
    table: Table,
    rx: std::sync::mpsc::Receiver<Arc<Update>>,
    _sub: topictable_engine::Subscription,
    model: BTreeMap<u64, Vec<String>>,
}

fn rows(b: &RecordBatch) -> Vec<Vec<String>> {
    (0..b.num_rows())
        .map(|i| {
            b.columns()
                .iter()
                .map(|c| array_value_to_string(c, i).unwrap())
                .collect()
        })
        .collect()
}

impl UpdateChecker {
    fn new(table: &Table) -> Self {
        let (_sub, rx) = table.subscribe_channel();
        let snap = table.snapshot().unwrap();
        assert_eq!(snap.num_rows(), 0, "checkers start on empty tables");
        UpdateChecker {
            table: table.clone(),
            rx,
            _sub,
            model: BTreeMap::new(),
        }
    }

    fn check(&mut self) {
        let name = self.table.name().to_string();
        while let Ok(u) = self.rx.try_recv() {
            for (k, r) in u.removed_keys.iter().zip(rows(&u.removed)) {
                assert_eq!(self.model.remove(k), Some(r), "{name}: removed {k}");
            }
            for ((k, prev), new) in u
                .modified_keys
                .iter()
                .zip(rows(&u.modified_prev))
                .zip(rows(&u.modified))
            {
                let old = self.model.insert(*k, new);
                assert_eq!(old, Some(prev), "{name}: modified {k}");
            }
            for (k, r) in u.added_keys.iter().zip(rows(&u.added)) {
                assert_eq!(self.model.insert(*k, r), None, "{name}: added {k} twice");
            }
        }
        let snap = rows(&self.table.snapshot().unwrap());
        let model: Vec<Vec<String>> = self.model.values().cloned().collect();
        assert_eq!(model, snap, "{name}: updates disagree with the snapshot");
    }
}

/// One cycle's source rows and quotes.
type Step<'a> = (Vec<(&'a str, Option<i64>, i64)>, Vec<(&'a str, f64)>);

#[test]
fn derived_updates_match_consecutive_snapshots() {
    let engine = Engine::new();
    let src = engine.ring_table("src", schema(), 4).unwrap();
    let quotes_t = engine.append_table("quotes", quotes_schema()).unwrap();
    let last = src.last_by(["K"]).unwrap();
    // Rows of `last` change in place, moving in and out of the filter.
    let filtered = last.where_(["V > 5"]).unwrap();
    let agg = src.agg_by([sum("S = V"), count("C")], ["K"]).unwrap();
    let viewed = last.view(["Key = K", "V"]).unwrap();
    let qlast = quotes_t.last_by(["Symbol"]).unwrap();
    let joined = src
        .natural_join(&qlast, ["K = Symbol"], ["P = Price"])
        .unwrap();
    let mut checkers: Vec<UpdateChecker> = [&last, &filtered, &agg, &viewed, &joined, &qlast]
        .into_iter()
        .map(UpdateChecker::new)
        .collect();
    let (w, qw) = (src.writer().unwrap(), quotes_t.writer().unwrap());
    let steps: Vec<Step> = vec![
        (
            vec![("a", Some(1), 0), ("b", Some(10), 0)],
            vec![("a", 1.0)],
        ),
        (vec![("a", Some(7), 0), ("b", Some(2), 0)], vec![("b", 2.0)]),
        (vec![], vec![("a", 3.0), ("b", 4.0)]),
        (vec![("c", None, 0), ("a", Some(8), 0)], vec![]),
        (
            vec![("b", Some(9), 0), ("b", Some(1), 0), ("c", Some(6), 0)],
            vec![("c", 5.0)],
        ),
        (vec![("d", Some(6), 0); 5], vec![("a", 6.0)]),
    ];
    for (i, (rows_in, quotes_in)) in steps.iter().enumerate() {
        if !rows_in.is_empty() {
            w.push(batch(rows_in)).unwrap();
        }
        if !quotes_in.is_empty() {
            qw.push(quotes(quotes_in)).unwrap();
        }
        engine.run_cycle().unwrap();
        for c in &mut checkers {
            c.check();
        }
        if i == 1 {
            // a moved into the filter (7 > 5), b moved out (2).
            assert_eq!(keys_of(&filtered), vec!["a"]);
        }
    }
    // The ring holds only d's rows at the end.
    assert_eq!(keys_of(&filtered), vec!["d"]);
    let j = joined.snapshot().unwrap();
    assert_eq!(f64s(&j, "P"), vec![None; 4]);
}
