//! Structure-aware: the fuzzer writes the Avro schema too, as schemas arrive
//! from the registry named by the message. A schema tree (bounded in depth
//! and size) is drawn from the input, then either read as the bare datums'
//! schema, or registered as the writer of Confluent-framed datums and
//! resolved against a reader derived from it (fields dropped, added with
//! defaults, reordered, types promoted or made optional). A schema may be
//! refused, with an error; an accepted one must decode soundly.
#![no_main]

use arbitrary::{Arbitrary, Result, Unstructured};
use libfuzzer_sys::fuzz_target;
use serde_json::{Value, json};
use topictable_codec_avro::AvroCodec;
use topictable_fuzz::{decode_and_check, registry, split_messages, try_decoder};
use topictable_schema_registry::Schema;

/// Deepest nesting of the drawn schema.
const MAX_DEPTH: u32 = 6;
/// Most nodes in the drawn schema.
const MAX_NODES: u32 = 120;

#[derive(Arbitrary, Debug, Clone, Copy)]
enum Primitive {
    Null,
    Boolean,
    Int,
    Long,
    Float,
    Double,
    Bytes,
    String,
    Date,
    TimestampMillis,
    TimestampMicros,
    TimeMicros,
    Decimal,
    Uuid,
}

/// Draws schemas, numbering named types so references can point back.
struct Draw {
    nodes: u32,
    names: Vec<String>,
}

impl Draw {
    fn schema(&mut self, u: &mut Unstructured, depth: u32) -> Result<Value> {
        self.nodes += 1;
        if depth >= MAX_DEPTH || self.nodes >= MAX_NODES {
            return Ok(primitive(u.arbitrary()?));
        }
        Ok(match u.int_in_range(0..=8u8)? {
            0 | 1 => primitive(u.arbitrary()?),
            2 => {
                let name = self.name("R");
                let n = u.int_in_range(0..=5u8)?;
                let mut fields = Vec::new();
                for i in 0..n {
                    fields
                        .push(json!({"name": format!("f{i}"), "type": self.schema(u, depth + 1)?}));
                }
                json!({"type": "record", "name": name, "fields": fields})
            }
            3 => {
                let name = self.name("E");
                let n = u.int_in_range(1..=4u8)?;
                let symbols: Vec<String> = (0..n).map(|i| format!("S{i}")).collect();
                json!({"type": "enum", "name": name, "symbols": symbols})
            }
            4 => {
                let name = self.name("F");
                json!({"type": "fixed", "name": name, "size": u.int_in_range(0..=16u8)?})
            }
            5 => json!({"type": "array", "items": self.schema(u, depth + 1)?}),
            6 => json!({"type": "map", "values": self.schema(u, depth + 1)?}),
            7 => {
                // Branches of distinct kinds (Avro forbids two of one kind
                // unless named); duplicates are left for the codec to refuse.
                let n = u.int_in_range(1..=4u8)?;
                let mut branches = Vec::new();
                for _ in 0..n {
                    branches.push(self.schema(u, depth + 1)?);
                }
                Value::Array(branches)
            }
            _ => match self.names.len() {
                0 => primitive(u.arbitrary()?),
                n => Value::String(self.names[u.choose_index(n)?].clone()),
            },
        })
    }

    fn name(&mut self, kind: &str) -> String {
        let name = format!("{kind}{}", self.names.len());
        self.names.push(name.clone());
        name
    }
}

fn primitive(p: Primitive) -> Value {
    match p {
        Primitive::Null => json!("null"),
        Primitive::Boolean => json!("boolean"),
        Primitive::Int => json!("int"),
        Primitive::Long => json!("long"),
        Primitive::Float => json!("float"),
        Primitive::Double => json!("double"),
        Primitive::Bytes => json!("bytes"),
        Primitive::String => json!("string"),
        Primitive::Date => json!({"type": "int", "logicalType": "date"}),
        Primitive::TimestampMillis => json!({"type": "long", "logicalType": "timestamp-millis"}),
        Primitive::TimestampMicros => json!({"type": "long", "logicalType": "timestamp-micros"}),
        Primitive::TimeMicros => json!({"type": "long", "logicalType": "time-micros"}),
        Primitive::Decimal => {
            json!({"type": "bytes", "logicalType": "decimal", "precision": 9, "scale": 2})
        }
        Primitive::Uuid => json!({"type": "string", "logicalType": "uuid"}),
    }
}

