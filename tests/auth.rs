//! Authentication through a real local worker: register, login (JSON, form, `/login/`),
//! logout, me, tokens and cookies, CSRF, rate limiting, Django password hashes (SPEC §3).

mod common;

use common::{shared, App, Resp, PASSWORD};
use reqwest::{Method, StatusCode};
use serde_json::json;

/// A user whose password hash Django 5.2's `make_password` made (1,000,000 iterations).
const DJANGO_USER: &str = "INSERT INTO users (username, username_lower, password, email, first_name, last_name, search_text, date_joined)
  VALUES ('djangouser', 'djangouser',
  'pbkdf2_sha256$1000000$edgemsgtestsalt$d4+b7vLC7+yjlNhVww689+Ms+x9m/b9nAmbQpFk1O2o=',
  'dj@example.com', 'Django', 'Reinhardt', 'djangouser django reinhardt dj@example.com', '2025-01-01T00:00:00.000Z');
INSERT INTO sessions (token_hash, user_id, created_at, expires_at)
  SELECT 'd8229e5c42abf7986af819ed8301fa3266c7a8a0ae14c3b4ea41aea9f6229451', id,
         '2020-01-01T00:00:00.000Z', '2020-01-15T00:00:00.000Z'
  FROM users WHERE username_lower = 'djangouser';";

fn app() -> App {
    App::new(shared(
        "auth",
        &[
            ("LOGIN_MAX_FAILURES_PER_USERNAME", "3"),
            ("LOGIN_MAX_FAILURES_PER_ACCOUNT", "6"),
            ("LOGIN_MAX_FAILURES_PER_ADDRESS", "8"),
            ("LOGIN_FAILURE_WINDOW_SECONDS", "60"),
        ],
        DJANGO_USER,
    ))
}

async fn login_json(app: &App, username: &str, password: &str, addr: &str) -> Resp {
    let r = app
        .http
        .post(app.url("/messages/api/auth/login/"))
        .header("CF-Connecting-IP", addr)
        .json(&json!({ "username": username, "password": password }))
        .send()
        .await
        .unwrap();
    App::read(r).await
}

