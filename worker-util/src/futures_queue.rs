//! Where Rust futures run. wasm-bindgen polls every woken future from one queue, which it
//! schedules with `queueMicrotask` if the global has one when the queue is first used, and else as
//! a job on an already-resolved promise. workerd's `queueMicrotask` wraps each callback in a C++
//! function that carries the AsyncLocalStorage context along (a new wrapper and a V8 global handle
//! per call); a promise job is V8's alone, and Rust futures carry no such context. Every await of a
//! request goes through that queue, so a Worker hides `queueMicrotask` from it while it is set up,
//! at start; JavaScript still sees the platform's own.
//!
//! In `npm run bench:miss` (interleaved builds, 300 pairs each), workerd's CPU per streamed MISS
//! went from 5.35 to 5.09 ms, per MISS from 3.05 to 2.94 ms (README, "Performance").

/// Sets wasm-bindgen's future queue up on promise jobs. Call once, first thing at start, before
/// anything is awaited or spawned (the queue looks for `queueMicrotask` once).
#[cfg(target_arch = "wasm32")]
pub fn run_futures_on_promise_jobs() {
    use worker::js_sys::{global, Reflect};
    use worker::wasm_bindgen::JsValue;

    let global = global();
    let name = JsValue::from_str("queueMicrotask");
    let Ok(platform) = Reflect::get(&global, &name) else {
        return;
    };
    if Reflect::set(&global, &name, &JsValue::UNDEFINED) != Ok(true) {
        return;
    }
    // The queue's first use: it finds no `queueMicrotask` and keeps to promise jobs.
    worker::wasm_bindgen_futures::spawn_local(async {});
    let _ = Reflect::set(&global, &name, &platform);
}
