//! A project's request log: filters (range, cache outcome, model, key, status class) in a GET
//! form, so the view lives in the URL; newest requests first, a page at a time ("Older" carries
//! the keyset cursor); and a CSV export link for the same filters.

use super::project::{project_nav, range_fields};
use super::{document, Chrome};
use crate::query::{Cursor, LogQuery, CACHE_STATUSES};
use crate::rows::{KeyRow, ProjectRow, RequestRow};
use leptos::prelude::*;

/// Everything the request log page shows.
#[derive(Debug, Clone, Default)]
pub struct RequestsPage {
    pub chrome: Chrome,
    pub project: ProjectRow,
    pub query: LogQuery,
    pub rows: Vec<RequestRow>,
    /// Where the next (older) page starts, when there may be one.
    pub next: Option<Cursor>,
    /// The project's keys (the key filter).
    pub keys: Vec<KeyRow>,
    /// Models seen in the range (the model filter).
    pub models: Vec<String>,
}

fn select(
    id: &'static str,
    label: &'static str,
    options: Vec<(String, String)>,
    current: String,
) -> impl IntoView {
    view! {
        <span class="field"><label for=id>{label}</label>
        <select id=id name=id>
            <option value="" selected=current.is_empty()>"All"</option>
            {options.into_iter().map(|(v, text)| { let sel = v == current; view! { <option value=v selected=sel>{text}</option> } }).collect_view()}
        </select></span>
    }
}

/// `2026-11-30T06:28:19.123456+00:00` -> `2026-11-30 06:28:19`.
fn time(created_at: &str) -> String {
    created_at.get(..19).unwrap_or(created_at).replace('T', " ")
}

fn row(r: RequestRow) -> impl IntoView {
    let similarity = r.similarity.map(|s| format!("{s:.3}")).unwrap_or_default();
    view! {
        <tr data-id=r.id>
            <td>{time(&r.created_at)}</td>
            <td><code>{r.key_prefix.map(|p| format!("{p}…")).unwrap_or_default()}</code></td>
            <td>{r.model}</td>
            <td>{r.provider}</td>
            <td class="cache">{r.cache_status}</td>
            <td>{similarity}</td>
            <td>{format!("{} ms", r.latency_ms)}</td>
            <td>{format!("{} / {}", r.prompt_tokens, r.completion_tokens)}</td>
            <td>{format!("${:.6}", r.cost_usd)}</td>
            <td>{format!("${:.6}", r.cost_saved_usd)}</td>
            <td class="status">{r.status_code}</td>
            <td>{r.error_code.unwrap_or_default()}</td>
        </tr>
    }
}

