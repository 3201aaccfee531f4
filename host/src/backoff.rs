//! Waiting between retries: a wait that doubles up to a cap, and a sleep that
//! a stop request cuts short. Used wherever a fault outside topictable (a
//! refused dead-letter record, a failed sink, an unreachable registry) is
//! retried.

use std::time::{Duration, Instant};

/// A retry wait that doubles after each use, up to a cap.
#[derive(Debug, Clone)]
pub(crate) struct Backoff {
    next: Duration,
    max: Duration,
}

impl Backoff {
    /// Starts at `first` and never waits longer than `max`.
    pub(crate) fn new(first: Duration, max: Duration) -> Self {
        Self {
            next: first.min(max),
            max,
        }
    }

    /// The wait to use now; the one after it is twice as long (up to the cap).
    pub(crate) fn next_wait(&mut self) -> Duration {
        let now = self.next;
        self.next = self.next.saturating_mul(2).min(self.max);
        now
    }
}

/// Sleeps `how_long` in short steps; false if `stop` said so meanwhile.
pub(crate) fn sleep_unless_stopped(how_long: Duration, stop: &dyn Fn() -> bool) -> bool {
    let until = Instant::now() + how_long;
    while Instant::now() < until {
        if stop() {
            return false;
        }
        std::thread::sleep((until - Instant::now()).min(Duration::from_millis(20)));
    }
    !stop()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_double_up_to_the_cap() {
        let mut b = Backoff::new(Duration::from_millis(300), Duration::from_secs(1));
        let waits: Vec<_> = (0..4).map(|_| b.next_wait().as_millis()).collect();
        assert_eq!(waits, [300, 600, 1000, 1000]);
        let mut capped = Backoff::new(Duration::from_secs(5), Duration::from_secs(1));
        assert_eq!(capped.next_wait(), Duration::from_secs(1));
    }

    #[test]
    fn a_stop_request_ends_the_sleep() {
        let start = Instant::now();
        assert!(!sleep_unless_stopped(Duration::from_secs(30), &|| true));
        assert!(start.elapsed() < Duration::from_secs(1));
        assert!(sleep_unless_stopped(Duration::from_millis(30), &|| false));
        assert!(start.elapsed() >= Duration::from_millis(30));
    }
}
