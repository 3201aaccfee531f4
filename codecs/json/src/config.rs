//! The `json` codec's config: one set of keys, read by decoders and encoders.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::{Map, Value};
use topictable_sdk::arrow_schema::Schema;
use topictable_sdk::{ConfigKeys, PluginError, Side};

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
/// The doc comments are the keys' descriptions in `topictable plugins
/// describe`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize, ConfigKeys)]
#[serde(deny_unknown_fields)]
pub struct JsonConfig {
    /// Decoder (required): the output columns in order, [{name, type}] with
    /// type one of string|bool|int32|int64|float32|float64|timestamp|json.
    #[serde(default)]
    pub columns: Option<Vec<ColumnDef>>,
    /// Decoder: JSON field or JSON Pointer (/order/price) → column; encoder:
    /// column → JSON field or pointer. Unmapped columns use the field of the
    /// same name.
    #[serde(default)]
    pub mapping: BTreeMap<String, String>,
    /// Decoder: also accept numeric strings for number and timestamp columns
    /// ("12" → 12), "true"/"false" for bool, and numbers or bools as text for
    /// string columns.
    #[serde(default)]
    pub lenient: bool,
    /// Encoder: write only these columns (default: all).
    #[serde(default)]
    pub include: Option<Vec<String>>,
    /// Encoder: leave these columns out.
    #[serde(default)]
    pub exclude: Vec<String>,
    /// Encoder: split field names on this string into nested objects (".":
    /// a.b → {"a":{"b":…}}).
    #[serde(default)]
    pub nested_delimiter: Option<String>,
    /// Encoder: write null cells as null (true) or leave the field out (false).
    #[serde(default)]
    pub output_nulls: bool,
    /// Encoder: a top-level field that gets the publish time in epoch
    /// milliseconds.
    #[serde(default)]
    pub timestamp_field: Option<String>,
}

impl JsonConfig {
    /// Reads a config that was validated against [`JsonConfig::config_spec`].
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

#[cfg(test)]
mod tests {
    use super::*;

    /// The `columns` key's description lists the types serde parses.
    #[test]
    fn the_columns_key_names_every_type() {
        let spec = JsonConfig::config_spec();
        let columns = spec.keys.iter().find(|k| k.name == "columns").unwrap();
        let names: Vec<&str> = JsonType::ALL.iter().map(|t| t.name()).collect();
        assert!(
            columns.doc.contains(&names.join("|")),
            "{} does not list {names:?}",
            columns.doc
        );
        for name in names {
            let def: ColumnDef =
                serde_json::from_value(serde_json::json!({"name": "c", "type": name})).unwrap();
            assert_eq!(def.kind.name(), name);
        }
    }
}
