//! Stage 6, stream: a streamed miss is forwarded to the client as it arrives (translated to
//! OpenAI's SSE by the dialect's decoder), while a tap assembles the answer. Nothing waits for a
//! write before the first chunk goes out: when the stream ends, the answer is stored if it is
//! complete, and the request is finished (lock, usage record), inside `wait_until`.

use super::admit::Admitted;
use super::store::{self, StorePlan};
use super::{Exchange, Finisher};
use crate::cache_entry::{is_cacheable_answer, CacheEntry};
use crate::error::ApiError;
use crate::providers::StreamDecoder;
use crate::sse::StreamTap;
use crate::watchllm_headers::{CacheDetail, CacheStatus};
use futures::channel::oneshot;
use futures::StreamExt;
use serde_json::Value;
use std::cell::RefCell;
use std::rc::Rc;
use worker::{Context, Headers, Response};
use worker_util::now_ms;

/// The stream's state between chunks: the provider's decoder, the tap assembling the answer, and
/// where the assembled answer goes when the stream ends.
struct StreamState {
    decoder: StreamDecoder,
    tap: StreamTap,
    done: Option<oneshot::Sender<Option<Value>>>,
}

impl StreamState {
    /// The client's bytes for the provider's next chunk.
    fn chunk(&mut self, bytes: Vec<u8>) -> Vec<u8> {
        let decoded = self.decoder.decode(bytes);
        self.tap.feed(&decoded)
    }

    /// The last bytes, and the assembled answer sent on (None if the stream was incomplete).
    fn end(&mut self) -> Vec<u8> {
        let rest = self.decoder.finish();
        let mut out = self.tap.feed(&rest);
        let (last, answer) = self.tap.finish();
        out.extend(last);
        if let Some(done) = self.done.take() {
            let _ = done.send(answer);
        }
        out
    }
}

pub fn stream_miss(
    ex: &mut Exchange,
    ctx: &Context,
    mut resp: Response,
    a: &Admitted,
    detail: CacheDetail,
    plan: Option<StorePlan>,
    mut finisher: Finisher,
) -> Result<Response, ApiError> {
    let failed = |e: worker::Error| ApiError::internal(format!("streaming failed: {e}"));
    let provider = a.route.provider.name();
    let (done, answer) = oneshot::channel::<Option<Value>>();
    let state = Rc::new(RefCell::new(StreamState {
        decoder: a.dialect.stream_decoder(now_ms() / 1000),
        tap: StreamTap::new(a.request.include_usage),
        done: Some(done),
    }));
    let feeding = state.clone();
    let forwarded = resp
        .stream()
        .map_err(failed)?
        .map(move |chunk| chunk.map(|bytes| feeding.borrow_mut().chunk(bytes)));
    let tail =
        futures::stream::once(
            async move { Ok::<Vec<u8>, worker::Error>(state.borrow_mut().end()) },
        );
    let body = forwarded
        .chain(tail)
        .filter(|r| futures::future::ready(!matches!(r, Ok(b) if b.is_empty())));

    // The cost is known only when the stream ends: it goes to the usage log, not this header.
    let mut h = ex.headers(CacheStatus::Miss, detail, provider);
    h.cost_usd = None;
    let mut headers = ex.all_headers(h);
    headers.push(("cache-control", "no-cache".into()));
    finisher.log.latency_ms = ex.elapsed();

    let cfg = ex.cfg.clone();
    let route = a.route.clone();
    let provider_name = provider.to_string();
    ctx.wait_until(async move {
        match answer.await {
            Ok(Some(answer)) => {
                let cacheable = is_cacheable_answer(&answer);
                let (entry, usage, cost) =
                    CacheEntry::for_answer(&provider_name, &route.upstream_model, answer, now_ms());
                finisher.log.answered(usage, cost);
                if let Some(mut plan) = plan.filter(|_| cacheable) {
                    plan.lock = finisher.take_lock();
                    store::store(&cfg, &plan, &entry).await;
                }
            }
            Ok(None) => {
                finisher.log.status_code = 502;
                finisher.log.error_code = Some("incomplete_stream".into());
            }
            Err(_) => {
                finisher.log.status_code = 499;
                finisher.log.error_code = Some("stream_aborted".into());
            }
        }
        finisher.finish_now().await;
    });

    let out = Headers::new();
    let set = |k: &str, v: &str| out.set(k, v).map_err(failed);
    set("content-type", "text/event-stream; charset=utf-8")?;
    for (k, v) in &headers {
        set(k, v)?;
    }
    Ok(Response::from_stream(body)
        .map_err(failed)?
        .with_status(200)
        .with_headers(out))
}
