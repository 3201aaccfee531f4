//! The `json` codec's config: one set of keys, read by decoders and encoders.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::{Map, Value, json};
use topictable_sdk::arrow_schema::Schema;
use topictable_sdk::{ConfigKey, ConfigSpec, ConfigType, PluginError, Side};

use crate::{JsonDecoder, JsonEncoder, JsonType};

/// One output column of the decoder.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ColumnDef {
    /// The column's name.
    pub name: String,
    /// The column's type.
    #[serde(rename = "type")]
    pub kind: JsonType,
}

/// Config of one `json` decoder or encoder (each ignores the other's keys).
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JsonConfig {
    /// Decoder: the output columns, in order.
    #[serde(default)]
    pub columns: Option<Vec<ColumnDef>>,
    /// Decoder: JSON field or pointer → column; encoder: column → JSON field or pointer.
    #[serde(default)]
    pub mapping: BTreeMap<String, String>,
    /// Decoder: accept numeric strings for numbers, `"true"`/`"false"` for bools,
    /// and numbers or bools as text for string columns.
    #[serde(default)]
    pub lenient: bool,
    /// Encoder: only these columns (all when absent).
    #[serde(default)]
    pub include: Option<Vec<String>>,
    /// Encoder: leave these columns out.
    #[serde(default)]
    pub exclude: Vec<String>,
    /// Encoder: split field names on this string into nested objects.
    #[serde(default)]
    pub nested_delimiter: Option<String>,
    /// Encoder: write null cells as `null` (true) or leave the field out (false).
    #[serde(default)]
    pub output_nulls: bool,
    /// Encoder: a top-level field that gets the publish time in epoch milliseconds.
    #[serde(default)]
    pub timestamp_field: Option<String>,
}

impl JsonConfig {
    /// The config keys, for validation and `topictable plugins describe`.
    pub fn spec() -> ConfigSpec {
        let types: Vec<&str> = JsonType::ALL.iter().map(|t| t.name()).collect();
        ConfigSpec::new(vec![
            ConfigKey::unset(
                "columns",
                ConfigType::List,
                &format!(
                    "decoder (required): the output columns in order, [{{name, type}}] with type one of {}",
                    types.join("|")
                ),
            ),
            ConfigKey::optional(
                "mapping",
                ConfigType::Object,
                json!({}),
                "decoder: JSON field or JSON Pointer (/order/price) → column; encoder: column → JSON field or pointer. Unmapped columns use the field of the same name",
            ),
            ConfigKey::optional(
                "lenient",
                ConfigType::Boolean,
                json!(false),
                "decoder: also accept numeric strings for number and timestamp columns (\"12\" → 12), \"true\"/\"false\" for bool, and numbers or bools as text for string columns",
            ),
            ConfigKey::unset(
                "include",
                ConfigType::List,
                "encoder: write only these columns (default: all)",
            ),
            ConfigKey::optional(
                "exclude",
                ConfigType::List,
                json!([]),
                "encoder: leave these columns out",
            ),
            ConfigKey::unset(
                "nested_delimiter",
                ConfigType::String,
                "encoder: split field names on this string into nested objects (\".\": a.b → {\"a\":{\"b\":…}})",
            ),
            ConfigKey::optional(
                "output_nulls",
                ConfigType::Boolean,
                json!(false),
                "encoder: write null cells as null (true) or leave the field out (false)",
            ),
            ConfigKey::unset(
                "timestamp_field",
                ConfigType::String,
                "encoder: a top-level field that gets the publish time in epoch milliseconds",
            ),
        ])
    }

    /// Reads a config that was validated against [`JsonConfig::spec`].
    pub fn from_map(config: &Map<String, Value>) -> Result<Self, PluginError> {
        serde_json::from_value(Value::Object(config.clone()))
            .map_err(|e| PluginError::config(format!("json: {e}")))
    }

    /// Builds the decoder; fails on a missing or inconsistent column list or mapping.
    pub fn decoder(&self, side: Side) -> Result<JsonDecoder, PluginError> {
        let columns = self.columns.as_deref().ok_or_else(|| {
            PluginError::config("json: the decoder needs `columns`, a list of {name, type}")
        })?;
        JsonDecoder::new(columns, &self.mapping, self.lenient, side)
    }

    /// Builds the encoder for rows of `schema`; fails on unknown columns,
    /// unsupported types or two columns writing the same field.
    pub fn encoder(&self, schema: &Schema) -> Result<JsonEncoder, PluginError> {
        JsonEncoder::new(self, schema)
    }
}
