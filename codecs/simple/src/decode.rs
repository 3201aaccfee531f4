//! Decoding: message bytes to one Arrow column.

use std::sync::Arc;

use topictable_sdk::arrow_array::builder::{
    BinaryBuilder, BooleanBuilder, FixedSizeBinaryBuilder, PrimitiveBuilder, StringBuilder,
};
use topictable_sdk::arrow_array::types::{
    ArrowPrimitiveType, Float32Type, Float64Type, Int8Type, Int16Type, Int32Type, Int64Type,
    TimestampMillisecondType,
};
use topictable_sdk::arrow_array::{ArrayRef, RecordBatch};
use topictable_sdk::arrow_schema::{Schema, SchemaRef};
use topictable_sdk::preview::preview_bytes;
use topictable_sdk::{BinaryColumn, Decoded, Decoder, MessageBatch, PluginError, RowError, Side};

use crate::{SimpleEncoding, SimpleType};

/// Decodes one side of each message into one column.
#[derive(Debug, Clone)]
pub struct SimpleDecoder {
    kind: SimpleType,
    encoding: SimpleEncoding,
    side: Side,
    schema: SchemaRef,
}

impl SimpleDecoder {
    /// A decoder producing column `column` of type `kind` from `side`.
    pub fn new(kind: SimpleType, encoding: SimpleEncoding, column: &str, side: Side) -> Self {
        let schema = Arc::new(Schema::new(vec![kind.field(column)]));
        Self {
            kind,
            encoding,
            side,
            schema,
        }
    }

    fn decode_column(&self, col: BinaryColumn<'_>, errors: &mut Vec<RowError>) -> ArrayRef {
        use SimpleEncoding::{Binary, Text};
        use SimpleType as T;
        let kind = self.kind;
        match (kind, self.encoding) {
            (T::String, _) => Arc::new(decode_string(col, errors)),
            (T::Bytes, _) => {
                let mut b = BinaryBuilder::with_capacity(col.len(), col.parts().1.len());
                (0..col.len()).for_each(|i| b.append_option(col.get(i)));
                Arc::new(b.finish())
            }
            (T::Uuid, enc) => Arc::new(decode_uuid(col, enc, errors)),
            (T::Bool, enc) => {
                let mut b = BooleanBuilder::with_capacity(col.len());
                for_each_value(
                    col,
                    errors,
                    |v| b.append_option(v),
                    |bytes| match enc {
                        Binary => match fixed::<1>(bytes, kind)? {
                            [0] => Ok(false),
                            [1] => Ok(true),
                            [x] => Err(format!(
                                "expected byte 0 or 1 (BooleanSerializer) for bool, got {x}"
                            )),
                        },
                        Text => {
                            parse_text(bytes, kind, |s| match s.to_ascii_lowercase().as_str() {
                                "true" => Ok(true),
                                "false" => Ok(false),
                                _ => Err("not true or false".to_string()),
                            })
                        }
                    },
                );
                Arc::new(b.finish())
            }
            (T::Int8, Binary) => Arc::new(primitive::<Int8Type>(col, errors, |b| {
                fixed(b, kind).map(i8::from_be_bytes)
            })),
            (T::Int16, Binary) => Arc::new(primitive::<Int16Type>(col, errors, |b| {
                fixed(b, kind).map(i16::from_be_bytes)
            })),
            (T::Int32, Binary) => Arc::new(primitive::<Int32Type>(col, errors, |b| {
                fixed(b, kind).map(i32::from_be_bytes)
            })),
            (T::Int64, Binary) => Arc::new(primitive::<Int64Type>(col, errors, |b| {
                fixed(b, kind).map(i64::from_be_bytes)
            })),
            (T::Float32, Binary) => Arc::new(primitive::<Float32Type>(col, errors, |b| {
                fixed(b, kind).map(f32::from_be_bytes)
            })),
            (T::Float64, Binary) => Arc::new(primitive::<Float64Type>(col, errors, |b| {
                fixed(b, kind).map(f64::from_be_bytes)
            })),
            (T::Timestamp, Binary) => Arc::new(
                primitive::<TimestampMillisecondType>(col, errors, |b| {
                    fixed(b, kind).map(i64::from_be_bytes)
                })
                .with_timezone("UTC"),
            ),
            (T::Int8, Text) => Arc::new(primitive::<Int8Type>(col, errors, |b| {
                parse_text(b, kind, str::parse)
            })),
            (T::Int16, Text) => Arc::new(primitive::<Int16Type>(col, errors, |b| {
                parse_text(b, kind, str::parse)
            })),
            (T::Int32, Text) => Arc::new(primitive::<Int32Type>(col, errors, |b| {
                parse_text(b, kind, str::parse)
            })),
            (T::Int64, Text) => Arc::new(primitive::<Int64Type>(col, errors, |b| {
                parse_text(b, kind, str::parse)
            })),
            (T::Float32, Text) => Arc::new(primitive::<Float32Type>(col, errors, |b| {
                parse_text(b, kind, str::parse)
            })),
            (T::Float64, Text) => Arc::new(primitive::<Float64Type>(col, errors, |b| {
                parse_text(b, kind, str::parse)
            })),
            (T::Timestamp, Text) => Arc::new(
                primitive::<TimestampMillisecondType>(col, errors, |b| {
                    parse_text(b, kind, parse_timestamp)
                })
                .with_timezone("UTC"),
            ),
        }
    }
}

