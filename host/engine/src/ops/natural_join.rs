//! `natural_join`: add columns from the right row with the same key.
//!
//! The result has the left table's rows and row keys. Per key the operator
//! keeps the left rows holding it and the right row's values, so a left
//! change costs O(changed rows) and a right change O(left rows of that key).
//! Two right rows with one key fail the table with the key named.
//!
//! Like Deephaven's `naturalJoin` (which copies the blink attribute from its
//! left table), the result is blink exactly when the left table is: its rows
//! are the left table's rows, so over a blink left they live for one cycle
//! and an aggregation or `last_by` of the join accumulates every joined row
//! ever seen. A right-side change can only modify rows the left table holds
//! now, i.e. the current cycle's rows; since each cycle applies the right
//! side before the left side's adds, those rows are announced once, as added,
//! with the right values as of the end of their cycle, and a blink join never
//! reports a modification.

use std::collections::{BTreeSet, HashSet};
use std::sync::Arc;

use arrow_array::RecordBatch;
use arrow_schema::{ArrowError, Field, Schema, SchemaRef};

use super::spec::{parse_pair, strings};
use super::view::project;
use super::{Input, Operator};
use crate::engine::NodeSpec;
use crate::error::{EngineError, Result};
use crate::keys::{Gid, GroupMap, KeyCodec, column_index};
use crate::rowlog::{RowLog, RowLogVersion};
use crate::table::handle::Table;
use crate::update::{RowKey, Update};
use crate::version::{Version, VersionRef, concat};

/// Left rows holding one key.
///
/// An append-only left table never removes rows, so a plain vector (cheap,
/// cache-friendly pushes) suffices; otherwise an ordered set supports removal.
enum Members {
    Append(Vec<RowKey>),
    Ordered(BTreeSet<RowKey>),
}

impl Members {
    fn new(add_only: bool) -> Self {
        if add_only {
            Members::Append(Vec::new())
        } else {
            Members::Ordered(BTreeSet::new())
        }
    }

    fn insert(&mut self, k: RowKey) {
        match self {
            Members::Append(v) => v.push(k),
            Members::Ordered(s) => {
                s.insert(k);
            }
        }
    }

    fn remove(&mut self, k: RowKey) {
        match self {
            Members::Append(v) => v.retain(|&x| x != k),
            Members::Ordered(s) => {
                s.remove(&k);
            }
        }
    }

    fn iter(&self) -> Box<dyn Iterator<Item = RowKey> + '_> {
        match self {
            Members::Append(v) => Box::new(v.iter().copied()),
            Members::Ordered(s) => Box::new(s.iter().copied()),
        }
    }
}

/// Encoded key to group id, shared structurally between cycles.
type KeyMap = imbl::GenericHashMap<
    Box<[u8]>,
    Gid,
    foldhash::fast::FixedState,
    imbl::shared_ptr::DefaultSharedPtr,
>;

