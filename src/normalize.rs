//! Prompt normalisation: the canonical text of a user prompt, so trivially different prompts share
//! an exact-cache entry and paraphrases embed closer together. Lowercase, whitespace collapsed,
//! filler words dropped ("please", "kindly", a leading "could you"), question patterns unified
//! ("what's" -> "what is", "how do i" -> "how to") and arithmetic written with operators
//! ("5 times 3" -> "5 × 3"). Fenced code blocks are left exactly as written.
//!
//! Hand-written over word tokens rather than with regular expressions: it runs on every chat
//! request's hot path, and a tokenising pass is ~20x faster than regex-lite here and keeps a regex
//! engine out of the Worker.

/// A piece of prose: a word (letters, digits, inner apostrophes) or a run of anything else.
#[derive(Debug, Clone, PartialEq)]
enum Piece {
    Word(String),
    Sep(String),
}

fn is_word_char(c: char) -> bool {
    c.is_alphanumeric() || c == '\''
}

fn split_pieces(text: &str) -> Vec<Piece> {
    let mut pieces: Vec<Piece> = Vec::new();
    for c in text.chars() {
        let word = is_word_char(c);
        match pieces.last_mut() {
            Some(Piece::Word(w)) if word => w.push(c),
            Some(Piece::Sep(s)) if !word => s.push(c),
            _ if word => pieces.push(Piece::Word(c.to_string())),
            _ => pieces.push(Piece::Sep(c.to_string())),
        }
    }
    // Apostrophes at the edges of a word are quotes, not contractions.
    let mut out = Vec::new();
    for p in pieces {
        match p {
            Piece::Word(w) => {
                let core = w.trim_matches('\'');
                let lead = w.len() - w.trim_start_matches('\'').len();
                let trail = w.len() - w.trim_end_matches('\'').len();
                if lead > 0 {
                    out.push(Piece::Sep("'".repeat(lead)));
                }
                if !core.is_empty() {
                    out.push(Piece::Word(core.to_string()));
                }
                if trail > 0 {
                    out.push(Piece::Sep("'".repeat(trail)));
                }
            }
            sep => out.push(sep),
        }
    }
    out
}

/// Expands a contraction into words ("what's" -> "what is", "doesn't" -> "does not").
fn expand(word: &str) -> Vec<String> {
    const IS_BEFORE_S: [&str; 11] = [
        "what", "who", "where", "when", "why", "how", "it", "that", "there", "here", "this",
    ];
    let split = |stem: &str, tail: &str| vec![stem.to_string(), tail.to_string()];
    match word {
        "can't" => return vec!["cannot".into()],
        "won't" => return split("will", "not"),
        "i'm" => return split("i", "am"),
        _ => {}
    }
    if let Some(stem) = word.strip_suffix("'s").filter(|s| IS_BEFORE_S.contains(s)) {
        return split(stem, "is");
    }
    if let Some(stem) = word.strip_suffix("n't") {
        return split(stem, "not");
    }
    for (suffix, full) in [("'re", "are"), ("'ll", "will"), ("'ve", "have")] {
        if let Some(stem) = word.strip_suffix(suffix) {
            return split(stem, full);
        }
    }
    if let Some(stem) = word
        .strip_suffix("'d")
        .filter(|s| ["i", "you", "he", "she", "we", "they"].contains(s))
    {
        return split(stem, "would");
    }
    vec![word.to_string()]
}

fn is_number(w: &str) -> bool {
    w.chars().next().is_some_and(|c| c.is_ascii_digit())
        && w.chars()
            .all(|c| c.is_ascii_digit() || c == '.' || c == ',')
}

