//! What the dashboard tells Sentry about a failure, built on the proxy's envelope code
//! (`watchllm_proxy::observability`): server errors (5xx) and panics become [`ErrorReport`]s.
//!
//! A report carries the error's kind and message, the route with ids replaced by `:id`, the status
//! and the dependency that failed, and nothing from the request itself (no cookies, headers, form
//! fields or query). Messages are scrubbed anyway ([`scrub`]): an upstream error body could echo
//! a key, a token or a provider key, and none of those may leave for a third party.

use crate::error::DashError;
use watchllm_proxy::observability::ErrorReport;

pub const SERVICE: &str = "watchllm-dashboard";
pub const RELEASE: &str = concat!("watchllm-dashboard@", env!("CARGO_PKG_VERSION"));

/// Token prefixes of secrets: WatchLLM keys, provider keys (OpenAI, Anthropic, OpenRouter, Groq),
/// Stripe and Resend keys, and JWTs (Supabase sessions).
const SECRET_PREFIXES: [&str; 10] = [
    "lgw_", "sk-", "sk_", "rk_", "pk_", "gsk_", "gsk-", "whsec_", "re_", "eyJ",
];
/// Words whose next token is a secret (`Bearer <token>`, `wl_session=<token>`).
const SECRET_LABELS: [&str; 6] = [
    "bearer",
    "wl_session",
    "wl_refresh",
    "wl_new_key",
    "apikey",
    "authorization",
];

fn is_token_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | '+' | '/')
}

/// The text with every secret-looking token replaced by `[redacted]`.
pub fn scrub(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut token = String::new();
    let mut after_label = false;
    let flush = |token: &mut String, out: &mut String, after_label: &mut bool| {
        if token.is_empty() {
            return;
        }
        let secret = *after_label || SECRET_PREFIXES.iter().any(|p| token.starts_with(p));
        *after_label = SECRET_LABELS.iter().any(|l| token.eq_ignore_ascii_case(l));
        out.push_str(if secret { "[redacted]" } else { token });
        token.clear();
    };
    for c in text.chars() {
        if is_token_char(c) {
            token.push(c);
        } else {
            flush(&mut token, &mut out, &mut after_label);
            // A label's value follows a space, `=` or `:`; anything else ends the label.
            if !matches!(c, ' ' | '=' | ':' | '"') {
                after_label = false;
            }
            out.push(c);
        }
    }
    flush(&mut token, &mut out, &mut after_label);
    out
}

/// A path as a route: ids (UUIDs and long hex or digits) become `:id`.
pub fn route(method: &str, path: &str) -> String {
    let segments: Vec<&str> = path
        .split('/')
        .filter(|s| !s.is_empty())
        .map(|s| {
            let id_like = s.len() >= 8 && s.chars().all(|c| c.is_ascii_hexdigit() || c == '-');
            if id_like {
                ":id"
            } else {
                s
            }
        })
        .collect();
    format!("{method} /{}", segments.join("/"))
}

/// Where and when a report is made.
pub struct Context<'a> {
    pub event_id: String,
    pub now_ms: u64,
    pub environment: &'a str,
    /// From [`route`].
    pub route: &'a str,
}

fn report(
    ctx: &Context<'_>,
    code: &str,
    message: &str,
    status: u16,
    dependency: &str,
) -> ErrorReport {
    ErrorReport {
        event_id: ctx.event_id.clone(),
        timestamp_ms: ctx.now_ms,
        environment: ctx.environment.to_string(),
        release: RELEASE.to_string(),
        code: code.to_string(),
        message: scrub(message),
        status,
        tags: vec![
            ("service".into(), SERVICE.into()),
            ("route".into(), ctx.route.to_string()),
            ("dependency".into(), dependency.to_string()),
        ],
        extra: Default::default(),
    }
}

