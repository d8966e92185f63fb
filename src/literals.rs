//! Literal spans of a prompt: text whose every character can change the answer, so normalisation
//! never touches it and the semantic cache compares it exactly, case included.
//!
//! - Code: fenced, indented and inline code, found by CommonMark's rules (`commonmark` below,
//!   checked against pulldown-cmark in the tests).
//! - Quoted strings: '...', "...", “...”, ‘...’, «...». A quote only opens at the start of a word
//!   and only closes at its end, so the apostrophes of "don't" or "users'" never open a literal.
//!   Quote style is not part of the literal: 'hi' and "hi" are the same literal.
//! - Verbatim tails: what follows a cue that asks for text to be reproduced ("Answer with exactly:
//!   Please hold", "Repeat after me: ...", "Say: ...") up to the end of its line or sentence.
//!
//! Tokens with inner capitals, digits mixed with letters or inner symbols (keys, hashes, IDs,
//! regexes) are literals too; they are found word by word in `normalize`.

use std::ops::Range;

/// A part of a prompt: prose to normalise, or a literal to keep.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Span<'a> {
    Prose(&'a str),
    Literal(Literal),
}

/// Text compared exactly. Two literals are the same if their text is; the kind only says how to
/// write it back so that it reads as the same literal again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Literal {
    pub kind: LiteralKind,
    pub text: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LiteralKind {
    /// Inline code (its code, without the backticks).
    Code,
    /// A fenced or indented code block, or an HTML block, as written.
    Block,
    /// A quoted string or a verbatim tail (the text inside, without quotes).
    Quoted,
    /// One token with inner capitals, digits among letters or inner symbols.
    Token,
}

impl Literal {
    pub fn new(kind: LiteralKind, text: impl Into<String>) -> Literal {
        Literal {
            kind,
            text: text.into(),
        }
    }

    /// The literal written so that `split` reads it back as the same literal.
    pub fn render(&self) -> String {
        self.render_after("")
    }

    /// The literal written after `before` so that `split` reads it back as the same literal: a
    /// quoted literal takes quotes that close nothing left open in `before` (a stray '“' there
    /// would take the literal's '"' as its end), or is written as code when its own text would
    /// close such a quote or holds backticks (which would pair with code written after it).
    pub fn render_after(&self, before: &str) -> String {
        let t = &self.text;
        match self.kind {
            LiteralKind::Token => t.clone(),
            LiteralKind::Block => commonmark::render_block(t),
            LiteralKind::Code => {
                let fence = "`".repeat(longest_run(t, '`') + 1);
                // Reading strips one space at each end when both ends have one (and the code is
                // not all spaces), and backticks at an end would join the fence.
                let spaced =
                    t.starts_with(' ') && t.ends_with(' ') && !t.trim_matches(' ').is_empty();
                let pad = if t.starts_with('`') || t.ends_with('`') || spaced {
                    " "
                } else {
                    ""
                };
                format!("{fence}{pad}{t}{pad}{fence}")
            }
            LiteralKind::Quoted => {
                // Quote characters `before` leaves open in its prose.
                let open: Vec<char> = if before.contains(|c| closers(c).is_some()) {
                    split(before)
                        .iter()
                        .filter_map(|s| match s {
                            Span::Prose(p) => Some(*p),
                            Span::Literal(_) => None,
                        })
                        .flat_map(|p| p.chars().filter(|c| closers(*c).is_some()))
                        .collect()
                } else {
                    Vec::new()
                };
                let closes_open = |c: char| {
                    open.iter()
                        .any(|o| closers(*o).is_some_and(|cs| cs.contains(&c)))
                };
                // A line break would not survive as code: such a literal keeps its quotes.
                if (t.contains('`') || t.chars().any(closes_open)) && !t.contains('\n') {
                    return Literal::new(LiteralKind::Code, t.as_str()).render();
                }
                // A pair none of whose closing characters is in the text ('“' is also closed by
                // '"'), so the text cannot end early when it is read back.
                let (open, close) = [('"', '"'), ('“', '”'), ('«', '»'), ('‹', '›')]
                    .into_iter()
                    .find(|(o, c)| {
                        !t.contains(*o)
                            && closers(*o).is_some_and(|cs| !t.contains(cs))
                            && !closes_open(*c)
                    })
                    .unwrap_or(('"', '"'));
                format!("{open}{t}{close}")
            }
        }
    }
}