/// Word-level rewriting of already lowercased, tokenised prose.
fn rewrite(pieces: Vec<Piece>) -> Vec<Piece> {
    // Contractions.
    let mut p: Vec<Piece> = Vec::new();
    for piece in pieces {
        match piece {
            Piece::Word(w) => {
                for (i, part) in expand(&w).into_iter().enumerate() {
                    if i > 0 {
                        p.push(Piece::Sep(" ".into()));
                    }
                    p.push(Piece::Word(part));
                }
            }
            sep => p.push(sep),
        }
    }
    let word_at = |p: &[Piece], i: usize| match p.get(i) {
        Some(Piece::Word(w)) => Some(w.clone()),
        _ => None,
    };
    let mut out: Vec<Piece> = Vec::new();
    let mut i = 0;
    while i < p.len() {
        let next_words = |n: usize| -> Option<Vec<String>> {
            let mut words = Vec::new();
            let mut j = i;
            while words.len() < n {
                words.push(word_at(&p, j)?);
                j += 1;
                if words.len() < n {
                    match p.get(j) {
                        Some(Piece::Sep(s)) if s.trim().is_empty() => j += 1,
                        _ => return None,
                    }
                }
            }
            Some(words)
        };
        let span = |n: usize| 2 * n - 1;
        let at_sentence_start = out
            .iter()
            .rev()
            .find(|x| !matches!(x, Piece::Sep(s) if s.trim().is_empty()))
            .is_none_or(|x| matches!(x, Piece::Sep(s) if s.trim_end().ends_with(['.', '!', '?'])));
        // "how do i" -> "how to" and friends.
        if let Some(w) = next_words(3) {
            if w[0] == "how"
                && ["do", "can", "should", "would"].contains(&w[1].as_str())
                && ["i", "we", "you", "one"].contains(&w[2].as_str())
                || (w[0] == "how" && w[1] == "does" && w[2] == "one")
            {
                out.extend([
                    Piece::Word("how".into()),
                    Piece::Sep(" ".into()),
                    Piece::Word("to".into()),
                ]);
                i += span(3);
                continue;
            }
        }
        // A leading "could you" / "i want you to" at the start of a sentence.
        if at_sentence_start {
            const LEADING: [&[&str]; 6] = [
                &["i", "would", "like", "you", "to"],
                &["i", "want", "you", "to"],
                &["could", "you"],
                &["can", "you"],
                &["would", "you"],
                &["will", "you"],
            ];
            let matched = LEADING.iter().find(|phrase| {
                next_words(phrase.len())
                    .is_some_and(|w| w.iter().map(String::as_str).eq(phrase.iter().copied()))
            });
            if let Some(phrase) = matched {
                i += span(phrase.len());
                while matches!(p.get(i), Some(Piece::Sep(s)) if s.trim().is_empty()) {
                    i += 1;
                }
                continue;
            }
        }
        match &p[i] {
            // Fillers, with a comma right after them.
            Piece::Word(w) if ["please", "pls", "plz", "kindly"].contains(&w.as_str()) => {
                if let Some(Piece::Sep(s)) = out.last_mut() {
                    if s.trim() == "," {
                        *s = " ".into();
                    }
                }
                i += 1;
                if let Some(Piece::Sep(s)) = p.get(i) {
                    if s.trim_start().starts_with(',') {
                        out.push(Piece::Sep(
                            s.trim_start().trim_start_matches(',').to_string(),
                        ));
                        i += 1;
                    }
                }
                continue;
            }
            piece => out.push(piece.clone()),
        }
        i += 1;
    }
    rewrite_arithmetic(out)
}

/// Between two numbers: "times", "x", "*", "multiplied by" -> "×"; "divided by", "/" -> "÷";
/// "plus" -> "+"; a spaced "minus" or "-" -> "-".
fn rewrite_arithmetic(p: Vec<Piece>) -> Vec<Piece> {
    let mut out: Vec<Piece> = Vec::new();
    let mut i = 0;
    while i < p.len() {
        let prev_number = matches!(out.last(), Some(Piece::Word(w)) if is_number(w));
        if prev_number {
            // Candidate operator spans: Sep, [Word, (Sep, Word)], Sep, Number.
            let op_and_len = match (
                p.get(i),
                p.get(i + 1),
                p.get(i + 2),
                p.get(i + 3),
                p.get(i + 4),
            ) {
                (
                    Some(Piece::Sep(a)),
                    Some(Piece::Word(w)),
                    Some(Piece::Sep(b)),
                    Some(Piece::Word(n)),
                    _,
                ) if a.trim().is_empty()
                    && b.trim().is_empty()
                    && is_number(n)
                    && ["times", "x", "plus", "minus"].contains(&w.as_str()) =>
                {
                    Some((
                        match w.as_str() {
                            "plus" => "+",
                            "minus" => "-",
                            _ => "×",
                        },
                        3,
                    ))
                }
                (
                    Some(Piece::Sep(a)),
                    Some(Piece::Word(w1)),
                    Some(Piece::Sep(m)),
                    Some(Piece::Word(w2)),
                    Some(Piece::Sep(b)),
                ) if a.trim().is_empty()
                    && m.trim().is_empty()
                    && b.trim().is_empty()
                    && w2 == "by"
                    && ["multiplied", "divided"].contains(&w1.as_str())
                    && matches!(p.get(i + 5), Some(Piece::Word(n)) if is_number(n)) =>
                {
                    Some((if w1 == "divided" { "÷" } else { "×" }, 5))
                }
                (Some(Piece::Sep(s)), Some(Piece::Word(n)), _, _, _) if is_number(n) => {
                    match s.trim() {
                        "*" | "×" | "x" => Some(("×", 1)),
                        "/" | "÷" => Some(("÷", 1)),
                        "+" => Some(("+", 1)),
                        "-" if s.len() > 1
                            && s.starts_with(char::is_whitespace)
                            && s.ends_with(char::is_whitespace) =>
                        {
                            Some(("-", 1))
                        }
                        _ => None,
                    }
                }
                _ => None,
            };
            if let Some((op, len)) = op_and_len {
                out.push(Piece::Sep(format!(" {op} ")));
                i += len;
                continue;
            }
        }
        out.push(p[i].clone());
        i += 1;
    }
    out
}

