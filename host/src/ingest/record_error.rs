//! Bad records: the error that names where a record came from, and the counts.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::{Duration, Instant};

use topictable_sdk::preview::preview_bytes;
use topictable_sdk::{MessageBatch, Side};

/// One record that could not be turned into a row.
///
/// Displayed as `topic T partition P offset O: cannot decode the value:
/// REASON; bytes: PREVIEW`. The `; bytes:` part is left out when the codec's
/// reason already shows the same preview, so it is never printed twice.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "topic {topic} partition {partition} offset {offset}: cannot decode the {side}: {reason}{}",
    preview_suffix(.reason, .preview)
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
            preview: bytes.map_or_else(|| TOMBSTONE.to_string(), preview_bytes),
            batch_failure,
        }
    }
}

/// `; bytes: PREVIEW`, unless `reason` already holds that preview.
fn preview_suffix(reason: &str, preview: &str) -> String {
    // A tombstone's preview is the word `null`, which a reason may well
    // contain for other causes: always show it.
    if preview != TOMBSTONE && reason.contains(preview) {
        String::new()
    } else {
        format!("; bytes: {preview}")
    }
}

/// The preview of a missing key or value.
const TOMBSTONE: &str = "null";

/// Per-table counts of bad records, readable while the table runs.
#[derive(Debug, Default)]
pub struct ErrorCounts {
    decode_errors: AtomicU64,
    skipped: AtomicU64,
    dead_lettered: AtomicU64,
    /// Decode errors by [`ErrorReason`], in its order.
    by_reason: [AtomicU64; 3],
}

/// Why a record could not be decoded, as the metrics label it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorReason {
    /// The key decoder refused this record.
    Key,
    /// The value decoder refused this record.
    Value,
    /// A decoder failed (or panicked on) the whole batch the record was in.
    Batch,
}

impl ErrorReason {
    /// Every reason, in the order of [`ErrorCountsSnapshot::by_reason`].
    pub const ALL: [ErrorReason; 3] = [ErrorReason::Key, ErrorReason::Value, ErrorReason::Batch];

    /// The label value: `key`, `value` or `batch`.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorReason::Key => "key",
            ErrorReason::Value => "value",
            ErrorReason::Batch => "batch",
        }
    }

    /// The reason of `error`.
    pub fn of(error: &RecordError) -> ErrorReason {
        match (error.batch_failure, error.side) {
            (true, _) => ErrorReason::Batch,
            (false, Side::Key) => ErrorReason::Key,
            (false, Side::Value) => ErrorReason::Value,
        }
    }
}

/// A copy of the table's error counts (`ErrorCounts`) at one moment.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ErrorCountsSnapshot {
    /// Records that could not be decoded (whatever the policy did with them).
    pub decode_errors: u64,
    /// Records skipped by `on_error = skip`.
    pub skipped: u64,
    /// Records written to the dead-letter topic.
    pub dead_lettered: u64,
    /// `decode_errors` by reason, in the order of [`ErrorReason::ALL`].
    pub by_reason: [u64; 3],
}

impl ErrorCounts {
    pub(crate) fn add_decode_error(&self, reason: ErrorReason) {
        self.decode_errors.fetch_add(1, Relaxed);
        self.by_reason[reason as usize].fetch_add(1, Relaxed);
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
            by_reason: self.by_reason.each_ref().map(|c| c.load(Relaxed)),
        }
    }
}

/// Logs at most one line per interval; the lines held back are summed up in
/// the next line, or by [`RateLimitedLog::flush`] when no further error comes.
#[derive(Debug)]
pub(crate) struct RateLimitedLog {
    interval: Duration,
    last: Option<Instant>,
    suppressed: u64,
}

impl RateLimitedLog {
    pub(crate) fn new(interval: Duration) -> Self {
        Self {
            interval,
            last: None,
            suppressed: 0,
        }
    }

    /// Logs (or holds back) one skipped record.
    pub(crate) fn warn(&mut self, table: &str, error: &RecordError) {
        if let Some(line) = self.line_at(Instant::now(), error) {
            tracing::warn!(table, "{line}");
        }
    }

