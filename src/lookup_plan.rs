//! One request's Redis work as data: what a lookup counts and reads, what a follower of an
//! in-flight miss polls, and what storing an answer writes. Built and decoded here (pure, unit
//! tested), so the Worker glue only sends commands and hands back replies, and no call site reads
//! a reply by its position.

use crate::budget::Lease;
use crate::cache_entry::CacheEntry;
use crate::keys::{self, Keyspace};
use crate::l1::Stamp;
use crate::semantic::{self, Candidate};
use serde_json::Value;
use sha1::{Digest, Sha1};

/// One command's reply: its result, or the error Redis gave for it.
pub type Reply = Result<Value, String>;

/// Replies that do not fit the plan that asked for them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlanError(pub String);

impl std::fmt::Display for PlanError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "unexpected Redis replies: {}", self.0)
    }
}

fn args(parts: &[&str]) -> Vec<String> {
    parts.iter().map(|p| p.to_string()).collect()
}

fn ok(reply: Option<&Reply>) -> Option<&Value> {
    reply.and_then(|r| r.as_ref().ok())
}

fn entry_from(reply: Option<&Reply>) -> Option<CacheEntry> {
    ok(reply)?.as_str().and_then(CacheEntry::from_stored)
}

/// The lookup script (see its header for the arguments and reply).
pub const LOOKUP_SCRIPT: &str = include_str!("lookup.lua");

/// The script's SHA-1, for `EVALSHA`.
pub fn lookup_script_sha() -> &'static str {
    static SHA: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    SHA.get_or_init(|| hex::encode(Sha1::digest(LOOKUP_SCRIPT.as_bytes())))
}

/// One budget's part of a lookup (see `budget`): what this isolate admitted since its last sync,
/// how many requests it would like to admit on its own next, and whether this request needs one
/// of them (the isolate has none left).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BudgetSync {
    pub key: String,
    pub report: u64,
    pub want: u64,
    pub limit: u64,
    pub ttl_secs: u64,
    pub need: bool,
}

impl BudgetSync {
    fn args(sync: Option<&BudgetSync>) -> [String; 6] {
        match sync {
            Some(b) => [
                b.key.clone(),
                b.report.to_string(),
                b.want.to_string(),
                b.limit.to_string(),
                b.ttl_secs.to_string(),
                u8::from(b.need).to_string(),
            ],
            None => [
                String::new(),
                "0".into(),
                "0".into(),
                "0".into(),
                "0".into(),
                "0".into(),
            ],
        }
    }
}

/// Everything a request asks of Redis before it is answered, in one script call.
#[derive(Debug, Clone, PartialEq)]
pub struct LookupPlan {
    pub project_id: String,
    pub endpoint: &'static str,
    /// The exact entry's hash (`cache_key::entry_hash`).
    pub entry_hash: String,
    /// Read the cache (not for bypass, refresh, or a budget-only sync).
    pub read: bool,
    /// Take the in-flight lock if the exact entry is missing: its holder and time to live.
    pub lock: Option<(String, u64)>,
    /// Entries fetched with each bucket, so a semantic hit needs no second round trip.
    pub fetch_per_bucket: usize,
    /// The Worker's clock, for the entry's freshness.
    pub now_ms: u64,
    /// The oldest entry the request accepts (`Cache-Control: max-age`).
    pub max_age_ms: Option<u64>,
    pub rate: BudgetSync,
    pub quota: Option<BudgetSync>,
    /// The semantic buckets to read (`semantic::bucket_suffixes`).
    pub bucket_suffixes: Vec<String>,
}

/// Whether this request took the in-flight lock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LockState {
    /// This request leads: it goes upstream and releases the lock when it is done.
    Taken,
    /// Another identical request is in flight: wait for its answer.
    HeldByAnother,
    NotAsked,
}

