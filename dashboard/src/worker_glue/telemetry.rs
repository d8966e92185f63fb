//! Shipping the dashboard's error reports (`crate::telemetry`) to Sentry, off the response path
//! (`ctx.wait_until`), at most 20 per isolate per minute.
//!
//! Panics: a panic aborts the wasm instance before any code can send anything (workers-rs then
//! starts a fresh instance for the next request). So the panic hook only writes the report's text
//! to a JavaScript global, which outlives the instance, and the next request in the isolate sends
//! it. A report can be lost if the isolate is evicted first; the Workers log has the panic too.

use super::config::Config;
use crate::telemetry::{self, Context as ReportContext};
use std::cell::RefCell;
use watchllm_proxy::observability::{self, ErrorReport};
use worker::js_sys::{global, Reflect};
use worker::Context;
use worker_util::http::{send, Outbound};
use worker_util::{now_ms, random_hex, Throttle};

const CLIENT: &str = concat!("watchllm-dashboard/", env!("CARGO_PKG_VERSION"));
const PANIC_GLOBAL: &str = "__watchllm_dashboard_panic";
const SENTRY_DEADLINE_MS: u64 = 5_000;

thread_local! {
    static THROTTLE: RefCell<Throttle> = const { RefCell::new(Throttle::new(20, 60_000)) };
    /// The route being served, for a panic's report.
    static ROUTE: RefCell<String> = const { RefCell::new(String::new()) };
    static HOOKED: RefCell<bool> = const { RefCell::new(false) };
}

/// Once per wasm instance: on a panic, leave "route\nmessage" in a JS global (after the hooks
/// already installed, which log it and mark the instance for a restart).
pub fn install_panic_hook() {
    if HOOKED.with(|h| h.replace(true)) {
        return;
    }
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let route = ROUTE.with(|r| r.borrow().clone());
        let text = format!("{route}\n{info}");
        let _ = Reflect::set(&global(), &PANIC_GLOBAL.into(), &text.into());
        previous(info);
    }));
}

/// Notes the route being served (the panic hook reports it).
pub fn serving(route: &str) {
    ROUTE.with(|r| *r.borrow_mut() = route.to_string());
}

/// A panic left by an earlier request in this isolate, as (route, message); cleared when read.
fn take_panic() -> Option<(String, String)> {
    let key = PANIC_GLOBAL.into();
    let text = Reflect::get(&global(), &key).ok()?.as_string()?;
    let _ = Reflect::delete_property(&global(), &key);
    let (route, message) = text.split_once('\n')?;
    Some((route.to_string(), message.to_string()))
}

fn context<'a>(cfg: &'a Config, route: &'a str) -> ReportContext<'a> {
    ReportContext {
        event_id: random_hex(16),
        now_ms: now_ms(),
        environment: &cfg.environment,
        route,
    }
}

/// Sends a panic an earlier request left behind, if any.
pub fn report_pending_panic(cfg: &Config, ctx: &Context) {
    if let Some((route, message)) = take_panic() {
        ship(
            cfg,
            ctx,
            telemetry::panic_report(&context(cfg, &route), &message),
        );
    }
}

/// Reports an error answer if it is a server error.
pub fn report_error(cfg: &Config, ctx: &Context, route: &str, e: &crate::error::DashError) {
    if let Some(report) = telemetry::error_report(&context(cfg, route), e) {
        ship(cfg, ctx, report);
    }
}

fn ship(cfg: &Config, ctx: &Context, report: ErrorReport) {
    let Some(dsn) = cfg.sentry_dsn.clone() else {
        return;
    };
    if !THROTTLE.with(|t| t.borrow_mut().allow(now_ms())) {
        return;
    }
    ctx.wait_until(async move {
        let envelope = observability::sentry_envelope(&dsn, &report, now_ms());
        let out = Outbound::post(dsn.envelope_url())
            .header("x-sentry-auth", &dsn.auth_header(CLIENT))
            .header("content-type", "application/x-sentry-envelope")
            .body(envelope)
            .deadline_ms(SENTRY_DEADLINE_MS);
        if let Err(e) = send(&out).await.and_then(|r| r.success()) {
            worker::console_error!("sentry envelope failed: {e}");
        }
    });
}
