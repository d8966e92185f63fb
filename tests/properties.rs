//! Property tests for everything that parses input the proxy does not control (issue #12): request
//! bodies and headers from clients, answers and streams from providers, entries and records read
//! back from Redis. Unit tests check the cases someone thought of; these generate the rest
//! (arbitrary bytes, arbitrary JSON, valid inputs with random damage, valid streams cut at any
//! byte) and check what must hold for every input: no panic (a panic in the Worker is a 500 for
//! the request and a lost isolate), errors in OpenAI's format with a 4xx status, cache keys that
//! see the request and not its spelling, normalisation that is a fixed point, and streams that
//! give the same answer however the network splits them.
//!
//! Each property prints how many cases it ran and how long it took:
//! `cargo test --profile proptest --test properties -- --nocapture` (optimised; what `npm test`
//! runs). `PROPERTIES_SCALE=20` runs twenty times as many cases (a deeper search before a release). Failures shrink to a minimal input, and its seed is
//! kept in `proptest-regressions/properties.txt`, replayed first on every run.
//!
//! JSON numbers are compared exactly: a cached answer or a translated tool input must give back
//! the very number the provider sent (serde_json's `float_roundtrip` feature; without it, a
//! 17-digit number could come back a unit or two off in the last place).

use proptest::prelude::*;
use proptest::sample::{select, Index};
use proptest::test_runner::{Config, FileFailurePersistence, TestCaseError, TestRunner};
use serde_json::{json, Map, Value};
use std::collections::HashMap;
use std::fmt::Debug;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Instant;
use watchllm_proxy::api_key;
use watchllm_proxy::cache_entry::{self, CacheEntry};
use watchllm_proxy::cache_key::entry_hash;
use watchllm_proxy::controls::{self, CacheControls, CachePolicy};
use watchllm_proxy::cors;
use watchllm_proxy::error::ApiError;
use watchllm_proxy::lookup_plan::{self, BudgetSync, LookupPlan};
use watchllm_proxy::models::{self, Provider, Usage};
use watchllm_proxy::normalize::{normalize, normalize_prompt};
use watchllm_proxy::providers::anthropic::{self, SseTranslator, StreamTranslator};
use watchllm_proxy::request::{self, Endpoint};
use watchllm_proxy::semantic;
use watchllm_proxy::sse::{self, SseParser, StreamAssembler, StreamTap};

// ---------------------------------------------------------------------------------------------
// Running a property: a fixed number of cases, the count and time printed, failures persisted.

/// Runs `test` on `cases` inputs from `strategy`; panics with the shrunk input if one fails.
#[expect(
    clippy::panic,
    reason = "a helper of the #[test]s: its panic is the property's failure"
)]
fn check<S>(
    name: &str,
    cases: u32,
    strategy: S,
    test: impl Fn(S::Value) -> Result<(), TestCaseError>,
) where
    S: Strategy,
    S::Value: Debug,
{
    let scale = std::env::var("PROPERTIES_SCALE")
        .ok()
        .and_then(|s| s.parse::<u32>().ok())
        .unwrap_or(1);
    let config = Config {
        cases: cases.saturating_mul(scale),
        failure_persistence: Some(Box::new(FileFailurePersistence::Direct(REGRESSIONS))),
        ..Config::default()
    };
    // Every property replays the saved failures first (their seeds, drawn through its own
    // strategy), then runs its new cases.
    let saved = std::fs::read_to_string(REGRESSIONS)
        .map(|f| f.lines().filter(|l| l.starts_with("cc ")).count())
        .unwrap_or(0);
    let ran = AtomicU32::new(0);
    let started = Instant::now();
    let result = TestRunner::new(config).run(&strategy, |input| {
        ran.fetch_add(1, Ordering::Relaxed);
        test(input)
    });
    if let Err(e) = result {
        panic!("property {name} failed: {e}");
    }
    let ran = ran.load(Ordering::Relaxed);
    eprintln!(
        "property {name}: {ran} cases ({} new, {saved} saved) in {:.2} s",
        ran as usize - saved.min(ran as usize),
        started.elapsed().as_secs_f64()
    );
}

const REGRESSIONS: &str = "proptest-regressions/properties.txt";

/// Whether two JSON values are the same document, numbers exactly.
fn same_json(a: &Value, b: &Value) -> bool {
    a == b
}

/// A failed case unless `e` is a client error in OpenAI's format.
fn client_error(e: &ApiError) -> Result<(), TestCaseError> {
    prop_assert!(
        (400..500).contains(&e.status),
        "status {} for {e:?}",
        e.status
    );
    prop_assert!(!e.message.is_empty());
    Ok(())
}

/// A tiny deterministic generator for choices inside one case (key order, whitespace, escapes):
/// proptest draws the seed, so a failure still replays.
struct SplitMix(u64);

impl SplitMix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

// ---------------------------------------------------------------------------------------------
// Generators.

/// Words and marks the normaliser and the literal scanner treat specially, plus characters whose
/// case mapping changes their length or that Unicode treats as combining, invisible or wide.
const PROMPT_PIECES: &[&str] = &[
    "what",
    "What's",
    "whats",
    "is",
    "are",
    "the",
    "a",
    "an",
    "A",
    "please",
    "Please",
    "PLEASE",
    "kindly",
    "thanks",
    "Thank you",
    "hi",
    "Hello",
    "how",
    "do",
    "does",
    "I",
    "can",
    "should",
    "three",
    "twenty-one",
    "hundred",
    "and",
    "1,000",
    "5",
    "3.5",
    "10kg",
    "kg",
    "%",
    "percent",
    "$5",
    "€",
    "dollars",
    "USD",
    "times",
    "multiplied",
    "by",
    "divided",
    "plus",
    "-",
    "—",
    "colour",
    "summarise",
    "benefits",
    "goods",
    "news",
    "NASA",
    "IT",
    "it",
    "iPhone",
    "sk-AbC123",
    "A1B2",
    "'",
    "\"",
    "“",
    "”",
    "‘",
    "’",
    "«",
    "»",
    "`",
    "``",
    "```",
    "```python\n",
    "~~~",
    "\n",
    "\n\n",
    "\n    ",
    "    ",
    "\t",
    "Answer with exactly:",
    "Repeat after me:",
    "Say:",
    "uppercase",
    "reverse",
    "spell",
    "capital",
    "letters",
    "?",
    "!",
    ".",
    ",",
    ":",
    ";",
    "...",
    "??",
    "don't",
    "can't",
    "I'd",
    "you",
    "me",
    "to",
    "for",
    "in",
    "3pm",
    "AM",
    "°C",
    "first",
    "1st",
    "x",
    "(",
    ")",
    "[A-Z]",
    "*",
    "/",
    "\\",
    "é",
    "ß",
    "İ",
    "ǅ",
    "ﬁ",
    "ΣΑΣ",
    "\u{301}",
    "🙂",
    "\u{200b}",
    "\r\n",
    "\r",
    "<b>",
    "#",
    "@user",
    "_x_",
    "0x1F",
    "1e5",
    "½",
    "Ⅻ",
    "٣",
];

/// Prompt-like text: arbitrary Unicode, or a soup of the pieces above.
fn text() -> BoxedStrategy<String> {
    let soup = prop::collection::vec(
        (
            select(PROMPT_PIECES),
            select(&[" ", "", " ", "  ", "\n", ", "][..]),
        ),
        0..14,
    )
    .prop_map(|parts| parts.into_iter().map(|(w, s)| format!("{w}{s}")).collect());
    prop_oneof![
        4 => soup,
        2 => "\\PC{0,30}",
        1 => any::<String>(),
        1 => "[a-zA-Z '\"`?.,\n]{0,40}",
    ]
    .boxed()
}

/// Keys the parsers look for, so random objects often hit a field they read.
const KEYS: &[&str] = &[
    "model",
    "messages",
    "role",
    "content",
    "type",
    "text",
    "stream",
    "stream_options",
    "include_usage",
    "temperature",
    "top_p",
    "max_tokens",
    "max_completion_tokens",
    "n",
    "stop",
    "tools",
    "tool_choice",
    "tool_calls",
    "tool_call_id",
    "function",
    "functions",
    "function_call",
    "name",
    "arguments",
    "parameters",
    "description",
    "input",
    "prompt",
    "image_url",
    "url",
    "id",
    "index",
    "delta",
    "choices",
    "usage",
    "input_tokens",
    "output_tokens",
    "cache_read_input_tokens",
    "cache_creation_input_tokens",
    "prompt_tokens",
    "completion_tokens",
    "total_tokens",
    "stop_reason",
    "message",
    "content_block",
    "partial_json",
    "error",
    "finish_reason",
    "parallel_tool_calls",
    "response_format",
    "logprobs",
    "user",
    "object",
    "refusal",
    "cost",
    "created",
];

