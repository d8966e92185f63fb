//! Wall-clock time in Unix milliseconds. In a Worker `SystemTime::now()` panics
//! (wasm32-unknown-unknown has no clock), so the JavaScript `Date.now()` is read there (one call,
//! no `Date` object: a request reads the clock some thirty times); native builds (unit tests,
//! tools) use the system clock.

/// Milliseconds since the Unix epoch.
#[cfg(target_arch = "wasm32")]
pub fn now_ms() -> u64 {
    worker::js_sys::Date::now() as u64
}

/// Milliseconds since the Unix epoch.
#[cfg(not(target_arch = "wasm32"))]
pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    #[test]
    fn now_is_after_2025_and_moves_forward() {
        let a = super::now_ms();
        assert!(a > 1_735_689_600_000, "after 2025-01-01");
        std::thread::sleep(std::time::Duration::from_millis(2));
        assert!(super::now_ms() > a);
    }
}
