//! Tokens: a prompt's prose cut into words, numbers (with their units and currencies), literal
//! tokens (mixed case, digits among letters, inner symbols) and breaks; and whether the prompt is
//! about letters or case.

use super::courtesy::{COURTESY_CORE, GREETINGS, POLITENESS};
use super::numbers::{is_number_word, MONEY_WORDS, SCALES};
use super::{is_numeric, written_as_code, Token};
use crate::literals::{Literal, LiteralKind, Span};

/// Words that make a prompt about letters or case.
pub(super) const CASE_TASK_WORDS: [&str; 48] = [
    "uppercase",
    "lowercase",
    "uppercased",
    "lowercased",
    "capitalize",
    "capitalise",
    "capitalized",
    "capitalised",
    "capitalization",
    "capitalisation",
    "capitals",
    "caps",
    "casing",
    "camelcase",
    "snakecase",
    "pascalcase",
    "titlecase",
    "swapcase",
    "letters",
    "characters",
    "chars",
    "alphabet",
    "alphabetical",
    "alphabetically",
    "spell",
    "spelling",
    "spelled",
    "spelt",
    "anagram",
    "anagrams",
    "palindrome",
    "palindromes",
    "vowels",
    "consonants",
    "ascii",
    "unicode",
    "regex",
    "regexp",
    "base64",
    "encode",
    "decode",
    "hash",
    "checksum",
    "cipher",
    "encrypt",
    "decrypt",
    "rot13",
    "acronym",
];

pub(super) const CASE_TASK_PHRASES: [[&str; 2]; 10] = [
    ["upper", "case"],
    ["lower", "case"],
    ["title", "case"],
    ["camel", "case"],
    ["snake", "case"],
    ["sentence", "case"],
    ["case", "sensitive"],
    ["case", "insensitive"],
    ["capital", "letter"],
    ["regular", "expression"],
];

/// Operations that keep the case of the text they act on, unless they are asked about in general
/// ("reverse a linked list", "sort an array").
pub(super) const CASE_KEEPING_VERBS: [&str; 9] = [
    "reverse",
    "reversed",
    "reversing",
    "backwards",
    "backward",
    "sort",
    "sorted",
    "sorting",
    "alphabetize",
];
/// Nouns for text, case-sensitive when they point at a given text ("the string Hello"), not at
/// strings in general ("split a string in Python").
pub(super) const TEXT_NOUNS: [&str; 4] = ["string", "strings", "substring", "substrings"];
pub(super) const POINTING_WORDS: [&str; 10] = [
    "the",
    "this",
    "that",
    "these",
    "those",
    "following",
    "given",
    "my",
    "your",
    "input",
];

/// The pieces of prose the tokeniser reads as words or literal tokens (see `tokenize`), without
/// those written back as code (backticks, fence marks), which are out of the prose when the
/// normalised text is read again.
fn prose_pieces(prose: &str) -> Vec<&str> {
    let mut pieces = Vec::new();
    for chunk in prose.split_whitespace() {
        let core = chunk
            .trim_start_matches(LEADING_PUNCT)
            .trim_end_matches(TRAILING_PUNCT);
        let parts: Vec<&str> = core.split(',').collect();
        let glued_words = parts[..parts.len() - 1]
            .iter()
            .all(|p| !p.is_empty() && p.chars().all(char::is_alphabetic));
        if glued_words {
            pieces.extend(parts.iter().map(|p| p.trim_start_matches(LEADING_PUNCT)));
        } else {
            pieces.push(core);
        }
    }
    pieces.retain(|p| !p.is_empty() && !written_as_code(p));
    pieces
}

/// Words that go ("please", "thanks") and so decide nothing about the words around them.
pub(super) fn goes_anyway(w: &str) -> bool {
    POLITENESS.contains(&w) || COURTESY_CORE.contains(&w) || w == "you"
}

