//! Slot-addressed row storage for keyed results (lastBy, aggBy, join right side).
//!
//! New row values are appended as chunks; a persistent index maps each slot
//! to its latest row. Publishing a version is O(1): both the index and the
//! chunk table are persistent vectors.
//!
//! Chunks are kept tidy by two local rules, so a cycle's work stays
//! proportional (amortised) to the rows it changed and no single cycle ever
//! rewrites the whole table:
//!
//! - **Dead rows.** A chunk whose live fraction falls below 5/6 is rewritten
//!   with only its live rows (or dropped when none are left). Every chunk thus
//!   keeps at least 5/6 of its rows live and the store holds at most 1.2× the
//!   live rows. The rewrite copies fewer rows than five times the number that
//!   died in the chunk since it was written, so it is paid for by those changes.
//! - **Small chunks.** Chunks smaller than [`MERGE_LIMIT`] rows are grouped in
//!   size tiers (powers of two); when a tier holds two chunks they are merged,
//!   like a binary counter or a log-structured merge tree. A row is copied at
//!   most once per tier, i.e. O(log [`MERGE_LIMIT`]) times, and the merges of
//!   one change (a cascade through the tiers) never copy more than
//!   4 × [`MERGE_LIMIT`] rows, whatever the table size.
//!   Batches larger than [`MAX_CHUNK`] rows are split, so a later rewrite of
//!   one chunk is bounded too.
//!
//! There are at most one small chunk per tier plus one chunk per
//! `MERGE_LIMIT × 5/6` live rows, which keeps snapshots (a gather over the
//! chunks) cheap.

use arrow_array::RecordBatch;
use arrow_schema::{ArrowError, SchemaRef};

use crate::update::RowKey;
use crate::version::{Version, gather};

/// Marks a slot with no row.
const EMPTY: u64 = u64::MAX;

/// Chunks with fewer rows than this are merged with chunks of similar size.
pub(crate) const MERGE_LIMIT: usize = 1 << 13;

/// Largest chunk `set` stores; larger batches are split (and copied, so the
/// pieces do not keep each other's buffers alive).
pub(crate) const MAX_CHUNK: usize = 1 << 16;

/// A chunk is rewritten once `live * LIVE_DEN < rows * LIVE_NUM`.
const LIVE_NUM: usize = 5;
const LIVE_DEN: usize = 6;

fn loc(chunk: u32, row: usize) -> u64 {
    ((chunk as u64) << 32) | row as u64
}

fn unloc(l: u64) -> (usize, usize) {
    ((l >> 32) as usize, (l & 0xffff_ffff) as usize)
}

/// Size tier of a chunk of `rows` rows, or `None` if it is too big to merge.
fn tier(rows: usize) -> Option<usize> {
    (rows > 0 && rows < MERGE_LIMIT).then(|| rows.ilog2() as usize)
}

/// Bookkeeping for one stored chunk.
struct ChunkMeta {
    /// Slot of each stored row (the row is live if the index still points at it).
    slots: Vec<u32>,
    /// Rows the index points at.
    live: usize,
}

/// Mutable slot store owned by an operator.
pub(crate) struct RowLog {
    schema: SchemaRef,
    /// Chunk batches by chunk id (freed ids hold `None` until reused).
    chunks: imbl::Vector<Option<RecordBatch>>,
    meta: Vec<Option<ChunkMeta>>,
    free: Vec<u32>,
    /// Ids of small chunks per size tier.
    tiers: Vec<Vec<u32>>,
    /// Chunks that lost live rows since the last `settle`.
    dirty: Vec<u32>,
    index: imbl::Vector<u64>,
    live: usize,
    stored: usize,
    /// Rows copied by merges and rewrites so far (for tests and tuning).
    copied: u64,
}

impl RowLog {
    /// An empty store.
    pub fn new(schema: SchemaRef) -> Self {
        RowLog {
            schema,
            chunks: imbl::Vector::new(),
            meta: Vec::new(),
            free: Vec::new(),
            tiers: Vec::new(),
            dirty: Vec::new(),
            index: imbl::Vector::new(),
            live: 0,
            stored: 0,
            copied: 0,
        }
    }

    /// Stores row `i` of `batch` as the value of `slots[i]`.
    pub fn set(&mut self, slots: &[u32], batch: RecordBatch) -> Result<(), ArrowError> {
        debug_assert_eq!(slots.len(), batch.num_rows());
        if slots.is_empty() {
            return Ok(());
        }
        let n = batch.num_rows();
        if n <= MAX_CHUNK {
            self.add_chunk(slots.to_vec(), batch)?;
        } else {
            let empty = RecordBatch::new_empty(self.schema.clone());
            for start in (0..n).step_by(MAX_CHUNK) {
                let len = MAX_CHUNK.min(n - start);
                // Concatenating with an empty batch forces a copy of the slice.
                let piece = arrow_select::concat::concat_batches(
                    &self.schema,
                    [&batch.slice(start, len), &empty],
                )?;
                self.add_chunk(slots[start..start + len].to_vec(), piece)?;
            }
        }
        self.settle()
    }