    /// Logs how many records were held back, once the interval has passed
    /// (at once with `force`, for when the table stops).
    pub(crate) fn flush(&mut self, table: &str, force: bool) {
        if let Some(line) = self.flush_at(Instant::now(), force) {
            tracing::warn!(table, "{line}");
        }
    }

    /// The line to log for `error` at `now`, or `None` when it is held back.
    fn line_at(&mut self, now: Instant, error: &RecordError) -> Option<String> {
        if self.is_quiet_at(now) {
            self.suppressed += 1;
            return None;
        }
        let line = match std::mem::take(&mut self.suppressed) {
            0 => format!("skipped record: {error}"),
            n => format!("skipped record: {error} ({n} more skipped since the last message)"),
        };
        self.last = Some(now);
        Some(line)
    }

    /// The summary of held-back records to log at `now`, if any is due.
    fn flush_at(&mut self, now: Instant, force: bool) -> Option<String> {
        if self.suppressed == 0 || (!force && self.is_quiet_at(now)) {
            return None;
        }
        let n = std::mem::take(&mut self.suppressed);
        self.last = Some(now);
        Some(format!(
            "{n} more record{} skipped since the last message",
            if n == 1 { "" } else { "s" }
        ))
    }

    fn is_quiet_at(&self, now: Instant) -> bool {
        self.last
            .is_some_and(|last| now.duration_since(last) < self.interval)
    }
}

#[cfg(test)]
mod tests {
    use topictable_sdk::{MessageBatchBuilder, OwnedMessageBatch};

    use super::*;

    /// One message per value, all in `orders` partition 3 from offset 40.
    fn batch(values: &[Option<&[u8]>]) -> OwnedMessageBatch {
        let mut b = MessageBatchBuilder::with_capacity(values.len(), 32);
        for (i, v) in values.iter().enumerate() {
            b.push("orders", 3, 40 + i as i64, None, Some(b"k1"), *v, &[]);
        }
        b.finish()
    }

    fn error_text(value: Option<&[u8]>, reason: &str) -> String {
        let owned = batch(&[value]);
        RecordError::new(&owned.view(), 0, Side::Value, reason.to_string(), false).to_string()
    }

    #[test]
    fn the_error_ends_with_a_hex_and_text_preview_of_the_bytes() {
        assert_eq!(
            error_text(
                Some(b"{\"Qty\": 1.5}"),
                "field \"Qty\": expected an integer"
            ),
            "topic orders partition 3 offset 40: cannot decode the value: \
             field \"Qty\": expected an integer; \
             bytes: 7b 22 51 74 79 22 3a 20 31 2e 35 7d \"{\\\"Qty\\\": 1.5}\""
        );
    }

    #[test]
    fn a_long_value_is_cut_after_24_bytes_and_its_length_given() {
        // `a` then 15 two-byte `é`: byte 24 falls inside the twelfth `é`.
        let value = format!("a{}", "é".repeat(15));
        assert_eq!(value.len(), 31);
        assert_eq!(
            error_text(Some(value.as_bytes()), "too long"),
            "topic orders partition 3 offset 40: cannot decode the value: too long; bytes: \
             61 c3 a9 c3 a9 c3 a9 c3 a9 c3 a9 c3 a9 c3 a9 c3 a9 c3 a9 c3 a9 c3 a9 c3 \
             \"aééééééééééé\u{fffd}\" … (31 bytes)"
        );
    }

    #[test]
    fn bytes_that_are_not_utf8_or_printable_show_as_replacement_and_dots() {
        assert_eq!(
            error_text(Some(&[0xff, 0xfe, b'o', b'k', 0x00, b'\n']), "bad"),
            "topic orders partition 3 offset 40: cannot decode the value: bad; \
             bytes: ff fe 6f 6b 00 0a \"\u{fffd}\u{fffd}ok..\""
        );
    }

