//! The `file` sink: a table's updates to rolling Parquet, CSV or JSON Lines files.
//!
//! ```toml
//! [[sink]]
//! name = "ordersFiles"
//! from = "orders"
//! type = "file"
//! config = { path = "out/orders", format = "parquet", roll_rows = 1000000, roll_seconds = 300 }
//! ```
//!
//! # Config
//!
//! The keys are [`FileSinkConfig`]'s fields, whose doc comments are also what
//! `topictable plugins describe` shows: `path` (required), `format`
//! (`parquet`, `csv` or `jsonl`), `prefix`, `roll_rows`, `roll_seconds`,
//! `change_column`, and for Parquet `compression` and `row_group_rows`.
//!
//! # Rows
//!
//! Every row gets the change column (last, `Dictionary(Int8, Utf8)`, never
//! null). Each update is written as its removed rows (their last values,
//! `remove`), then its modified rows (new values, `modify`), then its added
//! rows (`add`).
//!
//! # Files
//!
//! - A file is written as `.{prefix}-{n:06}.{format}.tmp` in the same
//!   directory. When it is finished, it is completed (Parquet's footer),
//!   fsync'd, renamed to `{prefix}-{n:06}.{format}`, and the directory is
//!   fsync'd. A file under a final name is therefore always complete, even
//!   after a crash or `kill -9`.
//! - A file is opened at the first row written to it, so there are no empty
//!   files. It is finished:
//!   - during `write`, as soon as it holds `roll_rows` rows (an update's rows
//!     are split across files at that point);
//!   - at the first `write` or `flush` at least `roll_seconds` after it was
//!     opened (there is no timer: a sink that gets no calls does not roll);
//!   - at `close`.
//! - Numbering starts after the highest number among the directory's final
//!   **and** temporary files with this prefix and format, so a restarted sink
//!   never overwrites a finished file or a crashed writer's leftover. Two
//!   sinks must not share a directory and prefix.
//!
//! # Flush (the cycle barrier)
//!
//! `flush` makes every row written so far durable, then applies
//! `roll_seconds`. It does nothing when no row was written since the last
//! flush.
//!
//! - **Parquet**: the row group in progress is ended (so a Parquet file has at
//!   least one row group per flush that followed new rows) and written to the
//!   temporary file, whose data is then fsync'd. The file stays open. Until it
//!   is finished it has no footer, so Parquet readers cannot open it: after a
//!   crash, the flushed rows are on disk in the `.tmp` leftover but are not
//!   readable as Parquet.
//! - **CSV / JSON Lines**: the rows are written to the temporary file, whose
//!   data is then fsync'd. After a crash, the `.tmp` leftover holds every
//!   flushed row as complete lines (possibly followed by part of a later line).
//!
//! Rows become visible under a final name only when their file is finished.
//!
//! # Errors
//!
//! Every failure (a directory that cannot be created, a full disk, rows that
//! do not match the table's schema) is returned as a `PluginError`, never a
//! panic. After an error the open file's state is unknown, so the sink
//! deletes it (it only had a temporary name), and the next call writes its
//! rows again into a new file: the sink keeps the open file's rows in memory
//! for this, at most `roll_rows` of them. The rows of the update that failed
//! are dropped, as the host retries that update whole. So the host's
//! `on_failure = "retry"` resumes once the cause is gone (a full disk
//! cleared, a directory back), with no row lost, and none written twice
//! unless the failed update had already filled a file that was finished.
//! With `roll_rows = 0` no copy is kept: the first error sticks, and the
//! rows stay in the temporary file. A sink dropped without `close` is like a
//! crash.
#![deny(missing_docs)]

pub mod change;
pub mod config;
mod format;
pub mod naming;
mod sink;

use serde_json::{Map, Value};
use topictable_sdk::arrow_schema::SchemaRef;
use topictable_sdk::{ConfigKeys, PluginError, Sink, SinkDescription, SinkFactory};

pub use config::{Compression, FileSinkConfig, Format};
pub use format::parquet_writer_properties;
pub use sink::FileSink;

/// The `file` sink factory.
pub struct FileSinkFactory;

impl SinkFactory for FileSinkFactory {
    fn description(&self) -> SinkDescription {
        SinkDescription {
            name: "file".into(),
            doc: "Writes a table's updates to rolling Parquet, CSV or JSON Lines files, with a change column."
                .into(),
            config: FileSinkConfig::config_spec(),
        }
    }

    fn new_sink(
        &self,
        config: &Map<String, Value>,
        schema: SchemaRef,
    ) -> Result<Box<dyn Sink>, PluginError> {
        let config = FileSinkConfig::from_map(config)?;
        Ok(Box::new(FileSink::new(config, schema)?))
    }
}

topictable_sdk::export_plugin! {
    name: "file-sink",
    version: env!("CARGO_PKG_VERSION"),
    codecs: [],
    sinks: [FileSinkFactory],
}
