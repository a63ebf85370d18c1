//! `UserSummary`, the user JSON every other shape embeds, and avatars: the picture a host site
//! gave (SPEC §3, checked in `sso.rs`), else a generated SVG of the initials.

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
            avatar_url: if u.avatar_url.is_empty() {
                avatar_url(u.id, &name)
            } else {
                u.avatar_url.clone()
            },
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
        "<svg xmlns='http://www.w3.org/2000/svg' viewBox='0 0 64 64'>\
         <circle cx='32' cy='32' r='32' fill='{colour}'/>\
         <text x='32' y='41' text-anchor='middle' fill='#fff' font-family='sans-serif' \
         font-size='26'>{text}</text></svg>"
    );
    // Percent-encoded rather than base64: a third shorter, and it rides in every message
    // event (each receiver's frame, each deflate).
    let mut url = String::from("data:image/svg+xml,");
    for b in svg.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'\'' | b'=' | b'/' | b':' | b'.' | b'-' => {
                url.push(b as char)
            }
            b' ' => url.push_str("%20"),
            _ => url.push_str(&format!("%{b:02X}")),
        }
    }
    url
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
            avatar_url: String::new(),
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
        let encoded = url.strip_prefix("data:image/svg+xml,").unwrap();
        assert!(
            encoded
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"'=/:.-%".contains(&b)),
            "only URL-safe bytes: {encoded}"
        );
        let svg = percent_decode(encoded);
        assert!(svg.contains("&lt;&amp;"), "escaped: {svg}");
        assert!(svg.contains(PALETTE[3]));
        assert!(svg.starts_with("<svg ") && svg.ends_with("</svg>"));
        let accented = percent_decode(
            avatar_url(1, "Émile Zola")
                .strip_prefix("data:image/svg+xml,")
                .unwrap(),
        );
        assert!(
            accented.contains(">ÉZ<"),
            "UTF-8 initials survive: {accented}"
        );
    }

    fn percent_decode(s: &str) -> String {
        let b = s.as_bytes();
        let mut out = Vec::new();
        let mut i = 0;
        while i < b.len() {
            if b[i] == b'%' {
                out.push(u8::from_str_radix(&s[i + 1..i + 3], 16).unwrap());
                i += 3;
            } else {
                out.push(b[i]);
                i += 1;
            }
        }
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn a_stored_picture_replaces_the_generated_avatar() {
        let mut u = user("Ann", "");
        assert!(UserSummary::of(&u)
            .avatar_url
            .starts_with("data:image/svg+xml,"));
        u.avatar_url = "https://example.com/ann.png".into();
        assert_eq!(
            UserSummary::of(&u).avatar_url,
            "https://example.com/ann.png"
        );
    }

    #[test]
    fn users_with_email_flatten_the_summary() {
        let v = serde_json::to_value(UserWithEmail::of(&user("Ann", ""))).unwrap();
        assert_eq!(v["display_name"], "Ann");
        assert_eq!(v["email"], "j@example.com");
        assert_eq!(v.as_object().unwrap().len(), 5);
    }
}
