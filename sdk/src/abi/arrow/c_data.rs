//! The C Data Interface's structs, spelled out field by field.
//!
//! arrow-rs keeps `FFI_ArrowArray`'s and `FFI_ArrowSchema`'s fields private, so
//! the counting wrappers and the lean batch path read and build these instead.
//! Their layout is the specification's, and the sizes are asserted equal to
//! arrow-rs's, so a value of one may be reinterpreted as the other.

use std::ffi::{c_char, c_void};

use arrow_data::ffi::FFI_ArrowArray;
use arrow_schema::ffi::FFI_ArrowSchema;

/// The C Data Interface's `ArrowArray`.
#[repr(C)]
pub(super) struct RawArrowArray {
    pub(super) length: i64,
    pub(super) null_count: i64,
    pub(super) offset: i64,
    pub(super) n_buffers: i64,
    pub(super) n_children: i64,
    pub(super) buffers: *mut *const c_void,
    pub(super) children: *mut *mut RawArrowArray,
    pub(super) dictionary: *mut RawArrowArray,
    pub(super) release: Option<unsafe extern "C" fn(*mut RawArrowArray)>,
    pub(super) private_data: *mut c_void,
}

/// The C Data Interface's `ArrowSchema`.
#[repr(C)]
pub(super) struct RawArrowSchema {
    pub(super) format: *const c_char,
    pub(super) name: *const c_char,
    pub(super) metadata: *const c_char,
    pub(super) flags: i64,
    pub(super) n_children: i64,
    pub(super) children: *mut *mut c_void,
    pub(super) dictionary: *mut c_void,
    pub(super) release: Option<unsafe extern "C" fn(*mut RawArrowSchema)>,
    pub(super) private_data: *mut c_void,
}

const _: () = assert!(size_of::<RawArrowArray>() == size_of::<FFI_ArrowArray>());
const _: () = assert!(align_of::<RawArrowArray>() == align_of::<FFI_ArrowArray>());
const _: () = assert!(size_of::<RawArrowSchema>() == size_of::<FFI_ArrowSchema>());
const _: () = assert!(align_of::<RawArrowSchema>() == align_of::<FFI_ArrowSchema>());

impl RawArrowArray {
    /// Reads an arrow-rs array as its C layout.
    pub(super) fn view(array: &FFI_ArrowArray) -> &Self {
        // SAFETY: FFI_ArrowArray is `#[repr(C)]` with the C Data Interface's
        // layout, which this struct spells out (sizes asserted above).
        unsafe { &*std::ptr::from_ref(array).cast::<Self>() }
    }

    /// Takes over an arrow-rs array; its `release` is now the holder's to call.
    pub(super) fn from_ffi(array: FFI_ArrowArray) -> Self {
        // SAFETY: the same layout (asserted above); `FFI_ArrowArray`'s Drop
        // does not run, so its release is not called here.
        unsafe { std::mem::transmute::<FFI_ArrowArray, Self>(array) }
    }

    /// Turns a struct built here into arrow-rs's type, which will call its
    /// `release` when dropped.
    pub(super) fn into_ffi(self) -> FFI_ArrowArray {
        // SAFETY: the same layout (asserted above); whoever built `self` made
        // its pointers valid until its `release` runs.
        unsafe { std::mem::transmute::<Self, FFI_ArrowArray>(self) }
    }

    /// Buffer `index` (null when the producer gave none). The caller has
    /// checked that `index < n_buffers` and that `buffers` is not null.
    pub(super) fn buffer(&self, index: usize) -> *const c_void {
        debug_assert!(index < self.n_buffers as usize && !self.buffers.is_null());
        // SAFETY: the C Data Interface makes `buffers` point to `n_buffers`
        // pointers, and the caller checked the index against it.
        let slot = unsafe { self.buffers.add(index) };
        // SAFETY: the slot is in bounds and initialised (as above).
        unsafe { slot.read() }
    }
}

impl RawArrowSchema {
    /// Reads an arrow-rs schema as its C layout.
    pub(super) fn view(schema: &FFI_ArrowSchema) -> &Self {
        // SAFETY: as in RawArrowArray::view.
        unsafe { &*std::ptr::from_ref(schema).cast::<Self>() }
    }

    /// Turns a struct built here into arrow-rs's type.
    pub(super) fn into_ffi(self) -> FFI_ArrowSchema {
        // SAFETY: as in RawArrowArray::into_ffi.
        unsafe { std::mem::transmute::<Self, FFI_ArrowSchema>(self) }
    }
}
