//! [`Codec`] across the ABI: the `FfiCodecFactory` vtable and the host's `ForeignCodec`.

use std::ffi::c_void;

use abi_stable::StableAbi;
use abi_stable::std_types::{RResult, RStr, RString};
use arrow_schema::SchemaRef;
use serde_json::{Map, Value};

use super::counts::{Counter, bump};
use super::panic::{guard, guard_release};
use super::{
    FfiArrowSchema, FfiDecoder, FfiEncoder, FfiError, FfiSide, ForeignDecoder, ForeignEncoder,
};
use crate::{Codec, CodecDescription, Decoder, Encoder, PluginError, Side};

/// A plugin's codec factory. Config crosses as JSON text, already validated by
/// the host against the description.
#[repr(C)]
#[derive(StableAbi)]
pub struct FfiCodecFactory {
    /// The [`CodecDescription`] as JSON.
    pub description: unsafe extern "C" fn(&Self) -> RResult<RString, FfiError>,
    /// Makes a decoder from a JSON config.
    pub new_decoder:
        unsafe extern "C" fn(&Self, RStr<'_>, FfiSide) -> RResult<FfiDecoder, FfiError>,
    /// Makes an encoder from a JSON config and its input schema.
    pub new_encoder: unsafe extern "C" fn(
        &Self,
        RStr<'_>,
        FfiSide,
        &FfiArrowSchema,
    ) -> RResult<FfiEncoder, FfiError>,
    /// Frees the factory; called once, by `Drop`.
    pub release: unsafe extern "C" fn(&mut Self),
    /// The plugin's `Box<Box<dyn Codec>>`.
    pub private_data: *mut c_void,
}

fn codec(factory: &FfiCodecFactory) -> &dyn Codec {
    // SAFETY: private_data is the Box<Box<dyn Codec>> made in `new`, alive until release.
    unsafe { &**factory.private_data.cast::<Box<dyn Codec>>() }
}

fn parse_config(json: RStr<'_>) -> Result<Map<String, Value>, PluginError> {
    match serde_json::from_str(json.as_str())? {
        Value::Object(map) => Ok(map),
        other => Err(PluginError::config(format!(
            "config must be a table, got {other}"
        ))),
    }
}

unsafe extern "C" fn description_fn(factory: &FfiCodecFactory) -> RResult<RString, FfiError> {
    guard(|| {
        Ok(serde_json::to_string(&codec(factory).description())
            .map_err(|e| PluginError::failed(e.to_string()))?
            .into())
    })
}

unsafe extern "C" fn new_decoder_fn(
    factory: &FfiCodecFactory,
    config: RStr<'_>,
    side: FfiSide,
) -> RResult<FfiDecoder, FfiError> {
    guard(|| {
        Ok(FfiDecoder::new(
            codec(factory).new_decoder(&parse_config(config)?, side.into())?,
        ))
    })
}

unsafe extern "C" fn new_encoder_fn(
    factory: &FfiCodecFactory,
    config: RStr<'_>,
    side: FfiSide,
    schema: &FfiArrowSchema,
) -> RResult<FfiEncoder, FfiError> {
    guard(|| {
        let schema = schema.to_schema()?;
        let encoder =
            codec(factory).new_encoder(&parse_config(config)?, side.into(), schema.clone())?;
        Ok(FfiEncoder::new(encoder, schema))
    })
}

unsafe extern "C" fn release_fn(factory: &mut FfiCodecFactory) {
    guard_release("a codec factory", || {
        assert!(
            !factory.private_data.is_null(),
            "codec factory released twice"
        );
        // SAFETY: the Box made in `new`, taken back exactly once.
        drop(unsafe { Box::from_raw(factory.private_data.cast::<Box<dyn Codec>>()) });
        factory.private_data = std::ptr::null_mut();
        bump(Counter::FactoryReleased);
    });
}

impl FfiCodecFactory {
    /// Wraps a codec for the ABI (plugin side).
    pub fn new(codec: Box<dyn Codec>) -> Self {
        bump(Counter::FactoryCreated);
        Self {
            description: description_fn,
            new_decoder: new_decoder_fn,
            new_encoder: new_encoder_fn,
            release: release_fn,
            private_data: Box::into_raw(Box::new(codec)).cast(),
        }
    }
}

impl Drop for FfiCodecFactory {
    fn drop(&mut self) {
        // SAFETY: release is the producer's destructor for private_data.
        unsafe { (self.release)(self) }
    }
}

/// A plugin's codec, seen from the host as a plain [`Codec`].
pub struct ForeignCodec {
    ffi: FfiCodecFactory,
    description: CodecDescription,
}

// SAFETY: codecs are `Send + Sync` (the trait requires it); the factory's
// vtable functions only take `&Self` except release, which runs from Drop.
unsafe impl Send for ForeignCodec {}
// SAFETY: as above.
unsafe impl Sync for ForeignCodec {}

impl ForeignCodec {
    /// Takes ownership of a factory a plugin made, and reads its description once.
    pub fn new(ffi: FfiCodecFactory) -> Result<Self, PluginError> {
        // SAFETY: calling the plugin's vtable with the factory it made.
        let json = unsafe { (ffi.description)(&ffi) }.into_result()?;
        let description = serde_json::from_str(json.as_str())
            .map_err(|e| PluginError::failed(format!("codec description is not valid: {e}")))?;
        Ok(Self { ffi, description })
    }
}

impl Codec for ForeignCodec {
    fn description(&self) -> CodecDescription {
        self.description.clone()
    }

    fn new_decoder(
        &self,
        config: &Map<String, Value>,
        side: Side,
    ) -> Result<Box<dyn Decoder>, PluginError> {
        let json = Value::Object(config.clone()).to_string();
        // SAFETY: calling the plugin's vtable with the factory it made.
        let ffi = unsafe { (self.ffi.new_decoder)(&self.ffi, json.as_str().into(), side.into()) }
            .into_result()?;
        Ok(Box::new(ForeignDecoder::new(ffi)?))
    }

    fn new_encoder(
        &self,
        config: &Map<String, Value>,
        side: Side,
        schema: SchemaRef,
    ) -> Result<Box<dyn Encoder>, PluginError> {
        let json = Value::Object(config.clone()).to_string();
        let ffi_schema = FfiArrowSchema::export(&schema)?;
        // SAFETY: calling the plugin's vtable with the factory it made; the
        // schema is borrowed for the call and released by us afterwards.
        let ffi = unsafe {
            (self.ffi.new_encoder)(&self.ffi, json.as_str().into(), side.into(), &ffi_schema)
        }
        .into_result()?;
        Ok(Box::new(ForeignEncoder::new(ffi)))
    }
}
