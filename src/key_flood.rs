//! Key floods: requests with made-up keys must not reach Supabase, which the dashboard depends on
//! too. Two defences, both before any Supabase call:
//!
//! - `UnknownKeys`: a key hash Supabase just said does not exist is answered 401 from the
//!   isolate's memory for a few seconds (bounded LRU; short, so a key created in the dashboard
//!   works within seconds).
//! - `FailedAuths`: failed authentications are counted per client address (`CF-Connecting-IP`)
//!   and minute, in Redis (every isolate sees them) and in the isolate (which also holds while
//!   Redis is down). Past the limit, 429 with no Supabase call. Only failures are counted, after
//!   Supabase answers (the gate reads the count first): counting every attempt and taking
//!   successes back refused bursts of first requests with a new, valid key. The 429 comes after a
//!   pause (`REFUSAL_DELAY_MS`): waiting costs the Worker no CPU, and a flooder with a fixed
//!   number of connections is slowed to a trickle instead of crowding out real requests.
//!
//! A burst of first requests with one key must not reach Supabase in bulk either:
//! `LookupsInFlight` lets one request of an isolate look a key up while the others with the same
//! key wait for its answer.
//!
//! Pure: the glue (`worker_glue::auth`) passes the clock and Redis's counts.

use lru::LruCache;
use std::collections::{HashMap, HashSet};
use std::num::NonZeroUsize;

/// How long an unknown key is answered from memory.
pub const UNKNOWN_KEY_TTL_MS: u64 = 3_000;
/// Unknown keys remembered per isolate at most.
pub const MAX_UNKNOWN_KEYS: usize = 10_000;
/// Client addresses tracked per isolate at most (a flood of addresses cannot grow the map).
const MAX_ADDRESSES: usize = 10_000;
/// How long a refused address waits for its 429.
pub const REFUSAL_DELAY_MS: u64 = 500;
/// Redis keeps a minute's counter this long.
pub const COUNTER_TTL_SECS: u64 = 120;

/// The client's address as the edge reports it; requests without one (local development) share
/// one bucket.
pub fn client_address(cf_connecting_ip: Option<&str>) -> String {
    match cf_connecting_ip.map(str::trim) {
        Some(ip)
            if !ip.is_empty() && ip.len() <= 64 && ip.bytes().all(|b| b.is_ascii_graphic()) =>
        {
            ip.to_string()
        }
        _ => "unknown".into(),
    }
}

/// The minute window `now_ms` falls in, and the seconds until it ends.
pub fn window(now_ms: u64) -> (u64, u64) {
    let minute = now_ms / 60_000;
    (minute, ((minute + 1) * 60_000 - now_ms).div_ceil(1000))
}

/// Key hashes Supabase reported unknown, with when.
pub struct UnknownKeys {
    seen: LruCache<String, u64>,
}

impl Default for UnknownKeys {
    fn default() -> Self {
        UnknownKeys {
            seen: LruCache::new(NonZeroUsize::new(MAX_UNKNOWN_KEYS).unwrap_or(NonZeroUsize::MIN)),
        }
    }
}

impl UnknownKeys {
    pub fn remember(&mut self, key_hash: &str, now_ms: u64) {
        self.seen.put(key_hash.to_string(), now_ms);
    }

    /// Whether the key was reported unknown less than `UNKNOWN_KEY_TTL_MS` ago.
    pub fn is_unknown(&mut self, key_hash: &str, now_ms: u64) -> bool {
        match self.seen.get(key_hash) {
            Some(at) if now_ms.saturating_sub(*at) < UNKNOWN_KEY_TTL_MS => true,
            Some(_) => {
                self.seen.pop(key_hash);
                false
            }
            None => false,
        }
    }

    pub fn len(&self) -> usize {
        self.seen.len()
    }

    pub fn is_empty(&self) -> bool {
        self.seen.is_empty()
    }
}

/// Key hashes this isolate is looking up in Supabase now. Entries leave when their lookup ends
/// (the glue's guard), so the set holds at most the requests in flight.
#[derive(Debug, Default)]
pub struct LookupsInFlight {
    keys: HashSet<String>,
}

impl LookupsInFlight {
    /// Takes the lookup of `key_hash`: false if another request has it.
    pub fn start(&mut self, key_hash: &str) -> bool {
        self.keys.insert(key_hash.to_string())
    }

    pub fn finish(&mut self, key_hash: &str) {
        self.keys.remove(key_hash);
    }

    pub fn is_looking_up(&self, key_hash: &str) -> bool {
        self.keys.contains(key_hash)
    }
}

/// Failed authentications per client address in the current minute, as this isolate knows them.
#[derive(Default)]
pub struct FailedAuths {
    by_address: HashMap<String, (u64, u64)>,
}

