//! Key encoding and group interning shared by the keyed operators.

use std::hash::BuildHasher;

use arrow_array::{ArrayRef, RecordBatch};
use arrow_row::{RowConverter, Rows, SortField};
use arrow_schema::{DataType, SchemaRef};
use hashbrown::HashTable;

use crate::error::{EngineError, Result};

/// Index of a group (a distinct key) within one operator.
pub(crate) type Gid = u32;

/// Looks up a column by name, naming the table on failure.
pub(crate) fn column_index(table: &str, schema: &SchemaRef, column: &str) -> Result<usize> {
    schema
        .index_of(column)
        .map_err(|_| EngineError::no_column(table, column))
}

/// Encodes key columns into comparable byte strings (arrow-row format).
pub(crate) struct KeyCodec {
    converter: RowConverter,
    /// Key column positions in the input schema.
    pub cols: Vec<usize>,
    /// Key column types.
    pub types: Vec<DataType>,
}

impl KeyCodec {
    /// A codec for the named key columns of `schema`.
    pub fn new(table: &str, schema: &SchemaRef, keys: &[String], operation: &str) -> Result<Self> {
        let cols = keys
            .iter()
            .map(|k| column_index(table, schema, k))
            .collect::<Result<Vec<_>>>()?;
        let types: Vec<DataType> = cols
            .iter()
            .map(|&c| schema.field(c).data_type().clone())
            .collect();
        Self::for_types(table, keys, cols, types, operation)
    }

    /// A codec over explicit column positions and types.
    pub fn for_types(
        table: &str,
        names: &[String],
        cols: Vec<usize>,
        types: Vec<DataType>,
        operation: &str,
    ) -> Result<Self> {
        let fields: Vec<SortField> = types.iter().map(|t| SortField::new(t.clone())).collect();
        for (i, f) in fields.iter().enumerate() {
            if !RowConverter::supports_fields(std::slice::from_ref(f)) {
                return Err(EngineError::TypeMismatch {
                    table: table.to_string(),
                    column: names[i].clone(),
                    operation: operation.to_string(),
                    expected: "a hashable key type".to_string(),
                    actual: types[i].clone(),
                });
            }
        }
        let converter = RowConverter::new(fields).map_err(|e| EngineError::arrow(table, e))?;
        Ok(KeyCodec {
            converter,
            cols,
            types,
        })
    }

    /// Whether there are no key columns (every row is in one group).
    pub fn is_empty(&self) -> bool {
        self.cols.is_empty()
    }

    /// Encodes the key columns of `batch`.
    pub fn encode(&self, batch: &RecordBatch) -> Result<Rows, arrow_schema::ArrowError> {
        let cols: Vec<ArrayRef> = self.cols.iter().map(|&c| batch.column(c).clone()).collect();
        self.converter.convert_columns(&cols)
    }

    /// Decodes encoded keys back into key columns.
    pub fn decode<'a>(
        &self,
        keys: impl IntoIterator<Item = &'a [u8]>,
    ) -> Result<Vec<ArrayRef>, arrow_schema::ArrowError> {
        let parser = self.converter.parser();
        let rows: Vec<_> = keys.into_iter().map(|k| parser.parse(k)).collect();
        if rows.is_empty() {
            return Ok(self
                .types
                .iter()
                .map(|t| arrow_array::new_empty_array(t))
                .collect());
        }
        self.converter.convert_rows(rows)
    }

    /// Renders one encoded key for messages, like `[AAPL, 3]`.
    pub fn render(&self, key: &[u8]) -> String {
        match self.decode([key]) {
            Ok(cols) => {
                let parts: Vec<String> = cols
                    .iter()
                    .map(|c| {
                        arrow_cast::display::array_value_to_string(c, 0)
                            .unwrap_or_else(|e| e.to_string())
                    })
                    .collect();
                format!("[{}]", parts.join(", "))
            }
            Err(e) => format!("<undecodable key: {e}>"),
        }
    }
}

/// Hash tables a [`GroupMap`] spreads its keys over.
///
/// A hash table that doubles rehashes every entry at once; with the keys
/// spread over this many tables (each storing its entries' hashes), one
/// doubling moves only 1/`SHARDS` of the groups, so a cycle that happens to
/// grow a table stalls for a small fraction of the table size.
const SHARDS: usize = 64;

