//! The rolling file sink: temporary names, rolls, renames, and the flush barrier.

use std::fs::{File, OpenOptions};
use std::io::ErrorKind;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use topictable_sdk::arrow_array::RecordBatch;
use topictable_sdk::arrow_schema::{Schema, SchemaRef};
use topictable_sdk::{PluginError, Sink, SinkUpdate};

use crate::change::{self, ChangeColumns, ChangeKind};
use crate::config::FileSinkConfig;
use crate::format::{self, FormatWriter};
use crate::naming::Naming;

/// How many taken temporary names `open` skips before it gives up.
const MAX_NAME_ATTEMPTS: u32 = 1000;

/// Writes a table's updates to rolling files; see the crate docs for the guarantees.
pub struct FileSink {
    config: FileSinkConfig,
    naming: Naming,
    /// The table's columns plus the change column.
    schema: SchemaRef,
    changes: ChangeColumns,
    /// The number the next file opened gets.
    next_number: u64,
    current: Option<OpenFile>,
    /// Set by the first failure; every later call returns it.
    failed: Option<PluginError>,
    closed: bool,
}

struct OpenFile {
    number: u64,
    temp: PathBuf,
    writer: Box<dyn FormatWriter>,
    opened: Instant,
    rows: u64,
    /// Rows written since the last flush.
    unflushed: bool,
}

impl FileSink {
    /// A sink for rows of `table`, writing into `config.path` (created when missing).
    pub fn new(config: FileSinkConfig, table: SchemaRef) -> Result<Self, PluginError> {
        if table.column_with_name(&config.change_column).is_some() {
            return Err(PluginError::config(format!(
                "the table already has a column `{}`; choose another `change_column`",
                config.change_column
            )));
        }
        std::fs::create_dir_all(&config.path).map_err(|e| {
            PluginError::failed(format!(
                "cannot create directory {}: {e}",
                config.path.display()
            ))
        })?;
        let naming = Naming::new(&config.path, &config.prefix, config.format);
        let next_number = naming.next_number()?;
        let mut fields: Vec<_> = table.fields().iter().cloned().collect();
        fields.push(Arc::new(change::field(&config.change_column)));
        let schema = Arc::new(Schema::new_with_metadata(fields, table.metadata().clone()));
        Ok(Self {
            config,
            naming,
            schema,
            changes: ChangeColumns::default(),
            next_number,
            current: None,
            failed: None,
            closed: false,
        })
    }

    /// The schema of the rows written: the table's columns, then the change column.
    pub fn file_schema(&self) -> &SchemaRef {
        &self.schema
    }

    /// Runs `f` unless the sink failed or closed before; a failure sticks.
    fn guarded(
        &mut self,
        f: impl FnOnce(&mut Self) -> Result<(), PluginError>,
    ) -> Result<(), PluginError> {
        if let Some(e) = &self.failed {
            return Err(PluginError::failed(format!(
                "the file sink failed earlier: {e}"
            )));
        }
        if self.closed {
            return Err(PluginError::failed("the file sink is closed"));
        }
        f(self).inspect_err(|e| {
            // The open file's state is unknown now: leave it under its temporary name.
            self.current = None;
            self.failed = Some(e.clone());
        })
    }

    fn roll_if_old(&mut self) -> Result<(), PluginError> {
        let max_age = Duration::from_secs(self.config.roll_seconds);
        if self.config.roll_seconds > 0
            && self
                .current
                .as_ref()
                .is_some_and(|f| f.opened.elapsed() >= max_age)
        {
            self.finish_current()?;
        }
        Ok(())
    }

    /// Writes `batch`'s rows as `kind`, splitting them so no file holds more than `roll_rows`.
    fn write_rows(&mut self, batch: &RecordBatch, kind: ChangeKind) -> Result<(), PluginError> {
        let mut offset = 0;
        while offset < batch.num_rows() {
            let room = match (self.config.roll_rows, &self.current) {
                (0, _) => u64::MAX,
                (max, Some(f)) => max - f.rows,
                (max, None) => max,
            };
            let len = (batch.num_rows() - offset).min(usize::try_from(room).unwrap_or(usize::MAX));
            let part = self.with_change(&batch.slice(offset, len), kind)?;
            let file = match self.current.take() {
                Some(f) => f,
                None => self.open()?,
            };
            let file = self.current.insert(file);
            file.writer.write(&part)?;
            file.rows += len as u64;
            file.unflushed = true;
            offset += len;
            if self.config.roll_rows > 0 && file.rows >= self.config.roll_rows {
                self.finish_current()?;
            }
        }
        Ok(())
    }

