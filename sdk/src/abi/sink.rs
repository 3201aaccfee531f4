//! [`Sink`] across the ABI: the `FfiSink` vtable and the host's `ForeignSink`.

use std::ffi::c_void;

use abi_stable::StableAbi;
use abi_stable::std_types::RResult;
use arrow_schema::SchemaRef;

use super::counts::{Counter, bump};
use super::panic::{guard, guard_release};
use super::{FfiArrowArray, FfiError};
use crate::{PluginError, Sink, SinkUpdate};

/// One cycle's update across the ABI (three struct arrays of the sink's schema).
#[repr(C)]
#[derive(StableAbi)]
pub struct FfiSinkUpdate {
    /// The cycle number.
    pub cycle: u64,
    /// Rows added.
    pub added: FfiArrowArray,
    /// Rows removed.
    pub removed: FfiArrowArray,
    /// Rows modified (new values).
    pub modified: FfiArrowArray,
}

/// A plugin's sink, released by the host on drop.
#[repr(C)]
#[derive(StableAbi)]
pub struct FfiSink {
    /// Takes one cycle's update.
    pub write: unsafe extern "C" fn(&mut Self, FfiSinkUpdate) -> RResult<(), FfiError>,
    /// The cycle barrier: make everything written durable.
    pub flush: unsafe extern "C" fn(&mut Self) -> RResult<(), FfiError>,
    /// Flushes and closes; called once.
    pub close: unsafe extern "C" fn(&mut Self) -> RResult<(), FfiError>,
    /// Frees the sink; called once, by `Drop`.
    pub release: unsafe extern "C" fn(&mut Self),
    /// The plugin's `Box<PrivateSink>`.
    pub private_data: *mut c_void,
}

struct PrivateSink {
    sink: Box<dyn Sink>,
    schema: SchemaRef,
}

fn private_mut(sink: &mut FfiSink) -> &mut PrivateSink {
    // SAFETY: private_data is the Box made in `FfiSink::new`, alive until release;
    // `&mut FfiSink` gives exclusive access.
    unsafe { &mut *sink.private_data.cast::<PrivateSink>() }
}

unsafe extern "C" fn write_fn(sink: &mut FfiSink, update: FfiSinkUpdate) -> RResult<(), FfiError> {
    guard(|| {
        let private = private_mut(sink);
        let update = SinkUpdate {
            cycle: update.cycle,
            added: update.added.import_batch(&private.schema)?,
            removed: update.removed.import_batch(&private.schema)?,
            modified: update.modified.import_batch(&private.schema)?,
        };
        private.sink.write(&update)
    })
}

unsafe extern "C" fn flush_fn(sink: &mut FfiSink) -> RResult<(), FfiError> {
    guard(|| private_mut(sink).sink.flush())
}

unsafe extern "C" fn close_fn(sink: &mut FfiSink) -> RResult<(), FfiError> {
    guard(|| private_mut(sink).sink.close())
}

unsafe extern "C" fn release_fn(sink: &mut FfiSink) {
    guard_release("a sink", || {
        assert!(!sink.private_data.is_null(), "sink released twice");
        // SAFETY: the Box made in `FfiSink::new`, taken back exactly once.
        drop(unsafe { Box::from_raw(sink.private_data.cast::<PrivateSink>()) });
        sink.private_data = std::ptr::null_mut();
        bump(Counter::SinkReleased);
    });
}

impl FfiSink {
    /// Wraps a sink for the ABI (plugin side); `schema` is the table's schema.
    pub fn new(sink: Box<dyn Sink>, schema: SchemaRef) -> Self {
        bump(Counter::SinkCreated);
        Self {
            write: write_fn,
            flush: flush_fn,
            close: close_fn,
            release: release_fn,
            private_data: Box::into_raw(Box::new(PrivateSink { sink, schema })).cast(),
        }
    }
}

impl Drop for FfiSink {
    fn drop(&mut self) {
        // SAFETY: release is the producer's destructor for private_data.
        unsafe { (self.release)(self) }
    }
}

/// A plugin's sink, seen from the host as a plain [`Sink`].
pub struct ForeignSink {
    ffi: FfiSink,
}

// SAFETY: the plugin's sink is `Send` (the trait requires it).
unsafe impl Send for ForeignSink {}

impl ForeignSink {
    /// Takes ownership of a sink a plugin made.
    pub fn new(ffi: FfiSink) -> Self {
        Self { ffi }
    }
}

impl Sink for ForeignSink {
    fn write(&mut self, update: &SinkUpdate) -> Result<(), PluginError> {
        let ffi_update = FfiSinkUpdate {
            cycle: update.cycle,
            added: FfiArrowArray::export_batch(update.added.clone()),
            removed: FfiArrowArray::export_batch(update.removed.clone()),
            modified: FfiArrowArray::export_batch(update.modified.clone()),
        };
        // SAFETY: calling the plugin's vtable with the FfiSink it made.
        Ok(unsafe { (self.ffi.write)(&mut self.ffi, ffi_update) }.into_result()?)
    }
    fn flush(&mut self) -> Result<(), PluginError> {
        // SAFETY: as above.
        Ok(unsafe { (self.ffi.flush)(&mut self.ffi) }.into_result()?)
    }
    fn close(&mut self) -> Result<(), PluginError> {
        // SAFETY: as above.
        Ok(unsafe { (self.ffi.close)(&mut self.ffi) }.into_result()?)
    }
}
