//! Per-group accumulators behind `agg_by`.
//!
//! Each accumulator keeps one slot per group in plain vectors and supports
//! removal, so an aggregation over a table with removals stays exact: sums
//! subtract, Min/Max keep a per-group multiset of values, First/Last are
//! recomputed from per-group row sets by the operator.

use std::collections::BTreeMap;
use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::types::{ArrowPrimitiveType, Float64Type, Int64Type, UInt64Type};
use arrow_array::{
    Array, ArrayRef, Float64Array, Int64Array, PrimitiveArray, RecordBatch, UInt64Array,
    new_null_array,
};
use arrow_row::{RowConverter, SortField};
use arrow_schema::{ArrowError, DataType, Field};

use crate::keys::Gid;

/// Whether `dt` is an integer type accepted by Sum/WSum/Avg.
pub(crate) fn is_int(dt: &DataType) -> bool {
    dt.is_integer()
}

/// Whether `dt` is a float type accepted by Sum/WSum/Avg.
pub(crate) fn is_float(dt: &DataType) -> bool {
    matches!(
        dt,
        DataType::Float16 | DataType::Float32 | DataType::Float64
    )
}

/// One aggregation's state for all groups.
pub(crate) trait Accumulator: Send {
    /// Output column.
    fn field(&self) -> Field;
    /// Makes room for `groups` groups.
    fn resize(&mut self, groups: usize);
    /// Adds (`sign` = 1) or subtracts (`sign` = -1) the rows of `batch`.
    fn update(&mut self, batch: &RecordBatch, gids: &[Gid], sign: i64) -> Result<(), ArrowError>;
    /// Output values for `gids`.
    fn output(&self, gids: &[Gid]) -> Result<ArrayRef, ArrowError>;
    /// For First/Last: `Some(true)` for Last, `Some(false)` for First.
    fn positional(&self) -> Option<bool> {
        None
    }
    /// For First/Last: sets each group's value from row `i` of `batch`.
    fn set_rows(&mut self, _batch: &RecordBatch, _gids: &[Gid]) -> Result<(), ArrowError> {
        Ok(())
    }
}

/// An integer column widened without loss: signed types to Int64, unsigned to UInt64.
///
/// (A cast of UInt64 to Int64 would turn values above `i64::MAX` into nulls.)
fn widen_int(a: &ArrayRef) -> Result<ArrayRef, ArrowError> {
    let target = if a.data_type().is_unsigned_integer() {
        DataType::UInt64
    } else {
        DataType::Int64
    };
    if a.data_type() == &target {
        Ok(a.clone())
    } else {
        arrow_cast::cast(a, &target)
    }
}

/// Adds `sign` × value (× weight) of each non-null row to its group's sum.
///
/// Sums are exact in `i128` and wrap modulo 2^128 (which keeps the low 64
/// bits, all an Int64/UInt64 output shows, exact).
fn fold_ints<V, W>(
    sums: &mut [i128],
    nn: &mut [i64],
    gids: &[Gid],
    v: &PrimitiveArray<V>,
    w: Option<&PrimitiveArray<W>>,
    sign: i64,
) where
    V: ArrowPrimitiveType,
    W: ArrowPrimitiveType,
    V::Native: Into<i128>,
    W::Native: Into<i128>,
{
    let s = sign as i128;
    match w {
        None if v.null_count() == 0 => {
            for (&g, &x) in gids.iter().zip(v.values().iter()) {
                let g = g as usize;
                sums[g] = sums[g].wrapping_add(s.wrapping_mul(x.into()));
                nn[g] += sign;
            }
        }
        None => {
            for (i, &g) in gids.iter().enumerate() {
                if v.is_valid(i) {
                    let g = g as usize;
                    sums[g] = sums[g].wrapping_add(s.wrapping_mul(v.value(i).into()));
                    nn[g] += sign;
                }
            }
        }
        Some(w) => {
            for (i, &g) in gids.iter().enumerate() {
                if v.is_valid(i) && w.is_valid(i) {
                    let g = g as usize;
                    let x = v.value(i).into().wrapping_mul(w.value(i).into());
                    sums[g] = sums[g].wrapping_add(s.wrapping_mul(x));
                    nn[g] += sign;
                }
            }
        }
    }
}

fn as_f64(a: &ArrayRef) -> Result<ArrayRef, ArrowError> {
    if a.data_type() == &DataType::Float64 {
        Ok(a.clone())
    } else {
        arrow_cast::cast(a, &DataType::Float64)
    }
}

