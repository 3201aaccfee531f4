//! natural_join on several key columns, of other types than strings, with
//! keys named differently on each side ("Left = Right").

mod common;

use std::sync::Arc;

use arrow_array::{Float64Array, Int64Array, RecordBatch, StringArray};
use arrow_schema::{DataType, Field, Schema};
use common::*;
use topictable_engine::Engine;

/// Orders: (Venue, Acct, Qty).
fn orders(rows: &[(&str, i64, i64)]) -> RecordBatch {
    let schema = Arc::new(Schema::new(vec![
        Field::new("Venue", DataType::Utf8, false),
        Field::new("Acct", DataType::Int64, false),
        Field::new("Qty", DataType::Int64, false),
    ]));
    RecordBatch::try_new(
        schema,
        vec![
            Arc::new(StringArray::from_iter_values(rows.iter().map(|r| r.0))),
            Arc::new(Int64Array::from_iter_values(rows.iter().map(|r| r.1))),
            Arc::new(Int64Array::from_iter_values(rows.iter().map(|r| r.2))),
        ],
    )
    .unwrap()
}

/// Limits: (Exchange, Account, Limit).
fn limits(rows: &[(&str, i64, f64)]) -> RecordBatch {
    let schema = Arc::new(Schema::new(vec![
        Field::new("Exchange", DataType::Utf8, false),
        Field::new("Account", DataType::Int64, false),
        Field::new("Limit", DataType::Float64, false),
    ]));
    RecordBatch::try_new(
        schema,
        vec![
            Arc::new(StringArray::from_iter_values(rows.iter().map(|r| r.0))),
            Arc::new(Int64Array::from_iter_values(rows.iter().map(|r| r.1))),
            Arc::new(Float64Array::from_iter_values(rows.iter().map(|r| r.2))),
        ],
    )
    .unwrap()
}

#[test]
fn a_join_on_a_string_and_an_int64_key_named_differently_on_each_side() {
    let engine = Engine::new();
    let orders_t = engine.append_table("orders", orders(&[]).schema()).unwrap();
    let limits_t = engine.append_table("limits", limits(&[]).schema()).unwrap();
    let last_limit = limits_t.last_by(["Exchange", "Account"]).unwrap();
    let joined = orders_t
        .natural_join(
            &last_limit,
            ["Venue = Exchange", "Acct = Account"],
            ["MaxQty = Limit"],
        )
        .unwrap();
    let (ow, lw) = (orders_t.writer().unwrap(), limits_t.writer().unwrap());

    // Same venue, other account; same account, other venue; both match.
    lw.push(limits(&[("XNAS", 1, 100.0), ("XNYS", 2, 200.0)]))
        .unwrap();
    ow.push(orders(&[("XNAS", 2, 5), ("XNYS", 1, 6), ("XNAS", 1, 7)]))
        .unwrap();
    engine.run_cycle().unwrap();
    let j = joined.snapshot().unwrap();
    assert_eq!(i64s(&j, "Qty"), vec![Some(5), Some(6), Some(7)]);
    assert_eq!(f64s(&j, "MaxQty"), vec![None, None, Some(100.0)]);

    // A right-side row for a key only a left row had: that row now matches.
    // A new limit for (XNAS, 1): the matched row changes.
    lw.push(limits(&[("XNAS", 2, 250.0), ("XNAS", 1, 110.0)]))
        .unwrap();
    engine.run_cycle().unwrap();
    let j = joined.snapshot().unwrap();
    assert_eq!(f64s(&j, "MaxQty"), vec![Some(250.0), None, Some(110.0)]);
    assert_eq!(
        strs(&j, "Venue"),
        ["XNAS", "XNYS", "XNAS"].map(|s| Some(s.to_string()))
    );
    assert_eq!(i64s(&j, "Acct"), vec![Some(2), Some(1), Some(1)]);
    assert!(
        j.column_by_name("Exchange").is_none() && j.column_by_name("Account").is_none(),
        "only the requested right columns are added"
    );
}

#[test]
fn join_keys_of_different_types_are_refused_at_build_time() {
    let engine = Engine::new();
    let orders_t = engine.append_table("orders", orders(&[]).schema()).unwrap();
    let limits_t = engine.append_table("limits", limits(&[]).schema()).unwrap();
    let last_limit = limits_t.last_by(["Exchange", "Account"]).unwrap();
    let Err(err) = orders_t.natural_join(
        &last_limit,
        ["Venue = Exchange", "Qty = Limit"],
        ["MaxQty = Limit"],
    ) else {
        panic!("Int64 against Float64 is refused");
    };
    let err = err.to_string();
    assert!(err.contains("Qty") && err.contains("Limit"), "{err}");
}
