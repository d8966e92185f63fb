//! Stage 4, collapse: concurrent identical misses make one upstream call. The first takes a
//! short-lived lock in Redis and goes upstream; the others wait for its answer to be stored and
//! are served it as a HIT (`collapsed`), or go upstream themselves if the leader ends without a
//! cacheable answer. Redis rather than isolate memory, because identical requests land on
//! different isolates and Workers forbid one request from resolving I/O on another's behalf.

use super::admit::Admitted;
use super::lookup::{Found, Hit};
use super::Exchange;
use crate::cache_entry::CacheEntry;
use crate::lookup_plan::{self, LeaderPoll};
use crate::watchllm_headers::{CacheDetail, CacheStatus};
use crate::worker_glue::upstash::Upstash;
use std::time::Duration;
use worker::Delay;
use worker_util::now_ms;

/// A follower's first pause, and the longest.
const FIRST_POLL_MS: u64 = 10;
const LONGEST_POLL_MS: u64 = 200;

/// Takes the lock (this request leads: `ex.lock`), or waits for the leader's answer.
pub async fn collapse(ex: &mut Exchange, a: &Admitted, found: &Found) -> Option<Hit> {
    if !found.redis_up || !a.controls.reads_cache() {
        return None;
    }
    let lock_key = lookup_plan::inflight_key(&a.entry_key);
    let wait_ms = ex.cfg.upstream_timeout(a.route.provider);
    let redis = ex.cfg.redis();
    let lock = lookup_plan::lock_command(&lock_key, &ex.request_id, wait_ms + 1_000);
    let taken = match redis.pipeline(&[lock]).await {
        Ok(replies) => replies
            .first()
            .and_then(|r| r.as_ref().ok())
            .and_then(lookup_plan::lock_taken),
        Err(e) => {
            worker::console_warn!("in-flight lock unavailable: {e}");
            None
        }
    };
    match taken {
        Some(true) => {
            ex.lock = Some(lock_key);
            None
        }
        Some(false) => {
            let poll = LeaderPoll {
                entry_key: a.entry_key.clone(),
                lock_key,
            };
            wait_for_leader(&redis, &poll, wait_ms)
                .await
                .map(|entry| Hit {
                    entry,
                    status: CacheStatus::Hit,
                    similarity: None,
                    detail: CacheDetail::Collapsed,
                })
        }
        None => None,
    }
}

/// Polls (with growing pauses) until the leader's answer is stored, the lock is gone without
/// an answer, or `max_wait_ms` passes.
async fn wait_for_leader(
    redis: &Upstash<'_>,
    poll: &LeaderPoll,
    max_wait_ms: u64,
) -> Option<CacheEntry> {
    let start = now_ms();
    let mut pause = FIRST_POLL_MS;
    loop {
        Delay::from(Duration::from_millis(pause)).await;
        let replies = redis.pipeline(&poll.commands()).await.ok()?;
        let seen = poll.decode(&replies).ok()?;
        if let Some(entry) = seen.entry {
            return Some(entry);
        }
        if !seen.lock_held || now_ms().saturating_sub(start) >= max_wait_ms {
            return None;
        }
        pause = (pause * 3 / 2).min(LONGEST_POLL_MS);
    }
}
