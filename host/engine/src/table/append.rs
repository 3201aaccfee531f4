//! Append-only source: rows are only ever added.

use arrow_array::RecordBatch;
use arrow_schema::SchemaRef;

use super::chunks::ChunkList;
use super::{SourceStore, added_update};
use crate::error::{EngineError, Result};
use crate::update::{RowKey, Update};
use crate::version::VersionRef;

/// Storage of an append table; row keys are 0, 1, 2, ... in arrival order.
pub(crate) struct AppendStore {
    name: String,
    chunks: ChunkList,
    next_key: RowKey,
}

impl AppendStore {
    /// An empty append table.
    pub fn new(name: &str, schema: SchemaRef) -> Self {
        AppendStore {
            name: name.to_string(),
            chunks: ChunkList::new(schema),
            next_key: 0,
        }
    }
}

impl SourceStore for AppendStore {
    fn ingest(&mut self, batches: Vec<RecordBatch>, cycle: u64) -> Result<Option<Update>> {
        if batches.iter().all(|b| b.num_rows() == 0) {
            return Ok(None);
        }
        let first = self.next_key;
        // The cycle's batches are joined into the table's tail chunk in one
        // copy, and the update's rows are a slice of it.
        let added = self
            .chunks
            .append(first, &batches)
            .map_err(|e| EngineError::arrow(&self.name, e))?;
        self.next_key += added.num_rows() as RowKey;
        Ok(Some(added_update(added, first, cycle)))
    }

    fn version(&self) -> VersionRef {
        std::sync::Arc::new(self.chunks.version())
    }

    fn rows_mut(&mut self) -> &mut ChunkList {
        &mut self.chunks
    }
}
