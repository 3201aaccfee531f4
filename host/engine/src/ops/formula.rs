//! `update` and `select`: columns computed by formulas, incrementally.
//!
//! A formula list is compiled once into a [`FormulaPlan`]: each formula is
//! a DataFusion `PhysicalExpr` over the columns before it (the input's, the
//! row variables it reads, and earlier formulas' outputs). A cycle evaluates
//! the plan on the rows the input added or modified, never on the rest, and
//! stores the computed columns beside the input's rows: the output table
//! shares its input's row keys and its unchanged columns.
//!
//! Volatile formulas (`randomInt`, `now()`, ...) are drawn once, when a row
//! is added; a later modification of the row keeps the drawn value.

use std::sync::Arc;

use arrow_array::{ArrayRef, RecordBatch, RecordBatchOptions};
use arrow_schema::{ArrowError, Field, Schema, SchemaRef};

use super::spec::strings;
use super::{Input, Operator};
use crate::engine::NodeSpec;
use crate::error::{EngineError, Result};
use crate::expr::{self, CompiledExpr, RowVars};
use crate::rowlog::{RowLog, RowLogVersion};
use crate::table::chunks::{ChunkList, ChunkedVersion};
use crate::table::handle::{ParentInfo, Table};
use crate::update::{RowKey, RowKeys, Update};
use crate::version::{Version, VersionRef};

impl Table {
    /// Adds or replaces columns computed by formulas, keeping the others,
    /// e.g. `["Notional = Qty * Price", "X = i"]`.
    ///
    /// A formula is `Name = expression` in DataFusion's SQL expression
    /// syntax, checked against the schema here; later formulas see earlier
    /// ones' outputs. The row variables `i`/`ii` (row position, for append
    /// and blink inputs) and `k` (row key) can be read. Incremental: only
    /// added and modified rows are evaluated.
    pub fn update<I, S>(&self, formulas: I) -> Result<Table>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        self.formulas("update", Keep::All, strings(formulas))
    }

    /// Like [`Table::update`], but the result holds only the listed columns
    /// and formulas (a bare `Name` keeps an input column).
    pub fn select<I, S>(&self, formulas: I) -> Result<Table>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        self.formulas("select", Keep::Listed, strings(formulas))
    }

    fn formulas(&self, verb: &str, keep: Keep, specs: Vec<String>) -> Result<Table> {
        self.derive(|parent, _| {
            let name = format!("{}.{verb}({})", parent.name, specs.join(", "));
            let plan = Arc::new(FormulaPlan::compile(&parent, keep, &specs)?);
            let op = FormulaOp::new(name.clone(), plan.clone(), &parent)?;
            Ok(NodeSpec {
                name,
                schema: plan.schema.clone(),
                blink: parent.blink,
                add_only: parent.add_only,
                parents: vec![parent.id],
                op: Box::new(op),
            })
        })
    }
}

/// Which columns the output keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Keep {
    /// The input's columns and every formula's output (`update`).
    All,
    /// Only the formulas' outputs (`select`).
    Listed,
}

/// Where a column of the working set (or of the output) comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Origin {
    /// The input's column.
    Parent(usize),
    /// A row variable (`i`, `ii`, `k`): not kept between cycles.
    Var,
    /// A computed column kept in the store.
    Stored(usize),
}

/// What one formula does.
enum StepKind {
    /// Repeats a column that is already kept (`Sym = Symbol`).
    Alias(usize),
    /// Evaluates an expression into stored column `store`.
    Eval { expr: CompiledExpr, store: usize },
}

/// One formula, reading the working columns before it.
struct Step {
    /// Width of the working set it reads (its input schema's width).
    reads: usize,
    /// The working schema it was compiled against.
    input: SchemaRef,
    /// The working column it writes (replaced, or appended at `reads`).
    writes: usize,
    kind: StepKind,
}

/// A compiled formula list: steps, what is stored, and the output's layout.
struct FormulaPlan {
    /// The row variables read.
    vars: RowVars,
    steps: Vec<Step>,
    /// Schema of the stored (computed) columns.
    stored: SchemaRef,
    /// Output columns by origin (never `Var`).
    outputs: Vec<Origin>,
    /// The output schema.
    schema: SchemaRef,
    /// Whether any formula is volatile.
    volatile: bool,
}

