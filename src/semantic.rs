//! The semantic cache's pure logic: what part of a request is compared semantically, its scope,
//! the buckets a query reads, the stored record, and the decision.
//!
//! - Scope: everything but the last user message must match exactly (model, system prompt, earlier
//!   turns, every output-affecting parameter), so it is hashed into the bucket keys; only the last
//!   user message is compared, in its normalised form (`normalize`).
//! - Decision (`decide`): the guards (`guards`) must match, whatever the threshold; then two
//!   prompts with the same normalised form are the same question (similarity 1.0). Otherwise, with
//!   the in-Worker embedder, they must have the same terms in the same order up to one moved block
//!   ("In simple terms, explain X" / "Explain X in simple terms"), and their cosine must reach the
//!   threshold. A lexical embedder sees words, not meaning: two prompts whose words differ are
//!   different questions to it, and serving one for the other is how a cache serves wrong answers.
//!   With the hosted embedder the words may differ (that is what it is for), but every named thing
//!   of each prompt (a proper noun, an acronym) must appear in the other, case-insensitively.
//! - Lookup: with the in-Worker embedder one bucket per (scope, guards, terms), so a lookup is a
//!   single `HGETALL` of at most `MAX_BUCKET` fields whatever the project's size. The hosted
//!   embedder's vectors differ in their words, so they are found by random-hyperplane LSH: `BANDS`
//!   bands of `BITS` bits, one bucket each. Buckets are Redis hashes
//!   (`wl:s2:<project>:<scope>:<bucket>`) whose fields are exact-cache key hashes and whose values
//!   are records; they are read in the same round trip as the exact lookup.

use crate::embedding::{embed_terms, DIM};
use crate::guards::{guard_features, term_text};
use crate::normalize::{normalize, Normalized, Token};
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
/// Longest term sequence compared up to a moved block; longer prompts must keep their order.
const MAX_REORDER_TERMS: usize = 48;
/// Longest prompt (the last user message, in bytes) compared semantically; a longer one is cached
/// exactly. Normalising costs 0.7-1 µs a byte in the Worker's wasm (0.4 natively), on every
/// request the isolate's memory does not answer, before its Redis round trip: about 0.9 ms at
/// this length, 7 ms at 11 KB (`npm run bench:miss` with `PROMPT_BYTES`), where the exact key
/// costs microseconds. A reworded question is short; a long message is mostly pasted material (a
/// document, code, retrieved context), which the guards require to match anyway.
pub const MAX_COMPARED_BYTES: usize = 1024;

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

/// What a request contributes to the semantic cache.
#[derive(Debug, Clone, PartialEq)]
pub struct SemanticQuery {
    /// Hash of everything that must match exactly (and of the embedder).
    pub scope: String,
    pub embedder: Embedder,
    /// The readable normalised prompt (what the hosted embedder is sent).
    pub normalized: String,
    /// Hash of the normalised form: equal forms are the same question.
    pub form: u64,
    /// Hash of the guard features.
    pub guard: u64,
    /// Ids of the compared terms, in order.
    pub terms: Vec<u32>,
    /// Ids of the named things (proper nouns, acronyms).
    pub named: Vec<u32>,
    pub vector: [f32; DIM],
}

/// The semantic part of a chat request, under its scope (`cache_key::request_hashes`, which
/// hashes everything but the last message, with the project and namespace): None without a scope,
/// for other endpoints, for prompts whose last message is not a plain-text user message, and for
/// prompts longer than `MAX_COMPARED_BYTES`.
pub fn query_for(req: &ProxyRequest, scope: Option<&str>) -> Option<SemanticQuery> {
    let scope = scope?;
    if req.endpoint != Endpoint::ChatCompletions {
        return None;
    }
    let messages = req.body.get("messages")?.as_array()?;
    let last = messages.last()?;
    if last.get("role").and_then(Value::as_str) != Some("user") {
        return None;
    }
    let original = text_of(last.get("content")?)?;
    if original.len() > MAX_COMPARED_BYTES {
        return None;
    }
    let q = text_query(&original, scope.to_string());
    (!q.terms.is_empty()).then_some(q)
}

fn hash64(text: &str) -> u64 {
    let d = Sha256::digest(text.as_bytes());
    u64::from_le_bytes(d[..8].try_into().unwrap_or_default())
}

