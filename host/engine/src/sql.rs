//! SQL over live tables, on DataFusion.
//!
//! [`query`] makes each given table a DataFusion table under its own name
//! and runs one query over them. The tables are pinned first
//! ([`Engine::pin`]): every table of one engine is seen at the same
//! completed cycle, as Deephaven's shared update graph gives, and a source
//! table's rows are its own Arrow chunks, handed over without a copy.
//! Pinning clones pointers under a read lock, so a query never holds up a
//! cycle for longer than that; the query then runs on immutable versions
//! while the engine carries on.
//!
//! Identifiers keep their case (`Symbol`, not `symbol`), as in formulas.
//! Only queries run: `CREATE`, `INSERT`, `SET` and the like are refused.

use std::sync::{Arc, OnceLock};

use arrow_array::RecordBatch;
use arrow_schema::SchemaRef;
use datafusion::catalog::{Session, TableProvider};
use datafusion::common::{DataFusionError, TableReference};
use datafusion::datasource::MemTable;
use datafusion::execution::context::{SQLOptions, SessionConfig, SessionContext};
use datafusion::logical_expr::{Expr, TableType};
use datafusion::physical_plan::ExecutionPlan;

use crate::engine::{Engine, PinnedTable};
use crate::error::EngineError;
use crate::table::handle::Table;

/// A query's answer: its rows, and the cycle each table was read at.
#[derive(Debug, Clone)]
pub struct QueryOutput {
    /// The result's schema (also when there are no rows).
    pub schema: SchemaRef,
    /// The result's rows.
    pub batches: Vec<RecordBatch>,
    /// For each table given to [`query`], in that order, the completed cycle
    /// its rows are from. Tables of one engine share a cycle.
    pub cycles: Vec<u64>,
}

impl QueryOutput {
    /// Number of rows in the result.
    pub fn num_rows(&self) -> usize {
        self.batches.iter().map(RecordBatch::num_rows).sum()
    }
}

/// Where in the query text an error points, counted from 1.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Position {
    /// Line, from 1.
    pub line: u64,
    /// Column within the line, in characters, from 1.
    pub column: u64,
}

/// Why a query gave no answer.
#[derive(Debug, Clone, thiserror::Error)]
pub enum QueryError {
    /// The query does not parse, names a table or column there is not,
    /// does not type check, or is not a query (`CREATE`, `INSERT`, ...).
    #[error("{message}")]
    Invalid {
        /// What is wrong, with its position when known.
        message: String,
        /// Where in the query, when known.
        position: Option<Position>,
    },
    /// A table the query reads has failed (its error says why).
    #[error("table `{table}` has failed: {error}")]
    TableFailed {
        /// The failed table.
        table: String,
        /// Its failure.
        error: Box<EngineError>,
    },
    /// The query failed while running (a division by zero, a cast that
    /// does not fit, ...).
    #[error("the query failed while running: {0}")]
    Execution(String),
}

/// Runs `sql` over `tables`, each registered under the name given with it.
/// Runs on the caller's tokio runtime; [`query_blocking`] is the same for
/// code outside one.
pub async fn query(tables: &[(&str, &Table)], sql: &str) -> Result<QueryOutput, QueryError> {
    let (pinned, cycles) = pin_by_engine(tables)?;
    let ctx = session();
    for (name, table) in pinned {
        let live = LiveTable {
            name: name.to_string(),
            pinned: table,
        };
        ctx.register_table(TableReference::bare(name), Arc::new(live))
            .map_err(|e| QueryError::Invalid {
                message: format!("table `{name}`: {}", crate::expr::plain(&e)),
                position: None,
            })?;
    }
    let options = SQLOptions::new()
        .with_allow_ddl(false)
        .with_allow_dml(false)
        .with_allow_statements(false);
    let frame = ctx
        .sql_with_options(sql, options)
        .await
        .map_err(|e| invalid(&e, tables, sql))?;
    let schema: SchemaRef = Arc::new(frame.schema().as_arrow().clone());
    let batches = frame.collect().await.map_err(|e| failed(&e))?;
    Ok(QueryOutput {
        schema,
        batches,
        cycles,
    })
}

/// [`query`] from code that is not async: runs it on a runtime of the
/// engine's own (one per process, a thread per core), so it must not be
/// called from inside an async task (use `spawn_blocking` there).
pub fn query_blocking(tables: &[(&str, &Table)], sql: &str) -> Result<QueryOutput, QueryError> {
    runtime().block_on(query(tables, sql))
}

