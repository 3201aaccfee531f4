//! The built cdylib, loaded by the host's `PluginRegistry` as `topictable` loads it: the `file`
//! sink is listed, its config is validated by the host, and rows written across the ABI read
//! back with pyarrow.

mod common;

use common::{assert_row, expected_row, read_back, schema, update};
use serde_json::json;
use topictable::PluginRegistry;

#[test]
fn the_host_loads_the_plugin_and_its_sink_writes_parquet() {
    // Built with the test's own profile, like every workspace library.
    let library = topictable_test_support::plugins::library_path("topictable_plugin_file_sink");
    let plugins = tempfile::tempdir().unwrap();
    std::fs::copy(&library, plugins.path().join(library.file_name().unwrap())).unwrap();
    let (registry, errors) = PluginRegistry::load_dir(plugins.path());
    assert!(errors.is_empty(), "{errors:?}");
    let entry = registry
        .sink("file")
        .expect("the plugin registers sink `file`");
    let keys: Vec<&str> = entry
        .description
        .config
        .keys
        .iter()
        .map(|k| k.name.as_str())
        .collect();
    assert_eq!(
        keys,
        [
            "path",
            "format",
            "prefix",
            "roll_rows",
            "roll_seconds",
            "change_column",
            "compression",
            "row_group_rows"
        ]
    );

    // The host validates the config before the plugin sees it.
    let out = tempfile::tempdir().unwrap();
    let error = registry
        .new_sink(
            "file",
            &json!({ "path": out.path(), "roll_row": 2 }),
            schema(),
        )
        .err()
        .expect("an unknown key is refused");
    assert!(error.to_string().contains("roll_rows"), "{error}");

    let mut sink = registry
        .new_sink(
            "file",
            &json!({ "path": out.path(), "roll_rows": 4 }),
            schema(),
        )
        .unwrap();
    sink.write(&update(1, &[], &[], &[0, 1, 2])).unwrap();
    sink.flush().unwrap();
    sink.write(&update(2, &[0], &[1], &[3, 4])).unwrap();
    sink.flush().unwrap();
    sink.close().unwrap();

    let read = read_back(out.path(), "parquet");
    assert_eq!(read["others"], json!([]));
    let names: Vec<&str> = read["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["part-000001.parquet", "part-000002.parquet"]);
    let rows: Vec<_> = read["files"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|f| f["rows"].as_array().unwrap().clone())
        .collect();
    let expected = [
        expected_row(0, "add"),
        expected_row(1, "add"),
        expected_row(2, "add"),
        expected_row(0, "remove"),
        expected_row(1, "modify"),
        expected_row(3, "add"),
        expected_row(4, "add"),
    ];
    assert_eq!(rows.len(), expected.len());
    for (i, (actual, expected)) in rows.iter().zip(&expected).enumerate() {
        assert_row(actual, expected, &format!("row {i}"));
    }

    // Errors cross the ABI as values: a directory that cannot exist.
    let blocker = out.path().join("a-file");
    std::fs::write(&blocker, b"x").unwrap();
    let error = registry
        .new_sink("file", &json!({ "path": blocker.join("sub") }), schema())
        .err()
        .expect("an unusable directory is an error");
    assert!(
        error.to_string().contains("cannot create directory"),
        "{error}"
    );
}
