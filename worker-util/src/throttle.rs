//! "At most N per window" for a Worker isolate, e.g. error reports: during an outage every request
//! may fail, and reporting each would flood the error tracker and spend the requests' time. Fixed
//! windows, counted in isolate memory (an isolate serves many requests; each keeps its own count).

/// A fixed-window counter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Throttle {
    limit: u32,
    window_ms: u64,
    start_ms: u64,
    count: u32,
}

impl Throttle {
    /// At most `limit` per `window_ms`.
    pub const fn new(limit: u32, window_ms: u64) -> Throttle {
        Throttle {
            limit,
            window_ms,
            start_ms: 0,
            count: 0,
        }
    }

    /// Whether one more is allowed at `now_ms` (and counts it if so).
    pub fn allow(&mut self, now_ms: u64) -> bool {
        if now_ms.saturating_sub(self.start_ms) >= self.window_ms {
            self.start_ms = now_ms;
            self.count = 0;
        }
        if self.count >= self.limit {
            return false;
        }
        self.count += 1;
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allows_the_limit_per_window_then_resets() {
        let mut t = Throttle::new(2, 60_000);
        let t0 = 1_000_000;
        assert!(t.allow(t0) && t.allow(t0 + 1));
        assert!(!t.allow(t0 + 59_999), "third in the window");
        assert!(t.allow(t0 + 60_000), "a new window");
        assert!(t.allow(t0 + 60_001) && !t.allow(t0 + 60_002));
    }
}
