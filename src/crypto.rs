//! Passwords (Django's `pbkdf2_sha256` format), session tokens and their hashes.
//!
//! PBKDF2 runs in WebCrypto (`crypto.subtle.deriveBits`), native code in workerd. workerd
//! refuses more than 100,000 PBKDF2 iterations, while Django's `make_password` uses 600,000 to
//! 1,000,000 depending on its version; such imported hashes are checked with the pure-Rust
//! PBKDF2 below and re-hashed at our iteration count on the first successful login (what
//! Django itself does when its hasher's parameters change).

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use sha2::{Digest, Sha256};

use crate::error::{ApiError, ApiResult};

/// Iterations of the hashes we write: the most workerd's WebCrypto accepts.
pub const PBKDF2_ITERATIONS: u32 = 100_000;
const ALGORITHM: &str = "pbkdf2_sha256";
const SALT_CHARS: &[u8] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";

/// `n` bytes from the platform CSPRNG.
pub fn random_bytes(n: usize) -> ApiResult<Vec<u8>> {
    let mut buf = vec![0u8; n];
    getrandom::fill(&mut buf).map_err(|e| ApiError::Internal(format!("getrandom: {e}")))?;
    Ok(buf)
}

/// A new session token: 32 random bytes, URL-safe base64 (43 characters).
pub fn new_token() -> ApiResult<String> {
    Ok(URL_SAFE_NO_PAD.encode(random_bytes(32)?))
}

/// What the `sessions` table stores for a token: hex SHA-256.
pub fn token_hash(token: &str) -> String {
    hex(&Sha256::digest(token.as_bytes()))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A Django-style random salt (22 alphanumerics, as `get_random_string(22)`).
fn new_salt() -> ApiResult<String> {
    Ok(random_bytes(22)?
        .into_iter()
        .map(|b| SALT_CHARS[b as usize % SALT_CHARS.len()] as char)
        .collect())
}

/// A parsed `pbkdf2_sha256$<iterations>$<salt>$<hash>`.
#[derive(Debug, PartialEq)]
pub struct DjangoHash<'a> {
    pub iterations: u32,
    pub salt: &'a str,
    pub hash: &'a str,
}

pub fn parse_hash(encoded: &str) -> Option<DjangoHash<'_>> {
    let mut parts = encoded.split('$');
    let (algo, iterations, salt, hash) =
        (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
    if algo != ALGORITHM || parts.next().is_some() || salt.is_empty() || hash.is_empty() {
        return None;
    }
    let iterations = iterations.parse().ok().filter(|i| *i > 0)?;
    Some(DjangoHash {
        iterations,
        salt,
        hash,
    })
}

/// Hashes a new password with a fresh salt.
pub async fn make_password(password: &str) -> ApiResult<String> {
    let salt = new_salt()?;
    let dk = pbkdf2(password, &salt, PBKDF2_ITERATIONS).await?;
    Ok(format!(
        "{ALGORITHM}${PBKDF2_ITERATIONS}${salt}${}",
        STANDARD.encode(dk)
    ))
}

/// Outcome of checking a password against a stored hash.
pub enum Verified {
    No,
    Yes,
    /// Correct, and the stored hash should be replaced by this one (it used fewer iterations
    /// than ours; a stronger imported hash is kept as it is).
    YesUpgrade(String),
}

pub async fn check_password(password: &str, encoded: &str) -> ApiResult<Verified> {
    let Some(parsed) = parse_hash(encoded) else {
        return Ok(Verified::No); // unusable password ("!...") or another hasher
    };
    let dk = pbkdf2(password, parsed.salt, parsed.iterations).await?;
    if !constant_time_eq(STANDARD.encode(dk).as_bytes(), parsed.hash.as_bytes()) {
        return Ok(Verified::No);
    }
    if parsed.iterations >= PBKDF2_ITERATIONS {
        Ok(Verified::Yes)
    } else {
        Ok(Verified::YesUpgrade(make_password(password).await?))
    }
}

