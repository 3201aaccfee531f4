//! What one cycle changed in one table.

use std::ops::{Deref, Range};
use std::sync::OnceLock;

use arrow_array::RecordBatch;
use arrow_schema::SchemaRef;

/// Stable identity of a row within one table; snapshots list rows in key order.
pub type RowKey = u64;

/// The change one cycle made to one table.
///
/// `removed` and `modified_prev` hold the values as of the previous cycle,
/// `added` and `modified` the values as of this one. Each `*_keys` list is
/// parallel to its batch.
#[derive(Debug, Clone)]
pub struct Update {
    /// Cycle number (starts at 1) that produced this update.
    pub cycle: u64,
    /// Rows that appeared.
    pub added: RecordBatch,
    /// Row keys of `added`.
    pub added_keys: RowKeys,
    /// Rows that disappeared, with their last values.
    pub removed: RecordBatch,
    /// Row keys of `removed`.
    pub removed_keys: RowKeys,
    /// New values of rows that changed in place.
    pub modified: RecordBatch,
    /// Previous values of the rows in `modified`.
    pub modified_prev: RecordBatch,
    /// Row keys of `modified`.
    pub modified_keys: RowKeys,
}

impl Update {
    /// An update that changes nothing.
    pub fn empty(schema: &SchemaRef, cycle: u64) -> Self {
        let e = RecordBatch::new_empty(schema.clone());
        Update {
            cycle,
            added: e.clone(),
            added_keys: RowKeys::new(),
            removed: e.clone(),
            removed_keys: RowKeys::new(),
            modified: e.clone(),
            modified_prev: e,
            modified_keys: RowKeys::new(),
        }
    }

    /// Rows added, removed or modified.
    pub fn num_changed(&self) -> usize {
        self.added_keys.len() + self.removed_keys.len() + self.modified_keys.len()
    }

    /// Whether nothing was added, removed or modified.
    pub fn is_empty(&self) -> bool {
        self.added_keys.is_empty() && self.removed_keys.is_empty() && self.modified_keys.is_empty()
    }
}

/// The row keys of one part of an [`Update`], in the order of its rows.
///
/// The rows a source takes in during a cycle have consecutive keys, so they
/// are kept as a range: a cycle of a million rows does not list a million
/// keys. `RowKeys` derefs to a slice for callers that want one; a range is
/// listed on the first such use, once. [`RowKeys::iter_keys`],
/// [`RowKeys::as_range`], `len` and `is_empty` never list it.
#[derive(Debug)]
pub struct RowKeys(Repr);

#[derive(Debug)]
enum Repr {
    /// Keys in any order.
    List(Vec<RowKey>),
    /// `keys.start, keys.start + 1, ...`, and the same keys listed if a
    /// caller asked for a slice.
    Range {
        keys: Range<RowKey>,
        listed: OnceLock<Vec<RowKey>>,
    },
}

impl RowKeys {
    /// No keys.
    pub fn new() -> Self {
        RowKeys(Repr::List(Vec::new()))
    }

    /// The consecutive keys `keys.start..keys.end`.
    pub fn range(keys: Range<RowKey>) -> Self {
        RowKeys(Repr::Range {
            keys,
            listed: OnceLock::new(),
        })
    }

    /// Number of keys.
    pub fn len(&self) -> usize {
        match &self.0 {
            Repr::List(v) => v.len(),
            Repr::Range { keys, .. } => (keys.end - keys.start) as usize,
        }
    }

    /// Whether there are no keys.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The keys as a range, if they are held as one.
    pub fn as_range(&self) -> Option<Range<RowKey>> {
        match &self.0 {
            Repr::List(_) => None,
            Repr::Range { keys, .. } => Some(keys.clone()),
        }
    }

    /// The keys in order, without listing a range.
    pub fn iter_keys(&self) -> impl Iterator<Item = RowKey> + '_ {
        let (list, range) = match &self.0 {
            Repr::List(v) => (v.as_slice(), 0..0),
            Repr::Range { keys, .. } => (&[][..], keys.clone()),
        };
        list.iter().copied().chain(range)
    }

    /// Appends the consecutive keys `keys`; a range stays a range while
    /// each run starts where the last one ended.
    pub fn push_range(&mut self, keys: Range<RowKey>) {
        if keys.is_empty() {
            return;
        }
        match &mut self.0 {
            Repr::List(v) if v.is_empty() => *self = RowKeys::range(keys),
            Repr::Range { keys: held, listed } if held.end == keys.start => {
                held.end = keys.end;
                listed.take();
            }
            _ => {
                let mut v = std::mem::take(self).into_vec();
                v.extend(keys);
                *self = RowKeys(Repr::List(v));
            }
        }
    }

    /// The keys as a vector.
    pub fn into_vec(self) -> Vec<RowKey> {
        match self.0 {
            Repr::List(v) => v,
            Repr::Range { keys, listed } => listed.into_inner().unwrap_or_else(|| keys.collect()),
        }
    }
}

