//! Whether a client is still taking a streamed response. The runtime does not always tell a
//! Worker that its client hung up: the body is then neither read nor cancelled, and a stream
//! waiting for its end would wait forever (no usage row, the in-flight lock held). The body's
//! writes tell instead: a write settles once the client has taken the chunk, which a client that
//! is there does as soon as it arrives; a write still waiting after `ABANDONED_AFTER_MS` means no
//! client is left. (A provider that is slow to send is not a client that left: no write is then
//! waiting.)

/// How long a chunk may wait for the client before its client counts as gone: far longer than a
/// client takes to read a chunk of an event stream.
pub const ABANDONED_AFTER_MS: u64 = 10_000;

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StreamWatch {
    /// Since when the chunk being written has waited for the client, if one is.
    waiting_since_ms: Option<u64>,
}

impl StreamWatch {
    pub fn new() -> StreamWatch {
        StreamWatch::default()
    }

    /// A chunk written, waiting for the client to take it.
    pub fn writing(&mut self, now_ms: u64) {
        self.waiting_since_ms = Some(now_ms);
    }

    /// The client took it (or the write failed).
    pub fn taken(&mut self) {
        self.waiting_since_ms = None;
    }

    /// Whether the client has gone: a chunk has waited for it for `ABANDONED_AFTER_MS`.
    pub fn abandoned(&self, now_ms: u64) -> bool {
        self.waiting_since_ms
            .is_some_and(|since| now_ms.saturating_sub(since) >= ABANDONED_AFTER_MS)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_client_that_stops_reading_is_gone_after_the_limit() {
        let mut w = StreamWatch::new();
        w.writing(0);
        w.taken();
        w.writing(100);
        assert!(!w.abandoned(100 + ABANDONED_AFTER_MS - 1));
        assert!(w.abandoned(100 + ABANDONED_AFTER_MS));
    }

    #[test]
    fn a_slow_provider_is_not_a_client_that_left() {
        let mut w = StreamWatch::new();
        assert!(
            !w.abandoned(10 * ABANDONED_AFTER_MS),
            "no chunk has been written yet"
        );
        w.writing(10);
        w.taken();
        assert!(
            !w.abandoned(10 * ABANDONED_AFTER_MS),
            "the client took every chunk; the provider is slow"
        );
    }

    #[test]
    fn each_chunk_taken_starts_the_wait_again() {
        let mut w = StreamWatch::new();
        for at in (0..5).map(|i| i * (ABANDONED_AFTER_MS - 1)) {
            w.writing(at);
            assert!(!w.abandoned(at + ABANDONED_AFTER_MS - 1));
            w.taken();
        }
    }
}
