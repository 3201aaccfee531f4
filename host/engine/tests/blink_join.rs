//! A natural join over a blink left table is blink, as in Deephaven (which
//! copies the blink attribute from the left table), so aggregations and
//! `last_by` over it accumulate every joined row ever seen.

mod common;

use std::sync::{Arc, Mutex};

use common::*;
use topictable_engine::{Engine, sum, wsum};

#[test]
fn blink_orders_joined_with_last_quotes_accumulate() {
    let engine = Engine::new();
    let quotes_t = engine.append_table("quotes", quotes_schema()).unwrap();
    let orders_t = engine.blink_table("orders", orders_schema()).unwrap();
    let last = quotes_t.last_by(["Symbol"]).unwrap();
    let joined = orders_t
        .natural_join(&last, ["Symbol"], ["LastPrice = Price"])
        .unwrap();
    assert!(joined.is_blink());
    let total = joined
        .agg_by(
            [sum("Shares = Qty"), wsum("Qty", "Notional = LastPrice")],
            ["Symbol"],
        )
        .unwrap();
    let last_order = joined.last_by(["Symbol"]).unwrap();
    assert!(!total.is_blink() && !last_order.is_blink());
    // (cycle, added, removed, modified) of every update of the join.
    let updates = Arc::new(Mutex::new(Vec::new()));
    let _sub = {
        let updates = updates.clone();
        joined.subscribe(move |u| {
            updates.lock().unwrap().push((
                u.cycle,
                u.added.num_rows(),
                u.removed.num_rows(),
                u.modified.num_rows(),
            ))
        })
    };
    let (qw, ow) = (quotes_t.writer().unwrap(), orders_t.writer().unwrap());

    qw.push(quotes(&[("A", 10.0)])).unwrap();
    ow.push(orders(&[("A", "o1", 0.0, 1)])).unwrap();
    engine.run_cycle().unwrap();
    // The quote changes in the same cycle as a new order: the new order gets
    // the new price, the previous cycle's order is gone (and stays counted).
    qw.push(quotes(&[("A", 20.0)])).unwrap();
    ow.push(orders(&[("A", "o2", 0.0, 2)])).unwrap();
    engine.run_cycle().unwrap();
    assert_eq!(
        f64s(&joined.snapshot().unwrap(), "LastPrice"),
        vec![Some(20.0)]
    );
    // Only the quote changes: the join holds no rows to modify, and the
    // aggregation keeps what it accumulated.
    qw.push(quotes(&[("A", 30.0)])).unwrap();
    engine.run_cycle().unwrap();
    assert_eq!(joined.snapshot().unwrap().num_rows(), 0);

    let t = total.snapshot().unwrap();
    assert_eq!(strs(&t, "Symbol"), vec![Some("A".to_string())]);
    assert_eq!(i64s(&t, "Shares"), vec![Some(3)]);
    assert_eq!(f64s(&t, "Notional"), vec![Some(1.0 * 10.0 + 2.0 * 20.0)]);
    let l = last_order.snapshot().unwrap();
    assert_eq!(strs(&l, "Id"), vec![Some("o2".to_string())]);
    assert_eq!(f64s(&l, "LastPrice"), vec![Some(20.0)]);
    assert_eq!(
        *updates.lock().unwrap(),
        vec![(1, 1, 0, 0), (2, 1, 1, 0), (3, 0, 1, 0)]
    );
}

#[test]
fn join_over_an_append_left_table_is_not_blink() {
    let engine = Engine::new();
    let quotes_t = engine.blink_table("quotes", quotes_schema()).unwrap();
    let orders_t = engine.append_table("orders", orders_schema()).unwrap();
    let last = quotes_t.last_by(["Symbol"]).unwrap();
    let joined = orders_t
        .natural_join(&last, ["Symbol"], ["LastPrice = Price"])
        .unwrap();
    assert!(!joined.is_blink());
    let total = joined
        .agg_by([wsum("Qty", "Notional = LastPrice")], ["Symbol"])
        .unwrap();
    let (qw, ow) = (quotes_t.writer().unwrap(), orders_t.writer().unwrap());
    qw.push(quotes(&[("A", 10.0)])).unwrap();
    ow.push(orders(&[("A", "o1", 0.0, 1)])).unwrap();
    engine.run_cycle().unwrap();
    qw.push(quotes(&[("A", 20.0)])).unwrap();
    engine.run_cycle().unwrap();
    // Not blink: the aggregation reflects the rows present, re-priced.
    assert_eq!(
        f64s(&total.snapshot().unwrap(), "Notional"),
        vec![Some(20.0)]
    );
}
