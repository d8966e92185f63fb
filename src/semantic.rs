//! The semantic cache's pure logic: what part of a request is compared semantically, its scope,
//! locality-sensitive-hashing buckets, the stored record format, the guards against wrong hits, and
//! the decision function.
//!
//! - Scope: everything but the last user message must match exactly (model, system prompt, earlier
//!   turns, every output-affecting parameter), so it is hashed into the bucket keys; only the last
//!   user message is compared by embedding.
//! - Lookup: random-hyperplane LSH, `BANDS` bands of `BITS` bits. Each band names one Redis hash
//!   (`wl:s1:<project>:<scope>:<band>:<signature>`) whose fields are the hashes of exact-cache keys
//!   (`wl:c1:<project>:chat:<hash>`) and whose values carry the quantised vector and guard signature, so one `HGETALL` per band, sent in the
//!   same pipeline as the exact lookup, returns every candidate; exact cosine decides. Buckets are
//!   capped at `MAX_BUCKET` fields, so a lookup stays `BANDS` reads of bounded size however many
//!   entries a project has.
//! - Guards: numbers, negations and named quantities (proper nouns, acronyms, amounts with units)
//!   must be identical, whatever the cosine says.

use crate::cache_key::canonical_request;
use crate::embedding::{embed, DIM};
use crate::normalize::normalize_prompt;
use crate::request::{Endpoint, ProxyRequest};
use base64::engine::general_purpose::STANDARD_NO_PAD as B64;
use base64::Engine;
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::sync::OnceLock;

pub const BANDS: usize = 10;
pub const BITS: usize = 11;
/// Most fields one bucket keeps; older ones are evicted at random beyond it.
pub const MAX_BUCKET: usize = 32;
/// Default similarity threshold.
pub const DEFAULT_THRESHOLD: f32 = 0.95;

/// The text content of a message (string content, or the text parts of array content); None if
/// the message has non-text parts (images, audio), which are never compared semantically.
fn text_of(content: &Value) -> Option<String> {
    match content {
        Value::String(s) => Some(s.clone()),
        Value::Array(parts) => {
            let mut out = Vec::new();
            for p in parts {
                if p.get("type").and_then(Value::as_str) != Some("text") {
                    return None;
                }
                out.push(p.get("text")?.as_str()?.to_string());
            }
            Some(out.join("\n"))
        }
        _ => None,
    }
}

/// What a request contributes to the semantic cache.
#[derive(Debug, Clone, PartialEq)]
pub struct SemanticQuery {
    /// Hash of everything that must match exactly.
    pub scope: String,
    pub normalized: String,
    pub vector: [f32; DIM],
    pub guard: String,
}

/// The semantic part of a chat request: None for other endpoints and for prompts whose last
/// message is not a plain-text user message.
pub fn query_for(req: &ProxyRequest) -> Option<SemanticQuery> {
    if req.endpoint != Endpoint::ChatCompletions {
        return None;
    }
    let messages = req.body.get("messages")?.as_array()?;
    let last = messages.last()?;
    if last.get("role").and_then(Value::as_str) != Some("user") {
        return None;
    }
    let original = text_of(last.get("content")?)?;
    if normalize_prompt(&original).is_empty() {
        return None;
    }
    let mut scoped = req.clone();
    let mut msgs = messages.clone();
    msgs.pop();
    msgs.push(serde_json::json!({"role": "user", "content": "<semantic>"}));
    scoped.body.insert("messages".into(), Value::Array(msgs));
    let scope = hex::encode(&Sha256::digest(canonical_request(&scoped).as_bytes())[..12]);
    Some(text_query(&original, scope))
}

/// The query for a prompt text within a scope: normalised form, embedding and guard signature.
pub fn text_query(original: &str, scope: String) -> SemanticQuery {
    let normalized = normalize_prompt(original);
    SemanticQuery {
        scope,
        vector: embed(&normalized),
        guard: guard_signature(original),
        normalized,
    }
}

/// Which embedder produced a query's vector. Vectors from different embedders live in different
/// spaces, so the embedder is part of the scope: their buckets never mix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Embedder {
    /// In the Worker, no network call, no cost (`embedding.rs`).
    Local,
    /// The OpenAI `/v1/embeddings` API with the project's own key (`text-embedding-3-small`,
    /// 256 dimensions).
    OpenAi,
}

impl Embedder {
    pub fn from_setting(setting: &str) -> Embedder {
        match setting {
            "openai" => Embedder::OpenAi,
            _ => Embedder::Local,
        }
    }
}

/// The hosted embedding model and its request body (`dimensions` matches the LSH planes).
pub const OPENAI_EMBEDDING_MODEL: &str = "text-embedding-3-small";

