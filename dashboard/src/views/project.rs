//! One project's page: usage (range selector, charts with a data table as their text
//! alternative, refreshed live by a small script), API keys, provider keys, billing, cache
//! settings and the project's own admin forms, one section each. `usage_fragment` is the usage
//! section alone, which the live script fetches.

use super::{document, messages, Chrome};
use crate::charts::{self, LatencyDay, Totals};
use crate::query::Range;
use crate::rows::{KeyRow, PlanUsageRow, ProjectRow, ProviderKeyRow};
use leptos::prelude::*;

/// Everything the project page shows.
#[derive(Debug, Clone, Default)]
pub struct ProjectPage {
    pub chrome: Chrome,
    pub project: ProjectRow,
    pub keys: Vec<KeyRow>,
    pub provider_keys: Vec<ProviderKeyRow>,
    /// A key just created: shown this once.
    pub new_key: Option<String>,
    pub notice: Option<String>,
    pub error: Option<String>,
    pub usage: UsageView,
    pub proxy_url: String,
}

/// The usage section: figures for a range, optionally narrowed to one model.
#[derive(Debug, Clone, Default)]
pub struct UsageView {
    /// The project's page path.
    pub path: String,
    pub range: Range,
    pub model_filter: Option<String>,
    pub days: Vec<Totals>,
    pub models: Vec<Totals>,
    pub latency: Vec<LatencyDay>,
    pub plan_usage: PlanUsageRow,
}

impl UsageView {
    /// The query string for this view, optionally narrowed to another model.
    fn query(&self, model: Option<&str>) -> String {
        let mut q = form_urlencoded::Serializer::new(String::new());
        for (k, v) in self.range.query_pairs() {
            q.append_pair(k, &v);
        }
        if let Some(m) = model {
            q.append_pair("model", m);
        }
        q.finish()
    }
}

fn usd(v: f64) -> String {
    format!("${v:.6}")
}

/// The tabs of a project's pages.
pub(super) fn project_nav(path: &str, requests: bool) -> impl IntoView {
    view! {
        <nav class="tabs" aria-label="Project">
            <a href=path.to_string() aria-current=(!requests).then_some("page")>"Overview"</a>
            <a id="requests-tab" href=format!("{path}/requests") aria-current=requests.then_some("page")>"Requests"</a>
        </nav>
    }
}

pub fn project_page(page: ProjectPage) -> String {
    let ProjectPage {
        chrome,
        project: p,
        keys,
        provider_keys,
        new_key,
        notice,
        error,
        usage,
        proxy_url,
    } = page;
    let path = format!("/projects/{}", p.id);
    let live = format!(
        "{path}/usage?{}",
        usage.query(usage.model_filter.as_deref())
    );
    let title = p.name.clone();
    let body = view! {
        <h1 id="project-name">{p.name.clone()}</h1>
        {project_nav(&path, false)}
        {messages(notice, error)}
        {new_key.map(|k| new_key_section(k, &proxy_url))}
        <section id="usage" data-live=live>{usage_section(usage)}</section>
        {keys_section(&path, keys)}
        {provider_keys_section(&path, provider_keys)}
        {billing_section(&path, &p)}
        {settings_section(&path, &p)}
        {admin_section(&path, &p)}
    }
    .into_any();
    document(&title, &chrome, body)
}

/// The usage section's content alone (what the live refresh swaps in).
pub fn usage_fragment(usage: UsageView) -> String {
    usage_section(usage).to_html()
}

fn new_key_section(key: String, proxy_url: &str) -> impl IntoView {
    let sample = format!(
        "const client = new OpenAI({{ baseURL: '{proxy_url}/v1', apiKey: '<the key above>' }});"
    );
    view! {
        <section>
            <h2>"Your new key"</h2>
            <p>"Copy it now: it is shown only once and stored only as a hash."</p>
            <p><code id="new-key">{key}</code></p>
            <pre tabindex="0">{sample}</pre>
        </section>
    }
}