/// String values the parsers compare against.
const WORDS: &[&str] = &[
    "user",
    "assistant",
    "system",
    "developer",
    "tool",
    "function",
    "text",
    "image_url",
    "tool_use",
    "thinking",
    "auto",
    "required",
    "none",
    "json_object",
    "message_start",
    "content_block_start",
    "content_block_delta",
    "content_block_stop",
    "text_delta",
    "input_json_delta",
    "message_delta",
    "message_stop",
    "ping",
    "error",
    "end_turn",
    "max_tokens",
    "tool_use",
    "stop_sequence",
    "refusal",
    "data:image/png;base64,AAAA",
    "data:,x",
    "data:image/png,raw",
    "{}",
    "{\"a\":1}",
    "{bad",
    "",
    " ",
    "[DONE]",
    "chat.completion",
    "chat.completion.chunk",
    "text_completion",
    "list",
    "gpt-4o",
    "claude-3-haiku",
];

fn key() -> BoxedStrategy<String> {
    prop_oneof![
        4 => select(KEYS).prop_map(String::from),
        1 => "\\PC{0,8}",
    ]
    .boxed()
}

fn json_leaf() -> BoxedStrategy<Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        (u64::MAX - 3..=u64::MAX).prop_map(Value::from),
        (0u64..5).prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        (-3.0f64..3.0).prop_map(Value::from),
        select(WORDS).prop_map(Value::from),
        text().prop_map(Value::String),
    ]
    .boxed()
}

/// Any JSON value, nested up to five levels.
fn arb_json() -> BoxedStrategy<Value> {
    json_leaf()
        .prop_recursive(5, 48, 6, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
                prop::collection::vec((key(), inner), 0..6)
                    .prop_map(|kv| Value::Object(kv.into_iter().collect())),
            ]
        })
        .boxed()
}

fn arb_object() -> BoxedStrategy<Map<String, Value>> {
    prop::collection::vec((key(), arb_json()), 0..8)
        .prop_map(|kv| kv.into_iter().collect())
        .boxed()
}

fn model_name() -> BoxedStrategy<String> {
    prop_oneof![
        select(
            &[
                "gpt-4o",
                "gpt-4o-mini",
                "claude-3-haiku",
                "openai/gpt-4o",
                "llama-3.1-8b-instant"
            ][..]
        )
        .prop_map(String::from),
        "[a-z0-9][a-z0-9./:-]{0,20}",
    ]
    .boxed()
}

fn id() -> BoxedStrategy<String> {
    "[a-zA-Z0-9_]{1,12}".boxed()
}

fn json_arguments() -> BoxedStrategy<String> {
    prop_oneof![
        arb_object().prop_map(|o| Value::Object(o).to_string()),
        Just(String::new()),
        text(),
    ]
    .boxed()
}

fn image_url() -> BoxedStrategy<String> {
    prop_oneof![
        Just("https://example.com/cat.png".to_string()),
        "data:image/(png|jpeg);base64,[A-Za-z0-9+/]{0,12}={0,2}",
        "data:[a-z/;,=]{0,14}",
        text(),
    ]
    .boxed()
}

fn content_part() -> BoxedStrategy<Value> {
    prop_oneof![
        3 => text().prop_map(|t| json!({"type": "text", "text": t})),
        1 => image_url().prop_map(|u| json!({"type": "image_url", "image_url": {"url": u}})),
    ]
    .boxed()
}

fn content() -> BoxedStrategy<Value> {
    prop_oneof![
        3 => text().prop_map(Value::String),
        1 => prop::collection::vec(content_part(), 1..4).prop_map(Value::Array),
    ]
    .boxed()
}

fn tool_call() -> BoxedStrategy<Value> {
    (id(), id(), json_arguments())
        .prop_map(|(id, name, args)| {
            json!({"id": id, "type": "function", "function": {"name": name, "arguments": args}})
        })
        .boxed()
}

/// A message `request::parse` accepts.
fn message() -> BoxedStrategy<Value> {
    prop_oneof![
        3 => (select(&["user", "system", "developer"][..]), content())
            .prop_map(|(role, c)| json!({"role": role, "content": c})),
        2 => (prop::option::of(text()), prop::collection::vec(tool_call(), 0..3)).prop_map(|(t, calls)| {
            let mut m = json!({"role": "assistant", "content": t});
            if !calls.is_empty() {
                m["tool_calls"] = Value::Array(calls);
            }
            m
        }),
        1 => (id(), content()).prop_map(|(id, c)| json!({"role": "tool", "tool_call_id": id, "content": c})),
    ]
    .boxed()
}

/// One optional parameter `request::parse` accepts, as a key and a value.
fn chat_param() -> BoxedStrategy<(String, Value)> {
    let p = |k: &'static str| move |v: Value| (k.to_string(), v);
    prop_oneof![
        (0.0f64..=2.0).prop_map(|t| json!(t)).prop_map(p("temperature")),
        (0.0f64..=1.0).prop_map(|t| json!(t)).prop_map(p("top_p")),
        (1u64..100_000).prop_map(|n| json!(n)).prop_map(p("max_tokens")),
        (1u64..4).prop_map(|n| json!(n)).prop_map(p("n")),
        prop_oneof![
            text().prop_map(Value::String),
            prop::collection::vec(text(), 0..3).prop_map(|s| json!(s))
        ]
        .prop_map(p("stop")),
        any::<bool>().prop_map(Value::Bool).prop_map(p("stream")),
        any::<bool>().prop_map(|b| json!({"include_usage": b})).prop_map(p("stream_options")),
        id().prop_map(Value::String).prop_map(p("user")),
        arb_object().prop_map(Value::Object).prop_map(p("metadata")),
        prop::collection::vec((id(), arb_object()), 0..3)
            .prop_map(|fs| json!(fs
                .into_iter()
                .map(|(name, params)| json!({"type": "function", "function": {"name": name, "parameters": params}}))
                .collect::<Vec<_>>()))
            .prop_map(p("tools")),
        prop_oneof![
            select(&["auto", "required", "none", "any"][..]).prop_map(Value::from),
            id().prop_map(|n| json!({"type": "function", "function": {"name": n}})),
        ]
        .prop_map(p("tool_choice")),
        any::<bool>().prop_map(Value::Bool).prop_map(p("parallel_tool_calls")),
        select(&["text", "json_object"][..]).prop_map(|t| json!({"type": t})).prop_map(p("response_format")),
        ("x_[a-z]{1,6}", arb_json()),
    ]
    .boxed()
}

fn with_params(mut body: Value, params: Vec<(String, Value)>) -> Value {
    if let Value::Object(o) = &mut body {
        o.extend(params);
    }
    body
}

/// A chat body `request::parse` accepts; its last message is a user message with string content.
fn chat_body() -> BoxedStrategy<Value> {
    (
        model_name(),
        prop::collection::vec(message(), 0..4),
        text(),
        prop::collection::vec(chat_param(), 0..5),
    )
        .prop_map(|(model, mut messages, last, params)| {
            messages.push(json!({"role": "user", "content": last}));
            with_params(json!({"model": model, "messages": messages}), params)
        })
        .boxed()
}

fn completions_body() -> BoxedStrategy<Value> {
    let prompt = prop_oneof![
        text().prop_map(Value::String),
        prop::collection::vec(text(), 1..3).prop_map(|p| json!(p)),
        prop::collection::vec(prop::collection::vec(0u64..100_000, 1..5), 1..3)
            .prop_map(|p| json!(p)),
    ];
    (
        model_name(),
        prompt,
        prop::collection::vec(chat_param(), 0..3),
    )
        .prop_map(|(model, prompt, params)| {
            let params = params
                .into_iter()
                .filter(|(k, _)| k != "stop" && k != "tools");
            with_params(json!({"model": model, "prompt": prompt}), params.collect())
        })
        .boxed()
}

