//! Bring-your-own provider keys: stored AES-256-GCM encrypted with the key the proxy decrypts
//! with, shown only as a masked hint, one per provider (adding replaces).

use super::projects::ProjectCtx;
use super::supabase;
use crate::error::DashError;
use crate::forms::{self, Fields, Notice};
use serde_json::json;
use watchllm_proxy::models::Provider;
use watchllm_proxy::secrets;
use worker::Response;
use worker_util::random_bytes;

fn path(ctx: &ProjectCtx<'_>, provider: Provider) -> String {
    format!(
        "provider_keys?project_id=eq.{}&provider=eq.{}",
        ctx.id(),
        provider.name()
    )
}

/// `POST /projects/<id>/provider-keys`: add or replace.
pub async fn save(ctx: &ProjectCtx<'_>, form: &Fields) -> Result<Response, DashError> {
    let asked = match forms::provider_key(form) {
        Ok(asked) => asked,
        Err(e) => return ctx.form_error(e).await,
    };
    let encrypted = secrets::encrypt(&ctx.cfg.encryption_key, random_bytes::<12>(), &asked.key)
        .map_err(|e| DashError::Internal(format!("encryption unavailable: {e:?}")))?;
    supabase::delete(ctx.cfg, &path(ctx, asked.provider)).await?;
    let row = json!({"project_id": ctx.id(), "provider": asked.provider.name(), "encrypted_key": encrypted, "key_hint": secrets::mask(&asked.key)});
    let _: Vec<serde_json::Value> = supabase::insert(ctx.cfg, "provider_keys", &row).await?;
    ctx.back(Notice::ProviderSaved)
}

/// `POST /projects/<id>/provider-keys/<provider>/delete`.
pub async fn remove(ctx: &ProjectCtx<'_>, provider: Provider) -> Result<Response, DashError> {
    supabase::delete(ctx.cfg, &path(ctx, provider)).await?;
    ctx.back(Notice::ProviderRemoved)
}
