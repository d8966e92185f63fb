//! Per-request cache controls, in HTTP's own vocabulary where it has one (RFC 9111
//! `Cache-Control`, RFC 5861 `stale-if-error`) and in WatchLLM headers where it does not. Pure: the
//! glue passes a header getter and the project's policy.
//!
//! | request | meaning |
//! | --- | --- |
//! | `Cache-Control: no-store`, `X-WatchLLM-Bypass-Cache: true` | neither read nor write the cache |
//! | `Cache-Control: no-cache`, `X-WatchLLM-Refresh-Cache: true` | do not serve from cache; store the fresh answer |
//! | `Cache-Control: max-age=N` | serve only an entry younger than N seconds |
//! | `Cache-Control: s-maxage=N`, `X-WatchLLM-Cache-TTL: N` | store this answer for N seconds (at most the plan's bound) |
//! | `Cache-Control: stale-if-error=N` | if the provider fails, serve an entry up to N seconds past its expiry |
//! | `X-WatchLLM-Cache-Namespace: s` | a partition inside the project: entries never cross namespaces |
//! | `X-WatchLLM-Similarity-Threshold: t` | this request's semantic threshold, never below the project's floor |
//!
//! Responses say what was done (`response_cache_control`, and `Age` on hits).
//!
//! Browsers write `Cache-Control: no-cache` (or `max-age=0`) and `Pragma: no-cache` on their own
//! whenever their HTTP cache is off for a request: DevTools' "Disable cache", fetch's cache modes,
//! test browsers with request interception. Read as the page's wish, every call from such a page
//! would miss. So a browser's request (`Sec-Fetch-Mode` present) that carries `Pragma: no-cache`
//! has those two reading directives ignored, as CDNs ignore them; a page that wants a fresh answer
//! sends `X-WatchLLM-Refresh-Cache`. Other directives (`s-maxage`, `stale-if-error`, `no-store`),
//! which browsers never add, count as usual.

use crate::cache_entry::CacheEntry;
use crate::error::ApiError;
use crate::watchllm_headers::CacheDetail;

pub const BYPASS_HEADER: &str = "x-watchllm-bypass-cache";
pub const REFRESH_HEADER: &str = "x-watchllm-refresh-cache";
pub const THRESHOLD_HEADER: &str = "x-watchllm-similarity-threshold";
pub const TTL_HEADER: &str = "x-watchllm-cache-ttl";
pub const NAMESPACE_HEADER: &str = "x-watchllm-cache-namespace";
/// Longest namespace accepted.
pub const MAX_NAMESPACE_LEN: usize = 128;

/// What the project decides about its cache, from its settings and plan.
#[derive(Debug, Clone, PartialEq)]
pub struct CachePolicy {
    /// The semantic threshold when a request names none.
    pub threshold: f32,
    /// The lowest threshold a request may ask for.
    pub threshold_floor: Option<f32>,
    /// Every request must name a namespace.
    pub require_namespace: bool,
    /// The longest time a request may ask an answer to be kept (the plan's bound).
    pub max_ttl_secs: u64,
}

/// What the client asked of the cache for this request.
#[derive(Debug, Clone, PartialEq)]
pub struct CacheControls {
    pub bypass: bool,
    pub refresh: bool,
    /// The semantic threshold in force.
    pub threshold: f32,
    /// The threshold the request asked for, when the project's floor raised it.
    pub threshold_clamped_from: Option<f32>,
    /// Serve only entries at most this old.
    pub max_age_secs: Option<u64>,
    /// Keep this answer this long (already within the plan's bound).
    pub ttl_secs: Option<u64>,
    /// The TTL the request asked for, when the plan's bound lowered it.
    pub ttl_clamped_from: Option<u64>,
    /// Serve an entry this long past its expiry if the provider fails.
    pub stale_if_error_secs: Option<u64>,
    pub namespace: Option<String>,
}

fn invalid(param: &str, message: String) -> ApiError {
    ApiError::invalid_request(message, Some(param), "invalid_value")
}