/// The report for an error page, or `None` when it is not a server error (4xx are the visitor's).
pub fn error_report(ctx: &Context<'_>, e: &DashError) -> Option<ErrorReport> {
    let (code, dependency) = match e {
        DashError::Upstream { service, .. } => ("upstream_error", *service),
        DashError::Unavailable { service, .. } => ("dependency_unavailable", *service),
        DashError::Internal(_) => ("internal_error", ""),
        DashError::NotFound | DashError::BadRequest(_) => return None,
    };
    Some(report(ctx, code, &e.to_string(), e.status(), dependency))
}

/// The report for a panic (its message as the panic hook saw it).
pub fn panic_report(ctx: &Context<'_>, message: &str) -> ErrorReport {
    report(ctx, "panic", message, 500, "")
}

#[cfg(test)]
mod tests {
    use super::*;
    use watchllm_proxy::observability::{sentry_envelope, SentryDsn};

    #[test]
    fn secrets_never_survive_scrubbing() {
        let text = r#"supabase: HTTP 409 {"details":"Key (key)=(lgw_proj_AbCdEf0123456789AbCdEf0123456789) exists", "hint": "sk-proj-abc123 and sk-ant-api03-x, gsk_live1, whsec_abc"} Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.e30.sig cookie wl_session=abc.def.ghi; apikey: service-role-secret"#;
        let clean = scrub(text);
        for secret in [
            "lgw_proj_AbCd",
            "sk-proj",
            "sk-ant",
            "gsk_live1",
            "whsec_abc",
            "eyJhbGci",
            "abc.def.ghi",
            "service-role-secret",
        ] {
            assert!(!clean.contains(secret), "{secret} in {clean}");
        }
        assert!(
            clean.contains("supabase: HTTP 409") && clean.contains("exists"),
            "the rest stays readable: {clean}"
        );
        assert_eq!(
            scrub("no secrets here: timeout after 10000 ms"),
            "no secrets here: timeout after 10000 ms"
        );
    }

    #[test]
    fn routes_hide_ids() {
        assert_eq!(route("POST", "/projects/0f8fad5b-d9cb-469f-a165-70867728950e/keys/0f8fad5b-d9cb-469f-a165-70867728950f/revoke"), "POST /projects/:id/keys/:id/revoke");
        assert_eq!(route("GET", "/docs/caching"), "GET /docs/caching");
        assert_eq!(route("GET", "/"), "GET /");
    }

    fn ctx() -> Context<'static> {
        Context {
            event_id: "0123456789abcdef0123456789abcdef".into(),
            now_ms: 1_796_040_000_000,
            environment: "test",
            route: "GET /projects",
        }
    }

    #[test]
    fn only_server_errors_are_reported_and_they_name_the_dependency() {
        assert!(error_report(&ctx(), &DashError::NotFound).is_none());
        assert!(error_report(&ctx(), &DashError::BadRequest("x".into())).is_none());
        let e = DashError::Upstream {
            service: "supabase",
            detail: "https://db/rest/v1/projects: HTTP 500 token sk-live-123".into(),
        };
        let r = error_report(&ctx(), &e).unwrap();
        assert_eq!((r.code.as_str(), r.status), ("upstream_error", 502));
        assert!(r.tags.contains(&("dependency".into(), "supabase".into())));
        assert!(r.tags.contains(&("service".into(), SERVICE.into())));
        assert!(!r.message.contains("sk-live-123"));
        let dsn = SentryDsn::parse("https://pub@o1.ingest.sentry.io/42").unwrap();
        let envelope = sentry_envelope(&dsn, &r, 1_796_040_000_000);
        assert!(
            envelope.contains("\"release\":\"watchllm-dashboard@")
                && envelope.contains("GET /projects")
        );
        let p = panic_report(&ctx(), "panicked at src/x.rs:1:1: boom lgw_test_secret");
        assert_eq!((p.code.as_str(), p.status), ("panic", 500));
        assert!(!p.message.contains("lgw_test_secret"));
    }
}
