//! Chunked storage shared by the source tables: runs of rows with consecutive keys.

use std::collections::VecDeque;
use std::sync::Arc;

use arrow_array::{Array, BooleanArray, RecordBatch};
use arrow_schema::{ArrowError, SchemaRef};

use crate::update::{RowKey, RowKeys};
use crate::version::{Version, concat, gather};

/// Chunks stop growing by merges at this many rows.
pub(crate) const CHUNK_CAP: usize = 1 << 16;

/// A chunk of at least this many rows is never merged again: the chunk
/// count stays small without copying a fast stream's rows more than once.
pub(crate) const CHUNK_MIN: usize = CHUNK_CAP / 4;

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

    /// Appends a chunk, merging small tail chunks (below [`CHUNK_MIN`] rows)
    /// so each row is copied O(log CHUNK_MIN) times and the chunk count stays small.
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
            if ra > rb || ra >= CHUNK_MIN || ra + rb > CHUNK_CAP || a.end() != b.first {
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

    /// Appends one cycle's `batches` (keys from `first` on) and returns their
    /// rows as one batch. The batches and, when it is no bigger than they
    /// are, the tail chunk are joined in one copy (`push`'s merge rule), and
    /// the returned rows are a slice of that join, so each new row is copied
    /// once rather than once to join and again to merge.
    pub fn append(
        &mut self,
        first: RowKey,
        batches: &[RecordBatch],
    ) -> Result<RecordBatch, ArrowError> {
        let n: usize = batches.iter().map(|b| b.num_rows()).sum();
        if n == 0 {
            return Ok(RecordBatch::new_empty(self.schema.clone()));
        }
        let joins_tail = self.chunks.back().is_some_and(|t| {
            let rows = t.batch.num_rows();
            t.end() == first && rows <= n && rows < CHUNK_MIN && rows + n <= CHUNK_CAP
        });
        let mut parts = Vec::with_capacity(batches.len() + 1);
        let (start, skip) = match self.chunks.pop_back() {
            Some(tail) if joins_tail => {
                let rows = tail.batch.num_rows();
                self.len -= rows;
                parts.push(tail.batch);
                (tail.first, rows)
            }
            tail => {
                // Not joined: put it back as it was.
                self.chunks.extend(tail);
                (first, 0)
            }
        };
        parts.extend(batches.iter().filter(|b| b.num_rows() > 0).cloned());
        let joined = shrink(&self.schema, concat(&self.schema, &parts)?)?;
        let added = joined.slice(skip, n);
        self.push(start, joined)?;
        Ok(added)
    }

    /// Removes the `n` oldest rows and returns them with their keys.
    pub fn pop_front(&mut self, mut n: usize) -> Result<(RowKeys, RecordBatch), ArrowError> {
        let mut parts = Vec::new();
        let mut keys = RowKeys::new();
        while n > 0 {
            let Some(front) = self.chunks.front_mut() else {
                break;
            };
            let rows = front.batch.num_rows();
            let take = n.min(rows);
            keys.push_range(front.first..front.first + take as RowKey);
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

    /// Removes the rows for which `filter` is true (null keeps a row) and
    /// returns them with their keys, in key order. A chunk with removed rows
    /// splits into the runs of rows it keeps.
    pub fn remove_where(
        &mut self,
        filter: &dyn Fn(&RecordBatch) -> Result<BooleanArray, ArrowError>,
    ) -> Result<(RowKeys, RecordBatch), ArrowError> {
        let mut kept = VecDeque::with_capacity(self.chunks.len());
        let mut parts = Vec::new();
        let mut keys = RowKeys::new();
        for chunk in std::mem::take(&mut self.chunks) {
            let mask = filter(&chunk.batch)?;
            let gone = |i: usize| mask.is_valid(i) && mask.value(i);
            if mask.true_count() == 0 {
                kept.push_back(chunk);
                continue;
            }
            let n = chunk.batch.num_rows();
            let mut i = 0;
            while i < n {
                let (start, remove) = (i, gone(i));
                while i < n && gone(i) == remove {
                    i += 1;
                }
                let (first, run) = (
                    chunk.first + start as RowKey,
                    chunk.batch.slice(start, i - start),
                );
                if remove {
                    keys.push_range(first..first + run.num_rows() as RowKey);
                    parts.push(run);
                } else {
                    kept.push_back(Chunk { first, batch: run });
                }
            }
        }
        self.chunks = kept;
        self.len -= keys.len();
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

    fn chunks(&self) -> Option<Vec<RecordBatch>> {
        Some(self.chunks.iter().map(|c| c.batch.clone()).collect())
    }

    fn memory_bytes(&self) -> Option<usize> {
        Some(
            self.chunks
                .iter()
                .map(|c| c.batch.get_array_memory_size())
                .sum(),
        )
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow_array::cast::AsArray;
    use arrow_array::types::Int64Type;
    use arrow_array::{Int64Array, RecordBatch};
    use arrow_schema::{DataType, Field, Schema, SchemaRef};

    use super::{CHUNK_CAP, CHUNK_MIN, ChunkList};
    use crate::version::Version;

    fn schema() -> SchemaRef {
        Arc::new(Schema::new(vec![Field::new("v", DataType::Int64, false)]))
    }

    fn batch(values: std::ops::Range<i64>) -> RecordBatch {
        RecordBatch::try_new(
            schema(),
            vec![Arc::new(Int64Array::from_iter_values(values))],
        )
        .unwrap()
    }

    fn values(b: &RecordBatch) -> Vec<i64> {
        b.column(0).as_primitive::<Int64Type>().values().to_vec()
    }

    #[test]
    fn append_returns_the_new_rows_and_keeps_every_row_in_key_order() {
        let mut list = ChunkList::new(schema());
        let mut next = 0i64;
        // Cycles of 1 to 5 batches, of growing sizes, so tails are joined and not.
        for cycle in 0..40usize {
            let parts: Vec<RecordBatch> = (0..cycle % 5 + 1)
                .map(|i| {
                    let n = ((cycle * 37 + i * 11) % 900 + 1) as i64 * (1 + cycle as i64 / 10);
                    let b = batch(next..next + n);
                    next += n;
                    b
                })
                .collect();
            let first = parts.iter().map(|b| values(b)[0]).next().unwrap() as u64;
            let want: Vec<i64> = parts.iter().flat_map(values).collect();
            let added = list.append(first, &parts).unwrap();
            assert_eq!(values(&added), want, "cycle {cycle}");
        }
        let version = list.version();
        assert_eq!(version.num_rows(), next as usize);
        assert_eq!(
            values(&version.materialize().unwrap()),
            (0..next).collect::<Vec<_>>()
        );
        assert_eq!(version.keys(), (0..next as u64).collect::<Vec<_>>());
        assert!(list.chunks.iter().all(|c| c.batch.num_rows() <= CHUNK_CAP));
        assert!(
            list.chunks.len() < 40,
            "small chunks are merged: {}",
            list.chunks.len()
        );
    }

    #[test]
    fn one_batch_into_an_empty_list_is_not_copied() {
        let mut list = ChunkList::new(schema());
        let b = batch(0..1000);
        let added = list.append(0, std::slice::from_ref(&b)).unwrap();
        let ptr = |b: &RecordBatch| b.column(0).to_data().buffers()[0].as_ptr();
        assert_eq!(ptr(&added), ptr(&b));
        assert_eq!(ptr(&list.chunks[0].batch), ptr(&b));
    }

    #[test]
    fn chunks_of_chunk_min_rows_are_not_copied_again() {
        let mut list = ChunkList::new(schema());
        let n = CHUNK_MIN as i64;
        let (a, b) = (batch(0..n), batch(n..2 * n));
        list.append(0, std::slice::from_ref(&a)).unwrap();
        let added = list.append(n as u64, std::slice::from_ref(&b)).unwrap();
        let ptr = |b: &RecordBatch| b.column(0).to_data().buffers()[0].as_ptr();
        assert_eq!(list.chunks.len(), 2);
        assert_eq!(ptr(&list.chunks[0].batch), ptr(&a));
        assert_eq!(ptr(&list.chunks[1].batch), ptr(&b));
        assert_eq!(ptr(&added), ptr(&b));
    }

    #[test]
    fn the_new_rows_share_the_joined_tail_chunk() {
        let mut list = ChunkList::new(schema());
        list.append(0, &[batch(0..100)]).unwrap();
        let added = list
            .append(100, &[batch(100..250), batch(250..400)])
            .unwrap();
        assert_eq!(list.chunks.len(), 1, "the smaller tail was joined");
        assert_eq!(values(&added), (100..400).collect::<Vec<_>>());
        let tail = &list.chunks[0].batch;
        let start = tail.column(0).to_data().buffers()[0].as_ptr();
        let new_rows = added
            .column(0)
            .as_primitive::<Int64Type>()
            .values()
            .as_ptr();
        assert_eq!(new_rows as usize, start as usize + 100 * 8);
    }
}
