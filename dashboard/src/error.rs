//! What can go wrong while the dashboard answers a page, as one enum: each kind has its HTTP
//! status and its own page, so a visitor learns whether to fix a link, try again later or tell us,
//! and the log line says which dependency failed. Form mistakes are not errors here: they are shown
//! on the form's own page ([`crate::forms::FormError`]).

use crate::views::{self, Chrome};
use worker_util::HttpError;

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum DashError {
    /// No such page, or a project or key the signed-in user does not own (never told apart, so
    /// ids cannot be probed).
    #[error("not found")]
    NotFound,
    /// A request the dashboard cannot serve as asked (e.g. a filter value it does not know); the
    /// message is written for the visitor and shown on the page.
    #[error("bad request: {0}")]
    BadRequest(String),
    /// A service the page needs (Supabase, Stripe, Resend) answered with an error.
    #[error("{service} failed: {detail}")]
    Upstream {
        service: &'static str,
        detail: String,
    },
    /// A service the page needs did not answer in time or could not be reached.
    #[error("{service} unavailable: {detail}")]
    Unavailable {
        service: &'static str,
        detail: String,
    },
    /// A bug or a misconfiguration on our side.
    #[error("internal error: {0}")]
    Internal(String),
}

impl From<crate::query::QueryError> for DashError {
    fn from(e: crate::query::QueryError) -> DashError {
        DashError::BadRequest(e.to_string())
    }
}

impl DashError {
    /// A failed call to `service`: no answer (or none in time) is [`DashError::Unavailable`], an
    /// error answer is [`DashError::Upstream`].
    pub fn from_http(service: &'static str, e: HttpError) -> DashError {
        let detail = e.to_string();
        match e {
            HttpError::Status { .. } => DashError::Upstream { service, detail },
            HttpError::Timeout { .. } | HttpError::Network { .. } => {
                DashError::Unavailable { service, detail }
            }
            HttpError::Invalid { .. } => DashError::Internal(detail),
        }
    }

    pub fn status(&self) -> u16 {
        match self {
            DashError::NotFound => 404,
            DashError::BadRequest(_) => 400,
            DashError::Upstream { .. } => 502,
            DashError::Unavailable { .. } => 503,
            DashError::Internal(_) => 500,
        }
    }

    /// The page for this error: what happened and what to do, never the internal detail (a bad
    /// request's message is the visitor's own mistake, so it is shown).
    pub fn page(&self, chrome: &Chrome) -> String {
        let (title, message) = match self {
            DashError::NotFound => (
                "Not found",
                "There is nothing here, or it belongs to another account.",
            ),
            DashError::BadRequest(message) => {
                ("That request could not be served", message.as_str())
            }
            DashError::Upstream { .. } => (
                "A service we depend on failed",
                "Your change may not have been saved. Please try again in a moment.",
            ),
            DashError::Unavailable { .. } => (
                "Temporarily unavailable",
                "A service we depend on is not answering. Please try again in a minute.",
            ),
            DashError::Internal(_) => (
                "Something went wrong",
                "Please try again. If it keeps happening, tell us at support@watchllm.dev.",
            ),
        };
        views::error_page(self.status(), title, message, chrome)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn http_failures_map_to_kinds_and_statuses() {
        let status = HttpError::Status {
            target: "https://db/rest/v1/projects".into(),
            status: 500,
            body: "boom".into(),
        };
        let e = DashError::from_http("supabase", status);
        assert_eq!(e.status(), 502);
        assert_eq!(
            e.to_string(),
            "supabase failed: https://db/rest/v1/projects: HTTP 500 boom"
        );
        let timeout = HttpError::Timeout {
            target: "https://api.stripe.com/v1/x".into(),
            ms: 10,
        };
        assert_eq!(DashError::from_http("stripe", timeout).status(), 503);
        let invalid = HttpError::Invalid {
            target: "x".into(),
            detail: "bad header".into(),
        };
        assert_eq!(DashError::from_http("resend", invalid).status(), 500);
        assert_eq!(DashError::NotFound.status(), 404);
        assert_eq!(DashError::BadRequest("x".into()).status(), 400);
    }

    #[test]
    fn each_kind_has_its_own_page_without_internal_detail() {
        let kinds = [
            DashError::NotFound,
            DashError::BadRequest("Unknown range 'x'.".into()),
            DashError::Upstream {
                service: "supabase",
                detail: "secret detail".into(),
            },
            DashError::Unavailable {
                service: "stripe",
                detail: "secret detail".into(),
            },
            DashError::Internal("secret detail".into()),
        ];
        let chrome = Chrome {
            email: Some("a@b.c".into()),
            ..Default::default()
        };
        let pages: Vec<String> = kinds.iter().map(|k| k.page(&chrome)).collect();
        for (kind, page) in kinds.iter().zip(&pages) {
            assert!(page.starts_with("<!DOCTYPE html>"), "{kind:?}");
            assert!(!page.contains("secret detail"), "{kind:?}");
            assert!(page.contains("a@b.c"), "signed-in header");
        }
        let titles: std::collections::HashSet<_> = pages
            .iter()
            .map(|p| p.split("<h1").nth(1).unwrap().to_string())
            .collect();
        assert_eq!(titles.len(), kinds.len(), "one page per kind");
        assert!(pages[0].contains("Not found") && pages[0].contains(r#"href="/projects""#));
        assert!(
            pages[1].contains("Unknown range &#x27;x&#x27;.")
                || pages[1].contains("Unknown range 'x'.")
        );
    }
}
