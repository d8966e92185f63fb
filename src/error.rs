//! OpenAI-format API errors: `{"error":{"message","type","param","code"}}` with the right HTTP status.
//! Every failure the proxy returns goes through [`ApiError`], so clients' SDKs parse them as usual.

use serde_json::{json, Value};

/// An error answered to the client in OpenAI's error format.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiError {
    pub status: u16,
    pub message: String,
    /// OpenAI's `type` field (`invalid_request_error`, `authentication_error`, ...).
    pub kind: &'static str,
    pub code: Option<String>,
    pub param: Option<String>,
    /// Seconds a client should wait before retrying (sets `Retry-After`).
    pub retry_after_secs: Option<u64>,
}

impl ApiError {
    fn new(status: u16, kind: &'static str, code: &str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            message: message.into(),
            kind,
            code: Some(code.to_string()),
            param: None,
            retry_after_secs: None,
        }
    }

    /// 400: the request body is not acceptable; `param` names the offending field.
    pub fn invalid_request(message: impl Into<String>, param: Option<&str>, code: &str) -> Self {
        let mut e = Self::new(400, "invalid_request_error", code, message);
        e.param = param.map(str::to_string);
        e
    }

    /// 401: no usable API key.
    pub fn invalid_api_key(message: impl Into<String>) -> Self {
        Self::new(401, "invalid_request_error", "invalid_api_key", message)
    }

    pub fn route_not_found(method: &str, path: &str) -> Self {
        Self::new(
            404,
            "invalid_request_error",
            "unknown_url",
            format!("Unknown request URL: {method} {path}. Please check the URL for typos, or see https://watchllm.dev/docs for the API reference."),
        )
    }

    pub fn method_not_allowed(method: &str, path: &str, allowed: &str) -> Self {
        Self::new(
            405,
            "invalid_request_error",
            "method_not_allowed",
            format!("Method {method} is not allowed on {path}; use {allowed}."),
        )
    }

    pub fn payload_too_large(limit_bytes: usize) -> Self {
        Self::new(
            413,
            "invalid_request_error",
            "request_too_large",
            format!("Request body is larger than the limit of {limit_bytes} bytes."),
        )
    }

    pub fn unsupported_media_type() -> Self {
        Self::new(
            415,
            "invalid_request_error",
            "unsupported_media_type",
            "Request body must be JSON (Content-Type: application/json).",
        )
    }

    /// 429 with `Retry-After`.
    pub fn rate_limited(limit: u64, retry_after_secs: u64) -> Self {
        let mut e = Self::new(
            429,
            "requests",
            "rate_limit_exceeded",
            format!("Rate limit reached: {limit} requests per minute for this key. Please try again in {retry_after_secs}s."),
        );
        e.retry_after_secs = Some(retry_after_secs);
        e
    }

    /// 429: too many requests with keys that do not exist came from this address this minute.
    pub fn too_many_failed_authentications(limit: u64, retry_after_secs: u64) -> Self {
        let mut e = Self::new(
            429,
            "requests",
            "too_many_failed_authentications",
            format!("Too many requests with invalid API keys from this address (more than {limit} a minute). Check your key in the WatchLLM dashboard and try again in {retry_after_secs}s."),
        );
        e.retry_after_secs = Some(retry_after_secs);
        e
    }

    /// 429: the project's plan has no requests left this month.
    pub fn monthly_quota_exceeded(message: impl Into<String>, retry_after_secs: u64) -> Self {
        let mut e = Self::new(429, "requests", "monthly_quota_exceeded", message);
        e.retry_after_secs = Some(retry_after_secs);
        e
    }

    /// 403: the key may not do this.
    pub fn permission_denied(message: impl Into<String>) -> Self {
        Self::new(403, "permission_error", "permission_denied", message)
    }

    /// 403: the project's keys do not work from this web page's origin.
    pub fn origin_not_allowed(origin: &str) -> Self {
        Self::new(
            403,
            "permission_error",
            "origin_not_allowed",
            format!("Requests from the origin '{origin}' are not allowed for this project. Add it to the project's allowed origins in the WatchLLM dashboard."),
        )
    }

    /// 503: a dependency needed to answer safely is down (e.g. key validation without Supabase).
    pub fn service_unavailable(message: impl Into<String>) -> Self {
        let mut e = Self::new(503, "server_error", "service_unavailable", message);
        e.retry_after_secs = Some(5);
        e
    }

    /// 502: the upstream provider failed or answered something unusable.
    pub fn upstream_failed(provider: &str, message: impl Into<String>) -> Self {
        Self::new(
            502,
            "server_error",
            "upstream_error",
            format!("{provider}: {}", message.into()),
        )
    }

    /// 504: the upstream provider did not answer in time.
    pub fn upstream_timeout(provider: &str, timeout_ms: u64) -> Self {
        Self::new(
            504,
            "server_error",
            "upstream_timeout",
            format!("{provider} did not respond within {timeout_ms} ms."),
        )
    }

    /// A provider's own 4xx error passed on with its status and message, provider named.
    pub fn from_upstream(provider: &str, status: u16, upstream_body: &[u8]) -> Self {
        let parsed: Option<Value> = serde_json::from_slice(upstream_body).ok();
        let err = parsed.as_ref().and_then(|v| v.get("error"));
        let message = err
            .and_then(|e| {
                e.get("message")
                    .and_then(Value::as_str)
                    .or_else(|| e.as_str())
            })
            .map(str::to_string)
            .unwrap_or_else(|| format!("upstream answered HTTP {status}"));
        // OpenAI-style bodies carry `error.code`; Anthropic's (`{"type": "error", "error": {...}}`)
        // carry the specific kind in `error.type` (`overloaded_error`, `rate_limit_error`).
        let anthropic_shaped =
            parsed.as_ref().and_then(|v| v.get("type")) == Some(&Value::from("error"));
        let code = err
            .and_then(|e| {
                e.get("code")
                    .filter(|c| !c.is_null())
                    .or_else(|| e.get("type").filter(|_| anthropic_shaped))
            })
            .and_then(|c| match c {
                Value::String(s) => Some(s.clone()),
                Value::Number(n) => Some(n.to_string()),
                _ => None,
            });
        let (status, kind) = match status {
            429 => (429, "requests"),
            400..=499 => (status, "invalid_request_error"),
            _ => (502, "server_error"),
        };
        ApiError {
            status,
            message: format!("{provider}: {message}"),
            kind,
            code: code.or_else(|| {
                Some(
                    if status == 429 {
                        "rate_limit_exceeded"
                    } else {
                        "upstream_error"
                    }
                    .into(),
                )
            }),
            param: err
                .and_then(|e| e.get("param"))
                .and_then(Value::as_str)
                .map(str::to_string),
            retry_after_secs: None,
        }
    }

    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(500, "server_error", "internal_error", message)
    }

    pub fn to_json(&self) -> Value {
        json!({
            "error": {
                "message": self.message,
                "type": self.kind,
                "param": self.param,
                "code": self.code,
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serialises_in_openai_shape() {
        let e = ApiError::invalid_request(
            "'model' is required",
            Some("model"),
            "missing_required_parameter",
        );
        let v = e.to_json();
        assert_eq!(v["error"]["message"], "'model' is required");
        assert_eq!(v["error"]["type"], "invalid_request_error");
        assert_eq!(v["error"]["param"], "model");
        assert_eq!(v["error"]["code"], "missing_required_parameter");
        assert_eq!(e.status, 400);
    }

    #[test]
    fn upstream_client_errors_keep_status_and_name_provider() {
        let body = br#"{"error":{"message":"model not found","type":"invalid_request_error","code":"model_not_found"}}"#;
        let e = ApiError::from_upstream("openai", 404, body);
        assert_eq!(e.status, 404);
        assert_eq!(e.message, "openai: model not found");
        assert_eq!(e.code.as_deref(), Some("model_not_found"));
    }

    #[test]
    fn upstream_server_errors_become_502_and_429_stays() {
        assert_eq!(ApiError::from_upstream("groq", 500, b"oops").status, 502);
        let e = ApiError::from_upstream("openrouter", 429, b"{}");
        assert_eq!(e.status, 429);
        assert_eq!(e.code.as_deref(), Some("rate_limit_exceeded"));
    }

    #[test]
    fn anthropic_error_kinds_become_codes_openai_types_do_not() {
        let anthropic =
            br#"{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}"#;
        let e = ApiError::from_upstream("anthropic", 529, anthropic);
        assert_eq!(
            (e.status, e.code.as_deref()),
            (502, Some("overloaded_error"))
        );
        assert_eq!(e.message, "anthropic: Overloaded");
        let openai = br#"{"error":{"message":"boom","type":"server_error","code":null}}"#;
        let e = ApiError::from_upstream("openai", 500, openai);
        assert_eq!(e.code.as_deref(), Some("upstream_error"));
    }

    #[test]
    fn rate_limited_sets_retry_after() {
        let e = ApiError::rate_limited(60, 12);
        assert_eq!(e.status, 429);
        assert_eq!(e.retry_after_secs, Some(12));
        assert_eq!(e.to_json()["error"]["code"], "rate_limit_exceeded");
    }
}