/// What a lookup found.
#[derive(Debug, Clone, PartialEq)]
pub struct Found {
    /// The project's cache generation and purge epoch, as Redis has them now.
    pub generation: u64,
    pub epoch: u64,
    pub rate: Lease,
    pub quota: Option<Lease>,
    /// Both budgets allow this request.
    pub admitted: bool,
    /// The exact entry and its remaining time to live.
    pub entry: Option<(CacheEntry, u64)>,
    pub lock: LockState,
    pub candidates: Vec<Candidate>,
    /// Entries of candidates, read in the same call, by entry key.
    pub fetched: Vec<(String, CacheEntry)>,
}

impl LookupPlan {
    /// `ARGV` of the script.
    pub fn args(&self) -> Vec<String> {
        let flags = match (self.read, &self.lock) {
            (true, Some(_)) => "rl",
            (true, None) => "r",
            (false, _) => "",
        };
        let (holder, ttl) = self
            .lock
            .as_ref()
            .map_or((String::new(), 0), |(h, t)| (h.clone(), *t));
        let mut args = vec![
            self.project_id.clone(),
            self.endpoint.to_string(),
            self.entry_hash.clone(),
            flags.to_string(),
            holder,
            ttl.to_string(),
            self.fetch_per_bucket.to_string(),
            self.now_ms.to_string(),
            self.max_age_ms.map(|m| m.to_string()).unwrap_or_default(),
        ];
        args.extend(BudgetSync::args(Some(&self.rate)));
        args.extend(BudgetSync::args(self.quota.as_ref()));
        if self.read {
            args.extend(self.bucket_suffixes.iter().cloned());
        }
        args
    }

    /// The keys of this project's cache in the generation a reply names.
    pub fn keyspace(&self, generation: u64) -> Keyspace<'_> {
        Keyspace {
            project_id: &self.project_id,
            generation,
        }
    }

    pub fn decode(&self, reply: &Value) -> Result<Found, PlanError> {
        let bad = |what: &str| PlanError(format!("{what} in {reply}"));
        let items = reply.as_array().ok_or_else(|| bad("not an array"))?;
        let int = |i: usize| items.get(i).and_then(Value::as_i64);
        let uint = |i: usize| {
            int(i)
                .map(|n| n.max(0) as u64)
                .ok_or_else(|| bad("a missing number"))
        };
        let (generation, epoch) = (uint(0)?, uint(1)?);
        let rate = Lease {
            allowed: uint(2)?,
            count: uint(3)?,
        };
        let quota = self.quota.as_ref().map(|_| Lease {
            allowed: uint(4).unwrap_or(0),
            count: uint(5).unwrap_or(0),
        });
        let admitted = uint(6)? == 1;
        let mut found = Found {
            generation,
            epoch,
            rate,
            quota,
            admitted,
            entry: None,
            lock: LockState::NotAsked,
            candidates: Vec::new(),
            fetched: Vec::new(),
        };
        if !admitted || !self.read {
            return Ok(found);
        }
        found.entry = items
            .get(7)
            .and_then(Value::as_str)
            .and_then(CacheEntry::from_stored)
            .map(|e| (e, uint(8).unwrap_or(0)));
        found.lock = match int(9) {
            Some(1) => LockState::Taken,
            Some(0) => LockState::HeldByAnother,
            _ => LockState::NotAsked,
        };
        let keyspace = self.keyspace(generation);
        for pair in items.get(10..).unwrap_or_default().chunks(2) {
            let [fields, entries] = pair else {
                return Err(bad("a bucket without its entries"));
            };
            let fields = fields.as_array().map(Vec::as_slice).unwrap_or_default();
            let entries = entries.as_array().map(Vec::as_slice).unwrap_or_default();
            // The script fetched the entries of the first fields, in the bucket's order.
            for (i, kv) in fields.chunks(2).enumerate() {
                let [Value::String(field), Value::String(record)] = kv else {
                    continue;
                };
                let entry_key = keyspace.chat_entry(field);
                if let Some(entry) = entries
                    .get(i)
                    .and_then(Value::as_str)
                    .and_then(CacheEntry::from_stored)
                {
                    found.fetched.push((entry_key.clone(), entry));
                }
                found
                    .candidates
                    .extend(semantic::decode_record(&entry_key, record));
            }
        }
        Ok(found)
    }
}

