//! The poll loop: poll a batch, decode key and value through their codec
//! plugins, apply the bad-record policy, push the rows into the table, and
//! (in group mode) commit offsets once the rows are visible.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::Ordering::Relaxed;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use arrow_array::{ArrayRef, BooleanArray, RecordBatch};
use arrow_schema::SchemaRef;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::{Headers, Message};
use rdkafka::{Offset, TopicPartitionList};
use topictable_engine::{Engine, Writer};
use topictable_sdk::{Decoded, Decoder, MessageBatch, MessageBatchBuilder, RowErrorKind, Side};

use super::commits::{CommitTracker, commit, push_and_track, wait_until_visible};
use super::consumer::{IngestStatus, Shared, lock};
use super::dead_letter::DeadLetterQueue;
use super::fetch_queue::{FetchQueue, cached_high_watermark};
use super::rebalance::{IngestContext, drop_revoked, retain_messages, rows_of_partitions};
use super::record_error::{ErrorReason, RateLimitedLog, RecordError};
use super::registry_hold::HeldPartitions;
use super::spec::{ConsumeSpec, ConsumerMode, OnError, Partitions};
use super::start::{partitions_of, route_all};
use crate::kafka_fatal::{fatal_hint, fatal_message};

/// Message data (keys, values, headers) one ingest batch holds at most.
pub(super) const MAX_BATCH_BYTES: usize = 256 << 20;

/// Whether `builder` is a full batch: `max_batch` messages, or
/// [`MAX_BATCH_BYTES`] of message data (a batch's columns must stay far below
/// Arrow's 2 GiB offset limit whatever the message sizes).
pub(super) fn batch_full(builder: &MessageBatchBuilder, max_batch: usize) -> bool {
    builder.len() >= max_batch || builder.data_bytes() >= MAX_BATCH_BYTES
}

/// Messages taken from librdkafka per call; with librdkafka's own limit on a
/// message (`receive.message.max.bytes`, 100 MB by default) far below
/// 2 GiB over [`MAX_BATCH_BYTES`] in any sane configuration.
pub(super) const FILL_MESSAGES: usize = 1024;

pub(super) struct IngestLoop {
    /// Declared before `consumer`, so it is dropped first.
    pub(super) fetch: Option<FetchQueue>,
    pub(super) shared: Arc<Shared>,
    pub(super) consumer: BaseConsumer<IngestContext>,
    pub(super) spec: ConsumeSpec,
    pub(super) schema: SchemaRef,
    pub(super) key_decoder: Option<Box<dyn Decoder>>,
    pub(super) value_decoder: Option<Box<dyn Decoder>>,
    pub(super) writer: Writer,
    pub(super) engine: Engine,
    pub(super) tracker: Arc<Mutex<CommitTracker>>,
    pub(super) dead_letter: Option<DeadLetterQueue>,
    pub(super) assigned: BTreeSet<(String, i32)>,
    /// Whether message headers are read at all: only the header columns and
    /// the dead-letter queue use them, and librdkafka parses (and allocates
    /// for) a message's header block on every `headers()` call, even an empty one.
    pub(super) wants_headers: bool,
    pub(super) skip_log: RateLimitedLog,
    pub(super) last_partition_check: Instant,
    pub(super) last_progress_check: Instant,
    /// Whether the partitions are paused now.
    pub(super) paused: bool,
    /// Partitions held at a record whose schema registry cannot be reached.
    pub(super) held: HeldPartitions,
}

/// How often the watermarks and rows per second are refreshed.
pub(super) const PROGRESS_EVERY: Duration = Duration::from_secs(1);

/// What decoding one batch came to.
pub(super) struct BatchOutcome {
    /// The rows to push (all columns), already filtered.
    pub(super) rows: Option<RecordBatch>,
    /// Per topic/partition, the offset after the last handled message.
    pub(super) next_offsets: super::commits::NextOffsets,
    /// Set when the table must stop.
    pub(super) failure: Option<String>,
    /// Partitions to hold, at the offset of their first record whose
    /// schema registry could not be reached, with the reason.
    pub(super) holds: Vec<(String, i32, i64, String)>,
    /// Partitions read past without a hold (their holds, if any, are over).
    pub(super) read: Vec<(String, i32)>,
    /// The first row that did not fit in the batch's columns: it and the
    /// rows after it are to be decoded again as a batch of their own.
    pub(super) split_from: Option<usize>,
}