fn embeddings_body() -> BoxedStrategy<Value> {
    let input = prop_oneof![
        "\\PC{1,30}".prop_map(Value::String),
        prop::collection::vec("\\PC{1,10}", 1..4).prop_map(|p| json!(p)),
        prop::collection::vec(0u64..100_000, 1..8).prop_map(|p| json!(p)),
        prop::collection::vec(prop::collection::vec(0u64..100_000, 1..5), 1..3)
            .prop_map(|p| json!(p)),
    ];
    (model_name(), input, prop::option::of("x_[a-z]{1,6}"))
        .prop_map(|(model, input, extra)| {
            let mut body = json!({"model": model, "input": input, "encoding_format": "float"});
            if let Some(k) = extra {
                body[k] = json!(1);
            }
            body
        })
        .boxed()
}

fn endpoint() -> BoxedStrategy<Endpoint> {
    select(
        &[
            Endpoint::ChatCompletions,
            Endpoint::Completions,
            Endpoint::Embeddings,
        ][..],
    )
    .boxed()
}

fn valid_body(endpoint: Endpoint) -> BoxedStrategy<Value> {
    match endpoint {
        Endpoint::ChatCompletions => chat_body(),
        Endpoint::Completions => completions_body(),
        Endpoint::Embeddings => embeddings_body(),
    }
}

/// One random change to a JSON document: in one of its objects or arrays (picked by `at`), insert
/// a field or element, remove one, or replace one with `value` (often of the wrong type).
#[derive(Debug, Clone)]
struct Damage {
    at: Index,
    which: Index,
    op: u8,
    key: String,
    value: Value,
}

fn damage() -> BoxedStrategy<Damage> {
    (any::<Index>(), any::<Index>(), 0u8..3, key(), arb_json())
        .prop_map(|(at, which, op, key, value)| Damage {
            at,
            which,
            op,
            key,
            value,
        })
        .boxed()
}

/// JSON pointers of every object and array in `v`.
fn container_paths(v: &Value, path: String, out: &mut Vec<String>) {
    let escape = |k: &str| k.replace('~', "~0").replace('/', "~1");
    match v {
        Value::Object(o) => {
            out.push(path.clone());
            for (k, child) in o {
                container_paths(child, format!("{path}/{}", escape(k)), out);
            }
        }
        Value::Array(a) => {
            out.push(path.clone());
            for (i, child) in a.iter().enumerate() {
                container_paths(child, format!("{path}/{i}"), out);
            }
        }
        _ => {}
    }
}

fn apply(body: &mut Value, d: &Damage) {
    let mut paths = Vec::new();
    container_paths(body, String::new(), &mut paths);
    if paths.is_empty() {
        return;
    }
    let path = &paths[d.at.index(paths.len())];
    let Some(target) = body.pointer_mut(path) else {
        return;
    };
    match target {
        Value::Object(o) => {
            let existing: Vec<String> = o.keys().cloned().collect();
            match (d.op, existing.is_empty()) {
                (0, _) | (_, true) => {
                    o.insert(d.key.clone(), d.value.clone());
                }
                (1, false) => {
                    o.remove(&existing[d.which.index(existing.len())]);
                }
                _ => {
                    o.insert(
                        existing[d.which.index(existing.len())].clone(),
                        d.value.clone(),
                    );
                }
            }
        }
        Value::Array(a) => match (d.op, a.is_empty()) {
            (0, _) | (_, true) => a.push(d.value.clone()),
            (1, false) => {
                let i = d.which.index(a.len());
                a.remove(i);
            }
            _ => {
                let i = d.which.index(a.len());
                a[i] = d.value.clone();
            }
        },
        _ => {}
    }
}

/// A valid body of `endpoint` with one to four random changes.
fn damaged_body(endpoint: Endpoint) -> BoxedStrategy<Value> {
    (valid_body(endpoint), prop::collection::vec(damage(), 1..5))
        .prop_map(|(mut body, damages)| {
            for d in &damages {
                apply(&mut body, d);
            }
            body
        })
        .boxed()
}

/// `v` written with its object keys in a random order at every level, random whitespace between
/// tokens, and characters of strings randomly written as `\u` escapes: the same JSON document.
fn respell(v: &Value, rng: &mut SplitMix) -> String {
    let mut out = String::new();
    whitespace(rng, &mut out);
    write_json(v, rng, &mut out);
    whitespace(rng, &mut out);
    out
}

fn whitespace(rng: &mut SplitMix, out: &mut String) {
    for _ in 0..rng.below(3) {
        out.push_str([" ", "\n", "\t", "\r", "\r\n", "  "][rng.below(6)]);
    }
}

fn write_json(v: &Value, rng: &mut SplitMix, out: &mut String) {
    match v {
        Value::Object(o) => {
            let mut entries: Vec<(&String, &Value)> = o.iter().collect();
            for i in (1..entries.len()).rev() {
                entries.swap(i, rng.below(i + 1));
            }
            out.push('{');
            for (i, (k, v)) in entries.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                whitespace(rng, out);
                write_string(k, rng, out);
                whitespace(rng, out);
                out.push(':');
                whitespace(rng, out);
                write_json(v, rng, out);
                whitespace(rng, out);
            }
            out.push('}');
        }
        Value::Array(a) => {
            out.push('[');
            for (i, v) in a.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                whitespace(rng, out);
                write_json(v, rng, out);
                whitespace(rng, out);
            }
            out.push(']');
        }
        Value::String(s) => write_string(s, rng, out),
        other => out.push_str(&other.to_string()),
    }
}

fn write_string(s: &str, rng: &mut SplitMix, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '/' if rng.below(2) == 0 => out.push_str("\\/"),
            c if (c as u32) < 0x20 || rng.below(5) == 0 => {
                let mut units = [0u16; 2];
                for unit in c.encode_utf16(&mut units) {
                    if rng.below(2) == 0 {
                        out.push_str(&format!("\\u{unit:04x}"));
                    } else {
                        out.push_str(&format!("\\u{unit:04X}"));
                    }
                }
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// Cut points for `len` bytes: random ones, after every byte, or at every `\r` and inside every
/// multi-byte character (the places a naive decoder gets wrong).
fn cut_points(bytes: &[u8], mode: u8, random: &[Index]) -> Vec<usize> {
    let len = bytes.len();
    let mut cuts: Vec<usize> = match mode {
        0 => (0..=len).collect(),
        1 => (0..len)
            .filter(|&i| bytes[i] == b'\r' || (bytes[i] & 0xC0) == 0x80)
            .flat_map(|i| [i, i + 1])
            .collect(),
        _ => random.iter().map(|i| i.index(len + 1)).collect(),
    };
    cuts.sort_unstable();
    cuts
}

/// `bytes` in pieces at `cuts` (empty pieces included, as a network read may be).
fn pieces<'a>(bytes: &'a [u8], cuts: &[usize]) -> Vec<&'a [u8]> {
    let mut out = Vec::new();
    let mut at = 0;
    for &c in cuts {
        out.push(&bytes[at..c.max(at)]);
        at = c.max(at);
    }
    out.push(&bytes[at..]);
    out
}

#[derive(Debug, Clone)]
struct Split {
    mode: u8,
    random: Vec<Index>,
}

fn split() -> BoxedStrategy<Split> {
    (
        prop_oneof![1 => Just(0u8), 1 => Just(1u8), 3 => Just(2u8)],
        prop::collection::vec(any::<Index>(), 0..24),
    )
        .prop_map(|(mode, random)| Split { mode, random })
        .boxed()
}

fn arb_bytes() -> BoxedStrategy<Vec<u8>> {
    prop_oneof![
        prop::collection::vec(any::<u8>(), 0..300),
        // SSE-shaped bytes: field names, separators and JSON fragments in random order.
        prop::collection::vec(
            select(
                &[
                    "data: ",
                    "data:",
                    "event: ",
                    ": c",
                    "\n",
                    "\r\n",
                    "\n\n",
                    "\r\n\r\n",
                    "\r",
                    "{",
                    "}",
                    "[DONE]",
                    "\"choices\":",
                    "[",
                    "]",
                    "\"usage\":",
                    "{\"a\":1}",
                    "é",
                    "\u{1F600}",
                    "\"",
                    ",",
                    "null",
                ][..]
            ),
            0..40,
        )
        .prop_map(|p| p.concat().into_bytes()),
        // Bytes of a valid stream with random damage.
        (
            openai_stream(),
            prop::collection::vec((any::<Index>(), any::<u8>()), 1..4)
        )
            .prop_map(|(s, edits)| {
                let mut b = s.bytes;
                for (at, byte) in edits {
                    let i = at.index(b.len());
                    b[i] = byte;
                }
                b
            }),
    ]
    .boxed()
}

