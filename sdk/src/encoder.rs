//! The encoder trait: Arrow rows in, message bytes out.

use arrow_array::{BinaryArray, RecordBatch};

use crate::{PluginError, RowError};

/// The output of one [`Encoder::encode`] call.
#[derive(Debug, Clone)]
pub struct Encoded {
    /// One entry per input row; null means "no bytes" (a null key, or a tombstone value).
    pub bytes: BinaryArray,
    /// Rows that could not be encoded (their entry in `bytes` is null).
    pub errors: Vec<RowError>,
}

/// Turns table rows into the key (or value) bytes of Kafka messages.
///
/// An encoder is created for one side and one input schema, which it checks
/// when it is created, so `encode` only fails on the data itself.
pub trait Encoder: Send {
    /// Encodes every row of `batch` (whose schema is the one given at creation).
    fn encode(&mut self, batch: &RecordBatch) -> Result<Encoded, PluginError>;
}

impl<E: Encoder + ?Sized> Encoder for Box<E> {
    fn encode(&mut self, batch: &RecordBatch) -> Result<Encoded, PluginError> {
        (**self).encode(batch)
    }
}
