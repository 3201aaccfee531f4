//! Output columns: growable buffers that can be cut back to a row count (so a
//! message that fails half-way leaves no partial row), then finished into
//! Arrow arrays. The leaves are `topictable-columns`' shared buffers; the
//! arena adds Avro's fixed, enum and nested kinds.

use std::sync::Arc;

use topictable_columns::{BooleanBuf, BytesBuf, ColumnError, PrimitiveBuf, Validity};
use topictable_sdk::arrow_array::types::{
    Date32Type, Decimal128Type, Float32Type, Float64Type, Int32Type, Int64Type,
    Time32MillisecondType, Time64MicrosecondType, TimestampMicrosecondType,
    TimestampMillisecondType, TimestampNanosecondType,
};
use topictable_sdk::arrow_array::{
    ArrayRef, DictionaryArray, FixedSizeBinaryArray, ListArray, MapArray, NullArray, StructArray,
    UnionArray,
};
use topictable_sdk::arrow_buffer::{Buffer, OffsetBuffer, ScalarBuffer};
use topictable_sdk::arrow_schema::{DataType, TimeUnit};

/// A column id in a [`Columns`] arena.
pub type ColId = usize;

/// The values of one column, with their validity. Leaves are the shared
/// buffers of `topictable-columns`; fixed-size bytes, enums and the nested
/// kinds are Avro's own.
#[derive(Debug)]
pub enum Data {
    /// Nulls only.
    Null {
        /// Number of rows.
        len: usize,
    },
    /// Booleans.
    Bool(BooleanBuf),
    /// 32-bit values (int, date, time-millis).
    I32(PrimitiveBuf<i32>),
    /// 64-bit values (long, time-micros, timestamps).
    I64(PrimitiveBuf<i64>),
    /// `float`.
    F32(PrimitiveBuf<f32>),
    /// `double`.
    F64(PrimitiveBuf<f64>),
    /// Decimals.
    I128(PrimitiveBuf<i128>),
    /// Variable-length bytes (string, bytes).
    Bytes(BytesBuf),
    /// Fixed-size bytes.
    Fixed {
        /// Bytes per value.
        size: usize,
        /// The bytes.
        data: Vec<u8>,
        /// Validity, one bit per row.
        valid: Validity,
    },
    /// Enum symbol indexes into a fixed dictionary.
    Dict {
        /// Per row, the symbol index.
        keys: PrimitiveBuf<i32>,
        /// The symbols.
        values: ArrayRef,
    },
    /// A list of `child` values.
    List {
        /// `len + 1` offsets into the child.
        offsets: Vec<i32>,
        /// The item column.
        child: ColId,
        /// Validity, one bit per row.
        valid: Validity,
    },
    /// A map: offsets into the `keys` and `values` columns.
    Map {
        /// `len + 1` offsets.
        offsets: Vec<i32>,
        /// The key column (strings).
        keys: ColId,
        /// The value column.
        values: ColId,
        /// Validity, one bit per row.
        valid: Validity,
    },
    /// A struct of child columns, each as long as this one.
    Struct {
        /// The children.
        children: Vec<ColId>,
        /// Validity, one bit per row.
        valid: Validity,
    },
    /// A dense union: per row, a child (the type id) and an offset into it.
    /// It has no validity of its own: its nulls are its children's.
    Union {
        /// Per row, the child's index (its Arrow type id).
        type_ids: Vec<i8>,
        /// Per row, the value's index in that child.
        offsets: Vec<i32>,
        /// The children, one per branch.
        children: Vec<ColId>,
        /// The child of the `null` branch, if the union has one.
        null_child: Option<usize>,
    },
}

impl Data {
    /// A list of `child`'s values.
    pub fn list(child: ColId) -> Self {
        Self::List {
            offsets: vec![0],
            child,
            valid: Validity::new(),
        }
    }

    /// A map of `keys` to `values`.
    pub fn map(keys: ColId, values: ColId) -> Self {
        Self::Map {
            offsets: vec![0],
            keys,
            values,
            valid: Validity::new(),
        }
    }

    /// A struct of `children`.
    pub fn record(children: Vec<ColId>) -> Self {
        Self::Struct {
            children,
            valid: Validity::new(),
        }
    }

