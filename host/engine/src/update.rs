//! What one cycle changed in one table.

use arrow_array::RecordBatch;
use arrow_schema::SchemaRef;

/// Stable identity of a row within one table; snapshots list rows in key order.
pub type RowKey = u64;

/// The change one cycle made to one table.
///
/// `removed` and `modified_prev` hold the values as of the previous cycle,
/// `added` and `modified` the values as of this one. Each `*_keys` vector is
/// parallel to its batch.
#[derive(Debug, Clone)]
pub struct Update {
    /// Cycle number (starts at 1) that produced this update.
    pub cycle: u64,
    /// Rows that appeared.
    pub added: RecordBatch,
    /// Row keys of `added`.
    pub added_keys: Vec<RowKey>,
    /// Rows that disappeared, with their last values.
    pub removed: RecordBatch,
    /// Row keys of `removed`.
    pub removed_keys: Vec<RowKey>,
    /// New values of rows that changed in place.
    pub modified: RecordBatch,
    /// Previous values of the rows in `modified`.
    pub modified_prev: RecordBatch,
    /// Row keys of `modified`.
    pub modified_keys: Vec<RowKey>,
}

impl Update {
    /// An update that changes nothing.
    pub fn empty(schema: &SchemaRef, cycle: u64) -> Self {
        let e = RecordBatch::new_empty(schema.clone());
        Update {
            cycle,
            added: e.clone(),
            added_keys: Vec::new(),
            removed: e.clone(),
            removed_keys: Vec::new(),
            modified: e.clone(),
            modified_prev: e,
            modified_keys: Vec::new(),
        }
    }

    /// Rows added, removed or modified.
    pub fn num_changed(&self) -> usize {
        self.added_keys.len() + self.removed_keys.len() + self.modified_keys.len()
    }

    /// Whether nothing was added, removed or modified.
    pub fn is_empty(&self) -> bool {
        self.added_keys.is_empty() && self.removed_keys.is_empty() && self.modified_keys.is_empty()
    }
}
