//! A third-party codec: each message value is one CSV line, read into typed
//! columns. It depends on `topictable-sdk` alone; build it with `cargo build`
//! and drop the library into the plugin directory.

use std::sync::Arc;

use serde::Deserialize;
use serde_json::{Map, Value};
use topictable_sdk::arrow_array::builder::{
    BooleanBuilder, Float64Builder, Int64Builder, StringBuilder,
};
use topictable_sdk::arrow_array::{ArrayRef, RecordBatch};
use topictable_sdk::arrow_schema::{DataType, Field, Schema, SchemaRef};
use topictable_sdk::{
    Codec, CodecDescription, ConfigKeys, Decoded, Decoder, MessageBatch, PluginError, RowError,
    Side,
};

/// One column of the CSV line.
#[derive(Debug, Clone, Deserialize)]
struct Column {
    name: String,
    #[serde(rename = "type")]
    kind: String,
}

/// The codec's config; its doc comments are what `topictable plugins
/// describe` shows for each key.
#[derive(Debug, Clone, Deserialize, ConfigKeys)]
struct CsvConfig {
    /// The columns in order: [{name, type}].
    columns: Vec<Column>,
    /// The field separator.
    #[serde(default = "comma")]
    delimiter: String,
}

fn comma() -> String {
    ",".into()
}

/// The `csv` format.
#[derive(Default)]
pub struct CsvLineCodec;

impl Codec for CsvLineCodec {
    fn description(&self) -> CodecDescription {
        CodecDescription {
            format: "csv".into(),
            doc:
                "One CSV line per message, split into typed columns (string, int64, float64, bool)."
                    .into(),
            config: CsvConfig::config_spec(),
            can_encode: false,
        }
    }

    fn new_decoder(
        &self,
        config: &Map<String, Value>,
        side: Side,
    ) -> Result<Box<dyn Decoder>, PluginError> {
        let config: CsvConfig = serde_json::from_value(Value::Object(config.clone()))?;
        let delimiter = match config.delimiter.as_bytes() {
            [d] => *d,
            _ => return Err(PluginError::config("delimiter must be one byte")),
        };
        let fields = config
            .columns
            .iter()
            .map(|c| {
                let t = match c.kind.as_str() {
                    "string" => DataType::Utf8,
                    "int64" => DataType::Int64,
                    "float64" => DataType::Float64,
                    "bool" => DataType::Boolean,
                    other => {
                        return Err(PluginError::config(format!(
                            "column {}: unknown type {other}",
                            c.name
                        )));
                    }
                };
                Ok(Field::new(&c.name, t, true))
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Box::new(CsvLineDecoder {
            schema: Arc::new(Schema::new(fields)),
            delimiter,
            side,
        }))
    }
}

struct CsvLineDecoder {
    schema: SchemaRef,
    delimiter: u8,
    side: Side,
}

enum ColumnBuilder {
    Str(StringBuilder),
    Int(Int64Builder),
    Float(Float64Builder),
    Bool(BooleanBuilder),
}

impl ColumnBuilder {
    fn new(t: &DataType) -> Self {
        match t {
            DataType::Int64 => Self::Int(Int64Builder::new()),
            DataType::Float64 => Self::Float(Float64Builder::new()),
            DataType::Boolean => Self::Bool(BooleanBuilder::new()),
            _ => Self::Str(StringBuilder::new()),
        }
    }
    fn push(&mut self, field: Option<&str>) -> Result<(), String> {
        match (self, field) {
            (Self::Str(b), f) => b.append_option(f),
            (Self::Int(b), Some(f)) => b.append_value(
                f.trim()
                    .parse()
                    .map_err(|e| format!("`{f}` is not an int64: {e}"))?,
            ),
            (Self::Float(b), Some(f)) => b.append_value(
                f.trim()
                    .parse()
                    .map_err(|e| format!("`{f}` is not a float64: {e}"))?,
            ),
            (Self::Bool(b), Some(f)) => b.append_value(
                f.trim()
                    .parse()
                    .map_err(|e| format!("`{f}` is not a bool: {e}"))?,
            ),
            (Self::Int(b), None) => b.append_null(),
            (Self::Float(b), None) => b.append_null(),
            (Self::Bool(b), None) => b.append_null(),
        }
        Ok(())
    }
    fn finish(self) -> ArrayRef {
        match self {
            Self::Str(mut b) => Arc::new(b.finish()),
            Self::Int(mut b) => Arc::new(b.finish()),
            Self::Float(mut b) => Arc::new(b.finish()),
            Self::Bool(mut b) => Arc::new(b.finish()),
        }
    }
}

impl Decoder for CsvLineDecoder {
    fn output_schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    fn decode(&mut self, messages: &MessageBatch<'_>) -> Result<Decoded, PluginError> {
        let column = if self.side == Side::Key {
            messages.keys
        } else {
            messages.values
        };
        let mut builders: Vec<ColumnBuilder> = self
            .schema
            .fields()
            .iter()
            .map(|f| ColumnBuilder::new(f.data_type()))
            .collect();
        let mut errors = Vec::new();
        let delimiter = char::from(self.delimiter);
        for row in 0..column.len() {
            let line = column.get(row).map(std::str::from_utf8);
            let fields: Vec<Option<&str>> = match line {
                None => vec![None; builders.len()],
                Some(Err(e)) => {
                    errors.push(RowError::new(row, format!("not UTF-8: {e}")));
                    vec![None; builders.len()]
                }
                Some(Ok(line)) => {
                    let parts: Vec<&str> = line
                        .trim_end_matches(['\r', '\n'])
                        .split(delimiter)
                        .collect();
                    if parts.len() != builders.len() {
                        errors.push(RowError::new(
                            row,
                            format!("expected {} fields, got {}", builders.len(), parts.len()),
                        ));
                        vec![None; builders.len()]
                    } else {
                        parts
                            .into_iter()
                            .map(|p| (!p.is_empty()).then_some(p))
                            .collect()
                    }
                }
            };
            for (builder, field) in builders.iter_mut().zip(&fields) {
                if let Err(e) = builder.push(*field) {
                    errors.push(RowError::new(row, e));
                    builder.push(None).expect("null always fits");
                }
            }
        }
        let columns = builders.into_iter().map(ColumnBuilder::finish).collect();
        Ok(Decoded {
            batch: RecordBatch::try_new(self.schema.clone(), columns)?,
            errors,
        })
    }
}

topictable_sdk::export_plugin! {
    name: "csv-line",
    version: env!("CARGO_PKG_VERSION"),
    codecs: [CsvLineCodec],
    sinks: [],
}
