//! The pipelines a long-lived host runs, by name: what `topictable serve`
//! creates, replaces, pauses, restarts and deletes over its REST API (as
//! Kafka Connect's worker does with connectors), and what `run` and `demo`
//! show for their one pipeline.
//!
//! Each pipeline has an engine of its own, so one's cycle period, failures
//! and stop never touch another's. Table names are unique across the
//! pipelines of a worker, so `/api/v1/tables/{name}` names one table.

mod hosted;
mod state_dir;
pub mod status;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError, RwLock};

pub use hosted::{CycleHook, HostedPipeline};
pub use state_dir::StateDir;

use crate::pipeline::{self, Pipeline, PipelineError};
use crate::plugin_loader::PluginRegistry;

/// Why a request to the worker was refused.
#[derive(Debug, thiserror::Error)]
pub enum WorkerError {
    /// No pipeline by that name.
    #[error("no pipeline `{name}` (pipelines: {known})")]
    NotFound {
        /// The name asked for.
        name: String,
        /// The names there are, comma-separated.
        known: String,
    },
    /// The definition is wrong; the message names file, table and key.
    #[error("{0}")]
    Invalid(#[from] PipelineError),
    /// The request is well-formed but clashes with what runs.
    #[error("{0}")]
    Conflict(String),
    /// A pipeline name that cannot be a file name.
    #[error(
        "`{0}` is not a pipeline name: use 1 to 100 letters, digits, `_`, `-` or `.`, not starting with `.`"
    )]
    BadName(String),
    /// The state directory could not be written.
    #[error("cannot store the pipeline in the state directory: {0}")]
    State(std::io::Error),
}

/// The named pipelines of one host.
pub struct Worker {
    plugins: Arc<PluginRegistry>,
    state: Option<StateDir>,
    bootstrap: Option<String>,
    /// Whether pipelines may be created, replaced and deleted (`serve`), or
    /// the worker holds the one pipeline of `run` or `demo`.
    managed: bool,
    on_cycle: Option<CycleHook>,
    pipelines: RwLock<BTreeMap<String, Arc<HostedPipeline>>>,
    /// Held while a pipeline is created, replaced or deleted, so two such
    /// requests cannot interleave.
    changes: Mutex<()>,
}

/// Whether `name` can name a pipeline (and its file in the state directory).
pub fn valid_name(name: &str) -> bool {
    (1..=100).contains(&name.len())
        && !name.starts_with('.')
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
}

impl Worker {
    /// An empty worker for `serve`: pipelines come from the API (and from
    /// `state`, see [`Worker::restore`]). `bootstrap` overrides every
    /// pipeline's `bootstrap.servers`; `on_cycle` sees every cycle.
    pub fn new(
        plugins: Arc<PluginRegistry>,
        state: Option<StateDir>,
        bootstrap: Option<String>,
        on_cycle: Option<CycleHook>,
    ) -> Worker {
        Worker {
            plugins,
            state,
            bootstrap,
            managed: true,
            on_cycle,
            pipelines: RwLock::default(),
            changes: Mutex::default(),
        }
    }

    /// A worker holding the one pipeline of `run` or `demo`: it can be
    /// paused, resumed and restarted over the API, not replaced or deleted.
    pub fn single(plugins: Arc<PluginRegistry>, pipeline: HostedPipeline) -> Worker {
        let mut worker = Worker::new(plugins, None, None, None);
        worker.managed = false;
        worker
            .pipelines
            .get_mut()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(pipeline.name().to_string(), Arc::new(pipeline));
        worker
    }

    /// The plugins pipelines are built with.
    pub fn plugins(&self) -> &PluginRegistry {
        &self.plugins
    }

    /// The hook each new pipeline's engine calls after every cycle.
    pub fn cycle_hook(&self) -> Option<CycleHook> {
        self.on_cycle.clone()
    }