impl Default for RowKeys {
    fn default() -> Self {
        RowKeys::new()
    }
}

impl Clone for RowKeys {
    /// A range is cloned as a range, without its listing.
    fn clone(&self) -> Self {
        match &self.0 {
            Repr::List(v) => RowKeys(Repr::List(v.clone())),
            Repr::Range { keys, .. } => RowKeys::range(keys.clone()),
        }
    }
}

impl Deref for RowKeys {
    type Target = [RowKey];

    fn deref(&self) -> &[RowKey] {
        match &self.0 {
            Repr::List(v) => v,
            Repr::Range { keys, listed } => listed.get_or_init(|| keys.clone().collect()),
        }
    }
}

impl<'a> IntoIterator for &'a RowKeys {
    type Item = &'a RowKey;
    type IntoIter = std::slice::Iter<'a, RowKey>;

    fn into_iter(self) -> Self::IntoIter {
        self.deref().iter()
    }
}

impl From<Vec<RowKey>> for RowKeys {
    fn from(keys: Vec<RowKey>) -> Self {
        RowKeys(Repr::List(keys))
    }
}

impl From<Range<RowKey>> for RowKeys {
    fn from(keys: Range<RowKey>) -> Self {
        RowKeys::range(keys)
    }
}

impl FromIterator<RowKey> for RowKeys {
    fn from_iter<I: IntoIterator<Item = RowKey>>(keys: I) -> Self {
        RowKeys(Repr::List(keys.into_iter().collect()))
    }
}

impl PartialEq for RowKeys {
    fn eq(&self, other: &RowKeys) -> bool {
        match (self.as_range(), other.as_range()) {
            (Some(a), Some(b)) => a == b || (a.is_empty() && b.is_empty()),
            _ => self.len() == other.len() && self.iter_keys().eq(other.iter_keys()),
        }
    }
}

impl Eq for RowKeys {}

impl PartialEq<[RowKey]> for RowKeys {
    fn eq(&self, other: &[RowKey]) -> bool {
        self.len() == other.len() && self.iter_keys().eq(other.iter().copied())
    }
}

impl PartialEq<Vec<RowKey>> for RowKeys {
    fn eq(&self, other: &Vec<RowKey>) -> bool {
        *self == other[..]
    }
}

impl<const N: usize> PartialEq<[RowKey; N]> for RowKeys {
    fn eq(&self, other: &[RowKey; N]) -> bool {
        *self == other[..]
    }
}

#[cfg(test)]
mod tests {
    use super::RowKeys;

    #[test]
    fn a_range_reads_like_the_list_of_its_keys() {
        let r = RowKeys::range(5..9);
        let l = RowKeys::from(vec![5, 6, 7, 8]);
        assert_eq!(r.len(), 4);
        assert_eq!(r, l);
        assert_eq!(r, [5, 6, 7, 8]);
        assert_eq!(r.iter_keys().collect::<Vec<_>>(), vec![5, 6, 7, 8]);
        assert_eq!(&r[..], &l[..]);
        assert_eq!(r[2], 7);
        assert_eq!(r.clone().into_vec(), vec![5, 6, 7, 8]);
        assert_eq!(r.as_range(), Some(5..9));
        assert_eq!(l.as_range(), None);
        assert_eq!(RowKeys::range(3..3), RowKeys::new());
    }

    #[test]
    fn push_range_keeps_a_range_while_runs_touch() {
        let mut k = RowKeys::new();
        k.push_range(10..12);
        k.push_range(12..15);
        assert_eq!(k.as_range(), Some(10..15));
        let _listed: &[u64] = &k;
        k.push_range(15..16);
        assert_eq!(
            k,
            [10, 11, 12, 13, 14, 15],
            "a listing is dropped when the range grows"
        );
        k.push_range(20..22);
        assert_eq!(k.as_range(), None);
        assert_eq!(k, [10, 11, 12, 13, 14, 15, 20, 21]);
    }
}
