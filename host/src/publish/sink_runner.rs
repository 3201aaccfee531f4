//! Runs a table sink off the cycle thread: one write and one flush per
//! update cycle, with a bounded queue and a failure policy.
//!
//! Back-pressure: the queue holds `queue_capacity` cycles' updates. When it is
//! full, the engine's listener call waits, which holds back the next cycle and
//! so, through the writers' bounded buffers, the sources: memory stays
//! bounded and nothing is dropped. While that happens the sink's status is
//! `Lagging`.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender, TrySendError, sync_channel};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::Duration;

use topictable_engine::{Engine, Subscription, Table, Update};
use topictable_sdk::panic_message;

use crate::backoff::{Backoff, sleep_unless_stopped};

/// A destination for a table's updates, driven by [`start_sink`].
pub trait TableSink: Send {
    /// Takes one cycle's update.
    fn write(&mut self, update: &Update) -> Result<(), SinkError>;
    /// The cycle barrier: everything written is durable (or delivered).
    fn flush(&mut self) -> Result<(), SinkError>;
    /// Flushes and releases resources; called once.
    fn close(&mut self) -> Result<(), SinkError>;
}

/// Why a sink could not take an update: the rows, or the destination.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SinkError {
    /// The rows themselves cannot be written (an encoder refused a row, a
    /// modify changed a key, a record is too large): sending them again
    /// fails the same way, so the sink stops under every `on_failure`.
    #[error("{0}")]
    Rows(String),
    /// The destination failed (the broker, the disk, the network):
    /// `on_failure = "retry"` tries again.
    #[error("{0}")]
    Destination(String),
}

/// What a sink does when a write or flush fails.
#[derive(Debug, Clone, PartialEq)]
pub enum OnFailure {
    /// Stop the sink and show the error in its status (the default).
    Stop,
    /// Retry the same update with doubling backoff, up to `max_retries`
    /// attempts (0 = without end); rows may be sent twice, none is lost.
    Retry {
        /// Attempts before giving up (0: keep trying).
        max_retries: u32,
        /// The first wait.
        initial_backoff: Duration,
        /// The longest wait.
        max_backoff: Duration,
    },
}

/// How a sink runs.
#[derive(Debug, Clone, PartialEq)]
pub struct SinkOptions {
    /// Whether the rows present when the sink starts are written first.
    pub publish_initial: bool,
    /// The failure policy.
    pub on_failure: OnFailure,
    /// How many cycles' updates may wait for the sink.
    pub queue_capacity: usize,
}

impl Default for SinkOptions {
    fn default() -> Self {
        Self {
            publish_initial: true,
            on_failure: OnFailure::Stop,
            queue_capacity: 64,
        }
    }
}

/// Where a sink is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SinkStatus {
    /// Keeping up.
    Running,
    /// Its queue is full: the engine waits for it.
    Lagging,
    /// A write failed; it is waiting to try again (`on_failure = retry`).
    Retrying {
        /// Attempts so far.
        attempt: u32,
        /// The last error.
        error: String,
    },
    /// Stopped by an error.
    Failed(String),
    /// Closed on request.
    Stopped,
}

struct Shared {
    status: Mutex<SinkStatus>,
    stop: AtomicBool,
    /// Rows (added, modified and removed) written and flushed.
    rows_delivered: AtomicU64,
    /// Writes or flushes that failed (each retry counts).
    failures: AtomicU64,
    /// Updates waiting in the queue.
    queued: AtomicUsize,
}

/// What a sink has done so far ([`RunningSink::counts`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SinkCounts {
    /// Rows (added, modified and removed) written and flushed.
    pub rows_delivered: u64,
    /// Writes or flushes that failed (each retry counts).
    pub failures: u64,
    /// Cycles' updates waiting for the sink now.
    pub queue_depth: usize,
}

