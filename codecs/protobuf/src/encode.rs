//! The encoder: Arrow rows into Protobuf messages, Confluent-framed (schema
//! id and message indexes) or raw. Columns are matched to fields by the
//! same names the decoder gives them (`ship_to_city` for `/ship_to/city`).

use std::collections::HashMap;

use base64::Engine;
use prost::Message;
use prost_reflect::{DynamicMessage, FieldDescriptor, Kind, MapKey, MessageDescriptor, Value};
use topictable_schema_registry::framing::{encode_message_indexes, write_header};
use topictable_schema_registry::{RegistryClient, Schema, SchemaReference, SchemaType};
use topictable_sdk::arrow_array::builder::BinaryBuilder;
use topictable_sdk::arrow_array::cast::AsArray;
use topictable_sdk::arrow_array::types::*;
use topictable_sdk::arrow_array::{Array, ArrayRef, RecordBatch};
use topictable_sdk::arrow_schema::{DataType, SchemaRef, TimeUnit};
use topictable_sdk::{Encoded, Encoder, PluginError, RowError, Side};

use crate::config::{ProtobufConfig, Protocol};
use crate::decode::reader_schema;
use crate::descriptors::indexes_of;

/// Encodes rows as Protobuf messages of one type.
pub struct ProtobufEncoder {
    message: MessageDescriptor,
    /// Per input column, the field path it sets (nested messages first).
    paths: Vec<Vec<FieldDescriptor>>,
    /// Header and message indexes, written before every message (empty for raw).
    prefix: Vec<u8>,
}

impl std::fmt::Debug for ProtobufEncoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProtobufEncoder")
            .field("message", &self.message.full_name())
            .field("prefix", &self.prefix)
            .finish()
    }
}

