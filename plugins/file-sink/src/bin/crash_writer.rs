//! Test helper for `tests/crash.rs`: writes cycles through the `file` sink, without pause,
//! until it is killed.
//!
//! Usage: `file-sink-crash-writer DIR FORMAT ROLL_ROWS BATCH_ROWS`. Cycle `c` adds the rows
//! `c * BATCH_ROWS ..` with the test table's values (`id`, `price = id + 0.25`, `sym = "s{id}"`),
//! then flushes; so every complete file holds consecutive ids.

use std::process::ExitCode;
use std::sync::Arc;

use serde_json::json;
use topictable_plugin_file_sink::FileSinkFactory;
use topictable_sdk::arrow_array::{Float64Array, Int64Array, RecordBatch, StringArray};
use topictable_sdk::arrow_schema::{DataType, Field, Schema};
use topictable_sdk::{SinkFactory, SinkUpdate};

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("file-sink-crash-writer: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [dir, format, roll_rows, batch_rows] = args.as_slice() else {
        return Err("usage: file-sink-crash-writer DIR FORMAT ROLL_ROWS BATCH_ROWS".into());
    };
    let roll_rows: u64 = roll_rows.parse()?;
    let batch_rows: i64 = batch_rows.parse()?;
    let schema = Arc::new(Schema::new(vec![
        Field::new("id", DataType::Int64, false),
        Field::new("price", DataType::Float64, true),
        Field::new("sym", DataType::Utf8, true),
    ]));
    let factory = FileSinkFactory;
    let config = factory
        .description()
        .config
        .validate(&json!({ "path": dir, "format": format, "roll_rows": roll_rows }))
        .map_err(|errors| format!("{errors:?}"))?;
    let mut sink = factory.new_sink(&config, schema.clone())?;
    let empty = RecordBatch::new_empty(schema.clone());
    for cycle in 0.. {
        let ids: Vec<i64> = (cycle * batch_rows..(cycle + 1) * batch_rows).collect();
        let added = RecordBatch::try_new(
            schema.clone(),
            vec![
                Arc::new(Int64Array::from(ids.clone())),
                Arc::new(Float64Array::from_iter_values(
                    ids.iter().map(|&i| i as f64 + 0.25),
                )),
                Arc::new(StringArray::from_iter_values(
                    ids.iter().map(|i| format!("s{i}")),
                )),
            ],
        )?;
        sink.write(&SinkUpdate {
            cycle: cycle as u64,
            added,
            removed: empty.clone(),
            modified: empty.clone(),
        })?;
        sink.flush()?;
    }
    Ok(())
}
