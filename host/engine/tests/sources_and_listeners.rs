//! Source table semantics (append, blink, ring), writers with back-pressure,
//! listeners, the time table and the background cycle thread.

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::*;
use topictable_engine::{Engine, EngineConfig, EngineError, ROW_NUMBER_COLUMN, TableType};

fn q(n: usize, start: usize) -> arrow_array::RecordBatch {
    let rows: Vec<(&str, f64)> = (start..start + n).map(|i| ("S", i as f64)).collect();
    quotes(&rows)
}

#[test]
fn blink_holds_only_the_latest_cycle() {
    let engine = Engine::new();
    let t = engine.blink_table("b", quotes_schema()).unwrap();
    assert!(t.is_blink());
    let (_sub, rx) = t.subscribe_channel();
    let w = t.writer().unwrap();
    w.push(q(3, 0)).unwrap();
    engine.run_cycle().unwrap();
    assert_eq!(
        f64s(&t.snapshot().unwrap(), "Price"),
        vec![Some(0.0), Some(1.0), Some(2.0)]
    );
    let u = rx.try_recv().unwrap();
    assert_eq!(
        (u.cycle, u.added.num_rows(), u.removed.num_rows()),
        (1, 3, 0)
    );
    w.push(q(1, 10)).unwrap();
    engine.run_cycle().unwrap();
    assert_eq!(f64s(&t.snapshot().unwrap(), "Price"), vec![Some(10.0)]);
    let u = rx.try_recv().unwrap();
    assert_eq!(
        (u.cycle, u.added.num_rows(), u.removed.num_rows()),
        (2, 1, 3)
    );
    assert_eq!(u.removed_keys, vec![0, 1, 2]);
    engine.run_cycle().unwrap();
    assert_eq!(t.snapshot().unwrap().num_rows(), 0);
    assert_eq!(rx.try_recv().unwrap().removed.num_rows(), 1);
    // A quiet cycle on an empty blink table changes nothing and notifies no one.
    engine.run_cycle().unwrap();
    assert!(rx.try_recv().is_err());
}

#[test]
fn ring_keeps_the_last_n() {
    let engine = Engine::new();
    let t = engine.ring_table("r", quotes_schema(), 3).unwrap();
    let (_sub, rx) = t.subscribe_channel();
    let w = t.writer().unwrap();
    w.push(q(2, 0)).unwrap();
    engine.run_cycle().unwrap();
    w.push(q(2, 2)).unwrap();
    engine.run_cycle().unwrap();
    assert_eq!(
        f64s(&t.snapshot().unwrap(), "Price"),
        vec![Some(1.0), Some(2.0), Some(3.0)]
    );
    let _ = rx.try_recv().unwrap();
    let u = rx.try_recv().unwrap();
    assert_eq!(f64s(&u.removed, "Price"), vec![Some(0.0)]);
    // More than N rows in one cycle: only the last N are kept or reported.
    w.push(q(5, 10)).unwrap();
    engine.run_cycle().unwrap();
    assert_eq!(
        f64s(&t.snapshot().unwrap(), "Price"),
        vec![Some(12.0), Some(13.0), Some(14.0)]
    );
    let u = rx.try_recv().unwrap();
    assert_eq!(
        f64s(&u.added, "Price"),
        vec![Some(12.0), Some(13.0), Some(14.0)]
    );
    assert_eq!(
        f64s(&u.removed, "Price"),
        vec![Some(1.0), Some(2.0), Some(3.0)]
    );
}

#[test]
fn append_keeps_everything_across_many_cycles() {
    let engine = Engine::new();
    let t = engine
        .source_table("a", quotes_schema(), TableType::Append)
        .unwrap();
    let w = t.writer().unwrap();
    for i in 0..200 {
        w.push(q(i % 7, 0)).unwrap();
        engine.run_cycle().unwrap();
    }
    let expected: usize = (0..200).map(|i| i % 7).sum();
    assert_eq!(t.snapshot().unwrap().num_rows(), expected);
    assert_eq!(t.num_rows().unwrap(), expected);
}

#[test]
fn writer_validates_schema() {
    let engine = Engine::new();
    let t = engine.append_table("quotes", quotes_schema()).unwrap();
    let e = t
        .writer()
        .unwrap()
        .push(orders(&[("A", "o", 1.0, 1)]))
        .unwrap_err();
    assert!(
        matches!(&e, EngineError::SchemaMismatch { table, .. } if table == "quotes"),
        "{e}"
    );
}

