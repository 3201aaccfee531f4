//! Bad records: the error that names where a record came from, and the counts.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

use topictable_sdk::preview::preview_bytes;
use topictable_sdk::{MessageBatch, Side};

/// One record that could not be turned into a row.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "topic {topic} partition {partition} offset {offset}: cannot decode the {side}: {reason}; bytes: {preview}"
)]
pub struct RecordError {
    /// The record's topic.
    pub topic: String,
    /// Its partition.
    pub partition: i32,
    /// Its offset.
    pub offset: i64,
    /// Key or value.
    pub side: Side,
    /// The codec's reason.
    pub reason: String,
    /// A short hex/UTF-8 preview of the bytes (`null` for a tombstone).
    pub preview: String,
    /// Whether the codec panicked or failed the whole batch (rather than this row).
    pub batch_failure: bool,
}

impl RecordError {
    /// The error for row `row` of `batch`.
    pub fn new(
        batch: &MessageBatch<'_>,
        row: usize,
        side: Side,
        reason: String,
        batch_failure: bool,
    ) -> Self {
        let bytes = match side {
            Side::Key => batch.keys.get(row),
            Side::Value => batch.values.get(row),
        };
        Self {
            topic: batch.topic(row).to_string(),
            partition: batch.partitions[row],
            offset: batch.offsets[row],
            side,
            reason,
            preview: bytes.map_or_else(|| "null".to_string(), preview_bytes),
            batch_failure,
        }
    }
}

/// Per-table counts of bad records, readable while the table runs.
#[derive(Debug, Default)]
pub struct ErrorCounts {
    decode_errors: AtomicU64,
    skipped: AtomicU64,
    dead_lettered: AtomicU64,
}

/// A copy of [`ErrorCounts`] at one moment.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ErrorCountsSnapshot {
    /// Records that could not be decoded (whatever the policy did with them).
    pub decode_errors: u64,
    /// Records skipped by `on_error = skip`.
    pub skipped: u64,
    /// Records written to the dead-letter topic.
    pub dead_lettered: u64,
}

impl ErrorCounts {
    pub(crate) fn add_decode_errors(&self, n: u64) {
        self.decode_errors.fetch_add(n, Relaxed);
    }
    pub(crate) fn add_skipped(&self, n: u64) {
        self.skipped.fetch_add(n, Relaxed);
    }
    pub(crate) fn add_dead_lettered(&self, n: u64) {
        self.dead_lettered.fetch_add(n, Relaxed);
    }
    /// The counts now.
    pub fn snapshot(&self) -> ErrorCountsSnapshot {
        ErrorCountsSnapshot {
            decode_errors: self.decode_errors.load(Relaxed),
            skipped: self.skipped.load(Relaxed),
            dead_lettered: self.dead_lettered.load(Relaxed),
        }
    }
}

/// Logs at most one line per interval, saying how many were held back.
#[derive(Debug)]
pub(crate) struct RateLimitedLog {
    interval: std::time::Duration,
    last: Option<std::time::Instant>,
    suppressed: u64,
}

impl RateLimitedLog {
    pub(crate) fn new(interval: std::time::Duration) -> Self {
        Self {
            interval,
            last: None,
            suppressed: 0,
        }
    }

    pub(crate) fn warn(&mut self, table: &str, error: &RecordError) {
        let now = std::time::Instant::now();
        if self
            .last
            .is_some_and(|last| now.duration_since(last) < self.interval)
        {
            self.suppressed += 1;
            return;
        }
        if self.suppressed > 0 {
            tracing::warn!(
                table,
                "skipped record: {error} ({} more skipped since the last message)",
                self.suppressed
            );
        } else {
            tracing::warn!(table, "skipped record: {error}");
        }
        self.last = Some(now);
        self.suppressed = 0;
    }
}
