//! Encoding: one JSON object per row.
//!
//! The encoder is planned once from the table's schema: which columns are
//! written, under which (possibly nested) field, as which JSON type. Field
//! names are escaped once; each row is then written into one reused buffer.
//!
//! Rows are written straight into the value buffer of the output array, sized
//! from the previous batch's bytes per row, so a row costs no allocation and no
//! copy.
//!
//! - `include` / `exclude` choose the columns (all by default);
//! - `mapping` renames a column's field (`{"Price": "price"}`), and a field
//!   starting with `/` is a JSON Pointer (`/order/price`) that nests it;
//! - `nested_delimiter` splits field names into nested objects (`a.b` →
//!   `{"a":{"b":…}}`);
//! - `output_nulls` writes null cells as `null` rather than leaving them out
//!   (an object whose every field is left out is left out too);
//! - `timestamp_field` adds the publish time in epoch milliseconds;
//! - timestamps are written as RFC 3339 strings in UTC, `json` columns
//!   (`arrow.json` extension) embedded as they are, after checking they hold
//!   valid JSON. A NaN or infinite float cannot be written and is a row error.

use std::time::{SystemTime, UNIX_EPOCH};

use chrono::{DateTime, SecondsFormat};
use serde::de::IgnoredAny;
use topictable_sdk::arrow_array::cast::AsArray;
use topictable_sdk::arrow_array::types::{
    Float32Type, Float64Type, Int8Type, Int16Type, Int32Type, Int64Type, TimestampMicrosecondType,
    TimestampMillisecondType, TimestampNanosecondType, TimestampSecondType, UInt8Type, UInt16Type,
    UInt32Type, UInt64Type,
};
use topictable_sdk::arrow_array::{
    Array, BinaryArray, BooleanArray, GenericStringArray, PrimitiveArray, RecordBatch,
};
use topictable_sdk::arrow_buffer::{Buffer, NullBufferBuilder, OffsetBuffer, ScalarBuffer};
use topictable_sdk::arrow_schema::{DataType, Field, Schema, TimeUnit};
use topictable_sdk::config::closest;
use topictable_sdk::preview::preview_bytes;
use topictable_sdk::{Encoded, Encoder, PluginError, RowError};

use crate::plan::parse_pointer;
use crate::{EXTENSION_NAME_KEY, JSON_EXTENSION_NAME, JsonConfig};

/// How a column's values are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Utf8,
    LargeUtf8,
    Json,
    LargeJson,
    Bool,
    Int8,
    Int16,
    Int32,
    Int64,
    UInt8,
    UInt16,
    UInt32,
    UInt64,
    Float32,
    Float64,
    Timestamp(TimeUnit),
}

impl Kind {
    fn of(field: &Field) -> Option<Self> {
        let json = field.metadata().get(EXTENSION_NAME_KEY).map(String::as_str)
            == Some(JSON_EXTENSION_NAME);
        Some(match field.data_type() {
            DataType::Utf8 if json => Self::Json,
            DataType::LargeUtf8 if json => Self::LargeJson,
            DataType::Utf8 => Self::Utf8,
            DataType::LargeUtf8 => Self::LargeUtf8,
            DataType::Boolean => Self::Bool,
            DataType::Int8 => Self::Int8,
            DataType::Int16 => Self::Int16,
            DataType::Int32 => Self::Int32,
            DataType::Int64 => Self::Int64,
            DataType::UInt8 => Self::UInt8,
            DataType::UInt16 => Self::UInt16,
            DataType::UInt32 => Self::UInt32,
            DataType::UInt64 => Self::UInt64,
            DataType::Float32 => Self::Float32,
            DataType::Float64 => Self::Float64,
            DataType::Timestamp(unit, _) => Self::Timestamp(*unit),
            _ => return None,
        })
    }
}

