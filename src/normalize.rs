//! Prompt normalisation: the canonical text of a user prompt, so trivially different prompts share
//! an exact-cache entry and paraphrases embed closer together. Lowercase, whitespace collapsed,
//! filler words dropped ("please", "kindly", a leading "could you"), question patterns unified
//! ("what's" -> "what is", "how do i" -> "how to") and arithmetic written with operators
//! ("5 times 3" -> "5 × 3"). Fenced code blocks are left exactly as written.
//!
//! Uses regex-lite rather than regex: the patterns are simple and the Worker's size matters.

use regex_lite::Regex;
use std::sync::OnceLock;

struct Rules {
    contractions: Vec<(Regex, &'static str)>,
    patterns: Vec<(Regex, &'static str)>,
    leading_fillers: Regex,
    fillers: Regex,
    math: Vec<(Regex, &'static str)>,
    spaces: Regex,
    space_before_punct: Regex,
}

fn rules() -> &'static Rules {
    static RULES: OnceLock<Rules> = OnceLock::new();
    RULES.get_or_init(|| {
        let r = |p: &str| Regex::new(p).expect("valid pattern");
        Rules {
            contractions: vec![
                (r(r"\bcan't\b"), "cannot"),
                (r(r"\bwon't\b"), "will not"),
                (r(r"\b(what|who|where|when|why|how|it|that|there|here|this|which)'s\b"), "$1 is"),
                (r(r"n't\b"), " not"),
                (r(r"'re\b"), " are"),
                (r(r"\bi'm\b"), "i am"),
                (r(r"'ll\b"), " will"),
                (r(r"'ve\b"), " have"),
                (r(r"\b(i|you|he|she|we|they)'d\b"), "$1 would"),
            ],
            patterns: vec![
                (r(r"\bhow (?:do|can|should|would) (?:i|we|you|one)\b"), "how to"),
                (r(r"\bhow does one\b"), "how to"),
                (r(r"\bwhat (?:are|is) the meaning of\b"), "what is the meaning of"),
            ],
            leading_fillers: r(r"(^|[.!?]\s+)(?:(?:could|can|would|will) you|i want you to|i would like you to)\s+"),
            fillers: r(r",?\s*\b(?:please|pls|plz|kindly)\b,?"),
            math: vec![
                (r(r"(\d)\s*(?:times|multiplied by|x|\*)\s*(\d)"), "$1 × $2"),
                (r(r"(\d)\s*×\s*(\d)"), "$1 × $2"),
                (r(r"(\d)\s*(?:divided by|÷|/)\s*(\d)"), "$1 ÷ $2"),
                (r(r"(\d)\s*(?:plus|\+)\s*(\d)"), "$1 + $2"),
                (r(r"(\d)\s+(?:minus|-)\s+(\d)"), "$1 - $2"),
            ],
            spaces: r(r"\s+"),
            space_before_punct: r(r"\s+([?.!,;:])"),
        }
    })
}

fn normalize_prose(text: &str) -> String {
    let rules = rules();
    let mut s = text.to_lowercase().replace(['\u{2019}', '\u{2018}'], "'");
    for (re, rep) in rules.contractions.iter().chain(rules.patterns.iter()) {
        s = re.replace_all(&s, *rep).into_owned();
    }
    s = rules.fillers.replace_all(&s, " ").into_owned();
    s = rules.spaces.replace_all(&s, " ").trim().to_string();
    // A leading "could you" may only appear once "please" is gone ("please could you ...").
    s = rules.leading_fillers.replace_all(&s, "$1").into_owned();
    for (re, rep) in &rules.math {
        // Twice, so chains like "2 times 3 times 4" are fully rewritten (matches overlap on digits).
        s = re.replace_all(&s, *rep).into_owned();
        s = re.replace_all(&s, *rep).into_owned();
    }
    s = rules.space_before_punct.replace_all(&s, "$1").into_owned();
    s.trim().to_string()
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
        let forms = ["Explain  quantum computing, please.", "please explain quantum computing.", "  EXPLAIN quantum   computing . ", "Could you please explain quantum computing.", "Kindly explain quantum computing."];
        for f in forms {
            assert_eq!(n(f), "explain quantum computing.", "{f}");
        }
        assert_eq!(n("How can I reset my password?"), n("how do i reset my password?"));
        assert_eq!(n("What’s the time?"), "what is the time?");
    }

    #[test]
    fn arithmetic_is_written_with_operators() {
        assert_eq!(n("what is 12 multiplied by 4"), "what is 12 × 4");
        assert_eq!(n("2 times 3 times 4"), "2 × 3 × 4");
        assert_eq!(n("7*6"), "7 × 6");
        assert_eq!(n("10 divided by 2"), "10 ÷ 2");
        assert_eq!(n("1 plus 1"), "1 + 1");
        assert_eq!(n("three times a day"), "three times a day", "only between numbers");
    }

    #[test]
    fn meaning_carrying_words_stay() {
        assert_eq!(n("I can't log in"), "i cannot log in");
        assert_eq!(n("Why doesn't it work?"), "why does not it work?");
        assert_eq!(n("What can you do?"), "what can you do?", "'can you' is only dropped at the start");
        assert_ne!(n("what is 5 × 3"), n("what is 5 × 4"));
    }

    #[test]
    fn code_blocks_are_kept_verbatim() {
        let p = "Please FIX this:\n```python\ndef F(x):\n    return  x\n```\nThanks";
        assert_eq!(n(p), "fix this: ```python\ndef F(x):\n    return  x\n``` thanks");
    }
}
