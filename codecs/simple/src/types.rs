//! The column types of the `simple` codec and their Arrow types.

use std::collections::HashMap;

use serde::Deserialize;
use topictable_sdk::arrow_schema::{DataType, Field, TimeUnit};

/// A `simple` column type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, topictable_sdk::ConfigValue)]
#[serde(rename_all = "snake_case")]
pub enum SimpleType {
    /// UTF-8 text (`StringSerializer`).
    String,
    /// One byte 0/1 (`BooleanSerializer`), or `true`/`false` as text.
    Bool,
    /// One byte.
    Int8,
    /// 2 bytes big-endian (`ShortSerializer`).
    Int16,
    /// 4 bytes big-endian (`IntegerSerializer`).
    Int32,
    /// 8 bytes big-endian (`LongSerializer`).
    Int64,
    /// 4 bytes IEEE-754 big-endian (`FloatSerializer`).
    Float32,
    /// 8 bytes IEEE-754 big-endian (`DoubleSerializer`).
    Float64,
    /// Raw bytes (`ByteArraySerializer`).
    Bytes,
    /// The 36-character text form (`UUIDSerializer`); 16 raw bytes also accepted in binary.
    Uuid,
    /// Epoch milliseconds, 8 bytes big-endian; as text, RFC 3339 or epoch milliseconds.
    Timestamp,
}

impl SimpleType {
    /// Every type, in documentation order.
    pub const ALL: [SimpleType; 11] = [
        Self::String,
        Self::Bool,
        Self::Int8,
        Self::Int16,
        Self::Int32,
        Self::Int64,
        Self::Float32,
        Self::Float64,
        Self::Bytes,
        Self::Uuid,
        Self::Timestamp,
    ];

    /// The name used in config files.
    pub fn name(self) -> &'static str {
        match self {
            Self::String => "string",
            Self::Bool => "bool",
            Self::Int8 => "int8",
            Self::Int16 => "int16",
            Self::Int32 => "int32",
            Self::Int64 => "int64",
            Self::Float32 => "float32",
            Self::Float64 => "float64",
            Self::Bytes => "bytes",
            Self::Uuid => "uuid",
            Self::Timestamp => "timestamp",
        }
    }

    /// The Arrow type of the column.
    pub fn data_type(self) -> DataType {
        match self {
            Self::String => DataType::Utf8,
            Self::Bool => DataType::Boolean,
            Self::Int8 => DataType::Int8,
            Self::Int16 => DataType::Int16,
            Self::Int32 => DataType::Int32,
            Self::Int64 => DataType::Int64,
            Self::Float32 => DataType::Float32,
            Self::Float64 => DataType::Float64,
            Self::Bytes => DataType::Binary,
            Self::Uuid => DataType::FixedSizeBinary(16),
            Self::Timestamp => DataType::Timestamp(TimeUnit::Millisecond, Some("UTC".into())),
        }
    }

    /// The nullable Arrow field for a column of this type (UUIDs carry the
    /// canonical `arrow.uuid` extension name).
    pub fn field(self, name: &str) -> Field {
        let field = Field::new(name, self.data_type(), true);
        if self == Self::Uuid {
            field.with_metadata(HashMap::from([(
                "ARROW:extension:name".to_string(),
                "arrow.uuid".to_string(),
            )]))
        } else {
            field
        }
    }

    /// The byte width and Kafka serializer name of the binary encoding, for fixed-width types.
    pub(crate) fn binary_width(self) -> Option<(usize, &'static str)> {
        match self {
            Self::Bool => Some((1, "BooleanSerializer")),
            Self::Int8 => Some((1, "a single byte")),
            Self::Int16 => Some((2, "ShortSerializer")),
            Self::Int32 => Some((4, "IntegerSerializer")),
            Self::Int64 => Some((8, "LongSerializer")),
            Self::Float32 => Some((4, "FloatSerializer")),
            Self::Float64 => Some((8, "DoubleSerializer")),
            Self::Timestamp => Some((8, "LongSerializer epoch millis")),
            _ => None,
        }
    }
}
