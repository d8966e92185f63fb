//! Formats for shipping telemetry (pure, no I/O): the per-request `logEvent` as a Datadog HTTP
//! intake entry, and error events as Sentry envelopes with their DSN-derived URL and auth header.
//!
//! Written here rather than with the vendors' SDKs: `datadog-api-client` and the `sentry` crates
//! bring blocking/tokio HTTP transports, and `sentry-types`' `Event::default()` reads
//! `SystemTime::now()`, which panics on wasm32-unknown-unknown. Both wire formats are small and
//! documented; the Worker only needs to build them and `fetch`.

use serde_json::{json, Map, Value};

pub const SERVICE: &str = "watchllm-proxy";

/// RFC 3339 UTC timestamp with milliseconds, from Unix milliseconds.
pub fn iso8601(ms: u64) -> String {
    chrono::DateTime::from_timestamp_millis(ms as i64)
        .unwrap_or_default()
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// The Datadog logs intake endpoint for a site (`datadoghq.com`, `datadoghq.eu`, `us5.datadoghq.com`...).
pub fn datadog_intake_url(site: &str) -> String {
    format!("https://http-intake.logs.{site}/api/v2/logs")
}

/// One entry of a Datadog `POST /api/v2/logs` batch: the reserved attributes (`ddsource`,
/// `ddtags`, `hostname`, `service`, `status`, `message`) plus the event's own fields.
pub fn datadog_entry(event: &Value, env: &str, hostname: &str) -> Value {
    let field = |k: &str| event.get(k).and_then(Value::as_str).unwrap_or("");
    let status_code = event.get("status").and_then(Value::as_u64).unwrap_or(0);
    let level = match status_code {
        500.. => "error",
        400..=499 => "warn",
        _ => "info",
    };
    let mut tags = vec![format!("env:{env}")];
    for (tag, key) in [
        ("provider", "provider"),
        ("cache", "cache_status"),
        ("endpoint", "endpoint"),
    ] {
        if !field(key).is_empty() {
            tags.push(format!("{tag}:{}", field(key)));
        }
    }
    let mut entry = Map::new();
    entry.insert("ddsource".into(), json!("cloudflare-workers"));
    entry.insert("service".into(), json!(SERVICE));
    entry.insert("hostname".into(), json!(hostname));
    entry.insert("ddtags".into(), json!(tags.join(",")));
    entry.insert("status".into(), json!(level));
    entry.insert(
        "message".into(),
        json!(format!(
            "{} {} {} {}ms{}",
            field("endpoint"),
            status_code,
            field("cache_status"),
            event.get("latency_ms").and_then(Value::as_u64).unwrap_or(0),
            match field("error") {
                "" => String::new(),
                e => format!(" error={e}"),
            }
        )),
    );
    entry.insert("logEvent".into(), event.clone());
    Value::Object(entry)
}

/// A parsed Sentry DSN: `{scheme}://{public_key}[:{secret}]@{host}[:{port}]{/path}/{project_id}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SentryDsn {
    pub raw: String,
    pub scheme: String,
    pub public_key: String,
    /// Host with its port, if any.
    pub host: String,
    /// Path prefix before the project id, without a trailing slash ("" usually).
    pub path: String,
    pub project_id: String,
}

impl SentryDsn {
    pub fn parse(dsn: &str) -> Option<SentryDsn> {
        let dsn = dsn.trim();
        let (scheme, rest) = dsn.split_once("://")?;
        if scheme != "http" && scheme != "https" {
            return None;
        }
        let (userinfo, location) = rest.split_once('@')?;
        let public_key = userinfo.split(':').next()?.to_string();
        let (host, path) = match location.split_once('/') {
            Some((h, p)) => (h, p),
            None => return None,
        };
        let path = path.trim_end_matches('/');
        let (prefix, project_id) = match path.rsplit_once('/') {
            Some((pre, id)) => (format!("/{pre}"), id),
            None => (String::new(), path),
        };
        if public_key.is_empty() || host.is_empty() || project_id.is_empty() {
            return None;
        }
        Some(SentryDsn {
            raw: dsn.to_string(),
            scheme: scheme.to_string(),
            public_key,
            host: host.to_string(),
            path: prefix,
            project_id: project_id.to_string(),
        })
    }

    /// Where envelopes go: `{scheme}://{host}{path}/api/{project_id}/envelope/`.
    pub fn envelope_url(&self) -> String {
        format!(
            "{}://{}{}/api/{}/envelope/",
            self.scheme, self.host, self.path, self.project_id
        )
    }

    /// The `X-Sentry-Auth` header.
    pub fn auth_header(&self, client: &str) -> String {
        format!(
            "Sentry sentry_version=7, sentry_client={client}, sentry_key={}",
            self.public_key
        )
    }
}

/// What an error event says about the failed request.
#[derive(Debug, Clone, Default)]
pub struct ErrorReport {
    pub event_id: String,
    pub timestamp_ms: u64,
    pub environment: String,
    pub release: String,
    /// The OpenAI-format error code (`upstream_error`, `internal_error`...).
    pub code: String,
    pub message: String,
    pub status: u16,
    pub tags: Vec<(String, String)>,
    pub extra: Map<String, Value>,
}

/// A Sentry event payload.
pub fn sentry_event(r: &ErrorReport) -> Value {
    let tags: Map<String, Value> = r
        .tags
        .iter()
        .filter(|(_, v)| !v.is_empty())
        .map(|(k, v)| (k.clone(), json!(v)))
        .chain([("status".to_string(), json!(r.status.to_string()))])
        .collect();
    json!({
        "event_id": r.event_id,
        "timestamp": r.timestamp_ms as f64 / 1000.0,
        "platform": "native",
        "level": "error",
        "logger": SERVICE,
        "server_name": SERVICE,
        "environment": r.environment,
        "release": r.release,
        "message": {"formatted": r.message},
        "exception": {"values": [{"type": r.code, "value": r.message, "mechanism": {"type": "generic", "handled": true}}]},
        "tags": tags,
        "extra": r.extra,
    })
}

