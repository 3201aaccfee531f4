//! Encoding an update's rows in slices, ahead of the producer.
//!
//! A large update is cut into slices of [`SLICE_ROWS`] rows. A helper thread
//! runs the key and value encoders over the next slices while the calling
//! thread produces the current one, so encoding costs the producing thread
//! nothing and librdkafka always has records to send. Slices come back in
//! table order, so records keep the table's order within every partition.
//! An update of one slice is encoded on the calling thread.

use std::sync::mpsc::sync_channel;

use arrow_array::{BinaryArray, RecordBatch};
use topictable_sdk::{Encoder, Side};

use super::publish_error::PublishError;

/// Rows per slice: small enough that producing starts soon and a slice's
/// payloads stay in cache, large enough that the per-call cost of the plugin
/// ABI does not show.
pub(super) const SLICE_ROWS: usize = 16_384;

/// How many encoded slices may wait for the producer.
const SLICES_AHEAD: usize = 2;

/// One slice of rows with its encoded keys and values.
pub(super) struct EncodedSlice {
    /// The rows (a zero-copy slice of the update's batch).
    pub rows: RecordBatch,
    /// The number of `rows`' first row in the update's batch.
    pub first_row: usize,
    /// One key per row (null: no key), or `None` when keys are not written.
    pub keys: Option<BinaryArray>,
    /// One value per row (null: no value), or `None` for tombstones or when
    /// values are not written.
    pub values: Option<BinaryArray>,
}

/// The publisher's key and value encoders.
pub(super) struct RowEncoders {
    key: Option<Box<dyn Encoder>>,
    value: Option<Box<dyn Encoder>>,
}

impl RowEncoders {
    /// Encoders for the key and the value (`None`: that side is not written).
    pub fn new(key: Option<Box<dyn Encoder>>, value: Option<Box<dyn Encoder>>) -> Self {
        Self { key, value }
    }

    /// Whether records have keys.
    pub fn has_key(&self) -> bool {
        self.key.is_some()
    }

    /// Encodes `rows` with one side's encoder (`None` when that side is not
    /// written). A row that fails fails the call; `first_row` is the number of
    /// `rows`' first row in the update, for the error.
    pub fn encode_side(
        &mut self,
        side: Side,
        rows: &RecordBatch,
        first_row: usize,
    ) -> Result<Option<BinaryArray>, PublishError> {
        let encoder = match side {
            Side::Key => &mut self.key,
            Side::Value => &mut self.value,
        };
        let Some(encoder) = encoder else {
            return Ok(None);
        };
        let out = encoder
            .encode(rows)
            .map_err(|source| PublishError::Encoder { side, source })?;
        if let Some(first) = out.errors.first() {
            return Err(PublishError::RowsFailed {
                side,
                row: first_row + first.row,
                message: first.message.clone(),
                failed: out.errors.len(),
            });
        }
        Ok(Some(out.bytes))
    }

    /// Encodes one slice: its keys, and its values unless `tombstones`.
    fn encode_slice(
        &mut self,
        rows: RecordBatch,
        first_row: usize,
        tombstones: bool,
    ) -> Result<EncodedSlice, PublishError> {
        let keys = self.encode_side(Side::Key, &rows, first_row)?;
        let values = if tombstones {
            None
        } else {
            self.encode_side(Side::Value, &rows, first_row)?
        };
        Ok(EncodedSlice {
            rows,
            first_row,
            keys,
            values,
        })
    }

