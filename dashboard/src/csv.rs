//! The request log as CSV (RFC 4180: comma-separated, CRLF line ends, fields quoted when they
//! hold a comma, quote or line break). Written a page of rows at a time, so an export of any size
//! streams without being held in memory.

use crate::rows::RequestRow;

pub const HEADER: &str = "time,request_id,key,endpoint,model,provider,cache_status,similarity,latency_ms,prompt_tokens,completion_tokens,cost_usd,cost_saved_usd,status,error_code\r\n";

fn field(s: &str) -> String {
    if s.contains([',', '"', '\r', '\n']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

/// One row, CRLF-terminated.
pub fn line(r: &RequestRow) -> String {
    let fields = [
        field(&r.created_at),
        field(&r.request_id),
        field(r.key_prefix.as_deref().unwrap_or_default()),
        field(&r.endpoint),
        field(&r.model),
        field(&r.provider),
        field(&r.cache_status),
        r.similarity.map(|s| format!("{s:.4}")).unwrap_or_default(),
        r.latency_ms.to_string(),
        r.prompt_tokens.to_string(),
        r.completion_tokens.to_string(),
        format!("{:.8}", r.cost_usd),
        format!("{:.8}", r.cost_saved_usd),
        r.status_code.to_string(),
        field(r.error_code.as_deref().unwrap_or_default()),
    ];
    fields.join(",") + "\r\n"
}

/// A page of rows.
pub fn lines(rows: &[RequestRow]) -> String {
    rows.iter().map(line).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_are_rfc4180_with_fixed_columns() {
        let r = RequestRow {
            id: 1,
            created_at: "2026-11-30T06:28:19.123456+00:00".into(),
            request_id: "r1".into(),
            key_prefix: Some("lgw_proj_Ab".into()),
            endpoint: "chat.completions".into(),
            model: "weird,\"model\"\nname".into(),
            provider: "openrouter".into(),
            cache_status: "HIT-SEMANTIC".into(),
            similarity: Some(0.97),
            latency_ms: 12,
            prompt_tokens: 6,
            completion_tokens: 10,
            cost_usd: 0.0000069,
            cost_saved_usd: 0.00001,
            status_code: 200,
            error_code: None,
        };
        assert_eq!(
            line(&r),
            "2026-11-30T06:28:19.123456+00:00,r1,lgw_proj_Ab,chat.completions,\"weird,\"\"model\"\"\nname\",openrouter,HIT-SEMANTIC,0.9700,12,6,10,0.00000690,0.00001000,200,\r\n"
        );
        assert_eq!(
            HEADER.split(',').count(),
            line(&RequestRow::default()).split(',').count()
        );
        assert_eq!(lines(&[r.clone(), r]).matches("\r\n").count(), 2);
    }
}