    /// A dense union of `children`, one per branch.
    pub fn union(children: Vec<ColId>, null_child: Option<usize>) -> Self {
        Self::Union {
            type_ids: Vec::new(),
            offsets: Vec::new(),
            children,
            null_child,
        }
    }
}

/// One column: its Arrow type, values and validity.
#[derive(Debug)]
pub struct Column {
    /// The Arrow type it finishes into.
    pub data_type: DataType,
    /// Its values and validity.
    pub data: Data,
}

/// All columns of a decoder, top-level and nested, by id.
#[derive(Debug, Default)]
pub struct Columns {
    /// The columns.
    pub cols: Vec<Column>,
}

impl Columns {
    /// Adds a column and returns its id (children must already be added).
    pub fn add(&mut self, data_type: DataType, data: Data) -> ColId {
        self.cols.push(Column { data_type, data });
        self.cols.len() - 1
    }

    /// Adds a column of a type without children (enums pass their symbols).
    pub fn add_leaf(&mut self, data_type: DataType, dict_values: Option<ArrayRef>) -> ColId {
        let data = match &data_type {
            DataType::Null => Data::Null { len: 0 },
            DataType::Boolean => Data::Bool(BooleanBuf::new()),
            DataType::Int32 | DataType::Date32 | DataType::Time32(_) => {
                Data::I32(PrimitiveBuf::new())
            }
            DataType::Int64 | DataType::Time64(_) | DataType::Timestamp(_, _) => {
                Data::I64(PrimitiveBuf::new())
            }
            DataType::Float32 => Data::F32(PrimitiveBuf::new()),
            DataType::Float64 => Data::F64(PrimitiveBuf::new()),
            DataType::Decimal128(_, _) => Data::I128(PrimitiveBuf::new()),
            DataType::Utf8 | DataType::Binary => Data::Bytes(BytesBuf::new()),
            DataType::FixedSizeBinary(n) => Data::Fixed {
                size: *n as usize,
                data: Vec::new(),
                valid: Validity::new(),
            },
            DataType::Dictionary(_, _) => Data::Dict {
                keys: PrimitiveBuf::new(),
                values: dict_values.expect("an enum column comes with its symbols"),
            },
            other => unreachable!("{other} is not a leaf type"),
        };
        self.add(data_type, data)
    }

    /// Number of rows in column `c`.
    #[inline]
    pub fn len(&self, c: ColId) -> usize {
        match &self.cols[c].data {
            Data::Null { len } => *len,
            Data::Bool(b) => b.len(),
            Data::I32(b) | Data::Dict { keys: b, .. } => b.len(),
            Data::I64(b) => b.len(),
            Data::F32(b) => b.len(),
            Data::F64(b) => b.len(),
            Data::I128(b) => b.len(),
            Data::Bytes(b) => b.len(),
            Data::Fixed { valid, .. }
            | Data::List { valid, .. }
            | Data::Map { valid, .. }
            | Data::Struct { valid, .. } => valid.len(),
            Data::Union { type_ids, .. } => type_ids.len(),
        }
    }

    /// Appends a null to column `c` (and an empty slot to its children).
    pub fn append_null(&mut self, c: ColId) {
        if let Data::Union {
            children,
            null_child,
            ..
        } = &self.cols[c].data
        {
            // The null branch if there is one, else a null in the first child
            // (a union has no validity of its own).
            let branch = null_child.unwrap_or(0);
            if let Some(&child) = children.get(branch) {
                self.append_union(c, branch as i8, child);
                self.append_null(child);
            }
            return;
        }
        match &mut self.cols[c].data {
            Data::Null { len } => *len += 1,
            Data::Bool(b) => b.push_null(),
            Data::I32(b) | Data::Dict { keys: b, .. } => b.push_null(),
            Data::I64(b) => b.push_null(),
            Data::F32(b) => b.push_null(),
            Data::F64(b) => b.push_null(),
            Data::I128(b) => b.push_null(),
            Data::Bytes(b) => b.push_null(),
            Data::Fixed { size, data, valid } => {
                data.resize(data.len() + *size, 0);
                valid.append_null();
            }
            Data::List { offsets, valid, .. } | Data::Map { offsets, valid, .. } => {
                let last = *offsets.last().unwrap_or(&0);
                offsets.push(last);
                valid.append_null();
            }
            Data::Struct { children, valid } => {
                valid.append_null();
                for child in children.clone() {
                    self.append_null(child);
                }
            }
            Data::Union { .. } => unreachable!("handled above"),
        }
    }

