//! Group mode's rebalances: the consumer context that commits before a
//! hand-over, drops messages of partitions taken away, continues after its
//! own rows, and tells the poll loop which partitions moved to another
//! member so their rows can be removed.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use arrow_array::RecordBatch;
use rdkafka::consumer::{BaseConsumer, Consumer, ConsumerContext, Rebalance, RebalanceProtocol};
use rdkafka::types::RDKafkaRespErr;
use rdkafka::{ClientContext, Offset, TopicPartitionList};
use topictable_engine::Engine;
use topictable_sdk::MessageBatchBuilder;

use super::commits::{CommitTracker, commit, wait_until_visible};
use super::consumer::lock;
use super::spec::{ConsumeSpec, ConsumerMode, OnRevoke};
use super::start::start_uncommitted_at;
use crate::kafka_fatal::FatalErrorSlot;

pub(super) struct IngestContext {
    pub(super) tracker: Arc<Mutex<CommitTracker>>,
    pub(super) engine: Engine,
    pub(super) table: String,
    /// Group mode with `offsets = { timestamp = … }`: where partitions the
    /// group has no committed offset for start (epoch milliseconds).
    pub(super) start_time: Option<i64>,
    /// A refused login or the like, reported to the context, not by `poll`.
    pub(super) fatal: FatalErrorSlot,
    /// Partitions revoked by a rebalance since the poll loop last looked:
    /// messages of theirs it polled before the rebalance must not be pushed.
    pub(super) revoked: Mutex<BTreeSet<(String, i32)>>,
    /// `on_revoke = "remove"`: whether to track [`Self::lost`] at all.
    pub(super) remove_lost: bool,
    /// Partitions revoked and not (yet) assigned again: an eager rebalance
    /// revokes every partition, then assigns most of them back.
    pub(super) revoked_pending: Mutex<BTreeSet<(String, i32)>>,
    /// Partitions a completed rebalance moved to another member, whose rows
    /// the poll loop removes from the table.
    pub(super) lost: Mutex<BTreeSet<(String, i32)>>,
}

impl ClientContext for IngestContext {
    fn error(&self, error: rdkafka::error::KafkaError, reason: &str) {
        self.fatal.report(&error, reason);
    }
}

impl IngestContext {
    /// At an assignment: the partitions revoked before it and not in it
    /// moved to another member. Their rows are to go, and if one comes back
    /// later it starts at the group's commit, not after rows no longer held.
    pub(super) fn note_lost(&self, assigned: &TopicPartitionList) {
        if !self.remove_lost {
            return;
        }
        let mut pending = std::mem::take(&mut *lock(&self.revoked_pending));
        for e in assigned.elements() {
            pending.remove(&(e.topic().to_string(), e.partition()));
        }
        if pending.is_empty() {
            return;
        }
        let mut tracker = lock(&self.tracker);
        for (topic, partition) in &pending {
            tracker.forget(topic, *partition);
        }
        lock(&self.lost).extend(pending);
    }

    /// A partition assigned (again) to a table that already holds rows of it
    /// goes on after the last of them when the group's commit is behind
    /// them: after a broker restart or a lost session the commit may be, and
    /// reading from it would put those rows in the table twice. A commit
    /// ahead of them (another member read on) is kept.
    pub(super) fn go_on_from_own_rows(
        &self,
        consumer: &BaseConsumer<Self>,
        tpl: &mut TopicPartitionList,
    ) {
        let ours: Vec<(String, i32, i64)> = {
            let tracker = lock(&self.tracker);
            tpl.elements()
                .iter()
                .filter_map(|e| {
                    let up_to = tracker.pushed_up_to(e.topic(), e.partition())?;
                    Some((e.topic().to_string(), e.partition(), up_to))
                })
                .collect()
        };
        if ours.is_empty() {
            return;
        }
        let committed = consumer.committed_offsets(tpl.clone(), Duration::from_secs(5));
        for (topic, partition, up_to) in ours {
            let commit = committed
                .as_ref()
                .ok()
                .and_then(|c| c.find_partition(&topic, partition))
                .and_then(|e| match e.offset() {
                    Offset::Offset(o) => Some(o),
                    _ => None,
                });
            if commit.is_none_or(|c| c < up_to) {
                tracing::info!(
                    table = %self.table,
                    "{topic}/{partition} assigned again: going on at offset {up_to}, after the rows the table holds (the group's commit: {commit:?})"
                );
                if let Err(e) = tpl.set_partition_offset(&topic, partition, Offset::Offset(up_to)) {
                    tracing::warn!(table = %self.table, "{topic}/{partition}: {e}");
                }
            }
        }
    }
}

