//! `agg_by`: grouped aggregations, maintained incrementally.
//!
//! Null handling: Sum, WSum, Avg, Min and Max skip nulls (and a group whose
//! values are all null gets a null result); Count counts rows, nulls
//! included, like SQL `COUNT(*)`; First and Last take the value of the
//! first/last row whatever it is, null included.

use std::collections::BTreeSet;
use std::sync::Arc;

use arrow_array::{ArrayRef, RecordBatch};
use arrow_schema::{Field, Schema, SchemaRef};

use super::aggregators::{
    Accumulator, Count, FirstLast, MinMax, Numeric, NumericKind, is_float, is_int,
};
use super::spec::{parse_pair, strings};
use super::{Input, Operator, on_input_update};
use crate::engine::NodeSpec;
use crate::error::{EngineError, Result};
use crate::keys::{Gid, GroupMap, KeyCodec, column_index};
use crate::rowlog::KeyedRows;
use crate::table::handle::{ParentInfo, Table};
use crate::update::{RowKey, Update};
use crate::version::VersionRef;

/// The aggregation functions of [`Table::agg_by`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AggKind {
    /// Sum of non-null values.
    Sum,
    /// Sum of value × weight over rows where both are non-null.
    WSum,
    /// Number of rows, nulls included.
    Count,
    /// Smallest non-null value.
    Min,
    /// Largest non-null value.
    Max,
    /// Mean of non-null values.
    Avg,
    /// Value of the first row.
    First,
    /// Value of the last row.
    Last,
}

/// One aggregation of an [`agg_by`](Table::agg_by): a function, a column spec and maybe a weight.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Aggregation {
    kind: AggKind,
    spec: String,
    weight: Option<String>,
}

impl Aggregation {
    /// The aggregation function.
    pub fn kind(&self) -> AggKind {
        self.kind
    }
}

fn agg(kind: AggKind, spec: &str) -> Aggregation {
    Aggregation {
        kind,
        spec: spec.to_string(),
        weight: None,
    }
}

/// `Sum("Out = In")`: sum of non-null values.
///
/// The output is Int64 for signed integers, UInt64 for unsigned integers and
/// Float64 for floats. Integer sums are exact (values above `i64::MAX` in a
/// UInt64 column included) and wrap modulo 2^64 only if the total itself
/// does not fit the output type, like Deephaven's `long` sums.
pub fn sum(spec: &str) -> Aggregation {
    agg(AggKind::Sum, spec)
}

/// `WSum(weight, "Out = In")`: sum of `In * weight` over rows where both are non-null.
///
/// The output is UInt64 if both columns are unsigned integers, Int64 if both
/// are integers otherwise (wrapping modulo 2^64 if the exact total does not
/// fit), and Float64 if either is a float.
pub fn wsum(weight: &str, spec: &str) -> Aggregation {
    Aggregation {
        weight: Some(weight.to_string()),
        ..agg(AggKind::WSum, spec)
    }
}

/// `Count("Out")`: number of rows in the group, nulls included.
pub fn count(output: &str) -> Aggregation {
    agg(AggKind::Count, output)
}

/// `Min("Out = In")`: smallest non-null value.
pub fn min(spec: &str) -> Aggregation {
    agg(AggKind::Min, spec)
}

/// `Max("Out = In")`: largest non-null value.
pub fn max(spec: &str) -> Aggregation {
    agg(AggKind::Max, spec)
}

/// `Avg("Out = In")`: mean of non-null values, as Float64.
pub fn avg(spec: &str) -> Aggregation {
    agg(AggKind::Avg, spec)
}

/// `First("Out = In")`: value of the group's first row.
pub fn first(spec: &str) -> Aggregation {
    agg(AggKind::First, spec)
}

/// `Last("Out = In")`: value of the group's last row.
pub fn last(spec: &str) -> Aggregation {
    agg(AggKind::Last, spec)
}

/// Position of numeric column `column`, whether it is an integer and whether it is unsigned.
fn numeric_column(
    parent: &ParentInfo,
    column: &str,
    operation: &str,
) -> Result<(usize, bool, bool)> {
    let c = column_index(&parent.name, &parent.schema, column)?;
    let dt = parent.schema.field(c).data_type();
    if is_int(dt) {
        Ok((c, true, dt.is_unsigned_integer()))
    } else if is_float(dt) {
        Ok((c, false, false))
    } else {
        Err(EngineError::TypeMismatch {
            table: parent.name.clone(),
            column: column.to_string(),
            operation: operation.to_string(),
            expected: "a numeric (integer or float) column".to_string(),
            actual: dt.clone(),
        })
    }
}

