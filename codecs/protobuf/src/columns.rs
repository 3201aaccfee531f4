//! Column buffers the decoder writes into straight from the wire, kept in
//! one arena so nested columns (list children, struct fields) are indexes.
//!
//! Every column of a record context has one slot per row once the row is
//! finished. A singular field seen twice in one message replaces its slot
//! (protobuf's "last one wins"), so a slot is "written" when the column's
//! length is already `row + 1`.

use std::sync::Arc;

use topictable_columns::{BooleanBuf, BytesBuf, ColumnError, PrimitiveBuf, Validity};
use topictable_sdk::arrow_array::{
    Array, ArrayRef, ListArray, MapArray, StructArray,
    types::{
        DurationMillisecondType, DurationNanosecondType, Float32Type, Float64Type, Int32Type,
        Int64Type, TimestampMillisecondType, TimestampNanosecondType, UInt32Type, UInt64Type,
    },
};
use topictable_sdk::arrow_buffer::{OffsetBuffer, ScalarBuffer};
use topictable_sdk::arrow_schema::{DataType, TimeUnit};

/// The values of one column, with their validity. Leaves are the shared
/// buffers of `topictable-columns`; lists and structs are protobuf's own.
#[derive(Debug)]
pub enum Data {
    /// `Boolean`.
    Bool(BooleanBuf),
    /// `Int32`.
    I32(PrimitiveBuf<i32>),
    /// `Int64`, `Timestamp` and `Duration`.
    I64(PrimitiveBuf<i64>),
    /// `UInt32`.
    U32(PrimitiveBuf<u32>),
    /// `UInt64`.
    U64(PrimitiveBuf<u64>),
    /// `Float32`.
    F32(PrimitiveBuf<f32>),
    /// `Float64`.
    F64(PrimitiveBuf<f64>),
    /// `Utf8` (validated when written, and checked again when finished) and `Binary`.
    Bytes(BytesBuf),
    /// `List` and `Map`: offsets into the child (a struct of key and value for maps).
    List {
        /// One more than the slots.
        offsets: Vec<i32>,
        /// The child column.
        child: usize,
        /// Validity, one bit per slot.
        valid: Validity,
    },
    /// `Struct`: one column per field.
    Struct {
        /// The field columns.
        children: Vec<usize>,
        /// Validity, one bit per slot; its length is the slots (the
        /// children may hold more while an element is read).
        valid: Validity,
    },
}

/// One column: values, validity and type.
#[derive(Debug)]
pub struct Column {
    /// The values and their validity.
    pub data: Data,
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

/// The row error for a row that would take a column past 2 GiB.
pub const PAST_2_GIB: &str =
    "this row would take a column past 2 GiB (2^31 bytes or list items) in one batch";

macro_rules! put {
    ($name:ident, $variant:ident, $t:ty) => {
        /// Writes a value: appended when `row` is `None` (a list element) or the
        /// slot is not written yet, else it replaces the slot.
        #[inline]
        pub fn $name(&mut self, col: usize, row: Option<usize>, value: $t) {
            if let Data::$variant(b) = &mut self.cols[col].data {
                if row.is_some_and(|r| b.len() > r) {
                    if let Some(last) = b.last_mut() {
                        *last = value;
                    }
                } else {
                    b.push(value);
                }
            }
        }
    };
}

/// Appends the zero value (valid) or a null to a leaf's buffer.
macro_rules! push_zero {
    ($b:expr, $valid:expr, $zero:expr) => {
        if $valid {
            $b.push($zero)
        } else {
            $b.push_null()
        }
    };
}

impl Columns {
    /// Adds a column of `data_type` whose children (if any) already exist.
    pub fn add(&mut self, data_type: DataType, children: Vec<usize>) -> usize {
        let data = match &data_type {
            DataType::Boolean => Data::Bool(BooleanBuf::new()),
            DataType::Int32 => Data::I32(PrimitiveBuf::new()),
            DataType::Int64 | DataType::Timestamp(..) | DataType::Duration(_) => {
                Data::I64(PrimitiveBuf::new())
            }
            DataType::UInt32 => Data::U32(PrimitiveBuf::new()),
            DataType::UInt64 => Data::U64(PrimitiveBuf::new()),
            DataType::Float32 => Data::F32(PrimitiveBuf::new()),
            DataType::Float64 => Data::F64(PrimitiveBuf::new()),
            DataType::Utf8 | DataType::Binary => Data::Bytes(BytesBuf::new()),
            DataType::List(_) | DataType::Map(..) => Data::List {
                offsets: vec![0],
                child: children[0],
                valid: Validity::new(),
            },
            DataType::Struct(_) => Data::Struct {
                children,
                valid: Validity::new(),
            },
            other => unreachable!("the plan makes no {other} column"),
        };
        self.cols.push(Column { data, data_type });
        self.cols.len() - 1
    }