fn render(pieces: &[Piece]) -> String {
    let mut s = String::new();
    for p in pieces {
        match p {
            Piece::Word(w) => s.push_str(w),
            Piece::Sep(sep) => s.push_str(sep),
        }
    }
    // Collapse whitespace and drop it before closing punctuation.
    let mut out = String::with_capacity(s.len());
    let mut pending_space = false;
    for c in s.chars() {
        if c.is_whitespace() {
            pending_space = !out.is_empty();
            continue;
        }
        if pending_space && !matches!(c, '?' | '.' | '!' | ',' | ';' | ':') {
            out.push(' ');
        }
        pending_space = false;
        out.push(c);
    }
    out
}

fn normalize_prose(text: &str) -> String {
    let lower = text.to_lowercase().replace(['\u{2019}', '\u{2018}'], "'");
    render(&rewrite(split_pieces(&lower)))
}

/// The normalised form of a prompt. Code inside ``` fences is kept verbatim.
pub fn normalize_prompt(text: &str) -> String {
    let mut out = Vec::new();
    for (i, part) in text.split("```").enumerate() {
        if i % 2 == 1 {
            out.push(format!("```{part}```"));
        } else {
            let p = normalize_prose(part);
            if !p.is_empty() {
                out.push(p);
            }
        }
    }
    out.join(" ")
}

#[cfg(test)]
mod tests {
    use super::normalize_prompt as n;

    #[test]
    fn examples_from_the_api_reference() {
        assert_eq!(n("What's 5 times 3?"), "what is 5 × 3?");
        assert_eq!(n("Please explain this"), "explain this");
        assert_eq!(n("How do I calculate?"), "how to calculate?");
    }

    #[test]
    fn trivial_differences_vanish() {
        let forms = [
            "Explain  quantum computing, please.",
            "please explain quantum computing.",
            "  EXPLAIN quantum   computing . ",
            "Could you please explain quantum computing.",
            "Kindly explain quantum computing.",
        ];
        for f in forms {
            assert_eq!(n(f), "explain quantum computing.", "{f}");
        }
        assert_eq!(
            n("How can I reset my password?"),
            n("how do i reset my password?")
        );
        assert_eq!(n("What’s the time?"), "what is the time?");
    }

    #[test]
    fn arithmetic_is_written_with_operators() {
        assert_eq!(n("what is 12 multiplied by 4"), "what is 12 × 4");
        assert_eq!(n("2 times 3 times 4"), "2 × 3 × 4");
        assert_eq!(n("7*6"), "7 × 6");
        assert_eq!(n("10 divided by 2"), "10 ÷ 2");
        assert_eq!(n("1 plus 1"), "1 + 1");
        assert_eq!(
            n("three times a day"),
            "three times a day",
            "only between numbers"
        );
    }

    #[test]
    fn meaning_carrying_words_stay() {
        assert_eq!(n("I can't log in"), "i cannot log in");
        assert_eq!(n("Why doesn't it work?"), "why does not it work?");
        assert_eq!(
            n("What can you do?"),
            "what can you do?",
            "'can you' is only dropped at the start"
        );
        assert_ne!(n("what is 5 × 3"), n("what is 5 × 4"));
    }

    #[test]
    fn edge_cases() {
        assert_eq!(n("Please, could you explain this?"), "explain this?");
        assert_eq!(
            n("Translate 'good morning' into French"),
            "translate 'good morning' into french"
        );
        assert_eq!(n("Plan a 3-4 day trip"), "plan a 3-4 day trip");
        assert_eq!(n("what is 5 - 3"), "what is 5 - 3");
        assert_eq!(
            n("I would like you to write a poem. Could you keep it short?"),
            "write a poem. keep it short?"
        );
        assert_eq!(n(""), "");
    }

    #[test]
    fn code_blocks_are_kept_verbatim() {
        let p = "Please FIX this:\n```python\ndef F(x):\n    return  x\n```\nThanks";
        assert_eq!(
            n(p),
            "fix this: ```python\ndef F(x):\n    return  x\n``` thanks"
        );
    }
}