impl FormulaPlan {
    /// Compiles `specs` against the input. The formulas are compiled twice:
    /// first with every row variable to learn which are read, then with only
    /// those, so that a cycle builds no variable it does not need.
    fn compile(parent: &ParentInfo, keep: Keep, specs: &[String]) -> Result<Self> {
        let all = RowVars::available(&parent.schema);
        let probe = Self::compile_with(parent, keep, specs, all.clone())?;
        let width = parent.schema.fields().len();
        let mut used = Vec::new();
        for step in &probe.steps {
            if let StepKind::Eval { expr, .. } = &step.kind {
                used.extend(expr.columns.iter().copied());
            }
        }
        let vars = all.keep_used(width, &used);
        let position = vars.names().iter().find(|n| **n != "k");
        if let Some(var) = position
            && !(parent.add_only || parent.blink)
        {
            return Err(EngineError::InvalidSpec {
                what: "formula".to_string(),
                spec: specs.join(", "),
                reason: format!(
                    "`{var}` is a row's position, defined for append and blink tables; \
                     `{}` changes rows in place (use `k`, the row key)",
                    parent.name
                ),
            });
        }
        Self::compile_with(parent, keep, specs, vars)
    }

    fn compile_with(
        parent: &ParentInfo,
        keep: Keep,
        specs: &[String],
        vars: RowVars,
    ) -> Result<Self> {
        let parent_width = parent.schema.fields().len();
        let mut fields: Vec<Field> = parent
            .schema
            .fields()
            .iter()
            .map(|f| f.as_ref().clone())
            .collect();
        fields.extend(vars.fields());
        let mut origins: Vec<Origin> = (0..parent_width).map(Origin::Parent).collect();
        origins.extend(vars.names().iter().map(|_| Origin::Var));
        let mut stored_fields: Vec<Field> = Vec::new();
        let mut steps = Vec::new();
        let mut listed: Vec<String> = Vec::new();
        let mut volatile = false;
        for spec in specs {
            let assignment = expr::parse_assignment(spec)?;
            let input = Arc::new(Schema::new(fields.clone()));
            let compiled = expr::compile("formula", spec, &assignment.expr, &input)?;
            let reads = fields.len();
            let writes = fields
                .iter()
                .position(|f| f.name() == &assignment.output)
                .unwrap_or(reads);
            let aliased = compiled
                .bare_column()
                .filter(|&c| origins[c] != Origin::Var);
            let (field, origin, kind) = match aliased {
                Some(c) => (
                    fields[c].clone().with_name(&assignment.output),
                    origins[c],
                    StepKind::Alias(c),
                ),
                None => {
                    let field = Field::new(
                        &assignment.output,
                        compiled.data_type.clone(),
                        compiled.nullable,
                    );
                    let store = stored_fields.len();
                    stored_fields.push(field.clone());
                    volatile |= compiled.volatile;
                    (
                        field,
                        Origin::Stored(store),
                        StepKind::Eval {
                            expr: compiled,
                            store,
                        },
                    )
                }
            };
            if writes == reads {
                fields.push(field);
                origins.push(origin);
            } else {
                fields[writes] = field;
                origins[writes] = origin;
            }
            if !listed.contains(&assignment.output) {
                listed.push(assignment.output.clone());
            }
            steps.push(Step {
                reads,
                input,
                writes,
                kind,
            });
        }
        let keeps = |i: usize| match keep {
            Keep::All => origins[i] != Origin::Var,
            Keep::Listed => listed.contains(fields[i].name()),
        };
        let mut out_fields = Vec::new();
        let mut outputs = Vec::new();
        let mut order: Vec<usize> = (0..fields.len()).filter(|&i| keeps(i)).collect();
        if keep == Keep::Listed {
            order.sort_by_key(|&i| listed.iter().position(|n| n == fields[i].name()));
        }
        for i in order {
            out_fields.push(fields[i].clone());
            outputs.push(origins[i]);
        }
        Ok(FormulaPlan {
            vars,
            steps,
            stored: Arc::new(Schema::new(stored_fields)),
            outputs,
            schema: Arc::new(Schema::new(out_fields)),
            volatile,
        })
    }

