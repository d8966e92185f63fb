//! The usage record of one request: one `usage_logs` row (what the dashboard and billing read)
//! and one structured log event (Workers logs, Datadog), written once from the same fields. How a
//! request ended (served from cache, answered upstream, failed) fills it in one place each.

use crate::cache_entry::CacheEntry;
use crate::error::ApiError;
use crate::models::Usage;
use crate::observability;
use crate::watchllm_headers::CacheStatus;
use serde::Serialize;
use serde_json::Value;

/// One request, as `usage_logs` stores it.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct UsageRecord {
    pub request_id: String,
    pub project_id: String,
    pub api_key_id: String,
    pub key_kind: String,
    pub endpoint: &'static str,
    pub model: String,
    pub provider: String,
    pub cache_status: &'static str,
    pub status_code: u16,
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
    pub cost_usd: Option<f64>,
    pub cost_saved_usd: f64,
    pub tokens_saved: u64,
    pub latency_ms: u64,
    pub similarity: Option<f64>,
    pub error_code: Option<String>,
    /// Upstream calls made (0 when the cache answered, 2 after a retry).
    pub upstream_attempts: u32,
}

impl UsageRecord {
    /// The `usage_logs` row.
    pub fn to_row(&self) -> Value {
        serde_json::to_value(self).unwrap_or_default()
    }

    /// The log event: the row's fields under the names logs use, without the key kind, with a
    /// timestamp; requests that never authenticated have no project or key.
    pub fn to_log_event(&self, timestamp_ms: u64) -> Value {
        let mut event = serde_json::Map::new();
        event.insert(
            "timestamp".into(),
            observability::iso8601(timestamp_ms).into(),
        );
        let Value::Object(row) = self.to_row() else {
            return Value::Object(event);
        };
        for (k, v) in row {
            let name = match k.as_str() {
                "key_kind" => continue,
                "status_code" => "status".to_string(),
                "error_code" => "error".to_string(),
                _ => k,
            };
            let blank = matches!(name.as_str(), "project_id" | "api_key_id") && v == "";
            event.insert(name, if blank { Value::Null } else { v });
        }
        Value::Object(event)
    }

    /// Whether the request had a project to bill (unauthenticated ones get telemetry only).
    pub fn has_project(&self) -> bool {
        !self.project_id.is_empty()
    }

    /// Served from cache: nothing spent upstream, the entry's cost saved.
    pub fn served(&mut self, entry: &CacheEntry, status: CacheStatus, similarity: Option<f64>) {
        let usage = entry.usage();
        self.cache_status = status.as_str();
        self.status_code = 200;
        self.provider = entry.provider.clone();
        self.prompt_tokens = usage.prompt_tokens;
        self.completion_tokens = usage.completion_tokens;
        self.cost_usd = Some(0.0);
        self.cost_saved_usd = entry.cost_usd;
        self.tokens_saved = usage.prompt_tokens;
        self.similarity = similarity;
    }

    /// Answered upstream.
    pub fn answered(&mut self, usage: Usage, cost_usd: Option<f64>) {
        self.status_code = 200;
        self.prompt_tokens = usage.prompt_tokens;
        self.completion_tokens = usage.completion_tokens;
        self.cost_usd = cost_usd;
    }

    /// Failed with `err`.
    pub fn failed(&mut self, err: &ApiError) {
        self.status_code = err.status;
        self.error_code = err.code.clone();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn one_set_of_fields_for_the_row_and_the_log_event() {
        let mut r = UsageRecord {
            request_id: "r1".into(),
            project_id: "p1".into(),
            api_key_id: "k1".into(),
            key_kind: "live".into(),
            endpoint: "chat",
            model: "m".into(),
            cache_status: "MISS",
            ..Default::default()
        };
        r.failed(&ApiError::upstream_failed("openai", "boom"));
        let row = r.to_row();
        assert_eq!(row["status_code"], 502);
        assert_eq!(row["key_kind"], "live");
        assert_eq!(row.as_object().unwrap().len(), 18);
        let event = r.to_log_event(0);
        assert_eq!(event["status"], 502);
        assert_eq!(event["error"], row["error_code"]);
        assert_eq!(event["timestamp"], "1970-01-01T00:00:00.000Z");
        assert!(event.get("key_kind").is_none() && event.get("status_code").is_none());
        let anonymous = UsageRecord::default().to_log_event(0);
        assert_eq!(anonymous["project_id"], Value::Null);
        assert!(!UsageRecord::default().has_project());
    }

    #[test]
    fn outcomes_fill_the_record() {
        let entry = CacheEntry {
            stored_at_ms: 0,
            provider: "anthropic".into(),
            model: "m".into(),
            prompt_tokens: 10,
            completion_tokens: 5,
            cost_usd: 0.25,
            answer: json!({}),
        };
        let mut hit = UsageRecord::default();
        hit.served(&entry, CacheStatus::HitSemantic, Some(0.97));
        assert_eq!(
            (
                hit.cache_status,
                hit.cost_usd,
                hit.cost_saved_usd,
                hit.tokens_saved,
                hit.provider.as_str()
            ),
            ("HIT-SEMANTIC", Some(0.0), 0.25, 10, "anthropic")
        );
        let mut miss = UsageRecord::default();
        miss.answered(
            Usage {
                prompt_tokens: 3,
                completion_tokens: 4,
            },
            Some(0.1),
        );
        assert_eq!(
            (miss.status_code, miss.prompt_tokens, miss.cost_usd),
            (200, 3, Some(0.1))
        );
    }
}
