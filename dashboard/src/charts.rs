//! Usage figures for the dashboard from the SQL aggregates (`usage_daily` rows): per-day totals
//! over a date range with empty days filled, per-model totals, and an inline SVG chart (no
//! client-side code).

use crate::rows::UsageDailyRow;
use chrono::NaiveDate;

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Totals {
    pub key: String,
    pub requests: u64,
    pub hits: u64,
    pub semantic_hits: u64,
    pub misses: u64,
    pub errors: u64,
    pub cost_usd: f64,
    pub cost_saved_usd: f64,
}

impl Totals {
    /// One `usage_daily` row's figures under `key`.
    fn of(key: &str, row: &UsageDailyRow) -> Totals {
        Totals {
            key: key.to_string(),
            requests: row.requests,
            hits: row.hits,
            semantic_hits: row.semantic_hits,
            misses: row.misses,
            errors: row.errors,
            cost_usd: row.cost_usd,
            cost_saved_usd: row.cost_saved_usd,
        }
    }

    fn add(&mut self, other: &Totals) {
        self.requests += other.requests;
        self.hits += other.hits;
        self.semantic_hits += other.semantic_hits;
        self.misses += other.misses;
        self.errors += other.errors;
        self.cost_usd += other.cost_usd;
        self.cost_saved_usd += other.cost_saved_usd;
    }

    /// Share of requests answered from cache (exact or semantic), 0-100.
    pub fn hit_rate_pct(&self) -> f64 {
        if self.requests == 0 {
            0.0
        } else {
            100.0 * (self.hits + self.semantic_hits) as f64 / self.requests as f64
        }
    }
}

/// Per-day totals for every day from `from` to `to` inclusive (days without traffic are zero).
pub fn by_day(rows: &[UsageDailyRow], from: NaiveDate, to: NaiveDate) -> Vec<Totals> {
    let mut days: Vec<Totals> = from
        .iter_days()
        .take_while(|d| *d <= to)
        .map(|d| Totals {
            key: d.format("%Y-%m-%d").to_string(),
            ..Default::default()
        })
        .collect();
    for row in rows {
        if let Some(t) = days.iter_mut().find(|t| t.key == row.day) {
            t.add(&Totals::of(&row.day, row));
        }
    }
    days
}

/// Per-model totals, busiest first.
pub fn by_model(rows: &[UsageDailyRow]) -> Vec<Totals> {
    let mut models: Vec<Totals> = Vec::new();
    for row in rows {
        let totals = Totals::of(&row.model, row);
        match models.iter_mut().find(|t| t.key == row.model) {
            Some(t) => t.add(&totals),
            None => models.push(totals),
        }
    }
    models.sort_by(|a, b| b.requests.cmp(&a.requests).then(a.key.cmp(&b.key)));
    models
}

/// Everything summed.
pub fn overall(days: &[Totals]) -> Totals {
    let mut t = Totals {
        key: "all".into(),
        ..Default::default()
    };
    for d in days {
        t.add(d);
    }
    t
}

/// What the requests chart shows, in words (its accessible name; the page also has the table).
pub fn requests_summary(days: &[Totals]) -> String {
    let t = overall(days);
    let busiest = days
        .iter()
        .filter(|d| d.requests > 0)
        .max_by_key(|d| d.requests);
    let (first, last) = match (days.first(), days.last()) {
        (Some(f), Some(l)) => (f.key.as_str(), l.key.as_str()),
        _ => ("", ""),
    };
    let busiest = busiest
        .map(|d| format!("; busiest day {} with {}", d.key, d.requests))
        .unwrap_or_default();
    format!(
        "Requests per day by cache outcome, {first} to {last}: {} requests ({} HIT, {} HIT-SEMANTIC, {} MISS){busiest}",
        t.requests, t.hits, t.semantic_hits, t.misses
    )
}

/// What the cost chart shows, in words.
pub fn cost_summary(days: &[Totals]) -> String {
    let t = overall(days);
    format!(
        "Cost and cost saved per day (USD): ${:.6} spent upstream, ${:.6} saved by the cache",
        t.cost_usd, t.cost_saved_usd
    )
}

const COLORS: [(&str, &str); 3] = [
    ("HIT", "#2f9e44"),
    ("HIT-SEMANTIC", "#74b816"),
    ("MISS", "#adb5bd"),
];

