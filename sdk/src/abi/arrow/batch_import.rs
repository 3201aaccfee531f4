//! The lean import of a record batch from any standard C Data Interface struct
//! array (our lean export, arrow-rs's, or another producer's).
//!
//! Every column of a flat type becomes an arrow-rs array whose buffers share
//! one owner: an `Arc` of the foreign root, whose `release` runs when the last
//! buffer is dropped. Columns of other types, and buffers that are not aligned
//! for their type, are moved out of the root (the specification's move) and
//! imported by arrow-rs, which copies misaligned buffers into aligned ones.
//!
//! # What is checked, and what is trusted
//!
//! The checks are O(1) per column, plus one pass over the offsets of
//! variable-size columns; together they make every access arrow-rs does
//! through the imported arrays stay inside the ranges the C Data Interface
//! says the producer's buffers have:
//!
//! - the root: not released, one child per field, `length ≥ 0`, `offset ≥
//!   0`, a children pointer (a root with an offset or a validity bitmap,
//!   which none of our exports has, goes to arrow-rs's import, which applies
//!   the offset; nulls there are refused);
//! - each child: not released, `length` equal to the root's, `offset ≥ 0`,
//!   `offset + length` without overflow, the buffer count of its type, no
//!   children and no dictionary, `null_count ≥ -1`;
//! - buffers: non-null where data is needed (a validity bitmap may be null
//!   only if `null_count` is 0 or -1), aligned for their element type (else
//!   arrow-rs's import copies them), and a recounted null count equal to the
//!   reported one;
//! - offsets (utf8, binary and their large forms): the first is ≥ 0, each is ≥
//!   the one before, and the last sizes the values buffer, so every value's
//!   range lies inside it;
//! - no nulls in a field the schema declares non-nullable.
//!
//! Trusted, because no consumer of the C Data Interface can check them: that
//! each buffer really is as long as the specification makes it for the
//! array's `offset + length`, and that the data has the type of the schema
//! exchanged when the decoder (or encoder, or sink) was made. Utf8 data is
//! not re-validated as UTF-8: that would cost as much as decoding short
//! strings; a producer that is not our SDK must send valid UTF-8, as the Arrow
//! format requires. (arrow-rs's import, which every batch took before, checks
//! neither the offsets nor the null counts.)

use std::ffi::c_void;
use std::ptr::{self, NonNull};
use std::sync::Arc;

use arrow_array::types::{
    ArrowPrimitiveType, BinaryType, ByteArrayType, LargeBinaryType, LargeUtf8Type, Utf8Type,
};
use arrow_array::{
    Array, ArrayRef, BooleanArray, FixedSizeBinaryArray, GenericByteArray, PrimitiveArray,
    RecordBatch, StructArray, downcast_primitive, ffi::from_ffi_and_data_type, make_array,
    new_empty_array,
};
use arrow_buffer::{
    ArrowNativeType, BooleanBuffer, Buffer, NullBuffer, OffsetBuffer, ScalarBuffer, bit_util,
};
use arrow_data::ffi::FFI_ArrowArray;
use arrow_schema::{ArrowError, DataType, SchemaRef};

use super::c_data::RawArrowArray;

/// Why an Arrow array from the other side of the ABI was refused.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ArrowImportError {
    /// The array's `release` is already null.
    #[error("the Arrow array was already released")]
    Released,
    /// The struct array does not have one child per schema field.
    #[error("the struct array has {found} children, the schema {expected} fields")]
    ColumnCount {
        /// Fields in the schema.
        expected: usize,
        /// Children in the array.
        found: i64,
    },
    /// The struct array has nulls of its own, which a record batch cannot hold.
    #[error("a record batch's struct array has top-level nulls")]
    TopLevelNulls,
    /// The struct array's own length, offset or children break the C Data Interface.
    #[error("the struct array: {0}")]
    MalformedRoot(String),
    /// A length, offset, count or pointer breaks the C Data Interface.
    #[error("column {column} ({data_type}): {problem}")]
    Malformed {
        /// Index of the column.
        column: usize,
        /// Its type in the schema.
        data_type: DataType,
        /// What is wrong.
        problem: String,
    },
    /// arrow-rs refused the data.
    #[error(transparent)]
    Arrow(#[from] ArrowError),
}

