//! Tables → sinks: the Kafka publisher (the seed's `produceFromTable`) and
//! plugin sinks, each driven by a sink runner off the cycle thread.

mod kafka_publisher;
mod sink_runner;

pub use kafka_publisher::{KafkaPublisher, PublishSpec, TopicChoice, encoder_config};
pub use sink_runner::{
    OnFailure, PluginTableSink, RunningSink, SinkOptions, SinkStatus, TableSink, start_sink,
};
