//! Booleans, a bit per value, and their validity.

use arrow_array::BooleanArray;
use arrow_buffer::BooleanBufferBuilder;

use crate::Validity;

/// Values of a boolean column (one bit each) plus their validity.
#[derive(Debug)]
pub struct BooleanBuf {
    values: BooleanBufferBuilder,
    valid: Validity,
}

impl Default for BooleanBuf {
    fn default() -> Self {
        Self::new()
    }
}

impl BooleanBuf {
    /// An empty buffer.
    pub fn new() -> Self {
        Self::with_capacity(0)
    }

    /// An empty buffer with room for `rows` values.
    pub fn with_capacity(rows: usize) -> Self {
        Self {
            values: BooleanBufferBuilder::new(rows),
            valid: Validity::new(),
        }
    }

    /// Number of rows.
    #[inline(always)]
    pub fn len(&self) -> usize {
        self.values.len()
    }

    /// Whether there are no rows.
    #[inline(always)]
    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    /// Appends a valid value.
    #[inline(always)]
    pub fn push(&mut self, value: bool) {
        self.values.append(value);
        self.valid.append_valid();
    }

    /// Appends a null (its value bit is `false`).
    #[inline(always)]
    pub fn push_null(&mut self) {
        self.values.append(false);
        self.valid.append_null();
    }

    /// Replaces the last row's value in place (its validity stays); no-op
    /// when there are no rows.
    #[inline(always)]
    pub fn set_last(&mut self, value: bool) {
        if let Some(last) = self.values.len().checked_sub(1) {
            self.values.set_bit(last, value);
        }
    }

    /// Row `i`'s value bit (`false` for a null).
    pub fn value(&self, i: usize) -> bool {
        self.values.get_bit(i)
    }

    /// Whether row `i` is valid.
    pub fn is_valid(&self, i: usize) -> bool {
        self.valid.is_valid(i)
    }

    /// Drops every row from `len` on (no-op when there are fewer).
    #[inline]
    pub fn truncate(&mut self, len: usize) {
        if len < self.values.len() {
            self.values.truncate(len);
        }
        self.valid.truncate(len);
    }

    /// The rows so far, leaving this buffer empty with the same capacity.
    pub fn take(&mut self) -> Self {
        let capacity = self.values.capacity();
        std::mem::replace(self, Self::with_capacity(capacity))
    }

    /// The rows as an Arrow array.
    pub fn finish(mut self) -> BooleanArray {
        // Every push appends one value and one validity bit, so the lengths match.
        BooleanArray::new(self.values.finish(), self.valid.finish())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_array::Array;

    #[test]
    fn push_null_set_last_truncate_finish() {
        let mut b = BooleanBuf::with_capacity(2);
        b.push(true);
        b.push(false);
        b.push_null();
        b.truncate(2);
        b.set_last(true);
        let a = b.finish();
        assert_eq!(a, BooleanArray::from(vec![true, true]));
        assert_eq!(a.null_count(), 0);
    }

    #[test]
    fn take_then_reuse() {
        let mut b = BooleanBuf::new();
        b.push(true);
        b.push_null();
        let first = b.take().finish();
        assert_eq!(first, BooleanArray::from(vec![Some(true), None]));
        assert!(b.is_empty());
        b.push(false);
        assert_eq!(b.finish(), BooleanArray::from(vec![false]));
    }
}
