//! Immutable per-cycle views of a table, published to readers.
//!
//! Every cycle each changed table publishes a [`Version`]: a cheap,
//! structurally shared value that can answer "which rows, with which values"
//! without touching the live state the next cycle mutates.

use std::sync::Arc;

use arrow_array::{ArrayRef, RecordBatch, new_null_array};
use arrow_schema::{ArrowError, SchemaRef};
use arrow_select::interleave::interleave;

use crate::update::RowKey;

/// A table's contents as of one cycle.
pub(crate) trait Version: Send + Sync {
    /// Schema of the rows.
    fn schema(&self) -> SchemaRef;
    /// Number of rows present.
    fn num_rows(&self) -> usize;
    /// Keys of all rows, ascending.
    fn keys(&self) -> Vec<RowKey>;
    /// The rows with the given keys, in the given order; every key must be present.
    fn rows(&self, keys: &[RowKey]) -> Result<RecordBatch, ArrowError>;
    /// All rows in key order; equals `rows(&keys())`.
    fn materialize(&self) -> Result<RecordBatch, ArrowError>;
    /// All rows in key order as the batches the table already keeps them
    /// in, shared rather than copied; `None` where rows are not kept as
    /// whole batches (derived tables computed from their inputs).
    fn chunks(&self) -> Option<Vec<RecordBatch>> {
        None
    }
    /// Bytes of memory the version's own row storage holds (buffer
    /// capacities), where the table keeps its rows as Arrow chunks.
    fn memory_bytes(&self) -> Option<usize> {
        None
    }
}

/// Shared pointer to a version.
pub(crate) type VersionRef = Arc<dyn Version>;

/// Gathers rows from several batches by `(batch, row)`; `None` yields a null row.
pub(crate) fn gather(
    schema: &SchemaRef,
    batches: &[&RecordBatch],
    picks: &[Option<(usize, usize)>],
) -> Result<RecordBatch, ArrowError> {
    if picks.is_empty() {
        return Ok(RecordBatch::new_empty(schema.clone()));
    }
    let null_slot = batches.len();
    let needs_null = picks.iter().any(Option::is_none);
    let indices: Vec<(usize, usize)> = picks.iter().map(|p| p.unwrap_or((null_slot, 0))).collect();
    let mut columns: Vec<ArrayRef> = Vec::with_capacity(schema.fields().len());
    for (c, field) in schema.fields().iter().enumerate() {
        let null;
        let mut arrays: Vec<&dyn arrow_array::Array> =
            batches.iter().map(|b| b.column(c).as_ref()).collect();
        if needs_null {
            null = new_null_array(field.data_type(), 1);
            arrays.push(null.as_ref());
        }
        columns.push(interleave(&arrays, &indices)?);
    }
    RecordBatch::try_new_with_options(
        schema.clone(),
        columns,
        &arrow_array::RecordBatchOptions::new().with_row_count(Some(picks.len())),
    )
}

/// Concatenates batches, returning an empty batch for none.
pub(crate) fn concat(
    schema: &SchemaRef,
    batches: &[RecordBatch],
) -> Result<RecordBatch, ArrowError> {
    match batches {
        [] => Ok(RecordBatch::new_empty(schema.clone())),
        [one] => Ok(one.clone()),
        many => arrow_select::concat::concat_batches(schema, many),
    }
}
