//! The dashboard Worker: routing, the session cookie, Supabase Auth (GoTrue) for sign-up/in/out,
//! and Supabase REST (service role) for the data, always filtered by the signed-in owner.

use crate::charts;
use crate::emails;
use crate::jwt;
use crate::stripe::{self, BillingUpdate};
use crate::views::{self, KeyView, PlanUsage, ProjectPage, ProjectView, ProviderKeyView};
use serde_json::{json, Value};
use watchllm_proxy::api_key::{self, KeyKind};
use watchllm_proxy::secrets;
use worker::{
    event, Context, Env, FormData, FormEntry, Headers, Method, Request, RequestInit, Response,
    Result, ScheduleContext, ScheduledEvent,
};

const SESSION_COOKIE: &str = "wl_session";
/// Deadline for a call to Supabase, Stripe or Resend.
const CALL_TIMEOUT_MS: u64 = 10_000;
/// Supabase Auth refresh token: renews the session when the access token expires.
const REFRESH_COOKIE: &str = "wl_refresh";
const REFRESH_MAX_AGE_SECS: u64 = 30 * 24 * 3600;
/// Carries a just-created key from the POST to the page that shows it once (Post/Redirect/Get, so a
/// reload never creates a second key and the key never appears in a URL).
const NEW_KEY_COOKIE: &str = "wl_new_key";
const PROVIDERS: [&str; 4] = ["openai", "anthropic", "groq", "openrouter"];

struct Cfg {
    supabase_url: String,
    anon_key: String,
    service_key: String,
    jwt_secret: String,
    encryption_key: String,
    proxy_url: String,
    dashboard_url: String,
    stripe_secret_key: String,
    stripe_webhook_secret: String,
    stripe_api_base: String,
    /// (Stripe price id, plan name)
    stripe_prices: Vec<(String, String)>,
    resend_api_key: String,
    resend_api_base: String,
    email_from: String,
}

fn get(env: &Env, name: &str) -> String {
    env.secret(name)
        .map(|s| s.to_string())
        .or_else(|_| env.var(name).map(|v| v.to_string()))
        .unwrap_or_default()
}

fn or(v: String, default: &str) -> String {
    if v.is_empty() {
        default.to_string()
    } else {
        v
    }
}

impl Cfg {
    fn from_env(env: &Env) -> Cfg {
        Cfg {
            supabase_url: get(env, "SUPABASE_URL").trim_end_matches('/').to_string(),
            anon_key: get(env, "SUPABASE_ANON_KEY"),
            service_key: get(env, "SUPABASE_SERVICE_ROLE_KEY"),
            jwt_secret: get(env, "SUPABASE_JWT_SECRET"),
            encryption_key: get(env, "PROVIDER_KEYS_ENCRYPTION_KEY"),
            proxy_url: get(env, "PROXY_URL").trim_end_matches('/').to_string(),
            dashboard_url: or(get(env, "DASHBOARD_URL"), "https://app.watchllm.dev")
                .trim_end_matches('/')
                .to_string(),
            stripe_secret_key: get(env, "STRIPE_SECRET_KEY"),
            stripe_webhook_secret: get(env, "STRIPE_WEBHOOK_SECRET"),
            stripe_api_base: or(get(env, "STRIPE_API_BASE"), "https://api.stripe.com")
                .trim_end_matches('/')
                .to_string(),
            stripe_prices: [
                ("STRIPE_PRICE_STARTER", "starter"),
                ("STRIPE_PRICE_PRO", "pro"),
            ]
            .iter()
            .filter_map(|(var, plan)| {
                Some(get(env, var))
                    .filter(|p| !p.is_empty())
                    .map(|p| (p, plan.to_string()))
            })
            .collect(),
            resend_api_key: get(env, "RESEND_API_KEY"),
            resend_api_base: or(get(env, "RESEND_API_BASE"), "https://api.resend.com")
                .trim_end_matches('/')
                .to_string(),
            email_from: or(
                get(env, "EMAIL_FROM"),
                "WatchLLM <notifications@watchllm.dev>",
            ),
        }
    }
}

#[event(fetch)]
async fn fetch(req: Request, env: Env, _ctx: Context) -> Result<Response> {
    console_error_panic_hook::set_once();
    let cfg = Cfg::from_env(&env);
    match route(req, &cfg).await {
        Ok(r) => Ok(r),
        Err(e) => {
            worker::console_error!("dashboard error: {e}");
            html(
                500,
                "<!DOCTYPE html><h1>Something went wrong</h1><p>Please try again.</p>".into(),
            )
        }
    }
}

