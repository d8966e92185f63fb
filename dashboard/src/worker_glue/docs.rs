//! `GET /docs` and `GET /docs/<page>`: the public docs, rendered from Markdown with this
//! deployment's proxy URL; the limits pages read the `plans` table so they show the limits in force.

use super::config::Config;
use super::respond::html;
use super::supabase;
use crate::docs::{self, Vars};
use crate::error::DashError;
use crate::rows::PlanRow;
use crate::views::{self, Chrome};
use worker::Response;

pub async fn page(cfg: &Config, slug: &str, chrome: &Chrome) -> Result<Response, DashError> {
    let page = docs::find(slug).ok_or(DashError::NotFound)?;
    let plans: Vec<PlanRow> = if page.needs_plans() {
        let path =
            "plans?select=name,requests_per_minute,monthly_requests,price_usd_month,retention_days";
        supabase::select(cfg, path).await?
    } else {
        Vec::new()
    };
    let vars = Vars {
        proxy_url: &cfg.proxy_url,
        plans: &plans,
    };
    let rendered = docs::render(page, &vars).map_err(|e| DashError::Internal(e.to_string()))?;
    Ok(html(200, views::docs_page(chrome, page, rendered), chrome)?)
}
