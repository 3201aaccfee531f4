//! Property test: after every cycle, every operator's incrementally
//! maintained output equals the same operator recomputed from scratch on the
//! source rows (for blink inputs: on every row ever seen, Deephaven's blink
//! rule, followed through joins whose left table is blink). Covers null
//! keys, empty cycles, rings smaller than one cycle's input, and right-side
//! updates of a join.

mod common;

use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::types::{Float64Type, Int64Type};
use arrow_array::{Array, ArrayRef, Int64Array, RecordBatch, StringArray};
use arrow_schema::{DataType, Field, Schema, SchemaRef};
use common::{KvfRow, kvf_batch, kvf_schema};
use proptest::prelude::*;
use topictable_engine::{Engine, TableType, avg, count, first, last, max, min, sum, wsum};

type Key = Option<String>;
/// A source row: key, nullable int value, float value.
type Row = KvfRow;
/// A right-table row: key, nullable int value.
type RRow = (Key, Option<i64>);

#[derive(Debug, Clone, PartialEq, PartialOrd)]
enum Val {
    Null,
    I(i64),
    F(f64),
    S(String),
}

fn vals(b: &RecordBatch) -> Vec<Vec<Val>> {
    let mut rows = vec![Vec::new(); b.num_rows()];
    for c in b.columns() {
        for (i, row) in rows.iter_mut().enumerate() {
            row.push(if c.is_null(i) {
                Val::Null
            } else {
                match c.data_type() {
                    DataType::Int64 => Val::I(c.as_primitive::<Int64Type>().value(i)),
                    DataType::Float64 => Val::F(c.as_primitive::<Float64Type>().value(i)),
                    DataType::Utf8 => Val::S(c.as_string::<i32>().value(i).to_string()),
                    other => panic!("unexpected type {other}"),
                }
            });
        }
    }
    rows
}

fn sorted(mut rows: Vec<Vec<Val>>) -> Vec<Vec<Val>> {
    rows.sort_by(|a, b| a.partial_cmp(b).expect("no NaN in tests"));
    rows
}

fn k(key: &Key) -> Val {
    key.clone().map_or(Val::Null, Val::S)
}

fn oi(v: Option<i64>) -> Val {
    v.map_or(Val::Null, Val::I)
}

fn of(v: Option<f64>) -> Val {
    v.map_or(Val::Null, Val::F)
}

fn right_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("K", DataType::Utf8, true),
        Field::new("V", DataType::Int64, true),
    ]))
}

fn right_batch(rows: &[RRow]) -> RecordBatch {
    RecordBatch::try_new(
        right_schema(),
        vec![
            Arc::new(StringArray::from(
                rows.iter().map(|r| r.0.clone()).collect::<Vec<_>>(),
            )) as ArrayRef,
            Arc::new(Int64Array::from(
                rows.iter().map(|r| r.1).collect::<Vec<_>>(),
            )),
        ],
    )
    .unwrap()
}

/// Distinct keys in first-appearance order, with their rows in order.
fn groups<T: Clone>(rows: &[T], key: impl Fn(&T) -> Key) -> Vec<(Key, Vec<T>)> {
    let mut out: Vec<(Key, Vec<T>)> = Vec::new();
    for r in rows {
        let kk = key(r);
        match out.iter_mut().find(|(g, _)| *g == kk) {
            Some((_, v)) => v.push(r.clone()),
            None => out.push((kk, vec![r.clone()])),
        }
    }
    out
}

fn row_vals(r: &Row) -> Vec<Val> {
    vec![k(&r.0), oi(r.1), Val::F(r.2)]
}

fn int_sum(v: impl Iterator<Item = Option<i64>>) -> Option<i64> {
    let nn: Vec<i64> = v.flatten().collect();
    (!nn.is_empty()).then(|| nn.iter().sum())
}