/// Float sum that stays exact under removal of NaN and infinities.
#[derive(Default, Clone)]
struct FloatSums {
    sum: Vec<f64>,
    nan: Vec<i64>,
    pinf: Vec<i64>,
    ninf: Vec<i64>,
}

impl FloatSums {
    fn resize(&mut self, n: usize) {
        self.sum.resize(n, 0.0);
        self.nan.resize(n, 0);
        self.pinf.resize(n, 0);
        self.ninf.resize(n, 0);
    }

    #[inline]
    fn add(&mut self, g: usize, v: f64, sign: i64) {
        if v.is_finite() {
            self.sum[g] += v * sign as f64;
        } else if v.is_nan() {
            self.nan[g] += sign;
        } else if v > 0.0 {
            self.pinf[g] += sign;
        } else {
            self.ninf[g] += sign;
        }
    }

    fn value(&self, g: usize) -> f64 {
        if self.nan[g] > 0 || (self.pinf[g] > 0 && self.ninf[g] > 0) {
            f64::NAN
        } else if self.pinf[g] > 0 {
            f64::INFINITY
        } else if self.ninf[g] > 0 {
            f64::NEG_INFINITY
        } else {
            self.sum[g]
        }
    }
}

/// What a [`Numeric`] accumulator reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum NumericKind {
    /// Sum of values (or of value × weight).
    Sum,
    /// Mean of non-null values.
    Avg,
}

/// Sum, weighted sum and average; nulls (in value or weight) are skipped.
///
/// Integer inputs are summed exactly (in `i128`); an integer Sum/WSum is
/// output as UInt64 when every input is unsigned and as Int64 otherwise,
/// wrapping modulo 2^64 if the exact sum does not fit (as Deephaven's `long`
/// sums do). Avg divides the exact sum, so it never wraps.
pub(crate) struct Numeric {
    name: String,
    kind: NumericKind,
    col: usize,
    weight: Option<usize>,
    /// Integer arithmetic when all inputs are integers.
    int: bool,
    /// All inputs are unsigned integers: an integer sum is output as UInt64.
    unsigned: bool,
    isum: Vec<i128>,
    fsum: FloatSums,
    nn: Vec<i64>,
}

impl Numeric {
    /// A numeric accumulator over column `col`, optionally weighted by `weight`.
    pub fn new(
        name: String,
        kind: NumericKind,
        col: usize,
        weight: Option<usize>,
        int: bool,
        unsigned: bool,
    ) -> Self {
        Numeric {
            name,
            kind,
            col,
            weight,
            int,
            unsigned: int && unsigned,
            isum: Vec::new(),
            fsum: FloatSums::default(),
            nn: Vec::new(),
        }
    }
}

impl Accumulator for Numeric {
    fn field(&self) -> Field {
        let dt = if self.int && self.kind == NumericKind::Sum {
            if self.unsigned {
                DataType::UInt64
            } else {
                DataType::Int64
            }
        } else {
            DataType::Float64
        };
        Field::new(&self.name, dt, true)
    }

    fn resize(&mut self, n: usize) {
        self.nn.resize(n, 0);
        if self.int {
            self.isum.resize(n, 0);
        } else {
            self.fsum.resize(n);
        }
    }

    fn update(&mut self, batch: &RecordBatch, gids: &[Gid], sign: i64) -> Result<(), ArrowError> {
        let col = batch.column(self.col);
        let w = self.weight.map(|w| batch.column(w));
        if self.int {
            let v = widen_int(col)?;
            let w = w.map(widen_int).transpose()?;
            let (sums, nn) = (&mut self.isum, &mut self.nn);
            let uns = |a: &ArrayRef| a.data_type() == &DataType::UInt64;
            // The value and the weight are each Int64 or UInt64 (widened).
            macro_rules! fold {
                ($v:ty, $w:ty) => {
                    fold_ints::<$v, $w>(
                        sums,
                        nn,
                        gids,
                        v.as_primitive(),
                        w.as_ref().map(|w| w.as_primitive()),
                        sign,
                    )
                };
            }
            match (uns(&v), w.as_ref().is_some_and(uns)) {
                (true, true) => fold!(UInt64Type, UInt64Type),
                (true, false) => fold!(UInt64Type, Int64Type),
                (false, true) => fold!(Int64Type, UInt64Type),
                (false, false) => fold!(Int64Type, Int64Type),
            }
        } else {
            let v = as_f64(col)?;
            let v = v.as_primitive::<Float64Type>();
            let w = w.map(as_f64).transpose()?;
            let w = w.as_ref().map(|w| w.as_primitive::<Float64Type>());
            match w {
                None if v.null_count() == 0 => {
                    for (&g, &x) in gids.iter().zip(v.values().iter()) {
                        self.fsum.add(g as usize, x, sign);
                        self.nn[g as usize] += sign;
                    }
                }
                None => {
                    for (i, &g) in gids.iter().enumerate() {
                        if v.is_valid(i) {
                            self.fsum.add(g as usize, v.value(i), sign);
                            self.nn[g as usize] += sign;
                        }
                    }
                }
                Some(w) if v.null_count() == 0 && w.null_count() == 0 => {
                    let (vv, wv) = (v.values(), w.values());
                    for (i, &g) in gids.iter().enumerate() {
                        self.fsum.add(g as usize, vv[i] * wv[i], sign);
                        self.nn[g as usize] += sign;
                    }
                }
                Some(w) => {
                    for (i, &g) in gids.iter().enumerate() {
                        if v.is_valid(i) && w.is_valid(i) {
                            self.fsum.add(g as usize, v.value(i) * w.value(i), sign);
                            self.nn[g as usize] += sign;
                        }
                    }
                }
            }
        }
        Ok(())
    }

