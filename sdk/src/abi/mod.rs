//! The stable plugin ABI. Every `abi_stable` type of the SDK lives in this
//! module, so the ABI technology can change without touching plugin code.
//!
//! Each interface has one file holding its `#[repr(C)]` vtable (`FfiX`, with
//! `release` and `private_data`) and the host-side `ForeignX` that implements
//! the safe trait by calling through it. Ownership: whoever allocates an
//! object frees it. Plugin objects carry a `release` that runs the plugin's own
//! destructor; the host calls it exactly once, from `Drop`. Arrow data crosses
//! through the Arrow C Data Interface, whose `release` callback likewise
//! returns the buffers to the side that made them.

mod arrow;
mod codec_factory;
mod counts;
mod decoder;
mod encoder;
mod logging;
mod message;
mod panic;
mod root_module;
mod sink;
mod sink_factory;

pub use arrow::{FfiArrowArray, FfiArrowSchema};
pub use codec_factory::{FfiCodecFactory, ForeignCodec};
pub use counts::{FfiObjectCounts, ObjectCounts, local_object_counts};
pub use decoder::{FfiDecoded, FfiDecoder, ForeignDecoder};
pub use encoder::{FfiEncoded, FfiEncoder, ForeignEncoder};
pub use logging::{FfiHostServices, FfiLogRecord, host_services, install_plugin_logger};
pub use message::{FfiBinaryColumn, FfiMessageBatch};
pub use panic::{guard, panic_message};
pub use root_module::{
    ABI_VERSION, FfiPluginInfo, PluginDefinition, PluginModule, PluginModuleRef, SDK_VERSION,
    plugin_module,
};
pub use sink::{FfiSink, FfiSinkUpdate, ForeignSink};
pub use sink_factory::{FfiSinkFactory, ForeignSinkFactory};

use abi_stable::StableAbi;
use abi_stable::std_types::{RString, RVec};

use crate::{PluginError, RowError, RowErrorKind, Side};

/// `abi_stable`'s library handles, for the host's loader.
pub use abi_stable::library::{
    LibHeader, LibraryError, ROOT_MODULE_LOADER_NAME, RawLibrary, lib_header_from_raw_library,
};

/// Which side of a message, across the ABI.
#[repr(u8)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, StableAbi)]
pub enum FfiSide {
    /// The record key.
    Key,
    /// The record value.
    Value,
}

impl From<Side> for FfiSide {
    fn from(side: Side) -> Self {
        match side {
            Side::Key => Self::Key,
            Side::Value => Self::Value,
        }
    }
}

impl From<FfiSide> for Side {
    fn from(side: FfiSide) -> Self {
        match side {
            FfiSide::Key => Self::Key,
            FfiSide::Value => Self::Value,
        }
    }
}

/// The kind of a [`FfiError`].
#[repr(u8)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, StableAbi)]
pub enum FfiErrorKind {
    /// See [`PluginError::Config`].
    Config,
    /// See [`PluginError::Unsupported`].
    Unsupported,
    /// See [`PluginError::Panicked`].
    Panicked,
    /// See [`PluginError::Arrow`].
    Arrow,
    /// See [`PluginError::Failed`].
    Failed,
}

/// A [`PluginError`] across the ABI.
#[repr(C)]
#[derive(Debug, StableAbi)]
pub struct FfiError {
    /// What kind of failure.
    pub kind: FfiErrorKind,
    /// The message.
    pub message: RString,
}

impl From<PluginError> for FfiError {
    fn from(e: PluginError) -> Self {
        let (kind, message) = match e {
            PluginError::Config(m) => (FfiErrorKind::Config, m),
            PluginError::Unsupported(m) => (FfiErrorKind::Unsupported, m),
            PluginError::Panicked(m) => (FfiErrorKind::Panicked, m),
            PluginError::Arrow(m) => (FfiErrorKind::Arrow, m),
            PluginError::Failed(m) => (FfiErrorKind::Failed, m),
        };
        Self {
            kind,
            message: message.into(),
        }
    }
}

impl From<FfiError> for PluginError {
    fn from(e: FfiError) -> Self {
        let m = e.message.into_string();
        match e.kind {
            FfiErrorKind::Config => Self::Config(m),
            FfiErrorKind::Unsupported => Self::Unsupported(m),
            FfiErrorKind::Panicked => Self::Panicked(m),
            FfiErrorKind::Arrow => Self::Arrow(m),
            FfiErrorKind::Failed => Self::Failed(m),
        }
    }
}

/// A [`RowError`] across the ABI.
#[repr(C)]
#[derive(Debug, StableAbi)]
pub struct FfiRowError {
    /// Row index in the batch.
    pub row: u64,
    /// What went wrong.
    pub message: RString,
    /// What the host does with it (see `RowErrorKind`).
    pub kind: FfiRowErrorKind,
}

/// A [`crate::RowErrorKind`] across the ABI.
#[repr(u8)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, StableAbi)]
pub enum FfiRowErrorKind {
    /// The message is bad.
    Bad,
    /// Decode it again later.
    RetryLater,
    /// Decode it again in a batch of its own.
    BatchFull,
}

impl From<RowErrorKind> for FfiRowErrorKind {
    fn from(kind: RowErrorKind) -> Self {
        match kind {
            RowErrorKind::Bad => Self::Bad,
            RowErrorKind::RetryLater => Self::RetryLater,
            RowErrorKind::BatchFull => Self::BatchFull,
        }
    }
}

impl From<FfiRowErrorKind> for RowErrorKind {
    fn from(kind: FfiRowErrorKind) -> Self {
        match kind {
            FfiRowErrorKind::Bad => Self::Bad,
            FfiRowErrorKind::RetryLater => Self::RetryLater,
            FfiRowErrorKind::BatchFull => Self::BatchFull,
        }
    }
}

pub(crate) fn row_errors_to_ffi(errors: Vec<RowError>) -> RVec<FfiRowError> {
    if errors.is_empty() {
        return RVec::new();
    }
    errors
        .into_iter()
        .map(|e| FfiRowError {
            row: e.row as u64,
            message: e.message.into(),
            kind: e.kind.into(),
        })
        .collect()
}

pub(crate) fn row_errors_from_ffi(errors: RVec<FfiRowError>) -> Vec<RowError> {
    if errors.is_empty() {
        return Vec::new();
    }
    errors
        .into_iter()
        .map(|e| RowError {
            row: e.row as usize,
            message: e.message.into_string(),
            kind: e.kind.into(),
        })
        .collect()
}
