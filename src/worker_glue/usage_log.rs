//! One `usage_logs` row per authenticated request (and one telemetry `logEvent` per request),
//! written through Supabase REST off the hot path: records are buffered in the isolate as they
//! are, and a flush that runs inside `ctx.wait_until` once per `FLUSH_DELAY_MS` window prints their
//! log events and inserts their rows in bulk. The runtime keeps the isolate alive until the rows
//! are written, and no response waits for logging, not even for serialising it. A batch Supabase
//! certainly did not take (it restarts, it is unreachable) is sent again for a few seconds; one
//! that may have been written (a timeout) is not, so rows are never duplicated.
//!
//! A streamed response's row is written by its own task when the stream ends, but the runtime
//! may end a request's `wait_until` work when its client hangs up midway. So an open stream's
//! record is also kept here, as cut short (499): once its stream has been gone (its task ended,
//! or its client no longer reading: `stream_watch`) for a while and its task has not taken it
//! back, the next flush of any request writes it.

use super::config::Config;
use super::telemetry;
pub use crate::usage::UsageRecord;
use serde_json::Value;
use std::cell::{Cell, RefCell};
use std::rc::Weak;
use std::time::Duration;
use worker::{Context, Delay};
use worker_util::now_ms;

/// How long a flush waits to gather rows from concurrent requests.
const FLUSH_DELAY_MS: u64 = 1000;
/// Rows per bulk insert at most.
const MAX_BATCH: usize = 500;
/// Pauses before sending a batch again when Supabase did not take it (restarting, unreachable):
/// 7.75 s in all, inside the time the runtime gives `wait_until` work.
const RETRY_PAUSES_MS: [u64; 5] = [250, 500, 1000, 2000, 4000];

thread_local! {
    /// Records waiting for the flush, with when they were recorded.
    static PENDING: RefCell<Vec<(UsageRecord, u64)>> = const { RefCell::new(Vec::new()) };
    static FLUSH_SCHEDULED: Cell<bool> = const { Cell::new(false) };
    /// Records of streams still open (see above).
    static OPEN_STREAMS: RefCell<Vec<OpenStream>> = const { RefCell::new(Vec::new()) };
}

/// How long a stream's body must have been gone before a flush writes its record for it (its own
/// task, if it still runs, looks every 100 ms).
const GONE_FOR_MS: u64 = 2_000;

/// A streamed response's body, as the flush sees it.
pub trait OpenBody {
    /// Whether its client has stopped reading it (`stream_watch`).
    fn abandoned(&self, now_ms: u64) -> bool;
}

/// Whether a stream's client has gone: its task dropped, or its body no longer read.
fn body_gone(body: &Weak<dyn OpenBody>, now_ms: u64) -> bool {
    body.upgrade().is_none_or(|b| b.abandoned(now_ms))
}

struct OpenStream {
    /// As written if the stream's own task never does: cut short.
    record: UsageRecord,
    /// Dead once the stream's task (which holds the `Rc`) is dropped.
    body: Weak<dyn OpenBody>,
    /// When a flush first saw the body gone.
    gone_since_ms: Option<u64>,
}

/// Keeps a streamed response's record (as cut short) until its task takes it back.
pub fn stream_opened(record: &UsageRecord, body: Weak<dyn OpenBody>) {
    let mut record = record.clone();
    record.status_code = 499;
    record.error_code = Some("stream_aborted".into());
    OPEN_STREAMS.with(|o| {
        o.borrow_mut().push(OpenStream {
            record,
            body,
            gone_since_ms: None,
        });
    });
}

/// Takes a stream's record back for its own task to write; false if a flush already wrote it.
pub fn stream_closed(request_id: &str) -> bool {
    OPEN_STREAMS.with(|o| {
        let mut open = o.borrow_mut();
        let before = open.len();
        open.retain(|s| s.record.request_id != request_id);
        open.len() < before
    })
}

/// Moves the records of streams whose body has been gone for `GONE_FOR_MS` to the pending
/// rows (a body read again starts over).
fn sweep_abandoned_streams(now: u64) {
    OPEN_STREAMS.with(|o| {
        o.borrow_mut().retain_mut(|s| {
            if !body_gone(&s.body, now) {
                s.gone_since_ms = None;
                return true;
            }
            let since = *s.gone_since_ms.get_or_insert(now);
            if now.saturating_sub(since) < GONE_FOR_MS {
                return true;
            }
            queue(&s.record);
            false
        });
    });
}

fn queue(record: &UsageRecord) {
    PENDING.with(|p| p.borrow_mut().push((record.clone(), now_ms())));
}

/// Queues the record; the first of a window schedules the flush that writes the batch.
pub fn enqueue(cfg: &Config, ctx: &Context, record: &UsageRecord) {
    queue(record);
    if FLUSH_SCHEDULED.with(|f| f.replace(true)) {
        return;
    }
    let cfg = cfg.clone();
    ctx.wait_until(async move {
        Delay::from(Duration::from_millis(FLUSH_DELAY_MS)).await;
        FLUSH_SCHEDULED.with(|f| f.set(false));
        flush(&cfg).await;
    });
}

/// Queues the row and writes everything pending now; for code already running inside `wait_until`.
pub async fn write_now(cfg: &Config, record: &UsageRecord) {
    queue(record);
    flush(cfg).await;
}

/// Prints every pending record's log event (and queues it for Datadog), then writes the rows of
/// those with a project (unauthenticated requests have nothing to bill) in bulk inserts; failures
/// are logged, never surfaced to clients.
async fn flush(cfg: &Config) {
    sweep_abandoned_streams(now_ms());
    let pending = PENDING.with(|p| std::mem::take(&mut *p.borrow_mut()));
    let mut rows = Vec::with_capacity(pending.len());
    for (record, at_ms) in &pending {
        telemetry::record(cfg, record.to_log_event(*at_ms));
        if record.has_project() {
            rows.push(record.to_row());
        }
    }
    for batch in rows.chunks(MAX_BATCH) {
        insert(cfg, &Value::Array(batch.to_vec()), batch.len()).await;
    }
    telemetry::flush_datadog(cfg).await;
}

/// Inserts one batch, sending it again while Supabase certainly did not take it.
async fn insert(cfg: &Config, batch: &Value, rows: usize) {
    let supabase = cfg.supabase();
    let mut pauses = RETRY_PAUSES_MS.iter();
    loop {
        let Err(e) = supabase
            .insert("usage_logs", batch, cfg.supabase_timeout_ms * 2)
            .await
        else {
            return;
        };
        match pauses.next().filter(|_| e.nothing_written()) {
            Some(ms) => {
                worker::console_warn!(
                    "usage log insert of {rows} rows failed ({e}); again in {ms} ms"
                );
                Delay::from(Duration::from_millis(*ms)).await;
            }
            None => return worker::console_error!("usage log insert of {rows} rows failed: {e}"),
        }
    }
}