fn html(status: u16, body: String) -> Result<Response> {
    let h = Headers::new();
    h.set("content-type", "text/html; charset=utf-8")?;
    h.set("cache-control", "no-store")?;
    h.set("x-frame-options", "DENY")?;
    // No scripts at all; forms post here (and may be redirected on to Stripe).
    h.set(
        "content-security-policy",
        "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; \
         form-action 'self' https://checkout.stripe.com https://billing.stripe.com; \
         frame-ancestors 'none'; base-uri 'none'",
    )?;
    h.set("referrer-policy", "same-origin")?;
    Ok(Response::ok(body)?.with_status(status).with_headers(h))
}

fn redirect(to: &str) -> Result<Response> {
    let h = Headers::new();
    h.set("location", to)?;
    Ok(Response::empty()?.with_status(303).with_headers(h))
}

fn now_ms() -> u64 {
    worker::Date::now().as_millis()
}

fn random_bytes<const N: usize>() -> [u8; N] {
    let mut b = [0u8; N];
    getrandom::getrandom(&mut b).expect("crypto.getRandomValues is available in Workers");
    b
}

fn is_uuid(s: &str) -> bool {
    s.len() == 36 && s.chars().all(|c| c.is_ascii_hexdigit() || c == '-')
}

fn field(form: &FormData, name: &str) -> String {
    match form.get(name) {
        Some(FormEntry::Field(v)) => v.trim().to_string(),
        _ => String::new(),
    }
}

fn cookie(req: &Request, name: &str) -> Option<String> {
    let cookies = req.headers().get("cookie").ok().flatten()?;
    cookies.split(';').find_map(|c| {
        c.trim()
            .strip_prefix(name)
            .and_then(|v| v.strip_prefix('='))
            .filter(|v| !v.is_empty())
            .map(str::to_string)
    })
}

fn query_param(req: &Request, name: &str) -> Option<String> {
    req.url()
        .ok()?
        .query_pairs()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.to_string())
}

fn session_token(req: &Request) -> Option<String> {
    cookie(req, SESSION_COOKIE)
}

fn current_user(req: &Request, cfg: &Cfg) -> Option<jwt::User> {
    let token = session_token(req)?;
    jwt::verify(&token, &cfg.jwt_secret, now_ms() / 1000).ok()
}

async fn send(
    url: &str,
    method: Method,
    headers: &[(&str, &str)],
    body: Option<String>,
) -> Result<(u16, Value)> {
    let h = Headers::new();
    for (k, v) in headers {
        h.set(k, v)?;
    }
    let mut init = RequestInit::new();
    init.with_method(method).with_headers(h);
    if let Some(b) = body {
        init.with_body(Some(b.into()));
    }
    // Every outside call has a deadline, so a hung dependency fails the page instead of holding it.
    let call = async move {
        let mut resp = worker::Fetch::Request(Request::new_with_init(url, &init)?)
            .send()
            .await?;
        let status = resp.status_code();
        let text = resp.text().await.unwrap_or_default();
        Ok((status, serde_json::from_str(&text).unwrap_or(Value::Null)))
    };
    let deadline = worker::Delay::from(std::time::Duration::from_millis(CALL_TIMEOUT_MS));
    match futures::future::select(Box::pin(call), Box::pin(deadline)).await {
        futures::future::Either::Left((result, _)) => result,
        futures::future::Either::Right(_) => Err(worker::Error::RustError(format!(
            "{url}: no answer within {CALL_TIMEOUT_MS} ms"
        ))),
    }
}

/// Supabase REST as the service role, returning the status too (e.g. 409 on a duplicate).
async fn rest_status(
    cfg: &Cfg,
    method: Method,
    path: &str,
    body: Option<Value>,
) -> Result<(u16, Value)> {
    let auth = format!("Bearer {}", cfg.service_key);
    let url = format!("{}/rest/v1/{path}", cfg.supabase_url);
    send(
        &url,
        method,
        &[
            ("apikey", &cfg.service_key),
            ("authorization", &auth),
            ("content-type", "application/json"),
            ("prefer", "return=representation"),
        ],
        body.map(|b| b.to_string()),
    )
    .await
}

/// Supabase REST as the service role (the dashboard's server side); non-2xx is an error.
async fn rest(cfg: &Cfg, method: Method, path: &str, body: Option<Value>) -> Result<Value> {
    let (status, value) = rest_status(cfg, method, path, body).await?;
    if status >= 300 {
        return Err(worker::Error::RustError(format!(
            "supabase {path}: HTTP {status} {value}"
        )));
    }
    Ok(value)
}

fn rows(v: Value) -> Vec<Value> {
    match v {
        Value::Array(a) => a,
        _ => Vec::new(),
    }
}

fn s(v: &Value, k: &str) -> String {
    match v.get(k) {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Null) | None => String::new(),
        Some(other) => other.to_string(),
    }
}

