//! Worker configuration from vars and secrets (wrangler.toml `[vars]`, `wrangler secret put`),
//! read once per isolate, and the clients it configures.

use super::supabase::Supabase;
use super::upstash::Upstash;
use crate::models::Provider;
use crate::observability::{self, SentryDsn};
use std::rc::Rc;
use worker::Env;
use worker_util::env::{number, var as get};

#[derive(Debug, Clone)]
pub struct Config {
    pub upstash_url: String,
    pub upstash_token: String,
    pub supabase_url: String,
    pub supabase_service_key: String,
    /// Platform OpenRouter key used when a project brings no key of its own.
    pub openrouter_api_key: String,
    /// Base64 AES-256 key that decrypts projects' stored provider keys.
    pub provider_keys_encryption_key: String,
    pub base_urls: [(Provider, String); 4],
    /// Per-provider deadline for an upstream call (`OPENAI_TIMEOUT_MS`, ...; default
    /// `UPSTREAM_TIMEOUT_MS`).
    pub upstream_timeouts_ms: [(Provider, u64); 4],
    pub upstream_timeout_ms: u64,
    pub redis_timeout_ms: u64,
    pub supabase_timeout_ms: u64,
    /// Deadline for a hosted embedder's answer (semantic lookups skip it after that).
    pub embedding_timeout_ms: u64,
    /// How long a validated key is trusted without asking Supabase again.
    pub auth_cache_ttl_ms: u64,
    /// How long a cached key keeps working while Supabase is unreachable.
    pub auth_stale_ttl_ms: u64,
    /// Failed authentications a client address may make per minute (`AUTH_FAILURES_PER_MINUTE`).
    pub auth_failures_per_minute: u64,
    /// The dashboard's address, for links in errors (`DASHBOARD_URL`).
    pub dashboard_url: String,
    /// `ENVIRONMENT` (production, staging, dev): tags logs and errors.
    pub environment: String,
    /// Datadog log shipping, on when `DD_API_KEY` is set; intake from `DD_SITE` or
    /// `DATADOG_LOGS_URL` (a full URL, e.g. a local capture server in tests).
    pub datadog_api_key: Option<String>,
    pub datadog_logs_url: String,
    /// Sentry error reporting, on when `SENTRY_DSN` is set (and valid).
    pub sentry_dsn: Option<SentryDsn>,
}

thread_local! {
    static CONFIG: std::cell::OnceCell<Rc<Config>> = const { std::cell::OnceCell::new() };
}

impl Config {
    /// The configuration, read from the environment once per isolate (vars and secrets are fixed
    /// for an isolate's lifetime; a new deployment gets new isolates). Shared: a request and its
    /// background tasks each hold it, and a copy is some 25 strings.
    pub fn cached(env: &Env) -> Rc<Config> {
        CONFIG.with(|c| c.get_or_init(|| Rc::new(Config::from_env(env))).clone())
    }

    pub fn from_env(env: &Env) -> Config {
        let base = |p: Provider| {
            let var = format!("{}_BASE_URL", p.name().to_ascii_uppercase());
            let url = get(env, &var).unwrap_or_else(|| p.default_base_url().to_string());
            (p, url.trim_end_matches('/').to_string())
        };
        let upstream_timeout_ms = number(env, "UPSTREAM_TIMEOUT_MS", 60_000);
        Config {
            upstash_url: get(env, "UPSTASH_REDIS_REST_URL")
                .unwrap_or_default()
                .trim_end_matches('/')
                .to_string(),
            upstash_token: get(env, "UPSTASH_REDIS_REST_TOKEN").unwrap_or_default(),
            supabase_url: get(env, "SUPABASE_URL")
                .unwrap_or_default()
                .trim_end_matches('/')
                .to_string(),
            supabase_service_key: get(env, "SUPABASE_SERVICE_ROLE_KEY").unwrap_or_default(),
            openrouter_api_key: get(env, "OPENROUTER_API_KEY").unwrap_or_default(),
            provider_keys_encryption_key: get(env, "PROVIDER_KEYS_ENCRYPTION_KEY")
                .unwrap_or_default(),
            base_urls: Provider::ALL.map(base),
            upstream_timeouts_ms: Provider::ALL.map(|p| {
                let var = format!("{}_TIMEOUT_MS", p.name().to_ascii_uppercase());
                (p, number(env, &var, upstream_timeout_ms))
            }),
            upstream_timeout_ms,
            redis_timeout_ms: number(env, "REDIS_TIMEOUT_MS", 1_000),
            supabase_timeout_ms: number(env, "SUPABASE_TIMEOUT_MS", 3_000),
            embedding_timeout_ms: number(env, "EMBEDDING_TIMEOUT_MS", 2_000),
            auth_cache_ttl_ms: number(env, "AUTH_CACHE_TTL_SECS", 60) * 1000,
            auth_stale_ttl_ms: number(env, "AUTH_STALE_TTL_SECS", 3600) * 1000,
            auth_failures_per_minute: number(env, "AUTH_FAILURES_PER_MINUTE", 30),
            dashboard_url: get(env, "DASHBOARD_URL")
                .unwrap_or_else(|| "https://app.watchllm.dev".into())
                .trim_end_matches('/')
                .to_string(),
            environment: get(env, "ENVIRONMENT").unwrap_or_else(|| "production".into()),
            datadog_api_key: get(env, "DD_API_KEY"),
            datadog_logs_url: get(env, "DATADOG_LOGS_URL").unwrap_or_else(|| {
                observability::datadog_intake_url(
                    &get(env, "DD_SITE").unwrap_or_else(|| "datadoghq.com".into()),
                )
            }),
            sentry_dsn: get(env, "SENTRY_DSN").and_then(|d| {
                let parsed = SentryDsn::parse(&d);
                if parsed.is_none() {
                    worker::console_error!("SENTRY_DSN is not a valid DSN; error reporting is off");
                }
                parsed
            }),
        }
    }

    pub fn upstream_timeout(&self, p: Provider) -> u64 {
        self.upstream_timeouts_ms
            .iter()
            .find(|(q, _)| *q == p)
            .map_or(self.upstream_timeout_ms, |(_, t)| *t)
    }

    /// The Upstash client, with the Redis deadline.
    pub fn redis(&self) -> Upstash<'_> {
        Upstash {
            url: &self.upstash_url,
            token: &self.upstash_token,
            timeout_ms: self.redis_timeout_ms,
        }
    }

    /// The Supabase REST client (service role), with the Supabase deadline.
    pub fn supabase(&self) -> Supabase<'_> {
        Supabase {
            url: &self.supabase_url,
            service_key: &self.supabase_service_key,
            timeout_ms: self.supabase_timeout_ms,
        }
    }

    #[expect(
        clippy::expect_used,
        reason = "base_urls is built from Provider::ALL, so every provider is in it"
    )]
    pub fn base_url(&self, p: Provider) -> &str {
        &self
            .base_urls
            .iter()
            .find(|(q, _)| *q == p)
            .expect("every provider has a base URL")
            .1
    }
}