fn longest_run(text: &str, c: char) -> usize {
    let (mut best, mut run) = (0, 0);
    for ch in text.chars() {
        run = if ch == c { run + 1 } else { 0 };
        best = best.max(run);
    }
    best
}

/// Splits a prompt into prose and literals, in order.
pub fn split(text: &str) -> Vec<Span<'_>> {
    let mut out = Vec::new();
    let mut at = 0;
    for (range, literal) in code_spans(text) {
        split_prose(&text[at..range.start], at > 0, &mut out);
        out.push(Span::Literal(literal));
        at = range.end;
    }
    split_prose(&text[at..], at > 0, &mut out);
    out
}

/// Code (fenced, indented, inline), with the text each is compared by: the code of an inline
/// span (CommonMark strips one space at each end), a block as ```info, its code, ```.
fn code_spans(text: &str) -> Vec<(Range<usize>, Literal)> {
    // Fast path: most prompts have no backtick, tilde fence or indented line, and need no scan.
    let may_have_code = text.contains(['`', '~'])
        || text.starts_with(['\t', ' '])
        || text.contains("\n ")
        || text.contains("\n\t");
    if !may_have_code {
        return Vec::new();
    }
    commonmark::code(text)
}

/// Quote pairs: opening character and the characters that close it.
const QUOTES: [(char, &[char]); 7] = [
    ('"', &['"', '”']),
    ('\'', &['\'', '’']),
    ('“', &['”', '"']),
    ('‘', &['’', '\'']),
    ('«', &['»']),
    ('„', &['“', '”']),
    ('‹', &['›']),
];

fn closers(open: char) -> Option<&'static [char]> {
    QUOTES.iter().find(|(o, _)| *o == open).map(|(_, c)| *c)
}

/// Opening punctuation after which a quote may open.
fn opens_before(c: char) -> bool {
    c.is_whitespace() || matches!(c, '(' | '[' | '{' | ':' | ';' | ',' | '—' | '–' | '-' | '/')
}

/// Where a quote opened at byte `open` (its character `q`) closes: the first closing character
/// at the end of a word, before a blank line. None if it never closes.
fn closing_quote(text: &str, open: usize, q: char) -> Option<usize> {
    let closing = closers(q)?;
    let body_start = open + q.len_utf8();
    let mut prev: Option<char> = None;
    let mut chars = text[body_start..].char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        if c == '\n' && prev == Some('\n') {
            return None;
        }
        let next = chars.peek().map(|(_, n)| *n);
        let at_word_end = next.is_none_or(|n| !n.is_alphanumeric());
        if closing.contains(&c) && i > 0 && prev.is_some_and(|p| !p.is_whitespace()) && at_word_end
        {
            return Some(body_start + i);
        }
        prev = Some(c);
    }
    None
}

/// Splits prose into quoted literals, verbatim tails and the prose around them; `after_literal`:
/// the prose follows code (see `at_sentence_start`), as the prose after a quote does.
fn split_prose<'a>(text: &'a str, after_literal: bool, out: &mut Vec<Span<'a>>) {
    let mut after_literal = after_literal;
    let mut at = 0;
    let mut prev: Option<char> = None;
    let mut iter = text.char_indices().peekable();
    while let Some((i, c)) = iter.next() {
        let next = iter.peek().map(|(_, n)| *n);
        let can_open = closers(c).is_some()
            && prev.is_none_or(opens_before)
            && next.is_some_and(|n| !n.is_whitespace());
        if can_open {
            // Backticks in a quote over lines cannot be written back (as code, the line break
            // would go; in quotes, they would pair with code after them): no quote then.
            let writable = |close: &usize| {
                let inner = &text[i + c.len_utf8()..*close];
                !(inner.contains('`') && inner.contains('\n'))
            };
            if let Some(close) = closing_quote(text, i, c).filter(writable) {
                split_verbatim(&text[at..i], after_literal, out);
                after_literal = true;
                let inner = &text[i + c.len_utf8()..close];
                out.push(Span::Literal(Literal::new(LiteralKind::Quoted, inner)));
                let close_len = text[close..].chars().next().map_or(1, char::len_utf8);
                at = close + close_len;
                // Resume after the closing quote.
                while iter.peek().is_some_and(|(j, _)| *j < at) {
                    iter.next();
                }
                prev = text[..at].chars().next_back();
                continue;
            }
        }
        prev = Some(c);
    }
    split_verbatim(&text[at..], after_literal, out);
}