/// A Sentry envelope holding one event: envelope header, item header (with the payload's byte
/// length), payload, each on its own line.
pub fn sentry_envelope(dsn: &SentryDsn, report: &ErrorReport, sent_at_ms: u64) -> String {
    let payload = sentry_event(report).to_string();
    let header =
        json!({"event_id": report.event_id, "sent_at": iso8601(sent_at_ms), "dsn": dsn.raw});
    let item =
        json!({"type": "event", "length": payload.len(), "content_type": "application/json"});
    format!("{header}\n{item}\n{payload}\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_are_rfc3339_utc_with_millis() {
        assert_eq!(iso8601(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(iso8601(1_795_437_296_123), "2026-11-23T12:34:56.123Z");
    }

    #[test]
    fn datadog_entry_carries_reserved_attributes_tags_and_the_event() {
        let event = json!({"request_id": "r1", "endpoint": "chat.completions", "status": 502,
            "cache_status": "MISS", "provider": "openai", "latency_ms": 12, "error": "upstream_error"});
        let e = datadog_entry(&event, "prod", "proxy.watchllm.dev");
        assert_eq!(e["service"], SERVICE);
        assert_eq!(e["ddsource"], "cloudflare-workers");
        assert_eq!(e["status"], "error");
        assert_eq!(
            e["ddtags"],
            "env:prod,provider:openai,cache:MISS,endpoint:chat.completions"
        );
        assert_eq!(
            e["message"],
            "chat.completions 502 MISS 12ms error=upstream_error"
        );
        assert_eq!(e["logEvent"], event);
        let ok = datadog_entry(&json!({"status": 200}), "dev", "h");
        assert_eq!(ok["status"], "info");
        assert_eq!(ok["ddtags"], "env:dev");
        assert_eq!(
            datadog_intake_url("datadoghq.eu"),
            "https://http-intake.logs.datadoghq.eu/api/v2/logs"
        );
    }

    #[test]
    fn dsn_parsing_table() {
        let cases = [
            (
                "https://abc123@o1.ingest.sentry.io/42",
                Some((
                    "abc123",
                    "o1.ingest.sentry.io",
                    "https://o1.ingest.sentry.io/api/42/envelope/",
                )),
            ),
            (
                "http://pub:secret@127.0.0.1:9000/7",
                Some((
                    "pub",
                    "127.0.0.1:9000",
                    "http://127.0.0.1:9000/api/7/envelope/",
                )),
            ),
            (
                "https://k@self.hosted/sentry/3",
                Some((
                    "k",
                    "self.hosted",
                    "https://self.hosted/sentry/api/3/envelope/",
                )),
            ),
            ("https://o1.ingest.sentry.io/42", None),
            ("ftp://k@h/1", None),
            ("https://k@h", None),
            ("", None),
        ];
        for (dsn, expected) in cases {
            let parsed = SentryDsn::parse(dsn);
            match expected {
                None => assert!(parsed.is_none(), "{dsn}"),
                Some((key, host, url)) => {
                    let d = parsed.unwrap_or_else(|| panic!("{dsn}"));
                    assert_eq!(
                        (d.public_key.as_str(), d.host.as_str(), d.envelope_url()),
                        (key, host, url.to_string())
                    );
                }
            }
        }
        let d = SentryDsn::parse("https://abc@h/1").unwrap();
        assert_eq!(
            d.auth_header("watchllm/0.1"),
            "Sentry sentry_version=7, sentry_client=watchllm/0.1, sentry_key=abc"
        );
    }

    #[test]
    fn envelope_is_three_lines_with_exact_payload_length() {
        let dsn = SentryDsn::parse("https://abc@h/1").unwrap();
        let report = ErrorReport {
            event_id: "0123456789abcdef0123456789abcdef".into(),
            timestamp_ms: 1_795_437_296_123,
            environment: "test".into(),
            release: "watchllm-proxy@0.1.0".into(),
            code: "upstream_error".into(),
            message: "openai: boom — ünïcode".into(),
            status: 502,
            tags: vec![
                ("provider".into(), "openai".into()),
                ("model".into(), String::new()),
            ],
            extra: Map::new(),
        };
        let env = sentry_envelope(&dsn, &report, 1_795_437_296_200);
        let lines: Vec<&str> = env.trim_end_matches('\n').split('\n').collect();
        assert_eq!(lines.len(), 3);
        let header: Value = serde_json::from_str(lines[0]).unwrap();
        let item: Value = serde_json::from_str(lines[1]).unwrap();
        let payload: Value = serde_json::from_str(lines[2]).unwrap();
        assert_eq!(header["event_id"], report.event_id);
        assert_eq!(header["dsn"], "https://abc@h/1");
        assert_eq!(header["sent_at"], "2026-11-23T12:34:56.200Z");
        assert_eq!(item["type"], "event");
        assert_eq!(
            item["length"].as_u64().unwrap() as usize,
            lines[2].len(),
            "length counts bytes"
        );
        assert_eq!(payload["event_id"], report.event_id);
        assert_eq!(payload["level"], "error");
        assert_eq!(payload["exception"]["values"][0]["type"], "upstream_error");
        assert_eq!(
            payload["tags"],
            json!({"provider": "openai", "status": "502"})
        );
        assert_eq!(payload["timestamp"].as_f64().unwrap(), 1_795_437_296.123);
    }
}
