//! The engine: the table graph, its configuration, and published snapshots.

use std::sync::{Arc, Mutex, MutexGuard, OnceLock, RwLock};
use std::time::Duration;

use arrow_array::RecordBatch;
use arrow_schema::SchemaRef;

use crate::error::{EngineError, Result};
use crate::ops::Operator;
use crate::table::handle::Table;
use crate::table::source::SourceOp;
use crate::table::{TableType, new_store};
use crate::update::Update;
use crate::version::VersionRef;
use crate::writer::{Writer, WriterShared};

/// Engine settings.
#[derive(Debug, Clone)]
pub struct EngineConfig {
    /// Time between cycles of the background cycle thread (default 100 ms).
    pub period: Duration,
    /// Rows a source's writers may buffer between cycles before `push` blocks (default 1,048,576).
    /// A push that finds the buffer full asks the cycle thread for a cycle at once.
    pub writer_capacity_rows: usize,
}

impl Default for EngineConfig {
    fn default() -> Self {
        EngineConfig {
            period: Duration::from_millis(100),
            writer_capacity_rows: 1 << 20,
        }
    }
}

/// A callback receiving one table's update per cycle.
pub(crate) type Listener = Arc<dyn Fn(&Arc<Update>) + Send + Sync>;

/// One table's state as of one cycle, with a lazily built snapshot.
pub(crate) struct Published {
    pub version: std::result::Result<VersionRef, EngineError>,
    cache: OnceLock<std::result::Result<RecordBatch, EngineError>>,
}

impl Published {
    pub fn new(version: std::result::Result<VersionRef, EngineError>) -> Arc<Self> {
        Arc::new(Published {
            version,
            cache: OnceLock::new(),
        })
    }

    fn batch(&self, table: &str) -> Result<RecordBatch> {
        self.cache
            .get_or_init(|| match &self.version {
                Ok(v) => v.materialize().map_err(|e| EngineError::arrow(table, e)),
                Err(e) => Err(e.clone()),
            })
            .clone()
    }

    /// The rows in key order: the table's own chunks where it keeps them
    /// (source tables), else one batch built once per cycle and shared with
    /// [`Engine::snapshot`].
    fn batches(&self, table: &str) -> Result<Vec<RecordBatch>> {
        let version = self.version.as_ref().map_err(Clone::clone)?;
        if let Some(Ok(batch)) = self.cache.get() {
            return Ok(vec![batch.clone()]);
        }
        match version.chunks() {
            Some(chunks) => Ok(chunks),
            None => Ok(vec![self.batch(table)?]),
        }
    }
}

/// Several tables as of one completed cycle ([`Engine::pin`]), held without
/// copying: later cycles do not change what they hold.
#[derive(Clone)]
pub struct PinnedTables {
    /// The completed cycle the tables are from (0 before the first).
    pub cycle: u64,
    /// One per requested table, in request order.
    pub tables: Vec<PinnedTable>,
}

/// One table's contents at the cycle of its [`PinnedTables`].
#[derive(Clone)]
pub struct PinnedTable {
    name: Arc<str>,
    schema: SchemaRef,
    published: Arc<Published>,
}

impl std::fmt::Debug for PinnedTable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PinnedTable")
            .field("name", &self.name)
            .finish()
    }
}

impl PinnedTable {
    /// The table's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The table's schema.
    pub fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    /// Rows at the pinned cycle, or the table's failure.
    pub fn num_rows(&self) -> Result<usize> {
        match &self.published.version {
            Ok(v) => Ok(v.num_rows()),
            Err(e) => Err(e.clone()),
        }
    }

    /// The rows in key order as Arrow batches: a source table's own chunks
    /// (shared, not copied), or for a derived table one batch, built once
    /// per cycle however many readers ask.
    pub fn batches(&self) -> Result<Vec<RecordBatch>> {
        self.published.batches(&self.name)
    }
}

/// A table's rows and their row keys at one cycle ([`Engine::keyed_snapshot`]).
#[derive(Debug, Clone)]
pub struct KeyedSnapshot {
    /// The completed cycle the rows are from.
    pub cycle: u64,
    /// Each row's key, parallel to `batch`.
    pub keys: Vec<crate::update::RowKey>,
    /// The rows, in key order.
    pub batch: RecordBatch,
}

/// All tables as of one completed cycle; swapped in whole at the end of a cycle.
pub(crate) struct View {
    pub cycle: u64,
    pub tables: Vec<Arc<Published>>,
}

/// A node of the table graph.
pub(crate) struct Node {
    pub name: Arc<str>,
    pub blink: bool,
    pub add_only: bool,
    pub parents: Vec<usize>,
    pub op: Box<dyn Operator>,
    pub failed: Option<EngineError>,
    pub listeners: Vec<(u64, Listener)>,
    pub published: Arc<Published>,
}

