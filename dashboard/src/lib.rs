//! WatchLLM dashboard: a Leptos app rendered on the server (a Cloudflare Worker) with plain HTML
//! forms, so every page works without client-side wasm. Pure parts (JWT checks, charts, views)
//! build and are unit tested natively; the Worker glue in `app` does the I/O.

pub mod charts;
pub mod emails;
pub mod jwt;
pub mod stripe;
pub mod views;

#[cfg(target_arch = "wasm32")]
mod app;