/// Whether a word, written on its own between spaces, has a quote character that could open a
/// quote (see `split_prose`: at the start of the word or after opening punctuation, before more
/// of it), as in ",\"A" or "x-'y". `split` found no quote there, or the word would not be one;
/// what kept the quote from closing may be a blank line the normalised text writes otherwise.
pub fn may_open_quote(word: &str) -> bool {
    let mut prev: Option<char> = None;
    let mut chars = word.chars().peekable();
    while let Some(c) = chars.next() {
        if closers(c).is_some()
            && prev.is_none_or(opens_before)
            && chars.peek().is_some_and(|n| !n.is_whitespace())
        {
            return true;
        }
        prev = Some(c);
    }
    false
}

/// Cues after which the rest of the sentence is to be reproduced as written. Matched on whole
/// words, case-insensitively; `Start` cues only at the start of a sentence.
const VERBATIM_CUES: [(&str, CuePlace); 17] = [
    ("exactly", CuePlace::AfterVerb),
    ("verbatim", CuePlace::AfterVerb),
    ("word for word", CuePlace::AfterVerb),
    ("word-for-word", CuePlace::AfterVerb),
    ("repeat after me", CuePlace::Anywhere),
    ("reply with", CuePlace::Anywhere),
    ("respond with", CuePlace::Anywhere),
    ("answer with", CuePlace::Anywhere),
    ("reply only with", CuePlace::Anywhere),
    ("respond only with", CuePlace::Anywhere),
    ("answer only with", CuePlace::Anywhere),
    ("output only", CuePlace::Anywhere),
    ("print only", CuePlace::Anywhere),
    ("the following text", CuePlace::Anywhere),
    ("say", CuePlace::Start),
    ("repeat", CuePlace::Start),
    ("echo", CuePlace::Start),
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum CuePlace {
    Anywhere,
    /// At the start of a sentence.
    Start,
    /// Before a colon, or after a verb of reproducing ("write exactly", but not "what exactly is").
    AfterVerb,
}

/// Verbs that ask for text to be reproduced, for `CuePlace::AfterVerb` cues.
const REPRODUCING_VERBS: [&str; 16] = [
    "answer",
    "reply",
    "respond",
    "say",
    "write",
    "print",
    "output",
    "return",
    "type",
    "repeat",
    "copy",
    "echo",
    "use",
    "start",
    "end",
    "translate",
];

/// The first cue in `lower` at or after `from` that counts where it stands: (its start, its end).
fn find_cue(lower: &str, from: usize, after_literal: bool) -> Option<(usize, usize)> {
    let mut best: Option<(usize, usize)> = None;
    for (cue, place) in VERBATIM_CUES {
        let mut at = from;
        while let Some(pos) = lower[at..].find(cue).map(|p| p + at) {
            at = pos + cue.len();
            let before = lower[..pos].chars().next_back();
            let after = lower[pos + cue.len()..].chars().next();
            let whole_word = before.is_none_or(|c| !c.is_alphanumeric())
                && after.is_none_or(|c| !c.is_alphanumeric());
            let sentence_start = at_sentence_start(&lower[..pos], after_literal);
            let after_verb = || {
                let colon = lower[pos + cue.len()..]
                    .trim_start_matches([' ', '\t'])
                    .starts_with(':');
                colon
                    || lower[..pos]
                        .split(|c: char| !c.is_alphanumeric())
                        .filter(|w| !w.is_empty())
                        .rev()
                        .take(3)
                        .any(|w| REPRODUCING_VERBS.contains(&w))
            };
            let placed = match place {
                CuePlace::Anywhere => true,
                CuePlace::Start => sentence_start,
                CuePlace::AfterVerb => after_verb(),
            };
            if whole_word && placed {
                if best.is_none_or(|(b, _)| pos < b) {
                    best = Some((pos, pos + cue.len()));
                }
                break;
            }
        }
    }
    best
}

/// Symbols that stand for words ("%" for "percent", "$5") or are written as code in the
/// normalised text (backticks, tildes).
pub(crate) const WORD_SYMBOLS: &str = "%×÷+^=<>&$€£¥₹#@`~";

/// Words a sentence may open with before a cue that must start it ("Please say hi", "Hi, say
/// hi"): the normalised text drops them, and the cue then starts its sentence.
const BEFORE_START: [&str; 37] = [
    "please",
    "kindly",
    "pls",
    "plz",
    "hi",
    "hello",
    "hey",
    "hiya",
    "yo",
    "greetings",
    "good",
    "morning",
    "afternoon",
    "evening",
    "there",
    "thanks",
    "thank",
    "thx",
    "ty",
    "tysm",
    "cheers",
    "you",
    "in",
    "advance",
    "very",
    "much",
    "so",
    "lot",
    "ok",
    "okay",
    "a",
    "an",
    "the",
    "can",
    "could",
    "would",
    "will",
];

/// Whether `before` (lowercase) ends where a sentence starts: with nothing but punctuation and
/// the words above after a sentence end, a line break or the start ("\"Say: hi", "Fine.\n- Say
/// hi", "Please say hi"). Symbols that stand for words ("%", "+", "$") count as words, and so do
/// backticks and tildes, which the normalised text writes as code: prose after code or a quote
/// (`after_literal`, which the normalised text may write where there was none) starts no
/// sentence before its first sentence end.
fn at_sentence_start(before: &str, after_literal: bool) -> bool {
    let sentence = match before.rfind(['.', '!', '?', '\n', ':']) {
        Some(i) => &before[i + 1..],
        None if after_literal => return false,
        None => before,
    };
    // A greeting that opens the sentence may name someone up to its comma ("Hi ChatGPT, say hi",
    // "the hi there Bob, say hi"): the normalised text drops them with the greeting. Any words
    // count as the name here: a cue after a name the greeting keeps counts too, and its text is
    // then a literal either way.
    let words = |clause: &'_ str| -> Vec<String> {
        clause
            .split(|c: char| !(c.is_alphanumeric() || WORD_SYMBOLS.contains(c)))
            .filter(|w| !w.is_empty())
            .map(str::to_string)
            .collect()
    };
    let before_start = |w: &String| BEFORE_START.contains(&w.as_str());
    let mut first = true;
    clauses(sentence).into_iter().all(|clause| {
        let ws = words(clause);
        let greeting = first
            && ws
                .iter()
                .position(|w| GREETING_WORDS.contains(&w.as_str()))
                .is_some_and(|g| ws[..g].iter().all(before_start));
        // Clauses of words that go do not stand before the greeting ("The, hi Bob, say hi").
        first &= ws.iter().all(before_start);
        greeting || ws.iter().all(before_start)
    })
}

