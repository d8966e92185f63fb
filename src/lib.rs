//! WatchLLM edge proxy: an OpenAI-compatible caching proxy for LLM APIs on Cloudflare Workers.
//!
//! The pure logic lives in plain modules that build and are unit tested natively (`cargo test`);
//! the Worker glue in [`worker_glue`] (wasm32 only) is a thin I/O layer over them.

pub mod api_key;
pub mod cache_entry;
pub mod cache_key;
pub mod controls;
pub mod embedding;
pub mod error;
pub mod guards;
pub mod literals;
pub mod lookup_plan;
pub mod models;
pub mod normalize;
pub mod observability;
pub mod providers;
pub mod rate_limit;
pub mod request;
pub mod secrets;
pub mod semantic;
pub mod sse;
pub mod usage;
pub mod watchllm_headers;

#[cfg(all(target_arch = "wasm32", feature = "worker"))]
mod worker_glue;

#[cfg(all(target_arch = "wasm32", feature = "wasm-bench"))]
mod wasm_bench;
