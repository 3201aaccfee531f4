//! Where a consumer is in each partition: the next offset it will hand to
//! the table, the broker's high watermark, the lag between them, and the
//! rows per second it has been adding. The ingest thread writes it; the
//! HTTP server and the CLI read it.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// How long a consumer must be behind without a break before its table
/// shows as lagging.
pub const LAGGING_AFTER: Duration = Duration::from_secs(10);

/// One partition's position and high watermark.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PartitionPosition {
    /// The offset of the next message the table takes: one past the last
    /// message it has handled (rows pushed, skipped or dead-lettered).
    pub position: Option<i64>,
    /// The offset after the last message in the partition, as of the
    /// consumer's last fetch from it.
    pub high_watermark: Option<i64>,
}

impl PartitionPosition {
    /// Messages the table has not taken yet, when both ends are known.
    pub fn lag(&self) -> Option<i64> {
        Some((self.high_watermark? - self.position?).max(0))
    }
}

/// Positions per partition, rows per second, and how long the consumer has been behind.
#[derive(Debug, Clone, Default)]
pub struct Progress {
    /// Per topic and partition.
    pub partitions: BTreeMap<(String, i32), PartitionPosition>,
    /// Rows pushed per second over the last sampled second.
    pub rows_per_sec: f64,
    /// Since when every check found the consumer behind (lag > 0).
    pub behind_since: Option<Instant>,
    last_sample: Option<(Instant, u64)>,
}

impl Progress {
    /// Records that the table has handled every message before `next` in
    /// each partition.
    pub fn handled(&mut self, next: &BTreeMap<(String, i32), i64>) {
        for (tp, &offset) in next {
            self.partitions.entry(tp.clone()).or_default().position = Some(offset);
        }
    }

    /// Records the broker's high watermark of a partition.
    pub fn high_watermark(&mut self, topic: &str, partition: i32, high: i64) {
        self.partitions
            .entry((topic.to_string(), partition))
            .or_default()
            .high_watermark = Some(high);
    }

    /// Sets a partition's position where it is not known yet (the consumer's
    /// own position before the table has handled any message of it).
    pub fn position_if_unknown(&mut self, topic: &str, partition: i32, position: i64) {
        let p = self
            .partitions
            .entry((topic.to_string(), partition))
            .or_default();
        p.position.get_or_insert(position);
    }

    /// Takes a sample of the rows pushed so far (at most once a second
    /// counts) and notes whether the consumer is behind.
    pub fn sample(&mut self, rows: u64, now: Instant) {
        match self.last_sample {
            Some((at, before)) if now.duration_since(at) >= Duration::from_secs(1) => {
                let secs = now.duration_since(at).as_secs_f64();
                self.rows_per_sec = rows.saturating_sub(before) as f64 / secs;
                self.last_sample = Some((now, rows));
            }
            Some(_) => {}
            None => self.last_sample = Some((now, rows)),
        }
        if self.total_lag() > 0 {
            self.behind_since.get_or_insert(now);
        } else {
            self.behind_since = None;
        }
    }

    /// Messages not yet taken, over every partition whose lag is known.
    pub fn total_lag(&self) -> i64 {
        self.partitions.values().filter_map(|p| p.lag()).sum()
    }

    /// Whether the consumer has been behind for [`LAGGING_AFTER`] without a break.
    pub fn is_lagging(&self, now: Instant) -> bool {
        self.behind_since
            .is_some_and(|since| now.duration_since(since) >= LAGGING_AFTER)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lag_is_the_distance_from_position_to_watermark() {
        let mut p = Progress::default();
        p.high_watermark("t", 0, 100);
        assert_eq!(p.total_lag(), 0, "unknown position: no lag counted");
        p.handled(&BTreeMap::from([(("t".to_string(), 0), 40)]));
        assert_eq!(p.partitions[&("t".to_string(), 0)].lag(), Some(60));
        p.position_if_unknown("t", 0, 0);
        assert_eq!(p.total_lag(), 60, "a known position is not overwritten");
    }

    #[test]
    fn lagging_needs_a_lag_that_lasts() {
        let mut p = Progress::default();
        let t0 = Instant::now();
        p.high_watermark("t", 0, 10);
        p.handled(&BTreeMap::from([(("t".to_string(), 0), 5)]));
        p.sample(0, t0);
        assert!(!p.is_lagging(t0 + Duration::from_secs(1)));
        p.sample(0, t0 + LAGGING_AFTER);
        assert!(p.is_lagging(t0 + LAGGING_AFTER));
        p.handled(&BTreeMap::from([(("t".to_string(), 0), 10)]));
        p.sample(0, t0 + LAGGING_AFTER * 2);
        assert!(!p.is_lagging(t0 + LAGGING_AFTER * 2), "caught up");
    }

    #[test]
    fn rows_per_second_over_the_last_second() {
        let mut p = Progress::default();
        let t0 = Instant::now();
        p.sample(0, t0);
        p.sample(500, t0 + Duration::from_millis(500));
        assert_eq!(p.rows_per_sec, 0.0, "half a second is not a sample yet");
        p.sample(2000, t0 + Duration::from_secs(2));
        assert!((p.rows_per_sec - 1000.0).abs() < 1e-9);
    }
}
