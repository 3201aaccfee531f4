//! The write plan: which Arrow column (or child array) feeds each Avro
//! value of the writer schema, and how it is converted; planned once from
//! the writer schema and the table's Arrow schema ([`crate::write`] binds it
//! to each batch and writes the rows).
//!
//! Columns match fields by name, as the decoder names them: a field path
//! `a__b` (with the configured separator) is a field of a nested record, so
//! flattened columns go back into their record; `mapping` (field path →
//! column) is honoured the same way. A record field may also come whole from
//! a struct column. A field without a column takes its default, or null when
//! its type is nullable. A column the schema has no field for is not written.
//!
//! Conversions: any integer column into `int` or `long` (range-checked per
//! row), and into `float`, `double` or `decimal`; `Float64` into `float`;
//! timestamps, times and dates into their logical types in the schema's unit
//! (a finer unit is rounded down: nanoseconds into `timestamp-millis`);
//! strings and string dictionaries into `string`, `enum` (by symbol) and
//! `bytes`; 16 bytes into a `uuid` string and a UUID text into `fixed(16)`;
//! `Decimal128` into `decimal` of another scale when exact. A plain column
//! into a union goes to the branch of its own type, else the first it fits.

use std::collections::{HashMap, HashSet};

use topictable_sdk::arrow_schema::{DataType, Field, Fields, TimeUnit};

use crate::datum::{encode_default, write_long};
use crate::plan::{branch_name, type_name};
use crate::schema::{Kind, Logical, NodeId, SchemaSet};

/// How columns are matched to fields.
#[derive(Debug, Clone, Default)]
pub struct MatchOptions {
    /// Separator of flattened names.
    pub separator: String,
    /// Field path → column.
    pub mapping: HashMap<String, String>,
    /// Whether only mapped fields are read from columns.
    pub mapping_only: bool,
    /// The column of a schema that is not a record.
    pub column: String,
}

/// What a null cell writes.
#[derive(Debug, Clone)]
pub(crate) enum OnNull {
    /// Nothing can be written: a row error.
    Error,
    /// The `null` branch index of a union.
    Branch(i64),
    /// Nothing (the Avro type is `null`).
    Nothing,
}

/// How to turn an integer cell into the Avro value.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Scale {
    /// As it is.
    One,
    /// Times a factor (a coarser time unit into a finer one).
    Mul(i64),
    /// Divided by a factor, rounding down (a finer time unit into a coarser one).
    Div(i64),
}

/// How one value is written.
#[derive(Debug, Clone)]
pub(crate) enum ValueKind {
    /// Avro `null`: only null cells can be written.
    Null,
    /// `boolean`.
    Bool,
    /// `int` or `long` (and their logical types) from any integer-like column.
    Int { min: i64, max: i64, scale: Scale },
    /// `float`.
    Float,
    /// `double`.
    Double,
    /// `string` (a UUID text is checked).
    Str { uuid: bool },
    /// `bytes`.
    Bytes,
    /// `fixed(n)`.
    Fixed(usize),
    /// A `string` UUID from 16 bytes.
    UuidText,
    /// A `fixed(16)` UUID from its text.
    UuidFromText,
    /// `decimal` in `bytes` (`fixed: None`) or `fixed(n)`.
    Decimal {
        precision: u8,
        scale: i8,
        /// The column's scale.
        from_scale: i8,
        fixed: Option<usize>,
    },
    /// An enum, by symbol.
    Enum { symbols: HashMap<String, i64> },
    /// An array.
    Array(Box<ValuePlan>),
    /// A map.
    Map(Box<ValuePlan>),
    /// A record from a struct column.
    Record(RecordPlan),
    /// An Avro union from an Arrow union: per Arrow type id, the branch plan.
    Union(Vec<(i8, ValuePlan)>),
}

/// How one Avro value is written from one Arrow array.
#[derive(Debug, Clone)]
pub struct ValuePlan {
    /// The field path, for messages.
    pub(crate) path: String,
    /// The Arrow type it reads.
    pub(crate) data_type: DataType,
    /// The union branch written before a value, when the Avro type is a union.
    pub(crate) branch: Option<i64>,
    /// What a null cell writes.
    pub(crate) on_null: OnNull,
    /// The Avro type's name, for messages.
    pub(crate) avro_type: String,
    pub(crate) kind: ValueKind,
}

