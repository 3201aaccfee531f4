//! Engine benchmarks: per-cycle cost vs table size, aggBy throughput, memory,
//! formulas against raw DataFusion expressions, and SQL against DataFusion
//! over a MemTable.
//!
//! Run with `cargo bench -p topictable-engine --bench engine`. Sizes can be
//! scaled down with `ENGINE_BENCH_BIG_ROWS` (default 10,000,000) and
//! `ENGINE_BENCH_STREAM_ROWS` (default 100,000,000); `ENGINE_BENCH_CYCLES`
//! (default 300) sets how many delta cycles are timed, and `ENGINE_BENCH_ONLY`
//! (`delta`, `throughput`, `memory`, `formulas` or `sql`) runs one section;
//! `ENGINE_BENCH_OPS` (e.g. `last_by_unique,update`) picks the operators of
//! the delta section. `ENGINE_BENCH_FORMULA_ROWS` (1,000,000) and
//! `ENGINE_BENCH_SQL_ROWS` (10,000,000) size the last two.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use arrow_array::{ArrayRef, Float64Array, Int64Array, RecordBatch, StringArray};
use arrow_schema::{DataType, Field, Schema, SchemaRef};
use topictable_engine::{Engine, EngineConfig, Table, TableType, sum, wsum};

/// Counts live heap bytes, and their high-water mark, so memory can be
/// measured without an external tool.
struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

/// Adds `n` live bytes and raises the high-water mark if needed.
fn grow(n: usize) {
    let now = LIVE.fetch_add(n, Ordering::Relaxed) + n;
    PEAK.fetch_max(now, Ordering::Relaxed);
}

// SAFETY: every method delegates to `System` with the caller's arguments
// unchanged and only adds bookkeeping on an atomic counter.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded unchanged; the caller upholds `alloc`'s contract.
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            grow(layout.size());
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: forwarded unchanged; `ptr` came from `alloc` with `layout`.
        unsafe { System.dealloc(ptr, layout) };
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: forwarded unchanged; the caller upholds `realloc`'s contract.
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            // Old and new blocks may both be live while the data is copied.
            grow(new_size);
            LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
        }
        p
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn live() -> usize {
    LIVE.load(Ordering::Relaxed)
}

/// Restarts the high-water mark at the current live bytes.
fn reset_peak() {
    PEAK.store(live(), Ordering::Relaxed);
}

/// Most live bytes since the last [`reset_peak`].
fn peak() -> usize {
    PEAK.load(Ordering::Relaxed)
}

fn env_rows(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

const KEYS: i64 = 1_000;

/// The three arithmetic formulas of the `update` benchmarks.
const FORMULAS: [&str; 3] = ["Notional = Qty * Px", "Half = Px / 2", "Next = Qty + 1"];

fn orders_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("Id", DataType::Int64, false),
        Field::new("Sym", DataType::Int64, false),
        Field::new("Qty", DataType::Int64, false),
        Field::new("Px", DataType::Float64, false),
    ]))
}

/// `n` order rows starting at row `start`: a unique `Id`, and `Sym` cycling over 1,000 symbols.
fn orders(start: usize, n: usize) -> RecordBatch {
    let s = start as i64;
    RecordBatch::try_new(
        orders_schema(),
        vec![
            Arc::new(Int64Array::from_iter_values(s..s + n as i64)) as ArrayRef,
            Arc::new(Int64Array::from_iter_values(
                (s..s + n as i64).map(|i| (i * 7919) % KEYS),
            )),
            Arc::new(Int64Array::from_iter_values(
                (s..s + n as i64).map(|i| i % 100),
            )),
            Arc::new(Float64Array::from_iter_values(
                (s..s + n as i64).map(|i| (i % 1000) as f64 * 0.5),
            )),
        ],
    )
    .expect("valid batch")
}

fn mixed_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("I", DataType::Int64, false),
        Field::new("F", DataType::Float64, false),
        Field::new("S", DataType::Utf8, false),
    ]))
}

/// Rows of (int64, float64, short string like "SYM123").
fn mixed(start: usize, n: usize) -> (RecordBatch, usize) {
    let strings: Vec<String> = (start..start + n)
        .map(|i| format!("SYM{}", i % 1000))
        .collect();
    let raw = n * (8 + 8 + 4) + strings.iter().map(String::len).sum::<usize>() + 4;
    let b = RecordBatch::try_new(
        mixed_schema(),
        vec![
            Arc::new(Int64Array::from_iter_values(
                (start..start + n).map(|i| i as i64),
            )) as ArrayRef,
            Arc::new(Float64Array::from_iter_values(
                (start..start + n).map(|i| i as f64),
            )),
            Arc::new(StringArray::from_iter_values(strings)),
        ],
    )
    .expect("valid batch");
    (b, raw)
}

