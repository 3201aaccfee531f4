//! Factories: what a plugin offers, described before anything is created.

use arrow_schema::SchemaRef;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::{ConfigSpec, Decoder, Encoder, PluginError, Sink};

/// Which part of a Kafka message a codec reads or writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Side {
    /// The record key.
    Key,
    /// The record value.
    Value,
}

impl Side {
    /// Deephaven's default column name for this side: `KafkaKey` or `KafkaValue`.
    pub fn default_column(self) -> &'static str {
        match self {
            Side::Key => "KafkaKey",
            Side::Value => "KafkaValue",
        }
    }
    /// `key` or `value`.
    pub fn as_str(self) -> &'static str {
        match self {
            Side::Key => "key",
            Side::Value => "value",
        }
    }
}

impl std::fmt::Display for Side {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a codec is and which config keys it takes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CodecDescription {
    /// The format name used in pipeline files (`simple`, `json`, …).
    pub format: String,
    /// One line on what the format is.
    pub doc: String,
    /// The config keys of its decoders and encoders.
    pub config: ConfigSpec,
    /// Whether it can encode as well as decode.
    pub can_encode: bool,
}

/// What a sink is and which config keys it takes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SinkDescription {
    /// The sink name used in pipeline files.
    pub name: String,
    /// One line on what the sink does.
    pub doc: String,
    /// Its config keys.
    pub config: ConfigSpec,
}

/// A message format: makes decoders and encoders from a validated config.
///
/// The config handed to `new_decoder`/`new_encoder` has been validated against
/// [`Codec::description`] (unknown keys rejected, defaults filled in).
pub trait Codec: Send + Sync + 'static {
    /// The format's name, its doc line and its config keys.
    fn description(&self) -> CodecDescription;

    /// A decoder for one side of the message.
    fn new_decoder(
        &self,
        config: &Map<String, Value>,
        side: Side,
    ) -> Result<Box<dyn Decoder>, PluginError>;

    /// An encoder for one side, reading rows of `schema`. Decode-only codecs keep the default.
    fn new_encoder(
        &self,
        config: &Map<String, Value>,
        side: Side,
        schema: SchemaRef,
    ) -> Result<Box<dyn Encoder>, PluginError> {
        let _ = (config, side, schema);
        Err(PluginError::Unsupported(format!(
            "format `{}` cannot encode",
            self.description().format
        )))
    }
}

/// A kind of table sink: makes sinks from a validated config and the table's schema.
pub trait SinkFactory: Send + Sync + 'static {
    /// The sink's name, doc line and config keys.
    fn description(&self) -> SinkDescription;

    /// A sink for a table with `schema`.
    fn new_sink(
        &self,
        config: &Map<String, Value>,
        schema: SchemaRef,
    ) -> Result<Box<dyn Sink>, PluginError>;
}
