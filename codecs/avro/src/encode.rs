//! The encoder: table rows into Avro datums, Confluent-framed or raw.
//!
//! The writer schema is, in this order:
//! 1. `schema` (inline JSON or an `.avsc` path), when given;
//! 2. generated from the table's Arrow schema (see [`crate::generate`]) when
//!    `auto_register` is set, or when there is no registry;
//! 3. else the registry's `schema_subject` (or the subject `topic` and
//!    `subject_strategy` name) at `schema_version`, as the decoder reads it.
//!
//! Its id in Confluent framing: with `auto_register`, the id the registry
//! gives when the schema is registered under the subject (the same id again
//! when it already is); otherwise a given or generated schema must already
//! be registered under the subject (`POST /subjects/{subject}` finds it),
//! and a schema read from the registry has its own id.
//!
//! Rows are written straight into one buffer per batch by the write program
//! ([`crate::write`]); a row that cannot be written (a null in a field that
//! is not nullable, a string that is not an enum symbol, a decimal that does
//! not fit) is a [`RowError`] naming the field, and its bytes are null.

use topictable_schema_registry::framing::write_header;
use topictable_schema_registry::{RegistryClient, Schema};
use topictable_sdk::arrow_array::{BinaryArray, RecordBatch};
use topictable_sdk::arrow_buffer::{NullBuffer, OffsetBuffer, ScalarBuffer};
use topictable_sdk::arrow_schema::{Field, SchemaRef};
use topictable_sdk::{Encoded, Encoder, PluginError, RowError, Side};

use crate::config::{AvroConfig, Protocol, parse_schema};
use crate::generate::{record_schema, value_schema};
use crate::schema::SchemaSet;
use crate::write_plan::{MatchOptions, RowPlan};

/// Encodes table rows as Avro datums of one writer schema.
pub struct AvroEncoder {
    input: SchemaRef,
    plan: RowPlan,
    /// The Confluent header (empty for raw datums).
    prefix: Vec<u8>,
    schema_id: Option<u32>,
    /// The writer schema, as registered (dependencies first).
    schema_texts: Vec<String>,
    /// The previous batch's output size, to size the next buffer.
    last_len: usize,
}

impl std::fmt::Debug for AvroEncoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AvroEncoder")
            .field("schema_id", &self.schema_id)
            .field("schema", &self.schema_texts.last())
            .finish()
    }
}

/// Where the writer schema came from.
enum Source {
    /// `schema`.
    Given(String),
    /// Generated from the table.
    Generated(String),
    /// A subject version in the registry: its texts and id.
    Registry(Vec<String>, u32),
}

impl AvroEncoder {
    /// An encoder for `side` writing rows of `schema` (the table's schema).
    pub fn new(config: &AvroConfig, side: Side, schema: SchemaRef) -> Result<Self, PluginError> {
        let registry = config.registry()?;
        let auto_register = config.auto_register;
        if auto_register && registry.is_none() {
            return Err(PluginError::config(
                "`auto_register` needs `schema_registry_url`",
            ));
        }
        let opts = config.plan_options(side)?;
        let matching = MatchOptions {
            separator: opts.separator.clone(),
            mapping: opts.mapping.clone(),
            mapping_only: opts.mapping_only,
            column: opts.column.clone(),
        };
        let source = match config.inline_schema()? {
            Some(text) => Source::Given(text),
            None if auto_register || registry.is_none() => {
                Source::Generated(generate(config, side, &schema, &matching)?)
            }
            None => {
                let registry = registry.as_ref().ok_or_else(|| {
                    PluginError::config("no schema and no registry to read one from")
                })?;
                registered_schema(config, side, registry)?
            }
        };
        let texts = match &source {
            Source::Given(t) | Source::Generated(t) => vec![t.clone()],
            Source::Registry(texts, _) => texts.clone(),
        };
        let what = match source {
            Source::Given(_) => "schema",
            Source::Generated(_) => "generated schema",
            Source::Registry(..) => "registry schema",
        };
        let (set, root) =
            parse_schema(&texts).map_err(|e| PluginError::config(format!("{what}: {e}")))?;
        let plan = RowPlan::new(&set, root, schema.fields(), &matching)
            .map_err(|e| PluginError::config(format!("{what}: {e}")))?;
        let schema_id = match (&source, registry.as_ref()) {
            (Source::Registry(_, id), _) => Some(*id),
            (_, Some(r)) if auto_register => {
                let subject = subject(config, side, &set, root)?;
                let text = texts.last().cloned().unwrap_or_default();
                Some(r.register(&subject, &Schema::avro(text)).map_err(|e| {
                    PluginError::config(format!("registering the {what} under {subject}: {e}"))
                })?)
            }
            (_, Some(r)) if config.protocol == Protocol::Confluent => {
                Some(lookup(config, side, r, &set, root, &texts, what)?)
            }
            _ => None,
        };
        let mut prefix = Vec::new();
        if config.protocol == Protocol::Confluent {
            let id = schema_id.ok_or_else(|| {
                PluginError::config("protocol `confluent` needs a schema id from the registry")
            })?;
            write_header(id, &mut prefix);
        }
        Ok(Self {
            input: schema,
            plan,
            prefix,
            schema_id,
            schema_texts: texts,
            last_len: 0,
        })
    }