impl FailedAuths {
    fn count(&self, address: &str, minute: u64) -> u64 {
        match self.by_address.get(address) {
            Some((m, n)) if *m == minute => *n,
            _ => 0,
        }
    }

    fn set(&mut self, address: &str, minute: u64, n: u64) {
        if self.by_address.len() >= MAX_ADDRESSES && !self.by_address.contains_key(address) {
            self.by_address.clear();
        }
        self.by_address.insert(address.to_string(), (minute, n));
    }

    /// Seconds to wait if `address` is past `limit` failures this minute; None if it may try.
    pub fn refused(&self, address: &str, limit: u64, now_ms: u64) -> Option<u64> {
        let (minute, retry_after) = window(now_ms);
        (self.count(address, minute) >= limit).then_some(retry_after)
    }

    /// One more failure seen by this isolate.
    pub fn failed(&mut self, address: &str, now_ms: u64) {
        let (minute, _) = window(now_ms);
        let n = self.count(address, minute) + 1;
        self.set(address, minute, n);
    }

    /// What Redis counts for every isolate this minute (the larger count wins).
    pub fn observed(&mut self, address: &str, now_ms: u64, count: u64) {
        let (minute, _) = window(now_ms);
        let n = self.count(address, minute).max(count);
        self.set(address, minute, n);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_come_from_the_edge_header() {
        assert_eq!(client_address(Some(" 203.0.113.7 ")), "203.0.113.7");
        assert_eq!(client_address(Some("2001:db8::1")), "2001:db8::1");
        assert_eq!(client_address(None), "unknown");
        assert_eq!(client_address(Some("")), "unknown");
        assert_eq!(client_address(Some("a b")), "unknown");
        assert_eq!(client_address(Some(&"1".repeat(65))), "unknown");
    }

    #[test]
    fn unknown_keys_are_remembered_briefly() {
        let mut u = UnknownKeys::default();
        u.remember("h1", 1_000);
        assert!(u.is_unknown("h1", 1_000 + UNKNOWN_KEY_TTL_MS - 1));
        assert!(
            !u.is_unknown("h1", 1_000 + UNKNOWN_KEY_TTL_MS),
            "a new key works within seconds"
        );
        assert!(u.is_empty(), "expired entries are dropped");
        assert!(!u.is_unknown("h2", 0));
    }

    #[test]
    fn unknown_keys_are_bounded() {
        let mut u = UnknownKeys::default();
        for i in 0..MAX_UNKNOWN_KEYS + 500 {
            u.remember(&format!("h{i}"), 0);
        }
        assert_eq!(u.len(), MAX_UNKNOWN_KEYS);
        assert!(!u.is_unknown("h0", 1), "the oldest went first");
        assert!(u.is_unknown(&format!("h{}", MAX_UNKNOWN_KEYS + 499), 1));
    }

    #[test]
    fn failures_past_the_limit_are_refused_until_the_minute_ends() {
        let mut f = FailedAuths::default();
        let t = 60_000 * 100 + 15_000; // 15 s into a minute
        for _ in 0..2 {
            assert_eq!(f.refused("a", 3, t), None);
            f.failed("a", t);
        }
        f.observed("a", t, 3); // other isolates saw one more
        assert_eq!(f.refused("a", 3, t), Some(45));
        assert_eq!(f.refused("b", 3, t), None, "per address");
        assert_eq!(f.refused("a", 3, t + 45_000), None, "a new minute");
        f.observed("a", t + 45_000, 1);
        f.failed("a", t + 45_000);
        assert_eq!(
            f.refused("a", 3, t + 45_000),
            None,
            "the larger count, not the sum"
        );
    }

    #[test]
    fn tracked_addresses_are_bounded() {
        let mut f = FailedAuths::default();
        for i in 0..MAX_ADDRESSES + 10 {
            f.failed(&format!("10.0.{}.{}", i / 256, i % 256), 0);
        }
        assert!(f.by_address.len() <= MAX_ADDRESSES);
    }

    #[test]
    fn one_lookup_per_key_at_a_time() {
        let mut l = LookupsInFlight::default();
        assert!(l.start("h1"), "the first request looks it up");
        assert!(!l.start("h1"), "the next one waits");
        assert!(l.is_looking_up("h1"));
        assert!(l.start("h2"), "another key is not held up");
        l.finish("h1");
        assert!(!l.is_looking_up("h1"));
        assert!(l.start("h1"), "after the answer, a later lookup may start");
    }

    #[test]
    fn windows_end_on_the_minute() {
        assert_eq!(window(120_000), (2, 60));
        assert_eq!(window(179_001), (2, 1));
    }
}
