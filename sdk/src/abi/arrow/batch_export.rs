//! The lean export of a record batch: one standard C Data Interface struct
//! array whose children, buffer-pointer arrays and source batch all live in
//! one allocation (a [`BatchExport`]), built without going through
//! `ArrayData`.
//!
//! Columns of flat types (every fixed-width primitive, boolean, fixed-size
//! binary, and (large) utf8 and binary) point straight into the batch's own
//! buffers. Any other column is exported by arrow-rs's `FFI_ArrowArray::new`,
//! and becomes a child with its own `release` that the root's release calls.
//!
//! Ownership, per the specification's move semantics: the root and every lean
//! child hold one reference each on the export. The root's `release` releases
//! the children still in place, then drops its own reference; a child the
//! consumer moved out keeps the export alive until its own `release` runs.
//! Whichever reference goes last frees everything, on the side that allocated
//! it (this binary).

use std::alloc::{Layout, alloc, dealloc, handle_alloc_error};
use std::ffi::c_void;
use std::ptr;
use std::sync::atomic::{AtomicUsize, Ordering, fence};

use arrow_array::cast::AsArray;
use arrow_array::types::{
    ArrowPrimitiveType, BinaryType, ByteArrayType, LargeBinaryType, LargeUtf8Type, Utf8Type,
};
use arrow_array::{Array, BooleanArray, GenericByteArray, RecordBatch, downcast_primitive};
use arrow_buffer::{Buffer, NullBuffer};
use arrow_data::ffi::FFI_ArrowArray;
use arrow_schema::DataType;

use super::c_data::RawArrowArray;
use crate::abi::counts::{Counter, bump};
use crate::abi::panic::guard_release;

/// Everything one exported batch owns; the root's `private_data`.
///
/// It is the head of one allocation of [`BatchExport::layout`]: right after it
/// come `n_children` [`ExportedChild`]ren, then the `n_children` pointers to
/// their arrays that the root's `children` points to.
struct BatchExport {
    /// One for the root plus one per lean child not yet released.
    references: AtomicUsize,
    /// How many children follow.
    n_children: usize,
    /// The source batch, whose buffers the exported pointers point into.
    #[expect(dead_code, reason = "owned for what it keeps alive, never read")]
    batch: RecordBatch,
    /// Bitmaps copied to bit offset 0, for the rare slice whose validity
    /// could not share one offset with its values.
    #[expect(dead_code, reason = "owned for what it keeps alive, never read")]
    relaid_buffers: Vec<Buffer>,
    /// The root's one buffer: its validity, always null (a batch has no
    /// top-level nulls).
    root_buffers: [*const c_void; 1],
}

/// One child array and the buffer pointers its `buffers` points to.
struct ExportedChild {
    array: RawArrowArray,
    buffers: [*const c_void; 3],
}

impl BatchExport {
    /// The allocation for `n_children`, and where its children and their
    /// pointers start, in bytes.
    fn layout(n_children: usize) -> (Layout, usize, usize) {
        let layout = |n_children| {
            let head = Layout::new::<Self>();
            let (with_children, children_at) =
                head.extend(Layout::array::<ExportedChild>(n_children)?)?;
            let (whole, pointers_at) =
                with_children.extend(Layout::array::<*mut RawArrowArray>(n_children)?)?;
            Ok::<_, std::alloc::LayoutError>((whole.pad_to_align(), children_at, pointers_at))
        };
        layout(n_children).expect("a batch's column count fits in memory")
    }
}

/// How a lean column appears on the wire.
struct LeanColumn {
    length: usize,
    null_count: usize,
    offset: usize,
    n_buffers: usize,
    buffers: [*const c_void; 3],
}

