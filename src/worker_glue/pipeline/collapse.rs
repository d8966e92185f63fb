//! Stage 4, collapse: concurrent identical misses make one upstream call. The first takes a
//! short-lived lock in Redis (in the lookup's round trip) and goes upstream; the others wait for
//! its answer to be stored and
//! are served it as a HIT (`collapsed`), or go upstream themselves if the leader ends without a
//! cacheable answer. Redis rather than isolate memory, because identical requests land on
//! different isolates and Workers forbid one request from resolving I/O on another's behalf.

use super::admit::Admitted;
use super::lookup::{Found, Hit};
use super::Exchange;
use crate::cache_entry::CacheEntry;
use crate::keys::{self, Keyspace};
use crate::lookup_plan::{LeaderPoll, LockState};
use crate::watchllm_headers::{CacheDetail, CacheStatus};
use crate::worker_glue::isolate::Remembered;
use crate::worker_glue::upstash::Upstash;
use std::rc::Rc;
use std::time::Duration;
use worker::Delay;
use worker_util::now_ms;

/// A follower's first pause, and the longest.
const FIRST_POLL_MS: u64 = 10;
const LONGEST_POLL_MS: u64 = 200;

/// Waits for the leader's answer when another identical request holds the lock (the lookup took
/// it for this request, or found it held, in its round trip).
pub async fn collapse(ex: &mut Exchange, a: &Admitted, found: &Found) -> Option<Hit> {
    if found.lock != LockState::HeldByAnother {
        return None;
    }
    let ks = Keyspace {
        project_id: &a.record.project_id,
        generation: found.stamp.generation,
    };
    let entry_key = ks.entry(a.request.endpoint.name(), &a.entry_hash);
    let poll = LeaderPoll {
        lock_key: keys::inflight(&entry_key),
        entry_key,
    };
    let wait_ms = ex.cfg.upstream_timeout(a.route.provider);
    let fresh = |e: &CacheEntry| a.controls.serves_fresh(e, now_ms());
    let entry = wait_for_leader(&ex.cfg.redis(), &poll, wait_ms, fresh).await?;
    Some(Hit {
        entry: Rc::new(Remembered::new(entry)),
        status: CacheStatus::Hit,
        similarity: None,
        detail: CacheDetail::Collapsed,
    })
}

/// Polls (with growing pauses) until the leader's answer is stored, the lock is gone without
/// an answer, or `max_wait_ms` passes. An entry that is not `fresh` is the one the leader is
/// replacing (kept past its expiry for `stale-if-error`), not its answer.
async fn wait_for_leader(
    redis: &Upstash<'_>,
    poll: &LeaderPoll,
    max_wait_ms: u64,
    fresh: impl Fn(&CacheEntry) -> bool,
) -> Option<CacheEntry> {
    let start = now_ms();
    let mut pause = FIRST_POLL_MS;
    loop {
        Delay::from(Duration::from_millis(pause)).await;
        let replies = redis.pipeline(&poll.commands()).await.ok()?;
        let seen = poll.decode(&replies).ok()?;
        if let Some(entry) = seen.entry.filter(|e| fresh(e)) {
            return Some(entry);
        }
        if !seen.lock_held || now_ms().saturating_sub(start) >= max_wait_ms {
            return None;
        }
        pause = (pause * 3 / 2).min(LONGEST_POLL_MS);
    }
}
