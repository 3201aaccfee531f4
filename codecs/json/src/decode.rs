//! Decoding: one JSON object per message into typed Arrow columns.
//!
//! Each document is read by serde_json straight into per-column buffers: field
//! names are matched against the plan without allocating, each wanted value is
//! borrowed as its raw text and converted by [`crate::convert`], and unknown
//! fields are skipped with `IgnoredAny`. No `serde_json::Value` is built.
//! Flat plans try the hand-written scanner in [`crate::fast`] first; this
//! path decides every row the scanner gives up on, and writes every error.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use serde::de::{self, DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::value::RawValue;
use topictable_sdk::arrow_array::RecordBatch;
use topictable_sdk::arrow_schema::{Schema, SchemaRef};
use topictable_sdk::preview::preview_bytes;
use topictable_sdk::{Decoded, Decoder, MessageBatch, PluginError, RowError, Side};

use crate::ColumnDef;
use crate::columns::ColumnBuf;
use crate::convert::store;
use crate::fast::decode_flat;
use crate::plan::{Plan, Target};

/// Decodes one side of each message, a JSON object, into the configured columns.
#[derive(Debug, Clone)]
pub struct JsonDecoder {
    plan: Plan,
    lenient: bool,
    fast: bool,
    side: Side,
    schema: SchemaRef,
}

impl JsonDecoder {
    /// A decoder for `columns`, reading each from its `mapping` field or pointer
    /// (or the top-level field of the column's name).
    pub fn new(
        columns: &[ColumnDef],
        mapping: &BTreeMap<String, String>,
        lenient: bool,
        side: Side,
    ) -> Result<Self, PluginError> {
        let plan = Plan::new(columns, mapping)?;
        let schema = Arc::new(Schema::new(
            columns
                .iter()
                .map(|c| c.kind.field(&c.name))
                .collect::<Vec<_>>(),
        ));
        Ok(Self {
            fast: plan.nodes.len() == 1 && plan.columns.len() <= 64,
            plan,
            lenient,
            side,
            schema,
        })
    }

    /// The same decoder without the fast path for flat documents, so tests
    /// can check that both paths agree.
    #[doc(hidden)]
    pub fn without_fast_path(mut self) -> Self {
        self.fast = false;
        self
    }

    /// Decodes one document into row `row` of `cols` (every column gets a
    /// value or a null), or says why it cannot.
    fn decode_one(&self, bytes: &[u8], row: usize, cols: &mut [ColumnBuf]) -> Result<(), String> {
        let text = std::str::from_utf8(bytes).map_err(|e| {
            format!(
                "invalid UTF-8 at byte {}: {}",
                e.valid_up_to(),
                preview_bytes(bytes)
            )
        })?;
        if self.fast {
            if let Ok(seen) = decode_flat(&self.plan, self.lenient, text, cols) {
                for (i, c) in cols.iter_mut().enumerate() {
                    if seen & (1 << i) == 0 {
                        c.push_null();
                    }
                }
                return Ok(());
            }
            cols.iter_mut().for_each(|c| c.truncate(row));
        }
        let mut sink = RowSink {
            plan: &self.plan,
            cols,
            row,
            lenient: self.lenient,
            error: None,
        };
        let mut de = serde_json::Deserializer::from_str(text);
        let result = NodeSeed {
            sink: &mut sink,
            node: 0,
        }
        .deserialize(&mut de)
        .and_then(|()| de.end());
        match (result, sink.error) {
            (Ok(()), _) => {
                cols.iter_mut()
                    .filter(|c| c.len() == row)
                    .for_each(ColumnBuf::push_null);
                Ok(())
            }
            (Err(_), Some(DocError::Field(message))) => Err(message),
            (Err(_), Some(DocError::NotAnObject(what))) => Err(format!(
                "expected a JSON object, found {what}: {}",
                preview_bytes(bytes)
            )),
            (Err(e), None) => Err(format!("malformed JSON ({e}): {}", preview_bytes(bytes))),
        }
    }
}

impl Decoder for JsonDecoder {
    fn output_schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    fn decode(&mut self, messages: &MessageBatch<'_>) -> Result<Decoded, PluginError> {
        let input = match self.side {
            Side::Key => messages.keys,
            Side::Value => messages.values,
        };
        let rows = input.len();
        let bytes_per_column = input.parts().1.len() / self.plan.columns.len().max(1);
        let mut cols: Vec<ColumnBuf> = self
            .plan
            .columns
            .iter()
            .map(|c| ColumnBuf::new(c.kind, rows, bytes_per_column))
            .collect();
        let mut errors = Vec::new();
        for row in 0..rows {
            let Some(bytes) = input.get(row) else {
                cols.iter_mut().for_each(ColumnBuf::push_null);
                continue;
            };
            if let Err(message) = self.decode_one(bytes, row, &mut cols) {
                errors.push(RowError::new(row, message));
                for c in &mut cols {
                    c.truncate(row);
                    c.push_null();
                }
            }
        }
        let arrays = cols
            .into_iter()
            .zip(&self.plan.columns)
            .map(|(c, meta)| c.finish(meta.kind))
            .collect::<Result<Vec<_>, _>>()?;
        let batch = RecordBatch::try_new(self.schema.clone(), arrays)?;
        Ok(Decoded { batch, errors })
    }
}

