//! `UserSummary`, the user JSON every other shape embeds, and default avatars.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use serde::Serialize;

use crate::storage::users::UserRow;

/// `UserSummary`: `{id, username, display_name, avatar_url}`.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct UserSummary {
    pub id: i64,
    pub username: String,
    pub display_name: String,
    pub avatar_url: String,
}

/// `UserSummary` plus `email` (search results, `/auth/me/`, sign-in answers).
#[derive(Debug, Clone, Serialize)]
pub struct UserWithEmail {
    #[serde(flatten)]
    pub summary: UserSummary,
    pub email: String,
}

impl UserSummary {
    pub fn of(u: &UserRow) -> UserSummary {
        let name = display_name(u);
        UserSummary {
            id: u.id,
            username: u.username.clone(),
            avatar_url: avatar_url(u.id, &name),
            display_name: name,
        }
    }
}

impl UserWithEmail {
    pub fn of(u: &UserRow) -> UserWithEmail {
        UserWithEmail {
            summary: UserSummary::of(u),
            email: u.email.clone(),
        }
    }
}

/// "first last" when either is set, else the username.
pub fn display_name(u: &UserRow) -> String {
    let full = format!("{} {}", u.first_name.trim(), u.last_name.trim());
    let full = full.trim();
    if full.is_empty() {
        u.username.clone()
    } else {
        full.to_string()
    }
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

    #[test]
    fn users_with_email_flatten_the_summary() {
        let v = serde_json::to_value(UserWithEmail::of(&user("Ann", ""))).unwrap();
        assert_eq!(v["display_name"], "Ann");
        assert_eq!(v["email"], "j@example.com");
        assert_eq!(v.as_object().unwrap().len(), 5);
    }
}