/// Words that start a phrase which may stand at either end of a sentence without changing the
/// question: prepositions, subordinators and time words ("in simple terms", "for a child",
/// "if it rains", "today"). Adverbs in -ly count too.
const MOVABLE_STARTS: [&str; 40] = [
    "in",
    "on",
    "at",
    "for",
    "with",
    "without",
    "by",
    "during",
    "before",
    "after",
    "using",
    "like",
    "from",
    "as",
    "within",
    "under",
    "over",
    "about",
    "via",
    "per",
    "into",
    "through",
    "across",
    "among",
    "since",
    "until",
    "if",
    "when",
    "while",
    "because",
    "although",
    "today",
    "tomorrow",
    "tonight",
    "now",
    "yesterday",
    "nowadays",
    "currently",
    "recently",
    "here",
];

/// The top bit of a term id marks the start of a movable phrase (see `one_block_moved`).
const MOVABLE_BIT: u32 = 1 << 31;

fn term_id(term: &str) -> u32 {
    let movable = MOVABLE_STARTS.contains(&term)
        || term.len() > 4 && term.ends_with("ly") && term.chars().all(|c| c.is_ascii_lowercase());
    (hash64(term) as u32 & !MOVABLE_BIT) | if movable { MOVABLE_BIT } else { 0 }
}

/// The query for a prompt text within a scope: normalised form, guards, terms and embedding.
pub fn text_query(original: &str, scope: String) -> SemanticQuery {
    query_from(&normalize(original), scope)
}

