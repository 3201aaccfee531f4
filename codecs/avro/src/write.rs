//! The write program: a [`RowPlan`] bound to one batch's arrays (each
//! downcast once per batch), writing each row straight into one buffer,
//! without an intermediate value per row.

use std::collections::HashMap;

use topictable_sdk::arrow_array::cast::AsArray;
use topictable_sdk::arrow_array::types::*;
use topictable_sdk::arrow_array::{
    Array, ArrayRef, BinaryViewArray, BooleanArray, FixedSizeBinaryArray, GenericBinaryArray,
    GenericStringArray, StringViewArray,
};
use topictable_sdk::arrow_buffer::NullBuffer;
use topictable_sdk::arrow_schema::{DataType, TimeUnit};

use crate::datum::{write_bytes, write_long};
use crate::write_plan::{
    FieldPlan, FlatRecord, OnNull, RecordPlan, RowPlan, Scale, ValueKind, ValuePlan,
};

impl RowPlan {
    /// The plan bound to a batch's columns.
    pub fn bind<'a>(&'a self, columns: &'a [ArrayRef]) -> Result<BoundRow<'a>, String> {
        Ok(match self {
            RowPlan::Record(flat) => BoundRow::Record(flat.bind(columns)?),
            RowPlan::Value(i, plan) => {
                let array = columns
                    .get(*i)
                    .ok_or_else(|| format!("the batch has no column {i}"))?;
                BoundRow::Value(plan.bind(array)?)
            }
        })
    }
}
/// Integers of any integer-like Arrow array.
#[derive(Clone, Copy)]
enum Ints<'a> {
    I8(&'a [i8]),
    I16(&'a [i16]),
    I32(&'a [i32]),
    I64(&'a [i64]),
    U8(&'a [u8]),
    U16(&'a [u16]),
    U32(&'a [u32]),
    U64(&'a [u64]),
}

impl<'a> Ints<'a> {
    fn of(a: &'a dyn Array) -> Option<Self> {
        macro_rules! p {
            ($t:ty, $v:ident) => {
                a.as_primitive_opt::<$t>().map(|p| Ints::$v(p.values()))
            };
        }
        match a.data_type() {
            DataType::Int8 => p!(Int8Type, I8),
            DataType::Int16 => p!(Int16Type, I16),
            DataType::Int32 => p!(Int32Type, I32),
            DataType::Int64 => p!(Int64Type, I64),
            DataType::UInt8 => p!(UInt8Type, U8),
            DataType::UInt16 => p!(UInt16Type, U16),
            DataType::UInt32 => p!(UInt32Type, U32),
            DataType::UInt64 => p!(UInt64Type, U64),
            DataType::Date32 => p!(Date32Type, I32),
            DataType::Date64 => p!(Date64Type, I64),
            DataType::Time32(TimeUnit::Second) => p!(Time32SecondType, I32),
            DataType::Time32(_) => p!(Time32MillisecondType, I32),
            DataType::Time64(TimeUnit::Microsecond) => p!(Time64MicrosecondType, I64),
            DataType::Time64(_) => p!(Time64NanosecondType, I64),
            DataType::Timestamp(TimeUnit::Second, _) => p!(TimestampSecondType, I64),
            DataType::Timestamp(TimeUnit::Millisecond, _) => p!(TimestampMillisecondType, I64),
            DataType::Timestamp(TimeUnit::Microsecond, _) => p!(TimestampMicrosecondType, I64),
            DataType::Timestamp(TimeUnit::Nanosecond, _) => p!(TimestampNanosecondType, I64),
            DataType::Duration(TimeUnit::Second) => p!(DurationSecondType, I64),
            DataType::Duration(TimeUnit::Millisecond) => p!(DurationMillisecondType, I64),
            DataType::Duration(TimeUnit::Microsecond) => p!(DurationMicrosecondType, I64),
            DataType::Duration(TimeUnit::Nanosecond) => p!(DurationNanosecondType, I64),
            _ => None,
        }
    }

    /// Value `i`, or `None` for a `u64` above `i64::MAX`.
    #[inline]
    fn get(&self, i: usize) -> Option<i64> {
        Some(match self {
            Ints::I8(v) => v[i].into(),
            Ints::I16(v) => v[i].into(),
            Ints::I32(v) => v[i].into(),
            Ints::I64(v) => v[i],
            Ints::U8(v) => v[i].into(),
            Ints::U16(v) => v[i].into(),
            Ints::U32(v) => v[i].into(),
            Ints::U64(v) => return i64::try_from(v[i]).ok(),
        })
    }
}

/// Strings of a string or string-dictionary array.
enum Strs<'a> {
    Utf8(&'a GenericStringArray<i32>),
    Large(&'a GenericStringArray<i64>),
    View(&'a StringViewArray),
    Dict(Ints<'a>, Box<Strs<'a>>),
}

impl<'a> Strs<'a> {
    fn of(a: &'a dyn Array) -> Option<Self> {
        match a.data_type() {
            DataType::Utf8 => a.as_string_opt::<i32>().map(Strs::Utf8),
            DataType::LargeUtf8 => a.as_string_opt::<i64>().map(Strs::Large),
            DataType::Utf8View => a.as_string_view_opt().map(Strs::View),
            DataType::Dictionary(..) => {
                let d = a.as_any_dictionary_opt()?;
                Some(Strs::Dict(
                    Ints::of(d.keys())?,
                    Box::new(Strs::of(d.values().as_ref())?),
                ))
            }
            _ => None,
        }
    }

    #[inline]
    fn get(&self, i: usize) -> &'a str {
        match self {
            Strs::Utf8(a) => a.value(i),
            Strs::Large(a) => a.value(i),
            Strs::View(a) => a.value(i),
            Strs::Dict(keys, values) => values.get(keys.get(i).unwrap_or_default() as usize),
        }
    }
}

/// Bytes of a binary, fixed-size binary or string array.
enum Bins<'a> {
    Binary(&'a GenericBinaryArray<i32>),
    Large(&'a GenericBinaryArray<i64>),
    View(&'a BinaryViewArray),
    Fixed(&'a FixedSizeBinaryArray),
    Str(Strs<'a>),
}

impl<'a> Bins<'a> {
    fn of(a: &'a dyn Array) -> Option<Self> {
        match a.data_type() {
            DataType::Binary => a.as_binary_opt::<i32>().map(Bins::Binary),
            DataType::LargeBinary => a.as_binary_opt::<i64>().map(Bins::Large),
            DataType::BinaryView => a.as_binary_view_opt().map(Bins::View),
            DataType::FixedSizeBinary(_) => a.as_fixed_size_binary_opt().map(Bins::Fixed),
            _ => Strs::of(a).map(Bins::Str),
        }
    }

    #[inline]
    fn get(&self, i: usize) -> &'a [u8] {
        match self {
            Bins::Binary(a) => a.value(i),
            Bins::Large(a) => a.value(i),
            Bins::View(a) => a.value(i),
            Bins::Fixed(a) => a.value(i),
            Bins::Str(s) => s.get(i).as_bytes(),
        }
    }
}

/// List offsets, 32 or 64 bits.
enum Offsets<'a> {
    Small(&'a [i32]),
    Large(&'a [i64]),
}

impl Offsets<'_> {
    #[inline]
    fn range(&self, i: usize) -> std::ops::Range<usize> {
        match self {
            Offsets::Small(o) => o[i] as usize..o[i + 1] as usize,
            Offsets::Large(o) => o[i] as usize..o[i + 1] as usize,
        }
    }
}

/// A value plan's data in one batch.
enum Data<'a> {
    /// 64-bit integers written as they are: no scale, no range to check.
    Long(&'a [i64]),
    /// 32-bit integers written as they are (they fit `int` and `long`).
    Int32(&'a [i32]),
    /// Plain UTF-8 strings (not UUIDs): the common string column.
    Utf8(&'a GenericStringArray<i32>),
    Null,
    Bool(&'a BooleanArray),
    Ints(Ints<'a>),
    F32(&'a [f32]),
    F64(&'a [f64]),
    Strs(Strs<'a>),
    Bins(Bins<'a>),
    Decimals(&'a [i128]),
    /// Enum symbols by dictionary key, computed once per batch.
    EnumDict(Ints<'a>, Vec<Option<i64>>, Strs<'a>),
    EnumStr(Strs<'a>, &'a HashMap<String, i64>),
    List(Offsets<'a>, Box<BoundValue<'a>>),
    Map(&'a [i32], Strs<'a>, Box<BoundValue<'a>>),
    Record(BoundRecord<'a>),
    /// Per Arrow type id, the child's plan; with the type ids and (dense) offsets.
    Union(&'a [i8], Option<&'a [i32]>, Vec<Option<BoundValue<'a>>>),
}

/// A value plan bound to one array of a batch.
pub struct BoundValue<'a> {
    plan: &'a ValuePlan,
    nulls: Option<NullBuffer>,
    data: Data<'a>,
}

/// A record plan bound to a batch's arrays.
pub struct BoundRecord<'a> {
    fields: Vec<BoundField<'a>>,
}

enum BoundField<'a> {
    Value(BoundValue<'a>),
    Flat(BoundFlat<'a>),
    Constant(&'a [u8]),
}

/// A flattened record bound to a batch.
pub struct BoundFlat<'a> {
    nullable: Option<(i64, i64)>,
    /// The null masks of its columns; `None` when one column has no nulls
    /// (the record is then never null).
    nulls: Option<Vec<NullBuffer>>,
    record: BoundRecord<'a>,
}

/// A row plan bound to a batch.
pub enum BoundRow<'a> {
    /// A record.
    Record(BoundFlat<'a>),
    /// A single column.
    Value(BoundValue<'a>),
}

fn wrong_type(plan: &ValuePlan, a: &dyn Array) -> String {
    format!(
        "field `{}`: the column is {}, not the {} the encoder was created for",
        plan.path,
        a.data_type(),
        plan.data_type
    )
}

impl RecordPlan {
    fn bind<'a>(&'a self, arrays: &'a [ArrayRef]) -> Result<BoundRecord<'a>, String> {
        let fields = self
            .fields
            .iter()
            .map(|f| {
                Ok(match f {
                    FieldPlan::Column(i, plan) => {
                        let a = arrays
                            .get(*i)
                            .ok_or_else(|| format!("field `{}`: no column {i}", plan.path))?;
                        BoundField::Value(plan.bind(a)?)
                    }
                    FieldPlan::Flat(flat) => BoundField::Flat(flat.bind(arrays)?),
                    FieldPlan::Constant(bytes) => BoundField::Constant(bytes),
                })
            })
            .collect::<Result<_, String>>()?;
        Ok(BoundRecord { fields })
    }
}

impl FlatRecord {
    fn bind<'a>(&'a self, arrays: &'a [ArrayRef]) -> Result<BoundFlat<'a>, String> {
        let nulls = match self.nullable {
            None => None,
            Some(_) => self
                .columns
                .iter()
                .map(|&i| arrays.get(i).and_then(|a| a.logical_nulls()))
                .collect::<Option<Vec<_>>>(),
        };
        Ok(BoundFlat {
            nullable: self.nullable,
            nulls,
            record: self.record.bind(arrays)?,
        })
    }
}

impl ValuePlan {
    fn bind<'a>(&'a self, a: &'a ArrayRef) -> Result<BoundValue<'a>, String> {
        if a.data_type() != &self.data_type {
            return Err(wrong_type(self, a.as_ref()));
        }
        let bad = || wrong_type(self, a.as_ref());
        let data = match &self.kind {
            ValueKind::Null => Data::Null,
            ValueKind::Bool => Data::Bool(a.as_boolean_opt().ok_or_else(bad)?),
            ValueKind::Int {
                min,
                max,
                scale: Scale::One,
            } => match Ints::of(a.as_ref()).ok_or_else(bad)? {
                Ints::I64(v) if *min == i64::MIN && *max == i64::MAX => Data::Long(v),
                Ints::I32(v) if *min <= i64::from(i32::MIN) && *max >= i64::from(i32::MAX) => {
                    Data::Int32(v)
                }
                ints => Data::Ints(ints),
            },
            ValueKind::Int { .. } => Data::Ints(Ints::of(a.as_ref()).ok_or_else(bad)?),
            ValueKind::Float | ValueKind::Double => match a.data_type() {
                DataType::Float32 => Data::F32(
                    a.as_primitive_opt::<Float32Type>()
                        .ok_or_else(bad)?
                        .values(),
                ),
                DataType::Float64 => Data::F64(
                    a.as_primitive_opt::<Float64Type>()
                        .ok_or_else(bad)?
                        .values(),
                ),
                _ => Data::Ints(Ints::of(a.as_ref()).ok_or_else(bad)?),
            },
            ValueKind::Str { uuid: false } => match Strs::of(a.as_ref()).ok_or_else(bad)? {
                Strs::Utf8(a) => Data::Utf8(a),
                strs => Data::Strs(strs),
            },
            ValueKind::Str { .. } | ValueKind::UuidFromText => {
                Data::Strs(Strs::of(a.as_ref()).ok_or_else(bad)?)
            }
            ValueKind::Bytes | ValueKind::Fixed(_) | ValueKind::UuidText => {
                Data::Bins(Bins::of(a.as_ref()).ok_or_else(bad)?)
            }
            ValueKind::Decimal { .. } => match a.data_type() {
                DataType::Decimal128(..) => Data::Decimals(
                    a.as_primitive_opt::<Decimal128Type>()
                        .ok_or_else(bad)?
                        .values(),
                ),
                _ => Data::Ints(Ints::of(a.as_ref()).ok_or_else(bad)?),
            },
            ValueKind::Enum { symbols } => match a.as_any_dictionary_opt() {
                Some(d) => {
                    let values = Strs::of(d.values().as_ref()).ok_or_else(bad)?;
                    let value_nulls = d.values().logical_nulls();
                    let map = (0..d.values().len())
                        .map(|i| {
                            if value_nulls.as_ref().is_some_and(|n| n.is_null(i)) {
                                return None;
                            }
                            symbols.get(values.get(i)).copied()
                        })
                        .collect();
                    Data::EnumDict(Ints::of(d.keys()).ok_or_else(bad)?, map, values)
                }
                None => Data::EnumStr(Strs::of(a.as_ref()).ok_or_else(bad)?, symbols),
            },
            ValueKind::Array(item) => {
                let (offsets, values) = match a.data_type() {
                    DataType::List(_) => {
                        let l = a.as_list_opt::<i32>().ok_or_else(bad)?;
                        (Offsets::Small(l.value_offsets()), l.values())
                    }
                    _ => {
                        let l = a.as_list_opt::<i64>().ok_or_else(bad)?;
                        (Offsets::Large(l.value_offsets()), l.values())
                    }
                };
                Data::List(offsets, Box::new(item.bind(values)?))
            }
            ValueKind::Map(value) => {
                let m = a.as_map_opt().ok_or_else(bad)?;
                Data::Map(
                    m.value_offsets(),
                    Strs::of(m.keys().as_ref()).ok_or_else(bad)?,
                    Box::new(value.bind(m.values())?),
                )
            }
            ValueKind::Record(record) => {
                let s = a.as_struct_opt().ok_or_else(bad)?;
                Data::Record(record.bind(s.columns())?)
            }
            ValueKind::Union(children) => {
                let u = a.as_union_opt().ok_or_else(bad)?;
                let mut bound: Vec<Option<BoundValue<'a>>> = Vec::new();
                for (type_id, plan) in children {
                    let slot = usize::try_from(*type_id).map_err(|_| bad())?;
                    if bound.len() <= slot {
                        bound.resize_with(slot + 1, || None);
                    }
                    bound[slot] = Some(plan.bind(u.child(*type_id))?);
                }
                Data::Union(u.type_ids(), u.offsets().map(|o| &o[..]), bound)
            }
        };
        let nulls = match &self.kind {
            // A union's nulls are its children's.
            ValueKind::Union(_) => None,
            _ => a.logical_nulls().filter(|n| n.null_count() > 0),
        };
        Ok(BoundValue {
            plan: self,
            nulls,
            data,
        })
    }
}

/// A value that cannot be written, with where it is.
fn fail(plan: &ValuePlan, message: impl std::fmt::Display) -> String {
    if plan.path.is_empty() {
        message.to_string()
    } else {
        format!("field `{}`: {message}", plan.path)
    }
}

/// Writes the minimal big-endian two's complement bytes of `v`, padded
/// with its sign to `size` bytes when given.
fn decimal_bytes(v: i128, size: Option<usize>, out: &mut Vec<u8>) -> Result<(), String> {
    let be = v.to_be_bytes();
    let sign = if v < 0 { 0xff } else { 0 };
    // Drop leading sign bytes while the next byte keeps the sign bit.
    let mut start = 0;
    while start < 15 && be[start] == sign && (be[start + 1] & 0x80) == (sign & 0x80) {
        start += 1;
    }
    let minimal = &be[start..];
    match size {
        None => write_bytes(minimal, out),
        Some(n) if minimal.len() <= n => {
            out.resize(out.len() + n - minimal.len(), sign);
            out.extend_from_slice(minimal);
        }
        Some(n) => {
            return Err(format!(
                "decimal needs {} bytes, the fixed type has {n}",
                minimal.len()
            ));
        }
    }
    Ok(())
}

const POW10: [i128; 39] = {
    let mut t = [1i128; 39];
    let mut i = 1;
    while i < 39 {
        t[i] = t[i - 1] * 10;
        i += 1;
    }
    t
};

impl BoundValue<'_> {
    /// Writes the value at index `i`.
    pub fn write(&self, i: usize, out: &mut Vec<u8>) -> Result<(), String> {
        let plan = self.plan;
        if self.nulls.as_ref().is_some_and(|n| n.is_null(i)) {
            return match plan.on_null {
                OnNull::Branch(b) => {
                    write_long(b, out);
                    Ok(())
                }
                OnNull::Nothing => Ok(()),
                OnNull::Error => Err(fail(
                    plan,
                    format_args!("null, but its type {} is not nullable", plan.avro_type),
                )),
            };
        }
        if let Some(b) = plan.branch {
            write_long(b, out);
        }
        match (&self.data, &plan.kind) {
            // The common cases first, with nothing to check.
            (Data::Long(v), _) => write_long(v[i], out),
            (Data::Int32(v), _) => write_long(v[i].into(), out),
            (Data::Utf8(a), _) => write_bytes(a.value(i).as_bytes(), out),
            // Nulls were written above: a value cannot be written as `null`.
            (Data::Null, _) => return Err(fail(plan, "a value, but the Avro type is null")),
            (Data::Bool(a), _) => out.push(u8::from(a.value(i))),
            (Data::Ints(v), ValueKind::Int { min, max, scale }) => {
                let raw = v
                    .get(i)
                    .ok_or_else(|| fail(plan, "an unsigned value above the long range"))?;
                let value = match scale {
                    Scale::One => Some(raw),
                    Scale::Mul(f) => raw.checked_mul(*f),
                    Scale::Div(f) => Some(raw.div_euclid(*f)),
                }
                .filter(|x| (*min..=*max).contains(x))
                .ok_or_else(|| {
                    fail(
                        plan,
                        format_args!("{raw} does not fit Avro {}", plan.avro_type),
                    )
                })?;
                write_long(value, out);
            }
            (Data::Ints(v), ValueKind::Float | ValueKind::Double) => {
                let raw = v
                    .get(i)
                    .ok_or_else(|| fail(plan, "an unsigned value above the long range"))?;
                if let ValueKind::Float = plan.kind {
                    out.extend_from_slice(&(raw as f32).to_le_bytes());
                } else {
                    out.extend_from_slice(&(raw as f64).to_le_bytes());
                }
            }
            (Data::F32(v), ValueKind::Float) => out.extend_from_slice(&v[i].to_le_bytes()),
            (Data::F32(v), _) => out.extend_from_slice(&f64::from(v[i]).to_le_bytes()),
            (Data::F64(v), ValueKind::Float) => out.extend_from_slice(&(v[i] as f32).to_le_bytes()),
            (Data::F64(v), _) => out.extend_from_slice(&v[i].to_le_bytes()),
            (Data::Strs(s), ValueKind::Str { uuid }) => {
                let text = s.get(i);
                if *uuid && uuid::Uuid::try_parse(text).is_err() {
                    return Err(fail(plan, format_args!("`{text}` is not a UUID")));
                }
                write_bytes(text.as_bytes(), out);
            }
            (Data::Strs(s), _) => {
                // A UUID text into fixed(16).
                let text = s.get(i);
                let id = uuid::Uuid::try_parse(text)
                    .map_err(|_| fail(plan, format_args!("`{text}` is not a UUID")))?;
                out.extend_from_slice(id.as_bytes());
            }
            (Data::Bins(b), ValueKind::Bytes) => write_bytes(b.get(i), out),
            (Data::Bins(b), ValueKind::Fixed(size)) => {
                let bytes = b.get(i);
                if bytes.len() != *size {
                    return Err(fail(
                        plan,
                        format_args!(
                            "{} bytes for {} of {size} bytes",
                            bytes.len(),
                            plan.avro_type
                        ),
                    ));
                }
                out.extend_from_slice(bytes);
            }
            (Data::Bins(b), _) => {
                // 16 bytes into a UUID text.
                let id = uuid::Uuid::from_slice(b.get(i))
                    .map_err(|e| fail(plan, format_args!("not a UUID: {e}")))?;
                let mut text = [0u8; 36];
                write_bytes(id.hyphenated().encode_lower(&mut text).as_bytes(), out);
            }
            (
                Data::Decimals(_) | Data::Ints(_),
                ValueKind::Decimal {
                    precision,
                    scale,
                    from_scale,
                    fixed,
                },
            ) => {
                let raw: i128 = match &self.data {
                    Data::Decimals(v) => v[i],
                    Data::Ints(v) => v
                        .get(i)
                        .ok_or_else(|| fail(plan, "an unsigned value above the long range"))?
                        .into(),
                    _ => unreachable!("matched above"),
                };
                let shift = i32::from(*scale) - i32::from(*from_scale);
                let value = if shift >= 0 {
                    POW10.get(shift as usize).and_then(|f| raw.checked_mul(*f))
                } else {
                    POW10
                        .get((-shift) as usize)
                        .filter(|f| raw % **f == 0)
                        .map(|f| raw / f)
                };
                let limit = POW10[usize::from((*precision).min(38))];
                let value = value.filter(|v| v.abs() < limit).ok_or_else(|| {
                    fail(
                        plan,
                        format_args!(
                            "{} does not fit decimal({precision}, {scale})",
                            render_decimal(raw, *from_scale)
                        ),
                    )
                })?;
                decimal_bytes(value, *fixed, out).map_err(|e| fail(plan, e))?;
            }
            (Data::EnumDict(keys, map, values), _) => {
                let key = keys.get(i).unwrap_or_default() as usize;
                let index = map.get(key).copied().flatten().ok_or_else(|| {
                    fail(
                        plan,
                        format_args!(
                            "`{}` is not a symbol of enum {}",
                            values.get(key),
                            plan.avro_type
                        ),
                    )
                })?;
                write_long(index, out);
            }
            (Data::EnumStr(s, symbols), _) => {
                let text = s.get(i);
                let index = symbols.get(text).ok_or_else(|| {
                    fail(
                        plan,
                        format_args!("`{text}` is not a symbol of enum {}", plan.avro_type),
                    )
                })?;
                write_long(*index, out);
            }
            (Data::List(offsets, item), _) => {
                let range = offsets.range(i);
                if !range.is_empty() {
                    write_long(range.len() as i64, out);
                    for j in range {
                        item.write(j, out)?;
                    }
                }
                out.push(0);
            }
            (Data::Map(offsets, keys, value), _) => {
                let (start, end) = (offsets[i] as usize, offsets[i + 1] as usize);
                if end > start {
                    write_long((end - start) as i64, out);
                    for j in start..end {
                        write_bytes(keys.get(j).as_bytes(), out);
                        value.write(j, out)?;
                    }
                }
                out.push(0);
            }
            (Data::Record(r), _) => r.write(i, out)?,
            (Data::Union(type_ids, offsets, children), _) => {
                let t = type_ids[i];
                let at = offsets.map_or(i, |o| o[i] as usize);
                let child = usize::try_from(t)
                    .ok()
                    .and_then(|t| children.get(t))
                    .and_then(Option::as_ref)
                    .ok_or_else(|| fail(plan, format_args!("unknown union type id {t}")))?;
                child.write(at, out)?;
            }
            (_, _) => {
                return Err(fail(plan, "internal: column data does not match the plan"));
            }
        }
        Ok(())
    }
}

fn render_decimal(v: i128, scale: i8) -> String {
    if scale <= 0 {
        return format!("{v}{}", "0".repeat((-scale) as usize));
    }
    let digits = v.unsigned_abs().to_string();
    let scale = scale as usize;
    let padded = format!("{digits:0>width$}", width = scale + 1);
    let (int, frac) = padded.split_at(padded.len() - scale);
    format!("{}{int}.{frac}", if v < 0 { "-" } else { "" })
}

impl BoundRecord<'_> {
    fn write(&self, i: usize, out: &mut Vec<u8>) -> Result<(), String> {
        for f in &self.fields {
            match f {
                BoundField::Value(v) => v.write(i, out)?,
                BoundField::Flat(flat) => flat.write(i, out)?,
                BoundField::Constant(bytes) => out.extend_from_slice(bytes),
            }
        }
        Ok(())
    }
}

impl BoundFlat<'_> {
    fn write(&self, i: usize, out: &mut Vec<u8>) -> Result<(), String> {
        if let Some((null, record)) = self.nullable {
            let all_null = self
                .nulls
                .as_ref()
                .is_some_and(|n| n.iter().all(|n| n.is_null(i)));
            if all_null {
                write_long(null, out);
                return Ok(());
            }
            write_long(record, out);
        }
        self.record.write(i, out)
    }
}

impl BoundRow<'_> {
    /// Writes row `i`; `Ok(false)` when the row has no bytes (a null cell
    /// written bare as a type that is not nullable).
    pub fn write(&self, i: usize, out: &mut Vec<u8>) -> Result<bool, String> {
        match self {
            BoundRow::Record(flat) => flat.write(i, out).map(|()| true),
            BoundRow::Value(v) => {
                if matches!(v.plan.on_null, OnNull::Error)
                    && v.nulls.as_ref().is_some_and(|n| n.is_null(i))
                {
                    return Ok(false);
                }
                v.write(i, out).map(|()| true)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimals_are_minimal_twos_complement() {
        let enc = |v: i128, size| {
            let mut out = Vec::new();
            decimal_bytes(v, size, &mut out).map(|()| out)
        };
        assert_eq!(enc(0, None).unwrap(), vec![2, 0]);
        assert_eq!(enc(127, None).unwrap(), vec![2, 0x7f]);
        assert_eq!(enc(128, None).unwrap(), vec![4, 0x00, 0x80]);
        assert_eq!(enc(-1, None).unwrap(), vec![2, 0xff]);
        assert_eq!(enc(-128, None).unwrap(), vec![2, 0x80]);
        assert_eq!(enc(-129, None).unwrap(), vec![4, 0xff, 0x7f]);
        assert_eq!(enc(-2, Some(4)).unwrap(), vec![0xff, 0xff, 0xff, 0xfe]);
        assert_eq!(
            enc(1 << 40, Some(4)).unwrap_err(),
            "decimal needs 6 bytes, the fixed type has 4"
        );
        assert_eq!(render_decimal(-123456, 2), "-1234.56");
        assert_eq!(render_decimal(5, 3), "0.005");
    }
}
