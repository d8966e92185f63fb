//! Measures the cache's decision on labelled prompt pairs and prints precision, recall and
//! false-positive rate at the default threshold (per kind, for sets that name kinds), a curve
//! over thresholds, every wrong hit, and the cost of one lookup.
//!
//! The decision for a pair (a stored prompt, an incoming prompt) is exactly the Worker's: an exact
//! hit if the prompts are identical, else a semantic hit if the incoming prompt reads the stored
//! one's bucket and `semantic::decide` lets it through at the threshold.
//!
//! Usage: semantic-eval <file.tsv> [more.tsv ...]
//! Reads our sets (`kind label stored asked`), Quora Question Pairs / GLUE QQP
//! (`id qid1 qid2 question1 question2 is_duplicate`) and MRPC (`Quality #1 ID #2 ID #1 String
//! #2 String`) TSV files, with or without a UTF-8 byte-order mark.

#![expect(
    clippy::print_stdout,
    reason = "a command-line report: stdout is where it goes"
)]

use std::collections::BTreeMap;
use std::time::Instant;
use watchllm_proxy::embedding::cosine;
use watchllm_proxy::semantic::{
    bucket_keys, decide, decode_record, encode_record, text_query, SemanticQuery, BANDS,
    DEFAULT_THRESHOLD, MAX_BUCKET,
};

struct Pair {
    kind: String,
    a: String,
    b: String,
    duplicate: bool,
}

fn load(path: &str) -> Vec<Pair> {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| {
        eprintln!("{path}: {e}");
        std::process::exit(2)
    });
    let text = text.strip_prefix('\u{feff}').unwrap_or(&text);
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap_or_default().split('\t').collect();
    let (ik, ia, ib, il) = if header.first() == Some(&"kind") {
        (Some(0), 2, 3, 1)
    } else if header.contains(&"is_duplicate") {
        (None, 3, 4, 5)
    } else if header.first() == Some(&"Quality") {
        (None, 3, 4, 0)
    } else {
        eprintln!("{path}: unknown format (expected our `kind label stored asked`, QQP or MRPC TSV headers)");
        std::process::exit(2);
    };
    lines
        .filter_map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            Some(Pair {
                kind: ik.and_then(|i| f.get(i)).unwrap_or(&"all").to_string(),
                a: f.get(ia)?.to_string(),
                b: f.get(ib)?.to_string(),
                duplicate: match f.get(il)?.trim() {
                    "1" => true,
                    "0" => false,
                    _ => return None,
                },
            })
        })
        .collect()
}

fn query(text: &str) -> SemanticQuery {
    text_query(text, String::new())
}

/// What the cache does for one pair at every threshold it is asked about.
struct Scored {
    /// Identical prompts: an exact hit whatever the threshold.
    exact: bool,
    /// The similarity the decision reports, if it lets the pair through at all (threshold 0).
    decided: Option<f32>,
    cosine: f32,
    duplicate: bool,
}

impl Scored {
    fn served(&self, threshold: f32) -> bool {
        self.exact || self.decided.is_some_and(|s| s >= threshold)
    }
}

fn score(p: &Pair) -> Scored {
    let (qa, qb) = (query(&p.a), query(&p.b));
    let same_bucket = bucket_keys("p", &qa) == bucket_keys("p", &qb);
    let stored = decode_record("k", &encode_record(&qa));
    Scored {
        exact: p.a == p.b,
        decided: stored
            .filter(|_| same_bucket)
            .and_then(|c| decide(&qb, &c, f32::MIN_POSITIVE)),
        cosine: cosine(&qa.vector, &qb.vector),
        duplicate: p.duplicate,
    }
}

#[derive(Default)]
struct Counts {
    tp: u32,
    fp: u32,
    fn_: u32,
    tn: u32,
}

impl Counts {
    fn add(&mut self, served: bool, duplicate: bool) {
        match (served, duplicate) {
            (true, true) => self.tp += 1,
            (true, false) => self.fp += 1,
            (false, true) => self.fn_ += 1,
            (false, false) => self.tn += 1,
        }
    }
    fn precision(&self) -> String {
        if self.tp + self.fp == 0 {
            "-".into()
        } else {
            format!("{:.3}", self.tp as f64 / (self.tp + self.fp) as f64)
        }
    }
    fn recall(&self) -> String {
        if self.tp + self.fn_ == 0 {
            "-".into()
        } else {
            format!("{:.3}", self.tp as f64 / (self.tp + self.fn_) as f64)
        }
    }
    fn fpr(&self) -> f64 {
        self.fp as f64 / (self.fp + self.tn).max(1) as f64
    }
}