/// Exports `batch` as a struct array (one column per child) that owns the batch.
pub(super) fn export_batch(batch: RecordBatch) -> RawArrowArray {
    let rows = batch.num_rows();
    let n_children = batch.num_columns();
    let (layout, children_at, pointers_at) = BatchExport::layout(n_children);
    // SAFETY: the layout is never zero-sized (it holds a BatchExport).
    let base = unsafe { alloc(layout) };
    if base.is_null() {
        handle_alloc_error(layout);
    }
    let export = base.cast::<BatchExport>();
    let mut relaid_buffers = Vec::new();
    let mut references = 1;
    // `base` is a fresh allocation of `layout`, whose parts at children_at
    // and pointers_at are aligned for and sized to n_children children and
    // pointers; each slot is written once before anything reads it. (Should
    // arrow-rs's export panic half-way, the allocation leaks; it is never
    // freed half-initialised.)
    // SAFETY: children_at is inside the allocation (see above).
    let children = unsafe { base.add(children_at) }.cast::<ExportedChild>();
    // SAFETY: pointers_at is inside the allocation (see above).
    let pointers = unsafe { base.add(pointers_at) }.cast::<*mut RawArrowArray>();
    for (index, column) in batch.columns().iter().enumerate() {
        // SAFETY: index < n_children: the slot is inside the children part.
        let child = unsafe { children.add(index) };
        let (array, buffers) = match lean_column(column.as_ref(), &mut relaid_buffers) {
            Some(lean) => {
                references += 1;
                // SAFETY: only the address of the child's buffers is taken.
                let child_buffers = unsafe { &raw mut (*child).buffers };
                let array = RawArrowArray {
                    length: lean.length as i64,
                    null_count: lean.null_count as i64,
                    offset: lean.offset as i64,
                    n_buffers: lean.n_buffers as i64,
                    n_children: 0,
                    buffers: child_buffers.cast(),
                    children: ptr::null_mut(),
                    dictionary: ptr::null_mut(),
                    release: Some(release_lean_child),
                    private_data: export.cast(),
                };
                (array, lean.buffers)
            }
            None => (
                RawArrowArray::from_ffi(FFI_ArrowArray::new(&column.to_data())),
                [ptr::null(); 3],
            ),
        };
        // SAFETY: the slot is in bounds and aligned, and written only here.
        unsafe { child.write(ExportedChild { array, buffers }) };
        // SAFETY: only the address of the child's array is taken.
        let child_array = unsafe { &raw mut (*child).array };
        // SAFETY: index < n_children: the slot is inside the pointers part.
        let slot = unsafe { pointers.add(index) };
        // SAFETY: the slot is in bounds and aligned, and written only here.
        unsafe { slot.write(child_array) };
    }
    // SAFETY: `export` is the allocation's start, aligned for the head, which
    // is written only here.
    unsafe {
        export.write(BatchExport {
            references: AtomicUsize::new(references),
            n_children,
            batch,
            relaid_buffers,
            root_buffers: [ptr::null()],
        })
    };
    // SAFETY: only the address of the head's root buffers is taken.
    let root_buffers = unsafe { &raw mut (*export).root_buffers }.cast();
    bump(Counter::ArrayExported);
    RawArrowArray {
        length: rows as i64,
        null_count: 0,
        offset: 0,
        n_buffers: 1,
        n_children: n_children as i64,
        buffers: root_buffers,
        children: pointers,
        dictionary: ptr::null_mut(),
        release: Some(release_batch_root),
        private_data: export.cast(),
    }
}

/// Drops one reference on `export`, freeing it with the last one.
///
/// # Safety
/// `export` heads an allocation made by [`export_batch`] on which the caller
/// holds a reference that it gives up here.
unsafe fn drop_reference(export: *mut BatchExport) {
    // SAFETY: the caller's reference keeps `export` alive for this access.
    let previous = unsafe { &(*export).references }.fetch_sub(1, Ordering::Release);
    if previous != 1 {
        return;
    }
    // Every other holder's use of the export happens before this free.
    fence(Ordering::Acquire);
    // That was the last reference, so nothing can reach the export any more.
    // SAFETY: the head is still initialised (it is dropped just below).
    let n_children = unsafe { (*export).n_children };
    let (layout, _, _) = BatchExport::layout(n_children);
    // SAFETY: the head is dropped exactly once, here. The children need no
    // drop: each was released (or moved out) before its reference went.
    unsafe { ptr::drop_in_place(export) };
    // SAFETY: the allocation export_batch made with this layout, freed once.
    unsafe { dealloc(export.cast(), layout) };
}

