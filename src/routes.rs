//! The route table: every endpoint of the API on one screen (SPEC §2–§6). Paths are matched
//! with and without their trailing slash; a known path with another method is 405.

use worker::{Method, Response};

use crate::error::{ApiError, ApiResult};
use crate::http::{path_id, Cx};
use crate::{
    auth, chats, health, members, messages, pages, reactions, realtime, receipts, schema, users,
};

/// `on!(cx, Get => handler(..), Post => other(..))`: dispatch on the method, else 405 with
/// `Allow` naming the methods listed (RFC 9110 §15.5.6).
macro_rules! on {
    ($cx:expr, $($method:ident $(| $more:ident)* => $call:expr),+ $(,)?) => {
        match ($cx.method_known, &$cx.method) {
            $((true, Method::$method $(| Method::$more)*) => $call.await,)+
            _ => Err(ApiError::MethodNotAllowed {
                allow: allow(&[$(Method::$method $(, Method::$more)*),+]),
            }),
        }
    };
}

fn allow(methods: &[Method]) -> String {
    let names: Vec<&str> = methods.iter().map(|m| m.as_ref()).collect();
    names.join(", ")
}

pub async fn route(cx: &Cx) -> ApiResult<Response> {
    let path = cx.url.path().trim_end_matches('/').to_string();
    let segments: Vec<&str> = path.split('/').skip(1).collect();
    let api = match segments.as_slice() {
        ["healthz"] => return on!(cx, Get | Head => health::check(cx)),
        // Pages (SPEC §11, src/pages.rs): GET /login/ is the form; POST /login/ from a browser
        // form signs in and redirects, from anything else it is the API alias.
        ["login"] => return on!(cx, Get => pages::login_form(cx), Post => pages::login(cx)),
        ["messages", "api", rest @ ..] => rest,
        // `/messages/`, `/signup/`, `/logout/`, else 404: HTML for browsers, not in the API schema.
        page => return pages::route(cx, page).await,
    };
    match api {
        ["schema"] => on!(cx, Get => schema::get()),
        ["auth", "register"] => on!(cx, Post => auth::register(cx)),
        ["auth", "login"] => on!(cx, Post => auth::login(cx)),
        ["auth", "logout"] => on!(cx, Post => auth::logout(cx)),
        ["auth", "me"] => on!(cx, Get => auth::me(cx)),
        ["users", "search"] => on!(cx, Get => users::search(cx)),
        ["chats"] => on!(cx, Get => chats::list(cx), Post => chats::create(cx)),
        ["chats", id] => {
            let id = path_id(id)?;
            on!(cx, Get => chats::detail(cx, id), Put | Patch => chats::update(cx, id),
                Delete => chats::destroy(cx, id))
        }
        ["chats", id, "messages"] => {
            let id = path_id(id)?;
            on!(cx, Get => messages::list(cx, id), Post => messages::send(cx, id))
        }
        ["chats", id, "mark-as-read"] => on!(cx, Post => receipts::mark_as_read(cx, path_id(id)?)),
        ["messages", id] => {
            let id = path_id(id)?;
            on!(cx, Get => messages::detail(cx, id), Put | Patch => messages::update(cx, id),
                Delete => messages::destroy(cx, id))
        }
        ["messages", id, "reactions"] => on!(cx, Post => reactions::toggle(cx, path_id(id)?)),
        ["chats", id, "members", "add"] => on!(cx, Post => members::add(cx, path_id(id)?)),
        ["chats", id, "members", user, "remove"] => {
            let (id, user) = (path_id(id)?, path_id(user)?);
            on!(cx, Delete => members::remove(cx, id, user))
        }
        ["chats", id, "ws"] => on!(cx, Get => realtime::connect(cx, path_id(id)?)),
        ["chats", id, "typing"] => on!(cx, Post => realtime::typing(cx, path_id(id)?)),
        _ => Err(ApiError::NotFound),
    }
}
