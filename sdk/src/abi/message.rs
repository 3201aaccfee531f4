//! A borrowed [`MessageBatch`] across the ABI: slices only, no allocation.

use abi_stable::StableAbi;
use abi_stable::std_types::RSlice;

use crate::{BinaryColumn, MessageBatch};

/// A [`BinaryColumn`] across the ABI.
#[repr(C)]
#[derive(Debug, Clone, Copy, StableAbi)]
pub struct FfiBinaryColumn<'a> {
    offsets: RSlice<'a, i32>,
    data: RSlice<'a, u8>,
    validity: RSlice<'a, u8>,
}

impl<'a> From<BinaryColumn<'a>> for FfiBinaryColumn<'a> {
    fn from(c: BinaryColumn<'a>) -> Self {
        let (offsets, data, validity) = c.parts();
        Self {
            offsets: offsets.into(),
            data: data.into(),
            validity: validity.into(),
        }
    }
}

impl<'a> From<FfiBinaryColumn<'a>> for BinaryColumn<'a> {
    fn from(c: FfiBinaryColumn<'a>) -> Self {
        BinaryColumn::new(
            c.offsets.as_slice(),
            c.data.as_slice(),
            c.validity.as_slice(),
        )
    }
}

/// A [`MessageBatch`] across the ABI; it borrows the caller's buffers for the
/// duration of one call.
#[repr(C)]
#[derive(Debug, Clone, Copy, StableAbi)]
pub struct FfiMessageBatch<'a> {
    keys: FfiBinaryColumn<'a>,
    values: FfiBinaryColumn<'a>,
    topic_names: FfiBinaryColumn<'a>,
    topic_ids: RSlice<'a, u32>,
    partitions: RSlice<'a, i32>,
    offsets: RSlice<'a, i64>,
    timestamps: RSlice<'a, i64>,
    header_offsets: RSlice<'a, i32>,
    header_keys: FfiBinaryColumn<'a>,
    header_values: FfiBinaryColumn<'a>,
}

impl<'a> From<&MessageBatch<'a>> for FfiMessageBatch<'a> {
    fn from(b: &MessageBatch<'a>) -> Self {
        Self {
            keys: b.keys.into(),
            values: b.values.into(),
            topic_names: b.topic_names.into(),
            topic_ids: b.topic_ids.into(),
            partitions: b.partitions.into(),
            offsets: b.offsets.into(),
            timestamps: b.timestamps.into(),
            header_offsets: b.header_offsets.into(),
            header_keys: b.header_keys.into(),
            header_values: b.header_values.into(),
        }
    }
}

impl<'a> From<&FfiMessageBatch<'a>> for MessageBatch<'a> {
    fn from(b: &FfiMessageBatch<'a>) -> Self {
        Self {
            keys: b.keys.into(),
            values: b.values.into(),
            topic_names: b.topic_names.into(),
            topic_ids: b.topic_ids.as_slice(),
            partitions: b.partitions.as_slice(),
            offsets: b.offsets.as_slice(),
            timestamps: b.timestamps.as_slice(),
            header_offsets: b.header_offsets.as_slice(),
            header_keys: b.header_keys.into(),
            header_values: b.header_values.into(),
        }
    }
}
