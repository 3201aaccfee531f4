//! The `protobuf` format's config keys.

use std::time::Duration;

use serde::Deserialize;
use serde_json::{Map, Value, json};
use topictable_schema_registry::{ClientConfig, RegistryClient, SubjectNameStrategy, Version};
use topictable_sdk::{ConfigKey, ConfigSpec, ConfigType, PluginError, Side};

/// How messages are framed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Protocol {
    /// Magic byte `0x00`, 4-byte schema id, message indexes, message (Confluent's serializers).
    #[default]
    Confluent,
    /// The bare message; descriptor and message type come from config.
    Raw,
}

/// How enum values become cells.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EnumsAs {
    /// The value's name (`Utf8`); an unknown number becomes its decimal text.
    #[default]
    String,
    /// The value's number (`Int32`).
    Int,
}

/// Unit of `google.protobuf.Timestamp` and `Duration` columns.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TimeUnitConfig {
    /// Nanoseconds (exact).
    #[default]
    Ns,
    /// Milliseconds (sub-millisecond nanos are truncated).
    Ms,
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

/// Config of one `protobuf` decoder or encoder.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProtobufConfig {
    /// `confluent` or `raw`.
    #[serde(default)]
    pub protocol: Protocol,
    /// Full name of the message type the table reads.
    #[serde(default)]
    pub message: Option<String>,
    /// Inline `.proto` text.
    #[serde(default)]
    pub schema: Option<String>,
    /// Path of a serialized `FileDescriptorSet`.
    #[serde(default)]
    pub descriptor_set: Option<String>,
    /// `.proto` files compiled in-process.
    #[serde(default)]
    pub proto_files: Option<OneOrMany>,
    /// Include directories for `proto_files`.
    #[serde(default)]
    pub proto_include: Option<OneOrMany>,
    /// Schema Registry URL(s), comma-separated.
    #[serde(default)]
    pub schema_registry_url: Option<String>,
    /// Subject of the reader schema (or of registration, for the encoder).
    #[serde(default)]
    pub schema_subject: Option<String>,
    /// Version of the subject: a number or `latest`.
    #[serde(default)]
    pub schema_version: Option<Value>,
    /// Topic, to name the subject with `subject_strategy` when `schema_subject` is unset.
    #[serde(default)]
    pub topic: Option<String>,
    /// Subject naming strategy.
    #[serde(default)]
    pub subject_strategy: Option<String>,
    /// Basic auth user.
    #[serde(default)]
    pub registry_user: Option<String>,
    /// Basic auth password.
    #[serde(default)]
    pub registry_password: Option<String>,
    /// PEM file of a private CA.
    #[serde(default)]
    pub registry_ca_cert: Option<String>,
    /// Request timeout in milliseconds.
    #[serde(default)]
    pub registry_timeout_ms: Option<u64>,
    /// Retries per registry call.
    #[serde(default)]
    pub registry_retries: Option<u32>,
    /// Separator of flattened names.
    #[serde(default)]
    pub separator: Option<String>,
    /// Field path globs to keep.
    #[serde(default)]
    pub include: Option<OneOrMany>,
    /// Field path globs to drop.
    #[serde(default)]
    pub exclude: Option<OneOrMany>,
    /// `string` or `int`.
    #[serde(default)]
    pub enums: EnumsAs,
    /// `ns` or `ms`.
    #[serde(default)]
    pub time_unit: TimeUnitConfig,
    /// Encoder: register the schema under the subject.
    #[serde(default)]
    pub auto_register: Option<bool>,
}

fn choices(c: &[&str]) -> ConfigType {
    ConfigType::Enum {
        choices: c.iter().map(|s| s.to_string()).collect(),
    }
}

