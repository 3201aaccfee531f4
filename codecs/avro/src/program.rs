//! A decode program: a writer schema resolved against the reader plan once,
//! then run on every datum of that writer schema, straight into the columns.
//!
//! Resolution follows the Avro specification: fields match by name (or a
//! reader alias); writer-only fields are skipped; reader-only fields take
//! their default; `int → long → float → double` and `string ↔ bytes` promote;
//! enum symbols map by name (or to the reader's default symbol).

use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::Arc;

use crate::columns::{ColId, Columns, Data};
use crate::datum::{Cursor, encode_default};
use crate::plan::{Target, type_name};
use crate::schema::{Kind, Logical, NodeId, SchemaSet};

/// A decode failure and the field path where it happened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodeError {
    /// Field names, innermost first (reversed when displayed).
    path: Vec<String>,
    /// What went wrong.
    pub message: String,
}

impl DecodeError {
    fn new(message: String) -> Self {
        Self {
            path: Vec::new(),
            message,
        }
    }

    #[cold]
    fn in_field(mut self: Box<Self>, name: &str) -> Box<Self> {
        self.path.push(name.to_string());
        self
    }

    /// The field path, e.g. `address.zip`, or empty at the top.
    pub fn path(&self) -> String {
        self.path
            .iter()
            .rev()
            .map(String::as_str)
            .collect::<Vec<_>>()
            .join(".")
    }
}

impl std::fmt::Display for DecodeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.path.is_empty() {
            f.write_str(&self.message)
        } else {
            write!(f, "field `{}`: {}", self.path(), self.message)
        }
    }
}

impl From<String> for Box<DecodeError> {
    #[cold]
    fn from(message: String) -> Self {
        Box::new(DecodeError::new(message))
    }
}

/// How to skip a writer value nobody reads.
#[derive(Debug, Clone)]
pub enum Skip {
    /// Nothing to skip (`null`).
    Nothing,
    /// A varint (`int`, `long`, `enum`).
    Varint,
    /// A fixed number of bytes (`boolean`, `float`, `double`, `fixed`).
    Bytes(usize),
    /// A length-prefixed byte string.
    Prefixed,
    /// An array of items.
    Array(Box<Skip>),
    /// A map of values.
    Map(Box<Skip>),
    /// A record's fields that take bytes; shared by every use of the record.
    Record(Arc<[Skip]>),
    /// A union's branches.
    Union(Vec<Skip>),
}

/// One step of a decode program.
#[derive(Debug, Clone)]
pub enum Op {
    /// Skip a writer value.
    Skip(Skip),
    /// The writer wrote `null`: these columns take a null.
    Null(Vec<ColId>),
    /// `boolean`.
    Bool(ColId),
    /// `int` into an int32 column.
    Int(ColId),
    /// `int` into an int64 column.
    IntToLong(ColId),
    /// `int` into a float32 column.
    IntToFloat(ColId),
    /// `int` into a float64 column.
    IntToDouble(ColId),
    /// `long` into an int64 column, times a factor (timestamp unit changes).
    Long(ColId, i64),
    /// `long` into a float32 column.
    LongToFloat(ColId),
    /// `long` into a float64 column.
    LongToDouble(ColId),
    /// `float`.
    Float(ColId),
    /// `float` into a float64 column.
    FloatToDouble(ColId),
    /// `double`.
    Double(ColId),
    /// `string` or `bytes` into a UTF-8 column (checked).
    Str(ColId),
    /// `string` or `bytes` into a binary column.
    Bytes(ColId),
    /// A 36-character UUID text into 16 bytes.
    UuidText(ColId),
    /// `fixed(n)` into a fixed-size binary column.
    Fixed(ColId, usize),
    /// A big-endian two's-complement decimal in `bytes`.
    DecimalBytes(ColId),
    /// A big-endian two's-complement decimal in `fixed(n)`.
    DecimalFixed(ColId, usize),
    /// An enum index, mapped to the reader's symbol index.
    Enum {
        /// The column.
        col: ColId,
        /// Per writer symbol, the reader index, or `None` with the symbol's name.
        map: Arc<[Result<i32, String>]>,
    },
    /// An array.
    Array {
        /// The list column.
        col: ColId,
        /// The item column.
        child: ColId,
        /// How to read one item.
        item: Box<Op>,
    },
    /// A map.
    Map {
        /// The map column.
        col: ColId,
        /// The key column.
        keys: ColId,
        /// How to read one value.
        value: Box<Op>,
    },
    /// A record.
    Record {
        /// Per writer field, in writer order, its name and how to read it.
        fields: Vec<(String, Op)>,
        /// Reader fields the writer lacks: their encoded default and how to read it.
        defaults: Vec<(String, Arc<[u8]>, Op)>,
        /// The struct column to mark valid, if the record is a struct.
        struct_col: Option<ColId>,
    },
    /// A writer union: the branch index, then that branch.
    Union(Vec<Op>),
    /// A value into one branch of a reader union column.
    UnionBranch {
        /// The union column.
        col: ColId,
        /// The branch's Arrow type id.
        type_id: i8,
        /// The branch's column.
        child: ColId,
        /// How to read the value into it.
        op: Box<Op>,
    },
    /// A writer value the reader cannot take (only fails when it occurs).
    Fail(String),
}

