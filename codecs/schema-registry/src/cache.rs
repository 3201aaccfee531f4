//! A bounded, least-recently-used cache for what decoders keep per wire
//! schema id (Avro programs, Protobuf plans). The ids come from the
//! messages, so without a bound random ids would grow memory forever.
//!
//! Entries live in numbered slots that stay put until evicted, so a decoder
//! can keep the slot of the schema it used last and skip the lookup while
//! the same id repeats. Only a new key evicts, and it evicts the least
//! recently used slot: never the one just used, whenever the capacity is at
//! least 2.

use std::collections::HashMap;
use std::hash::Hash;

/// Most writer schemas a decoder keeps (per decoder, so per table).
pub const MAX_CACHED_SCHEMAS: usize = 1024;

struct Slot<K, V> {
    key: K,
    value: V,
    used: u64,
}

/// A map of at most `capacity` entries that evicts the least recently used.
pub struct SchemaCache<K, V> {
    capacity: usize,
    index: HashMap<K, usize>,
    slots: Vec<Slot<K, V>>,
    clock: u64,
}

impl<K: Hash + Eq + Clone, V> SchemaCache<K, V> {
    /// An empty cache of at most `capacity` entries (at least 2).
    pub fn new(capacity: usize) -> Self {
        Self {
            capacity: capacity.max(2),
            index: HashMap::new(),
            slots: Vec::new(),
            clock: 0,
        }
    }

    /// The slot of `key`, marked as just used.
    pub fn find(&mut self, key: &K) -> Option<usize> {
        let slot = *self.index.get(key)?;
        self.clock += 1;
        self.slots[slot].used = self.clock;
        Some(slot)
    }

    /// The value in `slot` (from [`Self::find`] or [`Self::insert`]).
    pub fn get(&self, slot: usize) -> &V {
        &self.slots[slot].value
    }

    /// Replaces the value in `slot`.
    pub fn set(&mut self, slot: usize, value: V) {
        self.slots[slot].value = value;
    }

    /// Adds `key` (which must not be cached) and returns its slot, evicting
    /// the least recently used entry when the cache is full.
    pub fn insert(&mut self, key: K, value: V) -> usize {
        self.clock += 1;
        let used = self.clock;
        if self.slots.len() < self.capacity {
            self.index.insert(key.clone(), self.slots.len());
            self.slots.push(Slot { key, value, used });
            return self.slots.len() - 1;
        }
        let (slot, _) = self
            .slots
            .iter()
            .enumerate()
            .min_by_key(|(_, s)| s.used)
            .expect("a full cache has slots");
        self.index.remove(&self.slots[slot].key);
        self.index.insert(key.clone(), slot);
        self.slots[slot] = Slot { key, value, used };
        slot
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.slots.len()
    }

    /// Whether the cache holds nothing.
    pub fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }

    /// The cached keys, in no particular order.
    pub fn keys(&self) -> impl Iterator<Item = &K> {
        self.slots.iter().map(|s| &s.key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn evicts_the_least_recently_used_and_keeps_slots() {
        let mut cache = SchemaCache::new(3);
        let a = cache.insert(1u32, "a");
        let b = cache.insert(2, "b");
        cache.insert(3, "c");
        assert_eq!(cache.find(&1), Some(a));
        // 2 is now the least recently used.
        let d = cache.insert(4, "d");
        assert_eq!(d, b);
        assert_eq!(cache.find(&2), None);
        let a_again = cache.find(&1).unwrap();
        assert_eq!(cache.get(a_again), &"a");
        assert_eq!(cache.get(d), &"d");
        assert_eq!(cache.len(), 3);
    }

    #[test]
    fn random_keys_never_grow_it_past_its_capacity() {
        let mut cache = SchemaCache::new(64);
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        for _ in 0..100_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let key = x as u32;
            if cache.find(&key).is_none() {
                cache.insert(key, ());
            }
            assert!(cache.len() <= 64);
        }
        assert_eq!(cache.index.len(), 64);
    }
}
