//! The librdkafka consumer a table reads with: its settings (topictable's
//! defaults under the user's), and the reason a broker refused it.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rdkafka::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use topictable_engine::Engine;

use super::commits::CommitTracker;
use super::rebalance::{IngestContext, removes_lost_partitions};
use super::spec::{ConsumeSpec, ConsumerMode, StartAt};
use crate::kafka_fatal::FatalErrorSlot;

/// librdkafka consumer properties topictable sets before the table's own,
/// which override them. Each is here because a measured run justified it
/// (BENCHMARKS.md, "Ingest for every format"):
///
/// - `fetch.queue.backoff.ms = 10` (librdkafka: 1000): once the queue of
///   prefetched messages passes `queued.min.messages`, librdkafka stops
///   fetching for this long. The queue count is over all of a consumer's
///   partitions, so with small records a single fetch round passes the
///   threshold and every partition then idles a full second: rows arrived
///   in bursts with nothing in between.
///
/// `queued.min.messages` stays at librdkafka's 100,000: raising it to
/// 1,000,000 changed no measured wall time once the backoff was short, and
/// it would let a consumer that falls behind hold ten times as many
/// prefetched messages (each about 250 bytes of librdkafka bookkeeping on
/// top of its payload).
pub const CONSUMER_DEFAULTS: [(&str, &str); 1] = [("fetch.queue.backoff.ms", "10")];

pub(super) fn create_consumer(
    spec: &ConsumeSpec,
    name: &str,
    engine: &Engine,
    tracker: Arc<Mutex<CommitTracker>>,
) -> Result<BaseConsumer<IngestContext>, rdkafka::error::KafkaError> {
    let mut config = ClientConfig::new();
    let reset = match spec.offsets.default {
        StartAt::Beginning => "earliest",
        _ => "latest",
    };
    config
        .set("enable.auto.commit", "false")
        .set("enable.auto.offset.store", "false")
        .set("auto.offset.reset", reset)
        .set("topic.metadata.refresh.interval.ms", "5000")
        .set("client.id", format!("topictable-{name}"));
    for (k, v) in CONSUMER_DEFAULTS {
        config.set(k, v);
    }
    for (k, v) in &spec.properties {
        config.set(k, v);
    }
    if !spec.properties.contains_key("group.id") {
        // librdkafka's assign() needs a consumer group even when nothing is
        // committed; a private one means "no committed offsets".
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        config.set(
            "group.id",
            format!("topictable-{name}-{}-{nanos}", std::process::id()),
        );
    }
    let start_time = match (spec.mode, &spec.offsets.default) {
        (ConsumerMode::Group, StartAt::Timestamp(ms)) => Some(*ms),
        _ => None,
    };
    config.create_with_context(IngestContext {
        tracker,
        engine: engine.clone(),
        table: name.to_string(),
        start_time,
        fatal: FatalErrorSlot::default(),
        revoked: Mutex::default(),
        remove_lost: removes_lost_partitions(spec),
        revoked_pending: Mutex::default(),
        lost: Mutex::default(),
    })
}

/// Why the broker refused `consumer`, if it did. A call that failed on a
/// refused login says only "transport failure"; librdkafka queues the reason
/// as an event a moment later, which `poll` hands to the context. Waits up
/// to a second for it (this runs only when a call already failed).
pub(super) fn refusal(consumer: &BaseConsumer<IngestContext>) -> Option<String> {
    let deadline = Instant::now() + Duration::from_secs(1);
    while Instant::now() < deadline {
        if let Some(message) = consumer.context().fatal.get() {
            return Some(message);
        }
        let _ = consumer.poll(Duration::from_millis(50));
    }
    consumer.context().fatal.get()
}
