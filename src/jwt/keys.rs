//! The keys host-site tokens may be signed with: `SSO_SECRET` (HS256, tokens without `kid`),
//! the JWKS in `SSO_JWKS` (chosen by `kid`), and with `SSO_DEMO` the published demo key. Read
//! once per isolate; a key that cannot be used safely is left out and reported (logged by the
//! caller), never half-used.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde_json::{Map, Value};

use super::Alg;

/// The `kid` of the demo key. Reserved: with `SSO_DEMO` on it always names the demo key.
pub const DEMO_KID: &str = "demo";

/// The demo key, published on purpose (README, the demo pages): anyone can sign with it, so
/// it is accepted only with `SSO_DEMO=true` and only for `demo:` subjects (`DEMO_PREFIX`).
pub const DEMO_SECRET: &str = "edge-messaging-demo-secret-PUBLIC-never-use-in-production";

/// The subjects the demo key may sign in.
pub const DEMO_PREFIX: &str = "demo:";

/// The shortest HMAC key accepted: RFC 7518 §3.2 asks for at least the hash's size.
pub const MIN_HMAC_BYTES: usize = 32;

/// The smallest RSA modulus accepted, in bytes (2048 bits).
const MIN_RSA_BYTES: usize = 256;

/// Key material, public members only (a private key pasted into the JWKS is used as its
/// public half).
#[derive(Clone, PartialEq, Eq)]
pub enum Material {
    /// An HS256 secret.
    Hmac(Vec<u8>),
    /// An RSA public key: modulus and exponent, base64url as in the JWK.
    Rsa { n: String, e: String },
    /// A P-256 public key: its coordinates, base64url.
    P256 { x: String, y: String },
    /// An Ed25519 public key, base64url.
    Ed25519 { x: String },
}

impl Material {
    /// The one algorithm this key verifies: a key never serves another (no algorithm
    /// confusion, RFC 8725 §2.1).
    pub fn alg(&self) -> Alg {
        match self {
            Material::Hmac(_) => Alg::HS256,
            Material::Rsa { .. } => Alg::RS256,
            Material::P256 { .. } => Alg::ES256,
            Material::Ed25519 { .. } => Alg::EdDSA,
        }
    }
}

impl std::fmt::Debug for Material {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Material::Hmac(_) => f.write_str("Hmac(<redacted>)"),
            other => write!(f, "{:?} public key", other.alg()),
        }
    }
}

/// One usable key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Key {
    pub kid: Option<String>,
    pub material: Material,
    /// The published demo key: its tokens may only name `demo:` subjects.
    pub demo: bool,
}

/// Every key tokens may be signed with.
#[derive(Debug, Default)]
pub struct KeySet {
    /// `SSO_SECRET`: HS256 tokens without a `kid`.
    pub secret: Option<Key>,
    /// `SSO_JWKS` (and the demo key), by `kid`.
    pub keys: Vec<Key>,
}

impl KeySet {
    /// The keys of the settings: `secret` (`SSO_SECRET`), `jwks` (`SSO_JWKS`), `demo`
    /// (`SSO_DEMO`). The second value lists what was left out and why, for the log.
    pub fn new(secret: &str, jwks: &str, demo: bool) -> (KeySet, Vec<String>) {
        let mut set = KeySet::default();
        let mut problems = Vec::new();
        if !secret.is_empty() {
            if secret.len() < MIN_HMAC_BYTES {
                problems.push(format!(
                    "SSO_SECRET is ignored: shorter than {MIN_HMAC_BYTES} bytes"
                ));
            } else {
                set.secret = Some(Key {
                    kid: None,
                    material: Material::Hmac(secret.as_bytes().to_vec()),
                    demo: false,
                });
            }
        }
        if demo {
            set.keys.push(Key {
                kid: Some(DEMO_KID.to_string()),
                material: Material::Hmac(DEMO_SECRET.as_bytes().to_vec()),
                demo: true,
            });
        }
        if !jwks.is_empty() {
            for (i, jwk) in jwk_list(jwks, &mut problems).into_iter().enumerate() {
                match parse_jwk(&jwk) {
                    Err(why) => problems.push(format!("SSO_JWKS key {i} is ignored: {why}")),
                    Ok(key) if key.kid.is_some() && set.by_kid(key.kid.as_deref()).is_some() => {
                        problems.push(format!(
                            "SSO_JWKS key {i} is ignored: its kid is already taken{}",
                            if key.kid.as_deref() == Some(DEMO_KID) {
                                " (\"demo\" is reserved)"
                            } else {
                                ""
                            }
                        ))
                    }
                    Ok(key) => set.keys.push(key),
                }
            }
        }
        (set, problems)
    }

    /// No key at all: host-site sign-in is off (404).
    pub fn is_empty(&self) -> bool {
        self.secret.is_none() && self.keys.is_empty()
    }

    /// The key named `kid`.
    pub fn by_kid(&self, kid: Option<&str>) -> Option<&Key> {
        let kid = kid?;
        self.keys.iter().find(|k| k.kid.as_deref() == Some(kid))
    }

