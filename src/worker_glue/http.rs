//! Small HTTP helpers over workers-rs: fetch with a deadline, JSON responses, error responses.

use crate::error::ApiError;
use futures::future::{select, Either};
use std::time::Duration;
use worker::{AbortController, Delay, Fetch, Headers, Request, Response};

#[derive(Debug)]
pub enum FetchError {
    Timeout,
    Network(String),
}

impl std::fmt::Display for FetchError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FetchError::Timeout => write!(f, "timed out"),
            FetchError::Network(e) => write!(f, "{e}"),
        }
    }
}

/// Sends `req`, giving up (and aborting it) after `timeout_ms` until the response headers arrive.
pub async fn fetch_with_timeout(req: Request, timeout_ms: u64) -> Result<Response, FetchError> {
    let controller = AbortController::default();
    let signal = controller.signal();
    let fetch = Fetch::Request(req);
    let send = Box::pin(fetch.send_with_signal(&signal));
    let deadline = Box::pin(Delay::from(Duration::from_millis(timeout_ms)));
    let outcome = match select(send, deadline).await {
        Either::Left((Ok(resp), _)) => Ok(resp),
        Either::Left((Err(e), _)) => Err(FetchError::Network(e.to_string())),
        Either::Right(_) => Err(FetchError::Timeout),
    };
    if matches!(outcome, Err(FetchError::Timeout)) {
        controller.abort();
    }
    outcome
}

/// Reads a whole body, within `timeout_ms`.
pub async fn body_with_timeout(
    resp: &mut Response,
    timeout_ms: u64,
) -> Result<Vec<u8>, FetchError> {
    let read = Box::pin(resp.bytes());
    let deadline = Box::pin(Delay::from(Duration::from_millis(timeout_ms)));
    let outcome = match select(read, deadline).await {
        Either::Left((Ok(b), _)) => Ok(b),
        Either::Left((Err(e), _)) => Err(FetchError::Network(e.to_string())),
        Either::Right(_) => Err(FetchError::Timeout),
    };
    outcome
}

pub fn json_response(
    status: u16,
    body: &serde_json::Value,
    headers: &[(&str, String)],
) -> worker::Result<Response> {
    bytes_response(
        status,
        "application/json",
        body.to_string().into_bytes(),
        headers,
    )
}

pub fn bytes_response(
    status: u16,
    content_type: &str,
    body: Vec<u8>,
    headers: &[(&str, String)],
) -> worker::Result<Response> {
    let h = Headers::new();
    h.set("content-type", content_type)?;
    for (k, v) in headers {
        h.set(k, v)?;
    }
    Ok(Response::from_bytes(body)?
        .with_status(status)
        .with_headers(h))
}

/// An OpenAI-format error response, with `Retry-After` when the error has one.
pub fn error_response(err: &ApiError, headers: &[(&str, String)]) -> worker::Result<Response> {
    let mut all: Vec<(&str, String)> = headers.to_vec();
    if let Some(s) = err.retry_after_secs {
        all.push(("retry-after", s.to_string()));
    }
    json_response(err.status, &err.to_json(), &all)
}

/// A random hex id (request ids).
pub fn random_hex(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    getrandom::getrandom(&mut buf).expect("crypto.getRandomValues is available in Workers");
    hex::encode(buf)
}

pub fn now_ms() -> u64 {
    worker::Date::now().as_millis()
}