/// A sentence's clauses: split at commas, but not those inside a number ("1,000").
fn clauses(sentence: &str) -> Vec<&str> {
    let bytes = sentence.as_bytes();
    let digit = |i: Option<usize>| i.and_then(|i| bytes.get(i)).is_some_and(u8::is_ascii_digit);
    let mut out = Vec::new();
    let mut at = 0;
    for (i, c) in sentence.char_indices() {
        if c == ',' && !(digit(i.checked_sub(1)) && digit(Some(i + 1))) {
            out.push(&sentence[at..i]);
            at = i + 1;
        }
    }
    out.push(&sentence[at..]);
    out
}

/// The words of greetings (see `normalize::courtesy::GREETINGS`).
const GREETING_WORDS: [&str; 14] = [
    "yo",
    "hi",
    "hello",
    "hey",
    "hiya",
    "greetings",
    "there",
    "good",
    "morning",
    "afternoon",
    "evening",
    "ok",
    "okay",
    "so",
];

/// Byte offset where a verbatim tail starts in `text`: after its cue, any cue chained to it
/// ("answer with exactly:"), and a colon with the line breaks after it (the text may stand on the
/// next line). None if no cue has text after it: a cue without a colon that ends its sentence
/// ("Say. ...") or its line ("say\nhi") introduces nothing, and the next cue is tried. After a
/// colon, punctuation is text ("Answer with exactly: !").
fn verbatim_start(text: &str, after_literal: bool) -> Option<usize> {
    let lower = text.to_ascii_lowercase();
    // The offset after the separators at `at`, and whether they hold a colon.
    let skip_separators = |at: usize| {
        let rest = &text[at..];
        let spaced = rest.trim_start_matches([' ', '\t']);
        let colon = spaced.starts_with(':');
        let skipped = if colon {
            spaced.trim_start_matches([':', ' ', '\t', '\r', '\n'])
        } else {
            spaced
        };
        (at + (rest.len() - skipped.len()), colon)
    };
    let mut from = 0;
    while let Some((_, cue_end)) = find_cue(&lower, from, after_literal) {
        let (mut start, mut colon) = skip_separators(cue_end);
        while let Some((pos, end)) =
            find_cue(&lower, start, after_literal).filter(|(pos, _)| *pos == start)
        {
            debug_assert_eq!(pos, start);
            let (next, more_colon) = skip_separators(end);
            start = next;
            colon |= more_colon;
        }
        let mut tail = text[start..].chars();
        let nothing_after = match tail.next() {
            None | Some('\n' | '\r') => true,
            // The end of a sentence, as `verbatim_end` reads it.
            Some('.' | '!' | '?') => !colon && tail.next().is_none_or(char::is_whitespace),
            Some(_) => false,
        };
        if !nothing_after {
            return Some(start);
        }
        from = cue_end;
    }
    None
}