/// What one field of an output object holds.
#[derive(Debug, Clone)]
enum Member {
    /// A column's value (index into the batch's columns).
    Column(usize),
    /// A nested object.
    Object(OutNode),
    /// The publish time in epoch milliseconds.
    PublishTime,
}

/// An output object: its fields in order, each name already escaped as
/// `,"name":` (the comma is left out before the first field written).
#[derive(Debug, Clone, Default)]
struct OutNode {
    members: Vec<(String, Vec<u8>, Member)>,
}

impl OutNode {
    /// The member called `name`, added when absent.
    fn member(&mut self, name: &str, make: impl FnOnce() -> Member) -> &mut Member {
        let at = match self.members.iter().position(|(n, _, _)| n == name) {
            Some(at) => at,
            None => {
                let mut key = Vec::with_capacity(name.len() + 4);
                key.push(b',');
                write_str(&mut key, name);
                key.push(b':');
                self.members.push((name.to_string(), key, make()));
                self.members.len() - 1
            }
        };
        &mut self.members[at].2
    }
}

/// Encodes rows as JSON objects.
#[derive(Debug, Clone)]
pub struct JsonEncoder {
    root: OutNode,
    kinds: Vec<Option<Kind>>,
    names: Vec<String>,
    output_nulls: bool,
    /// Bytes per row of the last batch, to size the next one's buffer.
    bytes_per_row: usize,
}

impl JsonEncoder {
    /// An encoder for rows of `schema`, configured by the encoder keys of `config`.
    pub fn new(config: &JsonConfig, schema: &Schema) -> Result<Self, PluginError> {
        let names: Vec<String> = schema.fields().iter().map(|f| f.name().clone()).collect();
        let known = |what: &str, column: &str| -> Result<(), PluginError> {
            if names.iter().any(|n| n == column) {
                return Ok(());
            }
            let hint = closest(column, names.iter().map(String::as_str))
                .map(|s| format!(" (did you mean `{s}`?)"))
                .unwrap_or_default();
            Err(PluginError::config(format!(
                "json: {what} names column `{column}`, which the table does not have{hint}; it has {}",
                names.join(", ")
            )))
        };
        for c in config.include.iter().flatten() {
            known("`include`", c)?;
        }
        for c in &config.exclude {
            known("`exclude`", c)?;
        }
        for c in config.mapping.keys() {
            known("`mapping`", c)?;
        }
        if config.nested_delimiter.as_deref() == Some("") {
            return Err(PluginError::config(
                "json: `nested_delimiter` must not be empty",
            ));
        }
        let mut root = OutNode::default();
        let mut kinds = vec![None; names.len()];
        for (i, field) in schema.fields().iter().enumerate() {
            let name = field.name();
            let included = config.include.as_ref().is_none_or(|inc| inc.contains(name))
                && !config.exclude.contains(name);
            if !included {
                continue;
            }
            let kind = Kind::of(field).ok_or_else(|| {
                PluginError::config(format!(
                    "json: column `{name}` has type {}, which the json encoder cannot write; exclude it or cast it",
                    field.data_type()
                ))
            })?;
            kinds[i] = Some(kind);
            let out_name = config.mapping.get(name).unwrap_or(name);
            let path: Vec<String> =
                if config.mapping.contains_key(name) && out_name.starts_with('/') {
                    parse_pointer(out_name).map_err(|e| {
                        PluginError::config(format!("json: mapping `{name}` → \"{out_name}\": {e}"))
                    })?
                } else if let Some(d) = &config.nested_delimiter {
                    out_name.split(d.as_str()).map(str::to_string).collect()
                } else {
                    vec![out_name.clone()]
                };
            place(&mut root, &path, Member::Column(i), &names)?;
        }
        if let Some(ts) = &config.timestamp_field {
            place(
                &mut root,
                std::slice::from_ref(ts),
                Member::PublishTime,
                &names,
            )?;
        }
        Ok(Self {
            root,
            kinds,
            names,
            output_nulls: config.output_nulls,
            bytes_per_row: 64,
        })
    }

