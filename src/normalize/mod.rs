//! Prompt normalisation for the semantic cache: the folded form of a prompt, so retypings that
//! cannot change an answer compare equal, and nothing that can is touched.
//!
//! Folded: case outside literals, spacing and repeated or trailing punctuation, quote style,
//! contractions (with or without the apostrophe), verb agreement (is/are, do/does, has/have),
//! number words ("three" -> 3), percent and currency words, units written against their number
//! ("10kg" -> "10 kg"), question openers ("how can I", "how should I" -> "how to"), politeness,
//! greetings and thanks where they are not themselves the subject ("Please explain" -> "explain",
//! but "What does please mean?" keeps it), articles, plurals and British spellings.
//!
//! Never touched: literals (see `literals`: code, quoted strings, verbatim tails) and tokens with
//! inner capitals, digits mixed with letters or inner symbols (keys, hashes, IDs, regexes). A
//! prompt about letters or case (uppercase, spell, reverse, a password, ...) is case-sensitive:
//! nothing in it is folded but politeness and spacing.
//!
//! The exact cache key never sees this form (it hashes the prompt as sent); only the semantic
//! decision does. Hand-written over word tokens rather than with regular expressions: it runs on
//! every chat request, and a tokenising pass keeps a regex engine out of the Worker.

mod courtesy;
mod mentions;
mod numbers;
mod tokens;
mod words;

use crate::literals::{self, Literal, LiteralKind, Span};
use courtesy::drop_courtesy;
use mentions::protect_mentions;
pub(crate) use numbers::is_numeric;
use numbers::{
    dashes_to_breaks, fold_arithmetic, fold_money_and_percent, fold_number_words,
    units_after_numbers,
};
use tokens::{is_shouting, mentions_case, tokenize};
use words::{
    drop_articles, expand_contractions, fold_agreement, fold_spelling_and_plurals,
    unify_question_openers,
};

/// One token of a normalised prompt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Token {
    /// A folded prose word, number or operator. `named`: written capitalised mid-sentence or as
    /// an acronym (a proper noun), which the guards compare case-insensitively.
    Word { text: String, named: bool },
    /// Text compared exactly, case included.
    Literal(Literal),
    /// The end of a clause (`,`) or sentence (`.`, `?`, `!`, `:`, `;`, a line break): shown in the
    /// text, never compared.
    Break(char),
}

impl Token {
    pub(super) fn word(text: impl Into<String>) -> Token {
        Token::Word {
            text: text.into(),
            named: false,
        }
    }

    /// The word's text, for words only.
    pub fn as_word(&self) -> Option<&str> {
        match self {
            Token::Word { text, .. } => Some(text),
            _ => None,
        }
    }

    pub(super) fn is_break(&self) -> bool {
        matches!(self, Token::Break(_))
    }

    pub(super) fn is_sentence_break(&self) -> bool {
        matches!(self, Token::Break(c) if *c != ',')
    }
}

/// A normalised prompt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Normalized {
    pub tokens: Vec<Token>,
    /// The prompt is about letters or case: nothing was case-folded.
    pub case_sensitive: bool,
}

impl Normalized {
    /// The compared tokens (words and literals), in order.
    pub fn terms(&self) -> impl Iterator<Item = &Token> {
        self.tokens.iter().filter(|t| !t.is_break())
    }