fn truthy(value: Option<String>) -> bool {
    value.is_some_and(|v| matches!(v.trim().to_ascii_lowercase().as_str(), "1" | "true" | "yes"))
}

/// A delta-seconds value (RFC 9111 §1.2.2): digits only, quoted or not.
fn seconds(param: &str, directive: &str, value: Option<&str>) -> Result<u64, ApiError> {
    let v = value.unwrap_or_default().trim().trim_matches('"');
    if v.is_empty() || !v.bytes().all(|b| b.is_ascii_digit()) {
        return Err(invalid(
            param,
            format!("Invalid {param} directive '{directive}': expected a number of seconds ({directive}=60)."),
        ));
    }
    // Past the range of a u64 means "a very long time" (RFC 9111 §1.2.2).
    Ok(v.parse().unwrap_or(u64::MAX))
}

/// The request directives of a `Cache-Control` header that the cache acts on.
#[derive(Debug, Default, PartialEq)]
struct Directives {
    no_store: bool,
    no_cache: bool,
    max_age: Option<u64>,
    s_maxage: Option<u64>,
    stale_if_error: Option<u64>,
}

fn directives(value: Option<&str>) -> Result<Directives, ApiError> {
    let mut d = Directives::default();
    for part in value.unwrap_or_default().split(',') {
        let (name, arg) = match part.split_once('=') {
            Some((n, a)) => (n.trim().to_ascii_lowercase(), Some(a)),
            None => (part.trim().to_ascii_lowercase(), None),
        };
        let secs = |d: &str| seconds("Cache-Control", d, arg);
        match name.as_str() {
            "no-store" => d.no_store = true,
            "no-cache" => d.no_cache = true,
            "max-age" => d.max_age = Some(secs("max-age")?),
            "s-maxage" => d.s_maxage = Some(secs("s-maxage")?),
            "stale-if-error" => d.stale_if_error = Some(secs("stale-if-error")?),
            // Unknown directives are ignored, as RFC 9111 §5.2.3 asks of caches.
            _ => {}
        }
    }
    Ok(d)
}

/// Whether a browser wrote the request's `no-cache` itself (see the module comment).
fn browser_cache_off(header: &impl Fn(&str) -> Option<String>) -> bool {
    let pragma_no_cache = header("pragma").is_some_and(|p| {
        p.split(',')
            .any(|d| d.trim().eq_ignore_ascii_case("no-cache"))
    });
    pragma_no_cache && header("sec-fetch-mode").is_some()
}

/// The cache namespace a request names (`X-WatchLLM-Cache-Namespace`), trimmed; a 400 for an
/// empty, overlong or non-printable one.
pub fn parse_namespace(value: Option<String>) -> Result<Option<String>, ApiError> {
    let Some(ns) = value.map(|n| n.trim().to_string()) else {
        return Ok(None);
    };
    let printable = ns.chars().all(|c| c.is_ascii_graphic() || c == ' ');
    if ns.is_empty() || ns.len() > MAX_NAMESPACE_LEN || !printable {
        return Err(invalid(
            "X-WatchLLM-Cache-Namespace",
            format!("Invalid X-WatchLLM-Cache-Namespace: expected 1 to {MAX_NAMESPACE_LEN} printable ASCII characters."),
        ));
    }
    Ok(Some(ns))
}

/// How long Redis keeps an entry that is fresh for `fresh_secs`: past its expiry by as long again
/// (at least an hour, at most a day), so `stale-if-error` has something to serve when a provider
/// fails, while the entry's own expiry keeps it from being served as fresh.
pub fn kept_for_secs(fresh_secs: u64) -> u64 {
    fresh_secs.saturating_add(fresh_secs.clamp(STALE_KEPT_MIN_SECS, STALE_KEPT_MAX_SECS))
}

/// The shortest and longest time an entry is kept past its expiry (`kept_for_secs`).
pub const STALE_KEPT_MIN_SECS: u64 = 3_600;
pub const STALE_KEPT_MAX_SECS: u64 = 86_400;

