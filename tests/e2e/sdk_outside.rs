//! The plugin SDK as an outside author meets it: `sdk/README.md`'s tutorial,
//! followed as written. Its `Cargo.toml` and `src/lib.rs` are taken from the
//! README's code blocks into a directory outside this workspace, built with
//! plain `cargo build --release` against the SDK by path, and the library is
//! dropped into a plugin directory of the shipped `topictable`, which must
//! list it, describe its keys and decode a topic with it.

use std::path::Path;
use std::process::Command;

use topictable_e2e::{Broker, TestProducer, read_json_lines, shipped_bin, workspace_root};

/// The README's code block that starts with `first_line`, without the fences.
fn code_block(readme: &str, first_line: &str) -> String {
    let start = readme
        .find(&format!("\n{first_line}\n"))
        .unwrap_or_else(|| panic!("sdk/README.md has no code block starting {first_line:?}"));
    let body = &readme[start + 1..];
    body[..body.find("\n```").expect("the code block ends")].to_string() + "\n"
}

/// Builds the tutorial's crate in `dir` (outside the workspace) and returns
/// the plugin library it made.
fn build_tutorial_plugin(dir: &Path) -> std::path::PathBuf {
    let root = workspace_root();
    let readme = std::fs::read_to_string(root.join("sdk/README.md")).expect("sdk/README.md");
    let manifest = code_block(&readme, "# Cargo.toml");
    let placeholder = "path = \"/path/to/topictable/sdk\"";
    assert!(manifest.contains(placeholder), "{manifest}");
    let manifest = manifest.replace(
        placeholder,
        &format!("path = {:?}", root.join("sdk").display().to_string()),
    );
    std::fs::create_dir_all(dir.join("src")).unwrap();
    std::fs::write(dir.join("Cargo.toml"), manifest).unwrap();
    let source = code_block(&readme, "// src/lib.rs");
    assert!(
        source.lines().count() < 100,
        "the tutorial's codec is to stay under 100 lines"
    );
    std::fs::write(dir.join("src/lib.rs"), source).unwrap();
    // Our lockfile, so that the author's build resolves the same dependency
    // versions as ours (and needs nothing that CI has not fetched already).
    std::fs::copy(root.join("Cargo.lock"), dir.join("Cargo.lock")).unwrap();
    // Its own target directory, kept between runs under ours.
    let target = root.join("target/sdk-outside");
    let out = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .args(["build", "--release"])
        .current_dir(dir)
        .env("CARGO_TARGET_DIR", &target)
        .env_remove("RUSTFLAGS")
        .output()
        .expect("run cargo build");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "the tutorial does not build:\n{stderr}"
    );
    assert!(
        !stderr.contains("warning"),
        "the tutorial builds with warnings:\n{stderr}"
    );
    let library = target
        .join("release")
        .join(topictable_test_support::plugins::library_file("kv_codec"));
    assert!(library.exists(), "{} was not built", library.display());
    library
}

