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
use serde::Serialize;
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;

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

/// The canonical JSON text of a request, used as the hash input.
pub fn canonical_request(req: &ProxyRequest) -> String {
    canonical_form(req, None)
}

/// The canonical JSON text of `req` with its last message replaced by `last_message` (the
/// semantic scope: everything but the compared prompt).
pub fn canonical_request_with_last_message(req: &ProxyRequest, last_message: &Value) -> String {
    canonical_form(req, Some(last_message))
}

/// One field of the canonical form, borrowed from the request: the form is serialised straight
/// from the client's values, with no copy of the body (a long conversation is tens of KB, and a
/// request builds two of these forms).
#[derive(Serialize)]
#[serde(untagged)]
enum Field<'a> {
    Value(&'a Value),
    Messages(Vec<&'a Value>),
}

fn canonical_form(req: &ProxyRequest, last_message: Option<&Value>) -> String {
    // Sorted by key, as serde_json's default map sorts them.
    let mut canonical: BTreeMap<&str, Field> = BTreeMap::new();
    for (k, v) in &req.body {
        if IGNORED_FIELDS.contains(&k.as_str()) || v.is_null() {
            continue;
        }
        canonical.insert(k, Field::Value(v));
    }
    if let (Some(last), Some(Value::Array(messages))) = (last_message, req.body.get("messages")) {
        let earlier = &messages[..messages.len().saturating_sub(1)];
        canonical.insert(
            "messages",
            Field::Messages(earlier.iter().chain(std::iter::once(last)).collect()),
        );
    }
    let model = Value::String(req.model.trim().to_string());
    canonical.insert("model", Field::Value(&model));
    // An empty form on error would give every such request one key; but there is no error to
    // have: the keys are strings and a parsed `Value` holds no non-finite number.
    #[expect(
        clippy::expect_used,
        reason = "serialising borrowed JSON values under string keys cannot fail"
    )]
    serde_json::to_string(&canonical).expect("JSON values serialise")
}

/// Hex SHA-256 of arbitrary bytes.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// The hash that names `req`'s exact-cache entry in `project_id` and, if any, the client's cache
/// namespace (`X-WatchLLM-Cache-Namespace`); the key is built by `keys::Keyspace::entry`. The
/// project id is both in the key's prefix and in the hashed text, so entries of two projects can
/// never collide or be read across projects, and neither can two namespaces' entries.
pub fn entry_hash(project_id: &str, namespace: Option<&str>, req: &ProxyRequest) -> String {
    let mut hasher = Sha256::new();
    hasher.update(project_id.as_bytes());
    hasher.update([0u8]);
    if let Some(ns) = namespace {
        hasher.update(b"ns:");
        hasher.update(ns.as_bytes());
        hasher.update([0u8]);
    }
    hasher.update(req.endpoint.name().as_bytes());
    hasher.update([0u8]);
    hasher.update(canonical_request(req).as_bytes());
    hex::encode(hasher.finalize())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::request::{parse, Endpoint};

    fn chat(body: &str) -> ProxyRequest {
        parse(Endpoint::ChatCompletions, body.as_bytes()).unwrap()
    }

    /// The canonical form as it was built before it was borrowed: a copy of the body with the
    /// ignored and null fields left out, the trimmed model in, serialised as a `Map`. Keys of
    /// entries already stored must not change, so the borrowed form must give the same bytes.
    fn copied_form(req: &ProxyRequest) -> String {
        let mut canonical = serde_json::Map::new();
        for (k, v) in &req.body {
            if IGNORED_FIELDS.contains(&k.as_str()) || v.is_null() {
                continue;
            }
            canonical.insert(k.clone(), v.clone());
        }
        canonical.insert("model".into(), Value::String(req.model.trim().to_string()));
        Value::Object(canonical).to_string()
    }

    #[test]
    fn the_borrowed_form_is_byte_for_byte_the_copied_one() {
        let placeholder = serde_json::json!({"role": "user", "content": "<semantic>"});
        for body in [
            r#"{"model":"gpt-4o","messages":[{"role":"user","content":"hi"}]}"#,
            r#"{"temperature":0.7,"model":"  openai/gpt-4o-mini ","stream":true,"user":"u1","z_unknown":{"b":1,"a":[2,{"y":null,"x":"\u00e9\n\"q\""}]},"messages":[{"role":"system","content":"Be brief"},{"content":"Hello","role":"user"},{"role":"assistant","content":null,"tool_calls":[{"id":"c1","type":"function","function":{"name":"f","arguments":"{\"a\":1}"}}]},{"role":"tool","tool_call_id":"c1","content":"42"},{"role":"user","content":[{"type":"text","text":"what about 😀 tomorrow?"}]}],"max_tokens":null,"tools":[{"type":"function","function":{"name":"f","parameters":{"type":"object"}}}],"stream_options":{"include_usage":true},"metadata":{"k":"v"},"seed":1000,"top_p":0.30000000000000004,"logit_bias":{"50256":-1e2}}"#,
        ] {
            let req = chat(body);
            assert_eq!(canonical_request(&req), copied_form(&req), "{body}");
            // The semantic scope: the same, with the last message replaced.
            let mut scoped = req.clone();
            let mut messages = req.body["messages"].as_array().unwrap().clone();
            messages.pop();
            messages.push(placeholder.clone());
            scoped
                .body
                .insert("messages".into(), Value::Array(messages));
            assert_eq!(
                canonical_request_with_last_message(&req, &placeholder),
                copied_form(&scoped),
                "{body}"
            );
        }
    }

    #[test]
    fn key_ignores_field_order_and_streaming() {
        let a = chat(
            r#"{"model":"gpt-4o","messages":[{"role":"user","content":"hi"}],"temperature":0}"#,
        );
        let b = chat(
            r#"{"temperature":0,"stream":true,"user":"u1","messages":[{"content":"hi","role":"user"}],"model":"gpt-4o"}"#,
        );
        assert_eq!(entry_hash("p1", None, &a), entry_hash("p1", None, &b));
    }

    #[test]
    fn prompts_enter_the_key_as_sent() {
        let key = |content: &str| {
            entry_hash(
                "p",
                None,
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
        let k = entry_hash("p1", None, &base);
        for v in variants {
            assert_ne!(k, entry_hash("p1", None, &chat(v)), "{v}");
        }
    }

    #[test]
    fn key_is_scoped_to_project_and_endpoint() {
        let a = chat(r#"{"model":"m","messages":[{"role":"user","content":"hi"}]}"#);
        let k1 = entry_hash("project-a", None, &a);
        let k2 = entry_hash("project-b", None, &a);
        assert_ne!(k1, k2);
        assert_eq!(k1.len(), 64);
        let e = parse(Endpoint::Embeddings, br#"{"model":"m","input":"hi"}"#).unwrap();
        let chat_like = parse(Endpoint::Completions, br#"{"model":"m","prompt":"hi"}"#).unwrap();
        assert_ne!(
            entry_hash("p", None, &e),
            entry_hash("p", None, &chat_like),
            "endpoints are hashed"
        );
    }
}
