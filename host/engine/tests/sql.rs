//! SQL over live tables: joins, aggregations, windows and ORDER BY/LIMIT
//! give what the rows say; every table of an engine is read at one cycle,
//! also while a cycle thread ingests; a source table's chunks are not
//! copied per query; errors name their position.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use arrow_array::RecordBatch;
use common::*;
use topictable_engine::sql::{Position, QueryError, QueryOutput, query_blocking};
use topictable_engine::{Engine, Table, sum};

/// All result rows in one batch.
fn rows(out: &QueryOutput) -> RecordBatch {
    arrow_select::concat::concat_batches(&out.schema, &out.batches).unwrap()
}

fn seeded() -> (Engine, Table, Table, Table) {
    let engine = Engine::new();
    let quotes_t = engine.append_table("quotes", quotes_schema()).unwrap();
    let orders_t = engine.append_table("orders", orders_schema()).unwrap();
    let last = quotes_t.last_by(["Symbol"]).unwrap();
    quotes_t
        .writer()
        .unwrap()
        .push(quotes(&[("AAPL", 100.0), ("TSLA", 50.0), ("AAPL", 110.0)]))
        .unwrap();
    orders_t
        .writer()
        .unwrap()
        .push(orders(&[
            ("AAPL", "o1", 0.0, 3),
            ("TSLA", "o2", 0.0, 5),
            ("AAPL", "o3", 0.0, 2),
            ("MSFT", "o4", 0.0, 1),
        ]))
        .unwrap();
    engine.run_cycle().unwrap();
    (engine, quotes_t, orders_t, last)
}

#[test]
fn join_group_by_window_and_order_by_give_what_the_rows_say() {
    let (_engine, quotes_t, orders_t, last) = seeded();
    let tables = [
        ("quotes", &quotes_t),
        ("orders", &orders_t),
        ("last_quotes", &last),
    ];
    // Orders joined with the last quote of their symbol, summed per symbol.
    let out = query_blocking(
        &tables,
        "SELECT o.Symbol, sum(o.Qty * q.Price) AS Notional, count(*) AS N \
         FROM orders o JOIN last_quotes q ON o.Symbol = q.Symbol \
         GROUP BY o.Symbol ORDER BY o.Symbol",
    )
    .unwrap();
    let b = rows(&out);
    assert_eq!(
        strs(&b, "Symbol"),
        vec![Some("AAPL".into()), Some("TSLA".into())]
    );
    assert_eq!(f64s(&b, "Notional"), vec![Some(5.0 * 110.0), Some(250.0)]);
    assert_eq!(i64s(&b, "N"), vec![Some(2), Some(1)]);
    assert_eq!(out.cycles, vec![1, 1, 1]);

    // A window function over the append table, and LIMIT.
    let out = query_blocking(
        &tables,
        "SELECT Symbol, Price, \
         CAST(row_number() OVER (PARTITION BY Symbol ORDER BY Price DESC) AS BIGINT) AS R \
         FROM quotes ORDER BY Symbol, R LIMIT 2",
    )
    .unwrap();
    let b = rows(&out);
    assert_eq!(f64s(&b, "Price"), vec![Some(110.0), Some(100.0)]);
    assert_eq!(i64s(&b, "R")[..], [Some(1), Some(2)]);

    // Deephaven's functions and an empty answer with its schema.
    let out = query_blocking(
        &tables,
        "SELECT Id, randomInt(1, 5) AS X FROM orders WHERE Qty > 100",
    )
    .unwrap();
    assert_eq!(out.num_rows(), 0);
    assert_eq!(out.schema.field(0).name(), "Id");
}