/// A valid OpenAI `chat.completion.chunk` stream and what its assembled answer must hold.
#[derive(Debug, Clone)]
struct OpenAiStream {
    bytes: Vec<u8>,
    /// The bytes without the usage chunk's event (what a client that did not ask for usage gets).
    without_usage: Vec<u8>,
    content: String,
    tool_arguments: Vec<String>,
    finish_reason: String,
    total_tokens: Option<u64>,
}

fn openai_stream() -> BoxedStrategy<OpenAiStream> {
    let piece = prop_oneof![
        3 => text(),
        1 => "[\u{e9}\u{4e2d}\u{1F600}\r\n]{1,4}",
    ];
    (
        id(),
        prop::collection::vec(piece, 0..8),
        prop::collection::vec((id(), prop::collection::vec(json_arguments(), 0..3)), 0..3),
        select(&["stop", "length", "tool_calls", "content_filter"][..]),
        prop::option::of((0u64..1_000_000, 0u64..1_000_000)),
        prop::collection::vec(any::<bool>(), 16),
        any::<bool>(),
    )
        .prop_map(|(id, deltas, calls, finish, usage, crlf, comment)| {
            let head = json!({"id": id, "object": "chat.completion.chunk", "created": 1, "model": "m"});
            let chunk = |choices: Value, usage: Option<Value>| {
                let mut c = head.clone();
                c["choices"] = choices;
                if let Some(u) = usage {
                    c["usage"] = u;
                }
                c.to_string()
            };
            let mut events = vec![chunk(
                json!([{"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": null}]),
                None,
            )];
            for d in &deltas {
                events.push(chunk(
                    json!([{"index": 0, "delta": {"content": d}, "finish_reason": null}]),
                    None,
                ));
            }
            let mut tool_arguments = Vec::new();
            for (i, (call_id, args)) in calls.iter().enumerate() {
                events.push(chunk(
                    json!([{"index": 0, "delta": {"tool_calls": [{"index": i, "id": call_id, "type": "function",
                        "function": {"name": "f", "arguments": ""}}]}, "finish_reason": null}]),
                    None,
                ));
                for a in args {
                    events.push(chunk(
                        json!([{"index": 0, "delta": {"tool_calls": [{"index": i, "function": {"arguments": a}}]}, "finish_reason": null}]),
                        None,
                    ));
                }
                tool_arguments.push(args.concat());
            }
            events.push(chunk(
                json!([{"index": 0, "delta": {}, "finish_reason": finish}]),
                None,
            ));
            let usage_event = usage.map(|(p, c)| {
                chunk(
                    json!([]),
                    Some(json!({"prompt_tokens": p, "completion_tokens": c, "total_tokens": p + c})),
                )
            });
            let mut bytes = String::new();
            let mut without_usage = String::new();
            if comment {
                bytes.push_str(": OPENROUTER PROCESSING\n\n");
                without_usage.push_str(": OPENROUTER PROCESSING\n\n");
            }
            let sep = |i: usize| if crlf[i % crlf.len()] { "\r\n\r\n" } else { "\n\n" };
            let n = events.len();
            for (i, e) in events.iter().enumerate() {
                let event = format!("data: {e}{}", sep(i));
                bytes.push_str(&event);
                without_usage.push_str(&event);
            }
            if let Some(u) = &usage_event {
                bytes.push_str(&format!("data: {u}{}", sep(n)));
            }
            let done = format!("data: [DONE]{}", sep(n + 1));
            bytes.push_str(&done);
            without_usage.push_str(&done);
            OpenAiStream {
                bytes: bytes.into_bytes(),
                without_usage: without_usage.into_bytes(),
                content: deltas.concat(),
                tool_arguments,
                finish_reason: finish.to_string(),
                total_tokens: usage.map(|(p, c)| p + c),
            }
        })
        .boxed()
}

/// Everything a tap does with a stream fed in `pieces`: the bytes forwarded and the answer.
fn tap_all(include_usage: bool, pieces: &[&[u8]]) -> (Vec<u8>, Option<Value>) {
    let mut tap = StreamTap::new(include_usage);
    let mut sent = Vec::new();
    for p in pieces {
        sent.extend(tap.feed(p));
    }
    let (rest, answer) = tap.finish();
    sent.extend(rest);
    (sent, answer)
}

fn translate_all(pieces: &[&[u8]]) -> Vec<u8> {
    let mut t = SseTranslator::new(1_700_000_000);
    let mut out = Vec::new();
    for p in pieces {
        out.extend(t.feed(p));
    }
    out.extend(t.finish());
    out
}

/// Anthropic content blocks of an answer: text, tool use or thinking.
fn anthropic_block() -> BoxedStrategy<Value> {
    prop_oneof![
        3 => text().prop_map(|t| json!({"type": "text", "text": t})),
        2 => (id(), id(), arb_object()).prop_map(|(id, name, input)| json!({"type": "tool_use", "id": id, "name": name, "input": input})),
        1 => text().prop_map(|t| json!({"type": "thinking", "thinking": t, "signature": "s"})),
    ]
    .boxed()
}

const STOP_REASONS: &[&str] = &[
    "end_turn",
    "max_tokens",
    "stop_sequence",
    "tool_use",
    "refusal",
    "pause_turn",
    "model_context_window_exceeded",
];

fn expected_finish(stop: &str) -> &'static str {
    match stop {
        "max_tokens" | "model_context_window_exceeded" => "length",
        "tool_use" => "tool_calls",
        "refusal" => "content_filter",
        _ => "stop",
    }
}

/// A valid Anthropic streamed answer: its SSE bytes, the text and tool arguments it carries, its
/// stop reason and token counts.
#[derive(Debug, Clone)]
struct AnthropicStream {
    bytes: Vec<u8>,
    text: String,
    tool_arguments: Vec<String>,
    stop: String,
    prompt_tokens: u64,
    completion_tokens: u64,
}

#[derive(Debug, Clone)]
enum StreamBlock {
    Text(Vec<String>),
    Tool(String, Vec<String>),
}

fn anthropic_stream() -> BoxedStrategy<AnthropicStream> {
    let block = prop_oneof![
        3 => prop::collection::vec(text(), 0..5).prop_map(StreamBlock::Text),
        1 => (id(), prop::collection::vec("[{}\":a-z0-9, ]{0,8}", 0..4)).prop_map(|(id, parts)| StreamBlock::Tool(id, parts)),
    ];
    (
        id(),
        prop::collection::vec(block, 0..4),
        select(STOP_REASONS),
        0u64..1_000_000,
        0u64..1_000_000,
        prop::collection::vec(any::<bool>(), 8),
        prop::collection::vec(any::<bool>(), 8),
    )
        .prop_map(|(id, blocks, stop, input, output, crlf, named)| {
            let mut events = vec![json!({"type": "message_start", "message": {"id": id, "type": "message", "role": "assistant",
                "model": "claude-3-haiku-20240307", "content": [], "usage": {"input_tokens": input, "output_tokens": 1}}})];
            let (mut text, mut tool_arguments) = (String::new(), Vec::new());
            for (i, b) in blocks.iter().enumerate() {
                match b {
                    StreamBlock::Text(parts) => {
                        events.push(json!({"type": "content_block_start", "index": i, "content_block": {"type": "text", "text": ""}}));
                        for p in parts {
                            events.push(json!({"type": "content_block_delta", "index": i, "delta": {"type": "text_delta", "text": p}}));
                            text.push_str(p);
                        }
                    }
                    StreamBlock::Tool(tool_id, parts) => {
                        events.push(json!({"type": "content_block_start", "index": i, "content_block": {"type": "tool_use", "id": tool_id, "name": "f", "input": {}}}));
                        for p in parts {
                            events.push(json!({"type": "content_block_delta", "index": i, "delta": {"type": "input_json_delta", "partial_json": p}}));
                        }
                        tool_arguments.push(parts.concat());
                    }
                }
                events.push(json!({"type": "ping"}));
                events.push(json!({"type": "content_block_stop", "index": i}));
            }
            events.push(json!({"type": "message_delta", "delta": {"stop_reason": stop, "stop_sequence": null}, "usage": {"output_tokens": output}}));
            events.push(json!({"type": "message_stop"}));
            let mut bytes = String::new();
            for (i, e) in events.iter().enumerate() {
                let nl = if crlf[i % crlf.len()] { "\r\n" } else { "\n" };
                if named[i % named.len()] {
                    bytes.push_str(&format!("event: {}{nl}", e["type"].as_str().unwrap_or_default()));
                }
                bytes.push_str(&format!("data: {e}{nl}{nl}"));
            }
            AnthropicStream {
                bytes: bytes.into_bytes(),
                text,
                tool_arguments,
                stop: stop.to_string(),
                prompt_tokens: input,
                completion_tokens: output,
            }
        })
        .boxed()
}

