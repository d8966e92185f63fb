//! The dashboard Worker's I/O (wasm32 only): the route table, and the `fetch` and `scheduled`
//! entry points. One module per resource (`projects`, `keys`, `provider_keys`, `billing`,
//! `alerts`, `session`); Supabase REST in `supabase`, responses in `respond`. The rules and pages
//! they apply are the crate's pure, natively tested modules.

mod alerts;
mod billing;
mod config;
mod docs;
mod keys;
mod mail;
mod projects;
mod provider_keys;
mod requests;
mod respond;
mod session;
mod supabase;
mod telemetry;
mod upkeep;

use crate::error::DashError;
use crate::forms::{is_uuid, Fields};
use crate::jwt::User;
use crate::query::Params;
use crate::views;
use config::Config;
use projects::ProjectCtx;
use respond::{html, redirect, with_cookies};
use watchllm_proxy::models::Provider;
use worker::{event, Context, Env, Method, Request, Response, ScheduleContext, ScheduledEvent};

impl From<worker::Error> for DashError {
    fn from(e: worker::Error) -> DashError {
        DashError::Internal(e.to_string())
    }
}

#[event(fetch)]
async fn fetch(req: Request, env: Env, ctx: Context) -> worker::Result<Response> {
    telemetry::install_panic_hook();
    let cfg = Config::from_env(&env);
    telemetry::report_pending_panic(&cfg, &ctx);
    let route_name = crate::telemetry::route(req.method().as_ref(), &req.path());
    telemetry::serving(&route_name);
    let email = session::current_user(&req, &cfg).map(|u| u.email);
    match route(req, &cfg).await {
        Ok(resp) => Ok(resp),
        Err(e) => {
            worker::console_error!("dashboard error ({}): {e}", e.status());
            telemetry::report_error(&cfg, &ctx, &route_name, &e);
            respond::error(&e, &cfg.chrome(email.as_deref()))
        }
    }
}

/// Cron: usage alerts, then the usage tables' upkeep.
#[event(scheduled)]
async fn scheduled(_event: ScheduledEvent, env: Env, _ctx: ScheduleContext) {
    let cfg = Config::from_env(&env);
    match alerts::send_usage_alerts(&cfg).await {
        Ok(n) => worker::console_log!("usage alerts sent: {n}"),
        Err(e) => worker::console_error!("usage alerts failed: {e}"),
    }
    match upkeep::run(&cfg).await {
        Ok(u) => worker::console_log!(
            "usage upkeep: partitions created {:?}, dropped {:?}; {} day rollups closed",
            u.created,
            u.dropped,
            u.closed
        ),
        Err(e) => worker::console_error!("usage upkeep failed: {e}"),
    }
}

async fn route(mut req: Request, cfg: &Config) -> Result<Response, DashError> {
    let url = req.url()?;
    let secure = url.scheme() == "https";
    let method = req.method();
    let segments: Vec<String> = url
        .path()
        .split('/')
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect();
    let segments: Vec<&str> = segments.iter().map(String::as_str).collect();

    match (&method, segments.as_slice()) {
        (Method::Get, ["health"]) => return Ok(Response::ok("ok")?),
        (Method::Get, ["docs", rest @ ..]) if rest.len() <= 1 => {
            let email = session::current_user(&req, cfg).map(|u| u.email);
            let chrome = cfg.chrome(email.as_deref());
            return docs::page(cfg, rest.first().copied().unwrap_or(""), &chrome).await;
        }
        (Method::Get, ["login"]) => {
            let chrome = cfg.chrome(None);
            return Ok(html(200, views::login_page(&chrome, None), &chrome)?);
        }
        // Only the test stack sets DASHBOARD_TEST_ROUTES: the panic path's Sentry report is tested.
        #[expect(
            clippy::panic,
            reason = "a deliberate panic, for testing panic reports"
        )]
        (Method::Get, ["__test", "panic"]) if cfg.test_routes => {
            panic!("test panic (lgw_proj_ThisLooksLikeAKeyAndMustBeScrubbed)")
        }
        (Method::Post, ["login"]) => return session::login(&mut req, cfg, secure).await,
        (Method::Post, ["logout"]) => return session::logout(&req, cfg).await,
        (Method::Post, ["stripe", "webhook"]) => return billing::webhook(&mut req, cfg).await,
        _ => {}
    }

    // Everything below needs a signed-in user; an expired access token is renewed with the
    // refresh cookie (and the new cookies sent with whatever the page answers).
    let (user, renewed) = match session::current_user(&req, cfg) {
        Some(user) => (user, None),
        None => match session::refresh(&req, cfg).await? {
            Some((user, s)) => (user, Some(s)),
            None => return Ok(redirect("/login")?),
        },
    };
    let resp = signed_in(&mut req, cfg, &user, &method, &segments, secure).await?;
    match renewed {
        Some(s) => Ok(with_cookies(resp, &session::session_cookies(&s, secure))?),
        None => Ok(resp),
    }
}

async fn signed_in(
    req: &mut Request,
    cfg: &Config,
    user: &User,
    method: &Method,
    segments: &[&str],
    secure: bool,
) -> Result<Response, DashError> {
    match (method, segments) {
        (Method::Get, []) => Ok(redirect("/projects")?),
        (Method::Get, ["projects"]) => projects::list(cfg, user).await,
        (Method::Post, ["projects"]) => {
            let form = Fields::parse(&req.bytes().await?);
            projects::create(cfg, user, &form).await
        }
        (_, ["projects", pid, rest @ ..]) if is_uuid(pid) => {
            let project = projects::owned(cfg, pid, user)
                .await?
                .ok_or(DashError::NotFound)?;
            let ctx = ProjectCtx {
                cfg,
                user,
                project,
                secure,
            };
            project_route(req, &ctx, method, rest).await
        }
        _ => Err(DashError::NotFound),
    }
}

/// Routes under `/projects/<id>` (ownership already checked).
async fn project_route(
    req: &mut Request,
    ctx: &ProjectCtx<'_>,
    method: &Method,
    path: &[&str],
) -> Result<Response, DashError> {
    if *method == Method::Get {
        let params = Params::parse(req.url()?.query().unwrap_or_default());
        return match path {
            [] => projects::page(req, ctx, &params).await,
            ["usage"] => projects::usage(ctx, &params).await,
            ["requests"] => requests::page(ctx, &params).await,
            ["requests.csv"] => requests::csv(ctx, &params).await,
            _ => Err(DashError::NotFound),
        };
    }
    if *method != Method::Post {
        return Err(DashError::NotFound);
    }
    let form = Fields::parse(&req.bytes().await?);
    match path {
        ["rename"] => projects::rename(ctx, &form).await,
        ["delete"] => projects::delete(ctx, &form).await,
        ["settings"] => projects::settings(ctx, &form).await,
        ["keys"] => keys::create(ctx, &form).await,
        ["keys", kid, "revoke"] if is_uuid(kid) => keys::revoke(ctx, kid).await,
        ["provider-keys"] => provider_keys::save(ctx, &form).await,
        ["provider-keys", name, "delete"] => match Provider::from_name(name) {
            Some(provider) => provider_keys::remove(ctx, provider).await,
            None => Err(DashError::NotFound),
        },
        ["billing", "checkout"] => billing::checkout(ctx, &form).await,
        ["billing", "portal"] => billing::portal(ctx).await,
        _ => Err(DashError::NotFound),
    }
}
