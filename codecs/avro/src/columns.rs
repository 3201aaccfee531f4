//! Output columns: growable buffers that can be cut back to a row count (so a
//! message that fails half-way leaves no partial row), then finished into
//! Arrow arrays.

use std::sync::Arc;

use topictable_sdk::arrow_array::types::{
    Date32Type, Decimal128Type, Float32Type, Float64Type, Int32Type, Int64Type,
    Time32MillisecondType, Time64MicrosecondType, TimestampMicrosecondType,
    TimestampMillisecondType, TimestampNanosecondType,
};
use topictable_sdk::arrow_array::{
    ArrayRef, BinaryArray, BooleanArray, DictionaryArray, FixedSizeBinaryArray, ListArray,
    MapArray, NullArray, PrimitiveArray, StringArray, StructArray, UnionArray,
};
use topictable_sdk::arrow_buffer::{
    BooleanBufferBuilder, Buffer, NullBuffer, OffsetBuffer, ScalarBuffer,
};
use topictable_sdk::arrow_schema::{ArrowError, DataType, TimeUnit};

/// A column id in a [`Columns`] arena.
pub type ColId = usize;

/// The values of one column.
#[derive(Debug)]
pub enum Data {
    /// Nulls only.
    Null,
    /// Booleans.
    Bool(BooleanBufferBuilder),
    /// 32-bit values (int, date, time-millis).
    I32(Vec<i32>),
    /// 64-bit values (long, time-micros, timestamps).
    I64(Vec<i64>),
    /// `float`.
    F32(Vec<f32>),
    /// `double`.
    F64(Vec<f64>),
    /// Decimals.
    I128(Vec<i128>),
    /// Variable-length bytes (string, bytes).
    Bytes {
        /// `len + 1` offsets.
        offsets: Vec<i32>,
        /// The bytes.
        data: Vec<u8>,
    },
    /// Fixed-size bytes.
    Fixed {
        /// Bytes per value.
        size: usize,
        /// The bytes.
        data: Vec<u8>,
    },
    /// Enum symbol indexes into a fixed dictionary.
    Dict {
        /// Per row, the symbol index.
        keys: Vec<i32>,
        /// The symbols.
        values: ArrayRef,
    },
    /// A list of `child` values.
    List {
        /// `len + 1` offsets into the child.
        offsets: Vec<i32>,
        /// The item column.
        child: ColId,
    },
    /// A map: offsets into the `keys` and `values` columns.
    Map {
        /// `len + 1` offsets.
        offsets: Vec<i32>,
        /// The key column (strings).
        keys: ColId,
        /// The value column.
        values: ColId,
    },
    /// A struct of child columns, each as long as this one.
    Struct {
        /// The children.
        children: Vec<ColId>,
    },
    /// A dense union: per row, a child (the type id) and an offset into it.
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

/// Validity bits, kept as a bare count until the first null arrives (most
/// columns never see one, and a bit per value is a measurable cost).
#[derive(Debug, Default)]
pub struct Validity {
    len: usize,
    bits: Option<BooleanBufferBuilder>,
}

impl Validity {
    /// Number of rows.
    #[inline]
    pub fn len(&self) -> usize {
        self.len
    }

    /// Appends one bit.
    #[inline]
    pub fn append(&mut self, valid: bool) {
        self.len += 1;
        match &mut self.bits {
            Some(bits) => bits.append(valid),
            None if valid => {}
            None => {
                let mut bits = BooleanBufferBuilder::new(self.len.max(64));
                bits.append_n(self.len - 1, true);
                bits.append(false);
                self.bits = Some(bits);
            }
        }
    }

    /// Cuts back to `len` rows.
    pub fn truncate(&mut self, len: usize) {
        self.len = self.len.min(len);
        if let Some(bits) = &mut self.bits {
            bits.truncate(self.len);
        }
    }

    /// Takes the bits as a null buffer (`None` when every row is valid).
    pub fn finish(&mut self) -> Option<NullBuffer> {
        self.len = 0;
        self.bits
            .take()
            .map(|mut b| NullBuffer::new(b.finish()))
            .filter(|n| n.null_count() > 0)
    }
}

/// One column: its Arrow type, values and validity.
#[derive(Debug)]
pub struct Column {
    /// The Arrow type it finishes into.
    pub data_type: DataType,
    /// Its values.
    pub data: Data,
    /// Validity, one bit per row.
    pub valid: Validity,
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
        self.cols.push(Column {
            data_type,
            data,
            valid: Validity::default(),
        });
        self.cols.len() - 1
    }

