//! At-least-once commits: offsets are committed only once the rows they
//! cover are visible in a completed update cycle.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use arrow_array::RecordBatch;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer, ConsumerContext};
use rdkafka::{Offset, TopicPartitionList};
use topictable_engine::{Engine, Writer};

/// Per topic and partition, the offset after the last message handled.
pub(crate) type NextOffsets = BTreeMap<(String, i32), i64>;

/// Offsets pushed to the table but maybe not yet visible.
#[derive(Debug, Default)]
pub(crate) struct CommitTracker {
    /// `(engine cycle read after the push, next offset per topic/partition)`, oldest first.
    pending: VecDeque<(u64, NextOffsets)>,
    /// Per topic/partition, the offset after the last message pushed: where
    /// this table goes on if the partition is assigned to it again.
    pushed_up_to: NextOffsets,
}

impl CommitTracker {
    /// Records that rows up to these offsets are in the writer's buffer, and
    /// that `cycle` was the engine's last completed cycle when the push had
    /// returned. Read before the push, `cycle` would be wrong: a push into a
    /// full buffer blocks across any number of cycles.
    pub(crate) fn pushed(&mut self, cycle: u64, next_offsets: NextOffsets) {
        if !next_offsets.is_empty() {
            for (tp, &next) in &next_offsets {
                let up_to = self.pushed_up_to.entry(tp.clone()).or_insert(next);
                *up_to = (*up_to).max(next);
            }
            self.pending.push_back((cycle, next_offsets));
        }
    }

    /// The offset after the last message of `topic`/`partition` pushed into
    /// the table, if any was.
    pub(crate) fn pushed_up_to(&self, topic: &str, partition: i32) -> Option<i64> {
        self.pushed_up_to
            .get(&(topic.to_string(), partition))
            .copied()
    }

    /// Forgets the rows of `topic`/`partition` pushed so far (they were
    /// removed from the table): if the partition is assigned again, it starts
    /// at the group's committed offset.
    pub(crate) fn forget(&mut self, topic: &str, partition: i32) {
        self.pushed_up_to.remove(&(topic.to_string(), partition));
    }

    /// Takes the offsets whose rows are surely visible at `completed_cycle`:
    /// a push seen at cycle `c` is drained by cycle `c + 1` or, if it raced
    /// with that cycle's start, by `c + 2`.
    pub(crate) fn take_visible(&mut self, completed_cycle: u64) -> NextOffsets {
        let mut out = BTreeMap::new();
        while self
            .pending
            .front()
            .is_some_and(|(c, _)| c + 2 <= completed_cycle)
        {
            let (_, offsets) = self.pending.pop_front().expect("checked");
            out.extend(offsets);
        }
        out
    }

    /// The cycle the newest pending push needs before it is visible.
    pub(crate) fn needed_cycle(&self) -> Option<u64> {
        self.pending.back().map(|(c, _)| c + 2)
    }
}

/// Pushes `rows` (if any) into `writer`, then records `next_offsets` in
/// `tracker` with the cycle read after the push returned. Returns the rows pushed.
///
/// Once `push` returns, the rows are in the buffer or already drained. The
/// cycle after the one read here may have drained the buffer just before
/// the rows went in, but the cycle after that starts later, so it takes
/// them: they are visible by `cycle + 2` (see [`CommitTracker::take_visible`]).
pub(crate) fn push_and_track(
    writer: &Writer,
    engine: &Engine,
    tracker: &Mutex<CommitTracker>,
    rows: Option<RecordBatch>,
    next_offsets: NextOffsets,
) -> topictable_engine::Result<usize> {
    let n = rows.as_ref().map_or(0, RecordBatch::num_rows);
    if let Some(rows) = rows {
        writer.push(rows)?;
    }
    let cycle = engine.cycle();
    tracker
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .pushed(cycle, next_offsets);
    Ok(n)
}

/// Commits `offsets` synchronously.
pub(crate) fn commit<C: ConsumerContext>(
    consumer: &BaseConsumer<C>,
    offsets: &NextOffsets,
) -> Result<(), rdkafka::error::KafkaError> {
    if offsets.is_empty() {
        return Ok(());
    }
    let mut tpl = TopicPartitionList::new();
    for ((topic, partition), next) in offsets {
        tpl.add_partition_offset(topic, *partition, Offset::Offset(*next))?;
    }
    consumer.commit(&tpl, CommitMode::Sync)
}

