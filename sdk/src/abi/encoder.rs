//! [`Encoder`] across the ABI: the `FfiEncoder` vtable and the host's `ForeignEncoder`.

use std::ffi::c_void;

use abi_stable::StableAbi;
use abi_stable::std_types::{RResult, RVec};
use arrow_array::{Array, BinaryArray, RecordBatch};
use arrow_schema::{DataType, SchemaRef};

use super::counts::{Counter, bump};
use super::panic::{guard, guard_release};
use super::{FfiArrowArray, FfiError, FfiRowError, row_errors_from_ffi, row_errors_to_ffi};
use crate::{Encoded, Encoder, PluginError};

/// The result of one encode call across the ABI.
#[repr(C)]
#[derive(StableAbi)]
pub struct FfiEncoded {
    /// A `Binary` array, one entry per input row.
    pub bytes: FfiArrowArray,
    /// Rows that could not be encoded.
    pub errors: RVec<FfiRowError>,
}

/// A plugin's encoder, released by the host on drop.
#[repr(C)]
#[derive(StableAbi)]
pub struct FfiEncoder {
    /// Encodes one batch, passed as a struct array of the schema given at creation.
    pub encode: unsafe extern "C" fn(&mut Self, FfiArrowArray) -> RResult<FfiEncoded, FfiError>,
    /// Frees the encoder; called once, by `Drop`.
    pub release: unsafe extern "C" fn(&mut Self),
    /// The plugin's `Box<PrivateEncoder>`.
    pub private_data: *mut c_void,
}

struct PrivateEncoder {
    encoder: Box<dyn Encoder>,
    schema: SchemaRef,
}

unsafe extern "C" fn encode_fn(
    encoder: &mut FfiEncoder,
    rows: FfiArrowArray,
) -> RResult<FfiEncoded, FfiError> {
    guard(|| {
        // SAFETY: private_data is the Box made in `FfiEncoder::new`, alive until
        // release; `&mut FfiEncoder` gives exclusive access.
        let private = unsafe { &mut *encoder.private_data.cast::<PrivateEncoder>() };
        let batch = rows.import_batch(&private.schema)?;
        let encoded = private.encoder.encode(&batch)?;
        if encoded.bytes.len() != batch.num_rows() {
            return Err(PluginError::failed(format!(
                "encoder returned {} values for {} rows",
                encoded.bytes.len(),
                batch.num_rows()
            )));
        }
        Ok(FfiEncoded {
            bytes: FfiArrowArray::export(&encoded.bytes.into_data()),
            errors: row_errors_to_ffi(encoded.errors),
        })
    })
}

unsafe extern "C" fn release_fn(encoder: &mut FfiEncoder) {
    guard_release("an encoder", || {
        assert!(!encoder.private_data.is_null(), "encoder released twice");
        // SAFETY: the Box made in `FfiEncoder::new`, taken back exactly once.
        drop(unsafe { Box::from_raw(encoder.private_data.cast::<PrivateEncoder>()) });
        encoder.private_data = std::ptr::null_mut();
        bump(Counter::EncoderReleased);
    });
}

impl FfiEncoder {
    /// Wraps an encoder for the ABI (plugin side); `schema` is its input schema.
    pub fn new(encoder: Box<dyn Encoder>, schema: SchemaRef) -> Self {
        bump(Counter::EncoderCreated);
        Self {
            encode: encode_fn,
            release: release_fn,
            private_data: Box::into_raw(Box::new(PrivateEncoder { encoder, schema })).cast(),
        }
    }
}

impl Drop for FfiEncoder {
    fn drop(&mut self) {
        // SAFETY: release is the producer's destructor for private_data.
        unsafe { (self.release)(self) }
    }
}

/// A plugin's encoder, seen from the host as a plain [`Encoder`].
pub struct ForeignEncoder {
    ffi: FfiEncoder,
}

// SAFETY: the plugin's encoder is `Send` (the trait requires it).
unsafe impl Send for ForeignEncoder {}

impl ForeignEncoder {
    /// Takes ownership of an encoder a plugin made.
    pub fn new(ffi: FfiEncoder) -> Self {
        Self { ffi }
    }
}

impl Encoder for ForeignEncoder {
    fn encode(&mut self, batch: &RecordBatch) -> Result<Encoded, PluginError> {
        let rows = FfiArrowArray::export_batch(batch.clone());
        // SAFETY: calling the plugin's vtable with the FfiEncoder it made.
        let out = unsafe { (self.ffi.encode)(&mut self.ffi, rows) }.into_result()?;
        let bytes = BinaryArray::from(out.bytes.import(DataType::Binary)?);
        Ok(Encoded {
            bytes,
            errors: row_errors_from_ffi(out.errors),
        })
    }
}
