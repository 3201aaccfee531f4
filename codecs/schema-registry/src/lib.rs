//! The Confluent Schema Registry, as topictable's Avro and Protobuf codecs need it:
//!
//! - [`framing`]: the wire format (magic byte `0x00`, 4-byte big-endian schema
//!   id, and Protobuf's message-index array);
//! - [`client`] (feature `client`): a caching registry client with retries,
//!   basic auth and TLS, whose calls block;
//! - [`model`]: the REST bodies, shared with the embedded registry server
//!   (`topictable-registry-server`), and the subject name strategies.
//!
//! ```no_run
//! use topictable_schema_registry::{ClientConfig, RegistryClient, Schema};
//! let client = RegistryClient::new(ClientConfig::new("http://localhost:8081"))?;
//! let id = client.register("orders-value", &Schema::avro(r#"{"type":"string"}"#))?;
//! assert_eq!(client.schema_by_id(id)?.schema.schema, r#"{"type":"string"}"#);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![deny(missing_docs)]

pub mod cache;
#[cfg(feature = "client")]
pub mod client;
pub mod framing;
pub mod model;
pub mod redact;
#[cfg(feature = "client")]
mod settings;

pub use cache::{MAX_CACHED_SCHEMAS, SchemaCache};
#[cfg(feature = "client")]
pub use client::{
    ClientConfig, MAX_NOT_FOUND_IDS, MAX_RESPONSE_BYTES, RegistryClient, RegistryError,
    ResolvedReference, ResolvedSchema, Version,
};
pub use framing::FramingError;
pub use model::{Schema, SchemaReference, SchemaType, SubjectNameStrategy, SubjectVersion};
pub use redact::redact_credentials;
#[cfg(feature = "client")]
pub use settings::RegistrySettings;
