//! Writers: cloneable handles that push batches into a source table.

use std::sync::{Arc, Condvar, Mutex, MutexGuard};

use arrow_array::{BooleanArray, RecordBatch};
use arrow_schema::{ArrowError, SchemaRef};

use crate::error::{EngineError, Result};
use crate::wake::CycleWake;

/// Picks the rows a [`Writer::remove_where`] removes: `true` for each row
/// of the batch to remove (a null keeps the row).
pub type RowFilter =
    Arc<dyn Fn(&RecordBatch) -> std::result::Result<BooleanArray, ArrowError> + Send + Sync>;

/// Rows waiting for the next cycle.
#[derive(Default)]
struct Buffer {
    batches: Vec<RecordBatch>,
    rows: usize,
    /// Removals asked for, each with how many of `batches` came before it.
    removals: Vec<(usize, RowFilter)>,
}

/// What a cycle takes from a writer buffer.
pub(crate) struct Drained {
    /// The batches pushed, in order, none empty.
    pub batches: Vec<RecordBatch>,
    /// The removals asked for, each with how many of `batches` came before
    /// it (and so are subject to it, as are the rows the table holds).
    pub removals: Vec<(usize, RowFilter)>,
}

/// State shared by a source table and all of its writers.
pub(crate) struct WriterShared {
    table: String,
    schema: SchemaRef,
    capacity: usize,
    buffer: Mutex<Buffer>,
    drained: Condvar,
    /// Whether [`Writer::remove_where`] may remove rows (the table was
    /// created removable, so no operator takes it for add-only).
    removable: bool,
    /// Asks for an early cycle when a writer finds the buffer full.
    wake: Arc<CycleWake>,
}

impl WriterShared {
    /// A buffer holding at most `capacity` rows (at least one).
    pub fn new(
        table: &str,
        schema: SchemaRef,
        capacity: usize,
        wake: Arc<CycleWake>,
        removable: bool,
    ) -> Arc<Self> {
        Arc::new(WriterShared {
            table: table.to_string(),
            schema,
            capacity: capacity.max(1),
            buffer: Mutex::new(Buffer::default()),
            drained: Condvar::new(),
            removable,
            wake,
        })
    }

    /// The table's name.
    pub fn table(&self) -> &str {
        &self.table
    }

    /// The table's schema.
    pub fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    fn lock(&self) -> MutexGuard<'_, Buffer> {
        // A writer that panicked mid-push left a consistent buffer: keep going.
        self.buffer.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Takes everything buffered and wakes blocked writers.
    pub fn drain(&self) -> Drained {
        let drained = {
            let mut buf = self.lock();
            buf.rows = 0;
            Drained {
                batches: std::mem::take(&mut buf.batches),
                removals: std::mem::take(&mut buf.removals),
            }
        };
        self.drained.notify_all();
        drained
    }

    /// Checks `batch` against the table schema and rebinds it to that schema.
    fn validate(&self, batch: &RecordBatch) -> Result<RecordBatch> {
        let mismatch = |reason: String| EngineError::SchemaMismatch {
            table: self.table.clone(),
            reason,
        };
        let want = self.schema.fields();
        let got = batch.schema();
        if want.len() != got.fields().len() {
            return Err(mismatch(format!(
                "expected {} columns, got {}",
                want.len(),
                got.fields().len()
            )));
        }
        for (i, (w, g)) in want.iter().zip(got.fields().iter()).enumerate() {
            if w.name() != g.name() {
                return Err(mismatch(format!(
                    "column {i} is named `{}`, expected `{}`",
                    g.name(),
                    w.name()
                )));
            }
            if w.data_type() != g.data_type() {
                return Err(mismatch(format!(
                    "column `{}` has type {}, expected {}",
                    w.name(),
                    g.data_type(),
                    w.data_type()
                )));
            }
            if !w.is_nullable() && batch.column(i).null_count() > 0 {
                return Err(mismatch(format!(
                    "column `{}` is not nullable but has nulls",
                    w.name()
                )));
            }
        }
        RecordBatch::try_new(self.schema.clone(), batch.columns().to_vec())
            .map_err(|e| mismatch(e.to_string()))
    }
}

/// A cheap, cloneable, thread-safe handle that pushes batches into one source table.
///
/// Rows wait in a bounded buffer until the next cycle moves them into the
/// table; [`Writer::push`] blocks while the buffer is full, [`Writer::try_push`]
/// fails instead.
#[derive(Clone)]
pub struct Writer {
    shared: Arc<WriterShared>,
}

impl std::fmt::Debug for Writer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Writer")
            .field("table", &self.shared.table)
            .finish()
    }
}

impl Writer {
    pub(crate) fn new(shared: Arc<WriterShared>) -> Self {
        Writer { shared }
    }

    /// Schema every pushed batch must have.
    pub fn schema(&self) -> SchemaRef {
        self.shared.schema.clone()
    }

    /// Buffer capacity in rows.
    pub fn capacity(&self) -> usize {
        self.shared.capacity
    }

    /// Rows currently waiting for the next cycle.
    pub fn buffered_rows(&self) -> usize {
        self.shared.lock().rows
    }

    /// Pushes a batch, blocking while the buffer is full.
    ///
    /// A full buffer asks the cycle thread (if one runs) for a cycle at once
    /// rather than at the end of its period. A batch larger than the capacity
    /// is split; its parts may land in different cycles. Blocks forever if no
    /// cycle ever runs.
    pub fn push(&self, batch: RecordBatch) -> Result<()> {
        let batch = self.shared.validate(&batch)?;
        let cap = self.shared.capacity;
        let mut offset = 0;
        while offset < batch.num_rows() {
            let mut buf = self.shared.lock();
            while buf.rows >= cap {
                // Full: the rows wait for a cycle, so ask for one now (again
                // after each wake-up, as other writers may have refilled it).
                self.shared.wake.request();
                buf = self
                    .shared
                    .drained
                    .wait(buf)
                    .unwrap_or_else(|p| p.into_inner());
            }
            let n = (cap - buf.rows).min(batch.num_rows() - offset);
            buf.batches.push(batch.slice(offset, n));
            buf.rows += n;
            offset += n;
        }
        Ok(())
    }

    /// Removes, at the next cycle, every row held by the table or pushed
    /// before this call for which `filter` says so; rows pushed after it are
    /// not touched. Only for a table created with
    /// [`crate::Engine::removable_source_table`] (others are add-only, and
    /// their operators rely on it): else [`EngineError::NotRemovable`].
    pub fn remove_where(&self, filter: RowFilter) -> Result<()> {
        if !self.shared.removable {
            return Err(EngineError::NotRemovable {
                table: self.shared.table.clone(),
            });
        }
        let mut buf = self.shared.lock();
        let at = buf.batches.len();
        buf.removals.push((at, filter));
        drop(buf);
        self.shared.wake.request();
        Ok(())
    }

    /// Pushes a batch if it fits in the buffer whole, else fails with [`EngineError::WriterFull`].
    pub fn try_push(&self, batch: RecordBatch) -> Result<()> {
        let batch = self.shared.validate(&batch)?;
        if batch.num_rows() == 0 {
            return Ok(());
        }
        let mut buf = self.shared.lock();
        if buf.rows + batch.num_rows() > self.shared.capacity {
            return Err(EngineError::WriterFull {
                table: self.shared.table.clone(),
                buffered: buf.rows,
                capacity: self.shared.capacity,
            });
        }
        buf.rows += batch.num_rows();
        buf.batches.push(batch);
        Ok(())
    }
}