/// Candidates from one `HGETALL` reply (`[field, record, field, record, ...]`), in its order.
pub fn bucket_candidates(keyspace: &Keyspace, reply: &Value) -> Vec<Candidate> {
    let Some(items) = reply.as_array() else {
        return Vec::new();
    };
    items
        .chunks(2)
        .filter_map(|kv| match kv {
            [Value::String(field), Value::String(record)] => {
                semantic::decode_record(&keyspace.chat_entry(field), record)
            }
            _ => None,
        })
        .collect()
}

/// Takes the in-flight lock for `ttl_ms`, if nobody holds it.
pub fn lock_command(lock_key: &str, holder: &str, ttl_ms: u64) -> Vec<String> {
    args(&["SET", lock_key, holder, "NX", "PX", &ttl_ms.to_string()])
}

/// What a follower of an in-flight miss reads on each poll.
#[derive(Debug, Clone, PartialEq)]
pub struct LeaderPoll {
    pub entry_key: String,
    pub lock_key: String,
}

/// What one poll saw.
#[derive(Debug, Clone, PartialEq)]
pub struct Polled {
    pub entry: Option<CacheEntry>,
    pub lock_held: bool,
}

impl LeaderPoll {
    pub fn commands(&self) -> Vec<Vec<String>> {
        vec![
            args(&["GET", &self.entry_key]),
            args(&["EXISTS", &self.lock_key]),
        ]
    }

    pub fn decode(&self, replies: &[Reply]) -> Result<Polled, PlanError> {
        match replies {
            [entry, lock] => Ok(Polled {
                entry: entry_from(Some(entry)),
                lock_held: ok(Some(lock)).and_then(Value::as_u64) == Some(1),
            }),
            _ => Err(PlanError(format!(
                "{} replies for 2 commands",
                replies.len()
            ))),
        }
    }
}

/// Where and how long a miss's answer is stored: its exact key, and its semantic buckets and
/// record; the in-flight lock is released after the entry is written.
#[derive(Debug, Clone, PartialEq)]
pub struct StorePlan {
    pub key: String,
    /// How long the answer is served as fresh (its entry's expiry).
    pub fresh_secs: u64,
    /// How long Redis keeps it (longer, for `stale-if-error`: `controls::kept_for_secs`).
    pub ttl_secs: u64,
    pub semantic: Option<(Vec<String>, String)>,
    pub lock: Option<String>,
    /// The project's cache state the keys belong to (isolates keep the entry under it).
    pub stamp: Stamp,
}

impl StorePlan {
    /// The entry as stored: fresh for `fresh_secs` from when it was answered.
    pub fn expiring(&self, entry: CacheEntry) -> CacheEntry {
        CacheEntry {
            expires_at_ms: Some(
                entry
                    .stored_at_ms
                    .saturating_add(self.fresh_secs.saturating_mul(1000)),
            ),
            ..entry
        }
    }

    pub fn commands(&self, entry_json: &str) -> Vec<Vec<String>> {
        let ttl = self.ttl_secs.to_string();
        let mut cmds = vec![args(&["SET", &self.key, entry_json, "EX", &ttl])];
        if let Some((buckets, record)) = &self.semantic {
            let field = keys::field_of(&self.key);
            for b in buckets {
                cmds.push(args(&["HSET", b, field, record]));
                cmds.push(args(&["EXPIRE", b, &ttl]));
                cmds.push(args(&["HLEN", b]));
            }
        }
        // After the SET, so a follower that sees the lock gone also sees the entry.
        if let Some(lock) = &self.lock {
            cmds.push(args(&["DEL", lock]));
        }
        cmds
    }

