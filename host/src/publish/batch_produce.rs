//! Queuing a slice's records with a few librdkafka calls: one per partition.
//!
//! rust-rdkafka's `BaseProducer::send` queues one record per call. Each call
//! copies the topic name into a new C string, and librdkafka then parses a
//! variadic argument list, looks the topic up by name, runs the partitioner
//! and takes the partition's lock, once per record.
//!
//! Here the publisher works out each record's partition itself, with the
//! very partitioner function librdkafka is configured with. It then hands
//! librdkafka each partition's records in one `rd_kafka_produce_batch` call,
//! which appends them to the partition's queue under a single lock. Within a
//! partition the records keep the table's order.
//!
//! Records take this path only when they go to one fixed topic with no
//! timestamp or header columns, which the batch call cannot carry. Every other
//! record goes through `send`. A slice is handed to librdkafka's own
//! partitioner, one record at a time within one call, when:
//! - a key is null or empty (librdkafka's "sticky" choice for them);
//! - the `partitioner` is `random` or unknown;
//! - the topic's partition count is not known (yet).
//!
//! This module is the one place the host calls librdkafka's C API directly.

use std::collections::BTreeMap;
use std::ffi::{CString, c_void};
use std::ptr::{self, NonNull};
use std::time::{Duration, Instant};

use arrow_array::{Array, BinaryArray, Int32Array};
use rdkafka::bindings as rd;
use rdkafka::error::KafkaError;
use rdkafka::producer::{BaseProducer, Producer, ProducerContext};
use rdkafka::types::RDKafkaErrorCode;

use super::publish_error::{PublishError, RefusedRecord};

/// How long to serve delivery reports when librdkafka's queue is full before
/// trying again. `poll` returns as soon as a report frees room; the wait is
/// short in case none comes (e.g. with `delivery.report.only.error`).
pub const QUEUE_FULL_WAIT: Duration = Duration::from_millis(1);

/// librdkafka's "unassigned partition": its partitioner chooses (by key).
const PARTITION_UNASSIGNED: i32 = -1;

/// How long a known partition count is trusted before it is read again, so
/// that partitions added to the topic are used.
const PARTITION_COUNT_TTL: Duration = Duration::from_secs(30);

/// How soon an unknown partition count (no metadata yet, topic not created
/// yet, broker down) is asked for again.
const PARTITION_COUNT_RETRY: Duration = Duration::from_secs(1);

/// How long a metadata request for the partition count may take.
const METADATA_TIMEOUT: Duration = Duration::from_secs(5);

/// Partition numbers beyond this are left to librdkafka (which refuses them).
const MAX_GROUPED_PARTITION: i32 = 1 << 16;

/// One of librdkafka's built-in partitioner functions.
type PartitionerFn = unsafe extern "C" fn(
    *const rd::rd_kafka_topic_t,
    *const c_void,
    usize,
    i32,
    *mut c_void,
    *mut c_void,
) -> i32;

/// The built-in partitioner librdkafka uses for keyed records under the
/// `partitioner` setting `name` (librdkafka's default: `consistent_random`).
/// `None` for `random`, which ignores keys, and for names it does not know.
fn keyed_partitioner(name: &str) -> Option<PartitionerFn> {
    Some(match name {
        "consistent" => rd::rd_kafka_msg_partitioner_consistent,
        "consistent_random" => rd::rd_kafka_msg_partitioner_consistent_random,
        "murmur2" => rd::rd_kafka_msg_partitioner_murmur2,
        "murmur2_random" => rd::rd_kafka_msg_partitioner_murmur2_random,
        "fnv1a" => rd::rd_kafka_msg_partitioner_fnv1a,
        "fnv1a_random" => rd::rd_kafka_msg_partitioner_fnv1a_random,
        _ => return None,
    })
}

/// Where a batch's records go within the topic.
#[derive(Clone, Copy)]
pub(super) enum BatchPartitions<'a> {
    /// librdkafka's partitioner chooses per record (by key hash).
    Partitioner,
    /// Every record to this partition.
    Fixed(i32),
    /// The partition of each record, row by row.
    Column(&'a Int32Array),
}

