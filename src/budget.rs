//! Request budgets an isolate spends without asking Redis: the per-minute rate limit and the
//! monthly quota are counted in Redis, but a request served from isolate memory must not wait for
//! a round trip. So an isolate is allowed a small lease of each budget when it talks to Redis,
//! spends it locally, and reports what it spent on its next round trip (which also renews the
//! lease). Redis's counter is then exact up to what isolates have not reported yet.
//!
//! Bound: a lease is at most `lease_size(limit)` requests, and what one isolate is allowed never
//! takes the counter past the limit, so with k isolates serving one key at once the limit can be
//! exceeded by at most (k - 1) x lease_size requests; with one isolate, never.

/// Requests one lease may allow: a tenth of the limit, between 1 and 100.
pub fn lease_size(limit: u64) -> u64 {
    (limit / 10).clamp(1, 100)
}

/// What Redis answered to one sync of a budget.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lease {
    /// Requests this isolate may now admit without asking again.
    pub allowed: u64,
    /// The counter after this sync (every reported request of the window).
    pub count: u64,
}

/// One budget (a key's minute, a project's month) as this isolate sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Budget {
    /// The window it belongs to (minute or month); a new window starts from nothing.
    window: u64,
    /// Requests still allowed by the last lease.
    allowed: u64,
    /// Requests admitted here and not reported to Redis yet.
    unreported: u64,
    /// The counter at the last sync.
    count: u64,
}

impl Budget {
    fn in_window(&mut self, window: u64) {
        if self.window != window {
            *self = Budget {
                window,
                ..Budget::default()
            };
        }
    }

    /// Admits one request from the lease, if it allows one.
    pub fn take(&mut self, window: u64) -> bool {
        self.in_window(window);
        if self.allowed == 0 {
            return false;
        }
        self.allowed -= 1;
        self.unreported += 1;
        true
    }

    /// Whether the lease is used up (the next request must ask Redis).
    pub fn is_empty(&mut self, window: u64) -> bool {
        self.in_window(window);
        self.allowed == 0
    }

    /// Whether it is time to renew in the background: less than half a lease left.
    pub fn is_low(&mut self, window: u64, lease: u64) -> bool {
        self.in_window(window);
        self.allowed * 2 < lease
    }

    /// What the next sync reports (and forgets here once it is sent).
    pub fn report(&mut self, window: u64) -> u64 {
        self.in_window(window);
        std::mem::take(&mut self.unreported)
    }

    /// A report that did not reach Redis is kept for the next sync.
    pub fn unsent(&mut self, window: u64, reported: u64) {
        self.in_window(window);
        self.unreported += reported;
    }

    /// Takes a sync's answer: the new lease replaces what was left of the old one.
    pub fn renew(&mut self, window: u64, lease: Lease) {
        self.in_window(window);
        self.allowed = lease.allowed;
        self.count = lease.count;
    }

    /// Requests of the window as far as this isolate knows: Redis's count and its own unreported.
    pub fn used(&self) -> u64 {
        self.count + self.unreported
    }

    /// What is left of `limit` as far as this isolate knows.
    pub fn remaining(&self, limit: u64) -> u64 {
        limit.saturating_sub(self.used())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lease_sizes() {
        assert_eq!(lease_size(3), 1);
        assert_eq!(lease_size(60), 6);
        assert_eq!(lease_size(1_000_000_000), 100);
    }

    #[test]
    fn spends_the_lease_then_must_ask() {
        let mut b = Budget::default();
        assert!(b.is_empty(1));
        assert!(!b.take(1), "nothing is allowed before a lease");
        b.renew(
            1,
            Lease {
                allowed: 3,
                count: 10,
            },
        );
        assert!(b.take(1) && b.take(1));
        assert!(b.is_low(1, 3));
        assert!(b.take(1));
        assert!(!b.take(1) && b.is_empty(1));
        assert_eq!((b.used(), b.remaining(20)), (13, 7));
        assert_eq!(b.report(1), 3);
        assert_eq!(b.report(1), 0, "reported once");
        b.unsent(1, 3);
        assert_eq!(b.report(1), 3, "a failed sync reports again");
    }

    #[test]
    fn a_new_window_starts_from_nothing() {
        let mut b = Budget::default();
        b.renew(
            1,
            Lease {
                allowed: 5,
                count: 50,
            },
        );
        assert!(b.take(1));
        assert!(!b.take(2), "last minute's lease is not this minute's");
        assert_eq!((b.used(), b.report(2)), (0, 0));
    }

    /// Two isolates that sync at the same moment can both be allowed the rest of the limit: the
    /// bound is what each lease allows beyond it.
    #[test]
    fn the_stated_bound_holds() {
        let limit = 50;
        let lease = lease_size(limit);
        let redis_allows = |count: u64| Lease {
            allowed: lease.min(limit.saturating_sub(count)),
            count,
        };
        let (mut a, mut b) = (Budget::default(), Budget::default());
        let mut count = 0;
        let mut admitted = 0;
        for _ in 0..200 {
            for isolate in [&mut a, &mut b] {
                if isolate.is_empty(0) {
                    count += isolate.report(0);
                    isolate.renew(0, redis_allows(count));
                }
                admitted += isolate.take(0) as u64;
            }
        }
        assert!(admitted >= limit && admitted <= limit + lease, "{admitted}");
    }
}