/// Where a verbatim tail starting at `start` ends: the end of its line or sentence.
fn verbatim_end(text: &str, start: usize) -> usize {
    let tail = &text[start..];
    let mut chars = tail.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        if c == '\n' {
            return start + i;
        }
        if matches!(c, '.' | '!' | '?') && chars.peek().is_some_and(|(_, n)| n.is_whitespace()) {
            return start + i + 1;
        }
    }
    text.len()
}

fn split_verbatim<'a>(text: &'a str, after_literal: bool, out: &mut Vec<Span<'a>>) {
    let mut rest = text;
    let mut after_literal = after_literal;
    while let Some(start) = verbatim_start(rest, after_literal) {
        after_literal = false;
        let end = verbatim_end(rest, start);
        let literal = rest[start..end].trim_end();
        if literal.is_empty() {
            break;
        }
        push_prose(&rest[..start], out);
        out.push(Span::Literal(Literal::new(LiteralKind::Quoted, literal)));
        rest = &rest[end..];
    }
    push_prose(rest, out);
}

fn push_prose<'a>(text: &'a str, out: &mut Vec<Span<'a>>) {
    if !text.trim().is_empty() {
        out.push(Span::Prose(text));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn literals(text: &str) -> Vec<String> {
        split(text)
            .into_iter()
            .filter_map(|s| match s {
                Span::Literal(l) => Some(l.text),
                Span::Prose(_) => None,
            })
            .collect()
    }

    #[test]
    fn quoted_strings_in_any_quote_style() {
        assert_eq!(literals("Reverse the string 'AbC'"), ["AbC"]);
        assert_eq!(literals("Reverse the string \"AbC\" now"), ["AbC"]);
        assert_eq!(literals("Reverse the string “AbC”."), ["AbC"]);
        assert_eq!(literals("Reverse ‘AbC’ and «x y»"), ["AbC", "x y"]);
        assert_eq!(literals("What does 'kindly' mean?"), ["kindly"]);
    }

    #[test]
    fn apostrophes_are_not_quotes() {
        assert!(literals("Don't say it's the users' fault").is_empty());
        assert!(literals("I'm sure it’s fine").is_empty());
        assert_eq!(literals("the users' data and 'x y' too"), ["x y"]);
        assert!(literals("a lone ' quote").is_empty());
    }

    #[test]
    fn code_spans_blocks_and_indented_code() {
        assert_eq!(literals("`Foo()` throws"), ["Foo()"]);
        assert_eq!(literals("why does `` a`b `` fail"), ["a`b"]);
        let fenced = "Fix this:\n```python\ndef F(x):\n    return  x\n```\nThanks";
        assert_eq!(
            literals(fenced),
            ["```python\ndef F(x):\n    return  x\n```"]
        );
        let indented_fence = "Fix:\n  ```python\n  def F(x):\n  ```";
        assert_eq!(literals(indented_fence), ["```python\ndef F(x):\n```"]);
        assert_eq!(
            literals("~~~\nA\n~~~"),
            ["```\nA\n```"],
            "one form for every fence"
        );
        let indented = "Explain:\n\n    let X = 1;\n\nplease";
        assert_eq!(literals(indented), ["```\nlet X = 1;\n```"]);
    }

    #[test]
    fn verbatim_tails() {
        assert_eq!(
            literals("Answer with exactly: Please hold"),
            ["Please hold"]
        );
        assert_eq!(
            literals("Repeat after me: Hello World. Then explain it."),
            ["Hello World."]
        );
        assert_eq!(literals("Say Hello"), ["Hello"]);
        assert_eq!(
            literals("Fine\nSay Hello"),
            ["Hello"],
            "at the start of a line"
        );
        assert_eq!(
            literals("(Say Hello"),
            ["Hello"],
            "after opening punctuation"
        );
        assert_eq!(literals("Please say Hello"), ["Hello"], "after politeness");
        assert!(literals("`` Say Hello").is_empty(), "not after backticks");
        assert_eq!(literals("`x` say Hello"), ["x"], "not after code");
        assert_eq!(literals("Use 'x' say Hello"), ["x"], "not after a quote");
        assert_eq!(
            literals("Can you say Hello"),
            ["Hello"],
            "after a request opener"
        );
        assert!(
            literals("How do you say hello in French?").is_empty(),
            "'say' is a cue only at the start of a sentence"
        );
        assert!(literals("Which essay is exactlyish").is_empty());
        assert!(literals("What exactly is quantum computing?").is_empty());
        assert_eq!(literals("Copy this verbatim: Hello there"), ["Hello there"]);
        assert_eq!(literals("Write exactly Hello World"), ["Hello World"]);
        assert_eq!(
            literals("Answer with exactly:\nhi"),
            ["hi"],
            "on the next line"
        );
        assert!(
            literals("say\nhello").is_empty(),
            "a line break without a colon ends the cue's line"
        );
        assert!(
            literals("Say. Then stop").is_empty(),
            "a cue that ends its sentence"
        );
        assert_eq!(literals("Say.\nSay Hello"), ["Hello"], "the next cue");
        assert_eq!(
            literals("Hi iPhone, say: please"),
            ["please"],
            "after a greeting and a name"
        );
        assert_eq!(
            literals("Answer with exactly: ! now"),
            ["!"],
            "punctuation after a colon"
        );
    }

    #[test]
    fn prose_is_kept_in_order() {
        let spans = split("Translate 'good morning' into French");
        assert_eq!(
            spans,
            [
                Span::Prose("Translate "),
                Span::Literal(Literal::new(LiteralKind::Quoted, "good morning")),
                Span::Prose(" into French"),
            ]
        );
        assert_eq!(split(""), []);
    }

    #[test]
    fn rendered_literals_read_back_the_same() {
        for text in [
            "`Foo()` throws",
            "why does `` a`b `` fail",
            "Fix:\n```py\nx = 1\n```\nnow",
            "Reverse 'AbC' and \"x 'y'\"",
            "Answer with exactly: Please hold",
            "Quote 'a\"' now",
            "Run ``  !  `` now",
            "Say: ``, x. `y`",
            "'.``\na'\"`",
            "``` \\\\,",
        ] {
            let spans = split(text);
            let rendered: String = spans
                .iter()
                .map(|s| match s {
                    Span::Prose(p) => p.to_string(),
                    Span::Literal(l) => format!(" {} ", l.render()),
                })
                .collect();
            assert_eq!(literals(&rendered), literals(text), "{text} -> {rendered}");
        }
    }
}

