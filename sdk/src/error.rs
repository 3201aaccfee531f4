//! The error type plugins return, and that crosses the ABI as [`crate::abi::FfiError`].

use arrow_schema::ArrowError;

/// Why a plugin call failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PluginError {
    /// The configuration given to a factory is not usable.
    #[error("invalid config: {0}")]
    Config(String),
    /// The plugin does not offer this capability (e.g. a decode-only codec asked to encode).
    #[error("unsupported: {0}")]
    Unsupported(String),
    /// The plugin panicked; the message is the panic's payload.
    #[error("plugin panicked: {0}")]
    Panicked(String),
    /// Arrow data could not be built, exported or imported.
    #[error("arrow: {0}")]
    Arrow(String),
    /// Any other failure, in the plugin's words.
    #[error("{0}")]
    Failed(String),
}

impl PluginError {
    /// Shorthand for [`PluginError::Config`].
    pub fn config(message: impl Into<String>) -> Self {
        Self::Config(message.into())
    }
    /// Shorthand for [`PluginError::Failed`].
    pub fn failed(message: impl Into<String>) -> Self {
        Self::Failed(message.into())
    }
}

impl From<ArrowError> for PluginError {
    fn from(e: ArrowError) -> Self {
        Self::Arrow(e.to_string())
    }
}

impl From<serde_json::Error> for PluginError {
    fn from(e: serde_json::Error) -> Self {
        Self::Config(e.to_string())
    }
}