/// Validates one aggregation against the input and builds its accumulator.
fn build_acc(
    parent: &ParentInfo,
    a: &Aggregation,
    accumulate: bool,
) -> Result<Box<dyn Accumulator>> {
    let opname = format!("{:?}(`{}`)", a.kind, a.spec);
    if a.kind == AggKind::Count {
        let name = a.spec.trim();
        if name.is_empty() || name.contains(char::is_whitespace) || name.contains('=') {
            return Err(EngineError::InvalidSpec {
                what: "Count output name".to_string(),
                spec: a.spec.clone(),
                reason: "expected a bare column name".to_string(),
            });
        }
        return Ok(Box::new(Count::new(name.to_string())));
    }
    let pair = parse_pair(&a.spec)?;
    let arrow = |e| EngineError::arrow(&parent.name, e);
    Ok(match a.kind {
        AggKind::Sum | AggKind::Avg => {
            let (c, int, unsigned) = numeric_column(parent, &pair.input, &opname)?;
            let kind = if a.kind == AggKind::Sum {
                NumericKind::Sum
            } else {
                NumericKind::Avg
            };
            Box::new(Numeric::new(pair.output, kind, c, None, int, unsigned))
        }
        AggKind::WSum => {
            let (c, int_v, uns_v) = numeric_column(parent, &pair.input, &opname)?;
            let weight = a.weight.as_deref().unwrap_or_default();
            let (w, int_w, uns_w) = numeric_column(parent, weight, &opname)?;
            Box::new(Numeric::new(
                pair.output,
                NumericKind::Sum,
                c,
                Some(w),
                int_v && int_w,
                uns_v && uns_w,
            ))
        }
        AggKind::Min | AggKind::Max | AggKind::First | AggKind::Last => {
            let c = column_index(&parent.name, &parent.schema, &pair.input)?;
            let dt = parent.schema.field(c).data_type().clone();
            if !arrow_row::RowConverter::supports_fields(&[arrow_row::SortField::new(dt.clone())]) {
                return Err(EngineError::TypeMismatch {
                    table: parent.name.clone(),
                    column: pair.input,
                    operation: opname,
                    expected: "an orderable column".to_string(),
                    actual: dt,
                });
            }
            match a.kind {
                AggKind::Min => {
                    Box::new(MinMax::new(pair.output, c, dt, false, accumulate).map_err(arrow)?)
                }
                AggKind::Max => {
                    Box::new(MinMax::new(pair.output, c, dt, true, accumulate).map_err(arrow)?)
                }
                AggKind::First => {
                    Box::new(FirstLast::new(pair.output, c, dt, false).map_err(arrow)?)
                }
                _ => Box::new(FirstLast::new(pair.output, c, dt, true).map_err(arrow)?),
            }
        }
        // Returned early above; kept so the match stays exhaustive.
        AggKind::Count => Box::new(Count::new(pair.output)),
    })
}

impl Table {
    /// Groups rows by `keys` (may be empty: one row) and computes `aggregations`.
    ///
    /// Over a blink input the result accumulates every row ever seen
    /// (Deephaven's blink rule); otherwise it reflects the rows present.
    /// Column names and types are checked here, never at cycle time.
    ///
    /// Nulls and float specials:
    ///
    /// - Sum, WSum, Avg, Min and Max skip nulls (WSum skips a row whose value
    ///   or weight is null), so a group whose values are **all null** gets a
    ///   **null** result for each of them.
    /// - Count counts rows, nulls included (SQL `COUNT(*)`): an all-null
    ///   group of n rows counts n.
    /// - First and Last give the first/last row's value whatever it is, so an
    ///   all-null group gives null.
    /// - Float Sum/WSum/Avg follow IEEE: any NaN, or both +∞ and −∞, makes the
    ///   result NaN; otherwise any ±∞ makes it ±∞. They recover exactly when
    ///   those rows are removed.
    /// - Min/Max order floats with NaN above +∞ (so one NaN makes Max NaN but
    ///   leaves Min alone), and order strings by their UTF-8 bytes.
    /// - Integer Sum/WSum are exact and output Int64 (UInt64 when every input
    ///   is unsigned), wrapping modulo 2^64 only if the total does not fit.
    pub fn agg_by<A, K, S>(&self, aggregations: A, keys: K) -> Result<Table>
    where
        A: IntoIterator<Item = Aggregation>,
        K: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let aggs: Vec<Aggregation> = aggregations.into_iter().collect();
        let keys = strings(keys);
        self.derive(|parent, _| {
            let codec = KeyCodec::new(&parent.name, &parent.schema, &keys, "agg_by")?;
            let accumulate = parent.blink || parent.add_only;
            let accs = aggs
                .iter()
                .map(|a| build_acc(&parent, a, accumulate))
                .collect::<Result<Vec<_>>>()?;
            let mut fields: Vec<Field> = codec
                .cols
                .iter()
                .map(|&c| parent.schema.field(c).clone())
                .collect();
            for acc in &accs {
                let f = acc.field();
                if fields.iter().any(|x| x.name() == f.name()) {
                    return Err(EngineError::DuplicateColumn {
                        table: parent.name.clone(),
                        operation: "agg_by".to_string(),
                        column: f.name().clone(),
                    });
                }
                fields.push(f);
            }
            let schema = Arc::new(Schema::new(fields));
            let specs: Vec<String> = aggs
                .iter()
                .map(|a| format!("{:?}({})", a.kind, a.spec))
                .collect();
            let name = format!(
                "{}.agg_by([{}], [{}])",
                parent.name,
                specs.join(", "),
                keys.join(", ")
            );
            let positional = !accumulate && accs.iter().any(|a| a.positional().is_some());
            let mut op = AggOp {
                name: name.clone(),
                accumulate,
                positional,
                codec,
                groups: GroupMap::new(),
                accs,
                rows: Vec::new(),
                present: Vec::new(),
                sets: Vec::new(),
                touched_flag: Vec::new(),
                schema: schema.clone(),
                result: KeyedRows::new(schema.clone()),
            };
            if op.codec.is_empty() {
                op.groups.intern(&[]);
            }
            op.init(&parent.version)?;
            Ok(NodeSpec {
                name,
                schema,
                blink: false,
                add_only: false,
                parents: vec![parent.id],
                op: Box::new(op),
            })
        })
    }
}