/// The range fields of a filter form (the range lives in the URL).
pub(super) fn range_fields(range: &Range) -> impl IntoView {
    let current = range.query_pairs()[0].1.clone();
    let (from, to) = match range {
        Range::Custom { from, to } => (from.to_string(), to.to_string()),
        _ => (String::new(), String::new()),
    };
    let options = [
        ("24h", "Last 24 hours"),
        ("7d", "Last 7 days"),
        ("14d", "Last 14 days"),
        ("30d", "Last 30 days"),
        ("custom", "Custom dates"),
    ];
    view! {
        <span class="field"><label for="range">"Range"</label>
        <select id="range" name="range">
            {options.into_iter().map(|(v, label)| view! { <option value=v selected=current == v>{label}</option> }).collect_view()}
        </select></span>
        <span class="field"><label for="from">"From (custom)"</label><input id="from" name="from" type="date" value=from/></span>
        <span class="field"><label for="to">"To (custom)"</label><input id="to" name="to" type="date" value=to/></span>
    }
}

/// The usage view's range selector: a plain GET form.
fn range_form(action: &str, range: &Range, model: Option<String>) -> impl IntoView {
    view! {
        <form method="get" action=action.to_string() class="filters" id="range-form">
            {range_fields(range)}
            {model.map(|m| view! { <input type="hidden" name="model" value=m/> })}
            <button type="submit">"Show"</button>
        </form>
    }
}

fn usage_section(u: UsageView) -> impl IntoView {
    let total = charts::overall(&u.days);
    let title = match &u.model_filter {
        Some(m) => format!("Usage, {}: {m}", u.range.label()),
        None => format!("Usage, {}", u.range.label()),
    };
    let plan = &u.plan_usage;
    let pct = plan.percent_used.min(100.0);
    let plan_text = format!(
        "Plan {}: {} of {} requests this month ({:.2}%)",
        plan.plan, plan.requests_this_month, plan.monthly_requests, plan.percent_used
    );
    let all_models = u.model_filter.is_some().then(|| {
        let href = format!("{}?{}", u.path, u.query(None));
        view! { <p><a id="all-models" href=href>"Show all models"</a></p> }
    });
    let model_links: Vec<(String, Totals)> = u
        .models
        .iter()
        .map(|m| (format!("{}?{}", u.path, u.query(Some(&m.key))), m.clone()))
        .collect();
    view! {
        <h2 id="usage-title">{title}</h2>
        {range_form(&u.path, &u.range, u.model_filter.clone())}
        {all_models}
        <div class="stat"><b id="stat-requests">{total.requests}</b>"requests"</div>
        <div class="stat"><b id="stat-hit-rate">{format!("{:.1}%", total.hit_rate_pct())}</b>"cache hit rate"</div>
        <div class="stat"><b id="stat-cost">{usd(total.cost_usd)}</b>"spent upstream"</div>
        <div class="stat"><b id="stat-saved">{usd(total.cost_saved_usd)}</b>"saved by the cache"</div>
        <h3>"Requests by cache outcome"</h3>
        <div id="requests-chart" inner_html=charts::requests_svg(&u.days)></div>
        <h3>"Cost and cost saved"</h3>
        <div id="cost-chart" inner_html=charts::cost_svg(&u.days)></div>
        <h3>"Latency (p50 and p95)"</h3>
        <div id="latency-chart" inner_html=charts::latency_svg(&u.latency)></div>
        {days_table(u.days)}
        {latency_table(u.latency)}
        {models_table(model_links)}
        <p id="plan-usage">{plan_text}</p>
        <div class="bar" role="presentation"><div style=format!("width:{pct:.2}%")></div></div>
    }
}

/// The charts' figures as a table: their text alternative, and handy to copy.
fn days_table(days: Vec<Totals>) -> impl IntoView {
    view! {
        <details id="usage-data">
            <summary>"Requests and cost as a table"</summary>
            <table>
                <caption class="sr-only">"Requests, cache outcomes and cost per day"</caption>
                <thead><tr><th scope="col">"Day"</th><th scope="col">"Requests"</th><th scope="col">"HIT"</th><th scope="col">"HIT-SEMANTIC"</th><th scope="col">"MISS"</th><th scope="col">"Errors"</th><th scope="col">"Spent"</th><th scope="col">"Saved"</th></tr></thead>
                <tbody>
                    {days.into_iter().map(|d| view! {
                        <tr><th scope="row">{d.key}</th><td>{d.requests}</td><td>{d.hits}</td><td>{d.semantic_hits}</td><td>{d.misses}</td><td>{d.errors}</td><td>{usd(d.cost_usd)}</td><td>{usd(d.cost_saved_usd)}</td></tr>
                    }).collect_view()}
                </tbody>
            </table>
        </details>
    }
}

