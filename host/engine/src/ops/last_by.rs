//! `last_by` and `first_by`: one row per key, the last (or first) present.
//!
//! Over a blink or append-only input the operator only ever sees additions
//! and keeps the last (first) row ever seen per key: Deephaven's blink rule.
//! Otherwise it keeps, per key, the ordered set of present row keys, so a
//! removal promotes the previous row.

use std::collections::BTreeSet;
use std::sync::Arc;

use arrow_array::{RecordBatch, UInt32Array};
use arrow_schema::{Schema, SchemaRef};

use super::spec::strings;
use super::view::project;
use super::{Input, Operator, on_input_update};
use crate::engine::NodeSpec;
use crate::error::{EngineError, Result};
use crate::keys::{Gid, GroupMap, KeyCodec};
use crate::rowlog::KeyedRows;
use crate::table::handle::Table;
use crate::update::{RowKey, Update};
use crate::version::VersionRef;

/// Which row of each key to keep.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Which {
    First,
    Last,
}

impl Table {
    /// One row per distinct key: the last row seen (blink input) or present.
    ///
    /// Output columns are the keys followed by the other columns. Keys may
    /// be empty (one row: the table's last row).
    pub fn last_by<I, S>(&self, keys: I) -> Result<Table>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        self.by_op(Which::Last, strings(keys))
    }

    /// One row per distinct key: the first row seen (blink input) or present.
    pub fn first_by<I, S>(&self, keys: I) -> Result<Table>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        self.by_op(Which::First, strings(keys))
    }

    fn by_op(&self, which: Which, keys: Vec<String>) -> Result<Table> {
        let opname = if which == Which::Last {
            "last_by"
        } else {
            "first_by"
        };
        self.derive(|parent, _| {
            let codec = KeyCodec::new(&parent.name, &parent.schema, &keys, opname)?;
            let mut order = codec.cols.clone();
            order.extend((0..parent.schema.fields().len()).filter(|c| !codec.cols.contains(c)));
            let schema = Arc::new(Schema::new(
                order
                    .iter()
                    .map(|&c| parent.schema.field(c).clone())
                    .collect::<Vec<_>>(),
            ));
            let name = format!("{}.{opname}({})", parent.name, keys.join(", "));
            let mut op = ByOp {
                name: name.clone(),
                which,
                accumulate: parent.blink || parent.add_only,
                codec,
                groups: GroupMap::new(),
                order,
                schema: schema.clone(),
                sets: Vec::new(),
                winner: Vec::new(),
                result: KeyedRows::new(schema.clone()),
                scratch_flag: Vec::new(),
                scratch_pick: Vec::new(),
            };
            op.init(&parent.version)?;
            Ok(NodeSpec {
                name,
                schema,
                blink: false,
                add_only: false,
                parents: vec![parent.id],
                op: Box::new(op),
            })
        })
    }
}

struct ByOp {
    name: String,
    which: Which,
    /// Input only ever adds rows (blink or append): no per-key row sets.
    accumulate: bool,
    codec: KeyCodec,
    groups: GroupMap,
    /// Input column positions in output order.
    order: Vec<usize>,
    schema: SchemaRef,
    /// Present input rows per group (only when not accumulating).
    sets: Vec<BTreeSet<RowKey>>,
    /// Input row currently shown per group.
    winner: Vec<Option<RowKey>>,
    /// One row per group, by the group's id.
    result: KeyedRows,
    /// Scratch, all `false` between cycles: groups touched this cycle.
    scratch_flag: Vec<bool>,
    /// Scratch, all `None` between cycles: the row picked per group.
    scratch_pick: Vec<Option<usize>>,
}

