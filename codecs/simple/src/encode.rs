//! Encoding: one Arrow column to message bytes.

use topictable_sdk::arrow_array::builder::BinaryBuilder;
use topictable_sdk::arrow_array::cast::AsArray;
use topictable_sdk::arrow_array::types::{
    ArrowPrimitiveType, Float32Type, Float64Type, Int8Type, Int16Type, Int32Type, Int64Type,
    TimestampMillisecondType,
};
use topictable_sdk::arrow_array::{Array, RecordBatch};
use topictable_sdk::arrow_schema::{DataType, Schema};
use topictable_sdk::{Encoded, Encoder, PluginError, RowError};

use crate::{SimpleEncoding, SimpleType};

/// Encodes one column of each row as a message key or value.
#[derive(Debug, Clone)]
pub struct SimpleEncoder {
    kind: SimpleType,
    encoding: SimpleEncoding,
    column: usize,
}

impl SimpleEncoder {
    /// An encoder for column `column` of `schema`, which must have `kind`'s type.
    pub fn new(
        kind: SimpleType,
        encoding: SimpleEncoding,
        column: &str,
        schema: &Schema,
    ) -> Result<Self, PluginError> {
        let (index, field) = schema.column_with_name(column).ok_or_else(|| {
            let names: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
            PluginError::config(format!(
                "column `{column}` not found; the table has {}",
                names.join(", ")
            ))
        })?;
        let matches = match (kind, field.data_type()) {
            (
                SimpleType::Timestamp,
                DataType::Timestamp(topictable_sdk::arrow_schema::TimeUnit::Millisecond, _),
            ) => true,
            (k, t) => &k.data_type() == t,
        };
        if !matches {
            return Err(PluginError::config(format!(
                "column `{column}` is {}, but the simple type `{}` needs {}",
                field.data_type(),
                kind.name(),
                kind.data_type()
            )));
        }
        Ok(Self {
            kind,
            encoding,
            column: index,
        })
    }
}

fn primitive<T: ArrowPrimitiveType>(
    array: &dyn Array,
    out: &mut BinaryBuilder,
    f: impl Fn(T::Native, &mut Vec<u8>),
) {
    let mut scratch = Vec::with_capacity(16);
    for v in array.as_primitive::<T>() {
        match v {
            Some(v) => {
                scratch.clear();
                f(v, &mut scratch);
                out.append_value(&scratch);
            }
            None => out.append_null(),
        }
    }
}

fn text<V: std::fmt::Display>(v: V, out: &mut Vec<u8>) {
    use std::io::Write;
    let _ = write!(out, "{v}");
}

impl Encoder for SimpleEncoder {
    fn encode(&mut self, batch: &RecordBatch) -> Result<Encoded, PluginError> {
        use SimpleEncoding::{Binary, Text};
        use SimpleType as T;
        let array = batch.column(self.column).as_ref();
        let mut out = BinaryBuilder::with_capacity(array.len(), array.len() * 8);
        let mut errors = Vec::new();
        match (self.kind, self.encoding) {
            (T::String, _) => {
                array
                    .as_string::<i32>()
                    .iter()
                    .for_each(|s| out.append_option(s));
            }
            (T::Bytes, _) => array
                .as_binary::<i32>()
                .iter()
                .for_each(|b| out.append_option(b)),
            (T::Uuid, _) => array.as_fixed_size_binary().iter().for_each(|b| {
                out.append_option(b.map(|b| {
                    uuid::Uuid::from_slice(b)
                        .expect("16 bytes")
                        .hyphenated()
                        .to_string()
                }))
            }),
            (T::Bool, enc) => array.as_boolean().iter().for_each(|b| {
                out.append_option(b.map(|b| match enc {
                    Binary => vec![u8::from(b)],
                    Text => b.to_string().into_bytes(),
                }))
            }),
            (T::Int8, Binary) => {
                primitive::<Int8Type>(array, &mut out, |v, o| o.extend(v.to_be_bytes()))
            }
            (T::Int16, Binary) => {
                primitive::<Int16Type>(array, &mut out, |v, o| o.extend(v.to_be_bytes()))
            }
            (T::Int32, Binary) => {
                primitive::<Int32Type>(array, &mut out, |v, o| o.extend(v.to_be_bytes()))
            }
            (T::Int64, Binary) => {
                primitive::<Int64Type>(array, &mut out, |v, o| o.extend(v.to_be_bytes()))
            }
            (T::Float32, Binary) => {
                primitive::<Float32Type>(array, &mut out, |v, o| o.extend(v.to_be_bytes()))
            }
            (T::Float64, Binary) => {
                primitive::<Float64Type>(array, &mut out, |v, o| o.extend(v.to_be_bytes()))
            }
            (T::Timestamp, Binary) => {
                primitive::<TimestampMillisecondType>(array, &mut out, |v, o| {
                    o.extend(v.to_be_bytes())
                })
            }
            (T::Int8, Text) => primitive::<Int8Type>(array, &mut out, text),
            (T::Int16, Text) => primitive::<Int16Type>(array, &mut out, text),
            (T::Int32, Text) => primitive::<Int32Type>(array, &mut out, text),
            (T::Int64, Text) => primitive::<Int64Type>(array, &mut out, text),
            (T::Float32, Text) => primitive::<Float32Type>(array, &mut out, text),
            (T::Float64, Text) => primitive::<Float64Type>(array, &mut out, text),
            (T::Timestamp, Text) => {
                // A timestamp outside the dates chrono can write is a row
                // error naming the row, not a panic that fails the batch.
                let millis = array.as_primitive::<TimestampMillisecondType>();
                for (row, v) in millis.iter().enumerate() {
                    match v.map(|v| (v, chrono::DateTime::from_timestamp_millis(v))) {
                        None => out.append_null(),
                        Some((_, Some(t))) => {
                            out.append_value(t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
                        }
                        Some((v, None)) => {
                            out.append_null();
                            errors.push(RowError::new(
                                row,
                                format!(
                                    "timestamp {v} ms is outside the dates that can be written as text \
                                     (years -262143 to 262142)"
                                ),
                            ));
                        }
                    }
                }
            }
        }
        Ok(Encoded {
            bytes: out.finish(),
            errors,
        })
    }
}