/// Interns distinct encoded keys as dense group ids 0, 1, 2, ...
pub(crate) struct GroupMap {
    /// (hash tag, group) entries, sharded by the hash's bits 40..46; 8 bytes
    /// an entry, so more of a table stays in cache.
    shards: Vec<HashTable<(u32, Gid)>>,
    bytes: Vec<u8>,
    offsets: Vec<usize>,
    hasher: foldhash::fast::FixedState,
}

impl GroupMap {
    /// An empty map.
    pub fn new() -> Self {
        GroupMap {
            shards: (0..SHARDS).map(|_| HashTable::new()).collect(),
            bytes: Vec::new(),
            offsets: vec![0],
            hasher: foldhash::fast::FixedState::default(),
        }
    }

    /// Number of groups.
    pub fn len(&self) -> usize {
        self.offsets.len() - 1
    }

    /// Encoded key of group `g`.
    pub fn key(&self, g: Gid) -> &[u8] {
        &self.bytes[self.offsets[g as usize]..self.offsets[g as usize + 1]]
    }

    /// The shard of hash `h`, from bits 40..46. The tables themselves use
    /// the low bits (bucket position) and the top 7 bits (the tag their
    /// probes compare 16 at a time); sharding by either would leave every
    /// entry of a shard with the same bits there, so probes would have to
    /// read many entries to tell keys apart.
    fn shard(h: u64) -> usize {
        (h >> 40) as usize % SHARDS
    }

    /// The tag an entry keeps of its key's hash: the low 32 bits.
    fn tag(h: u64) -> u32 {
        h as u32
    }

    /// The hash a shard's table places a tag by: the tag spread over 64 bits
    /// (a bijection), so the table's position bits and its top-7-bit probe
    /// tags both depend on the whole tag, and a rehash needs no key.
    fn placement(tag: u32) -> u64 {
        u64::from(tag).wrapping_mul(0x9E37_79B9_7F4A_7C15)
    }

    /// The group of `key`, if known.
    pub fn get(&self, key: &[u8]) -> Option<Gid> {
        let h = self.hasher.hash_one(key);
        let t = Self::tag(h);
        self.shards[Self::shard(h)]
            .find(Self::placement(t), |&(et, g)| et == t && self.key(g) == key)
            .map(|&(_, g)| g)
    }

    /// The group of `key`, created if new; the flag says whether it was created.
    pub fn intern(&mut self, key: &[u8]) -> (Gid, bool) {
        let h = self.hasher.hash_one(key);
        let (bytes, offsets) = (&self.bytes, &self.offsets);
        let key_of = |g: Gid| &bytes[offsets[g as usize]..offsets[g as usize + 1]];
        let shard = &mut self.shards[Self::shard(h)];
        let t = Self::tag(h);
        if let Some(&(_, g)) =
            shard.find(Self::placement(t), |&(et, g)| et == t && key_of(g) == key)
        {
            return (g, false);
        }
        let g = (self.offsets.len() - 1) as Gid;
        self.bytes.extend_from_slice(key);
        self.offsets.push(self.bytes.len());
        shard.insert_unique(Self::placement(t), (t, g), |&(et, _)| Self::placement(et));
        (g, true)
    }

    /// Group ids for every row of `batch`, creating groups as needed.
    pub fn intern_batch(
        &mut self,
        codec: &KeyCodec,
        batch: &RecordBatch,
    ) -> Result<Vec<Gid>, arrow_schema::ArrowError> {
        if codec.is_empty() {
            if self.len() == 0 {
                self.intern(&[]);
            }
            return Ok(vec![0; batch.num_rows()]);
        }
        let rows = codec.encode(batch)?;
        Ok(rows.iter().map(|r| self.intern(r.as_ref()).0).collect())
    }

    /// Group ids for every row of `batch`; rows with unknown keys get `None`.
    pub fn lookup_batch(
        &self,
        codec: &KeyCodec,
        batch: &RecordBatch,
    ) -> Result<Vec<Option<Gid>>, arrow_schema::ArrowError> {
        if codec.is_empty() {
            return Ok(vec![(self.len() > 0).then_some(0); batch.num_rows()]);
        }
        let rows = codec.encode(batch)?;
        Ok(rows.iter().map(|r| self.get(r.as_ref())).collect())
    }
}
