//! The `simple` codec's config.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use topictable_sdk::arrow_schema::Schema;
use topictable_sdk::{ConfigKeys, ConfigValue, PluginError, Side};

use crate::{SimpleDecoder, SimpleEncoder, SimpleType};

/// How the value is laid out in the message bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, ConfigValue)]
#[serde(rename_all = "snake_case")]
pub enum SimpleEncoding {
    /// Kafka's serializers (`LongSerializer`, `DoubleSerializer`, …).
    #[default]
    Binary,
    /// UTF-8 text (`135.60`, `true`, `2026-11-23T10:00:00Z`).
    Text,
}

/// Config of one `simple` decoder or encoder. The doc comments are the keys'
/// descriptions in `topictable plugins describe`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, ConfigKeys)]
#[serde(deny_unknown_fields)]
pub struct SimpleConfig {
    /// The column's type.
    #[serde(rename = "type")]
    pub kind: SimpleType,
    /// The column's name (default KafkaKey or KafkaValue, Deephaven's names).
    #[serde(default)]
    pub column: Option<String>,
    /// binary = Kafka's serializer bytes (LongSerializer, DoubleSerializer,
    /// …); text = UTF-8 text like 135.60.
    #[serde(default)]
    pub encoding: SimpleEncoding,
}

impl SimpleConfig {
    /// Reads a config that was validated against [`SimpleConfig::config_spec`].
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

#[cfg(test)]
mod tests {
    use super::*;
    use topictable_sdk::ConfigType;

    /// `type`'s choices are the names serde parses, and `SimpleType::ALL`'s.
    #[test]
    fn the_type_key_offers_every_type() {
        let spec = SimpleConfig::config_spec();
        let names: Vec<&str> = SimpleType::ALL.iter().map(|t| t.name()).collect();
        assert_eq!(spec.keys[0].kind, ConfigType::one_of(&names));
        for name in names {
            let filled = spec.validate(&serde_json::json!({"type": name})).unwrap();
            let config = SimpleConfig::from_map(&filled).unwrap();
            assert_eq!(config.kind.name(), name);
            assert_eq!(config.encoding, SimpleEncoding::Binary);
        }
    }
}