/// The runtime [`query_blocking`] runs queries on.
fn runtime() -> &'static tokio::runtime::Runtime {
    static RUNTIME: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .thread_name("sql")
            .enable_all()
            .build()
            .expect("a tokio runtime for SQL queries")
    })
}

/// A session for one query: identifiers keep their case, errors carry
/// their position, and Deephaven's functions (`randomInt`, ...) are there.
fn session() -> SessionContext {
    let config = SessionConfig::new()
        .set_bool("datafusion.sql_parser.enable_ident_normalization", false)
        .set_bool("datafusion.sql_parser.collect_spans", true)
        .with_information_schema(true);
    let ctx = SessionContext::new_with_config(config);
    crate::expr::register_functions(&ctx);
    ctx
}

/// Tables pinned for one query, with their names, and each one's cycle.
type Pinned<'a> = (Vec<(&'a str, PinnedTable)>, Vec<u64>);

/// Pins the tables, one pin per engine so each engine's tables share a
/// cycle.
fn pin_by_engine<'a>(tables: &[(&'a str, &Table)]) -> Result<Pinned<'a>, QueryError> {
    let mut pinned: Vec<Option<PinnedTable>> = vec![None; tables.len()];
    let mut cycles = vec![0; tables.len()];
    for i in 0..tables.len() {
        if pinned[i].is_some() {
            continue;
        }
        let engine: &Engine = tables[i].1.engine();
        let group: Vec<usize> = (i..tables.len())
            .filter(|&j| pinned[j].is_none() && engine.is(tables[j].1.engine()))
            .collect();
        let members: Vec<&Table> = group.iter().map(|&j| tables[j].1).collect();
        let pin = engine.pin(&members).map_err(|e| QueryError::TableFailed {
            table: tables[i].0.to_string(),
            error: Box::new(e),
        })?;
        for (&j, table) in group.iter().zip(pin.tables) {
            pinned[j] = Some(table);
            cycles[j] = pin.cycle;
        }
    }
    let pinned = tables
        .iter()
        .zip(pinned)
        .map(|((name, _), p)| (*name, p.expect("every table is pinned")))
        .collect();
    Ok((pinned, cycles))
}

/// A pinned live table as DataFusion reads it, under its SQL name.
#[derive(Debug)]
struct LiveTable {
    name: String,
    pinned: PinnedTable,
}

#[async_trait::async_trait]
impl TableProvider for LiveTable {
    fn schema(&self) -> SchemaRef {
        self.pinned.schema()
    }

    fn table_type(&self) -> TableType {
        TableType::Base
    }

    async fn scan(
        &self,
        state: &dyn Session,
        projection: Option<&Vec<usize>>,
        filters: &[Expr],
        limit: Option<usize>,
    ) -> datafusion::common::Result<Arc<dyn ExecutionPlan>> {
        let batches = self.pinned.batches().map_err(|error| {
            DataFusionError::External(Box::new(QueryError::TableFailed {
                table: self.name.clone(),
                error: Box::new(error),
            }))
        })?;
        let parts = state.config_options().execution.target_partitions;
        let partitions = partition(batches, parts);
        MemTable::try_new(self.pinned.schema(), partitions)?
            .scan(state, projection, filters, limit)
            .await
    }
}

/// Deals `batches` into at most `parts` partitions of about equal rows, by
/// slicing (no copy), so a query uses every core.
fn partition(batches: Vec<RecordBatch>, parts: usize) -> Vec<Vec<RecordBatch>> {
    let total: usize = batches.iter().map(RecordBatch::num_rows).sum();
    let parts = parts.clamp(1, total.max(1));
    let per_part = total.div_ceil(parts).max(1);
    let mut out: Vec<Vec<RecordBatch>> = vec![Vec::new(); parts];
    let (mut part, mut filled) = (0, 0);
    for batch in batches {
        let mut at = 0;
        while at < batch.num_rows() {
            let n = (per_part - filled).min(batch.num_rows() - at);
            out[part].push(batch.slice(at, n));
            at += n;
            filled += n;
            if filled == per_part && part + 1 < parts {
                part += 1;
                filled = 0;
            }
        }
    }
    out
}

