//! The cron (every 15 minutes): emails owners whose projects crossed 80% or 100% of their plan's
//! monthly requests, once per project, month and threshold.

use super::config::Config;
use super::mail::send_email;
use super::supabase;
use crate::dates;
use crate::emails::{self, MonthlyUsage};
use crate::error::DashError;
use crate::rows::AlertDueRow;
use serde_json::json;
use worker_util::now_ms;

/// Sends the alerts due; returns how many were sent and recorded.
pub async fn send_usage_alerts(cfg: &Config) -> Result<usize, DashError> {
    let due: Vec<AlertDueRow> = supabase::rpc(cfg, "usage_alerts_due", &json!({})).await?;
    let month = dates::month_start(now_ms());
    let mut sent = 0;
    for a in &due {
        let usage = MonthlyUsage {
            project: &a.project_name,
            plan: &a.plan,
            used: a.requests_this_month,
            limit: a.monthly_requests,
            threshold: a.threshold as u32,
        };
        let email = emails::usage_alert(
            &cfg.resend.from,
            &a.email,
            &usage,
            &cfg.project_url(&a.project_id),
        );
        if send_email(cfg, &email).await {
            // The primary key (project, month, threshold) keeps a concurrent run from sending twice.
            let row = json!({"project_id": a.project_id, "month": month, "threshold": a.threshold});
            if supabase::insert_status(cfg, "usage_alerts", &row).await? < 300 {
                sent += 1;
            }
        }
    }
    Ok(sent)
}
