//! A reader snapshotting while a background cycle thread ingests never sees
//! a half-applied cycle: the join has exactly the left table's rows and the
//! aggregation over the join agrees with the source, in every snapshot.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use common::*;
use topictable_engine::{Engine, count, sum};

#[test]
fn reader_never_sees_a_half_applied_cycle() {
    let engine = Engine::new();
    let quotes_t = engine.append_table("quotes", quotes_schema()).unwrap();
    let orders_t = engine.append_table("orders", orders_schema()).unwrap();
    let last = quotes_t.last_by(["Symbol"]).unwrap();
    let joined = orders_t
        .natural_join(&last, ["Symbol"], ["LastPrice = Price"])
        .unwrap();
    let total = joined
        .agg_by([count("N"), sum("Q = Qty")], Vec::<String>::new())
        .unwrap();
    let _cycles = engine.start_with_period(Duration::from_millis(1));

    let done = Arc::new(AtomicBool::new(false));
    let writer = {
        let (w, qw, done) = (
            orders_t.writer().unwrap(),
            quotes_t.writer().unwrap(),
            done.clone(),
        );
        std::thread::spawn(move || {
            let syms = ["AAPL", "TSLA", "MSFT"];
            let mut i = 0usize;
            while !done.load(Ordering::Relaxed) && i < 60_000 {
                let n = 1 + i % 97;
                let rows: Vec<(String, String, f64, i32)> = (0..n)
                    .map(|j| {
                        (
                            syms[(i + j) % 3].to_string(),
                            format!("o{}", i + j),
                            1.0,
                            ((i + j) % 5) as i32,
                        )
                    })
                    .collect();
                let refs: Vec<(&str, &str, f64, i32)> = rows
                    .iter()
                    .map(|r| (r.0.as_str(), r.1.as_str(), r.2, r.3))
                    .collect();
                w.push(orders(&refs)).unwrap();
                qw.push(quotes(&[(syms[i % 3], i as f64)])).unwrap();
                i += n;
            }
        })
    };

    let deadline = Instant::now() + Duration::from_millis(1500);
    let (mut checks, mut last_cycle, mut distinct_cycles) = (0, 0, 0);
    while Instant::now() < deadline {
        let s = engine
            .snapshot(&[&orders_t, &joined, &total, &quotes_t])
            .unwrap();
        assert!(s.cycle >= last_cycle, "cycles go backwards");
        if s.cycle > last_cycle {
            distinct_cycles += 1;
        }
        last_cycle = s.cycle;
        let (o, j, t) = (&s.batches[0], &s.batches[1], &s.batches[2]);
        assert_eq!(
            j.num_rows(),
            o.num_rows(),
            "join vs left at cycle {}",
            s.cycle
        );
        assert_eq!(
            i64s(t, "N")[0],
            Some(o.num_rows() as i64),
            "count vs left at cycle {}",
            s.cycle
        );
        let qty: i64 = i64s(o, "Qty").iter().flatten().sum();
        let q = i64s(t, "Q")[0];
        assert_eq!(q.unwrap_or(0), qty, "sum vs left at cycle {}", s.cycle);
        // A joined row carries a price exactly when its symbol has been quoted
        // by the same cycle (a symbol can be ordered before its first quote).
        let quoted: std::collections::BTreeSet<Option<String>> =
            strs(&s.batches[3], "Symbol").into_iter().collect();
        for (symbol, price) in strs(j, "Symbol").iter().zip(f64s(j, "LastPrice")) {
            assert_eq!(
                price.is_some(),
                quoted.contains(symbol),
                "{symbol:?} at cycle {}",
                s.cycle
            );
        }
        let (c, counts) = engine.row_counts(&[&orders_t, &joined]).unwrap();
        assert!(c >= s.cycle);
        assert_eq!(counts[0], counts[1]);
        checks += 1;
    }
    done.store(true, Ordering::Relaxed);
    writer.join().unwrap();
    assert!(
        checks > 10 && distinct_cycles > 3,
        "checks {checks}, cycles {distinct_cycles}"
    );
}
