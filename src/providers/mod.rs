//! How the proxy talks to each provider, as one enum of dialects: OpenAI-compatible (OpenAI,
//! OpenRouter, Groq) and Anthropic's Messages API. A dialect knows the URL of an endpoint, the
//! headers that authenticate a call, how to encode the client's request and decode the answer and
//! its stream, and which failed statuses are safe to retry. The pipeline asks the dialect and
//! never branches on a provider itself.
//!
//! An enum rather than a trait object: the set is closed, dispatch stays static, and nothing but
//! the variants' code ends up in the Worker.

pub mod anthropic;
pub mod openai_compat;

use crate::error::ApiError;
use crate::models::{Provider, Route};
use crate::request::{Endpoint, ProxyRequest};
use serde_json::Value;

/// A provider's wire format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    /// OpenAI's API as OpenAI, OpenRouter and Groq serve it.
    OpenAiCompatible(Provider),
    /// Anthropic's Messages API, translated both ways.
    Anthropic,
}

/// Whose key a call is made with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Credential {
    /// The platform's own key (OpenRouter, for projects that bring none).
    Platform,
    /// The project's key for this provider, stored encrypted.
    Project,
}

impl Dialect {
    pub fn of(provider: Provider) -> Dialect {
        match provider {
            Provider::Anthropic => Dialect::Anthropic,
            other => Dialect::OpenAiCompatible(other),
        }
    }

    pub fn provider(self) -> Provider {
        match self {
            Dialect::OpenAiCompatible(p) => p,
            Dialect::Anthropic => Provider::Anthropic,
        }
    }

    /// Which endpoints the dialect serves; requests for the others go through OpenRouter.
    pub fn serves(self, endpoint: Endpoint) -> bool {
        match self {
            Dialect::OpenAiCompatible(_) => true,
            Dialect::Anthropic => endpoint == Endpoint::ChatCompletions,
        }
    }

    pub fn credential(self) -> Credential {
        match self {
            Dialect::OpenAiCompatible(Provider::OpenRouter) => Credential::Platform,
            _ => Credential::Project,
        }
    }

    /// The URL of `endpoint` at a provider whose API lives at `base_url`.
    pub fn url(self, base_url: &str, endpoint: Endpoint) -> String {
        match self {
            Dialect::OpenAiCompatible(_) => format!("{base_url}{}", endpoint.upstream_path()),
            Dialect::Anthropic => format!("{base_url}/messages"),
        }
    }

    /// Headers of a call: authentication, version and content negotiation.
    pub fn headers(self, api_key: &str, stream: bool) -> Vec<(&'static str, String)> {
        let mut h = match self {
            Dialect::OpenAiCompatible(p) => openai_compat::headers(p, api_key),
            Dialect::Anthropic => vec![
                ("x-api-key", api_key.to_string()),
                ("anthropic-version", anthropic::API_VERSION.to_string()),
            ],
        };
        h.push(("content-type", "application/json".into()));
        if stream {
            h.push(("accept", "text/event-stream".into()));
        }
        h
    }

    /// The request body the provider receives (the client's body is passed through as JSON, with
    /// the provider's model id; Anthropic's is translated).
    pub fn encode(self, req: &ProxyRequest, route: &Route) -> Result<String, ApiError> {
        match self {
            Dialect::OpenAiCompatible(_) => Ok(req.upstream_body(&route.upstream_model)),
            Dialect::Anthropic => anthropic::to_messages_request(&req.body, &route.upstream_model)
                .map(|b| b.to_string()),
        }
    }

    /// A whole answer in OpenAI's format, with the bytes to send for it: the provider's own
    /// when it already speaks OpenAI's format (they pass through unchanged).
    pub fn decode_answer(self, answer: Value, bytes: Vec<u8>, now_secs: u64) -> (Value, Vec<u8>) {
        match self {
            Dialect::OpenAiCompatible(_) => (answer, bytes),
            Dialect::Anthropic => {
                let translated = anthropic::to_chat_completion(&answer, now_secs);
                let bytes = translated.to_string().into_bytes();
                (translated, bytes)
            }
        }
    }

    /// Turns the provider's stream into OpenAI's SSE, chunk by chunk.
    pub fn stream_decoder(self, now_secs: u64) -> StreamDecoder {
        match self {
            Dialect::OpenAiCompatible(_) => StreamDecoder::PassThrough,
            Dialect::Anthropic => StreamDecoder::Anthropic(anthropic::SseTranslator::new(now_secs)),
        }
    }

    /// Whether a failed call with this status may be sent once more. Embeddings are idempotent,
    /// so any 5xx is. A generation is retried only where the provider did not run the model
    /// (502/503/504 gateway and overload answers, Anthropic's 529 overloaded); a 500 may come after
    /// work was done and billed. (Connect errors, which never reached the provider, always are.)
    /// The same for every dialect today (OpenRouter relays Anthropic's 529), kept here so a
    /// provider with other rules changes one place.
    pub fn retryable(self, endpoint: Endpoint, status: u16) -> bool {
        match endpoint {
            Endpoint::Embeddings => status >= 500,
            _ => matches!(status, 502..=504 | 529),
        }
    }
}

/// A provider stream on its way to OpenAI's SSE.
#[derive(Debug)]
pub enum StreamDecoder {
    /// Already OpenAI's SSE.
    PassThrough,
    Anthropic(anthropic::SseTranslator),
}