fn n(v: &Value, k: &str) -> f64 {
    match v.get(k) {
        Some(Value::Number(x)) => x.as_f64().unwrap_or(0.0),
        Some(Value::String(x)) => x.parse().unwrap_or(0.0),
        _ => 0.0,
    }
}

/// A Supabase Auth session as the dashboard keeps it (two HttpOnly cookies).
struct Session {
    access_token: String,
    refresh_token: String,
    expires_in: u64,
}

impl Session {
    fn from_json(v: &Value) -> Option<Session> {
        Some(Session {
            access_token: v.get("access_token")?.as_str()?.to_string(),
            refresh_token: v
                .get("refresh_token")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string(),
            expires_in: v.get("expires_in").and_then(Value::as_u64).unwrap_or(3600),
        })
    }

    /// Adds the Set-Cookie headers for this session to a response.
    fn set_cookies(&self, resp: &mut Response, secure: bool) -> Result<()> {
        let secure = if secure { "; Secure" } else { "" };
        let h = resp.headers_mut();
        h.append(
            "set-cookie",
            &format!(
                "{SESSION_COOKIE}={}; Path=/; HttpOnly; SameSite=Lax; Max-Age={}{secure}",
                self.access_token, self.expires_in
            ),
        )?;
        h.append("set-cookie", &format!("{REFRESH_COOKIE}={}; Path=/; HttpOnly; SameSite=Lax; Max-Age={REFRESH_MAX_AGE_SECS}{secure}", self.refresh_token))?;
        Ok(())
    }
}

/// Exchanges the refresh cookie for a new session when the access token has expired.
async fn refresh_session(req: &Request, cfg: &Cfg) -> Result<Option<(jwt::User, Session)>> {
    let Some(refresh) = cookie(req, REFRESH_COOKIE) else {
        return Ok(None);
    };
    let (status, v) = send(
        &format!(
            "{}/auth/v1/token?grant_type=refresh_token",
            cfg.supabase_url
        ),
        Method::Post,
        &[
            ("apikey", &cfg.anon_key),
            ("content-type", "application/json"),
        ],
        Some(json!({ "refresh_token": refresh }).to_string()),
    )
    .await?;
    let session = Session::from_json(&v).filter(|_| status == 200);
    Ok(session.and_then(|s| {
        let user = jwt::verify(&s.access_token, &cfg.jwt_secret, now_ms() / 1000).ok()?;
        Some((user, s))
    }))
}

/// Signs in or up through Supabase Auth; returns the session or a message to show.
async fn authenticate(
    cfg: &Cfg,
    email: &str,
    password: &str,
    signup: bool,
) -> Result<std::result::Result<Session, String>> {
    let path = if signup {
        "signup"
    } else {
        "token?grant_type=password"
    };
    let url = format!("{}/auth/v1/{path}", cfg.supabase_url);
    let (status, v) = send(
        &url,
        Method::Post,
        &[
            ("apikey", &cfg.anon_key),
            ("content-type", "application/json"),
        ],
        Some(json!({"email": email, "password": password}).to_string()),
    )
    .await?;
    if status == 200 {
        if let Some(session) = Session::from_json(&v) {
            return Ok(Ok(session));
        }
        return Ok(Err(
            "Check your email to confirm your account, then sign in.".into(),
        ));
    }
    let msg = ["msg", "error_description", "message"]
        .iter()
        .find_map(|k| v.get(*k).and_then(Value::as_str))
        .unwrap_or("Sign-in failed.")
        .to_string();
    Ok(Err(msg))
}

