//! Building the dashboard's responses: HTML pages with the security headers every page carries
//! (the CSP from `crate::csp`, matching what the page's chrome includes), redirects
//! (Post/Redirect/Get), JSON for the webhook, and the page for a [`DashError`].

use crate::csp;
use crate::error::DashError;
use crate::views::Chrome;
use worker::{Headers, Response, Result};

/// Headers every HTML answer carries.
pub fn html_headers(chrome: &Chrome) -> Result<Headers> {
    let h = Headers::new();
    h.set("content-type", "text/html; charset=utf-8")?;
    h.set("cache-control", "no-store")?;
    h.set("x-frame-options", "DENY")?;
    h.set(
        "content-security-policy",
        &csp::policy(chrome.analytics.is_some()),
    )?;
    h.set("referrer-policy", "same-origin")?;
    Ok(h)
}

pub fn html(status: u16, body: String, chrome: &Chrome) -> Result<Response> {
    Ok(Response::ok(body)?
        .with_status(status)
        .with_headers(html_headers(chrome)?))
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
pub fn error(e: &DashError, chrome: &Chrome) -> Result<Response> {
    html(e.status(), e.page(chrome), chrome)
}

/// Adds `Set-Cookie` values to a response.
pub fn with_cookies(mut resp: Response, cookies: &[String]) -> Result<Response> {
    for c in cookies {
        resp.headers_mut().append("set-cookie", c)?;
    }
    Ok(resp)
}
