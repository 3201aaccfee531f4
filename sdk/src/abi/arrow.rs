//! Arrow data across the ABI: thin wrappers over the Arrow C Data Interface
//! structs (`FFI_ArrowArray`, `FFI_ArrowSchema`).
//!
//! Their layout is fixed by the Arrow specification, not by arrow-rs, so host
//! and plugin may use different arrow-rs versions. Every export goes through a
//! counting `release` so tests can prove each array and schema is released
//! exactly once, by the side that made it.
//!
//! Record batches, which cross once per decode, encode or sink call, take a
//! lean path (`arrow/batch_export.rs`, `arrow/batch_import.rs`): a handful of allocations
//! per batch instead of several per column, and buffers shared without
//! copies. Other arrays, and batch columns of nested types, go through
//! arrow-rs's C Data Interface import and export. Both paths produce and read
//! the same standard structs, so either side may use either.

mod batch_export;
mod batch_import;
mod c_data;
#[cfg(test)]
mod tests;

use std::ptr;
use std::sync::Arc;

use abi_stable::StableAbi;
use arrow_array::{RecordBatch, ffi::from_ffi_and_data_type};
use arrow_data::ArrayData;
use arrow_data::ffi::FFI_ArrowArray;
use arrow_schema::ffi::FFI_ArrowSchema;
use arrow_schema::{DataType, Schema, SchemaRef};

use super::counts::{Counter, bump};
use super::panic::guard_release;
use crate::PluginError;
use batch_import::ArrowImportError;
use c_data::{RawArrowArray, RawArrowSchema};

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

/// Wraps `inner` in an outer struct whose `release` frees `inner` and counts it.
fn counted_array(inner: FFI_ArrowArray) -> FFI_ArrowArray {
    let inner = Box::new(inner);
    let view = RawArrowArray::view(&inner);
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
    // The buffers, children and dictionary stay valid because `inner` (which
    // owns them) lives in private_data until release_counted_array runs.
    outer.into_ffi()
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
        // SAFETY: private_data is the Box leaked in counted_array, not yet
        // taken back (checked just above).
        let inner = unsafe { Box::from_raw(array.private_data.cast::<FFI_ArrowArray>()) };
        drop(inner);
        array.private_data = ptr::null_mut();
        array.release = None;
        bump(Counter::ArrayReleased);
    });
}

fn counted_schema(inner: FFI_ArrowSchema) -> FFI_ArrowSchema {
    let inner = Box::new(inner);
    let view = RawArrowSchema::view(&inner);
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
    // The strings and children live in `inner`, kept alive in private_data
    // until release_counted_schema runs.
    outer.into_ffi()
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
        // SAFETY: private_data is the Box leaked in counted_array, not yet
        // taken back (checked just above).
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

    /// Exports a record batch as one struct array (its schema travels
    /// separately), through the lean path; the export owns the batch.
    pub fn export_batch(batch: RecordBatch) -> Self {
        Self {
            array: batch_export::export_batch(batch).into_ffi(),
        }
    }

    /// Takes over a C Data Interface array made by any producer (another
    /// language's Arrow, or a fuzzer): importing it checks what
    /// `arrow/batch_import.rs` lists, and dropping it runs its `release`.
    pub fn from_c_data(array: FFI_ArrowArray) -> Self {
        Self { array }
    }

    /// Imports the array, which must have type `data_type` (known from a schema
    /// exchanged earlier), taking ownership of its buffers.
    pub fn import(self, data_type: DataType) -> Result<ArrayData, PluginError> {
        if self.array.is_released() {
            return Err(ArrowImportError::Released.into());
        }
        // SAFETY: an unreleased C Data Interface array; arrow-rs builds the
        // ArrayData from it without validation, as the C Data Interface
        // leaves the data to the producer.
        unsafe { from_ffi_and_data_type(self.array, data_type) }.map_err(PluginError::from)
    }

    /// Imports a struct array as a record batch of `schema` (known from a
    /// schema exchanged earlier), through the lean path (`arrow/batch_import.rs`
    /// says what it checks).
    pub fn import_batch(self, schema: &SchemaRef) -> Result<RecordBatch, PluginError> {
        Ok(batch_import::import_batch(self.array, schema)?)
    }

    /// Imports a struct array as a record batch through arrow-rs's import only
    /// (the pre-lean path, kept to compare and test against).
    pub fn import_batch_with_arrow_rs(
        self,
        schema: &SchemaRef,
    ) -> Result<RecordBatch, PluginError> {
        if self.array.is_released() {
            return Err(ArrowImportError::Released.into());
        }
        Ok(batch_import::import_batch_with_arrow_rs(
            self.array, schema,
        )?)
    }
}

impl From<ArrowImportError> for PluginError {
    fn from(e: ArrowImportError) -> Self {
        Self::Arrow(e.to_string())
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