impl ByOp {
    fn err(&self) -> impl Fn(arrow_schema::ArrowError) -> EngineError + '_ {
        |e| EngineError::arrow(&self.name, e)
    }

    fn init(&mut self, parent: &VersionRef) -> Result<()> {
        let keys = parent.keys();
        let rows = parent.rows(&keys).map_err(self.err())?;
        let mut u = Update::empty(&parent.schema(), 0);
        u.added = rows;
        u.added_keys = keys.into();
        self.apply(&u, parent)?;
        Ok(())
    }

    fn grow(&mut self) {
        let n = self.groups.len();
        self.winner.resize(n, None);
        if !self.accumulate {
            self.sets.resize_with(n, BTreeSet::new);
        }
    }

    fn apply(&mut self, u: &Update, parent: &VersionRef) -> Result<Update> {
        let mut touched: Vec<Gid> = Vec::new();
        let mut mark = |g: Gid, touched_flag: &mut Vec<bool>| {
            if !touched_flag[g as usize] {
                touched_flag[g as usize] = true;
                touched.push(g);
            }
        };
        // Winners already known from this cycle's added rows (accumulate mode).
        let mut picks: Vec<(Gid, RowKey, usize)> = Vec::new();
        let added_gids = self
            .groups
            .intern_batch(&self.codec, &u.added)
            .map_err(self.err())?;
        self.grow();
        let mut flag = std::mem::take(&mut self.scratch_flag);
        flag.resize(self.groups.len(), false);
        if self.accumulate {
            // Blink removals are ignored; append inputs never remove. Neither
            // ever modifies a row (a blink row is announced once, as added).
            debug_assert!(u.modified_keys.is_empty(), "modification in add-only input");
            let mut pick_at = std::mem::take(&mut self.scratch_pick);
            pick_at.resize(self.groups.len(), None);
            for (i, &g) in added_gids.iter().enumerate() {
                let gi = g as usize;
                let take = match self.which {
                    Which::Last => true,
                    Which::First => self.winner[gi].is_none() && pick_at[gi].is_none(),
                };
                if take {
                    pick_at[gi] = Some(i);
                    mark(g, &mut flag);
                }
            }
            for &g in &touched {
                if let Some(i) = pick_at[g as usize].take() {
                    picks.push((g, u.added_keys[i], i));
                }
            }
            self.scratch_pick = pick_at;
        } else {
            let removed = self
                .groups
                .lookup_batch(&self.codec, &u.removed)
                .map_err(self.err())?;
            let mod_prev = self
                .groups
                .lookup_batch(&self.codec, &u.modified_prev)
                .map_err(self.err())?;
            let mod_new = self
                .groups
                .intern_batch(&self.codec, &u.modified)
                .map_err(self.err())?;
            self.grow();
            flag.resize(self.groups.len(), false);
            for (k, g) in u
                .removed_keys
                .iter()
                .zip(&removed)
                .chain(u.modified_keys.iter().zip(&mod_prev))
            {
                if let Some(g) = *g {
                    self.sets[g as usize].remove(k);
                    mark(g, &mut flag);
                }
            }
            for (k, &g) in u
                .modified_keys
                .iter()
                .zip(&mod_new)
                .chain(u.added_keys.iter().zip(&added_gids))
            {
                self.sets[g as usize].insert(*k);
                mark(g, &mut flag);
            }
        }
        for &g in &touched {
            flag[g as usize] = false;
        }
        self.scratch_flag = flag;
        let modified_now: std::collections::HashSet<RowKey> =
            u.modified_keys.iter().copied().collect();
        let (mut add_g, mut mod_g, mut rem_g) = (Vec::new(), Vec::new(), Vec::new());
        let (mut add_src, mut mod_src) = (Vec::new(), Vec::new());
        if self.accumulate {
            for &(g, k, i) in &picks {
                if self.winner[g as usize].is_some() {
                    mod_g.push(g);
                    mod_src.push(i);
                } else {
                    add_g.push(g);
                    add_src.push(i);
                }
                self.winner[g as usize] = Some(k);
            }
        } else {
            let mut fetch: Vec<RowKey> = Vec::new();
            for &g in &touched {
                let set = &self.sets[g as usize];
                let new = match self.which {
                    Which::Last => set.last(),
                    Which::First => set.first(),
                }
                .copied();
                let old = self.winner[g as usize];
                match (old, new) {
                    (Some(_), None) => rem_g.push(g),
                    (None, Some(k)) => {
                        add_g.push(g);
                        add_src.push(fetch.len());
                        fetch.push(k);
                    }
                    (Some(o), Some(k)) if o != k || modified_now.contains(&k) => {
                        mod_g.push(g);
                        mod_src.push(fetch.len());
                        fetch.push(k);
                    }
                    _ => {}
                }
                self.winner[g as usize] = new;
            }
            // Winners may be old rows, so read them from the input's current version.
            let rows = parent.rows(&fetch).map_err(self.err())?;
            return self.emit(u.cycle, &rows, (add_g, add_src), (mod_g, mod_src), rem_g);
        }
        self.emit(u.cycle, &u.added, (add_g, add_src), (mod_g, mod_src), rem_g)
    }

    /// Writes output rows taken from `source` and builds the update.
    fn emit(
        &mut self,
        cycle: u64,
        source: &RecordBatch,
        (add_g, add_src): (Vec<Gid>, Vec<usize>),
        (mod_g, mod_src): (Vec<Gid>, Vec<usize>),
        rem_g: Vec<Gid>,
    ) -> Result<Update> {
        let err = |e| EngineError::arrow(&self.name, e);
        let take = |idx: &[usize]| -> Result<RecordBatch> {
            let indices = UInt32Array::from(idx.iter().map(|&i| i as u32).collect::<Vec<_>>());
            let b = arrow_select::take::take_record_batch(source, &indices).map_err(err)?;
            project(&b, &self.order, &self.schema).map_err(err)
        };
        let added = take(&add_src)?;
        let modified = take(&mod_src)?;
        self.result
            .commit(cycle, (&add_g, added), (&mod_g, modified), &rem_g)
            .map_err(err)
    }
}

impl Operator for ByOp {
    fn process(&mut self, _cycle: u64, inputs: &[Input<'_>]) -> Result<Option<Update>> {
        on_input_update(inputs, |u, parent| self.apply(u, parent))
    }

    fn version(&self) -> VersionRef {
        self.result.version()
    }
}
