//! JSON Web Tokens from a host site (SPEC §3 "Host-site sign-in"), checked locally with no
//! network call: the structure and the key (`parse`), the signature (`verify.rs`: HS256 with
//! the `hmac` crate, RS256/ES256/EdDSA with WebCrypto), then the claims (`claims`). Every
//! refusal is a `Refusal` whose `detail` the API answers with (401).
//!
//! What is refused, and why (RFC 8725, JWT best current practice): `alg: none` and any
//! algorithm but the four; a key used with another algorithm than its own (a key verifies
//! exactly one algorithm, so an HS256 token can never be checked with an RSA public key as its
//! secret); an unknown `kid`; a missing or passed `exp`, or one more than a day ahead; a
//! `nbf`/`iat` in the future; an `aud` that does not name us; a missing or overlong `sub`;
//! `crit` headers (we understand no extension). Clocks may differ by `LEEWAY_SECS`.

mod keys;
mod verify;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde_json::{Map, Value};

pub use keys::{Key, KeySet, Material, DEMO_KID, DEMO_PREFIX, DEMO_SECRET, MIN_HMAC_BYTES};

/// Clock skew allowed between the site and the edge, seconds.
pub const LEEWAY_SECS: i64 = 60;
/// The longest a token may still be valid for: a token is a credential until its `exp`.
pub const MAX_LIFETIME_SECS: i64 = 24 * 3600;
/// Longest `sub`, in code points.
pub const MAX_SUB: usize = 150;
/// Longest token accepted, in bytes.
const MAX_TOKEN: usize = 16 * 1024;

/// The algorithms accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Alg {
    HS256,
    RS256,
    ES256,
    EdDSA,
}

impl Alg {
    pub fn as_str(self) -> &'static str {
        match self {
            Alg::HS256 => "HS256",
            Alg::RS256 => "RS256",
            Alg::ES256 => "ES256",
            Alg::EdDSA => "EdDSA",
        }
    }

    fn parse(name: &str) -> Option<Alg> {
        [Alg::HS256, Alg::RS256, Alg::ES256, Alg::EdDSA]
            .into_iter()
            .find(|a| a.as_str() == name)
    }
}

/// Why a token is refused. Each is a 401 whose `detail` is `detail()`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    Malformed,
    AlgNone,
    UnsupportedAlg,
    Critical,
    UnknownKid,
    AlgMismatch,
    NoKey,
    KidNeeded,
    BadSignature,
    NoExpiry,
    Expired,
    TooLong,
    NotYetValid,
    IssuedInFuture,
    NoAudience,
    WrongAudience,
    NoSubject,
    BadSubject,
    DemoSubject,
}

impl Refusal {
    pub fn detail(self) -> &'static str {
        match self {
            Refusal::Malformed => {
                "Malformed token: expected a signed JWT (header.payload.signature, base64url JSON)."
            }
            Refusal::AlgNone => "Unsigned tokens (alg: none) are not accepted.",
            Refusal::UnsupportedAlg => "Unsupported algorithm: use HS256, RS256, ES256 or EdDSA.",
            Refusal::Critical => {
                "Token has critical header parameters (crit) this server does not understand."
            }
            Refusal::UnknownKid => "Unknown key id (kid).",
            Refusal::AlgMismatch => {
                "The token's algorithm (alg) does not match its key (algorithm confusion)."
            }
            Refusal::NoKey => "No key is configured for this token's algorithm.",
            Refusal::KidNeeded => "Several keys fit this token: name one with kid.",
            Refusal::BadSignature => "Invalid signature.",
            Refusal::NoExpiry => "Token has no expiry (exp).",
            Refusal::Expired => "Token has expired (exp).",
            Refusal::TooLong => "Token expiry (exp) is more than 24 hours ahead.",
            Refusal::NotYetValid => "Token is not valid yet (nbf).",
            Refusal::IssuedInFuture => "Token is issued in the future (iat).",
            Refusal::NoAudience => "Token has no audience (aud).",
            Refusal::WrongAudience => "Token is for another audience (aud).",
            Refusal::NoSubject => "Token has no subject (sub).",
            Refusal::BadSubject => "Token subject (sub) must be a string of 1 to 150 characters.",
            Refusal::DemoSubject => "The demo key signs in demo: subjects only.",
        }
    }
}