async fn route(mut req: Request, cfg: &Cfg) -> Result<Response> {
    let url = req.url()?;
    let path = url.path().trim_end_matches('/').to_string();
    let method = req.method();
    let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    let secure = url.scheme() == "https";

    match (&method, segments.as_slice()) {
        (Method::Get, ["health"]) => return Response::ok("ok"),
        (Method::Get, ["docs"]) => {
            let user = current_user(&req, cfg);
            return html(
                200,
                views::docs_page(user.as_ref().map(|u| u.email.as_str()), &cfg.proxy_url),
            );
        }
        (Method::Get, ["login"]) => return html(200, views::login_page(None)),
        (Method::Post, ["login"]) => {
            let form = req.form_data().await?;
            let (email, password) = (field(&form, "email"), field(&form, "password"));
            if email.is_empty() || password.is_empty() {
                return html(
                    400,
                    views::login_page(Some("Enter your email and a password.".into())),
                );
            }
            return match authenticate(cfg, &email, &password, field(&form, "action") == "signup")
                .await?
            {
                Ok(session) => {
                    let mut r = redirect("/projects")?;
                    session.set_cookies(&mut r, secure)?;
                    Ok(r)
                }
                Err(msg) => html(400, views::login_page(Some(msg))),
            };
        }
        (Method::Post, ["stripe", "webhook"]) => return stripe_webhook(&mut req, cfg).await,
        (Method::Post, ["logout"]) => {
            if let Some(token) = session_token(&req) {
                let auth = format!("Bearer {token}");
                let _ = send(
                    &format!("{}/auth/v1/logout", cfg.supabase_url),
                    Method::Post,
                    &[("apikey", &cfg.anon_key), ("authorization", &auth)],
                    None,
                )
                .await;
            }
            let mut r = redirect("/login")?;
            for name in [SESSION_COOKIE, REFRESH_COOKIE] {
                r.headers_mut().append(
                    "set-cookie",
                    &format!("{name}=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0"),
                )?;
            }
            return Ok(r);
        }
        _ => {}
    }

    // Everything below needs a signed-in user; an expired access token is renewed with the
    // refresh cookie (and the new cookies sent with whatever the page answers).
    let (user, renewed) = match current_user(&req, cfg) {
        Some(user) => (user, None),
        None => match refresh_session(&req, cfg).await? {
            Some((user, session)) => (user, Some(session)),
            None => return redirect("/login"),
        },
    };
    let mut resp = signed_in(&mut req, cfg, &user, &method, &segments).await?;
    if let Some(session) = renewed {
        session.set_cookies(&mut resp, secure)?;
    }
    Ok(resp)
}

async fn signed_in(
    req: &mut Request,
    cfg: &Cfg,
    user: &jwt::User,
    method: &Method,
    segments: &[&str],
) -> Result<Response> {
    let uid = user.id.clone();
    match (method, segments) {
        (Method::Get, []) => redirect("/projects"),
        (Method::Get, ["projects"]) => {
            let list = rows(
                rest(
                    cfg,
                    Method::Get,
                    &format!("projects?owner_id=eq.{uid}&select=id,name,plan&order=created_at"),
                    None,
                )
                .await?,
            );
            let projects = list
                .iter()
                .map(|p| ProjectView {
                    id: s(p, "id"),
                    name: s(p, "name"),
                    plan: s(p, "plan"),
                    ..Default::default()
                })
                .collect();
            html(200, views::projects_page(&user.email, projects, None))
        }
        (Method::Post, ["projects"]) => {
            let form = req.form_data().await?;
            let name = field(&form, "name");
            if name.is_empty() || name.chars().count() > 100 {
                return html(
                    400,
                    views::projects_page(
                        &user.email,
                        Vec::new(),
                        Some("A project needs a name of 1 to 100 characters.".into()),
                    ),
                );
            }
            let created = rows(
                rest(
                    cfg,
                    Method::Post,
                    "projects",
                    Some(json!({"name": name, "owner_id": uid, "plan": "free"})),
                )
                .await?,
            );
            let id = created.first().map(|p| s(p, "id")).unwrap_or_default();
            redirect(&format!("/projects/{id}"))
        }
        (_, ["projects", pid, rest_path @ ..]) if is_uuid(pid) => {
            let pid = pid.to_string();
            let owned = rows(rest(cfg, Method::Get, &owned_project(&pid, &uid), None).await?);
            let Some(project) = owned.into_iter().next() else {
                return html(404, "<!DOCTYPE html><h1>Not found</h1><p><a href=\"/projects\">Your projects</a></p>".into());
            };
            let rest_path: Vec<String> = rest_path.iter().map(|s| s.to_string()).collect();
            project_action(req, cfg, user, &project, &pid, method, &rest_path).await
        }
        _ => html(404, "<!DOCTYPE html><h1>Not found</h1>".into()),
    }
}

