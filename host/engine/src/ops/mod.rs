//! Incremental operators; each file adds one builder method to [`Table`](crate::Table).

pub(crate) mod agg_by;
pub(crate) mod aggregators;
pub(crate) mod formula;
pub(crate) mod last_by;
pub(crate) mod natural_join;
pub(crate) mod spec;
pub(crate) mod view;
pub(crate) mod where_;

use crate::error::Result;
use crate::update::Update;
use crate::version::VersionRef;

/// One parent's contribution to a cycle.
pub(crate) struct Input<'a> {
    /// What changed in the parent this cycle, if anything.
    pub update: Option<&'a Update>,
    /// The parent's contents after this cycle.
    pub version: &'a VersionRef,
}

/// `process` of a one-input operator that acts only when its input changed:
/// `apply` on the input's update and version.
pub(crate) fn on_input_update(
    inputs: &[Input<'_>],
    apply: impl FnOnce(&Update, &VersionRef) -> Result<Update>,
) -> Result<Option<Update>> {
    let input = &inputs[0];
    input.update.map(|u| apply(u, input.version)).transpose()
}

/// A node's behaviour: turns its parents' updates into its own.
pub(crate) trait Operator: Send {
    /// Applies this cycle's parent updates; returns this table's update.
    fn process(&mut self, cycle: u64, inputs: &[Input<'_>]) -> Result<Option<Update>>;
    /// The contents after the last `process`.
    fn version(&self) -> VersionRef;
}
