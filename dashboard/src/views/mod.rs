//! The dashboard's pages as Leptos views, rendered to HTML on the server. Every action is a plain
//! HTML form posting back to the Worker, so pages work without client-side code.
//!
//! Accessibility is part of the layout: a skip link, landmarks, a visible focus outline on every
//! control (`style.css`), labelled form fields, and charts with a text alternative. The browser
//! tests run axe-core's WCAG 2 A/AA rules over every page they visit.

mod docs;
mod project;

pub use docs::docs_page;
pub use project::{project_page, ProjectPage};

use crate::rows::ProjectRow;
use leptos::prelude::*;

const CSS: &str = include_str!("style.css");

/// A whole HTML document around a rendered body.
fn document(title: &str, email: Option<&str>, body: AnyView) -> String {
    let email = email.map(str::to_string);
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
    format!(
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width,initial-scale=1\"><title>{} · WatchLLM</title><style>{CSS}</style></head><body>{header}</body></html>",
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

pub fn login_page(error: Option<String>) -> String {
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
    document("Sign in", None, body)
}

pub fn projects_page(email: &str, projects: Vec<ProjectRow>, error: Option<String>) -> String {
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
    document("Projects", Some(email), body)
}

/// The page for an error (see `crate::error::DashError::page`): what happened and where to go.
pub fn error_page(status: u16, title: &str, message: &str, email: Option<&str>) -> String {
    let (title_text, message) = (title.to_string(), message.to_string());
    let body = view! {
        <section id="error" data-status=status>
            <h1>{title_text}</h1>
            <p>{message}</p>
            <p><a href="/projects">"Your projects"</a>" · "<a href="/docs">"Docs"</a></p>
        </section>
    }
    .into_any();
    document(title, email, body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn login_page_has_both_actions_and_escapes_errors() {
        let html = login_page(Some("bad <b>".into()));
        assert!(html.starts_with("<!DOCTYPE html>"));
        assert!(html.contains(r#"value="signin""#) && html.contains(r#"value="signup""#));
        assert!(html.contains("bad &lt;b&gt;") && !html.contains("bad <b>"));
    }

    #[test]
    fn every_page_has_a_skip_link_landmarks_and_a_focus_style() {
        let html = projects_page("a@b.c", Vec::new(), None);
        assert!(html.contains(r##"<a href="#main" class="skip">"##));
        assert!(html.contains(r#"<main id="main""#) && html.contains(r#"<nav aria-label="Main">"#));
        assert!(html.contains(":focus-visible{outline:3px solid"));
    }
}
