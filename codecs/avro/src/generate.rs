//! Avro schemas generated from Arrow schemas, for encoders given no schema.
//!
//! A table becomes a record with one field per column, in column order. A
//! nullable column becomes `["null", T]` with default `null`. The types:
//!
//! | Arrow | Avro |
//! |---|---|
//! | Null | `null` |
//! | Boolean | `boolean` |
//! | Int8, Int16, Int32, UInt8, UInt16 | `int` |
//! | Int64, UInt32, UInt64 (values above `i64::MAX` are row errors) | `long` |
//! | Float32 / Float64 | `float` / `double` |
//! | Utf8, LargeUtf8, Utf8View, Dictionary(_, Utf8 / LargeUtf8 / Utf8View) | `string` |
//! | Binary, LargeBinary, BinaryView | `bytes` |
//! | FixedSizeBinary(n) | `fixed` of size n (`string` with logical type `uuid` for the `arrow.uuid` extension) |
//! | Timestamp with a time zone | `long` with `timestamp-millis` / `-micros` / `-nanos` (seconds as millis) |
//! | Timestamp without a time zone | `long` with `local-timestamp-millis` / `-micros` / `-nanos` |
//! | Date32, Date64 | `int` with `date` |
//! | Time32 (s, ms) / Time64 (µs, ns) | `int` with `time-millis` / `long` with `time-micros` (ns truncated) |
//! | Decimal128(p, s), s ≥ 0 | `bytes` with `decimal`, precision p, scale s |
//! | List, LargeList | `array` |
//! | Map (string keys) | `map` |
//! | Struct | a nested record |
//! | Union | a union of its children's types (a Null child is the `null` branch) |
//!
//! Timestamps keep their meaning both ways: the decoder reads `timestamp-*`
//! as a UTC timestamp and `local-timestamp-*` as one without a time zone.
//! Named types (nested records, fixed) are named after their place in the
//! table, in the record's namespace: field `addr` of record `topictable.Row`
//! is the record `topictable.Row.addr`, the items of list `legs` are
//! `topictable.Row.legs.item`, a map's values `….value`.

use serde_json::{Map, Value, json};
use topictable_sdk::arrow_schema::{DataType, Field, TimeUnit};

/// The Arrow extension name of UUID columns.
pub const UUID_EXTENSION: &str = "arrow.uuid";
const EXTENSION_NAME_KEY: &str = "ARROW:extension:name";

/// Whether `name` is a valid Avro name (`[A-Za-z_][A-Za-z0-9_]*`).
pub fn is_valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Whether `name` is a valid Avro full name (dot-separated names).
pub fn is_valid_full_name(name: &str) -> bool {
    name.split('.').all(is_valid_name)
}

/// A record schema named `record_name` with one field per `(field name, column)`.
pub fn record_schema(record_name: &str, columns: &[(String, &Field)]) -> Result<Value, String> {
    if !is_valid_full_name(record_name) {
        return Err(format!(
            "record name `{record_name}` is not a valid Avro full name (dot-separated [A-Za-z_][A-Za-z0-9_]* names)"
        ));
    }
    let fields = columns
        .iter()
        .map(|(name, column)| field(record_name, name, column))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(json!({"type": "record", "name": record_name, "fields": fields}))
}

/// The schema of one column written bare (not in a record); a named type
/// there (a struct's record, a fixed) is named `name`.
pub fn value_schema(name: &str, column: &Field) -> Result<Value, String> {
    if !is_valid_full_name(name) {
        return Err(format!(
            "record name `{name}` is not a valid Avro full name (dot-separated [A-Za-z_][A-Za-z0-9_]* names)"
        ));
    }
    let ty = type_of(name, column)?;
    Ok(if column.is_nullable() && !is_union(&ty) {
        json!(["null", ty])
    } else {
        ty
    })
}

fn is_union(ty: &Value) -> bool {
    ty.is_array()
}