/// Waits (bounded) until every pending push is visible, then returns all of it.
pub(crate) fn wait_until_visible(
    tracker: &mut CommitTracker,
    engine: &Engine,
    limit: Duration,
) -> NextOffsets {
    if let Some(needed) = tracker.needed_cycle() {
        let deadline = Instant::now() + limit;
        while engine.cycle() < needed && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(5));
        }
    }
    tracker.take_visible(engine.cycle())
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow_array::Int64Array;
    use arrow_schema::{DataType, Field, Schema};
    use topictable_engine::{EngineConfig, TableType};

    use super::*;

    /// A push into a full buffer blocks across cycles; the offsets it covers
    /// must not become committable before all of its rows are visible.
    #[test]
    fn a_push_that_blocks_across_cycles_is_committed_only_once_visible() {
        let engine = Engine::with_config(EngineConfig {
            writer_capacity_rows: 2,
            ..EngineConfig::default()
        });
        let schema = Arc::new(Schema::new(vec![Field::new("x", DataType::Int64, false)]));
        let table = engine
            .source_table("t", schema.clone(), TableType::Append)
            .unwrap();
        let writer = table.writer().unwrap();
        let tracker = Arc::new(Mutex::new(CommitTracker::default()));
        let rows = RecordBatch::try_new(schema, vec![Arc::new(Int64Array::from_iter_values(0..5))])
            .unwrap();
        let offsets = BTreeMap::from([(("t".to_string(), 0), 5)]);
        let pusher = {
            let (writer, engine, tracker) = (writer.clone(), engine.clone(), tracker.clone());
            std::thread::spawn(move || {
                push_and_track(&writer, &engine, &tracker, Some(rows), offsets).unwrap()
            })
        };
        // Run a cycle only while the push is stuck on a full buffer, so the
        // 5 rows land over three cycles: 2, 2, then 1.
        let stuck_or_done = || {
            let deadline = Instant::now() + Duration::from_secs(10);
            while writer.buffered_rows() < 2 && !pusher.is_finished() {
                assert!(
                    Instant::now() < deadline,
                    "the push neither blocked nor returned"
                );
                std::thread::sleep(Duration::from_millis(1));
            }
        };
        let check = |tracker: &Mutex<CommitTracker>| {
            let committable = tracker.lock().unwrap().take_visible(engine.cycle());
            if !committable.is_empty() {
                assert_eq!(
                    table.num_rows().unwrap(),
                    5,
                    "offsets committable at cycle {} before every row is visible",
                    engine.cycle()
                );
            }
            !committable.is_empty()
        };
        loop {
            stuck_or_done();
            if pusher.is_finished() {
                break;
            }
            engine.run_cycle().unwrap();
            check(&tracker);
        }
        assert_eq!(pusher.join().unwrap(), 5);
        // Two cycles have completed and one row still waits in the buffer.
        assert_eq!(writer.buffered_rows(), 1);
        let mut committed = check(&tracker);
        for _ in 0..3 {
            if committed {
                break;
            }
            engine.run_cycle().unwrap();
            committed = check(&tracker);
        }
        assert!(committed, "the offsets became committable once visible");
    }

    #[test]
    fn offsets_become_committable_two_cycles_after_the_push() {
        let mut t = CommitTracker::default();
        t.pushed(4, BTreeMap::from([(("t".to_string(), 0), 10)]));
        t.pushed(
            5,
            BTreeMap::from([(("t".to_string(), 0), 20), (("t".to_string(), 1), 3)]),
        );
        assert!(t.take_visible(5).is_empty());
        assert_eq!(
            t.take_visible(6),
            BTreeMap::from([(("t".to_string(), 0), 10)])
        );
        assert_eq!(t.needed_cycle(), Some(7));
        let rest = t.take_visible(9);
        assert_eq!(
            rest,
            BTreeMap::from([(("t".to_string(), 0), 20), (("t".to_string(), 1), 3)])
        );
        assert_eq!(t.needed_cycle(), None);
    }
}
