//! The dashboard's pages as Leptos views, rendered to HTML on the server. Every action is a plain
//! HTML form posting back to the Worker, so pages work without client-side code.

use crate::charts::{self, Totals};
use crate::rows::{KeyRow, PlanUsageRow, ProjectRow, ProviderKeyRow};
use leptos::prelude::*;

/// Everything the project page shows.
#[derive(Debug, Clone, Default)]
pub struct ProjectPage {
    pub email: String,
    pub project: ProjectRow,
    pub keys: Vec<KeyRow>,
    pub provider_keys: Vec<ProviderKeyRow>,
    /// A key just created: shown this once.
    pub new_key: Option<String>,
    pub notice: Option<String>,
    pub error: Option<String>,
    pub days: Vec<Totals>,
    pub models: Vec<Totals>,
    pub plan_usage: PlanUsageRow,
    pub proxy_url: String,
    /// The model the charts are narrowed to, if any.
    pub model_filter: Option<String>,
}

const CSS: &str = "body{font-family:system-ui,sans-serif;margin:0;color:#212529;background:#f8f9fa}\
header{display:flex;gap:1rem;align-items:center;padding:.75rem 1.5rem;background:#212529;color:#fff}\
header a{color:#fff}header .grow{flex:1}main{max-width:960px;margin:1.5rem auto;padding:0 1rem}\
section{background:#fff;border:1px solid #dee2e6;border-radius:8px;padding:1rem 1.25rem;margin-bottom:1rem}\
table{border-collapse:collapse;width:100%}td,th{text-align:left;padding:.35rem .5rem;border-bottom:1px solid #e9ecef}\
form.inline{display:inline}input,select,button{font:inherit;padding:.3rem .5rem;margin:.15rem}\
.error{color:#c92a2a}.notice{color:#2b8a3e}.stat{display:inline-block;margin-right:2rem}\
.stat b{display:block;font-size:1.4rem}code{background:#f1f3f5;padding:.1rem .3rem;border-radius:4px}\
pre{background:#f1f3f5;padding:.75rem;overflow:auto}.bar{height:10px;background:#e9ecef;border-radius:5px}\
.bar>div{height:10px;background:#1971c2;border-radius:5px}";

