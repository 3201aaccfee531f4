//! The operator that feeds a source table from its writers.

use std::sync::Arc;

use super::SourceStore;
use crate::error::Result;
use crate::ops::{Input, Operator};
use crate::update::Update;
use crate::version::VersionRef;
use crate::writer::WriterShared;

/// Drains the writer buffer into the table's storage once per cycle.
pub(crate) struct SourceOp {
    pub writer: Arc<WriterShared>,
    pub store: Box<dyn SourceStore>,
}

impl Operator for SourceOp {
    fn process(&mut self, cycle: u64, _inputs: &[Input<'_>]) -> Result<Option<Update>> {
        let batches = self.writer.drain();
        self.store.ingest(batches, cycle)
    }

    fn version(&self) -> VersionRef {
        self.store.version()
    }
}