const MAX_DEPTH: usize = 64;

/// Most steps a program (or a reader plan) may have: far more than any real
/// schema needs, far less than a hostile one expands to.
pub(crate) const MAX_PLAN_NODES: usize = 100_000;

/// The row error for a row that would take a column's 32-bit Arrow offsets
/// past 2 GiB (or 2^31 list items) in one batch: the row is refused, the
/// rows before it are kept.
#[cold]
fn past_2_gib() -> String {
    PAST_2_GIB.to_string()
}

/// Why a row did not fit in this batch's columns (the decoder reports it as
/// `RowErrorKind::BatchFull`, and the host decodes the row again in a
/// batch of its own).
pub const PAST_2_GIB: &str =
    "this row would take a column past 2 GiB (2^31 items or bytes) in one batch";

/// Builds the program reading `writer`'s `wroot` into the reader plan's targets.
pub fn resolve(
    writer: &SchemaSet,
    wroot: NodeId,
    reader: &SchemaSet,
    rroot: NodeId,
    target: &Target,
) -> Result<Op, String> {
    Resolver {
        writer,
        reader,
        nodes: std::cell::Cell::new(0),
        skips: RefCell::default(),
    }
    .resolve(wroot, rroot, target, "", 0)
    .map_err(|e| e.to_string())
}

struct Resolver<'a> {
    writer: &'a SchemaSet,
    reader: &'a SchemaSet,
    /// Program steps built so far, capped at [`MAX_PLAN_NODES`].
    nodes: std::cell::Cell<usize>,
    /// The skip of each writer record planned so far, by node.
    skips: RefCell<HashMap<NodeId, Skip>>,
}

/// Counts one more program step; a schema that expands past
/// [`MAX_PLAN_NODES`] (a named type used in many places, nested) is refused
/// at once rather than expanded.
fn count_node(nodes: &std::cell::Cell<usize>, path: &str) -> Result<(), String> {
    let n = nodes.get() + 1;
    nodes.set(n);
    if n > MAX_PLAN_NODES {
        return Err(format!(
            "field `{path}`: the writer schema expands to more than {MAX_PLAN_NODES} steps to read (a named type used in many places, nested?)"
        ));
    }
    Ok(())
}

