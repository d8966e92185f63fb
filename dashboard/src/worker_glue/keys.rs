//! The project's API keys: creating one (shown once, stored as its SHA-256 with a display
//! prefix) and revoking one. The proxy stops accepting a revoked key within its auth cache's TTL.

use super::projects::ProjectCtx;
use super::supabase;
use crate::cookies;
use crate::error::DashError;
use crate::forms::{self, Fields, Notice};
use serde_json::json;
use watchllm_proxy::api_key;
use worker::Response;
use worker_util::{now_ms, random_bytes};

/// `POST /projects/<id>/keys`: the key travels to the project page in a short-lived HttpOnly
/// cookie (Post/Redirect/Get), never in a URL, and is shown there once.
pub async fn create(ctx: &ProjectCtx<'_>, form: &Fields) -> Result<Response, DashError> {
    let asked = forms::new_key(form);
    let key = api_key::generate(asked.kind, &random_bytes::<32>());
    let row = json!({"project_id": ctx.id(), "key_hash": key.hash, "key_prefix": key.prefix, "kind": asked.kind.as_str(), "name": asked.name});
    let _: Vec<serde_json::Value> = supabase::insert(ctx.cfg, "api_keys", &row).await?;
    let mut resp = ctx.back(Notice::KeyCreated)?;
    let path = ctx.path();
    let cookie = cookies::new_key(&path, &key.key, ctx.secure).header();
    resp.headers_mut().set("set-cookie", &cookie)?;
    Ok(resp)
}

/// `POST /projects/<id>/keys/<key id>/revoke` (the key id is a checked UUID).
pub async fn revoke(ctx: &ProjectCtx<'_>, key_id: &str) -> Result<Response, DashError> {
    let at = watchllm_proxy::observability::iso8601(now_ms());
    let path = format!("api_keys?id=eq.{key_id}&project_id=eq.{}", ctx.id());
    supabase::update(ctx.cfg, &path, &json!({"revoked": true, "revoked_at": at})).await?;
    ctx.back(Notice::Revoked)
}
