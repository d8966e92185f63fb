//! Stage 2, lookup: everything a request needs from Redis, in one atomic round trip or none.
//!
//! - From memory, no round trip: an exact entry this isolate holds (L1), under the project's cache
//!   state confirmed less than a second ago, with a request left in both budgets' leases. When a
//!   lease runs low or the state's confirmation ages, it is renewed in the background.
//! - Else the lookup script (`LookupPlan`): the budgets synced (rate limit and monthly quota), the
//!   cache state, the exact entry, the in-Worker embedder's bucket with its first entries, and on
//!   a miss the in-flight lock. Then the semantic decision, with no second round trip when the
//!   best candidate's entry came with its bucket. (A hosted embedder's vector and buckets come
//!   after the exact entry misses.)
//!
//! Redis down: no cache, no limits, the request is served anyway (fail open).

use super::admit::Admitted;
use super::Exchange;
use crate::budget::{self, Lease};
use crate::cache_entry::CacheEntry;
use crate::error::ApiError;
use crate::keys::{self, Keyspace};
use crate::l1::Stamp;
use crate::lookup_plan::{self, BudgetSync, LockState, LookupPlan};
use crate::models::Provider;
use crate::quota;
use crate::rate_limit::{self, Decision};
use crate::semantic::{self, Candidate, SemanticQuery};
use crate::watchllm_headers::{CacheDetail, CacheStatus};
use crate::worker_glue::auth::KeyRecord;
use crate::worker_glue::background::after_response;
use crate::worker_glue::config::Config;
use crate::worker_glue::isolate::{self, Remembered};
use crate::worker_glue::upstash::Upstash;
use std::rc::Rc;
use worker::Context;
use worker_util::{now_ms, Outbound};

/// Entries the script reads with each bucket (a bucket mostly holds one or two).
const FETCH_PER_BUCKET: usize = 4;

/// An answer found in the cache.
pub struct Hit {
    pub entry: Rc<Remembered>,
    pub status: CacheStatus,
    pub similarity: Option<f64>,
    pub detail: CacheDetail,
}

/// What the lookup found.
pub struct Found {
    pub hit: Option<Hit>,
    /// Whether Redis answered (else: no cache, no limits).
    pub redis_up: bool,
    /// The project's cache state the answer is stored under.
    pub stamp: Stamp,
    pub lock: LockState,
    /// The query the miss's answer is stored under, and its buckets' keys.
    pub semantic: Option<SemanticQuery>,
    pub buckets: Vec<String>,
    /// An entry found past its freshness, for `stale-if-error` if the provider fails.
    pub stale: Option<Hit>,
}

/// The request's two budgets, by name, window and limit.
struct Budgets {
    rate: (String, u64, u64),
    quota: Option<(String, u64, u64, String)>,
}

impl Budgets {
    fn of(a: &Admitted, now: u64) -> Budgets {
        let r = &a.record;
        Budgets {
            rate: (
                keys::rate_counter(&a.key_hash, rate_limit::window(now)),
                rate_limit::window(now),
                r.requests_per_minute,
            ),
            quota: r.monthly_requests.map(|limit| {
                let month = quota::month(now);
                (
                    keys::quota_counter(&r.project_id, &r.key_kind, month),
                    month as u64,
                    limit,
                    r.quota_plan.clone().unwrap_or_default(),
                )
            }),
        }
    }

    /// Whether both leases have a request left for one more, without asking Redis.
    fn in_hand(&self) -> bool {
        let (name, window, _) = &self.rate;
        let rate = isolate::budget(name, |b| !b.is_empty(*window));
        rate && self
            .quota
            .as_ref()
            .is_none_or(|(name, window, ..)| isolate::budget(name, |b| !b.is_empty(*window)))
    }

    /// Whether either lease runs low (renew it in the background).
    fn low(&self) -> bool {
        let (name, window, limit) = &self.rate;
        isolate::budget(name, |b| b.is_low(*window, budget::lease_size(*limit)))
            || self.quota.as_ref().is_some_and(|(name, window, limit, _)| {
                isolate::budget(name, |b| b.is_low(*window, budget::lease_size(*limit)))
            })
    }

    fn sync(name: &str, window: u64, limit: u64, ttl_secs: u64) -> BudgetSync {
        isolate::budget(name, |b| BudgetSync {
            key: name.to_string(),
            report: b.report(window),
            want: budget::lease_size(limit),
            limit,
            ttl_secs,
            need: b.is_empty(window),
        })
    }

