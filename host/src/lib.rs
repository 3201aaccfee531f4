//! topictable: Kafka topics in, live tables out, and back again.
//!
//! Data flows one way, and so do the modules: [`plugin_loader`] finds the
//! codec and sink plugins; ingest (Kafka → decode), the table engine
//! (`topictable-engine`) and publish (table → sink) build on it.
#![deny(missing_docs)]

mod backoff;
pub mod ingest;
mod kafka_fatal;
pub mod pipeline;
pub mod plugin_loader;
pub mod publish;
pub mod serve;
pub mod worker;

pub use plugin_loader::{LoadError, LoadedPlugin, PluginRegistry};
