//! Word rules: contractions, question openers, verb agreement, British spellings, plurals and
//! articles.

use super::tokens::{goes_anyway, CASE_KEEPING_VERBS};
use super::{is_numeric, words_at, written_as_code, Token};
use crate::literals::LiteralKind;

/// Contractions, typed with or without the apostrophe.
pub(super) const CONTRACTIONS: [(&str, &str); 58] = [
    ("can't", "cannot"),
    ("cant", "cannot"),
    ("won't", "will not"),
    ("wont", "will not"),
    ("i'm", "i am"),
    ("im", "i am"),
    ("don't", "do not"),
    ("dont", "do not"),
    ("doesn't", "does not"),
    ("doesnt", "does not"),
    ("didn't", "did not"),
    ("didnt", "did not"),
    ("isn't", "is not"),
    ("isnt", "is not"),
    ("aren't", "are not"),
    ("arent", "are not"),
    ("wasn't", "was not"),
    ("wasnt", "was not"),
    ("weren't", "were not"),
    ("werent", "were not"),
    ("hasn't", "has not"),
    ("hasnt", "has not"),
    ("haven't", "have not"),
    ("havent", "have not"),
    ("hadn't", "had not"),
    ("hadnt", "had not"),
    ("couldn't", "could not"),
    ("couldnt", "could not"),
    ("shouldn't", "should not"),
    ("shouldnt", "should not"),
    ("wouldn't", "would not"),
    ("wouldnt", "would not"),
    ("mustn't", "must not"),
    ("needn't", "need not"),
    ("whats", "what is"),
    ("thats", "that is"),
    ("theres", "there is"),
    ("heres", "here is"),
    ("wheres", "where is"),
    ("whos", "who is"),
    ("hows", "how is"),
    ("whys", "why is"),
    ("ive", "i have"),
    ("youre", "you are"),
    ("youve", "you have"),
    ("youll", "you will"),
    ("theyre", "they are"),
    ("theyve", "they have"),
    ("theyll", "they will"),
    ("weve", "we have"),
    ("ill", "ill"),
    ("let's", "let us"),
    ("y'all", "you all"),
    ("gonna", "going to"),
    ("wanna", "want to"),
    ("gotta", "got to"),
    ("its", "it is"),
    ("u", "you"),
];

/// Subjects after which 's is "is" (not a possessive).
pub(super) const IS_BEFORE_S: [&str; 12] = [
    "what", "who", "where", "when", "why", "how", "it", "that", "there", "here", "this", "he",
];

pub(super) fn expand_word(w: &str) -> Option<Vec<String>> {
    if let Some((_, full)) = CONTRACTIONS.iter().find(|(c, _)| *c == w) {
        return Some(full.split(' ').map(str::to_string).collect());
    }
    let pair = |a: &str, b: &str| Some(vec![a.to_string(), b.to_string()]);
    if let Some(stem) = w.strip_suffix("'s").filter(|s| IS_BEFORE_S.contains(s)) {
        return pair(stem, "is");
    }
    // A stem is a word: "n't" on its own would leave an empty one, "a''re" the word "a'", which
    // reads back as "a".
    let word = |s: &&str| !s.is_empty() && s.chars().all(char::is_alphabetic);
    if let Some(stem) = w.strip_suffix("n't").filter(word) {
        return pair(stem, "not");
    }
    for (suffix, full) in [("'re", "are"), ("'ll", "will"), ("'ve", "have")] {
        if let Some(stem) = w.strip_suffix(suffix).filter(word) {
            return pair(stem, full);
        }
    }
    if let Some(stem) = w
        .strip_suffix("'d")
        .filter(|s| ["i", "you", "he", "she", "we", "they"].contains(s))
    {
        return pair(stem, "would");
    }
    None
}

pub(super) fn expand_contractions(tokens: Vec<Token>) -> Vec<Token> {
    let mut out = Vec::with_capacity(tokens.len());
    for t in tokens {
        match &t {
            Token::Word { text, .. } => match expand_word(text) {
                Some(words) => out.extend(words.into_iter().map(Token::word)),
                None => out.push(t),
            },
            _ => out.push(t),
        }
    }
    out
}