struct AggOp {
    name: String,
    /// Input only adds rows (blink or append-only): removals are never applied.
    accumulate: bool,
    /// Needs per-group row sets for First/Last under removal.
    positional: bool,
    codec: KeyCodec,
    groups: GroupMap,
    accs: Vec<Box<dyn Accumulator>>,
    /// Rows per group.
    rows: Vec<i64>,
    /// Whether the group currently has an output row.
    present: Vec<bool>,
    sets: Vec<BTreeSet<RowKey>>,
    /// Scratch: groups touched this cycle (reset after each use).
    touched_flag: Vec<bool>,
    schema: SchemaRef,
    /// One row per group, by the group's id.
    result: KeyedRows,
}

impl AggOp {
    fn init(&mut self, parent: &VersionRef) -> Result<()> {
        let keys = parent.keys();
        let rows = parent
            .rows(&keys)
            .map_err(|e| EngineError::arrow(&self.name, e))?;
        let mut u = Update::empty(&parent.schema(), 0);
        u.added = rows;
        u.added_keys = keys.into();
        self.apply(&u, parent)?;
        Ok(())
    }

    fn resize(&mut self) {
        let n = self.groups.len();
        self.rows.resize(n, 0);
        self.present.resize(n, false);
        self.touched_flag.resize(n, false);
        if self.positional {
            self.sets.resize_with(n, BTreeSet::new);
        }
        for a in &mut self.accs {
            a.resize(n);
        }
    }

    fn touch(&mut self, gids: &[Gid], touched: &mut Vec<Gid>) {
        for &g in gids {
            let f = &mut self.touched_flag[g as usize];
            if !*f {
                *f = true;
                touched.push(g);
            }
        }
    }

    /// Adds or removes a batch's rows in every accumulator.
    fn fold(
        &mut self,
        batch: &RecordBatch,
        keys: &[RowKey],
        gids: &[Gid],
        sign: i64,
    ) -> Result<()> {
        for &g in gids {
            self.rows[g as usize] += sign;
        }
        for a in &mut self.accs {
            if a.positional().is_none() || self.accumulate {
                a.update(batch, gids, sign)
                    .map_err(|e| EngineError::arrow(&self.name, e))?;
            }
        }
        if self.positional {
            for (&k, &g) in keys.iter().zip(gids) {
                if sign > 0 {
                    self.sets[g as usize].insert(k);
                } else {
                    self.sets[g as usize].remove(&k);
                }
            }
        }
        Ok(())
    }

