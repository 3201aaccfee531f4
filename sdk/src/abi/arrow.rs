//! Arrow data across the ABI: thin wrappers over the Arrow C Data Interface
//! structs (`FFI_ArrowArray`, `FFI_ArrowSchema`).
//!
//! Their layout is fixed by the Arrow specification, not by arrow-rs, so host
//! and plugin may use different arrow-rs versions. Every export goes through a
//! counting `release` so tests can prove each array and schema is released
//! exactly once, by the side that made it.

use std::ffi::c_void;
use std::ptr;
use std::sync::Arc;

use abi_stable::StableAbi;
use arrow_array::{Array, RecordBatch, StructArray, ffi::from_ffi_and_data_type};
use arrow_data::ArrayData;
use arrow_data::ffi::FFI_ArrowArray;
use arrow_schema::ffi::FFI_ArrowSchema;
use arrow_schema::{DataType, Schema, SchemaRef};

use super::counts::{Counter, bump};
use super::panic::guard_release;
use crate::PluginError;

/// An owned Arrow array crossing the ABI; dropping it runs its producer's `release`.
#[repr(C)]
#[derive(StableAbi)]
pub struct FfiArrowArray {
    // Opaque to abi_stable's layout check: its layout is the C Data Interface's.
    #[sabi(unsafe_opaque_field)]
    array: FFI_ArrowArray,
}

/// An owned Arrow schema crossing the ABI; dropping it runs its producer's `release`.
#[repr(C)]
#[derive(StableAbi)]
pub struct FfiArrowSchema {
    #[sabi(unsafe_opaque_field)]
    schema: FFI_ArrowSchema,
}

/// The C Data Interface's `ArrowArray`, spelled out so the counting wrapper can
/// build one (arrow-rs keeps `FFI_ArrowArray`'s fields private).
#[repr(C)]
struct RawArrowArray {
    length: i64,
    null_count: i64,
    offset: i64,
    n_buffers: i64,
    n_children: i64,
    buffers: *mut *const c_void,
    children: *mut *mut c_void,
    dictionary: *mut c_void,
    release: Option<unsafe extern "C" fn(*mut RawArrowArray)>,
    private_data: *mut c_void,
}

/// The C Data Interface's `ArrowSchema`, spelled out likewise.
#[repr(C)]
struct RawArrowSchema {
    format: *const std::ffi::c_char,
    name: *const std::ffi::c_char,
    metadata: *const std::ffi::c_char,
    flags: i64,
    n_children: i64,
    children: *mut *mut c_void,
    dictionary: *mut c_void,
    release: Option<unsafe extern "C" fn(*mut RawArrowSchema)>,
    private_data: *mut c_void,
}

const _: () = assert!(size_of::<RawArrowArray>() == size_of::<FFI_ArrowArray>());
const _: () = assert!(align_of::<RawArrowArray>() == align_of::<FFI_ArrowArray>());
const _: () = assert!(size_of::<RawArrowSchema>() == size_of::<FFI_ArrowSchema>());
const _: () = assert!(align_of::<RawArrowSchema>() == align_of::<FFI_ArrowSchema>());

/// Wraps `inner` in an outer struct whose `release` frees `inner` and counts it.
fn counted_array(inner: FFI_ArrowArray) -> FFI_ArrowArray {
    let inner = Box::new(inner);
    // SAFETY: FFI_ArrowArray is `#[repr(C)]` with the C Data Interface layout,
    // which RawArrowArray spells out (sizes asserted above); we only read it.
    let view = unsafe { &*ptr::from_ref::<FFI_ArrowArray>(&*inner).cast::<RawArrowArray>() };
    let outer = RawArrowArray {
        length: view.length,
        null_count: view.null_count,
        offset: view.offset,
        n_buffers: view.n_buffers,
        n_children: view.n_children,
        buffers: view.buffers,
        children: view.children,
        dictionary: view.dictionary,
        release: Some(release_counted_array),
        private_data: Box::into_raw(inner).cast(),
    };
    bump(Counter::ArrayExported);
    // SAFETY: same layout (asserted above); the buffers, children and dictionary
    // pointers stay valid because `inner` (which owns them) lives in private_data
    // until release_counted_array runs.
    unsafe { std::mem::transmute::<RawArrowArray, FFI_ArrowArray>(outer) }
}

unsafe extern "C" fn release_counted_array(array: *mut RawArrowArray) {
    guard_release("an Arrow array", || {
        if array.is_null() {
            return;
        }
        // SAFETY: the consumer passes the struct we built in counted_array;
        // private_data is the Box we leaked there, taken back exactly once
        // because we null `release` afterwards (the spec's "released" mark).
        let array = unsafe { &mut *array };
        assert!(!array.private_data.is_null(), "Arrow array released twice");
        let inner = unsafe { Box::from_raw(array.private_data.cast::<FFI_ArrowArray>()) };
        drop(inner);
        array.private_data = ptr::null_mut();
        array.release = None;
        bump(Counter::ArrayReleased);
    });
}