impl Shared {
    fn set(&self, status: SinkStatus) {
        *self.status.lock().unwrap_or_else(PoisonError::into_inner) = status;
    }
    /// `Running` becomes `Lagging`; any other status (a failure above all)
    /// stays what it is.
    fn mark_lagging(&self) {
        let mut status = self.status.lock().unwrap_or_else(PoisonError::into_inner);
        if *status == SinkStatus::Running {
            *status = SinkStatus::Lagging;
        }
    }
    fn get(&self) -> SinkStatus {
        self.status
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

/// A sink running on its own thread.
pub struct RunningSink {
    name: String,
    shared: Arc<Shared>,
    subscription: Option<Subscription>,
    thread: Option<JoinHandle<()>>,
}

impl RunningSink {
    /// The sink's name.
    pub fn name(&self) -> &str {
        &self.name
    }
    /// Its status.
    pub fn status(&self) -> SinkStatus {
        self.shared.get()
    }
    /// Rows delivered, failures and queue depth so far.
    pub fn counts(&self) -> SinkCounts {
        SinkCounts {
            rows_delivered: self.shared.rows_delivered.load(Ordering::Relaxed),
            failures: self.shared.failures.load(Ordering::Relaxed),
            queue_depth: self.shared.queued.load(Ordering::Relaxed),
        }
    }
    /// Writes what is queued, closes the sink and waits for it.
    pub fn stop(&mut self) {
        self.subscription.take();
        self.shared.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for RunningSink {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Starts feeding `table`'s updates to `sink` on a thread of its own.
pub fn start_sink(
    name: &str,
    engine: &Engine,
    table: &Table,
    sink: Box<dyn TableSink>,
    options: SinkOptions,
) -> Result<RunningSink, String> {
    let shared = Arc::new(Shared {
        status: Mutex::new(SinkStatus::Running),
        stop: AtomicBool::new(false),
        rows_delivered: AtomicU64::new(0),
        failures: AtomicU64::new(0),
        queued: AtomicUsize::new(0),
    });
    let (tx, rx): (SyncSender<Arc<Update>>, Receiver<Arc<Update>>) =
        sync_channel(options.queue_capacity.max(1));
    let listener_shared = shared.clone();
    let subscription = table.subscribe(move |u: &Arc<Update>| {
        if u.is_empty() {
            return;
        }
        listener_shared.queued.fetch_add(1, Ordering::Relaxed);
        match tx.try_send(u.clone()) {
            Ok(()) => {}
            Err(TrySendError::Full(u)) => {
                listener_shared.mark_lagging();
                let _ = tx.send(u);
            }
            Err(TrySendError::Disconnected(_)) => {
                listener_shared.queued.fetch_sub(1, Ordering::Relaxed);
            }
        }
    });
    // The rows already there, as of one cycle; later updates of that cycle or
    // before are skipped.
    let initial = if options.publish_initial {
        let snapshot = engine.snapshot(&[table]).map_err(|e| e.to_string())?;
        let batch = snapshot
            .batches
            .into_iter()
            .next()
            .expect("one table asked, one batch");
        let mut update = Update::empty(&table.schema(), snapshot.cycle);
        update.added = batch;
        Some(update)
    } else {
        None
    };
    let after_cycle = initial.as_ref().map_or(0, |u| u.cycle);
    let thread_shared = shared.clone();
    let sink_name = name.to_string();
    let thread = std::thread::Builder::new()
        .name(format!("sink-{name}"))
        .spawn(move || {
            // A panic (a bug in the sink or here) fails the sink, naming it,
            // rather than leaving it looking alive while nothing is written.
            let panicked = catch_unwind(AssertUnwindSafe(|| {
                run_sink(
                    &sink_name,
                    sink,
                    rx,
                    initial,
                    after_cycle,
                    &options.on_failure,
                    &thread_shared,
                )
            }));
            if let Err(payload) = panicked {
                let message = format!(
                    "sink `{sink_name}` panicked: {}",
                    panic_message(payload.as_ref())
                );
                tracing::error!("{message}");
                thread_shared.set(SinkStatus::Failed(message));
            }
        })
        .map_err(|e| e.to_string())?;
    Ok(RunningSink {
        name: name.to_string(),
        shared,
        subscription: Some(subscription),
        thread: Some(thread),
    })
}

/// The sink thread: the initial rows, then each queued update, until asked
/// to stop or a failure stops the sink.
fn run_sink(
    sink_name: &str,
    mut sink: Box<dyn TableSink>,
    rx: Receiver<Arc<Update>>,
    initial: Option<Update>,
    after_cycle: u64,
    on_failure: &OnFailure,
    thread_shared: &Shared,
) {
    if let Some(u) = initial.filter(|u| u.added.num_rows() > 0)
        && !deliver(sink_name, sink.as_mut(), &u, on_failure, thread_shared)
    {
        // The queue goes first, so that no cycle waits on a stopped sink
        // while it closes.
        drop(rx);
        let _ = sink.close();
        return;
    }
    loop {
        let received = rx.recv_timeout(Duration::from_millis(50));
        if received.is_ok() {
            thread_shared.queued.fetch_sub(1, Ordering::Relaxed);
        }
        match received {
            Ok(u) if u.cycle <= after_cycle => {}
            Ok(u) => {
                if !deliver(sink_name, sink.as_mut(), &u, on_failure, thread_shared) {
                    drop(rx);
                    let _ = sink.close();
                    return;
                }
                if thread_shared.get() == SinkStatus::Lagging {
                    thread_shared.set(SinkStatus::Running);
                }
            }
            Err(RecvTimeoutError::Timeout) if thread_shared.stop.load(Ordering::SeqCst) => {
                break;
            }
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => break,
        }
    }
    match sink.close() {
        Ok(()) => thread_shared.set(SinkStatus::Stopped),
        Err(e) => thread_shared.set(SinkStatus::Failed(format!("close: {e}"))),
    }
}

/// Writes and flushes one update under the failure policy; false when the sink must stop.
fn deliver(
    name: &str,
    sink: &mut dyn TableSink,
    u: &Update,
    policy: &OnFailure,
    shared: &Shared,
) -> bool {
    let mut attempt = 0u32;
    let mut backoff = match policy {
        OnFailure::Retry {
            initial_backoff,
            max_backoff,
            ..
        } => Backoff::new(*initial_backoff, *max_backoff),
        OnFailure::Stop => Backoff::new(Duration::ZERO, Duration::ZERO),
    };
    loop {
        let result = sink.write(u).and_then(|()| sink.flush());
        if result.is_ok() {
            let rows = u.added.num_rows() + u.modified.num_rows() + u.removed.num_rows();
            shared
                .rows_delivered
                .fetch_add(rows as u64, Ordering::Relaxed);
        } else {
            shared.failures.fetch_add(1, Ordering::Relaxed);
        }
        let Err(error) = result else {
            if attempt > 0 {
                tracing::info!(sink = name, "recovered after {attempt} failed attempts");
                shared.set(SinkStatus::Running);
            }
            return true;
        };
        attempt += 1;
        let rows = matches!(error, SinkError::Rows(_));
        let error = format!("sink `{name}`, cycle {}: {error}", u.cycle);
        if rows {
            let error = format!("{error} (retrying cannot help: the rows themselves are refused)");
            tracing::error!("{error}");
            shared.set(SinkStatus::Failed(error));
            return false;
        }
        match policy {
            OnFailure::Stop => {
                tracing::error!("{error} (on_failure = stop)");
                shared.set(SinkStatus::Failed(error));
                return false;
            }
            OnFailure::Retry { max_retries, .. } => {
                if *max_retries > 0 && attempt > *max_retries {
                    tracing::error!("{error} (gave up after {max_retries} retries)");
                    shared.set(SinkStatus::Failed(format!(
                        "{error} (gave up after {max_retries} retries)"
                    )));
                    return false;
                }
                tracing::warn!("{error} (retry {attempt})");
                shared.set(SinkStatus::Retrying { attempt, error });
                if !sleep_unless_stopped(backoff.next_wait(), &|| {
                    shared.stop.load(Ordering::SeqCst)
                }) {
                    return false;
                }
            }
        }
    }
}

/// A plugin sink (the SDK's `Sink`) driven as a [`TableSink`].
pub struct PluginTableSink {
    sink: Box<dyn topictable_sdk::Sink>,
}

impl PluginTableSink {
    /// Wraps a sink a plugin made.
    pub fn new(sink: Box<dyn topictable_sdk::Sink>) -> Self {
        Self { sink }
    }
}

impl TableSink for PluginTableSink {
    fn write(&mut self, u: &Update) -> Result<(), SinkError> {
        let update = topictable_sdk::SinkUpdate {
            cycle: u.cycle,
            added: u.added.clone(),
            removed: u.removed.clone(),
            modified: u.modified.clone(),
        };
        self.sink.write(&update).map_err(destination)
    }
    fn flush(&mut self) -> Result<(), SinkError> {
        self.sink.flush().map_err(destination)
    }
    fn close(&mut self) -> Result<(), SinkError> {
        self.sink.close().map_err(destination)
    }
}

/// A plugin sink's error: the SDK cannot tell rows from destination yet, so
/// it is retried under `on_failure = "retry"`.
fn destination(e: topictable_sdk::PluginError) -> SinkError {
    SinkError::Destination(e.to_string())
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Instant;

    use arrow_array::{Int64Array, RecordBatch};
    use arrow_schema::{DataType, Field, Schema};

    use super::*;

    /// A sink whose writes answer with what `answer` says, counting them.
    struct ScriptedSink<F: FnMut(u32) -> Result<(), SinkError> + Send> {
        answer: F,
        writes: Arc<AtomicU64>,
    }

    impl<F: FnMut(u32) -> Result<(), SinkError> + Send> TableSink for ScriptedSink<F> {
        fn write(&mut self, _: &Update) -> Result<(), SinkError> {
            let n = self.writes.fetch_add(1, Ordering::SeqCst) as u32;
            (self.answer)(n)
        }
        fn flush(&mut self) -> Result<(), SinkError> {
            Ok(())
        }
        fn close(&mut self) -> Result<(), SinkError> {
            Ok(())
        }
    }

    fn retry_without_end() -> SinkOptions {
        SinkOptions {
            publish_initial: false,
            on_failure: OnFailure::Retry {
                max_retries: 0,
                initial_backoff: Duration::from_millis(1),
                max_backoff: Duration::from_millis(5),
            },
            queue_capacity: 4,
        }
    }

    /// Starts `sink` on a one-column append table, pushes one row and runs
    /// a cycle; returns the sink once its status satisfies `done`.
    fn run_until(
        sink: impl TableSink + 'static,
        done: impl Fn(&SinkStatus) -> bool,
    ) -> (RunningSink, SinkStatus) {
        let engine = Engine::new();
        let schema = Arc::new(Schema::new(vec![Field::new("N", DataType::Int64, false)]));
        let table = engine.append_table("t", schema.clone()).unwrap();
        let running =
            start_sink("s", &engine, &table, Box::new(sink), retry_without_end()).unwrap();
        let rows = RecordBatch::try_new(schema, vec![Arc::new(Int64Array::from(vec![1]))]).unwrap();
        table.writer().unwrap().push(rows).unwrap();
        engine.run_cycle().unwrap();
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let status = running.status();
            if done(&status) {
                return (running, status);
            }
            assert!(Instant::now() < deadline, "still {status:?}");
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    #[test]
    fn a_row_error_stops_the_sink_even_under_retry_without_end() {
        let writes = Arc::new(AtomicU64::new(0));
        let sink = ScriptedSink {
            answer: |_| Err(SinkError::Rows("value encoder, row 0: out of range".into())),
            writes: writes.clone(),
        };
        let (running, status) = run_until(sink, |s| matches!(s, SinkStatus::Failed(_)));
        let SinkStatus::Failed(message) = status else {
            unreachable!()
        };
        assert!(
            message.contains("row 0: out of range") && message.contains("retrying cannot help"),
            "{message}"
        );
        assert_eq!(writes.load(Ordering::SeqCst), 1, "tried once, not again");
        assert_eq!(running.counts().failures, 1);
    }

    #[test]
    fn a_destination_error_is_retried_until_it_clears() {
        let writes = Arc::new(AtomicU64::new(0));
        let sink = ScriptedSink {
            answer: |n| match n {
                0..3 => Err(SinkError::Destination("broker down".into())),
                _ => Ok(()),
            },
            writes: writes.clone(),
        };
        let (running, _) = run_until(sink, |_| writes.load(Ordering::SeqCst) >= 4);
        let deadline = Instant::now() + Duration::from_secs(10);
        while running.counts().rows_delivered < 1 {
            assert!(Instant::now() < deadline, "{:?}", running.status());
            std::thread::sleep(Duration::from_millis(5));
        }
        assert_eq!(running.status(), SinkStatus::Running);
        assert_eq!(running.counts().failures, 3);
    }

    #[test]
    fn a_panic_in_the_sink_thread_fails_the_sink_with_its_message() {
        let sink = ScriptedSink {
            answer: |_| panic!("a sink bug"),
            writes: Arc::new(AtomicU64::new(0)),
        };
        let (_running, status) = run_until(sink, |s| matches!(s, SinkStatus::Failed(_)));
        assert_eq!(
            status,
            SinkStatus::Failed("sink `s` panicked: a sink bug".into())
        );
    }

    /// A failed sink stays Failed while updates keep coming (no `Lagging`
    /// over it), and no cycle waits on it while it closes.
    #[test]
    fn a_failed_sink_stays_failed_and_holds_no_cycle_back() {
        struct SlowToClose;
        impl TableSink for SlowToClose {
            fn write(&mut self, _: &Update) -> Result<(), SinkError> {
                Err(SinkError::Rows("row 0: refused".into()))
            }
            fn flush(&mut self) -> Result<(), SinkError> {
                Ok(())
            }
            fn close(&mut self) -> Result<(), SinkError> {
                std::thread::sleep(Duration::from_secs(2));
                Ok(())
            }
        }
        let engine = Engine::new();
        let schema = Arc::new(Schema::new(vec![Field::new("N", DataType::Int64, false)]));
        let table = engine.append_table("t", schema.clone()).unwrap();
        let options = SinkOptions {
            queue_capacity: 1,
            ..retry_without_end()
        };
        let running = start_sink("s", &engine, &table, Box::new(SlowToClose), options).unwrap();
        let started = Instant::now();
        for n in 0..20 {
            let rows =
                RecordBatch::try_new(schema.clone(), vec![Arc::new(Int64Array::from(vec![n]))])
                    .unwrap();
            table.writer().unwrap().push(rows).unwrap();
            engine.run_cycle().unwrap();
            std::thread::sleep(Duration::from_millis(20));
        }
        assert!(
            started.elapsed() < Duration::from_millis(1800),
            "cycles waited for the closing sink"
        );
        assert!(
            matches!(running.status(), SinkStatus::Failed(_)),
            "{:?}",
            running.status()
        );
    }
}