fn engine() -> Engine {
    Engine::with_config(EngineConfig {
        writer_capacity_rows: 1 << 24,
        ..EngineConfig::default()
    })
}

/// Fills `src` with `rows` rows through cycles of up to 1M rows.
fn preload(engine: &Engine, src: &Table, rows: usize) {
    let w = src.writer().expect("source");
    let mut done = 0;
    while done < rows {
        let n = (rows - done).min(1 << 20);
        w.push(orders(done, n)).expect("push");
        engine.run_cycle().expect("cycle");
        done += n;
    }
}

/// Cycle-time distribution over the timed cycles.
struct Stats {
    median: Duration,
    p99: Duration,
    max: Duration,
}

impl Stats {
    fn of(mut v: Vec<Duration>) -> Stats {
        v.sort();
        let at = |q: f64| v[((v.len() as f64 * q).ceil() as usize).clamp(1, v.len()) - 1];
        Stats {
            median: v[v.len() / 2],
            p99: at(0.99),
            max: v[v.len() - 1],
        }
    }
}

/// Cycle times for `cycles` 10k-row deltas after preloading `size` rows.
fn delta_cost(op: &str, size: usize, cycles: usize) -> Stats {
    let engine = engine();
    let src = engine
        .append_table("orders", orders_schema())
        .expect("table");
    let quotes = engine
        .append_table("quotes", orders_schema())
        .expect("table");
    let _out = match op {
        "last_by" => src.last_by(["Sym"]),
        "last_by_unique" => src.last_by(["Id"]),
        "agg_by" => src.agg_by([sum("Q = Qty")], ["Sym"]),
        "update" => src.update(FORMULAS),
        "where" => src.where_(["Qty > 50 AND Px * 2 < 800"]),
        _ => {
            let last = quotes.last_by(["Sym"]).expect("last_by");
            src.natural_join(&last, ["Sym"], ["LastPx = Px"])
        }
    }
    .expect("operator");
    preload(&engine, &quotes, KEYS as usize);
    preload(&engine, &src, size);
    let w = src.writer().expect("source");
    let mut times = Vec::with_capacity(cycles);
    for i in 0..cycles {
        w.push(orders(size + i * 10_000, 10_000)).expect("push");
        let t = Instant::now();
        engine.run_cycle().expect("cycle");
        times.push(t.elapsed());
    }
    if std::env::var("ENGINE_BENCH_TRACE").is_ok() {
        let med = Stats::of(times.clone()).median;
        for (i, t) in times.iter().enumerate() {
            if *t > med * 5 {
                eprintln!("{op} size {size} cycle {i}: {:.3} ms", ms(*t));
            }
        }
    }
    Stats::of(times)
}

fn bench_delta(big: usize, cycles: usize) {
    println!("\n## Per-cycle cost of a 10,000-row delta (append source; {cycles} cycles timed)\n");
    println!(
        "| operator | holds 10k: median / p99 / max | holds {}: median / p99 / max | median ratio | max ratio |",
        fmt_n(big)
    );
    println!("|---|---|---|---|---|");
    // Warm the allocator and caches so the first measured row is not penalised.
    delta_cost("last_by", 10_000, 30);
    let ops = std::env::var("ENGINE_BENCH_OPS")
        .unwrap_or_else(|_| "last_by,last_by_unique,agg_by,natural_join,update,where".into());
    for op in ops.split(',') {
        let small = delta_cost(op, 10_000, cycles);
        let large = delta_cost(op, big, cycles);
        let label = match op {
            "last_by" => "last_by([Sym]) (1,000 keys)",
            "last_by_unique" => "last_by([Id]) (unique key: every row a new key)",
            "agg_by" => "agg_by([sum(Q = Qty)], [Sym]) (1,000 keys)",
            "update" => "update(3 arithmetic formulas)",
            "where" => "where(\"Qty > 50 AND Px * 2 < 800\")",
            _ => "natural_join(last_by(quotes), [Sym], [LastPx = Px])",
        };
        let three = |s: &Stats| {
            format!(
                "{:.3} / {:.3} / {:.3} ms",
                ms(s.median),
                ms(s.p99),
                ms(s.max)
            )
        };
        println!(
            "| {label} | {} | {} | {:.2} | {:.2} |",
            three(&small),
            three(&large),
            large.median.as_secs_f64() / small.median.as_secs_f64(),
            large.max.as_secs_f64() / small.max.as_secs_f64()
        );
    }
}