fn latency_table(days: Vec<LatencyDay>) -> impl IntoView {
    let cell = |p: Option<charts::Percentiles>| match p {
        Some(p) => format!("{:.0} / {:.0}", p.p50_ms, p.p95_ms),
        None => "–".to_string(),
    };
    view! {
        <details id="latency-data">
            <summary>"Latency as a table"</summary>
            <table>
                <caption class="sr-only">"p50 / p95 latency in milliseconds per day and cache outcome"</caption>
                <thead><tr><th scope="col">"Day"</th><th scope="col">"HIT p50 / p95 (ms)"</th><th scope="col">"HIT-SEMANTIC p50 / p95 (ms)"</th><th scope="col">"MISS p50 / p95 (ms)"</th></tr></thead>
                <tbody>
                    {days.into_iter().map(|d| view! {
                        <tr><th scope="row">{d.key}</th><td>{cell(d.by_status[0])}</td><td>{cell(d.by_status[1])}</td><td>{cell(d.by_status[2])}</td></tr>
                    }).collect_view()}
                </tbody>
            </table>
        </details>
    }
}

fn models_table(models: Vec<(String, Totals)>) -> impl IntoView {
    view! {
        <table id="models">
            <caption class="sr-only">"Usage per model (links narrow the charts to one model)"</caption>
            <thead><tr><th scope="col">"Model"</th><th scope="col">"Requests"</th><th scope="col">"HIT"</th><th scope="col">"HIT-SEMANTIC"</th><th scope="col">"MISS"</th><th scope="col">"Errors"</th><th scope="col">"Cost"</th><th scope="col">"Saved"</th></tr></thead>
            <tbody>
                {models.into_iter().map(|(href, m)| view! {
                    <tr><td><a href=href>{m.key}</a></td><td>{m.requests}</td><td>{m.hits}</td><td>{m.semantic_hits}</td><td>{m.misses}</td><td>{m.errors}</td><td>{usd(m.cost_usd)}</td><td>{usd(m.cost_saved_usd)}</td></tr>
                }).collect_view()}
            </tbody>
        </table>
    }
}

fn keys_section(path: &str, keys: Vec<KeyRow>) -> impl IntoView {
    let path = path.to_string();
    let rows = keys
        .into_iter()
        .map(|k| {
            let revoke = format!("{path}/keys/{}/revoke", k.id);
            let prefix = format!("{}…", k.key_prefix);
            let action = if k.revoked {
                view! { <span>"revoked"</span> }.into_any()
            } else {
                view! {
                    <form class="inline" method="post" action=revoke>
                        <button type="submit">"Revoke"<span class="sr-only">{format!(" key {prefix}")}</span></button>
                    </form>
                }
                .into_any()
            };
            view! {
                <tr>
                    <td><code>{prefix.clone()}</code></td><td>{k.kind.clone()}</td><td>{k.name.clone()}</td><td>{k.created_day()}</td>
                    <td>{action}</td>
                </tr>
            }
        })
        .collect_view();
    view! {
        <section id="keys">
            <h2>"API keys"</h2>
            <table>
                <thead><tr><th scope="col">"Key"</th><th scope="col">"Kind"</th><th scope="col">"Name"</th><th scope="col">"Created"</th><th scope="col"><span class="sr-only">"Action"</span></th></tr></thead>
                <tbody>{rows}</tbody>
            </table>
            <form method="post" action=format!("{path}/keys")>
                <span class="field"><label for="key-name">"Key name (optional)"</label>
                <input id="key-name" name="name" maxlength="100"/></span>
                <span class="field"><label for="key-kind">"Kind"</label>
                <select id="key-kind" name="kind"><option value="live">"live (lgw_proj_)"</option><option value="test">"test (lgw_test_, sandbox limits)"</option></select></span>
                <button type="submit">"Create key"</button>
            </form>
        </section>
    }
}

