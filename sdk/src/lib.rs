//! The topictable plugin SDK: the only crate a plugin author needs.
//!
//! A plugin is a `cdylib` that implements [`Codec`] (format decoders and
//! encoders) and/or [`SinkFactory`] (table sinks) and exports them with
//! [`export_plugin!`]. Data crosses the plugin boundary as batches of Arrow
//! columns: messages arrive as a borrowed columnar [`MessageBatch`], decoded
//! rows leave as an Arrow `RecordBatch` through the Arrow C Data Interface, so
//! host and plugin may be built with different arrow-rs versions.
//!
//! ```ignore
//! use topictable_sdk::{export_plugin, Codec};
//! export_plugin! {
//!     name: "my-codecs",
//!     version: env!("CARGO_PKG_VERSION"),
//!     codecs: [MyCodec::default()],
//!     sinks: [],
//! }
//! ```
//!
//! See `sdk/README.md` for a tutorial.
#![deny(missing_docs)]

// The config derives name this crate by its path, inside it too.
extern crate self as topictable_sdk;

pub mod abi;
pub mod config;
mod decoder;
mod encoder;
mod error;
mod export;
mod message;
mod plugin;
pub mod preview;
mod sink;

pub use abi::panic_message;
pub use config::{ConfigError, ConfigKey, ConfigKeys, ConfigSpec, ConfigType, ConfigValue};
pub use decoder::{Decoded, Decoder, RowError, RowErrorKind};
pub use encoder::{Encoded, Encoder};
pub use error::PluginError;
pub use message::{BinaryColumn, MessageBatch, MessageBatchBuilder, OwnedMessageBatch};
pub use plugin::{Codec, CodecDescription, Side, SinkDescription, SinkFactory};
pub use sink::{Sink, SinkUpdate};
/// Derives [`ConfigKeys`] from a serde config struct, or [`ConfigValue`] from
/// a serde enum of unit variants (see [`config`]).
pub use topictable_sdk_derive::{ConfigKeys, ConfigValue};

/// The arrow crates this SDK is built with, re-exported so a plugin needs no
/// direct arrow dependency (and so its versions always match the SDK's).
pub use arrow_array;
pub use arrow_buffer;
pub use arrow_schema;

/// Re-exports used by [`export_plugin!`]; not part of the public API.
#[doc(hidden)]
pub mod __private {
    pub use abi_stable;
    pub use log;
    pub use tracing;
}
