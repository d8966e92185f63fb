//! The rows the dashboard reads from Supabase (tables, views and RPCs through PostgREST) and from
//! Supabase Auth, as typed structs: a missing or renamed column fails loudly in one place instead
//! of turning into an empty string on a page.
//!
//! PostgREST sends `numeric` columns as JSON numbers or as strings depending on the server and its
//! settings, so money and percentages go through [`flexible`], which takes either.

use serde::{Deserialize, Deserializer};

/// `numeric` values as `f64`, whether sent as a number or a string; null is 0.
fn flexible<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
    optional(d).map(Option::unwrap_or_default)
}

/// Like [`flexible`], for columns where null means "not set".
fn optional<'de, D: Deserializer<'de>>(d: D) -> Result<Option<f64>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Num {
        Number(f64),
        Text(String),
        Null(()),
    }
    match Num::deserialize(d)? {
        Num::Number(n) => Ok(Some(n)),
        Num::Text(s) => s.trim().parse().map(Some).map_err(serde::de::Error::custom),
        Num::Null(()) => Ok(None),
    }
}

/// A `real` as the settings form shows it (they come back as 0.949999988).
fn rounded(v: f64) -> f64 {
    (v * 1000.0).round() / 1000.0
}

/// Counts as `u64`, whether sent as a number or a string (`bigint` may be either).
fn count<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    flexible(d).map(|n| n.max(0.0) as u64)
}

/// The first ten characters of a timestamp (`2026-11-23T10:00:00+00:00` -> `2026-11-23`).
fn day_of(timestamp: &str) -> String {
    timestamp.chars().take(10).collect()
}

fn yes() -> bool {
    true
}

/// A project (`projects`). The list page selects only id, name and plan; the rest default.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct ProjectRow {
    pub id: String,
    pub name: String,
    pub plan: String,
    #[serde(default = "yes")]
    pub semantic_cache_enabled: bool,
    #[serde(default, deserialize_with = "flexible")]
    pub similarity_threshold: f64,
    #[serde(default, deserialize_with = "count")]
    pub cache_ttl_secs: u64,
    /// `local` or `openai`.
    #[serde(default)]
    pub semantic_embedder: String,
    /// The lowest threshold a request may ask for; `None` when not set.
    #[serde(default, deserialize_with = "optional")]
    pub similarity_threshold_floor: Option<f64>,
    /// Every request must send `X-WatchLLM-Cache-Namespace`.
    #[serde(default)]
    pub require_cache_namespace: bool,
    /// The web origins the project's keys work from; `None` (or empty): any.
    #[serde(default)]
    pub allowed_origins: Option<Vec<String>>,
    #[serde(default)]
    pub subscription_status: Option<String>,
    #[serde(default)]
    pub stripe_customer_id: Option<String>,
}

impl ProjectRow {
    /// The threshold as the settings form shows it (`real` columns come back as 0.949999988).
    pub fn threshold_rounded(&self) -> f64 {
        rounded(self.similarity_threshold)
    }

    /// The floor as the settings form shows it: empty when there is none.
    pub fn floor_text(&self) -> String {
        self.similarity_threshold_floor
            .map(|f| rounded(f).to_string())
            .unwrap_or_default()
    }

    /// The allowed origins as the settings form shows them: one a line, empty for any origin.
    pub fn origins_text(&self) -> String {
        self.allowed_origins
            .as_deref()
            .unwrap_or_default()
            .join("\n")
    }
}

/// An API key (`api_keys`): never the key, only its display prefix.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct KeyRow {
    pub id: String,
    pub key_prefix: String,
    /// `live` or `test`.
    pub kind: String,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub revoked: bool,
    #[serde(default)]
    pub created_at: String,
}

impl KeyRow {
    pub fn created_day(&self) -> String {
        day_of(&self.created_at)
    }
}

/// A project's key for one provider (`provider_keys`): the masked hint only.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct ProviderKeyRow {
    pub provider: String,
    pub key_hint: String,
    #[serde(default)]
    pub updated_at: String,
}

impl ProviderKeyRow {
    pub fn updated_day(&self) -> String {
        day_of(&self.updated_at)
    }
}