fn curve(name: &str, scored: &[Scored], served: impl Fn(&Scored, f32) -> bool) {
    println!("\n  {name}");
    println!("    threshold  precision  recall  false-pos-rate  hits");
    for t in [
        0.80f32, 0.85, 0.90, 0.92, 0.94, 0.95, 0.96, 0.97, 0.98, 0.99,
    ] {
        let mut c = Counts::default();
        for s in scored {
            c.add(served(s, t), s.duplicate);
        }
        let mark = if (t - DEFAULT_THRESHOLD).abs() < 1e-6 {
            "  <- default"
        } else {
            ""
        };
        println!(
            "    {t:>9.2}  {:>9}  {:>6}  {:>14.5}  {:>5}{mark}",
            c.precision(),
            c.recall(),
            c.fpr(),
            c.tp + c.fp
        );
    }
}

fn main() {
    let paths: Vec<String> = std::env::args().skip(1).collect();
    if paths.is_empty() {
        eprintln!("usage: semantic-eval <pairs.tsv> [...]  (ours, QQP or MRPC format)");
        std::process::exit(2);
    }
    for path in &paths {
        let pairs = load(path);
        let positives = pairs.iter().filter(|p| p.duplicate).count();
        println!(
            "\n{path}: {} pairs ({positives} to serve, {} to refuse)",
            pairs.len(),
            pairs.len() - positives
        );
        let scored: Vec<Scored> = pairs.iter().map(score).collect();
        let mut kinds: BTreeMap<&str, Counts> = BTreeMap::new();
        let mut total = Counts::default();
        let mut wrong = Vec::new();
        for (p, s) in pairs.iter().zip(&scored) {
            let served = s.served(DEFAULT_THRESHOLD);
            kinds.entry(&p.kind).or_default().add(served, p.duplicate);
            total.add(served, p.duplicate);
            if served && !p.duplicate {
                wrong.push(p);
            }
        }
        println!(
            "\n  at the default threshold {DEFAULT_THRESHOLD}: precision {}, recall {}, {} wrong answers served, {} retypings served of {}",
            total.precision(),
            total.recall(),
            total.fp,
            total.tp,
            total.tp + total.fn_
        );
        if kinds.len() > 1 {
            println!("\n    kind                    pairs  served  precision  recall");
            for (kind, c) in &kinds {
                println!(
                    "    {kind:<22} {:>6}  {:>6}  {:>9}  {:>6}",
                    c.tp + c.fp + c.fn_ + c.tn,
                    c.tp + c.fp,
                    c.precision(),
                    c.recall()
                );
            }
        }
        for p in &wrong {
            println!("    WRONG HIT [{}]: {:?} answered {:?}", p.kind, p.a, p.b);
        }
        curve(
            "the cache's decision (exact, or guards + terms + cosine >= threshold)",
            &scored,
            Scored::served,
        );
        curve(
            "cosine alone, without guards or term checks (what they add)",
            &scored,
            |s, t| s.exact || s.cosine >= t,
        );
    }

    // Cost of one lookup: build the query (normalise, guards, embed, bucket key) and decide against
    // a full bucket (the in-Worker embedder reads one) and against every band's (the hosted one).
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
    let time = |candidates: usize, runs: usize| {
        let t0 = Instant::now();
        let mut hits = 0usize;
        for r in 0..runs {
            let q = query(prompts[r % prompts.len()]);
            std::hint::black_box(bucket_keys("p", &q));
            for (i, rec) in stored[..candidates].iter().enumerate() {
                if let Some(c) = decode_record(&i.to_string(), rec) {
                    hits += decide(&q, &c, 0.0).is_some() as usize;
                }
            }
        }
        std::hint::black_box(hits);
        t0.elapsed().as_secs_f64() * 1e6 / runs as f64
    };
    let query_only = time(0, 3000);
    println!(
        "\nnative: {query_only:.1} µs to build a query (normalise + guards + embed + bucket); {:.1} µs per lookup against {MAX_BUCKET} candidates (one bucket), {:.1} µs against {} (every band)",
        time(MAX_BUCKET, 1000),
        time(BANDS * MAX_BUCKET, 300),
        BANDS * MAX_BUCKET
    );
}
