//! What an isolate keeps between requests, in its own memory (never shared with another
//! isolate): the L1 of recent exact entries, each key's and project's request budget, and each
//! project's cache state as Redis last confirmed it.
//!
//! A purge bumps the project's state in Redis and returns only after `CONFIRMED_MS` (plus a
//! margin), and an isolate serves from L1 only under a state it confirmed less than
//! `CONFIRMED_MS` ago (timed from before it asked): so after a purge returns, no isolate can
//! serve an entry stored before it.

use crate::budget::Budget;
use crate::cache_entry::CacheEntry;
use crate::l1::{Stamp, L1};
use std::cell::RefCell;
use std::collections::{HashMap, HashSet};
use std::rc::Rc;

/// How long a confirmed cache state is trusted.
pub const CONFIRMED_MS: u64 = 1_000;
/// Bytes the L1 may hold per isolate (isolates have 128 MB).
const L1_BYTES: usize = 16 * 1024 * 1024;
/// Budgets and states kept at most (a flood of keys cannot grow them without bound).
const MAX_TRACKED: usize = 10_000;

/// An entry about to be served, with its answer already serialised for a JSON response.
pub struct Remembered {
    pub entry: CacheEntry,
    pub json: Rc<Vec<u8>>,
}

impl Remembered {
    pub fn new(entry: CacheEntry) -> Remembered {
        let json = Rc::new(entry.answer.to_string().into_bytes());
        Remembered { entry, json }
    }

    /// For the L1: the answer kept once, as its bytes (a parsed JSON value takes several times
    /// the memory, and the L1's bound counts bytes).
    fn compact(entry: CacheEntry) -> Remembered {
        let json = Rc::new(entry.answer.to_string().into_bytes());
        let entry = CacheEntry {
            answer: serde_json::Value::Null,
            ..entry
        };
        Remembered { entry, json }
    }

    /// The answer as a JSON value (parsed again from its bytes if it was kept compact).
    pub fn answer(&self) -> std::borrow::Cow<'_, serde_json::Value> {
        if self.entry.answer.is_null() {
            std::borrow::Cow::Owned(serde_json::from_slice(&self.json).unwrap_or_default())
        } else {
            std::borrow::Cow::Borrowed(&self.entry.answer)
        }
    }

    /// Bytes it takes in memory, near enough for the L1's bound.
    fn size(&self) -> usize {
        const OVERHEAD: usize = 256;
        self.json.len() + self.entry.provider.len() + self.entry.model.len() + OVERHEAD
    }
}

#[derive(Clone, Copy)]
struct Confirmed {
    stamp: Stamp,
    at_ms: u64,
}

thread_local! {
    static L1_CACHE: RefCell<L1<Rc<Remembered>>> = RefCell::new(L1::new(L1_BYTES));
    static BUDGETS: RefCell<HashMap<String, Budget>> = RefCell::new(HashMap::new());
    static STATES: RefCell<HashMap<String, Confirmed>> = RefCell::new(HashMap::new());
    static SYNCING: RefCell<HashSet<String>> = RefCell::new(HashSet::new());
}

fn bounded<K: std::hash::Hash + Eq, V>(map: &mut HashMap<K, V>) {
    if map.len() >= MAX_TRACKED {
        map.clear();
    }
}

/// The project's cache state, if it was confirmed recently enough to serve from memory.
pub fn confirmed(project_id: &str, now_ms: u64) -> Option<Stamp> {
    STATES.with(|s| {
        s.borrow()
            .get(project_id)
            .filter(|c| now_ms.saturating_sub(c.at_ms) < CONFIRMED_MS)
            .map(|c| c.stamp)
    })
}

/// Whether the project's state is past half its trust: time to confirm it again in the background.
pub fn confirmation_due(project_id: &str, now_ms: u64) -> bool {
    STATES.with(|s| {
        s.borrow()
            .get(project_id)
            .is_none_or(|c| now_ms.saturating_sub(c.at_ms) * 2 >= CONFIRMED_MS)
    })
}

/// Records the state Redis reported to a call sent at `asked_at_ms`.
pub fn confirm(project_id: &str, stamp: Stamp, asked_at_ms: u64) {
    STATES.with(|s| {
        let mut s = s.borrow_mut();
        bounded(&mut s);
        let newer = s.get(project_id).is_none_or(|c| c.at_ms <= asked_at_ms);
        if newer {
            s.insert(
                project_id.to_string(),
                Confirmed {
                    stamp,
                    at_ms: asked_at_ms,
                },
            );
        }
    });
}

/// Forgets a project's state (after this isolate purged it).
pub fn forget(project_id: &str) {
    STATES.with(|s| s.borrow_mut().remove(project_id));
}

/// Runs `f` on the budget named `name`.
pub fn budget<T>(name: &str, f: impl FnOnce(&mut Budget) -> T) -> T {
    BUDGETS.with(|b| {
        let mut b = b.borrow_mut();
        if !b.contains_key(name) {
            bounded(&mut b);
        }
        f(b.entry(name.to_string()).or_default())
    })
}

/// Claims the right to sync `name` in the background (one sync in flight per name).
pub fn start_sync(name: &str) -> bool {
    SYNCING.with(|s| s.borrow_mut().insert(name.to_string()))
}

pub fn end_sync(name: &str) {
    SYNCING.with(|s| s.borrow_mut().remove(name));
}

/// What this isolate holds, for `/health`: its WebAssembly memory (which only grows), and the L1's
/// entries and bytes, against their bounds.
pub fn memory() -> serde_json::Value {
    let wasm_bytes = core::arch::wasm32::memory_size::<0>() * 65_536;
    let (entries, bytes) = L1_CACHE.with(|c| {
        let c = c.borrow();
        (c.len(), c.bytes())
    });
    serde_json::json!({
        "wasm_memory_mib": wasm_bytes as f64 / 1_048_576.0,
        "l1_entries": entries,
        "l1_mib": bytes as f64 / 1_048_576.0,
        "l1_limit_mib": L1_BYTES / 1_048_576,
        "budgets": BUDGETS.with(|b| b.borrow().len()),
    })
}

/// The entry under `key`, if it is fresh and of `stamp`.
pub fn recall(key: &str, now_ms: u64, stamp: Stamp) -> Option<Rc<Remembered>> {
    L1_CACHE.with(|c| c.borrow_mut().get(key, now_ms, stamp).cloned())
}

/// Keeps an entry for `ttl_ms` under `stamp`.
pub fn remember(key: String, entry: CacheEntry, ttl_ms: u64, now_ms: u64, stamp: Stamp) {
    let value = Rc::new(Remembered::compact(entry));
    let size = value.size();
    L1_CACHE.with(|c| {
        c.borrow_mut()
            .insert(key, value, size, now_ms.saturating_add(ttl_ms), stamp);
    });
}
