//! One writer per file format, behind [`FormatWriter`]; adding a format touches this module only.

mod parquet;
mod text;
mod write_back;

/// The Parquet writer properties a config gives (the benchmark's baseline uses the same).
pub use parquet::writer_properties as parquet_writer_properties;

use std::fs::File;

use topictable_sdk::PluginError;
use topictable_sdk::arrow_array::RecordBatch;
use topictable_sdk::arrow_schema::SchemaRef;

use crate::config::{FileSinkConfig, Format};
use write_back::WriteBackFile;

/// Writes batches into one open file.
pub trait FormatWriter: Send {
    /// Appends rows (the file's schema, change column included).
    fn write(&mut self, batch: &RecordBatch) -> Result<(), PluginError>;
    /// Hands every row written so far to the file and syncs its data to disk.
    fn flush(&mut self) -> Result<(), PluginError>;
    /// Completes the file (Parquet's footer) and returns it, not yet synced.
    fn finish(self: Box<Self>) -> Result<File, PluginError>;
}

/// A writer of `config.format` over `file`, for rows of `schema`.
pub fn open(
    config: &FileSinkConfig,
    schema: &SchemaRef,
    file: File,
) -> Result<Box<dyn FormatWriter>, PluginError> {
    Ok(match config.format {
        Format::Parquet => Box::new(parquet::ParquetFile::new(
            config,
            schema,
            WriteBackFile::new(file),
        )?),
        Format::Csv => Box::new(text::TextFile::new(
            text::Kind::Csv,
            WriteBackFile::new(file),
        )),
        Format::Jsonl => Box::new(text::TextFile::new(
            text::Kind::Jsonl,
            WriteBackFile::new(file),
        )),
    })
}

fn io_error(what: &str, e: std::io::Error) -> PluginError {
    PluginError::failed(format!("{what}: {e}"))
}