    /// Appends a value of branch `type_id` to union column `c`, pointing at
    /// the next slot of `child` (which the caller then fills).
    #[inline]
    pub fn append_union(&mut self, c: ColId, type_id: i8, child: ColId) {
        let offset = self.len(child) as i32;
        if let Data::Union {
            type_ids, offsets, ..
        } = &mut self.cols[c].data
        {
            type_ids.push(type_id);
            offsets.push(offset);
        }
    }

    /// Cuts column `c` (and its children) back to `len` rows. The children
    /// are cut even when `c` itself has no row past `len`: a list, map or
    /// record appends its own row after its children's, so a row that
    /// failed inside one leaves children ahead of it.
    pub fn truncate(&mut self, c: ColId, len: usize) {
        let len = len.min(self.len(c));
        let mut nested: Vec<(ColId, usize)> = Vec::new();
        match &mut self.cols[c].data {
            Data::Null { len: rows } => *rows = len,
            Data::Bool(b) => b.truncate(len),
            Data::I32(b) | Data::Dict { keys: b, .. } => b.truncate(len),
            Data::I64(b) => b.truncate(len),
            Data::F32(b) => b.truncate(len),
            Data::F64(b) => b.truncate(len),
            Data::I128(b) => b.truncate(len),
            Data::Bytes(b) => b.truncate(len),
            Data::Fixed { size, data, valid } => {
                data.truncate(len * *size);
                valid.truncate(len);
            }
            Data::List {
                offsets,
                child,
                valid,
            } => {
                offsets.truncate(len + 1);
                valid.truncate(len);
                nested.push((*child, offsets[len] as usize));
            }
            Data::Map {
                offsets,
                keys,
                values,
                valid,
            } => {
                offsets.truncate(len + 1);
                valid.truncate(len);
                let n = offsets[len] as usize;
                nested.push((*keys, n));
                nested.push((*values, n));
            }
            Data::Struct { children, valid } => {
                valid.truncate(len);
                nested.extend(children.iter().map(|&ch| (ch, len)));
            }
            Data::Union {
                type_ids,
                offsets,
                children,
                ..
            } => {
                // Each child goes back to where the first removed row of its branch pointed.
                let mut cut: Vec<Option<usize>> = vec![None; children.len()];
                for (&t, &o) in type_ids[len..].iter().zip(&offsets[len..]) {
                    if let Some(slot) = cut.get_mut(t as usize)
                        && slot.is_none()
                    {
                        *slot = Some(o as usize);
                    }
                }
                type_ids.truncate(len);
                offsets.truncate(len);
                nested.extend(
                    children
                        .iter()
                        .zip(cut)
                        .filter_map(|(&ch, n)| n.map(|n| (ch, n))),
                );
            }
        }
        for (child, n) in nested {
            self.truncate(child, n);
        }
    }

