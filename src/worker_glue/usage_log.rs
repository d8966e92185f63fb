//! One `usage_logs` row per proxied request, inserted through Supabase REST inside
//! `ctx.wait_until`, so logging never delays the response.

use super::config::Config;
use super::supabase::Supabase;
use serde_json::{json, Value};

#[derive(Debug, Clone, Default)]
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
}

impl UsageRecord {
    pub fn to_row(&self) -> Value {
        json!({
            "request_id": self.request_id,
            "project_id": self.project_id,
            "api_key_id": self.api_key_id,
            "key_kind": self.key_kind,
            "endpoint": self.endpoint,
            "model": self.model,
            "provider": self.provider,
            "cache_status": self.cache_status,
            "status_code": self.status_code,
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "cost_usd": self.cost_usd,
            "cost_saved_usd": self.cost_saved_usd,
            "tokens_saved": self.tokens_saved,
            "latency_ms": self.latency_ms,
            "similarity": self.similarity,
            "error_code": self.error_code,
        })
    }
}

/// Inserts the row; failures are logged, never surfaced to the client.
pub async fn write(cfg: &Config, record: &UsageRecord) {
    let supabase = Supabase { url: &cfg.supabase_url, service_key: &cfg.supabase_service_key, timeout_ms: cfg.supabase_timeout_ms * 2 };
    if let Err(e) = supabase.insert("usage_logs", &record.to_row()).await {
        worker::console_error!("usage log insert failed for {}: {e}", record.request_id);
    }
}
