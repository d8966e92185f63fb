//! What both WatchLLM Workers (the proxy and the dashboard) need from the Workers platform, written
//! once: configuration from vars and secrets ([`env`]), the clock ([`clock`]), random bytes
//! ([`random`]), one outbound-HTTP helper with a deadline and a typed error ([`http`]), a
//! per-isolate "at most N per window" counter for things like error reports ([`throttle`]), the
//! two ends of a streamed body passed on chunk by chunk ([`pipe`]), and where Rust futures run
//! ([`futures_queue`]).
//!
//! The request and reply types, the errors, the clock and random bytes build natively, so code that
//! uses them can be unit tested with `cargo test`; reading the environment and sending requests exist
//! only on wasm32, where the Workers runtime provides them.

pub mod clock;
#[cfg(target_arch = "wasm32")]
pub mod env;
#[cfg(target_arch = "wasm32")]
pub mod futures_queue;
pub mod http;
#[cfg(target_arch = "wasm32")]
pub mod pipe;
pub mod random;
pub mod throttle;

pub use clock::now_ms;
pub use http::{HttpError, Method, Outbound, Reply};
pub use random::{random_bytes, random_hex};
pub use throttle::Throttle;
