//! The column types of the `json` codec and their Arrow types.

use std::collections::HashMap;

use serde::Deserialize;
use topictable_sdk::arrow_schema::{DataType, Field, TimeUnit};

/// Field metadata key of Arrow's canonical extension types.
pub const EXTENSION_NAME_KEY: &str = "ARROW:extension:name";
/// Arrow's canonical extension name for UTF-8 columns holding JSON text.
pub const JSON_EXTENSION_NAME: &str = "arrow.json";

/// A `json` column type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JsonType {
    /// A JSON string.
    String,
    /// `true` or `false`.
    Bool,
    /// An integer literal in int32 range.
    Int32,
    /// An integer literal in int64 range, read exactly.
    Int64,
    /// Any number, rounded to float32.
    Float32,
    /// Any number.
    Float64,
    /// An RFC 3339 string or integer epoch milliseconds.
    Timestamp,
    /// Any value, kept as its JSON text (`arrow.json` extension type).
    Json,
}

impl JsonType {
    /// Every type, in documentation order.
    pub const ALL: [JsonType; 8] = [
        Self::String,
        Self::Bool,
        Self::Int32,
        Self::Int64,
        Self::Float32,
        Self::Float64,
        Self::Timestamp,
        Self::Json,
    ];

    /// The name used in config files and error messages.
    pub fn name(self) -> &'static str {
        match self {
            Self::String => "string",
            Self::Bool => "bool",
            Self::Int32 => "int32",
            Self::Int64 => "int64",
            Self::Float32 => "float32",
            Self::Float64 => "float64",
            Self::Timestamp => "timestamp",
            Self::Json => "json",
        }
    }

    /// The Arrow type of the column.
    pub fn data_type(self) -> DataType {
        match self {
            Self::String | Self::Json => DataType::Utf8,
            Self::Bool => DataType::Boolean,
            Self::Int32 => DataType::Int32,
            Self::Int64 => DataType::Int64,
            Self::Float32 => DataType::Float32,
            Self::Float64 => DataType::Float64,
            Self::Timestamp => DataType::Timestamp(TimeUnit::Millisecond, Some("UTC".into())),
        }
    }

    /// The nullable Arrow field for a column of this type (`json` columns
    /// carry the canonical `arrow.json` extension name, which the encoder reads).
    pub fn field(self, name: &str) -> Field {
        let field = Field::new(name, self.data_type(), true);
        if self == Self::Json {
            field.with_metadata(HashMap::from([(
                EXTENSION_NAME_KEY.to_string(),
                JSON_EXTENSION_NAME.to_string(),
            )]))
        } else {
            field
        }
    }
}