    /// The keys a token without `kid` may use for `alg`: `SSO_SECRET` for HS256, the JWKS keys
    /// of the algorithm otherwise (never the demo key, which needs its `kid`).
    pub fn without_kid(&self, alg: Alg) -> Vec<&Key> {
        if alg == Alg::HS256 {
            return self.secret.iter().collect();
        }
        self.keys
            .iter()
            .filter(|k| !k.demo && k.material.alg() == alg)
            .collect()
    }
}

/// The JWK objects of a JWKS (`{"keys": [...]}`, or one bare JWK).
fn jwk_list(jwks: &str, problems: &mut Vec<String>) -> Vec<Map<String, Value>> {
    let objects = |items: Vec<Value>| {
        items
            .into_iter()
            .map(|v| match v {
                Value::Object(m) => m,
                _ => Map::new(), // reported as a key without `kty`
            })
            .collect()
    };
    match serde_json::from_str::<Value>(jwks) {
        Ok(Value::Object(m)) => match m.get("keys") {
            Some(Value::Array(items)) => objects(items.clone()),
            None if m.contains_key("kty") => vec![m],
            _ => {
                problems.push("SSO_JWKS is ignored: expected {\"keys\": [...]}".into());
                Vec::new()
            }
        },
        Ok(_) => {
            problems.push("SSO_JWKS is ignored: expected {\"keys\": [...]}".into());
            Vec::new()
        }
        Err(e) => {
            problems.push(format!("SSO_JWKS is ignored: not JSON ({e})"));
            Vec::new()
        }
    }
}

fn member<'a>(jwk: &'a Map<String, Value>, name: &str) -> Result<&'a str, String> {
    jwk.get(name)
        .and_then(Value::as_str)
        .ok_or_else(|| format!("no `{name}`"))
}

/// A base64url member: its bytes (exactly `len` of them, if given) and its unpadded text, the
/// form WebCrypto's JWK import takes.
fn base64url(
    jwk: &Map<String, Value>,
    name: &str,
    len: Option<usize>,
) -> Result<(Vec<u8>, String), String> {
    let text = member(jwk, name)?.trim_end_matches('=');
    let b = URL_SAFE_NO_PAD
        .decode(text)
        .map_err(|_| format!("`{name}` is not base64url"))?;
    match len {
        Some(n) if b.len() != n => Err(format!("`{name}` is not {n} bytes")),
        _ => Ok((b, text.to_string())),
    }
}

/// A base64url member's unpadded text, once it decodes (to exactly `len` bytes, if given).
fn text(jwk: &Map<String, Value>, name: &str, len: Option<usize>) -> Result<String, String> {
    base64url(jwk, name, len).map(|(_, t)| t)
}

