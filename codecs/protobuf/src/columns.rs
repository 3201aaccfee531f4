//! Column buffers the decoder writes into straight from the wire, kept in
//! one arena so nested columns (list children, struct fields) are indexes.
//!
//! Every column of a record context has one slot per row once the row is
//! finished. A singular field seen twice in one message replaces its slot
//! (protobuf's "last one wins"), so a slot is "written" when the column's
//! length is already `row + 1`.

use std::sync::Arc;

use topictable_sdk::arrow_array::{
    Array, ArrayRef, BinaryArray, BooleanArray, Int32Array, Int64Array, ListArray, MapArray,
    PrimitiveArray, StringArray, StructArray, UInt32Array, UInt64Array,
    types::{
        DurationMillisecondType, DurationNanosecondType, Float32Type, Float64Type,
        TimestampMillisecondType, TimestampNanosecondType,
    },
};
use topictable_sdk::arrow_buffer::{
    BooleanBuffer, Buffer, NullBufferBuilder, OffsetBuffer, ScalarBuffer,
};
use topictable_sdk::arrow_schema::{DataType, TimeUnit};

/// The values of one column.
#[derive(Debug)]
pub enum Data {
    /// `Boolean`.
    Bool(Vec<bool>),
    /// `Int32`.
    I32(Vec<i32>),
    /// `Int64`, `Timestamp` and `Duration`.
    I64(Vec<i64>),
    /// `UInt32`.
    U32(Vec<u32>),
    /// `UInt64`.
    U64(Vec<u64>),
    /// `Float32`.
    F32(Vec<f32>),
    /// `Float64`.
    F64(Vec<f64>),
    /// `Utf8` (validated when written) and `Binary`.
    Bytes {
        /// One more than the slots.
        offsets: Vec<i32>,
        /// The concatenated values.
        data: Vec<u8>,
    },
    /// `List` and `Map`: offsets into the child (a struct of key and value for maps).
    List {
        /// One more than the slots.
        offsets: Vec<i32>,
        /// The child column.
        child: usize,
    },
    /// `Struct`: one column per field.
    Struct {
        /// The field columns.
        children: Vec<usize>,
        /// Its slots (the children may hold more while an element is read).
        len: usize,
    },
}

/// One column: values, validity and type.
#[derive(Debug)]
pub struct Column {
    /// The values.
    pub data: Data,
    /// Validity, materialised only once a null is appended.
    nulls: NullBufferBuilder,
    /// The Arrow type it finishes as.
    pub data_type: DataType,
}

/// The arena of columns.
#[derive(Debug, Default)]
pub struct Columns {
    /// Every column; nested ones are referred to by index.
    pub cols: Vec<Column>,
    /// A value was not written because it would take a column past Arrow's
    /// 32-bit offsets (2 GiB of bytes, or 2^31 list items, in one batch);
    /// the decoder fails the row ([`Columns::take_overflow`]).
    overflow: bool,
}

/// The most bytes (or list items) one column takes in one batch: Arrow's
/// `i32` offsets.
pub const MAX_OFFSET: usize = i32::MAX as usize;

/// The row error for a row that would take a column past [`MAX_OFFSET`].
pub const PAST_2_GIB: &str =
    "this row would take a column past 2 GiB (2^31 bytes or list items) in one batch";

/// The zero value of each data kind, for a cell that holds no value.
macro_rules! push_zero {
    ($data:expr) => {
        match $data {
            Data::Bool(v) => v.push(false),
            Data::I32(v) => v.push(0),
            Data::I64(v) => v.push(0),
            Data::U32(v) => v.push(0),
            Data::U64(v) => v.push(0),
            Data::F32(v) => v.push(0.0),
            Data::F64(v) => v.push(0.0),
            Data::Bytes { offsets, data } => offsets.push(data.len() as i32),
            Data::List { offsets, .. } => offsets.push(*offsets.last().unwrap_or(&0)),
            Data::Struct { len, .. } => *len += 1,
        }
    };
}

macro_rules! put {
    ($name:ident, $variant:ident, $t:ty) => {
        /// Writes a value: appended when `row` is `None` (a list element) or the
        /// slot is not written yet, else it replaces the slot.
        #[inline]
        pub fn $name(&mut self, col: usize, row: Option<usize>, value: $t) {
            let c = &mut self.cols[col];
            if let Data::$variant(v) = &mut c.data {
                if row.is_some_and(|r| v.len() > r) {
                    if let Some(last) = v.last_mut() {
                        *last = value;
                    }
                } else {
                    v.push(value);
                    c.nulls.append_non_null();
                }
            }
        }
    };
}

