//! Sending email through Resend (`POST /emails`); the bodies are built by `crate::emails`.

use super::config::Config;
use serde_json::Value;
use worker_util::http::{send, Outbound};

/// Sends one email; false (and logged) when it could not, or when email is not configured.
pub async fn send_email(cfg: &Config, email: &Value) -> bool {
    let resend = &cfg.resend;
    if resend.api_key.is_empty() {
        worker::console_warn!(
            "RESEND_API_KEY is not set; email not sent: {}",
            email["subject"]
        );
        return false;
    }
    let out = Outbound::post(format!("{}/emails", resend.api_base))
        .bearer(&resend.api_key)
        .json(email);
    match send(&out).await.and_then(|r| r.success()) {
        Ok(_) => true,
        Err(e) => {
            worker::console_error!("resend: {e}");
            false
        }
    }
}
