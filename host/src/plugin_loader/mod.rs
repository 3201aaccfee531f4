//! Finds, checks and loads plugin libraries.
//!
//! For each `*.so` / `*.dylib` / `*.dll` in the plugin directory: probe it
//! with `libloading` for topictable's root-module symbol, then let
//! `abi_stable` check the ABI version and the layout of every type in the
//! root module before anything in the plugin runs. One bad file is reported
//! and skipped; the others still load. Loaded libraries are never unloaded.

mod error;
mod library;
mod registry;

pub use error::LoadError;
pub use library::{PluginInfo, load_library};
pub use registry::{
    CodecEntry, CreateError, LoadedPlugin, PluginCounter, PluginRegistry, SinkEntry,
};