impl Resolver<'_> {
    /// How to skip the writer's `node`. A named record is planned once and
    /// its skip shared by every place that uses it, so a schema whose types
    /// double at every level stays small when nobody reads it; a record that
    /// takes no bytes (only nulls and such records) skips as nothing, so a
    /// datum's bytes bound the steps its skip takes.
    fn skip(&self, node: NodeId, depth: usize) -> Result<Skip, String> {
        if depth > MAX_DEPTH {
            return Err("a recursive type nests too deep to skip".into());
        }
        let set = self.writer;
        if let Some(done) = self.skips.borrow().get(&node) {
            return Ok(done.clone());
        }
        count_node(&self.nodes, "(skipped)")?;
        let skip = |n: NodeId| self.skip(n, depth + 1);
        let planned = match &set.node(node).kind {
            Kind::Null => Skip::Nothing,
            Kind::Boolean => Skip::Bytes(1),
            Kind::Int | Kind::Long | Kind::Enum { .. } => Skip::Varint,
            Kind::Float => Skip::Bytes(4),
            Kind::Double => Skip::Bytes(8),
            Kind::Fixed { size, .. } => Skip::Bytes(*size),
            Kind::Bytes | Kind::String => Skip::Prefixed,
            Kind::Array(i) => Skip::Array(Box::new(skip(*i)?)),
            Kind::Map(v) => Skip::Map(Box::new(skip(*v)?)),
            Kind::Record { fields, .. } => {
                let mut taken = Vec::new();
                for f in fields {
                    match skip(f.ty)? {
                        Skip::Nothing => {}
                        s => taken.push(s),
                    }
                }
                let planned = if taken.is_empty() {
                    Skip::Nothing
                } else {
                    Skip::Record(taken.into())
                };
                self.skips.borrow_mut().insert(node, planned.clone());
                planned
            }
            Kind::Union(b) => Skip::Union(b.iter().map(|b| skip(*b)).collect::<Result<_, _>>()?),
        };
        Ok(planned)
    }
}

fn join(path: &str, name: &str) -> String {
    if path.is_empty() {
        name.to_string()
    } else {
        format!("{path}.{name}")
    }
}

fn unit_factor(w: Option<Logical>, r: Option<Logical>) -> Option<i64> {
    use Logical as L;
    let rank = |l: Option<Logical>| match l {
        Some(L::TimestampMillis | L::LocalTimestampMillis) => Some(0u32),
        Some(L::TimestampMicros | L::LocalTimestampMicros | L::TimeMicros) => Some(1),
        Some(L::TimestampNanos | L::LocalTimestampNanos) => Some(2),
        _ => None,
    };
    match (rank(w), rank(r)) {
        (Some(a), Some(b)) if b >= a => Some(1000i64.pow(b - a)),
        (Some(_), Some(_)) => None,
        _ => Some(1),
    }
}

