//! Partitions held at a record whose schema registry cannot be reached.
//!
//! An unreachable registry (or one answering 5xx) says nothing about the
//! record, so the record is not judged by the bad-record policy: its
//! partition is paused, sought back to it, and resumed after a backoff
//! (0.5 s, doubling to 10 s) to decode it again; the other partitions go
//! on. Nothing of a held partition from that record on is ingested, skipped,
//! dead-lettered or committed, so when the registry answers again every
//! record arrives exactly once.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use rdkafka::consumer::{BaseConsumer, Consumer, ConsumerContext};
use rdkafka::error::KafkaError;
use rdkafka::{Offset, TopicPartitionList};

use crate::backoff::Backoff;

/// Wait before the first retry of a held partition.
const FIRST_BACKOFF: Duration = Duration::from_millis(500);
/// Longest wait between retries.
const MAX_BACKOFF: Duration = Duration::from_secs(10);

/// One held partition.
#[derive(Debug)]
struct Hold {
    /// When to resume fetching; `None` once resumed (waiting for a batch to tell).
    resume_at: Option<Instant>,
    /// The waits before the retries.
    backoff: Backoff,
}

/// The partitions held now, with their backoff.
#[derive(Debug, Default)]
pub(super) struct HeldPartitions {
    held: BTreeMap<(String, i32), Hold>,
    /// Why, from the latest hold (for the table's status).
    reason: String,
}

fn one(topic: &str, partition: i32) -> TopicPartitionList {
    let mut tpl = TopicPartitionList::new();
    tpl.add_partition(topic, partition);
    tpl
}

impl HeldPartitions {
    /// Holds `topic`/`partition` at `offset`: pauses it, seeks it back to the
    /// record, and schedules a resume after the backoff (longer each time
    /// the same partition is held again without progress).
    pub(super) fn hold<C: ConsumerContext>(
        &mut self,
        consumer: &BaseConsumer<C>,
        topic: &str,
        partition: i32,
        offset: i64,
        reason: &str,
    ) -> Result<(), KafkaError> {
        consumer.pause(&one(topic, partition))?;
        consumer.seek(
            topic,
            partition,
            Offset::Offset(offset),
            Duration::from_secs(10),
        )?;
        let hold = self
            .held
            .entry((topic.to_string(), partition))
            .or_insert_with(|| Hold {
                resume_at: None,
                backoff: Backoff::new(FIRST_BACKOFF, MAX_BACKOFF),
            });
        hold.resume_at = Some(Instant::now() + hold.backoff.next_wait());
        self.reason = reason.to_string();
        Ok(())
    }

    /// Resumes fetching the partitions whose backoff has passed.
    pub(super) fn resume_due<C: ConsumerContext>(&mut self, consumer: &BaseConsumer<C>) {
        let now = Instant::now();
        for ((topic, partition), hold) in &mut self.held {
            if hold.resume_at.is_some_and(|at| at <= now) {
                hold.resume_at = None;
                if let Err(e) = consumer.resume(&one(topic, *partition)) {
                    tracing::warn!("resuming {topic}/{partition} after a registry outage: {e}");
                }
            }
        }
    }

    /// Forgets the hold on a partition that a batch read records of without
    /// holding it again.
    pub(super) fn release(&mut self, topic: &str, partition: i32) {
        self.held.remove(&(topic.to_string(), partition));
    }

    /// Forgets the holds on partitions not in `assigned` (a rebalance took
    /// them; their new owner reads them from the committed offset).
    pub(super) fn retain_assigned(&mut self, assigned: &BTreeSet<(String, i32)>) {
        self.held.retain(|tp, _| assigned.contains(tp));
    }

    /// Forgets every hold (the partitions were resumed some other way).
    pub(super) fn clear(&mut self) {
        self.held.clear();
    }

    /// Whether no partition is held.
    pub(super) fn is_empty(&self) -> bool {
        self.held.is_empty()
    }

    /// Why the partitions are held (the latest reason).
    pub(super) fn reason(&self) -> &str {
        &self.reason
    }
}
