//! Guards: what two prompts must share, whatever their similarity, for one's cached answer to
//! serve the other. They compare meaning after normalisation, not spelling:
//!
//! - literals (code, quoted strings, verbatim tails, mixed tokens) exactly, case included, in order;
//! - a case-sensitive prompt (about letters or case) only matches one with the same words, case
//!   included, in the same order: any of them may be what the task is about;
//! - numbers after number words are folded ("three" = 3), in order, with their unit or currency;
//! - every word of [`GUARD_TABLE`] (negations, antonyms, task words, units, currencies, times,
//!   comparisons) and every word with a negating prefix (un-, il-, in-, im-, ir-, dis-, non-):
//!   present in both prompts or in neither;
//! - direction: the words on each side of "to", "from", "than", "vs", ..., so "USD to EUR" never
//!   answers "EUR to USD" and "X faster than Y" never answers "Y faster than X".
//!
//! Named things (proper nouns, acronyms) are compared case-insensitively by the decision in
//! `semantic`, which sees both prompts' words.

use crate::normalize::{is_numeric, Normalized, Token};
use std::collections::{BTreeSet, HashSet};
use std::sync::OnceLock;

/// Why a row of the guard table is there.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GuardKind {
    Negation,
    /// Pairs of opposites; either word must be in both prompts or in neither.
    Antonym,
    /// What is asked for: a poem is not a limerick, a list is not an explanation.
    Task,
    Unit,
    Currency,
    Time,
    /// Comparison and direction words; their neighbours are guarded too (see `DIRECTION_CUES`).
    Direction,
}

pub struct GuardRow {
    pub kind: GuardKind,
    pub words: &'static [&'static str],
}

const fn row(kind: GuardKind, words: &'static [&'static str]) -> GuardRow {
    GuardRow { kind, words }
}

use GuardKind::*;