#[test]
fn every_table_of_an_engine_is_read_at_one_cycle_while_it_ingests() {
    let engine = Engine::new();
    let orders_t = engine.append_table("orders", orders_schema()).unwrap();
    let doubled = orders_t.update(["Twice = Qty * 2"]).unwrap();
    let per_symbol = orders_t.agg_by([sum("Q = Qty")], ["Symbol"]).unwrap();
    let _cycles = engine.start_with_period(Duration::from_millis(1));
    let done = Arc::new(AtomicBool::new(false));
    let writer = {
        let (w, done) = (orders_t.writer().unwrap(), done.clone());
        std::thread::spawn(move || {
            let syms = ["AAPL", "TSLA", "MSFT"];
            let mut i = 0usize;
            while !done.load(Ordering::Relaxed) && i < 200_000 {
                let n = 1 + i % 89;
                let ids: Vec<String> = (i..i + n).map(|j| format!("o{j}")).collect();
                let rows: Vec<(&str, &str, f64, i32)> = (0..n)
                    .map(|j| {
                        (
                            syms[(i + j) % 3],
                            ids[j].as_str(),
                            0.0,
                            ((i + j) % 7) as i32,
                        )
                    })
                    .collect();
                w.push(orders(&rows)).unwrap();
                i += n;
            }
        })
    };
    let tables = [
        ("orders", &orders_t),
        ("doubled", &doubled),
        ("per_symbol", &per_symbol),
    ];
    let sql = "SELECT (SELECT count(*) FROM orders) AS A, (SELECT count(*) FROM doubled) AS B, \
               (SELECT sum(Qty) FROM orders) AS S, (SELECT sum(Twice) FROM doubled) AS D, \
               (SELECT sum(Q) FROM per_symbol) AS G";
    let deadline = Instant::now() + Duration::from_millis(1500);
    let (mut checks, mut cycles_seen, mut last_cycle) = (0, 0, 0);
    while Instant::now() < deadline {
        let out = query_blocking(&tables, sql).unwrap();
        let cycle = out.cycles[0];
        assert!(out.cycles.iter().all(|&c| c == cycle), "{:?}", out.cycles);
        assert!(cycle >= last_cycle, "cycles go backwards");
        cycles_seen += usize::from(cycle > last_cycle);
        last_cycle = cycle;
        let b = rows(&out);
        let (a, b_, s, d, g) = (
            i64s(&b, "A")[0],
            i64s(&b, "B")[0],
            i64s(&b, "S")[0],
            i64s(&b, "D")[0],
            i64s(&b, "G")[0],
        );
        assert_eq!(a, b_, "append table vs its update at cycle {cycle}");
        assert_eq!(d, s.map(|s| s * 2), "sum of the formula at cycle {cycle}");
        assert_eq!(g, s, "aggregation vs its source at cycle {cycle}");
        checks += 1;
    }
    done.store(true, Ordering::Relaxed);
    writer.join().unwrap();
    assert!(checks > 10, "only {checks} queries ran");
    assert!(cycles_seen > 3, "the queries saw only {cycles_seen} cycles");
}

#[test]
fn a_source_tables_chunks_are_shared_not_copied() {
    let engine = Engine::new();
    let t = engine.append_table("orders", orders_schema()).unwrap();
    let many: Vec<(String, i32)> = (0..100_000).map(|i| (format!("o{i}"), i)).collect();
    let rows: Vec<(&str, &str, f64, i32)> = many
        .iter()
        .map(|(id, q)| ("AAPL", id.as_str(), 1.0, *q))
        .collect();
    t.writer().unwrap().push(orders(&rows)).unwrap();
    engine.run_cycle().unwrap();
    let pointers = |b: &[RecordBatch]| -> Vec<*const u8> {
        b.iter()
            .flat_map(|b| {
                b.columns()
                    .iter()
                    .map(|c| c.to_data().buffers()[0].as_ptr())
            })
            .collect()
    };
    let first = engine.pin(&[&t]).unwrap().tables[0].batches().unwrap();
    let second = engine.pin(&[&t]).unwrap().tables[0].batches().unwrap();
    assert_eq!(pointers(&first), pointers(&second));
    let total: usize = first.iter().map(RecordBatch::num_rows).sum();
    assert_eq!(total, 100_000);
}

