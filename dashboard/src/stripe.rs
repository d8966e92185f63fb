//! Stripe billing logic (pure): webhook signature verification (`Stripe-Signature`, HMAC-SHA256
//! over `{t}.{payload}`, with a timestamp tolerance against replays), what a webhook event means
//! for a project's plan, and the form bodies of the Checkout and Customer Portal API calls.
//!
//! Hand-written: the Rust Stripe SDKs (`async-stripe`) bring hyper/tokio transports that do not
//! run on Workers; verification is the documented HMAC scheme and calls are two form POSTs.

use hmac::{Hmac, Mac};
use serde_json::Value;
use sha2::Sha256;

/// Stripe's default tolerance for webhook timestamps.
pub const TOLERANCE_SECS: u64 = 300;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SignatureError {
    MissingHeader,
    Malformed,
    OutsideTolerance,
    NoMatch,
}

impl SignatureError {
    pub fn message(&self) -> &'static str {
        match self {
            SignatureError::MissingHeader => "Missing Stripe-Signature header",
            SignatureError::Malformed => "Unable to extract timestamp and signatures from header",
            SignatureError::OutsideTolerance => "Timestamp outside the tolerance zone",
            SignatureError::NoMatch => {
                "No signatures found matching the expected signature for payload"
            }
        }
    }
}

/// Verifies a webhook the way Stripe's libraries do: any `v1` signature may match.
pub fn verify_signature(
    payload: &[u8],
    header: Option<&str>,
    secret: &str,
    now_secs: u64,
) -> Result<(), SignatureError> {
    let header = header.ok_or(SignatureError::MissingHeader)?;
    let mut timestamp: Option<u64> = None;
    let mut signatures = Vec::new();
    for part in header.split(',') {
        match part.trim().split_once('=') {
            Some(("t", t)) => timestamp = t.parse().ok(),
            Some(("v1", s)) => signatures.push(s.to_string()),
            _ => {}
        }
    }
    let timestamp = timestamp.ok_or(SignatureError::Malformed)?;
    if signatures.is_empty() {
        return Err(SignatureError::NoMatch);
    }
    if now_secs.abs_diff(timestamp) > TOLERANCE_SECS {
        return Err(SignatureError::OutsideTolerance);
    }
    let matches = signatures.iter().any(|sig| {
        let Ok(given) = hex::decode(sig) else {
            return false;
        };
        #[expect(clippy::expect_used, reason = "HMAC takes a key of any length")]
        let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("any key length");
        mac.update(timestamp.to_string().as_bytes());
        mac.update(b".");
        mac.update(payload);
        mac.verify_slice(&given).is_ok()
    });
    if matches {
        Ok(())
    } else {
        Err(SignatureError::NoMatch)
    }
}

/// The parts of a verified webhook body the dashboard records before applying it.
#[derive(Debug, Clone, PartialEq)]
pub struct EventHead {
    /// `evt_...`: letters, digits and `_` only (it goes into a REST filter).
    pub id: String,
    pub kind: String,
    /// `created`, Unix seconds (`now_secs` when absent).
    pub created_secs: u64,
}

/// Reads an event's id, type and creation time; `Err` with the message for a 400.
pub fn event_head(event: &Value, now_secs: u64) -> Result<EventHead, &'static str> {
    let id = event.get("id").and_then(Value::as_str).unwrap_or_default();
    if id.is_empty() || !id.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        return Err("invalid event id");
    }
    Ok(EventHead {
        id: id.to_string(),
        kind: event
            .get("type")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string(),
        created_secs: event
            .get("created")
            .and_then(Value::as_u64)
            .unwrap_or(now_secs),
    })
}

/// What an event asks of the database.
#[derive(Debug, Clone, PartialEq)]
pub enum BillingUpdate {
    /// Set a project's plan (found by id, else by Stripe customer) if the event is newer.
    Plan {
        project_id: Option<String>,
        customer: Option<String>,
        subscription: Option<String>,
        plan: String,
        status: String,
    },
    /// Tell the owner a payment failed.
    PaymentFailed {
        customer: String,
        amount_due: u64,
        currency: String,
        invoice_url: Option<String>,
    },
    Ignore,
}

fn str_at<'a>(v: &'a Value, path: &[&str]) -> Option<&'a str> {
    path.iter().try_fold(v, |v, k| v.get(*k))?.as_str()
}

/// The plan a Stripe price id stands for (`prices`: (price id, plan)).
pub fn plan_for_price<'a>(price: &str, prices: &'a [(String, String)]) -> Option<&'a str> {
    prices
        .iter()
        .find(|(p, _)| p == price)
        .map(|(_, plan)| plan.as_str())
}

