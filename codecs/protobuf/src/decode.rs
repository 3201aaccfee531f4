//! The decoder: framing, message indexes, per-(schema id, indexes) plans,
//! and batches of rows.

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::sync::Arc;
use std::time::{Duration, Instant};

use prost_reflect::MessageDescriptor;
use topictable_columns::ColumnError;
use topictable_schema_registry::framing::{decode_message_indexes, split_frame};
use topictable_schema_registry::{MAX_CACHED_SCHEMAS, RegistryClient, SchemaCache};
use topictable_sdk::arrow_array::{RecordBatch, RecordBatchOptions};
use topictable_sdk::arrow_schema::{Schema, SchemaRef};
use topictable_sdk::preview::preview_bytes;
use topictable_sdk::{Decoded, Decoder, MessageBatch, PluginError, RowError, Side};

use crate::columns::{Columns, PAST_2_GIB};
use crate::config::{ProtobufConfig, Protocol};
use crate::descriptors::{self, Compiled};
use crate::options::PlanOptions;
use crate::plan::{Builder, Plan, bind};
use crate::wire::{null_cell, read_row};

/// How long a registry failure for one schema id is reused before asking again.
const REGISTRY_RETRY_AFTER: Duration = Duration::from_secs(5);

/// A plan for one (schema id, message indexes), or why there is none.
enum Writer {
    Ready {
        plan: Plan,
        /// Top-level columns this message type lacks (always null).
        extra_nulls: Vec<usize>,
        /// For errors: `schema id 3, message index [1, 0] (acme.Outer.Inner)`.
        label: String,
    },
    /// Permanent: the index names no message, or another type than the table's.
    Failed(String),
    /// The registry failed (unknown id, unreachable): retried after a while.
    RegistryFailed(String, Instant),
    /// The registry could not answer (see `RegistryError::is_unavailable`):
    /// the rows are held for the host to decode again, not failed.
    RegistryUnavailable(String, Instant),
}

/// Decodes Protobuf messages (Confluent-framed or raw) into the columns of one message type.
pub struct ProtobufDecoder {
    side: Side,
    protocol: Protocol,
    registry: Option<RegistryClient>,
    reader: Compiled,
    message: MessageDescriptor,
    opts: PlanOptions,
    columns: Columns,
    plan: Plan,
    schema: SchemaRef,
    groups: Vec<bool>,
    /// Writers by (schema id, message indexes), at most MAX_CACHED_SCHEMAS
    /// (both come from the messages). Without a registry the id is not
    /// used, so every id shares one writer per index path.
    writers: SchemaCache<(u32, Vec<i32>), Writer>,
    /// Compiled registry schemas by id, at most MAX_CACHED_POOLS.
    pools: HashMap<u32, Result<Compiled, String>>,
}

/// Most compiled registry schemas a decoder keeps; all are dropped (and
/// compiled again when needed) when more arrive.
const MAX_CACHED_POOLS: usize = 64;

impl std::fmt::Debug for ProtobufDecoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProtobufDecoder")
            .field("message", &self.message.full_name())
            .field("protocol", &self.protocol)
            .field("schema", &self.schema)
            .finish()
    }
}

/// The reader schema: a local descriptor source, or the registry subject.
pub fn reader_schema(
    config: &ProtobufConfig,
    side: Side,
    registry: Option<&RegistryClient>,
) -> Result<(Compiled, MessageDescriptor, Option<u32>), PluginError> {
    let bad = |e: String| PluginError::config(e);
    let (compiled, id) = if let Some(text) = &config.schema {
        (descriptors::from_text(text).map_err(bad)?, None)
    } else if let Some(path) = &config.descriptor_set {
        (descriptors::from_descriptor_set(path).map_err(bad)?, None)
    } else if let Some(files) = &config.proto_files {
        let includes = config
            .proto_include
            .as_ref()
            .map(|i| i.to_vec())
            .unwrap_or_default();
        (
            descriptors::from_proto_files(&files.to_vec(), &includes).map_err(bad)?,
            None,
        )
    } else {
        let registry =
            registry.ok_or_else(|| PluginError::config("no descriptor and no registry"))?;
        let subject = config.subject(side)?.ok_or_else(|| {
            PluginError::config(
                "the registry is configured but no subject: give `schema_subject`, or `topic` (with `subject_strategy`)",
            )
        })?;
        let version = config.version()?;
        let (sv, resolved) = registry.subject_version(&subject, version).map_err(|e| {
            PluginError::config(format!("reader schema {subject} version {version}: {e}"))
        })?;
        let compiled = descriptors::from_registry(&resolved).map_err(|e| {
            PluginError::config(format!("reader schema {subject} version {version}: {e}"))
        })?;
        (compiled, Some(sv.id))
    };
    let message = compiled
        .message(config.message.as_deref())
        .map_err(PluginError::config)?;
    Ok((compiled, message, id))
}