/// The guard table, in folded form (lowercase, singular, American spelling, digits). To guard a
/// new kind of word, add a row.
pub const GUARD_TABLE: &[GuardRow] = &[
    row(
        Negation,
        &[
            "not", "no", "never", "none", "nothing", "nobody", "neither", "nor", "without",
            "cannot", "nowhere", "except", "unless", "lack", "avoid", "stop", "instead",
        ],
    ),
    row(Antonym, &["open", "close"]),
    row(Antonym, &["buy", "sell"]),
    row(Antonym, &["import", "export"]),
    row(
        Antonym,
        &["min", "max", "minimum", "maximum", "minimize", "maximize"],
    ),
    row(Antonym, &["hire", "fire"]),
    row(Antonym, &["1st", "last"]),
    row(Antonym, &["add", "remove", "delete", "insert"]),
    row(
        Antonym,
        &["increase", "decrease", "raise", "lower", "reduce"],
    ),
    row(Antonym, &["enable", "disable"]),
    row(Antonym, &["start", "stop", "begin", "end", "finish"]),
    row(Antonym, &["push", "pull"]),
    row(Antonym, &["win", "lose"]),
    row(Antonym, &["true", "false"]),
    row(Antonym, &["up", "down"]),
    row(Antonym, &["left", "right"]),
    row(Antonym, &["north", "south", "east", "west"]),
    row(Antonym, &["hot", "cold", "warm", "cool"]),
    row(Antonym, &["high", "low"]),
    row(Antonym, &["big", "small", "large", "tiny", "huge"]),
    row(Antonym, &["long", "short"]),
    row(Antonym, &["fast", "slow", "quick"]),
    row(Antonym, &["more", "less", "most", "least", "fewer"]),
    row(
        Antonym,
        &["best", "worst", "better", "worse", "good", "bad"],
    ),
    row(Antonym, &["positive", "negative"]),
    row(
        Antonym,
        &[
            "pro",
            "con",
            "advantage",
            "disadvantage",
            "benefit",
            "drawback",
            "risk",
        ],
    ),
    row(Antonym, &["include", "exclude"]),
    row(Antonym, &["accept", "reject", "allow", "deny", "block"]),
    row(
        Antonym,
        &[
            "encrypt",
            "decrypt",
            "encode",
            "decode",
            "compress",
            "decompress",
        ],
    ),
    row(Antonym, &["upload", "download"]),
    row(Antonym, &["input", "output"]),
    row(Antonym, &["send", "receive"]),
    row(Antonym, &["lend", "borrow", "give", "take"]),
    row(Antonym, &["love", "hate", "like", "dislike"]),
    row(Antonym, &["agree", "disagree"]),
    row(Antonym, &["success", "failure", "fail", "succeed"]),
    row(Antonym, &["rise", "fall", "gain", "loss", "profit"]),
    row(Antonym, &["ascending", "descending", "asc", "desc"]),
    row(Antonym, &["increment", "decrement"]),
    row(Antonym, &["inner", "outer", "inside", "outside"]),
    row(Antonym, &["upper", "lower"]),
    row(Antonym, &["major", "minor"]),
    row(Antonym, &["strong", "weak"]),
    row(Antonym, &["young", "old", "new"]),
    row(Antonym, &["cheap", "expensive"]),
    row(Antonym, &["easy", "hard", "difficult", "simple", "complex"]),
    row(Antonym, &["safe", "dangerous", "unsafe"]),
    row(Antonym, &["legal", "illegal"]),
    row(Antonym, &["happy", "sad"]),
    row(Antonym, &["rich", "poor"]),
    row(Antonym, &["early", "late"]),
    row(Antonym, &["light", "dark", "heavy"]),
    row(Antonym, &["wet", "dry"]),
    row(Antonym, &["always", "sometimes", "often", "rarely"]),
    row(Antonym, &["all", "some", "any", "every", "each"]),
    row(Antonym, &["on", "off"]),
    row(Antonym, &["past", "future", "present"]),
    row(Antonym, &["deposit", "withdraw"]),
    row(Antonym, &["arrive", "depart", "enter", "exit", "entry"]),
    row(Antonym, &["front", "back", "top", "bottom"]),
    row(Antonym, &["forward", "backward"]),
    row(Antonym, &["parent", "child"]),
    row(Antonym, &["server", "client", "frontend", "backend"]),
    row(Antonym, &["sync", "async", "synchronous", "asynchronous"]),
    row(Antonym, &["singular", "plural"]),
    row(Antonym, &["mean", "median", "mode", "average"]),
    row(Antonym, &["male", "female", "man", "woman"]),
    row(Antonym, &["alive", "dead"]),
    row(Antonym, &["question", "answer"]),
    row(
        Task,
        &[
            "essay",
            "poem",
            "haiku",
            "limerick",
            "sonnet",
            "story",
            "song",
            "lyric",
            "joke",
            "riddle",
            "tweet",
            "email",
            "letter",
            "summary",
            "summarize",
            "list",
            "explain",
            "describe",
            "define",
            "compare",
            "contrast",
            "translate",
            "outline",
            "table",
            "code",
            "script",
            "function",
            "recipe",
            "plan",
            "review",
            "rewrite",
            "paraphrase",
            "proofread",
            "critique",
            "quiz",
            "example",
            "analogy",
            "metaphor",
            "slogan",
            "headline",
            "title",
            "tagline",
            "bio",
            "resume",
            "speech",
            "report",
            "article",
            "blog",
            "paragraph",
            "sentence",
            "word",
            "bullet",
            "step",
            "checklist",
            "diagram",
            "chart",
            "name",
            "idea",
            "tip",
            "fact",
            "reason",
            "definition",
            "synonym",
            "antonym",
            "word",
            "calculate",
            "solve",
            "prove",
            "derive",
            "estimate",
            "predict",
            "rank",
            "sort",
            "count",
            "convert",
            "fix",
            "debug",
            "test",
            "optimize",
            "refactor",
            "document",
        ],
    ),
    row(
        Unit,
        &[
            "kg",
            "g",
            "mg",
            "lb",
            "oz",
            "km",
            "m",
            "cm",
            "mm",
            "mi",
            "mile",
            "ft",
            "foot",
            "feet",
            "inch",
            "yd",
            "yard",
            "l",
            "liter",
            "ml",
            "gallon",
            "cup",
            "tbsp",
            "tsp",
            "ton",
            "gram",
            "kilogram",
            "pound",
            "ounce",
            "meter",
            "kilometer",
            "centimeter",
            "millimeter",
            "second",
            "sec",
            "s",
            "ms",
            "minute",
            "min",
            "hour",
            "h",
            "hr",
            "day",
            "week",
            "month",
            "year",
            "decade",
            "century",
            "celsius",
            "fahrenheit",
            "kelvin",
            "°c",
            "°f",
            "°",
            "%",
            "gb",
            "mb",
            "kb",
            "tb",
            "byte",
            "bit",
            "hz",
            "mhz",
            "ghz",
            "watt",
            "kw",
            "kwh",
            "volt",
            "amp",
            "calorie",
            "kcal",
            "mph",
            "kph",
            "am",
            "pm",
            "k",
        ],
    ),
    row(
        Currency,
        &[
            "usd", "eur", "gbp", "jpy", "inr", "cny", "yuan", "rmb", "aud", "cad", "chf", "btc",
            "bitcoin", "eth", "ethereum", "cent", "penny", "peso", "ruble", "won", "franc",
        ],
    ),
    row(
        Time,
        &[
            "today",
            "tomorrow",
            "yesterday",
            "tonight",
            "now",
            "morning",
            "afternoon",
            "evening",
            "night",
            "weekend",
            "weekday",
            "monday",
            "tuesday",
            "wednesday",
            "thursday",
            "friday",
            "saturday",
            "sunday",
            "january",
            "february",
            "march",
            "april",
            "may",
            "june",
            "july",
            "august",
            "september",
            "october",
            "november",
            "december",
            "spring",
            "summer",
            "autumn",
            "winter",
            "daily",
            "weekly",
            "monthly",
            "yearly",
            "annual",
            "annually",
        ],
    ),
    row(
        Direction,
        &[
            "to", "from", "into", "than", "vs", "versus", "over", "under", "before", "after",
            "against", "between", "->", "→", "toward", "onto", "via",
        ],
    ),
];

