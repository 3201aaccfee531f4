//! Variable-length values (bytes, UTF-8 text) in Arrow's offsets + data
//! layout, and their validity.

use arrow_array::{BinaryArray, StringArray};
use arrow_buffer::{Buffer, NullBuffer, OffsetBuffer, ScalarBuffer};

use crate::{ColumnError, OffsetOverflow, Validity};

/// The most bytes one column holds in one batch: Arrow's `i32` offsets.
pub const MAX_BYTES: usize = i32::MAX as usize;

/// Values of a bytes or UTF-8 column: offsets into one data buffer, plus
/// their validity. Finishes into a [`BinaryArray`] or, checked, a
/// [`StringArray`].
///
/// What is checked, and what is trusted:
/// - a value that would take the data past [`MAX_BYTES`] is refused when
///   pushed ([`OffsetOverflow`]); its row holds an empty value, and the
///   buffer cannot be finished until that row is cut off with
///   [`BytesBuf::truncate`];
/// - the offsets are checked when finished (they start at 0, never decrease
///   and end within the data), though only this type writes them;
/// - [`BytesBuf::finish_utf8`] checks the whole data buffer once for UTF-8
///   and every offset for a character boundary, so values pushed as raw
///   bytes are never trusted to be text.
#[derive(Debug)]
pub struct BytesBuf {
    /// One more than the rows, starting at 0.
    offsets: Vec<i32>,
    data: Vec<u8>,
    valid: Validity,
    /// The first row whose value was refused for passing [`MAX_BYTES`].
    refused: Option<usize>,
}

impl Default for BytesBuf {
    fn default() -> Self {
        Self::new()
    }
}

impl BytesBuf {
    /// An empty buffer.
    pub fn new() -> Self {
        Self::with_capacity(0, 0)
    }

    /// An empty buffer with room for `rows` values of `bytes` in all.
    pub fn with_capacity(rows: usize, bytes: usize) -> Self {
        let mut offsets = Vec::with_capacity(rows + 1);
        offsets.push(0);
        Self {
            offsets,
            data: Vec::with_capacity(bytes),
            valid: Validity::new(),
            refused: None,
        }
    }

    /// Number of rows.
    #[inline(always)]
    pub fn len(&self) -> usize {
        self.offsets.len() - 1
    }

    /// Whether there are no rows.
    #[inline(always)]
    pub fn is_empty(&self) -> bool {
        self.offsets.len() == 1
    }

    /// Bytes of data held.
    #[inline(always)]
    pub fn data_len(&self) -> usize {
        self.data.len()
    }

    /// Appends a valid value; a value that would take the data past
    /// [`MAX_BYTES`] is refused (its row holds an empty value; see the
    /// type's docs).
    #[inline(always)]
    pub fn push(&mut self, value: &[u8]) -> Result<(), OffsetOverflow> {
        let end = self.data.len() + value.len();
        if end > MAX_BYTES {
            return self.refuse();
        }
        self.data.extend_from_slice(value);
        // At most MAX_BYTES (above), so the cast is exact.
        self.offsets.push(end as i32);
        self.valid.append_valid();
        Ok(())
    }

    /// Appends a valid text value (see [`BytesBuf::push`]).
    #[inline(always)]
    pub fn push_str(&mut self, value: &str) -> Result<(), OffsetOverflow> {
        self.push(value.as_bytes())
    }

    #[cold]
    fn refuse(&mut self) -> Result<(), OffsetOverflow> {
        self.refused.get_or_insert(self.len());
        self.offsets.push(self.data.len() as i32);
        self.valid.append_valid();
        Err(OffsetOverflow)
    }

    /// Appends a null (an empty value).
    #[inline(always)]
    pub fn push_null(&mut self) {
        // The data never passes MAX_BYTES, so the cast is exact.
        self.offsets.push(self.data.len() as i32);
        self.valid.append_null();
    }

    /// Replaces the last row's value (its validity stays); no-op when there
    /// are no rows. A value past [`MAX_BYTES`] is refused as in
    /// [`BytesBuf::push`].
    #[inline]
    pub fn replace_last(&mut self, value: &[u8]) -> Result<(), OffsetOverflow> {
        let rows = self.len();
        if rows == 0 {
            return Ok(());
        }
        let start = self.offsets[rows - 1] as usize;
        self.data.truncate(start);
        self.offsets.pop();
        let end = start + value.len();
        if end > MAX_BYTES {
            self.refused.get_or_insert(rows - 1);
            self.offsets.push(start as i32);
            return Err(OffsetOverflow);
        }
        self.data.extend_from_slice(value);
        self.offsets.push(end as i32);
        // The last row's refused value is gone: the row holds this one now.
        if self.refused == Some(rows - 1) {
            self.refused = None;
        }
        Ok(())
    }

