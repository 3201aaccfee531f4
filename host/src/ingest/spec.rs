//! What to consume and how: the arguments of `consumeToTable`, as data.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Deserialize;
use serde_json::Value;
use topictable_engine::TableType;

/// Which partitions to read.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Partitions {
    /// Every partition, including partitions added to the topic later.
    #[default]
    All,
    /// Only these.
    List(Vec<i32>),
}

/// Where one partition starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StartAt {
    /// The group's committed offset, else `auto.offset.reset` (default: latest).
    /// Deephaven's `DONT_SEEK`.
    Committed,
    /// The earliest offset still in the log.
    Beginning,
    /// The end of the log: only messages produced from now on.
    End,
    /// This exact offset.
    Offset(i64),
    /// The first message at or after this time (epoch milliseconds), via
    /// offsets-for-times. In group mode, only for partitions the group has
    /// no committed offset for.
    Timestamp(i64),
}

/// Where consumption starts, for every partition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InitialOffsets {
    /// For partitions not listed in `per_partition`.
    pub default: StartAt,
    /// Per-partition overrides.
    pub per_partition: BTreeMap<i32, StartAt>,
}

impl Default for InitialOffsets {
    fn default() -> Self {
        Self {
            default: StartAt::Committed,
            per_partition: BTreeMap::new(),
        }
    }
}

impl InitialOffsets {
    /// Every partition starts at `start`.
    pub fn all(start: StartAt) -> Self {
        Self {
            default: start,
            per_partition: BTreeMap::new(),
        }
    }

    /// Where `partition` starts.
    pub fn for_partition(&self, partition: i32) -> &StartAt {
        self.per_partition.get(&partition).unwrap_or(&self.default)
    }
}

/// How partitions are given to this consumer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ConsumerMode {
    /// Explicit partitions (like Deephaven); offsets are not committed.
    #[default]
    Assign,
    /// `group.id` + subscribe: the group's members split the partitions and
    /// rebalance; offsets are committed once rows are visible (at-least-once).
    /// A partition starts at the group's committed offset; if there is none,
    /// at the beginning, the end or a timestamp, as `offsets` says.
    Group,
}

/// How one side (key or value) of each message becomes columns (Deephaven's
/// `KeyOrValueSpec`: the same description serves keys and values).
#[derive(Debug, Clone, PartialEq, Default)]
pub enum KeyOrValueSpec {
    /// Not read.
    #[default]
    Ignore,
    /// Decoded by the codec plugin offering `format`, with `config`.
    Codec {
        /// The format name (`simple`, `json`, `avro`, …).
        format: String,
        /// The codec's config (validated against its description).
        config: Value,
    },
}

impl KeyOrValueSpec {
    /// Shorthand for a codec spec.
    pub fn codec(format: &str, config: Value) -> Self {
        Self::Codec {
            format: format.to_string(),
            config,
        }
    }
}

/// Which header columns a table gets.
#[derive(Debug, Clone, PartialEq, Default)]
pub enum HeaderColumns {
    /// None.
    #[default]
    None,
    /// Every header, as one `Map<Utf8, Binary>` column with this name.
    All(String),
    /// Chosen headers as typed columns: header name → (column name, type).
    Chosen(Vec<(String, String, HeaderType)>),
}

/// The type of a chosen header column (its bytes are read as UTF-8 text).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HeaderType {
    /// UTF-8 text.
    String,
    /// Raw bytes.
    Bytes,
    /// An integer written as text.
    Int64,
}

/// The standard columns: names, or `None` to drop a column.
#[derive(Debug, Clone, PartialEq)]
pub struct StandardColumns {
    /// `KafkaPartition` (int32).
    pub partition: Option<String>,
    /// `KafkaOffset` (int64).
    pub offset: Option<String>,
    /// `KafkaTimestamp` (timestamp, ms, UTC).
    pub timestamp: Option<String>,
    /// The topic (when several topics feed one table); off by default.
    pub topic: Option<String>,
    /// When topictable received the message; off by default.
    pub receive_time: Option<String>,
    /// Key size in bytes; off by default.
    pub key_bytes: Option<String>,
    /// Value size in bytes; off by default.
    pub value_bytes: Option<String>,
    /// Header columns; none by default.
    pub headers: HeaderColumns,
}