impl Columns {
    /// Adds a column of `data_type` whose children (if any) already exist.
    pub fn add(&mut self, data_type: DataType, children: Vec<usize>) -> usize {
        let data = match &data_type {
            DataType::Boolean => Data::Bool(Vec::new()),
            DataType::Int32 => Data::I32(Vec::new()),
            DataType::Int64 | DataType::Timestamp(..) | DataType::Duration(_) => {
                Data::I64(Vec::new())
            }
            DataType::UInt32 => Data::U32(Vec::new()),
            DataType::UInt64 => Data::U64(Vec::new()),
            DataType::Float32 => Data::F32(Vec::new()),
            DataType::Float64 => Data::F64(Vec::new()),
            DataType::Utf8 | DataType::Binary => Data::Bytes {
                offsets: vec![0],
                data: Vec::new(),
            },
            DataType::List(_) | DataType::Map(..) => Data::List {
                offsets: vec![0],
                child: children[0],
            },
            DataType::Struct(_) => Data::Struct { children, len: 0 },
            other => unreachable!("the plan makes no {other} column"),
        };
        self.cols.push(Column {
            data,
            nulls: NullBufferBuilder::new(0),
            data_type,
        });
        self.cols.len() - 1
    }

    /// How many slots `col` has (from the values: the validity builder's
    /// own count is not inlined across crates, and this is on the hot path).
    #[inline]
    pub fn len(&self, col: usize) -> usize {
        match &self.cols[col].data {
            Data::Bool(v) => v.len(),
            Data::I32(v) => v.len(),
            Data::I64(v) => v.len(),
            Data::U32(v) => v.len(),
            Data::U64(v) => v.len(),
            Data::F32(v) => v.len(),
            Data::F64(v) => v.len(),
            Data::Bytes { offsets, .. } | Data::List { offsets, .. } => offsets.len() - 1,
            Data::Struct { len, .. } => *len,
        }
    }

    put!(put_bool, Bool, bool);
    put!(put_i32, I32, i32);
    put!(put_i64, I64, i64);
    put!(put_u32, U32, u32);
    put!(put_u64, U64, u64);
    put!(put_f32, F32, f32);
    put!(put_f64, F64, f64);

    /// Writes a string or bytes value (see [`Columns::put_i64`] for `row`).
    #[inline]
    pub fn put_bytes(&mut self, col: usize, row: Option<usize>, value: &[u8]) {
        let c = &mut self.cols[col];
        if let Data::Bytes { offsets, data } = &mut c.data {
            if row.is_some_and(|r| offsets.len() > r + 1) {
                offsets.pop();
                data.truncate(*offsets.last().unwrap_or(&0) as usize);
            } else {
                c.nulls.append_non_null();
            }
            if data.len() + value.len() > MAX_OFFSET {
                self.overflow = true;
            } else {
                data.extend_from_slice(value);
            }
            // Never past MAX_OFFSET, so the cast is exact.
            offsets.push(data.len() as i32);
        }
    }

    /// Whether a value was refused since the last call for passing
    /// [`MAX_OFFSET`]; the row that wrote it must be failed.
    pub fn take_overflow(&mut self) -> bool {
        std::mem::take(&mut self.overflow)
    }

    /// Appends a cell holding the zero value (valid), or a null.
    pub fn push_zero(&mut self, col: usize, valid: bool) {
        let c = &mut self.cols[col];
        push_zero!(&mut c.data);
        c.nulls.append(valid);
        if let Data::Struct { children, .. } = &c.data {
            for child in children.clone() {
                self.push_zero(child, valid);
            }
        }
    }

    /// Closes the current row of a list or map column.
    pub fn close_list(&mut self, col: usize, valid: bool) {
        let Data::List { child, .. } = &self.cols[col].data else {
            return;
        };
        let n = match i32::try_from(self.len(*child)) {
            Ok(n) => n,
            Err(_) => {
                // The row's items stay in the child; the failed row is cut back.
                self.overflow = true;
                i32::MAX
            }
        };
        let c = &mut self.cols[col];
        if let Data::List { offsets, .. } = &mut c.data {
            offsets.push(n);
        }
        c.nulls.append(valid);
    }

    /// Marks one more struct slot valid (its children were written).
    pub fn push_struct(&mut self, col: usize) {
        let c = &mut self.cols[col];
        if let Data::Struct { len, .. } = &mut c.data {
            *len += 1;
        }
        c.nulls.append_non_null();
    }

    /// Drops every slot from `len` on, children included. The children are
    /// cut even when `col` has no slot past `len`: a list or message closes
    /// its own slot after its children's, so a row that failed inside one
    /// leaves children ahead of it.
    pub fn truncate(&mut self, col: usize, len: usize) {
        let len = len.min(self.len(col));
        let c = &mut self.cols[col];
        c.nulls.truncate(len);
        let mut nested = Vec::new();
        match &mut c.data {
            Data::Bool(v) => v.truncate(len),
            Data::I32(v) => v.truncate(len),
            Data::I64(v) => v.truncate(len),
            Data::U32(v) => v.truncate(len),
            Data::U64(v) => v.truncate(len),
            Data::F32(v) => v.truncate(len),
            Data::F64(v) => v.truncate(len),
            Data::Bytes { offsets, data } => {
                offsets.truncate(len + 1);
                data.truncate(offsets[len] as usize);
            }
            Data::List { offsets, child } => {
                offsets.truncate(len + 1);
                nested.push((*child, offsets[len] as usize));
            }
            Data::Struct {
                children,
                len: slots,
            } => {
                *slots = len;
                nested.extend(children.iter().map(|&c| (c, len)));
            }
        }
        for (child, n) in nested {
            self.truncate(child, n);
        }
    }