/// The topic's partition count as last read, and when to read it again.
struct PartitionCount {
    count: Option<i32>,
    read_again_at: Instant,
}

/// A librdkafka topic handle for one fixed topic, made from the publisher's
/// producer, and the buffers of message descriptors handed to librdkafka.
///
/// It must be dropped before the producer it was made from.
pub(super) struct BatchProducer {
    topic: NonNull<rd::rd_kafka_topic_t>,
    topic_name: String,
    /// The configured partitioner for keyed records, if the publisher can
    /// run it itself.
    partitioner: Option<PartitionerFn>,
    partition_count: PartitionCount,
    /// Descriptors of the slice being queued, in table order.
    messages: Vec<rd::rd_kafka_message_t>,
    /// The same descriptors grouped by partition, each group in table order.
    grouped: Vec<rd::rd_kafka_message_t>,
    /// Scratch: where each partition's group starts in `grouped`.
    starts: Vec<usize>,
}

// SAFETY: librdkafka's topic handles may be used from any thread (its API
// is thread-safe), and `messages` and `grouped` are empty between calls, so
// no pointer into the caller's data crosses threads.
unsafe impl Send for BatchProducer {}

impl BatchProducer {
    /// A handle on `topic` for `producer`, whose librdkafka properties are
    /// `properties` (for its `partitioner`).
    pub fn new<C: ProducerContext>(
        producer: &BaseProducer<C>,
        topic: &str,
        properties: &BTreeMap<String, String>,
    ) -> Result<Self, PublishError> {
        let name = CString::new(topic).map_err(|_| PublishError::TopicName(topic.to_string()))?;
        // SAFETY: `native_ptr` is the producer's live `rd_kafka_t`; `name` is
        // a NUL-terminated string that librdkafka copies; a null config means
        // the defaults. The handle returned holds a reference that `Drop`
        // releases.
        let handle = unsafe {
            rd::rd_kafka_topic_new(
                producer.client().native_ptr(),
                name.as_ptr(),
                ptr::null_mut(),
            )
        };
        let topic_handle =
            NonNull::new(handle).ok_or_else(|| PublishError::TopicName(topic.into()))?;
        let partitioner = properties
            .get("partitioner")
            .map_or("consistent_random", String::as_str);
        Ok(Self {
            topic: topic_handle,
            topic_name: topic.to_string(),
            partitioner: keyed_partitioner(partitioner),
            partition_count: PartitionCount {
                count: None,
                read_again_at: Instant::now(),
            },
            messages: Vec::new(),
            grouped: Vec::new(),
            starts: Vec::new(),
        })
    }

    /// Queues one record per row: key and value from `keys` and `values`
    /// (a null entry, or `None`, sends none; librdkafka copies both). While
    /// librdkafka's queue is full, serves delivery reports until there is
    /// room, and goes on from the first record that did not fit, so records
    /// keep their order within each partition.
    pub fn produce<C: ProducerContext>(
        &mut self,
        producer: &BaseProducer<C>,
        rows: usize,
        first_row: usize,
        keys: Option<&BinaryArray>,
        values: Option<&BinaryArray>,
        partitions: BatchPartitions<'_>,
    ) -> Result<(), PublishError> {
        self.messages.clear();
        self.messages.extend((0..rows).map(|row| {
            let (key, key_len) = bytes_at(keys, row);
            let (payload, len) = bytes_at(values, row);
            rd::rd_kafka_message_t {
                err: rd::rd_kafka_resp_err_t::RD_KAFKA_RESP_ERR_NO_ERROR,
                rkt: ptr::null_mut(),
                partition: match partitions {
                    BatchPartitions::Column(c) => c.value(row),
                    BatchPartitions::Fixed(p) => p,
                    BatchPartitions::Partitioner => PARTITION_UNASSIGNED,
                },
                payload,
                len,
                key,
                key_len,
                offset: 0,
                _private: ptr::null_mut(),
            }
        }));
        let result = match partitions {
            BatchPartitions::Fixed(p) => {
                self.queue_all(producer, Messages::InOrder(first_row), p, 0)
            }
            BatchPartitions::Column(_) => self.queue_grouped(producer, first_row),
            BatchPartitions::Partitioner => {
                if self.assign_partitions(producer) {
                    self.queue_grouped(producer, first_row)
                } else {
                    self.queue_all(
                        producer,
                        Messages::InOrder(first_row),
                        PARTITION_UNASSIGNED,
                        0,
                    )
                }
            }
        };
        self.messages.clear();
        self.grouped.clear();
        result
    }

