//! The reference client of the tests: Python with confluent-kafka, running the
//! scripts in `tests/python/`, for the e2e harness and the codec crates' tests.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The Python interpreter with confluent-kafka: `TOPICTABLE_TEST_PYTHON`, or
/// the venv `scripts/test.sh` makes under `workspace`. Panics when neither
/// exists: these tests never pass silently without their reference client.
pub fn python(workspace: &Path) -> PathBuf {
    if let Some(p) = std::env::var_os("TOPICTABLE_TEST_PYTHON").filter(|p| !p.is_empty()) {
        return p.into();
    }
    let venv = workspace.join(".cache/venv/bin/python");
    assert!(
        venv.exists(),
        "no Python with confluent-kafka: run scripts/test.sh once, or set TOPICTABLE_TEST_PYTHON"
    );
    venv
}

/// Runs `tests/python/<script>` (or `script` itself when it is an absolute
/// path) with `args`; returns its stdout, panicking on failure.
pub fn run_script<A: AsRef<OsStr>>(workspace: &Path, script: &str, args: &[A]) -> String {
    let out = Command::new(python(workspace))
        .arg(workspace.join("tests/python").join(script))
        .args(args)
        .output()
        .expect("run python");
    assert!(
        out.status.success(),
        "{script} failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8 output")
}
