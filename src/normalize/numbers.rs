//! Numbers: number words as digits, units written against their number, currencies and
//! percent, and arithmetic written with operators.

use super::{matches_at, Token};
use crate::literals::LiteralKind;

pub(super) const SMALL_NUMBERS: [&str; 20] = [
    "zero",
    "one",
    "two",
    "three",
    "four",
    "five",
    "six",
    "seven",
    "eight",
    "nine",
    "ten",
    "eleven",
    "twelve",
    "thirteen",
    "fourteen",
    "fifteen",
    "sixteen",
    "seventeen",
    "eighteen",
    "nineteen",
];
pub(super) const TENS: [&str; 8] = [
    "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety",
];
pub(super) const SCALES: [(&str, u64); 5] = [
    ("hundred", 100),
    ("thousand", 1_000),
    ("million", 1_000_000),
    ("billion", 1_000_000_000),
    ("dozen", 12),
];
pub(super) const ORDINALS: [(&str, &str); 10] = [
    ("first", "1st"),
    ("second", "2nd"),
    ("third", "3rd"),
    ("fourth", "4th"),
    ("fifth", "5th"),
    ("sixth", "6th"),
    ("seventh", "7th"),
    ("eighth", "8th"),
    ("ninth", "9th"),
    ("tenth", "10th"),
];

pub(super) fn small_value(w: &str) -> Option<u64> {
    if let Some(i) = SMALL_NUMBERS.iter().position(|n| *n == w) {
        return Some(i as u64);
    }
    TENS.iter()
        .position(|n| *n == w)
        .map(|i| (i as u64 + 2) * 10)
}

/// Number words as digits: "three" -> 3, "twenty one" -> 21, "a hundred" -> 100, "one thousand
/// two hundred" -> 1200, "second" -> 2nd. "no one" stays a negation ("nobody").
pub(super) fn fold_number_words(t: Vec<Token>) -> Vec<Token> {
    let mut out: Vec<Token> = Vec::with_capacity(t.len());
    let mut i = 0;
    while i < t.len() {
        if matches_at(&t, i, &["no", "one"]) {
            out.push(Token::word("nobody"));
            i += 2;
            continue;
        }
        if let Some((_, ord)) = t[i]
            .as_word()
            .and_then(|w| ORDINALS.iter().find(|(o, _)| *o == w))
        {
            out.push(Token::word(*ord));
            i += 1;
            continue;
        }
        // A run of number words.
        let mut total = 0u64;
        let mut current = 0u64;
        let mut j = i;
        let mut any = false;
        while let Some(w) = t.get(j).and_then(Token::as_word) {
            if let Some(v) = small_value(w) {
                // After "twenty" only a unit; after "hundred"/"thousand" anything below 100.
                let fits = !any
                    || (current.is_multiple_of(100) && (current > 0 || total > 0))
                    || (current.is_multiple_of(10) && current % 100 >= 20 && v < 10);
                if !fits {
                    break;
                }
                current += v;
            } else if let Some((_, scale)) = SCALES.iter().find(|(s, _)| *s == w) {
                let base = if any {
                    current.max(1)
                } else if out.last().and_then(Token::as_word) == Some("a") {
                    out.pop();
                    1
                } else {
                    break;
                };
                if *scale >= 1000 {
                    total += base * scale;
                    current = 0;
                } else {
                    current = base * scale;
                }
            } else if w == "and"
                && (current > 0 && current.is_multiple_of(100) || total > 0 && current == 0)
                && t.get(j + 1)
                    .and_then(Token::as_word)
                    .and_then(small_value)
                    .is_some()
            {
                j += 1;
                continue;
            } else {
                break;
            }
            any = true;
            j += 1;
        }
        if any {
            out.push(Token::word((total + current).to_string()));
            i = j;
            continue;
        }
        out.push(t[i].clone());
        i += 1;
    }
    out
}

/// A capital letter right after a number is a unit ("180 C", "1.5 L"), not a name: a word, as
/// written ("180C" reads the same). So is one after a number's currency or percent ("3 usd A"):
/// the currency folded from before the number ("dollars three A") comes between them.
pub(super) fn units_after_numbers(t: Vec<Token>) -> Vec<Token> {
    let mut out: Vec<Token> = Vec::with_capacity(t.len());
    for tok in t {
        let word_back = |n: usize| out.len().checked_sub(n).and_then(|i| out[i].as_word());
        let after_number = word_back(1).is_some_and(is_numeric)
            || word_back(1).is_some_and(|w| MONEY_WORDS.iter().any(|(_, code)| *code == w))
                && word_back(2).is_some_and(is_numeric);
        match tok {
            Token::Literal(l)
                if after_number
                    && l.kind == LiteralKind::Token
                    && l.text.len() == 1
                    && l.text.chars().all(|c| c.is_ascii_uppercase()) =>
            {
                out.push(Token::word(l.text));
            }
            // "three AM": a clock time once the number word is a number, as "3 AM" reads.
            Token::Literal(l)
                if after_number
                    && l.kind == LiteralKind::Token
                    && matches!(l.text.to_lowercase().as_str(), "am" | "pm") =>
            {
                out.push(Token::word(l.text.to_lowercase()));
            }
            other => out.push(other),
        }
    }
    out
}