/// Cues whose neighbours must match in order: "A to B" is not "B to A".
const DIRECTION_CUES: [&str; 13] = [
    "to", "from", "into", "than", "vs", "versus", "over", "before", "after", "against", "->", "→",
    "onto",
];

/// Prefixes that negate the word they start ("illegal", "unsafe", "disagree", "nonprofit").
const NEGATING_PREFIXES: [&str; 7] = ["un", "il", "in", "im", "ir", "dis", "non"];

/// The table's words, and those of its units and currencies, as sets: every word of every
/// prompt the exact cache misses is looked up here (a scan of the ~470 words was a third of
/// building a semantic query).
fn table_words(units_only: bool) -> &'static HashSet<&'static str> {
    static ALL: OnceLock<HashSet<&'static str>> = OnceLock::new();
    static UNITS: OnceLock<HashSet<&'static str>> = OnceLock::new();
    let (cell, keep): (_, fn(&GuardRow) -> bool) = if units_only {
        (&UNITS, |r| matches!(r.kind, Unit | Currency))
    } else {
        (&ALL, |_| true)
    };
    cell.get_or_init(|| {
        GUARD_TABLE
            .iter()
            .filter(|r| keep(r))
            .flat_map(|r| r.words.iter().copied())
            .collect()
    })
}

fn in_guard_table(word: &str) -> bool {
    table_words(false).contains(word)
}

fn negated_by_prefix(word: &str) -> bool {
    NEGATING_PREFIXES.iter().any(|p| {
        word.strip_prefix(p)
            .is_some_and(|rest| rest.len() >= 4 && rest.chars().all(char::is_alphabetic))
    })
}

/// The text a term is compared by (words by their folded text, literals marked apart).
pub fn term_text(t: &Token) -> Option<String> {
    match t {
        Token::Word { text, .. } => Some(text.clone()),
        Token::Literal(l) => Some(format!("\u{2}{}", l.text)),
        Token::Break(_) => None,
    }
}

