//! At-least-once commits: offsets are committed only once the rows they
//! cover are visible in a completed update cycle.

use std::collections::{BTreeMap, VecDeque};
use std::time::{Duration, Instant};

use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer, ConsumerContext};
use rdkafka::{Offset, TopicPartitionList};
use topictable_engine::Engine;

/// Per topic and partition, the offset after the last message handled.
pub(crate) type NextOffsets = BTreeMap<(String, i32), i64>;

/// Offsets pushed to the table but maybe not yet visible.
#[derive(Debug, Default)]
pub(crate) struct CommitTracker {
    /// `(engine cycle at push time, next offset per topic/partition)`, oldest first.
    pending: VecDeque<(u64, NextOffsets)>,
}

impl CommitTracker {
    /// Records that rows up to these offsets were pushed while the engine's
    /// last completed cycle was `cycle`.
    pub(crate) fn pushed(&mut self, cycle: u64, next_offsets: NextOffsets) {
        if !next_offsets.is_empty() {
            self.pending.push_back((cycle, next_offsets));
        }
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
    use super::*;

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
