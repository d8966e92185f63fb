//! Building the dashboard's responses: HTML pages with the security headers every page carries,
//! redirects (Post/Redirect/Get), JSON for the webhook, and the page for a [`DashError`].

use crate::error::DashError;
use worker::{Headers, Response, Result};

/// No scripts at all; forms post here (and may be redirected on to Stripe).
const CSP: &str = "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; \
     form-action 'self' https://checkout.stripe.com https://billing.stripe.com; \
     frame-ancestors 'none'; base-uri 'none'";

pub fn html(status: u16, body: String) -> Result<Response> {
    let h = Headers::new();
    h.set("content-type", "text/html; charset=utf-8")?;
    h.set("cache-control", "no-store")?;
    h.set("x-frame-options", "DENY")?;
    h.set("content-security-policy", CSP)?;
    h.set("referrer-policy", "same-origin")?;
    Ok(Response::ok(body)?.with_status(status).with_headers(h))
}

pub fn redirect(to: &str) -> Result<Response> {
    let h = Headers::new();
    h.set("location", to)?;
    Ok(Response::empty()?.with_status(303).with_headers(h))
}

pub fn json(status: u16, body: serde_json::Value) -> Result<Response> {
    Ok(Response::from_json(&body)?.with_status(status))
}

/// The error's own page and status.
pub fn error(e: &DashError, email: Option<&str>) -> Result<Response> {
    html(e.status(), e.page(email))
}

/// Adds `Set-Cookie` values to a response.
pub fn with_cookies(mut resp: Response, cookies: &[String]) -> Result<Response> {
    for c in cookies {
        resp.headers_mut().append("set-cookie", c)?;
    }
    Ok(resp)
}
