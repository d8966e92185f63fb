//! The docs layout: a side navigation of every page (the current one marked), the page's own
//! sections below its entry, and the rendered Markdown. Two columns on wide screens, one on phones.

use super::{document, Chrome};
use crate::docs::{Page, Rendered, PAGES};
use leptos::prelude::*;

pub fn docs_page(chrome: &Chrome, current: &Page, rendered: Rendered) -> String {
    let sections: Vec<_> = rendered
        .headings
        .iter()
        .filter(|h| h.level == 2)
        .map(|h| (format!("#{}", h.id), h.text.clone()))
        .collect();
    let nav = PAGES
        .iter()
        .map(|p| {
            let here = p.slug == current.slug;
            let on_this_page = here.then(|| {
                view! {
                    <ul class="docs-sections">
                        {sections.iter().map(|(href, text)| view! { <li><a href=href.clone()>{text.clone()}</a></li> }).collect_view()}
                    </ul>
                }
            });
            view! {
                <li>
                    <a href=p.path() aria-current=here.then_some("page")>{p.title}</a>
                    {on_this_page}
                </li>
            }
        })
        .collect_view();
    let body = view! {
        <div class="docs">
            <nav class="docs-nav" aria-label="Documentation"><ul>{nav}</ul></nav>
            <article class="docs-body" inner_html=rendered.html></article>
        </div>
    }
    .into_any();
    document(&format!("{} · Docs", current.title), chrome, body)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::docs::{self, Vars};

    #[test]
    fn side_nav_lists_every_page_and_marks_the_current_one() {
        let page = docs::find("caching").unwrap();
        let rendered = docs::render(
            page,
            &Vars {
                proxy_url: "https://p.example",
                plans: &[],
            },
        )
        .unwrap();
        let html = docs_page(&Chrome::default(), page, rendered);
        for p in PAGES {
            assert!(
                html.contains(&format!(r#"href="{}""#, p.path())),
                "{}",
                p.title
            );
        }
        assert_eq!(html.matches(r#"aria-current="page""#).count(), 1);
        assert!(html.contains(r#"<a href="/docs/caching" aria-current="page">Caching</a>"#));
        assert!(
            html.contains(r##"<a href="#semantic-cache">Semantic cache</a>"##),
            "the page's sections"
        );
        assert!(html.contains("<title>Caching · Docs · WatchLLM</title>"));
        assert!(html.contains("https://p.example/v1"));
    }
}
