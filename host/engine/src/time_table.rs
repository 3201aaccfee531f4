//! `time_table`: a source that ticks on a period.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use arrow_array::{Int64Array, RecordBatch, TimestampNanosecondArray};
use arrow_schema::{DataType, Field, Schema, SchemaRef, TimeUnit};

use crate::engine::{Engine, NodeSpec};
use crate::error::{EngineError, Result};
use crate::ops::{Input, Operator};
use crate::table::handle::Table;
use crate::table::{SourceStore, TableType, new_store};
use crate::update::Update;
use crate::version::VersionRef;

/// Name of the time table's timestamp column.
pub const TIMESTAMP_COLUMN: &str = "Timestamp";
/// Name of the time table's row-number column (0, 1, 2, ...).
pub const ROW_NUMBER_COLUMN: &str = "RowNumber";

/// At most this many ticks are emitted in one cycle; a stalled engine skips the rest.
const MAX_TICKS_PER_CYCLE: i64 = 1 << 16;

fn now_nanos() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as i64)
        .unwrap_or(0)
}

impl Engine {
    /// A source adding one row per elapsed `period`: `Timestamp` (UTC nanoseconds) and `RowNumber`.
    ///
    /// The first tick is at creation time; each cycle adds the ticks that
    /// have come due since the last one. `kind` is usually
    /// [`TableType::Blink`] or [`TableType::Append`].
    pub fn time_table(&self, name: &str, period: Duration, kind: TableType) -> Result<Table> {
        let period_ns = period.as_nanos().clamp(1, i64::MAX as u128) as i64;
        let schema: SchemaRef = Arc::new(Schema::new(vec![
            Field::new(
                TIMESTAMP_COLUMN,
                DataType::Timestamp(TimeUnit::Nanosecond, Some("UTC".into())),
                false,
            ),
            Field::new(ROW_NUMBER_COLUMN, DataType::Int64, false),
        ]));
        let op = TimeOp {
            name: name.to_string(),
            schema: schema.clone(),
            store: new_store(name, schema.clone(), kind),
            period_ns,
            next_tick: now_nanos(),
            row: 0,
        };
        self.add_node(|_| {
            Ok(NodeSpec {
                name: name.to_string(),
                schema,
                blink: kind == TableType::Blink,
                add_only: kind == TableType::Append,
                parents: Vec::new(),
                op: Box::new(op),
            })
        })
    }
}

struct TimeOp {
    name: String,
    schema: SchemaRef,
    store: Box<dyn SourceStore>,
    period_ns: i64,
    next_tick: i64,
    row: i64,
}

impl Operator for TimeOp {
    fn process(&mut self, cycle: u64, _inputs: &[Input<'_>]) -> Result<Option<Update>> {
        let now = now_nanos();
        let mut ts = Vec::new();
        let mut rn = Vec::new();
        while self.next_tick <= now && (ts.len() as i64) < MAX_TICKS_PER_CYCLE {
            ts.push(self.next_tick);
            rn.push(self.row);
            self.row += 1;
            self.next_tick += self.period_ns;
        }
        if self.next_tick <= now {
            // Skip ticks we are too far behind on, like a timer that drops overruns.
            let behind = (now - self.next_tick) / self.period_ns + 1;
            self.next_tick += behind * self.period_ns;
        }
        let batch = if ts.is_empty() {
            None
        } else {
            let ts = TimestampNanosecondArray::from(ts).with_timezone("UTC");
            Some(
                RecordBatch::try_new(
                    self.schema.clone(),
                    vec![Arc::new(ts), Arc::new(Int64Array::from(rn))],
                )
                .map_err(|e| EngineError::arrow(&self.name, e))?,
            )
        };
        self.store.ingest(batch.into_iter().collect(), cycle)
    }

    fn version(&self) -> VersionRef {
        self.store.version()
    }
}
