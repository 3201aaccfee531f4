//! The `file` sink's config keys, and the validated config they become.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use topictable_sdk::{ConfigKeys, ConfigValue, PluginError};

/// Parquet's default row group size (`parquet::file::properties`), used when `row_group_rows` is unset.
pub const DEFAULT_ROW_GROUP_ROWS: u64 = 1024 * 1024;

/// The file format written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, ConfigValue)]
#[serde(rename_all = "snake_case")]
pub enum Format {
    /// Apache Parquet, one row group per flush or per `row_group_rows` rows.
    #[default]
    Parquet,
    /// CSV with a header line, one file per roll.
    Csv,
    /// JSON Lines: one object per row, nulls written as `null`.
    Jsonl,
}

impl Format {
    /// The name used in config, which is also the file extension.
    pub fn name(self) -> &'static str {
        match self {
            Format::Parquet => "parquet",
            Format::Csv => "csv",
            Format::Jsonl => "jsonl",
        }
    }
}

/// Parquet column compression.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, ConfigValue)]
#[serde(rename_all = "snake_case")]
pub enum Compression {
    /// No compression.
    None,
    /// Snappy (pyarrow's default too).
    #[default]
    Snappy,
    /// Zstandard at its default level.
    Zstd,
}

/// A validated `file` sink config. The doc comments are the keys'
/// descriptions in `topictable plugins describe`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, ConfigKeys)]
#[serde(deny_unknown_fields)]
pub struct FileSinkConfig {
    /// The directory the files go to (created when missing); one sink per
    /// directory and prefix.
    pub path: PathBuf,
    /// The file format, which is also the file extension.
    #[serde(default)]
    pub format: Format,
    /// File names are PREFIX-000001.FORMAT, numbered on from the files already
    /// there.
    #[serde(default = "default_prefix")]
    pub prefix: String,
    /// A file is finished once it holds this many rows; the open file's rows
    /// are also kept in memory to rewrite them after an error (0 = no limit,
    /// and an error then sticks).
    #[serde(default = "default_roll_rows")]
    pub roll_rows: u64,
    /// A file is finished at the first write or flush this many seconds after
    /// it was opened (0 = off).
    #[serde(default)]
    pub roll_seconds: u64,
    /// The column added to every row with its change: add, remove or modify.
    #[serde(default = "default_change_column")]
    pub change_column: String,
    /// Parquet only: column compression (default snappy).
    #[serde(default)]
    pub compression: Option<Compression>,
    /// Parquet only: the largest row group, in rows (default 1048576); each
    /// flush also ends one.
    #[serde(default)]
    pub row_group_rows: Option<u64>,
}

fn default_prefix() -> String {
    "part".into()
}

fn default_roll_rows() -> u64 {
    1_000_000
}

fn default_change_column() -> String {
    "_change".into()
}

impl FileSinkConfig {
    /// Reads a config validated against [`FileSinkConfig::config_spec`], and checks what the spec cannot.
    pub fn from_map(config: &Map<String, Value>) -> Result<Self, PluginError> {
        let config: Self = serde_json::from_value(Value::Object(config.clone()))?;
        config.check()?;
        Ok(config)
    }

    fn check(&self) -> Result<(), PluginError> {
        if self.path.as_os_str().is_empty() {
            return Err(PluginError::config("`path` is empty"));
        }
        if self.prefix.is_empty()
            || self.prefix.starts_with('.')
            || self.prefix.contains(['/', '\\'])
        {
            return Err(PluginError::config(format!(
                "`prefix` must be a plain file name that does not start with `.`, got {:?}",
                self.prefix
            )));
        }
        if self.change_column.is_empty() {
            return Err(PluginError::config("`change_column` is empty"));
        }
        if self.format != Format::Parquet {
            for (key, set) in [
                ("compression", self.compression.is_some()),
                ("row_group_rows", self.row_group_rows.is_some()),
            ] {
                if set {
                    return Err(PluginError::config(format!(
                        "`{key}` applies to format `parquet` only, not `{}`",
                        self.format.name()
                    )));
                }
            }
        }
        if self.row_group_rows == Some(0) {
            return Err(PluginError::config("`row_group_rows` must be at least 1"));
        }
        Ok(())
    }

    /// The row group size, defaulted.
    pub fn row_group_rows(&self) -> usize {
        usize::try_from(self.row_group_rows.unwrap_or(DEFAULT_ROW_GROUP_ROWS)).unwrap_or(usize::MAX)
    }
}
