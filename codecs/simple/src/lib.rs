//! The `simple` codec: a Kafka key or value holding one value of a primitive
//! type, read into (or written from) one Arrow column.
//!
//! Two encodings:
//! - `binary`: exactly the bytes of Kafka's serializers (`LongSerializer` is
//!   8 bytes big-endian, `DoubleSerializer` IEEE-754 big-endian,
//!   `StringSerializer` UTF-8, `UUIDSerializer` the 36-character text form, …);
//! - `text`: UTF-8 text such as `135.60`, which is what `kcat` and `rpk` users type.
//!
//! A message of the wrong length, unparsable text or invalid UTF-8 becomes a
//! row error saying what was expected and what came; a null (tombstone)
//! becomes a null cell.
//!
//! ```
//! use topictable_codec_simple::SimpleCodec;
//! use topictable_sdk::{Codec, MessageBatchBuilder, Side};
//! use serde_json::json;
//!
//! let config = json!({"type": "int64", "column": "Qty"});
//! let config = SimpleCodec.description().config.validate(&config).unwrap();
//! let mut decoder = SimpleCodec.new_decoder(&config, Side::Value).unwrap();
//! let mut messages = MessageBatchBuilder::default();
//! messages.push("orders", 0, 0, None, None, Some(&42i64.to_be_bytes()), &[]);
//! let decoded = decoder.decode(&messages.batch().view()).unwrap();
//! assert_eq!(decoded.batch.num_rows(), 1);
//! assert!(decoded.errors.is_empty());
//! ```
#![deny(missing_docs)]

mod config;
mod decode;
mod encode;
mod types;

pub use config::{SimpleConfig, SimpleEncoding};
pub use decode::SimpleDecoder;
pub use encode::SimpleEncoder;
pub use types::SimpleType;

use serde_json::{Map, Value};
use topictable_sdk::arrow_schema::SchemaRef;
use topictable_sdk::{Codec, CodecDescription, ConfigKeys, Decoder, Encoder, PluginError, Side};

/// The `simple` format's factory.
#[derive(Debug, Clone, Copy, Default)]
pub struct SimpleCodec;

impl Codec for SimpleCodec {
    fn description(&self) -> CodecDescription {
        CodecDescription {
            format: "simple".into(),
            doc: "One value of a primitive type per key or value, as Kafka's serializers write it or as text.".into(),
            config: SimpleConfig::config_spec(),
            can_encode: true,
        }
    }

    fn new_decoder(
        &self,
        config: &Map<String, Value>,
        side: Side,
    ) -> Result<Box<dyn Decoder>, PluginError> {
        Ok(Box::new(SimpleConfig::from_map(config)?.decoder(side)))
    }

    fn new_encoder(
        &self,
        config: &Map<String, Value>,
        side: Side,
        schema: SchemaRef,
    ) -> Result<Box<dyn Encoder>, PluginError> {
        Ok(Box::new(
            SimpleConfig::from_map(config)?.encoder(side, &schema)?,
        ))
    }
}
