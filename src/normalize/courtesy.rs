//! Courtesy: politeness, greetings, thanks, sign-offs and request openers ("could you", "tell me
//! how") are dropped where they are courtesy, and kept where they are content (after a colon, or
//! the thing talked about).

use super::{matches_at, Token};
use crate::literals::{LiteralKind, WORD_SYMBOLS};

/// Requests phrased as questions to the assistant, dropped at the start of a sentence.
pub(super) const REQUEST_OPENERS: [&[&str]; 14] = [
    &["i", "would", "like", "you", "to"],
    &["i", "want", "you", "to"],
    &["i", "need", "you", "to"],
    &["would", "you", "be", "able", "to"],
    &["could", "you", "be", "able", "to"],
    &["are", "you", "able", "to"],
    &["could", "you"],
    &["can", "you"],
    &["would", "you"],
    &["will", "you"],
    &["please"],
    &["kindly"],
    &["pls"],
    &["plz"],
];

/// Phrases that only wrap a question ("tell me how ...", "I want to know what ..."), dropped at
/// the start of a sentence when a question word follows.
pub(super) const QUESTION_WRAPPERS: [&[&str]; 9] = [
    &["tell", "me"],
    &["do", "you", "know"],
    &["i", "want", "to", "know"],
    &["i", "would", "like", "to", "know"],
    &["i", "wonder"],
    &["i", "was", "wondering"],
    &["i", "am", "wondering"],
    &["any", "idea"],
    &["explain", "to", "me"],
];
pub(super) const QUESTION_WORDS: [&str; 9] = [
    "how", "what", "why", "where", "when", "who", "which", "whether", "if",
];

/// Politeness words: dropped where they are politeness, kept where they are the subject.
pub(super) const POLITENESS: [&str; 4] = ["please", "kindly", "pls", "plz"];

/// Words before which a politeness word is the thing talked about ("say please", "the word
/// please", "what does kindly mean" keeps it by position).
pub(super) const MENTION_CUES: [&str; 16] = [
    "say",
    "spell",
    "word",
    "words",
    "term",
    "mean",
    "means",
    "meaning",
    "define",
    "pronounce",
    "translate",
    "type",
    "write",
    "of",
    "is",
    "with",
];

/// A clause made only of these (with at least one of `COURTESY_CORE`) is courtesy ("thanks in
/// advance", "please and thank you").
pub(super) const COURTESY_WORDS: [&str; 17] = [
    "please", "pls", "plz", "thanks", "thank", "you", "thx", "ty", "tysm", "cheers", "in",
    "advance", "very", "much", "so", "a", "lot",
];
pub(super) const COURTESY_CORE: [&str; 8] = [
    "please", "pls", "plz", "thanks", "thank", "thx", "tysm", "cheers",
];

/// Greetings and discourse markers, dropped when they make up the prompt's first clause.
pub(super) const GREETINGS: [&[&str]; 15] = [
    &["yo"],
    &["hi"],
    &["hello"],
    &["hey"],
    &["hiya"],
    &["greetings"],
    &["hi", "there"],
    &["hello", "there"],
    &["hey", "there"],
    &["good", "morning"],
    &["good", "afternoon"],
    &["good", "evening"],
    &["ok"],
    &["okay"],
    &["so"],
];

/// Who a greeting may name ("Hi ChatGPT,"); any mixed-case name (a literal) counts too.
pub(super) const GREETED: [&str; 12] = [
    "chatgpt",
    "gpt",
    "claude",
    "gemini",
    "assistant",
    "bot",
    "ai",
    "there",
    "everyone",
    "all",
    "team",
    "friend",
];

/// Words a question or request starts with: a greeting right before one needs no comma to be a
/// greeting ("hi what is ...", but "hello world program").
pub(super) const QUESTION_STARTS: [&str; 20] = [
    "how", "what", "why", "where", "when", "who", "which", "can", "could", "would", "will", "is",
    "do", "please", "explain", "tell", "give", "write", "i", "my",
];

/// Sign-offs, dropped when they make up the prompt's last clause.
pub(super) const SIGN_OFFS: [&[&str]; 9] = [
    &["bye"],
    &["regards"],
    &["best", "regards"],
    &["kind", "regards"],
    &["warm", "regards"],
    &["best"],
    &["cheers"],
    &["thanks", "and", "regards"],
    &["have", "a", "nice", "day"],
];

