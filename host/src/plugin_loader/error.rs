//! Why a plugin file was refused.

use std::path::PathBuf;

/// One plugin file that could not be loaded. Each cause has its own variant
/// and message, naming the file.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// The operating system could not load the file (truncated, garbage, wrong architecture).
    #[error("{}: not a loadable shared library: {reason}", path.display())]
    NotLoadable {
        /// The file.
        path: PathBuf,
        /// The loader's message.
        reason: String,
    },
    /// A shared library without topictable's plugin symbol.
    #[error("{}: not a topictable plugin (it exports no `{symbol}` symbol; plugins are built with topictable-sdk's export_plugin!)", path.display())]
    NotAPlugin {
        /// The file.
        path: PathBuf,
        /// The symbol looked for.
        symbol: &'static str,
    },
    /// Built against an ABI version this host cannot speak.
    #[error("{}: incompatible plugin ABI: the plugin speaks ABI {plugin_abi}, this host speaks ABI {host_abi}; rebuild the plugin against topictable-sdk {sdk_version}", path.display())]
    IncompatibleAbi {
        /// The file.
        path: PathBuf,
        /// The ABI version the plugin was built with.
        plugin_abi: String,
        /// The host's ABI version.
        host_abi: &'static str,
        /// The SDK version to rebuild against.
        sdk_version: &'static str,
    },
    /// Same ABI version, but the types differ (an SDK built from other sources).
    #[error("{}: plugin ABI layout mismatch (same ABI version, different types); rebuild the plugin against topictable-sdk {sdk_version}: {detail}", path.display())]
    LayoutMismatch {
        /// The file.
        path: PathBuf,
        /// The SDK version to rebuild against.
        sdk_version: &'static str,
        /// abi_stable's description of the difference (shortened).
        detail: String,
    },
    /// The plugin loaded but its initialisation failed.
    #[error("{}: plugin initialisation failed: {message}", path.display())]
    InitFailed {
        /// The file.
        path: PathBuf,
        /// The plugin's message.
        message: String,
    },
    /// A second plugin offers a format (or sink) name that is already taken.
    #[error("duplicate {kind} `{name}`: offered by {} and again by {} (the second is ignored)", first.display(), second.display())]
    Duplicate {
        /// `format` or `sink`.
        kind: &'static str,
        /// The name.
        name: String,
        /// The file that registered it first.
        first: PathBuf,
        /// The file that was ignored.
        second: PathBuf,
    },
    /// The plugin directory itself could not be read.
    #[error("{}: cannot read plugin directory: {reason}", path.display())]
    Directory {
        /// The directory.
        path: PathBuf,
        /// The OS error.
        reason: String,
    },
}
