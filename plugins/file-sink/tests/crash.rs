//! `kill -9` while the sink writes leaves no partial file under a final name: every final file
//! opens in pyarrow and holds exactly `roll_rows` consecutive rows; leftovers are only `.tmp`
//! names, and a restarted sink numbers past them.

mod common;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{names, read_back};
use serde_json::json;

const ROLL_ROWS: u64 = 3000;
const BATCH_ROWS: u64 = 250;

fn is_final(name: &str, format: &str) -> bool {
    name.strip_prefix("part-")
        .and_then(|n| n.strip_suffix(&format!(".{format}")))
        .is_some_and(|digits| digits.len() == 6 && digits.bytes().all(|b| b.is_ascii_digit()))
}

fn is_temp(name: &str, format: &str) -> bool {
    name.strip_prefix('.')
        .and_then(|n| n.strip_suffix(".tmp"))
        .is_some_and(|n| is_final(n, format))
}

/// Starts the writer, waits for `finals` final files plus `extra`, then SIGKILLs it.
fn kill_mid_write(dir: &Path, format: &str, finals: usize, extra: Duration) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_file-sink-crash-writer"))
        .arg(dir)
        .arg(format)
        .arg(ROLL_ROWS.to_string())
        .arg(BATCH_ROWS.to_string())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start the crash writer");
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            let mut stderr = String::new();
            std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr).unwrap();
            panic!("the crash writer exited by itself ({status}): {stderr}");
        }
        let done = names(dir).iter().filter(|n| is_final(n, format)).count();
        if done >= finals {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the writer finished only {done} files in 60 s"
        );
        std::thread::sleep(Duration::from_millis(2));
    }
    std::thread::sleep(extra);
    child.kill().expect("SIGKILL the writer"); // `Child::kill` is SIGKILL on Unix.
    let status = child.wait().unwrap();
    assert!(!status.success(), "the writer was killed, not finished");
}

/// Checks the directory after the kill: finals are complete, consecutive and readable.
fn check_after_kill(dir: &Path, format: &str) -> usize {
    let read = read_back(dir, format);
    let others: Vec<&str> = read["others"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n.as_str().unwrap())
        .collect();
    for name in &others {
        assert!(
            is_temp(name, format),
            "{name} is neither a final nor a temporary name"
        );
    }
    assert!(
        others.len() <= 1,
        "at most the one open file is left: {others:?}"
    );
    let files = read["files"].as_array().unwrap();
    let mut next_id = 0;
    for file in files {
        let rows = file["rows"].as_array().unwrap();
        assert_eq!(rows.len() as u64, ROLL_ROWS, "{} is complete", file["name"]);
        for row in rows {
            assert_eq!(row["id"], next_id, "{}", file["name"]);
            assert_eq!(row["price"].as_f64(), Some(next_id as f64 + 0.25));
            assert_eq!(row["sym"], format!("s{next_id}"));
            assert_eq!(row["_change"], "add");
            next_id += 1;
        }
    }
    files.len()
}

fn survives_kill(format: &str) {
    for (round, extra_ms) in [0u64, 7, 23].into_iter().enumerate() {
        let dir = tempfile::tempdir().unwrap();
        kill_mid_write(
            dir.path(),
            format,
            3 + round,
            Duration::from_millis(extra_ms),
        );
        let finals = check_after_kill(dir.path(), format);
        assert!(finals >= 3 + round);

        // A restarted sink writes past every final and leftover number, and all still read back.
        let highest = names(dir.path())
            .iter()
            .filter_map(|n| n.trim_start_matches('.').get(5..11)?.parse::<u64>().ok())
            .max()
            .unwrap();
        let mut sink = common::new_sink(json!({ "path": dir.path(), "format": format })).unwrap();
        sink.write(&common::update(1, &[], &[], &[1, 2])).unwrap();
        sink.close().unwrap();
        let restarted = format!("part-{:06}.{format}", highest + 1);
        assert!(
            dir.path().join(&restarted).exists(),
            "{restarted} in {:?}",
            names(dir.path())
        );
        std::fs::remove_file(dir.path().join(&restarted)).unwrap();
        check_after_kill(dir.path(), format);
    }
}

#[test]
fn kill_9_leaves_no_partial_parquet_file_under_a_final_name() {
    survives_kill("parquet");
}

#[test]
fn kill_9_leaves_no_partial_csv_file_under_a_final_name() {
    survives_kill("csv");
}

#[test]
fn kill_9_leaves_no_partial_jsonl_file_under_a_final_name() {
    survives_kill("jsonl");
}