impl ProtobufConfig {
    /// The config keys, for validation and `topictable plugins describe`.
    pub fn spec() -> ConfigSpec {
        ConfigSpec::new(vec![
            ConfigKey::optional(
                "protocol",
                choices(&["confluent", "raw"]),
                json!("confluent"),
                "confluent = magic byte 0x00 + 4-byte schema id + message indexes + message (each message's type from the registry); raw = the bare message, of type `message`",
            ),
            ConfigKey::unset(
                "message",
                ConfigType::String,
                "full name of the message type the table reads (e.g. acme.Order); default: the first message of the reader schema's file",
            ),
            ConfigKey::unset(
                "schema",
                ConfigType::String,
                "inline .proto text (imports of google/protobuf/*.proto allowed)",
            ),
            ConfigKey::unset(
                "descriptor_set",
                ConfigType::String,
                "path of a serialized FileDescriptorSet (protoc --include_imports --descriptor_set_out, buf build -o)",
            ),
            ConfigKey::unset(
                "proto_files",
                ConfigType::Any,
                ".proto file path(s), compiled in-process (no protoc needed)",
            ),
            ConfigKey::unset(
                "proto_include",
                ConfigType::Any,
                "include directory (or list) for proto_files and their imports (default: each file's directory)",
            ),
            ConfigKey::unset(
                "schema_registry_url",
                ConfigType::String,
                "Schema Registry URL(s), comma-separated; with protocol confluent each message's type is looked up by schema id and message indexes",
            ),
            ConfigKey::unset(
                "schema_subject",
                ConfigType::String,
                "subject of the reader schema in the registry (default: from topic and subject_strategy)",
            ),
            ConfigKey::optional(
                "schema_version",
                ConfigType::Any,
                json!("latest"),
                "version of schema_subject: a number or \"latest\"",
            ),
            ConfigKey::unset(
                "topic",
                ConfigType::String,
                "topic name, to name the subject with subject_strategy when schema_subject is unset",
            ),
            ConfigKey::optional(
                "subject_strategy",
                choices(&["topic_name", "record_name", "topic_record_name"]),
                json!("topic_name"),
                "how subjects are named: <topic>-value/-key, <message>, or <topic>-<message>",
            ),
            ConfigKey::unset(
                "registry_user",
                ConfigType::String,
                "registry basic auth user",
            ),
            ConfigKey::unset(
                "registry_password",
                ConfigType::String,
                "registry basic auth password",
            ),
            ConfigKey::unset(
                "registry_ca_cert",
                ConfigType::String,
                "PEM file of a CA to trust for an https registry",
            ),
            ConfigKey::optional(
                "registry_timeout_ms",
                ConfigType::Integer,
                json!(10000),
                "time limit of one registry request",
            ),
            ConfigKey::optional(
                "registry_retries",
                ConfigType::Integer,
                json!(3),
                "retries (with backoff from 100 ms) when the registry is unreachable or answers 5xx",
            ),
            ConfigKey::optional(
                "separator",
                ConfigType::String,
                json!("_"),
                "separator of flattened nested field names (a_b for field b of message field a)",
            ),
            ConfigKey::unset(
                "include",
                ConfigType::Any,
                "field path glob(s) to keep, e.g. \"/addr/*\" or [\"/id\", \"/addr/city\"]; `*` matches within one segment, `**` any depth, and a path keeps everything under it",
            ),
            ConfigKey::unset(
                "exclude",
                ConfigType::Any,
                "field path glob(s) to drop (applied after include)",
            ),
            ConfigKey::optional(
                "enums",
                choices(&["string", "int"]),
                json!("string"),
                "enum fields as their value name (Utf8) or number (Int32)",
            ),
            ConfigKey::optional(
                "time_unit",
                choices(&["ns", "ms"]),
                json!("ns"),
                "unit of google.protobuf.Timestamp (Timestamp, UTC) and Duration columns",
            ),
            ConfigKey::optional(
                "auto_register",
                ConfigType::Boolean,
                json!(false),
                "encoder: register the schema (and its imports, as references) under the subject",
            ),
        ])
    }

    /// Reads a config validated against [`ProtobufConfig::spec`].
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
        if local == 0 && c.schema_registry_url.is_none() {
            return Err(PluginError::config(
                "no descriptor: give `schema_registry_url` (with `schema_subject` or `topic`), `schema` (.proto text), `descriptor_set` or `proto_files`",
            ));
        }
        if c.protocol == Protocol::Raw
            && local == 0
            && c.schema_subject.is_none()
            && c.topic.is_none()
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
        let Some(url) = &self.schema_registry_url else {
            return Ok(None);
        };
        let mut cc = ClientConfig::new(url);
        if let Some(user) = &self.registry_user {
            cc = cc.with_basic_auth(user, self.registry_password.as_deref().unwrap_or(""));
        }
        if let Some(path) = &self.registry_ca_cert {
            cc.ca_cert_pem = Some(
                std::fs::read(path)
                    .map_err(|e| PluginError::config(format!("registry_ca_cert `{path}`: {e}")))?,
            );
        }
        if let Some(ms) = self.registry_timeout_ms {
            cc.request_timeout = Duration::from_millis(ms);
        }
        if let Some(n) = self.registry_retries {
            cc.max_retries = n;
        }
        RegistryClient::new(cc)
            .map(Some)
            .map_err(|e| PluginError::config(e.to_string()))
    }

    /// The subject named by config for `side`, if any.
    pub fn subject(&self, side: Side) -> Result<Option<String>, PluginError> {
        if let Some(s) = &self.schema_subject {
            return Ok(Some(s.clone()));
        }
        let strategy = match self.subject_strategy.as_deref() {
            None => SubjectNameStrategy::TopicName,
            Some(name) => SubjectNameStrategy::ALL
                .iter()
                .find(|(n, _)| *n == name)
                .map(|(_, s)| *s)
                .ok_or_else(|| PluginError::config(format!("unknown subject_strategy `{name}`")))?,
        };
        let topic = self.topic.as_deref().unwrap_or_default();
        if strategy != SubjectNameStrategy::RecordName && topic.is_empty() {
            return Ok(None);
        }
        strategy
            .subject(topic, side == Side::Key, self.message.as_deref())
            .map(Some)
            .map_err(PluginError::config)
    }

    /// The version of `schema_version`.
    pub fn version(&self) -> Result<Version, PluginError> {
        match &self.schema_version {
            None => Ok(Version::Latest),
            Some(Value::String(s)) if s == "latest" => Ok(Version::Latest),
            Some(Value::Number(n)) if n.as_i64().is_some_and(|n| n >= 1) => {
                Ok(Version::Number(n.as_i64().unwrap_or(1) as i32))
            }
            Some(Value::String(s)) if s.parse::<i32>().is_ok_and(|n| n >= 1) => {
                Ok(Version::Number(s.parse().unwrap_or(1)))
            }
            Some(v) => Err(PluginError::config(format!(
                "schema_version must be a version number or \"latest\", got {v}"
            ))),
        }
    }

    /// Options for planning columns.
    pub fn plan_options(&self) -> crate::plan::PlanOptions {
        crate::plan::PlanOptions {
            separator: self.separator.clone().unwrap_or_else(|| "_".into()),
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