    /// `batch` with the change column appended; checks it against the table's schema.
    fn with_change(
        &mut self,
        batch: &RecordBatch,
        kind: ChangeKind,
    ) -> Result<RecordBatch, PluginError> {
        let mut columns = batch.columns().to_vec();
        columns.push(self.changes.column(kind, batch.num_rows()));
        RecordBatch::try_new(self.schema.clone(), columns).map_err(|e| {
            PluginError::Arrow(format!(
                "{} rows do not match the table's schema: {e}",
                kind.name()
            ))
        })
    }

    /// Opens the next file under its temporary name.
    fn open(&mut self) -> Result<OpenFile, PluginError> {
        for _ in 0..MAX_NAME_ATTEMPTS {
            let number = self.next_number;
            self.next_number += 1;
            let temp = self.naming.temp_path(number);
            if self.naming.final_path(number).exists() {
                continue;
            }
            // `create_new`: never write over a file another writer or a crash left.
            let file = match OpenOptions::new().write(true).create_new(true).open(&temp) {
                Ok(file) => file,
                Err(e) if e.kind() == ErrorKind::AlreadyExists => continue,
                Err(e) => {
                    return Err(PluginError::failed(format!(
                        "cannot create {}: {e}",
                        temp.display()
                    )));
                }
            };
            let writer = format::open(&self.config, &self.schema, file)?;
            return Ok(OpenFile {
                number,
                temp,
                writer,
                opened: Instant::now(),
                rows: 0,
                unflushed: false,
            });
        }
        Err(PluginError::failed(format!(
            "no free file name in {} after {MAX_NAME_ATTEMPTS} tries",
            self.naming.dir().display()
        )))
    }

    /// Completes the open file, syncs it, and renames it to its final name.
    fn finish_current(&mut self) -> Result<(), PluginError> {
        let Some(open) = self.current.take() else {
            return Ok(());
        };
        let file = open.writer.finish()?;
        sync(&file, &open.temp)?;
        drop(file);
        let target = self.naming.final_path(open.number);
        if target.exists() {
            return Err(PluginError::failed(format!(
                "{} appeared while this sink wrote it; is another sink writing to the same directory and prefix? The rows are kept in {}",
                target.display(),
                open.temp.display()
            )));
        }
        std::fs::rename(&open.temp, &target).map_err(|e| {
            PluginError::failed(format!(
                "cannot rename {} to {}: {e}",
                open.temp.display(),
                target.display()
            ))
        })?;
        // The rename itself is durable only once the directory is synced.
        let dir = self.naming.dir();
        File::open(dir).and_then(|d| d.sync_all()).map_err(|e| {
            PluginError::failed(format!("cannot sync directory {}: {e}", dir.display()))
        })?;
        tracing::debug!(file = %target.display(), rows = open.rows, "file sink finished a file");
        Ok(())
    }
}

fn sync(file: &File, path: &std::path::Path) -> Result<(), PluginError> {
    file.sync_all()
        .map_err(|e| PluginError::failed(format!("cannot sync {}: {e}", path.display())))
}

impl Sink for FileSink {
    fn write(&mut self, update: &SinkUpdate) -> Result<(), PluginError> {
        self.guarded(|sink| {
            sink.roll_if_old()?;
            for kind in ChangeKind::WRITE_ORDER {
                let batch = match kind {
                    ChangeKind::Remove => &update.removed,
                    ChangeKind::Modify => &update.modified,
                    ChangeKind::Add => &update.added,
                };
                sink.write_rows(batch, kind)?;
            }
            Ok(())
        })
    }

    fn flush(&mut self) -> Result<(), PluginError> {
        self.guarded(|sink| {
            if let Some(file) = sink.current.as_mut().filter(|f| f.unflushed) {
                file.writer.flush()?;
                file.unflushed = false;
            }
            sink.roll_if_old()
        })
    }

    fn close(&mut self) -> Result<(), PluginError> {
        let result = self.guarded(Self::finish_current);
        self.closed = true;
        result
    }
}
