//! The default in-Worker embedder: a hashed bag of words, word bigrams and character trigrams of the
//! normalised prompt's terms, projected into `DIM` dimensions by feature hashing with signed buckets and
//! L2-normalised. No model, no network, a few microseconds per prompt: it catches rewordings that keep
//! most words (word order, inflection, filler, punctuation) and misses paraphrases that change the
//! vocabulary, which only a learned embedder (a hosted one) can see.
//!
//! Written here rather than taken from a crate: the embedding crates (fastembed, rust-bert,
//! candle models) need model weights and native code that do not fit a Worker's size and start-up.

/// Embedding width.
pub const DIM: usize = 256;

const STOPWORDS: [&str; 48] = [
    "a", "an", "the", "is", "are", "was", "were", "be", "been", "am", "do", "does", "did", "to",
    "of", "in", "on", "at", "for", "with", "by", "from", "and", "or", "it", "this", "that",
    "these", "those", "i", "you", "we", "my", "your", "our", "me", "as", "so", "if", "then",
    "than", "there", "here", "some", "any", "can", "will", "would",
];

const WORD_WEIGHT: f32 = 1.0;
const STOPWORD_WEIGHT: f32 = 0.2;
const BIGRAM_WEIGHT: f32 = 0.5;
const TRIGRAM_WEIGHT: f32 = 0.25;

/// FNV-1a, 64-bit: stable across platforms and builds, so stored vectors stay comparable.
fn fnv1a(parts: &[&[u8]]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for p in parts {
        for b in *p {
            h ^= *b as u64;
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
        h ^= 0xff;
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

fn add(v: &mut [f32; DIM], kind: &[u8], feature: &[u8], weight: f32) {
    let h = fnv1a(&[kind, feature]);
    let idx = (h % DIM as u64) as usize;
    let sign = if h >> 63 == 0 { 1.0 } else { -1.0 };
    v[idx] += sign * weight;
}

/// Embeds the terms of a normalised prompt (already folded: lowercase, singular, digits) into a
/// unit vector (all zeros without terms).
pub fn embed_terms(terms: &[String]) -> [f32; DIM] {
    let mut v = [0f32; DIM];
    for w in terms {
        let stop = STOPWORDS.contains(&w.as_str());
        add(
            &mut v,
            b"w",
            w.as_bytes(),
            if stop { STOPWORD_WEIGHT } else { WORD_WEIGHT },
        );
        if !stop {
            let padded: Vec<char> = std::iter::once('<')
                .chain(w.chars())
                .chain(std::iter::once('>'))
                .collect();
            for tri in padded.windows(3) {
                let s: String = tri.iter().collect();
                add(&mut v, b"c", s.as_bytes(), TRIGRAM_WEIGHT);
            }
        }
    }
    for pair in terms.windows(2) {
        add(
            &mut v,
            b"b",
            format!("{} {}", pair[0], pair[1]).as_bytes(),
            BIGRAM_WEIGHT,
        );
    }
    let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    if norm > 0.0 {
        v.iter_mut().for_each(|x| *x /= norm);
    }
    v
}

/// Embeds a prompt: its normalised terms (see `normalize`).
pub fn embed(prompt: &str) -> [f32; DIM] {
    let n = crate::normalize::normalize(prompt);
    let terms: Vec<String> = n.terms().filter_map(crate::guards::term_text).collect();
    embed_terms(&terms)
}

/// Cosine similarity of two unit vectors.
pub fn cosine(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sim(a: &str, b: &str) -> f32 {
        cosine(&embed(a), &embed(b))
    }

    #[test]
    fn unit_length_and_deterministic() {
        let v = embed("explain quantum computing");
        assert!((v.iter().map(|x| x * x).sum::<f32>() - 1.0).abs() < 1e-5);
        assert_eq!(v, embed("explain quantum computing"));
        assert!(embed("").iter().all(|x| *x == 0.0));
    }

    #[test]
    fn rewordings_are_close_and_different_questions_are_not() {
        assert!(
            sim(
                "Explain the theory of relativity in simple terms",
                "explain the theory of relativity in simple terms!"
            ) > 0.99
        );
        assert!(
            sim(
                "In simple terms, explain the theory of relativity",
                "Explain the theory of relativity in simple terms"
            ) > 0.95,
            "a moved phrase"
        );
        assert!(sim("how to learn rust quickly", "how to learn rust fast") < 0.95);
        assert!(
            sim(
                "What is the capital of France?",
                "What is the capital of Spain?"
            ) < 0.95
        );
        assert!(
            sim(
                "Write a poem about the sea",
                "Summarise this article about taxes"
            ) < 0.3
        );
    }
}
