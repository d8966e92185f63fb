//! Whether a client is still taking a streamed response. The runtime does not always tell a
//! Worker that its client hung up: the body is then neither read nor cancelled, and a stream
//! waiting for its end would wait forever (no usage row, the in-flight lock held). The body's
//! reads tell instead: a client that is there asks for the next chunk as soon as it has one,
//! while the provider keeps it waiting; a body with a chunk taken and no read after it for
//! `ABANDONED_AFTER_MS` has no client left. (A provider that is slow to answer is not a client
//! that left: a read is then pending.)

/// How long a body may go unread, with no read pending, before its client counts as gone: far
/// longer than a client takes to read a chunk of an event stream.
pub const ABANDONED_AFTER_MS: u64 = 10_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StreamWatch {
    /// When the body last handed a chunk to the client (or was created).
    last_taken_ms: u64,
    /// Whether the client's last read is still waiting for the provider.
    read_pending: bool,
}

impl StreamWatch {
    pub fn new(now_ms: u64) -> StreamWatch {
        StreamWatch {
            last_taken_ms: now_ms,
            read_pending: false,
        }
    }

    /// A read of the body: answered now (`ready`), or left waiting for the provider.
    pub fn read(&mut self, ready: bool, now_ms: u64) {
        self.read_pending = !ready;
        if ready {
            self.last_taken_ms = now_ms;
        }
    }

    /// Whether the client has gone: no read pending and none for `ABANDONED_AFTER_MS`.
    pub fn abandoned(&self, now_ms: u64) -> bool {
        !self.read_pending && now_ms.saturating_sub(self.last_taken_ms) >= ABANDONED_AFTER_MS
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_client_that_stops_reading_is_gone_after_the_limit() {
        let mut w = StreamWatch::new(0);
        w.read(true, 100);
        assert!(!w.abandoned(100 + ABANDONED_AFTER_MS - 1));
        assert!(w.abandoned(100 + ABANDONED_AFTER_MS));
    }

    #[test]
    fn a_slow_provider_is_not_a_client_that_left() {
        let mut w = StreamWatch::new(0);
        w.read(false, 10);
        assert!(
            !w.abandoned(10 * ABANDONED_AFTER_MS),
            "a read is waiting for the provider"
        );
        w.read(true, 5 * ABANDONED_AFTER_MS);
        assert!(!w.abandoned(5 * ABANDONED_AFTER_MS + 1));
    }

    #[test]
    fn a_body_never_read_counts_from_its_creation() {
        let w = StreamWatch::new(1_000);
        assert!(!w.abandoned(1_000 + ABANDONED_AFTER_MS - 1));
        assert!(w.abandoned(1_000 + ABANDONED_AFTER_MS));
    }
}
