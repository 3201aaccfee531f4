//! The cycle thread's wake-up: how writers ask for a cycle before its
//! period is up (a full buffer should not wait out the period).

use std::sync::atomic::{AtomicBool, Ordering};

/// How writers ask the cycle thread for a cycle before its period is up.
#[derive(Debug, Default)]
pub(crate) struct CycleWake {
    requested: AtomicBool,
    thread: std::sync::Mutex<Option<std::thread::Thread>>,
}

impl CycleWake {
    /// Records the cycle thread, so that requests can wake it.
    pub(crate) fn attach(&self, thread: std::thread::Thread) {
        *self.thread.lock().unwrap_or_else(|p| p.into_inner()) = Some(thread);
    }

    /// Asks for a cycle now; does nothing visible when no cycle thread runs.
    pub(crate) fn request(&self) {
        if !self.requested.swap(true, Ordering::AcqRel)
            && let Some(t) = self
                .thread
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .as_ref()
        {
            t.unpark();
        }
    }

    /// Whether a cycle was asked for since the last call.
    pub(crate) fn take_request(&self) -> bool {
        self.requested.swap(false, Ordering::AcqRel)
    }
}