    /// Empties the given slots.
    pub fn remove(&mut self, slots: &[u32]) -> Result<(), ArrowError> {
        for &slot in slots {
            let s = slot as usize;
            let Some(l) = self.index.get_mut(s) else {
                continue;
            };
            let old = std::mem::replace(l, EMPTY);
            if old != EMPTY {
                self.live -= 1;
                self.lose(unloc(old).0);
            }
        }
        self.settle()
    }

    /// Stores `batch` as a new chunk and points `slots` at its rows.
    fn add_chunk(&mut self, slots: Vec<u32>, batch: RecordBatch) -> Result<u32, ArrowError> {
        let rows = batch.num_rows();
        let id = match self.free.pop() {
            Some(id) => id,
            None => {
                let id = u32::try_from(self.meta.len())
                    .map_err(|_| ArrowError::ComputeError("row log too large".to_string()))?;
                self.chunks.push_back(None);
                self.meta.push(None);
                id
            }
        };
        if rows > u32::MAX as usize {
            return Err(ArrowError::ComputeError(
                "row log chunk too large".to_string(),
            ));
        }
        self.chunks.set(id as usize, Some(batch));
        self.stored += rows;
        if let Some(t) = tier(rows) {
            if self.tiers.len() <= t {
                self.tiers.resize_with(t + 1, Vec::new);
            }
            self.tiers[t].push(id);
        }
        // Installed first: a later row of this batch may replace an earlier one.
        self.meta[id as usize] = Some(ChunkMeta {
            slots: Vec::new(),
            live: 0,
        });
        for (row, &slot) in slots.iter().enumerate() {
            let s = slot as usize;
            while self.index.len() <= s {
                self.index.push_back(EMPTY);
            }
            let new = loc(id, row);
            let old = self
                .index
                .get_mut(s)
                .map(|l| std::mem::replace(l, new))
                .unwrap_or(EMPTY);
            if old == EMPTY {
                self.live += 1;
            } else {
                self.lose(unloc(old).0);
            }
            if let Some(m) = self.meta[id as usize].as_mut() {
                m.live += 1;
            }
        }
        if let Some(m) = self.meta[id as usize].as_mut() {
            m.slots = slots;
        }
        Ok(id)
    }

    /// Records that one live row of chunk `c` died.
    fn lose(&mut self, c: usize) {
        if let Some(m) = self.meta[c].as_mut() {
            m.live -= 1;
            self.dirty.push(c as u32);
        }
    }

    fn rows_of(&self, id: u32) -> usize {
        self.meta[id as usize].as_ref().map_or(0, |m| m.slots.len())
    }

    fn free_chunk(&mut self, id: u32) {
        let rows = self.rows_of(id);
        if let Some(t) = tier(rows) {
            self.tiers[t].retain(|&x| x != id);
        }
        self.stored -= rows;
        self.chunks.set(id as usize, None);
        self.meta[id as usize] = None;
        self.free.push(id);
    }

    /// Copies the live rows of chunks `ids` into one new chunk and frees them.
    fn rewrite(&mut self, ids: &[u32]) -> Result<(), ArrowError> {
        let mut picks = Vec::new();
        let mut slots = Vec::new();
        let mut batches = Vec::with_capacity(ids.len());
        for (local, &id) in ids.iter().enumerate() {
            let (Some(meta), Some(Some(batch))) = (
                self.meta[id as usize].as_ref(),
                self.chunks.get(id as usize),
            ) else {
                continue;
            };
            for (row, &s) in meta.slots.iter().enumerate() {
                if self.index.get(s as usize) == Some(&loc(id, row)) {
                    picks.push(Some((local, row)));
                    slots.push(s);
                }
            }
            batches.push(batch.clone());
        }
        if !picks.is_empty() {
            let refs: Vec<&RecordBatch> = batches.iter().collect();
            let batch = gather(&self.schema, &refs, &picks)?;
            self.copied += picks.len() as u64;
            self.add_chunk(slots, batch)?;
        }
        for &id in ids {
            if self.meta[id as usize].is_some() {
                self.free_chunk(id);
            }
        }
        Ok(())
    }

