//! `GET /messages/api/schema/`: the OpenAPI 3.1 document of the whole API (issue #6).
//!
//! The document is `openapi.json` at the repository root, compiled in as is. The unit tests
//! below hold it to the route table: every route and method of `routes.rs` must be documented
//! and nothing else, so a new endpoint cannot ship undocumented. `make fuzz` holds it to what
//! the worker really answers.

use worker::{Headers, Response};

use crate::error::ApiResult;

/// The OpenAPI document, byte for byte as kept in the repository.
pub const OPENAPI_JSON: &str = include_str!("../openapi.json");

/// `GET /messages/api/schema/` — public, no authentication, no D1.
pub async fn get() -> ApiResult<Response> {
    let headers = Headers::new();
    headers.set("Content-Type", "application/json")?;
    Ok(Response::ok(OPENAPI_JSON)?.with_headers(headers))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::{BTreeMap, BTreeSet};

    use serde_json::Value;

    fn doc() -> Value {
        serde_json::from_str(OPENAPI_JSON).expect("openapi.json is valid JSON")
    }

    /// The arguments of the first `on!(...)` in `arm`, up to its matching parenthesis.
    fn on_call(arm: &str) -> &str {
        let start = arm.find("on!(").expect("each arm dispatches with on!") + 4;
        let mut depth = 1;
        for (i, c) in arm[start..].char_indices() {
            match c {
                '(' => depth += 1,
                ')' if depth == 1 => return &arm[start..start + i],
                ')' => depth -= 1,
                _ => {}
            }
        }
        panic!("unbalanced on!( in {arm}");
    }

    /// The routes of `routes.rs` as `path template → methods`, read from its source: every
    /// `[..] => ... on!(cx, Method | Method => ..., ...)` arm. Path parameters are named after
    /// the segment before them (`chats/{chat_id}`, `messages/{message_id}`, `{user_id}`).
    fn route_table() -> BTreeMap<String, BTreeSet<String>> {
        let src = include_str!("routes.rs");
        let body = &src[src.find("pub async fn route").expect("the route function")..];
        let api_start = body.find("match api {").expect("the API match");
        // Each arm starts on a line whose first token is a slice pattern.
        let mut arms: Vec<(usize, &str)> = Vec::new();
        let mut offset = 0;
        for line in body.split_inclusive('\n') {
            let t = line.trim_start();
            if t.starts_with('[') && t.contains("] =>") {
                arms.push((offset, t));
            }
            offset += line.len();
        }
        let mut table = BTreeMap::new();
        for (i, (at, line)) in arms.iter().enumerate() {
            let pattern = &line[1..line.find("] =>").unwrap()];
            if pattern.contains("..") {
                continue; // the `/messages/api/` prefix arm
            }
            let end = arms.get(i + 1).map_or(body.len(), |(next, _)| *next);
            let arm = &body[*at..end];
            let mut path = String::from(if *at > api_start { "/messages/api" } else { "" });
            let mut previous = "";
            for seg in pattern.split(',').map(str::trim) {
                let name = if let Some(lit) = seg.strip_prefix('"') {
                    lit.trim_end_matches('"').to_string()
                } else {
                    let param = match (seg, previous) {
                        ("user", _) => "user_id",
                        (_, "chats") => "chat_id",
                        (_, "messages") => "message_id",
                        other => panic!("unnamed path parameter {other:?} in routes.rs"),
                    };
                    format!("{{{param}}}")
                };
                previous = seg.trim_matches('"');
                path.push('/');
                path.push_str(&name);
            }
            path.push('/');
            let call = on_call(arm);
            let pieces: Vec<&str> = call.split("=>").collect();
            let methods: BTreeSet<String> = pieces[..pieces.len() - 1]
                .iter()
                .flat_map(|p| p.rsplit(',').next().unwrap().split('|'))
                .map(|m| m.trim().to_ascii_lowercase())
                .collect();
            table.insert(path, methods);
        }
        table
    }

    #[test]
    fn the_route_table_parser_sees_every_route() {
        let table = route_table();
        // Guards the parser itself: these are known routes with known methods.
        let get_post: BTreeSet<String> = ["get", "post"].map(String::from).into();
        assert_eq!(
            table.get("/messages/api/chats/{chat_id}/messages/"),
            Some(&get_post)
        );
        let remove: BTreeSet<String> = ["delete".to_string()].into();
        assert_eq!(
            table.get("/messages/api/chats/{chat_id}/members/{user_id}/remove/"),
            Some(&remove)
        );
        assert!(table.contains_key("/healthz/") && table.contains_key("/login/"));
        assert!(table.len() >= 18, "routes found: {table:#?}");
    }

    #[test]
    fn the_schema_is_openapi_3_1() {
        let d = doc();
        let version = d["openapi"].as_str().unwrap_or_default();
        assert!(version.starts_with("3.1."), "openapi is {version}");
        assert!(d["info"]["title"].is_string() && d["info"]["version"].is_string());
        for scheme in ["bearerAuth", "tokenAuth", "cookieAuth"] {
            assert!(
                d["components"]["securitySchemes"][scheme].is_object(),
                "{scheme} is declared"
            );
        }
    }

    #[test]
    fn every_route_and_method_is_documented_and_nothing_else() {
        let d = doc();
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
            "openapi.json paths (left) must equal routes.rs (right)"
        );
    }

    /// Every `$ref` points at something that exists.
    #[test]
    fn every_reference_resolves() {
        fn walk(v: &Value, root: &Value, seen: &mut usize) {
            match v {
                Value::Object(map) => {
                    if let Some(Value::String(r)) = map.get("$ref") {
                        let pointer = r.strip_prefix('#').expect("local references only");
                        assert!(root.pointer(pointer).is_some(), "{r} resolves");
                        *seen += 1;
                    }
                    map.values().for_each(|x| walk(x, root, seen));
                }
                Value::Array(items) => items.iter().for_each(|x| walk(x, root, seen)),
                _ => {}
            }
        }
        let d = doc();
        let mut seen = 0;
        walk(&d, &d, &mut seen);
        assert!(seen > 50, "references were checked ({seen})");
    }

    /// Operations have unique ids (links use them), responses, and a documented 401 whenever
    /// they are authenticated.
    #[test]
    fn operations_are_complete() {
        let d = doc();
        let global_security = !d["security"].as_array().unwrap().is_empty();
        let mut ids = BTreeSet::new();
        for (path, item) in d["paths"].as_object().unwrap() {
            for (method, op) in item.as_object().unwrap() {
                if method == "parameters" {
                    continue;
                }
                let id = op["operationId"].as_str().expect("operationId");
                assert!(ids.insert(id.to_string()), "operationId {id} is unique");
                let responses = op["responses"].as_object().expect("responses");
                assert!(!responses.is_empty(), "{method} {path} has responses");
                let secured = op
                    .get("security")
                    .map_or(global_security, |s| !s.as_array().unwrap().is_empty());
                assert_eq!(
                    secured,
                    responses.contains_key("401"),
                    "{method} {path}: 401 documented exactly when authenticated"
                );
                for (name, link) in op["responses"]
                    .as_object()
                    .unwrap()
                    .values()
                    .filter_map(|r| r.get("links").and_then(Value::as_object))
                    .flatten()
                {
                    let target = link["operationId"].as_str().unwrap();
                    let exists = d["paths"].as_object().unwrap().values().any(|i| {
                        i.as_object()
                            .unwrap()
                            .values()
                            .any(|o| o["operationId"] == target)
                    });
                    assert!(exists, "link {name} targets operation {target}");
                }
            }
        }
    }
}
