//! Why publishing one cycle's update failed.

use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use topictable_sdk::{PluginError, Side};

/// A record librdkafka refused to queue, and where it was going.
#[derive(Debug, thiserror::Error)]
#[error(
    "kafka refused the record{} for topic {topic}{}: {error}",
    row.map(|r| format!(" of row {r}")).unwrap_or_default(),
    partition.map(|p| format!(" partition {p}")).unwrap_or_default()
)]
pub struct RefusedRecord {
    /// The record's topic.
    pub topic: String,
    /// Its partition, when chosen before librdkafka's partitioner.
    pub partition: Option<i32>,
    /// Its row within the update's rows, when known.
    pub row: Option<usize>,
    /// librdkafka's reason.
    pub error: KafkaError,
}

/// A failure of the Kafka publisher; the sink runner shows it in the sink's
/// status and applies `on_failure`.
#[derive(Debug, thiserror::Error)]
pub enum PublishError {
    /// An encoder failed as a whole.
    #[error("{side} encoder: {source}")]
    Encoder {
        /// Key or value.
        side: Side,
        /// The plugin's error.
        source: PluginError,
    },
    /// An encoder could not encode some rows; nothing of them is sent.
    #[error("{side} encoder, row {row}: {message} ({failed} rows failed)")]
    RowsFailed {
        /// Key or value.
        side: Side,
        /// The first failed row, counted in the slice being encoded.
        row: usize,
        /// Why that row failed.
        message: String,
        /// How many rows of the slice failed.
        failed: usize,
    },
    /// A modify changed a row's key, which a keyed topic cannot express.
    #[error(
        "a modified row (row {row} of cycle {cycle}) changed its key columns; publish a last_by table keyed on them, or a blink table"
    )]
    KeyChanged {
        /// The row within the cycle's modified rows.
        row: usize,
        /// The cycle.
        cycle: u64,
    },
    /// librdkafka refused a record.
    #[error("{0}")]
    Produce(Box<RefusedRecord>),
    /// The cycle's flush did not complete.
    #[error("kafka flush: {0}")]
    Flush(KafkaError),
    /// The broker refused the producer (its login, its rights).
    #[error("{0}")]
    Refused(String),
    /// Records were not delivered.
    #[error("{first} ({count} delivery errors)")]
    Delivery {
        /// The first failure, as librdkafka reported it.
        first: String,
        /// How many were reported (at most 10 are kept).
        count: usize,
    },
    /// librdkafka could not make a handle for the topic.
    #[error("kafka: cannot use topic name {0:?}")]
    TopicName(String),
    /// The thread that encodes slices ahead of the producer could not start.
    #[error("starting the encoding thread: {0}")]
    EncodingThread(std::io::Error),
}

impl From<PublishError> for super::SinkError {
    /// Rows an encoder refused, a changed key and a record too large for the
    /// broker are the rows' fault: retrying them cannot help.
    fn from(e: PublishError) -> Self {
        let rows = match &e {
            PublishError::RowsFailed { .. } | PublishError::KeyChanged { .. } => true,
            PublishError::Produce(refused) => matches!(
                refused.error.rdkafka_error_code(),
                Some(RDKafkaErrorCode::MessageSizeTooLarge)
            ),
            _ => false,
        };
        match rows {
            true => Self::Rows(e.to_string()),
            false => Self::Destination(e.to_string()),
        }
    }
}