    /// The syncs to send, taking what this isolate has to report.
    fn syncs(&self, now: u64) -> (BudgetSync, Option<BudgetSync>) {
        let (name, window, limit) = &self.rate;
        let rate = Self::sync(name, *window, *limit, rate_limit::COUNTER_TTL_SECS);
        let quota = self.quota.as_ref().map(|(name, window, limit, _)| {
            Self::sync(name, *window, *limit, quota::counter_ttl_secs(now))
        });
        (rate, quota)
    }

    /// Keeps a report that did not reach Redis for the next sync.
    fn unsent(&self, rate: &BudgetSync, quota: Option<&BudgetSync>) {
        isolate::budget(&rate.key, |b| b.unsent(self.rate.1, rate.report));
        if let (Some(q), Some((name, window, ..))) = (quota, &self.quota) {
            isolate::budget(name, |b| b.unsent(*window, q.report));
        }
    }

    fn renew(&self, rate: Lease, quota: Option<Lease>) {
        let (name, window, _) = &self.rate;
        isolate::budget(name, |b| b.renew(*window, rate));
        if let (Some(lease), Some((name, window, ..))) = (quota, &self.quota) {
            isolate::budget(name, |b| b.renew(*window, lease));
        }
    }

    /// Admits this request from the leases, or says which limit refuses it; sets the headers.
    fn admit(&self, ex: &mut Exchange, a: &Admitted, now: u64) -> Result<(), ApiError> {
        let (name, window, limit) = &self.rate;
        let (allowed, remaining) =
            isolate::budget(name, |b| (b.take(*window), b.remaining(*limit)));
        let decision = Decision::new(allowed, *limit, remaining, now);
        ex.response_headers.extend(decision.headers());
        if !allowed {
            return Err(ApiError::rate_limited(decision.limit, decision.reset_secs));
        }
        if let Some((name, window, limit, plan)) = &self.quota {
            let (allowed, remaining) =
                isolate::budget(name, |b| (b.take(*window), b.remaining(*limit)));
            ex.response_headers
                .push(("X-WatchLLM-Quota-Remaining", remaining.to_string()));
            if !allowed {
                let upgrade = format!("{}/projects/{}", ex.cfg.dashboard_url, a.record.project_id);
                return Err(quota::exceeded(plan, *limit, now, &upgrade));
            }
        }
        ex.log.billable = true;
        Ok(())
    }
}