pub fn hosted_embedding_request(q: &SemanticQuery) -> Value {
    serde_json::json!({"model": OPENAI_EMBEDDING_MODEL, "input": q.normalized, "dimensions": DIM, "encoding_format": "float"})
}

/// Puts a hosted embedding (an OpenAI `/v1/embeddings` answer) in place of the local vector and
/// moves the query into that embedder's scope. None when the answer is unusable.
pub fn with_hosted_vector(q: &SemanticQuery, answer: &Value) -> Option<SemanticQuery> {
    let values = answer.get("data")?.get(0)?.get("embedding")?.as_array()?;
    if values.len() != DIM {
        return None;
    }
    let mut vector = [0f32; DIM];
    for (x, v) in vector.iter_mut().zip(values) {
        *x = v.as_f64()? as f32;
    }
    let norm = vector.iter().map(|x| x * x).sum::<f32>().sqrt();
    if !norm.is_finite() || norm == 0.0 {
        return None;
    }
    vector.iter_mut().for_each(|x| *x /= norm);
    Some(SemanticQuery {
        scope: format!("{}o", &q.scope[..q.scope.len().min(23)]),
        vector,
        guard: q.guard.clone(),
        normalized: q.normalized.clone(),
    })
}

/// Splitmix64: a fixed, portable pseudo-random sequence for the hyperplanes.
fn splitmix(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

fn hyperplanes() -> &'static Vec<[f32; DIM]> {
    static PLANES: OnceLock<Vec<[f32; DIM]>> = OnceLock::new();
    PLANES.get_or_init(|| {
        let mut state = 0x5EED_0F_57A7_1C5u64;
        (0..BANDS * BITS)
            .map(|_| {
                let mut p = [0f32; DIM];
                for x in p.iter_mut() {
                    *x = (splitmix(&mut state) >> 11) as f32 / (1u64 << 53) as f32 - 0.5;
                }
                p
            })
            .collect()
    })
}

/// The LSH signature of a vector in each band.
pub fn band_signatures(v: &[f32; DIM]) -> [u32; BANDS] {
    let planes = hyperplanes();
    // Hashed embeddings are sparse: only the non-zero coordinates take part in the dot products.
    let nonzero: Vec<(usize, f32)> = v
        .iter()
        .copied()
        .enumerate()
        .filter(|(_, x)| *x != 0.0)
        .collect();
    let mut out = [0u32; BANDS];
    for (band, sig) in out.iter_mut().enumerate() {
        for bit in 0..BITS {
            let p = &planes[band * BITS + bit];
            let dot: f32 = nonzero.iter().map(|(i, x)| p[*i] * x).sum();
            if dot >= 0.0 {
                *sig |= 1 << bit;
            }
        }
    }
    out
}

/// Redis keys of the buckets a query reads and an entry is written to.
pub fn bucket_keys(project_id: &str, q: &SemanticQuery) -> Vec<String> {
    band_signatures(&q.vector)
        .iter()
        .enumerate()
        .map(|(band, sig)| format!("wl:s1:{project_id}:{}:{band}:{sig:x}", q.scope))
        .collect()
}

/// Stored record: `<guard>:<base64 of the vector quantised to i8>`.
pub fn encode_record(q: &SemanticQuery) -> String {
    let bytes: Vec<u8> = q
        .vector
        .iter()
        .map(|x| ((x * 127.0).round().clamp(-127.0, 127.0) as i8) as u8)
        .collect();
    format!("{}:{}", q.guard, B64.encode(bytes))
}

/// The bucket field for an exact-cache key: its hash (the project and endpoint are in the bucket key).
pub fn field_for(entry_key: &str) -> &str {
    entry_key.rsplit(':').next().unwrap_or(entry_key)
}

/// The exact-cache key a bucket field stands for in `project_id`.
pub fn entry_key_for(project_id: &str, field: &str) -> String {
    format!(
        "wl:c{}:{project_id}:chat:{field}",
        crate::cache_key::CACHE_FORMAT_VERSION
    )
}

/// A candidate read back from a bucket, its vector still quantised.
#[derive(Debug, Clone, PartialEq)]
pub struct Candidate {
    pub entry_key: String,
    pub guard: String,
    pub quantized: Vec<i8>,
}

pub fn decode_record(entry_key: &str, record: &str) -> Option<Candidate> {
    let (guard, b64) = record.split_once(':')?;
    let bytes = B64.decode(b64).ok()?;
    if bytes.len() != DIM {
        return None;
    }
    Some(Candidate {
        entry_key: entry_key.to_string(),
        guard: guard.to_string(),
        quantized: bytes.into_iter().map(|b| b as i8).collect(),
    })
}

