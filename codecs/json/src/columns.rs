//! The decoder's column buffers: one shared buffer (`topictable-columns`)
//! per output column, chosen by the column's JSON type.

use std::sync::Arc;

use topictable_columns::{BooleanBuf, BytesBuf, ColumnError, PrimitiveBuf};
use topictable_sdk::PluginError;
use topictable_sdk::arrow_array::ArrayRef;
use topictable_sdk::arrow_array::types::{
    Float32Type, Float64Type, Int32Type, Int64Type, TimestampMillisecondType,
};

use crate::JsonType;

/// The buffer of one output column.
#[derive(Debug)]
pub(crate) enum ColumnBuf {
    /// `string` and `json` columns.
    Text(BytesBuf),
    /// `bool` columns.
    Bool(BooleanBuf),
    /// `int32` columns.
    Int32(PrimitiveBuf<i32>),
    /// `int64` and `timestamp` (epoch millis) columns.
    Int64(PrimitiveBuf<i64>),
    /// `float32` columns.
    Float32(PrimitiveBuf<f32>),
    /// `float64` columns.
    Float64(PrimitiveBuf<f64>),
}

impl ColumnBuf {
    /// An empty buffer for `rows` rows of `kind`, with `bytes` of text room.
    pub fn new(kind: JsonType, rows: usize, bytes: usize) -> Self {
        match kind {
            JsonType::String | JsonType::Json => Self::Text(BytesBuf::with_capacity(rows, bytes)),
            JsonType::Bool => Self::Bool(BooleanBuf::with_capacity(rows)),
            JsonType::Int32 => Self::Int32(PrimitiveBuf::with_capacity(rows)),
            JsonType::Int64 | JsonType::Timestamp => Self::Int64(PrimitiveBuf::with_capacity(rows)),
            JsonType::Float32 => Self::Float32(PrimitiveBuf::with_capacity(rows)),
            JsonType::Float64 => Self::Float64(PrimitiveBuf::with_capacity(rows)),
        }
    }

    /// Rows written so far.
    #[inline]
    pub fn len(&self) -> usize {
        match self {
            Self::Text(b) => b.len(),
            Self::Bool(b) => b.len(),
            Self::Int32(b) => b.len(),
            Self::Int64(b) => b.len(),
            Self::Float32(b) => b.len(),
            Self::Float64(b) => b.len(),
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
            Self::Text(b) => Arc::new(b.finish_utf8().map_err(text_error)?),
            Self::Bool(b) => Arc::new(b.finish()),
            Self::Int32(b) => Arc::new(b.finish::<Int32Type>()),
            Self::Int64(b) if kind == JsonType::Timestamp => {
                Arc::new(b.finish::<TimestampMillisecondType>().with_timezone("UTC"))
            }
            Self::Int64(b) => Arc::new(b.finish::<Int64Type>()),
            Self::Float32(b) => Arc::new(b.finish::<Float32Type>()),
            Self::Float64(b) => Arc::new(b.finish::<Float64Type>()),
        })
    }
}

/// A text column that could not be finished: a value refused for passing
/// 2 GiB fails the batch (the store goes on past it, see [`crate::convert`]).
fn text_error(e: ColumnError) -> PluginError {
    match e {
        ColumnError::Overflow { .. } => PluginError::failed(
            "json: a decoded string column exceeds 2 GiB in one batch; use smaller batches",
        ),
        other => PluginError::failed(format!("json: a decoded string column: {other}")),
    }
}
