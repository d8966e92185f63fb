//! Stage 6, stream: a streamed miss is forwarded to the client as it arrives (translated to
//! OpenAI's SSE by the dialect's decoder), while a tap assembles the answer. Nothing waits for a
//! write before the first chunk goes out: when the stream ends, the answer is stored if it is
//! complete, and the request is finished (lock, usage record), inside `wait_until`.
//!
//! One task, inside `wait_until`, reads the provider's body and writes the client's
//! (`worker_util::pipe`: a body the runtime sends natively). A client that goes away makes its
//! write fail, and the task cancels the provider's read; a client that neither reads nor hangs up
//! (the runtime does not always tell) is noticed on the task's own timer (`stream_watch`). Every
//! call into Rust follows a read or write the task awaits, settled in the request's context (the
//! per-chunk calls do no I/O at all), so none of its I/O can run where I/O is refused (through
//! wasm-bindgen that aborts the whole instance: every isolate cache and queued usage record
//! lost). Should the runtime end the task first, the record waits in `usage_log` as cut short.

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
use futures::future::{self, Either};
use serde_json::Value;
use std::cell::RefCell;
use std::pin::pin;
use std::rc::{Rc, Weak};
use std::time::Duration;
use worker::web_sys::ReadableStream;
use worker::{Context, Delay, Headers, Response, ResponseBody};
use worker_util::now_ms;
use worker_util::pipe::{BodyReader, BodyWriter, PumpEnd};

/// The stream's state between chunks: the provider's decoder and the tap assembling the answer.
struct StreamState {
    decoder: StreamDecoder,
    tap: StreamTap,
    /// Whether the client is still taking the body (`stream_watch`).
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

    /// The last bytes, and the assembled answer (None if the stream was incomplete).
    fn end(&mut self) -> (Vec<u8>, Option<Value>) {
        let rest = self.decoder.finish();
        let mut out = self.tap.feed(&rest);
        let (last, answer) = self.tap.finish();
        out.extend(last);
        (out, answer)
    }
}

/// How passing a stream on ended.
enum Passed {
    /// The provider's stream ended: the assembled answer, None if it was incomplete or failed.
    Ended(Option<Value>),
    /// The client went away first.
    ClientGone,
}

pub fn stream_miss(
    ex: &mut Exchange,
    ctx: &Context,
    upstream: ReadableStream,
    a: &Admitted,
    detail: CacheDetail,
    plan: Option<StorePlan>,
    mut finisher: Finisher,
) -> Result<Response, ApiError> {
    let failed = |e: worker::Error| ApiError::internal(format!("streaming failed: {e}"));
    let js_failed = |e| ApiError::internal(format!("streaming failed: {e:?}"));
    let provider = a.route.provider.name();
    let reader = BodyReader::new(&upstream).map_err(js_failed)?;
    let (body, writer) = BodyWriter::new().map_err(js_failed)?;
    let state = Rc::new(RefCell::new(StreamState {
        decoder: a.dialect.stream_decoder(now_ms() / 1000),
        tap: StreamTap::new(a.request.include_usage),
        watch: StreamWatch::new(),
    }));
    let streaming = Rc::downgrade(&state) as Weak<dyn OpenBody>;

    // The cost is known only when the stream ends: it goes to the usage log, not this header.
    let mut h = ex.headers(CacheStatus::Miss, detail, provider);
    h.cost_usd = None;
    let mut headers = ex.all_headers(h);
    headers.push((
        "cache-control",
        super::respond::miss_cache_control(detail, plan.as_ref(), true),
    ));
    finisher.log.latency_ms = ex.elapsed();
    // The state lives as long as the task passing the stream on: `usage_log` sees when it is gone.
    usage_log::stream_opened(&finisher.log, streaming);

    let cfg = ex.cfg.clone();
    let route = a.route.clone();
    let provider_name = provider.to_string();
    ctx.wait_until(async move {
        match pass_on(&reader, &writer, &state).await {
            Passed::Ended(Some(answer)) => {
                let cacheable = is_cacheable_answer(&answer);
                let (entry, usage, cost) =
                    CacheEntry::for_answer(&provider_name, &route.upstream_model, answer, now_ms());
                finisher.log.answered(usage, cost);
                if let Some(mut plan) = plan.filter(|_| cacheable) {
                    plan.lock = finisher.take_lock();
                    store::store(&cfg, &plan, entry).await;
                }
            }
            Passed::Ended(None) => {
                finisher.log.status_code = 502;
                finisher.log.error_code = Some("incomplete_stream".into());
            }
            Passed::ClientGone => {
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
    Ok(Response::from_body(ResponseBody::Stream(body))
        .map_err(failed)?
        .with_status(200)
        .with_headers(out))
}

/// How often the stream's task looks whether its client went away (`pass_on`).
const STREAM_WATCH_MS: u64 = 100;

/// Passes the provider's stream on to the client, chunk by chunk, until either end stops; a client
/// that stopped taking the body is noticed on a timer (`stream_watch`), and its body ended.
async fn pass_on(
    reader: &BodyReader,
    writer: &BodyWriter,
    state: &Rc<RefCell<StreamState>>,
) -> Passed {
    let passing = pin!(pass_chunks(reader, writer, state));
    let watching = pin!(async {
        loop {
            Delay::from(Duration::from_millis(STREAM_WATCH_MS)).await;
            if state.abandoned(now_ms()) {
                return;
            }
        }
    });
    match future::select(passing, watching).await {
        Either::Left((passed, _)) => passed,
        Either::Right((_, passing)) => {
            writer.abort("the client stopped reading").await;
            reader.cancel().await;
            // With both ends closed the pump settles at once; it calls into Rust until then.
            passing.await;
            Passed::ClientGone
        }
    }
}

/// Reads the provider's chunks and writes the client's (the loop in JavaScript, each chunk
/// through the state in Rust: `worker_util::pipe`), each write awaited (so a client that reads
/// slowly slows the reads), then the tap's last bytes and the end of the body.
async fn pass_chunks(
    reader: &BodyReader,
    writer: &BodyWriter,
    state: &Rc<RefCell<StreamState>>,
) -> Passed {
    let chunks = state.clone();
    let transform = move |bytes: Vec<u8>| {
        let mut s = chunks.borrow_mut();
        let out = s.chunk(bytes);
        if out.is_empty() {
            return None;
        }
        s.watch.writing(now_ms());
        Some(out)
    };
    let writes = state.clone();
    let taken = move || writes.borrow_mut().watch.taken();
    match reader.pump_into(writer, transform, taken).await {
        PumpEnd::Ended => {}
        PumpEnd::WriterGone => {
            reader.cancel().await;
            return Passed::ClientGone;
        }
        PumpEnd::ReadFailed => {
            writer.abort("the provider's stream failed").await;
            return Passed::Ended(None);
        }
    }
    let (last, answer) = state.borrow_mut().end();
    if !last.is_empty() {
        state.borrow_mut().watch.writing(now_ms());
        let taken = writer.write(&last).await.is_ok();
        state.borrow_mut().watch.taken();
        if !taken {
            return Passed::ClientGone;
        }
    }
    if writer.close().await.is_err() {
        return Passed::ClientGone;
    }
    Passed::Ended(answer)
}