/// Cosine similarity between a query vector and a quantised candidate, in one pass.
pub fn similarity(q: &[f32; DIM], c: &Candidate) -> f32 {
    let (mut dot, mut norm) = (0f32, 0f32);
    for (x, b) in q.iter().zip(&c.quantized) {
        let y = *b as f32;
        dot += x * y;
        norm += y * y;
    }
    if norm > 0.0 {
        dot / norm.sqrt()
    } else {
        0.0
    }
}

/// The best candidate at or above `threshold` whose guards match, with its similarity.
/// Only candidates whose entry key belongs to `project_prefix` are considered.
pub fn best_match<'a>(
    q: &SemanticQuery,
    candidates: &'a [Candidate],
    threshold: f32,
    project_prefix: &str,
) -> Option<(&'a Candidate, f32)> {
    candidates
        .iter()
        .filter(|c| c.entry_key.starts_with(project_prefix) && c.guard == q.guard)
        .map(|c| (c, similarity(&q.vector, c)))
        .filter(|(_, s)| *s >= threshold)
        .max_by(|a, b| a.1.total_cmp(&b.1))
}

const NEGATIONS: [&str; 12] = [
    "not", "no", "never", "none", "nothing", "nobody", "neither", "nor", "without", "cannot",
    "nowhere", "except",
];

/// What must be identical between two prompts for a semantic hit: the numbers (with their
/// units or currency), the negations, and the named things (capitalised words that do not start
/// a sentence, acronyms), hashed. Computed from the original text, before lowercasing.
pub fn guard_features(original: &str) -> Vec<String> {
    let mut feats = Vec::new();
    let normalized = normalize_prompt(original);
    let words = crate::embedding::tokens(&normalized);
    for (i, w) in words.iter().enumerate() {
        if w.chars().any(|c| c.is_ascii_digit()) {
            let unit = words
                .get(i + 1)
                .filter(|u| u.chars().all(char::is_alphabetic) && u.len() <= 5)
                .copied()
                .unwrap_or("");
            feats.push(format!(
                "n:{}{}",
                w.replace(',', ""),
                if unit.is_empty() {
                    String::new()
                } else {
                    format!(" {unit}")
                }
            ));
        }
        if NEGATIONS.contains(w) {
            feats.push(format!("neg:{w}"));
        }
    }
    let mut sentence_start = true;
    for raw in original.split_whitespace() {
        let word: String = raw.chars().filter(|c| c.is_alphanumeric()).collect();
        let named = !word.is_empty()
            && ((word.chars().next().is_some_and(char::is_uppercase)
                && !sentence_start
                && word != "I")
                || (word.len() >= 2 && word.chars().all(|c| c.is_ascii_uppercase())));
        if named {
            feats.push(format!("e:{}", word.to_lowercase()));
        }
        sentence_start = raw.ends_with(['.', '?', '!', ':']);
    }
    feats.sort();
    feats
}

