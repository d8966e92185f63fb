//! Stage 5, forward: the provider call in its dialect, with the project's (or the platform's)
//! key, within the provider's deadline, sent once more on a connect error or a retryable status.
//! A provider's error becomes the client's error in OpenAI's format, naming the provider.

use super::admit::Admitted;
use super::Exchange;
use crate::error::ApiError;
use crate::models::Provider;
use crate::providers::Credential;
use crate::secrets;
use crate::worker_glue::auth::KeyRecord;
use crate::worker_glue::config::Config;
use serde_json::Value;
use std::time::Duration;
use worker::web_sys::ReadableStream;
use worker::Delay;
use worker_util::{now_ms, HttpError, Outbound};

/// Pause before the retry.
const RETRY_PAUSE_MS: u64 = 100;

/// What the provider answered.
pub enum Upstream {
    /// A whole answer in OpenAI's format, and the bytes to send for it (the provider's own when it
    /// speaks OpenAI's format, so they pass through unchanged).
    Answer(Value, Vec<u8>),
    /// An event stream, its headers received: its body, to read on.
    Stream(ReadableStream),
}

/// The key a call to `provider` is made with: the platform's for OpenRouter, else the project's
/// own, decrypted only here, in memory.
pub fn project_key(
    cfg: &Config,
    record: &KeyRecord,
    provider: Provider,
) -> Result<String, ApiError> {
    let stored = record
        .provider_keys
        .as_ref()
        .and_then(|m| m.get(provider.name()))
        .ok_or_else(|| ApiError::internal("provider key missing"))?;
    secrets::decrypt(&cfg.provider_keys_encryption_key, stored).map_err(|_| {
        ApiError::internal(format!(
            "The stored {} key could not be decrypted; re-enter it in the dashboard.",
            provider.name()
        ))
    })
}

fn credential(cfg: &Config, a: &Admitted) -> Result<String, ApiError> {
    match a.dialect.credential() {
        Credential::Platform if cfg.openrouter_api_key.is_empty() => Err(ApiError::service_unavailable(
            "OpenRouter is not configured on this proxy; add a provider key for this model's provider.",
        )),
        Credential::Platform => Ok(cfg.openrouter_api_key.clone()),
        Credential::Project => project_key(cfg, &a.record, a.route.provider),
    }
}

fn connect_error(provider: &str, timeout_ms: u64, e: &HttpError) -> ApiError {
    if e.is_timeout() {
        ApiError::upstream_timeout(provider, timeout_ms)
    } else {
        ApiError::upstream_failed(provider, format!("could not connect ({e})"))
    }
}

pub async fn forward(ex: &mut Exchange, a: &Admitted) -> Result<Upstream, ApiError> {
    let provider = a.route.provider.name();
    let key = credential(&ex.cfg, a)?;
    let body = a.dialect.encode(&a.request, &a.route)?;
    let url = a
        .dialect
        .url(ex.cfg.base_url(a.route.provider), a.request.endpoint);
    let headers = a.dialect.headers(&key, a.request.stream);
    let timeout = ex.cfg.upstream_timeout(a.route.provider);
    let sent_at = now_ms();
    let remaining = || {
        timeout
            .saturating_sub(now_ms().saturating_sub(sent_at))
            .max(1)
    };
    let call = || {
        headers
            .iter()
            .fold(Outbound::post(&url), |o, (k, v)| o.header(k, v))
            .body(body.as_bytes().to_vec())
            .deadline_ms(remaining())
    };

    // One retry on connect errors and retryable statuses, within the same overall deadline. A
    // whole answer is read within the call's own deadline (one timer); a stream's body is not.
    let mut attempt = 0;
    let (resp, body) = loop {
        attempt += 1;
        let outcome = if a.request.stream {
            worker_util::http::send_streaming(&call())
                .await
                .map(|r| (r, None))
        } else {
            worker_util::http::send_read(&call())
                .await
                .map(|(r, b)| (r, Some(b)))
        };
        let retry = match &outcome {
            Ok((r, _)) => a.dialect.retryable(a.request.endpoint, r.status()),
            Err(e) => !e.is_timeout(),
        };
        if retry && attempt == 1 && remaining() > RETRY_PAUSE_MS {
            worker::console_warn!("{provider}: retrying once");
            Delay::from(Duration::from_millis(RETRY_PAUSE_MS)).await;
            continue;
        }
        break outcome.map_err(|e| connect_error(provider, timeout, &e))?;
    };
    ex.log.upstream_attempts = attempt;
    ex.timed("upstream", sent_at);

    let status = resp.status();
    let is_event_stream = resp
        .header("content-type")
        .is_some_and(|c| c.contains("text/event-stream"));
    if status < 400 && a.request.stream && is_event_stream {
        return resp.into_body().map(Upstream::Stream).ok_or_else(|| {
            ApiError::upstream_failed(provider, "sent an event stream with no body")
        });
    }
    let retry_after = resp
        .header("retry-after")
        .and_then(|v| v.trim().parse().ok());
    let bytes = match body {
        Some(b) => b,
        None => match worker_util::http::within(remaining(), resp.bytes()).await {
            Some(Ok(b)) => b,
            Some(Err(e)) => return Err(ApiError::upstream_failed(provider, e.to_string())),
            None => return Err(ApiError::upstream_timeout(provider, timeout)),
        },
    };
    if status >= 400 {
        let mut err = ApiError::from_upstream(provider, status, &bytes);
        if status == 429 {
            err.retry_after_secs = retry_after;
        }
        return Err(err);
    }
    if a.request.stream {
        return Err(ApiError::upstream_failed(
            provider,
            "expected an event stream",
        ));
    }
    let answer: Value = serde_json::from_slice(&bytes)
        .map_err(|_| ApiError::upstream_failed(provider, "answered with invalid JSON"))?;
    let (answer, body) = a.dialect.decode_answer(answer, bytes, now_ms() / 1000);
    Ok(Upstream::Answer(answer, body))
}