/// The code blocks and spans of a Markdown text, by CommonMark's rules for code (0.31: fenced and
/// indented code blocks, code spans; other block structure is read as paragraphs).
///
/// Written here rather than taken from pulldown-cmark, which the tests compare it with: that
/// crate brings an HTML entity table and Unicode case folding (190 KB of wasm, a third of the
/// Worker) that finding code does not need.
mod commonmark {
    use super::{Literal, LiteralKind};
    use std::ops::Range;

    /// Columns of leading whitespace (tabs to the next multiple of 4) and its length in bytes.
    fn indent(line: &str) -> (usize, usize) {
        let (mut cols, mut bytes) = (0, 0);
        for c in line.chars() {
            match c {
                ' ' => cols += 1,
                '\t' => cols += 4 - cols % 4,
                _ => break,
            }
            bytes += 1;
        }
        (cols, bytes)
    }

    /// Removes up to `cols` columns of leading spaces (a tab counts as the columns it spans).
    fn strip_indent(line: &str, cols: usize) -> &str {
        let (mut seen, mut bytes) = (0, 0);
        for c in line.chars() {
            if seen >= cols {
                break;
            }
            match c {
                ' ' => seen += 1,
                '\t' => seen += 4 - seen % 4,
                _ => break,
            }
            bytes += 1;
        }
        &line[bytes..]
    }

    fn is_blank(line: &str) -> bool {
        line.trim_matches([' ', '\t', '\r']).is_empty()
    }

