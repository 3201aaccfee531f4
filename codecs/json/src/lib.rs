//! The `json` codec: each Kafka key or value is one JSON object, read into
//! typed Arrow columns (and written back from them).
//!
//! Decoding:
//! - `columns` lists the output columns (`string`, `bool`, `int32`, `int64`,
//!   `float32`, `float64`, `timestamp`, `json`);
//! - `mapping` maps a JSON field name or a JSON Pointer (`/order/price`) to a
//!   column, as Deephaven does; a column nobody maps to reads the top-level
//!   field of its own name;
//! - a missing field or a JSON `null` gives a null cell, and so does a
//!   tombstone (a null message);
//! - a value that does not fit its column is a row error naming the field and
//!   what was found, never a silent 0: `"abc"` or `1.5` for an integer column,
//!   an integer out of int32 range, a document that is not an object, invalid
//!   UTF-8 and malformed JSON;
//! - `lenient: true` also accepts numbers written as strings (`"12"` → 12),
//!   `"true"`/`"false"` for bools, and numbers or bools for string columns
//!   (kept as their JSON text);
//! - integers are read exactly (never through f64); floats are correctly
//!   rounded; timestamps are RFC 3339 strings or integer epoch milliseconds;
//!   `json` columns keep the value's JSON text as written.
//!
//! Encoding writes one JSON object per row; see [`JsonEncoder`].
//!
//! ```
//! use topictable_codec_json::JsonCodec;
//! use topictable_sdk::{Codec, MessageBatchBuilder, Side};
//! use serde_json::json;
//!
//! let config = json!({
//!     "columns": [{"name": "Symbol", "type": "string"}, {"name": "Price", "type": "float64"}],
//!     "mapping": {"symbol": "Symbol", "/order/price": "Price"},
//! });
//! let config = JsonCodec.description().config.validate(&config).unwrap();
//! let mut decoder = JsonCodec.new_decoder(&config, Side::Value).unwrap();
//! let mut messages = MessageBatchBuilder::default();
//! let value = br#"{"symbol": "AAPL", "order": {"price": 135.25}}"#;
//! messages.push("orders", 0, 0, None, None, Some(value), &[]);
//! let decoded = decoder.decode(&messages.batch().view()).unwrap();
//! assert_eq!(decoded.batch.num_rows(), 1);
//! assert!(decoded.errors.is_empty());
//! ```
#![deny(missing_docs)]

mod columns;
mod config;
mod convert;
mod decode;
mod encode;
mod fast;
mod plan;
mod types;

pub use config::{ColumnDef, JsonConfig};
pub use decode::JsonDecoder;
pub use encode::JsonEncoder;
pub use types::{EXTENSION_NAME_KEY, JSON_EXTENSION_NAME, JsonType};

use serde_json::{Map, Value};
use topictable_sdk::arrow_schema::SchemaRef;
use topictable_sdk::{Codec, CodecDescription, ConfigKeys, Decoder, Encoder, PluginError, Side};

/// The `json` format's factory.
#[derive(Debug, Clone, Copy, Default)]
pub struct JsonCodec;

impl Codec for JsonCodec {
    fn description(&self) -> CodecDescription {
        CodecDescription {
            format: "json".into(),
            doc: "One JSON object per key or value, read into typed columns by field name or JSON Pointer, and written back.".into(),
            config: JsonConfig::config_spec(),
            can_encode: true,
        }
    }

    fn new_decoder(
        &self,
        config: &Map<String, Value>,
        side: Side,
    ) -> Result<Box<dyn Decoder>, PluginError> {
        Ok(Box::new(JsonConfig::from_map(config)?.decoder(side)?))
    }

    fn new_encoder(
        &self,
        config: &Map<String, Value>,
        _side: Side,
        schema: SchemaRef,
    ) -> Result<Box<dyn Encoder>, PluginError> {
        Ok(Box::new(JsonConfig::from_map(config)?.encoder(&schema)?))
    }
}
