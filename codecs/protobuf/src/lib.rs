//! The `protobuf` codec: Protobuf messages, Confluent-framed (magic byte,
//! schema id, message indexes) or raw, into Arrow columns, and Arrow rows
//! back into framed messages.
//!
//! Descriptors come from the Schema Registry (`.proto` text or a base64
//! `FileDescriptorProto`, imports fetched as references), a
//! `FileDescriptorSet` file, or `.proto` files compiled in-process with
//! protox. Each message's type is found from its schema id and message
//! indexes (cached per pair) and decoded straight into Arrow buffers by a
//! plan built once per type: nested messages flattened with `_`, repeated
//! fields as lists, maps as maps, well-known types as timestamps, durations
//! and nullable primitives.
//!
//! ```
//! use topictable_codec_protobuf::ProtobufCodec;
//! use topictable_sdk::{Codec, MessageBatchBuilder, Side};
//! use serde_json::json;
//!
//! let proto = r#"syntax = "proto3"; package t; message M { int64 qty = 1; }"#;
//! let config = json!({"protocol": "raw", "schema": proto});
//! let config = ProtobufCodec.description().config.validate(&config).unwrap();
//! let mut decoder = ProtobufCodec.new_decoder(&config, Side::Value).unwrap();
//! let mut messages = MessageBatchBuilder::default();
//! messages.push("orders", 0, 0, None, None, Some(&[0x08, 42]), &[]); // qty = 42
//! let decoded = decoder.decode(&messages.batch().view()).unwrap();
//! assert!(decoded.errors.is_empty());
//! assert_eq!(decoded.batch.schema().field(0).name(), "qty");
//! ```
#![deny(missing_docs)]

mod columns;
mod config;
mod decode;
pub mod descriptors;
mod encode;
mod options;
mod plan;
mod wire;

pub use config::{ProtobufConfig, Protocol};
pub use decode::ProtobufDecoder;
pub use encode::ProtobufEncoder;
pub use options::{EnumsAs, TimeUnitConfig};

use serde_json::{Map, Value};
use topictable_sdk::arrow_schema::SchemaRef;
use topictable_sdk::{Codec, CodecDescription, ConfigKeys, Decoder, Encoder, PluginError, Side};

/// The `protobuf` format's factory.
#[derive(Debug, Clone, Copy, Default)]
pub struct ProtobufCodec;

impl Codec for ProtobufCodec {
    fn description(&self) -> CodecDescription {
        CodecDescription {
            format: "protobuf".into(),
            doc: "Protobuf messages, Confluent-framed with a Schema Registry (message indexes honoured) or raw."
                .into(),
            config: ProtobufConfig::config_spec(),
            can_encode: true,
        }
    }

    fn new_decoder(
        &self,
        config: &Map<String, Value>,
        side: Side,
    ) -> Result<Box<dyn Decoder>, PluginError> {
        Ok(Box::new(ProtobufDecoder::new(
            &ProtobufConfig::from_map(config)?,
            side,
        )?))
    }

    fn new_encoder(
        &self,
        config: &Map<String, Value>,
        side: Side,
        schema: SchemaRef,
    ) -> Result<Box<dyn Encoder>, PluginError> {
        Ok(Box::new(ProtobufEncoder::new(
            &ProtobufConfig::from_map(config)?,
            side,
            schema,
        )?))
    }
}