async fn project_action(
    req: &mut Request,
    cfg: &Cfg,
    user: &jwt::User,
    project: &Value,
    pid: &str,
    method: &Method,
    path: &[String],
) -> Result<Response> {
    let back = |notice: &str| redirect(&format!("/projects/{pid}?notice={notice}"));
    let path: Vec<&str> = path.iter().map(String::as_str).collect();
    match (method, path.as_slice()) {
        (Method::Get, []) => {
            let notice = query_param(req, "notice").and_then(|n| match n.as_str() {
                "renamed" => Some("Project renamed."),
                "key-created" => Some("Key created."),
                "revoked" => Some("Key revoked. It stops working within a minute."),
                "provider-saved" => Some("Provider key saved."),
                "provider-removed" => Some("Provider key removed."),
                "settings-saved" => Some("Cache settings saved."),
                "checkout-complete" => {
                    Some("Thanks! Your plan changes as soon as Stripe confirms the payment.")
                }
                "checkout-cancelled" => Some("Checkout cancelled; your plan is unchanged."),
                _ => None,
            });
            let new_key = cookie(req, NEW_KEY_COOKIE).filter(|k| api_key::parse_key(k).is_ok());
            let shown = new_key.is_some();
            let state = PageState {
                new_key,
                notice: notice.map(str::to_string),
                error: None,
                model: query_param(req, "model").filter(|m| !m.is_empty()),
            };
            let mut resp = render_project(cfg, user, project, pid, state).await?;
            if shown {
                resp.headers_mut().set("set-cookie", &format!("{NEW_KEY_COOKIE}=; Path=/projects/{pid}; HttpOnly; SameSite=Strict; Max-Age=0"))?;
            }
            Ok(resp)
        }
        (Method::Post, ["rename"]) => {
            let name = field(&req.form_data().await?, "name");
            if name.is_empty() || name.chars().count() > 100 {
                return project_error(
                    cfg,
                    user,
                    project,
                    pid,
                    "A project needs a name of 1 to 100 characters.",
                )
                .await;
            }
            rest(
                cfg,
                Method::Patch,
                &owned_project(pid, &user.id),
                Some(json!({"name": name})),
            )
            .await?;
            back("renamed")
        }
        (Method::Post, ["delete"]) => {
            if field(&req.form_data().await?, "confirm") != "yes" {
                return project_error(
                    cfg,
                    user,
                    project,
                    pid,
                    "Tick the box to confirm deleting the project.",
                )
                .await;
            }
            rest(cfg, Method::Delete, &owned_project(pid, &user.id), None).await?;
            redirect("/projects")
        }
        (Method::Post, ["keys"]) => {
            let form = req.form_data().await?;
            let kind = if field(&form, "kind") == "test" {
                KeyKind::Test
            } else {
                KeyKind::Live
            };
            let name: String = field(&form, "name").chars().take(100).collect();
            let k = api_key::generate(kind, &random_bytes::<32>());
            rest(cfg, Method::Post, "api_keys", Some(json!({"project_id": pid, "key_hash": k.hash, "key_prefix": k.prefix, "kind": kind.as_str(), "name": if name.is_empty() { Value::Null } else { json!(name) }}))).await?;
            let mut resp = back("key-created")?;
            let secure = if req.url()?.scheme() == "https" {
                "; Secure"
            } else {
                ""
            };
            resp.headers_mut().set("set-cookie", &format!("{NEW_KEY_COOKIE}={}; Path=/projects/{pid}; HttpOnly; SameSite=Strict; Max-Age=120{secure}", k.key))?;
            Ok(resp)
        }
        (Method::Post, ["keys", kid, "revoke"]) if is_uuid(kid) => {
            let at = watchllm_proxy::observability::iso8601(now_ms());
            rest(
                cfg,
                Method::Patch,
                &format!("api_keys?id=eq.{kid}&project_id=eq.{pid}"),
                Some(json!({"revoked": true, "revoked_at": at})),
            )
            .await?;
            back("revoked")
        }
        (Method::Post, ["provider-keys"]) => {
            let form = req.form_data().await?;
            let (provider, key) = (field(&form, "provider"), field(&form, "key"));
            if !PROVIDERS.contains(&provider.as_str()) || key.len() < 8 || key.len() > 512 {
                return project_error(
                    cfg,
                    user,
                    project,
                    pid,
                    "Choose a provider and paste its API key.",
                )
                .await;
            }
            let encrypted = secrets::encrypt(&cfg.encryption_key, random_bytes::<12>(), &key)
                .map_err(|e| worker::Error::RustError(format!("encryption unavailable: {e:?}")))?;
            rest(cfg, Method::Delete, &provider_key(pid, &provider), None).await?;
            rest(cfg, Method::Post, "provider_keys", Some(json!({"project_id": pid, "provider": provider, "encrypted_key": encrypted, "key_hint": secrets::mask(&key)}))).await?;
            back("provider-saved")
        }
        (Method::Post, ["provider-keys", provider, "delete"]) if PROVIDERS.contains(provider) => {
            rest(cfg, Method::Delete, &provider_key(pid, provider), None).await?;
            back("provider-removed")
        }
        (Method::Post, ["settings"]) => {
            let form = req.form_data().await?;
            let threshold: Option<f64> = field(&form, "threshold")
                .parse()
                .ok()
                .filter(|t| (0.5..=1.0).contains(t));
            let ttl: Option<u64> = field(&form, "ttl")
                .parse()
                .ok()
                .filter(|t| (60..=2_592_000).contains(t));
            let (Some(threshold), Some(ttl)) = (threshold, ttl) else {
                return project_error(
                    cfg,
                    user,
                    project,
                    pid,
                    "Threshold must be 0.5 to 1 and TTL 60 s to 30 days.",
                )
                .await;
            };
            let semantic = field(&form, "semantic") == "on";
            let embedder = if field(&form, "embedder") == "openai" {
                "openai"
            } else {
                "local"
            };
            rest(cfg, Method::Patch, &owned_project(pid, &user.id), Some(json!({"semantic_cache_enabled": semantic, "similarity_threshold": threshold, "cache_ttl_secs": ttl, "semantic_embedder": embedder}))).await?;
            back("settings-saved")
        }
        (Method::Post, ["billing", "checkout"]) => {
            let plan = field(&req.form_data().await?, "plan");
            let price = cfg
                .stripe_prices
                .iter()
                .find(|(_, p)| *p == plan)
                .map(|(price, _)| price.clone());
            let (Some(price), false) = (price, cfg.stripe_secret_key.is_empty()) else {
                return project_error(
                    cfg,
                    user,
                    project,
                    pid,
                    "Billing is not available right now.",
                )
                .await;
            };
            let customer = project.get("stripe_customer_id").and_then(Value::as_str);
            let body = stripe::checkout_form(
                pid,
                &plan,
                &price,
                customer,
                &user.email,
                &format!("{}/projects/{pid}", cfg.dashboard_url),
            );
            stripe_redirect(cfg, user, project, pid, "/v1/checkout/sessions", body).await
        }
        (Method::Post, ["billing", "portal"]) => {
            let Some(customer) = project
                .get("stripe_customer_id")
                .and_then(Value::as_str)
                .filter(|_| !cfg.stripe_secret_key.is_empty())
            else {
                return project_error(cfg, user, project, pid, "No subscription to manage yet.")
                    .await;
            };
            let body =
                stripe::portal_form(customer, &format!("{}/projects/{pid}", cfg.dashboard_url));
            stripe_redirect(cfg, user, project, pid, "/v1/billing_portal/sessions", body).await
        }
        _ => html(404, "<!DOCTYPE html><h1>Not found</h1>".into()),
    }
}

