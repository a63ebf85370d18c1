//! Host-site sign-in (SPEC §3, issue 19) through a real worker: tokens a site mints with HS256
//! and with key pairs (ES256 and Ed25519 made per run, RS256 with the fixture key in
//! `tests/fixtures/`) sign in as a login does; the same `sub` is the same user and the claims
//! update it; every refusal is a 401 that names its reason and writes nothing; taken usernames
//! get the documented suffix; password login refuses these users; and with no key set the
//! route does not exist.

mod common;

use std::sync::OnceLock;

use common::jwt::{self, b64, claims, hs256, hs256_with, signing_input, SSO_SECRET};
use common::{shared, unique, App, Resp, Worker};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

/// The public key of the fixture RSA key, and the key pairs of this run.
struct Keys {
    ec: p256::ecdsa::SigningKey,
    /// Another P-256 key, not in the worker's JWKS (a forger's).
    ec_forger: p256::ecdsa::SigningKey,
    ed: ed25519_dalek::SigningKey,
    rsa: rsa::RsaPrivateKey,
    jwks: String,
}

fn random32() -> [u8; 32] {
    let mut b = [0u8; 32];
    getrandom::fill(&mut b).expect("random bytes");
    b
}

fn p256_key() -> p256::ecdsa::SigningKey {
    loop {
        if let Ok(k) = p256::ecdsa::SigningKey::from_slice(&random32()) {
            return k;
        }
    }
}

fn keys() -> &'static Keys {
    static KEYS: OnceLock<Keys> = OnceLock::new();
    KEYS.get_or_init(|| {
        use rsa::pkcs8::DecodePrivateKey;
        use rsa::traits::PublicKeyParts;
        let ec = p256_key();
        let ed = ed25519_dalek::SigningKey::from_bytes(&random32());
        let pem = include_str!("fixtures/sso-test-rsa-2048.pem");
        let rsa = rsa::RsaPrivateKey::from_pkcs8_pem(pem).expect("the fixture RSA key");
        let point = ec.verifying_key().to_encoded_point(false);
        let jwks = json!({"keys": [
            {"kty": "EC", "crv": "P-256", "kid": "ec-1", "alg": "ES256", "use": "sig",
             "x": b64(point.x().unwrap()), "y": b64(point.y().unwrap())},
            {"kty": "OKP", "crv": "Ed25519", "kid": "ed-1",
             "x": b64(ed.verifying_key().to_bytes())},
            {"kty": "RSA", "kid": "rsa-1", "n": b64(rsa.n().to_bytes_be()),
             "e": b64(rsa.e().to_bytes_be())},
        ]});
        Keys {
            ec,
            ec_forger: p256_key(),
            ed,
            rsa,
            jwks: jwks.to_string(),
        }
    })
}

/// An inactive user a site once signed in (`sub` "disabled-1").
const SEED: &str = "INSERT INTO users (username, username_lower, username_key, password,
    date_joined, sso_subject, is_active)
    VALUES ('sso-disabled', 'sso-disabled', 'seed:sso-disabled', '!sso',
            '2025-01-01T00:00:00.000Z', 'disabled-1', 0);";

fn app() -> App {
    let k = keys();
    App::new(shared(
        "sso",
        &[
            ("SSO_SECRET", SSO_SECRET),
            ("SSO_JWKS", &k.jwks),
            ("SSO_DEMO", "true"),
            // Refusals report their D1 work too: none.
            ("SERVER_TIMING_ALWAYS", "true"),
        ],
        SEED,
    ))
}

fn es256(kid: &str, claims: &Value, key: &p256::ecdsa::SigningKey) -> String {
    use p256::ecdsa::signature::Signer;
    let input = signing_input(&json!({"alg": "ES256", "kid": kid}), claims);
    let sig: p256::ecdsa::Signature = key.sign(input.as_bytes());
    format!("{input}.{}", b64(sig.to_bytes()))
}

fn eddsa(claims: &Value) -> String {
    use ed25519_dalek::Signer;
    let input = signing_input(&json!({"alg": "EdDSA", "kid": "ed-1"}), claims);
    let sig = keys().ed.sign(input.as_bytes());
    format!("{input}.{}", b64(sig.to_bytes()))
}

