//! The dead-letter queue: the original record plus context headers, modelled on
//! Kafka Connect's `__connect.errors.*` under the `topictable.errors.` prefix.

use std::collections::BTreeMap;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use rdkafka::message::{Header, OwnedHeaders, OwnedMessage};
use rdkafka::producer::{BaseProducer, BaseRecord, DeliveryResult, Producer, ProducerContext};
use rdkafka::{ClientConfig, ClientContext, Message};
use topictable_sdk::MessageBatch;

use super::{DeadLetterRetry, RecordError};
use crate::backoff::{Backoff, sleep_unless_stopped};

/// The prefix of the context headers.
pub const HEADER_PREFIX: &str = "topictable.errors.";

/// The deliveries the broker refused (too large, unknown topic, not
/// authorized, timed out) since the last flush, for [`DeadLetterQueue::flush`]
/// to report or send again: a queued record is not a delivered one.
#[derive(Default)]
struct Refused {
    /// The first refusal's reason.
    first: Option<String>,
    /// The refused records themselves, kept only when they may be retried.
    records: Vec<OwnedMessage>,
}

struct Deliveries {
    refused: Mutex<Refused>,
    keep_records: bool,
}

impl ClientContext for Deliveries {}

impl ProducerContext for Deliveries {
    type DeliveryOpaque = ();
    fn delivery(&self, result: &DeliveryResult<'_>, _: Self::DeliveryOpaque) {
        if let Err((e, message)) = result {
            let mut refused = self.refused.lock().unwrap_or_else(PoisonError::into_inner);
            refused.first.get_or_insert_with(|| e.to_string());
            if self.keep_records {
                refused.records.push(message.detach());
            }
        }
    }
}

/// The longest wait between two sends of a refused dead-letter record.
const MAX_BACKOFF: Duration = Duration::from_secs(30);

/// Writes undecodable records to a dead-letter topic.
pub struct DeadLetterQueue {
    producer: BaseProducer<Deliveries>,
    topic: String,
    retry: DeadLetterRetry,
}

impl DeadLetterQueue {
    /// A producer for `topic` with the table's broker properties.
    pub fn new(
        properties: &BTreeMap<String, String>,
        topic: &str,
        retry: DeadLetterRetry,
    ) -> Result<Self, rdkafka::error::KafkaError> {
        let mut config = ClientConfig::new();
        for (k, v) in properties {
            // Consumer-only properties would make the producer refuse to start.
            if !is_consumer_only(k) {
                config.set(k, v);
            }
        }
        config.set("enable.idempotence", "true");
        let deliveries = Deliveries {
            refused: Mutex::default(),
            keep_records: retry.max_retries > 0,
        };
        Ok(Self {
            producer: config.create_with_context(deliveries)?,
            topic: topic.to_string(),
            retry,
        })
    }

    /// Queues the original record of `error` (row `row` of `batch`) with context headers.
    pub fn send(
        &self,
        batch: &MessageBatch<'_>,
        row: usize,
        error: &RecordError,
    ) -> Result<(), String> {
        let exception = if error.batch_failure {
            "PluginError"
        } else {
            "RowError"
        };
        let partition = error.partition.to_string();
        let offset = error.offset.to_string();
        let stage = format!("{}_decode", error.side);
        let context = [
            ("topic", error.topic.as_str()),
            ("partition", partition.as_str()),
            ("offset", offset.as_str()),
            ("stage", stage.as_str()),
            ("exception.class", exception),
            ("exception.message", error.reason.as_str()),
        ];
        let mut headers = OwnedHeaders::new();
        for (name, value) in batch.headers(row) {
            let name = String::from_utf8_lossy(name);
            headers = headers.insert(Header { key: &name, value });
        }
        for (name, value) in context {
            let key = format!("{HEADER_PREFIX}{name}");
            headers = headers.insert(Header {
                key: &key,
                value: Some(value.as_bytes()),
            });
        }
        let mut record: BaseRecord<'_, [u8], [u8]> = BaseRecord::to(&self.topic).headers(headers);
        if let Some(key) = batch.keys.get(row) {
            record = record.key(key);
        }
        if let Some(value) = batch.values.get(row) {
            record = record.payload(value);
        }
        self.producer
            .send(record)
            .map_err(|(e, _)| format!("dead-letter produce to {} failed: {e}", self.topic))
    }

    /// Waits until every queued record is acknowledged. A refused record is
    /// sent again, after a growing wait, as often as the retry policy allows
    /// (or until `stop` says so); then the first refusal is the error.
    pub fn flush(&self, stop: &dyn Fn() -> bool) -> Result<(), String> {
        let mut backoff = Backoff::new(self.retry.backoff, MAX_BACKOFF);
        let mut retries = 0;
        loop {
            self.producer
                .flush(Duration::from_secs(30))
                .map_err(|e| format!("dead-letter flush to {} failed: {e}", self.topic))?;
            let refused = std::mem::take(
                &mut *self
                    .producer
                    .context()
                    .refused
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner),
            );
            let Some(e) = refused.first else {
                return Ok(());
            };
            let wait = backoff.next_wait();
            if retries >= self.retry.max_retries || !sleep_unless_stopped(wait, stop) {
                return Err(format!(
                    "the dead-letter topic {} refused a record: {e} (nothing past the bad record is committed{})",
                    self.topic,
                    if retries > 0 {
                        format!("; sent {} times", retries + 1)
                    } else {
                        String::new()
                    }
                ));
            }
            retries += 1;
            tracing::warn!(
                topic = %self.topic,
                refused = refused.records.len(),
                retry = retries,
                of = self.retry.max_retries,
                "the dead-letter topic refused records ({e}); sent again after {wait:?}"
            );
            for message in &refused.records {
                self.resend(message)?;
            }
        }
    }

    fn resend(&self, message: &OwnedMessage) -> Result<(), String> {
        let mut record: BaseRecord<'_, [u8], [u8]> = BaseRecord::to(&self.topic);
        if let Some(headers) = message.headers() {
            record = record.headers(headers.clone());
        }
        if let Some(key) = message.key() {
            record = record.key(key);
        }
        if let Some(value) = message.payload() {
            record = record.payload(value);
        }
        self.producer
            .send(record)
            .map_err(|(e, _)| format!("dead-letter produce to {} failed: {e}", self.topic))
    }
}

fn is_consumer_only(key: &str) -> bool {
    key == "group.id"
        || key == "group.instance.id"
        || key.starts_with("auto.offset")
        || key.starts_with("enable.auto")
        || key.starts_with("auto.commit")
        || key.starts_with("session.")
        || key.starts_with("heartbeat.")
        || key.starts_with("max.poll")
        || key.starts_with("partition.assignment")
        || key.starts_with("fetch.")
        || key == "isolation.level"
        || key == "enable.partition.eof"
        || key == "queued.min.messages"
        || key.starts_with("queued.max")
}
