//! The dashboard's pages as Leptos views, rendered to HTML on the server. Every action is a plain
//! HTML form posting back to the Worker, so pages work without client-side code.
//!
//! Accessibility is part of the layout: a skip link, landmarks, a visible focus outline on every
//! control (`style.css`), labelled form fields, and charts with a text alternative. The browser
//! tests run axe-core's WCAG 2 A/AA rules over every page they visit.

mod docs;
mod project;
mod requests;

pub use docs::docs_page;
pub use project::{project_page, usage_fragment, ProjectPage, UsageView};
pub use requests::{requests_page, RequestsPage};

use crate::rows::ProjectRow;
use leptos::prelude::*;

const CSS: &str = include_str!("style.css");
/// The project page's live refresh (allowed by the CSP through its hash, see `crate::csp`).
pub const LIVE_SCRIPT: &str = include_str!("live.js");
pub const SIMPLE_ANALYTICS_SCRIPT: &str = "https://scripts.simpleanalyticscdn.com/latest.js";
pub const SIMPLE_ANALYTICS_PIXEL: &str = "https://queue.simpleanalyticscdn.com/noscript.gif";

/// What every page around its content depends on: who is signed in, whether page analytics are
/// on (never on a page that shows a secret), and whether the live refresh script is included.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Chrome {
    pub email: Option<String>,
    /// Simple Analytics' hostname when analytics are on for this page.
    pub analytics: Option<String>,
    pub live: bool,
}

impl Chrome {
    /// This page shows a secret (a new key): no third-party script or pixel on it.
    pub fn without_analytics(mut self) -> Chrome {
        self.analytics = None;
        self
    }
}

/// Simple Analytics (no cookies): the script, and its pixel for browsers without JavaScript.
fn analytics_tags(hostname: &str) -> String {
    let host = escape(hostname);
    let pixel_host: String = form_urlencoded::byte_serialize(hostname.as_bytes()).collect();
    format!(
        "<script async src=\"{SIMPLE_ANALYTICS_SCRIPT}\" data-hostname=\"{host}\"></script>\
         <noscript><img src=\"{SIMPLE_ANALYTICS_PIXEL}?hostname={pixel_host}\" alt=\"\" referrerpolicy=\"no-referrer-when-downgrade\"></noscript>"
    )
}

/// A whole HTML document around a rendered body.
fn document(title: &str, chrome: &Chrome, body: AnyView) -> String {
    let email = chrome.email.clone();
    let header = view! {
        <a class="skip" href="#main">"Skip to content"</a>
        <header>
            <strong>"WatchLLM"</strong>
            <nav aria-label="Main">
                <a href="/projects">"Projects"</a>" "
                <a href="/docs">"Docs"</a>
            </nav>
            <span class="grow"></span>
            {email.map(|e| view! {
                <span id="user-email">{e}</span>
                <form class="inline" method="post" action="/logout"><button type="submit">"Sign out"</button></form>
            })}
        </header>
        <main id="main" tabindex="-1">{body}</main>
    }
    .to_html();
    let live = if chrome.live {
        format!("<script>{LIVE_SCRIPT}</script>")
    } else {
        String::new()
    };
    let analytics = chrome
        .analytics
        .as_deref()
        .map(analytics_tags)
        .unwrap_or_default();
    format!(
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width,initial-scale=1\"><title>{} · WatchLLM</title><style>{CSS}</style></head><body>{header}{live}{analytics}</body></html>",
        escape(title)
    )
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn messages(notice: Option<String>, error: Option<String>) -> impl IntoView {
    view! {
        {notice.map(|n| view! { <p class="notice" role="status">{n}</p> })}
        {error.map(|e| view! { <p class="error" role="alert">{e}</p> })}
    }
}

pub fn login_page(chrome: &Chrome, error: Option<String>) -> String {
    let body = view! {
        <section>
            <h1>"Sign in to WatchLLM"</h1>
            {messages(None, error)}
            <form method="post" action="/login">
                <label for="email">"Email"</label>
                <input id="email" name="email" type="email" required=true autocomplete="email"/>
                <label for="password">"Password"</label>
                <input id="password" name="password" type="password" required=true minlength="6" autocomplete="current-password"/>
                <button type="submit" name="action" value="signin">"Sign in"</button>
                <button type="submit" name="action" value="signup">"Create account"</button>
            </form>
        </section>
    }
    .into_any();
    document("Sign in", chrome, body)
}

pub fn projects_page(chrome: &Chrome, projects: Vec<ProjectRow>, error: Option<String>) -> String {
    let empty = projects.is_empty();
    let body = view! {
        <h1>"Projects"</h1>
        {messages(None, error)}
        <section>
            {if empty { Some(view! { <p>"No projects yet. Create one to get an API key."</p> }) } else { None }}
            <ul id="projects">
                {projects.into_iter().map(|p| view! {
                    <li><a href=format!("/projects/{}", p.id)>{p.name}</a>" · "{p.plan}</li>
                }).collect_view()}
            </ul>
            <form method="post" action="/projects">
                <label for="name">"New project"</label>
                <input id="name" name="name" required=true maxlength="100" placeholder="My app"/>
                <button type="submit">"Create project"</button>
            </form>
        </section>
    }
    .into_any();
    document("Projects", chrome, body)
}

/// The page for an error (see `crate::error::DashError::page`): what happened and where to go.
pub fn error_page(status: u16, title: &str, message: &str, chrome: &Chrome) -> String {
    let (title_text, message) = (title.to_string(), message.to_string());
    let body = view! {
        <section id="error" data-status=status>
            <h1>{title_text}</h1>
            <p>{message}</p>
            <p><a href="/projects">"Your projects"</a>" · "<a href="/docs">"Docs"</a></p>
        </section>
    }
    .into_any();
    document(title, chrome, body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn login_page_has_both_actions_and_escapes_errors() {
        let html = login_page(&Chrome::default(), Some("bad <b>".into()));
        assert!(html.starts_with("<!DOCTYPE html>"));
        assert!(html.contains(r#"value="signin""#) && html.contains(r#"value="signup""#));
        assert!(html.contains("bad &lt;b&gt;") && !html.contains("bad <b>"));
    }

    #[test]
    fn every_page_has_a_skip_link_landmarks_and_a_focus_style() {
        let chrome = Chrome {
            email: Some("a@b.c".into()),
            ..Default::default()
        };
        let html = projects_page(&chrome, Vec::new(), None);
        assert!(html.contains(r##"<a href="#main" class="skip">"##));
        assert!(html.contains(r#"<main id="main""#) && html.contains(r#"<nav aria-label="Main">"#));
        assert!(html.contains(":focus-visible{outline:3px solid"));
        assert!(!html.contains("<script"), "no script unless asked for");
    }

    #[test]
    fn analytics_only_when_configured_and_never_on_secret_pages() {
        let on = Chrome {
            analytics: Some("app.watchllm.dev".into()),
            ..Default::default()
        };
        let html = login_page(&on, None);
        assert!(html.contains(r#"<script async src="https://scripts.simpleanalyticscdn.com/latest.js" data-hostname="app.watchllm.dev"></script>"#));
        assert!(html.contains("noscript.gif?hostname=app.watchllm.dev"));
        let secret = login_page(&on.clone().without_analytics(), None);
        assert!(!secret.contains("simpleanalytics"));
        assert!(!login_page(&Chrome::default(), None).contains("simpleanalytics"));
        let live = Chrome {
            live: true,
            ..Default::default()
        };
        assert!(login_page(&live, None).contains(&format!("<script>{LIVE_SCRIPT}</script>")));
    }
}
