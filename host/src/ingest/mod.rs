//! Kafka → live tables.
//!
//! [`consume_to_table`] is the library form of Deephaven's `consumeToTable`:
//! properties, topics, partitions, initial offsets, key and value specs and a
//! table type in; a live engine table out. Messages are decoded in batches
//! by codec plugins; a record that cannot be decoded is handled by the
//! table's `on_error` policy (`fail`, `skip` or `dead-letter`), and every
//! error names its topic, partition and offset. A record whose schema
//! registry cannot be reached is not a bad record: its partition is held
//! at it and retried (`registry_hold.rs`).
//!
//! Delivery: in group mode, offsets are committed only after the rows they
//! cover are visible in a completed update cycle, so a restart re-reads what
//! was not yet visible: at-least-once.

mod client;
mod columns;
mod commits;
mod consumer;
mod dead_letter;
mod fetch_queue;
mod ingest_loop;
mod progress;
mod rebalance;
mod record_error;
mod registry_hold;
mod spec;
mod start;

pub use client::CONSUMER_DEFAULTS;
pub use consumer::{
    ConsumedTable, IngestError, IngestProbe, IngestStatus, SourcePlan, consume_to_table,
    plan_source,
};
pub use dead_letter::HEADER_PREFIX as DEAD_LETTER_HEADER_PREFIX;
pub use progress::{LAGGING_AFTER, PartitionPosition, Progress};
pub use record_error::{ErrorCountsSnapshot, ErrorReason, RecordError};
pub use spec::{
    ConsumeSpec, ConsumerMode, DeadLetterRetry, HeaderColumns, HeaderType, InitialOffsets,
    KeyOrValueSpec, OnError, OnRevoke, Partitions, StandardColumns, StartAt,
};
pub use start::{StartMismatch, check_start};
