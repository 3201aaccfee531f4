//! Where a table starts reading: the consumer's own check of the start
//! options, the partitions and offsets of assign mode, and the start times
//! of group mode.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use rdkafka::consumer::{BaseConsumer, Consumer, ConsumerContext};
use rdkafka::{Offset, TopicPartitionList};

use super::fetch_queue::FetchQueue;
use super::spec::{ConsumeSpec, ConsumerMode, OnRevoke, Partitions, StartAt};

/// Mode, partitions and initial offsets that do not fit together: the
/// pipeline-file key at fault (`mode`, `partitions`, `offsets` or
/// `properties`) and what was expected there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StartMismatch {
    /// The key of a `[[table]]` entry the mistake is in.
    pub key: &'static str,
    /// What was expected, and what was found.
    pub message: String,
}

impl std::fmt::Display for StartMismatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

/// Checks that the mode, partitions and initial offsets fit together. The
/// library (`consume_to_table`) and pipeline files (`validate`) share it.
pub fn check_start(spec: &ConsumeSpec) -> Result<(), StartMismatch> {
    let mismatch = |key, message: String| Err(StartMismatch { key, message });
    let has_group = spec.properties.contains_key("group.id");
    match spec.mode {
        ConsumerMode::Group => {
            if !has_group {
                return mismatch(
                    "mode",
                    "mode = \"group\" needs a `group.id`: set it in the broker properties \
                     ([kafka], or this table's `properties`)"
                        .into(),
                );
            }
            if spec.partitions != Partitions::All {
                return mismatch(
                    "partitions",
                    "in group mode the group assigns the partitions: expected no `partitions` \
                     (or \"all\"), found a list; use mode = \"assign\" to read chosen partitions"
                        .into(),
                );
            }
            if spec.on_revoke == OnRevoke::Remove {
                let keep = "or set on_revoke = \"keep\" to keep the rows of partitions the group \
                            moves to another member";
                if spec.columns.partition.is_none() {
                    return mismatch(
                        "on_revoke",
                        format!(
                            "in group mode a member removes the rows of a partition the group \
                             moves away, found by the partition column: keep that column ({keep})"
                        ),
                    );
                }
                if spec.topics.len() > 1 && spec.columns.topic.is_none() {
                    return mismatch(
                        "on_revoke",
                        format!(
                            "in group mode a member removes the rows of a partition the group \
                             moves away, and with several topics it needs the topic column to \
                             find them: add `columns = {{ topic = true }}` ({keep})"
                        ),
                    );
                }
            }
            let expected = "in group mode each partition starts at the group's committed offset: \
                 expected \"committed\", \"beginning\", \"end\" or { timestamp = … } (where a \
                 partition with no committed offset starts)";
            if !spec.offsets.per_partition.is_empty() {
                return mismatch("offsets", format!("{expected}, found a per-partition map"));
            }
            if let StartAt::Offset(o) = spec.offsets.default {
                return mismatch(
                    "offsets",
                    format!(
                        "{expected}, found `offsets = {o}`, which would start every partition at \
                         the same offset"
                    ),
                );
            }
        }
        ConsumerMode::Assign => {
            let reset = spec.properties.get("auto.offset.reset");
            let committed = std::iter::once(&spec.offsets.default)
                .chain(spec.offsets.per_partition.values())
                .any(|s| *s == StartAt::Committed);
            if committed
                && !has_group
                && let Some(reset) = reset
                && reset_offset(reset).is_none()
            {
                return mismatch(
                    "properties",
                    format!(
                        "`auto.offset.reset = \"{reset}\"` with `offsets = \"committed\"` and no \
                         `group.id`: nothing is committed, so give \"earliest\" or \"latest\" (or a \
                         `group.id`)"
                    ),
                );
            }
        }
    }
    Ok(())
}

/// Where librdkafka's `auto.offset.reset` (any of its spellings) starts a
/// partition; `None` for `error` or an unknown value.
pub(super) fn reset_offset(value: &str) -> Option<Offset> {
    match value {
        "smallest" | "earliest" | "beginning" => Some(Offset::Beginning),
        "largest" | "latest" | "end" => Some(Offset::End),
        _ => None,
    }
}

pub(super) fn partitions_of<C: ConsumerContext>(
    consumer: &BaseConsumer<C>,
    topic: &str,
) -> Result<Vec<i32>, rdkafka::error::KafkaError> {
    let metadata = consumer.fetch_metadata(Some(topic), Duration::from_secs(10))?;
    let t = metadata.topics().iter().find(|t| t.name() == topic);
    match t.map(|t| (t, t.error())) {
        Some((t, None)) => Ok(t.partitions().iter().map(|p| p.id()).collect()),
        // Not created yet: no partitions for now; they are picked up when it appears.
        Some((
            _,
            Some(rdkafka::types::RDKafkaRespErr::RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART),
        )) => Ok(Vec::new()),
        Some((_, Some(e))) => Err(rdkafka::error::KafkaError::MetadataFetch(e.into())),
        None => Ok(Vec::new()),
    }
}

