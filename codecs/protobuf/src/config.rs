//! The `protobuf` format's config keys.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use topictable_schema_registry::{RegistryClient, RegistrySettings, Version};
use topictable_sdk::{ConfigKeys, ConfigType, ConfigValue, PluginError, Side};

use crate::options::{EnumsAs, PlanOptions, TimeUnitConfig};

/// How messages are framed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, ConfigValue)]
#[serde(rename_all = "snake_case")]
pub enum Protocol {
    /// Magic byte `0x00`, 4-byte schema id, message indexes, message (Confluent's serializers).
    #[default]
    Confluent,
    /// The bare message; descriptor and message type come from config.
    Raw,
}

/// A list of strings given as one string or a list.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum OneOrMany {
    /// One string.
    One(String),
    /// Several.
    Many(Vec<String>),
}

impl OneOrMany {
    /// The strings.
    pub fn to_vec(&self) -> Vec<String> {
        match self {
            OneOrMany::One(s) => vec![s.clone()],
            OneOrMany::Many(v) => v.clone(),
        }
    }
}

/// A string or a list: serde reports which of the two it was not.
impl ConfigValue for OneOrMany {
    fn config_type() -> ConfigType {
        ConfigType::Any
    }
}

/// Config of one `protobuf` decoder or encoder. The doc comments are the
/// keys' descriptions in `topictable plugins describe`.
#[derive(Debug, Clone, Deserialize, ConfigKeys)]
pub struct ProtobufConfig {
    /// confluent = magic byte 0x00 + 4-byte schema id + message indexes +
    /// message (each message's type from the registry); raw = the bare
    /// message, of type `message`.
    #[serde(default)]
    pub protocol: Protocol,
    /// Full name of the message type the table reads (e.g. acme.Order);
    /// default: the first message of the reader schema's file.
    #[serde(default)]
    pub message: Option<String>,
    /// Inline .proto text (imports of google/protobuf/*.proto allowed).
    #[serde(default)]
    pub schema: Option<String>,
    /// Path of a serialized FileDescriptorSet (protoc --include_imports
    /// --descriptor_set_out, buf build -o).
    #[serde(default)]
    pub descriptor_set: Option<String>,
    /// .proto file path(s), compiled in-process (no protoc needed).
    #[serde(default)]
    pub proto_files: Option<OneOrMany>,
    /// Include directory (or list) for proto_files and their imports
    /// (default: each file's directory).
    #[serde(default)]
    pub proto_include: Option<OneOrMany>,
    /// Registry location, subject and version (shared with the other Confluent codecs).
    #[serde(flatten)]
    pub registry: RegistrySettings,
    /// Separator of flattened nested field names (a_b for field b of message
    /// field a).
    #[serde(default = "default_separator")]
    pub separator: String,
    /// Field path glob(s) to keep, e.g. "/addr/*" or ["/id", "/addr/city"];
    /// `*` matches within one segment, `**` any depth, and a path keeps
    /// everything under it.
    #[serde(default)]
    pub include: Option<OneOrMany>,
    /// Field path glob(s) to drop (applied after include).
    #[serde(default)]
    pub exclude: Option<OneOrMany>,
    /// Enum fields as their value name (Utf8) or number (Int32).
    #[serde(default)]
    pub enums: EnumsAs,
    /// Unit of google.protobuf.Timestamp (Timestamp, UTC) and Duration
    /// columns.
    #[serde(default)]
    pub time_unit: TimeUnitConfig,
    /// Encoder: register the schema (and its imports, as references) under
    /// the subject.
    #[serde(default)]
    pub auto_register: bool,
}

fn default_separator() -> String {
    "_".into()
}

impl ProtobufConfig {
    /// Reads a config validated against [`ProtobufConfig::config_spec`].
    pub fn from_map(config: &Map<String, Value>) -> Result<Self, PluginError> {
        let c: Self = serde_json::from_value(Value::Object(config.clone()))?;
        let local = [
            c.schema.is_some(),
            c.descriptor_set.is_some(),
            c.proto_files.is_some(),
        ]
        .iter()
        .filter(|b| **b)
        .count();
        if local > 1 {
            return Err(PluginError::config(
                "give one of `schema`, `descriptor_set` and `proto_files`, not several",
            ));
        }
        if local == 0 && c.registry.schema_registry_url.is_none() {
            return Err(PluginError::config(
                "no descriptor: give `schema_registry_url` (with `schema_subject` or `topic`), `schema` (.proto text), `descriptor_set` or `proto_files`",
            ));
        }
        if c.protocol == Protocol::Raw
            && local == 0
            && c.registry.schema_subject.is_none()
            && c.registry.topic.is_none()
        {
            return Err(PluginError::config(
                "protocol `raw` has no header naming a schema: give `schema`, `descriptor_set` or `proto_files`, or a registry `schema_subject`",
            ));
        }
        Ok(c)
    }

    /// Whether a local descriptor source is configured.
    pub fn has_local_descriptor(&self) -> bool {
        self.schema.is_some() || self.descriptor_set.is_some() || self.proto_files.is_some()
    }

    /// The registry client, if a URL is configured.
    pub fn registry(&self) -> Result<Option<RegistryClient>, PluginError> {
        self.registry.client().map_err(PluginError::config)
    }

    /// The subject named by config for `side`, if any.
    pub fn subject(&self, side: Side) -> Result<Option<String>, PluginError> {
        self.registry
            .subject(side == Side::Key, self.message.as_deref())
            .map_err(PluginError::config)
    }

    /// The version of `schema_version`.
    pub fn version(&self) -> Result<Version, PluginError> {
        self.registry.version().map_err(PluginError::config)
    }

    /// Options for planning columns.
    pub fn plan_options(&self) -> PlanOptions {
        PlanOptions {
            separator: self.separator.clone(),
            include: self
                .include
                .as_ref()
                .map(OneOrMany::to_vec)
                .unwrap_or_default(),
            exclude: self
                .exclude
                .as_ref()
                .map(OneOrMany::to_vec)
                .unwrap_or_default(),
            enums: self.enums,
            time_unit: self.time_unit,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every choice the description offers (and every default it fills in) is
    /// one serde parses: `plugins describe` cannot drift from the parser.
    #[test]
    fn every_choice_the_description_offers_parses() {
        let spec = ProtobufConfig::config_spec();
        let base =
            serde_json::json!({"schema": "syntax = \"proto3\"; message M { int64 id = 1; }"});
        let tried = spec.every_choice(&base).unwrap();
        for (label, filled) in &tried {
            ProtobufConfig::from_map(filled).unwrap_or_else(|e| panic!("{label}: {e}"));
        }
        assert!(tried.len() >= 8, "only {} configs", tried.len());
    }
}