/// One record field for `column`, named `name`; named types inside it are
/// named `<parent>.<name>…`.
fn field(parent: &str, name: &str, column: &Field) -> Result<Value, String> {
    if !is_valid_name(name) {
        return Err(format!(
            "column `{name}` is not a valid Avro field name ([A-Za-z_][A-Za-z0-9_]*): rename it with `mapping` (field → column), e.g. {{\"{}\" = \"{name}\"}}",
            suggest(name)
        ));
    }
    let path = format!("{parent}.{name}");
    let ty = type_of(&path, column).map_err(|e| format!("column `{name}`: {e}"))?;
    let mut f = Map::new();
    f.insert("name".into(), json!(name));
    // A union's own nulls are in its children, and a union cannot hold a union.
    if column.is_nullable() && !is_union(&ty) {
        f.insert("type".into(), json!(["null", ty]));
        f.insert("default".into(), Value::Null);
    } else {
        f.insert("type".into(), ty);
    }
    Ok(Value::Object(f))
}

/// A valid Avro name close to `name`, for messages.
fn suggest(name: &str) -> String {
    let mut s: String = name
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    if !s.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_') {
        s.insert(0, '_');
    }
    s
}

fn items(path: &str, item: &Field) -> Result<Value, String> {
    let ty = type_of(&format!("{path}.{}", item_segment(item)), item)?;
    Ok(if item.is_nullable() && !is_union(&ty) {
        json!(["null", ty])
    } else {
        ty
    })
}

/// The path segment of list items and map values.
fn item_segment(field: &Field) -> &'static str {
    if field.name() == "value" {
        "value"
    } else {
        "item"
    }
}