    fn output(&self, gids: &[Gid]) -> Result<ArrayRef, ArrowError> {
        let present = |g: &Gid| self.nn[*g as usize] > 0;
        Ok(match (self.kind, self.int) {
            // `as` keeps the low 64 bits: the documented wrap-around.
            (NumericKind::Sum, true) if self.unsigned => Arc::new(UInt64Array::from_iter(
                gids.iter()
                    .map(|g| present(g).then(|| self.isum[*g as usize] as u64)),
            )),
            (NumericKind::Sum, true) => Arc::new(Int64Array::from_iter(
                gids.iter()
                    .map(|g| present(g).then(|| self.isum[*g as usize] as i64)),
            )),
            (NumericKind::Sum, false) => Arc::new(Float64Array::from_iter(
                gids.iter()
                    .map(|g| present(g).then(|| self.fsum.value(*g as usize))),
            )),
            (NumericKind::Avg, true) => Arc::new(Float64Array::from_iter(gids.iter().map(|g| {
                present(g).then(|| self.isum[*g as usize] as f64 / self.nn[*g as usize] as f64)
            }))),
            (NumericKind::Avg, false) => Arc::new(Float64Array::from_iter(gids.iter().map(|g| {
                present(g).then(|| self.fsum.value(*g as usize) / self.nn[*g as usize] as f64)
            }))),
        })
    }
}

/// Number of rows in each group, nulls included (SQL `COUNT(*)`).
pub(crate) struct Count {
    name: String,
    n: Vec<i64>,
}

impl Count {
    /// A row counter.
    pub fn new(name: String) -> Self {
        Count {
            name,
            n: Vec::new(),
        }
    }
}

impl Accumulator for Count {
    fn field(&self) -> Field {
        Field::new(&self.name, DataType::Int64, false)
    }

    fn resize(&mut self, n: usize) {
        self.n.resize(n, 0);
    }

    fn update(&mut self, _batch: &RecordBatch, gids: &[Gid], sign: i64) -> Result<(), ArrowError> {
        for &g in gids {
            self.n[g as usize] += sign;
        }
        Ok(())
    }

    fn output(&self, gids: &[Gid]) -> Result<ArrayRef, ArrowError> {
        Ok(Arc::new(Int64Array::from_iter_values(
            gids.iter().map(|&g| self.n[g as usize]),
        )))
    }
}

/// Values of one column encoded as order-preserving bytes (arrow-row).
struct ValueCodec {
    converter: RowConverter,
    data_type: DataType,
}

impl ValueCodec {
    fn new(data_type: DataType) -> Result<Self, ArrowError> {
        Ok(ValueCodec {
            converter: RowConverter::new(vec![SortField::new(data_type.clone())])?,
            data_type,
        })
    }

    fn encode(&self, col: &ArrayRef) -> Result<arrow_row::Rows, ArrowError> {
        self.converter.convert_columns(std::slice::from_ref(col))
    }

    fn decode<'a>(
        &self,
        values: impl Iterator<Item = Option<&'a [u8]>>,
    ) -> Result<ArrayRef, ArrowError> {
        let null = self
            .converter
            .convert_columns(&[new_null_array(&self.data_type, 1)])?;
        let parser = self.converter.parser();
        let rows: Vec<_> = values
            .map(|v| parser.parse(v.unwrap_or(null.row(0).data())))
            .collect();
        if rows.is_empty() {
            return Ok(arrow_array::new_empty_array(&self.data_type));
        }
        let mut cols = self.converter.convert_rows(rows)?;
        Ok(cols.remove(0))
    }
}