impl Resolver<'_> {
    fn mismatch(&self, w: NodeId, r: NodeId, path: &str) -> String {
        format!(
            "{}writer type {} cannot be read as reader type {}",
            if path.is_empty() {
                String::new()
            } else {
                format!("field `{path}`: ")
            },
            type_name(self.writer, w),
            type_name(self.reader, r)
        )
    }

    /// The reader branch a (non-union) writer type goes to: the first of
    /// the same type (and name, for named types), else the first it can be
    /// read as; with the program reading it.
    fn pick_branch(
        &self,
        w: NodeId,
        branches: &[NodeId],
        targets: &[Target],
        path: &str,
        depth: usize,
    ) -> Option<(usize, Op)> {
        let wn = self.writer.node(w);
        let same = |b: NodeId| {
            let rn = self.reader.node(b);
            match (&wn.kind, &rn.kind) {
                (Kind::Record { name, .. }, Kind::Record { aliases, .. })
                | (Kind::Enum { name, .. }, Kind::Enum { aliases, .. })
                | (Kind::Fixed { name, .. }, Kind::Fixed { aliases, .. }) => {
                    self.reader.name(b) == Some(name.as_str()) || aliases.contains(name)
                }
                (a, b) => std::mem::discriminant(a) == std::mem::discriminant(b),
            }
        };
        let is_null = matches!(wn.kind, Kind::Null);
        let exact = branches.iter().position(|&b| same(b));
        let candidates = exact.into_iter().chain(
            (0..branches.len())
                // A null writer goes only to a null branch.
                .filter(|_| !is_null)
                .filter(|&i| Some(i) != exact),
        );
        for i in candidates {
            if let Ok(op) = self.resolve(w, branches[i], &targets[i], path, depth + 1) {
                return Some((i, op));
            }
        }
        None
    }

    fn resolve(
        &self,
        w: NodeId,
        r: NodeId,
        target: &Target,
        path: &str,
        depth: usize,
    ) -> Result<Op, String> {
        if depth > MAX_DEPTH {
            return Err(format!(
                "field `{path}`: types nest more than {MAX_DEPTH} levels deep"
            ));
        }
        count_node(&self.nodes, path)?;
        if let Target::Drop = target {
            return self.skip(w, depth).map(Op::Skip);
        }
        let wn = self.writer.node(w);
        if let Kind::Union(branches) = &wn.kind {
            let ops: Vec<Op> = branches
                .iter()
                .map(|b| {
                    self.resolve(*b, r, target, path, depth + 1)
                        .unwrap_or_else(Op::Fail)
                })
                .collect();
            if ops.iter().all(|o| matches!(o, Op::Fail(_))) {
                return Err(self.mismatch(w, r, path));
            }
            return Ok(Op::Union(ops));
        }
        let r = self.reader.nullable_inner(r).unwrap_or(r);
        if let (
            Kind::Union(rb),
            Target::Union {
                col,
                branches: targets,
            },
        ) = (&self.reader.node(r).kind, target)
        {
            // Avro: the first reader branch that matches the writer type.
            let Some((i, op)) = self.pick_branch(w, rb, targets, path, depth) else {
                return Err(self.mismatch(w, r, path));
            };
            return Ok(Op::UnionBranch {
                col: *col,
                type_id: i as i8,
                child: targets[i].root_col(),
                op: Box::new(op),
            });
        }
        if let Kind::Null = wn.kind {
            let mut cols = Vec::new();
            target.null_columns(&mut cols);
            return Ok(Op::Null(cols));
        }
        let rn = self.reader.node(r);
        let col = || match target {
            Target::Leaf(c) => *c,
            _ => unreachable!("a leaf reader type has a leaf target"),
        };
        // Logical reader types with their own column layouts first.
        match (rn.logical, &wn.kind) {
            (Some(Logical::Uuid), Kind::String | Kind::Bytes) => return Ok(Op::UuidText(col())),
            (Some(Logical::Uuid), Kind::Fixed { size: 16, .. }) => return Ok(Op::Fixed(col(), 16)),
            (Some(Logical::Uuid), _) => return Err(self.mismatch(w, r, path)),
            (Some(Logical::Decimal { precision, scale }), k) => {
                if let Some(Logical::Decimal {
                    scale: ws,
                    precision: wp,
                }) = wn.logical
                    && (ws != scale || wp > precision)
                {
                    return Err(format!(
                        "field `{path}`: writer decimal({wp},{ws}) cannot be read as reader decimal({precision},{scale})"
                    ));
                }
                return match k {
                    Kind::Bytes => Ok(Op::DecimalBytes(col())),
                    Kind::Fixed { size, .. } if *size <= 16 => Ok(Op::DecimalFixed(col(), *size)),
                    _ => Err(self.mismatch(w, r, path)),
                };
            }
            _ => {}
        }
        Ok(match (&wn.kind, &rn.kind) {
            (Kind::Boolean, Kind::Boolean) => Op::Bool(col()),
            (Kind::Int, Kind::Int) => Op::Int(col()),
            (Kind::Int, Kind::Long) => Op::IntToLong(col()),
            (Kind::Int, Kind::Float) => Op::IntToFloat(col()),
            (Kind::Int, Kind::Double) => Op::IntToDouble(col()),
            (Kind::Long, Kind::Long) => match unit_factor(wn.logical, rn.logical) {
                Some(f) => Op::Long(col(), f),
                None => {
                    return Err(format!(
                        "field `{path}`: writer {:?} cannot be read as reader {:?} without losing precision",
                        wn.logical, rn.logical
                    ));
                }
            },
            (Kind::Long, Kind::Float) => Op::LongToFloat(col()),
            (Kind::Long, Kind::Double) => Op::LongToDouble(col()),
            (Kind::Float, Kind::Float) => Op::Float(col()),
            (Kind::Float, Kind::Double) => Op::FloatToDouble(col()),
            (Kind::Double, Kind::Double) => Op::Double(col()),
            (Kind::String | Kind::Bytes, Kind::String) => Op::Str(col()),
            (Kind::String | Kind::Bytes, Kind::Bytes) => Op::Bytes(col()),
            (Kind::Fixed { size: a, .. }, Kind::Fixed { size: b, .. }) if a == b => {
                Op::Fixed(col(), *a)
            }
            (
                Kind::Enum { symbols: ws, .. },
                Kind::Enum {
                    symbols: rs,
                    default,
                    ..
                },
            ) => {
                let fallback = default
                    .as_ref()
                    .and_then(|d| rs.iter().position(|s| s == d));
                let map: Vec<Result<i32, String>> = ws
                    .iter()
                    .map(|s| {
                        rs.iter()
                            .position(|x| x == s)
                            .or(fallback)
                            .map(|i| i as i32)
                            .ok_or_else(|| s.clone())
                    })
                    .collect();
                Op::Enum {
                    col: col(),
                    map: map.into(),
                }
            }
            (Kind::Array(wi), Kind::Array(ri)) => {
                let Target::List { col, item } = target else {
                    unreachable!("an array has a list target")
                };
                let child = list_child(item);
                Op::Array {
                    col: *col,
                    child,
                    item: Box::new(self.resolve(
                        *wi,
                        *ri,
                        item,
                        &format!("{path}[]"),
                        depth + 1,
                    )?),
                }
            }
            (Kind::Map(wv), Kind::Map(rv)) => {
                let Target::Map { col, keys, values } = target else {
                    unreachable!("a map has a map target")
                };
                Op::Map {
                    col: *col,
                    keys: *keys,
                    value: Box::new(self.resolve(
                        *wv,
                        *rv,
                        values,
                        &format!("{path}{{}}"),
                        depth + 1,
                    )?),
                }
            }
            (Kind::Record { fields: wf, .. }, Kind::Record { fields: rf, .. }) => {
                let Target::Record {
                    fields: targets,
                    struct_col,
                } = target
                else {
                    unreachable!("a record has a record target")
                };
                let mut seen = vec![false; rf.len()];
                let mut fields = Vec::with_capacity(wf.len());
                for f in wf {
                    let found = rf
                        .iter()
                        .position(|x| x.name == f.name)
                        .or_else(|| rf.iter().position(|x| x.aliases.contains(&f.name)));
                    let op = match found {
                        Some(i) => {
                            seen[i] = true;
                            self.resolve(
                                f.ty,
                                rf[i].ty,
                                &targets[i],
                                &join(path, &rf[i].name),
                                depth + 1,
                            )?
                        }
                        None => Op::Skip(self.skip(f.ty, depth + 1)?),
                    };
                    fields.push((f.name.clone(), op));
                }
                let mut defaults = Vec::new();
                for (i, f) in rf.iter().enumerate() {
                    if seen[i] || matches!(targets[i], Target::Drop) {
                        continue;
                    }
                    let fpath = join(path, &f.name);
                    let Some(default) = &f.default else {
                        return Err(format!(
                            "reader field `{fpath}` is not in the writer schema and has no default"
                        ));
                    };
                    let mut bytes = Vec::new();
                    encode_default(self.reader, f.ty, default, &mut bytes)
                        .map_err(|e| format!("field `{fpath}`: {e}"))?;
                    let same = Resolver {
                        writer: self.reader,
                        reader: self.reader,
                        nodes: std::cell::Cell::new(self.nodes.get()),
                        // Its nodes are the reader's, not the writer's.
                        skips: RefCell::default(),
                    };
                    let op = same.resolve(f.ty, f.ty, &targets[i], &fpath, depth + 1)?;
                    self.nodes.set(same.nodes.get());
                    defaults.push((f.name.clone(), Arc::from(bytes), op));
                }
                Op::Record {
                    fields,
                    defaults,
                    struct_col: *struct_col,
                }
            }
            _ => return Err(self.mismatch(w, r, path)),
        })
    }
}

