//! One request's Redis work as data: what a lookup counts and reads, what a follower of an
//! in-flight miss polls, and what storing an answer writes. Built and decoded here (pure, unit
//! tested), so the Worker glue only sends commands and hands back replies, and no call site reads
//! a reply by its position.

use crate::cache_entry::CacheEntry;
use crate::rate_limit;
use crate::semantic::{self, Candidate};
use serde_json::Value;

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
    ok(reply)?.as_str().and_then(CacheEntry::from_json)
}

/// The lookup a request makes before anything else: its rate-limit counter, and unless the
/// client skips the cache, the exact entry and the semantic buckets.
#[derive(Debug, Clone, PartialEq)]
pub struct LookupPlan {
    pub project_id: String,
    pub rate_counter: String,
    /// The exact entry to read; None when the cache is not read (bypass, refresh).
    pub entry_key: Option<String>,
    /// Semantic buckets read with it.
    pub buckets: Vec<String>,
}

/// What a lookup found.
#[derive(Debug, Clone, PartialEq)]
pub struct Found {
    /// This key's request count in the current window, this request included.
    pub count: Option<u64>,
    pub entry: Option<CacheEntry>,
    pub candidates: Vec<Candidate>,
}

impl LookupPlan {
    pub fn commands(&self) -> Vec<Vec<String>> {
        let counter = &self.rate_counter;
        let ttl = rate_limit::COUNTER_TTL_SECS.to_string();
        let mut cmds = vec![
            args(&["INCR", counter]),
            args(&["EXPIRE", counter, &ttl, "NX"]),
        ];
        if let Some(key) = &self.entry_key {
            cmds.push(args(&["GET", key]));
            cmds.extend(self.buckets.iter().map(|b| args(&["HGETALL", b])));
        }
        cmds
    }

    pub fn decode(&self, replies: &[Reply]) -> Result<Found, PlanError> {
        let expected = self.commands().len();
        if replies.len() != expected {
            return Err(PlanError(format!(
                "{} replies for {expected} commands",
                replies.len()
            )));
        }
        let (counting, reading) = replies.split_at(2);
        let count = ok(counting.first()).and_then(Value::as_u64);
        let (entry, candidates) = match reading.split_first() {
            Some((entry, buckets)) => (
                entry_from(Some(entry)),
                buckets
                    .iter()
                    .filter_map(|b| b.as_ref().ok())
                    .flat_map(|b| bucket_candidates(&self.project_id, b))
                    .collect(),
            ),
            None => (None, Vec::new()),
        };
        Ok(Found {
            count,
            entry,
            candidates,
        })
    }
}

/// Candidates from one `HGETALL` reply (`[field, record, field, record, ...]`).
pub fn bucket_candidates(project_id: &str, reply: &Value) -> Vec<Candidate> {
    let Some(items) = reply.as_array() else {
        return Vec::new();
    };
    items
        .chunks(2)
        .filter_map(|kv| match kv {
            [Value::String(field), Value::String(record)] => {
                semantic::decode_record(&semantic::entry_key_for(project_id, field), record)
            }
            _ => None,
        })
        .collect()
}

/// The lock a leader holds while its miss is in flight (project-scoped like the entry key).
pub fn inflight_key(entry_key: &str) -> String {
    format!("{entry_key}:inflight")
}

/// Takes the in-flight lock for `ttl_ms`, if nobody holds it.
pub fn lock_command(lock_key: &str, holder: &str, ttl_ms: u64) -> Vec<String> {
    args(&["SET", lock_key, holder, "NX", "PX", &ttl_ms.to_string()])
}

/// Whether a `SET ... NX` reply took the lock (`OK`), found it held (`nil`), or neither.
pub fn lock_taken(reply: &Value) -> Option<bool> {
    match reply {
        Value::String(s) if s == "OK" => Some(true),
        Value::Null => Some(false),
        _ => None,
    }
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
    pub ttl_secs: u64,
    pub semantic: Option<(Vec<String>, String)>,
    pub lock: Option<String>,
}

