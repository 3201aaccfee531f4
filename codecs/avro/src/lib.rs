//! The `avro` codec: Avro datums, Confluent-framed (magic byte, schema id)
//! or raw, into Arrow columns, and Arrow rows back into datums.
//!
//! Each message's writer schema is fetched from the Schema Registry by id
//! (once per id) and resolved against the reader schema by Avro's rules, so
//! one decoder reads every version of an evolving topic. Datums are decoded
//! straight into Arrow buffers by a program compiled once per writer schema.
//!
//! ```
//! use topictable_codec_avro::AvroCodec;
//! use topictable_sdk::{Codec, MessageBatchBuilder, Side};
//! use serde_json::json;
//!
//! let schema = r#"{"type":"record","name":"T","fields":[{"name":"qty","type":"long"}]}"#;
//! let config = json!({"protocol": "raw", "schema": schema});
//! let config = AvroCodec.description().config.validate(&config).unwrap();
//! let mut decoder = AvroCodec.new_decoder(&config, Side::Value).unwrap();
//! let mut messages = MessageBatchBuilder::default();
//! messages.push("orders", 0, 0, None, None, Some(&[0x54]), &[]); // zigzag 42
//! let decoded = decoder.decode(&messages.batch().view()).unwrap();
//! assert!(decoded.errors.is_empty());
//! assert_eq!(decoded.batch.schema().field(0).name(), "qty");
//! ```
#![deny(missing_docs)]

mod columns;
mod config;
mod datum;
mod decode;
mod encode;
pub mod generate;
mod plan;
mod program;
mod schema;
mod write;
mod write_plan;

pub use config::{AvroConfig, Protocol};
pub use decode::AvroDecoder;
pub use encode::AvroEncoder;

use serde_json::{Map, Value};
use topictable_sdk::arrow_schema::SchemaRef;
use topictable_sdk::{Codec, CodecDescription, ConfigKeys, Decoder, Encoder, PluginError, Side};

/// The `avro` format's factory.
#[derive(Debug, Clone, Copy, Default)]
pub struct AvroCodec;

impl Codec for AvroCodec {
    fn description(&self) -> CodecDescription {
        CodecDescription {
            format: "avro".into(),
            doc: "Avro datums, Confluent-framed with a Schema Registry or raw, with schema evolution.".into(),
            config: AvroConfig::config_spec(),
            can_encode: true,
        }
    }

    fn new_decoder(
        &self,
        config: &Map<String, Value>,
        side: Side,
    ) -> Result<Box<dyn Decoder>, PluginError> {
        Ok(Box::new(AvroDecoder::new(
            &AvroConfig::from_map(config)?,
            side,
        )?))
    }

    fn new_encoder(
        &self,
        config: &Map<String, Value>,
        side: Side,
        schema: SchemaRef,
    ) -> Result<Box<dyn Encoder>, PluginError> {
        Ok(Box::new(AvroEncoder::new(
            &AvroConfig::from_map(config)?,
            side,
            schema,
        )?))
    }
}
