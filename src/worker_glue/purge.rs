//! `DELETE /v1/cache`: drops a project's cached answers. Without a body, all of them (exact and
//! semantic): the project's cache generation goes up, one command whatever the number of entries,
//! never a scan. With a body shaped like a request (`{"model", "messages"}`, `{"model", "prompt"}`
//! or `{"model", "input"}`), just that request's entry. Test keys may purge single entries only.
//!
//! The call returns once the purge holds everywhere: it waits out the time an isolate may serve
//! from memory under a cache state it confirmed before the purge (`isolate::CONFIRMED_MS`).

use super::auth;
use super::config::Config;
use super::isolate;
use super::responses::{error_response, json_response};
use crate::api_key;
use crate::cache_key::entry_hash;
use crate::controls;
use crate::error::ApiError;
use crate::request::{self, Endpoint};
use serde_json::{json, Value};
use std::time::Duration;
use worker::{Delay, Request, Response, Result};

const PURGE_SCRIPT: &str = include_str!("../purge.lua");
/// Beyond `CONFIRMED_MS`: clocks of isolates on different machines differ a little.
const CLOCK_MARGIN_MS: u64 = 250;

/// Which entry a purge body names: the endpoint its fields belong to.
fn endpoint_of(body: &Value) -> Option<Endpoint> {
    let fields = body.as_object()?;
    [
        ("messages", Endpoint::ChatCompletions),
        ("prompt", Endpoint::Completions),
        ("input", Endpoint::Embeddings),
    ]
    .into_iter()
    .find(|(field, _)| fields.contains_key(*field))
    .map(|(_, endpoint)| endpoint)
}

pub async fn handle(mut req: Request, cfg: &Config, start_ms: u64) -> Result<Response> {
    match purge(&mut req, cfg, start_ms).await {
        Ok(body) => json_response(200, &body, &[]),
        Err(e) => error_response(&e, &[]),
    }
}

async fn purge(
    req: &mut Request,
    cfg: &Config,
    start_ms: u64,
) -> std::result::Result<Value, ApiError> {
    let authorization = req.headers().get("authorization").ok().flatten();
    let presented = api_key::from_authorization(authorization.as_deref())?;
    let client = auth::Client::of(req);
    let record = auth::authenticate(cfg, &client, &presented, start_ms).await?;
    let bytes = req.bytes().await.unwrap_or_default();
    let one = if bytes.iter().all(u8::is_ascii_whitespace) {
        None
    } else {
        let body: Value = serde_json::from_slice(&bytes).map_err(|_| {
            ApiError::invalid_request("The purge body is not valid JSON; send a request body to purge its entry, or no body to purge everything.", None, "invalid_json")
        })?;
        let endpoint = endpoint_of(&body).ok_or_else(|| {
            ApiError::invalid_request("A purge body must be shaped like a request: 'model' with 'messages', 'prompt' or 'input'.", None, "invalid_value")
        })?;
        let parsed = request::parse(endpoint, &bytes)?;
        let namespace = controls::parse_namespace(
            req.headers().get(controls::NAMESPACE_HEADER).ok().flatten(),
        )?;
        Some((
            endpoint,
            entry_hash(&record.project_id, namespace.as_deref(), &parsed),
        ))
    };
    if one.is_none() && record.key_kind == "test" {
        return Err(ApiError::permission_denied(
            "Test keys may purge single entries only (send the request as the body); purge the whole cache with a live key.",
        ));
    }
    let (endpoint, hash) = one
        .as_ref()
        .map_or(("", ""), |(e, h)| (e.name(), h.as_str()));
    let args = [
        record.project_id.clone(),
        endpoint.to_string(),
        hash.to_string(),
    ];
    let mut cmd: Vec<&str> = vec!["EVAL", PURGE_SCRIPT, "0"];
    cmd.extend(args.iter().map(String::as_str));
    let reply = cfg.redis().command(&cmd).await.map_err(|e| {
        worker::console_warn!("purge failed: {e}");
        ApiError::service_unavailable("The cache could not be purged (the cache store is unavailable); nothing was purged. Please retry.")
    })?;
    let generation = reply.get(0).and_then(Value::as_i64).unwrap_or(0);
    let deleted = reply.get(1).and_then(Value::as_i64).unwrap_or(0);
    isolate::forget(&record.project_id);
    Delay::from(Duration::from_millis(
        isolate::CONFIRMED_MS + CLOCK_MARGIN_MS,
    ))
    .await;
    Ok(json!({
        "object": "cache.purge",
        "project_id": record.project_id,
        "purged": if one.is_some() { "entry" } else { "all" },
        "deleted": if one.is_some() { Value::from(deleted) } else { Value::Null },
        "generation": generation,
    }))
}