    /// Writes the object `node` for `row`; returns whether it has any member.
    fn write_object(
        &self,
        node: &OutNode,
        cols: &[Column<'_>],
        row: usize,
        now: i64,
        out: &mut Vec<u8>,
    ) -> Result<bool, String> {
        out.push(b'{');
        let mut empty = true;
        for (_, key, member) in &node.members {
            let mark = out.len();
            out.extend_from_slice(if empty { &key[1..] } else { key });
            let wrote = match member {
                Member::Column(c) => cols[*c].write(row, out).map_err(|e| {
                    format!(
                        "column {} ({}): {e}",
                        serde_json::Value::from(self.names[*c].as_str()),
                        cols[*c].type_name()
                    )
                })?,
                Member::Object(child) => self.write_object(child, cols, row, now, out)?,
                Member::PublishTime => {
                    out.extend_from_slice(itoa::Buffer::new().format(now).as_bytes());
                    true
                }
            };
            if wrote || self.output_nulls {
                empty = false;
            } else {
                out.truncate(mark);
            }
        }
        out.push(b'}');
        Ok(!empty)
    }
}

/// Puts `member` at `path` under `root`, refusing two writers of one field.
fn place(
    root: &mut OutNode,
    path: &[String],
    member: Member,
    names: &[String],
) -> Result<(), PluginError> {
    let describe = |m: &Member| match m {
        Member::Column(c) => format!("column `{}`", names[*c]),
        Member::PublishTime => "`timestamp_field`".to_string(),
        Member::Object(_) => "nested fields".to_string(),
    };
    let (last, parents) = path.split_last().expect("a path has one segment or more");
    let mut node = root;
    for (depth, segment) in parents.iter().enumerate() {
        match node.member(segment, || Member::Object(OutNode::default())) {
            Member::Object(child) => node = child,
            other => {
                return Err(PluginError::config(format!(
                    "json: {} writes field \"{}\", which {} needs as an object",
                    describe(other),
                    parents[..=depth].join("/"),
                    describe(&member)
                )));
            }
        }
    }
    let mut fresh = false;
    let slot = node.member(last, || {
        fresh = true;
        Member::PublishTime
    });
    if !fresh {
        return Err(PluginError::config(format!(
            "json: {} and {} both write field \"{}\"",
            describe(slot),
            describe(&member),
            path.join("/")
        )));
    }
    *slot = member;
    Ok(())
}

/// One input column, downcast once per batch.
enum Column<'a> {
    Skipped,
    Utf8(&'a GenericStringArray<i32>, bool),
    LargeUtf8(&'a GenericStringArray<i64>, bool),
    Bool(&'a BooleanArray),
    Int8(&'a PrimitiveArray<Int8Type>),
    Int16(&'a PrimitiveArray<Int16Type>),
    Int32(&'a PrimitiveArray<Int32Type>),
    Int64(&'a PrimitiveArray<Int64Type>),
    UInt8(&'a PrimitiveArray<UInt8Type>),
    UInt16(&'a PrimitiveArray<UInt16Type>),
    UInt32(&'a PrimitiveArray<UInt32Type>),
    UInt64(&'a PrimitiveArray<UInt64Type>),
    Float32(&'a PrimitiveArray<Float32Type>),
    Float64(&'a PrimitiveArray<Float64Type>),
    Timestamp(&'a dyn Array, TimeUnit),
}

impl<'a> Column<'a> {
    fn new(array: &'a dyn Array, kind: Option<Kind>) -> Self {
        let Some(kind) = kind else {
            return Self::Skipped;
        };
        match kind {
            Kind::Utf8 => Self::Utf8(array.as_string(), false),
            Kind::Json => Self::Utf8(array.as_string(), true),
            Kind::LargeUtf8 => Self::LargeUtf8(array.as_string(), false),
            Kind::LargeJson => Self::LargeUtf8(array.as_string(), true),
            Kind::Bool => Self::Bool(array.as_boolean()),
            Kind::Int8 => Self::Int8(array.as_primitive()),
            Kind::Int16 => Self::Int16(array.as_primitive()),
            Kind::Int32 => Self::Int32(array.as_primitive()),
            Kind::Int64 => Self::Int64(array.as_primitive()),
            Kind::UInt8 => Self::UInt8(array.as_primitive()),
            Kind::UInt16 => Self::UInt16(array.as_primitive()),
            Kind::UInt32 => Self::UInt32(array.as_primitive()),
            Kind::UInt64 => Self::UInt64(array.as_primitive()),
            Kind::Float32 => Self::Float32(array.as_primitive()),
            Kind::Float64 => Self::Float64(array.as_primitive()),
            Kind::Timestamp(unit) => Self::Timestamp(array, unit),
        }
    }

    fn type_name(&self) -> &'static str {
        match self {
            Self::Utf8(_, true) | Self::LargeUtf8(_, true) => "json",
            Self::Utf8(..) | Self::LargeUtf8(..) => "string",
            Self::Bool(_) => "bool",
            Self::Float32(_) => "float32",
            Self::Float64(_) => "float64",
            Self::Timestamp(..) => "timestamp",
            _ => "integer",
        }
    }

    /// Writes the value of `row`, or `null`; returns false for a null.
    fn write(&self, row: usize, out: &mut Vec<u8>) -> Result<bool, String> {
        /// Writes `$a`'s value at `row` with `$write`, or `null`.
        macro_rules! value {
            ($a:expr, |$v:ident| $write:expr) => {{
                if $a.is_null(row) {
                    out.extend_from_slice(b"null");
                    return Ok(false);
                }
                let $v = $a.value(row);
                $write;
            }};
        }
        match self {
            Self::Skipped => {
                out.extend_from_slice(b"null");
                return Ok(false);
            }
            Self::Utf8(a, false) => value!(a, |v| write_str(out, v)),
            Self::LargeUtf8(a, false) => value!(a, |v| write_str(out, v)),
            Self::Utf8(a, true) => value!(a, |v| write_json(out, v)?),
            Self::LargeUtf8(a, true) => value!(a, |v| write_json(out, v)?),
            Self::Bool(a) => value!(a, |v| out.extend_from_slice(if v {
                b"true"
            } else {
                b"false"
            })),
            Self::Int8(a) => value!(a, |v| write_int(out, v)),
            Self::Int16(a) => value!(a, |v| write_int(out, v)),
            Self::Int32(a) => value!(a, |v| write_int(out, v)),
            Self::Int64(a) => value!(a, |v| write_int(out, v)),
            Self::UInt8(a) => value!(a, |v| write_int(out, v)),
            Self::UInt16(a) => value!(a, |v| write_int(out, v)),
            Self::UInt32(a) => value!(a, |v| write_int(out, v)),
            Self::UInt64(a) => value!(a, |v| write_int(out, v)),
            Self::Float32(a) => value!(a, |v| write_float(out, v)?),
            Self::Float64(a) => value!(a, |v| write_float(out, v)?),
            Self::Timestamp(a, unit) => {
                if a.is_null(row) {
                    out.extend_from_slice(b"null");
                    return Ok(false);
                }
                write_timestamp(out, *a, *unit, row)?;
            }
        }
        Ok(true)
    }
}

fn write_int<I: itoa::Integer>(out: &mut Vec<u8>, v: I) {
    out.extend_from_slice(itoa::Buffer::new().format(v).as_bytes());
}

/// Writes a finite float in its shortest form that reads back exactly.
///
/// Żmij writes a positive exponent as `1e+21`, where this encoder (with ryu)
/// has always written `1e21`; dropping the `+` gives ryu's text exactly, and
/// Żmij is two to three times faster.
fn write_float<F: zmij::Float + Copy + std::fmt::Display + IsFinite>(
    out: &mut Vec<u8>,
    v: F,
) -> Result<(), String> {
    if !v.finite() {
        return Err(format!("{v} cannot be written as JSON"));
    }
    let mut buffer = zmij::Buffer::new();
    let text = buffer.format_finite(v).as_bytes();
    match text.iter().position(|&b| b == b'+') {
        None => out.extend_from_slice(text),
        Some(plus) => {
            out.extend_from_slice(&text[..plus]);
            out.extend_from_slice(&text[plus + 1..]);
        }
    }
    Ok(())
}

/// `is_finite` for both float widths.
trait IsFinite {
    fn finite(self) -> bool;
}
impl IsFinite for f32 {
    fn finite(self) -> bool {
        self.is_finite()
    }
}
impl IsFinite for f64 {
    fn finite(self) -> bool {
        self.is_finite()
    }
}

fn write_timestamp(
    out: &mut Vec<u8>,
    array: &dyn Array,
    unit: TimeUnit,
    row: usize,
) -> Result<(), String> {
    let (t, format) = match unit {
        TimeUnit::Second => {
            let v = array.as_primitive::<TimestampSecondType>().value(row);
            (DateTime::from_timestamp(v, 0), SecondsFormat::Secs)
        }
        TimeUnit::Millisecond => {
            let v = array.as_primitive::<TimestampMillisecondType>().value(row);
            (DateTime::from_timestamp_millis(v), SecondsFormat::Millis)
        }
        TimeUnit::Microsecond => {
            let v = array.as_primitive::<TimestampMicrosecondType>().value(row);
            (DateTime::from_timestamp_micros(v), SecondsFormat::Micros)
        }
        TimeUnit::Nanosecond => {
            let v = array.as_primitive::<TimestampNanosecondType>().value(row);
            (
                Some(DateTime::from_timestamp_nanos(v)),
                SecondsFormat::Nanos,
            )
        }
    };
    let t = t.ok_or("the time is outside the range RFC 3339 can write")?;
    out.push(b'"');
    out.extend_from_slice(t.to_rfc3339_opts(format, true).as_bytes());
    out.push(b'"');
    Ok(())
}

/// Embeds JSON text as it is, once it is known to be one valid JSON value.
fn write_json(out: &mut Vec<u8>, text: &str) -> Result<(), String> {
    serde_json::from_str::<IgnoredAny>(text)
        .map_err(|e| format!("not valid JSON ({e}): {}", preview_bytes(text.as_bytes())))?;
    out.extend_from_slice(text.trim().as_bytes());
    Ok(())
}

/// Whether `b` must be escaped in a JSON string.
fn needs_escape(b: u8) -> bool {
    b < 0x20 || b == b'"' || b == b'\\'
}

/// Writes `s` as a JSON string literal.
fn write_str(out: &mut Vec<u8>, s: &str) {
    let bytes = s.as_bytes();
    // Most strings need no escape: one check of every byte (no early exit,
    // so it vectorises), then one copy.
    if !bytes.iter().fold(false, |any, &b| any | needs_escape(b)) {
        out.reserve(bytes.len() + 2);
        out.push(b'"');
        out.extend_from_slice(bytes);
        out.push(b'"');
        return;
    }
    write_escaped_str(out, bytes);
}

/// Writes `bytes` (UTF-8 with characters to escape) as a JSON string literal.
fn write_escaped_str(out: &mut Vec<u8>, bytes: &[u8]) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.push(b'"');
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let escape: &[u8] = match b {
            b'"' => b"\\\"",
            b'\\' => b"\\\\",
            b'\n' => b"\\n",
            b'\r' => b"\\r",
            b'\t' => b"\\t",
            0x00..=0x1f => &[],
            _ => continue,
        };
        out.extend_from_slice(&bytes[start..i]);
        if escape.is_empty() {
            out.extend_from_slice(&[
                b'\\',
                b'u',
                b'0',
                b'0',
                HEX[usize::from(b >> 4)],
                HEX[usize::from(b & 0xf)],
            ]);
        } else {
            out.extend_from_slice(escape);
        }
        start = i + 1;
    }
    out.extend_from_slice(&bytes[start..]);
    out.push(b'"');
}

impl Encoder for JsonEncoder {
    fn encode(&mut self, batch: &RecordBatch) -> Result<Encoded, PluginError> {
        if batch.num_columns() != self.kinds.len() {
            return Err(PluginError::failed(format!(
                "json: the encoder was made for {} columns, the batch has {}",
                self.kinds.len(),
                batch.num_columns()
            )));
        }
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX));
        let cols: Vec<Column<'_>> = batch
            .columns()
            .iter()
            .zip(&self.kinds)
            .map(|(a, k)| Column::new(a.as_ref(), *k))
            .collect();
        let rows = batch.num_rows();
        // A little over the last batch's size, so a steady stream of batches
        // never grows (and so copies) the buffer.
        let mut values: Vec<u8> = Vec::with_capacity(rows * (self.bytes_per_row + 8));
        let mut offsets: Vec<i32> = Vec::with_capacity(rows + 1);
        offsets.push(0);
        let mut nulls = NullBufferBuilder::new(rows);
        let mut errors = Vec::new();
        for row in 0..rows {
            let start = values.len();
            match self.write_object(&self.root, &cols, row, now, &mut values) {
                Ok(_) => nulls.append_non_null(),
                Err(message) => {
                    values.truncate(start);
                    errors.push(RowError::new(row, message));
                    nulls.append_null();
                }
            }
            let end = i32::try_from(values.len()).map_err(|_| {
                PluginError::failed(format!(
                    "json: a batch of {rows} rows is over 2 GiB of JSON; send smaller batches"
                ))
            })?;
            offsets.push(end);
        }
        if rows > 0 {
            self.bytes_per_row = values.len().div_ceil(rows);
        }
        let offsets = OffsetBuffer::new(ScalarBuffer::from(offsets));
        let bytes = BinaryArray::try_new(offsets, Buffer::from_vec(values), nulls.finish())
            .map_err(PluginError::from)?;
        Ok(Encoded { bytes, errors })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floats_are_written_as_ryu_writes_them() {
        let mut bits: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut values = vec![
            0.0,
            -0.0,
            1.0,
            0.1,
            0.3,
            100.37,
            1e15,
            1e16,
            1e17,
            1e21,
            1e22,
            1e-7,
            5e-324,
            f64::MAX,
            f64::MIN_POSITIVE,
            -2.5e-300,
        ];
        for _ in 0..200_000 {
            bits ^= bits << 13;
            bits ^= bits >> 7;
            bits ^= bits << 17;
            values.push(f64::from_bits(bits));
            values.push((bits % 100_000_000) as f64 / 100.0);
        }
        for v in values.into_iter().filter(|v| v.is_finite()) {
            let mut out = Vec::new();
            write_float(&mut out, v).unwrap();
            assert_eq!(out, ryu::Buffer::new().format_finite(v).as_bytes(), "{v:e}");
            let f = v as f32;
            if f.is_finite() {
                out.clear();
                write_float(&mut out, f).unwrap();
                assert_eq!(out, ryu::Buffer::new().format_finite(f).as_bytes(), "{f:e}");
            }
        }
    }

    #[test]
    fn strings_are_escaped_like_serde_json() {
        for s in ["plain", "q\"b\\s", "nl\n\r\t", "\u{1}\u{1f}", "é☃𝄞", ""] {
            let mut out = Vec::new();
            write_str(&mut out, s);
            assert_eq!(
                String::from_utf8(out).unwrap(),
                serde_json::to_string(s).unwrap()
            );
        }
    }
}
