//! Kafka messages as a borrowed batch of columns in Arrow's binary layout.
//!
//! A decoder reads a [`MessageBatch`]: one offsets+data+validity column each
//! for keys, values and header fields, and plain slices for partitions,
//! offsets and timestamps. The view borrows the host's buffers, so it crosses
//! the plugin boundary without a copy or an allocation.

/// A borrowed column of nullable byte strings (Arrow `Binary` layout).
#[derive(Debug, Clone, Copy)]
pub struct BinaryColumn<'a> {
    offsets: &'a [i32],
    data: &'a [u8],
    validity: &'a [u8],
}

impl<'a> BinaryColumn<'a> {
    /// A column from Arrow buffers: `offsets` has one more entry than rows;
    /// `validity` is an LSB-first bitmap, or empty when no row is null.
    pub fn new(offsets: &'a [i32], data: &'a [u8], validity: &'a [u8]) -> Self {
        Self {
            offsets,
            data,
            validity,
        }
    }

    /// Number of rows.
    #[inline]
    pub fn len(&self) -> usize {
        self.offsets.len().saturating_sub(1)
    }

    /// Whether the column has no rows.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether row `i` is null.
    #[inline]
    pub fn is_null(&self, i: usize) -> bool {
        !self.validity.is_empty() && self.validity[i >> 3] & (1 << (i & 7)) == 0
    }

    /// The bytes of row `i`, or `None` for a null.
    #[inline]
    pub fn get(&self, i: usize) -> Option<&'a [u8]> {
        if self.is_null(i) {
            return None;
        }
        let (start, end) = (self.offsets[i] as usize, self.offsets[i + 1] as usize);
        Some(&self.data[start..end])
    }

    /// The raw parts `(offsets, data, validity)`, for vectorised decoders.
    pub fn parts(&self) -> (&'a [i32], &'a [u8], &'a [u8]) {
        (self.offsets, self.data, self.validity)
    }
}

/// A borrowed batch of Kafka messages, column by column.
#[derive(Debug, Clone, Copy)]
pub struct MessageBatch<'a> {
    /// Message keys (null when the record has no key).
    pub keys: BinaryColumn<'a>,
    /// Message values (null for a tombstone).
    pub values: BinaryColumn<'a>,
    /// The distinct topic names of this batch.
    pub topic_names: BinaryColumn<'a>,
    /// Per message, the index of its topic in `topic_names`.
    pub topic_ids: &'a [u32],
    /// Per message, its partition.
    pub partitions: &'a [i32],
    /// Per message, its offset.
    pub offsets: &'a [i64],
    /// Per message, its timestamp in epoch milliseconds (`-1` when absent).
    pub timestamps: &'a [i64],
    /// Header ranges: message `i` has headers `header_offsets[i]..header_offsets[i+1]`
    /// (empty when no message has headers).
    pub header_offsets: &'a [i32],
    /// Header names (UTF-8).
    pub header_keys: BinaryColumn<'a>,
    /// Header values (null when a header has no value).
    pub header_values: BinaryColumn<'a>,
}

impl<'a> MessageBatch<'a> {
    /// Number of messages.
    #[inline]
    pub fn len(&self) -> usize {
        self.partitions.len()
    }

    /// Whether the batch has no messages.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The topic of message `i`.
    pub fn topic(&self, i: usize) -> &'a str {
        let bytes = self
            .topic_names
            .get(self.topic_ids[i] as usize)
            .unwrap_or_default();
        std::str::from_utf8(bytes).unwrap_or("<non-utf8 topic>")
    }

    /// The headers of message `i` as `(name, value)` pairs.
    pub fn headers(&self, i: usize) -> impl Iterator<Item = (&'a [u8], Option<&'a [u8]>)> + 'a {
        let range = if self.header_offsets.is_empty() {
            0..0
        } else {
            self.header_offsets[i] as usize..self.header_offsets[i + 1] as usize
        };
        let (keys, values) = (self.header_keys, self.header_values);
        range.map(move |h| (keys.get(h).unwrap_or_default(), values.get(h)))
    }

    /// Where message `i` came from, as `topic/partition@offset`, for error messages.
    pub fn position(&self, i: usize) -> String {
        format!(
            "{}/{}@{}",
            self.topic(i),
            self.partitions[i],
            self.offsets[i]
        )
    }
}

/// Owned storage for one binary column while it is being built.
#[derive(Debug, Clone, Default)]
struct BinaryColumnBuf {
    offsets: Vec<i32>,
    data: Vec<u8>,
    validity: Vec<u8>,
    has_null: bool,
}

