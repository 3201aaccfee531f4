//! Turns a parsed pipeline into live tables: Kafka sources through
//! `consume_to_table`, time tables, and derived tables through the engine's
//! operators. `validate` builds the same tables without connecting.

use std::collections::BTreeMap;

use topictable_engine::{Engine, Table};

use super::PipelineError;
use super::model::{Aggregation, DerivedTable, Operation, Pipeline, SinkDecl, SinkTarget};
use crate::ingest::{ConsumedTable, IngestError, consume_to_table, plan_source};
use crate::plugin_loader::PluginRegistry;
use crate::publish::{KafkaPublisher, PluginTableSink, RunningSink, TableSink, start_sink};

/// A pipeline running on an engine.
pub struct RunningPipeline {
    /// Every table by name.
    pub tables: BTreeMap<String, Table>,
    /// The Kafka sources and their consumers, in file order.
    pub sources: Vec<(String, ConsumedTable)>,
    /// The sinks, in file order.
    pub sinks: Vec<RunningSink>,
}

impl RunningPipeline {
    /// Stops every consumer (commits in group mode), in file order.
    pub fn stop(&mut self) {
        for (_, source) in &mut self.sources {
            source.stop();
        }
    }

    /// Lets every sink write what is queued, then closes them.
    pub fn stop_sinks(&mut self) {
        for sink in &mut self.sinks {
            sink.stop();
        }
    }
}

fn sink_error(p: &Pipeline, sink: &str, message: String) -> PipelineError {
    PipelineError {
        file: p.file.clone(),
        table: Some(sink.to_string()),
        key: None,
        message,
    }
}

/// The table a sink reads (its `last_by` applied) and the sink itself.
fn make_sink(
    p: &Pipeline,
    s: &SinkDecl,
    plugins: &PluginRegistry,
    tables: &BTreeMap<String, Table>,
) -> Result<(Table, Box<dyn TableSink>), PipelineError> {
    let mut table = tables[&s.from].clone();
    if let Some(keys) = &s.last_by {
        table = table
            .last_by(keys)
            .map_err(|e| engine_error(p, &s.name, e))?;
    }
    let schema = table.schema();
    let sink: Box<dyn TableSink> = match &s.target {
        SinkTarget::Kafka(spec) => Box::new(
            KafkaPublisher::new(spec, plugins, &schema, table.is_blink())
                .map_err(|e| sink_error(p, &s.name, e))?,
        ),
        SinkTarget::Plugin { sink, config } => Box::new(PluginTableSink::new(
            plugins
                .new_sink(sink, config, schema)
                .map_err(|e| sink_error(p, &s.name, e.to_string()))?,
        )),
    };
    Ok((table, sink))
}

fn ingest_error(p: &Pipeline, table: &str, e: IngestError) -> PipelineError {
    let (key, message) = match &e {
        IngestError::Codec { side, source, .. } => {
            (Some(side.as_str().to_string()), source.to_string())
        }
        IngestError::Config { message, .. } | IngestError::Refused { message, .. } => {
            (None, message.clone())
        }
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
        Operation::Update(formulas) => from.update(formulas),
        Operation::Select(formulas) => from.select(formulas),
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
    for s in &p.sinks {
        // Builds the encoders (checking columns and configs); connects nothing yet.
        if let SinkTarget::Plugin { .. } = s.target {
            make_sink(p, s, plugins, &tables)?;
        } else {
            let mut table = tables[&s.from].clone();
            if let Some(keys) = &s.last_by {
                table = table
                    .last_by(keys)
                    .map_err(|e| engine_error(p, &s.name, e))?;
            }
            if let SinkTarget::Kafka(spec) = &s.target {
                for (side, vs) in [
                    (topictable_sdk::Side::Key, &spec.key),
                    (topictable_sdk::Side::Value, &spec.value),
                ] {
                    if let crate::ingest::KeyOrValueSpec::Codec { format, config } = vs {
                        let config =
                            crate::publish::encoder_config(plugins, format, config, &spec.topic);
                        plugins
                            .new_encoder(format, &config, side, table.schema())
                            .map_err(|e| sink_error(p, &s.name, format!("{side} spec: {e}")))?;
                    }
                }
            }
        }
    }
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
    let mut sinks = Vec::new();
    for s in &p.sinks {
        let (table, sink) = make_sink(p, s, plugins, &tables)?;
        sinks.push(
            start_sink(&s.name, engine, &table, sink, s.options.clone())
                .map_err(|e| sink_error(p, &s.name, e))?,
        );
    }
    Ok(RunningPipeline {
        tables,
        sources,
        sinks,
    })
}
