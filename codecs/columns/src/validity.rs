//! Validity bits, kept as a bare count until the first null arrives.

use arrow_buffer::{BooleanBufferBuilder, NullBuffer};

/// One validity bit per row, materialised only once a row is null: most
/// columns never see a null, and a bit per value is a measurable cost.
#[derive(Debug, Default)]
pub struct Validity {
    len: usize,
    bits: Option<BooleanBufferBuilder>,
}

impl Validity {
    /// No rows.
    pub fn new() -> Self {
        Self::default()
    }

    /// Number of rows.
    #[inline(always)]
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether there are no rows.
    #[inline(always)]
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Appends one row, valid or null.
    #[inline(always)]
    pub fn append(&mut self, valid: bool) {
        if valid {
            self.append_valid();
        } else {
            self.append_null();
        }
    }

    /// Appends a valid row.
    #[inline(always)]
    pub fn append_valid(&mut self) {
        self.len += 1;
        if let Some(bits) = &mut self.bits {
            bits.append(true);
        }
    }

    /// Appends a null row.
    #[inline(always)]
    pub fn append_null(&mut self) {
        self.len += 1;
        match &mut self.bits {
            Some(bits) => bits.append(false),
            None => self.materialise(),
        }
    }

    /// The first null: every earlier row is valid, the last one is not.
    #[cold]
    fn materialise(&mut self) {
        let mut bits = BooleanBufferBuilder::new(self.len.max(64));
        bits.append_n(self.len - 1, true);
        bits.append(false);
        self.bits = Some(bits);
    }

    /// Whether row `i` is valid (rows past the end are not).
    pub fn is_valid(&self, i: usize) -> bool {
        i < self.len && self.bits.as_ref().is_none_or(|b| b.get_bit(i))
    }

    /// Cuts back to `len` rows (no-op when there are fewer).
    #[inline]
    pub fn truncate(&mut self, len: usize) {
        if len < self.len {
            self.len = len;
            if let Some(bits) = &mut self.bits {
                bits.truncate(len);
            }
        }
    }

    /// The rows so far, leaving this one empty.
    pub fn take(&mut self) -> Self {
        std::mem::take(self)
    }

    /// The rows as a null buffer; `None` when every row is valid.
    pub fn finish(self) -> Option<NullBuffer> {
        self.bits
            .map(|mut b| NullBuffer::new(b.finish()))
            .filter(|n| n.null_count() > 0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn all_valid_has_no_buffer() {
        let mut v = Validity::new();
        (0..100).for_each(|_| v.append_valid());
        assert_eq!(v.len(), 100);
        assert!(v.finish().is_none());
    }

    #[test]
    fn first_null_materialises_the_earlier_rows() {
        let mut v = Validity::new();
        v.append(true);
        v.append(true);
        v.append(false);
        v.append(true);
        assert!(v.is_valid(0) && v.is_valid(1) && !v.is_valid(2) && v.is_valid(3));
        assert!(!v.is_valid(4));
        let nulls = v.finish().unwrap();
        assert_eq!(nulls.len(), 4);
        assert_eq!(nulls.null_count(), 1);
        assert!(nulls.is_null(2));
    }

    #[test]
    fn truncating_the_only_null_away_finishes_as_all_valid() {
        let mut v = Validity::new();
        v.append_valid();
        v.append_null();
        v.truncate(1);
        v.truncate(5);
        assert_eq!(v.len(), 1);
        assert!(v.finish().is_none());
    }
}
