//! Stage 7, store: where a miss's answer goes (its exact key, its semantic buckets, how long) and
//! writing it, inside `wait_until`, so no response waits for it. Buckets that grow past their cap
//! lose random fields other than the new one.

use super::admit::Admitted;
use super::lookup::Found;
use crate::cache_entry::CacheEntry;
use crate::controls;
use crate::keys::Keyspace;
pub use crate::lookup_plan::StorePlan;
use crate::request::Endpoint;
use crate::semantic;
use crate::worker_glue::config::Config;
use crate::worker_glue::isolate;
use worker_util::now_ms;

/// Where and how long this request's answer is stored; None when it is not (Redis down, bypass).
pub fn plan(a: &Admitted, found: &Found) -> Option<StorePlan> {
    if !found.redis_up || !a.controls.writes_cache() {
        return None;
    }
    let endpoint = a.request.endpoint;
    let default_secs = match endpoint {
        Endpoint::Embeddings => endpoint.cache_ttl_secs(),
        _ => a.record.cache_ttl_secs.unwrap_or(endpoint.cache_ttl_secs()),
    };
    let fresh_secs = a.controls.ttl_secs.unwrap_or(default_secs);
    let ks = Keyspace {
        project_id: &a.record.project_id,
        generation: found.stamp.generation,
    };
    Some(StorePlan {
        key: ks.entry(endpoint.name(), &a.entry_hash),
        fresh_secs,
        ttl_secs: controls::kept_for_secs(fresh_secs),
        semantic: found
            .semantic
            .as_ref()
            .map(|q| (found.buckets.clone(), semantic::encode_record(q))),
        lock: None,
        stamp: found.stamp,
    })
}

/// Writes the entry (with its expiry) and its bucket fields (one pipeline), releases the lock,
/// keeps the entry in this isolate's memory while it is fresh (under the cache state it was looked
/// up in), trims buckets.
pub async fn store(cfg: &Config, plan: &StorePlan, entry: CacheEntry) {
    let redis = cfg.redis();
    let entry = plan.expiring(entry);
    let replies = match redis.pipeline(&plan.commands(&entry.to_stored())).await {
        Ok(r) => r,
        Err(e) => return worker::console_warn!("cache store failed: {e}"),
    };
    isolate::remember(
        plan.key.clone(),
        entry,
        plan.fresh_secs * 1000,
        now_ms(),
        plan.stamp,
    );
    for (bucket, excess) in plan.overfull(&replies) {
        let picked = redis
            .command(&["HRANDFIELD", &bucket, &excess.to_string()])
            .await;
        if let Some(trim) = picked.ok().and_then(|f| plan.trim_command(&bucket, &f)) {
            let _ = redis.pipeline(&[trim]).await;
        }
    }
}
