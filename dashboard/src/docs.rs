//! The public docs: pages written in Markdown (`dashboard/docs/*.md`, compiled into the Worker),
//! rendered to HTML when served. Markdown keeps the prose apart from code and reviewable as text;
//! rendering per request lets pages show this deployment's proxy URL and the plans table as it is.
//!
//! Placeholders in the Markdown: `{{base_url}}` (the proxy's `/v1` URL), `{{proxy_url}}`,
//! `{{plans_table}}` and `{{plan.<name>.<field>}}`. An unknown one is an error, never left on a page.
//!
//! Code blocks become focusable `<pre>` (long lines scroll, and a keyboard can reach them). A
//! fence info string like ```` ```python sample expect=^MISS HIT$ ```` marks a runnable sample: the
//! test suite extracts every `pre[data-sample]` from the served pages, runs it against the local
//! stack and matches its output against `data-expect`, so a sample cannot drift from the proxy.
//! Headings get ids and link to themselves.

use crate::rows::PlanRow;
use pulldown_cmark::{CodeBlockKind, Event, HeadingLevel, Options, Parser, Tag, TagEnd};

/// One docs page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Page {
    /// The path under `/docs/` ("" for the first page, served at `/docs`).
    pub slug: &'static str,
    /// The name in the side navigation.
    pub title: &'static str,
    source: &'static str,
}

impl Page {
    pub fn path(&self) -> String {
        match self.slug {
            "" => "/docs".to_string(),
            slug => format!("/docs/{slug}"),
        }
    }

    /// Whether rendering needs the plans table (only then is it read).
    pub fn needs_plans(&self) -> bool {
        self.source.contains("{{plan")
    }
}

macro_rules! page {
    ($slug:literal, $file:literal, $title:literal) => {
        Page {
            slug: $slug,
            title: $title,
            source: include_str!(concat!("../docs/", $file, ".md")),
        }
    };
}

/// The pages, in navigation order.
pub const PAGES: [Page; 9] = [
    page!("", "quick-start", "Quick start"),
    page!(
        "authentication",
        "authentication",
        "Authentication and keys"
    ),
    page!("providers", "providers", "Providers and BYOK"),
    page!("endpoints", "endpoints", "Endpoints"),
    page!("caching", "caching", "Caching"),
    page!("headers", "headers", "Headers"),
    page!("errors", "errors", "Errors"),
    page!("limits", "limits", "Limits and plans"),
    page!("health", "health", "Health"),
];

pub fn find(slug: &str) -> Option<&'static Page> {
    PAGES.iter().find(|p| p.slug == slug)
}

/// What the Markdown's placeholders stand for.
pub struct Vars<'a> {
    /// The proxy's origin, without a trailing slash.
    pub proxy_url: &'a str,
    /// The `plans` table (empty when the page does not need it).
    pub plans: &'a [PlanRow],
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DocsError {
    #[error("unknown placeholder {{{{{0}}}}}")]
    UnknownPlaceholder(String),
    #[error("unclosed placeholder")]
    Unclosed,
}

/// A heading of a rendered page (for the "on this page" links).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Heading {
    pub level: u8,
    pub id: String,
    pub text: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    pub html: String,
    pub headings: Vec<Heading>,
}

fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn usd(v: f64) -> String {
    if v.fract() == 0.0 {
        format!("${v:.0}")
    } else {
        format!("${v:.2}")
    }
}

/// The plans as a Markdown table, cheapest first.
fn plans_table(plans: &[PlanRow]) -> String {
    let mut sorted: Vec<&PlanRow> = plans.iter().collect();
    sorted.sort_by(|a, b| {
        a.price_usd_month
            .total_cmp(&b.price_usd_month)
            .then(a.monthly_requests.cmp(&b.monthly_requests))
    });
    let mut t = String::from(
        "| plan | requests per minute (per key) | requests per month | price per month | request log kept |\n| --- | --- | --- | --- | --- |\n",
    );
    for p in sorted {
        t.push_str(&format!(
            "| {} | {} | {} | {} | {} days |\n",
            p.name,
            thousands(p.requests_per_minute),
            thousands(p.monthly_requests),
            usd(p.price_usd_month),
            p.retention_days
        ));
    }
    t
}

