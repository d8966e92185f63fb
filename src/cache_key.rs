//! Exact-cache keys: the SHA-256 of a canonical form of the request, scoped to one project.
//!
//! The canonical form keeps every field that can change the answer and drops only fields known not
//! to (streaming mode, end-user ids, metadata), so unknown new parameters can never cause a wrong hit.
//! User messages enter the key in their normalised form (see `normalize`), so prompts that differ
//! only trivially ("What's 5 times 3?", "what is 5 × 3?") share an entry.
//! A streamed and a non-streamed request share one entry: the cache stores the assembled answer and
//! replays it in either form. Object keys are sorted (serde_json's default map), so key order in the
//! client's JSON does not matter.

use crate::normalize::normalize_prompt;
use crate::request::{Endpoint, ProxyRequest};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

/// Fields that do not affect the content of the answer.
const IGNORED_FIELDS: [&str; 7] = [
    "stream",
    "stream_options",
    "user",
    "metadata",
    "store",
    "service_tier",
    "watchllm",
];

/// Bumped whenever the canonical form or the stored entry format changes.
pub const CACHE_FORMAT_VERSION: u32 = 1;

/// The canonical JSON text of a request, used as the hash input.
pub fn canonical_request(req: &ProxyRequest) -> String {
    let mut canonical = Map::new();
    for (k, v) in &req.body {
        if IGNORED_FIELDS.contains(&k.as_str()) || v.is_null() {
            continue;
        }
        canonical.insert(k.clone(), v.clone());
    }
    if req.endpoint == Endpoint::ChatCompletions {
        if let Some(Value::Array(messages)) = canonical.get_mut("messages") {
            messages.iter_mut().for_each(normalize_user_message);
        }
    }
    canonical.insert("model".into(), Value::String(req.model.trim().to_string()));
    serde_json::to_string(&Value::Object(canonical)).expect("a JSON value always serialises")
}

/// Replaces a user message's text with its normalised form (text parts of array content too).
fn normalize_user_message(message: &mut Value) {
    if message.get("role").and_then(Value::as_str) != Some("user") {
        return;
    }
    match message.get_mut("content") {
        Some(Value::String(s)) => *s = normalize_prompt(s),
        Some(Value::Array(parts)) => {
            for part in parts
                .iter_mut()
                .filter(|p| p.get("type").and_then(Value::as_str) == Some("text"))
            {
                if let Some(Value::String(t)) = part.get_mut("text") {
                    *t = normalize_prompt(t);
                }
            }
        }
        _ => {}
    }
}

/// Hex SHA-256 of arbitrary bytes.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// The Redis key of the exact-cache entry for `req` in `project_id`.
/// The project id is both in the key's prefix and in the hashed text, so entries of two projects can
/// never collide or be read across projects.
pub fn exact_cache_key(project_id: &str, req: &ProxyRequest) -> String {
    let endpoint = req.endpoint.name();
    let mut hasher = Sha256::new();
    hasher.update(project_id.as_bytes());
    hasher.update([0u8]);
    hasher.update(endpoint.as_bytes());
    hasher.update([0u8]);
    hasher.update(canonical_request(req).as_bytes());
    format!(
        "wl:c{CACHE_FORMAT_VERSION}:{project_id}:{endpoint}:{}",
        hex::encode(hasher.finalize())
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::request::parse;

    fn chat(body: &str) -> ProxyRequest {
        parse(Endpoint::ChatCompletions, body.as_bytes()).unwrap()
    }

    #[test]
    fn key_ignores_field_order_and_streaming() {
        let a = chat(
            r#"{"model":"gpt-4o","messages":[{"role":"user","content":"hi"}],"temperature":0}"#,
        );
        let b = chat(
            r#"{"temperature":0,"stream":true,"user":"u1","messages":[{"content":"hi","role":"user"}],"model":"gpt-4o"}"#,
        );
        assert_eq!(exact_cache_key("p1", &a), exact_cache_key("p1", &b));
    }

    #[test]
    fn trivially_different_user_prompts_share_a_key() {
        let a = chat(r#"{"model":"m","messages":[{"role":"user","content":"What's 5 times 3?"}]}"#);
        let b = chat(r#"{"model":"m","messages":[{"role":"user","content":"what is 5 × 3?"}]}"#);
        let c = chat(
            r#"{"model":"m","messages":[{"role":"user","content":[{"type":"text","text":"  WHAT is 5 times 3?"}]}]}"#,
        );
        assert_eq!(exact_cache_key("p", &a), exact_cache_key("p", &b));
        let d = chat(r#"{"model":"m","messages":[{"role":"user","content":"what is 5 × 4?"}]}"#);
        assert_ne!(exact_cache_key("p", &a), exact_cache_key("p", &d));
        let sys_a = chat(
            r#"{"model":"m","messages":[{"role":"system","content":"Be Brief"},{"role":"user","content":"hi"}]}"#,
        );
        let sys_b = chat(
            r#"{"model":"m","messages":[{"role":"system","content":"be brief"},{"role":"user","content":"hi"}]}"#,
        );
        assert_ne!(
            exact_cache_key("p", &sys_a),
            exact_cache_key("p", &sys_b),
            "system prompts are kept exactly"
        );
        assert_ne!(
            exact_cache_key("p", &a),
            exact_cache_key("p", &c),
            "array content stays a different shape"
        );
    }

    #[test]
    fn key_changes_with_output_affecting_fields() {
        let base = chat(r#"{"model":"gpt-4o","messages":[{"role":"user","content":"hi"}]}"#);
        let variants = [
            r#"{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}]}"#,
            r#"{"model":"gpt-4o","messages":[{"role":"user","content":"hi!"}]}"#,
            r#"{"model":"gpt-4o","messages":[{"role":"system","content":"hi"}]}"#,
            r#"{"model":"gpt-4o","messages":[{"role":"user","content":"hi"}],"temperature":0.5}"#,
            r#"{"model":"gpt-4o","messages":[{"role":"user","content":"hi"}],"top_p":0.5}"#,
            r#"{"model":"gpt-4o","messages":[{"role":"user","content":"hi"}],"tools":[{"type":"function","function":{"name":"f"}}]}"#,
            r#"{"model":"gpt-4o","messages":[{"role":"user","content":"hi"}],"tool_choice":"required"}"#,
            r#"{"model":"gpt-4o","messages":[{"role":"user","content":"hi"}],"response_format":{"type":"json_object"}}"#,
            r#"{"model":"gpt-4o","messages":[{"role":"user","content":"hi"}],"some_future_param":1}"#,
        ];
        let k = exact_cache_key("p1", &base);
        for v in variants {
            assert_ne!(k, exact_cache_key("p1", &chat(v)), "{v}");
        }
    }

    #[test]
    fn key_is_scoped_to_project_and_endpoint() {
        let a = chat(r#"{"model":"m","messages":[{"role":"user","content":"hi"}]}"#);
        let k1 = exact_cache_key("project-a", &a);
        let k2 = exact_cache_key("project-b", &a);
        assert_ne!(k1, k2);
        assert!(k1.starts_with("wl:c1:project-a:chat:"));
        let e = parse(Endpoint::Embeddings, br#"{"model":"m","input":"hi"}"#).unwrap();
        assert!(exact_cache_key("p", &e).contains(":embeddings:"));
    }
}