    /// The column's values as an Arrow array; the column starts empty again
    /// and keeps its capacity.
    pub fn finish(&mut self, col: usize) -> ArrayRef {
        let nested: Vec<usize> = match &self.cols[col].data {
            Data::List { child, .. } => vec![*child],
            Data::Struct { children, .. } => children.clone(),
            _ => Vec::new(),
        };
        let children: Vec<ArrayRef> = nested.iter().map(|&c| self.finish(c)).collect();
        let c = &mut self.cols[col];
        let nulls = c.nulls.finish();
        fn take<T>(v: &mut Vec<T>) -> Vec<T> {
            let cap = v.capacity();
            std::mem::replace(v, Vec::with_capacity(cap))
        }
        match (&mut c.data, &c.data_type) {
            (Data::Bool(v), _) => {
                let values = BooleanBuffer::from(v.as_slice());
                v.clear();
                Arc::new(BooleanArray::new(values, nulls))
            }
            (Data::I32(v), _) => Arc::new(Int32Array::new(ScalarBuffer::from(take(v)), nulls)),
            (Data::I64(v), DataType::Timestamp(unit, tz)) => {
                let values = ScalarBuffer::from(take(v));
                match unit {
                    TimeUnit::Millisecond => Arc::new(
                        PrimitiveArray::<TimestampMillisecondType>::new(values, nulls)
                            .with_timezone_opt(tz.clone()),
                    ),
                    _ => Arc::new(
                        PrimitiveArray::<TimestampNanosecondType>::new(values, nulls)
                            .with_timezone_opt(tz.clone()),
                    ),
                }
            }
            (Data::I64(v), DataType::Duration(unit)) => {
                let values = ScalarBuffer::from(take(v));
                match unit {
                    TimeUnit::Millisecond => Arc::new(
                        PrimitiveArray::<DurationMillisecondType>::new(values, nulls),
                    ),
                    _ => Arc::new(PrimitiveArray::<DurationNanosecondType>::new(values, nulls)),
                }
            }
            (Data::I64(v), _) => Arc::new(Int64Array::new(ScalarBuffer::from(take(v)), nulls)),
            (Data::U32(v), _) => Arc::new(UInt32Array::new(ScalarBuffer::from(take(v)), nulls)),
            (Data::U64(v), _) => Arc::new(UInt64Array::new(ScalarBuffer::from(take(v)), nulls)),
            (Data::F32(v), _) => Arc::new(PrimitiveArray::<Float32Type>::new(
                ScalarBuffer::from(take(v)),
                nulls,
            )),
            (Data::F64(v), _) => Arc::new(PrimitiveArray::<Float64Type>::new(
                ScalarBuffer::from(take(v)),
                nulls,
            )),
            (Data::Bytes { offsets, data }, dt) => {
                let o = OffsetBuffer::new(ScalarBuffer::from(take(offsets)));
                offsets.push(0);
                let values = Buffer::from_vec(take(data));
                if *dt == DataType::Utf8 {
                    // SAFETY: every value was checked to be UTF-8 when it was
                    // written (`wire::read_value`), and offsets only grow.
                    Arc::new(unsafe { StringArray::new_unchecked(o, values, nulls) })
                } else {
                    Arc::new(BinaryArray::new(o, values, nulls))
                }
            }
            (Data::List { offsets, .. }, dt) => {
                let o = OffsetBuffer::new(ScalarBuffer::from(take(offsets)));
                offsets.push(0);
                let child = children.into_iter().next().expect("a list has a child");
                match dt {
                    DataType::Map(entries, sorted) => Arc::new(MapArray::new(
                        entries.clone(),
                        o,
                        child_struct(child),
                        nulls,
                        *sorted,
                    )),
                    DataType::List(field) => {
                        Arc::new(ListArray::new(field.clone(), o, child, nulls))
                    }
                    other => unreachable!("list data as {other}"),
                }
            }
            // A message without fields has no children to give the length.
            (Data::Struct { len, .. }, DataType::Struct(fields)) => {
                let rows = std::mem::take(len);
                if fields.is_empty() {
                    Arc::new(StructArray::new_empty_fields(rows, nulls))
                } else {
                    Arc::new(StructArray::new(fields.clone(), children, nulls))
                }
            }
            (Data::Struct { .. }, other) => unreachable!("struct data as {other}"),
        }
    }
}

fn child_struct(a: ArrayRef) -> StructArray {
    a.as_any()
        .downcast_ref::<StructArray>()
        .expect("map entries are a struct")
        .clone()
}
