//! One `usage_logs` row per authenticated request (and one telemetry `logEvent` per request), written through Supabase REST off the hot path:
//! rows are buffered in the isolate and inserted in batches (one PostgREST bulk insert per
//! `FLUSH_DELAY_MS` window) by a flush that runs inside `ctx.wait_until`, so the runtime keeps the
//! isolate alive until the rows are written and no response ever waits for logging.

use super::config::Config;
use super::http::now_ms;
use super::supabase::Supabase;
use super::telemetry;
use crate::observability;
use serde_json::{json, Value};
use std::cell::{Cell, RefCell};
use std::time::Duration;
use worker::{Context, Delay};

/// How long a flush waits to gather rows from concurrent requests.
const FLUSH_DELAY_MS: u64 = 25;
/// Rows per bulk insert at most.
const MAX_BATCH: usize = 500;

thread_local! {
    static PENDING: RefCell<Vec<Value>> = const { RefCell::new(Vec::new()) };
    static FLUSH_SCHEDULED: Cell<bool> = const { Cell::new(false) };
}

#[derive(Debug, Clone, Default)]
pub struct UsageRecord {
    pub request_id: String,
    pub project_id: String,
    pub api_key_id: String,
    pub key_kind: String,
    pub endpoint: &'static str,
    pub model: String,
    pub provider: String,
    pub cache_status: &'static str,
    pub status_code: u16,
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
    pub cost_usd: Option<f64>,
    pub cost_saved_usd: f64,
    pub tokens_saved: u64,
    pub latency_ms: u64,
    pub similarity: Option<f64>,
    pub error_code: Option<String>,
    /// Upstream calls made (0 when the cache answered, 2 after a retry).
    pub upstream_attempts: u32,
}

impl UsageRecord {
    pub fn to_row(&self) -> Value {
        json!({
            "request_id": self.request_id,
            "project_id": self.project_id,
            "api_key_id": self.api_key_id,
            "key_kind": self.key_kind,
            "endpoint": self.endpoint,
            "model": self.model,
            "provider": self.provider,
            "cache_status": self.cache_status,
            "status_code": self.status_code,
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "cost_usd": self.cost_usd,
            "cost_saved_usd": self.cost_saved_usd,
            "tokens_saved": self.tokens_saved,
            "latency_ms": self.latency_ms,
            "similarity": self.similarity,
            "error_code": self.error_code,
            "upstream_attempts": self.upstream_attempts,
        })
    }

    /// The structured per-request log event (Workers log, Datadog).
    pub fn to_log_event(&self) -> Value {
        json!({
            "timestamp": observability::iso8601(now_ms()),
            "request_id": self.request_id,
            "project_id": (!self.project_id.is_empty()).then_some(&self.project_id),
            "api_key_id": (!self.api_key_id.is_empty()).then_some(&self.api_key_id),
            "endpoint": self.endpoint,
            "model": self.model,
            "provider": self.provider,
            "cache_status": self.cache_status,
            "status": self.status_code,
            "latency_ms": self.latency_ms,
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "cost_usd": self.cost_usd,
            "cost_saved_usd": self.cost_saved_usd,
            "tokens_saved": self.tokens_saved,
            "similarity": self.similarity,
            "upstream_attempts": self.upstream_attempts,
            "error": self.error_code,
        })
    }

    fn queue(&self, cfg: &Config) {
        telemetry::record(cfg, self.to_log_event());
        // Unauthenticated requests have no project to bill: telemetry only.
        if !self.project_id.is_empty() {
            PENDING.with(|p| p.borrow_mut().push(self.to_row()));
        }
    }
}

/// Queues the row; the first row of a window schedules the flush that writes the batch.
pub fn enqueue(cfg: &Config, ctx: &Context, record: &UsageRecord) {
    record.queue(cfg);
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
    record.queue(cfg);
    flush(cfg).await;
}

/// Writes everything pending, in bulk inserts; failures are logged, never surfaced to clients.
async fn flush(cfg: &Config) {
    let rows = PENDING.with(|p| std::mem::take(&mut *p.borrow_mut()));
    let supabase = Supabase {
        url: &cfg.supabase_url,
        service_key: &cfg.supabase_service_key,
        timeout_ms: cfg.supabase_timeout_ms * 2,
    };
    for batch in rows.chunks(MAX_BATCH) {
        if let Err(e) = supabase
            .insert("usage_logs", &Value::Array(batch.to_vec()))
            .await
        {
            worker::console_error!("usage log insert of {} rows failed: {e}", batch.len());
        }
    }
    telemetry::flush_datadog(cfg).await;
}