    /// Takes column `c`'s rows as an Arrow array and leaves it empty (with
    /// its capacity: the next batch is likely as large).
    pub fn finish(&mut self, c: ColId) -> Result<ArrayRef, ColumnError> {
        let children = match &self.cols[c].data {
            Data::List { child, .. } => vec![*child],
            Data::Map { keys, values, .. } => vec![*keys, *values],
            Data::Struct { children, .. } | Data::Union { children, .. } => children.clone(),
            _ => Vec::new(),
        };
        let mut finished: Vec<ArrayRef> = children
            .iter()
            .map(|&ch| self.finish(ch))
            .collect::<Result<_, _>>()?;
        let col = &mut self.cols[c];
        Ok(match (&mut col.data, &col.data_type) {
            (Data::Null { len }, _) => Arc::new(NullArray::new(std::mem::take(len))),
            (Data::Bool(b), _) => Arc::new(b.take().finish()),
            (Data::I32(b), DataType::Date32) => Arc::new(b.take().finish::<Date32Type>()),
            (Data::I32(b), DataType::Time32(_)) => {
                Arc::new(b.take().finish::<Time32MillisecondType>())
            }
            (Data::I32(b), _) => Arc::new(b.take().finish::<Int32Type>()),
            (Data::I64(b), DataType::Time64(_)) => {
                Arc::new(b.take().finish::<Time64MicrosecondType>())
            }
            (Data::I64(b), DataType::Timestamp(unit, tz)) => {
                let b = b.take();
                let tz = tz.clone();
                match unit {
                    TimeUnit::Millisecond => {
                        Arc::new(b.finish::<TimestampMillisecondType>().with_timezone_opt(tz))
                    }
                    TimeUnit::Microsecond => {
                        Arc::new(b.finish::<TimestampMicrosecondType>().with_timezone_opt(tz))
                    }
                    _ => Arc::new(b.finish::<TimestampNanosecondType>().with_timezone_opt(tz)),
                }
            }
            (Data::I64(b), _) => Arc::new(b.take().finish::<Int64Type>()),
            (Data::F32(b), _) => Arc::new(b.take().finish::<Float32Type>()),
            (Data::F64(b), _) => Arc::new(b.take().finish::<Float64Type>()),
            (Data::I128(b), DataType::Decimal128(p, s)) => Arc::new(
                b.take()
                    .finish::<Decimal128Type>()
                    .with_precision_and_scale(*p, *s)?,
            ),
            (Data::I128(_), _) => unreachable!("decimal data is Decimal128"),
            (Data::Bytes(b), DataType::Utf8) => Arc::new(b.take().finish_utf8()?),
            (Data::Bytes(b), _) => Arc::new(b.take().finish_binary()?),
            // `try_new_with_len`: a `fixed` of size 0 has no bytes to give the length.
            (Data::Fixed { size, data, valid }, _) => {
                let len = valid.len();
                Arc::new(FixedSizeBinaryArray::try_new_with_len(
                    *size as i32,
                    Buffer::from(take_like(data)),
                    valid.take().finish(),
                    len,
                )?)
            }
            // `try_new` checks every key against the symbols (each was
            // checked when decoded, but the check is a cheap pass).
            (Data::Dict { keys, values }, _) => Arc::new(DictionaryArray::try_new(
                keys.take().finish::<Int32Type>(),
                values.clone(),
            )?),
            (Data::List { offsets, valid, .. }, DataType::List(item)) => {
                let offsets = OffsetBuffer::new(ScalarBuffer::from(take_offsets(offsets)));
                Arc::new(ListArray::new(
                    item.clone(),
                    offsets,
                    finished.remove(0),
                    valid.take().finish(),
                ))
            }
            (Data::Map { offsets, valid, .. }, DataType::Map(entries, sorted)) => {
                let offsets = OffsetBuffer::new(ScalarBuffer::from(take_offsets(offsets)));
                let DataType::Struct(kv) = entries.data_type() else {
                    unreachable!()
                };
                let entries_array = StructArray::new(kv.clone(), finished, None);
                Arc::new(MapArray::new(
                    entries.clone(),
                    offsets,
                    entries_array,
                    valid.take().finish(),
                    *sorted,
                ))
            }
            // `try_new_with_length`: an empty record has no children to give the length.
            (Data::Struct { valid, .. }, DataType::Struct(fields)) => {
                let len = valid.len();
                Arc::new(StructArray::try_new_with_length(
                    fields.clone(),
                    finished,
                    valid.take().finish(),
                    len,
                )?)
            }
            (
                Data::Union {
                    type_ids, offsets, ..
                },
                DataType::Union(fields, _),
            ) => Arc::new(UnionArray::try_new(
                fields.clone(),
                ScalarBuffer::from(take_like(type_ids)),
                Some(ScalarBuffer::from(take_like(offsets))),
                finished,
            )?),
            (data, dt) => unreachable!("column data {data:?} does not fit {dt}"),
        })
    }
}

/// Takes a vector's content, leaving one with the same capacity: the next
/// batch is likely as large, and growing from empty is a measurable cost.
fn take_like<T>(v: &mut Vec<T>) -> Vec<T> {
    let cap = v.len();
    std::mem::replace(v, Vec::with_capacity(cap))
}

fn take_offsets(v: &mut Vec<i32>) -> Vec<i32> {
    let mut next = Vec::with_capacity(v.len());
    next.push(0);
    std::mem::replace(v, next)
}
