//! Projects: the list, creating one, and one project's page (usage, keys, provider keys, billing,
//! settings) with the forms that rename, delete and configure it. Pages are rendered by
//! `crate::views`; this module fetches what they show and applies what forms ask.

use super::config::Config;
use super::respond::{html, redirect};
use super::session::cookie;
use super::supabase::{self, owned_project};
use crate::charts;
use crate::cookies;
use crate::error::DashError;
use crate::forms::{self, Fields, FormError, Notice};
use crate::jwt::User;
use crate::query::{self, Params, Range};
use crate::rows::{
    IdRow, KeyRow, LatencyRow, PlanUsageRow, ProjectRow, ProviderKeyRow, UsageDailyRow,
};
use crate::views::{self, Chrome, ProjectPage, UsageView};
use serde_json::json;
use watchllm_proxy::api_key;
use worker::{Request, Response};
use worker_util::now_ms;

/// A project the signed-in user owns, with what every action on it needs.
pub struct ProjectCtx<'a> {
    pub cfg: &'a Config,
    pub user: &'a User,
    pub project: ProjectRow,
    /// Served over HTTPS (cookies get `Secure`).
    pub secure: bool,
}

impl ProjectCtx<'_> {
    pub fn id(&self) -> &str {
        &self.project.id
    }

    /// This project's page path.
    pub fn path(&self) -> String {
        format!("/projects/{}", self.project.id)
    }

    /// The REST path of this project, filtered by its owner.
    pub fn rest_path(&self) -> String {
        owned_project(&self.project.id, &self.user.id)
    }

    /// Back to the project page with a notice (Post/Redirect/Get).
    pub fn back(&self, notice: Notice) -> Result<Response, DashError> {
        Ok(redirect(&format!(
            "{}?notice={}",
            self.path(),
            notice.code()
        ))?)
    }

    /// The project page again, saying why a form was not applied.
    pub async fn form_error(&self, e: FormError) -> Result<Response, DashError> {
        let state = PageState {
            error: Some(e.to_string()),
            ..Default::default()
        };
        show(self, state).await
    }
}

/// The project `pid` if `user` owns it, every column (the settings form shows them all).
pub async fn owned(cfg: &Config, pid: &str, user: &User) -> Result<Option<ProjectRow>, DashError> {
    let rows: Vec<ProjectRow> = supabase::select(cfg, &owned_project(pid, &user.id)).await?;
    Ok(rows.into_iter().next())
}

/// `GET /projects`.
pub async fn list(cfg: &Config, user: &User) -> Result<Response, DashError> {
    let path = format!(
        "projects?owner_id=eq.{}&select=id,name,plan&order=created_at",
        user.id
    );
    let projects: Vec<ProjectRow> = supabase::select(cfg, &path).await?;
    let chrome = cfg.chrome(Some(&user.email));
    Ok(html(
        200,
        views::projects_page(&chrome, projects, None),
        &chrome,
    )?)
}

/// `POST /projects`: a new project on the free plan, then its page.
pub async fn create(cfg: &Config, user: &User, form: &Fields) -> Result<Response, DashError> {
    let name = match forms::project_name(form) {
        Ok(name) => name,
        Err(e) => {
            let chrome = cfg.chrome(Some(&user.email));
            let page = views::projects_page(&chrome, Vec::new(), Some(e.to_string()));
            return Ok(html(400, page, &chrome)?);
        }
    };
    let row = json!({"name": name, "owner_id": user.id, "plan": "free"});
    let created: Vec<IdRow> = supabase::insert(cfg, "projects", &row).await?;
    let id = created.first().map(|p| p.id.as_str()).unwrap_or_default();
    Ok(redirect(&format!("/projects/{id}"))?)
}

/// `GET /projects/<id>`: the page, with a notice from the last form and a new key shown once.
pub async fn page(
    req: &Request,
    ctx: &ProjectCtx<'_>,
    params: &Params,
) -> Result<Response, DashError> {
    let new_key = cookie(req, cookies::NEW_KEY).filter(|k| api_key::parse_key(k).is_ok());
    let shown = new_key.is_some();
    let notice = req
        .url()?
        .query_pairs()
        .find(|(k, _)| k == "notice")
        .and_then(|(_, n)| Notice::from_code(&n))
        .map(|n| n.message().to_string());
    let state = PageState {
        new_key,
        notice,
        error: None,
        range: Range::parse(params)?,
        model: query::model(params)?,
    };
    let mut resp = show(ctx, state).await?;
    if shown {
        let path = ctx.path();
        let cleared = cookies::new_key(&path, "", false).cleared();
        resp.headers_mut().set("set-cookie", &cleared)?;
    }
    Ok(resp)
}

/// `GET /projects/<id>/usage`: the usage section alone, for the page's live refresh.
pub async fn usage(ctx: &ProjectCtx<'_>, params: &Params) -> Result<Response, DashError> {
    let usage = usage_view(ctx, Range::parse(params)?, query::model(params)?).await?;
    let chrome = ctx.cfg.chrome(None);
    let mut resp = html(200, views::usage_fragment(usage), &chrome)?;
    resp.headers_mut().set("x-fragment", "usage")?;
    Ok(resp)
}