    /// An opening fence: its character, length, indentation and info string.
    fn fence(line: &str) -> Option<(char, usize, usize, String)> {
        let (cols, bytes) = indent(line);
        if cols > 3 {
            return None;
        }
        let rest = &line[bytes..];
        let c = rest.chars().next().filter(|c| *c == '`' || *c == '~')?;
        let len = rest.chars().take_while(|x| *x == c).count();
        let info = rest[len..].trim_matches([' ', '\t', '\r']);
        (len >= 3 && !(c == '`' && info.contains('`'))).then(|| (c, len, cols, unescape(info)))
    }

    /// Backslash escapes of ASCII punctuation, as CommonMark reads them in an info string.
    fn unescape(s: &str) -> String {
        let mut out = String::with_capacity(s.len());
        let mut chars = s.chars().peekable();
        while let Some(c) = chars.next() {
            if c == '\\' && chars.peek().is_some_and(char::is_ascii_punctuation) {
                out.extend(chars.next());
            } else {
                out.push(c);
            }
        }
        out
    }

    fn closes(line: &str, c: char, len: usize) -> bool {
        let (cols, bytes) = indent(line);
        let rest = line[bytes..].trim_end_matches([' ', '\t', '\r']);
        cols <= 3 && rest.len() >= len && rest.chars().all(|x| x == c)
    }

    /// A block's one form (see `block`) written as a fence that reads back as the same block: of
    /// tildes when its info string has a backtick, longer than any fence line inside it.
    pub fn render_block(t: &str) -> String {
        let inner = t.strip_prefix("```").unwrap_or(t);
        let inner = inner.strip_suffix("\n```").unwrap_or(inner);
        let (info, body) = inner.split_once('\n').unwrap_or((inner, ""));
        let c = if info.contains('`') { '~' } else { '`' };
        let longest_inside = body
            .split('\n')
            .filter_map(|line| {
                let (cols, bytes) = indent(line);
                let rest = line[bytes..].trim_end_matches([' ', '\t', '\r']);
                (cols <= 3 && !rest.is_empty() && rest.chars().all(|x| x == c))
                    .then(|| rest.chars().count())
            })
            .max()
            .unwrap_or(0);
        let fence: String = std::iter::repeat_n(c, longest_inside.max(2) + 1).collect();
        // "~~~ ~~~x": an info string that starts with the fence's character stands apart.
        let space = if info.starts_with(c) { " " } else { "" };
        // The info string is read with backslash escapes (see `unescape`): its backslashes are
        // written escaped ("\\," reads back as "\,", not ",").
        let info = info.replace('\\', "\\\\");
        format!("\n{fence}{space}{info}\n{body}\n{fence}\n")
    }

    /// A block in one form; whitespace at its end is invisible and not compared.
    fn block(info: &str, lines: &[&str]) -> Literal {
        let body = lines.join("\n");
        Literal::new(
            LiteralKind::Block,
            format!("```{info}\n{}\n```", body.trim_end()),
        )
    }

    pub fn code(text: &str) -> Vec<(Range<usize>, Literal)> {
        let mut out = Vec::new();
        let lines: Vec<(usize, &str)> = {
            let mut at = 0;
            text.split('\n')
                .map(|l| {
                    let start = at;
                    at += l.len() + 1;
                    (start, l)
                })
                .collect()
        };
        let end_of = |i: usize| (lines[i].0 + lines[i].1.len()).min(text.len());
        let mut paragraph: Option<usize> = None;
        let mut i = 0;
        while i < lines.len() {
            let (start, line) = lines[i];
            if let Some((c, len, cols, info)) = fence(line) {
                if let Some(p) = paragraph.take() {
                    spans(text, p..start.saturating_sub(1), &mut out);
                }
                let mut j = i + 1;
                while j < lines.len() && !closes(lines[j].1, c, len) {
                    j += 1;
                }
                let body: Vec<&str> = lines[i + 1..j]
                    .iter()
                    .map(|(_, l)| strip_indent(l, cols))
                    .collect();
                let last = j.min(lines.len() - 1);
                out.push((start..end_of(last), block(&info, &body)));
                i = j + 1;
                continue;
            }
            if indent(line).0 >= 4 && paragraph.is_none() && !is_blank(line) {
                // An indented block runs over indented and blank lines, without trailing blanks.
                let mut j = i;
                let mut last = i;
                while j < lines.len() && (indent(lines[j].1).0 >= 4 || is_blank(lines[j].1)) {
                    if !is_blank(lines[j].1) {
                        last = j;
                    }
                    j += 1;
                }
                let body: Vec<&str> = lines[i..=last]
                    .iter()
                    .map(|(_, l)| strip_indent(l, 4))
                    .collect();
                out.push((start..end_of(last), block("", &body)));
                i = last + 1;
                continue;
            }
            if is_blank(line) {
                if let Some(p) = paragraph.take() {
                    spans(text, p..start.saturating_sub(1), &mut out);
                }
            } else if paragraph.is_none() {
                paragraph = Some(start);
            }
            i += 1;
        }
        if let Some(p) = paragraph {
            spans(text, p..text.len(), &mut out);
        }
        out
    }

