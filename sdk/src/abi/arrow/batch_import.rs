//! The lean import of a record batch from any standard C Data Interface struct
//! array (our lean export, arrow-rs's, or another producer's).
//!
//! Every column of a flat type becomes an arrow-rs array whose buffers share
//! one owner: an `Arc` of the foreign root, whose `release` runs when the last
//! buffer is dropped; a buffer that is not aligned for its type is copied
//! into an aligned one. Columns of other (nested) types, and roots of shapes
//! our exports never make, are moved out of the root (the specification's
//! move) and imported by arrow-rs, after `check_shape` has checked every
//! length, offset, buffer and child count that arrow-rs sizes its reads by;
//! what arrow-rs then builds is checked as the lean path checks (buffer
//! sizes, null counts, ascending offsets inside their values, dictionary
//! keys, union type ids: `check_values`), because its import trusts them.
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
//!   which none of our exports has, goes to arrow-rs's import after
//!   `check_shape`, and is then validated in full; nulls there are refused);
//! - each child: not released, `length` equal to the root's, `offset ≥ 0`,
//!   `offset + length` without overflow, the buffer count of its type, no
//!   children and no dictionary, `null_count ≥ -1`;
//! - buffers: non-null where data is needed (a validity bitmap may be null
//!   only if `null_count` is 0 or -1), copied when not aligned for their
//!   element type, and a recounted null count equal to the reported one;
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
//! format requires.
//! (arrow-rs's import alone, which every batch took before, checks neither
//! the offsets nor the null counts.) The `c_data_import` fuzz target builds
//! foreign batches that lie in every one of these ways.

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
use arrow_data::ArrayData;
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
        let slot = unsafe { children.add(index) };
        // SAFETY: the slot is in bounds and initialised (as above).
        let child = unsafe { slot.read() };
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
    let data_type = DataType::Struct(schema.fields().clone());
    check_shape(RawArrowArray::view(&array), &data_type, 0)
        .map_err(ArrowImportError::MalformedRoot)?;
    // SAFETY: `array` is an unreleased C Data Interface array whose lengths,
    // offsets, buffer and child counts were checked against the schema
    // (check_shape); arrow-rs reads it as a struct of the schema's fields.
    let data = unsafe { from_ffi_and_data_type(array, data_type) }?;
    // arrow-rs's import trusts the values (offsets, child lengths, type
    // ids); this path is for shapes our exports never make, so check them all.
    check_values(&data)?;
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
        // SAFETY: the caller's contract.
        let shape = check_shape(unsafe { &*child }, self.data_type, 0);
        shape.map_err(|problem| self.malformed(problem))?;
        // SAFETY: the caller's contract; the copy takes over the child's
        // release ...
        let moved = unsafe { ptr::read(child) };
        // SAFETY: ... and the original is marked released, as a move requires.
        unsafe { (*child).release = None };
        // SAFETY: an unreleased C Data Interface array whose lengths,
        // offsets, buffer and child counts fit the schema's type (checked
        // above), so arrow-rs's import reads only inside its buffers.
        let data = unsafe { from_ffi_and_data_type(moved.into_ffi(), self.data_type.clone()) }?;
        if data.len() != self.rows {
            return Err(self.malformed(format!("length {}, expected {}", data.len(), self.rows)));
        }
        // arrow-rs's import trusts offsets, child lengths and type ids.
        check_values(&data)?;
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
        // SAFETY: the caller's contract: first_byte is inside the bitmap.
        let from = unsafe { bitmap.cast::<u8>().add(first_byte) };
        // SAFETY: the caller's contract covers bytes [first_byte, end_byte).
        let bytes = unsafe { self.share(from, end_byte - first_byte) };
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

    /// `count` elements of `T` from element `first` of buffer `index`
    /// (shared, or copied when the buffer is not aligned for `T`).
    fn elements<T: ArrowNativeType>(
        &self,
        child: &RawArrowArray,
        index: usize,
        first: usize,
        count: usize,
    ) -> Result<ScalarBuffer<T>, ArrowImportError> {
        let start = child.buffer(index).cast::<T>();
        if count == 0 {
            return Ok(ScalarBuffer::from(Vec::new()));
        }
        if start.is_null() {
            return Err(self.malformed(format!("buffer {index} is null")));
        }
        let end_byte = first
            .checked_add(count)
            .and_then(|end| end.checked_mul(size_of::<T>()))
            .filter(|&end| end <= isize::MAX as usize);
        if end_byte.is_none() {
            return Err(self.malformed("offset and length overflow the buffers"));
        }
        if !start.is_aligned() {
            // Copied into an aligned buffer here: arrow-rs's import would
            // read the last offset through the misaligned pointer.
            let mut copy = Vec::<T>::with_capacity(count);
            // SAFETY: the buffer holds `first + count` elements of T (as
            // below), so element `first` is inside it.
            let from = unsafe { start.add(first) };
            // SAFETY: `count` elements from there, read as bytes, which need
            // no alignment, into the copy's `count` elements of capacity.
            unsafe {
                ptr::copy_nonoverlapping(
                    from.cast::<u8>(),
                    copy.as_mut_ptr().cast::<u8>(),
                    count * size_of::<T>(),
                )
            };
            // SAFETY: all `count` elements were just written; any bytes are a
            // valid T (ArrowNativeType is plain old data).
            unsafe { copy.set_len(count) };
            return Ok(ScalarBuffer::from(copy));
        }
        // SAFETY: the C Data Interface makes this buffer hold at least
        // `first + count` elements of T (a size that fits in isize, checked).
        let from = unsafe { start.add(first) };
        // SAFETY: `count` elements of T from there are inside the buffer (above).
        let buffer = unsafe { self.share(from.cast(), count * size_of::<T>()) };
        Ok(ScalarBuffer::from(buffer))
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
        let values = self.elements::<T::Native>(child, 1, span.offset, span.length)?;
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
        let offsets = self.elements::<T::Offset>(child, 1, span.offset, span.length + 1)?;
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
        // SAFETY: offsets checked above (non-negative, ascending).
        let offsets = unsafe { OffsetBuffer::new_unchecked(offsets) };
        // SAFETY: the offsets are within the values (checked above); UTF-8
        // validity of Utf8 data is trusted (see module docs).
        let array = unsafe { GenericByteArray::<T>::new_unchecked(offsets, values, nulls) };
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
            self.elements::<u8>(child, 1, first, count)?.into_inner()
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

/// Deepest nesting of types `check_shape` follows.
const MAX_DEPTH: usize = 64;

/// Checks what arrow-rs's import computes buffer sizes from before it reads
/// a byte: per array (children and dictionary included) that it is not
/// released, that length and offset are non-negative and their sum (in
/// bits of the widest type) does not overflow, and that it has the buffer
/// and child counts of its type, with the pointers to them. Values
/// (offsets, type ids) are checked after the import, by arrow-rs's
/// `check_values`.
fn check_shape(array: &RawArrowArray, data_type: &DataType, depth: usize) -> Result<(), String> {
    if depth > MAX_DEPTH {
        return Err(format!("types nested deeper than {MAX_DEPTH}"));
    }
    if array.release.is_none() {
        return Err("an array was already released".into());
    }
    let end = array.offset.checked_add(array.length);
    if array.length < 0 || array.offset < 0 || end.is_none_or(|e| e > i64::MAX / 256) {
        return Err(format!(
            "length {} at offset {} is out of range",
            array.length, array.offset
        ));
    }
    if array.null_count < -1 {
        return Err(format!("null_count {}", array.null_count));
    }
    // The buffer count arrow-rs's export writes (and its import reads).
    let layout = arrow_data::layout(data_type);
    if layout.variadic {
        return Err(format!("type {data_type} cannot cross the ABI"));
    }
    let buffers = (layout.buffers.len() + usize::from(layout.can_contain_null_mask)) as i64;
    let children: Vec<&DataType> = match data_type {
        DataType::List(f)
        | DataType::LargeList(f)
        | DataType::FixedSizeList(f, _)
        | DataType::Map(f, _) => vec![f.data_type()],
        DataType::Struct(fields) => fields.iter().map(|f| f.data_type()).collect(),
        DataType::Union(fields, _) => fields.iter().map(|(_, f)| f.data_type()).collect(),
        DataType::RunEndEncoded(ends, values) => vec![ends.data_type(), values.data_type()],
        DataType::ListView(_) | DataType::LargeListView(_) => {
            return Err(format!("type {data_type} cannot cross the ABI"));
        }
        _ => Vec::new(),
    };
    if array.n_buffers != buffers || (buffers > 0 && array.buffers.is_null()) {
        return Err(format!(
            "{} buffers for {data_type}, expected {buffers}",
            array.n_buffers
        ));
    }
    if array.n_children != children.len() as i64
        || (!children.is_empty() && array.children.is_null())
    {
        return Err(format!(
            "{} children for {data_type}, expected {}",
            array.n_children,
            children.len()
        ));
    }
    // arrow-rs's import reads the last offset through the offsets pointer.
    let offset_width = match data_type {
        DataType::Utf8 | DataType::Binary | DataType::List(_) | DataType::Map(..) => 4,
        DataType::LargeUtf8 | DataType::LargeBinary | DataType::LargeList(_) => 8,
        _ => 1,
    };
    if offset_width > 1 && array.length > 0 && !array.buffer(1).addr().is_multiple_of(offset_width)
    {
        return Err(format!("the offsets of {data_type} are not aligned"));
    }
    for (i, child_type) in children.into_iter().enumerate() {
        // SAFETY: `children` holds `n_children` pointers (checked above),
        // kept alive by the array that holds them.
        let slot = unsafe { array.children.add(i) };
        // SAFETY: the slot is in bounds and initialised (as above).
        let child = unsafe { slot.read() };
        if child.is_null() {
            return Err(format!("child {i} of {data_type} is null"));
        }
        // SAFETY: a non-null child of a live array is a valid ArrowArray.
        let child = unsafe { &*child };
        check_shape(child, child_type, depth + 1)?;
        // A struct's rows are its children's rows at its own offset; a
        // fixed-size list's are `size` child rows each (arrow-rs slices the
        // child by them, and its own check leaves the offset out).
        let needed = match data_type {
            DataType::Struct(_) => Some(array.offset + array.length),
            DataType::FixedSizeList(_, size) => (array.offset + array.length)
                .checked_mul(i64::from(*size))
                .filter(|n| *n <= i64::MAX / 256),
            _ => Some(0),
        };
        match needed {
            Some(needed) if child.length >= needed => {}
            Some(needed) => {
                return Err(format!(
                    "child {i} of {data_type} has {} rows, {needed} needed (offset {} + length {})",
                    child.length, array.offset, array.length
                ));
            }
            None => return Err(format!("{data_type}: offset + length overflows")),
        }
    }
    match data_type {
        DataType::Dictionary(_, values) => {
            if array.dictionary.is_null() {
                return Err("a dictionary array without its dictionary".into());
            }
            // SAFETY: a non-null dictionary of a live array is a valid ArrowArray.
            check_shape(unsafe { &*array.dictionary }, values, depth + 1)
        }
        _ if !array.dictionary.is_null() => Err(format!("a dictionary on {data_type}")),
        _ => Ok(()),
    }
}

/// What arrow-rs's `validate_full` checks, but UTF-8 (trusted, as on the
/// lean path): per array, children and dictionary included, the buffer
/// sizes and child lengths (`validate`), the null counts, and that offsets
/// ascend from ≥ 0 and stay inside their values (`ascending`, one pass);
/// other types' values (dictionary keys, union type ids) by arrow-rs.
fn check_values(data: &ArrayData) -> Result<(), ArrowError> {
    data.validate()?;
    data.validate_nulls()?;
    match data.data_type() {
        DataType::Utf8 | DataType::Binary => check_offsets::<i32>(data, data.buffers()[1].len())?,
        DataType::LargeUtf8 | DataType::LargeBinary => {
            check_offsets::<i64>(data, data.buffers()[1].len())?;
        }
        DataType::List(_) | DataType::Map(..) => {
            check_offsets::<i32>(data, data.child_data()[0].len())?;
        }
        DataType::LargeList(_) => check_offsets::<i64>(data, data.child_data()[0].len())?,
        t if t.is_primitive()
            || matches!(
                t,
                DataType::Null
                    | DataType::Boolean
                    | DataType::FixedSizeBinary(_)
                    | DataType::FixedSizeList(..)
                    | DataType::Struct(_)
            ) => {}
        _ => data.validate_values()?,
    }
    data.child_data().iter().try_for_each(check_values)
}

/// Offsets `[offset, offset + len]` of `data` ascend from ≥ 0 to ≤ `limit`.
fn check_offsets<O: ArrowNativeType + Ord>(
    data: &ArrayData,
    limit: usize,
) -> Result<(), ArrowError> {
    if data.is_empty() {
        return Ok(());
    }
    // `validate` checked that the buffer holds offset + len + 1 offsets;
    // `buffer` starts at the array's offset.
    let offsets = &data.buffer::<O>(0)[..=data.len()];
    let first = offsets[0].to_usize();
    let last = offsets[data.len()].to_usize();
    match (first, last, ascending(offsets)) {
        (Some(_), Some(last), true) if last <= limit => Ok(()),
        _ => Err(ArrowError::InvalidArgumentError(format!(
            "{}: offsets are negative, decreasing or past the values ({limit})",
            data.data_type()
        ))),
    }
}
