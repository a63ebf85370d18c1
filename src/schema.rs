//! `GET /messages/api/schema/`: the OpenAPI 3.1 document of the whole API.
//!
//! The document is `openapi.json` at the repository root, compiled in as is. The tests of
//! `routes.rs` hold it to the route table (every route and method documented, nothing else),
//! so a new endpoint cannot ship undocumented; the tests below check the document itself;
//! `make fuzz` holds it to what the worker really answers.

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
    use std::collections::BTreeSet;

    use serde_json::Value;

    fn doc() -> Value {
        serde_json::from_str(OPENAPI_JSON).expect("openapi.json is valid JSON")
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
    /// they are authenticated — and otherwise only when they sign in with a credential in the
    /// body that can be refused (a host site's token).
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
                let body_credential = id == "ssoSignIn";
                assert_eq!(
                    secured || body_credential,
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
