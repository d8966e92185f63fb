//! Telemetry off the hot path: every request's `logEvent` goes to the Workers log (one JSON line)
//! and, when `DD_API_KEY` is set, to Datadog's HTTP intake in batches (flushed with the usage-log
//! batch); server errors (5xx) go to Sentry as envelopes when `SENTRY_DSN` is set.

use super::background::after_response;
use super::config::Config;
use crate::observability::{self, ErrorReport};
use serde_json::{json, Value};
use std::cell::{Cell, RefCell};
use worker::Context;
use worker_util::{now_ms, random_hex, Outbound};

/// Entries per Datadog request (the intake takes at most 1,000 and 5 MB).
const DATADOG_BATCH: usize = 500;
/// Sentry events per isolate per minute at most, so an outage does not flood the project.
const SENTRY_EVENTS_PER_MINUTE: u32 = 20;
const HOSTNAME: &str = "proxy.watchllm.dev";
const CLIENT: &str = concat!("watchllm-proxy/", env!("CARGO_PKG_VERSION"));

thread_local! {
    static DATADOG_PENDING: RefCell<Vec<Value>> = const { RefCell::new(Vec::new()) };
    /// (window start ms, events sent in it)
    static SENTRY_WINDOW: Cell<(u64, u32)> = const { Cell::new((0, 0)) };
}

/// Records one request's event: printed now, queued for Datadog when configured.
pub fn record(cfg: &Config, event: Value) {
    worker::console_log!("{}", json!({ "logEvent": event }));
    if cfg.datadog_api_key.is_some() {
        let entry = observability::datadog_entry(&event, &cfg.environment, HOSTNAME);
        DATADOG_PENDING.with(|p| p.borrow_mut().push(entry));
    }
}

/// Sends the queued Datadog entries; called from the usage-log flush inside `wait_until`.
pub async fn flush_datadog(cfg: &Config) {
    let Some(api_key) = &cfg.datadog_api_key else {
        return;
    };
    let entries = DATADOG_PENDING.with(|p| std::mem::take(&mut *p.borrow_mut()));
    for batch in entries.chunks(DATADOG_BATCH) {
        let body = Value::Array(batch.to_vec()).to_string();
        let sent = post(
            &cfg.datadog_logs_url,
            &[
                ("DD-API-KEY", api_key.as_str()),
                ("content-type", "application/json"),
            ],
            body,
            cfg.supabase_timeout_ms,
        )
        .await;
        if let Err(e) = sent {
            worker::console_error!("datadog intake failed for {} entries: {e}", batch.len());
        }
    }
}

/// Reports a server error to Sentry in the background (rate-limited per isolate).
pub fn report_error(
    cfg: &Config,
    ctx: &Context,
    code: &str,
    message: &str,
    status: u16,
    tags: Vec<(String, String)>,
    extra: serde_json::Map<String, Value>,
) {
    let Some(dsn) = cfg.sentry_dsn.clone() else {
        return;
    };
    let now = now_ms();
    let allowed = SENTRY_WINDOW.with(|w| {
        let (start, count) = w.get();
        let (start, count) = if now.saturating_sub(start) > 60_000 {
            (now, 0)
        } else {
            (start, count)
        };
        w.set((start, count + 1));
        count < SENTRY_EVENTS_PER_MINUTE
    });
    if !allowed {
        return;
    }
    let report = ErrorReport {
        event_id: random_hex(16),
        timestamp_ms: now,
        environment: cfg.environment.clone(),
        release: format!("watchllm-proxy@{}", env!("CARGO_PKG_VERSION")),
        code: code.to_string(),
        message: message.to_string(),
        status,
        tags,
        extra,
    };
    let timeout = cfg.supabase_timeout_ms;
    after_response(ctx, async move {
        let envelope = observability::sentry_envelope(&dsn, &report, now_ms());
        let auth = dsn.auth_header(CLIENT);
        let sent = post(
            &dsn.envelope_url(),
            &[
                ("X-Sentry-Auth", auth.as_str()),
                ("content-type", "application/x-sentry-envelope"),
            ],
            envelope,
            timeout,
        )
        .await;
        if let Err(e) = sent {
            worker::console_error!("sentry envelope failed: {e}");
        }
    });
}

/// Posts a telemetry payload; any non-2xx answer is an error (logged by the caller).
async fn post(
    url: &str,
    headers: &[(&str, &str)],
    body: String,
    timeout_ms: u64,
) -> Result<(), worker_util::HttpError> {
    let out = headers
        .iter()
        .fold(Outbound::post(url), |o, (k, v)| o.header(k, v))
        .body(body)
        .deadline_ms(timeout_ms);
    worker_util::http::send(&out).await?.success().map(|_| ())
}