    /// The readable normalised text ("what is 5 × 3?").
    pub fn text(&self) -> String {
        let mut out = String::new();
        let mut sentence_start = true;
        let mut quote_may_open = false;
        for t in &self.tokens {
            match t {
                // After a word with a quote character that could open a quote (",\"A"), a
                // sentence ends with a blank line: a blank line may be what kept the quote from
                // closing in the prompt ("a,\"b\n\nc\"?d"), and without one it could pair with a
                // quote after it when the text is read again.
                Token::Break(c) if quote_may_open && *c != ',' => {
                    if !out.is_empty() && !out.ends_with(['.', ',', '?', '!', ':', ';']) {
                        out.push(if *c == '\n' { '.' } else { *c });
                    }
                    if !out.is_empty() {
                        out.push_str("\n\n");
                    }
                }
                Token::Break(c) => {
                    if !out.is_empty() && !out.ends_with(['.', ',', '?', '!', ':', ';']) {
                        out.push(if *c == '\n' { '.' } else { *c });
                    }
                }
                Token::Word { text, .. } => {
                    quote_may_open |= literals::may_open_quote(text);
                    push_spaced(&mut out, text);
                }
                // A capital "A" starting a sentence reads as the article: quoted, it stays the
                // letter it was ("the A vitamin" -> "\"A\" vitamin").
                Token::Literal(l)
                    if l.kind == LiteralKind::Token && l.text == "A" && sentence_start =>
                {
                    let quoted = Literal::new(LiteralKind::Quoted, "A").render_after(&out);
                    push_spaced(&mut out, &quoted);
                }
                // A token with backticks or a fence mark is written as code, which reads back as
                // the same text and cannot open a code span or block with another.
                Token::Literal(l) if l.kind == LiteralKind::Token && written_as_code(&l.text) => {
                    push_spaced(
                        &mut out,
                        &Literal::new(LiteralKind::Code, l.text.as_str()).render(),
                    );
                }
                Token::Literal(l) => {
                    quote_may_open |=
                        l.kind == LiteralKind::Token && literals::may_open_quote(&l.text);
                    // A block starts on its own line, which ends the sentence before it.
                    if l.kind == LiteralKind::Block && out.ends_with(',') {
                        out.pop();
                        out.push('.');
                    }
                    let rendered = l.render_after(&out);
                    push_spaced(&mut out, &rendered);
                }
            }
            sentence_start = t.is_sentence_break();
        }
        out.trim_end_matches(['.', ',', ':', ';'])
            .trim()
            .to_string()
    }

    /// What two prompts must share to be the same after normalisation: the terms, without breaks.
    pub fn compared_form(&self) -> String {
        let mut out = String::new();
        for t in self.terms() {
            match t {
                Token::Word { text, .. } => out.push_str(text),
                Token::Literal(l) => {
                    out.push('\u{2}');
                    out.push_str(&l.text);
                    out.push('\u{3}');
                }
                Token::Break(_) => {}
            }
            out.push('\u{1f}');
        }
        out
    }

    pub fn is_empty(&self) -> bool {
        self.terms().next().is_none()
    }
}

/// Whether a literal token is written as code in the normalised text (see `Normalized::text`):
/// it has backticks or a fence mark. The passes that read words around it read it as code too.
pub(super) fn written_as_code(token: &str) -> bool {
    token.contains('`') || token.starts_with("~~~")
}

fn push_spaced(out: &mut String, s: &str) {
    // No space to start the line after a blank line.
    if !out.is_empty() && !out.ends_with("\n\n") {
        out.push(' ');
    }
    out.push_str(s);
}

/// The normalised text of a prompt (see [`normalize`]).
pub fn normalize_prompt(text: &str) -> String {
    normalize(text).text()
}

/// Normalises a prompt.
pub fn normalize(text: &str) -> Normalized {
    let spans = literals::split(text);
    // The prose read as one text across code, which the normalised text may write where there
    // was none (stray backticks); a quoted literal stands between its neighbours as a word.
    let prose: Vec<&str> = spans
        .iter()
        .map(|s| match s {
            Span::Prose(p) => p,
            // A quoted "A" reads as the letter A, as the normalised text quotes it where it
            // would read as the article (see `Normalized::text`).
            Span::Literal(l) if l.kind == LiteralKind::Quoted && l.text == "A" => " A ",
            Span::Literal(l) if l.kind == LiteralKind::Quoted => " x0 ",
            Span::Literal(_) => " ",
        })
        .collect();
    let case_sensitive = mentions_case(&prose.concat());
    let shouting = !case_sensitive && is_shouting(&spans);
    let mut tokens = Vec::new();
    for span in spans {
        match span {
            Span::Prose(p) => tokenize(p, case_sensitive, shouting, &mut tokens),
            Span::Literal(l) => tokens.push(Token::Literal(l)),
        }
    }
    // Breaks are tidied before the folding passes too: a ':' with nothing before it in its
    // sentence (": please") introduces nothing, as it reads once the text is tidied.
    let tokens = protect_mentions(tidy_breaks(tokens), case_sensitive);
    // A prompt about letters or case could be about any of its words: only courtesy goes.
    let tokens = if case_sensitive {
        until_stable(drop_courtesy, tokens)
    } else {
        until_stable(fold, tokens)
    };
    Normalized {
        tokens: tidy_breaks(tokens),
        case_sensitive,
    }
}