pub fn guard_signature(original: &str) -> String {
    hex::encode(&Sha256::digest(guard_features(original).join("\u{1f}").as_bytes())[..8])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::request::parse;

    fn chat(messages: &str) -> ProxyRequest {
        parse(
            Endpoint::ChatCompletions,
            format!(r#"{{"model":"m","messages":{messages}}}"#).as_bytes(),
        )
        .unwrap()
    }

    fn q(text: &str) -> SemanticQuery {
        query_for(&chat(
            &serde_json::json!([{"role": "user", "content": text}]).to_string(),
        ))
        .unwrap()
    }

    #[test]
    fn guards_reject_different_numbers_negations_and_names() {
        assert_ne!(
            guard_signature("what is 5 × 3"),
            guard_signature("what is 5 × 4")
        );
        assert_ne!(
            guard_signature("Is this safe?"),
            guard_signature("Is this not safe?")
        );
        assert_ne!(
            guard_signature("Flights from Paris to Rome"),
            guard_signature("Flights from Paris to Berlin")
        );
        assert_ne!(
            guard_signature("Convert 5 kg to pounds"),
            guard_signature("Convert 5 lb to pounds")
        );
        assert_eq!(
            guard_signature("What's 5 times 3?"),
            guard_signature("what is 5 × 3")
        );
        assert_eq!(
            guard_signature("Tell me about NASA."),
            guard_signature("tell me about NASA please")
        );
        assert_eq!(
            guard_signature("Explain this."),
            guard_signature("Please explain this")
        );
    }

    #[test]
    fn scope_is_everything_but_the_last_user_message() {
        let a = chat(
            r#"[{"role":"system","content":"Be brief"},{"role":"user","content":"Explain gravity!"}]"#,
        );
        let b = chat(
            r#"[{"role":"system","content":"Be brief"},{"role":"user","content":"explain gravity"}]"#,
        );
        let c = chat(
            r#"[{"role":"system","content":"Be verbose"},{"role":"user","content":"explain gravity"}]"#,
        );
        let (qa, qb, qc) = (
            query_for(&a).unwrap(),
            query_for(&b).unwrap(),
            query_for(&c).unwrap(),
        );
        assert_eq!(qa.scope, qb.scope);
        assert_ne!(
            qa.scope, qc.scope,
            "a different system prompt is a different scope"
        );
        let d = chat(
            r#"[{"role":"user","content":"hi"},{"role":"assistant","content":"hello"},{"role":"user","content":"explain gravity"}]"#,
        );
        assert_ne!(
            query_for(&d).unwrap().scope,
            qb.scope,
            "earlier turns must match exactly"
        );
        let mut hot = b.clone();
        hot.body
            .insert("temperature".into(), serde_json::json!(1.5));
        assert_ne!(query_for(&hot).unwrap().scope, qb.scope);
        assert!(query_for(&chat(
            r#"[{"role":"user","content":"x"},{"role":"assistant","content":"y"}]"#
        ))
        .is_none());
        assert!(query_for(&chat(
            r#"[{"role":"user","content":[{"type":"image_url","image_url":{"url":"data:x"}}]}]"#
        ))
        .is_none());
    }

    #[test]
    fn records_round_trip_and_match() {
        assert_eq!(field_for("wl:c1:p1:chat:abc"), "abc");
        assert_eq!(entry_key_for("p1", "abc"), "wl:c1:p1:chat:abc");
        let a = q("Explain the theory of relativity in simple terms");
        let rec = encode_record(&a);
        let cand = decode_record("wl:c1:p1:chat:abc", &rec).unwrap();
        assert!(similarity(&a.vector, &cand) > 0.999);
        let b = q("explain the theory of relativity in simple terms!!");
        let (hit, sim) = best_match(&b, std::slice::from_ref(&cand), 0.95, "wl:c1:p1:").unwrap();
        assert_eq!(hit.entry_key, "wl:c1:p1:chat:abc");
        assert!(sim > 0.99);
        assert!(
            best_match(&b, std::slice::from_ref(&cand), 0.95, "wl:c1:p2:").is_none(),
            "never across projects"
        );
        let c = q("what is 5 × 4");
        let d = decode_record("wl:c1:p1:chat:def", &encode_record(&q("what is 5 × 3"))).unwrap();
        assert!(
            best_match(&c, &[d], 0.0, "wl:c1:p1:").is_none(),
            "guards win over any threshold"
        );
        assert!(decode_record("k", "garbage").is_none());
    }

    #[test]
    fn near_duplicates_share_a_bucket_in_some_band() {
        let a = bucket_keys("p", &q("What are the best things to do in Hong Kong?"));
        let b = bucket_keys("p", &q("what are the best things to do in Hong Kong"));
        assert_eq!(a.len(), BANDS);
        assert!(a.iter().zip(&b).any(|(x, y)| x == y));
        assert!(a[0].starts_with("wl:s1:p:"));
    }

    #[test]
    fn hosted_vectors_get_their_own_scope_and_are_normalised() {
        let q = text_query("how do i buy a car", "0123456789abcdef01234567".into());
        let answer = serde_json::json!({"object": "list", "data": [{"object": "embedding", "index": 0, "embedding": vec![2.0; DIM]}]});
        let h = with_hosted_vector(&q, &answer).unwrap();
        assert_ne!(
            h.scope, q.scope,
            "hosted and local vectors never share buckets"
        );
        assert_eq!(
            (h.normalized.as_str(), h.guard.as_str()),
            (q.normalized.as_str(), q.guard.as_str())
        );
        assert!((h.vector.iter().map(|x| x * x).sum::<f32>() - 1.0).abs() < 1e-4);
        assert!(bucket_keys("p", &h).iter().all(|k| k.contains(&h.scope)));
        let wrong_dims = serde_json::json!({"data": [{"embedding": [1.0, 2.0]}]});
        assert!(with_hosted_vector(&q, &wrong_dims).is_none());
        assert!(with_hosted_vector(&q, &serde_json::json!({"error": {}})).is_none());
        assert_eq!(hosted_embedding_request(&q)["dimensions"], DIM);
        assert_eq!(Embedder::from_setting("openai"), Embedder::OpenAi);
        assert_eq!(Embedder::from_setting("local"), Embedder::Local);
    }
}