/// A token whose structure and key were checked; its signature not yet.
#[derive(Debug)]
pub struct Signed<'k> {
    pub alg: Alg,
    pub key: &'k Key,
    /// `header.payload` as sent: what the signature covers.
    pub input: String,
    pub signature: Vec<u8>,
    payload: Map<String, Value>,
}

/// The claims of a token that passed every check. Optional claims of the wrong JSON type
/// are `None`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claims {
    pub sub: String,
    pub name: Option<String>,
    pub username: Option<String>,
    pub email: Option<String>,
    pub avatar_url: Option<String>,
}

/// What the claims are checked against.
pub struct Rules<'a> {
    /// `SSO_AUDIENCE`.
    pub audience: &'a str,
    /// Unix seconds.
    pub now: i64,
}

/// A compact JWS of `header` and `payload`, HS256-signed with `secret`. The worker verifies
/// and never signs, except as the demo site's stand-in for a site's backend (`demo_token`)
/// and in tests.
pub fn hs256(header: Value, payload: Value, secret: &[u8]) -> String {
    use hmac::{Hmac, Mac};
    let b64 = |v: &Value| URL_SAFE_NO_PAD.encode(v.to_string());
    let input = format!("{}.{}", b64(&header), b64(&payload));
    // HMAC takes a key of any length.
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(secret).expect("HMAC keys of any length");
    mac.update(input.as_bytes());
    format!(
        "{input}.{}",
        URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
    )
}

/// What a site's backend does for its signed-in visitor, with the published demo key: a
/// token for `demo:{slug}` valid for ten minutes (the demo site at `/messages/demo/site/`).
pub fn demo_token(slug: &str, name: &str, audience: &str, now: i64) -> String {
    hs256(
        serde_json::json!({"alg": "HS256", "typ": "JWT", "kid": DEMO_KID}),
        serde_json::json!({"sub": format!("{DEMO_PREFIX}{slug}"), "name": name, "aud": audience,
                           "iat": now, "exp": now + 600}),
        DEMO_SECRET.as_bytes(),
    )
}

/// Checks a token completely: structure and key, signature, claims.
pub async fn verify(token: &str, keys: &KeySet, rules: &Rules<'_>) -> Result<Claims, Refusal> {
    let signed = parse(token, keys)?;
    verify::signature(&signed).await?;
    claims(&signed, rules)
}

fn json_object(part: &str) -> Result<Map<String, Value>, Refusal> {
    let bytes = URL_SAFE_NO_PAD
        .decode(part)
        .map_err(|_| Refusal::Malformed)?;
    match serde_json::from_slice(&bytes) {
        Ok(Value::Object(m)) => Ok(m),
        _ => Err(Refusal::Malformed),
    }
}

/// Reads a compact JWS and chooses its key: `kid` names a key of the JWKS (or the demo key);
/// without `kid`, HS256 uses `SSO_SECRET` and the other algorithms the one JWKS key of their
/// kind. The key must verify exactly the token's `alg`.
pub fn parse<'k>(token: &str, keys: &'k KeySet) -> Result<Signed<'k>, Refusal> {
    let token = token.trim();
    if token.len() > MAX_TOKEN {
        return Err(Refusal::Malformed);
    }
    let mut parts = token.split('.');
    let (Some(h), Some(p), Some(s), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(Refusal::Malformed);
    };
    let header = json_object(h)?;
    let alg = match header.get("alg") {
        Some(Value::String(a)) if a.eq_ignore_ascii_case("none") => return Err(Refusal::AlgNone),
        Some(Value::String(a)) => Alg::parse(a).ok_or(Refusal::UnsupportedAlg)?,
        _ => return Err(Refusal::Malformed),
    };
    if header.contains_key("crit") {
        return Err(Refusal::Critical);
    }
    let payload = json_object(p)?;
    let signature = URL_SAFE_NO_PAD.decode(s).map_err(|_| Refusal::Malformed)?;
    if signature.is_empty() {
        return Err(Refusal::Malformed);
    }
    let key = match header.get("kid") {
        None | Some(Value::Null) => match keys.without_kid(alg).as_slice() {
            [] => return Err(Refusal::NoKey),
            [one] => *one,
            _ => return Err(Refusal::KidNeeded),
        },
        Some(Value::String(kid)) => keys.by_kid(Some(kid)).ok_or(Refusal::UnknownKid)?,
        Some(_) => return Err(Refusal::Malformed),
    };
    if key.material.alg() != alg {
        return Err(Refusal::AlgMismatch);
    }
    Ok(Signed {
        alg,
        key,
        input: format!("{h}.{p}"),
        signature,
        payload,
    })
}

