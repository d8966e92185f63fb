//! Per-request cache controls, read from the request's headers (pure; the glue passes a header
//! getter): `X-WatchLLM-Bypass-Cache: true` neither reads nor writes the cache,
//! `X-WatchLLM-Refresh-Cache: true` does not read it but stores the fresh answer, and
//! `X-WatchLLM-Similarity-Threshold` sets this request's semantic threshold.

use crate::error::ApiError;
use crate::watchllm_headers::CacheDetail;

pub const BYPASS_HEADER: &str = "x-watchllm-bypass-cache";
pub const REFRESH_HEADER: &str = "x-watchllm-refresh-cache";
pub const THRESHOLD_HEADER: &str = "x-watchllm-similarity-threshold";

/// What the client asked of the cache for this request.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CacheControls {
    pub bypass: bool,
    pub refresh: bool,
    /// The semantic threshold in force: the request's, else the project's.
    pub threshold: f32,
}

fn truthy(value: Option<String>) -> bool {
    value.is_some_and(|v| matches!(v.trim().to_ascii_lowercase().as_str(), "1" | "true" | "yes"))
}

impl CacheControls {
    /// Reads the controls; a malformed threshold is a 400 naming the header.
    pub fn from_headers(
        header: impl Fn(&str) -> Option<String>,
        project_threshold: f32,
    ) -> Result<CacheControls, ApiError> {
        let threshold = match header(THRESHOLD_HEADER) {
            None => project_threshold,
            Some(v) => match v.trim().parse::<f32>() {
                Ok(t) if t > 0.0 && t <= 1.0 => t,
                _ => {
                    return Err(ApiError::invalid_request(
                        format!("Invalid X-WatchLLM-Similarity-Threshold '{v}': expected a number above 0 and at most 1."),
                        Some("X-WatchLLM-Similarity-Threshold"),
                        "invalid_value",
                    ))
                }
            },
        };
        Ok(CacheControls {
            bypass: truthy(header(BYPASS_HEADER)),
            refresh: truthy(header(REFRESH_HEADER)),
            threshold,
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
}

#[cfg(test)]
mod tests {
    use super::*;

    fn controls(headers: &[(&str, &str)]) -> Result<CacheControls, ApiError> {
        CacheControls::from_headers(
            |name| {
                headers
                    .iter()
                    .find(|(k, _)| k.eq_ignore_ascii_case(name))
                    .map(|(_, v)| v.to_string())
            },
            0.95,
        )
    }

    #[test]
    fn defaults_read_and_write_with_the_project_threshold() {
        let c = controls(&[]).unwrap();
        assert!(c.reads_cache() && c.writes_cache());
        assert_eq!(c.threshold, 0.95);
        assert_eq!(c.miss_detail(true), CacheDetail::Stored);
        assert_eq!(c.miss_detail(false), CacheDetail::Unavailable);
    }

    #[test]
    fn bypass_and_refresh() {
        let b = controls(&[("X-WatchLLM-Bypass-Cache", " TRUE ")]).unwrap();
        assert!(!b.reads_cache() && !b.writes_cache());
        assert_eq!(b.miss_detail(true), CacheDetail::Bypass);
        let r = controls(&[("x-watchllm-refresh-cache", "1")]).unwrap();
        assert!(!r.reads_cache() && r.writes_cache());
        assert_eq!(r.miss_detail(true), CacheDetail::Refresh);
        assert!(controls(&[("x-watchllm-bypass-cache", "no")])
            .unwrap()
            .reads_cache());
    }

    #[test]
    fn thresholds_above_zero_and_at_most_one() {
        assert_eq!(
            controls(&[(THRESHOLD_HEADER, "0.8")]).unwrap().threshold,
            0.8
        );
        assert_eq!(controls(&[(THRESHOLD_HEADER, "1")]).unwrap().threshold, 1.0);
        for bad in ["0", "1.5", "-1", "high", ""] {
            let e = controls(&[(THRESHOLD_HEADER, bad)]).unwrap_err();
            assert_eq!(
                (e.status, e.param.as_deref()),
                (400, Some("X-WatchLLM-Similarity-Threshold")),
                "{bad}"
            );
        }
    }
}