/// How one record field is written.
#[derive(Debug, Clone)]
pub(crate) enum FieldPlan {
    /// From the array at this index (a table column, or a struct child).
    Column(usize, ValuePlan),
    /// A record from several flattened columns.
    Flat(FlatRecord),
    /// Always the same bytes (its default, or null).
    Constant(Vec<u8>),
}

/// A record spread over flattened columns.
#[derive(Debug, Clone)]
pub struct FlatRecord {
    /// For a nullable record, the `null` branch and the record's branch:
    /// the record is null when all its columns are.
    pub(crate) nullable: Option<(i64, i64)>,
    /// Every column it reads, at any depth.
    pub(crate) columns: Vec<usize>,
    pub(crate) record: RecordPlan,
}

/// How a record's fields are written, in the schema's order.
#[derive(Debug, Clone)]
pub struct RecordPlan {
    pub(crate) fields: Vec<FieldPlan>,
}

/// How a whole row is written.
#[derive(Debug, Clone)]
pub enum RowPlan {
    /// A record from the table's columns.
    Record(FlatRecord),
    /// A single column (the schema is not a record). A null cell of a type
    /// that is not nullable writes no bytes (a null key, or a tombstone).
    Value(usize, ValuePlan),
}

impl RowPlan {
    /// Plans writing rows of `columns` as the schema's `root`.
    pub fn new(
        set: &SchemaSet,
        root: NodeId,
        columns: &Fields,
        opts: &MatchOptions,
    ) -> Result<Self, String> {
        let planner = Planner { set, opts };
        let (inner, nullable) = planner.nullable(root);
        if let Kind::Record { .. } = set.node(inner).kind {
            let mut used = HashSet::new();
            let mut visited = HashSet::new();
            let record = planner.flat_record(inner, None, columns, &mut used, &mut visited, 0)?;
            if let Some(unused) = opts.mapping.keys().find(|k| !visited.contains(*k)) {
                let mut known: Vec<_> = visited.into_iter().collect();
                known.sort();
                return Err(format!(
                    "mapping names field `{unused}`, which the schema does not have (fields: {})",
                    known.join(", ")
                ));
            }
            let mut columns: Vec<usize> = used.into_iter().collect();
            columns.sort_unstable();
            return Ok(RowPlan::Record(FlatRecord {
                nullable,
                columns,
                record,
            }));
        }
        let (index, field) = columns.find(&opts.column).ok_or_else(|| {
            format!(
                "the schema is a {}, not a record: it is written from column `{}` (set `column`), which the table does not have (columns: {})",
                type_name(set, root),
                opts.column,
                names(columns)
            )
        })?;
        Ok(RowPlan::Value(
            index,
            planner.value(root, field, &opts.column, 0)?,
        ))
    }
}

