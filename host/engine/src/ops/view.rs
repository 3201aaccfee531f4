//! `view`: select and rename columns.

use std::sync::Arc;

use arrow_array::RecordBatch;
use arrow_schema::{ArrowError, Field, Schema, SchemaRef};

use super::spec::{parse_pair, strings};
use super::{Input, Operator};
use crate::engine::NodeSpec;
use crate::error::{EngineError, Result};
use crate::keys::column_index;
use crate::table::handle::Table;
use crate::update::{RowKey, Update};
use crate::version::{Version, VersionRef};

impl Table {
    /// Selects and renames columns, e.g. `["Sym = Symbol", "Price"]`.
    ///
    /// Stateless: the result shares its input's row keys and, for a blink
    /// input, is itself blink.
    pub fn view<I, S>(&self, columns: I) -> Result<Table>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let specs = strings(columns);
        self.derive(|parent, _| {
            let mut indices = Vec::new();
            let mut fields: Vec<Field> = Vec::new();
            for s in &specs {
                let pair = parse_pair(s)?;
                let i = column_index(&parent.name, &parent.schema, &pair.input)?;
                if fields.iter().any(|f| f.name() == &pair.output) {
                    return Err(EngineError::DuplicateColumn {
                        table: parent.name.clone(),
                        operation: "view".to_string(),
                        column: pair.output,
                    });
                }
                indices.push(i);
                fields.push(parent.schema.field(i).clone().with_name(pair.output));
            }
            let schema = Arc::new(Schema::new(fields));
            let op = ViewOp {
                indices: indices.clone(),
                schema: schema.clone(),
                version: Arc::new(ViewVersion {
                    parent: parent.version.clone(),
                    indices,
                    schema: schema.clone(),
                }),
            };
            Ok(NodeSpec {
                name: format!("{}.view({})", parent.name, specs.join(", ")),
                schema,
                blink: parent.blink,
                add_only: parent.add_only,
                parents: vec![parent.id],
                op: Box::new(op),
            })
        })
    }
}

/// Projects `batch` onto `indices` under `schema`.
pub(crate) fn project(
    batch: &RecordBatch,
    indices: &[usize],
    schema: &SchemaRef,
) -> Result<RecordBatch, ArrowError> {
    let columns = indices.iter().map(|&i| batch.column(i).clone()).collect();
    RecordBatch::try_new_with_options(
        schema.clone(),
        columns,
        &arrow_array::RecordBatchOptions::new().with_row_count(Some(batch.num_rows())),
    )
}

struct ViewOp {
    indices: Vec<usize>,
    schema: SchemaRef,
    version: VersionRef,
}

impl Operator for ViewOp {
    fn process(&mut self, _cycle: u64, inputs: &[Input<'_>]) -> Result<Option<Update>> {
        let input = &inputs[0];
        self.version = Arc::new(ViewVersion {
            parent: input.version.clone(),
            indices: self.indices.clone(),
            schema: self.schema.clone(),
        });
        let Some(u) = input.update else {
            return Ok(None);
        };
        let p = |b: &RecordBatch| {
            project(b, &self.indices, &self.schema).map_err(|e| EngineError::arrow("view", e))
        };
        Ok(Some(Update {
            cycle: u.cycle,
            added: p(&u.added)?,
            added_keys: u.added_keys.clone(),
            removed: p(&u.removed)?,
            removed_keys: u.removed_keys.clone(),
            modified: p(&u.modified)?,
            modified_prev: p(&u.modified_prev)?,
            modified_keys: u.modified_keys.clone(),
        }))
    }

    fn version(&self) -> VersionRef {
        self.version.clone()
    }
}

struct ViewVersion {
    parent: VersionRef,
    indices: Vec<usize>,
    schema: SchemaRef,
}

impl Version for ViewVersion {
    fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    fn num_rows(&self) -> usize {
        self.parent.num_rows()
    }

    fn keys(&self) -> Vec<RowKey> {
        self.parent.keys()
    }

    fn rows(&self, keys: &[RowKey]) -> Result<RecordBatch, ArrowError> {
        project(&self.parent.rows(keys)?, &self.indices, &self.schema)
    }

    fn materialize(&self) -> Result<RecordBatch, ArrowError> {
        project(&self.parent.materialize()?, &self.indices, &self.schema)
    }
}
