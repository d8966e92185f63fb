//! Exact-cache keys: the SHA-256 of a canonical form of the request, scoped to one project.
//!
//! The canonical form keeps every field that can change the answer and drops only fields known not
//! to (streaming mode, end-user ids, metadata), so unknown new parameters can never cause a wrong hit.
//! Messages enter the key exactly as sent: an exact hit is the same request, byte for byte in
//! every string. Retypings ("What's 5 times 3?" / "what is 5 × 3?") are the semantic cache's
//! business, where the guards decide what may differ.
//! A streamed and a non-streamed request share one entry: the cache stores the assembled answer and
//! replays it in either form. Object keys are sorted (serde_json's default map), so key order in the
//! client's JSON does not matter.

use crate::request::ProxyRequest;
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

/// Bumped whenever the canonical form or the stored entry format changes. Version 1 keys hashed
/// normalised prompts; no version 1 entry may ever answer a version 2 request.
pub const CACHE_FORMAT_VERSION: u32 = 2;

/// The canonical JSON text of a request, used as the hash input.
pub fn canonical_request(req: &ProxyRequest) -> String {
    let mut canonical = Map::new();
    for (k, v) in &req.body {
        if IGNORED_FIELDS.contains(&k.as_str()) || v.is_null() {
            continue;
        }
        canonical.insert(k.clone(), v.clone());
    }
    canonical.insert("model".into(), Value::String(req.model.trim().to_string()));
    Value::Object(canonical).to_string()
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
    use crate::request::{parse, Endpoint};

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
    fn prompts_enter_the_key_as_sent() {
        let key = |content: &str| {
            exact_cache_key(
                "p",
                &chat(&serde_json::json!({"model": "m", "messages": [{"role": "user", "content": content}]}).to_string()),
            )
        };
        for (a, b) in [
            ("What's 5 times 3?", "what is 5 × 3?"),
            ("Reverse the string 'AbC'", "reverse the string 'abc'"),
            ("`Foo()` throws", "`foo()` throws"),
            ("What does 'kindly' mean?", "What does mean?"),
            ("Explain this", "Explain this "),
        ] {
            assert_ne!(key(a), key(b), "{a:?} / {b:?}");
        }
        assert_eq!(key("hi"), key("hi"));
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
        assert!(k1.starts_with("wl:c2:project-a:chat:"));
        let e = parse(Endpoint::Embeddings, br#"{"model":"m","input":"hi"}"#).unwrap();
        assert!(exact_cache_key("p", &e).contains(":embeddings:"));
    }
}
