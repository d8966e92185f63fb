//! Redis key names, in one place. Cache entries and semantic buckets live under their project's
//! cache generation (`g<gen>`), which a purge bumps: every key of an older generation is then out
//! of reach at once, whatever the number of entries (they expire on their own). The lookup script
//! (`lookup.lua`) derives the same names from the generation it reads; the integration tests go
//! through both.

/// Bumped whenever the canonical form or the stored entry format changes. Version 1 keys hashed
/// normalised prompts; no version 1 entry may ever answer a version 2 request.
pub const CACHE_FORMAT_VERSION: u32 = 2;
/// Bumped whenever the normalisation, guards, record or bucket layout changes.
pub const SEMANTIC_FORMAT_VERSION: u32 = 2;

/// A project's cache state: `gen` (the generation, bumped by a full purge) and `l1` (bumped by
/// any purge, so isolates drop what they keep in memory).
pub fn project_state(project_id: &str) -> String {
    format!("wl:p:{project_id}")
}

/// The keys of one project's cache in one generation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Keyspace<'a> {
    pub project_id: &'a str,
    pub generation: u64,
}

impl Keyspace<'_> {
    /// An exact-cache entry: `wl:c2:<project>:g<gen>:<endpoint>:<hash>`.
    pub fn entry(&self, endpoint: &str, hash: &str) -> String {
        format!(
            "wl:c{CACHE_FORMAT_VERSION}:{}:g{}:{endpoint}:{hash}",
            self.project_id, self.generation
        )
    }

    /// The chat entry a semantic bucket field stands for.
    pub fn chat_entry(&self, field: &str) -> String {
        self.entry("chat", field)
    }

    /// A semantic bucket: `wl:s2:<project>:g<gen>:<suffix>`.
    pub fn bucket(&self, suffix: &str) -> String {
        format!(
            "wl:s{SEMANTIC_FORMAT_VERSION}:{}:g{}:{suffix}",
            self.project_id, self.generation
        )
    }

    /// The start of every entry key of this project, whatever the generation.
    pub fn entry_prefix(&self) -> String {
        format!("wl:c{CACHE_FORMAT_VERSION}:{}:", self.project_id)
    }
}

/// The lock a leader holds while its miss is in flight (project-scoped like the entry key).
pub fn inflight(entry_key: &str) -> String {
    format!("{entry_key}:inflight")
}

/// The bucket field for an entry key: its hash (the project, generation and endpoint are in the
/// bucket's own key).
pub fn field_of(entry_key: &str) -> &str {
    entry_key.rsplit(':').next().unwrap_or(entry_key)
}

/// A key's per-minute request counter: `wl:rl:<key hash>:<minute>`.
pub fn rate_counter(key_hash: &str, minute: u64) -> String {
    format!("wl:rl:{}:{minute}", &key_hash[..key_hash.len().min(32)])
}

/// Failed authentications from one client address in one minute (`key_flood`):
/// `wl:af:<address>:<minute>`.
pub fn failed_auth_counter(address: &str, minute: u64) -> String {
    format!("wl:af:{address}:{minute}")
}

/// A project's monthly request counter, live and test keys apart: `wl:mq:<project>:<kind>:<yyyymm>`.
pub fn quota_counter(project_id: &str, key_kind: &str, month: u32) -> String {
    format!("wl:mq:{project_id}:{key_kind}:{month}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        let ks = Keyspace {
            project_id: "p1",
            generation: 3,
        };
        assert_eq!(ks.entry("chat", "abc"), "wl:c2:p1:g3:chat:abc");
        assert_eq!(ks.chat_entry("abc"), ks.entry("chat", "abc"));
        assert_eq!(ks.bucket("scope:w:1f"), "wl:s2:p1:g3:scope:w:1f");
        assert!(ks.entry("embeddings", "x").starts_with(&ks.entry_prefix()));
        assert_eq!(field_of("wl:c2:p1:g3:chat:abc"), "abc");
        assert_eq!(inflight("k"), "k:inflight");
        assert_eq!(
            rate_counter(&"a".repeat(64), 7),
            format!("wl:rl:{}:7", "a".repeat(32))
        );
        assert_eq!(quota_counter("p1", "test", 202611), "wl:mq:p1:test:202611");
        assert_eq!(project_state("p1"), "wl:p:p1");
    }

    #[test]
    fn generations_and_projects_never_share_a_key() {
        let a = Keyspace {
            project_id: "p1",
            generation: 1,
        };
        let b = Keyspace {
            project_id: "p1",
            generation: 2,
        };
        let c = Keyspace {
            project_id: "p2",
            generation: 1,
        };
        assert_ne!(a.entry("chat", "h"), b.entry("chat", "h"));
        assert_ne!(a.entry("chat", "h"), c.entry("chat", "h"));
        assert_ne!(a.bucket("s"), b.bucket("s"));
    }
}