fn list_child(item: &Target) -> ColId {
    let mut cols = Vec::new();
    item.null_columns(&mut cols);
    cols[0]
}

impl Op {
    /// Reads one value from `cur` into `cols`.
    pub fn run(&self, cur: &mut Cursor<'_>, cols: &mut Columns) -> Result<(), Box<DecodeError>> {
        macro_rules! push {
            ($c:expr, $variant:ident, $v:expr) => {{
                let v = $v;
                match &mut cols.cols[*$c].data {
                    Data::$variant(buf) => buf.push(v),
                    _ => unreachable!("column type checked when planned"),
                }
            }};
        }
        match self {
            Op::Skip(s) => s.run(cur)?,
            Op::Null(cs) => cs.iter().for_each(|c| cols.append_null(*c)),
            Op::Bool(c) => push!(c, Bool, cur.boolean()?),
            Op::Int(c) => push!(c, I32, cur.int()?),
            Op::IntToLong(c) => push!(c, I64, i64::from(cur.int()?)),
            Op::IntToFloat(c) => push!(c, F32, cur.int()? as f32),
            Op::IntToDouble(c) => push!(c, F64, f64::from(cur.int()?)),
            Op::Long(c, 1) => push!(c, I64, cur.long()?),
            Op::Long(c, f) => {
                let v = cur.long()?;
                let scaled = v
                    .checked_mul(*f)
                    .ok_or_else(|| format!("timestamp {v} overflows when scaled by {f}"))?;
                push!(c, I64, scaled)
            }
            Op::LongToFloat(c) => push!(c, F32, cur.long()? as f32),
            Op::LongToDouble(c) => push!(c, F64, cur.long()? as f64),
            Op::Float(c) => push!(c, F32, cur.float()?),
            Op::FloatToDouble(c) => push!(c, F64, f64::from(cur.float()?)),
            Op::Double(c) => push!(c, F64, cur.double()?),
            Op::Str(c) | Op::Bytes(c) => {
                let at = cur.position();
                let b = cur.bytes()?;
                if matches!(self, Op::Str(_)) && std::str::from_utf8(b).is_err() {
                    return Err(format!(
                        "invalid datum: string at byte {at} is not UTF-8: {}",
                        topictable_sdk::preview::preview_bytes(b)
                    )
                    .into());
                }
                if let Data::Bytes(buf) = &mut cols.cols[*c].data {
                    // A refused value fails the row, which cuts it off.
                    buf.push(b).map_err(|_| past_2_gib())?;
                }
            }
            Op::UuidText(c) => {
                let b = cur.bytes()?;
                let id = std::str::from_utf8(b)
                    .ok()
                    .and_then(|s| uuid::Uuid::try_parse(s).ok())
                    .ok_or_else(|| {
                        format!(
                            "expected a 36-character UUID text, got {}",
                            topictable_sdk::preview::preview_bytes(b)
                        )
                    })?;
                push_fixed(cols, *c, id.as_bytes());
            }
            Op::Fixed(c, n) => {
                let b = cur.take(*n, "a fixed value")?;
                push_fixed(cols, *c, b);
            }
            Op::DecimalBytes(c) => {
                let b = cur.bytes()?;
                push!(c, I128, decimal(b)?)
            }
            Op::DecimalFixed(c, n) => {
                let b = cur.take(*n, "a fixed decimal")?;
                push!(c, I128, decimal(b)?)
            }
            Op::Enum { col, map } => {
                let at = cur.position();
                let i = cur.long()?;
                let key = match usize::try_from(i).ok().and_then(|i| map.get(i)) {
                    Some(Ok(k)) => *k,
                    Some(Err(symbol)) => {
                        return Err(format!(
                            "enum symbol `{symbol}` is not in the reader schema, which has no default symbol"
                        )
                        .into());
                    }
                    None => {
                        return Err(format!(
                            "invalid datum: enum index {i} at byte {at}, the writer has {} symbols",
                            map.len()
                        )
                        .into());
                    }
                };
                if let Data::Dict { keys, .. } = &mut cols.cols[*col].data {
                    keys.push(key);
                }
            }
            Op::Array { col, child, item } => {
                loop {
                    let n = cur.block_count()?;
                    if n == 0 {
                        break;
                    }
                    if n > cur.remaining() && !matches!(**item, Op::Null(_)) {
                        return Err(format!(
                            "invalid datum: array block of {n} items with {} bytes left",
                            cur.remaining()
                        )
                        .into());
                    }
                    for _ in 0..n {
                        item.run(cur, cols)?;
                    }
                }
                let end = i32::try_from(cols.len(*child)).map_err(|_| past_2_gib())?;
                push_offset(cols, *col, end);
            }
            Op::Map { col, keys, value } => {
                loop {
                    let n = cur.block_count()?;
                    if n == 0 {
                        break;
                    }
                    if n > cur.remaining() {
                        return Err(format!(
                            "invalid datum: map block of {n} entries with {} bytes left",
                            cur.remaining()
                        )
                        .into());
                    }
                    for _ in 0..n {
                        Op::Str(*keys).run(cur, cols)?;
                        value.run(cur, cols)?;
                    }
                }
                let end = i32::try_from(cols.len(*keys)).map_err(|_| past_2_gib())?;
                push_offset(cols, *col, end);
            }
            Op::Record {
                fields,
                defaults,
                struct_col,
            } => {
                for (name, op) in fields {
                    op.run(cur, cols).map_err(|e| e.in_field(name))?;
                }
                for (name, bytes, op) in defaults {
                    op.run(&mut Cursor::new(bytes), cols)
                        .map_err(|e| e.in_field(name))?;
                }
                if let Some(c) = struct_col
                    && let Data::Struct { valid, .. } = &mut cols.cols[*c].data
                {
                    valid.append_valid();
                }
            }
            Op::Union(branches) => {
                let at = cur.position();
                let i = cur.long()?;
                match usize::try_from(i).ok().and_then(|i| branches.get(i)) {
                    Some(op) => op.run(cur, cols)?,
                    None => {
                        return Err(format!(
                            "invalid datum: union branch {i} at byte {at}, the writer union has {}",
                            branches.len()
                        )
                        .into());
                    }
                }
            }
            Op::UnionBranch {
                col,
                type_id,
                child,
                op,
            } => {
                cols.append_union(*col, *type_id, *child);
                op.run(cur, cols)?;
            }
            Op::Fail(why) => return Err(why.clone().into()),
        }
        Ok(())
    }
}

