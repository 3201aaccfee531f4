//! CSV and JSON Lines: each batch is encoded by arrow's writer straight into a buffered file.

use std::fs::File;
use std::io::{BufWriter, Write};

use topictable_sdk::PluginError;
use topictable_sdk::arrow_array::RecordBatch;

use super::write_back::WriteBackFile;
use super::{FormatWriter, io_error};

/// Which text format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// CSV with a header line.
    Csv,
    /// One JSON object per line, with explicit nulls.
    Jsonl,
}

/// An open CSV or JSON Lines file.
pub struct TextFile {
    kind: Kind,
    out: BufWriter<WriteBackFile>,
    header_written: bool,
}

impl TextFile {
    /// Starts a file over `file`.
    pub fn new(kind: Kind, file: WriteBackFile) -> Self {
        Self {
            kind,
            out: BufWriter::with_capacity(1 << 20, file),
            header_written: false,
        }
    }
}

/// The file's buffer, minus `flush`: arrow's CSV writer flushes after every batch, and a flush
/// belongs to the sink's barrier only.
struct Buffered<'a>(&'a mut BufWriter<WriteBackFile>);

impl Write for Buffered<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.write(buf)
    }
    fn write_all(&mut self, buf: &[u8]) -> std::io::Result<()> {
        self.0.write_all(buf)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl FormatWriter for TextFile {
    fn write(&mut self, batch: &RecordBatch) -> Result<(), PluginError> {
        // arrow's writers are cheap to build; one per batch lets them borrow the file's buffer.
        match self.kind {
            Kind::Csv => {
                let mut writer = arrow_csv::WriterBuilder::new()
                    .with_header(!self.header_written)
                    .build(Buffered(&mut self.out));
                writer
                    .write(batch)
                    .map_err(|e| PluginError::failed(format!("cannot write CSV rows: {e}")))?;
                self.header_written = true;
            }
            Kind::Jsonl => {
                let mut writer = arrow_json::WriterBuilder::new()
                    .with_explicit_nulls(true)
                    .build::<_, arrow_json::writer::LineDelimited>(&mut self.out);
                writer
                    .write(batch)
                    .and_then(|()| writer.finish())
                    .map_err(|e| PluginError::failed(format!("cannot write JSON rows: {e}")))?;
            }
        }
        Ok(())
    }

    fn flush(&mut self) -> Result<(), PluginError> {
        self.out
            .flush()
            .map_err(|e| io_error("cannot write rows", e))?;
        self.out
            .get_mut()
            .sync_data()
            .map_err(|e| io_error("cannot sync a file", e))
    }

    fn finish(self: Box<Self>) -> Result<File, PluginError> {
        self.out
            .into_inner()
            .map_err(|e| io_error("cannot write rows", e.into_error()))?
            .into_file()
            .map_err(|e| io_error("cannot sync a file", e))
    }
}