    /// How many slots `col` has.
    #[inline]
    pub fn len(&self, col: usize) -> usize {
        match &self.cols[col].data {
            Data::Bool(b) => b.len(),
            Data::I32(b) => b.len(),
            Data::I64(b) => b.len(),
            Data::U32(b) => b.len(),
            Data::U64(b) => b.len(),
            Data::F32(b) => b.len(),
            Data::F64(b) => b.len(),
            Data::Bytes(b) => b.len(),
            Data::List { offsets, .. } => offsets.len() - 1,
            Data::Struct { valid, .. } => valid.len(),
        }
    }

    put!(put_i32, I32, i32);
    put!(put_i64, I64, i64);
    put!(put_u32, U32, u32);
    put!(put_u64, U64, u64);
    put!(put_f32, F32, f32);
    put!(put_f64, F64, f64);

    /// Writes a bool (see [`Columns::put_i64`] for `row`).
    #[inline]
    pub fn put_bool(&mut self, col: usize, row: Option<usize>, value: bool) {
        if let Data::Bool(b) = &mut self.cols[col].data {
            if row.is_some_and(|r| b.len() > r) {
                b.set_last(value);
            } else {
                b.push(value);
            }
        }
    }

    /// Writes a string or bytes value (see [`Columns::put_i64`] for `row`).
    #[inline]
    pub fn put_bytes(&mut self, col: usize, row: Option<usize>, value: &[u8]) {
        if let Data::Bytes(b) = &mut self.cols[col].data {
            let written = if row.is_some_and(|r| b.len() > r) {
                b.replace_last(value)
            } else {
                b.push(value)
            };
            // A refused value leaves an empty one in its slot; the row is failed.
            if written.is_err() {
                self.overflow = true;
            }
        }
    }

    /// Whether a value was refused since the last call for passing
    /// [`MAX_OFFSET`]; the row that wrote it must be failed.
    pub fn take_overflow(&mut self) -> bool {
        std::mem::take(&mut self.overflow)
    }

