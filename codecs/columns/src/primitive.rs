//! Fixed-width values (integers, floats, decimals, times) and their validity.

use arrow_array::{ArrowPrimitiveType, PrimitiveArray};
use arrow_buffer::{ArrowNativeType, ScalarBuffer};

use crate::Validity;

/// Values of a fixed-width column plus their validity; finishes into a
/// [`PrimitiveArray`] without a copy.
#[derive(Debug, Default)]
pub struct PrimitiveBuf<T> {
    values: Vec<T>,
    valid: Validity,
}

impl<T: ArrowNativeType> PrimitiveBuf<T> {
    /// An empty buffer.
    pub fn new() -> Self {
        Self::with_capacity(0)
    }

    /// An empty buffer with room for `rows` values.
    pub fn with_capacity(rows: usize) -> Self {
        Self {
            values: Vec::with_capacity(rows),
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
    pub fn push(&mut self, value: T) {
        self.values.push(value);
        self.valid.append_valid();
    }

    /// Appends a null (its value slot holds the default, zero).
    #[inline(always)]
    pub fn push_null(&mut self) {
        self.values.push(T::default());
        self.valid.append_null();
    }

    /// The last row's value, to replace it in place (its validity stays).
    #[inline(always)]
    pub fn last_mut(&mut self) -> Option<&mut T> {
        self.values.last_mut()
    }

    /// The values so far, null slots included.
    pub fn values(&self) -> &[T] {
        &self.values
    }

    /// Whether row `i` is valid.
    pub fn is_valid(&self, i: usize) -> bool {
        self.valid.is_valid(i)
    }

    /// Drops every row from `len` on (no-op when there are fewer).
    #[inline]
    pub fn truncate(&mut self, len: usize) {
        self.values.truncate(len);
        self.valid.truncate(len);
    }

    /// The rows so far, leaving this buffer empty with the same capacity:
    /// the next batch is likely as large, and growing from empty costs.
    pub fn take(&mut self) -> Self {
        let capacity = self.values.capacity();
        let values = std::mem::replace(&mut self.values, Vec::with_capacity(capacity));
        Self {
            values,
            valid: self.valid.take(),
        }
    }

    /// The rows as an Arrow array of `P` (whose native type is `T`).
    pub fn finish<P: ArrowPrimitiveType<Native = T>>(self) -> PrimitiveArray<P> {
        // Every push appends one value and one validity bit, so the lengths match.
        PrimitiveArray::new(ScalarBuffer::from(self.values), self.valid.finish())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_array::Array;
    use arrow_array::types::Int64Type;

    #[test]
    fn push_null_truncate_finish() {
        let mut b = PrimitiveBuf::<i64>::with_capacity(4);
        b.push(1);
        b.push_null();
        b.push(3);
        b.truncate(2);
        *b.last_mut().unwrap() = 9;
        assert_eq!(b.values(), &[1, 9]);
        let a = b.finish::<Int64Type>();
        assert_eq!(a.len(), 2);
        assert_eq!(a.value(0), 1);
        assert!(a.is_null(1), "replacing a value keeps its validity");
    }

    #[test]
    fn take_leaves_an_empty_buffer_with_capacity() {
        let mut b = PrimitiveBuf::<i64>::new();
        (0..100).for_each(|i| b.push(i));
        let taken = b.take();
        assert!(b.is_empty());
        assert!(b.values.capacity() >= 100);
        assert_eq!(taken.finish::<Int64Type>().len(), 100);
        b.push_null();
        assert_eq!(b.finish::<Int64Type>().null_count(), 1);
    }
}