fn rs256(claims: &Value) -> String {
    use rsa::signature::{SignatureEncoding, Signer};
    let key = rsa::pkcs1v15::SigningKey::<Sha256>::new(keys().rsa.clone());
    let input = signing_input(&json!({"alg": "RS256", "kid": "rsa-1"}), claims);
    format!("{input}.{}", b64(key.sign(input.as_bytes()).to_vec()))
}

/// `claims(sub)` with `extra` merged in (a `null` removes the claim).
fn with(sub: &str, extra: Value) -> Value {
    let mut c = claims(sub);
    for (k, v) in extra.as_object().unwrap() {
        if v.is_null() {
            c.as_object_mut().unwrap().remove(k);
        } else {
            c[k] = v.clone();
        }
    }
    c
}

async fn exchange(app: &App, token: &str) -> Resp {
    app.call(
        Method::POST,
        "/messages/api/auth/sso/",
        None,
        Some(json!({ "token": token })),
    )
    .await
}

/// Exchanges `token`, which must sign in: the answer's user and API token.
async fn sign_in(app: &App, token: &str) -> (Value, String) {
    let r = exchange(app, token).await;
    assert_eq!(r.status, 200, "signed in: {}", r.body);
    let user = r.body["user"].clone();
    (user, r.body["token"].as_str().expect("a token").to_string())
}