    fn apply(&mut self, u: &Update, parent: &VersionRef) -> Result<Update> {
        let err = |name: &str, e| EngineError::arrow(name, e);
        let mut touched = Vec::new();
        let added = self
            .groups
            .intern_batch(&self.codec, &u.added)
            .map_err(|e| err(&self.name, e))?;
        if self.accumulate {
            // Blink and append-only tables never modify rows (a blink row is
            // announced once, as added); the property tests rely on this check.
            debug_assert!(u.modified_keys.is_empty(), "modification in add-only input");
            self.resize();
            self.touch(&added, &mut touched);
            self.fold(&u.added, &u.added_keys, &added, 1)?;
        } else {
            let known = |g: Vec<Option<Gid>>| g.into_iter().collect::<Option<Vec<Gid>>>();
            let lost = || EngineError::Arrow {
                table: self.name.clone(),
                message: "removed row has a key never added".to_string(),
            };
            let removed = known(
                self.groups
                    .lookup_batch(&self.codec, &u.removed)
                    .map_err(|e| err(&self.name, e))?,
            )
            .ok_or_else(lost)?;
            let prev = known(
                self.groups
                    .lookup_batch(&self.codec, &u.modified_prev)
                    .map_err(|e| err(&self.name, e))?,
            )
            .ok_or_else(lost)?;
            let new = self
                .groups
                .intern_batch(&self.codec, &u.modified)
                .map_err(|e| err(&self.name, e))?;
            self.resize();
            for g in [&removed, &prev, &new, &added] {
                self.touch(g, &mut touched);
            }
            self.fold(&u.removed, &u.removed_keys, &removed, -1)?;
            self.fold(&u.modified_prev, &u.modified_keys, &prev, -1)?;
            self.fold(&u.modified, &u.modified_keys, &new, 1)?;
            self.fold(&u.added, &u.added_keys, &added, 1)?;
            if self.positional {
                self.refresh_positional(&touched, parent)?;
            }
        }
        if self.codec.is_empty() && !self.present[0] && !self.touched_flag[0] {
            self.touched_flag[0] = true;
            touched.push(0);
        }
        for &g in &touched {
            self.touched_flag[g as usize] = false;
        }
        self.emit(u.cycle, &touched)
    }

    /// Recomputes First/Last of the touched groups from their row sets.
    fn refresh_positional(&mut self, touched: &[Gid], parent: &VersionRef) -> Result<()> {
        for last in [false, true] {
            if !self.accs.iter().any(|a| a.positional() == Some(last)) {
                continue;
            }
            let (gids, keys): (Vec<Gid>, Vec<RowKey>) = touched
                .iter()
                .filter_map(|&g| {
                    let s = &self.sets[g as usize];
                    let k = if last { s.last() } else { s.first() };
                    k.map(|&k| (g, k))
                })
                .unzip();
            let rows = parent
                .rows(&keys)
                .map_err(|e| EngineError::arrow(&self.name, e))?;
            for a in self
                .accs
                .iter_mut()
                .filter(|a| a.positional() == Some(last))
            {
                a.set_rows(&rows, &gids)
                    .map_err(|e| EngineError::arrow(&self.name, e))?;
            }
        }
        Ok(())
    }

    /// Output rows for `gids`: decoded keys then each aggregation.
    fn output(&self, gids: &[Gid]) -> Result<RecordBatch> {
        let err = |e| EngineError::arrow(&self.name, e);
        let mut cols: Vec<ArrayRef> = if self.codec.is_empty() {
            Vec::new()
        } else {
            self.codec
                .decode(gids.iter().map(|&g| self.groups.key(g)))
                .map_err(err)?
        };
        for a in &self.accs {
            cols.push(a.output(gids).map_err(err)?);
        }
        RecordBatch::try_new_with_options(
            self.schema.clone(),
            cols,
            &arrow_array::RecordBatchOptions::new().with_row_count(Some(gids.len())),
        )
        .map_err(err)
    }

    fn emit(&mut self, cycle: u64, touched: &[Gid]) -> Result<Update> {
        let (mut add_g, mut mod_g, mut rem_g) = (Vec::new(), Vec::new(), Vec::new());
        let zero_key = self.codec.is_empty();
        for &g in touched {
            let now = zero_key || self.rows[g as usize] > 0;
            match (self.present[g as usize], now) {
                (false, true) => add_g.push(g),
                (true, true) => mod_g.push(g),
                (true, false) => rem_g.push(g),
                (false, false) => {}
            }
            self.present[g as usize] = now;
        }
        let added = self.output(&add_g)?;
        let modified = self.output(&mod_g)?;
        self.result
            .commit(cycle, (&add_g, added), (&mod_g, modified), &rem_g)
            .map_err(|e| EngineError::arrow(&self.name, e))
    }
}

impl Operator for AggOp {
    fn process(&mut self, _cycle: u64, inputs: &[Input<'_>]) -> Result<Option<Update>> {
        on_input_update(inputs, |u, parent| self.apply(u, parent))
    }

    fn version(&self) -> VersionRef {
        self.result.version()
    }
}
