//! Operators reject wrong column names and types when built, naming the
//! column and the table, and a natural join with a duplicate right key fails
//! its table (not the process) at cycle time.

mod common;

use common::*;
use topictable_engine::{Engine, EngineError, count, min, sum, wsum};

#[test]
fn wrong_column_names_name_column_and_table() {
    let engine = Engine::new();
    let quotes = engine.blink_table("quotes", quotes_schema()).unwrap();
    let orders = engine.append_table("orders", orders_schema()).unwrap();

    let e = quotes.last_by(["Sym"]).unwrap_err();
    assert_eq!(
        e,
        EngineError::ColumnNotFound {
            table: "quotes".into(),
            column: "Sym".into()
        }
    );
    assert_eq!(e.to_string(), "column `Sym` not found in table `quotes`");

    let e = orders
        .agg_by([sum("Shares = Quantity")], ["Symbol"])
        .unwrap_err();
    assert!(
        matches!(&e, EngineError::ColumnNotFound { table, column } if table == "orders" && column == "Quantity")
    );

    let e = orders
        .agg_by([wsum("Weight", "N = Qty")], ["Symbol"])
        .unwrap_err();
    assert!(matches!(&e, EngineError::ColumnNotFound { column, .. } if column == "Weight"));

    let e = orders
        .natural_join(&quotes, ["Symbol"], ["LastPrice = Px"])
        .unwrap_err();
    assert!(
        matches!(&e, EngineError::ColumnNotFound { table, column } if table == "quotes" && column == "Px")
    );

    let e = orders.where_(["Price > 3"]).unwrap_err();
    assert!(matches!(&e, EngineError::ColumnNotFound { column, .. } if column == "Price"));

    let e = orders.view(["Nope"]).unwrap_err();
    assert!(matches!(&e, EngineError::ColumnNotFound { column, .. } if column == "Nope"));
}

#[test]
fn sum_over_a_string_is_a_type_error() {
    let engine = Engine::new();
    let orders = engine.append_table("orders", orders_schema()).unwrap();
    let e = orders.agg_by([sum("S = Id")], ["Symbol"]).unwrap_err();
    match &e {
        EngineError::TypeMismatch { table, column, .. } => {
            assert_eq!(table, "orders");
            assert_eq!(column, "Id");
        }
        other => panic!("unexpected {other:?}"),
    }
    assert!(
        e.to_string().contains("`Id`") && e.to_string().contains("`orders`"),
        "{e}"
    );
}

#[test]
fn other_build_errors() {
    let engine = Engine::new();
    let orders = engine.append_table("orders", orders_schema()).unwrap();
    let quotes = engine.append_table("quotes", quotes_schema()).unwrap();
    // Join key types must match.
    let e = orders
        .natural_join(&quotes, ["Qty = Symbol"], ["Price"])
        .unwrap_err();
    assert!(
        matches!(&e, EngineError::TypeMismatch { table, column, .. } if table == "quotes" && column == "Symbol")
    );
    // Output names must be unique.
    let e = orders
        .natural_join(&quotes, ["Symbol"], ["Qty = Price"])
        .unwrap_err();
    assert!(matches!(&e, EngineError::DuplicateColumn { column, .. } if column == "Qty"));
    let e = orders
        .agg_by([sum("Symbol = Qty")], ["Symbol"])
        .unwrap_err();
    assert!(matches!(&e, EngineError::DuplicateColumn { .. }));
    let e = orders.agg_by([count("A = B")], ["Symbol"]).unwrap_err();
    assert!(matches!(&e, EngineError::InvalidSpec { .. }));
    // Filter literals must fit the column.
    assert!(matches!(
        orders.where_(["Qty > abc"]).unwrap_err(),
        EngineError::InvalidSpec { .. }
    ));
    assert!(matches!(
        orders.where_(["Symbol == AAPL"]).unwrap_err(),
        EngineError::InvalidSpec { .. }
    ));
    assert!(matches!(
        orders.where_(["Qty"]).unwrap_err(),
        EngineError::InvalidSpec { .. }
    ));
    orders.where_(["Symbol == `AAPL`", "Qty >= 2"]).unwrap();
    orders
        .agg_by([min("M = Symbol")], Vec::<String>::new())
        .unwrap();
    // Tables from another engine are refused.
    let other = Engine::new()
        .append_table("quotes", quotes_schema())
        .unwrap();
    assert!(matches!(
        orders
            .natural_join(&other, ["Symbol"], ["Price"])
            .unwrap_err(),
        EngineError::ForeignTable { .. }
    ));
    // Only sources have writers.
    let last = orders.last_by(["Id"]).unwrap();
    assert!(matches!(
        last.writer().unwrap_err(),
        EngineError::NotASource { .. }
    ));
}

#[test]
fn duplicate_right_key_fails_the_join_table_not_the_engine() {
    let engine = Engine::new();
    let quotes = engine.append_table("quotes", quotes_schema()).unwrap();
    let orders = engine.append_table("orders", orders_schema()).unwrap();
    let joined = orders
        .natural_join(&quotes, ["Symbol"], ["LastPrice = Price"])
        .unwrap();
    let downstream = joined.agg_by([sum("Q = Qty")], ["Symbol"]).unwrap();
    let healthy = orders.last_by(["Id"]).unwrap();

    quotes.writer().unwrap().push(quotes_batch()).unwrap();
    orders
        .writer()
        .unwrap()
        .push(common::orders(&[("AAPL", "o1", 1.0, 1)]))
        .unwrap();
    let e = engine.run_cycle().unwrap_err();
    let expected = EngineError::DuplicateRightKey {
        table: joined.name().to_string(),
        right: "quotes".into(),
        key: "[AAPL]".into(),
    };
    assert_eq!(e, expected);
    assert!(e.to_string().contains("[AAPL]"), "{e}");
    assert_eq!(joined.status().unwrap_err(), expected);
    assert!(matches!(
        downstream.status().unwrap_err(),
        EngineError::TableFailed { .. }
    ));
    assert!(joined.snapshot().is_err());
    // Unrelated tables keep working.
    healthy.status().unwrap();
    assert_eq!(healthy.snapshot().unwrap().num_rows(), 1);
    orders
        .writer()
        .unwrap()
        .push(common::orders(&[("TSLA", "o2", 1.0, 1)]))
        .unwrap();
    engine.run_cycle().unwrap();
    assert_eq!(healthy.snapshot().unwrap().num_rows(), 2);
    // Building on a duplicate right table fails immediately.
    assert!(matches!(
        orders
            .natural_join(&quotes, ["Symbol"], ["P = Price"])
            .unwrap_err(),
        EngineError::DuplicateRightKey { .. }
    ));
}

fn quotes_batch() -> arrow_array::RecordBatch {
    quotes(&[("AAPL", 135.0), ("AAPL", 133.0)])
}
