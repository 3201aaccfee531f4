//! The root module every plugin library exports, and its construction.

use std::sync::OnceLock;

use abi_stable::library::RootModule;
use abi_stable::prefix_type::PrefixTypeTrait;
use abi_stable::sabi_types::VersionStrings;
use abi_stable::std_types::{RResult, RStr, RString, RVec};
use abi_stable::{StableAbi, declare_root_module_statics};

use super::counts::local_object_counts;
use super::logging::install_plugin_logger;
use super::panic::guard;
use super::{FfiCodecFactory, FfiError, FfiHostServices, FfiObjectCounts, FfiSinkFactory};
use crate::{Codec, SinkFactory};

/// The plugin ABI version. A host loads plugins whose ABI has the same major
/// version and a minor version at least its own (later minors only append
/// fields to [`PluginModule`]). 2.0.0: a row error carries a kind (bad,
/// retry later, batch full) where 1.x had a retry flag.
pub const ABI_VERSION: &str = "2.0.0";

/// The version of this SDK crate.
pub const SDK_VERSION: &str = env!("CARGO_PKG_VERSION");

/// Who a plugin is.
#[repr(C)]
#[derive(Debug, StableAbi)]
pub struct FfiPluginInfo {
    /// The plugin's name.
    pub name: RString,
    /// The plugin's own version.
    pub version: RString,
    /// The SDK version it was built with.
    pub sdk_version: RString,
    /// The ABI version it speaks.
    pub abi_version: RString,
}

/// The root module of a plugin library: a prefix type, so later ABI minor
/// versions can append fields after `object_counts`.
#[repr(C)]
#[derive(StableAbi)]
#[sabi(kind(Prefix(prefix_ref = PluginModuleRef)))]
#[sabi(missing_field(panic))]
pub struct PluginModule {
    /// Name and versions.
    pub info: extern "C" fn() -> FfiPluginInfo,
    /// Called once by the host right after loading, before anything else.
    pub init: extern "C" fn(FfiHostServices) -> RResult<(), FfiError>,
    /// The plugin's codecs (each returned factory is owned by the caller).
    pub codec_factories: extern "C" fn() -> RResult<RVec<FfiCodecFactory>, FfiError>,
    /// The plugin's sinks (each returned factory is owned by the caller).
    pub sink_factories: extern "C" fn() -> RResult<RVec<FfiSinkFactory>, FfiError>,
    /// How many objects the plugin made and released (see [`FfiObjectCounts`]).
    #[sabi(last_prefix_field)]
    pub object_counts: extern "C" fn() -> FfiObjectCounts,
}

impl RootModule for PluginModuleRef {
    declare_root_module_statics! {PluginModuleRef}
    const BASE_NAME: &'static str = "topictable_plugin";
    const NAME: &'static str = "topictable_plugin";
    const VERSION_STRINGS: VersionStrings = VersionStrings {
        version: RStr::from_str(ABI_VERSION),
    };
}

/// What `export_plugin!` declares about a plugin.
#[doc(hidden)]
pub struct PluginDefinition {
    pub name: &'static str,
    pub version: &'static str,
    pub codecs: fn() -> Vec<Box<dyn Codec>>,
    pub sinks: fn() -> Vec<Box<dyn SinkFactory>>,
}

// One per cdylib: each plugin links its own copy of the SDK.
static DEFINITION: OnceLock<PluginDefinition> = OnceLock::new();

fn definition() -> &'static PluginDefinition {
    DEFINITION
        .get()
        .expect("the root module is built before any of its functions is called")
}

extern "C" fn info_fn() -> FfiPluginInfo {
    let d = definition();
    FfiPluginInfo {
        name: d.name.into(),
        version: d.version.into(),
        sdk_version: SDK_VERSION.into(),
        abi_version: ABI_VERSION.into(),
    }
}

extern "C" fn init_fn(services: FfiHostServices) -> RResult<(), FfiError> {
    guard(|| {
        install_plugin_logger(definition().name, services);
        Ok(())
    })
}

extern "C" fn codecs_fn() -> RResult<RVec<FfiCodecFactory>, FfiError> {
    guard(|| {
        Ok((definition().codecs)()
            .into_iter()
            .map(FfiCodecFactory::new)
            .collect())
    })
}

extern "C" fn sinks_fn() -> RResult<RVec<FfiSinkFactory>, FfiError> {
    guard(|| {
        Ok((definition().sinks)()
            .into_iter()
            .map(FfiSinkFactory::new)
            .collect())
    })
}

extern "C" fn counts_fn() -> FfiObjectCounts {
    local_object_counts()
}

/// Builds the root module for `definition` (called once, by abi_stable's loader).
#[doc(hidden)]
pub fn plugin_module(definition: fn() -> PluginDefinition) -> PluginModuleRef {
    let _ = DEFINITION.set(definition());
    PluginModule {
        info: info_fn,
        init: init_fn,
        codec_factories: codecs_fn,
        sink_factories: sinks_fn,
        object_counts: counts_fn,
    }
    .leak_into_prefix()
}