/// Emoji and other symbols on their own ("hi 👋"): no letters or digits, and no symbol that
/// stands for a word ("%", "$", "+", see `literals::WORD_SYMBOLS`).
pub(super) fn is_symbolic(t: &Token) -> bool {
    let symbolic = |s: &str| {
        !s.chars()
            .any(|c| c.is_alphanumeric() || WORD_SYMBOLS.contains(c))
    };
    match t {
        Token::Word { text, .. } => symbolic(text),
        Token::Literal(l) => l.kind == LiteralKind::Token && symbolic(&l.text),
        Token::Break(_) => false,
    }
}

/// How many tokens a greeting at `i` spans ("hi", "hi there", "hey ChatGPT 👋"), if one starts there.
pub(super) fn greeting_at(t: &[Token], i: usize) -> Option<usize> {
    let g = GREETINGS.iter().find(|g| matches_at(t, i, g))?;
    let mut end = i + g.len();
    let named = |x: &Token| match x {
        Token::Word { text, .. } => GREETED.contains(&text.as_str()),
        Token::Literal(l) => {
            l.kind == LiteralKind::Token && l.text.chars().all(char::is_alphanumeric)
        }
        Token::Break(_) => false,
    };
    if t.get(end).is_some_and(named) {
        end += 1;
    }
    while t.get(end).is_some_and(is_symbolic) {
        end += 1;
    }
    Some(end - i)
}

/// Imperative verbs after which "me" is filler ("write me a poem", "tell me a joke"), and which
/// make a trailing "for me"/"to me" filler ("explain this to me").
pub(super) const REQUEST_VERBS: [&str; 34] = [
    "explain",
    "write",
    "tell",
    "give",
    "show",
    "describe",
    "list",
    "summarize",
    "summarise",
    "translate",
    "make",
    "create",
    "generate",
    "draft",
    "find",
    "suggest",
    "recommend",
    "provide",
    "compose",
    "outline",
    "define",
    "calculate",
    "solve",
    "draw",
    "plan",
    "design",
    "clarify",
    "simplify",
    "rewrite",
    "send",
    "get",
    "teach",
    "name",
    "recap",
];

/// The words of the clause starting at `i` (up to the next break) and where it ends.
pub(super) fn clause(t: &[Token], i: usize) -> (Vec<&str>, usize, bool) {
    let mut words = Vec::new();
    let mut j = i;
    let mut only_words = true;
    while j < t.len() && !t[j].is_break() {
        match t[j].as_word() {
            Some(w) => words.push(w),
            None => only_words = false,
        }
        j += 1;
    }
    (words, j, only_words)
}

pub(super) fn is_courtesy_clause(words: &[&str]) -> bool {
    // "a" belongs to "thanks a lot", not to a clause it starts ("reverse, a please").
    !words.is_empty()
        && words[0] != "a"
        && words.iter().all(|w| COURTESY_WORDS.contains(w))
        && words.iter().any(|w| COURTESY_CORE.contains(w))
}