impl Table {
    /// For each row, adds `columns` (like `"LastPrice = Price"`) from the
    /// `right` row whose `on` keys match (`"Key"` or `"LeftKey = RightKey"`).
    ///
    /// A row without a match gets nulls. An empty `columns` adds every
    /// non-key right column. Two right rows with the same key fail the
    /// result table with [`EngineError::DuplicateRightKey`]. The result is a
    /// blink table if and only if `self` is (Deephaven copies the blink
    /// attribute from the left table), so aggregating it follows the blink rule.
    pub fn natural_join<K, S, C, T>(&self, right: &Table, on: K, columns: C) -> Result<Table>
    where
        K: IntoIterator<Item = S>,
        S: AsRef<str>,
        C: IntoIterator<Item = T>,
        T: AsRef<str>,
    {
        self.engine.check_same(self, right)?;
        let on = strings(on);
        let columns = strings(columns);
        self.derive(|left, graph| {
            let right = right.parent_info(graph)?;
            let pairs = on
                .iter()
                .map(|s| parse_pair(s))
                .collect::<Result<Vec<_>>>()?;
            let left_names: Vec<String> = pairs.iter().map(|p| p.output.clone()).collect();
            let right_names: Vec<String> = pairs.iter().map(|p| p.input.clone()).collect();
            let left_codec = KeyCodec::new(&left.name, &left.schema, &left_names, "natural_join")?;
            let mut right_key_cols = Vec::new();
            for (i, rn) in right_names.iter().enumerate() {
                let rc = column_index(&right.name, &right.schema, rn)?;
                let (lt, rt) = (&left_codec.types[i], right.schema.field(rc).data_type());
                if lt != rt {
                    return Err(EngineError::TypeMismatch {
                        table: right.name.clone(),
                        column: rn.clone(),
                        operation: format!(
                            "natural_join on `{}` (left `{}` is {lt})",
                            on[i], left_names[i]
                        ),
                        expected: lt.to_string(),
                        actual: rt.clone(),
                    });
                }
                right_key_cols.push(rc);
            }
            let right_codec = KeyCodec::for_types(
                &right.name,
                &right_names,
                right_key_cols.clone(),
                left_codec.types.clone(),
                "natural_join",
            )?;
            let added_pairs = if columns.is_empty() {
                (0..right.schema.fields().len())
                    .filter(|c| !right_key_cols.contains(c))
                    .map(|c| parse_pair(right.schema.field(c).name()))
                    .collect::<Result<Vec<_>>>()?
            } else {
                columns
                    .iter()
                    .map(|s| parse_pair(s))
                    .collect::<Result<Vec<_>>>()?
            };
            let mut right_cols = Vec::new();
            let mut right_fields = Vec::new();
            let mut fields: Vec<Field> = left
                .schema
                .fields()
                .iter()
                .map(|f| f.as_ref().clone())
                .collect();
            for p in &added_pairs {
                let c = column_index(&right.name, &right.schema, &p.input)?;
                if fields.iter().any(|f| f.name() == &p.output) {
                    return Err(EngineError::DuplicateColumn {
                        table: left.name.clone(),
                        operation: format!("natural_join with `{}`", right.name),
                        column: p.output.clone(),
                    });
                }
                let f = right
                    .schema
                    .field(c)
                    .clone()
                    .with_name(&p.output)
                    .with_nullable(true);
                right_cols.push(c);
                right_fields.push(f.clone());
                fields.push(f);
            }
            let schema = Arc::new(Schema::new(fields));
            let right_schema = Arc::new(Schema::new(right_fields));
            let name = format!(
                "{}.natural_join({}, [{}], [{}])",
                left.name,
                right.name,
                on.join(", "),
                columns.join(", ")
            );
            let store = RowLog::new(right_schema.clone());
            let left_codec = Arc::new(left_codec);
            let mut op = JoinOp {
                name: name.clone(),
                right_name: right.name.clone(),
                left_codec: left_codec.clone(),
                right_codec,
                groups: GroupMap::new(),
                map: KeyMap::default(),
                right_cols,
                right_schema,
                left_add_only: left.add_only,
                left_rows: Vec::new(),
                right_rows: Vec::new(),
                version: Arc::new(JoinVersion {
                    schema: schema.clone(),
                    left: left.version.clone(),
                    store: store.version(),
                    map: KeyMap::default(),
                    codec: left_codec,
                }),
                store,
                schema: schema.clone(),
            };
            let init = |v: &VersionRef| -> Result<Update> {
                let keys = v.keys();
                let mut u = Update::empty(&v.schema(), 0);
                u.added = v.rows(&keys).map_err(|e| EngineError::arrow(&name, e))?;
                u.added_keys = keys.into();
                Ok(u)
            };
            let (lu, ru) = (init(&left.version)?, init(&right.version)?);
            op.apply(0, Some(&lu), &left.version, Some(&ru), &right.version)?;
            Ok(NodeSpec {
                name,
                schema,
                blink: left.blink,
                add_only: false,
                parents: vec![left.id, right.id],
                op: Box::new(op),
            })
        })
    }
}

struct JoinOp {
    name: String,
    right_name: String,
    left_codec: Arc<KeyCodec>,
    right_codec: KeyCodec,
    groups: GroupMap,
    map: KeyMap,
    right_cols: Vec<usize>,
    right_schema: SchemaRef,
    /// The left table never removes or modifies rows.
    left_add_only: bool,
    /// Left rows per key.
    left_rows: Vec<Members>,
    /// Right rows per key (more than one is an error).
    right_rows: Vec<Vec<RowKey>>,
    /// Right values per key.
    store: RowLog,
    schema: SchemaRef,
    version: Arc<JoinVersion>,
}