/// Stacked bars of requests per day by cache outcome, with a legend; sized for the page width.
pub fn requests_svg(days: &[Totals]) -> String {
    let (w, h, pad, bottom) = (720.0, 220.0, 36.0, 28.0);
    let max = days.iter().map(|d| d.requests).max().unwrap_or(0).max(1) as f64;
    let slot = (w - pad) / days.len().max(1) as f64;
    let bar = (slot * 0.7).max(2.0);
    let scale = (h - bottom - 16.0) / max;
    let mut svg = format!(
        r#"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {w} {h}" width="100%" role="img" aria-label="{}" data-max="{max}">"#,
        requests_summary(days)
    );
    svg.push_str(&format!(
        r##"<text x="0" y="12" font-size="10" fill="#495057">{max}</text><line x1="{pad}" y1="{}" x2="{w}" y2="{}" stroke="#dee2e6"/>"##,
        h - bottom,
        h - bottom
    ));
    for (i, d) in days.iter().enumerate() {
        let x = pad + i as f64 * slot + (slot - bar) / 2.0;
        let mut y = h - bottom;
        for ((label, color), count) in COLORS.iter().zip([d.hits, d.semantic_hits, d.misses]) {
            if count == 0 {
                continue;
            }
            let bh = count as f64 * scale;
            y -= bh;
            svg.push_str(&format!(
                r#"<rect x="{x:.1}" y="{y:.1}" width="{bar:.1}" height="{bh:.1}" fill="{color}" data-day="{}" data-kind="{label}" data-count="{count}"><title>{} {label}: {count}</title></rect>"#,
                d.key, d.key
            ));
        }
        if i % ((days.len() / 7).max(1)) == 0 {
            svg.push_str(&format!(
                r##"<text x="{:.1}" y="{}" font-size="10" fill="#495057" text-anchor="middle">{}</text>"##,
                x + bar / 2.0,
                h - 10.0,
                &d.key[5..]
            ));
        }
    }
    legend(&mut svg, &COLORS, w - 330.0, 110.0);
    svg.push_str("</svg>");
    svg
}

/// Colour keys across the top right of a chart.
fn legend(svg: &mut String, items: &[(&str, &str)], x0: f64, step: f64) {
    for (i, (label, color)) in items.iter().enumerate() {
        let x = x0 + i as f64 * step;
        svg.push_str(&format!(
            r##"<rect x="{x}" y="2" width="10" height="10" fill="{color}"/><text x="{}" y="11" font-size="11" fill="#212529">{label}</text>"##,
            x + 14.0
        ));
    }
}

