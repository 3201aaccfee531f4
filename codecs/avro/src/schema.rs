//! Avro schemas as the decoder needs them: an arena of nodes with named types
//! resolved, logical types attached, and the wire layout kept exact.
//!
//! apache-avro's `Schema` is used to check a schema is valid Avro, but its
//! model folds a `fixed(16)` UUID and a `string` UUID into one variant,
//! losing the wire layout, so decoding plans are built from this model.

use std::collections::HashMap;

use serde_json::{Map, Value};

/// A node id in a [`SchemaSet`].
pub type NodeId = usize;

/// A logical type annotation that was valid for its base type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Logical {
    /// `date` on `int`: days since 1970-01-01.
    Date,
    /// `time-millis` on `int`.
    TimeMillis,
    /// `time-micros` on `long`.
    TimeMicros,
    /// `timestamp-millis` on `long` (UTC).
    TimestampMillis,
    /// `timestamp-micros` on `long` (UTC).
    TimestampMicros,
    /// `timestamp-nanos` on `long` (UTC).
    TimestampNanos,
    /// `local-timestamp-millis` on `long` (no time zone).
    LocalTimestampMillis,
    /// `local-timestamp-micros` on `long`.
    LocalTimestampMicros,
    /// `local-timestamp-nanos` on `long`.
    LocalTimestampNanos,
    /// `decimal` on `bytes` or `fixed`.
    Decimal {
        /// Total digits.
        precision: u8,
        /// Digits after the point.
        scale: i8,
    },
    /// `uuid` on `string` (36-character text) or `fixed(16)`.
    Uuid,
}

/// One record field.
#[derive(Debug, Clone, PartialEq)]
pub struct Field {
    /// Its name.
    pub name: String,
    /// Other names it had.
    pub aliases: Vec<String>,
    /// Its default value (JSON, as in the schema).
    pub default: Option<Value>,
    /// Its type.
    pub ty: NodeId,
}

/// The shape of a node.
#[derive(Debug, Clone, PartialEq)]
pub enum Kind {
    /// `null`.
    Null,
    /// `boolean`.
    Boolean,
    /// `int` (32-bit).
    Int,
    /// `long` (64-bit).
    Long,
    /// `float`.
    Float,
    /// `double`.
    Double,
    /// `bytes`.
    Bytes,
    /// `string`.
    String,
    /// A record.
    Record {
        /// Full name.
        name: String,
        /// Full names of its aliases.
        aliases: Vec<String>,
        /// Its fields.
        fields: Vec<Field>,
    },
    /// An enum.
    Enum {
        /// Full name.
        name: String,
        /// Full names of its aliases.
        aliases: Vec<String>,
        /// Its symbols.
        symbols: Vec<String>,
        /// The symbol used for a writer symbol the reader lacks.
        default: Option<String>,
    },
    /// A fixed-size byte string.
    Fixed {
        /// Full name.
        name: String,
        /// Full names of its aliases.
        aliases: Vec<String>,
        /// Its size in bytes.
        size: usize,
    },
    /// An array.
    Array(NodeId),
    /// A map with string keys.
    Map(NodeId),
    /// A union.
    Union(Vec<NodeId>),
}

/// A node: a shape and an optional logical type.
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    /// The shape.
    pub kind: Kind,
    /// The logical type, when valid.
    pub logical: Option<Logical>,
}

/// A parsed schema with everything it references.
#[derive(Debug, Clone, Default)]
pub struct SchemaSet {
    nodes: Vec<Node>,
    names: HashMap<String, NodeId>,
}

impl SchemaSet {
    /// Parses `texts` in order (referenced schemas first) and returns the set
    /// and the last text's root node.
    pub fn parse<S: AsRef<str>>(texts: &[S]) -> Result<(Self, NodeId), String> {
        let mut set = SchemaSet::default();
        let mut root = None;
        for text in texts {
            let json: Value = serde_json::from_str(text.as_ref())
                .map_err(|e| format!("schema is not JSON: {e}"))?;
            root = Some(set.parse_node(&json, None)?);
        }
        let root = root.ok_or("no schema given")?;
        Ok((set, root))
    }

