//! Provider keys at rest: AES-256-GCM with a key from a Worker secret. Stored form:
//! `v1:<base64(12-byte nonce || ciphertext || tag)>`. Only decrypted in memory to call a provider.

use aes_gcm::aead::{Aead, KeyInit};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;

#[derive(Debug, PartialEq, Eq)]
pub enum SecretError {
    BadKey,
    BadFormat,
    Decrypt,
}

fn cipher(key_b64: &str) -> Result<Aes256Gcm, SecretError> {
    let key = B64
        .decode(key_b64.trim())
        .map_err(|_| SecretError::BadKey)?;
    Aes256Gcm::new_from_slice(&key).map_err(|_| SecretError::BadKey)
}

/// Encrypts `plaintext` with a 32-byte base64 key and the given 12-byte nonce (random per call).
pub fn encrypt(key_b64: &str, nonce: [u8; 12], plaintext: &str) -> Result<String, SecretError> {
    let ct = cipher(key_b64)?
        .encrypt(Nonce::from_slice(&nonce), plaintext.as_bytes())
        .map_err(|_| SecretError::Decrypt)?;
    let mut blob = nonce.to_vec();
    blob.extend_from_slice(&ct);
    Ok(format!("v1:{}", B64.encode(blob)))
}

/// Decrypts a stored `v1:` value.
pub fn decrypt(key_b64: &str, stored: &str) -> Result<String, SecretError> {
    let blob = stored.strip_prefix("v1:").ok_or(SecretError::BadFormat)?;
    let blob = B64.decode(blob).map_err(|_| SecretError::BadFormat)?;
    if blob.len() < 12 + 16 {
        return Err(SecretError::BadFormat);
    }
    let (nonce, ct) = blob.split_at(12);
    let pt = cipher(key_b64)?
        .decrypt(Nonce::from_slice(nonce), ct)
        .map_err(|_| SecretError::Decrypt)?;
    String::from_utf8(pt).map_err(|_| SecretError::Decrypt)
}

/// A provider key for display: `sk-...abcd`.
pub fn mask(secret: &str) -> String {
    let tail: String = secret
        .chars()
        .rev()
        .take(4)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect();
    let head: String = secret.chars().take(3).collect();
    format!("{head}...{tail}")
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="; // 32 bytes

    #[test]
    fn round_trips_and_detects_tampering() {
        let stored = encrypt(KEY, [7; 12], "sk-test-123456").unwrap();
        assert!(stored.starts_with("v1:"));
        assert!(!stored.contains("sk-test"));
        assert_eq!(decrypt(KEY, &stored).unwrap(), "sk-test-123456");
        let mut blob = B64.decode(&stored[3..]).unwrap();
        *blob.last_mut().unwrap() ^= 1;
        assert_eq!(
            decrypt(KEY, &format!("v1:{}", B64.encode(blob))),
            Err(SecretError::Decrypt)
        );
        let other = B64.encode([9u8; 32]);
        assert_eq!(decrypt(&other, &stored), Err(SecretError::Decrypt));
        assert_eq!(decrypt(KEY, "plain"), Err(SecretError::BadFormat));
        assert_eq!(decrypt("short", &stored), Err(SecretError::BadKey));
    }

    #[test]
    fn decrypts_what_node_crypto_wrote() {
        // Written by tools/lib/secrets.mjs (Node's aes-256-gcm) with KEY and nonce 000102..0b.
        let stored = "v1:AAECAwQFBgcICQoLXo6WErZ8t4GZ7kKK7nECmtKSq6cz9oZNRqO3+A==";
        assert_eq!(decrypt(KEY, stored).unwrap(), "sk-node-1234");
    }

    #[test]
    fn masks_keys() {
        assert_eq!(mask("sk-abcdefghijkl"), "sk-...ijkl");
    }
}
