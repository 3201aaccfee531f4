//! Column buffers the decoder writes into: plain vectors that can drop a
//! half-written row, turned into Arrow arrays without a copy.

use std::sync::Arc;

use topictable_sdk::PluginError;
use topictable_sdk::arrow_array::types::{
    Float32Type, Float64Type, Int32Type, Int64Type, TimestampMillisecondType,
};
use topictable_sdk::arrow_array::{ArrayRef, BooleanArray, PrimitiveArray, StringArray};
use topictable_sdk::arrow_buffer::{BooleanBuffer, Buffer, NullBuffer, OffsetBuffer, ScalarBuffer};

use crate::JsonType;

/// Values of a fixed-width column plus their validity.
#[derive(Debug, Clone, Default)]
pub(crate) struct PrimBuf<T> {
    values: Vec<T>,
    valid: Vec<bool>,
}

impl<T: Copy + Default> PrimBuf<T> {
    fn with_capacity(rows: usize) -> Self {
        Self {
            values: Vec::with_capacity(rows),
            valid: Vec::with_capacity(rows),
        }
    }
    #[inline]
    pub fn push(&mut self, v: T) {
        self.values.push(v);
        self.valid.push(true);
    }
    #[inline]
    fn push_null(&mut self) {
        self.values.push(T::default());
        self.valid.push(false);
    }
    #[inline]
    fn truncate(&mut self, rows: usize) {
        self.values.truncate(rows);
        self.valid.truncate(rows);
    }
    fn nulls(&self) -> Option<NullBuffer> {
        self.valid
            .contains(&false)
            .then(|| NullBuffer::from(self.valid.as_slice()))
    }
}

/// UTF-8 values in Arrow's offsets + data layout, plus their validity.
#[derive(Debug, Clone)]
pub(crate) struct TextBuf {
    offsets: Vec<i32>,
    data: Vec<u8>,
    valid: Vec<bool>,
}

impl TextBuf {
    fn with_capacity(rows: usize, bytes: usize) -> Self {
        let mut offsets = Vec::with_capacity(rows + 1);
        offsets.push(0);
        Self {
            offsets,
            data: Vec::with_capacity(bytes),
            valid: Vec::with_capacity(rows),
        }
    }
    #[inline]
    pub fn push(&mut self, s: &str) {
        self.data.extend_from_slice(s.as_bytes());
        // Checked once in `finish`: offsets never exceed the final length.
        self.offsets.push(self.data.len() as i32);
        self.valid.push(true);
    }
    #[inline]
    fn push_null(&mut self) {
        self.offsets.push(self.data.len() as i32);
        self.valid.push(false);
    }
    #[inline]
    fn len(&self) -> usize {
        self.valid.len()
    }
    #[inline]
    fn truncate(&mut self, rows: usize) {
        if rows < self.len() {
            self.data.truncate(self.offsets[rows] as usize);
            self.offsets.truncate(rows + 1);
            self.valid.truncate(rows);
        }
    }
    fn finish(self) -> Result<StringArray, PluginError> {
        if i32::try_from(self.data.len()).is_err() {
            return Err(PluginError::failed(
                "json: a decoded string column exceeds 2 GiB in one batch; use smaller batches",
            ));
        }
        let nulls = self
            .valid
            .contains(&false)
            .then(|| NullBuffer::from(self.valid.as_slice()));
        // SAFETY: offsets start at 0, never decrease and end at `data.len()`
        // (checked above to fit i32).
        let offsets = unsafe { OffsetBuffer::new_unchecked(ScalarBuffer::from(self.offsets)) };
        // SAFETY: the offsets are valid for `data` (above), and every value
        // between two offsets was appended whole from a `&str`, so each slice
        // is valid UTF-8.
        let array =
            unsafe { StringArray::new_unchecked(offsets, Buffer::from_vec(self.data), nulls) };
        Ok(array)
    }
}

/// The buffer of one output column.
#[derive(Debug, Clone)]
pub(crate) enum ColumnBuf {
    /// `string` and `json` columns.
    Text(TextBuf),
    /// `bool` columns.
    Bool(PrimBuf<bool>),
    /// `int32` columns.
    Int32(PrimBuf<i32>),
    /// `int64` and `timestamp` (epoch millis) columns.
    Int64(PrimBuf<i64>),
    /// `float32` columns.
    Float32(PrimBuf<f32>),
    /// `float64` columns.
    Float64(PrimBuf<f64>),
}

impl ColumnBuf {
    /// An empty buffer for `rows` rows of `kind`, with `bytes` of text room.
    pub fn new(kind: JsonType, rows: usize, bytes: usize) -> Self {
        match kind {
            JsonType::String | JsonType::Json => Self::Text(TextBuf::with_capacity(rows, bytes)),
            JsonType::Bool => Self::Bool(PrimBuf::with_capacity(rows)),
            JsonType::Int32 => Self::Int32(PrimBuf::with_capacity(rows)),
            JsonType::Int64 | JsonType::Timestamp => Self::Int64(PrimBuf::with_capacity(rows)),
            JsonType::Float32 => Self::Float32(PrimBuf::with_capacity(rows)),
            JsonType::Float64 => Self::Float64(PrimBuf::with_capacity(rows)),
        }
    }

    /// Rows written so far.
    #[inline]
    pub fn len(&self) -> usize {
        match self {
            Self::Text(b) => b.len(),
            Self::Bool(b) => b.valid.len(),
            Self::Int32(b) => b.valid.len(),
            Self::Int64(b) => b.valid.len(),
            Self::Float32(b) => b.valid.len(),
            Self::Float64(b) => b.valid.len(),
        }
    }

    /// Appends a null.
    #[inline]
    pub fn push_null(&mut self) {
        match self {
            Self::Text(b) => b.push_null(),
            Self::Bool(b) => b.push_null(),
            Self::Int32(b) => b.push_null(),
            Self::Int64(b) => b.push_null(),
            Self::Float32(b) => b.push_null(),
            Self::Float64(b) => b.push_null(),
        }
    }

    /// Drops every row from `rows` on.
    #[inline]
    pub fn truncate(&mut self, rows: usize) {
        match self {
            Self::Text(b) => b.truncate(rows),
            Self::Bool(b) => b.truncate(rows),
            Self::Int32(b) => b.truncate(rows),
            Self::Int64(b) => b.truncate(rows),
            Self::Float32(b) => b.truncate(rows),
            Self::Float64(b) => b.truncate(rows),
        }
    }

    /// The Arrow array of a column of `kind`.
    pub fn finish(self, kind: JsonType) -> Result<ArrayRef, PluginError> {
        Ok(match self {
            Self::Text(b) => Arc::new(b.finish()?),
            Self::Bool(b) => {
                let nulls = b.nulls();
                Arc::new(BooleanArray::new(BooleanBuffer::from(b.values), nulls))
            }
            Self::Int32(b) => prim::<Int32Type>(b),
            Self::Int64(b) if kind == JsonType::Timestamp => {
                let nulls = b.nulls();
                Arc::new(
                    PrimitiveArray::<TimestampMillisecondType>::new(b.values.into(), nulls)
                        .with_timezone("UTC"),
                )
            }
            Self::Int64(b) => prim::<Int64Type>(b),
            Self::Float32(b) => prim::<Float32Type>(b),
            Self::Float64(b) => prim::<Float64Type>(b),
        })
    }
}

fn prim<T>(b: PrimBuf<T::Native>) -> ArrayRef
where
    T: topictable_sdk::arrow_array::types::ArrowPrimitiveType,
{
    let nulls = b.nulls();
    Arc::new(PrimitiveArray::<T>::new(b.values.into(), nulls))
}