/// Interprets a (verified) event.
pub fn interpret(event: &Value, prices: &[(String, String)]) -> BillingUpdate {
    let obj = &event["data"]["object"];
    let customer = obj
        .get("customer")
        .and_then(Value::as_str)
        .map(str::to_string);
    let project_id = str_at(obj, &["metadata", "project_id"])
        .or_else(|| obj.get("client_reference_id").and_then(Value::as_str))
        .map(str::to_string);
    match event
        .get("type")
        .and_then(Value::as_str)
        .unwrap_or_default()
    {
        "checkout.session.completed" if obj["mode"] == "subscription" => {
            let plan =
                str_at(obj, &["metadata", "plan"]).filter(|p| prices.iter().any(|(_, q)| q == p));
            match plan {
                Some(plan) => BillingUpdate::Plan {
                    project_id,
                    customer,
                    subscription: obj
                        .get("subscription")
                        .and_then(Value::as_str)
                        .map(str::to_string),
                    plan: plan.to_string(),
                    status: "active".into(),
                },
                None => BillingUpdate::Ignore,
            }
        }
        t @ ("customer.subscription.created"
        | "customer.subscription.updated"
        | "customer.subscription.deleted") => {
            let status = obj
                .get("status")
                .and_then(Value::as_str)
                .unwrap_or("canceled")
                .to_string();
            let price = str_at(&obj["items"]["data"][0], &["price", "id"]).unwrap_or_default();
            let paid_plan = plan_for_price(price, prices);
            let plan = match (t, status.as_str(), paid_plan) {
                ("customer.subscription.deleted", _, _) => "free",
                (_, "active" | "trialing" | "past_due", Some(plan)) => plan,
                (_, "active" | "trialing" | "past_due", None) => return BillingUpdate::Ignore,
                (_, "incomplete", _) => return BillingUpdate::Ignore,
                _ => "free", // canceled, unpaid, incomplete_expired, paused
            };
            BillingUpdate::Plan {
                project_id,
                customer,
                subscription: obj.get("id").and_then(Value::as_str).map(str::to_string),
                plan: plan.to_string(),
                status,
            }
        }
        "invoice.payment_failed" => match customer {
            Some(customer) => BillingUpdate::PaymentFailed {
                customer,
                amount_due: obj.get("amount_due").and_then(Value::as_u64).unwrap_or(0),
                currency: obj
                    .get("currency")
                    .and_then(Value::as_str)
                    .unwrap_or("usd")
                    .to_string(),
                invoice_url: obj
                    .get("hosted_invoice_url")
                    .and_then(Value::as_str)
                    .map(str::to_string),
            },
            None => BillingUpdate::Ignore,
        },
        _ => BillingUpdate::Ignore,
    }
}

fn form(pairs: &[(&str, &str)]) -> String {
    form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs.iter())
        .finish()
}

/// Body of `POST /v1/checkout/sessions` for a subscription to `price` for a project.
pub fn checkout_form(
    project_id: &str,
    plan: &str,
    price: &str,
    customer: Option<&str>,
    email: &str,
    return_url: &str,
) -> String {
    let success = format!("{return_url}?notice=checkout-complete");
    let cancel = format!("{return_url}?notice=checkout-cancelled");
    let mut pairs = vec![
        ("mode", "subscription"),
        ("line_items[0][price]", price),
        ("line_items[0][quantity]", "1"),
        ("success_url", success.as_str()),
        ("cancel_url", cancel.as_str()),
        ("client_reference_id", project_id),
        ("metadata[project_id]", project_id),
        ("metadata[plan]", plan),
        ("subscription_data[metadata][project_id]", project_id),
        ("subscription_data[metadata][plan]", plan),
    ];
    match customer {
        Some(c) => pairs.push(("customer", c)),
        None => pairs.push(("customer_email", email)),
    }
    form(&pairs)
}