    /// Row `i`'s bytes (empty for a null).
    pub fn value(&self, i: usize) -> &[u8] {
        &self.data[self.offsets[i] as usize..self.offsets[i + 1] as usize]
    }

    /// Whether row `i` is valid.
    pub fn is_valid(&self, i: usize) -> bool {
        self.valid.is_valid(i)
    }

    /// Drops every row from `len` on (no-op when there are fewer).
    #[inline]
    pub fn truncate(&mut self, len: usize) {
        if len < self.len() {
            self.offsets.truncate(len + 1);
            self.data.truncate(self.offsets[len] as usize);
            self.valid.truncate(len);
            if self.refused.is_some_and(|row| row >= len) {
                self.refused = None;
            }
        }
    }

    /// The rows so far, leaving this buffer empty with the same capacity:
    /// the next batch is likely as large, and growing from empty costs.
    pub fn take(&mut self) -> Self {
        let next = Self::with_capacity(self.offsets.capacity() - 1, self.data.capacity());
        std::mem::replace(self, next)
    }

    /// The rows as a [`BinaryArray`].
    pub fn finish_binary(self) -> Result<BinaryArray, ColumnError> {
        let (offsets, data, nulls) = self.into_parts()?;
        Ok(BinaryArray::try_new(offsets, data, nulls)?)
    }

    /// The rows as a [`StringArray`]; an error if any value is not UTF-8.
    pub fn finish_utf8(self) -> Result<StringArray, ColumnError> {
        let (offsets, data, nulls) = self.into_parts()?;
        // `try_new` runs one `from_utf8` over the whole data buffer, then
        // checks that every offset is a character boundary.
        Ok(StringArray::try_new(offsets, data, nulls)?)
    }

    fn into_parts(self) -> Result<(OffsetBuffer<i32>, Buffer, Option<NullBuffer>), ColumnError> {
        if let Some(row) = self.refused {
            return Err(ColumnError::Overflow { row });
        }
        check_offsets(&self.offsets, self.data.len())?;
        // Checked above, so `new`'s own assertions hold.
        let offsets = OffsetBuffer::new(ScalarBuffer::from(self.offsets));
        Ok((offsets, Buffer::from_vec(self.data), self.valid.finish()))
    }
}