/// The guard features of a normalised prompt, one string per section; equal features means the
/// guards let the pair through.
pub fn guard_features(n: &Normalized) -> Vec<String> {
    let tokens: Vec<&Token> = n.tokens.iter().collect();
    let mut literals = Vec::new();
    let mut numbers = Vec::new();
    let mut guarded = BTreeSet::new();
    let mut directions = BTreeSet::new();
    for (i, t) in tokens.iter().enumerate() {
        match t {
            Token::Literal(l) => literals.push(l.text.clone()),
            Token::Word { text, .. } => {
                let lower = text.to_lowercase();
                if lower.chars().any(|c| c.is_ascii_digit()) {
                    let unit = tokens
                        .get(i + 1)
                        .and_then(|t| t.as_word())
                        .filter(|u| !is_numeric(u) && table_words(true).contains(u))
                        .unwrap_or("");
                    numbers.push(format!("{lower} {unit}").trim_end().to_string());
                }
                if in_guard_table(&lower) || negated_by_prefix(&lower) {
                    guarded.insert(lower.clone());
                }
                if DIRECTION_CUES.contains(&lower.as_str()) {
                    let neighbour = |range: &mut dyn Iterator<Item = usize>| {
                        range
                            .map(|j| tokens[j])
                            .take_while(|t| !matches!(t, Token::Break(_)))
                            .find_map(term_text)
                            .unwrap_or_default()
                    };
                    let before = neighbour(&mut (0..i).rev());
                    let after = neighbour(&mut (i + 1..tokens.len()));
                    directions.insert(format!("{before}|{lower}|{after}"));
                }
            }
            Token::Break(_) => {}
        }
    }
    // A prompt about letters or case may be about any of its words, as written: all of them.
    let case = if n.case_sensitive {
        n.compared_form()
    } else {
        String::new()
    };
    vec![
        format!("case:{}:{case}", n.case_sensitive),
        format!("lit:{}", literals.join("\u{1f}")),
        format!("num:{}", numbers.join("\u{1f}")),
        format!(
            "words:{}",
            guarded.into_iter().collect::<Vec<_>>().join("\u{1f}")
        ),
        format!(
            "dir:{}",
            directions.into_iter().collect::<Vec<_>>().join("\u{1f}")
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::normalize::normalize;

    fn guard(text: &str) -> Vec<String> {
        guard_features(&normalize(text))
    }

    fn refused(a: &str, b: &str) -> bool {
        guard(a) != guard(b)
    }

    #[test]
    fn numbers_after_folding_and_in_order() {
        assert!(refused("what is 5 × 3", "what is 5 × 4"));
        assert!(refused("what is 10 ÷ 2", "what is 2 ÷ 10"));
        assert!(!refused("What's five times three?", "what is 5 × 3"));
        assert!(refused("Convert 5 kg to pounds", "Convert 5 lb to pounds"));
        assert!(refused("History of 1990", "History of 1991"));
        assert!(refused("Is $5 a lot", "Is €5 a lot"));
    }

    #[test]
    fn negations_in_words_and_prefixes() {
        assert!(refused("Is this safe?", "Is this not safe?"));
        assert!(refused("Is coffee healthy", "Is coffee never healthy"));
        assert!(refused(
            "Is it legal to park here",
            "Is it illegal to park here"
        ));
        assert!(refused("Is this likely", "Is this unlikely"));
        assert!(refused("Do you agree", "Do you disagree"));
        assert!(!refused("Explain this.", "Please explain this"));
    }

    #[test]
    fn antonyms_tasks_units_currencies_and_times() {
        assert!(refused(
            "How to open a file in Python",
            "How to close a file in Python"
        ));
        assert!(refused(
            "Should I buy Tesla stock",
            "Should I sell Tesla stock"
        ));
        assert!(refused("Find the max of a list", "Find the min of a list"));
        assert!(refused(
            "Write an essay about dogs",
            "Write a limerick about dogs"
        ));
        assert!(refused(
            "List the causes of WW1",
            "Explain the causes of WW1"
        ));
        assert!(refused(
            "Weather today in Paris",
            "Weather tomorrow in Paris"
        ));
        assert!(refused("Price in USD", "Price in EUR"));
    }

    #[test]
    fn direction_of_to_from_than() {
        assert!(refused("Convert USD to EUR", "Convert EUR to USD"));
        assert!(refused(
            "Translate from English to French",
            "Translate from French to English"
        ));
        assert!(refused(
            "Is a cat faster than a dog",
            "Is a dog faster than a cat"
        ));
        assert!(refused(
            "Flights from Paris to Rome",
            "Flights from Rome to Paris"
        ));
        assert!(!refused(
            "How do I get to Rome from Paris",
            "how do i get to rome from paris?"
        ));
    }

    #[test]
    fn literals_and_case_sensitive_prompts() {
        assert!(refused(
            "Reverse the string 'AbC'",
            "reverse the string 'abc'"
        ));
        assert!(refused("`Foo()` throws", "`foo()` throws"));
        assert!(refused(
            "Explain the regex [A-Z]",
            "Explain the regex [a-z]"
        ));
        assert!(!refused(
            "Translate 'good morning' into French",
            "translate \"good morning\" into french please"
        ));
        assert!(refused(
            "Count the capital letters in Hello",
            "Count the capital letters in hello"
        ));
    }

    #[test]
    fn one_table_rows_are_folded_words() {
        for row in GUARD_TABLE {
            for w in row.words {
                assert_eq!(w.to_lowercase(), *w, "{w}: the table holds folded words");
            }
        }
    }
}