/// Body of `POST /v1/billing_portal/sessions`.
pub fn portal_form(customer: &str, return_url: &str) -> String {
    form(&[("customer", customer), ("return_url", return_url)])
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn sign(payload: &str, secret: &str, t: u64) -> String {
        let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
        mac.update(format!("{t}.{payload}").as_bytes());
        let sig = hex::encode(mac.finalize().into_bytes());
        format!("t={t},v1={sig}")
    }

    #[test]
    fn signature_table() {
        let (payload, secret, t) = (r#"{"id":"evt_1"}"#, "whsec_test", 1_700_000_000u64);
        let good = sign(payload, secret, t);
        type Case<'a> = (Option<String>, &'a str, u64, Result<(), SignatureError>);
        let cases: Vec<Case> = vec![
            (Some(good.clone()), payload, t + 10, Ok(())),
            (
                Some(format!("t={t},v1=00ff,{}", good.split(',').nth(1).unwrap())),
                payload,
                t,
                Ok(()),
            ),
            (
                Some(good.clone()),
                payload,
                t + 301,
                Err(SignatureError::OutsideTolerance),
            ),
            (
                Some(good.clone()),
                r#"{"id":"evt_2"}"#,
                t,
                Err(SignatureError::NoMatch),
            ),
            (
                Some(sign(payload, "whsec_other", t)),
                payload,
                t,
                Err(SignatureError::NoMatch),
            ),
            (
                Some("v1=abcd".into()),
                payload,
                t,
                Err(SignatureError::Malformed),
            ),
            (
                Some(format!("t={t},v0=abcd")),
                payload,
                t,
                Err(SignatureError::NoMatch),
            ),
            (None, payload, t, Err(SignatureError::MissingHeader)),
        ];
        for (header, body, now, expected) in cases {
            assert_eq!(
                verify_signature(body.as_bytes(), header.as_deref(), secret, now),
                expected,
                "{header:?}"
            );
        }
    }

    fn prices() -> Vec<(String, String)> {
        vec![
            ("price_starter".into(), "starter".into()),
            ("price_pro".into(), "pro".into()),
        ]
    }

    #[test]
    fn event_table() {
        let sub = |t: &str, status: &str, price: &str| json!({"type": t, "data": {"object": {"id": "sub_1", "customer": "cus_1", "status": status, "metadata": {"project_id": "p1"}, "items": {"data": [{"price": {"id": price}}]}}}});
        let plan = |plan: &str, status: &str| BillingUpdate::Plan {
            project_id: Some("p1".into()),
            customer: Some("cus_1".into()),
            subscription: Some("sub_1".into()),
            plan: plan.into(),
            status: status.into(),
        };
        let cases = vec![
            (
                sub("customer.subscription.created", "active", "price_starter"),
                plan("starter", "active"),
            ),
            (
                sub("customer.subscription.updated", "active", "price_pro"),
                plan("pro", "active"),
            ),
            (
                sub("customer.subscription.updated", "past_due", "price_pro"),
                plan("pro", "past_due"),
            ),
            (
                sub("customer.subscription.updated", "unpaid", "price_pro"),
                plan("free", "unpaid"),
            ),
            (
                sub("customer.subscription.deleted", "canceled", "price_pro"),
                plan("free", "canceled"),
            ),
            (
                sub("customer.subscription.updated", "active", "price_unknown"),
                BillingUpdate::Ignore,
            ),
            (
                sub("customer.subscription.created", "incomplete", "price_pro"),
                BillingUpdate::Ignore,
            ),
            (
                json!({"type": "checkout.session.completed", "data": {"object": {"mode": "subscription", "client_reference_id": "p1", "customer": "cus_1", "subscription": "sub_1", "metadata": {"plan": "pro"}}}}),
                plan("pro", "active"),
            ),
            (
                json!({"type": "invoice.payment_failed", "data": {"object": {"customer": "cus_1", "amount_due": 9900, "currency": "usd", "hosted_invoice_url": "https://invoice"}}}),
                BillingUpdate::PaymentFailed {
                    customer: "cus_1".into(),
                    amount_due: 9900,
                    currency: "usd".into(),
                    invoice_url: Some("https://invoice".into()),
                },
            ),
            (
                json!({"type": "charge.refunded", "data": {"object": {}}}),
                BillingUpdate::Ignore,
            ),
        ];
        for (event, expected) in cases {
            assert_eq!(interpret(&event, &prices()), expected, "{event}");
        }
    }

    #[test]
    fn event_heads_need_a_safe_id() {
        let head = event_head(
            &json!({"id": "evt_1A", "type": "invoice.paid", "created": 5}),
            9,
        )
        .unwrap();
        assert_eq!(
            head,
            EventHead {
                id: "evt_1A".into(),
                kind: "invoice.paid".into(),
                created_secs: 5
            }
        );
        assert_eq!(
            event_head(&json!({"id": "evt_1"}), 9).unwrap().created_secs,
            9
        );
        for bad in [
            json!({}),
            json!({"id": ""}),
            json!({"id": "evt_1&id=neq.x"}),
            json!({"id": 7}),
        ] {
            assert_eq!(event_head(&bad, 9), Err("invalid event id"), "{bad}");
        }
    }

    #[test]
    fn checkout_and_portal_forms_are_url_encoded() {
        let f = checkout_form(
            "p1",
            "pro",
            "price_pro",
            None,
            "a+b@c.d",
            "http://x/projects/p1",
        );
        assert!(f.contains("mode=subscription"));
        assert!(f.contains("line_items%5B0%5D%5Bprice%5D=price_pro"));
        assert!(f.contains("customer_email=a%2Bb%40c.d"));
        assert!(f.contains("client_reference_id=p1"));
        assert!(
            checkout_form("p1", "pro", "price_pro", Some("cus_1"), "e", "u")
                .contains("customer=cus_1")
        );
        assert_eq!(
            portal_form("cus_1", "http://x/p?a=1"),
            "customer=cus_1&return_url=http%3A%2F%2Fx%2Fp%3Fa%3D1"
        );
    }
}