    /// The writer schema's registry id (`None` for raw datums whose schema
    /// is not in a registry).
    pub fn schema_id(&self) -> Option<u32> {
        self.schema_id
    }

    /// The writer schema's JSON text (the last of its texts, after its references).
    pub fn schema_text(&self) -> &str {
        self.schema_texts.last().map(String::as_str).unwrap_or("")
    }
}

/// The subject the schema is registered under: `schema_subject`, or the
/// strategy's, with the schema's record name for the record strategies
/// when `record_name` is not given.
fn subject(
    config: &AvroConfig,
    side: Side,
    set: &SchemaSet,
    root: usize,
) -> Result<String, PluginError> {
    let record_name = config.record_name.clone().or_else(|| {
        set.name(set.nullable_inner(root).unwrap_or(root))
            .map(String::from)
    });
    config
        .registry
        .subject(side == Side::Key, record_name.as_deref())
        .map_err(PluginError::config)?
        .ok_or_else(|| {
            PluginError::config(
                "no subject to register the schema under or look it up in: give `schema_subject`, or `topic` (with `subject_strategy`)",
            )
        })
}

/// The schema registered under the configured subject, at `schema_version`.
fn registered_schema(
    config: &AvroConfig,
    side: Side,
    registry: &RegistryClient,
) -> Result<Source, PluginError> {
    let subject = config.subject(side)?.ok_or_else(|| {
        PluginError::config(
            "no schema: give `schema`, or `schema_subject` (or `topic`) to use the registered one, or set `auto_register = true` to register one generated from the table",
        )
    })?;
    let version = config.version()?;
    let (sv, resolved) = registry.subject_version(&subject, version).map_err(|e| {
        let hint = if e.is_not_found() {
            "; give `schema`, or set `auto_register = true` to register one generated from the table"
        } else {
            ""
        };
        PluginError::config(format!(
            "no schema given, and none found under subject {subject} version {version}: {e}{hint}"
        ))
    })?;
    let texts = resolved
        .texts_in_dependency_order()
        .into_iter()
        .map(String::from)
        .collect();
    Ok(Source::Registry(texts, sv.id))
}

/// The id of a schema that must already be registered under the subject.
fn lookup(
    config: &AvroConfig,
    side: Side,
    registry: &RegistryClient,
    set: &SchemaSet,
    root: usize,
    texts: &[String],
    what: &str,
) -> Result<u32, PluginError> {
    let subject = subject(config, side, set, root)?;
    let text = texts.last().cloned().unwrap_or_default();
    match registry.lookup(&subject, &Schema::avro(text)) {
        Ok(sv) => Ok(sv.id),
        Err(e) if e.is_not_found() => Err(PluginError::config(format!(
            "the {what} is not registered under subject {subject} ({e}); register it, or set `auto_register = true`"
        ))),
        Err(e) => Err(PluginError::config(format!(
            "looking up the {what} under subject {subject}: {e}"
        ))),
    }
}