fn placeholder(name: &str, vars: &Vars<'_>) -> Result<String, DocsError> {
    let unknown = || DocsError::UnknownPlaceholder(name.to_string());
    match name {
        "base_url" => Ok(format!("{}/v1", vars.proxy_url)),
        "proxy_url" => Ok(vars.proxy_url.to_string()),
        "plans_table" => Ok(plans_table(vars.plans)),
        _ => {
            let mut parts = name.split('.');
            let (Some("plan"), Some(plan), Some(field), None) =
                (parts.next(), parts.next(), parts.next(), parts.next())
            else {
                return Err(unknown());
            };
            let p = vars
                .plans
                .iter()
                .find(|p| p.name == plan)
                .ok_or_else(unknown)?;
            match field {
                "requests_per_minute" => Ok(thousands(p.requests_per_minute)),
                "monthly_requests" => Ok(thousands(p.monthly_requests)),
                "price_usd_month" => Ok(usd(p.price_usd_month)),
                "retention_days" => Ok(p.retention_days.to_string()),
                _ => Err(unknown()),
            }
        }
    }
}

/// The Markdown with its placeholders filled in.
pub fn fill(source: &str, vars: &Vars<'_>) -> Result<String, DocsError> {
    let mut out = String::with_capacity(source.len());
    let mut rest = source;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let end = rest[start..].find("}}").ok_or(DocsError::Unclosed)? + start;
        out.push_str(&placeholder(rest[start + 2..end].trim(), vars)?);
        rest = &rest[end + 2..];
    }
    out.push_str(rest);
    Ok(out)
}