/// The table graph; nodes are in creation order, which is a dependency order.
pub(crate) struct Graph {
    pub cycle: u64,
    pub nodes: Vec<Node>,
    pub next_listener: u64,
}

/// What a builder hands back to become a new node.
pub(crate) struct NodeSpec {
    pub name: String,
    pub schema: SchemaRef,
    pub blink: bool,
    pub add_only: bool,
    pub parents: Vec<usize>,
    pub op: Box<dyn Operator>,
}

/// State shared by an engine's handles.
pub(crate) struct Shared {
    pub config: EngineConfig,
    pub graph: Mutex<Graph>,
    pub view: RwLock<Arc<View>>,
    /// Writers with a full buffer ask the cycle thread for an early cycle here.
    pub wake: Arc<crate::wake::CycleWake>,
    /// Called with every cycle's report ([`Engine::observe_cycles`]).
    pub cycle_observers: Mutex<Vec<crate::report::CycleObserver>>,
}

/// A live table engine: owns the tables, runs update cycles, serves snapshots.
///
/// Cloning is cheap and yields a handle to the same engine.
#[derive(Clone)]
pub struct Engine {
    pub(crate) shared: Arc<Shared>,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("cycle", &self.cycle())
            .finish()
    }
}

impl Default for Engine {
    fn default() -> Self {
        Engine::new()
    }
}

/// Snapshots of several tables taken from the same cycle.
#[derive(Debug, Clone)]
pub struct Snapshot {
    /// The completed cycle the batches reflect (0 before the first cycle).
    pub cycle: u64,
    /// One batch per requested table, in request order.
    pub batches: Vec<RecordBatch>,
}

impl Engine {
    /// An engine with the default configuration.
    pub fn new() -> Self {
        Engine::with_config(EngineConfig::default())
    }

    /// An engine with the given configuration.
    pub fn with_config(config: EngineConfig) -> Self {
        Engine {
            shared: Arc::new(Shared {
                config,
                graph: Mutex::new(Graph {
                    cycle: 0,
                    nodes: Vec::new(),
                    next_listener: 0,
                }),
                view: RwLock::new(Arc::new(View {
                    cycle: 0,
                    tables: Vec::new(),
                })),
                wake: Arc::default(),
                cycle_observers: Mutex::default(),
            }),
        }
    }

    /// The engine's configuration.
    pub fn config(&self) -> &EngineConfig {
        &self.shared.config
    }

    /// Number of the last completed cycle (0 before the first).
    pub fn cycle(&self) -> u64 {
        self.view().cycle
    }