impl Default for StandardColumns {
    fn default() -> Self {
        Self {
            partition: Some("KafkaPartition".into()),
            offset: Some("KafkaOffset".into()),
            timestamp: Some("KafkaTimestamp".into()),
            topic: None,
            receive_time: None,
            key_bytes: None,
            value_bytes: None,
            headers: HeaderColumns::None,
        }
    }
}

/// What happens to a message that cannot be decoded.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum OnError {
    /// Stop this table with an error naming topic, partition, offset, side and
    /// reason; rows already visible stay, other tables keep running (Kafka
    /// Connect's default).
    #[default]
    Fail,
    /// Log (rate-limited) and count the message, and go on.
    Skip,
    /// Write the original record to this topic with `topictable.errors.*`
    /// context headers, count it, and go on.
    DeadLetter {
        /// The dead-letter topic.
        topic: String,
        /// What to do when the broker refuses a dead-letter record.
        retry: DeadLetterRetry,
    },
}

impl OnError {
    /// `dead-letter` to `topic`, failing the table at the first refused record.
    pub fn dead_letter(topic: impl Into<String>) -> Self {
        Self::DeadLetter {
            topic: topic.into(),
            retry: DeadLetterRetry::default(),
        }
    }
}

/// How often a dead-letter record the broker refused (unknown topic, not
/// authorized, timed out) is sent again before the table fails; the table
/// waits meanwhile, so nothing is skipped or committed past it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeadLetterRetry {
    /// Sends after the first; 0 fails the table at the first refusal.
    pub max_retries: u32,
    /// The first wait, doubled after each retry up to 30 s.
    pub backoff: Duration,
}

impl Default for DeadLetterRetry {
    fn default() -> Self {
        Self {
            max_retries: 0,
            backoff: Duration::from_secs(1),
        }
    }
}

/// Everything `consume_to_table` needs.
#[derive(Debug, Clone, PartialEq)]
pub struct ConsumeSpec {
    /// librdkafka properties, passed through (`bootstrap.servers`, `security.protocol`, `sasl.*`, …).
    pub properties: BTreeMap<String, String>,
    /// One or more topics, all read with the same specs.
    pub topics: Vec<String>,
    /// Which partitions.
    pub partitions: Partitions,
    /// Where to start.
    pub offsets: InitialOffsets,
    /// Assign or group.
    pub mode: ConsumerMode,
    /// The key's columns.
    pub key: KeyOrValueSpec,
    /// The value's columns.
    pub value: KeyOrValueSpec,
    /// Append, blink (the default) or ring(N).
    pub table_type: TableType,
    /// Standard columns.
    pub columns: StandardColumns,
    /// The bad-record policy.
    pub on_error: OnError,
    /// The most messages decoded in one batch.
    pub max_batch: usize,
    /// Group mode: what becomes of a partition's rows when a rebalance moves
    /// the partition to another member.
    pub on_revoke: OnRevoke,
}

/// Group mode: what a member's table does with the rows of a partition the
/// group moved to another member.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OnRevoke {
    /// Remove them (by the partition column, and the topic column when
    /// several topics feed the table), so that a `last_by` or `agg_by` over
    /// the table holds only the partitions this member owns: no stale keys.
    /// The new owner reads on from the group's committed offset.
    #[default]
    Remove,
    /// Keep them: the table keeps everything this member read.
    Keep,
}

impl ConsumeSpec {
    /// A spec with Deephaven's defaults: all partitions, committed offsets,
    /// assign mode, blink table, standard columns, `on_error = fail`.
    pub fn new(
        bootstrap_servers: &str,
        topic: &str,
        key: KeyOrValueSpec,
        value: KeyOrValueSpec,
    ) -> Self {
        Self {
            properties: BTreeMap::from([(
                "bootstrap.servers".to_string(),
                bootstrap_servers.to_string(),
            )]),
            topics: vec![topic.to_string()],
            partitions: Partitions::All,
            offsets: InitialOffsets::default(),
            mode: ConsumerMode::Assign,
            key,
            value,
            table_type: TableType::Blink,
            columns: StandardColumns::default(),
            on_error: OnError::Fail,
            max_batch: 16_384,
            on_revoke: OnRevoke::Remove,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_spec_is_a_blink_table_unless_told_otherwise() {
        let spec = ConsumeSpec::new(
            "b:9092",
            "t",
            KeyOrValueSpec::Ignore,
            KeyOrValueSpec::Ignore,
        );
        assert_eq!(spec.table_type, TableType::Blink);
    }
}
