//! What every fuzz target shares: splitting the fuzzer's bytes into a batch
//! of messages, making decoders from JSON configs, and the checks every
//! decoder output must pass.
//!
//! A decoder may refuse any message (a row error), but whatever it returns
//! must be sound: one row per message, errors in ascending row order and
//! inside the batch, every column's data valid by Arrow's own full check
//! (the codecs finish their columns with unchecked constructors, so this is
//! where a wrong offset or bitmap would show), and nulls in every column of
//! a failed row.

use std::sync::{Mutex, MutexGuard, OnceLock};

use arrow_array::Array;
use arrow_schema::DataType;
use serde_json::Value;
use topictable_sdk::{Codec, Decoded, Decoder, MessageBatchBuilder, Side};

/// The bytes that separate messages in one fuzz input.
pub const SEPARATOR: &[u8] = b"|#|";

/// At most this many messages are taken from one input.
pub const MAX_MESSAGES: usize = 64;

/// Splits `data` on [`SEPARATOR`] into at most [`MAX_MESSAGES`] messages.
pub fn split_messages(data: &[u8]) -> Vec<&[u8]> {
    let mut out = Vec::new();
    let mut rest = data;
    while out.len() + 1 < MAX_MESSAGES {
        match rest.windows(SEPARATOR.len()).position(|w| w == SEPARATOR) {
            Some(at) => {
                out.push(&rest[..at]);
                rest = &rest[at + SEPARATOR.len()..];
            }
            None => break,
        }
    }
    out.push(rest);
    out
}

/// Joins messages with [`SEPARATOR`] (for writing seed inputs).
pub fn join_messages(messages: &[Vec<u8>]) -> Vec<u8> {
    messages.join(SEPARATOR)
}

/// A value decoder of `codec` made from `config`; panics if the config is
/// refused (the configs of the targets are fixed and valid).
pub fn decoder(codec: &dyn Codec, config: Value) -> Box<dyn Decoder> {
    try_decoder(codec, config).unwrap_or_else(|e| panic!("a fixed fuzz config was refused: {e}"))
}

/// A value decoder of `codec`, or the reason it could not be made.
pub fn try_decoder(codec: &dyn Codec, config: Value) -> Result<Box<dyn Decoder>, String> {
    let config = codec
        .description()
        .config
        .validate(&config)
        .map_err(|errors| {
            let all: Vec<String> = errors.iter().map(ToString::to_string).collect();
            all.join("; ")
        })?;
    codec
        .new_decoder(&config, Side::Value)
        .map_err(|e| e.to_string())
}

/// Decoders kept across inputs, as a table keeps its decoder across
/// batches (so caches and per-schema state are fuzzed too).
pub struct Decoders(OnceLock<Vec<Mutex<Box<dyn Decoder>>>>);

impl Decoders {
    /// An empty set, made on first use.
    pub const fn new() -> Self {
        Self(OnceLock::new())
    }

    /// Decoder `pick % count`, made with `make` on first use.
    pub fn get(
        &self,
        pick: u8,
        make: impl FnOnce() -> Vec<Box<dyn Decoder>>,
    ) -> MutexGuard<'_, Box<dyn Decoder>> {
        let all = self
            .0
            .get_or_init(|| make().into_iter().map(Mutex::new).collect());
        all[pick as usize % all.len()]
            .lock()
            .unwrap_or_else(|e| e.into_inner())
    }
}

impl Default for Decoders {
    fn default() -> Self {
        Self::new()
    }
}

/// Decodes `messages` as the values of one batch and checks the output.
pub fn decode_and_check(decoder: &mut dyn Decoder, messages: &[&[u8]]) {
    let mut builder = MessageBatchBuilder::default();
    for (offset, m) in messages.iter().enumerate() {
        builder.push("fuzz", 0, offset as i64, None, None, Some(m), &[]);
    }
    let batch = builder.finish();
    // A whole-call error is allowed (nothing at all could be produced).
    if let Ok(decoded) = decoder.decode(&batch.view()) {
        check_decoded(
            &decoded,
            messages.len(),
            decoder.output_schema().fields().len(),
        );
    }
}