/// Reference for the big `agg_by` over the source.
fn ref_agg(rows: &[Row]) -> Vec<Vec<Val>> {
    groups(rows, |r| r.0.clone())
        .into_iter()
        .map(|(key, g)| {
            let nn: Vec<i64> = g.iter().filter_map(|r| r.1).collect();
            let wsum: Vec<f64> = g
                .iter()
                .filter_map(|r| r.1.map(|v| v as f64 * r.2))
                .collect();
            vec![
                k(&key),
                oi(int_sum(g.iter().map(|r| r.1))),
                Val::I(g.len() as i64),
                oi(nn.iter().min().copied()),
                oi(nn.iter().max().copied()),
                of((!nn.is_empty()).then(|| nn.iter().sum::<i64>() as f64 / nn.len() as f64)),
                oi(g[0].1),
                oi(g[g.len() - 1].1),
                of((!wsum.is_empty()).then(|| wsum.iter().sum())),
                Val::F(g.iter().map(|r| r.2).sum()),
            ]
        })
        .collect()
}

/// Last (or first) present row of each right key, as key → value.
fn right_last(rows: &[RRow]) -> Vec<(Key, Option<i64>)> {
    groups(rows, |r| r.0.clone())
        .into_iter()
        .map(|(key, g)| (key, g[g.len() - 1].1))
        .collect()
}

/// Join rows: source row plus `RV`.
fn ref_join(rows: &[Row], right: &[RRow]) -> Vec<(Row, Option<i64>)> {
    let rl = right_last(right);
    rows.iter()
        .map(|r| {
            (
                r.clone(),
                rl.iter().find(|(kk, _)| *kk == r.0).and_then(|(_, v)| *v),
            )
        })
        .collect()
}

fn current(kind: TableType, all: &[Row], this_cycle: &[Row]) -> Vec<Row> {
    match kind {
        TableType::Append => all.to_vec(),
        TableType::Blink => this_cycle.to_vec(),
        TableType::Ring(n) => all[all.len().saturating_sub(n)..].to_vec(),
    }
}

fn key_strategy() -> impl Strategy<Value = Key> {
    prop_oneof![
        1 => Just(None),
        4 => (0..4usize).prop_map(|i| Some(["a", "b", "c", "d"][i].to_string())),
    ]
}

fn row_strategy() -> impl Strategy<Value = Row> {
    (
        key_strategy(),
        proptest::option::weighted(0.8, -5i64..6),
        -3i64..4,
    )
        .prop_map(|(k, v, f)| (k, v, f as f64))
}

fn rrow_strategy() -> impl Strategy<Value = RRow> {
    (key_strategy(), proptest::option::weighted(0.8, 0i64..100))
}

/// One cycle: batches for the source (maybe none) and rows for the right table.
type CycleInput = (Vec<Vec<Row>>, Vec<RRow>);

fn cycle_strategy() -> impl Strategy<Value = CycleInput> {
    (
        proptest::collection::vec(proptest::collection::vec(row_strategy(), 0..4), 0..3),
        proptest::collection::vec(rrow_strategy(), 0..3),
    )
}

fn kind_strategy() -> impl Strategy<Value = TableType> {
    prop_oneof![
        Just(TableType::Append),
        Just(TableType::Blink),
        (1..5usize).prop_map(TableType::Ring),
    ]
}

fn right_kind_strategy() -> impl Strategy<Value = TableType> {
    prop_oneof![
        Just(TableType::Append),
        Just(TableType::Ring(2)),
        Just(TableType::Blink)
    ]
}

