//! Usernames: Django's rules (1–150 letters, digits and `@.+-_`), stored in NFC, unique
//! case-insensitively and unique by Unicode confusable skeleton (TR39), so "ann" and "аnn"
//! (Cyrillic а) or "rn" and "m" cannot both be taken.

use unicode_normalization::UnicodeNormalization;

/// Longest username, in code points.
pub const MAX_LEN: usize = 150;

/// The stored form of a username: trimmed, NFC.
pub fn normalized(raw: &str) -> String {
    raw.trim().nfc().collect()
}

/// The lookup form: lowercased (Unicode-aware) stored form.
pub fn lower(raw: &str) -> String {
    normalized(raw).to_lowercase()
}

/// The form two confusable names share: the TR39 skeleton of the lowercased name.
pub fn key(raw: &str) -> String {
    unicode_security::skeleton(&lower(raw)).collect()
}

/// Whether `name` (stored form) is a valid username.
pub fn valid(name: &str) -> bool {
    let len = name.chars().count();
    (1..=MAX_LEN).contains(&len)
        && name
            .chars()
            .all(|c| c.is_alphanumeric() || "@.+-_".contains(c))
}

/// A valid username made from any text (a host site's claimed username or user id, SPEC §3):
/// NFC, trimmed, every character outside the rules replaced by `_`, at most `MAX_LEN`; `user`
/// when nothing is left.
pub fn from_text(raw: &str) -> String {
    let name: String = normalized(raw)
        .chars()
        .map(|c| {
            if c.is_alphanumeric() || "@.+-_".contains(c) {
                c
            } else {
                '_'
            }
        })
        .take(MAX_LEN)
        .collect();
    if name.is_empty() {
        "user".to_string()
    } else {
        name
    }
}

/// `base-suffix`, with `base` shortened so that the whole stays within `MAX_LEN`.
pub fn with_suffix(base: &str, suffix: &str) -> String {
    let room = MAX_LEN.saturating_sub(suffix.chars().count() + 1);
    let base: String = base.chars().take(room).collect();
    format!("{base}-{suffix}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_stored_in_nfc() {
        let decomposed = "Zoe\u{0301}"; // e + combining acute
        assert_eq!(normalized(decomposed), "Zoé");
        assert_eq!(lower(" ZOÉ "), "zoé");
    }

    #[test]
    fn confusable_names_share_a_key() {
        assert_eq!(key("ann"), key("\u{0430}nn"), "Cyrillic а");
        assert_eq!(key("Ann"), key("ann"), "case");
        assert_eq!(key("rn"), key("m"), "rn / m");
        assert_ne!(key("ann"), key("anne"));
    }

    #[test]
    fn usernames_follow_djangos_rules() {
        for ok in ["ann.o+x@y-z_1", "Zoë", "a"] {
            assert!(valid(&normalized(ok)), "{ok}");
        }
        let long = "a".repeat(MAX_LEN + 1);
        for bad in ["has space", "", long.as_str(), "semi;colon"] {
            assert!(!valid(&normalized(bad)), "{bad:?}");
        }
    }

    #[test]
    fn any_text_becomes_a_valid_username() {
        assert_eq!(from_text("ann"), "ann");
        assert_eq!(from_text(" Ann Smith "), "Ann_Smith");
        assert_eq!(from_text("auth0|5f7c"), "auth0_5f7c");
        assert_eq!(from_text("Zoe\u{0301}"), "Zoé");
        assert_eq!(from_text("   "), "user");
        for raw in ["a b;c", "🙂", &"x".repeat(400), "ok@example.com"] {
            assert!(valid(&from_text(raw)), "{raw:?} → {}", from_text(raw));
        }
    }

    #[test]
    fn suffixes_fit_within_the_limit() {
        assert_eq!(with_suffix("ann", "3f9a2c"), "ann-3f9a2c");
        let long = with_suffix(&"é".repeat(MAX_LEN), "3f9a2c");
        assert_eq!(long.chars().count(), MAX_LEN);
        assert!(valid(&long) && long.ends_with("-3f9a2c"));
    }
}