fn counted_schema(inner: FFI_ArrowSchema) -> FFI_ArrowSchema {
    let inner = Box::new(inner);
    // SAFETY: FFI_ArrowSchema is `#[repr(C)]` with the C Data Interface layout
    // spelled out by RawArrowSchema (asserted above); we only read it.
    let view = unsafe { &*ptr::from_ref::<FFI_ArrowSchema>(&*inner).cast::<RawArrowSchema>() };
    let outer = RawArrowSchema {
        format: view.format,
        name: view.name,
        metadata: view.metadata,
        flags: view.flags,
        n_children: view.n_children,
        children: view.children,
        dictionary: view.dictionary,
        release: Some(release_counted_schema),
        private_data: Box::into_raw(inner).cast(),
    };
    bump(Counter::SchemaExported);
    // SAFETY: same layout; the strings and children live in `inner`, kept alive
    // in private_data until release_counted_schema runs.
    unsafe { std::mem::transmute::<RawArrowSchema, FFI_ArrowSchema>(outer) }
}

unsafe extern "C" fn release_counted_schema(schema: *mut RawArrowSchema) {
    guard_release("an Arrow schema", || {
        if schema.is_null() {
            return;
        }
        // SAFETY: as in release_counted_array.
        let schema = unsafe { &mut *schema };
        assert!(
            !schema.private_data.is_null(),
            "Arrow schema released twice"
        );
        drop(unsafe { Box::from_raw(schema.private_data.cast::<FFI_ArrowSchema>()) });
        schema.private_data = ptr::null_mut();
        schema.release = None;
        bump(Counter::SchemaReleased);
    });
}

impl FfiArrowArray {
    /// Exports any Arrow array.
    pub fn export(data: &ArrayData) -> Self {
        Self {
            array: counted_array(FFI_ArrowArray::new(data)),
        }
    }

    /// Exports a record batch as one struct array (its schema travels separately).
    pub fn export_batch(batch: &RecordBatch) -> Self {
        Self::export(&StructArray::from(batch.clone()).into_data())
    }

    /// Imports the array, which must have type `data_type` (known from a schema
    /// exchanged earlier), taking ownership of its buffers.
    pub fn import(self, data_type: DataType) -> Result<ArrayData, PluginError> {
        // SAFETY: an FfiArrowArray is only ever made by `export` on one side of
        // the ABI, so it holds a valid C Data Interface array; arrow-rs checks
        // it against `data_type` (structural validation) while importing.
        unsafe { from_ffi_and_data_type(self.array, data_type) }.map_err(PluginError::from)
    }

    /// Imports a struct array as a record batch of `schema`.
    pub fn import_batch(self, schema: &SchemaRef) -> Result<RecordBatch, PluginError> {
        let data = self.import(DataType::Struct(schema.fields().clone()))?;
        let array = StructArray::from(data);
        if array.null_count() > 0 {
            return Err(PluginError::Arrow(
                "a record batch's struct array has top-level nulls".into(),
            ));
        }
        let (_, columns, _) = array.into_parts();
        Ok(RecordBatch::try_new(schema.clone(), columns)?)
    }
}

impl FfiArrowSchema {
    /// Exports a schema (as the C Data Interface's struct-typed schema).
    pub fn export(schema: &Schema) -> Result<Self, PluginError> {
        Ok(Self {
            schema: counted_schema(FFI_ArrowSchema::try_from(schema)?),
        })
    }

    /// Reads the schema (copying it; the exporter's copy is released on drop).
    pub fn to_schema(&self) -> Result<SchemaRef, PluginError> {
        Ok(Arc::new(Schema::try_from(&self.schema)?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::abi::local_object_counts;
    use arrow_array::{Int64Array, StringArray};
    use arrow_schema::Field;

    #[test]
    fn batches_round_trip_and_release_once() {
        let before = local_object_counts();
        let schema = Arc::new(Schema::new(vec![
            Field::new("a", DataType::Int64, true),
            Field::new("s", DataType::Utf8, true),
        ]));
        let batch = RecordBatch::try_new(
            schema.clone(),
            vec![
                Arc::new(Int64Array::from(vec![Some(1), None])),
                Arc::new(StringArray::from(vec!["x", "yz"])),
            ],
        )
        .unwrap();
        let ffi_schema = FfiArrowSchema::export(&schema).unwrap();
        let back_schema = ffi_schema.to_schema().unwrap();
        drop(ffi_schema);
        let back = FfiArrowArray::export_batch(&batch)
            .import_batch(&back_schema)
            .unwrap();
        assert_eq!(back, batch);
        drop(back);
        let dropped_unimported = FfiArrowArray::export_batch(&batch);
        drop(dropped_unimported);
        let after = local_object_counts();
        assert_eq!(after.arrays_exported - before.arrays_exported, 2);
        assert_eq!(after.arrays_released - before.arrays_released, 2);
        assert_eq!(after.schemas_exported - before.schemas_exported, 1);
        assert_eq!(after.schemas_released - before.schemas_released, 1);
    }
}