/// Places `right` columns after `left` columns under `schema`.
fn combine(
    schema: &SchemaRef,
    left: &RecordBatch,
    right: &RecordBatch,
) -> Result<RecordBatch, ArrowError> {
    let mut cols = left.columns().to_vec();
    cols.extend(right.columns().iter().cloned());
    RecordBatch::try_new_with_options(
        schema.clone(),
        cols,
        &arrow_array::RecordBatchOptions::new().with_row_count(Some(left.num_rows())),
    )
}

impl JoinOp {
    /// Interns the keys of `batch`, recording new groups in the shared map.
    fn intern(&mut self, right: bool, batch: &RecordBatch) -> Result<Vec<Gid>, ArrowError> {
        let before = self.groups.len();
        let codec = if right {
            &self.right_codec
        } else {
            &*self.left_codec
        };
        let gids = self.groups.intern_batch(codec, batch)?;
        for g in before..self.groups.len() {
            self.map.insert(self.groups.key(g as Gid).into(), g as Gid);
        }
        let n = self.groups.len();
        let add_only = self.left_add_only;
        self.left_rows.resize_with(n, || Members::new(add_only));
        self.right_rows.resize_with(n, Vec::new);
        Ok(gids)
    }

    fn lookup(&self, right: bool, batch: &RecordBatch) -> Result<Vec<Option<Gid>>, ArrowError> {
        let codec = if right {
            &self.right_codec
        } else {
            &*self.left_codec
        };
        self.groups.lookup_batch(codec, batch)
    }

    fn apply(
        &mut self,
        cycle: u64,
        lu: Option<&Update>,
        lv: &VersionRef,
        ru: Option<&Update>,
        rv: &VersionRef,
    ) -> Result<Update> {
        let name = self.name.clone();
        let err = |e| EngineError::arrow(&name, e);
        let old_store = self.store.version();
        // Right side: update row sets, then the stored values of changed keys.
        let mut changed: Vec<Gid> = Vec::new();
        let mut seen = HashSet::new();
        if let Some(r) = ru {
            let removed = self.lookup(true, &r.removed).map_err(err)?;
            let prev = self.lookup(true, &r.modified_prev).map_err(err)?;
            for (k, g) in r
                .removed_keys
                .iter()
                .zip(&removed)
                .chain(r.modified_keys.iter().zip(&prev))
            {
                if let Some(g) = *g {
                    self.right_rows[g as usize].retain(|x| x != k);
                    if seen.insert(g) {
                        changed.push(g);
                    }
                }
            }
            let new = self.intern(true, &r.modified).map_err(err)?;
            let added = self.intern(true, &r.added).map_err(err)?;
            for (k, &g) in r
                .modified_keys
                .iter()
                .zip(&new)
                .chain(r.added_keys.iter().zip(&added))
            {
                self.right_rows[g as usize].push(*k);
                if seen.insert(g) {
                    changed.push(g);
                }
            }
        }
        let (mut set_g, mut set_k, mut gone) = (Vec::new(), Vec::new(), Vec::new());
        for &g in &changed {
            match self.right_rows[g as usize].as_slice() {
                [] => gone.push(g),
                [k] => {
                    set_g.push(g);
                    set_k.push(*k);
                }
                _ => {
                    return Err(EngineError::DuplicateRightKey {
                        table: self.name.clone(),
                        right: self.right_name.clone(),
                        key: self.right_codec.render(self.groups.key(g)),
                    });
                }
            }
        }
        let values = rv.rows(&set_k).map_err(err)?;
        let values = project(&values, &self.right_cols, &self.right_schema).map_err(err)?;
        self.store.set(&set_g, values).map_err(err)?;
        self.store.remove(&gone).map_err(err)?;
        let new_store = self.store.version();

        // Left side.
        let schema = self.schema.clone();
        let empty = Update::empty(&lv.schema(), cycle);
        let l = lu.unwrap_or(&empty);
        let removed = self.lookup(false, &l.removed).map_err(err)?;
        let prev = self.lookup(false, &l.modified_prev).map_err(err)?;
        for (k, g) in l
            .removed_keys
            .iter()
            .zip(&removed)
            .chain(l.modified_keys.iter().zip(&prev))
        {
            if let Some(g) = *g {
                self.left_rows[g as usize].remove(*k);
            }
        }
        let new = self.intern(false, &l.modified).map_err(err)?;
        let added = self.intern(false, &l.added).map_err(err)?;
        for (k, &g) in l
            .modified_keys
            .iter()
            .zip(&new)
            .chain(l.added_keys.iter().zip(&added))
        {
            self.left_rows[g as usize].insert(*k);
        }
        let some = |g: &[Gid]| g.iter().map(|&g| Some(g)).collect::<Vec<_>>();
        let mut out = Update::empty(&schema, cycle);
        out.removed = combine(
            &schema,
            &l.removed,
            &old_store.rows_opt(&removed).map_err(err)?,
        )
        .map_err(err)?;
        out.removed_keys = l.removed_keys.clone();
        out.added = combine(
            &schema,
            &l.added,
            &new_store.rows_opt(&some(&added)).map_err(err)?,
        )
        .map_err(err)?;
        out.added_keys = l.added_keys.clone();
        let m_new = combine(
            &schema,
            &l.modified,
            &new_store.rows_opt(&some(&new)).map_err(err)?,
        )
        .map_err(err)?;
        let m_prev = combine(
            &schema,
            &l.modified_prev,
            &old_store.rows_opt(&prev).map_err(err)?,
        )
        .map_err(err)?;

        // Unchanged left rows whose right values changed.
        let touched: HashSet<RowKey> = l
            .added_keys
            .iter()
            .chain(&l.modified_keys)
            .copied()
            .collect();
        let (mut keys2, mut gids2) = (Vec::new(), Vec::new());
        for &g in &changed {
            for k in self.left_rows[g as usize].iter() {
                if !touched.contains(&k) {
                    keys2.push(k);
                    gids2.push(Some(g));
                }
            }
        }
        let lrows = lv.rows(&keys2).map_err(err)?;
        let n_new =
            combine(&schema, &lrows, &new_store.rows_opt(&gids2).map_err(err)?).map_err(err)?;
        let n_prev =
            combine(&schema, &lrows, &old_store.rows_opt(&gids2).map_err(err)?).map_err(err)?;
        out.modified = concat(&schema, &[m_new, n_new]).map_err(err)?;
        out.modified_prev = concat(&schema, &[m_prev, n_prev]).map_err(err)?;
        out.modified_keys = l.modified_keys.iter_keys().chain(keys2).collect();

        self.version = Arc::new(JoinVersion {
            schema,
            left: lv.clone(),
            store: new_store,
            map: self.map.clone(),
            codec: self.left_codec.clone(),
        });
        Ok(out)
    }
}