    /// Applies the dead-row and merge rules (see the module docs).
    fn settle(&mut self) -> Result<(), ArrowError> {
        let mut dirty = std::mem::take(&mut self.dirty);
        dirty.sort_unstable();
        dirty.dedup();
        for id in dirty {
            let Some(m) = self.meta[id as usize].as_ref() else {
                continue;
            };
            let rows = m.slots.len();
            if m.live == 0 {
                self.free_chunk(id);
            } else if m.live * LIVE_DEN < rows * LIVE_NUM {
                self.rewrite(&[id])?;
            }
        }
        let mut t = 0;
        while t < self.tiers.len() {
            if self.tiers[t].len() >= 2 {
                let a = self.tiers[t][0];
                let b = self.tiers[t][1];
                // The merged chunk may land in this tier again; look again.
                self.rewrite(&[a, b])?;
            } else {
                t += 1;
            }
        }
        // Rows moved by rewrites only ever leave chunks that were freed.
        self.dirty.clear();
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

    /// Rows held, live or dead.
    #[cfg(test)]
    fn stored(&self) -> usize {
        self.stored
    }

    /// Chunks held.
    #[cfg(test)]
    fn chunk_count(&self) -> usize {
        self.meta.iter().filter(|m| m.is_some()).count()
    }
}

/// The result table of a keyed operator (`agg_by`, `last_by`, `first_by`):
/// one row per group, the group's slot being its row key, with the version
/// readers see.
pub(crate) struct KeyedRows {
    log: RowLog,
    version: RowLogVersion,
}

impl KeyedRows {
    /// An empty result of `schema`.
    pub(crate) fn new(schema: SchemaRef) -> Self {
        let log = RowLog::new(schema);
        let version = log.version();
        Self { log, version }
    }

    /// The rows after the last [`KeyedRows::commit`].
    pub(crate) fn version(&self) -> crate::version::VersionRef {
        std::sync::Arc::new(self.version.clone())
    }

    /// Writes one cycle's result: `added` and `modified` rows at their slots,
    /// `removed` slots emptied. Returns the cycle's update, whose removed
    /// rows and modified rows' earlier values are read before the write.
    pub(crate) fn commit(
        &mut self,
        cycle: u64,
        (add_slots, added): (&[u32], RecordBatch),
        (mod_slots, modified): (&[u32], RecordBatch),
        rem_slots: &[u32],
    ) -> Result<crate::update::Update, ArrowError> {
        let prev = self.log.version();
        let modified_prev = prev.rows(&slot_keys(mod_slots))?;
        let removed = prev.rows(&slot_keys(rem_slots))?;
        self.log.set(add_slots, added.clone())?;
        self.log.set(mod_slots, modified.clone())?;
        self.log.remove(rem_slots)?;
        self.version = self.log.version();
        Ok(crate::update::Update {
            cycle,
            added,
            added_keys: slot_keys(add_slots).into(),
            removed,
            removed_keys: slot_keys(rem_slots).into(),
            modified,
            modified_prev,
            modified_keys: slot_keys(mod_slots).into(),
        })
    }
}

/// Row keys of slots.
fn slot_keys(slots: &[u32]) -> Vec<RowKey> {
    slots.iter().map(|&s| RowKey::from(s)).collect()
}

/// Published view of a [`RowLog`]; row keys are slot numbers.
#[derive(Clone)]
pub(crate) struct RowLogVersion {
    schema: SchemaRef,
    chunks: imbl::Vector<Option<RecordBatch>>,
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
        // Only hand the chunks actually referenced to interleave. Chunk ids
        // are dense (freed ids are reused), so a vector maps them.
        let mut remap = vec![usize::MAX; self.chunks.len()];
        let mut used: Vec<&RecordBatch> = Vec::new();
        let mut local = Vec::with_capacity(picks.len());
        for p in picks {
            local.push(match *p {
                None => None,
                Some((c, r)) => {
                    let l = match remap.get(c) {
                        Some(&l) if l != usize::MAX => l,
                        _ => {
                            let batch =
                                self.chunks.get(c).and_then(Option::as_ref).ok_or_else(|| {
                                    ArrowError::ComputeError(format!("row log chunk {c} missing"))
                                })?;
                            used.push(batch);
                            remap[c] = used.len() - 1;
                            used.len() - 1
                        }
                    };
                    Some((l, r))
                }
            });
        }
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

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::sync::Arc;

    use arrow_array::cast::AsArray;
    use arrow_array::types::Int64Type;
    use arrow_array::{ArrayRef, Int64Array};
    use arrow_schema::{DataType, Field, Schema};

    use super::*;

    fn schema() -> SchemaRef {
        Arc::new(Schema::new(vec![Field::new("V", DataType::Int64, false)]))
    }

    fn batch(values: &[i64]) -> RecordBatch {
        RecordBatch::try_new(
            schema(),
            vec![Arc::new(Int64Array::from(values.to_vec())) as ArrayRef],
        )
        .unwrap()
    }

