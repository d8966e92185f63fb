//! Per-key rate limiting over fixed one-minute windows counted in Redis (`INCR` + `EXPIRE NX`,
//! sent in the same pipeline as the cache lookup). This module holds the pure part: window keys,
//! the decision, and the `x-ratelimit-*` / `Retry-After` header values.

/// Length of one counting window.
pub const WINDOW_MS: u64 = 60_000;

/// The Redis counter key for a key hash in the window containing `now_ms`.
pub fn counter_key(key_hash: &str, now_ms: u64) -> String {
    format!(
        "wl:rl:{}:{}",
        &key_hash[..key_hash.len().min(32)],
        now_ms / WINDOW_MS
    )
}

/// Counter TTL: the rest of the window plus slack, so counters never outlive their window by much.
pub const COUNTER_TTL_SECS: u64 = 2 * WINDOW_MS / 1000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decision {
    pub allowed: bool,
    pub limit: u64,
    pub remaining: u64,
    /// Seconds until the window resets (at least 1).
    pub reset_secs: u64,
}

/// Decides a request given the counter value after this request's `INCR`.
pub fn decide(count_after_incr: u64, limit: u64, now_ms: u64) -> Decision {
    let window_end = (now_ms / WINDOW_MS + 1) * WINDOW_MS;
    let reset_secs = (window_end - now_ms).div_ceil(1000).max(1);
    Decision {
        allowed: count_after_incr <= limit,
        limit,
        remaining: limit.saturating_sub(count_after_incr),
        reset_secs,
    }
}

impl Decision {
    /// OpenAI-style headers (`x-ratelimit-reset-requests` as a duration like `12s`).
    pub fn headers(&self) -> [(&'static str, String); 3] {
        [
            ("x-ratelimit-limit-requests", self.limit.to_string()),
            ("x-ratelimit-remaining-requests", self.remaining.to_string()),
            (
                "x-ratelimit-reset-requests",
                format!("{}s", self.reset_secs),
            ),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allows_up_to_the_limit_then_refuses() {
        let now = 1_700_000_012_345;
        assert!(decide(1, 3, now).allowed);
        let d = decide(3, 3, now);
        assert!(d.allowed);
        assert_eq!(d.remaining, 0);
        let d = decide(4, 3, now);
        assert!(!d.allowed);
        assert_eq!(d.remaining, 0);
    }

    #[test]
    fn reset_counts_to_the_end_of_the_window() {
        let window_start = 1_700_000_040_000 - (1_700_000_040_000 % WINDOW_MS);
        assert_eq!(decide(1, 1, window_start).reset_secs, 60);
        assert_eq!(decide(1, 1, window_start + 59_500).reset_secs, 1);
        assert_eq!(decide(1, 1, window_start + 45_000).reset_secs, 15);
    }

    #[test]
    fn counter_keys_change_per_window() {
        let h = "ab".repeat(32);
        assert_eq!(counter_key(&h, 0), counter_key(&h, WINDOW_MS - 1));
        assert_ne!(counter_key(&h, 0), counter_key(&h, WINDOW_MS));
        assert_eq!(
            decide(2, 10, 0).headers()[1],
            ("x-ratelimit-remaining-requests", "8".to_string())
        );
    }
}