impl IngestLoop {
    pub(super) fn run(&mut self) {
        let mut builder = MessageBatchBuilder::with_capacity(self.spec.max_batch.min(65_536), 64);
        while !self.shared.stop.load(Relaxed) {
            self.apply_pause();
            if !self.paused {
                self.held.resume_due(&self.consumer);
            }
            builder.clear();
            if let Err(message) = self.poll_batch(&mut builder) {
                // What this poll took is neither pushed nor counted handled,
                // so a restart reads it again.
                self.fail(message);
                break;
            }
            if !self.ingest(&mut builder) {
                break;
            }
            self.maintain();
        }
        self.shutdown();
    }

    /// Decodes and pushes the messages of `builder`; a batch whose columns
    /// filled up is pushed up to that point, and the rest decoded again as
    /// a batch of its own. False when the table must stop.
    pub(super) fn ingest(&mut self, builder: &mut MessageBatchBuilder) -> bool {
        while !builder.is_empty() {
            let outcome = self.process(&builder.batch().view());
            let handled = outcome.next_offsets.clone();
            let pushed = push_and_track(
                &self.writer,
                &self.engine,
                &self.tracker,
                outcome.rows,
                outcome.next_offsets,
            );
            if pushed.is_ok() {
                lock(&self.shared.progress).handled(&handled);
                if !self.apply_holds(&outcome.holds, &outcome.read) {
                    return false;
                }
            }
            match pushed {
                Ok(n) => self.shared.rows.fetch_add(n as u64, Relaxed),
                Err(e) => {
                    self.fail(format!("cannot push rows into the table: {e}"));
                    return false;
                }
            };
            if let Some(message) = outcome.failure {
                self.fail(message);
                return false;
            }
            let Some(first) = outcome.split_from else {
                break;
            };
            tracing::debug!(
                table = %self.shared.name,
                "a batch's columns filled up at message {first} of {}: the rest is decoded as a batch of its own",
                builder.len()
            );
            retain_messages(builder, |i, _, _| i >= first);
        }
        true
    }

