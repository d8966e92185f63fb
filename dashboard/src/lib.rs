//! WatchLLM dashboard: a Leptos app rendered on the server (a Cloudflare Worker) with plain HTML
//! forms, so every page works without client-side wasm. Pure parts (JWT checks, charts, views)
//! build and are unit tested natively; the Worker glue in `worker_glue`
//! (wasm32 only, one module per resource) does the I/O.

pub mod charts;
pub mod cookies;
pub mod csp;
pub mod csv;
pub mod dates;
pub mod docs;
pub mod emails;
pub mod error;
pub mod forms;
pub mod jwt;
pub mod query;
pub mod rows;
pub mod stripe;
pub mod telemetry;
pub mod views;

#[cfg(target_arch = "wasm32")]
mod worker_glue;