    /// Checks contents against `model` and the space and shape invariants.
    fn check(log: &RowLog, model: &BTreeMap<u32, i64>) {
        let v = log.version();
        let keys: Vec<RowKey> = model.keys().map(|&k| k as RowKey).collect();
        assert_eq!(v.keys(), keys);
        assert_eq!(v.num_rows(), model.len());
        let got = v.materialize().unwrap();
        let got: Vec<i64> = got.column(0).as_primitive::<Int64Type>().values().to_vec();
        assert_eq!(got, model.values().copied().collect::<Vec<_>>());
        for m in log.meta.iter().flatten() {
            assert!(
                m.live * LIVE_DEN >= m.slots.len() * LIVE_NUM,
                "chunk too sparse"
            );
        }
        assert!(log.stored() * LIVE_NUM <= log.live * LIVE_DEN);
        assert!(log.tiers.iter().all(|t| t.len() <= 1), "unmerged tier");
    }

    /// Deterministic pseudo-random numbers (xorshift).
    struct Rng(u64);
    impl Rng {
        fn next(&mut self, n: u64) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0 % n
        }
    }

    #[test]
    fn random_sets_and_removes_match_a_map() {
        for seed in 1..8u64 {
            let mut rng = Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15));
            let mut log = RowLog::new(schema());
            let mut model = BTreeMap::new();
            let key_space = 1 + rng.next(3000);
            for step in 0..150 {
                let n = rng.next(if step % 50 == 0 { 70_000 } else { 200 }) as usize;
                if rng.next(4) == 0 {
                    let slots: Vec<u32> = (0..n).map(|_| rng.next(key_space) as u32).collect();
                    log.remove(&slots).unwrap();
                    for s in slots {
                        model.remove(&s);
                    }
                } else {
                    let slots: Vec<u32> = (0..n).map(|_| rng.next(key_space) as u32).collect();
                    let values: Vec<i64> = (0..n).map(|_| rng.next(1_000_000) as i64).collect();
                    log.set(&slots, batch(&values)).unwrap();
                    for (s, v) in slots.into_iter().zip(values) {
                        model.insert(s, v);
                    }
                }
                check(&log, &model);
            }
        }
    }

    #[test]
    fn a_growing_table_never_rewrites_much_in_one_step() {
        // Unique keys, as last_by on an id: every step adds a chunk.
        let mut log = RowLog::new(schema());
        let step = 100;
        let mut worst = 0;
        for i in 0..20_000u32 {
            let slots: Vec<u32> = (i * step..(i + 1) * step).collect();
            let before = log.copied;
            log.set(&slots, batch(&vec![i as i64; step as usize]))
                .unwrap();
            worst = worst.max(log.copied - before);
        }
        let rows = 20_000 * step as u64;
        // Bounded by the merge limit, not by the 2M rows held.
        assert!(worst <= 4 * MERGE_LIMIT as u64, "one step copied {worst}");
        // Each row is copied at most once per tier.
        assert!(
            log.copied <= rows * (MERGE_LIMIT.ilog2() as u64),
            "{}",
            log.copied
        );
        assert_eq!(log.stored(), rows as usize);
        assert!(log.chunk_count() <= rows as usize / (MERGE_LIMIT / 2) + 16);
    }

    #[test]
    fn overwrites_keep_space_bounded_and_copies_proportional() {
        // 100k keys, each step overwrites 1,000 random ones.
        let mut rng = Rng(7);
        let mut log = RowLog::new(schema());
        let keys = 100_000u32;
        let all: Vec<u32> = (0..keys).collect();
        log.set(&all, batch(&vec![0; keys as usize])).unwrap();
        let (mut changed, before) = (0u64, log.copied);
        let mut worst = 0;
        for _ in 0..1000 {
            let slots: Vec<u32> = (0..1000).map(|_| rng.next(keys as u64) as u32).collect();
            let b = log.copied;
            log.set(&slots, batch(&vec![1; 1000])).unwrap();
            worst = worst.max(log.copied - b);
            changed += 1000;
            assert!(log.stored() * LIVE_NUM <= log.live * LIVE_DEN);
        }
        assert!(worst <= 2 * MAX_CHUNK as u64, "one step copied {worst}");
        let per_change = (log.copied - before) as f64 / changed as f64;
        assert!(per_change < 25.0, "{per_change} rows copied per change");
    }

    #[test]
    fn versions_are_unaffected_by_later_changes() {
        let mut log = RowLog::new(schema());
        log.set(&[0, 1, 2], batch(&[10, 11, 12])).unwrap();
        let v1 = log.version();
        for i in 0..100 {
            log.set(&[1], batch(&[i])).unwrap();
        }
        log.remove(&[0]).unwrap();
        let got = v1.materialize().unwrap();
        assert_eq!(
            got.column(0).as_primitive::<Int64Type>().values().to_vec(),
            vec![10, 11, 12]
        );
        assert!(log.chunk_count() <= 2);
    }
}
