//! The dashboard's Content-Security-Policy: nothing may load or run unless listed. The one inline
//! script (the usage section's live refresh) is allowed by its SHA-256 hash, so an injected script
//! still cannot run; Simple Analytics' script and pixel hosts are added only when analytics are on
//! for the page. Forms post only to the dashboard (and on to Stripe's hosted pages).

use crate::views::LIVE_SCRIPT;
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use sha2::{Digest, Sha256};

const SA_SCRIPTS: &str = "https://scripts.simpleanalyticscdn.com";
const SA_QUEUE: &str = "https://queue.simpleanalyticscdn.com";

/// `'sha256-...'` of the live-refresh script as it appears between its tags.
pub fn live_script_hash() -> String {
    format!(
        "'sha256-{}'",
        B64.encode(Sha256::digest(LIVE_SCRIPT.as_bytes()))
    )
}

/// The header value for a page (with Simple Analytics' hosts when `analytics`).
pub fn policy(analytics: bool) -> String {
    let (script, connect, img) = if analytics {
        (
            format!(" {SA_SCRIPTS}"),
            format!(" {SA_QUEUE}"),
            format!(" {SA_QUEUE}"),
        )
    } else {
        Default::default()
    };
    format!(
        "default-src 'none'; script-src {}{script}; connect-src 'self'{connect}; \
         style-src 'unsafe-inline'; img-src 'self' data:{img}; \
         form-action 'self' https://checkout.stripe.com https://billing.stripe.com; \
         frame-ancestors 'none'; base-uri 'none'",
        live_script_hash()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scripts_only_by_hash_and_analytics_hosts_only_when_on() {
        let off = policy(false);
        assert!(off.starts_with("default-src 'none'; script-src 'sha256-"));
        assert!(!off.contains("script-src 'unsafe-inline'"));
        assert!(!off.contains("simpleanalytics"));
        let on = policy(true);
        assert!(on.contains(&format!(
            "script-src {} https://scripts.simpleanalyticscdn.com;",
            live_script_hash()
        )));
        assert!(on.contains("connect-src 'self' https://queue.simpleanalyticscdn.com;"));
        assert!(on.contains("img-src 'self' data: https://queue.simpleanalyticscdn.com;"));
    }

    #[test]
    fn the_hash_is_of_the_script_as_served() {
        // echo -n "$(cat views/live.js)" | openssl dgst -sha256 -binary | base64, by construction:
        let expected = B64.encode(Sha256::digest(include_str!("views/live.js").as_bytes()));
        assert_eq!(live_script_hash(), format!("'sha256-{expected}'"));
        assert_eq!(live_script_hash().len(), "'sha256-'".len() + 44);
    }
}
