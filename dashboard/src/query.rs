//! What a usage view or the request log shows, as it travels in the URL: the time range, the
//! filters and the request log's page cursor. Kept in the query string (never in a cookie or
//! session), so a view can be shared, bookmarked and reloaded. Parsing is strict: a value the
//! dashboard does not know is a [`QueryError`] with a message saying what is accepted, never a
//! silently different view.

use crate::forms::is_uuid;
use chrono::{DateTime, Duration, NaiveDate, Utc};

/// Longest custom range, in days.
pub const MAX_DAYS: i64 = 366;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QueryError {
    #[error("Unknown range '{0}': use 24h, 7d, 14d, 30d or custom.")]
    Range(String),
    #[error("A custom range needs 'from' and 'to' dates (YYYY-MM-DD), 'from' first, at most 366 days apart.")]
    CustomDates,
    #[error("Unknown cache status '{0}': use HIT, HIT-SEMANTIC or MISS.")]
    Cache(String),
    #[error("Unknown status class '{0}': use 2xx, 4xx or 5xx.")]
    Status(String),
    #[error("'key' must be one of the project's key ids.")]
    Key,
    #[error("'model' is at most 200 characters.")]
    Model,
    #[error("The page cursor is not valid; start again from the newest requests.")]
    Cursor,
}

/// The query string's pairs (decoded).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Params(Vec<(String, String)>);

impl Params {
    pub fn parse(query: &str) -> Params {
        Params(
            form_urlencoded::parse(query.as_bytes())
                .into_owned()
                .collect(),
        )
    }

    /// The first non-empty value of `name`.
    fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, v)| k == name && !v.trim().is_empty())
            .map(|(_, v)| v.trim())
    }
}

/// The time range of a view.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Range {
    Last24h,
    LastDays(u32),
    /// UTC dates, both included.
    Custom {
        from: NaiveDate,
        to: NaiveDate,
    },
}

/// A range made concrete at a moment: the instants for the request log, the UTC days for charts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Window {
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    pub first_day: NaiveDate,
    pub last_day: NaiveDate,
}

impl Window {
    /// RFC 3339 instants, as the RPCs take them.
    pub fn from_rfc3339(&self) -> String {
        self.from
            .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
    }

    pub fn to_rfc3339(&self) -> String {
        self.to.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
    }
}

impl Default for Range {
    fn default() -> Range {
        Range::LastDays(14)
    }
}

fn date(s: Option<&str>) -> Option<NaiveDate> {
    NaiveDate::parse_from_str(s?, "%Y-%m-%d").ok()
}

impl Range {
    pub fn parse(p: &Params) -> Result<Range, QueryError> {
        match p.get("range") {
            None => Ok(Range::default()),
            Some("24h") => Ok(Range::Last24h),
            Some("7d") => Ok(Range::LastDays(7)),
            Some("14d") => Ok(Range::LastDays(14)),
            Some("30d") => Ok(Range::LastDays(30)),
            Some("custom") => {
                let (Some(from), Some(to)) = (date(p.get("from")), date(p.get("to"))) else {
                    return Err(QueryError::CustomDates);
                };
                if from > to || (to - from).num_days() >= MAX_DAYS {
                    return Err(QueryError::CustomDates);
                }
                Ok(Range::Custom { from, to })
            }
            Some(other) => Err(QueryError::Range(other.to_string())),
        }
    }

    /// The `range` value (and dates) for links.
    pub fn query_pairs(&self) -> Vec<(&'static str, String)> {
        match self {
            Range::Last24h => vec![("range", "24h".into())],
            Range::LastDays(d) => vec![("range", format!("{d}d"))],
            Range::Custom { from, to } => vec![
                ("range", "custom".into()),
                ("from", from.to_string()),
                ("to", to.to_string()),
            ],
        }
    }

    /// How the page names the range.
    pub fn label(&self) -> String {
        match self {
            Range::Last24h => "last 24 hours".into(),
            Range::LastDays(d) => format!("last {d} days"),
            Range::Custom { from, to } => format!("{from} to {to}"),
        }
    }