/// The folding passes, in order; each is a rule list a reader can check on its own.
fn fold(tokens: Vec<Token>) -> Vec<Token> {
    let t = expand_contractions(tokens);
    let t = unify_question_openers(t);
    let t = drop_courtesy(t);
    let t = fold_agreement(t);
    let t = fold_number_words(t);
    // Money before units: "dollars three A" is "3 usd A", its unit no longer after its number,
    // as it reads again.
    let t = fold_money_and_percent(t);
    let t = units_after_numbers(t);
    let t = fold_arithmetic(t);
    let t = dashes_to_breaks(t);
    let t = fold_spelling_and_plurals(t);
    drop_articles(t)
}

/// `passes` again until nothing changes: a pass reads context that a later pass (or a later
/// word of the same pass) changes, as an article before "thanks" or a dash before a greeting,
/// and the normalised text, read again, must fold to itself.
fn until_stable(passes: fn(Vec<Token>) -> Vec<Token>, tokens: Vec<Token>) -> Vec<Token> {
    let mut t = passes(tokens);
    // Each round only drops or rewrites tokens; a few rounds reach the fixed point. Breaks are
    // tidied between rounds as the text tidies them (a dropped word leaves no break first).
    for _ in 0..4 {
        let again = passes(tidy_breaks(t.clone()));
        if again == t {
            break;
        }
        t = again;
    }
    t
}

/// The words of `t` from `i` on, if the next `n` tokens are all words.
pub(super) fn words_at(t: &[Token], i: usize, n: usize) -> Option<Vec<&str>> {
    let slice = t.get(i..i + n)?;
    slice.iter().map(Token::as_word).collect()
}

/// Whether the words of `t` from `i` on are `phrase`.
pub(super) fn matches_at(t: &[Token], i: usize, phrase: &[&str]) -> bool {
    // Without collecting the words: the phrase lists are tried at every token.
    t.get(i..i + phrase.len()).is_some_and(|s| {
        s.iter()
            .zip(phrase)
            .all(|(tok, w)| tok.as_word() == Some(*w))
    })
}