    /// Pauses or resumes the partitions when asked. While paused, the pause
    /// is applied again each round, so partitions a rebalance hands over are
    /// paused too.
    pub(super) fn apply_pause(&mut self) {
        let want = self.shared.pause.load(Relaxed);
        if want == self.paused && !want {
            return;
        }
        let assignment = match self.consumer.assignment() {
            Ok(tpl) => tpl,
            Err(e) => return tracing::warn!(table = %self.shared.name, "pause: {e}"),
        };
        let done = match want {
            true => self.consumer.pause(&assignment),
            false => self.consumer.resume(&assignment),
        };
        if let Err(e) = done {
            return tracing::warn!(table = %self.shared.name, "pause/resume: {e}");
        }
        if want != self.paused {
            // Resuming resumes every partition, held ones too: they are read
            // again from where they were held (and held again if need be).
            self.held.clear();
            tracing::info!(table = %self.shared.name, "{}", if want { "paused" } else { "resumed" });
            self.paused = want;
            let mut status = lock(&self.shared.status);
            // Resuming also ends a wait for the registry (the holds were
            // cleared); a partition still waiting is held again at once.
            if matches!(
                *status,
                IngestStatus::Running | IngestStatus::Paused | IngestStatus::WaitingForRegistry(_)
            ) {
                *status = if want {
                    IngestStatus::Paused
                } else {
                    IngestStatus::Running
                };
            }
        }
        if want {
            // Nothing to fetch: wait here rather than spin.
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Holds the partitions a batch could not decode for want of the
    /// schema registry, releases those it read past, and says so in the
    /// status (`registry_hold.rs`).
    /// A partition no longer assigned (a rebalance took it) is not held: its
    /// new owner reads it from the committed offset, which is not past the
    /// record. Fails the table (and returns false) when a hold cannot be
    /// made, since the records from the held one on would be skipped.
    pub(super) fn apply_holds(
        &mut self,
        holds: &[(String, i32, i64, String)],
        read: &[(String, i32)],
    ) -> bool {
        for (topic, partition) in read {
            self.held.release(topic, *partition);
        }
        let mut assigned = None;
        if !holds.is_empty() || !self.held.is_empty() {
            match self.consumer.assignment() {
                Ok(tpl) => {
                    let now: BTreeSet<(String, i32)> = tpl
                        .elements()
                        .iter()
                        .map(|e| (e.topic().to_string(), e.partition()))
                        .collect();
                    self.held.retain_assigned(&now);
                    assigned = Some(now);
                }
                Err(e) => tracing::warn!(table = %self.shared.name, "assignment: {e}"),
            }
        }
        for (topic, partition, offset, reason) in holds {
            if assigned
                .as_ref()
                .is_some_and(|a| !a.contains(&(topic.clone(), *partition)))
            {
                continue;
            }
            if let Err(e) = self
                .held
                .hold(&self.consumer, topic, *partition, *offset, reason)
            {
                self.fail(format!(
                    "cannot hold {topic}/{partition} at offset {offset} while the schema registry is unavailable: {e}"
                ));
                return false;
            }
            // Where the partition goes on from (a restart resumes here).
            let position = BTreeMap::from([((topic.clone(), *partition), *offset)]);
            lock(&self.shared.progress).handled(&position);
            tracing::warn!(
                table = %self.shared.name,
                "waiting for the schema registry: {topic}/{partition} is held at offset {offset}: {reason}"
            );
        }
        let mut status = lock(&self.shared.status);
        match (&*status, self.held.is_empty()) {
            (IngestStatus::Running | IngestStatus::WaitingForRegistry(_), false) => {
                *status = IngestStatus::WaitingForRegistry(format!(
                    "Waiting for schema registry: {}",
                    self.held.reason()
                ));
            }
            (IngestStatus::WaitingForRegistry(_), true) => {
                tracing::info!(table = %self.shared.name, "the schema registry answers again");
                *status = IngestStatus::Running;
            }
            _ => {}
        }
        true
    }

    pub(super) fn fail(&self, message: String) {
        tracing::error!(table = %self.shared.name, "{message}");
        *lock(&self.shared.status) = IngestStatus::Failed(message);
    }

    /// Takes the next batch of messages: up to `max_batch`, waiting up to
    /// 100 ms for the first one. An error no retry cures (see
    /// `fatal_error`) is returned as the table's failure message.
    pub(super) fn poll_batch(&mut self, builder: &mut MessageBatchBuilder) -> Result<(), String> {
        if let Some(message) = self.consumer.context().fatal.get() {
            return Err(message);
        }
        let polled = if self.fetch.is_some() {
            // Events, and the messages of any partition that was not routed.
            self.poll_consumer(builder, Duration::ZERO)
                .and_then(|()| self.take_fetched(builder))
        } else {
            self.poll_consumer(builder, Duration::from_millis(100))
        };
        self.shared
            .messages
            .fetch_add(builder.len() as u64, Relaxed);
        polled
    }

    /// Messages (and events) through rdkafka's `poll`, until the consumer's
    /// queue is empty or the batch is full.
    pub(super) fn poll_consumer(
        &mut self,
        builder: &mut MessageBatchBuilder,
        first_wait: Duration,
    ) -> Result<(), String> {
        let mut timeout = first_wait;
        while !batch_full(builder, self.spec.max_batch) {
            match self.consumer.poll(timeout) {
                None => {
                    // A rebalance ends `poll` with nothing: every message
                    // taken so far came before it.
                    let revoked = std::mem::take(&mut *lock(&self.consumer.context().revoked));
                    if !revoked.is_empty() {
                        drop_revoked(builder, &revoked);
                    }
                    self.remove_lost_rows()?;
                    break;
                }
                Some(Err(e)) => {
                    if let Some(hint) = e.rdkafka_error_code().and_then(fatal_hint) {
                        return Err(fatal_message(&e, hint));
                    }
                    tracing::warn!(table = %self.shared.name, "kafka: {e}");
                    break;
                }
                Some(Ok(m)) => {
                    let headers: Vec<(&str, Option<&[u8]>)> = match self.wants_headers {
                        true => m
                            .headers()
                            .map(|h| h.iter().map(|h| (h.key, h.value)).collect())
                            .unwrap_or_default(),
                        false => Vec::new(),
                    };
                    builder.push(
                        m.topic(),
                        m.partition(),
                        m.offset(),
                        m.timestamp().to_millis(),
                        m.key(),
                        m.payload(),
                        &headers,
                    );
                }
            }
            timeout = Duration::ZERO;
        }
        Ok(())
    }

    /// Messages of the routed partitions, a librdkafka batch at a time.
    pub(super) fn take_fetched(&mut self, builder: &mut MessageBatchBuilder) -> Result<(), String> {
        let Some(fetch) = self.fetch.as_mut() else {
            return Ok(());
        };
        let mut fatal = None;
        let (name, wants_headers) = (&self.shared.name, self.wants_headers);
        let max_batch = self.spec.max_batch;
        // Wait (for one message) only when there is nothing to hand on yet.
        let mut wait = builder.is_empty();
        while !batch_full(builder, max_batch) {
            let room = max_batch - builder.len();
            // At most FILL_MESSAGES at a time, so the byte bound is checked often.
            let n = match wait {
                true => fetch.fill(100, 1),
                false => fetch.fill(0, room.min(FILL_MESSAGES)),
            };
            fetch.for_each(|m| {
                if let Some(code) = m.error {
                    if let Some(hint) = fatal_hint(code) {
                        let at = format!("{}/{}@{}: {code}", m.topic, m.partition, m.offset);
                        fatal.get_or_insert_with(|| fatal_message(&at, hint));
                        return;
                    }
                    tracing::warn!(
                        table = %name,
                        "kafka: {}/{}@{}: {code}",
                        m.topic,
                        m.partition,
                        m.offset
                    );
                    return;
                }
                let headers = if wants_headers {
                    m.headers()
                } else {
                    Vec::new()
                };
                builder.push(
                    m.topic,
                    m.partition,
                    m.offset,
                    m.timestamp,
                    m.key,
                    m.value,
                    &headers,
                );
            });
            fetch.release();
            if let Some(message) = fatal {
                return Err(message);
            }
            if n == 0 {
                break;
            }
            wait = false;
        }
        Ok(())
    }

    /// Removes the rows of the partitions a rebalance moved to another
    /// member (`on_revoke = "remove"`), at the next cycle.
    pub(super) fn remove_lost_rows(&mut self) -> Result<(), String> {
        let lost = std::mem::take(&mut *lock(&self.consumer.context().lost));
        if lost.is_empty() {
            return Ok(());
        }
        let Some(partition) = self.spec.columns.partition.clone() else {
            return Ok(());
        };
        tracing::info!(
            table = %self.shared.name,
            "partitions moved to another member; removing their rows: {lost:?}"
        );
        let filter = rows_of_partitions(lost, partition, self.spec.columns.topic.clone());
        self.writer
            .remove_where(filter)
            .map_err(|e| format!("removing the rows of partitions moved away: {e}"))
    }

    pub(super) fn decode(
        decoder: &mut Option<Box<dyn Decoder>>,
        batch: &MessageBatch<'_>,
    ) -> Option<Result<Decoded, String>> {
        decoder
            .as_mut()
            .map(|d| d.decode(batch).map_err(|e| e.to_string()))
    }

    /// Decodes one batch and applies the bad-record policy.
    pub(super) fn process(&mut self, batch: &MessageBatch<'_>) -> BatchOutcome {
        let n = batch.len();
        let received = chrono::Utc::now().timestamp_millis();
        let started = Instant::now();
        let key = Self::decode(&mut self.key_decoder, batch);
        let value = Self::decode(&mut self.value_decoder, batch);
        self.shared
            .decode_nanos
            .fetch_add(started.elapsed().as_nanos() as u64, Relaxed);

        // Per partition, the first row the decoders could not decode for want
        // of the schema registry: from it on, the partition is held, not judged.
        let id = |i: usize| (batch.topic_ids[i], batch.partitions[i]);
        let mut held_from: BTreeMap<(u32, i32), (usize, &str)> = BTreeMap::new();
        for decoded in [&key, &value].into_iter().flatten().flatten() {
            for e in decoded
                .errors
                .iter()
                .filter(|e| e.kind == RowErrorKind::RetryLater)
            {
                let first = held_from.entry(id(e.row)).or_insert((e.row, &e.message));
                if e.row < first.0 {
                    *first = (e.row, &e.message);
                }
            }
        }
        let held = |i: usize| held_from.get(&id(i)).is_some_and(|&(first, _)| i >= first);

        // The first row that did not fit in the batch's columns: it and the
        // rows after it are decoded again as a batch of their own. As the
        // first row of a batch, it does not fit at all: then it is bad.
        let split_from = [&key, &value]
            .into_iter()
            .flatten()
            .flatten()
            .flat_map(|d| d.errors.iter())
            .filter(|e| e.kind == RowErrorKind::BatchFull && e.row > 0)
            .map(|e| e.row)
            .min();
        let later = |i: usize| split_from.is_some_and(|r| i >= r);

        // Every bad row, first reason wins (key before value).
        let mut bad: BTreeMap<usize, RecordError> = BTreeMap::new();
        for (side, out) in [(Side::Key, &key), (Side::Value, &value)] {
            match out {
                Some(Ok(decoded)) => {
                    for e in decoded
                        .errors
                        .iter()
                        .filter(|e| !held(e.row) && !later(e.row))
                    {
                        bad.entry(e.row).or_insert_with(|| {
                            RecordError::new(batch, e.row, side, e.message.clone(), false)
                        });
                    }
                }
                Some(Err(message)) => {
                    for row in (0..n).filter(|&row| !held(row) && !later(row)) {
                        bad.entry(row).or_insert_with(|| {
                            RecordError::new(batch, row, side, message.clone(), true)
                        });
                    }
                }
                None => {}
            }
        }
        for error in bad.values() {
            self.shared.counts.add_decode_error(ErrorReason::of(error));
        }

        // How many rows (in order) this batch handles, and whether to stop.
        let mut handled = split_from.unwrap_or(n);
        let mut failure = None;
        match &self.spec.on_error {
            OnError::Fail => {
                if let Some((&row, error)) = bad.iter().next() {
                    handled = row;
                    failure = Some(format!(
                        "{error} (on_error = fail; set on_error = \"skip\" or \"dead-letter\" to go on)"
                    ));
                }
            }
            OnError::Skip => {
                for error in bad.values() {
                    self.skip_log.warn(&self.shared.name, error);
                }
                self.shared.counts.add_skipped(bad.len() as u64);
            }
            OnError::DeadLetter { .. } => {
                let dlq = self.dead_letter.as_ref().expect("created with the policy");
                let sent = bad
                    .iter()
                    .try_for_each(|(&row, error)| dlq.send(batch, row, error))
                    .and_then(|()| dlq.flush(&|| self.shared.stop.load(Relaxed)));
                match sent {
                    Ok(()) => self.shared.counts.add_dead_lettered(bad.len() as u64),
                    Err(e) => {
                        // Nothing of this batch is counted as handled: it is re-read after a restart.
                        handled = 0;
                        failure = Some(e);
                    }
                }
            }
        }

        // Per (topic id, partition) first, so topic names are copied once per
        // partition rather than once per message.
        // Messages come in runs of one partition, so the map is touched only
        // at the last message of each run.
        let mut by_id: BTreeMap<(u32, i32), i64> = BTreeMap::new();
        if held_from.is_empty() {
            for i in 0..handled {
                if i + 1 == handled || id(i + 1) != id(i) {
                    by_id.insert(id(i), batch.offsets[i] + 1);
                }
            }
        } else {
            for i in (0..handled).filter(|&i| !held(i)) {
                by_id.insert(id(i), batch.offsets[i] + 1);
            }
        }
        let topic = |topic_id: u32| {
            let name = batch.topic_names.get(topic_id as usize).unwrap_or_default();
            String::from_utf8_lossy(name).into_owned()
        };
        // A partition is held only if the batch got as far as the record.
        let holds: Vec<(String, i32, i64, String)> = held_from
            .iter()
            .filter(|&(_, &(first, _))| first < handled)
            .map(|(&(t, p), &(first, why))| (topic(t), p, batch.offsets[first], why.to_string()))
            .collect();
        let read: Vec<(String, i32)> = by_id
            .keys()
            .filter(|k| !held_from.contains_key(k))
            .map(|&(t, p)| (topic(t), p))
            .collect();
        let next_offsets = by_id
            .into_iter()
            .map(|((topic_id, partition), next)| ((topic(topic_id), partition), next))
            .collect();
        // The per-message path looks at holds only when there are any.
        let any_held = !held_from.is_empty();
        let keep = (0..n).map(|i| i < handled && !bad.contains_key(&i) && !(any_held && held(i)));
        let keep = BooleanArray::from_iter(keep.map(Some));
        let rows = if keep.true_count() == 0 {
            None
        } else {
            match self.assemble(batch, received, key, value, &keep) {
                Ok(rows) => Some(rows),
                Err(e) => {
                    return BatchOutcome {
                        rows: None,
                        next_offsets: BTreeMap::new(),
                        failure: Some(e),
                        holds: Vec::new(),
                        read: Vec::new(),
                        split_from: None,
                    };
                }
            }
        };
        BatchOutcome {
            split_from: split_from.filter(|_| failure.is_none()),
            rows,
            next_offsets,
            failure,
            holds,
            read,
        }
    }

    /// Puts the standard, key and value columns side by side and keeps the good rows.
    pub(super) fn assemble(
        &self,
        batch: &MessageBatch<'_>,
        received: i64,
        key: Option<Result<Decoded, String>>,
        value: Option<Result<Decoded, String>>,
        keep: &BooleanArray,
    ) -> Result<RecordBatch, String> {
        let mut columns: Vec<ArrayRef> = self.spec.columns.build(batch, received);
        for decoded in [key, value].into_iter().flatten() {
            let decoded = decoded?;
            columns.extend(decoded.batch.columns().iter().cloned());
        }
        let all = RecordBatch::try_new(self.schema.clone(), columns)
            .map_err(|e| format!("assembling rows: {e}"))?;
        if keep.true_count() == keep.len() {
            Ok(all)
        } else {
            arrow_select::filter::filter_record_batch(&all, keep)
                .map_err(|e| format!("filtering rows: {e}"))
        }
    }

    /// Refreshes the watermarks (librdkafka's cached ones: no broker round
    /// trip), the positions of partitions not read from yet, and the rate.
    pub(super) fn refresh_progress(&mut self) {
        let now = Instant::now();
        if now.duration_since(self.last_progress_check) < PROGRESS_EVERY {
            return;
        }
        self.last_progress_check = now;
        let positions = self.consumer.position().ok();
        let mut progress = lock(&self.shared.progress);
        for e in positions.iter().flat_map(|tpl| tpl.elements()) {
            if let Some(high) = cached_high_watermark(&self.consumer, e.topic(), e.partition()) {
                progress.high_watermark(e.topic(), e.partition(), high);
            }
            if let Offset::Offset(o) = e.offset() {
                progress.position_if_unknown(e.topic(), e.partition(), o);
            }
        }
        progress.sample(self.shared.rows.load(Relaxed), now);
    }

    /// Periodic work between batches: commits, progress, and new partitions.
    pub(super) fn maintain(&mut self) {
        self.skip_log.flush(&self.shared.name, false);
        self.refresh_progress();
        if !self.held.is_empty() {
            // Drops holds a rebalance made moot, and says so in the status.
            self.apply_holds(&[], &[]);
        }
        if self.spec.mode == ConsumerMode::Group {
            let offsets = lock(&self.tracker).take_visible(self.engine.cycle());
            if let Err(e) = commit(&self.consumer, &offsets) {
                tracing::warn!(table = %self.shared.name, "commit failed: {e}");
            }
        }
        if self.spec.mode == ConsumerMode::Assign
            && self.spec.partitions == Partitions::All
            && self.last_partition_check.elapsed() >= Duration::from_secs(5)
        {
            self.last_partition_check = Instant::now();
            self.pick_up_new_partitions();
        }
    }

    /// Partitions added to a topic after start are read from their beginning.
    pub(super) fn pick_up_new_partitions(&mut self) {
        let mut tpl = TopicPartitionList::new();
        for topic in &self.spec.topics {
            let Ok(partitions) = partitions_of(&self.consumer, topic) else {
                continue;
            };
            for p in partitions {
                if self.assigned.insert((topic.clone(), p)) {
                    tracing::info!(table = %self.shared.name, "new partition {topic}/{p}: reading it from the beginning");
                    let _ = tpl.add_partition_offset(topic, p, Offset::Beginning);
                }
            }
        }
        route_all(&self.consumer, self.fetch.as_ref(), &tpl);
        if tpl.count() > 0
            && let Err(e) = self.consumer.incremental_assign(&tpl)
        {
            tracing::warn!(table = %self.shared.name, "assigning new partitions failed: {e}");
        }
    }

    pub(super) fn shutdown(&mut self) {
        self.skip_log.flush(&self.shared.name, true);
        if self.spec.mode == ConsumerMode::Group {
            let offsets = wait_until_visible(
                &mut lock(&self.tracker),
                &self.engine,
                Duration::from_secs(10),
            );
            if let Err(e) = commit(&self.consumer, &offsets) {
                tracing::warn!(table = %self.shared.name, "final commit failed: {e}");
            }
            self.consumer.unsubscribe();
        }
        let mut status = lock(&self.shared.status);
        if matches!(
            *status,
            IngestStatus::Running | IngestStatus::WaitingForRegistry(_)
        ) {
            *status = IngestStatus::Stopped;
        }
    }
}