/// Imports a struct array as a record batch of `schema`, taking ownership of it.
pub(super) fn import_batch(
    array: FFI_ArrowArray,
    schema: &SchemaRef,
) -> Result<RecordBatch, ArrowImportError> {
    let root = RawArrowArray::view(&array);
    if root.release.is_none() {
        return Err(ArrowImportError::Released);
    }
    let fields = schema.fields();
    if root.n_children != fields.len() as i64 {
        return Err(ArrowImportError::ColumnCount {
            expected: fields.len(),
            found: root.n_children,
        });
    }
    if root.length < 0 || root.offset < 0 || root.offset.checked_add(root.length).is_none() {
        return Err(ArrowImportError::MalformedRoot(format!(
            "length {} at offset {}",
            root.length, root.offset
        )));
    }
    if root.children.is_null() && root.n_children > 0 {
        return Err(ArrowImportError::MalformedRoot(
            "children pointer is null".into(),
        ));
    }
    let has_no_validity = root.n_buffers == 1
        && !root.buffers.is_null()
        && (root.null_count == 0 || (root.null_count == -1 && root.buffer(0).is_null()));
    if root.offset != 0 || !has_no_validity {
        // Not the shape any of our exports has (arrow-rs's neither): let
        // arrow-rs's import apply the offset and check for nulls.
        return import_batch_with_arrow_rs(array, schema);
    }
    let rows = root.length as usize;
    let children = root.children;
    let owner = Arc::new(array);
    let mut columns = Vec::with_capacity(fields.len());
    for (index, field) in fields.iter().enumerate() {
        // SAFETY: `children` holds `n_children` pointers (checked equal to the
        // field count above), kept alive by the root in `owner`.
        let child = unsafe { children.add(index).read() };
        let column = ForeignColumn {
            index,
            data_type: field.data_type(),
            rows,
            owner: &owner,
        };
        if child.is_null() {
            return Err(column.malformed("the child pointer is null"));
        }
        // SAFETY: a non-null child of a live root is a valid ArrowArray.
        let imported = column.import(unsafe { &*child })?;
        columns.push(match imported {
            Some(array) => array,
            // SAFETY: as above; moving the child out, which the specification
            // allows, leaves it released in place so the root's release skips it.
            None => unsafe { column.move_out_and_import(child) }?,
        });
    }
    for (index, (field, column)) in fields.iter().zip(&columns).enumerate() {
        if !field.is_nullable() && column.null_count() > 0 {
            return Err(ArrowImportError::Malformed {
                column: index,
                data_type: field.data_type().clone(),
                problem: format!("nulls in non-nullable field {}", field.name()),
            });
        }
    }
    // SAFETY: what RecordBatch::try_new would check holds by construction:
    // one column per field (counted above), each built with exactly its
    // field's data type and `rows` rows (the lean imports use the field's
    // type or the T::DATA_TYPE it equals, and check the length; arrow-rs's
    // import gets the field's type and its length is checked), and no nulls
    // in a non-nullable field (checked just above).
    Ok(unsafe { RecordBatch::new_unchecked(schema.clone(), columns, rows) })
}

/// Imports a struct array through arrow-rs (the path for unusual root shapes).
pub(super) fn import_batch_with_arrow_rs(
    array: FFI_ArrowArray,
    schema: &SchemaRef,
) -> Result<RecordBatch, ArrowImportError> {
    // SAFETY: `array` is an unreleased C Data Interface array (checked by the
    // caller); arrow-rs reads it as a struct of the schema's fields.
    let data = unsafe { from_ffi_and_data_type(array, DataType::Struct(schema.fields().clone())) }?;
    let array = StructArray::from(data);
    if array.null_count() > 0 {
        return Err(ArrowImportError::TopLevelNulls);
    }
    let (_, columns, _) = array.into_parts();
    Ok(RecordBatch::try_new(schema.clone(), columns)?)
}

/// One child of a foreign struct array, being imported as a column.
struct ForeignColumn<'a> {
    index: usize,
    data_type: &'a DataType,
    rows: usize,
    owner: &'a Arc<FFI_ArrowArray>,
}

