//! The dashboard's configuration, from wrangler vars and secrets (read per request: it is a few
//! lookups, and a new deployment's values apply at once).

use crate::views::Chrome;
use watchllm_proxy::observability::SentryDsn;
use worker::Env;
use worker_util::env::{var, var_or};

#[derive(Clone)]
pub struct Config {
    pub supabase_url: String,
    pub anon_key: String,
    pub service_key: String,
    pub jwt_secret: String,
    /// Base64 AES-256 key; the same one the proxy decrypts provider keys with.
    pub encryption_key: String,
    pub proxy_url: String,
    pub dashboard_url: String,
    pub stripe: StripeConfig,
    pub resend: ResendConfig,
    /// Simple Analytics is on (recording under this hostname) when `SIMPLE_ANALYTICS_HOSTNAME` is set.
    pub analytics_hostname: Option<String>,
    /// Server errors and panics go to Sentry when `SENTRY_DSN` is set (and valid).
    pub sentry_dsn: Option<SentryDsn>,
    /// `ENVIRONMENT` (production, staging, test): tags error reports.
    pub environment: String,
    /// `DASHBOARD_TEST_ROUTES=1` (the test stack only) enables `/__test/*` routes.
    pub test_routes: bool,
}

#[derive(Clone)]
pub struct StripeConfig {
    /// Empty when billing is not set up (checkout and portal then say so).
    pub secret_key: String,
    pub webhook_secret: String,
    pub api_base: String,
    /// (Stripe price id, plan name)
    pub prices: Vec<(String, String)>,
}

#[derive(Clone)]
pub struct ResendConfig {
    /// Empty when email is not set up (emails are logged and skipped).
    pub api_key: String,
    pub api_base: String,
    pub from: String,
}

fn url(env: &Env, name: &str, default: &str) -> String {
    var_or(env, name, default).trim_end_matches('/').to_string()
}

impl Config {
    pub fn from_env(env: &Env) -> Config {
        let secret = |name: &str| var(env, name).unwrap_or_default();
        Config {
            supabase_url: url(env, "SUPABASE_URL", ""),
            anon_key: secret("SUPABASE_ANON_KEY"),
            service_key: secret("SUPABASE_SERVICE_ROLE_KEY"),
            jwt_secret: secret("SUPABASE_JWT_SECRET"),
            encryption_key: secret("PROVIDER_KEYS_ENCRYPTION_KEY"),
            proxy_url: url(env, "PROXY_URL", ""),
            dashboard_url: url(env, "DASHBOARD_URL", "https://app.watchllm.dev"),
            stripe: StripeConfig {
                secret_key: secret("STRIPE_SECRET_KEY"),
                webhook_secret: secret("STRIPE_WEBHOOK_SECRET"),
                api_base: url(env, "STRIPE_API_BASE", "https://api.stripe.com"),
                prices: [
                    ("STRIPE_PRICE_STARTER", "starter"),
                    ("STRIPE_PRICE_PRO", "pro"),
                ]
                .iter()
                .filter_map(|(name, plan)| var(env, name).map(|p| (p, plan.to_string())))
                .collect(),
            },
            resend: ResendConfig {
                api_key: secret("RESEND_API_KEY"),
                api_base: url(env, "RESEND_API_BASE", "https://api.resend.com"),
                from: var_or(env, "EMAIL_FROM", "WatchLLM <notifications@watchllm.dev>"),
            },
            analytics_hostname: var(env, "SIMPLE_ANALYTICS_HOSTNAME"),
            sentry_dsn: var(env, "SENTRY_DSN").and_then(|d| SentryDsn::parse(&d)),
            environment: var_or(env, "ENVIRONMENT", "production"),
            test_routes: var(env, "DASHBOARD_TEST_ROUTES").as_deref() == Some("1"),
        }
    }

    /// The page chrome for a visitor (analytics on when configured).
    pub fn chrome(&self, email: Option<&str>) -> Chrome {
        Chrome {
            email: email.map(str::to_string),
            analytics: self.analytics_hostname.clone(),
            live: false,
        }
    }

    /// A page of this project in the dashboard (links in emails, Stripe return URLs).
    pub fn project_url(&self, project_id: &str) -> String {
        format!("{}/projects/{project_id}", self.dashboard_url)
    }
}
