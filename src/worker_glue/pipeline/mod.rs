//! The request pipeline for the proxied endpoints, as named stages, each returning a value:
//!
//! 1. `admit`: the key, the body, the route and the client's cache controls;
//! 2. `lookup`: the isolate's memory, or one Redis round trip (rate limit and quota, the cache
//!    state, the exact entry, semantic buckets, the in-flight lock), then the semantic decision;
//! 3. `respond`: a cache hit answered as JSON or a replayed stream;
//! 4. `collapse`: a request whose identical twin is in flight waits for that leader's answer;
//! 5. `forward`: the provider call, in its dialect, with one retry where safe;
//! 6. `stream`: a streamed miss forwarded as it arrives;
//! 7. `store`: the answer written for the next request (off the hot path);
//!
//! and one `finish` on every path, errors included: it releases the in-flight lock, writes the
//! usage record and reports server errors (for a stream, when the stream ends).

mod admit;
mod collapse;
mod forward;
mod lookup;
mod respond;
mod store;
mod stream;

use super::background::after_response;
use super::config::Config;
use super::responses::error_response;
use super::telemetry;
use super::usage_log::{self, UsageRecord};
use crate::error::ApiError;
use crate::request::Endpoint;
use crate::watchllm_headers::{CacheDetail, CacheStatus, WatchllmHeaders};
use std::rc::Rc;
use worker::{Context, Request, Response, Result};
use worker_util::now_ms;