/// Paired bars per day: what was spent upstream and what the cache saved (USD).
pub fn cost_svg(days: &[Totals]) -> String {
    let (w, h, pad, bottom) = (720.0, 180.0, 36.0, 28.0);
    let max = days
        .iter()
        .map(|d| d.cost_usd.max(d.cost_saved_usd))
        .fold(0.0_f64, f64::max);
    let top = if max > 0.0 { max } else { 1.0 };
    let slot = (w - pad) / days.len().max(1) as f64;
    let bar = (slot * 0.35).max(1.5);
    let scale = (h - bottom - 16.0) / top;
    let mut svg = format!(
        r#"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {w} {h}" width="100%" role="img" aria-label="{}">"#,
        cost_summary(days)
    );
    svg.push_str(&format!(
        r##"<text x="0" y="12" font-size="10" fill="#495057">${max:.6}</text><line x1="{pad}" y1="{}" x2="{w}" y2="{}" stroke="#dee2e6"/>"##,
        h - bottom,
        h - bottom
    ));
    for (i, d) in days.iter().enumerate() {
        let x = pad + i as f64 * slot + slot * 0.15;
        for (j, (label, color, v)) in [
            ("spent", "#e8590c", d.cost_usd),
            ("saved", "#2f9e44", d.cost_saved_usd),
        ]
        .into_iter()
        .enumerate()
        {
            if v <= 0.0 {
                continue;
            }
            let bh = v * scale;
            svg.push_str(&format!(
                r#"<rect x="{:.1}" y="{:.1}" width="{bar:.1}" height="{bh:.1}" fill="{color}" data-day="{}" data-kind="{label}" data-usd="{v:.8}"><title>{} {label}: ${v:.6}</title></rect>"#,
                x + j as f64 * bar,
                h - bottom - bh,
                d.key,
                d.key
            ));
        }
        if i % ((days.len() / 7).max(1)) == 0 {
            svg.push_str(&format!(
                r##"<text x="{:.1}" y="{}" font-size="10" fill="#495057" text-anchor="middle">{}</text>"##,
                x + bar,
                h - 10.0,
                &d.key[5..]
            ));
        }
    }
    legend(
        &mut svg,
        &[("spent upstream", "#e8590c"), ("saved by cache", "#2f9e44")],
        w - 260.0,
        130.0,
    );
    svg.push_str("</svg>");
    svg
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value};

    fn typed(rows: Vec<Value>) -> Vec<UsageDailyRow> {
        rows.into_iter()
            .map(|r| serde_json::from_value(r).unwrap())
            .collect()
    }

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    #[test]
    fn days_are_filled_and_models_summed() {
        let rows = typed(vec![
            json!({"day": "2026-11-20", "model": "gpt-4o", "requests": 3, "hits": 1, "semantic_hits": 1, "misses": 1, "errors": 0, "cost_usd": "0.002", "cost_saved_usd": 0.004}),
            json!({"day": "2026-11-22", "model": "claude-3-haiku", "requests": 2, "hits": 0, "semantic_hits": 0, "misses": 2, "errors": 1, "cost_usd": 0.001, "cost_saved_usd": 0}),
            json!({"day": "2026-11-22", "model": "gpt-4o", "requests": 1, "hits": 1, "semantic_hits": 0, "misses": 0, "errors": 0, "cost_usd": 0, "cost_saved_usd": "0.002"}),
        ]);
        let days = by_day(&rows, d("2026-11-19"), d("2026-11-22"));
        assert_eq!(
            days.iter().map(|t| t.requests).collect::<Vec<_>>(),
            vec![0, 3, 0, 3]
        );
        let all = overall(&days);
        assert_eq!(
            (
                all.requests,
                all.hits,
                all.semantic_hits,
                all.misses,
                all.errors
            ),
            (6, 2, 1, 3, 1)
        );
        assert!((all.cost_usd - 0.003).abs() < 1e-12 && (all.cost_saved_usd - 0.006).abs() < 1e-12);
        assert!((all.hit_rate_pct() - 50.0).abs() < 1e-9);
        let models = by_model(&rows);
        assert_eq!(models[0].key, "gpt-4o");
        assert_eq!(models[0].requests, 4);
        assert_eq!(models[1].errors, 1);
    }

    #[test]
    fn svg_has_one_bar_segment_per_nonzero_outcome() {
        let rows = typed(vec![
            json!({"day": "2026-11-20", "model": "m", "requests": 3, "hits": 2, "semantic_hits": 0, "misses": 1}),
        ]);
        let svg = requests_svg(&by_day(&rows, d("2026-11-19"), d("2026-11-20")));
        assert!(svg.starts_with("<svg") && svg.ends_with("</svg>"));
        assert_eq!(svg.matches("data-day=").count(), 2);
        assert!(svg.contains(r#"data-kind="HIT" data-count="2""#));
        assert!(svg.contains(r#"data-kind="MISS" data-count="1""#));
        assert!(!svg.contains(r#"data-kind="HIT-SEMANTIC" data-count"#));
        assert!(svg.contains(r#"aria-label="Requests per day by cache outcome, 2026-11-19 to 2026-11-20: 3 requests (2 HIT, 0 HIT-SEMANTIC, 1 MISS); busiest day 2026-11-20 with 3""#));
    }

    #[test]
    fn cost_svg_pairs_spent_and_saved() {
        let rows = typed(vec![
            json!({"day": "2026-11-20", "model": "m", "requests": 2, "cost_usd": 0.002, "cost_saved_usd": 0.004}),
        ]);
        let svg = cost_svg(&by_day(&rows, d("2026-11-19"), d("2026-11-20")));
        assert!(svg.contains(r#"data-kind="spent" data-usd="0.00200000""#));
        assert!(svg.contains(r#"data-kind="saved" data-usd="0.00400000""#));
        assert!(svg.contains("$0.002000 spent upstream, $0.004000 saved by the cache"));
        assert_eq!(
            svg.matches("data-day=").count(),
            2,
            "no bars on an empty day"
        );
    }
}
