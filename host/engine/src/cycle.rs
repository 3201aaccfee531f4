//! The update cycle: ingest, propagate in dependency order, publish, notify.

use std::any::Any;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::engine::{Engine, Listener, Published, View};
use crate::error::{EngineError, Result};
use crate::ops::Input;
use crate::report::CycleReport;
use crate::update::Update;

/// The text of a caught panic's payload.
fn panic_text(payload: &(dyn Any + Send)) -> String {
    match (
        payload.downcast_ref::<&str>(),
        payload.downcast_ref::<String>(),
    ) {
        (Some(s), _) => (*s).to_string(),
        (_, Some(s)) => s.clone(),
        _ => "a panic with a non-string payload".to_string(),
    }
}

impl Engine {
    /// Runs one update cycle now.
    ///
    /// Every source takes in its buffered rows, every derived table applies
    /// its inputs' updates in dependency order, then all tables' new
    /// versions become visible to readers at once and listeners are called.
    /// If a table fails this cycle (for example a natural join finds a
    /// duplicate right key), it and the tables depending on it stop updating,
    /// the other tables still complete the cycle, and the first new failure
    /// is returned.
    pub fn run_cycle(&self) -> Result<CycleReport> {
        let started = Instant::now();
        let mut graph = self.graph();
        graph.cycle += 1;
        let cycle = graph.cycle;
        let n = graph.nodes.len();
        let mut updates: Vec<Option<Arc<Update>>> = vec![None; n];
        let mut first_error: Option<EngineError> = None;
        let mut changed = Vec::new();
        let mut rows_changed = 0u64;
        for i in 0..n {
            let (before, rest) = graph.nodes.split_at_mut(i);
            let node = &mut rest[0];
            if node.failed.is_some() {
                continue;
            }
            if let Some(cause) = node.parents.iter().find_map(|&p| before[p].failed.clone()) {
                let e = EngineError::TableFailed {
                    table: node.name.to_string(),
                    cause: Box::new(cause),
                };
                node.failed = Some(e.clone());
                node.published = Published::new(Err(e));
                continue;
            }
            let is_source = node.parents.is_empty();
            if !is_source && node.parents.iter().all(|&p| updates[p].is_none()) {
                continue;
            }
            let versions: Vec<_> = node
                .parents
                .iter()
                .filter_map(|&p| before[p].published.version.as_ref().ok().cloned())
                .collect();
            let inputs: Vec<Input<'_>> = node
                .parents
                .iter()
                .zip(versions.iter())
                .map(|(&p, version)| Input {
                    update: updates[p].as_deref(),
                    version,
                })
                .collect();
            // A panicking operator fails its table like an error would; the
            // cycle, and the update-cycle thread, go on.
            let op = &mut node.op;
            let processed = catch_unwind(AssertUnwindSafe(|| op.process(cycle, &inputs)))
                .unwrap_or_else(|payload| {
                    Err(EngineError::Panicked {
                        table: node.name.to_string(),
                        message: panic_text(payload.as_ref()),
                    })
                });
            match processed {
                Ok(update) => {
                    if let Some(u) = update.filter(|u| !u.is_empty()) {
                        rows_changed += u.num_changed() as u64;
                        node.published = Published::new(Ok(node.op.version()));
                        changed.push(node.name.to_string());
                        updates[i] = Some(Arc::new(u));
                    }
                }
                Err(e) => {
                    tracing::warn!(table = %node.name, error = %e, "table failed");
                    node.failed = Some(e.clone());
                    node.published = Published::new(Err(e.clone()));
                    first_error.get_or_insert(e);
                }
            }
        }
        let view = View {
            cycle,
            tables: graph.nodes.iter().map(|n| n.published.clone()).collect(),
        };
        self.set_view(view);
        let calls: Vec<(Listener, Arc<Update>)> = graph
            .nodes
            .iter()
            .zip(updates)
            .filter_map(|(node, u)| u.map(|u| (node, u)))
            .flat_map(|(node, u)| {
                node.listeners
                    .iter()
                    .map(move |(_, l)| (l.clone(), u.clone()))
            })
            .collect();
        drop(graph);
        for (listener, update) in calls {
            listener(&update);
        }
        let report = CycleReport {
            cycle,
            changed,
            duration: started.elapsed(),
            rows_changed,
        };
        let observers = self
            .shared
            .cycle_observers
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        for observe in observers {
            observe(&report);
        }
        match first_error {
            Some(e) => Err(e),
            None => Ok(report),
        }
    }