fn names(fields: &Fields) -> String {
    fields
        .iter()
        .map(|f| f.name().as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

const MAX_DEPTH: usize = 64;

struct Planner<'a> {
    set: &'a SchemaSet,
    opts: &'a MatchOptions,
}

fn join(path: &str, name: &str) -> String {
    if path.is_empty() {
        name.to_string()
    } else {
        format!("{path}.{name}")
    }
}

/// The exact factor between two time units (as a power of 1000).
fn unit_rank(unit: &TimeUnit) -> u32 {
    match unit {
        TimeUnit::Second => 0,
        TimeUnit::Millisecond => 1,
        TimeUnit::Microsecond => 2,
        TimeUnit::Nanosecond => 3,
    }
}

fn rescale(from: &TimeUnit, to: u32) -> Scale {
    let from = unit_rank(from);
    match to.cmp(&from) {
        std::cmp::Ordering::Equal => Scale::One,
        std::cmp::Ordering::Greater => Scale::Mul(1000i64.pow(to - from)),
        std::cmp::Ordering::Less => Scale::Div(1000i64.pow(from - to)),
    }
}

fn is_int_like(dt: &DataType) -> bool {
    dt.is_integer()
        || matches!(
            dt,
            DataType::Date32
                | DataType::Date64
                | DataType::Time32(_)
                | DataType::Time64(_)
                | DataType::Timestamp(_, _)
                | DataType::Duration(_)
        )
}

fn is_int(dt: &DataType) -> bool {
    dt.is_integer()
}

fn is_str(dt: &DataType) -> bool {
    match dt {
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => true,
        DataType::Dictionary(_, v) => {
            matches!(
                v.as_ref(),
                DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View
            )
        }
        _ => false,
    }
}

fn is_binary(dt: &DataType) -> bool {
    matches!(
        dt,
        DataType::Binary
            | DataType::LargeBinary
            | DataType::BinaryView
            | DataType::FixedSizeBinary(_)
    )
}

impl Planner<'_> {
    /// `(T, Some((null branch, T's branch)))` for a `[null, T]` union, else `(node, None)`.
    fn nullable(&self, node: NodeId) -> (NodeId, Option<(i64, i64)>) {
        match (&self.set.node(node).kind, self.set.nullable_inner(node)) {
            (Kind::Union(b), Some(inner)) => {
                let t = b.iter().position(|&x| x == inner).unwrap_or(1) as i64;
                (inner, Some((1 - t, t)))
            }
            _ => (node, None),
        }
    }

    /// A record whose fields come from table columns (the row, or a
    /// flattened nested record at `prefix`: its flattened column path, as
    /// the decoder names it, and its field path, for messages).
    fn flat_record(
        &self,
        record: NodeId,
        prefix: Option<(&str, &str)>,
        columns: &Fields,
        used: &mut HashSet<usize>,
        visited: &mut HashSet<String>,
        depth: usize,
    ) -> Result<RecordPlan, String> {
        if depth > MAX_DEPTH {
            return Err(format!(
                "field `{}`: records nest more than {MAX_DEPTH} levels deep",
                prefix.map(|(_, p)| p).unwrap_or_default()
            ));
        }
        let Kind::Record { fields, .. } = &self.set.node(record).kind else {
            unreachable!("called on records only")
        };
        let sep = &self.opts.separator;
        let mut plans = Vec::with_capacity(fields.len());
        for f in fields {
            // The decoder's column name for this field.
            let (path, avro_path) = match prefix {
                Some((p, a)) => (format!("{p}{sep}{}", f.name), join(a, &f.name)),
                None => (f.name.clone(), f.name.clone()),
            };
            visited.insert(path.clone());
            let column = match self.opts.mapping.get(&path) {
                Some(c) => Some(c.as_str()),
                None if self.opts.mapping_only => None,
                None => Some(path.as_str()),
            };
            if let Some((i, field)) = column.and_then(|c| columns.find(c)) {
                used.insert(i);
                plans.push(FieldPlan::Column(
                    i,
                    self.value(f.ty, field, &avro_path, depth + 1)?,
                ));
                continue;
            }
            let (inner, nullable) = self.nullable(f.ty);
            if let Kind::Record { .. } = self.set.node(inner).kind {
                let mut sub_used = HashSet::new();
                let record = self.flat_record(
                    inner,
                    Some((&path, &avro_path)),
                    columns,
                    &mut sub_used,
                    visited,
                    depth + 1,
                )?;
                if !sub_used.is_empty() {
                    let mut cols: Vec<usize> = sub_used.iter().copied().collect();
                    cols.sort_unstable();
                    used.extend(sub_used);
                    plans.push(FieldPlan::Flat(FlatRecord {
                        nullable,
                        columns: cols,
                        record,
                    }));
                    continue;
                }
            }
            plans.push(self.missing(f.ty, f.default.as_ref(), &avro_path, column, columns)?);
        }
        Ok(RecordPlan { fields: plans })
    }

    /// A field no column feeds: its default, else null when nullable.
    fn missing(
        &self,
        ty: NodeId,
        default: Option<&serde_json::Value>,
        path: &str,
        column: Option<&str>,
        columns: &Fields,
    ) -> Result<FieldPlan, String> {
        let mut bytes = Vec::new();
        if let Some(d) = default {
            encode_default(self.set, ty, d, &mut bytes)
                .map_err(|e| format!("field `{path}`: {e}"))?;
            return Ok(FieldPlan::Constant(bytes));
        }
        if let Kind::Union(b) = &self.set.node(ty).kind
            && let Some(i) = b
                .iter()
                .position(|&x| matches!(self.set.node(x).kind, Kind::Null))
        {
            write_long(i as i64, &mut bytes);
            return Ok(FieldPlan::Constant(bytes));
        }
        Err(format!(
            "field `{path}` ({}) has no column{} and no default, and is not nullable (columns: {})",
            type_name(self.set, ty),
            column.map(|c| format!(" `{c}`")).unwrap_or_default(),
            names(columns)
        ))
    }

    /// A record from a struct column's children, matched by name.
    fn struct_record(
        &self,
        record: NodeId,
        children: &Fields,
        path: &str,
        depth: usize,
    ) -> Result<RecordPlan, String> {
        let Kind::Record { fields, name, .. } = &self.set.node(record).kind else {
            unreachable!("called on records only")
        };
        if let Some(extra) = children
            .iter()
            .find(|c| !fields.iter().any(|f| &f.name == c.name()))
        {
            return Err(format!(
                "field `{path}`: struct field `{}` matches no field of record {name} (fields: {})",
                extra.name(),
                fields
                    .iter()
                    .map(|f| f.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
        let mut plans = Vec::with_capacity(fields.len());
        for f in fields {
            let fpath = join(path, &f.name);
            plans.push(match children.find(&f.name) {
                Some((i, child)) => {
                    FieldPlan::Column(i, self.value(f.ty, child, &fpath, depth + 1)?)
                }
                None => self.missing(f.ty, f.default.as_ref(), &fpath, None, children)?,
            });
        }
        Ok(RecordPlan { fields: plans })
    }

    /// How `field`'s values are written as Avro type `node`.
    fn value(
        &self,
        node: NodeId,
        field: &Field,
        path: &str,
        depth: usize,
    ) -> Result<ValuePlan, String> {
        if depth > MAX_DEPTH {
            return Err(format!(
                "field `{path}`: types nest more than {MAX_DEPTH} levels deep"
            ));
        }
        let set = self.set;
        let dt = field.data_type();
        let plan = |branch, on_null, kind| ValuePlan {
            path: path.to_string(),
            data_type: dt.clone(),
            branch,
            on_null,
            avro_type: type_name(set, node),
            kind,
        };
        let Kind::Union(branches) = &set.node(node).kind else {
            let on_null = match set.node(node).kind {
                Kind::Null => OnNull::Nothing,
                _ => OnNull::Error,
            };
            return Ok(plan(None, on_null, self.kind(node, field, path, depth)?));
        };
        let null = branches
            .iter()
            .position(|&b| matches!(set.node(b).kind, Kind::Null))
            .map(|i| i as i64);
        let on_null = null.map_or(OnNull::Error, OnNull::Branch);
        if let DataType::Union(children, _) = dt {
            let mut plans = Vec::with_capacity(children.len());
            for (type_id, child) in children.iter() {
                let i = self.union_branch(branches, child, path, depth)?;
                let mut p = self.value(branches[i], child, path, depth + 1)?;
                p.branch = Some(i as i64);
                p.on_null = on_null.clone();
                plans.push((type_id, p));
            }
            return Ok(plan(None, OnNull::Nothing, ValueKind::Union(plans)));
        }
        if *dt == DataType::Null
            && let Some(n) = null
        {
            return Ok(plan(Some(n), on_null, ValueKind::Null));
        }
        let mut errors = Vec::new();
        for i in self.candidates(branches, dt) {
            match self.kind(branches[i], field, path, depth) {
                Ok(kind) => return Ok(plan(Some(i as i64), on_null, kind)),
                Err(e) => errors.push(e),
            }
        }
        Err(format!(
            "field `{path}`: a {dt} column fits no branch of union {}{}",
            type_name(set, node),
            errors
                .first()
                .map(|e| format!(" ({e})"))
                .unwrap_or_default()
        ))
    }

    /// The non-null branches to try for a column of type `dt`: the one of the
    /// column's own kind first, then the others in order.
    fn candidates(&self, branches: &[NodeId], dt: &DataType) -> Vec<usize> {
        let natural = |k: &Kind| match (k, dt) {
            (Kind::Boolean, DataType::Boolean) => true,
            (Kind::Int, DataType::Int8 | DataType::Int16 | DataType::Int32 | DataType::UInt8)
            | (Kind::Int, DataType::UInt16 | DataType::Date32 | DataType::Time32(_)) => true,
            (Kind::Long, DataType::Int64 | DataType::UInt32 | DataType::UInt64) => true,
            (Kind::Long, DataType::Timestamp(..) | DataType::Time64(_)) => true,
            (Kind::Float, DataType::Float32) | (Kind::Double, DataType::Float64) => true,
            (Kind::String, _) => is_str(dt),
            (Kind::Bytes, DataType::Binary | DataType::LargeBinary | DataType::BinaryView) => true,
            (Kind::Bytes, DataType::Decimal128(..)) => true,
            (Kind::Fixed { .. }, DataType::FixedSizeBinary(_)) => true,
            (Kind::Array(_), DataType::List(_) | DataType::LargeList(_)) => true,
            (Kind::Map(_), DataType::Map(..)) => true,
            (Kind::Record { .. }, DataType::Struct(_)) => true,
            _ => false,
        };
        let non_null: Vec<usize> = (0..branches.len())
            .filter(|&i| !matches!(self.set.node(branches[i]).kind, Kind::Null))
            .collect();
        let (mut order, rest): (Vec<usize>, Vec<usize>) = non_null
            .into_iter()
            .partition(|&i| natural(&self.set.node(branches[i]).kind));
        order.extend(rest);
        order
    }

    /// The Avro branch an Arrow union child goes to: the `null` branch for a
    /// Null child, the branch of the child's name (as the decoder names
    /// them), else the first it can be written as.
    fn union_branch(
        &self,
        branches: &[NodeId],
        child: &Field,
        path: &str,
        depth: usize,
    ) -> Result<usize, String> {
        let set = self.set;
        if *child.data_type() == DataType::Null {
            return branches
                .iter()
                .position(|&b| matches!(set.node(b).kind, Kind::Null))
                .ok_or_else(|| {
                    format!("field `{path}`: union child `{}` is Null but the Avro union has no null branch", child.name())
                });
        }
        if let Some(i) = branches
            .iter()
            .position(|&b| &branch_name(set, b) == child.name())
        {
            return Ok(i);
        }
        self.candidates(branches, child.data_type())
            .into_iter()
            .find(|&i| self.kind(branches[i], child, path, depth).is_ok())
            .ok_or_else(|| {
                format!(
                    "field `{path}`: union child `{}` ({}) fits no branch of union [{}]",
                    child.name(),
                    child.data_type(),
                    branches
                        .iter()
                        .map(|&b| branch_name(set, b))
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            })
    }

    /// How a non-union Avro type is written from `field`'s values.
    fn kind(
        &self,
        node: NodeId,
        field: &Field,
        path: &str,
        depth: usize,
    ) -> Result<ValueKind, String> {
        use Logical as L;
        let set = self.set;
        let n = set.node(node);
        let dt = field.data_type();
        let cannot = || {
            format!(
                "field `{path}`: a {dt} column cannot be written as Avro {}{}",
                type_name(set, node),
                n.logical.map(|l| format!(" ({l:?})")).unwrap_or_default()
            )
        };
        let int = |min: i64, max: i64, logical: Option<Logical>| -> Option<ValueKind> {
            let scale = match (logical, dt) {
                (_, dt) if is_int(dt) => Scale::One,
                (Some(L::TimestampMillis | L::LocalTimestampMillis), DataType::Timestamp(u, _)) => {
                    rescale(u, 1)
                }
                (Some(L::TimestampMicros | L::LocalTimestampMicros), DataType::Timestamp(u, _)) => {
                    rescale(u, 2)
                }
                (Some(L::TimestampNanos | L::LocalTimestampNanos), DataType::Timestamp(u, _)) => {
                    rescale(u, 3)
                }
                (Some(L::TimeMillis), DataType::Time32(u) | DataType::Time64(u)) => rescale(u, 1),
                (Some(L::TimeMicros), DataType::Time32(u) | DataType::Time64(u)) => rescale(u, 2),
                (Some(L::Date), DataType::Date32) => Scale::One,
                (Some(L::Date), DataType::Date64) => Scale::Div(86_400_000),
                // Without a matching logical type, the raw number.
                (None, dt) if is_int_like(dt) => Scale::One,
                _ => return None,
            };
            Some(ValueKind::Int { min, max, scale })
        };
        let kind = match (&n.kind, n.logical) {
            (Kind::Null, _) => Some(ValueKind::Null),
            (Kind::Boolean, _) => (*dt == DataType::Boolean).then_some(ValueKind::Bool),
            (Kind::Int, logical) => int(i32::MIN.into(), i32::MAX.into(), logical),
            (Kind::Long, logical) => int(i64::MIN, i64::MAX, logical),
            (Kind::Float, _) => (matches!(dt, DataType::Float32 | DataType::Float64) || is_int(dt))
                .then_some(ValueKind::Float),
            (Kind::Double, _) => (matches!(dt, DataType::Float32 | DataType::Float64)
                || is_int(dt))
            .then_some(ValueKind::Double),
            (Kind::String, Some(L::Uuid)) if *dt == DataType::FixedSizeBinary(16) => {
                Some(ValueKind::UuidText)
            }
            (Kind::String, logical) => is_str(dt).then_some(ValueKind::Str {
                uuid: logical == Some(L::Uuid),
            }),
            (Kind::Bytes | Kind::Fixed { .. }, Some(L::Decimal { precision, scale })) => {
                let from_scale = match dt {
                    DataType::Decimal128(_, s) => Some(*s),
                    dt if is_int(dt) => Some(0),
                    _ => None,
                };
                let fixed = match n.kind {
                    Kind::Fixed { size, .. } => Some(size),
                    _ => None,
                };
                from_scale.map(|from_scale| ValueKind::Decimal {
                    precision,
                    scale,
                    from_scale,
                    fixed,
                })
            }
            (Kind::Bytes, _) => (is_binary(dt) || is_str(dt)).then_some(ValueKind::Bytes),
            (Kind::Fixed { size: 16, .. }, Some(L::Uuid)) if is_str(dt) => {
                Some(ValueKind::UuidFromText)
            }
            (Kind::Fixed { size, .. }, _) => match dt {
                DataType::FixedSizeBinary(n) if *n as usize == *size => {
                    Some(ValueKind::Fixed(*size))
                }
                DataType::FixedSizeBinary(n) => {
                    return Err(format!(
                        "field `{path}`: a FixedSizeBinary({n}) column cannot be written as {} of {size} bytes",
                        type_name(set, node)
                    ));
                }
                DataType::Binary | DataType::LargeBinary | DataType::BinaryView => {
                    Some(ValueKind::Fixed(*size))
                }
                _ => None,
            },
            (Kind::Enum { symbols, .. }, _) => is_str(dt).then(|| ValueKind::Enum {
                symbols: symbols
                    .iter()
                    .enumerate()
                    .map(|(i, s)| (s.clone(), i as i64))
                    .collect(),
            }),
            (Kind::Array(items), _) => match dt {
                DataType::List(item) | DataType::LargeList(item) => Some(ValueKind::Array(
                    Box::new(self.value(*items, item, &format!("{path}[]"), depth + 1)?),
                )),
                _ => None,
            },
            (Kind::Map(values), _) => match dt {
                DataType::Map(entries, _) => {
                    let DataType::Struct(kv) = entries.data_type() else {
                        return Err(cannot());
                    };
                    if kv.len() != 2 || !is_str(kv[0].data_type()) {
                        return Err(format!(
                            "field `{path}`: map keys must be strings to be written as an Avro map, not {}",
                            kv.first()
                                .map(|k| k.data_type().to_string())
                                .unwrap_or_default()
                        ));
                    }
                    Some(ValueKind::Map(Box::new(self.value(
                        *values,
                        &kv[1],
                        &format!("{path}{{}}"),
                        depth + 1,
                    )?)))
                }
                _ => None,
            },
            (Kind::Record { .. }, _) => match dt {
                DataType::Struct(children) => Some(ValueKind::Record(self.struct_record(
                    node,
                    children,
                    path,
                    depth + 1,
                )?)),
                _ => None,
            },
            (Kind::Union(_), _) => {
                return Err(format!(
                    "field `{path}`: a union directly inside a union is not valid Avro"
                ));
            }
        };
        kind.ok_or_else(cannot)
    }
}