    /// The stored columns for `parent_rows` (with keys `keys`, the first at
    /// position `first`). With `kept` (the rows' stored values from before),
    /// volatile formulas keep their values instead of drawing new ones.
    fn evaluate(
        &self,
        parent_rows: &RecordBatch,
        first: u64,
        keys: &RowKeys,
        kept: Option<&RecordBatch>,
    ) -> std::result::Result<RecordBatch, ArrowError> {
        let rows = parent_rows.num_rows();
        let mut columns: Vec<ArrayRef> = parent_rows.columns().to_vec();
        columns.extend(self.vars.arrays(first, keys)?);
        let mut stored: Vec<ArrayRef> = Vec::with_capacity(self.stored.fields().len());
        for step in &self.steps {
            let value = match &step.kind {
                StepKind::Alias(c) => columns[*c].clone(),
                StepKind::Eval { expr, store } => {
                    let value = match kept {
                        Some(kept) if expr.volatile => kept.column(*store).clone(),
                        _ => {
                            let input = RecordBatch::try_new_with_options(
                                step.input.clone(),
                                columns[..step.reads].to_vec(),
                                &RecordBatchOptions::new().with_row_count(Some(rows)),
                            )?;
                            expr.evaluate(&input)?
                        }
                    };
                    stored.push(value.clone());
                    value
                }
            };
            if step.writes == step.reads {
                columns.push(value);
            } else {
                columns[step.writes] = value;
            }
        }
        RecordBatch::try_new_with_options(
            self.stored.clone(),
            stored,
            &RecordBatchOptions::new().with_row_count(Some(rows)),
        )
    }

    /// Output rows from the input's rows and their stored columns.
    fn assemble(
        &self,
        parent_rows: &RecordBatch,
        stored: &RecordBatch,
    ) -> std::result::Result<RecordBatch, ArrowError> {
        self.assemble_sized(parent_rows, stored, parent_rows.num_rows())
    }
}

/// A run of rows whose input keys and arrival numbers both count up by one.
#[derive(Debug, Clone, Copy)]
struct Run {
    key: RowKey,
    arrival: u64,
    len: u64,
}

/// Computed columns of an append or blink input: rows leave only from the
/// front and arrive at the back with rising keys, so they sit in arrival
/// order in chunks, and runs map input keys to arrival numbers.
struct OrderedStore {
    chunks: ChunkList,
    runs: imbl::Vector<Run>,
    next_arrival: u64,
}

/// Computed columns of any other input: one slot per input row key.
struct KeyedStore {
    log: RowLog,
    slots: imbl::HashMap<RowKey, u32>,
    free: Vec<u32>,
    next_slot: u32,
}

enum Store {
    Ordered(OrderedStore),
    Keyed(Box<KeyedStore>),
}

/// The published computed columns of one cycle.
#[derive(Clone)]
enum StoredVersion {
    Ordered {
        chunks: Arc<ChunkedVersion>,
        runs: imbl::Vector<Run>,
    },
    Keyed {
        log: RowLogVersion,
        slots: imbl::HashMap<RowKey, u32>,
    },
}

impl StoredVersion {
    fn rows(&self, keys: &[RowKey]) -> std::result::Result<RecordBatch, ArrowError> {
        let missing =
            |k: RowKey| ArrowError::InvalidArgumentError(format!("row key {k} not present"));
        match self {
            StoredVersion::Ordered { chunks, runs } => {
                let arrivals = keys
                    .iter()
                    .map(|&k| {
                        let at = binary_search_runs(runs, k).ok_or_else(|| missing(k))?;
                        let run = runs[at];
                        Ok(run.arrival + (k - run.key))
                    })
                    .collect::<std::result::Result<Vec<_>, ArrowError>>()?;
                chunks.rows(&arrivals)
            }
            StoredVersion::Keyed { log, slots } => {
                let slots = keys
                    .iter()
                    .map(|k| {
                        slots
                            .get(k)
                            .map(|&s| s as RowKey)
                            .ok_or_else(|| missing(*k))
                    })
                    .collect::<std::result::Result<Vec<_>, ArrowError>>()?;
                log.rows(&slots)
            }
        }
    }

    /// All stored rows in the order of `keys` (the input's, ascending).
    fn materialize(
        &self,
        keys: impl FnOnce() -> Vec<RowKey>,
    ) -> std::result::Result<RecordBatch, ArrowError> {
        match self {
            StoredVersion::Ordered { chunks, .. } => chunks.materialize(),
            StoredVersion::Keyed { .. } => self.rows(&keys()),
        }
    }
}

/// The run holding input key `k`.
fn binary_search_runs(runs: &imbl::Vector<Run>, k: RowKey) -> Option<usize> {
    let (mut lo, mut hi) = (0, runs.len());
    while lo < hi {
        let mid = (lo + hi) / 2;
        let r = runs[mid];
        if k < r.key {
            hi = mid;
        } else if k >= r.key + r.len {
            lo = mid + 1;
        } else {
            return Some(mid);
        }
    }
    None
}

impl OrderedStore {
    /// Removes the `n` oldest rows; returns their stored columns.
    fn pop_front(&mut self, n: usize) -> std::result::Result<RecordBatch, ArrowError> {
        let mut left = n as u64;
        while left > 0 {
            let Some(front) = self.runs.front_mut() else {
                break;
            };
            let take = left.min(front.len);
            if take == front.len {
                self.runs.pop_front();
            } else {
                front.key += take;
                front.arrival += take;
                front.len -= take;
            }
            left -= take;
        }
        Ok(self.chunks.pop_front(n)?.1)
    }

