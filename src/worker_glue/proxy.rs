//! The request pipeline for the proxied endpoints:
//! authenticate -> validate -> one Redis round trip (rate-limit counter + cache lookup) ->
//! answer from cache, or (collapsing concurrent identical misses into one) forward upstream with
//! one retry where safe, translating for Anthropic, stream/return the answer, and store it ->
//! log usage off the hot path.

use super::auth::{self, KeyRecord};
use super::config::Config;
use super::http::{
    body_with_timeout, bytes_response, error_response, fetch_with_timeout, json_response, now_ms,
    FetchError,
};
use super::telemetry;
use super::upstash::{Reply, Upstash};
use super::usage_log::{self, UsageRecord};
use crate::anthropic;
use crate::api_key;
use crate::cache_entry::{is_cacheable_answer, CacheEntry};
use crate::cache_key::exact_cache_key;
use crate::error::ApiError;
use crate::models::{self, Provider, Route, Usage};
use crate::rate_limit;
use crate::request::{self, Endpoint, ProxyRequest};
use crate::secrets;
use crate::semantic::{self, Candidate};
use crate::sse::{self, StreamTap};
use crate::watchllm_headers::{CacheDetail, CacheStatus, WatchllmHeaders};
use futures::channel::oneshot;
use futures::StreamExt;
use serde_json::Value;
use std::cell::RefCell;
use std::rc::Rc;
use std::time::Duration;
use worker::{Context, Delay, Headers, Method, Request, RequestInit, Response, Result};

fn redis(cfg: &Config) -> Upstash<'_> {
    Upstash {
        url: &cfg.upstash_url,
        token: &cfg.upstash_token,
        timeout_ms: cfg.redis_timeout_ms,
    }
}

/// Per-request state shared by the steps below.
struct Exchange {
    cfg: Config,
    request_id: String,
    start_ms: u64,
    /// Headers every response of this request carries (rate limit, WatchLLM).
    extra: Vec<(&'static str, String)>,
    log: UsageRecord,
    /// The in-flight lock this request holds as the leader of concurrent identical misses.
    inflight_lock: Option<String>,
}

impl Exchange {
    fn elapsed(&self) -> u64 {
        now_ms().saturating_sub(self.start_ms)
    }

    fn watchllm_headers(&self, h: WatchllmHeaders) -> Vec<(&'static str, String)> {
        let mut all = self.extra.clone();
        all.extend(h.to_pairs());
        all
    }

    fn base_headers(
        &self,
        cache: CacheStatus,
        detail: CacheDetail,
        provider: &str,
    ) -> WatchllmHeaders {
        WatchllmHeaders {
            request_id: self.request_id.clone(),
            cache,
            detail,
            cache_age_secs: 0,
            similarity: None,
            cost_usd: 0.0,
            latency_ms: self.elapsed(),
            provider: provider.to_string(),
            tokens_saved: 0,
        }
    }

    /// Lets waiting followers go (they then forward on their own), off the hot path.
    fn release_lock(&mut self, ctx: &Context) {
        if let Some(lock) = self.inflight_lock.take() {
            let cfg = self.cfg.clone();
            ctx.wait_until(async move {
                let _ = redis(&cfg).command(&["DEL", &lock]).await;
            });
        }
    }

    /// An error response with the WatchLLM headers; logged when the request was authenticated.
    fn fail(&mut self, ctx: &Context, err: ApiError, provider: &str) -> Result<Response> {
        self.release_lock(ctx);
        let headers = self.watchllm_headers(self.base_headers(
            CacheStatus::Miss,
            CacheDetail::NotCached,
            provider,
        ));
        self.log.status_code = err.status;
        self.log.error_code = err.code.clone();
        self.log.latency_ms = self.elapsed();
        self.log.provider = provider.to_string();
        self.spawn_log(ctx);
        if err.status >= 500 {
            let mut extra = serde_json::Map::new();
            extra.insert("request_id".into(), self.request_id.clone().into());
            extra.insert("project_id".into(), self.log.project_id.clone().into());
            telemetry::report_error(
                &self.cfg,
                ctx,
                err.code.as_deref().unwrap_or("server_error"),
                &err.message,
                err.status,
                vec![
                    ("provider".into(), provider.to_string()),
                    ("endpoint".into(), self.log.endpoint.to_string()),
                    ("model".into(), self.log.model.clone()),
                ],
                extra,
            );
        }
        error_response(&err, &headers)
    }

