//! The operator that feeds a source table from its writers.

use std::sync::Arc;

use arrow_array::RecordBatch;
use arrow_array::{Array, BooleanArray};
use arrow_select::filter::{filter_record_batch, prep_null_mask_filter};

use super::SourceStore;
use crate::error::{EngineError, Result};
use crate::ops::{Input, Operator};
use crate::update::{RowKey, RowKeys, Update};
use crate::version::{VersionRef, concat};
use crate::writer::{Drained, RowFilter, WriterShared};

/// Drains the writer buffer into the table's storage once per cycle.
pub(crate) struct SourceOp {
    pub writer: Arc<WriterShared>,
    pub store: Box<dyn SourceStore>,
}

impl Operator for SourceOp {
    fn process(&mut self, cycle: u64, _inputs: &[Input<'_>]) -> Result<Option<Update>> {
        let Drained {
            mut batches,
            removals,
        } = self.writer.drain();
        if removals.is_empty() {
            batches.retain(|b| b.num_rows() > 0);
            return self.store.ingest(batches, cycle);
        }
        let table = self.writer.table().to_string();
        let err = |e| EngineError::arrow(&table, e);
        // Rows pushed before a removal that it picks never appear.
        for (i, batch) in batches.iter_mut().enumerate() {
            for (_, filter) in removals.iter().filter(|(at, _)| i < *at) {
                *batch = keep_where_not(batch, filter).map_err(err)?;
            }
        }
        batches.retain(|b| b.num_rows() > 0);
        // Rows the table holds are subject to every removal.
        let (gone_keys, gone) = self
            .store
            .rows_mut()
            .remove_where(&|b: &RecordBatch| any_of(&removals, b))
            .map_err(err)?;
        let update = self.store.ingest(batches, cycle)?;
        if gone_keys.is_empty() {
            return Ok(update);
        }
        let schema = self.writer.schema();
        let mut update = update.unwrap_or_else(|| Update::empty(&schema, cycle));
        // The store's own removals (a ring's eviction, a blink's last cycle)
        // are rows the filters kept; both lists are in key order.
        let own_keys = std::mem::take(&mut update.removed_keys);
        let own = std::mem::replace(&mut update.removed, RecordBatch::new_empty(schema.clone()));
        let (keys, removed) =
            merge_by_key(&schema, (gone_keys, gone), (own_keys, own)).map_err(err)?;
        update.removed_keys = keys;
        update.removed = removed;
        Ok(Some(update))
    }

    fn version(&self) -> VersionRef {
        self.store.version()
    }
}

/// `batch` without the rows `filter` picks.
fn keep_where_not(
    batch: &RecordBatch,
    filter: &RowFilter,
) -> std::result::Result<RecordBatch, arrow_schema::ArrowError> {
    // A null keeps the row.
    let gone = without_nulls(filter(batch)?);
    if gone.true_count() == 0 {
        return Ok(batch.clone());
    }
    filter_record_batch(batch, &arrow_arith::boolean::not(&gone)?)
}

/// `mask` with its nulls as `false`.
fn without_nulls(mask: BooleanArray) -> BooleanArray {
    match mask.nulls() {
        Some(_) => prep_null_mask_filter(&mask),
        None => mask,
    }
}

/// The rows any of `removals` picks.
fn any_of(
    removals: &[(usize, RowFilter)],
    batch: &RecordBatch,
) -> std::result::Result<BooleanArray, arrow_schema::ArrowError> {
    let mut picked = BooleanArray::from(vec![false; batch.num_rows()]);
    for (_, filter) in removals {
        // A null keeps the row.
        let gone = without_nulls(filter(batch)?);
        picked = arrow_arith::boolean::or(&picked, &gone)?;
    }
    Ok(picked)
}

/// Two key-ordered lists of removed rows as one, in key order.
fn merge_by_key(
    schema: &arrow_schema::SchemaRef,
    (a_keys, a): (RowKeys, RecordBatch),
    (b_keys, b): (RowKeys, RecordBatch),
) -> std::result::Result<(RowKeys, RecordBatch), arrow_schema::ArrowError> {
    if b_keys.is_empty() {
        return Ok((a_keys, a));
    }
    let joined = concat(schema, &[a, b])?;
    let mut keys: Vec<(RowKey, u32)> = a_keys
        .iter_keys()
        .chain(b_keys.iter_keys())
        .enumerate()
        .map(|(i, k)| (k, i as u32))
        .collect();
    keys.sort_unstable();
    let order = arrow_array::UInt32Array::from_iter_values(keys.iter().map(|&(_, i)| i));
    let columns = joined
        .columns()
        .iter()
        .map(|c| arrow_select::take::take(c, &order, None))
        .collect::<std::result::Result<Vec<_>, _>>()?;
    Ok((
        keys.into_iter().map(|(k, _)| k).collect(),
        RecordBatch::try_new(schema.clone(), columns)?,
    ))
}