/// "how do I", "how can I", "how should we", "how does one", ... -> "how to".
pub(super) fn unify_question_openers(t: Vec<Token>) -> Vec<Token> {
    const MODALS: [&str; 8] = [
        "do", "does", "can", "could", "should", "would", "might", "may",
    ];
    const SUBJECTS: [&str; 4] = ["i", "we", "you", "one"];
    let mut out = Vec::with_capacity(t.len());
    let mut i = 0;
    while i < t.len() {
        if let Some(w) = words_at(&t, i, 3) {
            if w[0] == "how" && MODALS.contains(&w[1]) && SUBJECTS.contains(&w[2]) {
                out.extend([Token::word("how"), Token::word("to")]);
                i += 3;
                continue;
            }
        }
        out.push(t[i].clone());
        i += 1;
    }
    out
}

/// Verb agreement: "what are X" and "what is X", "how does X work" and "how do X work".
pub(super) fn fold_agreement(t: Vec<Token>) -> Vec<Token> {
    const AGREEMENT: [(&str, &str); 5] = [
        ("are", "is"),
        ("am", "is"),
        ("were", "was"),
        ("does", "do"),
        ("has", "have"),
    ];
    let mut out: Vec<Token> = Vec::with_capacity(t.len());
    for tok in t {
        // "3 am" is a time.
        let after_number = out.last().and_then(Token::as_word).is_some_and(is_numeric);
        out.push(match tok {
            Token::Word { text, named } if !after_number => {
                let text = AGREEMENT
                    .iter()
                    .find(|(from, _)| *from == text)
                    .map_or(text, |(_, to)| to.to_string());
                Token::Word { text, named }
            }
            other => other,
        });
    }
    out
}

/// British spellings that differ only by a regular rule or a known pair.
pub(super) const SPELLINGS: [(&str, &str); 53] = [
    ("centre", "center"),
    ("theatre", "theater"),
    ("metre", "meter"),
    ("litre", "liter"),
    ("fibre", "fiber"),
    ("grey", "gray"),
    ("programme", "program"),
    ("catalogue", "catalog"),
    ("dialogue", "dialog"),
    ("analogue", "analog"),
    ("travelling", "traveling"),
    ("travelled", "traveled"),
    ("cancelled", "canceled"),
    ("modelling", "modeling"),
    ("labelled", "labeled"),
    ("defence", "defense"),
    ("offence", "offense"),
    ("licence", "license"),
    ("practise", "practice"),
    ("aluminium", "aluminum"),
    ("maths", "math"),
    ("jewellery", "jewelry"),
    ("sceptical", "skeptical"),
    ("paediatric", "pediatric"),
    ("ageing", "aging"),
    ("judgement", "judgment"),
    ("learnt", "learned"),
    ("spelt", "spelled"),
    ("burnt", "burned"),
    ("dreamt", "dreamed"),
    ("mum", "mom"),
    ("cosy", "cozy"),
    ("calibre", "caliber"),
    ("sombre", "somber"),
    ("spectre", "specter"),
    ("lustre", "luster"),
    ("meagre", "meager"),
    ("sabre", "saber"),
    ("manoeuvre", "maneuver"),
    ("anaemia", "anemia"),
    ("anaemic", "anemic"),
    ("haemoglobin", "hemoglobin"),
    ("haemorrhage", "hemorrhage"),
    ("paediatrician", "pediatrician"),
    ("orthopaedic", "orthopedic"),
    ("leukaemia", "leukemia"),
    ("oesophagus", "esophagus"),
    ("oestrogen", "estrogen"),
    ("foetus", "fetus"),
    ("diarrhoea", "diarrhea"),
    ("mould", "mold"),
    ("sulphur", "sulfur"),
    ("plough", "plow"),
];

/// Plurals whose singular means something else, and words that only look plural.
pub(super) const NOT_PLURALS: [&str; 36] = [
    "news",
    "goods",
    "means",
    "series",
    "species",
    "physics",
    "mathematics",
    "economics",
    "politics",
    "ethics",
    "athletics",
    "gymnastics",
    "statistics",
    "lens",
    "always",
    "perhaps",
    "sometimes",
    "towards",
    "besides",
    "thanks",
    "glasses",
    "clothes",
    "arms",
    "savings",
    "manners",
    "customs",
    "headquarters",
    "whereabouts",
    "pants",
    "jeans",
    "scissors",
    "trousers",
    "shorts",
    "earnings",
    "aids",
    "diabetes",
];

