//! Users: the `UserSummary` JSON every other resource embeds, default avatars, and user search.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use serde_json::{json, Value};
use worker::Response;

use crate::auth;
use crate::error::{ApiError, ApiResult};
use crate::http::{self, Cx};
use crate::storage::rows;
use crate::storage::users::{self, UserRow};

/// At most this many results per search (issue #2).
const SEARCH_LIMIT: u32 = 20;

/// "first last" when either is set, else the username (SPEC §2).
pub fn display_name(u: &UserRow) -> String {
    let full = format!("{} {}", u.first_name.trim(), u.last_name.trim());
    let full = full.trim();
    if full.is_empty() {
        u.username.clone()
    } else {
        full.to_string()
    }
}

/// `UserSummary`: `{id, username, display_name, avatar_url}`.
pub fn summary(u: &UserRow) -> Value {
    let name = display_name(u);
    json!({
        "id": u.id,
        "username": u.username,
        "display_name": name,
        "avatar_url": avatar_url(u.id, &name),
    })
}

/// `UserSummary` plus `email` (search results and `/auth/me/`).
pub fn with_email(u: &UserRow) -> Value {
    let mut v = summary(u);
    v["email"] = json!(u.email);
    v
}

const PALETTE: [&str; 12] = [
    "#e57373", "#f06292", "#ba68c8", "#9575cd", "#7986cb", "#64b5f6", "#4db6ac", "#81c784",
    "#aed581", "#ffb74d", "#ff8a65", "#a1887f",
];

/// Up to two initials: first letters of the first and last words of the display name.
pub fn initials(name: &str) -> String {
    let words: Vec<&str> = name.split_whitespace().collect();
    let first = |w: &str| w.chars().next().into_iter().flat_map(char::to_uppercase);
    match words.as_slice() {
        [] => "?".to_string(),
        [one] => first(one).collect(),
        [a, .., b] => first(a).chain(first(b)).collect(),
    }
}

/// The default avatar: an SVG of the initials on a colour derived from the id, as a data URL.
pub fn avatar_url(id: i64, name: &str) -> String {
    let colour = PALETTE[id.rem_euclid(PALETTE.len() as i64) as usize];
    let text = xml_escape(&initials(name));
    let svg = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"64\" height=\"64\" viewBox=\"0 0 64 64\">\
         <rect width=\"64\" height=\"64\" rx=\"32\" fill=\"{colour}\"/>\
         <text x=\"50%\" y=\"50%\" dy=\".35em\" text-anchor=\"middle\" fill=\"#fff\" \
         font-family=\"sans-serif\" font-size=\"26\">{text}</text></svg>"
    );
    format!("data:image/svg+xml;base64,{}", STANDARD.encode(svg))
}

fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// `GET /messages/api/users/search/?q=` — users whose username, first or last name or email
/// contains `q` (case-insensitive), excluding the caller; at most 20, exact username first.
pub async fn search(cx: &Cx) -> ApiResult<Response> {
    let q = cx.query("q").unwrap_or_default().trim().to_string();
    let valid = if q.is_empty() {
        Err(ApiError::field("q", "This query parameter is required."))
    } else if q.chars().count() > 150 {
        Err(ApiError::field(
            "q",
            "Ensure this value has at most 150 characters.",
        ))
    } else {
        Ok(())
    };
    let q = q.to_lowercase();
    // Searched in the round trip that authenticates, leaving the caller out in SQL.
    let (_, res) = auth::authenticate_with(cx, |s| match valid {
        Ok(()) => Ok(vec![users::search_stmt(
            &cx.db,
            &q,
            &s.viewer(),
            SEARCH_LIMIT,
        )?]),
        Err(_) => Ok(vec![]),
    })
    .await?;
    valid?;
    let found: Vec<UserRow> = rows(&res[0])?;
    let results: Vec<Value> = found.iter().map(with_email).collect();
    http::ok(&json!({ "results": results }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(first: &str, last: &str) -> UserRow {
        UserRow {
            id: 7,
            username: "jdoe".into(),
            email: "j@example.com".into(),
            first_name: first.into(),
            last_name: last.into(),
        }
    }

    #[test]
    fn display_name_prefers_the_full_name() {
        assert_eq!(display_name(&user("John", "Doe")), "John Doe");
        assert_eq!(display_name(&user("John", "")), "John");
        assert_eq!(display_name(&user("", "")), "jdoe");
    }

    #[test]
    fn initials_take_first_and_last_words() {
        assert_eq!(initials("John Ronald Doe"), "JD");
        assert_eq!(initials("émile"), "É");
        assert_eq!(initials(""), "?");
    }

    #[test]
    fn avatars_are_svg_data_urls_with_escaped_text() {
        let url = avatar_url(3, "<b> &");
        let svg = String::from_utf8(
            STANDARD
                .decode(url.trim_start_matches("data:image/svg+xml;base64,"))
                .unwrap(),
        )
        .unwrap();
        assert!(svg.contains("&lt;&amp;"), "escaped: {svg}");
        assert!(svg.contains(PALETTE[3]));
    }
}