#[tokio::test]
async fn register_returns_the_user_a_token_and_a_session_cookie() {
    let app = app();
    let name = common::unique("reg");
    let r = app
        .call(
            Method::POST,
            "/messages/api/auth/register/",
            None,
            Some(json!({"username": name, "password": PASSWORD, "first_name": "Ada", "last_name": "Lovelace", "email": "ada@example.com"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    assert_eq!(r.body["user"]["username"], name);
    assert_eq!(r.body["user"]["display_name"], "Ada Lovelace");
    assert_eq!(r.body["user"]["email"], "ada@example.com");
    assert!(
        r.body["user"]["avatar_url"]
            .as_str()
            .unwrap()
            .starts_with("data:image/svg+xml"),
        "default avatar is an SVG data URL"
    );
    let cookie = r.header("set-cookie").expect("session cookie");
    assert!(cookie.starts_with("em_session="), "{cookie}");
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax"),
        "{cookie}"
    );
    assert!(!cookie.contains("Secure"), "plain http locally: {cookie}");
    assert_eq!(
        r.header("cache-control").as_deref(),
        Some("no-store"),
        "a token is never cached"
    );

    let me = app
        .get("/messages/api/auth/me/", r.body["token"].as_str().unwrap())
        .await;
    assert_eq!(me.status, 200);
    assert_eq!(
        me.body["username"], name,
        "me returns the user object itself"
    );
}

#[tokio::test]
async fn register_refuses_bad_and_duplicate_usernames() {
    let app = app();
    let u = app.user("dup").await;
    let upper = u.username.to_uppercase();
    let r = app
        .call(
            Method::POST,
            "/messages/api/auth/register/",
            None,
            Some(json!({"username": upper, "password": PASSWORD})),
        )
        .await;
    assert_eq!(r.status, 400, "usernames are unique case-insensitively");
    assert!(r.body["details"]["username"].is_array(), "{:?}", r.body);
    // The same name with a Cyrillic "а" (U+0430) for the first Latin "a" of "dup...".
    let latin = app.user("adup").await;
    let lookalike = latin.username.replacen('a', "\u{0430}", 1);
    assert_ne!(lookalike, latin.username);
    let r = app
        .call(
            Method::POST,
            "/messages/api/auth/register/",
            None,
            Some(json!({"username": lookalike, "password": PASSWORD})),
        )
        .await;
    assert_eq!(
        r.status, 400,
        "a confusable lookalike of a taken name: {:?}",
        r.body
    );

    for (body, field) in [
        (
            json!({"username": "has space", "password": PASSWORD}),
            "username",
        ),
        (
            json!({"username": common::unique("short"), "password": "1234567"}),
            "password",
        ),
        (json!({"password": PASSWORD}), "username"),
        (json!({"username": 12, "password": PASSWORD}), "username"),
        (
            json!({"username": common::unique("e"), "password": PASSWORD, "email": "not-an-email"}),
            "email",
        ),
    ] {
        let r = app
            .call(
                Method::POST,
                "/messages/api/auth/register/",
                None,
                Some(body.clone()),
            )
            .await;
        assert_eq!(r.status, 400, "{body}");
        assert_eq!(r.body["error"], "Invalid request");
        assert!(
            r.body["details"][field].is_array(),
            "{body} names {field}: {:?}",
            r.body
        );
    }
}

#[tokio::test]
async fn login_accepts_json_and_forms_and_the_login_alias_with_cookies() {
    let app = app();
    let u = app.user("login").await;
    let r = login_json(&app, &u.username, PASSWORD, "10.0.0.1").await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body["user"]["id"], u.id);
    assert_ne!(
        r.body["token"],
        u.token.as_str(),
        "each login is a new session"
    );

    // The reference's requests.Session example: form POST to /login/, then cookie-only calls.
    let session = reqwest::Client::builder()
        .cookie_store(true)
        .build()
        .unwrap();
    let r = session
        .post(app.url("/login/"))
        .form(&[("username", u.username.as_str()), ("password", PASSWORD)])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let chats = session
        .get(app.url("/messages/api/auth/me/"))
        .send()
        .await
        .unwrap();
    assert_eq!(chats.status(), 200, "the session cookie authenticates");
    let body: serde_json::Value = chats.json().await.unwrap();
    assert_eq!(body["id"], u.id);

    // Usernames are case-insensitive at login too.
    let r = login_json(&app, &u.username.to_uppercase(), PASSWORD, "10.0.0.2").await;
    assert_eq!(r.status, 200);
}

#[tokio::test]
async fn wrong_password_and_unknown_user_get_the_same_400() {
    let app = app();
    let u = app.user("wrong").await;
    let a = login_json(&app, &u.username, "not-the-password", "10.0.1.1").await;
    let b = login_json(&app, &common::unique("nobody"), "whatever-pass", "10.0.1.2").await;
    assert_eq!(a.status, 400);
    assert_eq!(a.body, b.body, "no user enumeration");
    let missing = app
        .call(
            Method::POST,
            "/messages/api/auth/login/",
            None,
            Some(json!({"username": u.username})),
        )
        .await;
    assert_eq!(missing.status, 400);
    assert!(missing.body["details"]["password"].is_array());
}

#[tokio::test]
async fn repeated_failures_for_a_username_from_one_address_are_throttled_with_retry_after() {
    let app = app();
    let u = app.user("throttle").await;
    for i in 0..3 {
        let r = login_json(&app, &u.username, "bad-password", "10.0.2.1").await;
        assert_eq!(r.status, 400, "failure {i} is a plain 400");
    }
    let r = login_json(&app, &u.username, PASSWORD, "10.0.2.1").await;
    assert_eq!(
        r.status, 429,
        "from that address the username is locked, even with the right password"
    );
    let retry: u64 = r
        .header("retry-after")
        .expect("Retry-After")
        .parse()
        .unwrap();
    assert!((1..=60).contains(&retry), "within the window: {retry}");
    assert!(r.body["detail"].is_string());
    let elsewhere = login_json(&app, &u.username, PASSWORD, "10.0.2.2").await;
    assert_eq!(
        elsewhere.status, 200,
        "the real user, from another address, still signs in"
    );
}

#[tokio::test]
async fn failures_spread_over_addresses_hit_the_account_limit() {
    let app = app();
    let u = app.user("spread").await;
    // LOGIN_MAX_FAILURES_PER_ACCOUNT is 6 here: two failures from each of three addresses.
    for i in 0..6 {
        let addr = format!("10.0.5.{}", i / 2);
        let r = login_json(&app, &u.username, "bad-password", &addr).await;
        assert_eq!(r.status, 400, "failure {i}");
    }
    let r = login_json(&app, &u.username, "bad-password", "10.0.5.9").await;
    assert_eq!(
        r.status, 429,
        "the seventh, from a fresh address, is refused"
    );
}

#[tokio::test]
async fn parallel_wrong_passwords_get_exactly_the_limit_of_checks() {
    let app = app();
    let u = app.user("parallel").await;
    let tries = (0..20).map(|_| login_json(&app, &u.username, "bad-password", "10.0.6.1"));
    let answers = futures_util::future::join_all(tries).await;
    let checked = answers.iter().filter(|r| r.status == 400).count();
    let refused = answers.iter().filter(|r| r.status == 429).count();
    assert_eq!(
        (checked, refused),
        (3, 17),
        "LOGIN_MAX_FAILURES_PER_USERNAME is 3: three passwords checked, seventeen refused"
    );
}

#[tokio::test]
async fn ipv6_addresses_are_counted_by_their_64() {
    let app = app();
    let u = app.user("sixty4").await;
    for i in 1..=3 {
        let r = login_json(
            &app,
            &u.username,
            "bad-password",
            &format!("2001:db8:7:1::{i}"),
        )
        .await;
        assert_eq!(r.status, 400, "failure {i}");
    }
    let same64 = login_json(&app, &u.username, PASSWORD, "2001:db8:7:1:ffff::9").await;
    assert_eq!(
        same64.status, 429,
        "another host of the same /64 is the same address"
    );
    let other = login_json(&app, &u.username, PASSWORD, "2001:db8:7:2::1").await;
    assert_eq!(other.status, 200, "another /64 is not");
}

#[tokio::test]
async fn repeated_failures_from_one_address_are_throttled() {
    let app = app();
    let addr = "10.0.3.1";
    for i in 0..8 {
        let r = login_json(&app, &common::unique("spray"), "bad-password", addr).await;
        assert_eq!(r.status, 400, "failure {i}");
    }
    let u = app.user("victim").await;
    let r = login_json(&app, &u.username, PASSWORD, addr).await;
    assert_eq!(r.status, 429, "the address is throttled");
    let other = login_json(&app, &u.username, PASSWORD, "10.0.3.2").await;
    assert_eq!(other.status, 200, "other addresses are not");
}

#[tokio::test]
async fn successful_logins_are_not_throttled() {
    let app = app();
    let u = app.user("busy").await;
    for i in 0..15 {
        let r = login_json(&app, &u.username, PASSWORD, "10.0.4.1").await;
        assert_eq!(r.status, 200, "login {i}");
    }
}

#[tokio::test]
async fn logout_revokes_the_token_server_side() {
    let app = app();
    let u = app.user("logout").await;
    let r = app
        .call(
            Method::POST,
            "/messages/api/auth/logout/",
            Some(&u.token),
            None,
        )
        .await;
    assert_eq!(r.status, 204);
    let me = app.get("/messages/api/auth/me/", &u.token).await;
    assert_eq!(me.status, 401);
    assert_eq!(me.body, json!({"detail": "Invalid token."}));
}

#[tokio::test]
async fn missing_malformed_and_expired_credentials_are_401() {
    let app = app();
    let r = app
        .call(Method::GET, "/messages/api/auth/me/", None, None)
        .await;
    assert_eq!(r.status, 401);
    assert_eq!(
        r.body,
        json!({"detail": "Authentication credentials were not provided."})
    );

    let r = app.get("/messages/api/auth/me/", "no-such-token").await;
    assert_eq!(r.status, 401);
    assert_eq!(r.body, json!({"detail": "Invalid token."}));

    let r = app
        .http
        .get(app.url("/messages/api/auth/me/"))
        .header("Authorization", "Basic abc")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401, "unknown schemes are refused");

    // The seeded session for djangouser expired in 2020; its token hashes to the seeded row.
    let r = app
        .get("/messages/api/auth/me/", "expired-session-token")
        .await;
    assert_eq!(r.status, 401, "expired sessions do not authenticate");

    // `Token <t>` is accepted like Bearer.
    let u = app.user("tokscheme").await;
    let r = app
        .http
        .get(app.url("/messages/api/auth/me/"))
        .header("Authorization", format!("Token {}", u.token))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
}

#[tokio::test]
async fn a_hash_made_by_django_logs_in() {
    let app = app();
    let r = login_json(
        &app,
        "DjangoUser",
        "correct horse battery staple",
        "10.0.5.1",
    )
    .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body["user"]["display_name"], "Django Reinhardt");
    // The hash was upgraded on login; the password still works.
    let again = login_json(
        &app,
        "djangouser",
        "correct horse battery staple",
        "10.0.5.1",
    )
    .await;
    assert_eq!(again.status, 200);
}