/// `POST /projects/<id>/rename`.
pub async fn rename(ctx: &ProjectCtx<'_>, form: &Fields) -> Result<Response, DashError> {
    let name = match forms::project_name(form) {
        Ok(name) => name,
        Err(e) => return ctx.form_error(e).await,
    };
    supabase::update(ctx.cfg, &ctx.rest_path(), &json!({"name": name})).await?;
    ctx.back(Notice::Renamed)
}

/// `POST /projects/<id>/delete`: only with the confirmation box ticked.
pub async fn delete(ctx: &ProjectCtx<'_>, form: &Fields) -> Result<Response, DashError> {
    if let Err(e) = forms::delete_confirmed(form) {
        return ctx.form_error(e).await;
    }
    supabase::delete(ctx.cfg, &ctx.rest_path()).await?;
    Ok(redirect("/projects")?)
}

/// `POST /projects/<id>/settings`: the semantic cache's switch, threshold, TTL and embedder, the
/// per-request controls (threshold floor, required namespace) and the allowed origins.
pub async fn settings(ctx: &ProjectCtx<'_>, form: &Fields) -> Result<Response, DashError> {
    let s = match forms::cache_settings(form) {
        Ok(s) => s,
        Err(e) => return ctx.form_error(e).await,
    };
    let patch = json!({
        "semantic_cache_enabled": s.semantic,
        "similarity_threshold": s.threshold,
        "cache_ttl_secs": s.ttl_secs,
        "semantic_embedder": s.embedder.as_str(),
        "similarity_threshold_floor": s.threshold_floor,
        "require_cache_namespace": s.require_namespace,
        "allowed_origins": s.allowed_origins,
    });
    supabase::update(ctx.cfg, &ctx.rest_path(), &patch).await?;
    ctx.back(Notice::SettingsSaved)
}

/// What the project page shows besides the project's own data.
#[derive(Default)]
pub struct PageState {
    /// A key just created, shown this once.
    pub new_key: Option<String>,
    pub notice: Option<String>,
    pub error: Option<String>,
    pub range: Range,
    /// Narrows the charts to one model (the per-model table always shows all).
    pub model: Option<String>,
}

/// The usage figures of a range (all charts follow it), optionally narrowed to one model.
async fn usage_view(
    ctx: &ProjectCtx<'_>,
    range: Range,
    model: Option<String>,
) -> Result<UsageView, DashError> {
    let (cfg, pid) = (ctx.cfg, ctx.id());
    let w = range.window(now_ms());
    let span = json!({"p_project": pid, "p_from": w.first_day.to_string(), "p_to": w.last_day.to_string()});
    let mut narrowed = span.clone();
    narrowed["p_model"] = json!(model);
    let by_day: Vec<UsageDailyRow> = supabase::rpc(cfg, "usage_by_day", &narrowed).await?;
    let by_model: Vec<UsageDailyRow> = supabase::rpc(cfg, "usage_by_model", &span).await?;
    let latency: Vec<LatencyRow> = supabase::rpc(cfg, "latency_daily", &narrowed).await?;
    let plan: Vec<PlanUsageRow> =
        supabase::rpc(cfg, "plan_usage", &json!({"p_project": pid})).await?;
    Ok(UsageView {
        path: ctx.path(),
        range,
        days: charts::by_day(&by_day, w.first_day, w.last_day),
        models: charts::by_model(&by_model),
        latency: charts::latency_by_day(&latency, w.first_day, w.last_day),
        model_filter: model,
        plan_usage: plan.into_iter().next().unwrap_or_default(),
    })
}

/// Renders the project page: keys, provider keys and usage read fresh.
pub async fn show(ctx: &ProjectCtx<'_>, state: PageState) -> Result<Response, DashError> {
    let (cfg, pid) = (ctx.cfg, ctx.id());
    let keys: Vec<KeyRow> = supabase::select(cfg, &format!("api_keys?project_id=eq.{pid}&select=id,key_prefix,kind,name,revoked,created_at&order=created_at")).await?;
    let provider_keys: Vec<ProviderKeyRow> = supabase::select(
        cfg,
        &format!(
            "provider_keys?project_id=eq.{pid}&select=provider,key_hint,updated_at&order=provider"
        ),
    )
    .await?;
    let usage = usage_view(ctx, state.range, state.model).await?;
    // A page showing a new key carries no third-party script.
    let mut chrome = Chrome {
        live: true,
        ..cfg.chrome(Some(&ctx.user.email))
    };
    if state.new_key.is_some() {
        chrome = chrome.without_analytics();
    }
    let page = ProjectPage {
        chrome: chrome.clone(),
        project: ctx.project.clone(),
        keys,
        provider_keys,
        new_key: state.new_key,
        notice: state.notice,
        error: state.error,
        usage,
        proxy_url: cfg.proxy_url.clone(),
    };
    Ok(html(200, views::project_page(page), &chrome)?)
}