    #[test]
    fn a_tombstone_shows_null_and_the_key_side_previews_the_key() {
        assert_eq!(
            error_text(None, "a null value is not allowed"),
            "topic orders partition 3 offset 40: cannot decode the value: \
             a null value is not allowed; bytes: null"
        );
        let owned = batch(&[Some(b"v")]);
        let e = RecordError::new(&owned.view(), 0, Side::Key, "no".into(), false);
        assert_eq!(
            e.to_string(),
            "topic orders partition 3 offset 40: cannot decode the key: no; bytes: 6b 31 \"k1\""
        );
    }

    #[test]
    fn a_preview_already_in_the_reason_is_not_repeated() {
        let reason =
            "expected 8 bytes (LongSerializer) for int64, got 5 bytes: 31 32 33 34 35 \"12345\"";
        let text = error_text(Some(b"12345"), reason);
        assert_eq!(
            text,
            format!("topic orders partition 3 offset 40: cannot decode the value: {reason}")
        );
        assert_eq!(text.matches("31 32 33 34 35").count(), 1, "{text}");
    }

    fn skipped(offset: i64) -> RecordError {
        let owned = batch(&[Some(b"x")]);
        let mut e = RecordError::new(&owned.view(), 0, Side::Value, "bad".into(), false);
        e.offset = offset;
        e
    }

    /// How many records a logged line accounts for: itself plus the
    /// `N more` it reports.
    fn accounted(line: &str) -> u64 {
        let held_back = line
            .split_whitespace()
            .zip(line.split_whitespace().skip(1))
            .find(|(_, next)| *next == "more")
            .map_or(0, |(n, _)| {
                n.trim_start_matches('(').parse::<u64>().unwrap()
            });
        if line.starts_with("skipped record:") {
            1 + held_back
        } else {
            held_back
        }
    }

    #[test]
    fn a_burst_of_errors_logs_a_few_lines_and_a_summary_of_the_rest() {
        let start = Instant::now();
        let mut log = RateLimitedLog::new(Duration::from_secs(1));
        let mut lines = Vec::new();
        // 10,000 errors over 2.5 s: one every 250 µs.
        for i in 0..10_000u32 {
            let now = start + Duration::from_micros(250) * i;
            lines.extend(log.line_at(now, &skipped(i64::from(i))));
            lines.extend(log.flush_at(now, false));
        }
        // Quiet afterwards: the summary comes once the interval is over.
        let end = start + Duration::from_micros(250) * 10_000;
        assert_eq!(log.flush_at(end, false), None, "too early for a summary");
        let summary = log.flush_at(end + Duration::from_secs(1), false);
        lines.extend(summary.clone());
        assert_eq!(log.flush_at(end + Duration::from_secs(5), false), None);

        assert_eq!(
            lines.len(),
            4,
            "one line a second (at 0 s, 1 s and 2 s), then the summary: {lines:#?}"
        );
        assert!(lines[0].ends_with("offset 0: cannot decode the value: bad; bytes: 78 \"x\""));
        assert!(
            lines[1].contains("offset 4000:")
                && lines[1].ends_with("(3999 more skipped since the last message)"),
            "{}",
            lines[1]
        );
        assert!(lines[2].contains("offset 8000:"), "{}", lines[2]);
        assert_eq!(
            summary.as_deref(),
            Some("1999 more records skipped since the last message")
        );
        let total: u64 = lines.iter().map(|l| accounted(l)).sum();
        assert_eq!(total, 10_000, "every error is in a line or a summary");
    }

    #[test]
    fn stopping_reports_the_held_back_records_at_once() {
        let start = Instant::now();
        let mut log = RateLimitedLog::new(Duration::from_secs(1));
        assert!(log.line_at(start, &skipped(0)).is_some());
        assert!(log.line_at(start, &skipped(1)).is_none());
        assert_eq!(log.flush_at(start, false), None);
        assert_eq!(
            log.flush_at(start, true).as_deref(),
            Some("1 more record skipped since the last message")
        );
        assert_eq!(log.flush_at(start, true), None, "reported once");
    }
}