pub fn requests_page(page: RequestsPage) -> String {
    let RequestsPage {
        chrome,
        project,
        query,
        rows,
        next,
        keys,
        models,
    } = page;
    let path = format!("/projects/{}", project.id);
    let action = format!("{path}/requests");
    let csv = format!("{path}/requests.csv?{}", query.to_query(false));
    let newest = query
        .before
        .is_some()
        .then(|| format!("{action}?{}", query.to_query(false)));
    let older = next.map(|c| {
        let q = LogQuery {
            before: Some(c),
            ..query.clone()
        };
        format!("{action}?{}", q.to_query(true))
    });
    let cache_options = CACHE_STATUSES
        .iter()
        .map(|c| (c.as_str().to_string(), c.as_str().to_string()))
        .collect();
    let key_options = keys
        .iter()
        .map(|k| {
            (
                k.id.clone(),
                format!("{}… {}", k.key_prefix, k.name.clone().unwrap_or_default()),
            )
        })
        .collect();
    let model_options = models.into_iter().map(|m| (m.clone(), m)).collect();
    let status_options = ["2xx", "4xx", "5xx"]
        .iter()
        .map(|s| (s.to_string(), s.to_string()))
        .collect();
    let empty = rows.is_empty();
    let title = format!("Requests, {}", query.range.label());
    let body = view! {
        <h1 id="project-name">{project.name.clone()}</h1>
        {project_nav(&path, true)}
        <section id="request-log">
            <h2>{title}</h2>
            <form method="get" action=action.clone() class="filters" id="log-filters">
                {range_fields(&query.range)}
                {select("cache", "Cache", cache_options, query.cache.map(|c| c.as_str().to_string()).unwrap_or_default())}
                {select("model", "Model", model_options, query.model.clone().unwrap_or_default())}
                {select("key", "Key", key_options, query.key.clone().unwrap_or_default())}
                {select("status", "Status", status_options, query.status_class.map(|s| format!("{s}xx")).unwrap_or_default())}
                <button type="submit">"Apply"</button>
            </form>
            <p><a id="export-csv" href=csv>"Export these requests as CSV"</a></p>
            <div class="scroll" tabindex="0" role="region" aria-label="Requests">
            <table id="requests">
                <caption class="sr-only">"Requests, newest first"</caption>
                <thead><tr>
                    <th scope="col">"Time (UTC)"</th><th scope="col">"Key"</th><th scope="col">"Model"</th><th scope="col">"Provider"</th>
                    <th scope="col">"Cache"</th><th scope="col">"Similarity"</th><th scope="col">"Latency"</th><th scope="col">"Tokens in / out"</th>
                    <th scope="col">"Cost"</th><th scope="col">"Saved"</th><th scope="col">"Status"</th><th scope="col">"Error"</th>
                </tr></thead>
                <tbody>{rows.into_iter().map(row).collect_view()}</tbody>
            </table>
            </div>
            {empty.then(|| view! { <p id="no-requests">"No requests match these filters."</p> })}
            <nav class="pages" aria-label="Pages">
                {newest.map(|href| view! { <a id="newest" href=href>"Newest"</a> })}" "
                {older.map(|href| view! { <a id="older" href=href>"Older"</a> })}
            </nav>
        </section>
    }
    .into_any();
    document(&format!("Requests · {}", project.name), &chrome, body)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::query::Params;

    #[test]
    fn filters_keep_their_values_and_links_carry_the_view() {
        let query = LogQuery::parse(&Params::parse(
            "range=7d&cache=MISS&status=5xx&before=2026-11-30T06:28:19.123456Z_42",
        ))
        .unwrap();
        let page = RequestsPage {
            project: ProjectRow {
                id: "p1".into(),
                name: "P".into(),
                ..Default::default()
            },
            query,
            rows: vec![RequestRow {
                id: 41,
                created_at: "2026-11-30T06:28:19.000001+00:00".into(),
                cache_status: "MISS".into(),
                status_code: 502,
                model: "m".into(),
                key_prefix: Some("lgw_proj_Ab".into()),
                error_code: Some("upstream_error".into()),
                ..Default::default()
            }],
            next: Cursor::new("2026-11-30T06:28:19.000001+00:00", 41),
            models: vec!["m".into()],
            ..Default::default()
        };
        let html = requests_page(page);
        assert!(
            html.contains(r#"<option value="MISS" selected>MISS</option>"#),
            "{html}"
        );
        assert!(html.contains(r#"<option value="5xx" selected>5xx</option>"#));
        assert!(html.contains(r#"<option value="7d" selected>"#));
        assert!(
            html.contains("2026-11-30 06:28:19")
                && html.contains("upstream_error")
                && html.contains("lgw_proj_Ab…")
        );
        assert!(
            html.contains(
                r#"href="/projects/p1/requests.csv?range=7d&amp;cache=MISS&amp;status=5xx""#
            ),
            "CSV without the cursor"
        );
        assert!(html.contains(r#"id="older" href="/projects/p1/requests?range=7d&amp;cache=MISS&amp;status=5xx&amp;before=2026-11-30T06%3A28%3A19.000001Z_41""#));
        assert!(html.contains(r#"id="newest""#));
        assert!(!html.contains("no-requests"));
    }

    #[test]
    fn an_empty_first_page_says_so_and_offers_no_paging() {
        let html = requests_page(RequestsPage::default());
        assert!(html.contains("No requests match these filters."));
        assert!(!html.contains(r#"id="older""#) && !html.contains(r#"id="newest""#));
    }
}
