//! The fetched messages of a table's partitions, taken from librdkafka a
//! batch at a time.
//!
//! rdkafka's `BaseConsumer::poll` returns one message per call, and each call
//! reads the clock three times, takes the queue lock, wraps the message in a
//! new `Arc`, and serves every kind of event. For small records that is most
//! of the consumer's CPU. Here each assigned partition's fetch queue is
//! forwarded to one queue of our own, before the partition is assigned, so it
//! only ever carries fetched messages, and `rd_kafka_consume_batch_queue`
//! hands over up to a whole batch of them in one call. Rebalances, errors and
//! other events stay on the consumer's own queue, served by
//! `BaseConsumer::poll` as before.
//!
//! This is the edge to librdkafka's C API: every `unsafe` block of the ingest
//! path is in this file.

use std::ffi::{CStr, CString, c_char, c_void};
use std::ptr::NonNull;

use rdkafka::bindings as rd;
use rdkafka::consumer::{BaseConsumer, Consumer, ConsumerContext};
use rdkafka::error::RDKafkaErrorCode;

/// A queue of our own that the assigned partitions' fetched messages go to.
pub(crate) struct FetchQueue {
    queue: NonNull<rd::rd_kafka_queue_t>,
    /// Messages of the last [`FetchQueue::fill`], owned until [`FetchQueue::release`].
    messages: Vec<*mut rd::rd_kafka_message_t>,
    /// The last topic handle seen and its name, so names are read once per topic.
    last_topic: (*const rd::rd_kafka_topic_t, String),
}

// SAFETY: librdkafka's queues and messages may be used from any thread (its
// API is thread-safe); the raw pointers are only ever used by the one thread
// that owns this value.
unsafe impl Send for FetchQueue {}

/// One fetched message, borrowed from the [`FetchQueue`] until it is released.
pub(crate) struct FetchedMessage<'a> {
    /// Topic name.
    pub topic: &'a str,
    pub partition: i32,
    pub offset: i64,
    /// Milliseconds since the epoch, if the message has a timestamp.
    pub timestamp: Option<i64>,
    pub key: Option<&'a [u8]>,
    pub value: Option<&'a [u8]>,
    /// Set when librdkafka reports an error in place of a message.
    pub error: Option<RDKafkaErrorCode>,
    raw: *mut rd::rd_kafka_message_t,
}

impl FetchQueue {
    /// A new, empty queue on `consumer`'s client.
    pub fn new<C: ConsumerContext>(consumer: &BaseConsumer<C>) -> Option<FetchQueue> {
        let rk = consumer.client().native_ptr();
        // SAFETY: `rk` is the live client handle of `consumer`; the returned
        // queue is ours to destroy (in `Drop`).
        let queue = NonNull::new(unsafe { rd::rd_kafka_queue_new(rk) })?;
        Some(FetchQueue {
            queue,
            messages: Vec::new(),
            last_topic: (std::ptr::null(), String::new()),
        })
    }

    /// Sends the fetched messages of `topic`/`partition` to this queue. Call it
    /// before the partition is assigned, so that no message reaches the
    /// consumer's own queue first (which would reorder the partition).
    pub fn route<C: ConsumerContext>(
        &self,
        consumer: &BaseConsumer<C>,
        topic: &str,
        partition: i32,
    ) -> bool {
        let Ok(name) = CString::new(topic) else {
            return false;
        };
        let rk = consumer.client().native_ptr();
        // SAFETY: `rk` is live and `name` is a NUL-terminated string that
        // outlives the call; librdkafka returns a new reference to the
        // partition's queue (creating the partition object if needed), or null.
        let partition_queue =
            unsafe { rd::rd_kafka_queue_get_partition(rk, name.as_ptr(), partition) };
        if partition_queue.is_null() {
            return false;
        }
        // SAFETY: both queues are live; forwarding keeps its own reference to
        // our queue.
        unsafe { rd::rd_kafka_queue_forward(partition_queue, self.queue.as_ptr()) };
        // SAFETY: the partition queue reference we were given is ours to
        // release, once, and is not used again (the forwarding stays in place).
        unsafe { rd::rd_kafka_queue_destroy(partition_queue) };
        true
    }

    /// Waits up to `timeout_ms` for messages and takes up to `max` of them.
    /// Releases the previous batch first.
    pub fn fill(&mut self, timeout_ms: i32, max: usize) -> usize {
        self.release();
        self.messages.resize(max.max(1), std::ptr::null_mut());
        // SAFETY: the queue is live, and `messages` has room for `len`
        // pointers, which librdkafka writes (it returns how many, or -1).
        let n = unsafe {
            rd::rd_kafka_consume_batch_queue(
                self.queue.as_ptr(),
                timeout_ms,
                self.messages.as_mut_ptr(),
                self.messages.len(),
            )
        };
        self.messages.truncate(n.max(0) as usize);
        self.messages.len()
    }

