//! The `file` sink through the `SinkFactory` trait (the rlib): rows, change column, rolling,
//! naming, flush and errors. Output is read back with pyarrow.

mod common;

use std::time::Duration;

use common::{assert_row, expected_row, names, new_sink, read_back, update};
use serde_json::{Value, json};

/// Writes several cycles (removes, modifies, adds) and returns the rows a reader should see, in order.
fn write_cycles(config: Value) -> Vec<Value> {
    let mut sink = new_sink(config).unwrap();
    let cycles: [(&[i64], &[i64], &[i64]); 5] = [
        (&[], &[], &[0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]),
        (&[1, 2], &[3], &[12, 13, 14]),
        (&[], &[], &[]),
        (
            &[4],
            &[5, 6, 7, 8, 9, 10, 11, 12],
            &[15, 16, 17, 18, 19, 20, 21, 22, 23],
        ),
        (&[0], &[], &[24]),
    ];
    let mut expected = Vec::new();
    for (cycle, (removed, modified, added)) in cycles.iter().enumerate() {
        sink.write(&update(cycle as u64 + 1, removed, modified, added))
            .unwrap();
        sink.flush().unwrap();
        for (ids, change) in [(removed, "remove"), (modified, "modify"), (added, "add")] {
            expected.extend(ids.iter().map(|&id| expected_row(id, change)));
        }
    }
    sink.close().unwrap();
    expected
}

/// Rolls every 7 rows and checks the files pyarrow reads: names, sizes, and every row in order.
fn rows_match_across_rolled_files(format: &str) {
    let dir = tempfile::tempdir().unwrap();
    let expected = write_cycles(json!({
        "path": dir.path(), "format": format, "roll_rows": 7,
    }));
    let read = read_back(dir.path(), format);
    assert_eq!(read["others"], json!([]), "only final files are left");
    let files = read["files"].as_array().unwrap();
    assert_eq!(files.len(), expected.len().div_ceil(7));
    let mut rows = Vec::new();
    for (i, file) in files.iter().enumerate() {
        assert_eq!(file["name"], format!("part-{:06}.{format}", i + 1));
        assert_eq!(
            file["columns"],
            json!(["id", "price", "sym", "_change"]),
            "{}",
            file["name"]
        );
        let file_rows = file["rows"].as_array().unwrap();
        let full = (i + 1 < files.len()).then_some(7);
        assert_eq!(
            Some(file_rows.len()),
            full.or(Some(expected.len() % 7)),
            "{}",
            file["name"]
        );
        rows.extend(file_rows.iter().cloned());
    }
    assert_eq!(rows.len(), expected.len());
    for (i, (actual, expected)) in rows.iter().zip(&expected).enumerate() {
        assert_row(actual, expected, &format!("{format} row {i}"));
    }
}

#[test]
fn parquet_rows_match_pyarrow_across_rolled_files() {
    rows_match_across_rolled_files("parquet");
}

#[test]
fn csv_rows_match_pyarrow_across_rolled_files() {
    rows_match_across_rolled_files("csv");
}

#[test]
fn jsonl_rows_match_pyarrow_across_rolled_files() {
    rows_match_across_rolled_files("jsonl");
}

#[test]
fn parquet_flush_ends_a_row_group_and_compression_applies() {
    let dir = tempfile::tempdir().unwrap();
    let mut sink = new_sink(json!({
        "path": dir.path(), "compression": "zstd", "row_group_rows": 4, "prefix": "t",
    }))
    .unwrap();
    // 2 rows + flush, 9 rows + flush, a flush with nothing new, 2 rows, close: row groups of
    // [2], [4, 4, 1], [2]. Without the flushes they would be [4, 4, 3].
    sink.write(&update(1, &[], &[], &[0, 1])).unwrap();
    sink.flush().unwrap();
    sink.write(&update(2, &[], &[], &(2..11).collect::<Vec<_>>()))
        .unwrap();
    sink.flush().unwrap();
    sink.flush().unwrap();
    sink.write(&update(3, &[], &[], &[11, 12])).unwrap();
    sink.close().unwrap();
    let read = read_back(dir.path(), "parquet");
    let file = &read["files"][0];
    assert_eq!(file["name"], "t-000001.parquet");
    assert_eq!(file["row_groups"], 5);
    assert_eq!(file["compression"], json!(["ZSTD"]));
    assert_eq!(file["rows"].as_array().unwrap().len(), 13);
}