fn push_fixed(cols: &mut Columns, c: ColId, b: &[u8]) {
    if let Data::Fixed { data, valid, .. } = &mut cols.cols[c].data {
        data.extend_from_slice(b);
        valid.append_valid();
    }
}

fn push_offset(cols: &mut Columns, c: ColId, end: i32) {
    match &mut cols.cols[c].data {
        Data::List { offsets, valid, .. } | Data::Map { offsets, valid, .. } => {
            offsets.push(end);
            valid.append_valid();
        }
        _ => unreachable!("list and map columns have offsets"),
    }
}

fn decimal(b: &[u8]) -> Result<i128, String> {
    if b.len() > 16 {
        return Err(format!(
            "decimal of {} bytes does not fit 128 bits",
            b.len()
        ));
    }
    if b.is_empty() {
        return Ok(0);
    }
    let fill = if b[0] & 0x80 != 0 { 0xff } else { 0 };
    let mut buf = [fill; 16];
    buf[16 - b.len()..].copy_from_slice(b);
    Ok(i128::from_be_bytes(buf))
}

impl Skip {
    fn run(&self, cur: &mut Cursor<'_>) -> Result<(), String> {
        match self {
            Skip::Nothing => {}
            Skip::Varint => {
                cur.long()?;
            }
            Skip::Bytes(n) => {
                cur.take(*n, "a skipped value")?;
            }
            Skip::Prefixed => {
                cur.bytes()?;
            }
            Skip::Array(item) | Skip::Map(item) => loop {
                let at = cur.position();
                let n = cur.long()?;
                if n == 0 {
                    break;
                }
                if n > 0 {
                    cur.charge_items(n as usize, at)?;
                } else {
                    // A negative count comes with the block's byte size: jump over it.
                    let size = cur.long()?;
                    cur.take(
                        usize::try_from(size).map_err(|_| "invalid datum: negative block size")?,
                        "an array block",
                    )?;
                    continue;
                }
                for _ in 0..n {
                    if matches!(self, Skip::Map(_)) {
                        cur.bytes()?;
                    }
                    item.run(cur)?;
                }
            },
            Skip::Record(fields) => {
                for f in fields.iter() {
                    f.run(cur)?;
                }
            }
            Skip::Union(branches) => {
                let i = cur.long()?;
                let b = usize::try_from(i)
                    .ok()
                    .and_then(|i| branches.get(i))
                    .ok_or_else(|| format!("invalid datum: union branch {i}"))?;
                b.run(cur)?;
            }
        }
        Ok(())
    }
}