/// Drops politeness, greetings, thanks and request openers, keeping them where they are the
/// subject of the prompt.
pub(super) fn drop_courtesy(t: Vec<Token>) -> Vec<Token> {
    // Whole clauses of courtesy anywhere, and a greeting as the first clause.
    let mut kept: Vec<Token> = Vec::with_capacity(t.len());
    let mut i = 0;
    let lower = |t: &[Token]| -> Vec<Token> {
        t.iter()
            .map(|x| match x {
                Token::Word { text, named } => Token::Word {
                    text: text.to_lowercase(),
                    named: *named,
                },
                other => other.clone(),
            })
            .collect()
    };
    let folded = lower(&t);
    let content = after_colon(&t);
    while i < t.len() {
        // What follows a ':' up to the end of its sentence is content ("Translate: yes, please"),
        // never courtesy.
        let at_clause_start = (i == 0 || t[i - 1].is_break()) && !content[i];
        if at_clause_start && !t[i].is_break() {
            let (words, end, only_words) = clause(&folded, i);
            let first_clause = kept.iter().all(Token::is_break);
            let last_clause = folded[end..].iter().all(|x| x.is_break() || is_symbolic(x));
            if first_clause {
                if let Some(len) = greeting_at(&folded, i) {
                    let next = folded.get(i + len);
                    let ends_greeting = next.is_some_and(Token::is_break)
                        || next
                            .and_then(Token::as_word)
                            .is_some_and(|w| QUESTION_STARTS.contains(&w));
                    if ends_greeting && i + len < t.len() - 1 {
                        i += len + next.is_some_and(Token::is_break) as usize;
                        continue;
                    }
                }
            }
            let after_sentence = kept.last().is_some_and(Token::is_sentence_break);
            let sign_off = last_clause && after_sentence && SIGN_OFFS.iter().any(|s| words == *s);
            if only_words && (is_courtesy_clause(&words) || sign_off) {
                i = end + 1;
                continue;
            }
        }
        kept.push(t[i].clone());
        i += 1;
    }
    // Request openers at a sentence start, and politeness words where they are politeness.
    let folded = lower(&kept);
    let content = after_colon(&kept);
    let mut out: Vec<Token> = Vec::with_capacity(kept.len());
    let mut i = 0;
    while i < kept.len() {
        if content[i] {
            out.push(kept[i].clone());
            i += 1;
            continue;
        }
        let sentence_start = out.last().is_none_or(Token::is_sentence_break);
        if sentence_start {
            let wrapper = QUESTION_WRAPPERS.iter().find(|p| {
                matches_at(&folded, i, p)
                    && folded
                        .get(i + p.len())
                        .and_then(Token::as_word)
                        .is_some_and(|w| QUESTION_WORDS.contains(&w))
            });
            if let Some(wrapper) = wrapper {
                i += wrapper.len();
                continue;
            }
            if let Some(opener) = REQUEST_OPENERS.iter().find(|p| matches_at(&folded, i, p)) {
                i += opener.len();
                // "Please, explain ...": the comma after a dropped opener goes too.
                if matches!(kept.get(i), Some(Token::Break(','))) {
                    i += 1;
                }
                continue;
            }
        }
        if let Some(w) = folded[i].as_word() {
            if POLITENESS.contains(&w) {
                let prev = out.last().and_then(Token::as_word).map(str::to_lowercase);
                let next = kept.get(i + 1);
                let after_comma = matches!(out.last(), Some(Token::Break(',')));
                let clause_end = next.is_none_or(Token::is_break);
                let mentioned = prev.as_deref().is_some_and(|p| MENTION_CUES.contains(&p));
                let after_you = prev.as_deref() == Some("you");
                if !mentioned && (after_comma || clause_end || after_you) {
                    if after_comma && clause_end {
                        out.pop();
                    }
                    i += 1;
                    continue;
                }
            }
            // "write me a poem": "me" right after a request verb that starts the sentence.
            if w == "me" && starts_with_request_verb(&out) {
                let prev = out.last().and_then(Token::as_word).map(str::to_lowercase);
                if prev.as_deref().is_some_and(|p| REQUEST_VERBS.contains(&p)) {
                    i += 1;
                    continue;
                }
            }
            // "explain this to me": a trailing "for me"/"to me" after a request.
            if (w == "for" || w == "to")
                && folded.get(i + 1).and_then(Token::as_word) == Some("me")
                && kept.get(i + 2).is_none_or(Token::is_break)
                && starts_with_request_verb(&out)
            {
                i += 2;
                continue;
            }
        }
        out.push(kept[i].clone());
        i += 1;
    }
    out
}

/// For each token, whether it follows a ':' in its sentence.
pub(super) fn after_colon(t: &[Token]) -> Vec<bool> {
    let mut inside = false;
    t.iter()
        .map(|tok| {
            let now = inside;
            match tok {
                Token::Break(':') => inside = true,
                Token::Break(c) if *c != ',' && *c != ';' => inside = false,
                _ => {}
            }
            now
        })
        .collect()
}

/// Whether the sentence being built starts with a request verb.
pub(super) fn starts_with_request_verb(out: &[Token]) -> bool {
    let start = out
        .iter()
        .rposition(Token::is_sentence_break)
        .map_or(0, |p| p + 1);
    out.get(start)
        .and_then(Token::as_word)
        .is_some_and(|w| REQUEST_VERBS.contains(&w.to_lowercase().as_str()))
}