impl BinaryColumnBuf {
    fn with_capacity(rows: usize, bytes: usize) -> Self {
        let mut offsets = Vec::with_capacity(rows + 1);
        offsets.push(0);
        Self {
            offsets,
            data: Vec::with_capacity(bytes),
            validity: Vec::with_capacity(rows / 8 + 1),
            has_null: false,
        }
    }

    fn push(&mut self, value: Option<&[u8]>) {
        let row = self.offsets.len() - 1;
        if row.is_multiple_of(8) {
            self.validity.push(0);
        }
        match value {
            Some(bytes) => {
                self.data.extend_from_slice(bytes);
                self.validity[row >> 3] |= 1 << (row & 7);
            }
            None => self.has_null = true,
        }
        let end = i32::try_from(self.data.len())
            .expect("a message batch holds less than 2 GiB per column");
        self.offsets.push(end);
    }

    fn len(&self) -> usize {
        self.offsets.len() - 1
    }

    fn view(&self) -> BinaryColumn<'_> {
        let validity = if self.has_null {
            &self.validity[..]
        } else {
            &[]
        };
        BinaryColumn::new(&self.offsets, &self.data, validity)
    }

    fn clear(&mut self) {
        self.offsets.truncate(1);
        self.data.clear();
        // Reused across batches, but one batch of huge messages must not pin
        // its memory for the life of the consumer.
        self.data.shrink_to(RETAINED_BYTES);
        self.validity.clear();
        self.has_null = false;
    }
}

/// Bytes of message data a [`MessageBatchBuilder`] column keeps for reuse
/// after [`MessageBatchBuilder::clear`]; anything above is freed.
pub const RETAINED_BYTES: usize = 16 << 20;

/// Builds an [`OwnedMessageBatch`] one message at a time (the host's ingest
/// path, and tests).
#[derive(Debug, Clone, Default)]
pub struct MessageBatchBuilder {
    batch: OwnedMessageBatch,
}

/// A batch of messages that owns its buffers; [`OwnedMessageBatch::view`] lends it out.
#[derive(Debug, Clone)]
pub struct OwnedMessageBatch {
    keys: BinaryColumnBuf,
    values: BinaryColumnBuf,
    topic_names: BinaryColumnBuf,
    topic_ids: Vec<u32>,
    partitions: Vec<i32>,
    offsets: Vec<i64>,
    timestamps: Vec<i64>,
    header_offsets: Vec<i32>,
    header_keys: BinaryColumnBuf,
    header_values: BinaryColumnBuf,
    any_headers: bool,
}

impl Default for OwnedMessageBatch {
    fn default() -> Self {
        Self {
            keys: BinaryColumnBuf::with_capacity(0, 0),
            values: BinaryColumnBuf::with_capacity(0, 0),
            topic_names: BinaryColumnBuf::with_capacity(0, 0),
            topic_ids: Vec::new(),
            partitions: Vec::new(),
            offsets: Vec::new(),
            timestamps: Vec::new(),
            header_offsets: vec![0],
            header_keys: BinaryColumnBuf::with_capacity(0, 0),
            header_values: BinaryColumnBuf::with_capacity(0, 0),
            any_headers: false,
        }
    }
}

impl OwnedMessageBatch {
    /// Borrows the batch as the view decoders read.
    pub fn view(&self) -> MessageBatch<'_> {
        MessageBatch {
            keys: self.keys.view(),
            values: self.values.view(),
            topic_names: self.topic_names.view(),
            topic_ids: &self.topic_ids,
            partitions: &self.partitions,
            offsets: &self.offsets,
            timestamps: &self.timestamps,
            header_offsets: if self.any_headers {
                &self.header_offsets
            } else {
                &[]
            },
            header_keys: self.header_keys.view(),
            header_values: self.header_values.view(),
        }
    }

    /// Number of messages.
    pub fn len(&self) -> usize {
        self.partitions.len()
    }

    /// Whether the batch has no messages.
    pub fn is_empty(&self) -> bool {
        self.partitions.is_empty()
    }
}

impl MessageBatchBuilder {
    /// A builder with room for `messages` messages of about `bytes_per_message` bytes.
    pub fn with_capacity(messages: usize, bytes_per_message: usize) -> Self {
        let mut batch = OwnedMessageBatch {
            keys: BinaryColumnBuf::with_capacity(messages, messages * 8),
            values: BinaryColumnBuf::with_capacity(messages, messages * bytes_per_message),
            ..OwnedMessageBatch::default()
        };
        batch.topic_ids.reserve(messages);
        batch.partitions.reserve(messages);
        batch.offsets.reserve(messages);
        batch.timestamps.reserve(messages);
        batch.header_offsets.reserve(messages);
        Self { batch }
    }

