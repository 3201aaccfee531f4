//! [`SinkFactory`] across the ABI: the `FfiSinkFactory` vtable and the host's `ForeignSinkFactory`.

use std::ffi::c_void;

use abi_stable::StableAbi;
use abi_stable::std_types::{RResult, RStr, RString};
use arrow_schema::SchemaRef;
use serde_json::{Map, Value};

use super::counts::{Counter, bump};
use super::panic::{guard, guard_release};
use super::{FfiArrowSchema, FfiError, FfiSink, ForeignSink};
use crate::{PluginError, Sink, SinkDescription, SinkFactory};

/// A plugin's sink factory.
#[repr(C)]
#[derive(StableAbi)]
pub struct FfiSinkFactory {
    /// The [`SinkDescription`] as JSON.
    pub description: unsafe extern "C" fn(&Self) -> RResult<RString, FfiError>,
    /// Makes a sink from a JSON config and the table's schema.
    pub new_sink:
        unsafe extern "C" fn(&Self, RStr<'_>, &FfiArrowSchema) -> RResult<FfiSink, FfiError>,
    /// Frees the factory; called once, by `Drop`.
    pub release: unsafe extern "C" fn(&mut Self),
    /// The plugin's `Box<Box<dyn SinkFactory>>`.
    pub private_data: *mut c_void,
}

fn factory_of(f: &FfiSinkFactory) -> &dyn SinkFactory {
    // SAFETY: private_data is the Box<Box<dyn SinkFactory>> made in `new`, alive until release.
    unsafe { &**f.private_data.cast::<Box<dyn SinkFactory>>() }
}

unsafe extern "C" fn description_fn(f: &FfiSinkFactory) -> RResult<RString, FfiError> {
    guard(|| {
        Ok(serde_json::to_string(&factory_of(f).description())
            .map_err(|e| PluginError::failed(e.to_string()))?
            .into())
    })
}

unsafe extern "C" fn new_sink_fn(
    f: &FfiSinkFactory,
    config: RStr<'_>,
    schema: &FfiArrowSchema,
) -> RResult<FfiSink, FfiError> {
    guard(|| {
        let config = match serde_json::from_str(config.as_str())? {
            Value::Object(map) => map,
            other => {
                return Err(PluginError::config(format!(
                    "config must be a table, got {other}"
                )));
            }
        };
        let schema = schema.to_schema()?;
        Ok(FfiSink::new(
            factory_of(f).new_sink(&config, schema.clone())?,
            schema,
        ))
    })
}

unsafe extern "C" fn release_fn(f: &mut FfiSinkFactory) {
    guard_release("a sink factory", || {
        assert!(!f.private_data.is_null(), "sink factory released twice");
        // SAFETY: the Box made in `new`, taken back exactly once.
        drop(unsafe { Box::from_raw(f.private_data.cast::<Box<dyn SinkFactory>>()) });
        f.private_data = std::ptr::null_mut();
        bump(Counter::FactoryReleased);
    });
}

impl FfiSinkFactory {
    /// Wraps a sink factory for the ABI (plugin side).
    pub fn new(factory: Box<dyn SinkFactory>) -> Self {
        bump(Counter::FactoryCreated);
        Self {
            description: description_fn,
            new_sink: new_sink_fn,
            release: release_fn,
            private_data: Box::into_raw(Box::new(factory)).cast(),
        }
    }
}

impl Drop for FfiSinkFactory {
    fn drop(&mut self) {
        // SAFETY: release is the producer's destructor for private_data.
        unsafe { (self.release)(self) }
    }
}

/// A plugin's sink factory, seen from the host as a plain [`SinkFactory`].
pub struct ForeignSinkFactory {
    ffi: FfiSinkFactory,
    description: SinkDescription,
}

// SAFETY: sink factories are `Send + Sync` (the trait requires it).
unsafe impl Send for ForeignSinkFactory {}
// SAFETY: as above.
unsafe impl Sync for ForeignSinkFactory {}

impl ForeignSinkFactory {
    /// Takes ownership of a factory a plugin made, and reads its description once.
    pub fn new(ffi: FfiSinkFactory) -> Result<Self, PluginError> {
        // SAFETY: calling the plugin's vtable with the factory it made.
        let json = unsafe { (ffi.description)(&ffi) }.into_result()?;
        let description = serde_json::from_str(json.as_str())
            .map_err(|e| PluginError::failed(format!("sink description is not valid: {e}")))?;
        Ok(Self { ffi, description })
    }
}

impl SinkFactory for ForeignSinkFactory {
    fn description(&self) -> SinkDescription {
        self.description.clone()
    }

    fn new_sink(
        &self,
        config: &Map<String, Value>,
        schema: SchemaRef,
    ) -> Result<Box<dyn Sink>, PluginError> {
        let json = Value::Object(config.clone()).to_string();
        let ffi_schema = FfiArrowSchema::export(&schema)?;
        // SAFETY: calling the plugin's vtable with the factory it made.
        let ffi = unsafe { (self.ffi.new_sink)(&self.ffi, json.as_str().into(), &ffi_schema) }
            .into_result()?;
        Ok(Box::new(ForeignSink::new(ffi)))
    }
}
