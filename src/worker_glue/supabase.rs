//! A minimal Supabase REST (PostgREST) client over the Workers fetch API, authenticated with the
//! service-role key (`apikey` header plus `Authorization: Bearer`), as Supabase's gateway requires.

use super::http::{body_with_timeout, fetch_with_timeout, FetchError};
use serde_json::Value;
use worker::{Headers, Method, Request, RequestInit};

#[derive(Debug)]
pub enum SupabaseError {
    NotConfigured,
    Unreachable(FetchError),
    Http(u16, String),
}

impl std::fmt::Display for SupabaseError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SupabaseError::NotConfigured => write!(f, "Supabase is not configured"),
            SupabaseError::Unreachable(e) => write!(f, "Supabase unreachable: {e}"),
            SupabaseError::Http(s, b) => write!(f, "Supabase HTTP {s}: {b}"),
        }
    }
}

pub struct Supabase<'a> {
    pub url: &'a str,
    pub service_key: &'a str,
    pub timeout_ms: u64,
}

impl Supabase<'_> {
    async fn send(
        &self,
        method: Method,
        path_and_query: &str,
        body: Option<&Value>,
        prefer: Option<&str>,
    ) -> Result<Vec<u8>, SupabaseError> {
        if self.url.is_empty() {
            return Err(SupabaseError::NotConfigured);
        }
        let headers = Headers::new();
        let _ = headers.set("apikey", self.service_key);
        let _ = headers.set("authorization", &format!("Bearer {}", self.service_key));
        let _ = headers.set("accept", "application/json");
        if body.is_some() {
            let _ = headers.set("content-type", "application/json");
        }
        if let Some(p) = prefer {
            let _ = headers.set("prefer", p);
        }
        let mut init = RequestInit::new();
        init.with_method(method)
            .with_headers(headers)
            .with_body(body.map(|b| b.to_string().into()));
        let url = format!("{}/rest/v1/{path_and_query}", self.url);
        let req = Request::new_with_init(&url, &init)
            .map_err(|e| SupabaseError::Http(0, e.to_string()))?;
        let mut resp = fetch_with_timeout(req, self.timeout_ms)
            .await
            .map_err(SupabaseError::Unreachable)?;
        let bytes = body_with_timeout(&mut resp, self.timeout_ms)
            .await
            .map_err(SupabaseError::Unreachable)?;
        let status = resp.status_code();
        if status >= 300 {
            return Err(SupabaseError::Http(
                status,
                String::from_utf8_lossy(&bytes).into_owned(),
            ));
        }
        Ok(bytes)
    }

    /// `GET /rest/v1/<path_and_query>`: rows as a JSON array.
    pub async fn select(&self, path_and_query: &str) -> Result<Vec<Value>, SupabaseError> {
        let bytes = self.send(Method::Get, path_and_query, None, None).await?;
        serde_json::from_slice(&bytes)
            .map_err(|e| SupabaseError::Http(200, format!("not a JSON array: {e}")))
    }

    /// `POST /rest/v1/<table>` with `Prefer: return=minimal`.
    pub async fn insert(&self, table: &str, row: &Value) -> Result<(), SupabaseError> {
        self.send(Method::Post, table, Some(row), Some("return=minimal"))
            .await
            .map(|_| ())
    }
}