impl CacheControls {
    /// Reads the controls; a malformed value is a 400 naming the header.
    pub fn from_headers(
        header: impl Fn(&str) -> Option<String>,
        policy: &CachePolicy,
    ) -> Result<CacheControls, ApiError> {
        let mut cc = directives(header("cache-control").as_deref())?;
        if browser_cache_off(&header) {
            cc.no_cache = false;
            cc.max_age = None;
        }
        let (threshold, threshold_clamped_from) = match header(THRESHOLD_HEADER) {
            None => (policy.threshold, None),
            Some(v) => match v.trim().parse::<f32>() {
                Ok(t) if t > 0.0 && t <= 1.0 => match policy.threshold_floor {
                    Some(floor) if t < floor => (floor, Some(t)),
                    _ => (t, None),
                },
                _ => {
                    return Err(invalid(
                        "X-WatchLLM-Similarity-Threshold",
                        format!("Invalid X-WatchLLM-Similarity-Threshold '{v}': expected a number above 0 and at most 1."),
                    ))
                }
            },
        };
        let asked_ttl = match header(TTL_HEADER) {
            Some(v) => Some(seconds(
                "X-WatchLLM-Cache-TTL",
                "X-WatchLLM-Cache-TTL",
                Some(&v),
            )?),
            None => cc.s_maxage,
        };
        if asked_ttl == Some(0) {
            return Err(invalid(
                "X-WatchLLM-Cache-TTL",
                "A TTL of 0 keeps nothing: use Cache-Control: no-store to skip the cache.".into(),
            ));
        }
        let ttl_secs = asked_ttl.map(|t| t.min(policy.max_ttl_secs));
        let namespace = parse_namespace(header(NAMESPACE_HEADER))?;
        if namespace.is_none() && policy.require_namespace {
            return Err(ApiError::invalid_request(
                "This project requires X-WatchLLM-Cache-Namespace on every request (a partition of the cache, for example per end user).",
                Some("X-WatchLLM-Cache-Namespace"),
                "missing_required_parameter",
            ));
        }
        Ok(CacheControls {
            bypass: cc.no_store || truthy(header(BYPASS_HEADER)),
            refresh: cc.no_cache || truthy(header(REFRESH_HEADER)),
            threshold,
            threshold_clamped_from,
            max_age_secs: cc.max_age,
            ttl_clamped_from: asked_ttl.filter(|t| Some(*t) != ttl_secs),
            ttl_secs,
            stale_if_error_secs: cc.stale_if_error,
            namespace,
        })
    }

    /// Whether the cache may answer this request.
    pub fn reads_cache(&self) -> bool {
        !self.bypass && !self.refresh
    }

    /// Whether this request's answer may be stored.
    pub fn writes_cache(&self) -> bool {
        !self.bypass
    }

    /// Whether `entry` may answer this request at `now_ms`: it is within its own lifetime and no
    /// older than the request accepts (`max-age`).
    pub fn serves_fresh(&self, entry: &CacheEntry, now_ms: u64) -> bool {
        entry.is_fresh(now_ms)
            && self
                .max_age_secs
                .is_none_or(|max| entry.age_secs(now_ms) <= max)
    }

    /// Whether `entry` may answer this request when the provider fails (`stale-if-error=N`): up
    /// to N seconds past the moment it stopped being fresh for this request (its expiry, or its
    /// `max-age`, whichever came first).
    pub fn serves_stale(&self, entry: &CacheEntry, now_ms: u64) -> bool {
        let Some(window_secs) = self.stale_if_error_secs else {
            return false;
        };
        let by_age = self
            .max_age_secs
            .map(|max| entry.stored_at_ms.saturating_add(max.saturating_mul(1000)));
        let expiry = match (entry.expires_at_ms, by_age) {
            (Some(e), Some(a)) => e.min(a),
            (e, a) => e.or(a).unwrap_or(u64::MAX),
        };
        now_ms.saturating_sub(expiry) <= window_secs.saturating_mul(1000)
    }