    /// Appends rows with input keys `keys` (rising, above every held key).
    fn push(&mut self, keys: &RowKeys, stored: RecordBatch) -> std::result::Result<(), ArrowError> {
        let first = self.next_arrival;
        // Whole runs of consecutive keys at a time (an append source gives
        // one per cycle, as a range): the persistent vector is touched once
        // per run.
        match keys.as_range() {
            Some(range) => self.push_run(range.start, first, range.end - range.start),
            None => {
                let mut i = 0;
                while i < keys.len() {
                    let start = i;
                    i += 1;
                    while i < keys.len() && keys[i] == keys[i - 1] + 1 {
                        i += 1;
                    }
                    self.push_run(keys[start], first + start as u64, (i - start) as u64);
                }
            }
        }
        self.next_arrival += keys.len() as u64;
        self.chunks.append(first, &[stored])?;
        Ok(())
    }

    /// Records that input keys `key..key + len` arrived as `arrival..`.
    fn push_run(&mut self, key: RowKey, arrival: u64, len: u64) {
        if len == 0 {
            return;
        }
        match self.runs.back_mut() {
            Some(r) if r.key + r.len == key && r.arrival + r.len == arrival => r.len += len,
            _ => self.runs.push_back(Run { key, arrival, len }),
        }
    }
}

impl KeyedStore {
    fn slot_for(&mut self, key: RowKey) -> u32 {
        let slot = self.free.pop().unwrap_or_else(|| {
            self.next_slot += 1;
            self.next_slot - 1
        });
        self.slots.insert(key, slot);
        slot
    }
}

struct FormulaOp {
    name: String,
    plan: Arc<FormulaPlan>,
    store: Store,
    version: VersionRef,
}

impl FormulaOp {
    /// The operator, with the rows the input already holds computed.
    fn new(name: String, plan: Arc<FormulaPlan>, parent: &ParentInfo) -> Result<Self> {
        let store = if parent.add_only || parent.blink {
            Store::Ordered(OrderedStore {
                chunks: ChunkList::new(plan.stored.clone()),
                runs: imbl::Vector::new(),
                next_arrival: 0,
            })
        } else {
            Store::Keyed(Box::new(KeyedStore {
                log: RowLog::new(plan.stored.clone()),
                slots: imbl::HashMap::new(),
                free: Vec::new(),
                next_slot: 0,
            }))
        };
        let mut op = FormulaOp {
            version: parent.version.clone(),
            name,
            plan,
            store,
        };
        let rows = parent
            .version
            .materialize()
            .map_err(|e| EngineError::arrow(&op.name, e))?;
        let keys = RowKeys::from(parent.version.keys());
        op.add(&rows, &keys)
            .map_err(|e| EngineError::arrow(&op.name, e))?;
        op.publish(parent.version.clone());
        Ok(op)
    }

    /// Computes and stores added rows; returns their stored columns.
    fn add(
        &mut self,
        rows: &RecordBatch,
        keys: &RowKeys,
    ) -> std::result::Result<RecordBatch, ArrowError> {
        match &mut self.store {
            Store::Ordered(s) => {
                let stored = self
                    .plan
                    .evaluate(rows, s.chunks.len() as u64, keys, None)?;
                s.push(keys, stored.clone())?;
                Ok(stored)
            }
            Store::Keyed(s) => {
                let stored = self.plan.evaluate(rows, 0, keys, None)?;
                let slots: Vec<u32> = keys.iter_keys().map(|k| s.slot_for(k)).collect();
                s.log.set(&slots, stored.clone())?;
                Ok(stored)
            }
        }
    }

    fn publish(&mut self, parent: VersionRef) {
        let stored = match &self.store {
            Store::Ordered(s) => StoredVersion::Ordered {
                chunks: Arc::new(s.chunks.version()),
                runs: s.runs.clone(),
            },
            Store::Keyed(s) => StoredVersion::Keyed {
                log: s.log.version(),
                slots: s.slots.clone(),
            },
        };
        self.version = Arc::new(FormulaVersion {
            parent,
            plan: self.plan.clone(),
            stored,
        });
    }

