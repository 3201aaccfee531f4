//! The decoder: framing, per-writer-id programs, and batches of rows.

use std::time::{Duration, Instant};

use topictable_columns::ColumnError;
use topictable_schema_registry::framing::split_frame;
use topictable_schema_registry::{MAX_CACHED_SCHEMAS, RegistryClient, SchemaCache};
use topictable_sdk::arrow_array::{RecordBatch, RecordBatchOptions};
use topictable_sdk::arrow_schema::SchemaRef;
use topictable_sdk::preview::preview_bytes;
use topictable_sdk::{Decoded, Decoder, MessageBatch, PluginError, RowError, Side};

use crate::config::{AvroConfig, Protocol, parse_schema};
use crate::datum::Cursor;
use crate::plan::ReaderPlan;
use crate::program::{Op, PAST_2_GIB, resolve};

/// How long a registry failure for one schema id is reused before asking again.
const REGISTRY_RETRY_AFTER: Duration = Duration::from_secs(5);

/// A program for one writer schema id, or why there is none.
enum Program {
    Ready(Op),
    /// The schema cannot be resolved against the reader schema: permanent.
    Unresolvable(String),
    /// The registry failed (unknown id, unreachable): retried after a while.
    RegistryFailed(String, Instant),
    /// The registry could not answer (see `RegistryError::is_unavailable`):
    /// the rows are held for the host to decode again, not failed.
    RegistryUnavailable(String, Instant),
}

/// Decodes Avro datums (Confluent-framed or raw) into the reader schema's columns.
pub struct AvroDecoder {
    plan: ReaderPlan,
    side: Side,
    protocol: Protocol,
    registry: Option<RegistryClient>,
    /// The program for raw datums (writer = reader schema).
    raw: Option<Op>,
    /// Programs by writer schema id (at most MAX_CACHED_SCHEMAS: the ids
    /// come from the messages).
    programs: SchemaCache<u32, Program>,
}

impl std::fmt::Debug for AvroDecoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AvroDecoder")
            .field("schema", &self.plan.schema)
            .field("protocol", &self.protocol)
            .field("writer_ids", &self.programs.keys().collect::<Vec<_>>())
            .finish()
    }
}

impl AvroDecoder {
    /// A decoder for `side` from a config.
    pub fn new(config: &AvroConfig, side: Side) -> Result<Self, PluginError> {
        let registry = match config.protocol {
            Protocol::Raw if config.schema.is_some() => None,
            _ => config.registry()?,
        };
        let (texts, _) = config.reader_schema(side, registry.as_ref())?;
        Self::with_reader_schema(config, side, &texts, registry)
    }

    /// A decoder with the reader schema given as texts (dependencies first).
    pub fn with_reader_schema(
        config: &AvroConfig,
        side: Side,
        texts: &[String],
        registry: Option<RegistryClient>,
    ) -> Result<Self, PluginError> {
        let (set, root) =
            parse_schema(texts).map_err(|e| PluginError::config(format!("reader schema: {e}")))?;
        let plan = ReaderPlan::new(set, root, &config.plan_options(side)?)
            .map_err(|e| PluginError::config(format!("reader schema: {e}")))?;
        let raw = match config.protocol {
            Protocol::Raw => Some(
                resolve(&plan.set, plan.root, &plan.set, plan.root, &plan.target)
                    .map_err(|e| PluginError::config(format!("reader schema: {e}")))?,
            ),
            Protocol::Confluent => None,
        };
        Ok(Self {
            plan,
            side,
            protocol: config.protocol,
            registry,
            raw,
            programs: SchemaCache::new(MAX_CACHED_SCHEMAS),
        })
    }

    /// The registry client, e.g. to read its HTTP call count.
    pub fn registry(&self) -> Option<&RegistryClient> {
        self.registry.as_ref()
    }

    /// Number of writer schemas cached (at most [`MAX_CACHED_SCHEMAS`]).
    pub fn cached_writer_schemas(&self) -> usize {
        self.programs.len()
    }

    /// The slot in `programs` of the program for `id`, loading it when needed
    /// (and again when a registry failure is old enough to retry).
    fn load(&mut self, id: u32) -> usize {
        if let Some(slot) = self.programs.find(&id) {
            match self.programs.get(slot) {
                Program::RegistryFailed(_, at) | Program::RegistryUnavailable(_, at)
                    if at.elapsed() >= REGISTRY_RETRY_AFTER => {}
                _ => return slot,
            }
            let program = self.program(id);
            self.programs.set(slot, program);
            return slot;
        }
        let program = self.program(id);
        self.programs.insert(id, program)
    }

