//! Stage 2, lookup: one Redis round trip (the rate-limit counter, the exact entry, the in-Worker
//! embedder's semantic buckets), the rate-limit decision, and the semantic decision over the
//! candidates (a hosted embedder's vector and buckets come after the exact lookup misses).
//! Redis down: no cache and no limit, the request is served anyway (fail open).

use super::admit::Admitted;
use super::Exchange;
use crate::cache_entry::CacheEntry;
use crate::error::ApiError;
use crate::lookup_plan::{self, LookupPlan};
use crate::models::Provider;
use crate::rate_limit;
use crate::semantic::{self, Candidate, SemanticQuery};
use crate::watchllm_headers::{CacheDetail, CacheStatus};
use crate::worker_glue::auth::KeyRecord;
use crate::worker_glue::config::Config;
use crate::worker_glue::upstash::Upstash;
use worker::Context;
use worker_util::Outbound;

/// An answer found in the cache.
pub struct Hit {
    pub entry: CacheEntry,
    pub status: CacheStatus,
    pub similarity: Option<f64>,
    pub detail: CacheDetail,
}

/// What the lookup found.
pub struct Found {
    pub hit: Option<Hit>,
    /// Whether Redis answered (else: no cache, no limit).
    pub redis_up: bool,
    /// The query the miss's answer is stored under, and its buckets.
    pub semantic: Option<SemanticQuery>,
    pub buckets: Vec<String>,
}

pub async fn lookup(ex: &mut Exchange, ctx: &Context, a: &Admitted) -> Result<Found, ApiError> {
    let reads = a.controls.reads_cache();
    let mut semantic = a.semantic.clone();
    let mut buckets = match &semantic {
        Some(q) if !a.hosted_embedder => semantic::bucket_keys(&a.record.project_id, q),
        _ => Vec::new(),
    };
    let plan = LookupPlan {
        project_id: a.record.project_id.clone(),
        rate_counter: rate_limit::counter_key(&a.key_hash, ex.start_ms),
        entry_key: reads.then(|| a.entry_key.clone()),
        buckets: if reads { buckets.clone() } else { Vec::new() },
    };
    let cfg = ex.cfg.clone();
    let redis = cfg.redis();
    let found = match redis.pipeline(&plan.commands()).await {
        Ok(replies) => plan.decode(&replies).map_err(|e| e.to_string()),
        Err(e) => Err(e.to_string()),
    };
    let found = match found {
        Ok(f) => Some(f),
        Err(e) => {
            worker::console_warn!("redis unavailable, serving without cache or rate limit: {e}");
            None
        }
    };
    let redis_up = found.is_some();
    let miss = |semantic, buckets| Found {
        hit: None,
        redis_up,
        semantic,
        buckets,
    };
    let Some(found) = found else {
        return Ok(miss(semantic, buckets));
    };

    if let Some(count) = found.count {
        let decision = rate_limit::decide(count, a.record.requests_per_minute, ex.start_ms);
        ex.response_headers.extend(decision.headers());
        if !decision.allowed {
            return Err(ApiError::rate_limited(decision.limit, decision.reset_secs));
        }
    }
    if let Some(entry) = found.entry {
        return Ok(Found {
            hit: Some(Hit {
                entry,
                status: CacheStatus::Hit,
                similarity: None,
                detail: CacheDetail::Served,
            }),
            ..miss(semantic, buckets)
        });
    }

    let mut candidates = found.candidates;
    if a.hosted_embedder && !a.controls.bypass {
        semantic = match &semantic {
            Some(q) => hosted_query(&ex.cfg, &a.record, q).await,
            None => None,
        };
        buckets = semantic
            .as_ref()
            .map(|q| semantic::bucket_keys(&a.record.project_id, q))
            .unwrap_or_default();
        if reads && !buckets.is_empty() {
            candidates = read_buckets(&redis, &a.record.project_id, &buckets).await;
        }
    }
    if let (Some(q), true) = (&semantic, reads) {
        if let Some(hit) = semantic_hit(ex, ctx, &redis, a, q, &candidates, &buckets).await {
            return Ok(Found {
                hit: Some(hit),
                ..miss(semantic, buckets)
            });
        }
    }
    Ok(miss(semantic, buckets))
}

/// The hosted embedder's buckets, read in a second round trip.
async fn read_buckets(redis: &Upstash<'_>, project_id: &str, buckets: &[String]) -> Vec<Candidate> {
    let reads: Vec<Vec<String>> = buckets
        .iter()
        .map(|b| vec!["HGETALL".to_string(), b.clone()])
        .collect();
    let replies = redis.pipeline(&reads).await.unwrap_or_default();
    replies
        .iter()
        .filter_map(|r| r.as_ref().ok())
        .flat_map(|r| lookup_plan::bucket_candidates(project_id, r))
        .collect()
}

/// The best candidate the decision lets through, with its entry (read by its key); an entry
/// that has expired since is dropped from its buckets.
async fn semantic_hit(
    ex: &Exchange,
    ctx: &Context,
    redis: &Upstash<'_>,
    a: &Admitted,
    q: &SemanticQuery,
    candidates: &[Candidate],
    buckets: &[String],
) -> Option<Hit> {
    let project_prefix = semantic::entry_key_for(&a.record.project_id, "");
    let (candidate, similarity) =
        semantic::best_match(q, candidates, a.controls.threshold, &project_prefix)?;
    match redis.command(&["GET", &candidate.entry_key]).await {
        Ok(serde_json::Value::String(text)) => CacheEntry::from_json(&text).map(|entry| Hit {
            entry,
            status: CacheStatus::HitSemantic,
            similarity: Some(similarity as f64),
            detail: CacheDetail::Served,
        }),
        Ok(_) => {
            forget_expired(ex, ctx, buckets, &candidate.entry_key);
            None
        }
        Err(e) => {
            worker::console_warn!("semantic candidate fetch failed: {e}");
            None
        }
    }
}

/// Drops a bucket field whose entry has expired, off the hot path.
fn forget_expired(ex: &Exchange, ctx: &Context, buckets: &[String], entry_key: &str) {
    let cfg = ex.cfg.clone();
    let cmds = lookup_plan::forget_commands(buckets, entry_key);
    ctx.wait_until(async move {
        let _ = cfg.redis().pipeline(&cmds).await;
    });
}

/// The query with the project's hosted embedding (OpenAI `/v1/embeddings`, the project's key) in
/// place of the local vector; None (no semantic lookup or store for this request) when the call
/// fails: a hosted embedder's outage degrades to exact caching, never to an error.
async fn hosted_query(
    cfg: &Config,
    record: &KeyRecord,
    q: &SemanticQuery,
) -> Option<SemanticQuery> {
    let key = super::forward::project_key(cfg, record, Provider::OpenAi).ok()?;
    let out = Outbound::post(format!("{}/embeddings", cfg.base_url(Provider::OpenAi)))
        .bearer(&key)
        .json(&semantic::hosted_embedding_request(q))
        .deadline_ms(cfg.embedding_timeout_ms);
    match worker_util::http::send(&out)
        .await
        .and_then(|r| r.success())
    {
        Ok(reply) => semantic::with_hosted_vector(q, &reply.json().ok()?),
        Err(e) => {
            worker::console_warn!("hosted embedder unavailable: {e}");
            None
        }
    }
}