    pub(crate) fn graph(&self) -> MutexGuard<'_, Graph> {
        // Cycles never leave the graph half-built on panic paths we control;
        // recover rather than poison every later call.
        self.shared.graph.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub(crate) fn view(&self) -> Arc<View> {
        self.shared
            .view
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    pub(crate) fn set_view(&self, view: View) {
        *self.shared.view.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(view);
    }

    /// Creates a source table of the given type.
    pub fn source_table(&self, name: &str, schema: SchemaRef, kind: TableType) -> Result<Table> {
        self.new_source(name, schema, kind, false)
    }

    /// Creates a source table whose rows its writers may also remove
    /// ([`Writer::remove_where`]), e.g. the rows of a Kafka partition a
    /// consumer group moved away. Even an append table is then not add-only
    /// for the operators on it (a `last_by` keeps each key's rows to fall
    /// back on), so use it only where removals happen.
    pub fn removable_source_table(
        &self,
        name: &str,
        schema: SchemaRef,
        kind: TableType,
    ) -> Result<Table> {
        self.new_source(name, schema, kind, true)
    }

    fn new_source(
        &self,
        name: &str,
        schema: SchemaRef,
        kind: TableType,
        removable: bool,
    ) -> Result<Table> {
        let writer = WriterShared::new(
            name,
            schema.clone(),
            self.shared.config.writer_capacity_rows,
            self.shared.wake.clone(),
            removable,
        );
        let op = SourceOp {
            writer: writer.clone(),
            store: new_store(name, schema.clone(), kind),
        };
        let mut table = self.add_node(|_| {
            Ok(NodeSpec {
                name: name.to_string(),
                schema: schema.clone(),
                blink: kind == TableType::Blink,
                add_only: kind == TableType::Append && !removable,
                parents: Vec::new(),
                op: Box::new(op),
            })
        })?;
        table.writer = Some(Writer::new(writer));
        Ok(table)
    }

    /// Creates an append-only source table.
    pub fn append_table(&self, name: &str, schema: SchemaRef) -> Result<Table> {
        self.source_table(name, schema, TableType::Append)
    }

    /// Creates a blink source table.
    pub fn blink_table(&self, name: &str, schema: SchemaRef) -> Result<Table> {
        self.source_table(name, schema, TableType::Blink)
    }

    /// Creates a ring source table holding the last `capacity` rows.
    pub fn ring_table(&self, name: &str, schema: SchemaRef, capacity: usize) -> Result<Table> {
        self.source_table(name, schema, TableType::Ring(capacity))
    }

    /// Adds a node built by `build` under the graph lock and publishes it.
    pub(crate) fn add_node(&self, build: impl FnOnce(&Graph) -> Result<NodeSpec>) -> Result<Table> {
        let mut graph = self.graph();
        let spec = build(&graph)?;
        let version = spec.op.version();
        let published = Published::new(Ok(version));
        let name: Arc<str> = spec.name.into();
        graph.nodes.push(Node {
            name: name.clone(),
            blink: spec.blink,
            add_only: spec.add_only,
            parents: spec.parents,
            op: spec.op,
            failed: None,
            listeners: Vec::new(),
            published: published.clone(),
        });
        let id = graph.nodes.len() - 1;
        let old = self.view();
        let mut tables = old.tables.clone();
        tables.push(published);
        self.set_view(View {
            cycle: old.cycle,
            tables,
        });
        Ok(Table {
            engine: self.clone(),
            id,
            name,
            schema: spec.schema,
            blink: spec.blink,
            writer: None,
        })
    }

    /// Snapshots several tables as of the same completed cycle.
    pub fn snapshot(&self, tables: &[&Table]) -> Result<Snapshot> {
        let view = self.view();
        let mut batches = Vec::with_capacity(tables.len());
        for t in tables {
            self.check_same(t, t)?;
            batches.push(view.tables[t.id].batch(&t.name)?);
        }
        Ok(Snapshot {
            cycle: view.cycle,
            batches,
        })
    }

    /// Pins several tables as of the same completed cycle. This only clones
    /// pointers under a read lock, so it never holds up a cycle; reading the
    /// rows ([`PinnedTable::batches`]) happens later, on immutable versions.
    pub fn pin(&self, tables: &[&Table]) -> Result<PinnedTables> {
        for t in tables {
            self.check_same(t, t)?;
        }
        let view = self.view();
        Ok(PinnedTables {
            cycle: view.cycle,
            tables: tables
                .iter()
                .map(|t| PinnedTable {
                    name: t.name.clone(),
                    schema: t.schema.clone(),
                    published: view.tables[t.id].clone(),
                })
                .collect(),
        })
    }

    /// One table's rows with their row keys, as of the last completed cycle:
    /// what a follower of the table's updates starts from (an update of a
    /// later cycle names rows by these keys).
    pub fn keyed_snapshot(&self, table: &Table) -> Result<KeyedSnapshot> {
        self.check_same(table, table)?;
        let view = self.view();
        let published = &view.tables[table.id];
        let keys = match &published.version {
            Ok(v) => v.keys(),
            Err(e) => return Err(e.clone()),
        };
        Ok(KeyedSnapshot {
            cycle: view.cycle,
            keys,
            batch: published.batch(&table.name)?,
        })
    }

    /// Row counts of several tables as of the same completed cycle, without materializing them.
    pub fn row_counts(&self, tables: &[&Table]) -> Result<(u64, Vec<usize>)> {
        let view = self.view();
        let mut counts = Vec::with_capacity(tables.len());
        for t in tables {
            self.check_same(t, t)?;
            match &view.tables[t.id].version {
                Ok(v) => counts.push(v.num_rows()),
                Err(e) => return Err(e.clone()),
            }
        }
        Ok((view.cycle, counts))
    }

    /// Bytes of memory each table's rows hold as of the last completed cycle
    /// (Arrow buffer capacities); `None` for tables whose rows are not kept
    /// as Arrow chunks (derived tables computed from their inputs).
    pub fn memory_bytes(&self, tables: &[&Table]) -> Result<Vec<Option<usize>>> {
        let view = self.view();
        let mut out = Vec::with_capacity(tables.len());
        for t in tables {
            self.check_same(t, t)?;
            match &view.tables[t.id].version {
                Ok(v) => out.push(v.memory_bytes()),
                Err(e) => return Err(e.clone()),
            }
        }
        Ok(out)
    }

    /// Whether `other` is a handle to this same engine.
    pub fn is(&self, other: &Engine) -> bool {
        Arc::ptr_eq(&self.shared, &other.shared)
    }

    /// Errors unless `b` belongs to this engine.
    pub(crate) fn check_same(&self, a: &Table, b: &Table) -> Result<()> {
        if Arc::ptr_eq(&self.shared, &b.engine.shared) {
            Ok(())
        } else {
            Err(EngineError::ForeignTable {
                left: a.name.to_string(),
                right: b.name.to_string(),
            })
        }
    }
}
