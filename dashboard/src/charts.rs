//! Usage figures for the dashboard from the SQL aggregates (`usage_daily` rows): per-day totals
//! over a date range with empty days filled, per-model totals, and an inline SVG chart (no
//! client-side code).

use crate::rows::{LatencyRow, UsageDailyRow};
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

/// Every day from `from` to `to` inclusive, as `YYYY-MM-DD`.
fn each_day(from: NaiveDate, to: NaiveDate) -> impl Iterator<Item = String> {
    from.iter_days()
        .take_while(move |d| *d <= to)
        .map(|d| d.format("%Y-%m-%d").to_string())
}

/// Per-day totals for every day from `from` to `to` inclusive (days without traffic are zero).
pub fn by_day(rows: &[UsageDailyRow], from: NaiveDate, to: NaiveDate) -> Vec<Totals> {
    let mut days: Vec<Totals> = each_day(from, to)
        .map(|key| Totals {
            key,
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
    ("MISS", "#868e96"),
];

/// What every chart shares: its size, a value label at the top left, the baseline, one slot per
/// day with a date under every few, and a legend.
struct Frame {
    w: f64,
    h: f64,
    pad: f64,
    bottom: f64,
    days: usize,
}

impl Frame {
    fn new(h: f64, days: usize) -> Frame {
        Frame {
            w: 720.0,
            h,
            pad: 36.0,
            bottom: 28.0,
            days,
        }
    }

    fn slot(&self) -> f64 {
        (self.w - self.pad) / self.days.max(1) as f64
    }

    fn base(&self) -> f64 {
        self.h - self.bottom
    }

    /// Pixels per unit for a chart whose largest value is `top`.
    fn scale(&self, top: f64) -> f64 {
        (self.h - self.bottom - 16.0) / if top > 0.0 { top } else { 1.0 }
    }

    /// The opening tag (accessible name `aria`), the top label and the baseline.
    fn open(&self, aria: &str, top_label: &str, attrs: &str) -> String {
        let (w, h, pad, base) = (self.w, self.h, self.pad, self.base());
        format!(
            r##"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {w} {h}" width="100%" role="img" aria-label="{aria}"{attrs}><text x="0" y="12" font-size="10" fill="#495057">{top_label}</text><line x1="{pad}" y1="{base}" x2="{w}" y2="{base}" stroke="#dee2e6"/>"##
        )
    }

    /// The date under day `i`'s slot (every few days, so labels never overlap).
    fn day_label(&self, svg: &mut String, i: usize, center: f64, day: &str) {
        if i.is_multiple_of((self.days / 7).max(1)) {
            svg.push_str(&format!(
                r##"<text x="{center:.1}" y="{}" font-size="10" fill="#495057" text-anchor="middle">{}</text>"##,
                self.h - 10.0,
                day.get(5..).unwrap_or(day)
            ));
        }
    }

    /// Colour keys across the top right, then the closing tag.
    fn close(&self, mut svg: String, items: &[(&str, &str)], step: f64) -> String {
        let x0 = self.w - step * items.len() as f64;
        for (i, (label, color)) in items.iter().enumerate() {
            let x = x0 + i as f64 * step;
            svg.push_str(&format!(
                r##"<rect x="{x}" y="2" width="10" height="10" fill="{color}"/><text x="{}" y="11" font-size="11" fill="#212529">{label}</text>"##,
                x + 14.0
            ));
        }
        svg.push_str("</svg>");
        svg
    }
}

/// Stacked bars of requests per day by cache outcome, with a legend; sized for the page width.
pub fn requests_svg(days: &[Totals]) -> String {
    let f = Frame::new(220.0, days.len());
    let max = days.iter().map(|d| d.requests).max().unwrap_or(0).max(1) as f64;
    let (slot, scale) = (f.slot(), f.scale(max));
    let bar = (slot * 0.7).max(2.0);
    let mut svg = f.open(
        &requests_summary(days),
        &max.to_string(),
        &format!(r#" data-max="{max}""#),
    );
    for (i, d) in days.iter().enumerate() {
        let x = f.pad + i as f64 * slot + (slot - bar) / 2.0;
        let mut y = f.base();
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
        f.day_label(&mut svg, i, x + bar / 2.0, &d.key);
    }
    f.close(svg, &COLORS, 110.0)
}

/// Paired bars per day: what was spent upstream and what the cache saved (USD).
pub fn cost_svg(days: &[Totals]) -> String {
    let f = Frame::new(180.0, days.len());
    let max = days
        .iter()
        .map(|d| d.cost_usd.max(d.cost_saved_usd))
        .fold(0.0_f64, f64::max);
    let (slot, scale) = (f.slot(), f.scale(max));
    let bar = (slot * 0.35).max(1.5);
    let mut svg = f.open(&cost_summary(days), &format!("${max:.6}"), "");
    let kinds = [("spent", "#e8590c"), ("saved", "#2f9e44")];
    for (i, d) in days.iter().enumerate() {
        let x = f.pad + i as f64 * slot + slot * 0.15;
        for (j, ((label, color), v)) in kinds.iter().zip([d.cost_usd, d.cost_saved_usd]).enumerate()
        {
            if v <= 0.0 {
                continue;
            }
            let bh = v * scale;
            svg.push_str(&format!(
                r#"<rect x="{:.1}" y="{:.1}" width="{bar:.1}" height="{bh:.1}" fill="{color}" data-day="{}" data-kind="{label}" data-usd="{v:.8}"><title>{} {label}: ${v:.6}</title></rect>"#,
                x + j as f64 * bar,
                f.base() - bh,
                d.key,
                d.key
            ));
        }
        f.day_label(&mut svg, i, x + bar, &d.key);
    }
    f.close(
        svg,
        &[("spent upstream", "#e8590c"), ("saved by cache", "#2f9e44")],
        130.0,
    )
}

/// One day's latency percentiles per cache outcome (HIT, HIT-SEMANTIC, MISS), in ms; `None` for
/// an outcome with no requests that day.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LatencyDay {
    pub key: String,
    pub by_status: [Option<Percentiles>; 3],
}

#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Percentiles {
    pub requests: u64,
    pub p50_ms: f64,
    pub p95_ms: f64,
}

/// Per-day latency from `latency_daily` rows, every day from `from` to `to` present.
pub fn latency_by_day(rows: &[LatencyRow], from: NaiveDate, to: NaiveDate) -> Vec<LatencyDay> {
    let mut days: Vec<LatencyDay> = each_day(from, to)
        .map(|key| LatencyDay {
            key,
            ..Default::default()
        })
        .collect();
    for row in rows {
        let status = COLORS.iter().position(|(s, _)| *s == row.cache_status);
        let day = days.iter_mut().find(|d| d.key == row.day);
        if let (Some(i), Some(day)) = (status, day) {
            day.by_status[i] = Some(Percentiles {
                requests: row.requests,
                p50_ms: row.p50_ms,
                p95_ms: row.p95_ms,
            });
        }
    }
    days
}

/// The latency chart in words: the worst day's p95 for each cache outcome.
pub fn latency_summary(days: &[LatencyDay]) -> String {
    let worst: Vec<String> = COLORS
        .iter()
        .enumerate()
        .filter_map(|(i, (label, _))| {
            let p95 = days
                .iter()
                .filter_map(|d| d.by_status[i].map(|p| p.p95_ms))
                .fold(None, |m: Option<f64>, v| Some(m.map_or(v, |m| m.max(v))))?;
            Some(format!("{label} {p95:.0} ms"))
        })
        .collect();
    let worst = if worst.is_empty() {
        "no requests".to_string()
    } else {
        format!("highest daily p95: {}", worst.join(", "))
    };
    format!("Latency per day by cache outcome (p50 dark, p95 light, ms): {worst}")
}

/// Per day, one bar per cache outcome: p95 (light) with p50 (dark) inside it.
pub fn latency_svg(days: &[LatencyDay]) -> String {
    let f = Frame::new(200.0, days.len());
    let max = days
        .iter()
        .flat_map(|d| d.by_status.iter().flatten().map(|p| p.p95_ms))
        .fold(0.0_f64, f64::max);
    let (slot, scale) = (f.slot(), f.scale(max));
    let bar = (slot * 0.25).max(1.5);
    let mut svg = f.open(&latency_summary(days), &format!("{max:.0} ms"), "");
    for (i, d) in days.iter().enumerate() {
        let x0 = f.pad + i as f64 * slot + slot * 0.125;
        for (j, ((label, color), p)) in COLORS.iter().zip(&d.by_status).enumerate() {
            let Some(p) = p else { continue };
            let x = x0 + j as f64 * bar;
            let (h95, h50) = (p.p95_ms * scale, p.p50_ms * scale);
            svg.push_str(&format!(
                r#"<g data-day="{}" data-kind="{label}" data-p50="{:.0}" data-p95="{:.0}" data-requests="{}"><title>{} {label}: p50 {:.0} ms, p95 {:.0} ms ({} requests)</title><rect x="{x:.1}" y="{:.1}" width="{bar:.1}" height="{h95:.1}" fill="{color}" fill-opacity="0.35"/><rect x="{x:.1}" y="{:.1}" width="{bar:.1}" height="{h50:.1}" fill="{color}"/></g>"#,
                d.key, p.p50_ms, p.p95_ms, p.requests, d.key, p.p50_ms, p.p95_ms, p.requests,
                f.base() - h95,
                f.base() - h50,
            ));
        }
        f.day_label(&mut svg, i, x0 + bar * 1.5, &d.key);
    }
    f.close(svg, &COLORS, 110.0)
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
    fn latency_days_are_filled_and_drawn_per_outcome() {
        let rows: Vec<LatencyRow> = [
            ("2026-11-20", "HIT", 4, 3.0, 9.0),
            ("2026-11-20", "MISS", 2, 120.0, 480.0),
            ("2026-11-21", "HIT-SEMANTIC", 1, 6.0, 6.0),
            ("2026-11-21", "BOGUS", 1, 1.0, 1.0),
        ]
        .into_iter()
        .map(|(day, s, n, p50, p95)| LatencyRow {
            day: day.into(),
            cache_status: s.into(),
            requests: n,
            p50_ms: p50,
            p95_ms: p95,
        })
        .collect();
        let days = latency_by_day(&rows, d("2026-11-19"), d("2026-11-21"));
        assert_eq!(days.len(), 3);
        assert_eq!(days[0].by_status, [None, None, None]);
        assert_eq!(days[1].by_status[2].unwrap().p95_ms, 480.0);
        assert_eq!(days[2].by_status[1].unwrap().requests, 1);
        let svg = latency_svg(&days);
        assert_eq!(
            svg.matches("<g data-day=").count(),
            3,
            "one bar per outcome with requests"
        );
        assert!(svg.contains(r#"data-day="2026-11-20" data-kind="MISS" data-p50="120" data-p95="480" data-requests="2""#));
        assert!(svg.contains("highest daily p95: HIT 9 ms, HIT-SEMANTIC 6 ms, MISS 480 ms"));
        assert!(latency_summary(&days[..1]).ends_with("no requests"));
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
