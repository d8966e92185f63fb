//! Supabase REST (PostgREST) as the service role: the dashboard's server side reads and writes
//! every table, so each path that touches a user's data is filtered by its owner as well as by id
//! (see [`owned_project`]). Rows come back typed (`crate::rows`).

use super::config::Config;
use crate::error::DashError;
use serde::de::DeserializeOwned;
use serde_json::Value;
use worker_util::http::{send, Method, Outbound, Reply};

const SERVICE: &str = "supabase";

/// One REST call; any status is a reply (see [`checked`]).
async fn call(
    cfg: &Config,
    method: Method,
    path: &str,
    body: Option<&Value>,
) -> Result<Reply, DashError> {
    let mut out = Outbound::new(method, format!("{}/rest/v1/{path}", cfg.supabase_url))
        .header("apikey", &cfg.service_key)
        .bearer(&cfg.service_key)
        .header("prefer", "return=representation");
    if let Some(body) = body {
        out = out.json(body);
    }
    send(&out)
        .await
        .map_err(|e| DashError::from_http(SERVICE, e))
}

/// The reply if 2xx, else an upstream error.
fn checked(reply: Reply) -> Result<Reply, DashError> {
    reply
        .success()
        .map_err(|e| DashError::from_http(SERVICE, e))
}

fn decode<T: DeserializeOwned>(reply: &Reply) -> Result<T, DashError> {
    reply.json().map_err(|e| DashError::Upstream {
        service: SERVICE,
        detail: format!("{}: unexpected reply: {e}", reply.target),
    })
}

/// `GET /rest/v1/<path>`: the rows, typed.
pub async fn select<T: DeserializeOwned>(cfg: &Config, path: &str) -> Result<Vec<T>, DashError> {
    decode(&checked(call(cfg, Method::Get, path, None).await?)?)
}

/// Inserts one row and returns what was stored.
pub async fn insert<T: DeserializeOwned>(
    cfg: &Config,
    table: &str,
    row: &Value,
) -> Result<Vec<T>, DashError> {
    decode(&checked(call(cfg, Method::Post, table, Some(row)).await?)?)
}

/// Inserts one row and returns only the status, for callers that act on a conflict (409).
pub async fn insert_status(cfg: &Config, table: &str, row: &Value) -> Result<u16, DashError> {
    Ok(call(cfg, Method::Post, table, Some(row)).await?.status)
}

pub async fn update(cfg: &Config, path: &str, patch: &Value) -> Result<(), DashError> {
    checked(call(cfg, Method::Patch, path, Some(patch)).await?).map(drop)
}

pub async fn delete(cfg: &Config, path: &str) -> Result<(), DashError> {
    checked(call(cfg, Method::Delete, path, None).await?).map(drop)
}

/// `POST /rest/v1/rpc/<function>` with named arguments. Null arguments are left out, so the
/// function's own default (null) applies: PostgREST servers differ in how they pass a JSON null.
pub async fn rpc<T: DeserializeOwned>(
    cfg: &Config,
    function: &str,
    args: &Value,
) -> Result<T, DashError> {
    let mut args = args.clone();
    if let Value::Object(map) = &mut args {
        map.retain(|_, v| !v.is_null());
    }
    let path = format!("rpc/{function}");
    decode(&checked(
        call(cfg, Method::Post, &path, Some(&args)).await?,
    )?)
}

/// The REST path of one project, filtered by its owner as well (never by id alone).
pub fn owned_project(pid: &str, uid: &str) -> String {
    format!("projects?id=eq.{pid}&owner_id=eq.{uid}")
}
