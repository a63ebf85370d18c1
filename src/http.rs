//! Request context and HTTP plumbing shared by every resource: body limits and parsing into
//! strictly typed fields (400 naming the field), JSON responses, cookies, client address.

use std::cell::Cell;

use futures_util::StreamExt;
use serde::Serialize;
use serde_json::{Map, Value};
use url::Url;
use worker::{Context, Env, Headers, Method, Request, Response};

use crate::error::{ApiError, ApiResult, FieldErrors};
use crate::settings::Settings;
use crate::storage::{Cost, Db};

/// Request bodies larger than this are refused with 413.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// Everything a handler needs about one request.
pub struct Cx {
    pub env: Env,
    pub db: Db,
    pub settings: Settings,
    pub method: Method,
    /// False for a method worker-rs does not know (e.g. `QUERY`): it reports those as GET, so
    /// the router refuses them itself (405).
    pub method_known: bool,
    pub url: Url,
    pub headers: Headers,
    pub body: Vec<u8>,
    /// Set once a session authenticated this request: only then does the answer report its D1
    /// cost (`Server-Timing`), so a refusal reveals nothing about what exists.
    pub authenticated: Cell<bool>,
    /// D1 work done for this request elsewhere (a chat room's batch).
    room_cost: Cell<Cost>,
    ctx: Context,
}

impl Cx {
    /// Reads the request (body included, bounded) into a context.
    pub async fn new(mut req: Request, env: Env, ctx: Context) -> ApiResult<Cx> {
        let declared = req
            .headers()
            .get("Content-Length")?
            .and_then(|v| v.trim().parse::<usize>().ok());
        if declared.is_some_and(|n| n > MAX_BODY_BYTES) {
            return Err(ApiError::PayloadTooLarge);
        }
        let body = match req.method() {
            Method::Get | Method::Head | Method::Options => Vec::new(),
            _ => read_body(&mut req, declared).await?,
        };
        let db = Db::new(env.d1("DB")?);
        let method = req.method();
        Ok(Cx {
            settings: Settings::from_env(&env),
            db,
            method_known: req.inner().method().eq_ignore_ascii_case(method.as_ref()),
            method,
            url: req.url()?,
            headers: req.headers().clone(),
            body,
            authenticated: Cell::new(false),
            room_cost: Cell::new(Cost::default()),
            env,
            ctx,
        })
    }

    /// Counts D1 work done for this request elsewhere (a chat room's batch).
    pub fn add_cost(&self, cost: Cost) {
        self.room_cost.set(self.room_cost.get() + cost);
    }

    /// What this request cost in D1, here and in the rooms it called.
    pub fn cost(&self) -> Cost {
        self.db.cost() + self.room_cost.get()
    }

    /// Runs `work` after the response is on its way (the request's `waitUntil`).
    pub fn after_response(&self, work: impl std::future::Future<Output = ()> + 'static) {
        self.ctx.wait_until(work);
    }

    pub fn header(&self, name: &str) -> Option<String> {
        self.headers.get(name).ok().flatten()
    }

    /// A query-string parameter (first occurrence).
    pub fn query(&self, name: &str) -> Option<String> {
        self.url
            .query_pairs()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.into_owned())
    }

    /// The client's address as Cloudflare reports it (`CF-Connecting-IP`, set by the edge and
    /// by wrangler dev), for rate limiting.
    pub fn client_addr(&self) -> String {
        self.header("CF-Connecting-IP")
            .unwrap_or_else(|| "unknown".to_string())
    }

    /// This request's URL with the query parameters `drop` removed and `key=value` appended
    /// (paging links).
    pub fn url_with(&self, drop: &[&str], key: &str, value: i64) -> String {
        let mut url = self.url.clone();
        let keep: Vec<(String, String)> = self
            .url
            .query_pairs()
            .filter(|(k, _)| !drop.contains(&k.as_ref()))
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        url.query_pairs_mut()
            .clear()
            .extend_pairs(keep)
            .append_pair(key, &value.to_string());
        url.to_string()
    }

    /// The origin this worker is served from, e.g. `https://chat.example.com`.
    pub fn own_origin(&self) -> String {
        self.url.origin().ascii_serialization()
    }

    pub fn is_https(&self) -> bool {
        self.url.scheme() == "https"
    }

    pub fn cookie(&self, name: &str) -> Option<String> {
        let raw = self.header("Cookie")?;
        raw.split(';').find_map(|pair| {
            let (k, v) = pair.split_once('=')?;
            (k.trim() == name).then(|| v.trim().to_string())
        })
    }

    /// The request's media type, lower-cased, without parameters.
    pub fn media_type(&self) -> Option<String> {
        self.header("Content-Type").map(|ct| {
            ct.split(';')
                .next()
                .unwrap_or_default()
                .trim()
                .to_ascii_lowercase()
        })
    }

    /// The body as a JSON object. An empty body is `{}` (endpoints whose fields are all
    /// optional accept a bare POST); a non-JSON media type is 415.
    pub fn json(&self) -> ApiResult<Input> {
        match self.media_type().as_deref() {
            None | Some("application/json") | Some("") => {}
            Some(t) if t.ends_with("+json") => {}
            Some(_) if self.body.is_empty() => {}
            Some(_) => return Err(ApiError::UnsupportedMediaType),
        }
        Input::from_json(&self.body)
    }

    /// The body as JSON or as an HTML form (login and register accept both).
    pub fn form_or_json(&self) -> ApiResult<Input> {
        match self.media_type().as_deref() {
            Some("application/x-www-form-urlencoded") => Ok(Input::from_form(&self.body)),
            Some("multipart/form-data") => Err(ApiError::UnsupportedMediaType),
            _ => self.json(),
        }
    }
}

