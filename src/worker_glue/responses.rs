//! Building the Worker's responses: JSON, bytes, and OpenAI-format errors.

use crate::error::ApiError;
use worker::{Headers, Response};

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