    /// Code spans inside a paragraph: a run of n backticks (not escaped) up to the next run of
    /// exactly n; without one, the backticks are text.
    fn spans(text: &str, para: Range<usize>, out: &mut Vec<(Range<usize>, Literal)>) {
        let bytes = text.as_bytes();
        let run_at = |i: usize| {
            bytes[i..para.end]
                .iter()
                .take_while(|b| **b == b'`')
                .count()
        };
        let mut i = para.start;
        while i < para.end {
            match bytes[i] {
                b'\\' => i += 2,
                b'`' => {
                    let n = run_at(i);
                    let mut j = i + n;
                    let mut close = None;
                    while j < para.end {
                        if bytes[j] == b'`' {
                            let m = run_at(j);
                            if m == n {
                                close = Some(j);
                                break;
                            }
                            j += m;
                        } else {
                            j += 1;
                        }
                    }
                    match close {
                        Some(c) => {
                            let raw = text[i + n..c].replace("\r\n", " ").replace('\n', " ");
                            let stripped = raw.len() >= 2
                                && raw.starts_with(' ')
                                && raw.ends_with(' ')
                                && !raw.trim_matches(' ').is_empty();
                            let code = if stripped {
                                &raw[1..raw.len() - 1]
                            } else {
                                &raw[..]
                            };
                            out.push((i..c + n, Literal::new(LiteralKind::Code, code)));
                            i = c + n;
                        }
                        None => i += n,
                    }
                }
                _ => i += 1,
            }
        }
    }
}

/// The code scanner against pulldown-cmark, the reference CommonMark parser, on Markdown built
/// from paragraphs, backtick runs, escapes, fences and indentation (other block syntax, which
/// the scanner reads as paragraphs, is left out).
#[cfg(test)]
mod commonmark_reference {
    use super::*;
    use proptest::prelude::*;
    use pulldown_cmark::{CodeBlockKind, Event, Parser, Tag, TagEnd};

    fn reference(text: &str) -> Vec<String> {
        let mut out = Vec::new();
        let mut block: Option<(String, String)> = None;
        for event in Parser::new(text) {
            match event {
                Event::Start(Tag::CodeBlock(kind)) => {
                    let info = match kind {
                        CodeBlockKind::Fenced(i) => i.to_string(),
                        CodeBlockKind::Indented => String::new(),
                    };
                    block = Some((info, String::new()));
                }
                Event::Text(t) => {
                    if let Some((_, body)) = &mut block {
                        body.push_str(&t);
                    }
                }
                Event::End(TagEnd::CodeBlock) => {
                    let (info, body) = block.take().unwrap();
                    out.push(format!("```{info}\n{}\n```", body.trim_end()));
                }
                Event::Code(c) => out.push(c.to_string()),
                _ => {}
            }
        }
        out
    }

    fn line() -> impl Strategy<Value = String> {
        let piece = prop_oneof![
            Just("word".to_string()),
            Just("x y".to_string()),
            Just("`".to_string()),
            Just("``".to_string()),
            Just("```".to_string()),
            Just("\\`".to_string()),
            Just("\\\\".to_string()),
            Just(" ".to_string()),
            Just("~".to_string()),
        ];
        let fence = prop_oneof![
            Just("```".to_string()),
            Just("````".to_string()),
            Just("~~~".to_string()),
            Just("```rust".to_string()),
            Just("~~~ py".to_string()),
        ];
        (0usize..6, prop_oneof![3 => prop::collection::vec(piece, 0..6).prop_map(|p| p.concat()), 1 => fence])
            .prop_map(|(indent, body)| format!("{}{body}", " ".repeat(indent)))
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(3000))]
        #[test]
        fn finds_the_code_pulldown_cmark_finds(lines in prop::collection::vec(line(), 1..8)) {
            let text = lines.join("\n");
            let ours: Vec<String> = commonmark::code(&text).into_iter().map(|(_, l)| l.text).collect();
            prop_assert_eq!(ours, reference(&text), "{:?}", text);
        }
    }
}