/// Anthropic stream events, valid or near it: the types the translator reads with random fields.
fn anthropic_event() -> BoxedStrategy<Value> {
    let typed = (
        select(
            &[
                "message_start",
                "content_block_start",
                "content_block_delta",
                "content_block_stop",
                "message_delta",
                "message_stop",
                "ping",
                "error",
            ][..],
        ),
        arb_object(),
    )
        .prop_map(|(t, mut o)| {
            o.insert("type".into(), json!(t));
            Value::Object(o)
        });
    let delta = (any::<u64>(), select(&["text_delta", "input_json_delta", "other"][..]), arb_json()).prop_map(
        |(index, t, v)| json!({"type": "content_block_delta", "index": index, "delta": {"type": t, "text": v, "partial_json": v}}),
    );
    let usage = (any::<u64>(), any::<u64>(), any::<u64>(), any::<u64>()).prop_map(|(a, b, c, d)| {
        json!({"type": "message_delta", "delta": {"stop_reason": "end_turn"},
               "usage": {"input_tokens": a, "output_tokens": b, "cache_read_input_tokens": c, "cache_creation_input_tokens": d}})
    });
    prop_oneof![
        2 => typed,
        1 => delta,
        1 => usage,
        1 => (id(), any::<u64>()).prop_map(|(id, index)| json!({"type": "content_block_start", "index": index, "content_block": {"type": "tool_use", "id": id, "name": id}})),
        1 => arb_json(),
    ]
    .boxed()
}

// ---------------------------------------------------------------------------------------------
// 1. Request parsing and validation.

/// Whatever a client sends as a body, parsing answers Ok or a 4xx in OpenAI's format, never a
/// panic (a 500 and a dead isolate).
#[test]
fn request_parsing_never_panics_on_bytes() {
    let input = prop_oneof![
        prop::collection::vec(any::<u8>(), 0..400),
        // Valid JSON text with bytes changed, removed or cut off.
        (chat_body(), any::<Index>(), any::<u8>(), 0u8..3).prop_map(|(b, at, byte, op)| {
            let mut bytes = b.to_string().into_bytes();
            let i = at.index(bytes.len());
            match op {
                0 => bytes[i] = byte,
                1 => {
                    bytes.remove(i);
                }
                _ => bytes.truncate(i),
            }
            bytes
        }),
        // Nesting deeper than any parser recursion limit.
        (
            1usize..3000,
            select(&["[", "{\"a\":", "{\"messages\":["][..])
        )
            .prop_map(|(n, open)| open.repeat(n).into_bytes()),
    ];
    check(
        "request_parsing_never_panics_on_bytes",
        6000,
        (endpoint(), input),
        |(endpoint, bytes)| {
            if let Err(e) = request::parse(endpoint, &bytes) {
                client_error(&e)?;
            }
            Ok(())
        },
    );
}

/// Any JSON value as a body, and valid bodies with random fields added, removed or retyped:
/// parsing never panics, and refuses only with a 4xx.
#[test]
fn request_parsing_never_panics_on_json() {
    let input = endpoint().prop_flat_map(|e| {
        let body = prop_oneof![
            1 => arb_json(),
            1 => arb_object().prop_map(Value::Object),
            4 => damaged_body(e),
        ];
        (Just(e), body)
    });
    check(
        "request_parsing_never_panics_on_json",
        4000,
        input,
        |(endpoint, body)| {
            match request::parse(endpoint, body.to_string().as_bytes()) {
                Ok(req) => {
                    prop_assert_eq!(req.endpoint, endpoint);
                    prop_assert!(!req.model.trim().is_empty());
                }
                Err(e) => client_error(&e)?,
            }
            Ok(())
        },
    );
}

/// The generators above make bodies the parser accepts (so the damaged ones start from valid
/// requests, and the key properties below test real requests).
#[test]
fn request_parsing_accepts_valid_bodies() {
    let input = endpoint().prop_flat_map(|e| (Just(e), valid_body(e)));
    check(
        "request_parsing_accepts_valid_bodies",
        3000,
        input,
        |(endpoint, body)| {
            let parsed = request::parse(endpoint, body.to_string().as_bytes());
            prop_assert!(parsed.is_ok(), "{:?} refused: {:?}", body, parsed.err());
            Ok(())
        },
    );
}

// ---------------------------------------------------------------------------------------------
// 2. Canonical keys.

/// The same request spelled differently (key order at every level, whitespace, `\u` escapes)
/// has the same exact-cache key: otherwise two SDKs asking the same thing never share a hit.
#[test]
fn cache_key_ignores_spelling() {
    let input = endpoint().prop_flat_map(|e| {
        (
            Just(e),
            valid_body(e),
            any::<u64>(),
            "[a-z0-9-]{1,36}",
            prop::option::of("[ -~]{1,20}"),
        )
    });
    check(
        "cache_key_ignores_spelling",
        3000,
        input,
        |(endpoint, body, seed, project, ns)| {
            let compact = body.to_string();
            let respelled = respell(&body, &mut SplitMix(seed));
            let a = request::parse(endpoint, compact.as_bytes())
                .map_err(|e| TestCaseError::fail(format!("{e:?}")))?;
            let b = request::parse(endpoint, respelled.as_bytes())
                .map_err(|e| TestCaseError::fail(format!("{e:?} for {respelled:?}")))?;
            prop_assert_eq!(
                entry_hash(&project, ns.as_deref(), &a),
                entry_hash(&project, ns.as_deref(), &b),
                "{} / {}",
                compact,
                respelled
            );
            Ok(())
        },
    );
}

/// One character more, less or different in any message is another request with another key: an
/// exact hit must be the same prompt, byte for byte.
#[test]
fn cache_key_sees_every_character() {
    let input = (
        chat_body(),
        any::<Index>(),
        any::<Index>(),
        any::<char>(),
        0u8..3,
    );
    check(
        "cache_key_sees_every_character",
        3000,
        input,
        |(body, which, at, c, op)| {
            let original = request::parse(Endpoint::ChatCompletions, body.to_string().as_bytes())
                .map_err(|e| TestCaseError::fail(format!("{e:?}")))?;
            let mut changed = body.clone();
            let messages = changed["messages"].as_array_mut().unwrap();
            let with_text: Vec<usize> = (0..messages.len())
                .filter(|&i| messages[i]["content"].is_string())
                .collect();
            let i = with_text[which.index(with_text.len())];
            let mut chars: Vec<char> = messages[i]["content"].as_str().unwrap().chars().collect();
            match op {
                0 if !chars.is_empty() => {
                    let at = at.index(chars.len());
                    if chars[at] == c {
                        chars.insert(at, c);
                    } else {
                        chars[at] = c;
                    }
                }
                1 if !chars.is_empty() => {
                    chars.remove(at.index(chars.len()));
                }
                _ => chars.insert(at.index(chars.len() + 1), c),
            }
            messages[i]["content"] = Value::String(chars.into_iter().collect());
            let changed = request::parse(Endpoint::ChatCompletions, changed.to_string().as_bytes())
                .map_err(|e| TestCaseError::fail(format!("{e:?}")))?;
            prop_assert_ne!(
                entry_hash("p", None, &original),
                entry_hash("p", None, &changed)
            );
            Ok(())
        },
    );
}

/// The same request in two projects or two namespaces never shares a key: a hit must never cross
/// tenants or the partitions a project asked for.
#[test]
fn cache_key_separates_projects_and_namespaces() {
    let ns = || prop::option::of("[ -~]{1,20}");
    let input = (
        chat_body(),
        "[a-z0-9-]{1,36}",
        "[a-z0-9-]{1,36}",
        ns(),
        ns(),
    );
    check(
        "cache_key_separates_projects_and_namespaces",
        3000,
        input,
        |(body, p1, p2, n1, n2)| {
            let req = request::parse(Endpoint::ChatCompletions, body.to_string().as_bytes())
                .map_err(|e| TestCaseError::fail(format!("{e:?}")))?;
            let key = |p: &str, n: &Option<String>| entry_hash(p, n.as_deref(), &req);
            prop_assert_eq!(key(&p1, &n1) == key(&p2, &n2), p1 == p2 && n1 == n2);
            prop_assert_ne!(key(&p1, &None), key(&p1, &Some(p1.clone())));
            Ok(())
        },
    );
}