/// The checks of [`decode_and_check`] on one output.
pub fn check_decoded(decoded: &Decoded, messages: usize, columns: usize) {
    let batch = &decoded.batch;
    assert_eq!(batch.num_rows(), messages, "one row per message");
    assert_eq!(batch.num_columns(), columns, "the output schema's columns");
    let mut last = None;
    for e in &decoded.errors {
        assert!(e.row < messages, "row error {} of {messages} rows", e.row);
        assert!(last < Some(e.row), "row errors in ascending order");
        assert!(!e.message.is_empty(), "a row error says why");
        last = Some(e.row);
    }
    for column in batch.columns() {
        column
            .to_data()
            .validate_full()
            .unwrap_or_else(|e| panic!("a decoded column is not valid Arrow: {e}"));
    }
    for (column, field) in batch.columns().iter().zip(batch.schema().fields()) {
        // A union has no nulls of its own: a failed row is its null branch,
        // when it has one.
        if let DataType::Union(branches, _) = field.data_type()
            && !branches
                .iter()
                .any(|(_, f)| f.data_type() == &DataType::Null)
        {
            continue;
        }
        let nulls = column.logical_nulls();
        for e in &decoded.errors {
            assert!(
                nulls.as_ref().is_some_and(|n| n.is_null(e.row)),
                "failed row {} holds a value in column {} ({})",
                e.row,
                field.name(),
                field.data_type()
            );
        }
    }
}

/// An embedded schema registry for the targets that resolve schemas by id,
/// started once per fuzzing process, with a client to register schemas.
pub struct Registry {
    /// The running server (kept for the life of the process).
    pub handle: topictable_registry_server::RegistryHandle,
    /// A client of it.
    pub client: topictable_schema_registry::RegistryClient,
}

/// The process's embedded registry.
pub fn registry() -> &'static Registry {
    static REGISTRY: OnceLock<Registry> = OnceLock::new();
    REGISTRY.get_or_init(|| {
        let handle = topictable_registry_server::spawn("127.0.0.1:0")
            .expect("the embedded registry starts");
        let mut config = topictable_schema_registry::ClientConfig::new(&handle.url());
        config.max_retries = 0;
        let client = topictable_schema_registry::RegistryClient::new(config)
            .expect("a client of the embedded registry");
        Registry { handle, client }
    })
}

/// Replaces the schema id of a Confluent-framed message (magic byte 0, then
/// 4 bytes) with one of `ids`, picked by the id's last byte, so the fuzzer
/// reaches the registered schemas instead of unknown ids; a last byte of
/// 0xFF keeps the id as it is (the unknown-id path).
pub fn pick_schema_id(message: &mut [u8], ids: &[u32]) {
    if message.len() >= 5 && message[0] == 0 && message[4] != 0xFF && !ids.is_empty() {
        let id = ids[message[4] as usize % ids.len()];
        message[1..5].copy_from_slice(&id.to_be_bytes());
    }
}

/// Avro's zigzag varint of `v` (for seeds).
pub fn avro_long(v: i64) -> Vec<u8> {
    let mut n = ((v << 1) ^ (v >> 63)) as u64;
    let mut out = Vec::new();
    loop {
        if n < 0x80 {
            out.push(n as u8);
            return out;
        }
        out.push((n as u8 & 0x7f) | 0x80);
        n >>= 7;
    }
}

/// A record of every Avro type and logical type, nested records, optional
/// named types, arrays, maps and arrays of unions (the codec tests' schema,
/// `codecs/avro/tests/fixtures/all_types.avsc`).
pub fn avro_all_types_schema() -> Value {
    serde_json::from_str(include_str!(
        "../../codecs/avro/tests/fixtures/all_types.avsc"
    ))
    .expect("the all-types schema is JSON")
}

/// A record of general unions (read with `unions = "union"`) and an empty record.
pub fn avro_union_schema() -> Value {
    serde_json::json!({"type": "record", "name": "U", "fields": [
        {"name": "u", "type": ["null", "int", "string", {"type": "record", "name": "R", "fields": [
            {"name": "x", "type": "long"}]}, {"type": "array", "items": "double"}]},
        {"name": "e", "type": {"type": "record", "name": "Empty", "fields": []}},
        {"name": "m", "type": {"type": "map", "values": ["null", "boolean", "bytes"]}}
    ]})
}

/// A recursive list (a record that refers to itself).
pub fn avro_recursive_schema() -> Value {
    serde_json::json!({"type": "record", "name": "Node", "fields": [
        {"name": "v", "type": "long"},
        {"name": "next", "type": ["null", "Node"], "default": null}
    ]})
}