impl StreamDecoder {
    /// The OpenAI SSE bytes for the next chunk of the provider's bytes.
    pub fn decode(&mut self, bytes: Vec<u8>) -> Vec<u8> {
        match self {
            StreamDecoder::PassThrough => bytes,
            StreamDecoder::Anthropic(t) => t.feed(&bytes),
        }
    }

    /// What the stream still holds when the provider's bytes end.
    pub fn finish(&mut self) -> Vec<u8> {
        match self {
            StreamDecoder::PassThrough => Vec::new(),
            StreamDecoder::Anthropic(t) => t.finish(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::request::parse;

    fn route(provider: Provider, model: &str) -> Route {
        Route {
            provider,
            upstream_model: model.into(),
        }
    }

    #[test]
    fn urls_and_headers_per_dialect() {
        let openai = Dialect::of(Provider::OpenAi);
        assert_eq!(
            openai.url("https://api.openai.com/v1", Endpoint::Embeddings),
            "https://api.openai.com/v1/embeddings"
        );
        assert_eq!(
            Dialect::of(Provider::Anthropic)
                .url("https://api.anthropic.com/v1", Endpoint::ChatCompletions),
            "https://api.anthropic.com/v1/messages"
        );
        let h = Dialect::of(Provider::OpenRouter).headers("k", true);
        assert!(h.contains(&("authorization", "Bearer k".into())));
        assert!(h.iter().any(|(n, _)| *n == "http-referer"));
        assert!(h.contains(&("accept", "text/event-stream".into())));
        let a = Dialect::Anthropic.headers("k", false);
        assert!(a.contains(&("x-api-key", "k".into())));
        assert!(a.contains(&("anthropic-version", anthropic::API_VERSION.into())));
        assert!(!a
            .iter()
            .any(|(n, _)| *n == "authorization" || *n == "accept"));
    }

    #[test]
    fn credentials_and_endpoints() {
        assert_eq!(
            Dialect::of(Provider::OpenRouter).credential(),
            Credential::Platform
        );
        for p in [Provider::OpenAi, Provider::Groq, Provider::Anthropic] {
            assert_eq!(Dialect::of(p).credential(), Credential::Project);
        }
        assert!(!Dialect::Anthropic.serves(Endpoint::Embeddings));
        assert!(Dialect::of(Provider::Groq).serves(Endpoint::Completions));
    }

    #[test]
    fn encode_passes_openai_bodies_through_and_translates_anthropic() {
        let req = parse(
            Endpoint::ChatCompletions,
            br#"{"model":"gpt-4o","messages":[{"role":"user","content":"hi"}],"future_param":1}"#,
        )
        .unwrap();
        let body: Value = serde_json::from_str(
            &Dialect::of(Provider::OpenAi)
                .encode(&req, &route(Provider::OpenAi, "gpt-4o-2024"))
                .unwrap(),
        )
        .unwrap();
        assert_eq!(body["model"], "gpt-4o-2024");
        assert_eq!(body["future_param"], 1, "unknown fields pass through");
        let claude: Value = serde_json::from_str(
            &Dialect::Anthropic
                .encode(&req, &route(Provider::Anthropic, "claude-3-haiku-20240307"))
                .unwrap(),
        )
        .unwrap();
        assert_eq!(claude["max_tokens"], anthropic::DEFAULT_MAX_TOKENS);
    }

    #[test]
    fn answers_pass_through_byte_for_byte_or_are_translated() {
        let bytes = br#"{"id":"x","object":"chat.completion"}"#.to_vec();
        let answer: Value = serde_json::from_slice(&bytes).unwrap();
        let (_, out) = Dialect::of(Provider::OpenAi).decode_answer(answer, bytes.clone(), 0);
        assert_eq!(out, bytes);
        let claude = serde_json::json!({"id": "msg_1", "model": "claude", "content": [{"type": "text", "text": "hi"}],
            "stop_reason": "end_turn", "usage": {"input_tokens": 1, "output_tokens": 2}});
        let (v, out) = Dialect::Anthropic.decode_answer(claude, Vec::new(), 0);
        assert_eq!(v["object"], "chat.completion");
        assert_eq!(serde_json::from_slice::<Value>(&out).unwrap(), v);
    }

    #[test]
    fn retries_only_where_the_model_did_not_run() {
        let openai = Dialect::of(Provider::OpenAi);
        assert!(openai.retryable(Endpoint::Embeddings, 500));
        assert!(!openai.retryable(Endpoint::ChatCompletions, 500));
        assert!(openai.retryable(Endpoint::ChatCompletions, 503));
        assert!(Dialect::Anthropic.retryable(Endpoint::ChatCompletions, 529));
        assert!(!openai.retryable(Endpoint::ChatCompletions, 429));
    }

    #[test]
    fn streams_pass_through_or_translate() {
        let mut pass = Dialect::of(Provider::Groq).stream_decoder(0);
        assert_eq!(pass.decode(b"data: x\n\n".to_vec()), b"data: x\n\n");
        assert!(pass.finish().is_empty());
        let mut claude = Dialect::Anthropic.stream_decoder(0);
        let out = claude.decode(
            b"event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_1\",\"model\":\"claude\"}}\n\n".to_vec(),
        );
        assert!(String::from_utf8(out)
            .unwrap()
            .contains("chat.completion.chunk"));
    }
}
