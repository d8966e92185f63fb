//! WatchLLM API keys: `lgw_proj_<secret>` (live) and `lgw_test_<secret>` (sandbox).
//! Keys are never stored: Supabase holds only their SHA-256, and lookups go by that hash.

use crate::cache_key::sha256_hex;
use crate::error::ApiError;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyKind {
    Live,
    Test,
}

impl KeyKind {
    pub fn as_str(self) -> &'static str {
        match self {
            KeyKind::Live => "live",
            KeyKind::Test => "test",
        }
    }
}

/// A syntactically valid key taken from the `Authorization` header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PresentedKey {
    pub kind: KeyKind,
    /// SHA-256 hex of the whole key, as stored in `api_keys.key_hash`.
    pub hash: String,
    /// The first characters, safe to log and show (`lgw_proj_ab12…`).
    pub prefix: String,
}

const MIN_SECRET_LEN: usize = 16;
const MAX_SECRET_LEN: usize = 128;

/// Extracts and checks the key from an `Authorization: Bearer ...` header value.
pub fn from_authorization(header: Option<&str>) -> Result<PresentedKey, ApiError> {
    let header = header.map(str::trim).filter(|h| !h.is_empty()).ok_or_else(|| {
        ApiError::invalid_api_key(
            "You didn't provide an API key. Send your WatchLLM key in an Authorization header: 'Authorization: Bearer lgw_proj_...'.",
        )
    })?;
    let token = header
        .strip_prefix("Bearer ")
        .or_else(|| header.strip_prefix("bearer "))
        .map(str::trim)
        .ok_or_else(|| {
            ApiError::invalid_api_key("Malformed Authorization header: expected 'Bearer <key>'.")
        })?;
    parse_key(token)
}

/// Checks a raw key's format and hashes it.
pub fn parse_key(token: &str) -> Result<PresentedKey, ApiError> {
    let (kind, secret) = if let Some(s) = token.strip_prefix("lgw_proj_") {
        (KeyKind::Live, s)
    } else if let Some(s) = token.strip_prefix("lgw_test_") {
        (KeyKind::Test, s)
    } else {
        return Err(ApiError::invalid_api_key(
            "Incorrect API key format: WatchLLM keys start with 'lgw_proj_' or 'lgw_test_'. Find yours in the dashboard.",
        ));
    };
    let well_formed = (MIN_SECRET_LEN..=MAX_SECRET_LEN).contains(&secret.len())
        && secret.bytes().all(|b| b.is_ascii_alphanumeric());
    if !well_formed {
        return Err(ApiError::invalid_api_key(
            "Incorrect API key provided: the key is malformed.",
        ));
    }
    Ok(PresentedKey {
        kind,
        hash: sha256_hex(token.as_bytes()),
        prefix: token[..token.len().min(13)].to_string(),
    })
}

/// A newly issued key: shown once in full, stored as `hash` with `prefix` for display.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewKey {
    pub key: String,
    pub hash: String,
    pub prefix: String,
}

const KEY_ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

/// Builds a key from 32 random bytes (the caller supplies them from a CSPRNG): the kind's prefix
/// and 32 alphanumeric characters, as tools/lib/crypto.mjs does.
pub fn generate(kind: KeyKind, random: &[u8; 32]) -> NewKey {
    let secret: String = random
        .iter()
        .map(|b| KEY_ALPHABET[*b as usize % KEY_ALPHABET.len()] as char)
        .collect();
    let key = format!(
        "{}{secret}",
        match kind {
            KeyKind::Live => "lgw_proj_",
            KeyKind::Test => "lgw_test_",
        }
    );
    NewKey {
        hash: sha256_hex(key.as_bytes()),
        prefix: key[..13].to_string(),
        key,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_live_and_test_keys() {
        let k = from_authorization(Some("Bearer lgw_proj_abcdefghijklmnop1234")).unwrap();
        assert_eq!(k.kind, KeyKind::Live);
        assert_eq!(k.hash, sha256_hex(b"lgw_proj_abcdefghijklmnop1234"));
        assert_eq!(k.prefix, "lgw_proj_abcd");
        assert_eq!(
            from_authorization(Some("Bearer lgw_test_ABCDEFGHIJKLMNOP"))
                .unwrap()
                .kind,
            KeyKind::Test
        );
    }

    #[test]
    fn rejects_missing_and_malformed_keys_with_401() {
        for h in [
            None,
            Some(""),
            Some("Basic abc"),
            Some("Bearer sk-proj-abcdefghijklmnopqrs"),
            Some("Bearer lgw_proj_short"),
            Some("Bearer lgw_proj_has-dash-abcdefghijk"),
        ] {
            let e = from_authorization(h).unwrap_err();
            assert_eq!(e.status, 401, "{h:?}");
            assert_eq!(e.code.as_deref(), Some("invalid_api_key"));
        }
    }

    #[test]
    fn generated_keys_parse_back_to_their_hash() {
        let k = generate(KeyKind::Test, &[7u8; 32]);
        assert!(k.key.starts_with("lgw_test_") && k.key.len() == 41);
        assert_eq!(k.prefix, &k.key[..13]);
        let parsed = parse_key(&k.key).unwrap();
        assert_eq!((parsed.kind, parsed.hash), (KeyKind::Test, k.hash));
    }
}
