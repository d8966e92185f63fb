//! The isolate's own copy of recent exact-cache entries (L1), so a hot prompt is answered with no
//! round trip at all. Bounded in bytes (least recently used out first), scoped like the Redis keys
//! (the project and the request hash are the key), never past an entry's remaining TTL, and only
//! while the project's cache state it was stored under is still the one Redis has: every entry
//! remembers the project's generation and purge epoch, and the caller passes the ones it has
//! confirmed recently (see `budget` and the pipeline's lookup).

use lru::LruCache;

/// What one entry costs in memory, roughly: the key, the value's bytes (as its owner counts them)
/// and the slot.
fn weight<V>(key: &str, slot_bytes: usize) -> usize {
    key.len() + slot_bytes + std::mem::size_of::<V>()
}

/// Which cache state an entry belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Stamp {
    pub generation: u64,
    pub epoch: u64,
}

struct Slot<V> {
    value: V,
    weight: usize,
    expires_at_ms: u64,
    stamp: Stamp,
}

pub struct L1<V> {
    entries: LruCache<String, Slot<V>>,
    bytes: usize,
    budget: usize,
}

impl<V> L1<V> {
    /// An empty cache of at most `budget` bytes.
    pub fn new(budget: usize) -> L1<V> {
        L1 {
            entries: LruCache::unbounded(),
            bytes: 0,
            budget,
        }
    }

    /// The entry under `key`, if it has not expired and belongs to `stamp`; anything else found
    /// there is dropped.
    pub fn get(&mut self, key: &str, now_ms: u64, stamp: Stamp) -> Option<&V> {
        let fresh = self
            .entries
            .peek(key)
            .map(|s| s.expires_at_ms > now_ms && s.stamp == stamp)?;
        if !fresh {
            self.remove(key);
            return None;
        }
        self.entries.get(key).map(|s| &s.value)
    }

    /// Keeps `value` (about `size` bytes) until `expires_at_ms`, evicting the least recently used
    /// entries beyond the budget. An entry bigger than a quarter of the budget is not kept.
    pub fn insert(&mut self, key: String, value: V, size: usize, expires_at_ms: u64, stamp: Stamp) {
        let weight = weight::<V>(&key, size);
        if weight * 4 > self.budget {
            return;
        }
        self.remove(&key);
        self.bytes += weight;
        self.entries.put(
            key,
            Slot {
                value,
                weight,
                expires_at_ms,
                stamp,
            },
        );
        while self.bytes > self.budget {
            match self.entries.pop_lru() {
                Some((_, evicted)) => self.bytes -= evicted.weight,
                None => break,
            }
        }
    }

    pub fn remove(&mut self, key: &str) {
        if let Some(slot) = self.entries.pop(key) {
            self.bytes -= slot.weight;
        }
    }

    /// Bytes held (for tests and figures).
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: Stamp = Stamp {
        generation: 1,
        epoch: 1,
    };

    #[test]
    fn serves_until_expiry_and_only_under_its_stamp() {
        let mut l1 = L1::new(1 << 20);
        l1.insert("p1:h".into(), "answer", 10, 1_000, S);
        assert_eq!(l1.get("p1:h", 999, S), Some(&"answer"));
        assert_eq!(l1.get("p2:h", 999, S), None, "another project's key");
        let purged = Stamp { epoch: 2, ..S };
        assert_eq!(l1.get("p1:h", 999, purged), None, "after a purge");
        assert!(l1.is_empty(), "and dropped");
        l1.insert("p1:h".into(), "answer", 10, 1_000, S);
        assert_eq!(l1.get("p1:h", 1_000, S), None, "expired");
        assert_eq!(l1.bytes(), 0);
    }

    #[test]
    fn bounded_in_bytes_least_recently_used_out() {
        let mut l1 = L1::new(10_000);
        for i in 0..100 {
            l1.insert(format!("k{i}"), i, 200, u64::MAX, S);
            assert!(l1.bytes() <= 10_000);
        }
        assert!(l1.len() < 100 && l1.len() > 5);
        assert_eq!(l1.get("k0", 0, S), None, "the oldest went first");
        assert_eq!(l1.get("k99", 0, S), Some(&99));
        l1.insert("huge".into(), 0, 5_000, u64::MAX, S);
        assert_eq!(l1.get("huge", 0, S), None, "too big to keep");
    }

    #[test]
    fn replacing_an_entry_keeps_the_count_right() {
        let mut l1 = L1::new(100_000);
        l1.insert("k".into(), 1, 100, u64::MAX, S);
        let before = l1.bytes();
        l1.insert("k".into(), 2, 100, u64::MAX, S);
        assert_eq!((l1.bytes(), l1.get("k", 0, S)), (before, Some(&2)));
        l1.remove("k");
        assert_eq!(l1.bytes(), 0);
    }
}