    pub fn window(&self, now_ms: u64) -> Window {
        let now = DateTime::from_timestamp_millis(now_ms as i64).unwrap_or_default();
        let (from, to) = match *self {
            Range::Last24h => (now - Duration::hours(24), now),
            Range::LastDays(d) => {
                let first = now.date_naive() - Duration::days(i64::from(d) - 1);
                (
                    first.and_hms_opt(0, 0, 0).unwrap_or_default().and_utc(),
                    now,
                )
            }
            Range::Custom { from, to } => (
                from.and_hms_opt(0, 0, 0).unwrap_or_default().and_utc(),
                (to + Duration::days(1))
                    .and_hms_opt(0, 0, 0)
                    .unwrap_or_default()
                    .and_utc(),
            ),
        };
        let last = to - Duration::milliseconds(1);
        Window {
            from,
            to,
            first_day: from.date_naive(),
            last_day: last.date_naive().max(from.date_naive()),
        }
    }
}

pub use watchllm_proxy::watchllm_headers::CacheStatus;

/// Every cache outcome, in the order the dashboard lists them.
pub const CACHE_STATUSES: [CacheStatus; 3] = [
    CacheStatus::Hit,
    CacheStatus::HitSemantic,
    CacheStatus::Miss,
];

fn cache_status(s: &str) -> Option<CacheStatus> {
    CACHE_STATUSES.into_iter().find(|c| c.as_str() == s)
}

/// Where the request log continues: the (time, id) of the last row shown.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cursor {
    /// Microsecond-precise UTC instant (usage_logs keeps microseconds).
    pub at: String,
    pub id: i64,
}

impl Cursor {
    pub fn new(created_at: &str, id: i64) -> Option<Cursor> {
        let at = DateTime::parse_from_rfc3339(created_at)
            .ok()?
            .with_timezone(&Utc);
        Some(Cursor {
            at: at.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string(),
            id,
        })
    }

    fn parse(s: &str) -> Option<Cursor> {
        let (at, id) = s.rsplit_once('_')?;
        Cursor::new(at, id.parse().ok().filter(|id: &i64| *id > 0)?)
    }

    pub fn encode(&self) -> String {
        format!("{}_{}", self.at, self.id)
    }
}

/// The request log's view: range, filters and page.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LogQuery {
    pub range: Range,
    pub cache: Option<CacheStatus>,
    pub model: Option<String>,
    /// An api_keys id (checked against the project's keys by the caller).
    pub key: Option<String>,
    /// 2, 4 or 5 (2xx, 4xx, 5xx).
    pub status_class: Option<u16>,
    pub before: Option<Cursor>,
}

/// The model a usage view narrows to, if any.
pub fn model(p: &Params) -> Result<Option<String>, QueryError> {
    match p.get("model") {
        Some(m) if m.chars().count() > 200 => Err(QueryError::Model),
        m => Ok(m.map(str::to_string)),
    }
}

impl LogQuery {
    pub fn parse(p: &Params) -> Result<LogQuery, QueryError> {
        let cache = match p.get("cache") {
            None => None,
            Some(c) => Some(cache_status(c).ok_or_else(|| QueryError::Cache(c.into()))?),
        };
        let status_class = match p.get("status") {
            None => None,
            Some(s @ ("2xx" | "4xx" | "5xx")) => s[..1].parse().ok(),
            Some(other) => return Err(QueryError::Status(other.into())),
        };
        let key = match p.get("key") {
            Some(k) if !is_uuid(k) => return Err(QueryError::Key),
            k => k.map(str::to_string),
        };
        let before = match p.get("before") {
            None => None,
            Some(c) => Some(Cursor::parse(c).ok_or(QueryError::Cursor)?),
        };
        Ok(LogQuery {
            range: Range::parse(p)?,
            cache,
            model: model(p)?,
            key,
            status_class,
            before,
        })
    }

