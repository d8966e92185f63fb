//! The cron's database upkeep (`usage_upkeep`): usage_logs partitions created for the coming
//! months and dropped, whole, once past the longest plan retention; latency percentiles stored for
//! days that have ended.

use super::config::Config;
use super::supabase;
use crate::error::DashError;
use crate::rows::UsageUpkeep;
use serde_json::json;

pub async fn run(cfg: &Config) -> Result<UsageUpkeep, DashError> {
    let done: Vec<UsageUpkeep> = supabase::rpc(cfg, "usage_upkeep", &json!({})).await?;
    Ok(done.into_iter().next().unwrap_or_default())
}
