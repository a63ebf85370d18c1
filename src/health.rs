//! `GET /healthz`: 200 once the worker, D1 and the schema are ready.

use serde_json::json;
use worker::Response;

use crate::error::ApiResult;
use crate::http::{self, Cx};
use crate::storage;

/// `GET /healthz` — `{"status": "ok", "schema_version": N}`; 503 while the schema is missing.
pub async fn check(cx: &Cx) -> ApiResult<Response> {
    match storage::schema_version(&cx.db).await {
        Ok(Some(version)) => http::ok(&json!({ "status": "ok", "schema_version": version })),
        Ok(None) | Err(_) => http::json(
            503,
            &json!({ "status": "unavailable", "detail": "The database schema is not applied." }),
        ),
    }
}
