//! Queuing a slice's records with one librdkafka call per slice.
//!
//! rust-rdkafka's `BaseProducer::send` queues one record per call. Each call
//! copies the topic name into a new C string, and librdkafka then parses a
//! variadic argument list, looks the topic up by name and takes its lock,
//! once per record. `rd_kafka_produce_batch` does those steps once per slice.
//! It takes no timestamps or headers, so the publisher uses it only for
//! records to one fixed topic with neither; every other record goes through
//! `send`.
//!
//! This module is the one place the host calls librdkafka's C API directly.

use std::ffi::CString;
use std::ptr::{self, NonNull};

use arrow_array::{Array, BinaryArray, Int32Array};
use rdkafka::bindings as rd;
use rdkafka::error::KafkaError;
use rdkafka::producer::{BaseProducer, Producer, ProducerContext};
use rdkafka::types::RDKafkaErrorCode;

use super::kafka_publisher::QUEUE_FULL_WAIT;
use super::publish_error::PublishError;

/// librdkafka's "unassigned partition": its partitioner chooses (by key).
const PARTITION_UNASSIGNED: i32 = -1;

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

/// A librdkafka topic handle for one fixed topic, made from the publisher's
/// producer, and the buffer of message descriptors handed to librdkafka.
///
/// It must be dropped before the producer it was made from.
pub(super) struct BatchProducer {
    topic: NonNull<rd::rd_kafka_topic_t>,
    /// Descriptors of the slice being queued; cleared before `produce`
    /// returns, so it never holds pointers into a slice that is gone.
    messages: Vec<rd::rd_kafka_message_t>,
}

// SAFETY: librdkafka's topic handles may be used from any thread (its API
// is thread-safe), and `messages` is empty between calls, so no pointer into
// the caller's data crosses threads.
unsafe impl Send for BatchProducer {}

impl BatchProducer {
    /// A handle on `topic` for `producer`.
    pub fn new<C: ProducerContext>(
        producer: &BaseProducer<C>,
        topic: &str,
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
        let topic = NonNull::new(handle).ok_or_else(|| PublishError::TopicName(topic.into()))?;
        Ok(Self {
            topic,
            messages: Vec::new(),
        })
    }

    /// Queues one record per row: key and value from `keys` and `values`
    /// (a null entry, or `None`, sends none; librdkafka copies both). While
    /// librdkafka's queue is full, serves delivery reports until there is
    /// room, and goes on from the first record that did not fit, so records
    /// keep their order.
    pub fn produce<C: ProducerContext>(
        &mut self,
        producer: &BaseProducer<C>,
        rows: usize,
        keys: Option<&BinaryArray>,
        values: Option<&BinaryArray>,
        partitions: BatchPartitions<'_>,
    ) -> Result<(), PublishError> {
        let (partition, flags) = match partitions {
            BatchPartitions::Partitioner => (PARTITION_UNASSIGNED, rd::RD_KAFKA_MSG_F_COPY),
            BatchPartitions::Fixed(p) => (p, rd::RD_KAFKA_MSG_F_COPY),
            BatchPartitions::Column(_) => (
                PARTITION_UNASSIGNED,
                rd::RD_KAFKA_MSG_F_COPY | rd::RD_KAFKA_MSG_F_PARTITION,
            ),
        };
        self.messages.clear();
        self.messages.extend((0..rows).map(|row| {
            let (key, key_len) = bytes_at(keys, row);
            let (payload, len) = bytes_at(values, row);
            rd::rd_kafka_message_t {
                err: rd::rd_kafka_resp_err_t::RD_KAFKA_RESP_ERR_NO_ERROR,
                rkt: ptr::null_mut(),
                partition: match partitions {
                    BatchPartitions::Column(c) => c.value(row),
                    _ => partition,
                },
                payload,
                len,
                key,
                key_len,
                offset: 0,
                _private: ptr::null_mut(),
            }
        }));
        let result = self.queue_all(producer, partition, flags);
        self.messages.clear();
        result
    }

    fn queue_all<C: ProducerContext>(
        &mut self,
        producer: &BaseProducer<C>,
        partition: i32,
        flags: i32,
    ) -> Result<(), PublishError> {
        let mut from = 0;
        while from < self.messages.len() {
            let pending = &mut self.messages[from..];
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
                    flags,
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
                    return Err(PublishError::Produce(KafkaError::MessageProduction(
                        RDKafkaErrorCode::from(pending[i].err),
                    )));
                }
            }
        }
        Ok(())
    }
}

/// The pointer and length of entry `row` of `array`: null and 0 for a null
/// entry or no array (librdkafka's "no key" / "no value").
fn bytes_at(array: Option<&BinaryArray>, row: usize) -> (*mut std::ffi::c_void, usize) {
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
