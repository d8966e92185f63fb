//! Stage 3 (and the end of a JSON miss), respond: a cache hit answered as JSON or as a replayed
//! SSE stream, with what it saved; an upstream answer returned as it came, its entry stored.

use super::admit::Admitted;
use super::lookup::Hit;
use super::store::{self, StorePlan};
use super::Exchange;
use crate::cache_entry::{is_cacheable_answer, CacheEntry};
use crate::controls::response_cache_control;
use crate::error::ApiError;
use crate::request::ProxyRequest;
use crate::sse;
use crate::watchllm_headers::{CacheDetail, CacheStatus};
use crate::worker_glue::background::after_response;
use crate::worker_glue::responses::bytes_response;
use worker::{Context, Response};
use worker_util::now_ms;

/// `Cache-Control` of a miss's response: how long its answer is now kept fresh, if it is.
pub fn miss_cache_control(detail: CacheDetail, plan: Option<&StorePlan>, stream: bool) -> String {
    response_cache_control(detail, plan.map(|p| p.fresh_secs), stream)
}

fn built(r: worker::Result<Response>) -> Result<Response, ApiError> {
    r.map_err(|e| ApiError::internal(format!("building the response failed: {e}")))
}

/// Answers from a cache entry, as JSON or as a replayed SSE stream.
pub fn from_cache(ex: &mut Exchange, req: &ProxyRequest, hit: Hit) -> Result<Response, ApiError> {
    let remembered = hit.entry;
    let entry = &remembered.entry;
    let now = ex.start_ms;
    let mut h = ex.headers(hit.status, hit.detail, &entry.provider);
    h.cache_age_secs = entry.age_secs(now);
    h.similarity = hit.similarity;
    // Tokens-Saved counts the prompt tokens served from cache; the full cost not spent (prompt +
    // completion) is in the usage log's cost_saved_usd.
    h.tokens_saved = entry.usage().prompt_tokens;
    let mut headers = ex.all_headers(h);
    let fresh_for = entry.expires_at_ms.map(|e| e.saturating_sub(now) / 1000);
    headers.push(("age", entry.age_secs(now).to_string()));
    headers.push((
        "cache-control",
        response_cache_control(hit.detail, fresh_for, req.stream),
    ));
    ex.log.served(entry, hit.status, hit.similarity);
    if req.stream {
        let body = sse::replay(&remembered.answer(), req.include_usage)
            .concat()
            .into_bytes();
        built(bytes_response(
            200,
            "text/event-stream; charset=utf-8",
            body,
            &headers,
        ))
    } else {
        let body = remembered.json.as_ref().clone();
        built(bytes_response(200, "application/json", body, &headers))
    }
}

/// Returns an upstream answer and stores it (off the hot path) when it is complete.
pub fn answer(
    ex: &mut Exchange,
    ctx: &Context,
    a: &Admitted,
    upstream: (serde_json::Value, Vec<u8>),
    detail: CacheDetail,
    plan: Option<StorePlan>,
) -> Result<Response, ApiError> {
    let (answer, body) = upstream;
    let provider = a.route.provider.name();
    let cacheable = is_cacheable_answer(&answer);
    let (entry, usage, cost) =
        CacheEntry::for_answer(provider, &a.route.upstream_model, answer, now_ms());
    let detail = if cacheable {
        detail
    } else {
        CacheDetail::NotCached
    };
    let mut h = ex.headers(CacheStatus::Miss, detail, provider);
    h.cost_usd = Some(cost.unwrap_or(0.0));
    let mut headers = ex.all_headers(h);
    headers.push((
        "cache-control",
        miss_cache_control(detail, plan.as_ref(), false),
    ));
    ex.log.answered(usage, cost);
    if let Some(mut plan) = plan.filter(|_| cacheable) {
        plan.lock = ex.lock.take();
        let cfg = ex.cfg.clone();
        after_response(ctx, async move { store::store(&cfg, &plan, entry).await });
    }
    built(bytes_response(200, "application/json", body, &headers))
}