// ---------------------------------------------------------------------------------------------
// 3. Normalisation.

/// Normalising never panics on any text and is a fixed point: the normalised text normalises to
/// itself and compares the same as the prompt it came from. The hosted embedder is sent the
/// normalised text, and a retyping that reads as the normalised form must fold to the same
/// question.
#[test]
fn normalisation_is_idempotent() {
    check("normalisation_is_idempotent", 20_000, text(), |prompt| {
        let once = normalize(&prompt);
        let text = once.text();
        prop_assert_eq!(normalize_prompt(&prompt), text.clone());
        let twice = normalize(&text);
        prop_assert_eq!(&twice.text(), &text, "normalising {:?}", prompt);
        prop_assert_eq!(
            twice.compared_form(),
            once.compared_form(),
            "{:?} normalises to {:?}",
            prompt,
            text
        );
        Ok(())
    });
}

// ---------------------------------------------------------------------------------------------
// 4. Anthropic translation.

/// Any chat request the parser accepts, valid or damaged, translates to Anthropic's format or is
/// refused with a 4xx: never a panic. So is any JSON object given as a body.
#[test]
fn anthropic_request_translation_never_panics() {
    let input = prop_oneof![
        2 => chat_body(),
        3 => damaged_body(Endpoint::ChatCompletions),
        1 => arb_object().prop_map(Value::Object),
    ];
    check(
        "anthropic_request_translation_never_panics",
        4000,
        input,
        |body| {
            let direct = anthropic::to_messages_request(
                body.as_object().unwrap(),
                "claude-3-haiku-20240307",
            );
            if let Err(e) = &direct {
                client_error(e)?;
            }
            if let Ok(req) = request::parse(Endpoint::ChatCompletions, body.to_string().as_bytes())
            {
                match anthropic::to_messages_request(&req.body, "claude-3-haiku-20240307") {
                    Ok(out) => {
                        prop_assert!(out["max_tokens"].as_u64().is_some_and(|n| n >= 1));
                        prop_assert!(out["messages"].as_array().is_some_and(|m| !m.is_empty()));
                    }
                    Err(e) => client_error(&e)?,
                }
            }
            Ok(())
        },
    );
}

/// Whatever Anthropic (or something in between) answers, the translation gives a chat.completion
/// without panicking, with token totals that add up.
#[test]
fn anthropic_answer_translation_never_panics() {
    let damaged_answer = (
        prop::collection::vec(anthropic_block(), 0..4),
        any::<u64>(),
        any::<u64>(),
        any::<u64>(),
        prop::collection::vec(damage(), 0..3),
    )
        .prop_map(|(content, a, b, c, damages)| {
            let mut v = json!({"id": "msg_1", "type": "message", "model": "claude", "content": content,
                "stop_reason": "end_turn", "usage": {"input_tokens": a, "output_tokens": b, "cache_read_input_tokens": c}});
            for d in &damages {
                apply(&mut v, d);
            }
            v
        });
    let input = prop_oneof![arb_json(), damaged_answer];
    check(
        "anthropic_answer_translation_never_panics",
        4000,
        input,
        |answer| {
            let out = anthropic::to_chat_completion(&answer, 1_700_000_000);
            prop_assert_eq!(&out["object"], "chat.completion");
            let u = &out["usage"];
            let (p, c, t) = (
                u["prompt_tokens"].as_u64(),
                u["completion_tokens"].as_u64(),
                u["total_tokens"].as_u64(),
            );
            prop_assert!(p.is_some() && c.is_some() && t.is_some());
            prop_assert!(t >= p && t >= c, "usage {}", u);
            Ok(())
        },
    );
}

/// A valid Anthropic answer becomes a chat.completion whose content is its text blocks joined,
/// with one tool call per tool_use block, the matching finish reason and the token counts.
#[test]
fn anthropic_answers_translate_faithfully() {
    let input = (
        id(),
        prop::collection::vec(anthropic_block(), 0..5),
        select(STOP_REASONS),
        (
            0u64..1_000_000,
            0u64..1_000_000,
            0u64..1_000_000,
            0u64..1_000_000,
        ),
    );
    check(
        "anthropic_answers_translate_faithfully",
        3000,
        input,
        |(id, blocks, stop, (i, o, r, w))| {
            let answer = json!({"id": id, "type": "message", "role": "assistant", "model": "claude-3-haiku-20240307",
            "content": blocks, "stop_reason": stop, "stop_sequence": null,
            "usage": {"input_tokens": i, "output_tokens": o, "cache_read_input_tokens": r, "cache_creation_input_tokens": w}});
            let out = anthropic::to_chat_completion(&answer, 7);
            let text: String = blocks
                .iter()
                .filter(|b| b["type"] == "text")
                .map(|b| b["text"].as_str().unwrap())
                .collect();
            let tools: Vec<&Value> = blocks.iter().filter(|b| b["type"] == "tool_use").collect();
            let message = &out["choices"][0]["message"];
            if text.is_empty() && !tools.is_empty() {
                prop_assert_eq!(&message["content"], &Value::Null);
            } else {
                prop_assert_eq!(&message["content"], &json!(text));
            }
            let calls = message["tool_calls"].as_array().map_or(0, Vec::len);
            prop_assert_eq!(calls, tools.len());
            for (call, block) in message["tool_calls"]
                .as_array()
                .into_iter()
                .flatten()
                .zip(&tools)
            {
                prop_assert_eq!(&call["id"], &block["id"]);
                let args: Value =
                    serde_json::from_str(call["function"]["arguments"].as_str().unwrap()).unwrap();
                prop_assert!(
                    same_json(&args, &block["input"]),
                    "{} / {}",
                    args,
                    block["input"]
                );
            }
            prop_assert_eq!(&out["choices"][0]["finish_reason"], expected_finish(stop));
            prop_assert_eq!(&out["id"], &json!(format!("chatcmpl-{id}")));
            prop_assert_eq!(
                &out["usage"],
                &json!({"prompt_tokens": i + r + w, "completion_tokens": o, "total_tokens": i + r + w + o})
            );
            prop_assert!(cache_entry::is_cacheable_answer(&out));
            Ok(())
        },
    );
}

/// Any sequence of stream events, valid or not, translates without panicking, and nothing comes
/// out after the stream has ended.
#[test]
fn anthropic_stream_events_never_panic() {
    let input = prop::collection::vec(anthropic_event(), 0..12);
    check(
        "anthropic_stream_events_never_panic",
        4000,
        input,
        |events| {
            let mut t = StreamTranslator::new(1_700_000_000);
            let mut ended = false;
            for e in &events {
                let out = t.event(e);
                prop_assert!(!ended || out.is_empty(), "output after the end: {:?}", out);
                for payload in &out {
                    if payload != "[DONE]" {
                        let chunk: Value = serde_json::from_str(payload)
                            .map_err(|e| TestCaseError::fail(e.to_string()))?;
                        if let Some(u) = chunk.get("usage") {
                            let total = u["total_tokens"].as_u64().unwrap_or(0);
                            prop_assert!(
                                total >= u["prompt_tokens"].as_u64().unwrap_or(0),
                                "usage {}",
                                u
                            );
                        }
                    }
                }
                ended |= out.last().is_some_and(|p| p == "[DONE]")
                    || out.iter().any(|p| p.starts_with("{\"error\""));
            }
            Ok(())
        },
    );
}

/// The byte-level decoder takes any bytes, in any pieces, without panicking.
#[test]
fn anthropic_stream_bytes_never_panic() {
    check(
        "anthropic_stream_bytes_never_panic",
        3000,
        (arb_bytes(), split()),
        |(bytes, s)| {
            let cuts = cut_points(&bytes, s.mode, &s.random);
            let out = translate_all(&pieces(&bytes, &cuts));
            prop_assert!(String::from_utf8(out).is_ok());
            Ok(())
        },
    );
}

