//! The Confluent Schema Registry, as topictable's Avro and Protobuf codecs need it:
//!
//! - [`framing`]: the wire format (magic byte `0x00`, 4-byte big-endian schema
//!   id, and Protobuf's message-index array);
//! - [`client`] (feature `client`): a caching registry client with retries,
//!   basic auth and TLS, whose calls block;
//! - [`server`] (feature `server`): an embedded, Confluent-compatible
//!   registry that confluent-kafka's `SchemaRegistryClient` talks to unchanged;
//! - [`model`]: the REST bodies both share, and the subject name strategies.
//!
//! ```no_run
//! use topictable_schema_registry::{ClientConfig, RegistryClient, Schema, server};
//! let registry = server::spawn("127.0.0.1:0")?;
//! let client = RegistryClient::new(ClientConfig::new(&registry.url()))?;
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
#[cfg(feature = "server")]
pub mod server;
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
#[cfg(feature = "server")]
pub use server::{RegistryHandle, RegistryLimits, RegistryServer};
#[cfg(feature = "client")]
pub use settings::RegistrySettings;