#[tokio::test]
async fn cookie_authenticated_cross_site_writes_are_refused() {
    let app = app();
    let u = app.user("csrf").await;
    let cookie = format!("em_session={}", u.token);
    let cross = app
        .http
        .post(app.url("/messages/api/auth/logout/"))
        .header("Cookie", &cookie)
        .header("Origin", "https://evil.example")
        .send()
        .await
        .unwrap();
    let cross = App::read(cross).await;
    assert_eq!(cross.status, 403);
    assert!(
        cross.body["detail"].as_str().unwrap().contains("CSRF"),
        "{:?}",
        cross.body
    );

    let fetch_site = app
        .http
        .post(app.url("/messages/api/auth/logout/"))
        .header("Cookie", &cookie)
        .header("Sec-Fetch-Site", "cross-site")
        .send()
        .await
        .unwrap();
    assert_eq!(fetch_site.status(), 403);

    // Reads are not writes, and a bearer token is not ambient authority.
    let read = app
        .http
        .get(app.url("/messages/api/auth/me/"))
        .header("Cookie", &cookie)
        .header("Origin", "https://evil.example")
        .send()
        .await
        .unwrap();
    assert_eq!(read.status(), 200);

    let same = app
        .http
        .post(app.url("/messages/api/auth/logout/"))
        .header("Cookie", &cookie)
        .header("Origin", app.base.as_str())
        .send()
        .await
        .unwrap();
    assert_eq!(same.status(), 204, "same-origin cookie writes pass");
}

