//! The route table: every endpoint on one screen (openapi.json documents each). `ROUTES` is read by the router
//! below and by the OpenAPI test (`schema.rs`), so a route cannot ship undocumented. Paths
//! match with and without their trailing slash; `{…}` segments are positive integer ids but
//! `{key}`, any non-empty segment (its handler reads it); a known path with another method
//! is 405 with `Allow`.

use std::future::Future;
use std::pin::Pin;

use worker::Response;

use crate::error::{ApiError, ApiResult};
use crate::http::{path_id, Cx};
use crate::{
    accounts, chats, config, health, members, messages, pages, reactions, realtime, receipts,
    rooms, schema, sso, stream, users,
};

/// A handler, given the request and the path's ids in order.
pub type Handler =
    for<'a> fn(&'a Cx, &'a [i64]) -> Pin<Box<dyn Future<Output = ApiResult<Response>> + 'a>>;

pub struct Route {
    /// The path template, as in `openapi.json`.
    pub path: &'static str,
    /// Methods (upper case) and their handlers, in the order `Allow` lists them.
    pub methods: &'static [(&'static str, Handler)],
}

/// `h!(|cx, ids| call)`: a `Handler` from an async call.
macro_rules! h {
    (|$cx:ident, $ids:ident| $call:expr) => {{
        #[allow(unused_variables)]
        fn handler<'a>(
            $cx: &'a Cx,
            $ids: &'a [i64],
        ) -> Pin<Box<dyn Future<Output = ApiResult<Response>> + 'a>> {
            Box::pin($call)
        }
        handler as Handler
    }};
}

#[rustfmt::skip]
pub const ROUTES: &[Route] = &[
    Route { path: "/healthz/", methods: &[("GET", h!(|cx, p| health::check(cx))), ("HEAD", h!(|cx, p| health::check(cx)))] },
    // The sign-in page (pages.rs): GET is the form; a browser's form POST signs in and
    // redirects, any other POST is the API's login alias.
    Route { path: "/login/", methods: &[("GET", h!(|cx, p| pages::login_form(cx))), ("POST", h!(|cx, p| pages::login(cx)))] },
    Route { path: "/messages/api/schema/", methods: &[("GET", h!(|cx, p| schema::get()))] },
    Route { path: "/messages/api/config/", methods: &[("GET", h!(|cx, p| config::get(cx)))] },
    Route { path: "/messages/api/auth/register/", methods: &[("POST", h!(|cx, p| accounts::register(cx)))] },
    Route { path: "/messages/api/auth/login/", methods: &[("POST", h!(|cx, p| accounts::login(cx)))] },
    Route { path: "/messages/api/auth/logout/", methods: &[("POST", h!(|cx, p| accounts::logout(cx)))] },
    Route { path: "/messages/api/auth/logout-all/", methods: &[("POST", h!(|cx, p| accounts::logout_all(cx)))] },
    Route { path: "/messages/api/auth/sso/", methods: &[("POST", h!(|cx, p| sso::sign_in(cx)))] },
    Route { path: "/messages/api/auth/me/", methods: &[("GET", h!(|cx, p| accounts::me(cx)))] },
    Route { path: "/messages/api/users/search/", methods: &[("GET", h!(|cx, p| users::search(cx)))] },
    Route { path: "/messages/api/users/{user_id}/", methods: &[("GET", h!(|cx, p| users::detail(cx, p[0])))] },
    Route { path: "/messages/api/events/", methods: &[("GET", h!(|cx, p| stream::poll(cx)))] },
    Route { path: "/messages/api/ws/", methods: &[("GET", h!(|cx, p| realtime::connect_stream(cx)))] },
    Route { path: "/messages/api/chats/", methods: &[("GET", h!(|cx, p| chats::list(cx))), ("POST", h!(|cx, p| chats::create(cx)))] },
    Route { path: "/messages/api/chats/{chat_id}/", methods: &[
        ("GET", h!(|cx, p| chats::detail(cx, p[0]))),
        ("PUT", h!(|cx, p| chats::update(cx, p[0]))), ("PATCH", h!(|cx, p| chats::update(cx, p[0]))),
        ("DELETE", h!(|cx, p| chats::destroy(cx, p[0])))] },
    Route { path: "/messages/api/chats/{chat_id}/messages/", methods: &[
        ("GET", h!(|cx, p| messages::list(cx, p[0]))), ("POST", h!(|cx, p| messages::send(cx, p[0])))] },
    Route { path: "/messages/api/chats/{chat_id}/mark-as-read/", methods: &[("POST", h!(|cx, p| receipts::mark_as_read(cx, p[0])))] },
    Route { path: "/messages/api/chats/{chat_id}/members/add/", methods: &[("POST", h!(|cx, p| members::add(cx, p[0])))] },
    Route { path: "/messages/api/chats/{chat_id}/members/{user_id}/remove/", methods: &[("DELETE", h!(|cx, p| members::remove(cx, p[0], p[1])))] },
    Route { path: "/messages/api/chats/{chat_id}/ws/", methods: &[("GET", h!(|cx, p| realtime::connect(cx, p[0])))] },
    Route { path: "/messages/api/chats/{chat_id}/typing/", methods: &[("POST", h!(|cx, p| realtime::typing(cx, p[0])))] },
    Route { path: "/messages/api/messages/{message_id}/", methods: &[
        ("GET", h!(|cx, p| messages::detail(cx, p[0]))),
        ("PUT", h!(|cx, p| messages::update(cx, p[0]))), ("PATCH", h!(|cx, p| messages::update(cx, p[0]))),
        ("DELETE", h!(|cx, p| messages::destroy(cx, p[0])))] },
    Route { path: "/messages/api/messages/{message_id}/reactions/", methods: &[("POST", h!(|cx, p| reactions::toggle(cx, p[0])))] },
    Route { path: "/messages/api/rooms/", methods: &[("GET", h!(|cx, p| rooms::list(cx))), ("POST", h!(|cx, p| rooms::create(cx)))] },
    Route { path: "/messages/api/rooms/by-key/{key}/", methods: &[("GET", h!(|cx, p| rooms::by_key(cx)))] },
    Route { path: "/messages/api/rooms/{room_id}/", methods: &[("GET", h!(|cx, p| rooms::detail(cx, p[0])))] },
    Route { path: "/messages/api/rooms/{room_id}/join/", methods: &[("POST", h!(|cx, p| rooms::join(cx, p[0])))] },
    Route { path: "/messages/api/rooms/{room_id}/leave/", methods: &[("POST", h!(|cx, p| rooms::leave(cx, p[0])))] },
];

