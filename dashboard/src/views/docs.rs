//! The public docs at `/docs`.

use super::document;
use leptos::prelude::*;

pub fn docs_page(email: Option<&str>, proxy_url: &str) -> String {
    let base = format!("{proxy_url}/v1");
    let body = view! {
        <section id="quick-start">
            <h1>"Quick start"</h1>
            <p>"Change two things in your OpenAI client, nothing else: the base URL and the key."</p>
            <pre tabindex="0">{format!("import OpenAI from 'openai';\nconst client = new OpenAI({{ baseURL: '{base}', apiKey: 'lgw_proj_...' }});\nconst r = await client.chat.completions.create({{ model: 'openai/gpt-4o-mini', messages: [{{ role: 'user', content: 'Hi' }}] }});")}</pre>
            <p>"Create a project and a key under Projects. Test keys (lgw_test_) get sandbox rate limits."</p>
        </section>
        <section id="api-reference">
            <h2>"API reference"</h2>
            <table>
                <tr><td><code>"POST /v1/chat/completions"</code></td><td>"chat, streaming (SSE), tools; OpenAI, Anthropic, Groq models with your keys, any vendor/model through OpenRouter"</td></tr>
                <tr><td><code>"POST /v1/completions"</code></td><td>"legacy completions"</td></tr>
                <tr><td><code>"POST /v1/embeddings"</code></td><td>"embeddings, cached 24 h"</td></tr>
                <tr><td><code>"GET /v1/models"</code></td><td>"models known by native name"</td></tr>
                <tr><td><code>"GET /health"</code></td><td>"status of the proxy, Redis and Supabase"</td></tr>
            </table>
            <h3>"Response headers"</h3>
            <table>
                <tr><td><code>"X-WatchLLM-Cache"</code></td><td>"HIT, HIT-SEMANTIC or MISS"</td></tr>
                <tr><td><code>"X-WatchLLM-Cache-Age"</code></td><td>"seconds since the answer was stored"</td></tr>
                <tr><td><code>"X-WatchLLM-Cache-Similarity"</code></td><td>"cosine similarity of a semantic hit"</td></tr>
                <tr><td><code>"X-WatchLLM-Cost-USD"</code></td><td>"what the request cost upstream (0 on a hit)"</td></tr>
                <tr><td><code>"X-WatchLLM-Tokens-Saved"</code></td><td>"prompt tokens served from cache"</td></tr>
                <tr><td><code>"X-WatchLLM-Latency-Ms, X-WatchLLM-Provider"</code></td><td>"time in the proxy, who answered"</td></tr>
            </table>
            <h3>"Errors"</h3>
            <p>"OpenAI's format, "<code>"{\"error\": {\"message\", \"type\", \"param\", \"code\"}}"</code>": 400 bad input, 401 bad key, 404/405 route, 413 body over 4 MiB, 429 rate limit (Retry-After), 502/504 upstream failure or timeout (provider named), 503 dependency down."</p>
        </section>
        <section id="caching">
            <h2>"Caching"</h2>
            <p>"Identical requests (after normalising the prompt: case, spaces, filler words) are an exact HIT for 1 hour (24 hours for embeddings). Reworded prompts are a HIT-SEMANTIC when their similarity reaches the project's threshold (0.95 by default) and their numbers, negations and names match. The system prompt and earlier turns must match exactly."</p>
            <p>"Per request: "<code>"X-WatchLLM-Bypass-Cache: true"</code>", "<code>"X-WatchLLM-Refresh-Cache: true"</code>", "<code>"X-WatchLLM-Similarity-Threshold: 0.9"</code>". Errors and cut-off streams are never cached, and no project ever sees another's entries."</p>
        </section>
    }
    .into_any();
    document("Docs", email, body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn docs_cover_quick_start_reference_and_caching() {
        let html = docs_page(None, "https://proxy.watchllm.dev");
        for id in ["quick-start", "api-reference", "caching"] {
            assert!(html.contains(&format!(r#"id="{id}""#)));
        }
        assert!(html.contains("https://proxy.watchllm.dev/v1"));
    }
}