fn bench_throughput(total: usize) {
    println!(
        "\n## agg_by throughput (blink source, 1,000 Int64 keys, 1M-row cycles, one thread)\n"
    );
    println!("| aggregations | rows | time | rows/s |");
    println!("|---|---|---|---|");
    let batches: Vec<RecordBatch> = (0..8).map(|i| orders(i << 20, 1 << 20)).collect();
    for (label, which) in [
        ("sum(Q = Qty) [int64]", 0),
        ("sum(P = Px) [float64]", 1),
        ("sum(Q = Qty), wsum(Qty, N = Px)", 2),
    ] {
        let engine = engine();
        let src = engine
            .blink_table("orders", orders_schema())
            .expect("table");
        let aggs = match which {
            0 => vec![sum("Q = Qty")],
            1 => vec![sum("P = Px")],
            _ => vec![sum("Q = Qty"), wsum("Qty", "N = Px")],
        };
        let _agg = src.agg_by(aggs, ["Sym"]).expect("agg");
        let w = src.writer().expect("writer");
        let mut rows = 0;
        let mut spent = Duration::ZERO;
        while rows < total {
            let b = &batches[(rows >> 20) % batches.len()];
            w.push(b.clone()).expect("push");
            let t = Instant::now();
            engine.run_cycle().expect("cycle");
            spent += t.elapsed();
            rows += b.num_rows();
        }
        println!(
            "| {label} | {} | {:.3} s | {:.1} M |",
            fmt_n(rows),
            spent.as_secs_f64(),
            rows as f64 / spent.as_secs_f64() / 1e6
        );
    }
}

