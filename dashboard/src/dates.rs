//! Calendar arithmetic the dashboard needs, from Unix milliseconds (the Worker's clock) to UTC
//! dates: usage reports and monthly limits are per UTC day and calendar month, as in SQL.

use chrono::{DateTime, Datelike, NaiveDate};

/// The UTC date at `now_ms`.
pub fn today(now_ms: u64) -> NaiveDate {
    DateTime::from_timestamp_millis(now_ms as i64)
        .unwrap_or_default()
        .date_naive()
}

/// The first day of the UTC month at `now_ms`, as `YYYY-MM-01` (the `usage_alerts.month` key).
pub fn month_start(now_ms: u64) -> String {
    let d = today(now_ms);
    format!("{:04}-{:02}-01", d.year(), d.month())
}

/// The `days` days ending today, oldest first: (from, to) inclusive.
pub fn last_days(now_ms: u64, days: u64) -> (NaiveDate, NaiveDate) {
    let to = today(now_ms);
    (to - chrono::Days::new(days.saturating_sub(1)), to)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 2026-11-30T23:59:59.999Z
    const END_OF_NOVEMBER: u64 = 1_796_083_199_999;

    #[test]
    fn utc_day_and_month() {
        assert_eq!(today(END_OF_NOVEMBER).to_string(), "2026-11-30");
        assert_eq!(today(END_OF_NOVEMBER + 1).to_string(), "2026-12-01");
        assert_eq!(month_start(END_OF_NOVEMBER), "2026-11-01");
        assert_eq!(month_start(END_OF_NOVEMBER + 1), "2026-12-01");
    }

    #[test]
    fn last_days_include_today() {
        let (from, to) = last_days(END_OF_NOVEMBER, 14);
        assert_eq!(
            (from.to_string(), to.to_string()),
            ("2026-11-17".into(), "2026-11-30".into())
        );
        assert_eq!(last_days(END_OF_NOVEMBER, 1), (to, to));
    }
}