/// The Avro type of `column`'s values (without its nullability); `path` is
/// the full name a named type here gets.
fn type_of(path: &str, column: &Field) -> Result<Value, String> {
    let ms = |logical: &str| json!({"type": "long", "logicalType": logical});
    let ts = |unit: &TimeUnit, tz: bool| {
        let unit = match unit {
            TimeUnit::Second | TimeUnit::Millisecond => "millis",
            TimeUnit::Microsecond => "micros",
            TimeUnit::Nanosecond => "nanos",
        };
        ms(&if tz {
            format!("timestamp-{unit}")
        } else {
            format!("local-timestamp-{unit}")
        })
    };
    Ok(match column.data_type() {
        DataType::Null => json!("null"),
        DataType::Boolean => json!("boolean"),
        DataType::Int8 | DataType::Int16 | DataType::Int32 | DataType::UInt8 | DataType::UInt16 => {
            json!("int")
        }
        DataType::Int64 | DataType::UInt32 | DataType::UInt64 => json!("long"),
        DataType::Float32 => json!("float"),
        DataType::Float64 => json!("double"),
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => json!("string"),
        DataType::Dictionary(_, values)
            if matches!(
                values.as_ref(),
                DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View
            ) =>
        {
            json!("string")
        }
        DataType::Binary | DataType::LargeBinary | DataType::BinaryView => json!("bytes"),
        DataType::FixedSizeBinary(16)
            if column
                .metadata()
                .get(EXTENSION_NAME_KEY)
                .map(String::as_str)
                == Some(UUID_EXTENSION) =>
        {
            json!({"type": "string", "logicalType": "uuid"})
        }
        DataType::FixedSizeBinary(n) => json!({"type": "fixed", "name": path, "size": n}),
        DataType::Timestamp(unit, tz) => ts(unit, tz.is_some()),
        DataType::Date32 | DataType::Date64 => json!({"type": "int", "logicalType": "date"}),
        DataType::Time32(_) => json!({"type": "int", "logicalType": "time-millis"}),
        DataType::Time64(_) => ms("time-micros"),
        DataType::Decimal128(p, s) if *s >= 0 => {
            json!({"type": "bytes", "logicalType": "decimal", "precision": p, "scale": s})
        }
        DataType::List(item) | DataType::LargeList(item) => {
            json!({"type": "array", "items": items(path, item)?})
        }
        DataType::Map(entries, _) => {
            let DataType::Struct(kv) = entries.data_type() else {
                return Err(format!("map entries of type {}", entries.data_type()));
            };
            let [key, value] = kv.iter().collect::<Vec<_>>()[..] else {
                return Err("map entries without exactly a key and a value".into());
            };
            if !matches!(
                key.data_type(),
                DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View
            ) {
                return Err(format!(
                    "map keys of type {}: Avro map keys are strings",
                    key.data_type()
                ));
            }
            json!({"type": "map", "values": items(path, value)?})
        }
        DataType::Struct(children) => {
            let fields = children
                .iter()
                .map(|c| field(path, c.name(), c))
                .collect::<Result<Vec<_>, _>>()?;
            json!({"type": "record", "name": path, "fields": fields})
        }
        DataType::Union(children, _) => {
            let mut branches = Vec::with_capacity(children.len());
            for (i, (_, child)) in children.iter().enumerate() {
                // A child named like a full name (as the decoder names record
                // branches) keeps that name; others are named by position.
                let name = if is_valid_full_name(child.name())
                    && matches!(child.data_type(), DataType::Struct(_))
                {
                    child.name().clone()
                } else {
                    format!("{path}.branch{i}")
                };
                branches.push(type_of(&name, child)?);
            }
            Value::Array(branches)
        }
        other => {
            return Err(format!(
                "type {other} has no Avro equivalent here (give a `schema`, or cast the column)"
            ));
        }
    })
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;
    use std::sync::Arc;

    use topictable_sdk::arrow_schema::{Fields, UnionFields, UnionMode};

    use super::*;
    use crate::config::parse_schema;

    fn nullable(name: &str, dt: DataType) -> Field {
        Field::new(name, dt, true)
    }

    /// The Avro type generated for one non-nullable column of type `dt`.
    fn avro_type(dt: DataType) -> Value {
        let schema = record_schema("t.R", &[("c".into(), &Field::new("c", dt, false))]).unwrap();
        // Every generated schema is valid Avro and parses into our model.
        parse_schema(&[schema.to_string()]).unwrap();
        schema["fields"][0]["type"].clone()
    }

    #[test]
    fn every_supported_arrow_type_has_an_avro_type() {
        let dict = |k: DataType, v: DataType| DataType::Dictionary(Box::new(k), Box::new(v));
        let cases = [
            (DataType::Null, json!("null")),
            (DataType::Boolean, json!("boolean")),
            (DataType::Int8, json!("int")),
            (DataType::Int16, json!("int")),
            (DataType::Int32, json!("int")),
            (DataType::UInt8, json!("int")),
            (DataType::UInt16, json!("int")),
            (DataType::Int64, json!("long")),
            (DataType::UInt32, json!("long")),
            (DataType::UInt64, json!("long")),
            (DataType::Float32, json!("float")),
            (DataType::Float64, json!("double")),
            (DataType::Utf8, json!("string")),
            (DataType::LargeUtf8, json!("string")),
            (DataType::Utf8View, json!("string")),
            (dict(DataType::Int32, DataType::Utf8), json!("string")),
            (dict(DataType::UInt8, DataType::LargeUtf8), json!("string")),
            (DataType::Binary, json!("bytes")),
            (DataType::LargeBinary, json!("bytes")),
            (DataType::BinaryView, json!("bytes")),
            (
                DataType::FixedSizeBinary(4),
                json!({"type": "fixed", "name": "t.R.c", "size": 4}),
            ),
            (
                DataType::Timestamp(TimeUnit::Millisecond, Some("UTC".into())),
                json!({"type": "long", "logicalType": "timestamp-millis"}),
            ),
            (
                DataType::Timestamp(TimeUnit::Second, Some("+02:00".into())),
                json!({"type": "long", "logicalType": "timestamp-millis"}),
            ),
            (
                DataType::Timestamp(TimeUnit::Microsecond, Some("Europe/Oslo".into())),
                json!({"type": "long", "logicalType": "timestamp-micros"}),
            ),
            (
                DataType::Timestamp(TimeUnit::Nanosecond, Some("UTC".into())),
                json!({"type": "long", "logicalType": "timestamp-nanos"}),
            ),
            (
                DataType::Timestamp(TimeUnit::Millisecond, None),
                json!({"type": "long", "logicalType": "local-timestamp-millis"}),
            ),
            (
                DataType::Timestamp(TimeUnit::Microsecond, None),
                json!({"type": "long", "logicalType": "local-timestamp-micros"}),
            ),
            (
                DataType::Date32,
                json!({"type": "int", "logicalType": "date"}),
            ),
            (
                DataType::Date64,
                json!({"type": "int", "logicalType": "date"}),
            ),
            (
                DataType::Time32(TimeUnit::Millisecond),
                json!({"type": "int", "logicalType": "time-millis"}),
            ),
            (
                DataType::Time64(TimeUnit::Microsecond),
                json!({"type": "long", "logicalType": "time-micros"}),
            ),
            (
                DataType::Decimal128(10, 2),
                json!({"type": "bytes", "logicalType": "decimal", "precision": 10, "scale": 2}),
            ),
            (
                DataType::List(Arc::new(Field::new("item", DataType::Int32, true))),
                json!({"type": "array", "items": ["null", "int"]}),
            ),
            (
                DataType::LargeList(Arc::new(Field::new("item", DataType::Utf8, false))),
                json!({"type": "array", "items": "string"}),
            ),
            (
                DataType::Map(
                    Arc::new(Field::new(
                        "entries",
                        DataType::Struct(Fields::from(vec![
                            Field::new("key", DataType::Utf8, false),
                            Field::new("value", DataType::Float64, true),
                        ])),
                        false,
                    )),
                    false,
                ),
                json!({"type": "map", "values": ["null", "double"]}),
            ),
            (
                DataType::Struct(Fields::from(vec![
                    Field::new("city", DataType::Utf8, false),
                    Field::new(
                        "geo",
                        DataType::Struct(Fields::from(vec![nullable("lat", DataType::Float64)])),
                        true,
                    ),
                ])),
                json!({"type": "record", "name": "t.R.c", "fields": [
                    {"name": "city", "type": "string"},
                    {"name": "geo", "type": ["null", {"type": "record", "name": "t.R.c.geo", "fields": [
                        {"name": "lat", "type": ["null", "double"], "default": null}
                    ]}], "default": null}
                ]}),
            ),
            (
                DataType::List(Arc::new(Field::new(
                    "item",
                    DataType::Struct(Fields::from(vec![Field::new("n", DataType::Int64, false)])),
                    false,
                ))),
                json!({"type": "array", "items": {"type": "record", "name": "t.R.c.item",
                    "fields": [{"name": "n", "type": "long"}]}}),
            ),
            (
                DataType::Union(
                    UnionFields::try_new(
                        [0, 1, 2],
                        [
                            nullable("null", DataType::Null),
                            nullable("int", DataType::Int32),
                            nullable(
                                "com.acme.Addr",
                                DataType::Struct(Fields::from(vec![Field::new(
                                    "city",
                                    DataType::Utf8,
                                    false,
                                )])),
                            ),
                        ],
                    )
                    .unwrap(),
                    UnionMode::Dense,
                ),
                json!(["null", "int", {"type": "record", "name": "com.acme.Addr",
                    "fields": [{"name": "city", "type": "string"}]}]),
            ),
        ];
        for (dt, expected) in cases {
            assert_eq!(avro_type(dt.clone()), expected, "{dt}");
        }
    }

    #[test]
    fn uuid_columns_nullability_and_names() {
        let uuid = Field::new("id", DataType::FixedSizeBinary(16), true).with_metadata(
            HashMap::from([(EXTENSION_NAME_KEY.to_string(), UUID_EXTENSION.to_string())]),
        );
        let qty = Field::new("qty", DataType::Int64, false);
        let schema = record_schema(
            "com.acme.Order",
            &[("id".into(), &uuid), ("quantity".into(), &qty)],
        )
        .unwrap();
        assert_eq!(
            schema,
            json!({"type": "record", "name": "com.acme.Order", "fields": [
                {"name": "id", "type": ["null", {"type": "string", "logicalType": "uuid"}], "default": null},
                {"name": "quantity", "type": "long"}
            ]})
        );
        // A bare value: nullable columns are a [null, T] union.
        assert_eq!(
            value_schema("topictable.Key", &nullable("k", DataType::Utf8)).unwrap(),
            json!(["null", "string"])
        );
        let bad = nullable("unit price", DataType::Float64);
        let e = record_schema("t.R", &[("unit price".into(), &bad)]).unwrap_err();
        assert!(
            e.contains("column `unit price` is not a valid Avro field name")
                && e.contains("{\"unit_price\" = \"unit price\"}"),
            "{e}"
        );
        assert!(
            record_schema("9lives", &[])
                .unwrap_err()
                .contains("not a valid Avro full name")
        );
        let e = record_schema(
            "t.R",
            &[(
                "d".into(),
                &nullable("d", DataType::Duration(TimeUnit::Second)),
            )],
        )
        .unwrap_err();
        assert!(
            e.contains("column `d`: type Duration(s) has no Avro equivalent"),
            "{e}"
        );
        let e = record_schema(
            "t.R",
            &[("d".into(), &nullable("d", DataType::Decimal128(5, -2)))],
        )
        .unwrap_err();
        assert!(e.contains("has no Avro equivalent"), "{e}");
    }
}