    /// Sets every message's partition with the configured partitioner, as
    /// librdkafka would. False (nothing set) when librdkafka must choose.
    fn assign_partitions<C: ProducerContext>(&mut self, producer: &BaseProducer<C>) -> bool {
        let Some(partitioner) = self.partitioner else {
            return false;
        };
        if self
            .messages
            .iter()
            .any(|m| m.key.is_null() || m.key_len == 0)
        {
            return false;
        }
        let Some(count) = self.partition_count(producer) else {
            return false;
        };
        let topic = self.topic.as_ptr();
        for m in &mut self.messages {
            // SAFETY: librdkafka's built-in partitioners read `key_len` bytes
            // at `key` (a live, non-null key of the caller's slice) and use
            // `count`; they ignore the topic handle and both opaques.
            m.partition = unsafe {
                partitioner(
                    topic,
                    m.key.cast_const(),
                    m.key_len,
                    count,
                    ptr::null_mut(),
                    ptr::null_mut(),
                )
            };
        }
        true
    }

    /// The topic's partition count, read from the cluster now and then;
    /// `None` while it cannot be read.
    fn partition_count<C: ProducerContext>(&mut self, producer: &BaseProducer<C>) -> Option<i32> {
        let now = Instant::now();
        if now >= self.partition_count.read_again_at {
            let count = producer
                .client()
                .fetch_metadata(Some(&self.topic_name), METADATA_TIMEOUT)
                .ok()
                .and_then(|m| {
                    let t = m.topics().first()?;
                    let n = i32::try_from(t.partitions().len()).ok()?;
                    (t.error().is_none() && n > 0).then_some(n)
                });
            let wait = if count.is_some() {
                PARTITION_COUNT_TTL
            } else {
                PARTITION_COUNT_RETRY
            };
            self.partition_count = PartitionCount {
                count,
                read_again_at: now + wait,
            };
        }
        self.partition_count.count
    }

    /// Queues `messages` partition by partition, each partition's records in
    /// one call; partitions out of the range it groups are left to
    /// librdkafka one record at a time (it refuses them).
    fn queue_grouped<C: ProducerContext>(
        &mut self,
        producer: &BaseProducer<C>,
        first_row: usize,
    ) -> Result<(), PublishError> {
        let (lo, hi) = self
            .messages
            .iter()
            .fold((i32::MAX, i32::MIN), |(lo, hi), m| {
                (lo.min(m.partition), hi.max(m.partition))
            });
        if self.messages.is_empty() {
            return Ok(());
        }
        if lo < 0 || hi >= MAX_GROUPED_PARTITION {
            return self.queue_all(
                producer,
                Messages::InOrder(first_row),
                PARTITION_UNASSIGNED,
                rd::RD_KAFKA_MSG_F_PARTITION,
            );
        }
        // A counting sort by partition: stable, so each group keeps the
        // table's order.
        let partitions = hi as usize + 1;
        self.starts.clear();
        self.starts.resize(partitions + 1, 0);
        for m in &self.messages {
            self.starts[m.partition as usize + 1] += 1;
        }
        for p in 0..partitions {
            self.starts[p + 1] += self.starts[p];
        }
        let mut next = self.starts.clone();
        self.grouped.clear();
        self.grouped.resize(self.messages.len(), self.messages[0]);
        for m in &self.messages {
            let at = &mut next[m.partition as usize];
            self.grouped[*at] = *m;
            *at += 1;
        }
        for p in 0..partitions {
            let (start, end) = (self.starts[p], self.starts[p + 1]);
            if start < end {
                self.queue_all(producer, Messages::Grouped(start, end), p as i32, 0)?;
            }
        }
        Ok(())
    }

