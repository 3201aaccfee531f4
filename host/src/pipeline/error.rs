//! Mistakes in a pipeline file, each naming the file, the table and the key.

use std::path::PathBuf;

/// One mistake in a pipeline file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}{}: {}", file.display(), location(table, key), message)]
pub struct PipelineError {
    /// The file.
    pub file: PathBuf,
    /// The table (source or derived) the mistake is in, if any.
    pub table: Option<String>,
    /// The key, as a dotted path (`value.columns`), if any.
    pub key: Option<String>,
    /// What was expected and what was found.
    pub message: String,
}

fn location(table: &Option<String>, key: &Option<String>) -> String {
    match (table, key) {
        (Some(t), Some(k)) => format!(": table `{t}`, key `{k}`"),
        (Some(t), None) => format!(": table `{t}`"),
        (None, Some(k)) => format!(": key `{k}`"),
        (None, None) => String::new(),
    }
}