/// A heading's id: lowercase words joined by `-`.
pub fn slug(text: &str) -> String {
    let mut s = String::new();
    for c in text.chars().flat_map(char::to_lowercase) {
        if c.is_alphanumeric() {
            s.push(c);
        } else if !s.is_empty() && !s.ends_with('-') {
            s.push('-');
        }
    }
    s.trim_end_matches('-').to_string()
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// A fenced block's `<pre>`: language, and for samples the expected output.
fn code_block(info: &str, code: &str) -> String {
    let (lang, rest) = info.split_once(' ').unwrap_or((info, ""));
    let mut attrs = String::new();
    if !lang.is_empty() {
        attrs.push_str(&format!(r#" data-lang="{}""#, escape(lang)));
    }
    if rest.split_whitespace().next() == Some("sample") {
        attrs.push_str(&format!(r#" data-sample="{}""#, escape(lang)));
        if let Some((_, expect)) = rest.split_once("expect=") {
            attrs.push_str(&format!(r#" data-expect="{}""#, escape(expect.trim())));
        }
    }
    format!(
        "<pre tabindex=\"0\"{attrs}><code>{}</code></pre>\n",
        escape(code)
    )
}

fn level(l: HeadingLevel) -> u8 {
    l as u8
}

/// Renders a page's Markdown (placeholders filled first).
pub fn render(page: &Page, vars: &Vars<'_>) -> Result<Rendered, DocsError> {
    let source = fill(page.source, vars)?;
    let mut events: Vec<Event> = Vec::new();
    let mut headings: Vec<Heading> = Vec::new();
    let mut parser = Parser::new_ext(&source, Options::ENABLE_TABLES);
    while let Some(event) = parser.next() {
        match event {
            Event::Start(Tag::Heading { level: l, .. }) => {
                let inner: Vec<Event> = parser
                    .by_ref()
                    .take_while(|e| !matches!(e, Event::End(TagEnd::Heading(_))))
                    .collect();
                let text: String = inner
                    .iter()
                    .filter_map(|e| match e {
                        Event::Text(t) | Event::Code(t) => Some(t.as_ref()),
                        _ => None,
                    })
                    .collect();
                let mut id = slug(&text);
                let taken = |id: &str| headings.iter().any(|h| h.id == id);
                if taken(&id) {
                    id = (2..)
                        .map(|n| format!("{id}-{n}"))
                        .find(|c| !taken(c))
                        .unwrap_or(id);
                }
                let mut inner_html = String::new();
                pulldown_cmark::html::push_html(&mut inner_html, inner.into_iter());
                let n = level(l);
                let html = if n == 1 {
                    format!("<h1 id=\"{id}\">{inner_html}</h1>\n")
                } else {
                    format!("<h{n} id=\"{id}\"><a class=\"anchor\" href=\"#{id}\">{inner_html}</a></h{n}>\n")
                };
                events.push(Event::Html(html.into()));
                headings.push(Heading { level: n, id, text });
            }
            Event::Start(Tag::CodeBlock(kind)) => {
                let info = match kind {
                    CodeBlockKind::Fenced(info) => info.to_string(),
                    CodeBlockKind::Indented => String::new(),
                };
                let code: String = parser
                    .by_ref()
                    .take_while(|e| !matches!(e, Event::End(TagEnd::CodeBlock)))
                    .filter_map(|e| match e {
                        Event::Text(t) => Some(t.to_string()),
                        _ => None,
                    })
                    .collect();
                events.push(Event::Html(code_block(&info, &code).into()));
            }
            other => events.push(other),
        }
    }
    let mut html = String::new();
    pulldown_cmark::html::push_html(&mut html, events.into_iter());
    Ok(Rendered { html, headings })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plans() -> Vec<PlanRow> {
        [
            ("pro", 3000, 2_000_000, 99.0, 365),
            ("free", 60, 10_000, 0.0, 30),
            ("sandbox", 30, 5000, 0.0, 30),
        ]
        .into_iter()
        .map(|(name, rpm, monthly, price, days)| PlanRow {
            name: name.into(),
            requests_per_minute: rpm,
            monthly_requests: monthly,
            price_usd_month: price,
            retention_days: days,
        })
        .collect()
    }

    fn vars(plans: &[PlanRow]) -> Vars<'_> {
        Vars {
            proxy_url: "https://proxy.example",
            plans,
        }
    }

    #[test]
    fn every_page_renders_with_no_placeholder_left() {
        let plans = plans();
        for page in PAGES {
            let r = render(&page, &vars(&plans)).unwrap_or_else(|e| panic!("{}: {e}", page.title));
            assert!(!r.html.contains("{{"), "{}", page.title);
            assert_eq!(
                r.headings[0].level, 1,
                "{} starts with its title",
                page.title
            );
            assert_eq!(
                find(page.slug),
                Some(&PAGES.iter().find(|p| p.slug == page.slug).copied().unwrap())
            );
        }
        let needing: Vec<_> = PAGES
            .iter()
            .filter(|p| p.needs_plans())
            .map(|p| p.slug)
            .collect();
        assert_eq!(needing, ["authentication", "limits"]);
    }

    #[test]
    fn placeholders_fill_or_fail() {
        let plans = plans();
        let v = vars(&plans);
        assert_eq!(
            fill("{{base_url}}/x {{ proxy_url }}", &v).unwrap(),
            "https://proxy.example/v1/x https://proxy.example"
        );
        assert_eq!(
            fill(
                "{{plan.pro.monthly_requests}} at {{plan.pro.price_usd_month}}",
                &v
            )
            .unwrap(),
            "2,000,000 at $99"
        );
        for bad in [
            "{{nope}}",
            "{{plan.gold.requests_per_minute}}",
            "{{plan.pro.colour}}",
            "{{plan.pro}}",
        ] {
            assert!(
                matches!(fill(bad, &v), Err(DocsError::UnknownPlaceholder(_))),
                "{bad}"
            );
        }
        assert_eq!(fill("{{base_url", &v), Err(DocsError::Unclosed));
    }

    #[test]
    fn plans_table_is_cheapest_first_with_separators() {
        let t = plans_table(&plans());
        let rows: Vec<&str> = t.lines().skip(2).collect();
        assert_eq!(
            rows,
            [
                "| sandbox | 30 | 5,000 | $0 | 30 days |",
                "| free | 60 | 10,000 | $0 | 30 days |",
                "| pro | 3,000 | 2,000,000 | $99 | 365 days |"
            ]
        );
        assert_eq!(usd(29.5), "$29.50");
    }

    #[test]
    fn headings_get_unique_ids_and_self_links() {
        let page = Page {
            slug: "t",
            title: "T",
            source: "# Title\n\n## Per-request `controls`\n\n## Per-request controls\n",
        };
        let r = render(&page, &vars(&[])).unwrap();
        assert!(r.html.contains("<h1 id=\"title\">Title</h1>"));
        assert!(r.html.contains(r##"<h2 id="per-request-controls"><a class="anchor" href="#per-request-controls">Per-request <code>controls</code></a></h2>"##));
        assert!(r.html.contains(r#"<h2 id="per-request-controls-2">"#));
        assert_eq!(r.headings.len(), 3);
        assert_eq!(slug("What's 5 × 3?"), "what-s-5-3");
    }

    #[test]
    fn samples_carry_language_and_expectation_and_code_is_escaped() {
        let page = Page {
            slug: "t",
            title: "T",
            source:
                "```python sample expect=^MISS HIT$\nprint(\"<a>\" & 1)\n```\n\n```json\n{}\n```\n",
        };
        let html = render(&page, &vars(&[])).unwrap().html;
        assert!(html.contains(r#"<pre tabindex="0" data-lang="python" data-sample="python" data-expect="^MISS HIT$"><code>print(&quot;&lt;a&gt;&quot; &amp; 1)"#), "{html}");
        assert!(html.contains(r#"<pre tabindex="0" data-lang="json"><code>{}"#));
        assert_eq!(html.matches("data-sample").count(), 1);
    }

    #[test]
    fn tables_render() {
        let page = Page {
            slug: "t",
            title: "T",
            source: "| a | b |\n| --- | --- |\n| 1 | 2 |\n",
        };
        assert!(render(&page, &vars(&[]))
            .unwrap()
            .html
            .contains("<td>1</td>"));
    }
}
