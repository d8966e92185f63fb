//! The `X-WatchLLM-*` headers every proxied response carries.

/// How the cache answered a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CacheStatus {
    Hit,
    HitSemantic,
    Miss,
}

impl CacheStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            CacheStatus::Hit => "HIT",
            CacheStatus::HitSemantic => "HIT-SEMANTIC",
            CacheStatus::Miss => "MISS",
        }
    }
}

/// Why a MISS was a miss, or what happened to its answer (`X-WatchLLM-Cache-Detail`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CacheDetail {
    /// Served from cache.
    Served,
    /// Served from the answer of a concurrent identical request that went upstream.
    Collapsed,
    /// Not in cache; the answer will be stored.
    Stored,
    /// Redis could not be reached: served without the cache.
    Unavailable,
    /// The client asked not to use the cache.
    Bypass,
    /// The client asked to refresh: cache not read, answer stored.
    Refresh,
    /// Errors are never cached.
    NotCached,
}

impl CacheDetail {
    pub fn as_str(self) -> &'static str {
        match self {
            CacheDetail::Served => "served",
            CacheDetail::Collapsed => "collapsed",
            CacheDetail::Stored => "stored",
            CacheDetail::Unavailable => "unavailable",
            CacheDetail::Bypass => "bypass",
            CacheDetail::Refresh => "refresh",
            CacheDetail::NotCached => "not-cached",
        }
    }
}

/// Values of the `X-WatchLLM-*` headers of one response.
#[derive(Debug, Clone, PartialEq)]
pub struct WatchllmHeaders {
    pub request_id: String,
    pub cache: CacheStatus,
    pub detail: CacheDetail,
    pub cache_age_secs: u64,
    /// Cosine similarity of a semantic hit.
    pub similarity: Option<f64>,
    /// What this request cost upstream (0 on a hit); None while it is not known yet (a streamed
    /// miss: the cost is in the usage log when the stream ends), shown as `pending`.
    pub cost_usd: Option<f64>,
    pub latency_ms: u64,
    pub provider: String,
    /// Tokens not spent upstream because the cache answered.
    pub tokens_saved: u64,
}

impl WatchllmHeaders {
    pub fn to_pairs(&self) -> Vec<(&'static str, String)> {
        let mut pairs = vec![
            ("X-WatchLLM-Request-Id", self.request_id.clone()),
            ("X-WatchLLM-Cache", self.cache.as_str().to_string()),
            ("X-WatchLLM-Cache-Detail", self.detail.as_str().to_string()),
            ("X-WatchLLM-Cache-Age", self.cache_age_secs.to_string()),
            (
                "X-WatchLLM-Cost-USD",
                self.cost_usd.map_or_else(|| "pending".into(), format_usd),
            ),
            ("X-WatchLLM-Latency-Ms", self.latency_ms.to_string()),
            ("X-WatchLLM-Provider", self.provider.clone()),
            ("X-WatchLLM-Tokens-Saved", self.tokens_saved.to_string()),
        ];
        if let Some(s) = self.similarity {
            pairs.push(("X-WatchLLM-Cache-Similarity", format!("{s:.4}")));
        }
        pairs
    }
}

/// USD with enough digits for sub-cent request costs, no exponent notation.
pub fn format_usd(x: f64) -> String {
    let s = format!("{:.8}", x.max(0.0));
    let s = s.trim_end_matches('0');
    let s = s.strip_suffix('.').unwrap_or(s);
    if s.is_empty() {
        "0".into()
    } else {
        s.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_costs_plainly() {
        assert_eq!(format_usd(0.0), "0");
        assert_eq!(format_usd(0.0000325), "0.0000325");
        assert_eq!(format_usd(1.5), "1.5");
        assert_eq!(format_usd(2.0), "2");
    }

    #[test]
    fn similarity_header_only_on_semantic_hits() {
        let mut h = WatchllmHeaders {
            request_id: "r".into(),
            cache: CacheStatus::Hit,
            detail: CacheDetail::Served,
            cache_age_secs: 3,
            similarity: None,
            cost_usd: Some(0.0),
            latency_ms: 1,
            provider: "openai".into(),
            tokens_saved: 12,
        };
        assert!(h
            .to_pairs()
            .iter()
            .all(|(k, _)| *k != "X-WatchLLM-Cache-Similarity"));
        h.cache = CacheStatus::HitSemantic;
        h.similarity = Some(0.97123);
        let pairs = h.to_pairs();
        assert!(pairs.contains(&("X-WatchLLM-Cache-Similarity", "0.9712".into())));
        assert!(pairs.contains(&("X-WatchLLM-Cache", "HIT-SEMANTIC".into())));
        assert!(pairs.contains(&("X-WatchLLM-Tokens-Saved", "12".into())));
        h.cost_usd = None;
        assert!(h
            .to_pairs()
            .contains(&("X-WatchLLM-Cost-USD", "pending".into())));
    }
}