/// The American spelling and singular of a lowercase word.
pub(crate) fn fold_word(w: &str) -> String {
    if let Some((_, us)) = SPELLINGS.iter().find(|(gb, _)| *gb == w) {
        return us.to_string();
    }
    let mut w = w.to_string();
    // -ise/-yse -> -ize/-yze (organise, analyse), -our -> -or (colour, behaviour).
    for (gb, us) in [("is", "iz"), ("ys", "yz")] {
        for tail in ["e", "ed", "es", "ing", "ation", "ations"] {
            // Without building the suffix: this runs for every word of every prompt.
            let stem = w.strip_suffix(tail).and_then(|s| s.strip_suffix(gb));
            if let Some(stem) = stem.filter(|s| s.len() >= 3) {
                w = [stem, us, tail].concat();
            }
        }
    }
    for tail in [
        "our", "ours", "oured", "ouring", "ourite", "ourites", "ourable", "ourful", "ourless",
    ] {
        if w.len() >= 6 && w.ends_with(tail) {
            w = format!("{}or{}", &w[..w.len() - tail.len()], &tail[3..]);
            break;
        }
    }
    singular(&w)
}

pub(super) fn singular(w: &str) -> String {
    if w.len() <= 3 || NOT_PLURALS.contains(&w) || !w.is_ascii() || w.contains('\'') {
        return w.to_string();
    }
    if let Some(stem) = w.strip_suffix("ies").filter(|s| s.len() >= 2) {
        return format!("{stem}y");
    }
    for es in ["sses", "xes", "ches", "shes"] {
        if w.ends_with(es) {
            return w[..w.len() - 2].to_string();
        }
    }
    if w.ends_with('s') && !w.ends_with("ss") && !w.ends_with("us") && !w.ends_with("is") {
        return w[..w.len() - 1].to_string();
    }
    w.to_string()
}

pub(super) fn fold_spelling_and_plurals(t: Vec<Token>) -> Vec<Token> {
    t.into_iter()
        .map(|tok| match tok {
            Token::Word { text, named } if text.chars().any(char::is_alphabetic) => Token::Word {
                text: fold_word(&text),
                named,
            },
            other => other,
        })
        .collect()
}

/// Articles carry no meaning a cache could lose ("what is the meaning of life" / "what is
/// meaning of life"); a capital "A" that is not an article is a literal already.
pub(super) fn drop_articles(t: Vec<Token>) -> Vec<Token> {
    let mut out: Vec<Token> = Vec::with_capacity(t.len());
    let mut prev_word: Option<String> = None;
    for tok in t {
        // The last word of a token, as `mentions_case` splits prose ("Say:reverse" ends in
        // "reverse"); literals of other kinds are not prose.
        let word = match &tok {
            Token::Word { text, .. } => Some(text.as_str()),
            Token::Literal(l) if l.kind == LiteralKind::Token && !written_as_code(&l.text) => {
                Some(l.text.as_str())
            }
            _ => None,
        }
        .and_then(|w| {
            w.rsplit(|c: char| !c.is_alphanumeric())
                .find(|w| !w.is_empty())
        })
        .map(str::to_lowercase);
        // "reverse a list" keeps its article: without it, "reverse list" reads as an order to
        // reverse the text "list" (case-sensitive, see `mentions_case`).
        let after_case_verb = prev_word
            .as_deref()
            .is_some_and(|p| CASE_KEEPING_VERBS.contains(&p));
        let article = matches!(tok.as_word(), Some("a" | "an" | "the"));
        let kept = matches!(tok.as_word(), Some("a" | "an")) && after_case_verb;
        // Politeness goes, and does not stand between a verb and its article.
        if word.as_deref().is_some_and(|w| !goes_anyway(w)) {
            prev_word = word;
        }
        if article && !kept {
            continue;
        }
        out.push(tok);
    }
    out
}
