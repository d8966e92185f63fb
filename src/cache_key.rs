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

/// One field of the canonical form, borrowed from the request: the form is hashed straight from
/// the client's values, with no copy of the body (a long conversation is tens of KB).
#[derive(Serialize)]
#[serde(untagged)]
enum Field<'a> {
    Value(&'a Value),
    Text(&'a str),
}

/// The canonical form's fields, sorted by name (as serde_json's default map sorts them).
fn canonical_fields(req: &ProxyRequest) -> BTreeMap<&str, Field<'_>> {
    let mut canonical: BTreeMap<&str, Field> = BTreeMap::new();
    for (k, v) in &req.body {
        if IGNORED_FIELDS.contains(&k.as_str()) || v.is_null() {
            continue;
        }
        canonical.insert(k, Field::Value(v));
    }
    canonical.insert("model", Field::Text(req.model.trim()));
    canonical
}

/// Hex SHA-256 of arbitrary bytes.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// The last message of a request's semantic scope, in place of the compared prompt.
fn scope_placeholder() -> Value {
    serde_json::json!({"role": "user", "content": "<semantic>"})
}

/// A request's cache hashes, from one pass over its canonical form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestHashes {
    /// Names the exact-cache entry (see `entry_hash`).
    pub entry: String,
    /// The semantic scope (24 hex characters): the same hash with the last message replaced by
    /// a placeholder, so two requests share it when everything but their prompts is the same.
    /// None unless asked for, or when the request has no messages.
    pub semantic_scope: Option<String>,
}

/// The hash that names `req`'s exact-cache entry in `project_id` and, if any, the client's cache
/// namespace (`X-WatchLLM-Cache-Namespace`); the key is built by `keys::Keyspace::entry`. The
/// project id is both in the key's prefix and in the hashed text, so entries of two projects can
/// never collide or be read across projects, and neither can two namespaces' entries.
pub fn entry_hash(project_id: &str, namespace: Option<&str>, req: &ProxyRequest) -> String {
    request_hashes(project_id, namespace, req, false).entry
}

/// `entry_hash` and, with `with_scope`, the semantic scope, hashing the text they share once.
///
/// The hashed text is the canonical form as compact JSON (the fields `canonical_fields` keeps,
/// sorted), written into the hasher as it is serialised, and the scope's hasher is a copy of the
/// entry's taken where the last message starts; a test checks both against the whole texts. A
/// conversation resent each turn is tens of KB, and SHA-256 in WebAssembly hashes about 230 MB/s
/// (170 µs for 40 KB), so hashing its history twice cost a MISS as much as the rest of the key
/// work together.
pub fn request_hashes(
    project_id: &str,
    namespace: Option<&str>,
    req: &ProxyRequest,
    with_scope: bool,
) -> RequestHashes {
    let mut hashes = Hashers {
        entry: Sha256::new(),
        scope: None,
    };
    hashes.write(project_id.as_bytes());
    hashes.write(&[0]);
    if let Some(ns) = namespace {
        hashes.write(b"ns:");
        hashes.write(ns.as_bytes());
        hashes.write(&[0]);
    }
    hashes.write(req.endpoint.name().as_bytes());
    hashes.write(&[0]);

    hashes.write(b"{");
    for (i, (name, field)) in canonical_fields(req).iter().enumerate() {
        if i > 0 {
            hashes.write(b",");
        }
        hashes.json(name);
        hashes.write(b":");
        let split_messages = match field {
            Field::Value(Value::Array(messages)) if with_scope && *name == "messages" => {
                messages.split_last()
            }
            _ => None,
        };
        match split_messages {
            Some((last, earlier)) => {
                hashes.write(b"[");
                for m in earlier {
                    hashes.json(m);
                    hashes.write(b",");
                }
                let mut scope = hashes.entry.clone();
                json_into(&mut hashes.entry, last);
                json_into(&mut scope, &scope_placeholder());
                hashes.scope = Some(scope);
                hashes.write(b"]");
            }
            None => hashes.json(field),
        }
    }
    hashes.write(b"}");
    RequestHashes {
        entry: hex::encode(hashes.entry.finalize()),
        semantic_scope: hashes.scope.map(|s| hex::encode(&s.finalize()[..12])),
    }
}

/// The entry's hasher and, past the fork, the scope's: what both hash goes to both.
struct Hashers {
    entry: Sha256,
    scope: Option<Sha256>,
}

impl Hashers {
    fn write(&mut self, bytes: &[u8]) {
        self.entry.update(bytes);
        if let Some(scope) = &mut self.scope {
            scope.update(bytes);
        }
    }

    fn json<T: Serialize + ?Sized>(&mut self, value: &T) {
        json_into(&mut self.entry, value);
        if let Some(scope) = &mut self.scope {
            json_into(scope, value);
        }
    }
}