/// Why a document was refused, when serde_json's own error is not the reason.
enum DocError {
    /// A field's value does not fit its column (the full message).
    Field(String),
    /// The document is not an object (what it is instead).
    NotAnObject(&'static str),
}

/// Where one document's fields go.
struct RowSink<'a> {
    plan: &'a Plan,
    cols: &'a mut [ColumnBuf],
    row: usize,
    lenient: bool,
    error: Option<DocError>,
}

impl RowSink<'_> {
    /// Stores `raw` in column `col`; a repeated field replaces the earlier value.
    #[inline]
    fn store<E: de::Error>(&mut self, col: usize, raw: &str) -> Result<(), E> {
        let buf = &mut self.cols[col];
        if buf.len() > self.row {
            buf.truncate(self.row);
        }
        let meta = &self.plan.columns[col];
        store(buf, meta.kind, raw, self.lenient, false).map_err(|message| {
            self.error = Some(DocError::Field(format!("{}: {message}", meta.label)));
            E::custom("field error")
        })
    }

    /// Feeds a value given as raw text to `target` (the slower path for
    /// fields that are both a column and a parent of pointer paths, and for
    /// array elements).
    fn take_raw<E: de::Error>(&mut self, target: Target, raw: &str) -> Result<(), E> {
        if let Some(col) = target.column {
            self.store(col, raw)?;
        }
        if let Some(node) = target.child {
            let mut de = serde_json::Deserializer::from_str(raw);
            NodeSeed { sink: self, node }
                .deserialize(&mut de)
                .map_err(E::custom)?;
        }
        Ok(())
    }
}

/// Reads one JSON value against node `node` of the plan.
struct NodeSeed<'s, 'a> {
    sink: &'s mut RowSink<'a>,
    node: usize,
}

impl<'de> DeserializeSeed<'de> for NodeSeed<'_, '_> {
    type Value = ();
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl NodeSeed<'_, '_> {
    /// A non-container value: refused for the document, a path that does not
    /// resolve (so missing) deeper down.
    fn scalar<E: de::Error>(self, what: &'static str) -> Result<(), E> {
        if self.node == 0 {
            self.sink.error = Some(DocError::NotAnObject(what));
            return Err(E::custom("not an object"));
        }
        Ok(())
    }
}

impl<'de> Visitor<'de> for NodeSeed<'_, '_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let plan = self.sink.plan;
        let node = &plan.nodes[self.node];
        let mut guess = 0;
        while let Some(entry) = map.next_key_seed(KeySeed { node, guess })? {
            let Some(entry) = entry else {
                map.next_value::<IgnoredAny>()?;
                continue;
            };
            guess = entry + 1;
            match node.targets[entry] {
                Target {
                    column: Some(col),
                    child: None,
                } => {
                    let raw: &RawValue = map.next_value()?;
                    self.sink.store(col, raw.get())?;
                }
                Target {
                    column: None,
                    child: Some(child),
                } => map.next_value_seed(NodeSeed {
                    sink: &mut *self.sink,
                    node: child,
                })?,
                target => {
                    let raw: &RawValue = map.next_value()?;
                    self.sink.take_raw(target, raw.get())?;
                }
            }
        }
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        if self.node == 0 {
            return self.scalar("an array");
        }
        let plan = self.sink.plan;
        let node = &plan.nodes[self.node];
        let mut index = 0usize;
        let mut digits = itoa::Buffer::new();
        while let Some(raw) = seq.next_element::<&RawValue>()? {
            if let Some(entry) = node.find(digits.format(index), 0) {
                self.sink.take_raw(node.targets[entry], raw.get())?;
            }
            index += 1;
        }
        Ok(())
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<(), E> {
        self.scalar("a boolean")
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<(), E> {
        self.scalar("a number")
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<(), E> {
        self.scalar("a number")
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<(), E> {
        self.scalar("a number")
    }
    fn visit_str<E: de::Error>(self, _: &str) -> Result<(), E> {
        self.scalar("a string")
    }
    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        self.scalar("null")
    }
}

/// Reads a field name and finds its entry in a node, without allocating.
struct KeySeed<'n> {
    node: &'n crate::plan::Node,
    guess: usize,
}

impl<'de> DeserializeSeed<'de> for KeySeed<'_> {
    type Value = Option<usize>;
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Option<usize>, D::Error> {
        d.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for KeySeed<'_> {
    type Value = Option<usize>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a field name")
    }

    #[inline]
    fn visit_str<E: de::Error>(self, key: &str) -> Result<Option<usize>, E> {
        Ok(self.node.find(key, self.guess))
    }
}
