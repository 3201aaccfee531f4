//! Shared by the file sink's tests: a test table, sink construction as the host does it, and
//! reading the output back with pyarrow.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

use serde_json::{Value, json};
use topictable_plugin_file_sink::FileSinkFactory;
use topictable_sdk::arrow_array::{Float64Array, Int64Array, RecordBatch, StringArray};
use topictable_sdk::arrow_schema::{DataType, Field, Schema, SchemaRef};
use topictable_sdk::{Sink, SinkFactory, SinkUpdate};

/// The test table: `id` (never null), `price` and `sym` (sometimes null).
pub fn schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("id", DataType::Int64, false),
        Field::new("price", DataType::Float64, true),
        Field::new("sym", DataType::Utf8, true),
    ]))
}

/// `price` of row `id`, or null.
pub fn price(id: i64) -> Option<f64> {
    (id % 7 != 3).then_some(id as f64 + 0.25)
}

/// `sym` of row `id`, or null; some need CSV quoting.
pub fn sym(id: i64) -> Option<String> {
    match id % 11 {
        4 => None,
        0 => Some(format!("a,\"b\" {id}")),
        _ => Some(format!("s{id}")),
    }
}

/// The rows `ids` of the test table.
pub fn batch(ids: impl IntoIterator<Item = i64>) -> RecordBatch {
    let ids: Vec<i64> = ids.into_iter().collect();
    RecordBatch::try_new(
        schema(),
        vec![
            Arc::new(Int64Array::from(ids.clone())),
            Arc::new(Float64Array::from(
                ids.iter().map(|&i| price(i)).collect::<Vec<_>>(),
            )),
            Arc::new(StringArray::from(
                ids.iter().map(|&i| sym(i)).collect::<Vec<_>>(),
            )),
        ],
    )
    .unwrap()
}

/// An update of the test table.
pub fn update(cycle: u64, removed: &[i64], modified: &[i64], added: &[i64]) -> SinkUpdate {
    SinkUpdate {
        cycle,
        added: batch(added.iter().copied()),
        removed: batch(removed.iter().copied()),
        modified: batch(modified.iter().copied()),
    }
}

/// The row a reader should give for `id` written as `change`, under the default change column.
pub fn expected_row(id: i64, change: &str) -> Value {
    json!({ "id": id, "price": price(id), "sym": sym(id), "_change": change })
}

/// A sink made as the host makes one: the config validated against the factory's spec first.
pub fn new_sink(config: Value) -> Result<Box<dyn Sink>, String> {
    let factory = FileSinkFactory;
    let config = factory
        .description()
        .config
        .validate(&config)
        .map_err(|errors| format!("{errors:?}"))?;
    factory
        .new_sink(&config, schema())
        .map_err(|e| e.to_string())
}

/// The Python with pyarrow (the tests' reference Python: `TOPICTABLE_TEST_PYTHON`,
/// else the workspace's `.cache/venv`).
pub fn python() -> PathBuf {
    topictable_test_support::reference_python::python(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("../.."),
    )
}

/// Every final file in `dir` read by pyarrow: `{"files": [{name, columns, rows, …}], "others": [names]}`.
pub fn read_back(dir: &Path, format: &str) -> Value {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/read_files.py");
    let out = Command::new(python())
        .arg(&script)
        .arg(dir)
        .arg(format)
        .output()
        .expect("run the pyarrow reader");
    assert!(
        out.status.success(),
        "pyarrow could not read the files in {}: {}",
        dir.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("the reader prints JSON")
}

/// Asserts that `actual` (one row from pyarrow) is `expected` (from [`expected_row`]).
pub fn assert_row(actual: &Value, expected: &Value, context: &str) {
    for key in ["id", "sym", "_change"] {
        assert_eq!(
            actual[key], expected[key],
            "{context}: column {key} of {actual}"
        );
    }
    assert_eq!(
        actual["price"].as_f64(),
        expected["price"].as_f64(),
        "{context}: column price of {actual}"
    );
}

/// The names in `dir`, sorted.
pub fn names(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    names
}