    /// The program for writer schema `id`, from the registry.
    fn program(&self, id: u32) -> Program {
        match &self.registry {
            None => Program::Unresolvable("no schema registry configured".into()),
            Some(registry) => match registry.schema_by_id(id) {
                Err(e) if e.is_unavailable() => {
                    Program::RegistryUnavailable(e.to_string(), Instant::now())
                }
                Err(e) => Program::RegistryFailed(e.to_string(), Instant::now()),
                Ok(resolved) => {
                    let texts: Vec<String> = resolved
                        .texts_in_dependency_order()
                        .into_iter()
                        .map(String::from)
                        .collect();
                    match parse_schema(&texts).and_then(|(wset, wroot)| {
                        resolve(
                            &wset,
                            wroot,
                            &self.plan.set,
                            self.plan.root,
                            &self.plan.target,
                        )
                    }) {
                        Ok(op) => Program::Ready(op),
                        Err(e) => Program::Unresolvable(format!(
                            "writer schema cannot be resolved against the reader schema: {e}"
                        )),
                    }
                }
            },
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
        for &c in &self.plan.top {
            self.plan.columns.truncate(c, row);
            self.plan.columns.append_null(c);
        }
    }
}

impl Decoder for AvroDecoder {
    fn output_schema(&self) -> SchemaRef {
        self.plan.schema.clone()
    }

    fn decode(&mut self, messages: &MessageBatch<'_>) -> Result<Decoded, PluginError> {
        let column = match self.side {
            Side::Key => messages.keys,
            Side::Value => messages.values,
        };
        let mut errors = Vec::new();
        let mut last: Option<(u32, usize)> = None;
        for row in 0..messages.len() {
            let Some(bytes) = column.get(row) else {
                // A null key, or a tombstone: a row of nulls.
                for &c in &self.plan.top {
                    self.plan.columns.append_null(c);
                }
                continue;
            };
            let (id, payload) = match self.protocol {
                Protocol::Raw => (None, bytes),
                Protocol::Confluent => match split_frame(bytes) {
                    Ok((id, payload)) => (Some(id), payload),
                    Err(e) => {
                        self.fail_row(row, format!("{e}: {}", preview_bytes(bytes)), &mut errors);
                        continue;
                    }
                },
            };
            let index = match (id, last) {
                (Some(id), Some((last_id, i))) if last_id == id => Some(i),
                (Some(id), _) => {
                    let i = self.load(id);
                    last = Some((id, i));
                    Some(i)
                }
                (None, _) => None,
            };
            let op = match (id, index) {
                (Some(id), Some(i)) => match self.programs.get(i) {
                    Program::Ready(op) => op,
                    Program::Unresolvable(why) | Program::RegistryFailed(why, _) => {
                        let message = format!("schema id {id}: {why}");
                        self.fail_row(row, message, &mut errors);
                        // A registry failure may be retried later in this batch.
                        last = None;
                        continue;
                    }
                    Program::RegistryUnavailable(why, _) => {
                        let message = format!("schema id {id}: {why}");
                        self.hold_row(row, message, &mut errors);
                        last = None;
                        continue;
                    }
                },
                _ => self.raw.as_ref().expect("raw protocol has a program"),
            };
            let mut cur = Cursor::new(payload);
            let result = op.run(&mut cur, &mut self.plan.columns);
            let failure = match result {
                Ok(()) if cur.remaining() == 0 => None,
                Ok(()) => Some(format!(
                    "{} bytes left after the datum (written with another schema?)",
                    cur.remaining()
                )),
                Err(e) if e.message == PAST_2_GIB => {
                    // This row and the rest go to a batch of their own.
                    for rest in row..messages.len() {
                        self.null_row(rest);
                        errors.push(RowError::batch_full(rest, PAST_2_GIB));
                    }
                    break;
                }
                Err(e) => Some(e.to_string()),
            };
            if let Some(why) = failure {
                let message = match id {
                    Some(id) => format!("schema id {id}: {why}"),
                    None => format!("raw datum: {why}"),
                };
                self.fail_row(row, message, &mut errors);
            }
        }
        let finished = self
            .plan
            .top
            .clone()
            .into_iter()
            .map(|c| self.plan.columns.finish(c))
            .collect::<Result<Vec<_>, _>>();
        let columns = match finished {
            Ok(columns) => columns,
            Err(e) => {
                // Leave no rows behind for the next batch.
                for c in self.plan.top.clone() {
                    self.plan.columns.truncate(c, 0);
                }
                return Err(finish_error(e));
            }
        };
        let batch = RecordBatch::try_new_with_options(
            self.plan.schema.clone(),
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
        other => PluginError::failed(format!("avro: {other}")),
    }
}