fn check(kind: TableType, right_kind: TableType, cycles: Vec<CycleInput>, build_after: usize) {
    let engine = Engine::new();
    let src = engine.source_table("src", kvf_schema(), kind).unwrap();
    let right = engine
        .source_table("right", right_schema(), right_kind)
        .unwrap();
    let (w, rw) = (src.writer().unwrap(), right.writer().unwrap());

    let mut all: Vec<Row> = Vec::new();
    let mut ops = None;
    let mut per_cycle: Vec<(Vec<Row>, Vec<RRow>)> = Vec::new();
    for (i, (batches, rrows)) in cycles.iter().enumerate() {
        // Operators built mid-stream must start from the rows already present.
        if i == build_after {
            let rlast = right.last_by(["K"]).unwrap();
            let join = src.natural_join(&rlast, ["K"], ["RV = V"]).unwrap();
            let filt = src.where_(["V > 0"]).unwrap();
            ops = Some(vec![
                src.last_by(["K"]).unwrap(),
                src.first_by(["K"]).unwrap(),
                src.agg_by(
                    [
                        sum("S = V"),
                        count("C"),
                        min("Mn = V"),
                        max("Mx = V"),
                        avg("A = V"),
                        first("Fi = V"),
                        last("La = V"),
                        wsum("F", "W = V"),
                        sum("SF = F"),
                    ],
                    ["K"],
                )
                .unwrap(),
                src.agg_by([sum("S = V"), count("C")], Vec::<String>::new())
                    .unwrap(),
                filt.clone(),
                src.view(["Key = K", "V"]).unwrap(),
                join.clone(),
                join.agg_by(
                    [sum("S = RV"), count("C"), max("M = RV"), last("L = RV")],
                    ["K"],
                )
                .unwrap(),
                filt.agg_by([sum("S = V"), count("C")], ["K"]).unwrap(),
                join.last_by(["K"]).unwrap(),
                src.last_by(Vec::<String>::new()).unwrap(),
                rlast,
            ]);
        }
        let mut this_cycle = Vec::new();
        for b in batches {
            w.push(kvf_batch(b)).unwrap();
            this_cycle.extend(b.iter().cloned());
        }
        if !rrows.is_empty() {
            rw.push(right_batch(rrows)).unwrap();
        }
        all.extend(this_cycle.iter().cloned());
        per_cycle.push((this_cycle.clone(), rrows.clone()));
        engine.run_cycle().unwrap();

        let Some(ops) = &ops else { continue };
        let cur = current(kind, &all, &this_cycle);
        // Blink-fed operators accumulate from what the blink table held when
        // they were built (the previous cycle's rows) onwards.
        let since = build_after.saturating_sub(1);
        let seen: Vec<Row> = if kind == TableType::Blink {
            per_cycle[since..]
                .iter()
                .flat_map(|c| c.0.clone())
                .collect()
        } else {
            cur.clone()
        };
        // The right table's rows as of the end of cycle `c`.
        let right_at = |c: usize| -> Vec<RRow> {
            let upto: Vec<RRow> = per_cycle[..=c].iter().flat_map(|x| x.1.clone()).collect();
            match right_kind {
                TableType::Append => upto,
                // last_by over a blink right table accumulates every row seen.
                TableType::Blink => per_cycle[since..=c]
                    .iter()
                    .flat_map(|x| x.1.clone())
                    .collect(),
                TableType::Ring(n) => upto[upto.len().saturating_sub(n)..].to_vec(),
            }
        };
        let right_cur = right_at(i);
        let refs = ops.iter().collect::<Vec<_>>();
        let snap = engine.snapshot(&refs).unwrap();
        let got: Vec<Vec<Vec<Val>>> = snap.batches.iter().map(vals).collect();
        let ctx = format!("cycle {i}, kind {kind:?}, right {right_kind:?}");

        let by = |rows: &[Row], last: bool| -> Vec<Vec<Val>> {
            groups(rows, |r| r.0.clone())
                .into_iter()
                .map(|(_, g)| row_vals(if last { &g[g.len() - 1] } else { &g[0] }))
                .collect()
        };
        assert_eq!(
            sorted(got[0].clone()),
            sorted(by(&seen, true)),
            "last_by, {ctx}"
        );
        assert_eq!(
            sorted(got[1].clone()),
            sorted(by(&seen, false)),
            "first_by, {ctx}"
        );
        assert_eq!(
            sorted(got[2].clone()),
            sorted(ref_agg(&seen)),
            "agg_by, {ctx}"
        );
        let zero = vec![vec![
            oi(int_sum(seen.iter().map(|r| r.1))),
            Val::I(seen.len() as i64),
        ]];
        assert_eq!(got[3], zero, "agg_by no keys, {ctx}");
        let passing: Vec<Row> = cur
            .iter()
            .filter(|r| r.1.is_some_and(|v| v > 0))
            .cloned()
            .collect();
        assert_eq!(
            got[4],
            passing.iter().map(row_vals).collect::<Vec<_>>(),
            "where, {ctx}"
        );
        let viewed: Vec<Vec<Val>> = cur.iter().map(|r| vec![k(&r.0), oi(r.1)]).collect();
        assert_eq!(got[5], viewed, "view, {ctx}");
        let joined = ref_join(&cur, &right_cur);
        let jvals: Vec<Vec<Val>> = joined
            .iter()
            .map(|(r, rv)| {
                let mut v = row_vals(r);
                v.push(oi(*rv));
                v
            })
            .collect();
        assert_eq!(got[6], jvals, "natural_join, {ctx}");
        // A join over a blink left table is blink (Deephaven copies the
        // attribute from the left), so aggregating it accumulates every joined
        // row ever seen, each with the right value of the cycle it appeared in.
        assert_eq!(ops[6].is_blink(), kind == TableType::Blink, "{ctx}");
        let jseen: Vec<(Row, Option<i64>)> = if kind == TableType::Blink {
            (since..=i)
                .flat_map(|c| ref_join(&per_cycle[c].0, &right_at(c)))
                .collect()
        } else {
            joined.clone()
        };
        let jagg: Vec<Vec<Val>> = groups(&jseen, |(r, _)| r.0.clone())
            .into_iter()
            .map(|(key, g)| {
                let rvs: Vec<i64> = g.iter().filter_map(|(_, rv)| *rv).collect();
                vec![
                    k(&key),
                    oi((!rvs.is_empty()).then(|| rvs.iter().sum())),
                    Val::I(g.len() as i64),
                    oi(rvs.iter().max().copied()),
                    oi(g[g.len() - 1].1),
                ]
            })
            .collect();
        assert_eq!(
            sorted(got[7].clone()),
            sorted(jagg),
            "agg_by over join, {ctx}"
        );
        // A filter of a blink table is blink, so aggregating it accumulates.
        let fseen: Vec<Row> = seen
            .iter()
            .filter(|r| r.1.is_some_and(|v| v > 0))
            .cloned()
            .collect();
        let fagg: Vec<Vec<Val>> = groups(&fseen, |r| r.0.clone())
            .into_iter()
            .map(|(key, g)| {
                vec![
                    k(&key),
                    oi(int_sum(g.iter().map(|r| r.1))),
                    Val::I(g.len() as i64),
                ]
            })
            .collect();
        assert_eq!(
            sorted(got[8].clone()),
            sorted(fagg),
            "agg_by over where, {ctx}"
        );
        let jlast: Vec<Vec<Val>> = groups(&jseen, |(r, _)| r.0.clone())
            .into_iter()
            .map(|(_, g)| {
                let (r, rv) = &g[g.len() - 1];
                let mut v = row_vals(r);
                v.push(oi(*rv));
                v
            })
            .collect();
        assert_eq!(
            sorted(got[9].clone()),
            sorted(jlast),
            "last_by over join, {ctx}"
        );
        let last_any: Vec<Vec<Val>> = seen.last().map(row_vals).into_iter().collect();
        assert_eq!(got[10], last_any, "last_by no keys, {ctx}");
        let rl: Vec<Vec<Val>> = right_last(&right_cur)
            .iter()
            .map(|(kk, v)| vec![k(kk), oi(*v)])
            .collect();
        assert_eq!(sorted(got[11].clone()), sorted(rl), "right last_by, {ctx}");
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

    #[test]
    fn operators_match_recomputation(
        kind in kind_strategy(),
        right_kind in right_kind_strategy(),
        cycles in proptest::collection::vec(cycle_strategy(), 1..8),
        build_after in 0usize..3,
    ) {
        check(kind, right_kind, cycles, build_after);
    }
}

#[test]
fn ring_smaller_than_one_cycle() {
    let row = |i: i64| (Some("a".to_string()), Some(i), 1.0);
    check(
        TableType::Ring(2),
        TableType::Append,
        vec![
            (
                vec![vec![row(1), row(2), row(3)], vec![row(4)]],
                vec![(Some("a".into()), Some(5))],
            ),
            (vec![], vec![(Some("a".into()), Some(6))]),
            (vec![vec![row(7)]], vec![]),
        ],
        0,
    );
}