    /// Calls `f` with each message of the last [`FetchQueue::fill`], in queue order.
    pub fn for_each(&mut self, mut f: impl FnMut(&FetchedMessage<'_>)) {
        let FetchQueue {
            messages,
            last_topic,
            ..
        } = self;
        for &raw in messages.iter() {
            // SAFETY: `raw` came from rd_kafka_consume_batch_queue and is not
            // destroyed until `release`, which cannot run during this call.
            let m = unsafe { &*raw };
            if m.rkt.cast_const() != last_topic.0 {
                // SAFETY: `m.rkt` is the message's live topic handle.
                let name = unsafe { rd::rd_kafka_topic_name(m.rkt) };
                // SAFETY: a topic's name is a NUL-terminated string owned by
                // librdkafka for as long as the handle lives.
                let name = unsafe { CStr::from_ptr(name) };
                *last_topic = (m.rkt.cast_const(), name.to_string_lossy().into_owned());
            }
            let mut kind = rd::rd_kafka_timestamp_type_t::RD_KAFKA_TIMESTAMP_NOT_AVAILABLE;
            // SAFETY: `raw` is a live message and `kind` a valid out pointer.
            let ts = unsafe { rd::rd_kafka_message_timestamp(raw, &mut kind) };
            let bytes = |ptr: *mut c_void, len: usize| {
                // SAFETY: librdkafka gives key and payload as pointer and
                // length into the message's buffer, which lives as long as the
                // message; a null pointer means no key / a null value.
                (!ptr.is_null())
                    .then(|| unsafe { std::slice::from_raw_parts(ptr as *const u8, len) })
            };
            let error = (m.err != rd::rd_kafka_resp_err_t::RD_KAFKA_RESP_ERR_NO_ERROR)
                .then(|| RDKafkaErrorCode::from(m.err));
            f(&FetchedMessage {
                topic: last_topic.1.as_str(),
                partition: m.partition,
                offset: m.offset,
                timestamp: (kind
                    != rd::rd_kafka_timestamp_type_t::RD_KAFKA_TIMESTAMP_NOT_AVAILABLE)
                    .then_some(ts),
                key: bytes(m.key, m.key_len),
                value: bytes(m.payload, m.len),
                error,
                raw,
            });
        }
    }

    /// Destroys the messages of the last [`FetchQueue::fill`].
    pub fn release(&mut self) {
        for raw in self.messages.drain(..) {
            // SAFETY: each message was handed to us by
            // rd_kafka_consume_batch_queue and is destroyed exactly once.
            unsafe { rd::rd_kafka_message_destroy(raw) };
        }
    }
}

impl FetchedMessage<'_> {
    /// The message's headers as (name, value) pairs; parsed only when asked,
    /// since librdkafka allocates to parse them.
    pub fn headers(&self) -> Vec<(&str, Option<&[u8]>)> {
        let mut headers: *mut rd::rd_kafka_headers_t = std::ptr::null_mut();
        // SAFETY: `raw` is live for the lifetime of `self`; librdkafka keeps
        // the parsed headers with the message.
        let err = unsafe { rd::rd_kafka_message_headers(self.raw, &mut headers) };
        if err != rd::rd_kafka_resp_err_t::RD_KAFKA_RESP_ERR_NO_ERROR || headers.is_null() {
            return Vec::new();
        }
        let mut out = Vec::new();
        for i in 0.. {
            let mut name: *const c_char = std::ptr::null();
            let mut value: *const c_void = std::ptr::null();
            let mut size = 0usize;
            // SAFETY: `headers` belongs to the live message; the out pointers
            // are valid; librdkafka returns NOENT past the last header.
            let err = unsafe {
                rd::rd_kafka_header_get_all(headers, i, &mut name, &mut value, &mut size)
            };
            if err != rd::rd_kafka_resp_err_t::RD_KAFKA_RESP_ERR_NO_ERROR {
                break;
            }
            // SAFETY: header names are NUL-terminated strings owned by the
            // message's headers.
            let name = unsafe { CStr::from_ptr(name) }.to_str().unwrap_or_default();
            let value = (!value.is_null()).then(|| {
                // SAFETY: a header value is `size` bytes at `value`, owned by
                // the message's headers.
                unsafe { std::slice::from_raw_parts(value as *const u8, size) }
            });
            out.push((name, value));
        }
        out
    }
}

/// The high watermark of `topic`/`partition` as librdkafka last saw it in a
/// fetch response: a local read that never waits for the broker. `None`
/// before the first fetch of the partition.
pub(crate) fn cached_high_watermark<C: ConsumerContext>(
    consumer: &BaseConsumer<C>,
    topic: &str,
    partition: i32,
) -> Option<i64> {
    let name = CString::new(topic).ok()?;
    let (mut low, mut high) = (-1i64, -1i64);
    // SAFETY: the client handle is live, `name` is NUL-terminated and
    // outlives the call, and both out pointers are valid.
    let err = unsafe {
        rd::rd_kafka_get_watermark_offsets(
            consumer.client().native_ptr(),
            name.as_ptr(),
            partition,
            &mut low,
            &mut high,
        )
    };
    (err == rd::rd_kafka_resp_err_t::RD_KAFKA_RESP_ERR_NO_ERROR && high >= 0).then_some(high)
}

impl Drop for FetchQueue {
    fn drop(&mut self) {
        self.release();
        // SAFETY: the queue was created by rd_kafka_queue_new and is destroyed
        // once; messages still queued in it are purged by librdkafka.
        unsafe { rd::rd_kafka_queue_destroy(self.queue.as_ptr()) };
    }
}