/// A planning error as [`QueryError::Invalid`], with its position and,
/// for an unknown table, the tables there are.
fn invalid(e: &DataFusionError, tables: &[(&str, &Table)], sql: &str) -> QueryError {
    let diagnostic = e.diagnostic();
    let mut message = match diagnostic {
        Some(d) => d.message.clone(),
        None => crate::expr::plain(e),
    };
    let position = diagnostic
        .and_then(|d| d.span)
        .filter(|s| s.start.line > 0)
        .map(|s| Position {
            line: s.start.line,
            column: s.start.column,
        })
        .or_else(|| parser_position(&message))
        .or_else(|| message.ends_with("found: EOF").then(|| end_of(sql)));
    if let Some(d) = diagnostic {
        for help in &d.helps {
            message = format!("{message}; {}", help.message);
        }
    }
    if message.starts_with("table '") && message.ends_with("not found") {
        let names: Vec<&str> = tables.iter().map(|(n, _)| *n).collect();
        message = format!("{message} (tables: {})", names.join(", "));
    }
    if let Some(p) = position
        && parser_position(&message).is_none()
    {
        message = format!("{message} at line {}, column {}", p.line, p.column);
    }
    QueryError::Invalid { message, position }
}

/// The position just past the end of `sql` (where a query that stops
/// too early is missing something).
fn end_of(sql: &str) -> Position {
    let trimmed = sql.trim_end();
    let line = trimmed.lines().count().max(1) as u64;
    let last = trimmed.rsplit('\n').next().unwrap_or("");
    Position {
        line,
        column: last.chars().count() as u64 + 1,
    }
}

/// sqlparser's own "at Line: L, Column: C".
fn parser_position(message: &str) -> Option<Position> {
    let (_, rest) = message.rsplit_once("Line: ")?;
    let (line, rest) = rest.split_once(", Column: ")?;
    let column: String = rest.chars().take_while(char::is_ascii_digit).collect();
    Some(Position {
        line: line.trim().parse().ok()?,
        column: column.parse().ok()?,
    })
}

/// A failure while running: a failed table, or the query's own error.
fn failed(e: &DataFusionError) -> QueryError {
    let root = e.find_root();
    if let DataFusionError::External(inner) = root
        && let Some(q) = inner.downcast_ref::<QueryError>()
    {
        return q.clone();
    }
    QueryError::Execution(crate::expr::plain(e))
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_array::Int64Array;
    use arrow_schema::{DataType, Field, Schema};

    fn batch(values: std::ops::Range<i64>) -> RecordBatch {
        let schema = Arc::new(Schema::new(vec![Field::new("v", DataType::Int64, false)]));
        RecordBatch::try_new(schema, vec![Arc::new(Int64Array::from_iter_values(values))]).unwrap()
    }

    #[test]
    fn partitions_split_rows_evenly_without_losing_any() {
        for (sizes, parts) in [
            (vec![10], 4),
            (vec![3, 3, 3, 3], 2),
            (vec![1, 100, 7], 3),
            (vec![], 2),
            (vec![5], 1),
            (vec![2], 8),
        ] {
            let mut start = 0;
            let batches: Vec<RecordBatch> = sizes
                .iter()
                .map(|&n| {
                    let b = batch(start..start + n);
                    start += n;
                    b
                })
                .collect();
            let out = partition(batches, parts);
            assert!(out.len() <= parts.max(1));
            let values: Vec<i64> = out
                .iter()
                .flatten()
                .flat_map(|b| {
                    let a = b.column(0).as_any().downcast_ref::<Int64Array>().unwrap();
                    a.values().to_vec()
                })
                .collect();
            assert_eq!(values, (0..start).collect::<Vec<_>>(), "{sizes:?} {parts}");
            let rows: Vec<usize> = out
                .iter()
                .map(|p| p.iter().map(RecordBatch::num_rows).sum())
                .collect();
            let (min, max) = (rows.iter().min().unwrap(), rows.iter().max().unwrap());
            assert!(max - min <= (start as usize).div_ceil(parts), "{rows:?}");
        }
    }

    #[test]
    fn the_end_of_a_query_is_a_position() {
        assert_eq!(
            end_of("SELECT * FROM t WHERE"),
            Position {
                line: 1,
                column: 22
            }
        );
        assert_eq!(
            end_of("SELECT *\n  FROM t WHERE \n"),
            Position {
                line: 2,
                column: 15
            }
        );
    }

    #[test]
    fn sqlparser_positions_are_read() {
        assert_eq!(
            parser_position("Expected: an expression, found: FROM at Line: 2, Column: 13"),
            Some(Position {
                line: 2,
                column: 13
            })
        );
        assert_eq!(parser_position("no position"), None);
    }
}
