//! OpenAI's API as OpenAI, OpenRouter and Groq serve it: the client's request passes through with
//! the provider's model id, answers and streams come back as they are. Only the headers differ:
//! OpenRouter asks callers to name themselves (`HTTP-Referer`, `X-Title`) for its rankings.

use crate::models::Provider;

/// Where OpenRouter attributes the calls.
const REFERER: &str = "https://watchllm.dev";
const TITLE: &str = "WatchLLM";

/// Authentication (and, for OpenRouter, attribution) headers.
pub fn headers(provider: Provider, api_key: &str) -> Vec<(&'static str, String)> {
    let mut h = vec![("authorization", format!("Bearer {api_key}"))];
    if provider == Provider::OpenRouter {
        h.push(("http-referer", REFERER.into()));
        h.push(("x-title", TITLE.into()));
    }
    h
}