impl Decoder for SimpleDecoder {
    fn output_schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    fn decode(&mut self, messages: &MessageBatch<'_>) -> Result<Decoded, PluginError> {
        let col = match self.side {
            Side::Key => messages.keys,
            Side::Value => messages.values,
        };
        let mut errors = Vec::new();
        let array = self.decode_column(col, &mut errors);
        let batch = RecordBatch::try_new(self.schema.clone(), vec![array])?;
        Ok(Decoded { batch, errors })
    }
}

/// Calls `parse` on every non-null value; nulls and failures reach `append` as `None`.
fn for_each_value<'a, V>(
    col: BinaryColumn<'a>,
    errors: &mut Vec<RowError>,
    mut append: impl FnMut(Option<V>),
    parse: impl Fn(&'a [u8]) -> Result<V, String>,
) {
    for i in 0..col.len() {
        match col.get(i) {
            None => append(None),
            Some(bytes) => match parse(bytes) {
                Ok(v) => append(Some(v)),
                Err(message) => {
                    errors.push(RowError::new(i, message));
                    append(None);
                }
            },
        }
    }
}

fn primitive<T: ArrowPrimitiveType>(
    col: BinaryColumn<'_>,
    errors: &mut Vec<RowError>,
    parse: impl Fn(&[u8]) -> Result<T::Native, String>,
) -> topictable_sdk::arrow_array::PrimitiveArray<T> {
    let mut b = PrimitiveBuilder::<T>::with_capacity(col.len());
    for_each_value(col, errors, |v| b.append_option(v), parse);
    b.finish()
}

fn decode_string(
    col: BinaryColumn<'_>,
    errors: &mut Vec<RowError>,
) -> topictable_sdk::arrow_array::StringArray {
    let mut b = StringBuilder::with_capacity(col.len(), col.parts().1.len());
    for_each_value(
        col,
        errors,
        |v| b.append_option(v),
        |bytes| {
            std::str::from_utf8(bytes).map_err(|e| {
                format!(
                    "expected UTF-8 text for string, got {}: {e}",
                    preview_bytes(bytes)
                )
            })
        },
    );
    b.finish()
}

fn decode_uuid(
    col: BinaryColumn<'_>,
    encoding: SimpleEncoding,
    errors: &mut Vec<RowError>,
) -> topictable_sdk::arrow_array::FixedSizeBinaryArray {
    let mut b = FixedSizeBinaryBuilder::with_capacity(col.len(), 16);
    for_each_value(
        col,
        errors,
        |v: Option<[u8; 16]>| match v {
            Some(bytes) => b.append_value(bytes).expect("16 bytes"),
            None => b.append_null(),
        },
        |bytes| {
            if encoding == SimpleEncoding::Binary && bytes.len() == 16 {
                return Ok(bytes.try_into().expect("checked length"));
            }
            let text = std::str::from_utf8(bytes).map_err(|_| uuid_error(bytes))?;
            uuid::Uuid::parse_str(text.trim())
                .map(|u| *u.as_bytes())
                .map_err(|_| uuid_error(bytes))
        },
    );
    b.finish()
}

fn uuid_error(bytes: &[u8]) -> String {
    format!(
        "expected a UUID as 36-character text (UUIDSerializer) or 16 bytes, got {} bytes: {}",
        bytes.len(),
        preview_bytes(bytes)
    )
}

/// Checks a binary value's width against Kafka's serializer for `kind`.
fn fixed<const N: usize>(bytes: &[u8], kind: SimpleType) -> Result<[u8; N], String> {
    bytes.try_into().map_err(|_| {
        let serializer = kind.binary_width().map_or("", |(_, s)| s);
        format!(
            "expected {N} byte{} ({serializer}) for {}, got {} bytes: {}",
            if N == 1 { "" } else { "s" },
            kind.name(),
            bytes.len(),
            preview_bytes(bytes)
        )
    })
}

fn parse_text<V, E: std::fmt::Display>(
    bytes: &[u8],
    kind: SimpleType,
    parse: impl Fn(&str) -> Result<V, E>,
) -> Result<V, String> {
    let text = std::str::from_utf8(bytes).map_err(|e| {
        format!(
            "expected {} as UTF-8 text, got {}: {e}",
            kind.name(),
            preview_bytes(bytes)
        )
    })?;
    parse(text.trim()).map_err(|e| {
        format!(
            "expected {} as text, got {}: {e}",
            kind.name(),
            preview_bytes(bytes)
        )
    })
}

/// RFC 3339 (`2026-11-23T10:00:00Z`) or integer epoch milliseconds.
fn parse_timestamp(text: &str) -> Result<i64, String> {
    if let Ok(millis) = text.parse::<i64>() {
        return Ok(millis);
    }
    chrono::DateTime::parse_from_rfc3339(text)
        .map(|t| t.timestamp_millis())
        .map_err(|e| format!("neither RFC 3339 nor epoch milliseconds ({e})"))
}