/// A NumericDate claim (seconds, possibly fractional); `Err` when present but not a number.
fn date(payload: &Map<String, Value>, name: &str) -> Result<Option<i64>, ()> {
    match payload.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => v.as_f64().map(|f| Some(f.floor() as i64)).ok_or(()),
    }
}

fn text(payload: &Map<String, Value>, name: &str) -> Option<String> {
    payload
        .get(name)
        .and_then(Value::as_str)
        .map(str::to_string)
}

/// Checks the claims of a token whose signature verified.
pub fn claims(signed: &Signed, rules: &Rules) -> Result<Claims, Refusal> {
    let p = &signed.payload;
    let now = rules.now;
    let exp = date(p, "exp").ok().flatten().ok_or(Refusal::NoExpiry)?;
    if exp + LEEWAY_SECS <= now {
        return Err(Refusal::Expired);
    }
    if exp > now + MAX_LIFETIME_SECS + LEEWAY_SECS {
        return Err(Refusal::TooLong);
    }
    match date(p, "nbf") {
        Ok(Some(nbf)) if nbf > now + LEEWAY_SECS => return Err(Refusal::NotYetValid),
        Err(()) => return Err(Refusal::Malformed),
        _ => {}
    }
    match date(p, "iat") {
        Ok(Some(iat)) if iat > now + LEEWAY_SECS => return Err(Refusal::IssuedInFuture),
        Err(()) => return Err(Refusal::Malformed),
        _ => {}
    }
    let audience_ok = match p.get("aud") {
        None | Some(Value::Null) => return Err(Refusal::NoAudience),
        Some(Value::String(a)) => a == rules.audience,
        Some(Value::Array(list)) => list.iter().any(|a| a == rules.audience),
        Some(_) => false,
    };
    if !audience_ok {
        return Err(Refusal::WrongAudience);
    }
    let sub = match p.get("sub") {
        None | Some(Value::Null) => return Err(Refusal::NoSubject),
        Some(Value::String(s)) => s.clone(),
        Some(_) => return Err(Refusal::BadSubject),
    };
    if sub.trim().is_empty() || sub.chars().count() > MAX_SUB {
        return Err(Refusal::BadSubject);
    }
    if signed.key.demo && !sub.starts_with(DEMO_PREFIX) {
        return Err(Refusal::DemoSubject);
    }
    Ok(Claims {
        sub,
        name: text(p, "name"),
        username: text(p, "username"),
        email: text(p, "email"),
        avatar_url: text(p, "avatar_url"),
    })
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use serde_json::json;

    pub const SECRET: &str = "0123456789abcdef0123456789abcdef-test-only";
    pub const NOW: i64 = 1_800_000_000;

    pub use super::hs256;

    fn b64(v: &Value) -> String {
        URL_SAFE_NO_PAD.encode(v.to_string())
    }

    pub fn good_claims() -> Value {
        json!({"sub": "site-user-1", "aud": "edge-messaging", "exp": NOW + 600, "iat": NOW,
               "name": "Ann Example", "username": "ann", "email": "ann@example.com",
               "avatar_url": "https://example.com/ann.png"})
    }

    fn keys() -> KeySet {
        let jwks = json!({"keys": [
            {"kty": "RSA", "kid": "rsa-1", "n": URL_SAFE_NO_PAD.encode([0xc5u8; 256]), "e": "AQAB"},
            {"kty": "EC", "crv": "P-256", "kid": "ec-1",
             "x": URL_SAFE_NO_PAD.encode([1u8; 32]), "y": URL_SAFE_NO_PAD.encode([2u8; 32])},
            {"kty": "EC", "crv": "P-256", "kid": "ec-2",
             "x": URL_SAFE_NO_PAD.encode([3u8; 32]), "y": URL_SAFE_NO_PAD.encode([4u8; 32])},
        ]});
        KeySet::new(SECRET, &jwks.to_string(), true).0
    }

    fn rules() -> Rules<'static> {
        Rules {
            audience: "edge-messaging",
            now: NOW,
        }
    }

    fn block_on<F: std::future::Future>(f: F) -> F::Output {
        futures_util::FutureExt::now_or_never(f).expect("HS256 is synchronous natively")
    }

    fn check(token: &str) -> Result<Claims, Refusal> {
        block_on(verify(token, &keys(), &rules()))
    }

    fn with(changes: Value) -> Value {
        let mut c = good_claims();
        for (k, v) in changes.as_object().unwrap() {
            if v.is_null() {
                c.as_object_mut().unwrap().remove(k);
            } else {
                c[k] = v.clone();
            }
        }
        c
    }

    fn hs(claims: Value) -> String {
        hs256(
            json!({"alg": "HS256", "typ": "JWT"}),
            claims,
            SECRET.as_bytes(),
        )
    }

    #[test]
    fn a_good_hs256_token_gives_its_claims() {
        let c = check(&hs(good_claims())).expect("accepted");
        assert_eq!(c.sub, "site-user-1");
        assert_eq!(c.name.as_deref(), Some("Ann Example"));
        assert_eq!(c.username.as_deref(), Some("ann"));
        assert_eq!(c.email.as_deref(), Some("ann@example.com"));
        assert_eq!(c.avatar_url.as_deref(), Some("https://example.com/ann.png"));
    }

    #[test]
    fn a_tampered_token_is_refused() {
        let token = hs(good_claims());
        let (input, sig) = token.rsplit_once('.').unwrap();
        let (header, _) = input.split_once('.').unwrap();
        let forged = format!("{header}.{}.{sig}", b64(&with(json!({"sub": "admin"}))));
        assert_eq!(
            check(&forged),
            Err(Refusal::BadSignature),
            "payload changed"
        );
        let other = hs256(
            json!({"alg": "HS256"}),
            good_claims(),
            b"another-secret-of-32-bytes-or-more!!",
        );
        assert_eq!(check(&other), Err(Refusal::BadSignature), "another secret");
    }

    #[test]
    fn malformed_tokens_are_refused() {
        let good = hs(good_claims());
        let (h, rest) = good.split_once('.').unwrap();
        for bad in [
            "".to_string(),
            "abc".to_string(),
            "a.b".to_string(),
            format!("{good}.extra"),
            format!("{h}.!!!.sig"),
            format!("{}.{rest}", URL_SAFE_NO_PAD.encode("[1]")),
            format!("{}.{rest}", URL_SAFE_NO_PAD.encode("{\"typ\":\"JWT\"}")),
            format!("{}.", good.rsplit_once('.').unwrap().0),
            "x".repeat(MAX_TOKEN + 1),
        ] {
            assert_eq!(check(&bad), Err(Refusal::Malformed), "{bad:.60}");
        }
    }

    #[test]
    fn alg_none_is_refused_in_any_case() {
        for none in ["none", "None", "NONE"] {
            let token = format!(
                "{}.{}.{}",
                b64(&json!({"alg": none})),
                b64(&good_claims()),
                URL_SAFE_NO_PAD.encode("x")
            );
            assert_eq!(check(&token), Err(Refusal::AlgNone), "{none}");
            let unsigned = format!("{}.{}.", b64(&json!({"alg": none})), b64(&good_claims()));
            assert!(check(&unsigned).is_err());
        }
        let hs512 = hs256(json!({"alg": "HS512"}), good_claims(), SECRET.as_bytes());
        assert_eq!(check(&hs512), Err(Refusal::UnsupportedAlg));
    }

    #[test]
    fn algorithm_confusion_is_refused_before_any_signature_check() {
        // The classic attack: HS256 "signed" with the RSA public key as the secret.
        let public_key_bytes = URL_SAFE_NO_PAD.encode([0xc5u8; 256]);
        for kid in ["rsa-1", "ec-1"] {
            let token = hs256(
                json!({"alg": "HS256", "kid": kid}),
                good_claims(),
                public_key_bytes.as_bytes(),
            );
            assert_eq!(check(&token), Err(Refusal::AlgMismatch), "{kid}");
        }
        let es_on_rsa = hs256(json!({"alg": "ES256", "kid": "rsa-1"}), good_claims(), b"x");
        assert_eq!(check(&es_on_rsa), Err(Refusal::AlgMismatch));
    }

    #[test]
    fn keys_are_chosen_by_kid_or_by_being_the_only_fit() {
        let k = keys();
        let token = |header: Value| hs256(header, good_claims(), b"sig");
        let kid_of = |t: &str| parse(t, &k).map(|s| s.key.kid.clone());
        assert_eq!(
            kid_of(&token(json!({"alg": "RS256"}))),
            Ok(Some("rsa-1".into()))
        );
        assert_eq!(
            kid_of(&token(json!({"alg": "ES256"}))),
            Err(Refusal::KidNeeded),
            "two EC keys: kid needed"
        );
        assert_eq!(
            kid_of(&token(json!({"alg": "ES256", "kid": "ec-2"}))),
            Ok(Some("ec-2".into()))
        );
        assert_eq!(kid_of(&token(json!({"alg": "EdDSA"}))), Err(Refusal::NoKey));
        assert_eq!(
            kid_of(&token(json!({"alg": "RS256", "kid": "rsa-9"}))),
            Err(Refusal::UnknownKid)
        );
        assert_eq!(
            kid_of(&token(json!({"alg": "HS256"}))),
            Ok(None),
            "SSO_SECRET"
        );
        assert_eq!(
            kid_of(&token(json!({"alg": "HS256", "kid": 7}))),
            Err(Refusal::Malformed)
        );
        assert_eq!(
            kid_of(&token(json!({"alg": "HS256", "crit": ["b64"]}))),
            Err(Refusal::Critical)
        );
        let only_jwks = KeySet::new("", "", true).0;
        assert_eq!(
            parse(&token(json!({"alg": "HS256"})), &only_jwks).map(|_| ()),
            Err(Refusal::NoKey),
            "no SSO_SECRET: kid-less HS256 has no key (the demo key needs its kid)"
        );
    }

    #[test]
    fn expiry_is_required_and_bounded() {
        assert_eq!(
            check(&hs(with(json!({"exp": null})))),
            Err(Refusal::NoExpiry)
        );
        assert_eq!(
            check(&hs(with(json!({"exp": "soon"})))),
            Err(Refusal::NoExpiry)
        );
        assert_eq!(
            check(&hs(with(json!({"exp": NOW - 61})))),
            Err(Refusal::Expired)
        );
        assert!(
            check(&hs(with(json!({"exp": NOW - 30})))).is_ok(),
            "within the leeway"
        );
        assert!(
            check(&hs(with(json!({"exp": NOW + 24 * 3600})))).is_ok(),
            "a day"
        );
        assert_eq!(
            check(&hs(with(json!({"exp": NOW + 24 * 3600 + 120})))),
            Err(Refusal::TooLong)
        );
        assert!(
            check(&hs(with(json!({"exp": (NOW + 60) as f64 + 0.5})))).is_ok(),
            "fractional"
        );
    }

    #[test]
    fn not_before_and_issued_at_may_not_be_in_the_future() {
        assert_eq!(
            check(&hs(with(json!({"nbf": NOW + 300})))),
            Err(Refusal::NotYetValid)
        );
        assert_eq!(
            check(&hs(with(json!({"iat": NOW + 300})))),
            Err(Refusal::IssuedInFuture)
        );
        assert!(check(&hs(with(json!({"iat": NOW + 30, "nbf": NOW + 30})))).is_ok());
        assert_eq!(
            check(&hs(with(json!({"iat": "now"})))),
            Err(Refusal::Malformed)
        );
    }

    #[test]
    fn the_audience_must_name_us() {
        assert_eq!(
            check(&hs(with(json!({"aud": null})))),
            Err(Refusal::NoAudience)
        );
        assert_eq!(
            check(&hs(with(json!({"aud": "other-app"})))),
            Err(Refusal::WrongAudience)
        );
        assert_eq!(
            check(&hs(with(json!({"aud": 5})))),
            Err(Refusal::WrongAudience)
        );
        assert!(check(&hs(with(json!({"aud": ["other", "edge-messaging"]})))).is_ok());
    }

    #[test]
    fn the_subject_is_a_bounded_string() {
        assert_eq!(
            check(&hs(with(json!({"sub": null})))),
            Err(Refusal::NoSubject)
        );
        assert_eq!(
            check(&hs(with(json!({"sub": 42})))),
            Err(Refusal::BadSubject)
        );
        assert_eq!(
            check(&hs(with(json!({"sub": " "})))),
            Err(Refusal::BadSubject)
        );
        assert_eq!(
            check(&hs(with(json!({"sub": "é".repeat(151)})))),
            Err(Refusal::BadSubject)
        );
        assert!(check(&hs(with(json!({"sub": "é".repeat(150)})))).is_ok());
    }

    #[test]
    fn optional_claims_of_the_wrong_type_are_absent() {
        let c = check(&hs(with(
            json!({"name": 5, "username": null, "email": ["x"]}),
        )))
        .unwrap();
        assert_eq!((c.name, c.username, c.email), (None, None, None));
    }

    #[test]
    fn the_demo_key_signs_in_demo_subjects_only() {
        let demo = |sub: &str| {
            hs256(
                json!({"alg": "HS256", "kid": DEMO_KID}),
                with(json!({"sub": sub})),
                DEMO_SECRET.as_bytes(),
            )
        };
        assert_eq!(check(&demo("demo:ann")).unwrap().sub, "demo:ann");
        assert_eq!(check(&demo("site-user-1")), Err(Refusal::DemoSubject));
        let off = KeySet::new(SECRET, "", false).0;
        assert_eq!(
            block_on(verify(&demo("demo:ann"), &off, &rules())),
            Err(Refusal::UnknownKid),
            "without SSO_DEMO the demo key does not exist"
        );
    }

    #[test]
    fn the_demo_sites_tokens_sign_in_its_people_with_the_demo_key_only() {
        let token = demo_token("ada", "Ada", "edge-messaging", NOW);
        let on = KeySet::new("", "", true).0;
        let c = block_on(verify(&token, &on, &rules())).unwrap();
        assert_eq!(
            (c.sub.as_str(), c.name.as_deref()),
            ("demo:ada", Some("Ada"))
        );
        let off = KeySet::new(SECRET, "", false).0;
        assert_eq!(
            block_on(verify(&token, &off, &rules())),
            Err(Refusal::UnknownKid)
        );
        let later = Rules {
            audience: "edge-messaging",
            now: NOW + 600 + LEEWAY_SECS,
        };
        assert_eq!(block_on(verify(&token, &on, &later)), Err(Refusal::Expired));
    }

    #[test]
    fn refusals_have_distinct_details() {
        let all = [
            Refusal::Malformed,
            Refusal::AlgNone,
            Refusal::UnsupportedAlg,
            Refusal::Critical,
            Refusal::UnknownKid,
            Refusal::AlgMismatch,
            Refusal::NoKey,
            Refusal::KidNeeded,
            Refusal::BadSignature,
            Refusal::NoExpiry,
            Refusal::Expired,
            Refusal::TooLong,
            Refusal::NotYetValid,
            Refusal::IssuedInFuture,
            Refusal::NoAudience,
            Refusal::WrongAudience,
            Refusal::NoSubject,
            Refusal::BadSubject,
            Refusal::DemoSubject,
        ];
        let mut details: Vec<_> = all.iter().map(|r| r.detail()).collect();
        details.sort_unstable();
        details.dedup();
        assert_eq!(details.len(), all.len());
    }
}
