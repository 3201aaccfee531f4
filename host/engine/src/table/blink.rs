//! Blink source: holds only the rows that arrived in the latest cycle.

use arrow_array::RecordBatch;
use arrow_schema::SchemaRef;

use super::SourceStore;
use super::chunks::ChunkList;
use crate::error::{EngineError, Result};
use crate::update::{RowKey, RowKeys, Update};
use crate::version::{VersionRef, concat};

/// Storage of a blink table: each cycle's update removes the previous cycle's rows.
pub(crate) struct BlinkStore {
    name: String,
    schema: SchemaRef,
    chunks: ChunkList,
    next_key: RowKey,
}

impl BlinkStore {
    /// An empty blink table.
    pub fn new(name: &str, schema: SchemaRef) -> Self {
        BlinkStore {
            name: name.to_string(),
            chunks: ChunkList::new(schema.clone()),
            schema,
            next_key: 0,
        }
    }
}

impl SourceStore for BlinkStore {
    fn ingest(&mut self, batches: Vec<RecordBatch>, cycle: u64) -> Result<Option<Update>> {
        let err = |e| EngineError::arrow(&self.name, e);
        let batch = Some(concat(&self.schema, &batches).map_err(err)?).filter(|b| b.num_rows() > 0);
        if batch.is_none() && self.chunks.len() == 0 {
            return Ok(None);
        }
        let mut update = Update::empty(&self.schema, cycle);
        let (removed_keys, removed) = self.chunks.pop_front(self.chunks.len()).map_err(err)?;
        update.removed = removed;
        update.removed_keys = removed_keys;
        if let Some(batch) = batch {
            let first = self.next_key;
            self.next_key += batch.num_rows() as RowKey;
            update.added_keys = RowKeys::range(first..self.next_key);
            update.added = batch.clone();
            self.chunks.push(first, batch).map_err(err)?;
        }
        Ok(Some(update))
    }

    fn version(&self) -> VersionRef {
        std::sync::Arc::new(self.chunks.version())
    }

    fn rows_mut(&mut self) -> &mut ChunkList {
        &mut self.chunks
    }
}
