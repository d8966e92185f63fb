//! Transactional emails as Resend `POST /emails` bodies (pure): payment failed, and usage alerts at
//! 80% and 100% of the plan's monthly requests.

use serde_json::{json, Value};

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn email(from: &str, to: &str, subject: String, text: String) -> Value {
    let html = format!(
        "<div style=\"font-family:system-ui,sans-serif\">{}</div>",
        text.split("\n\n")
            .map(|p| format!("<p>{}</p>", escape(p)))
            .collect::<String>()
    );
    json!({"from": from, "to": [to], "subject": subject, "html": html, "text": text})
}

pub fn payment_failed(
    from: &str,
    to: &str,
    project: &str,
    amount_due_cents: u64,
    currency: &str,
    invoice_url: Option<&str>,
    dashboard_url: &str,
) -> Value {
    let amount = format!(
        "{:.2} {}",
        amount_due_cents as f64 / 100.0,
        currency.to_uppercase()
    );
    let pay = invoice_url
        .map(|u| format!("\n\nPay the invoice: {u}"))
        .unwrap_or_default();
    email(
        from,
        to,
        format!("Payment failed for {project}"),
        format!("We could not charge {amount} for your WatchLLM project \"{project}\". Please update your payment method to keep your plan.{pay}\n\nManage billing: {dashboard_url}"),
    )
}

/// A project's monthly usage, for an alert.
#[derive(Debug, Clone, PartialEq)]
pub struct MonthlyUsage<'a> {
    pub project: &'a str,
    pub plan: &'a str,
    pub used: u64,
    pub limit: u64,
    /// 80 or 100 (% of the limit).
    pub threshold: u32,
}

pub fn usage_alert(from: &str, to: &str, u: &MonthlyUsage<'_>, dashboard_url: &str) -> Value {
    let MonthlyUsage {
        project,
        plan,
        used,
        limit,
        threshold,
    } = u;
    let (subject, what) = if *threshold >= 100 {
        (
            format!("{project} has used all its {plan} requests this month"),
            "has reached its monthly limit",
        )
    } else {
        (
            format!("{project} has used {threshold}% of its {plan} requests this month"),
            "is close to its monthly limit",
        )
    };
    email(
        from,
        to,
        subject,
        format!("Your WatchLLM project \"{project}\" {what}: {used} of {limit} requests on the {plan} plan.\n\nUpgrade or review usage: {dashboard_url}"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resend_bodies_have_the_required_fields() {
        let e = payment_failed(
            "WatchLLM <billing@watchllm.dev>",
            "a@b.c",
            "My <app>",
            9900,
            "usd",
            Some("https://pay"),
            "https://app/projects/p1",
        );
        assert_eq!(e["from"], "WatchLLM <billing@watchllm.dev>");
        assert_eq!(e["to"][0], "a@b.c");
        assert_eq!(e["subject"], "Payment failed for My <app>");
        assert!(e["text"].as_str().unwrap().contains("99.00 USD"));
        assert!(e["html"].as_str().unwrap().contains("My &lt;app&gt;"));
        let mut usage = MonthlyUsage {
            project: "P",
            plan: "free",
            used: 8000,
            limit: 10000,
            threshold: 80,
        };
        let u = usage_alert("f@x.y", "a@b.c", &usage, "https://app");
        assert_eq!(
            u["subject"],
            "P has used 80% of its free requests this month"
        );
        (usage.used, usage.threshold) = (10000, 100);
        let full = usage_alert("f@x.y", "a@b.c", &usage, "https://app");
        assert_eq!(
            full["subject"],
            "P has used all its free requests this month"
        );
    }
}