    /// Adds a column of a type without children (enums pass their symbols).
    pub fn add_leaf(&mut self, data_type: DataType, dict_values: Option<ArrayRef>) -> ColId {
        let data = match &data_type {
            DataType::Null => Data::Null,
            DataType::Boolean => Data::Bool(BooleanBufferBuilder::new(0)),
            DataType::Int32 | DataType::Date32 | DataType::Time32(_) => Data::I32(Vec::new()),
            DataType::Int64 | DataType::Time64(_) | DataType::Timestamp(_, _) => {
                Data::I64(Vec::new())
            }
            DataType::Float32 => Data::F32(Vec::new()),
            DataType::Float64 => Data::F64(Vec::new()),
            DataType::Decimal128(_, _) => Data::I128(Vec::new()),
            DataType::Utf8 | DataType::Binary => Data::Bytes {
                offsets: vec![0],
                data: Vec::new(),
            },
            DataType::FixedSizeBinary(n) => Data::Fixed {
                size: *n as usize,
                data: Vec::new(),
            },
            DataType::Dictionary(_, _) => Data::Dict {
                keys: Vec::new(),
                values: dict_values.expect("an enum column comes with its symbols"),
            },
            other => unreachable!("{other} is not a leaf type"),
        };
        self.add(data_type, data)
    }