/// The body, at most `MAX_BODY_BYTES` (413 beyond). With a `Content-Length` (already checked
/// against the cap) it is read at once: HTTP bounds it to that length. Without one (a chunked
/// body) it is read as it streams in and refused as soon as it passes the cap, so it is never
/// buffered beyond it. A body that cannot be read counts as empty.
async fn read_body(req: &mut Request, declared: Option<usize>) -> ApiResult<Vec<u8>> {
    if req.inner().body().is_none() {
        return Ok(Vec::new());
    }
    if declared.is_some() {
        let body = req.bytes().await.unwrap_or_default();
        return match body.len() > MAX_BODY_BYTES {
            true => Err(ApiError::PayloadTooLarge),
            false => Ok(body),
        };
    }
    let Ok(mut stream) = req.stream() else {
        return Ok(Vec::new());
    };
    let mut body = Vec::new();
    while let Some(chunk) = stream.next().await {
        let Ok(chunk) = chunk else {
            return Ok(Vec::new());
        };
        if body.len() + chunk.len() > MAX_BODY_BYTES {
            return Err(ApiError::PayloadTooLarge);
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// A request body being read field by field. Type errors are collected per field, so one 400
/// names every bad field at once (`finish`).
pub struct Input {
    map: Map<String, Value>,
    errors: FieldErrors,
}

const REQUIRED: &str = "This field is required.";

impl Input {
    /// An empty body is `{}`; anything else must be a JSON object (whitespace alone is not
    /// JSON, as DRF's parser also says).
    pub fn from_json(body: &[u8]) -> ApiResult<Input> {
        if body.is_empty() {
            return Ok(Input::from_map(Map::new()));
        }
        match serde_json::from_slice::<Value>(body) {
            Ok(Value::Object(map)) => Ok(Input::from_map(map)),
            Ok(_) => Err(ApiError::field(
                "non_field_errors",
                "Expected a JSON object.",
            )),
            Err(e) => Err(ApiError::field(
                "non_field_errors",
                format!("Malformed JSON: {e}"),
            )),
        }
    }

    pub fn from_form(body: &[u8]) -> Input {
        let map = url::form_urlencoded::parse(body)
            .map(|(k, v)| (k.into_owned(), Value::String(v.into_owned())))
            .collect();
        Input::from_map(map)
    }

    pub fn from_map(map: Map<String, Value>) -> Input {
        Input {
            map,
            errors: FieldErrors::new(),
        }
    }

    pub fn error(&mut self, field: &str, message: impl Into<String>) {
        self.errors
            .entry(field.to_string())
            .or_default()
            .push(message.into());
    }

    pub fn has(&self, field: &str) -> bool {
        self.map.get(field).is_some_and(|v| !v.is_null())
    }

    /// A required string.
    pub fn string(&mut self, field: &str) -> Option<String> {
        match self.map.get(field) {
            None | Some(Value::Null) => {
                self.error(field, REQUIRED);
                None
            }
            Some(_) => self.opt_string(field),
        }
    }

    /// An optional field read by `read`; absent or null → `None`; anything `read` refuses
    /// records `wrong` against the field.
    fn opt<T>(
        &mut self,
        field: &str,
        wrong: &str,
        read: impl Fn(&Value) -> Option<T>,
    ) -> Option<T> {
        match self.map.get(field) {
            None | Some(Value::Null) => None,
            Some(v) => {
                let got = read(v);
                if got.is_none() {
                    self.error(field, wrong);
                }
                got
            }
        }
    }

    /// An optional string.
    pub fn opt_string(&mut self, field: &str) -> Option<String> {
        self.opt(field, "Must be a string.", |v| {
            v.as_str().map(str::to_string)
        })
    }

    /// An optional boolean (forms may send "true"/"false").
    pub fn opt_bool(&mut self, field: &str) -> Option<bool> {
        self.opt(field, "Must be a boolean.", |v| match v {
            Value::Bool(b) => Some(*b),
            Value::String(s) if s == "true" || s == "false" => Some(s == "true"),
            _ => None,
        })
    }

    /// An optional positive integer id.
    pub fn opt_id(&mut self, field: &str) -> Option<i64> {
        self.opt(field, "Must be a positive integer id.", as_id)
    }

    /// A required list of positive integer ids.
    pub fn id_list(&mut self, field: &str) -> Option<Vec<i64>> {
        match self.map.get(field) {
            None | Some(Value::Null) => {
                self.error(field, REQUIRED);
                None
            }
            Some(Value::Array(items)) => {
                let ids: Option<Vec<i64>> = items.iter().map(as_id).collect();
                if ids.is_none() {
                    self.error(field, "Must be a list of positive integer ids.");
                }
                ids
            }
            Some(_) => {
                self.error(field, "Must be a list of positive integer ids.");
                None
            }
        }
    }

    /// 400 with every collected field error, if any.
    pub fn finish(self) -> ApiResult<()> {
        if self.errors.is_empty() {
            Ok(())
        } else {
            Err(ApiError::Invalid(self.errors))
        }
    }
}

/// Ids are JSON integers ≥ 1 that fit comfortably in a JS number.
fn as_id(v: &Value) -> Option<i64> {
    v.as_i64().filter(|id| (1..=(1i64 << 53)).contains(id))
}

/// A path segment that must be an id; anything else is simply not a route (404).
pub fn path_id(segment: &str) -> ApiResult<i64> {
    segment
        .parse::<i64>()
        .ok()
        .filter(|id| (1..=(1i64 << 53)).contains(id))
        .ok_or(ApiError::NotFound)
}

/// A JSON response.
pub fn json(status: u16, body: &impl Serialize) -> ApiResult<Response> {
    let text = serde_json::to_string(body)?;
    let headers = Headers::new();
    headers.set("Content-Type", "application/json")?;
    Ok(Response::ok(text)?
        .with_status(status)
        .with_headers(headers))
}

pub fn ok(body: &impl Serialize) -> ApiResult<Response> {
    json(200, body)
}

pub fn no_content() -> ApiResult<Response> {
    Ok(Response::empty()?.with_status(204))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn input(v: Value) -> Input {
        Input::from_json(v.to_string().as_bytes()).expect("object")
    }

    #[test]
    fn strict_types_name_the_field() {
        let mut i = input(json!({"content": 123, "member_ids": "x"}));
        assert_eq!(i.string("content"), None);
        assert_eq!(i.id_list("member_ids"), None);
        match i.finish() {
            Err(ApiError::Invalid(d)) => {
                assert!(d.contains_key("content"), "content named: {d:?}");
                assert!(d.contains_key("member_ids"), "member_ids named: {d:?}");
            }
            other => panic!("expected 400, got {other:?}"),
        }
    }

    #[test]
    fn missing_required_fields_are_reported() {
        let mut i = input(json!({}));
        assert_eq!(i.string("username"), None);
        assert!(i.finish().is_err());
    }

    #[test]
    fn malformed_and_non_object_json_are_400() {
        assert!(matches!(
            Input::from_json(b"{nope"),
            Err(ApiError::Invalid(_))
        ));
        assert!(matches!(
            Input::from_json(b"[1,2]"),
            Err(ApiError::Invalid(_))
        ));
        assert!(
            Input::from_json(b"").is_ok(),
            "empty body is an empty object"
        );
        assert!(
            matches!(Input::from_json(b"\n"), Err(ApiError::Invalid(_))),
            "whitespace alone is not JSON"
        );
    }

    #[test]
    fn id_lists_reject_non_positive_and_non_integers() {
        let mut i = input(json!({"a": [1, 2], "b": [1, 0], "c": [1.5], "d": [true]}));
        assert_eq!(i.id_list("a"), Some(vec![1, 2]));
        assert_eq!(i.id_list("b"), None);
        assert_eq!(i.id_list("c"), None);
        assert_eq!(i.id_list("d"), None);
    }

    #[test]
    fn forms_are_read_as_strings() {
        let mut i = Input::from_form(b"username=ann&password=p%40ss+word");
        assert_eq!(i.string("username").as_deref(), Some("ann"));
        assert_eq!(i.string("password").as_deref(), Some("p@ss word"));
    }

    #[test]
    fn path_ids_must_be_positive_integers() {
        assert_eq!(path_id("42").ok(), Some(42));
        assert!(path_id("0").is_err());
        assert!(path_id("-1").is_err());
        assert!(path_id("abc").is_err());
        assert!(path_id("99999999999999999999").is_err());
    }
}
