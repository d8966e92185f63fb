//! Who is signed in: Supabase Auth (GoTrue) sign-up, sign-in, refresh and sign-out, and the
//! session cookies that carry its tokens. Every request verifies the access token itself (HS256
//! with the project's JWT secret), so no page trusts a cookie it has not checked.

use super::config::Config;
use super::respond::{html, redirect, with_cookies};
use crate::cookies::{self, SetCookie};
use crate::error::DashError;
use crate::forms::{self, Fields};
use crate::jwt::{self, User};
use crate::rows::{AuthErrorBody, AuthSession};
use crate::views;
use serde_json::json;
use worker::{Request, Response};
use worker_util::http::{send, Outbound};
use worker_util::now_ms;

const SERVICE: &str = "supabase auth";

pub fn cookie(req: &Request, name: &str) -> Option<String> {
    cookies::read(req.headers().get("cookie").ok().flatten().as_deref(), name)
}

/// The user whose valid access token the request carries.
pub fn current_user(req: &Request, cfg: &Config) -> Option<User> {
    let token = cookie(req, cookies::SESSION)?;
    jwt::verify(&token, &cfg.jwt_secret, now_ms() / 1000).ok()
}

/// The `Set-Cookie` values for a new session.
pub fn session_cookies(s: &AuthSession, secure: bool) -> Vec<String> {
    cookies::session(&s.access_token, s.expires_in, &s.refresh_token, secure)
        .iter()
        .map(SetCookie::header)
        .collect()
}

/// A POST to Supabase Auth with the anon key.
async fn auth_call(
    cfg: &Config,
    path: &str,
    body: serde_json::Value,
) -> Result<worker_util::Reply, DashError> {
    let out = Outbound::post(format!("{}/auth/v1/{path}", cfg.supabase_url))
        .header("apikey", &cfg.anon_key)
        .json(&body);
    send(&out)
        .await
        .map_err(|e| DashError::from_http(SERVICE, e))
}

/// Exchanges the refresh cookie for a new session when the access token has expired.
pub async fn refresh(
    req: &Request,
    cfg: &Config,
) -> Result<Option<(User, AuthSession)>, DashError> {
    let Some(token) = cookie(req, cookies::REFRESH) else {
        return Ok(None);
    };
    let reply = auth_call(
        cfg,
        "token?grant_type=refresh_token",
        json!({ "refresh_token": token }),
    )
    .await?;
    let session = reply
        .json::<AuthSession>()
        .ok()
        .filter(|_| reply.status == 200);
    Ok(session.and_then(|s| {
        let user = jwt::verify(&s.access_token, &cfg.jwt_secret, now_ms() / 1000).ok()?;
        Some((user, s))
    }))
}

/// `POST /login`: signs in or up; the session cookies on success, the form again with Supabase
/// Auth's message otherwise.
pub async fn login(req: &mut Request, cfg: &Config, secure: bool) -> Result<Response, DashError> {
    let form = match forms::login(&Fields::parse(&req.bytes().await?)) {
        Ok(form) => form,
        Err(e) => return login_again(cfg, e.to_string()),
    };
    let path = if form.signup {
        "signup"
    } else {
        "token?grant_type=password"
    };
    let reply = auth_call(
        cfg,
        path,
        json!({"email": form.email, "password": form.password}),
    )
    .await?;
    let message = if reply.status == 200 {
        match reply.json::<AuthSession>() {
            Ok(session) => {
                return Ok(with_cookies(
                    redirect("/projects")?,
                    &session_cookies(&session, secure),
                )?);
            }
            Err(_) => "Check your email to confirm your account, then sign in.".to_string(),
        }
    } else {
        reply
            .json::<AuthErrorBody>()
            .unwrap_or_default()
            .message()
            .to_string()
    };
    login_again(cfg, message)
}

/// The sign-in form again, with what went wrong.
fn login_again(cfg: &Config, message: String) -> Result<Response, DashError> {
    let chrome = cfg.chrome(None);
    Ok(html(
        400,
        views::login_page(&chrome, Some(message)),
        &chrome,
    )?)
}

/// `POST /logout`: ends the session at Supabase Auth (best effort) and clears both cookies.
pub async fn logout(req: &Request, cfg: &Config) -> Result<Response, DashError> {
    if let Some(token) = cookie(req, cookies::SESSION) {
        let out = Outbound::post(format!("{}/auth/v1/logout", cfg.supabase_url))
            .header("apikey", &cfg.anon_key)
            .bearer(&token);
        if let Err(e) = send(&out).await {
            worker::console_warn!("logout: {e}");
        }
    }
    let cleared: Vec<String> = cookies::session("", 0, "", false)
        .iter()
        .map(SetCookie::cleared)
        .collect();
    Ok(with_cookies(redirect("/login")?, &cleared)?)
}
