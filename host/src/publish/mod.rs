//! Tables → sinks: the Kafka publisher (the seed's `produceFromTable`) and
//! plugin sinks, each driven by a sink runner off the cycle thread.

mod batch_produce;
mod kafka_publisher;
mod publish_error;
mod publish_spec;
mod record_fields;
mod sink_runner;
mod slice_encoding;

pub use batch_produce::QUEUE_FULL_WAIT;
pub use kafka_publisher::{DEFAULT_PRODUCER_PROPERTIES, KafkaPublisher, encoder_config};
pub use publish_error::{PublishError, RefusedRecord};
pub use publish_spec::{PublishSpec, TopicChoice};
pub use sink_runner::{
    OnFailure, PluginTableSink, RunningSink, SinkCounts, SinkError, SinkOptions, SinkStatus,
    TableSink, start_sink,
};
