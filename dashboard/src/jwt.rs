//! Verifies Supabase access tokens (HS256 JWTs signed with the project's JWT secret).
//!
//! Hand-written over `hmac`/`sha2`: `jsonwebtoken` reads the clock with `SystemTime::now()`, which
//! panics on wasm32-unknown-unknown (Workers), and HS256 verification is a few lines.

use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64URL;
use base64::Engine;
use hmac::{Hmac, Mac};
use serde_json::Value;
use sha2::Sha256;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub id: String,
    pub email: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JwtError {
    Malformed,
    Algorithm,
    Signature,
    Expired,
    NotAUser,
}

/// Checks signature, expiry, audience and role; returns the signed-in user.
pub fn verify(token: &str, secret: &str, now_secs: u64) -> Result<User, JwtError> {
    let mut parts = token.trim().split('.');
    let (Some(h), Some(p), Some(s), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(JwtError::Malformed);
    };
    let header: Value = decode(h)?;
    if header.get("alg").and_then(Value::as_str) != Some("HS256") {
        return Err(JwtError::Algorithm);
    }
    let sig = B64URL.decode(s).map_err(|_| JwtError::Malformed)?;
    let mut mac =
        Hmac::<Sha256>::new_from_slice(secret.as_bytes()).map_err(|_| JwtError::Signature)?;
    mac.update(format!("{h}.{p}").as_bytes());
    mac.verify_slice(&sig).map_err(|_| JwtError::Signature)?;
    let claims: Value = decode(p)?;
    let exp = claims
        .get("exp")
        .and_then(Value::as_u64)
        .ok_or(JwtError::Malformed)?;
    if exp <= now_secs {
        return Err(JwtError::Expired);
    }
    let aud_ok = match claims.get("aud") {
        Some(Value::String(a)) => a == "authenticated",
        Some(Value::Array(list)) => list.iter().any(|a| a == "authenticated"),
        _ => false,
    };
    let role_ok = claims.get("role").and_then(Value::as_str) == Some("authenticated");
    let id = claims
        .get("sub")
        .and_then(Value::as_str)
        .unwrap_or_default();
    if !aud_ok || !role_ok || id.is_empty() {
        return Err(JwtError::NotAUser);
    }
    Ok(User {
        id: id.to_string(),
        email: claims
            .get("email")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string(),
    })
}

fn decode(part: &str) -> Result<Value, JwtError> {
    let bytes = B64URL.decode(part).map_err(|_| JwtError::Malformed)?;
    serde_json::from_slice(&bytes).map_err(|_| JwtError::Malformed)
}

#[cfg(test)]
pub(crate) fn sign(claims: &Value, secret: &str) -> String {
    let h = B64URL.encode(br#"{"alg":"HS256","typ":"JWT"}"#);
    let p = B64URL.encode(claims.to_string());
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(format!("{h}.{p}").as_bytes());
    format!("{h}.{p}.{}", B64URL.encode(mac.finalize().into_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const SECRET: &str = "local-dev-jwt-secret-with-at-least-32-characters";

    #[test]
    fn accepts_a_valid_user_token_and_rejects_every_flaw() {
        let good = json!({"sub": "u-1", "email": "a@b.c", "aud": "authenticated", "role": "authenticated", "exp": 2000});
        assert_eq!(
            verify(&sign(&good, SECRET), SECRET, 1000),
            Ok(User {
                id: "u-1".into(),
                email: "a@b.c".into()
            })
        );
        assert_eq!(
            verify(&sign(&good, SECRET), SECRET, 2000),
            Err(JwtError::Expired)
        );
        assert_eq!(
            verify(&sign(&good, "another-secret"), SECRET, 1000),
            Err(JwtError::Signature)
        );
        let service =
            json!({"role": "service_role", "exp": 2000, "aud": "authenticated", "sub": "x"});
        assert_eq!(
            verify(&sign(&service, SECRET), SECRET, 1000),
            Err(JwtError::NotAUser)
        );
        let t = sign(&good, SECRET);
        let forged_claims = B64URL.encode(good.to_string().replace("u-1", "u-2"));
        let parts: Vec<&str> = t.split('.').collect();
        let tampered = format!("{}.{forged_claims}.{}", parts[0], parts[2]);
        assert_eq!(verify(&tampered, SECRET, 1000), Err(JwtError::Signature));
        let none_alg = format!(
            "{}.{}.",
            B64URL.encode(br#"{"alg":"none"}"#),
            t.split('.').nth(1).unwrap()
        );
        assert_eq!(verify(&none_alg, SECRET, 1000), Err(JwtError::Algorithm));
        assert_eq!(verify("not a jwt", SECRET, 1000), Err(JwtError::Malformed));
    }
}
