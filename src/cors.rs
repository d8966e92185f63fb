//! Cross-origin access for browser clients (the official SDKs run in web pages with
//! `dangerouslyAllowBrowser`). A preflight is answered for any origin, since it carries no key
//! and the project is not known yet: it allows the methods the API serves and reflects the headers
//! the browser asks for (the SDKs send `x-stainless-*`, `openai-organization`, idempotency keys,
//! and add more over time), always naming `authorization`, which a `*` would not cover. Every
//! response names the request's origin (or `*`) and exposes the `X-WatchLLM-*`, rate-limit and
//! quota headers. A project may restrict the origins its keys work from (`allowed_origins`); the
//! pipeline refuses others with a 403 once the key is known.

/// Methods the API serves.
pub const ALLOWED_METHODS: &str = "GET, POST, DELETE, OPTIONS";
/// How long a browser may reuse a preflight answer (Chromium caps it at 2 hours).
pub const MAX_AGE_SECS: u32 = 7200;
/// Response headers a page may read.
pub const EXPOSED_HEADERS: &str = "x-watchllm-request-id, x-watchllm-cache, x-watchllm-cache-detail, x-watchllm-cache-age, x-watchllm-cache-similarity, x-watchllm-cost-usd, x-watchllm-latency-ms, x-watchllm-provider, x-watchllm-tokens-saved, x-watchllm-quota-remaining, x-ratelimit-limit-requests, x-ratelimit-remaining-requests, x-ratelimit-reset-requests, retry-after, server-timing";

/// Header names a preflight asked for, kept only if they are well-formed header names.
fn requested_headers(list: Option<&str>) -> Vec<String> {
    let mut names: Vec<String> = list
        .unwrap_or_default()
        .split(',')
        .map(|h| h.trim().to_ascii_lowercase())
        .filter(|h| {
            !h.is_empty()
                && h.len() <= 100
                && h.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-_.!#$%&'*+^`|~".contains(&b))
        })
        .collect();
    if !names.iter().any(|h| h == "authorization") {
        names.insert(0, "authorization".into());
    }
    if !names.iter().any(|h| h == "content-type") {
        names.push("content-type".into());
    }
    names.dedup();
    names
}

/// `Access-Control-Allow-Origin` for a request's `Origin`: the origin itself when there is one
/// (so caches keep answers per origin: `Vary: Origin`), else `*`.
fn allow_origin(origin: Option<&str>) -> String {
    origin
        .filter(|o| !o.is_empty() && o.is_ascii() && !o.contains(['\r', '\n']))
        .unwrap_or("*")
        .to_string()
}

/// The headers of a preflight (`OPTIONS`) answer.
pub fn preflight(
    origin: Option<&str>,
    request_headers: Option<&str>,
) -> Vec<(&'static str, String)> {
    vec![
        ("access-control-allow-origin", allow_origin(origin)),
        ("access-control-allow-methods", ALLOWED_METHODS.to_string()),
        (
            "access-control-allow-headers",
            requested_headers(request_headers).join(", "),
        ),
        ("access-control-max-age", MAX_AGE_SECS.to_string()),
        (
            "vary",
            "Origin, Access-Control-Request-Headers, Access-Control-Request-Method".to_string(),
        ),
    ]
}

/// The cross-origin headers of every other response.
pub fn response_headers(origin: Option<&str>) -> Vec<(&'static str, String)> {
    vec![
        ("access-control-allow-origin", allow_origin(origin)),
        ("access-control-expose-headers", EXPOSED_HEADERS.to_string()),
        ("vary", "Origin".to_string()),
    ]
}

/// Whether a project's allow-list lets a request from `origin` through. No list (or an empty one)
/// allows every origin; a request without an `Origin` header is not from a web page and is
/// allowed (an allow-list protects a key used in pages, it does not replace keeping keys secret).
/// Entries are exact origins (`https://app.example.com`) or a wildcard for subdomains
/// (`https://*.example.com`).
pub fn origin_allowed(allowed: &[String], origin: Option<&str>) -> bool {
    let Some(origin) = origin.map(|o| o.trim_end_matches('/').to_ascii_lowercase()) else {
        return true;
    };
    if allowed.is_empty() {
        return true;
    }
    allowed.iter().any(|entry| {
        let entry = entry.trim().trim_end_matches('/').to_ascii_lowercase();
        match entry.split_once("://*.") {
            Some((scheme, domain)) => origin
                .strip_prefix(&format!("{scheme}://"))
                .is_some_and(|host| host.ends_with(&format!(".{domain}"))),
            None => entry == origin,
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn preflights_reflect_the_asked_headers_and_name_authorization() {
        let h = preflight(
            Some("https://app.example.com"),
            Some("content-type, x-stainless-os, X-Stainless-Arch, x-stainless-retry-count, openai-organization, idempotency-key"),
        );
        let get = |n: &str| h.iter().find(|(k, _)| *k == n).map(|(_, v)| v.as_str());
        let allowed = get("access-control-allow-headers").unwrap();
        for name in [
            "authorization",
            "content-type",
            "x-stainless-os",
            "x-stainless-arch",
            "openai-organization",
            "idempotency-key",
        ] {
            assert!(
                allowed.split(", ").any(|a| a == name),
                "{name} in {allowed}"
            );
        }
        assert_eq!(
            get("access-control-allow-origin"),
            Some("https://app.example.com")
        );
        assert!(get("access-control-allow-methods")
            .unwrap()
            .contains("DELETE"));
        assert_eq!(get("access-control-max-age"), Some("7200"));
        assert!(get("vary")
            .unwrap()
            .contains("Access-Control-Request-Headers"));
    }

    #[test]
    fn malformed_names_and_origins_are_not_reflected() {
        let h = preflight(Some("evil\r\nx: y"), Some("x-ok, bad header, x\r\ny"));
        assert_eq!(h[0].1, "*");
        assert_eq!(h[2].1, "authorization, x-ok, content-type");
        assert_eq!(preflight(None, None)[2].1, "authorization, content-type");
    }

    #[test]
    fn responses_expose_the_watchllm_and_limit_headers() {
        let h = response_headers(None);
        assert_eq!(h[0], ("access-control-allow-origin", "*".to_string()));
        for name in [
            "x-watchllm-cache",
            "x-watchllm-quota-remaining",
            "x-ratelimit-remaining-requests",
            "retry-after",
        ] {
            assert!(h[1].1.contains(name), "{name}");
        }
    }

    #[test]
    fn allow_lists() {
        let list = vec![
            "https://app.example.com".to_string(),
            "https://*.acme.dev/".to_string(),
        ];
        assert!(origin_allowed(&list, Some("https://app.example.com")));
        assert!(origin_allowed(&list, Some("https://APP.example.com/")));
        assert!(origin_allowed(&list, Some("https://shop.acme.dev")));
        assert!(!origin_allowed(&list, Some("https://acme.dev.evil.com")));
        assert!(
            !origin_allowed(&list, Some("http://app.example.com")),
            "scheme counts"
        );
        assert!(!origin_allowed(&list, Some("https://example.com")));
        assert!(origin_allowed(&list, None), "not a page");
        assert!(origin_allowed(&[], Some("https://anything.example")));
    }
}