pub async fn lookup(ex: &mut Exchange, ctx: &Context, a: &Admitted) -> Result<Found, ApiError> {
    let now = ex.start_ms;
    let budgets = Budgets::of(a, now);
    let project = a.record.project_id.as_str();
    let reads = a.controls.reads_cache();
    let endpoint = a.request.endpoint.name();

    if let Some(stamp) = isolate::confirmed(project, now).filter(|_| reads && budgets.in_hand()) {
        let key = keyspace(project, stamp).entry(endpoint, &a.entry_hash);
        let recalled =
            isolate::recall(&key, now, stamp).filter(|r| a.controls.serves_fresh(&r.entry, now));
        if let Some(entry) = recalled {
            budgets.admit(ex, a, now)?;
            if budgets.low() || isolate::confirmation_due(project, now) {
                background_sync(ex, ctx, a, budgets);
            }
            return Ok(Found {
                hit: Some(Hit {
                    entry,
                    status: CacheStatus::Hit,
                    similarity: None,
                    detail: CacheDetail::Served,
                }),
                redis_up: true,
                stamp,
                lock: LockState::NotAsked,
                semantic: None,
                buckets: Vec::new(),
                stale: None,
            });
        }
    }

    let (rate, quota) = budgets.syncs(now);
    let query = semantic::query_for(&a.request, a.semantic_scope.as_deref());
    let local_buckets = match &query {
        Some(q) if !a.hosted_embedder => semantic::bucket_suffixes(q),
        _ => Vec::new(),
    };
    let plan = LookupPlan {
        project_id: project.to_string(),
        endpoint,
        entry_hash: a.entry_hash.clone(),
        read: reads,
        lock: reads.then(|| {
            (
                ex.request_id.clone(),
                ex.cfg.upstream_timeout(a.route.provider) + 1_000,
            )
        }),
        fetch_per_bucket: FETCH_PER_BUCKET,
        now_ms: now,
        max_age_ms: a.controls.max_age_secs.map(|s| s.saturating_mul(1000)),
        rate,
        quota,
        bucket_suffixes: local_buckets.clone(),
    };
    let asked_at = now_ms();
    let cfg = ex.cfg.clone();
    let redis = cfg.redis();
    let found = run_lookup(&redis, &plan).await;
    ex.timed("redis", asked_at);
    let Some(found) = found else {
        budgets.unsent(&plan.rate, plan.quota.as_ref());
        return Ok(Found {
            hit: None,
            redis_up: false,
            stamp: Stamp::default(),
            lock: LockState::NotAsked,
            semantic: query,
            buckets: Vec::new(),
            stale: None,
        });
    };
    let stamp = Stamp {
        generation: found.generation,
        epoch: found.epoch,
    };
    isolate::confirm(project, stamp, asked_at);
    budgets.renew(found.rate, found.quota);
    budgets.admit(ex, a, now)?;
    if matches!(found.lock, LockState::Taken) {
        ex.lock = Some(keys::inflight(
            &keyspace(project, stamp).entry(endpoint, &a.entry_hash),
        ));
    }
    let ks = keyspace(project, stamp);
    let mut out = Found {
        hit: None,
        redis_up: true,
        stamp,
        lock: found.lock,
        semantic: query,
        buckets: local_buckets.iter().map(|s| ks.bucket(s)).collect(),
        stale: None,
    };
    if let Some((entry, ttl_ms)) = found.entry {
        let key = ks.entry(endpoint, &a.entry_hash);
        if a.controls.serves_fresh(&entry, now) {
            // Kept in memory only while it is fresh: L1 never holds a stale entry.
            let fresh_ms = entry
                .expires_at_ms
                .map_or(ttl_ms, |e| ttl_ms.min(e.saturating_sub(now)));
            isolate::remember(key.clone(), entry, fresh_ms, now, stamp);
            out.hit = isolate::recall(&key, now, stamp).map(|entry| Hit {
                entry,
                status: CacheStatus::Hit,
                similarity: None,
                detail: CacheDetail::Served,
            });
            return Ok(out);
        }
        out.stale = stale_hit(a, entry, CacheStatus::Hit, None);
    }

    let mut candidates = found.candidates;
    let mut fetched = found.fetched;
    if a.hosted_embedder && !a.controls.bypass {
        out.semantic = match out.semantic.take() {
            Some(q) => hosted_query(&ex.cfg, &a.record, &q).await,
            None => None,
        };
        let suffixes = out
            .semantic
            .as_ref()
            .map(semantic::bucket_suffixes)
            .unwrap_or_default();
        out.buckets = suffixes.iter().map(|s| ks.bucket(s)).collect();
        if reads && !out.buckets.is_empty() {
            candidates = read_buckets(&redis, &ks, &out.buckets).await;
            fetched = Vec::new();
        }
    }
    if let (Some(q), true) = (&out.semantic, reads) {
        let hit = semantic_hit(
            ex,
            ctx,
            &redis,
            a,
            &ks,
            q,
            &candidates,
            fetched,
            &out.buckets,
        )
        .await;
        match hit {
            Some(h) if h.detail == CacheDetail::Stale => out.stale = out.stale.or(Some(h)),
            hit => out.hit = hit,
        }
    }
    Ok(out)
}

/// An entry past its freshness, kept for `stale-if-error` when the request asked for it.
fn stale_hit(
    a: &Admitted,
    entry: CacheEntry,
    status: CacheStatus,
    similarity: Option<f64>,
) -> Option<Hit> {
    a.controls.stale_if_error_secs?;
    Some(Hit {
        entry: Rc::new(Remembered::new(entry)),
        status,
        similarity,
        detail: CacheDetail::Stale,
    })
}

fn keyspace(project_id: &str, stamp: Stamp) -> Keyspace<'_> {
    Keyspace {
        project_id,
        generation: stamp.generation,
    }
}

/// The script's answer, or None when Redis cannot be reached (or answers nonsense).
async fn run_lookup(redis: &Upstash<'_>, plan: &LookupPlan) -> Option<lookup_plan::Found> {
    let reply = redis
        .eval(
            lookup_plan::LOOKUP_SCRIPT,
            lookup_plan::lookup_script_sha(),
            &plan.args(),
        )
        .await;
    match reply
        .map_err(|e| e.to_string())
        .and_then(|r| plan.decode(&r).map_err(|e| e.to_string()))
    {
        Ok(found) => Some(found),
        Err(e) => {
            worker::console_warn!("redis unavailable, serving without cache or limits: {e}");
            None
        }
    }
}