    /// Buckets that grew past `MAX_BUCKET`, and by how many fields, from the store's replies.
    pub fn overfull(&self, replies: &[Reply]) -> Vec<(String, usize)> {
        let Some((buckets, _)) = &self.semantic else {
            return Vec::new();
        };
        buckets
            .iter()
            .enumerate()
            .filter_map(|(i, b)| {
                let len = ok(replies.get(1 + i * 3 + 2)).and_then(Value::as_u64)? as usize;
                (len > semantic::MAX_BUCKET).then(|| (b.clone(), len - semantic::MAX_BUCKET))
            })
            .collect()
    }

    /// Drops the randomly chosen `fields` of an overfull bucket, never this entry's own.
    pub fn trim_command(&self, bucket: &str, fields: &Value) -> Option<Vec<String>> {
        let own = keys::field_of(&self.key);
        let mut cmd = args(&["HDEL", bucket]);
        cmd.extend(
            fields
                .as_array()?
                .iter()
                .filter_map(Value::as_str)
                .filter(|f| *f != own)
                .map(str::to_string),
        );
        (cmd.len() > 2).then_some(cmd)
    }
}

/// Drops an expired entry's field from the buckets that point at it.
pub fn forget_commands(buckets: &[String], entry_key: &str) -> Vec<Vec<String>> {
    let field = keys::field_of(entry_key);
    buckets.iter().map(|b| args(&["HDEL", b, field])).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn entry() -> CacheEntry {
        CacheEntry {
            stored_at_ms: 1,
            expires_at_ms: None,
            provider: "openai".into(),
            model: "m".into(),
            prompt_tokens: 1,
            completion_tokens: 2,
            cost_usd: 0.5,
            answer: json!({"choices": []}),
        }
    }

    fn plan(read: bool) -> LookupPlan {
        LookupPlan {
            project_id: "p1".into(),
            endpoint: "chat",
            entry_hash: "abc".into(),
            read,
            lock: Some(("req1".into(), 2500)),
            fetch_per_bucket: 2,
            now_ms: 1_000,
            max_age_ms: Some(60_000),
            rate: BudgetSync {
                key: "wl:rl:k:1".into(),
                report: 3,
                want: 6,
                limit: 60,
                ttl_secs: 120,
                need: true,
            },
            quota: None,
            bucket_suffixes: vec!["scope:w:1".into()],
        }
    }

    #[test]
    fn arguments_follow_the_script_header() {
        let args = plan(true).args();
        assert_eq!(
            &args[..9],
            ["p1", "chat", "abc", "rl", "req1", "2500", "2", "1000", "60000"]
        );
        assert_eq!(&args[9..15], ["wl:rl:k:1", "3", "6", "60", "120", "1"]);
        assert_eq!(&args[15..21], ["", "0", "0", "0", "0", "0"], "no quota");
        assert_eq!(&args[21..], ["scope:w:1"]);
        let sync_only = plan(false).args();
        assert_eq!(
            (sync_only[3].as_str(), sync_only.len()),
            ("", 21),
            "no reads, no buckets"
        );
        assert_eq!(lookup_script_sha().len(), 40);
        assert!(LOOKUP_SCRIPT.contains("ARGV"));
    }

    #[test]
    fn a_reply_is_read_by_name() {
        let p = plan(true);
        let record = semantic::encode_record(&semantic::text_query("hi there", "s".into()));
        let found = p
            .decode(&json!([
                4,
                7,
                6,
                15,
                0,
                0,
                1,
                entry().to_stored(),
                3_600_000,
                1,
                ["bad", "not a record", "def", record],
                [null, entry().to_stored()]
            ]))
            .unwrap();
        assert_eq!((found.generation, found.epoch), (4, 7));
        assert_eq!(
            found.rate,
            Lease {
                allowed: 6,
                count: 15
            }
        );
        assert_eq!(found.quota, None);
        assert!(found.admitted);
        assert_eq!(found.entry, Some((entry(), 3_600_000)));
        assert_eq!(found.lock, LockState::Taken);
        assert_eq!(found.candidates.len(), 1);
        assert_eq!(found.candidates[0].entry_key, "wl:c2:p1:g4:chat:def");
        assert_eq!(
            found.fetched,
            [("wl:c2:p1:g4:chat:def".to_string(), entry())]
        );
    }

    #[test]
    fn refused_or_budget_only_replies_read_nothing_else() {
        let refused = plan(true).decode(&json!([0, 0, 0, 60, 0, 0, 0])).unwrap();
        assert!(!refused.admitted);
        assert_eq!(
            (refused.entry, refused.lock, refused.candidates.len()),
            (None, LockState::NotAsked, 0)
        );
        let missing = plan(true)
            .decode(&json!([0, 0, 1, 1, 0, 0, 1, null, -2, 0]))
            .unwrap();
        assert_eq!(
            (missing.entry, missing.lock),
            (None, LockState::HeldByAnother)
        );
        assert!(plan(true).decode(&json!({"error": "x"})).is_err());
        assert!(plan(true).decode(&json!([1, 2])).is_err());
        assert!(
            plan(true)
                .decode(&json!([0, 0, 1, 1, 0, 0, 1, null, -2, -1, []]))
                .is_err(),
            "a bucket without entries"
        );
    }

    #[test]
    fn locks_and_polls() {
        assert_eq!(
            lock_command("k:inflight", "req1", 2500),
            ["SET", "k:inflight", "req1", "NX", "PX", "2500"]
        );
        let poll = LeaderPoll {
            entry_key: "k".into(),
            lock_key: keys::inflight("k"),
        };
        assert_eq!(poll.commands()[1], ["EXISTS", "k:inflight"]);
        let seen = poll.decode(&[Ok(Value::Null), Ok(json!(1))]).unwrap();
        assert_eq!((seen.entry, seen.lock_held), (None, true));
        let done = poll
            .decode(&[Ok(json!(entry().to_stored())), Ok(json!(0))])
            .unwrap();
        assert_eq!((done.entry, done.lock_held), (Some(entry()), false));
    }

    #[test]
    fn a_store_sets_the_entry_then_the_buckets_then_releases_the_lock() {
        let p = StorePlan {
            key: "wl:c2:p:g0:chat:abc".into(),
            fresh_secs: 3600,
            ttl_secs: 3600,
            semantic: Some((vec!["b1".into(), "b2".into()], "rec".into())),
            lock: Some("wl:c2:p:g0:chat:abc:inflight".into()),
            stamp: Stamp::default(),
        };
        let cmds = p.commands("{}");
        assert_eq!(cmds[0], ["SET", "wl:c2:p:g0:chat:abc", "{}", "EX", "3600"]);
        assert_eq!(cmds[1], ["HSET", "b1", "abc", "rec"]);
        assert_eq!(
            cmds.last().unwrap(),
            &["DEL", "wl:c2:p:g0:chat:abc:inflight"]
        );
        let mut replies: Vec<Reply> = vec![Ok(json!("OK"))];
        for len in [3, semantic::MAX_BUCKET as u64 + 2] {
            replies.extend([Ok(json!(1)), Ok(json!(1)), Ok(json!(len))]);
        }
        assert_eq!(p.overfull(&replies), [("b2".to_string(), 2)]);
        assert_eq!(
            p.trim_command("b2", &json!(["abc", "x", "y"])).unwrap(),
            ["HDEL", "b2", "x", "y"],
            "never its own field"
        );
        assert_eq!(p.trim_command("b2", &json!(["abc"])), None);
        assert_eq!(
            forget_commands(&["b1".into()], "wl:c2:p:chat:abc"),
            [["HDEL", "b1", "abc"]]
        );
    }
}