/// Currency and percent words and what they fold to.
pub(super) const MONEY_WORDS: [(&str, &str); 16] = [
    ("percent", "%"),
    ("pct", "%"),
    ("dollars", "usd"),
    ("dollar", "usd"),
    ("bucks", "usd"),
    ("usd", "usd"),
    ("euros", "eur"),
    ("euro", "eur"),
    ("eur", "eur"),
    ("gbp", "gbp"),
    ("quid", "gbp"),
    ("yen", "jpy"),
    ("jpy", "jpy"),
    ("rupees", "inr"),
    ("rupee", "inr"),
    ("inr", "inr"),
];

/// Whether a (lowercase) word is a number word ("three", "hundred", "first").
pub(super) fn is_number_word(w: &str) -> bool {
    small_value(w).is_some()
        || SCALES.iter().any(|(s, _)| *s == w)
        || ORDINALS.iter().any(|(o, _)| *o == w)
}

/// Currency and percent words: "5 dollars" / "$5" / "5 USD" -> "5 usd"; "5 percent" -> "5 %".
pub(super) fn fold_money_and_percent(t: Vec<Token>) -> Vec<Token> {
    const WORDS: [(&str, &str); 16] = MONEY_WORDS;
    let is_number = |t: Option<&Token>| t.and_then(Token::as_word).is_some_and(is_numeric);
    let mut out: Vec<Token> = Vec::with_capacity(t.len());
    let mut i = 0;
    while i < t.len() {
        if matches_at(&t, i, &["per", "cent"]) {
            out.push(Token::word("%"));
            i += 2;
            continue;
        }
        let folded = t[i]
            .as_word()
            .and_then(|w| WORDS.iter().find(|(from, _)| *from == w))
            .map(|(_, to)| *to);
        match folded {
            // A currency before its number goes after it ("USD 5" -> "5 usd").
            Some(code) if code != "%" && is_number(t.get(i + 1)) && !is_number(out.last()) => {
                out.push(t[i + 1].clone());
                out.push(Token::word(code));
                i += 2;
            }
            Some(code) => {
                out.push(Token::word(code));
                i += 1;
            }
            None => {
                out.push(t[i].clone());
                i += 1;
            }
        }
    }
    out
}

pub(crate) fn is_numeric(w: &str) -> bool {
    w.starts_with(|c: char| c.is_ascii_digit())
        && w.chars()
            .all(|c| c.is_ascii_digit() || c == '.' || c == ',' || c == '-')
}

/// Between two numbers: "times", "x", "*", "multiplied by" -> "×"; "divided by", "/" -> "÷";
/// "plus" -> "+"; "minus" -> "-".
pub(super) fn fold_arithmetic(t: Vec<Token>) -> Vec<Token> {
    const OPS: [(&[&str], &str); 9] = [
        (&["multiplied", "by"], "×"),
        (&["divided", "by"], "÷"),
        (&["times"], "×"),
        (&["x"], "×"),
        (&["*"], "×"),
        (&["/"], "÷"),
        (&["plus"], "+"),
        (&["minus"], "-"),
        (&["−"], "-"),
    ];
    let mut out: Vec<Token> = Vec::with_capacity(t.len());
    let mut i = 0;
    while i < t.len() {
        let after_number = out.last().and_then(Token::as_word).is_some_and(is_numeric);
        if after_number {
            if let Some((phrase, op)) = OPS.iter().find(|(p, _)| {
                matches_at(&t, i, p)
                    && t.get(i + p.len())
                        .and_then(Token::as_word)
                        .is_some_and(is_numeric)
            }) {
                out.push(Token::word(*op));
                i += phrase.len();
                continue;
            }
        }
        out.push(t[i].clone());
        i += 1;
    }
    out
}

/// A dash that is not a minus between two numbers is punctuation ("them - it is").
pub(super) fn dashes_to_breaks(t: Vec<Token>) -> Vec<Token> {
    let numeric = |x: Option<&Token>| x.and_then(Token::as_word).is_some_and(is_numeric);
    (0..t.len())
        .map(|i| {
            let dash = t[i].as_word() == Some("-");
            if dash && !(i > 0 && numeric(t.get(i - 1)) && numeric(t.get(i + 1))) {
                Token::Break(',')
            } else {
                t[i].clone()
            }
        })
        .collect()
}