#[test]
fn flushed_rows_reach_the_temporary_file_and_only_close_gives_the_final_name() {
    for format in ["parquet", "csv", "jsonl"] {
        let dir = tempfile::tempdir().unwrap();
        let mut sink = new_sink(json!({ "path": dir.path(), "format": format })).unwrap();
        let temp = dir.path().join(format!(".part-000001.{format}.tmp"));
        sink.write(&update(1, &[], &[], &[0, 1, 2])).unwrap();
        let before = std::fs::metadata(&temp).unwrap().len();
        sink.flush().unwrap();
        let after = std::fs::metadata(&temp).unwrap().len();
        // Parquet: more than its 4-byte magic, so the row group itself reached the file.
        let floor = if format == "parquet" {
            before.max(4)
        } else {
            before
        };
        assert!(
            after > floor,
            "{format}: flush wrote no rows ({before} → {after} bytes)"
        );
        assert_eq!(names(dir.path()), [format!(".part-000001.{format}.tmp")]);
        if format != "parquet" {
            let text = std::fs::read_to_string(&temp).unwrap();
            let lines = text.lines().count();
            assert_eq!(
                lines,
                if format == "csv" { 4 } else { 3 },
                "{format}: {text}"
            );
        }
        sink.close().unwrap();
        assert_eq!(names(dir.path()), [format!("part-000001.{format}")]);
    }
}

#[test]
fn rolls_by_seconds_at_the_next_write_or_flush() {
    let dir = tempfile::tempdir().unwrap();
    let mut sink =
        new_sink(json!({ "path": dir.path(), "format": "jsonl", "roll_seconds": 1 })).unwrap();
    sink.write(&update(1, &[], &[], &[0, 1])).unwrap();
    sink.flush().unwrap();
    assert_eq!(names(dir.path()), [".part-000001.jsonl.tmp"]);
    std::thread::sleep(Duration::from_millis(1100));
    sink.flush().unwrap();
    assert_eq!(
        names(dir.path()),
        ["part-000001.jsonl"],
        "flush rolls an old file"
    );
    sink.write(&update(2, &[], &[], &[2])).unwrap();
    std::thread::sleep(Duration::from_millis(1100));
    sink.write(&update(3, &[], &[], &[3])).unwrap();
    assert_eq!(
        names(dir.path()),
        [
            ".part-000003.jsonl.tmp",
            "part-000001.jsonl",
            "part-000002.jsonl"
        ],
        "write rolls an old file before it writes"
    );
    sink.close().unwrap();
    let read = read_back(dir.path(), "jsonl");
    let ids: Vec<Vec<i64>> = read["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            f["rows"]
                .as_array()
                .unwrap()
                .iter()
                .map(|r| r["id"].as_i64().unwrap())
                .collect()
        })
        .collect();
    assert_eq!(ids, [vec![0, 1], vec![2], vec![3]]);
}

#[test]
fn one_update_is_split_at_roll_rows_and_no_empty_files_are_made() {
    let dir = tempfile::tempdir().unwrap();
    let mut sink =
        new_sink(json!({ "path": dir.path(), "format": "csv", "roll_rows": 4 })).unwrap();
    sink.write(&update(1, &[], &[], &(0..8).collect::<Vec<_>>()))
        .unwrap();
    // Exactly two full files are finished during the write; nothing is open.
    assert_eq!(names(dir.path()), ["part-000001.csv", "part-000002.csv"]);
    sink.flush().unwrap();
    sink.write(&update(2, &[], &[], &[])).unwrap();
    sink.close().unwrap();
    assert_eq!(names(dir.path()), ["part-000001.csv", "part-000002.csv"]);
}