impl StorePlan {
    pub fn commands(&self, entry_json: &str) -> Vec<Vec<String>> {
        let ttl = self.ttl_secs.to_string();
        let mut cmds = vec![args(&["SET", &self.key, entry_json, "EX", &ttl])];
        if let Some((buckets, record)) = &self.semantic {
            let field = semantic::field_for(&self.key);
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
        let own = semantic::field_for(&self.key);
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
    let field = semantic::field_for(entry_key);
    buckets.iter().map(|b| args(&["HDEL", b, field])).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn entry() -> CacheEntry {
        CacheEntry {
            stored_at_ms: 1,
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
            rate_counter: "wl:rl:k:1".into(),
            entry_key: read.then(|| "wl:c2:p1:chat:abc".into()),
            buckets: if read {
                vec!["wl:s2:p1:x:w:1".into()]
            } else {
                Vec::new()
            },
        }
    }

    #[test]
    fn a_lookup_counts_then_reads_the_entry_and_buckets() {
        let p = plan(true);
        let cmds = p.commands();
        assert_eq!(cmds[0], ["INCR", "wl:rl:k:1"]);
        assert_eq!(cmds[1][0], "EXPIRE");
        assert_eq!(cmds[2], ["GET", "wl:c2:p1:chat:abc"]);
        assert_eq!(cmds[3], ["HGETALL", "wl:s2:p1:x:w:1"]);
        let record = semantic::encode_record(&semantic::text_query("hi there", "s".into()));
        let found = p
            .decode(&[
                Ok(json!(7)),
                Ok(json!(1)),
                Ok(json!(entry().to_json())),
                Ok(json!(["def", record, "bad", "not a record"])),
            ])
            .unwrap();
        assert_eq!(found.count, Some(7));
        assert_eq!(found.entry, Some(entry()));
        assert_eq!(found.candidates.len(), 1);
        assert_eq!(found.candidates[0].entry_key, "wl:c2:p1:chat:def");
    }

    #[test]
    fn bypass_reads_nothing_and_errors_are_misses() {
        let p = plan(false);
        assert_eq!(p.commands().len(), 2);
        let found = p.decode(&[Err("WRONGTYPE".into()), Ok(json!(1))]).unwrap();
        assert_eq!(
            (found.count, found.entry, found.candidates.len()),
            (None, None, 0)
        );
        let read = plan(true);
        let found = read
            .decode(&[Ok(json!(1)), Ok(json!(1)), Ok(Value::Null), Err("x".into())])
            .unwrap();
        assert_eq!((found.entry, found.candidates.len()), (None, 0));
        assert!(read.decode(&[Ok(json!(1))]).is_err(), "too few replies");
    }

    #[test]
    fn locks_and_polls() {
        assert_eq!(
            lock_command("k:inflight", "req1", 2500),
            ["SET", "k:inflight", "req1", "NX", "PX", "2500"]
        );
        assert_eq!(lock_taken(&json!("OK")), Some(true));
        assert_eq!(lock_taken(&Value::Null), Some(false));
        assert_eq!(lock_taken(&json!(3)), None);
        let poll = LeaderPoll {
            entry_key: "k".into(),
            lock_key: inflight_key("k"),
        };
        assert_eq!(poll.commands()[1], ["EXISTS", "k:inflight"]);
        let seen = poll.decode(&[Ok(Value::Null), Ok(json!(1))]).unwrap();
        assert_eq!((seen.entry, seen.lock_held), (None, true));
        let done = poll
            .decode(&[Ok(json!(entry().to_json())), Ok(json!(0))])
            .unwrap();
        assert_eq!((done.entry, done.lock_held), (Some(entry()), false));
    }

    #[test]
    fn a_store_sets_the_entry_then_the_buckets_then_releases_the_lock() {
        let p = StorePlan {
            key: "wl:c2:p:chat:abc".into(),
            ttl_secs: 3600,
            semantic: Some((vec!["b1".into(), "b2".into()], "rec".into())),
            lock: Some("wl:c2:p:chat:abc:inflight".into()),
        };
        let cmds = p.commands("{}");
        assert_eq!(cmds[0], ["SET", "wl:c2:p:chat:abc", "{}", "EX", "3600"]);
        assert_eq!(cmds[1], ["HSET", "b1", "abc", "rec"]);
        assert_eq!(cmds.last().unwrap(), &["DEL", "wl:c2:p:chat:abc:inflight"]);
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
