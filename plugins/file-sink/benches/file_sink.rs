//! Parquet from a 10M-row append table through the `file` sink, against arrow's `ArrowWriter`
//! writing the same `RecordBatch`es (change column included) with the same properties, in the
//! same run. Prints a markdown table.
//!
//! `FILE_SINK_BENCH_ROWS` (default 10 000 000) sets the row count, `FILE_SINK_BENCH_ROUNDS`
//! (default 3) the number of alternating rounds; the best round of each counts.
//! `FILE_SINK_BENCH_DIR` (default the system temp dir) is where the files go; use a real disk.
//! The baseline is `ArrowWriter` with no fsync, as the issue states it. The sink also syncs
//! its file before the rename (its crash guarantee), starting the write-back in the
//! background as the file grows; the table also shows `ArrowWriter` with one `sync_all` at
//! the end, for comparison.

use std::fs::File;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use parquet::arrow::ArrowWriter;
use serde_json::json;
use topictable_plugin_file_sink::change::{ChangeColumns, ChangeKind};
use topictable_plugin_file_sink::{FileSinkConfig, FileSinkFactory, parquet_writer_properties};
use topictable_sdk::arrow_array::{Float64Array, Int64Array, RecordBatch, StringArray};
use topictable_sdk::arrow_schema::{DataType, Field, Schema};
use topictable_sdk::{SinkFactory, SinkUpdate};

const BATCH_ROWS: usize = 64 * 1024;

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.replace('_', "").parse().ok())
        .unwrap_or(default)
}

/// The append table's batches: `id` int64, `price` float64, `sym` a short string.
fn table_batches(rows: usize) -> Vec<RecordBatch> {
    let schema = Arc::new(Schema::new(vec![
        Field::new("id", DataType::Int64, false),
        Field::new("price", DataType::Float64, true),
        Field::new("sym", DataType::Utf8, true),
    ]));
    const SYMS: [&str; 8] = [
        "AAPL", "MSFT", "GOOG", "AMZN", "NVDA", "META", "TSLA", "IBM",
    ];
    (0..rows)
        .step_by(BATCH_ROWS)
        .map(|start| {
            let end = (start + BATCH_ROWS).min(rows) as i64;
            let ids = start as i64..end;
            RecordBatch::try_new(
                schema.clone(),
                vec![
                    Arc::new(Int64Array::from_iter_values(ids.clone())),
                    Arc::new(Float64Array::from_iter_values(
                        ids.clone().map(|i| 100.0 + (i % 9973) as f64 * 0.01),
                    )),
                    Arc::new(StringArray::from_iter_values(
                        ids.map(|i| SYMS[(i as usize * 7 + i as usize / 13) % SYMS.len()]),
                    )),
                ],
            )
            .unwrap()
        })
        .collect()
}

fn config(dir: &Path) -> serde_json::Map<String, serde_json::Value> {
    // One file, like the baseline: rolling is off.
    FileSinkFactory
        .description()
        .config
        .validate(&json!({ "path": dir, "roll_rows": 0 }))
        .unwrap()
}

fn run_sink(batches: &[RecordBatch], dir: &Path) -> Duration {
    let start = Instant::now();
    let mut sink = FileSinkFactory
        .new_sink(&config(dir), batches[0].schema())
        .unwrap();
    let empty = RecordBatch::new_empty(batches[0].schema());
    for (cycle, batch) in batches.iter().enumerate() {
        sink.write(&SinkUpdate {
            cycle: cycle as u64,
            added: batch.clone(),
            removed: empty.clone(),
            modified: empty.clone(),
        })
        .unwrap();
    }
    sink.close().unwrap();
    start.elapsed()
}

fn run_arrow_writer(
    batches: &[RecordBatch],
    props_from: &Path,
    path: &Path,
    sync: bool,
) -> Duration {
    let props = parquet_writer_properties(&FileSinkConfig::from_map(&config(props_from)).unwrap());
    let start = Instant::now();
    let file = File::create(path).unwrap();
    let mut writer = ArrowWriter::try_new(file, batches[0].schema(), Some(props)).unwrap();
    for batch in batches {
        writer.write(batch).unwrap();
    }
    let file = writer.into_inner().unwrap();
    if sync {
        file.sync_all().unwrap();
    }
    start.elapsed()
}