/// Spends the work of checking a stored hash of `iterations` (at least ours), so an unknown
/// username answers no faster than an account whose hash has that many (no user enumeration
/// by timing, also against accounts imported with Django's 600k-1M).
pub async fn dummy_check(password: &str, iterations: u32) -> ApiResult<()> {
    let iterations = iterations.max(PBKDF2_ITERATIONS);
    pbkdf2(password, "timing-equaliser-salt", iterations).await?;
    Ok(())
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// PBKDF2-HMAC-SHA256, 32 bytes: WebCrypto where workerd allows, pure Rust above its limit.
async fn pbkdf2(password: &str, salt: &str, iterations: u32) -> ApiResult<Vec<u8>> {
    if iterations <= PBKDF2_ITERATIONS {
        if let Some(dk) = webcrypto::pbkdf2(password, salt, iterations).await? {
            return Ok(dk);
        }
    }
    Ok(pbkdf2_rust(password, salt, iterations))
}

fn pbkdf2_rust(password: &str, salt: &str, iterations: u32) -> Vec<u8> {
    let mut out = [0u8; 32];
    pbkdf2::pbkdf2_hmac::<Sha256>(password.as_bytes(), salt.as_bytes(), iterations, &mut out);
    out.to_vec()
}

#[cfg(target_arch = "wasm32")]
mod webcrypto {
    use js_sys::{Array, Object, Uint8Array};
    use wasm_bindgen::JsCast;
    use wasm_bindgen_futures::JsFuture;
    use web_sys::{CryptoKey, Pbkdf2Params, WorkerGlobalScope};

    use crate::error::{ApiError, ApiResult};

    fn js_err(e: wasm_bindgen::JsValue) -> ApiError {
        ApiError::Internal(format!("webcrypto: {e:?}"))
    }

    /// `Some(derived key)`, computed by `crypto.subtle`.
    pub async fn pbkdf2(password: &str, salt: &str, iterations: u32) -> ApiResult<Option<Vec<u8>>> {
        // workerd's global is a WorkerGlobalScope in all but name: `dyn_into` fails there.
        let scope: WorkerGlobalScope = js_sys::global().unchecked_into();
        let subtle = scope.crypto().map_err(js_err)?.subtle();
        let key_data = Uint8Array::from(password.as_bytes());
        let usages = Array::of1(&"deriveBits".into());
        let algo = Object::new();
        js_sys::Reflect::set(&algo, &"name".into(), &"PBKDF2".into()).map_err(js_err)?;
        let key = JsFuture::from(
            subtle
                .import_key_with_object("raw", &key_data, &algo, false, &usages)
                .map_err(js_err)?,
        )
        .await
        .map_err(js_err)?;
        let key: CryptoKey = key.unchecked_into();
        let salt = Uint8Array::from(salt.as_bytes());
        let params = Pbkdf2Params::new_with_str("PBKDF2", "SHA-256", iterations, &salt);
        let bits = JsFuture::from(
            subtle
                .derive_bits_with_object(&params, &key, 256)
                .map_err(js_err)?,
        )
        .await
        .map_err(js_err)?;
        Ok(Some(Uint8Array::new(&bits).to_vec()))
    }
}

#[cfg(not(target_arch = "wasm32"))]
mod webcrypto {
    use crate::error::ApiResult;

    /// Native builds (unit tests) have no WebCrypto: the caller falls back to pure Rust.
    pub async fn pbkdf2(_: &str, _: &str, _: u32) -> ApiResult<Option<Vec<u8>>> {
        Ok(None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn block_on<F: std::future::Future>(f: F) -> F::Output {
        futures_util::FutureExt::now_or_never(f).expect("no real async work natively")
    }

    // Made by Django 5.2's `make_password("correct horse battery staple", salt="edgemsgtestsalt")`
    // (1,000,000 iterations, its default).
    const DJANGO_HASH: &str =
        "pbkdf2_sha256$1000000$edgemsgtestsalt$d4+b7vLC7+yjlNhVww689+Ms+x9m/b9nAmbQpFk1O2o=";

    #[test]
    fn parses_djangos_format_and_rejects_others() {
        let p = parse_hash(DJANGO_HASH).expect("parses");
        assert_eq!(p.iterations, 1_000_000);
        assert_eq!(p.salt, "edgemsgtestsalt");
        assert!(parse_hash("argon2$argon2id$v=19$m=102400,t=2,p=8$abc$def").is_none());
        assert!(parse_hash("!unusable").is_none());
        assert!(parse_hash("pbkdf2_sha256$0$salt$hash").is_none());
    }

    #[test]
    fn a_django_made_hash_verifies_and_is_kept_since_it_is_stronger() {
        assert!(
            matches!(
                block_on(check_password("correct horse battery staple", DJANGO_HASH)).unwrap(),
                Verified::Yes
            ),
            "1,000,000 iterations verify and are not downgraded to ours"
        );
        assert!(matches!(
            block_on(check_password("wrong", DJANGO_HASH)).unwrap(),
            Verified::No
        ));
    }

    #[test]
    fn a_weaker_hash_verifies_and_asks_for_an_upgrade() {
        let dk = pbkdf2_rust("pw-of-old", "oldsalt", 20_000);
        let weak = format!("pbkdf2_sha256$20000$oldsalt${}", STANDARD.encode(dk));
        match block_on(check_password("pw-of-old", &weak)).unwrap() {
            Verified::YesUpgrade(new) => {
                let p = parse_hash(&new).expect("upgrade is in Django's format");
                assert_eq!(p.iterations, PBKDF2_ITERATIONS);
            }
            _ => panic!("a weaker hash verifies and is upgraded"),
        }
    }

    #[test]
    fn our_own_hashes_round_trip() {
        let h = block_on(make_password("s3cret-pass")).unwrap();
        assert!(h.starts_with("pbkdf2_sha256$100000$"));
        assert!(matches!(
            block_on(check_password("s3cret-pass", &h)).unwrap(),
            Verified::Yes
        ));
        assert!(matches!(
            block_on(check_password("s3cret-pasS", &h)).unwrap(),
            Verified::No
        ));
    }

    #[test]
    fn tokens_are_random_and_hashed_to_hex() {
        let (a, b) = (new_token().unwrap(), new_token().unwrap());
        assert_ne!(a, b);
        assert_eq!(a.len(), 43);
        assert_eq!(
            token_hash("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
