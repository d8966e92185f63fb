//! The Worker entry point: routing, CORS, and the error envelope. Everything else is in the
//! sibling modules (the request pipeline in `pipeline`, I/O clients in `upstash` and `supabase`).

mod auth;
mod background;
mod config;
mod health;
mod isolate;
mod pipeline;
mod purge;
mod responses;
mod supabase;
mod telemetry;
mod upstash;
mod usage_log;

use crate::cors;
use crate::error::ApiError;
use crate::models::MODELS;
use crate::request::Endpoint;
use config::Config;
use responses::{error_response, json_response};
use serde_json::json;
use worker::{event, Context, Env, Headers, Method, Request, Response, Result};
use worker_util::{now_ms, random_hex};

#[event(start)]
fn start() {
    worker_util::futures_queue::run_futures_on_promise_jobs();
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
        (Method::Options, _) => {
            let header = |n: &str| req.headers().get(n).ok().flatten();
            let h = cors::preflight(
                header("origin").as_deref(),
                header("access-control-request-headers").as_deref(),
            );
            let out = Headers::new();
            for (k, v) in &h {
                out.set(k, v)?;
            }
            Ok(Response::empty()?.with_status(204).with_headers(out))
        }
        (Method::Get | Method::Head, "/health") => health::handle(&cfg).await,
        (_, "/health") => error_response(
            &ApiError::method_not_allowed(method.as_ref(), &path, "GET"),
            &[],
        ),
        (Method::Delete, "/v1/cache") => purge::handle(req, &cfg, start_ms).await,
        (_, "/v1/cache") => error_response(
            &ApiError::method_not_allowed(method.as_ref(), &path, "DELETE"),
            &[],
        ),
        (Method::Get, "/v1/models") => {
            let key =
                crate::api_key::from_authorization(req.headers().get("authorization")?.as_deref());
            match key {
                Ok(k) => {
                    match auth::authenticate(&cfg, &auth::Client::of(&req), &k, start_ms).await {
                        Ok(_) => json_response(200, &models_list(), &[]),
                        Err(e) => error_response(&e, &[]),
                    }
                }
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
    let origin = req.headers().get("origin").ok().flatten();
    let preflight = req.method() == Method::Options;
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
    if !preflight {
        let h = resp.headers_mut();
        for (k, v) in cors::response_headers(origin.as_deref()) {
            h.set(k, &v)?;
        }
    }
    Ok(resp)
}