    /// Queues some descriptors with `rd_kafka_produce_batch` to `partition`
    /// (or each message's own with `extra_flags` = `RD_KAFKA_MSG_F_PARTITION`).
    fn queue_all<C: ProducerContext>(
        &mut self,
        producer: &BaseProducer<C>,
        which: Messages,
        partition: i32,
        extra_flags: i32,
    ) -> Result<(), PublishError> {
        let (all, first_row) = match which {
            Messages::InOrder(first_row) => (&mut self.messages[..], Some(first_row)),
            Messages::Grouped(start, end) => (&mut self.grouped[start..end], None),
        };
        let mut from = 0;
        while from < all.len() {
            let pending = &mut all[from..];
            let count = i32::try_from(pending.len()).expect("a slice has fewer than 2^31 rows");
            // SAFETY: `topic` is a live handle of this producer (see `new`);
            // `pending` is a valid array of `count` descriptors whose key and
            // payload pointers point into arrays the caller keeps alive for
            // this call (or are null with length 0). RD_KAFKA_MSG_F_COPY makes
            // librdkafka copy them before it returns, and it writes only the
            // descriptors' `err` fields.
            unsafe {
                rd::rd_kafka_produce_batch(
                    self.topic.as_ptr(),
                    partition,
                    rd::RD_KAFKA_MSG_F_COPY | extra_flags,
                    pending.as_mut_ptr(),
                    count,
                );
            }
            match pending
                .iter()
                .position(|m| m.err != rd::rd_kafka_resp_err_t::RD_KAFKA_RESP_ERR_NO_ERROR)
            {
                None => return Ok(()),
                Some(i)
                    if pending[i].err == rd::rd_kafka_resp_err_t::RD_KAFKA_RESP_ERR__QUEUE_FULL =>
                {
                    // librdkafka refuses every record after the first that
                    // did not fit, so going on from there keeps the order.
                    from += i;
                    producer.poll(QUEUE_FULL_WAIT);
                }
                Some(i) => {
                    let error =
                        KafkaError::MessageProduction(RDKafkaErrorCode::from(pending[i].err));
                    return Err(PublishError::Produce(Box::new(RefusedRecord {
                        topic: self.topic_name.clone(),
                        partition: (pending[i].partition >= 0).then_some(pending[i].partition),
                        row: first_row.map(|r| r + from + i),
                        error,
                    })));
                }
            }
        }
        Ok(())
    }
}

/// Which descriptors [`BatchProducer::queue_all`] queues.
#[derive(Clone, Copy)]
enum Messages {
    /// All of `messages`, in table order; the number of the first one's row
    /// in the update, to name a refused record's row.
    InOrder(usize),
    /// `grouped[start..end]`: one partition's group.
    Grouped(usize, usize),
}

/// The pointer and length of entry `row` of `array`: null and 0 for a null
/// entry or no array (librdkafka's "no key" / "no value").
fn bytes_at(array: Option<&BinaryArray>, row: usize) -> (*mut c_void, usize) {
    match array.filter(|a| a.is_valid(row)) {
        Some(a) => {
            let v = a.value(row);
            (v.as_ptr().cast_mut().cast(), v.len())
        }
        None => (ptr::null_mut(), 0),
    }
}

impl Drop for BatchProducer {
    fn drop(&mut self) {
        // SAFETY: `topic` came from `rd_kafka_topic_new` and is released
        // once, here; the producer it belongs to is still alive (the
        // publisher drops this first).
        unsafe { rd::rd_kafka_topic_destroy(self.topic.as_ptr()) }
    }
}