pub(super) fn mentions_case(prose: &str) -> bool {
    // Each word, and whether it is a whole piece (not a part of "[A-Z]" or "step-by-step");
    // "e-mail" is the one word "email", as the tokeniser reads it.
    let mut words: Vec<(String, bool)> = Vec::new();
    for piece in prose_pieces(prose) {
        if let Some(joined) = letter_prefixed(piece) {
            words.push((joined.to_lowercase(), true));
            continue;
        }
        let whole = piece.trim_matches('-').len();
        words.extend(
            piece
                .split(|c: char| !c.is_alphanumeric())
                .filter(|w| !w.is_empty())
                .map(|w| (w.to_lowercase(), w.len() == whole)),
        );
    }
    let at = |i: usize| words.get(i).map(|(w, _)| w.as_str());
    // "Reverse please a list" is "reverse a list": politeness and thanks, which go, decide
    // nothing.
    // An article, not the start of a number ("reverse a hundred" is "reverse 100").
    let general = |i: usize| {
        let Some(j) = (i..words.len()).find(|&j| !goes_anyway(&words[j].0)) else {
            return false;
        };
        let (w, whole) = &words[j];
        *whole
            && matches!(w.as_str(), "a" | "an")
            && at(j + 1).is_none_or(|n| !SCALES.iter().any(|(s, _)| *s == n))
    };
    (0..words.len()).any(|i| {
        let w = words[i].0.as_str();
        CASE_TASK_WORDS.contains(&w)
            || CASE_TASK_PHRASES
                .iter()
                .any(|[a, b]| w == *a && at(i + 1) == Some(*b))
            || CASE_KEEPING_VERBS.contains(&w) && !general(i + 1)
            || TEXT_NOUNS.contains(&w) && i > 0 && POINTING_WORDS.contains(&words[i - 1].0.as_str())
    })
}

/// Punctuation peeled off the start and end of a whitespace-separated chunk.
pub(super) const LEADING_PUNCT: &[char] =
    &['(', '"', '\'', '“', '‘', '’', '«', '‹', '¿', '¡', '*', '_'];
pub(super) const TRAILING_PUNCT: &[char] = &[
    '.', ',', '!', '?', ';', ':', ')', '"', '\'', '”', '’', '»', '›', '*', '_', '…',
];

/// Units and suffixes a number may be written against ("10kg", "5%", "3pm", "1st", "1990s").
pub(super) const NUMBER_SUFFIXES: [&str; 44] = [
    "%", "°c", "°f", "°", "c", "f", "kg", "g", "mg", "lb", "lbs", "oz", "km", "m", "cm", "mm",
    "mi", "ft", "yd", "l", "ml", "gb", "mb", "kb", "tb", "gbps", "mbps", "hz", "khz", "mhz", "ghz",
    "ms", "s", "min", "h", "hr", "hrs", "am", "pm", "k", "st", "nd", "rd", "th",
];

/// Currency symbols and the code they fold to.
pub(super) const CURRENCY_SYMBOLS: [(char, &str); 5] = [
    ('$', "usd"),
    ('€', "eur"),
    ('£', "gbp"),
    ('¥', "jpy"),
    ('₹', "inr"),
];

/// A prompt typed in capitals ("WHAT ARE THE SYMPTOMS OF ...") is shouted, not full of acronyms.
pub(super) fn is_shouting(spans: &[Span]) -> bool {
    let (mut words, mut capitals) = (0, 0);
    for span in spans {
        if let Span::Prose(p) = span {
            // Words that go or become digits and symbols (thanks, greetings, articles, "three",
            // "percent") do not decide how the rest reads.
            for w in prose_pieces(p)
                .into_iter()
                .flat_map(|piece| piece.split(|c: char| !c.is_alphabetic()))
                .filter(|w| w.chars().count() >= 2)
                .filter(|w| {
                    let w = w.to_lowercase();
                    !(goes_anyway(&w)
                        || GREETINGS.iter().any(|g| g.contains(&w.as_str()))
                        || matches!(w.as_str(), "an" | "the")
                        || is_number_word(&w)
                        || MONEY_WORDS.iter().any(|(m, _)| *m == w))
                })
            {
                words += 1;
                capitals += w.chars().all(char::is_uppercase) as usize;
            }
        }
    }
    words >= 3 && capitals * 5 >= words * 4
}

