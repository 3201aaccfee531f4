//! The JSON bodies of the Confluent Schema Registry REST API, shared by the
//! client and the embedded server.

use serde::{Deserialize, Serialize};
use topictable_sdk::ConfigValue;

/// The media type of every registry request and response body.
pub const CONTENT_TYPE: &str = "application/vnd.schemaregistry.v1+json";

/// The kind of a schema (`schemaType`; absent means Avro).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum SchemaType {
    /// Apache Avro (the default).
    #[default]
    Avro,
    /// Protocol Buffers (`.proto` text or a base64 `FileDescriptorProto`).
    Protobuf,
    /// JSON Schema.
    Json,
}

impl SchemaType {
    fn is_avro(&self) -> bool {
        *self == SchemaType::Avro
    }
}

impl std::fmt::Display for SchemaType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            SchemaType::Avro => "AVRO",
            SchemaType::Protobuf => "PROTOBUF",
            SchemaType::Json => "JSON",
        })
    }
}

/// A reference from one schema to another registered one (an Avro named
/// type, or a Protobuf import).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct SchemaReference {
    /// The name used in the referring schema (Avro full name, or import path).
    pub name: String,
    /// The subject it is registered under.
    pub subject: String,
    /// The version of that subject.
    pub version: i32,
}

/// A schema as sent to `POST /subjects/{s}/versions` and returned by `GET /schemas/ids/{id}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Schema {
    /// The schema text (Avro JSON, `.proto` text, …).
    pub schema: String,
    /// Its kind; omitted on the wire when Avro, as Confluent does.
    #[serde(default, skip_serializing_if = "SchemaType::is_avro")]
    pub schema_type: SchemaType,
    /// The schemas it refers to.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub references: Vec<SchemaReference>,
}

impl Schema {
    /// An Avro schema without references.
    pub fn avro(text: impl Into<String>) -> Self {
        Self {
            schema: text.into(),
            schema_type: SchemaType::Avro,
            references: Vec::new(),
        }
    }
}

/// One version of a subject, as returned by `GET /subjects/{s}/versions/{v}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SubjectVersion {
    /// The subject.
    pub subject: String,
    /// The global schema id.
    pub id: u32,
    /// The version within the subject (from 1).
    pub version: i32,
    /// The schema text.
    pub schema: String,
    /// Its kind.
    #[serde(default, skip_serializing_if = "SchemaType::is_avro")]
    pub schema_type: SchemaType,
    /// The schemas it refers to.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub references: Vec<SchemaReference>,
}

impl SubjectVersion {
    /// The schema part of this version.
    pub fn to_schema(&self) -> Schema {
        Schema {
            schema: self.schema.clone(),
            schema_type: self.schema_type,
            references: self.references.clone(),
        }
    }
}

/// A `(subject, version)` pair, as in `GET /schemas/ids/{id}/versions`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SubjectAndVersion {
    /// The subject.
    pub subject: String,
    /// The version.
    pub version: i32,
}

/// The body of a registry error response, e.g. `{"error_code": 40401, "message": "Subject 'x' not found."}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    /// Confluent's error code (40401 subject not found, 40403 schema not found, …).
    pub error_code: u32,
    /// The message.
    pub message: String,
}

/// Confluent's error codes used by this crate.
pub mod error_codes {
    /// Subject not found.
    pub const SUBJECT_NOT_FOUND: u32 = 40401;
    /// Version not found.
    pub const VERSION_NOT_FOUND: u32 = 40402;
    /// Schema not found.
    pub const SCHEMA_NOT_FOUND: u32 = 40403;
    /// Invalid schema.
    pub const INVALID_SCHEMA: u32 = 42201;
    /// Invalid version.
    pub const INVALID_VERSION: u32 = 42202;
    /// Backend store error.
    pub const STORE_ERROR: u32 = 50001;
}

/// How a schema's subject is named for a topic (Confluent's `subject.name.strategy`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize, ConfigValue)]
#[serde(rename_all = "snake_case")]
pub enum SubjectNameStrategy {
    /// `<topic>-key` or `<topic>-value` (the default).
    #[default]
    TopicName,
    /// The record's full name (`com.acme.Order`).
    RecordName,
    /// `<topic>-<record full name>`.
    TopicRecordName,
}

impl SubjectNameStrategy {
    /// The subject for `topic`, the message part (`is_key`), and the record's
    /// full name (needed by the record strategies).
    pub fn subject(
        self,
        topic: &str,
        is_key: bool,
        record_name: Option<&str>,
    ) -> Result<String, String> {
        let part = if is_key { "key" } else { "value" };
        match (self, record_name) {
            (SubjectNameStrategy::TopicName, _) => Ok(format!("{topic}-{part}")),
            (SubjectNameStrategy::RecordName, Some(r)) => Ok(r.to_string()),
            (SubjectNameStrategy::TopicRecordName, Some(r)) => Ok(format!("{topic}-{r}")),
            (s, None) => Err(format!(
                "subject strategy {s:?} needs a record name, and the schema has none"
            )),
        }
    }
}