/// Creates a Checkout or Portal session and sends the browser to it.
async fn stripe_redirect(
    cfg: &Cfg,
    user: &jwt::User,
    project: &Value,
    pid: &str,
    path: &str,
    body: String,
) -> Result<Response> {
    let auth = format!("Bearer {}", cfg.stripe_secret_key);
    let (status, v) = send(
        &format!("{}{path}", cfg.stripe_api_base),
        Method::Post,
        &[
            ("authorization", &auth),
            ("content-type", "application/x-www-form-urlencoded"),
        ],
        Some(body),
    )
    .await?;
    match v.get("url").and_then(Value::as_str) {
        Some(url) if status == 200 => redirect(url),
        _ => {
            worker::console_error!("stripe {path}: HTTP {status} {v}");
            project_error(
                cfg,
                user,
                project,
                pid,
                "Stripe could not start the session; please try again.",
            )
            .await
        }
    }
}

fn json_response(status: u16, body: Value) -> Result<Response> {
    Ok(Response::from_json(&body)?.with_status(status))
}

/// Sends one email through Resend; false (and logged) when it could not.
async fn send_email(cfg: &Cfg, email: &Value) -> bool {
    if cfg.resend_api_key.is_empty() {
        worker::console_warn!(
            "RESEND_API_KEY is not set; email not sent: {}",
            email["subject"]
        );
        return false;
    }
    let auth = format!("Bearer {}", cfg.resend_api_key);
    match send(
        &format!("{}/emails", cfg.resend_api_base),
        Method::Post,
        &[
            ("authorization", &auth),
            ("content-type", "application/json"),
        ],
        Some(email.to_string()),
    )
    .await
    {
        Ok((200, _)) => true,
        Ok((status, v)) => {
            worker::console_error!("resend: HTTP {status} {v}");
            false
        }
        Err(e) => {
            worker::console_error!("resend: {e}");
            false
        }
    }
}