unsafe extern "C" fn release_batch_root(array: *mut RawArrowArray) {
    guard_release("an Arrow batch", || {
        if array.is_null() {
            return;
        }
        // SAFETY: the consumer passes the root built by export_batch, which it
        // owns; release is nulled below, so this runs once per root.
        let root = unsafe { &mut *array };
        let export = root.private_data.cast::<BatchExport>();
        assert!(!export.is_null(), "Arrow batch released twice");
        for index in 0..root.n_children as usize {
            // `children` points to `n_children` pointers into the export,
            // which the root's reference keeps alive.
            // SAFETY: index < n_children: the slot is in bounds.
            let slot = unsafe { root.children.add(index) };
            // SAFETY: the slot was written by export_batch.
            let child = unsafe { slot.read() };
            // SAFETY: the child lives in the export, which is alive.
            let release = unsafe { (*child).release };
            // A child the consumer moved out has a null release and is skipped.
            if let Some(release) = release {
                // SAFETY: the child's own release, called once on it (it
                // nulls its release).
                unsafe { release(child) };
            }
        }
        root.release = None;
        root.private_data = ptr::null_mut();
        bump(Counter::ArrayReleased);
        // SAFETY: the root's own reference, given up once (release is nulled).
        unsafe { drop_reference(export) };
    });
}

unsafe extern "C" fn release_lean_child(array: *mut RawArrowArray) {
    guard_release("an Arrow batch column", || {
        if array.is_null() {
            return;
        }
        // SAFETY: a child built by export_batch, in place or moved out by the
        // consumer; release is nulled below, so its reference goes once.
        let child = unsafe { &mut *array };
        let export = child.private_data.cast::<BatchExport>();
        assert!(!export.is_null(), "Arrow batch column released twice");
        child.release = None;
        child.private_data = ptr::null_mut();
        // SAFETY: this child's reference, given up once.
        unsafe { drop_reference(export) };
    });
}

macro_rules! lean_primitive {
    ($t:ty, $column:ident, $relaid:ident) => {{
        let array = $column.as_primitive::<$t>();
        Some(fixed_width(
            array.values().inner(),
            size_of::<<$t as ArrowPrimitiveType>::Native>(),
            array.len(),
            array.nulls(),
            $relaid,
        ))
    }};
}

/// The wire layout of `column`, pointing into its own buffers, or `None` when
/// its type is left to arrow-rs's export.
fn lean_column(column: &dyn Array, relaid: &mut Vec<Buffer>) -> Option<LeanColumn> {
    downcast_primitive! {
        column.data_type() => (lean_primitive, column, relaid),
        DataType::Boolean => Some(boolean(column.as_boolean(), relaid)),
        DataType::Utf8 => Some(bytes(column.as_bytes::<Utf8Type>(), relaid)),
        DataType::LargeUtf8 => Some(bytes(column.as_bytes::<LargeUtf8Type>(), relaid)),
        DataType::Binary => Some(bytes(column.as_bytes::<BinaryType>(), relaid)),
        DataType::LargeBinary => Some(bytes(column.as_bytes::<LargeBinaryType>(), relaid)),
        DataType::FixedSizeBinary(_) => {
            let array = column.as_fixed_size_binary();
            Some(fixed_width(
                array.values(),
                array.value_length() as usize,
                array.len(),
                array.nulls(),
                relaid,
            ))
        }
        _ => None,
    }
}