/// Minimum or maximum of non-null values (arrow-row order; NaN sorts highest).
pub(crate) struct MinMax {
    name: String,
    col: usize,
    max: bool,
    /// Only additions happen (blink/append input): keep just the extreme.
    accumulate: bool,
    codec: ValueCodec,
    best: Vec<Option<Box<[u8]>>>,
    multiset: Vec<BTreeMap<Box<[u8]>, u64>>,
}

impl MinMax {
    /// A Min (`max == false`) or Max accumulator over column `col`.
    pub fn new(
        name: String,
        col: usize,
        data_type: DataType,
        max: bool,
        accumulate: bool,
    ) -> Result<Self, ArrowError> {
        Ok(MinMax {
            name,
            col,
            max,
            accumulate,
            codec: ValueCodec::new(data_type)?,
            best: Vec::new(),
            multiset: Vec::new(),
        })
    }
}

impl Accumulator for MinMax {
    fn field(&self) -> Field {
        Field::new(&self.name, self.codec.data_type.clone(), true)
    }

    fn resize(&mut self, n: usize) {
        if self.accumulate {
            self.best.resize(n, None);
        } else {
            self.multiset.resize_with(n, BTreeMap::new);
        }
    }

    fn update(&mut self, batch: &RecordBatch, gids: &[Gid], sign: i64) -> Result<(), ArrowError> {
        let col = batch.column(self.col);
        let rows = self.codec.encode(col)?;
        for (i, &g) in gids.iter().enumerate() {
            if col.is_null(i) {
                continue;
            }
            let v = rows.row(i);
            let v = v.data();
            let g = g as usize;
            if self.accumulate {
                let better = match &self.best[g] {
                    None => true,
                    Some(b) => (v > &**b) == self.max && v != &**b,
                };
                if better {
                    self.best[g] = Some(v.into());
                }
            } else if sign > 0 {
                *self.multiset[g].entry(v.into()).or_insert(0) += 1;
            } else if let Some(c) = self.multiset[g].get_mut(v) {
                *c -= 1;
                if *c == 0 {
                    self.multiset[g].remove(v);
                }
            }
        }
        Ok(())
    }

    fn output(&self, gids: &[Gid]) -> Result<ArrayRef, ArrowError> {
        self.codec.decode(gids.iter().map(|&g| {
            let g = g as usize;
            if self.accumulate {
                self.best[g].as_deref()
            } else if self.max {
                self.multiset[g].last_key_value().map(|(k, _)| &**k)
            } else {
                self.multiset[g].first_key_value().map(|(k, _)| &**k)
            }
        }))
    }
}

/// Value of the first or last row of each group (nulls included).
pub(crate) struct FirstLast {
    name: String,
    col: usize,
    last: bool,
    codec: ValueCodec,
    value: Vec<Option<Box<[u8]>>>,
}

impl FirstLast {
    /// A First (`last == false`) or Last accumulator over column `col`.
    pub fn new(
        name: String,
        col: usize,
        data_type: DataType,
        last: bool,
    ) -> Result<Self, ArrowError> {
        Ok(FirstLast {
            name,
            col,
            last,
            codec: ValueCodec::new(data_type)?,
            value: Vec::new(),
        })
    }
}

impl Accumulator for FirstLast {
    fn field(&self) -> Field {
        Field::new(&self.name, self.codec.data_type.clone(), true)
    }

    fn resize(&mut self, n: usize) {
        self.value.resize(n, None);
    }

    /// Accumulate mode only (the operator never calls it with removals).
    fn update(&mut self, batch: &RecordBatch, gids: &[Gid], _sign: i64) -> Result<(), ArrowError> {
        let rows = self.codec.encode(batch.column(self.col))?;
        for (i, &g) in gids.iter().enumerate() {
            let slot = &mut self.value[g as usize];
            if self.last || slot.is_none() {
                *slot = Some(rows.row(i).data().into());
            }
        }
        Ok(())
    }

    fn output(&self, gids: &[Gid]) -> Result<ArrayRef, ArrowError> {
        self.codec
            .decode(gids.iter().map(|&g| self.value[g as usize].as_deref()))
    }

    fn positional(&self) -> Option<bool> {
        Some(self.last)
    }

    fn set_rows(&mut self, batch: &RecordBatch, gids: &[Gid]) -> Result<(), ArrowError> {
        let rows = self.codec.encode(batch.column(self.col))?;
        for (i, &g) in gids.iter().enumerate() {
            self.value[g as usize] = Some(rows.row(i).data().into());
        }
        Ok(())
    }
}
