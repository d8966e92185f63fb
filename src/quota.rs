//! Monthly plan quotas: every request a project's keys send in a calendar month (UTC) counts,
//! cache hits included, live keys against the project's plan and test keys against the sandbox
//! plan, in Redis counters synced with the per-minute limit's (see `budget`). This module holds
//! the pure part: the month a request falls in, when it resets, and the error past the limit.

use crate::error::ApiError;
use chrono::{DateTime, Datelike, TimeZone, Utc};

/// The month containing `now_ms`, as `yyyymm` (the counter's window).
pub fn month(now_ms: u64) -> u32 {
    let t = DateTime::from_timestamp_millis(now_ms as i64).unwrap_or_default();
    t.year() as u32 * 100 + t.month()
}

/// When the month containing `now_ms` ends (the next month's first instant), in Unix ms.
pub fn month_end_ms(now_ms: u64) -> u64 {
    let t = DateTime::from_timestamp_millis(now_ms as i64).unwrap_or_default();
    let (y, m) = if t.month() == 12 {
        (t.year() + 1, 1)
    } else {
        (t.year(), t.month() + 1)
    };
    Utc.with_ymd_and_hms(y, m, 1, 0, 0, 0)
        .single()
        .map_or(now_ms, |d| d.timestamp_millis() as u64)
}

/// How long a month's counter is kept: to the month's end and a week more.
pub fn counter_ttl_secs(now_ms: u64) -> u64 {
    (month_end_ms(now_ms).saturating_sub(now_ms)) / 1000 + 7 * 24 * 3600
}

/// 429 past the month's quota: the plan, its limit, when it resets, where to upgrade.
pub fn exceeded(plan: &str, limit: u64, now_ms: u64, upgrade_url: &str) -> ApiError {
    let reset_ms = month_end_ms(now_ms);
    let reset = crate::observability::iso8601(reset_ms);
    let retry_after = (reset_ms.saturating_sub(now_ms)).div_ceil(1000).max(1);
    ApiError::monthly_quota_exceeded(
        format!(
            "Monthly quota reached: the {plan} plan allows {limit} requests per month, and this project has used them. It resets at {reset} (UTC). Upgrade for more: {upgrade_url}"
        ),
        retry_after,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOV_30_2026_NOON: u64 = 1_796_040_000_000;

    #[test]
    fn months_and_their_ends() {
        assert_eq!(month(NOV_30_2026_NOON), 202611);
        assert_eq!(
            crate::observability::iso8601(month_end_ms(NOV_30_2026_NOON)),
            "2026-12-01T00:00:00.000Z"
        );
        let dec = month_end_ms(NOV_30_2026_NOON) + 5;
        assert_eq!(month(dec), 202612);
        assert_eq!(
            crate::observability::iso8601(month_end_ms(dec)),
            "2027-01-01T00:00:00.000Z"
        );
        assert_eq!(
            counter_ttl_secs(NOV_30_2026_NOON),
            12 * 3600 + 7 * 24 * 3600
        );
    }

    #[test]
    fn the_error_names_the_plan_limit_reset_and_upgrade() {
        let e = exceeded(
            "free",
            10_000,
            NOV_30_2026_NOON,
            "https://app.watchllm.dev/projects/p1",
        );
        assert_eq!(
            (e.status, e.code.as_deref()),
            (429, Some("monthly_quota_exceeded"))
        );
        assert_eq!(e.retry_after_secs, Some(12 * 3600));
        for part in [
            "free plan",
            "10000 requests per month",
            "2026-12-01T00:00:00.000Z",
            "https://app.watchllm.dev/projects/p1",
        ] {
            assert!(e.message.contains(part), "{part}: {}", e.message);
        }
    }
}