    /// Encodes `rows` slice by slice (keys, and values unless `tombstones`)
    /// and hands each encoded slice to `produce`, in order, on the calling
    /// thread. The first error, from an encoder or from `produce`, ends the
    /// call; slices before it have been produced, none after it.
    pub fn for_each_encoded_slice(
        &mut self,
        rows: &RecordBatch,
        tombstones: bool,
        mut produce: impl FnMut(&EncodedSlice) -> Result<(), PublishError>,
    ) -> Result<(), PublishError> {
        let total = rows.num_rows();
        if total <= SLICE_ROWS {
            if total > 0 {
                produce(&self.encode_slice(rows.clone(), 0, tombstones)?)?;
            }
            return Ok(());
        }
        std::thread::scope(|scope| {
            let (encoded_tx, encoded_rx) = sync_channel(SLICES_AHEAD);
            std::thread::Builder::new()
                .name("sink-encode".into())
                .spawn_scoped(scope, move || {
                    for start in (0..total).step_by(SLICE_ROWS) {
                        let slice = rows.slice(start, SLICE_ROWS.min(total - start));
                        let encoded = self.encode_slice(slice, start, tombstones);
                        let failed = encoded.is_err();
                        // A closed channel: the producer stopped on an error.
                        if encoded_tx.send(encoded).is_err() || failed {
                            return;
                        }
                    }
                })
                .map_err(PublishError::EncodingThread)?;
            // Returning early drops the receiver, which ends the helper at its
            // next send; the scope then joins it.
            for encoded in encoded_rx {
                produce(&encoded?)?;
            }
            Ok(())
        })
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use arrow_array::{Array, Int64Array, StringArray};
    use arrow_schema::{DataType, Field, Schema};
    use topictable_sdk::{Encoded, PluginError, RowError};

    use super::*;

    /// Encodes each row's `n` as its decimal text; fails rows whose `n` is
    /// negative, and the whole call when asked to.
    struct DecimalEncoder {
        fail_call_at: Option<usize>,
        calls: Arc<AtomicUsize>,
    }

    impl Encoder for DecimalEncoder {
        fn encode(&mut self, batch: &RecordBatch) -> Result<Encoded, PluginError> {
            let call = self.calls.fetch_add(1, Ordering::SeqCst) + 1;
            if self.fail_call_at == Some(call) {
                return Err(PluginError::failed("broken"));
            }
            let n = batch
                .column(0)
                .as_any()
                .downcast_ref::<Int64Array>()
                .unwrap();
            let mut errors = Vec::new();
            let bytes: BinaryArray = n
                .iter()
                .enumerate()
                .map(|(row, v)| match v {
                    Some(v) if v >= 0 => Some(v.to_string().into_bytes()),
                    _ => {
                        errors.push(RowError::new(row, "negative"));
                        None
                    }
                })
                .collect();
            Ok(Encoded { bytes, errors })
        }
    }

    fn decimal(fail_call_at: Option<usize>) -> Option<Box<dyn Encoder>> {
        counted_decimal(fail_call_at, Arc::default())
    }

    fn counted_decimal(
        fail_call_at: Option<usize>,
        calls: Arc<AtomicUsize>,
    ) -> Option<Box<dyn Encoder>> {
        Some(Box::new(DecimalEncoder {
            fail_call_at,
            calls,
        }))
    }

    fn rows(n: impl IntoIterator<Item = i64>) -> RecordBatch {
        let n: Vec<i64> = n.into_iter().collect();
        let tags: Vec<String> = n.iter().map(|i| format!("t{i}")).collect();
        RecordBatch::try_new(
            Arc::new(Schema::new(vec![
                Field::new("n", DataType::Int64, false),
                Field::new("tag", DataType::Utf8, false),
            ])),
            vec![
                Arc::new(Int64Array::from(n)),
                Arc::new(StringArray::from(tags)),
            ],
        )
        .unwrap()
    }

    fn text(bytes: &BinaryArray, row: usize) -> &str {
        std::str::from_utf8(bytes.value(row)).unwrap()
    }

    #[test]
    fn slices_come_back_in_table_order_with_their_own_rows() {
        let total = 3 * SLICE_ROWS + 17;
        let batch = rows(0..total as i64);
        let mut encoders = RowEncoders::new(decimal(None), decimal(None));
        let mut next = 0i64;
        let mut slices = 0;
        encoders
            .for_each_encoded_slice(&batch, false, |slice| {
                let (keys, values) = (slice.keys.as_ref().unwrap(), slice.values.as_ref().unwrap());
                assert_eq!(keys.len(), slice.rows.num_rows());
                assert_eq!(values.len(), slice.rows.num_rows());
                for row in 0..slice.rows.num_rows() {
                    assert_eq!(text(keys, row), next.to_string());
                    assert_eq!(text(values, row), next.to_string());
                    next += 1;
                }
                slices += 1;
                Ok(())
            })
            .unwrap();
        assert_eq!(next, total as i64);
        assert_eq!(slices, 4);
    }

    #[test]
    fn tombstones_have_keys_and_no_values() {
        let mut encoders = RowEncoders::new(decimal(None), decimal(None));
        for total in [5, 2 * SLICE_ROWS + 1] {
            let mut seen = 0;
            encoders
                .for_each_encoded_slice(&rows(0..total as i64), true, |slice| {
                    assert!(slice.values.is_none());
                    seen += slice.keys.as_ref().unwrap().len();
                    Ok(())
                })
                .unwrap();
            assert_eq!(seen, total);
        }
    }

    #[test]
    fn a_side_without_encoder_is_none() {
        let mut encoders = RowEncoders::new(None, decimal(None));
        assert!(!encoders.has_key());
        encoders
            .for_each_encoded_slice(&rows(0..3), false, |slice| {
                assert!(slice.keys.is_none());
                assert_eq!(slice.values.as_ref().unwrap().len(), 3);
                Ok(())
            })
            .unwrap();
    }

    #[test]
    fn a_failed_row_stops_before_its_slice_and_names_its_row_in_the_update() {
        let mut n: Vec<i64> = (0..3 * SLICE_ROWS as i64).collect();
        n[SLICE_ROWS + 5] = -1;
        let mut encoders = RowEncoders::new(decimal(None), decimal(None));
        let mut produced = 0;
        let err = encoders
            .for_each_encoded_slice(&rows(n), false, |slice| {
                produced += slice.rows.num_rows();
                Ok(())
            })
            .unwrap_err();
        assert_eq!(produced, SLICE_ROWS);
        assert!(
            matches!(err, PublishError::RowsFailed { side: Side::Key, row, failed: 1, .. } if row == SLICE_ROWS + 5),
            "{err}"
        );
    }

    #[test]
    fn an_encoder_failure_ends_the_call() {
        let mut encoders = RowEncoders::new(decimal(None), decimal(Some(2)));
        let mut produced = 0;
        let err = encoders
            .for_each_encoded_slice(&rows(0..3 * SLICE_ROWS as i64), false, |slice| {
                produced += slice.rows.num_rows();
                Ok(())
            })
            .unwrap_err();
        assert_eq!(produced, SLICE_ROWS);
        assert_eq!(err.to_string(), "value encoder: broken");
    }

    #[test]
    fn a_producer_error_stops_the_encoding_thread() {
        let encoded = Arc::new(AtomicUsize::new(0));
        let mut encoders = RowEncoders::new(counted_decimal(None, encoded.clone()), None);
        let mut calls = 0;
        let err = encoders
            .for_each_encoded_slice(&rows(0..10 * SLICE_ROWS as i64), false, |_| {
                calls += 1;
                Err(PublishError::KeyChanged { row: 0, cycle: 1 })
            })
            .unwrap_err();
        assert_eq!(calls, 1);
        assert!(matches!(err, PublishError::KeyChanged { .. }));
        // The helper stopped after the slice it was encoding and those it
        // could queue; the call has joined it.
        let after = encoded.load(Ordering::SeqCst);
        assert!(after <= 2 + SLICES_AHEAD, "{after} slices encoded");
        assert_eq!(encoded.load(Ordering::SeqCst), after);
    }
}