#[test]
fn a_full_writer_buffer_brings_the_next_cycle_forward() {
    let engine = Engine::with_config(EngineConfig {
        writer_capacity_rows: 4,
        ..EngineConfig::default()
    });
    let t = engine.append_table("quotes", quotes_schema()).unwrap();
    // A period far longer than the test: only early cycles can drain the buffer.
    let _cycles = engine.start_with_period(Duration::from_secs(3600));
    let w = t.writer().unwrap();
    // 10 rows through a 4-row buffer: the push finds the buffer full twice.
    let w2 = w.clone();
    let pusher = std::thread::spawn(move || w2.push(q(10, 0)).unwrap());
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while t.num_rows().unwrap() < 8 {
        assert!(
            std::time::Instant::now() < deadline,
            "no early cycle ran: the push waits for the period"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    pusher.join().unwrap();
    // The last 2 rows fit the buffer: nothing asks for a cycle, so they wait.
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(t.num_rows().unwrap(), 8);
    assert_eq!(w.buffered_rows(), 2);
}

#[test]
fn writer_back_pressure() {
    let engine = Engine::with_config(EngineConfig {
        writer_capacity_rows: 4,
        ..EngineConfig::default()
    });
    let t = engine.append_table("quotes", quotes_schema()).unwrap();
    let w = t.writer().unwrap();
    w.try_push(q(3, 0)).unwrap();
    let e = w.try_push(q(2, 3)).unwrap_err();
    assert_eq!(
        e,
        EngineError::WriterFull {
            table: "quotes".into(),
            buffered: 3,
            capacity: 4
        }
    );
    assert_eq!(w.buffered_rows(), 3);
    // A blocking push of 10 rows needs several cycles to get through.
    let w2 = w.clone();
    let pusher = std::thread::spawn(move || w2.push(q(10, 100)).unwrap());
    let mut cycles = 0;
    while t.num_rows().unwrap() < 13 {
        engine.run_cycle().unwrap();
        std::thread::sleep(Duration::from_millis(2));
        cycles += 1;
        assert!(cycles < 1000, "push never completed");
    }
    pusher.join().unwrap();
    assert!(cycles >= 3);
    assert!(w.buffered_rows() <= 4);
}

#[test]
fn listeners_get_each_cycle_and_unsubscribe_on_drop() {
    let engine = Engine::new();
    let t = engine.append_table("quotes", quotes_schema()).unwrap();
    let last = t.last_by(["Symbol"]).unwrap();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let sub = {
        let seen = seen.clone();
        last.subscribe(move |u| {
            seen.lock()
                .unwrap()
                .push((u.cycle, u.added.num_rows(), u.modified.num_rows()))
        })
    };
    let w = t.writer().unwrap();
    w.push(quotes(&[("A", 1.0), ("B", 2.0)])).unwrap();
    engine.run_cycle().unwrap();
    engine.run_cycle().unwrap(); // quiet: no update
    w.push(quotes(&[("A", 3.0)])).unwrap();
    let report = engine.run_cycle().unwrap();
    assert_eq!(report.cycle, 3);
    assert!(report.changed.contains(&last.name().to_string()));
    assert_eq!(*seen.lock().unwrap(), vec![(1, 2, 0), (3, 0, 1)]);
    drop(sub);
    w.push(quotes(&[("A", 4.0)])).unwrap();
    engine.run_cycle().unwrap();
    assert_eq!(seen.lock().unwrap().len(), 2);
}

#[test]
fn time_table_ticks() {
    let engine = Engine::new();
    let blink = engine
        .time_table("ticks", Duration::from_millis(5), TableType::Blink)
        .unwrap();
    let append = engine
        .time_table("log", Duration::from_millis(5), TableType::Append)
        .unwrap();
    let mut total = 0;
    for _ in 0..4 {
        std::thread::sleep(Duration::from_millis(12));
        engine.run_cycle().unwrap();
        let b = blink.snapshot().unwrap();
        assert!(b.num_rows() >= 1, "each 12 ms cycle sees a 5 ms tick");
        total += b.num_rows();
    }
    let a = append.snapshot().unwrap();
    assert!(a.num_rows() >= total.saturating_sub(2));
    let rn = i64s(&a, ROW_NUMBER_COLUMN);
    assert!(rn.iter().enumerate().all(|(i, v)| *v == Some(i as i64)));
    let ts = a
        .column(0)
        .as_any()
        .downcast_ref::<arrow_array::TimestampNanosecondArray>()
        .unwrap();
    assert!(ts.values().windows(2).all(|w| w[1] - w[0] == 5_000_000));
}

#[test]
fn background_thread_runs_cycles() {
    let engine = Engine::with_config(EngineConfig {
        period: Duration::from_millis(5),
        ..EngineConfig::default()
    });
    let t = engine.append_table("quotes", quotes_schema()).unwrap();
    let last = t.last_by(["Symbol"]).unwrap();
    let thread = engine.start();
    t.writer()
        .unwrap()
        .push(quotes(&[("A", 1.0), ("A", 2.0)]))
        .unwrap();
    let mut waited = 0;
    while last.num_rows().unwrap() == 0 && waited < 400 {
        std::thread::sleep(Duration::from_millis(5));
        waited += 1;
    }
    thread.stop();
    assert_eq!(f64s(&last.snapshot().unwrap(), "Price"), vec![Some(2.0)]);
    assert!(engine.cycle() >= 1);
}

fn qty_is(n: i32) -> topictable_engine::RowFilter {
    Arc::new(move |b: &arrow_array::RecordBatch| {
        let qty = b
            .column_by_name("Qty")
            .unwrap()
            .as_any()
            .downcast_ref::<arrow_array::Int32Array>()
            .unwrap();
        Ok(qty.iter().map(|q| q.map(|q| q == n)).collect())
    })
}

/// A removable append table drops the rows a writer's filter picks: those
/// it holds and those pushed before the request, not those pushed after;
/// and a `last_by` on it falls back to the key's earlier row.
#[test]
fn a_removable_table_removes_what_a_filter_picks_and_last_by_falls_back() {
    let engine = Engine::new();
    let t = engine
        .removable_source_table("o", orders_schema(), TableType::Append)
        .unwrap();
    let last = t.last_by(["Symbol"]).unwrap();
    let (_sub, rx) = t.subscribe_channel();
    let w = t.writer().unwrap();
    w.push(orders(&[
        ("A", "1", 1.0, 0),
        ("A", "2", 2.0, 1),
        ("B", "3", 3.0, 1),
    ]))
    .unwrap();
    engine.run_cycle().unwrap();
    let _ = rx.try_recv().unwrap();
    let by_symbol = |b: &arrow_array::RecordBatch| -> Vec<(Option<String>, Option<String>)> {
        let mut rows: Vec<_> = strs(b, "Symbol").into_iter().zip(strs(b, "Id")).collect();
        rows.sort();
        rows
    };
    let some = |s: &str| Some(s.to_string());
    assert_eq!(
        by_symbol(&last.snapshot().unwrap()),
        [(some("A"), some("2")), (some("B"), some("3"))]
    );
    w.push(orders(&[("A", "4", 4.0, 1)])).unwrap();
    w.remove_where(qty_is(1)).unwrap();
    w.push(orders(&[("B", "5", 5.0, 1)])).unwrap();
    engine.run_cycle().unwrap();
    assert_eq!(strs(&t.snapshot().unwrap(), "Id"), [some("1"), some("5")]);
    let u = rx.try_recv().unwrap();
    assert_eq!(u.removed_keys, [1, 2]);
    assert_eq!(strs(&u.removed, "Id"), [some("2"), some("3")]);
    assert_eq!(strs(&u.added, "Id"), [some("5")], "row 4 never appears");
    assert_eq!(
        by_symbol(&last.snapshot().unwrap()),
        [(some("A"), some("1")), (some("B"), some("5"))]
    );
    // Later rows of the same partition stay.
    w.push(orders(&[("A", "6", 6.0, 1)])).unwrap();
    engine.run_cycle().unwrap();
    assert_eq!(
        strs(&t.snapshot().unwrap(), "Id"),
        [some("1"), some("5"), some("6")]
    );
}

/// Ring and blink tables take removals too, merged in key order with their
/// own evictions; a table not created removable refuses them.
#[test]
fn ring_and_blink_tables_take_removals_and_others_refuse_them() {
    let engine = Engine::new();
    let ring = engine
        .removable_source_table("r", orders_schema(), TableType::Ring(3))
        .unwrap();
    let (_sub, rx) = ring.subscribe_channel();
    let w = ring.writer().unwrap();
    w.push(orders(&[
        ("A", "1", 1.0, 0),
        ("A", "2", 2.0, 1),
        ("A", "3", 3.0, 0),
    ]))
    .unwrap();
    engine.run_cycle().unwrap();
    let _ = rx.try_recv().unwrap();
    w.remove_where(qty_is(1)).unwrap();
    w.push(orders(&[("A", "4", 4.0, 0), ("A", "5", 5.0, 0)]))
        .unwrap();
    engine.run_cycle().unwrap();
    let some = |s: &str| Some(s.to_string());
    assert_eq!(
        strs(&ring.snapshot().unwrap(), "Id"),
        [some("3"), some("4"), some("5")]
    );
    let u = rx.try_recv().unwrap();
    assert_eq!(
        u.removed_keys,
        [0, 1],
        "the removal and the eviction, in key order"
    );

    let blink = engine
        .removable_source_table("b", orders_schema(), TableType::Blink)
        .unwrap();
    let w = blink.writer().unwrap();
    w.push(orders(&[("A", "1", 1.0, 0), ("A", "2", 2.0, 1)]))
        .unwrap();
    w.remove_where(qty_is(1)).unwrap();
    engine.run_cycle().unwrap();
    assert_eq!(strs(&blink.snapshot().unwrap(), "Id"), [some("1")]);

    let plain = engine.append_table("p", orders_schema()).unwrap();
    assert!(matches!(
        plain.writer().unwrap().remove_where(qty_is(1)),
        Err(EngineError::NotRemovable { .. })
    ));
}
