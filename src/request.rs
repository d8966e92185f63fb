//! Parsing and validation of client request bodies for the three proxied endpoints.
//! Errors name the offending parameter the way OpenAI's API does.

use crate::error::ApiError;
use serde::ser::{Serialize, SerializeMap, Serializer};
use serde_json::{Map, Value};

/// Largest request body accepted (bytes). Large enough for a few base64 images.
pub const MAX_BODY_BYTES: usize = 4 * 1024 * 1024;

/// The proxied OpenAI endpoints.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endpoint {
    ChatCompletions,
    Completions,
    Embeddings,
}

impl Endpoint {
    pub fn from_path(path: &str) -> Option<Self> {
        match path.trim_end_matches('/') {
            "/v1/chat/completions" => Some(Endpoint::ChatCompletions),
            "/v1/completions" => Some(Endpoint::Completions),
            "/v1/embeddings" => Some(Endpoint::Embeddings),
            _ => None,
        }
    }

    /// Path below the provider's `/v1` base URL.
    pub fn upstream_path(self) -> &'static str {
        match self {
            Endpoint::ChatCompletions => "/chat/completions",
            Endpoint::Completions => "/completions",
            Endpoint::Embeddings => "/embeddings",
        }
    }

    /// Short name used in cache keys and usage logs.
    pub fn name(self) -> &'static str {
        match self {
            Endpoint::ChatCompletions => "chat",
            Endpoint::Completions => "completions",
            Endpoint::Embeddings => "embeddings",
        }
    }

    /// How long an answer stays in the cache.
    pub fn cache_ttl_secs(self) -> u64 {
        match self {
            Endpoint::Embeddings => 24 * 3600,
            _ => 3600,
        }
    }
}

/// A validated request body.
#[derive(Debug, Clone)]
pub struct ProxyRequest {
    pub endpoint: Endpoint,
    pub model: String,
    pub stream: bool,
    /// Whether the client asked for the usage chunk at the end of a stream.
    pub include_usage: bool,
    pub body: Map<String, Value>,
}

impl ProxyRequest {
    /// The body sent upstream: the client's body with the provider's model id and, for streams,
    /// `stream_options.include_usage` on, so the proxy always learns the token usage (the usage
    /// chunk is hidden again from clients that did not ask for it). Serialised from the client's
    /// own values: a conversation resent each turn is tens of KB, not worth a copy.
    pub fn upstream_body(&self, upstream_model: &str) -> String {
        #[expect(
            clippy::expect_used,
            reason = "serialising JSON values under string keys into a String cannot fail"
        )]
        serde_json::to_string(&UpstreamBody {
            req: self,
            model: upstream_model,
        })
        .expect("JSON values serialise")
    }
}

/// `ProxyRequest::upstream_body`, borrowed.
struct UpstreamBody<'a> {
    req: &'a ProxyRequest,
    model: &'a str,
}

impl Serialize for UpstreamBody<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let body = &self.req.body;
        let mut map = serializer.serialize_map(None)?;
        for (name, value) in body {
            match name.as_str() {
                "watchllm" | "model" => {}
                "stream_options" if self.req.stream => {}
                _ => map.serialize_entry(name, value)?,
            }
        }
        map.serialize_entry("model", self.model)?;
        if self.req.stream {
            let mut options = match body.get("stream_options") {
                Some(Value::Object(o)) => o.clone(),
                _ => Map::new(),
            };
            options.insert("include_usage".into(), Value::Bool(true));
            map.serialize_entry("stream_options", &options)?;
        }
        map.end()
    }
}

fn invalid_type(param: &str, expected: &str) -> ApiError {
    ApiError::invalid_request(
        format!("Invalid type for '{param}': expected {expected}."),
        Some(param),
        "invalid_type",
    )
}

fn missing(param: &str) -> ApiError {
    ApiError::invalid_request(
        format!("Missing required parameter: '{param}'."),
        Some(param),
        "missing_required_parameter",
    )
}

fn out_of_range(param: &str, range: &str) -> ApiError {
    ApiError::invalid_request(
        format!("Invalid value for '{param}': must be {range}."),
        Some(param),
        "invalid_value",
    )
}

