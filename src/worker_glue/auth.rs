//! API key validation against Supabase (`api_key_lookup` view), with the positive result kept in
//! the isolate's memory for `AUTH_CACHE_TTL_SECS` so the hot path does not ask Supabase per request.
//! While Supabase is unreachable, keys seen in the last `AUTH_STALE_TTL_SECS` keep working; keys
//! never seen get 503, never a pass. Made-up keys never reach Supabase in bulk (`key_flood`): an
//! unknown key is answered from memory for a few seconds, and a client address past
//! `AUTH_FAILURES_PER_MINUTE` failures gets 429 before any lookup. A burst of first requests with
//! one key makes one lookup per isolate: the others wait for its answer.

use super::config::Config;
use crate::api_key::PresentedKey;
use crate::controls::CachePolicy;
use crate::error::ApiError;
use crate::key_flood::{self, FailedAuths, LookupsInFlight, UnknownKeys};
use crate::keys;
use serde::Deserialize;
use std::cell::RefCell;
use std::collections::HashMap;
use std::time::Duration;
use worker_util::now_ms;

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
    /// Requests a month this key's requests count against (the project's plan for live keys, the
    /// sandbox plan for test keys), and that plan's name.
    #[serde(default)]
    pub monthly_requests: Option<u64>,
    #[serde(default)]
    pub quota_plan: Option<String>,
    /// Origins the project's keys work from in browsers (none: any).
    #[serde(default)]
    pub allowed_origins: Option<Vec<String>>,
    /// The lowest similarity threshold a request may ask for (none: any).
    #[serde(default)]
    pub similarity_threshold_floor: Option<f32>,
    /// Every request must name a cache namespace.
    #[serde(default)]
    pub require_cache_namespace: bool,
    /// The longest a request may ask an answer to be kept (the plan's bound).
    #[serde(default)]
    pub max_cache_ttl_secs: Option<u64>,
    /// Encrypted provider keys by provider name (`openai`, `groq`, ...).
    #[serde(default)]
    pub provider_keys: Option<HashMap<String, String>>,
}

/// The free plan's bound, for records from before plans had one.
const DEFAULT_MAX_CACHE_TTL_SECS: u64 = 86_400;

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
    /// What the project decides about its cache.
    pub fn cache_policy(&self) -> CachePolicy {
        let floor = self.similarity_threshold_floor;
        CachePolicy {
            threshold: floor.map_or(self.similarity_threshold, |f| {
                self.similarity_threshold.max(f)
            }),
            threshold_floor: floor,
            require_namespace: self.require_cache_namespace,
            max_ttl_secs: self
                .max_cache_ttl_secs
                .unwrap_or(DEFAULT_MAX_CACHE_TTL_SECS),
        }
    }

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
    static UNKNOWN_KEYS: RefCell<UnknownKeys> = RefCell::new(UnknownKeys::default());
    static FAILED_AUTHS: RefCell<FailedAuths> = RefCell::new(FailedAuths::default());
    static LOOKUPS_IN_FLIGHT: RefCell<LookupsInFlight> = RefCell::new(LookupsInFlight::default());
}

/// How often a request waiting for another's lookup of its key looks for the answer.
const LOOKUP_WAIT_POLL_MS: u64 = 2;

/// This request's lookup of a key; ends it when dropped (answered, failed or cancelled).
struct LookupTurn(String);

impl Drop for LookupTurn {
    fn drop(&mut self) {
        LOOKUPS_IN_FLIGHT.with(|l| l.borrow_mut().finish(&self.0));
    }
}

/// What waiting for another request's lookup of the same key came to.
enum Waited {
    /// This request looks the key up (None: beside another request's lookup).
    Lookup(Option<LookupTurn>),
    Valid(KeyRecord),
    Unknown,
}

