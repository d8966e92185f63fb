//! A minimal Upstash Redis REST client over the Workers fetch API: `POST /` for one command and
//! `POST /pipeline` for several in one round trip, Bearer auth, `{"result"}`/`{"error"}` replies.
//!
//! Written here rather than taken from a crate: upstash-redis-rs (0.1.2) needs nightly, is built on
//! reqwest 0.11 (not the Workers fetch API) and lacks INCR, EXPIRE and pipelines, which the hot path needs.

use super::http::{body_with_timeout, fetch_with_timeout, FetchError};
use serde_json::Value;
use worker::{Headers, Method, Request, RequestInit};

#[derive(Debug)]
pub enum RedisError {
    NotConfigured,
    Unreachable(FetchError),
    /// The REST endpoint answered with an HTTP error (bad token, bad command).
    Http(u16, String),
    /// A command inside a pipeline failed.
    Command(String),
    BadReply(String),
}

impl std::fmt::Display for RedisError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RedisError::NotConfigured => write!(f, "Upstash is not configured"),
            RedisError::Unreachable(e) => write!(f, "Upstash unreachable: {e}"),
            RedisError::Http(s, b) => write!(f, "Upstash HTTP {s}: {b}"),
            RedisError::Command(e) => write!(f, "Redis command failed: {e}"),
            RedisError::BadReply(e) => write!(f, "unexpected Upstash reply: {e}"),
        }
    }
}

pub struct Upstash<'a> {
    pub url: &'a str,
    pub token: &'a str,
    pub timeout_ms: u64,
}

/// One reply of a pipeline: the command's result, or its error message.
pub type Reply = Result<Value, String>;

impl Upstash<'_> {
    async fn post(&self, path: &str, body: &Value) -> Result<Value, RedisError> {
        if self.url.is_empty() {
            return Err(RedisError::NotConfigured);
        }
        let headers = Headers::new();
        let _ = headers.set("authorization", &format!("Bearer {}", self.token));
        let _ = headers.set("content-type", "application/json");
        let mut init = RequestInit::new();
        init.with_method(Method::Post)
            .with_headers(headers)
            .with_body(Some(body.to_string().into()));
        let req = Request::new_with_init(&format!("{}{path}", self.url), &init)
            .map_err(|e| RedisError::BadReply(e.to_string()))?;
        let mut resp = fetch_with_timeout(req, self.timeout_ms)
            .await
            .map_err(RedisError::Unreachable)?;
        let bytes = body_with_timeout(&mut resp, self.timeout_ms)
            .await
            .map_err(RedisError::Unreachable)?;
        let status = resp.status_code();
        let value: Value = serde_json::from_slice(&bytes)
            .map_err(|_| RedisError::Http(status, String::from_utf8_lossy(&bytes).into_owned()))?;
        if status >= 300 {
            let msg = value
                .get("error")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string();
            return Err(RedisError::Http(status, msg));
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