    /// The node with id `id`.
    pub fn node(&self, id: NodeId) -> &Node {
        &self.nodes[id]
    }

    /// The name of a named node (record, enum, fixed).
    pub fn name(&self, id: NodeId) -> Option<&str> {
        match &self.nodes[id].kind {
            Kind::Record { name, .. } | Kind::Enum { name, .. } | Kind::Fixed { name, .. } => {
                Some(name)
            }
            _ => None,
        }
    }

    /// For a `[null, T]` or `[T, null]` union, `T`'s id.
    pub fn nullable_inner(&self, id: NodeId) -> Option<NodeId> {
        match &self.nodes[id].kind {
            Kind::Union(b) if b.len() == 2 => {
                match (&self.nodes[b[0]].kind, &self.nodes[b[1]].kind) {
                    (Kind::Null, Kind::Null) => None,
                    (Kind::Null, _) => Some(b[1]),
                    (_, Kind::Null) => Some(b[0]),
                    _ => None,
                }
            }
            _ => None,
        }
    }

    fn push(&mut self, kind: Kind, logical: Option<Logical>) -> NodeId {
        self.nodes.push(Node { kind, logical });
        self.nodes.len() - 1
    }

    fn lookup(&self, name: &str, namespace: Option<&str>) -> Option<NodeId> {
        if !name.contains('.')
            && let Some(ns) = namespace.filter(|ns| !ns.is_empty())
            && let Some(&id) = self.names.get(&format!("{ns}.{name}"))
        {
            return Some(id);
        }
        self.names.get(name).copied()
    }

    fn parse_node(&mut self, json: &Value, namespace: Option<&str>) -> Result<NodeId, String> {
        match json {
            Value::String(name) => self.parse_named_ref(name, namespace),
            Value::Array(branches) => {
                let ids = branches
                    .iter()
                    .map(|b| self.parse_node(b, namespace))
                    .collect::<Result<Vec<_>, _>>()?;
                Ok(self.push(Kind::Union(ids), None))
            }
            Value::Object(map) => self.parse_complex(map, namespace),
            other => Err(format!("not a schema: {other}")),
        }
    }

    fn parse_named_ref(&mut self, name: &str, namespace: Option<&str>) -> Result<NodeId, String> {
        let kind = match name {
            "null" => Kind::Null,
            "boolean" => Kind::Boolean,
            "int" => Kind::Int,
            "long" => Kind::Long,
            "float" => Kind::Float,
            "double" => Kind::Double,
            "bytes" => Kind::Bytes,
            "string" => Kind::String,
            _ => {
                return self
                    .lookup(name, namespace)
                    .ok_or_else(|| format!("unknown type `{name}` (not a primitive and not defined before, nor in a reference)"));
            }
        };
        Ok(self.push(kind, None))
    }

    fn full_name(
        map: &Map<String, Value>,
        namespace: Option<&str>,
    ) -> Result<(String, Option<String>), String> {
        let name = map.get("name").and_then(Value::as_str).ok_or_else(|| {
            format!(
                "named type without a `name`: {}",
                Value::Object(map.clone())
            )
        })?;
        if name.contains('.') {
            let ns = name.rsplit_once('.').map(|(ns, _)| ns.to_string());
            return Ok((name.to_string(), ns));
        }
        let ns = map
            .get("namespace")
            .and_then(Value::as_str)
            .or(namespace)
            .filter(|ns| !ns.is_empty());
        Ok(match ns {
            Some(ns) => (format!("{ns}.{name}"), Some(ns.to_string())),
            None => (name.to_string(), None),
        })
    }

