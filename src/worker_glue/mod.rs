//! The Worker entry point: routing, CORS, and the error envelope. Everything else is in the
//! sibling modules (the request pipeline in `pipeline`, I/O clients in `upstash` and `supabase`).

mod auth;
mod config;
mod health;
mod pipeline;
mod responses;
mod supabase;
mod telemetry;
mod upstash;
mod usage_log;

use crate::error::ApiError;
use crate::models::MODELS;
use crate::request::Endpoint;
use config::Config;
use responses::{error_response, json_response};
use serde_json::json;
use worker::{event, Context, Env, Method, Request, Response, Result};
use worker_util::{now_ms, random_hex};

#[event(start)]
fn start() {
    console_error_panic_hook::set_once();
}

fn models_list() -> serde_json::Value {
    let data: Vec<_> = MODELS
        .iter()
        .map(|m| json!({"id": m.name, "object": "model", "created": 0, "owned_by": m.provider.name()}))
        .collect();
    json!({"object": "list", "data": data})
}

async fn route(req: Request, env: &Env, ctx: &Context) -> Result<Response> {
    let start_ms = now_ms();
    let path = req.path();
    let method = req.method();
    let cfg = Config::cached(env);
    match (method.clone(), path.trim_end_matches('/')) {
        (Method::Options, _) => Ok(Response::empty()?.with_status(204)),
        (Method::Get | Method::Head, "/health") => health::handle(&cfg).await,
        (_, "/health") => error_response(
            &ApiError::method_not_allowed(method.as_ref(), &path, "GET"),
            &[],
        ),
        (Method::Get, "/v1/models") => {
            let key =
                crate::api_key::from_authorization(req.headers().get("authorization")?.as_deref());
            match key {
                Ok(k) => match auth::authenticate(&cfg, &k, start_ms).await {
                    Ok(_) => json_response(200, &models_list(), &[]),
                    Err(e) => error_response(&e, &[]),
                },
                Err(e) => error_response(&e, &[]),
            }
        }
        (_, p) => match Endpoint::from_path(p) {
            Some(endpoint) if method == Method::Post => {
                pipeline::handle(req, cfg, ctx, endpoint, random_hex(12), start_ms).await
            }
            Some(_) => error_response(
                &ApiError::method_not_allowed(method.as_ref(), &path, "POST"),
                &[],
            ),
            None if p == "/v1/models" => error_response(
                &ApiError::method_not_allowed(method.as_ref(), &path, "GET"),
                &[],
            ),
            None => error_response(&ApiError::route_not_found(method.as_ref(), &path), &[]),
        },
    }
}

#[event(fetch)]
async fn fetch(req: Request, env: Env, ctx: Context) -> Result<Response> {
    let mut resp = match route(req, &env, &ctx).await {
        Ok(r) => r,
        Err(e) => {
            worker::console_error!("unhandled error: {e}");
            telemetry::report_error(
                &Config::cached(&env),
                &ctx,
                "internal_error",
                &e.to_string(),
                500,
                Vec::new(),
                serde_json::Map::new(),
            );
            error_response(&ApiError::internal("The proxy hit an internal error."), &[])?
        }
    };
    let h = resp.headers_mut();
    h.set("access-control-allow-origin", "*")?;
    h.set("access-control-allow-headers", "authorization, content-type, x-watchllm-bypass-cache, x-watchllm-refresh-cache, x-watchllm-similarity-threshold")?;
    h.set("access-control-allow-methods", "GET, POST, OPTIONS")?;
    h.set("access-control-expose-headers", "x-watchllm-request-id, x-watchllm-cache, x-watchllm-cache-detail, x-watchllm-cache-age, x-watchllm-cache-similarity, x-watchllm-cost-usd, x-watchllm-latency-ms, x-watchllm-provider, x-watchllm-tokens-saved, x-ratelimit-limit-requests, x-ratelimit-remaining-requests, x-ratelimit-reset-requests, retry-after")?;
    Ok(resp)
}
