//! The cache entry stored in Redis: the complete answer plus what a hit needs to report
//! (age, provider, tokens and cost it saves).

use crate::models::{self, Usage};
use serde::{Deserialize, Serialize};
use serde_json::Value;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct CacheEntry {
    /// Unix milliseconds when the answer was stored.
    pub stored_at_ms: u64,
    pub provider: String,
    /// The model that produced the answer (as the provider named it).
    pub model: String,
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
    /// What the answer cost upstream; a hit saves this much.
    pub cost_usd: f64,
    /// The complete answer in the non-streaming response format.
    pub answer: Value,
}

impl CacheEntry {
    /// The entry for an upstream answer, with its usage and cost: OpenRouter's own `usage.cost`
    /// when it reports one, else the price table's for the model the answer names (or the one
    /// asked for, `upstream_model`).
    pub fn for_answer(
        provider: &str,
        upstream_model: &str,
        answer: Value,
        now_ms: u64,
    ) -> (CacheEntry, Usage, Option<f64>) {
        let usage_json = answer.get("usage").cloned().unwrap_or(Value::Null);
        let usage = Usage::from_json(&usage_json).unwrap_or_default();
        let model = answer
            .get("model")
            .and_then(Value::as_str)
            .unwrap_or(upstream_model)
            .to_string();
        let cost = models::answer_cost_usd(&model, &usage_json)
            .or_else(|| models::answer_cost_usd(upstream_model, &usage_json));
        let entry = CacheEntry {
            stored_at_ms: now_ms,
            provider: provider.to_string(),
            model,
            prompt_tokens: usage.prompt_tokens,
            completion_tokens: usage.completion_tokens,
            cost_usd: cost.unwrap_or(0.0),
            answer,
        };
        (entry, usage, cost)
    }

    pub fn usage(&self) -> Usage {
        Usage {
            prompt_tokens: self.prompt_tokens,
            completion_tokens: self.completion_tokens,
        }
    }

    pub fn age_secs(&self, now_ms: u64) -> u64 {
        now_ms.saturating_sub(self.stored_at_ms) / 1000
    }

    #[expect(
        clippy::expect_used,
        reason = "a struct of strings, numbers and a JSON value always serialises"
    )]
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("entry serialises")
    }

    /// Parses a stored entry; a corrupt entry is treated as a miss.
    pub fn from_json(text: &str) -> Option<Self> {
        serde_json::from_str(text).ok()
    }
}

/// Whether an upstream answer is complete and safe to cache (errors and truncated answers are not).
pub fn is_cacheable_answer(answer: &Value) -> bool {
    if answer.get("error").is_some() {
        return false;
    }
    match answer.get("object").and_then(Value::as_str) {
        Some("list") => answer
            .get("data")
            .and_then(Value::as_array)
            .is_some_and(|d| !d.is_empty()),
        Some("chat.completion") | Some("text_completion") => answer
            .get("choices")
            .and_then(Value::as_array)
            .is_some_and(|c| {
                !c.is_empty()
                    && c.iter()
                        .all(|ch| ch.get("finish_reason").is_some_and(|f| !f.is_null()))
            }),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn round_trips_and_reports_age() {
        let e = CacheEntry {
            stored_at_ms: 10_000,
            provider: "openrouter".into(),
            model: "openai/gpt-4o".into(),
            prompt_tokens: 7,
            completion_tokens: 3,
            cost_usd: 0.001,
            answer: json!({"object": "chat.completion"}),
        };
        let back = CacheEntry::from_json(&e.to_json()).unwrap();
        assert_eq!(back, e);
        assert_eq!(back.age_secs(15_999), 5);
        assert_eq!(back.usage().total(), 10);
        assert!(CacheEntry::from_json("{not json").is_none());
    }

    #[test]
    fn an_answer_becomes_an_entry_with_its_usage_and_cost() {
        let answer = json!({"model": "gpt-4o-mini", "usage": {"prompt_tokens": 1000000, "completion_tokens": 0}});
        let (e, usage, cost) =
            CacheEntry::for_answer("openai", "gpt-4o-mini-2024", answer.clone(), 5);
        assert_eq!(
            (e.stored_at_ms, e.provider.as_str(), e.model.as_str()),
            (5, "openai", "gpt-4o-mini")
        );
        assert_eq!(usage.prompt_tokens, 1_000_000);
        assert_eq!(
            cost,
            Some(0.15),
            "the price table's input price per million tokens"
        );
        assert_eq!(e.cost_usd, 0.15);
        assert_eq!(e.answer, answer);
        let (e, _, cost) = CacheEntry::for_answer("x", "unknown-model", json!({}), 0);
        assert_eq!(
            (e.model.as_str(), cost, e.cost_usd),
            ("unknown-model", None, 0.0)
        );
    }

    #[test]
    fn only_complete_answers_are_cacheable() {
        assert!(is_cacheable_answer(
            &json!({"object": "chat.completion", "choices": [{"finish_reason": "stop"}]})
        ));
        assert!(!is_cacheable_answer(
            &json!({"object": "chat.completion", "choices": [{"finish_reason": null}]})
        ));
        assert!(!is_cacheable_answer(
            &json!({"object": "chat.completion", "choices": []})
        ));
        assert!(!is_cacheable_answer(&json!({"error": {"message": "x"}})));
        assert!(is_cacheable_answer(
            &json!({"object": "list", "data": [{"embedding": [0.1]}]})
        ));
        assert!(!is_cacheable_answer(&json!({"object": "list", "data": []})));
    }
}
