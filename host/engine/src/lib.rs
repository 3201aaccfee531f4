//! Live, incrementally updated Arrow tables, after Deephaven's update graph.
//!
//! An [`Engine`] owns source tables (append, blink or ring) fed through
//! [`Writer`]s, and derived tables built with operators such as
//! [`Table::last_by`], [`Table::natural_join`] and [`Table::agg_by`]. Each
//! update cycle moves buffered rows into the sources, propagates one
//! [`Update`] per changed table in dependency order, publishes every table's
//! new contents at once and then calls listeners. Work per cycle grows with
//! the rows that changed, not with table size. Readers get consistent
//! snapshots of any tables from any thread.
//!
//! This crate never depends on Kafka; ingestion sits on top of it.
//!
//! Nulls in [`Table::agg_by`]: Sum, WSum, Avg, Min and Max skip nulls, so a
//! group whose values are all null gets a null result; Count counts rows,
//! nulls included; First and Last return the first/last row's value, null
//! or not. See [`Table::agg_by`] for NaN, infinities and integer overflow.
//!
//! ```
//! use std::sync::Arc;
//! use arrow_array::{Float64Array, Int32Array, RecordBatch, StringArray};
//! use arrow_schema::{DataType, Field, Schema};
//! use topictable_engine::{Engine, sum, wsum};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let engine = Engine::new();
//! let quotes_schema = Arc::new(Schema::new(vec![
//!     Field::new("Symbol", DataType::Utf8, false),
//!     Field::new("Price", DataType::Float64, false),
//! ]));
//! let orders_schema = Arc::new(Schema::new(vec![
//!     Field::new("Symbol", DataType::Utf8, false),
//!     Field::new("Id", DataType::Utf8, false),
//!     Field::new("Qty", DataType::Int32, false),
//! ]));
//! let quotes = engine.blink_table("quotes", quotes_schema.clone())?;
//! let orders = engine.blink_table("orders", orders_schema.clone())?;
//!
//! let last = quotes.last_by(["Symbol"])?;
//! let joined = orders.last_by(["Id"])?.natural_join(&last, ["Symbol"], ["LastPrice = Price"])?;
//! let total = joined.agg_by([sum("Shares = Qty"), wsum("Qty", "Notional = LastPrice")], ["Symbol"])?;
//!
//! quotes.writer()?.push(RecordBatch::try_new(quotes_schema, vec![
//!     Arc::new(StringArray::from(vec!["AAPL"])),
//!     Arc::new(Float64Array::from(vec![133.0])),
//! ])?)?;
//! orders.writer()?.push(RecordBatch::try_new(orders_schema, vec![
//!     Arc::new(StringArray::from(vec!["AAPL", "AAPL"])),
//!     Arc::new(StringArray::from(vec!["o1", "o2"])),
//!     Arc::new(Int32Array::from(vec![7, 2])),
//! ])?)?;
//! engine.run_cycle()?;
//!
//! let snapshot = total.snapshot()?;
//! assert_eq!(snapshot.num_rows(), 1);
//! let notional = snapshot.column_by_name("Notional").unwrap();
//! let notional = notional.as_any().downcast_ref::<Float64Array>().unwrap();
//! assert_eq!(notional.value(0), 9.0 * 133.0);
//! # Ok(())
//! # }
//! ```
#![deny(missing_docs)]
#![forbid(unsafe_code)]

mod cycle;
mod engine;
mod error;
mod expr;
mod keys;
mod ops;
mod report;
mod rowlog;
pub mod sql;
mod table;
mod time_table;
mod update;
mod version;
mod wake;
mod writer;

pub use cycle::CycleThread;
pub use engine::{Engine, EngineConfig, KeyedSnapshot, PinnedTable, PinnedTables, Snapshot};
pub use error::{EngineError, Result};
pub use ops::agg_by::{AggKind, Aggregation, avg, count, first, last, max, min, sum, wsum};
pub use report::CycleReport;
pub use table::TableType;
pub use table::handle::{Subscription, Table};
pub use time_table::{ROW_NUMBER_COLUMN, TIMESTAMP_COLUMN};
pub use update::{RowKey, RowKeys, Update};
pub use writer::{RowFilter, Writer};
