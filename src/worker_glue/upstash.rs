//! A minimal Upstash Redis REST client: `POST /` for one command and `POST /pipeline` for several
//! in one round trip, Bearer auth, `{"result"}`/`{"error"}` replies, over worker-util's HTTP helper.
//!
//! Written here rather than taken from a crate: upstash-redis-rs (0.1.2) needs nightly, is built on
//! reqwest 0.11 (not the Workers fetch API) and lacks INCR, EXPIRE and pipelines, which the hot path needs.

use crate::lookup_plan::Reply;
use serde_json::Value;
use worker_util::{HttpError, Outbound};

#[derive(Debug, thiserror::Error)]
pub enum RedisError {
    #[error("Upstash is not configured")]
    NotConfigured,
    #[error("Upstash unreachable: {0}")]
    Unreachable(HttpError),
    /// The REST endpoint answered with an HTTP error (bad token, bad command).
    #[error("Upstash HTTP {0}: {1}")]
    Http(u16, String),
    /// A single command failed.
    #[error("Redis command failed: {0}")]
    Command(String),
    #[error("unexpected Upstash reply: {0}")]
    BadReply(String),
}

pub struct Upstash<'a> {
    pub url: &'a str,
    pub token: &'a str,
    pub timeout_ms: u64,
}

impl Upstash<'_> {
    async fn post(&self, path: &str, body: &Value) -> Result<Value, RedisError> {
        if self.url.is_empty() {
            return Err(RedisError::NotConfigured);
        }
        let out = Outbound::post(format!("{}{path}", self.url))
            .bearer(self.token)
            .json(body)
            .deadline_ms(self.timeout_ms);
        let reply = worker_util::http::send(&out)
            .await
            .map_err(RedisError::Unreachable)?;
        let value: Value = reply
            .json()
            .map_err(|_| RedisError::Http(reply.status, reply.text()))?;
        if !reply.is_success() {
            let msg = value.get("error").and_then(Value::as_str).unwrap_or("");
            return Err(RedisError::Http(reply.status, msg.to_string()));
        }
        Ok(value)
    }

    /// Runs one command and returns its result.
    pub async fn command(&self, cmd: &[&str]) -> Result<Value, RedisError> {
        let v = self.post("/", &serde_json::json!(cmd)).await?;
        match (v.get("result"), v.get("error")) {
            (_, Some(e)) => Err(RedisError::Command(e.as_str().unwrap_or("").to_string())),
            (Some(r), _) => Ok(r.clone()),
            _ => Err(RedisError::BadReply(v.to_string())),
        }
    }

    /// Runs several commands in one round trip (not atomic); one reply per command.
    pub async fn pipeline(&self, cmds: &[Vec<String>]) -> Result<Vec<Reply>, RedisError> {
        let v = self.post("/pipeline", &serde_json::json!(cmds)).await?;
        let arr = v
            .as_array()
            .ok_or_else(|| RedisError::BadReply(v.to_string()))?;
        if arr.len() != cmds.len() {
            return Err(RedisError::BadReply(format!(
                "{} replies for {} commands",
                arr.len(),
                cmds.len()
            )));
        }
        Ok(arr
            .iter()
            .map(|r| match r.get("error") {
                Some(e) => Err(e.as_str().unwrap_or("error").to_string()),
                None => Ok(r.get("result").cloned().unwrap_or(Value::Null)),
            })
            .collect())
    }
}
