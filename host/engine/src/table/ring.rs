//! Ring source: holds the last `N` rows.

use arrow_array::RecordBatch;
use arrow_schema::SchemaRef;

use super::SourceStore;
use super::chunks::ChunkList;
use crate::error::{EngineError, Result};
use crate::update::{RowKey, RowKeys, Update};
use crate::version::{VersionRef, concat};

/// Storage of a ring table; evicted rows are reported as removed.
pub(crate) struct RingStore {
    name: String,
    schema: SchemaRef,
    capacity: usize,
    chunks: ChunkList,
    next_key: RowKey,
}

impl RingStore {
    /// An empty ring of `capacity` rows.
    pub fn new(name: &str, schema: SchemaRef, capacity: usize) -> Self {
        RingStore {
            name: name.to_string(),
            chunks: ChunkList::new(schema.clone()),
            schema,
            capacity,
            next_key: 0,
        }
    }
}

impl SourceStore for RingStore {
    fn ingest(&mut self, batches: Vec<RecordBatch>, cycle: u64) -> Result<Option<Update>> {
        let err = |e| EngineError::arrow(&self.name, e);
        let mut batch = concat(&self.schema, &batches).map_err(err)?;
        if batch.num_rows() == 0 {
            return Ok(None);
        }
        // Rows that would be evicted in the same cycle they arrive never appear.
        let n = batch.num_rows();
        if n > self.capacity {
            self.next_key += (n - self.capacity) as RowKey;
            batch = batch.slice(n - self.capacity, self.capacity);
        }
        let mut update = Update::empty(&self.schema, cycle);
        let overflow = (self.chunks.len() + batch.num_rows()).saturating_sub(self.capacity);
        let (removed_keys, removed) = self.chunks.pop_front(overflow).map_err(err)?;
        update.removed = removed;
        update.removed_keys = removed_keys;
        let first = self.next_key;
        self.next_key += batch.num_rows() as RowKey;
        update.added_keys = RowKeys::range(first..self.next_key);
        update.added = batch.clone();
        self.chunks.push(first, batch).map_err(err)?;
        Ok(Some(update).filter(|u| !u.is_empty()))
    }

    fn version(&self) -> VersionRef {
        std::sync::Arc::new(self.chunks.version())
    }

    fn rows_mut(&mut self) -> &mut ChunkList {
        &mut self.chunks
    }
}
