//! Fills one project's semantic cache with N synthetic entries, for scale tests and benchmarks:
//! prints Redis commands in RESP for `redis-cli --pipe` (exact entries with `SET ... EX`, bucket
//! fields with `HSET`, at most `MAX_BUCKET` per bucket as the Worker's trimming keeps them), and a
//! JSON summary with sample prompts on stderr.
//!
//! Usage: semantic-seed <project-id> <count> [model]

use std::collections::HashMap;
use std::io::{BufWriter, Write};
use watchllm_proxy::cache_entry::CacheEntry;
use watchllm_proxy::cache_key::request_hashes;
use watchllm_proxy::keys::Keyspace;
use watchllm_proxy::request::{parse, Endpoint};
use watchllm_proxy::semantic::{bucket_suffixes, encode_record, query_for, MAX_BUCKET};

const VERBS: [&str; 8] = [
    "Explain",
    "Summarise",
    "Describe",
    "Compare",
    "List the main facts about",
    "Give examples of",
    "Write a short note on",
    "What are the risks of",
];
const TOPICS: [&str; 25] = [
    "photosynthesis",
    "the French revolution",
    "quantum entanglement",
    "compound interest",
    "the immune system",
    "plate tectonics",
    "machine learning",
    "the stock market",
    "climate change",
    "black holes",
    "the Roman empire",
    "vaccines",
    "blockchains",
    "renewable energy",
    "the water cycle",
    "inflation",
    "neural networks",
    "volcanoes",
    "DNA replication",
    "supply chains",
    "jazz music",
    "the printing press",
    "ocean currents",
    "antibiotics",
    "electric cars",
];
const AUDIENCES: [&str; 6] = [
    "for a child",
    "for a student",
    "for an engineer",
    "in one paragraph",
    "with an analogy",
    "step by step",
];

/// The i-th synthetic prompt: unique for every i.
fn prompt(i: usize) -> String {
    format!(
        "{} {} {} (case {i})",
        VERBS[i % VERBS.len()],
        TOPICS[(i / VERBS.len()) % TOPICS.len()],
        AUDIENCES[(i / 200) % AUDIENCES.len()]
    )
}

fn resp(out: &mut impl Write, args: &[&str]) -> std::io::Result<()> {
    write!(out, "*{}\r\n", args.len())?;
    for a in args {
        write!(out, "${}\r\n{a}\r\n", a.len())?;
    }
    Ok(())
}

fn main() -> std::io::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let (Some(project), Some(count)) = (
        args.get(1),
        args.get(2).and_then(|c| c.parse::<usize>().ok()),
    ) else {
        eprintln!("usage: semantic-seed <project-id> <count> [model]");
        std::process::exit(2);
    };
    let model = args
        .get(3)
        .map(String::as_str)
        .unwrap_or("openai/gpt-4o-mini");
    let stdout = std::io::stdout();
    let mut out = BufWriter::new(stdout.lock());
    let mut bucket_sizes: HashMap<String, usize> = HashMap::new();
    let mut commands = 0usize;
    let mut buckets_per_lookup = 0usize;
    for i in 0..count {
        let text = prompt(i);
        let body =
            serde_json::json!({"model": model, "messages": [{"role": "user", "content": text}]})
                .to_string();
        let Ok(req) = parse(Endpoint::ChatCompletions, body.as_bytes()) else {
            continue;
        };
        let keyspace = Keyspace {
            project_id: project,
            generation: 0,
        };
        let hashes = request_hashes(project, None, &req, true);
        let key = keyspace.entry("chat", &hashes.entry);
        let Some(q) = query_for(&req, hashes.semantic_scope.as_deref()) else {
            continue;
        };
        let entry = CacheEntry {
            stored_at_ms: 0,
            expires_at_ms: None,
            provider: "openrouter".into(),
            model: model.into(),
            prompt_tokens: 12,
            completion_tokens: 20,
            cost_usd: 0.0000138,
            answer: serde_json::json!({"id": format!("chatcmpl-seed{i}"), "object": "chat.completion", "created": 0, "model": model,
                "choices": [{"index": 0, "message": {"role": "assistant", "content": format!("Seeded answer {i}"), "refusal": null}, "logprobs": null, "finish_reason": "stop"}],
                "usage": {"prompt_tokens": 12, "completion_tokens": 20, "total_tokens": 32}}),
        };
        resp(&mut out, &["SET", &key, &entry.to_stored(), "EX", "3600"])?;
        commands += 1;
        let record = encode_record(&q);
        let buckets: Vec<String> = bucket_suffixes(&q)
            .iter()
            .map(|s| keyspace.bucket(s))
            .collect();
        buckets_per_lookup = buckets.len();
        for bucket in buckets {
            let size = bucket_sizes.entry(bucket.clone()).or_default();
            if *size < MAX_BUCKET {
                *size += 1;
                resp(&mut out, &["HSET", &bucket, &hashes.entry, &record])?;
                commands += 1;
            }
        }
    }
    for bucket in bucket_sizes.keys() {
        resp(&mut out, &["EXPIRE", bucket, "3600"])?;
        commands += 1;
    }
    out.flush()?;
    let samples: Vec<String> = (0..5).map(prompt).collect();
    eprintln!(
        "{}",
        serde_json::json!({"entries": count, "buckets": bucket_sizes.len(), "commands": commands, "max_bucket": bucket_sizes.values().max(), "buckets_per_lookup": buckets_per_lookup, "bucket_cap": MAX_BUCKET, "samples": samples})
    );
    Ok(())
}