fn bench_memory(big: usize, stream: usize) {
    println!("\n## Memory\n");
    println!(
        "| table | rows pushed | rows held | raw Arrow bytes held | heap used by engine | ratio |"
    );
    println!("|---|---|---|---|---|---|");
    {
        let before = live();
        let engine = engine();
        let t = engine.append_table("mixed", mixed_schema()).expect("table");
        let w = t.writer().expect("writer");
        let mut raw = 0;
        let mut done = 0;
        while done < big {
            let n = (big - done).min(100_000);
            let (b, r) = mixed(done, n);
            raw += r;
            w.push(b).expect("push");
            engine.run_cycle().expect("cycle");
            done += n;
        }
        let used = live() - before;
        println!(
            "| append (int64, float64, short string) | {} | {} | {} | {} | {:.3} |",
            fmt_n(big),
            fmt_n(t.num_rows().expect("rows")),
            fmt_b(raw),
            fmt_b(used),
            used as f64 / raw as f64
        );
    }
    for kind in [TableType::Blink, TableType::Ring(1_000_000)] {
        let before = live();
        let engine = engine();
        let t = engine
            .source_table("mixed", mixed_schema(), kind)
            .expect("table");
        let w = t.writer().expect("writer");
        let mut done = 0;
        let mut last_raw = 0;
        let per_cycle = 1_000_000;
        let mut high = 0;
        while done < stream {
            let n = (stream - done).min(per_cycle);
            let (b, r) = mixed(done, n);
            last_raw = r;
            // The allocator's high-water mark sees every moment of the push
            // and the cycle: the batch waiting in the writer buffer, the rows
            // the table holds and the copies a cycle makes. (Building the
            // batch's temporary strings is the test's doing and not counted.)
            reset_peak();
            w.push(b).expect("push");
            engine.run_cycle().expect("cycle");
            high = high.max(peak() - before);
            done += n;
        }
        let used = live() - before;
        println!(
            "| {kind:?} | {} | {} | {} (one cycle) | {} now, {} peak | {:.3} now, {:.3} peak |",
            fmt_n(done),
            fmt_n(t.num_rows().expect("rows")),
            fmt_b(last_raw),
            fmt_b(used),
            fmt_b(high),
            used as f64 / last_raw as f64,
            high as f64 / last_raw as f64
        );
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn fmt_n(n: usize) -> String {
    if n >= 1_000_000 && n.is_multiple_of(1_000_000) {
        format!("{}M", n / 1_000_000)
    } else if n >= 1_000 && n.is_multiple_of(1_000) {
        format!("{}k", n / 1_000)
    } else {
        n.to_string()
    }
}

fn fmt_b(b: usize) -> String {
    format!("{:.1} MB", b as f64 / 1e6)
}

fn main() {
    // `cargo bench` passes `--bench`; ignore arguments.
    let big = env_rows("ENGINE_BENCH_BIG_ROWS", 10_000_000);
    let stream = env_rows("ENGINE_BENCH_STREAM_ROWS", 100_000_000);
    let only = std::env::var("ENGINE_BENCH_ONLY").unwrap_or_default();
    println!(
        "topictable-engine benchmarks (big = {}, stream = {})",
        fmt_n(big),
        fmt_n(stream)
    );
    let cycles = env_rows("ENGINE_BENCH_CYCLES", 300);
    if only.is_empty() || only == "delta" {
        bench_delta(big, cycles);
    }
    if only.is_empty() || only == "throughput" {
        bench_throughput(20 << 20);
    }
    if only.is_empty() || only == "memory" {
        bench_memory(big, stream);
    }
    if only.is_empty() || only == "formulas" {
        bench_formulas(env_rows("ENGINE_BENCH_FORMULA_ROWS", 1_000_000), 15);
    }
    if only.is_empty() || only == "sql" {
        bench_sql(env_rows("ENGINE_BENCH_SQL_ROWS", 10_000_000), 15);
    }
}

/// Median of `v`.
fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

/// `update` with three formulas on one cycle of `rows` new rows, against
/// the same three expressions planned by DataFusion and evaluated straight
/// on the batch (the floor: what vectorised evaluation alone costs).
fn bench_formulas(rows: usize, rounds: usize) {
    use datafusion::common::DFSchema;
    use datafusion::prelude::{SessionConfig, SessionContext};

    println!(
        "\n## Formulas: update with 3 formulas on a cycle of {} new rows ({rounds} rounds, medians)\n",
        fmt_n(rows)
    );
    let batch = orders(0, rows);
    let ctx = SessionContext::new_with_config(
        SessionConfig::new().set_bool("datafusion.sql_parser.enable_ident_normalization", false),
    );
    let df_schema = DFSchema::try_from(orders_schema().as_ref().clone()).expect("schema");
    let exprs: Vec<_> = FORMULAS
        .iter()
        .map(|f| {
            let text = f.split_once('=').expect("assignment").1.trim();
            let e = ctx.parse_sql_expr(text, &df_schema).expect("parse");
            ctx.create_physical_expr(e, &df_schema).expect("plan")
        })
        .collect();
    let (mut raw, mut kept, mut with, mut without) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for _ in 0..rounds {
        let t = Instant::now();
        for e in &exprs {
            let v = e.evaluate(&batch).expect("evaluate");
            std::hint::black_box(v.into_array(rows).expect("array"));
        }
        raw.push(t.elapsed());
        for (formulas, times) in [(true, &mut with), (false, &mut without)] {
            let engine = engine();
            let src = engine
                .append_table("orders", orders_schema())
                .expect("table");
            let _upd = formulas.then(|| src.update(FORMULAS).expect("update"));
            src.writer()
                .expect("writer")
                .push(batch.clone())
                .expect("push");
            let t = Instant::now();
            engine.run_cycle().expect("cycle");
            times.push(t.elapsed());
        }
        // The bare expressions again, keeping their outputs until the round
        // ends as a table keeps its columns: each output then needs memory
        // of its own, where the first loop reuses what its last output freed.
        let t = Instant::now();
        let outputs: Vec<_> = exprs
            .iter()
            .map(|e| {
                let v = e.evaluate(&batch).expect("evaluate");
                v.into_array(rows).expect("array")
            })
            .collect();
        kept.push(t.elapsed());
        drop(std::hint::black_box(outputs));
    }
    let per_round: Vec<String> = (0..rounds)
        .map(|i| {
            let share = with[i].saturating_sub(without[i]);
            format!("{:.2}/{:.2}/{:.2}", ms(raw[i]), ms(kept[i]), ms(share))
        })
        .collect();
    let (raw, kept, with, without) = (median(raw), median(kept), median(with), median(without));
    let ours = with.saturating_sub(without);
    println!("| | median |");
    println!("|---|---|");
    println!(
        "| DataFusion PhysicalExprs evaluated on the batch (baseline) | {:.2} ms |",
        ms(raw)
    );
    println!(
        "| the same, keeping the three outputs to the end of the round | {:.2} ms |",
        ms(kept)
    );
    println!(
        "| cycle of the source table alone | {:.2} ms |",
        ms(without)
    );
    println!(
        "| cycle of the source table with the update table | {:.2} ms |",
        ms(with)
    );
    println!(
        "| the update table's share of the cycle | {:.2} ms ({:.0}M rows/s) |",
        ms(ours),
        rows as f64 / ours.as_secs_f64() / 1e6
    );
    println!(
        "| ratio: update share / baseline (goal ≤ 1.1) | {:.2} |",
        ours.as_secs_f64() / raw.as_secs_f64()
    );
    println!(
        "| ratio: update share / baseline keeping its outputs | {:.2} |",
        ours.as_secs_f64() / kept.as_secs_f64()
    );
    println!(
        "\nper round, ms (baseline / baseline keeping its outputs / update share): {}",
        per_round.join(", ")
    );
}

/// A GROUP BY over a live append table through `sql::query`, against the
/// same query over the same batches registered as a DataFusion `MemTable`
/// (both from a fresh session per query, on a runtime with a thread per
/// core); and how long taking the query's pin holds the engine while a
/// cycle thread ingests.
fn bench_sql(rows: usize, rounds: usize) {
    use datafusion::datasource::MemTable;
    use datafusion::prelude::SessionContext;
    use topictable_engine::sql::query_blocking;

    println!(
        "\n## SQL: GROUP BY over a live append table of {} rows ({rounds} rounds, medians)\n",
        fmt_n(rows)
    );
    let engine = engine();
    let src = engine
        .append_table("orders", orders_schema())
        .expect("table");
    preload(&engine, &src, rows);
    let batches = engine.pin(&[&src]).expect("pin").tables[0]
        .batches()
        .expect("batches");
    let sql = "SELECT Sym, sum(Qty * Px) AS Notional, count(*) AS N FROM orders GROUP BY Sym";
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let (mut ours, mut base) = (Vec::new(), Vec::new());
    for _ in 0..rounds {
        let t = Instant::now();
        let out = query_blocking(&[("orders", &src)], sql).expect("query");
        ours.push(t.elapsed());
        assert_eq!(out.num_rows(), KEYS as usize);
        let t = Instant::now();
        let n = runtime.block_on(async {
            // Identifiers keep their case, as in sql::query.
            let ctx = SessionContext::new_with_config(
                datafusion::prelude::SessionConfig::new()
                    .set_bool("datafusion.sql_parser.enable_ident_normalization", false),
            );
            let table = MemTable::try_new(orders_schema(), vec![batches.clone()]).expect("table");
            ctx.register_table("orders", Arc::new(table))
                .expect("register");
            let out = ctx
                .sql(sql)
                .await
                .expect("plan")
                .collect()
                .await
                .expect("run");
            out.iter().map(RecordBatch::num_rows).sum::<usize>()
        });
        base.push(t.elapsed());
        assert_eq!(n, KEYS as usize);
    }
    let (ours, base) = (median(ours), median(base));
    println!("| | median |");
    println!("|---|---|");
    println!(
        "| DataFusion over a MemTable of the same batches (baseline) | {:.2} ms |",
        ms(base)
    );
    println!("| sql::query over the live table | {:.2} ms |", ms(ours));
    println!(
        "| ratio (goal ≤ 1.2) | {:.2} |",
        ours.as_secs_f64() / base.as_secs_f64()
    );

    // The pin a query takes, while a cycle thread ingests 10k-row deltas.
    let derived = src.update(FORMULAS).expect("update");
    let agg = src.agg_by([sum("Q = Qty")], ["Sym"]).expect("agg");
    let cycles = engine.start_with_period(Duration::from_millis(1));
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let writer = {
        let (w, stop) = (src.writer().expect("writer"), stop.clone());
        std::thread::spawn(move || {
            let mut at = rows;
            while !stop.load(Ordering::Relaxed) {
                w.push(orders(at, 10_000)).expect("push");
                at += 10_000;
            }
        })
    };
    let mut holds = Vec::with_capacity(100_000);
    for _ in 0..100_000 {
        let t = Instant::now();
        std::hint::black_box(engine.pin(&[&src, &derived, &agg]).expect("pin"));
        holds.push(t.elapsed());
    }
    stop.store(true, Ordering::Relaxed);
    writer.join().expect("writer");
    drop(cycles);
    let s = Stats::of(holds);
    println!(
        "\nTaking a query's pin of 3 tables while ingesting (100k pins): median {:.1} µs, p99 {:.1} µs, max {:.1} µs (goal: < 1 ms)",
        s.median.as_secs_f64() * 1e6,
        s.p99.as_secs_f64() * 1e6,
        s.max.as_secs_f64() * 1e6
    );
}
