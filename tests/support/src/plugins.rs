//! The workspace's plugin libraries for the host's loading tests and benches:
//! built with the same profile as the running test, laid out in plugin
//! directories.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// Every cdylib crate of the workspace the tests load, with its library file stem.
pub const PLUGIN_CRATES: [(&str, &str); 6] = [
    ("topictable-plugin-simple", "topictable_plugin_simple"),
    ("csv-line-codec", "csv_line_codec"),
    (
        "topictable-fixture-test-plugin",
        "topictable_fixture_test_plugin",
    ),
    (
        "topictable-fixture-foreign-abi",
        "topictable_fixture_foreign_abi",
    ),
    (
        "topictable-fixture-layout-mismatch",
        "topictable_fixture_layout_mismatch",
    ),
    (
        "topictable-fixture-not-a-plugin",
        "topictable_fixture_not_a_plugin",
    ),
];

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .and_then(Path::parent)
        .expect("tests/support/ is inside the workspace")
        .to_path_buf()
}

/// The profile directory the running test binary lives in (`target/debug` or `target/release`).
pub fn profile_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("current exe");
    let mut dir = exe.parent().expect("exe dir").to_path_buf();
    if dir.ends_with("deps") {
        dir.pop();
    }
    dir
}

/// Builds the workspace's libraries (the plugins among them) once per test process, with the test's own profile.
pub fn ensure_plugins_built() -> PathBuf {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    BUILT
        .get_or_init(|| {
            let dir = profile_dir();
            let target_dir = dir.parent().expect("target dir").to_path_buf();
            let mut cmd = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
            cmd.arg("build")
                .arg("--quiet")
                .arg("--manifest-path")
                .arg(workspace_root().join("Cargo.toml"));
            cmd.arg("--target-dir").arg(&target_dir);
            if dir.file_name().is_some_and(|n| n != "debug") {
                cmd.arg("--profile").arg(if dir.ends_with("release") {
                    "release"
                } else {
                    dir.file_name().unwrap().to_str().unwrap()
                });
            }
            // The whole workspace, not just the plugin crates: the same feature
            // resolution as `cargo build --workspace`, so this reuses that build
            // instead of compiling a second copy of every dependency.
            cmd.arg("--workspace");
            let status = cmd.status().expect("run cargo build for the plugins");
            assert!(status.success(), "building the plugin crates failed");
            dir
        })
        .clone()
}

/// The file name of the library with file stem `stem` on this platform
/// (`libNAME.so`, `libNAME.dylib` or `NAME.dll`).
pub fn library_file(stem: &str) -> String {
    format!(
        "{}{stem}{}",
        std::env::consts::DLL_PREFIX,
        std::env::consts::DLL_SUFFIX
    )
}

/// The built library file of a crate, by its file stem (e.g. `topictable_plugin_simple`).
pub fn library_path(stem: &str) -> PathBuf {
    let dir = ensure_plugins_built();
    let path = dir.join(library_file(stem));
    assert!(path.exists(), "{} was not built", path.display());
    path
}

/// A fresh plugin directory holding copies of the given libraries.
pub fn plugin_dir_with(stems: &[&str]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    for stem in stems {
        let src = library_path(stem);
        std::fs::copy(&src, dir.path().join(src.file_name().unwrap())).expect("copy plugin");
    }
    dir
}