/// The checked position of a child's rows in its buffers.
#[derive(Clone, Copy)]
struct Span {
    offset: usize,
    length: usize,
}

macro_rules! import_primitive {
    ($t:ty, $column:ident, $child:ident) => {
        $column.primitive::<$t>($child)
    };
}

impl ForeignColumn<'_> {
    fn malformed(&self, problem: impl Into<String>) -> ArrowImportError {
        ArrowImportError::Malformed {
            column: self.index,
            data_type: self.data_type.clone(),
            problem: problem.into(),
        }
    }

    /// The column as an arrow-rs array sharing the root's buffers, or `None`
    /// when it must go through arrow-rs's import instead.
    fn import(&self, child: &RawArrowArray) -> Result<Option<ArrayRef>, ArrowImportError> {
        if child.release.is_none() {
            return Err(self.malformed("the child array was already released"));
        }
        downcast_primitive! {
            self.data_type => (import_primitive, self, child),
            DataType::Boolean => self.boolean(child),
            DataType::Utf8 => self.bytes::<Utf8Type>(child),
            DataType::LargeUtf8 => self.bytes::<LargeUtf8Type>(child),
            DataType::Binary => self.bytes::<BinaryType>(child),
            DataType::LargeBinary => self.bytes::<LargeBinaryType>(child),
            DataType::FixedSizeBinary(width) => self.fixed_size_binary(child, *width),
            _ => Ok(None),
        }
    }

    /// Moves the child out of the root and imports it with arrow-rs.
    ///
    /// # Safety
    /// `child` is a non-null, unreleased child of the root in `owner`.
    unsafe fn move_out_and_import(
        &self,
        child: *mut RawArrowArray,
    ) -> Result<ArrayRef, ArrowImportError> {
        // SAFETY: the caller's contract; the copy takes over the child's
        // release, and the original is marked released, as a move requires.
        let moved = unsafe {
            let moved = ptr::read(child);
            (*child).release = None;
            moved
        };
        // SAFETY: a valid C Data Interface array of the schema's type.
        let data = unsafe { from_ffi_and_data_type(moved.into_ffi(), self.data_type.clone()) }?;
        if data.len() != self.rows {
            return Err(self.malformed(format!("length {}, expected {}", data.len(), self.rows)));
        }
        Ok(make_array(data))
    }

    /// Checks the parts every flat layout shares, and returns the span.
    fn check_flat(&self, child: &RawArrowArray, n_buffers: i64) -> Result<Span, ArrowImportError> {
        if child.length != self.rows as i64 {
            return Err(self.malformed(format!("length {}, expected {}", child.length, self.rows)));
        }
        if child.offset < 0 || child.offset.checked_add(child.length).is_none() {
            return Err(self.malformed(format!("offset {} out of range", child.offset)));
        }
        if child.n_buffers != n_buffers || child.buffers.is_null() {
            return Err(
                self.malformed(format!("{} buffers, expected {n_buffers}", child.n_buffers))
            );
        }
        if child.n_children != 0 || !child.dictionary.is_null() {
            return Err(self.malformed("children or a dictionary on a flat type"));
        }
        if child.null_count < -1 {
            return Err(self.malformed(format!("null_count {}", child.null_count)));
        }
        Ok(Span {
            offset: child.offset as usize,
            length: self.rows,
        })
    }

    /// A buffer of the foreign batch as an arrow-rs `Buffer` sharing its owner.
    ///
    /// # Safety
    /// `start` is valid for `len` bytes for as long as the root is unreleased.
    unsafe fn share(&self, start: *const u8, len: usize) -> Buffer {
        match NonNull::new(start.cast_mut()) {
            // SAFETY: the caller's contract; the owner keeps the root, and so
            // the producer's memory, alive as long as the Buffer lives.
            Some(start) => unsafe {
                Buffer::from_custom_allocation(start, len, self.owner.clone())
            },
            None => Buffer::from(Vec::<u8>::new()),
        }
    }

    /// Bits `[offset, offset + length)` of the bitmap at `bitmap`.
    ///
    /// # Safety
    /// `bitmap` is non-null and holds at least `offset + length` bits.
    unsafe fn bits(&self, bitmap: *const c_void, span: Span) -> BooleanBuffer {
        let first_byte = span.offset / 8;
        let end_byte = bit_util::ceil(span.offset + span.length, 8);
        // SAFETY: the caller's contract covers bytes [first_byte, end_byte).
        let bytes =
            unsafe { self.share(bitmap.cast::<u8>().add(first_byte), end_byte - first_byte) };
        BooleanBuffer::new(bytes, span.offset % 8, span.length)
    }

    fn nulls(
        &self,
        child: &RawArrowArray,
        span: Span,
    ) -> Result<Option<NullBuffer>, ArrowImportError> {
        if child.null_count == 0 {
            return Ok(None);
        }
        let bitmap = child.buffer(0);
        if bitmap.is_null() {
            return match child.null_count {
                -1 => Ok(None),
                _ => Err(self.malformed("nulls without a validity bitmap")),
            };
        }
        // SAFETY: a validity bitmap holds offset + length bits.
        let nulls = NullBuffer::new(unsafe { self.bits(bitmap, span) });
        if child.null_count != -1 && nulls.null_count() as i64 != child.null_count {
            return Err(self.malformed(format!(
                "null_count {} but the bitmap has {} nulls",
                child.null_count,
                nulls.null_count()
            )));
        }
        Ok((nulls.null_count() > 0).then_some(nulls))
    }

    /// `count` elements of `T` from element `first` of buffer `index`, or
    /// `None` if the buffer is not aligned for `T`.
    fn elements<T: ArrowNativeType>(
        &self,
        child: &RawArrowArray,
        index: usize,
        first: usize,
        count: usize,
    ) -> Result<Option<ScalarBuffer<T>>, ArrowImportError> {
        let start = child.buffer(index).cast::<T>();
        if count == 0 {
            return Ok(Some(ScalarBuffer::from(Vec::new())));
        }
        if start.is_null() {
            return Err(self.malformed(format!("buffer {index} is null")));
        }
        if !start.is_aligned() {
            return Ok(None);
        }
        let end_byte = first
            .checked_add(count)
            .and_then(|end| end.checked_mul(size_of::<T>()))
            .filter(|&end| end <= isize::MAX as usize);
        if end_byte.is_none() {
            return Err(self.malformed("offset and length overflow the buffers"));
        }
        // SAFETY: the C Data Interface makes this buffer hold at least
        // `first + count` elements of T (a size that fits in isize, checked).
        let buffer = unsafe { self.share(start.add(first).cast(), count * size_of::<T>()) };
        Ok(Some(ScalarBuffer::from(buffer)))
    }

    fn primitive<T: ArrowPrimitiveType>(
        &self,
        child: &RawArrowArray,
    ) -> Result<Option<ArrayRef>, ArrowImportError> {
        let span = self.check_flat(child, 2)?;
        if span.length == 0 {
            return Ok(Some(new_empty_array(self.data_type)));
        }
        let nulls = self.nulls(child, span)?;
        let Some(values) = self.elements::<T::Native>(child, 1, span.offset, span.length)? else {
            return Ok(None);
        };
        let array = PrimitiveArray::<T>::try_new(values, nulls)?;
        // Only these types have parameters beyond what T::DATA_TYPE says.
        let parametrised = matches!(
            self.data_type,
            DataType::Timestamp(_, Some(_))
                | DataType::Decimal32(..)
                | DataType::Decimal64(..)
                | DataType::Decimal128(..)
                | DataType::Decimal256(..)
        );
        Ok(Some(if parametrised {
            Arc::new(array.with_data_type(self.data_type.clone()))
        } else {
            Arc::new(array)
        }))
    }

    fn boolean(&self, child: &RawArrowArray) -> Result<Option<ArrayRef>, ArrowImportError> {
        let span = self.check_flat(child, 2)?;
        if span.length == 0 {
            return Ok(Some(new_empty_array(self.data_type)));
        }
        let nulls = self.nulls(child, span)?;
        let bitmap = child.buffer(1);
        if bitmap.is_null() {
            return Err(self.malformed("buffer 1 is null"));
        }
        // SAFETY: a boolean values bitmap holds offset + length bits.
        let values = unsafe { self.bits(bitmap, span) };
        // Both hold `length` bits, which is all `new` asserts.
        Ok(Some(Arc::new(BooleanArray::new(values, nulls))))
    }

    fn bytes<T: ByteArrayType>(
        &self,
        child: &RawArrowArray,
    ) -> Result<Option<ArrayRef>, ArrowImportError> {
        let span = self.check_flat(child, 3)?;
        if span.length == 0 {
            return Ok(Some(new_empty_array(self.data_type)));
        }
        let nulls = self.nulls(child, span)?;
        let Some(offsets) = self.elements::<T::Offset>(child, 1, span.offset, span.length + 1)?
        else {
            return Ok(None);
        };
        // Together these keep every value's byte range inside [0, last).
        let ascending = ascending(&offsets);
        let first = offsets[0].to_usize();
        let last = offsets[span.length].to_usize();
        let (true, Some(_), Some(last)) = (ascending, first, last) else {
            return Err(self.malformed("offsets are negative or decreasing"));
        };
        let data = child.buffer(2);
        if data.is_null() && last > 0 {
            return Err(self.malformed("buffer 2 is null"));
        }
        // SAFETY: the values buffer holds at least as many bytes as the last
        // offset (the C Data Interface's definition of its size).
        let values = unsafe { self.share(data.cast(), last) };
        // SAFETY: offsets checked above (non-negative, ascending, within the
        // values); UTF-8 validity of Utf8 data is trusted (see module docs).
        let array = unsafe {
            GenericByteArray::<T>::new_unchecked(
                OffsetBuffer::new_unchecked(offsets),
                values,
                nulls,
            )
        };
        Ok(Some(Arc::new(array)))
    }

    fn fixed_size_binary(
        &self,
        child: &RawArrowArray,
        width: i32,
    ) -> Result<Option<ArrayRef>, ArrowImportError> {
        let span = self.check_flat(child, 2)?;
        let Ok(width) = usize::try_from(width) else {
            return Err(self.malformed("negative width"));
        };
        if span.length == 0 {
            return Ok(Some(new_empty_array(self.data_type)));
        }
        let nulls = self.nulls(child, span)?;
        let values = if width == 0 {
            Buffer::from(Vec::<u8>::new())
        } else {
            let first = span.offset.checked_mul(width);
            let count = span.length.checked_mul(width);
            let (Some(first), Some(count)) = (first, count) else {
                return Err(self.malformed("offset and length overflow the values buffer"));
            };
            match self.elements::<u8>(child, 1, first, count)? {
                Some(values) => values.into_inner(),
                None => return Ok(None),
            }
        };
        let array =
            FixedSizeBinaryArray::try_new_with_len(width as i32, values, nulls, span.length)?;
        Ok(Some(Arc::new(array)))
    }
}