#[test]
fn tables_of_two_engines_are_each_read_at_their_own_cycle() {
    let (engine_a, quotes_a, _, _) = seeded();
    let engine_b = Engine::new();
    let quotes_b = engine_b.append_table("quotes", quotes_schema()).unwrap();
    for _ in 0..3 {
        quotes_b
            .writer()
            .unwrap()
            .push(quotes(&[("X", 1.0)]))
            .unwrap();
        engine_b.run_cycle().unwrap();
    }
    let out = query_blocking(
        &[("a", &quotes_a), ("b", &quotes_b)],
        "SELECT (SELECT count(*) FROM a) AS A, (SELECT count(*) FROM b) AS B",
    )
    .unwrap();
    assert_eq!(out.cycles, vec![engine_a.cycle(), 3]);
    let b = rows(&out);
    assert_eq!((i64s(&b, "A")[0], i64s(&b, "B")[0]), (Some(3), Some(3)));
}

fn invalid(tables: &[(&str, &Table)], sql: &str) -> (String, Option<Position>) {
    match query_blocking(tables, sql) {
        Err(QueryError::Invalid { message, position }) => (message, position),
        other => panic!("{sql}: expected an invalid query, got {other:?}"),
    }
}

#[test]
fn errors_name_their_position() {
    let (_engine, quotes_t, orders_t, _) = seeded();
    let tables = [("quotes", &quotes_t), ("orders", &orders_t)];

    let (message, position) = invalid(&tables, "SELECT Symbol FROM qotes");
    assert!(
        message.contains("qotes") && message.contains("tables: quotes, orders"),
        "{message}"
    );
    assert_eq!(
        position,
        Some(Position {
            line: 1,
            column: 20
        }),
        "{message}"
    );

    let (message, position) = invalid(&tables, "SELECT Symbol,\n  Prise FROM quotes");
    assert!(message.contains("Prise"), "{message}");
    assert_eq!(position, Some(Position { line: 2, column: 3 }), "{message}");
    assert!(message.contains("line 2, column 3"), "{message}");

    let (message, position) = invalid(&tables, "SELECT * FROM quotes WHERE");
    assert_eq!(
        position,
        Some(Position {
            line: 1,
            column: 27
        }),
        "{message}"
    );
    assert!(message.contains("line 1, column 27"), "{message}");
    let (message, position) = invalid(&tables, "SELECT Symbol,, Price FROM quotes");
    assert_eq!(
        position,
        Some(Position {
            line: 1,
            column: 15
        }),
        "{message}"
    );
    assert!(message.contains("Column: 15"), "{message}");

    // Identifiers keep their case.
    let (message, _) = invalid(&tables, "SELECT symbol FROM quotes");
    assert!(message.contains("symbol"), "{message}");

    // Only queries run.
    for sql in [
        "CREATE TABLE t AS SELECT 1",
        "INSERT INTO quotes VALUES ('X', 1.0)",
        "SET datafusion.execution.batch_size = 1",
    ] {
        let (message, _) = invalid(&tables, sql);
        assert!(!message.is_empty(), "{sql}");
    }
    assert_eq!(quotes_t.num_rows().unwrap(), 3);
}

#[test]
fn a_failed_table_fails_only_the_queries_that_read_it() {
    let engine = Engine::new();
    let ok = engine.append_table("ok", quotes_schema()).unwrap();
    let orders_t = engine.append_table("orders", orders_schema()).unwrap();
    // A formula that fails at run time (integer overflow) fails its table.
    let bad = orders_t.update(["Boom = CAST(Qty AS TINYINT)"]).unwrap();
    orders_t
        .writer()
        .unwrap()
        .push(orders(&[("AAPL", "o1", 0.0, 1000)]))
        .unwrap();
    ok.writer().unwrap().push(quotes(&[("AAPL", 1.0)])).unwrap();
    let _ = engine.run_cycle();
    assert!(
        bad.num_rows().is_err(),
        "the overflowing cast must fail its table"
    );
    let tables = [("ok", &ok), ("bad", &bad)];
    let out = query_blocking(&tables, "SELECT count(*) AS N FROM ok").unwrap();
    assert_eq!(i64s(&rows(&out), "N"), vec![Some(1)]);
    match query_blocking(&tables, "SELECT * FROM bad") {
        Err(QueryError::TableFailed { table, .. }) => assert_eq!(table, "bad"),
        other => panic!("expected a failed table, got {other:?}"),
    }
}
