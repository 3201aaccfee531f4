//! A pipeline as data: broker properties, source tables and derived tables.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use crate::ingest::ConsumeSpec;

/// One operator that makes a derived table from others.
#[derive(Debug, Clone, PartialEq)]
pub enum Operation {
    /// `last_by = ["Symbol"]`.
    LastBy(Vec<String>),
    /// `first_by = ["Symbol"]`.
    FirstBy(Vec<String>),
    /// `natural_join = { right = "lastPrice", on = ["Symbol"], columns = ["LastPrice = Price"] }`.
    NaturalJoin {
        /// The right table.
        right: String,
        /// The join keys (`"K"` or `"Left = Right"`).
        on: Vec<String>,
        /// The right columns to add (`"LastPrice = Price"`).
        columns: Vec<String>,
    },
    /// `agg_by = { keys = ["Symbol"], aggs = ["Sum(Shares = Qty)", "WSum(Qty, Notional = LastPrice)"] }`.
    AggBy {
        /// Group keys (may be empty: one row).
        keys: Vec<String>,
        /// Aggregations.
        aggs: Vec<Aggregation>,
    },
    /// `where = "Price > 100 AND Symbol IN ('AAPL', 'TSLA')"` (or a list, all must hold).
    Where(Vec<String>),
    /// `update = ["X = i", "Notional = Qty * Price"]`: adds or replaces columns.
    Update(Vec<String>),
    /// `select = ["Symbol", "Notional = Qty * Price"]`: only these columns.
    Select(Vec<String>),
    /// `view = ["Symbol", "P = Price"]`.
    View(Vec<String>),
}

/// One aggregation of `agg_by`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Aggregation {
    /// `Sum`, `WSum`, `Count`, `Min`, `Max`, `Avg`, `First` or `Last`.
    pub kind: String,
    /// The weight column, for `WSum`.
    pub weight: Option<String>,
    /// `"Out = In"` (or `"Out"` for `Count`).
    pub pair: String,
}

/// A derived table.
#[derive(Debug, Clone, PartialEq)]
pub struct DerivedTable {
    /// Its name.
    pub name: String,
    /// The table it is made from.
    pub from: String,
    /// How.
    pub operation: Operation,
}

/// A `time_table` source: a Timestamp and a RowNumber column, one row per period.
#[derive(Debug, Clone, PartialEq)]
pub struct TimeTableSource {
    /// Its name.
    pub name: String,
    /// The tick period.
    pub period: Duration,
    /// Append or blink.
    pub table_type: topictable_engine::TableType,
}

/// What a `[[sink]]` writes to.
#[derive(Debug, Clone, PartialEq)]
pub enum SinkTarget {
    /// The built-in Kafka publisher.
    Kafka(crate::publish::PublishSpec),
    /// A sink plugin by name, with its config.
    Plugin {
        /// The sink's name (`topictable plugins list`).
        sink: String,
        /// Its config, validated against the plugin's description.
        config: serde_json::Value,
    },
}

/// A `[[sink]]`: a table's updates going somewhere.
#[derive(Debug, Clone, PartialEq)]
pub struct SinkDecl {
    /// Its name.
    pub name: String,
    /// The table it reads.
    pub from: String,
    /// Publish only the latest row per these key columns (Deephaven's `lastBy(true)` in `produceFromTable`).
    pub last_by: Option<Vec<String>>,
    /// Where it writes.
    pub target: SinkTarget,
    /// How it runs.
    pub options: crate::publish::SinkOptions,
}

/// A whole pipeline file.
#[derive(Debug, Clone, PartialEq)]
pub struct Pipeline {
    /// Where it was read from.
    pub file: PathBuf,
    /// Broker properties shared by every table (`[kafka]`).
    pub kafka: BTreeMap<String, String>,
    /// The update cycle period (`[engine] cycle = "100ms"`).
    pub cycle: Duration,
    /// Kafka source tables, by name in file order.
    pub sources: Vec<(String, ConsumeSpec)>,
    /// Time table sources.
    pub time_tables: Vec<TimeTableSource>,
    /// Derived tables, in file order (each may only use tables declared before it).
    pub derived: Vec<DerivedTable>,
    /// Sinks.
    pub sinks: Vec<SinkDecl>,
}

impl Pipeline {
    /// Every table name, sources first.
    pub fn table_names(&self) -> Vec<String> {
        self.sources
            .iter()
            .map(|(n, _)| n.clone())
            .chain(self.time_tables.iter().map(|t| t.name.clone()))
            .chain(self.derived.iter().map(|d| d.name.clone()))
            .collect()
    }

    /// Points every Kafka client of the pipeline at `servers`: the source
    /// tables (and their dead-letter producers) and the Kafka sinks, as
    /// `run -b` promises.
    pub fn set_bootstrap_servers(&mut self, servers: &str) {
        let key = "bootstrap.servers".to_string();
        self.kafka.insert(key.clone(), servers.to_string());
        for (_, spec) in &mut self.sources {
            spec.properties.insert(key.clone(), servers.to_string());
        }
        for sink in &mut self.sinks {
            if let SinkTarget::Kafka(spec) = &mut sink.target {
                spec.properties.insert(key.clone(), servers.to_string());
            }
        }
    }
}