/// Serialises `value` straight into `hasher` (compact, as `serde_json::to_string`).
fn json_into<T: Serialize + ?Sized>(hasher: &mut Sha256, value: &T) {
    #[expect(
        clippy::expect_used,
        reason = "serialising JSON values into a hasher, which never fails to write, cannot fail"
    )]
    serde_json::to_writer(hasher, value).expect("JSON values serialise");
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::request::{parse, Endpoint};

    fn chat(body: &str) -> ProxyRequest {
        parse(Endpoint::ChatCompletions, body.as_bytes()).unwrap()
    }

    /// The canonical form as it was first built, whole: a copy of the body with the ignored and
    /// null fields left out, the trimmed model in, serialised as a `Map`. Keys of entries already
    /// stored must not change, so the hashes must be of these bytes.
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

    /// What `request_hashes` must give: the hashes of the whole canonical texts, each after the
    /// same prefix (stored entries keep their keys).
    fn hashed_texts(
        project: &str,
        namespace: Option<&str>,
        req: &ProxyRequest,
    ) -> (String, Option<String>) {
        let mut prefix = format!("{project}\0");
        if let Some(ns) = namespace {
            prefix.push_str(&format!("ns:{ns}\0"));
        }
        prefix.push_str(&format!("{}\0", req.endpoint.name()));
        let entry = sha256_hex(format!("{prefix}{}", copied_form(req)).as_bytes());
        let scope = match req.body.get("messages") {
            Some(Value::Array(messages)) if !messages.is_empty() => {
                let mut scoped = req.clone();
                let mut messages = messages.clone();
                messages.pop();
                messages.push(scope_placeholder());
                scoped
                    .body
                    .insert("messages".into(), Value::Array(messages));
                let text = copied_form(&scoped);
                Some(sha256_hex(format!("{prefix}{text}").as_bytes())[..24].to_string())
            }
            _ => None,
        };
        (entry, scope)
    }

    #[test]
    fn one_pass_hashes_are_the_hashes_of_the_canonical_texts() {
        let history: Vec<Value> = (0..60)
            .map(|i| serde_json::json!({"role": if i % 2 == 0 { "user" } else { "assistant" }, "content": format!("turn {i} {}", "é\"x\\ ".repeat(40))}))
            .collect();
        let mut long = serde_json::json!({"model": "m", "temperature": 0.1, "tools": [{"type": "function", "function": {"name": "f"}}]});
        let mut messages = history.clone();
        messages.push(serde_json::json!({"role": "user", "content": "And now?"}));
        long["messages"] = Value::Array(messages);
        let bodies = [
            r#"{"model":"gpt-4o","messages":[{"role":"user","content":"hi"}]}"#.to_string(),
            r#"{"model":" m ","messages":[],"n":1}"#.to_string(),
            r#"{"model":"m","messages":"not a list","a":1,"z":2}"#.to_string(),
            r#"{"aa":[1,{"b":null}],"model":"m","messages":[{"role":"system","content":"s"},{"role":"user","content":[{"type":"text","text":"x"}]}],"zz":{"k":"v"},"stream":true}"#.to_string(),
            r#"{"temperature":0.7,"model":"  openai/gpt-4o-mini ","stream":true,"user":"u1","z_unknown":{"b":1,"a":[2,{"y":null,"x":"\u00e9\n\"q\""}]},"messages":[{"role":"system","content":"Be brief"},{"content":"Hello","role":"user"},{"role":"assistant","content":null,"tool_calls":[{"id":"c1","type":"function","function":{"name":"f","arguments":"{\"a\":1}"}}]},{"role":"tool","tool_call_id":"c1","content":"42"},{"role":"user","content":[{"type":"text","text":"what about 😀 tomorrow?"}]}],"max_tokens":null,"tools":[{"type":"function","function":{"name":"f","parameters":{"type":"object"}}}],"stream_options":{"include_usage":true},"metadata":{"k":"v"},"seed":1000,"top_p":0.30000000000000004,"logit_bias":{"50256":-1e2}}"#.to_string(),
            long.to_string(),
        ];
        for body in &bodies {
            // Built by hand, unvalidated: the hashes must agree for any body.
            let fields: serde_json::Map<String, Value> = serde_json::from_str(body).unwrap();
            let req = ProxyRequest {
                endpoint: Endpoint::ChatCompletions,
                model: fields["model"].as_str().unwrap().to_string(),
                stream: false,
                include_usage: false,
                body: fields,
            };
            for ns in [None, Some("tenant-1")] {
                let (entry, scope) = hashed_texts("project-a", ns, &req);
                let hashes = request_hashes("project-a", ns, &req, true);
                assert_eq!(hashes.entry, entry, "{body}");
                assert_eq!(hashes.semantic_scope, scope, "{body}");
                assert_eq!(entry_hash("project-a", ns, &req), entry);
                assert_eq!(
                    request_hashes("project-a", ns, &req, false).semantic_scope,
                    None
                );
            }
        }
        let completion = parse(Endpoint::Completions, br#"{"model":"m","prompt":"hi"}"#).unwrap();
        let hashes = request_hashes("p", None, &completion, true);
        assert_eq!(hashes.entry, hashed_texts("p", None, &completion).0);
        assert_eq!(hashes.semantic_scope, None, "no messages, no scope");
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