pub(super) fn tokenize(prose: &str, case_sensitive: bool, shouting: bool, out: &mut Vec<Token>) {
    let mut sentence_start = out.last().is_none_or(Token::is_sentence_break);
    for line in prose.split_inclusive('\n') {
        for chunk in line.split_whitespace() {
            let core = chunk.trim_start_matches(LEADING_PUNCT);
            let trail_start = core.trim_end_matches(TRAILING_PUNCT).len();
            let (core, trail) = core.split_at(trail_start);
            // "German,please": a comma typed without its space between two words.
            let parts: Vec<&str> = core.split(',').collect();
            let glued_words = parts[..parts.len() - 1]
                .iter()
                .all(|p| !p.is_empty() && p.chars().all(char::is_alphabetic));
            if glued_words {
                for (i, part) in parts.iter().enumerate() {
                    // The word after a glued comma may open with punctuation, as a chunk may
                    // ("a,\"b" reads as "a, \"b"), and it is peeled off the same way.
                    let part = part.trim_start_matches(LEADING_PUNCT);
                    if !part.is_empty() {
                        let start = sentence_start && i == 0;
                        chunk_tokens(part, start, case_sensitive, shouting, out);
                    }
                    if i + 1 < parts.len() {
                        out.push(Token::Break(','));
                    }
                }
            } else {
                // Not words and commas ("1,000", "a,1,000"): the chunk as a whole.
                chunk_tokens(core, sentence_start, case_sensitive, shouting, out);
            }
            if !core.is_empty() {
                sentence_start = out.last().is_some_and(Token::is_sentence_break);
            }
            if let Some(mark) = trail
                .chars()
                .find(|c| matches!(c, '.' | '!' | '?' | ';' | ':'))
            {
                out.push(Token::Break(mark));
                sentence_start = true;
            } else if trail.contains(',') {
                out.push(Token::Break(','));
            }
        }
        if line.ends_with('\n') {
            out.push(Token::Break('\n'));
            sentence_start = true;
        }
    }
}

pub(super) fn token_literal(text: &str) -> Token {
    Token::Literal(Literal::new(LiteralKind::Token, text))
}

/// The tokens of one chunk of prose without surrounding punctuation.
pub(super) fn chunk_tokens(
    core: &str,
    sentence_start: bool,
    case_sensitive: bool,
    shouting: bool,
    out: &mut Vec<Token>,
) {
    if core.is_empty() {
        // Either side of a hyphen at a word's edge ("-to", "it-"): no word, not an empty one.
        return;
    }
    if matches!(core, "—" | "–" | "--") {
        out.push(Token::Break(','));
        return;
    }
    if let Some((tokens, per)) = number_tokens(core) {
        out.extend(tokens);
        if let Some(unit) = per {
            // The unit after '/' is a word like any other ("5/A" keeps its capital A).
            out.push(Token::word("/"));
            word_token(unit, false, case_sensitive, shouting, out);
        }
        return;
    }
    let has_letter = core.chars().any(char::is_alphabetic);
    let has_digit = core.chars().any(|c| c.is_ascii_digit());
    let symbolic = core
        .chars()
        .any(|c| !(c.is_alphanumeric() || c == '\'' || c == '’' || c == '-'));
    if !has_letter && !has_digit {
        // Backticks and fence marks that opened no code are kept exactly: written out as words
        // they could open code when the text is read again.
        if written_as_code(core) {
            out.push(token_literal(core));
            return;
        }
        // An operator or symbol on its own ("+", "×", "&").
        out.push(Token::word(core));
        return;
    }
    // A unit on its own ("38.5 °C").
    if core
        .strip_prefix('°')
        .is_some_and(|u| u.len() <= 1 && u.chars().all(|c| c.is_ascii_alphabetic()))
    {
        out.push(Token::word(core));
        return;
    }
    // A unit after its number keeps its case ("5 MB" is not "5 Mb").
    let after_number = out.last().and_then(Token::as_word).is_some_and(is_numeric);
    if after_number && NUMBER_SUFFIXES.contains(&core.to_lowercase().as_str()) {
        let clock = matches!(core.to_lowercase().as_str(), "am" | "pm");
        out.push(Token::word(if clock {
            core.to_lowercase()
        } else {
            core.to_string()
        }));
        return;
    }
    if core.contains('-') && !symbolic {
        let parts: Vec<&str> = core.split('-').collect();
        let plain = |p: &&str| {
            p.chars().all(|c| c.is_ascii_digit())
                || p.chars().count() >= 2 && p.chars().all(char::is_alphabetic)
        };
        if let Some(joined) = letter_prefixed(core) {
            word_token(&joined, sentence_start, case_sensitive, shouting, out);
        } else if parts.iter().all(plain)
            && parts.iter().any(|p| p.chars().any(char::is_alphabetic))
        {
            // "step-by-step", "100-word", "2-week".
            for (i, p) in parts.into_iter().enumerate() {
                chunk_tokens(p, sentence_start && i == 0, case_sensitive, shouting, out);
            }
        } else {
            out.push(token_literal(core));
        }
        return;
    }
    if symbolic || (has_letter && has_digit) {
        out.push(token_literal(core));
        return;
    }
    word_token(core, sentence_start, case_sensitive, shouting, out);
}

