//! The `simple` codec's config.

use serde::Deserialize;
use serde_json::{Map, Value, json};
use topictable_sdk::arrow_schema::Schema;
use topictable_sdk::{ConfigKey, ConfigSpec, ConfigType, PluginError, Side};

use crate::{SimpleDecoder, SimpleEncoder, SimpleType};

/// How the value is laid out in the message bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SimpleEncoding {
    /// Kafka's serializers (`LongSerializer`, `DoubleSerializer`, …).
    #[default]
    Binary,
    /// UTF-8 text (`135.60`, `true`, `2026-11-23T10:00:00Z`).
    Text,
}

/// Config of one `simple` decoder or encoder.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SimpleConfig {
    /// The column's type.
    #[serde(rename = "type")]
    pub kind: SimpleType,
    /// The column's name; `KafkaKey`/`KafkaValue` when absent (Deephaven's names).
    #[serde(default)]
    pub column: Option<String>,
    /// The byte layout.
    #[serde(default)]
    pub encoding: SimpleEncoding,
}

impl SimpleConfig {
    /// The config keys, for validation and `topictable plugins describe`.
    pub fn spec() -> ConfigSpec {
        ConfigSpec::new(vec![
            ConfigKey::required(
                "type",
                ConfigType::one_of(SimpleType::ALL.iter().map(|t| t.name())),
                "the column's type",
            ),
            ConfigKey::unset(
                "column",
                ConfigType::String,
                "the column's name (default KafkaKey or KafkaValue)",
            ),
            ConfigKey::optional(
                "encoding",
                ConfigType::one_of(["binary", "text"]),
                json!("binary"),
                "binary = Kafka's serializer bytes (LongSerializer, DoubleSerializer, …); text = UTF-8 text like 135.60",
            ),
        ])
    }

    /// Reads a config that was validated against [`SimpleConfig::spec`].
    pub fn from_map(config: &Map<String, Value>) -> Result<Self, PluginError> {
        Ok(serde_json::from_value(Value::Object(config.clone()))?)
    }

    /// The column name for `side`.
    pub fn column_name(&self, side: Side) -> String {
        self.column
            .clone()
            .unwrap_or_else(|| side.default_column().to_string())
    }

    /// Builds the decoder.
    pub fn decoder(&self, side: Side) -> SimpleDecoder {
        SimpleDecoder::new(self.kind, self.encoding, &self.column_name(side), side)
    }

    /// Builds the encoder for rows of `schema`; fails when the column is missing
    /// or has another type.
    pub fn encoder(&self, side: Side, schema: &Schema) -> Result<SimpleEncoder, PluginError> {
        SimpleEncoder::new(self.kind, self.encoding, &self.column_name(side), schema)
    }
}