    fn apply(&mut self, u: &Update) -> std::result::Result<Update, ArrowError> {
        let plan = self.plan.clone();
        let mut out = Update::empty(&plan.schema, u.cycle);
        match &mut self.store {
            Store::Ordered(s) => {
                if !u.modified_keys.is_empty() {
                    return Err(ArrowError::ComputeError(
                        "an append or blink input modified rows".to_string(),
                    ));
                }
                let removed = s.pop_front(u.removed_keys.len())?;
                out.removed = plan.assemble(&u.removed, &removed)?;
            }
            Store::Keyed(s) => {
                let before = s.log.version();
                let slots_of = |slots: &imbl::HashMap<RowKey, u32>, keys: &[RowKey]| {
                    keys.iter()
                        .map(|k| {
                            slots.get(k).copied().ok_or_else(|| {
                                ArrowError::ComputeError(format!("row key {k} was never added"))
                            })
                        })
                        .collect::<std::result::Result<Vec<u32>, ArrowError>>()
                };
                let removed_slots = slots_of(&s.slots, &u.removed_keys)?;
                let keys_of =
                    |slots: &[u32]| slots.iter().map(|&s| s as RowKey).collect::<Vec<_>>();
                let removed = before.rows(&keys_of(&removed_slots))?;
                out.removed = plan.assemble(&u.removed, &removed)?;
                s.log.remove(&removed_slots)?;
                for k in &u.removed_keys {
                    s.slots.remove(k);
                }
                s.free.extend(removed_slots);
                if !u.modified_keys.is_empty() {
                    let slots = slots_of(&s.slots, &u.modified_keys)?;
                    let prev = before.rows(&keys_of(&slots))?;
                    let kept = plan.volatile.then_some(&prev);
                    let now = plan.evaluate(&u.modified, 0, &u.modified_keys, kept)?;
                    s.log.set(&slots, now.clone())?;
                    out.modified = plan.assemble(&u.modified, &now)?;
                    out.modified_prev = plan.assemble(&u.modified_prev, &prev)?;
                    out.modified_keys = u.modified_keys.clone();
                }
            }
        }
        out.removed_keys = u.removed_keys.clone();
        let added = self.add(&u.added, &u.added_keys)?;
        out.added = plan.assemble(&u.added, &added)?;
        out.added_keys = u.added_keys.clone();
        Ok(out)
    }
}

impl Operator for FormulaOp {
    fn process(&mut self, _cycle: u64, inputs: &[Input<'_>]) -> Result<Option<Update>> {
        let input = &inputs[0];
        let out = match input.update {
            Some(u) => Some(
                self.apply(u)
                    .map_err(|e| EngineError::arrow(&self.name, e))?,
            ),
            None => None,
        };
        self.publish(input.version.clone());
        Ok(out)
    }

    fn version(&self) -> VersionRef {
        self.version.clone()
    }
}

/// One cycle of a formula table: the input's version plus the computed columns.
struct FormulaVersion {
    parent: VersionRef,
    plan: Arc<FormulaPlan>,
    stored: StoredVersion,
}

impl Version for FormulaVersion {
    fn schema(&self) -> SchemaRef {
        self.plan.schema.clone()
    }

    fn num_rows(&self) -> usize {
        self.parent.num_rows()
    }

    fn keys(&self) -> Vec<RowKey> {
        self.parent.keys()
    }

    fn rows(&self, keys: &[RowKey]) -> std::result::Result<RecordBatch, ArrowError> {
        let parent = if self
            .plan
            .outputs
            .iter()
            .any(|o| matches!(o, Origin::Parent(_)))
        {
            self.parent.rows(keys)?
        } else {
            RecordBatch::new_empty(self.parent.schema())
        };
        let stored = self.stored.rows(keys)?;
        self.plan.assemble_sized(&parent, &stored, keys.len())
    }

    fn materialize(&self) -> std::result::Result<RecordBatch, ArrowError> {
        let parent = self.parent.materialize()?;
        let stored = self.stored.materialize(|| self.parent.keys())?;
        self.plan.assemble(&parent, &stored)
    }
}

impl FormulaPlan {
    /// [`Self::assemble`] for `rows` rows, where the input's rows may have
    /// been skipped (no input column is output).
    fn assemble_sized(
        &self,
        parent_rows: &RecordBatch,
        stored: &RecordBatch,
        rows: usize,
    ) -> std::result::Result<RecordBatch, ArrowError> {
        let columns = self
            .outputs
            .iter()
            .map(|o| match *o {
                Origin::Parent(c) => parent_rows.column(c).clone(),
                Origin::Stored(s) => stored.column(s).clone(),
                Origin::Var => unreachable!("row variables are never output"),
            })
            .collect();
        RecordBatch::try_new_with_options(
            self.schema.clone(),
            columns,
            &RecordBatchOptions::new().with_row_count(Some(rows)),
        )
    }
}