/// "e-mail" / "email", "t-shirt" / "tshirt": a lowercase letter, a hyphen and a word are one word.
fn letter_prefixed(core: &str) -> Option<String> {
    let (letter, rest) = core.split_once('-')?;
    let one_letter = letter.len() == 1 && letter.chars().all(|c| c.is_ascii_lowercase());
    (one_letter && rest.chars().all(char::is_alphabetic)).then(|| [letter, rest].concat())
}

/// Common words that are also acronyms when written in capitals.
pub(super) const ACRONYMS_LIKE_WORDS: [&str; 30] = [
    "it", "us", "am", "pm", "or", "and", "in", "on", "no", "me", "hi", "so", "do", "go", "be",
    "we", "he", "an", "as", "at", "by", "if", "is", "of", "to", "up", "id", "ok", "oh", "my",
];

/// A word: literal if its case is mixed ("iPhone", "AbC") or it is a single capital letter
/// ("vitamin A"), else folded to lowercase, remembering whether it was written as a name.
pub(super) fn word_token(
    word: &str,
    sentence_start: bool,
    case_sensitive: bool,
    shouting: bool,
    out: &mut Vec<Token>,
) {
    let word = word.replace('’', "'");
    if shouting && word.chars().all(|c| !is_lower(c)) && word.chars().count() >= 2 {
        out.push(Token::word(fold_case(&word)));
        return;
    }
    let letters: Vec<char> = word.chars().filter(|c| c.is_alphabetic()).collect();
    let all_upper = letters.iter().all(|c| !is_lower(*c));
    let all_lower = letters.iter().all(|c| !is_upper(*c));
    let title =
        letters.first().is_some_and(|c| is_upper(*c)) && letters[1..].iter().all(|c| !is_upper(*c));
    let single_capital = letters.len() == 1 && all_upper && is_upper(letters[0]);
    if !(all_upper || all_lower || title)
        || (single_capital && word != "I" && !(word == "A" && sentence_start))
    {
        out.push(token_literal(&word));
        return;
    }
    if case_sensitive {
        // "A" starting a sentence is the article, and reads as one wherever it ends up.
        let article = word == "A" && sentence_start;
        out.push(Token::word(if article { "a".to_string() } else { word }));
        return;
    }
    // "IT" is not "it", "US" is not "us": an acronym spelled like a common word keeps its case.
    if letters.len() >= 2
        && all_upper
        && ACRONYMS_LIKE_WORDS.contains(&word.to_lowercase().as_str())
    {
        out.push(token_literal(&word));
        return;
    }
    let named = !all_lower && word != "I" && (letters.len() >= 2 && all_upper || !sentence_start);
    out.push(Token::Word {
        text: fold_case(&word),
        named,
    });
}

/// An uppercase letter that has a lowercase: a capital without one ('𝒞', mathematical script)
/// reads the same once the word is folded, so it is no capital.
fn is_upper(c: char) -> bool {
    c.is_uppercase() && !c.to_lowercase().eq([c])
}

/// A lowercase letter that has an uppercase.
fn is_lower(c: char) -> bool {
    c.is_lowercase() && !c.to_uppercase().eq([c])
}

/// A word in lowercase that still reads as one word: 'İ' (Turkish dotted capital I) lowercases
/// to 'i' and a combining dot, which is not a letter, so it folds to a plain 'i'.
fn fold_case(word: &str) -> String {
    if word.contains('İ') {
        word.replace('İ', "I").to_lowercase()
    } else {
        word.to_lowercase()
    }
}

