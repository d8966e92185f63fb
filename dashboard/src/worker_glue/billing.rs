//! Billing with Stripe: Checkout and the Customer Portal (the browser is sent to a session
//! Stripe creates), and the webhook that applies subscription changes and payment failures.
//!
//! The webhook verifies the signature, then claims the event in `stripe_events` before applying
//! it: the table's primary key lets exactly one delivery through, concurrent re-deliveries
//! included. If applying fails, the claim is dropped and the 500 makes Stripe deliver it again.

use super::config::Config;
use super::mail::send_email;
use super::projects::ProjectCtx;
use super::respond::{json as json_response, redirect};
use super::supabase;
use crate::emails;
use crate::error::DashError;
use crate::forms::{self, Fields, FormError};
use crate::rows::BillingProjectRow;
use crate::stripe::{self, BillingUpdate, EventHead};
use serde_json::{json, Value};
use worker::{Request, Response};
use worker_util::http::{send, Outbound};
use worker_util::now_ms;

/// `POST /projects/<id>/billing/checkout`: a subscription to the chosen paid plan.
pub async fn checkout(ctx: &ProjectCtx<'_>, form: &Fields) -> Result<Response, DashError> {
    let stripe_cfg = &ctx.cfg.stripe;
    let price = forms::checkout_plan(form).ok().and_then(|plan| {
        let price = stripe_cfg.prices.iter().find(|(_, p)| p == plan)?;
        Some((plan, price.0.clone()))
    });
    let (Some((plan, price)), false) = (price, stripe_cfg.secret_key.is_empty()) else {
        return ctx.form_error(FormError::BillingPlan).await;
    };
    let body = stripe::checkout_form(
        ctx.id(),
        plan,
        &price,
        ctx.project.stripe_customer_id.as_deref(),
        &ctx.user.email,
        &ctx.cfg.project_url(ctx.id()),
    );
    stripe_redirect(ctx, "/v1/checkout/sessions", body).await
}

/// `POST /projects/<id>/billing/portal`: only once the project has a Stripe customer.
pub async fn portal(ctx: &ProjectCtx<'_>) -> Result<Response, DashError> {
    let customer = ctx.project.stripe_customer_id.as_deref();
    let Some(customer) = customer.filter(|_| !ctx.cfg.stripe.secret_key.is_empty()) else {
        return ctx.form_error(FormError::NoSubscription).await;
    };
    let body = stripe::portal_form(customer, &ctx.cfg.project_url(ctx.id()));
    stripe_redirect(ctx, "/v1/billing_portal/sessions", body).await
}

/// Creates a Checkout or Portal session and sends the browser to it.
async fn stripe_redirect(
    ctx: &ProjectCtx<'_>,
    path: &str,
    body: String,
) -> Result<Response, DashError> {
    let stripe_cfg = &ctx.cfg.stripe;
    let out = Outbound::post(format!("{}{path}", stripe_cfg.api_base))
        .bearer(&stripe_cfg.secret_key)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body);
    let reply = send(&out)
        .await
        .map_err(|e| DashError::from_http("stripe", e))?;
    let url = reply
        .json::<Value>()
        .ok()
        .and_then(|v| v.get("url")?.as_str().map(str::to_string));
    match url {
        Some(url) if reply.status == 200 => Ok(redirect(&url)?),
        _ => {
            worker::console_error!("stripe {path}: HTTP {} {}", reply.status, reply.text());
            ctx.form_error(FormError::StripeSession).await
        }
    }
}

/// `POST /stripe/webhook`.
pub async fn webhook(req: &mut Request, cfg: &Config) -> Result<Response, DashError> {
    let reply = |status: u16, body: Value| Ok(json_response(status, body)?);
    if cfg.stripe.webhook_secret.is_empty() {
        return reply(503, json!({"error": "webhooks are not configured"}));
    }
    let payload = req.bytes().await?;
    let header = req.headers().get("stripe-signature")?;
    let now_secs = now_ms() / 1000;
    if let Err(e) = stripe::verify_signature(
        &payload,
        header.as_deref(),
        &cfg.stripe.webhook_secret,
        now_secs,
    ) {
        return reply(400, json!({"error": e.message()}));
    }
    let Ok(event) = serde_json::from_slice::<Value>(&payload) else {
        return reply(400, json!({"error": "invalid JSON"}));
    };
    let head = match stripe::event_head(&event, now_secs) {
        Ok(head) => head,
        Err(message) => return reply(400, json!({"error": message})),
    };
    let created_at = watchllm_proxy::observability::iso8601(head.created_secs * 1000);
    let claim = json!({"id": head.id, "type": head.kind, "created": created_at});
    match supabase::insert_status(cfg, "stripe_events", &claim).await? {
        409 => return reply(200, json!({"received": true, "duplicate": true})),
        s if s >= 300 => return reply(503, json!({"error": "could not record the event"})),
        _ => {}
    }
    if let Err(e) = apply(cfg, &event, &created_at).await {
        release(cfg, &head).await;
        worker::console_error!("stripe event {} not applied: {e}", head.id);
        return reply(500, json!({"error": "event not applied; retry"}));
    }
    reply(200, json!({"received": true}))
}

/// Drops an event's claim, so Stripe's next delivery applies it.
async fn release(cfg: &Config, head: &EventHead) {
    if let Err(e) = supabase::delete(cfg, &format!("stripe_events?id=eq.{}", head.id)).await {
        worker::console_error!("stripe event {}: claim not released: {e}", head.id);
    }
}

/// What a verified, newly claimed event does to the database and the owner's inbox.
async fn apply(cfg: &Config, event: &Value, created_at: &str) -> Result<(), DashError> {
    match stripe::interpret(event, &cfg.stripe.prices) {
        BillingUpdate::Plan {
            project_id,
            customer,
            subscription,
            plan,
            status,
        } => {
            let args = json!({
                "p_plan": plan, "p_status": status, "p_event_at": created_at,
                "p_project": project_id.filter(|p| forms::is_uuid(p)),
                "p_customer": customer, "p_subscription": subscription,
            });
            let _: Value = supabase::rpc(cfg, "apply_subscription_event", &args).await?;
        }
        BillingUpdate::PaymentFailed {
            customer,
            amount_due,
            currency,
            invoice_url,
        } => {
            let customer_q: String = form_urlencoded::byte_serialize(customer.as_bytes()).collect();
            let found: Vec<BillingProjectRow> = supabase::select(
                cfg,
                &format!("projects?stripe_customer_id=eq.{customer_q}&select=id,name"),
            )
            .await?;
            let Some(p) = found.first() else {
                return Ok(());
            };
            let owner: Value =
                supabase::rpc(cfg, "project_owner_email", &json!({"p_project": p.id})).await?;
            if let Some(to) = owner.as_str() {
                let email = emails::payment_failed(
                    &cfg.resend.from,
                    to,
                    &p.name,
                    amount_due,
                    &currency,
                    invoice_url.as_deref(),
                    &cfg.project_url(&p.id),
                );
                // Resend down: fail, so Stripe delivers the event again and the owner is told.
                if !cfg.resend.api_key.is_empty() && !send_email(cfg, &email).await {
                    return Err(DashError::Unavailable {
                        service: "resend",
                        detail: "payment-failed email not sent".into(),
                    });
                }
            }
        }
        BillingUpdate::Ignore => {}
    }
    Ok(())
}
