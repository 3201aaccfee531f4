//! The sink trait: where a table's updates go, one call per update cycle.

use arrow_array::RecordBatch;

use crate::PluginError;

/// A table's change in one update cycle.
#[derive(Debug, Clone)]
pub struct SinkUpdate {
    /// The cycle number (strictly increasing).
    pub cycle: u64,
    /// Rows added in this cycle.
    pub added: RecordBatch,
    /// Rows removed in this cycle (their last values).
    pub removed: RecordBatch,
    /// Rows modified in this cycle (their new values).
    pub modified: RecordBatch,
}

/// Receives a table's updates; the host calls `write` once per cycle, then
/// `flush` as the cycle's barrier, and `close` once at the end.
pub trait Sink: Send {
    /// Takes one cycle's update.
    fn write(&mut self, update: &SinkUpdate) -> Result<(), PluginError>;
    /// Makes everything written so far durable (or delivered).
    fn flush(&mut self) -> Result<(), PluginError>;
    /// Flushes and releases resources; called exactly once.
    fn close(&mut self) -> Result<(), PluginError>;
}

impl<S: Sink + ?Sized> Sink for Box<S> {
    fn write(&mut self, update: &SinkUpdate) -> Result<(), PluginError> {
        (**self).write(update)
    }
    fn flush(&mut self) -> Result<(), PluginError> {
        (**self).flush()
    }
    fn close(&mut self) -> Result<(), PluginError> {
        (**self).close()
    }
}