/// D1 round trips a response reports (`Server-Timing: d1;desc="N"`).
fn trips(r: &Resp) -> u32 {
    let h = r.header("server-timing").expect("Server-Timing");
    let d1 = h
        .split(',')
        .map(str::trim)
        .find(|m| m.starts_with("d1;"))
        .unwrap();
    d1.split("desc=\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .parse()
        .unwrap()
}

/// The first six hex characters of SHA-256(sub): a taken username's stable suffix.
fn stable_suffix(sub: &str) -> String {
    Sha256::digest(sub.as_bytes())[..3]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[tokio::test]
async fn an_hs256_token_signs_in_exactly_as_a_login_does() {
    let app = app();
    let sub = unique("site-");
    let name = unique("hs");
    let token = hs256(&with(
        &sub,
        json!({"username": name, "name": "Ann Site", "email": "ann@site.example"}),
    ));
    let r = exchange(&app, &token).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(trips(&r), 1, "one D1 round trip");
    assert_eq!(r.body["user"]["username"], name.as_str());
    assert_eq!(r.body["user"]["display_name"], "Ann Site");
    assert_eq!(r.body["user"]["email"], "ann@site.example");
    let cookie = r.header("set-cookie").expect("the session cookie");
    assert!(
        cookie.starts_with("em_session=") && cookie.contains("HttpOnly"),
        "{cookie}"
    );
    assert_eq!(r.header("cache-control").as_deref(), Some("no-store"));
    let api_token = r.body["token"].as_str().unwrap();
    assert!(
        cookie.contains(api_token),
        "the cookie is the session the token names"
    );
    let me = app.get("/messages/api/auth/me/", api_token).await;
    assert_eq!(me.status, 200);
    assert_eq!(
        me.body["id"], r.body["user"]["id"],
        "the token authenticates"
    );
}

#[tokio::test]
async fn es256_rs256_and_eddsa_tokens_sign_in_with_their_jwks_key() {
    let app = app();
    let k = keys();
    for (alg, token) in [
        ("ES256", es256("ec-1", &claims(&unique("es-")), &k.ec)),
        ("RS256", rs256(&claims(&unique("rs-")))),
        ("EdDSA", eddsa(&claims(&unique("ed-")))),
    ] {
        let r = exchange(&app, &token).await;
        assert_eq!(r.status, 200, "{alg}: {}", r.body);
        let me = app
            .get("/messages/api/auth/me/", r.body["token"].as_str().unwrap())
            .await;
        assert_eq!(me.body["id"], r.body["user"]["id"], "{alg}");
    }
}

#[tokio::test]
async fn the_same_sub_is_the_same_user_every_time() {
    let app = app();
    let sub = unique("same-");
    let (first, token1) = sign_in(&app, &hs256(&claims(&sub))).await;
    let (second, token2) = sign_in(&app, &es256("ec-1", &claims(&sub), &keys().ec)).await;
    assert_eq!(
        first["id"], second["id"],
        "one user per sub, whatever the key"
    );
    assert_ne!(token1, token2, "each exchange is a session of its own");
    for t in [&token1, &token2] {
        let me = app.get("/messages/api/auth/me/", t).await;
        assert_eq!(me.body["id"], first["id"], "both sessions live");
    }
}

#[tokio::test]
async fn changed_claims_update_the_user_everywhere_it_appears() {
    let app = app();
    let sub = unique("upd-");
    let (name1, name2) = (unique("first"), unique("second"));
    let picture = "https://cdn.site.example/avatars/42.png";
    let (user, token) = sign_in(
        &app,
        &hs256(&with(
            &sub,
            json!({"username": name1, "name": "Ann One",
                                  "email": "one@site.example", "avatar_url": picture}),
        )),
    )
    .await;
    assert_eq!(
        user["avatar_url"], picture,
        "the site's picture replaces the generated one"
    );
    // Someone chats with them: their messages carry the picture too.
    let bob = app.user("bob").await;
    let dm = app
        .post(
            "/messages/api/chats/",
            &token,
            json!({"chat_type": "dm", "member_ids": [bob.id]}),
        )
        .await;
    assert_eq!(dm.status, 201, "{}", dm.body);
    let chat = dm.body["id"].as_i64().unwrap();
    let sent = app
        .post(
            &format!("/messages/api/chats/{chat}/messages/"),
            &token,
            json!({"content": "hi"}),
        )
        .await;
    assert_eq!(sent.body["sender"]["avatar_url"], picture, "{}", sent.body);

    let (again, _) = sign_in(
        &app,
        &hs256(&with(&sub, json!({"username": name2, "name": "Ann Two",
                                  "email": "two@site.example", "avatar_url": "javascript:alert(1)"}))),
    )
    .await;
    assert_eq!(again["id"], user["id"]);
    assert_eq!(again["username"], name2.as_str(), "renamed");
    assert_eq!(again["display_name"], "Ann Two");
    assert_eq!(again["email"], "two@site.example");
    let avatar = again["avatar_url"].as_str().unwrap();
    assert!(
        avatar.starts_with("data:image/svg+xml,"),
        "a refused picture clears it: {avatar}"
    );
    let page = app
        .get(&format!("/messages/api/chats/{chat}/messages/"), &bob.token)
        .await;
    let sender = &page.body["results"][0]["sender"];
    assert_eq!(
        sender["username"],
        name2.as_str(),
        "others see the update: {sender}"
    );
    assert_eq!(sender["display_name"], "Ann Two");
    let found = app
        .get(
            &format!("/messages/api/users/search/?q={name2}"),
            &bob.token,
        )
        .await;
    assert_eq!(
        found.body["results"].as_array().unwrap().len(),
        1,
        "search finds the new name"
    );
    let old = app
        .get(
            &format!("/messages/api/users/search/?q={name1}"),
            &bob.token,
        )
        .await;
    assert!(
        old.body["results"].as_array().unwrap().is_empty(),
        "and not the old one"
    );
}

#[tokio::test]
async fn every_refused_token_is_401_with_its_reason_and_writes_nothing() {
    let app = app();
    let k = keys();
    let name = unique("refused");
    let c = |extra: Value| {
        let mut extra = extra;
        extra["username"] = json!(name);
        with(&unique("refused-"), extra)
    };
    let good = hs256(&c(json!({})));
    let (input, _) = good.rsplit_once('.').unwrap();
    let (header, _) = input.split_once('.').unwrap();
    let forged_payload = format!(
        "{header}.{}.{}",
        b64(c(json!({"sub": "admin"})).to_string()),
        good.rsplit_once('.').unwrap().1
    );
    use rsa::pkcs8::EncodePublicKey;
    let rsa_public_pem = k
        .rsa
        .to_public_key()
        .to_public_key_pem(rsa::pkcs8::LineEnding::LF)
        .unwrap();
    let now = jwt::now();
    let cases: Vec<(&str, String, &str)> = vec![
        (
            "alg none",
            format!(
                "{}.{}.",
                b64(json!({"alg": "none"}).to_string()),
                b64(c(json!({})).to_string())
            ),
            "alg: none",
        ),
        (
            "alg None, with a signature",
            format!(
                "{}.{}.c2ln",
                b64(json!({"alg": "None"}).to_string()),
                b64(c(json!({})).to_string())
            ),
            "alg: none",
        ),
        (
            "HS256 signed with the RSA public key, naming the RSA key",
            hs256_with(
                &json!({"alg": "HS256", "kid": "rsa-1"}),
                &c(json!({})),
                rsa_public_pem.as_bytes(),
            ),
            "algorithm confusion",
        ),
        (
            "HS256 naming the EC key",
            hs256_with(
                &json!({"alg": "HS256", "kid": "ec-1"}),
                &c(json!({})),
                SSO_SECRET.as_bytes(),
            ),
            "algorithm confusion",
        ),
        (
            "an unknown kid",
            es256("ec-9", &c(json!({})), &k.ec),
            "Unknown key id",
        ),
        (
            "expired",
            hs256(&c(json!({"exp": now - 3600, "iat": now - 4000}))),
            "expired",
        ),
        (
            "exp more than 24 h ahead",
            hs256(&c(json!({"exp": now + 25 * 3600}))),
            "more than 24 hours",
        ),
        ("no exp", hs256(&c(json!({"exp": null}))), "no expiry"),
        (
            "another audience",
            hs256(&c(json!({"aud": "someone-else"}))),
            "another audience",
        ),
        (
            "no audience",
            hs256(&c(json!({"aud": null}))),
            "no audience",
        ),
        (
            "issued in the future",
            hs256(&c(json!({"iat": now + 3600}))),
            "future",
        ),
        ("no sub", hs256(&c(json!({"sub": null}))), "no subject"),
        ("a tampered payload", forged_payload, "Invalid signature"),
        (
            "another secret",
            hs256_with(
                &json!({"alg": "HS256"}),
                &c(json!({})),
                b"not-the-secret-but-just-as-long-0123",
            ),
            "Invalid signature",
        ),
        (
            "another EC key under our kid",
            es256("ec-1", &c(json!({})), &k.ec_forger),
            "Invalid signature",
        ),
        (
            "HS512",
            hs256_with(
                &json!({"alg": "HS512"}),
                &c(json!({})),
                SSO_SECRET.as_bytes(),
            ),
            "Unsupported algorithm",
        ),
        ("not a JWT", "not-a-token".to_string(), "Malformed"),
        ("not base64url JSON", "a.b.c".to_string(), "Malformed"),
        ("empty", String::new(), "Malformed"),
        (
            "the demo key for a site's user",
            hs256_with(
                &json!({"alg": "HS256", "kid": "demo"}),
                &c(json!({})),
                b"edge-messaging-demo-secret-PUBLIC-never-use-in-production",
            ),
            "demo: subjects only",
        ),
    ];
    for (what, token, reason) in &cases {
        let r = exchange(&app, token).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{what}: {}", r.body);
        let detail = r.body["detail"].as_str().unwrap_or_default();
        assert!(
            detail.contains(reason),
            "{what}: detail {detail:?} names {reason:?}"
        );
        assert_eq!(trips(&r), 0, "{what}: refused before any D1 work");
        assert!(r.header("set-cookie").is_none(), "{what}: no cookie");
    }
    let ann = app.user("ann").await;
    let found = app
        .get(&format!("/messages/api/users/search/?q={name}"), &ann.token)
        .await;
    assert_eq!(found.status, 200);
    assert!(
        found.body["results"].as_array().unwrap().is_empty(),
        "no user was made: {}",
        found.body
    );
}

#[tokio::test]
async fn a_request_without_a_token_is_400_and_cross_site_posts_are_403() {
    let app = app();
    let r = app
        .call(
            Method::POST,
            "/messages/api/auth/sso/",
            None,
            Some(json!({})),
        )
        .await;
    assert_eq!(r.status, 400);
    assert_eq!(r.body["details"]["token"][0], "This field is required.");
    let r = app
        .call(
            Method::POST,
            "/messages/api/auth/sso/",
            None,
            Some(json!({"token": 5})),
        )
        .await;
    assert_eq!(r.status, 400, "{}", r.body);
    let r = app
        .http
        .post(app.url("/messages/api/auth/sso/"))
        .header("Origin", "https://evil.example")
        .json(&json!({"token": hs256(&claims(&unique("csrf-")))}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.status(),
        403,
        "login CSRF: a hostile page cannot sign the visitor in"
    );
}

#[tokio::test]
async fn a_taken_username_gets_the_stable_suffix_of_the_sub() {
    let app = app();
    let local = app.user("taken").await;
    let sub = unique("suffix-");
    let (user, _) = sign_in(
        &app,
        &hs256(&with(&sub, json!({"username": local.username}))),
    )
    .await;
    let expected = format!("{}-{}", local.username, stable_suffix(&sub));
    assert_eq!(user["username"], expected.as_str());
    let (again, _) = sign_in(
        &app,
        &hs256(&with(&sub, json!({"username": local.username}))),
    )
    .await;
    assert_eq!(
        again["username"],
        expected.as_str(),
        "the same name on every sign-in"
    );
    // Case and lookalikes count as taken too (the Cyrillic о of U+043E for the Latin o).
    let upper = local.username.to_uppercase();
    let (u, _) = sign_in(
        &app,
        &hs256(&with("case-sub-1", json!({"username": upper}))),
    )
    .await;
    assert_eq!(
        u["username"],
        format!("{upper}-{}", stable_suffix("case-sub-1")).as_str()
    );
    let lookalike = local.username.replacen('a', "\u{0430}", 1);
    assert_ne!(lookalike, local.username);
    let (u, _) = sign_in(
        &app,
        &hs256(&with("lookalike-sub-1", json!({"username": lookalike}))),
    )
    .await;
    assert_eq!(
        u["username"],
        format!("{lookalike}-{}", stable_suffix("lookalike-sub-1")).as_str()
    );
    // The local account is untouched: its password still signs it in, as itself.
    let login = app
        .call(
            Method::POST,
            "/messages/api/auth/login/",
            None,
            Some(json!({"username": local.username, "password": local.password})),
        )
        .await;
    assert_eq!(login.status, 200);
    assert_eq!(login.body["user"]["id"], local.id);
}

#[tokio::test]
async fn when_the_stable_name_is_taken_too_a_random_suffix_is_given_once_and_kept() {
    let app = app();
    let sub = unique("squat-");
    let wanted = unique("wanted");
    let stable = format!("{wanted}-{}", stable_suffix(&sub));
    for taken in [&wanted, &stable] {
        app.user_with("squatter", json!({ "username": taken }))
            .await;
    }
    let (user, _) = sign_in(&app, &hs256(&with(&sub, json!({"username": wanted})))).await;
    let name = user["username"].as_str().unwrap().to_string();
    let suffix = name
        .strip_prefix(&format!("{wanted}-"))
        .expect("the wanted name, suffixed");
    assert!(
        suffix.len() == 6
            && suffix
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit()),
        "a random 6-character suffix: {name}"
    );
    assert_ne!(suffix, stable_suffix(&sub));
    let (again, _) = sign_in(&app, &hs256(&with(&sub, json!({"username": wanted})))).await;
    assert_eq!(again["username"], name.as_str(), "kept, not drawn again");
}

#[tokio::test]
async fn without_a_username_claim_the_sub_makes_the_username() {
    let app = app();
    let sub = format!("auth0|{}", unique(""));
    let (user, _) = sign_in(&app, &hs256(&claims(&sub))).await;
    assert_eq!(user["username"], sub.replace('|', "_").as_str());
    assert_eq!(
        user["display_name"],
        sub.replace('|', "_").as_str(),
        "no name: the username"
    );
}

#[tokio::test]
async fn password_login_refuses_a_host_site_user_as_a_wrong_password() {
    let app = app();
    let name = unique("nopw");
    sign_in(
        &app,
        &hs256(&with(&unique("nopw-"), json!({"username": name}))),
    )
    .await;
    let login = |username: String| {
        let app = app.clone();
        async move {
            app.call(
                Method::POST,
                "/messages/api/auth/login/",
                None,
                Some(json!({"username": username, "password": "whatever-it-is"})),
            )
            .await
        }
    };
    let sso_user = login(name.clone()).await;
    let nobody = login(unique("nobody")).await;
    assert_eq!(sso_user.status, 400);
    assert_eq!(
        sso_user.body, nobody.body,
        "the same answer as for a bad password"
    );
    for password in ["", "!sso", "!"] {
        let r = app
            .call(
                Method::POST,
                "/messages/api/auth/login/",
                None,
                Some(json!({"username": name, "password": password})),
            )
            .await;
        assert_eq!(r.status, 400, "{password:?}: {}", r.body);
    }
}

#[tokio::test]
async fn a_disabled_account_is_refused_and_gets_no_session() {
    let app = app();
    let r = exchange(&app, &hs256(&claims("disabled-1"))).await;
    assert_eq!(r.status, 401, "{}", r.body);
    assert_eq!(r.body["detail"], "This account is disabled.");
    assert!(r.header("set-cookie").is_none());
}

#[tokio::test]
async fn the_demo_key_signs_in_demo_people() {
    let app = app();
    let token = hs256_with(
        &json!({"alg": "HS256", "kid": "demo"}),
        &with(
            &format!("demo:{}", unique("")),
            json!({"name": "Demo Person"}),
        ),
        b"edge-messaging-demo-secret-PUBLIC-never-use-in-production",
    );
    let (user, _) = sign_in(&app, &token).await;
    assert_eq!(user["display_name"], "Demo Person");
}

#[tokio::test]
async fn with_no_key_configured_the_route_does_not_exist() {
    let off = Worker::start("sso-off", &[], "");
    let app = App::new(&off);
    let r = exchange(&app, &hs256(&claims("anyone"))).await;
    assert_eq!(r.status, 404, "{}", r.body);
    assert_eq!(r.body["detail"], "Not found.");
    // A secret too short to be safe is as good as none.
    let short = Worker::start("sso-short", &[("SSO_SECRET", "too-short")], "");
    let token = hs256_with(&json!({"alg": "HS256"}), &claims("anyone"), b"too-short");
    assert_eq!(exchange(&App::new(&short), &token).await.status, 404);
}

/// Exchanges `token` with the session cookie `cookie` (a page that signs in on every load).
async fn exchange_with_cookie(app: &App, token: &str, cookie: &str) -> Resp {
    let r = app
        .http
        .post(app.url("/messages/api/auth/sso/"))
        .header("Cookie", format!("em_session={cookie}"))
        .json(&json!({ "token": token }))
        .send()
        .await
        .unwrap();
    App::read(r).await
}

#[tokio::test]
async fn signing_in_again_with_the_users_own_session_keeps_it() {
    let app = app();
    let sub = unique("again-");
    let (user, first) = sign_in(&app, &hs256(&claims(&sub))).await;
    let r = exchange_with_cookie(&app, &hs256(&claims(&sub)), &first).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        r.body["token"],
        first.as_str(),
        "the session goes on: no new one"
    );
    assert_eq!(r.body["user"]["id"], user["id"]);
    let cookie = r.header("set-cookie").unwrap();
    assert!(
        cookie.starts_with(&format!("em_session={first};")),
        "{cookie}"
    );
    let max_age: u64 = cookie
        .split("Max-Age=")
        .nth(1)
        .and_then(|v| v.split(';').next())
        .and_then(|v| v.parse().ok())
        .unwrap();
    assert!(
        max_age <= 1_209_600 && max_age > 1_209_000,
        "what is left of it: {max_age}"
    );
    // Another site user in the same browser, or a cookie we do not know: a new session.
    let other = exchange_with_cookie(&app, &hs256(&claims(&unique("other-"))), &first).await;
    assert_eq!(other.status, 200);
    assert_ne!(other.body["token"], first.as_str());
    assert_ne!(other.body["user"]["id"], user["id"]);
    let unknown = exchange_with_cookie(&app, &hs256(&claims(&sub)), "made-up").await;
    assert_eq!(unknown.status, 200);
    assert_ne!(unknown.body["token"], first.as_str());
    assert_ne!(unknown.body["token"], "made-up");
}

#[tokio::test]
async fn a_session_past_half_its_lifetime_is_replaced_not_kept() {
    let short = Worker::start(
        "sso-ttl",
        &[("SSO_SECRET", SSO_SECRET), ("SESSION_TTL_SECONDS", "6")],
        "",
    );
    let app = App::new(&short);
    let sub = unique("ttl-");
    let (_, first) = sign_in(&app, &hs256(&claims(&sub))).await;
    let kept = exchange_with_cookie(&app, &hs256(&claims(&sub)), &first).await;
    assert_eq!(kept.body["token"], first.as_str(), "fresh: kept");
    tokio::time::sleep(std::time::Duration::from_millis(3500)).await;
    let replaced = exchange_with_cookie(&app, &hs256(&claims(&sub)), &first).await;
    assert_eq!(replaced.status, 200);
    assert_ne!(
        replaced.body["token"],
        first.as_str(),
        "past half its 6 s: a new session"
    );
}
