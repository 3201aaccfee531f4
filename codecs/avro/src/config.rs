//! The `avro` format's config keys.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use topictable_schema_registry::{RegistryClient, RegistrySettings, Version};
use topictable_sdk::{ConfigKeys, ConfigValue, PluginError, Side};

use crate::plan::{Nested, PlanOptions, Unions};
use crate::schema::SchemaSet;

/// How messages are framed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, ConfigValue)]
#[serde(rename_all = "snake_case")]
pub enum Protocol {
    /// Magic byte `0x00`, 4-byte schema id, datum (Confluent's serializers).
    #[default]
    Confluent,
    /// The bare datum; the schema comes from config.
    Raw,
}

/// Config of one `avro` decoder or encoder. The doc comments are the keys'
/// descriptions in `topictable plugins describe`.
#[derive(Debug, Clone, Deserialize, ConfigKeys)]
pub struct AvroConfig {
    /// confluent = magic byte 0x00 + 4-byte schema id + datum (writer schema
    /// from the registry); raw = the bare datum, written with the reader schema.
    #[serde(default)]
    pub protocol: Protocol,
    /// Reader schema: inline Avro JSON, or a path to an .avsc file (else it
    /// comes from the registry).
    #[serde(default)]
    pub schema: Option<String>,
    /// Registry location, subject and version (shared with the other Confluent codecs).
    #[serde(flatten)]
    pub registry: RegistrySettings,
    /// Record full name for the record_name and topic_record_name strategies;
    /// encoder: the generated schema's record name (default topictable.Row, or
    /// topictable.Key for keys).
    #[serde(default)]
    pub record_name: Option<String>,
    /// Field → column renames (nested fields by flattened name, e.g.
    /// address__city); other fields keep their names. The encoder reads each
    /// field from its column the same way.
    #[serde(default)]
    pub mapping: Option<HashMap<String, String>>,
    /// Field → column; only these fields become columns (encoder: only these
    /// columns are written, other fields take their default or null).
    #[serde(default)]
    pub mapping_only: Option<HashMap<String, String>>,
    /// Nested records: flatten into a__b columns, or keep as Arrow structs.
    #[serde(default)]
    pub nested: Nested,
    /// Separator of flattened column names.
    #[serde(default = "default_separator")]
    pub separator: String,
    /// Column name when the schema is not a record (default KafkaKey or
    /// KafkaValue); encoder without `schema`: write this column alone, not a
    /// record.
    #[serde(default)]
    pub column: Option<String>,
    /// Encoder: register the schema (given, or generated from the table) under
    /// the subject and write its id; else the schema must already be
    /// registered there (a given schema is looked up, without `schema` the
    /// subject's `schema_version` is used).
    #[serde(default)]
    pub auto_register: bool,
    /// Decoder: unions other than ["null", T] are an error, or become an Arrow
    /// dense union column with one child per branch (named after the branch
    /// type: int, string, com.acme.Address, array, map; a null branch is a
    /// Null child).
    #[serde(default)]
    pub unions: Unions,
}

fn default_separator() -> String {
    "__".into()
}

impl AvroConfig {
    /// Reads a config validated against [`AvroConfig::config_spec`].
    pub fn from_map(config: &Map<String, Value>) -> Result<Self, PluginError> {
        let c: Self = serde_json::from_value(Value::Object(config.clone()))?;
        if c.mapping.is_some() && c.mapping_only.is_some() {
            return Err(PluginError::config(
                "give either `mapping` or `mapping_only`, not both",
            ));
        }
        if c.protocol == Protocol::Confluent && c.registry.schema_registry_url.is_none() {
            return Err(PluginError::config(
                "protocol `confluent` needs `schema_registry_url` (each message names its writer schema by id); use protocol `raw` for bare datums",
            ));
        }
        Ok(c)
    }

    /// The registry client, if a URL is configured.
    pub fn registry(&self) -> Result<Option<RegistryClient>, PluginError> {
        self.registry.client().map_err(PluginError::config)
    }

    /// The subject named by config for `side`, if any.
    pub fn subject(&self, side: Side) -> Result<Option<String>, PluginError> {
        self.registry
            .subject(side == Side::Key, self.record_name.as_deref())
            .map_err(PluginError::config)
    }

    /// The version of `schema_version`.
    pub fn version(&self) -> Result<Version, PluginError> {
        self.registry.version().map_err(PluginError::config)
    }

    /// The inline schema's text (reading the `.avsc` file when it is a path).
    pub fn inline_schema(&self) -> Result<Option<String>, PluginError> {
        let Some(s) = &self.schema else {
            return Ok(None);
        };
        let t = s.trim_start();
        if t.starts_with('{') || t.starts_with('[') || t.starts_with('"') {
            return Ok(Some(s.clone()));
        }
        std::fs::read_to_string(s)
            .map(Some)
            .map_err(|e| PluginError::config(format!("schema file `{s}`: {e}")))
    }

    /// The reader schema: inline, or from the registry; returns its texts
    /// (dependencies first) and its registry id when it came from there.
    pub fn reader_schema(
        &self,
        side: Side,
        registry: Option<&RegistryClient>,
    ) -> Result<(Vec<String>, Option<u32>), PluginError> {
        if let Some(text) = self.inline_schema()? {
            return Ok((vec![text], None));
        }
        let registry = registry.ok_or_else(|| {
            PluginError::config(
                "no schema: give `schema` (inline JSON or .avsc path), or `schema_registry_url` with `schema_subject`",
            )
        })?;
        let subject = self.subject(side)?.ok_or_else(|| {
            PluginError::config(
                "the registry is configured but no subject: give `schema_subject`, or `topic` (with `subject_strategy`)",
            )
        })?;
        let version = self.version()?;
        let (sv, resolved) = registry.subject_version(&subject, version).map_err(|e| {
            PluginError::config(format!("reader schema {subject} version {version}: {e}"))
        })?;
        Ok((
            resolved
                .texts_in_dependency_order()
                .into_iter()
                .map(String::from)
                .collect(),
            Some(sv.id),
        ))
    }

    /// Options for planning the reader schema's columns.
    pub fn plan_options(&self, side: Side) -> Result<PlanOptions, PluginError> {
        Ok(PlanOptions {
            nested: self.nested,
            unions: self.unions,
            separator: self.separator.clone(),
            mapping_only: self.mapping_only.is_some(),
            mapping: self
                .mapping
                .clone()
                .or_else(|| self.mapping_only.clone())
                .unwrap_or_default(),
            column: self
                .column
                .clone()
                .unwrap_or_else(|| side.default_column().to_string()),
        })
    }
}

/// Parses schema texts (dependencies first) into a set, checking with
/// apache-avro that they are valid Avro.
pub fn parse_schema(texts: &[String]) -> Result<(SchemaSet, usize), String> {
    let (main, deps) = texts.split_last().ok_or("no schema")?;
    apache_avro::Schema::parse_str_with_list(main, deps)
        .map_err(|e| format!("invalid Avro schema: {e}"))?;
    SchemaSet::parse(texts)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every choice the description offers (and every default it fills in) is
    /// one serde parses: `plugins describe` cannot drift from the parser.
    #[test]
    fn every_choice_the_description_offers_parses() {
        let spec = AvroConfig::config_spec();
        let base =
            serde_json::json!({"schema_registry_url": "http://127.0.0.1:9", "schema": "\"long\""});
        let tried = spec.every_choice(&base).unwrap();
        for (label, filled) in &tried {
            AvroConfig::from_map(filled).unwrap_or_else(|e| panic!("{label}: {e}"));
        }
        assert!(tried.len() >= 8, "only {} configs", tried.len());
    }
}