#[test]
fn the_sdk_tutorial_builds_outside_the_workspace_and_decodes_a_topic() {
    let author = tempfile::tempdir().expect("temp dir");
    assert!(
        !author.path().starts_with(workspace_root()),
        "the author's crate must be outside the workspace"
    );
    let library = build_tutorial_plugin(&author.path().join("kv-codec"));
    let plugins = tempfile::tempdir().expect("temp dir");
    std::fs::copy(&library, plugins.path().join(library.file_name().unwrap())).unwrap();
    let topictable = |args: &[&str]| {
        let out = Command::new(shipped_bin())
            .arg("--plugin-dir")
            .arg(plugins.path())
            .args(args)
            .output()
            .expect("run topictable");
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        (out.status.code(), stdout, stderr)
    };
    let (code, listed, stderr) = topictable(&["plugins", "list"]);
    assert_eq!(code, Some(0), "{listed}\n{stderr}");
    assert!(
        listed.contains("kv-codec") && listed.contains("kv"),
        "{listed}"
    );
    let (code, described, stderr) = topictable(&["plugins", "describe", "kv"]);
    assert_eq!(code, Some(0), "{described}\n{stderr}");
    assert!(
        described.contains("columns") && described.contains("The names to read"),
        "{described}"
    );

    // Tried on sample messages without Kafka: rows, and refusals by line.
    let samples = author.path().join("samples.txt");
    std::fs::write(&samples, "Symbol=AAPL,Price=135.6\nbad\nSymbol=MSFT\n").unwrap();
    let config = r#"{"columns": ["Symbol", "Price"]}"#;
    let samples_arg = samples.to_str().unwrap();
    let (code, table, stderr) =
        topictable(&["decode", "--format", "kv", "--config", config, samples_arg]);
    assert_eq!(
        code,
        Some(1),
        "a refused message: exit 1\n{table}\n{stderr}"
    );
    assert!(
        stderr.contains(&format!("{samples_arg}: line 2: `bad` is not name=value"))
            && stderr.contains("3 messages, 3 rows, 1 not decoded"),
        "{stderr}"
    );
    assert!(table.contains("| AAPL   | 135.6 |"), "{table}");
    std::fs::write(&samples, "Symbol=AAPL,Price=135.6\nSymbol=MSFT\n").unwrap();
    let (code, jsonl, stderr) = topictable(&[
        "decode",
        "--format",
        "kv",
        "--config",
        config,
        "--output",
        "jsonl",
        samples_arg,
    ]);
    assert_eq!(code, Some(0), "{jsonl}\n{stderr}");
    assert_eq!(
        jsonl,
        "{\"Symbol\":\"AAPL\",\"Price\":\"135.6\"}\n{\"Symbol\":\"MSFT\"}\n"
    );
    let (code, _, stderr) = topictable(&[
        "decode",
        "--format",
        "kv",
        "--config",
        r#"{"colums": []}"#,
        samples_arg,
    ]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("did you mean `columns`"), "{stderr}");

    // The README's pipeline, with a bad record skipped.
    let broker = Broker::start();
    broker.create_topic("quotes.kv", 1);
    TestProducer::new(&broker).send_text(
        "quotes.kv",
        0,
        &[
            (None, "Symbol=AAPL,Price=135.6"),
            (None, "Price=730.25, Symbol=TSLA,Venue=X"),
            (None, "bad"),
            (None, "Symbol=MSFT"),
        ],
    );
    let dir = tempfile::tempdir().expect("temp dir");
    let pipeline = dir.path().join("quotes.toml");
    std::fs::write(
        &pipeline,
        "[[table]]\nname = \"quotes\"\ntopic = \"quotes.kv\"\ntype = \"append\"\noffsets = \"beginning\"\non_error = \"skip\"\nvalue = { format = \"kv\", columns = [\"Symbol\", \"Price\"] }\n",
    )
    .unwrap();
    let snapshot = dir.path().join("quotes.jsonl");
    let (code, stdout, stderr) = topictable(&[
        "run",
        pipeline.to_str().unwrap(),
        "-b",
        &broker.bootstrap(),
        "--exit-when",
        "quotes:rows>=3",
        "--exit-after",
        "60s",
        "--snapshot",
        &format!("quotes={}", snapshot.display()),
    ]);
    assert_eq!(code, Some(0), "{stdout}\n{stderr}");
    assert!(
        stderr.contains("`bad` is not name=value") && stderr.contains("offset 2"),
        "the skipped record is named with its offset:\n{stderr}"
    );
    let rows = read_json_lines(&snapshot);
    let cells: Vec<(serde_json::Value, serde_json::Value, i64)> = rows
        .iter()
        .map(|r| {
            (
                r["Symbol"].clone(),
                r["Price"].clone(),
                r["KafkaOffset"].as_i64().unwrap(),
            )
        })
        .collect();
    use serde_json::json;
    assert_eq!(
        cells,
        vec![
            (json!("AAPL"), json!("135.6"), 0),
            (json!("TSLA"), json!("730.25"), 1),
            (json!("MSFT"), json!(null), 3),
        ]
    );
}
