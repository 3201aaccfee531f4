//! The seed's "Perform multiple operations" example: quotes and orders blink
//! tables → lastBy → naturalJoin → aggBy(Sum, WSum), fed the seed's rows.

mod common;

use common::*;
use topictable_engine::{Engine, Table, sum, wsum};

struct Seed {
    engine: Engine,
    price_table: Table,
    orders_blink: Table,
    last_price: Table,
    orders_with_current_price: Table,
    total_notional: Table,
}

fn build() -> Seed {
    let engine = Engine::new();
    let price_table = engine.blink_table("quotes", quotes_schema()).unwrap();
    let last_price = price_table.last_by(["Symbol"]).unwrap();
    let orders_blink = engine.blink_table("orders", orders_schema()).unwrap();
    let orders_with_current_price = orders_blink
        .last_by(["Id"])
        .unwrap()
        .natural_join(&last_price, ["Symbol"], ["LastPrice = Price"])
        .unwrap();
    let total_notional = orders_with_current_price
        .agg_by(
            [sum("Shares = Qty"), wsum("Qty", "Notional = LastPrice")],
            ["Symbol"],
        )
        .unwrap();
    Seed {
        engine,
        price_table,
        orders_blink,
        last_price,
        orders_with_current_price,
        total_notional,
    }
}

const QUOTES: [(&str, f64); 4] = [
    ("AAPL", 135.0),
    ("AAPL", 133.0),
    ("TSLA", 730.0),
    ("TSLA", 735.0),
];
const ORDERS: [(&str, &str, f64, i32); 4] = [
    ("AAPL", "o1", 136.0, 7),
    ("AAPL", "o2", 132.0, 2),
    ("TSLA", "o3", 725.0, 1),
    ("TSLA", "o4", 730.0, 9),
];

fn assert_final(s: &Seed) {
    let last = s.last_price.snapshot().unwrap();
    assert_eq!(
        strs(&last, "Symbol"),
        vec![Some("AAPL".into()), Some("TSLA".into())]
    );
    assert_eq!(f64s(&last, "Price"), vec![Some(133.0), Some(735.0)]);

    let joined = s.orders_with_current_price.snapshot().unwrap();
    assert_eq!(joined.num_rows(), 4);
    assert_eq!(
        f64s(&joined, "LastPrice"),
        vec![Some(133.0), Some(133.0), Some(735.0), Some(735.0)]
    );

    let total = s.total_notional.snapshot().unwrap();
    let names: Vec<_> = total
        .schema()
        .fields()
        .iter()
        .map(|f| f.name().clone())
        .collect();
    assert_eq!(names, ["Symbol", "Shares", "Notional"]);
    assert_eq!(
        strs(&total, "Symbol"),
        vec![Some("AAPL".into()), Some("TSLA".into())]
    );
    assert_eq!(i64s(&total, "Shares"), vec![Some(9), Some(10)]);
    // AAPL: 7 * 133 + 2 * 133; TSLA: 1 * 735 + 9 * 735.
    assert_eq!(f64s(&total, "Notional"), vec![Some(1197.0), Some(7350.0)]);
}

#[test]
fn quotes_then_orders_in_two_cycles() {
    let s = build();
    s.price_table
        .writer()
        .unwrap()
        .push(quotes(&QUOTES))
        .unwrap();
    s.engine.run_cycle().unwrap();
    s.orders_blink
        .writer()
        .unwrap()
        .push(orders(&ORDERS))
        .unwrap();
    s.engine.run_cycle().unwrap();
    assert_final(&s);
    // The blink sources are empty again after a quiet cycle; the lastBy state stays.
    s.engine.run_cycle().unwrap();
    assert_eq!(s.price_table.snapshot().unwrap().num_rows(), 0);
    assert_eq!(s.orders_blink.snapshot().unwrap().num_rows(), 0);
    assert_final(&s);
}

#[test]
fn one_row_per_cycle() {
    let s = build();
    for q in QUOTES {
        s.price_table.writer().unwrap().push(quotes(&[q])).unwrap();
        s.engine.run_cycle().unwrap();
    }
    for o in ORDERS {
        s.orders_blink.writer().unwrap().push(orders(&[o])).unwrap();
        s.engine.run_cycle().unwrap();
    }
    assert_final(&s);
}

#[test]
fn everything_in_one_cycle() {
    let s = build();
    s.orders_blink
        .writer()
        .unwrap()
        .push(orders(&ORDERS))
        .unwrap();
    s.price_table
        .writer()
        .unwrap()
        .push(quotes(&QUOTES))
        .unwrap();
    s.engine.run_cycle().unwrap();
    assert_final(&s);
}

#[test]
fn orders_before_quotes_start_null_then_fill_in() {
    let s = build();
    s.orders_blink
        .writer()
        .unwrap()
        .push(orders(&ORDERS))
        .unwrap();
    s.engine.run_cycle().unwrap();
    let joined = s.orders_with_current_price.snapshot().unwrap();
    assert_eq!(f64s(&joined, "LastPrice"), vec![None; 4]);
    let total = s.total_notional.snapshot().unwrap();
    assert_eq!(i64s(&total, "Shares"), vec![Some(9), Some(10)]);
    assert_eq!(f64s(&total, "Notional"), vec![None, None]);
    s.price_table
        .writer()
        .unwrap()
        .push(quotes(&QUOTES))
        .unwrap();
    s.engine.run_cycle().unwrap();
    assert_final(&s);
}