/// Stripe webhooks: verified (signature and timestamp tolerance), applied once (events already
/// recorded are acknowledged and skipped; plan changes older than the last applied are ignored).
async fn stripe_webhook(req: &mut Request, cfg: &Cfg) -> Result<Response> {
    if cfg.stripe_webhook_secret.is_empty() {
        return json_response(503, json!({"error": "webhooks are not configured"}));
    }
    let payload = req.bytes().await?;
    let header = req.headers().get("stripe-signature")?;
    if let Err(e) = stripe::verify_signature(
        &payload,
        header.as_deref(),
        &cfg.stripe_webhook_secret,
        now_ms() / 1000,
    ) {
        return json_response(400, json!({"error": e.message()}));
    }
    let Ok(event) = serde_json::from_slice::<Value>(&payload) else {
        return json_response(400, json!({"error": "invalid JSON"}));
    };
    let id = event.get("id").and_then(Value::as_str).unwrap_or_default();
    if id.is_empty() || !id.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        return json_response(400, json!({"error": "invalid event id"}));
    }
    let created = event
        .get("created")
        .and_then(Value::as_u64)
        .unwrap_or(now_ms() / 1000);
    let created_at = watchllm_proxy::observability::iso8601(created * 1000);
    // Claim the event first: its primary key lets exactly one delivery through, concurrent
    // re-deliveries included. If applying it fails, the claim is dropped and Stripe's retry
    // applies it later.
    let claim = json!({"id": id, "type": event["type"], "created": created_at});
    match rest_status(cfg, Method::Post, "stripe_events", Some(claim))
        .await?
        .0
    {
        409 => return json_response(200, json!({"received": true, "duplicate": true})),
        s if s >= 300 => return json_response(503, json!({"error": "could not record the event"})),
        _ => {}
    }
    if let Err(e) = apply_stripe_event(cfg, &event, &created_at).await {
        let _ = rest_status(
            cfg,
            Method::Delete,
            &format!("stripe_events?id=eq.{id}"),
            None,
        )
        .await;
        worker::console_error!("stripe event {id} not applied: {e}");
        return json_response(500, json!({"error": "event not applied; retry"}));
    }
    json_response(200, json!({"received": true}))
}

/// What a verified, newly claimed event does to the database and the owner's inbox.
async fn apply_stripe_event(cfg: &Cfg, event: &Value, created_at: &str) -> Result<()> {
    match stripe::interpret(event, &cfg.stripe_prices) {
        BillingUpdate::Plan {
            project_id,
            customer,
            subscription,
            plan,
            status,
        } => {
            // Absent values are left out (the function defaults them to null).
            let mut args = json!({"p_plan": plan, "p_status": status, "p_event_at": created_at});
            for (k, v) in [
                ("p_project", project_id.filter(|p| is_uuid(p))),
                ("p_customer", customer),
                ("p_subscription", subscription),
            ] {
                if let Some(v) = v {
                    args[k] = json!(v);
                }
            }
            rest(
                cfg,
                Method::Post,
                "rpc/apply_subscription_event",
                Some(args),
            )
            .await?;
        }
        BillingUpdate::PaymentFailed {
            customer,
            amount_due,
            currency,
            invoice_url,
        } => {
            let customer_q: String = form_urlencoded::byte_serialize(customer.as_bytes()).collect();
            let found = rows(
                rest(
                    cfg,
                    Method::Get,
                    &format!("projects?stripe_customer_id=eq.{customer_q}&select=id,name"),
                    None,
                )
                .await?,
            );
            if let Some(p) = found.first() {
                let owner = rest(
                    cfg,
                    Method::Post,
                    "rpc/project_owner_email",
                    Some(json!({"p_project": s(p, "id")})),
                )
                .await?;
                if let Some(to) = owner.as_str() {
                    let email = emails::payment_failed(
                        &cfg.email_from,
                        to,
                        &s(p, "name"),
                        amount_due,
                        &currency,
                        invoice_url.as_deref(),
                        &format!("{}/projects/{}", cfg.dashboard_url, s(p, "id")),
                    );
                    // Resend down: fail, so Stripe delivers the event again and the owner is told.
                    if !cfg.resend_api_key.is_empty() && !send_email(cfg, &email).await {
                        return Err(worker::Error::RustError(
                            "payment-failed email not sent".into(),
                        ));
                    }
                }
            }
        }
        BillingUpdate::Ignore => {}
    }
    Ok(())
}

/// Cron: emails owners whose projects crossed 80% or 100% of their plan this month, once each.
#[event(scheduled)]
async fn scheduled(_event: ScheduledEvent, env: Env, _ctx: ScheduleContext) {
    let cfg = Cfg::from_env(&env);
    match send_usage_alerts(&cfg).await {
        Ok(n) => worker::console_log!("usage alerts sent: {n}"),
        Err(e) => worker::console_error!("usage alerts failed: {e}"),
    }
}

async fn send_usage_alerts(cfg: &Cfg) -> Result<usize> {
    let due = rows(rest(cfg, Method::Post, "rpc/usage_alerts_due", Some(json!({}))).await?);
    let today = chrono::DateTime::from_timestamp_millis(now_ms() as i64)
        .unwrap_or_default()
        .date_naive();
    let month = today.format("%Y-%m-01").to_string();
    let mut sent = 0;
    for a in &due {
        let threshold = n(a, "threshold") as u32;
        let email = emails::usage_alert(
            &cfg.email_from,
            &s(a, "email"),
            &s(a, "project_name"),
            &s(a, "plan"),
            n(a, "requests_this_month") as u64,
            n(a, "monthly_requests") as u64,
            threshold,
            &format!("{}/projects/{}", cfg.dashboard_url, s(a, "project_id")),
        );
        if send_email(cfg, &email).await {
            // The primary key (project, month, threshold) keeps a concurrent run from sending twice.
            let (status, _) = rest_status(cfg, Method::Post, "usage_alerts", Some(json!({"project_id": s(a, "project_id"), "month": month, "threshold": threshold}))).await?;
            if status < 300 {
                sent += 1;
            }
        }
    }
    Ok(sent)
}

