//! Stage 6, stream: a streamed miss is forwarded to the client as it arrives (translated to
//! OpenAI's SSE by the dialect's decoder), while a tap assembles the answer. Nothing waits for a
//! write before the first chunk goes out: when the stream ends, the answer is stored if it is
//! complete, and the request is finished (lock, usage record), inside `wait_until`.
//!
//! A client that goes away midway makes workerd cancel the body outside the request's context,
//! where I/O is not allowed ("Disallowed operation called within global scope"; through
//! wasm-bindgen that aborts the whole instance: every isolate cache and queued usage record
//! lost). Dropping the upstream body cancels its read, which is I/O, and waking the finishing
//! task from there would run its I/O there too. So the cancelled body drops neither: the upstream
//! body and the answer's sender are held by the finishing task, which notices the client went
//! away on a timer of its own (`ended`), and lets go of the upstream in the request's context.
//! Should the runtime end that task first, the record waits in `usage_log` as cut short.

use super::admit::Admitted;
use super::store::{self, StorePlan};
use super::{Exchange, Finisher};
use crate::cache_entry::{is_cacheable_answer, CacheEntry};
use crate::error::ApiError;
use crate::providers::StreamDecoder;
use crate::sse::StreamTap;
use crate::stream_watch::StreamWatch;
use crate::watchllm_headers::{CacheDetail, CacheStatus};
use crate::worker_glue::usage_log::{self, OpenBody};
use futures::channel::oneshot;
use futures::future::{self, Either};
use futures::{Stream, StreamExt};
use serde_json::Value;
use std::cell::RefCell;
use std::pin::Pin;
use std::rc::{Rc, Weak};
use std::task::Poll;
use std::time::Duration;
use worker::{Context, Delay, Headers, Response};
use worker_util::now_ms;

/// The stream's state between chunks: the provider's decoder, the tap assembling the answer, and
/// where the assembled answer goes when the stream ends.
struct StreamState {
    decoder: StreamDecoder,
    tap: StreamTap,
    done: AnswerSender,
    /// Whether the client is still reading (`stream_watch`).
    watch: StreamWatch,
}

impl OpenBody for RefCell<StreamState> {
    fn abandoned(&self, now_ms: u64) -> bool {
        self.try_borrow().is_ok_and(|s| s.watch.abandoned(now_ms))
    }
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
        if let Some(done) = self.done.borrow_mut().take() {
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
    let done = Rc::new(RefCell::new(Some(done)));
    let state = Rc::new(RefCell::new(StreamState {
        decoder: a.dialect.stream_decoder(now_ms() / 1000),
        tap: StreamTap::new(a.request.include_usage),
        done: done.clone(),
        watch: StreamWatch::new(now_ms()),
    }));
    let streaming = Rc::downgrade(&state) as Weak<dyn OpenBody>;
    let feeding = state.clone();
    let watching = state.clone();
    let upstream: Upstream = Rc::new(RefCell::new(Some(Box::pin(resp.stream().map_err(failed)?))));
    let reading = upstream.clone();
    let forwarded = futures::stream::poll_fn(move |cx| {
        let read = match reading.borrow_mut().as_mut() {
            Some(body) => body.as_mut().poll_next(cx),
            None => Poll::Ready(None),
        };
        watching.borrow_mut().watch.read(read.is_ready(), now_ms());
        read
    })
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
    headers.push((
        "cache-control",
        super::respond::miss_cache_control(detail, plan.as_ref(), true),
    ));
    finisher.log.latency_ms = ex.elapsed();
    // The state lives as long as the client's body: `usage_log` sees when it is gone.
    usage_log::stream_opened(&finisher.log, streaming.clone());

    let cfg = ex.cfg.clone();
    let route = a.route.clone();
    let provider_name = provider.to_string();
    ctx.wait_until(async move {
        let outcome = ended(answer, streaming, done).await;
        // Cancels the upstream read if the client went away (here, in the request's context).
        drop(upstream.borrow_mut().take());
        match outcome {
            Ok(Some(answer)) => {
                let cacheable = is_cacheable_answer(&answer);
                let (entry, usage, cost) =
                    CacheEntry::for_answer(&provider_name, &route.upstream_model, answer, now_ms());
                finisher.log.answered(usage, cost);
                if let Some(mut plan) = plan.filter(|_| cacheable) {
                    plan.lock = finisher.take_lock();
                    store::store(&cfg, &plan, entry).await;
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
        finisher.finish_stream().await;
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

/// How often the finishing task looks whether the client went away.
const STREAM_WATCH_MS: u64 = 100;

type AnswerSender = Rc<RefCell<Option<oneshot::Sender<Option<Value>>>>>;
/// The provider's body, shared by the client's stream and the finishing task.
type Upstream = Rc<RefCell<Option<Pin<Box<worker::ByteStream>>>>>;

/// The stream's assembled answer (None if incomplete) once it ends, or Err if the client went
/// away first (its body dropped, or unread: `stream_watch`). `_sender` is held here so that the
/// stream being dropped wakes nothing (see above); this task's own timer looks instead.
async fn ended(
    mut answer: oneshot::Receiver<Option<Value>>,
    streaming: Weak<dyn OpenBody>,
    _sender: AnswerSender,
) -> Result<Option<Value>, oneshot::Canceled> {
    loop {
        let tick = Delay::from(Duration::from_millis(STREAM_WATCH_MS));
        match future::select(&mut answer, tick).await {
            Either::Left((got, _)) => return got,
            Either::Right(_) => {
                if usage_log::body_gone(&streaming, now_ms()) {
                    return answer.try_recv()?.ok_or(oneshot::Canceled);
                }
            }
        }
    }
}