/// Parses and validates a request body for `endpoint`.
pub fn parse(endpoint: Endpoint, bytes: &[u8]) -> Result<ProxyRequest, ApiError> {
    if bytes.len() > MAX_BODY_BYTES {
        return Err(ApiError::payload_too_large(MAX_BODY_BYTES));
    }
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::invalid_request(
            "Request body is empty; expected a JSON object.",
            None,
            "invalid_json",
        ));
    }
    let value: Value = serde_json::from_slice(bytes).map_err(|e| {
        ApiError::invalid_request(
            format!("We could not parse the JSON body of your request: {e}."),
            None,
            "invalid_json",
        )
    })?;
    let Value::Object(body) = value else {
        return Err(ApiError::invalid_request(
            "Request body must be a JSON object.",
            None,
            "invalid_json",
        ));
    };

    let model = match body.get("model") {
        None | Some(Value::Null) => return Err(missing("model")),
        Some(Value::String(s)) if s.trim().is_empty() => {
            return Err(out_of_range("model", "a non-empty string"))
        }
        Some(Value::String(s)) => s.clone(),
        Some(_) => return Err(invalid_type("model", "a string")),
    };

    let stream = match body.get("stream") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(_) => return Err(invalid_type("stream", "a boolean")),
    };
    if stream && endpoint == Endpoint::Embeddings {
        return Err(ApiError::invalid_request(
            "Embeddings do not support streaming.",
            Some("stream"),
            "invalid_value",
        ));
    }
    let include_usage = match body.get("stream_options") {
        None | Some(Value::Null) => false,
        Some(Value::Object(o)) => match o.get("include_usage") {
            None | Some(Value::Null) => false,
            Some(Value::Bool(b)) => *b,
            Some(_) => return Err(invalid_type("stream_options.include_usage", "a boolean")),
        },
        Some(_) => return Err(invalid_type("stream_options", "an object")),
    };

    check_number(&body, "temperature", 0.0, 2.0)?;
    check_number(&body, "top_p", 0.0, 1.0)?;
    check_number(&body, "presence_penalty", -2.0, 2.0)?;
    check_number(&body, "frequency_penalty", -2.0, 2.0)?;
    for p in ["max_tokens", "max_completion_tokens", "n"] {
        check_positive_int(&body, p)?;
    }

    match endpoint {
        Endpoint::ChatCompletions => validate_chat(&body)?,
        Endpoint::Completions => validate_completion(&body)?,
        Endpoint::Embeddings => validate_embeddings(&body)?,
    }

    Ok(ProxyRequest {
        endpoint,
        model,
        stream,
        include_usage,
        body,
    })
}

fn check_number(
    body: &Map<String, Value>,
    param: &str,
    min: f64,
    max: f64,
) -> Result<(), ApiError> {
    match body.get(param) {
        None | Some(Value::Null) => Ok(()),
        Some(Value::Number(n)) => {
            let x = n.as_f64().unwrap_or(f64::NAN);
            if (min..=max).contains(&x) {
                Ok(())
            } else {
                Err(out_of_range(param, &format!("between {min} and {max}")))
            }
        }
        Some(_) => Err(invalid_type(param, "a number")),
    }
}

fn check_positive_int(body: &Map<String, Value>, param: &str) -> Result<(), ApiError> {
    match body.get(param) {
        None | Some(Value::Null) => Ok(()),
        Some(Value::Number(n)) => match n.as_u64() {
            Some(x) if x >= 1 => Ok(()),
            _ => Err(out_of_range(param, "an integer of at least 1")),
        },
        Some(_) => Err(invalid_type(param, "an integer")),
    }
}

const ROLES: [&str; 6] = [
    "system",
    "developer",
    "user",
    "assistant",
    "tool",
    "function",
];

fn validate_chat(body: &Map<String, Value>) -> Result<(), ApiError> {
    let messages = match body.get("messages") {
        None | Some(Value::Null) => return Err(missing("messages")),
        Some(Value::Array(a)) => a,
        Some(_) => return Err(invalid_type("messages", "an array")),
    };
    if messages.is_empty() {
        return Err(out_of_range("messages", "a non-empty array"));
    }
    for (i, m) in messages.iter().enumerate() {
        let p = format!("messages[{i}]");
        let Value::Object(m) = m else {
            return Err(invalid_type(&p, "an object"));
        };
        match m.get("role") {
            None | Some(Value::Null) => return Err(missing(&format!("{p}.role"))),
            Some(Value::String(r)) if ROLES.contains(&r.as_str()) => {}
            Some(Value::String(_)) => {
                return Err(out_of_range(
                    &format!("{p}.role"),
                    "one of 'system', 'developer', 'user', 'assistant', 'tool', 'function'",
                ))
            }
            Some(_) => return Err(invalid_type(&format!("{p}.role"), "a string")),
        }
        let has_tool_calls =
            matches!(m.get("tool_calls"), Some(Value::Array(_))) || m.contains_key("function_call");
        match m.get("content") {
            Some(Value::String(_)) | Some(Value::Array(_)) => {}
            None | Some(Value::Null)
                if has_tool_calls || m.get("role").and_then(Value::as_str) == Some("assistant") => {
            }
            None | Some(Value::Null) => return Err(missing(&format!("{p}.content"))),
            Some(_) => {
                return Err(invalid_type(
                    &format!("{p}.content"),
                    "a string or an array of content parts",
                ))
            }
        }
    }
    if let Some(tools) = body.get("tools") {
        match tools {
            Value::Null => {}
            Value::Array(tools) => {
                for (i, t) in tools.iter().enumerate() {
                    if !t.is_object() || t.get("type").and_then(Value::as_str).is_none() {
                        return Err(invalid_type(
                            &format!("tools[{i}]"),
                            "an object with a 'type'",
                        ));
                    }
                }
            }
            _ => return Err(invalid_type("tools", "an array")),
        }
    }
    match body.get("stop") {
        None | Some(Value::Null) | Some(Value::String(_)) => {}
        Some(Value::Array(a)) if a.iter().all(Value::is_string) => {}
        Some(_) => return Err(invalid_type("stop", "a string or an array of strings")),
    }
    Ok(())
}