    /// Every pipeline, by name.
    pub fn pipelines(&self) -> BTreeMap<String, Arc<HostedPipeline>> {
        self.pipelines
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// One pipeline.
    pub fn get(&self, name: &str) -> Result<Arc<HostedPipeline>, WorkerError> {
        let pipelines = self
            .pipelines
            .read()
            .unwrap_or_else(PoisonError::into_inner);
        pipelines
            .get(name)
            .cloned()
            .ok_or_else(|| WorkerError::NotFound {
                name: name.to_string(),
                known: pipelines.keys().cloned().collect::<Vec<_>>().join(", "),
            })
    }

    /// Every table of every pipeline: `(pipeline, table name, table)`.
    pub fn tables(&self) -> Vec<(Arc<HostedPipeline>, String, topictable_engine::Table)> {
        self.pipelines()
            .into_values()
            .flat_map(|p| {
                p.tables()
                    .iter()
                    .map(|(n, t)| (p.clone(), n.clone(), t.clone()))
                    .collect::<Vec<_>>()
            })
            .collect()
    }

    /// The file a definition is read as: its place in the state directory
    /// (so `${file:…}` paths are relative to it), or just `NAME.toml`.
    fn file_of(&self, name: &str) -> PathBuf {
        match &self.state {
            Some(state) => state.path_of(name),
            None => Path::new(&format!("{name}.toml")).to_path_buf(),
        }
    }

    /// Parses and checks a definition without starting it.
    pub fn check(&self, name: &str, text: &str) -> Result<Pipeline, WorkerError> {
        if !valid_name(name) {
            return Err(WorkerError::BadName(name.to_string()));
        }
        let file = self.file_of(name);
        let mut p = pipeline::parse(&file, text)?;
        if p.table_names().is_empty() {
            return Err(WorkerError::Invalid(PipelineError {
                file,
                table: None,
                key: None,
                message: "declares no table: give at least one [[table]] or [[time_table]]".into(),
            }));
        }
        if let Some(b) = &self.bootstrap {
            p.set_bootstrap_servers(b);
        }
        pipeline::validate(&p, &self.plugins)?;
        Ok(p)
    }

    fn refuse_unmanaged(&self) -> Result<(), WorkerError> {
        match self.managed {
            true => Ok(()),
            false => Err(WorkerError::Conflict(
                "this host runs the one pipeline given on its command line; use `topictable serve` to create, replace or delete pipelines over the API".into(),
            )),
        }
    }

    /// Refuses a pipeline whose tables share a name with another pipeline's.
    fn check_table_names(&self, name: &str, p: &Pipeline) -> Result<(), WorkerError> {
        for (other, hosted) in self.pipelines() {
            if other == name {
                continue;
            }
            if let Some(t) = p
                .table_names()
                .into_iter()
                .find(|t| hosted.tables().contains_key(t))
            {
                return Err(WorkerError::Conflict(format!(
                    "table `{t}` is already a table of pipeline `{other}`; table names are unique across pipelines"
                )));
            }
        }
        Ok(())
    }

    fn start(&self, name: &str, text: &str, p: Pipeline) -> Result<HostedPipeline, WorkerError> {
        Ok(HostedPipeline::start(
            name,
            text.to_string(),
            p,
            &self.plugins,
            self.on_cycle.clone(),
        )?)
    }

    /// Checks, starts and (with a state directory) stores a new pipeline.
    pub fn create(&self, name: &str, text: &str) -> Result<Arc<HostedPipeline>, WorkerError> {
        self.refuse_unmanaged()?;
        let _changing = self.changes.lock().unwrap_or_else(PoisonError::into_inner);
        if self.get(name).is_ok() {
            return Err(WorkerError::Conflict(format!(
                "pipeline `{name}` already exists; PUT /api/v1/pipelines/{name} replaces it"
            )));
        }
        let p = self.check(name, text)?;
        self.check_table_names(name, &p)?;
        let hosted = Arc::new(self.start(name, text, p)?);
        if let Some(state) = &self.state
            && let Err(e) = state.save(name, text)
        {
            hosted.stop();
            return Err(WorkerError::State(e));
        }
        self.insert(hosted.clone());
        Ok(hosted)
    }

    /// Replaces pipeline `name` (creating it if absent): the new definition
    /// is checked first, and only when it is good is the old one stopped and
    /// the new one started. If the new one then fails to start, the old one
    /// is started again.
    pub fn replace(&self, name: &str, text: &str) -> Result<Arc<HostedPipeline>, WorkerError> {
        self.refuse_unmanaged()?;
        let _changing = self.changes.lock().unwrap_or_else(PoisonError::into_inner);
        let p = self.check(name, text)?;
        self.check_table_names(name, &p)?;
        let old = self.get(name).ok();
        if let Some(old) = &old {
            old.stop();
        }
        match self.start(name, text, p) {
            Ok(hosted) => {
                let hosted = Arc::new(hosted);
                if let Some(state) = &self.state {
                    state.save(name, text).map_err(WorkerError::State)?;
                }
                self.insert(hosted.clone());
                Ok(hosted)
            }
            Err(e) => {
                if let Some(old) = old {
                    let again = HostedPipeline::start(
                        name,
                        old.text(),
                        (*old.pipeline()).clone(),
                        &self.plugins,
                        self.on_cycle.clone(),
                    );
                    match again {
                        Ok(again) => self.insert(Arc::new(again)),
                        Err(e) => {
                            tracing::error!(
                                pipeline = name,
                                "the old definition did not start again: {e}"
                            );
                            self.remove(name);
                        }
                    }
                }
                Err(e)
            }
        }
    }

    /// Starts the failed tables of pipeline `name` again from the records
    /// they failed on, keeping their rows; with `corrected` (a pipeline
    /// file), with the failed tables' definitions from it, which is then
    /// stored as the pipeline's (see [`HostedPipeline::restart_failed`]).
    pub fn restart(&self, name: &str, corrected: Option<&str>) -> Result<Vec<String>, WorkerError> {
        let _changing = self.changes.lock().unwrap_or_else(PoisonError::into_inner);
        let hosted = self.get(name)?;
        let corrected = match corrected {
            Some(text) => Some((text.to_string(), self.check(name, text)?)),
            None => None,
        };
        let text = corrected.as_ref().map(|(t, _)| t.clone());
        let restarted = hosted.restart_failed(&self.plugins, corrected)?;
        if let (Some(state), Some(text)) = (&self.state, text)
            && self.managed
        {
            state.save(name, &text).map_err(WorkerError::State)?;
        }
        Ok(restarted)
    }

    /// Stops pipeline `name` and forgets it (committed offsets stay in Kafka).
    pub fn delete(&self, name: &str) -> Result<(), WorkerError> {
        self.refuse_unmanaged()?;
        let _changing = self.changes.lock().unwrap_or_else(PoisonError::into_inner);
        let hosted = self.get(name)?;
        if let Some(state) = &self.state {
            state.remove(name).map_err(WorkerError::State)?;
        }
        self.remove(name);
        hosted.stop();
        Ok(())
    }

    /// Starts every pipeline stored in the state directory; returns the
    /// ones that could not start, with why (they stay stored).
    pub fn restore(&self) -> Vec<(String, WorkerError)> {
        let Some(state) = &self.state else {
            return Vec::new();
        };
        let stored = match state.load_all() {
            Ok(s) => s,
            Err(e) => return vec![(String::new(), WorkerError::State(e))],
        };
        let mut failed = Vec::new();
        for (name, text) in stored {
            let started = self
                .check(&name, &text)
                .and_then(|p| self.check_table_names(&name, &p).map(|()| p))
                .and_then(|p| self.start(&name, &text, p));
            match started {
                Ok(hosted) => self.insert(Arc::new(hosted)),
                Err(e) => failed.push((name, e)),
            }
        }
        failed
    }

    /// Stops every pipeline (on shutdown).
    pub fn stop_all(&self) {
        for hosted in self.pipelines().into_values() {
            hosted.stop();
        }
    }

    fn insert(&self, hosted: Arc<HostedPipeline>) {
        self.pipelines
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(hosted.name().to_string(), hosted);
    }

    fn remove(&self, name: &str) {
        self.pipelines
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(name);
    }
}

#[cfg(test)]
mod tests {
    use super::valid_name;

    #[test]
    fn pipeline_names_are_safe_file_names() {
        for good in ["orders", "a", "orders-v2.1", "A_b"] {
            assert!(valid_name(good), "{good}");
        }
        for bad in ["", ".hidden", "a/b", "../x", "a b", &"x".repeat(101), "ü"] {
            assert!(!valid_name(bad), "{bad}");
        }
    }
}