fn provider_keys_section(path: &str, keys: Vec<ProviderKeyRow>) -> impl IntoView {
    let path = path.to_string();
    let rows = keys
        .into_iter()
        .map(|k| {
            let remove = format!("{path}/provider-keys/{}/delete", k.provider);
            view! {
                <tr><td>{k.provider.clone()}</td><td><code>{k.key_hint.clone()}</code></td><td>{k.updated_day()}</td>
                <td><form class="inline" method="post" action=remove><button type="submit">"Remove"<span class="sr-only">{format!(" {} key", k.provider)}</span></button></form></td></tr>
            }
        })
        .collect_view();
    view! {
        <section id="provider-keys">
            <h2>"Provider keys (bring your own)"</h2>
            <p>"Encrypted at rest; shown masked. Without one, requests go through OpenRouter."</p>
            <table><tbody>{rows}</tbody></table>
            <form method="post" action=format!("{path}/provider-keys")>
                <span class="field"><label for="provider">"Provider"</label>
                <select id="provider" name="provider">
                    <option value="openai">"OpenAI"</option><option value="anthropic">"Anthropic"</option>
                    <option value="groq">"Groq"</option><option value="openrouter">"OpenRouter"</option>
                </select></span>
                <span class="field"><label for="provider-key">"Provider API key"</label>
                <input id="provider-key" name="key" type="password" required=true minlength="8" autocomplete="off"/></span>
                <button type="submit">"Add or replace"</button>
            </form>
        </section>
    }
}

fn billing_section(path: &str, p: &ProjectRow) -> impl IntoView {
    let status = p
        .subscription_status
        .as_deref()
        .filter(|s| !s.is_empty())
        .map(|s| format!(" ({s})"))
        .unwrap_or_default();
    let checkout = format!("{path}/billing/checkout");
    let portal = format!("{path}/billing/portal");
    view! {
        <section id="billing">
            <h2>"Billing"</h2>
            <p id="billing-plan">{format!("Plan: {}{status}", p.plan)}</p>
            <form class="inline" method="post" action=checkout.clone()>
                <input type="hidden" name="plan" value="starter"/><button type="submit">"Upgrade to Starter ($29/month)"</button>
            </form>
            <form class="inline" method="post" action=checkout>
                <input type="hidden" name="plan" value="pro"/><button type="submit">"Upgrade to Pro ($99/month)"</button>
            </form>
            {p.stripe_customer_id.is_some().then(|| view! {
                <form class="inline" method="post" action=portal><button type="submit">"Manage billing"</button></form>
            })}
        </section>
    }
}

fn settings_section(path: &str, p: &ProjectRow) -> impl IntoView {
    let openai = p.semantic_embedder == "openai";
    view! {
        <section id="settings">
            <h2>"Cache settings"</h2>
            <form method="post" action=format!("{path}/settings")>
                <label><input type="checkbox" name="semantic" value="on" checked=p.semantic_cache_enabled/>" Semantic cache"</label>
                <label>" Threshold "<input name="threshold" type="number" step="0.01" min="0.5" max="1" value=p.threshold_rounded().to_string()/></label>
                <label>" TTL (seconds) "<input name="ttl" type="number" min="60" max="2592000" value=p.cache_ttl_secs.to_string()/></label>
                <label>" Embedder "<select name="embedder">
                    <option value="local" selected=!openai>"In the Worker (free, instant)"</option>
                    <option value="openai" selected=openai>"OpenAI embeddings (your OpenAI key; catches rewordings)"</option>
                </select></label>
                <fieldset>
                    <legend>"Per-request controls"</legend>
                    <label for="threshold-floor">"Threshold floor (optional) "</label>
                    <input id="threshold-floor" name="threshold_floor" type="number" step="0.01" min="0.5" max="1" value=p.floor_text() aria-describedby="threshold-floor-help"/>
                    <p id="threshold-floor-help">"The lowest threshold a request may ask for with X-WatchLLM-Similarity-Threshold (lower ones are raised to it); at most the threshold. Empty: no floor."</p>
                    <label><input type="checkbox" name="require_namespace" value="on" checked=p.require_cache_namespace/>" Require a cache namespace (requests without X-WatchLLM-Cache-Namespace get 400)"</label>
                </fieldset>
                <fieldset>
                    <legend>"Browser access"</legend>
                    <label for="allowed-origins">"Allowed origins"</label>
                    <textarea id="allowed-origins" name="allowed_origins" rows="4" cols="40" spellcheck="false" autocomplete="off" aria-describedby="allowed-origins-help">{p.origins_text()}</textarea>
                    <p id="allowed-origins-help">"One a line, like https://app.example.com or https://*.example.com; at most 50. Web pages from other origins get 403. Empty: any origin. Requests from servers (no Origin header) are not affected."</p>
                </fieldset>
                <button type="submit">"Save settings"</button>
            </form>
        </section>
    }
}