    /// Number of rows in column `c`.
    #[inline]
    pub fn len(&self, c: ColId) -> usize {
        self.cols[c].valid.len()
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
        let col = &mut self.cols[c];
        col.valid.append(false);
        match &mut col.data {
            Data::Null => {}
            Data::Bool(b) => b.append(false),
            Data::I32(v) => v.push(0),
            Data::I64(v) => v.push(0),
            Data::F32(v) => v.push(0.0),
            Data::F64(v) => v.push(0.0),
            Data::I128(v) => v.push(0),
            Data::Bytes { offsets, data } => offsets.push(data.len() as i32),
            Data::Fixed { size, data } => data.resize(data.len() + *size, 0),
            Data::Dict { keys, .. } => keys.push(0),
            Data::List { offsets, .. } | Data::Map { offsets, .. } => {
                let last = *offsets.last().unwrap_or(&0);
                offsets.push(last);
            }
            Data::Struct { children } => {
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
        let offset = self.cols[child].valid.len() as i32;
        let col = &mut self.cols[c];
        col.valid.append(true);
        if let Data::Union {
            type_ids, offsets, ..
        } = &mut col.data
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
        let col = &mut self.cols[c];
        let len = len.min(col.valid.len());
        col.valid.truncate(len);
        let mut nested: Vec<(ColId, usize)> = Vec::new();
        match &mut col.data {
            Data::Null => {}
            Data::Bool(b) => b.truncate(len),
            Data::I32(v) => v.truncate(len),
            Data::I64(v) => v.truncate(len),
            Data::F32(v) => v.truncate(len),
            Data::F64(v) => v.truncate(len),
            Data::I128(v) => v.truncate(len),
            Data::Bytes { offsets, data } => {
                offsets.truncate(len + 1);
                data.truncate(offsets[len] as usize);
            }
            Data::Fixed { size, data } => data.truncate(len * *size),
            Data::Dict { keys, .. } => keys.truncate(len),
            Data::List { offsets, child } => {
                offsets.truncate(len + 1);
                nested.push((*child, offsets[len] as usize));
            }
            Data::Map {
                offsets,
                keys,
                values,
            } => {
                offsets.truncate(len + 1);
                let n = offsets[len] as usize;
                nested.push((*keys, n));
                nested.push((*values, n));
            }
            Data::Struct { children } => nested.extend(children.iter().map(|&ch| (ch, len))),
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

    /// Takes column `c`'s rows as an Arrow array and leaves it empty.
    pub fn finish(&mut self, c: ColId) -> Result<ArrayRef, ArrowError> {
        let col = &mut self.cols[c];
        let len = col.valid.len();
        let nulls = col.valid.finish();
        let data_type = col.data_type.clone();
        macro_rules! prim {
            ($t:ty, $v:expr) => {
                Arc::new(PrimitiveArray::<$t>::new(
                    ScalarBuffer::from(take_like($v)),
                    nulls,
                ))
            };
        }
        let children = match &col.data {
            Data::List { child, .. } => vec![*child],
            Data::Map { keys, values, .. } => vec![*keys, *values],
            Data::Struct { children } | Data::Union { children, .. } => children.clone(),
            _ => Vec::new(),
        };
        let mut finished: Vec<ArrayRef> = children
            .iter()
            .map(|&ch| self.finish(ch))
            .collect::<Result<_, _>>()?;
        let col = &mut self.cols[c];
        Ok(match (&mut col.data, &data_type) {
            (Data::Null, _) => Arc::new(NullArray::new(len)),
            (Data::Bool(b), _) => Arc::new(BooleanArray::new(b.finish(), nulls)),
            (Data::I32(v), DataType::Date32) => prim!(Date32Type, v),
            (Data::I32(v), DataType::Time32(_)) => prim!(Time32MillisecondType, v),
            (Data::I32(v), _) => prim!(Int32Type, v),
            (Data::I64(v), DataType::Time64(_)) => prim!(Time64MicrosecondType, v),
            (Data::I64(v), DataType::Timestamp(unit, tz)) => {
                let values = ScalarBuffer::from(take_like(v));
                let tz = tz.clone();
                match unit {
                    TimeUnit::Millisecond => Arc::new(
                        PrimitiveArray::<TimestampMillisecondType>::new(values, nulls)
                            .with_timezone_opt(tz),
                    ),
                    TimeUnit::Microsecond => Arc::new(
                        PrimitiveArray::<TimestampMicrosecondType>::new(values, nulls)
                            .with_timezone_opt(tz),
                    ),
                    _ => Arc::new(
                        PrimitiveArray::<TimestampNanosecondType>::new(values, nulls)
                            .with_timezone_opt(tz),
                    ),
                }
            }
            (Data::I64(v), _) => prim!(Int64Type, v),
            (Data::F32(v), _) => prim!(Float32Type, v),
            (Data::F64(v), _) => prim!(Float64Type, v),
            (Data::I128(v), DataType::Decimal128(p, s)) => Arc::new(
                PrimitiveArray::<Decimal128Type>::new(ScalarBuffer::from(take_like(v)), nulls)
                    .with_precision_and_scale(*p, *s)?,
            ),
            (Data::I128(_), _) => unreachable!("decimal data is Decimal128"),
            (Data::Bytes { offsets, data }, dt) => {
                let offsets = OffsetBuffer::new(ScalarBuffer::from(take_offsets(offsets)));
                let values = Buffer::from(take_like(data));
                if *dt == DataType::Utf8 {
                    // SAFETY: every value was checked to be UTF-8 as it was appended,
                    // and the offsets only grow.
                    Arc::new(unsafe { StringArray::new_unchecked(offsets, values, nulls) })
                } else {
                    Arc::new(BinaryArray::new(offsets, values, nulls))
                }
            }
            // `try_new_with_len`: a `fixed` of size 0 has no bytes to give the length.
            (Data::Fixed { size, data }, _) => Arc::new(FixedSizeBinaryArray::try_new_with_len(
                *size as i32,
                Buffer::from(take_like(data)),
                nulls,
                len,
            )?),
            (Data::Dict { keys, values }, _) => {
                let keys =
                    PrimitiveArray::<Int32Type>::new(ScalarBuffer::from(take_like(keys)), nulls);
                // SAFETY: every key is an index into `values` (checked when decoded).
                Arc::new(unsafe { DictionaryArray::new_unchecked(keys, values.clone()) })
            }
            (Data::List { offsets, .. }, DataType::List(item)) => {
                let offsets = OffsetBuffer::new(ScalarBuffer::from(take_offsets(offsets)));
                Arc::new(ListArray::new(
                    item.clone(),
                    offsets,
                    finished.remove(0),
                    nulls,
                ))
            }
            (Data::Map { offsets, .. }, DataType::Map(entries, sorted)) => {
                let offsets = OffsetBuffer::new(ScalarBuffer::from(take_offsets(offsets)));
                let DataType::Struct(kv) = entries.data_type() else {
                    unreachable!()
                };
                let entries_array = StructArray::new(kv.clone(), finished, None);
                Arc::new(MapArray::new(
                    entries.clone(),
                    offsets,
                    entries_array,
                    nulls,
                    *sorted,
                ))
            }
            // `try_new_with_length`: an empty record has no children to give the length.
            (Data::Struct { .. }, DataType::Struct(fields)) => Arc::new(
                StructArray::try_new_with_length(fields.clone(), finished, nulls, len)?,
            ),
            // A union has no validity of its own: its nulls are its children's.
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