/// No break at the start, none doubled.
fn tidy_breaks(t: Vec<Token>) -> Vec<Token> {
    let mut out: Vec<Token> = Vec::with_capacity(t.len());
    for tok in t {
        if tok.is_break() {
            match out.last_mut() {
                None => continue,
                Some(last @ Token::Break(_)) => {
                    // A sentence break wins over a clause break; a '?' over the rest.
                    if let (Token::Break(prev), Token::Break(new)) = (&*last, &tok) {
                        if *prev == ',' || *new == '?' {
                            *last = tok;
                        }
                    }
                    continue;
                }
                Some(_) => {}
            }
        }
        out.push(tok);
    }
    while out
        .last()
        .is_some_and(|t| matches!(t, Token::Break(c) if *c != '?'))
    {
        out.pop();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::normalize_prompt as n;
    use super::*;

    fn same(a: &str, b: &str) -> bool {
        normalize(a).compared_form() == normalize(b).compared_form()
    }

    #[test]
    fn examples_from_the_api_reference() {
        assert_eq!(n("What's 5 times 3?"), "what is 5 × 3?");
        assert_eq!(n("what is 5 × 3?"), "what is 5 × 3?");
        assert_eq!(n("Please explain this"), "explain this");
        assert_eq!(n("How do I calculate?"), "how to calculate?");
    }

    #[test]
    fn case_and_spacing_outside_literals() {
        assert!(same(
            "  EXPLAIN quantum   computing . ",
            "explain quantum computing"
        ));
        assert!(same(
            "What is the capital of France?",
            "what is the capital of france"
        ));
        assert!(same("Who founded NASA?", "who founded nasa"));
        assert!(!same(
            "Reverse the string 'AbC'",
            "reverse the string 'abc'"
        ));
    }

    #[test]
    fn punctuation_and_quote_style() {
        assert!(same("What is AI??", "What is AI?"));
        assert!(same("What is AI?!", "what is ai"));
        assert!(same("Explain recursion...", "Explain recursion"));
        assert!(same(
            "Translate \"hello\" to Spanish",
            "Translate 'hello' to Spanish"
        ));
        assert!(same(
            "Translate “hello” to Spanish",
            "Translate 'hello' to Spanish"
        ));
        assert!(same("a step-by-step guide", "a step by step guide"));
        assert!(same("Explain X. Keep it short", "Explain X, keep it short"));
    }

    #[test]
    fn contractions_with_or_without_apostrophes() {
        assert!(same("Whats the time", "What's the time"));
        assert!(same("what’s the time", "what is the time"));
        assert!(same("Why doesnt it work", "Why doesn't it work"));
        assert!(same("I cant log in", "I can't log in"));
        assert_eq!(n("I can't log in"), "i cannot log in");
    }

    #[test]
    fn question_openers() {
        for q in [
            "How can I reset my password?",
            "how do i reset my password",
            "How should I reset my password?",
            "How would one reset my password",
            "how to reset my password",
        ] {
            assert!(same(q, "How do I reset my password?"), "{q}");
        }
    }

    #[test]
    fn politeness_anywhere_but_not_as_the_subject() {
        for q in [
            "Please explain gravity",
            "Explain gravity please",
            "Explain gravity, please.",
            "Could you please explain gravity?",
            "Can you explain gravity, please?",
            "Please, could you explain gravity",
            "Kindly explain gravity",
            "Explain gravity. Thanks!",
            "Hi! Explain gravity",
            "Hello, explain gravity. Thank you very much",
            "I'd like you to explain gravity",
            "Explain gravity to me",
            "explain gravity pls",
        ] {
            assert!(same(q, "explain gravity"), "{q}: {}", n(q));
        }
        assert!(!same("What does kindly mean?", "What does mean?"));
        assert!(!same(
            "How do you say please in French?",
            "How do you say in French?"
        ));
        assert!(!same("Define please", "Define"));
        assert!(!same("What does 'kindly' mean?", "What does mean?"));
        assert!(same("Hello world program in C", "hello world program in C"));
        assert!(!same("Hello world program in C", "world program in C"));
        assert!(!same("Is this good for me?", "Is this good?"));
        assert!(!same("Translate: thank you", "Translate:"));
        assert!(!same(
            "Translate to French: yes, please",
            "Translate to French: yes"
        ));
        assert!(!same(
            "Translate to French: please help me",
            "Translate to French: help me"
        ));
        assert!(!same(
            "Rank these. Good, better, best",
            "Rank these. Good, better"
        ));
        assert!(same("Explain gravity. Best regards", "Explain gravity"));
        assert!(!same("What is IT?", "What is it?"));
        assert!(!same("Should I study IT", "Should I study it"));
        assert!(same("Who founded NASA", "who founded nasa"));
        assert!(same(
            "WHAT ARE THE SYMPTOMS OF VITAMIN D DEFICIENCY?",
            "What are the symptoms of vitamin D deficiency?"
        ));
        assert!(same(
            "Write me a haiku about autumn",
            "Write a haiku about autumn"
        ));
        assert_eq!(n("What can you do?"), "what can you do?");
    }

    #[test]
    fn words_talked_about_are_never_folded() {
        assert!(!same("What does are mean?", "What does is mean?"));
        assert!(!same(
            "What is the plural of is",
            "What is the plural of are"
        ));
        assert!(!same("Spell the word five", "Spell the word 5"));
        assert!(!same("Define the", "Define"));
        assert!(same(
            "What does ASAP stand for?",
            "what does asap stand for"
        ));
        assert!(same("What does kindly mean", "what does kindly mean?"));
    }

    #[test]
    fn number_words_and_digits() {
        assert!(same(
            "What are three tips for sleeping better?",
            "What are 3 tips for sleeping better"
        ));
        assert!(same("Give me twenty-one ideas", "give me 21 ideas"));
        assert!(same("a hundred years", "100 years"));
        assert!(same("one thousand two hundred and five", "1205"));
        assert!(same("1,000 users", "1000 users"));
        assert!(same("the first step", "the 1st step"));
        assert!(!same("What are 3 tips", "What are 4 tips"));
        assert!(!same("no one came", "1 came"));
        assert_eq!(n("twenty one"), "21");
    }

    #[test]
    fn units_currency_and_percent() {
        assert!(same("Convert 10kg to pounds", "Convert 10 kg to pounds"));
        assert!(same("Is 38.5°C a fever", "Is 38.5 °C a fever"));
        assert!(same("What is 5% of 200", "What is 5 percent of 200"));
        assert!(same("What is 5 % of 200", "what is 5 per cent of 200"));
        assert!(same("Is $5 a lot", "Is 5 dollars a lot"));
        assert!(same("Is USD 5 a lot", "is 5 usd a lot"));
        assert!(!same("Is $5 a lot", "Is €5 a lot"));
        assert!(same("Meet at 3pm", "meet at 3 pm"));
        assert!(same("Meet at 3 AM", "meet at 3am"));
        assert!(!same("Meet at 3 am", "Meet at 3 is"));
        assert!(same("Bake at 180C", "Bake at 180 C"));
        assert!(
            !same("Is 5 MB a lot", "Is 5 Mb a lot"),
            "bytes are not bits"
        );
        assert!(!same("Is 5MB a lot", "Is 5Mb a lot"));
        assert!(!same("Take 5 mg", "Take 5 Mg"));
    }

    #[test]
    fn arithmetic_is_written_with_operators() {
        assert_eq!(n("what is 12 multiplied by 4"), "what is 12 × 4");
        assert_eq!(n("2 times 3 times 4"), "2 × 3 × 4");
        assert_eq!(n("7*6"), "7 × 6");
        assert_eq!(n("10 divided by 2"), "10 ÷ 2");
        assert_eq!(n("1 plus 1"), "1 + 1");
        assert_eq!(n("three times a day"), "3 time day", "only between numbers");
        assert_eq!(n("what is 5 - 3"), "what is 5 - 3");
        assert!(same(
            "like a bullet - a state of shock",
            "like a bullet, a state of shock"
        ));
        assert!(same("the president's budget", "the president’s budget"));
    }

    #[test]
    fn articles_plurals_agreement_and_spelling() {
        assert!(same(
            "What is the meaning of life",
            "What is meaning of life"
        ));
        assert!(same(
            "What are the benefits of exercise?",
            "What is the benefit of exercise?"
        ));
        assert!(same(
            "How does a transistor work",
            "How do transistors work"
        ));
        assert!(same(
            "Summarise the plot of Hamlet",
            "Summarize the plot of Hamlet"
        ));
        assert!(same("my favourite colour", "my favorite color"));
        assert!(same(
            "list the best database queries",
            "list the best database query"
        ));
        assert!(
            !same("What is new?", "What is the news?"),
            "news is not a plural"
        );
        assert!(!same("What are goods?", "What is good?"));
        assert!(
            !same("What is vitamin A", "What is vitamin"),
            "a capital A is not an article"
        );
        assert!(same("A cat sat", "cat sat"));
    }

    #[test]
    fn literals_and_mixed_tokens_are_kept_exactly() {
        assert!(!same("`Foo()` throws", "`foo()` throws"));
        assert!(!same("What is [A-Z] in regex", "What is [a-z] in regex"));
        assert!(!same(
            "Is the key sk-AbC123 valid",
            "Is the key sk-abc123 valid"
        ));
        assert!(!same("Look up order A1B2", "Look up order a1b2"));
        assert!(!same("What is iPhone", "What is iphone"));
        assert!(!same(
            "Answer with exactly: Please hold",
            "Answer with exactly: please hold"
        ));
        assert!(!same(
            "Answer with exactly: Please hold",
            "Answer with exactly: hold"
        ));
        assert!(same(
            "Please translate 'good morning' into French",
            "translate 'good morning' into french"
        ));
        let code = "Please FIX this:\n```python\ndef F(x):\n    return  x\n```\nThanks";
        assert_eq!(
            n(code),
            "fix this: \n```python\ndef F(x):\n    return  x\n```"
        );
    }

    #[test]
    fn case_sensitive_tasks_fold_nothing_but_courtesy() {
        let a = normalize("Count the capital letters in Hello World");
        assert!(a.case_sensitive);
        assert!(!same(
            "Count the capital letters in Hello World",
            "count the capital letters in hello world"
        ));
        assert!(!same(
            "Uppercase the word hello",
            "uppercase the word Hello"
        ));
        assert!(same(
            "Please uppercase the word hello",
            "uppercase the word hello"
        ));
        assert!(!normalize("What is the capital of France").case_sensitive);
        assert!(normalize("Reverse the word Hello").case_sensitive);
        assert!(normalize("reverse hello").case_sensitive);
        assert!(!normalize("How do I reverse a linked list in Python?").case_sensitive);
        assert!(!normalize("How to split a string in Python").case_sensitive);
        assert!(normalize("Remove the spaces from the string Hello World").case_sensitive);
    }

    #[test]
    fn idempotent_on_its_own_output() {
        for p in [
            "What's 5 times 3?",
            "Please explain the theory of relativity in simple terms!",
            "How do I convert $5 to euros?",
            "Translate 'good morning' into French",
            "a,\"a",
            "AMİ",
            "the A vitamin",
            ": please explain",
            "three AM",
            "€0x1F",
            "$5F",
            "thanks - ",
            "the please what",
            "Uppercase please PLEASE",
            "Please say hello",
            "divided,1,000",
            "How do I reverse a linked list in Python?",
            "Reverse please, a list",
            "IT, AM. IT, thanks",
            "A, : kindly explain",
            "Yes, please\n\n    code",
            "Is $5/A fair",
            "Say:reverse a word",
            "Uppercase can,A",
            "“Thanks\nAnswer with exactly: hi",
            "A AM AM an IT",
            "Uppercase x, please\nA word",
            "Explain: ```",
            "(~~~ x",
            "a`b\n\nc`d",
            "~~~ `\nx\n~~~",
            "~~~\n```\n~~~",
            "`spell -",
            "% `` Say: hi",
            "dollars three A",
            "``reverse, an",
            "capital, ` reverse, Thank you\nA",
            "Thank you in, Say:\nin",
            "~~~ ~~~, IT ``",
            "three IT IT, AM",
            "IT\nreverse `\n`` an",
            "thanks\nhi €, Say:\nPLEASE",
            "reverse PLEASE a IT",
            "NASA, ~~~,uppercase",
            "reverse, in Please\n[A-Z] in\ntwenty-one",
            "ΣΑΣ, ```by\nreverse, -an I",
            "AM AM IT ```python",
            "USD; Please A Say: hi",
            "reverse «\nA hundred",
            "reverse, a please, 'Say: AM",
            "a\",'A\n\n'''\n",
            "  A𝒞",
            "'.``\na'\"`",
            ",\"A\n\nA\"?A",
            ",\"A?\n\nA\"?A",
            "x-'y\n\nz'?A",
            "?,'a\n`\n\"\"\"",
            "say\na",
            "Answer with exactly: ! don't",
            "N't",
            "hi iPhone, Say: please",
            "``` \\\\, ",
            "you ' hi - can't Say: please",
            "the how Say: please",
            "reverse\n- A AM",
            "the hi should Say: please",
            "hi can't Say: please",
            "don't\nhi twenty-one Say:what",
            "A''RE",
            "dollars ' the three A",
            "hi 1,000 Say: please",
            "the, hi should Say: please",
            "hi\nAM AM IT",
            "x-letters",
        ] {
            let once = n(p);
            assert_eq!(n(&once), once, "{p}");
            // And it compares the same as the prompt ("n't" alone left an empty word).
            assert!(same(&once, p), "{p}");
        }
    }
}
