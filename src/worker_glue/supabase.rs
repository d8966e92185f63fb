//! A minimal Supabase REST (PostgREST) client, authenticated with the service-role key (`apikey`
//! header plus `Authorization: Bearer`), as Supabase's gateway requires; over worker-util's HTTP
//! helper.

use serde_json::Value;
use worker_util::{HttpError, Method, Outbound};

#[derive(Debug, thiserror::Error)]
pub enum SupabaseError {
    #[error("Supabase is not configured")]
    NotConfigured,
    #[error("Supabase: {0}")]
    Http(#[from] HttpError),
    #[error("Supabase answered something other than JSON rows: {0}")]
    BadReply(String),
}

pub struct Supabase<'a> {
    pub url: &'a str,
    pub service_key: &'a str,
    pub timeout_ms: u64,
}

impl Supabase<'_> {
    fn request(&self, method: Method, path_and_query: &str) -> Result<Outbound, SupabaseError> {
        if self.url.is_empty() {
            return Err(SupabaseError::NotConfigured);
        }
        Ok(
            Outbound::new(method, format!("{}/rest/v1/{path_and_query}", self.url))
                .header("apikey", self.service_key)
                .bearer(self.service_key)
                .header("accept", "application/json")
                .deadline_ms(self.timeout_ms),
        )
    }

    /// `GET /rest/v1/<path_and_query>`: rows as a JSON array.
    pub async fn select(&self, path_and_query: &str) -> Result<Vec<Value>, SupabaseError> {
        let out = self.request(Method::Get, path_and_query)?;
        let reply = worker_util::http::send(&out).await?.success()?;
        reply
            .json()
            .map_err(|e| SupabaseError::BadReply(e.to_string()))
    }

    /// `POST /rest/v1/<table>` with `Prefer: return=minimal`, within `deadline_ms`.
    pub async fn insert(
        &self,
        table: &str,
        rows: &Value,
        deadline_ms: u64,
    ) -> Result<(), SupabaseError> {
        let out = self
            .request(Method::Post, table)?
            .header("prefer", "return=minimal")
            .json(rows)
            .deadline_ms(deadline_ms);
        worker_util::http::send(&out).await?.success()?;
        Ok(())
    }
}
