//! The tansu Kafka broker the tests and benches start.

use std::path::PathBuf;

/// The tansu binary: `TANSU`, else `~/.cargo/bin/tansu` (where
/// `scripts/setup.sh` installs it), else `tansu` on the `PATH`.
pub fn binary() -> PathBuf {
    if let Some(p) = std::env::var_os("TANSU") {
        return p.into();
    }
    let home = std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_default();
    let cargo_bin = home.join(".cargo/bin/tansu");
    if cargo_bin.exists() {
        cargo_bin
    } else {
        PathBuf::from("tansu")
    }
}