    fn aliases(map: &Map<String, Value>, namespace: Option<&str>) -> Vec<String> {
        map.get("aliases")
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(Value::as_str)
                    .map(|alias| match namespace {
                        Some(ns) if !alias.contains('.') => format!("{ns}.{alias}"),
                        _ => alias.to_string(),
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    fn define(&mut self, name: &str, id: NodeId) -> Result<(), String> {
        if self.names.insert(name.to_string(), id).is_some() {
            return Err(format!("type `{name}` is defined twice"));
        }
        Ok(())
    }

    fn parse_complex(
        &mut self,
        map: &Map<String, Value>,
        namespace: Option<&str>,
    ) -> Result<NodeId, String> {
        let ty = map.get("type").ok_or("schema object without a `type`")?;
        let id = match ty.as_str() {
            Some("record") | Some("error") => {
                let (name, ns) = Self::full_name(map, namespace)?;
                let aliases = Self::aliases(map, ns.as_deref());
                // Defined before its fields, so a field may refer to its own record.
                let id = self.push(
                    Kind::Record {
                        name: name.clone(),
                        aliases: aliases.clone(),
                        fields: Vec::new(),
                    },
                    None,
                );
                self.define(&name, id)?;
                let mut fields = Vec::new();
                for f in map
                    .get("fields")
                    .and_then(Value::as_array)
                    .ok_or_else(|| format!("record `{name}` has no `fields` list"))?
                {
                    let fname = f
                        .get("name")
                        .and_then(Value::as_str)
                        .ok_or_else(|| format!("a field of `{name}` has no name"))?;
                    let fty = f
                        .get("type")
                        .ok_or_else(|| format!("field `{name}.{fname}` has no type"))?;
                    let ty = self
                        .parse_node(fty, ns.as_deref())
                        .map_err(|e| format!("field `{fname}`: {e}"))?;
                    fields.push(Field {
                        name: fname.to_string(),
                        aliases: f
                            .get("aliases")
                            .and_then(Value::as_array)
                            .map(|a| {
                                a.iter()
                                    .filter_map(|s| s.as_str().map(String::from))
                                    .collect()
                            })
                            .unwrap_or_default(),
                        default: f.get("default").cloned(),
                        ty,
                    });
                }
                self.nodes[id].kind = Kind::Record {
                    name,
                    aliases,
                    fields,
                };
                id
            }
            Some("enum") => {
                let (name, ns) = Self::full_name(map, namespace)?;
                let symbols: Vec<String> = map
                    .get("symbols")
                    .and_then(Value::as_array)
                    .ok_or_else(|| format!("enum `{name}` has no `symbols`"))?
                    .iter()
                    .map(|s| {
                        s.as_str()
                            .map(String::from)
                            .ok_or("enum symbol is not a string")
                    })
                    .collect::<Result<_, _>>()?;
                let id = self.push(
                    Kind::Enum {
                        aliases: Self::aliases(map, ns.as_deref()),
                        name: name.clone(),
                        symbols,
                        default: map.get("default").and_then(Value::as_str).map(String::from),
                    },
                    None,
                );
                self.define(&name, id)?;
                id
            }
            Some("fixed") => {
                let (name, ns) = Self::full_name(map, namespace)?;
                let size = map
                    .get("size")
                    .and_then(Value::as_u64)
                    .ok_or_else(|| format!("fixed `{name}` has no `size`"))?
                    as usize;
                let id = self.push(
                    Kind::Fixed {
                        aliases: Self::aliases(map, ns.as_deref()),
                        name: name.clone(),
                        size,
                    },
                    None,
                );
                self.define(&name, id)?;
                id
            }
            Some("array") => {
                let items =
                    self.parse_node(map.get("items").ok_or("array without `items`")?, namespace)?;
                self.push(Kind::Array(items), None)
            }
            Some("map") => {
                let values =
                    self.parse_node(map.get("values").ok_or("map without `values`")?, namespace)?;
                self.push(Kind::Map(values), None)
            }
            // `{"type": "long", "logicalType": …}` and `{"type": {...}}`.
            _ => {
                let inner = self.parse_node(ty, namespace)?;
                if map.get("logicalType").is_none() {
                    return Ok(inner);
                }
                // A copy, so the annotation does not leak into a named type's other uses.
                let node = self.nodes[inner].clone();
                self.push(node.kind, None)
            }
        };
        if let Some(logical) = map.get("logicalType").and_then(Value::as_str) {
            self.nodes[id].logical = logical_type(logical, &self.nodes[id].kind, map);
        }
        Ok(id)
    }
}

/// The logical type named `name` when it is valid on `kind`; Avro says an
/// invalid one is ignored and the base type used.
fn logical_type(name: &str, kind: &Kind, map: &Map<String, Value>) -> Option<Logical> {
    use Logical as L;
    Some(match (name, kind) {
        ("date", Kind::Int) => L::Date,
        ("time-millis", Kind::Int) => L::TimeMillis,
        ("time-micros", Kind::Long) => L::TimeMicros,
        ("timestamp-millis", Kind::Long) => L::TimestampMillis,
        ("timestamp-micros", Kind::Long) => L::TimestampMicros,
        ("timestamp-nanos", Kind::Long) => L::TimestampNanos,
        ("local-timestamp-millis", Kind::Long) => L::LocalTimestampMillis,
        ("local-timestamp-micros", Kind::Long) => L::LocalTimestampMicros,
        ("local-timestamp-nanos", Kind::Long) => L::LocalTimestampNanos,
        ("uuid", Kind::String) | ("uuid", Kind::Fixed { size: 16, .. }) => L::Uuid,
        ("decimal", Kind::Bytes | Kind::Fixed { .. }) => {
            let precision = map.get("precision")?.as_u64()?;
            let scale = map.get("scale").map_or(Some(0), Value::as_u64)?;
            if precision == 0 || precision > 38 || scale > precision {
                return None;
            }
            if let Kind::Fixed { size, .. } = kind {
                // The largest precision `size` bytes can hold.
                let max = ((8.0 * *size as f64 - 1.0) * std::f64::consts::LOG10_2).floor();
                if precision as f64 > max {
                    return None;
                }
            }
            L::Decimal {
                precision: precision as u8,
                scale: scale as i8,
            }
        }
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_names_namespaces_and_logical_types() {
        let dep = r#"{"type":"record","name":"Address","namespace":"com.acme","fields":[{"name":"city","type":"string"}]}"#;
        let main = r#"{"type":"record","name":"Order","namespace":"com.acme","fields":[
            {"name":"to","type":"Address"},
            {"name":"from","type":["null","com.acme.Address"]},
            {"name":"at","type":{"type":"long","logicalType":"timestamp-millis"}},
            {"name":"id","type":{"type":"fixed","name":"Id","size":16,"logicalType":"uuid"}},
            {"name":"price","type":{"type":"bytes","logicalType":"decimal","precision":10,"scale":2}},
            {"name":"bad","type":{"type":"int","logicalType":"timestamp-millis"}},
            {"name":"next","type":["null","Order"]}
        ]}"#;
        let (set, root) = SchemaSet::parse(&[dep, main]).unwrap();
        let Kind::Record { name, fields, .. } = &set.node(root).kind else {
            panic!()
        };
        assert_eq!(name, "com.acme.Order");
        assert_eq!(set.name(fields[0].ty), Some("com.acme.Address"));
        assert_eq!(
            set.name(set.nullable_inner(fields[1].ty).unwrap()),
            Some("com.acme.Address")
        );
        assert_eq!(
            set.node(fields[2].ty).logical,
            Some(Logical::TimestampMillis)
        );
        assert_eq!(set.node(fields[3].ty).logical, Some(Logical::Uuid));
        assert!(matches!(
            set.node(fields[3].ty).kind,
            Kind::Fixed { size: 16, .. }
        ));
        assert_eq!(
            set.node(fields[4].ty).logical,
            Some(Logical::Decimal {
                precision: 10,
                scale: 2
            })
        );
        assert_eq!(set.node(fields[5].ty).logical, None);
        assert_eq!(set.nullable_inner(fields[6].ty), Some(root));
        assert!(
            SchemaSet::parse(&[
                r#"{"type":"record","name":"A","fields":[{"name":"x","type":"Nope"}]}"#
            ])
            .unwrap_err()
            .contains("unknown type `Nope`")
        );
    }
}