/// A valid Anthropic stream gives the same OpenAI bytes however it is cut (inside a character,
/// between `\r` and `\n`, byte by byte), and those bytes assemble to the streamed text, tool
/// arguments, finish reason and usage.
#[test]
fn anthropic_streams_translate_in_any_split() {
    check(
        "anthropic_streams_translate_in_any_split",
        1500,
        (anthropic_stream(), split()),
        |(stream, s)| {
            let whole = translate_all(&[&stream.bytes]);
            let cuts = cut_points(&stream.bytes, s.mode, &s.random);
            let split = translate_all(&pieces(&stream.bytes, &cuts));
            prop_assert_eq!(&split, &whole);
            let (_, answer) = tap_all(true, &[&whole]);
            let answer = answer.ok_or_else(|| TestCaseError::fail("not assembled"))?;
            let message = &answer["choices"][0]["message"];
            let content = message["content"].as_str().unwrap_or_default();
            prop_assert_eq!(content, stream.text.as_str());
            let args: Vec<&str> = message["tool_calls"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|c| c["function"]["arguments"].as_str().unwrap_or_default())
                .collect();
            prop_assert_eq!(
                args,
                stream
                    .tool_arguments
                    .iter()
                    .map(String::as_str)
                    .collect::<Vec<_>>()
            );
            prop_assert_eq!(
                &answer["choices"][0]["finish_reason"],
                expected_finish(&stream.stop)
            );
            prop_assert_eq!(
                &answer["usage"],
                &json!({"prompt_tokens": stream.prompt_tokens, "completion_tokens": stream.completion_tokens,
                    "total_tokens": stream.prompt_tokens + stream.completion_tokens})
            );
            Ok(())
        },
    );
}

// ---------------------------------------------------------------------------------------------
// 5. Server-sent events.

/// The SSE parser never panics, and gives the same events whatever pieces the bytes come in, even
/// for bytes that are not a valid stream.
#[test]
fn sse_parser_is_split_invariant_on_any_bytes() {
    check(
        "sse_parser_is_split_invariant_on_any_bytes",
        4000,
        (arb_bytes(), split()),
        |(bytes, s)| {
            let events = |pieces: &[&[u8]]| {
                let mut p = SseParser::new();
                let mut out: Vec<_> = pieces.iter().flat_map(|piece| p.feed(piece)).collect();
                out.extend(p.finish());
                out
            };
            let cuts = cut_points(&bytes, s.mode, &s.random);
            prop_assert_eq!(events(&pieces(&bytes, &cuts)), events(&[&bytes]));
            Ok(())
        },
    );
}

/// The stream tap never panics on any bytes, forwards the same bytes and assembles the same
/// answer in any split, and never assembles an answer from a stream without `[DONE]`.
#[test]
fn stream_tap_never_panics_on_any_bytes() {
    let input = (arb_bytes(), split(), any::<bool>());
    check(
        "stream_tap_never_panics_on_any_bytes",
        4000,
        input,
        |(bytes, s, include_usage)| {
            let cuts = cut_points(&bytes, s.mode, &s.random);
            let whole = tap_all(include_usage, &[&bytes]);
            prop_assert_eq!(&tap_all(include_usage, &pieces(&bytes, &cuts)), &whole);
            if !String::from_utf8_lossy(&bytes).contains("[DONE]") {
                prop_assert!(whole.1.is_none());
            }
            Ok(())
        },
    );
}

/// A valid OpenAI stream, cut anywhere (inside a UTF-8 character, between `\r` and `\n`, byte by
/// byte), is forwarded byte for byte (less the usage chunk the client did not ask for) and
/// assembles to its content, tool calls, finish reason and usage.
#[test]
fn openai_streams_assemble_in_any_split() {
    let input = (openai_stream(), split(), any::<bool>());
    check(
        "openai_streams_assemble_in_any_split",
        2000,
        input,
        |(stream, s, include_usage)| {
            let cuts = cut_points(&stream.bytes, s.mode, &s.random);
            let whole = tap_all(include_usage, &[&stream.bytes]);
            let split = tap_all(include_usage, &pieces(&stream.bytes, &cuts));
            prop_assert_eq!(&split, &whole);
            let (sent, answer) = whole;
            let expected_bytes = if include_usage {
                &stream.bytes
            } else {
                &stream.without_usage
            };
            prop_assert_eq!(&sent, expected_bytes);
            let answer = answer.ok_or_else(|| TestCaseError::fail("not assembled"))?;
            let message = &answer["choices"][0]["message"];
            prop_assert_eq!(
                message["content"].as_str().unwrap_or_default(),
                stream.content.as_str()
            );
            let args: Vec<&str> = message["tool_calls"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|c| c["function"]["arguments"].as_str().unwrap_or_default())
                .collect();
            prop_assert_eq!(
                args,
                stream
                    .tool_arguments
                    .iter()
                    .map(String::as_str)
                    .collect::<Vec<_>>()
            );
            prop_assert_eq!(
                &answer["choices"][0]["finish_reason"],
                stream.finish_reason.as_str()
            );
            prop_assert_eq!(
                answer["usage"]["total_tokens"].as_u64(),
                stream.total_tokens
            );
            // What the cache stores replays as a stream that assembles to the same answer.
            let replayed = sse::replay(&answer, true).concat();
            let (_, again) = tap_all(true, &[replayed.as_bytes()]);
            prop_assert_eq!(
                again.as_ref().map(|a| &a["choices"]),
                Some(&answer["choices"])
            );
            Ok(())
        },
    );
}

/// The assembler and the replayer take any JSON (a corrupt cache entry, a provider's odd chunk)
/// without panicking.
#[test]
fn assembler_and_replay_never_panic() {
    let input = (
        prop::collection::vec(arb_json(), 0..6),
        arb_json(),
        any::<bool>(),
    );
    check(
        "assembler_and_replay_never_panic",
        3000,
        input,
        |(chunks, answer, include_usage)| {
            let mut a = StreamAssembler::new();
            for c in &chunks {
                a.push(c);
            }
            let _ = a.finish();
            let events = sse::replay(&answer, include_usage);
            prop_assert_eq!(events.last().map(String::as_str), Some("data: [DONE]\n\n"));
            let _ = cache_entry::is_cacheable_answer(&answer);
            Ok(())
        },
    );
}

// ---------------------------------------------------------------------------------------------
// 6. Headers, stored entries and records.

/// Any Authorization header is accepted as a well-formed key or refused with a 401, never a
/// panic; well-formed keys are always accepted.
#[test]
fn api_key_parsing_never_panics() {
    let header = prop_oneof![
        prop::option::of(any::<String>()),
        (
            "(Bearer |bearer |Basic |)",
            "(lgw_proj_|lgw_test_|lgw_|)",
            "[a-zA-Z0-9]{0,140}",
            "[ \t]{0,2}"
        )
            .prop_map(|(s, p, k, w)| Some(format!("{w}{s}{p}{k}{w}"))),
        ("(lgw_proj_|lgw_test_)", "\\PC{10,20}").prop_map(|(p, k)| Some(format!("Bearer {p}{k}"))),
    ];
    check("api_key_parsing_never_panics", 6000, header, |header| {
        match api_key::from_authorization(header.as_deref()) {
            Ok(key) => {
                prop_assert_eq!(key.hash.len(), 64);
                prop_assert!(key.prefix.starts_with("lgw_"));
            }
            Err(e) => prop_assert_eq!(e.status, 401),
        }
        Ok(())
    });
    let valid = (
        "(Bearer |bearer )",
        "(lgw_proj_|lgw_test_)",
        "[a-zA-Z0-9]{16,128}",
    );
    check(
        "api_key_accepts_well_formed_keys",
        2000,
        valid,
        |(s, p, k)| {
            let header = format!("{s}{p}{k}");
            prop_assert!(
                api_key::from_authorization(Some(&header)).is_ok(),
                "{:?}",
                header
            );
            Ok(())
        },
    );
}