    /// Appends one message.
    #[allow(clippy::too_many_arguments)]
    pub fn push(
        &mut self,
        topic: &str,
        partition: i32,
        offset: i64,
        timestamp_ms: Option<i64>,
        key: Option<&[u8]>,
        value: Option<&[u8]>,
        headers: &[(&str, Option<&[u8]>)],
    ) {
        let b = &mut self.batch;
        let topic_id = (0..b.topic_names.len())
            .rev()
            .find(|&t| b.topic_names.view().get(t) == Some(topic.as_bytes()))
            .unwrap_or_else(|| {
                b.topic_names.push(Some(topic.as_bytes()));
                b.topic_names.len() - 1
            });
        b.topic_ids.push(topic_id as u32);
        b.partitions.push(partition);
        b.offsets.push(offset);
        b.timestamps.push(timestamp_ms.unwrap_or(-1));
        b.keys.push(key);
        b.values.push(value);
        for (name, value) in headers {
            b.header_keys.push(Some(name.as_bytes()));
            b.header_values.push(*value);
            b.any_headers = true;
        }
        b.header_offsets.push(b.header_keys.len() as i32);
    }

    /// Number of messages so far.
    pub fn len(&self) -> usize {
        self.batch.len()
    }

    /// Whether no message was pushed yet.
    pub fn is_empty(&self) -> bool {
        self.batch.is_empty()
    }

    /// The batch built so far (the builder can go on appending afterwards).
    pub fn batch(&self) -> &OwnedMessageBatch {
        &self.batch
    }

    /// Takes the batch, leaving the builder empty.
    pub fn finish(&mut self) -> OwnedMessageBatch {
        std::mem::take(&mut self.batch)
    }

    /// Bytes of key, value and header data held so far.
    pub fn data_bytes(&self) -> usize {
        let b = &self.batch;
        b.keys.data.len()
            + b.values.data.len()
            + b.header_keys.data.len()
            + b.header_values.data.len()
    }

    /// Empties the builder but keeps its allocations (up to
    /// `RETAINED_BYTES` a column), for reuse batch after batch.
    pub fn clear(&mut self) {
        let b = &mut self.batch;
        for col in [
            &mut b.keys,
            &mut b.values,
            &mut b.topic_names,
            &mut b.header_keys,
            &mut b.header_values,
        ] {
            col.clear();
        }
        b.topic_ids.clear();
        b.partitions.clear();
        b.offsets.clear();
        b.timestamps.clear();
        b.header_offsets.truncate(1);
        b.any_headers = false;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builds_a_columnar_view() {
        let mut b = MessageBatchBuilder::default();
        b.push("t", 0, 10, Some(5), Some(b"k"), Some(b"v1"), &[]);
        b.push(
            "u",
            1,
            11,
            None,
            None,
            None,
            &[("h", Some(b"x")), ("n", None)],
        );
        b.push("t", 0, 12, Some(7), Some(b""), Some(b"v3"), &[]);
        let owned = b.finish();
        let v = owned.view();
        assert_eq!(v.len(), 3);
        assert_eq!(v.values.get(0), Some(&b"v1"[..]));
        assert_eq!(v.values.get(1), None);
        assert_eq!(v.keys.get(2), Some(&b""[..]));
        assert_eq!(v.topic(1), "u");
        assert_eq!(v.topic(2), "t");
        assert_eq!(v.timestamps, &[5, -1, 7]);
        let h: Vec<_> = v.headers(1).collect();
        assert_eq!(h, vec![(&b"h"[..], Some(&b"x"[..])), (&b"n"[..], None)]);
        assert_eq!(v.headers(0).count(), 0);
        assert_eq!(v.position(1), "u/1@11");
    }

    #[test]
    fn clear_frees_what_a_batch_of_huge_messages_grew() {
        let mut b = MessageBatchBuilder::with_capacity(4, 4);
        let huge = vec![7u8; 3 * RETAINED_BYTES];
        b.push("t", 0, 1, None, None, Some(&huge), &[]);
        assert!(b.batch.values.data.capacity() >= huge.len());
        assert_eq!(b.data_bytes(), huge.len());
        b.clear();
        assert_eq!(b.data_bytes(), 0);
        assert!(b.batch.values.data.capacity() <= RETAINED_BYTES);
        b.push("t", 0, 2, None, None, Some(b"small"), &[]);
        assert_eq!(b.batch().view().values.get(0), Some(&b"small"[..]));
    }

    #[test]
    fn clear_keeps_builder_reusable() {
        let mut b = MessageBatchBuilder::with_capacity(4, 4);
        b.push("t", 0, 1, None, None, Some(b"a"), &[]);
        b.clear();
        b.push("t", 0, 2, None, None, Some(b"b"), &[]);
        let owned = b.finish();
        assert_eq!(owned.view().values.get(0), Some(&b"b"[..]));
        assert_eq!(owned.len(), 1);
    }
}
