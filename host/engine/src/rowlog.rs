//! Slot-addressed row storage for keyed results (lastBy, aggBy, join right side).
//!
//! New row values are appended as chunks; a persistent index maps each slot
//! to its latest row. Publishing a version is O(1) for the index and
//! O(chunks) for the chunk list, and a cycle costs O(changed slots). Dead
//! rows are compacted away once they outnumber live ones, which keeps the
//! amortised cost per change constant.

use std::sync::Arc;

use arrow_array::RecordBatch;
use arrow_schema::{ArrowError, SchemaRef};

use crate::update::RowKey;
use crate::version::{Version, gather};

/// Marks a slot with no row.
const EMPTY: u64 = u64::MAX;

fn loc(chunk: usize, row: usize) -> u64 {
    ((chunk as u64) << 32) | row as u64
}

fn unloc(l: u64) -> (usize, usize) {
    ((l >> 32) as usize, (l & 0xffff_ffff) as usize)
}

/// Mutable slot store owned by an operator.
pub(crate) struct RowLog {
    schema: SchemaRef,
    chunks: Arc<Vec<RecordBatch>>,
    index: imbl::Vector<u64>,
    live: usize,
    stored: usize,
}

impl RowLog {
    /// An empty store.
    pub fn new(schema: SchemaRef) -> Self {
        RowLog {
            schema,
            chunks: Arc::new(Vec::new()),
            index: imbl::Vector::new(),
            live: 0,
            stored: 0,
        }
    }

    /// Stores row `i` of `batch` as the value of `slots[i]`.
    pub fn set(&mut self, slots: &[u32], batch: RecordBatch) -> Result<(), ArrowError> {
        debug_assert_eq!(slots.len(), batch.num_rows());
        if slots.is_empty() {
            return Ok(());
        }
        let chunk = self.chunks.len();
        if chunk > u32::MAX as usize || batch.num_rows() > u32::MAX as usize {
            return Err(ArrowError::ComputeError("row log too large".to_string()));
        }
        for (row, &slot) in slots.iter().enumerate() {
            let s = slot as usize;
            while self.index.len() <= s {
                self.index.push_back(EMPTY);
            }
            if self.index[s] == EMPTY {
                self.live += 1;
            }
            self.index.set(s, loc(chunk, row));
        }
        self.stored += batch.num_rows();
        Arc::make_mut(&mut self.chunks).push(batch);
        self.maybe_compact()
    }

    /// Empties the given slots.
    pub fn remove(&mut self, slots: &[u32]) -> Result<(), ArrowError> {
        for &slot in slots {
            let s = slot as usize;
            if s < self.index.len() && self.index[s] != EMPTY {
                self.index.set(s, EMPTY);
                self.live -= 1;
            }
        }
        self.maybe_compact()
    }

    fn maybe_compact(&mut self) -> Result<(), ArrowError> {
        if self.stored <= 2 * self.live + 4096 && self.chunks.len() <= 256 {
            return Ok(());
        }
        let version = self.version();
        let slots: Vec<RowKey> = version.keys();
        let batch = version.rows(&slots)?;
        let mut index = imbl::Vector::new();
        let mut next = 0;
        for s in 0..self.index.len() {
            if self.index[s] == EMPTY {
                index.push_back(EMPTY);
            } else {
                index.push_back(loc(0, next));
                next += 1;
            }
        }
        self.index = index;
        self.stored = batch.num_rows();
        self.chunks = Arc::new(vec![batch]);
        Ok(())
    }

    /// An immutable view of the current slots.
    pub fn version(&self) -> RowLogVersion {
        RowLogVersion {
            schema: self.schema.clone(),
            chunks: self.chunks.clone(),
            index: self.index.clone(),
            live: self.live,
        }
    }
}

/// Published view of a [`RowLog`]; row keys are slot numbers.
#[derive(Clone)]
pub(crate) struct RowLogVersion {
    schema: SchemaRef,
    chunks: Arc<Vec<RecordBatch>>,
    index: imbl::Vector<u64>,
    live: usize,
}

impl RowLogVersion {
    fn locate(&self, slot: u64) -> Option<(usize, usize)> {
        self.index
            .get(slot as usize)
            .filter(|&&l| l != EMPTY)
            .map(|&l| unloc(l))
    }

    /// Rows for the given slots; `None` or an empty slot yields a null row.
    pub fn rows_opt(&self, slots: &[Option<u32>]) -> Result<RecordBatch, ArrowError> {
        let picks: Vec<Option<(usize, usize)>> = slots
            .iter()
            .map(|s| s.and_then(|s| self.locate(s as u64)))
            .collect();
        self.gather(&picks)
    }

    fn gather(&self, picks: &[Option<(usize, usize)>]) -> Result<RecordBatch, ArrowError> {
        // Only hand the chunks actually referenced to interleave.
        let mut remap = std::collections::HashMap::new();
        let mut used: Vec<&RecordBatch> = Vec::new();
        let local: Vec<Option<(usize, usize)>> = picks
            .iter()
            .map(|p| {
                p.map(|(c, r)| {
                    let l = *remap.entry(c).or_insert_with(|| {
                        used.push(&self.chunks[c]);
                        used.len() - 1
                    });
                    (l, r)
                })
            })
            .collect();
        gather(&self.schema, &used, &local)
    }
}

impl Version for RowLogVersion {
    fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    fn num_rows(&self) -> usize {
        self.live
    }

    fn keys(&self) -> Vec<RowKey> {
        self.index
            .iter()
            .enumerate()
            .filter(|(_, l)| **l != EMPTY)
            .map(|(s, _)| s as RowKey)
            .collect()
    }

    fn rows(&self, keys: &[RowKey]) -> Result<RecordBatch, ArrowError> {
        let picks = keys
            .iter()
            .map(|&k| {
                self.locate(k)
                    .map(Some)
                    .ok_or_else(|| ArrowError::InvalidArgumentError(format!("slot {k} is empty")))
            })
            .collect::<Result<Vec<_>, _>>()?;
        self.gather(&picks)
    }

    fn materialize(&self) -> Result<RecordBatch, ArrowError> {
        self.rows(&self.keys())
    }
}