/// The schema generated from the table: a record of every column (or of the
/// `mapping_only` ones, renamed by `mapping`), or the `column` alone when
/// `column` is given.
fn generate(
    config: &AvroConfig,
    side: Side,
    schema: &SchemaRef,
    matching: &MatchOptions,
) -> Result<String, PluginError> {
    let default_name = match side {
        Side::Key => "topictable.Key",
        Side::Value => "topictable.Row",
    };
    let record_name = config.record_name.as_deref().unwrap_or(default_name);
    if config.column.is_some() {
        let (_, field) = schema.fields().find(&matching.column).ok_or_else(|| {
            PluginError::config(format!(
                "`column` names `{}`, which the table does not have",
                matching.column
            ))
        })?;
        return value_schema(record_name, field)
            .map(|v| v.to_string())
            .map_err(|e| PluginError::config(format!("column `{}`: {e}", matching.column)));
    }
    // Column → field name: `mapping` is field → column.
    let field_of = |column: &str| {
        matching
            .mapping
            .iter()
            .find(|(_, c)| c.as_str() == column)
            .map(|(f, _)| f.clone())
    };
    if let Some((field, column)) = matching
        .mapping
        .iter()
        .find(|(_, c)| schema.fields().find(c).is_none())
    {
        return Err(PluginError::config(format!(
            "mapping maps field `{field}` to column `{column}`, which the table does not have"
        )));
    }
    let columns: Vec<(String, &Field)> = schema
        .fields()
        .iter()
        .filter_map(|f| match field_of(f.name()) {
            Some(name) => Some((name, f.as_ref())),
            None if matching.mapping_only => None,
            None => Some((f.name().clone(), f.as_ref())),
        })
        .collect();
    record_schema(record_name, &columns)
        .map(|v| v.to_string())
        .map_err(|e| PluginError::config(format!("generating a schema from the table: {e}")))
}

impl Encoder for AvroEncoder {
    fn encode(&mut self, batch: &RecordBatch) -> Result<Encoded, PluginError> {
        if batch.schema().fields().len() != self.input.fields().len() {
            return Err(PluginError::failed(format!(
                "the batch has {} columns, the encoder was created for {}",
                batch.num_columns(),
                self.input.fields().len()
            )));
        }
        let bound = self
            .plan
            .bind(batch.columns())
            .map_err(PluginError::failed)?;
        let rows = batch.num_rows();
        let mut data = Vec::with_capacity(self.last_len.max(rows * 16));
        let mut offsets: Vec<i32> = Vec::with_capacity(rows + 1);
        offsets.push(0);
        let mut valid: Vec<bool> = Vec::new();
        let mut errors = Vec::new();
        for row in 0..rows {
            let start = data.len();
            data.extend_from_slice(&self.prefix);
            let ok = match bound.write(row, &mut data) {
                Ok(has_bytes) => has_bytes,
                Err(e) => {
                    errors.push(RowError::new(row, e));
                    false
                }
            };
            if !ok {
                data.truncate(start);
                if valid.is_empty() {
                    valid.resize(row, true);
                }
            }
            if !valid.is_empty() || !ok {
                valid.push(ok);
            }
            let end = i32::try_from(data.len()).map_err(|_| {
                PluginError::failed(format!(
                    "a batch's Avro bytes exceed 2 GiB at row {row}; send smaller batches"
                ))
            })?;
            offsets.push(end);
        }
        self.last_len = data.len();
        let nulls = (!valid.is_empty()).then(|| NullBuffer::from(valid));
        let bytes = BinaryArray::try_new(
            OffsetBuffer::new(ScalarBuffer::from(offsets)),
            data.into(),
            nulls,
        )?;
        Ok(Encoded { bytes, errors })
    }
}
