//! The user-facing table handle.

use std::sync::Arc;
use std::sync::mpsc::{Receiver, channel};

use arrow_array::RecordBatch;
use arrow_schema::SchemaRef;

use crate::engine::{Engine, NodeSpec};
use crate::error::{EngineError, Result};
use crate::update::Update;
use crate::version::VersionRef;
use crate::writer::Writer;

/// A handle to one live table of an [`Engine`]; cheap to clone.
#[derive(Clone)]
pub struct Table {
    pub(crate) engine: Engine,
    pub(crate) id: usize,
    pub(crate) name: Arc<str>,
    pub(crate) schema: SchemaRef,
    pub(crate) blink: bool,
    pub(crate) writer: Option<Writer>,
}

impl std::fmt::Debug for Table {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Table").field("name", &self.name).finish()
    }
}

/// What an operator builder learns about its input table.
pub(crate) struct ParentInfo {
    pub id: usize,
    pub name: String,
    pub schema: SchemaRef,
    pub blink: bool,
    pub add_only: bool,
    pub version: VersionRef,
}

impl Table {
    /// The table's name (derived tables get a descriptive one).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The table's Arrow schema.
    pub fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    /// The engine owning this table.
    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// A writer for this source table, or [`EngineError::NotASource`].
    pub fn writer(&self) -> Result<Writer> {
        self.writer.clone().ok_or_else(|| EngineError::NotASource {
            table: self.name.to_string(),
        })
    }

    /// Whether this is a blink table: a blink source, or a filter, view or
    /// natural join whose (left) input is blink.
    pub fn is_blink(&self) -> bool {
        self.blink
    }

    /// `Err` with the cause if this table, or one it depends on, has failed
    /// (as of the last completed cycle).
    pub fn status(&self) -> Result<()> {
        match &self.engine.view().tables[self.id].version {
            Err(e) => Err(e.clone()),
            Ok(_) => Ok(()),
        }
    }

    /// The table's rows as of the last completed cycle.
    pub fn snapshot(&self) -> Result<RecordBatch> {
        let mut s = self.engine.snapshot(&[self])?;
        Ok(s.batches.remove(0))
    }

    /// Number of rows as of the last completed cycle.
    pub fn num_rows(&self) -> Result<usize> {
        Ok(self.engine.row_counts(&[self])?.1[0])
    }

    /// Bytes of memory the table's rows hold as of the last completed cycle,
    /// for source tables (append, ring, blink); see [`Engine::memory_bytes`].
    pub fn memory_bytes(&self) -> Result<Option<usize>> {
        Ok(self.engine.memory_bytes(&[self])?[0])
    }

    /// Calls `listener` with this table's update after every cycle that changes it.
    ///
    /// Listeners run on the cycling thread after the cycle's snapshots are
    /// published; a slow listener delays the next cycle.
    #[must_use = "dropping the Subscription unsubscribes"]
    pub fn subscribe(
        &self,
        listener: impl Fn(&Arc<Update>) + Send + Sync + 'static,
    ) -> Subscription {
        let mut graph = self.engine.graph();
        let id = graph.next_listener;
        graph.next_listener += 1;
        graph.nodes[self.id]
            .listeners
            .push((id, Arc::new(listener)));
        Subscription {
            engine: self.engine.clone(),
            table: self.id,
            id,
        }
    }

    /// Like [`Table::subscribe`], delivering updates to an (unbounded) channel.
    #[must_use = "dropping the Subscription unsubscribes"]
    pub fn subscribe_channel(&self) -> (Subscription, Receiver<Arc<Update>>) {
        let (tx, rx) = channel();
        let tx = std::sync::Mutex::new(tx);
        let sub = self.subscribe(move |u| {
            if let Ok(tx) = tx.lock() {
                let _ = tx.send(u.clone());
            }
        });
        (sub, rx)
    }

    /// Reads this table's node for an operator builder.
    pub(crate) fn parent_info(&self, graph: &crate::engine::Graph) -> Result<ParentInfo> {
        let node = &graph.nodes[self.id];
        if let Some(e) = &node.failed {
            return Err(EngineError::TableFailed {
                table: self.name.to_string(),
                cause: Box::new(e.clone()),
            });
        }
        let version = node.published.version.clone()?;
        Ok(ParentInfo {
            id: self.id,
            name: self.name.to_string(),
            schema: self.schema.clone(),
            blink: node.blink,
            add_only: node.add_only,
            version,
        })
    }

    /// Adds a derived table built from this one.
    pub(crate) fn derive(
        &self,
        build: impl FnOnce(ParentInfo, &crate::engine::Graph) -> Result<NodeSpec>,
    ) -> Result<Table> {
        self.engine.add_node(|g| {
            let info = self.parent_info(g)?;
            build(info, g)
        })
    }
}

/// Keeps a listener registered; dropping it unsubscribes.
#[derive(Debug)]
pub struct Subscription {
    engine: Engine,
    table: usize,
    id: u64,
}

impl Drop for Subscription {
    fn drop(&mut self) {
        let mut graph = self.engine.graph();
        graph.nodes[self.table]
            .listeners
            .retain(|(id, _)| *id != self.id);
    }
}