/// Waits while another request of this isolate looks the same key up, then takes its answer. The
/// wait is on this request's own timer: woken from the other request instead, it would carry on
/// (and make its own I/O) in that request's context, which the runtime refuses.
async fn wait_for_lookup(cfg: &Config, key: &PresentedKey) -> Waited {
    let started = now_ms();
    loop {
        // Answered meanwhile: while this request passed the flood gate, or waited.
        let now = now_ms();
        if let Some(record) = cached(&key.hash, cfg.auth_cache_ttl_ms, now) {
            return Waited::Valid(record);
        }
        if UNKNOWN_KEYS.with(|u| u.borrow_mut().is_unknown(&key.hash, now)) {
            return Waited::Unknown;
        }
        // No lookup running: this request starts one. One that ended without an answer (Supabase
        // failed): each waiting request tries its own at once, as it would have without waiting.
        let running = LOOKUPS_IN_FLIGHT.with(|l| l.borrow().is_looking_up(&key.hash));
        if !running || now.saturating_sub(started) > cfg.supabase_timeout_ms {
            let turn = LOOKUPS_IN_FLIGHT.with(|l| l.borrow_mut().start(&key.hash));
            return Waited::Lookup(turn.then(|| LookupTurn(key.hash.clone())));
        }
        worker::Delay::from(Duration::from_millis(LOOKUP_WAIT_POLL_MS)).await;
    }
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

/// Who presents a key: the client's address (`CF-Connecting-IP`), for counting failures.
pub struct Client {
    pub address: String,
}

impl Client {
    pub fn of(req: &worker::Request) -> Client {
        let ip = req.headers().get("cf-connecting-ip").ok().flatten();
        Client {
            address: key_flood::client_address(ip.as_deref()),
        }
    }
}

fn unknown_key(key: &PresentedKey) -> ApiError {
    ApiError::invalid_api_key(format!(
        "Incorrect API key provided: {}****. Find your keys in the WatchLLM dashboard.",
        key.prefix
    ))
}

/// Validates a presented key; the record's project scopes everything the request touches.
pub async fn authenticate(
    cfg: &Config,
    client: &Client,
    key: &PresentedKey,
    now_ms: u64,
) -> Result<KeyRecord, ApiError> {
    if let Some(record) = cached(&key.hash, cfg.auth_cache_ttl_ms, now_ms) {
        return check(record);
    }
    // A key that was valid recently is revalidated without the flood gate: only keys this
    // isolate has not seen work are gated.
    let recently_valid = cached(&key.hash, cfg.auth_stale_ttl_ms, now_ms).is_some();
    let counter = keys::failed_auth_counter(&client.address, key_flood::window(now_ms).0);
    if !recently_valid {
        gate(cfg, client, key, &counter, now_ms).await?;
    }
    let _turn = match wait_for_lookup(cfg, key).await {
        Waited::Lookup(turn) => turn,
        Waited::Valid(record) => return check(record),
        Waited::Unknown => {
            FAILED_AUTHS.with(|f| f.borrow_mut().failed(&client.address, now_ms));
            return Err(unknown_key(key));
        }
    };

    let supabase = cfg.supabase();
    let query = format!("api_key_lookup?key_hash=eq.{}&select=*&limit=1", key.hash);
    match supabase.select(&query).await {
        Ok(rows) => {
            let Some(row) = rows.into_iter().next() else {
                forget(&key.hash);
                UNKNOWN_KEYS.with(|u| u.borrow_mut().remember(&key.hash, now_ms));
                // Counted where every isolate sees it; this isolate takes Redis's count over
                // (every isolate's failures), or counts on its own while Redis is down.
                let counted = count_failure(cfg, &counter).await;
                FAILED_AUTHS.with(|f| {
                    let mut f = f.borrow_mut();
                    match counted {
                        Some(count) => f.observed(&client.address, now_ms, count),
                        None => f.failed(&client.address, now_ms),
                    }
                });
                return Err(unknown_key(key));
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

/// The flood gate for a key not seen valid: refuses an address past its failures (from this
/// isolate's memory, or Redis's count for every isolate: one GET) and answers a key just reported
/// unknown from memory. Only failures are counted (after Supabase says so), so a burst of first
/// requests with a new, valid key is never refused; a flood overshoots the limit by at most the
/// requests it has in flight when the count reaches it. Redis down: this isolate's count holds.
async fn gate(
    cfg: &Config,
    client: &Client,
    key: &PresentedKey,
    counter: &str,
    now_ms: u64,
) -> Result<(), ApiError> {
    let address = client.address.as_str();
    let limit = cfg.auth_failures_per_minute;
    let refused = FAILED_AUTHS.with(|f| f.borrow().refused(address, limit, now_ms));
    if let Some(retry_after) = refused {
        return Err(refuse(limit, retry_after).await);
    }
    if UNKNOWN_KEYS.with(|u| u.borrow_mut().is_unknown(&key.hash, now_ms)) {
        FAILED_AUTHS.with(|f| f.borrow_mut().failed(address, now_ms));
        return Err(unknown_key(key));
    }
    if let Some(count) = failures_so_far(cfg, counter).await.filter(|c| *c >= limit) {
        FAILED_AUTHS.with(|f| f.borrow_mut().observed(address, now_ms, count));
        return Err(refuse(limit, key_flood::window(now_ms).1).await);
    }
    Ok(())
}

/// The 429 for an address past its failures, after `key_flood::REFUSAL_DELAY_MS`: a flood then
/// costs its sender time and this isolate almost no CPU, so real requests are not slowed.
async fn refuse(limit: u64, retry_after_secs: u64) -> ApiError {
    worker::Delay::from(std::time::Duration::from_millis(
        key_flood::REFUSAL_DELAY_MS,
    ))
    .await;
    ApiError::too_many_failed_authentications(limit, retry_after_secs)
}

/// The address's failures this minute in every isolate, or None if Redis did not answer.
async fn failures_so_far(cfg: &Config, counter: &str) -> Option<u64> {
    match cfg.redis().command(&["GET", counter]).await {
        // Upstash answers a counter as a string, or null when there is none yet.
        Ok(reply) => match reply {
            serde_json::Value::Null => Some(0),
            serde_json::Value::String(s) => s.parse().ok(),
            other => other.as_u64(),
        },
        Err(e) => {
            worker::console_warn!("failed-auth counter unavailable: {e}");
            None
        }
    }
}

/// Adds a failure to the address's counter for this minute; its new value, or None if Redis did
/// not answer.
async fn count_failure(cfg: &Config, counter: &str) -> Option<u64> {
    let ttl = key_flood::COUNTER_TTL_SECS.to_string();
    let cmds = [
        vec!["INCR".to_string(), counter.to_string()],
        vec!["EXPIRE".into(), counter.to_string(), ttl, "NX".into()],
    ];
    match cfg.redis().pipeline(&cmds).await {
        Ok(replies) => replies
            .first()
            .and_then(|r| r.as_ref().ok())
            .and_then(serde_json::Value::as_u64),
        Err(e) => {
            worker::console_warn!("failed-auth counter unavailable: {e}");
            None
        }
    }
}