/// A reader schema derived from `writer`: each record may lose a field,
/// gain an optional one, be reversed; a primitive may be promoted or made
/// optional.
fn derive_reader(u: &mut Unstructured, writer: &Value) -> Result<Value> {
    Ok(match writer {
        Value::Object(o) if o.get("type") == Some(&json!("record")) => {
            let mut fields: Vec<Value> = Vec::new();
            for f in o["fields"].as_array().into_iter().flatten() {
                if u.ratio(1, 6)? {
                    continue;
                }
                let mut f = f.clone();
                f["type"] = derive_reader(u, &f["type"])?;
                fields.push(f);
            }
            if u.ratio(1, 4)? {
                fields.push(json!({"name": "added", "type": ["null", "long"], "default": null}));
            }
            if u.ratio(1, 4)? {
                fields.reverse();
            }
            let mut o = o.clone();
            o.insert("fields".into(), Value::Array(fields));
            Value::Object(o)
        }
        Value::Object(o) if o.get("type") == Some(&json!("array")) => {
            json!({"type": "array", "items": derive_reader(u, &o["items"])?})
        }
        Value::Object(o) if o.get("type") == Some(&json!("map")) => {
            json!({"type": "map", "values": derive_reader(u, &o["values"])?})
        }
        Value::String(s) => match (s.as_str(), u.int_in_range(0..=3u8)?) {
            ("int", 0) => json!("long"),
            ("int" | "long", 1) => json!("double"),
            ("float", 0) => json!("double"),
            ("string", 0) => json!("bytes"),
            ("bytes", 0) => json!("string"),
            (p @ ("int" | "long" | "string" | "boolean" | "double"), 2) => json!(["null", p]),
            _ => writer.clone(),
        },
        other => other.clone(),
    })
}

fuzz_target!(|data: &[u8]| {
    let mut u = Unstructured::new(data);
    let mut draw = Draw {
        nodes: 0,
        names: Vec::new(),
    };
    let Ok(schema) = draw.schema(&mut u, 0) else {
        return;
    };
    let Ok(resolve) = u.arbitrary::<bool>() else {
        return;
    };
    let reader = if resolve {
        match derive_reader(&mut u, &schema) {
            Ok(r) => Some(r),
            Err(_) => return,
        }
    } else {
        None
    };
    if std::env::var_os("FUZZ_SHOW").is_some() {
        eprintln!("writer: {schema}\nreader: {reader:?}");
    }
    let rest = u.take_rest();
    let messages = split_messages(rest);
    match reader {
        None => {
            let config = json!({"protocol": "raw", "schema": schema.to_string(),
                                "unions": "union", "column": "v"});
            if let Ok(mut d) = try_decoder(&AvroCodec, config) {
                decode_and_check(d.as_mut(), &messages);
            }
        }
        Some(reader) => {
            let registry = registry();
            // The registry refuses what is not valid Avro, as Confluent's does.
            let Ok(id) = registry
                .client
                .register("writers-value", &Schema::avro(schema.to_string()))
            else {
                return;
            };
            let config = json!({"schema_registry_url": registry.handle.url(),
                                "schema": reader.to_string(), "unions": "union", "column": "v"});
            let Ok(mut d) = try_decoder(&AvroCodec, config) else {
                return;
            };
            let framed: Vec<Vec<u8>> = messages
                .iter()
                .map(|m| [&[0u8][..], &id.to_be_bytes(), m].concat())
                .collect();
            let views: Vec<&[u8]> = framed.iter().map(|m| m.as_slice()).collect();
            decode_and_check(d.as_mut(), &views);
        }
    }
});
