//! Chunked storage shared by the source tables: runs of rows with consecutive keys.

use std::collections::VecDeque;
use std::sync::Arc;

use arrow_array::RecordBatch;
use arrow_schema::{ArrowError, SchemaRef};

use crate::update::RowKey;
use crate::version::{Version, concat, gather};

/// Chunks stop growing by merges at this many rows.
pub(crate) const CHUNK_CAP: usize = 1 << 16;

/// A run of rows whose keys are `first..first + batch.num_rows()`.
#[derive(Clone, Debug)]
pub(crate) struct Chunk {
    pub first: RowKey,
    pub batch: RecordBatch,
}

impl Chunk {
    fn end(&self) -> RowKey {
        self.first + self.batch.num_rows() as RowKey
    }
}

/// Bytes the buffers of `data` actually use (lengths, not capacities).
fn used_bytes(data: &arrow_data::ArrayData) -> usize {
    data.buffers().iter().map(|b| b.len()).sum::<usize>()
        + data.nulls().map_or(0, |n| n.buffer().len())
        + data.child_data().iter().map(used_bytes).sum::<usize>()
}

/// Copies `batch` into exactly sized buffers if builders left it with more
/// than 10% slack, so long-lived tables cost what their data needs.
fn shrink(schema: &SchemaRef, batch: RecordBatch) -> Result<RecordBatch, ArrowError> {
    let used: usize = batch
        .columns()
        .iter()
        .map(|c| used_bytes(&c.to_data()))
        .sum();
    if batch.get_array_memory_size() * 10 <= used * 11 {
        return Ok(batch);
    }
    // `concat` of a single batch only re-slices; adding an empty one forces a copy.
    let empty = RecordBatch::new_empty(schema.clone());
    arrow_select::concat::concat_batches(schema, [&batch, &empty])
}

/// Ordered chunks; keys increase across chunks.
#[derive(Debug)]
pub(crate) struct ChunkList {
    schema: SchemaRef,
    chunks: VecDeque<Chunk>,
    len: usize,
}

impl ChunkList {
    /// An empty list.
    pub fn new(schema: SchemaRef) -> Self {
        ChunkList {
            schema,
            chunks: VecDeque::new(),
            len: 0,
        }
    }

    /// Rows held.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Appends a chunk, merging small tail chunks so each row is copied
    /// O(log CHUNK_CAP) times and the chunk count stays small.
    pub fn push(&mut self, first: RowKey, batch: RecordBatch) -> Result<(), ArrowError> {
        if batch.num_rows() == 0 {
            return Ok(());
        }
        let batch = shrink(&self.schema, batch)?;
        self.len += batch.num_rows();
        self.chunks.push_back(Chunk { first, batch });
        while self.chunks.len() >= 2 {
            let n = self.chunks.len();
            let (a, b) = (&self.chunks[n - 2], &self.chunks[n - 1]);
            let (ra, rb) = (a.batch.num_rows(), b.batch.num_rows());
            if ra > rb || ra + rb > CHUNK_CAP || a.end() != b.first {
                break;
            }
            let merged = arrow_select::concat::concat_batches(&self.schema, [&a.batch, &b.batch])?;
            let first = a.first;
            self.chunks.pop_back();
            self.chunks.pop_back();
            self.chunks.push_back(Chunk {
                first,
                batch: merged,
            });
        }
        Ok(())
    }

    /// Removes the `n` oldest rows and returns them with their first key.
    pub fn pop_front(&mut self, mut n: usize) -> Result<(Vec<RowKey>, RecordBatch), ArrowError> {
        let mut parts = Vec::new();
        let mut keys = Vec::with_capacity(n);
        while n > 0 {
            let Some(front) = self.chunks.front_mut() else {
                break;
            };
            let rows = front.batch.num_rows();
            let take = n.min(rows);
            keys.extend(front.first..front.first + take as RowKey);
            if take == rows {
                if let Some(c) = self.chunks.pop_front() {
                    parts.push(c.batch);
                }
            } else {
                parts.push(front.batch.slice(0, take));
                front.batch = front.batch.slice(take, rows - take);
                front.first += take as RowKey;
            }
            self.len -= take;
            n -= take;
        }
        Ok((keys, concat(&self.schema, &parts)?))
    }

    /// An immutable view of the current rows.
    pub fn version(&self) -> ChunkedVersion {
        ChunkedVersion {
            schema: self.schema.clone(),
            chunks: Arc::new(self.chunks.iter().cloned().collect()),
            len: self.len,
        }
    }
}

/// Published view of a [`ChunkList`].
pub(crate) struct ChunkedVersion {
    schema: SchemaRef,
    chunks: Arc<Vec<Chunk>>,
    len: usize,
}

impl Version for ChunkedVersion {
    fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    fn num_rows(&self) -> usize {
        self.len
    }

    fn keys(&self) -> Vec<RowKey> {
        self.chunks.iter().flat_map(|c| c.first..c.end()).collect()
    }

    fn rows(&self, keys: &[RowKey]) -> Result<RecordBatch, ArrowError> {
        let mut used: Vec<usize> = Vec::new();
        let mut slot_of = std::collections::HashMap::new();
        let mut picks = Vec::with_capacity(keys.len());
        for &k in keys {
            let ci = self.chunks.partition_point(|c| c.end() <= k);
            let chunk = self
                .chunks
                .get(ci)
                .filter(|c| c.first <= k)
                .ok_or_else(|| {
                    ArrowError::InvalidArgumentError(format!("row key {k} not present"))
                })?;
            let slot = *slot_of.entry(ci).or_insert_with(|| {
                used.push(ci);
                used.len() - 1
            });
            picks.push(Some((slot, (k - chunk.first) as usize)));
        }
        let batches: Vec<&RecordBatch> = used.iter().map(|&ci| &self.chunks[ci].batch).collect();
        gather(&self.schema, &batches, &picks)
    }

    fn materialize(&self) -> Result<RecordBatch, ArrowError> {
        let batches: Vec<RecordBatch> = self.chunks.iter().map(|c| c.batch.clone()).collect();
        concat(&self.schema, &batches)
    }
}