/// The ids in `path` when it matches `template`, else `None`.
fn matches(template: &str, path: &str) -> Option<Vec<i64>> {
    let mut want = template.trim_matches('/').split('/');
    let mut have = path.trim_matches('/').split('/');
    let mut ids = Vec::new();
    loop {
        match (want.next(), have.next()) {
            (None, None) => return Some(ids),
            (Some("{key}"), Some(h)) if !h.is_empty() => {}
            (Some(w), Some(h)) if w.starts_with('{') => ids.push(path_id(h).ok()?),
            (Some(w), Some(h)) if w == h => {}
            _ => return None,
        }
    }
}

pub async fn route(cx: &Cx) -> ApiResult<Response> {
    let path = cx.url.path();
    for route in ROUTES {
        let Some(ids) = matches(route.path, path) else {
            continue;
        };
        let method = cx.method.as_ref();
        let handler = route
            .methods
            .iter()
            .find(|(m, _)| cx.method_known && *m == method);
        return match handler {
            Some((_, h)) => h(cx, &ids).await,
            None => Err(ApiError::MethodNotAllowed {
                allow: route
                    .methods
                    .iter()
                    .map(|(m, _)| *m)
                    .collect::<Vec<_>>()
                    .join(", "),
            }),
        };
    }
    // Pages (`/messages/`, the demo site `/messages/demo/…`, `/signup/`, `/logout/`), HTML
    // for browsers and not in the API
    // schema; anything else is 404.
    pages::route(cx, path).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;
    use std::collections::{BTreeMap, BTreeSet};

    #[test]
    fn templates_match_ids_with_or_without_the_trailing_slash() {
        let t = "/messages/api/chats/{chat_id}/members/{user_id}/remove/";
        assert_eq!(
            matches(t, "/messages/api/chats/3/members/4/remove/"),
            Some(vec![3, 4])
        );
        assert_eq!(
            matches(t, "/messages/api/chats/3/members/4/remove"),
            Some(vec![3, 4])
        );
        assert_eq!(matches(t, "/messages/api/chats/x/members/4/remove/"), None);
        assert_eq!(matches(t, "/messages/api/chats/0/members/4/remove/"), None);
        assert_eq!(
            matches("/messages/api/chats/", "/messages/api/chats/1/"),
            None
        );
        assert_eq!(matches("/healthz/", "/healthz"), Some(vec![]));
    }

    /// The route table as `path template → methods` (lower case).
    fn route_table() -> BTreeMap<String, BTreeSet<String>> {
        ROUTES
            .iter()
            .map(|r| {
                let methods = r
                    .methods
                    .iter()
                    .map(|(m, _)| m.to_ascii_lowercase())
                    .collect();
                (r.path.to_string(), methods)
            })
            .collect()
    }

    #[test]
    fn every_route_and_method_is_documented_and_nothing_else() {
        let d: Value = serde_json::from_str(schema::OPENAPI_JSON).expect("openapi.json");
        let documented: BTreeMap<String, BTreeSet<String>> = d["paths"]
            .as_object()
            .expect("paths")
            .iter()
            .map(|(path, item)| {
                let methods = item
                    .as_object()
                    .unwrap()
                    .keys()
                    .filter(|k| {
                        ["get", "head", "post", "put", "patch", "delete"].contains(&k.as_str())
                    })
                    .cloned()
                    .collect();
                // The router ignores trailing slashes; compare with one.
                (format!("{}/", path.trim_end_matches('/')), methods)
            })
            .collect();
        assert_eq!(
            documented,
            route_table(),
            "openapi.json paths (left) must equal routes::ROUTES (right)"
        );
    }

    #[test]
    fn every_path_appears_once() {
        let mut paths: Vec<&str> = ROUTES.iter().map(|r| r.path).collect();
        paths.sort_unstable();
        paths.dedup();
        assert_eq!(paths.len(), ROUTES.len());
    }
}
