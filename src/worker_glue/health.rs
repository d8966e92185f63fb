//! `GET /health`: the proxy, Redis (Upstash PING) and Supabase (one-row select), each with its
//! latency; 200 when all are up, 503 naming what is down.

use super::config::Config;
use super::responses::json_response;
use serde_json::{json, Value};
use worker::{Response, Result};
use worker_util::now_ms;

fn check(latency_ms: u64, outcome: std::result::Result<(), String>) -> (bool, Value) {
    match outcome {
        Ok(()) => (true, json!({"status": "up", "latency_ms": latency_ms})),
        Err(e) => (
            false,
            json!({"status": "down", "latency_ms": latency_ms, "error": e}),
        ),
    }
}

pub async fn handle(cfg: &Config) -> Result<Response> {
    let (redis, supabase) = (cfg.redis(), cfg.supabase());
    let redis_check = async {
        let t = now_ms();
        let r = redis
            .command(&["PING"])
            .await
            .map_err(|e| e.to_string())
            .and_then(|v| {
                if v == "PONG" {
                    Ok(())
                } else {
                    Err(format!("unexpected PING reply {v}"))
                }
            });
        check(now_ms() - t, r)
    };
    let supabase_check = async {
        let t = now_ms();
        let r = supabase
            .select("plans?select=name&limit=1")
            .await
            .map(|_| ())
            .map_err(|e| e.to_string());
        check(now_ms() - t, r)
    };
    let ((redis_up, redis), (supabase_up, supabase)) = futures::join!(redis_check, supabase_check);
    let down: Vec<&str> = [("redis", redis_up), ("supabase", supabase_up)]
        .iter()
        .filter(|(_, up)| !up)
        .map(|(n, _)| *n)
        .collect();
    let body = json!({
        "status": if down.is_empty() { "ok" } else { "degraded" },
        "down": down,
        "checks": {
            "proxy": {"status": "up", "version": env!("CARGO_PKG_VERSION")},
            "redis": redis,
            "supabase": supabase,
        }
    });
    json_response(
        if down.is_empty() { 200 } else { 503 },
        &body,
        &[("cache-control", "no-store".into())],
    )
}
