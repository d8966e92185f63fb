//! Cryptographically secure random bytes: `crypto.getRandomValues` in a Worker (getrandom's `js`
//! feature), the operating system's generator natively. Keys, nonces and ids come from here.

/// `N` random bytes.
///
/// # Panics
/// Only if the platform has no secure generator, which Workers and supported operating systems
/// always have: carrying on without one would be worse than stopping.
#[expect(
    clippy::expect_used,
    reason = "see Panics: no secure randomness is worse than stopping"
)]
pub fn random_bytes<const N: usize>() -> [u8; N] {
    let mut b = [0u8; N];
    getrandom::getrandom(&mut b).expect("a secure random generator is available");
    b
}

/// `bytes` random bytes as lowercase hex (request ids, event ids).
#[expect(clippy::expect_used, reason = "as random_bytes")]
pub fn random_hex(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    getrandom::getrandom(&mut buf).expect("a secure random generator is available");
    hex::encode(buf)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_differ_and_hex_has_the_asked_length() {
        assert_ne!(random_bytes::<16>(), random_bytes::<16>());
        let h = random_hex(16);
        assert_eq!(h.len(), 32);
        assert!(h
            .chars()
            .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase()));
    }
}
