//! One pipeline running on its own engine, with what the API does to it:
//! status, pause, resume, restart of failed tables, stop.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Instant;

use topictable_engine::{CycleReport, CycleThread, Engine, EngineConfig, Table};

use super::status::{
    ErrorCounts, PartitionStatus, PipelineStatus, SinkStatusReport, State, TableStatus,
};
use crate::ingest::{IngestProbe, IngestStatus};
use crate::pipeline::{self, Pipeline, PipelineError, RunningPipeline};
use crate::plugin_loader::PluginRegistry;
use crate::publish::SinkStatus;

/// Called with every cycle's report of a pipeline (for metrics).
pub type CycleHook = Arc<dyn Fn(&str, &CycleReport) + Send + Sync>;

/// A pipeline running on its own engine and cycle thread.
pub struct HostedPipeline {
    name: String,
    /// The definition as given, and parsed; a restart may correct the
    /// definitions of failed tables.
    definition: Mutex<(String, Arc<Pipeline>)>,
    /// The table names, sources first (they never change).
    table_names: Vec<String>,
    engine: Engine,
    tables: BTreeMap<String, Table>,
    probes: BTreeMap<String, IngestProbe>,
    inner: Mutex<Running>,
}

struct Running {
    running: RunningPipeline,
    cycles: Option<CycleThread>,
    paused: bool,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl HostedPipeline {
    /// Starts `pipeline` (already validated) on a new engine. `text` is its
    /// definition as given, kept to show and store.
    pub fn start(
        name: &str,
        text: String,
        pipeline: Pipeline,
        plugins: &PluginRegistry,
        on_cycle: Option<CycleHook>,
    ) -> Result<HostedPipeline, PipelineError> {
        let engine = Engine::with_config(EngineConfig {
            period: pipeline.cycle,
            ..EngineConfig::default()
        });
        if let Some(hook) = on_cycle {
            let name = name.to_string();
            engine.observe_cycles(move |report| hook(&name, report));
        }
        let running = pipeline::start(&pipeline, plugins, &engine)?;
        let cycles = engine.start();
        Ok(HostedPipeline {
            name: name.to_string(),
            table_names: pipeline.table_names(),
            tables: running.tables.clone(),
            probes: running
                .sources
                .iter()
                .map(|(n, s)| (n.clone(), s.probe()))
                .collect(),
            definition: Mutex::new((text, Arc::new(pipeline))),
            engine,
            inner: Mutex::new(Running {
                running,
                cycles: Some(cycles),
                paused: false,
            }),
        })
    }

    /// Its name.
    pub fn name(&self) -> &str {
        &self.name
    }
    /// Its definition as given (TOML).
    pub fn text(&self) -> String {
        lock(&self.definition).0.clone()
    }
    /// Its parsed definition.
    pub fn pipeline(&self) -> Arc<Pipeline> {
        lock(&self.definition).1.clone()
    }
    /// Its table names, sources first.
    pub fn table_names(&self) -> &[String] {
        &self.table_names
    }
    /// Its engine.
    pub fn engine(&self) -> &Engine {
        &self.engine
    }
    /// Every table by name (sources, time tables, derived tables).
    pub fn tables(&self) -> &BTreeMap<String, Table> {
        &self.tables
    }
    /// The Kafka tables' consumers, by table name.
    pub fn sources(&self) -> &BTreeMap<String, IngestProbe> {
        &self.probes
    }
    /// Whether it was paused over the API.
    pub fn is_paused(&self) -> bool {
        lock(&self.inner).paused
    }

    /// Calls `f` with the running pipeline (its consumers and sinks).
    pub fn with_running<R>(&self, f: impl FnOnce(&mut RunningPipeline) -> R) -> R {
        f(&mut lock(&self.inner).running)
    }

    /// Pauses every Kafka table: fetching stops, positions are kept.
    pub fn pause(&self) {
        let mut inner = lock(&self.inner);
        inner.paused = true;
        for (_, source) in &inner.running.sources {
            source.pause();
        }
    }

    /// Resumes every Kafka table from its position.
    pub fn resume(&self) {
        let mut inner = lock(&self.inner);
        inner.paused = false;
        for (_, source) in &inner.running.sources {
            source.resume();
        }
    }

    /// Starts every failed Kafka table again from the record it failed on,
    /// into the same table (see [`crate::ingest::ConsumedTable::restart`]);
    /// returns the tables restarted.
    ///
    /// With `corrected` (its text and parsed form), the failed tables restart
    /// with their definitions from it (say with `on_error = "skip"`, or a
    /// fixed codec config), and it becomes the pipeline's definition. It may
    /// change nothing but the failed tables, and those only so that their
    /// columns stay the same; anything else is a replacement (PUT).
    pub fn restart_failed(
        &self,
        plugins: &PluginRegistry,
        corrected: Option<(String, Pipeline)>,
    ) -> Result<Vec<String>, PipelineError> {
        let mut inner = lock(&self.inner);
        let paused = inner.paused;
        let failed: Vec<String> = inner
            .running
            .sources
            .iter()
            .filter(|(_, s)| matches!(s.status(), IngestStatus::Failed(_)))
            .map(|(n, _)| n.clone())
            .collect();
        let current = self.pipeline();
        let pipeline = match &corrected {
            Some((_, new)) => {
                self.check_correction(&current, new, &failed, plugins)?;
                new
            }
            None => &*current,
        };
        let error = |table: &str, message: String| PipelineError {
            file: pipeline.file.clone(),
            table: Some(table.to_string()),
            key: None,
            message,
        };
        let mut restarted = Vec::new();
        for (name, source) in &mut inner.running.sources {
            if !failed.contains(name) {
                continue;
            }
            let spec = pipeline
                .sources
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, s)| s.clone())
                .ok_or_else(|| error(name, "not in the corrected definition".into()))?;
            source
                .restart(plugins, spec)
                .map_err(|e| error(name, e.to_string()))?;
            if paused {
                source.pause();
            }
            restarted.push(name.clone());
        }
        if let Some((text, new)) = corrected {
            *lock(&self.definition) = (text, Arc::new(new));
        }
        Ok(restarted)
    }

    /// Refuses a correction that changes more than the failed tables'
    /// definitions, or changes their columns.
    fn check_correction(
        &self,
        current: &Pipeline,
        new: &Pipeline,
        failed: &[String],
        plugins: &PluginRegistry,
    ) -> Result<(), PipelineError> {
        let refuse = |table: Option<&str>, what: &str| PipelineError {
            file: new.file.clone(),
            table: table.map(str::to_string),
            key: None,
            message: format!(
                "a restart may only correct the failed tables ({}); {what}: replace the pipeline (PUT) instead",
                failed.join(", ")
            ),
        };
        if new.table_names() != current.table_names()
            || new.time_tables != current.time_tables
            || new.derived != current.derived
            || new.sinks != current.sinks
        {
            return Err(refuse(None, "it changes other tables or sinks"));
        }
        for ((name, old), (_, spec)) in current.sources.iter().zip(&new.sources) {
            if old == spec {
                continue;
            }
            if !failed.contains(name) {
                return Err(refuse(Some(name), "it changes a table that runs"));
            }
            let plan =
                crate::ingest::plan_source(name, plugins, spec).map_err(|e| PipelineError {
                    file: new.file.clone(),
                    table: Some(name.clone()),
                    key: None,
                    message: e.to_string(),
                })?;
            if plan.schema != self.tables[name].schema() {
                return Err(refuse(Some(name), "it changes the table's columns"));
            }
        }
        Ok(())
    }

    /// Stops it for good: consumers commit what is visible, one last cycle
    /// runs, sinks write what is queued.
    pub fn stop(&self) {
        let mut inner = lock(&self.inner);
        inner.running.stop();
        if let Some(cycles) = inner.cycles.take() {
            cycles.stop();
            if let Err(e) = self.engine.run_cycle() {
                tracing::warn!(pipeline = %self.name, "final cycle: {e}");
            }
        }
        inner.running.stop_sinks();
    }

    /// Per table and per sink: state, rows, rate, errors and positions.
    pub fn status(&self) -> PipelineStatus {
        let now = Instant::now();
        let mut tables = Vec::new();
        let pipeline = self.pipeline();
        for name in &self.table_names {
            let name = name.clone();
            let table = &self.tables[&name];
            let (rows, table_error) = match table.num_rows() {
                Ok(n) => (Some(n), None),
                Err(e) => (None, Some(e.to_string())),
            };
            let status = match self.probes.get(&name) {
                Some(probe) => kafka_table_status(&name, probe, rows, table_error, now),
                None => TableStatus {
                    kind: if pipeline.time_tables.iter().any(|t| t.name == name) {
                        "time".into()
                    } else {
                        "derived".into()
                    },
                    name,
                    state: if table_error.is_some() {
                        State::Failed
                    } else {
                        State::Running
                    },
                    error: table_error,
                    rows,
                    rows_per_sec: None,
                    messages: None,
                    errors: None,
                    partitions: Vec::new(),
                },
            };
            tables.push(status);
        }
        let sinks: Vec<SinkStatusReport> = self.with_running(|r| {
            r.sinks
                .iter()
                .map(|s| {
                    let (state, error) = match s.status() {
                        SinkStatus::Running => (State::Running, None),
                        SinkStatus::Lagging => (State::Lagging, None),
                        SinkStatus::Retrying { error, .. } => (State::Retrying, Some(error)),
                        SinkStatus::Failed(e) => (State::Failed, Some(e)),
                        SinkStatus::Stopped => (State::Stopped, None),
                    };
                    let c = s.counts();
                    SinkStatusReport {
                        name: s.name().to_string(),
                        state,
                        error,
                        rows_delivered: c.rows_delivered,
                        failures: c.failures,
                        queue_depth: c.queue_depth,
                    }
                })
                .collect()
        });
        let failed = tables.iter().any(|t| t.state == State::Failed)
            || sinks.iter().any(|s| s.state == State::Failed);
        let state = if failed {
            State::Failed
        } else if self.is_paused() {
            State::Paused
        } else {
            State::Running
        };
        PipelineStatus {
            name: self.name.clone(),
            state,
            cycle: self.engine.cycle(),
            tables,
            sinks,
        }
    }
}