/// One `usage_daily`, `usage_by_day` or `usage_by_model` row: a day and model's totals (model `*`:
/// all models; `usage_by_model` gives the range's first day).
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct UsageDailyRow {
    pub day: String,
    pub model: String,
    #[serde(deserialize_with = "count")]
    pub requests: u64,
    #[serde(default, deserialize_with = "count")]
    pub hits: u64,
    #[serde(default, deserialize_with = "count")]
    pub semantic_hits: u64,
    #[serde(default, deserialize_with = "count")]
    pub misses: u64,
    #[serde(default, deserialize_with = "count")]
    pub errors: u64,
    #[serde(default, deserialize_with = "count")]
    pub prompt_tokens: u64,
    #[serde(default, deserialize_with = "count")]
    pub completion_tokens: u64,
    #[serde(default, deserialize_with = "count")]
    pub tokens_saved: u64,
    #[serde(default, deserialize_with = "flexible")]
    pub cost_usd: f64,
    #[serde(default, deserialize_with = "flexible")]
    pub cost_saved_usd: f64,
}

/// The `plan_usage` row: this month's requests against the plan's limit.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct PlanUsageRow {
    pub plan: String,
    #[serde(deserialize_with = "count")]
    pub monthly_requests: u64,
    #[serde(deserialize_with = "count")]
    pub requests_this_month: u64,
    #[serde(deserialize_with = "flexible")]
    pub percent_used: f64,
}

/// One `request_log` row: a request as the request log and its CSV show it.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct RequestRow {
    pub id: i64,
    pub created_at: String,
    #[serde(default)]
    pub request_id: String,
    #[serde(default)]
    pub key_prefix: Option<String>,
    #[serde(default)]
    pub endpoint: String,
    #[serde(default)]
    pub model: String,
    #[serde(default)]
    pub provider: String,
    pub cache_status: String,
    #[serde(default)]
    pub similarity: Option<f64>,
    #[serde(default, deserialize_with = "count")]
    pub latency_ms: u64,
    #[serde(default, deserialize_with = "count")]
    pub prompt_tokens: u64,
    #[serde(default, deserialize_with = "count")]
    pub completion_tokens: u64,
    #[serde(default, deserialize_with = "flexible")]
    pub cost_usd: f64,
    #[serde(default, deserialize_with = "flexible")]
    pub cost_saved_usd: f64,
    #[serde(deserialize_with = "count")]
    pub status_code: u64,
    #[serde(default)]
    pub error_code: Option<String>,
}

/// One `latency_daily` row: a day and cache outcome's p50 and p95.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct LatencyRow {
    pub day: String,
    pub cache_status: String,
    #[serde(deserialize_with = "count")]
    pub requests: u64,
    #[serde(deserialize_with = "flexible")]
    pub p50_ms: f64,
    #[serde(deserialize_with = "flexible")]
    pub p95_ms: f64,
}

/// What `usage_upkeep` did: partitions created ahead and dropped past retention, and how many
/// latency rollups of ended days got their percentiles.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct UsageUpkeep {
    #[serde(default)]
    pub created: Vec<String>,
    #[serde(default)]
    pub dropped: Vec<String>,
    #[serde(default, deserialize_with = "count")]
    pub closed: u64,
}

/// A plan (`plans`): its limits and price, as the docs show them.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct PlanRow {
    pub name: String,
    #[serde(deserialize_with = "count")]
    pub requests_per_minute: u64,
    #[serde(deserialize_with = "count")]
    pub monthly_requests: u64,
    #[serde(deserialize_with = "flexible")]
    pub price_usd_month: f64,
    /// How long the request log keeps a request (days).
    #[serde(deserialize_with = "count")]
    pub retention_days: u64,
}

/// One `usage_alerts_due` row: an owner to tell about a threshold crossed this month.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct AlertDueRow {
    pub project_id: String,
    pub project_name: String,
    pub email: String,
    pub plan: String,
    #[serde(deserialize_with = "count")]
    pub monthly_requests: u64,
    #[serde(deserialize_with = "count")]
    pub requests_this_month: u64,
    #[serde(deserialize_with = "count")]
    pub threshold: u64,
}

/// Just the id of a row (what an insert returns that the dashboard needs).
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct IdRow {
    pub id: String,
}

/// A project found by its Stripe customer (payment failures).
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct BillingProjectRow {
    pub id: String,
    pub name: String,
}