/// Numbers with their currency, unit or operator split off: "$1,000" -> "1000 usd",
/// "10kg" -> "10 kg", "7*6" -> "7 × 6"; ordinals and decades stay whole ("1st", "1990s").
/// None if the chunk is not a number. The unit of a per-unit suffix ("/month") comes apart.
pub(super) fn number_tokens(core: &str) -> Option<(Vec<Token>, Option<&str>)> {
    // "0x1F": a hex literal, not 0 × 1.
    if core.len() > 2 && (core.starts_with("0x") || core.starts_with("0X")) {
        return None;
    }
    let currency_at = |s: &str| {
        CURRENCY_SYMBOLS
            .iter()
            .find(|(c, _)| s.starts_with(*c))
            .copied()
    };
    let mut rest = core;
    let mut currency = None;
    if let Some((sym, code)) = currency_at(rest) {
        currency = Some(code);
        rest = &rest[sym.len_utf8()..];
        // "$0x1F" is a symbol and a hex literal, not 0 × 1.
        if rest.len() > 2 && (rest.starts_with("0x") || rest.starts_with("0X")) {
            return None;
        }
    }
    let mut out = Vec::new();
    loop {
        let digits_end = rest
            .char_indices()
            .find(|(_, c)| !(c.is_ascii_digit() || *c == '.' || *c == ','))
            .map_or(rest.len(), |(i, _)| i);
        let number = rest[..digits_end].trim_end_matches(['.', ',']);
        if !number.starts_with(|c: char| c.is_ascii_digit()) {
            return None;
        }
        out.push(Token::word(plain_number(number)));
        rest = &rest[number.len()..];
        let Some(op) = rest.chars().next() else { break };
        let operand_follows = rest[op.len_utf8()..].starts_with(|c: char| c.is_ascii_digit());
        let folded = match op {
            '*' | '×' | 'x' => "×",
            '/' | '÷' => "÷",
            '+' => "+",
            '^' => "^",
            _ => break,
        };
        if !operand_follows {
            break;
        }
        out.push(Token::word(folded));
        rest = &rest[op.len_utf8()..];
    }
    if let Some((sym, code)) = currency_at(rest) {
        currency = currency.or(Some(code));
        rest = &rest[sym.len_utf8()..];
    }
    // "$4,000/month", "60km/h": a per-unit suffix.
    let mut per = None;
    if let Some((before, unit)) = rest.split_once('/') {
        if !unit.is_empty() && unit.chars().all(char::is_alphabetic) {
            per = Some(unit);
            rest = before;
        }
    }
    if !rest.is_empty() {
        // Units keep their case: "5 Mb" is not "5 MB", "5 mg" is not "5 Mg".
        let suffix = rest.to_string();
        let lower = suffix.to_lowercase();
        if ["st", "nd", "rd", "th", "s", "'s"].contains(&lower.as_str())
            && out.len() == 1
            && currency.is_none()
        {
            let number = out.pop()?.as_word()?.to_string();
            out.push(Token::word(format!("{number}{suffix}")));
        } else if matches!(lower.as_str(), "am" | "pm") {
            // Clock times in any case, as when written apart ("5AM" is "5 am").
            out.push(Token::word(lower));
        } else if NUMBER_SUFFIXES.contains(&lower.as_str()) {
            out.push(Token::word(suffix));
        } else {
            return None;
        }
    }
    // The currency after the unit, so a unit stays right after its number ("$5F" -> "5 F usd"),
    // as it is when the text is read again.
    if let Some(code) = currency {
        out.push(Token::word(code));
    }
    Some((out, per))
}

/// "1,000" -> "1000" (thousands separators only), other forms as written.
pub(super) fn plain_number(n: &str) -> String {
    let (int, frac) = n.split_once('.').map_or((n, None), |(i, f)| (i, Some(f)));
    let groups: Vec<&str> = int.split(',').collect();
    if groups.len() > 1 && groups[1..].iter().all(|g| g.len() == 3) && !groups[0].is_empty() {
        let joined = groups.concat();
        frac.map_or(joined.clone(), |f| format!("{joined}.{f}"))
    } else {
        n.to_string()
    }
}
