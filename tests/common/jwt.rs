//! Host-site tokens (SPEC §3) minted as a site's backend would: the claims a site sends,
//! HS256-signed with the test workers' `SSO_SECRET` (tests/sso.rs adds key pairs).

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use hmac::{Hmac, Mac};
use serde_json::{json, Value};
use sha2::Sha256;

/// The HS256 secret of the test workers that sign people in this way. Test only.
pub const SSO_SECRET: &str = "test-only-sso-secret-0123456789abcdef";

pub fn b64(bytes: impl AsRef<[u8]>) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// Unix seconds.
pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// A site's usual claims for `sub`: our audience, issued now, valid for ten minutes.
pub fn claims(sub: &str) -> Value {
    json!({"sub": sub, "aud": "edge-messaging", "iat": now(), "exp": now() + 600})
}

/// `base64url(header).base64url(claims)`: what a signature covers.
pub fn signing_input(header: &Value, claims: &Value) -> String {
    format!("{}.{}", b64(header.to_string()), b64(claims.to_string()))
}

/// A compact JWS of `header` and `claims`, HMAC-SHA256-signed with `secret`.
pub fn hs256_with(header: &Value, claims: &Value, secret: &[u8]) -> String {
    let input = signing_input(header, claims);
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).unwrap();
    mac.update(input.as_bytes());
    format!("{input}.{}", b64(mac.finalize().into_bytes()))
}

/// An HS256 token signed with `SSO_SECRET`, no `kid`.
pub fn hs256(claims: &Value) -> String {
    hs256_with(
        &json!({"alg": "HS256", "typ": "JWT"}),
        claims,
        SSO_SECRET.as_bytes(),
    )
}
