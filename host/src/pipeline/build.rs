//! Turns a parsed pipeline into live tables: Kafka sources through
//! `consume_to_table`, time tables, and derived tables through the engine's
//! operators. `validate` builds the same tables without connecting.

use std::collections::BTreeMap;

use topictable_engine::{Engine, Table};

use super::PipelineError;
use super::model::{Aggregation, DerivedTable, Operation, Pipeline};
use crate::ingest::{ConsumedTable, IngestError, consume_to_table, plan_source};
use crate::plugin_loader::PluginRegistry;

/// A pipeline running on an engine.
pub struct RunningPipeline {
    /// Every table by name.
    pub tables: BTreeMap<String, Table>,
    /// The Kafka sources and their consumers, in file order.
    pub sources: Vec<(String, ConsumedTable)>,
}

impl RunningPipeline {
    /// Stops every consumer (commits in group mode), in file order.
    pub fn stop(&mut self) {
        for (_, source) in &mut self.sources {
            source.stop();
        }
    }
}

fn ingest_error(p: &Pipeline, table: &str, e: IngestError) -> PipelineError {
    let (key, message) = match &e {
        IngestError::Codec { side, source, .. } => {
            (Some(side.as_str().to_string()), source.to_string())
        }
        IngestError::Config { message, .. } => (None, message.clone()),
        IngestError::Kafka { source, .. } => (None, format!("kafka: {source}")),
        IngestError::Engine { source, .. } => (None, source.to_string()),
    };
    PipelineError {
        file: p.file.clone(),
        table: Some(table.to_string()),
        key,
        message,
    }
}

fn engine_error(p: &Pipeline, table: &str, e: topictable_engine::EngineError) -> PipelineError {
    PipelineError {
        file: p.file.clone(),
        table: Some(table.to_string()),
        key: None,
        message: e.to_string(),
    }
}

fn aggregation(a: &Aggregation) -> topictable_engine::Aggregation {
    use topictable_engine as e;
    match a.kind.as_str() {
        "Sum" => e::sum(&a.pair),
        "WSum" => e::wsum(a.weight.as_deref().unwrap_or_default(), &a.pair),
        "Count" => e::count(&a.pair),
        "Min" => e::min(&a.pair),
        "Max" => e::max(&a.pair),
        "Avg" => e::avg(&a.pair),
        "First" => e::first(&a.pair),
        _ => e::last(&a.pair),
    }
}

/// Builds one derived table from the tables made so far.
fn derive(
    p: &Pipeline,
    d: &DerivedTable,
    tables: &BTreeMap<String, Table>,
) -> Result<Table, PipelineError> {
    let from = &tables[&d.from];
    let made = match &d.operation {
        Operation::LastBy(keys) => from.last_by(keys),
        Operation::FirstBy(keys) => from.first_by(keys),
        Operation::NaturalJoin { right, on, columns } => {
            from.natural_join(&tables[right], on, columns)
        }
        Operation::AggBy { keys, aggs } => from.agg_by(aggs.iter().map(aggregation), keys),
        Operation::Where(filters) => from.where_(filters),
        Operation::View(columns) => from.view(columns),
    };
    made.map_err(|e| engine_error(p, &d.name, e))
}

fn add_time_tables_and_derived(
    p: &Pipeline,
    engine: &Engine,
    tables: &mut BTreeMap<String, Table>,
) -> Result<(), PipelineError> {
    for t in &p.time_tables {
        let table = engine
            .time_table(&t.name, t.period, t.table_type)
            .map_err(|e| engine_error(p, &t.name, e))?;
        tables.insert(t.name.clone(), table);
    }
    for d in &p.derived {
        let table = derive(p, d, tables)?;
        tables.insert(d.name.clone(), table);
    }
    Ok(())
}

/// Checks everything that can be checked without a broker: codec configs
/// (against each plugin's description), column names, and every operator.
pub fn validate(
    p: &Pipeline,
    plugins: &PluginRegistry,
) -> Result<BTreeMap<String, Table>, PipelineError> {
    let engine = Engine::new();
    let mut tables = BTreeMap::new();
    for (name, spec) in &p.sources {
        let plan = plan_source(name, plugins, spec).map_err(|e| ingest_error(p, name, e))?;
        let table = engine
            .source_table(name, plan.schema, spec.table_type)
            .map_err(|e| engine_error(p, name, e))?;
        tables.insert(name.clone(), table);
    }
    add_time_tables_and_derived(p, &engine, &mut tables)?;
    Ok(tables)
}

/// Starts every table of `p` on `engine`.
pub fn start(
    p: &Pipeline,
    plugins: &PluginRegistry,
    engine: &Engine,
) -> Result<RunningPipeline, PipelineError> {
    validate(p, plugins)?;
    let mut tables = BTreeMap::new();
    let mut sources = Vec::new();
    for (name, spec) in &p.sources {
        let consumed = consume_to_table(engine, name, plugins, spec.clone())
            .map_err(|e| ingest_error(p, name, e))?;
        tables.insert(name.clone(), consumed.table().clone());
        sources.push((name.clone(), consumed));
    }
    add_time_tables_and_derived(p, engine, &mut tables)?;
    Ok(RunningPipeline { tables, sources })
}