fn admin_section(path: &str, p: &ProjectRow) -> impl IntoView {
    view! {
        <section id="project-admin">
            <h2>"Project"</h2>
            <form method="post" action=format!("{path}/rename")>
                <label for="rename">"Project name"</label>
                <input id="rename" name="name" required=true maxlength="100" value=p.name.clone()/>
                <button type="submit">"Rename"</button>
            </form>
            <form method="post" action=format!("{path}/delete")>
                <label><input type="checkbox" name="confirm" value="yes" required=true/>" I understand this deletes the project, its keys and its usage history."</label>
                <button type="submit">"Delete project"</button>
            </form>
        </section>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn page() -> ProjectPage {
        ProjectPage {
            chrome: Chrome {
                email: Some("a@b.c".into()),
                ..Default::default()
            },
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
            usage: UsageView {
                path: "/projects/p1".into(),
                plan_usage: PlanUsageRow {
                    plan: "free".into(),
                    monthly_requests: 10000,
                    requests_this_month: 5,
                    percent_used: 0.05,
                },
                ..Default::default()
            },
            ..Default::default()
        }
    }

    #[test]
    fn project_page_shows_key_once_masks_and_charts() {
        let mut page = page();
        let html = project_page(page.clone());
        assert!(html.contains("lgw_proj_SECRETSECRETSECRETSECRETSECRET12"));
        assert!(html.contains("Demo &lt;app&gt;"));
        assert!(html.contains("lgw_proj_AbCd…") && html.contains("/projects/p1/keys/k1/revoke"));
        assert!(html.contains("sk-...wxyz"));
        assert!(html.contains("Plan free: 5 of 10000 requests this month (0.05%)"));
        assert!(html.contains("<svg"));
        page.new_key = None;
        let again = project_page(page.clone());
        assert!(!again.contains("SECRETSECRET"), "shown once");
        page.usage.models = vec![Totals {
            key: "openai/gpt-4o".into(),
            requests: 1,
            ..Default::default()
        }];
        let linked = project_page(page.clone());
        assert!(linked.contains(r#"href="/projects/p1?range=14d&amp;model=openai%2Fgpt-4o""#));
        page.usage.model_filter = Some("openai/gpt-4o".into());
        let filtered = project_page(page);
        assert!(filtered.contains("Usage, last 14 days: openai/gpt-4o"));
        assert!(filtered.contains(r#"id="all-models""#));
    }

    #[test]
    fn settings_show_the_floor_the_namespace_switch_and_the_origins() {
        let mut page = page();
        let html = project_page(page.clone());
        assert!(html.contains(
            r#"name="threshold_floor" type="number" step="0.01" min="0.5" max="1" value="""#
        ));
        assert!(!html.contains(r#"name="require_namespace" value="on" checked"#));
        page.project.similarity_threshold_floor = Some(0.899999976);
        page.project.require_cache_namespace = true;
        page.project.allowed_origins = Some(vec![
            "https://a.example".into(),
            "https://*.b.example".into(),
        ]);
        let html = project_page(page);
        assert!(html.contains(r#"value="0.9""#));
        assert!(html.contains(r#"name="require_namespace" value="on" checked"#));
        assert!(html.contains("https://a.example\nhttps://*.b.example</textarea>"));
    }

    #[test]
    fn every_field_has_a_label_and_charts_a_table() {
        let mut page = page();
        page.usage.days = vec![Totals {
            key: "2026-11-20".into(),
            requests: 3,
            hits: 2,
            misses: 1,
            ..Default::default()
        }];
        let html = project_page(page);
        for id in [
            "key-name",
            "key-kind",
            "provider",
            "provider-key",
            "rename",
            "range",
            "from",
            "to",
            "threshold-floor",
            "allowed-origins",
        ] {
            assert!(html.contains(&format!(r#"<label for="{id}">"#)), "{id}");
            assert!(html.contains(&format!(r#"id="{id}""#)), "{id}");
        }
        assert!(html.contains(
            r#"<th scope="row">2026-11-20</th><td>3</td><td>2</td><td>0</td><td>1</td>"#
        ));
        assert!(html.contains(r#"<span class="sr-only"> key lgw_proj_AbCd…</span>"#));
        assert!(
            html.contains(r#"<pre tabindex="0">"#),
            "scrollable code is reachable by keyboard"
        );
    }
}