/// Offsets start at 0, never decrease and end within `data_len` bytes.
fn check_offsets(offsets: &[i32], data_len: usize) -> Result<(), ColumnError> {
    let (Some(&first), Some(&last)) = (offsets.first(), offsets.last()) else {
        return Err(ColumnError::Offsets);
    };
    // Without an early exit the compiler vectorises the pass; a batch's
    // offsets are always in order, so there is nothing to exit early for.
    let ordered = offsets
        .iter()
        .zip(&offsets[1..])
        .fold(true, |ok, (a, b)| ok & (a <= b));
    if first == 0 && ordered && last as usize <= data_len {
        Ok(())
    } else {
        Err(ColumnError::Offsets)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_array::Array;

    fn texts(b: &BytesBuf) -> Vec<Option<&[u8]>> {
        (0..b.len())
            .map(|i| b.is_valid(i).then(|| b.value(i)))
            .collect()
    }

    #[test]
    fn push_null_truncate_finish_utf8() {
        let mut b = BytesBuf::with_capacity(4, 16);
        b.push_str("ab").unwrap();
        b.push_null();
        b.push_str("cde").unwrap();
        b.truncate(2);
        b.push_str("f").unwrap();
        assert_eq!(
            texts(&b),
            vec![Some(&b"ab"[..]), None, Some(&b"f"[..])],
            "the data is cut with its row"
        );
        let a = b.finish_utf8().unwrap();
        assert_eq!(a, StringArray::from(vec![Some("ab"), None, Some("f")]));
    }

    #[test]
    fn replace_last_keeps_validity() {
        let mut b = BytesBuf::new();
        b.push(b"x").unwrap();
        b.push(b"long value").unwrap();
        b.replace_last(b"yz").unwrap();
        b.push_null();
        b.replace_last(b"ignored validity").unwrap();
        let a = b.finish_binary().unwrap();
        assert_eq!(a.value(0), b"x");
        assert_eq!(a.value(1), b"yz");
        assert!(a.is_null(2));
        assert_eq!(a.value_data(), b"xyzignored validity");
        assert!(BytesBuf::new().replace_last(b"a").is_ok());
    }

    #[test]
    fn invalid_utf8_is_an_error_not_a_string() {
        let mut b = BytesBuf::new();
        b.push(b"fine").unwrap();
        b.push(&[0xff, 0xfe]).unwrap();
        let err = b.finish_utf8().unwrap_err();
        assert!(matches!(err, ColumnError::Arrow(_)), "{err}");
        assert!(err.to_string().contains("UTF-8"), "{err}");
    }

    #[test]
    fn a_split_character_is_an_error() {
        let mut b = BytesBuf::new();
        let e_acute = "é".as_bytes();
        b.push(&e_acute[..1]).unwrap();
        b.push(&e_acute[1..]).unwrap();
        // Whole, the data is UTF-8; the offset between the rows is not a boundary.
        assert!(b.finish_utf8().is_err());
    }

    #[test]
    fn bytes_need_not_be_utf8() {
        let mut b = BytesBuf::new();
        b.push(&[0xff]).unwrap();
        assert_eq!(b.finish_binary().unwrap().value(0), &[0xff]);
    }

    #[test]
    fn take_leaves_an_empty_buffer() {
        let mut b = BytesBuf::with_capacity(2, 8);
        b.push_str("abc").unwrap();
        b.push_null();
        let first = b.take().finish_utf8().unwrap();
        assert_eq!(first, StringArray::from(vec![Some("abc"), None]));
        assert!(b.is_empty() && b.data_len() == 0);
        assert!(b.data.capacity() >= 8);
        b.push_str("d").unwrap();
        assert_eq!(b.finish_utf8().unwrap(), StringArray::from(vec!["d"]));
    }

    #[test]
    fn bad_offsets_are_an_error() {
        assert!(check_offsets(&[0, 2, 1], 2).is_err());
        assert!(check_offsets(&[1, 2], 2).is_err());
        assert!(check_offsets(&[0, 3], 2).is_err());
        assert!(check_offsets(&[], 0).is_err());
        assert!(check_offsets(&[0, 0, 2], 2).is_ok());
    }

    /// The refusal's bookkeeping, without 2 GiB of memory: `push` calls
    /// `refuse` for a value that would pass `MAX_BYTES`.
    #[test]
    fn a_refused_value_blocks_finish_until_its_row_is_cut() {
        let refused_then = |cut: usize| {
            let mut b = BytesBuf::new();
            b.push(b"ok").unwrap();
            assert_eq!(b.refuse(), Err(OffsetOverflow));
            assert_eq!(b.len(), 2);
            assert_eq!(b.value(1), b"", "a refused row holds an empty value");
            assert!(b.is_valid(1));
            b.push(b"after").unwrap();
            assert_eq!(b.refuse(), Err(OffsetOverflow));
            b.truncate(cut);
            b.finish_binary()
        };
        assert!(matches!(
            refused_then(4),
            Err(ColumnError::Overflow { row: 1 })
        ));
        assert!(matches!(
            refused_then(2),
            Err(ColumnError::Overflow { row: 1 })
        ));
        assert_eq!(refused_then(1).unwrap().len(), 1);
    }

    /// A refused last value replaced by one that fits no longer blocks
    /// finish; an earlier refused row still does.
    #[test]
    fn replacing_a_refused_last_value_clears_the_refusal() {
        let mut b = BytesBuf::new();
        b.push(b"ok").unwrap();
        assert_eq!(b.refuse(), Err(OffsetOverflow));
        b.replace_last(b"fits").unwrap();
        let a = b.finish_binary().unwrap();
        assert_eq!((a.value(0), a.value(1)), (&b"ok"[..], &b"fits"[..]));

        let mut b = BytesBuf::new();
        assert_eq!(b.refuse(), Err(OffsetOverflow));
        b.push(b"next").unwrap();
        b.replace_last(b"fits").unwrap();
        assert!(matches!(
            b.finish_binary(),
            Err(ColumnError::Overflow { row: 0 })
        ));
    }
}
