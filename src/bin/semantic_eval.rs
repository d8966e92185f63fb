//! Measures the semantic cache's decision function on a labelled paraphrase dataset and prints
//! precision, recall and false-positive rate at the default threshold, a curve over thresholds, and
//! the cost of one lookup.
//!
//! The decision for a pair (a stored prompt, an incoming prompt) is exactly the Worker's: normalise,
//! embed, the pair must share an LSH bucket in some band, the guards must match, and the cosine must
//! reach the threshold.
//!
//! Usage: semantic-eval <file.tsv> [more.tsv ...]
//! Reads Quora Question Pairs / GLUE QQP (`id qid1 qid2 question1 question2 is_duplicate`) and MRPC
//! (`Quality #1 ID #2 ID #1 String #2 String`) TSV files.

use std::time::Instant;
use watchllm_proxy::embedding::cosine;
use watchllm_proxy::semantic::{
    band_signatures, decode_record, encode_record, similarity, text_query, SemanticQuery, BANDS,
    DEFAULT_THRESHOLD, MAX_BUCKET,
};

struct Pair {
    a: String,
    b: String,
    duplicate: bool,
}

fn load(path: &str) -> Vec<Pair> {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap_or_default().split('\t').collect();
    let (ia, ib, il) = if header.contains(&"is_duplicate") {
        (3, 4, 5)
    } else if header.first() == Some(&"Quality") {
        (3, 4, 0)
    } else {
        panic!("{path}: unknown format (expected QQP or MRPC TSV headers)")
    };
    lines
        .filter_map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            let label = f.get(il)?.trim();
            Some(Pair {
                a: f.get(ia)?.to_string(),
                b: f.get(ib)?.to_string(),
                duplicate: match label {
                    "1" => true,
                    "0" => false,
                    _ => return None,
                },
            })
        })
        .collect()
}

struct Scored {
    similarity: f32,
    same_bucket: bool,
    guards_match: bool,
    duplicate: bool,
}

fn query(text: &str) -> SemanticQuery {
    text_query(text, String::new())
}

fn score(p: &Pair) -> Scored {
    let (qa, qb) = (query(&p.a), query(&p.b));
    let (sa, sb) = (band_signatures(&qa.vector), band_signatures(&qb.vector));
    Scored {
        similarity: cosine(&qa.vector, &qb.vector),
        same_bucket: sa.iter().zip(&sb).any(|(x, y)| x == y),
        guards_match: qa.guard == qb.guard,
        duplicate: p.duplicate,
    }
}

fn report(name: &str, scored: &[Scored], decide: impl Fn(&Scored, f32) -> bool) {
    println!("\n  {name}");
    println!("    threshold  precision  recall  false-pos-rate  hits");
    for t in [
        0.80f32, 0.85, 0.90, 0.92, 0.94, 0.95, 0.96, 0.97, 0.98, 0.99,
    ] {
        let (mut tp, mut fp, mut fn_, mut tn) = (0u32, 0u32, 0u32, 0u32);
        for s in scored {
            match (decide(s, t), s.duplicate) {
                (true, true) => tp += 1,
                (true, false) => fp += 1,
                (false, true) => fn_ += 1,
                (false, false) => tn += 1,
            }
        }
        let precision = if tp + fp > 0 {
            tp as f64 / (tp + fp) as f64
        } else {
            f64::NAN
        };
        let recall = tp as f64 / (tp + fn_).max(1) as f64;
        let fpr = fp as f64 / (fp + tn).max(1) as f64;
        let mark = if (t - DEFAULT_THRESHOLD).abs() < 1e-6 {
            "  <- default"
        } else {
            ""
        };
        println!(
            "    {t:>9.2}  {precision:>9.4}  {recall:>6.4}  {fpr:>14.5}  {:>5}{mark}",
            tp + fp
        );
    }
}

fn main() {
    let paths: Vec<String> = std::env::args().skip(1).collect();
    if paths.is_empty() {
        eprintln!("usage: semantic-eval <pairs.tsv> [...]  (QQP or MRPC format)");
        std::process::exit(2);
    }
    for path in &paths {
        let pairs = load(path);
        let positives = pairs.iter().filter(|p| p.duplicate).count();
        println!(
            "\n{path}: {} pairs ({positives} duplicates, {} not)",
            pairs.len(),
            pairs.len() - positives
        );
        let scored: Vec<Scored> = pairs.iter().map(score).collect();
        report(
            "cache decision (shared LSH bucket + guards + cosine >= threshold)",
            &scored,
            |s, t| s.same_bucket && s.guards_match && s.similarity >= t,
        );
        report(
            "cosine + guards, without LSH (what LSH recall costs)",
            &scored,
            |s, t| s.guards_match && s.similarity >= t,
        );
        report("cosine alone (what the guards add)", &scored, |s, t| {
            s.similarity >= t
        });
    }

    // Cost of one lookup: build the query (normalise, embed, bucket signatures, guard) and compare
    // it with a full candidate set (BANDS buckets of MAX_BUCKET records, decoded from their stored form).
    let stored: Vec<String> = (0..BANDS * MAX_BUCKET)
        .map(|i| {
            encode_record(&query(&format!(
                "What are the best things to do in city number {i} this weekend?"
            )))
        })
        .collect();
    let prompts = [
        "What are the best things to do in Hong Kong this weekend?",
        "Please explain the theory of relativity in simple terms.",
        "How do I reset my router password?",
    ];
    let runs = 300;
    let t0 = Instant::now();
    let mut best = 0f32;
    for r in 0..runs {
        let q = query(prompts[r % prompts.len()]);
        let _ = band_signatures(&q.vector);
        for (i, rec) in stored.iter().enumerate() {
            let c = decode_record(&i.to_string(), rec).expect("valid record");
            best = best.max(similarity(&q.vector, &c));
        }
    }
    let per_lookup = t0.elapsed().as_secs_f64() * 1e6 / runs as f64;
    let t1 = Instant::now();
    for r in 0..runs * 10 {
        let q = query(prompts[r % prompts.len()]);
        std::hint::black_box(band_signatures(&q.vector));
    }
    let per_query = t1.elapsed().as_secs_f64() * 1e6 / (runs * 10) as f64;
    println!("\nnative: {per_query:.1} µs to build a query (normalise + embed + LSH + guard); {per_lookup:.1} µs per lookup against {} candidates (best {best:.3})", BANDS * MAX_BUCKET);
}