fn query_from(n: &Normalized, scope: String) -> SemanticQuery {
    let terms: Vec<String> = n.terms().filter_map(term_text).collect();
    let named = n
        .terms()
        .filter_map(|t| match t {
            Token::Word { text, named: true } => Some(term_id(text)),
            _ => None,
        })
        .collect();
    SemanticQuery {
        scope,
        embedder: Embedder::Local,
        normalized: n.text(),
        form: hash64(&n.compared_form()),
        guard: hash64(&guard_features(n).join("\u{1e}")),
        terms: terms.iter().map(|t| term_id(t)).collect(),
        named,
        vector: embed_terms(&terms),
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
        embedder: Embedder::OpenAi,
        vector,
        ..q.clone()
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
        let mut state = 0x0005_EED0_F57A_71C5_u64;
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

/// The buckets a query reads and an entry is written to (their keys are
/// `keys::Keyspace::bucket` of these): one for the in-Worker embedder (its guards and terms, in
/// any order), one per LSH band for the hosted one.
pub fn bucket_suffixes(q: &SemanticQuery) -> Vec<String> {
    let prefix = &q.scope;
    match q.embedder {
        Embedder::Local => {
            let mut terms = q.terms.clone();
            terms.sort_unstable();
            let key: String = terms.iter().map(|t| format!("{t:08x}")).collect();
            let bucket = hash64(&format!("{:016x}{key}", q.guard));
            vec![format!("{prefix}:w:{bucket:016x}")]
        }
        Embedder::OpenAi => band_signatures(&q.vector)
            .iter()
            .enumerate()
            .map(|(band, sig)| format!("{prefix}:{band}:{sig:x}"))
            .collect(),
    }
}

fn ids_b64(ids: &[u32]) -> String {
    B64.encode(
        ids.iter()
            .flat_map(|i| i.to_le_bytes())
            .collect::<Vec<u8>>(),
    )
}

fn ids_from_b64(s: &str) -> Option<Vec<u32>> {
    let bytes = B64.decode(s).ok()?;
    if bytes.len() % 4 != 0 {
        return None;
    }
    Some(
        bytes
            .chunks_exact(4)
            .map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect(),
    )
}

/// Stored record: `<guard>.<form>.<terms>.<named>.<vector>`: the two hashes in hex, the term and
/// name ids and the vector quantised to i8, in base64. No prompt text is stored.
pub fn encode_record(q: &SemanticQuery) -> String {
    let bytes: Vec<u8> = q
        .vector
        .iter()
        .map(|x| ((x * 127.0).round().clamp(-127.0, 127.0) as i8) as u8)
        .collect();
    format!(
        "{:016x}.{:016x}.{}.{}.{}",
        q.guard,
        q.form,
        ids_b64(&q.terms),
        ids_b64(&q.named),
        B64.encode(bytes)
    )
}

/// A candidate read back from a bucket, its vector still quantised.
#[derive(Debug, Clone, PartialEq)]
pub struct Candidate {
    pub entry_key: String,
    pub guard: u64,
    pub form: u64,
    pub terms: Vec<u32>,
    pub named: Vec<u32>,
    pub quantized: Vec<i8>,
}

pub fn decode_record(entry_key: &str, record: &str) -> Option<Candidate> {
    let mut parts = record.split('.');
    let mut next = || parts.next();
    let guard = u64::from_str_radix(next()?, 16).ok()?;
    let form = u64::from_str_radix(next()?, 16).ok()?;
    let terms = ids_from_b64(next()?)?;
    let named = ids_from_b64(next()?)?;
    let bytes = B64.decode(next()?).ok()?;
    if bytes.len() != DIM || next().is_some() {
        return None;
    }
    Some(Candidate {
        entry_key: entry_key.to_string(),
        guard,
        form,
        terms,
        named,
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

/// Whether `b` is `a` with at most one phrase moved (or `a` itself): the same question with an
/// adverbial phrase at the other end ("in simple terms, explain X" / "explain X in simple
/// terms"), but not roles swapped ("dog bites man" / "man bites dog", "is a square a rectangle" /
/// "is a rectangle a square"). One of the two swapped blocks must start a movable phrase
/// (`MOVABLE_STARTS`). Sequences longer than `MAX_REORDER_TERMS` must be equal.
pub fn one_block_moved(a: &[u32], b: &[u32]) -> bool {
    if a == b {
        return true;
    }
    let n = a.len();
    if n != b.len() || n > MAX_REORDER_TERMS {
        return false;
    }
    let prefix = a.iter().zip(b).take_while(|(x, y)| x == y).count();
    let suffix = a
        .iter()
        .rev()
        .zip(b.iter().rev())
        .take_while(|(x, y)| x == y)
        .count();
    // a = P X Y S and b = P Y X S for some P (at most the common prefix) and S (at most the
    // common suffix): try every split of the middle.
    for i in 0..=prefix {
        for k in (n - suffix).max(i + 2)..=n {
            let (ma, mb) = (&a[i..k], &b[i..k]);
            for j in 1..ma.len() {
                let (x, y) = ma.split_at(j);
                let movable = x[0] & MOVABLE_BIT != 0 || y[0] & MOVABLE_BIT != 0;
                if movable && mb[..y.len()] == *y && mb[y.len()..] == *x {
                    return true;
                }
            }
        }
    }
    false
}

/// Whether a stored candidate may answer the query at `threshold`, and with what similarity.
pub fn decide(q: &SemanticQuery, c: &Candidate, threshold: f32) -> Option<f32> {
    if c.guard != q.guard {
        return None;
    }
    if c.form == q.form {
        return Some(1.0);
    }
    let words_allowed = match q.embedder {
        Embedder::Local => one_block_moved(&q.terms, &c.terms),
        Embedder::OpenAi => {
            q.named.iter().all(|n| c.terms.contains(n))
                && c.named.iter().all(|n| q.terms.contains(n))
        }
    };
    if !words_allowed {
        return None;
    }
    let s = similarity(&q.vector, c);
    (s >= threshold).then_some(s.min(1.0))
}

/// The best candidate the decision lets through, with its similarity. Only candidates whose entry
/// key belongs to `project_prefix` are considered.
pub fn best_match<'a>(
    q: &SemanticQuery,
    candidates: &'a [Candidate],
    threshold: f32,
    project_prefix: &str,
) -> Option<(&'a Candidate, f32)> {
    candidates
        .iter()
        .filter(|c| c.entry_key.starts_with(project_prefix))
        .filter_map(|c| decide(q, c, threshold).map(|s| (c, s)))
        .max_by(|a, b| a.1.total_cmp(&b.1))
}

/// The query the Worker builds for `req` in project "p" and `namespace` (for the tests).
#[cfg(test)]
fn query_in(req: &ProxyRequest, namespace: Option<&str>) -> Option<SemanticQuery> {
    let hashes = crate::cache_key::request_hashes("p", namespace, req, true);
    query_for(req, hashes.semantic_scope.as_deref())
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
        query_in(
            &chat(&serde_json::json!([{"role": "user", "content": text}]).to_string()),
            None,
        )
        .unwrap()
    }

    /// What the Worker decides for a stored prompt `a` and an incoming prompt `b`.
    fn served(a: &str, b: &str, threshold: f32) -> Option<f32> {
        let (qa, qb) = (q(a), q(b));
        if bucket_suffixes(&qa) != bucket_suffixes(&qb) {
            return None;
        }
        let c = decode_record("wl:c2:p:chat:x", &encode_record(&qa)).unwrap();
        decide(&qb, &c, threshold)
    }

    #[test]
    fn long_prompts_are_cached_exactly_not_compared() {
        let user =
            |text: &str| chat(&serde_json::json!([{"role": "user", "content": text}]).to_string());
        let sentence = "Please summarise this report on the quarterly figures. ";
        let at_limit = sentence.repeat(MAX_COMPARED_BYTES / sentence.len());
        assert!(at_limit.len() <= MAX_COMPARED_BYTES);
        assert!(query_in(&user(&at_limit), None).is_some());
        let over = format!(
            "{at_limit}{}",
            "x".repeat(MAX_COMPARED_BYTES + 1 - at_limit.len())
        );
        assert_eq!(over.len(), MAX_COMPARED_BYTES + 1);
        assert!(query_in(&user(&over), None).is_none());
        // Text parts count together, as they are compared together.
        let parts = serde_json::json!([{"role": "user", "content": [
            {"type": "text", "text": at_limit}, {"type": "text", "text": sentence}
        ]}]);
        assert!(query_in(&chat(&parts.to_string()), None).is_none());
    }

    #[test]
    fn seed_examples_are_the_same_question() {
        for (a, b) in [
            ("What's 5 times 3?", "what is 5 × 3?"),
            ("Please explain this", "explain this"),
            ("How do I calculate?", "how to calculate?"),
        ] {
            assert_eq!(served(a, b, DEFAULT_THRESHOLD), Some(1.0), "{a} / {b}");
        }
    }

    #[test]
    fn a_moved_phrase_is_served_swapped_roles_are_not() {
        let s = served(
            "Explain the theory of relativity in simple terms",
            "In simple terms, explain the theory of relativity",
            DEFAULT_THRESHOLD,
        );
        assert!(s.is_some_and(|s| (0.95..1.0).contains(&s)), "{s:?}");
        assert_eq!(
            served(
                "Does the dog bite the man",
                "Does the man bite the dog",
                0.01
            ),
            None
        );
        assert_eq!(
            served("Is a square a rectangle?", "Is a rectangle a square?", 0.01),
            None
        );
        assert!(served(
            "If it rains, should I cancel the picnic?",
            "Should I cancel the picnic if it rains?",
            0.9
        )
        .is_some());
        let m = MOVABLE_BIT;
        assert!(one_block_moved(&[1, 2, 3 | m, 4], &[3 | m, 4, 1, 2]));
        assert!(one_block_moved(&[1, 2, 1 | m, 3], &[1 | m, 3, 1, 2]));
        assert!(one_block_moved(&[1, 2, 3, 4 | m, 5], &[1, 4 | m, 2, 3, 5]));
        assert!(
            !one_block_moved(&[1, 2, 3, 4], &[3, 4, 1, 2]),
            "no movable phrase"
        );
        assert!(!one_block_moved(&[1, 2 | m, 3], &[3, 2 | m, 1]));
        assert!(!one_block_moved(&[1, 2, 3], &[1, 2]));
    }

    #[test]
    fn guards_win_over_any_threshold() {
        for (a, b) in [
            ("what is 5 × 3", "what is 5 × 4"),
            ("Is coffee healthy?", "Is coffee not healthy?"),
            (
                "Plan a trip from Paris to Rome",
                "Plan a trip from Paris to Berlin",
            ),
            ("Convert USD to EUR", "Convert EUR to USD"),
            ("Reverse the string 'AbC'", "reverse the string 'abc'"),
        ] {
            assert_eq!(served(a, b, 0.01), None, "{a} / {b}");
        }
    }

    #[test]
    fn a_different_word_is_a_different_question_to_the_lexical_embedder() {
        assert_eq!(
            served("Write a poem about cats", "Write a poem about dogs", 0.01),
            None
        );
        assert_eq!(
            served(
                "Explain the theory of relativity to a ten year old child who likes football",
                "Explain the theory of relativity to a ten year old child who likes basketball",
                0.01
            ),
            None
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
            query_in(&a, None).unwrap(),
            query_in(&b, None).unwrap(),
            query_in(&c, None).unwrap(),
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
            query_in(&d, None).unwrap().scope,
            qb.scope,
            "earlier turns must match exactly"
        );
        let mut hot = b.clone();
        hot.body
            .insert("temperature".into(), serde_json::json!(1.5));
        assert_ne!(query_in(&hot, None).unwrap().scope, qb.scope);
        assert!(query_in(
            &chat(r#"[{"role":"user","content":"x"},{"role":"assistant","content":"y"}]"#),
            None
        )
        .is_none());
        assert!(query_in(
            &chat(
                r#"[{"role":"user","content":[{"type":"image_url","image_url":{"url":"data:x"}}]}]"#
            ),
            None
        )
        .is_none());
        assert!(
            query_in(&chat(r#"[{"role":"user","content":"Thanks!"}]"#), None).is_none(),
            "nothing left to compare"
        );
        assert_ne!(
            query_in(&b, Some("tenant-1")).unwrap().scope,
            query_in(&b, Some("tenant-2")).unwrap().scope,
            "namespaces are scopes of their own"
        );
    }

    #[test]
    fn records_round_trip_and_stay_in_their_project() {
        let a = q("Explain the theory of relativity in simple terms");
        let cand = decode_record("wl:c2:p1:chat:abc", &encode_record(&a)).unwrap();
        assert!(similarity(&a.vector, &cand) > 0.999);
        assert_eq!(
            (cand.guard, cand.form, &cand.terms, &cand.named),
            (a.guard, a.form, &a.terms, &a.named)
        );
        let b = q("explain the theory of relativity in simple terms!!");
        let (hit, sim) = best_match(&b, std::slice::from_ref(&cand), 0.95, "wl:c2:p1:").unwrap();
        assert_eq!(hit.entry_key, "wl:c2:p1:chat:abc");
        assert_eq!(sim, 1.0);
        assert!(
            best_match(&b, std::slice::from_ref(&cand), 0.95, "wl:c2:p2:").is_none(),
            "never across projects"
        );
        assert!(decode_record("k", "garbage").is_none());
        assert!(decode_record("k", "0.0.AAAA.AAAA.AAAA").is_none());
    }

    #[test]
    fn local_lookups_read_one_bucket_hosted_ones_every_band() {
        let a = bucket_suffixes(&q("What are the best things to do in Hong Kong?"));
        let b = bucket_suffixes(&q("what are the best thing to do in hong kong"));
        assert_eq!(a.len(), 1);
        assert_eq!(a, b);
        assert!(a[0].starts_with(&q("What are the best things to do in Hong Kong?").scope));
        let answer = serde_json::json!({"data": [{"embedding": vec![2.0; DIM]}]});
        let h = with_hosted_vector(&q("buy a car"), &answer).unwrap();
        assert_eq!(bucket_suffixes(&h).len(), BANDS);
    }

    #[test]
    fn hosted_vectors_get_their_own_scope_and_names_must_match() {
        let q0 = text_query("how do i buy a car", "0123456789abcdef01234567".into());
        let answer = serde_json::json!({"object": "list", "data": [{"object": "embedding", "index": 0, "embedding": vec![2.0; DIM]}]});
        let h = with_hosted_vector(&q0, &answer).unwrap();
        assert_ne!(
            h.scope, q0.scope,
            "hosted and local vectors never share buckets"
        );
        assert_eq!(
            (h.normalized.as_str(), h.guard),
            (q0.normalized.as_str(), q0.guard)
        );
        assert!((h.vector.iter().map(|x| x * x).sum::<f32>() - 1.0).abs() < 1e-4);
        assert!(bucket_suffixes(&h).iter().all(|k| k.starts_with(&h.scope)));
        let wrong_dims = serde_json::json!({"data": [{"embedding": [1.0, 2.0]}]});
        assert!(with_hosted_vector(&q0, &wrong_dims).is_none());
        assert!(with_hosted_vector(&q0, &serde_json::json!({"error": {}})).is_none());
        assert_eq!(hosted_embedding_request(&q0)["dimensions"], DIM);
        assert_eq!(Embedder::from_setting("openai"), Embedder::OpenAi);
        assert_eq!(Embedder::from_setting("local"), Embedder::Local);
        // Same (made-up) hosted vector for both: only the named-things check tells them apart.
        let hosted = |t: &str| with_hosted_vector(&text_query(t, "s".into()), &answer).unwrap();
        let stored = |t: &str| decode_record("wl:c2:p:chat:x", &encode_record(&hosted(t))).unwrap();
        assert!(decide(
            &hosted("Best hotels in paris"),
            &stored("Best hotels in Paris"),
            0.9
        )
        .is_some());
        assert!(decide(
            &hosted("Best hotels in Paris"),
            &stored("Best hotels in Rome"),
            0.9
        )
        .is_none());
    }
}
/// Property: two prompts whose literals differ in any character never share an exact key or a
/// semantic hit, at any threshold; with the same literal they are the same question.
#[cfg(test)]
mod literal_properties {
    use super::*;
    use crate::cache_key::entry_hash;
    use crate::request::parse;
    use proptest::prelude::*;

    const TEMPLATES: [&str; 8] = [
        "Explain {} please",
        "What does {} mean?",
        "Reverse {}",
        "Is {} a valid value?",
        "Could you tell me why {} fails",
        "Translate {} into French.",
        "Thanks! Look up {} for me",
        "Why does {} throw an error?",
    ];

    /// A literal of each kind around `text`.
    fn wrap(kind: usize, text: &str) -> String {
        match kind {
            0 => format!("'{text}'"),
            1 => format!("\"{text}\""),
            2 => format!("`{text}`"),
            3 => format!("“{text}”"),
            _ => text.to_string(), // a mixed token (letters and digits, no spaces)
        }
    }

    /// Text for a literal of `kind`, and one with a single character changed.
    fn literal_pair() -> impl Strategy<Value = (usize, String, String)> {
        let quoted = "[A-Za-z0-9][A-Za-z0-9 .,!?-]{0,10}[A-Za-z0-9]";
        let mixed = "[A-Za-z]{1,5}[0-9]{1,4}[A-Za-z0-9]{0,4}";
        (0usize..5)
            .prop_flat_map(move |kind| {
                let text = if kind == 4 { mixed } else { quoted };
                (
                    Just(kind),
                    proptest::string::string_regex(text).unwrap(),
                    any::<prop::sample::Index>(),
                    any::<prop::sample::Index>(),
                )
            })
            .prop_map(|(kind, text, at, with)| {
                let chars: Vec<char> = text.chars().collect();
                let i = at.index(chars.len());
                // Another character of the same class, so the changed text is still a literal of
                // the same kind: a letter for a letter (case included), a digit for a digit.
                let pool: Vec<char> = if chars[i].is_ascii_digit() {
                    ('0'..='9').collect()
                } else if chars[i].is_ascii_alphabetic() {
                    ('a'..='z').chain('A'..='Z').collect()
                } else {
                    " .,!?-".chars().collect()
                };
                let pool: Vec<char> = pool.into_iter().filter(|c| *c != chars[i]).collect();
                let mut changed = chars.clone();
                changed[i] = pool[with.index(pool.len())];
                if i == 0 || i == chars.len() - 1 {
                    // Quotes need a non-space character at each end.
                    changed[i] = if changed[i].is_ascii_alphanumeric() {
                        changed[i]
                    } else {
                        'Z'
                    };
                }
                (kind, text, changed.into_iter().collect())
            })
            .prop_filter("a changed literal", |(_, a, b)| a != b)
    }

    fn request(prompt: &str) -> ProxyRequest {
        let body =
            serde_json::json!({"model": "m", "messages": [{"role": "user", "content": prompt}]});
        parse(Endpoint::ChatCompletions, body.to_string().as_bytes()).unwrap()
    }

    fn served(stored: &str, asked: &str) -> Option<f32> {
        let (a, b) = (
            query_in(&request(stored), None)?,
            query_in(&request(asked), None)?,
        );
        if bucket_suffixes(&a) != bucket_suffixes(&b) {
            return None;
        }
        decide(
            &b,
            &decode_record("k", &encode_record(&a))?,
            f32::MIN_POSITIVE,
        )
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]
        #[test]
        fn different_literals_never_share_an_answer(
            (kind, text, changed) in literal_pair(),
            template in 0usize..TEMPLATES.len(),
        ) {
            let a = TEMPLATES[template].replace("{}", &wrap(kind, &text));
            let b = TEMPLATES[template].replace("{}", &wrap(kind, &changed));
            prop_assert_ne!(entry_hash("p", None, &request(&a)), entry_hash("p", None, &request(&b)));
            prop_assert_eq!(served(&a, &b), None, "{:?} answered {:?}", a, b);
            // Retyped around the same literal, it is the same question.
            let retyped = format!("Please  {a}  ");
            prop_assert!(served(&a, &retyped).is_some(), "{:?} / {:?}", a, retyped);
        }
    }
}
