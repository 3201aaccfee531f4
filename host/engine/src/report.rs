//! What one cycle did, and the functions told of it.

use std::sync::Arc;
use std::time::Duration;

/// A function told of every cycle ([`Engine::observe_cycles`](crate::Engine::observe_cycles)).
pub(crate) type CycleObserver = Arc<dyn Fn(&CycleReport) + Send + Sync>;

/// What one cycle did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CycleReport {
    /// The cycle's number (starts at 1).
    pub cycle: u64,
    /// Names of the tables that changed.
    pub changed: Vec<String>,
    /// How long the cycle took, from taking the graph to the last listener.
    pub duration: Duration,
    /// Rows added, modified or removed over every table this cycle.
    pub rows_changed: u64,
}