/// Whether no offset is below the one before it: the slice against itself
/// shifted by one, in fixed-size chunks without early exit whose compare
/// masks are OR-ed lane by lane and reduced once at the end, which the
/// compiler turns into two loads, a compare and an OR per vector
/// (`windows(2)` and `is_sorted` stay scalar). This is the one pass over a
/// column the import makes.
fn ascending<O: Ord>(offsets: &[O]) -> bool {
    const CHUNK: usize = 16;
    let Some((_, later)) = offsets.split_first() else {
        return true;
    };
    let earlier = &offsets[..later.len()];
    let (earlier_chunks, later_chunks) = (earlier.chunks_exact(CHUNK), later.chunks_exact(CHUNK));
    let tail = earlier_chunks
        .remainder()
        .iter()
        .zip(later_chunks.remainder());
    let tail_ascending = tail.fold(true, |ascending, (before, after)| {
        ascending & (before <= after)
    });
    // -1 in a lane once it has seen a descent (a compare mask), else 0.
    let mut descents = [0i32; CHUNK];
    for (before, after) in earlier_chunks.zip(later_chunks) {
        for lane in 0..CHUNK {
            descents[lane] |= -i32::from(before[lane] > after[lane]);
        }
    }
    tail_ascending && descents.iter().fold(0, |any, lane| any | lane) == 0
}