/// Per-request state the stages share.
pub struct Exchange {
    pub cfg: Rc<Config>,
    pub request_id: String,
    pub start_ms: u64,
    /// Headers every response of this request carries (the rate limit's).
    pub response_headers: Vec<(&'static str, String)>,
    pub log: UsageRecord,
    /// The in-flight lock this request holds as the leader of concurrent identical misses.
    pub lock: Option<String>,
    /// Where the time went (`Server-Timing`): the Redis round trip, the provider call.
    pub timings: Vec<(&'static str, u64)>,
}

impl Exchange {
    fn new(cfg: Rc<Config>, endpoint: Endpoint, request_id: String, start_ms: u64) -> Exchange {
        let log = UsageRecord {
            request_id: request_id.clone(),
            endpoint: endpoint.name(),
            cache_status: CacheStatus::Miss.as_str(),
            provider: "none".into(),
            ..Default::default()
        };
        Exchange {
            cfg,
            request_id,
            start_ms,
            response_headers: Vec::new(),
            log,
            lock: None,
            timings: Vec::new(),
        }
    }

    pub fn elapsed(&self) -> u64 {
        now_ms().saturating_sub(self.start_ms)
    }

    /// The `X-WatchLLM-*` values of a response of this request, before the specifics.
    pub fn headers(
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
            cost_usd: Some(0.0),
            latency_ms: self.elapsed(),
            provider: provider.to_string(),
            tokens_saved: 0,
        }
    }

    /// Every header of a response: the rate limit's, then the `X-WatchLLM-*` ones.
    pub fn all_headers(&self, h: WatchllmHeaders) -> Vec<(&'static str, String)> {
        let mut all = self.response_headers.clone();
        let timing = self
            .timings
            .iter()
            .map(|(name, ms)| format!("{name};dur={ms}"))
            .chain(std::iter::once(format!("total;dur={}", h.latency_ms)))
            .collect::<Vec<_>>()
            .join(", ");
        all.push(("server-timing", timing));
        all.extend(h.to_pairs());
        all
    }

    /// Records how long a named part of the request took, since `started_ms`.
    pub fn timed(&mut self, name: &'static str, started_ms: u64) {
        self.timings
            .push((name, now_ms().saturating_sub(started_ms)));
    }

    /// What `finish` needs after the request's own code has run, for a stream's end.
    fn finisher(&mut self) -> Finisher {
        Finisher {
            cfg: self.cfg.clone(),
            log: self.log.clone(),
            lock: self.lock.take(),
        }
    }
}

/// How a request ended.
pub enum Outcome {
    /// Answered; everything to record is in the exchange's log.
    Respond(Response),
    /// A streamed miss: its record and lock are settled when the stream ends.
    Streaming(Response),
    Failed(ApiError),
}

/// The errors `stale-if-error` covers (RFC 5861 §4): the provider's failures and timeouts.
const STALE_IF_ERROR_STATUSES: [u16; 4] = [500, 502, 503, 504];

/// Runs the stages for one request to a proxied endpoint.
pub async fn handle(
    req: Request,
    cfg: Rc<Config>,
    ctx: &Context,
    endpoint: Endpoint,
    request_id: String,
    start_ms: u64,
) -> Result<Response> {
    let mut ex = Exchange::new(cfg, endpoint, request_id, start_ms);
    let outcome = match run(&mut ex, ctx, req, endpoint).await {
        Ok(outcome) => outcome,
        Err(e) => Outcome::Failed(e),
    };
    finish(ex, ctx, outcome)
}

async fn run(
    ex: &mut Exchange,
    ctx: &Context,
    req: Request,
    endpoint: Endpoint,
) -> std::result::Result<Outcome, ApiError> {
    let admitted = admit::admit(ex, req, endpoint).await?;
    let found = lookup::lookup(ex, ctx, &admitted).await?;
    if let Some(hit) = found.hit {
        return respond::from_cache(ex, &admitted.request, hit).map(Outcome::Respond);
    }
    if let Some(hit) = collapse::collapse(ex, &admitted, &found).await {
        return respond::from_cache(ex, &admitted.request, hit).map(Outcome::Respond);
    }
    let plan = store::plan(&admitted, &found);
    let detail = admitted.controls.miss_detail(found.redis_up);
    let upstream = match forward::forward(ex, &admitted).await {
        Ok(upstream) => upstream,
        Err(e) => {
            // `stale-if-error`: the provider failed, and the request accepts an entry past its
            // freshness (within its window) over the error.
            let stale = found
                .stale
                .filter(|_| STALE_IF_ERROR_STATUSES.contains(&e.status))
                .filter(|s| admitted.controls.serves_stale(&s.entry.entry, now_ms()));
            return match stale {
                Some(hit) => {
                    worker::console_warn!("serving stale after a provider error: {}", e.message);
                    respond::from_cache(ex, &admitted.request, hit).map(Outcome::Respond)
                }
                None => Err(e),
            };
        }
    };
    match upstream {
        forward::Upstream::Answer(answer, body) => {
            respond::answer(ex, ctx, &admitted, (answer, body), detail, plan).map(Outcome::Respond)
        }
        forward::Upstream::Stream(resp) => {
            let finisher = ex.finisher();
            stream::stream_miss(ex, ctx, resp, &admitted, detail, plan, finisher)
                .map(Outcome::Streaming)
        }
    }
}

/// Settles a request: the lock, the usage record, error reports; then its response.
fn finish(mut ex: Exchange, ctx: &Context, outcome: Outcome) -> Result<Response> {
    ex.log.latency_ms = ex.elapsed();
    match outcome {
        Outcome::Respond(resp) => {
            ex.finisher().finish(ctx, None);
            Ok(resp)
        }
        Outcome::Streaming(resp) => Ok(resp),
        Outcome::Failed(err) => {
            ex.log.failed(&err);
            let provider = ex.log.provider.clone();
            let headers =
                ex.all_headers(ex.headers(CacheStatus::Miss, CacheDetail::NotCached, &provider));
            ex.finisher().finish(ctx, Some(&err));
            error_response(&err, &headers)
        }
    }
}

/// The end of a request: releases the in-flight lock (followers then go upstream themselves),
/// writes the usage record and reports a server error to Sentry.
pub struct Finisher {
    cfg: Rc<Config>,
    pub log: UsageRecord,
    lock: Option<String>,
}

impl Finisher {
    /// Settles in the background (`wait_until`), for a response being returned now.
    fn finish(self, ctx: &Context, error: Option<&ApiError>) {
        if let Some(err) = error.filter(|e| e.status >= 500) {
            self.report(ctx, err);
        }
        if let Some(lock) = self.lock {
            let cfg = self.cfg.clone();
            after_response(ctx, async move {
                let _ = cfg.redis().command(&["DEL", &lock]).await;
            });
        }
        usage_log::enqueue(&self.cfg, ctx, &self.log);
    }

    /// Settles now, for a stream's end (running in `wait_until`): its record is written unless
    /// a flush already wrote it as cut short (`usage_log::stream_opened`).
    async fn finish_stream(mut self) {
        if let Some(lock) = self.lock.take() {
            let _ = self.cfg.redis().command(&["DEL", &lock]).await;
        }
        if usage_log::stream_closed(&self.log.request_id) {
            usage_log::write_now(&self.cfg, &self.log).await;
        }
    }

    /// Leaves the lock to the store, which releases it once the entry is written.
    fn take_lock(&mut self) -> Option<String> {
        self.lock.take()
    }

    fn report(&self, ctx: &Context, err: &ApiError) {
        let mut extra = serde_json::Map::new();
        extra.insert("request_id".into(), self.log.request_id.clone().into());
        extra.insert("project_id".into(), self.log.project_id.clone().into());
        telemetry::report_error(
            &self.cfg,
            ctx,
            err.code.as_deref().unwrap_or("server_error"),
            &err.message,
            err.status,
            vec![
                ("provider".into(), self.log.provider.clone()),
                ("endpoint".into(), self.log.endpoint.to_string()),
                ("model".into(), self.log.model.clone()),
            ],
            extra,
        );
    }
}