impl ProtobufDecoder {
    /// A decoder for `side` from a config.
    pub fn new(config: &ProtobufConfig, side: Side) -> Result<Self, PluginError> {
        let registry = config.registry()?;
        let (reader, message, _) = reader_schema(config, side, registry.as_ref())?;
        let opts = config.plan_options();
        let mut columns = Columns::default();
        let plan = Builder::plan(&opts, &mut columns, &message)
            .map_err(|e| PluginError::config(format!("message `{}`: {e}", message.full_name())))?;
        let schema = Arc::new(Schema::new(
            plan.top.iter().map(|(_, f)| f.clone()).collect::<Vec<_>>(),
        ));
        Ok(Self {
            side,
            protocol: config.protocol,
            registry,
            reader,
            groups: vec![false; plan.groups],
            message,
            opts,
            columns,
            plan,
            schema,
            writers: SchemaCache::new(MAX_CACHED_SCHEMAS),
            pools: HashMap::new(),
        })
    }

    /// The registry client, e.g. to read its HTTP call count.
    pub fn registry(&self) -> Option<&RegistryClient> {
        self.registry.as_ref()
    }

    /// The message type the table reads.
    pub fn message(&self) -> &MessageDescriptor {
        &self.message
    }

    /// Number of writers cached (at most [`MAX_CACHED_SCHEMAS`]).
    pub fn cached_writers(&self) -> usize {
        self.writers.len()
    }

    /// The slot of the writer for `(id, indexes)`, loading it when needed
    /// (and again when a registry failure is old enough to retry).
    fn load(&mut self, id: u32, indexes: &[i32]) -> usize {
        let id = if self.registry.is_some() { id } else { 0 };
        let key = (id, indexes.to_vec());
        if let Some(slot) = self.writers.find(&key) {
            match self.writers.get(slot) {
                Writer::RegistryFailed(_, at) | Writer::RegistryUnavailable(_, at)
                    if at.elapsed() >= REGISTRY_RETRY_AFTER =>
                {
                    self.pools.remove(&id);
                }
                _ => return slot,
            }
            let writer = self.make_writer(id, indexes);
            self.writers.set(slot, writer);
            return slot;
        }
        let writer = self.make_writer(id, indexes);
        self.writers.insert(key, writer)
    }

    fn make_writer(&mut self, id: u32, indexes: &[i32]) -> Writer {
        let file = match &self.registry {
            // Without a registry the indexes are read against the reader's own file.
            None => self.reader.file(),
            Some(registry) => {
                if self.pools.len() >= MAX_CACHED_POOLS && !self.pools.contains_key(&id) {
                    self.pools.clear();
                }
                let compiled = match self.pools.entry(id) {
                    Entry::Occupied(e) => e.into_mut(),
                    Entry::Vacant(v) => match registry.schema_by_id(id) {
                        Err(e) if e.is_unavailable() => {
                            return Writer::RegistryUnavailable(
                                format!("schema id {id}: {e}"),
                                Instant::now(),
                            );
                        }
                        Err(e) => {
                            return Writer::RegistryFailed(
                                format!("schema id {id}: {e}"),
                                Instant::now(),
                            );
                        }
                        Ok(resolved) => {
                            v.insert(descriptors::from_registry(&resolved).map_err(|e| {
                                format!("schema id {id}: invalid Protobuf schema: {e}")
                            }))
                        }
                    },
                };
                match compiled {
                    Ok(c) => c.file(),
                    Err(e) => return Writer::Failed(e.clone()),
                }
            }
        };
        let m = match descriptors::message_at(&file, indexes) {
            Ok(m) => m,
            Err(e) if self.registry.is_some() => {
                return Writer::Failed(format!("schema id {id}: {e}"));
            }
            Err(e) => return Writer::Failed(e.to_string()),
        };
        let label = match self.registry {
            Some(_) => format!(
                "schema id {id}, message index {indexes:?} ({})",
                m.full_name()
            ),
            None => format!("message index {indexes:?} ({})", m.full_name()),
        };
        if m.full_name() != self.message.full_name() {
            return Writer::Failed(format!(
                "{label}: this table reads `{}`, not `{}` (set `message` to read that type)",
                self.message.full_name(),
                m.full_name()
            ));
        }
        let mut own = Columns::default();
        let mut plan = match Builder::plan(&self.opts, &mut own, &m) {
            Ok(p) => p,
            Err(e) => return Writer::Failed(format!("{label}: {e}")),
        };
        match bind(&mut plan, &own, &self.plan, &self.columns) {
            Ok(extra_nulls) => {
                if self.groups.len() < plan.groups {
                    self.groups.resize(plan.groups, false);
                }
                Writer::Ready {
                    plan,
                    extra_nulls,
                    label,
                }
            }
            Err(e) => Writer::Failed(format!(
                "{label}: cannot be read as the table's message type: {e}"
            )),
        }
    }

    fn fail_row(&mut self, row: usize, message: String, errors: &mut Vec<RowError>) {
        self.null_row(row);
        errors.push(RowError::new(row, message));
    }

    /// A row of nulls for a row that is held (see `RowError::retry`).
    fn hold_row(&mut self, row: usize, message: String, errors: &mut Vec<RowError>) {
        self.null_row(row);
        errors.push(RowError::retry_later(row, message));
    }

