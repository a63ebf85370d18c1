//! Signature checks, none hand-rolled: HS256 with the `hmac` crate (already in the bundle for
//! PBKDF2; constant-time comparison), RS256 / ES256 / EdDSA with WebCrypto
//! (`crypto.subtle.verify`, native code in workerd: no signature code in the bundle). The key
//! is imported from its public JWK members only, for `verify` only.

use hmac::{Hmac, Mac};
use sha2::Sha256;

use super::{Material, Refusal, Signed};

/// Ok when `signed.signature` is a valid signature of `signed.input` by its key.
pub async fn signature(signed: &Signed<'_>) -> Result<(), Refusal> {
    let ok = match &signed.key.material {
        Material::Hmac(secret) => {
            let mut mac = Hmac::<Sha256>::new_from_slice(secret).map_err(|_| Refusal::NoKey)?;
            mac.update(signed.input.as_bytes());
            mac.verify_slice(&signed.signature).is_ok()
        }
        public => webcrypto::verify(public, signed.input.as_bytes(), &signed.signature).await,
    };
    if ok {
        Ok(())
    } else {
        Err(Refusal::BadSignature)
    }
}

#[cfg(target_arch = "wasm32")]
mod webcrypto {
    use js_sys::{Array, Object, Reflect};
    use wasm_bindgen::{JsCast, JsValue};
    use wasm_bindgen_futures::JsFuture;
    use web_sys::{CryptoKey, WorkerGlobalScope};

    use super::Material;

    fn object(pairs: &[(&str, &str)]) -> Result<Object, JsValue> {
        let o = Object::new();
        for (k, v) in pairs {
            Reflect::set(&o, &(*k).into(), &(*v).into())?;
        }
        Ok(o)
    }

    /// The JWK to import, the import algorithm and the verify algorithm of a public key.
    fn params(key: &Material) -> Result<(Object, Object, Object), JsValue> {
        Ok(match key {
            Material::Rsa { n, e } => (
                object(&[("kty", "RSA"), ("n", n), ("e", e)])?,
                object(&[("name", "RSASSA-PKCS1-v1_5"), ("hash", "SHA-256")])?,
                object(&[("name", "RSASSA-PKCS1-v1_5")])?,
            ),
            Material::P256 { x, y } => (
                object(&[("kty", "EC"), ("crv", "P-256"), ("x", x), ("y", y)])?,
                object(&[("name", "ECDSA"), ("namedCurve", "P-256")])?,
                object(&[("name", "ECDSA"), ("hash", "SHA-256")])?,
            ),
            Material::Ed25519 { x } => (
                object(&[("kty", "OKP"), ("crv", "Ed25519"), ("x", x)])?,
                object(&[("name", "Ed25519")])?,
                object(&[("name", "Ed25519")])?,
            ),
            Material::Hmac(_) => return Err("HMAC keys are checked in Rust".into()),
        })
    }

    async fn check(key: &Material, data: &[u8], sig: &[u8]) -> Result<bool, JsValue> {
        // workerd's global is a WorkerGlobalScope in all but name: `dyn_into` fails there.
        let scope: WorkerGlobalScope = js_sys::global().unchecked_into();
        let subtle = scope.crypto()?.subtle();
        let (jwk, import, verify) = params(key)?;
        let usages = Array::of1(&"verify".into());
        let key =
            JsFuture::from(subtle.import_key_with_object("jwk", &jwk, &import, false, &usages)?)
                .await?;
        let key: CryptoKey = key.unchecked_into();
        let ok = JsFuture::from(
            subtle.verify_with_object_and_u8_array_and_u8_array(&verify, &key, sig, data)?,
        )
        .await?;
        Ok(ok.as_bool() == Some(true))
    }

    /// Whether `sig` is `key`'s signature of `data`. A key WebCrypto cannot import is logged
    /// (a configuration error) and verifies nothing.
    pub async fn verify(key: &Material, data: &[u8], sig: &[u8]) -> bool {
        match check(key, data, sig).await {
            Ok(ok) => ok,
            Err(e) => {
                worker::console_error!("sso: WebCrypto refused {key:?}: {e:?}");
                false
            }
        }
    }
}

#[cfg(not(target_arch = "wasm32"))]
mod webcrypto {
    use super::Material;

    /// Native builds (unit tests) have no WebCrypto: public-key signatures are checked by the
    /// integration tests, through the worker (`tests/sso.rs`), and verify nothing here.
    pub async fn verify(_: &Material, _: &[u8], _: &[u8]) -> bool {
        false
    }
}
