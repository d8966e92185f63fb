//! `GET /projects/<id>/requests` (the request log, a page at a time) and
//! `GET /projects/<id>/requests.csv` (every row the filters match, streamed).
//!
//! Both read the `request_log` RPC, which pages by keyset. The export asks for 1,000 rows at a
//! time and writes each batch to the response as it arrives, so its memory stays one batch
//! whatever the number of rows.

use super::config::Config;
use super::projects::ProjectCtx;
use super::respond::html;
use super::supabase;
use crate::csv;
use crate::error::DashError;
use crate::query::{Cursor, LogQuery, Params, QueryError};
use crate::rows::{KeyRow, RequestRow, UsageDailyRow};
use crate::views::{self, RequestsPage};
use futures::stream::{self, StreamExt};
use serde_json::{json, Value};
use worker::{Headers, Response};
use worker_util::now_ms;

/// Rows on a page of the log.
const PAGE_ROWS: usize = 50;
/// Rows per RPC call while exporting (the RPC's maximum).
const EXPORT_BATCH: usize = 1000;

/// The RPC's arguments for a query (cursor included) and a page size.
fn args(pid: &str, q: &LogQuery, before: Option<&Cursor>, limit: usize) -> Value {
    let w = q.range.window(now_ms());
    json!({
        "p_project": pid,
        "p_from": w.from_rfc3339(),
        "p_to": w.to_rfc3339(),
        "p_cache": q.cache.map(|c| c.as_str()),
        "p_model": q.model,
        "p_key": q.key,
        "p_status_class": q.status_class,
        "p_before_at": before.map(|c| c.at.clone()),
        "p_before_id": before.map(|c| c.id),
        "p_limit": limit,
    })
}

async fn project_keys(ctx: &ProjectCtx<'_>) -> Result<Vec<KeyRow>, DashError> {
    let path = format!("api_keys?project_id=eq.{}&select=id,key_prefix,kind,name,revoked,created_at&order=created_at", ctx.id());
    supabase::select(ctx.cfg, &path).await
}

/// The query, with its key checked to be one of this project's.
fn checked(params: &Params, keys: &[KeyRow]) -> Result<LogQuery, DashError> {
    let q = LogQuery::parse(params)?;
    if let Some(k) = &q.key {
        if !keys.iter().any(|key| &key.id == k) {
            return Err(QueryError::Key.into());
        }
    }
    Ok(q)
}

pub async fn page(ctx: &ProjectCtx<'_>, params: &Params) -> Result<Response, DashError> {
    let keys = project_keys(ctx).await?;
    let query = checked(params, &keys)?;
    let mut rows: Vec<RequestRow> = supabase::rpc(
        ctx.cfg,
        "request_log",
        &args(ctx.id(), &query, query.before.as_ref(), PAGE_ROWS + 1),
    )
    .await?;
    // One row more than shown says whether an older page exists.
    let next = if rows.len() > PAGE_ROWS {
        rows.truncate(PAGE_ROWS);
        rows.last().and_then(|r| Cursor::new(&r.created_at, r.id))
    } else {
        None
    };
    let w = query.range.window(now_ms());
    let days = json!({"p_project": ctx.id(), "p_from": w.first_day.to_string(), "p_to": w.last_day.to_string()});
    let used: Vec<UsageDailyRow> = supabase::rpc(ctx.cfg, "usage_by_model", &days).await?;
    let mut models: Vec<String> = used.into_iter().map(|r| r.model).collect();
    models.sort();
    let chrome = ctx.cfg.chrome(Some(&ctx.user.email));
    let page = RequestsPage {
        chrome: chrome.clone(),
        project: ctx.project.clone(),
        query,
        rows,
        next,
        keys,
        models,
    };
    Ok(html(200, views::requests_page(page), &chrome)?)
}

/// One export batch after `before`; `None` when the previous batch was the last.
async fn batch(
    cfg: &Config,
    pid: &str,
    q: &LogQuery,
    before: Option<Cursor>,
) -> Result<(Vec<RequestRow>, Option<Cursor>), DashError> {
    let rows: Vec<RequestRow> = supabase::rpc(
        cfg,
        "request_log",
        &args(pid, q, before.as_ref(), EXPORT_BATCH),
    )
    .await?;
    let next = if rows.len() == EXPORT_BATCH {
        rows.last().and_then(|r| Cursor::new(&r.created_at, r.id))
    } else {
        None
    };
    Ok((rows, next))
}

pub async fn csv(ctx: &ProjectCtx<'_>, params: &Params) -> Result<Response, DashError> {
    let keys = project_keys(ctx).await?;
    let query = checked(params, &keys)?;
    let (cfg, pid) = (ctx.cfg.clone(), ctx.id().to_string());
    // State: the cursor to continue from, or None once the last batch is written.
    let start = Some(query.before.clone());
    let body =
        stream::once(async { Ok::<Vec<u8>, worker::Error>(csv::HEADER.as_bytes().to_vec()) })
            .chain(stream::unfold(start, move |state| {
                let (cfg, pid, query) = (cfg.clone(), pid.clone(), query.clone());
                async move {
                    let before = state?;
                    match batch(&cfg, &pid, &query, before).await {
                        Ok((rows, next)) => {
                            Some((Ok(csv::lines(&rows).into_bytes()), next.map(Some)))
                        }
                        // Headers are sent: the only way to say "incomplete" is to break the body.
                        Err(e) => Some((Err(worker::Error::RustError(e.to_string())), None)),
                    }
                }
            }));
    let headers = Headers::new();
    headers.set("content-type", "text/csv; charset=utf-8")?;
    headers.set("cache-control", "no-store")?;
    let day = crate::dates::today(now_ms());
    headers.set(
        "content-disposition",
        &format!(
            "attachment; filename=\"watchllm-requests-{}-{day}.csv\"",
            ctx.id()
        ),
    )?;
    Ok(Response::from_stream(body)?.with_headers(headers))
}
