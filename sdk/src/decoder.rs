//! The decoder trait: a batch of messages in, a batch of Arrow rows out.

use arrow_array::RecordBatch;
use arrow_schema::SchemaRef;

use crate::{MessageBatch, PluginError};

/// One message that could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowError {
    /// Index of the message in the batch.
    pub row: usize,
    /// What was expected and what came, e.g. `expected 8 bytes for int64, got 5: …`.
    pub message: String,
    /// Whether the message itself is bad, and what the host does with it.
    pub kind: RowErrorKind,
}

/// Why a row could not be decoded, which decides what the host does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RowErrorKind {
    /// The message is bad: the table's bad-record policy applies
    /// (`on_error = fail | skip | dead-letter`).
    #[default]
    Bad,
    /// The message may be fine: what failed is outside it (its schema
    /// registry cannot be reached, or answers 5xx). The host holds the
    /// message's partition at it and decodes it again later.
    RetryLater,
    /// The message did not fit in this batch: a column would pass what one
    /// Arrow array holds (2 GiB of bytes, 2^31 list items). The host takes
    /// the rows before it, and decodes this row and the ones after it again
    /// as a batch of their own. A row that does not fit even as the first of
    /// a batch is bad.
    BatchFull,
}

impl RowError {
    /// A row error: the message itself is bad.
    pub fn new(row: usize, message: impl Into<String>) -> Self {
        Self {
            row,
            message: message.into(),
            kind: RowErrorKind::Bad,
        }
    }

    /// A row that could not be decoded now, through no fault of its own
    /// (see [`RowErrorKind::RetryLater`]).
    pub fn retry_later(row: usize, message: impl Into<String>) -> Self {
        Self {
            row,
            message: message.into(),
            kind: RowErrorKind::RetryLater,
        }
    }

    /// A row that did not fit in this batch's columns (see
    /// [`RowErrorKind::BatchFull`]).
    pub fn batch_full(row: usize, message: impl Into<String>) -> Self {
        Self {
            row,
            message: message.into(),
            kind: RowErrorKind::BatchFull,
        }
    }
}

/// The output of one [`Decoder::decode`] call.
#[derive(Debug, Clone)]
pub struct Decoded {
    /// One row per input message, in order; a row listed in `errors` holds nulls.
    pub batch: RecordBatch,
    /// The messages that could not be decoded, in ascending row order.
    pub errors: Vec<RowError>,
}

/// Turns the key (or value) bytes of a batch of messages into Arrow columns.
///
/// A decoder is created for one side of the message (see [`crate::Side`]);
/// its output schema is fixed when it is created. It must never panic on bad
/// input: a message it cannot read becomes a [`RowError`], and the whole call
/// fails only when nothing at all can be produced.
pub trait Decoder: Send {
    /// The columns every [`Decoded::batch`] has.
    fn output_schema(&self) -> SchemaRef;

    /// Decodes every message of `messages`.
    fn decode(&mut self, messages: &MessageBatch<'_>) -> Result<Decoded, PluginError>;
}

impl<D: Decoder + ?Sized> Decoder for Box<D> {
    fn output_schema(&self) -> SchemaRef {
        (**self).output_schema()
    }
    fn decode(&mut self, messages: &MessageBatch<'_>) -> Result<Decoded, PluginError> {
        (**self).decode(messages)
    }
}