    /// Calls `observer` with the report of every cycle from now on (also one
    /// that fails a table), after the cycle's listeners. For metrics: it runs
    /// on the cycling thread, so it must be quick.
    pub fn observe_cycles(&self, observer: impl Fn(&CycleReport) + Send + Sync + 'static) {
        self.shared
            .cycle_observers
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(Arc::new(observer));
    }

    /// Starts a background thread running a cycle every configured period.
    pub fn start(&self) -> CycleThread {
        self.start_with_period(self.shared.config.period)
    }

    /// Starts a background thread running a cycle every `period`.
    ///
    /// A writer that finds its table's buffer full asks for a cycle at once
    /// (see `CycleWake`): waiting out the period then would only stall it.
    pub fn start_with_period(&self, period: Duration) -> CycleThread {
        let stop = Arc::new(AtomicBool::new(false));
        let engine = self.clone();
        let flag = stop.clone();
        let wake = self.shared.wake.clone();
        // Named, so `top -H` and profiles show the cycle apart from the ingest threads.
        let thread = std::thread::Builder::new().name("update-cycle".into());
        let handle = thread.spawn(move || {
            wake.attach(std::thread::current());
            let mut next = Instant::now() + period;
            while !flag.load(Ordering::Acquire) {
                let now = Instant::now();
                if now < next && !wake.take_request() {
                    std::thread::park_timeout(next - now);
                    continue;
                }
                next += period;
                if next < now {
                    next = now + period;
                }
                if let Err(e) = engine.run_cycle() {
                    tracing::warn!(error = %e, "cycle reported a failed table");
                }
            }
        });
        let handle = handle.expect("spawn the update-cycle thread");
        CycleThread {
            stop,
            handle: Some(handle),
        }
    }
}

/// The background cycle thread; stops (after finishing its current cycle) when dropped.
#[derive(Debug)]
pub struct CycleThread {
    stop: Arc<AtomicBool>,
    handle: Option<JoinHandle<()>>,
}

impl CycleThread {
    /// Stops the thread and waits for it.
    pub fn stop(mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
        self.stop.store(true, Ordering::Release);
        if let Some(h) = self.handle.take() {
            h.thread().unpark();
            let _ = h.join();
        }
    }
}

impl Drop for CycleThread {
    fn drop(&mut self) {
        self.shutdown();
    }
}

#[cfg(test)]
mod tests {
    use arrow_array::{Int64Array, RecordBatch};
    use arrow_schema::{DataType, Field, Schema};

    use super::*;
    use crate::engine::NodeSpec;
    use crate::ops::Operator;
    use crate::version::VersionRef;

    /// An operator with a bug: it panics on its first update.
    struct PanickingOp {
        version: VersionRef,
    }

    impl Operator for PanickingOp {
        fn process(&mut self, _: u64, _: &[Input<'_>]) -> Result<Option<Update>> {
            panic!("an operator bug");
        }
        fn version(&self) -> VersionRef {
            self.version.clone()
        }
    }

    #[test]
    fn a_panicking_operator_fails_its_table_and_the_cycle_goes_on() {
        let engine = Engine::new();
        let schema = Arc::new(Schema::new(vec![Field::new("N", DataType::Int64, false)]));
        let source = engine.append_table("src", schema.clone()).unwrap();
        let bad = engine
            .add_node(|graph| {
                Ok(NodeSpec {
                    name: "bad".into(),
                    schema: schema.clone(),
                    blink: false,
                    add_only: true,
                    parents: vec![source.id],
                    op: Box::new(PanickingOp {
                        version: graph.nodes[source.id].op.version(),
                    }),
                })
            })
            .unwrap();
        let good = source.last_by(["N"]).unwrap();
        let cycles = engine.start_with_period(Duration::from_millis(5));
        let push = |n: i64| {
            let rows =
                RecordBatch::try_new(schema.clone(), vec![Arc::new(Int64Array::from(vec![n]))])
                    .unwrap();
            source.writer().unwrap().push(rows).unwrap();
        };
        push(1);
        let deadline = Instant::now() + Duration::from_secs(10);
        while good.num_rows().unwrap() < 1 {
            assert!(Instant::now() < deadline);
            std::thread::sleep(Duration::from_millis(5));
        }
        let error = bad.num_rows().unwrap_err().to_string();
        assert_eq!(error, "computing `bad` panicked: an operator bug");
        // The cycle thread lived on: later rows still arrive.
        push(2);
        while good.num_rows().unwrap() < 2 {
            assert!(Instant::now() < deadline, "the cycle thread stopped");
            std::thread::sleep(Duration::from_millis(5));
        }
        drop(cycles);
    }
}