    /// Cuts back what a failed row wrote and makes it a row of nulls.
    fn null_row(&mut self, row: usize) {
        for &(c, _) in &self.plan.top {
            self.columns.truncate(c, row);
            null_cell(&mut self.columns, c);
        }
    }
}

/// Where the message indexes end: `[0]` is the single byte `0x00`.
fn split_indexes(payload: &[u8]) -> Result<(Vec<i32>, &[u8]), String> {
    if payload.first() == Some(&0) {
        return Ok((vec![0], &payload[1..]));
    }
    decode_message_indexes(payload).map_err(|e| e.to_string())
}

impl Decoder for ProtobufDecoder {
    fn output_schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    fn decode(&mut self, messages: &MessageBatch<'_>) -> Result<Decoded, PluginError> {
        let column = match self.side {
            Side::Key => messages.keys,
            Side::Value => messages.values,
        };
        let mut errors = Vec::new();
        // The last (id, index bytes) seen and its writer, to skip the lookup.
        let mut last: Option<(u32, Vec<u8>, usize)> = None;
        let raw_label = format!("raw message ({})", self.message.full_name());
        for row in 0..messages.len() {
            let Some(bytes) = column.get(row) else {
                let what = match self.side {
                    Side::Value => "tombstone (null value): there is no Protobuf message to decode",
                    Side::Key => "null key: there is no Protobuf message to decode",
                };
                self.fail_row(row, what.to_string(), &mut errors);
                continue;
            };
            let (writer, body) = match self.protocol {
                Protocol::Raw => (None, bytes),
                Protocol::Confluent => {
                    let (id, payload) = match split_frame(bytes) {
                        Ok(x) => x,
                        Err(e) => {
                            self.fail_row(
                                row,
                                format!("{e}: {}", preview_bytes(bytes)),
                                &mut errors,
                            );
                            continue;
                        }
                    };
                    // The fast path: the same id and index bytes as the last message.
                    let hit = match &last {
                        Some((lid, lidx, w))
                            if *lid == id
                                && payload.len() >= lidx.len()
                                && payload[..lidx.len()] == lidx[..] =>
                        {
                            Some((*w, &payload[lidx.len()..]))
                        }
                        _ => None,
                    };
                    match hit {
                        Some((w, body)) => (Some(w), body),
                        None => {
                            let (indexes, body) = match split_indexes(payload) {
                                Ok(x) => x,
                                Err(e) => {
                                    self.fail_row(
                                        row,
                                        format!("schema id {id}: {e}: {}", preview_bytes(bytes)),
                                        &mut errors,
                                    );
                                    continue;
                                }
                            };
                            let w = self.load(id, &indexes);
                            let index_bytes = payload[..payload.len() - body.len()].to_vec();
                            last = Some((id, index_bytes, w));
                            (Some(w), body)
                        }
                    }
                }
            };
            let outcome = match writer {
                None => read_row(
                    body,
                    &self.plan,
                    &[],
                    &mut self.columns,
                    &mut self.groups,
                    row,
                )
                .map_err(|e| format!("{raw_label}: {e}")),
                Some(w) => match self.writers.get(w) {
                    Writer::Ready {
                        plan,
                        extra_nulls,
                        label,
                    } => read_row(
                        body,
                        plan,
                        extra_nulls,
                        &mut self.columns,
                        &mut self.groups,
                        row,
                    )
                    .map_err(|e| format!("{label}: {e}")),
                    Writer::Failed(why) | Writer::RegistryFailed(why, _) => {
                        // A registry failure may be retried later in this batch.
                        last = None;
                        Err(why.clone())
                    }
                    Writer::RegistryUnavailable(why, _) => {
                        last = None;
                        let why = why.clone();
                        self.hold_row(row, why, &mut errors);
                        continue;
                    }
                },
            };
            let overflow = self.columns.take_overflow();
            if overflow {
                // This row and the rest go to a batch of their own.
                for rest in row..messages.len() {
                    self.null_row(rest);
                    errors.push(RowError::batch_full(rest, PAST_2_GIB));
                }
                break;
            } else if let Err(message) = outcome {
                self.fail_row(row, message, &mut errors);
            }
        }
        let finished = self
            .plan
            .top
            .iter()
            .map(|&(c, _)| self.columns.finish(c))
            .collect::<Result<Vec<_>, _>>();
        let columns = match finished {
            Ok(columns) => columns,
            Err(e) => {
                // Leave no rows behind for the next batch.
                for &(c, _) in &self.plan.top {
                    self.columns.truncate(c, 0);
                }
                return Err(finish_error(e));
            }
        };
        let batch = RecordBatch::try_new_with_options(
            self.schema.clone(),
            columns,
            &RecordBatchOptions::new().with_row_count(Some(messages.len())),
        )?;
        Ok(Decoded { batch, errors })
    }
}

/// A column that could not be finished (Arrow's own errors keep their words).
fn finish_error(e: ColumnError) -> PluginError {
    match e {
        ColumnError::Arrow(e) => PluginError::from(e),
        other => PluginError::failed(format!("protobuf: {other}")),
    }
}
