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
    /// The rows of the open file, as written, so that they can be written
    /// again into a fresh file after an error (at most `roll_rows` rows).
    replay: Vec<RecordBatch>,
    /// How many `replay` batches the updates before the current one left.
    replay_checkpoint: usize,
    /// An error left the open file in an unknown state: the next call
    /// abandons it and rewrites `replay` into a new file first.
    recovering: Option<PluginError>,
    /// The failed file's rows were not kept (`roll_rows = 0`): errors stick.
    unrecoverable: bool,
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
            replay: Vec::new(),
            replay_checkpoint: 0,
            recovering: None,
            unrecoverable: false,
            closed: false,
        })
    }

    /// The schema of the rows written: the table's columns, then the change column.
    pub fn file_schema(&self) -> &SchemaRef {
        &self.schema
    }

    /// Runs `f` unless the sink is closed, recovering from an earlier error first.
    ///
    /// After an error, the open file's state is unknown. The next call
    /// deletes it (it only ever had a temporary name), and writes the rows it
    /// held, kept in `replay`, into a new file. The update that failed is
    /// dropped from `replay`: the host retries it whole. So `on_failure =
    /// "retry"` loses no row, and writes a row twice only when the failed
    /// update had already filled a file that was finished.
    fn guarded(
        &mut self,
        f: impl FnOnce(&mut Self) -> Result<(), PluginError>,
    ) -> Result<(), PluginError> {
        if self.closed {
            return Err(PluginError::failed("the file sink is closed"));
        }
        self.recover()?;
        f(self).inspect_err(|e| self.fail(e))
    }

    /// Whether the open file's rows are kept for recovery: only when a file's
    /// size is bounded (`roll_rows` > 0), so that memory is bounded too.
    fn keeps_replay(&self) -> bool {
        self.config.roll_rows > 0
    }

    /// Abandons the open file after `error`, keeping the rows to write again.
    fn fail(&mut self, error: &PluginError) {
        let mut error = error.clone();
        if let Some(open) = self.current.take() {
            drop(open.writer);
            if self.keeps_replay() {
                // Its rows are in `replay`; the temporary file is only clutter.
                let _ = std::fs::remove_file(&open.temp);
            } else {
                error = PluginError::failed(format!(
                    "{error}; with roll_rows = 0 no copy of the open file's rows is kept, so this sink cannot go on: they stay in {}",
                    open.temp.display()
                ));
                self.unrecoverable = true;
            }
        }
        self.replay.truncate(self.replay_checkpoint);
        self.recovering = Some(error);
    }

    /// After an error: writes the abandoned file's rows into a new file.
    fn recover(&mut self) -> Result<(), PluginError> {
        let Some(error) = self.recovering.clone() else {
            return Ok(());
        };
        if self.unrecoverable {
            return Err(PluginError::failed(format!(
                "the file sink failed earlier: {error}"
            )));
        }
        let rows = std::mem::take(&mut self.replay);
        self.replay_checkpoint = 0;
        let result = rows.iter().try_for_each(|batch| {
            let file = match self.current.take() {
                Some(f) => f,
                None => self.open()?,
            };
            let file = self.current.insert(file);
            file.writer.write(batch)?;
            file.rows += batch.num_rows() as u64;
            file.unflushed = true;
            self.replay.push(batch.clone());
            Ok::<_, PluginError>(())
        });
        match result {
            Ok(()) => {
                self.recovering = None;
                self.replay_checkpoint = self.replay.len();
                tracing::info!(
                    rows = rows.iter().map(RecordBatch::num_rows).sum::<usize>(),
                    "file sink recovered from: {error}"
                );
                Ok(())
            }
            Err(e) => {
                if let Some(open) = self.current.take() {
                    drop(open.writer);
                    let _ = std::fs::remove_file(&open.temp);
                }
                self.replay = rows;
                Err(PluginError::failed(format!(
                    "the file sink cannot recover from an earlier error ({error}): {e}"
                )))
            }
        }
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
            let full = self.config.roll_rows > 0 && file.rows >= self.config.roll_rows;
            if self.keeps_replay() {
                self.replay.push(part);
            }
            offset += len;
            if full {
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
        let temp = open.temp.clone();
        match self.finalize(open) {
            Ok(()) => {
                // Its rows are final now: no error can need them again.
                self.replay.clear();
                self.replay_checkpoint = 0;
                Ok(())
            }
            Err(e) => {
                if self.keeps_replay() {
                    // `replay` still holds its rows for the next file.
                    let _ = std::fs::remove_file(&temp);
                }
                Err(e)
            }
        }
    }

    /// Completes `open`, syncs it, and renames it to its final name.
    fn finalize(&mut self, open: OpenFile) -> Result<(), PluginError> {
        let file = open.writer.finish()?;
        sync(&file, &open.temp)?;
        drop(file);
        let target = self.naming.final_path(open.number);
        if target.exists() {
            return Err(PluginError::failed(format!(
                "{} appeared while this sink wrote it; is another sink writing to the same directory and prefix?",
                target.display(),
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
            // The rows before this update; an error drops only this update's.
            sink.replay_checkpoint = sink.replay.len();
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
