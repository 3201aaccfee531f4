//! Parquet through arrow's `ArrowWriter`.

use std::fs::File;

use super::write_back::WriteBackFile;
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression as ParquetCompression, ZstdLevel};
use parquet::file::properties::WriterProperties;
use topictable_sdk::PluginError;
use topictable_sdk::arrow_array::RecordBatch;
use topictable_sdk::arrow_schema::SchemaRef;

use super::{FormatWriter, io_error};
use crate::config::{Compression, FileSinkConfig};

/// An open Parquet file.
pub struct ParquetFile {
    writer: ArrowWriter<WriteBackFile>,
}

/// The writer properties for `config`; the benchmark's baseline uses the same.
pub fn writer_properties(config: &FileSinkConfig) -> WriterProperties {
    let compression = match config.compression.unwrap_or_default() {
        Compression::None => ParquetCompression::UNCOMPRESSED,
        Compression::Snappy => ParquetCompression::SNAPPY,
        Compression::Zstd => ParquetCompression::ZSTD(ZstdLevel::default()),
    };
    WriterProperties::builder()
        .set_compression(compression)
        .set_max_row_group_row_count(Some(config.row_group_rows()))
        .set_created_by(format!(
            "topictable-plugin-file-sink {}",
            env!("CARGO_PKG_VERSION")
        ))
        .build()
}

fn parquet_error(what: &str, e: parquet::errors::ParquetError) -> PluginError {
    PluginError::failed(format!("{what}: {e}"))
}

impl ParquetFile {
    /// Starts a Parquet file over `file`.
    pub fn new(
        config: &FileSinkConfig,
        schema: &SchemaRef,
        file: WriteBackFile,
    ) -> Result<Self, PluginError> {
        let writer = ArrowWriter::try_new(file, schema.clone(), Some(writer_properties(config)))
            .map_err(|e| parquet_error("cannot start a Parquet file", e))?;
        Ok(Self { writer })
    }
}

impl FormatWriter for ParquetFile {
    fn write(&mut self, batch: &RecordBatch) -> Result<(), PluginError> {
        self.writer
            .write(batch)
            .map_err(|e| parquet_error("cannot write Parquet rows", e))
    }

    fn flush(&mut self) -> Result<(), PluginError> {
        // Ends the row group in progress; its pages then sit in the file, before the footer.
        self.writer
            .flush()
            .map_err(|e| parquet_error("cannot end a Parquet row group", e))?;
        self.writer
            .sync()
            .map_err(|e| io_error("cannot write a Parquet row group", e))?;
        self.writer
            .inner_mut()
            .sync_data()
            .map_err(|e| io_error("cannot sync a Parquet file", e))
    }

    fn finish(self: Box<Self>) -> Result<File, PluginError> {
        // Ends the last row group and writes the footer.
        self.writer
            .into_inner()
            .map_err(|e| parquet_error("cannot finish a Parquet file", e))?
            .into_file()
            .map_err(|e| io_error("cannot sync a Parquet file", e))
    }
}