fn validate_completion(body: &Map<String, Value>) -> Result<(), ApiError> {
    match body.get("prompt") {
        None | Some(Value::Null) => Err(missing("prompt")),
        Some(Value::String(_)) => Ok(()),
        Some(Value::Array(a)) if !a.is_empty() => Ok(()),
        Some(Value::Array(_)) => Err(out_of_range("prompt", "a non-empty string or array")),
        Some(_) => Err(invalid_type("prompt", "a string or an array")),
    }
}

fn validate_embeddings(body: &Map<String, Value>) -> Result<(), ApiError> {
    match body.get("input") {
        None | Some(Value::Null) => Err(missing("input")),
        Some(Value::String(s)) if s.is_empty() => Err(out_of_range("input", "a non-empty string")),
        Some(Value::String(_)) => Ok(()),
        Some(Value::Array(a)) if a.is_empty() => Err(out_of_range("input", "a non-empty array")),
        Some(Value::Array(a)) => {
            let ok = a.iter().all(|x| matches!(x, Value::String(s) if !s.is_empty()))
                || a.iter().all(Value::is_u64)
                || a.iter().all(|x| matches!(x, Value::Array(t) if !t.is_empty() && t.iter().all(Value::is_u64)));
            if ok {
                Ok(())
            } else {
                Err(invalid_type(
                    "input",
                    "a string, an array of strings, or token arrays",
                ))
            }
        }
        Some(_) => Err(invalid_type("input", "a string or an array")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(endpoint: Endpoint, body: &str) -> ApiError {
        parse(endpoint, body.as_bytes()).unwrap_err()
    }

    #[test]
    fn accepts_a_plain_chat_request() {
        let r = parse(Endpoint::ChatCompletions, br#"{"model":"gpt-4o","messages":[{"role":"user","content":"hi"}],"stream":true,"stream_options":{"include_usage":true}}"#).unwrap();
        assert_eq!(r.model, "gpt-4o");
        assert!(r.stream);
        assert!(r.include_usage);
    }

    #[test]
    fn accepts_assistant_tool_calls_without_content() {
        let body = r#"{"model":"m","messages":[{"role":"user","content":"x"},{"role":"assistant","content":null,"tool_calls":[{"id":"c1","type":"function","function":{"name":"f","arguments":"{}"}}]},{"role":"tool","tool_call_id":"c1","content":"42"}]}"#;
        assert!(parse(Endpoint::ChatCompletions, body.as_bytes()).is_ok());
    }

    #[test]
    fn rejects_malformed_json() {
        let e = err(Endpoint::ChatCompletions, "{\"model\":");
        assert_eq!((e.status, e.code.as_deref()), (400, Some("invalid_json")));
        assert_eq!(
            err(Endpoint::ChatCompletions, "[1,2]").code.as_deref(),
            Some("invalid_json")
        );
        assert_eq!(
            err(Endpoint::ChatCompletions, "  ").code.as_deref(),
            Some("invalid_json")
        );
    }

    #[test]
    fn names_missing_and_mistyped_parameters() {
        let e = err(
            Endpoint::ChatCompletions,
            r#"{"messages":[{"role":"user","content":"x"}]}"#,
        );
        assert_eq!(
            (e.param.as_deref(), e.code.as_deref()),
            (Some("model"), Some("missing_required_parameter"))
        );
        let e = err(Endpoint::ChatCompletions, r#"{"model":"m"}"#);
        assert_eq!(e.param.as_deref(), Some("messages"));
        let e = err(Endpoint::ChatCompletions, r#"{"model":5,"messages":[]}"#);
        assert_eq!(
            (e.param.as_deref(), e.code.as_deref()),
            (Some("model"), Some("invalid_type"))
        );
        let e = err(Endpoint::ChatCompletions, r#"{"model":"m","messages":[]}"#);
        assert_eq!(e.param.as_deref(), Some("messages"));
        let e = err(
            Endpoint::ChatCompletions,
            r#"{"model":"m","messages":[{"role":"wizard","content":"x"}]}"#,
        );
        assert_eq!(e.param.as_deref(), Some("messages[0].role"));
        let e = err(
            Endpoint::ChatCompletions,
            r#"{"model":"m","messages":[{"role":"user","content":"x"}],"temperature":"hot"}"#,
        );
        assert_eq!(e.param.as_deref(), Some("temperature"));
        let e = err(
            Endpoint::ChatCompletions,
            r#"{"model":"m","messages":[{"role":"user","content":"x"}],"temperature":3}"#,
        );
        assert_eq!(e.code.as_deref(), Some("invalid_value"));
        let e = err(
            Endpoint::ChatCompletions,
            r#"{"model":"m","messages":[{"role":"user","content":"x"}],"stream":"yes"}"#,
        );
        assert_eq!(e.param.as_deref(), Some("stream"));
        let e = err(
            Endpoint::ChatCompletions,
            r#"{"model":"m","messages":[{"role":"user","content":"x"}],"max_tokens":0}"#,
        );
        assert_eq!(e.param.as_deref(), Some("max_tokens"));
    }

    #[test]
    fn validates_completions_and_embeddings() {
        assert_eq!(
            err(Endpoint::Completions, r#"{"model":"m"}"#)
                .param
                .as_deref(),
            Some("prompt")
        );
        assert!(parse(Endpoint::Completions, br#"{"model":"m","prompt":"Say hi"}"#).is_ok());
        assert_eq!(
            err(Endpoint::Embeddings, r#"{"model":"m"}"#)
                .param
                .as_deref(),
            Some("input")
        );
        assert_eq!(
            err(Endpoint::Embeddings, r#"{"model":"m","input":[1,"a"]}"#)
                .param
                .as_deref(),
            Some("input")
        );
        assert_eq!(
            err(
                Endpoint::Embeddings,
                r#"{"model":"m","input":"x","stream":true}"#
            )
            .param
            .as_deref(),
            Some("stream")
        );
        assert!(parse(Endpoint::Embeddings, br#"{"model":"m","input":["a","b"]}"#).is_ok());
        assert!(parse(
            Endpoint::Embeddings,
            br#"{"model":"m","input":[[1,2],[3]]}"#
        )
        .is_ok());
    }

    #[test]
    fn upstream_body_swaps_model_and_asks_for_stream_usage() {
        let r = parse(Endpoint::ChatCompletions, br#"{"model":"gpt-4o","messages":[{"role":"user","content":"x"}],"stream":true,"tools":[{"type":"function","function":{"name":"f"}}]}"#).unwrap();
        let b: Value = serde_json::from_str(&r.upstream_body("openai/gpt-4o")).unwrap();
        assert_eq!(b["model"], "openai/gpt-4o");
        assert_eq!(b["stream_options"]["include_usage"], true);
        assert_eq!(b["tools"][0]["function"]["name"], "f");
        let r = parse(
            Endpoint::ChatCompletions,
            br#"{"model":"m","messages":[{"role":"user","content":"x"}]}"#,
        )
        .unwrap();
        let b: Value = serde_json::from_str(&r.upstream_body("m")).unwrap();
        assert!(b.get("stream_options").is_none());
        assert_eq!(
            b,
            serde_json::json!({"model":"m","messages":[{"role":"user","content":"x"}]})
        );
        // The client's stream options are kept, usage turned on; each key is written once.
        let r = parse(
            Endpoint::ChatCompletions,
            br#"{"stream_options":{"include_usage":false,"x":1},"model":"m","watchllm":{"a":1},"stream":true,"messages":[{"role":"user","content":"x"}]}"#,
        )
        .unwrap();
        let text = r.upstream_body("up/m");
        let b: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(
            b,
            serde_json::json!({"model":"up/m","stream":true,"stream_options":{"include_usage":true,"x":1},"messages":[{"role":"user","content":"x"}]})
        );
        assert_eq!(text.matches("\"model\"").count(), 1);
        assert_eq!(text.matches("stream_options").count(), 1);
    }

    #[test]
    fn rejects_oversized_bodies_with_413() {
        let big = vec![b' '; MAX_BODY_BYTES + 1];
        assert_eq!(
            parse(Endpoint::ChatCompletions, &big).unwrap_err().status,
            413
        );
    }

    #[test]
    fn maps_paths_to_endpoints() {
        assert_eq!(
            Endpoint::from_path("/v1/chat/completions"),
            Some(Endpoint::ChatCompletions)
        );
        assert_eq!(
            Endpoint::from_path("/v1/embeddings/"),
            Some(Endpoint::Embeddings)
        );
        assert_eq!(Endpoint::from_path("/v1/nope"), None);
        assert_eq!(Endpoint::Embeddings.cache_ttl_secs(), 86400);
        assert_eq!(Endpoint::Completions.cache_ttl_secs(), 3600);
    }
}