    fn spawn_log(&self, ctx: &Context) {
        usage_log::enqueue(&self.cfg, ctx, &self.log);
    }
}

/// Client cache controls: `X-WatchLLM-Bypass-Cache: true` (neither read nor write),
/// `X-WatchLLM-Refresh-Cache: true` (do not read, store the fresh answer).
fn truthy(req: &Request, name: &str) -> bool {
    req.headers()
        .get(name)
        .ok()
        .flatten()
        .is_some_and(|v| matches!(v.trim().to_ascii_lowercase().as_str(), "1" | "true" | "yes"))
}

pub async fn handle(
    mut req: Request,
    cfg: Config,
    ctx: &Context,
    endpoint: Endpoint,
    request_id: String,
    start_ms: u64,
) -> Result<Response> {
    let mut ex = Exchange {
        cfg,
        request_id,
        start_ms,
        extra: Vec::new(),
        log: UsageRecord::default(),
        inflight_lock: None,
    };
    ex.log.request_id = ex.request_id.clone();
    ex.log.endpoint = endpoint.name();
    ex.log.cache_status = CacheStatus::Miss.as_str();

    // 1. Authenticate before reading the body.
    let presented =
        match api_key::from_authorization(req.headers().get("authorization")?.as_deref()) {
            Ok(k) => k,
            Err(e) => return ex.fail(ctx, e, "none"),
        };
    let record = match auth::authenticate(&ex.cfg, &presented, start_ms).await {
        Ok(r) => r,
        Err(e) => return ex.fail(ctx, e, "none"),
    };
    ex.log = UsageRecord {
        request_id: ex.request_id.clone(),
        project_id: record.project_id.clone(),
        api_key_id: record.key_id.clone(),
        key_kind: record.key_kind.clone(),
        endpoint: endpoint.name(),
        cache_status: CacheStatus::Miss.as_str(),
        ..Default::default()
    };

    // 2. Validate the body.
    if let Some(len) = req
        .headers()
        .get("content-length")?
        .and_then(|l| l.parse::<usize>().ok())
    {
        if len > request::MAX_BODY_BYTES {
            return ex.fail(
                ctx,
                ApiError::payload_too_large(request::MAX_BODY_BYTES),
                "none",
            );
        }
    }
    let bytes = req.bytes().await.unwrap_or_default();
    let preq = match request::parse(endpoint, &bytes) {
        Ok(r) => r,
        Err(e) => return ex.fail(ctx, e, "none"),
    };
    ex.log.model = preq.model.clone();
    let route = match models::route(
        &preq.model,
        |p| record.has_provider_key(p.name()),
        // Anthropic speaks only chat; its other endpoints' requests go through OpenRouter.
        |p| p != Provider::Anthropic || endpoint == Endpoint::ChatCompletions,
    ) {
        Ok(r) => r,
        Err(e) => return ex.fail(ctx, e, "none"),
    };
    let provider = route.provider.name();
    ex.log.provider = provider.to_string();

    // 3. One Redis round trip: rate-limit counter, exact lookup and the semantic buckets together.
    let bypass = truthy(&req, "x-watchllm-bypass-cache");
    let refresh = truthy(&req, "x-watchllm-refresh-cache");
    let threshold = match similarity_threshold(&req, record.similarity_threshold) {
        Ok(t) => t,
        Err(e) => return ex.fail(ctx, e, provider),
    };
    let cache_key = exact_cache_key(&record.project_id, &preq);
    let mut semantic_query = if record.semantic_cache_enabled {
        semantic::query_for(&preq)
    } else {
        None
    };
    // A hosted embedder's vector is known only after its API answers, so its buckets are read
    // after the exact lookup misses (step 5); the in-Worker embedder's go in this round trip.
    let hosted_embedder = semantic::Embedder::from_setting(&record.semantic_embedder)
        == semantic::Embedder::OpenAi
        && record.has_provider_key(Provider::OpenAi.name());
    let mut buckets = match &semantic_query {
        Some(q) if !hosted_embedder => semantic::bucket_keys(&record.project_id, q),
        _ => Vec::new(),
    };
    let cfg = ex.cfg.clone();
    let redis = redis(&cfg);
    let counter = rate_limit::counter_key(&presented.hash, start_ms);
    let mut cmds = vec![
        vec!["INCR".to_string(), counter.clone()],
        vec![
            "EXPIRE".into(),
            counter,
            rate_limit::COUNTER_TTL_SECS.to_string(),
            "NX".into(),
        ],
    ];
    let read_cache = !bypass && !refresh;
    if read_cache {
        cmds.push(vec!["GET".into(), cache_key.clone()]);
        cmds.extend(
            buckets
                .iter()
                .map(|b| vec!["HGETALL".to_string(), b.clone()]),
        );
    }
    let replies: Option<Vec<Reply>> = match redis.pipeline(&cmds).await {
        Ok(r) => Some(r),
        Err(e) => {
            worker::console_warn!("redis unavailable, serving without cache or rate limit: {e}");
            None
        }
    };
    let redis_up = replies.is_some();

    if let Some(count) = replies
        .as_ref()
        .and_then(|r| r[0].as_ref().ok())
        .and_then(Value::as_u64)
    {
        let decision = rate_limit::decide(count, record.requests_per_minute, start_ms);
        ex.extra.extend(decision.headers());
        if !decision.allowed {
            return ex.fail(
                ctx,
                ApiError::rate_limited(decision.limit, decision.reset_secs),
                provider,
            );
        }
    }

    // 4. Exact cache hit.
    let cached = replies
        .as_ref()
        .and_then(|r| r.get(2))
        .and_then(|r| r.as_ref().ok())
        .and_then(Value::as_str)
        .and_then(CacheEntry::from_json);
    if let Some(entry) = cached {
        return serve_hit(
            &mut ex,
            ctx,
            &preq,
            entry,
            CacheStatus::Hit,
            None,
            CacheDetail::Served,
        );
    }

    // 5. Semantic hit: the best guarded candidate at or above the threshold, fetched in a second
    //    round trip (only when there is one).
    let mut bucket_replies: Vec<Reply> = replies.iter().flatten().skip(3).cloned().collect();
    if hosted_embedder && redis_up && !bypass {
        semantic_query = match &semantic_query {
            Some(q) => hosted_query(&ex.cfg, &record, q).await,
            None => None,
        };
        buckets = semantic_query
            .as_ref()
            .map(|q| semantic::bucket_keys(&record.project_id, q))
            .unwrap_or_default();
        if read_cache && !buckets.is_empty() {
            let reads: Vec<Vec<String>> = buckets
                .iter()
                .map(|b| vec!["HGETALL".to_string(), b.clone()])
                .collect();
            bucket_replies = redis.pipeline(&reads).await.unwrap_or_default();
        }
    }
    if let (Some(q), true) = (&semantic_query, read_cache && redis_up) {
        let candidates: Vec<Candidate> = bucket_replies
            .iter()
            .filter_map(|r| r.as_ref().ok())
            .flat_map(|r| bucket_candidates(&record.project_id, r))
            .collect();
        let project_prefix = format!(
            "wl:c{}:{}:",
            crate::cache_key::CACHE_FORMAT_VERSION,
            record.project_id
        );
        if let Some((candidate, similarity)) =
            semantic::best_match(q, &candidates, threshold, &project_prefix)
        {
            match redis.command(&["GET", &candidate.entry_key]).await {
                Ok(Value::String(text)) => {
                    if let Some(entry) = CacheEntry::from_json(&text) {
                        return serve_hit(
                            &mut ex,
                            ctx,
                            &preq,
                            entry,
                            CacheStatus::HitSemantic,
                            Some(similarity as f64),
                            CacheDetail::Served,
                        );
                    }
                }
                Ok(_) => forget_expired(&ex.cfg, ctx, &buckets, &candidate.entry_key),
                Err(e) => worker::console_warn!("semantic candidate fetch failed: {e}"),
            }
        }
    }

    // 6. Miss. Concurrent identical misses collapse into one upstream call: the first takes a
    //    short-lived lock in Redis and forwards; the others wait for its answer to be stored and
    //    serve it as a HIT (or forward themselves if the leader ends without a cacheable answer).
    //    Redis rather than isolate memory, because identical requests land on different isolates
    //    and Workers forbid one request from resolving I/O on another's behalf.
    if redis_up && read_cache {
        let lock_key = inflight_key(&cache_key);
        let wait_ms = ex.cfg.upstream_timeout(route.provider);
        let lock_ttl = (wait_ms + 1_000).to_string();
        match redis
            .command(&["SET", &lock_key, &ex.request_id, "NX", "PX", &lock_ttl])
            .await
        {
            Ok(Value::String(ok)) if ok == "OK" => ex.inflight_lock = Some(lock_key),
            Ok(Value::Null) => {
                if let Some(entry) = wait_for_leader(&redis, &cache_key, &lock_key, wait_ms).await {
                    return serve_hit(
                        &mut ex,
                        ctx,
                        &preq,
                        entry,
                        CacheStatus::Hit,
                        None,
                        CacheDetail::Collapsed,
                    );
                }
            }
            Ok(_) => {}
            Err(e) => worker::console_warn!("in-flight lock unavailable: {e}"),
        }
    }

    // 7. Forward upstream.
    let detail = if !redis_up {
        CacheDetail::Unavailable
    } else if bypass {
        CacheDetail::Bypass
    } else if refresh {
        CacheDetail::Refresh
    } else {
        CacheDetail::Stored
    };
    let plan = (redis_up && !bypass).then(|| StorePlan {
        key: cache_key,
        ttl: if endpoint == Endpoint::Embeddings {
            endpoint.cache_ttl_secs()
        } else {
            record.cache_ttl_secs.unwrap_or(endpoint.cache_ttl_secs())
        },
        semantic: semantic_query
            .as_ref()
            .map(|q| (buckets.clone(), semantic::encode_record(q))),
        lock: None,
    });
    forward(ex, ctx, &record, &preq, &route, detail, plan).await
}

/// The per-request threshold (`X-WatchLLM-Similarity-Threshold`), else the project's.
fn similarity_threshold(req: &Request, project_default: f32) -> std::result::Result<f32, ApiError> {
    match req.headers().get("x-watchllm-similarity-threshold").ok().flatten() {
        None => Ok(project_default),
        Some(v) => match v.trim().parse::<f32>() {
            Ok(t) if t > 0.0 && t <= 1.0 => Ok(t),
            _ => Err(ApiError::invalid_request(
                format!("Invalid X-WatchLLM-Similarity-Threshold '{v}': expected a number above 0 and at most 1."),
                Some("X-WatchLLM-Similarity-Threshold"),
                "invalid_value",
            )),
        },
    }
}

/// Candidates from one `HGETALL` reply (`[field, value, field, value, ...]`).
fn bucket_candidates(project_id: &str, reply: &Value) -> Vec<Candidate> {
    let Some(items) = reply.as_array() else {
        return Vec::new();
    };
    items
        .chunks(2)
        .filter_map(|kv| match kv {
            [Value::String(field), Value::String(record)] => {
                semantic::decode_record(&semantic::entry_key_for(project_id, field), record)
            }
            _ => None,
        })
        .collect()
}

/// The query with the project's hosted embedding (OpenAI `/v1/embeddings`, the project's key) in
/// place of the local vector; None (no semantic lookup or store for this request) when the call
/// fails: a hosted embedder's outage degrades to exact caching, never to an error.
async fn hosted_query(
    cfg: &Config,
    record: &KeyRecord,
    q: &semantic::SemanticQuery,
) -> Option<semantic::SemanticQuery> {
    let key = provider_auth(cfg, record, Provider::OpenAi).ok()?;
    let headers = Headers::new();
    headers.set("content-type", "application/json").ok()?;
    headers
        .set("authorization", &format!("Bearer {key}"))
        .ok()?;
    let mut init = RequestInit::new();
    init.with_method(Method::Post)
        .with_headers(headers)
        .with_body(Some(
            semantic::hosted_embedding_request(q).to_string().into(),
        ));
    let url = format!("{}/embeddings", cfg.base_url(Provider::OpenAi));
    let req = Request::new_with_init(&url, &init).ok()?;
    let timeout = cfg.embedding_timeout_ms;
    let mut resp = match fetch_with_timeout(req, timeout).await {
        Ok(r) if r.status_code() == 200 => r,
        Ok(r) => {
            worker::console_warn!("hosted embedder answered HTTP {}", r.status_code());
            return None;
        }
        Err(e) => {
            worker::console_warn!("hosted embedder unavailable: {e}");
            return None;
        }
    };
    let body = body_with_timeout(&mut resp, timeout).await.ok()?;
    let answer: Value = serde_json::from_slice(&body).ok()?;
    semantic::with_hosted_vector(q, &answer)
}

/// The lock a leader holds while its miss is in flight (project-scoped like the entry key).
fn inflight_key(cache_key: &str) -> String {
    format!("{cache_key}:inflight")
}

/// A follower's wait: polls (with growing pauses) until the leader's answer is stored, the lock
/// is gone without an answer, or `max_wait_ms` passes.
async fn wait_for_leader(
    redis: &Upstash<'_>,
    cache_key: &str,
    lock_key: &str,
    max_wait_ms: u64,
) -> Option<CacheEntry> {
    let start = now_ms();
    let mut pause = 10;
    let cmds = [
        vec!["GET".to_string(), cache_key.to_string()],
        vec!["EXISTS".to_string(), lock_key.to_string()],
    ];
    loop {
        Delay::from(Duration::from_millis(pause)).await;
        let replies = redis.pipeline(&cmds).await.ok()?;
        if let Some(entry) = replies[0]
            .as_ref()
            .ok()
            .and_then(Value::as_str)
            .and_then(CacheEntry::from_json)
        {
            return Some(entry);
        }
        let lock_held = replies[1].as_ref().ok().and_then(Value::as_u64) == Some(1);
        if !lock_held || now_ms().saturating_sub(start) >= max_wait_ms {
            return None;
        }
        pause = (pause * 3 / 2).min(200);
    }
}

/// Drops a bucket field whose entry has expired, off the hot path.
fn forget_expired(cfg: &Config, ctx: &Context, buckets: &[String], entry_key: &str) {
    let cfg = cfg.clone();
    let field = semantic::field_for(entry_key);
    let cmds: Vec<Vec<String>> = buckets
        .iter()
        .map(|b| vec!["HDEL".to_string(), b.clone(), field.to_string()])
        .collect();
    ctx.wait_until(async move {
        let redis = Upstash {
            url: &cfg.upstash_url,
            token: &cfg.upstash_token,
            timeout_ms: cfg.redis_timeout_ms,
        };
        let _ = redis.pipeline(&cmds).await;
    });
}

/// Where and how long a miss's answer is stored: its exact key, and its semantic buckets + record.
struct StorePlan {
    key: String,
    ttl: u64,
    semantic: Option<(Vec<String>, String)>,
    /// The in-flight lock to release once the entry is stored.
    lock: Option<String>,
}

/// Answers from a cache entry, as JSON or as a replayed SSE stream.
fn serve_hit(
    ex: &mut Exchange,
    ctx: &Context,
    preq: &ProxyRequest,
    entry: CacheEntry,
    status: CacheStatus,
    similarity: Option<f64>,
    detail: CacheDetail,
) -> Result<Response> {
    ex.release_lock(ctx);
    let usage = entry.usage();
    let mut h = ex.base_headers(status, detail, &entry.provider);
    h.cache_age_secs = entry.age_secs(ex.start_ms);
    h.similarity = similarity;
    // Tokens-Saved counts the prompt tokens served from cache (issue #4's definition); the full
    // cost not spent (prompt + completion) is in the usage log's cost_saved_usd.
    h.tokens_saved = usage.prompt_tokens;
    let headers = ex.watchllm_headers(h);
    ex.log.cache_status = status.as_str();
    ex.log.status_code = 200;
    ex.log.provider = entry.provider.clone();
    ex.log.prompt_tokens = usage.prompt_tokens;
    ex.log.completion_tokens = usage.completion_tokens;
    ex.log.cost_usd = Some(0.0);
    ex.log.cost_saved_usd = entry.cost_usd;
    ex.log.tokens_saved = usage.prompt_tokens;
    ex.log.similarity = similarity;
    ex.log.latency_ms = ex.elapsed();
    ex.spawn_log(ctx);
    if preq.stream {
        let body = sse::replay(&entry.answer, preq.include_usage)
            .concat()
            .into_bytes();
        let mut headers = headers;
        headers.push(("cache-control", "no-cache".into()));
        bytes_response(200, "text/event-stream; charset=utf-8", body, &headers)
    } else {
        json_response(200, &entry.answer, &headers)
    }
}

fn provider_auth(
    cfg: &Config,
    record: &KeyRecord,
    provider: Provider,
) -> std::result::Result<String, ApiError> {
    if provider == Provider::OpenRouter {
        if cfg.openrouter_api_key.is_empty() {
            return Err(ApiError::service_unavailable("OpenRouter is not configured on this proxy; add a provider key for this model's provider."));
        }
        return Ok(cfg.openrouter_api_key.clone());
    }
    let stored = record
        .provider_keys
        .as_ref()
        .and_then(|m| m.get(provider.name()))
        .ok_or_else(|| ApiError::internal("provider key missing"))?;
    secrets::decrypt(&cfg.provider_keys_encryption_key, stored).map_err(|_| {
        ApiError::internal(format!(
            "The stored {} key could not be decrypted; re-enter it in the dashboard.",
            provider.name()
        ))
    })
}

/// The body for the provider: OpenAI-compatible providers get the client's body with their model
/// id; Anthropic gets it translated to its Messages API.
fn upstream_body(preq: &ProxyRequest, route: &Route) -> std::result::Result<String, ApiError> {
    if route.provider == Provider::Anthropic {
        anthropic::to_messages_request(&preq.body, &route.upstream_model).map(|b| b.to_string())
    } else {
        Ok(preq.upstream_body(&route.upstream_model).to_string())
    }
}

fn upstream_request(
    cfg: &Config,
    preq: &ProxyRequest,
    route: &Route,
    api_key: &str,
    body: &str,
) -> Result<Request> {
    let headers = Headers::new();
    headers.set("content-type", "application/json")?;
    if preq.stream {
        headers.set("accept", "text/event-stream")?;
    }
    let base = cfg.base_url(route.provider);
    let url = if route.provider == Provider::Anthropic {
        headers.set("x-api-key", api_key)?;
        headers.set("anthropic-version", anthropic::API_VERSION)?;
        format!("{base}/messages")
    } else {
        headers.set("authorization", &format!("Bearer {api_key}"))?;
        if route.provider == Provider::OpenRouter {
            headers.set("http-referer", "https://watchllm.dev")?;
            headers.set("x-title", "WatchLLM")?;
        }
        format!("{base}{}", preq.endpoint.upstream_path())
    };
    let mut init = RequestInit::new();
    init.with_method(Method::Post)
        .with_headers(headers)
        .with_body(Some(body.into()));
    Request::new_with_init(&url, &init)
}

/// Whether an upstream 5xx may be retried once. Embeddings are idempotent, so any 5xx is. A
/// generation is retried only on the statuses where the provider did not run the model
/// (502/503/504 gateway and overload answers, Anthropic's 529 overloaded); a 500 may come after
/// work was done and billed. Connect errors are always retried (nothing reached the provider).
fn retryable_status(endpoint: Endpoint, status: u16) -> bool {
    match endpoint {
        Endpoint::Embeddings => status >= 500,
        _ => matches!(status, 502 | 503 | 504 | 529),
    }
}

/// Pause before the retry.
const RETRY_PAUSE_MS: u64 = 100;

/// Stores an answer under its exact key and in its semantic buckets (one pipeline), then trims
/// buckets that grew past `MAX_BUCKET`; runs inside `wait_until`.
async fn store(cfg: &Config, plan: &StorePlan, entry: &CacheEntry) {
    let redis = redis(cfg);
    let ttl = plan.ttl.to_string();
    let mut cmds = vec![vec![
        "SET".to_string(),
        plan.key.clone(),
        entry.to_json(),
        "EX".into(),
        ttl.clone(),
    ]];
    if let Some((buckets, record)) = &plan.semantic {
        for b in buckets {
            cmds.push(vec![
                "HSET".into(),
                b.clone(),
                semantic::field_for(&plan.key).to_string(),
                record.clone(),
            ]);
            cmds.push(vec!["EXPIRE".into(), b.clone(), ttl.clone()]);
            cmds.push(vec!["HLEN".into(), b.clone()]);
        }
    }
    // After the SET, so a follower that sees the lock gone also sees the entry.
    if let Some(lock) = &plan.lock {
        cmds.push(vec!["DEL".into(), lock.clone()]);
    }
    let replies = match redis.pipeline(&cmds).await {
        Ok(r) => r,
        Err(e) => return worker::console_warn!("cache store failed: {e}"),
    };
    let Some((buckets, _)) = &plan.semantic else {
        return;
    };
    let mut trims = Vec::new();
    for (i, b) in buckets.iter().enumerate() {
        let len = replies
            .get(1 + i * 3 + 2)
            .and_then(|r| r.as_ref().ok())
            .and_then(Value::as_u64)
            .unwrap_or(0) as usize;
        if len > semantic::MAX_BUCKET {
            trims.push((b.clone(), len - semantic::MAX_BUCKET));
        }
    }
    for (bucket, excess) in trims {
        if let Ok(Value::Array(fields)) = redis
            .command(&["HRANDFIELD", &bucket, &excess.to_string()])
            .await
        {
            let mut cmd = vec!["HDEL".to_string(), bucket.clone()];
            cmd.extend(
                fields
                    .iter()
                    .filter_map(Value::as_str)
                    .filter(|f| *f != semantic::field_for(&plan.key))
                    .map(str::to_string),
            );
            if cmd.len() > 2 {
                let _ = redis.pipeline(&[cmd]).await;
            }
        }
    }
}

fn entry_for(
    provider: &str,
    route: &Route,
    answer: Value,
    now: u64,
) -> (CacheEntry, Usage, Option<f64>) {
    let usage_json = answer.get("usage").cloned().unwrap_or(Value::Null);
    let usage = Usage::from_json(&usage_json).unwrap_or_default();
    let model = answer
        .get("model")
        .and_then(Value::as_str)
        .unwrap_or(&route.upstream_model)
        .to_string();
    let cost = models::answer_cost_usd(&model, &usage_json)
        .or_else(|| models::answer_cost_usd(&route.upstream_model, &usage_json));
    let entry = CacheEntry {
        stored_at_ms: now,
        provider: provider.to_string(),
        model,
        prompt_tokens: usage.prompt_tokens,
        completion_tokens: usage.completion_tokens,
        cost_usd: cost.unwrap_or(0.0),
        answer,
    };
    (entry, usage, cost)
}

async fn forward(
    mut ex: Exchange,
    ctx: &Context,
    record: &KeyRecord,
    preq: &ProxyRequest,
    route: &Route,
    detail: CacheDetail,
    plan: Option<StorePlan>,
) -> Result<Response> {
    let provider = route.provider.name();
    let api_key = match provider_auth(&ex.cfg, record, route.provider) {
        Ok(k) => k,
        Err(e) => return ex.fail(ctx, e, provider),
    };
    let body = match upstream_body(preq, route) {
        Ok(b) => b,
        Err(e) => return ex.fail(ctx, e, provider),
    };
    let timeout = ex.cfg.upstream_timeout(route.provider);
    let sent_at = now_ms();
    let remaining = |now: u64| timeout.saturating_sub(now.saturating_sub(sent_at)).max(1);

    // One retry on connect errors and retryable 5xx, within the same overall deadline.
    let mut attempt = 0;
    let mut resp = loop {
        attempt += 1;
        let upstream = upstream_request(&ex.cfg, preq, route, &api_key, &body)?;
        let outcome = fetch_with_timeout(upstream, remaining(now_ms())).await;
        let retry = match &outcome {
            Ok(r) => retryable_status(preq.endpoint, r.status_code()),
            Err(FetchError::Network(_)) => true,
            Err(FetchError::Timeout) => false,
        };
        if retry && attempt == 1 && remaining(now_ms()) > RETRY_PAUSE_MS {
            worker::console_warn!(
                "{provider}: retrying once after {:?}",
                outcome
                    .as_ref()
                    .map(|r| r.status_code())
                    .map_err(|e| e.to_string())
            );
            Delay::from(Duration::from_millis(RETRY_PAUSE_MS)).await;
            continue;
        }
        match outcome {
            Ok(r) => break r,
            Err(FetchError::Timeout) => {
                return ex.fail(ctx, ApiError::upstream_timeout(provider, timeout), provider)
            }
            Err(FetchError::Network(e)) => {
                return ex.fail(
                    ctx,
                    ApiError::upstream_failed(provider, format!("could not connect ({e})")),
                    provider,
                )
            }
        }
    };
    ex.log.upstream_attempts = attempt;
    let status = resp.status_code();
    let is_event_stream = resp
        .headers()
        .get("content-type")?
        .is_some_and(|c| c.contains("text/event-stream"));
    if status >= 400 || (preq.stream && !is_event_stream) {
        let body = body_with_timeout(&mut resp, remaining(now_ms()))
            .await
            .unwrap_or_default();
        let mut err = if status >= 400 {
            ApiError::from_upstream(provider, status, &body)
        } else {
            ApiError::upstream_failed(provider, "expected an event stream")
        };
        if status == 429 {
            err.retry_after_secs = resp
                .headers()
                .get("retry-after")
                .ok()
                .flatten()
                .and_then(|v| v.trim().parse().ok());
        }
        return ex.fail(ctx, err, provider);
    }
    if preq.stream {
        return stream_miss(ex, ctx, resp, preq, route, detail, plan);
    }

    let body = match body_with_timeout(&mut resp, remaining(now_ms())).await {
        Ok(b) => b,
        Err(FetchError::Timeout) => {
            return ex.fail(ctx, ApiError::upstream_timeout(provider, timeout), provider)
        }
        Err(FetchError::Network(e)) => {
            return ex.fail(ctx, ApiError::upstream_failed(provider, e), provider)
        }
    };
    let Ok(answer) = serde_json::from_slice::<Value>(&body) else {
        return ex.fail(
            ctx,
            ApiError::upstream_failed(provider, "answered with invalid JSON"),
            provider,
        );
    };
    let (answer, body) = if route.provider == Provider::Anthropic {
        let translated = anthropic::to_chat_completion(&answer, now_ms() / 1000);
        let body = translated.to_string().into_bytes();
        (translated, body)
    } else {
        (answer, body)
    };
    let cacheable = is_cacheable_answer(&answer);
    let (entry, usage, cost) = entry_for(provider, route, answer, now_ms());
    let mut h = ex.base_headers(
        CacheStatus::Miss,
        if cacheable {
            detail
        } else {
            CacheDetail::NotCached
        },
        provider,
    );
    h.cost_usd = cost.unwrap_or(0.0);
    let headers = ex.watchllm_headers(h);
    ex.log.status_code = 200;
    ex.log.prompt_tokens = usage.prompt_tokens;
    ex.log.completion_tokens = usage.completion_tokens;
    ex.log.cost_usd = cost;
    ex.log.latency_ms = ex.elapsed();
    ex.spawn_log(ctx);
    match plan.filter(|_| cacheable) {
        Some(mut plan) => {
            plan.lock = ex.inflight_lock.take();
            let cfg = ex.cfg.clone();
            ctx.wait_until(async move { store(&cfg, &plan, &entry).await });
        }
        None => ex.release_lock(ctx),
    }
    bytes_response(200, "application/json", body, &headers)
}

/// Streams a miss to the client as it arrives (translating Anthropic events to OpenAI chunks);
/// when the stream completes, the assembled answer is stored and the usage logged (inside
/// `wait_until`, so neither delays the stream).
fn stream_miss(
    mut ex: Exchange,
    ctx: &Context,
    mut resp: Response,
    preq: &ProxyRequest,
    route: &Route,
    detail: CacheDetail,
    plan: Option<StorePlan>,
) -> Result<Response> {
    let provider = route.provider.name();
    let (tx, rx) = oneshot::channel::<Option<Value>>();
    let translator = (route.provider == Provider::Anthropic)
        .then(|| anthropic::SseTranslator::new(now_ms() / 1000));
    let tap = Rc::new(RefCell::new((
        StreamTap::new(preq.include_usage),
        translator,
        Some(tx),
    )));
    let feeding = tap.clone();
    let forwarded = resp.stream()?.map(move |chunk| {
        chunk.map(|bytes| {
            let mut t = feeding.borrow_mut();
            let (tap, translator, _) = &mut *t;
            match translator {
                Some(tr) => tap.feed(&tr.feed(&bytes)),
                None => tap.feed(&bytes),
            }
        })
    });
    let tail = futures::stream::once(async move {
        let mut t = tap.borrow_mut();
        let (tap, translator, tx) = &mut *t;
        let mut rest = match translator {
            Some(tr) => tap.feed(&tr.finish()),
            None => Vec::new(),
        };
        let (last, answer) = tap.finish();
        rest.extend(last);
        if let Some(tx) = tx.take() {
            let _ = tx.send(answer);
        }
        Ok::<Vec<u8>, worker::Error>(rest)
    });
    let body = forwarded
        .chain(tail)
        .filter(|r| futures::future::ready(!matches!(r, Ok(b) if b.is_empty())));

    let mut h = ex.base_headers(CacheStatus::Miss, detail, provider);
    h.cost_usd = 0.0;
    let mut headers = ex.watchllm_headers(h);
    // The cost is known only when the stream ends: it goes to the usage log, not this header.
    for (k, v) in headers.iter_mut() {
        if *k == "X-WatchLLM-Cost-USD" {
            *v = "pending".into();
        }
    }
    headers.push(("cache-control", "no-cache".into()));
    ex.log.latency_ms = ex.elapsed();
    let cfg = ex.cfg.clone();
    let mut log = ex.log.clone();
    let mut lock = ex.inflight_lock.take();
    let route = route.clone();
    let provider_name = provider.to_string();
    ctx.wait_until(async move {
        match rx.await {
            Ok(Some(answer)) => {
                let cacheable = is_cacheable_answer(&answer);
                let (entry, usage, cost) = entry_for(&provider_name, &route, answer, now_ms());
                log.status_code = 200;
                log.prompt_tokens = usage.prompt_tokens;
                log.completion_tokens = usage.completion_tokens;
                log.cost_usd = cost;
                if let Some(mut plan) = plan.filter(|_| cacheable) {
                    plan.lock = lock.take();
                    store(&cfg, &plan, &entry).await;
                }
            }
            Ok(None) => {
                log.status_code = 502;
                log.error_code = Some("incomplete_stream".into());
            }
            Err(_) => {
                log.status_code = 499;
                log.error_code = Some("stream_aborted".into());
            }
        }
        // Not stored: let waiting followers go.
        if let Some(lock) = lock {
            let _ = redis(&cfg).command(&["DEL", &lock]).await;
        }
        usage_log::write_now(&cfg, &log).await;
    });

    let out = Headers::new();
    out.set("content-type", "text/event-stream; charset=utf-8")?;
    for (k, v) in &headers {
        out.set(k, v)?;
    }
    Ok(Response::from_stream(body)?
        .with_status(200)
        .with_headers(out))
}