/// Any values in the cache-control headers give controls within the project's bounds or a 400
/// naming the header, never a panic.
#[test]
fn cache_controls_never_panic() {
    let value = prop_oneof![
        any::<String>(),
        prop::collection::vec(
            (
                select(
                    &[
                        "no-store",
                        "no-cache",
                        "max-age",
                        "s-maxage",
                        "stale-if-error",
                        "private",
                        "MAX-AGE",
                        ""
                    ][..]
                ),
                prop::option::of(prop_oneof![
                    "[0-9]{1,25}",
                    "\"[0-9]{0,5}\"",
                    "-?[0-9.e]{0,6}",
                    "\\PC{0,4}"
                ]),
            ),
            0..4,
        )
        .prop_map(|ds| {
            ds.into_iter()
                .map(|(d, v)| v.map_or(d.to_string(), |v| format!("{d}={v}")))
                .collect::<Vec<_>>()
                .join(", ")
        }),
        "(0|1|0\\.[0-9]{1,3}|1\\.0|NaN|inf|-0|1e-3| 0.5 )",
        "(true|false|yes|1|TRUE| )",
        "[ -~]{0,140}",
    ];
    let names = select(
        &[
            "cache-control",
            controls::BYPASS_HEADER,
            controls::REFRESH_HEADER,
            controls::THRESHOLD_HEADER,
            controls::TTL_HEADER,
            controls::NAMESPACE_HEADER,
        ][..],
    );
    let policy = (
        0.01f32..=1.0,
        prop::option::of(0.01f32..=1.0),
        any::<bool>(),
        any::<u64>(),
    )
        .prop_map(
            |(threshold, threshold_floor, require_namespace, max_ttl_secs)| CachePolicy {
                threshold,
                threshold_floor,
                require_namespace,
                max_ttl_secs,
            },
        );
    let input = (prop::collection::hash_map(names, value, 0..6), policy);
    check(
        "cache_controls_never_panic",
        6000,
        input,
        |(headers, policy): (HashMap<&str, String>, CachePolicy)| {
            match CacheControls::from_headers(|name| headers.get(name).cloned(), &policy) {
                Ok(c) => {
                    prop_assert!(c.threshold > 0.0 && c.threshold <= 1.0);
                    prop_assert!(c.ttl_secs.is_none_or(|t| t <= policy.max_ttl_secs));
                    prop_assert!(!policy.require_namespace || c.namespace.is_some());
                    let _ = c.response_headers();
                }
                Err(e) => prop_assert_eq!(e.status, 400),
            }
            Ok(())
        },
    );
}

/// Whatever a preflight asks, the answer's header values stay single-line header values (no
/// header injection through a reflected name or origin), and origin checks never panic.
#[test]
fn cors_never_panics_or_reflects_line_breaks() {
    let list = prop_oneof![
        any::<String>(),
        prop::collection::vec("[a-zA-Z0-9_\\-\r\n :,;!#$%&'*+^`|~é]{0,12}", 0..6)
            .prop_map(|v| v.join(",")),
    ];
    let input = (
        prop::option::of(any::<String>()),
        prop::option::of(list),
        prop::collection::vec("\\PC{0,24}", 0..3),
    );
    check(
        "cors_never_panics_or_reflects_line_breaks",
        6000,
        input,
        |(origin, asked, allowed)| {
            let headers = cors::preflight(origin.as_deref(), asked.as_deref());
            for (_, v) in headers
                .iter()
                .chain(&cors::response_headers(origin.as_deref()))
            {
                prop_assert!(
                    v.bytes().all(|b| b == b'\t' || (b' '..0x7f).contains(&b)),
                    "{:?}",
                    v
                );
            }
            let _ = cors::origin_allowed(&allowed, origin.as_deref());
            Ok(())
        },
    );
}

fn cache_entry() -> BoxedStrategy<CacheEntry> {
    (
        any::<u64>(),
        prop::option::of(any::<u64>()),
        "\\PC{0,12}",
        "\\PC{0,12}",
        (any::<u64>(), any::<u64>()),
        0.0f64..1000.0,
        arb_json(),
    )
        .prop_map(
            |(
                stored_at_ms,
                expires_at_ms,
                provider,
                model,
                (prompt_tokens, completion_tokens),
                cost_usd,
                answer,
            )| {
                CacheEntry {
                    stored_at_ms,
                    expires_at_ms,
                    provider,
                    model,
                    prompt_tokens,
                    completion_tokens,
                    cost_usd,
                    answer,
                }
            },
        )
        .boxed()
}

/// A stored entry reads back as itself, and anything else in its place (a corrupt or foreign
/// value) is a miss, never a panic.
#[test]
fn stored_entries_never_panic() {
    let damaged = (cache_entry(), any::<Index>(), 0u8..2).prop_map(|(e, at, op)| {
        let mut s = e.to_stored();
        let i = s
            .char_indices()
            .map(|(i, _)| i)
            .nth(at.index(s.chars().count()))
            .unwrap_or(0);
        if op == 0 {
            s.truncate(i);
        } else {
            s.insert(i, '|');
        }
        s
    });
    let input = (
        cache_entry(),
        prop_oneof![
            any::<String>(),
            damaged,
            arb_json().prop_map(|v| format!("1|2|{v}"))
        ],
    );
    check(
        "stored_entries_never_panic",
        3000,
        input,
        |(entry, junk)| {
            let back = CacheEntry::from_stored(&entry.to_stored());
            let answer = back.as_ref().map(|e| &e.answer);
            prop_assert!(
                answer.is_some_and(|a| same_json(a, &entry.answer)),
                "{:?}",
                answer
            );
            prop_assert_eq!(
                back.as_ref().map(|e| (e.stored_at_ms, e.expires_at_ms)),
                Some((entry.stored_at_ms, entry.expires_at_ms))
            );
            let _ = CacheEntry::from_stored(&junk);
            Ok(())
        },
    );
}

/// Redis replies of any shape, and semantic records of any text, decode or are refused without a
/// panic: Redis is shared state another version of the Worker may have written.
#[test]
fn redis_replies_never_panic() {
    let plan = |read: bool, quota: bool| LookupPlan {
        project_id: "p".into(),
        endpoint: "chat",
        entry_hash: "h".into(),
        read,
        lock: Some(("holder".into(), 1000)),
        fetch_per_bucket: 2,
        now_ms: 1,
        max_age_ms: None,
        rate: BudgetSync {
            key: "r".into(),
            report: 0,
            want: 1,
            limit: 10,
            ttl_secs: 60,
            need: true,
        },
        quota: quota.then(|| BudgetSync {
            key: "q".into(),
            report: 0,
            want: 1,
            limit: 10,
            ttl_secs: 60,
            need: true,
        }),
        bucket_suffixes: vec!["b".into()],
    };
    let record = prop_oneof![
        any::<String>(),
        (
            "[0-9a-f]{1,17}",
            "[0-9a-f]{1,17}",
            "[A-Za-z0-9+/]{0,12}",
            "[A-Za-z0-9+/]{0,12}",
            "[A-Za-z0-9+/]{0,360}"
        )
            .prop_map(|(a, b, c, d, e)| format!("{a}.{b}.{c}.{d}.{e}")),
    ];
    let reply = prop_oneof![
        arb_json(),
        (
            prop::collection::vec(
                prop_oneof![
                    (0i64..3).prop_map(Value::from),
                    any::<i64>().prop_map(Value::from)
                ],
                7..10
            ),
            prop::collection::vec(arb_json(), 0..6)
        )
            .prop_map(|(mut head, tail)| {
                head.extend(tail);
                Value::Array(head)
            }),
    ];
    let input = (reply, record, any::<bool>(), any::<bool>());
    check(
        "redis_replies_never_panic",
        4000,
        input,
        |(reply, record, read, quota)| {
            let plan = plan(read, quota);
            let _ = plan.decode(&reply);
            let _ = lookup_plan::bucket_candidates(&plan.keyspace(1), &reply);
            let _ = semantic::decode_record("k", &record);
            Ok(())
        },
    );
}

/// A provider's place in `Provider::ALL`.
fn slot(p: Provider) -> usize {
    Provider::ALL.iter().position(|q| *q == p).unwrap_or(0)
}

/// Any chat request the parser accepts gives a semantic query or none, never a panic, and so
/// does routing any model name; usage and cost of any answer are read without a panic.
#[test]
fn semantic_query_routing_and_usage_never_panic() {
    let input = (
        prop_oneof![chat_body(), damaged_body(Endpoint::ChatCompletions)],
        prop::option::of("[ -~]{1,20}"),
        any::<String>(),
        any::<[bool; 8]>(),
        arb_json(),
    );
    check(
        "semantic_query_routing_and_usage_never_panic",
        2000,
        input,
        |(body, ns, model, keys, usage)| {
            if let Ok(req) = request::parse(Endpoint::ChatCompletions, body.to_string().as_bytes())
            {
                let _ = semantic::query_for(&req, ns.as_deref());
                let _ = models::route(&req.model, |p| keys[slot(p)], |p| keys[4 + slot(p)]);
            }
            match models::route(&model, |p| keys[slot(p)], |p| keys[4 + slot(p)]) {
                Ok(route) => {
                    prop_assert!(!route.upstream_model.is_empty() || model.trim().is_empty());
                }
                Err(e) => client_error(&e)?,
            }
            let _ = Usage::from_json(&usage);
            let _ = models::answer_cost_usd(&model, &usage);
            let _ = CacheEntry::for_answer("openai", &model, json!({"usage": usage}), 0);
            Ok(())
        },
    );
}