/// A Supabase Auth session (`/auth/v1/token`, `/auth/v1/signup` with auto-confirm).
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct AuthSession {
    pub access_token: String,
    #[serde(default)]
    pub refresh_token: String,
    #[serde(default = "an_hour")]
    pub expires_in: u64,
}

fn an_hour() -> u64 {
    3600
}

/// A Supabase Auth error body; GoTrue versions name the message differently.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct AuthErrorBody {
    #[serde(default)]
    msg: Option<String>,
    #[serde(default)]
    error_description: Option<String>,
    #[serde(default)]
    message: Option<String>,
}

impl AuthErrorBody {
    pub fn message(&self) -> &str {
        [&self.msg, &self.error_description, &self.message]
            .into_iter()
            .find_map(|m| m.as_deref())
            .unwrap_or("Sign-in failed.")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{from_value, json};

    #[test]
    fn numerics_arrive_as_numbers_or_strings() {
        let row: UsageDailyRow = from_value(json!({"day": "2026-11-20", "model": "m", "requests": "3", "hits": 1, "cost_usd": "0.002", "cost_saved_usd": 0.004})).unwrap();
        assert_eq!((row.requests, row.hits, row.misses), (3, 1, 0));
        assert_eq!((row.cost_usd, row.cost_saved_usd), (0.002, 0.004));
        let plan: PlanUsageRow = from_value(json!({"plan": "free", "monthly_requests": 10000, "requests_this_month": 5, "percent_used": "0.05"})).unwrap();
        assert_eq!(plan.percent_used, 0.05);
        let bad = from_value::<PlanUsageRow>(
            json!({"plan": "free", "monthly_requests": "many", "requests_this_month": 5, "percent_used": 0}),
        );
        assert!(bad.is_err(), "a number that is not one fails loudly");
    }

    #[test]
    fn missing_required_columns_fail_and_optional_ones_default() {
        assert!(from_value::<KeyRow>(json!({"id": "k"})).is_err());
        let p: ProjectRow = from_value(json!({"id": "p", "name": "n", "plan": "free"})).unwrap();
        assert!(p.semantic_cache_enabled, "the column's default");
        assert_eq!(p.stripe_customer_id, None);
        let p: ProjectRow = from_value(json!({"id": "p", "name": "n", "plan": "pro", "similarity_threshold": 0.949999988, "cache_ttl_secs": 600, "stripe_customer_id": null})).unwrap();
        assert_eq!((p.threshold_rounded(), p.cache_ttl_secs), (0.95, 600));
        assert_eq!(
            (p.floor_text(), p.require_cache_namespace, p.origins_text()),
            (String::new(), false, String::new()),
            "no floor, no namespace required, any origin"
        );
        let p: ProjectRow = from_value(json!({"id": "p", "name": "n", "plan": "pro", "similarity_threshold_floor": 0.899999976, "require_cache_namespace": true, "allowed_origins": ["https://a.example", "https://*.b.example"]})).unwrap();
        assert_eq!(p.floor_text(), "0.9");
        assert!(p.require_cache_namespace);
        assert_eq!(p.origins_text(), "https://a.example\nhttps://*.b.example");
        let p: ProjectRow = from_value(json!({"id": "p", "name": "n", "plan": "pro", "similarity_threshold_floor": null, "allowed_origins": null})).unwrap();
        assert_eq!(
            (p.similarity_threshold_floor, p.allowed_origins),
            (None, None)
        );
    }

    #[test]
    fn dates_and_auth_bodies() {
        let k: KeyRow = from_value(json!({"id": "k", "key_prefix": "lgw_proj_Ab", "kind": "live", "name": null, "revoked": false, "created_at": "2026-11-23T10:00:00+00:00"})).unwrap();
        assert_eq!(k.created_day(), "2026-11-23");
        let s: AuthSession = from_value(json!({"access_token": "a"})).unwrap();
        assert_eq!((s.refresh_token.as_str(), s.expires_in), ("", 3600));
        let e: AuthErrorBody =
            from_value(json!({"error_description": "Invalid login credentials"})).unwrap();
        assert_eq!(e.message(), "Invalid login credentials");
        assert_eq!(AuthErrorBody::default().message(), "Sign-in failed.");
    }
}