#[test]
fn numbering_continues_after_final_and_leftover_temporary_files() {
    let dir = tempfile::tempdir().unwrap();
    for name in [
        "part-000007.parquet",
        ".part-000009.parquet.tmp",
        "part-000050.csv",
        "other-000060.parquet",
    ] {
        std::fs::write(dir.path().join(name), b"not ours").unwrap();
    }
    let mut sink = new_sink(json!({ "path": dir.path() })).unwrap();
    sink.write(&update(1, &[], &[], &[1])).unwrap();
    sink.close().unwrap();
    assert!(
        dir.path().join("part-000010.parquet").exists(),
        "{:?}",
        names(dir.path())
    );
    assert_eq!(
        std::fs::read(dir.path().join(".part-000009.parquet.tmp")).unwrap(),
        b"not ours"
    );
    // A second sink (a restart) continues from there.
    let mut sink = new_sink(json!({ "path": dir.path() })).unwrap();
    sink.write(&update(1, &[], &[], &[2])).unwrap();
    sink.close().unwrap();
    assert!(
        dir.path().join("part-000011.parquet").exists(),
        "{:?}",
        names(dir.path())
    );
}

#[test]
fn a_custom_change_column_name_is_used() {
    let dir = tempfile::tempdir().unwrap();
    let mut sink =
        new_sink(json!({ "path": dir.path(), "format": "jsonl", "change_column": "op" })).unwrap();
    sink.write(&update(1, &[5], &[6], &[7])).unwrap();
    sink.close().unwrap();
    let read = read_back(dir.path(), "jsonl");
    let file = &read["files"][0];
    assert_eq!(file["columns"], json!(["id", "price", "sym", "op"]));
    let ops: Vec<&str> = file["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["op"].as_str().unwrap())
        .collect();
    assert_eq!(ops, ["remove", "modify", "add"]);
}

#[test]
fn bad_configs_are_refused_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path();
    for (config, needle) in [
        (json!({}), "path"),
        (json!({ "path": path, "format": "xml" }), "format"),
        (json!({ "path": path, "roll_row": 5 }), "roll_rows"),
        (json!({ "path": path, "roll_rows": -1 }), "invalid"),
        (
            json!({ "path": path, "format": "csv", "compression": "zstd" }),
            "compression",
        ),
        (
            json!({ "path": path, "format": "jsonl", "row_group_rows": 10 }),
            "row_group_rows",
        ),
        (
            json!({ "path": path, "row_group_rows": 0 }),
            "row_group_rows",
        ),
        (json!({ "path": path, "prefix": "../x" }), "prefix"),
        (
            json!({ "path": path, "change_column": "sym" }),
            "change_column",
        ),
    ] {
        let error = new_sink(config.clone())
            .err()
            .unwrap_or_else(|| panic!("{config} was accepted"));
        assert!(error.contains(needle), "{config}: {error}");
    }
}

#[test]
fn an_unusable_directory_is_an_error_not_a_panic() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("a-file");
    std::fs::write(&file, b"x").unwrap();
    let error = new_sink(json!({ "path": file.join("sub") })).err().unwrap();
    assert!(error.contains("cannot create directory"), "{error}");
}

#[test]
fn a_write_error_is_returned_and_a_retry_goes_on_once_the_cause_is_gone() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let mut sink = new_sink(json!({ "path": &out })).unwrap();
    std::fs::remove_dir(&out).unwrap();
    let error = sink
        .write(&update(1, &[], &[], &[1]))
        .unwrap_err()
        .to_string();
    assert!(error.contains("cannot create"), "{error}");
    // The host retries the same update; it fails again until the directory is back.
    assert!(sink.write(&update(1, &[], &[], &[1])).is_err());
    std::fs::create_dir(&out).unwrap();
    sink.write(&update(1, &[], &[], &[1])).unwrap();
    sink.flush().unwrap();
    sink.write(&update(2, &[], &[], &[2])).unwrap();
    sink.close().unwrap();
    let read = read_back(&out, "parquet");
    let rows = read["files"][0]["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 2);
    assert_row(&rows[0], &expected_row(1, "add"), "row 0");
    assert_row(&rows[1], &expected_row(2, "add"), "row 1");
}

