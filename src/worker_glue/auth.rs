//! API key validation against Supabase (`api_key_lookup` view), with the positive result kept in
//! the isolate's memory for `AUTH_CACHE_TTL_SECS` so the hot path does not ask Supabase per request.
//! While Supabase is unreachable, keys seen in the last `AUTH_STALE_TTL_SECS` keep working; keys
//! never seen get 503, never a pass.

use super::config::Config;
use crate::api_key::PresentedKey;
use crate::error::ApiError;
use serde::Deserialize;
use std::cell::RefCell;
use std::collections::HashMap;

/// What the proxy needs to know about a valid key's project.
#[derive(Debug, Clone, Deserialize)]
pub struct KeyRecord {
    pub key_id: String,
    pub project_id: String,
    pub key_kind: String,
    pub revoked: bool,
    pub requests_per_minute: u64,
    #[serde(default = "default_true")]
    pub semantic_cache_enabled: bool,
    #[serde(default = "default_threshold")]
    pub similarity_threshold: f32,
    /// `local` (in the Worker) or `openai` (the provider's /v1/embeddings with the project's key).
    #[serde(default = "default_embedder")]
    pub semantic_embedder: String,
    /// The project's TTL for completions (embeddings always keep 24 h).
    #[serde(default)]
    pub cache_ttl_secs: Option<u64>,
    /// Encrypted provider keys by provider name (`openai`, `groq`, ...).
    #[serde(default)]
    pub provider_keys: Option<HashMap<String, String>>,
}

fn default_true() -> bool {
    true
}

fn default_embedder() -> String {
    "local".into()
}

fn default_threshold() -> f32 {
    crate::semantic::DEFAULT_THRESHOLD
}

impl KeyRecord {
    pub fn has_provider_key(&self, provider: &str) -> bool {
        self.provider_keys
            .as_ref()
            .is_some_and(|m| m.contains_key(provider))
    }
}

struct Cached {
    record: KeyRecord,
    fetched_at_ms: u64,
}

thread_local! {
    static KEY_CACHE: RefCell<HashMap<String, Cached>> = RefCell::new(HashMap::new());
}

const MAX_CACHED_KEYS: usize = 10_000;

fn remember(hash: &str, record: &KeyRecord, now_ms: u64) {
    KEY_CACHE.with(|c| {
        let mut c = c.borrow_mut();
        if c.len() >= MAX_CACHED_KEYS {
            c.clear();
        }
        c.insert(
            hash.to_string(),
            Cached {
                record: record.clone(),
                fetched_at_ms: now_ms,
            },
        );
    });
}

fn cached(hash: &str, max_age_ms: u64, now_ms: u64) -> Option<KeyRecord> {
    KEY_CACHE.with(|c| {
        c.borrow()
            .get(hash)
            .filter(|e| now_ms.saturating_sub(e.fetched_at_ms) < max_age_ms)
            .map(|e| e.record.clone())
    })
}

fn forget(hash: &str) {
    KEY_CACHE.with(|c| c.borrow_mut().remove(hash));
}

fn check(record: KeyRecord) -> Result<KeyRecord, ApiError> {
    if record.revoked {
        Err(ApiError::invalid_api_key(
            "This API key has been revoked. Create a new key in the WatchLLM dashboard.",
        ))
    } else {
        Ok(record)
    }
}

/// Validates a presented key; the record's project scopes everything the request touches.
pub async fn authenticate(
    cfg: &Config,
    key: &PresentedKey,
    now_ms: u64,
) -> Result<KeyRecord, ApiError> {
    if let Some(record) = cached(&key.hash, cfg.auth_cache_ttl_ms, now_ms) {
        return check(record);
    }
    let supabase = cfg.supabase();
    let query = format!("api_key_lookup?key_hash=eq.{}&select=*&limit=1", key.hash);
    match supabase.select(&query).await {
        Ok(rows) => {
            let Some(row) = rows.into_iter().next() else {
                forget(&key.hash);
                return Err(ApiError::invalid_api_key(format!(
                    "Incorrect API key provided: {}****. Find your keys in the WatchLLM dashboard.",
                    key.prefix
                )));
            };
            let record: KeyRecord = serde_json::from_value(row)
                .map_err(|e| ApiError::internal(format!("bad key record: {e}")))?;
            remember(&key.hash, &record, now_ms);
            check(record)
        }
        Err(e) => {
            worker::console_warn!("key lookup failed: {e}");
            match cached(&key.hash, cfg.auth_stale_ttl_ms, now_ms) {
                Some(record) => check(record),
                None => Err(ApiError::service_unavailable("WatchLLM cannot validate API keys right now (key store unavailable). Please retry shortly.")),
            }
        }
    }
}