/// The REST path of one project, filtered by its owner as well (never by id alone).
fn owned_project(pid: &str, uid: &str) -> String {
    format!("projects?id=eq.{pid}&owner_id=eq.{uid}")
}

/// The REST path of one project's key for one provider.
fn provider_key(pid: &str, provider: &str) -> String {
    format!("provider_keys?project_id=eq.{pid}&provider=eq.{provider}")
}

/// What the project page shows besides the project's own data.
#[derive(Default)]
struct PageState {
    /// A key just created, shown this once.
    new_key: Option<String>,
    notice: Option<String>,
    error: Option<String>,
    /// Narrows the charts to one model (the per-model table always shows all).
    model: Option<String>,
}

/// The project page with an error message (a form that could not be applied).
async fn project_error(
    cfg: &Cfg,
    user: &jwt::User,
    project: &Value,
    pid: &str,
    error: &str,
) -> Result<Response> {
    let state = PageState {
        error: Some(error.to_string()),
        ..Default::default()
    };
    render_project(cfg, user, project, pid, state).await
}

async fn render_project(
    cfg: &Cfg,
    user: &jwt::User,
    project: &Value,
    pid: &str,
    state: PageState,
) -> Result<Response> {
    let PageState {
        new_key,
        notice,
        error,
        model,
    } = state;
    let keys = rows(rest(cfg, Method::Get, &format!("api_keys?project_id=eq.{pid}&select=id,key_prefix,kind,name,revoked,created_at&order=created_at"), None).await?);
    let provider_keys = rows(rest(cfg, Method::Get, &format!("provider_keys?project_id=eq.{pid}&select=provider,key_hint,updated_at&order=provider"), None).await?);
    let today = chrono::DateTime::from_timestamp_millis(now_ms() as i64)
        .unwrap_or_default()
        .date_naive();
    let from = today - chrono::Days::new(13);
    let usage = rows(
        rest(
            cfg,
            Method::Post,
            "rpc/usage_daily",
            Some(json!({"p_project": pid, "p_from": from.to_string(), "p_to": today.to_string()})),
        )
        .await?,
    );
    let plan = rows(
        rest(
            cfg,
            Method::Post,
            "rpc/plan_usage",
            Some(json!({"p_project": pid})),
        )
        .await?,
    );
    let plan = plan.first().cloned().unwrap_or(Value::Null);
    let date = |v: &Value, k: &str| s(v, k).chars().take(10).collect::<String>();
    let page = ProjectPage {
        email: user.email.clone(),
        project: ProjectView {
            id: pid.to_string(),
            name: s(project, "name"),
            plan: s(project, "plan"),
            semantic_cache_enabled: project
                .get("semantic_cache_enabled")
                .and_then(Value::as_bool)
                .unwrap_or(true),
            similarity_threshold: (n(project, "similarity_threshold") * 1000.0).round() / 1000.0,
            cache_ttl_secs: n(project, "cache_ttl_secs") as u64,
            semantic_embedder: s(project, "semantic_embedder"),
            subscription_status: s(project, "subscription_status"),
            has_billing_customer: !s(project, "stripe_customer_id").is_empty(),
        },
        keys: keys
            .iter()
            .map(|k| KeyView {
                id: s(k, "id"),
                prefix: s(k, "key_prefix"),
                kind: s(k, "kind"),
                name: s(k, "name"),
                revoked: k.get("revoked").and_then(Value::as_bool).unwrap_or(false),
                created_at: date(k, "created_at"),
            })
            .collect(),
        provider_keys: provider_keys
            .iter()
            .map(|k| ProviderKeyView {
                provider: s(k, "provider"),
                hint: s(k, "key_hint"),
                updated_at: date(k, "updated_at"),
            })
            .collect(),
        new_key,
        notice,
        error,
        days: charts::by_day(
            &usage
                .iter()
                .filter(|r| model.as_deref().is_none_or(|m| r["model"] == m))
                .cloned()
                .collect::<Vec<_>>(),
            from,
            today,
        ),
        models: charts::by_model(&usage),
        model_filter: model,
        plan_usage: PlanUsage {
            plan: s(&plan, "plan"),
            monthly_requests: n(&plan, "monthly_requests") as u64,
            requests_this_month: n(&plan, "requests_this_month") as u64,
            percent_used: n(&plan, "percent_used"),
        },
        proxy_url: cfg.proxy_url.clone(),
    };
    html(200, views::project_page(page))
}