fn kafka_table_status(
    name: &str,
    probe: &IngestProbe,
    rows: Option<usize>,
    table_error: Option<String>,
    now: Instant,
) -> TableStatus {
    let progress = probe.positions();
    let (state, error) = match probe.status() {
        IngestStatus::Failed(e) => (State::Failed, Some(e)),
        IngestStatus::Stopped => (State::Stopped, None),
        IngestStatus::Paused => (State::Paused, None),
        IngestStatus::WaitingForRegistry(e) => (State::WaitingForRegistry, Some(e)),
        IngestStatus::Running if progress.is_lagging(now) => (State::Lagging, None),
        IngestStatus::Running => (State::Running, None),
    };
    let (state, error) = match table_error {
        Some(e) => (
            State::Failed,
            Some(error.map_or(e.clone(), |c| format!("{c}; {e}"))),
        ),
        None => (state, error),
    };
    let c = probe.error_counts();
    let (messages, _) = probe.progress();
    TableStatus {
        name: name.to_string(),
        kind: "kafka".into(),
        state,
        error,
        rows,
        rows_per_sec: Some(progress.rows_per_sec),
        messages: Some(messages),
        errors: Some(ErrorCounts {
            decode_errors: c.decode_errors,
            skipped: c.skipped,
            dead_lettered: c.dead_lettered,
            by_reason: crate::ingest::ErrorReason::ALL
                .iter()
                .zip(c.by_reason)
                .map(|(r, n)| (r.as_str().to_string(), n))
                .collect(),
        }),
        partitions: progress
            .partitions
            .iter()
            .map(|((topic, partition), p)| PartitionStatus {
                topic: topic.clone(),
                partition: *partition,
                position: p.position,
                high_watermark: p.high_watermark,
                lag: p.lag(),
            })
            .collect(),
    }
}
