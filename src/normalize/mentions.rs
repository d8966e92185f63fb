//! Mentions: a word talked about rather than used ("What does kindly mean?", "Spell the word
//! are") is kept as written, so no folding rule drops or rewrites it.

use super::tokens::token_literal;
use super::Token;

/// Phrases after which the next word (past an article) is talked about rather than used.
pub(super) const MENTION_BEFORE: [&[&str]; 20] = [
    &["word"],
    &["words"],
    &["term"],
    &["spell"],
    &["define"],
    &["pronounce"],
    &["say"],
    &["translate"],
    &["conjugate"],
    &["plural", "of"],
    &["tense", "of"],
    &["meaning", "of"],
    &["definition", "of"],
    &["synonym", "of"],
    &["synonym", "for"],
    &["antonym", "of"],
    &["antonym", "for"],
    &["opposite", "of"],
    &["rhymes", "with"],
    &["rhyme", "with"],
];

/// Words before which a word is talked about ("what does kindly mean", "what does ASAP stand for").
pub(super) const MENTION_AFTER: [&[&str]; 3] = [&["mean"], &["means"], &["stand", "for"]];

/// A word that is talked about rather than used ("What does kindly mean?", "Spell the word
/// are") is kept as it is written (lowercased unless the prompt is case-sensitive): no folding
/// rule may drop or rewrite it.
pub(super) fn protect_mentions(t: Vec<Token>, case_sensitive: bool) -> Vec<Token> {
    let lower: Vec<Option<String>> = t
        .iter()
        .map(|x| x.as_word().map(str::to_lowercase))
        .collect();
    let phrase_at = |i: usize, p: &[&str]| {
        p.iter()
            .enumerate()
            .all(|(k, w)| lower.get(i + k).and_then(|x| x.as_deref()) == Some(*w))
    };
    let mut protect = vec![false; t.len()];
    for i in 0..t.len() {
        for cue in MENTION_BEFORE {
            if phrase_at(i, cue) {
                let mut j = i + cue.len();
                while lower
                    .get(j)
                    .and_then(|x| x.as_deref())
                    .is_some_and(|w| matches!(w, "a" | "an" | "the"))
                    && lower.get(j + 1).is_some_and(Option::is_some)
                {
                    j += 1;
                }
                if j < t.len() && lower[j].is_some() {
                    protect[j] = true;
                }
            }
        }
        if i > 0 && lower[i - 1].is_some() && MENTION_AFTER.iter().any(|p| phrase_at(i, p)) {
            protect[i - 1] = true;
        }
    }
    t.into_iter()
        .zip(protect)
        .map(|(tok, keep)| match tok {
            Token::Word { text, .. } if keep => {
                let text = if case_sensitive {
                    text
                } else {
                    text.to_lowercase()
                };
                token_literal(&text)
            }
            other => other,
        })
        .collect()
}
