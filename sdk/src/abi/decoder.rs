//! [`Decoder`] across the ABI: the `FfiDecoder` vtable a plugin hands out, and
//! the host's `ForeignDecoder` that calls through it.

use std::ffi::c_void;

use abi_stable::StableAbi;
use abi_stable::std_types::{RResult, RVec};
use arrow_schema::SchemaRef;

use super::counts::{Counter, bump};
use super::panic::{guard, guard_release};
use super::{FfiArrowArray, FfiArrowSchema, FfiError, FfiMessageBatch, FfiRowError};
use super::{row_errors_from_ffi, row_errors_to_ffi};
use crate::{Decoded, Decoder, MessageBatch, PluginError};

/// The result of one decode call across the ABI.
#[repr(C)]
#[derive(StableAbi)]
pub struct FfiDecoded {
    /// The decoded rows as one struct array (schema: the decoder's output schema).
    pub columns: FfiArrowArray,
    /// Messages that could not be decoded.
    pub errors: RVec<FfiRowError>,
}

/// A plugin's decoder. Made by the plugin, released by the host (on drop),
/// which runs the plugin's destructor.
#[repr(C)]
#[derive(StableAbi)]
pub struct FfiDecoder {
    /// The decoder's output schema.
    pub output_schema: unsafe extern "C" fn(&Self) -> RResult<FfiArrowSchema, FfiError>,
    /// Decodes one borrowed batch of messages.
    pub decode:
        unsafe extern "C" fn(&mut Self, &FfiMessageBatch<'_>) -> RResult<FfiDecoded, FfiError>,
    /// Frees the decoder; called once, by `Drop`.
    pub release: unsafe extern "C" fn(&mut Self),
    /// The plugin's `Box<PrivateDecoder>`.
    pub private_data: *mut c_void,
}

struct PrivateDecoder {
    decoder: Box<dyn Decoder>,
}

fn private(decoder: &FfiDecoder) -> &PrivateDecoder {
    // SAFETY: private_data is the Box<PrivateDecoder> made in `FfiDecoder::new`
    // and is only freed by `release`, after which the FfiDecoder is gone.
    unsafe { &*decoder.private_data.cast::<PrivateDecoder>() }
}

fn private_mut(decoder: &mut FfiDecoder) -> &mut PrivateDecoder {
    // SAFETY: as in `private`; `&mut FfiDecoder` guarantees exclusive access.
    unsafe { &mut *decoder.private_data.cast::<PrivateDecoder>() }
}

unsafe extern "C" fn output_schema_fn(decoder: &FfiDecoder) -> RResult<FfiArrowSchema, FfiError> {
    guard(|| FfiArrowSchema::export(&private(decoder).decoder.output_schema()))
}

unsafe extern "C" fn decode_fn(
    decoder: &mut FfiDecoder,
    batch: &FfiMessageBatch<'_>,
) -> RResult<FfiDecoded, FfiError> {
    guard(|| {
        let batch = MessageBatch::from(batch);
        let decoded = private_mut(decoder).decoder.decode(&batch)?;
        if decoded.batch.num_rows() != batch.len() {
            return Err(PluginError::failed(format!(
                "decoder returned {} rows for {} messages (it must return one row per message)",
                decoded.batch.num_rows(),
                batch.len()
            )));
        }
        Ok(FfiDecoded {
            columns: FfiArrowArray::export_batch(decoded.batch),
            errors: row_errors_to_ffi(decoded.errors),
        })
    })
}

unsafe extern "C" fn release_fn(decoder: &mut FfiDecoder) {
    guard_release("a decoder", || {
        assert!(!decoder.private_data.is_null(), "decoder released twice");
        // SAFETY: the Box made in `FfiDecoder::new`, taken back exactly once
        // (private_data is nulled right after).
        drop(unsafe { Box::from_raw(decoder.private_data.cast::<PrivateDecoder>()) });
        decoder.private_data = std::ptr::null_mut();
        bump(Counter::DecoderReleased);
    });
}

impl FfiDecoder {
    /// Wraps a decoder for the ABI (plugin side).
    pub fn new(decoder: Box<dyn Decoder>) -> Self {
        bump(Counter::DecoderCreated);
        Self {
            output_schema: output_schema_fn,
            decode: decode_fn,
            release: release_fn,
            private_data: Box::into_raw(Box::new(PrivateDecoder { decoder })).cast(),
        }
    }
}

impl Drop for FfiDecoder {
    fn drop(&mut self) {
        // SAFETY: release is the producer's destructor for private_data.
        unsafe { (self.release)(self) }
    }
}

/// A plugin's decoder, seen from the host as a plain [`Decoder`].
pub struct ForeignDecoder {
    ffi: FfiDecoder,
    schema: SchemaRef,
}

// SAFETY: the plugin's decoder is `Send` (the `Decoder` trait requires it), and
// the vtable and private_data pointer may move between threads with it.
unsafe impl Send for ForeignDecoder {}

impl ForeignDecoder {
    /// Takes ownership of a decoder a plugin made, and reads its schema once.
    pub fn new(ffi: FfiDecoder) -> Result<Self, PluginError> {
        // SAFETY: calling the plugin's vtable with the FfiDecoder it made.
        let schema = unsafe { (ffi.output_schema)(&ffi) }
            .into_result()?
            .to_schema()?;
        Ok(Self { ffi, schema })
    }
}

impl Decoder for ForeignDecoder {
    fn output_schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    fn decode(&mut self, messages: &MessageBatch<'_>) -> Result<Decoded, PluginError> {
        let batch = FfiMessageBatch::from(messages);
        // SAFETY: calling the plugin's vtable with the FfiDecoder it made; the
        // borrowed batch outlives the call.
        let out = unsafe { (self.ffi.decode)(&mut self.ffi, &batch) }.into_result()?;
        Ok(Decoded {
            batch: out.columns.import_batch(&self.schema)?,
            errors: row_errors_from_ffi(out.errors),
        })
    }
}