/// Assigns the chosen partitions at their initial offsets.
pub(super) fn assign_initial<C: ConsumerContext>(
    consumer: &BaseConsumer<C>,
    spec: &ConsumeSpec,
    has_group: bool,
    fetch: Option<&FetchQueue>,
    resume: &BTreeMap<(String, i32), i64>,
) -> Result<BTreeSet<(String, i32)>, rdkafka::error::KafkaError> {
    let mut tpl = TopicPartitionList::new();
    let mut by_time = TopicPartitionList::new();
    let mut assigned = BTreeSet::new();
    for topic in &spec.topics {
        let partitions = match &spec.partitions {
            Partitions::All => partitions_of(consumer, topic)?,
            Partitions::List(list) => list.clone(),
        };
        if partitions.is_empty() {
            tracing::warn!(
                "topic {topic} has no partitions yet (does it exist?); they are read from the beginning when they appear"
            );
        }
        for p in partitions {
            assigned.insert((topic.clone(), p));
            if let Some(&next) = resume.get(&(topic.clone(), p)) {
                tpl.add_partition_offset(topic, p, Offset::Offset(next))?;
                continue;
            }
            let offset = match spec.offsets.for_partition(p) {
                StartAt::Committed if has_group => Offset::Stored,
                // Nothing is committed in the private group: the reset decides.
                StartAt::Committed => spec
                    .properties
                    .get("auto.offset.reset")
                    .and_then(|r| reset_offset(r))
                    .unwrap_or(Offset::End),
                StartAt::Beginning => Offset::Beginning,
                StartAt::End => Offset::End,
                StartAt::Offset(o) => Offset::Offset(*o),
                StartAt::Timestamp(ms) => {
                    by_time.add_partition_offset(topic, p, Offset::Offset(*ms))?;
                    continue;
                }
            };
            tpl.add_partition_offset(topic, p, offset)?;
        }
    }
    if by_time.count() > 0 {
        for (topic, partition, offset) in offsets_at_times(consumer, by_time)? {
            tpl.add_partition_offset(&topic, partition, offset)?;
        }
    }
    route_all(consumer, fetch, &tpl);
    consumer.assign(&tpl)?;
    Ok(assigned)
}

/// Routes the partitions of `tpl` to `fetch` (before they are assigned). A
/// partition that cannot be routed still arrives through the consumer's poll.
pub(super) fn route_all<C: ConsumerContext>(
    consumer: &BaseConsumer<C>,
    fetch: Option<&FetchQueue>,
    tpl: &TopicPartitionList,
) {
    let Some(fetch) = fetch else { return };
    for e in tpl.elements() {
        if !fetch.route(consumer, e.topic(), e.partition()) {
            tracing::debug!(
                "{}/{} is read through the consumer's poll",
                e.topic(),
                e.partition()
            );
        }
    }
}

/// The first offset at or after each partition's time (the offset field of
/// `by_time`, epoch milliseconds); the end when no message is that late.
pub(super) fn offsets_at_times<C: ConsumerContext>(
    consumer: &BaseConsumer<C>,
    by_time: TopicPartitionList,
) -> Result<Vec<(String, i32, Offset)>, rdkafka::error::KafkaError> {
    let found = consumer.offsets_for_times(by_time, Duration::from_secs(10))?;
    Ok(found
        .elements()
        .iter()
        .map(|e| {
            let offset = match e.offset() {
                Offset::Offset(o) if o >= 0 => Offset::Offset(o),
                _ => Offset::End,
            };
            (e.topic().to_string(), e.partition(), offset)
        })
        .collect())
}

/// Group mode with a start time: in a new assignment, partitions the group
/// has no committed offset for start at the first message at or after `ms`.
pub(super) fn start_uncommitted_at<C: ConsumerContext>(
    consumer: &BaseConsumer<C>,
    tpl: &mut TopicPartitionList,
    ms: i64,
) -> Result<(), rdkafka::error::KafkaError> {
    let committed = consumer.committed_offsets(tpl.clone(), Duration::from_secs(10))?;
    let mut by_time = TopicPartitionList::new();
    for e in committed.elements() {
        if !matches!(e.offset(), Offset::Offset(o) if o >= 0) {
            by_time.add_partition_offset(e.topic(), e.partition(), Offset::Offset(ms))?;
        }
    }
    if by_time.count() == 0 {
        return Ok(());
    }
    for (topic, partition, offset) in offsets_at_times(consumer, by_time)? {
        tpl.set_partition_offset(&topic, partition, offset)?;
    }
    Ok(())
}
