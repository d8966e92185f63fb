//! One `usage_logs` row per authenticated request (and one telemetry `logEvent` per request),
//! written through Supabase REST off the hot path:
//! rows are buffered in the isolate and inserted in batches (one PostgREST bulk insert per
//! `FLUSH_DELAY_MS` window) by a flush that runs inside `ctx.wait_until`, so the runtime keeps the
//! isolate alive until the rows are written and no response ever waits for logging.

use super::config::Config;
use super::telemetry;
pub use crate::usage::UsageRecord;
use serde_json::Value;
use std::cell::{Cell, RefCell};
use std::time::Duration;
use worker::{Context, Delay};
use worker_util::now_ms;

/// How long a flush waits to gather rows from concurrent requests.
const FLUSH_DELAY_MS: u64 = 25;
/// Rows per bulk insert at most.
const MAX_BATCH: usize = 500;

thread_local! {
    static PENDING: RefCell<Vec<Value>> = const { RefCell::new(Vec::new()) };
    static FLUSH_SCHEDULED: Cell<bool> = const { Cell::new(false) };
}

/// Prints the request's log event, queues it for Datadog, and queues its row (for requests with
/// a project: unauthenticated ones have nothing to bill).
fn queue(cfg: &Config, record: &UsageRecord) {
    telemetry::record(cfg, record.to_log_event(now_ms()));
    if record.has_project() {
        PENDING.with(|p| p.borrow_mut().push(record.to_row()));
    }
}

/// Queues the row; the first row of a window schedules the flush that writes the batch.
pub fn enqueue(cfg: &Config, ctx: &Context, record: &UsageRecord) {
    queue(cfg, record);
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
    queue(cfg, record);
    flush(cfg).await;
}

/// Writes everything pending, in bulk inserts; failures are logged, never surfaced to clients.
async fn flush(cfg: &Config) {
    let rows = PENDING.with(|p| std::mem::take(&mut *p.borrow_mut()));
    let supabase = cfg.supabase();
    for batch in rows.chunks(MAX_BATCH) {
        if let Err(e) = supabase
            .insert(
                "usage_logs",
                &Value::Array(batch.to_vec()),
                cfg.supabase_timeout_ms * 2,
            )
            .await
        {
            worker::console_error!("usage log insert of {} rows failed: {e}", batch.len());
        }
    }
    telemetry::flush_datadog(cfg).await;
}
