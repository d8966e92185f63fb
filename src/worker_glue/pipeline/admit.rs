//! Stage 1, admit: who is asking (the key, authenticated before the body is read), what (the
//! body, validated), where it goes (the route and its dialect) and what the client asked of the
//! cache; and the cache keys that follow from all of it.

use super::Exchange;
use crate::api_key;
use crate::cache_key;
use crate::controls::CacheControls;
use crate::cors;
use crate::error::ApiError;
use crate::models::{self, Provider, Route};
use crate::providers::Dialect;
use crate::request::{self, Endpoint, ProxyRequest};
use crate::semantic::Embedder;
use crate::worker_glue::auth::{self, KeyRecord};
use worker::Request;

/// An admitted request.
pub struct Admitted {
    pub record: KeyRecord,
    /// The presented key's hash (rate limits count per key).
    pub key_hash: String,
    pub request: ProxyRequest,
    pub route: Route,
    pub dialect: Dialect,
    pub controls: CacheControls,
    /// The exact entry's hash (its key is built under the project's current generation).
    pub entry_hash: String,
    /// The semantic scope, when the project compares chat prompts semantically (the query is
    /// built only if the exact entry is not in the isolate's memory: a hot prompt never pays for
    /// normalising it).
    pub semantic_scope: Option<String>,
    /// The project embeds with its OpenAI key: the query's vector is fetched after the exact
    /// lookup misses.
    pub hosted_embedder: bool,
}

fn header(req: &Request, name: &str) -> Option<String> {
    req.headers().get(name).ok().flatten()
}

pub async fn admit(
    ex: &mut Exchange,
    mut req: Request,
    endpoint: Endpoint,
) -> Result<Admitted, ApiError> {
    let presented = api_key::from_authorization(header(&req, "authorization").as_deref())?;
    let client = auth::Client::of(&req);
    let record = auth::authenticate(&ex.cfg, &client, &presented, ex.start_ms).await?;
    ex.log.project_id = record.project_id.clone();
    ex.log.api_key_id = record.key_id.clone();
    ex.log.key_kind = record.key_kind.clone();
    let origin = header(&req, "origin");
    let allowed = record.allowed_origins.as_deref().unwrap_or_default();
    if !cors::origin_allowed(allowed, origin.as_deref()) {
        return Err(ApiError::origin_not_allowed(
            origin.as_deref().unwrap_or_default(),
        ));
    }

    let declared_length = header(&req, "content-length").and_then(|l| l.parse::<usize>().ok());
    if declared_length.is_some_and(|len| len > request::MAX_BODY_BYTES) {
        return Err(ApiError::payload_too_large(request::MAX_BODY_BYTES));
    }
    let bytes = req.bytes().await.unwrap_or_default();
    let request = request::parse(endpoint, &bytes)?;
    ex.log.model = request.model.clone();

    let route = models::route(
        &request.model,
        |p| record.has_provider_key(p.name()),
        |p| Dialect::of(p).serves(endpoint),
    )?;
    let dialect = Dialect::of(route.provider);
    ex.log.provider = route.provider.name().to_string();

    let controls = CacheControls::from_headers(|name| header(&req, name), &record.cache_policy())?;
    ex.response_headers.extend(controls.response_headers());
    let hosted_embedder = Embedder::from_setting(&record.semantic_embedder) == Embedder::OpenAi
        && record.has_provider_key(Provider::OpenAi.name());
    let hashes = cache_key::request_hashes(
        &record.project_id,
        controls.namespace.as_deref(),
        &request,
        record.semantic_cache_enabled && endpoint == Endpoint::ChatCompletions,
    );
    Ok(Admitted {
        semantic_scope: hashes.semantic_scope,
        entry_hash: hashes.entry,
        key_hash: presented.hash,
        record,
        request,
        route,
        dialect,
        controls,
        hosted_embedder,
    })
}