impl Operator for JoinOp {
    fn process(&mut self, cycle: u64, inputs: &[Input<'_>]) -> Result<Option<Update>> {
        let (l, r) = (&inputs[0], &inputs[1]);
        self.apply(cycle, l.update, l.version, r.update, r.version)
            .map(Some)
    }

    fn version(&self) -> VersionRef {
        self.version.clone()
    }
}

/// Published view of a join: the left version plus right values by key.
struct JoinVersion {
    schema: SchemaRef,
    left: VersionRef,
    store: RowLogVersion,
    map: KeyMap,
    codec: Arc<KeyCodec>,
}

impl JoinVersion {
    fn extend(&self, left: RecordBatch) -> Result<RecordBatch, ArrowError> {
        let gids: Vec<Option<Gid>> = if self.codec.is_empty() {
            vec![self.map.get(&[][..]).copied(); left.num_rows()]
        } else {
            let rows = self.codec.encode(&left)?;
            rows.iter()
                .map(|r| self.map.get(r.as_ref()).copied())
                .collect()
        };
        combine(&self.schema, &left, &self.store.rows_opt(&gids)?)
    }
}

impl Version for JoinVersion {
    fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    fn num_rows(&self) -> usize {
        self.left.num_rows()
    }

    fn keys(&self) -> Vec<RowKey> {
        self.left.keys()
    }

    fn rows(&self, keys: &[RowKey]) -> Result<RecordBatch, ArrowError> {
        self.extend(self.left.rows(keys)?)
    }

    fn materialize(&self) -> Result<RecordBatch, ArrowError> {
        self.extend(self.left.materialize()?)
    }
}