/// Picks the one C Data Interface offset shared by a column's validity bitmap
/// and its first buffer of `width`-byte elements (`first`), and returns it with
/// the validity pointer.
///
/// arrow-rs slices the bitmap by bits and the other buffers by elements. A bit
/// offset that is a multiple of 8 becomes a byte step of the bitmap pointer,
/// with offset 0. Otherwise the offset is the remainder `r`, and `first` is
/// stepped back `r` elements, which stays inside its allocation when the slice
/// starts at least that far into it (it always does for a slice of an array
/// built whole). Failing that, the bitmap is copied to bit offset 0.
fn shared_offset(
    nulls: Option<&NullBuffer>,
    first: &Buffer,
    width: usize,
    relaid: &mut Vec<Buffer>,
) -> (usize, *const u8) {
    let Some(nulls) = nulls.filter(|nulls| nulls.null_count() > 0) else {
        return (0, ptr::null());
    };
    let remainder = nulls.offset() % 8;
    if remainder * width <= first.ptr_offset() {
        let validity = nulls.buffer().as_ptr().wrapping_add(nulls.offset() / 8);
        (remainder, validity)
    } else {
        let bitmap = nulls.inner().sliced();
        let validity = bitmap.as_ptr();
        relaid.push(bitmap);
        (0, validity)
    }
}

fn fixed_width(
    values: &Buffer,
    width: usize,
    length: usize,
    nulls: Option<&NullBuffer>,
    relaid: &mut Vec<Buffer>,
) -> LeanColumn {
    let (offset, validity) = shared_offset(nulls, values, width, relaid);
    LeanColumn {
        length,
        null_count: nulls.map_or(0, NullBuffer::null_count),
        offset,
        n_buffers: 2,
        buffers: [
            validity.cast(),
            values.as_ptr().wrapping_sub(offset * width).cast(),
            ptr::null(),
        ],
    }
}

fn bytes<T: ByteArrayType>(array: &GenericByteArray<T>, relaid: &mut Vec<Buffer>) -> LeanColumn {
    let offsets = array.offsets().inner().inner();
    let width = size_of::<T::Offset>();
    let (offset, validity) = shared_offset(array.nulls(), offsets, width, relaid);
    LeanColumn {
        length: array.len(),
        null_count: array.null_count(),
        offset,
        n_buffers: 3,
        buffers: [
            validity.cast(),
            offsets.as_ptr().wrapping_sub(offset * width).cast(),
            // Offsets index the whole values buffer, so it is never stepped.
            array.values().as_ptr().cast(),
        ],
    }
}

/// A boolean column: values and validity are both bitmaps, sliced by bits.
fn boolean(array: &BooleanArray, relaid: &mut Vec<Buffer>) -> LeanColumn {
    let values = array.values();
    let remainder = values.offset() % 8;
    let values_at = |values: &Buffer, bits: usize| values.as_ptr().wrapping_add(bits / 8);
    let nulls = array.nulls().filter(|nulls| nulls.null_count() > 0);
    let (offset, values_ptr, validity) = match nulls {
        None => (
            remainder,
            values_at(values.inner(), values.offset()),
            ptr::null(),
        ),
        Some(nulls) if nulls.offset() % 8 == remainder => (
            remainder,
            values_at(values.inner(), values.offset()),
            values_at(nulls.buffer(), nulls.offset()),
        ),
        Some(nulls) => {
            // Bits at different remainders cannot share one offset: copy both
            // to offset 0 (rare: only arrays assembled from separate slices).
            let values = values.sliced();
            let bitmap = nulls.inner().sliced();
            let pointers = (0, values.as_ptr(), bitmap.as_ptr());
            relaid.push(values);
            relaid.push(bitmap);
            pointers
        }
    };
    LeanColumn {
        length: array.len(),
        null_count: array.null_count(),
        offset,
        n_buffers: 2,
        buffers: [validity.cast(), values_ptr.cast(), ptr::null()],
    }
}