    /// The query string for this view (without the cursor unless `with_cursor`).
    pub fn to_query(&self, with_cursor: bool) -> String {
        let mut q = form_urlencoded::Serializer::new(String::new());
        for (k, v) in self.range.query_pairs() {
            q.append_pair(k, &v);
        }
        if let Some(c) = self.cache {
            q.append_pair("cache", c.as_str());
        }
        if let Some(m) = &self.model {
            q.append_pair("model", m);
        }
        if let Some(k) = &self.key {
            q.append_pair("key", k);
        }
        if let Some(s) = self.status_class {
            q.append_pair("status", &format!("{s}xx"));
        }
        if let (true, Some(c)) = (with_cursor, &self.before) {
            q.append_pair("before", &c.encode());
        }
        q.finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(q: &str) -> Params {
        Params::parse(q)
    }

    /// 2026-11-30T12:00:00Z
    const NOON: u64 = 1_796_040_000_000;

    #[test]
    fn ranges_parse_and_become_windows() {
        assert_eq!(Range::parse(&p("")), Ok(Range::LastDays(14)));
        let w = Range::parse(&p("range=24h")).unwrap().window(NOON);
        assert_eq!(
            (w.from_rfc3339(), w.to_rfc3339()),
            (
                "2026-11-29T12:00:00.000Z".into(),
                "2026-11-30T12:00:00.000Z".into()
            )
        );
        assert_eq!(
            (w.first_day.to_string(), w.last_day.to_string()),
            ("2026-11-29".into(), "2026-11-30".into())
        );
        let w = Range::parse(&p("range=7d")).unwrap().window(NOON);
        assert_eq!(
            (w.from_rfc3339(), w.first_day.to_string()),
            ("2026-11-24T00:00:00.000Z".into(), "2026-11-24".into())
        );
        let custom = Range::parse(&p("range=custom&from=2026-11-01&to=2026-11-03")).unwrap();
        let w = custom.window(NOON);
        assert_eq!(
            (w.from_rfc3339(), w.to_rfc3339()),
            (
                "2026-11-01T00:00:00.000Z".into(),
                "2026-11-04T00:00:00.000Z".into()
            )
        );
        assert_eq!(w.last_day.to_string(), "2026-11-03");
        assert_eq!(custom.label(), "2026-11-01 to 2026-11-03");
    }

    #[test]
    fn bad_ranges_say_what_is_accepted() {
        assert_eq!(
            Range::parse(&p("range=1y")),
            Err(QueryError::Range("1y".into()))
        );
        for bad in [
            "range=custom",
            "range=custom&from=2026-11-03&to=2026-11-01",
            "range=custom&from=2025-01-01&to=2026-11-01",
            "range=custom&from=2026-13-01&to=2026-11-01",
        ] {
            assert_eq!(Range::parse(&p(bad)), Err(QueryError::CustomDates), "{bad}");
        }
        assert!(QueryError::Range("x".into())
            .to_string()
            .contains("24h, 7d, 14d, 30d or custom"));
    }

    #[test]
    fn log_queries_round_trip_through_the_url() {
        let q = "range=custom&from=2026-11-01&to=2026-11-30&cache=HIT-SEMANTIC&model=openai%2Fgpt-4o&key=0f8fad5b-d9cb-469f-a165-70867728950e&status=5xx&before=2026-11-30T06%3A28%3A19.123456Z_42";
        let parsed = LogQuery::parse(&p(q)).unwrap();
        assert_eq!(parsed.cache, Some(CacheStatus::HitSemantic));
        assert_eq!(parsed.status_class, Some(5));
        assert_eq!(
            parsed.before,
            Some(Cursor {
                at: "2026-11-30T06:28:19.123456Z".into(),
                id: 42
            })
        );
        assert_eq!(parsed.to_query(true), q);
        assert!(!parsed.to_query(false).contains("before"));
        assert_eq!(LogQuery::parse(&p(&parsed.to_query(true))).unwrap(), parsed);
        assert_eq!(LogQuery::parse(&p("")).unwrap(), LogQuery::default());
        assert_eq!(
            LogQuery::parse(&p("cache=&model=")).unwrap(),
            LogQuery::default(),
            "blank filters are no filters"
        );
    }

    #[test]
    fn bad_filters_are_errors() {
        assert_eq!(
            LogQuery::parse(&p("cache=hit")),
            Err(QueryError::Cache("hit".into()))
        );
        assert_eq!(
            LogQuery::parse(&p("status=3xx")),
            Err(QueryError::Status("3xx".into()))
        );
        assert_eq!(LogQuery::parse(&p("key=abc")), Err(QueryError::Key));
        assert_eq!(
            LogQuery::parse(&p(&format!("model={}", "m".repeat(201)))),
            Err(QueryError::Model)
        );
        for bad in [
            "before=yesterday_1",
            "before=2026-11-30T06:28:19Z",
            "before=2026-11-30T06:28:19Z_-1",
        ] {
            assert_eq!(LogQuery::parse(&p(bad)), Err(QueryError::Cursor), "{bad}");
        }
    }

    #[test]
    fn cursors_keep_microseconds_from_postgres_timestamps() {
        let c = Cursor::new("2026-11-30T06:28:19.123456+00:00", 7).unwrap();
        assert_eq!(c.encode(), "2026-11-30T06:28:19.123456Z_7");
        assert_eq!(
            Cursor::new("2026-11-30T07:28:19.1+01:00", 7).unwrap().at,
            "2026-11-30T06:28:19.100000Z"
        );
        assert_eq!(Cursor::new("garbage", 1), None);
    }
}
