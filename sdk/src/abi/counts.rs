//! Counts of FFI objects made and released by this binary, so tests (and
//! `topictable plugins list --objects`) can prove every `release` ran once.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

use abi_stable::StableAbi;

/// Objects created and released, per kind.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, StableAbi)]
pub struct FfiObjectCounts {
    /// Decoders created.
    pub decoders_created: u64,
    /// Decoders released.
    pub decoders_released: u64,
    /// Encoders created.
    pub encoders_created: u64,
    /// Encoders released.
    pub encoders_released: u64,
    /// Sinks created.
    pub sinks_created: u64,
    /// Sinks released.
    pub sinks_released: u64,
    /// Codec and sink factories created.
    pub factories_created: u64,
    /// Codec and sink factories released.
    pub factories_released: u64,
    /// Arrow arrays exported through the C Data Interface.
    pub arrays_exported: u64,
    /// Exported Arrow arrays whose `release` ran.
    pub arrays_released: u64,
    /// Arrow schemas exported through the C Data Interface.
    pub schemas_exported: u64,
    /// Exported Arrow schemas whose `release` ran.
    pub schemas_released: u64,
}

/// The counts of the calling binary, as a plain struct.
pub type ObjectCounts = FfiObjectCounts;

impl FfiObjectCounts {
    /// Whether every object created was released.
    pub fn all_released(&self) -> bool {
        self.decoders_created == self.decoders_released
            && self.encoders_created == self.encoders_released
            && self.sinks_created == self.sinks_released
            && self.factories_created == self.factories_released
            && self.arrays_exported == self.arrays_released
            && self.schemas_exported == self.schemas_released
    }
}

#[derive(Clone, Copy)]
pub(crate) enum Counter {
    DecoderCreated,
    DecoderReleased,
    EncoderCreated,
    EncoderReleased,
    SinkCreated,
    SinkReleased,
    FactoryCreated,
    FactoryReleased,
    ArrayExported,
    ArrayReleased,
    SchemaExported,
    SchemaReleased,
}

static COUNTERS: [AtomicU64; 12] = [const { AtomicU64::new(0) }; 12];

pub(crate) fn bump(counter: Counter) {
    COUNTERS[counter as usize].fetch_add(1, Relaxed);
}

/// This binary's counts (the host's own, or a plugin's when called inside it).
pub fn local_object_counts() -> FfiObjectCounts {
    let c = |k: Counter| COUNTERS[k as usize].load(Relaxed);
    FfiObjectCounts {
        decoders_created: c(Counter::DecoderCreated),
        decoders_released: c(Counter::DecoderReleased),
        encoders_created: c(Counter::EncoderCreated),
        encoders_released: c(Counter::EncoderReleased),
        sinks_created: c(Counter::SinkCreated),
        sinks_released: c(Counter::SinkReleased),
        factories_created: c(Counter::FactoryCreated),
        factories_released: c(Counter::FactoryReleased),
        arrays_exported: c(Counter::ArrayExported),
        arrays_released: c(Counter::ArrayReleased),
        schemas_exported: c(Counter::SchemaExported),
        schemas_released: c(Counter::SchemaReleased),
    }
}