/// One JWK as a key, or why it cannot be used.
fn parse_jwk(jwk: &Map<String, Value>) -> Result<Key, String> {
    let kid = match jwk.get("kid") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) if !s.is_empty() => Some(s.clone()),
        Some(_) => return Err("`kid` is not a string".into()),
    };
    if let Some(u) = jwk.get("use") {
        if u != "sig" {
            return Err("`use` is not \"sig\"".into());
        }
    }
    let material = match member(jwk, "kty")? {
        "oct" => {
            let (k, _) = base64url(jwk, "k", None)?;
            if k.len() < MIN_HMAC_BYTES {
                return Err(format!("`k` is shorter than {MIN_HMAC_BYTES} bytes"));
            }
            Material::Hmac(k)
        }
        "RSA" => {
            let (n, n_text) = base64url(jwk, "n", None)?;
            let significant = n.iter().skip_while(|b| **b == 0).count();
            if significant < MIN_RSA_BYTES {
                return Err("the RSA modulus is shorter than 2048 bits".into());
            }
            Material::Rsa {
                n: n_text,
                e: text(jwk, "e", None)?,
            }
        }
        "EC" => {
            if member(jwk, "crv")? != "P-256" {
                return Err("only the P-256 curve (ES256) is supported".into());
            }
            Material::P256 {
                x: text(jwk, "x", Some(32))?,
                y: text(jwk, "y", Some(32))?,
            }
        }
        "OKP" => {
            if member(jwk, "crv")? != "Ed25519" {
                return Err("only the Ed25519 curve (EdDSA) is supported".into());
            }
            Material::Ed25519 {
                x: text(jwk, "x", Some(32))?,
            }
        }
        other => return Err(format!("unsupported `kty` {other:?}")),
    };
    if let Some(alg) = jwk.get("alg") {
        if alg != material.alg().as_str() {
            return Err(format!(
                "`alg` {alg} does not fit the key (it verifies {})",
                material.alg().as_str()
            ));
        }
    }
    Ok(Key {
        kid,
        material,
        demo: false,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const SECRET: &str = "0123456789abcdef0123456789abcdef";

    fn b64(n: usize, fill: u8) -> String {
        URL_SAFE_NO_PAD.encode(vec![fill; n])
    }

    fn rsa(kid: &str) -> Value {
        json!({"kty": "RSA", "kid": kid, "n": b64(256, 0xc5), "e": "AQAB", "alg": "RS256"})
    }

    fn ec(kid: &str) -> Value {
        json!({"kty": "EC", "crv": "P-256", "kid": kid, "x": b64(32, 1), "y": b64(32, 2)})
    }

    fn keys(jwks: Value) -> (KeySet, Vec<String>) {
        KeySet::new("", &jwks.to_string(), false)
    }

    #[test]
    fn nothing_configured_is_no_keys() {
        let (set, problems) = KeySet::new("", "", false);
        assert!(set.is_empty() && problems.is_empty());
    }

    #[test]
    fn a_short_secret_is_refused_not_used() {
        let (set, problems) = KeySet::new("short", "", false);
        assert!(set.is_empty(), "a 5-byte HMAC key is guessable");
        assert_eq!(problems.len(), 1, "{problems:?}");
        let (set, _) = KeySet::new(SECRET, "", false);
        assert_eq!(set.without_kid(Alg::HS256).len(), 1);
        assert!(set.without_kid(Alg::RS256).is_empty());
    }

    #[test]
    fn jwks_keys_are_found_by_kid_and_bound_to_their_algorithm() {
        let (set, problems) = keys(json!({"keys": [rsa("r1"), ec("e1"),
            {"kty": "OKP", "crv": "Ed25519", "kid": "d1", "x": b64(32, 3)},
            {"kty": "oct", "kid": "h1", "k": b64(32, 4)}]}));
        assert!(problems.is_empty(), "{problems:?}");
        let alg = |kid| set.by_kid(Some(kid)).map(|k| k.material.alg());
        assert_eq!(alg("r1"), Some(Alg::RS256));
        assert_eq!(alg("e1"), Some(Alg::ES256));
        assert_eq!(alg("d1"), Some(Alg::EdDSA));
        assert_eq!(alg("h1"), Some(Alg::HS256));
        assert_eq!(alg("nope"), None);
        assert_eq!(set.without_kid(Alg::ES256).len(), 1);
        assert!(
            set.without_kid(Alg::HS256).is_empty(),
            "oct keys need their kid; only SSO_SECRET serves kid-less HS256"
        );
    }

    #[test]
    fn unusable_keys_are_left_out_with_a_reason() {
        let (set, problems) = keys(json!({"keys": [
            {"kty": "RSA", "kid": "small", "n": b64(128, 0xc5), "e": "AQAB"},
            {"kty": "EC", "crv": "P-384", "kid": "p384", "x": b64(48, 1), "y": b64(48, 2)},
            {"kty": "EC", "crv": "P-256", "kid": "short", "x": b64(31, 1), "y": b64(32, 2)},
            {"kty": "OKP", "crv": "X25519", "kid": "x", "x": b64(32, 1)},
            {"kty": "oct", "kid": "weak", "k": b64(16, 1)},
            {"kty": "RSA", "kid": "enc", "use": "enc", "n": b64(256, 0xc5), "e": "AQAB"},
            {"kty": "RSA", "kid": "lying", "alg": "HS256", "n": b64(256, 0xc5), "e": "AQAB"},
            {"kid": "nokty"},
            "not an object",
            ec("dup"), ec("dup"),
        ]}));
        assert_eq!(set.keys.len(), 1, "only the first `dup`: {:?}", set.keys);
        assert_eq!(problems.len(), 10, "{problems:#?}");
        assert!(problems.iter().any(|p| p.contains("2048 bits")));
        assert!(problems.iter().any(|p| p.contains("does not fit the key")));
    }

    #[test]
    fn a_jwks_that_is_not_one_is_reported() {
        for bad in ["{not json", "[1, 2]", "{\"kids\": []}"] {
            let (set, problems) = KeySet::new("", bad, false);
            assert!(set.is_empty() && problems.len() == 1, "{bad}: {problems:?}");
        }
        let (set, _) = KeySet::new("", &ec("solo").to_string(), false);
        assert_eq!(set.keys.len(), 1, "a bare JWK is a JWKS of one");
    }

    #[test]
    fn the_demo_key_is_only_there_when_asked_for_and_keeps_its_kid() {
        let (set, _) = KeySet::new("", "", true);
        let demo = set.by_kid(Some(DEMO_KID)).expect("the demo key");
        assert!(demo.demo);
        assert!(
            set.without_kid(Alg::HS256).is_empty(),
            "the demo key is never used without its kid"
        );
        let (set, problems) = KeySet::new("", &json!({"keys": [ec("demo")]}).to_string(), true);
        assert!(set.by_kid(Some(DEMO_KID)).unwrap().demo, "reserved");
        assert_eq!(problems.len(), 1);
    }

    #[test]
    fn key_material_never_prints() {
        let (set, _) = KeySet::new(SECRET, "", false);
        let printed = format!("{set:?}");
        assert!(!printed.contains("0123456789"), "{printed}");
    }
}