impl ConsumerContext for IngestContext {
    fn rebalance(
        &self,
        consumer: &BaseConsumer<Self>,
        err: RDKafkaRespErr,
        tpl: &mut TopicPartitionList,
    ) {
        let assign = err == RDKafkaRespErr::RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS;
        if assign
            && let Some(ms) = self.start_time
            && let Err(e) = start_uncommitted_at(consumer, tpl, ms)
        {
            tracing::warn!(
                table = %self.table,
                "cannot find the offsets for the start time ({e}); partitions with no committed offset start at the end"
            );
        }
        if assign {
            self.note_lost(tpl);
            self.go_on_from_own_rows(consumer, tpl);
        }
        // The rest is rdkafka's default `rebalance`, which an override cannot call.
        let rebalance = match err {
            RDKafkaRespErr::RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS => Rebalance::Assign(tpl),
            RDKafkaRespErr::RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS => Rebalance::Revoke(tpl),
            e => Rebalance::Error(rdkafka::error::KafkaError::Rebalance(e.into())),
        };
        self.pre_rebalance(consumer, &rebalance);
        let cooperative = matches!(
            consumer.rebalance_protocol(),
            RebalanceProtocol::Cooperative
        );
        let result = match (assign, cooperative) {
            (true, true) => consumer.incremental_assign(tpl),
            (true, false) => consumer.assign(tpl),
            (false, true) => consumer.incremental_unassign(tpl),
            (false, false) => consumer.unassign(),
        };
        if let Err(e) = result {
            tracing::warn!(table = %self.table, "rebalance: {e}");
        }
        self.post_rebalance(consumer, &rebalance);
    }

    fn pre_rebalance(&self, consumer: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        if let Rebalance::Revoke(tpl) = rebalance {
            let revoked: Vec<(String, i32)> = tpl
                .elements()
                .iter()
                .map(|e| (e.topic().to_string(), e.partition()))
                .collect();
            lock(&self.revoked).extend(revoked.iter().cloned());
            if self.remove_lost {
                lock(&self.revoked_pending).extend(revoked);
            }
            // Hand over cleanly: what we made visible is committed before
            // another member takes the partitions.
            let offsets = wait_until_visible(
                &mut lock(&self.tracker),
                &self.engine,
                Duration::from_secs(10),
            );
            if let Err(e) = commit(consumer, &offsets) {
                tracing::warn!(table = %self.table, "commit before rebalance failed: {e}");
            }
        }
    }
}

/// Removes from `builder` the messages of `revoked` partitions: polled
/// before a rebalance took the partitions away, they are another member's
/// now, which reads them from the committed offset. Pushing them here too
/// would put them in two members' tables.
pub(super) fn drop_revoked(builder: &mut MessageBatchBuilder, revoked: &BTreeSet<(String, i32)>) {
    retain_messages(builder, |_, topic, partition| {
        !revoked.contains(&(topic.to_string(), partition))
    });
}

/// Keeps in `builder` the messages for which `keep(index, topic, partition)`
/// says so, in order.
pub(super) fn retain_messages(
    builder: &mut MessageBatchBuilder,
    keep: impl Fn(usize, &str, i32) -> bool,
) {
    let batch = builder.finish();
    let view = batch.view();
    for i in 0..view.len() {
        let (topic, partition) = (view.topic(i), view.partitions[i]);
        if !keep(i, topic, partition) {
            continue;
        }
        let headers: Vec<(&str, Option<&[u8]>)> = view
            .headers(i)
            .map(|(k, v)| (std::str::from_utf8(k).unwrap_or_default(), v))
            .collect();
        builder.push(
            topic,
            partition,
            view.offsets[i],
            Some(view.timestamps[i]),
            view.keys.get(i),
            view.values.get(i),
            &headers,
        );
    }
}

/// Whether the table removes the rows of partitions the group moves away.
pub(super) fn removes_lost_partitions(spec: &ConsumeSpec) -> bool {
    spec.mode == ConsumerMode::Group && spec.on_revoke == OnRevoke::Remove
}

/// Picks the rows of `lost` partitions by the table's partition column (and
/// topic column, if it has one).
pub(super) fn rows_of_partitions(
    lost: BTreeSet<(String, i32)>,
    partition_column: String,
    topic_column: Option<String>,
) -> topictable_engine::RowFilter {
    Arc::new(move |batch: &RecordBatch| {
        use arrow_array::cast::AsArray;
        let missing = |c: &str| arrow_schema::ArrowError::SchemaError(format!("no column `{c}`"));
        let partitions = batch
            .column_by_name(&partition_column)
            .ok_or_else(|| missing(&partition_column))?
            .as_primitive_opt::<arrow_array::types::Int32Type>()
            .ok_or_else(|| missing(&partition_column))?;
        let topics = match &topic_column {
            Some(c) => Some(
                batch
                    .column_by_name(c)
                    .ok_or_else(|| missing(c))?
                    .as_string_opt::<i32>()
                    .ok_or_else(|| missing(c))?,
            ),
            None => None,
        };
        Ok((0..batch.num_rows())
            .map(|i| {
                let p = partitions.value(i);
                Some(match topics {
                    Some(t) => lost.iter().any(|(lt, lp)| *lp == p && lt == t.value(i)),
                    None => lost.iter().any(|(_, lp)| *lp == p),
                })
            })
            .collect())
    })
}