/// An update whose rows do not fit the schema: it fails after the open file has rows.
fn bad_update(cycle: u64) -> topictable_sdk::SinkUpdate {
    use std::sync::Arc;
    use topictable_sdk::arrow_array::{Int32Array, RecordBatch};
    use topictable_sdk::arrow_schema::{DataType, Field, Schema};
    let mut bad = update(cycle, &[], &[], &[]);
    bad.added = RecordBatch::try_new(
        Arc::new(Schema::new(vec![Field::new("id", DataType::Int32, false)])),
        vec![Arc::new(Int32Array::from(vec![1]))],
    )
    .unwrap();
    bad
}

/// An error abandons the open file; the next write puts its rows, and only
/// the rows of updates that succeeded, into a new file: none lost, none twice.
fn rows_survive_an_error_in_the_open_file(format: &str) {
    let dir = tempfile::tempdir().unwrap();
    let mut sink =
        new_sink(json!({ "path": dir.path(), "format": format, "roll_rows": 100 })).unwrap();
    sink.write(&update(1, &[], &[], &[1, 2])).unwrap();
    sink.flush().unwrap();
    // Half of this update is written before its last part fails.
    let mut half = bad_update(2);
    half.removed = common::batch([1]);
    assert!(sink.write(&half).is_err());
    sink.write(&update(3, &[], &[2], &[3])).unwrap();
    sink.flush().unwrap();
    sink.close().unwrap();
    let read = read_back(dir.path(), format);
    assert_eq!(read["others"], json!([]), "the abandoned file is gone");
    let rows: Vec<&Value> = read["files"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|f| f["rows"].as_array().unwrap())
        .collect();
    let expected = [(1, "add"), (2, "add"), (2, "modify"), (3, "add")];
    assert_eq!(rows.len(), expected.len(), "{rows:?}");
    for (i, (actual, (id, change))) in rows.iter().zip(expected).enumerate() {
        assert_row(
            actual,
            &expected_row(id, change),
            &format!("{format} row {i}"),
        );
    }
}

#[test]
fn parquet_rows_survive_an_error_in_the_open_file() {
    rows_survive_an_error_in_the_open_file("parquet");
}

#[test]
fn jsonl_rows_survive_an_error_in_the_open_file() {
    rows_survive_an_error_in_the_open_file("jsonl");
}

#[test]
fn without_roll_rows_an_error_sticks_and_the_rows_stay_in_the_temporary_file() {
    let dir = tempfile::tempdir().unwrap();
    let mut sink = new_sink(json!({ "path": dir.path(), "roll_rows": 0 })).unwrap();
    sink.write(&update(1, &[], &[], &[1, 2])).unwrap();
    sink.flush().unwrap();
    assert!(sink.write(&bad_update(2)).is_err());
    let again = sink
        .write(&update(3, &[], &[], &[3]))
        .unwrap_err()
        .to_string();
    assert!(
        again.contains("failed earlier") && again.contains("roll_rows = 0"),
        "{again}"
    );
    assert!(sink.close().is_err());
    assert_eq!(names(dir.path()), [".part-000001.parquet.tmp"]);
}

#[test]
fn rows_that_do_not_match_the_schema_are_an_error() {
    use std::sync::Arc;
    use topictable_sdk::arrow_array::{Int32Array, RecordBatch};
    use topictable_sdk::arrow_schema::{DataType, Field, Schema};

    let dir = tempfile::tempdir().unwrap();
    let mut sink = new_sink(json!({ "path": dir.path() })).unwrap();
    let wrong = RecordBatch::try_new(
        Arc::new(Schema::new(vec![Field::new("id", DataType::Int32, false)])),
        vec![Arc::new(Int32Array::from(vec![1]))],
    )
    .unwrap();
    let mut bad = update(1, &[], &[], &[]);
    bad.added = wrong;
    let error = sink.write(&bad).unwrap_err().to_string();
    assert!(error.contains("do not match the table's schema"), "{error}");
}

#[test]
fn writing_after_close_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let mut sink = new_sink(json!({ "path": dir.path() })).unwrap();
    sink.close().unwrap();
    assert!(names(dir.path()).is_empty(), "no rows, no file");
    assert!(sink.write(&update(1, &[], &[], &[1])).is_err());
}