fn main() {
    let rows = env_usize("FILE_SINK_BENCH_ROWS", 10_000_000).max(1);
    let rounds = env_usize("FILE_SINK_BENCH_ROUNDS", 3).max(1);
    let batches = table_batches(rows);
    // The baseline gets the batches exactly as the sink writes them: change column included.
    let mut changes = ChangeColumns::default();
    let with_change: Vec<RecordBatch> = batches
        .iter()
        .map(|b| {
            let mut fields: Vec<_> = b.schema().fields().iter().cloned().collect();
            fields.push(Arc::new(topictable_plugin_file_sink::change::field(
                "_change",
            )));
            let mut columns = b.columns().to_vec();
            columns.push(changes.column(ChangeKind::Add, b.num_rows()));
            RecordBatch::try_new(Arc::new(Schema::new(fields)), columns).unwrap()
        })
        .collect();

    let scratch = tempfile::tempdir_in(
        std::env::var_os("FILE_SINK_BENCH_DIR").unwrap_or_else(|| std::env::temp_dir().into()),
    )
    .unwrap();
    let (mut sink, mut base_sync, mut base) = (Vec::new(), Vec::new(), Vec::new());
    let (mut sink_bytes, mut base_bytes) = (0, 0);
    for round in 0..rounds {
        let dir = scratch.path().join(format!("sink-{round}"));
        sink.push(run_sink(&batches, &dir));
        sink_bytes = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().metadata().unwrap().len())
            .sum::<u64>();
        std::fs::remove_dir_all(&dir).unwrap();

        let path = scratch.path().join(format!("base-{round}.parquet"));
        base_sync.push(run_arrow_writer(&with_change, scratch.path(), &path, true));
        base_bytes = std::fs::metadata(&path).unwrap().len();
        std::fs::remove_file(&path).unwrap();

        base.push(run_arrow_writer(&with_change, scratch.path(), &path, false));
        std::fs::remove_file(&path).unwrap();
    }
    let best = |v: &[Duration]| v.iter().min().copied().unwrap();
    let secs = |d: Duration| d.as_secs_f64();
    let (s, bs, b) = (best(&sink), best(&base_sync), best(&base));
    println!(
        "Parquet (snappy, row groups of 1048576 rows), {rows} rows in batches of {BATCH_ROWS}, best of {rounds} alternating rounds\n"
    );
    println!("| writer | best s | rows/s | file MB | vs ArrowWriter |");
    println!("|---|---:|---:|---:|---:|");
    let mb = |bytes: u64| bytes as f64 / 1e6;
    println!(
        "| `file` sink (write + close: footer, fsync, rename) | {:.3} | {:.0} | {:.1} | {:.3}× |",
        secs(s),
        rows as f64 / secs(s),
        mb(sink_bytes),
        secs(s) / secs(b)
    );
    println!(
        "| `ArrowWriter`, no fsync (baseline) | {:.3} | {:.0} | {:.1} | 1.000× |",
        secs(b),
        rows as f64 / secs(b),
        mb(base_bytes)
    );
    println!(
        "| `ArrowWriter` + `sync_all` at the end | {:.3} | {:.0} | {:.1} | {:.3}× |",
        secs(bs),
        rows as f64 / secs(bs),
        mb(base_bytes),
        secs(bs) / secs(b)
    );
    let all = |v: &[Duration]| {
        v.iter()
            .map(|d| format!("{:.3}", secs(*d)))
            .collect::<Vec<_>>()
            .join(", ")
    };
    println!(
        "\nall rounds (s): sink [{}]; ArrowWriter + fsync [{}]; ArrowWriter [{}]",
        all(&sink),
        all(&base_sync),
        all(&base)
    );
    println!(
        "goal: sink ≤ 1.1× ArrowWriter (no fsync): {:.3}× → {}",
        secs(s) / secs(b),
        if secs(s) <= 1.1 * secs(b) {
            "met"
        } else {
            "not met"
        }
    );
}