impl ProtobufEncoder {
    /// An encoder for `side` reading rows of `schema`.
    pub fn new(
        config: &ProtobufConfig,
        side: Side,
        schema: SchemaRef,
    ) -> Result<Self, PluginError> {
        let registry = config.registry()?;
        let (message, id) = if config.has_local_descriptor() {
            let (_, message, _) = reader_schema(config, side, None)?;
            let id = match (&registry, config.protocol) {
                (_, Protocol::Raw) => None,
                (None, Protocol::Confluent) => {
                    return Err(PluginError::config(
                        "protocol `confluent` needs a schema id: give `schema_registry_url` (with `auto_register`, or a registered `schema_subject`), or use protocol `raw`",
                    ));
                }
                (Some(r), Protocol::Confluent) => {
                    let subject = config.subject(side)?.ok_or_else(|| {
                        PluginError::config(
                            "give `schema_subject`, or `topic` (with `subject_strategy`)",
                        )
                    })?;
                    Some(if config.auto_register {
                        register(r, &subject, &message)?
                    } else {
                        let (sv, _) =
                            r.subject_version(&subject, config.version()?)
                                .map_err(|e| {
                                    PluginError::config(format!("schema subject {subject}: {e}"))
                                })?;
                        sv.id
                    })
                }
            };
            (message, id)
        } else {
            let (_, message, id) = reader_schema(config, side, registry.as_ref())?;
            (
                message,
                if config.protocol == Protocol::Raw {
                    None
                } else {
                    id
                },
            )
        };
        let names = column_paths(&message, &config.plan_options().separator);
        let mut paths = Vec::new();
        for field in schema.fields() {
            let path = names.get(field.name()).ok_or_else(|| {
                let mut known: Vec<&String> = names.keys().collect();
                known.sort();
                PluginError::config(format!(
                    "column `{}` matches no field of `{}` (columns it can take: {})",
                    field.name(),
                    message.full_name(),
                    known
                        .iter()
                        .map(|s| s.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ))
            })?;
            paths.push(path.clone());
        }
        let mut prefix = Vec::new();
        if let Some(id) = id {
            write_header(id, &mut prefix);
            encode_message_indexes(&indexes_of(&message), &mut prefix);
        }
        Ok(Self {
            message,
            paths,
            prefix,
        })
    }

    fn row(&self, batch: &RecordBatch, row: usize) -> Result<DynamicMessage, String> {
        let mut msg = DynamicMessage::new(self.message.clone());
        for (path, column) in self.paths.iter().zip(batch.columns()) {
            if column.is_null(row) {
                continue;
            }
            let (leaf, parents) = path.split_last().expect("a path has a leaf");
            let mut target = &mut msg;
            for p in parents {
                target = target
                    .get_field_mut(p)
                    .as_message_mut()
                    .expect("a flattened parent is a message");
            }
            let value = value_of(leaf, column, row).map_err(|e| {
                let names: Vec<&str> = path.iter().map(|f| f.name()).collect();
                format!("field /{}: {e}", names.join("/"))
            })?;
            target.set_field(leaf, value);
        }
        Ok(msg)
    }
}

/// Registers the message's file (base64 `FileDescriptorProto`, as
/// confluent-kafka does) with its non-well-known imports as references, each
/// under its file name.
fn register(
    registry: &RegistryClient,
    subject: &str,
    message: &MessageDescriptor,
) -> Result<u32, PluginError> {
    fn file_schema(
        registry: &RegistryClient,
        file: &prost_reflect::FileDescriptor,
    ) -> Result<Schema, PluginError> {
        let mut references = Vec::new();
        for dep in file.dependencies() {
            if dep.name().starts_with("google/protobuf/") {
                continue;
            }
            let schema = file_schema(registry, &dep)?;
            registry.register(dep.name(), &schema).map_err(|e| {
                PluginError::config(format!("registering import `{}`: {e}", dep.name()))
            })?;
            let versions = registry
                .versions(dep.name())
                .map_err(|e| PluginError::config(format!("import `{}`: {e}", dep.name())))?;
            references.push(SchemaReference {
                name: dep.name().to_string(),
                subject: dep.name().to_string(),
                version: versions.into_iter().max().unwrap_or(1),
            });
        }
        Ok(Schema {
            schema: base64::engine::general_purpose::STANDARD.encode(file.encode_to_vec()),
            schema_type: SchemaType::Protobuf,
            references,
        })
    }
    let schema = file_schema(registry, &message.parent_file())?;
    registry
        .register(subject, &schema)
        .map_err(|e| PluginError::config(format!("registering under {subject}: {e}")))
}

/// Column name → field path, flattening nested messages as the decoder does.
fn column_paths(
    message: &MessageDescriptor,
    separator: &str,
) -> HashMap<String, Vec<FieldDescriptor>> {
    fn walk(
        m: &MessageDescriptor,
        prefix: &str,
        parents: &[FieldDescriptor],
        separator: &str,
        stack: &mut Vec<String>,
        out: &mut HashMap<String, Vec<FieldDescriptor>>,
    ) {
        for f in m.fields() {
            let name = if prefix.is_empty() {
                f.name().to_string()
            } else {
                format!("{prefix}{separator}{}", f.name())
            };
            let mut path = parents.to_vec();
            path.push(f.clone());
            if let Kind::Message(child) = f.kind()
                && !f.is_list()
                && !f.is_map()
                && !is_leaf_message(&child)
                && !stack.iter().any(|s| s == child.full_name())
            {
                stack.push(child.full_name().to_string());
                walk(&child, &name, &path, separator, stack, out);
                stack.pop();
                continue;
            }
            out.insert(name, path);
        }
    }
    let mut out = HashMap::new();
    walk(
        message,
        "",
        &[],
        separator,
        &mut vec![message.full_name().to_string()],
        &mut out,
    );
    out
}

fn is_leaf_message(m: &MessageDescriptor) -> bool {
    matches!(
        m.full_name(),
        "google.protobuf.Timestamp"
            | "google.protobuf.Duration"
            | "google.protobuf.DoubleValue"
            | "google.protobuf.FloatValue"
            | "google.protobuf.Int64Value"
            | "google.protobuf.UInt64Value"
            | "google.protobuf.Int32Value"
            | "google.protobuf.UInt32Value"
            | "google.protobuf.BoolValue"
            | "google.protobuf.StringValue"
            | "google.protobuf.BytesValue"
    )
}

/// An integer cell of any Arrow integer type.
fn int_of(a: &dyn Array, row: usize) -> Option<i128> {
    Some(match a.data_type() {
        DataType::Int8 => a.as_primitive::<Int8Type>().value(row).into(),
        DataType::Int16 => a.as_primitive::<Int16Type>().value(row).into(),
        DataType::Int32 => a.as_primitive::<Int32Type>().value(row).into(),
        DataType::Int64 => a.as_primitive::<Int64Type>().value(row).into(),
        DataType::UInt8 => a.as_primitive::<UInt8Type>().value(row).into(),
        DataType::UInt16 => a.as_primitive::<UInt16Type>().value(row).into(),
        DataType::UInt32 => a.as_primitive::<UInt32Type>().value(row).into(),
        DataType::UInt64 => a.as_primitive::<UInt64Type>().value(row).into(),
        _ => return None,
    })
}

fn float_of(a: &dyn Array, row: usize) -> Option<f64> {
    match a.data_type() {
        DataType::Float32 => Some(a.as_primitive::<Float32Type>().value(row).into()),
        DataType::Float64 => Some(a.as_primitive::<Float64Type>().value(row)),
        _ => int_of(a, row).map(|i| i as f64),
    }
}

fn str_of(a: &dyn Array, row: usize) -> Option<&str> {
    match a.data_type() {
        DataType::Utf8 => Some(a.as_string::<i32>().value(row)),
        DataType::LargeUtf8 => Some(a.as_string::<i64>().value(row)),
        DataType::Utf8View => Some(a.as_string_view().value(row)),
        _ => None,
    }
}

/// Nanoseconds of a Timestamp or Duration cell (or of an integer, as given).
fn nanos_of(a: &dyn Array, row: usize) -> Option<i128> {
    let (v, unit) = match a.data_type() {
        DataType::Timestamp(TimeUnit::Second, _) => (
            a.as_primitive::<TimestampSecondType>().value(row),
            TimeUnit::Second,
        ),
        DataType::Timestamp(TimeUnit::Millisecond, _) => (
            a.as_primitive::<TimestampMillisecondType>().value(row),
            TimeUnit::Millisecond,
        ),
        DataType::Timestamp(TimeUnit::Microsecond, _) => (
            a.as_primitive::<TimestampMicrosecondType>().value(row),
            TimeUnit::Microsecond,
        ),
        DataType::Timestamp(TimeUnit::Nanosecond, _) => (
            a.as_primitive::<TimestampNanosecondType>().value(row),
            TimeUnit::Nanosecond,
        ),
        DataType::Duration(TimeUnit::Second) => (
            a.as_primitive::<DurationSecondType>().value(row),
            TimeUnit::Second,
        ),
        DataType::Duration(TimeUnit::Millisecond) => (
            a.as_primitive::<DurationMillisecondType>().value(row),
            TimeUnit::Millisecond,
        ),
        DataType::Duration(TimeUnit::Microsecond) => (
            a.as_primitive::<DurationMicrosecondType>().value(row),
            TimeUnit::Microsecond,
        ),
        DataType::Duration(TimeUnit::Nanosecond) => (
            a.as_primitive::<DurationNanosecondType>().value(row),
            TimeUnit::Nanosecond,
        ),
        _ => return None,
    };
    let scale: i128 = match unit {
        TimeUnit::Second => 1_000_000_000,
        TimeUnit::Millisecond => 1_000_000,
        TimeUnit::Microsecond => 1_000,
        TimeUnit::Nanosecond => 1,
    };
    Some(i128::from(v) * scale)
}

fn expected(what: &str, a: &dyn Array) -> String {
    format!("cannot write a {} column as {what}", a.data_type())
}

fn scalar(kind: &Kind, a: &dyn Array, row: usize) -> Result<Value, String> {
    let int = |lo: i128, hi: i128, what: &str| -> Result<i128, String> {
        let v = int_of(a, row).ok_or_else(|| expected(what, a))?;
        if v < lo || v > hi {
            return Err(format!("{v} does not fit in {what}"));
        }
        Ok(v)
    };
    Ok(match kind {
        Kind::Int32 | Kind::Sint32 | Kind::Sfixed32 => {
            Value::I32(int(i32::MIN.into(), i32::MAX.into(), "int32")? as i32)
        }
        Kind::Int64 | Kind::Sint64 | Kind::Sfixed64 => {
            Value::I64(int(i64::MIN.into(), i64::MAX.into(), "int64")? as i64)
        }
        Kind::Uint32 | Kind::Fixed32 => Value::U32(int(0, u32::MAX.into(), "uint32")? as u32),
        Kind::Uint64 | Kind::Fixed64 => Value::U64(int(0, u64::MAX.into(), "uint64")? as u64),
        Kind::Float => Value::F32(float_of(a, row).ok_or_else(|| expected("float", a))? as f32),
        Kind::Double => Value::F64(float_of(a, row).ok_or_else(|| expected("double", a))?),
        Kind::Bool => match a.data_type() {
            DataType::Boolean => Value::Bool(a.as_boolean().value(row)),
            _ => return Err(expected("bool", a)),
        },
        Kind::String => Value::String(
            str_of(a, row)
                .ok_or_else(|| expected("string", a))?
                .to_string(),
        ),
        Kind::Bytes => match a.data_type() {
            DataType::Binary => Value::Bytes(a.as_binary::<i32>().value(row).to_vec().into()),
            DataType::LargeBinary => Value::Bytes(a.as_binary::<i64>().value(row).to_vec().into()),
            DataType::FixedSizeBinary(_) => {
                Value::Bytes(a.as_fixed_size_binary().value(row).to_vec().into())
            }
            _ => match str_of(a, row) {
                Some(s) => Value::Bytes(s.as_bytes().to_vec().into()),
                None => return Err(expected("bytes", a)),
            },
        },
        Kind::Enum(e) => match str_of(a, row) {
            Some(name) => Value::EnumNumber(
                e.get_value_by_name(name)
                    .ok_or_else(|| format!("`{name}` is not a value of enum {}", e.full_name()))?
                    .number(),
            ),
            None => {
                Value::EnumNumber(int(i32::MIN.into(), i32::MAX.into(), "an enum number")? as i32)
            }
        },
        Kind::Message(m) => message_scalar(m, a, row)?,
    })
}

/// A well-known message type from one cell, or a message from a struct cell.
fn message_scalar(m: &MessageDescriptor, a: &dyn Array, row: usize) -> Result<Value, String> {
    let mut msg = DynamicMessage::new(m.clone());
    match m.full_name() {
        "google.protobuf.Timestamp" | "google.protobuf.Duration" => {
            let n = nanos_of(a, row).ok_or_else(|| expected(m.full_name(), a))?;
            let (s, ns) = (n.div_euclid(1_000_000_000), n.rem_euclid(1_000_000_000));
            // A negative Duration carries nanos of the same sign as its seconds.
            let (s, ns) = if m.full_name() == "google.protobuf.Duration" && s < 0 && ns > 0 {
                (s + 1, ns - 1_000_000_000)
            } else {
                (s, ns)
            };
            msg.set_field_by_number(1, Value::I64(s as i64));
            msg.set_field_by_number(2, Value::I32(ns as i32));
        }
        _ if is_leaf_message(m) => {
            let f = m.get_field(1).expect("wrappers have field 1");
            msg.set_field(&f, scalar(&f.kind(), a, row)?);
        }
        _ => {
            let DataType::Struct(fields) = a.data_type() else {
                return Err(expected(m.full_name(), a));
            };
            let s = a.as_struct();
            let names = column_paths(m, "_");
            for (i, field) in fields.iter().enumerate() {
                let child = s.column(i);
                if child.is_null(row) {
                    continue;
                }
                let path = names.get(field.name()).ok_or_else(|| {
                    format!(
                        "struct field `{}` matches no field of `{}`",
                        field.name(),
                        m.full_name()
                    )
                })?;
                let (leaf, parents) = path.split_last().expect("a path has a leaf");
                let mut target = &mut msg;
                for p in parents {
                    target = target
                        .get_field_mut(p)
                        .as_message_mut()
                        .expect("a flattened parent is a message");
                }
                target.set_field(leaf, value_of(leaf, child, row)?);
            }
        }
    }
    Ok(Value::Message(msg))
}

fn map_key(kind: &Kind, a: &dyn Array, row: usize) -> Result<MapKey, String> {
    Ok(match scalar(kind, a, row)? {
        Value::Bool(b) => MapKey::Bool(b),
        Value::I32(v) => MapKey::I32(v),
        Value::I64(v) => MapKey::I64(v),
        Value::U32(v) => MapKey::U32(v),
        Value::U64(v) => MapKey::U64(v),
        Value::String(s) => MapKey::String(s),
        other => return Err(format!("{other:?} cannot be a map key")),
    })
}

/// The value of field `f` from one cell.
fn value_of(f: &FieldDescriptor, a: &ArrayRef, row: usize) -> Result<Value, String> {
    if f.is_map() {
        let DataType::Map(..) = a.data_type() else {
            return Err(expected("a map", a.as_ref()));
        };
        let Kind::Message(entry) = f.kind() else {
            unreachable!("a map field has an entry message")
        };
        let (kf, vf) = (entry.map_entry_key_field(), entry.map_entry_value_field());
        let map = a.as_map();
        let (keys, values) = (map.keys(), map.values());
        let offsets = map.value_offsets();
        let mut out = HashMap::new();
        for i in offsets[row] as usize..offsets[row + 1] as usize {
            let v = if values.is_null(i) {
                vf.default_value()
            } else {
                value_of(&vf, values, i)?
            };
            out.insert(map_key(&kf.kind(), keys.as_ref(), i)?, v);
        }
        return Ok(Value::Map(out));
    }
    if f.is_list() {
        let (items, range) = match a.data_type() {
            DataType::List(_) => {
                let l = a.as_list::<i32>();
                let o = l.value_offsets();
                (l.values(), o[row] as usize..o[row + 1] as usize)
            }
            DataType::LargeList(_) => {
                let l = a.as_list::<i64>();
                let o = l.value_offsets();
                (l.values(), o[row] as usize..o[row + 1] as usize)
            }
            _ => return Err(expected("a list", a.as_ref())),
        };
        let kind = f.kind();
        let mut out = Vec::with_capacity(range.len());
        for i in range {
            if items.is_null(i) {
                return Err(format!("item {i} is null; a repeated field has no nulls"));
            }
            out.push(scalar(&kind, items.as_ref(), i)?);
        }
        return Ok(Value::List(out));
    }
    scalar(&f.kind(), a.as_ref(), row)
}

impl Encoder for ProtobufEncoder {
    fn encode(&mut self, batch: &RecordBatch) -> Result<Encoded, PluginError> {
        let mut out = BinaryBuilder::with_capacity(batch.num_rows(), batch.num_rows() * 64);
        let mut errors = Vec::new();
        let mut buf = Vec::new();
        for row in 0..batch.num_rows() {
            match self.row(batch, row) {
                Ok(msg) => {
                    buf.clear();
                    buf.extend_from_slice(&self.prefix);
                    msg.encode(&mut buf)
                        .map_err(|e| PluginError::failed(format!("encoding: {e}")))?;
                    out.append_value(&buf);
                }
                Err(e) => {
                    out.append_null();
                    errors.push(RowError::new(
                        row,
                        format!("{}: {e}", self.message.full_name()),
                    ));
                }
            }
        }
        Ok(Encoded {
            bytes: out.finish(),
            errors,
        })
    }
}