#[tokio::test]
async fn user_search_matches_names_and_email_and_excludes_the_caller() {
    let app = app();
    let tag = common::unique("srch");
    let me = app.user_with(&tag, json!({"first_name": "Searcher"})).await;
    let zed = app
        .user_with("zz", json!({"first_name": "Zed", "last_name": format!("Q{tag}"), "email": format!("{tag}@mail.example")}))
        .await;
    let r = app
        .get(
            &format!("/messages/api/users/search/?q={}", tag.to_uppercase()),
            &me.token,
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let ids: Vec<i64> = r.body["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["id"].as_i64().unwrap())
        .collect();
    assert_eq!(
        ids,
        vec![zed.id],
        "matches last name/email case-insensitively, caller excluded"
    );
    assert_eq!(r.body["results"][0]["email"], format!("{tag}@mail.example"));

    for q in ["", "%20%20"] {
        let r = app
            .get(&format!("/messages/api/users/search/?q={q}"), &me.token)
            .await;
        assert_eq!(r.status, 400, "blank q");
        assert!(r.body["details"]["q"].is_array());
    }
    let r = app.get("/messages/api/users/search/", &me.token).await;
    assert_eq!(r.status, 400, "missing q");
    let r = app
        .call(Method::GET, "/messages/api/users/search/?q=a", None, None)
        .await;
    assert_eq!(r.status, 401);
}

#[tokio::test]
async fn one_user_by_id_is_shown_to_any_signed_in_user_without_the_email() {
    let app = app();
    let me = app.user("looker").await;
    let them = app
        .user_with(
            "shown",
            json!({"first_name": "Shown", "email": "shown@mail.example"}),
        )
        .await;
    let r = app
        .get(&format!("/messages/api/users/{}/", them.id), &me.token)
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body["id"], them.id);
    assert_eq!(r.body["username"], them.username.as_str());
    assert_eq!(r.body["display_name"], "Shown");
    assert!(r.body["avatar_url"].is_string());
    assert!(r.body.get("email").is_none(), "no email: {:?}", r.body);
    let r = app
        .get(&format!("/messages/api/users/{}/", me.id), &me.token)
        .await;
    assert_eq!(r.status, 200, "oneself too");

    let r = app
        .get(
            &format!("/messages/api/users/{}/", them.id + 1_000_000),
            &me.token,
        )
        .await;
    assert_eq!(r.status, 404, "an unknown id");
    for bad in ["0", "-1", "abc"] {
        let r = app
            .get(&format!("/messages/api/users/{bad}/"), &me.token)
            .await;
        assert_eq!(r.status, 404, "a malformed id {bad}");
    }
    let r = app
        .call(
            Method::GET,
            &format!("/messages/api/users/{}/", them.id),
            None,
            None,
        )
        .await;
    assert_eq!(r.status, 401, "anonymous");
}

#[tokio::test]
async fn user_search_treats_wildcards_literally_and_caps_results() {
    let app = app();
    let me = app.user("wild").await;
    let r = app
        .get("/messages/api/users/search/?q=%25", &me.token)
        .await;
    assert_eq!(r.status, 200);
    assert!(
        r.body["results"].as_array().unwrap().is_empty(),
        "% is not a wildcard"
    );
    for _ in 0..3 {
        app.user("capcheck").await;
    }
    let r = app.get("/messages/api/users/search/?q=x", &me.token).await;
    assert!(
        r.body["results"].as_array().unwrap().len() <= 20,
        "at most 20 results"
    );
}

#[tokio::test]
async fn the_front_door_answers_json_for_every_refusal() {
    let app = app();
    let r = app.call(Method::GET, "/healthz", None, None).await;
    assert_eq!(r.status, 200);
    let r = app.call(Method::GET, "/no/such/path", None, None).await;
    assert_eq!(r.status, 404);
    assert_eq!(r.body, json!({"detail": "Not found."}));
    let r = app
        .call(Method::GET, "/messages/api/auth/login/", None, None)
        .await;
    assert_eq!(r.status, 405);
    assert!(r.body["detail"].is_string());
    let big = "x".repeat(70 * 1024);
    let r = app
        .call(
            Method::POST,
            "/messages/api/auth/login/",
            None,
            Some(json!({"username": big, "password": "p"})),
        )
        .await;
    assert_eq!(r.status, 413);
    let r = app
        .http
        .post(app.url("/messages/api/auth/login/"))
        .header("Content-Type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let r = app
        .http
        .post(app.url("/messages/api/auth/register/"))
        .header("Content-Type", "text/xml")
        .body("<user/>")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 415);
    let r = app
        .http
        .post(app.url("/messages/api/auth/register/"))
        .header("Content-Type", "application/json")
        .body("[1, 2]")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
}