/// A whole HTML document around a rendered body.
fn document(title: &str, email: Option<&str>, body: AnyView) -> String {
    let email = email.map(str::to_string);
    let header = view! {
        <header>
            <strong>"WatchLLM"</strong>
            <a href="/projects">"Projects"</a>
            <a href="/docs">"Docs"</a>
            <span class="grow"></span>
            {email.map(|e| view! {
                <span id="user-email">{e}</span>
                <form class="inline" method="post" action="/logout"><button type="submit">"Sign out"</button></form>
            })}
        </header>
        <main>{body}</main>
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

fn usd(v: f64) -> String {
    format!("${v:.6}")
}

pub fn project_page(page: ProjectPage) -> String {
    let ProjectPage {
        email,
        project: p,
        keys,
        provider_keys,
        new_key,
        notice,
        error,
        days,
        models,
        plan_usage,
        proxy_url,
        model_filter,
    } = page;
    let project_path = format!("/projects/{}", p.id);
    let total = charts::overall(&days);
    let svg = charts::requests_svg(&days);
    let cost_svg = charts::cost_svg(&days);
    let id = p.id.clone();
    let action = move |path: &str| format!("/projects/{id}{path}");
    let pct = plan_usage.percent_used.min(100.0);
    let body = view! {
        <h1 id="project-name">{p.name.clone()}</h1>
        {messages(notice, error)}
        {new_key.map(|k| view! {
            <section>
                <h2>"Your new key"</h2>
                <p>"Copy it now: it is shown only once and stored only as a hash."</p>
                <p><code id="new-key">{k}</code></p>
                <pre>{format!("const client = new OpenAI({{ baseURL: '{proxy_url}/v1', apiKey: '<the key above>' }});")}</pre>
            </section>
        })}
        <section id="usage">
            <h2 id="usage-title">{match &model_filter {
                Some(m) => format!("Usage, last 14 days: {m}"),
                None => "Usage, last 14 days".to_string(),
            }}</h2>
            {model_filter.is_some().then(|| view! { <p><a id="all-models" href=project_path.clone()>"Show all models"</a></p> })}
            <div class="stat"><b id="stat-requests">{total.requests}</b>"requests"</div>
            <div class="stat"><b id="stat-hit-rate">{format!("{:.1}%", total.hit_rate_pct())}</b>"cache hit rate"</div>
            <div class="stat"><b id="stat-cost">{usd(total.cost_usd)}</b>"spent upstream"</div>
            <div class="stat"><b id="stat-saved">{usd(total.cost_saved_usd)}</b>"saved by the cache"</div>
            <h3>"Requests by cache outcome"</h3>
            <div id="requests-chart" inner_html=svg></div>
            <h3>"Cost and cost saved"</h3>
            <div id="cost-chart" inner_html=cost_svg></div>
            <table id="models">
                <thead><tr><th>"Model"</th><th>"Requests"</th><th>"HIT"</th><th>"HIT-SEMANTIC"</th><th>"MISS"</th><th>"Errors"</th><th>"Cost"</th><th>"Saved"</th></tr></thead>
                <tbody>
                    {models.into_iter().map(|m| {
                        let href = format!("{project_path}?model={}", form_urlencoded::byte_serialize(m.key.as_bytes()).collect::<String>());
                        view! {
                        <tr><td><a href=href>{m.key}</a></td><td>{m.requests}</td><td>{m.hits}</td><td>{m.semantic_hits}</td><td>{m.misses}</td><td>{m.errors}</td><td>{usd(m.cost_usd)}</td><td>{usd(m.cost_saved_usd)}</td></tr>
                    }
                    }).collect_view()}
                </tbody>
            </table>
            <p id="plan-usage">{format!("Plan {}: {} of {} requests this month ({:.2}%)", plan_usage.plan, plan_usage.requests_this_month, plan_usage.monthly_requests, plan_usage.percent_used)}</p>
            <div class="bar"><div style=format!("width:{pct:.2}%")></div></div>
        </section>
        <section id="keys">
            <h2>"API keys"</h2>
            <table>
                <thead><tr><th>"Key"</th><th>"Kind"</th><th>"Name"</th><th>"Created"</th><th></th></tr></thead>
                <tbody>
                    {keys.into_iter().map(|k| {
                        let revoke = action(&format!("/keys/{}/revoke", k.id));
                        view! {
                            <tr>
                                <td><code>{format!("{}…", k.key_prefix)}</code></td><td>{k.kind.clone()}</td><td>{k.name.clone()}</td><td>{k.created_day()}</td>
                                <td>{if k.revoked {
                                    view! { <span>"revoked"</span> }.into_any()
                                } else {
                                    view! { <form class="inline" method="post" action=revoke><button type="submit">"Revoke"</button></form> }.into_any()
                                }}</td>
                            </tr>
                        }
                    }).collect_view()}
                </tbody>
            </table>
            <form method="post" action=action("/keys")>
                <input name="name" placeholder="Key name (optional)" maxlength="100"/>
                <select name="kind"><option value="live">"live (lgw_proj_)"</option><option value="test">"test (lgw_test_, sandbox limits)"</option></select>
                <button type="submit">"Create key"</button>
            </form>
        </section>
        <section id="provider-keys">
            <h2>"Provider keys (bring your own)"</h2>
            <p>"Encrypted at rest; shown masked. Without one, requests go through OpenRouter."</p>
            <table>
                <tbody>
                    {provider_keys.into_iter().map(|k| {
                        let remove = action(&format!("/provider-keys/{}/delete", k.provider));
                        view! {
                            <tr><td>{k.provider.clone()}</td><td><code>{k.key_hint.clone()}</code></td><td>{k.updated_day()}</td>
                            <td><form class="inline" method="post" action=remove><button type="submit">"Remove"</button></form></td></tr>
                        }
                    }).collect_view()}
                </tbody>
            </table>
            <form method="post" action=action("/provider-keys")>
                <select name="provider">
                    <option value="openai">"OpenAI"</option><option value="anthropic">"Anthropic"</option>
                    <option value="groq">"Groq"</option><option value="openrouter">"OpenRouter"</option>
                </select>
                <input name="key" type="password" required=true minlength="8" placeholder="Provider API key" autocomplete="off"/>
                <button type="submit">"Add or replace"</button>
            </form>
        </section>
        <section id="billing">
            <h2>"Billing"</h2>
            <p id="billing-plan">{format!("Plan: {}{}", p.plan, p.subscription_status.as_deref().filter(|s| !s.is_empty()).map(|s| format!(" ({s})")).unwrap_or_default())}</p>
            <form class="inline" method="post" action=action("/billing/checkout")>
                <input type="hidden" name="plan" value="starter"/><button type="submit">"Upgrade to Starter ($29/month)"</button>
            </form>
            <form class="inline" method="post" action=action("/billing/checkout")>
                <input type="hidden" name="plan" value="pro"/><button type="submit">"Upgrade to Pro ($99/month)"</button>
            </form>
            {p.stripe_customer_id.is_some().then(|| view! {
                <form class="inline" method="post" action=action("/billing/portal")><button type="submit">"Manage billing"</button></form>
            })}
        </section>
        <section id="settings">
            <h2>"Cache settings"</h2>
            <form method="post" action=action("/settings")>
                <label><input type="checkbox" name="semantic" value="on" checked=p.semantic_cache_enabled/>" Semantic cache"</label>
                <label>" Threshold "<input name="threshold" type="number" step="0.01" min="0.5" max="1" value=p.threshold_rounded().to_string()/></label>
                <label>" TTL (seconds) "<input name="ttl" type="number" min="60" max="2592000" value=p.cache_ttl_secs.to_string()/></label>
                <label>" Embedder "<select name="embedder">
                    <option value="local" selected=p.semantic_embedder != "openai">"In the Worker (free, instant)"</option>
                    <option value="openai" selected=p.semantic_embedder == "openai">"OpenAI embeddings (your OpenAI key; catches rewordings)"</option>
                </select></label>
                <button type="submit">"Save settings"</button>
            </form>
        </section>
        <section id="project-admin">
            <h2>"Project"</h2>
            <form method="post" action=action("/rename")>
                <input name="name" required=true maxlength="100" value=p.name.clone()/>
                <button type="submit">"Rename"</button>
            </form>
            <form method="post" action=action("/delete")>
                <label><input type="checkbox" name="confirm" value="yes" required=true/>" I understand this deletes the project, its keys and its usage history."</label>
                <button type="submit">"Delete project"</button>
            </form>
        </section>
    }
    .into_any();
    document(&p.name, Some(&email), body)
}

pub fn docs_page(email: Option<&str>, proxy_url: &str) -> String {
    let base = format!("{proxy_url}/v1");
    let body = view! {
        <section id="quick-start">
            <h1>"Quick start"</h1>
            <p>"Change two things in your OpenAI client, nothing else: the base URL and the key."</p>
            <pre>{format!("import OpenAI from 'openai';\nconst client = new OpenAI({{ baseURL: '{base}', apiKey: 'lgw_proj_...' }});\nconst r = await client.chat.completions.create({{ model: 'openai/gpt-4o-mini', messages: [{{ role: 'user', content: 'Hi' }}] }});")}</pre>
            <p>"Create a project and a key under Projects. Test keys (lgw_test_) get sandbox rate limits."</p>
        </section>
        <section id="api-reference">
            <h2>"API reference"</h2>
            <table>
                <tr><td><code>"POST /v1/chat/completions"</code></td><td>"chat, streaming (SSE), tools; OpenAI, Anthropic, Groq models with your keys, any vendor/model through OpenRouter"</td></tr>
                <tr><td><code>"POST /v1/completions"</code></td><td>"legacy completions"</td></tr>
                <tr><td><code>"POST /v1/embeddings"</code></td><td>"embeddings, cached 24 h"</td></tr>
                <tr><td><code>"GET /v1/models"</code></td><td>"models known by native name"</td></tr>
                <tr><td><code>"GET /health"</code></td><td>"status of the proxy, Redis and Supabase"</td></tr>
            </table>
            <h3>"Response headers"</h3>
            <table>
                <tr><td><code>"X-WatchLLM-Cache"</code></td><td>"HIT, HIT-SEMANTIC or MISS"</td></tr>
                <tr><td><code>"X-WatchLLM-Cache-Age"</code></td><td>"seconds since the answer was stored"</td></tr>
                <tr><td><code>"X-WatchLLM-Cache-Similarity"</code></td><td>"cosine similarity of a semantic hit"</td></tr>
                <tr><td><code>"X-WatchLLM-Cost-USD"</code></td><td>"what the request cost upstream (0 on a hit)"</td></tr>
                <tr><td><code>"X-WatchLLM-Tokens-Saved"</code></td><td>"prompt tokens served from cache"</td></tr>
                <tr><td><code>"X-WatchLLM-Latency-Ms, X-WatchLLM-Provider"</code></td><td>"time in the proxy, who answered"</td></tr>
            </table>
            <h3>"Errors"</h3>
            <p>"OpenAI's format, "<code>"{\"error\": {\"message\", \"type\", \"param\", \"code\"}}"</code>": 400 bad input, 401 bad key, 404/405 route, 413 body over 4 MiB, 429 rate limit (Retry-After), 502/504 upstream failure or timeout (provider named), 503 dependency down."</p>
        </section>
        <section id="caching">
            <h2>"Caching"</h2>
            <p>"Identical requests (after normalising the prompt: case, spaces, filler words) are an exact HIT for 1 hour (24 hours for embeddings). Reworded prompts are a HIT-SEMANTIC when their similarity reaches the project's threshold (0.95 by default) and their numbers, negations and names match. The system prompt and earlier turns must match exactly."</p>
            <p>"Per request: "<code>"X-WatchLLM-Bypass-Cache: true"</code>", "<code>"X-WatchLLM-Refresh-Cache: true"</code>", "<code>"X-WatchLLM-Similarity-Threshold: 0.9"</code>". Errors and cut-off streams are never cached, and no project ever sees another's entries."</p>
        </section>
    }
    .into_any();
    document("Docs", email, body)
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
    fn project_page_shows_key_once_masks_and_charts() {
        let mut page = ProjectPage {
            email: "a@b.c".into(),
            project: ProjectRow {
                id: "p1".into(),
                name: "Demo <app>".into(),
                plan: "free".into(),
                semantic_cache_enabled: true,
                similarity_threshold: 0.95,
                cache_ttl_secs: 3600,
                ..Default::default()
            },
            keys: vec![KeyRow {
                id: "k1".into(),
                key_prefix: "lgw_proj_AbCd".into(),
                kind: "live".into(),
                ..Default::default()
            }],
            provider_keys: vec![ProviderKeyRow {
                provider: "openai".into(),
                key_hint: "sk-...wxyz".into(),
                ..Default::default()
            }],
            new_key: Some("lgw_proj_SECRETSECRETSECRETSECRETSECRET12".into()),
            proxy_url: "http://localhost:8787".into(),
            plan_usage: PlanUsageRow {
                plan: "free".into(),
                monthly_requests: 10000,
                requests_this_month: 5,
                percent_used: 0.05,
            },
            ..Default::default()
        };
        let html = project_page(page.clone());
        assert!(html.contains("lgw_proj_SECRETSECRETSECRETSECRETSECRET12"));
        assert!(html.contains("Demo &lt;app&gt;"));
        assert!(html.contains("lgw_proj_AbCd…") && html.contains("/projects/p1/keys/k1/revoke"));
        assert!(html.contains("sk-...wxyz"));
        assert!(html.contains("Plan free: 5 of 10000 requests this month (0.05%)"));
        assert!(html.contains("<svg"));
        page.new_key = None;
        assert!(
            !project_page(page.clone()).contains("SECRETSECRET"),
            "shown once"
        );
        page.models = vec![Totals {
            key: "openai/gpt-4o".into(),
            requests: 1,
            ..Default::default()
        }];
        assert!(project_page(page.clone()).contains(r#"href="/projects/p1?model=openai%2Fgpt-4o""#));
        page.model_filter = Some("openai/gpt-4o".into());
        let filtered = project_page(page);
        assert!(
            filtered.contains("Usage, last 14 days: openai/gpt-4o")
                && filtered.contains(r#"id="all-models""#)
        );
    }

    #[test]
    fn docs_cover_quick_start_reference_and_caching() {
        let html = docs_page(None, "https://proxy.watchllm.dev");
        for id in ["quick-start", "api-reference", "caching"] {
            assert!(html.contains(&format!(r#"id="{id}""#)));
        }
        assert!(html.contains("https://proxy.watchllm.dev/v1"));
    }
}