    /// Appends a cell holding the zero value (valid), or a null.
    pub fn push_zero(&mut self, col: usize, valid: bool) {
        match &mut self.cols[col].data {
            Data::Bool(b) => push_zero!(b, valid, false),
            Data::I32(b) => push_zero!(b, valid, 0),
            Data::I64(b) => push_zero!(b, valid, 0),
            Data::U32(b) => push_zero!(b, valid, 0),
            Data::U64(b) => push_zero!(b, valid, 0),
            Data::F32(b) => push_zero!(b, valid, 0.0),
            Data::F64(b) => push_zero!(b, valid, 0.0),
            Data::Bytes(b) if valid => {
                // An empty value adds no bytes, so it is never refused.
                let _ = b.push(b"");
            }
            Data::Bytes(b) => b.push_null(),
            Data::List {
                offsets, valid: v, ..
            } => {
                offsets.push(*offsets.last().unwrap_or(&0));
                v.append(valid);
            }
            Data::Struct { children, valid: v } => {
                v.append(valid);
                for child in children.clone() {
                    self.push_zero(child, valid);
                }
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
        if let Data::List {
            offsets, valid: v, ..
        } = &mut self.cols[col].data
        {
            offsets.push(n);
            v.append(valid);
        }
    }

    /// Marks one more struct slot valid (its children were written).
    pub fn push_struct(&mut self, col: usize) {
        if let Data::Struct { valid, .. } = &mut self.cols[col].data {
            valid.append_valid();
        }
    }

    /// Drops every slot from `len` on, children included. The children are
    /// cut even when `col` has no slot past `len`: a list or message closes
    /// its own slot after its children's, so a row that failed inside one
    /// leaves children ahead of it.
    pub fn truncate(&mut self, col: usize, len: usize) {
        let len = len.min(self.len(col));
        let mut nested = Vec::new();
        match &mut self.cols[col].data {
            Data::Bool(b) => b.truncate(len),
            Data::I32(b) => b.truncate(len),
            Data::I64(b) => b.truncate(len),
            Data::U32(b) => b.truncate(len),
            Data::U64(b) => b.truncate(len),
            Data::F32(b) => b.truncate(len),
            Data::F64(b) => b.truncate(len),
            Data::Bytes(b) => b.truncate(len),
            Data::List {
                offsets,
                child,
                valid,
            } => {
                offsets.truncate(len + 1);
                valid.truncate(len);
                nested.push((*child, offsets[len] as usize));
            }
            Data::Struct { children, valid } => {
                valid.truncate(len);
                nested.extend(children.iter().map(|&c| (c, len)));
            }
        }
        for (child, n) in nested {
            self.truncate(child, n);
        }
    }

    /// The column's values as an Arrow array; the column starts empty again
    /// and keeps its capacity.
    pub fn finish(&mut self, col: usize) -> Result<ArrayRef, ColumnError> {
        let nested: Vec<usize> = match &self.cols[col].data {
            Data::List { child, .. } => vec![*child],
            Data::Struct { children, .. } => children.clone(),
            _ => Vec::new(),
        };
        let children: Vec<ArrayRef> = nested
            .iter()
            .map(|&c| self.finish(c))
            .collect::<Result<_, _>>()?;
        let c = &mut self.cols[col];
        Ok(match (&mut c.data, &c.data_type) {
            (Data::Bool(b), _) => Arc::new(b.take().finish()),
            (Data::I32(b), _) => Arc::new(b.take().finish::<Int32Type>()),
            (Data::I64(b), DataType::Timestamp(unit, tz)) => {
                let b = b.take();
                match unit {
                    TimeUnit::Millisecond => Arc::new(
                        b.finish::<TimestampMillisecondType>()
                            .with_timezone_opt(tz.clone()),
                    ),
                    _ => Arc::new(
                        b.finish::<TimestampNanosecondType>()
                            .with_timezone_opt(tz.clone()),
                    ),
                }
            }
            (Data::I64(b), DataType::Duration(unit)) => {
                let b = b.take();
                match unit {
                    TimeUnit::Millisecond => Arc::new(b.finish::<DurationMillisecondType>()),
                    _ => Arc::new(b.finish::<DurationNanosecondType>()),
                }
            }
            (Data::I64(b), _) => Arc::new(b.take().finish::<Int64Type>()),
            (Data::U32(b), _) => Arc::new(b.take().finish::<UInt32Type>()),
            (Data::U64(b), _) => Arc::new(b.take().finish::<UInt64Type>()),
            (Data::F32(b), _) => Arc::new(b.take().finish::<Float32Type>()),
            (Data::F64(b), _) => Arc::new(b.take().finish::<Float64Type>()),
            (Data::Bytes(b), DataType::Utf8) => Arc::new(b.take().finish_utf8()?),
            (Data::Bytes(b), _) => Arc::new(b.take().finish_binary()?),
            (Data::List { offsets, valid, .. }, dt) => {
                let o = OffsetBuffer::new(ScalarBuffer::from(take(offsets)));
                offsets.push(0);
                let nulls = valid.take().finish();
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
            (Data::Struct { valid, .. }, DataType::Struct(fields)) => {
                let rows = valid.len();
                let nulls = valid.take().finish();
                if fields.is_empty() {
                    Arc::new(StructArray::new_empty_fields(rows, nulls))
                } else {
                    Arc::new(StructArray::new(fields.clone(), children, nulls))
                }
            }
            (Data::Struct { .. }, other) => unreachable!("struct data as {other}"),
        })
    }
}

/// Takes a vector's content, leaving an empty one with the same capacity.
fn take<T>(v: &mut Vec<T>) -> Vec<T> {
    let cap = v.capacity();
    std::mem::replace(v, Vec::with_capacity(cap))
}

fn child_struct(a: ArrayRef) -> StructArray {
    a.as_any()
        .downcast_ref::<StructArray>()
        .expect("map entries are a struct")
        .clone()
}
