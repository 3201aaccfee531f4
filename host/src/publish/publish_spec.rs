//! What a Kafka sink publishes and where: the publisher's spec, as a
//! pipeline's `[[sink]]` gives it. Read by the publisher and by the record
//! fields it takes from each row.

use std::collections::BTreeMap;

use crate::ingest::KeyOrValueSpec;

/// Where records go: one topic, or a column naming the topic per row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TopicChoice {
    /// Every record to this topic.
    Fixed(String),
    /// The topic named in this (string) column.
    Column(String),
}

/// Everything the publisher needs.
#[derive(Debug, Clone, PartialEq)]
pub struct PublishSpec {
    /// librdkafka producer properties (`bootstrap.servers`, …).
    pub properties: BTreeMap<String, String>,
    /// The topic.
    pub topic: TopicChoice,
    /// A fixed partition, if any.
    pub partition: Option<i32>,
    /// A column (int32) choosing the partition per row, if any.
    pub partition_column: Option<String>,
    /// A column (timestamp or int64 epoch ms) giving the record timestamp, if any.
    pub timestamp_column: Option<String>,
    /// Columns sent as headers: header name → column.
    pub header_columns: Vec<(String, String)>,
    /// The key's encoder spec.
    pub key: KeyOrValueSpec,
    /// The value's encoder spec.
    pub value: KeyOrValueSpec,
}