/// Renews the leases and the project's confirmation without delaying this request: a budget-only
/// run of the lookup script, one in flight per key at a time.
fn background_sync(ex: &Exchange, ctx: &Context, a: &Admitted, budgets: Budgets) {
    let name = budgets.rate.0.clone();
    if !isolate::start_sync(&name) {
        return;
    }
    let now = ex.start_ms;
    let (rate, quota) = budgets.syncs(now);
    let plan = LookupPlan {
        project_id: a.record.project_id.clone(),
        endpoint: a.request.endpoint.name(),
        entry_hash: a.entry_hash.clone(),
        read: false,
        lock: None,
        fetch_per_bucket: 0,
        now_ms: now,
        max_age_ms: None,
        rate,
        quota,
        bucket_suffixes: Vec::new(),
    };
    let cfg = ex.cfg.clone();
    after_response(ctx, async move {
        let asked_at = now_ms();
        match run_lookup(&cfg.redis(), &plan).await {
            Some(found) => {
                let stamp = Stamp {
                    generation: found.generation,
                    epoch: found.epoch,
                };
                isolate::confirm(&plan.project_id, stamp, asked_at);
                budgets.renew(found.rate, found.quota);
            }
            None => budgets.unsent(&plan.rate, plan.quota.as_ref()),
        }
        isolate::end_sync(&name);
    });
}

/// The hosted embedder's buckets, read in a second round trip.
async fn read_buckets(
    redis: &Upstash<'_>,
    ks: &Keyspace<'_>,
    buckets: &[String],
) -> Vec<Candidate> {
    let reads: Vec<Vec<String>> = buckets
        .iter()
        .map(|b| vec!["HGETALL".to_string(), b.clone()])
        .collect();
    let replies = redis.pipeline(&reads).await.unwrap_or_default();
    replies
        .iter()
        .filter_map(|r| r.as_ref().ok())
        .flat_map(|r| lookup_plan::bucket_candidates(ks, r))
        .collect()
}

/// The best candidate the decision lets through, with its entry (read with its bucket, or else
/// by its key); an entry that has expired since is dropped from its buckets, and one past its
/// freshness comes back only as a stale candidate (`CacheDetail::Stale`).
#[expect(
    clippy::too_many_arguments,
    reason = "one call site; the stage's state, spelled out"
)]
async fn semantic_hit(
    ex: &Exchange,
    ctx: &Context,
    redis: &Upstash<'_>,
    a: &Admitted,
    ks: &Keyspace<'_>,
    q: &SemanticQuery,
    candidates: &[Candidate],
    fetched: Vec<(String, CacheEntry)>,
    buckets: &[String],
) -> Option<Hit> {
    let (candidate, similarity) =
        semantic::best_match(q, candidates, a.controls.threshold, &ks.entry_prefix())?;
    let entry = match fetched.into_iter().find(|(k, _)| *k == candidate.entry_key) {
        Some((_, entry)) => Some(entry),
        None => match redis.command(&["GET", &candidate.entry_key]).await {
            Ok(serde_json::Value::String(text)) => CacheEntry::from_stored(&text),
            Ok(_) => None,
            Err(e) => {
                worker::console_warn!("semantic candidate fetch failed: {e}");
                return None;
            }
        },
    };
    let Some(entry) = entry else {
        forget_expired(ex, ctx, buckets, &candidate.entry_key);
        return None;
    };
    if !a.controls.serves_fresh(&entry, ex.start_ms) {
        return stale_hit(a, entry, CacheStatus::HitSemantic, Some(similarity as f64));
    }
    Some(Hit {
        entry: Rc::new(Remembered::new(entry)),
        status: CacheStatus::HitSemantic,
        similarity: Some(similarity as f64),
        detail: CacheDetail::Served,
    })
}

/// Drops a bucket field whose entry has expired, off the hot path.
fn forget_expired(ex: &Exchange, ctx: &Context, buckets: &[String], entry_key: &str) {
    let cfg = ex.cfg.clone();
    let cmds = lookup_plan::forget_commands(buckets, entry_key);
    after_response(ctx, async move {
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
