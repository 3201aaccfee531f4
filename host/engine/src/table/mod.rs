//! Tables: the user-facing handle and the three kinds of source storage.

pub(crate) mod append;
pub(crate) mod blink;
pub(crate) mod chunks;
pub(crate) mod handle;
pub(crate) mod ring;
pub(crate) mod source;

use arrow_array::RecordBatch;

use crate::error::Result;
use crate::update::{RowKey, RowKeys, Update};
use crate::version::VersionRef;

/// How a source table keeps rows across cycles (Deephaven's table types).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TableType {
    /// Rows are only ever added.
    Append,
    /// Holds only the rows of the latest cycle.
    Blink,
    /// Holds the last `N` rows.
    Ring(usize),
}

/// Storage behind a source table.
pub(crate) trait SourceStore: Send {
    /// Moves one cycle's rows in (the batches in arrival order, none empty);
    /// returns the table's update, if any.
    fn ingest(&mut self, batches: Vec<RecordBatch>, cycle: u64) -> Result<Option<Update>>;
    /// The current rows.
    fn version(&self) -> VersionRef;
    /// The rows held, for removals ([`crate::Writer::remove_where`]).
    fn rows_mut(&mut self) -> &mut chunks::ChunkList;
}

/// Builds a store for `kind`.
pub(crate) fn new_store(
    name: &str,
    schema: arrow_schema::SchemaRef,
    kind: TableType,
) -> Box<dyn SourceStore> {
    match kind {
        TableType::Append => Box::new(append::AppendStore::new(name, schema)),
        TableType::Blink => Box::new(blink::BlinkStore::new(name, schema)),
        TableType::Ring(n) => Box::new(ring::RingStore::new(name, schema, n)),
    }
}

/// An update that only adds `batch` with keys starting at `first`.
pub(crate) fn added_update(batch: RecordBatch, first: RowKey, cycle: u64) -> Update {
    let mut u = Update::empty(&batch.schema(), cycle);
    u.added_keys = RowKeys::range(first..first + batch.num_rows() as RowKey);
    u.added = batch;
    u
}