    /// What a miss says about its answer (`X-WatchLLM-Cache-Detail`).
    pub fn miss_detail(&self, redis_up: bool) -> CacheDetail {
        if !redis_up {
            CacheDetail::Unavailable
        } else if self.bypass {
            CacheDetail::Bypass
        } else if self.refresh {
            CacheDetail::Refresh
        } else {
            CacheDetail::Stored
        }
    }

    /// Response headers about the controls themselves: the threshold when a floor raised it, the
    /// TTL when a plan's bound lowered it.
    pub fn response_headers(&self) -> Vec<(&'static str, String)> {
        let mut h = Vec::new();
        if let Some(asked) = self.threshold_clamped_from {
            h.push((
                "X-WatchLLM-Similarity-Threshold",
                format!("{}; clamped-from={asked}", self.threshold),
            ));
        }
        if let (Some(asked), Some(ttl)) = (self.ttl_clamped_from, self.ttl_secs) {
            h.push((
                "X-WatchLLM-Cache-TTL",
                format!("{ttl}; clamped-from={asked}"),
            ));
        }
        h
    }
}

/// `Cache-Control` of a response, saying in RFC 9111 terms what the proxy (a shared cache) did:
/// `s-maxage` is how long the answer stays fresh in it (0: served stale); `private` keeps every
/// other cache from storing an answer that belongs to one API key; `no-store` when nothing was
/// kept (bypass, an error, the cache unavailable). An event stream adds `no-cache`, which also
/// keeps intermediaries from buffering it.
pub fn response_cache_control(
    detail: CacheDetail,
    fresh_for_secs: Option<u64>,
    stream: bool,
) -> String {
    let kept = match (detail, fresh_for_secs) {
        (CacheDetail::Bypass | CacheDetail::NotCached | CacheDetail::Unavailable, _) => {
            return "no-store".into()
        }
        (CacheDetail::Stale, _) => "private, s-maxage=0".to_string(),
        (_, Some(secs)) => format!("private, s-maxage={secs}"),
        (_, None) => "private".to_string(),
    };
    if stream {
        format!("no-cache, {kept}")
    } else {
        kept
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(stored_at_ms: u64, expires_at_ms: Option<u64>) -> CacheEntry {
        CacheEntry {
            stored_at_ms,
            expires_at_ms,
            provider: "openai".into(),
            model: "m".into(),
            prompt_tokens: 1,
            completion_tokens: 1,
            cost_usd: 0.0,
            answer: serde_json::json!({}),
        }
    }

    fn policy() -> CachePolicy {
        CachePolicy {
            threshold: 0.95,
            threshold_floor: Some(0.9),
            require_namespace: false,
            max_ttl_secs: 86_400,
        }
    }

    fn controls_with(
        headers: &[(&str, &str)],
        policy: &CachePolicy,
    ) -> Result<CacheControls, ApiError> {
        CacheControls::from_headers(
            |name| {
                headers
                    .iter()
                    .find(|(k, _)| k.eq_ignore_ascii_case(name))
                    .map(|(_, v)| v.to_string())
            },
            policy,
        )
    }

    fn controls(headers: &[(&str, &str)]) -> Result<CacheControls, ApiError> {
        controls_with(headers, &policy())
    }

    #[test]
    fn defaults_read_and_write_with_the_project_threshold() {
        let c = controls(&[]).unwrap();
        assert!(c.reads_cache() && c.writes_cache());
        assert_eq!(
            (
                c.threshold,
                c.ttl_secs,
                c.max_age_secs,
                c.namespace.as_deref()
            ),
            (0.95, None, None, None)
        );
        assert_eq!(c.miss_detail(true), CacheDetail::Stored);
        assert_eq!(c.miss_detail(false), CacheDetail::Unavailable);
        assert!(c.response_headers().is_empty());
    }

    #[test]
    fn a_browsers_own_no_cache_does_not_turn_caching_off() {
        let browser = [
            ("cache-control", "no-cache"),
            ("pragma", "no-cache"),
            ("sec-fetch-mode", "cors"),
        ];
        let c = controls(&browser).unwrap();
        assert!(
            c.reads_cache() && !c.refresh,
            "DevTools' Disable cache, fetch cache modes"
        );
        let reload = controls(&[
            ("cache-control", "max-age=0"),
            ("pragma", "no-cache"),
            ("sec-fetch-mode", "cors"),
        ])
        .unwrap();
        assert_eq!(reload.max_age_secs, None);
        // Without the browser's signature, no-cache is the caller's: refresh.
        assert!(
            controls(&[("cache-control", "no-cache"), ("sec-fetch-mode", "cors")])
                .unwrap()
                .refresh
        );
        assert!(
            controls(&[("cache-control", "no-cache"), ("pragma", "no-cache")])
                .unwrap()
                .refresh
        );
        // Directives browsers never add still count; the WatchLLM header still refreshes.
        let kept = controls(&[
            ("cache-control", "no-cache, no-store, stale-if-error=60"),
            ("pragma", "no-cache"),
            ("sec-fetch-mode", "cors"),
        ])
        .unwrap();
        assert!(kept.bypass && kept.stale_if_error_secs == Some(60));
        let refresh = controls(&[
            ("cache-control", "no-cache"),
            ("pragma", "no-cache"),
            ("sec-fetch-mode", "cors"),
            (REFRESH_HEADER, "true"),
        ])
        .unwrap();
        assert!(refresh.refresh);
    }

    #[test]
    fn no_store_and_no_cache_are_bypass_and_refresh() {
        let b = controls(&[("Cache-Control", "no-store")]).unwrap();
        assert!(!b.reads_cache() && !b.writes_cache());
        assert_eq!(b.miss_detail(true), CacheDetail::Bypass);
        let r = controls(&[("cache-control", "No-Cache")]).unwrap();
        assert!(!r.reads_cache() && r.writes_cache());
        assert_eq!(r.miss_detail(true), CacheDetail::Refresh);
        assert!(
            !controls(&[(BYPASS_HEADER, " TRUE ")])
                .unwrap()
                .writes_cache(),
            "the X-WatchLLM headers keep working"
        );
        assert!(!controls(&[(REFRESH_HEADER, "1")]).unwrap().reads_cache());
        assert!(controls(&[(BYPASS_HEADER, "no")]).unwrap().reads_cache());
    }

    #[test]
    fn ages_ttls_and_stale_windows() {
        let c = controls(&[(
            "cache-control",
            "max-age=60, s-maxage=\"600\", stale-if-error=30, must-revalidate",
        )])
        .unwrap();
        // Stored at 0, fresh for 100 s: this request accepts it for 60 s, stale for 30 s more.
        let e = entry(0, Some(100_000));
        assert!(c.serves_fresh(&e, 60_999) && !c.serves_fresh(&e, 61_000));
        assert!(c.serves_stale(&e, 90_000) && !c.serves_stale(&e, 90_001));
        assert_eq!(c.ttl_secs, Some(600));
        let any_age = controls(&[("cache-control", "stale-if-error=30")]).unwrap();
        assert!(any_age.serves_fresh(&e, 99_999) && !any_age.serves_fresh(&e, 100_000));
        assert!(any_age.serves_stale(&e, 130_000) && !any_age.serves_stale(&e, 130_001));
        let plain = controls(&[]).unwrap();
        assert!(
            !plain.serves_stale(&e, 100_001),
            "no stale answers unless asked"
        );
        assert!(
            plain.serves_fresh(&entry(0, None), u64::MAX / 4),
            "fresh while Redis keeps it"
        );
        let header_wins =
            controls(&[("cache-control", "s-maxage=600"), (TTL_HEADER, "120")]).unwrap();
        assert_eq!(header_wins.ttl_secs, Some(120));
        let long = controls(&[(TTL_HEADER, "9999999")]).unwrap();
        assert_eq!(
            (long.ttl_secs, long.ttl_clamped_from),
            (Some(86_400), Some(9_999_999))
        );
        assert_eq!(
            long.response_headers(),
            [(
                "X-WatchLLM-Cache-TTL",
                "86400; clamped-from=9999999".to_string()
            )]
        );
    }

    #[test]
    fn malformed_values_are_400s_naming_the_header() {
        for (name, value, param) in [
            ("cache-control", "max-age=soon", "Cache-Control"),
            ("cache-control", "max-age", "Cache-Control"),
            ("cache-control", "stale-if-error=-5", "Cache-Control"),
            (TTL_HEADER, "1h", "X-WatchLLM-Cache-TTL"),
            (TTL_HEADER, "0", "X-WatchLLM-Cache-TTL"),
            (THRESHOLD_HEADER, "1.5", "X-WatchLLM-Similarity-Threshold"),
            (THRESHOLD_HEADER, "high", "X-WatchLLM-Similarity-Threshold"),
            (NAMESPACE_HEADER, "", "X-WatchLLM-Cache-Namespace"),
            (
                NAMESPACE_HEADER,
                "tenant\u{7f}",
                "X-WatchLLM-Cache-Namespace",
            ),
        ] {
            let e = controls(&[(name, value)]).unwrap_err();
            assert_eq!(
                (e.status, e.param.as_deref()),
                (400, Some(param)),
                "{name}: {value}"
            );
        }
        let long = "x".repeat(MAX_NAMESPACE_LEN + 1);
        assert!(controls(&[(NAMESPACE_HEADER, long.as_str())]).is_err());
    }

    #[test]
    fn thresholds_may_rise_but_never_below_the_floor() {
        assert_eq!(
            controls(&[(THRESHOLD_HEADER, "0.97")]).unwrap().threshold,
            0.97
        );
        let clamped = controls(&[(THRESHOLD_HEADER, "0.8")]).unwrap();
        assert_eq!(
            (clamped.threshold, clamped.threshold_clamped_from),
            (0.9, Some(0.8))
        );
        assert_eq!(
            clamped.response_headers(),
            [(
                "X-WatchLLM-Similarity-Threshold",
                "0.9; clamped-from=0.8".to_string()
            )]
        );
        let no_floor = CachePolicy {
            threshold_floor: None,
            ..policy()
        };
        assert_eq!(
            controls_with(&[(THRESHOLD_HEADER, "0.5")], &no_floor)
                .unwrap()
                .threshold,
            0.5
        );
    }

    #[test]
    fn namespaces_and_required_namespaces() {
        let c = controls(&[(NAMESPACE_HEADER, " user-42 ")]).unwrap();
        assert_eq!(c.namespace.as_deref(), Some("user-42"));
        let strict = CachePolicy {
            require_namespace: true,
            ..policy()
        };
        let e = controls_with(&[], &strict).unwrap_err();
        assert_eq!(
            (e.status, e.code.as_deref()),
            (400, Some("missing_required_parameter"))
        );
        assert!(controls_with(&[(NAMESPACE_HEADER, "t1")], &strict).is_ok());
    }

    #[test]
    fn responses_say_what_was_done() {
        assert_eq!(
            response_cache_control(CacheDetail::Stored, Some(3600), false),
            "private, s-maxage=3600"
        );
        assert_eq!(
            response_cache_control(CacheDetail::Served, Some(12), false),
            "private, s-maxage=12"
        );
        assert_eq!(
            response_cache_control(CacheDetail::Bypass, None, false),
            "no-store"
        );
        assert_eq!(
            response_cache_control(CacheDetail::NotCached, Some(5), true),
            "no-store"
        );
        assert_eq!(
            response_cache_control(CacheDetail::Stale, Some(5), false),
            "private, s-maxage=0"
        );
        assert_eq!(
            response_cache_control(CacheDetail::Refresh, Some(60), true),
            "no-cache, private, s-maxage=60"
        );
    }

    #[test]
    fn entries_are_kept_past_expiry_for_stale_if_error() {
        assert_eq!(kept_for_secs(60), 60 + 3_600);
        assert_eq!(kept_for_secs(7_200), 14_400);
        assert_eq!(kept_for_secs(2_592_000), 2_592_000 + 86_400);
        assert_eq!(kept_for_secs(u64::MAX), u64::MAX);
    }
}
