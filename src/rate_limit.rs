//! Per-key rate limiting over fixed one-minute windows, counted in Redis with the lookup (see
//! `budget` for how an isolate spends a lease of it without a round trip). This module holds the
//! pure part: windows, the decision, and the `x-ratelimit-*` / `Retry-After` header values.

/// Length of one counting window.
pub const WINDOW_MS: u64 = 60_000;

/// Counter TTL: the window plus slack, so counters never outlive their window by much.
pub const COUNTER_TTL_SECS: u64 = 2 * WINDOW_MS / 1000;

/// The window containing `now_ms`.
pub fn window(now_ms: u64) -> u64 {
    now_ms / WINDOW_MS
}

/// Seconds until the window containing `now_ms` resets (at least 1).
pub fn reset_secs(now_ms: u64) -> u64 {
    let window_end = (window(now_ms) + 1) * WINDOW_MS;
    (window_end - now_ms).div_ceil(1000).max(1)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decision {
    pub allowed: bool,
    pub limit: u64,
    pub remaining: u64,
    /// Seconds until the window resets (at least 1).
    pub reset_secs: u64,
}

impl Decision {
    /// The decision for a request, given whether the budget admitted it and what is left.
    pub fn new(allowed: bool, limit: u64, remaining: u64, now_ms: u64) -> Decision {
        Decision {
            allowed,
            limit,
            remaining,
            reset_secs: reset_secs(now_ms),
        }
    }

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
    fn reset_counts_to_the_end_of_the_window() {
        let window_start = 1_700_000_040_000 - (1_700_000_040_000 % WINDOW_MS);
        assert_eq!(reset_secs(window_start), 60);
        assert_eq!(reset_secs(window_start + 59_500), 1);
        assert_eq!(reset_secs(window_start + 45_000), 15);
        assert_eq!(window(window_start), window(window_start + WINDOW_MS - 1));
        assert_ne!(window(window_start), window(window_start + WINDOW_MS));
    }

    #[test]
    fn headers() {
        let d = Decision::new(true, 10, 8, 0);
        assert_eq!(
            d.headers()[1],
            ("x-ratelimit-remaining-requests", "8".to_string())
        );
        assert_eq!(
            d.headers()[2],
            ("x-ratelimit-reset-requests", "60s".to_string())
        );
    }
}
